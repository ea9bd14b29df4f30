//! `wait` end to end: a real registry, the API emulator and the Flux
//! simulator; the plugin binary watches until the pushed revision is
//! applied, or fails fast.

use crate::common::bed::{Bed, KS, NS, applied, configmap};
use crate::common::run;
use serde_json::json;
use std::time::{Duration, Instant};

#[test]
fn waits_for_the_pushed_revision_and_succeeds() {
    let Some(bed) = Bed::start() else { return };
    bed.create_source(NS, "apps", "demo/apps", json!({"tag": "v1"}));
    bed.create_ks(NS, "apps", "apps", json!({}));
    let digest = bed.push("demo/apps", "v1", &[("cm.yaml", &configmap("one", ""))]);
    let junit = bed.dir.path().join("wait.xml");
    let r = run(bed
        .plugin()
        .args(["wait", "--timeout", "30s", "-o", "json", "--artifact"])
        .arg(bed.artifact("demo/apps", "v1", &digest))
        .arg("--junit")
        .arg(&junit));
    r.assert_ok();
    let v = r.json();
    assert_eq!(v["result"], "ready");
    let objects = v["objects"].as_array().expect("objects");
    let ks = objects
        .iter()
        .find(|o| o["kind"] == "Kustomization")
        .expect("kustomization in report");
    assert_eq!(ks["state"], "ready");
    assert!(
        ks["revision"]
            .as_str()
            .is_some_and(|r| r.ends_with(&digest)),
        "{ks}"
    );
    let xml = std::fs::read_to_string(&junit).expect("junit written");
    assert!(
        xml.contains("<testcase classname=\"testbed.flux-system\" name=\"Kustomization/apps\""),
        "{xml}"
    );
    assert!(!xml.contains("<failure"), "{xml}");
}

#[test]
fn never_green_on_stale_and_fails_fast_with_reason_and_events() {
    let Some(bed) = Bed::start() else { return };
    bed.create_source(NS, "apps", "demo/apps", json!({"tag": "latest"}));
    bed.create_ks(NS, "apps", "apps", json!({}));
    let d1 = bed.push("demo/apps", "latest", &[("cm.yaml", &configmap("one", ""))]);
    bed.until(KS, "Kustomization", NS, "apps", |o| applied(o, &d1));

    // The new revision does not build; the Kustomization stays Ready at d1.
    let d2 = bed.push(
        "demo/apps",
        "latest",
        &[("cm.yaml", "apiVersion: v1\nkind: [unclosed\n")],
    );
    let started = Instant::now();
    let r = run(bed
        .plugin()
        .args(["wait", "--timeout", "60s", "--artifact"])
        .arg(bed.artifact("demo/apps", "latest", &d2)));
    let took = started.elapsed();
    assert_eq!(r.code, 1, "stdout:\n{}\nstderr:\n{}", r.stdout, r.stderr);
    assert!(r.stderr.contains("BuildFailed"), "{}", r.stderr);
    assert!(r.stderr.contains("event: "), "events shown:\n{}", r.stderr);
    assert!(
        r.stderr.lines().any(|l| l.starts_with("hint: ")),
        "{}",
        r.stderr
    );
    assert!(
        took < Duration::from_secs(30),
        "failed fast, not at the timeout: {took:?}"
    );
    let ks = bed.store.get(KS, "Kustomization", NS, "apps").expect("ks");
    assert!(applied(&ks, &d1), "the controller kept the old revision");
}

#[test]
fn timeout_lists_what_is_pending_and_exits_3() {
    let Some(bed) = Bed::start() else { return };
    bed.create_source(NS, "apps", "demo/apps", json!({"tag": "v1"}));
    bed.create_ks(NS, "apps", "apps", json!({"suspend": false}));
    let d1 = bed.push("demo/apps", "v1", &[("cm.yaml", &configmap("one", ""))]);
    bed.until(KS, "Kustomization", NS, "apps", |o| applied(o, &d1));
    // Ask for a digest that the tag will never point at.
    let other = format!("sha256:{}", "ab".repeat(32));
    let r = run(bed
        .plugin()
        .args(["wait", "--timeout", "2s", "--artifact"])
        .arg(bed.artifact("demo/apps", "v1", &other)));
    r.assert_error(3, "timed out after 2s waiting for", "--timeout");
    assert!(
        r.stderr.contains("OCIRepository/flux-system/apps"),
        "{}",
        r.stderr
    );
}

