//! The plugin's integration tests: one test binary (fast to link), one
//! module per area. They run the real binary with a scrubbed environment.

mod bad_input;
mod cli;
mod common;
mod completions;
mod distribution;
mod docs;
mod e2e;
mod hardening;
mod helm_repository;
mod kubeconfig_auth;
mod push;
mod real_cluster;
mod real_verdict;
mod reliability;
mod secrets;
mod status;
mod tag;
mod trigger;
mod verdict_scenarios;
mod wait;
mod wait_scenarios;
