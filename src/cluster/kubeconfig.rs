//! Choosing the kubeconfig context, the way a GitLab CI job and a laptop
//! both expect:
//!
//! 1. `--context NAME`;
//! 2. `--agent PATH:AGENT` (the context of that exact name, or the single
//!    context ending in `:AGENT`);
//! 3. `KUBE_CONTEXT` (GitLab's convention);
//! 4. the kubeconfig's current-context;
//! 5. no current-context and exactly one context (GitLab CI's injected
//!    kubeconfig): that one;
//! 6. otherwise an error listing the contexts and the flags that choose one.
//!
//! Namespace: `-n`, else the context's namespace, else `flux-system`.

use kube::config::{KubeConfigOptions, Kubeconfig};
use serde::Serialize;
use std::fmt;
use std::path::{Path, PathBuf};

use crate::error::{Diagnostic, ExitCode};

/// The namespace used when neither `-n` nor the context names one, as the
/// flux CLI defaults.
pub const DEFAULT_NAMESPACE: &str = "flux-system";

/// What the user asked for; everything optional.
#[derive(Debug, Clone, Default)]
pub struct ContextRequest {
    pub context: Option<String>,
    pub agent: Option<String>,
    /// Value of `KUBE_CONTEXT`, when set and non-empty.
    pub kube_context_env: Option<String>,
    pub namespace: Option<String>,
}

/// Why a context was chosen (shown by `kubectl gitlab-flux context`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ChosenBy {
    ContextFlag,
    AgentFlag,
    KubeContextEnv,
    CurrentContext,
    OnlyContext,
}

impl fmt::Display for ChosenBy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ChosenBy::ContextFlag => "--context",
            ChosenBy::AgentFlag => "--agent",
            ChosenBy::KubeContextEnv => "KUBE_CONTEXT",
            ChosenBy::CurrentContext => "current-context",
            ChosenBy::OnlyContext => "only context",
        })
    }
}

/// Where the namespace came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum NamespaceFrom {
    Flag,
    Context,
    Default,
}

/// The outcome of context resolution.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ResolvedContext {
    pub context: String,
    pub chosen_by: ChosenBy,
    pub cluster: Option<String>,
    pub server: Option<String>,
    pub user: Option<String>,
    pub namespace: String,
    pub namespace_from: NamespaceFrom,
}

#[derive(Debug, thiserror::Error)]
pub enum ContextError {
    #[error("cannot read kubeconfig {path}")]
    Read {
        path: String,
        #[source]
        source: kube::config::KubeconfigError,
    },
    #[error("no kubeconfig found (looked at {looked_at})")]
    Missing { looked_at: String },
    #[error("the kubeconfig has no contexts")]
    NoContexts,
    #[error("context {name:?} (from {via}) is not in the kubeconfig; available: {}", list(.available))]
    UnknownContext {
        name: String,
        via: ChosenBy,
        available: Vec<String>,
    },
    #[error("no context for GitLab agent {agent:?}; available: {}", list(.available))]
    UnknownAgent {
        agent: String,
        available: Vec<String>,
    },
    #[error("GitLab agent {agent:?} matches several contexts: {}", list(.matches))]
    AmbiguousAgent { agent: String, matches: Vec<String> },
    #[error("invalid --agent {value:?}: expected <agent-config-project-path>:<agent-name>")]
    InvalidAgent { value: String },
    #[error("no context chosen: the kubeconfig has no current-context and {} contexts: {}", .available.len(), list(.available))]
    NoneChosen { available: Vec<String> },
    #[error("context {context:?} is not usable")]
    Unusable {
        context: String,
        #[source]
        source: kube::config::KubeconfigError,
    },
    #[error(transparent)]
    Exec(#[from] super::exec::ExecError),
    #[error("cannot create a Kubernetes client for context {context:?}")]
    Client {
        context: String,
        #[source]
        source: kube::Error,
    },
}

fn list(names: &[String]) -> String {
    if names.is_empty() {
        "none".to_string()
    } else {
        names.join(", ")
    }
}

impl Diagnostic for ContextError {
    fn exit_code(&self) -> ExitCode {
        match self {
            ContextError::Exec(e) => e.exit_code(),
            _ => ExitCode::Usage,
        }
    }

