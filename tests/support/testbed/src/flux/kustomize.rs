//! kustomize-controller: Kustomization applying an OCIRepository artifact
//! into the store.

use std::sync::Arc;
use std::time::Duration;

use serde_json::{Map, Value, json};
use tokio::time::Instant;

use super::util::{
    self, annotation, generation_of, remove_condition, set_condition, status_map, str_at,
};
use super::{ObjKey, SIM_DELAY, SIM_FAIL, SIM_FAIL_TIMES, SIM_MESSAGE, Shared, WorkerState};
use crate::oci;

const DEFAULT_INTERVAL: Duration = Duration::from_secs(600);
const FIELD_MANAGER_LABEL_NAME: &str = "kustomize.toolkit.fluxcd.io/name";
const FIELD_MANAGER_LABEL_NS: &str = "kustomize.toolkit.fluxcd.io/namespace";

/// How a failed reconcile ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Requeue {
    /// `spec.retryInterval` (KC-RETRY).
    Retry,
    /// The controller's dependency requeue interval (KC-SRC, KC-DEP).
    Dependency,
    /// Terminal: Stalled, no requeue.
    Never,
}

/// Why a reconcile failed: Ready False with this reason and message.
struct Failure {
    reason: &'static str,
    message: String,
    requeue: Requeue,
    /// Set when objects were applied before the failure (health checks).
    inventory: Option<Vec<Value>>,
    /// Set when a build happened (history).
    build_digest: Option<String>,
    /// Message of the Healthy condition (health check failures).
    healthy_message: Option<String>,
}

impl Failure {
    fn new(reason: &'static str, message: impl Into<String>, requeue: Requeue) -> Failure {
        Failure {
            reason,
            message: message.into(),
            requeue,
            inventory: None,
            build_digest: None,
            healthy_message: None,
        }
    }
}

/// What a successful apply produced.
struct Applied {
    inventory: Vec<Value>,
    changes: Vec<String>,
    build_digest: String,
    health_checked: bool,
}

/// The source reference as `(kind, namespace, name)`.
fn source_ref(obj: &Value, own_ns: &str) -> (String, String, String) {
    let kind = str_at(obj, "/spec/sourceRef/kind")
        .unwrap_or("")
        .to_string();
    let name = str_at(obj, "/spec/sourceRef/name")
        .unwrap_or("")
        .to_string();
    let ns = str_at(obj, "/spec/sourceRef/namespace")
        .filter(|s| !s.is_empty())
        .unwrap_or(own_ns)
        .to_string();
    (kind, ns, name)
}

/// `spec.timeout`, else `spec.interval` (kustomize-controller `GetTimeout`).
fn timeout_of(obj: &Value, interval: Duration) -> Duration {
    str_at(obj, "/spec/timeout")
        .and_then(util::parse_go_duration)
        .filter(|d| !d.is_zero())
        .unwrap_or(interval)
}

