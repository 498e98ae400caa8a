//! What applying a new generated tree over an old one does to the running tier, per environment
//! and per workload: restart (the pod template changes), reload (only files the pod mounts
//! change, which its reloader applies in place), volume grows, new and removed workloads, changes
//! with no effect on running pods, and the changes Kubernetes or PostgreSQL would refuse (a
//! smaller or re-classed volume claim, a changed selector, a major version downgrade or an
//! unacknowledged upgrade, a removed workload's orphaned volume). It classifies by object kind
//! and file content, never by a list of today's objects, so objects other branches add are
//! covered. Pure: both trees come in as values; reading them is output's job, printing cli's.

mod adopt;
pub mod refuse;
mod tree;

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use rayon::prelude::*;
use serde::Serialize;
use serde_json::Value;

use crate::config::catalogue::setting_name;
use crate::config::catalogue::{self, Context};
use crate::model::PgVersion;
use crate::render::Files;
pub use tree::{BASE, Objects, Tree, environments};

/// What a change does to a running workload, most serious first.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Effect {
    /// Kubernetes or PostgreSQL would refuse it; `build` fails with a diagnostic.
    Refused,
    /// The pod template changes: the pod is replaced and its connections drop.
    Restart,
    /// Files the pod mounts change; its reloader applies them in place, connections stay.
    Reload,
    /// A volume claim grows (online, when its StorageClass allows volume expansion).
    VolumeGrows,
    /// The workload is created.
    New,
    /// The workload is deleted.
    Removed,
    /// Labels, Services, policies, alerts, new objects: running pods are not touched.
    NoEffect,
}

impl Effect {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Refused => "refused",
            Self::Restart => "restart",
            Self::Reload => "reload",
            Self::VolumeGrows => "volume grows",
            Self::New => "new",
            Self::Removed => "removed",
            Self::NoEffect => "no restart",
        }
    }
}

impl fmt::Display for Effect {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One reason for a workload's effect.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct Reason {
    pub effect: Effect,
    pub text: String,
}

/// What happens to one workload (or, for an object no workload owns, to that object).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Change {
    pub workload: String,
    /// The most serious effect of its reasons.
    pub effect: Effect,
    pub reasons: Vec<Reason>,
}

/// What happens in one environment.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Environment {
    pub name: String,
    /// Changed workloads, most serious effect first, then by name.
    pub changes: Vec<Change>,
    /// How many workloads nothing happens to.
    pub unchanged: usize,
}

/// A change that the cluster or the server would refuse.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(tag = "refusal", rename_all = "kebab-case")]
pub enum Refusal {
    /// Kubernetes refuses to make a PersistentVolumeClaim smaller.
    Shrink {
        claim: String,
        from: String,
        to: String,
    },
    /// `storageClassName` of a bound claim is immutable.
    StorageClass {
        claim: String,
        from: String,
        to: String,
    },
    /// A Deployment's (or StatefulSet's) selector is immutable.
    Selector { workload: String },
    /// PostgreSQL refuses to start on a data directory of a later major version.
    Downgrade { from: u8, to: u8 },
    /// A new major version cannot start on the old data directory without pg_upgrade or a
    /// dump and restore (docs/upgrade.md).
    MajorUpgrade { from: u8, to: u8 },
    /// The workload is gone but its volume claim would be left behind.
    Orphaned { claim: String },
    /// The workload stays but adopts another claim: the claim bakeryc made (the data it ran
    /// on) leaves the tree, and a pruning sync deletes it.
    Replaced { claim: String, by: String },
    /// A name the deployed tree adopted (`[database.adopt]`, `[cache.adopt]`: claim, data
    /// directory, database, role, workload, Service) would change.
    AdoptedName {
        section: String,
        name: String,
        key: String,
        from: String,
        to: String,
    },
    /// The deployed tree adopted a claim; the new one drops adoption and mounts a claim bakeryc
    /// creates, empty.
    AdoptionDropped {
        section: String,
        name: String,
        claim: String,
        to: String,
    },
}

