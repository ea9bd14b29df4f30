//! The Kubernetes layer: choosing a context, building clients, and turning
//! API failures into typed errors with exit codes and hints.

pub mod exec;
pub mod kubeconfig;
pub mod objects;
pub mod watch;

use std::time::Duration;

use crate::error::{Diagnostic, ExitCode};
pub use kubeconfig::{ContextError, ContextRequest, ResolvedContext};

/// One cluster the command talks to.
#[derive(Clone)]
pub struct Cluster {
    /// The kubeconfig context name (shown in multi-cluster views).
    pub context: String,
    pub resolved: ResolvedContext,
    pub client: kube::Client,
    /// Time limit for one non-watch request, if any.
    pub request_timeout: Option<Duration>,
}

impl Cluster {
    /// Connect to the cluster of a resolved context.
    pub async fn connect(
        kc: kube::config::Kubeconfig,
        resolved: ResolvedContext,
        request_timeout: Option<Duration>,
    ) -> Result<Cluster, ContextError> {
        let limit = request_timeout.map(|after| exec::ExecLimit {
            after,
            flag: "--request-timeout",
        });
        Cluster::connect_within(kc, resolved, request_timeout, limit).await
    }

    /// [`Cluster::connect`], with an exec credential plugin bounded by
    /// `exec_limit` (the tighter of `--request-timeout` and the command's
    /// `--timeout`).
    pub async fn connect_within(
        kc: kube::config::Kubeconfig,
        resolved: ResolvedContext,
        request_timeout: Option<Duration>,
        exec_limit: Option<exec::ExecLimit>,
    ) -> Result<Cluster, ContextError> {
        let mut config = kubeconfig::client_config(kc, &resolved).await?;
        // kube-rs would run an exec plugin itself, synchronously, with no
        // time limit and its stdout in the error: run it here instead.
        exec::resolve(&mut config, &resolved.context, exec_limit).await?;
        // `--request-timeout 0` means no limit: not even kube's own 30 s
        // for connecting (and the TLS handshake).
        config.connect_timeout = request_timeout;
        // Watches are long-lived: never cut them with a read timeout; the
        // watch layer has its own liveness handling.
        config.read_timeout = None;
        let client = kube::Client::try_from(config).map_err(|source| ContextError::Client {
            context: resolved.context.clone(),
            source,
        })?;
        Ok(Cluster {
            context: resolved.context.clone(),
            resolved,
            client,
            request_timeout,
        })
    }

    /// The default namespace (flag, context, or flux-system).
    pub fn namespace(&self) -> &str {
        &self.resolved.namespace
    }
}

/// A failed request to the Kubernetes API.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("cannot reach the Kubernetes API of context {context:?}{}", server_suffix(.server))]
    Unreachable {
        context: String,
        server: Option<String>,
        #[source]
        source: KubeCause,
    },
    #[error("the Kubernetes API refused our credentials (401) for context {context:?}")]
    Unauthorized {
        context: String,
        #[source]
        source: KubeCause,
    },
    #[error("forbidden: cannot {verb} {resource} in {}", scope(.namespace))]
    Forbidden {
        verb: String,
        resource: String,
        namespace: Option<String>,
        #[source]
        source: KubeCause,
    },
    #[error("{kind} {namespace}/{name} not found")]
    NotFound {
        kind: String,
        namespace: String,
        name: String,
    },
    #[error("Flux is not installed in context {context:?}: the API group {group} is not served")]
    FluxNotInstalled { context: String, group: String },
    #[error("request to the Kubernetes API timed out after {after:?}")]
    TimedOut { after: Duration },
    #[error("the server of context {context:?}{} does not answer as a Kubernetes API", server_suffix(.server))]
    NotKubernetes {
        context: String,
        server: Option<String>,
        #[source]
        source: KubeCause,
    },
    #[error("the Kubernetes API rejected the request")]
    Other {
        #[source]
        source: KubeCause,
    },
}

/// A kube error as a cause line: an API `Status` as `<code> <reason>:
/// <message>` (kube's own text repeats it after a debug dump of the
/// Status); anything else as kube prints it.
#[derive(Debug)]
pub struct KubeCause(pub Box<kube::Error>);

impl std::fmt::Display for KubeCause {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.0.as_ref() {
            kube::Error::Api(status) => {
                let message = status.message.trim();
                let message = if looks_like_html(message) {
                    "an HTML page"
                } else {
                    message
                };
                let head = [status.code.to_string(), status.reason.clone()]
                    .into_iter()
                    .filter(|p| !p.is_empty() && p != "0")
                    .collect::<Vec<_>>()
                    .join(" ");
                match (head.is_empty(), message.is_empty()) {
                    (false, false) => write!(f, "{head}: {message}"),
                    (false, true) => f.write_str(&head),
                    (true, _) => f.write_str(message),
                }
            }
            other => write!(f, "{}", crate::error::redact(&other.to_string())),
        }
    }
}

