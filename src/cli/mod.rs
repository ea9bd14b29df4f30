//! Command-line types (clap). This layer knows nothing of Kubernetes or OCI:
//! it parses, and [`crate::config`] turns what it parsed into validated
//! configuration.

pub mod push;
pub mod receiver;
pub mod status;
pub mod tag;
pub mod trigger;
pub mod wait;

use clap::{Args, Parser, Subcommand, ValueEnum};
use std::path::PathBuf;

/// The name kubectl users type; used in usage lines and hints.
pub const DISPLAY_NAME: &str = "kubectl gitlab-flux";

const AFTER_HELP: &str = "\
Exit codes: 0 success, 1 operation failed, 2 usage or configuration error,
3 timed out, 4 registry or cluster unreachable/unauthorized/forbidden, 130 interrupted.

Docs: docs/usage.md (every command and flag), docs/gitlab-ci.md (pipelines).";

/// Push Flux OCI artifacts from GitLab CI, make Flux reconcile now, and wait
/// until the exact revision is applied and healthy.
#[derive(Debug, Parser)]
#[command(
    name = "kubectl-gitlab_flux",
    bin_name = "kubectl gitlab-flux",
    version,
    about = "Push Flux OCI artifacts, trigger Flux, and wait until the exact revision is applied and healthy",
    long_about = "Push Flux OCI artifacts, trigger Flux, and wait until the exact revision is applied and healthy.\n\n\
A typical GitLab CI deploy job runs:\n\n  \
kubectl gitlab-flux push ./deploy oci://$CI_REGISTRY_IMAGE/manifests:$CI_COMMIT_SHORT_SHA --dotenv push.env\n  \
kubectl gitlab-flux trigger --artifact \"$ARTIFACT_URL\" --dependents\n  \
kubectl gitlab-flux wait --artifact \"$ARTIFACT_URL\" --dependents --junit flux-wait.xml\n\n\
or all three at once: push … --trigger --wait.",
    after_help = AFTER_HELP,
    propagate_version = true,
    disable_help_subcommand = true,
    max_term_width = 100
)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,

    #[command(subcommand)]
    pub command: Command,
}

/// Flags every command accepts, named as kubectl names them.
#[derive(Debug, Clone, Args)]
pub struct GlobalArgs {
    /// Path to the kubeconfig file (default: $KUBECONFIG, which may list several files, else ~/.kube/config)
    #[arg(long, global = true, value_name = "PATH", help_heading = "Cluster")]
    pub kubeconfig: Option<PathBuf>,

    /// Kubeconfig context to use; `wait` and `status` accept it several times to watch several clusters
    #[arg(long, global = true, value_name = "NAME", help_heading = "Cluster")]
    pub context: Vec<String>,

