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
