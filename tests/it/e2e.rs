//! The main job end to end on the full test bed: Receivers served by the
//! simulated notification-controller, `receiver create`, and trigger → wait.

use crate::common::bed::{Bed, KS, NS, OCI, applied, configmap};
use crate::common::run;
use serde_json::{Value, json};

const RCV: &str = "notification.toolkit.fluxcd.io/v1";

fn requested_at(bed: &Bed, name: &str) -> Option<String> {
    bed.store.get(OCI, "OCIRepository", NS, name).and_then(|o| {
        o.pointer("/metadata/annotations/reconcile.fluxcd.io~1requestedAt")
            .and_then(Value::as_str)
            .map(str::to_string)
    })
}

#[test]
fn receiver_create_then_trigger_through_the_simulated_webhook() {
    let Some(bed) = Bed::start() else { return };
    bed.create_source(NS, "apps", "demo/apps", json!({"tag": "v1"}));
    let r = run(bed.plugin().args([
        "receiver",
        "create",
        "ci",
        "--for",
        "ocirepository/apps",
        "--timeout",
        "20s",
        "-o",
        "json",
    ]));
    r.assert_ok();
    // The token is shown once, by design, on stdout.
    let report = r.json();
    let token = report["token"]
        .as_str()
        .expect("token in the report")
        .to_string();
    let path = report["webhookPath"]
        .as_str()
        .expect("webhook path")
        .to_string();
    let url = format!("{}{path}", bed.sim.receiver_url());
    assert!(requested_at(&bed, "apps").is_none());

    // Wrong token: the simulated notification-controller answers 400.
    let r = run(bed
        .plugin()
        .args([
            "trigger",
            "--receiver",
            &url,
            "--token-env",
            "FLUX_RECEIVER_TOKEN",
        ])
        .env("FLUX_RECEIVER_TOKEN", "not-the-token"));
    r.assert_error(4, "400", "token");
    assert!(
        !r.stderr.contains(&path[6..]),
        "the secret path leaked:\n{}",
        r.stderr
    );
    assert!(requested_at(&bed, "apps").is_none());

    // Right token: 200, and the OCIRepository is annotated.
    let r = run(bed
        .plugin()
        .args([
            "trigger",
            "--receiver",
            &url,
            "--token-env",
            "FLUX_RECEIVER_TOKEN",
        ])
        .env("FLUX_RECEIVER_TOKEN", &token));
    r.assert_ok();
    assert!(
        !r.stdout.contains(&token) && !r.stderr.contains(&token),
        "token leaked"
    );
    bed.until(OCI, "OCIRepository", NS, "apps", |o| {
        o.pointer("/metadata/annotations/reconcile.fluxcd.io~1requestedAt")
            .is_some()
    });
    let rcv = bed
        .store
        .get(RCV, "Receiver", NS, "ci")
        .expect("receiver exists");
    assert_eq!(rcv["spec"]["type"], "generic-hmac");
}

#[test]
fn trigger_then_wait_on_the_handled_request() {
    let Some(bed) = Bed::start() else { return };
    bed.create_source(NS, "apps", "demo/apps", json!({"tag": "v1"}));
    bed.create_ks(NS, "apps", "apps", json!({}));
    let d1 = bed.push("demo/apps", "v1", &[("cm.yaml", &configmap("one", ""))]);
    bed.until(KS, "Kustomization", NS, "apps", |o| applied(o, &d1));
    let d2 = bed.push("demo/apps", "v1", &[("cm.yaml", &configmap("two", ""))]);
    let artifact = bed.artifact("demo/apps", "v1", &d2);
    let env = bed.dir.path().join("trigger.env");
    let r = run(bed
        .plugin()
        .args(["trigger", "--artifact", &artifact, "--dotenv"])
        .arg(&env));
    r.assert_ok();
    let dotenv = std::fs::read_to_string(&env).expect("dotenv");
    let token = dotenv
        .lines()
        .find_map(|l| l.strip_prefix("FLUX_RECONCILE_TOKEN="))
        .expect("token in dotenv")
        .to_string();
    let r = run(bed.plugin().args([
        "wait",
        "--artifact",
        &artifact,
        "--since-token",
        &token,
        "--timeout",
        "30s",
        "-o",
        "json",
    ]));
    r.assert_ok();
    let ks = bed.store.get(KS, "Kustomization", NS, "apps").expect("ks");
    assert!(applied(&ks, &d2));
    assert_eq!(ks["status"]["lastHandledReconcileAt"], token.as_str());
}