/// A refusal where it happens.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct Refused {
    pub environment: String,
    pub workload: String,
    #[serde(flatten)]
    pub refusal: Refusal,
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Shrink { from, to, .. } => write!(
                f,
                "the volume claim would shrink from {from} to {to}; Kubernetes refuses to shrink a claim"
            ),
            Self::StorageClass { from, to, .. } => write!(
                f,
                "the volume claim would move from storage class {from} to {to}; a claim's storage class is immutable"
            ),
            Self::Selector { workload } => write!(
                f,
                "the selector of {workload} would change; Kubernetes refuses (it is immutable)"
            ),
            Self::Downgrade { from, to } => write!(
                f,
                "PostgreSQL {to} would start on a data directory of PostgreSQL {from}; it refuses to"
            ),
            Self::MajorUpgrade { from, to } => write!(
                f,
                "PostgreSQL {to} cannot start on a data directory of PostgreSQL {from} without pg_upgrade or a dump and restore"
            ),
            Self::Orphaned { .. } => write!(
                f,
                "removed, and its volume claim (the data) would be orphaned"
            ),
            Self::Replaced { claim, by } => write!(
                f,
                "its volume claim {claim} (the data it runs on) would leave the tree for the adopted claim {by}; a pruning sync deletes it"
            ),
            Self::AdoptedName {
                section,
                name,
                key,
                from,
                to,
            } => write!(
                f,
                "the adopted {key} of {section} {name} would change from {from} to {to}; the data and the clients are on {from}"
            ),
            Self::AdoptionDropped {
                section,
                name,
                claim,
                to,
            } => write!(
                f,
                "{section} {name} would stop adopting claim {claim} and start on {to}, a claim bakeryc creates empty"
            ),
        }
    }
}

/// Everything a new tree does over an old one.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Plan {
    pub environments: Vec<Environment>,
    /// Every refusal of every environment, sorted.
    pub refusals: Vec<Refused>,
}

impl Plan {
    /// Whether nothing changes anywhere.
    pub fn is_empty(&self) -> bool {
        self.environments.iter().all(|e| e.changes.is_empty())
    }
}

/// The plan when the tree on disk is already the one a build would write: nothing changes, and
/// each environment's workloads (by name, as a build counts them) are unchanged. What [`plan`]
/// says of two identical trees, without reading either.
pub fn unchanged(workloads: &crate::compile::Workloads) -> Plan {
    // A tree without overlays is planned as its base alone, as [`plan`] does.
    let base = BTreeMap::from([(BASE.to_owned(), workloads.base)]);
    let environments = if workloads.environments.is_empty() {
        &base
    } else {
        &workloads.environments
    };
    Plan {
        environments: environments
            .iter()
            .map(|(name, count)| Environment {
                name: name.clone(),
                changes: Vec::new(),
                unchanged: *count,
            })
            .collect(),
        refusals: Vec::new(),
    }
}

/// Compares the tree `new` would write with the tree `old` on disk (or at a git revision). Both
/// trees are walked one base file at a time, so memory stays that of one file's objects per
/// environment whatever the number of databases.
pub fn plan(old: &Files, new: &Files) -> Plan {
    let (a, b) = (Tree::new(old), Tree::new(new));
    let (a_envs, b_envs) = (a.environments(), b.environments());
    let mut accs: BTreeMap<String, Accumulator> = a_envs
        .union(&b_envs)
        .map(|env| {
            let same_overlay = a_envs.contains(env)
                && b_envs.contains(env)
                && a.overlay_text(env) == b.overlay_text(env);
            (
                env.clone(),
                Accumulator {
                    removed: !b_envs.contains(env),
                    same_overlay,
                    ..Accumulator::default()
                },
            )
        })
        .collect();
    let paths: Vec<&String> = a
        .base_files()
        .iter()
        .chain(b.base_files())
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    let same_overlay: Vec<bool> = accs.values().map(|acc| acc.same_overlay).collect();
    // Parsing and applying overlays is most of the work and needs nothing of the accumulators:
    // a few files at a time on every core, then added in the files' order.
    for chunk in paths.chunks(PARALLEL_FILES) {
        let prepared: Vec<Vec<Prepared>> = chunk
            .par_iter()
            .map(|path| {
                let same_file = a.text(path) == b.text(path);
                let fa = a.file(path);
                // The same text parses to the same objects: parse it once.
                let parsed;
                let fb: &[Value] = if same_file {
                    &fa
                } else {
                    parsed = b.file(path);
                    &parsed
                };
                accs.keys()
                    .zip(&same_overlay)
                    .map(|(env, same_overlay)| {
                        if same_file && *same_overlay {
                            // Nothing of this file changes here: only count its workloads.
                            Prepared::Workloads(
                                fa.iter()
                                    .filter(|o| template(o).is_some())
                                    .map(owner)
                                    .collect(),
                            )
                        } else {
                            Prepared::Objects(a.apply(env, &fa), b.apply(env, fb))
                        }
                    })
                    .collect()
            })
            .collect();
        for per_env in prepared {
            for (acc, prepared) in accs.values_mut().zip(per_env) {
                match prepared {
                    Prepared::Workloads(workloads) => acc.workloads.extend(workloads),
                    Prepared::Objects(old, new) => acc.add(&old, &new),
                }
            }
        }
    }
    let (adoption, moved) = adopt::refusals(&a, &b);
    for (env, acc) in &mut accs {
        if acc.removed || !b_envs.contains(env) {
            continue;
        }
        for (workload, r) in &adoption {
            acc.reasons
                .entry(workload.clone())
                .or_default()
                .push(refusal(r.clone()));
        }
        // An adoption moved to another Deployment name leaves its claim to that one: the old
        // Deployment's removal orphans nothing (the rename itself is refused above).
        for workload in &moved {
            if let Some(found) = acc.reasons.get_mut(workload) {
                found.retain(|f| !matches!(f.refusal, Some(Refusal::Orphaned { .. })));
            }
        }
    }
    let mut environments = Vec::new();
    let mut refusals = Vec::new();
    for (env, mut acc) in accs {
        acc.add(&a.overlay_objects(&env), &b.overlay_objects(&env));
        let (environment, refused) = acc.finish(&env);
        environments.push(environment);
        refusals.extend(refused);
    }
    refusals.sort();
    refusals.dedup();
    Plan {
        environments,
        refusals,
    }
}

