//! A generated tree (its files as values) to the objects each environment applies, one base file
//! at a time: the base objects with the overlay's patches applied, as `kubectl kustomize` would
//! for the forms bakeryc writes (RFC 6902 operations on targets chosen by kind, name or label selector; strategic merge
//! patches whose lists of named items merge by `name`). It reads no disk and runs no kustomize:
//! the plan must work on a tree read from git as well as on one just built.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use serde_json::Value;

use crate::render::Files;

/// One object of an environment, keyed by kind and name.
pub type Objects = BTreeMap<(String, String), Value>;

/// The environment name used when a tree has no overlays.
pub const BASE: &str = "base";

/// One overlay: the objects it adds itself (ExternalSecrets) and its patches, in order, each
/// with its target (`Null` for a strategic merge patch that names its object).
#[derive(Debug, Default)]
struct Overlay {
    objects: Vec<Value>,
    patches: Vec<(Value, Value)>,
    /// The patches that name their object, by (kind, name): an overlay of a thousand databases
    /// has thousands of patches, and each object is checked against its own few.
    named: HashMap<(String, String), Vec<usize>>,
    /// The patches that select by label (or by kind alone), checked against every object.
    selecting: Vec<usize>,
}

impl Overlay {
    /// The patches that may apply to an object of this kind and name, in the overlay's order.
    fn candidates(&self, kind: &str, name: &str) -> Vec<usize> {
        let mut found = self.selecting.clone();
        if let Some(named) = self.named.get(&(kind.to_owned(), name.to_owned())) {
            found.extend(named);
            found.sort_unstable();
        }
        found
    }
}

/// A generated tree read lazily: the base files one at a time ([`Tree::file`]) and each
/// environment's patches applied to just those objects ([`Tree::apply`]), so that a plan of a
/// thousand databases never holds more than one file's objects per environment.
#[derive(Debug)]
pub struct Tree<'a> {
    files: &'a Files,
    base: Vec<String>,
    overlays: BTreeMap<String, Overlay>,
}

impl<'a> Tree<'a> {
    pub fn new(files: &'a Files) -> Self {
        let base = files
            .get("base/kustomization.yaml")
            .map(|text| documents(text))
            .and_then(|docs| docs.into_iter().next())
            .and_then(|k| k["resources"].as_array().cloned())
            .unwrap_or_default()
            .iter()
            .filter_map(|r| r.as_str().map(|r| format!("base/{r}")))
            .collect();
        let mut overlays = BTreeMap::new();
        for path in files.keys() {
            let Some(env) = path
                .strip_prefix("overlays/")
                .and_then(|rest| rest.strip_suffix("/kustomization.yaml"))
                .filter(|env| !env.contains('/'))
            else {
                continue;
            };
            overlays.insert(env.to_owned(), overlay(files, &format!("overlays/{env}")));
        }
        Self {
            files,
            base,
            overlays,
        }
    }

    /// The environments: overlay names, or [`BASE`] when there are none (and a base exists).
    pub fn environments(&self) -> BTreeSet<String> {
        if self.overlays.is_empty() && !self.base.is_empty() {
            return BTreeSet::from([BASE.to_owned()]);
        }
        self.overlays.keys().cloned().collect()
    }

    /// The base files, as the base kustomization lists them.
    pub fn base_files(&self) -> &[String] {
        &self.base
    }

