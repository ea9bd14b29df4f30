//! Semantic versions and constraints as Flux evaluates them, written for the
//! test bed on its own (it must not share code with the plugin).
//!
//! source-controller picks an OCIRepository tag with Masterminds/semver v3
//! (`NewConstraint` + `Check`) over the tags that fluxcd/pkg
//! `version.ParseVersion` accepts (SC-SEMVER); helm-controller compares a
//! chart version with the artifact's tag using Masterminds' lenient
//! `NewVersion` (HC-MUTATE). This module re-states those rules:
//!
//! - [`Version::strict`]: exactly `MAJOR.MINOR.PATCH`, numeric parts without
//!   leading zeros, optional `-prerelease` (numeric identifiers without
//!   leading zeros) and `+metadata`.
//! - [`Version::loose`]: an optional `v`, missing minor/patch read as 0
//!   (`1.2` is 1.2.0), leading zeros tolerated in the numeric parts.
//! - [`Version::tag`]: a tag is a version only if it has at least two dots
//!   and parses leniently (`v1.3`, `1.2.3.4` are not; `2025.02.03`,
//!   `v2025.2.3`, `1.2-rc.1` are). Note: the issue text said "strict
//!   semver"; fluxcd/pkg version/v0.16.0 (used by source-controller v1.9)
//!   dropped the strict check.
//! - [`Constraints`]: `=`, `!=`, `>`, `<`, `>=`, `=>`, `<=`, `=<`, `~`, `~>`,
//!   `^`, bare versions (equality, or `~` when partial/wildcarded), `x`/`X`/`*`
//!   wildcards, hyphen ranges `A - B`, AND by comma or whitespace, OR by `||`.
//!   Partial versions widen the comparison (`>1.2` needs minor > 2,
//!   `<=1.2` admits all 1.2.x, `!=1.3` excludes all 1.3.x). A version with a
//!   prerelease only passes an AND group in which some comparator carries a
//!   prerelease (`>=1.0.0-0` admits 1.5.0-rc.1).

use std::cmp::Ordering;
use std::sync::OnceLock;

use regex::Regex;

/// Media type of a Helm chart layer: with this `layerSelector`, `_` in a tag
/// reads as `+` (SC-HELMTAG).
pub const HELM_CHART_LAYER: &str = "application/vnd.cncf.helm.chart.content.v1.tar+gzip";

/// A parsed version; `original` is the text it was parsed from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Version {
    pub major: u64,
    pub minor: u64,
    pub patch: u64,
    pub pre: String,
    pub metadata: String,
    pub original: String,
}

const NUM: &str = "0123456789";

fn only(s: &str, set: &str) -> bool {
    s.chars().all(|c| set.contains(c))
}

fn ident_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '-'
}

fn valid_prerelease(p: &str) -> bool {
    p.split('.').all(|id| {
        !id.is_empty()
            && if only(id, NUM) {
                !(id.len() > 1 && id.starts_with('0'))
            } else {
                id.chars().all(ident_char)
            }
    })
}

fn valid_metadata(m: &str) -> bool {
    m.split('.')
        .all(|id| !id.is_empty() && id.chars().all(ident_char))
}

// The version grammar of the constraint parser and of the lenient parser:
// digits (or wildcards for constraints), optional `.minor`, `.patch`,
// `-pre`, `+meta`.
const LOOSE: &str = r"v?([0-9]+)(\.[0-9]+)?(\.[0-9]+)?(-([0-9A-Za-z\-]+(\.[0-9A-Za-z\-]+)*))?(\+([0-9A-Za-z\-]+(\.[0-9A-Za-z\-]+)*))?";
const CV: &str = r"v?([0-9|x|X|\*]+)(\.[0-9|x|X|\*]+)?(\.[0-9|x|X|\*]+)?(-([0-9A-Za-z\-]+(\.[0-9A-Za-z\-]+)*))?(\+([0-9A-Za-z\-]+(\.[0-9A-Za-z\-]+)*))?";
const OPS: &str = r"=||!=|>|<|>=|=>|<=|=<|~|~>|\^";

struct Regexes {
    loose: Regex,
    one: Regex,
    range: Regex,
    find: Regex,
    valid: Regex,
}

