//! `status` against the test bed: table, JSON and tree views.

use crate::common::bed::{Bed, KS, NS, applied, configmap};
use crate::common::run;
use serde_json::json;

#[test]
fn table_json_and_tree() {
    let Some(bed) = Bed::start() else { return };
    bed.create_source(NS, "apps", "demo/apps", json!({"tag": "v1"}));
    bed.create_ks(NS, "apps", "apps", json!({}));
    bed.create_ks(NS, "paused", "apps", json!({"suspend": true}));
    let d1 = bed.push("demo/apps", "v1", &[("cm.yaml", &configmap("one", ""))]);
    bed.until(KS, "Kustomization", NS, "apps", |o| applied(o, &d1));

    let r = run(bed.plugin().args(["status", "-o", "json"]));
    r.assert_ok();
    let rows = r.json();
    let rows = rows.as_array().expect("rows");
    let ks = rows
        .iter()
        .find(|r| r["kind"] == "Kustomization" && r["name"] == "apps")
        .expect("apps row");
    assert_eq!(ks["ready"], "True");
    assert_eq!(ks["reason"], "ReconciliationSucceeded");
    assert!(ks["revision"].as_str().is_some_and(|v| v.ends_with(&d1)));
    let paused = rows
        .iter()
        .find(|r| r["name"] == "paused")
        .expect("paused row");
    assert_eq!(paused["suspended"], true);

    let r = run(bed.plugin().arg("status"));
    r.assert_ok();
    let header = r.stdout.lines().next().unwrap_or_default();
    for col in [
        "NAMESPACE",
        "KIND/NAME",
        "READY",
        "REASON",
        "REVISION",
        "SUSPENDED",
        "AGE",
        "MESSAGE",
    ] {
        assert!(header.contains(col), "{header}");
    }
    assert!(r.stdout.contains("Kustomization/apps"), "{}", r.stdout);
    assert!(!r.stdout.contains('\x1b'), "no colour when not a terminal");

    let r = run(bed
        .plugin()
        .args(["status", "--tree", "ks/apps", "oci/apps"]));
    r.assert_ok();
    let lines: Vec<&str> = r.stdout.lines().collect();
    assert!(
        lines[0].contains("OCIRepository/flux-system/apps"),
        "{}",
        r.stdout
    );
    assert!(
        lines[1].starts_with("└── ✔ Kustomization/flux-system/apps"),
        "{}",
        r.stdout
    );

    let r = run(bed.plugin().args(["status", "ks/missing"]));
    r.assert_error(2, "Kustomization flux-system/missing not found", "-A");
}

#[test]
fn flux_not_installed_and_unreachable() {
    let home = tempfile::tempdir().expect("tempdir");
    let api = testbed::apiserver::ApiServer::start(testbed::apiserver::ApiServerConfig {
        flux_crds: false,
        ..Default::default()
    })
    .expect("emulator");
    let kc = home.path().join("kubeconfig");
    std::fs::write(&kc, api.kubeconfig("bare", None)).expect("kubeconfig");
    let r = run(crate::common::plugin(home.path())
        .arg("status")
        .arg("--kubeconfig")
        .arg(&kc));
    r.assert_error(
        2,
        "Flux is not installed in context \"bare\"",
        "install Flux",
    );

    // A closed port: connection refused.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = closed.local_addr().expect("addr").port();
    drop(closed);
    let yaml = api
        .kubeconfig("gone", None)
        .replace(&api.url(), &format!("https://127.0.0.1:{port}"));
    std::fs::write(&kc, yaml).expect("kubeconfig");
    let r = run(crate::common::plugin(home.path())
        .arg("status")
        .arg("--kubeconfig")
        .arg(&kc));
    r.assert_error(
        4,
        "cannot reach the Kubernetes API of context \"gone\"",
        "network",
    );
}

#[test]
fn watch_redraws_on_changes() {
    use std::io::{BufRead, BufReader};
    let Some(bed) = Bed::start() else { return };
    bed.create_source(NS, "apps", "demo/apps", json!({"tag": "v1"}));
    bed.create_ks(NS, "apps", "apps", json!({}));
    let d1 = bed.push("demo/apps", "v1", &[("cm.yaml", &configmap("one", ""))]);
    bed.until(KS, "Kustomization", NS, "apps", |o| applied(o, &d1));
    let mut child = bed
        .plugin()
        .args(["status", "--watch", "ks/apps"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("spawn status --watch");
    let stdout = child.stdout.take().expect("stdout");
    let (tx, rx) = std::sync::mpsc::channel::<String>();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                return;
            }
        }
    });
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(15);
    let mut seen_false = false;
    let mut suspended_sent = false;
    while std::time::Instant::now() < deadline {
        let Ok(line) = rx.recv_timeout(std::time::Duration::from_millis(200)) else {
            continue;
        };
        if line.contains("Kustomization/apps") && line.contains("True") && !suspended_sent {
            bed.store
                .merge_patch(
                    KS,
                    "Kustomization",
                    NS,
                    "apps",
                    json!({"spec": {"suspend": true}}),
                )
                .expect("suspend");
            suspended_sent = true;
        }
        if suspended_sent && line.contains("Kustomization/apps") && line.contains(" true ") {
            seen_false = true;
            break;
        }
    }
    let _ = child.kill();
    let _ = child.wait();
    assert!(
        seen_false,
        "status --watch did not redraw with the suspended object"
    );
}
