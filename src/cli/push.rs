//! `push` command-line arguments.

use clap::Args;
use std::path::PathBuf;

use super::wait::WaitFlags;

#[derive(Debug, Clone, Args)]
#[command(after_long_help = "\
Credentials, first match wins: --creds or --username with --password-stdin; in GitLab CI,
CI_DEPLOY_USER/CI_DEPLOY_PASSWORD (when set) or CI_REGISTRY_USER/CI_REGISTRY_PASSWORD when the
registry is $CI_REGISTRY; the docker config ($DOCKER_CONFIG/config.json or ~/.docker/config.json:
auths, credHelpers, credsStore); anonymous.

Annotations: org.opencontainers.image.source and .revision come from GitLab CI (CI_PROJECT_URL,
CI_COMMIT_TAG or CI_COMMIT_REF_NAME @sha1: CI_COMMIT_SHA) or from the git checkout holding PATH;
.created from CI_COMMIT_TIMESTAMP or the commit time, so re-running a pipeline pushes nothing new.

Examples:
  kubectl gitlab-flux push ./deploy oci://$CI_REGISTRY_IMAGE/manifests:$CI_COMMIT_SHORT_SHA --tag latest
  kubectl gitlab-flux push ./deploy oci://registry.example.com/team/app --dry-run
  kubectl gitlab-flux push ./chart oci://$CI_REGISTRY_IMAGE/charts/app --helm-chart")]
pub struct PushArgs {
    /// Directory (or single file) of manifests to package
    #[arg(value_name = "PATH")]
    pub path: PathBuf,

    /// Where to push: oci://REGISTRY/REPOSITORY[:TAG] (default tag in GitLab CI: the short commit SHA, else latest)
    #[arg(value_name = "OCI-URL")]
    pub reference: String,

    /// Also tag the artifact with TAG (repeatable); blobs are uploaded once
    #[arg(
        short = 't',
        long = "tag",
        value_name = "TAG",
        help_heading = "Artifact"
    )]
    pub tags: Vec<String>,

    /// Ignore files matching PATTERN, gitignore syntax (repeatable), on top of the Flux defaults and .sourceignore files
    #[arg(long = "ignore", value_name = "PATTERN", help_heading = "Artifact")]
    pub ignore: Vec<String>,

    /// Add the manifest annotation KEY=VALUE (repeatable; overrides computed ones)
    #[arg(
        short = 'a',
        long = "annotation",
        value_name = "KEY=VALUE",
        help_heading = "Artifact"
    )]
    pub annotations: Vec<String>,

    /// Source URL annotation (default: CI_PROJECT_URL or the git remote origin)
    #[arg(long, value_name = "URL", help_heading = "Artifact")]
    pub source: Option<String>,

    /// Revision annotation, e.g. main@sha1:<commit> (default: from GitLab CI or the git checkout)
    #[arg(long, value_name = "REVISION", help_heading = "Artifact")]
    pub revision: Option<String>,

    /// Creation time annotation, RFC 3339 (default: CI_COMMIT_TIMESTAMP or the commit time, else now)
    #[arg(long, value_name = "TIME", help_heading = "Artifact")]
    pub created: Option<String>,

    /// Package PATH as a Helm chart in Helm's OCI format (automatic when PATH holds Chart.yaml)
    #[arg(long, help_heading = "Artifact")]
    pub helm_chart: bool,

    /// Do not check that every .yaml/.yml file parses before pushing
    #[arg(long, help_heading = "Artifact")]
    pub no_validate: bool,

    /// Show the files, layer digest and manifest that would be pushed; upload nothing
    #[arg(long, help_heading = "Artifact")]
    pub dry_run: bool,

    /// Push nothing when the first tag already holds an artifact with the same content
    #[arg(long, help_heading = "Artifact")]
    pub skip_unchanged: bool,

    #[command(flatten)]
    pub registry: RegistryArgs,

    /// Write KEY=VALUE lines for GitLab's artifacts:reports:dotenv (ARTIFACT_URL, ARTIFACT_DIGEST, …)
    #[arg(long, value_name = "FILE", help_heading = "Output")]
    pub dotenv: Option<PathBuf>,

    #[command(flatten)]
    pub deploy: DeployArgs,
}

/// Registry flags, shared by `push` and `tag`: credentials, TLS, deadline.
#[derive(Debug, Clone, Args)]
pub struct RegistryArgs {
    /// Registry credentials as USER:PASSWORD (prefer --password-stdin: flags show up in process lists)
    #[arg(long, value_name = "USER:PASSWORD", help_heading = "Registry", conflicts_with_all = ["username", "password_stdin"])]
    pub creds: Option<String>,

    /// Registry user name; the password is read from stdin with --password-stdin
    #[arg(
        short = 'u',
        long,
        value_name = "USER",
        help_heading = "Registry",
        requires = "password_stdin"
    )]
    pub username: Option<String>,

    /// Read the registry password (or token) from stdin
    #[arg(long, help_heading = "Registry", requires = "username")]
    pub password_stdin: bool,

    /// Allow plain HTTP for this registry (loopback registries are always allowed)
    #[arg(long, help_heading = "Registry")]
    pub insecure_registry: bool,

    /// PEM file with extra CA certificates to trust for the registry
    #[arg(long, value_name = "FILE", help_heading = "Registry")]
    pub ca_file: Option<PathBuf>,

    /// Give up after DURATION, retries included
    #[arg(
        long,
        value_name = "DURATION",
        default_value = "5m",
        help_heading = "Registry"
    )]
    pub timeout: String,
}

/// `--trigger`/`--wait` and their flags, shared by `push` and `tag`: the
/// same code paths as `trigger --artifact` and `wait --artifact`.
#[derive(Debug, Clone, Args)]
pub struct DeployArgs {
    /// Then trigger everything that consumes the artifact (as `trigger --artifact`)
    #[arg(long, help_heading = "Deploy")]
    pub trigger: bool,

    /// Then (after triggering) wait for the consumers (as `wait --artifact`)
    #[arg(long, help_heading = "Deploy")]
    pub wait: bool,

    /// With --trigger/--wait: also follow what dependsOn the consumers
    #[arg(long, help_heading = "Deploy")]
    pub dependents: bool,

    /// With --trigger/--wait: look for consumers in all namespaces
    #[arg(short = 'A', long, help_heading = "Deploy")]
    pub all_namespaces: bool,

    /// With --wait: give up waiting after DURATION (exit 3)
    #[arg(
        long,
        value_name = "DURATION",
        default_value = "5m",
        help_heading = "Deploy"
    )]
    pub wait_timeout: String,

    #[command(flatten)]
    pub wait_flags: WaitFlags,
}