    /// GitLab agent to use, as <agent-config-project-path>:<agent-name> or just :<agent-name>
    /// (picks the kubeconfig context GitLab CI made for it)
    #[arg(
        long,
        global = true,
        value_name = "PATH:AGENT",
        help_heading = "Cluster"
    )]
    pub agent: Vec<String>,

    /// Namespace (default: the context's namespace, else flux-system)
    #[arg(
        short,
        long,
        global = true,
        value_name = "NS",
        help_heading = "Cluster"
    )]
    pub namespace: Option<String>,

    /// Time limit of a single request to the cluster, e.g. 10s, 1m; 0 means none
    #[arg(
        long,
        global = true,
        value_name = "DURATION",
        default_value = "30s",
        help_heading = "Cluster"
    )]
    pub request_timeout: String,

    /// Output format of the result on stdout
    #[arg(short, long, global = true, value_enum, default_value_t = OutputFormat::Table, help_heading = "Output")]
    pub output: OutputFormat,

    /// When to use colours (NO_COLOR turns them off in auto)
    #[arg(long, global = true, value_enum, default_value_t = ColorChoice::Auto, value_name = "WHEN", help_heading = "Output")]
    pub color: ColorChoice,

    /// Log what happens to stderr; repeat for more detail (-vv: HTTP requests)
    #[arg(short, long, global = true, action = clap::ArgAction::Count, help_heading = "Output")]
    pub verbose: u8,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OutputFormat {
    /// Human-readable table or summary
    Table,
    /// JSON document
    Json,
    /// YAML document
    Yaml,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ColorChoice {
    /// Colour when writing to a terminal and NO_COLOR is unset
    Auto,
    /// Always colour (not JSON/YAML)
    Always,
    /// Never colour
    Never,
}

/// Parsed once per process, so the size of the largest variant does not matter.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Package a directory (or file) of manifests as a Flux OCI artifact and push it
    Push(push::PushArgs),
    /// Point more tags at an artifact already pushed (promotion), keeping its digest
    Tag(tag::TagArgs),
    /// Ask Flux to reconcile now: by object, or everything that consumes an artifact
    Trigger(trigger::TriggerArgs),
    /// Wait until Flux applied exactly the pushed revision and everything is Ready
    Wait(wait::WaitArgs),
    /// Show the readiness of OCIRepositories, Kustomizations and HelmReleases
    Status(status::StatusArgs),
    /// Set up Flux Receivers (webhooks) so CI jobs can trigger without cluster access
    #[command(subcommand)]
    Receiver(receiver::ReceiverCommand),
    /// Show which kubeconfig context, cluster and namespace would be used, and why
    Context(ContextArgs),
    /// Print a shell completion script
    Completion(CompletionArgs),
    /// Print the plugin's version, git commit and build target
    Version(VersionArgs),
    /// Answer kubectl's plugin completion protocol (used by kubectl_complete-gitlab_flux)
    #[command(name = "__complete", hide = true)]
    Complete(CompleteArgs),
}

#[derive(Debug, Args)]
pub struct ContextArgs {
    /// List every context of the kubeconfig instead of the chosen one
    #[arg(long)]
    pub list: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Shell {
    Bash,
    Zsh,
    Fish,
    Powershell,
    Elvish,
}

#[derive(Debug, Args)]
pub struct CompletionArgs {
    /// The shell to generate the script for
    #[arg(value_enum)]
    pub shell: Shell,
}

#[derive(Debug, Args)]
pub struct VersionArgs {}

#[derive(Debug, Args)]
pub struct CompleteArgs {
    /// The words after `kubectl gitlab-flux`, the last one being completed (may be empty)
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    pub words: Vec<String>,
}

/// Flags that select Flux objects: shared by `trigger`, `wait` and `status`.
#[derive(Debug, Clone, Args)]
pub struct TargetArgs {
    /// Objects as KIND/NAME: ocirepository|ocirepo|oci, kustomization|ks, helmrelease|hr,
    /// gitrepository|gitrepo, bucket, helmrepository|helmrepo, helmchart
    #[arg(value_name = "KIND/NAME")]
    pub objects: Vec<String>,

    /// Select what consumes this artifact: oci://REGISTRY/REPO[:TAG][@sha256:DIGEST]
    /// (the `url` that push prints): matching OCIRepositories, then the Kustomizations
    /// and HelmReleases that use them
    #[arg(long, value_name = "OCI-URL", help_heading = "Selection")]
    pub artifact: Option<String>,

    /// Also select everything that dependsOn the selected objects, transitively
    #[arg(long, help_heading = "Selection")]
    pub dependents: bool,

    /// Look in all namespaces
    #[arg(short = 'A', long, help_heading = "Selection")]
    pub all_namespaces: bool,
}

/// Re-export for the binary.
pub use clap::Parser as _;

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn cli_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn global_flags_go_after_the_subcommand() {
        let cli = Cli::try_parse_from([
            "kubectl-gitlab_flux",
            "status",
            "-n",
            "apps",
            "--context",
            "a",
            "--context",
            "b",
            "-o",
            "json",
        ])
        .expect("parses");
        assert_eq!(cli.global.namespace.as_deref(), Some("apps"));
        assert_eq!(cli.global.context, vec!["a", "b"]);
        assert_eq!(cli.global.output, OutputFormat::Json);
    }
}
