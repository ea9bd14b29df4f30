//! The `kubectl-gitlab_flux` binary: parse, set up logging and the runtime,
//! run, and map the outcome to an exit code.

use clap::Parser;
use kubectl_gitlab_flux::{ExitCode, cli::Cli, cmd, config};
use std::io::Write;

fn main() -> std::process::ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(err) => return config::report_clap_error(err).into(),
    };
    config::init_logging(cli.global.verbose);
    // reqwest and oci-client are built with `rustls-no-provider`: pick ring once.
    let _ = rustls::crypto::ring::default_provider().install_default();

    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(err) => {
            let _ = writeln!(
                std::io::stderr(),
                "error: cannot start the async runtime: {err}"
            );
            return ExitCode::Failure.into();
        }
    };
    let code = runtime.block_on(cmd::run(cli));
    // Do not wait for stray background tasks (e.g. a watch being torn down).
    runtime.shutdown_timeout(std::time::Duration::from_millis(100));
    code.into()
}
