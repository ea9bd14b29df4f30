//! The acceptance scenarios of `wait` end to end: HelmReleases shipped in
//! the artifact and via an OCI chartRef, the failure reasons, dependency
//! culprits, several namespaces and clusters, Ctrl-C, and API faults.

use crate::common::bed::{Bed, HR, KS, NS, OCI, applied, configmap, merged_kubeconfig};
use crate::common::{Run, run};
use serde_json::{Value, json};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A HelmRelease manifest (spec.chart, simulated) for the artifact.
fn helmrelease(name: &str, sim_fail: bool) -> String {
    format!(
        "apiVersion: helm.toolkit.fluxcd.io/v2\nkind: HelmRelease\nmetadata:\n  name: {name}\n  namespace: apps\nspec:\n  interval: 10m\n  chart:\n    spec:\n      chart: web\n      version: 1.0.0\n      sourceRef:\n        kind: HelmRepository\n        name: charts\n  values:\n    replicaCount: 1\n    simFail: {sim_fail}\n    simMessage: the web chart refused the values\n"
    )
}

fn object<'a>(report: &'a Value, kind: &str, name: &str) -> &'a Value {
    report["objects"]
        .as_array()
        .expect("objects")
        .iter()
        .find(|o| o["kind"] == kind && o["name"] == name)
        .unwrap_or_else(|| panic!("{kind}/{name} not in the report: {report}"))
}

fn spawn(cmd: &mut Command) -> Child {
    cmd.stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn wait")
}

fn failing_cm(reason: &str, message: &str) -> String {
    configmap(
        "one",
        &format!(
            "  annotations:\n    sim.gitlab-flux.io/fail: {reason}\n    sim.gitlab-flux.io/message: {message}\n"
        ),
    )
}

#[test]
fn helmrelease_shipped_in_the_artifact() {
    let Some(bed) = Bed::start() else { return };
    // The shipped release's `spec.chart` needs its OCI HelmRepository and
    // the chart (the simulator pulls it through a HelmChart, SC-HELMCHART).
    bed.store
        .create(json!({
            "apiVersion": OCI, "kind": "HelmRepository",
            "metadata": {"name": "charts", "namespace": "apps"},
            "spec": {"type": "oci", "url": format!("oci://{}/charts", bed.registry.host()),
                     "interval": "1m", "insecure": true},
        }))
        .expect("create HelmRepository");
    bed.push_chart("1.0.0", &[]);
    bed.create_source(NS, "apps", "demo/apps", json!({"tag": "latest"}));
    bed.create_ks(NS, "apps", "apps", json!({}));
    let d1 = bed.push(
        "demo/apps",
        "latest",
        &[
            ("cm.yaml", &configmap("one", "")),
            ("hr.yaml", &helmrelease("web", false)),
        ],
    );
    let r = run(bed
        .plugin()
        .args(["wait", "--timeout", "30s", "-o", "json", "--artifact"])
        .arg(bed.artifact("demo/apps", "latest", &d1)));
    r.assert_ok();
    // Issue 14 item 11: an object the wait has not listed yet is
    // "waiting", never "NotFound" (it is found as soon as its kind is listed).
    assert!(!r.stderr.contains("NotFound"), "{}", r.stderr);
    let report = r.json();
    let hr = object(&report, "HelmRelease", "web");
    assert_eq!(hr["state"], "ready", "{hr}");
    assert_eq!(hr["namespace"], "apps");
    assert_eq!(hr["via"], "inventory of Kustomization/flux-system/apps");

    // The next revision configures the release to fail.
    let d2 = bed.push(
        "demo/apps",
        "latest",
        &[
            ("cm.yaml", &configmap("one", "")),
            ("hr.yaml", &helmrelease("web", true)),
        ],
    );
    let started = Instant::now();
    let r = run(bed
        .plugin()
        .args(["wait", "--timeout", "60s", "-o", "json", "--artifact"])
        .arg(bed.artifact("demo/apps", "latest", &d2)));
    r.assert_error(1, "HelmRelease/apps/web", "");
    assert!(
        r.stderr.contains("the web chart refused the values"),
        "{}",
        r.stderr
    );
    assert!(started.elapsed() < Duration::from_secs(30));
    let report = r.json();
    assert_eq!(report["result"], "failed");
    assert_eq!(object(&report, "HelmRelease", "web")["state"], "failed");
}

