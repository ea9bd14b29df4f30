//! Errors of the OCI layer: references, artifacts, credentials, registries.
//!
//! Every variant knows its exit code and a hint. Messages never contain a
//! secret: credentials are named by their source ("--creds",
//! "CI_REGISTRY_PASSWORD", "docker config …"), never by value.

use std::path::PathBuf;
use std::time::Duration;

use crate::error::{Diagnostic, ExitCode};

/// What went wrong in the OCI layer.
#[derive(Debug, thiserror::Error)]
pub enum OciError {
    /// The `oci://` reference does not follow the distribution grammar.
    #[error("invalid reference {input:?}: {reason}")]
    Reference {
        input: String,
        reason: String,
        hint: String,
    },

    /// A tag given with `--tag` (or derived) is not a valid tag.
    #[error("invalid tag {tag:?}: {reason}")]
    Tag { tag: String, reason: String },

    /// PATH does not exist.
    #[error("{path}: no such file or directory")]
    PathMissing { path: PathBuf },

    /// Nothing is left to pack once the ignore rules are applied.
    #[error("nothing to push in {path}: every file is ignored or the directory is empty")]
    Empty { path: PathBuf, ignored: usize },

    /// A symlink points outside PATH.
    #[error("symlink {link} points outside {root} (to {target})")]
    SymlinkEscapes {
        link: PathBuf,
        target: PathBuf,
        root: PathBuf,
    },

    /// A symlink whose target does not exist, or a symlink loop.
    #[error("cannot follow symlink {link}: {reason}")]
    BrokenSymlink { link: PathBuf, reason: String },

    /// A file or directory could not be read.
    #[error("cannot read {path}")]
    Unreadable {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    /// A FIFO, socket or device inside PATH.
    #[error("cannot pack {path}: it is a {kind}, not a regular file or directory")]
    NotRegular { path: PathBuf, kind: &'static str },

    /// A `.yaml`/`.yml` file does not parse.
    #[error("{path}:{line}:{column}: invalid YAML: {message}")]
    InvalidYaml {
        path: PathBuf,
        line: u64,
        column: u64,
        message: String,
    },

    /// A YAML file beyond what the check parses (its structure, not its
    /// validity: e.g. alias expansion past the parser's guards).
    #[error("{path}: too large to check as YAML ({limit})")]
    YamlTooLarge { path: PathBuf, limit: String },

    /// An ignore pattern (from `--ignore` or a `.sourceignore`) is malformed.
    #[error("invalid ignore pattern {pattern:?}: {reason}")]
    IgnorePattern { pattern: String, reason: String },

    /// A Helm chart that cannot be packaged.
    #[error("cannot package the Helm chart in {path}: {reason}")]
    HelmChart { path: PathBuf, reason: String },

    /// An annotation that cannot be stored.
    #[error("invalid annotation {key:?}: {reason}")]
    Annotation { key: String, reason: String },

    /// Credentials given on the command line or in the environment are unusable.
    #[error("unusable registry credentials from {source_name}: {reason}")]
    Credentials {
        source_name: String,
        reason: String,
        hint: String,
    },

    /// The `--ca-file` cannot be used.
    #[error("cannot use the CA file {path}: {reason}")]
    CaFile { path: PathBuf, reason: String },

    /// The registry cannot be reached (DNS, connection refused, TLS).
    #[error("registry {registry} is unreachable: {reason}")]
    Unreachable {
        registry: String,
        reason: String,
        hint: String,
    },

    /// The registry kept failing (5xx, 429) until the retries ran out.
    #[error("registry {registry} kept failing: {reason}")]
    Unavailable { registry: String, reason: String },

    /// The registry asked to retry later than the deadline allows: given up
    /// at once (exit 3), naming what it asked.
    #[error(
        "registry {registry} answered {status} while {during} and asked to retry after {}, beyond --timeout {}: not waiting for it",
        humantime::format_duration(*.retry_after),
        humantime::format_duration(*.timeout)
    )]
    RetryAfterPastDeadline {
        registry: String,
        status: String,
        during: String,
        retry_after: std::time::Duration,
        timeout: std::time::Duration,
    },

    /// 401: no or wrong credentials.
    #[error("registry {registry} refused the credentials ({credentials}): {reason}")]
    Unauthorized {
        registry: String,
        credentials: String,
        reason: String,
        anonymous: bool,
    },

    /// 401 for a token the token service just issued for our credentials:
    /// the credentials are right, the token is not accepted (expired).
    #[error(
        "registry {registry} rejected the token issued for the credentials ({credentials}) while {during}: it has expired or is not valid for this registry"
    )]
    TokenRejected {
        registry: String,
        credentials: String,
        during: String,
    },

    /// 403 or insufficient scope: the credentials are valid but may not push here.
    #[error("registry {registry} denied {action} on {repository} ({credentials}): {reason}")]
    Forbidden {
        registry: String,
        repository: String,
        action: String,
        credentials: String,
        reason: String,
        deploy_token: bool,
    },

    /// The registry rejected what we sent (400 MANIFEST_INVALID, …).
    #[error("registry {registry} rejected the {what}: {status} {code}{message}")]
    Rejected {
        registry: String,
        what: String,
        status: u16,
        code: String,
        message: String,
    },

    /// The registry answered something we do not understand.
    #[error("unexpected answer from registry {registry}: {reason}")]
    Protocol { registry: String, reason: String },

    /// `--timeout` passed.
    #[error("timed out after {} while {during}", humantime::format_duration(*after))]
    Timeout { after: Duration, during: String },
}

