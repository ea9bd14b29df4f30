//! OCIRepository tag selection as source-controller does it
//! (docs/flux-semantics.md SC-SEMVER, MS-*): a tag is a version only when
//! it is strict semver after an optional leading `v`; ranges are
//! Masterminds/semver v3 constraints, whose rules differ from Cargo's in
//! ways that decide what Flux deploys (partial versions, `!=1.3`,
//! prereleases admitted per AND group).
//!
//! Written from the rules, not from any upstream code; the simulator in
//! the test bed has its own implementation, so the two can disagree.

use std::cmp::Ordering;

/// A semantic version. Build metadata is kept for display only and takes
/// no part in ordering (MS-SORT).
#[derive(Debug, Clone)]
pub struct Version {
    pub major: u64,
    pub minor: u64,
    pub patch: u64,
    /// Dot-separated prerelease identifiers; empty for a release.
    pub pre: Vec<String>,
}

impl Version {
    fn new(major: u64, minor: u64, patch: u64, pre: Vec<String>) -> Version {
        Version {
            major,
            minor,
            patch,
            pre,
        }
    }
    pub fn is_prerelease(&self) -> bool {
        !self.pre.is_empty()
    }
}

impl PartialEq for Version {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}
impl Eq for Version {}
impl PartialOrd for Version {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Version {
    fn cmp(&self, other: &Self) -> Ordering {
        (self.major, self.minor, self.patch)
            .cmp(&(other.major, other.minor, other.patch))
            .then_with(|| compare_pre(&self.pre, &other.pre))
    }
}

/// Prerelease precedence (MS-SORT): a release is above any of its
/// prereleases; identifiers compare in turn, numbers numerically and below
/// words; a shorter list that is a prefix of a longer one is lower.
fn compare_pre(a: &[String], b: &[String]) -> Ordering {
    match (a.is_empty(), b.is_empty()) {
        (true, true) => return Ordering::Equal,
        (true, false) => return Ordering::Greater,
        (false, true) => return Ordering::Less,
        _ => {}
    }
    for (x, y) in a.iter().zip(b) {
        let o = match (x.parse::<u64>(), y.parse::<u64>()) {
            (Ok(i), Ok(j)) => i.cmp(&j),
            (Ok(_), Err(_)) => Ordering::Less,
            (Err(_), Ok(_)) => Ordering::Greater,
            (Err(_), Err(_)) => x.cmp(y),
        };
        if o != Ordering::Equal {
            return o;
        }
    }
    a.len().cmp(&b.len())
}

fn numeric_part(s: &str) -> Option<u64> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) || (s.len() > 1 && s.starts_with('0'))
    {
        return None;
    }
    s.parse().ok()
}

fn identifiers(s: &str, numeric_leading_zero_ok: bool) -> Option<Vec<String>> {
    let mut out = Vec::new();
    for part in s.split('.') {
        if part.is_empty() || !part.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-') {
            return None;
        }
        if !numeric_leading_zero_ok
            && part.bytes().all(|b| b.is_ascii_digit())
            && part.len() > 1
            && part.starts_with('0')
        {
            return None;
        }
        out.push(part.to_string());
    }
    Some(out)
}

/// Strict semver (MS-STRICT): exactly `MAJOR.MINOR.PATCH`, numbers without
/// leading zeros, optional `-prerelease` and `+build`.
pub fn parse_strict(text: &str) -> Option<Version> {
    let (rest, build) = match text.split_once('+') {
        Some((r, b)) => (r, Some(b)),
        None => (text, None),
    };
    if let Some(b) = build {
        identifiers(b, true)?;
    }
    let (core, pre) = match rest.split_once('-') {
        Some((c, p)) => (c, identifiers(p, false)?),
        None => (rest, Vec::new()),
    };
    let mut parts = core.split('.');
    let major = numeric_part(parts.next()?)?;
    let minor = numeric_part(parts.next()?)?;
    let patch = numeric_part(parts.next()?)?;
    if parts.next().is_some() {
        return None;
    }
    Some(Version::new(major, minor, patch, pre))
}

