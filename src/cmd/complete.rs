//! `__complete`: completion of `kubectl gitlab-flux …` under kubectl itself.
//!
//! kubectl (1.26 and later) completes a plugin's arguments by running
//! `kubectl_complete-gitlab_flux` from PATH with the words after the plugin
//! name, the last one being the word under the cursor (empty when a new word
//! starts). That script runs `kubectl-gitlab_flux __complete -- WORDS…`. We
//! print one candidate per line (`value`, or `value<TAB>description`) and a
//! last line `:<directive>`, the bits of cobra's `ShellCompDirective`
//! ([`directive`]). kubectl ignores the output of a helper that exits
//! non-zero, so this command always succeeds and writes nothing else.
//!
//! What is offered comes from the clap model ([`Cli::command`]), so it
//! cannot go stale: subcommands with their one-line help, long and short
//! flags (global ones included), the possible values of `ValueEnum` flags
//! (`-o`, `--color`, …), and the file-completion directive for path
//! arguments. A few values are looked up: `--context` and `--agent` in the
//! kubeconfig (`--kubeconfig` on the line, else `KUBECONFIG`), `-n`
//! namespaces and the names in `KIND/NAME` arguments from the cluster, all
//! within one short time limit ([`TIMEOUT_ENV`], default 1 s): a slow or
//! unreachable cluster yields no candidates, never an error or a hang.

use clap::{Arg, ArgAction, Command, CommandFactory, ValueHint};
use kube::api::{Api, ListParams};
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use super::write_stdout;
use crate::cli::{Cli, CompleteArgs};
use crate::cluster::objects::{FluxApi, to_value};
use crate::cluster::{Cluster, ContextRequest, kubeconfig};
use crate::error::{ExitCode, Result};
use crate::flux::FluxKind;
use crate::flux::verdict::condition;

/// cobra's `ShellCompDirective` bits, as kubectl reads them.
pub mod directive {
    /// Complete file names when nothing is offered.
    pub const DEFAULT: u32 = 0;
    pub const ERROR: u32 = 1;
    /// Do not add a space after the completed word.
    pub const NO_SPACE: u32 = 2;
    /// Do not fall back to file names.
    pub const NO_FILE_COMP: u32 = 4;
    pub const FILTER_FILE_EXT: u32 = 8;
    /// Complete directory names only.
    pub const FILTER_DIRS: u32 = 16;
    /// Keep the candidates in the order given.
    pub const KEEP_ORDER: u32 = 32;
}
use directive::{FILTER_DIRS, KEEP_ORDER, NO_FILE_COMP, NO_SPACE};

/// The environment variable that sets the time limit of look-ups in the
/// kubeconfig and the cluster (a duration such as `500ms` or `3s`).
pub const TIMEOUT_ENV: &str = "GITLAB_FLUX_COMPLETE_TIMEOUT";

/// The time limit of look-ups when [`TIMEOUT_ENV`] is unset or invalid.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(1);

/// At most this many namespaces or objects are listed.
const LIST_LIMIT: u32 = 500;

/// The clap argument ids whose values are looked up.
mod ids {
    pub const KUBECONFIG: &str = "kubeconfig";
    pub const CONTEXT: &str = "context";
    pub const AGENT: &str = "agent";
    pub const NAMESPACE: &str = "namespace";
    /// `KIND/NAME` positionals of trigger, wait and status.
    pub const OBJECTS: &str = "objects";
    /// `receiver create --for KIND/NAME`.
    pub const RESOURCES: &str = "resources";
}

/// The kinds offered for `KIND/NAME`, most used first.
const KIND_ORDER: [FluxKind; 9] = [
    FluxKind::Kustomization,
    FluxKind::HelmRelease,
    FluxKind::OciRepository,
    FluxKind::GitRepository,
    FluxKind::Bucket,
    FluxKind::HelmRepository,
    FluxKind::HelmChart,
    FluxKind::ExternalArtifact,
    FluxKind::Receiver,
];

/// One completion candidate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Candidate {
    pub value: String,
    pub description: Option<String>,
}

impl Candidate {
    fn new(value: impl Into<String>, description: Option<String>) -> Candidate {
        Candidate {
            value: value.into(),
            description: description.filter(|d| !d.is_empty()),
        }
    }
}