    fn hint(&self) -> Option<String> {
        Some(match self {
            ContextError::Exec(e) => return e.hint(),
            ContextError::Read { .. } => {
                "check the file is a valid kubeconfig (kubectl config view --kubeconfig FILE)".into()
            }
            ContextError::Missing { .. } => "pass --kubeconfig FILE or set KUBECONFIG; in GitLab CI, share the agent with the project (ci_access) so GitLab injects KUBECONFIG".into(),
            ContextError::NoContexts => "add a context (kubectl config set-context) or use another --kubeconfig".into(),
            ContextError::UnknownContext { via: ChosenBy::KubeContextEnv, .. } => {
                "set KUBE_CONTEXT to one of the contexts listed (in GitLab CI: <agent-config-project-path>:<agent-name>)".into()
            }
            ContextError::UnknownContext { .. } => "choose one of the listed contexts with --context NAME".into(),
            ContextError::UnknownAgent { .. } => "is the agent shared with this project (ci_access in the agent's config.yaml)? Otherwise pick a listed context with --context".into(),
            ContextError::AmbiguousAgent { .. } => "give the full <agent-config-project-path>:<agent-name> to --agent".into(),
            ContextError::InvalidAgent { .. } => "e.g. --agent group/infra/agents:production, or --agent :production".into(),
            ContextError::NoneChosen { .. } => "choose one with --context NAME, --agent PATH:AGENT or the KUBE_CONTEXT variable".into(),
            ContextError::Unusable { .. } | ContextError::Client { .. } => {
                "check the context's cluster and user entries (kubectl config view --minify --context NAME)".into()
            }
        })
    }
}

/// Read the kubeconfig: `--kubeconfig`, else `KUBECONFIG` (a path list,
/// merged as kubectl merges it), else `~/.kube/config`.
pub fn load(explicit: Option<&Path>) -> Result<Kubeconfig, ContextError> {
    if let Some(path) = explicit {
        return Kubeconfig::read_from(path).map_err(|source| ContextError::Read {
            path: path.display().to_string(),
            source,
        });
    }
    let from_env = std::env::var_os("KUBECONFIG").filter(|v| !v.is_empty());
    let paths: Vec<PathBuf> = match &from_env {
        Some(list) => std::env::split_paths(list)
            .filter(|p| !p.as_os_str().is_empty())
            .collect(),
        None => dirs::home_dir()
            .map(|h| vec![h.join(".kube").join("config")])
            .unwrap_or_default(),
    };
    let existing: Vec<&PathBuf> = paths.iter().filter(|p| p.exists()).collect();
    if existing.is_empty() {
        return Err(ContextError::Missing {
            looked_at: if paths.is_empty() {
                "$KUBECONFIG and ~/.kube/config".into()
            } else {
                paths
                    .iter()
                    .map(|p| p.display().to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            },
        });
    }
    // kubectl's merge: the first file to set a value wins; lists merge by name.
    let mut merged: Option<Kubeconfig> = None;
    for path in existing {
        let next = Kubeconfig::read_from(path).map_err(|source| ContextError::Read {
            path: path.display().to_string(),
            source,
        })?;
        merged = Some(match merged {
            None => next,
            Some(acc) => acc.merge(next).map_err(|source| ContextError::Read {
                path: path.display().to_string(),
                source,
            })?,
        });
    }
    merged.ok_or(ContextError::NoContexts)
}

/// Apply the resolution rules to a loaded kubeconfig.
pub fn resolve(kc: &Kubeconfig, req: &ContextRequest) -> Result<ResolvedContext, ContextError> {
    let names: Vec<String> = kc.contexts.iter().map(|c| c.name.clone()).collect();
    let has = |n: &str| names.iter().any(|x| x == n);

    let (context, chosen_by) = if let Some(name) = &req.context {
        if !has(name) {
            return Err(ContextError::UnknownContext {
                name: name.clone(),
                via: ChosenBy::ContextFlag,
                available: names,
            });
        }
        (name.clone(), ChosenBy::ContextFlag)
    } else if let Some(agent) = &req.agent {
        (pick_agent(&names, agent)?, ChosenBy::AgentFlag)
    } else if let Some(name) = &req.kube_context_env {
        if !has(name) {
            return Err(ContextError::UnknownContext {
                name: name.clone(),
                via: ChosenBy::KubeContextEnv,
                available: names,
            });
        }
        (name.clone(), ChosenBy::KubeContextEnv)
    } else if let Some(current) = kc.current_context.as_ref().filter(|c| !c.is_empty()) {
        if !has(current) {
            return Err(ContextError::UnknownContext {
                name: current.clone(),
                via: ChosenBy::CurrentContext,
                available: names,
            });
        }
        (current.clone(), ChosenBy::CurrentContext)
    } else if names.len() == 1 {
        (names[0].clone(), ChosenBy::OnlyContext)
    } else if names.is_empty() {
        return Err(ContextError::NoContexts);
    } else {
        return Err(ContextError::NoneChosen { available: names });
    };

    let ctx = kc
        .contexts
        .iter()
        .find(|c| c.name == context)
        .and_then(|c| c.context.as_ref());
    let cluster = ctx.map(|c| c.cluster.clone()).filter(|c| !c.is_empty());
    let server = cluster.as_ref().and_then(|name| {
        kc.clusters
            .iter()
            .find(|c| &c.name == name)
            .and_then(|c| c.cluster.as_ref())
            .and_then(|c| c.server.clone())
            // Shown in reports and errors only: never with credentials.
            .map(|s| crate::error::redact(&s))
    });
    let user = ctx.and_then(|c| c.user.clone());
    let (namespace, namespace_from) = match (&req.namespace, ctx.and_then(|c| c.namespace.clone()))
    {
        (Some(ns), _) => (ns.clone(), NamespaceFrom::Flag),
        (None, Some(ns)) if !ns.is_empty() => (ns, NamespaceFrom::Context),
        _ => (DEFAULT_NAMESPACE.to_string(), NamespaceFrom::Default),
    };
    Ok(ResolvedContext {
        context,
        chosen_by,
        cluster,
        server,
        user,
        namespace,
        namespace_from,
    })
}

fn pick_agent(names: &[String], agent: &str) -> Result<String, ContextError> {
    let agent = agent.trim();
    let (path, name) = match agent.rsplit_once(':') {
        Some((path, name)) => (path, name),
        None => ("", agent),
    };
    if name.is_empty() || name.contains('/') {
        return Err(ContextError::InvalidAgent {
            value: agent.to_string(),
        });
    }
    if !path.is_empty() && names.iter().any(|n| n == agent) {
        return Ok(agent.to_string());
    }
    if !path.is_empty() {
        // A full path that does not match exactly is an error: guessing
        // another project's agent of the same name would be surprising.
        return Err(ContextError::UnknownAgent {
            agent: agent.to_string(),
            available: names.to_vec(),
        });
    }
    let suffix = format!(":{name}");
    let matches: Vec<String> = names
        .iter()
        .filter(|n| n.ends_with(&suffix))
        .cloned()
        .collect();
    match matches.len() {
        1 => Ok(matches[0].clone()),
        0 => Err(ContextError::UnknownAgent {
            agent: agent.to_string(),
            available: names.to_vec(),
        }),
        _ => Err(ContextError::AmbiguousAgent {
            agent: agent.to_string(),
            matches,
        }),
    }
}

/// Build a kube client configuration for a resolved context.
pub async fn client_config(
    kc: Kubeconfig,
    resolved: &ResolvedContext,
) -> Result<kube::Config, ContextError> {
    let options = KubeConfigOptions {
        context: Some(resolved.context.clone()),
        cluster: None,
        user: None,
    };
    let mut config = kube::Config::from_custom_kubeconfig(kc, &options)
        .await
        .map_err(|source| ContextError::Unusable {
            context: resolved.context.clone(),
            source,
        })?;
    config.default_namespace = resolved.namespace.clone();
    Ok(config)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kubeconfig(yaml: &str) -> Kubeconfig {
        Kubeconfig::from_yaml(yaml).expect("valid kubeconfig")
    }

    const GITLAB: &str = r#"
apiVersion: v1
kind: Config
clusters:
- name: gitlab
  cluster:
    server: https://kas.gitlab.com/k8s-proxy
users:
- name: agent:101
  user:
    token: ci:101:glcbt-secret
- name: agent:202
  user:
    token: ci:202:glcbt-secret
contexts:
- name: group/infra/agents:staging
  context:
    cluster: gitlab
    user: agent:101
- name: group/infra/agents:production
  context:
    cluster: gitlab
    user: agent:202
    namespace: prod-flux
"#;

    const LAPTOP: &str = r#"
apiVersion: v1
kind: Config
current-context: kind-dev
clusters:
- name: kind
  cluster: {server: "https://127.0.0.1:6443"}
users:
- name: me
  user: {token: abc}
contexts:
- name: kind-dev
  context: {cluster: kind, user: me, namespace: dev}
- name: other
  context: {cluster: kind, user: me}
"#;

    fn req() -> ContextRequest {
        ContextRequest::default()
    }

    #[test]
    fn context_flag_wins() {
        let r = resolve(
            &kubeconfig(LAPTOP),
            &ContextRequest {
                context: Some("other".into()),
                agent: Some(":staging".into()),
                kube_context_env: Some("kind-dev".into()),
                ..req()
            },
        )
        .expect("resolves");
        assert_eq!(r.context, "other");
        assert_eq!(r.chosen_by, ChosenBy::ContextFlag);
        assert_eq!(r.namespace, "flux-system");
        assert_eq!(r.namespace_from, NamespaceFrom::Default);
    }

    #[test]
    fn unknown_context_flag_lists_available() {
        let err = resolve(
            &kubeconfig(LAPTOP),
            &ContextRequest {
                context: Some("nope".into()),
                ..req()
            },
        )
        .expect_err("unknown");
        assert_eq!(
            err.to_string(),
            "context \"nope\" (from --context) is not in the kubeconfig; available: kind-dev, other"
        );
    }

    #[test]
    fn agent_exact_and_by_name() {
        let kc = kubeconfig(GITLAB);
        let exact = resolve(
            &kc,
            &ContextRequest {
                agent: Some("group/infra/agents:production".into()),
                ..req()
            },
        )
        .expect("exact");
        assert_eq!(exact.context, "group/infra/agents:production");
        assert_eq!(exact.chosen_by, ChosenBy::AgentFlag);
        assert_eq!(exact.namespace, "prod-flux");
        assert_eq!(exact.namespace_from, NamespaceFrom::Context);
        assert_eq!(
            exact.server.as_deref(),
            Some("https://kas.gitlab.com/k8s-proxy")
        );

        for spelling in [":staging", "staging"] {
            let by_name = resolve(
                &kc,
                &ContextRequest {
                    agent: Some(spelling.into()),
                    ..req()
                },
            )
            .expect("by name");
            assert_eq!(by_name.context, "group/infra/agents:staging");
        }
    }

    #[test]
    fn agent_errors() {
        let kc = kubeconfig(GITLAB);
        let err = resolve(
            &kc,
            &ContextRequest {
                agent: Some("other/project:staging".into()),
                ..req()
            },
        )
        .expect_err("wrong path");
        assert!(matches!(err, ContextError::UnknownAgent { .. }));
        let err = resolve(
            &kc,
            &ContextRequest {
                agent: Some(":".into()),
                ..req()
            },
        )
        .expect_err("empty");
        assert!(matches!(err, ContextError::InvalidAgent { .. }));

        let two = GITLAB.replace("agents:production", "other:staging");
        let err = resolve(
            &kubeconfig(&two),
            &ContextRequest {
                agent: Some(":staging".into()),
                ..req()
            },
        )
        .expect_err("ambiguous");
        assert!(matches!(err, ContextError::AmbiguousAgent { .. }));
    }

    #[test]
    fn kube_context_env_before_current_context() {
        let r = resolve(
            &kubeconfig(LAPTOP),
            &ContextRequest {
                kube_context_env: Some("other".into()),
                ..req()
            },
        )
        .expect("env");
        assert_eq!(r.context, "other");
        assert_eq!(r.chosen_by, ChosenBy::KubeContextEnv);

        let err = resolve(
            &kubeconfig(GITLAB),
            &ContextRequest {
                kube_context_env: Some("group/infra/agents:dev".into()),
                ..req()
            },
        )
        .expect_err("unknown env context");
        assert!(err.hint().unwrap_or_default().contains("KUBE_CONTEXT"));
    }

    #[test]
    fn current_context_and_its_namespace() {
        let r = resolve(&kubeconfig(LAPTOP), &req()).expect("current");
        assert_eq!(r.context, "kind-dev");
        assert_eq!(r.chosen_by, ChosenBy::CurrentContext);
        assert_eq!(r.namespace, "dev");
        let r = resolve(
            &kubeconfig(LAPTOP),
            &ContextRequest {
                namespace: Some("apps".into()),
                ..req()
            },
        )
        .expect("flag ns");
        assert_eq!(r.namespace, "apps");
        assert_eq!(r.namespace_from, NamespaceFrom::Flag);
    }

    #[test]
    fn single_context_without_current_context() {
        let one = r#"
apiVersion: v1
kind: Config
clusters: [{name: gitlab, cluster: {server: "https://kas.example/k8s-proxy"}}]
users: [{name: "agent:1", user: {token: "ci:1:t"}}]
contexts: [{name: "g/p:a", context: {cluster: gitlab, user: "agent:1"}}]
"#;
        let r = resolve(&kubeconfig(one), &req()).expect("only");
        assert_eq!(r.context, "g/p:a");
        assert_eq!(r.chosen_by, ChosenBy::OnlyContext);
    }

    #[test]
    fn several_contexts_without_current_context_is_an_error() {
        let err = resolve(&kubeconfig(GITLAB), &req()).expect_err("none chosen");
        let msg = err.to_string();
        assert!(msg.contains("group/infra/agents:staging"), "{msg}");
        assert!(msg.contains("group/infra/agents:production"), "{msg}");
        assert!(err.hint().unwrap_or_default().contains("--agent"));
        assert_eq!(err.exit_code(), ExitCode::Usage);
    }
}
