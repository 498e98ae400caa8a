//! What `bakeryc secrets rotate` replaces: turns the command's selection (names as declared in
//! bakery.toml, `--ca`, `--passwords`) into the set of items to create anew, and refuses
//! selections that name nothing or contradict themselves. It decides only; issuing is elsewhere.

use std::collections::BTreeSet;

use super::{Renewal, SecretsError, workloads};
use crate::model::Platform;

/// A rotation request.
///
/// - neither flag: new keys and certificates for the named workloads (all when `only` is
///   empty), signed by the same CA; passwords stay;
/// - `passwords`: new passwords for the named workloads; certificates stay;
/// - `ca`: a new CA, and new keys and certificates for every workload (a certificate cannot
///   outlive a change of its CA); with `passwords`, every password too.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Rotation {
    /// Databases and the cache by the `name` bakery.toml gives them; empty means all.
    pub only: Vec<String>,
    pub ca: bool,
    pub passwords: bool,
}

impl Rotation {
    /// The workload names whose certificates and passwords are to be replaced.
    pub(super) fn renewal(&self, platform: &Platform) -> Result<Renewal, SecretsError> {
        if self.ca && !self.only.is_empty() {
            return Err(SecretsError::Refused(
                "--ca re-issues every certificate of the environment, so it takes no --only"
                    .to_owned(),
            ));
        }
        let all = workloads(platform);
        let mut selected = BTreeSet::new();
        for name in &self.only {
            let found = all.iter().find(|w| &w.names().declared == name);
            match found {
                Some(workload) => {
                    selected.insert(workload.names().workload);
                }
                None => {
                    return Err(SecretsError::UnknownName {
                        name: name.clone(),
                        known: all.iter().map(|w| w.names().declared).collect(),
                    });
                }
            }
        }
        if self.only.is_empty() {
            selected = all.iter().map(|w| w.names().workload).collect();
        }
        Ok(if self.ca {
            Renewal {
                ca: true,
                passwords: if self.passwords {
                    selected.clone()
                } else {
                    BTreeSet::new()
                },
                leaves: selected,
            }
        } else if self.passwords {
            Renewal {
                ca: false,
                leaves: BTreeSet::new(),
                passwords: selected,
            }
        } else {
            Renewal {
                ca: false,
                leaves: selected,
                passwords: BTreeSet::new(),
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn platform() -> Platform {
        crate::check(include_str!("../../tests/fixtures/secrets/ecdsa.toml"))
            .platform
            .unwrap()
    }

    fn set(names: &[&str]) -> BTreeSet<String> {
        names.iter().map(|n| (*n).to_owned()).collect()
    }

    #[test]
    fn selections() {
        let platform = platform();
        let only = |names: &[&str], ca, passwords| Rotation {
            only: names.iter().map(|n| (*n).to_owned()).collect(),
            ca,
            passwords,
        };
        let all = set(&["alert-processor-db", "auth-db", "redis"]);
        let leaves = only(&["auth"], false, false).renewal(&platform).unwrap();
        assert_eq!(
            (leaves.ca, leaves.leaves, leaves.passwords),
            (false, set(&["auth-db"]), set(&[]))
        );
        let passwords = only(&["redis"], false, true).renewal(&platform).unwrap();
        assert_eq!(
            (passwords.leaves, passwords.passwords),
            (set(&[]), set(&["redis"]))
        );
        let every = only(&[], false, false).renewal(&platform).unwrap();
        assert_eq!(every.leaves, all);
        let ca = only(&[], true, false).renewal(&platform).unwrap();
        assert_eq!(
            (ca.ca, ca.leaves, ca.passwords),
            (true, all.clone(), set(&[]))
        );
        let ca_and_passwords = only(&[], true, true).renewal(&platform).unwrap();
        assert_eq!(ca_and_passwords.passwords, all);
    }

    #[test]
    fn refusals() {
        let platform = platform();
        let unknown = Rotation {
            only: vec!["auth-db".into()],
            ..Rotation::default()
        };
        assert!(matches!(
            unknown.renewal(&platform),
            Err(SecretsError::UnknownName { name, known }) if name == "auth-db" && known.len() == 3
        ));
        let ca_only = Rotation {
            only: vec!["auth".into()],
            ca: true,
            passwords: false,
        };
        assert!(matches!(
            ca_only.renewal(&platform),
            Err(SecretsError::Refused(_))
        ));
    }
}
