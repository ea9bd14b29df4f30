//! `push`: package PATH as a Flux artifact (or a Helm chart) and push it.
//!
//! Steps: validate the command line into [`Settings`]; build the artifact
//! (walk, ignore, check YAML, pack, annotate) off the async threads; with
//! `--dry-run` stop there. Otherwise resolve credentials, connect, upload
//! the blobs the registry lacks, confirm them, then write the manifest under
//! every tag (manifest last, so a failed push never leaves a tag pointing at
//! missing blobs), and report. The dotenv file is written only on success.

use std::collections::BTreeMap;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::{Session, write_stdout};
use crate::cli::OutputFormat;
use crate::cli::push::{DeployArgs, PushArgs, RegistryArgs};
use crate::config;
use crate::error::{Error, ExitCode, Result};
use crate::oci::annotations::{self, Overrides, Provenance};
use crate::oci::artifact::{self, Blob, CollectOptions, FLUX_LAYER_MEDIA_TYPE};
use crate::oci::auth::{self, Credentials};
use crate::oci::reference::{Reference, validate_tag};
use crate::oci::registry::{ClientOptions, Registry};
use crate::oci::{OciError, helm};
use crate::render;
use crate::render::push::{FileReport, PushReport};

/// The environment of the process, as the lower layers take it.
fn process_env(key: &str) -> Option<String> {
    std::env::var(key).ok()
}

/// Validated `push` settings.
#[derive(Debug, Clone)]
pub struct Settings {
    pub path: PathBuf,
    pub reference: Reference,
    /// `--tag` values, validated.
    pub extra_tags: Vec<String>,
    pub ignore: Vec<String>,
    pub overrides: Overrides,
    pub helm_chart: bool,
    pub validate: bool,
    pub dry_run: bool,
    pub skip_unchanged: bool,
    pub registry: RegistrySettings,
    pub dotenv: Option<PathBuf>,
}

/// Validated registry flags, shared by `push` and `tag`.
#[derive(Debug, Clone)]
pub struct RegistrySettings {
    pub explicit_creds: Option<Credentials>,
    pub insecure: bool,
    pub ca_file: Option<PathBuf>,
    pub timeout: Duration,
}

impl RegistrySettings {
    /// Run the registry work of a command within `--timeout` (the requests
    /// time out themselves; this bounds retries and back-off too).
    pub async fn within<T, E: Into<Error>>(
        &self,
        during: &str,
        work: impl std::future::Future<Output = std::result::Result<T, E>>,
    ) -> Result<T> {
        match tokio::time::timeout(self.timeout + Duration::from_secs(1), work).await {
            Ok(r) => r.map_err(Into::into),
            Err(_) => Err(OciError::Timeout {
                after: self.timeout,
                during: during.into(),
            }
            .into()),
        }
    }

    /// Check the registry flags; reads the password from `stdin` with `--password-stdin`.
    pub fn from_args(args: &RegistryArgs, stdin: impl std::io::Read) -> Result<RegistrySettings> {
        let timeout = config::parse_timeout("--timeout", &args.timeout)?;
        let explicit_creds = if let Some(c) = &args.creds {
            Some(Credentials::from_flag(c)?)
        } else if let (Some(user), true) = (&args.username, args.password_stdin) {
            Some(Credentials::from_stdin(user, stdin)?)
        } else {
            None
        };
        if let Some(ca) = &args.ca_file
            && !ca.is_file()
        {
            return Err(OciError::CaFile {
                path: ca.clone(),
                reason: "no such file".into(),
            }
            .into());
        }
        Ok(RegistrySettings {
            explicit_creds,
            insecure: args.insecure_registry,
            ca_file: args.ca_file.clone(),
            timeout,
        })
    }

    /// How the registry client connects.
    pub fn client_options(&self) -> ClientOptions {
        ClientOptions {
            insecure: self.insecure,
            ca_file: self.ca_file.clone(),
            timeout: self.timeout,
            ..ClientOptions::default()
        }
    }

    /// Resolve the credentials for `registry` (flags, GitLab CI, docker
    /// config, anonymous), off the async threads: helpers may run.
    pub async fn credentials(&self, registry: &str) -> Result<Credentials> {
        let registry = registry.to_string();
        let explicit = self.explicit_creds.clone();
        let creds = tokio::task::spawn_blocking(move || {
            auth::resolve(&registry, explicit, &process_env, &auth::run_helper)
        })
        .await
        .map_err(|e| {
            Error::other(
                ExitCode::Failure,
                format!("credential lookup failed: {e}"),
                None,
            )
        })??;
        tracing::debug!("registry credentials: {}", creds.source);
        Ok(creds)
    }
}

