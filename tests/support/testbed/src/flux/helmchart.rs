//! source-controller: HelmRepository of `type: oci` (static, no artifact)
//! and HelmChart pulled through it from a real registry, as
//! docs/flux-semantics.md SC-HELMREPO and SC-HELMCHART describe them.

use std::sync::Arc;
use std::time::Duration;

use serde_json::{Map, Value, json};

use super::source::{credentials_from_secret, parse_oci_url};
use super::util::{
    self, bool_at, generation_of, remove_condition, set_condition, status_map, str_at,
};
use super::{ObjKey, Shared, StoredArtifact, WorkerState, semver};
use crate::oci::{self, ClientOptions};

const DEFAULT_INTERVAL: Duration = Duration::from_secs(600);
const HELM_CHART_LAYER: &str = "application/vnd.cncf.helm.chart.content.v1.tar+gzip";

/// The key a HelmChart's artifact is kept under in [`Shared::artifacts`]
/// (apart from OCIRepositories of the same name).
pub(crate) fn artifact_key(ns: &str, name: &str) -> (String, String) {
    (format!("helmchart:{ns}"), name.to_string())
}

/// SC-HELMREPO: an OCI HelmRepository is static: source-controller removes
/// any finalizer and artifact and leaves the status empty (no conditions,
/// no observedGeneration), whatever its spec.
pub(crate) fn reconcile_repository(sh: &Arc<Shared>, key: &ObjKey, obj: Value) {
    if str_at(&obj, "/spec/type") != Some("oci") {
        // Not simulated: HTTP HelmRepositories (see the README's deviations).
        let mut status = status_map(&obj);
        let generation = generation_of(&obj);
        set_condition(
            &mut status,
            "Ready",
            "False",
            "SimulatorUnsupported",
            "the simulator serves only HelmRepositories of type oci",
            generation,
        );
        sh.write_status(key, status);
        return;
    }
    if obj
        .get("status")
        .and_then(Value::as_object)
        .is_some_and(|s| !s.is_empty())
    {
        sh.write_status(key, Map::new());
    }
}

/// Why a HelmChart reconcile failed: the condition reason and message,
/// and whether source-controller stalls on it.
struct Failure {
    reason: &'static str,
    message: String,
    stall: bool,
}

fn fail(reason: &'static str, message: String) -> Failure {
    Failure {
        reason,
        message,
        stall: false,
    }
}

/// The chart version and tag `spec.version` picks (SC-HELMCHART): a version
/// (fluxcd/pkg's reading, two dots) is used as the tag without listing;
/// anything else is a constraint over the tags Helm's registry client lists
/// (`_` as `+`, strict SemVer only, normalized), the highest admitted.
async fn choose_version(
    client: &oci::Client,
    repo: &str,
    url: &str,
    want: &str,
) -> Result<(String, String), Failure> {
    if semver::Version::tag(want).is_some() {
        return Ok((want.to_string(), want.replace('+', "_")));
    }
    let pull = |m: String| fail("ChartPullError", m);
    let tags = client.list_tags(repo).await.map_err(|e| {
        pull(format!(
            "failed to get chart version for remote reference: could not get tags for \"{}\": could not fetch tags for \"{url}\": {e:#}",
            repo.rsplit('/').next().unwrap_or(repo)
        ))
    })?;
    let versions: Vec<semver::Version> = tags
        .iter()
        .filter_map(|t| semver::Version::strict(&t.replace('_', "+")))
        .collect();
    if versions.is_empty() {
        return Err(pull(format!(
            "failed to get chart version for remote reference: could not get tags for \"{}\": unable to locate any tags in provided repository: {url}",
            repo.rsplit('/').next().unwrap_or(repo)
        )));
    }
    let constraint = if want.is_empty() { "*" } else { want };
    let cons = semver::Constraints::parse(constraint).map_err(|e| {
        pull(format!(
            "failed to get chart version for remote reference: improper constraint: {constraint}: {e}"
        ))
    })?;
    let best = versions
        .into_iter()
        .filter(|v| cons.check(v))
        .max_by(|a, b| a.precedence(b))
        .ok_or_else(|| {
            pull(format!(
                "failed to get chart version for remote reference: could not locate a version matching provided version string {want}"
            ))
        })?;
    let version = best.render();
    let tag = version.replace('+', "_");
    Ok((version, tag))
}

