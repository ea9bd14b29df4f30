//! The verdict scenarios on BOTH backends, against ONE table of expected
//! outcomes (`common::scenarios::SCENARIOS`): `sim_<name>` runs on the API
//! emulator and the Flux simulator (its knobs, tests/support/testbed/README.md),
//! `real_<name>` on the real cluster with the real Flux v2.9.4 controllers
//! (the real cause: a real chart, a real missing path, a real Deployment).
//! Same exit code, same reason, or the suite fails; real Flux is the ground
//! truth (docs/flux-semantics.md).

use crate::common::bed::{Bed, NS};
use crate::common::real::{HR, KS, OCI, RealBed};
use crate::common::run;
use crate::common::scenarios::assert_scenario;
use serde_json::{Value, json};
use std::time::{Duration, Instant, SystemTime};

const HELM_LAYER: &str = "application/vnd.cncf.helm.chart.content.v1.tar+gzip";

fn configmap(name: &str, value: &str) -> String {
    format!(
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}\ndata:\n  key: \"{value}\"\n"
    )
}

fn applied(obj: &Value, digest: &str) -> bool {
    obj.pointer("/status/lastAppliedRevision")
        .and_then(Value::as_str)
        .is_some_and(|r| r.ends_with(digest))
}

/// Copy the manifest of `repo:from` to `repo:to` (a chart under a tag that
/// is not its version); the manifest digest.
fn retag(base_url: &str, repo: &str, from: &str, to: &str) -> String {
    let m = testbed::oci::pull_manifest(base_url, repo, from).expect("pull manifest");
    testbed::oci::block_on(async {
        testbed::oci::Client::new(base_url, &testbed::oci::ClientOptions::default())?
            .push_manifest(repo, to, &m.media_type, &m.bytes)
            .await
    })
    .expect("retag")
}

/// A Helm chart `web` at `version` whose one template is `template`.
fn push_chart(
    base_url: &str,
    repo: &str,
    version: &str,
    template: &str,
    ann: &[(&str, &str)],
) -> String {
    testbed::oci::push_helm_chart(
        base_url,
        repo,
        "web",
        version,
        &[("templates/configmap.yaml", template.as_bytes())],
        ann,
    )
    .expect("push chart")
}

const GOOD_TEMPLATE: &str = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ .Release.Name }}-config\ndata:\n  version: {{ .Chart.Version | quote }}\n";
/// Renders an object the apiserver rejects (an invalid name): Helm's
/// upgrade fails.
const BAD_TEMPLATE: &str = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: Invalid_Name\ndata:\n  version: {{ .Chart.Version | quote }}\n";

/// Exit of a wait within 5 s of the Ready condition's transition (whole
/// seconds: one more second allowed).
#[track_caller]
fn within_5s(obj: &Value, exited: SystemTime) {
    let t = obj["status"]["conditions"]
        .as_array()
        .and_then(|cs| cs.iter().find(|c| c["type"] == "Ready"))
        .and_then(|c| c["lastTransitionTime"].as_str())
        .unwrap_or_else(|| panic!("no Ready transition in {obj}"));
    let t: jiff::Timestamp = t.parse().expect("timestamp");
    let exited = jiff::Timestamp::try_from(exited).expect("now");
    let lag = (exited - t).total(jiff::Unit::Second).expect("seconds");
    assert!(lag < 6.0, "exited {lag:.1} s after the condition: {obj}");
}

fn wait(cmd: &mut std::process::Command, artifact: &str, timeout: &str) -> crate::common::Run {
    run(cmd.args(["wait", "--timeout", timeout, "--artifact", artifact]))
}

// ---------------------------------------------------------------------------
// The simulator side.

fn sim_lazy_source(bed: &Bed, name: &str, repo: &str, reference: Value, extra: Value) {
    let mut spec = json!({"url": format!("oci://{}/{repo}", bed.registry.host()), "ref": reference,
                          "interval": "1h", "insecure": true});
    if let (Some(s), Some(e)) = (spec.as_object_mut(), extra.as_object()) {
        s.extend(e.clone());
    }
    bed.store
        .create(json!({"apiVersion": OCI, "kind": "OCIRepository",
                       "metadata": {"name": name, "namespace": NS}, "spec": spec}))
        .expect("create OCIRepository");
}