/// KC-DEP, KC-SUSPEND, KC-GEN
#[test]
fn dependency_chain_and_suspended_objects() {
    let Some(bed) = Bed::start() else { return };
    bed.create_source(NS, "apps", "demo/apps", json!({"tag": "v1"}));
    bed.create_ks(NS, "infra", "apps", json!({}));
    bed.create_ks(
        NS,
        "apps",
        "apps",
        json!({"dependsOn": [{"name": "infra"}]}),
    );
    let d1 = bed.push("demo/apps", "v1", &[("cm.yaml", &configmap("one", ""))]);
    let r = run(bed
        .plugin()
        .args([
            "wait",
            "--timeout",
            "30s",
            "--dependents",
            "-o",
            "json",
            "--artifact",
        ])
        .arg(bed.artifact("demo/apps", "v1", &d1)));
    r.assert_ok();
    let names: Vec<String> = r.json()["objects"]
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
        names.contains(&"Kustomization/infra".to_string()),
        "{names:?}"
    );
    assert!(
        names.contains(&"Kustomization/apps".to_string()),
        "{names:?}"
    );

    bed.store
        .merge_patch(
            KS,
            "Kustomization",
            NS,
            "apps",
            json!({"spec": {"suspend": true}}),
        )
        .expect("suspend");
    let r = run(bed.plugin().args(["wait", "ks/apps", "--timeout", "10s"]));
    r.assert_error(1, "Suspended", "");
    let r = run(bed.plugin().args([
        "wait",
        "ks/apps",
        "ks/infra",
        "--ignore-suspended",
        "--timeout",
        "10s",
    ]));
    r.assert_ok();
}

#[test]
fn survives_dropped_watches_and_a_restart() {
    let Some(bed) = Bed::start() else { return };
    bed.create_source(NS, "apps", "demo/apps", json!({"tag": "v1"}));
    bed.create_ks(NS, "apps", "apps", json!({}));
    let d1 = bed.push(
        "demo/apps",
        "v1",
        &[(
            "cm.yaml",
            &configmap("one", "  annotations:\n    sim.gitlab-flux.io/delay: 3s\n"),
        )],
    );
    let child = bed
        .plugin()
        .args(["wait", "--timeout", "40s", "--artifact"])
        .arg(bed.artifact("demo/apps", "v1", &d1))
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawn wait");
    std::thread::sleep(Duration::from_millis(700));
    bed.api.faults().drop_watches();
    std::thread::sleep(Duration::from_millis(300));
    bed.api.faults().compact();
    bed.api.faults().restart();
    let out = child.wait_with_output().expect("wait exits");
    let r = crate::common::Run::of(out);
    r.assert_ok();
}

#[test]
fn health_follows_workloads_in_the_inventory() {
    let Some(bed) = Bed::start() else { return };
    let deployment = "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\n  namespace: apps\nspec:\n  replicas: 2\n  selector:\n    matchLabels: {app: web}\n  template:\n    metadata:\n      labels: {app: web}\n    spec:\n      containers:\n      - name: web\n        image: nginx\n";
    let d1 = bed.push("demo/apps", "v1", &[("web.yaml", deployment)]);
    bed.create_source(NS, "apps", "demo/apps", json!({"tag": "v1"}));
    bed.create_ks(NS, "apps", "apps", json!({}));
    let r = run(bed
        .plugin()
        .args([
            "wait",
            "--health",
            "--timeout",
            "30s",
            "-o",
            "json",
            "--artifact",
        ])
        .arg(bed.artifact("demo/apps", "v1", &d1)));
    r.assert_ok();
    let v = r.json();
    let web = v["objects"]
        .as_array()
        .expect("objects")
        .iter()
        .find(|o| o["kind"] == "Deployment")
        .unwrap_or_else(|| panic!("Deployment followed with --health: {v}"));
    assert_eq!(web["state"], "ready");
    assert_eq!(web["namespace"], "apps");
    assert_eq!(web["via"], "inventory of Kustomization/flux-system/apps");
    // Without --health, workloads are not followed.
    let r = run(bed
        .plugin()
        .args(["wait", "--timeout", "30s", "-o", "json", "--artifact"])
        .arg(bed.artifact("demo/apps", "v1", &d1)));
    r.assert_ok();
    assert!(!r.stdout.contains("\"Deployment\""), "{}", r.stdout);
}