pub(crate) async fn reconcile(
    sh: &Arc<Shared>,
    key: &ObjKey,
    obj: Value,
    st: &mut WorkerState,
    forced: bool,
) {
    let (src_kind, src_ns, src_name) = source_ref(&obj, &key.ns);
    let src_obj = (src_kind == "OCIRepository")
        .then(|| {
            sh.store.get(
                "source.toolkit.fluxcd.io/v1",
                "OCIRepository",
                &src_ns,
                &src_name,
            )
        })
        .flatten();
    let src_rev = src_obj
        .as_ref()
        .and_then(|s| str_at(s, "/status/artifact/revision").map(str::to_string));
    if !(forced || st.waiting_deps || st.changed(&obj, src_rev.as_deref())) {
        return;
    }
    st.mark_attempt(&obj, src_rev.as_deref());
    let started = Instant::now();
    let generation = generation_of(&obj);
    let interval = util::interval_of(&obj, DEFAULT_INTERVAL);
    let retry_interval = str_at(&obj, "/spec/retryInterval")
        .and_then(util::parse_go_duration)
        .filter(|d| !d.is_zero())
        .unwrap_or(interval);
    let requeue = sh.cfg.requeue_delay;
    let was_ready = util::is_ready(&obj);
    let prev_applied = str_at(&obj, "/status/lastAppliedRevision").map(str::to_string);
    let mut status = status_map(&obj);

    let result = attempt(sh, key, &obj, st, &mut status, src_obj.as_ref(), interval).await;
    let elapsed = started.elapsed();
    let revision = src_rev.clone().unwrap_or_default();
    match result {
        Ok(a) => {
            // KC-SUCCESS: Ready True, lastAppliedRevision (+ origin),
            // inventory, history; finalizeStatus drops Reconciling and
            // records observedGeneration (KC-GEN).
            let origin = sh.artifact(&src_ns, &src_name).and_then(|art| {
                art.annotations
                    .get(oci::ANN_REVISION)
                    .and_then(Value::as_str)
                    .map(str::to_string)
            });
            status.insert("lastAppliedRevision".into(), json!(revision));
            match &origin {
                Some(o) => status.insert("lastAppliedOriginRevision".into(), json!(o)),
                None => status.remove("lastAppliedOriginRevision"),
            };
            status.insert("inventory".into(), json!({"entries": a.inventory}));
            if !a.health_checked {
                remove_condition(&mut status, "Healthy");
            }
            push_history(
                &mut status,
                &a.build_digest,
                "ReconciliationSucceeded",
                &revision,
                origin.as_deref(),
                elapsed,
            );
            let msg = format!("Applied revision: {revision}");
            set_condition(
                &mut status,
                "Ready",
                "True",
                "ReconciliationSucceeded",
                &msg,
                generation,
            );
            finalize_status(&obj, &mut status, generation);
            if !a.changes.is_empty() {
                sh.event(&obj, false, "Progressing", &a.changes.join("\n"));
            }
            sh.event(
                &obj,
                false,
                "ReconciliationSucceeded",
                &format!(
                    "Reconciliation finished in {}, next run in {}",
                    util::format_go_duration(Duration::from_millis(elapsed.as_millis() as u64)),
                    util::format_go_duration(interval)
                ),
            );
            if !was_ready || prev_applied.as_deref() != Some(revision.as_str()) {
                sh.record_ready(key, &revision);
            }
            st.fail_counts.clear();
            sh.write_status(key, status);
            st.requeue_after(interval);
        }
        Err(f) => {
            if let Some(inv) = &f.inventory {
                status.insert("inventory".into(), json!({"entries": inv}));
            }
            if let Some(d) = &f.build_digest {
                push_history(&mut status, d, f.reason, &revision, None, elapsed);
            }
            if let Some(m) = &f.healthy_message {
                set_condition(&mut status, "Healthy", "False", f.reason, m, generation);
            }
            set_condition(
                &mut status,
                "Ready",
                "False",
                f.reason,
                &f.message,
                generation,
            );
            if f.requeue == Requeue::Never {
                // KC-RETRY: a failure the controller will not retry.
                util::mark_stalled(&mut status, f.reason, &f.message, generation);
            }
            // KC-RETRY: a surviving Reconciling turns ProgressingWithRetry.
            finalize_status(&obj, &mut status, generation);
            match f.reason {
                "DependencyNotReady" => {
                    st.waiting_deps = true;
                    sh.event(
                        &obj,
                        false,
                        "DependencyNotReady",
                        &format!(
                            "Dependencies do not meet ready condition, retrying in {}",
                            util::format_go_duration(requeue)
                        ),
                    );
                }
                // Source waits are logged, not broadcast.
                "ArtifactFailed" if f.requeue == Requeue::Dependency => {}
                _ => sh.event(&obj, true, f.reason, &f.message),
            }
            sh.write_status(key, status);
            match f.requeue {
                Requeue::Retry => st.requeue_after(retry_interval),
                Requeue::Dependency => st.requeue_after(requeue),
                Requeue::Never => {}
            }
        }
    }
}

/// kustomize-controller `finalizeStatus`: `lastHandledReconcileAt` from the
/// request annotation (KC-TOKEN); on Ready True, Reconciling removed and
/// `observedGeneration` recorded (KC-GEN); on Ready False, a remaining
/// Reconciling takes the reason ProgressingWithRetry (KC-RETRY).
fn finalize_status(obj: &Value, status: &mut Map<String, Value>, generation: i64) {
    util::handle_request(obj, status);
    let ready = util::condition(status, "Ready")
        .and_then(|c| c.get("status"))
        .and_then(Value::as_str)
        .map(str::to_string);
    match ready.as_deref() {
        Some("True") => {
            remove_condition(status, "Reconciling");
            status.insert("observedGeneration".into(), json!(generation));
        }
        Some("False") => util::retry_reconciling(status, generation),
        _ => {}
    }
}