    /// The text of a file, if the tree has it.
    pub fn text(&self, path: &str) -> Option<&'a String> {
        self.files.get(path)
    }

    /// The objects of one base file, unpatched.
    pub fn file(&self, path: &str) -> Vec<Value> {
        self.files
            .get(path)
            .map(|text| documents(text))
            .unwrap_or_default()
    }

    /// `objects` as environment `env` applies them (its patches in order); empty when the tree
    /// has no such environment.
    pub fn apply(&self, env: &str, objects: &[Value]) -> Objects {
        let overlay = match self.overlays.get(env) {
            Some(overlay) => overlay,
            None if env == BASE && self.overlays.is_empty() => &Overlay::default(),
            None => return Objects::new(),
        };
        let mut objects: Vec<Value> = objects.to_vec();
        for object in &mut objects {
            let kind = object["kind"].as_str().unwrap_or_default().to_owned();
            let name = object["metadata"]["name"]
                .as_str()
                .unwrap_or_default()
                .to_owned();
            for index in overlay.candidates(&kind, &name) {
                let (target, body) = &overlay.patches[index];
                let matches = if target.is_object() {
                    selects(target, object)
                } else {
                    // A strategic merge patch without a target names its object itself.
                    object["kind"] == body["kind"]
                        && object["metadata"]["name"] == body["metadata"]["name"]
                };
                if !matches {
                    continue;
                }
                match body {
                    Value::Array(operations) => {
                        for op in operations {
                            json_patch(object, op);
                        }
                    }
                    patch => merge(object, patch),
                }
            }
        }
        keyed(objects)
    }

    /// Every file of environment `env`'s overlay, to tell whether two trees' overlays are equal.
    pub fn overlay_text(&self, env: &str) -> Vec<(&'a String, &'a String)> {
        let prefix = format!("overlays/{env}/");
        self.files
            .iter()
            .filter(|(path, _)| path.starts_with(&prefix))
            .collect()
    }

    /// The objects environment `env`'s overlay adds itself.
    pub fn overlay_objects(&self, env: &str) -> Objects {
        self.overlays
            .get(env)
            .map(|o| keyed(o.objects.clone()))
            .unwrap_or_default()
    }
}

fn keyed(objects: Vec<Value>) -> Objects {
    objects
        .into_iter()
        .filter_map(|object| Some((key(&object)?, object)))
        .collect()
}

/// Every environment of `files` with the objects it applies, all at once (for tests and small
/// trees; the plan itself walks a [`Tree`] file by file).
pub fn environments(files: &Files) -> BTreeMap<String, Objects> {
    let tree = Tree::new(files);
    let base: Vec<Value> = tree
        .base_files()
        .iter()
        .flat_map(|path| tree.file(path))
        .collect();
    tree.environments()
        .into_iter()
        .map(|env| {
            let mut objects = tree.apply(&env, &base);
            objects.extend(tree.overlay_objects(&env));
            (env, objects)
        })
        .collect()
}

fn documents(text: &str) -> Vec<Value> {
    serde_saphyr::from_multiple::<Value>(text)
        .unwrap_or_default()
        .into_iter()
        .filter(|doc| !doc.is_null())
        .collect()
}

fn key(object: &Value) -> Option<(String, String)> {
    Some((
        object["kind"].as_str()?.to_owned(),
        object["metadata"]["name"].as_str()?.to_owned(),
    ))
}

fn overlay(files: &Files, dir: &str) -> Overlay {
    let mut overlay = Overlay::default();
    let Some(kustomization) = files
        .get(&format!("{dir}/kustomization.yaml"))
        .and_then(|text| documents(text).into_iter().next())
    else {
        return overlay;
    };
    let file = |path: &Value| {
        path.as_str()
            .and_then(|path| files.get(&format!("{dir}/{path}")))
    };
    for resource in kustomization["resources"].as_array().into_iter().flatten() {
        if let Some(text) = file(resource) {
            overlay.objects.extend(documents(text));
        }
    }
    for patch in kustomization["patches"].as_array().into_iter().flatten() {
        let Some(body) = file(&patch["path"]).and_then(|text| documents(text).into_iter().next())
        else {
            continue;
        };
        overlay.patches.push((patch["target"].clone(), body));
    }
    for (index, (target, body)) in overlay.patches.iter().enumerate() {
        // A strategic merge patch without a target names its object itself.
        let (kind, name) = if target.is_object() {
            (&target["kind"], &target["name"])
        } else {
            (&body["kind"], &body["metadata"]["name"])
        };
        match (kind.as_str(), name.as_str()) {
            (Some(kind), Some(name)) => overlay
                .named
                .entry((kind.to_owned(), name.to_owned()))
                .or_default()
                .push(index),
            _ => overlay.selecting.push(index),
        }
    }
    overlay
}

