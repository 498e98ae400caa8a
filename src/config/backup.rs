//! `[backup]`, `[backup.repository]` and `[environments.E.backup]`: pgBackRest for every database
//! (`backup = false` in a `[[database]]` opts it out). Its keys, raw form and checks: cron
//! schedules, retention, the repository (a volume per database, or S3 with the Secret holding
//! its keys) and the image that must carry pgbackrest. Encryption is always on and has no key:
//! a key asking for a plaintext repository is unknown. The objects are compile's job.

use std::collections::{BTreeMap, BTreeSet};

use super::database::DeclaredDatabase;
use super::{Checker, RawConfig};
use super::{Default, Fields, Format, Key, Kind, Required, Sp, Span, Table};
use crate::diagnostic;
use crate::model::{Backup, BackupPolicy, Cron, PgVersion, Repository, S3Repository};

pub const FULL: &str = "0 1 * * 0";
pub const DIFFERENTIAL: &str = "0 1 * * 1-6";
pub const RETENTION_FULL: u8 = 2;
pub const ARCHIVE_TIMEOUT: &str = "60s";
pub const S3_PATH: &str = "/pgbackrest";
pub const URI_STYLES: &[&str] = &["host", "path"];
pub const REPOSITORY_TYPES: &[&str] = &["volume", "s3"];

const SCHEDULE_KEY: Key = Key {
    name: "schedule",
    kind: Kind::Table(&SCHEDULE),
    required: Required::No,
    default: Default::Described("full `0 1 * * 0`, differential `0 1 * * 1-6`"),
    doc: "cron schedules (as Kubernetes CronJobs read them, in the controller's time zone) of the full and differential backups",
    example: "{ full = \"0 1 * * 0\", differential = \"0 1 * * 1-6\" }",
};

const RETENTION_KEY: Key = Key {
    name: "retention",
    kind: Kind::Table(&RETENTION),
    required: Required::No,
    default: Default::Described("`{ full = 2 }`"),
    doc: "full backups kept (`repo1-retention-full`); older ones and their WAL expire",
    example: "{ full = 4 }",
};

const ARCHIVE_TIMEOUT_KEY: Key = Key {
    name: "archive_timeout",
    kind: Kind::Str(Format::Duration),
    required: Required::No,
    default: Default::Str(ARCHIVE_TIMEOUT),
    doc: "PostgreSQL `archive_timeout`: the longest a quiet database leaves its last changes unarchived",
    example: "\"60s\"",
};

const REPOSITORY_KEY: Key = Key {
    name: "repository",
    kind: Kind::Table(&REPOSITORY),
    required: Required::Yes,
    default: Default::None,
    doc: "where the encrypted backups and WAL go",
    example: "",
};

pub static TABLE: Table = Table {
    title: "[backup]",
    doc: "pgBackRest: encrypted (aes-256-cbc) full and differential backups and WAL archiving of every database",
    keys: &[
        Key {
            name: "image",
            kind: Kind::Str(Format::Image),
            required: Required::Yes,
            default: Default::None,
            doc: "PostgreSQL of the declared major version plus pgbackrest (see the Dockerfile under Backups); replaces the database image of every backed-up database",
            example: "\"registry.example.com/postgres-pgbackrest:17.2-alpine\"",
        },
        REPOSITORY_KEY,
        SCHEDULE_KEY,
        RETENTION_KEY,
        ARCHIVE_TIMEOUT_KEY,
    ],
    inherits: None,
    inline: false,
};

/// What an environment may change about backups: where they go, how often, how long.
pub static ENVIRONMENT: Table = Table {
    title: "[environments.E.backup]",
    doc: "for the backups of E, each replacing `[backup]`'s (a repository as `[backup.repository]`)",
    keys: &[
        Key {
            kind: Kind::Table(&ENVIRONMENT_REPOSITORY),
            required: Required::No,
            default: Default::Described("`[backup.repository]`"),
            example: "{ type = \"volume\", storage = \"10Gi\" }",
            ..REPOSITORY_KEY
        },
        SCHEDULE_KEY,
        RETENTION_KEY,
    ],
    inherits: None,
    inline: false,
};

