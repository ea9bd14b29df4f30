//! `version`: the plugin's version, git commit and build target.

use serde::Serialize;

use super::{Session, write_stdout};
use crate::build_info;
use crate::cli::{OutputFormat, VersionArgs};
use crate::error::{ExitCode, Result};
use crate::render;

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct VersionReport {
    pub version: &'static str,
    pub git_commit: &'static str,
    pub target: &'static str,
}

pub fn report() -> VersionReport {
    VersionReport {
        version: build_info::VERSION,
        git_commit: build_info::GIT_COMMIT,
        target: build_info::TARGET,
    }
}

pub fn run(session: &Session, _args: VersionArgs) -> Result<ExitCode> {
    let report = report();
    let text = match session.output {
        OutputFormat::Table => format!(
            "kubectl-gitlab-flux {} (commit {}, {})\n",
            report.version, report.git_commit, report.target
        ),
        format => render::document(&report, format)?,
    };
    write_stdout(&text)?;
    Ok(ExitCode::Success)
}
