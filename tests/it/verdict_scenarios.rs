//! The verdict's rules end to end on the API emulator and the Flux
//! simulator (docs/flux-semantics.md; each test names the rows it shows):
//! the exit code, the reason printed, and for terminal failures that the
//! exit comes within 5 s of the failing condition. The same scenarios run
//! on real Flux in tests/it/real_cluster.rs where real Flux can produce
//! them.

use crate::common::bed::{Bed, KS, NS, OCI, applied, configmap};
use crate::common::run;
use serde_json::{Value, json};
use std::time::{Duration, SystemTime};

/// An OCIRepository that pulls only when asked (a long interval): what
/// it holds changes only on a reconcile request.
fn create_lazy_source(bed: &Bed, name: &str, repo: &str, reference: Value) {
    bed.store
        .create(json!({
            "apiVersion": OCI, "kind": "OCIRepository",
            "metadata": {"name": name, "namespace": NS},
            "spec": {"url": format!("oci://{}/{repo}", bed.registry.host()), "ref": reference,
                     "interval": "1h", "insecure": true},
        }))
        .expect("create OCIRepository");
}

fn tag_only(bed: &Bed, repo: &str, tag: &str) -> String {
    format!("oci://{}/{repo}:{tag}", bed.registry.host())
}

/// Seconds between a condition's lastTransitionTime and now.
fn seconds_since_transition(obj: &Value, type_: &str) -> f64 {
    let t = obj["status"]["conditions"]
        .as_array()
        .and_then(|cs| cs.iter().find(|c| c["type"] == type_))
        .and_then(|c| c["lastTransitionTime"].as_str())
        .unwrap_or_else(|| panic!("no {type_} transition in {obj}"));
    let t: jiff::Timestamp = t.parse().expect("timestamp");
    let now = jiff::Timestamp::try_from(SystemTime::now()).expect("now");
    (now - t).total(jiff::Unit::Second).expect("seconds")
}

/// SC-REV, SC-READY, KC-SUCCESS: `wait --artifact REPO:TAG` (no digest) is exact:
/// the tag is resolved when the command starts, so a Kustomization that
/// still holds what the tag pointed at before is never green.
#[test]
fn moved_tag_is_never_green_on_the_old_revision() {
    let Some(bed) = Bed::start() else { return };
    create_lazy_source(&bed, "apps", "demo/apps", json!({"tag": "staging"}));
    let d1 = bed.push("demo/apps", "staging", &[("cm.yaml", &configmap("v1", ""))]);
    bed.create_ks(NS, "apps", "apps", json!({}));
    bed.until(KS, "Kustomization", NS, "apps", |o| applied(o, &d1));

    let d2 = bed.push("demo/apps", "staging", &[("cm.yaml", &configmap("v2", ""))]);
    let staging = tag_only(&bed, "demo/apps", "staging");
    // Flux still holds v1 (nobody asked it to pull): the wait times out.
    let r = run(bed
        .plugin()
        .args(["wait", "--timeout", "3s", "--artifact", &staging]));
    r.assert_error(3, "timed out", "");
    assert!(
        r.stderr.contains(&d2[..19]),
        "names the resolved digest: {}",
        r.stderr
    );

    run(bed.plugin().args(["trigger", "--artifact", &staging])).assert_ok();
    let r = run(bed.plugin().args([
        "wait",
        "--timeout",
        "30s",
        "-o",
        "json",
        "--artifact",
        &staging,
    ]));
    r.assert_ok();
    let report = r.json();
    assert_eq!(report["digest"], d2.as_str(), "{report}");
    let ks = bed
        .store
        .get(KS, "Kustomization", NS, "apps")
        .expect("Kustomization");
    assert!(applied(&ks, &d2), "{ks}");
}

/// A tag the registry does not have is refused at once; a registry that
/// cannot be reached gives exit 4 with the hint to pass ARTIFACT_URL.
#[test]
fn tag_resolution_errors() {
    let Some(bed) = Bed::start() else { return };
    bed.push("demo/apps", "v1", &[("cm.yaml", &configmap("v1", ""))]);
    let r = run(bed.plugin().args([
        "wait",
        "--timeout",
        "5s",
        "--artifact",
        &tag_only(&bed, "demo/apps", "nope"),
    ]));
    r.assert_error(1, "tag nope does not exist", "ARTIFACT_URL");
    let r = run(bed.plugin().args([
        "wait",
        "--timeout",
        "5s",
        "--artifact",
        "oci://127.0.0.1:1/demo/apps:v1",
    ]));
    r.assert_error(
        4,
        "cannot resolve oci://127.0.0.1:1/demo/apps:v1",
        "ARTIFACT_URL",
    );
}