/// The keys of a repository, in `[backup.repository]` and `[environments.E.backup.repository]`.
const REPOSITORY_KEYS: &[Key] = &[
    Key {
        name: "type",
        kind: Kind::Str(Format::Choice(REPOSITORY_TYPES)),
        required: Required::Yes,
        default: Default::None,
        doc: "`s3` (an S3-compatible bucket: for production) or `volume` (a PersistentVolumeClaim per database: shares the cluster's storage, no disaster recovery)",
        example: "\"s3\"",
    },
    Key {
        name: "storage",
        kind: Kind::Str(Format::Quantity),
        required: Required::No,
        default: Default::Described("required with type = \"volume\""),
        doc: "`volume`: size of each database's repository volume",
        example: "\"10Gi\"",
    },
    Key {
        name: "storage_class",
        kind: Kind::Str(Format::Domain),
        required: Required::No,
        default: Default::Described("the cluster's default"),
        doc: "`volume`: StorageClass of the repository volumes",
        example: "\"standard\"",
    },
    Key {
        name: "bucket",
        kind: Kind::Str(Format::Text { max_len: 63 }),
        required: Required::No,
        default: Default::Described("required with type = \"s3\""),
        doc: "`s3`: the bucket (`repo1-s3-bucket`)",
        example: "\"bakery-backups\"",
    },
    Key {
        name: "endpoint",
        kind: Kind::Str(Format::Text { max_len: 253 }),
        required: Required::No,
        default: Default::Described("required with type = \"s3\""),
        doc: "`s3`: the endpoint host (`repo1-s3-endpoint`), e.g. `s3.eu-west-1.amazonaws.com`",
        example: "\"s3.eu-west-1.amazonaws.com\"",
    },
    Key {
        name: "region",
        kind: Kind::Str(Format::Text { max_len: 63 }),
        required: Required::No,
        default: Default::Described("required with type = \"s3\""),
        doc: "`s3`: the region (`repo1-s3-region`)",
        example: "\"eu-west-1\"",
    },
    Key {
        name: "path",
        kind: Kind::Str(Format::Text { max_len: 1024 }),
        required: Required::No,
        default: Default::Str(S3_PATH),
        doc: "`s3`: the repository's path in the bucket (`repo1-path`); every database is one stanza in it",
        example: "\"/bakery-ia/prod\"",
    },
    Key {
        name: "uri_style",
        kind: Kind::Str(Format::Choice(URI_STYLES)),
        required: Required::No,
        default: Default::Str("host"),
        doc: "`s3`: `host` (virtual-hosted) or `path` (`repo1-s3-uri-style`; MinIO and most local servers)",
        example: "\"path\"",
    },
    Key {
        name: "secret",
        kind: Kind::Str(Format::Label),
        required: Required::No,
        default: Default::Described("required with type = \"s3\""),
        doc: "`s3`: the Secret (made by you) holding `access_key_id` and `secret_access_key`",
        example: "\"backup-s3-credentials\"",
    },
];

pub static REPOSITORY: Table = Table {
    title: "[backup.repository]",
    doc: "the pgBackRest repository (`repo1`)",
    keys: REPOSITORY_KEYS,
    inherits: None,
    inline: false,
};

/// An environment's repository: the same keys, documented in one row with the environment's.
pub static ENVIRONMENT_REPOSITORY: Table = Table {
    title: "[environments.E.backup.repository]",
    doc: "the repository of E, as `[backup.repository]`",
    keys: REPOSITORY_KEYS,
    inherits: None,
    inline: true,
};

pub static SCHEDULE: Table = Table {
    title: "[backup.schedule]",
    doc: "when backups run",
    keys: &[
        Key {
            name: "full",
            kind: Kind::Str(Format::Text { max_len: 100 }),
            required: Required::No,
            default: Default::Str(FULL),
            doc: "cron schedule of full backups",
            example: "\"0 1 * * 0\"",
        },
        Key {
            name: "differential",
            kind: Kind::Str(Format::Text { max_len: 100 }),
            required: Required::No,
            default: Default::Str(DIFFERENTIAL),
            doc: "cron schedule of differential backups",
            example: "\"0 1 * * 1-6\"",
        },
    ],
    inherits: None,
    inline: true,
};

pub static RETENTION: Table = Table {
    title: "[backup.retention]",
    doc: "how many backups are kept",
    keys: &[Key {
        name: "full",
        kind: Kind::Integer(1..=99),
        required: Required::No,
        default: Default::Described("2"),
        doc: "full backups kept",
        example: "2",
    }],
    inherits: None,
    inline: true,
};

/// `[backup]` or `[environments.E.backup]` as written.
#[derive(Clone, Debug, Default)]
pub struct RawBackup {
    pub span: Span,
    pub image: Option<Sp<String>>,
    pub repository: Option<RawRepository>,
    pub full: Option<Sp<String>>,
    pub differential: Option<Sp<String>>,
    pub retention_full: Option<Sp<i64>>,
    pub archive_timeout: Option<Sp<String>>,
}