/// What must be looked up in the kubeconfig or the cluster.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lookup {
    Contexts,
    Agents,
    Namespaces,
    Objects(FluxKind),
}

/// The flags on the line that say where to look.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Scope {
    pub kubeconfig: Option<String>,
    pub contexts: Vec<String>,
    pub agents: Vec<String>,
    pub namespace: Option<String>,
}

/// What to answer, before any look-up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    /// Candidates known without looking anything up.
    pub fixed: Vec<Candidate>,
    pub lookup: Option<Lookup>,
    /// Only values starting with this are offered.
    pub prefix: String,
    /// Put in front of every value offered (`--context=`, `ks/`).
    pub insert: String,
    /// Values already on the line, not offered again.
    pub exclude: Vec<String>,
    pub directive: u32,
    pub scope: Scope,
}

/// The answer: candidates and the directive.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    pub candidates: Vec<Candidate>,
    pub directive: u32,
}

pub async fn run(args: CompleteArgs) -> Result<ExitCode> {
    let reply = complete(&args.words, lookup_timeout()).await;
    write_stdout(&render(&reply))?;
    Ok(ExitCode::Success)
}

/// Complete the words after `kubectl gitlab-flux`, looking values up for
/// at most `limit`.
pub async fn complete(words: &[String], limit: Duration) -> Reply {
    let plan = plan(words);
    let mut found = Vec::new();
    if let Some(lookup) = plan.lookup {
        // A task of its own, so that a look-up that blocks its thread (an
        // exec credential plugin) cannot hold up the time limit.
        let scope = plan.scope.clone();
        let task = tokio::spawn(async move { look_up(lookup, &scope).await });
        if let Ok(Ok(Some(candidates))) = tokio::time::timeout(limit, task).await {
            found = candidates;
        }
    }
    finish(&plan, found)
}

/// The time limit of look-ups: [`TIMEOUT_ENV`], else [`DEFAULT_TIMEOUT`].
pub fn lookup_timeout() -> Duration {
    parse_timeout(std::env::var(TIMEOUT_ENV).ok().as_deref())
}

/// A duration such as `500ms`; zero, invalid or unset is the default.
fn parse_timeout(value: Option<&str>) -> Duration {
    value
        .and_then(|v| humantime::parse_duration(v.trim()).ok())
        .filter(|d| !d.is_zero())
        .unwrap_or(DEFAULT_TIMEOUT)
}

/// Filter the candidates by the prefix, drop the excluded and duplicate
/// ones, and put the insert in front.
pub fn finish(plan: &Plan, found: Vec<Candidate>) -> Reply {
    let mut seen: Vec<String> = Vec::new();
    let mut candidates = Vec::new();
    for c in plan.fixed.iter().cloned().chain(found) {
        if !c.value.starts_with(&plan.prefix)
            || plan.exclude.contains(&c.value)
            || seen.contains(&c.value)
        {
            continue;
        }
        seen.push(c.value.clone());
        candidates.push(Candidate {
            value: format!("{}{}", plan.insert, c.value),
            description: c.description,
        });
    }
    Reply {
        candidates,
        directive: plan.directive,
    }
}

/// The protocol's text: `value[\tdescription]` lines, then `:<directive>`.
pub fn render(reply: &Reply) -> String {
    let clean = |s: &str| s.replace(['\t', '\n', '\r'], " ");
    let mut out = String::new();
    for c in &reply.candidates {
        out.push_str(&clean(&c.value));
        if let Some(d) = &c.description {
            out.push('\t');
            out.push_str(clean(d).trim());
        }
        out.push('\n');
    }
    out.push_str(&format!(":{}\n", reply.directive));
    out
}

/// Work out what the last word needs, from the clap model of the CLI.
pub fn plan(words: &[String]) -> Plan {
    let mut root = Cli::command();
    // Building propagates the global flags (and --help) to the subcommands.
    root.build();
    plan_with(&root, words)
}

