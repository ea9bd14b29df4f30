//! `oci://host[:port]/repository[:tag][@sha256:hex]` references, validated
//! with the distribution grammar (distribution/reference).

use std::fmt;

use super::error::OciError;

/// A parsed `oci://` reference.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reference {
    /// `host[:port]`, as written (lowercased host).
    pub registry: String,
    /// `group/project/name`: lowercase path components.
    pub repository: String,
    pub tag: Option<String>,
    /// `sha256:<64 hex>`.
    pub digest: Option<String>,
}

const SCHEME: &str = "oci://";
/// distribution's limit on the full name (host/repository).
const NAME_TOTAL_MAX: usize = 255;

/// A reference with `USER:PASSWORD@` before its host, shown with `***@`
/// instead, or None when it has none. (`host@sha256:…` is a misplaced
/// digest, not credentials.)
pub fn redact_userinfo(input: &str) -> Option<String> {
    let (scheme, rest) = match input.find("://") {
        Some(i) => input.split_at(i + 3),
        None => ("", input),
    };
    let authority = &rest[..rest.find('/').unwrap_or(rest.len())];
    let at = authority.rfind('@')?;
    let after = &rest[at + 1..];
    if after.starts_with("sha256:") {
        return None;
    }
    Some(format!("{scheme}***@{after}"))
}

impl Reference {
    /// Parse and validate a reference.
    pub fn parse(input: &str) -> Result<Reference, OciError> {
        let err = |reason: String, hint: String| OciError::Reference {
            input: input.to_string(),
            reason,
            hint,
        };
        let trimmed = input.trim();
        if let Some(shown) = redact_userinfo(trimmed) {
            return Err(OciError::Reference {
                input: shown,
                reason:
                    "it carries credentials (USER:PASSWORD@), which do not belong in a reference"
                        .into(),
                hint: "remove them and pass them with --creds, --username with --password-stdin, \
                       or GitLab's CI_REGISTRY_USER/CI_REGISTRY_PASSWORD"
                    .into(),
            });
        }
        let Some(rest) = strip_scheme(trimmed) else {
            let hint = match trimmed.split_once("://") {
                Some((scheme, after)) => {
                    format!("the scheme must be oci://, not {scheme}://; e.g. oci://{after}")
                }
                None => format!(
                    "write the artifact location with the oci:// scheme, e.g. oci://{}",
                    if trimmed.is_empty() {
                        "registry.example.com/group/project/manifests:v1"
                    } else {
                        trimmed
                    }
                ),
            };
            return Err(err("it does not start with oci://".into(), hint));
        };
        let Some((host, path)) = rest.split_once('/') else {
            return Err(err(
                "it names no repository after the registry".into(),
                format!("add the repository path, e.g. oci://{rest}/group/project/manifests"),
            ));
        };
        validate_host(host).map_err(|reason| {
            err(
                reason,
                "the registry is host[:port], e.g. registry.gitlab.com or 127.0.0.1:5000".into(),
            )
        })?;

        // Split off @digest, then :tag (a ':' after the last '/').
        let (name_tag, digest) = match path.split_once('@') {
            Some((n, d)) => (n, Some(d)),
            None => (path, None),
        };
        let last_slash = name_tag.rfind('/').map_or(0, |i| i + 1);
        let (repository, tag) = match name_tag[last_slash..].rfind(':') {
            Some(i) => (
                &name_tag[..last_slash + i],
                Some(&name_tag[last_slash + i + 1..]),
            ),
            None => (name_tag, None),
        };

        validate_repository(repository).map_err(|(reason, hint)| err(reason, hint))?;
        if host.len() + 1 + repository.len() > NAME_TOTAL_MAX {
            return Err(err(
                format!("the name is longer than {NAME_TOTAL_MAX} characters"),
                "use a shorter repository path".into(),
            ));
        }
        if let Some(tag) = tag {
            validate_tag(tag).map_err(|reason| {
                err(
                    format!("bad tag {tag:?}: {reason}"),
                    "a tag is 1 to 128 characters: letters, digits, '_', '.' and '-', \
                     not starting with '.' or '-'"
                        .into(),
                )
            })?;
        }
        if let Some(digest) = digest {
            validate_digest(digest).map_err(|reason| {
                err(
                    format!("bad digest {digest:?}: {reason}"),
                    "a digest is sha256: followed by 64 lowercase hex digits".into(),
                )
            })?;
        }
        Ok(Reference {
            registry: host.to_ascii_lowercase(),
            repository: repository.to_string(),
            tag: tag.map(str::to_string),
            digest: digest.map(str::to_string),
        })
    }

