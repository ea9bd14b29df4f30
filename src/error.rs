//! One error model for the whole plugin.
//!
//! Every layer has its own typed error (`ContextError`, `OciError`, …) that
//! implements [`Diagnostic`]: it knows its exit code and, where one helps, a
//! hint. [`Error`] wraps any of them; `main` prints it as
//!
//! ```text
//! error: <message>
//!   caused by: <source>
//!   caused by: <source of source>
//! hint: <what to do>
//! ```
//! and exits with [`Error::exit_code`].

use std::fmt;

/// The documented exit codes (docs/usage.md). Every command uses these.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ExitCode {
    /// Everything asked for happened.
    Success,
    /// The operation itself failed: a push was rejected, a reconciliation failed.
    Failure,
    /// Bad command line or configuration (kubeconfig, flags, references, files).
    Usage,
    /// A deadline (`--timeout`) passed before the operation finished.
    Timeout,
    /// The registry or cluster was unreachable, or refused us (401/403).
    Unavailable,
    /// Interrupted by Ctrl-C / SIGINT / SIGTERM.
    Interrupted,
}

impl ExitCode {
    /// The numeric process exit status.
    pub fn code(self) -> u8 {
        match self {
            ExitCode::Success => 0,
            ExitCode::Failure => 1,
            ExitCode::Usage => 2,
            ExitCode::Timeout => 3,
            ExitCode::Unavailable => 4,
            ExitCode::Interrupted => 130,
        }
    }
}

impl From<ExitCode> for std::process::ExitCode {
    fn from(code: ExitCode) -> Self {
        std::process::ExitCode::from(code.code())
    }
}

/// Implemented by every layer's error type.
///
/// The `Display` of an implementor states what went wrong in one line and
/// does not repeat its `source()`: the chain is printed separately.
pub trait Diagnostic: std::error::Error + Send + Sync + 'static {
    /// The process exit code this error leads to.
    fn exit_code(&self) -> ExitCode;
    /// What the user can do about it, if there is something specific.
    fn hint(&self) -> Option<String> {
        None
    }
}

/// The top-level error: any layer's [`Diagnostic`].
pub struct Error(Box<dyn Diagnostic>);

impl Error {
    /// Wrap a layer error.
    pub fn new(err: impl Diagnostic) -> Self {
        Error(Box::new(err))
    }

    /// A usage/configuration error made on the spot, with a hint.
    pub fn usage(message: impl Into<String>, hint: impl Into<String>) -> Self {
        Error::new(Simple {
            code: ExitCode::Usage,
            message: message.into(),
            hint: Some(hint.into()),
        })
    }

    /// An error with an explicit exit code and optional hint.
    pub fn other(code: ExitCode, message: impl Into<String>, hint: Option<String>) -> Self {
        Error::new(Simple {
            code,
            message: message.into(),
            hint,
        })
    }

    pub fn exit_code(&self) -> ExitCode {
        self.0.exit_code()
    }

    pub fn hint(&self) -> Option<String> {
        self.0.hint()
    }

    /// The one-line message of the outermost error.
    pub fn message(&self) -> String {
        self.0.to_string()
    }

    /// The messages of the cause chain, outermost first, without the
    /// outermost message itself and without consecutive repeats.
    pub fn causes(&self) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        let mut last = self.message();
        let mut next = self.0.source();
        while let Some(err) = next {
            let msg = err.to_string();
            if !msg.is_empty() && msg != last && !last.ends_with(&msg) {
                out.push(msg.clone());
            }
            last = msg;
            next = err.source();
        }
        out
    }

    /// The full three-part report printed to stderr.
    pub fn report(&self) -> String {
        let mut s = format!("error: {}\n", self.message());
        for cause in self.causes() {
            s.push_str(&format!("  caused by: {cause}\n"));
        }
        if let Some(hint) = self.hint() {
            s.push_str(&format!("hint: {hint}\n"));
        }
        s
    }
}

impl<E: Diagnostic> From<E> for Error {
    fn from(err: E) -> Self {
        Error::new(err)
    }
}

impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.report().trim_end())
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message())
    }
}

/// A plain error with a message, an exit code and an optional hint.
#[derive(Debug)]
pub struct Simple {
    pub code: ExitCode,
    pub message: String,
    pub hint: Option<String>,
}