fn plan_with(root: &Command, words: &[String]) -> Plan {
    let (current, done) = match words.split_last() {
        Some((current, done)) => (current.as_str(), done),
        None => ("", &[][..]),
    };
    let mut cmd = root;
    // Flag values by argument id ("" for a flag without a value).
    let mut seen: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut positionals: Vec<String> = Vec::new();
    let mut pending: Option<&Arg> = None;
    let mut escaped = false;
    for word in done {
        if let Some(arg) = pending.take() {
            record(&mut seen, arg, word);
            continue;
        }
        if !escaped {
            if word == "--" {
                escaped = true;
                continue;
            }
            if let Some(body) = word.strip_prefix("--") {
                let (name, value) = match body.split_once('=') {
                    Some((n, v)) => (n, Some(v)),
                    None => (body, None),
                };
                if let Some(arg) = long_arg(cmd, name) {
                    match value {
                        Some(v) => record(&mut seen, arg, v),
                        None if takes_value(arg) => pending = Some(arg),
                        None => record(&mut seen, arg, ""),
                    }
                }
                continue;
            }
            if word.len() > 1 && word.starts_with('-') {
                // Short flags, maybe clustered (-Av); the first that takes
                // a value takes the rest of the word (-nflux-system).
                let rest = &word[1..];
                for (i, c) in rest.char_indices() {
                    let Some(arg) = short_arg(cmd, c) else { break };
                    if takes_value(arg) {
                        let value = &rest[i + c.len_utf8()..];
                        let value = value.strip_prefix('=').unwrap_or(value);
                        if value.is_empty() {
                            pending = Some(arg);
                        } else {
                            record(&mut seen, arg, value);
                        }
                        break;
                    }
                    record(&mut seen, arg, "");
                }
                continue;
            }
        }
        if positionals.is_empty()
            && let Some(sub) = cmd.find_subcommand(word)
        {
            cmd = sub;
            continue;
        }
        positionals.push(word.clone());
    }

    let base = Plan {
        fixed: Vec::new(),
        lookup: None,
        prefix: current.to_string(),
        insert: String::new(),
        exclude: Vec::new(),
        directive: NO_FILE_COMP,
        scope: scope(&seen),
    };
    if let Some(arg) = pending {
        return value_plan(base, arg, current, "", &seen, &positionals);
    }
    if !escaped && current.len() > 1 && current.starts_with('-') {
        if let Some(body) = current.strip_prefix("--") {
            if let Some((name, value)) = body.split_once('=') {
                return match long_arg(cmd, name).filter(|a| takes_value(a)) {
                    Some(arg) => {
                        value_plan(base, arg, value, &format!("--{name}="), &seen, &positionals)
                    }
                    None => base,
                };
            }
        } else {
            // A short flag with its value attached: -ojs
            let mut chars = current[1..].chars();
            if let Some(c) = chars.next()
                && let Some(arg) = short_arg(cmd, c).filter(|a| takes_value(a))
                && current.len() > 1 + c.len_utf8()
            {
                let rest = chars.as_str();
                let (insert, value) = match rest.strip_prefix('=') {
                    Some(v) => (format!("-{c}="), v),
                    None => (format!("-{c}"), rest),
                };
                return value_plan(base, arg, value, &insert, &seen, &positionals);
            }
        }
    }
    if !escaped && current.starts_with('-') {
        return flag_plan(base, cmd, current, &seen);
    }
    if positionals.is_empty() && cmd.get_subcommands().any(|s| !s.is_hide_set()) {
        return Plan {
            fixed: cmd
                .get_subcommands()
                .filter(|s| !s.is_hide_set())
                .map(|s| Candidate::new(s.get_name(), s.get_about().map(first_line)))
                .collect(),
            ..base
        };
    }
    match positional_at(cmd, positionals.len()) {
        Some(arg) => value_plan(base, arg, current, "", &seen, &positionals),
        None => base,
    }
}

/// Candidates for a flag name.
fn flag_plan(
    base: Plan,
    cmd: &Command,
    current: &str,
    seen: &BTreeMap<String, Vec<String>>,
) -> Plan {
    let mut fixed = Vec::new();
    for arg in cmd.get_arguments() {
        if arg.is_positional() || arg.is_hide_set() {
            continue;
        }
        let repeatable = matches!(arg.get_action(), ArgAction::Append | ArgAction::Count);
        if !repeatable && seen.contains_key(arg.get_id().as_str()) {
            continue;
        }
        let help = arg.get_help().map(first_line);
        if let Some(long) = arg.get_long() {
            fixed.push(Candidate::new(format!("--{long}"), help.clone()));
        }
        if !current.starts_with("--")
            && let Some(short) = arg.get_short()
        {
            fixed.push(Candidate::new(format!("-{short}"), help));
        }
    }
    Plan { fixed, ..base }
}

