//! `completion`: shell completion scripts for `kubectl-gitlab_flux`.

use clap::CommandFactory;
use clap_complete::Shell as Target;

use super::write_stdout;
use crate::cli::{Cli, CompletionArgs, Shell};
use crate::error::{ExitCode, Result};

/// The binary name completions are registered for.
pub const BIN: &str = "kubectl-gitlab_flux";

/// Generate the completion script for a shell.
pub fn script(shell: Shell) -> String {
    let target = match shell {
        Shell::Bash => Target::Bash,
        Shell::Zsh => Target::Zsh,
        Shell::Fish => Target::Fish,
        Shell::Powershell => Target::PowerShell,
        Shell::Elvish => Target::Elvish,
    };
    let mut cmd = Cli::command().bin_name(BIN);
    let mut buf: Vec<u8> = Vec::new();
    clap_complete::generate(target, &mut cmd, BIN, &mut buf);
    String::from_utf8_lossy(&buf).into_owned()
}

pub fn run(args: CompletionArgs) -> Result<ExitCode> {
    write_stdout(&script(args.shell))?;
    Ok(ExitCode::Success)
}
