//! Scenario tests: HelmRelease via an OCI chartRef against a real registry.

mod flux_common;

use flux_common::*;
use serde_json::{Value, json};
use testbed::flux::wait;

fn push_chart(bed: &Bed, version: &str, annotations: &[(&str, &str)]) -> String {
    testbed::oci::push_helm_chart(
        &bed.registry.base_url(),
        "charts/web",
        "web",
        version,
        &[("templates/deployment.yaml", b"kind: Deployment\n")],
        annotations,
    )
    .expect("push chart")
}

fn create_chart_source(bed: &Bed) {
    bed.store
        .create(json!({
            "apiVersion": OCI, "kind": "OCIRepository",
            "metadata": {"name": "web", "namespace": NS},
            "spec": {
                "url": bed.oci_url("charts/web"), "interval": "10m",
                "ref": {"semver": ">=1.0.0"},
                "layerSelector": {"mediaType": "application/vnd.cncf.helm.chart.content.v1.tar+gzip", "operation": "copy"},
            },
        }))
        .expect("create OCIRepository");
}

fn create_release(bed: &Bed, extra: Value) {
    let mut spec = json!({
        "interval": "10m",
        "chartRef": {"kind": "OCIRepository", "name": "web"},
        "targetNamespace": "apps",
        "values": {"replicaCount": 1},
    });
    if let (Some(s), Some(e)) = (spec.as_object_mut(), extra.as_object()) {
        for (k, v) in e {
            s.insert(k.clone(), v.clone());
        }
    }
    bed.store
        .create(json!({
            "apiVersion": HR, "kind": "HelmRelease",
            "metadata": {"name": "web", "namespace": NS},
            "spec": spec,
        }))
        .expect("create HelmRelease");
}

fn short(digest: &str) -> String {
    digest.trim_start_matches("sha256:")[..12].to_string()
}

