//! Kubernetes API emulator: an in-process object [`Store`] and a wire-level
//! HTTP(S) server ([`ApiServer`]) that the real `kubectl` and kube-rs talk to.
//!
//! See the "API emulator" section of the crate README for what is emulated
//! and what is not.

mod http;
pub mod kinds;
mod selectors;
mod server;
mod store;
mod tls;

pub use kinds::{Kinds, ResourceKind};
pub use selectors::Selector;
pub use server::{ApiServer, ApiServerConfig, Faults, RequestRecord};
pub use store::{Store, StoreError, StoreEvent, StoreEventKind, apply_merge_patch, now_rfc3339};

/// The path of the real `kubectl` for tests that drive it.
///
/// Looks at `$KUBECTL` then `PATH`. When kubectl is missing it panics if
/// the environment variable `CI` is `true`, otherwise prints a skip line and
/// returns None.
pub fn require_kubectl() -> Option<std::path::PathBuf> {
    let candidate = std::env::var_os("KUBECTL")
        .map(std::path::PathBuf::from)
        .filter(|p| p.is_file())
        .or_else(|| {
            std::env::var_os("PATH").and_then(|paths| {
                std::env::split_paths(&paths)
                    .map(|d| d.join("kubectl"))
                    .find(|p| p.is_file())
            })
        });
    match candidate {
        Some(p) => Some(p),
        None if std::env::var("CI").as_deref() == Ok("true") => {
            panic!("kubectl is required on CI but was not found on PATH")
        }
        None => {
            eprintln!("skipping: kubectl not found on PATH");
            None
        }
    }
}
