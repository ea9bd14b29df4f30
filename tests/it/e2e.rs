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

#[test]
fn push_trigger_wait_in_one_command_with_the_plugins_own_push() {
    let Some(bed) = Bed::start() else { return };
    bed.create_source(NS, "apps", "demo/apps", json!({"semver": ">=1.0.0"}));
    bed.create_ks(NS, "apps", "apps", json!({}));
    bed.create_ks(
        NS,
        "after",
        "apps",
        json!({"dependsOn": [{"name": "apps"}]}),
    );
    let src = bed.dir.path().join("deploy");
    std::fs::create_dir_all(&src).expect("mkdir");
    std::fs::write(
        src.join("cm.yaml"),
        configmap("pushed", "  namespace: apps\n"),
    )
    .expect("write");
    let env = bed.dir.path().join("push.env");
    let r = run(bed
        .plugin()
        .arg("push")
        .arg(&src)
        .arg(format!("oci://{}/demo/apps:1.2.0", bed.registry.host()))
        .args([
            "--revision",
            "main@sha1:0123456789abcdef0123456789abcdef01234567",
        ])
        .args(["--source", "https://gitlab.example/demo/apps"])
        .args([
            "--trigger",
            "--wait",
            "--dependents",
            "--wait-timeout",
            "30s",
            "--dotenv",
        ])
        .arg(&env));
    r.assert_ok();
    let dotenv = std::fs::read_to_string(&env).expect("dotenv");
    let url = dotenv
        .lines()
        .find_map(|l| l.strip_prefix("ARTIFACT_URL="))
        .expect("url")
        .to_string();
    assert!(url.contains(":1.2.0@sha256:"), "{url}");
    let digest = url.rsplit('@').next().expect("digest").to_string();
    for name in ["apps", "after"] {
        let ks = bed.store.get(KS, "Kustomization", NS, name).expect("ks");
        assert!(
            applied(&ks, &digest),
            "{name} applied the pushed digest: {ks}"
        );
    }
    let ks = bed.store.get(KS, "Kustomization", NS, "apps").expect("ks");
    assert_eq!(
        ks["status"]["lastAppliedOriginRevision"],
        "main@sha1:0123456789abcdef0123456789abcdef01234567"
    );
    assert!(
        r.stdout.contains("Kustomization/after"),
        "final table:\n{}",
        r.stdout
    );
}
