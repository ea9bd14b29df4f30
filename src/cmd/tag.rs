//! `tag`: promote an artifact already in the registry by pointing more
//! tags at its manifest — the exact bytes, so the digest does not change.
//!
//! Steps: validate the command line into [`Settings`]; resolve credentials
//! and connect as `push` does; read the manifest (by digest when the
//! reference has one, else by tag); with `:TAG@DIGEST`, check that TAG
//! still points at DIGEST (a moved tag is refused: what was tested is no
//! longer what the tag names); check it is a Flux artifact or a Helm chart;
//! then PUT the same bytes under each new tag that does not already point at
//! it. Every check runs before the first write, so a refusal writes nothing.
//! The dotenv file is written only on success; `--trigger`/`--wait` then run
//! push's deploy code on `oci://…:<first new tag>@<digest>`.

use std::path::PathBuf;

use super::Session;
use super::push::{Deploy, RegistrySettings, eprint, write_atomically};
use crate::cli::tag::TagArgs;
use crate::error::{Diagnostic, Error, ExitCode, Result};
use crate::oci::OciError;
use crate::oci::annotations;
use crate::oci::auth::Credentials;
use crate::oci::inspect::{self, Kind};
use crate::oci::reference::{Reference, validate_tag};
use crate::oci::registry::Registry;
use crate::render;
use crate::render::tag::{TagReport, TagResult};

/// Validated `tag` settings.
#[derive(Debug, Clone)]
pub struct Settings {
    /// The artifact: a tag, a digest, or both.
    pub reference: Reference,
    /// The new tags, validated, without repeats, in the order given.
    pub tags: Vec<String>,
    pub any_media_type: bool,
    pub registry: RegistrySettings,
    pub dotenv: Option<PathBuf>,
}

impl Settings {
    /// Check every flag; reads the password from `stdin` with `--password-stdin`.
    pub fn from_args(args: TagArgs, stdin: impl std::io::Read) -> Result<Settings> {
        let reference = Reference::parse(&args.reference)?;
        if reference.tag.is_none() && reference.digest.is_none() {
            return Err(Error::usage(
                format!(
                    "{} names no artifact: it has neither a tag nor a digest",
                    args.reference
                ),
                format!(
                    "give the artifact to promote, e.g. \"$ARTIFACT_URL\" from push's dotenv \
                     (oci://{}:TAG@sha256:…), or oci://{}:TAG",
                    reference.name(),
                    reference.name()
                ),
            ));
        }
        let mut tags: Vec<String> = Vec::new();
        for tag in &args.tags {
            if tag
                .get(..6)
                .is_some_and(|s| s.eq_ignore_ascii_case("oci://"))
            {
                return Err(reference_as_tag(&reference, tag));
            }
            validate_tag(tag).map_err(|reason| OciError::Tag {
                tag: tag.clone(),
                reason,
            })?;
            if !tags.contains(tag) {
                tags.push(tag.clone());
            }
        }
        let registry = RegistrySettings::from_args(&args.registry, stdin)?;
        if let Some(dotenv) = &args.dotenv {
            crate::render::check_output_path("--dotenv", dotenv)?;
        }
        Ok(Settings {
            reference,
            tags,
            any_media_type: args.any_media_type,
            registry,
            dotenv: args.dotenv,
        })
    }
}

/// A NEW_TAG written as an `oci://` reference: the same repository is a
/// slip (say so), another one is not supported.
fn reference_as_tag(source: &Reference, given: &str) -> Error {
    let message = format!("NEW_TAG {given:?} is a reference, not a tag");
    match Reference::parse(given) {
        Ok(r) if r.name() == source.name() && r.digest.is_none() && r.tag.is_some() => {
            Error::usage(
                message,
                format!(
                    "tag writes tags in the artifact's own repository: give just the tag, e.g. \
                     `tag {source} {}`",
                    r.tag.unwrap_or_default()
                ),
            )
        }
        _ => Error::usage(
            message,
            format!(
                "tag writes tags only in the artifact's own repository ({}); to copy an \
                 artifact to another repository, push the manifests there, or use a registry \
                 tool (oras cp, crane copy)",
                source.name()
            ),
        ),
    }
}