#[test]
fn helmrelease_chartref_success_then_upgrade_failure() {
    let Some(bed) = Bed::start() else { return };
    bed.store
        .create(json!({
            "apiVersion": OCI, "kind": "OCIRepository",
            "metadata": {"name": "web", "namespace": NS},
            "spec": {
                "url": format!("oci://{}/charts/web", bed.registry.host()),
                "interval": "1s", "insecure": true,
                "ref": {"semver": ">=1.0.0"},
                "layerSelector": {"mediaType": "application/vnd.cncf.helm.chart.content.v1.tar+gzip", "operation": "copy"},
            },
        }))
        .expect("create OCIRepository");
    bed.store
        .create(json!({
            "apiVersion": HR, "kind": "HelmRelease",
            "metadata": {"name": "web", "namespace": NS},
            "spec": {"interval": "10m", "chartRef": {"kind": "OCIRepository", "name": "web"},
                     "targetNamespace": "apps", "values": {"replicaCount": 1}},
        }))
        .expect("create HelmRelease");
    let d1 = bed.push_chart("1.0.0", &[]);
    let url =
        |version: &str, d: &str| format!("oci://{}/charts/web:{version}@{d}", bed.registry.host());
    let r = run(bed
        .plugin()
        .args(["wait", "--timeout", "30s", "-o", "json", "--artifact"])
        .arg(url("1.0.0", &d1)));
    r.assert_ok();
    let report = r.json();
    let hr = object(&report, "HelmRelease", "web");
    assert_eq!(hr["state"], "ready", "{hr}");
    let short = &d1["sha256:".len().."sha256:".len() + 12];
    assert_eq!(hr["revision"], format!("1.0.0+{short}"));
    let stored = bed.store.get(HR, "HelmRelease", NS, "web").expect("hr");
    assert_eq!(stored["status"]["lastAttemptedRevisionDigest"], d1.as_str());

    let d2 = bed.push_chart("1.0.1", &[("sim.gitlab-flux.io/fail", "true")]);
    let started = Instant::now();
    let r = run(bed
        .plugin()
        .args(["wait", "--timeout", "60s", "--artifact"])
        .arg(url("1.0.1", &d2)));
    r.assert_error(1, "HelmRelease/flux-system/web", "");
    let took = started.elapsed();
    let first = r
        .stderr
        .lines()
        .find(|l| l.starts_with("error: "))
        .unwrap_or_default();
    assert!(
        first.contains("UpgradeFailed") || first.contains("RetriesExceeded"),
        "{}",
        r.stderr
    );
    assert!(took < Duration::from_secs(20), "failed fast: {took:?}");
}

#[test]
fn reconciliation_and_health_check_failures() {
    let Some(bed) = Bed::start() else { return };
    bed.create_source(NS, "apps", "demo/apps", json!({"tag": "latest"}));
    bed.create_ks(NS, "apps", "apps", json!({}));
    let d1 = bed.push("demo/apps", "latest", &[("cm.yaml", &configmap("one", ""))]);
    bed.until(KS, "Kustomization", NS, "apps", |o| applied(o, &d1));

    // KC-APPLY: an apply error of the pushed revision is terminal.
    let d = bed.push(
        "demo/apps",
        "latest",
        &[(
            "cm.yaml",
            &failing_cm(
                "ReconciliationFailed",
                "admission webhook denied the ConfigMap",
            ),
        )],
    );
    let started = Instant::now();
    let r = run(bed
        .plugin()
        .args(["wait", "--timeout", "60s", "--artifact"])
        .arg(bed.artifact("demo/apps", "latest", &d)));
    r.assert_error(1, "Kustomization/flux-system/apps ReconciliationFailed", "");
    assert!(
        r.stderr.contains("admission webhook denied the ConfigMap"),
        "{}",
        r.stderr
    );
    assert!(started.elapsed() < Duration::from_secs(30), "failed fast");

    // KC-HEALTH: kustomize-controller retries health checks at its retry
    // interval, so a failed one is not final: the wait goes on and its
    // timeout names the reason.
    let d = bed.push(
        "demo/apps",
        "latest",
        &[(
            "cm.yaml",
            &failing_cm("HealthCheckFailed", "the ConfigMap never became healthy"),
        )],
    );
    let r = run(bed
        .plugin()
        .args(["wait", "--timeout", "6s", "--artifact"])
        .arg(bed.artifact("demo/apps", "latest", &d)));
    r.assert_error(3, "timed out", "");
    assert!(
        r.stderr.contains("retrying: health check failed")
            || r.stderr
                .contains("retrying: the ConfigMap never became healthy"),
        "{}",
        r.stderr
    );
}