/// How many base files are parsed at once, one per core at a time: enough to keep every core
/// busy, few enough that their objects stay small beside a whole tree's.
const PARALLEL_FILES: usize = 32;

/// One base file in one environment, made ready to add to the environment's accumulator.
enum Prepared {
    /// The file changes nothing here: the workloads it holds.
    Workloads(Vec<String>),
    /// The file's objects as the old and the new tree apply them.
    Objects(Objects, Objects),
}

/// A changed object and its two versions (`None` where absent).
type Loose = ((String, String), Option<Value>, Option<Value>);

/// One environment's findings, gathered file by file.
#[derive(Debug, Default)]
struct Accumulator {
    /// The environment is gone from the new tree.
    removed: bool,
    /// Its overlay is the same in both trees (so an unchanged base file changes nothing).
    same_overlay: bool,
    /// Findings by workload.
    reasons: BTreeMap<String, Vec<Found>>,
    /// Every workload seen, changed or not.
    workloads: BTreeSet<String>,
    /// Changed objects that no workload of their file owns (certificates, alert rules), kept
    /// until every workload is known: they may belong to one declared in another file.
    loose: Vec<Loose>,
}

impl Accumulator {
    /// The objects of one part of the environment (a base file, or the overlay's own).
    fn add(&mut self, old: &Objects, new: &Objects) {
        let workloads: BTreeSet<String> = old
            .values()
            .chain(new.values())
            .filter(|o| template(o).is_some())
            .map(owner)
            .collect();
        let mut groups: BTreeMap<String, BTreeSet<(String, String)>> = BTreeMap::new();
        for (key, object) in old.iter().chain(new.iter()) {
            let group = owner(object);
            if workloads.contains(&group) {
                groups.entry(group).or_default().insert(key.clone());
            } else if old.get(key) != new.get(key) && !self.loose.iter().any(|(k, ..)| k == key) {
                self.loose
                    .push((key.clone(), old.get(key).cloned(), new.get(key).cloned()));
            }
        }
        for (group, keys) in &groups {
            let found = workload(group, keys, old, new, self.removed);
            self.reasons.entry(group.clone()).or_default().extend(found);
        }
        self.workloads.extend(workloads);
    }

    fn finish(mut self, name: &str) -> (Environment, Vec<Refused>) {
        for (key, a, b) in std::mem::take(&mut self.loose) {
            let owner = a.as_ref().or(b.as_ref()).map(owner).unwrap_or_default();
            if self.workloads.contains(&owner) {
                let reasons = self.reasons.entry(owner).or_default();
                // A new or removed workload says so; its objects' details add nothing.
                if reasons
                    .iter()
                    .all(|f| !matches!(f.reason.effect, Effect::New | Effect::Removed))
                {
                    reasons.push(match (&a, &b) {
                        (None, _) => found(Effect::NoEffect, format!("new {}", label(&key))),
                        (_, None) => found(Effect::NoEffect, format!("{} removed", label(&key))),
                        (Some(a), Some(b)) => certificate_change(&key, a, b)
                            .unwrap_or_else(|| other_change(&key, a, b)),
                    });
                }
            } else {
                let group = format!("{}/{}", key.0, key.1);
                let f = match (&a, &b) {
                    (None, _) => found(Effect::New, format!("new {}", label(&key))),
                    (_, None) => found(Effect::Removed, format!("{} removed", label(&key))),
                    (Some(_), Some(_)) => {
                        found(Effect::NoEffect, format!("{} changed", label(&key)))
                    }
                };
                self.reasons.entry(group).or_default().push(f);
            }
        }
        let mut changes = Vec::new();
        let mut refused = Vec::new();
        for (group, mut reasons) in self.reasons {
            merge_labels(&mut reasons);
            reasons.sort();
            reasons.dedup();
            for reason in &mut reasons {
                if let Some(refusal) = reason.refusal.take() {
                    refused.push(Refused {
                        environment: name.to_owned(),
                        workload: group.clone(),
                        refusal,
                    });
                }
            }
            let reasons: Vec<Reason> = reasons.into_iter().map(|r| r.reason).collect();
            if let Some(effect) = reasons.iter().map(|r| r.effect).min() {
                changes.push(Change {
                    workload: group,
                    effect,
                    reasons,
                });
            }
        }
        let unchanged = self
            .workloads
            .iter()
            .filter(|w| !changes.iter().any(|c| &c.workload == *w))
            .count();
        changes.sort_by(|a, b| (a.effect, &a.workload).cmp(&(b.effect, &b.workload)));
        (
            Environment {
                name: name.to_owned(),
                changes,
                unchanged,
            },
            refused,
        )
    }
}