#[derive(Clone, Debug, Default)]
pub struct RawRepository {
    pub span: Span,
    pub type_: Option<Sp<String>>,
    pub storage: Option<Sp<String>>,
    pub storage_class: Option<Sp<String>>,
    pub bucket: Option<Sp<String>>,
    pub endpoint: Option<Sp<String>>,
    pub region: Option<Sp<String>>,
    pub path: Option<Sp<String>>,
    pub uri_style: Option<Sp<String>>,
    pub secret: Option<Sp<String>>,
}

pub fn read(t: &mut Fields<'_, '_, '_>) -> RawBackup {
    RawBackup {
        image: t.string("image"),
        archive_timeout: t.string("archive_timeout"),
        ..read_environment(t)
    }
}

/// `[environments.E.backup]`: the keys an environment may change.
pub fn read_environment(t: &mut Fields<'_, '_, '_>) -> RawBackup {
    let schedule = t
        .table("schedule", |s| (s.string("full"), s.string("differential")))
        .unwrap_or_default();
    RawBackup {
        span: t.span.clone(),
        image: None,
        repository: t.table("repository", |r| RawRepository {
            span: r.span.clone(),
            type_: r.string("type"),
            storage: r.string("storage"),
            storage_class: r.string("storage_class"),
            bucket: r.string("bucket"),
            endpoint: r.string("endpoint"),
            region: r.string("region"),
            path: r.string("path"),
            uri_style: r.string("uri_style"),
            secret: r.string("secret"),
        }),
        full: schedule.0,
        differential: schedule.1,
        retention_full: t.table("retention", |r| r.integer("full")).flatten(),
        archive_timeout: None,
    }
}

/// `[backup]` checked, with every environment's policy; `Some(None)` without `[backup]`.
pub fn validate(
    raw: &RawConfig,
    databases: &[DeclaredDatabase],
    check: &mut Checker,
) -> Option<Option<Backup>> {
    let Some(section) = &raw.backup else {
        return Some(None);
    };
    let mut covered = BTreeSet::new();
    let mut version = None;
    for (declared, written) in databases.iter().zip(&raw.databases) {
        let opted_out = written.backup.as_ref().is_some_and(|b| !b.value);
        if let (Some(db), false) = (&declared.database, opted_out) {
            covered.insert(db.name.clone());
            if version.is_none() {
                version = declared.version.clone().map(|v| (db.version, v));
            }
        }
    }
    let image = check
        .required_in(section.image.as_ref(), &section.span, &TABLE, "image", "")
        .and_then(|image| image_of(image, version.as_ref(), check));
    let repository = check
        .required_in(
            section
                .repository
                .as_ref()
                .map(|r| Sp::new((), r.span.clone()))
                .as_ref(),
            &section.span,
            &TABLE,
            "repository",
            ": backups need a place to go, a volume per database or an S3 bucket",
        )
        .and(section.repository.as_ref())
        .and_then(|r| repository_of(r, check));
    let policy = policy(section, repository, check);
    let mut environments = BTreeMap::new();
    let mut ok = true;
    for env in &raw.environments {
        let Some(written) = &env.backup else {
            if let Some(policy) = &policy {
                environments.insert(env.name.value.clone(), policy.clone());
            }
            continue;
        };
        let repository = match &written.repository {
            Some(r) => repository_of(r, check),
            None => policy.as_ref().map(|p| p.repository.clone()),
        };
        match policy_over(written, section, repository, check) {
            Some(p) => {
                environments.insert(env.name.value.clone(), p);
            }
            None => ok = false,
        }
    }
    let (Some(image), Some(policy), true) = (image, policy, ok) else {
        return None;
    };
    Some(Some(Backup {
        image,
        databases: covered,
        policy,
        environments,
    }))
}

