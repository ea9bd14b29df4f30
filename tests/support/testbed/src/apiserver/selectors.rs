//! Label and field selectors as the API server parses them.

use serde_json::Value;

#[derive(Debug, Clone, PartialEq, Eq)]
enum Op {
    Eq(String),
    NotEq(String),
    In(Vec<String>),
    NotIn(Vec<String>),
    Exists,
    NotExists,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Requirement {
    key: String,
    op: Op,
}

/// A parsed label or field selector (a conjunction of requirements).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Selector {
    reqs: Vec<Requirement>,
}

/// Split on commas that are not inside parentheses.
fn split_top(s: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut depth = 0i32;
    let mut start = 0;
    for (i, c) in s.char_indices() {
        match c {
            '(' => depth += 1,
            ')' => depth -= 1,
            ',' if depth == 0 => {
                out.push(&s[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    out.push(&s[start..]);
    out
}

fn set_values(s: &str) -> Result<Vec<String>, String> {
    let s = s.trim();
    let inner = s
        .strip_prefix('(')
        .and_then(|r| r.strip_suffix(')'))
        .ok_or_else(|| format!("expected a parenthesised set of values, got {s:?}"))?;
    Ok(inner
        .split(',')
        .map(|v| v.trim().to_string())
        .filter(|v| !v.is_empty())
        .collect())
}

impl Selector {
    /// Parse a label selector (`a=b,c!=d,e,!f,g in (h,i),j notin (k)`).
    pub fn parse_labels(s: &str) -> Result<Selector, String> {
        Self::parse(s, true)
    }

    /// Parse a field selector (`metadata.name=x,metadata.namespace!=y`).
    pub fn parse_fields(s: &str) -> Result<Selector, String> {
        Self::parse(s, false)
    }

    fn parse(s: &str, labels: bool) -> Result<Selector, String> {
        let mut reqs = Vec::new();
        for part in split_top(s) {
            let part = part.trim();
            if part.is_empty() {
                continue;
            }
            let req = if let Some((k, v)) = part.split_once("!=") {
                Requirement {
                    key: k.trim().into(),
                    op: Op::NotEq(v.trim().into()),
                }
            } else if let Some((k, v)) = part.split_once("==") {
                Requirement {
                    key: k.trim().into(),
                    op: Op::Eq(v.trim().into()),
                }
            } else if let Some((k, v)) = part.split_once('=') {
                Requirement {
                    key: k.trim().into(),
                    op: Op::Eq(v.trim().into()),
                }
            } else if labels && part.contains(" notin ") {
                let (k, v) = part.split_once(" notin ").unwrap_or_default();
                Requirement {
                    key: k.trim().into(),
                    op: Op::NotIn(set_values(v)?),
                }
            } else if labels && part.contains(" in ") {
                let (k, v) = part.split_once(" in ").unwrap_or_default();
                Requirement {
                    key: k.trim().into(),
                    op: Op::In(set_values(v)?),
                }
            } else if labels && part.starts_with('!') {
                Requirement {
                    key: part[1..].trim().into(),
                    op: Op::NotExists,
                }
            } else if labels {
                Requirement {
                    key: part.into(),
                    op: Op::Exists,
                }
            } else {
                return Err(format!(
                    "invalid selector: '{s}'; can't understand '{part}'"
                ));
            };
            if req.key.is_empty() || req.key.contains(char::is_whitespace) {
                return Err(format!("unable to parse requirement: {part:?}"));
            }
            reqs.push(req);
        }
        Ok(Selector { reqs })
    }

    fn matches_with(&self, lookup: impl Fn(&str) -> Option<String>) -> bool {
        self.reqs.iter().all(|r| {
            let v = lookup(&r.key);
            match &r.op {
                Op::Eq(want) => v.as_deref() == Some(want.as_str()),
                Op::NotEq(want) => v.as_deref() != Some(want.as_str()),
                Op::In(set) => v.is_some_and(|v| set.contains(&v)),
                Op::NotIn(set) => v.is_none_or(|v| !set.contains(&v)),
                Op::Exists => v.is_some(),
                Op::NotExists => v.is_none(),
            }
        })
    }

    /// Whether the object's labels satisfy this (label) selector.
    pub fn matches_labels(&self, obj: &Value) -> bool {
        if self.reqs.is_empty() {
            return true;
        }
        let labels = obj.pointer("/metadata/labels");
        self.matches_with(|k| {
            labels
                .and_then(|l| l.get(k))
                .and_then(Value::as_str)
                .map(str::to_string)
        })
    }

    /// Whether the object's fields satisfy this (field) selector; keys are
    /// dotted paths into the object (`metadata.name`, `involvedObject.kind`).
    pub fn matches_fields(&self, obj: &Value) -> bool {
        if self.reqs.is_empty() {
            return true;
        }
        self.matches_with(|k| {
            let mut cur = obj;
            for seg in k.split('.') {
                cur = cur.get(seg)?;
            }
            match cur {
                Value::String(s) => Some(s.clone()),
                Value::Null => None,
                other => Some(other.to_string()),
            }
            .or_else(|| (k == "metadata.namespace").then(String::new))
        })
    }
}
