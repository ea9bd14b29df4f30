//! Manifest annotations: where the artifact comes from (source, revision,
//! created), derived from the GitLab CI environment or the git checkout
//! that holds PATH, with command-line overrides.
//!
//! Functions here take the environment as a closure and git information as
//! a value so tests stay hermetic; [`git_info`] is the only one that runs a
//! process.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Command, Stdio};

use super::error::OciError;

/// `org.opencontainers.image.source`.
pub const SOURCE: &str = "org.opencontainers.image.source";
/// `org.opencontainers.image.revision`.
pub const REVISION: &str = "org.opencontainers.image.revision";
/// `org.opencontainers.image.created`.
pub const CREATED: &str = "org.opencontainers.image.created";

/// What the command line asks for explicitly.
#[derive(Debug, Clone, Default)]
pub struct Overrides {
    pub source: Option<String>,
    pub revision: Option<String>,
    pub created: Option<String>,
    /// Raw `KEY=VALUE` strings from `--annotation`.
    pub annotations: Vec<String>,
}

/// What the git checkout holding PATH tells.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GitInfo {
    /// `remote.origin.url`, as configured (may hold credentials: never print it raw).
    pub remote: Option<String>,
    /// The checked-out branch (None when detached).
    pub branch: Option<String>,
    /// A tag pointing at HEAD, when detached.
    pub tag: Option<String>,
    /// HEAD's full SHA-1.
    pub commit: String,
    /// The committer date of HEAD (any RFC 3339 form).
    pub commit_time: Option<String>,
}

/// Where each of the three well-known annotations came from, for the report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Provenance {
    pub source: Option<String>,
    pub revision: Option<String>,
    pub created: String,
    /// "flags", "GitLab CI", "git checkout" or "clock" for created.
    pub created_from: &'static str,
}

/// Compute the manifest annotations.
///
/// Precedence per key: `--annotation` > `--source`/`--revision`/`--created`
/// > GitLab CI variables > the git checkout (queried lazily) > now (created).
pub fn derive(
    overrides: &Overrides,
    env: &dyn Fn(&str) -> Option<String>,
    git: impl FnOnce() -> Option<GitInfo>,
    now: jiff::Timestamp,
) -> Result<(BTreeMap<String, String>, Provenance), OciError> {
    let var = |k: &str| env(k).filter(|v| !v.trim().is_empty());
    let mut git_cache: Option<Option<GitInfo>> = None;
    let mut git = Some(git);
    let mut git_info = || -> Option<GitInfo> {
        if git_cache.is_none() {
            git_cache = Some(git.take().and_then(|f| f()));
        }
        git_cache.clone().flatten()
    };

    let source = match &overrides.source {
        Some(s) => Some(s.clone()),
        None => match var("CI_PROJECT_URL") {
            Some(url) => Some(url),
            None => git_info()
                .and_then(|g| g.remote)
                .and_then(|r| remote_to_https(&r)),
        },
    };

    let revision = match &overrides.revision {
        Some(r) => Some(r.clone()),
        None => match var("CI_COMMIT_SHA") {
            Some(sha) => Some(
                match var("CI_COMMIT_TAG").or_else(|| var("CI_COMMIT_REF_NAME")) {
                    Some(r) => format!("{r}@sha1:{sha}"),
                    None => format!("sha1:{sha}"),
                },
            ),
            None => git_info().map(|g| git_revision(&g)),
        },
    };

    let (created_raw, created_from) = match &overrides.created {
        Some(c) => (Some(c.clone()), "flags"),
        None => match var("CI_COMMIT_TIMESTAMP") {
            Some(t) => (Some(t), "GitLab CI"),
            None => match git_info().and_then(|g| g.commit_time) {
                Some(t) => (Some(t), "git checkout"),
                None => (None, "clock"),
            },
        },
    };
    let created = match created_raw {
        Some(raw) => normalize_time(&raw).ok_or_else(|| OciError::Annotation {
            key: CREATED.into(),
            reason: format!("{raw:?} is not an RFC 3339 time (from {created_from})"),
        })?,
        None => format_time(now),
    };

    let mut map = BTreeMap::new();
    if let Some(s) = &source {
        map.insert(SOURCE.to_string(), s.clone());
    }
    if let Some(r) = &revision {
        map.insert(REVISION.to_string(), r.clone());
    }
    map.insert(CREATED.to_string(), created.clone());

    for raw in &overrides.annotations {
        let Some((key, value)) = raw.split_once('=') else {
            return Err(OciError::Annotation {
                key: raw.clone(),
                reason: "it is not KEY=VALUE".into(),
            });
        };
        let key = key.trim();
        validate_key(key)?;
        if key == CREATED && normalize_time(value).is_none() {
            return Err(OciError::Annotation {
                key: key.into(),
                reason: format!("{value:?} is not an RFC 3339 time"),
            });
        }
        map.insert(key.to_string(), value.to_string());
    }
    for (key, value) in &map {
        validate_value(key, value)?;
    }

    let provenance = Provenance {
        source: map.get(SOURCE).cloned(),
        revision: map.get(REVISION).cloned(),
        created: map.get(CREATED).cloned().unwrap_or(created),
        created_from,
    };
    Ok((map, provenance))
}

