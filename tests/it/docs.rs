//! The documentation against the real CLI.
//!
//! - Every command line of the plugin in README.md and docs/*.md (code blocks
//!   and inline code), in the `script:` lines of the YAML examples and the
//!   CI/CD component, and in the examples of `--help`, parses with the real
//!   clap model, and its values pass the plugin's own validators (references,
//!   KIND/NAME, durations, tags, flag combinations). Usage synopses
//!   (`[--flag …]`, `a|b`) are checked flag by flag.
//! - docs/usage.md names every command, flag and value of the CLI.
//! - The YAML examples and the component parse and have the jobs the docs
//!   describe; docs/gitlab-ci.md quotes them verbatim.
//! - `pipeline`: the example pipelines and the component run, job by job,
//!   against the test bed (see docs/gitlab-ci.md).
//!
//! `DOCS_LIST_COMMANDS=1 cargo test --test it docs::every -- --nocapture`
//! lists every command line found.

mod pipeline;

use clap::{CommandFactory, Parser};
use kubectl_gitlab_flux::cli::{Cli, Command, TargetArgs};
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::PathBuf;

pub type Env = BTreeMap<String, String>;

pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn read(rel: &str) -> String {
    std::fs::read_to_string(root().join(rel)).unwrap_or_else(|e| panic!("reading {rel}: {e}"))
}

const SAMPLE_DIGEST: &str =
    "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