/// A version read leniently, as Masterminds' `NewVersion` reads one in
/// its default (coercing) mode: one optional `v`, one to three numeric
/// parts with leading zeros allowed, then an optional `-prerelease`
/// (numeric identifiers without leading zeros) and `+build`.
fn parse_lenient(text: &str) -> Option<Version> {
    let t = text.strip_prefix('v').unwrap_or(text);
    let (rest, build) = match t.split_once('+') {
        Some((r, b)) => (r, Some(b)),
        None => (t, None),
    };
    if let Some(b) = build {
        identifiers(b, true)?;
    }
    let (core, pre) = match rest.split_once('-') {
        Some((c, p)) => (c, identifiers(p, false)?),
        None => (rest, Vec::new()),
    };
    let parts: Vec<&str> = core.split('.').collect();
    if parts.len() > 3
        || parts
            .iter()
            .any(|p| p.is_empty() || !p.bytes().all(|b| b.is_ascii_digit()))
    {
        return None;
    }
    let num = |i: usize| parts.get(i).map_or(Some(0), |p| p.parse::<u64>().ok());
    Some(Version::new(num(0)?, num(1)?, num(2)?, pre))
}

/// Whether an OCIRepository tag is a version, and which (SC-SEMVER):
/// source-controller takes a tag with at least two dots that Masterminds
/// reads leniently, so `2025.02.03` is 2025.2.3 and `1.2-rc.1` is
/// 1.2.0-rc.1, while `v1.3`, `1.2.3.4` and `1.2.3-rc.01` are not
/// versions. `helm_chart`: the repository selects a Helm chart layer,
/// whose tags write the `+` of a version as `_` (SC-HELMTAG).
pub fn parse_tag(tag: &str, helm_chart: bool) -> Option<Version> {
    let tag = if helm_chart {
        std::borrow::Cow::Owned(tag.replace('_', "+"))
    } else {
        std::borrow::Cow::Borrowed(tag)
    };
    if tag.splitn(3, '.').count() != 3 {
        return None;
    }
    parse_lenient(&tag)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    /// `=` or none: exact, or `~` when the version is partial.
    Eq,
    Ne,
    Gt,
    Lt,
    Ge,
    Le,
    Tilde,
    Caret,
}

/// Which parts of a comparator's version were left out or wildcards:
/// `1.2` leaves the patch, `1` the minor and patch, `*` everything.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Partial {
    Full,
    Patch,
    Minor,
    Any,
}

#[derive(Debug, Clone)]
struct Comparator {
    op: Op,
    version: Version,
    partial: Partial,
}

/// A parsed Masterminds constraint: any OR group whose comparators all hold.
#[derive(Debug, Clone)]
pub struct Constraints {
    groups: Vec<Group>,
}

#[derive(Debug, Clone)]
struct Group {
    comparators: Vec<Comparator>,
    /// A comparator of this group names a prerelease: prereleases are then
    /// considered by every comparator of the group (MS-PRE).
    admits_pre: bool,
}

fn is_wild(s: &str) -> bool {
    matches!(s, "x" | "X" | "*")
}

/// A comparator's version, loosely: `v` allowed, one to three parts, `x`
/// wildcards, prerelease and build on the last given part.
fn parse_loose(text: &str) -> Result<(Version, Partial), String> {
    let t = text.strip_prefix('v').unwrap_or(text);
    let (rest, _build) = match t.split_once('+') {
        Some((r, b)) => (r, Some(b)),
        None => (t, None),
    };
    let (core, pre) = match rest.split_once('-') {
        Some((c, p)) => (
            c,
            identifiers(p, false).ok_or_else(|| format!("invalid prerelease in {text:?}"))?,
        ),
        None => (rest, Vec::new()),
    };
    let parts: Vec<&str> = core.split('.').collect();
    if parts.is_empty() || parts.len() > 3 {
        return Err(format!("{text:?} is not a version"));
    }
    let mut nums = [0u64; 3];
    let mut partial = Partial::Full;
    for (i, p) in parts.iter().enumerate() {
        if is_wild(p) {
            partial = [Partial::Any, Partial::Minor, Partial::Patch][i];
            break;
        }
        if p.is_empty() || !p.bytes().all(|b| b.is_ascii_digit()) {
            return Err(format!("{text:?} is not a version"));
        }
        nums[i] = p
            .parse()
            .map_err(|_| format!("{text:?}: number too large"))?;
    }
    if partial == Partial::Full {
        partial = match parts.len() {
            1 => Partial::Minor,
            2 => Partial::Patch,
            _ => Partial::Full,
        };
    }
    // A wildcard part drops the parts after it (`1.x.3` is `1.x`).
    match partial {
        Partial::Any => nums = [0, 0, 0],
        Partial::Minor => {
            nums[1] = 0;
            nums[2] = 0
        }
        Partial::Patch => nums[2] = 0,
        Partial::Full => {}
    }
    Ok((Version::new(nums[0], nums[1], nums[2], pre), partial))
}