fn validate_key(key: &str) -> Result<(), OciError> {
    let reason = if key.is_empty() {
        Some("the key is empty".to_string())
    } else {
        key.chars()
            .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_' | '/')))
            .map(|c| {
                format!("the key contains {c:?}; keys are letters, digits, '.', '-', '_' and '/'")
            })
    };
    match reason {
        Some(reason) => Err(OciError::Annotation {
            key: key.into(),
            reason,
        }),
        None => Ok(()),
    }
}

/// Values must be one line of printable text: they end up in dotenv files,
/// Flux status messages and registry UIs.
fn validate_value(key: &str, value: &str) -> Result<(), OciError> {
    if let Some(c) = value.chars().find(|c| c.is_control()) {
        return Err(OciError::Annotation {
            key: key.into(),
            reason: format!(
                "the value contains the control character {c:?} (newlines cannot be stored)"
            ),
        });
    }
    Ok(())
}

/// The Flux revision form of a git checkout: `<branch|tag>@sha1:<commit>`,
/// or `sha1:<commit>` for a detached HEAD without tag.
pub fn git_revision(g: &GitInfo) -> String {
    match g.branch.as_ref().or(g.tag.as_ref()) {
        Some(r) => format!("{r}@sha1:{}", g.commit),
        None => format!("sha1:{}", g.commit),
    }
}

/// RFC 3339 in UTC, whole seconds (what Flux writes).
pub fn format_time(t: jiff::Timestamp) -> String {
    jiff::Timestamp::from_second(t.as_second())
        .unwrap_or(t)
        .to_string()
}

/// Parse any RFC 3339 / ISO 8601 time with offset and normalize it.
pub fn normalize_time(raw: &str) -> Option<String> {
    raw.trim().parse::<jiff::Timestamp>().ok().map(format_time)
}

/// A git remote URL as an https URL without credentials, port (for ssh) or
/// `.git` suffix. Local paths give None.
pub fn remote_to_https(remote: &str) -> Option<String> {
    let remote = remote.trim();
    let (scheme, host, path) = if let Some((scheme, rest)) = remote.split_once("://") {
        let scheme = scheme.to_ascii_lowercase();
        if scheme == "file" {
            return None;
        }
        let (authority, path) = rest.split_once('/').unwrap_or((rest, ""));
        let host_port = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
        let host = match scheme.as_str() {
            "http" | "https" => host_port.to_string(),
            // ssh://git@host:2222/x → the web UI is not on the ssh port
            _ => super::reference::host_without_port(host_port).to_string(),
        };
        let scheme = if scheme == "http" { "http" } else { "https" };
        (scheme, host, path.to_string())
    } else if let Some((user_host, path)) = remote.split_once(':') {
        // scp-like: [user@]host:path
        if user_host.contains('/') || user_host.is_empty() {
            return None;
        }
        let host = user_host.rsplit_once('@').map_or(user_host, |(_, h)| h);
        ("https", host.to_string(), path.to_string())
    } else {
        return None;
    };
    if host.is_empty() {
        return None;
    }
    let path = path.trim_matches('/');
    let path = path.strip_suffix(".git").unwrap_or(path);
    Some(
        format!("{scheme}://{host}/{path}")
            .trim_end_matches('/')
            .to_string(),
    )
}

