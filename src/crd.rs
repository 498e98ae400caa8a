//! Custom resource types of the projects bakeryc emits objects for, one module per project, as
//! plain structs with kube's `CustomResource` derive. Types only: no client, no I/O, and no
//! generated CRD schemas (the projects' own CRDs, copied into tests/crds/, are what the output is
//! validated against).

pub mod argocd;
pub mod cert_manager;
pub mod external_secrets;
pub mod prometheus;
pub mod trust_manager;