fn sim_hr(bed: &Bed, name: &str, source: &str) {
    bed.store
        .create(json!({
            "apiVersion": HR, "kind": "HelmRelease",
            "metadata": {"name": name, "namespace": NS},
            "spec": {"interval": "10m", "chartRef": {"kind": "OCIRepository", "name": source}},
        }))
        .expect("create HelmRelease");
}

#[test]
fn sim_moved_tag() {
    let Some(bed) = Bed::start() else { return };
    sim_lazy_source(
        &bed,
        "apps",
        "demo/apps",
        json!({"tag": "staging"}),
        json!({}),
    );
    let d1 = bed.push(
        "demo/apps",
        "staging",
        &[("cm.yaml", &configmap("one", "v1"))],
    );
    bed.create_ks(NS, "apps", "apps", json!({}));
    bed.until(KS, "Kustomization", NS, "apps", |o| applied(o, &d1));
    let d2 = bed.push(
        "demo/apps",
        "staging",
        &[("cm.yaml", &configmap("one", "v2"))],
    );
    let staging = format!("oci://{}/demo/apps:staging", bed.registry.host());
    let r = wait(&mut bed.plugin(), &staging, "3s");
    assert_scenario("moved_tag_untriggered", "simulator", &r);
    assert!(r.stderr.contains(&d2[..19]), "{}", r.stderr);
    run(bed.plugin().args(["trigger", "--artifact", &staging])).assert_ok();
    let r = wait(&mut bed.plugin(), &staging, "30s");
    assert_scenario("moved_tag_triggered", "simulator", &r);
}

#[test]
fn sim_chartref_non_semver_tag() {
    let Some(bed) = Bed::start() else { return };
    let base = bed.registry.base_url();
    push_chart(&base, "charts/web", "1.0.0", GOOD_TEMPLATE, &[]);
    let d = retag(&base, "charts/web", "1.0.0", "main");
    sim_lazy_source(
        &bed,
        "web",
        "charts/web",
        json!({"tag": "main"}),
        json!({"layerSelector": {"mediaType": HELM_LAYER, "operation": "copy"}}),
    );
    sim_hr(&bed, "web", "web");
    let url = format!("oci://{}/charts/web:main@{d}", bed.registry.host());
    let r = wait(&mut bed.plugin(), &url, "30s");
    assert_scenario("chartref_non_semver_tag", "simulator", &r);
}

#[test]
fn sim_chartref_tag_differs_from_chart_version() {
    let Some(bed) = Bed::start() else { return };
    let base = bed.registry.base_url();
    push_chart(&base, "charts/web", "1.0.0", GOOD_TEMPLATE, &[]);
    let d = retag(&base, "charts/web", "1.0.0", "2.0.0");
    sim_lazy_source(
        &bed,
        "web",
        "charts/web",
        json!({"tag": "2.0.0"}),
        json!({"layerSelector": {"mediaType": HELM_LAYER, "operation": "copy"}}),
    );
    sim_hr(&bed, "web", "web");
    let url = format!("oci://{}/charts/web:2.0.0@{d}", bed.registry.host());
    let r = wait(&mut bed.plugin(), &url, "30s");
    let exited = SystemTime::now();
    assert_scenario("chartref_tag_differs_from_chart_version", "simulator", &r);
    within_5s(
        &bed.store.get(HR, "HelmRelease", NS, "web").expect("hr"),
        exited,
    );
}

#[test]
fn sim_path_not_found() {
    let Some(bed) = Bed::start() else { return };
    bed.create_source(NS, "apps", "demo/apps", json!({"tag": "latest"}));
    bed.create_ks(NS, "apps", "apps", json!({"path": "./deploy"}));
    let d = bed.push(
        "demo/apps",
        "latest",
        &[("cm.yaml", &configmap("one", "v1"))],
    );
    let r = wait(
        &mut bed.plugin(),
        &bed.artifact("demo/apps", "latest", &d),
        "30s",
    );
    let exited = SystemTime::now();
    assert_scenario("path_not_found", "simulator", &r);
    within_5s(
        &bed.store.get(KS, "Kustomization", NS, "apps").expect("ks"),
        exited,
    );
}

