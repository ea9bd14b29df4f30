//! `wait` command-line arguments.

use clap::Args;
use std::path::PathBuf;

use super::TargetArgs;

#[derive(Debug, Clone, Args)]
#[command(after_long_help = "\
An object is done when it applied exactly the selected revision, at its current generation,
and is Ready; an object Ready at an older revision is still pending. A failure at the selected
revision ends the wait at once (exit 1) with the reason and the object's events.

Examples:
  kubectl gitlab-flux wait --artifact \"$ARTIFACT_URL\" --dependents --junit flux-wait.xml
  kubectl gitlab-flux wait kustomization/apps --since-token \"$FLUX_RECONCILE_TOKEN\"
  kubectl gitlab-flux wait --artifact \"$ARTIFACT_URL\" -A --context staging --context production")]
pub struct WaitArgs {
    #[command(flatten)]
    pub target: TargetArgs,

    /// Demand that this reconcile request (printed by `trigger`) was handled
    #[arg(long, value_name = "TOKEN", help_heading = "Conditions")]
    pub since_token: Option<String>,

    /// Give up after DURATION (exit 3), listing what each object still waits for
    #[arg(
        long,
        value_name = "DURATION",
        default_value = "5m",
        help_heading = "Conditions"
    )]
    pub timeout: String,

    #[command(flatten)]
    pub flags: WaitFlags,
}

/// Wait behaviour, shared by `wait` and `push --wait`.
#[derive(Debug, Clone, Args)]
pub struct WaitFlags {
    /// Also wait for Deployments, StatefulSets, DaemonSets and Jobs in the inventories to roll out
    #[arg(long, help_heading = "Conditions")]
    pub health: bool,

    /// Do not follow Flux objects listed in Kustomization inventories
    #[arg(long, help_heading = "Conditions")]
    pub no_inventory: bool,

    /// Keep waiting through failures (the controller retries) until the timeout
    #[arg(long, help_heading = "Conditions")]
    pub no_fail_fast: bool,

    /// Skip suspended objects instead of failing on them
    #[arg(long, help_heading = "Conditions")]
    pub ignore_suspended: bool,

    /// Write a JUnit XML report (one testcase per object) for GitLab's test reports
    #[arg(long, value_name = "FILE", help_heading = "Output")]
    pub junit: Option<PathBuf>,
}
