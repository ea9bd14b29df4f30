//! source-controller: OCIRepository pulled from a real registry.

use std::sync::Arc;
use std::time::Duration;

use base64::Engine;
use serde_json::{Map, Value, json};

use super::util::{
    self, bool_at, generation_of, ns_of, remove_condition, set_condition, status_map, str_at,
};
use super::{ObjKey, SIM_PULL_DELAY, Shared, StoredArtifact, WorkerState, semver};
use crate::oci::{self, ClientOptions};

const DEFAULT_INTERVAL: Duration = Duration::from_secs(600);

/// What a successful pull produced.
struct Fetched {
    revision: String,
    layer_media_type: String,
    layer: Vec<u8>,
    annotations: Map<String, Value>,
    operation: String,
}

pub(crate) async fn reconcile(
    sh: &Arc<Shared>,
    key: &ObjKey,
    obj: Value,
    st: &mut WorkerState,
    forced: bool,
) {
    if !(forced || st.changed(&obj, None)) {
        return;
    }
    st.mark_attempt(&obj, None);
    let generation = generation_of(&obj);
    let interval = util::interval_of(&obj, DEFAULT_INTERVAL);
    let url = str_at(&obj, "/spec/url").unwrap_or("").to_string();
    let mut status = status_map(&obj);
    let prev_revision = str_at(&obj, "/status/artifact/revision").map(str::to_string);
    let was_ready = util::is_ready(&obj);

    match fetch(sh, &obj).await {
        Ok(f) => {
            st.failures = 0;
            let cached = sh.artifact(&key.ns, &key.name);
            let changed = prev_revision.as_deref() != Some(f.revision.as_str())
                || cached.as_ref().map(|a| a.revision.as_str()) != Some(f.revision.as_str());
            let layer_digest = util::sha256_digest(&f.layer);
            let hex = layer_digest.trim_start_matches("sha256:").to_string();
            let path = format!("ocirepository/{}/{}/{hex}.tar.gz", key.ns, key.name);
            let last_update = if prev_revision.as_deref() == Some(f.revision.as_str()) {
                str_at(&obj, "/status/artifact/lastUpdateTime")
                    .map(str::to_string)
                    .unwrap_or_else(util::now_k8s)
            } else {
                util::now_k8s()
            };
            let artifact = json!({
                "digest": layer_digest,
                "lastUpdateTime": last_update,
                "metadata": f.annotations,
                "path": path,
                "revision": f.revision,
                "size": f.layer.len(),
                "url": format!("http://source-controller.flux-system.svc.cluster.local./{path}"),
            });
            if let Ok(mut a) = sh.artifacts.lock() {
                a.insert(
                    (key.ns.clone(), key.name.clone()),
                    Arc::new(StoredArtifact {
                        revision: f.revision.clone(),
                        layer: f.layer,
                        annotations: f.annotations.clone(),
                    }),
                );
            }
            status.insert("artifact".into(), artifact);
            status.insert(
                "url".into(),
                json!(format!(
                    "http://source-controller.flux-system.svc.cluster.local./ocirepository/{}/{}/latest.tar.gz",
                    key.ns, key.name
                )),
            );
            status.insert(
                "observedLayerSelector".into(),
                json!({"mediaType": f.layer_media_type, "operation": f.operation}),
            );
            status.insert("observedGeneration".into(), json!(generation));
            util::handle_request(&obj, &mut status);
            let msg = format!("stored artifact for digest '{}'", f.revision);
            remove_condition(&mut status, "Reconciling");
            remove_condition(&mut status, "Stalled");
            remove_condition(&mut status, "FetchFailed");
            remove_condition(&mut status, "ArtifactOutdated");
            set_condition(&mut status, "Ready", "True", "Succeeded", &msg, generation);
            set_condition(
                &mut status,
                "ArtifactInStorage",
                "True",
                "Succeeded",
                &msg,
                generation,
            );
            if changed {
                sh.event(
                    &obj,
                    false,
                    "NewArtifact",
                    &format!(
                        "stored artifact with revision '{}' from '{url}'",
                        f.revision
                    ),
                );
            }
            if changed || !was_ready {
                sh.record_ready(key, &f.revision);
            }
            sh.write_status(key, status);
            st.requeue_after(interval);
        }
        Err(msg) => {
            st.failures += 1;
            util::handle_request(&obj, &mut status);
            set_condition(
                &mut status,
                "Reconciling",
                "True",
                "ProgressingWithRetry",
                &format!("processing object: new generation {generation}"),
                generation,
            );
            set_condition(
                &mut status,
                "FetchFailed",
                "True",
                "OCIArtifactPullFailed",
                &msg,
                generation,
            );
            set_condition(
                &mut status,
                "Ready",
                "False",
                "OCIArtifactPullFailed",
                &msg,
                generation,
            );
            sh.event(&obj, true, "OCIArtifactPullFailed", &msg);
            sh.write_status(key, status);
            let exp = sh
                .cfg
                .requeue_delay
                .saturating_mul(1u32 << st.failures.saturating_sub(1).min(10));
            st.requeue_after(exp.min(interval));
        }
    }
}