impl Settings {
    /// Check every flag; reads the password from `stdin` with `--password-stdin`.
    pub fn from_args(args: PushArgs, stdin: impl std::io::Read) -> Result<Settings> {
        if (args.deploy.trigger || args.deploy.wait) && args.dry_run {
            return Err(Error::usage(
                "--trigger/--wait cannot be combined with --dry-run",
                "drop --dry-run to push, trigger and wait",
            ));
        }
        let reference = Reference::parse(&args.reference)?;
        if reference.digest.is_some() {
            return Err(Error::usage(
                format!(
                    "cannot push to {}: the reference has a digest",
                    args.reference
                ),
                "push computes the digest; give a tag instead, e.g. oci://REGISTRY/REPOSITORY:v1",
            ));
        }
        let mut extra_tags = Vec::new();
        for tag in &args.tags {
            validate_tag(tag).map_err(|reason| OciError::Tag {
                tag: tag.clone(),
                reason,
            })?;
            extra_tags.push(tag.clone());
        }
        let registry = RegistrySettings::from_args(&args.registry, stdin)?;
        if let Some(dotenv) = &args.dotenv {
            render::check_output_path("--dotenv", dotenv)?;
        }
        Ok(Settings {
            path: args.path,
            reference,
            extra_tags,
            ignore: args.ignore,
            overrides: Overrides {
                source: args.source,
                revision: args.revision,
                created: args.created,
                annotations: args.annotations,
            },
            helm_chart: args.helm_chart,
            validate: !args.no_validate,
            dry_run: args.dry_run,
            skip_unchanged: args.skip_unchanged,
            registry,
            dotenv: args.dotenv,
        })
    }
}

/// An artifact ready to push.
#[derive(Debug, Clone)]
pub struct Built {
    /// `flux` or `helm-chart`.
    pub kind: &'static str,
    pub files: Vec<FileReport>,
    pub content_bytes: u64,
    pub config: Blob,
    pub layer: Blob,
    pub manifest: Vec<u8>,
    pub digest: String,
    pub provenance: Provenance,
    /// Every tag to write, first the reference's (or the default).
    pub tags: Vec<String>,
    /// Symlinks left out because they point at ignored files (`link → target`).
    pub left_out: Vec<String>,
}

