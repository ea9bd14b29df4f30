//! `trigger` command-line arguments.

use clap::{Args, ValueEnum};
use std::path::PathBuf;

use super::TargetArgs;

#[derive(Debug, Clone, Args)]
#[command(after_long_help = "\
Examples:
  kubectl gitlab-flux trigger kustomization/apps -n flux-system
  kubectl gitlab-flux trigger --artifact oci://registry.gitlab.com/team/app/manifests:v1.2.0 --dependents -A
  kubectl gitlab-flux trigger --receiver https://flux-webhook.example.com/hook/… --token-env FLUX_RECEIVER_TOKEN")]
pub struct TriggerArgs {
    #[command(flatten)]
    pub target: TargetArgs,

    /// HelmReleases: force a one-off install or upgrade (reconcile.fluxcd.io/forceAt)
    #[arg(long, help_heading = "Method")]
    pub force: bool,

    /// HelmReleases: reset the failure counters (reconcile.fluxcd.io/resetAt)
    #[arg(long, help_heading = "Method")]
    pub reset: bool,

    /// Fail instead of skipping selected objects that are suspended
    #[arg(long, help_heading = "Selection")]
    pub fail_on_suspended: bool,

    /// Call a Flux Receiver webhook instead of annotating objects (needs no cluster access)
    #[arg(long, value_name = "URL", help_heading = "Webhook")]
    pub receiver: Option<String>,

    /// How the Receiver validates calls
    #[arg(long, value_enum, default_value_t = ReceiverType::GenericHmac, help_heading = "Webhook")]
    pub receiver_type: ReceiverType,

    /// The X-Gitlab-Event a gitlab Receiver is called with; it must be one of its spec.events, when it lists some
    #[arg(
        long,
        value_name = "EVENT",
        default_value = "Push Hook",
        help_heading = "Webhook"
    )]
    pub gitlab_event: String,

    /// Read the Receiver token from FILE
    #[arg(
        long,
        value_name = "FILE",
        help_heading = "Webhook",
        conflicts_with = "token_env"
    )]
    pub token_file: Option<PathBuf>,

    /// Read the Receiver token from the environment variable NAME (default: stdin)
    #[arg(long, value_name = "NAME", help_heading = "Webhook")]
    pub token_env: Option<String>,

    /// Write KEY=VALUE lines (FLUX_RECONCILE_TOKEN, …) for GitLab's artifacts:reports:dotenv
    #[arg(long, value_name = "FILE", help_heading = "Output")]
    pub dotenv: Option<PathBuf>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ReceiverType {
    /// No validation beyond the secret path
    Generic,
    /// X-Signature: sha256=<HMAC of the body>
    GenericHmac,
    /// X-Gitlab-Token: <token>
    Gitlab,
}
