//! A generated tree (its files as values) to the objects each environment applies: the base
//! objects with the overlay's patches applied, as `kubectl kustomize` would for the forms bakeryc
//! writes (RFC 6902 operations on targets chosen by kind, name or label selector; strategic merge
//! patches whose lists of named items merge by `name`). It reads no disk and runs no kustomize:
//! the plan must work on a tree read from git as well as on one just built.

use std::collections::BTreeMap;

use serde_json::Value;

use crate::render::Files;

/// One object of an environment, keyed by kind and name.
pub type Objects = BTreeMap<(String, String), Value>;

/// The environment name used when a tree has no overlays.
pub const BASE: &str = "base";

/// Every environment of `files` (overlay folder names, or [`BASE`] when there are none) with the
/// objects it applies. A file that is not YAML is skipped: a plan is a reading aid, and the tree
/// `build` wrote is always YAML.
pub fn environments(files: &Files) -> BTreeMap<String, Objects> {
    let base = base_objects(files);
    let mut envs: BTreeMap<String, Objects> = BTreeMap::new();
    for path in files.keys() {
        let Some(env) = path
            .strip_prefix("overlays/")
            .and_then(|rest| rest.strip_suffix("/kustomization.yaml"))
        else {
            continue;
        };
        if env.contains('/') {
            continue;
        }
        let mut objects = base.clone();
        apply_overlay(files, &format!("overlays/{env}"), &mut objects);
        envs.insert(env.to_owned(), objects);
    }
    if envs.is_empty() && !base.is_empty() {
        envs.insert(BASE.to_owned(), base);
    }
    envs
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

fn base_objects(files: &Files) -> Objects {
    let listed: Vec<String> = files
        .get("base/kustomization.yaml")
        .map(|text| documents(text))
        .and_then(|docs| docs.into_iter().next())
        .and_then(|k| k["resources"].as_array().cloned())
        .unwrap_or_default()
        .iter()
        .filter_map(|r| r.as_str().map(|r| format!("base/{r}")))
        .collect();
    listed
        .iter()
        .filter_map(|path| files.get(path))
        .flat_map(|text| documents(text))
        .filter_map(|object| Some((key(&object)?, object)))
        .collect()
}

fn apply_overlay(files: &Files, dir: &str, objects: &mut Objects) {
    let Some(kustomization) = files
        .get(&format!("{dir}/kustomization.yaml"))
        .and_then(|text| documents(text).into_iter().next())
    else {
        return;
    };
    // Objects the overlay adds itself (ExternalSecrets): every resource that is a file of it.
    for resource in kustomization["resources"].as_array().into_iter().flatten() {
        if let Some(text) = resource
            .as_str()
            .and_then(|path| files.get(&format!("{dir}/{path}")))
        {
            objects.extend(
                documents(text)
                    .into_iter()
                    .filter_map(|object| Some((key(&object)?, object))),
            );
        }
    }
    for patch in kustomization["patches"].as_array().into_iter().flatten() {
        let Some(text) = patch["path"]
            .as_str()
            .and_then(|path| files.get(&format!("{dir}/{path}")))
        else {
            continue;
        };
        let Some(body) = documents(text).into_iter().next() else {
            continue;
        };
        let target = &patch["target"];
        let matches = |object: &Value| -> bool {
            if target.is_object() {
                selects(target, object)
            } else {
                // A strategic merge patch without a target names its object itself.
                object["kind"] == body["kind"]
                    && object["metadata"]["name"] == body["metadata"]["name"]
            }
        };
        for object in objects.values_mut().filter(|o| matches(o)) {
            match &body {
                Value::Array(operations) => operations.iter().for_each(|op| json_patch(object, op)),
                patch => merge(object, patch),
            }
        }
    }
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