/// Ask git about the checkout holding `path` (a file or directory). None
/// when git is missing or `path` is not in a work tree.
pub fn git_info(path: &Path) -> Option<GitInfo> {
    let dir = if path.is_dir() {
        path.to_path_buf()
    } else {
        path.parent()
            .filter(|p| !p.as_os_str().is_empty())
            .map_or_else(|| Path::new(".").to_path_buf(), Path::to_path_buf)
    };
    let git = |args: &[&str]| -> Option<String> {
        let out = Command::new("git")
            .arg("-C")
            .arg(&dir)
            .args(args)
            .env("GIT_TERMINAL_PROMPT", "0")
            .stdin(Stdio::null())
            .stderr(Stdio::null())
            .output()
            .ok()?;
        if !out.status.success() {
            return None;
        }
        let s = String::from_utf8(out.stdout).ok()?.trim().to_string();
        (!s.is_empty()).then_some(s)
    };
    let commit = git(&["rev-parse", "--verify", "--quiet", "HEAD"])?;
    let branch = git(&["symbolic-ref", "--quiet", "--short", "HEAD"]);
    let tag = if branch.is_none() {
        git(&["tag", "--points-at", "HEAD", "--sort=-creatordate"])
            .and_then(|t| t.lines().next().map(str::to_string))
    } else {
        None
    };
    let info = GitInfo {
        remote: git(&["remote", "get-url", "origin"]),
        branch,
        tag,
        commit_time: git(&["log", "-1", "--format=%cI", "HEAD"]),
        commit,
    };
    tracing::debug!(
        commit = %info.commit,
        branch = ?info.branch,
        tag = ?info.tag,
        "git checkout found for {}",
        dir.display()
    );
    Some(info)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn env(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> + use<> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |k| map.get(k).cloned()
    }

    fn now() -> jiff::Timestamp {
        "2030-01-02T03:04:05.678Z".parse().expect("time")
    }

    fn git() -> GitInfo {
        GitInfo {
            remote: Some("https://gitlab-ci-token:s3cret@gitlab.example.com/group/app.git".into()),
            branch: Some("feature".into()),
            tag: None,
            commit: "b".repeat(40),
            commit_time: Some("2024-05-06T09:10:11+02:00".into()),
        }
    }

    #[test]
    fn gitlab_ci_wins_over_git() {
        let sha = "a".repeat(40);
        let e = env(&[
            ("CI_PROJECT_URL", "https://gitlab.example.com/group/app"),
            ("CI_COMMIT_SHA", &sha),
            ("CI_COMMIT_REF_NAME", "main"),
            ("CI_COMMIT_TIMESTAMP", "2024-01-31T16:47:55+01:00"),
        ]);
        let (map, p) = derive(
            &Overrides::default(),
            &e,
            || panic!("git must not be asked"),
            now(),
        )
        .expect("derive");
        assert_eq!(map[SOURCE], "https://gitlab.example.com/group/app");
        assert_eq!(map[REVISION], format!("main@sha1:{}", "a".repeat(40)));
        assert_eq!(map[CREATED], "2024-01-31T15:47:55Z");
        assert_eq!(p.created_from, "GitLab CI");
    }

    #[test]
    fn tag_pipelines_use_the_tag() {
        let e = env(&[
            ("CI_COMMIT_SHA", "abc"),
            ("CI_COMMIT_REF_NAME", "v1.0.0"),
            ("CI_COMMIT_TAG", "v1.0.0"),
        ]);
        let (map, _) = derive(&Overrides::default(), &e, || None, now()).expect("derive");
        assert_eq!(map[REVISION], "v1.0.0@sha1:abc");
        // no timestamp, no git: now, whole seconds
        assert_eq!(map[CREATED], "2030-01-02T03:04:05Z");
    }

    #[test]
    fn laptop_uses_git_without_credentials() {
        let (map, p) =
            derive(&Overrides::default(), &env(&[]), || Some(git()), now()).expect("derive");
        assert_eq!(map[SOURCE], "https://gitlab.example.com/group/app");
        assert_eq!(map[REVISION], format!("feature@sha1:{}", "b".repeat(40)));
        assert_eq!(map[CREATED], "2024-05-06T07:10:11Z");
        assert_eq!(p.created_from, "git checkout");
    }

    #[test]
    fn flags_override_and_annotations_merge_last() {
        let o = Overrides {
            source: Some("https://example.com/s".into()),
            revision: Some("r1".into()),
            created: Some("2020-01-01T00:00:00Z".into()),
            annotations: vec![
                "team=platform".into(),
                "org.opencontainers.image.revision=r2".into(),
                "url=https://x/?a=b".into(),
            ],
        };
        let (map, p) = derive(&o, &env(&[]), || Some(git()), now()).expect("derive");
        assert_eq!(map[SOURCE], "https://example.com/s");
        assert_eq!(map[REVISION], "r2");
        assert_eq!(map["team"], "platform");
        assert_eq!(map["url"], "https://x/?a=b");
        assert_eq!(p.revision.as_deref(), Some("r2"));
        assert_eq!(p.created, "2020-01-01T00:00:00Z");
    }

    #[test]
    fn unstorable_values_are_errors() {
        for bad in ["novalue", "=x", "a b=c", "k=line1\nline2"] {
            let o = Overrides {
                annotations: vec![bad.into()],
                ..Default::default()
            };
            assert!(derive(&o, &env(&[]), || None, now()).is_err(), "{bad:?}");
        }
        let o = Overrides {
            created: Some("yesterday".into()),
            ..Default::default()
        };
        assert!(derive(&o, &env(&[]), || None, now()).is_err());
        let o = Overrides {
            revision: Some("a\rb".into()),
            ..Default::default()
        };
        assert!(derive(&o, &env(&[]), || None, now()).is_err());
    }

    #[test]
    fn remotes() {
        let cases = [
            (
                "git@gitlab.com:group/sub/app.git",
                Some("https://gitlab.com/group/sub/app"),
            ),
            (
                "ssh://git@gitlab.example.com:2222/g/app.git",
                Some("https://gitlab.example.com/g/app"),
            ),
            (
                "https://oauth2:tok@gitlab.example.com/g/app.git",
                Some("https://gitlab.example.com/g/app"),
            ),
            (
                "https://gitlab.example.com:8443/g/app/",
                Some("https://gitlab.example.com:8443/g/app"),
            ),
            ("http://10.0.0.1/g/app", Some("http://10.0.0.1/g/app")),
            ("/srv/git/app.git", None),
            ("file:///srv/git/app.git", None),
            ("../app", None),
        ];
        for (input, want) in cases {
            assert_eq!(remote_to_https(input).as_deref(), want, "{input}");
        }
    }

    #[test]
    fn revisions() {
        let mut g = git();
        assert!(git_revision(&g).starts_with("feature@sha1:"));
        g.branch = None;
        g.tag = Some("v2".into());
        assert!(git_revision(&g).starts_with("v2@sha1:"));
        g.tag = None;
        assert_eq!(git_revision(&g), format!("sha1:{}", "b".repeat(40)));
    }
}
