//! Raw config to model: has every section of `config` check itself in one collecting context
//! (each value once, where it is written, so one typo in `[postgres]` is one diagnostic, not one
//! per database), checks what spans sections (Service names against the cluster domain), and
//! returns the model only when nothing is an error. It never prints or touches disk.

use crate::config::cache::Declared;
use crate::config::database::DeclaredDatabase;
use crate::config::{
    Checker, RawConfig, backup, cache, client, database, environments, gitops, monitoring,
    platform, secrets, tls,
};
use crate::diagnostic::{Code, Diagnostic, Kind};
use crate::model::{Cache, Platform, WorkloadNames};

pub use crate::config::catalogue::{contrib_extensions, is_postgres_setting, setting_exists};

/// Validates a parsed config. Returns the model only when there is no error; the diagnostics
/// (errors and warnings) are sorted by position and free of duplicates.
pub fn validate(raw: &RawConfig) -> (Option<Platform>, Vec<Diagnostic>) {
    let mut check = Checker::new(raw.mistyped.clone());
    let platform = platform(raw, &mut check);
    let mut diagnostics = check.finish();
    diagnostics.sort_by(|a, b| {
        (a.primary.span.start, a.primary.span.end, a.code).cmp(&(
            b.primary.span.start,
            b.primary.span.end,
            b.code,
        ))
    });
    diagnostics.dedup();
    // A value in [postgres] is checked for every database that inherits it; when databases run
    // different versions, say it once, for the first.
    let mut said = std::collections::BTreeSet::new();
    diagnostics.retain(|d| {
        !matches!(
            d.code,
            Code::UnknownSetting | Code::UnknownExtension | Code::ImageVersionMismatch
        ) || said.insert((d.code, d.primary.span.start, d.primary.span.end))
    });
    let diagnostics: Vec<Diagnostic> = diagnostics
        .into_iter()
        .map(Diagnostic::with_long_words_shortened)
        .collect();
    let failed = diagnostics.iter().any(Diagnostic::is_error);
    (if failed { None } else { platform }, diagnostics)
}

fn platform(raw: &RawConfig, check: &mut Checker) -> Option<Platform> {
    let section = platform::validate(raw, check);
    let databases = database::validate(raw, check);
    let cache = cache::validate(raw, &databases, check);
    let clients = client::validate(raw, &databases, cache.as_ref(), check);
    let tls = tls::validate(raw, check);
    let secrets = secrets::validate(raw, check);
    let gitops = gitops::validate(raw, check);
    let environments = environments::validate(raw, &databases, cache.as_ref(), check);
    let backup = backup::validate(raw, &databases, check);
    fqdn_fits(raw, &databases, cache.as_ref(), check);
    crate::config::adopt::cross_check(raw, check);

    let platform::Valid {
        name,
        namespace,
        cluster_domain,
        labels,
    } = section?;
    let mut platform = Platform {
        name,
        namespace,
        cluster_domain,
        labels,
        databases: databases
            .into_iter()
            .map(|db| db.database)
            .collect::<Option<Vec<_>>>()?,
        cache: match cache {
            Some((cache, _)) => Some(cache?),
            None => None,
        },
        clients: clients?,
        tls: tls?,
        monitoring: monitoring::validate(raw),
        secrets: secrets?,
        gitops: gitops?,
        environments: environments?,
        backup: backup?,
    };
    backup::use_image(&mut platform);
    Some(platform)
}

/// Every Service's fully qualified name (`<svc>.<namespace>.svc.<cluster_domain>`) is a SAN of
/// its certificate and the host of its client profile, so it must fit DNS's 253 characters.
fn fqdn_fits(
    raw: &RawConfig,
    databases: &[DeclaredDatabase],
    cache: Option<&Declared<Cache>>,
    check: &mut Checker,
) {
    let Some(platform) = raw.platform.as_ref() else {
        return;
    };
    let (Some(domain), Some(namespace)) = (
        platform.cluster_domain.as_ref(),
        platform.namespace.as_ref(),
    ) else {
        return;
    };
    let services = databases
        .iter()
        .map(|db| WorkloadNames::for_database(&db.name.value).service)
        .chain(cache.map(|(_, name)| WorkloadNames::for_cache(&name.value).service));
    let Some(longest) = services.max_by_key(String::len) else {
        return;
    };
    let fqdn = format!("{longest}.{}.svc.{}", namespace.value, domain.value);
    if fqdn.len() > 253 {
        let kind = Kind::FqdnTooLong {
            service: longest,
            namespace: namespace.value.clone(),
            length: fqdn.len(),
        };
        check.report(&domain.span, &kind);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parse::parse;

    fn codes(source: &str) -> Vec<(Code, String)> {
        let (raw, _) = parse(source);
        let (_, diagnostics) = validate(&raw);
        diagnostics
            .into_iter()
            .map(|d| (d.code, d.message))
            .collect()
    }

    #[test]
    fn a_mistyped_key_is_not_missing_but_another_missing_key_is() {
        let found = codes(
            "[platform]\nname = \"p\"\n[postgres]\nversion = \"17\"\nimage = \"postgres:17.2\"\nstorage = \"1Gi\"\n[[database]]\nname = \"a\"\n",
        );
        assert_eq!(
            found,
            [(Code::MissingKey, "missing `platform.namespace`".to_owned())]
        );
    }

    #[test]
    fn a_key_missing_from_every_database_is_reported_once() {
        let found = codes(
            "[platform]\nname = \"p\"\nnamespace = \"n\"\n[postgres]\nversion = 17\nimage = \"postgres:17.2\"\n[[database]]\nname = \"a\"\n[[database]]\nname = \"b\"\n",
        );
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(found[0].0, Code::MissingKey);
    }

    #[test]
    fn postgres_values_are_checked_without_databases() {
        let found = codes(
            "[platform]\nname = \"p\"\nnamespace = \"n\"\n[postgres]\nversion = 17\nimage = \"postgres:latest\"\nstorage = \"2GB\"\n",
        );
        let found: Vec<Code> = found.into_iter().map(|(code, _)| code).collect();
        assert_eq!(
            found,
            [Code::NoDatabases, Code::ImageLatest, Code::InvalidQuantity]
        );
    }
}
