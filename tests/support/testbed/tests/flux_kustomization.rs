//! Scenario tests: OCIRepository + Kustomization against a real registry.

mod flux_common;

use flux_common::*;
use serde_json::{Value, json};
use testbed::flux::wait;

#[test]
fn kustomization_applies_the_pushed_revision() {
    let Some(bed) = Bed::start() else { return };
    let digest = bed.push(
        "demo/ok",
        "latest",
        &[
            ("apps/app.yaml", &deployment("web")),
            ("apps/config.yaml", &configmap("web-config", "")),
            ("README.md", "# not a manifest"),
        ],
        "main@sha1:1111111111111111111111111111111111111111",
    );
    bed.create_source("ok", "demo/ok", json!({"tag": "latest"}));
    bed.create_ks(
        "ok",
        "ok",
        json!({"path": "./apps", "targetNamespace": "apps"}),
    );

    let rev = format!("latest@{digest}");
    let src = bed.wait(OCI, "OCIRepository", "ok", |o| {
        wait::ready_is(o, "True", "Succeeded")
    });
    assert_eq!(src["status"]["artifact"]["revision"], json!(rev));
    assert_eq!(
        src["status"]["artifact"]["metadata"]["org.opencontainers.image.revision"],
        "main@sha1:1111111111111111111111111111111111111111"
    );
    assert_ne!(
        src["status"]["artifact"]["digest"],
        json!(digest),
        "artifact digest is the layer's"
    );
    let (_, _, msg) = wait::ready(&src).unwrap_or_default();
    assert_eq!(msg, format!("stored artifact for digest '{rev}'"));

    let ks = bed.wait_ks_applied("ok", &rev);
    assert_eq!(
        status_str(&ks, "lastAppliedOriginRevision"),
        Some("main@sha1:1111111111111111111111111111111111111111")
    );
    assert_eq!(status_str(&ks, "lastAttemptedRevision"), Some(rev.as_str()));
    assert_eq!(
        ks["status"]["observedGeneration"],
        ks["metadata"]["generation"]
    );
    assert!(wait::condition(&ks, "Reconciling").is_none());
    let (_, _, msg) = wait::ready(&ks).unwrap_or_default();
    assert_eq!(msg, format!("Applied revision: {rev}"));
    let ids: Vec<&str> = ks["status"]["inventory"]["entries"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|e| e["id"].as_str())
        .collect();
    assert_eq!(
        ids,
        ["apps_web_apps_Deployment", "apps_web-config__ConfigMap"]
    );
    assert_eq!(ks["status"]["inventory"]["entries"][0]["v"], "v1");

    // The objects exist in the target namespace, labelled like Flux does.
    let dep = bed
        .store
        .get("apps/v1", "Deployment", "apps", "web")
        .expect("deployment applied");
    assert_eq!(
        dep["metadata"]["labels"]["kustomize.toolkit.fluxcd.io/name"],
        "ok"
    );
    assert_eq!(dep["status"]["readyReplicas"], 2);
    assert!(
        bed.store
            .get("v1", "ConfigMap", "apps", "web-config")
            .is_some()
    );

    let events = wait::events_for(&bed.store, "Kustomization", NS, "ok");
    assert!(
        events.iter().any(|(t, r, m)| t == "Normal"
            && r == "ReconciliationSucceeded"
            && m.starts_with("Reconciliation finished in ")
            && m.ends_with(", next run in 10m0s")),
        "{events:?}"
    );
    assert!(
        events
            .iter()
            .any(|(_, r, m)| r == "Progressing" && m.contains("Deployment/apps/web created")),
        "{events:?}"
    );
    assert!(
        bed.sim
            .ready_times()
            .iter()
            .any(|(k, r, _)| k == "Kustomization/flux-system/ok" && *r == rev)
    );

    // A new push with a reconcile request on the source is applied; the
    // removed ConfigMap is pruned.
    let digest2 = bed.push(
        "demo/ok",
        "latest",
        &[("apps/app.yaml", &deployment("web"))],
        "main@sha1:2222222222222222222222222222222222222222",
    );
    bed.store
        .merge_patch(
            OCI,
            "OCIRepository",
            NS,
            "ok",
            json!({"metadata": {"annotations": {"reconcile.fluxcd.io/requestedAt": "2024-01-01T00:00:00.1Z"}}}),
        )
        .expect("annotate");
    let ks = bed.wait_ks_applied("ok", &format!("latest@{digest2}"));
    assert_eq!(
        ks["status"]["inventory"]["entries"]
            .as_array()
            .map(Vec::len),
        Some(1)
    );
    assert!(
        bed.store
            .get("v1", "ConfigMap", "apps", "web-config")
            .is_none()
    );
    let src = bed
        .store
        .get(OCI, "OCIRepository", NS, "ok")
        .unwrap_or_default();
    assert_eq!(
        status_str(&src, "lastHandledReconcileAt"),
        Some("2024-01-01T00:00:00.1Z")
    );
}

