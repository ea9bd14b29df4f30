//! Bakes the git commit and the build target into the binary (`version`).

use std::process::Command;

fn main() {
    let commit = std::env::var("GITLAB_FLUX_GIT_COMMIT")
        .ok()
        .filter(|c| !c.is_empty())
        .or_else(|| {
            Command::new("git")
                .args(["rev-parse", "--short=12", "HEAD"])
                .output()
                .ok()
                .filter(|o| o.status.success())
                .and_then(|o| String::from_utf8(o.stdout).ok())
                .map(|s| s.trim().to_string())
        })
        .unwrap_or_else(|| "unknown".to_string());
    let target = std::env::var("TARGET").unwrap_or_else(|_| "unknown".to_string());
    println!("cargo:rustc-env=GITLAB_FLUX_GIT_COMMIT={commit}");
    println!("cargo:rustc-env=GITLAB_FLUX_TARGET={target}");
    println!("cargo:rerun-if-env-changed=GITLAB_FLUX_GIT_COMMIT");
    if std::path::Path::new(".git/HEAD").exists() {
        println!("cargo:rerun-if-changed=.git/HEAD");
        println!("cargo:rerun-if-changed=.git/refs/heads");
    }
}
