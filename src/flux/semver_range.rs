//! Flux's semver ranges (Masterminds/semver syntax) evaluated with the
//! `semver` crate: `>=1.0.0 <2.0.0`, `1.2.x`, `~1.2`, `^1`, `1.0 - 1.4`,
//! `!=1.3.0`, alternatives with `||`. A bare version means exactly that
//! version, as in Masterminds (the `semver` crate would read it as `^`).

use semver::{Version, VersionReq};

/// A parsed range: any alternative matches.
#[derive(Debug, Clone)]
pub struct Range {
    alternatives: Vec<Alternative>,
}

#[derive(Debug, Clone)]
struct Alternative {
    req: VersionReq,
    excluded: Vec<Version>,
}

/// Parse a version as Flux does: an optional `v` prefix, and missing minor
/// or patch parts filled with zeros (`v1.2` is 1.2.0).
pub fn parse_version(text: &str) -> Option<Version> {
    let t = text.trim();
    let t = t.strip_prefix('v').unwrap_or(t);
    if let Ok(v) = Version::parse(t) {
        return Some(v);
    }
    // Fill missing parts before any pre-release/build suffix.
    let split = t.find(['-', '+']).unwrap_or(t.len());
    let (core, rest) = t.split_at(split);
    let parts: Vec<&str> = core.split('.').collect();
    if parts.is_empty()
        || parts.len() > 3
        || parts
            .iter()
            .any(|p| p.is_empty() || !p.bytes().all(|b| b.is_ascii_digit()))
    {
        return None;
    }
    let mut filled: Vec<&str> = parts.clone();
    while filled.len() < 3 {
        filled.push("0");
    }
    Version::parse(&format!("{}{rest}", filled.join("."))).ok()
}

impl Range {
    pub fn parse(text: &str) -> Result<Range, String> {
        let mut alternatives = Vec::new();
        for alt in text.split("||") {
            let alt = alt.trim();
            if alt.is_empty() {
                return Err(format!("empty alternative in semver range {text:?}"));
            }
            alternatives
                .push(parse_alternative(alt).map_err(|e| format!("semver range {text:?}: {e}"))?);
        }
        Ok(Range { alternatives })
    }

    pub fn matches(&self, version: &Version) -> bool {
        self.alternatives
            .iter()
            .any(|a| a.req.matches(version) && !a.excluded.contains(version))
    }
}

fn parse_alternative(alt: &str) -> Result<Alternative, String> {
    // Hyphen ranges: "1.2 - 1.4.5" → ">=1.2, <=1.4.5"
    let normalized = if let Some((lo, hi)) = alt.split_once(" - ") {
        format!(">={} <={}", lo.trim(), hi.trim())
    } else {
        alt.to_string()
    };
    // Tokenise; glue lone operators to the version after them ("> 1.2").
    let mut comparators: Vec<String> = Vec::new();
    let mut pending_op: Option<String> = None;
    for token in normalized.split([' ', ',']).filter(|t| !t.is_empty()) {
        if token.chars().all(|c| "<>=!~^".contains(c)) {
            pending_op = Some(token.to_string());
            continue;
        }
        let token = match pending_op.take() {
            Some(op) => format!("{op}{token}"),
            None => token.to_string(),
        };
        comparators.push(token);
    }
    if let Some(op) = pending_op {
        return Err(format!("operator {op:?} without a version"));
    }
    let mut reqs: Vec<String> = Vec::new();
    let mut excluded = Vec::new();
    for c in comparators {
        let split = c
            .find(|ch: char| !"<>=!~^".contains(ch))
            .ok_or_else(|| format!("comparator {c:?} has no version"))?;
        let (op, version) = c.split_at(split);
        let version = version.strip_prefix('v').unwrap_or(version);
        let op = match op {
            "" | "=" | "==" => {
                if version.contains(['x', 'X', '*']) || version.split('.').count() < 3 {
                    // 1.2.x / 1.2 mean the whole minor line.
                    ""
                } else {
                    "="
                }
            }
            "=<" => "<=",
            "=>" => ">=",
            "~>" => "~",
            "!=" => {
                excluded.push(
                    parse_version(version).ok_or_else(|| format!("bad version {version:?}"))?,
                );
                continue;
            }
            other => other,
        };
        let version = version.replace(['x', 'X'], "*");
        let req = if op.is_empty() {
            // Wildcards and partial versions: 1.2.* == 1.2, accepted by semver as "1.2.*"
            if version.contains('*') {
                version.clone()
            } else {
                format!("{version}.*")
            }
        } else {
            format!("{op}{version}")
        };
        reqs.push(req);
    }
    let joined = if reqs.is_empty() {
        "*".to_string()
    } else {
        reqs.join(", ")
    };
    let req = VersionReq::parse(&joined).map_err(|e| format!("{e}"))?;
    Ok(Alternative { req, excluded })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(range: &str, version: &str) -> bool {
        Range::parse(range)
            .expect("range parses")
            .matches(&parse_version(version).expect("version parses"))
    }

    #[test]
    fn masterminds_ranges() {
        assert!(m(">=1.0.0 <2.0.0", "1.5.0"));
        assert!(!m(">=1.0.0 <2.0.0", "2.0.0"));
        assert!(m(">=1.0.0, <2.0.0", "v1.9.9"));
        assert!(m("1.2.x", "1.2.7"));
        assert!(!m("1.2.x", "1.3.0"));
        assert!(m("~1.2", "1.2.9"));
        assert!(!m("~1.2", "1.3.0"));
        assert!(m("^1", "1.9.0"));
        assert!(m("1.0 - 1.4.5", "1.4.5"));
        assert!(!m("1.0 - 1.4.5", "1.4.6"));
        assert!(m("1.2.3", "1.2.3"));
        assert!(!m("1.2.3", "1.2.4"), "bare version is exact, not caret");
        assert!(m("<1.0.0 || >=2.0.0", "2.1.0"));
        assert!(!m(">=1.0.0 !=1.3.0", "1.3.0"));
        assert!(m("*", "0.0.1"));
        assert!(m("> 1.2", "1.3.0"));
        assert!(Range::parse(">= ").is_err());
    }

    #[test]
    fn versions() {
        assert_eq!(parse_version("v1.2"), Some(Version::new(1, 2, 0)));
        assert_eq!(parse_version("1"), Some(Version::new(1, 0, 0)));
        assert!(parse_version("latest").is_none());
        assert!(parse_version("1.2.3-rc.1").is_some());
    }
}