/// Candidates for the value of `arg` (a flag's or a positional's).
fn value_plan(
    base: Plan,
    arg: &Arg,
    prefix: &str,
    insert: &str,
    seen: &BTreeMap<String, Vec<String>>,
    positionals: &[String],
) -> Plan {
    let base = Plan {
        prefix: prefix.to_string(),
        insert: insert.to_string(),
        ..base
    };
    let id = arg.get_id().as_str();
    let given = |id: &str| seen.get(id).cloned().unwrap_or_default();
    match id {
        ids::CONTEXT => {
            return Plan {
                lookup: Some(Lookup::Contexts),
                exclude: given(id),
                ..base
            };
        }
        ids::AGENT => {
            return Plan {
                lookup: Some(Lookup::Agents),
                exclude: given(id),
                ..base
            };
        }
        ids::NAMESPACE => {
            return Plan {
                lookup: Some(Lookup::Namespaces),
                ..base
            };
        }
        ids::OBJECTS => return object_plan(base, positionals),
        ids::RESOURCES => return object_plan(base, &given(id)),
        _ => {}
    }
    let values: Vec<Candidate> = arg
        .get_possible_values()
        .iter()
        .filter(|v| !v.is_hide_set())
        .map(|v| Candidate::new(v.get_name(), v.get_help().map(first_line)))
        .collect();
    if !values.is_empty() {
        return Plan {
            fixed: values,
            ..base
        };
    }
    if arg
        .get_value_names()
        .is_some_and(|names| names.iter().any(|n| n.as_str() == "OCI-URL"))
    {
        return Plan {
            fixed: vec![Candidate::new("oci://", None)],
            directive: NO_SPACE | NO_FILE_COMP,
            ..base
        };
    }
    let directive = match arg.get_value_hint() {
        ValueHint::AnyPath | ValueHint::FilePath | ValueHint::ExecutablePath => directive::DEFAULT,
        ValueHint::DirPath => FILTER_DIRS,
        _ => NO_FILE_COMP,
    };
    Plan { directive, ..base }
}

/// `KIND/NAME`: the kinds first (`ks/`, no space after), then, once the
/// kind is typed, the names of that kind in the namespace.
fn object_plan(base: Plan, given: &[String]) -> Plan {
    let Some((kind_text, name_prefix)) = base.prefix.split_once('/') else {
        return Plan {
            fixed: kind_names()
                .into_iter()
                .map(|(alias, kind)| {
                    Candidate::new(format!("{alias}/"), Some(kind.kind().to_string()))
                })
                .collect(),
            directive: NO_SPACE | NO_FILE_COMP | KEEP_ORDER,
            ..base
        };
    };
    let Some(kind) = FluxKind::parse(kind_text) else {
        return base;
    };
    let exclude = given
        .iter()
        .filter_map(|g| g.split_once('/'))
        .filter(|(k, _)| FluxKind::parse(k) == Some(kind))
        .map(|(_, n)| n.to_string())
        .collect();
    Plan {
        lookup: Some(Lookup::Objects(kind)),
        insert: format!("{}{kind_text}/", base.insert),
        prefix: name_prefix.to_string(),
        exclude,
        ..base
    }
}

/// The names users type for kinds (no plurals), in [`KIND_ORDER`].
pub fn kind_names() -> Vec<(&'static str, FluxKind)> {
    KIND_ORDER
        .iter()
        .flat_map(|&kind| {
            let info = kind.info();
            info.aliases
                .iter()
                .filter(move |a| **a != info.plural)
                .map(move |a| (*a, kind))
        })
        .collect()
}

fn scope(seen: &BTreeMap<String, Vec<String>>) -> Scope {
    let all = |id: &str| -> Vec<String> {
        seen.get(id)
            .map(|v| v.iter().filter(|s| !s.is_empty()).cloned().collect())
            .unwrap_or_default()
    };
    Scope {
        kubeconfig: all(ids::KUBECONFIG).pop(),
        contexts: all(ids::CONTEXT),
        agents: all(ids::AGENT),
        namespace: all(ids::NAMESPACE).pop(),
    }
}

fn record(seen: &mut BTreeMap<String, Vec<String>>, arg: &Arg, value: &str) {
    seen.entry(arg.get_id().to_string())
        .or_default()
        .push(value.to_string());
}