#[test]
fn sim_upgrade_fails_then_fixed() {
    let Some(bed) = Bed::start() else { return };
    let base = bed.registry.base_url();
    sim_lazy_source(
        &bed,
        "web",
        "charts/web",
        json!({"semver": ">=1.0.0"}),
        json!({"layerSelector": {"mediaType": HELM_LAYER, "operation": "copy"}}),
    );
    sim_hr(&bed, "web", "web");
    let url = |v: &str, d: &str| format!("oci://{}/charts/web:{v}@{d}", bed.registry.host());
    let d1 = push_chart(&base, "charts/web", "1.0.0", GOOD_TEMPLATE, &[]);
    run(bed
        .plugin()
        .args(["trigger", "--artifact", &url("1.0.0", &d1)]))
    .assert_ok();
    run(bed
        .plugin()
        .args(["wait", "--timeout", "30s", "--artifact", &url("1.0.0", &d1)]))
    .assert_ok();
    let d2 = push_chart(
        &base,
        "charts/web",
        "1.0.1",
        BAD_TEMPLATE,
        &[("sim.gitlab-flux.io/fail", "true")],
    );
    run(bed
        .plugin()
        .args(["trigger", "--artifact", &url("1.0.1", &d2)]))
    .assert_ok();
    let r = wait(&mut bed.plugin(), &url("1.0.1", &d2), "60s");
    assert_scenario("upgrade_fails", "simulator", &r);
    let d3 = push_chart(&base, "charts/web", "1.0.2", GOOD_TEMPLATE, &[]);
    run(bed
        .plugin()
        .args(["trigger", "--artifact", &url("1.0.2", &d3)]))
    .assert_ok();
    let r = wait(&mut bed.plugin(), &url("1.0.2", &d3), "60s");
    assert_scenario("upgrade_fixed_by_next_push", "simulator", &r);
}

#[test]
fn sim_health_check_passes_late() {
    let Some(bed) = Bed::start() else { return };
    bed.create_source(NS, "apps", "demo/apps", json!({"tag": "latest"}));
    bed.create_ks(
        NS,
        "apps",
        "apps",
        json!({"wait": true, "retryInterval": "1s"}),
    );
    let cm = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: slow\n  annotations:\n    sim.gitlab-flux.io/fail: HealthCheckFailed\n    sim.gitlab-flux.io/fail-times: \"1\"\ndata:\n  key: v\n";
    let d = bed.push("demo/apps", "latest", &[("cm.yaml", cm)]);
    let r = wait(
        &mut bed.plugin(),
        &bed.artifact("demo/apps", "latest", &d),
        "60s",
    );
    assert_scenario("health_check_passes_late", "simulator", &r);
}

#[test]
fn sim_semver_prerelease() {
    let Some(bed) = Bed::start() else { return };
    bed.push(
        "demo/apps",
        "1.0.0",
        &[("cm.yaml", &configmap("one", "1.0.0"))],
    );
    let rc = bed.push(
        "demo/apps",
        "1.5.0-rc.1",
        &[("cm.yaml", &configmap("one", "rc"))],
    );
    sim_lazy_source(
        &bed,
        "apps",
        "demo/apps",
        json!({"semver": ">=1.0.0-0"}),
        json!({}),
    );
    bed.create_ks(NS, "apps", "apps", json!({}));
    let url = bed.artifact("demo/apps", "1.5.0-rc.1", &rc);
    run(bed.plugin().args(["trigger", "--artifact", &url])).assert_ok();
    let r = wait(&mut bed.plugin(), &url, "30s");
    assert_scenario("semver_prerelease", "simulator", &r);
}

#[test]
fn sim_broken_manifest() {
    let Some(bed) = Bed::start() else { return };
    bed.create_source(NS, "apps", "demo/apps", json!({"tag": "latest"}));
    bed.create_ks(NS, "apps", "apps", json!({}));
    let d = bed.push(
        "demo/apps",
        "latest",
        &[("cm.yaml", "apiVersion: v1\nkind: [unclosed\n")],
    );
    let r = wait(
        &mut bed.plugin(),
        &bed.artifact("demo/apps", "latest", &d),
        "30s",
    );
    assert_scenario("broken_manifest", "simulator", &r);
}

#[test]
fn sim_shipped_source() {
    let Some(bed) = Bed::start() else { return };
    let child = format!(
        "apiVersion: {OCI}\nkind: OCIRepository\nmetadata:\n  name: child\n  namespace: {NS}\nspec:\n  url: oci://{host}/demo/child\n  interval: 1m\n  insecure: true\n  ref:\n    tag: v1\n---\napiVersion: {KS}\nkind: Kustomization\nmetadata:\n  name: child\n  namespace: {NS}\nspec:\n  interval: 1m\n  retryInterval: 2s\n  path: ./\n  prune: true\n  sourceRef:\n    kind: OCIRepository\n    name: child\n",
        host = bed.registry.host()
    );
    bed.push("demo/child", "v1", &[("cm.yaml", &configmap("inner", "x"))]);
    bed.create_source(NS, "outer", "demo/outer", json!({"tag": "latest"}));
    bed.create_ks(NS, "outer", "outer", json!({}));
    let d = bed.push("demo/outer", "latest", &[("flux.yaml", &child)]);
    let r = wait(
        &mut bed.plugin(),
        &bed.artifact("demo/outer", "latest", &d),
        "60s",
    );
    assert_scenario("shipped_source", "simulator", &r);
}

