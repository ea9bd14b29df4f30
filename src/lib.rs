//! kubectl-gitlab-flux: push Flux OCI artifacts from GitLab CI, make Flux
//! reconcile now, and wait until the exact revision is applied and healthy.
//!
//! Layers look only down: [`cli`] (clap types) → [`config`] (validated
//! settings) → [`cmd`] (one module per command, builds a report) →
//! [`cluster`], [`oci`], [`flux`] (talk to the world / Flux semantics);
//! [`render`] turns reports into text.

pub mod cli;
pub mod cluster;
pub mod cmd;
pub mod config;
pub mod error;
pub mod flux;
pub mod oci;
pub mod render;

pub use error::{Error, ExitCode, Result};

/// Version information baked in at build time.
pub mod build_info {
    pub const VERSION: &str = env!("CARGO_PKG_VERSION");
    pub const GIT_COMMIT: &str = env!("GITLAB_FLUX_GIT_COMMIT");
    pub const TARGET: &str = env!("GITLAB_FLUX_TARGET");
}
