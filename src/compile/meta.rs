//! Names, labels and annotations shared by every object: the `app.kubernetes.io/*` labels, the
//! selector labels (a stable subset) and the checkov skip annotations with their reasons.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use sha2::{Digest, Sha256};

use crate::model::{Image, Platform};

/// What a workload is: `postgres` or `redis`, and its `app.kubernetes.io/component`.
#[derive(Clone, Copy, Debug)]
pub struct Kind {
    pub app: &'static str,
    pub component: &'static str,
}

pub const POSTGRES: Kind = Kind {
    app: "postgres",
    component: "database",
};
pub const REDIS: Kind = Kind {
    app: "redis",
    component: "cache",
};

/// Labels that select a workload's pods. Never change them: Deployment selectors are immutable.
pub fn selector(kind: Kind, instance: &str) -> BTreeMap<String, String> {
    BTreeMap::from([
        ("app.kubernetes.io/instance".to_owned(), instance.to_owned()),
        ("app.kubernetes.io/name".to_owned(), kind.app.to_owned()),
    ])
}

/// All recommended labels of a workload's objects, with the platform's extra labels.
pub fn labels(platform: &Platform, kind: Kind, instance: &str) -> BTreeMap<String, String> {
    // `[platform] labels` first: they may not name a label bakeryc sets (validate refuses it).
    let mut labels: BTreeMap<String, String> = platform
        .labels
        .iter()
        .map(|(key, value)| (key.as_str().to_owned(), value.as_str().to_owned()))
        .collect();
    labels.extend(selector(kind, instance));
    labels.insert("app.kubernetes.io/component".into(), kind.component.into());
    labels.insert("app.kubernetes.io/managed-by".into(), "bakeryc".into());
    labels.insert(
        "app.kubernetes.io/part-of".into(),
        platform.name.to_string(),
    );
    labels
}

/// The labels of a server's pod template: bakeryc's own, without `[platform] labels`. A pod
/// template's labels are part of the template, so a platform label there would restart every
/// server when it changes; the objects around the pods carry them (see [`labels`]).
pub fn pod_labels(platform: &Platform, kind: Kind, instance: &str) -> BTreeMap<String, String> {
    let mut labels = labels(platform, kind, instance);
    labels.retain(|key, _| key.starts_with("app.kubernetes.io/"));
    labels
}

pub fn object_meta(platform: &Platform, kind: Kind, name: &str, instance: &str) -> ObjectMeta {
    ObjectMeta {
        name: Some(name.to_owned()),
        namespace: Some(platform.namespace.to_string()),
        labels: Some(labels(platform, kind, instance)),
        ..Default::default()
    }
}

/// checkov skips that cannot be avoided, each with the reason a reviewer needs.
pub fn checkov_skips(image: &Image, uid_below_10000: bool) -> Option<BTreeMap<String, String>> {
    let mut reasons = Vec::new();
    if uid_below_10000 {
        reasons.push(
            "CKV_K8S_40=the official postgres alpine image runs PostgreSQL as uid 70, which owns the data directory; \
             the pod still runs non-root with no privileges",
        );
    }
    if image.digest.is_none() {
        reasons.push(
            "CKV_K8S_43=the image is pinned by a version tag in bakery.toml; pin it by digest in bakery.toml (name@sha256:...) to lift this skip",
        );
    }
    (!reasons.is_empty()).then(|| {
        reasons
            .iter()
            .enumerate()
            .map(|(i, reason)| (format!("checkov.io/skip{}", i + 1), (*reason).to_owned()))
            .collect()
    })
}

/// A short digest of configuration that pods read at start, put on the pod template so a change
/// rolls the pods (ConfigMaps keep their names, so Kubernetes would not notice otherwise). The
/// `sha256:` prefix keeps a digest such as `995e662935782567` from reading as a YAML number
/// once kustomize re-prints it without quotes.
pub fn config_digest(parts: &[&str]) -> String {
    let mut hasher = Sha256::new();
    for part in parts {
        hasher.update(part.len().to_le_bytes());
        hasher.update(part.as_bytes());
    }
    hasher
        .finalize()
        .iter()
        .take(8)
        .fold(String::from("sha256:"), |mut hex, b| {
            let _ = write!(hex, "{b:02x}");
            hex
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn image(digest: Option<&str>) -> Image {
        Image {
            repository: "postgres".into(),
            tag: Some("17.2-alpine".into()),
            digest: digest.map(str::to_owned),
        }
    }

    /// A skip only where it cannot be avoided, each under its own key with the check's id and
    /// the reason a reviewer needs.
    #[test]
    fn checkov_skips_exactly_what_cannot_be_avoided_with_reasons() {
        let pinned = image(Some("sha256:0123"));
        assert_eq!(checkov_skips(&pinned, false), None);
        let skips = |image: &Image, low_uid: bool| -> Vec<(String, String)> {
            checkov_skips(image, low_uid)
                .unwrap()
                .into_iter()
                .map(|(key, value)| (key, value.split('=').next().unwrap().to_owned()))
                .collect()
        };
        let pair = |key: &str, check: &str| (key.to_owned(), check.to_owned());
        assert_eq!(
            skips(&pinned, true),
            [pair("checkov.io/skip1", "CKV_K8S_40")]
        );
        assert_eq!(
            skips(&image(None), false),
            [pair("checkov.io/skip1", "CKV_K8S_43")]
        );
        assert_eq!(
            skips(&image(None), true),
            [
                pair("checkov.io/skip1", "CKV_K8S_40"),
                pair("checkov.io/skip2", "CKV_K8S_43")
            ]
        );
        for reason in checkov_skips(&image(None), true).unwrap().values() {
            let (_, why) = reason.split_once('=').unwrap();
            assert!(why.len() > 40, "{reason}");
        }
    }

    /// Any change of what pods read changes the digest, also where the parts merely split
    /// differently; the digest is 16 hex digits behind `sha256:`.
    #[test]
    fn the_config_digest_follows_every_part() {
        let digest = config_digest(&["a", "bc"]);
        assert!(
            digest.starts_with("sha256:") && digest.len() == 7 + 16,
            "{digest}"
        );
        assert!(
            digest[7..].chars().all(|c| c.is_ascii_hexdigit()),
            "{digest}"
        );
        assert_eq!(digest, config_digest(&["a", "bc"]));
        for other in [&["a", "bd"][..], &["ab", "c"], &["a"], &["bc", "a"]] {
            assert_ne!(digest, config_digest(other), "{other:?}");
        }
    }
}
