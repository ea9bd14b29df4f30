//! `--artifact oci://REPO:TAG` without a digest: the tag is resolved to the
//! digest it points at in the registry when the command starts, so that a
//! wait is exact (a tag moves; Flux may still hold what it pointed at
//! before). Push's credential logic decides what is sent, and only to the
//! registry the reference names.

use std::time::Duration;

use super::push::RegistrySettings;
use crate::error::{Error, ExitCode, Result};
use crate::flux::selector::ArtifactSelector;
use crate::oci::helm::HELM_LAYER_MEDIA_TYPE;
use crate::oci::reference::Reference;
use crate::oci::registry::Registry;

/// How long resolving a tag may take, retries included.
const RESOLVE_TIMEOUT: Duration = Duration::from_secs(30);

/// Give `artifact` (an `--artifact` value) its digest when it has a tag and
/// none: returns the exact `oci://REPO:TAG@sha256:…`, or the value as it
/// was when it already names a digest (or is not a valid selector: the
/// selection reports that with its own error).
pub async fn pin(artifact: &str) -> Result<String> {
    let Ok(sel) = ArtifactSelector::parse(artifact) else {
        return Ok(artifact.to_string());
    };
    let (Some(tag), None) = (&sel.tag, &sel.digest) else {
        return Ok(artifact.to_string());
    };
    let hint = || {
        Some(format!(
            "pass the artifact with its digest, as push prints it in ARTIFACT_URL \
             (oci://{}:{tag}@sha256:…), so no registry lookup is needed",
            sel.repository
        ))
    };
    let reference = Reference::parse(&format!("oci://{}:{tag}", sel.repository))?;
    let settings = RegistrySettings {
        explicit_creds: None,
        insecure: false,
        ca_file: None,
        timeout: RESOLVE_TIMEOUT,
    };
    let lookup = async {
        let creds = settings.credentials(&reference.registry).await?;
        let mut reg = Registry::connect(&reference, creds, settings.client_options()).await?;
        Ok::<_, Error>(reg.any_manifest_digest(tag).await?)
    };
    let found = match settings
        .within(&format!("resolving tag {tag}"), lookup)
        .await
    {
        Ok(found) => found,
        Err(e) => {
            // The registry's own verdict decides the exit code (4 when it
            // cannot be reached or refuses us, 2 for bad settings).
            let code = match e.exit_code() {
                ExitCode::Timeout | ExitCode::Failure => ExitCode::Unavailable,
                code => code,
            };
            let mut message = format!("cannot resolve {} to a digest: {}", sel.url(), e.message());
            for cause in e.causes() {
                message.push_str(": ");
                message.push_str(&cause);
            }
            return Err(Error::other(code, message, hint()));
        }
    };
    match found {
        Some(digest) => {
            tracing::info!("{} resolves to {digest}", sel.url());
            Ok(format!("{}@{digest}", sel.url()))
        }
        None => Err(Error::other(
            ExitCode::Failure,
            format!(
                "tag {tag} does not exist in {}: nothing to wait for",
                sel.repository
            ),
            hint(),
        )),
    }
}

/// The digest of the chart layer of the Helm chart `artifact` names (an
/// exact `oci://REPO:TAG@sha256:…`), to tell whether a HelmChart holds
/// these bytes (SC-HELMCHART: source-controller does not pull a version it
/// already holds, so a version re-pushed with other bytes is kept at the old
/// ones). `Ok(None)`: not a Helm chart.
pub async fn chart_layer_digest(artifact: &str) -> Result<Option<String>> {
    let Ok(sel) = ArtifactSelector::parse(artifact) else {
        return Ok(None);
    };
    let Some(digest) = &sel.digest else {
        return Ok(None);
    };
    let reference = Reference::parse(&format!("oci://{}@{digest}", sel.repository))?;
    let settings = RegistrySettings {
        explicit_creds: None,
        insecure: false,
        ca_file: None,
        timeout: RESOLVE_TIMEOUT,
    };
    let lookup = async {
        let creds = settings.credentials(&reference.registry).await?;
        let mut reg = Registry::connect(&reference, creds, settings.client_options()).await?;
        Ok::<_, Error>(reg.fetch_manifest(digest).await?)
    };
    let Some(manifest) = settings
        .within(&format!("reading {digest}"), lookup)
        .await?
    else {
        return Ok(None);
    };
    let value: serde_json::Value = serde_json::from_slice(&manifest.bytes).unwrap_or_default();
    Ok(value["layers"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|l| l["mediaType"] == HELM_LAYER_MEDIA_TYPE)
        .and_then(|l| l["digest"].as_str())
        .map(str::to_string))
}