/// Write an intermediate status (the controller patches as it progresses).
fn patch(sh: &Shared, key: &ObjKey, status: &Map<String, Value>) {
    sh.write_status(key, status.clone());
}

/// The reconcile proper, in kustomize-controller's order.
async fn attempt(
    sh: &Arc<Shared>,
    key: &ObjKey,
    obj: &Value,
    st: &mut WorkerState,
    status: &mut Map<String, Value>,
    src_obj: Option<&Value>,
    interval: Duration,
) -> Result<Applied, Failure> {
    let generation = generation_of(obj);
    let requeue = util::format_go_duration(sh.cfg.requeue_delay);
    let (src_kind, src_ns, src_name) = source_ref(obj, &key.ns);
    // KC-SRC: the source object. Kinds the simulator does not serve read as
    // missing sources.
    let Some(src_obj) = src_obj else {
        let msg = match src_kind.as_str() {
            "OCIRepository" => {
                format!("ocirepositories.source.toolkit.fluxcd.io \"{src_name}\" not found")
            }
            "GitRepository" | "Bucket" | "ExternalArtifact" => format!(
                "{}.source.toolkit.fluxcd.io \"{src_name}\" not found (the simulator serves only OCIRepository)",
                src_kind.to_ascii_lowercase() + "s"
            ),
            other => format!("source `{src_name}` kind '{other}' not supported"),
        };
        return Err(Failure::new("ArtifactFailed", msg, Requeue::Retry));
    };
    // KC-SRC: no artifact yet: transient, retried at the dependency interval.
    if src_obj.pointer("/status/artifact").is_none() {
        return Err(Failure::new(
            "ArtifactFailed",
            format!("Source artifact not found, retrying in {requeue}"),
            Requeue::Dependency,
        ));
    }
    let revision = str_at(src_obj, "/status/artifact/revision")
        .unwrap_or("")
        .to_string();
    // KC-DEP: dependencies, before anything is marked as progressing.
    check_dependencies(sh, key, obj, &src_ns, &src_name, &revision)
        .map_err(|m| Failure::new("DependencyNotReady", m, Requeue::Dependency))?;

    // KC-ATTEMPT: Ready Unknown + Reconciling "Fetching manifests ...";
    // lastAttemptedRevision is NOT written yet.
    let timeout = util::format_go_duration(timeout_of(obj, interval));
    set_condition(
        status,
        "Ready",
        "Unknown",
        "Progressing",
        "Reconciliation in progress",
        generation,
    );
    util::mark_reconciling(
        status,
        "Progressing",
        &format!("Fetching manifests for revision {revision} with a timeout of {timeout}"),
        generation,
    );
    patch(sh, key, status);

    // KC-DOWNLOAD: the artifact tarball from source-controller's storage.
    let artifact = sh
        .artifact(&src_ns, &src_name)
        .filter(|a| a.revision == revision)
        .ok_or_else(|| {
            Failure::new(
                "ArtifactFailed",
                format!("Source is not ready, artifact not found, retrying in {requeue}"),
                Requeue::Dependency,
            )
        })?;
    let files = oci::unpack_tar_gz(&artifact.layer).map_err(|e| {
        Failure::new(
            "ArtifactFailed",
            format!("failed to untar artifact: {e:#}"),
            Requeue::Retry,
        )
    })?;
    // KC-PATH: spec.path must exist in the artifact; still before
    // lastAttemptedRevision.
    let raw_path = str_at(obj, "/spec/path").unwrap_or("./");
    let prefix = normalize_path(raw_path);
    let tmp = "/tmp/kustomization-1234567890";
    if !path_exists(&files, &prefix) {
        return Err(Failure::new(
            "ArtifactFailed",
            format!("kustomization path not found: stat {tmp}/{prefix}: no such file or directory"),
            Requeue::Retry,
        ));
    }
    // KC-ATTEMPT: now lastAttemptedRevision, "Building manifests ...".
    status.insert("lastAttemptedRevision".into(), json!(revision));
    util::mark_reconciling(
        status,
        "Progressing",
        &format!("Building manifests for revision {revision} with a timeout of {timeout}"),
        generation,
    );
    patch(sh, key, status);
    tokio::time::sleep(sh.cfg.progress_delay).await;

    // KC-BUILD.
    let docs = build(obj, &files).map_err(|m| Failure::new("BuildFailed", m, Requeue::Retry))?;
    let build_digest =
        util::sha256_digest(serde_json::to_string(&docs).unwrap_or_default().as_bytes());
    let with_digest = |mut f: Failure| {
        f.build_digest = Some(build_digest.clone());
        f
    };
    util::mark_reconciling(
        status,
        "Progressing",
        &format!("Detecting drift for revision {revision} with a timeout of {timeout}"),
        generation,
    );
    patch(sh, key, status);

    // Knobs: extra apply time, then the failures asked for.
    let mut extra = Duration::ZERO;
    for d in &docs {
        if let Some(dl) = annotation(d, SIM_DELAY).and_then(util::parse_go_duration) {
            extra = extra.max(dl);
        }
    }
    if !extra.is_zero() {
        tokio::time::sleep(extra).await;
    }
    let target_ns = str_at(obj, "/spec/targetNamespace").filter(|s| !s.is_empty());
    let mut health_failure: Option<Failure> = None;
    for d in &docs {
        let Some(verdict) = annotation(d, SIM_FAIL) else {
            continue;
        };
        let id = object_ref(d, target_ns.or(Some(&key.ns)));
        // fail-times: the failure happens on the first N attempts of this
        // revision only.
        if let Some(n) = annotation(d, SIM_FAIL_TIMES).and_then(|v| v.trim().parse::<u32>().ok()) {
            let count = st
                .fail_counts
                .entry(format!("{revision} {id}"))
                .or_insert(0);
            if *count >= n {
                continue;
            }
            *count += 1;
        }
        let custom = annotation(d, SIM_MESSAGE).map(str::to_string);
        match verdict {
            "HealthCheckFailed" => {
                let raw = custom
                    .clone()
                    .unwrap_or_else(|| format!("timeout waiting for: [{id} status: 'InProgress']"));
                let msg = custom.unwrap_or_else(|| {
                    format!(
                        "health check failed after {}: {raw}",
                        util::format_go_duration(timeout_of(obj, interval))
                    )
                });
                let mut f = Failure::new("HealthCheckFailed", msg, Requeue::Retry);
                f.healthy_message = Some(raw);
                health_failure.get_or_insert(f);
            }
            "AccessDenied" => {
                let msg = custom
                    .unwrap_or_else(|| format!("{id} apply failed: access denied (simulated)"));
                return Err(with_digest(Failure::new(
                    "AccessDenied",
                    msg,
                    Requeue::Never,
                )));
            }
            "BuildFailed" => {
                let msg = custom
                    .unwrap_or_else(|| format!("kustomize build failed: {id}: simulated failure"));
                return Err(Failure::new("BuildFailed", msg, Requeue::Retry));
            }
            "PruneFailed" => {
                let msg = custom.unwrap_or_else(|| format!("{id} prune failed: simulated failure"));
                return Err(with_digest(Failure::new(
                    "PruneFailed",
                    msg,
                    Requeue::Retry,
                )));
            }
            _ => {
                let msg = custom.unwrap_or_else(|| {
                    format!("{id} dry-run failed: simulated failure ({SIM_FAIL}: {verdict})")
                });
                return Err(with_digest(Failure::new(
                    "ReconciliationFailed",
                    msg,
                    Requeue::Retry,
                )));
            }
        }
    }

    // KC-APPLY.
    let (inventory, changes) = apply_all(sh, key, obj, docs, target_ns)
        .map_err(|m| with_digest(Failure::new("ReconciliationFailed", m, Requeue::Retry)))?;
    let mut changes = changes;
    if util::bool_at(obj, "/spec/prune") {
        changes.extend(prune(sh, obj, &inventory));
    }
    // KC-HEALTH: with spec.wait or spec.healthChecks (or the knob), a
    // "Running health checks" phase and a Healthy condition.
    let wants_health = util::bool_at(obj, "/spec/wait")
        || obj
            .pointer("/spec/healthChecks")
            .and_then(Value::as_array)
            .is_some_and(|a| !a.is_empty());
    if wants_health || health_failure.is_some() {
        let msg =
            format!("Running health checks for revision {revision} with a timeout of {timeout}");
        util::mark_reconciling(status, "Progressing", &msg, generation);
        set_condition(
            status,
            "Healthy",
            "Unknown",
            "Progressing",
            &msg,
            generation,
        );
        patch(sh, key, status);
    }
    if let Some(mut f) = health_failure {
        f.inventory = Some(inventory);
        return Err(with_digest(f));
    }
    if wants_health {
        set_condition(
            status,
            "Healthy",
            "True",
            "Succeeded",
            "Health check passed in 0s",
            generation,
        );
    }
    Ok(Applied {
        inventory,
        changes,
        build_digest,
        health_checked: wants_health,
    })
}

