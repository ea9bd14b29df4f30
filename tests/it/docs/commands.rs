//! Finding the plugin's command lines in text (code blocks, inline code,
//! script entries, `--help`) and checking them against the real CLI: clap
//! parses a command line, then the plugin's own validators check its
//! values; a usage synopsis is checked flag by flag.

use super::Env;
use clap::{CommandFactory, Parser};
use kubectl_gitlab_flux::cli::{Cli, Command, TargetArgs};

pub const SAMPLE_DIGEST: &str =
    "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

/// What GitLab CI (and the dotenv reports of earlier jobs) would put in a
/// job's environment: shell variables in documented commands are replaced
/// by these to check the values; unknown variables stay `$NAME`.
pub fn sample_env() -> Env {
    let image = "registry.gitlab.example.com/group/project";
    let sha = "1a2b3c4d5e6f7a8b9c0d1e2f3a4b5c6d7e8f9a0b";
    let mut env: Env = [
        ("CI", "true"),
        ("GITLAB_CI", "true"),
        ("CI_SERVER_FQDN", "gitlab.example.com"),
        ("CI_PROJECT_URL", "https://gitlab.example.com/group/project"),
        ("CI_PROJECT_DIR", "/builds/group/project"),
        ("CI_PROJECT_PATH", "group/project"),
        ("CI_REGISTRY", "registry.gitlab.example.com"),
        ("CI_REGISTRY_IMAGE", image),
        ("CI_REGISTRY_USER", "gitlab-ci-token"),
        ("CI_REGISTRY_PASSWORD", "job-token"),
        ("CI_JOB_TOKEN", "job-token"),
        ("CI_COMMIT_SHA", sha),
        ("CI_COMMIT_SHORT_SHA", "1a2b3c4d"),
        ("CI_COMMIT_REF_NAME", "main"),
        ("CI_COMMIT_REF_SLUG", "main"),
        ("CI_COMMIT_BRANCH", "main"),
        ("CI_DEFAULT_BRANCH", "main"),
        ("CI_COMMIT_TIMESTAMP", "2025-01-31T10:11:12+00:00"),
        ("CI_ENVIRONMENT_NAME", "staging"),
        ("KUBE_CONTEXT", "group/infra/gitlab-agents:staging"),
        ("FLUX_RECONCILE_TOKEN", "2025-01-31T10:11:12.123456789Z"),
        (
            "FLUX_RECEIVER_URL",
            "https://flux-webhook.example.com/hook/0123456789abcdef",
        ),
        ("FLUX_RECEIVER_TOKEN", "receiver-token"),
        ("WEBHOOK_PATH", "/hook/0123456789abcdef"),
        ("REGISTRY", "127.0.0.1:5000"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    let repo = format!("oci://{image}/manifests");
    env.insert(
        "ARTIFACT_URL".into(),
        format!("{repo}:1a2b3c4d@{SAMPLE_DIGEST}"),
    );
    env.insert("ARTIFACT_REPOSITORY".into(), repo);
    env.insert("ARTIFACT_DIGEST".into(), SAMPLE_DIGEST.into());
    env.insert("ARTIFACT_TAG".into(), "1a2b3c4d".into());
    env
}

// ---------------------------------------------------------------------------
// Shell words

/// A piece of a shell word.
#[derive(Debug, Clone, PartialEq)]
pub enum Seg {
    Lit(String),
    /// `$NAME`, `${NAME}`, `${NAME:-default}`.
    Var {
        name: String,
        default: Option<String>,
        quoted: bool,
    },
    /// `$(…)`, `$1`, `${x#y}`, …: a value only a shell knows.
    Opaque(String),
}

type Word = Vec<Seg>;

pub fn push_lit(word: &mut Word, s: &str) {
    if let Some(Seg::Lit(last)) = word.last_mut() {
        last.push_str(s);
    } else {
        word.push(Seg::Lit(s.to_string()));
    }
}

/// Read a `$…` at `c[i]`; returns the index after it.
pub fn dollar(c: &[char], i: usize, quoted: bool, word: &mut Word) -> usize {
    let text = |a: usize, b: usize| c[a..b.min(c.len())].iter().collect::<String>();
    let is_name = |ch: char| ch.is_ascii_alphanumeric() || ch == '_';
    match c.get(i + 1) {
        Some('{') => {
            let end = (i + 2..c.len()).find(|&j| c[j] == '}').unwrap_or(c.len());
            let inner = text(i + 2, end);
            let name_len = inner.chars().take_while(|&ch| is_name(ch)).count();
            let (name, rest) = inner.split_at(name_len);
            let default = if rest.is_empty() {
                Some(None)
            } else {
                rest.strip_prefix(":-")
                    .or_else(|| rest.strip_prefix('-'))
                    .map(|d| Some(d.to_string()))
            };
            match default {
                Some(default)
                    if !name.is_empty() && !name.starts_with(|ch: char| ch.is_ascii_digit()) =>
                {
                    word.push(Seg::Var {
                        name: name.to_string(),
                        default,
                        quoted,
                    })
                }
                _ => word.push(Seg::Opaque(text(i, end + 1))),
            }
            end + 1
        }
        Some('(') => {
            let mut depth = 0;
            let mut j = i + 1;
            while j < c.len() {
                match c[j] {
                    '(' => depth += 1,
                    ')' => {
                        depth -= 1;
                        if depth == 0 {
                            break;
                        }
                    }
                    _ => {}
                }
                j += 1;
            }
            word.push(Seg::Opaque(text(i, j + 1)));
            j + 1
        }
        Some('[') => {
            let end = (i..c.len().saturating_sub(1))
                .find(|&j| c[j] == ']' && c[j + 1] == ']')
                .map_or(c.len(), |j| j + 2);
            word.push(Seg::Opaque(text(i, end)));
            end
        }
        Some(&ch) if ch.is_ascii_alphabetic() || ch == '_' => {
            let end = (i + 1..c.len())
                .find(|&j| !is_name(c[j]))
                .unwrap_or(c.len());
            word.push(Seg::Var {
                name: text(i + 1, end),
                default: None,
                quoted,
            });
            end
        }
        Some(&ch) if ch.is_ascii_digit() || "@*#?$!-".contains(ch) => {
            word.push(Seg::Opaque(text(i, i + 2)));
            i + 2
        }
        _ => {
            push_lit(word, "$");
            i + 1
        }
    }
}

/// The words of the simple command at the start of `text` (continuation
/// lines already joined): quotes removed, variables kept as segments. Stops
/// at an operator (`|`, `;`, `&`, redirections, parentheses, backquote) or
/// a comment.
pub fn shell_words(text: &str) -> Vec<Word> {
    let c: Vec<char> = text.chars().collect();
    let mut words = Vec::new();
    let mut word: Word = Vec::new();
    let mut in_word = false;
    let mut i = 0;
    while i < c.len() {
        match c[i] {
            ' ' | '\t' | '\n' | '\r' => {
                if in_word {
                    words.push(std::mem::take(&mut word));
                    in_word = false;
                }
                i += 1;
            }
            '|' | ';' | '&' | '>' | '<' | '(' | ')' | '`' => break,
            '#' if !in_word => break,
            '\'' => {
                in_word = true;
                let end = (i + 1..c.len()).find(|&j| c[j] == '\'').unwrap_or(c.len());
                push_lit(&mut word, &c[i + 1..end].iter().collect::<String>());
                i = end + 1;
            }
            '"' => {
                in_word = true;
                i += 1;
                while i < c.len() && c[i] != '"' {
                    if c[i] == '\\' && i + 1 < c.len() && "\"\\$`".contains(c[i + 1]) {
                        push_lit(&mut word, &c[i + 1].to_string());
                        i += 2;
                    } else if c[i] == '$' {
                        i = dollar(&c, i, true, &mut word);
                    } else {
                        push_lit(&mut word, &c[i].to_string());
                        i += 1;
                    }
                }
                i += 1;
            }
            '\\' => {
                in_word = true;
                if let Some(&next) = c.get(i + 1) {
                    push_lit(&mut word, &next.to_string());
                }
                i += 2;
            }
            '$' => {
                in_word = true;
                i = dollar(&c, i, false, &mut word);
            }
            ch => {
                in_word = true;
                push_lit(&mut word, &ch.to_string());
                i += 1;
            }
        }
    }
    if in_word {
        words.push(word);
    }
    words
}

/// Expand the words with `env` as a shell would (an unquoted variable alone
/// in its word is split on whitespace); what `env` does not know stays
/// literally `$NAME`, so such values are parsed but not validated.
pub fn expand_words(words: &[Word], env: &Env) -> Vec<String> {
    let mut out = Vec::new();
    for word in words {
        if let [
            Seg::Var {
                name,
                default: None,
                quoted: false,
            },
        ] = word.as_slice()
            && let Some(value) = env.get(name)
        {
            out.extend(value.split_whitespace().map(str::to_string));
            continue;
        }
        let mut text = String::new();
        for seg in word {
            match seg {
                Seg::Lit(s) | Seg::Opaque(s) => text.push_str(s),
                // `${NAME:-default}`: the default when NAME is unset or empty.
                Seg::Var { name, default, .. } => match (env.get(name), default) {
                    (Some(v), Some(d)) if v.is_empty() => text.push_str(d),
                    // Empty (a component input left at its empty default):
                    // a value the job decides at run time, not validated.
                    (Some(v), None) if v.is_empty() => {
                        text.push('$');
                        text.push_str(name);
                    }
                    (Some(v), _) => text.push_str(v),
                    (None, Some(d)) => text.push_str(d),
                    (None, None) => {
                        text.push('$');
                        text.push_str(name);
                    }
                },
            }
        }
        out.push(text);
    }
    out
}

// ---------------------------------------------------------------------------
// Finding command lines

/// A command line of the plugin found in the docs.
#[derive(Debug, Clone)]
pub struct Found {
    /// `file:line`
    pub origin: String,
    /// What follows the program name, to the end of the (joined) line.
    pub tail: String,
    /// The environment its variables are expanded with.
    pub env: Env,
}

impl Found {
    pub fn is_synopsis(&self) -> bool {
        is_synopsis(&self.tail)
    }
}

/// Join shell continuation lines (`\` at the end); returns each logical
/// line with the 0-based index of its first physical line.
pub fn logical_lines(text: &str) -> Vec<(usize, String)> {
    let mut out: Vec<(usize, String)> = Vec::new();
    let mut pending: Option<(usize, String)> = None;
    for (n, line) in text.lines().enumerate() {
        let (start, mut joined) = pending.take().unwrap_or((n, String::new()));
        let trimmed = line.trim_end();
        if let Some(body) = trimmed.strip_suffix('\\')
            && !body.ends_with('\\')
        {
            joined.push_str(body);
            joined.push(' ');
            pending = Some((start, joined));
        } else {
            joined.push_str(line);
            out.push((start, joined));
        }
    }
    if let Some(p) = pending {
        out.push(p);
    }
    out
}

pub fn program_regex() -> regex::Regex {
    // `kubectl gitlab-flux`, or the binary, possibly with a path, at the
    // start of a shell word.
    regex::Regex::new(
        r#"(?:^|[\s$(|;&"'`=])((?:[A-Za-z0-9_.~-]*/)*kubectl-gitlab_flux|kubectl[ \t]+gitlab-flux)(?:$|[^A-Za-z0-9_.-])"#,
    )
    .expect("regex")
}

/// Every plugin command line in `text` (a code block, an inline code span,
/// a script entry); `line0` is the 1-based line of its first line.
pub fn commands_in(text: &str, file: &str, line0: usize, env: &Env) -> Vec<Found> {
    let re = program_regex();
    let mut found = Vec::new();
    let lines = logical_lines(text);
    for (k, (offset, line)) in lines.iter().enumerate() {
        let line = strip_comment(line);
        let mut from = 0;
        while let Some(caps) = re.captures_at(&line, from) {
            let name = caps.get(1).expect("group");
            from = name.end();
            let mut tail = line[name.end()..].to_string();
            // A synopsis goes on over indented lines of `[…]` groups.
            if is_synopsis(&tail) {
                for (_, next) in &lines[k + 1..] {
                    let t = next.trim_start();
                    if next.len() == t.len() || !(t.starts_with('[') || t.starts_with("--")) {
                        break;
                    }
                    tail.push(' ');
                    tail.push_str(t);
                }
            }
            // A bare mention of the program (`kubectl plugin list` shows
            // `kubectl-gitlab_flux`) is no command line.
            if shell_words(&tail).is_empty() && !is_synopsis(&tail) {
                continue;
            }
            found.push(Found {
                origin: format!("{file}:{}", line0 + offset),
                tail,
                env: env.clone(),
            });
        }
    }
    found
}

/// A line without its shell comment (`#` at the start of a word, outside quotes).
pub fn strip_comment(line: &str) -> String {
    let mut quote: Option<char> = None;
    let mut prev = ' ';
    for (i, ch) in line.char_indices() {
        match (quote, ch) {
            (None, '\'' | '"') => quote = Some(ch),
            (Some(q), _) if ch == q => quote = None,
            (None, '#') if prev.is_whitespace() => return line[..i].to_string(),
            _ => {}
        }
        prev = ch;
    }
    line.to_string()
}

/// Remove quoted text (so that `grep '[a-z]'` is no synopsis).
pub fn unquoted(text: &str) -> String {
    let mut out = String::new();
    let mut quote: Option<char> = None;
    for ch in text.chars() {
        match (quote, ch) {
            (None, '\'' | '"') => quote = Some(ch),
            (Some(q), _) if ch == q => quote = None,
            (Some(_), _) => {}
            (None, _) => out.push(ch),
        }
    }
    out
}

/// A usage synopsis (`[--flag VALUE]`, `…`, `<placeholder>`, `a|b`) rather
/// than a command one could run.
pub fn is_synopsis(tail: &str) -> bool {
    let re = regex::Regex::new(r"\[(-|:|@|[A-Z]|flags)|…|\.\.\.|<[A-Za-z][\w./:-]*>|\w\|\w")
        .expect("regex");
    re.is_match(&unquoted(tail))
}

/// Markdown: the fenced code blocks and the inline code spans, with the
/// 1-based line each starts on.
pub fn markdown_snippets(text: &str) -> Vec<(usize, String)> {
    let mut out = Vec::new();
    let mut fence: Option<(String, usize, String)> = None;
    for (n, line) in text.lines().enumerate() {
        let trimmed = line.trim_start();
        if let Some((marker, start, body)) = &mut fence {
            if trimmed.starts_with(marker.as_str()) && trimmed.trim_end() == marker.as_str() {
                out.push((*start, std::mem::take(body)));
                fence = None;
            } else {
                body.push_str(line);
                body.push('\n');
            }
            continue;
        }
        if trimmed.starts_with("```") || trimmed.starts_with("~~~") {
            let ch = trimmed.chars().next().unwrap_or('`');
            let marker: String = trimmed.chars().take_while(|&c| c == ch).collect();
            fence = Some((marker, n + 2, String::new()));
            continue;
        }
        // Inline code: a run of backquotes up to the next run of the same length.
        let c: Vec<char> = line.chars().collect();
        let mut i = 0;
        while i < c.len() {
            if c[i] != '`' {
                i += 1;
                continue;
            }
            let run = (i..c.len()).take_while(|&j| c[j] == '`').count();
            let start = i + run;
            let mut j = start;
            let mut end = None;
            while j < c.len() {
                if c[j] == '`' {
                    let r = (j..c.len()).take_while(|&k| c[k] == '`').count();
                    if r == run {
                        end = Some(j);
                        break;
                    }
                    j += r;
                } else {
                    j += 1;
                }
            }
            match end {
                Some(e) => {
                    out.push((
                        n + 1,
                        c[start..e].iter().collect::<String>().trim().to_string(),
                    ));
                    i = e + run;
                }
                None => i = start,
            }
        }
    }
    out
}

// ---------------------------------------------------------------------------
// Checking a command line

/// Check one found command line; `Err` says what is wrong.
pub fn check(found: &Found) -> Result<(), String> {
    if found.is_synopsis() || is_mention(&found.tail) {
        check_synopsis(&found.tail)
    } else {
        let args = expand_words(&shell_words(&found.tail), &found.env);
        check_args(&args)
    }
}

/// Only a command's name (`kubectl gitlab-flux receiver create`, as in a
/// title): the command must exist, its arguments are not expected.
pub fn is_mention(tail: &str) -> bool {
    let words: Vec<&str> = tail.split_whitespace().collect();
    let mut cmd = Cli::command();
    cmd.build();
    let mut current = &cmd;
    for w in &words {
        match current.get_subcommands().find(|s| s.get_name() == *w) {
            Some(sub) => current = sub,
            None => return false,
        }
    }
    !words.is_empty()
}

/// A concrete command line: clap parses it, then the values pass the
/// plugin's validators.
pub fn check_args(args: &[String]) -> Result<(), String> {
    let argv = std::iter::once("kubectl-gitlab_flux".to_string()).chain(args.iter().cloned());
    let cli = match Cli::try_parse_from(argv) {
        Ok(cli) => cli,
        Err(e)
            if matches!(
                e.kind(),
                clap::error::ErrorKind::DisplayHelp | clap::error::ErrorKind::DisplayVersion
            ) =>
        {
            return Ok(());
        }
        Err(e) => {
            let text = e.render().to_string();
            return Err(text.lines().next().unwrap_or_default().to_string());
        }
    };
    check_values(&cli)
}

/// A value still holding `$NAME` (unknown to the sample environment) is
/// not validated.
pub fn known(v: &str) -> bool {
    !v.contains('$')
}

pub fn err(e: impl std::fmt::Display) -> String {
    e.to_string()
}

pub fn check_values(cli: &Cli) -> Result<(), String> {
    use kubectl_gitlab_flux::config::{parse_duration, parse_timeout};
    use kubectl_gitlab_flux::flux::kinds::is_dns_subdomain;

    let g = &cli.global;
    if known(&g.request_timeout) {
        parse_duration("--request-timeout", &g.request_timeout).map_err(err)?;
    }
    if let Some(ns) = g.namespace.as_deref().filter(|n| known(n))
        && !is_dns_subdomain(ns)
    {
        return Err(format!("invalid namespace {ns:?}"));
    }
    for agent in g.agent.iter().filter(|a| known(a)) {
        let name = agent.rsplit(':').next().unwrap_or_default();
        if name.is_empty() || agent.chars().any(char::is_whitespace) {
            return Err(format!("invalid --agent {agent:?}"));
        }
    }
    match &cli.command {
        Command::Push(p) => {
            if p.dry_run && (p.deploy.trigger || p.deploy.wait) {
                return Err("--trigger/--wait cannot be combined with --dry-run".into());
            }
            check_deploy(&p.deploy)?;
            for a in p.annotations.iter().filter(|a| known(a)) {
                match a.split_once('=') {
                    Some((k, _)) if !k.is_empty() => {}
                    _ => return Err(format!("invalid --annotation {a:?}: expected KEY=VALUE")),
                }
            }
            if let Some(c) = p.created.as_deref().filter(|c| known(c))
                && kubectl_gitlab_flux::oci::annotations::normalize_time(c).is_none()
            {
                return Err(format!("invalid --created {c:?}"));
            }
            let all_known = known(&p.reference)
                && p.tags.iter().all(|t| known(t))
                && known(&p.registry.timeout)
                && p.registry.creds.as_deref().is_none_or(known);
            if all_known {
                // The command's own check of every flag (with what needs a
                // file system or stdin left out).
                let mut args = p.clone();
                offline_registry_args(&mut args.registry);
                args.dotenv = None;
                kubectl_gitlab_flux::cmd::push::Settings::from_args(args, std::io::empty())
                    .map_err(err)?;
            }
        }
        Command::Tag(t) => {
            check_deploy(&t.deploy)?;
            let all_known = known(&t.reference)
                && t.tags.iter().all(|t| known(t))
                && known(&t.registry.timeout)
                && t.registry.creds.as_deref().is_none_or(known);
            if all_known {
                let mut args = t.clone();
                offline_registry_args(&mut args.registry);
                args.dotenv = None;
                kubectl_gitlab_flux::cmd::tag::Settings::from_args(args, std::io::empty())
                    .map_err(err)?;
            }
        }
        Command::Trigger(t) => {
            check_target(&t.target)?;
            match &t.receiver {
                Some(url) => {
                    if !t.target.objects.is_empty()
                        || t.target.dependents
                        || t.target.all_namespaces
                    {
                        return Err(
                            "KIND/NAME, --dependents and -A do not apply to --receiver".into()
                        );
                    }
                    if t.force || t.reset {
                        return Err("--force and --reset need the annotation method".into());
                    }
                    if known(url) && !(url.starts_with("https://") || url.starts_with("http://")) {
                        return Err(format!("invalid --receiver URL {url:?}"));
                    }
                }
                None => {
                    if t.token_env.is_some() || t.token_file.is_some() {
                        return Err(
                            "--token-file and --token-env only apply with --receiver".into()
                        );
                    }
                    check_selected(&t.target)?;
                }
            }
            if let Some(name) = t.token_env.as_deref().filter(|n| known(n))
                && !regex::Regex::new("^[A-Za-z_][A-Za-z0-9_]*$")
                    .expect("regex")
                    .is_match(name)
            {
                return Err(format!("--token-env takes a variable name, not {name:?}"));
            }
        }
        Command::Wait(w) => {
            check_target(&w.target)?;
            check_selected(&w.target)?;
            if known(&w.timeout) {
                parse_timeout("--timeout", &w.timeout).map_err(err)?;
            }
            if let Some(t) = w.since_token.as_deref().filter(|t| known(t)) {
                t.parse::<jiff::Timestamp>()
                    .map_err(|e| format!("invalid --since-token {t:?}: {e}"))?;
            }
        }
        Command::Status(s) => check_target(&s.target)?,
        Command::Receiver(kubectl_gitlab_flux::cli::receiver::ReceiverCommand::Create(r)) => {
            if known(&r.name) && !is_dns_subdomain(&r.name) {
                return Err(format!("invalid Receiver name {:?}", r.name));
            }
            for o in r.resources.iter().filter(|o| known(o)) {
                kubectl_gitlab_flux::flux::kinds::parse_object_arg(o, "flux-system")
                    .map_err(err)?;
            }
            if known(&r.timeout) {
                parse_timeout("--timeout", &r.timeout).map_err(err)?;
            }
        }
        Command::Context(_)
        | Command::Completion(_)
        | Command::Version(_)
        | Command::Complete(_) => {}
    }
    Ok(())
}

/// `--trigger`/`--wait` and their flags (push, tag).
pub fn check_deploy(d: &kubectl_gitlab_flux::cli::push::DeployArgs) -> Result<(), String> {
    if !d.trigger && !d.wait && (d.dependents || d.all_namespaces) {
        return Err("--dependents and -A only apply with --trigger or --wait".into());
    }
    if known(&d.wait_timeout) {
        kubectl_gitlab_flux::config::parse_timeout("--wait-timeout", &d.wait_timeout)
            .map_err(err)?;
    }
    Ok(())
}

/// Registry flags without what needs a file system or stdin.
pub fn offline_registry_args(r: &mut kubectl_gitlab_flux::cli::push::RegistryArgs) {
    r.ca_file = None;
    r.username = None;
    r.password_stdin = false;
}

pub fn check_target(t: &TargetArgs) -> Result<(), String> {
    for o in t.objects.iter().filter(|o| known(o)) {
        kubectl_gitlab_flux::flux::kinds::parse_object_arg(o, "flux-system").map_err(err)?;
    }
    if let Some(a) = t.artifact.as_deref().filter(|a| known(a)) {
        kubectl_gitlab_flux::flux::selector::ArtifactSelector::parse(a).map_err(err)?;
    }
    Ok(())
}

/// Something must be selected (trigger without --receiver, wait).
pub fn check_selected(t: &TargetArgs) -> Result<(), String> {
    if t.objects.is_empty() && t.artifact.is_none() {
        return Err("nothing selected: give KIND/NAME or --artifact".into());
    }
    Ok(())
}

/// A synopsis: the command path exists, every flag exists for it, and
/// alternatives of enumerated values (`-o table|json|yaml`) are real values.
pub fn check_synopsis(tail: &str) -> Result<(), String> {
    let mut root = Cli::command();
    root.build();
    let mut current = &root;
    let mut any_command = false;
    let mut descended = false;
    let mut pending_value: Option<&clap::Arg> = None;
    let tokens: Vec<String> = tail
        .split_whitespace()
        .map(|t| {
            t.trim_matches(|c| "[](){}".contains(c))
                .trim_end_matches(['…', ','])
                .trim_end_matches("...")
                .to_string()
        })
        .filter(|t| !t.is_empty() && t != "|")
        .collect();
    let find_long = |cmd: &clap::Command, name: &str| -> bool {
        name == "help"
            || name == "version"
            || cmd.get_arguments().any(|a| {
                !a.is_hide_set()
                    && (a.get_long() == Some(name)
                        || a.get_visible_aliases().is_some_and(|v| v.contains(&name)))
            })
    };
    let find_short = |cmd: &clap::Command, c: char| -> bool {
        c == 'h' || c == 'V' || cmd.get_arguments().any(|a| a.get_short() == Some(c))
    };
    let all_leaves = || -> Vec<&clap::Command> {
        let mut v = vec![&root];
        let mut i = 0;
        while i < v.len() {
            let subs: Vec<&clap::Command> = v[i]
                .get_subcommands()
                .filter(|s| !s.is_hide_set())
                .collect();
            v.extend(subs);
            i += 1;
        }
        v
    };
    for tok in &tokens {
        if let Some(arg) = pending_value.take() {
            let values: Vec<String> = arg
                .get_possible_values()
                .iter()
                .map(|v| v.get_name().to_string())
                .collect();
            if !values.is_empty()
                && tok
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c == '-' || c == '|')
            {
                for alt in tok.split('|') {
                    if !values.iter().any(|v| v == alt) {
                        return Err(format!(
                            "{alt:?} is not a value of --{} ({})",
                            arg.get_long().unwrap_or_default(),
                            values.join(", ")
                        ));
                    }
                }
            }
            continue;
        }
        if let Some(long) = tok.strip_prefix("--") {
            let (name, inline_value) = match long.split_once('=') {
                Some((n, _)) => (n, true),
                None => (long, false),
            };
            if name.is_empty() {
                continue;
            }
            let exists = if any_command {
                all_leaves().iter().any(|c| find_long(c, name))
            } else {
                find_long(current, name)
            };
            if !exists {
                return Err(format!(
                    "unknown flag --{name} for `{}`",
                    current.get_bin_name().unwrap_or(current.get_name())
                ));
            }
            if !inline_value && !any_command {
                pending_value = current.get_arguments().find(|a| {
                    (a.get_long() == Some(name)
                        || a.get_visible_aliases().is_some_and(|v| v.contains(&name)))
                        && a.get_action().takes_values()
                });
            }
            continue;
        }
        if let Some(shorts) = tok.strip_prefix('-')
            && !shorts.is_empty()
            && shorts.chars().all(|c| c.is_ascii_alphabetic())
        {
            for c in shorts.chars() {
                let exists = if any_command {
                    all_leaves().iter().any(|cmd| find_short(cmd, c))
                } else {
                    find_short(current, c)
                };
                if !exists {
                    return Err(format!(
                        "unknown flag -{c} for `{}`",
                        current.get_bin_name().unwrap_or(current.get_name())
                    ));
                }
            }
            if shorts.len() == 1 && !any_command {
                let c = shorts.chars().next().unwrap_or_default();
                pending_value = current
                    .get_arguments()
                    .find(|a| a.get_short() == Some(c) && a.get_action().takes_values());
            }
            continue;
        }
        // A positional word: a command (hidden ones are real too), or an argument.
        if tok == "OPTIONS" || tok == "flags" {
            continue;
        }
        if !descended && current.has_subcommands() && !any_command {
            if tok.starts_with('<') {
                any_command = true;
                continue;
            }
            match current.get_subcommands().find(|s| s.get_name() == tok) {
                Some(sub) => {
                    current = sub;
                    descended = !current.has_subcommands();
                }
                None => return Err(format!("unknown command {tok:?}")),
            }
            continue;
        }
        if tok.contains('|')
            && tok
                .chars()
                .all(|c| c.is_ascii_lowercase() || c == '|' || c == '-')
        {
            let values: Vec<String> = current
                .get_positionals()
                .flat_map(|a| a.get_possible_values())
                .map(|v| v.get_name().to_string())
                .collect();
            if !values.is_empty() {
                for alt in tok.split('|') {
                    if !values.iter().any(|v| v == alt) {
                        return Err(format!("{alt:?} is not one of {}", values.join(", ")));
                    }
                }
            }
        }
    }
    if !any_command && current.has_subcommands() {
        return Err("no command given".into());
    }
    Ok(())
}

pub fn found(tail: &str) -> Found {
    Found {
        origin: "test".into(),
        tail: tail.into(),
        env: sample_env(),
    }
}

// ---------------------------------------------------------------------------
// Tests: the checker itself

#[test]
fn shell_words_handle_quotes_variables_and_operators() {
    let env = sample_env();
    let words = shell_words(
        r#"wait --artifact "$ARTIFACT_URL" -n '$literal' ${UNSET:-flux-system} --junit a\ b.xml $(date) | tee x # c"#,
    );
    let args = expand_words(&words, &env);
    assert_eq!(
        args,
        vec![
            "wait".to_string(),
            "--artifact".into(),
            env["ARTIFACT_URL"].clone(),
            "-n".into(),
            "$literal".into(),
            "flux-system".into(),
            "--junit".into(),
            "a b.xml".into(),
            "$(date)".into(),
        ]
    );
    // An unquoted variable splits into words; an unknown one stays $NAME.
    let mut env = sample_env();
    env.insert("FLAGS".into(), "--dependents -A".into());
    env.insert("EMPTY".into(), String::new());
    let args = expand_words(&shell_words("wait $FLAGS $EMPTY \"$FLAGS\" $UNKNOWN"), &env);
    assert_eq!(
        args,
        vec!["wait", "--dependents", "-A", "--dependents -A", "$UNKNOWN"]
    );
}

#[test]
fn commands_are_found_in_every_spelling() {
    let env = sample_env();
    let text = "\
$ kubectl gitlab-flux status -A
echo \"$TOKEN\" | kubectl-gitlab_flux trigger --receiver \"$FLUX_RECEIVER_URL\" \\
    --token-env FLUX_RECEIVER_TOKEN
planned=$(./target/release/kubectl-gitlab_flux push . oci://r.example/x --dry-run -o yaml | sed -n 's/^digest: //p')
kubectl plugin list   # shows kubectl-gitlab_flux
cp kubectl-gitlab_flux.exe /usr/local/bin/
";
    let found = commands_in(text, "t.md", 10, &env);
    let tails: Vec<(&str, &str)> = found
        .iter()
        .map(|f| (f.origin.as_str(), f.tail.trim()))
        .collect();
    assert_eq!(tails.len(), 3, "{tails:#?}");
    assert_eq!(tails[0], ("t.md:10", "status -A"));
    assert_eq!(tails[1].0, "t.md:11");
    assert!(
        tails[1].1.ends_with("--token-env FLUX_RECEIVER_TOKEN"),
        "{tails:?}"
    );
    assert_eq!(tails[2].0, "t.md:13");
    for f in &found {
        check(f).unwrap_or_else(|e| panic!("{}: {e}", f.tail));
    }
}

#[test]
fn the_checker_rejects_bad_command_lines() {
    let bad = [
        // unknown or stale flags
        (
            "wait --artifact \"$ARTIFACT_URL\" --junit-file flux.xml",
            "--junit-file",
        ),
        (
            "push ./deploy oci://r.example/app --no-such-flag",
            "--no-such-flag",
        ),
        (
            "trigger --artifact \"$ARTIFACT_URL\" --receiver-typ gitlab",
            "--receiver-typ",
        ),
        // stale command
        ("reconcile ks/apps", "reconcile"),
        // invalid values
        ("wait ks/apps --timeout 5", "unit"),
        ("status -o xml", "xml"),
        ("wait deployment/apps", "deployment"),
        ("trigger --artifact https://r.example/app:v1", "oci://"),
        ("push ./deploy oci://r.example/App:v1", "App"),
        (
            "push ./deploy oci://r.example/app --tag 'bad tag'",
            "bad tag",
        ),
        (
            "receiver create gitlab-ci --for ocirepository/apps --type hmac",
            "hmac",
        ),
        ("wait --since-token yesterday ks/apps", "yesterday"),
        // combinations the commands refuse
        ("wait --timeout 5m", "nothing selected"),
        (
            "push ./deploy oci://r.example/app --dependents",
            "--dependents",
        ),
        (
            "trigger --receiver \"$FLUX_RECEIVER_URL\" ks/apps",
            "--receiver",
        ),
        // synopses
        (
            "trigger [--artifact URL] [--no-such-flag]",
            "--no-such-flag",
        ),
        ("wait [KIND/NAME…] [-x]", "-x"),
        ("status [-o table|json|xml]", "xml"),
        ("completion bash|tcsh", "tcsh"),
        ("deploy [--artifact URL]", "deploy"),
    ];
    for (line, why) in bad {
        let f = found(line);
        match check(&f) {
            Ok(()) => panic!("the checker accepted {line:?}"),
            Err(e) => assert!(
                e.contains(why) || line.contains(why),
                "{line:?} was rejected for another reason: {e}"
            ),
        }
    }
    // The same lines, fixed, pass: the rejections above are for the reason given.
    for line in [
        "wait --artifact \"$ARTIFACT_URL\" --junit flux.xml",
        "push ./deploy oci://r.example/app --dry-run",
        "trigger --artifact \"$ARTIFACT_URL\" --receiver-type gitlab --receiver https://h.example/hook/x",
        "wait ks/apps --timeout 5m",
        "status -o yaml",
        "push ./deploy oci://r.example/app:v1 --tag latest",
        "receiver create gitlab-ci --for ocirepository/apps --type gitlab",
        "wait --since-token \"$FLUX_RECONCILE_TOKEN\" ks/apps",
        "trigger [--artifact URL] [--dependents]",
        "status [-o table|json|yaml]",
        "completion bash|zsh",
        "receiver create NAME --for KIND/NAME… [--export]",
    ] {
        check(&found(line)).unwrap_or_else(|e| panic!("{line:?}: {e}"));
    }
}

#[test]
fn synopses_are_told_from_command_lines() {
    for s in [
        "push PATH oci://REGISTRY/REPOSITORY[:TAG] [flags]",
        "trigger [KIND/NAME…]",
        "completion bash|zsh",
        "trigger --receiver https://flux-webhook.example.com/hook/… --token-env X",
        "<command> [flags]",
    ] {
        assert!(is_synopsis(s), "{s}");
    }
    for s in [
        "wait --artifact \"$ARTIFACT_URL\" --dependents",
        "push rendered x --dry-run -o yaml | sed -n 's/^digest: //p'",
        "status -A && [ -n \"$X\" ]",
    ] {
        assert!(!is_synopsis(s), "{s}");
    }
}

#[test]
fn markdown_code_blocks_and_inline_code_are_read() {
    let md = "intro `kubectl gitlab-flux version` and ``a ` b``\n\n```sh\nkubectl gitlab-flux status \\\n  -A\n```\n";
    let snippets = markdown_snippets(md);
    assert_eq!(
        snippets,
        vec![
            (1, "kubectl gitlab-flux version".to_string()),
            (1, "a ` b".to_string()),
            (4, "kubectl gitlab-flux status \\\n  -A\n".to_string()),
        ]
    );
    let found: Vec<Found> = snippets
        .iter()
        .flat_map(|(l, s)| commands_in(s, "x.md", *l, &sample_env()))
        .collect();
    assert_eq!(found.len(), 2);
    assert_eq!(found[1].origin, "x.md:4");
    assert_eq!(
        found[1].tail.split_whitespace().collect::<Vec<_>>(),
        ["status", "-A"]
    );
}
