//! What each supported PostgreSQL major version knows: its configuration settings, the `context`
//! of each (whether the server applies a change on reload or only at restart), and the extensions
//! its contrib set ships. The PostgreSQL 15 table is the first two columns (name, context) of
//! `postgres --describe-config` of a real 15 server; other versions are expressed as the
//! differences recorded in the PostgreSQL release notes. It only answers questions: it reads no
//! server.

use crate::model::PgVersion;

/// `name<TAB>context` per line, from `postgres --describe-config | cut -f1,2` of PostgreSQL 15.
const PG15_SETTINGS: &str = include_str!("pg15-contexts.txt");

/// The names of the PostgreSQL 15 table.
fn pg15_names() -> impl Iterator<Item = &'static str> {
    PG15_SETTINGS
        .lines()
        .filter_map(|line| line.split('\t').next())
}

/// Settings added in a version (present from it on).
const ADDED: &[(u8, &[&str])] = &[
    (
        14,
        &[
            "client_connection_check_interval",
            "compute_query_id",
            "debug_discard_caches",
            "default_toast_compression",
            "enable_async_append",
            "enable_memoize",
            "huge_page_size",
            "idle_session_timeout",
            "in_hot_standby",
            "log_recovery_conflict_waits",
            "min_dynamic_shared_memory",
            "recovery_init_sync_method",
            "remove_temp_files_after_crash",
            "ssl_crl_dir",
            "track_wal_io_timing",
            "vacuum_failsafe_age",
            "vacuum_multixact_failsafe_age",
        ],
    ),
    (
        15,
        &[
            "allow_in_place_tablespaces",
            "archive_library",
            "log_startup_progress_interval",
            "recovery_prefetch",
            "shared_memory_size",
            "shared_memory_size_in_huge_pages",
            "stats_fetch_consistency",
            "wal_decode_buffer_size",
        ],
    ),
    (
        16,
        &[
            "createrole_self_grant",
            "debug_io_direct",
            "debug_logical_replication_streaming",
            "debug_parallel_query",
            "enable_presorted_aggregate",
            "gss_accept_delegation",
            "icu_validation_level",
            "max_parallel_apply_workers_per_subscription",
            "reserved_connections",
            "scram_iterations",
            "send_abort_for_crash",
            "send_abort_for_kill",
            "vacuum_buffer_usage_limit",
        ],
    ),
    (
        17,
        &[
            "allow_alter_system",
            "commit_timestamp_buffers",
            "enable_group_by_reordering",
            "event_triggers",
            "huge_pages_status",
            "io_combine_limit",
            "max_notify_queue_pages",
            "multixact_member_buffers",
            "multixact_offset_buffers",
            "notify_buffers",
            "restrict_nonsystem_relation_kind",
            "serializable_buffers",
            "subtransaction_buffers",
            "summarize_wal",
            "sync_replication_slots",
            "synchronized_standby_slots",
            "trace_connection_negotiation",
            "transaction_buffers",
            "transaction_timeout",
            "wal_summary_keep_time",
        ],
    ),
    (
        18,
        &[
            "autovacuum_vacuum_max_threshold",
            "autovacuum_worker_slots",
            "data_checksums",
            "enable_distinct_reordering",
            "enable_self_join_elimination",
            "extension_control_path",
            "file_copy_method",
            "idle_replication_slot_timeout",
            "io_max_combine_limit",
            "io_max_concurrency",
            "io_method",
            "io_workers",
            "log_lock_failures",
            "max_active_replication_origins",
            "md5_password_warnings",
            "num_os_semaphores",
            "oauth_validator_libraries",
            "ssl_groups",
            "ssl_tls13_ciphers",
            "track_cost_delay_timing",
            "vacuum_max_eager_freeze_failure_rate",
            "vacuum_truncate",
        ],
    ),
];

/// Settings removed in a version (absent from it on).
const REMOVED: &[(u8, &[&str])] = &[
    (
        14,
        &[
            "operator_precedence_warning",
            "vacuum_cleanup_index_scale_factor",
        ],
    ),
    (15, &["stats_temp_directory"]),
    (
        16,
        &[
            "force_parallel_mode",
            "lc_collate",
            "lc_ctype",
            "promote_trigger_file",
            "vacuum_defer_cleanup_age",
        ],
    ),
    (
        17,
        &[
            "db_user_namespace",
            "old_snapshot_threshold",
            "trace_recovery_messages",
        ],
    ),
];