    /// `host/repository`, without tag or digest.
    pub fn name(&self) -> String {
        format!("{}/{}", self.registry, self.repository)
    }

    /// `oci://host/repository@digest`.
    pub fn url_with_digest(&self, digest: &str) -> String {
        format!("{SCHEME}{}@{digest}", self.name())
    }

    /// `oci://host/repository:tag@digest` — what `trigger --artifact` and
    /// `wait --artifact` need to select exactly this artifact (the tag for
    /// tag and semver refs, the digest to be exact). Without a tag, the
    /// digest form.
    pub fn url_with_tag_and_digest(&self, tag: Option<&str>, digest: &str) -> String {
        match tag {
            Some(t) => format!("{SCHEME}{}:{t}@{digest}", self.name()),
            None => self.url_with_digest(digest),
        }
    }

    /// `oci://host/repository:tag`.
    pub fn url_with_tag(&self, tag: &str) -> String {
        format!("{SCHEME}{}:{tag}", self.name())
    }

    /// The host without port, brackets removed (for loopback checks).
    pub fn hostname(&self) -> &str {
        host_without_port(&self.registry)
    }

    /// Whether the registry is on loopback (127.0.0.0/8, ::1, localhost).
    pub fn is_loopback(&self) -> bool {
        let host = self.hostname();
        if host == "localhost" || host.ends_with(".localhost") {
            return true;
        }
        host.parse::<std::net::IpAddr>()
            .map(|ip| ip.is_loopback())
            .unwrap_or(false)
    }
}

impl fmt::Display for Reference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{SCHEME}{}", self.name())?;
        if let Some(tag) = &self.tag {
            write!(f, ":{tag}")?;
        }
        if let Some(digest) = &self.digest {
            write!(f, "@{digest}")?;
        }
        Ok(())
    }
}

fn strip_scheme(s: &str) -> Option<&str> {
    if s.len() >= SCHEME.len() && s[..SCHEME.len()].eq_ignore_ascii_case(SCHEME) {
        Some(&s[SCHEME.len()..])
    } else {
        None
    }
}

/// `host[:port]` → host (IPv6 brackets removed).
pub fn host_without_port(registry: &str) -> &str {
    if let Some(rest) = registry.strip_prefix('[') {
        return rest.split(']').next().unwrap_or(rest);
    }
    registry.split(':').next().unwrap_or(registry)
}

fn validate_host(host: &str) -> Result<(), String> {
    if host.is_empty() {
        return Err("the registry host is empty".into());
    }
    let (name, port) = if let Some(rest) = host.strip_prefix('[') {
        let Some((ip, after)) = rest.split_once(']') else {
            return Err(format!("bad IPv6 registry host {host:?}"));
        };
        if ip.parse::<std::net::Ipv6Addr>().is_err() {
            return Err(format!("bad IPv6 address {ip:?}"));
        }
        match after {
            "" => (None, None),
            p => match p.strip_prefix(':') {
                Some(port) => (None, Some(port)),
                None => return Err(format!("bad registry host {host:?}")),
            },
        }
    } else {
        match host.split_once(':') {
            Some((n, p)) => (Some(n), Some(p)),
            None => (Some(host), None),
        }
    };
    if let Some(name) = name {
        let ok = !name.is_empty()
            && name.split('.').all(|label| {
                !label.is_empty()
                    && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
                    && !label.starts_with('-')
                    && !label.ends_with('-')
            });
        if !ok {
            return Err(format!("bad registry host {name:?}"));
        }
    }
    if let Some(port) = port
        && (port.is_empty() || port.parse::<u16>().is_err())
    {
        return Err(format!("bad registry port {port:?}"));
    }
    Ok(())
}

