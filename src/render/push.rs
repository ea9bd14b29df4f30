//! The `push` report and its renderings: the stderr summary, the
//! `--dry-run` listing, and the dotenv file for GitLab.

use serde::Serialize;

/// What a push did (or, with `--dry-run`, would do).
#[derive(Debug, Clone, Serialize)]
pub struct PushReport {
    /// `oci://<registry>/<repository>@sha256:…`: what Flux should pull.
    pub url: String,
    /// `<registry>/<repository>`.
    pub repository: String,
    /// Every tag pointing at the artifact, the reference's first.
    pub tags: Vec<String>,
    /// The manifest digest.
    pub digest: String,
    /// The content layer digest (the same content always gives the same one).
    pub layer_digest: String,
    /// `flux` or `helm-chart`.
    pub kind: String,
    /// Number of files packed.
    pub files: usize,
    /// Size of the compressed layer, in bytes.
    pub bytes: u64,
    /// Size of the packed files, uncompressed.
    pub content_bytes: u64,
    /// Whether the registry already held this artifact (nothing new pushed).
    pub unchanged: bool,
    /// Blobs actually uploaded (0 when the registry had them).
    pub blobs_uploaded: usize,
    pub source: Option<String>,
    pub revision: Option<String>,
    pub created: String,
    /// Where the registry credentials came from (never the secret).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub credentials: Option<String>,
    pub dry_run: bool,
    /// With `--dry-run`: the files and their sizes.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub contents: Option<Vec<FileReport>>,
    /// With `--dry-run`: the manifest that would be pushed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub manifest: Option<serde_json::Value>,
}

/// One packed file.
#[derive(Debug, Clone, Serialize)]
pub struct FileReport {
    pub path: String,
    pub size: u64,
}

/// Human size: `812 B`, `3.4 KiB`, `1.2 MiB`.
pub fn human_bytes(n: u64) -> String {
    const UNITS: [&str; 4] = ["KiB", "MiB", "GiB", "TiB"];
    if n < 1024 {
        return format!("{n} B");
    }
    let mut v = n as f64 / 1024.0;
    let mut unit = UNITS[0];
    for next in &UNITS[1..] {
        if v < 1024.0 {
            break;
        }
        v /= 1024.0;
        unit = next;
    }
    format!("{v:.1} {unit}")
}

/// The short summary printed on stderr.
pub fn summary(r: &PushReport) -> String {
    let what = if r.kind == "helm-chart" {
        "Helm chart"
    } else {
        "artifact"
    };
    let first = r.tags.first().map(String::as_str).unwrap_or("");
    let mut s = String::new();
    let headline = if r.dry_run {
        format!("dry run: would push {what} oci://{}:{first}", r.repository)
    } else if r.unchanged {
        format!(
            "unchanged: oci://{}:{first} already holds this {what}",
            r.repository
        )
    } else {
        format!("pushed {what} oci://{}:{first}", r.repository)
    };
    s.push_str(&headline);
    if r.tags.len() > 1 {
        s.push_str(&format!(" (also tagged {})", r.tags[1..].join(", ")));
    }
    s.push('\n');
    s.push_str(&format!("  digest:   {}\n", r.digest));
    s.push_str(&format!(
        "  files:    {} ({} packed, layer {})\n",
        r.files,
        human_bytes(r.content_bytes),
        human_bytes(r.bytes)
    ));
    if let Some(rev) = &r.revision {
        s.push_str(&format!("  revision: {rev}\n"));
    }
    if !r.dry_run && !r.unchanged {
        s.push_str(&format!("  uploaded: {} blob(s)\n", r.blobs_uploaded));
    }
    s
}

/// The `--dry-run` listing on stdout: files with sizes, the layer digest
/// and the manifest.
pub fn dry_run(r: &PushReport) -> String {
    let rows = r
        .contents
        .iter()
        .flatten()
        .map(|f| vec![f.path.clone(), f.size.to_string()])
        .collect();
    let mut s = super::table(&["FILE", "SIZE"], rows);
    s.push('\n');
    s.push_str(&format!(
        "layer:    {} ({} bytes)\n",
        r.layer_digest, r.bytes
    ));
    s.push_str(&format!("manifest: {}\n", r.digest));
    if let Some(m) = &r.manifest {
        s.push_str(&serde_json::to_string_pretty(m).unwrap_or_default());
        s.push('\n');
    }
    s
}