/// Build the artifact: walk, ignore, validate, pack, annotate, pick tags.
/// Blocking (file system, git); pure apart from that.
pub fn build(
    s: &Settings,
    env: &dyn Fn(&str) -> Option<String>,
    now: jiff::Timestamp,
) -> Result<Built, OciError> {
    let chart = if s.helm_chart || helm::is_chart(&s.path) {
        if !s.path.exists() {
            return Err(OciError::PathMissing {
                path: s.path.clone(),
            });
        }
        Some(helm::load(&s.path)?)
    } else {
        None
    };
    let opts = match &chart {
        Some(_) => CollectOptions {
            default_ignores: helm::HELM_DEFAULT_IGNORES
                .iter()
                .map(|p| p.to_string())
                .collect(),
            extra_ignore_files: vec![helm::HELMIGNORE.to_string()],
            ignore: s.ignore.clone(),
        },
        None => CollectOptions {
            default_ignores: artifact::FLUX_DEFAULT_IGNORES
                .iter()
                .map(|p| p.to_string())
                .collect(),
            extra_ignore_files: vec![],
            ignore: s.ignore.clone(),
        },
    };
    let collected = artifact::collect(&s.path, &opts)?;
    // Checking the YAML and packing the layer read the same files and are
    // independent: side by side they take as long as the slower of the two
    // (on a 20 MB tree each takes about a second).
    let helm_mode = chart.is_some();
    let prefix = chart.as_ref().map_or("", |c| c.name.as_str());
    let (checked, packed) = std::thread::scope(|scope| {
        let check = s.validate.then(|| {
            scope.spawn(|| {
                artifact::validate_yaml(&collected.files, |p| helm_mode && helm::is_template(p))
            })
        });
        let packed = artifact::build_layer(&collected.files, prefix);
        let checked = match check.map(|h| h.join()) {
            None => Ok(()),
            Some(Ok(r)) => r,
            Some(Err(panic)) => std::panic::resume_unwind(panic),
        };
        (checked, packed)
    });
    checked?;
    let packed = packed?;

    let (derived, provenance) =
        annotations::derive(&s.overrides, env, || annotations::git_info(&s.path), now)?;
    let (config, layer, annotations, kind) = match &chart {
        Some(c) => {
            let layer = Blob::new(helm::HELM_LAYER_MEDIA_TYPE, packed);
            let config = Blob::new(helm::HELM_CONFIG_MEDIA_TYPE, c.config_json.clone());
            let mut map: BTreeMap<String, String> = c.annotations();
            map.extend(derived);
            (config, layer, map, "helm-chart")
        }
        None => {
            let layer = Blob::new(FLUX_LAYER_MEDIA_TYPE, packed);
            (artifact::flux_config(), layer, derived, "flux")
        }
    };
    let manifest = artifact::manifest_bytes(&config, &layer, &annotations);
    let digest = artifact::sha256_digest(&manifest);

    // Tags: the reference's; else (Helm) the chart version; else, with no
    // --tag either, the short commit SHA in GitLab CI or `latest`.
    let mut tags: Vec<String> = Vec::new();
    if let Some(t) = &s.reference.tag {
        tags.push(t.clone());
    } else if let Some(c) = &chart {
        let t = c.default_tag();
        validate_tag(&t).map_err(|reason| OciError::Tag {
            tag: t.clone(),
            reason,
        })?;
        tags.push(t);
    } else if s.extra_tags.is_empty() {
        tags.push(default_tag(env));
    }
    for t in &s.extra_tags {
        if !tags.contains(t) {
            tags.push(t.clone());
        }
    }

    Ok(Built {
        kind,
        content_bytes: collected.content_bytes(),
        files: collected
            .files
            .iter()
            .map(|f| FileReport {
                path: f.path.clone(),
                size: f.data.len() as u64,
            })
            .collect(),
        config,
        layer,
        manifest,
        digest,
        provenance,
        tags,
        left_out: collected.left_out.clone(),
    })
}

/// The tag used when none is given: `$CI_COMMIT_SHORT_SHA` in GitLab CI
/// (or the first 8 characters of `$CI_COMMIT_SHA`), else `latest`.
pub fn default_tag(env: &dyn Fn(&str) -> Option<String>) -> String {
    let var = |k: &str| env(k).filter(|v| !v.is_empty());
    var("CI_COMMIT_SHORT_SHA")
        .or_else(|| var("CI_COMMIT_SHA").map(|s| s.chars().take(8).collect()))
        .filter(|t| validate_tag(t).is_ok())
        .unwrap_or_else(|| "latest".to_string())
}

/// What happened at the registry.
#[derive(Debug, Clone)]
struct Outcome {
    digest: String,
    unchanged: bool,
    blobs_uploaded: usize,
    /// Source/revision of what the registry holds when it was left as is.
    existing: Option<(Option<String>, Option<String>, Option<String>)>,
}

async fn push_to_registry(
    s: &Settings,
    built: &Built,
    creds: Credentials,
) -> Result<Outcome, OciError> {
    let mut reg = Registry::connect(&s.reference, creds, s.registry.client_options()).await?;
    let first = &built.tags[0];

    if s.skip_unchanged
        && let Some((digest, bytes)) = reg.get_manifest(first).await?
    {
        let existing: serde_json::Value = serde_json::from_slice(&bytes).unwrap_or_default();
        let layer = existing["layers"][0]["digest"].as_str().unwrap_or_default();
        if layer == built.layer.digest {
            let ann = |k: &str| existing["annotations"][k].as_str().map(str::to_string);
            tracing::debug!("{first} already holds layer {layer}: nothing to push");
            return Ok(Outcome {
                digest,
                unchanged: true,
                blobs_uploaded: 0,
                existing: Some((
                    ann(annotations::SOURCE),
                    ann(annotations::REVISION),
                    ann(annotations::CREATED),
                )),
            });
        }
    }

    // Where the tags point now. A tag that already points at this manifest
    // proves its blobs are there (the registry accepts a manifest only with
    // its blobs): when every tag does, an unchanged re-push ends here, after
    // one HEAD per tag.
    let mut current = Vec::with_capacity(built.tags.len());
    for tag in &built.tags {
        current.push(reg.manifest_digest(tag).await?);
    }
    let todo: Vec<&String> = built
        .tags
        .iter()
        .zip(&current)
        .filter(|(tag, digest)| {
            let same = digest.as_deref() == Some(built.digest.as_str());
            if same {
                tracing::debug!("{tag} already points at {}", built.digest);
            }
            !same
        })
        .map(|(tag, _)| tag)
        .collect();

    // Blobs first, each confirmed present; the manifest only after.
    if !todo.is_empty() {
        reg.ensure_blob(&built.layer).await?;
        reg.ensure_blob(&built.config).await?;
    }
    let mut written = 0;
    for tag in todo {
        reg.put_manifest(tag, &built.manifest).await?;
        written += 1;
    }
    Ok(Outcome {
        digest: built.digest.clone(),
        unchanged: written == 0 && reg.stats.blobs_uploaded == 0,
        blobs_uploaded: reg.stats.blobs_uploaded,
        existing: None,
    })
}