/// Whether `name` is a setting of PostgreSQL `version`. Dotted names (`pg_stat_statements.max`)
/// belong to extensions and are accepted, as PostgreSQL itself accepts them.
pub fn setting_exists(version: PgVersion, name: &str) -> bool {
    if name.contains('.') {
        return true;
    }
    // Setting names are case-insensitive in PostgreSQL (`TimeZone`, `timezone`).
    let name = name.to_ascii_lowercase();
    let name = name.as_str();
    let major = version.major();
    let in_15 = pg15_names().any(|line| line.eq_ignore_ascii_case(name));
    let added = ADDED
        .iter()
        .find(|(_, names)| names.contains(&name))
        .map(|(v, _)| *v);
    let removed = REMOVED
        .iter()
        .find(|(_, names)| names.contains(&name))
        .map(|(v, _)| *v);
    let introduced = match added {
        Some(v) => v,
        None if in_15 => 0,
        None => return removed.is_some_and(|v| major < v),
    };
    major >= introduced && removed.is_none_or(|v| major < v)
}

/// Every setting of PostgreSQL `version` (without extension settings), sorted.
pub fn settings(version: PgVersion) -> Vec<&'static str> {
    let mut names: Vec<&'static str> = pg15_names()
        .chain(ADDED.iter().flat_map(|(_, names)| names.iter().copied()))
        .chain(REMOVED.iter().flat_map(|(_, names)| names.iter().copied()))
        .filter(|name| !name.is_empty() && setting_exists(version, name))
        .collect();
    names.sort_unstable();
    names.dedup();
    names
}

/// The supported major versions that have the setting `name`.
pub fn versions_with_setting(name: &str) -> Vec<u8> {
    PgVersion::SUPPORTED
        .filter(|major| {
            PgVersion::new(i64::from(*major)).is_ok_and(|version| setting_exists(version, name))
        })
        .collect()
}

/// Whether `name` is a setting of any supported PostgreSQL version.
pub fn is_postgres_setting(name: &str) -> bool {
    !name.contains('.') && !versions_with_setting(name).is_empty()
}

/// When a changed setting takes effect: PostgreSQL's `context` column of `pg_settings`, reduced
/// to what a change of postgresql.conf does to a running server.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Context {
    /// `postmaster` (and `internal`): only a restart applies it; after a reload `pg_settings`
    /// shows `pending_restart`.
    Restart,
    /// `sighup`, `superuser`, `user`, and `backend`/`superuser-backend` (those for new sessions):
    /// `pg_reload_conf()` applies it, with no restart.
    Reload,
}

impl Context {
    /// The context of a `pg_settings.context` name.
    pub fn from_pg(context: &str) -> Self {
        match context {
            "sighup" | "superuser" | "user" | "backend" | "superuser-backend" => Self::Reload,
            // postmaster, internal, and any name a future version adds: restarting is never wrong.
            _ => Self::Restart,
        }
    }
}

/// Contexts of settings that are not in the PostgreSQL 15 table (added in 16 and later, or
/// removed before 15), from the `pg_settings` documentation of the version that has them.
const OTHER_CONTEXTS: &[(&str, &str)] = &[
    ("allow_alter_system", "sighup"),
    ("allow_in_place_tablespaces", "superuser"),
    ("autovacuum_vacuum_max_threshold", "sighup"),
    ("autovacuum_worker_slots", "postmaster"),
    ("commit_timestamp_buffers", "postmaster"),
    ("createrole_self_grant", "user"),
    ("data_checksums", "internal"),
    ("debug_discard_caches", "superuser"),
    ("debug_io_direct", "postmaster"),
    ("debug_logical_replication_streaming", "user"),
    ("debug_parallel_query", "user"),
    ("enable_distinct_reordering", "user"),
    ("enable_group_by_reordering", "user"),
    ("enable_presorted_aggregate", "user"),
    ("enable_self_join_elimination", "user"),
    ("event_triggers", "superuser"),
    ("extension_control_path", "superuser"),
    ("file_copy_method", "user"),
    ("force_parallel_mode", "user"),
    ("gss_accept_delegation", "sighup"),
    ("huge_pages_status", "internal"),
    ("icu_validation_level", "user"),
    ("idle_replication_slot_timeout", "sighup"),
    ("in_hot_standby", "internal"),
    ("io_combine_limit", "user"),
    ("io_max_combine_limit", "postmaster"),
    ("io_max_concurrency", "postmaster"),
    ("io_method", "postmaster"),
    ("io_workers", "sighup"),
    ("lc_collate", "internal"),
    ("lc_ctype", "internal"),
    ("log_lock_failures", "superuser"),
    ("max_active_replication_origins", "postmaster"),
    ("max_notify_queue_pages", "postmaster"),
    ("max_parallel_apply_workers_per_subscription", "sighup"),
    ("md5_password_warnings", "user"),
    ("multixact_member_buffers", "postmaster"),
    ("multixact_offset_buffers", "postmaster"),
    ("notify_buffers", "postmaster"),
    ("num_os_semaphores", "internal"),
    ("oauth_validator_libraries", "postmaster"),
    ("operator_precedence_warning", "user"),
    ("remove_temp_files_after_crash", "sighup"),
    ("reserved_connections", "postmaster"),
    ("restrict_nonsystem_relation_kind", "user"),
    ("scram_iterations", "user"),
    ("send_abort_for_crash", "sighup"),
    ("send_abort_for_kill", "sighup"),
    ("serializable_buffers", "postmaster"),
    ("shared_memory_size", "internal"),
    ("shared_memory_size_in_huge_pages", "internal"),
    ("ssl_groups", "sighup"),
    ("ssl_tls13_ciphers", "sighup"),
    ("stats_temp_directory", "sighup"),
    ("subtransaction_buffers", "postmaster"),
    ("summarize_wal", "sighup"),
    ("sync_replication_slots", "sighup"),
    ("synchronized_standby_slots", "sighup"),
    ("trace_connection_negotiation", "postmaster"),
    ("trace_recovery_messages", "sighup"),
    ("track_cost_delay_timing", "superuser"),
    ("transaction_buffers", "postmaster"),
    ("transaction_timeout", "user"),
    ("vacuum_buffer_usage_limit", "user"),
    ("vacuum_cleanup_index_scale_factor", "user"),
    ("vacuum_max_eager_freeze_failure_rate", "user"),
    ("vacuum_truncate", "user"),
    ("wal_summary_keep_time", "sighup"),
];

