//! helm-controller: HelmRelease installs/upgrades (simulated; no templates
//! are rendered), release history and remediation retries.

use std::sync::Arc;
use std::time::Duration;

use serde_json::{Map, Value, json};

use super::util::{
    self, FORCE_AT, REQUESTED_AT, RESET_AT, annotation, condition, generation_of, remove_condition,
    set_condition, status_map, str_at,
};
use super::{
    ObjKey, SIM_DELAY, SIM_FAIL, SIM_FAIL_TIMES, SIM_MESSAGE, Shared, WorkerState, semver,
};
use crate::oci;

const DEFAULT_INTERVAL: Duration = Duration::from_secs(600);

/// The chart a HelmRelease resolved to.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct ResolvedChart {
    pub name: String,
    /// The version as released (with `+<digest12>` for OCI chartRefs).
    pub version: String,
    pub app_version: String,
    pub annotations: Map<String, Value>,
    /// `sha256:<hex>` of the OCI manifest (OCI chartRef only).
    pub oci_digest: Option<String>,
    /// The OCIRepository artifact revision the chart was read from.
    pub source_revision: Option<String>,
}

/// Where the chart comes from, and the source revision for change detection.
enum ChartSource {
    Oci { ns: String, name: String },
    Template { source_ns: String },
    Unsupported(String),
}

fn chart_source(obj: &Value, own_ns: &str) -> ChartSource {
    if let Some(r) = obj.pointer("/spec/chartRef") {
        let kind = r.get("kind").and_then(Value::as_str).unwrap_or("");
        let name = r.get("name").and_then(Value::as_str).unwrap_or("");
        let ns = r
            .get("namespace")
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
            .unwrap_or(own_ns);
        if kind != "OCIRepository" {
            return ChartSource::Unsupported(format!(
                "chartRef kind '{kind}' is not supported by the simulator (only OCIRepository)"
            ));
        }
        return ChartSource::Oci {
            ns: ns.to_string(),
            name: name.to_string(),
        };
    }
    if let Some(c) = obj.pointer("/spec/chart/spec") {
        let chart = c
            .get("chart")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string();
        let source_ns = c
            .pointer("/sourceRef/namespace")
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
            .unwrap_or(own_ns)
            .to_string();
        if chart.is_empty() {
            return ChartSource::Unsupported("spec.chart.spec.chart is required".into());
        }
        return ChartSource::Template { source_ns };
    }
    ChartSource::Unsupported("one of spec.chart or spec.chartRef is required".into())
}

/// `<namespace>-<name>`: the HelmChart helm-controller makes of a
/// HelmRelease's `spec.chart` (HC-CHARTTEMPLATE).
fn helmchart_name(obj: &Value) -> String {
    format!("{}-{}", util::ns_of(obj), util::name_of(obj))
}

/// helm-controller `reconcileChartTemplate` (HC-CHARTTEMPLATE): create or
/// update the HelmChart from `spec.chart` (chart, version, sourceRef,
/// interval defaulting to the release's, reconcileStrategy, valuesFiles,
/// verify, the template's labels/annotations), owner labels on it.
fn apply_helmchart(sh: &Shared, obj: &Value, src: &ChartSource) {
    let ChartSource::Template { source_ns, .. } = src else {
        return;
    };
    let Some(tpl) = obj.pointer("/spec/chart") else {
        return;
    };
    let spec = tpl.get("spec").cloned().unwrap_or_else(|| json!({}));
    let mut chart_spec = Map::new();
    for k in [
        "chart",
        "version",
        "reconcileStrategy",
        "valuesFiles",
        "ignoreMissingValuesFiles",
        "verify",
    ] {
        if let Some(v) = spec.get(k) {
            chart_spec.insert(k.into(), v.clone());
        }
    }
    chart_spec.insert(
        "sourceRef".into(),
        json!({"kind": spec.pointer("/sourceRef/kind").cloned().unwrap_or(json!("HelmRepository")),
               "name": spec.pointer("/sourceRef/name").cloned().unwrap_or(json!(""))}),
    );
    let interval = spec
        .get("interval")
        .or_else(|| obj.pointer("/spec/interval"))
        .cloned()
        .unwrap_or(json!("10m"));
    chart_spec.insert("interval".into(), interval);
    if !chart_spec.contains_key("reconcileStrategy") {
        chart_spec.insert("reconcileStrategy".into(), json!("ChartVersion"));
    }
    let mut labels = tpl
        .pointer("/metadata/labels")
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default();
    labels.insert(
        "helm.toolkit.fluxcd.io/name".into(),
        json!(util::name_of(obj)),
    );
    labels.insert(
        "helm.toolkit.fluxcd.io/namespace".into(),
        json!(util::ns_of(obj)),
    );
    let name = helmchart_name(obj);
    let api = "source.toolkit.fluxcd.io/v1";
    match sh.store.get(api, "HelmChart", source_ns, &name) {
        None => {
            let mut meta = json!({"name": name, "namespace": source_ns, "labels": labels});
            if let Some(a) = tpl.pointer("/metadata/annotations") {
                meta["annotations"] = a.clone();
            }
            let created = sh.store.create(json!({
                "apiVersion": api, "kind": "HelmChart",
                "metadata": meta, "spec": Value::Object(chart_spec),
            }));
            if let Err(e) = created {
                tracing::debug!("creating HelmChart {source_ns}/{name}: {e}");
            }
        }
        Some(current) => {
            let same = current.get("spec").and_then(Value::as_object) == Some(&chart_spec);
            if !same {
                let mut patch = json!({"metadata": {"labels": labels}, "spec": Value::Object(chart_spec.clone())});
                // Fields the template no longer sets are removed (SSA).
                if let Some(old) = current.get("spec").and_then(Value::as_object) {
                    for k in old.keys().filter(|k| !chart_spec.contains_key(*k)) {
                        patch["spec"][k] = Value::Null;
                    }
                }
                if let Err(e) = sh
                    .store
                    .merge_patch(api, "HelmChart", source_ns, &name, patch)
                {
                    tracing::debug!("updating HelmChart {source_ns}/{name}: {e}");
                }
            }
        }
    }
}