fn takes_value(arg: &Arg) -> bool {
    arg.get_action().takes_values()
}

fn long_arg<'a>(cmd: &'a Command, name: &str) -> Option<&'a Arg> {
    cmd.get_arguments().find(|a| {
        !a.is_positional()
            && (a.get_long() == Some(name)
                || a.get_all_aliases()
                    .is_some_and(|aliases| aliases.contains(&name)))
    })
}

fn short_arg(cmd: &Command, c: char) -> Option<&Arg> {
    cmd.get_arguments().find(|a| {
        !a.is_positional()
            && (a.get_short() == Some(c)
                || a.get_all_short_aliases()
                    .is_some_and(|aliases| aliases.contains(&c)))
    })
}

/// The positional that the `index`th positional word fills.
fn positional_at(cmd: &Command, index: usize) -> Option<&Arg> {
    let mut positionals: Vec<&Arg> = cmd.get_positionals().collect();
    positionals.sort_by_key(|a| a.get_index().unwrap_or(usize::MAX));
    if let Some(arg) = positionals.get(index) {
        return Some(arg);
    }
    positionals.last().copied().filter(|a| {
        matches!(a.get_action(), ArgAction::Append)
            || a.get_num_args().is_some_and(|r| r.max_values() > 1)
    })
}

fn first_line(text: &clap::builder::StyledStr) -> String {
    text.to_string()
        .lines()
        .next()
        .unwrap_or_default()
        .trim()
        .to_string()
}

/// Look values up in the kubeconfig or the cluster; None when anything on
/// the way fails (completion then offers nothing).
async fn look_up(lookup: Lookup, scope: &Scope) -> Option<Vec<Candidate>> {
    let explicit = scope.kubeconfig.as_deref().map(expand_home);
    let kc = kubeconfig::load(explicit.as_deref()).ok()?;
    match lookup {
        Lookup::Contexts => Some(context_candidates(&kc)),
        Lookup::Agents => Some(agent_candidates(&kc)),
        Lookup::Namespaces | Lookup::Objects(_) => {
            let request = ContextRequest {
                context: scope.contexts.first().cloned(),
                agent: scope.agents.first().cloned(),
                kube_context_env: std::env::var("KUBE_CONTEXT").ok().filter(|v| !v.is_empty()),
                namespace: scope.namespace.clone(),
            };
            let resolved = kubeconfig::resolve(&kc, &request).ok()?;
            let namespace = resolved.namespace.clone();
            let cluster = Cluster::connect(kc, resolved, None).await.ok()?;
            let params = ListParams::default().limit(LIST_LIMIT);
            match lookup {
                Lookup::Objects(kind) => {
                    let flux = FluxApi::discover(&cluster).await.ok()?;
                    let api = flux.api(kind, Some(&namespace)).ok()?;
                    let list = api.list(&params).await.ok()?;
                    Some(
                        list.items
                            .into_iter()
                            .map(to_value)
                            .filter_map(|obj| object_candidate(&obj))
                            .collect(),
                    )
                }
                _ => {
                    let api: Api<k8s_openapi::api::core::v1::Namespace> =
                        Api::all(cluster.client.clone());
                    let list = api.list(&params).await.ok()?;
                    Some(
                        list.items
                            .into_iter()
                            .filter_map(|ns| ns.metadata.name)
                            .map(|name| Candidate::new(name, None))
                            .collect(),
                    )
                }
            }
        }
    }
}

/// `~/x` as the shell would have expanded it (the word reaches us as typed).
fn expand_home(path: &str) -> PathBuf {
    match (path.strip_prefix("~/"), dirs::home_dir()) {
        (Some(rest), Some(home)) => home.join(rest),
        _ => PathBuf::from(path),
    }
}

/// Every context; the current one says so.
pub fn context_candidates(kc: &kube::config::Kubeconfig) -> Vec<Candidate> {
    let current = kc.current_context.as_deref().unwrap_or_default();
    kc.contexts
        .iter()
        .map(|c| {
            let note = (c.name == current).then(|| "current context".to_string());
            Candidate::new(c.name.clone(), note)
        })
        .collect()
}

/// The contexts GitLab CI makes for agents: `<project path>:<agent name>`.
pub fn agent_candidates(kc: &kube::config::Kubeconfig) -> Vec<Candidate> {
    kc.contexts
        .iter()
        .filter(|c| {
            c.name.rsplit_once(':').is_some_and(|(path, agent)| {
                !path.is_empty() && !agent.is_empty() && !agent.contains('/')
            })
        })
        .map(|c| Candidate::new(c.name.clone(), None))
        .collect()
}

