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

mod commands;
mod gitlab;
mod pipeline;
mod schema;
mod semantics;

use clap::CommandFactory;
use commands::{Found, check, commands_in, markdown_snippets, sample_env};
use gitlab::{
    component_files, example_files, expand_gitlab, interpolate_component, jobs, load_yaml,
    script_lines, variables, yaml_blocks,
};
use kubectl_gitlab_flux::cli::Cli;
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::PathBuf;

pub type Env = BTreeMap<String, String>;

pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

pub fn read(rel: &str) -> String {
    std::fs::read_to_string(root().join(rel)).unwrap_or_else(|e| panic!("reading {rel}: {e}"))
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
        ("promote", "$ARTIFACT_URL"),
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

/// GitHub's and GitLab's anchor of a heading: lowercase, punctuation
/// dropped, spaces to hyphens.
fn slug(heading: &str) -> String {
    heading
        .trim()
        .to_lowercase()
        .chars()
        .filter(|c| c.is_alphanumeric() || *c == ' ' || *c == '-' || *c == '_')
        .map(|c| if c == ' ' { '-' } else { c })
        .collect()
}

fn anchors(md: &str) -> Vec<String> {
    let mut in_fence = false;
    let mut out = Vec::new();
    for line in md.lines() {
        if line.trim_start().starts_with("```") {
            in_fence = !in_fence;
        } else if !in_fence && line.starts_with('#') {
            out.push(slug(line.trim_start_matches('#')));
        }
    }
    out
}

#[test]
fn links_between_the_docs_resolve() {
    assert_eq!(
        slug("Which cluster: context resolution"),
        "which-cluster-context-resolution"
    );
    assert_eq!(slug("The CI/CD component"), "the-cicd-component");
    assert_eq!(slug("GitLab agent `ci_access`"), "gitlab-agent-ci_access");
    let link = regex::Regex::new(r"\]\(([^)\s]+)\)").expect("regex");
    let mut files = vec!["README.md".to_string()];
    for entry in std::fs::read_dir(root().join("docs")).expect("docs/") {
        let name = entry
            .expect("entry")
            .file_name()
            .to_string_lossy()
            .into_owned();
        if name.ends_with(".md") {
            files.push(format!("docs/{name}"));
        }
    }
    let mut broken = Vec::new();
    let mut checked = 0;
    for file in &files {
        let text = read(file);
        let dir = std::path::Path::new(file)
            .parent()
            .unwrap_or(std::path::Path::new(""));
        for c in link.captures_iter(&text) {
            let target = &c[1];
            if target.contains("://") || target.starts_with("mailto:") {
                continue;
            }
            let (path, anchor) = target.split_once('#').unwrap_or((target, ""));
            let rel = if path.is_empty() {
                std::path::PathBuf::from(file)
            } else {
                dir.join(path)
            };
            let full = root().join(&rel);
            checked += 1;
            if !full.exists() {
                broken.push(format!("{file}: {target} (no {})", rel.display()));
                continue;
            }
            if !anchor.is_empty() && full.extension().is_some_and(|e| e == "md") {
                let text = std::fs::read_to_string(&full).expect("read");
                if !anchors(&text).iter().any(|a| a == anchor) {
                    broken.push(format!("{file}: {target} (no such heading)"));
                }
            }
        }
    }
    assert!(checked >= 20, "only {checked} links checked");
    assert!(
        broken.is_empty(),
        "broken links:\n  {}",
        broken.join("\n  ")
    );
}