// ---------------------------------------------------------------------------
// The real side.

const LONG: Duration = Duration::from_secs(60);

fn real_chart_source(bed: &RealBed, name: &str, reference: Value) {
    bed.apply(json!({
        "apiVersion": OCI, "kind": "OCIRepository",
        "metadata": {"name": name},
        "spec": {"url": bed.oci("charts/web"), "interval": "1m", "insecure": true, "ref": reference,
                 "layerSelector": {"mediaType": HELM_LAYER, "operation": "copy"}},
    }));
}

fn real_hr(bed: &RealBed, name: &str, source: &str) {
    bed.apply(json!({
        "apiVersion": HR, "kind": "HelmRelease",
        "metadata": {"name": name},
        "spec": {"interval": "1m", "chartRef": {"kind": "OCIRepository", "name": source},
                 "install": {"timeout": "30s"}, "upgrade": {"timeout": "30s"}},
    }));
}

fn helm_log(bed: &RealBed) -> String {
    bed.cluster.log_tail("helm-controller", 20)
}

#[test]
fn real_moved_tag() {
    let Some(bed) = RealBed::start("v-moved-tag") else {
        return;
    };
    bed.create_source("apps", "apps", json!({"tag": "staging"}));
    bed.create_ks("apps", "apps", json!({"targetNamespace": bed.ns}));
    let d1 = bed.push("apps", "staging", &[("cm.yaml", &configmap("one", "v1"))]);
    run(bed.plugin().args([
        "trigger",
        "--artifact",
        &bed.artifact("apps", "staging", &d1),
    ]))
    .assert_ok();
    bed.until(KS, "Kustomization", "apps", LONG, |o| applied(o, &d1));
    let d2 = bed.push("apps", "staging", &[("cm.yaml", &configmap("one", "v2"))]);
    let staging = format!("{}:staging", bed.oci("apps"));
    // Nobody asked Flux to pull (interval 1m): it still has d1 applied.
    let r = wait(&mut bed.plugin(), &staging, "3s");
    assert_scenario("moved_tag_untriggered", "real", &r);
    assert!(
        r.stderr.contains(&d2[..19]),
        "names the resolved digest:\n{}",
        r.stderr
    );
    run(bed.plugin().args(["trigger", "--artifact", &staging])).assert_ok();
    let r = run(bed.plugin().args([
        "wait",
        "--timeout",
        "60s",
        "-o",
        "json",
        "--artifact",
        &staging,
    ]));
    assert_scenario("moved_tag_triggered", "real", &r);
    assert_eq!(r.json()["digest"], d2.as_str());
    let ks = bed.get(KS, "Kustomization", "apps").expect("ks");
    assert!(applied(&ks, &d2), "{ks}");
}

#[test]
fn real_chartref_non_semver_tag() {
    let Some(bed) = RealBed::start("v-chartref-main") else {
        return;
    };
    if !bed.require("helm-controller") {
        return;
    }
    let base = bed.cluster.registry().base_url();
    let repo = bed.repo("charts/web");
    push_chart(&base, &repo, "1.0.0", GOOD_TEMPLATE, &[]);
    let d = retag(&base, &repo, "1.0.0", "main");
    real_chart_source(&bed, "web", json!({"tag": "main"}));
    real_hr(&bed, "web", "web");
    let url = format!("{}:main@{d}", bed.oci("charts/web"));
    run(bed.plugin().args(["trigger", "--artifact", &url])).assert_ok();
    let r = wait(&mut bed.plugin(), &url, "90s");
    let hr = bed.get(HR, "HelmRelease", "web").expect("hr");
    eprintln!("HelmRelease status: {}", hr["status"]);
    assert_scenario("chartref_non_semver_tag", "real", &r);
    // HC-CHARTREF (c): the whole revision, not the bare digest.
    assert_eq!(
        hr["status"]["lastAttemptedRevisionDigest"],
        format!("main@{d}"),
        "{hr}"
    );
}

