//! `[gitops]` and `[environments.E] destination`: where Argo CD finds generated/ in git and where
//! it syncs each environment to. With `[gitops]`, build writes one Argo CD Application per
//! environment under generated/argocd/. Keys, raw form and checks only: the Applications are
//! compile's job.

use std::collections::BTreeMap;

use super::{Checker, RawConfig};
use super::{Default, Fields, Format, Key, Kind, Required, Sp, Span, Table};
use crate::diagnostic;
use crate::model::{Destination, Gitops};

pub const REVISION: &str = "HEAD";
pub const PATH: &str = "generated";
pub const PROJECT: &str = "default";
/// The cluster Argo CD runs in.
pub const SERVER: &str = "https://kubernetes.default.svc";

pub static TABLE: Table = Table {
    title: "[gitops]",
    doc: "Argo CD: one Application per environment in generated/argocd/",
    keys: &[
        Key {
            name: "repo_url",
            kind: Kind::Str(Format::Text { max_len: 2048 }),
            required: Required::Yes,
            default: Default::None,
            doc: "the git repository that holds generated/",
            example: "\"https://git.example.com/platform/bakery.git\"",
        },
        Key {
            name: "revision",
            kind: Kind::Str(Format::Text { max_len: 255 }),
            required: Required::No,
            default: Default::Str(REVISION),
            doc: "the branch, tag or commit Argo CD syncs",
            example: "\"main\"",
        },
        Key {
            name: "path",
            kind: Kind::Str(Format::Text { max_len: 1024 }),
            required: Required::No,
            default: Default::Str(PATH),
            doc: "generated/'s path in the repository (the `-o` of build)",
            example: "\"deploy/generated\"",
        },
        Key {
            name: "project",
            kind: Kind::Str(Format::Label),
            required: Required::No,
            default: Default::Str(PROJECT),
            doc: "the Argo CD project of the Applications",
            example: "\"data-tier\"",
        },
    ],
    inherits: None,
    inline: false,
};

pub static DESTINATION: Table = Table {
    title: "[environments.E.destination]",
    doc: "with [gitops]: the cluster and namespace Argo CD syncs this environment to",
    keys: &[
        Key {
            name: "server",
            kind: Kind::Str(Format::Text { max_len: 2048 }),
            required: Required::No,
            default: Default::Str(SERVER),
            doc: "the cluster's API server URL, as registered in Argo CD",
            example: "\"https://prod.k8s.example.com\"",
        },
        Key {
            name: "namespace",
            kind: Kind::Str(Format::Label),
            required: Required::No,
            default: Default::Described("`[platform] namespace`"),
            doc: "must be `[platform] namespace`: every object names it",
            example: "\"bakery-ia\"",
        },
    ],
    inherits: None,
    inline: true,
};

#[derive(Clone, Debug, Default)]
pub struct RawGitops {
    pub span: Span,
    pub repo_url: Option<Sp<String>>,
    pub revision: Option<Sp<String>>,
    pub path: Option<Sp<String>>,
    pub project: Option<Sp<String>>,
}

#[derive(Clone, Debug, Default)]
pub struct RawDestination {
    pub span: Span,
    pub server: Option<Sp<String>>,
    pub namespace: Option<Sp<String>>,
}

pub fn read(t: &mut Fields<'_, '_, '_>) -> RawGitops {
    RawGitops {
        span: t.span.clone(),
        repo_url: t.string("repo_url"),
        revision: t.string("revision"),
        path: t.string("path"),
        project: t.string("project"),
    }
}

pub fn read_destination(t: &mut Fields<'_, '_, '_>) -> RawDestination {
    RawDestination {
        span: t.span.clone(),
        server: t.string("server"),
        namespace: t.string("namespace"),
    }
}

pub fn validate(raw: &RawConfig, check: &mut Checker) -> Option<Option<Gitops>> {
    let namespace = raw
        .platform
        .as_ref()
        .and_then(|p| p.namespace.as_ref())
        .map(|n| n.value.clone());
    let Some(section) = &raw.gitops else {
        // A destination without [gitops] would look as if Argo CD were set up.
        let mut ok = true;
        for env in &raw.environments {
            if let Some(destination) = &env.destination {
                let kind = diagnostic::Kind::DestinationWithoutGitops {
                    environment: env.name.value.clone(),
                };
                check.report(&destination.span, &kind);
                ok = false;
            }
        }
        return ok.then_some(None);
    };
    let repo_url = check
        .required_in(
            section.repo_url.as_ref(),
            &section.span,
            &TABLE,
            "repo_url",
            "the Applications name the repository Argo CD reads generated/ from",
        )
        .map(|u| u.value.clone());
    let project = match &section.project {
        None => Some(PROJECT.to_owned()),
        Some(written) => check.label(written, "").map(|l| l.to_string()),
    };
    let mut ok = true;
    let mut destinations = BTreeMap::new();
    for env in &raw.environments {
        let written = env.destination.clone().unwrap_or_default();
        if let (Some(ns), Some(platform)) = (&written.namespace, &namespace) {
            if &ns.value != platform {
                let kind = diagnostic::Kind::DestinationNamespace {
                    written: ns.value.clone(),
                    namespace: platform.clone(),
                };
                check.report(&ns.span, &kind);
                ok = false;
            }
        }
        destinations.insert(
            env.name.value.clone(),
            Destination {
                server: written
                    .server
                    .map_or_else(|| SERVER.to_owned(), |s| s.value),
                namespace: namespace.clone().unwrap_or_default(),
            },
        );
    }
    let path = section
        .path
        .as_ref()
        .map_or(PATH, |p| p.value.as_str())
        .trim_matches('/')
        .to_owned();
    if !ok {
        return None;
    }
    Some(Some(Gitops {
        repo_url: repo_url?,
        revision: section
            .revision
            .as_ref()
            .map_or_else(|| REVISION.to_owned(), |r| r.value.clone()),
        path,
        project: project?,
        destinations,
    }))
}