/// Run `push`.
pub async fn run(session: &Session, args: PushArgs) -> Result<ExitCode> {
    let deploy = Deploy::from_args(&args.deploy)?;
    let settings = Settings::from_args(args, std::io::stdin())?;

    let s = settings.clone();
    let built =
        tokio::task::spawn_blocking(move || build(&s, &process_env, jiff::Timestamp::now()))
            .await
            .map_err(|e| Error::other(ExitCode::Failure, format!("packing failed: {e}"), None))??;

    for note in &built.left_out {
        let (link, target) = note.split_once(" → ").unwrap_or((note, ""));
        eprint(&format!(
            "note: left out {link}: it is a symlink to {target}, which the ignore rules leave out\n"
        ));
    }

    let mut report = PushReport {
        url: settings
            .reference
            .url_with_tag_and_digest(built.tags.first().map(String::as_str), &built.digest),
        repository: settings.reference.name(),
        tags: built.tags.clone(),
        digest: built.digest.clone(),
        layer_digest: built.layer.digest.clone(),
        kind: built.kind.to_string(),
        files: built.files.len(),
        bytes: built.layer.size(),
        content_bytes: built.content_bytes,
        unchanged: false,
        blobs_uploaded: 0,
        source: built.provenance.source.clone(),
        revision: built.provenance.revision.clone(),
        created: built.provenance.created.clone(),
        credentials: None,
        dry_run: settings.dry_run,
        contents: None,
        manifest: None,
    };

    if settings.dry_run {
        report.contents = Some(built.files.clone());
        report.manifest = serde_json::from_slice(&built.manifest).ok();
        let text = match session.output {
            OutputFormat::Table => render::push::dry_run(&report),
            format => render::document(&report, format)?,
        };
        write_stdout(&text)?;
        eprint(&render::push::summary(&report));
        return Ok(ExitCode::Success);
    }

    let creds = settings
        .registry
        .credentials(&settings.reference.registry)
        .await?;
    report.credentials = Some(creds.source.to_string());

    let outcome = settings
        .registry
        .within("pushing", push_to_registry(&settings, &built, creds))
        .await?;
    report.unchanged = outcome.unchanged;
    report.blobs_uploaded = outcome.blobs_uploaded;
    if outcome.digest != report.digest {
        report.digest = outcome.digest.clone();
        report.url = settings
            .reference
            .url_with_tag_and_digest(report.tags.first().map(String::as_str), &outcome.digest);
    }
    if let Some((source, revision, created)) = outcome.existing {
        report.source = source;
        report.revision = revision;
        if let Some(c) = created {
            report.created = c;
        }
        report.tags.truncate(1);
    }

    if let Some(path) = &settings.dotenv {
        let text = render::push::dotenv(&report).map_err(|reason| {
            Error::usage(
                format!("cannot write --dotenv: {reason}"),
                "fix the annotation values",
            )
        })?;
        write_atomically(path, &text)?;
    }
    let head = deploy.document_head(session, "push", &report)?;
    eprint(&render::push::summary(&report));
    deploy.run(session, &report.url, head).await
}

/// `push --trigger --wait` (and `tag --trigger --wait`): the same code
/// paths as `trigger --artifact` and `wait --artifact`, on the artifact
/// just pushed (or tagged).
pub(crate) struct Deploy {
    trigger: bool,
    wait: bool,
    dependents: bool,
    all_namespaces: bool,
    wait_timeout: Duration,
    flags: crate::cli::wait::WaitFlags,
}