/// Split `oci://host[:port]/repo` into (host, repo).
pub(crate) fn parse_oci_url(url: &str) -> Result<(String, String), String> {
    let rest = url.strip_prefix("oci://").ok_or_else(|| {
        format!("URL must be in format 'oci://<domain>/<org>/<repo>', got '{url}'")
    })?;
    let (host, repo) = rest
        .split_once('/')
        .filter(|(h, r)| !h.is_empty() && !r.is_empty())
        .ok_or_else(|| {
            format!("URL must be in format 'oci://<domain>/<org>/<repo>', got '{url}'")
        })?;
    Ok((host.to_string(), repo.trim_end_matches('/').to_string()))
}

/// Registry credentials from a `kubernetes.io/dockerconfigjson` Secret
/// (also accepts plain `username`/`password` keys).
pub(crate) fn credentials_from_secret(secret: &Value, host: &str) -> Option<(String, String)> {
    let b64 = base64::engine::general_purpose::STANDARD;
    let data = secret.get("data")?.as_object()?;
    let decode = |k: &str| -> Option<String> {
        let v = data.get(k)?.as_str()?;
        String::from_utf8(b64.decode(v).ok()?).ok()
    };
    if let Some(cfg) = decode(".dockerconfigjson") {
        let cfg: Value = serde_json::from_str(&cfg).ok()?;
        let auths = cfg.get("auths")?.as_object()?;
        let entry = auths.iter().find_map(|(k, v)| {
            let k = k
                .trim_start_matches("https://")
                .trim_start_matches("http://")
                .trim_end_matches('/');
            let k = k.strip_suffix("/v2").unwrap_or(k);
            (k == host || k.split('/').next() == Some(host)).then_some(v)
        })?;
        if let (Some(u), Some(p)) = (
            entry.get("username").and_then(Value::as_str),
            entry.get("password").and_then(Value::as_str),
        ) {
            return Some((u.to_string(), p.to_string()));
        }
        let auth = entry.get("auth")?.as_str()?;
        let auth = String::from_utf8(b64.decode(auth).ok()?).ok()?;
        let (u, p) = auth.split_once(':')?;
        return Some((u.to_string(), p.to_string()));
    }
    Some((decode("username")?, decode("password")?))
}

