//! The `tag` report and its renderings: the stderr summary and the dotenv
//! file (the same `ARTIFACT_*` keys as `push`).

use serde::Serialize;

use super::push::{ArtifactVars, artifact_dotenv};

/// What a `tag` did.
#[derive(Debug, Clone, Serialize)]
pub struct TagReport {
    /// `oci://<registry>/<repository>:<first new tag>@sha256:…`: what
    /// `trigger`/`wait --artifact` select.
    pub url: String,
    /// The artifact that was tagged, as given (`oci://…:TAG@sha256:…`).
    pub from: String,
    /// `<registry>/<repository>`.
    pub repository: String,
    /// The new tags, in the order given.
    pub tags: Vec<String>,
    /// The manifest digest: the same before and after.
    pub digest: String,
    /// `flux`, `helm-chart`, or `other` (with `--any-media-type`).
    pub kind: String,
    /// The manifest's media type.
    pub media_type: String,
    /// The config's media type (none for an index).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub config_media_type: Option<String>,
    /// One entry per new tag.
    pub results: Vec<TagResult>,
    /// Whether every new tag already pointed at the artifact (nothing written).
    pub unchanged: bool,
    /// The manifest's source annotation.
    pub source: Option<String>,
    /// The manifest's revision annotation.
    pub revision: Option<String>,
    /// The manifest's creation time annotation.
    pub created: Option<String>,
    /// Where the registry credentials came from (never the secret).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub credentials: Option<String>,
}

/// What happened to one new tag.
#[derive(Debug, Clone, Serialize)]
pub struct TagResult {
    pub tag: String,
    /// `tagged` (written) or `unchanged` (it already pointed at the digest).
    pub result: &'static str,
    /// The digest the tag pointed at before, when it existed and differed.
    pub previous: Option<String>,
}

impl TagReport {
    /// The `ARTIFACT_*` keys push writes, for the first new tag.
    pub fn dotenv(&self) -> Result<String, String> {
        artifact_dotenv(&ArtifactVars {
            url: &self.url,
            digest: &self.digest,
            repository: &self.repository,
            tags: &self.tags,
            revision: self.revision.as_deref(),
            source: self.source.as_deref(),
            unchanged: self.unchanged,
        })
    }
}

fn short(digest: &str) -> &str {
    // `sha256:` and 12 hex digits, as Flux abbreviates revisions.
    &digest[..digest.len().min(19)]
}

/// The short summary printed on stderr, in the style of push's.
pub fn summary(r: &TagReport) -> String {
    let what = match r.kind.as_str() {
        "helm-chart" => "Helm chart",
        _ => "artifact",
    };
    let first = r.tags.first().map(String::as_str).unwrap_or("");
    let mut s = if r.unchanged {
        format!(
            "unchanged: oci://{}:{first} already points at this {what}",
            r.repository
        )
    } else {
        format!("tagged {what} oci://{}:{first}", r.repository)
    };
    if r.tags.len() > 1 {
        s.push_str(&format!(" (also tagged {})", r.tags[1..].join(", ")));
    }
    s.push('\n');
    s.push_str(&format!("  digest:   {}\n", r.digest));
    s.push_str(&format!("  from:     {}\n", r.from));
    if let Some(rev) = &r.revision {
        s.push_str(&format!("  revision: {rev}\n"));
    }
    let tags: Vec<String> = r
        .results
        .iter()
        .map(|t| match (t.result, &t.previous) {
            ("unchanged", _) => format!("{} (unchanged)", t.tag),
            (_, Some(prev)) => format!("{} (was {})", t.tag, short(prev)),
            _ => format!("{} (new)", t.tag),
        })
        .collect();
    s.push_str(&format!("  tags:     {}\n", tags.join(", ")));
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report() -> TagReport {
        let digest = format!("sha256:{}", "a".repeat(64));
        TagReport {
            url: format!("oci://r.example/g/app:production@{digest}"),
            from: format!("oci://r.example/g/app:staging@{digest}"),
            repository: "r.example/g/app".into(),
            tags: vec!["production".into(), "qa".into()],
            digest,
            kind: "flux".into(),
            media_type: "application/vnd.oci.image.manifest.v1+json".into(),
            config_media_type: Some("application/vnd.cncf.flux.config.v1+json".into()),
            results: vec![
                TagResult {
                    tag: "production".into(),
                    result: "tagged",
                    previous: Some(format!("sha256:{}", "b".repeat(64))),
                },
                TagResult {
                    tag: "qa".into(),
                    result: "unchanged",
                    previous: None,
                },
            ],
            unchanged: false,
            source: Some("https://gitlab.example.com/g/app".into()),
            revision: Some("main@sha1:abc".into()),
            created: None,
            credentials: None,
        }
    }

    #[test]
    fn summary_names_each_tag() {
        let s = summary(&report());
        assert!(
            s.starts_with("tagged artifact oci://r.example/g/app:production (also tagged qa)\n"),
            "{s}"
        );
        assert!(
            s.contains(&format!(
                "  tags:     production (was sha256:{}), qa (unchanged)\n",
                "b".repeat(12)
            )),
            "{s}"
        );
        let mut r = report();
        r.unchanged = true;
        r.kind = "helm-chart".into();
        assert!(
            summary(&r).starts_with(
                "unchanged: oci://r.example/g/app:production already points at this Helm chart"
            ),
            "{}",
            summary(&r)
        );
    }

    #[test]
    fn dotenv_has_the_keys_push_writes() {
        let text = report().dotenv().expect("dotenv");
        let keys: Vec<&str> = text
            .lines()
            .map(|l| l.split_once('=').expect("KEY=VALUE").0)
            .collect();
        assert_eq!(
            keys,
            [
                "ARTIFACT_URL",
                "ARTIFACT_DIGEST",
                "ARTIFACT_REPOSITORY",
                "ARTIFACT_TAG",
                "ARTIFACT_TAGS",
                "ARTIFACT_REVISION",
                "ARTIFACT_SOURCE",
                "ARTIFACT_UNCHANGED"
            ]
        );
        assert!(text.contains(&format!(
            "ARTIFACT_URL=oci://r.example/g/app:production@sha256:{}\n",
            "a".repeat(64)
        )));
        assert!(text.contains("ARTIFACT_TAGS=production,qa\n"));
        assert!(text.contains("ARTIFACT_UNCHANGED=false\n"));
    }
}