/// `KEY=VALUE` lines for GitLab's `artifacts:reports:dotenv`: no blank or
/// comment lines, no quotes; keys with no value are left out. Values never
/// hold newlines (annotations are checked), but are checked again here.
pub fn dotenv(r: &PushReport) -> Result<String, String> {
    artifact_dotenv(&ArtifactVars {
        url: &r.url,
        digest: &r.digest,
        repository: &r.repository,
        tags: &r.tags,
        revision: r.revision.as_deref(),
        source: r.source.as_deref(),
        unchanged: r.unchanged,
    })
}

/// What the `ARTIFACT_*` dotenv keys say; `push` and `tag` write the same.
#[derive(Debug, Clone, Copy)]
pub struct ArtifactVars<'a> {
    /// `oci://<registry>/<repository>:<first tag>@sha256:…`.
    pub url: &'a str,
    pub digest: &'a str,
    /// `<registry>/<repository>`.
    pub repository: &'a str,
    pub tags: &'a [String],
    pub revision: Option<&'a str>,
    pub source: Option<&'a str>,
    pub unchanged: bool,
}

/// The `ARTIFACT_*` lines (see [`dotenv`]).
pub fn artifact_dotenv(a: &ArtifactVars<'_>) -> Result<String, String> {
    let pairs = [
        ("ARTIFACT_URL", a.url.to_string()),
        ("ARTIFACT_DIGEST", a.digest.to_string()),
        ("ARTIFACT_REPOSITORY", format!("oci://{}", a.repository)),
        ("ARTIFACT_TAG", a.tags.first().cloned().unwrap_or_default()),
        ("ARTIFACT_TAGS", a.tags.join(",")),
        (
            "ARTIFACT_REVISION",
            a.revision.unwrap_or_default().to_string(),
        ),
        ("ARTIFACT_SOURCE", a.source.unwrap_or_default().to_string()),
        ("ARTIFACT_UNCHANGED", a.unchanged.to_string()),
    ];
    let mut s = String::new();
    for (key, value) in pairs {
        if value.is_empty() {
            continue;
        }
        if value.chars().any(char::is_control) {
            return Err(format!("{key} would contain a control character"));
        }
        s.push_str(&format!("{key}={value}\n"));
    }
    Ok(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report() -> PushReport {
        PushReport {
            url: format!("oci://r.example/g/app@sha256:{}", "a".repeat(64)),
            repository: "r.example/g/app".into(),
            tags: vec!["abc1234".into(), "latest".into()],
            digest: format!("sha256:{}", "a".repeat(64)),
            layer_digest: format!("sha256:{}", "b".repeat(64)),
            kind: "flux".into(),
            files: 2,
            bytes: 300,
            content_bytes: 2048,
            unchanged: false,
            blobs_uploaded: 2,
            source: Some("https://gitlab.example.com/g/app".into()),
            revision: Some("main@sha1:abc".into()),
            created: "2024-01-01T00:00:00Z".into(),
            credentials: None,
            dry_run: false,
            contents: None,
            manifest: None,
        }
    }

    #[test]
    fn dotenv_lines() {
        let text = dotenv(&report()).expect("dotenv");
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(
            lines[0],
            format!(
                "ARTIFACT_URL=oci://r.example/g/app@sha256:{}",
                "a".repeat(64)
            )
        );
        assert!(lines.contains(&"ARTIFACT_TAG=abc1234"));
        assert!(lines.contains(&"ARTIFACT_TAGS=abc1234,latest"));
        assert!(lines.contains(&"ARTIFACT_REVISION=main@sha1:abc"));
        assert!(lines.contains(&"ARTIFACT_UNCHANGED=false"));
        assert!(lines.iter().all(|l| l.contains('=') && !l.starts_with('#')));
        let mut r = report();
        r.revision = None;
        assert!(!dotenv(&r).expect("dotenv").contains("ARTIFACT_REVISION"));
        r.source = Some("a\nb".into());
        assert!(dotenv(&r).is_err());
    }

    #[test]
    fn sizes() {
        assert_eq!(human_bytes(10), "10 B");
        assert_eq!(human_bytes(2048), "2.0 KiB");
        assert_eq!(human_bytes(3 * 1024 * 1024), "3.0 MiB");
    }

    #[test]
    fn summary_says_what_happened() {
        let s = summary(&report());
        assert!(
            s.starts_with("pushed artifact oci://r.example/g/app:abc1234 (also tagged latest)")
        );
        let mut r = report();
        r.unchanged = true;
        assert!(summary(&r).starts_with("unchanged:"));
    }
}