#[test]
fn dependency_failure_names_the_culprit() {
    let Some(bed) = Bed::start() else { return };
    bed.create_source(NS, "infra", "demo/infra", json!({"tag": "latest"}));
    bed.create_source(NS, "apps", "demo/apps", json!({"tag": "latest"}));
    bed.create_ks(NS, "a", "infra", json!({}));
    bed.create_ks(NS, "b", "apps", json!({"dependsOn": [{"name": "a"}]}));
    let i1 = bed.push("demo/infra", "latest", &[("cm.yaml", &configmap("a", ""))]);
    let d1 = bed.push("demo/apps", "latest", &[("cm.yaml", &configmap("b", ""))]);
    bed.until(KS, "Kustomization", NS, "a", |o| applied(o, &i1));
    bed.until(KS, "Kustomization", NS, "b", |o| applied(o, &d1));

    // `a`'s new revision fails: waiting on it (and its dependents) names `a`.
    let i2 = bed.push(
        "demo/infra",
        "latest",
        &[(
            "cm.yaml",
            &failing_cm("ReconciliationFailed", "quota exceeded"),
        )],
    );
    let r = run(bed
        .plugin()
        .args(["wait", "--timeout", "60s", "--dependents", "--artifact"])
        .arg(bed.artifact("demo/infra", "latest", &i2)));
    r.assert_error(1, "Kustomization/flux-system/a ReconciliationFailed", "");

    // `b`'s new revision waits on `a`: the wait fails at once, naming `a`
    // as the culprit in `b`'s message.
    let d2 = bed.push("demo/apps", "latest", &[("cm.yaml", &configmap("b2", ""))]);
    let started = Instant::now();
    let r = run(bed
        .plugin()
        .args([
            "wait",
            "--timeout",
            "60s",
            "--dependents",
            "-o",
            "json",
            "--artifact",
        ])
        .arg(bed.artifact("demo/apps", "latest", &d2)));
    r.assert_error(
        1,
        "Kustomization/flux-system/b DependencyNotReady: depends on Kustomization/flux-system/a, which failed: ReconciliationFailed",
        "",
    );
    assert!(r.stderr.contains("quota exceeded"), "{}", r.stderr);
    assert!(started.elapsed() < Duration::from_secs(20));
    assert_eq!(object(&r.json(), "Kustomization", "b")["state"], "failed");
}

#[test]
fn all_namespaces() {
    let Some(bed) = Bed::start() else { return };
    let d1 = bed.push("demo/apps", "v1", &[("cm.yaml", &configmap("one", ""))]);
    for ns in [NS, "apps"] {
        bed.create_source(ns, "apps", "demo/apps", json!({"tag": "v1"}));
        bed.create_ks(ns, "apps", "apps", json!({"targetNamespace": ns}));
    }
    let r = run(bed
        .plugin()
        .args(["wait", "-A", "--timeout", "30s", "-o", "json", "--artifact"])
        .arg(bed.artifact("demo/apps", "v1", &d1)));
    r.assert_ok();
    let report = r.json();
    let mut seen: Vec<String> = report["objects"]
        .as_array()
        .expect("objects")
        .iter()
        .map(|o| {
            assert_eq!(o["state"], "ready", "{o}");
            format!(
                "{}/{}/{}",
                o["kind"].as_str().unwrap_or(""),
                o["namespace"].as_str().unwrap_or(""),
                o["name"].as_str().unwrap_or("")
            )
        })
        .collect();
    seen.sort();
    assert_eq!(
        seen,
        vec![
            "Kustomization/apps/apps",
            "Kustomization/flux-system/apps",
            "OCIRepository/apps/apps",
            "OCIRepository/flux-system/apps",
        ],
    );
    for ns in [NS, "apps"] {
        let ks = bed.store.get(KS, "Kustomization", ns, "apps").expect("ks");
        assert!(applied(&ks, &d1), "{ns}");
    }
}