/// KC-BUILD, PKG-LTT: a manifest that does not build fails the wait with
/// the controller's message within 5 s of the condition (whose transition
/// time has whole seconds).
#[test]
fn broken_manifest_fails_fast_with_the_controllers_message() {
    let Some(bed) = Bed::start() else { return };
    bed.create_source(NS, "apps", "demo/apps", json!({"tag": "latest"}));
    bed.create_ks(NS, "apps", "apps", json!({}));
    let d1 = bed.push("demo/apps", "latest", &[("cm.yaml", &configmap("one", ""))]);
    bed.until(KS, "Kustomization", NS, "apps", |o| applied(o, &d1));
    let d2 = bed.push(
        "demo/apps",
        "latest",
        &[(
            "cm.yaml",
            "apiVersion: v1\nkind: ConfigMap\nmetadata: [unclosed\n",
        )],
    );
    let r = run(bed
        .plugin()
        .args(["wait", "--timeout", "60s", "--artifact"])
        .arg(bed.artifact("demo/apps", "latest", &d2)));
    r.assert_error(1, "Kustomization/flux-system/apps BuildFailed", "");
    assert!(r.stderr.contains("cm.yaml"), "{}", r.stderr);
    let ks = bed
        .store
        .get(KS, "Kustomization", NS, "apps")
        .expect("Kustomization");
    let after = seconds_since_transition(&ks, "Ready");
    // The transition time has whole seconds: allow for that rounding.
    assert!(after < 6.0, "reported {after:.1} s after the condition");
}

/// KC-SRC, KC-DEP, SC-FETCH: an artifact that ships a new OCIRepository and its
/// Kustomization: the new Kustomization first says "Source artifact not
/// found, retrying", and the new source's first pull 404s (its tag is
/// pushed a moment later); both are retried and the wait ends green.
#[test]
fn new_source_shipped_with_its_consumer_is_waited_through() {
    let Some(bed) = Bed::start() else { return };
    let child_repo = format!("oci://{}/demo/child", bed.registry.host());
    let child = format!(
        "apiVersion: {OCI}\nkind: OCIRepository\nmetadata:\n  name: child\n  namespace: {NS}\nspec:\n  url: {child_repo}\n  interval: 1s\n  insecure: true\n  ref:\n    tag: latest\n---\napiVersion: {KS}\nkind: Kustomization\nmetadata:\n  name: child\n  namespace: {NS}\nspec:\n  interval: 10m\n  path: ./\n  prune: true\n  sourceRef:\n    kind: OCIRepository\n    name: child\n"
    );
    bed.create_source(NS, "parent", "demo/parent", json!({"tag": "latest"}));
    bed.create_ks(NS, "parent", "parent", json!({}));
    // The child's artifact arrives a moment after the parent's.
    let d = bed.push("demo/parent", "latest", &[("child.yaml", &child)]);
    let registry = bed.registry.base_url();
    let pusher = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(1500));
        testbed::oci::push_flux_artifact(
            &registry,
            "demo/child",
            "latest",
            &[("cm.yaml", configmap("leaf", "").as_bytes())],
            &[],
        )
        .expect("push child")
    });
    let r = run(bed
        .plugin()
        .args(["wait", "--timeout", "40s", "-o", "json", "--artifact"])
        .arg(bed.artifact("demo/parent", "latest", &d)));
    pusher.join().expect("pusher");
    r.assert_ok();
    let report = r.json();
    let names: Vec<String> = report["objects"]
        .as_array()
        .expect("objects")
        .iter()
        .map(|o| {
            format!(
                "{}/{}",
                o["kind"].as_str().unwrap_or(""),
                o["name"].as_str().unwrap_or("")
            )
        })
        .collect();
    assert!(
        names.iter().any(|n| n == "Kustomization/child"),
        "the shipped Kustomization is followed: {names:?}"
    );
}