/// One line for the labels of all a workload's objects (a relabelling touches every one).
fn merge_labels(found: &mut Vec<Found>) {
    let kinds: BTreeSet<String> = found
        .iter()
        .filter_map(|f| f.reason.text.strip_prefix(LABELS_OF))
        .map(str::to_owned)
        .collect();
    if !kinds.is_empty() {
        found.retain(|f| !f.reason.text.starts_with(LABELS_OF));
        let kinds: Vec<String> = kinds.into_iter().collect();
        found.push(self::found(
            Effect::NoEffect,
            format!("labels or annotations of its {}", kinds.join(", ")),
        ));
    }
}

/// The pod template of a pod-bearing object, whatever its kind.
fn template(object: &Value) -> Option<&Value> {
    let spec = &object["spec"];
    [&spec["template"], &spec["jobTemplate"]["spec"]["template"]]
        .into_iter()
        .find(|t| t.is_object())
}

/// Whether pods run continuously (a restart drops connections) rather than as scheduled tasks.
fn is_server(object: &Value) -> bool {
    object["spec"]["template"].is_object() && object["kind"] != "Job"
}

/// Which workload an object belongs to: its `app.kubernetes.io/instance` label, else its name.
fn owner(object: &Value) -> String {
    object["metadata"]["labels"]["app.kubernetes.io/instance"]
        .as_str()
        .or_else(|| object["metadata"]["name"].as_str())
        .unwrap_or_default()
        .to_owned()
}

/// A reason, with the refusal behind it when it is one.
#[derive(Debug, PartialEq, Eq, PartialOrd, Ord)]
struct Found {
    reason: Reason,
    refusal: Option<Refusal>,
}

fn found(effect: Effect, text: impl Into<String>) -> Found {
    Found {
        reason: Reason {
            effect,
            text: text.into(),
        },
        refusal: None,
    }
}

fn refusal(refusal: Refusal) -> Found {
    Found {
        reason: Reason {
            effect: Effect::Refused,
            text: refusal.to_string(),
        },
        refusal: Some(refusal),
    }
}

fn label(key: &(String, String)) -> String {
    format!("{} {}", key.0, key.1)
}

/// The names of the ConfigMaps and Secrets a pod template mounts.
fn mounted(template: &Value) -> BTreeSet<(String, String)> {
    template["spec"]["volumes"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|volume| {
            let config = volume["configMap"]["name"]
                .as_str()
                .map(|n| ("ConfigMap".to_owned(), n.to_owned()));
            let secret = volume["secret"]["secretName"]
                .as_str()
                .map(|n| ("Secret".to_owned(), n.to_owned()));
            config.or(secret)
        })
        .collect()
}

/// The volume claims a pod template mounts.
fn claims(template: &Value) -> BTreeSet<(String, String)> {
    template["spec"]["volumes"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|volume| volume["persistentVolumeClaim"]["claimName"].as_str())
        .map(|name| ("PersistentVolumeClaim".to_owned(), name.to_owned()))
        .collect()
}

/// Whether a kind runs pods that serve continuously (rather than scheduled tasks).
fn is_server_kind(kind: &str) -> bool {
    matches!(
        kind,
        "Deployment" | "StatefulSet" | "DaemonSet" | "ReplicaSet"
    )
}

