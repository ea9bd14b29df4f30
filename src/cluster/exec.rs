//! Exec credential plugins (`users[].user.exec` in a kubeconfig), run by the
//! plugin itself rather than by kube-rs, so that
//!
//! * the program is bounded by the command's time limits (`--request-timeout`,
//!   `--timeout`) and killed — with everything it started — on timeout or
//!   when the command is interrupted (it runs in its own process group);
//! * it never blocks the async runtime (Ctrl-C is handled while it runs);
//! * its standard output, which holds the credential, never appears in an
//!   error: a failure names the program, its exit status and the first line
//!   of its stderr only.
//!
//! The credential it prints (a token, or a client certificate and key) is
//! put into the client's configuration in place of the exec entry; the
//! command runs once per connection, which outlives no command.

use std::time::Duration;

use base64::Engine as _;
use kube::config::ExecInteractiveMode;
use std::process::Stdio;
use tokio::io::AsyncReadExt as _;

use crate::error::{Diagnostic, ExitCode, describe_status, first_line};

/// The time limit an exec plugin runs under, and the flag that sets it.
#[derive(Debug, Clone, Copy)]
pub struct ExecLimit {
    pub after: Duration,
    pub flag: &'static str,
}

/// The tighter of two limits.
pub fn tighter(a: Option<ExecLimit>, b: Option<ExecLimit>) -> Option<ExecLimit> {
    match (a, b) {
        (Some(a), Some(b)) => Some(if b.after < a.after { b } else { a }),
        (a, b) => a.or(b),
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ExecError {
    #[error("cannot run the credential plugin {program} of context {context:?}: {reason}")]
    Start {
        context: String,
        program: String,
        reason: String,
    },
    #[error("the credential plugin {program} of context {context:?} {status}{}", stderr_suffix(.stderr))]
    Failed {
        context: String,
        program: String,
        status: String,
        stderr: Option<String>,
    },
    #[error("the credential plugin {program} of context {context:?} did not answer within {} ({flag}); it was stopped", humantime::format_duration(*.after))]
    TimedOut {
        context: String,
        program: String,
        after: Duration,
        flag: &'static str,
    },
    #[error(
        "the credential plugin {program} of context {context:?} printed no usable ExecCredential ({reason})"
    )]
    Answer {
        context: String,
        program: String,
        reason: String,
    },
}

fn stderr_suffix(line: &Option<String>) -> String {
    match line {
        Some(l) => format!("; its stderr: {l}"),
        None => "; nothing on its stderr".into(),
    }
}

impl Diagnostic for ExecError {
    fn exit_code(&self) -> ExitCode {
        match self {
            ExecError::TimedOut { flag, .. } if *flag != "--request-timeout" => ExitCode::Timeout,
            ExecError::Start { .. } => ExitCode::Usage,
            _ => ExitCode::Unavailable,
        }
    }

    fn hint(&self) -> Option<String> {
        Some(match self {
            ExecError::Start { .. } => {
                "install the program, or fix users[].user.exec.command in the kubeconfig".into()
            }
            ExecError::Failed { .. } | ExecError::Answer { .. } => {
                "run the program yourself to see why (its standard output is never shown: it holds the credential)".into()
            }
            ExecError::TimedOut { flag, .. } => format!(
                "the program may be waiting for a login or a network: run it yourself, or raise {flag}"
            ),
        })
    }
}

/// Kills the plugin's whole process group when dropped (timeout, Ctrl-C,
/// or the command ending), unless it already exited.
struct GroupGuard {
    pid: Option<u32>,
}

impl Drop for GroupGuard {
    fn drop(&mut self) {
        if let Some(pid) = self.pid {
            // Without libc (unsafe code is forbidden here): kill(1).
            let _ = std::process::Command::new("kill")
                .args(["-s", "KILL", "--", &format!("-{pid}")])
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status();
        }
    }
}

