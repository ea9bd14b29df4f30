//! `tag` command-line arguments.

use clap::Args;
use std::path::PathBuf;

use super::push::{DeployArgs, RegistryArgs};

#[derive(Debug, Clone, Args)]
#[command(after_long_help = "\
Promotes an artifact already in the registry: the manifest is read by digest and written,
byte for byte, under each NEW_TAG of the same repository, so its digest does not change.
Tags that already point at it are left as they are (\"unchanged\").

OCI-URL names the artifact:
  oci://REGISTRY/REPOSITORY:TAG@sha256:DIGEST  (ARTIFACT_URL of push) the digest, provided TAG
                                               still points at it: a moved tag is refused (exit 1)
  oci://REGISTRY/REPOSITORY@sha256:DIGEST      exactly that digest, wherever the tags are now
  oci://REGISTRY/REPOSITORY:TAG                what TAG points at now

Only Flux artifacts (config application/vnd.cncf.flux.config.v1+json) and Helm charts are
tagged unless --any-media-type is given. Credentials, TLS and retries are as for push.

Examples:
  kubectl gitlab-flux tag \"$ARTIFACT_URL\" production --dotenv production.env
  kubectl gitlab-flux tag \"$ARTIFACT_URL\" production --trigger --wait --junit flux-wait.xml
  kubectl gitlab-flux tag oci://registry.example.com/team/app/manifests@sha256:… v1.2.0 stable")]
pub struct TagArgs {
    /// The artifact: oci://REGISTRY/REPOSITORY[:TAG][@sha256:DIGEST], e.g. $ARTIFACT_URL of push
    #[arg(value_name = "OCI-URL")]
    pub reference: String,

    /// Tags to point at the artifact, in its repository (one or more)
    #[arg(value_name = "NEW_TAG", required = true, num_args = 1..)]
    pub tags: Vec<String>,

    /// Also tag artifacts that are neither Flux artifacts nor Helm charts (any image or index)
    #[arg(long, help_heading = "Artifact")]
    pub any_media_type: bool,

    #[command(flatten)]
    pub registry: RegistryArgs,

    /// Write KEY=VALUE lines for GitLab's artifacts:reports:dotenv (the keys push writes, for the first NEW_TAG)
    #[arg(long, value_name = "FILE", help_heading = "Output")]
    pub dotenv: Option<PathBuf>,

    #[command(flatten)]
    pub deploy: DeployArgs,
}
