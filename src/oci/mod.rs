//! The OCI layer: references, artifacts, registry access.
//!
//! - [`reference`]: `oci://` references with distribution's grammar.
//! - [`artifact`]: walk, ignore, check and pack a tree reproducibly; manifest bytes.
//! - [`helm`]: Helm's OCI chart format.
//! - [`annotations`]: source/revision/created from GitLab CI or git.
//! - [`auth`]: where registry credentials come from.
//! - [`inspect`]: what a stored manifest is (Flux artifact, Helm chart, other).
//! - [`registry`]: the distribution API client (uploads, manifests, retries).

pub mod annotations;
pub mod artifact;
pub mod auth;
pub mod error;
pub mod helm;
pub mod inspect;
pub mod reference;
pub mod registry;

pub use error::OciError;
pub use reference::Reference;