/// If the config's user has an exec plugin, run it within `limit` and put
/// its credential in place of the exec entry.
pub async fn resolve(
    config: &mut kube::Config,
    context: &str,
    limit: Option<ExecLimit>,
) -> Result<(), ExecError> {
    let Some(exec) = config.auth_info.exec.clone() else {
        return Ok(());
    };
    let program = exec.command.clone().unwrap_or_default();
    let start_err = |reason: String| ExecError::Start {
        context: context.to_string(),
        program: program.clone(),
        reason,
    };
    if program.is_empty() {
        return Err(start_err("users[].user.exec has no command".into()));
    }
    let mut cmd = tokio::process::Command::new(&program);
    if let Some(args) = &exec.args {
        cmd.args(args);
    }
    for pair in exec.env.iter().flatten() {
        if let (Some(name), Some(value)) = (pair.get("name"), pair.get("value")) {
            cmd.env(name, value);
        }
    }
    for name in exec.drop_env.iter().flatten() {
        cmd.env_remove(name);
    }
    // Interactive plugins (a browser or device-code login) may talk to the
    // user on a terminal; anywhere else (CI) they get no stdin.
    let interactive = exec.interactive_mode != Some(ExecInteractiveMode::Never)
        && crate::config::stderr_is_terminal()
        && std::io::IsTerminal::is_terminal(&std::io::stdin());
    let mut spec = serde_json::json!({ "interactive": interactive });
    if exec.provide_cluster_info
        && let Some(cluster) = &exec.cluster
    {
        spec["cluster"] = serde_json::to_value(cluster).unwrap_or_default();
    }
    let info = serde_json::json!({
        "apiVersion": exec.api_version.clone().unwrap_or_else(|| "client.authentication.k8s.io/v1".into()),
        "kind": "ExecCredential",
        "spec": spec,
    });
    cmd.env("KUBERNETES_EXEC_INFO", info.to_string())
        .stdin(if interactive {
            Stdio::inherit()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(if interactive {
            Stdio::inherit()
        } else {
            Stdio::piped()
        })
        .process_group(0)
        .kill_on_drop(true);
    let mut child = cmd.spawn().map_err(|e| {
        start_err(match e.kind() {
            std::io::ErrorKind::NotFound => "not found (not in PATH)".into(),
            _ => e.to_string(),
        })
    })?;
    let mut guard = GroupGuard { pid: child.id() };
    let mut stdout = child.stdout.take();
    let mut stderr = child.stderr.take();
    let run = async {
        let mut out = Vec::new();
        let mut err = Vec::new();
        let read_out = async {
            if let Some(s) = stdout.as_mut() {
                let _ = s.read_to_end(&mut out).await;
            }
        };
        let read_err = async {
            if let Some(s) = stderr.as_mut() {
                let _ = s.read_to_end(&mut err).await;
            }
        };
        let (status, (), ()) = tokio::join!(child.wait(), read_out, read_err);
        (status, out, err)
    };
    let (status, out, err) = match limit {
        Some(l) => match tokio::time::timeout(l.after, run).await {
            Ok(r) => r,
            Err(_) => {
                return Err(ExecError::TimedOut {
                    context: context.to_string(),
                    program,
                    after: l.after,
                    flag: l.flag,
                });
            }
        },
        None => run.await,
    };
    let status = status.map_err(|e| start_err(e.to_string()))?;
    // It exited: its group may hold nothing more (a child it left behind
    // holding the pipe was waited out above, or is killed now).
    if !status.success() {
        return Err(ExecError::Failed {
            context: context.to_string(),
            program,
            status: describe_status(status),
            stderr: first_line(&err),
        });
    }
    guard.pid = None;
    let answer = parse(&out).map_err(|reason| ExecError::Answer {
        context: context.to_string(),
        program: program.clone(),
        reason,
    })?;
    let auth = &mut config.auth_info;
    auth.exec = None;
    match answer {
        Credential::Token(token) => auth.token = Some(token.into()),
        Credential::Certificate { cert, key } => {
            let b64 = base64::engine::general_purpose::STANDARD;
            auth.client_certificate_data = Some(b64.encode(cert));
            auth.client_key_data = Some(b64.encode(key).into());
            auth.client_certificate = None;
            auth.client_key = None;
        }
    }
    Ok(())
}

enum Credential {
    Token(String),
    Certificate { cert: String, key: String },
}

/// Read an ExecCredential (JSON, or YAML as client-go accepts). The reason
/// of a failure never quotes the text.
fn parse(stdout: &[u8]) -> Result<Credential, String> {
    let value: serde_json::Value = serde_json::from_slice(stdout)
        .or_else(|_| serde_saphyr::from_slice(stdout))
        .map_err(|_| "its output is neither JSON nor YAML".to_string())?;
    let status = value
        .get("status")
        .ok_or_else(|| "no status in its output".to_string())?;
    let field = |k: &str| {
        status
            .get(k)
            .and_then(serde_json::Value::as_str)
            .filter(|v| !v.is_empty())
            .map(str::to_string)
    };
    if let (Some(cert), Some(key)) = (field("clientCertificateData"), field("clientKeyData")) {
        return Ok(Credential::Certificate { cert, key });
    }
    field("token")
        .map(Credential::Token)
        .ok_or_else(|| "no token and no client certificate in its status".to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_tokens_and_certificates_without_quoting_them() {
        let token = br#"{"apiVersion":"client.authentication.k8s.io/v1","kind":"ExecCredential","status":{"token":"t0k"}}"#;
        assert!(matches!(parse(token), Ok(Credential::Token(t)) if t == "t0k"));
        let yaml =
            b"kind: ExecCredential\nstatus:\n  clientCertificateData: C\n  clientKeyData: K\n";
        assert!(matches!(parse(yaml), Ok(Credential::Certificate { .. })));
        let err = parse(b"secret-token-value").err().unwrap_or_default();
        assert!(!err.contains("secret"), "{err}");
        let err = parse(br#"{"status":{}}"#).err().unwrap_or_default();
        assert!(err.contains("no token"), "{err}");
    }
}