fn parse_comparator(text: &str) -> Result<Comparator, String> {
    let ops: [(&str, Op); 12] = [
        ("!=", Op::Ne),
        (">=", Op::Ge),
        ("=>", Op::Ge),
        ("<=", Op::Le),
        ("=<", Op::Le),
        ("~>", Op::Tilde),
        (">", Op::Gt),
        ("<", Op::Lt),
        ("=", Op::Eq),
        ("~", Op::Tilde),
        ("^", Op::Caret),
        ("", Op::Eq),
    ];
    let (op, rest) = ops
        .iter()
        .find_map(|(s, op)| text.strip_prefix(s).map(|r| (*op, r.trim_start())))
        .unwrap_or((Op::Eq, text));
    let (version, partial) = parse_loose(rest)?;
    Ok(Comparator {
        op,
        version,
        partial,
    })
}

/// Split an AND group into comparator texts: separated by commas or
/// spaces, an operator may be followed by spaces (`>= 1.2`), and
/// `A - B` is a hyphen range.
fn split_group(text: &str) -> Result<Vec<String>, String> {
    let words: Vec<&str> = text
        .split(|c: char| c == ',' || c.is_whitespace())
        .filter(|w| !w.is_empty())
        .collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < words.len() {
        let w = words[i];
        if i + 2 < words.len() && words[i + 1] == "-" {
            out.push(format!(">={w}"));
            out.push(format!("<={}", words[i + 2]));
            i += 3;
            continue;
        }
        if w.bytes().all(|b| b"=!<>~^".contains(&b)) {
            let next = words
                .get(i + 1)
                .ok_or_else(|| format!("operator {w:?} without a version"))?;
            out.push(format!("{w}{next}"));
            i += 2;
            continue;
        }
        out.push(w.to_string());
        i += 1;
    }
    Ok(out)
}

impl Constraints {
    pub fn parse(text: &str) -> Result<Constraints, String> {
        let mut groups = Vec::new();
        for alt in text.split("||") {
            let mut comparators = Vec::new();
            let words = split_group(alt)?;
            if words.is_empty() {
                // An empty constraint is `*`.
                comparators.push(parse_comparator("*")?);
            }
            for w in words {
                comparators.push(parse_comparator(&w).map_err(|e| format!("{text:?}: {e}"))?);
            }
            let admits_pre = comparators.iter().any(|c| c.version.is_prerelease());
            groups.push(Group {
                comparators,
                admits_pre,
            });
        }
        Ok(Constraints { groups })
    }

    pub fn matches(&self, v: &Version) -> bool {
        self.groups.iter().any(|g| {
            (g.admits_pre || !v.is_prerelease()) && g.comparators.iter().all(|c| c.holds(v))
        })
    }
}

impl Comparator {
    fn holds(&self, v: &Version) -> bool {
        let c = &self.version;
        match self.op {
            Op::Eq if self.partial != Partial::Full => self.tilde(v),
            Op::Eq => v == c,
            Op::Ne => match self.partial {
                Partial::Full | Partial::Any => v != c,
                Partial::Minor => v.major != c.major,
                // `!=4.1` spares 4.1.x prereleases that differ from its own.
                Partial::Patch => {
                    (v.major, v.minor) != (c.major, c.minor)
                        || ((v.is_prerelease() || c.is_prerelease())
                            && compare_pre(&v.pre, &c.pre) != Ordering::Equal)
                }
            },
            Op::Gt => match self.partial {
                Partial::Full | Partial::Any => v > c,
                Partial::Minor => v.major > c.major,
                Partial::Patch => (v.major, v.minor) > (c.major, c.minor),
            },
            Op::Lt => v < c,
            Op::Ge => v >= c,
            Op::Le => match self.partial {
                Partial::Full => v <= c,
                Partial::Minor => v.major <= c.major,
                Partial::Patch | Partial::Any => (v.major, v.minor) <= (c.major, c.minor),
            },
            Op::Tilde => self.tilde(v),
            Op::Caret => self.caret(v),
        }
    }

