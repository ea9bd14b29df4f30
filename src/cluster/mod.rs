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
        if let Some(t) = request_timeout {
            config.connect_timeout = Some(t);
        }
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
        source: Box<kube::Error>,
    },
    #[error("the Kubernetes API refused our credentials (401) for context {context:?}")]
    Unauthorized {
        context: String,
        #[source]
        source: Box<kube::Error>,
    },
    #[error("forbidden: cannot {verb} {resource} in {}", scope(.namespace))]
    Forbidden {
        verb: String,
        resource: String,
        namespace: Option<String>,
        #[source]
        source: Box<kube::Error>,
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
    #[error("the Kubernetes API rejected the request")]
    Other {
        #[source]
        source: Box<kube::Error>,
    },
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
                source: Box::new(err),
            },
            kube::Error::Api(status) if status.code == 403 => ApiError::Forbidden {
                verb: verb.to_string(),
                resource: resource.to_string(),
                namespace: namespace.map(str::to_string),
                source: Box::new(err),
            },
            kube::Error::HyperError(_)
            | kube::Error::Service(_)
            | kube::Error::HttpError(_)
            | kube::Error::TlsRequired => ApiError::Unreachable {
                context: cluster.context.clone(),
                server: cluster.resolved.server.clone(),
                source: Box::new(err),
            },
            _ => ApiError::Other {
                source: Box::new(err),
            },
        }
    }
}