#[test]
fn build_failure_names_the_file() {
    let Some(bed) = Bed::start() else { return };
    bed.push(
        "demo/broken",
        "v1",
        &[
            ("good.yaml", &configmap("good", "")),
            ("bad.yaml", "apiVersion: v1\nkind: [unclosed\n"),
        ],
        "main@sha1:3333333333333333333333333333333333333333",
    );
    bed.create_source("broken", "demo/broken", json!({"tag": "v1"}));
    bed.create_ks("broken", "broken", json!({}));
    let ks = bed.wait(KS, "Kustomization", "broken", |o| {
        wait::ready_is(o, "False", "BuildFailed")
    });
    let (_, _, msg) = wait::ready(&ks).unwrap_or_default();
    assert!(msg.contains("bad.yaml"), "{msg}");
    let (status, reason, _) = wait::condition(&ks, "Reconciling").unwrap_or_default();
    assert_eq!(
        (status.as_str(), reason.as_str()),
        ("True", "ProgressingWithRetry")
    );
    assert!(status_str(&ks, "lastAppliedRevision").is_none());
    assert!(wait::condition(&ks, "Stalled").is_none());
    assert!(
        wait::events_for(&bed.store, "Kustomization", NS, "broken")
            .iter()
            .any(|(t, r, _)| t == "Warning" && r == "BuildFailed")
    );
}

#[test]
fn reconciliation_failure_keeps_the_last_applied_revision() {
    let Some(bed) = Bed::start() else { return };
    let d1 = bed.push(
        "demo/fail",
        "latest",
        &[("cm.yaml", &configmap("one", ""))],
        "main@sha1:4444444444444444444444444444444444444444",
    );
    bed.create_source("fail", "demo/fail", json!({"tag": "latest"}));
    bed.create_ks("fail", "fail", json!({"targetNamespace": "apps"}));
    let good = format!("latest@{d1}");
    bed.wait_ks_applied("fail", &good);

    let d2 = bed.push(
        "demo/fail",
        "latest",
        &[(
            "cm.yaml",
            &configmap(
                "one",
                "  annotations:\n    sim.gitlab-flux.io/fail: ReconciliationFailed\n    sim.gitlab-flux.io/message: admission webhook denied the request\n",
            ),
        )],
        "main@sha1:5555555555555555555555555555555555555555",
    );
    bed.store
        .merge_patch(
            OCI,
            "OCIRepository",
            NS,
            "fail",
            json!({"metadata": {"annotations": {"reconcile.fluxcd.io/requestedAt": "t1"}}}),
        )
        .expect("annotate");
    let bad = format!("latest@{d2}");
    let ks = bed.wait(KS, "Kustomization", "fail", |o| {
        wait::ready_is(o, "False", "ReconciliationFailed")
            && status_str(o, "lastAttemptedRevision") == Some(bad.as_str())
    });
    let (_, _, msg) = wait::ready(&ks).unwrap_or_default();
    assert_eq!(msg, "admission webhook denied the request");
    assert_eq!(status_str(&ks, "lastAppliedRevision"), Some(good.as_str()));
    let (st, reason, _) = wait::condition(&ks, "Reconciling").unwrap_or_default();
    assert_eq!(
        (st.as_str(), reason.as_str()),
        ("True", "ProgressingWithRetry")
    );
    assert!(wait::condition(&ks, "Stalled").is_none());
    // The Ready condition carries the generation it was computed for.
    let generation = ks["metadata"]["generation"].clone();
    let ready_gen = ks["status"]["conditions"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|c| c["type"] == "Ready")
        .map(|c| c["observedGeneration"].clone());
    assert_eq!(ready_gen, Some(generation));
}