pub(crate) async fn reconcile_chart(
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
    let mut status = status_map(&obj);
    // SC-READY: Reconciling first when the generation or the request is new.
    let observed = status.get("observedGeneration").and_then(Value::as_i64);
    if observed != Some(generation) || util::has_pending_request(&obj) {
        let msg = if observed != Some(generation) {
            format!(
                "processing object: new generation {} -> {generation}",
                observed.unwrap_or(0)
            )
        } else {
            "reconciliation in progress".to_string()
        };
        util::mark_reconciling(&mut status, "Progressing", &msg, generation);
        if util::condition(&status, "Ready").is_none() {
            set_condition(
                &mut status,
                "Ready",
                "Unknown",
                "Progressing",
                &msg,
                generation,
            );
        }
        sh.write_status(key, status.clone());
    }
    match build(sh, key, &obj, &mut status).await {
        Ok((version, chart, layer, pulled)) => {
            st.failures = 0;
            let digest = util::sha256_digest(&layer);
            let path = format!("helmchart/{}/{}/{chart}-{version}.tgz", key.ns, key.name);
            if pulled {
                let artifact = json!({
                    "digest": digest,
                    "lastUpdateTime": util::now_k8s(),
                    "path": path,
                    "revision": version,
                    "size": layer.len(),
                    "url": format!("http://source-controller.flux-system.svc.cluster.local./{path}"),
                });
                status.insert("artifact".into(), artifact);
                if let Ok(mut a) = sh.artifacts.lock() {
                    a.insert(
                        artifact_key(&key.ns, &key.name),
                        Arc::new(StoredArtifact {
                            revision: version.clone(),
                            layer,
                            annotations: Map::new(),
                        }),
                    );
                }
                sh.event(
                    &obj,
                    false,
                    "ChartPullSucceeded",
                    &format!("pulled '{chart}' chart with version '{version}'"),
                );
                sh.record_ready(key, &version);
            }
            status.insert(
                "url".into(),
                json!(format!(
                    "http://source-controller.flux-system.svc.cluster.local./helmchart/{}/{}/latest.tar.gz",
                    key.ns, key.name
                )),
            );
            status.insert("observedChartName".into(), json!(chart));
            status.insert("observedGeneration".into(), json!(generation));
            util::handle_request(&obj, &mut status);
            let msg = format!("pulled '{chart}' chart with version '{version}'");
            for c in [
                "Reconciling",
                "Stalled",
                "FetchFailed",
                "BuildFailed",
                "ArtifactOutdated",
            ] {
                remove_condition(&mut status, c);
            }
            set_condition(
                &mut status,
                "ArtifactInStorage",
                "True",
                "ChartPullSucceeded",
                &msg,
                generation,
            );
            set_condition(
                &mut status,
                "Ready",
                "True",
                "ChartPullSucceeded",
                &msg,
                generation,
            );
            sh.write_status(key, status);
            st.requeue_after(interval);
        }
        Err(f) => {
            st.failures += 1;
            util::handle_request(&obj, &mut status);
            set_condition(
                &mut status,
                "FetchFailed",
                "True",
                f.reason,
                &f.message,
                generation,
            );
            set_condition(
                &mut status,
                "Ready",
                "False",
                f.reason,
                &f.message,
                generation,
            );
            sh.event(&obj, true, f.reason, &f.message);
            if f.stall {
                util::mark_stalled(&mut status, f.reason, &f.message, generation);
                status.insert("observedGeneration".into(), json!(generation));
                sh.write_status(key, status);
                return;
            }
            util::retry_reconciling(&mut status, generation);
            sh.write_status(key, status);
            let exp = sh
                .cfg
                .requeue_delay
                .saturating_mul(1u32 << st.failures.saturating_sub(1).min(10));
            st.requeue_after(exp.min(interval));
        }
    }
}

