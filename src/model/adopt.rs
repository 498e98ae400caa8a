//! What a running deployment already has and bakeryc takes over instead of creating
//! (`[database.adopt]`, `[cache.adopt]`): its volume claim, the data directory inside it, and
//! the names its clients already use. Valid values only; it never decides how they are used
//! (compile does) and holds no spans.

use std::fmt;

use super::{DnsLabel, WorkloadNames};

/// A path relative to the root of a volume claim: `[A-Za-z0-9._-]` components joined by `/`,
/// none of them `..`; `.` is the claim's root.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DataPath(String);

impl DataPath {
    pub const MAX_LEN: usize = 255;

    pub fn new(text: &str) -> Result<Self, String> {
        if text.is_empty() {
            return Err("is empty; write \".\" for the claim's root".into());
        }
        if text.len() > Self::MAX_LEN {
            return Err(format!("is longer than {} characters", Self::MAX_LEN));
        }
        if text.starts_with('/') {
            return Err("is absolute; it is relative to the root of the claim".into());
        }
        let trimmed = text.trim_end_matches('/');
        if trimmed == "." {
            return Ok(Self(".".into()));
        }
        for part in trimmed.split('/') {
            if part.is_empty() || part == "." || part == ".." {
                return Err(format!(
                    "has the component {part:?}; only names are allowed, no `.`, `..` or `//`"
                ));
            }
            if let Some(bad) = part
                .chars()
                .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-')))
            {
                return Err(format!(
                    "contains {bad:?}; only letters, digits, '.', '_', '-' and '/' are allowed"
                ));
            }
        }
        Ok(Self(trimmed.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The directory inside a claim mounted at `mount`.
    pub fn under(&self, mount: &str) -> String {
        if self.0 == "." {
            mount.to_owned()
        } else {
            format!("{mount}/{}", self.0)
        }
    }
}

impl fmt::Display for DataPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A PostgreSQL database or role name that needs no quoting: a lowercase letter or `_`, then
/// lowercase letters, digits, `_` or `$`, at most 63 bytes (NAMEDATALEN - 1). Names the image's
/// first start made from POSTGRES_DB / POSTGRES_USER are of this form unless written with
/// capitals, which would need quotes in every client's configuration.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct PgIdentifier(String);

impl PgIdentifier {
    pub const MAX_LEN: usize = 63;

    pub fn new(text: &str) -> Result<Self, String> {
        let Some(first) = text.chars().next() else {
            return Err("is empty".into());
        };
        if text.len() > Self::MAX_LEN {
            return Err(format!(
                "is {} bytes long; PostgreSQL truncates names to {}",
                text.len(),
                Self::MAX_LEN
            ));
        }
        if !(first.is_ascii_lowercase() || first == '_') {
            return Err("must start with a lowercase letter or '_'".into());
        }
        if let Some(bad) = text
            .chars()
            .find(|c| !(c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '_' | '$')))
        {
            return Err(format!(
                "contains {bad:?}; only lowercase letters, digits, '_' and '$' are allowed"
            ));
        }
        Ok(Self(text.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for PgIdentifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// An existing workload's claim and names. With it, bakeryc mounts the claim and never defines
/// it (its size and class are the claim's own), and every object keeps the names given here.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Adoption {
    /// The PersistentVolumeClaim that holds the data today.
    pub claim: DnsLabel,
    /// Where the data directory (PGDATA, Redis `dir`) is inside the claim.
    pub data_path: DataPath,
    /// The Deployment's name, when it is not bakeryc's.
    pub workload: Option<DnsLabel>,
    /// The Service's name, when it is not bakeryc's.
    pub service: Option<DnsLabel>,
    /// PostgreSQL only: the existing database.
    pub database: Option<PgIdentifier>,
    /// PostgreSQL only: the existing role that owns it.
    pub role: Option<PgIdentifier>,
}

impl Adoption {
    /// `names` with the adopted ones in place: the workload (and what is named after it), the
    /// Service and the claim.
    pub fn rename(&self, names: WorkloadNames) -> WorkloadNames {
        let mut names = match &self.workload {
            Some(workload) => WorkloadNames::new(&names.declared, workload.to_string()),
            None => names,
        };
        if let Some(service) = &self.service {
            names.service = service.to_string();
        }
        names.volume_claim = self.claim.to_string();
        names.claim_adopted = true;
        names
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn data_paths_stay_inside_the_claim() {
        for good in [".", "pgdata", "data/pgdata", "pgdata/", "./"] {
            assert!(DataPath::new(good).is_ok(), "{good}");
        }
        for bad in ["", "/pgdata", "..", "a/../b", "a//b", "a b", "./pgdata"] {
            assert!(DataPath::new(bad).is_err(), "{bad}");
        }
        assert_eq!(DataPath::new("./").unwrap().under("/data"), "/data");
        assert_eq!(
            DataPath::new("pgdata")
                .unwrap()
                .under("/var/lib/postgresql/data"),
            "/var/lib/postgresql/data/pgdata"
        );
    }

    #[test]
    fn identifiers_need_no_quotes() {
        assert!(PgIdentifier::new("auth_user").is_ok());
        assert!(PgIdentifier::new("_x$1").is_ok());
        for bad in ["", "Auth", "1db", "auth-db", "a\"b", &"a".repeat(64)] {
            assert!(PgIdentifier::new(bad).is_err(), "{bad}");
        }
    }
}
