//! Helpers shared by the integration tests.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

/// The plugin binary built by cargo for these tests.
pub fn bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_kubectl-gitlab_flux"))
}

/// Variables that would leak the developer's or CI's setup into a test.
const SCRUBBED: &[&str] = &[
    "KUBECONFIG",
    "KUBE_CONTEXT",
    "DOCKER_CONFIG",
    "NO_COLOR",
    "GITLAB_FLUX_LOG",
    "RUST_LOG",
    "TERM",
];

/// A command for the plugin with a scrubbed environment: no CI variables,
/// no kubeconfig, HOME in `home`.
pub fn plugin(home: &Path) -> Command {
    let mut cmd = Command::new(bin());
    scrub(&mut cmd, home);
    cmd
}

/// Scrub the environment of any command the same way.
pub fn scrub(cmd: &mut Command, home: &Path) {
    for (key, _) in std::env::vars_os() {
        if let Some(k) = key.to_str()
            && (k.starts_with("CI_") || k.starts_with("GITLAB_") || SCRUBBED.contains(&k))
        {
            cmd.env_remove(&key);
        }
    }
    cmd.env("HOME", home).stdin(Stdio::null());
}

/// The result of running a command, with helpers for assertions.
#[derive(Debug)]
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    pub fn of(output: Output) -> Run {
        Run {
            code: output.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        }
    }

    /// Assert the three-part error report: `error: <msg>` first, a `hint:`
    /// line, and the exit code.
    #[track_caller]
    pub fn assert_error(&self, code: i32, message: &str, hint: &str) -> &Run {
        assert_eq!(self.code, code, "exit code; stderr:\n{}", self.stderr);
        // Progress lines may come first; the report is the last thing.
        let first = self
            .stderr
            .lines()
            .find(|l| l.starts_with("error: "))
            .unwrap_or_default();
        assert!(
            first.contains(message),
            "stderr should have `error: …{message}…`, got:\n{}",
            self.stderr
        );
        let hint_line = self
            .stderr
            .lines()
            .find(|l| l.starts_with("hint: "))
            .unwrap_or_else(|| panic!("no hint line in:\n{}", self.stderr));
        assert!(
            hint_line.contains(hint),
            "hint should mention {hint:?}, got {hint_line:?}"
        );
        self
    }

    /// [`Run::assert_error`], and nothing on stdout.
    #[track_caller]
    pub fn assert_refused(&self, code: i32, message: &str, hint: &str) -> &Run {
        self.assert_error(code, message, hint);
        assert!(
            self.stdout.is_empty(),
            "stdout must be empty:\n{}",
            self.stdout
        );
        self
    }

    #[track_caller]
    pub fn assert_ok(&self) -> &Run {
        assert_eq!(
            self.code, 0,
            "expected success; stdout:\n{}\nstderr:\n{}",
            self.stdout, self.stderr
        );
        self
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("stdout is not JSON ({e}):\n{}", self.stdout))
    }
}

/// Run a command to completion.
pub fn run(cmd: &mut Command) -> Run {
    Run::of(cmd.output().expect("command runs"))
}

/// kubectl, or None (skip) outside CI; under CI=true a missing kubectl fails.
pub fn kubectl() -> Option<PathBuf> {
    let path =
        PathBuf::from(std::env::var("KUBECTL").unwrap_or_else(|_| "/usr/bin/kubectl".into()));
    if path.exists() {
        return Some(path);
    }
    if std::env::var("CI").as_deref() == Ok("true") {
        panic!("kubectl is required under CI=true (apt-get install kubernetes-client)");
    }
    eprintln!("skipping: kubectl not installed (apt-get install kubernetes-client)");
    None
}

/// Write a file, creating parent directories.
pub fn write(path: &Path, content: &str) {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).expect("mkdir");
    }
    std::fs::write(path, content).expect("write");
}
pub mod bed;
pub mod real;
pub mod scenarios;