fn regexes() -> &'static Regexes {
    static R: OnceLock<Regexes> = OnceLock::new();
    R.get_or_init(|| {
        let mk = |s: String| Regex::new(&s).unwrap_or_else(|e| panic!("semver regex: {e}"));
        Regexes {
            loose: mk(format!("^{LOOSE}$")),
            one: mk(format!(r"^\s*({OPS})\s*({CV})\s*$")),
            range: mk(format!(r"\s*({CV})\s+-\s+({CV})\s*")),
            find: mk(format!(r"({OPS})\s*({CV})")),
            valid: mk(format!(
                r"^(\s*({OPS})\s*({CV})\s*)((?:\s+|,\s*)({OPS})\s*({CV})\s*)*$"
            )),
        }
    })
}

impl Version {
    /// Strict semver 2.0: three numeric parts, no leading zeros.
    pub fn strict(v: &str) -> Option<Version> {
        let mut parts: Vec<String> = v.splitn(3, '.').map(str::to_string).collect();
        if v.is_empty() || parts.len() != 3 {
            return None;
        }
        let mut metadata = String::new();
        let mut pre = String::new();
        if let Some((p, m)) = parts[2].clone().split_once('+') {
            if !valid_metadata(m) {
                return None;
            }
            metadata = m.to_string();
            parts[2] = p.to_string();
        }
        if let Some((p, r)) = parts[2].clone().split_once('-') {
            if !valid_prerelease(r) {
                return None;
            }
            pre = r.to_string();
            parts[2] = p.to_string();
        }
        let mut nums = [0u64; 3];
        for (i, p) in parts.iter().enumerate() {
            if p.is_empty() || !only(p, NUM) || (p.len() > 1 && p.starts_with('0')) {
                return None;
            }
            nums[i] = p.parse().ok()?;
        }
        Some(Version {
            major: nums[0],
            minor: nums[1],
            patch: nums[2],
            pre,
            metadata,
            original: v.to_string(),
        })
    }

    /// Lenient parsing (Masterminds `NewVersion` with coercion on).
    pub fn loose(v: &str) -> Option<Version> {
        let m = regexes().loose.captures(v)?;
        let part = |i: usize| -> Option<u64> {
            match m.get(i) {
                Some(g) => g.as_str().trim_start_matches('.').parse().ok(),
                None => Some(0),
            }
        };
        let pre = m.get(5).map_or("", |g| g.as_str()).to_string();
        let metadata = m.get(8).map_or("", |g| g.as_str()).to_string();
        if (!pre.is_empty() && !valid_prerelease(&pre))
            || (!metadata.is_empty() && !valid_metadata(&metadata))
        {
            return None;
        }
        Some(Version {
            major: part(1)?,
            minor: part(2)?,
            patch: part(3)?,
            pre,
            metadata,
            original: v.to_string(),
        })
    }

    /// A registry tag as source-controller v1.9 reads it (fluxcd/pkg
    /// version/v0.16.0 `ParseVersion`, SC-SEMVER): at least two dots, then
    /// the lenient parser (so `2025.02.03` and `1.2-rc.1` are versions,
    /// `v1.3` and `1.2.3.4` are not).
    pub fn tag(v: &str) -> Option<Version> {
        if v.splitn(3, '.').count() != 3 {
            return None;
        }
        Version::loose(v)
    }

    /// Precedence (build metadata ignored).
    pub fn precedence(&self, o: &Version) -> Ordering {
        self.major
            .cmp(&o.major)
            .then(self.minor.cmp(&o.minor))
            .then(self.patch.cmp(&o.patch))
            .then_with(|| match (self.pre.is_empty(), o.pre.is_empty()) {
                (true, true) => Ordering::Equal,
                (true, false) => Ordering::Greater,
                (false, true) => Ordering::Less,
                (false, false) => compare_prerelease(&self.pre, &o.pre),
            })
    }

    /// `MAJOR.MINOR.PATCH[-pre][+meta]`.
    pub fn render(&self) -> String {
        let mut s = format!("{}.{}.{}", self.major, self.minor, self.patch);
        if !self.pre.is_empty() {
            s.push('-');
            s.push_str(&self.pre);
        }
        if !self.metadata.is_empty() {
            s.push('+');
            s.push_str(&self.metadata);
        }
        s
    }
}