/// Why `tag` refused.
#[derive(Debug, thiserror::Error)]
pub enum TagError {
    /// The reference names nothing in the registry.
    #[error("{reference}: no such artifact: {name} has no {what}")]
    Missing {
        reference: String,
        name: String,
        what: String,
    },

    /// `:TAG@DIGEST`, but TAG points elsewhere now (or was deleted).
    #[error("{tag} no longer points at {expected} in {name}: {}", match now {
        Some(d) => format!("it points at {d}"),
        None => "the tag is gone".to_string(),
    })]
    Moved {
        name: String,
        tag: String,
        expected: String,
        now: Option<String>,
    },

    /// Not a Flux artifact or a Helm chart (and no `--any-media-type`).
    #[error("{reference} is not a Flux artifact or a Helm chart: {what}")]
    NotFluxArtifact { reference: String, what: String },
}

impl Diagnostic for TagError {
    fn exit_code(&self) -> ExitCode {
        match self {
            TagError::Missing { .. } | TagError::NotFluxArtifact { .. } => ExitCode::Usage,
            TagError::Moved { .. } => ExitCode::Failure,
        }
    }

    fn hint(&self) -> Option<String> {
        Some(match self {
            TagError::Missing { .. } => "check the reference (in CI: the ARTIFACT_URL of the \
                 push job); a registry cleanup policy may have removed it: push it again"
                .into(),
            TagError::Moved {
                name,
                tag,
                expected,
                ..
            } => format!(
                "nothing was tagged: {tag} was moved since (a newer push?), so it no longer \
                 names what was tested. To promote {expected} anyway, give \
                 oci://{name}@{expected}; to promote what {tag} holds now, give oci://{name}:{tag}"
            ),
            TagError::NotFluxArtifact { .. } => "tag promotes what push pushes (config \
                 application/vnd.cncf.flux.config.v1+json, or a Helm chart); check the \
                 reference, or add --any-media-type to tag any image or index"
                .into(),
        })
    }
}

/// Read, check, and write the tags; the report of what was done.
async fn promote(s: &Settings, creds: Credentials) -> Result<TagReport> {
    let r = &s.reference;
    let name = r.name();
    let mut reg = Registry::connect(r, creds, s.registry.client_options()).await?;
    let given = r.to_string();
    let missing = |what: String| TagError::Missing {
        reference: given.clone(),
        name: name.clone(),
        what,
    };
    let manifest = match (&r.tag, &r.digest) {
        (_, Some(digest)) => reg
            .fetch_manifest(digest)
            .await?
            .ok_or_else(|| missing(format!("manifest {digest}")))?,
        (Some(tag), None) => reg
            .fetch_manifest(tag)
            .await?
            .ok_or_else(|| missing(format!("tag {tag}")))?,
        (None, None) => return Err(missing("tag or digest in the reference".into()).into()),
    };
    let digest = manifest.digest.clone();
    if let (Some(tag), Some(expected)) = (&r.tag, &r.digest) {
        let now = reg.any_manifest_digest(tag).await?;
        if now.as_deref() != Some(expected.as_str()) {
            return Err(TagError::Moved {
                name,
                tag: tag.clone(),
                expected: expected.clone(),
                now,
            }
            .into());
        }
    }

    let seen = inspect::inspect(&manifest.bytes, &manifest.media_type);
    if seen.kind == Kind::Other && !s.any_media_type {
        let what = match &seen.config_media_type {
            Some(c) => format!("its config is {c}"),
            None => format!("it is a {}", manifest.media_type),
        };
        return Err(TagError::NotFluxArtifact {
            reference: given,
            what,
        }
        .into());
    }

    let mut results = Vec::new();
    for tag in &s.tags {
        let before = reg.any_manifest_digest(tag).await?;
        if before.as_deref() == Some(digest.as_str()) {
            tracing::debug!("{tag} already points at {digest}");
            results.push(TagResult {
                tag: tag.clone(),
                result: "unchanged",
                previous: None,
            });
            continue;
        }
        reg.put_manifest_as(tag, &manifest.bytes, &manifest.media_type)
            .await?;
        results.push(TagResult {
            tag: tag.clone(),
            result: "tagged",
            previous: before,
        });
    }

    let ann = |k: &str| seen.annotations.get(k).cloned();
    Ok(TagReport {
        url: r.url_with_tag_and_digest(s.tags.first().map(String::as_str), &digest),
        from: r.url_with_tag_and_digest(r.tag.as_deref(), &digest),
        repository: name,
        tags: s.tags.clone(),
        unchanged: results.iter().all(|t| t.result == "unchanged"),
        results,
        digest,
        kind: seen.kind.as_str().to_string(),
        media_type: manifest.media_type,
        config_media_type: seen.config_media_type.clone(),
        source: ann(annotations::SOURCE),
        revision: ann(annotations::REVISION),
        created: ann(annotations::CREATED),
        credentials: Some(reg.credential_source().to_string()),
    })
}