/// A Flux object's name, described by its readiness.
pub fn object_candidate(obj: &Value) -> Option<Candidate> {
    let name = obj.pointer("/metadata/name")?.as_str()?;
    let suspended = obj.pointer("/spec/suspend").and_then(Value::as_bool) == Some(true);
    let description = if suspended {
        Some("suspended".to_string())
    } else {
        condition(obj, "Ready").map(|c| match (c.status, c.reason) {
            ("True", _) => "Ready".to_string(),
            (_, "") => "not ready".to_string(),
            (_, reason) => format!("not ready: {reason}"),
        })
    };
    Some(Candidate::new(name, description))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn words(line: &str) -> Vec<String> {
        // The last word is the one being completed; a trailing space starts
        // an empty one.
        let mut w: Vec<String> = line.split_whitespace().map(str::to_string).collect();
        if line.is_empty() || line.ends_with(' ') {
            w.push(String::new());
        }
        w
    }

    fn offered(line: &str) -> (Vec<String>, u32) {
        let p = plan(&words(line));
        assert_eq!(p.lookup, None, "{line} needs no look-up");
        let r = finish(&p, Vec::new());
        (
            r.candidates.into_iter().map(|c| c.value).collect(),
            r.directive,
        )
    }

    #[test]
    fn subcommands_with_descriptions() {
        let p = plan(&words(""));
        let r = finish(&p, Vec::new());
        let names: Vec<&str> = r.candidates.iter().map(|c| c.value.as_str()).collect();
        for sub in [
            "push",
            "trigger",
            "wait",
            "status",
            "receiver",
            "context",
            "completion",
            "version",
        ] {
            assert!(names.contains(&sub), "{sub} missing from {names:?}");
        }
        assert!(!names.contains(&"__complete"), "hidden command offered");
        let push = r
            .candidates
            .iter()
            .find(|c| c.value == "push")
            .expect("push");
        assert!(
            push.description
                .as_deref()
                .is_some_and(|d| d.starts_with("Package a directory")),
            "{push:?}"
        );
        assert_eq!(r.directive, NO_FILE_COMP);
        assert_eq!(offered("st").0, vec!["status"]);
        assert_eq!(offered("receiver ").0, vec!["create"]);
    }

    #[test]
    fn flags_of_the_subcommand_and_global_ones() {
        let (names, d) = offered("wait --o");
        assert_eq!(names, vec!["--output"]);
        assert_eq!(d, NO_FILE_COMP);
        let (names, _) = offered("wait --");
        for f in [
            "--since-token",
            "--timeout",
            "--junit",
            "--context",
            "--kubeconfig",
            "--namespace",
            "--help",
        ] {
            assert!(names.iter().any(|n| n == f), "{f} missing from {names:?}");
        }
        assert!(
            !names.iter().any(|n| n == "-n"),
            "short flags after --: {names:?}"
        );
        let (names, _) = offered("status -");
        assert!(names.iter().any(|n| n == "-n"), "{names:?}");
        assert!(names.iter().any(|n| n == "-A"), "{names:?}");
        assert!(names.iter().any(|n| n == "--tree"), "{names:?}");
        // push has its own flags, not those of wait's selection
        let (names, _) = offered("push --");
        assert!(names.iter().any(|n| n == "--dry-run"), "{names:?}");
        assert!(!names.iter().any(|n| n == "--since-token"), "{names:?}");
    }

    #[test]
    fn flags_given_once_are_not_offered_again() {
        let (names, _) = offered("status --tree --t");
        assert!(!names.iter().any(|n| n == "--tree"), "{names:?}");
        // --context may be repeated on wait
        let (names, _) = offered("wait --context a --con");
        assert_eq!(names, vec!["--context"]);
    }

    #[test]
    fn value_enums() {
        for line in ["status -o ", "status --output ", "-o "] {
            let (names, d) = offered(line);
            assert_eq!(names, vec!["table", "json", "yaml"], "{line}");
            assert_eq!(d, NO_FILE_COMP);
        }
        assert_eq!(offered("status -o j").0, vec!["json"]);
        assert_eq!(offered("status --output=y").0, vec!["--output=yaml"]);
        assert_eq!(offered("status -oy").0, vec!["-oyaml"]);
        assert_eq!(offered("wait --color ").0, vec!["auto", "always", "never"]);
        assert_eq!(
            offered("completion ").0,
            vec!["bash", "zsh", "fish", "powershell", "elvish"]
        );
        assert_eq!(
            offered("trigger --receiver-type ").0,
            vec!["generic", "generic-hmac", "gitlab"]
        );
        let p = plan(&words("status -o "));
        let r = finish(&p, Vec::new());
        assert_eq!(
            r.candidates[1].description.as_deref(),
            Some("JSON document")
        );
    }

    #[test]
    fn paths_complete_files_and_other_values_nothing() {
        for line in [
            "push ",
            "push ./deploy oci://r/x --dotenv ",
            "wait --kubeconfig ",
            "wait --junit=",
            "trigger --token-file ",
        ] {
            let (names, d) = offered(line);
            assert!(names.is_empty(), "{line}: {names:?}");
            assert_eq!(d, directive::DEFAULT, "{line}");
        }
        for line in [
            "wait --timeout ",
            "push ./deploy oci://r/x ",
            "version ",
            "wait --since-token ",
        ] {
            let (names, d) = offered(line);
            assert!(names.is_empty(), "{line}: {names:?}");
            assert_eq!(d, NO_FILE_COMP, "{line}");
        }
        let (names, d) = offered("push ./deploy ");
        assert_eq!(names, vec!["oci://"]);
        assert_eq!(d, NO_SPACE | NO_FILE_COMP);
    }

    #[test]
    fn kinds_then_names() {
        let (names, d) = offered("wait ");
        assert_eq!(
            &names[..4],
            ["kustomization/", "ks/", "helmrelease/", "hr/"]
        );
        assert!(names.contains(&"ocirepository/".to_string()), "{names:?}");
        assert!(
            !names.contains(&"kustomizations/".to_string()),
            "plurals: {names:?}"
        );
        assert_eq!(d, NO_SPACE | NO_FILE_COMP | KEEP_ORDER);
        assert_eq!(
            offered("trigger h").0,
            vec![
                "helmrelease/",
                "hr/",
                "helmrepository/",
                "helmrepo/",
                "helmchart/",
                "hc/"
            ]
        );

        let p = plan(&words("wait -n apps ks/ap"));
        assert_eq!(p.lookup, Some(Lookup::Objects(FluxKind::Kustomization)));
        assert_eq!(p.scope.namespace.as_deref(), Some("apps"));
        let found = vec![
            Candidate::new("apps", Some("Ready".into())),
            Candidate::new("api", None),
            Candidate::new("infra", None),
        ];
        let r = finish(&p, found.clone());
        let names: Vec<&str> = r.candidates.iter().map(|c| c.value.as_str()).collect();
        assert_eq!(names, ["ks/apps", "ks/api"]);
        assert_eq!(r.directive, NO_FILE_COMP);

        // Objects already named are not offered again; other kinds are.
        let p = plan(&words("status kustomization/apps hr/apps kustomization/"));
        let names: Vec<String> = finish(&p, found)
            .candidates
            .into_iter()
            .map(|c| c.value)
            .collect();
        assert_eq!(names, ["kustomization/api", "kustomization/infra"]);

        // receiver create --for KIND/NAME, also as --for=…
        let p = plan(&words("receiver create hook --for=oci/a"));
        assert_eq!(p.lookup, Some(Lookup::Objects(FluxKind::OciRepository)));
        let r = finish(&p, vec![Candidate::new("apps", None)]);
        assert_eq!(r.candidates[0].value, "--for=oci/apps");

        // An unknown kind offers nothing.
        let p = plan(&words("wait pod/x"));
        assert_eq!((p.lookup, p.directive), (None, NO_FILE_COMP));
    }

    #[test]
    fn scope_from_the_line() {
        let p = plan(&words(
            "wait --kubeconfig=/k --context a --context=b --agent g/p:x -nflux ks/",
        ));
        assert_eq!(
            p.scope,
            Scope {
                kubeconfig: Some("/k".into()),
                contexts: vec!["a".into(), "b".into()],
                agents: vec!["g/p:x".into()],
                namespace: Some("flux".into()),
            }
        );
        let p = plan(&words("wait --context a --context "));
        assert_eq!(p.lookup, Some(Lookup::Contexts));
        assert_eq!(p.exclude, vec!["a"]);
        assert_eq!(plan(&words("status --agent ")).lookup, Some(Lookup::Agents));
        assert_eq!(plan(&words("status -n ")).lookup, Some(Lookup::Namespaces));
        assert_eq!(
            plan(&words("-A --namespace=f")).lookup,
            Some(Lookup::Namespaces)
        );
        // After --, everything is positional.
        let p = plan(&words("wait -- -n ks/"));
        assert_eq!(p.scope.namespace, None);
        assert_eq!(p.lookup, Some(Lookup::Objects(FluxKind::Kustomization)));
    }

    #[test]
    fn looked_up_ids_exist_in_the_cli() {
        // A renamed flag must fail here, not silently stop completing.
        let mut root = Cli::command();
        root.build();
        fn ids_of(cmd: &Command, out: &mut Vec<String>) {
            out.extend(cmd.get_arguments().map(|a| a.get_id().to_string()));
            for sub in cmd.get_subcommands() {
                ids_of(sub, out);
            }
        }
        let mut all = Vec::new();
        ids_of(&root, &mut all);
        for id in [
            ids::KUBECONFIG,
            ids::CONTEXT,
            ids::AGENT,
            ids::NAMESPACE,
            ids::OBJECTS,
            ids::RESOURCES,
        ] {
            assert!(all.iter().any(|a| a == id), "no argument {id:?} in the CLI");
        }
    }

    #[test]
    fn kubeconfig_candidates() {
        let kc = kube::config::Kubeconfig::from_yaml(
            r#"
apiVersion: v1
kind: Config
current-context: kind-dev
contexts:
- {name: kind-dev, context: {cluster: c, user: u}}
- {name: "group/infra/agents:production", context: {cluster: c, user: u}}
- {name: "weird:", context: {cluster: c, user: u}}
"#,
        )
        .expect("kubeconfig");
        let contexts = context_candidates(&kc);
        assert_eq!(contexts.len(), 3);
        assert_eq!(contexts[0].description.as_deref(), Some("current context"));
        assert_eq!(contexts[1].description, None);
        let agents: Vec<String> = agent_candidates(&kc).into_iter().map(|c| c.value).collect();
        assert_eq!(agents, ["group/infra/agents:production"]);
    }

    #[test]
    fn object_descriptions() {
        let ready = json!({"metadata": {"name": "a"}, "status": {"conditions": [
            {"type": "Ready", "status": "True", "reason": "ReconciliationSucceeded"}]}});
        let failed = json!({"metadata": {"name": "b"}, "status": {"conditions": [
            {"type": "Ready", "status": "False", "reason": "BuildFailed"}]}});
        let suspended = json!({"metadata": {"name": "c"}, "spec": {"suspend": true}});
        let new = json!({"metadata": {"name": "d"}});
        let d = |v: &Value| object_candidate(v).and_then(|c| c.description);
        assert_eq!(d(&ready).as_deref(), Some("Ready"));
        assert_eq!(d(&failed).as_deref(), Some("not ready: BuildFailed"));
        assert_eq!(d(&suspended).as_deref(), Some("suspended"));
        assert_eq!(d(&new), None);
        assert_eq!(object_candidate(&json!({})), None);
    }

    #[test]
    fn rendering() {
        let r = Reply {
            candidates: vec![
                Candidate::new("push", Some("Package\tit".into())),
                Candidate::new("ks/", None),
            ],
            directive: NO_SPACE | NO_FILE_COMP,
        };
        assert_eq!(render(&r), "push\tPackage it\nks/\n:6\n");
        assert_eq!(
            render(&Reply {
                candidates: vec![],
                directive: 4
            }),
            ":4\n"
        );
    }

    #[test]
    fn timeout_values() {
        assert_eq!(parse_timeout(Some("250ms")), Duration::from_millis(250));
        assert_eq!(parse_timeout(Some(" 3s ")), Duration::from_secs(3));
        assert_eq!(parse_timeout(Some("nonsense")), DEFAULT_TIMEOUT);
        assert_eq!(parse_timeout(Some("0s")), DEFAULT_TIMEOUT);
        assert_eq!(parse_timeout(None), DEFAULT_TIMEOUT);
    }
}
