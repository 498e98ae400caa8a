//! `[secrets] provider = "external-secrets"`: per workload, the ExternalSecret that makes its
//! credentials Secret inside the cluster, and (without a store) the `Password` generator it reads.
//! The Secret's keys are `secrets::credentials_entries`, the one definition `bakeryc secrets` writes
//! too, computed with a placeholder password that becomes the Go template `{{ .password }}`: both
//! providers give the pods and client profiles the same keys. No password is ever in the output.

use std::collections::BTreeMap;

use super::Object;
use super::meta::{self, Kind};
use crate::crd::external_secrets::{
    Data, DataFrom, ExternalSecret, ExternalSecretSpec, GeneratorRef, Password, PasswordSpec,
    RefreshPolicy, RemoteRef, SecretStoreRef, SourceRef, Target, Template,
};
use crate::model::{PASSWORD_KEY, PasswordSource, Platform};
use crate::secrets::{Workload, credentials_entries};

/// Stands for the password while the one definition builds the keys: letters only, so that no
/// encoding (URL userinfo, Redis quoting) changes it, and long enough to appear nowhere else.
const PLACEHOLDER: &str = "BakerycPasswordPlaceholderXq";
/// How External Secrets' template engine (v2: Go text/template with sprig) writes the password.
pub const PASSWORD_TEMPLATE: &str = "{{ .password }}";
/// Generated passwords: letters and digits only (no symbol needs escaping in a URL or in
/// Redis's quoted `requirepass`), 40 of them (about 238 bits).
pub const PASSWORD_LENGTH: u32 = 40;

/// The ExternalSecret's template: every key of the credentials Secret.
pub fn template(platform: &Platform, workload: Workload<'_>) -> BTreeMap<String, String> {
    credentials_entries(platform, workload, PLACEHOLDER)
        .into_iter()
        .map(|(key, value)| (key, value.replace(PLACEHOLDER, PASSWORD_TEMPLATE)))
        .collect()
}

fn kind(workload: Workload<'_>) -> Kind {
    match workload {
        Workload::Database(_) => meta::POSTGRES,
        Workload::Cache(_) => meta::REDIS,
        Workload::Client(_) => super::client::CLIENT,
    }
}

/// The generator of a workload's password: `<workload>-password`.
pub fn generator_name(workload: Workload<'_>) -> String {
    format!("{}-password", workload.names().workload)
}

/// The objects of one workload for `source`; `environment` names the overlay (a store's key may
/// depend on it).
pub fn objects(
    platform: &Platform,
    workload: Workload<'_>,
    source: &PasswordSource,
    environment: &str,
) -> Vec<Object> {
    let names = workload.names();
    let kind = kind(workload);
    let mut spec = ExternalSecretSpec {
        // Written once: a server keeps the password it was initialised with, so the Secret
        // must never change under it (rotation is a deliberate step, docs/secrets.md).
        refresh_policy: RefreshPolicy::CreatedOnce,
        target: Target {
            name: names.credentials_secret.clone(),
            creation_policy: "Owner".into(),
            template: Template {
                engine_version: "v2".into(),
                type_: "Opaque".into(),
                data: template(platform, workload),
            },
        },
        ..ExternalSecretSpec::default()
    };
    let mut objects = Vec::new();
    match source {
        PasswordSource::Generator => {
            let mut password = Password::new(
                &generator_name(workload),
                PasswordSpec {
                    length: PASSWORD_LENGTH,
                    digits: 10,
                    symbols: 0,
                    no_upper: false,
                    allow_repeat: true,
                },
            );
            password.metadata =
                meta::object_meta(platform, kind, &generator_name(workload), &names.workload);
            objects.push(Object::Password(Box::new(password)));
            spec.data_from.push(DataFrom {
                source_ref: SourceRef {
                    generator_ref: GeneratorRef {
                        api_version: "generators.external-secrets.io/v1alpha1".into(),
                        kind: "Password".into(),
                        name: generator_name(workload),
                    },
                },
            });
        }
        PasswordSource::Store {
            kind: store_kind,
            name,
            remote_key,
        } => {
            spec.secret_store_ref = Some(SecretStoreRef {
                kind: store_kind.name().into(),
                name: name.clone(),
            });
            spec.data.push(Data {
                secret_key: PASSWORD_KEY.into(),
                remote_ref: RemoteRef {
                    key: PasswordSource::remote_key(remote_key, environment, &names.workload),
                },
            });
        }
    }
    let mut external_secret = ExternalSecret::new(&names.credentials_secret, spec);
    external_secret.metadata =
        meta::object_meta(platform, kind, &names.credentials_secret, &names.workload);
    objects.push(Object::ExternalSecret(Box::new(external_secret)));
    objects
}

