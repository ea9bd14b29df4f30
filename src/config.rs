//! Turning raw command-line values into validated settings: durations,
//! colour, logging, and clap's own errors in our three-part format.

use crate::cli::{ColorChoice, DISPLAY_NAME};
use crate::error::{Error, ExitCode};
use std::io::{IsTerminal, Write};
use std::time::Duration;

/// Parse a duration as kubectl and flux accept it: `30s`, `5m`, `1h30m`,
/// `250ms`; a bare `0` means "no limit" and gives `None`.
pub fn parse_duration(flag: &str, value: &str) -> Result<Option<Duration>, Error> {
    let trimmed = value.trim();
    if trimmed == "0" {
        return Ok(None);
    }
    if trimmed.chars().all(|c| c.is_ascii_digit()) && !trimmed.is_empty() {
        return Err(Error::usage(
            format!("invalid {flag} {value:?}: a unit is required"),
            format!("write e.g. {flag} {trimmed}s or {flag} {trimmed}m"),
        ));
    }
    match humantime::parse_duration(trimmed) {
        Ok(d) => Ok(Some(d)),
        Err(err) => Err(Error::usage(
            format!("invalid {flag} {value:?}: {err}"),
            format!("use a duration such as 30s, 5m or 1h30m (0 for no limit), e.g. {flag} 5m"),
        )),
    }
}

/// Like [`parse_duration`] but a limit is required (0 is refused).
pub fn parse_timeout(flag: &str, value: &str) -> Result<Duration, Error> {
    match parse_duration(flag, value)? {
        Some(d) if !d.is_zero() => Ok(d),
        _ => Err(Error::usage(
            format!("invalid {flag} {value:?}: it must be longer than zero"),
            format!("use a duration such as {flag} 5m"),
        )),
    }
}

/// Whether to colour output written to a stream, decided once.
pub fn use_color(choice: ColorChoice, is_terminal: bool) -> bool {
    match choice {
        ColorChoice::Always => true,
        ColorChoice::Never => false,
        ColorChoice::Auto => {
            is_terminal
                && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
                && std::env::var("TERM").map_or(true, |t| t != "dumb")
        }
    }
}

/// Whether stdout / stderr are terminals.
pub fn stdout_is_terminal() -> bool {
    std::io::stdout().is_terminal()
}
pub fn stderr_is_terminal() -> bool {
    std::io::stderr().is_terminal()
}

/// Set up `tracing` to stderr. `-v` logs the plugin's steps, `-vv` adds the
/// HTTP layers, `-vvv` everything. `GITLAB_FLUX_LOG` (an env-filter) wins.
pub fn init_logging(verbosity: u8) {
    use tracing_subscriber::EnvFilter;
    let default = match verbosity {
        // kube_client logs request failures at ERROR; our own report says it better.
        // rustls-platform-verifier logs every rejected certificate at ERROR;
        // the registry error already says so, with a hint (--ca-file).
        0 => "warn,kube_runtime=error,kube_client=off,rustls_platform_verifier=off",
        1 => "warn,kubectl_gitlab_flux=debug,rustls_platform_verifier=off",
        2 => "info,kubectl_gitlab_flux=trace,kube_client=debug,kube_runtime=debug",
        _ => "debug,kubectl_gitlab_flux=trace",
    };
    let filter = std::env::var("GITLAB_FLUX_LOG")
        .ok()
        .and_then(|f| EnvFilter::try_new(f).ok())
        .unwrap_or_else(|| EnvFilter::new(default));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(|| RedactingStderr)
        .with_target(verbosity >= 2)
        .with_ansi(use_color(ColorChoice::Auto, stderr_is_terminal()))
        .try_init();
}

/// stderr for log lines, with anything that looks like a credential (URL
/// user info, `token=` values) scrubbed: libraries log URLs as given.
struct RedactingStderr;

impl Write for RedactingStderr {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let text = String::from_utf8_lossy(buf);
        std::io::stderr().write_all(crate::error::redact(&text).as_bytes())?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        std::io::stderr().flush()
    }
}