    /// `~1.2.3` is `>=1.2.3 <1.3.0`; `~1.2` the same from 1.2.0; `~1` is
    /// `>=1.0.0 <2.0.0`; `~0.0.0` and `*` any version.
    fn tilde(&self, v: &Version) -> bool {
        let c = &self.version;
        if v < c {
            return false;
        }
        if self.partial == Partial::Any
            || (c.major == 0 && c.minor == 0 && c.patch == 0 && self.partial == Partial::Full)
        {
            return true;
        }
        v.major == c.major && (self.partial == Partial::Minor || v.minor == c.minor)
    }

    /// `^1.2.3` is `>=1.2.3 <2.0.0`; `^0.2.3` is `>=0.2.3 <0.3.0`; `^0.0.3`
    /// is `>=0.0.3 <0.0.4`; `^0.0` is `<0.1.0`; `^0` is `<1.0.0`; `^*`
    /// (a quirk kept as Masterminds has it) only 0.0.0.
    fn caret(&self, v: &Version) -> bool {
        let c = &self.version;
        if v < c {
            return false;
        }
        if c.major > 0 || self.partial == Partial::Minor {
            return v.major == c.major;
        }
        if v.major > 0 {
            return false;
        }
        if c.minor > 0 || self.partial == Partial::Patch {
            return v.minor == c.minor;
        }
        v.minor == 0 && v.patch == c.patch
    }
}