/// The backup image: pgbackrest plus the PostgreSQL the databases declare. Its tag is checked
/// like a database image's; an image whose tag cannot say the major version gets a warning.
fn image_of(
    image: &Sp<String>,
    version: Option<&(PgVersion, Sp<i64>)>,
    check: &mut Checker,
) -> Option<crate::model::Image> {
    let parsed = check.postgres_image(image, version.map(|(v, w)| (*v, w)))?;
    let major_first = parsed
        .tag
        .as_deref()
        .is_some_and(|t| t.starts_with(|c: char| c.is_ascii_digit()));
    if let (Some((version, _)), false) = (version, major_first) {
        let kind = diagnostic::Kind::BackupImageUnchecked {
            written: image.value.clone(),
            version: version.major(),
        };
        check.report(&image.span, &kind);
    } else if let (Some((version, written)), Some(tag)) = (version, &parsed.tag) {
        // postgres_image only reads official-style names; a custom name with a version-first tag
        // (`myorg/postgres-pgbackrest:17.2`) says the major version too.
        let major: String = tag.chars().take_while(char::is_ascii_digit).collect();
        let last = parsed.repository.rsplit('/').next().unwrap_or_default();
        let official = last.starts_with("postgres") || last == "postgis";
        if let (Ok(major), false) = (major.parse::<u8>(), official) {
            if major != version.major() {
                let kind = diagnostic::Kind::ImageVersionMismatch {
                    tag: tag.clone(),
                    image_major: major,
                    version: version.major(),
                    version_at: written.span.clone(),
                };
                check.report(&image.span, &kind);
            }
        }
    }
    Some(parsed)
}

fn repository_of(raw: &RawRepository, check: &mut Checker) -> Option<Repository> {
    let kind = check.required_in(raw.type_.as_ref(), &raw.span, &REPOSITORY, "type", "")?;
    let kind = check.choice(kind, "type", REPOSITORY_TYPES, |name| {
        REPOSITORY_TYPES.contains(&name).then(|| name.to_owned())
    })?;
    if kind == "volume" {
        let storage = check
            .required_in(
                raw.storage.as_ref(),
                &raw.span,
                &REPOSITORY,
                "storage",
                ": a volume repository needs a size",
            )
            .and_then(|s| check.storage(s));
        let storage_class = raw
            .storage_class
            .as_ref()
            .and_then(|s| check.storage_class(s));
        return Some(Repository::Volume {
            storage: storage?,
            storage_class,
        });
    }
    let mut needed = |value: Option<&Sp<String>>, key: &'static str, why: &'static str| {
        check
            .required_in(value, &raw.span, &REPOSITORY, key, why)
            .map(|v| v.value.clone())
    };
    let bucket = needed(
        raw.bucket.as_ref(),
        "bucket",
        ": pgBackRest writes into one bucket",
    );
    let endpoint = needed(
        raw.endpoint.as_ref(),
        "endpoint",
        ": pgBackRest has no default S3 endpoint",
    );
    let region = needed(
        raw.region.as_ref(),
        "region",
        ": S3 requests are signed for a region",
    );
    let secret = check
        .required_in(
            raw.secret.as_ref(),
            &raw.span,
            &REPOSITORY,
            "secret",
            ": the Secret with access_key_id and secret_access_key that the database pods read",
        )
        .and_then(|s| check.label(s, ""));
    let uri_style = match &raw.uri_style {
        None => Some("host".to_owned()),
        Some(written) => check.choice(written, "uri_style", URI_STYLES, |name| {
            URI_STYLES.contains(&name).then(|| name.to_owned())
        }),
    };
    let path = raw.path.as_ref().map_or(S3_PATH, |p| p.value.as_str());
    let path = format!("/{}", path.trim_matches('/'));
    Some(Repository::S3(S3Repository {
        bucket: bucket?,
        endpoint: endpoint?,
        region: region?,
        path,
        uri_style: uri_style?,
        credentials_secret: secret?,
    }))
}

fn cron(written: Option<&Sp<String>>, default: &str, check: &mut Checker) -> Option<Cron> {
    let Some(written) = written else {
        return Cron::new(default).ok();
    };
    Cron::new(&written.value)
        .map_err(|problem| {
            let kind = diagnostic::Kind::InvalidCron {
                written: written.value.clone(),
                problem,
            };
            check.report(&written.span, &kind);
        })
        .ok()
}

fn retention(written: Option<&Sp<i64>>, check: &mut Checker) -> Option<u8> {
    let Some(written) = written else {
        return Some(RETENTION_FULL);
    };
    if let Ok(n @ 1..=99) = u8::try_from(written.value) {
        return Some(n);
    }
    let kind = diagnostic::Kind::BackupValue {
        key: "retention.full",
        written: written.value.to_string(),
        problem: "keeps no backup: expiry would delete every full backup and its WAL",
        example: "retention = { full = 2 }",
    };
    check.report(&written.span, &kind);
    None
}

