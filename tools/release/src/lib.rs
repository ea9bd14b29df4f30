//! Release tooling for kubectl-gitlab-flux (`make krew`, `make image`).
//!
//! - [`package`]: the plugin's `[package]` fields (version, repository, …)
//!   read from its Cargo.toml, the single source of truth.
//! - [`archive`]: the release archives `scripts/dist.sh` writes: names,
//!   sha256, entries.
//! - [`krew`]: the krew plugin manifest generated from those archives.
//! - [`image`]: the container image (static busybox, CA certificates, the
//!   static plugin binary) assembled reproducibly, written as an OCI image
//!   layout, or pushed with the plugin's own registry client.

pub mod archive;
pub mod image;
pub mod krew;
pub mod package;

/// The plugin's binary, as kubectl looks it up for `kubectl gitlab-flux`.
pub const BIN: &str = "kubectl-gitlab_flux";
/// kubectl's completion helper for the plugin (kubectl ≥ 1.26).
pub const COMPLETION_HELPER: &str = "kubectl_complete-gitlab_flux";