/// Read `<chart>/Chart.yaml` from a chart tarball.
pub(crate) fn read_chart(layer: &[u8]) -> Result<ChartMeta, String> {
    let files = oci::unpack_tar_gz(layer).map_err(|e| format!("failed to load chart: {e:#}"))?;
    let (path, bytes) = files
        .iter()
        .find(|(p, _)| {
            let segs: Vec<&str> = p.split('/').collect();
            segs.len() == 2 && segs[1] == "Chart.yaml"
        })
        .ok_or_else(|| "failed to load chart: Chart.yaml file is missing".to_string())?;
    let text = std::str::from_utf8(bytes)
        .map_err(|_| format!("failed to load chart: {path}: invalid UTF-8"))?;
    let meta: Value =
        serde_saphyr::from_str(text).map_err(|e| format!("failed to load chart: {path}: {e}"))?;
    let s = |k: &str| -> String {
        match meta.get(k) {
            Some(Value::String(s)) => s.clone(),
            Some(Value::Number(n)) => n.to_string(),
            _ => String::new(),
        }
    };
    let (name, version) = (s("name"), s("version"));
    if name.is_empty() || version.is_empty() {
        return Err(format!(
            "failed to load chart: {path}: name and version are required"
        ));
    }
    let annotations = meta
        .get("annotations")
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default();
    Ok((name, version, s("appVersion"), annotations))
}

/// Why a reconcile stopped before any release action.
struct Halt {
    reason: &'static str,
    message: String,
    /// Requeue after the dependency interval (waits), else back off.
    wait: bool,
    event: bool,
}

fn halt(reason: &'static str, message: String, wait: bool, event: bool) -> Halt {
    Halt {
        reason,
        message,
        wait,
        event,
    }
}

/// helm-controller `isReady` on the source (HC-SRC).
fn source_ready(kind: &str, src: &Value) -> Result<(), String> {
    let (ns, name) = (util::ns_of(src), util::name_of(src));
    let st = status_map(src);
    let observed = st.get("observedGeneration").and_then(Value::as_i64);
    let cond = |t: &str, k: &str| -> Option<String> {
        util::condition(&st, t)
            .and_then(|c| c.get(k))
            .and_then(Value::as_str)
            .map(str::to_string)
    };
    if observed != Some(generation_of(src)) {
        let msg = if cond("Ready", "status").as_deref() == Some("False") {
            cond("Ready", "message").unwrap_or_default()
        } else {
            "latest generation of object has not been reconciled".to_string()
        };
        return Err(format!("{kind} '{ns}/{name}' is not ready: {msg}"));
    }
    if cond("Stalled", "status").as_deref() == Some("True") {
        return Err(format!(
            "{kind} '{ns}/{name}' is not ready: {}",
            cond("Stalled", "message").unwrap_or_default()
        ));
    }
    if src.pointer("/status/artifact").is_none() {
        return Err(format!(
            "{kind} '{ns}/{name}' is not ready: does not have an artifact"
        ));
    }
    Ok(())
}