/// Whether `prefix` names the artifact root, a directory or a file in it.
fn path_exists(files: &[(String, Vec<u8>)], prefix: &str) -> bool {
    prefix.is_empty()
        || files
            .iter()
            .any(|(p, _)| p == prefix || p.starts_with(&format!("{prefix}/")))
}

/// kustomize-controller `checkDependencies` (KC-DEP): each dependency must
/// exist, have reconciled its generation, be Ready, and, when it shares
/// this Kustomization's source, have applied the source's current revision.
fn check_dependencies(
    sh: &Shared,
    key: &ObjKey,
    obj: &Value,
    src_ns: &str,
    src_name: &str,
    revision: &str,
) -> Result<(), String> {
    let deps = obj
        .pointer("/spec/dependsOn")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    for d in deps {
        let Some(name) = d.get("name").and_then(Value::as_str) else {
            continue;
        };
        let ns = d
            .get("namespace")
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
            .unwrap_or(&key.ns);
        let Some(dep) = sh
            .store
            .get(key.kind.api_version(), key.kind.kind(), ns, name)
        else {
            return Err(format!(
                "dependency '{ns}/{name}' not found: kustomizations.kustomize.toolkit.fluxcd.io \"{name}\" not found"
            ));
        };
        let observed = dep
            .pointer("/status/observedGeneration")
            .and_then(Value::as_i64);
        let has_conditions = dep
            .pointer("/status/conditions")
            .and_then(Value::as_array)
            .is_some_and(|c| !c.is_empty());
        let ready = util::condition(&status_map(&dep), "Ready")
            .and_then(|c| c.get("status"))
            .and_then(Value::as_str)
            == Some("True");
        if !has_conditions || observed != Some(generation_of(&dep)) || !ready {
            return Err(format!("dependency '{ns}/{name}' is not ready"));
        }
        let (dk, dns, dname) = source_ref(&dep, ns);
        if dk == "OCIRepository"
            && dns == src_ns
            && dname == src_name
            && str_at(&dep, "/status/lastAppliedRevision") != Some(revision)
        {
            return Err(format!(
                "dependency '{ns}/{name}' revision is not up to date"
            ));
        }
    }
    Ok(())
}