/// With `[backup]`: the ExternalSecret of `<platform>-backup-cipher` (key `passphrase`), from a
/// `Password` generator of 64 characters, or from the store at `remote_key` with `{workload}`
/// as `backup-cipher`. Created once and never refreshed: a new passphrase could not read the
/// backups the old one encrypted.
pub fn backup_cipher_objects(
    platform: &Platform,
    source: &PasswordSource,
    environment: &str,
) -> Vec<Object> {
    if platform.backup.is_none() {
        return Vec::new();
    }
    let name = platform.backup_cipher_secret();
    let kind = super::backup::BACKUP;
    let mut spec = ExternalSecretSpec {
        refresh_policy: RefreshPolicy::CreatedOnce,
        target: Target {
            name: name.clone(),
            creation_policy: "Owner".into(),
            template: Template {
                engine_version: "v2".into(),
                type_: "Opaque".into(),
                data: BTreeMap::from([(
                    super::backup::CIPHER_KEY.to_owned(),
                    PASSWORD_TEMPLATE.to_owned(),
                )]),
            },
        },
        ..ExternalSecretSpec::default()
    };
    let mut objects = Vec::new();
    match source {
        PasswordSource::Generator => {
            let mut password = Password::new(
                &name,
                PasswordSpec {
                    length: 64,
                    digits: 10,
                    symbols: 0,
                    no_upper: false,
                    allow_repeat: true,
                },
            );
            password.metadata = meta::object_meta(platform, kind, &name, &name);
            objects.push(Object::Password(Box::new(password)));
            spec.data_from.push(DataFrom {
                source_ref: SourceRef {
                    generator_ref: GeneratorRef {
                        api_version: "generators.external-secrets.io/v1alpha1".into(),
                        kind: "Password".into(),
                        name: name.clone(),
                    },
                },
            });
        }
        PasswordSource::Store {
            kind: store_kind,
            name: store,
            remote_key,
        } => {
            spec.secret_store_ref = Some(SecretStoreRef {
                kind: store_kind.name().into(),
                name: store.clone(),
            });
            spec.data.push(Data {
                secret_key: PASSWORD_KEY.into(),
                remote_ref: RemoteRef {
                    key: PasswordSource::remote_key(remote_key, environment, "backup-cipher"),
                },
            });
        }
    }
    let mut external_secret = ExternalSecret::new(&name, spec);
    external_secret.metadata = meta::object_meta(platform, kind, &name, &name);
    objects.push(Object::ExternalSecret(Box::new(external_secret)));
    objects
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_template_has_every_key_of_the_credentials_secret_and_no_placeholder() {
        for source in [
            include_str!("../../tests/fixtures/secrets/ecdsa.toml"),
            include_str!("../../tests/fixtures/clients-cert-manager/bakery.toml"),
        ] {
            let platform = crate::check(source).platform.unwrap();
            check_templates(&platform);
        }
    }

    fn check_templates(platform: &Platform) {
        for workload in crate::secrets::workloads(platform) {
            let template = template(platform, workload);
            let entries = credentials_entries(platform, workload, "pw");
            assert_eq!(
                template.keys().collect::<Vec<_>>(),
                entries.keys().collect::<Vec<_>>()
            );
            assert_eq!(template[PASSWORD_KEY], PASSWORD_TEMPLATE);
            assert!(template.values().all(|v| !v.contains(PLACEHOLDER)));
        }
    }
}