/// helm-controller `mutateChartWithSourceRevision` for an OCIRepository
/// revision (HC-MUTATE): returns the chart version to release and the
/// digest recorded as `lastAttemptedRevisionDigest`.
/// - `<semver tag>@<algo>:<hex>`: the tag (`_` read as `+`) must equal the
///   chart version (precedence, so build metadata is ignored), else
///   "artifact revision <tag> does not match chart version <v>"; version
///   `<v>+<hex[..12]>`, digest `<algo>:<hex>`.
/// - anything else (`main@sha256:…`, `sha256:…`): version `<v>+<12 hex
///   after the last ':'>`, digest = the WHOLE revision.
pub(crate) fn mutate_chart_version(
    chart_version: &str,
    revision: &str,
) -> Result<(String, String), String> {
    let ver = semver::Version::loose(chart_version)
        .ok_or_else(|| format!("invalid chart version {chart_version}"))?;
    let short = |rev: &str| -> Result<String, String> {
        let parts: Vec<&str> = rev.split(':').collect();
        match parts.as_slice() {
            [_, hex] if hex.len() >= 12 => Ok(hex[..12].to_string()),
            _ => Err(format!("invalid artifact revision {rev}")),
        }
    };
    let semver_tag = revision
        .split_once('@')
        .and_then(|(tag, _)| semver::Version::loose(&tag.replace('_', "+")));
    let (meta, digest) = match semver_tag {
        Some(tag_ver) => {
            let pair: Vec<&str> = revision.split('@').collect();
            if pair.len() != 2 || tag_ver.precedence(&ver) != std::cmp::Ordering::Equal {
                return Err(format!(
                    "artifact revision {} does not match chart version {chart_version}",
                    pair[0]
                ));
            }
            (short(pair[1])?, pair[1].to_string())
        }
        None => (short(revision)?, revision.to_string()),
    };
    let mut v = ver;
    v.metadata = meta;
    Ok((v.render(), digest))
}

/// Chart metadata read from a chart tarball: name, version, appVersion,
/// annotations.
pub(crate) type ChartMeta = (String, String, String, Map<String, Value>);

/// HC-SRC: the stored artifact at the revision the source `src` reports
/// (a wait while it is not there), and the chart in it (a chart that does
/// not load is an error).
fn load_chart(
    sh: &Shared,
    src: &Value,
    (ns, name): (&str, &str),
    requeue: &str,
) -> Result<(Arc<super::StoredArtifact>, ChartMeta), Halt> {
    let revision = str_at(src, "/status/artifact/revision").unwrap_or("");
    let art = sh
        .artifact(ns, name)
        .filter(|a| a.revision == revision)
        .ok_or_else(|| {
            halt(
                "ArtifactFailed",
                format!("Source not ready: artifact not found. Retrying in {requeue}"),
                true,
                false,
            )
        })?;
    let meta = read_chart(&art.layer).map_err(|m| {
        halt(
            "ArtifactFailed",
            format!("Could not load chart: {m}"),
            false,
            true,
        )
    })?;
    Ok((art, meta))
}

/// Source, readiness, values, chart and version mutation, in
/// helm-controller `reconcileRelease`'s order.
fn resolve(sh: &Shared, obj: &Value, src: &ChartSource) -> Result<(ResolvedChart, Value), Halt> {
    let requeue = util::format_go_duration(sh.cfg.requeue_delay);
    match src {
        ChartSource::Unsupported(m) => Err(halt(
            "ArtifactFailed",
            format!("could not get Source object: {m}"),
            false,
            false,
        )),
        ChartSource::Template { source_ns, .. } => {
            // HC-SRC on the HelmChart made from the template (HC-CHARTTEMPLATE).
            let name = helmchart_name(obj);
            let src = sh
                .store
                .get("source.toolkit.fluxcd.io/v1", "HelmChart", source_ns, &name)
                .ok_or_else(|| {
                    halt(
                        "ArtifactFailed",
                        format!("could not get Source object: helmcharts.source.toolkit.fluxcd.io \"{name}\" not found"),
                        false,
                        false,
                    )
                })?;
            source_ready("HelmChart", &src).map_err(|m| halt("SourceNotReady", m, true, false))?;
            let values = values_of(sh, obj)?;
            let (ans, aname) = super::helmchart::artifact_key(source_ns, &name);
            let (art, (chart, version, app_version, annotations)) =
                load_chart(sh, &src, (&ans, &aname), &requeue)?;
            // HC-CHARTTEMPLATE: no mutation for HelmChart sources: the
            // chart's own version, no digest.
            Ok((
                ResolvedChart {
                    name: chart,
                    version,
                    app_version,
                    annotations,
                    oci_digest: None,
                    source_revision: Some(art.revision.clone()),
                },
                values,
            ))
        }
        ChartSource::Oci { ns, name } => {
            // HC-SRC: a missing source is an error the controller backs off on.
            let src = sh
                .store
                .get("source.toolkit.fluxcd.io/v1", "OCIRepository", ns, name)
                .ok_or_else(|| {
                    halt(
                        "ArtifactFailed",
                        format!("could not get Source object: ocirepositories.source.toolkit.fluxcd.io \"{name}\" not found"),
                        false,
                        false,
                    )
                })?;
            // HC-SRC: a source without artifact (or not reconciled) is a wait.
            source_ready("OCIRepository", &src)
                .map_err(|m| halt("SourceNotReady", m, true, false))?;
            // HC-VALUES.
            let values = values_of(sh, obj)?;
            let (art, (chart, version, app_version, annotations)) =
                load_chart(sh, &src, (ns, name), &requeue)?;
            // HC-MUTATE / HC-CHARTREF.
            let (version, digest) = mutate_chart_version(&version, &art.revision)
                .map_err(|m| halt("ChartMutateError", m, false, false))?;
            Ok((
                ResolvedChart {
                    name: chart,
                    version,
                    app_version,
                    annotations,
                    oci_digest: Some(digest),
                    source_revision: Some(art.revision.clone()),
                },
                values,
            ))
        }
    }
}