/// KC-PATH, KC-ATTEMPT: `spec.path` missing from the artifact fails before
/// `lastAttemptedRevision` is written; the wait ties it to the target
/// through the progress message and fails within 5 s.
#[test]
fn missing_path_fails_fast() {
    let Some(bed) = Bed::start() else { return };
    bed.create_source(NS, "apps", "demo/apps", json!({"tag": "latest"}));
    bed.create_ks(
        NS,
        "apps",
        "apps",
        json!({"path": "./deploy", "retryInterval": "1s"}),
    );
    let d = bed.push("demo/apps", "latest", &[("cm.yaml", &configmap("one", ""))]);
    let r = run(bed
        .plugin()
        .args(["wait", "--timeout", "60s", "--artifact"])
        .arg(bed.artifact("demo/apps", "latest", &d)));
    r.assert_error(1, "Kustomization/flux-system/apps ArtifactFailed", "");
    assert!(
        r.stderr.contains("kustomization path not found"),
        "{}",
        r.stderr
    );
    let ks = bed
        .store
        .get(KS, "Kustomization", NS, "apps")
        .expect("Kustomization");
    assert!(seconds_since_transition(&ks, "Ready") < 6.0);
}

fn failing_cm(reason: &str, message: &str, times: u32) -> String {
    configmap(
        "one",
        &format!(
            "  annotations:\n    sim.gitlab-flux.io/fail: {reason}\n    sim.gitlab-flux.io/message: '{message}'\n    sim.gitlab-flux.io/fail-times: \"{times}\"\n"
        ),
    )
}

/// KC-HEALTH, KC-APPLY, KC-RETRY, PKG-READY: failures the controller retries and that
/// then succeed (a health check that passes late, a CRD another
/// Kustomization installs a moment later) never exit 1.
#[test]
fn retried_failures_that_then_succeed_end_green() {
    let Some(bed) = Bed::start() else { return };
    bed.create_source(NS, "apps", "demo/apps", json!({"tag": "latest"}));
    bed.create_ks(NS, "apps", "apps", json!({"retryInterval": "1s"}));
    for (reason, message) in [
        (
            "HealthCheckFailed",
            "health check failed after 1s: timeout waiting for: [Deployment/apps/web status: InProgress]",
        ),
        (
            "ReconciliationFailed",
            "CronTab/apps/x dry-run failed: no matches for kind \"CronTab\" in version \"example.com/v1\"",
        ),
    ] {
        let d = bed.push(
            "demo/apps",
            "latest",
            &[("cm.yaml", &failing_cm(reason, message, 2))],
        );
        let r = run(bed
            .plugin()
            .args(["wait", "--timeout", "60s", "--artifact"])
            .arg(bed.artifact("demo/apps", "latest", &d)));
        r.assert_ok();
        let ks = bed
            .store
            .get(KS, "Kustomization", NS, "apps")
            .expect("Kustomization");
        assert!(applied(&ks, &d), "{reason}: {ks}");
    }
}

const HELM_LAYER: &str = "application/vnd.cncf.helm.chart.content.v1.tar+gzip";

fn chart_source(bed: &Bed, reference: Value) {
    bed.store
        .create(json!({
            "apiVersion": OCI, "kind": "OCIRepository",
            "metadata": {"name": "web", "namespace": NS},
            "spec": {
                "url": format!("oci://{}/charts/web", bed.registry.host()),
                "interval": "1s", "insecure": true, "ref": reference,
                "layerSelector": {"mediaType": HELM_LAYER, "operation": "copy"},
            },
        }))
        .expect("create OCIRepository");
}

fn chartref_release(bed: &Bed) {
    bed.store
        .create(json!({
            "apiVersion": crate::common::bed::HR, "kind": "HelmRelease",
            "metadata": {"name": "web", "namespace": NS},
            "spec": {"interval": "10m", "chartRef": {"kind": "OCIRepository", "name": "web"},
                     "targetNamespace": "apps", "values": {"replicaCount": 1}},
        }))
        .expect("create HelmRelease");
}