fn push_history(
    status: &mut Map<String, Value>,
    digest: &str,
    outcome: &str,
    revision: &str,
    origin: Option<&str>,
    elapsed: Duration,
) {
    let now = util::now_k8s();
    let mut hist: Vec<Value> = status
        .get("history")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let duration = util::format_go_duration(Duration::from_millis(elapsed.as_millis() as u64));
    let mut metadata = json!({"revision": revision});
    if let Some(o) = origin {
        metadata["originRevision"] = json!(o);
    }
    let same = hist.first().is_some_and(|h| {
        h.get("digest").and_then(Value::as_str) == Some(digest)
            && h.get("lastReconciledStatus").and_then(Value::as_str) == Some(outcome)
    });
    if same {
        let h = &mut hist[0];
        let total = h
            .get("totalReconciliations")
            .and_then(Value::as_i64)
            .unwrap_or(0)
            + 1;
        h["lastReconciled"] = json!(now);
        h["lastReconciledDuration"] = json!(duration);
        h["totalReconciliations"] = json!(total);
        h["metadata"] = metadata;
    } else {
        hist.insert(
            0,
            json!({
                "digest": digest,
                "firstReconciled": now,
                "lastReconciled": now,
                "lastReconciledDuration": duration,
                "lastReconciledStatus": outcome,
                "metadata": metadata,
                "totalReconciliations": 1,
            }),
        );
        hist.truncate(5);
    }
    status.insert("history".into(), Value::Array(hist));
}