/// fluxcd/pkg chartutil `ChartValuesFromReferences` (HC-VALUES):
/// `spec.valuesFrom` ConfigMaps/Secrets, then `spec.values`.
fn values_of(sh: &Shared, obj: &Value) -> Result<Value, Halt> {
    let ns = util::ns_of(obj);
    let mut merged = Map::new();
    let refs = obj
        .pointer("/spec/valuesFrom")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    for r in refs {
        let kind = r.get("kind").and_then(Value::as_str).unwrap_or("");
        let name = r.get("name").and_then(Value::as_str).unwrap_or("");
        let key = r
            .get("valuesKey")
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
            .unwrap_or("values.yaml");
        let optional = util::bool_at(&r, "/optional");
        let what = format!(
            "could not resolve{} {kind} chart values reference '{ns}/{name}' with key '{key}'",
            if optional { " optional" } else { "" }
        );
        let fail = |m: String| halt("ValuesError", m, false, true);
        let plural = match kind {
            "ConfigMap" => "configmaps",
            "Secret" => "secrets",
            _ => return Err(fail(format!("{what}: unsupported values reference kind"))),
        };
        let Some(res) = sh.store.get("v1", kind, ns, name) else {
            if optional {
                continue;
            }
            return Err(fail(format!("{what}: {plural} \"{name}\" not found")));
        };
        let text = match kind {
            "Secret" => res
                .pointer(&format!("/data/{}", key.replace('/', "~1")))
                .and_then(Value::as_str)
                .and_then(|b| {
                    use base64::Engine;
                    base64::engine::general_purpose::STANDARD.decode(b).ok()
                })
                .and_then(|b| String::from_utf8(b).ok()),
            _ => res
                .get("data")
                .and_then(|d| d.get(key))
                .and_then(Value::as_str)
                .map(str::to_string),
        };
        let Some(text) = text else {
            if optional {
                continue;
            }
            return Err(fail(format!("{what}: key not found")));
        };
        let v: Value = serde_saphyr::from_str(&text)
            .map_err(|e| fail(format!("{what}: failed to read values data: {e}")))?;
        if let Value::Object(m) = v {
            merge_values(&mut merged, m);
        }
    }
    if let Some(Value::Object(m)) = obj.pointer("/spec/values").cloned() {
        merge_values(&mut merged, m);
    }
    Ok(Value::Object(merged))
}

fn merge_values(into: &mut Map<String, Value>, from: Map<String, Value>) {
    for (k, v) in from {
        match (into.get_mut(&k), v) {
            (Some(Value::Object(a)), Value::Object(b)) => merge_values(a, b),
            (_, v) => {
                into.insert(k, v);
            }
        }
    }
}

fn counter(status: &Map<String, Value>, k: &str) -> i64 {
    status.get(k).and_then(Value::as_i64).unwrap_or(0)
}

fn clear_failures(status: &mut Map<String, Value>) {
    status.remove("failures");
    status.remove("installFailures");
    status.remove("upgradeFailures");
}