/// A repository: components `[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*` joined by `/`.
fn validate_repository(repo: &str) -> Result<(), (String, String)> {
    let example = "e.g. oci://registry.example.com/group/project/manifests";
    if repo.is_empty() {
        return Err((
            "the repository path is empty".into(),
            format!("add the repository path, {example}"),
        ));
    }
    if repo.chars().any(|c| c.is_ascii_uppercase()) {
        return Err((
            format!("the repository {repo:?} has uppercase letters"),
            format!(
                "repository paths are lowercase: use {:?} (GitLab lowercases project paths in \
                 $CI_REGISTRY_IMAGE)",
                repo.to_ascii_lowercase()
            ),
        ));
    }
    for component in repo.split('/') {
        if !valid_path_component(component) {
            return Err((
                format!("bad repository path component {component:?} in {repo:?}"),
                "each path component is lowercase letters and digits, separated by '.', '_', \
                 '__' or '-'"
                    .into(),
            ));
        }
    }
    Ok(())
}

fn valid_path_component(c: &str) -> bool {
    let bytes = c.as_bytes();
    if bytes.is_empty() {
        return false;
    }
    let alnum = |b: u8| b.is_ascii_lowercase() || b.is_ascii_digit();
    let mut i = 0;
    // [a-z0-9]+
    let run = |i: &mut usize| {
        let start = *i;
        while *i < bytes.len() && alnum(bytes[*i]) {
            *i += 1;
        }
        *i > start
    };
    if !run(&mut i) {
        return false;
    }
    while i < bytes.len() {
        // separator: '.', '_', '__', or '-'+
        match bytes[i] {
            b'.' => i += 1,
            b'_' => {
                i += 1;
                if i < bytes.len() && bytes[i] == b'_' {
                    i += 1;
                }
            }
            b'-' => {
                while i < bytes.len() && bytes[i] == b'-' {
                    i += 1;
                }
            }
            _ => return false,
        }
        if !run(&mut i) {
            return false;
        }
    }
    true
}

/// A tag: `[\w][\w.-]{0,127}`.
pub fn validate_tag(tag: &str) -> Result<(), String> {
    if tag.is_empty() {
        return Err("it is empty".into());
    }
    if tag.len() > 128 {
        return Err(format!("it is {} characters long (at most 128)", tag.len()));
    }
    let word = |c: char| c.is_ascii_alphanumeric() || c == '_';
    let mut chars = tag.chars();
    if let Some(first) = chars.next()
        && !word(first)
    {
        return Err(format!("it starts with {first:?}"));
    }
    if let Some(bad) = tag.chars().find(|&c| !(word(c) || c == '.' || c == '-')) {
        return Err(format!("it contains {bad:?}"));
    }
    Ok(())
}

