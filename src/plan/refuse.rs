//! A plan's refusals as `build` diagnostics, on the bakery.toml line that causes each (the most
//! specific key that sets the refused value: an environment's database override, then the
//! environment, the `[[database]]` or `[cache]`, then `[postgres]`), and what bakery.toml
//! acknowledges: databases declared `retired = true`, and a major upgrade under way
//! (`build --allow-major-upgrade`). Pure: it reads the source text it is given.

use std::collections::{BTreeMap, BTreeSet};
use std::ops::Range;

use toml::Spanned;
use toml::de::{DeTable, DeValue};

use super::{Change, Effect, Plan, Reason, Refusal};
use crate::diagnostic::{Diagnostic, Kind};
use crate::model::WorkloadNames;
use crate::render::Files;

/// What bakery.toml and the command line accept of the refusals.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Acknowledged {
    /// Workloads of databases declared `retired = true`: their removal is deliberate.
    pub retired: BTreeSet<String>,
    /// `--allow-major-upgrade`: the documented upgrade procedure is under way.
    pub major_upgrade: bool,
}

impl Acknowledged {
    /// The retired databases of `source` (a bakery.toml), with `major_upgrade` as given.
    pub fn from_source(source: &str, major_upgrade: bool) -> Self {
        let retired = DeTable::parse(source)
            .ok()
            .map(|root| {
                databases(root.get_ref())
                    .into_iter()
                    .filter(|db| {
                        db.get("retired")
                            .and_then(|v| v.get_ref().as_bool())
                            .unwrap_or(false)
                    })
                    .filter_map(|db| db.get("name").and_then(|v| v.get_ref().as_str()))
                    .map(|name| WorkloadNames::for_database(name).workload)
                    .collect()
            })
            .unwrap_or_default();
        Self {
            retired,
            major_upgrade,
        }
    }

    fn accepts(&self, workload: &str, refusal: &Refusal) -> bool {
        match refusal {
            Refusal::Orphaned { .. } => self.retired.contains(workload),
            Refusal::MajorUpgrade { .. } => self.major_upgrade,
            _ => false,
        }
    }
}

/// `plan` without the refusals `ack` accepts: a retired database's removal shows as removed, an
/// acknowledged major upgrade as a restart.
pub fn acknowledge(mut plan: Plan, ack: &Acknowledged) -> Plan {
    plan.refusals
        .retain(|r| !ack.accepts(&r.workload, &r.refusal));
    for env in &mut plan.environments {
        for change in &mut env.changes {
            let still: BTreeSet<String> = plan
                .refusals
                .iter()
                .filter(|r| r.environment == env.name && r.workload == change.workload)
                .map(|r| r.refusal.to_string())
                .collect();
            for reason in &mut change.reasons {
                if reason.effect == Effect::Refused && !still.contains(&reason.text) {
                    *reason = accepted(&change.workload, reason);
                }
            }
            if change
                .reasons
                .iter()
                .any(|r| r.effect == Effect::Removed && r.text.starts_with("retired"))
            {
                change.reasons.retain(|r| r.text != "removed");
            }
            change.reasons.sort();
            change.effect = change
                .reasons
                .iter()
                .map(|r| r.effect)
                .min()
                .unwrap_or(Effect::NoEffect);
        }
        env.changes.sort_by(|a: &Change, b: &Change| {
            (a.effect, &a.workload).cmp(&(b.effect, &b.workload))
        });
    }
    plan
}

fn accepted(workload: &str, reason: &Reason) -> Reason {
    if reason.text.starts_with("removed") {
        Reason {
            effect: Effect::Removed,
            text: format!(
                "retired (retired = true): {workload} and its volume claim leave the tree; a pruning sync deletes the claim"
            ),
        }
    } else {
        Reason {
            effect: Effect::Restart,
            text: format!(
                "{} (acknowledged: --allow-major-upgrade, docs/upgrade.md)",
                reason.text
            ),
        }
    }
}

/// The diagnostics `build` reports for building `source` (whose tree is `new`) over the deployed
/// tree `old`: every refusal bakery.toml and `allow_major_upgrade` do not acknowledge.
pub fn refusals(
    source: &str,
    old: &Files,
    new: &Files,
    allow_major_upgrade: bool,
) -> Vec<Diagnostic> {
    let ack = Acknowledged::from_source(source, allow_major_upgrade);
    diagnostics(source, &acknowledge(super::plan(old, new), &ack))
}

/// The workloads and environments a refusal happens in.
type Places = (BTreeSet<String>, BTreeSet<String>);