impl std::error::Error for KubeCause {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self.0.as_ref() {
            // The Status is already said in full.
            kube::Error::Api(_) => None,
            other => other.source(),
        }
    }
}

fn looks_like_html(text: &str) -> bool {
    let t = text.trim_start().to_ascii_lowercase();
    t.starts_with("<!doctype html") || t.starts_with("<html") || t.starts_with("<?xml")
}

fn server_suffix(server: &Option<String>) -> String {
    server
        .as_ref()
        .map(|s| format!(" at {s}"))
        .unwrap_or_default()
}

fn scope(ns: &Option<String>) -> String {
    match ns {
        Some(ns) => format!("namespace {ns:?}"),
        None => "all namespaces".to_string(),
    }
}

impl Diagnostic for ApiError {
    fn exit_code(&self) -> ExitCode {
        match self {
            ApiError::Unreachable { .. }
            | ApiError::Unauthorized { .. }
            | ApiError::Forbidden { .. } => ExitCode::Unavailable,
            ApiError::NotFound { .. } | ApiError::FluxNotInstalled { .. } => ExitCode::Usage,
            ApiError::NotKubernetes { .. } => ExitCode::Unavailable,
            ApiError::TimedOut { .. } => ExitCode::Unavailable,
            ApiError::Other { .. } => ExitCode::Failure,
        }
    }

    fn hint(&self) -> Option<String> {
        match self {
            ApiError::Unreachable { .. } => Some(
                "check the context's server, the network, and (GitLab agent) that the agent is connected; --request-timeout raises the limit"
                    .into(),
            ),
            ApiError::Unauthorized { .. } => Some(
                "the token or certificate is invalid or expired: refresh the kubeconfig (in GitLab CI the job token only lives as long as the job)"
                    .into(),
            ),
            ApiError::Forbidden { .. } => Some(
                "grant the Role in docs/rbac.md to this identity (GitLab agent: ci_access impersonation)"
                    .into(),
            ),
            ApiError::NotFound { namespace, .. } => Some(format!(
                "check the name and namespace (-n {namespace}), or search all namespaces with -A"
            )),
            ApiError::FluxNotInstalled { .. } => Some(
                "install Flux (flux install, or flux bootstrap gitlab) or pick another --context".into(),
            ),
            ApiError::TimedOut { .. } => Some("raise --request-timeout or check the cluster's health".into()),
            ApiError::NotKubernetes { .. } => Some(
                "it answered something else (an HTML page, a login form?): check the context's server URL and any proxy on the way (HTTPS_PROXY, NO_PROXY)"
                    .into(),
            ),
            ApiError::Other { .. } => None,
        }
    }
}

impl ApiError {
    /// Classify a kube error for a request (`verb` on `resource`).
    pub fn from_kube(
        cluster: &Cluster,
        verb: &str,
        resource: &str,
        namespace: Option<&str>,
        err: kube::Error,
    ) -> ApiError {
        match &err {
            kube::Error::Api(status) if status.code == 401 => ApiError::Unauthorized {
                context: cluster.context.clone(),
                source: KubeCause(Box::new(err)),
            },
            kube::Error::Api(status) if status.code == 403 => ApiError::Forbidden {
                verb: verb.to_string(),
                resource: resource.to_string(),
                namespace: namespace.map(str::to_string),
                source: KubeCause(Box::new(err)),
            },
            kube::Error::HyperError(_)
            | kube::Error::Service(_)
            | kube::Error::HttpError(_)
            | kube::Error::TlsRequired => ApiError::Unreachable {
                context: cluster.context.clone(),
                server: cluster.resolved.server.clone(),
                source: KubeCause(Box::new(err)),
            },
            kube::Error::SerdeError(_) => ApiError::NotKubernetes {
                context: cluster.context.clone(),
                server: cluster.resolved.server.clone(),
                source: KubeCause(Box::new(err)),
            },
            kube::Error::Api(status) if looks_like_html(&status.message) => {
                ApiError::NotKubernetes {
                    context: cluster.context.clone(),
                    server: cluster.resolved.server.clone(),
                    source: KubeCause(Box::new(err)),
                }
            }
            _ => ApiError::Other {
                source: KubeCause(Box::new(err)),
            },
        }
    }
}
