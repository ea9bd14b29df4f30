//! One module per command. Each turns validated settings into a report,
//! talking to the world through the lower layers, and hands the report to
//! [`crate::render`].

pub mod complete;
pub mod completion;
pub mod context;
pub mod push;
pub mod receiver;
pub mod resolve;
pub mod status;
pub mod tag;
pub mod targets;
pub mod trigger;
pub mod version;
pub mod wait;

use crate::cli::receiver::ReceiverCommand;
use crate::cli::{Cli, Command, GlobalArgs, OutputFormat};
use crate::cluster::{Cluster, ContextRequest, ResolvedContext, kubeconfig};
use crate::config;
use crate::error::{Error, ExitCode, Result};
use std::io::Write;

/// Settings every command shares, validated once.
#[derive(Debug, Clone)]
pub struct Session {
    pub global: GlobalArgs,
    pub output: OutputFormat,
    pub color_stdout: bool,
    pub color_stderr: bool,
    pub stdout_tty: bool,
    pub stderr_tty: bool,
    pub request_timeout: Option<std::time::Duration>,
    /// The command's own `--timeout` (`wait`, `push --wait`): it bounds
    /// exec credential plugins too.
    pub command_timeout: Option<crate::cluster::exec::ExecLimit>,
}

impl Session {
    pub fn new(global: GlobalArgs) -> Result<Session> {
        let request_timeout = config::parse_duration("--request-timeout", &global.request_timeout)?;
        let stdout_tty = config::stdout_is_terminal();
        let stderr_tty = config::stderr_is_terminal();
        Ok(Session {
            output: global.output,
            color_stdout: global.output == OutputFormat::Table
                && config::use_color(global.color, stdout_tty),
            color_stderr: config::use_color(global.color, stderr_tty),
            stdout_tty,
            stderr_tty,
            request_timeout,
            command_timeout: None,
            global,
        })
    }

    /// The context requests of the command line: one per `--context` or
    /// `--agent`, or a single default request.
    pub fn context_requests(&self) -> Vec<ContextRequest> {
        let env = std::env::var("KUBE_CONTEXT").ok().filter(|v| !v.is_empty());
        let base = ContextRequest {
            context: None,
            agent: None,
            kube_context_env: env,
            namespace: self.global.namespace.clone(),
        };
        // The resolution order puts --context before --agent: when both are
        // given, the --context values choose (one cluster each).
        let mut out = Vec::new();
        if !self.global.context.is_empty() {
            if !self.global.agent.is_empty() {
                tracing::warn!("--context given: ignoring --agent");
            }
            for c in &self.global.context {
                out.push(ContextRequest {
                    context: Some(c.clone()),
                    ..base.clone()
                });
            }
        } else {
            for a in &self.global.agent {
                out.push(ContextRequest {
                    agent: Some(a.clone()),
                    ..base.clone()
                });
            }
        }
        if out.is_empty() {
            out.push(base);
        }
        out
    }

    /// Resolve the one context a single-cluster command uses.
    pub fn resolve_single(&self) -> Result<(kube::config::Kubeconfig, ResolvedContext)> {
        let requests = self.context_requests();
        if requests.len() > 1 {
            return Err(Error::usage(
                "this command works on one cluster, but several --context/--agent flags were given",
                "give a single --context or --agent (wait and status accept several)",
            ));
        }
        let kc = kubeconfig::load(self.global.kubeconfig.as_deref())?;
        let resolved = kubeconfig::resolve(&kc, &requests[0])?;
        Ok((kc, resolved))
    }

    /// The limit exec credential plugins run under.
    pub fn exec_limit(&self) -> Option<crate::cluster::exec::ExecLimit> {
        use crate::cluster::exec::{ExecLimit, tighter};
        tighter(
            self.request_timeout.map(|after| ExecLimit {
                after,
                flag: "--request-timeout",
            }),
            self.command_timeout,
        )
    }

    /// Resolve and connect every requested cluster.
    pub async fn clusters(&self) -> Result<Vec<Cluster>> {
        let kc = kubeconfig::load(self.global.kubeconfig.as_deref())?;
        let mut out: Vec<Cluster> = Vec::new();
        for req in self.context_requests() {
            let resolved = kubeconfig::resolve(&kc, &req)?;
            if out.iter().any(|c| c.context == resolved.context) {
                continue;
            }
            out.push(
                Cluster::connect_within(
                    kc.clone(),
                    resolved,
                    self.request_timeout,
                    self.exec_limit(),
                )
                .await?,
            );
        }
        Ok(out)
    }

    /// Connect the single cluster of a single-cluster command.
    pub async fn cluster(&self) -> Result<Cluster> {
        let (kc, resolved) = self.resolve_single()?;
        Ok(Cluster::connect_within(kc, resolved, self.request_timeout, self.exec_limit()).await?)
    }
}

/// Run a parsed command line to completion, printing errors, and return the
/// exit code.
pub async fn run(cli: Cli) -> ExitCode {
    let result = tokio::select! {
        r = dispatch(cli) => r,
        _ = interrupted() => Err(Error::other(ExitCode::Interrupted, "interrupted", None)),
    };
    match result {
        Ok(code) => code,
        Err(err) => {
            if err.exit_code() != ExitCode::Interrupted || !err.message().is_empty() {
                let _ = std::io::stderr().write_all(err.report().as_bytes());
            }
            err.exit_code()
        }
    }
}

async fn dispatch(cli: Cli) -> Result<ExitCode> {
    let mut session = Session::new(cli.global)?;
    if let Command::Wait(args) = &cli.command {
        // Invalid values are reported by the command itself.
        session.command_timeout = config::parse_duration("--timeout", &args.timeout)
            .ok()
            .flatten()
            .map(|after| crate::cluster::exec::ExecLimit {
                after,
                flag: "--timeout",
            });
    }
    match cli.command {
        Command::Version(args) => version::run(&session, args),
        Command::Context(args) => context::run(&session, args),
        Command::Trigger(args) => trigger::run(&session, args).await,
        Command::Receiver(ReceiverCommand::Create(a)) => receiver::create(&session, a).await,
        Command::Wait(args) => wait::run(&session, args).await,
        Command::Status(args) => status::run(&session, args).await,
        Command::Completion(args) => completion::run(args),
        Command::Push(args) => push::run(&session, args).await,
        Command::Tag(args) => tag::run(&session, args).await,
        Command::Complete(args) => complete::run(args).await,
    }
}

/// Resolves on Ctrl-C (SIGINT) or SIGTERM.
pub async fn interrupted() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let term = signal(SignalKind::terminate());
        let int = signal(SignalKind::interrupt());
        match (term, int) {
            (Ok(mut term), Ok(mut int)) => {
                tokio::select! {
                    _ = term.recv() => {}
                    _ = int.recv() => {}
                }
            }
            _ => futures::future::pending::<()>().await,
        }
    }
    #[cfg(not(unix))]
    {
        if tokio::signal::ctrl_c().await.is_err() {
            futures::future::pending::<()>().await;
        }
    }
}

/// Write data to stdout; a closed pipe (`| head`) is not an error.
pub fn write_stdout(text: &str) -> Result<()> {
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        Err(e) => Err(Error::other(
            ExitCode::Failure,
            format!("cannot write to stdout: {e}"),
            None,
        )),
    }
}