pub(crate) async fn reconcile(
    sh: &Arc<Shared>,
    key: &ObjKey,
    obj: Value,
    st: &mut WorkerState,
    forced: bool,
) {
    let src = chart_source(&obj, &key.ns);
    // HC-CHARTTEMPLATE: the HelmChart is applied before anything else.
    if let ChartSource::Template { .. } = &src {
        apply_helmchart(sh, &obj, &src);
    }
    let src_rev = match &src {
        ChartSource::Oci { ns, name } => sh
            .store
            .get("source.toolkit.fluxcd.io/v1", "OCIRepository", ns, name)
            .and_then(|s| str_at(&s, "/status/artifact/revision").map(str::to_string)),
        ChartSource::Template { source_ns, .. } => sh
            .store
            .get(
                "source.toolkit.fluxcd.io/v1",
                "HelmChart",
                source_ns,
                &helmchart_name(&obj),
            )
            .and_then(|s| str_at(&s, "/status/artifact/revision").map(str::to_string)),
        _ => None,
    };
    if !(forced || st.waiting_deps || st.changed(&obj, src_rev.as_deref())) {
        return;
    }
    st.mark_attempt(&obj, src_rev.as_deref());
    let started = tokio::time::Instant::now();
    let generation = generation_of(&obj);
    let interval = util::interval_of(&obj, DEFAULT_INTERVAL);
    let mut status = status_map(&obj);
    let requested = annotation(&obj, REQUESTED_AT);
    // HC-CHARTTEMPLATE: status.helmChart once the HelmChart is applied.
    if let ChartSource::Template { source_ns, .. } = &src {
        status.insert(
            "helmChart".into(),
            json!(format!("{source_ns}/{}", helmchart_name(&obj))),
        );
    }

    // HC-STALLCLEAR: every reconcile starts with MarkReconciling
    // "Fulfilling prerequisites", which removes Stalled.
    util::mark_reconciling(
        &mut status,
        "Progressing",
        "Fulfilling prerequisites",
        generation,
    );
    sh.write_status(key, status.clone());

    // Reset / force requests (honoured only together with requestedAt).
    let reset = annotation(&obj, RESET_AT)
        .filter(|v| Some(*v) == requested)
        .filter(|v| status.get("lastHandledResetAt").and_then(Value::as_str) != Some(*v))
        .map(str::to_string);
    if let Some(v) = &reset {
        status.insert("lastHandledResetAt".into(), json!(v));
    }
    let force = annotation(&obj, FORCE_AT)
        .filter(|v| Some(*v) == requested)
        .filter(|v| status.get("lastHandledForceAt").and_then(Value::as_str) != Some(*v))
        .map(str::to_string);
    if let Some(v) = &force {
        status.insert("lastHandledForceAt".into(), json!(v));
    }

    // Dependencies first (Ready False DependencyNotReady, a wait).
    if let Err(m) = sh.check_dependencies(key, &obj) {
        sh.event(&obj, false, "DependencyNotReady", &m);
        halt_status(
            sh,
            key,
            &obj,
            status,
            halt("DependencyNotReady", m, true, false),
        );
        st.waiting_deps = true;
        st.requeue_after(sh.cfg.requeue_delay);
        return;
    }
    clear_stale_ready(&mut status, &["DependencyNotReady"], generation);

    let (chart, values) = match resolve(sh, &obj, &src) {
        Ok(r) => r,
        Err(h) => {
            // HC-SRC / HC-VALUES / HC-MUTATE: Ready False before any
            // lastAttempted* field is written; Reconciling stays Progressing.
            let wait = h.wait;
            halt_status(sh, key, &obj, status, h);
            st.requeue_after(if wait {
                sh.cfg.requeue_delay
            } else {
                sh.cfg.requeue_delay.saturating_mul(2)
            });
            return;
        }
    };
    clear_stale_ready(
        &mut status,
        &[
            "ArtifactFailed",
            "SourceNotReady",
            "ValuesError",
            "ChartMutateError",
        ],
        generation,
    );
    if chart.source_revision.is_some() {
        st.last_source_revision = chart.source_revision.clone();
    }
    let config_digest = util::sha256_digest(
        serde_json::to_string(&values)
            .unwrap_or_default()
            .as_bytes(),
    );
    let release_ns = str_at(&obj, "/spec/targetNamespace")
        .filter(|s| !s.is_empty())
        .unwrap_or(&key.ns)
        .to_string();
    status.insert(
        "storageNamespace".into(),
        json!(
            str_at(&obj, "/spec/storageNamespace")
                .filter(|s| !s.is_empty())
                .unwrap_or(&release_ns)
        ),
    );
    // HC-REMEDIATION: failure counters reset when the generation, the
    // (mutated) chart version or the values changed, or on a reset request.
    let must_reset = status
        .get("lastAttemptedGeneration")
        .and_then(Value::as_i64)
        != Some(generation)
        || status.get("lastAttemptedRevision").and_then(Value::as_str)
            != Some(chart.version.as_str())
        || status
            .get("lastAttemptedConfigDigest")
            .and_then(Value::as_str)
            .is_some_and(|d| d != config_digest)
        || reset.is_some();
    if must_reset {
        clear_failures(&mut status);
    }
    // HC-ATTEMPT.
    status.insert("lastAttemptedGeneration".into(), json!(generation));
    status.insert("lastAttemptedRevision".into(), json!(chart.version));
    match &chart.oci_digest {
        Some(d) => status.insert("lastAttemptedRevisionDigest".into(), json!(d)),
        None => status.remove("lastAttemptedRevisionDigest"),
    };
    status.insert("lastAttemptedConfigDigest".into(), json!(config_digest));
    status.remove("lastAttemptedValuesChecksum");

    let history: Vec<Value> = status
        .get("history")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let latest = history.first();
    let in_sync = latest.is_some_and(|h| {
        h.get("status").and_then(Value::as_str) == Some("deployed")
            && h.get("chartName").and_then(Value::as_str) == Some(chart.name.as_str())
            && h.get("chartVersion").and_then(Value::as_str) == Some(chart.version.as_str())
            && h.get("configDigest").and_then(Value::as_str) == Some(config_digest.as_str())
    }) && force.is_none();
    if in_sync {
        // HC-SUCCESS: nothing to do; Ready True, Reconciling removed.
        util::handle_request(&obj, &mut status);
        status.insert("observedGeneration".into(), json!(generation));
        remove_condition(&mut status, "Reconciling");
        if !util::is_ready(&obj) {
            let msg = condition(&status, "Released")
                .and_then(|c| c.get("message"))
                .and_then(Value::as_str)
                .unwrap_or("Helm release is up to date")
                .to_string();
            let reason = condition(&status, "Released")
                .and_then(|c| c.get("reason"))
                .and_then(Value::as_str)
                .filter(|r| r.ends_with("Succeeded"))
                .unwrap_or("UpgradeSucceeded")
                .to_string();
            set_condition(&mut status, "Ready", "True", &reason, &msg, generation);
            sh.record_ready(key, &chart.version);
        }
        sh.write_status(key, status);
        st.requeue_after(interval);
        return;
    }

    let ever_deployed = history.iter().any(|h| {
        matches!(
            h.get("status").and_then(Value::as_str),
            Some("deployed" | "superseded")
        )
    });
    let action = if ever_deployed { "upgrade" } else { "install" };
    let retries = obj
        .pointer(&format!("/spec/{action}/remediation/retries"))
        .and_then(Value::as_i64)
        .unwrap_or(i64::from(sh.cfg.helm_max_retries));
    let counter_key = if action == "install" {
        "installFailures"
    } else {
        "upgradeFailures"
    };
    let latest_failed =
        latest.is_some_and(|h| h.get("status").and_then(Value::as_str) == Some("failed"));
    if latest_failed && force.is_none() && retries >= 0 && counter(&status, counter_key) > retries {
        // HC-REMEDIATION: a failed release whose retries are exhausted (same
        // chart, values and generation): Stalled again, terminal.
        let last = status
            .get("lastAttemptedReleaseAction")
            .and_then(Value::as_str)
            .unwrap_or(action)
            .to_string();
        let msg = format!(
            "Failed to {last} after {} attempt(s)",
            counter(&status, counter_key)
        );
        util::handle_request(&obj, &mut status);
        util::mark_stalled(&mut status, "RetriesExceeded", &msg, generation);
        status.insert("observedGeneration".into(), json!(generation));
        sh.write_status(key, status);
        return;
    }
    let release_name = str_at(&obj, "/spec/releaseName")
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .unwrap_or_else(
            || match str_at(&obj, "/spec/targetNamespace").filter(|s| !s.is_empty()) {
                Some(tn) => format!("{tn}-{}", key.name),
                None => key.name.clone(),
            },
        );

    let progress_msg = format!("Running '{action}' action with timeout of 5m0s");
    util::mark_reconciling(&mut status, "Progressing", &progress_msg, generation);
    set_condition(
        &mut status,
        "Ready",
        "Unknown",
        "Progressing",
        &progress_msg,
        generation,
    );
    status.insert("lastAttemptedReleaseAction".into(), json!(action));
    sh.write_status(key, status.clone());

    let extra = annotation(&obj, SIM_DELAY)
        .or_else(|| chart.annotations.get(SIM_DELAY).and_then(Value::as_str))
        .and_then(util::parse_go_duration)
        .unwrap_or(Duration::ZERO);
    tokio::time::sleep(sh.cfg.progress_delay + extra).await;

    let chart_fail = chart
        .annotations
        .get(SIM_FAIL)
        .is_some_and(|v| v.as_str() == Some("true") || v.as_bool() == Some(true));
    let values_fail = values
        .get("simFail")
        .is_some_and(|v| v.as_bool() == Some(true) || v.as_str() == Some("true"));
    // fail-times knob (values `simFailTimes`, or the annotation on the
    // HelmRelease or the chart): only the first N attempts of this chart
    // and these values fail.
    let fail_times = values
        .get("simFailTimes")
        .and_then(|v| {
            v.as_u64()
                .or_else(|| v.as_str().and_then(|s| s.parse().ok()))
        })
        .or_else(|| {
            annotation(&obj, SIM_FAIL_TIMES)
                .or_else(|| {
                    chart
                        .annotations
                        .get(SIM_FAIL_TIMES)
                        .and_then(Value::as_str)
                })
                .and_then(|s| s.trim().parse().ok())
        });
    let attempt_key = format!("{}@{} {config_digest}", chart.name, chart.version);
    let (chart_fail, values_fail) = match fail_times {
        Some(n) if chart_fail || values_fail || values.get("simFailTimes").is_some() => {
            let count = st.fail_counts.entry(attempt_key).or_insert(0);
            let fail = u64::from(*count) < n;
            if fail {
                *count += 1;
            }
            (fail, false)
        }
        _ => (chart_fail, values_fail),
    };
    let now = util::now_k8s();
    let next_version = history
        .iter()
        .filter_map(|h| h.get("version").and_then(Value::as_i64))
        .max()
        .unwrap_or(0)
        + 1;
    let first_deployed = history
        .last()
        .and_then(|h| h.get("firstDeployed").cloned())
        .unwrap_or_else(|| json!(now));
    let release_digest = util::sha256_digest(
        format!(
            "{release_ns}/{release_name}.v{next_version}:{}@{}:{config_digest}",
            chart.name, chart.version
        )
        .as_bytes(),
    );
    let mut snapshot = json!({
        "name": release_name,
        "namespace": release_ns,
        "version": next_version,
        "chartName": chart.name,
        "chartVersion": chart.version,
        "appVersion": chart.app_version,
        "configDigest": config_digest,
        "digest": release_digest,
        "firstDeployed": first_deployed,
        "lastDeployed": now,
    });
    if let Some(d) = &chart.oci_digest {
        snapshot["ociDigest"] = json!(d);
    }
    let mut history = history;
    util::handle_request(&obj, &mut status);
    let chart_ref = format!("{}@{}", chart.name, chart.version);
    status.insert(
        "lastAttemptedReleaseActionDuration".into(),
        json!(util::format_go_duration(Duration::from_millis(
            started.elapsed().as_millis() as u64
        ))),
    );

    if chart_fail || values_fail {
        snapshot["status"] = json!("failed");
        history.insert(0, snapshot);
        truncate_history(&obj, &mut history);
        status.insert("history".into(), Value::Array(history));
        let (reason, counter_key) = if action == "install" {
            ("InstallFailed", "installFailures")
        } else {
            ("UpgradeFailed", "upgradeFailures")
        };
        let action_failures = counter(&status, counter_key) + 1;
        status.insert(counter_key.into(), json!(action_failures));
        status.insert("failures".into(), json!(counter(&status, "failures") + 1));
        let cause = obj
            .pointer("/spec/values/simMessage")
            .and_then(Value::as_str)
            .or_else(|| chart.annotations.get(SIM_MESSAGE).and_then(Value::as_str))
            .unwrap_or("simulated failure (sim.gitlab-flux.io/fail)")
            .to_string();
        let verb = if action == "install" {
            "install"
        } else {
            "upgrade"
        };
        let msg = format!(
            "Helm {verb} failed for release {release_ns}/{release_name} with chart {chart_ref}: {cause}"
        );
        set_condition(&mut status, "Released", "False", reason, &msg, generation);
        set_condition(&mut status, "Ready", "False", reason, &msg, generation);
        sh.event(&obj, true, reason, &msg);
        if retries >= 0 && action_failures > retries {
            // HC-REMEDIATION: retries exhausted (default retries 0: the first
            // failure): Stalled RetriesExceeded, terminal (observedGeneration
            // recorded, no requeue).
            let stalled_msg = format!("Failed to {action} after {action_failures} attempt(s)");
            util::mark_stalled(&mut status, "RetriesExceeded", &stalled_msg, generation);
            status.insert("observedGeneration".into(), json!(generation));
            sh.event(&obj, true, "RetriesExceeded", &stalled_msg);
            sh.write_status(key, status);
        } else {
            // HC-REMEDIATION: retries left: Reconciling ProgressingWithRetry
            // with Ready's message, requeued at once.
            util::mark_reconciling(&mut status, "ProgressingWithRetry", &msg, generation);
            sh.write_status(key, status);
            st.requeue_after(sh.cfg.requeue_delay);
        }
        return;
    }

    for h in history.iter_mut() {
        if h.get("status").and_then(Value::as_str) == Some("deployed") {
            h["status"] = json!("superseded");
        }
    }
    snapshot["status"] = json!("deployed");
    history.insert(0, snapshot);
    truncate_history(&obj, &mut history);
    status.insert("history".into(), Value::Array(history));
    clear_failures(&mut status);
    status.insert("lastReleaseRevision".into(), json!(next_version));
    status.insert("observedGeneration".into(), json!(generation));
    status.insert(
        "lastAttemptedReleaseActionDuration".into(),
        json!(util::format_go_duration(Duration::from_millis(
            started.elapsed().as_millis() as u64
        ))),
    );
    let (reason, verb) = if action == "install" {
        ("InstallSucceeded", "install")
    } else {
        ("UpgradeSucceeded", "upgrade")
    };
    let msg = format!(
        "Helm {verb} succeeded for release {release_ns}/{release_name}.v{next_version} with chart {chart_ref}"
    );
    remove_condition(&mut status, "Reconciling");
    remove_condition(&mut status, "Stalled");
    set_condition(&mut status, "Released", "True", reason, &msg, generation);
    set_condition(&mut status, "Ready", "True", reason, &msg, generation);
    sh.event(&obj, false, reason, &msg);
    sh.record_ready(key, &chart.version);
    sh.write_status(key, status);
    st.requeue_after(interval);
}

