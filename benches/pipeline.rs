//! Criterion benchmarks of each stage (parse, validate, compile, render, write) and of the streamed
//! build (`stream-fresh`, what `bakeryc build` runs) on generated platforms of 14, 100 and 1,000
//! databases with three environments, the core platform and the
//! full-feature one (`core-` and `full-` in the names). `scripts/bench` measures whole processes
//! and prints the figures beside their targets; this file asserts nothing about time.

use std::fmt::Write as _;
use std::hint::black_box;

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};

/// A platform of `databases` databases, a cache and three environments with overrides.
pub fn platform_toml(databases: usize) -> String {
    let mut toml = String::from(
        "[platform]\nname = \"bench\"\nnamespace = \"bench\"\n\n[postgres]\nversion = 17\nimage = \"postgres:17.2-alpine\"\n\
         storage = \"2Gi\"\nstorage_class = \"standard\"\nextensions = [\"pgcrypto\"]\n\n[postgres.audit]\nlog_statement = \"ddl\"\n\n",
    );
    for i in 0..databases {
        let _ = writeln!(toml, "[[database]]\nname = \"service-{i:04}\"");
        if i % 10 == 0 {
            let _ = writeln!(toml, "storage = \"10Gi\"");
        }
        toml.push('\n');
    }
    toml.push_str(
        "[cache]\nimage = \"redis:7.4.1-alpine\"\nstorage = \"1Gi\"\n\n[tls.ca]\nkey = \"ecdsa-p256\"\n[tls.server]\nkey = \"ecdsa-p256\"\n\n\
         [environments.dev]\nstorage = \"1Gi\"\n\n[environments.staging]\nstorage_class = \"standard-rwo\"\n\n\
         [environments.prod]\nstorage_class = \"premium-rwo\"\n",
    );
    for i in (0..databases).step_by(7) {
        let _ = writeln!(
            toml,
            "[environments.prod.database.service-{i:04}]\nstorage = \"50Gi\"\n"
        );
    }
    toml
}

/// The core platform plus every wave-2 feature on every database: cert-manager certificates,
/// External Secrets, one owner client per database and a read-only reporter of all databases,
/// client certificates, pgBackRest backups (a volume by default, S3 in prod), Prometheus rules
/// and `[gitops]`. The same platform as `full_toml` in scripts/bench.
pub fn full_toml(databases: usize) -> String {
    let mut toml = platform_toml(databases);
    for i in 0..databases {
        let _ = writeln!(
            toml,
            "\n[[client]]\nname = \"service-{i:04}-app\"\ndatabases = [\"service-{i:04}\"]\ncache = true"
        );
    }
    let names: Vec<String> = (0..databases)
        .map(|i| format!("\"service-{i:04}\""))
        .collect();
    let _ = writeln!(
        toml,
        "\n[[client]]\nname = \"reporter\"\ndatabases = [{}]\naccess = \"read-only\"",
        names.join(", ")
    );
    toml.push_str(
        "\n[tls]\nprovider = \"cert-manager\"\nclient_certificates = true\n\n\
         [monitoring]\nprometheus_rules = true\n\n[secrets]\nprovider = \"external-secrets\"\n\n\
         [gitops]\nrepo_url = \"https://git.example.com/platform/bench.git\"\nrevision = \"main\"\n\n\
         [backup]\nimage = \"ghcr.io/bench/postgres-pgbackrest:17.2-alpine\"\n\n\
         [backup.repository]\ntype = \"volume\"\nstorage = \"5Gi\"\n\n\
         [environments.prod.backup.repository]\ntype = \"s3\"\nbucket = \"bench-backups\"\n\
         endpoint = \"s3.eu-west-1.amazonaws.com\"\nregion = \"eu-west-1\"\nsecret = \"bench-backup-s3\"\n",
    );
    toml
}

fn stages(c: &mut Criterion) {
    let core: fn(usize) -> String = platform_toml;
    let full: fn(usize) -> String = full_toml;
    for (label, make) in [("core", core), ("full", full)] {
        for size in [14, 100, 1000] {
            stage(c, label, size, &make(size));
        }
    }
}

/// Benchmarks every stage of one platform, `label-stage/size` in criterion's names.
fn stage(c: &mut Criterion, label: &str, size: usize, source: &str) {
    let (raw, diagnostics) = bakeryc::parse::parse(source);
    assert!(diagnostics.is_empty());
    let (platform, diagnostics) = bakeryc::validate::validate(&raw);
    assert!(diagnostics.is_empty(), "{diagnostics:?}");
    let platform = platform.unwrap();
    let tree = bakeryc::compile::compile(&platform);
    let files = bakeryc::render::render(tree.clone()).unwrap();
    let mut group = c.benchmark_group(format!("{label}-stage"));
    group.sample_size(if size >= 1000 { 10 } else { 30 });
    group.bench_with_input(BenchmarkId::new("parse", size), source, |b, s| {
        b.iter(|| bakeryc::parse::parse(black_box(s)));
    });
    group.bench_with_input(BenchmarkId::new("validate", size), &raw, |b, r| {
        b.iter(|| bakeryc::validate::validate(black_box(r)));
    });
    group.bench_with_input(BenchmarkId::new("compile", size), &platform, |b, p| {
        b.iter(|| bakeryc::compile::compile(black_box(p)));
    });
    group.bench_with_input(BenchmarkId::new("render", size), &tree, |b, t| {
        b.iter_batched(
            || t.clone(),
            |t| bakeryc::render::render(black_box(t)).unwrap(),
            criterion::BatchSize::LargeInput,
        );
    });
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("generated");
    group.bench_with_input(BenchmarkId::new("write-unchanged", size), &files, |b, f| {
        bakeryc::output::write_tree(&out, f).unwrap();
        b.iter(|| bakeryc::output::write_tree(&out, black_box(f)).unwrap());
    });
    group.bench_with_input(BenchmarkId::new("write-fresh", size), &files, |b, f| {
        b.iter_batched(
            || tempfile::tempdir().unwrap(),
            |fresh| {
                bakeryc::output::write_tree(&fresh.path().join("generated"), black_box(f)).unwrap();
                fresh
            },
            criterion::BatchSize::PerIteration,
        );
    });
    // What `bakeryc build` does: compile, render and write one part at a time.
    group.bench_with_input(BenchmarkId::new("stream-fresh", size), &platform, |b, p| {
        b.iter_batched(
            || tempfile::tempdir().unwrap(),
            |fresh| {
                let stream = bakeryc::stream(black_box(p)).unwrap();
                bakeryc::output::write_tree(&fresh.path().join("generated"), &stream).unwrap();
                fresh
            },
            criterion::BatchSize::PerIteration,
        );
    });
    group.finish();
}

criterion_group!(benches, stages);
criterion_main!(benches);