/// Point `tag` at the chart `digest` (the plugin's own `tag`, which
/// re-puts the same manifest bytes).
fn retag(bed: &Bed, version: &str, digest: &str, tag: &str) {
    let from = format!(
        "oci://{}/charts/web:{}@{digest}",
        bed.registry.host(),
        version.replace('+', "_")
    );
    run(bed.plugin().args(["tag", "--any-media-type", &from, tag])).assert_ok();
}

/// HC-CHARTREF, HC-SRC, HC-ATTEMPT, HC-SUCCESS: a chartRef on a tag that is not a version records the
/// source's whole revision as its digest; the wait reads both forms.
#[test]
fn chartref_on_a_non_semver_tag_ends_green() {
    let Some(bed) = Bed::start() else { return };
    let d = bed.push_chart("1.4.0", &[]);
    retag(&bed, "1.4.0", &d, "main");
    chart_source(&bed, json!({"tag": "main"}));
    chartref_release(&bed);
    let r = run(bed.plugin().args([
        "wait",
        "--timeout",
        "30s",
        "--artifact",
        &tag_only(&bed, "charts/web", "main"),
    ]));
    r.assert_ok();
    let hr = bed
        .store
        .get(crate::common::bed::HR, "HelmRelease", NS, "web")
        .expect("HelmRelease");
    assert_eq!(
        hr["status"]["lastAttemptedRevisionDigest"],
        format!("main@{d}").as_str()
    );
}

/// HC-MUTATE: a semver tag that differs from the chart's version fails
/// before any `lastAttempted*` field; the wait fails fast all the same.
#[test]
fn chart_version_differing_from_its_tag_fails_fast() {
    let Some(bed) = Bed::start() else { return };
    let d = bed.push_chart("1.4.0", &[]);
    retag(&bed, "1.4.0", &d, "1.5.0");
    chart_source(&bed, json!({"tag": "1.5.0"}));
    chartref_release(&bed);
    let r = run(bed
        .plugin()
        .args(["wait", "--timeout", "60s", "--artifact"])
        .arg(format!(
            "oci://{}/charts/web:1.5.0@{d}",
            bed.registry.host()
        )));
    r.assert_error(1, "HelmRelease/flux-system/web ChartMutateError", "");
    assert!(
        r.stderr
            .contains("artifact revision 1.5.0 does not match chart version 1.4.0"),
        "{}",
        r.stderr
    );
    let hr = bed
        .store
        .get(crate::common::bed::HR, "HelmRelease", NS, "web")
        .expect("HelmRelease");
    assert!(seconds_since_transition(&hr, "Ready") < 6.0);
}

/// HC-REMEDIATION, HC-STALLCLEAR: a failed upgrade with the default
/// remediation (no retries) is Stalled: exit 1. The fixing push is not
/// failed on that old Stalled condition: exit 0.
#[test]
fn failed_upgrade_stalls_then_the_fix_ends_green() {
    let Some(bed) = Bed::start() else { return };
    chart_source(&bed, json!({"semver": ">=1.0.0"}));
    chartref_release(&bed);
    let url = |v: &str, d: &str| {
        format!(
            "oci://{}/charts/web:{}@{d}",
            bed.registry.host(),
            v.replace('+', "_")
        )
    };
    let d1 = bed.push_chart("1.0.0", &[]);
    run(bed
        .plugin()
        .args(["wait", "--timeout", "30s", "--artifact"])
        .arg(url("1.0.0", &d1)))
    .assert_ok();
    let d2 = bed.push_chart("1.0.1", &[("sim.gitlab-flux.io/fail", "true")]);
    let r = run(bed
        .plugin()
        .args(["wait", "--timeout", "60s", "--artifact"])
        .arg(url("1.0.1", &d2)));
    r.assert_error(1, "HelmRelease/flux-system/web", "");
    assert!(r.stderr.contains("RetriesExceeded"), "{}", r.stderr);
    // SC-HELMTAG: the fix carries build metadata, so its tag has `_`.
    let d3 = bed.push_chart("1.0.2+fix.1", &[]);
    let fixed = url("1.0.2+fix.1", &d3);
    run(bed.plugin().args(["trigger", "--artifact", &fixed])).assert_ok();
    run(bed
        .plugin()
        .args(["wait", "--timeout", "60s", "--artifact", &fixed]))
    .assert_ok();
}