impl Deploy {
    pub(crate) fn from_args(args: &DeployArgs) -> Result<Deploy> {
        let wait_timeout = crate::config::parse_timeout("--wait-timeout", &args.wait_timeout)?;
        if let Some(junit) = &args.wait_flags.junit {
            render::check_output_path("--junit", junit)?;
        }
        if !args.trigger && !args.wait && (args.dependents || args.all_namespaces) {
            return Err(Error::usage(
                "--dependents and -A only apply with --trigger or --wait",
                "add --trigger and/or --wait, or drop them",
            ));
        }
        Ok(Deploy {
            trigger: args.trigger,
            wait: args.wait,
            dependents: args.dependents,
            all_namespaces: args.all_namespaces,
            wait_timeout,
            flags: args.wait_flags.clone(),
        })
    }

    /// The machine-readable report of the push (or tag): printed at once
    /// when nothing follows, or (returned) the start of the one document
    /// that the trigger and wait reports join, so `-o json` prints one
    /// JSON value and `-o yaml` one mapping.
    pub(crate) fn document_head<T: serde::Serialize>(
        &self,
        session: &Session,
        key: &str,
        report: &T,
    ) -> Result<Option<serde_json::Map<String, serde_json::Value>>> {
        if session.output == OutputFormat::Table {
            return Ok(None);
        }
        if !self.trigger && !self.wait {
            write_stdout(&render::document(report, session.output)?)?;
            return Ok(None);
        }
        let value = serde_json::to_value(report).map_err(|e| {
            Error::other(
                ExitCode::Failure,
                format!("cannot encode the report: {e}"),
                None,
            )
        })?;
        let mut document = serde_json::Map::new();
        document.insert(key.into(), value);
        Ok(Some(document))
    }

    pub(crate) async fn run(
        self,
        session: &Session,
        url: &str,
        mut document: Option<serde_json::Map<String, serde_json::Value>>,
    ) -> Result<ExitCode> {
        if !self.trigger && !self.wait {
            return Ok(ExitCode::Success);
        }
        let target = crate::cli::TargetArgs {
            objects: Vec::new(),
            artifact: Some(url.to_string()),
            dependents: self.dependents,
            all_namespaces: self.all_namespaces,
        };
        // The wait's --wait-timeout bounds exec credential plugins too.
        let mut bounded = session.clone();
        if self.wait {
            bounded.command_timeout = Some(crate::cluster::exec::ExecLimit {
                after: self.wait_timeout,
                flag: "--wait-timeout",
            });
        }
        let session = &bounded;
        let mut token = None;
        if self.trigger {
            let report =
                super::trigger::annotate_targets(session, &target, false, false, false).await?;
            eprint(&format!("{}\n", super::trigger::summary(&report)));
            token = report.token.clone();
            if let Some(doc) = document.as_mut() {
                let value = serde_json::to_value(&report).map_err(|e| {
                    Error::other(
                        ExitCode::Failure,
                        format!("cannot encode the report: {e}"),
                        None,
                    )
                })?;
                doc.insert("trigger".into(), value);
            }
        }
        if !self.wait {
            if let Some(doc) = &document {
                write_stdout(&render::document(doc, session.output)?)?;
            }
            return Ok(ExitCode::Success);
        }
        let plan = super::wait::WaitPlan {
            target,
            digest_override: None,
            token,
            timeout: self.wait_timeout,
            flags: self.flags,
            document,
        };
        super::wait::run_plan(session, plan).await
    }
}

pub(crate) fn eprint(text: &str) {
    let _ = std::io::stderr().write_all(text.as_bytes());
}

/// Write a file through a temporary sibling and a rename, so readers never
/// see half a file.
pub(crate) fn write_atomically(path: &Path, text: &str) -> Result<()> {
    render::write_atomic(path, text.as_bytes()).map_err(|e| {
        Error::other(
            ExitCode::Failure,
            format!("cannot write {}: {e}", path.display()),
            Some("check that the directory is writable".into()),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_tags() {
        let none = |_: &str| None;
        assert_eq!(default_tag(&none), "latest");
        let ci = |k: &str| match k {
            "CI_COMMIT_SHORT_SHA" => Some("1a2b3c4d".to_string()),
            _ => None,
        };
        assert_eq!(default_tag(&ci), "1a2b3c4d");
        let sha = |k: &str| match k {
            "CI_COMMIT_SHA" => Some("0123456789abcdef".to_string()),
            _ => None,
        };
        assert_eq!(default_tag(&sha), "01234567");
    }
}