/// Settings whose context changed in a version (it holds from that version on), per the release
/// notes: PostgreSQL 14 reloads `restore_command`, 18 reloads `autovacuum_max_workers` (up to
/// `autovacuum_worker_slots`).
const CONTEXT_CHANGES: &[(u8, &str, &str, &str)] = &[
    (14, "restore_command", "postmaster", "sighup"),
    (18, "autovacuum_max_workers", "postmaster", "sighup"),
];

/// Every setting the catalogue knows, lower-cased, with its PostgreSQL 15 context (or, for one
/// added later, its context where it was added). Built once: compile asks for every declared
/// setting of every database, and a scan of the text per question dominated a 1,000-database build.
fn contexts() -> &'static std::collections::HashMap<String, &'static str> {
    static CONTEXTS: std::sync::OnceLock<std::collections::HashMap<String, &'static str>> =
        std::sync::OnceLock::new();
    CONTEXTS.get_or_init(|| {
        // OTHER_CONTEXTS first, so that PG15's own line wins where both name a setting.
        OTHER_CONTEXTS
            .iter()
            .map(|(setting, context)| ((*setting).to_owned(), *context))
            .chain(
                PG15_SETTINGS
                    .lines()
                    .filter_map(|line| line.split_once('\t'))
                    .map(|(setting, context)| (setting.to_ascii_lowercase(), context)),
            )
            .collect()
    })
}

/// The `pg_settings.context` of `name` in PostgreSQL `version`, when the catalogue knows it.
pub fn pg_context(version: PgVersion, name: &str) -> Option<&'static str> {
    let name = name.to_ascii_lowercase();
    let major = version.major();
    if let Some((_, _, before, after)) = CONTEXT_CHANGES
        .iter()
        .find(|(_, setting, _, _)| *setting == name)
    {
        let changed = CONTEXT_CHANGES
            .iter()
            .any(|(from, setting, _, _)| *setting == name && major >= *from);
        return Some(if changed { after } else { before });
    }
    contexts().get(name.as_str()).copied()
}

/// When a change of setting `name` takes effect in PostgreSQL `version`. Extension settings
/// (dotted names) and settings the catalogue does not know restart: an extension's setting is
/// often read at library load (`shared_preload_libraries`), and a restart is never wrong.
pub fn setting_context(version: PgVersion, name: &str) -> Context {
    pg_context(version, name).map_or(Context::Restart, Context::from_pg)
}

/// The parameter a postgresql.conf line sets (`name = value`), if it sets one.
pub fn setting_name(line: &str) -> Option<&str> {
    let line = line.trim();
    if line.starts_with('#') {
        return None;
    }
    let (name, _) = line.split_once('=')?;
    let name = name.trim();
    (!name.is_empty() && !name.contains(char::is_whitespace)).then_some(name)
}