/// `Kind/ns/name` (or `Kind/name` for objects without a namespace).
fn object_ref(d: &Value, default_ns: Option<&str>) -> String {
    let kind = d.get("kind").and_then(Value::as_str).unwrap_or("");
    let name = util::name_of(d);
    match util::meta_str(d, "namespace").or(default_ns) {
        Some(ns) if !ns.is_empty() => format!("{kind}/{ns}/{name}"),
        _ => format!("{kind}/{name}"),
    }
}

/// Normalize `spec.path` (`./apps/` → `apps`, `./` → ``).
fn normalize_path(p: &str) -> String {
    p.split('/')
        .filter(|c| !c.is_empty() && *c != ".")
        .collect::<Vec<_>>()
        .join("/")
}

/// "kustomize build": every `.yaml`/`.yml` under `spec.path`, all documents,
/// in path order; kustomize config files (`kustomization.yaml`) are skipped.
pub(crate) fn build(obj: &Value, files: &[(String, Vec<u8>)]) -> Result<Vec<Value>, String> {
    let raw_path = str_at(obj, "/spec/path").unwrap_or("./");
    let prefix = normalize_path(raw_path);
    if prefix.split('/').any(|c| c == "..") {
        return Err(format!(
            "path '{raw_path}' is not allowed to traverse outside the artifact"
        ));
    }
    let under = |p: &str| prefix.is_empty() || p == prefix || p.starts_with(&format!("{prefix}/"));
    let mut selected: Vec<&(String, Vec<u8>)> = files.iter().filter(|(p, _)| under(p)).collect();
    if selected.is_empty() {
        return Err(format!(
            "kustomization path not found: stat /tmp/kustomization-sim/{prefix}: no such file or directory"
        ));
    }
    selected.sort_by(|a, b| a.0.cmp(&b.0));
    let mut docs = Vec::new();
    for (path, bytes) in selected {
        let lower = path.to_ascii_lowercase();
        if !(lower.ends_with(".yaml") || lower.ends_with(".yml")) {
            continue;
        }
        let base = lower.rsplit('/').next().unwrap_or("");
        if base == "kustomization.yaml" || base == "kustomization.yml" {
            continue;
        }
        let text = std::str::from_utf8(bytes)
            .map_err(|_| format!("kustomize build failed: {path}: invalid UTF-8"))?;
        let parsed: Vec<Value> = serde_saphyr::from_multiple(text).map_err(|e| {
            format!("kustomize build failed: accumulating resources from '{path}': {e}")
        })?;
        for d in parsed {
            if d.is_null() {
                continue;
            }
            if !d.is_object() {
                return Err(format!(
                    "kustomize build failed: accumulating resources from '{path}': missing Resource metadata"
                ));
            }
            let api = d.get("apiVersion").and_then(Value::as_str).unwrap_or("");
            if api.starts_with("kustomize.config.k8s.io") {
                continue;
            }
            if api.is_empty()
                || d.get("kind")
                    .and_then(Value::as_str)
                    .is_none_or(str::is_empty)
            {
                return Err(format!(
                    "kustomize build failed: accumulating resources from '{path}': missing apiVersion or kind"
                ));
            }
            if util::name_of(&d).is_empty() {
                return Err(format!(
                    "kustomize build failed: accumulating resources from '{path}': missing metadata.name in {api}/{}",
                    d["kind"].as_str().unwrap_or("")
                ));
            }
            docs.push(d);
        }
    }
    Ok(docs)
}

fn apply_rank(d: &Value) -> u8 {
    match d.get("kind").and_then(Value::as_str) {
        Some("Namespace") => 0,
        Some("CustomResourceDefinition") => 1,
        _ => 2,
    }
}

fn group_of(api_version: &str) -> &str {
    match api_version.split_once('/') {
        Some((g, _)) => g,
        None => "",
    }
}

fn version_of(api_version: &str) -> &str {
    match api_version.split_once('/') {
        Some((_, v)) => v,
        None => api_version,
    }
}