#[test]
fn health_check_failure_applies_but_does_not_advance() {
    let Some(bed) = Bed::start() else { return };
    let d = bed.push(
        "demo/health",
        "latest",
        &[(
            "cm.yaml",
            &configmap(
                "slow",
                "  annotations:\n    sim.gitlab-flux.io/fail: HealthCheckFailed\n",
            ),
        )],
        "main@sha1:6666666666666666666666666666666666666666",
    );
    bed.create_source("health", "demo/health", json!({}));
    bed.create_ks("health", "health", json!({"wait": true}));
    let ks = bed.wait(KS, "Kustomization", "health", |o| {
        wait::ready_is(o, "False", "HealthCheckFailed")
    });
    let (_, _, msg) = wait::ready(&ks).unwrap_or_default();
    assert!(msg.contains("ConfigMap/flux-system/slow"), "{msg}");
    assert_eq!(
        status_str(&ks, "lastAttemptedRevision"),
        Some(format!("latest@{d}").as_str())
    );
    assert!(status_str(&ks, "lastAppliedRevision").is_none());
    assert_eq!(
        ks["status"]["inventory"]["entries"]
            .as_array()
            .map(Vec::len),
        Some(1)
    );
}

#[test]
fn dependency_chain_waits_for_the_dependency() {
    let Some(bed) = Bed::start() else { return };
    let da = bed.push(
        "demo/a",
        "latest",
        &[("a.yaml", &configmap("a", ""))],
        "main@sha1:a",
    );
    let db = bed.push(
        "demo/b",
        "latest",
        &[("b.yaml", &configmap("b", ""))],
        "main@sha1:b",
    );
    bed.create_source("b", "demo/b", json!({}));
    bed.create_ks("b", "b", json!({"dependsOn": [{"name": "a"}]}));
    let b = bed.wait(KS, "Kustomization", "b", |o| {
        wait::ready_is(o, "False", "DependencyNotReady")
    });
    // KC-DEP: a missing dependency is named with the API's NotFound error;
    // no Reconciling condition yet (the check precedes MarkReconciling).
    let (_, _, msg) = wait::ready(&b).unwrap_or_default();
    assert_eq!(
        msg,
        "dependency 'flux-system/a' not found: kustomizations.kustomize.toolkit.fluxcd.io \"a\" not found"
    );
    assert!(wait::condition(&b, "Reconciling").is_none());
    assert!(status_str(&b, "lastAttemptedRevision").is_none());
    assert!(bed.store.get("v1", "ConfigMap", NS, "b").is_none());

    bed.create_source("a", "demo/a", json!({}));
    bed.create_ks("a", "a", json!({}));
    bed.wait_ks_applied("a", &format!("latest@{da}"));
    bed.wait_ks_applied("b", &format!("latest@{db}"));
    let times = bed.sim.ready_times();
    let at = |k: &str| times.iter().find(|(n, _, _)| n == k).map(|(_, _, t)| *t);
    assert!(at("Kustomization/flux-system/a") <= at("Kustomization/flux-system/b"));
}

#[test]
fn suspended_kustomization_is_not_reconciled_until_resumed() {
    let Some(bed) = Bed::start() else { return };
    let d = bed.push(
        "demo/susp",
        "latest",
        &[("s.yaml", &configmap("s", ""))],
        "main@sha1:s",
    );
    bed.create_source("susp", "demo/susp", json!({}));
    bed.create_ks("susp", "susp", json!({"suspend": true}));
    bed.wait(OCI, "OCIRepository", "susp", |o| {
        wait::ready_is(o, "True", "Succeeded")
    });
    bed.store
        .merge_patch(
            KS,
            "Kustomization",
            NS,
            "susp",
            json!({"metadata": {"annotations": {"reconcile.fluxcd.io/requestedAt": "ignored"}}}),
        )
        .expect("annotate");
    std::thread::sleep(std::time::Duration::from_millis(800));
    let ks = bed
        .store
        .get(KS, "Kustomization", NS, "susp")
        .unwrap_or_default();
    // KC-SUSPEND / KC-TOKEN: nothing is reconciled, but the deferred status
    // patch still records the request as handled.
    assert_eq!(
        status_str(&ks, "lastHandledReconcileAt"),
        Some("ignored"),
        "{ks}"
    );
    assert!(ks.pointer("/status/conditions").is_none(), "{ks}");
    assert!(bed.store.get("v1", "ConfigMap", NS, "s").is_none());

    bed.store
        .merge_patch(
            KS,
            "Kustomization",
            NS,
            "susp",
            json!({"spec": {"suspend": false}}),
        )
        .expect("resume");
    let ks = bed.wait_ks_applied("susp", &format!("latest@{d}"));
    assert_eq!(status_str(&ks, "lastHandledReconcileAt"), Some("ignored"));
}