/// The extensions in the contrib set of PostgreSQL `version` (as the official images ship it).
pub fn contrib_extensions(version: PgVersion) -> Vec<&'static str> {
    const ALWAYS: &[&str] = &[
        "amcheck",
        "autoinc",
        "bloom",
        "btree_gin",
        "btree_gist",
        "citext",
        "cube",
        "dblink",
        "dict_int",
        "dict_xsyn",
        "earthdistance",
        "file_fdw",
        "fuzzystrmatch",
        "hstore",
        "insert_username",
        "intagg",
        "intarray",
        "isn",
        "lo",
        "ltree",
        "moddatetime",
        "pageinspect",
        "pg_buffercache",
        "pg_freespacemap",
        "pg_prewarm",
        "pg_stat_statements",
        "pg_trgm",
        "pg_visibility",
        "pgcrypto",
        "pgrowlocks",
        "pgstattuple",
        "plpgsql",
        "postgres_fdw",
        "refint",
        "seg",
        "sslinfo",
        "tablefunc",
        "tcn",
        "tsm_system_rows",
        "tsm_system_time",
        "unaccent",
        "uuid-ossp",
        "xml2",
    ];
    let major = version.major();
    let mut names = ALWAYS.to_vec();
    if major < 17 {
        names.push("adminpack");
    }
    if (14..17).contains(&major) {
        names.push("old_snapshot");
    }
    if major >= 14 {
        names.push("pg_surgery");
    }
    if major >= 15 {
        names.push("pg_walinspect");
    }
    if major >= 18 {
        names.push("pg_logicalinspect");
    }
    names.sort_unstable();
    names
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(major: i64) -> PgVersion {
        PgVersion::new(major).unwrap()
    }

    #[test]
    fn versions_differ() {
        assert!(setting_exists(v(15), "shared_buffers"));
        assert!(setting_exists(v(17), "transaction_timeout"));
        assert!(!setting_exists(v(15), "transaction_timeout"));
        assert!(!setting_exists(v(15), "summarize_wal"));
        assert!(setting_exists(v(13), "vacuum_cleanup_index_scale_factor"));
        assert!(!setting_exists(v(15), "stats_temp_directory"));
        assert!(setting_exists(v(14), "stats_temp_directory"));
        assert!(!setting_exists(v(17), "old_snapshot_threshold"));
        assert!(!setting_exists(v(17), "shared_bufers"));
        assert!(setting_exists(v(17), "timezone") && setting_exists(v(17), "TimeZone"));
        assert_eq!(versions_with_setting("transaction_timeout"), [17, 18]);
        assert_eq!(
            versions_with_setting("old_snapshot_threshold"),
            [13, 14, 15, 16]
        );
        assert!(is_postgres_setting("shared_buffers"));
        assert!(!is_postgres_setting("storage"));
        let v17 = settings(v(17));
        assert!(v17.contains(&"transaction_timeout") && !v17.contains(&"old_snapshot_threshold"));
    }

    #[test]
    fn contexts_say_restart_or_reload() {
        assert_eq!(setting_context(v(15), "shared_buffers"), Context::Restart);
        assert_eq!(setting_context(v(17), "shared_buffers"), Context::Restart);
        assert_eq!(
            setting_context(v(17), "log_min_duration_statement"),
            Context::Reload
        );
        assert_eq!(setting_context(v(15), "log_connections"), Context::Reload);
        assert_eq!(setting_context(v(15), "archive_mode"), Context::Restart);
        assert_eq!(setting_context(v(15), "archive_command"), Context::Reload);
        assert_eq!(
            setting_context(v(17), "transaction_timeout"),
            Context::Reload
        );
        assert_eq!(setting_context(v(13), "restore_command"), Context::Restart);
        assert_eq!(setting_context(v(15), "restore_command"), Context::Reload);
        assert_eq!(
            setting_context(v(17), "autovacuum_max_workers"),
            Context::Restart
        );
        assert_eq!(
            setting_context(v(18), "autovacuum_max_workers"),
            Context::Reload
        );
        assert_eq!(
            setting_context(v(15), "pg_stat_statements.max"),
            Context::Restart
        );
        // Every setting of every supported version has a known context.
        for major in PgVersion::SUPPORTED {
            let version = v(i64::from(major));
            for name in settings(version) {
                assert!(pg_context(version, name).is_some(), "{name} in {major}");
            }
        }
    }

    #[test]
    fn contrib_sets() {
        assert!(contrib_extensions(v(17)).contains(&"pgcrypto"));
        assert!(!contrib_extensions(v(17)).contains(&"adminpack"));
        assert!(contrib_extensions(v(16)).contains(&"adminpack"));
    }
}