/// A digest: `sha256:<64 lowercase hex>`.
pub fn validate_digest(digest: &str) -> Result<(), String> {
    let Some(hex) = digest.strip_prefix("sha256:") else {
        return Err("only sha256 digests are supported".into());
    };
    if hex.len() != 64 {
        return Err(format!("it has {} hex digits, not 64", hex.len()));
    }
    if !hex
        .chars()
        .all(|c| c.is_ascii_digit() || ('a'..='f').contains(&c))
    {
        return Err("it is not lowercase hex".into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(s: &str) -> Reference {
        Reference::parse(s).unwrap_or_else(|e| panic!("{s}: {e}"))
    }

    fn bad(s: &str) -> (String, String) {
        match Reference::parse(s) {
            Ok(r) => panic!("{s} parsed as {r:?}"),
            Err(e) => {
                use crate::error::Diagnostic;
                assert_eq!(e.exit_code().code(), 2);
                (e.to_string(), e.hint().unwrap_or_default())
            }
        }
    }

    #[test]
    fn credentials_in_a_reference_are_refused_without_being_shown() {
        for input in [
            "oci://alice:s3cret@registry.example.com/g/app:v1",
            "alice:s3cret@registry.example.com/g/app:v1",
            "https://alice:s3cret@registry.example.com/g/app",
        ] {
            let err = Reference::parse(input).expect_err(input).to_string();
            assert!(!err.contains("s3cret") && !err.contains("alice"), "{err}");
            assert!(err.contains("***@registry.example.com/g/app"), "{err}");
        }
        assert_eq!(redact_userinfo("oci://r.example/g/app@sha256:ab"), None);
        assert_eq!(redact_userinfo("oci://r.example@sha256:ab"), None);
    }

    #[test]
    fn parses_the_usual_forms() {
        let r = ok("oci://registry.gitlab.com/group/sub/project/manifests:v1.2.3");
        assert_eq!(r.registry, "registry.gitlab.com");
        assert_eq!(r.repository, "group/sub/project/manifests");
        assert_eq!(r.tag.as_deref(), Some("v1.2.3"));
        assert_eq!(r.digest, None);

        let r = ok("oci://127.0.0.1:5000/app");
        assert_eq!(r.registry, "127.0.0.1:5000");
        assert_eq!(r.repository, "app");
        assert_eq!(r.tag, None);
        assert!(r.is_loopback());

        let d = format!("sha256:{}", "a".repeat(64));
        let r = ok(&format!("oci://localhost:5000/a/b:t@{d}"));
        assert_eq!(r.tag.as_deref(), Some("t"));
        assert_eq!(r.digest.as_deref(), Some(d.as_str()));
        assert!(r.is_loopback());
        assert_eq!(r.to_string(), format!("oci://localhost:5000/a/b:t@{d}"));

        let r = ok("oci://[::1]:5000/x/y");
        assert!(r.is_loopback());
        assert_eq!(r.hostname(), "::1");

        ok("oci://r.example/a.b/c__d/e-f/g--h/i_j");
        assert!(!ok("oci://registry.example.com/a").is_loopback());
        assert!(!ok("oci://127.example.com/a").is_loopback());
    }

    #[test]
    fn rejects_what_distribution_rejects() {
        let (msg, hint) = bad("registry.example.com/app:v1");
        assert!(msg.contains("does not start with oci://"), "{msg}");
        assert!(hint.contains("oci://registry.example.com/app:v1"), "{hint}");

        let (_, hint) = bad("https://registry.example.com/app");
        assert!(hint.contains("not https://"), "{hint}");

        let (msg, hint) = bad("oci://registry.example.com/Group/App");
        assert!(msg.contains("uppercase"), "{msg}");
        assert!(hint.contains("\"group/app\""), "{hint}");

        let (msg, _) = bad("oci://registry.example.com/app:-bad");
        assert!(msg.contains("bad tag"), "{msg}");
        bad(&format!("oci://r.example/app:{}", "a".repeat(129)));
        bad("oci://r.example/app:a+b");

        let (msg, _) = bad("oci://r.example/app@sha256:abc");
        assert!(msg.contains("bad digest"), "{msg}");
        bad(&format!("oci://r.example/app@sha512:{}", "a".repeat(64)));
        bad(&format!("oci://r.example/app@sha256:{}", "A".repeat(64)));

        bad("oci://registry.example.com");
        bad("oci://registry.example.com/");
        bad("oci://registry.example.com/a//b");
        bad("oci://registry.example.com/a/-b");
        bad("oci://registry.example.com/a_");
        bad("oci://registry.example.com/a___b");
        bad("oci://registry.example.com:port/a");
        bad("oci://bad_host/a");
        bad("oci:///a");
    }

    #[test]
    fn tags() {
        assert!(validate_tag("latest").is_ok());
        assert!(validate_tag("_x").is_ok());
        assert!(validate_tag("1.0.0-rc.1").is_ok());
        assert!(validate_tag(&"a".repeat(128)).is_ok());
        assert!(validate_tag(".x").is_err());
        assert!(validate_tag("").is_err());
        assert!(validate_tag("1.0.0+build").is_err());
    }
}
