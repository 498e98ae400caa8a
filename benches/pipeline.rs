//! Criterion benchmarks of each stage (parse, validate, compile, render, write) on generated
//! platforms of 14, 100 and 1,000 databases with three environments. `scripts/bench` measures
//! whole processes and prints the figures beside their targets.

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

fn stages(c: &mut Criterion) {
    for size in [14, 100, 1000] {
        let source = platform_toml(size);
        let (raw, diagnostics) = bakeryc::parse::parse(&source);
        assert!(diagnostics.is_empty());
        let (platform, diagnostics) = bakeryc::validate::validate(&raw);
        assert!(diagnostics.is_empty(), "{diagnostics:?}");
        let platform = platform.unwrap();
        let tree = bakeryc::compile::compile(&platform);
        let files = bakeryc::render::render(tree.clone()).unwrap();
        let mut group = c.benchmark_group("stage");
        group.sample_size(if size >= 1000 { 10 } else { 30 });
        group.bench_with_input(BenchmarkId::new("parse", size), &source, |b, s| {
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
                    bakeryc::output::write_tree(&fresh.path().join("generated"), black_box(f))
                        .unwrap();
                    fresh
                },
                criterion::BatchSize::PerIteration,
            );
        });
        group.finish();
    }
}

criterion_group!(benches, stages);
criterion_main!(benches);