/// One workload: its pod-bearing objects (the server, and any task such as a backup CronJob
/// labelled with the same instance), the files and claims they mount, and its other objects.
fn workload(
    name: &str,
    keys: &BTreeSet<(String, String)>,
    old: &Objects,
    new: &Objects,
    env_removed: bool,
) -> Vec<Found> {
    let bearers: Vec<&(String, String)> = keys
        .iter()
        .filter(|k| {
            old.get(*k)
                .or_else(|| new.get(*k))
                .and_then(template)
                .is_some()
        })
        .collect();
    let in_old = bearers.iter().any(|k| old.contains_key(*k));
    let in_new = bearers.iter().any(|k| new.contains_key(*k));
    let mut found = Vec::new();
    let templates = |objects: &Objects| -> Vec<Value> {
        bearers
            .iter()
            .filter_map(|k| objects.get(*k).and_then(template).cloned())
            .collect()
    };
    match (in_old, in_new) {
        (false, false) => return found,
        (false, true) => {
            let kinds: BTreeSet<&str> = bearers
                .iter()
                .filter(|k| new.contains_key(*k))
                .map(|k| k.0.as_str())
                .collect();
            let kinds: Vec<&str> = kinds.into_iter().collect();
            found.push(self::found(
                Effect::New,
                format!("new {}", kinds.join(", ")),
            ));
            found.extend(adopts(Effect::New, &templates(new), None, new));
            return found;
        }
        (true, false) => {
            if env_removed {
                // The whole environment goes: one decision, written in bakery.toml as such.
                found.push(self::found(Effect::Removed, "removed with its environment"));
                return found;
            }
            found.push(self::found(Effect::Removed, "removed"));
            let claims: BTreeSet<_> = templates(old).iter().flat_map(claims).collect();
            for claim in claims {
                if !new.contains_key(&claim) {
                    found.push(refusal(Refusal::Orphaned { claim: claim.1 }));
                }
            }
            return found;
        }
        (true, true) => {}
    }
    let mut shared = BTreeSet::new();
    let mut claimed = BTreeSet::new();
    for t in templates(old).iter().chain(&templates(new)) {
        shared.extend(mounted(t));
        claimed.extend(claims(t));
    }
    for key in &bearers {
        // The server named after the workload speaks for it; any other pod-bearing object of
        // the workload (a task) says which one it is.
        let primary = is_server_kind(&key.0) && key.1 == name;
        let prefix = if primary {
            String::new()
        } else {
            format!("{}: ", label(key))
        };
        match (old.get(*key), new.get(*key)) {
            (Some(before), Some(after)) => {
                let mut more = pod_bearer(name, before, after, old, new);
                for f in &mut more {
                    f.reason.text.insert_str(0, &prefix);
                }
                found.extend(more);
            }
            (None, Some(_)) => {
                found.push(self::found(Effect::NoEffect, format!("new {}", label(key))));
            }
            (Some(_), None) => found.push(self::found(
                Effect::NoEffect,
                format!("{} removed", label(key)),
            )),
            (None, None) => {}
        }
    }
    for key in &claimed {
        found.extend(volume(key, old.get(key), new.get(key)));
    }
    let before: BTreeSet<_> = templates(old).iter().flat_map(claims).collect();
    let adopted = adopts(Effect::Restart, &templates(new), Some(&before), new);
    for key in &claimed {
        if old.contains_key(key) && !new.contains_key(key) {
            // The claim bakeryc made is dropped for an adopted one: its data leaves with it.
            let by = templates(new)
                .iter()
                .flat_map(claims)
                .find(|c| !new.contains_key(c))
                .map(|c| c.1)
                .unwrap_or_default();
            found.push(refusal(Refusal::Replaced {
                claim: key.1.clone(),
                by,
            }));
        }
    }
    found.extend(adopted);
    for key in keys {
        if shared.contains(key) || claimed.contains(key) || bearers.contains(&key) {
            continue;
        }
        match (old.get(key), new.get(key)) {
            (None, Some(_)) => {
                found.push(self::found(Effect::NoEffect, format!("new {}", label(key))));
            }
            (Some(_), None) => found.push(self::found(
                Effect::NoEffect,
                format!("{} removed", label(key)),
            )),
            (Some(a), Some(b)) if a != b => {
                found
                    .push(certificate_change(key, a, b).unwrap_or_else(|| other_change(key, a, b)));
            }
            _ => {}
        }
    }
    found
}

/// "adopts claim X": the claims `templates` mount that `objects` does not define (adopted: no
/// volume is created), other than those already mounted `before` (`effect`: the workload is
/// new, or restarts on the adopted claim).
fn adopts(
    effect: Effect,
    templates: &[Value],
    before: Option<&BTreeSet<(String, String)>>,
    objects: &Objects,
) -> Vec<Found> {
    let mounted: BTreeSet<_> = templates.iter().flat_map(claims).collect();
    mounted
        .into_iter()
        .filter(|c| !objects.contains_key(c) && before.is_none_or(|b| !b.contains(c)))
        .map(|c| found(effect, format!("adopts claim {} (no volume created)", c.1)))
        .collect()
}