#[test]
fn two_contexts() {
    let Some(bed) = Bed::start() else { return };
    let other = bed.second_cluster();
    let d1 = bed.push("demo/apps", "v1", &[("cm.yaml", &configmap("one", ""))]);
    let oci_url = format!("oci://{}/demo/apps", bed.registry.host());
    for store in [&bed.store, &other.store] {
        store
            .create(json!({
                "apiVersion": OCI, "kind": "OCIRepository",
                "metadata": {"name": "apps", "namespace": NS},
                "spec": {"url": oci_url, "ref": {"tag": "v1"}, "interval": "1s", "insecure": true},
            }))
            .expect("source");
        store
            .create(json!({
                "apiVersion": KS, "kind": "Kustomization",
                "metadata": {"name": "apps", "namespace": NS},
                "spec": {"interval": "10m", "path": "./", "prune": true,
                         "sourceRef": {"kind": "OCIRepository", "name": "apps"}},
            }))
            .expect("ks");
    }
    let kubeconfig = bed.dir.path().join("two-clusters");
    std::fs::write(
        &kubeconfig,
        merged_kubeconfig(&[(&bed.api, "staging"), (&other.api, "production")]),
    )
    .expect("kubeconfig");
    let wait = |extra: &[&str]| {
        let mut cmd = crate::common::plugin(bed.dir.path());
        cmd.arg("--kubeconfig")
            .arg(&kubeconfig)
            .args(["--context", "staging", "--context", "production"])
            .args(["wait", "--timeout", "30s", "--artifact"])
            .arg(bed.artifact("demo/apps", "v1", &d1))
            .args(extra);
        run(&mut cmd)
    };
    let r = wait(&["-o", "json"]);
    r.assert_ok();
    let report = r.json();
    let mut clusters: Vec<(String, String)> = report["objects"]
        .as_array()
        .expect("objects")
        .iter()
        .map(|o| {
            assert_eq!(o["state"], "ready", "{o}");
            (
                o["cluster"].as_str().unwrap_or("").to_string(),
                o["kind"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect();
    clusters.sort();
    assert_eq!(
        clusters,
        vec![
            ("production".into(), "Kustomization".into()),
            ("production".into(), "OCIRepository".into()),
            ("staging".into(), "Kustomization".into()),
            ("staging".into(), "OCIRepository".into()),
        ]
    );
    for store in [&bed.store, &other.store] {
        let ks = store.get(KS, "Kustomization", NS, "apps").expect("ks");
        assert!(applied(&ks, &d1));
    }
    let r = wait(&[]);
    r.assert_ok();
    let header = r.stdout.lines().next().unwrap_or_default();
    assert!(header.starts_with("CLUSTER"), "{}", r.stdout);
    assert!(
        r.stdout.lines().any(|l| l.starts_with("production")),
        "{}",
        r.stdout
    );
}

#[test]
fn ctrl_c_exits_130_promptly() {
    let Some(bed) = Bed::start() else { return };
    bed.create_source(NS, "apps", "demo/apps", json!({"tag": "v1"}));
    bed.create_ks(NS, "apps", "apps", json!({}));
    let d1 = bed.push("demo/apps", "v1", &[("cm.yaml", &configmap("one", ""))]);
    bed.until(KS, "Kustomization", NS, "apps", |o| applied(o, &d1));
    let never = format!("sha256:{}", "cd".repeat(32));
    let mut child = spawn(
        bed.plugin()
            .args(["wait", "--timeout", "60s", "--artifact"])
            .arg(bed.artifact("demo/apps", "v1", &never)),
    );
    std::thread::sleep(Duration::from_millis(1500));
    assert!(
        child.try_wait().expect("try_wait").is_none(),
        "still waiting"
    );
    let sent = Instant::now();
    let status = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .expect("kill");
    assert!(status.success());
    let code = loop {
        if let Some(s) = child.try_wait().expect("try_wait") {
            break s.code();
        }
        if sent.elapsed() > Duration::from_secs(3) {
            let _ = child.kill();
            panic!("wait did not exit within 3 s of SIGINT");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    assert_eq!(code, Some(130));
}

#[test]
fn survives_refused_connections_and_compaction() {
    let Some(bed) = Bed::start() else { return };
    bed.create_source(NS, "apps", "demo/apps", json!({"tag": "latest"}));
    bed.create_ks(NS, "apps", "apps", json!({}));
    let slow = |extra: &str| {
        configmap(
            "one",
            &format!("  annotations:\n    sim.gitlab-flux.io/delay: 4s\n{extra}"),
        )
    };
    let fault = |bed: &Bed| {
        std::thread::sleep(Duration::from_millis(700));
        bed.api.faults().refuse_connections(Duration::from_secs(3));
        bed.api.faults().compact();
        std::thread::sleep(Duration::from_millis(3500));
        bed.api.faults().drop_watches();
    };

    // Success through the faults.
    let d1 = bed.push("demo/apps", "latest", &[("cm.yaml", &slow(""))]);
    let child = spawn(
        bed.plugin()
            .args(["wait", "--timeout", "40s", "-o", "json", "--artifact"])
            .arg(bed.artifact("demo/apps", "latest", &d1)),
    );
    fault(&bed);
    let r = Run::of(child.wait_with_output().expect("wait exits"));
    r.assert_ok();
    assert_eq!(r.json()["result"], "ready");

    // And a failure through them: still the right verdict.
    let d2 = bed.push(
        "demo/apps",
        "latest",
        &[(
            "cm.yaml",
            &slow(
                "    sim.gitlab-flux.io/fail: ReconciliationFailed\n    sim.gitlab-flux.io/message: rejected after the outage\n",
            ),
        )],
    );
    let child = spawn(
        bed.plugin()
            .args(["wait", "--timeout", "40s", "--artifact"])
            .arg(bed.artifact("demo/apps", "latest", &d2)),
    );
    fault(&bed);
    let r = Run::of(child.wait_with_output().expect("wait exits"));
    r.assert_error(1, "ReconciliationFailed", "");
    assert!(
        r.stderr.contains("rejected after the outage"),
        "{}",
        r.stderr
    );
}

#[test]
fn dependency_in_another_namespace_is_named_too() {
    let Some(bed) = Bed::start() else { return };
    bed.create_source(NS, "infra", "demo/infra", json!({"tag": "latest"}));
    bed.create_source("apps", "apps", "demo/apps", json!({"tag": "latest"}));
    bed.create_ks(NS, "a", "infra", json!({}));
    bed.create_ks(
        "apps",
        "b",
        "apps",
        json!({"dependsOn": [{"name": "a", "namespace": NS}]}),
    );
    let failing = failing_cm("ReconciliationFailed", "quota exceeded");
    bed.push("demo/infra", "latest", &[("cm.yaml", &failing)]);
    bed.until(KS, "Kustomization", NS, "a", |o| {
        o.pointer("/status/conditions")
            .and_then(Value::as_array)
            .is_some_and(|cs| {
                cs.iter()
                    .any(|c| c["type"] == "Ready" && c["reason"] == "ReconciliationFailed")
            })
    });
    let d1 = bed.push("demo/apps", "latest", &[("cm.yaml", &configmap("b", ""))]);
    let r = run(bed
        .plugin()
        .args(["-n", "apps", "wait", "--timeout", "20s", "--artifact"])
        .arg(bed.artifact("demo/apps", "latest", &d1)));
    r.assert_error(
        1,
        "Kustomization/apps/b DependencyNotReady: depends on Kustomization/flux-system/a, which failed",
        "",
    );
}