/// SC-SEMVER, MS-PRE, MS-SORT: `>=1.0.0-0` selects a prerelease above the releases.
#[test]
fn semver_range_with_a_prerelease_comparator_selects_the_prerelease() {
    let Some(bed) = Bed::start() else { return };
    bed.create_source(NS, "apps", "demo/apps", json!({"semver": ">=1.0.0-0"}));
    bed.create_ks(NS, "apps", "apps", json!({}));
    bed.push("demo/apps", "1.0.0", &[("cm.yaml", &configmap("one", ""))]);
    let rc = bed.push(
        "demo/apps",
        "1.5.0-rc.1",
        &[("cm.yaml", &configmap("two", ""))],
    );
    let r = run(bed
        .plugin()
        .args(["wait", "--timeout", "30s", "--artifact"])
        .arg(bed.artifact("demo/apps", "1.5.0-rc.1", &rc)));
    r.assert_ok();
    // A tag that is not a version for Flux is refused with the reason.
    let r = run(bed.plugin().args([
        "trigger",
        "--artifact",
        &format!("oci://{}/demo/apps:v1.3", bed.registry.host()),
    ]));
    r.assert_error(1, "", "");
    assert!(r.stderr.contains("is not a version"), "{}", r.stderr);
}

/// NC-GITLAB: a gitlab Receiver answers 400 to an event its spec.events
/// does not list; the error says so, and `--gitlab-event` sends a listed one.
#[test]
fn gitlab_receiver_events() {
    let Some(bed) = Bed::start() else { return };
    bed.create_source(NS, "apps", "demo/apps", json!({"tag": "latest"}));
    bed.store
        .create(json!({"apiVersion": "v1", "kind": "Secret",
            "metadata": {"name": "hook", "namespace": NS}, "stringData": {"token": "s3cret-token"}}))
        .expect("secret");
    bed.store
        .create(
            json!({"apiVersion": "notification.toolkit.fluxcd.io/v1", "kind": "Receiver",
            "metadata": {"name": "gitlab", "namespace": NS},
            "spec": {"type": "gitlab", "events": ["Tag Push Hook"], "secretRef": {"name": "hook"},
                     "resources": [{"apiVersion": OCI, "kind": "OCIRepository", "name": "apps"}]}}),
        )
        .expect("receiver");
    let rcv = bed.until(
        "notification.toolkit.fluxcd.io/v1",
        "Receiver",
        NS,
        "gitlab",
        |o| o.pointer("/status/webhookPath").is_some(),
    );
    let url = format!(
        "{}{}",
        bed.sim.receiver_url(),
        rcv["status"]["webhookPath"].as_str().unwrap_or_default()
    );
    let call = |event: Option<&str>| {
        let mut cmd = bed.plugin();
        cmd.env("HOOK_TOKEN", "s3cret-token").args([
            "trigger",
            "--receiver",
            &url,
            "--receiver-type",
            "gitlab",
            "--token-env",
            "HOOK_TOKEN",
        ]);
        if let Some(e) = event {
            cmd.args(["--gitlab-event", e]);
        }
        run(&mut cmd)
    };
    let r = call(None);
    r.assert_error(4, "does not list the event \"Push Hook\"", "--gitlab-event");
    assert!(!r.stderr.contains("s3cret-token"));
    call(Some("Tag Push Hook")).assert_ok();
}

/// KC-DOWNLOAD: an artifact whose layer is not a tarball cannot be
/// extracted by kustomize-controller: terminal for that revision.
#[test]
fn artifact_that_cannot_be_extracted_fails_fast() {
    let Some(bed) = Bed::start() else { return };
    bed.store
        .create(json!({
            "apiVersion": OCI, "kind": "OCIRepository",
            "metadata": {"name": "apps", "namespace": NS},
            "spec": {"url": format!("oci://{}/demo/raw", bed.registry.host()), "ref": {"tag": "latest"},
                     "interval": "1s", "insecure": true,
                     "layerSelector": {"mediaType": "application/vnd.cncf.flux.content.v1.tar+gzip", "operation": "copy"}},
        }))
        .expect("create OCIRepository");
    bed.create_ks(NS, "apps", "apps", json!({"retryInterval": "1s"}));
    let client =
        testbed::oci::Client::new(&bed.registry.base_url(), &Default::default()).expect("client");
    let d = testbed::oci::block_on(client.push_single_layer(
        "demo/raw",
        "latest",
        ("application/vnd.cncf.flux.config.v1+json", b"{}"),
        (
            "application/vnd.cncf.flux.content.v1.tar+gzip",
            b"this is not a gzip stream",
        ),
        &[],
    ))
    .expect("push");
    let r = run(bed
        .plugin()
        .args(["wait", "--timeout", "60s", "--artifact"])
        .arg(bed.artifact("demo/raw", "latest", &d)));
    r.assert_error(1, "Kustomization/flux-system/apps ArtifactFailed", "");
    assert!(r.stderr.contains("failed to untar"), "{}", r.stderr);
}