impl Diagnostic for OciError {
    fn exit_code(&self) -> ExitCode {
        use OciError::*;
        match self {
            Reference { .. }
            | Tag { .. }
            | PathMissing { .. }
            | Empty { .. }
            | SymlinkEscapes { .. }
            | BrokenSymlink { .. }
            | Unreadable { .. }
            | NotRegular { .. }
            | InvalidYaml { .. }
            | YamlTooLarge { .. }
            | IgnorePattern { .. }
            | HelmChart { .. }
            | Annotation { .. }
            | Credentials { .. }
            | CaFile { .. } => ExitCode::Usage,
            Unreachable { .. }
            | Unavailable { .. }
            | Unauthorized { .. }
            | TokenRejected { .. }
            | Forbidden { .. } => ExitCode::Unavailable,
            Rejected { .. } | Protocol { .. } => ExitCode::Failure,
            Timeout { .. } | RetryAfterPastDeadline { .. } => ExitCode::Timeout,
        }
    }

    fn hint(&self) -> Option<String> {
        use OciError::*;
        let hint = match self {
            Reference { hint, .. } => hint.clone(),
            Tag { .. } => "a tag is 1 to 128 characters: letters, digits, '_', '.' and '-', \
                 not starting with '.' or '-'"
                .into(),
            PathMissing { .. } => {
                "give the directory (or file) of manifests to push, relative to the current directory"
                    .into()
            }
            Empty { ignored, .. } => format!(
                "{ignored} file(s) were all ignored by the default patterns, .sourceignore files \
                 and --ignore; check the patterns, or point PATH at the manifests"
            ),
            SymlinkEscapes { .. } => {
                "only symlinks that resolve inside PATH are packed; copy the file into the tree \
                 or add the link to .sourceignore / --ignore"
                    .into()
            }
            BrokenSymlink { .. } => {
                "fix or remove the link, or add it to .sourceignore / --ignore".into()
            }
            Unreadable { .. } => {
                "make the file readable by this user, or add it to .sourceignore / --ignore".into()
            }
            NotRegular { .. } => "remove it, or add it to .sourceignore / --ignore".into(),
            InvalidYaml { .. } => {
                "fix the file, ignore it with --ignore, or skip the check with --no-validate".into()
            }
            YamlTooLarge { .. } => {
                "the file was not found invalid, only too large to check: skip the check with \
                 --no-validate (or leave the file out with --ignore)"
                    .into()
            }
            IgnorePattern { .. } => "patterns use .gitignore syntax, e.g. --ignore '*.md'".into(),
            HelmChart { .. } => {
                "Chart.yaml needs at least apiVersion, name and a SemVer version; \
                 drop --helm-chart to push the directory as plain manifests"
                    .into()
            }
            Annotation { .. } => "write annotations as KEY=VALUE on one line, e.g. \
                 --annotation org.opencontainers.image.title=app"
                .into(),
            Credentials { hint, .. } => hint.clone(),
            CaFile { .. } => "--ca-file takes a PEM file with one or more certificates".into(),
            Unreachable { hint, .. } => hint.clone(),
            Unavailable { .. } => {
                "the registry answered with server errors or rate limits on every retry; \
                 try again later or raise --timeout"
                    .into()
            }
            RetryAfterPastDeadline { .. } => {
                "the registry is rate-limiting: try again later, or raise --timeout above its Retry-After"
                    .into()
            }
            Unauthorized { anonymous: true, .. } => {
                "this registry needs credentials: use --creds USER:PASSWORD, --username with \
                 --password-stdin, or `docker login`; in GitLab CI push to $CI_REGISTRY"
                    .into()
            }
            Unauthorized { .. } => {
                "check the user name and password/token; a GitLab token needs the write_registry \
                 (or api) scope"
                    .into()
            }
            TokenRejected { .. } => {
                "the token service accepted the credentials but the registry refused its token: \
                 a GitLab CI job token is valid only while its job runs (re-run the job), and a \
                 clock that is off (check `date -u`) makes fresh tokens look expired"
                    .into()
            }
            Forbidden {
                deploy_token: true,
                ..
            } => "the deploy token in CI_DEPLOY_USER/CI_DEPLOY_PASSWORD cannot push here: give it \
                 the write_registry scope, or pass --creds \"$CI_REGISTRY_USER:$CI_REGISTRY_PASSWORD\""
                .into(),
            Forbidden { .. } => "the credentials are valid but may not push to this repository: \
                 check the user's role (Developer or more in GitLab) and the token scopes \
                 (write_registry), and that the repository path belongs to the project"
                .into(),
            Rejected { code, .. } if code == "MANIFEST_INVALID" => {
                "the registry refused the manifest; GitLab's registry rejects unknown fields and \
                 media types. Retry with -vv and report it if it persists"
                    .into()
            }
            Rejected { code, .. } if code == "NAME_UNKNOWN" || code == "NAME_INVALID" => {
                "check the repository path; in GitLab it must start with the project path \
                 ($CI_REGISTRY_IMAGE)"
                    .into()
            }
            Rejected { .. } | Protocol { .. } => {
                "retry with -vv to see the requests; the registry may not support OCI artifacts"
                    .into()
            }
            Timeout { .. } => "raise --timeout, or check the network to the registry".into(),
        };
        Some(hint)
    }
}