/// What changes for one pod-bearing object present in both trees: its selector, its pod
/// template, the PostgreSQL major version it runs, the ConfigMaps it mounts, its own metadata.
fn pod_bearer(
    name: &str,
    before: &Value,
    after: &Value,
    old: &Objects,
    new: &Objects,
) -> Vec<Found> {
    let mut found = Vec::new();
    let (t_old, t_new) = (
        template(before).unwrap_or(&Value::Null),
        template(after).unwrap_or(&Value::Null),
    );
    let restarts = is_server(after);
    let template_changed = t_old != t_new;
    if before["spec"]["selector"] != after["spec"]["selector"] {
        found.push(refusal(Refusal::Selector {
            workload: name.to_owned(),
        }));
    }
    if template_changed {
        let effect = if restarts {
            Effect::Restart
        } else {
            Effect::NoEffect
        };
        let suffix = if restarts { "" } else { " (from its next run)" };
        for text in template_differences(t_old, t_new) {
            found.push(self::found(effect, format!("{text}{suffix}")));
        }
    }
    let versions = (major_version(t_old, old), major_version(t_new, new));
    if let (Some(from), Some(to)) = versions {
        if to < from {
            found.push(refusal(Refusal::Downgrade { from, to }));
        } else if to > from {
            found.push(refusal(Refusal::MajorUpgrade { from, to }));
        }
    }
    // Files the pod mounts: a setting's own context says restart or reload; other files reload
    // unless the template changed with them (a file only read at start is in the config digest).
    for key in mounted(t_old).union(&mounted(t_new)) {
        let (Some(a), Some(b)) = (old.get(key), new.get(key)) else {
            continue;
        };
        if a == b {
            continue;
        }
        let version = versions
            .1
            .and_then(|major| PgVersion::new(i64::from(major)).ok());
        for (file, text) in file_changes(&a["data"], &b["data"], version) {
            let effect = match text.1 {
                Some(Context::Restart) if restarts => Effect::Restart,
                Some(Context::Reload) if restarts => Effect::Reload,
                _ if !restarts => Effect::NoEffect,
                _ if template_changed => Effect::Restart,
                _ => Effect::Reload,
            };
            found.push(self::found(effect, format!("{file}: {}", text.0)));
        }
        if a["data"] == b["data"] {
            found.push(other_change(key, a, b));
        }
    }
    // The template and selector are judged above; what is left is its own metadata and spec.
    let rest = |v: &Value| {
        let mut v = v.clone();
        if let Some(spec) = v["spec"].as_object_mut() {
            spec.remove("template");
            spec.remove("jobTemplate");
            spec.remove("selector");
        }
        v
    };
    let (a, b) = (rest(before), rest(after));
    if a != b {
        let key = (
            after["kind"].as_str().unwrap_or_default().to_owned(),
            after["metadata"]["name"]
                .as_str()
                .unwrap_or_default()
                .to_owned(),
        );
        found.push(other_change(&key, &a, &b));
    }
    found
}

/// What differs between two pod templates, in words.
fn template_differences(old: &Value, new: &Value) -> Vec<String> {
    let mut texts = Vec::new();
    if old["metadata"]["annotations"]["bakeryc.dev/config-digest"]
        != new["metadata"]["annotations"]["bakeryc.dev/config-digest"]
    {
        texts.push(
            "config digest (settings that need a restart, or files read only at start)".to_owned(),
        );
    }
    let mut old_meta = old["metadata"].clone();
    let mut new_meta = new["metadata"].clone();
    for meta in [&mut old_meta, &mut new_meta] {
        if let Some(annotations) = meta["annotations"].as_object_mut() {
            annotations.remove("bakeryc.dev/config-digest");
        }
    }
    if old_meta != new_meta {
        texts.push("pod labels or annotations".to_owned());
    }
    // Image changes by (from, to): one line for the server and its helpers on the same image.
    let mut images: BTreeMap<(String, String), Vec<String>> = BTreeMap::new();
    for list in ["initContainers", "containers"] {
        let by_name = |t: &Value| -> BTreeMap<String, Value> {
            t["spec"][list]
                .as_array()
                .into_iter()
                .flatten()
                .map(|c| (c["name"].as_str().unwrap_or_default().to_owned(), c.clone()))
                .collect()
        };
        let (a, b) = (by_name(old), by_name(new));
        for name in a.keys().chain(b.keys()).collect::<BTreeSet<_>>() {
            match (a.get(name), b.get(name)) {
                (Some(x), Some(y)) if x != y => {
                    if x["image"] != y["image"] {
                        let image = |v: &Value| v["image"].as_str().unwrap_or("?").to_owned();
                        images
                            .entry((image(x), image(y)))
                            .or_default()
                            .push(name.clone());
                    }
                    if x["resources"] != y["resources"] {
                        texts.push(format!("resources of {name}"));
                    }
                    let mut x = x.clone();
                    let mut y = y.clone();
                    for c in [&mut x, &mut y] {
                        if let Some(c) = c.as_object_mut() {
                            c.remove("image");
                            c.remove("resources");
                        }
                    }
                    if x != y {
                        texts.push(format!("container {name}"));
                    }
                }
                (None, Some(_)) => texts.push(format!("new container {name}")),
                (Some(_), None) => texts.push(format!("container {name} removed")),
                _ => {}
            }
        }
    }
    for ((from, to), mut names) in images {
        names.sort();
        texts.push(format!("image {from} → {to} ({})", names.join(", ")));
    }
    let mut old_spec = old["spec"].clone();
    let mut new_spec = new["spec"].clone();
    for spec in [&mut old_spec, &mut new_spec] {
        if let Some(spec) = spec.as_object_mut() {
            spec.remove("initContainers");
            spec.remove("containers");
        }
    }
    if old_spec != new_spec {
        texts.push("pod spec (volumes, security, scheduling)".to_owned());
    }
    texts
}

