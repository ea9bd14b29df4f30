//! Test bed for kubectl-gitlab-flux: a wire-level Kubernetes API emulator
//! (`apiserver`), a Flux controller simulator (`flux`), OCI helpers for
//! tests (`oci`), and the sandbox wiring used by `make sandbox`/`make demo`.
//!
//! The real distribution registry fixture lives in the `testbed-registry`
//! crate and is re-exported as [`registry`].

pub use testbed_registry as registry;

pub mod apiserver;

pub mod flux;

pub mod oci;

pub mod real;