/// Run `tag`.
pub async fn run(session: &Session, args: TagArgs) -> Result<ExitCode> {
    let deploy = Deploy::from_args(&args.deploy)?;
    let settings = Settings::from_args(args, std::io::stdin())?;
    let creds = settings
        .registry
        .credentials(&settings.reference.registry)
        .await?;

    let report = settings
        .registry
        .within("tagging", promote(&settings, creds))
        .await?;

    if let Some(path) = &settings.dotenv {
        let text = report.dotenv().map_err(|reason| {
            Error::usage(
                format!("cannot write --dotenv: {reason}"),
                "the artifact's annotations hold control characters; tag it without --dotenv",
            )
        })?;
        write_atomically(path, &text)?;
    }
    let head = deploy.document_head(session, "tag", &report)?;
    eprint(&render::tag::summary(&report));
    deploy.run(session, &report.url, head).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    fn settings(args: &[&str]) -> Result<Settings> {
        let cli = crate::cli::Cli::try_parse_from(
            ["kubectl-gitlab_flux", "tag"].iter().chain(args.iter()),
        )
        .map_err(|e| Error::usage(e.to_string(), "clap"))?;
        match cli.command {
            crate::cli::Command::Tag(a) => Settings::from_args(a, std::io::empty()),
            _ => unreachable!(),
        }
    }

    const D: &str = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

    #[test]
    fn references_and_tags_are_checked() {
        let s = settings(&[
            &format!("oci://r.example/g/app:staging@{D}"),
            "production",
            "qa",
            "production",
        ])
        .expect("valid");
        assert_eq!(s.tags, ["production", "qa"]);
        assert_eq!(s.reference.tag.as_deref(), Some("staging"));
        assert_eq!(s.reference.digest.as_deref(), Some(D));

        let err = settings(&["oci://r.example/g/app", "production"]).expect_err("no tag");
        assert_eq!(err.exit_code(), ExitCode::Usage);
        assert!(err.message().contains("neither a tag nor a digest"));

        let err = settings(&["oci://r.example/g/app:v1", "-bad"]).expect_err("bad tag");
        assert_eq!(err.exit_code(), ExitCode::Usage);

        let err = settings(&["oci://r.example/g/app:v1", "oci://r.example/g/app:prod"])
            .expect_err("reference as tag");
        assert_eq!(err.exit_code(), ExitCode::Usage);
        assert!(err.hint().unwrap_or_default().contains("give just the tag"));

        let err = settings(&["oci://r.example/g/app:v1", "oci://r.example/other:prod"])
            .expect_err("other repository");
        assert_eq!(err.exit_code(), ExitCode::Usage);
        assert!(
            err.hint()
                .unwrap_or_default()
                .contains("only in the artifact's own repository")
        );
    }

    #[test]
    fn a_moved_tag_is_a_failure_with_both_ways_out() {
        let e = TagError::Moved {
            name: "r.example/g/app".into(),
            tag: "staging".into(),
            expected: D.into(),
            now: Some("sha256:ffff".into()),
        };
        assert_eq!(e.exit_code(), ExitCode::Failure);
        assert!(e.to_string().contains("it points at sha256:ffff"));
        let hint = e.hint().unwrap_or_default();
        assert!(
            hint.contains(&format!("oci://r.example/g/app@{D}")),
            "{hint}"
        );
        assert!(hint.contains("oci://r.example/g/app:staging"), "{hint}");
    }
}
