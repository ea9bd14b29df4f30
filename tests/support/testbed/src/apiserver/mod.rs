//! Kubernetes API emulator: an in-process object [`Store`] and (soon) a
//! wire-level HTTP(S) server that the real `kubectl` and kube-rs talk to.

pub mod kinds;
mod store;

pub use kinds::{Kinds, ResourceKind};
pub use store::{Store, StoreError, StoreEvent, StoreEventKind, apply_merge_patch, now_rfc3339};