/// Create or update every object in the store; returns the inventory and
/// the change set lines.
fn apply_all(
    sh: &Shared,
    key: &ObjKey,
    ks: &Value,
    mut docs: Vec<Value>,
    target_ns: Option<&str>,
) -> Result<(Vec<Value>, Vec<String>), String> {
    docs.sort_by_key(apply_rank);
    let mut inventory = Vec::new();
    let mut changes = Vec::new();
    for mut d in docs {
        let api = d["apiVersion"].as_str().unwrap_or("").to_string();
        let kind = d["kind"].as_str().unwrap_or("").to_string();
        let name = util::name_of(&d).to_string();
        let Some(rk) = sh.store.kinds().by_kind(&api, &kind) else {
            return Err(format!(
                "{kind}/{name} dry-run failed: no matches for kind \"{kind}\" in version \"{api}\""
            ));
        };
        let ns = if rk.namespaced {
            let ns = target_ns
                .or(util::meta_str(&d, "namespace").filter(|s| !s.is_empty()))
                .unwrap_or(&key.ns)
                .to_string();
            d["metadata"]["namespace"] = json!(ns);
            ns
        } else {
            if let Some(m) = d["metadata"].as_object_mut() {
                m.remove("namespace");
            }
            String::new()
        };
        if !d["metadata"].get("labels").is_some_and(Value::is_object) {
            d["metadata"]["labels"] = json!({});
        }
        d["metadata"]["labels"][FIELD_MANAGER_LABEL_NAME] = json!(util::name_of(ks));
        d["metadata"]["labels"][FIELD_MANAGER_LABEL_NS] = json!(util::ns_of(ks));
        let id = if ns.is_empty() {
            format!("{kind}/{name}")
        } else {
            format!("{kind}/{ns}/{name}")
        };
        let outcome = apply_one(sh, &api, &kind, &ns, &name, d)
            .map_err(|e| format!("{id} dry-run failed: {e}"))?;
        if outcome != "unchanged" {
            changes.push(format!("{id} {outcome}"));
        }
        inventory.push(json!({
            "id": format!("{ns}_{name}_{}_{kind}", group_of(&api)),
            "v": version_of(&api),
        }));
    }
    Ok((inventory, changes))
}

/// Server-side-apply-ish: create, or merge into the existing object.
fn apply_one(
    sh: &Shared,
    api: &str,
    kind: &str,
    ns: &str,
    name: &str,
    desired: Value,
) -> Result<&'static str, String> {
    for _ in 0..5 {
        match sh.store.get(api, kind, ns, name) {
            None => match sh.store.create(desired.clone()) {
                Ok(created) => {
                    simulate_workload_status(sh, &created);
                    return Ok("created");
                }
                Err(crate::apiserver::StoreError::AlreadyExists) => continue,
                Err(e) => return Err(e.to_string()),
            },
            Some(existing) => {
                let mut merged = existing.clone();
                if let (Some(m), Some(dm)) = (merged.as_object_mut(), desired.as_object()) {
                    for (k, v) in dm {
                        if k == "metadata" || k == "status" {
                            continue;
                        }
                        m.insert(k.clone(), v.clone());
                    }
                }
                for field in ["labels", "annotations"] {
                    if let Some(want) = desired["metadata"].get(field).and_then(Value::as_object) {
                        if !merged["metadata"].get(field).is_some_and(Value::is_object) {
                            merged["metadata"][field] = json!({});
                        }
                        for (k, v) in want {
                            merged["metadata"][field][k] = v.clone();
                        }
                    }
                }
                if merged == existing {
                    return Ok("unchanged");
                }
                match sh.store.update(merged) {
                    Ok(updated) => {
                        simulate_workload_status(sh, &updated);
                        return Ok("configured");
                    }
                    Err(crate::apiserver::StoreError::Conflict) => continue,
                    Err(e) => return Err(e.to_string()),
                }
            }
        }
    }
    Err("too many conflicts".into())
}