/// One diagnostic per refusal of `plan` and place in `source` (the same refusal of several
/// workloads or environments caused by one line is one diagnostic).
pub fn diagnostics(source: &str, plan: &Plan) -> Vec<Diagnostic> {
    let root = DeTable::parse(source).ok();
    let root = root.as_ref().map(Spanned::get_ref);
    let mut grouped: BTreeMap<(usize, usize, Refusal), Places> = BTreeMap::new();
    for r in &plan.refusals {
        let span = root
            .and_then(|root| locate(root, &r.environment, &r.workload, &r.refusal))
            .unwrap_or(0..0);
        // The claim is the workload's own: the same line refusing it for several workloads is
        // one mistake.
        let mut refusal = r.refusal.clone();
        if let Refusal::Shrink { claim, .. }
        | Refusal::StorageClass { claim, .. }
        | Refusal::Orphaned { claim } = &mut refusal
        {
            claim.clear();
        }
        let (workloads, environments) = grouped.entry((span.start, span.end, refusal)).or_default();
        workloads.insert(r.workload.clone());
        environments.insert(r.environment.clone());
    }
    grouped
        .into_iter()
        .map(|((start, end, refusal), (workloads, environments))| {
            let first = workloads.iter().next().cloned().unwrap_or_default();
            let shown: Vec<&str> = workloads.iter().take(3).map(String::as_str).collect();
            let more = match workloads.len().saturating_sub(3) {
                0 => String::new(),
                n => format!(" and {n} more"),
            };
            let envs: Vec<&str> = environments.iter().map(String::as_str).collect();
            let at = format!("{}{more} in {}", shown.join(", "), envs.join(", "));
            Diagnostic::of(
                start..end,
                &Kind::Refused {
                    at,
                    workload: first,
                    refusal,
                },
            )
        })
        .collect()
}

fn databases<'a, 'i>(root: &'a DeTable<'i>) -> Vec<&'a DeTable<'i>> {
    root.get("database")
        .and_then(|v| v.get_ref().as_array())
        .map(|items| {
            items
                .iter()
                .filter_map(|v| v.get_ref().as_table())
                .collect()
        })
        .unwrap_or_default()
}

fn table<'a, 'i>(table: &'a DeTable<'i>, key: &str) -> Option<&'a DeTable<'i>> {
    table.get(key).and_then(|v| v.get_ref().as_table())
}

fn span_of(table: &DeTable<'_>, key: &str) -> Option<Range<usize>> {
    table.get(key).map(Spanned::<DeValue<'_>>::span)
}

/// Where the value behind a refusal is written.
fn locate(
    root: &DeTable<'_>,
    environment: &str,
    workload: &str,
    refusal: &Refusal,
) -> Option<Range<usize>> {
    let key = match refusal {
        Refusal::AdoptedName {
            section, name, key, ..
        } => return adopt_key(root, section, name, Some(key)),
        Refusal::AdoptionDropped { section, name, .. } => {
            return adopt_key(root, section, name, None);
        }
        Refusal::Replaced { .. } => "claim",
        Refusal::Shrink { .. } => "storage",
        Refusal::StorageClass { .. } => "storage_class",
        Refusal::Downgrade { .. } | Refusal::MajorUpgrade { .. } => "version",
        Refusal::Selector { .. } | Refusal::Orphaned { .. } => {
            // Nothing in bakery.toml names it any more: point at the databases.
            return root
                .get("database")
                .map(Spanned::span)
                .map(|s| s.start..s.start);
        }
    };
    let env = table(root, "environments").and_then(|e| table(e, environment));
    let database = databases(root).into_iter().find(|db| {
        db.get("name")
            .and_then(|v| v.get_ref().as_str())
            .is_some_and(|name| WorkloadNames::for_database(name).workload == workload)
    });
    if let (Refusal::Replaced { .. }, Some(db)) = (refusal, database) {
        return table(db, "adopt")
            .and_then(|a| span_of(a, "claim"))
            .or_else(|| db.get("name").map(Spanned::span));
    }
    if let Some(db) = database {
        let declared = db
            .get("name")
            .and_then(|v| v.get_ref().as_str())
            .unwrap_or_default();
        let candidates = [
            env.and_then(|e| table(e, "database"))
                .and_then(|d| table(d, declared))
                .and_then(|t| span_of(t, key)),
            env.filter(|_| key != "version")
                .and_then(|e| span_of(e, key)),
            span_of(db, key),
            table(root, "postgres").and_then(|p| span_of(p, key)),
        ];
        return candidates
            .into_iter()
            .flatten()
            .next()
            .or_else(|| db.get("name").map(Spanned::span));
    }
    let cache = table(root, "cache")?;
    [
        env.and_then(|e| table(e, "cache"))
            .and_then(|c| span_of(c, key)),
        span_of(cache, key),
    ]
    .into_iter()
    .flatten()
    .next()
    .or_else(|| cache.get("name").map(Spanned::span))
}

/// The adopt table of `[[database]]` (or `[cache]`) `name`: the span of `key` in it, else the
/// table itself, else the workload's name (a dropped adopt table).
fn adopt_key(
    root: &DeTable<'_>,
    section: &str,
    name: &str,
    key: Option<&str>,
) -> Option<Range<usize>> {
    let owner = if section == "cache" {
        table(root, "cache")
    } else {
        databases(root)
            .into_iter()
            .find(|db| db.get("name").and_then(|v| v.get_ref().as_str()) == Some(name))
    }?;
    let adopt = owner.get("adopt");
    adopt
        .and_then(|a| a.get_ref().as_table())
        .zip(key)
        .and_then(|(a, key)| span_of(a, key))
        .or_else(|| adopt.map(Spanned::span))
        .or_else(|| owner.get("name").map(Spanned::span))
}