fn compare_prerelease(a: &str, b: &str) -> Ordering {
    let xs: Vec<&str> = a.split('.').collect();
    let ys: Vec<&str> = b.split('.').collect();
    for i in 0..xs.len().max(ys.len()) {
        let x = xs.get(i).copied().unwrap_or("");
        let y = ys.get(i).copied().unwrap_or("");
        let d = compare_pre_part(x, y);
        if d != Ordering::Equal {
            return d;
        }
    }
    Ordering::Equal
}

fn compare_pre_part(s: &str, o: &str) -> Ordering {
    if s == o {
        return Ordering::Equal;
    }
    if s.is_empty() {
        return Ordering::Less;
    }
    if o.is_empty() {
        return Ordering::Greater;
    }
    match (s.parse::<u64>(), o.parse::<u64>()) {
        (Ok(a), Ok(b)) => a.cmp(&b),
        // Numeric identifiers sort before alphanumeric ones.
        (Ok(_), Err(_)) => Ordering::Less,
        (Err(_), Ok(_)) => Ordering::Greater,
        (Err(_), Err(_)) => s.cmp(o),
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    TildeOrEqual,
    NotEqual,
    Greater,
    Less,
    GreaterEqual,
    LessEqual,
    Tilde,
    Caret,
}

#[derive(Debug, Clone)]
struct Comparator {
    op: Op,
    con: Version,
    /// `x` or a missing part somewhere (`1.x`, `1`, `*`).
    dirty: bool,
    minor_dirty: bool,
    patch_dirty: bool,
}

/// A parsed constraint: OR of AND groups.
#[derive(Debug, Clone)]
pub struct Constraints {
    groups: Vec<(Vec<Comparator>, bool)>,
}

fn is_x(s: &str) -> bool {
    matches!(s, "x" | "X" | "*")
}

fn parse_comparator(s: &str) -> Result<Comparator, String> {
    let m = regexes()
        .one
        .captures(s)
        .ok_or_else(|| format!("improper constraint: {s:?}"))?;
    let g = |i: usize| m.get(i).map_or("", |x| x.as_str());
    let op = match g(1) {
        "" | "=" => Op::TildeOrEqual,
        "!=" => Op::NotEqual,
        ">" => Op::Greater,
        "<" => Op::Less,
        ">=" | "=>" => Op::GreaterEqual,
        "<=" | "=<" => Op::LessEqual,
        "~" | "~>" => Op::Tilde,
        _ => Op::Caret,
    };
    let (major, minor, patch, pre) = (g(3), g(4), g(5), g(6));
    let minor_t = minor.trim_start_matches('.');
    let patch_t = patch.trim_start_matches('.');
    let (text, dirty, minor_dirty, patch_dirty) = if is_x(major) || major.is_empty() {
        (format!("0.0.0{pre}"), true, false, false)
    } else if is_x(minor_t) || minor.is_empty() {
        (format!("{major}.0.0{pre}"), true, true, false)
    } else if is_x(patch_t) || patch.is_empty() {
        (format!("{major}{minor}.0{pre}"), true, false, true)
    } else {
        (g(2).to_string(), false, false, false)
    };
    let con = Version::loose(&text).ok_or_else(|| format!("improper constraint: {s:?}"))?;
    Ok(Comparator {
        op,
        con,
        dirty,
        minor_dirty,
        patch_dirty,
    })
}

impl Comparator {
    fn check(&self, v: &Version, include_pre: bool) -> bool {
        if !v.pre.is_empty() && !include_pre {
            return false;
        }
        let c = &self.con;
        let cmp = v.precedence(c);
        match self.op {
            Op::TildeOrEqual => {
                if self.dirty {
                    self.tilde(v)
                } else {
                    cmp == Ordering::Equal
                }
            }
            Op::NotEqual => {
                if self.dirty {
                    if c.major != v.major {
                        return true;
                    }
                    if c.minor != v.minor && !self.minor_dirty {
                        return true;
                    } else if self.minor_dirty {
                        return false;
                    } else if c.patch != v.patch && !self.patch_dirty {
                        return true;
                    } else if self.patch_dirty {
                        if !v.pre.is_empty() || !c.pre.is_empty() {
                            return compare_prerelease(&v.pre, &c.pre) != Ordering::Equal;
                        }
                        return false;
                    }
                }
                cmp != Ordering::Equal
            }
            Op::Greater => {
                if !self.dirty {
                    return cmp == Ordering::Greater;
                }
                if v.major != c.major {
                    return v.major > c.major;
                }
                if self.minor_dirty {
                    return false;
                }
                if self.patch_dirty {
                    return v.minor > c.minor;
                }
                cmp == Ordering::Greater
            }
            Op::Less => cmp == Ordering::Less,
            Op::GreaterEqual => cmp != Ordering::Less,
            Op::LessEqual => {
                if !self.dirty {
                    return cmp != Ordering::Greater;
                }
                if v.major > c.major {
                    return false;
                }
                !(v.major == c.major && v.minor > c.minor && !self.minor_dirty)
            }
            Op::Tilde => self.tilde(v),
            Op::Caret => {
                if cmp == Ordering::Less {
                    return false;
                }
                if c.major > 0 || self.minor_dirty {
                    return v.major == c.major;
                }
                if v.major > 0 {
                    return false;
                }
                if c.minor > 0 || self.patch_dirty {
                    return v.minor == c.minor;
                }
                if v.minor > 0 {
                    return false;
                }
                v.patch == c.patch
            }
        }
    }

    fn tilde(&self, v: &Version) -> bool {
        let c = &self.con;
        if v.precedence(c) == Ordering::Less {
            return false;
        }
        if c.major == 0 && c.minor == 0 && c.patch == 0 && !self.minor_dirty && !self.patch_dirty {
            return true;
        }
        if v.major != c.major {
            return false;
        }
        v.minor == c.minor || self.minor_dirty
    }
}

/// Rewrite hyphen ranges `A - B` into `>= A, <= B`.
fn rewrite_ranges(s: &str) -> String {
    let re = &regexes().range;
    let mut out = s.to_string();
    for m in re.captures_iter(s) {
        let (whole, a, b) = (
            m.get(0).map_or("", |x| x.as_str()),
            m.get(1).map_or("", |x| x.as_str()),
            m.get(11).map_or("", |x| x.as_str()),
        );
        out = out.replacen(whole, &format!(">= {a}, <= {b} "), 1);
    }
    out
}

impl Constraints {
    /// Parse a constraint string; errors read like Masterminds'
    /// (`improper constraint: "..."`).
    pub fn parse(s: &str) -> Result<Constraints, String> {
        let rewritten = rewrite_ranges(s);
        let r = regexes();
        let mut groups = Vec::new();
        for seg in rewritten.split("||") {
            if !r.valid.is_match(seg) {
                return Err(format!("improper constraint: {seg:?}"));
            }
            let found: Vec<&str> = r.find.find_iter(seg).map(|m| m.as_str()).collect();
            let found = if found.is_empty() { vec![seg] } else { found };
            let mut comps = Vec::new();
            let mut has_pre = false;
            for f in found {
                let c = parse_comparator(f)?;
                has_pre |= !c.con.pre.is_empty();
                comps.push(c);
            }
            groups.push((comps, has_pre));
        }
        Ok(Constraints { groups })
    }

    /// Whether `v` satisfies one of the OR groups.
    pub fn check(&self, v: &Version) -> bool {
        self.groups
            .iter()
            .any(|(comps, pre)| comps.iter().all(|c| c.check(v, *pre)))
    }
}

/// The tag an OCIRepository with `spec.ref.semver` selects (SC-SEMVER):
/// tags filtered by the `semverFilter` regex (on the tag as listed), read as
/// versions (`_` as `+` for Helm chart layers, SC-HELMTAG), the highest
/// matching one wins and is returned as the registry tag.
pub fn select_tag(
    tags: &[String],
    constraint: &str,
    filter: Option<&str>,
    layer_media_type: Option<&str>,
) -> Result<String, String> {
    let re = match filter.filter(|f| !f.is_empty()) {
        Some(f) => Some(Regex::new(f).map_err(|e| e.to_string())?),
        None => None,
    };
    let cons = Constraints::parse(constraint)
        .map_err(|e| format!("semver '{constraint}' parse error: {e}"))?;
    let helm = layer_media_type == Some(HELM_CHART_LAYER);
    let mut best: Option<Version> = None;
    for t in tags {
        if re.as_ref().is_some_and(|r| !r.is_match(t)) {
            continue;
        }
        let candidate = if helm { t.replace('_', "+") } else { t.clone() };
        let Some(v) = Version::tag(&candidate) else {
            continue;
        };
        if !cons.check(&v) {
            continue;
        }
        // Ties (`1.0.0` and `v1.0.0`) keep the first listed (Go's sort
        // leaves their order unspecified).
        if best
            .as_ref()
            .is_none_or(|b| v.precedence(b) == Ordering::Greater)
        {
            best = Some(v);
        }
    }
    let best = best.ok_or_else(|| format!("no match found for semver: {constraint}"))?;
    Ok(if helm {
        best.original.replace('+', "_")
    } else {
        best.original
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(c: &str, v: &str) -> bool {
        let cons = Constraints::parse(c).unwrap_or_else(|e| panic!("{c}: {e}"));
        let v = Version::loose(v).unwrap_or_else(|| panic!("version {v}"));
        cons.check(&v)
    }

    #[test]
    fn tags_are_strict_after_an_optional_v() {
        assert!(Version::tag("1.2.3").is_some());
        assert!(Version::tag("v1.2.3").is_some());
        assert!(Version::tag("2025.2.3").is_some());
        assert!(Version::tag("v1.3").is_none());
        assert!(Version::tag("1.2").is_none());
        assert!(Version::tag("v1").is_none());
        // fluxcd/pkg version/v0.16.0: leading zeros and `1.2-rc.1` pass.
        assert!(Version::tag("2025.02.03").is_some());
        assert_eq!(
            Version::tag("1.2-rc.1").map(|v| (v.minor, v.patch, v.pre)),
            Some((2, 0, "rc.1".into()))
        );
        assert!(Version::tag("1.2.3.4").is_none());
        assert!(Version::tag("latest").is_none());
        assert!(Version::tag("1.2.3-rc.01").is_none());
        assert!(Version::tag("vv1.2.3").is_none());
        assert_eq!(
            Version::tag("1.2.3-rc.1+b.5").map(|v| (v.pre, v.metadata)),
            Some(("rc.1".into(), "b.5".into()))
        );
    }

    #[test]
    fn loose_versions_fill_missing_parts() {
        let v = Version::loose("v1.2").unwrap_or_else(|| panic!("v1.2"));
        assert_eq!((v.major, v.minor, v.patch), (1, 2, 0));
        assert!(Version::loose("main").is_none());
        assert!(Version::loose("1.2.3-").is_none());
    }

    #[test]
    fn precedence_follows_semver() {
        let ord = [
            "1.0.0-alpha",
            "1.0.0-alpha.1",
            "1.0.0-alpha.beta",
            "1.0.0-beta",
            "1.0.0-beta.2",
            "1.0.0-beta.11",
            "1.0.0-rc.1",
            "1.0.0",
        ];
        for w in ord.windows(2) {
            let (a, b) = (Version::loose(w[0]), Version::loose(w[1]));
            let (Some(a), Some(b)) = (a, b) else {
                panic!("parse {w:?}")
            };
            assert_eq!(a.precedence(&b), Ordering::Less, "{w:?}");
        }
        let (Some(a), Some(b)) = (Version::loose("1.0.0+a"), Version::loose("1.0.0+b")) else {
            panic!("parse")
        };
        assert_eq!(a.precedence(&b), Ordering::Equal);
    }

    // Cases from Masterminds/semver's README and constraint tests.
    #[test]
    fn masterminds_constraints() {
        let cases: &[(&str, &str, bool)] = &[
            ("=1.2.3", "1.2.3", true),
            ("1.2.3", "1.2.4", false),
            ("!=4.1", "4.1.5", false),
            ("!=4.1", "4.2.0", true),
            ("!=4.x", "5.0.0", true),
            ("!=4.x", "4.9.9", false),
            ("!=1.3", "1.3.0", false),
            ("!=1.3", "1.3.9", false),
            (">1.2", "1.2.9", false),
            (">1.2", "1.3.0", true),
            (">1.2", "2.0.0", true),
            (">11", "11.1.0", false),
            ("<=1.2", "1.2.9", true),
            ("<=1.2", "1.3.0", false),
            ("<1.2", "1.1.9", true),
            ("<1.2", "1.2.0", false),
            (">= 1.2, < 3.0.0 || >= 4.2.3", "3.1.0", false),
            (">= 1.2, < 3.0.0 || >= 4.2.3", "4.2.3", true),
            (">= 1.2 < 3.0.0", "2.9.0", true),
            ("1.2 - 1.4.5", "1.4.5", true),
            ("1.2 - 1.4.5", "1.4.6", false),
            ("1.2 - 1.4.5", "1.1.9", false),
            ("2.3.4 - 4.5", "4.5.9", true),
            ("2.3.4 - 4.5", "4.6.0", false),
            ("1.2.x", "1.2.7", true),
            ("1.2.x", "1.3.0", false),
            ("*", "5.0.0", true),
            ("*", "5.0.0-rc.1", false),
            ("2.x", "2.9.9", true),
            ("2.x", "3.0.0", false),
            ("~1.2.3", "1.2.9", true),
            ("~1.2.3", "1.3.0", false),
            ("~1", "1.9.0", true),
            ("~1", "2.0.0", false),
            ("~2.3", "2.3.9", true),
            ("~2.3", "2.4.0", false),
            ("~1.x", "1.5.0", true),
            ("^1.2.3", "1.9.9", true),
            ("^1.2.3", "2.0.0", false),
            ("^1.2.3", "1.2.2", false),
            ("^1.2.x", "1.5.0", true),
            ("^2.x", "2.9.0", true),
            ("^0.2.3", "0.2.9", true),
            ("^0.2.3", "0.3.0", false),
            ("^0.2", "0.2.0", true),
            ("^0.0.3", "0.0.3", true),
            ("^0.0.3", "0.0.4", false),
            ("^0.0", "0.0.9", true),
            ("^0.0", "0.1.0", false),
            ("^0", "0.9.9", true),
            ("^0", "1.0.0", false),
            (">=1.0.0-0", "1.5.0-rc.1", true),
            (">=1.0.0", "1.5.0-rc.1", false),
            (">= 1.2.3-beta.1, < 1.3", "1.2.4-alpha", true),
            (">1.2.3-beta.1 || >=2", "2.0.0-rc.1", true),
            (">=2 || <1", "2.0.0-rc.1", false),
            (">=v1.0.0", "1.0.0", true),
        ];
        for (c, v, want) in cases {
            assert_eq!(ok(c, v), *want, "{c} on {v}");
        }
    }

    #[test]
    fn improper_constraints_are_errors() {
        for c in ["", "latest", ">=", "1.2.3 ||", "~>~1"] {
            assert!(Constraints::parse(c).is_err(), "{c}");
        }
    }

    fn tags(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn selection_picks_the_highest_tag() {
        let t = tags(&[
            "1.0.0",
            "1.2.0",
            "v1.10.0",
            "2.0.0",
            "latest",
            "1.3.0-rc.1",
            "v1.3",
            "2025.02.03",
        ]);
        assert_eq!(
            select_tag(&t, ">=1.0.0 <2.0.0", None, None),
            Ok("v1.10.0".into())
        );
        assert_eq!(select_tag(&t, "<3", None, None), Ok("2.0.0".into()));
        assert_eq!(select_tag(&t, "*", None, None), Ok("2025.02.03".into()));
        assert_eq!(
            select_tag(&t, "~1.3", None, None),
            Err("no match found for semver: ~1.3".into())
        );
        assert_eq!(
            select_tag(&t, ">=1.3.0-0 <1.4", None, None),
            Ok("1.3.0-rc.1".into())
        );
        assert_eq!(
            select_tag(&t, ">=1.0.0", Some("^1\\.[0-2]"), None),
            Ok("1.2.0".into())
        );
        assert_eq!(
            select_tag(&t, ">=2025.0.0", None, None),
            Ok("2025.02.03".into())
        );
        let t = tags(&["2025.2.3", "1.0.0"]);
        assert_eq!(
            select_tag(&t, ">=2025.0.0", None, None),
            Ok("2025.2.3".into())
        );
        assert!(
            select_tag(&t, "latest", None, None)
                .is_err_and(|e| e.starts_with("semver 'latest' parse error: improper constraint"))
        );
    }

    #[test]
    fn helm_chart_tags_read_underscore_as_plus() {
        let t = tags(&["1.0.0_build.1", "0.9.0"]);
        assert_eq!(
            select_tag(&t, ">=1.0.0", None, Some(HELM_CHART_LAYER)),
            Ok("1.0.0_build.1".into())
        );
        assert_eq!(
            select_tag(&t, ">=1.0.0", None, None),
            Err("no match found for semver: >=1.0.0".into())
        );
    }
}