impl fmt::Display for Simple {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Simple {}

impl Diagnostic for Simple {
    fn exit_code(&self) -> ExitCode {
        self.code
    }
    fn hint(&self) -> Option<String> {
        self.hint.clone()
    }
}

/// Result with the top-level error.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Scrub anything that looks like a credential from text that may end up in
/// output (URLs with userinfo, `Authorization`/token query values).
pub fn redact(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for (i, word) in text.split(' ').enumerate() {
        if i > 0 {
            out.push(' ');
        }
        out.push_str(&redact_word(word));
    }
    out
}

fn redact_word(word: &str) -> String {
    // scheme://user:pass@host → scheme://***@host
    let mut word = word.to_string();
    if let Some(scheme_end) = word.find("://") {
        let rest = &word[scheme_end + 3..];
        let authority_end = rest.find('/').unwrap_or(rest.len());
        if let Some(at) = rest[..authority_end].rfind('@') {
            word = format!("{}://***@{}", &word[..scheme_end], &rest[at + 1..]);
        }
    }
    for key in ["token=", "access_token=", "password=", "secret="] {
        if let Some(pos) = word.find(key) {
            let value_start = pos + key.len();
            let value_end = word[value_start..]
                .find(['&', '"', '\'', ',', '\n', '\r', '\t', '}', ')'])
                .map_or(word.len(), |e| value_start + e);
            return format!("{}***{}", &word[..value_start], &word[value_end..]);
        }
    }
    word
}

/// The first line of a program's stderr, trimmed, redacted, at most 200
/// characters; None when it printed nothing.
pub fn first_line(stderr: &[u8]) -> Option<String> {
    let text = String::from_utf8_lossy(stderr);
    let line = text.lines().map(str::trim).find(|l| !l.is_empty())?;
    let line: String = line.chars().take(200).collect();
    Some(redact(&line))
}

/// How a program ended, in words: "exited with status 3", "was killed by signal 9".
pub fn describe_status(status: std::process::ExitStatus) -> String {
    use std::os::unix::process::ExitStatusExt;
    match (status.code(), status.signal()) {
        (Some(code), _) => format!("exited with status {code}"),
        (None, Some(sig)) => format!("was killed by signal {sig}"),
        _ => "failed".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, thiserror::Error)]
    #[error("outer failed")]
    struct Outer(#[source] std::io::Error);

    impl Diagnostic for Outer {
        fn exit_code(&self) -> ExitCode {
            ExitCode::Unavailable
        }
        fn hint(&self) -> Option<String> {
            Some("check the network".into())
        }
    }

    #[test]
    fn report_has_three_parts() {
        let err: Error = Outer(std::io::Error::other("connection refused")).into();
        assert_eq!(
            err.report(),
            "error: outer failed\n  caused by: connection refused\nhint: check the network\n"
        );
        assert_eq!(err.exit_code().code(), 4);
    }

    #[test]
    fn exit_codes_are_the_documented_ones() {
        let codes: Vec<u8> = [
            ExitCode::Success,
            ExitCode::Failure,
            ExitCode::Usage,
            ExitCode::Timeout,
            ExitCode::Unavailable,
            ExitCode::Interrupted,
        ]
        .iter()
        .map(|c| c.code())
        .collect();
        assert_eq!(codes, vec![0, 1, 2, 3, 4, 130]);
    }

    #[test]
    fn first_lines() {
        assert_eq!(
            first_line(b"\n  boom: denied \nmore\n").as_deref(),
            Some("boom: denied")
        );
        assert_eq!(first_line(b" \n"), None);
    }

    #[test]
    fn redacts_credentials() {
        assert_eq!(
            redact("GET https://user:s3cret@registry.example/v2/ failed"),
            "GET https://***@registry.example/v2/ failed"
        );
        assert_eq!(
            redact("url http://h/jwt/auth?token=abc&x=1"),
            "url http://h/jwt/auth?token=***&x=1"
        );
        assert_eq!(redact("plain words"), "plain words");
        assert_eq!(
            redact("https://u:p@h:1/?token=abc"),
            "https://***@h:1/?token=***"
        );
        assert_eq!(
            redact("GET http.url=https://u:p@h/apis?token=abc\nnext line\n"),
            "GET http.url=https://***@h/apis?token=***\nnext line\n"
        );
    }
}
