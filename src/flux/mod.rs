//! Flux semantics, pure and unit-tested on JSON: the kinds, what consumes
//! an artifact, and what "applied", "failed" and "stale" mean.

pub mod json;
pub mod kinds;
pub mod selector;
pub mod semver;
pub mod verdict;

pub use kinds::{FluxKind, ObjectRef};