#[test]
fn real_chartref_tag_differs_from_chart_version() {
    let Some(bed) = RealBed::start("v-chartref-mutate") else {
        return;
    };
    if !bed.require("helm-controller") {
        return;
    }
    let base = bed.cluster.registry().base_url();
    let repo = bed.repo("charts/web");
    push_chart(&base, &repo, "1.0.0", GOOD_TEMPLATE, &[]);
    let d = retag(&base, &repo, "1.0.0", "2.0.0");
    real_chart_source(&bed, "web", json!({"tag": "2.0.0"}));
    real_hr(&bed, "web", "web");
    let url = format!("{}:2.0.0@{d}", bed.oci("charts/web"));
    run(bed.plugin().args(["trigger", "--artifact", &url])).assert_ok();
    let r = wait(&mut bed.plugin(), &url, "60s");
    let exited = SystemTime::now();
    let hr = bed.get(HR, "HelmRelease", "web").expect("hr");
    eprintln!("HelmRelease status: {}\n{}", hr["status"], helm_log(&bed));
    assert_scenario("chartref_tag_differs_from_chart_version", "real", &r);
    let msg = RealBed::ready(&hr)
        .and_then(|c| c["message"].as_str())
        .unwrap_or_default()
        .to_string();
    assert!(msg.contains("does not match chart version"), "{msg}");
    assert!(
        r.stderr.contains(&msg),
        "helm-controller's message {msg:?}:\n{}",
        r.stderr
    );
    within_5s(&hr, exited);
}

#[test]
fn real_path_not_found() {
    let Some(bed) = RealBed::start("v-path-missing") else {
        return;
    };
    bed.create_source("apps", "apps", json!({"tag": "latest"}));
    bed.create_ks(
        "apps",
        "apps",
        json!({"targetNamespace": bed.ns, "path": "./deploy"}),
    );
    let d = bed.push("apps", "latest", &[("cm.yaml", &configmap("one", "v1"))]);
    let url = bed.artifact("apps", "latest", &d);
    run(bed.plugin().args(["trigger", "--artifact", &url])).assert_ok();
    let r = wait(&mut bed.plugin(), &url, "60s");
    let exited = SystemTime::now();
    let ks = bed.get(KS, "Kustomization", "apps").expect("ks");
    assert_scenario("path_not_found", "real", &r);
    within_5s(&ks, exited);
}

#[test]
fn real_upgrade_fails_then_fixed() {
    let Some(bed) = RealBed::start("v-upgrade-fails") else {
        return;
    };
    if !bed.require("helm-controller") {
        return;
    }
    let base = bed.cluster.registry().base_url();
    let repo = bed.repo("charts/web");
    real_chart_source(&bed, "web", json!({"semver": ">=1.0.0"}));
    real_hr(&bed, "web", "web");
    let url = |v: &str, d: &str| format!("{}:{v}@{d}", bed.oci("charts/web"));
    let d1 = push_chart(&base, &repo, "1.0.0", GOOD_TEMPLATE, &[]);
    run(bed
        .plugin()
        .args(["trigger", "--artifact", &url("1.0.0", &d1)]))
    .assert_ok();
    run(bed
        .plugin()
        .args(["wait", "--timeout", "90s", "--artifact", &url("1.0.0", &d1)]))
    .assert_ok();

    let d2 = push_chart(&base, &repo, "1.0.1", BAD_TEMPLATE, &[]);
    run(bed
        .plugin()
        .args(["trigger", "--artifact", &url("1.0.1", &d2)]))
    .assert_ok();
    let started = Instant::now();
    let r = wait(&mut bed.plugin(), &url("1.0.1", &d2), "90s");
    let hr = bed.get(HR, "HelmRelease", "web").expect("hr");
    eprintln!("HelmRelease after the failed upgrade: {}", hr["status"]);
    assert_scenario("upgrade_fails", "real", &r);
    assert!(
        started.elapsed() < Duration::from_secs(45),
        "{:?}",
        started.elapsed()
    );

    let d3 = push_chart(&base, &repo, "1.0.2", GOOD_TEMPLATE, &[]);
    run(bed
        .plugin()
        .args(["trigger", "--artifact", &url("1.0.2", &d3)]))
    .assert_ok();
    let r = wait(&mut bed.plugin(), &url("1.0.2", &d3), "90s");
    let hr = bed.get(HR, "HelmRelease", "web").expect("hr");
    eprintln!("HelmRelease after the fix: {}", hr["status"]);
    assert_scenario("upgrade_fixed_by_next_push", "real", &r);
    assert_eq!(
        bed.get("v1", "ConfigMap", "web-config").expect("cm")["data"]["version"],
        format!("1.0.2+{}", &d3[7..19])
    );
}

