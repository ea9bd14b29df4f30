//! Just enough of GitLab CI to read the examples and the component:
//! jobs, `extends`, variables and their expansion, component inputs.

use super::{Env, read, root};
use serde_json::Value;
use std::collections::BTreeMap;

// ---------------------------------------------------------------------------
// GitLab CI YAML

/// Load every YAML document of a file.
pub fn load_yaml(rel: &str) -> Vec<Value> {
    serde_saphyr::from_multiple::<Value>(&read(rel))
        .unwrap_or_else(|e| panic!("{rel} is not valid YAML: {e}"))
}

/// Keywords at the top of a .gitlab-ci.yml that are not jobs.
pub const GLOBAL_KEYWORDS: &[&str] = &[
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

pub fn resolve_extends(all: &serde_json::Map<String, Value>, job: &Value, depth: usize) -> Value {
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

pub fn interpolate_value(
    v: &Value,
    inputs: &serde_json::Map<String, Value>,
) -> Result<Value, String> {
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
pub fn component_files() -> Vec<String> {
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

pub fn example_files() -> Vec<String> {
    let mut out: Vec<String> = std::fs::read_dir(root().join("docs/examples"))
        .expect("docs/examples/")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".yml") || n.ends_with(".yaml"))
        .map(|n| format!("docs/examples/{n}"))
        .collect();
    out.sort();
    out
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