/// Whether a kustomize patch `target` (kind, name, labelSelector `k=v,k=v`) selects `object`.
fn selects(target: &Value, object: &Value) -> bool {
    let field = |name: &str| target[name].as_str();
    if field("kind").is_some_and(|kind| object["kind"] != kind) {
        return false;
    }
    if field("name").is_some_and(|name| object["metadata"]["name"] != name) {
        return false;
    }
    field("labelSelector").is_none_or(|selector| {
        selector.split(',').all(|pair| {
            pair.split_once('=')
                .is_some_and(|(k, v)| object["metadata"]["labels"][k.trim()] == v.trim())
        })
    })
}

/// One RFC 6902 operation (add, replace, remove) on `object`; others are ignored.
fn json_patch(object: &mut Value, operation: &Value) {
    let (Some(op), Some(path)) = (operation["op"].as_str(), operation["path"].as_str()) else {
        return;
    };
    let tokens: Vec<String> = path
        .split('/')
        .skip(1)
        .map(|t| t.replace("~1", "/").replace("~0", "~"))
        .collect();
    let Some((last, parents)) = tokens.split_last() else {
        return;
    };
    let mut at = object;
    for token in parents {
        at = match at {
            Value::Object(map) => map
                .entry(token.clone())
                .or_insert_with(|| Value::Object(serde_json::Map::new())),
            Value::Array(items) => match token.parse::<usize>().ok().and_then(|i| items.get_mut(i))
            {
                Some(item) => item,
                None => return,
            },
            _ => return,
        };
    }
    let value = operation["value"].clone();
    match (at, op) {
        (Value::Object(map), "add" | "replace") => {
            map.insert(last.clone(), value);
        }
        (Value::Object(map), "remove") => {
            map.remove(last);
        }
        (Value::Array(items), "add") if last == "-" => items.push(value),
        (Value::Array(items), op) => {
            let Ok(index) = last.parse::<usize>() else {
                return;
            };
            match op {
                "add" if index <= items.len() => items.insert(index, value),
                "replace" if index < items.len() => items[index] = value,
                "remove" if index < items.len() => {
                    items.remove(index);
                }
                _ => {}
            }
        }
        _ => {}
    }
}

/// A strategic merge: maps merge key by key (`null` removes), lists of maps that all have a
/// `name` merge item by item on it (containers, volumes, env), other lists are replaced.
fn merge(target: &mut Value, patch: &Value) {
    match (target, patch) {
        (Value::Object(target), Value::Object(patch)) => {
            for (key, value) in patch {
                if value.is_null() {
                    target.remove(key);
                } else if let Some(existing) = target.get_mut(key) {
                    merge(existing, value);
                } else {
                    target.insert(key.clone(), value.clone());
                }
            }
        }
        (Value::Array(target), Value::Array(patch))
            if patch
                .iter()
                .chain(target.iter())
                .all(|v| v["name"].is_string()) =>
        {
            for item in patch {
                match target.iter_mut().find(|t| t["name"] == item["name"]) {
                    Some(existing) => merge(existing, item),
                    None => target.push(item.clone()),
                }
            }
        }
        (target, patch) => *target = patch.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn patches_apply_as_kustomize_does() {
        let mut object = json!({"spec": {"resources": {"requests": {"storage": "2Gi"}}},
            "containers": [{"name": "a", "image": "x"}, {"name": "b", "image": "y"}]});
        json_patch(
            &mut object,
            &json!({"op": "replace", "path": "/spec/resources/requests/storage", "value": "5Gi"}),
        );
        merge(
            &mut object,
            &json!({"containers": [{"name": "b", "image": "z"}]}),
        );
        assert_eq!(object["spec"]["resources"]["requests"]["storage"], "5Gi");
        assert_eq!(object["containers"][0]["image"], "x");
        assert_eq!(object["containers"][1]["image"], "z");
        let target = json!({"kind": "PersistentVolumeClaim", "labelSelector": "a=1,b=2"});
        let pvc =
            json!({"kind": "PersistentVolumeClaim", "metadata": {"labels": {"a": "1", "b": "2"}}});
        assert!(selects(&target, &pvc));
        assert!(!selects(&json!({"labelSelector": "a=2"}), &pvc));
    }
}