/// The PostgreSQL major version a pod runs, from the header bakeryc writes into the
/// postgresql.conf it mounts (`(PostgreSQL 17)`); `None` for other pods.
fn major_version(template: &Value, objects: &Objects) -> Option<u8> {
    mounted(template)
        .iter()
        .filter_map(|key| objects.get(key))
        .filter_map(|o| o["data"]["postgresql.conf"].as_str())
        .find_map(|conf| {
            let start = conf.find("(PostgreSQL ")? + "(PostgreSQL ".len();
            let digits: String = conf[start..]
                .chars()
                .take_while(char::is_ascii_digit)
                .collect();
            digits.parse().ok()
        })
}

/// The settings of a postgresql.conf, by name (the last assignment wins, as in PostgreSQL).
fn settings(conf: &str) -> BTreeMap<String, String> {
    conf.lines()
        .filter_map(|line| {
            let name = setting_name(line)?;
            let value = line.split_once('=')?.1.trim();
            Some((name.to_ascii_lowercase(), value.to_owned()))
        })
        .collect()
}

type FileChange = (String, (String, Option<Context>));

/// The settings that differ between two of Redis's runtime settings files (`name value` lines,
/// which its reloader applies with `CONFIG SET`), in words.
fn redis_setting_changes(old: &str, new: &str) -> Vec<String> {
    let parse = |text: &str| -> BTreeMap<String, String> {
        text.lines()
            .filter_map(|line| line.split_once(' '))
            .map(|(name, value)| (name.to_owned(), value.trim_matches('"').to_owned()))
            .collect()
    };
    let (a, b) = (parse(old), parse(new));
    let names: BTreeSet<&String> = a.keys().chain(b.keys()).collect();
    let show = |v: Option<&String>| v.map_or("(default)", String::as_str).to_owned();
    names
        .into_iter()
        .filter(|name| a.get(*name) != b.get(*name))
        .map(|name| {
            format!(
                "{name} '{}' → '{}' (applied with CONFIG SET)",
                show(a.get(name)),
                show(b.get(name))
            )
        })
        .collect()
}

/// The changes between two ConfigMap `data` maps: one per setting for a postgresql.conf (with its
/// context in `version`) and for Redis's runtime settings file (all applied with `CONFIG SET`),
/// one per other file.
fn file_changes(old: &Value, new: &Value, version: Option<PgVersion>) -> Vec<FileChange> {
    let text = |data: &Value, key: &str| data[key].as_str().map(str::to_owned);
    let keys: BTreeSet<String> = [old, new]
        .iter()
        .filter_map(|d| d.as_object())
        .flat_map(|m| m.keys().cloned())
        .collect();
    let mut changes = Vec::new();
    for key in keys {
        let (a, b) = (text(old, &key), text(new, &key));
        if a == b {
            continue;
        }
        if let (Some(a), Some(b), Some(version), "postgresql.conf") =
            (&a, &b, version, key.as_str())
        {
            let (a, b) = (settings(a), settings(b));
            let names: BTreeSet<&String> = a.keys().chain(b.keys()).collect();
            for name in names {
                let (x, y) = (a.get(name), b.get(name));
                if x == y {
                    continue;
                }
                let context = catalogue::setting_context(version, name);
                let level = match context {
                    Context::Restart => "needs a restart",
                    Context::Reload => "applied on reload",
                };
                let show = |v: Option<&String>| v.map_or("(default)", String::as_str).to_owned();
                changes.push((
                    key.clone(),
                    (
                        format!("{name} {} → {} ({level})", show(x), show(y)),
                        Some(context),
                    ),
                ));
            }
            continue;
        }
        if let (Some(a), Some(b), true) = (&a, &b, key == crate::compile::REDIS_CONFIG_KEY) {
            changes.extend(
                redis_setting_changes(a, b)
                    .into_iter()
                    .map(|text| (key.clone(), (text, Some(Context::Reload)))),
            );
            continue;
        }
        let what = match (&a, &b) {
            (None, _) => "added",
            (_, None) => "removed",
            _ => "changed",
        };
        changes.push((key.clone(), (what.to_owned(), None)));
    }
    changes
}