#[test]
fn reconcile_request_is_handled() {
    let Some(bed) = Bed::start() else { return };
    let d = bed.push(
        "demo/req",
        "latest",
        &[("r.yaml", &configmap("r", ""))],
        "main@sha1:r",
    );
    bed.create_source("req", "demo/req", json!({}));
    bed.create_ks("req", "req", json!({}));
    let rev = format!("latest@{d}");
    bed.wait_ks_applied("req", &rev);
    let before = bed.sim.ready_times().len();
    let at = "2025-05-05T10:00:00.123456789Z";
    bed.store
        .merge_patch(
            KS,
            "Kustomization",
            NS,
            "req",
            json!({"metadata": {"annotations": {"reconcile.fluxcd.io/requestedAt": at}}}),
        )
        .expect("annotate");
    let ks = bed.wait(KS, "Kustomization", "req", |o| {
        status_str(o, "lastHandledReconcileAt") == Some(at)
    });
    assert!(wait::ready_is(&ks, "True", "ReconciliationSucceeded"));
    assert_eq!(status_str(&ks, "lastAppliedRevision"), Some(rev.as_str()));
    // Same revision again: not a new "turned Ready" point.
    assert_eq!(bed.sim.ready_times().len(), before);
    let history = ks["status"]["history"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert_eq!(history.len(), 1);
    assert_eq!(history[0]["totalReconciliations"], 2);
}

#[test]
fn semver_ref_picks_the_highest_matching_tag() {
    let Some(bed) = Bed::start() else { return };
    let mut digests = std::collections::HashMap::new();
    for tag in ["1.0.0", "1.2.0", "1.10.0", "2.0.0", "1.11.0-rc.1"] {
        let d = bed.push(
            "demo/semver",
            tag,
            &[(
                "v.yaml",
                &configmap(&format!("v{}", tag.replace('.', "-")), ""),
            )],
            tag,
        );
        digests.insert(tag, d);
    }
    bed.create_source("semver", "demo/semver", json!({"semver": ">=1.0.0 <2.0.0"}));
    let src = bed.wait(OCI, "OCIRepository", "semver", |o| {
        wait::ready_is(o, "True", "Succeeded")
    });
    assert_eq!(
        src["status"]["artifact"]["revision"],
        json!(format!("1.10.0@{}", digests["1.10.0"]))
    );

    // A digest ref wins over semver and yields a bare digest revision.
    bed.store
        .merge_patch(
            OCI,
            "OCIRepository",
            NS,
            "semver",
            json!({"spec": {"ref": {"digest": digests["1.2.0"]}}}),
        )
        .expect("patch");
    let want = digests["1.2.0"].clone();
    bed.wait(OCI, "OCIRepository", "semver", |o| {
        o.pointer("/status/artifact/revision")
            .and_then(Value::as_str)
            == Some(want.as_str())
    });

    // A missing tag fails with OCIArtifactPullFailed.
    bed.create_source("missing", "demo/semver", json!({"tag": "nope"}));
    let src = bed.wait(OCI, "OCIRepository", "missing", |o| {
        wait::ready_is(o, "False", "OCIArtifactPullFailed")
    });
    let (_, _, msg) = wait::ready(&src).unwrap_or_default();
    assert!(msg.contains("failed to determine artifact digest"), "{msg}");
}

#[test]
fn helmrelease_shipped_in_an_artifact_is_created_and_reconciled() {
    let Some(bed) = Bed::start() else { return };
    let chart_digest = testbed::oci::push_helm_chart(
        &bed.registry.base_url(),
        "charts/podinfo",
        "podinfo",
        "6.5.0",
        &[("templates/cm.yaml", b"apiVersion: v1\nkind: ConfigMap\n")],
        &[],
    )
    .expect("push chart");
    let manifests = format!(
        "apiVersion: source.toolkit.fluxcd.io/v1\nkind: OCIRepository\nmetadata:\n  name: podinfo\nspec:\n  interval: 10m\n  url: oci://{host}/charts/podinfo\n  ref:\n    semver: \"6.x\"\n  layerSelector:\n    mediaType: application/vnd.cncf.helm.chart.content.v1.tar+gzip\n    operation: copy\n---\napiVersion: helm.toolkit.fluxcd.io/v2\nkind: HelmRelease\nmetadata:\n  name: podinfo\nspec:\n  interval: 10m\n  chartRef:\n    kind: OCIRepository\n    name: podinfo\n  values:\n    replicaCount: 2\n",
        host = bed.registry.host()
    );
    let d = bed.push(
        "demo/platform",
        "latest",
        &[("platform/podinfo.yaml", &manifests)],
        "main@sha1:p",
    );
    bed.create_source("platform", "demo/platform", json!({}));
    bed.create_ks(
        "platform",
        "platform",
        json!({"path": "./platform", "targetNamespace": "apps"}),
    );
    let ks = bed.wait_ks_applied("platform", &format!("latest@{d}"));
    let ids: Vec<&str> = ks["status"]["inventory"]["entries"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|e| e["id"].as_str())
        .collect();
    assert_eq!(
        ids,
        [
            "apps_podinfo_source.toolkit.fluxcd.io_OCIRepository",
            "apps_podinfo_helm.toolkit.fluxcd.io_HelmRelease"
        ]
    );
    let hr = bed.wait_in(HR, "HelmRelease", "apps", "podinfo", |o| {
        wait::ready_is(o, "True", "InstallSucceeded")
    });
    let hex = chart_digest.trim_start_matches("sha256:");
    assert_eq!(
        status_str(&hr, "lastAttemptedRevision"),
        Some(format!("6.5.0+{}", &hex[..12]).as_str())
    );
    assert_eq!(
        status_str(&hr, "lastAttemptedRevisionDigest"),
        Some(chart_digest.as_str())
    );
}

#[test]
fn missing_path_fails_before_last_attempted_revision() {
    let Some(bed) = Bed::start() else { return };
    bed.push(
        "demo/nopath",
        "latest",
        &[("apps/a.yaml", &configmap("a", ""))],
        "main@sha1:n",
    );
    bed.create_source("nopath", "demo/nopath", json!({}));
    bed.create_ks("nopath", "nopath", json!({"path": "./clusters/prod"}));
    // KC-PATH: ArtifactFailed "kustomization path not found: stat …".
    let ks = bed.wait(KS, "Kustomization", "nopath", |o| {
        wait::ready(o).is_some_and(|(_, _, m)| m.starts_with("kustomization path"))
    });
    let (_, _, msg) = wait::ready(&ks).unwrap_or_default();
    assert!(
        msg.starts_with("kustomization path not found: stat /tmp/kustomization-")
            && msg.ends_with("/clusters/prod: no such file or directory"),
        "{msg}"
    );
    // KC-ATTEMPT: nothing attempted yet; KC-RETRY: the Reconciling condition
    // keeps its "Fetching manifests" message, reason ProgressingWithRetry.
    assert!(status_str(&ks, "lastAttemptedRevision").is_none(), "{ks}");
    let (s, r, m) = wait::condition(&ks, "Reconciling").unwrap_or_default();
    assert_eq!((s.as_str(), r.as_str()), ("True", "ProgressingWithRetry"));
    assert!(
        m.starts_with("Fetching manifests for revision latest@sha256:"),
        "{m}"
    );
    assert!(ks.pointer("/status/observedGeneration").is_none());
}

#[test]
fn consumer_created_before_its_source_waits_then_applies() {
    let Some(bed) = Bed::start() else { return };
    let d = bed.push(
        "demo/late",
        "latest",
        &[("a.yaml", &configmap("late", ""))],
        "main@sha1:l",
    );
    // KC-SRC: the source does not exist yet, then has no artifact yet.
    bed.create_ks("late", "late", json!({}));
    let ks = bed.wait(KS, "Kustomization", "late", |o| {
        wait::ready_is(o, "False", "ArtifactFailed")
    });
    let (_, _, msg) = wait::ready(&ks).unwrap_or_default();
    assert_eq!(
        msg,
        "ocirepositories.source.toolkit.fluxcd.io \"late\" not found"
    );
    bed.store
        .create(json!({
            "apiVersion": OCI, "kind": "OCIRepository",
            "metadata": {"name": "late", "namespace": NS,
                         "annotations": {"sim.gitlab-flux.io/pull-delay": "1s"}},
            "spec": {"url": bed.oci_url("demo/late"), "interval": "10m"},
        }))
        .expect("create OCIRepository");
    // A consumer created while the source has no artifact yet.
    bed.create_ks("later", "late", json!({}));
    let ks = bed.wait(KS, "Kustomization", "later", |o| {
        wait::ready(o)
            .is_some_and(|(_, _, m)| m.starts_with("Source artifact not found, retrying in"))
    });
    let (_, _, msg) = wait::ready(&ks).unwrap_or_default();
    assert_eq!(msg, "Source artifact not found, retrying in 300ms");
    // SC-FETCH: during the slow pull the source announces the new revision.
    let src = bed.wait(OCI, "OCIRepository", "late", |o| {
        wait::condition(o, "Reconciling").is_some()
    });
    let (_, reason, m) = wait::condition(&src, "Reconciling").unwrap_or_default();
    assert_eq!(reason, "Progressing");
    assert!(
        m.starts_with("building artifact: new revision 'latest@sha256:"),
        "{m}"
    );
    assert!(src.pointer("/status/artifact").is_none());
    bed.wait_ks_applied("late", &format!("latest@{d}"));
    bed.wait_ks_applied("later", &format!("latest@{d}"));
}

#[test]
fn health_check_that_passes_late_retries_then_succeeds() {
    let Some(bed) = Bed::start() else { return };
    let meta = "  annotations:\n    sim.gitlab-flux.io/fail: HealthCheckFailed\n    sim.gitlab-flux.io/fail-times: \"2\"\n";
    let d = bed.push(
        "demo/slow",
        "latest",
        &[("a.yaml", &configmap("slow", meta))],
        "main@sha1:s",
    );
    bed.create_source("slow", "demo/slow", json!({}));
    bed.create_ks(
        "slow",
        "slow",
        json!({"retryInterval": "300ms", "wait": true}),
    );
    // KC-HEALTH / KC-RETRY: Ready False HealthCheckFailed while Reconciling
    // says ProgressingWithRetry ("Running health checks ...").
    let ks = bed.wait(KS, "Kustomization", "slow", |o| {
        wait::ready_is(o, "False", "HealthCheckFailed")
    });
    let (s, r, m) = wait::condition(&ks, "Reconciling").unwrap_or_default();
    assert_eq!((s.as_str(), r.as_str()), ("True", "ProgressingWithRetry"));
    assert!(m.starts_with("Running health checks for revision"), "{m}");
    assert!(wait::condition(&ks, "Stalled").is_none());
    let (hs, hr, _) = wait::condition(&ks, "Healthy").unwrap_or_default();
    assert_eq!((hs.as_str(), hr.as_str()), ("False", "HealthCheckFailed"));
    let rev = format!("latest@{d}");
    assert_eq!(status_str(&ks, "lastAttemptedRevision"), Some(rev.as_str()));
    let ks = bed.wait_ks_applied("slow", &rev);
    assert!(wait::condition(&ks, "Reconciling").is_none());
    let (hs, _, _) = wait::condition(&ks, "Healthy").unwrap_or_default();
    assert_eq!(hs, "True");
}

#[test]
fn transient_apply_failure_succeeds_on_retry() {
    let Some(bed) = Bed::start() else { return };
    let meta = "  annotations:\n    sim.gitlab-flux.io/fail: ReconciliationFailed\n    sim.gitlab-flux.io/fail-times: \"1\"\n    sim.gitlab-flux.io/message: 'Widget/flux-system/w dry-run failed: no matches for kind \"Widget\"'\n";
    let d = bed.push(
        "demo/crd",
        "latest",
        &[("a.yaml", &configmap("crd", meta))],
        "main@sha1:c",
    );
    bed.create_source("crd", "demo/crd", json!({}));
    bed.create_ks("crd", "crd", json!({"retryInterval": "300ms"}));
    let ks = bed.wait(KS, "Kustomization", "crd", |o| {
        wait::ready_is(o, "False", "ReconciliationFailed")
    });
    let (_, r, _) = wait::condition(&ks, "Reconciling").unwrap_or_default();
    assert_eq!(r, "ProgressingWithRetry");
    bed.wait_ks_applied("crd", &format!("latest@{d}"));
}