/// HC-VALUES: values from a ConfigMap that does not exist fail
/// before any attempt is recorded: exit 1 with helm-controller's message.
#[test]
fn missing_values_fail_fast() {
    let Some(bed) = Bed::start() else { return };
    chart_source(&bed, json!({"semver": ">=1.0.0"}));
    bed.store
        .create(json!({
            "apiVersion": crate::common::bed::HR, "kind": "HelmRelease",
            "metadata": {"name": "web", "namespace": NS},
            "spec": {"interval": "10m", "chartRef": {"kind": "OCIRepository", "name": "web"},
                     "targetNamespace": "apps",
                     "valuesFrom": [{"kind": "ConfigMap", "name": "web-values"}]},
        }))
        .expect("create HelmRelease");
    let d = bed.push_chart("1.0.0", &[]);
    let r = run(bed
        .plugin()
        .args(["wait", "--timeout", "60s", "--artifact"])
        .arg(format!(
            "oci://{}/charts/web:1.0.0@{d}",
            bed.registry.host()
        )));
    r.assert_error(1, "HelmRelease/flux-system/web ValuesError", "");
    assert!(r.stderr.contains("web-values"), "{}", r.stderr);
}

/// MS-STRICT: a chart whose version Helm would not take as SemVer 2 is
/// refused before anything is pushed.
#[test]
fn chart_version_must_be_strict_semver() {
    let Some(bed) = Bed::start() else { return };
    let chart = bed.dir.path().join("chart");
    std::fs::create_dir_all(chart.join("templates")).expect("chart dir");
    std::fs::write(
        chart.join("Chart.yaml"),
        "apiVersion: v2\nname: web\nversion: \"1.2\"\n",
    )
    .expect("Chart.yaml");
    let r = run(bed
        .plugin()
        .arg("push")
        .arg(&chart)
        .arg(format!("oci://{}/charts/web:1.2", bed.registry.host()))
        .arg("--helm-chart"));
    r.assert_error(2, "not SemVer 2", "");
}

/// HC-DEP: a HelmRelease waits for the HelmRelease it depends on, which
/// appears a moment later; DependencyNotReady is waited through.
#[test]
fn helmrelease_dependency_is_waited_through() {
    let Some(bed) = Bed::start() else { return };
    chart_source(&bed, json!({"semver": ">=1.0.0"}));
    bed.store
        .create(json!({
            "apiVersion": crate::common::bed::HR, "kind": "HelmRelease",
            "metadata": {"name": "web", "namespace": NS},
            "spec": {"interval": "10m", "chartRef": {"kind": "OCIRepository", "name": "web"},
                     "targetNamespace": "apps", "dependsOn": [{"name": "db"}]},
        }))
        .expect("create HelmRelease");
    let d = bed.push_chart("1.0.0", &[]);
    let store = bed.store.clone();
    let later = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(1500));
        store
            .create(json!({
                "apiVersion": crate::common::bed::HR, "kind": "HelmRelease",
                "metadata": {"name": "db", "namespace": NS},
                "spec": {"interval": "10m", "chartRef": {"kind": "OCIRepository", "name": "web"},
                         "targetNamespace": "apps"},
            }))
            .expect("create HelmRelease db");
    });
    let r = run(bed
        .plugin()
        .args(["wait", "--timeout", "60s", "--artifact"])
        .arg(format!(
            "oci://{}/charts/web:1.0.0@{d}",
            bed.registry.host()
        )));
    later.join().expect("db");
    r.assert_ok();
}