#[test]
fn chartref_install_then_upgrade() {
    let Some(bed) = Bed::start() else { return };
    let d1 = push_chart(&bed, "1.0.0", &[]);
    create_chart_source(&bed);
    create_release(&bed, json!({}));
    let rev1 = format!("1.0.0+{}", short(&d1));
    let hr = bed.wait(HR, "HelmRelease", "web", |o| {
        wait::ready_is(o, "True", "InstallSucceeded")
    });
    assert_eq!(
        status_str(&hr, "lastAttemptedRevision"),
        Some(rev1.as_str())
    );
    assert_eq!(
        status_str(&hr, "lastAttemptedRevisionDigest"),
        Some(d1.as_str())
    );
    assert_eq!(
        status_str(&hr, "lastAttemptedReleaseAction"),
        Some("install")
    );
    assert_eq!(hr["status"]["lastAttemptedGeneration"], 1);
    assert_eq!(hr["status"]["observedGeneration"], 1);
    let (_, _, msg) = wait::ready(&hr).unwrap_or_default();
    assert_eq!(
        msg,
        format!("Helm install succeeded for release apps/apps-web.v1 with chart web@{rev1}")
    );
    let h = &hr["status"]["history"][0];
    assert_eq!(h["status"], "deployed");
    assert_eq!(h["version"], 1);
    assert_eq!(h["chartName"], "web");
    assert_eq!(h["chartVersion"], json!(rev1));
    assert_eq!(h["appVersion"], "1.0.0");
    assert_eq!(h["ociDigest"], json!(d1));
    assert_eq!(h["namespace"], "apps");
    assert!(
        h["configDigest"]
            .as_str()
            .is_some_and(|d| d.starts_with("sha256:"))
    );

    // A new chart version is upgraded to once the source picks it up.
    let d2 = push_chart(&bed, "1.1.0", &[]);
    bed.store
        .merge_patch(
            OCI,
            "OCIRepository",
            NS,
            "web",
            json!({"metadata": {"annotations": {"reconcile.fluxcd.io/requestedAt": "now"}}}),
        )
        .expect("annotate");
    let hr = bed.wait(HR, "HelmRelease", "web", |o| {
        wait::ready_is(o, "True", "UpgradeSucceeded")
    });
    assert_eq!(
        status_str(&hr, "lastAttemptedRevisionDigest"),
        Some(d2.as_str())
    );
    assert_eq!(
        status_str(&hr, "lastAttemptedReleaseAction"),
        Some("upgrade")
    );
    let hist = hr["status"]["history"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert_eq!(hist.len(), 2);
    assert_eq!(
        (hist[0]["status"].as_str(), hist[1]["status"].as_str()),
        (Some("deployed"), Some("superseded"))
    );
    assert!(
        wait::events_for(&bed.store, "HelmRelease", NS, "web")
            .iter()
            .any(|(t, r, _)| t == "Normal" && r == "UpgradeSucceeded")
    );
}

#[test]
fn upgrade_failures_end_in_retries_exceeded() {
    let Some(bed) = Bed::start_with(|c| c.helm_max_retries = 1) else {
        return;
    };
    push_chart(&bed, "1.0.0", &[]);
    create_chart_source(&bed);
    create_release(&bed, json!({}));
    bed.wait(HR, "HelmRelease", "web", |o| {
        wait::ready_is(o, "True", "InstallSucceeded")
    });

    // A chart marked to fail: the upgrade fails, is retried once, then stalls.
    let d2 = push_chart(&bed, "2.0.0", &[("sim.gitlab-flux.io/fail", "true")]);
    bed.store
        .merge_patch(
            OCI,
            "OCIRepository",
            NS,
            "web",
            json!({"metadata": {"annotations": {"reconcile.fluxcd.io/requestedAt": "x"}}}),
        )
        .expect("annotate");
    let hr = bed.wait(HR, "HelmRelease", "web", |o| {
        wait::condition(o, "Stalled").is_some_and(|(s, r, _)| s == "True" && r == "RetriesExceeded")
    });
    assert!(wait::ready_is(&hr, "False", "UpgradeFailed"), "{hr}");
    assert!(wait::condition(&hr, "Reconciling").is_none());
    assert_eq!(hr["status"]["upgradeFailures"], 2);
    assert_eq!(
        status_str(&hr, "lastAttemptedRevisionDigest"),
        Some(d2.as_str())
    );
    let (_, _, msg) = wait::condition(&hr, "Stalled").unwrap_or_default();
    assert_eq!(msg, "Failed to upgrade after 2 attempt(s)");
    let hist = hr["status"]["history"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert_eq!(hist[0]["status"], "failed");
    assert!(
        hist.iter().any(|h| h["status"] == "deployed"),
        "the last good release stays deployed"
    );

    // Stalled: a plain reconcile request is handled but does not retry.
    let failures_before = hr["status"]["failures"].clone();
    bed.store
        .merge_patch(
            HR,
            "HelmRelease",
            NS,
            "web",
            json!({"metadata": {"annotations": {"reconcile.fluxcd.io/requestedAt": "r1"}}}),
        )
        .expect("annotate");
    let hr = bed.wait(HR, "HelmRelease", "web", |o| {
        status_str(o, "lastHandledReconcileAt") == Some("r1")
    });
    assert_eq!(hr["status"]["failures"], failures_before);

    // A reset (resetAt == requestedAt) clears the counters and retries.
    bed.store
        .merge_patch(
            HR,
            "HelmRelease",
            NS,
            "web",
            json!({"metadata": {"annotations": {
                "reconcile.fluxcd.io/requestedAt": "r2",
                "reconcile.fluxcd.io/resetAt": "r2",
            }}}),
        )
        .expect("annotate");
    // The retries run again (and fail again, the chart is still broken).
    let hr = bed.wait(HR, "HelmRelease", "web", |o| {
        status_str(o, "lastHandledReconcileAt") == Some("r2")
            && wait::condition(o, "Stalled").is_some_and(|(s, _, _)| s == "True")
    });
    assert_eq!(status_str(&hr, "lastHandledResetAt"), Some("r2"));
    let failed = hr["status"]["history"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|h| h["status"] == "failed")
        .count();
    assert_eq!(failed, 4);
}

#[test]
fn values_driven_install_failure_and_chart_template() {
    let Some(bed) = Bed::start_with(|c| c.helm_max_retries = 0) else {
        return;
    };
    // HC-CHARTSPEC: an OCI HelmRepository holding podinfo 6.7.1.
    testbed::oci::push_helm_chart(
        &bed.registry.base_url(),
        "charts/podinfo",
        "podinfo",
        "6.7.1",
        &[("templates/configmap.yaml", b"kind: ConfigMap\n")],
        &[],
    )
    .expect("push chart");
    bed.store
        .create(json!({
            "apiVersion": "source.toolkit.fluxcd.io/v1", "kind": "HelmRepository",
            "metadata": {"name": "podinfo", "namespace": NS},
            "spec": {"type": "oci", "url": format!("oci://{}/charts", bed.registry.host()),
                     "interval": "1m", "insecure": true},
        }))
        .expect("create HelmRepository");
    bed.store
        .create(json!({
            "apiVersion": HR, "kind": "HelmRelease",
            "metadata": {"name": "tpl", "namespace": NS},
            "spec": {
                "interval": "10m",
                "chart": {"spec": {"chart": "podinfo", "version": "6.7.1",
                    "sourceRef": {"kind": "HelmRepository", "name": "podinfo"}}},
                "values": {"simFail": true, "simMessage": "timed out waiting for the condition"},
            },
        }))
        .expect("create");
    let hr = bed.wait(HR, "HelmRelease", "tpl", |o| {
        wait::ready_is(o, "False", "InstallFailed")
    });
    let (_, _, msg) = wait::ready(&hr).unwrap_or_default();
    assert_eq!(
        msg,
        "Helm install failed for release flux-system/tpl with chart podinfo@6.7.1: timed out waiting for the condition"
    );
    bed.wait(HR, "HelmRelease", "tpl", |o| {
        wait::condition(o, "Stalled")
            .is_some_and(|(s, _, m)| s == "True" && m == "Failed to install after 1 attempt(s)")
    });

    // Fixing the values (a new generation) installs.
    bed.store
        .merge_patch(
            HR,
            "HelmRelease",
            NS,
            "tpl",
            json!({"spec": {"values": {"simFail": false}}}),
        )
        .expect("patch");
    let hr = bed.wait(HR, "HelmRelease", "tpl", |o| {
        wait::ready_is(o, "True", "InstallSucceeded")
    });
    assert_eq!(status_str(&hr, "lastAttemptedRevision"), Some("6.7.1"));
    assert!(hr["status"].get("lastAttemptedRevisionDigest").is_none());
    assert_eq!(hr["status"]["observedGeneration"], 2);
    assert!(wait::condition(&hr, "Stalled").is_none());
}

#[test]
fn helmrelease_depends_on() {
    let Some(bed) = Bed::start() else { return };
    push_chart(&bed, "1.0.0", &[]);
    create_chart_source(&bed);
    create_release(&bed, json!({"dependsOn": [{"name": "base"}]}));
    let hr = bed.wait(HR, "HelmRelease", "web", |o| {
        wait::ready_is(o, "False", "DependencyNotReady")
    });
    let (_, _, msg) = wait::ready(&hr).unwrap_or_default();
    assert_eq!(msg, "dependency 'flux-system/base' is not ready");
    bed.store
        .create(json!({
            "apiVersion": HR, "kind": "HelmRelease",
            "metadata": {"name": "base", "namespace": NS},
            "spec": {"interval": "10m", "chartRef": {"kind": "OCIRepository", "name": "web"}},
        }))
        .expect("create");
    bed.wait(HR, "HelmRelease", "web", |o| {
        wait::ready_is(o, "True", "InstallSucceeded")
    });
}

/// Put the manifest `digest` of charts/web under another tag.
fn retag(bed: &Bed, digest: &str, tag: &str) {
    let base = bed.registry.base_url();
    let m = testbed::oci::pull_manifest(&base, "charts/web", digest).expect("pull manifest");
    let url = format!("{base}/v2/charts/web/manifests/{tag}");
    let code = testbed::oci::block_on(async move {
        reqwest::Client::new()
            .put(&url)
            .header("Content-Type", m.media_type)
            .body(m.bytes)
            .send()
            .await
            .map(|r| r.status().as_u16())
            .unwrap_or(0)
    });
    assert_eq!(code, 201, "retag {tag}");
}

fn create_tag_source(bed: &Bed, tag: &str) {
    bed.store
        .create(json!({
            "apiVersion": OCI, "kind": "OCIRepository",
            "metadata": {"name": "web", "namespace": NS},
            "spec": {
                "url": bed.oci_url("charts/web"), "interval": "10m",
                "ref": {"tag": tag},
                "layerSelector": {"mediaType": "application/vnd.cncf.helm.chart.content.v1.tar+gzip", "operation": "copy"},
            },
        }))
        .expect("create OCIRepository");
}

#[test]
fn chartref_on_a_non_semver_tag_records_the_full_revision() {
    let Some(bed) = Bed::start() else { return };
    let digest = push_chart(&bed, "1.4.0", &[]);
    retag(&bed, &digest, "main");
    create_tag_source(&bed, "main");
    create_release(&bed, json!({}));
    // HC-CHARTREF / HC-MUTATE: version <chart>+<12 hex>, digest = the whole
    // `main@sha256:…` revision, also in the history snapshot.
    let hr = bed.wait(HR, "HelmRelease", "web", |o| {
        wait::ready_is(o, "True", "InstallSucceeded")
    });
    let want_version = format!("1.4.0+{}", short(&digest));
    let want_digest = format!("main@{digest}");
    assert_eq!(
        status_str(&hr, "lastAttemptedRevision"),
        Some(want_version.as_str())
    );
    assert_eq!(
        status_str(&hr, "lastAttemptedRevisionDigest"),
        Some(want_digest.as_str())
    );
    assert_eq!(hr["status"]["history"][0]["ociDigest"], json!(want_digest));
    assert_eq!(
        hr["status"]["history"][0]["chartVersion"],
        json!(want_version)
    );
}

#[test]
fn chart_version_differing_from_its_semver_tag_is_a_chart_mutate_error() {
    let Some(bed) = Bed::start() else { return };
    let digest = push_chart(&bed, "1.4.0", &[]);
    retag(&bed, &digest, "1.5.0");
    create_tag_source(&bed, "1.5.0");
    create_release(&bed, json!({}));
    let hr = bed.wait(HR, "HelmRelease", "web", |o| {
        wait::ready_is(o, "False", "ChartMutateError")
    });
    let (_, _, msg) = wait::ready(&hr).unwrap_or_default();
    assert_eq!(
        msg,
        "artifact revision 1.5.0 does not match chart version 1.4.0"
    );
    // Before any lastAttempted* field.
    for f in [
        "lastAttemptedRevision",
        "lastAttemptedRevisionDigest",
        "lastAttemptedGeneration",
    ] {
        assert!(hr["status"].get(f).is_none(), "{f}: {hr}");
    }
    let (_, r, m) = wait::condition(&hr, "Reconciling").unwrap_or_default();
    assert_eq!(
        (r.as_str(), m.as_str()),
        ("Progressing", "Fulfilling prerequisites")
    );
}

#[test]
fn new_release_waits_for_its_source_then_default_retries_stall_and_a_fix_clears_it() {
    let Some(bed) = Bed::start_with(|c| c.helm_max_retries = 0) else {
        return;
    };
    // HC-SRC: the source exists but has no artifact yet (nothing pushed).
    create_chart_source(&bed);
    create_release(&bed, json!({}));
    let hr = bed.wait(HR, "HelmRelease", "web", |o| {
        wait::ready_is(o, "False", "SourceNotReady")
    });
    let (_, _, msg) = wait::ready(&hr).unwrap_or_default();
    assert!(
        msg.starts_with("OCIRepository 'flux-system/web' is not ready: "),
        "{msg}"
    );
    // A broken chart: with 0 retries the first failure stalls (HC-REMEDIATION).
    push_chart(&bed, "1.0.0", &[("sim.gitlab-flux.io/fail", "true")]);
    let hr = bed.wait(HR, "HelmRelease", "web", |o| {
        wait::condition(o, "Stalled").is_some_and(|(s, r, _)| s == "True" && r == "RetriesExceeded")
    });
    let (_, _, m) = wait::condition(&hr, "Stalled").unwrap_or_default();
    assert_eq!(m, "Failed to install after 1 attempt(s)");
    assert!(wait::condition(&hr, "Reconciling").is_none());
    // HC-STALLCLEAR: a fixed chart clears Stalled and the counters.
    let fixed = push_chart(&bed, "1.0.1", &[]);
    bed.store
        .merge_patch(
            OCI,
            "OCIRepository",
            NS,
            "web",
            json!({"metadata": {"annotations": {"reconcile.fluxcd.io/requestedAt": "now"}}}),
        )
        .expect("request source reconcile");
    let hr = bed.wait(HR, "HelmRelease", "web", |o| {
        wait::ready_is(o, "True", "InstallSucceeded")
    });
    assert!(wait::condition(&hr, "Stalled").is_none());
    let want = format!("1.0.1+{}", short(&fixed));
    assert_eq!(
        status_str(&hr, "lastAttemptedRevision"),
        Some(want.as_str())
    );
}

#[test]
fn upgrade_with_retries_left_is_progressing_with_retry_then_succeeds() {
    let Some(bed) = Bed::start() else { return };
    push_chart(&bed, "1.0.0", &[]);
    create_chart_source(&bed);
    create_release(
        &bed,
        json!({"values": {"simFailTimes": 1}, "upgrade": {"remediation": {"retries": 2}},
               "install": {"remediation": {"retries": 2}}}),
    );
    let hr = bed.wait(HR, "HelmRelease", "web", |o| {
        wait::condition(o, "Reconciling").is_some_and(|(_, r, _)| r == "ProgressingWithRetry")
    });
    let (_, r, _) = wait::ready(&hr).unwrap_or_default();
    assert_eq!(r, "InstallFailed");
    bed.wait(HR, "HelmRelease", "web", |o| {
        wait::ready_is(o, "True", "InstallSucceeded")
    });
}
