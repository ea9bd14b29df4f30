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
    let (_, _, msg) = wait::ready(&b).unwrap_or_default();
    assert_eq!(msg, "dependency 'flux-system/a' is not ready");
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
    assert!(
        ks.get("status")
            .is_none_or(|s| s.get("lastHandledReconcileAt").is_none()),
        "{ks}"
    );
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