const DEPLOYMENT: &str = "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: slow\nspec:\n  replicas: 1\n  selector:\n    matchLabels:\n      app: slow\n  template:\n    metadata:\n      labels:\n        app: slow\n    spec:\n      containers:\n      - name: app\n        image: registry.invalid/slow:1\n";

#[test]
fn real_health_check_passes_late() {
    let Some(bed) = RealBed::start("v-health-late") else {
        return;
    };
    bed.create_source("apps", "apps", json!({"tag": "latest"}));
    bed.create_ks(
        "apps",
        "apps",
        json!({"targetNamespace": bed.ns, "wait": true}),
    );
    let d = bed.push("apps", "latest", &[("deploy.yaml", DEPLOYMENT)]);
    let url = bed.artifact("apps", "latest", &d);
    // No deployment controller runs: this thread makes the Deployment
    // roll out, 4 s after kustomize-controller created it.
    let ns = bed.ns.clone();
    let cluster = bed.cluster;
    let roller = std::thread::spawn(move || {
        let deadline = Instant::now() + LONG;
        while cluster.get("apps/v1", "Deployment", &ns, "slow").is_none() {
            assert!(Instant::now() < deadline, "Deployment never created");
            std::thread::sleep(Duration::from_millis(200));
        }
        std::thread::sleep(Duration::from_secs(4));
        let status = json!({"status": {
        "observedGeneration": 1, "replicas": 1, "updatedReplicas": 1,
        "readyReplicas": 1, "availableReplicas": 1,
        "conditions": [
            {"type": "Available", "status": "True", "reason": "MinimumReplicasAvailable",
             "message": "ok", "lastUpdateTime": "2025-01-01T00:00:00Z", "lastTransitionTime": "2025-01-01T00:00:00Z"},
            {"type": "Progressing", "status": "True", "reason": "NewReplicaSetAvailable",
             "message": "ok", "lastUpdateTime": "2025-01-01T00:00:00Z", "lastTransitionTime": "2025-01-01T00:00:00Z"},
        ]}});
        let out = cluster
            .kubectl_admin()
            .args([
                "patch",
                "deployment",
                "slow",
                "-n",
                &ns,
                "--subresource=status",
                "--type=merge",
                "-p",
            ])
            .arg(status.to_string())
            .output()
            .expect("kubectl patch");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        Instant::now()
    });
    run(bed.plugin().args(["trigger", "--artifact", &url])).assert_ok();
    let r = wait(&mut bed.plugin(), &url, "90s");
    let rolled = roller.join().expect("roller");
    eprintln!(
        "wait ended {:.1} s after the roll-out",
        rolled.elapsed().as_secs_f64()
    );
    assert_scenario("health_check_passes_late", "real", &r);
    assert!(applied(
        &bed.get(KS, "Kustomization", "apps").expect("ks"),
        &d
    ));
}

#[test]
fn real_semver_prerelease() {
    let Some(bed) = RealBed::start("v-semver-pre") else {
        return;
    };
    bed.push("apps", "1.0.0", &[("cm.yaml", &configmap("one", "1.0.0"))]);
    let rc = bed.push(
        "apps",
        "1.5.0-rc.1",
        &[("cm.yaml", &configmap("one", "rc"))],
    );
    bed.create_source("apps", "apps", json!({"semver": ">=1.0.0-0"}));
    bed.create_ks("apps", "apps", json!({"targetNamespace": bed.ns}));
    let url = bed.artifact("apps", "1.5.0-rc.1", &rc);
    run(bed.plugin().args(["trigger", "--artifact", &url])).assert_ok();
    let r = wait(&mut bed.plugin(), &url, "60s");
    assert_scenario("semver_prerelease", "real", &r);
    let src = bed.get(OCI, "OCIRepository", "apps").expect("source");
    assert_eq!(
        src["status"]["artifact"]["revision"],
        format!("1.5.0-rc.1@{rc}")
    );
    assert_eq!(
        bed.get("v1", "ConfigMap", "one").expect("cm")["data"]["key"],
        "rc"
    );
}
