//! The plugin's integration tests: one test binary (fast to link), one
//! module per area. They run the real binary with a scrubbed environment.

mod cli;
mod common;
mod completions;
mod distribution;
mod e2e;
mod kubeconfig_auth;
mod status;
mod trigger;
mod wait;
mod wait_scenarios;