/// The tag source-controller would select from `tags` for a semver range
/// (and optional semverFilter): the highest version the range admits.
pub fn select<'a>(
    tags: impl IntoIterator<Item = &'a str>,
    range: &Constraints,
    filter: Option<&regex::Regex>,
    helm_chart: bool,
) -> Option<&'a str> {
    tags.into_iter()
        .filter(|t| filter.is_none_or(|f| f.is_match(t)))
        .filter_map(|t| parse_tag(t, helm_chart).map(|v| (v, t)))
        .filter(|(v, _)| range.matches(v))
        .max_by(|a, b| a.0.cmp(&b.0))
        .map(|(_, t)| t)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(range: &str, version: &str) -> bool {
        let c = Constraints::parse(range).expect("range parses");
        let v = parse_strict(version).expect("version parses");
        c.matches(&v)
    }

    /// Cases from Masterminds' documented constraint examples and the
    /// issue's findings (docs/flux-semantics.md MS-CONSTRAINT, MS-PRE).
    #[test]
    fn constraint_table() {
        let cases: &[(&str, &str, bool)] = &[
            // exact and partial equality (`=1.2` is 1.2.x)
            ("1.2.3", "1.2.3", true),
            ("1.2.3", "1.2.4", false),
            ("=1.2", "1.2.9", true),
            ("1.2", "1.3.0", false),
            ("1.2.x", "1.2.5", true),
            ("1.x", "1.9.0", true),
            ("1.x", "2.0.0", false),
            ("*", "4.5.6", true),
            // != with partial versions excludes the whole line (MS-CONSTRAINT)
            ("!=1.3", "1.3.7", false),
            ("!=1.3", "1.4.0", true),
            ("!=1.3.0", "1.3.1", true),
            // > and <= with partial versions
            (">1.2", "1.2.9", false),
            (">1.2", "1.3.0", true),
            (">1", "1.9.9", false),
            (">1", "2.0.0", true),
            ("<=1.2", "1.2.9", true),
            ("<=1.2", "1.3.0", false),
            ("<1.2", "1.1.9", true),
            ("<1.2", "1.2.0", false),
            (">=1.2", "1.2.0", true),
            // tilde
            ("~1.2.3", "1.2.9", true),
            ("~1.2.3", "1.3.0", false),
            ("~1.2", "1.2.0", true),
            ("~1", "1.9.0", true),
            ("~1", "2.0.0", false),
            ("~>1.2.3", "1.2.4", true),
            // caret, 0.x rules
            ("^1.2.3", "1.9.0", true),
            ("^1.2.3", "2.0.0", false),
            ("^0.2.3", "0.2.9", true),
            ("^0.2.3", "0.3.0", false),
            ("^0.0.3", "0.0.3", true),
            ("^0.0.3", "0.0.4", false),
            ("^0.0", "0.0.9", true),
            ("^0.0", "0.1.0", false),
            ("^0", "0.9.0", true),
            ("^0", "1.0.0", false),
            // AND by comma or space, OR by ||, hyphen ranges
            (">=1.0.0, <2.0.0", "1.5.0", true),
            (">= 1.0.0 < 2.0.0", "2.0.0", false),
            (">=1.0 <1.1 || >=3.0", "3.1.0", true),
            (">=1.0 <1.1 || >=3.0", "2.0.0", false),
            ("1.2 - 1.4.5", "1.4.5", true),
            ("1.2 - 1.4.5", "1.4.6", false),
            ("1.2 - 1.4.5", "1.1.9", false),
            // prereleases: excluded unless the AND group names one (MS-PRE)
            (">=1.0.0", "1.5.0-rc.1", false),
            (">=1.0.0-0", "1.5.0-rc.1", true),
            (">=1.0.0-0 <2.0.0", "1.5.0-rc.1", true),
            (">=1.0.0-0 <2.0.0 || >=3.0.0", "1.5.0-rc.1", true),
            (">=3.0.0 || >=1.0.0 <2.0.0", "1.5.0-rc.1", false),
            (">=1.2.3-beta.2", "1.2.3-beta.10", true),
            (">=1.2.3-beta.2", "1.2.3-beta.1", false),
            ("*", "1.0.0-alpha", false),
        ];
        for (range, version, want) in cases {
            assert_eq!(ok(range, version), *want, "{range:?} on {version}");
        }
    }

    #[test]
    fn tags_that_are_versions() {
        // SC-SEMVER: fluxcd/pkg version.ParseVersion (v0.16.0, as
        // source-controller v1.9.4 requires it): two dots at least, then
        // Masterminds' lenient reading.
        for (tag, want) in [
            ("1.2.3", Some("1.2.3")),
            ("v1.2.3", Some("1.2.3")),
            ("v1.3", None),
            ("1", None),
            ("2025.02.03", Some("2025.2.3")),
            ("2025.2.3", Some("2025.2.3")),
            ("01.02.03", Some("1.2.3")),
            ("1.2-rc.1", Some("1.2.0-rc.1")),
            ("1.2.3-rc.1", Some("1.2.3-rc.1")),
            ("1.2.3-rc.01", None),
            ("1.2.3+build.5", Some("1.2.3")),
            ("vv1.2.3", None),
            ("latest", None),
            ("1.2.3.4", None),
            ("1.0.0-alpha_beta", None),
            ("9.8.7+meta+meta", None),
        ] {
            let got = parse_tag(tag, false).map(|v| {
                let mut s = format!("{}.{}.{}", v.major, v.minor, v.patch);
                if v.is_prerelease() {
                    s.push('-');
                    s.push_str(&v.pre.join("."));
                }
                s
            });
            assert_eq!(got.as_deref(), want, "{tag}");
        }
        // SC-HELMTAG: `_` reads as `+` only for Helm chart layers.
        assert!(parse_tag("1.2.3_build.5", false).is_none());
        assert!(parse_tag("1.2.3_build.5", true).is_some());
    }

    /// Masterminds' own test tables (MS-CONSTRAINT, MS-PRE), in our words.
    #[test]
    fn masterminds_cases() {
        let cases: &[(&str, &str, bool)] = &[
            ("*", "1.2.3", true),
            ("*", "1.2.3-alpha.1", false),
            ("*-0", "1.2.3-alpha.1", true),
            ("= 2.0", "2.0.1", true),
            ("4.1.x", "4.1.3", true),
            ("2.1", "2.2.1", false),
            ("!=4.1", "4.1.1", false),
            ("!=4.1", "5.1.0", true),
            ("!=4.1.0", "5.1.0-alpha.1", false),
            ("!=4.x", "4.1.0", false),
            (">1.1", "1.1.0", false),
            (">11.1", "11.1.1", false),
            (">11.1", "11.2.1", true),
            ("<1.1", "1.1.1", false),
            ("<=1.1", "1.1.1", true),
            ("<=4.5", "4.6.3", false),
            (">=1.1", "4.1.0-beta", false),
            ("<=1.1-a", "0.1.0-alpha", true),
            (">0-0", "0.0.1-alpha", false),
            (">=0-0", "0.0.1-alpha", true),
            (">=0.0.0-0", "3.4.5-beta.1", true),
            ("~1.2.3", "1.2.4", true),
            ("~1.2.3", "1.3.4", false),
            ("~1", "2.3.4", false),
            ("~0.0.0", "1.2.3", true),
            ("~1.2.3-beta.2", "1.2.4-beta.2", true),
            ("^1.2.3", "1.8.9", true),
            ("^1.2.3", "2.8.9", false),
            ("^0.2.3", "0.5.6", false),
            ("^0.0.3", "0.0.4", false),
            ("^0.0", "0.1.4", false),
            ("^0", "1.1.4", false),
            ("^0.0.0", "1.2.3", false),
            ("^1.2.0", "1.2.1-alpha.1", false),
            ("^1.2.0-alpha.0", "1.2.1-alpha.1", true),
            ("^1.1.2-alpha", "1.2.1-beta1", true),
            ("1.1 - 2", "1.1.1", true),
            ("1.5.0 - 4.5", "3.7.0", true),
            ("1.1-3", "4.3.2", false),
            (">= 1.0.0  <= 2.0.0-beta", "1.0.1-beta", true),
            (">= 1.0.0  <= 2.0.0-beta || > 3", "3.0.1-beta", false),
            (
                ">= 1.0.0  <= 2.0.0-beta != 1.0.1-beta || > 3",
                "1.0.1-beta",
                false,
            ),
            (">=1.1 <2 !=1.2.3 || >= 3", "3.0.0", true),
            (">=1.1 <2 !=1.2.3 || > 3", "3.0.0", false),
            ("1.0.0 - 2.0.0, <=2.0.0", "1.5.0", true),
        ];
        for (range, version, want) in cases {
            let c = Constraints::parse(range).expect("range parses");
            let v = parse_lenient(version).expect("version parses");
            assert_eq!(c.matches(&v), *want, "{range:?} on {version}");
        }
        for bad in ["12.3.4.1234", "v1.2.3-beta.01", ">= bar", "12.3.34~ 1.2.3"] {
            assert!(Constraints::parse(bad).is_err(), "{bad}");
        }
        assert!(Constraints::parse("12.3.34 ~1.2.3").is_ok());
    }

    #[test]
    fn ordering() {
        // MS-SORT
        let v = |s: &str| parse_strict(s).expect("version");
        let mut list = [
            v("1.0.0"),
            v("1.0.0-rc.1"),
            v("1.0.0-beta.11"),
            v("1.0.0-beta.2"),
            v("1.0.0-beta"),
            v("1.0.0-alpha.beta"),
            v("1.0.0-alpha.1"),
            v("1.0.0-alpha"),
        ];
        list.sort();
        let shown: Vec<String> = list
            .iter()
            .map(|x| format!("{}.{}.{}-{}", x.major, x.minor, x.patch, x.pre.join(".")))
            .collect();
        assert_eq!(
            shown,
            [
                "1.0.0-alpha",
                "1.0.0-alpha.1",
                "1.0.0-alpha.beta",
                "1.0.0-beta",
                "1.0.0-beta.2",
                "1.0.0-beta.11",
                "1.0.0-rc.1",
                "1.0.0-"
            ]
        );
        assert_eq!(v("1.2.3+a"), v("1.2.3+b"));
    }

    #[test]
    fn selection_takes_the_highest_admitted_tag() {
        let tags = [
            "1.0.0",
            "v1.3",
            "1.2.0",
            "1.10.0",
            "2.0.0-rc.1",
            "latest",
            "1.99.0.1",
        ];
        let r = Constraints::parse(">=1.0.0 <2.0.0").expect("range");
        assert_eq!(select(tags, &r, None, false), Some("1.10.0"));
        let pre = Constraints::parse(">=1.0.0-0").expect("range");
        assert_eq!(select(tags, &pre, None, false), Some("2.0.0-rc.1"));
        let f = regex::Regex::new(r"^1\.[0-2]\.").expect("regex");
        assert_eq!(select(tags, &r, Some(&f), false), Some("1.2.0"));
        assert_eq!(select(["v1.3", "main"], &r, None, false), None);
    }

    #[test]
    fn strict_versions() {
        // MS-STRICT: what push accepts as a chart version.
        for ok in [
            "1.2.3",
            "1.2.3-0abc123",
            "1.2.3+test.01",
            "1.2.3-rc1-with-hypen",
        ] {
            assert!(parse_strict(ok).is_some(), "{ok}");
        }
        for bad in [
            "v1.2.3",
            "1.2",
            "01.1.1",
            "1.2.3-beta.01",
            "1.2.3.4",
            "1.0.0-alpha_beta",
            "9.8.7+meta+meta",
            "1.1.2+.123",
        ] {
            assert!(parse_strict(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn bad_ranges_are_errors() {
        for bad in [">=", "1.2.3.4", ">=a.b", "1.2.3-"] {
            assert!(Constraints::parse(bad).is_err(), "{bad}");
        }
    }
}
