//! helm-controller: HelmRelease installs/upgrades (simulated; no templates
//! are rendered), release history and remediation retries.

use std::sync::Arc;
use std::time::Duration;

use serde_json::{Map, Value, json};

use super::util::{
    self, FORCE_AT, REQUESTED_AT, RESET_AT, annotation, condition, generation_of, remove_condition,
    set_condition, status_map, str_at,
};
use super::{ObjKey, SIM_DELAY, SIM_FAIL, SIM_MESSAGE, Shared, WorkerState};
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
    Oci {
        ns: String,
        name: String,
    },
    Template {
        chart: String,
        version: String,
        source_ns: String,
    },
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
        let version = c
            .get("version")
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
            .unwrap_or("*")
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
        return ChartSource::Template {
            chart,
            version,
            source_ns,
        };
    }
    ChartSource::Unsupported("one of spec.chart or spec.chartRef is required".into())
}

/// Read `<chart>/Chart.yaml` from a chart tarball.
pub(crate) fn read_chart(
    layer: &[u8],
) -> Result<(String, String, String, Map<String, Value>), String> {
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

fn resolve(sh: &Shared, src: &ChartSource) -> Result<ResolvedChart, (&'static str, String)> {
    match src {
        ChartSource::Unsupported(m) => Err(("ArtifactFailed", m.clone())),
        ChartSource::Template { chart, version, .. } => {
            let v = crate::flux::source::lenient_version(version)
                .map(|v| v.to_string())
                .unwrap_or_else(|| "0.1.0".to_string());
            Ok(ResolvedChart {
                name: chart.clone(),
                version: v.clone(),
                app_version: v,
                annotations: Map::new(),
                oci_digest: None,
                source_revision: None,
            })
        }
        ChartSource::Oci { ns, name } => {
            let src = sh
                .store
                .get("source.toolkit.fluxcd.io/v1", "OCIRepository", ns, name)
                .ok_or_else(|| {
                    (
                        "ArtifactFailed",
                        format!("could not get source object: OCIRepository.source.toolkit.fluxcd.io \"{name}\" not found"),
                    )
                })?;
            let art = sh
                .artifact(ns, name)
                .filter(|_| src.pointer("/status/artifact").is_some())
                .ok_or_else(|| {
                    (
                        "SourceNotReady",
                        format!("OCIRepository '{ns}/{name}' is not ready: artifact not found"),
                    )
                })?;
            let (chart, version, app_version, annotations) =
                read_chart(&art.layer).map_err(|m| ("ArtifactFailed", m))?;
            let hex = art.manifest_digest.trim_start_matches("sha256:");
            let short = hex.get(..12).unwrap_or(hex);
            Ok(ResolvedChart {
                name: chart,
                version: format!("{version}+{short}"),
                app_version,
                annotations,
                oci_digest: Some(art.manifest_digest.clone()),
                source_revision: Some(art.revision.clone()),
            })
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
    let src_rev = match &src {
        ChartSource::Oci { ns, name } => sh
            .store
            .get("source.toolkit.fluxcd.io/v1", "OCIRepository", ns, name)
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

    // Reset / force requests (honoured only together with requestedAt).
    let reset = annotation(&obj, RESET_AT)
        .filter(|v| Some(*v) == requested)
        .filter(|v| status.get("lastHandledResetAt").and_then(Value::as_str) != Some(*v));
    if let Some(v) = reset {
        clear_failures(&mut status);
        remove_condition(&mut status, "Stalled");
        status.insert("lastHandledResetAt".into(), json!(v));
    }
    let force = annotation(&obj, FORCE_AT)
        .filter(|v| Some(*v) == requested)
        .filter(|v| status.get("lastHandledForceAt").and_then(Value::as_str) != Some(*v));
    if let Some(v) = force {
        status.insert("lastHandledForceAt".into(), json!(v));
    }

    let resolved = resolve(sh, &src);
    // A new generation or a new chart starts a fresh remediation budget.
    let new_target = status
        .get("lastAttemptedGeneration")
        .and_then(Value::as_i64)
        != Some(generation)
        || resolved.as_ref().ok().map(|c| c.version.as_str())
            != status.get("lastAttemptedRevision").and_then(Value::as_str);
    if new_target {
        clear_failures(&mut status);
        remove_condition(&mut status, "Stalled");
    }
    let stalled = condition(&status, "Stalled")
        .and_then(|c| c.get("status"))
        .and_then(Value::as_str)
        == Some("True");
    if stalled {
        // Retries exhausted: wait for a new generation, chart or reset.
        util::handle_request(&obj, &mut status);
        sh.write_status(key, status);
        return;
    }

    let chart = match resolved {
        Ok(c) => {
            if c.source_revision.is_some() {
                st.last_source_revision = c.source_revision.clone();
            }
            c
        }
        Err((reason, msg)) => {
            fail_soft(sh, key, &obj, status, reason, &msg, generation);
            st.requeue_after(sh.cfg.requeue_delay);
            return;
        }
    };
    if let Err(m) = sh.check_dependencies(key, &obj) {
        fail_soft(sh, key, &obj, status, "DependencyNotReady", &m, generation);
        st.waiting_deps = true;
        st.requeue_after(sh.cfg.requeue_delay);
        return;
    }
    if let ChartSource::Template { source_ns, .. } = &src {
        status.insert(
            "helmChart".into(),
            json!(format!("{source_ns}/{}-{}", key.ns, key.name)),
        );
    }

    let values = obj
        .pointer("/spec/values")
        .cloned()
        .unwrap_or_else(|| json!({}));
    let config_digest = util::sha256_digest(
        serde_json::to_string(&values)
            .unwrap_or_default()
            .as_bytes(),
    );
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
        util::handle_request(&obj, &mut status);
        status.insert("observedGeneration".into(), json!(generation));
        status.insert("lastAttemptedGeneration".into(), json!(generation));
        remove_condition(&mut status, "Reconciling");
        if !util::is_ready(&obj) {
            let msg = condition(&status, "Released")
                .and_then(|c| c.get("message"))
                .and_then(Value::as_str)
                .unwrap_or("Helm release is up to date")
                .to_string();
            set_condition(
                &mut status,
                "Ready",
                "True",
                "UpgradeSucceeded",
                &msg,
                generation,
            );
            sh.record_ready(key, &chart.version);
        } else {
            let (reason, msg) = condition(&status, "Ready")
                .map(|c| {
                    (
                        c["reason"]
                            .as_str()
                            .unwrap_or("UpgradeSucceeded")
                            .to_string(),
                        c["message"].as_str().unwrap_or("").to_string(),
                    )
                })
                .unwrap_or_default();
            set_condition(&mut status, "Ready", "True", &reason, &msg, generation);
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
    let release_ns = str_at(&obj, "/spec/targetNamespace")
        .filter(|s| !s.is_empty())
        .unwrap_or(&key.ns)
        .to_string();
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
    set_condition(
        &mut status,
        "Reconciling",
        "True",
        "Progressing",
        &progress_msg,
        generation,
    );
    set_condition(
        &mut status,
        "Ready",
        "Unknown",
        "Progressing",
        &progress_msg,
        generation,
    );
    status.insert("lastAttemptedRevision".into(), json!(chart.version));
    match &chart.oci_digest {
        Some(d) => status.insert("lastAttemptedRevisionDigest".into(), json!(d)),
        None => status.remove("lastAttemptedRevisionDigest"),
    };
    status.insert("lastAttemptedGeneration".into(), json!(generation));
    status.insert("lastAttemptedReleaseAction".into(), json!(action));
    status.insert("lastAttemptedConfigDigest".into(), json!(config_digest));
    status.insert(
        "lastAttemptedValuesChecksum".into(),
        json!(config_digest.trim_start_matches("sha256:")),
    );
    status.insert("storageNamespace".into(), json!(release_ns));
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
        let retries = obj
            .pointer(&format!("/spec/{action}/remediation/retries"))
            .and_then(Value::as_i64)
            .unwrap_or(i64::from(sh.cfg.helm_max_retries));
        sh.event(&obj, true, reason, &msg);
        if action_failures > retries.max(0) {
            let stalled_msg = format!("Failed to {action} after {action_failures} attempt(s)");
            remove_condition(&mut status, "Reconciling");
            set_condition(
                &mut status,
                "Stalled",
                "True",
                "RetriesExceeded",
                &stalled_msg,
                generation,
            );
            status.insert("observedGeneration".into(), json!(generation));
            sh.event(&obj, true, "RetriesExceeded", &stalled_msg);
            sh.write_status(key, status);
        } else {
            set_condition(
                &mut status,
                "Reconciling",
                "True",
                "ProgressingWithRetry",
                &progress_msg,
                generation,
            );
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

/// A failure before any release action: Ready False, Reconciling kept
/// with `ProgressingWithRetry`.
fn fail_soft(
    sh: &Shared,
    key: &ObjKey,
    obj: &Value,
    mut status: Map<String, Value>,
    reason: &str,
    msg: &str,
    generation: i64,
) {
    util::handle_request(obj, &mut status);
    set_condition(
        &mut status,
        "Reconciling",
        "True",
        "ProgressingWithRetry",
        "Reconciliation in progress",
        generation,
    );
    set_condition(&mut status, "Ready", "False", reason, msg, generation);
    sh.event(obj, true, reason, msg);
    sh.write_status(key, status);
}

#[cfg(test)]
mod tests {
    use super::*;

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