/// What GitLab CI (and the dotenv reports of earlier jobs) would put in a
/// job's environment: shell variables in documented commands are replaced
/// by these to check the values; unknown variables stay `$NAME`.
fn sample_env() -> Env {
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
enum Seg {
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

fn push_lit(word: &mut Word, s: &str) {
    if let Some(Seg::Lit(last)) = word.last_mut() {
        last.push_str(s);
    } else {
        word.push(Seg::Lit(s.to_string()));
    }
}

/// Read a `$…` at `c[i]`; returns the index after it.
fn dollar(c: &[char], i: usize, quoted: bool, word: &mut Word) -> usize {
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
fn shell_words(text: &str) -> Vec<Word> {
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
fn expand_words(words: &[Word], env: &Env) -> Vec<String> {
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
                Seg::Var { name, default, .. } => match (env.get(name), default) {
                    (Some(v), _) if !v.is_empty() || default.is_none() => text.push_str(v),
                    (_, Some(d)) => text.push_str(d),
                    (None, None) => {
                        text.push('$');
                        text.push_str(name);
                    }
                    (Some(_), None) => unreachable!("handled above"),
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
    fn is_synopsis(&self) -> bool {
        is_synopsis(&self.tail)
    }
}

/// Join shell continuation lines (`\` at the end); returns each logical
/// line with the 0-based index of its first physical line.
fn logical_lines(text: &str) -> Vec<(usize, String)> {
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

fn program_regex() -> regex::Regex {
    // `kubectl gitlab-flux`, or the binary, possibly with a path, at the
    // start of a shell word.
    regex::Regex::new(
        r#"(?:^|[\s$(|;&"'`=])((?:[A-Za-z0-9_.~-]*/)*kubectl-gitlab_flux|kubectl[ \t]+gitlab-flux)(?:$|[^A-Za-z0-9_.-])"#,
    )
    .expect("regex")
}

/// Every plugin command line in `text` (a code block, an inline code span,
/// a script entry); `line0` is the 1-based line of its first line.
fn commands_in(text: &str, file: &str, line0: usize, env: &Env) -> Vec<Found> {
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
fn strip_comment(line: &str) -> String {
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
fn unquoted(text: &str) -> String {
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
fn is_synopsis(tail: &str) -> bool {
    let re = regex::Regex::new(r"\[(-|:|@|[A-Z]|flags)|…|\.\.\.|<[A-Za-z][\w./:-]*>|\w\|\w")
        .expect("regex");
    re.is_match(&unquoted(tail))
}

/// Markdown: the fenced code blocks and the inline code spans, with the
/// 1-based line each starts on.
fn markdown_snippets(text: &str) -> Vec<(usize, String)> {
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
// GitLab CI YAML

/// Load every YAML document of a file.
pub fn load_yaml(rel: &str) -> Vec<Value> {
    serde_saphyr::from_multiple::<Value>(&read(rel))
        .unwrap_or_else(|e| panic!("{rel} is not valid YAML: {e}"))
}

/// Keywords at the top of a .gitlab-ci.yml that are not jobs.
const GLOBAL_KEYWORDS: &[&str] = &[
    "stages",
    "variables",
    "default",
    "include",
    "workflow",
    "image",
    "services",
    "cache",
    "before_script",
    "after_script",
    "spec",
];

/// The jobs of a pipeline, with `extends` resolved (hidden jobs left out).
pub fn jobs(config: &Value) -> BTreeMap<String, Value> {
    let obj = config.as_object().expect("a pipeline is a mapping");
    let mut out = BTreeMap::new();
    for (name, job) in obj {
        if GLOBAL_KEYWORDS.contains(&name.as_str()) || name.starts_with('.') {
            continue;
        }
        out.insert(name.clone(), resolve_extends(obj, job, 0));
    }
    out
}

fn resolve_extends(all: &serde_json::Map<String, Value>, job: &Value, depth: usize) -> Value {
    assert!(depth < 10, "extends nests too deep");
    let parents: Vec<String> = match job.get("extends") {
        Some(Value::String(s)) => vec![s.clone()],
        Some(Value::Array(a)) => a
            .iter()
            .filter_map(|v| v.as_str().map(String::from))
            .collect(),
        _ => Vec::new(),
    };
    let mut merged = Value::Object(Default::default());
    for p in parents {
        let parent = all
            .get(&p)
            .unwrap_or_else(|| panic!("extends names an unknown job {p}"));
        deep_merge(&mut merged, &resolve_extends(all, parent, depth + 1));
    }
    deep_merge(&mut merged, job);
    if let Some(m) = merged.as_object_mut() {
        m.remove("extends");
    }
    merged
}

/// GitLab's merge for `extends` and included jobs: mappings merge, the
/// rest is replaced.
pub fn deep_merge(base: &mut Value, over: &Value) {
    match (base, over) {
        (Value::Object(b), Value::Object(o)) => {
            for (k, v) in o {
                match b.get_mut(k) {
                    Some(existing) => deep_merge(existing, v),
                    None => {
                        b.insert(k.clone(), v.clone());
                    }
                }
            }
        }
        (b, o) => *b = o.clone(),
    }
}

/// A job's script lines: default and job `before_script`, `script`.
pub fn script_lines(config: &Value, job: &Value) -> Vec<String> {
    let lines = |v: Option<&Value>| -> Vec<String> {
        match v {
            Some(Value::String(s)) => vec![s.clone()],
            Some(Value::Array(a)) => a
                .iter()
                .map(|l| l.as_str().expect("script lines are strings").to_string())
                .collect(),
            _ => Vec::new(),
        }
    };
    let before = job
        .get("before_script")
        .or_else(|| config.pointer("/default/before_script"));
    let mut out = lines(before);
    out.extend(lines(job.get("script")));
    out
}

/// Variables as strings (`VAR: value` or `VAR: {value: …}`).
pub fn variables(v: Option<&Value>) -> Vec<(String, String)> {
    let Some(Value::Object(m)) = v else {
        return Vec::new();
    };
    m.iter()
        .map(|(k, v)| {
            let value = match v {
                Value::String(s) => s.clone(),
                Value::Object(o) => o
                    .get("value")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_string(),
                Value::Null => String::new(),
                other => other.to_string(),
            };
            (k.clone(), value)
        })
        .collect()
}

/// GitLab's expansion of `$VAR` / `${VAR}` in variable values; unknown
/// variables are left as written when `keep_unknown`, else become empty.
pub fn expand_gitlab(value: &str, env: &Env, keep_unknown: bool) -> String {
    let re = regex::Regex::new(r"\$(?:\{([A-Za-z_][A-Za-z0-9_]*)\}|([A-Za-z_][A-Za-z0-9_]*))")
        .expect("regex");
    re.replace_all(value, |c: &regex::Captures<'_>| {
        let name = c.get(1).or_else(|| c.get(2)).expect("name").as_str();
        match env.get(name) {
            Some(v) => v.clone(),
            None if keep_unknown => c[0].to_string(),
            None => String::new(),
        }
    })
    .into_owned()
}

/// Interpolate `$[[ inputs.NAME ]]` as GitLab does for a component: the
/// spec (first document) declares the inputs; `given` overrides defaults.
pub fn interpolate_component(
    docs: &[Value],
    given: &serde_json::Map<String, Value>,
) -> Result<Value, String> {
    let [header, body] = docs else {
        return Err(format!(
            "a component has two YAML documents (spec, ---, jobs), not {}",
            docs.len()
        ));
    };
    let declared = header
        .pointer("/spec/inputs")
        .and_then(Value::as_object)
        .ok_or("the first document has no spec: inputs:")?;
    let mut inputs = serde_json::Map::new();
    for (name, spec) in declared {
        let value = match given.get(name).or_else(|| spec.get("default")) {
            Some(v) => v.clone(),
            None => return Err(format!("input {name} has no default and was not given")),
        };
        let kind = spec.get("type").and_then(Value::as_str).unwrap_or("string");
        let ok = match kind {
            "string" => value.is_string(),
            "boolean" => value.is_boolean(),
            "number" => value.is_number(),
            "array" => value.is_array(),
            other => return Err(format!("input {name}: unknown type {other}")),
        };
        if !ok {
            return Err(format!("input {name}: {value} is not a {kind}"));
        }
        if let Some(options) = spec.get("options").and_then(Value::as_array)
            && !options.contains(&value)
        {
            return Err(format!("input {name}: {value} is not one of {options:?}"));
        }
        if let Some(re) = spec.get("regex").and_then(Value::as_str) {
            let re = regex::Regex::new(re).map_err(|e| format!("input {name}: regex: {e}"))?;
            if !re.is_match(value.as_str().unwrap_or_default()) {
                return Err(format!("input {name}: {value} does not match {re}"));
            }
        }
        inputs.insert(name.clone(), value);
    }
    if let Some(unknown) = given.keys().find(|k| !declared.contains_key(*k)) {
        return Err(format!("unknown input {unknown}"));
    }
    interpolate_value(body, &inputs)
}

fn interpolate_value(v: &Value, inputs: &serde_json::Map<String, Value>) -> Result<Value, String> {
    let whole = regex::Regex::new(r"^\$\[\[\s*inputs\.([\w-]+)\s*\]\]$").expect("regex");
    let part = regex::Regex::new(r"\$\[\[\s*inputs\.([\w-]+)\s*\]\]").expect("regex");
    let text = |s: &str| -> Result<String, String> {
        let mut err = None;
        let out = part.replace_all(s, |c: &regex::Captures<'_>| match inputs.get(&c[1]) {
            Some(Value::String(s)) => s.clone(),
            Some(other) => other.to_string(),
            None => {
                err = Some(format!("unknown input {} in {s:?}", &c[1]));
                String::new()
            }
        });
        if let Some(e) = err {
            return Err(e);
        }
        if out.contains("$[[") {
            return Err(format!("unsupported interpolation in {s:?}"));
        }
        Ok(out.into_owned())
    };
    Ok(match v {
        Value::String(s) => match whole.captures(s.trim()) {
            Some(c) => inputs
                .get(&c[1])
                .cloned()
                .ok_or_else(|| format!("unknown input {}", &c[1]))?,
            None => Value::String(text(s)?),
        },
        Value::Array(a) => Value::Array(
            a.iter()
                .map(|x| interpolate_value(x, inputs))
                .collect::<Result<_, _>>()?,
        ),
        Value::Object(m) => {
            let mut out = serde_json::Map::new();
            for (k, x) in m {
                out.insert(text(k)?, interpolate_value(x, inputs)?);
            }
            Value::Object(out)
        }
        other => other.clone(),
    })
}

/// The component templates: templates/<name>.yml and templates/<name>/template.yml.
fn component_files() -> Vec<String> {
    let mut out = Vec::new();
    let dir = root().join("templates");
    let mut entries: Vec<_> = std::fs::read_dir(&dir)
        .expect("templates/")
        .map(|e| e.expect("entry").path())
        .collect();
    entries.sort();
    for p in entries {
        let name = p
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default()
            .to_string();
        if p.is_dir() && p.join("template.yml").is_file() {
            out.push(format!("templates/{name}/template.yml"));
        } else if name.ends_with(".yml") {
            out.push(format!("templates/{name}"));
        }
    }
    out
}

fn example_files() -> Vec<String> {
    let mut out: Vec<String> = std::fs::read_dir(root().join("docs/examples"))
        .expect("docs/examples/")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".yml") || n.ends_with(".yaml"))
        .map(|n| format!("docs/examples/{n}"))
        .collect();
    out.sort();
    out
}

/// Each job's script lines of a pipeline, with the environment its
/// variables give (over the sample CI environment).
fn pipeline_commands(file: &str, config: &Value) -> Vec<Found> {
    let text = read(file);
    let mut base = sample_env();
    for (k, v) in variables(config.get("variables")) {
        let v = expand_gitlab(&v, &base, true);
        base.insert(k, v);
    }
    let mut found = Vec::new();
    for (name, job) in jobs(config) {
        let mut env = base.clone();
        for (k, v) in variables(job.get("variables")) {
            let v = expand_gitlab(&v, &env, true);
            env.insert(k, v);
        }
        for line in script_lines(config, &job) {
            // The line number of the entry's first line in the file, for
            // messages (a folded entry starts with its first physical line).
            let first = line.lines().next().unwrap_or_default().trim();
            let at = text
                .lines()
                .position(|l| !first.is_empty() && l.contains(first))
                .or_else(|| {
                    text.lines().position(|l| {
                        let l = l.trim().trim_start_matches("- ");
                        l.len() > 20 && first.starts_with(l)
                    })
                })
                .map_or(0, |n| n + 1);
            found.extend(commands_in(
                &line,
                &format!("{file} (job {name})"),
                at,
                &env,
            ));
        }
    }
    found
}

/// Every command line of the plugin in the project's docs, examples,
/// components and `--help`.
fn all_commands() -> BTreeMap<&'static str, Vec<Found>> {
    let mut by_kind: BTreeMap<&'static str, Vec<Found>> = BTreeMap::new();
    let env = sample_env();
    let mut md = vec!["README.md".to_string()];
    let mut docs: Vec<String> = std::fs::read_dir(root().join("docs"))
        .expect("docs/")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".md"))
        .map(|n| format!("docs/{n}"))
        .collect();
    docs.sort();
    md.extend(docs);
    for file in &md {
        for (line, snippet) in markdown_snippets(&read(file)) {
            by_kind
                .entry("markdown")
                .or_default()
                .extend(commands_in(&snippet, file, line, &env));
        }
    }
    for file in example_files() {
        let docs = load_yaml(&file);
        for doc in &docs {
            by_kind
                .entry("examples")
                .or_default()
                .extend(pipeline_commands(&file, doc));
        }
    }
    for file in component_files() {
        let docs = load_yaml(&file);
        let config = interpolate_component(&docs, &Default::default())
            .unwrap_or_else(|e| panic!("{file}: {e}"));
        by_kind
            .entry("components")
            .or_default()
            .extend(pipeline_commands(&file, &config));
    }
    let mut cmd = Cli::command();
    cmd.build();
    let mut help = Vec::new();
    collect_help(&mut cmd, "kubectl gitlab-flux", &mut help);
    for (path, text) in help {
        by_kind.entry("--help").or_default().extend(commands_in(
            &text,
            &format!("{path} --help"),
            1,
            &env,
        ));
    }
    by_kind
}

fn collect_help(cmd: &mut clap::Command, path: &str, out: &mut Vec<(String, String)>) {
    // Unwrapped, so that example lines stay whole.
    let mut unwrapped = cmd.clone().term_width(0);
    out.push((path.to_string(), unwrapped.render_long_help().to_string()));
    for sub in cmd.get_subcommands_mut() {
        if sub.is_hide_set() {
            continue;
        }
        let p = format!("{path} {}", sub.get_name());
        collect_help(sub, &p, out);
    }
}

// ---------------------------------------------------------------------------
// Checking a command line

/// Check one found command line; `Err` says what is wrong.
fn check(found: &Found) -> Result<(), String> {
    if found.is_synopsis() || is_mention(&found.tail) {
        check_synopsis(&found.tail)
    } else {
        let args = expand_words(&shell_words(&found.tail), &found.env);
        check_args(&args)
    }
}

/// Only a command's name (`kubectl gitlab-flux receiver create`, as in a
/// title): the command must exist, its arguments are not expected.
fn is_mention(tail: &str) -> bool {
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
fn check_args(args: &[String]) -> Result<(), String> {
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
fn known(v: &str) -> bool {
    !v.contains('$')
}

fn err(e: impl std::fmt::Display) -> String {
    e.to_string()
}

fn check_values(cli: &Cli) -> Result<(), String> {
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
            if p.dry_run && (p.trigger || p.wait) {
                return Err("--trigger/--wait cannot be combined with --dry-run".into());
            }
            if !p.trigger && !p.wait && (p.dependents || p.all_namespaces) {
                return Err("--dependents and -A only apply with --trigger or --wait".into());
            }
            if known(&p.wait_timeout) {
                parse_timeout("--wait-timeout", &p.wait_timeout).map_err(err)?;
            }
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
                && known(&p.timeout)
                && p.creds.as_deref().is_none_or(known);
            if all_known {
                // The command's own check of every flag (with what needs a
                // file system or stdin left out).
                let mut args = p.clone();
                args.ca_file = None;
                args.dotenv = None;
                args.username = None;
                args.password_stdin = false;
                kubectl_gitlab_flux::cmd::push::Settings::from_args(args, std::io::empty())
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

fn check_target(t: &TargetArgs) -> Result<(), String> {
    for o in t.objects.iter().filter(|o| known(o)) {
        kubectl_gitlab_flux::flux::kinds::parse_object_arg(o, "flux-system").map_err(err)?;
    }
    if let Some(a) = t.artifact.as_deref().filter(|a| known(a)) {
        kubectl_gitlab_flux::flux::selector::ArtifactSelector::parse(a).map_err(err)?;
    }
    Ok(())
}

/// Something must be selected (trigger without --receiver, wait).
fn check_selected(t: &TargetArgs) -> Result<(), String> {
    if t.objects.is_empty() && t.artifact.is_none() {
        return Err("nothing selected: give KIND/NAME or --artifact".into());
    }
    Ok(())
}

/// A synopsis: the command path exists, every flag exists for it, and
/// alternatives of enumerated values (`-o table|json|yaml`) are real values.
fn check_synopsis(tail: &str) -> Result<(), String> {
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
            || cmd
                .get_arguments()
                .any(|a| a.get_long() == Some(name) && !a.is_hide_set())
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
                pending_value = current
                    .get_arguments()
                    .find(|a| a.get_long() == Some(name) && a.get_action().takes_values());
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
        // A positional word.
        if tok == "OPTIONS" || tok == "flags" {
            continue;
        }
        if !descended && current.has_subcommands() && !any_command {
            if tok.starts_with('<') {
                any_command = true;
                continue;
            }
            match current
                .get_subcommands()
                .find(|s| s.get_name() == tok && !s.is_hide_set())
            {
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

fn found(tail: &str) -> Found {
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

#[test]
fn component_inputs_are_interpolated_and_checked() {
    let docs: Vec<Value> = serde_saphyr::from_multiple(
        "spec:\n  inputs:\n    stage: {default: deploy}\n    when: {options: [on_success, manual], default: on_success}\n    needs: {type: array, default: [a]}\n    timeout: {default: 5m, regex: '^[0-9]+m$'}\n---\n\"job-$[[ inputs.stage ]]\":\n  stage: $[[ inputs.stage ]]\n  when: $[[ inputs.when ]]\n  needs: $[[ inputs.needs ]]\n  script: [\"echo $[[ inputs.timeout ]] $[[inputs.stage]]\"]\n",
    )
    .expect("yaml");
    let v = interpolate_component(&docs, &Default::default()).expect("defaults");
    assert_eq!(
        v,
        serde_json::json!({"job-deploy": {"stage": "deploy", "when": "on_success", "needs": ["a"], "script": ["echo 5m deploy"]}})
    );
    let given = |k: &str, v: Value| {
        let mut m = serde_json::Map::new();
        m.insert(k.into(), v);
        m
    };
    for (k, v, why) in [
        ("when", Value::from("always"), "not one of"),
        ("timeout", Value::from("5h"), "does not match"),
        ("stage", Value::from(true), "not a string"),
        ("nope", Value::from("x"), "unknown input"),
    ] {
        let e = interpolate_component(&docs, &given(k, v)).expect_err(k);
        assert!(e.contains(why), "{k}: {e}");
    }
}

// ---------------------------------------------------------------------------
// Tests: the docs

#[test]
fn every_documented_command_line_parses() {
    let all = all_commands();
    let mut failures = Vec::new();
    let (mut concrete, mut synopses) = (0, 0);
    for list in all.values() {
        for f in list {
            if f.is_synopsis() {
                synopses += 1;
            } else {
                concrete += 1;
            }
            if let Err(e) = check(f) {
                failures.push(format!("{}: `{}`\n    {e}", f.origin, f.tail.trim()));
            }
        }
    }
    let counts: BTreeMap<&str, usize> = all.iter().map(|(k, v)| (*k, v.len())).collect();
    eprintln!("checked {concrete} command lines and {synopses} synopses: {counts:?}");
    assert!(
        failures.is_empty(),
        "{} documented command line(s) do not match the CLI:\n{}",
        failures.len(),
        failures.join("\n")
    );
    // Not silently checking nothing: every kind of source holds commands.
    assert!(concrete >= 45, "only {concrete} command lines found");
    assert!(synopses >= 20, "only {synopses} synopses found");
    assert!(
        counts.get("markdown").copied().unwrap_or(0) >= 35,
        "{counts:?}"
    );
    assert!(
        counts.get("examples").copied().unwrap_or(0) >= 8,
        "{counts:?}"
    );
    assert!(
        counts.get("components").copied().unwrap_or(0) >= 2,
        "{counts:?}"
    );
    assert!(
        counts.get("--help").copied().unwrap_or(0) >= 20,
        "{counts:?}"
    );
    if std::env::var_os("DOCS_LIST_COMMANDS").is_some() {
        for f in all.values().flatten() {
            eprintln!("{}: {}", f.origin, f.tail.trim());
        }
    }
    // Every command of the CLI appears in some documented command line.
    let mut cmd = Cli::command();
    cmd.build();
    let used: Vec<String> = all
        .values()
        .flatten()
        .map(|f| {
            let words: Vec<String> = f
                .tail
                .split_whitespace()
                .take(2)
                .map(String::from)
                .collect();
            words.join(" ")
        })
        .collect();
    for sub in cmd.get_subcommands().filter(|s| !s.is_hide_set()) {
        let name = sub.get_name();
        assert!(
            used.iter()
                .any(|u| u == name || u.starts_with(&format!("{name} "))),
            "no documented command line runs `{name}`"
        );
    }
}

/// Whether `flag` (e.g. `--timeout`, `-n`) occurs in `text` as a whole flag.
fn mentions_flag(text: &str, flag: &str) -> bool {
    let mut from = 0;
    while let Some(i) = text[from..].find(flag) {
        let at = from + i;
        let before = text[..at].chars().next_back();
        let after = text[at + flag.len()..].chars().next();
        let bounded_before = before.is_none_or(|c| !(c.is_alphanumeric() || c == '-' || c == '_'));
        let bounded_after = after.is_none_or(|c| !(c.is_alphanumeric() || c == '-' || c == '_'));
        if bounded_before && bounded_after {
            return true;
        }
        from = at + flag.len();
    }
    false
}

/// The `## ` sections of a markdown file: heading → body.
fn sections(text: &str) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = Vec::new();
    for line in text.lines() {
        if let Some(h) = line.strip_prefix("## ") {
            out.push((h.to_string(), String::new()));
        } else if let Some((_, body)) = out.last_mut() {
            body.push_str(line);
            body.push('\n');
        }
    }
    out
}

#[test]
fn usage_md_covers_every_command_flag_and_value() {
    let usage = read("docs/usage.md");
    let sections = sections(&usage);
    let section = |title: &str| -> &str {
        &sections
            .iter()
            .find(|(h, _)| h.contains(title))
            .unwrap_or_else(|| panic!("docs/usage.md has no `## …{title}…` section"))
            .1
    };
    let mut missing = Vec::new();
    let mut cmd = Cli::command();
    cmd.build();
    let globals: Vec<&clap::Arg> = cmd
        .get_arguments()
        .filter(|a| a.is_global_set() && !a.is_hide_set())
        .collect();
    let check_arg = |a: &clap::Arg, text: &str, place: &str, missing: &mut Vec<String>| {
        if let Some(long) = a.get_long()
            && !mentions_flag(text, &format!("--{long}"))
        {
            missing.push(format!("--{long} in {place}"));
        }
        if let Some(short) = a.get_short()
            && !mentions_flag(text, &format!("-{short}"))
        {
            missing.push(format!("-{short} in {place}"));
        }
        for v in a.get_possible_values().iter().filter(|v| !v.is_hide_set()) {
            if !mentions_flag(text, v.get_name()) {
                missing.push(format!(
                    "value {} of {} in {place}",
                    v.get_name(),
                    a.get_id()
                ));
            }
        }
    };
    let global_text = section("Global flags");
    for a in &globals {
        check_arg(a, global_text, "Global flags", &mut missing);
    }
    for flag in ["--help", "--version", "-h", "-V"] {
        if !mentions_flag(global_text, flag) {
            missing.push(format!("{flag} in Global flags"));
        }
    }
    // Every command (and subcommand), by its path, has its own section
    // naming each of its own flags.
    let mut stack: Vec<(String, &clap::Command)> = cmd
        .get_subcommands()
        .filter(|s| !s.is_hide_set())
        .map(|s| (s.get_name().to_string(), s))
        .collect();
    let mut leaves = 0;
    while let Some((path, sub)) = stack.pop() {
        if sub.has_subcommands() {
            stack.extend(
                sub.get_subcommands()
                    .filter(|s| !s.is_hide_set())
                    .map(|s| (format!("{path} {}", s.get_name()), s)),
            );
            continue;
        }
        leaves += 1;
        let title = format!("`{path}`");
        let text = section(&title);
        for a in sub.get_arguments().filter(|a| {
            !a.is_hide_set()
                && !a.is_global_set()
                && !matches!(a.get_id().as_str(), "help" | "version")
        }) {
            check_arg(a, text, &title, &mut missing);
        }
    }
    assert!(leaves >= 8, "only {leaves} commands walked");
    assert!(
        missing.is_empty(),
        "docs/usage.md does not document:\n  {}",
        missing.join("\n  ")
    );
}

#[test]
fn the_walk_of_usage_md_would_notice_a_missing_flag() {
    // The coverage test's own matching: a flag that is only a prefix of
    // another, or only in another section, does not count.
    assert!(mentions_flag("| `--timeout DURATION` |", "--timeout"));
    assert!(!mentions_flag("| `--wait-timeout DURATION` |", "--timeout"));
    assert!(!mentions_flag("--timeouts", "--timeout"));
    assert!(mentions_flag("`-n, --namespace NS`", "-n"));
    assert!(!mentions_flag("--no-inventory", "-n"));
    let s = sections("## `wait`\n--junit\n## `status`\n--tree\n");
    assert_eq!(s.len(), 2);
    assert!(!mentions_flag(&s[1].1, "--junit"));
}

// ---------------------------------------------------------------------------
// Tests: the YAML examples and the component

fn stage_of(job: &Value) -> &str {
    job.get("stage").and_then(Value::as_str).unwrap_or("test")
}

/// Structure every pipeline must have: jobs in declared stages, `needs`
/// naming earlier jobs, reports where the docs say.
fn check_pipeline(file: &str, config: &Value) -> BTreeMap<String, Value> {
    let stages: Vec<&str> = config
        .get("stages")
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    let jobs = jobs(config);
    assert!(!jobs.is_empty(), "{file}: no jobs");
    for (name, job) in &jobs {
        let stage = stage_of(job);
        let pos = stages
            .iter()
            .position(|s| *s == stage)
            .unwrap_or_else(|| panic!("{file}: job {name} is in stage {stage}, not in {stages:?}"));
        for need in job
            .get("needs")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let need = need
                .as_str()
                .or_else(|| need.get("job").and_then(Value::as_str))
                .unwrap_or_default();
            let other = jobs
                .get(need)
                .unwrap_or_else(|| panic!("{file}: {name} needs unknown job {need}"));
            let other_pos = stages.iter().position(|s| *s == stage_of(other));
            assert!(
                other_pos <= Some(pos),
                "{file}: {name} needs the later job {need}"
            );
        }
        let script = script_lines(config, job).join("\n");
        assert!(!script.is_empty(), "{file}: job {name} has no script");
        // The plugin's image has no kubectl: CI scripts call the binary.
        assert!(
            !script.contains("kubectl gitlab-flux"),
            "{file}: job {name} calls `kubectl gitlab-flux`; the image has only kubectl-gitlab_flux"
        );
        for (report, flag) in [("dotenv", "--dotenv"), ("junit", "--junit")] {
            let declared = job
                .pointer(&format!("/artifacts/reports/{report}"))
                .and_then(Value::as_str);
            let written = script
                .split_whitespace()
                .skip_while(|w| *w != flag)
                .nth(1)
                .map(|w| w.trim_matches('"'));
            assert_eq!(
                declared.is_some(),
                written.is_some(),
                "{file}: job {name}: {flag} and artifacts:reports:{report} go together"
            );
            if let (Some(d), Some(w)) = (declared, written) {
                assert_eq!(
                    d, w,
                    "{file}: job {name}: the {report} report is not the file written"
                );
            }
            if report == "junit" && declared.is_some() {
                assert_eq!(
                    job.pointer("/artifacts/when").and_then(Value::as_str),
                    Some("always"),
                    "{file}: job {name}: a JUnit report matters most when the job fails"
                );
            }
        }
    }
    jobs
}

#[test]
fn the_example_pipeline_has_the_documented_jobs() {
    let file = "docs/examples/gitlab-ci.yml";
    let docs = load_yaml(file);
    assert_eq!(docs.len(), 1, "{file}: one document");
    let config = &docs[0];
    let stages: Vec<&str> = config["stages"]
        .as_array()
        .expect("stages")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert_eq!(stages, ["build", "push", "trigger", "wait", "production"]);
    let jobs = check_pipeline(file, config);
    let names: Vec<&str> = jobs.keys().map(String::as_str).collect();
    assert_eq!(
        names,
        [
            "deploy-production",
            "manifests",
            "push",
            "trigger-staging",
            "wait-staging"
        ]
    );
    let env = |j: &str| jobs[j].pointer("/environment/name").and_then(Value::as_str);
    assert_eq!(env("wait-staging"), Some("staging"));
    assert_eq!(env("deploy-production"), Some("production"));
    assert_eq!(jobs["deploy-production"]["when"], "manual");
    assert_eq!(jobs["deploy-production"]["allow_failure"], false);
    assert!(jobs["push"].pointer("/artifacts/reports/dotenv").is_some());
    assert!(
        jobs["wait-staging"]
            .pointer("/artifacts/reports/junit")
            .is_some()
    );
    // Both clusters through their GitLab agents, never a current-context.
    let all = serde_json::to_string(config).expect("json");
    assert!(
        all.contains("--agent \\\"$STAGING_AGENT\\\""),
        "staging agent"
    );
    assert!(
        all.contains("--agent \\\"$PRODUCTION_AGENT\\\""),
        "production agent"
    );
    // The image the docs name.
    assert_eq!(
        config
            .pointer("/default/image/name")
            .and_then(Value::as_str),
        Some("registry.gitlab.com/kubectl-gitlab-flux/kubectl-gitlab-flux:v0.1.0")
    );
}

#[test]
fn the_receiver_pipeline_needs_no_cluster_access() {
    let file = "docs/examples/gitlab-ci-receiver.yml";
    let docs = load_yaml(file);
    let config = &docs[0];
    let jobs = check_pipeline(file, config);
    assert_eq!(
        jobs.keys().map(String::as_str).collect::<Vec<_>>(),
        ["deploy", "manifests", "push"]
    );
    let all = serde_json::to_string(config).expect("json");
    for word in [
        "--agent",
        "KUBECONFIG",
        "KUBE_CONTEXT",
        "kubectl-gitlab_flux wait",
        "--context",
    ] {
        assert!(
            !all.contains(word),
            "{file} uses {word}: it must not need cluster access"
        );
    }
    let deploy = script_lines(config, &jobs["deploy"]).join("\n");
    assert!(
        deploy
            .contains("trigger --receiver \"$FLUX_RECEIVER_URL\" --token-env FLUX_RECEIVER_TOKEN")
    );
}

#[test]
fn the_component_declares_documented_inputs() {
    let files = component_files();
    assert_eq!(files, ["templates/deploy.yml"]);
    let file = &files[0];
    let docs = load_yaml(file);
    assert_eq!(docs.len(), 2, "{file}: spec, ---, jobs");
    let inputs = docs[0]
        .pointer("/spec/inputs")
        .and_then(Value::as_object)
        .expect("spec: inputs:");
    let text = read(file);
    let body = text.split("\n---\n").nth(1).expect("---");
    let gitlab_ci_md = read("docs/gitlab-ci.md");
    for (name, spec) in inputs {
        let desc = spec
            .get("description")
            .and_then(Value::as_str)
            .unwrap_or_default();
        assert!(desc.len() > 10, "{file}: input {name} needs a description");
        assert!(
            spec.get("default").is_some(),
            "{file}: input {name} needs a default"
        );
        assert!(
            body.contains(&format!("$[[ inputs.{name} ]]")),
            "{file}: input {name} is declared but not used"
        );
        assert!(
            gitlab_ci_md.contains(&format!("| `{name}` |")),
            "docs/gitlab-ci.md does not document input {name}"
        );
    }
    let used = regex::Regex::new(r"\$\[\[\s*inputs\.([\w-]+)").expect("regex");
    for c in used.captures_iter(body) {
        assert!(
            inputs.contains_key(&c[1]),
            "{file}: uses undeclared input {}",
            &c[1]
        );
    }
    // With the defaults, and as the docs include it for production.
    let config = interpolate_component(&docs, &Default::default()).expect("defaults");
    let wrapped = {
        let mut c = config.clone();
        c["stages"] = serde_json::json!(["deploy"]);
        c
    };
    let jobs = check_pipeline(file, &wrapped);
    assert_eq!(jobs.keys().collect::<Vec<_>>(), ["flux-deploy"]);
    let job = &jobs["flux-deploy"];
    assert_eq!(job["when"], "on_success");
    assert_eq!(
        job.pointer("/environment/name"),
        Some(&Value::from("production"))
    );
    assert_eq!(
        job.pointer("/artifacts/reports/dotenv"),
        Some(&Value::from("flux-deploy.env"))
    );
    let mut given = serde_json::Map::new();
    for (k, v) in [
        ("job_name", "deploy-production"),
        ("stage", "production"),
        ("when", "manual"),
        ("agent", "group/infra/gitlab-agents:production"),
        ("tag", "production"),
        ("expected_digest", "$ARTIFACT_DIGEST"),
    ] {
        given.insert(k.into(), Value::from(v));
    }
    let prod = interpolate_component(&docs, &given).expect("production inputs");
    assert_eq!(prod["deploy-production"]["when"], "manual");
    assert_eq!(
        prod.pointer("/deploy-production/variables/KUBE_CONTEXT"),
        Some(&Value::from("group/infra/gitlab-agents:production"))
    );
    assert!(
        interpolate_component(&docs, &{
            let mut m = serde_json::Map::new();
            m.insert("when".into(), Value::from("always"));
            m
        })
        .is_err()
    );
}

/// The fenced ```yaml blocks of a markdown file (without the indentation
/// of a block inside a list item).
pub fn yaml_blocks(md: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur: Option<(usize, String)> = None;
    for line in md.lines() {
        match &mut cur {
            None if line.trim_start().starts_with("```yaml") => {
                cur = Some((line.len() - line.trim_start().len(), String::new()));
            }
            None => {}
            Some(_) if line.trim() == "```" => out.extend(cur.take().map(|(_, b)| b)),
            Some((indent, b)) => {
                let cut = line.len() - line.trim_start().len();
                b.push_str(&line[cut.min(*indent)..]);
                b.push('\n');
            }
        }
    }
    out
}

#[test]
fn gitlab_ci_md_quotes_the_examples_verbatim() {
    let md = read("docs/gitlab-ci.md");
    let blocks = yaml_blocks(&md);
    for file in example_files().iter().chain(component_files().iter()) {
        let content = read(file);
        assert!(
            blocks.contains(&content),
            "docs/gitlab-ci.md must quote {file} verbatim in a ```yaml block (copy the file into the doc)"
        );
        assert!(
            md.contains(&format!("]({})", file.trim_start_matches("docs/")))
                || md.contains(&format!("](../{file})")),
            "docs/gitlab-ci.md must link {file}"
        );
    }
    // Every other YAML block in the doc parses too.
    for b in &blocks {
        serde_saphyr::from_multiple::<Value>(b).unwrap_or_else(|e| {
            panic!("a ```yaml block of docs/gitlab-ci.md does not parse: {e}\n{b}")
        });
    }
}