/// What a volume claim's change does: grows, is refused, or nothing.
fn volume(key: &(String, String), old: Option<&Value>, new: Option<&Value>) -> Vec<Found> {
    let (Some(old), Some(new)) = (old, new) else {
        return match new {
            Some(_) if old.is_none() => {
                vec![found(Effect::NoEffect, format!("new {}", label(key)))]
            }
            _ => Vec::new(),
        };
    };
    let mut found = Vec::new();
    let size = |v: &Value| {
        v["spec"]["resources"]["requests"]["storage"]
            .as_str()
            .unwrap_or_default()
            .to_owned()
    };
    let (from, to) = (size(old), size(new));
    match (quantity(&from), quantity(&to)) {
        (Some(a), Some(b)) if b < a => found.push(refusal(Refusal::Shrink {
            claim: key.1.clone(),
            from,
            to,
        })),
        (Some(a), Some(b)) if b > a => found.push(self::found(
            Effect::VolumeGrows,
            format!(
                "{} grows {from} → {to} (its StorageClass must have allowVolumeExpansion: true)",
                key.1
            ),
        )),
        _ => {}
    }
    let class = |v: &Value| {
        v["spec"]["storageClassName"]
            .as_str()
            .unwrap_or("(cluster default)")
            .to_owned()
    };
    if class(old) != class(new) {
        found.push(refusal(Refusal::StorageClass {
            claim: key.1.clone(),
            from: class(old),
            to: class(new),
        }));
    }
    let strip = |v: &Value| {
        let mut v = v.clone();
        if let Some(spec) = v["spec"].as_object_mut() {
            spec.remove("resources");
            spec.remove("storageClassName");
        }
        v
    };
    let (a, b) = (strip(old), strip(new));
    if a != b {
        found.push(other_change(key, &a, &b));
    }
    found
}

const LABELS_OF: &str = "labels or annotations of ";

/// A cert-manager Certificate whose request changes (names, key, duration; not only the labels
/// of the Secret it writes): cert-manager issues a new certificate into the workload's TLS
/// Secret, which the reloader applies in place.
fn certificate_change(key: &(String, String), a: &Value, b: &Value) -> Option<Found> {
    if key.0 != "Certificate" {
        return None;
    }
    let request = |v: &Value| {
        let mut spec = v["spec"].clone();
        if let Some(spec) = spec.as_object_mut() {
            spec.remove("secretTemplate");
        }
        spec
    };
    (request(a) != request(b)).then(|| {
        found(
            Effect::Reload,
            format!(
                "{} changed: cert-manager issues a new certificate, which the reloader applies in place",
                label(key)
            ),
        )
    })
}

/// A change that touches no running pod: its metadata only (merged per workload), or more.
fn other_change(key: &(String, String), a: &Value, b: &Value) -> Found {
    let mut x = a.clone();
    let mut y = b.clone();
    for v in [&mut x, &mut y] {
        if let Some(object) = v.as_object_mut() {
            object.remove("metadata");
        }
    }
    if x == y {
        found(Effect::NoEffect, format!("{LABELS_OF}{}", key.0))
    } else {
        found(Effect::NoEffect, format!("{} changed", label(key)))
    }
}

/// A Kubernetes quantity (`10Gi`, `500M`, `1.5Ti`, `1073741824`) in bytes.
pub fn quantity(text: &str) -> Option<f64> {
    let text = text.trim();
    let split = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let number: f64 = number.parse().ok()?;
    let factor: f64 = match unit {
        "" => 1.0,
        "Ki" => 1024.0,
        "Mi" => 1024f64.powi(2),
        "Gi" => 1024f64.powi(3),
        "Ti" => 1024f64.powi(4),
        "Pi" => 1024f64.powi(5),
        "Ei" => 1024f64.powi(6),
        "k" => 1e3,
        "M" => 1e6,
        "G" => 1e9,
        "T" => 1e12,
        "P" => 1e15,
        "E" => 1e18,
        _ => return None,
    };
    Some(number * factor)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantities_compare_across_units() {
        assert!(quantity("5Gi") < quantity("10Gi"));
        assert!(quantity("1G") < quantity("1Gi"));
        assert_eq!(quantity("1024Mi"), quantity("1Gi"));
        assert_eq!(quantity("2Xi"), None);
    }
}
