//! Every CI file of the project validates against GitLab's own CI schema
//! (`check-jsonschema --builtin-schema vendor.gitlab-ci`, from PyPI, which
//! `make deps` and .ci/run install into a venv): the project's
//! `.gitlab-ci.yml`, `.ci/*.gitlab-ci.yml`, the example pipelines, the
//! component templates with their inputs filled from their defaults, and the
//! pipeline blocks of docs/gitlab-ci.md.

use super::gitlab::{component_files, example_files, interpolate_component, yaml_blocks};
use super::{read, root};
use serde_json::Value;
use std::path::PathBuf;
use std::process::Command;

/// The check-jsonschema program: `CHECK_JSONSCHEMA`, the venv that
/// scripts/deps.sh makes, or PATH. None (a skip) outside CI only.
fn checker() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("CHECK_JSONSCHEMA") {
        return Some(p.into());
    }
    let cache = std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")));
    if let Some(c) = cache {
        let venv = c.join("kubectl-gitlab-flux/venv/bin/check-jsonschema");
        if venv.is_file() {
            return Some(venv);
        }
    }
    let on_path = Command::new("check-jsonschema")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if on_path {
        return Some("check-jsonschema".into());
    }
    assert!(
        std::env::var("CI").as_deref() != Ok("true"),
        "check-jsonschema is missing (scripts/deps.sh installs it)"
    );
    eprintln!("skipped: check-jsonschema is not installed (make deps installs it)");
    None
}

/// Validate one pipeline, given as JSON, under `name` in the messages.
fn validate(tool: &PathBuf, dir: &std::path::Path, name: &str, config: &Value) {
    let file = dir.join(format!("{}.json", name.replace(['/', ' ', '#'], "_")));
    std::fs::write(&file, serde_json::to_vec_pretty(config).expect("json")).expect("write");
    let out = Command::new(tool)
        .args(["--builtin-schema", "vendor.gitlab-ci"])
        .arg(&file)
        .output()
        .expect("run check-jsonschema");
    assert!(
        out.status.success(),
        "{name} does not validate against GitLab's CI schema:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

fn parse(name: &str, text: &str) -> Vec<Value> {
    serde_saphyr::from_multiple::<Value>(text).unwrap_or_else(|e| panic!("{name}: {e}"))
}

/// A YAML block of the docs is a pipeline when it is a mapping whose
/// entries are jobs or global keywords, and not a Kubernetes object.
fn is_pipeline(v: &Value) -> bool {
    let Some(m) = v.as_object() else { return false };
    if m.contains_key("apiVersion") || m.contains_key("ci_access") {
        return false;
    }
    m.iter().any(|(k, v)| {
        ["include", "stages", "workflow"].contains(&k.as_str())
            || v.get("script").is_some()
            || v.get("extends").is_some()
            || v.get("needs").is_some()
            || v.get("environment").is_some()
    })
}

#[test]
fn every_ci_file_validates_against_gitlabs_schema() {
    let Some(tool) = checker() else { return };
    let dir = tempfile::tempdir().expect("tempdir");
    let mut checked = Vec::new();

    let mut files = vec![".gitlab-ci.yml".to_string()];
    let mut ci: Vec<String> = std::fs::read_dir(root().join(".ci"))
        .expect(".ci/")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".gitlab-ci.yml"))
        .map(|n| format!(".ci/{n}"))
        .collect();
    ci.sort();
    files.extend(ci);
    files.extend(example_files());
    for f in &files {
        for (i, doc) in parse(f, &read(f)).iter().enumerate() {
            validate(&tool, dir.path(), &format!("{f}#{i}"), doc);
        }
        checked.push(f.clone());
    }

    // Components: the jobs with every input at its default.
    for f in component_files() {
        let docs = parse(&f, &read(&f));
        let body = interpolate_component(&docs, &serde_json::Map::new())
            .unwrap_or_else(|e| panic!("{f}: {e}"));
        validate(&tool, dir.path(), &f, &body);
        checked.push(f);
    }

    // The pipeline blocks of the GitLab CI guide (a component quoted there
    // is checked like the file).
    let md = read("docs/gitlab-ci.md");
    for (i, block) in yaml_blocks(&md).iter().enumerate() {
        let docs = parse(&format!("docs/gitlab-ci.md block {i}"), block);
        let name = format!("docs/gitlab-ci.md block {i}");
        if docs.len() == 2 && docs[0].pointer("/spec/inputs").is_some() {
            let body = interpolate_component(&docs, &serde_json::Map::new())
                .unwrap_or_else(|e| panic!("{name}: {e}"));
            validate(&tool, dir.path(), &name, &body);
            checked.push(name);
            continue;
        }
        for doc in docs.iter().filter(|d| is_pipeline(d)) {
            validate(&tool, dir.path(), &name, doc);
            checked.push(name.clone());
        }
    }
    assert!(
        checked.len() >= 8,
        "fewer CI files than expected were checked: {checked:?}"
    );
    eprintln!("validated against GitLab's CI schema: {checked:?}");
}

#[test]
fn no_job_is_named_after_a_global_keyword() {
    // `image:` as a job name is the default image, not a job (the release
    // pipeline once had one, and its `needs` named a job that did not exist).
    const GLOBAL: [&str; 9] = [
        "image",
        "services",
        "cache",
        "before_script",
        "after_script",
        "default",
        "variables",
        "stages",
        "include",
    ];
    for f in [".gitlab-ci.yml", ".ci/release.gitlab-ci.yml"] {
        for doc in parse(f, &read(f)) {
            let Some(m) = doc.as_object() else { continue };
            for (k, v) in m {
                if GLOBAL.contains(&k.as_str()) {
                    assert!(
                        v.get("script").is_none() && v.get("stage").is_none(),
                        "{f}: the job {k:?} is a global keyword"
                    );
                }
                for need in v
                    .get("needs")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                {
                    let job = need
                        .as_str()
                        .or_else(|| need.get("job").and_then(Value::as_str))
                        .unwrap_or_default();
                    assert!(
                        m.contains_key(job),
                        "{f}: {k} needs {job:?}, which is not a job of the file"
                    );
                }
            }
        }
    }
}