fn seconds(written: Option<&Sp<String>>, check: &mut Checker) -> Option<u64> {
    let Some(written) = written else {
        return Some(60);
    };
    // The same durations as `log_min_duration`: a number and a unit.
    match check.statement_duration(written)? {
        Some(ms) if ms >= 1000 => Some(ms / 1000),
        _ => {
            let kind = diagnostic::Kind::BackupValue {
                key: "archive_timeout",
                written: format!("{:?}", written.value),
                problem: "is shorter than a second: every WAL file would be archived nearly empty",
                example: "archive_timeout = \"60s\"",
            };
            check.report(&written.span, &kind);
            None
        }
    }
}

fn policy(
    section: &RawBackup,
    repository: Option<Repository>,
    check: &mut Checker,
) -> Option<BackupPolicy> {
    let full = cron(section.full.as_ref(), FULL, check);
    let differential = cron(section.differential.as_ref(), DIFFERENTIAL, check);
    let retention_full = retention(section.retention_full.as_ref(), check);
    let archive_timeout_seconds = seconds(section.archive_timeout.as_ref(), check);
    Some(BackupPolicy {
        repository: repository?,
        full: full?,
        differential: differential?,
        retention_full: retention_full?,
        archive_timeout_seconds: archive_timeout_seconds?,
    })
}

/// An environment's policy: its own keys, else `[backup]`'s.
fn policy_over(
    env: &RawBackup,
    base: &RawBackup,
    repository: Option<Repository>,
    check: &mut Checker,
) -> Option<BackupPolicy> {
    let merged = RawBackup {
        span: env.span.clone(),
        image: None,
        repository: None,
        full: env.full.clone().or_else(|| base.full.clone()),
        differential: env
            .differential
            .clone()
            .or_else(|| base.differential.clone()),
        retention_full: env
            .retention_full
            .clone()
            .or_else(|| base.retention_full.clone()),
        archive_timeout: base.archive_timeout.clone(),
    };
    // The base's values were reported already; validate drops the repeated diagnostics.
    policy(&merged, repository, check)
}

/// The `backup` key of a `[[database]]`.
pub const DATABASE_KEY: Key = Key {
    name: "backup",
    kind: Kind::Bool,
    required: Required::No,
    default: Default::Bool(true),
    doc: "with [backup]: `false` leaves this database out of the backups",
    example: "false",
};

/// The backup image becomes the image of every backed-up database, in the base and in every
/// environment that does not choose its own image (an environment's `image` must then carry
/// pgbackrest as well, as the README says).
pub fn use_image(platform: &mut crate::model::Platform) {
    let Some(backup) = platform.backup.clone() else {
        return;
    };
    for db in &mut platform.databases {
        if !backup.covers(db) {
            continue;
        }
        let declared = std::mem::replace(&mut db.placement.image, backup.image.clone());
        for env in &mut platform.environments {
            if let Some(placement) = env.databases.get_mut(&db.name) {
                if placement.image == declared {
                    placement.image = backup.image.clone();
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::model::Cron;

    #[test]
    fn cron_accepts_what_a_cron_job_runs_and_refuses_the_rest() {
        for ok in [
            "0 1 * * 0",
            "*/15 * * * *",
            "30 2 1,15 * mon-fri",
            "0 0 * jan,jul sun",
            "0 1 * * 1-6",
            "5 4 * * 7",
            "0 0-23/6 * * *",
            "@daily",
            "@weekly",
        ] {
            assert!(Cron::new(ok).is_ok(), "{ok}: {:?}", Cron::new(ok));
        }
        for bad in [
            "",
            "0 1 * *",
            "0 0 1 * * 0",
            "60 * * * *",
            "0 24 * * *",
            "0 0 0 * *",
            "0 0 * 13 *",
            "0 0 * * 8",
            "*/0 * * * *",
            "5-1 * * * *",
            "@often",
            "0 0 * * funday",
        ] {
            assert!(Cron::new(bad).is_err(), "{bad} was accepted");
        }
    }

    #[test]
    fn the_longest_gap_bounds_each_schedule() {
        let gap =
            |text: &str| crate::compile::backup::longest_gap_seconds(&Cron::new(text).unwrap());
        assert_eq!(gap("0 1 * * *"), 86_400);
        assert_eq!(gap("0 1 * * 1-6"), 7 * 86_400);
        assert_eq!(gap("@weekly"), 7 * 86_400);
        assert_eq!(gap("0 1 1 * *"), 31 * 86_400);
        assert_eq!(gap("*/5 * * * *"), 3600);
    }
}
