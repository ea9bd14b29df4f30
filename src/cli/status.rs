//! `status` command-line arguments.

use clap::Args;

use super::TargetArgs;

#[derive(Debug, Clone, Args)]
#[command(after_long_help = "\
Examples:
  kubectl gitlab-flux status -A
  kubectl gitlab-flux status --artifact oci://registry.gitlab.com/team/app/manifests:v1.2.0 --tree
  kubectl gitlab-flux status kustomization/apps --watch")]
pub struct StatusArgs {
    #[command(flatten)]
    pub target: TargetArgs,

    /// Show sources, their consumers and the Flux objects in their inventories as a tree
    #[arg(long)]
    pub tree: bool,

    /// Keep the view live, redrawing as objects change (Ctrl-C to stop)
    #[arg(short, long)]
    pub watch: bool,
}