/// Resolve, and pull unless the stored chart has that name and version
/// and the generation is unchanged (SC-HELMCHART: the cache: a version
/// re-pushed with other bytes is not pulled again). Returns (version,
/// chart name, chart bytes, whether they were pulled now).
async fn build(
    sh: &Shared,
    key: &ObjKey,
    obj: &Value,
    status: &mut Map<String, Value>,
) -> Result<(String, String, Vec<u8>, bool), Failure> {
    let chart = str_at(obj, "/spec/chart").unwrap_or("").to_string();
    if chart.is_empty() {
        return Err(Failure {
            reason: "InvalidChartReference",
            message: "invalid chart reference: no name set".into(),
            stall: true,
        });
    }
    let kind = str_at(obj, "/spec/sourceRef/kind").unwrap_or("");
    let repo_name = str_at(obj, "/spec/sourceRef/name").unwrap_or("");
    if kind != "HelmRepository" {
        return Err(fail(
            "SourceUnavailable",
            format!(
                "failed to get source: the simulator supports only HelmRepository sources, not '{kind}'"
            ),
        ));
    }
    let repo_obj = sh
        .store
        .get("source.toolkit.fluxcd.io/v1", "HelmRepository", &key.ns, repo_name)
        .ok_or_else(|| {
            fail(
                "SourceUnavailable",
                format!(
                    "failed to get source: helmrepositories.source.toolkit.fluxcd.io \"{repo_name}\" not found"
                ),
            )
        })?;
    if str_at(&repo_obj, "/spec/type") != Some("oci") {
        return Err(fail(
            "NoSourceArtifact",
            format!("no artifact available for HelmRepository source '{repo_name}'"),
        ));
    }
    let url = str_at(&repo_obj, "/spec/url")
        .unwrap_or("")
        .trim_end_matches('/')
        .to_string();
    let (host, base_repo) = parse_oci_url(&url).map_err(|e| Failure {
        reason: "URLInvalid",
        message: format!("invalid Helm repository URL: {e}"),
        stall: true,
    })?;
    let repo = format!("{base_repo}/{chart}");
    let chart_url = format!("oci://{host}/{repo}");
    let insecure =
        bool_at(&repo_obj, "/spec/insecure") || sh.cfg.registry_insecure_hosts.contains(&host);
    let mut opts = ClientOptions {
        ca_pem: sh.cfg.ca_pem.clone(),
        ..Default::default()
    };
    if let Some(secret_name) = str_at(&repo_obj, "/spec/secretRef/name") {
        let secret = sh.store.get("v1", "Secret", &key.ns, secret_name);
        match secret.and_then(|s| credentials_from_secret(&s, &host)) {
            Some((u, p)) => {
                opts.username = Some(u);
                opts.password = Some(p);
            }
            None => {
                return Err(fail(
                    "AuthenticationFailed",
                    format!(
                        "failed to get authentication secret '{}/{secret_name}'",
                        key.ns
                    ),
                ));
            }
        }
    }
    let scheme = if insecure { "http" } else { "https" };
    let client = oci::Client::new(&format!("{scheme}://{host}"), &opts)
        .map_err(|e| fail("Failed", format!("failed to construct Helm client: {e:#}")))?;
    let want = str_at(obj, "/spec/version").unwrap_or("");
    let (version, tag) = choose_version(&client, &repo, &chart_url, want).await?;

    let generation = generation_of(obj);
    let observed = status.get("observedGeneration").and_then(Value::as_i64);
    let cached = sh
        .artifact(&artifact_key(&key.ns, &key.name).0, &key.name)
        .filter(|a| a.revision == version);
    if let Some(a) = &cached
        && observed == Some(generation)
        && status.get("observedChartName").and_then(Value::as_str) == Some(chart.as_str())
        && str_at(obj, "/status/artifact/revision") == Some(version.as_str())
    {
        return Ok((version, chart, a.layer.clone(), false));
    }
    // SC-HELMCHART: a new chart version is announced before the pull.
    let summary = format!("new '{chart}' chart with version '{version}'");
    if status.contains_key("artifact") {
        set_condition(
            status,
            "ArtifactOutdated",
            "True",
            "NewChart",
            &summary,
            generation,
        );
    }
    let msg = format!("building artifact: {summary}");
    util::mark_reconciling(status, "Progressing", &msg, generation);
    set_condition(status, "Ready", "Unknown", "Progressing", &msg, generation);
    sh.write_status(key, status.clone());

    let pull_err = |e: String| {
        fail(
            "ChartPullError",
            format!(
                "failed to download chart for remote reference: failed to get '{chart_url}:{version}': {e}"
            ),
        )
    };
    let manifest = client
        .get_manifest(&repo, &tag)
        .await
        .map_err(|e| pull_err(format!("{e:#}")))?;
    let layer = manifest
        .layers()
        .iter()
        .find(|l| l.get("mediaType").and_then(Value::as_str) == Some(HELM_CHART_LAYER))
        .and_then(|l| l.get("digest").and_then(Value::as_str))
        .map(str::to_string)
        .ok_or_else(|| pull_err("no chart layer in the manifest".into()))?;
    let bytes = client
        .get_blob(&repo, &layer)
        .await
        .map_err(|e| pull_err(format!("{e:#}")))?;
    super::helm::read_chart(&bytes).map_err(|e| {
        fail(
            "ChartPullError",
            format!("failed to download chart for remote reference: {e}"),
        )
    })?;
    Ok((version, chart, bytes, true))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn artifact_keys_do_not_collide_with_ocirepositories() {
        assert_eq!(
            artifact_key("flux-system", "web"),
            ("helmchart:flux-system".to_string(), "web".to_string())
        );
    }
}