/// Print a clap error (or help/version) and return the exit code: help and
/// version go to stdout with 0; errors become `error: …` + `hint: …`, exit 2.
pub fn report_clap_error(err: clap::Error) -> ExitCode {
    use clap::error::ErrorKind;
    match err.kind() {
        ErrorKind::DisplayHelp
        | ErrorKind::DisplayVersion
        | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => {
            let _ = err.print();
            if err.kind() == ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand {
                ExitCode::Usage
            } else {
                ExitCode::Success
            }
        }
        _ => {
            let (message, hint) = clap_error_parts(&err.render().to_string());
            let mut stderr = std::io::stderr().lock();
            let _ = writeln!(stderr, "error: {message}");
            let _ = writeln!(stderr, "hint: {hint}");
            ExitCode::Usage
        }
    }
}

/// Split clap's rendered error into our one-line message and hint. The
/// lines clap puts under its `error:` line (the conflicting or missing
/// arguments, the possible values) belong to the message.
fn clap_error_parts(rendered: &str) -> (String, String) {
    let mut message = String::new();
    let mut hints = Vec::new();
    // Whether the lines read continue the message.
    let mut continued = false;
    for line in rendered.lines() {
        let line = line.trim();
        if continued {
            if !line.is_empty() && !line.starts_with("tip: ") && !line.starts_with("Usage: ") {
                let sep = if message.ends_with(':') || line.starts_with('[') {
                    " "
                } else {
                    ", "
                };
                message.push_str(sep);
                message.push_str(line);
                continue;
            }
            continued = false;
        }
        if let Some(m) = line.strip_prefix("error: ") {
            message = m.to_string();
            continued = true;
        } else if let Some(tip) = line.strip_prefix("tip: ") {
            hints.push(tip.to_string());
        } else if message.is_empty() && !line.is_empty() {
            message = line.to_string();
        }
    }
    let usage = rendered
        .lines()
        .find_map(|l| l.strip_prefix("Usage: "))
        .map(str::to_string);
    hints.push(match &usage {
        Some(u) => format!("usage: {u}; see '{DISPLAY_NAME} --help'"),
        None => format!("see '{DISPLAY_NAME} --help'"),
    });
    (message, hints.join("; "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(
            parse_duration("--timeout", "5m").ok().flatten(),
            Some(Duration::from_secs(300))
        );
        assert_eq!(
            parse_duration("--timeout", "1h30m").ok().flatten(),
            Some(Duration::from_secs(5400))
        );
        assert_eq!(
            parse_duration("--timeout", "250ms").ok().flatten(),
            Some(Duration::from_millis(250))
        );
        assert!(parse_duration("--timeout", "0").expect("zero").is_none());
        let err = parse_duration("--timeout", "10").expect_err("no unit");
        assert_eq!(err.exit_code(), ExitCode::Usage);
        assert!(err.hint().unwrap_or_default().contains("10s"));
        let err = parse_duration("--timeout", "soon").expect_err("garbage");
        assert!(err.message().starts_with("invalid --timeout \"soon\""));
        assert!(parse_timeout("--timeout", "0").is_err());
    }

    #[test]
    fn clap_errors_keep_the_lines_under_the_message() {
        let (message, hint) = clap_error_parts(
            "error: the argument '--creds <USER:PASSWORD>' cannot be used with:\n  --username <USER>\n  --password-stdin\n\nUsage: kubectl gitlab-flux push --creds <USER:PASSWORD> <PATH> <OCI-URL>\n\nFor more information, try '--help'.\n",
        );
        assert_eq!(
            message,
            "the argument '--creds <USER:PASSWORD>' cannot be used with: --username <USER>, --password-stdin"
        );
        assert!(
            hint.starts_with("usage: kubectl gitlab-flux push --creds"),
            "{hint}"
        );
        let (message, hint) = clap_error_parts(
            "error: invalid value 'xml' for '--output <OUTPUT>'\n  [possible values: table, json, yaml]\n\n  tip: a similar value exists: 'yaml'\n\nFor more information, try '--help'.\n",
        );
        assert_eq!(
            message,
            "invalid value 'xml' for '--output <OUTPUT>' [possible values: table, json, yaml]"
        );
        assert!(hint.starts_with("a similar value exists: 'yaml'"), "{hint}");
    }

    #[test]
    fn color_choice() {
        assert!(use_color(ColorChoice::Always, false));
        assert!(!use_color(ColorChoice::Never, true));
        assert!(!use_color(ColorChoice::Auto, false));
    }
}