fn truncate_history(obj: &Value, history: &mut Vec<Value>) {
    let max = obj
        .pointer("/spec/maxHistory")
        .and_then(Value::as_i64)
        .filter(|m| *m > 0)
        .unwrap_or(5);
    history.truncate(usize::try_from(max).unwrap_or(5));
}

/// A stop before any release action: Ready False; the Reconciling
/// "Fulfilling prerequisites" condition stays (helm-controller does not
/// rewrite it), `lastHandledReconcileAt` is recorded (HC-TOKEN).
fn halt_status(sh: &Shared, key: &ObjKey, obj: &Value, mut status: Map<String, Value>, h: Halt) {
    let generation = generation_of(obj);
    util::handle_request(obj, &mut status);
    set_condition(
        &mut status,
        "Ready",
        "False",
        h.reason,
        &h.message,
        generation,
    );
    if h.event {
        sh.event(obj, true, h.reason, &h.message);
    }
    sh.write_status(key, status);
}

/// "Remove any stale corresponding Ready=False condition with Unknown".
fn clear_stale_ready(status: &mut Map<String, Value>, reasons: &[&str], generation: i64) {
    let stale = condition(status, "Ready")
        .and_then(|c| c.get("reason"))
        .and_then(Value::as_str)
        .is_some_and(|r| reasons.contains(&r));
    if stale {
        set_condition(
            status,
            "Ready",
            "Unknown",
            "Progressing",
            "reconciliation in progress",
            generation,
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // HC-MUTATE: mutateChartWithSourceRevision's three cases.
    #[test]
    fn chart_version_follows_the_source_revision() {
        let hex = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
        assert_eq!(
            mutate_chart_version("1.2.3", &format!("1.2.3@sha256:{hex}")),
            Ok(("1.2.3+0123456789ab".into(), format!("sha256:{hex}")))
        );
        assert_eq!(
            mutate_chart_version("1.2.3", &format!("v1.2.3_build.1@sha256:{hex}")),
            Ok(("1.2.3+0123456789ab".into(), format!("sha256:{hex}")))
        );
        assert_eq!(
            mutate_chart_version("1.2.3", &format!("main@sha256:{hex}")),
            Ok(("1.2.3+0123456789ab".into(), format!("main@sha256:{hex}")))
        );
        assert_eq!(
            mutate_chart_version("1.2.3", &format!("sha256:{hex}")),
            Ok(("1.2.3+0123456789ab".into(), format!("sha256:{hex}")))
        );
        assert_eq!(
            mutate_chart_version("1.2.3", &format!("1.2.4@sha256:{hex}")),
            Err("artifact revision 1.2.4 does not match chart version 1.2.3".into())
        );
    }

    #[test]
    fn reads_chart_metadata() -> anyhow::Result<()> {
        let (_, layer) = oci::helm_chart_package("demo", "1.2.3", &[], &[(SIM_FAIL, "true")])?;
        let (name, version, app, ann) = read_chart(&layer).map_err(anyhow::Error::msg)?;
        assert_eq!(
            (name.as_str(), version.as_str(), app.as_str()),
            ("demo", "1.2.3", "1.2.3")
        );
        assert_eq!(ann.get(SIM_FAIL).and_then(Value::as_str), Some("true"));
        let flux = oci::flux_tarball(&[("a.yaml", b"x")])?;
        let err = read_chart(&flux).err().unwrap_or_default();
        assert!(err.contains("Chart.yaml file is missing"), "{err}");
        Ok(())
    }
}