async fn fetch(sh: &Shared, obj: &Value) -> Result<Fetched, String> {
    let url = str_at(obj, "/spec/url").unwrap_or("");
    let (host, repo) = parse_oci_url(url)?;
    let insecure = bool_at(obj, "/spec/insecure") || sh.cfg.registry_insecure_hosts.contains(&host);
    let base = format!("{}://{host}", if insecure { "http" } else { "https" });
    let mut opts = ClientOptions {
        ca_pem: sh.cfg.ca_pem.clone(),
        ..Default::default()
    };
    if let Some(secret_name) = str_at(obj, "/spec/secretRef/name") {
        let ns = ns_of(obj);
        let secret = sh
            .store
            .get("v1", "Secret", ns, secret_name)
            .ok_or_else(|| {
                format!(
                    "failed to get secret '{ns}/{secret_name}': secrets \"{secret_name}\" not found"
                )
            })?;
        let (u, p) = credentials_from_secret(&secret, &host).ok_or_else(|| {
            format!(
                "failed to get credential from secret '{ns}/{secret_name}': no auth for '{host}'"
            )
        })?;
        opts.username = Some(u);
        opts.password = Some(p);
    }
    let client = oci::Client::new(&base, &opts).map_err(|e| format!("{e:#}"))?;

    let digest_ref = str_at(obj, "/spec/ref/digest").filter(|s| !s.is_empty());
    let semver_ref = str_at(obj, "/spec/ref/semver").filter(|s| !s.is_empty());
    let tag_ref = str_at(obj, "/spec/ref/tag")
        .filter(|s| !s.is_empty())
        .unwrap_or("latest");
    let (reference, tag) = if let Some(d) = digest_ref {
        (d.to_string(), None)
    } else if let Some(range) = semver_ref {
        let tags = client
            .list_tags(&repo)
            .await
            .map_err(|e| format!("failed to determine the artifact tag for '{url}': {e:#}"))?;
        let filter = str_at(obj, "/spec/ref/semverFilter").filter(|s| !s.is_empty());
        // SC-SEMVER: Masterminds constraint over strict tags; SC-HELMTAG:
        // `_` reads as `+` when the layer selector asks for a Helm chart.
        let media = str_at(obj, "/spec/layerSelector/mediaType");
        let tag = semver::select_tag(&tags, range, filter, media)
            .map_err(|e| format!("failed to determine the artifact tag for '{url}': {e}"))?;
        (tag.clone(), Some(tag))
    } else {
        (tag_ref.to_string(), Some(tag_ref.to_string()))
    };
    let manifest = client
        .get_manifest(&repo, &reference)
        .await
        .map_err(|e| format!("failed to determine artifact digest: {e:#}"))?;
    if manifest.json.get("manifests").is_some() {
        return Err(format!(
            "failed to pull artifact from '{url}': '{reference}' is an image index, not a manifest"
        ));
    }
    if let Some(d) = digest_ref
        && d != manifest.digest
    {
        return Err(format!(
            "failed to determine artifact digest: manifest digest mismatch: got {}",
            manifest.digest
        ));
    }
    // SC-REV: `<tag>@<digest>`, or the bare digest for a digest ref.
    let revision = match &tag {
        Some(t) => format!("{t}@{}", manifest.digest),
        None => manifest.digest.clone(),
    };
    if str_at(obj, "/status/artifact/revision") != Some(revision.as_str()) {
        // SC-FETCH: a new upstream revision is announced (Reconciling and
        // Ready Unknown "building artifact: new revision ...") while the
        // stored artifact is still the old one; the pull-delay knob makes
        // this window last.
        let message = format!(
            "building artifact: new revision '{revision}' for '{host}/{repo}:{}'",
            tag.as_deref().unwrap_or(&reference)
        );
        let generation = generation_of(obj);
        let mut status = status_map(obj);
        if status.contains_key("artifact") {
            set_condition(
                &mut status,
                "ArtifactOutdated",
                "True",
                "NewRevision",
                message.trim_start_matches("building artifact: "),
                generation,
            );
        }
        util::mark_reconciling(&mut status, "Progressing", &message, generation);
        set_condition(
            &mut status,
            "Ready",
            "Unknown",
            "Progressing",
            &message,
            generation,
        );
        if let Some(k) = super::ObjKey::of(obj) {
            sh.write_status(&k, status);
        }
        if let Some(d) = util::annotation(obj, SIM_PULL_DELAY).and_then(util::parse_go_duration) {
            tokio::time::sleep(d).await;
        }
    }
    let layers = manifest.layers();
    let wanted = str_at(obj, "/spec/layerSelector/mediaType").filter(|s| !s.is_empty());
    let layer = match wanted {
        Some(mt) => layers
            .iter()
            .find(|l| l.get("mediaType").and_then(Value::as_str) == Some(mt))
            .ok_or_else(|| {
                format!("failed to pull artifact from '{url}': failed to find layer with media type '{mt}' in artifact")
            })?,
        None => layers
            .first()
            .ok_or_else(|| format!("failed to pull artifact from '{url}': no layers found in artifact"))?,
    };
    let layer_digest = layer
        .get("digest")
        .and_then(Value::as_str)
        .ok_or_else(|| format!("failed to pull artifact from '{url}': layer without digest"))?;
    let layer_media_type = layer
        .get("mediaType")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    let bytes = client
        .get_blob(&repo, layer_digest)
        .await
        .map_err(|e| format!("failed to pull artifact from '{url}': {e:#}"))?;
    let operation = str_at(obj, "/spec/layerSelector/operation")
        .filter(|s| !s.is_empty())
        .unwrap_or("extract")
        .to_string();
    if operation != "copy" {
        oci::unpack_tar_gz(&bytes)
            .map_err(|e| format!("failed to extract layer contents from artifact: {e:#}"))?;
    }
    let annotations = manifest
        .json
        .get("annotations")
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default();
    Ok(Fetched {
        revision,
        layer_media_type,
        layer: bytes,
        annotations,
        operation,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn oci_urls() {
        assert_eq!(
            parse_oci_url("oci://127.0.0.1:5000/demo/apps"),
            Ok(("127.0.0.1:5000".into(), "demo/apps".into()))
        );
        assert!(parse_oci_url("https://x/y").is_err());
        assert!(parse_oci_url("oci://hostonly").is_err());
    }

    #[test]
    fn dockerconfig_credentials() {
        let b64 = base64::engine::general_purpose::STANDARD;
        let cfg = json!({"auths": {"reg.example:5000": {"auth": b64.encode("u:p")}}});
        let secret = json!({"data": {".dockerconfigjson": b64.encode(cfg.to_string())}});
        assert_eq!(
            credentials_from_secret(&secret, "reg.example:5000"),
            Some(("u".into(), "p".into()))
        );
        assert_eq!(credentials_from_secret(&secret, "other"), None);
    }
}