/// Give applied Deployments/StatefulSets a rolled-out status so kstatus
/// considers them Current.
fn simulate_workload_status(sh: &Shared, obj: &Value) {
    let kind = obj.get("kind").and_then(Value::as_str).unwrap_or("");
    let api = obj.get("apiVersion").and_then(Value::as_str).unwrap_or("");
    if api != "apps/v1" || !matches!(kind, "Deployment" | "StatefulSet") {
        return;
    }
    let replicas = obj
        .pointer("/spec/replicas")
        .and_then(Value::as_i64)
        .unwrap_or(1);
    let generation = generation_of(obj);
    let now = util::now_k8s();
    let status = if kind == "Deployment" {
        json!({
            "observedGeneration": generation,
            "replicas": replicas,
            "updatedReplicas": replicas,
            "readyReplicas": replicas,
            "availableReplicas": replicas,
            "conditions": [
                {"type": "Available", "status": "True", "reason": "MinimumReplicasAvailable",
                 "message": "Deployment has minimum availability.", "lastUpdateTime": now, "lastTransitionTime": now},
                {"type": "Progressing", "status": "True", "reason": "NewReplicaSetAvailable",
                 "message": format!("ReplicaSet \"{}\" has successfully progressed.", util::name_of(obj)),
                 "lastUpdateTime": now, "lastTransitionTime": now},
            ],
        })
    } else {
        json!({
            "observedGeneration": generation,
            "replicas": replicas,
            "readyReplicas": replicas,
            "currentReplicas": replicas,
            "updatedReplicas": replicas,
            "availableReplicas": replicas,
        })
    };
    let _ = sh
        .store
        .update_status(api, kind, util::ns_of(obj), util::name_of(obj), status);
}

/// Delete objects of the previous inventory that are no longer part of it.
fn prune(sh: &Shared, ks: &Value, inventory: &[Value]) -> Vec<String> {
    let old = ks
        .pointer("/status/inventory/entries")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let mut out = Vec::new();
    for e in old {
        if inventory.iter().any(|n| n.get("id") == e.get("id")) {
            continue;
        }
        let id = e.get("id").and_then(Value::as_str).unwrap_or("");
        let v = e.get("v").and_then(Value::as_str).unwrap_or("");
        let parts: Vec<&str> = id.splitn(2, '_').collect();
        let (ns, rest) = match parts.as_slice() {
            [ns, rest] => (*ns, *rest),
            _ => continue,
        };
        // name_group_Kind: the kind is the last segment, the group the one before.
        let mut segs: Vec<&str> = rest.rsplitn(3, '_').collect();
        segs.reverse();
        let [name, group, kind] = segs.as_slice() else {
            continue;
        };
        let api = if group.is_empty() {
            v.to_string()
        } else {
            format!("{group}/{v}")
        };
        if sh.store.delete(&api, kind, ns, name).is_ok() {
            out.push(if ns.is_empty() {
                format!("{kind}/{name} deleted")
            } else {
                format!("{kind}/{ns}/{name} deleted")
            });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ks(path: &str) -> Value {
        json!({"spec": {"path": path}})
    }

    #[test]
    fn build_selects_path_and_documents() {
        let files = vec![
            ("apps/a.yaml".to_string(), b"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\n---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: b\n".to_vec()),
            ("apps/kustomization.yaml".to_string(), b"resources: [a.yaml]\n".to_vec()),
            ("apps/README.md".to_string(), b"# x".to_vec()),
            ("other/c.yaml".to_string(), b"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\n".to_vec()),
        ];
        let docs = build(&ks("./apps"), &files).unwrap_or_default();
        let names: Vec<_> = docs.iter().map(util::name_of).collect();
        assert_eq!(names, ["a", "b"]);
        assert_eq!(build(&ks("./"), &files).map(|d| d.len()), Ok(3));
        let err = build(&ks("./missing"), &files).err().unwrap_or_default();
        assert!(err.contains("kustomization path not found"), "{err}");
    }

    #[test]
    fn build_reports_the_broken_file() {
        let files = vec![(
            "bad.yaml".to_string(),
            b"apiVersion: v1\nkind: [unclosed\n".to_vec(),
        )];
        let err = build(&ks("./"), &files).err().unwrap_or_default();
        assert!(
            err.contains("bad.yaml") && err.starts_with("kustomize build failed"),
            "{err}"
        );
    }

    #[test]
    fn history_dedupes_by_digest() {
        let mut st = Map::new();
        push_history(
            &mut st,
            "sha256:a",
            "ReconciliationSucceeded",
            "r1",
            None,
            Duration::from_millis(5),
        );
        push_history(
            &mut st,
            "sha256:a",
            "ReconciliationSucceeded",
            "r1",
            None,
            Duration::from_millis(5),
        );
        push_history(
            &mut st,
            "sha256:b",
            "ReconciliationSucceeded",
            "r2",
            Some("o"),
            Duration::from_millis(5),
        );
        let h = st["history"].as_array().cloned().unwrap_or_default();
        assert_eq!(h.len(), 2);
        assert_eq!(h[0]["digest"], "sha256:b");
        assert_eq!(h[1]["totalReconciliations"], 2);
    }
}
