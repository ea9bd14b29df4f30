//! Scenario tests: the notification-controller Receiver webhook.

mod flux_common;

use base64::Engine;
use flux_common::*;
use hmac::{Hmac, Mac};
use serde_json::{Value, json};
use testbed::flux::wait;

const TOKEN: &str = "s3cr3t-token";

fn create_receiver(bed: &Bed, name: &str, type_: &str, resources: Value) -> String {
    let b64 = base64::engine::general_purpose::STANDARD;
    let _ = bed.store.create(json!({
        "apiVersion": "v1", "kind": "Secret", "type": "Opaque",
        "metadata": {"name": "webhook-token", "namespace": NS},
        "data": {"token": b64.encode(TOKEN)},
    }));
    bed.store
        .create(json!({
            "apiVersion": RCV, "kind": "Receiver",
            "metadata": {"name": name, "namespace": NS},
            "spec": {"type": type_, "secretRef": {"name": "webhook-token"}, "resources": resources},
        }))
        .expect("create Receiver");
    let r = bed.wait(RCV, "Receiver", name, |o| {
        wait::ready_is(o, "True", "Succeeded")
    });
    status_str(&r, "webhookPath")
        .unwrap_or_default()
        .to_string()
}

fn sign(body: &[u8]) -> String {
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(TOKEN.as_bytes()).expect("hmac key");
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

/// POST with the given headers; returns the status code.
fn post(url: &str, headers: &[(&str, &str)], body: &'static [u8]) -> u16 {
    let url = url.to_string();
    let headers: Vec<(String, String)> = headers
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    testbed::oci::block_on(async move {
        let mut rb = reqwest::Client::new().post(&url).body(body);
        for (k, v) in &headers {
            rb = rb.header(k, v);
        }
        rb.send().await.map(|r| r.status().as_u16()).unwrap_or(0)
    })
}

fn requested_at(obj: &Value) -> Option<&str> {
    obj.pointer("/metadata/annotations/reconcile.fluxcd.io~1requestedAt")
        .and_then(Value::as_str)
}

#[test]
fn generic_hmac_receiver_annotates_resources() {
    let Some(bed) = Bed::start() else { return };
    let d = bed.push(
        "demo/hook",
        "latest",
        &[("h.yaml", &configmap("h", ""))],
        "main@sha1:h",
    );
    bed.create_source("hook", "demo/hook", json!({}));
    bed.wait(OCI, "OCIRepository", "hook", |o| {
        wait::ready_is(o, "True", "Succeeded")
    });
    let path = create_receiver(
        &bed,
        "gitlab-push",
        "generic-hmac",
        json!([{"kind": "OCIRepository", "name": "hook"}]),
    );
    use sha2::Digest;
    let expected = hex::encode(sha2::Sha256::digest(
        format!("{TOKEN}gitlab-push{NS}").as_bytes(),
    ));
    assert_eq!(path, format!("/hook/{expected}"));

    let url = format!("{}{path}", bed.sim.receiver_url());
    let body: &'static [u8] = br#"{"ref":"main"}"#;
    // A bad signature is rejected and nothing is annotated.
    assert_eq!(post(&url, &[("X-Signature", "sha256=00ff")], body), 400);
    assert_eq!(post(&url, &[], body), 400);
    let src = bed
        .store
        .get(OCI, "OCIRepository", NS, "hook")
        .unwrap_or_default();
    assert!(requested_at(&src).is_none());
    // Unknown paths are 404.
    assert_eq!(
        post(&format!("{}/hook/0000", bed.sim.receiver_url()), &[], body),
        404
    );

    // A good signature is accepted and the source gets a reconcile request,
    // which the simulator then handles.
    assert_eq!(post(&url, &[("X-Signature", &sign(body))], body), 200);
    let src = bed.wait(OCI, "OCIRepository", "hook", |o| requested_at(o).is_some());
    let at = requested_at(&src).unwrap_or_default().to_string();
    // NC-ANNOTATE: notification-controller writes `metav1.Now().String()`.
    assert!(at.contains(" +0000 UTC m=+"), "{at}");
    let src = bed.wait(OCI, "OCIRepository", "hook", |o| {
        status_str(o, "lastHandledReconcileAt") == Some(at.as_str())
    });
    assert_eq!(
        src["status"]["artifact"]["revision"],
        json!(format!("latest@{d}"))
    );
}

#[test]
fn gitlab_receiver_checks_the_token_and_suspend() {
    let Some(bed) = Bed::start() else { return };
    bed.store
        .create(json!({
            "apiVersion": KS, "kind": "Kustomization",
            "metadata": {"name": "labelled", "namespace": NS, "labels": {"team": "a"}},
            "spec": {"interval": "10m", "sourceRef": {"kind": "OCIRepository", "name": "none"}, "suspend": true},
        }))
        .expect("create");
    bed.store
        .create(json!({
            "apiVersion": KS, "kind": "Kustomization",
            "metadata": {"name": "other", "namespace": NS, "labels": {"team": "b"}},
            "spec": {"interval": "10m", "sourceRef": {"kind": "OCIRepository", "name": "none"}, "suspend": true},
        }))
        .expect("create");
    let path = create_receiver(
        &bed,
        "gl",
        "gitlab",
        json!([{"kind": "Kustomization", "name": "*", "matchLabels": {"team": "a"}}]),
    );
    let url = format!("{}{path}", bed.sim.receiver_url());
    assert_eq!(post(&url, &[("X-Gitlab-Token", "wrong")], b"{}"), 400);
    assert_eq!(
        post(
            &url,
            &[("X-Gitlab-Token", TOKEN), ("X-Gitlab-Event", "Push Hook")],
            b"{}"
        ),
        200
    );
    let ks = bed
        .store
        .get(KS, "Kustomization", NS, "labelled")
        .unwrap_or_default();
    assert!(requested_at(&ks).is_some(), "{ks}");
    let other = bed
        .store
        .get(KS, "Kustomization", NS, "other")
        .unwrap_or_default();
    assert!(requested_at(&other).is_none());

    bed.store
        .merge_patch(
            RCV,
            "Receiver",
            NS,
            "gl",
            json!({"spec": {"suspend": true}}),
        )
        .expect("suspend");
    assert_eq!(post(&url, &[("X-Gitlab-Token", TOKEN)], b"{}"), 503);
}

#[test]
fn gitlab_receiver_rejects_events_not_listed() {
    let Some(bed) = Bed::start() else { return };
    bed.store
        .create(json!({
            "apiVersion": KS, "kind": "Kustomization",
            "metadata": {"name": "ev", "namespace": NS},
            "spec": {"interval": "10m", "sourceRef": {"kind": "OCIRepository", "name": "none"}, "suspend": true},
        }))
        .expect("create");
    let path = create_receiver(
        &bed,
        "glev",
        "gitlab",
        json!([{"kind": "Kustomization", "name": "ev"}]),
    );
    bed.store
        .merge_patch(
            RCV,
            "Receiver",
            NS,
            "glev",
            json!({"spec": {"events": ["Tag Push Hook"]}}),
        )
        .expect("events");
    bed.wait(RCV, "Receiver", "glev", |o| {
        o.pointer("/status/observedGeneration") == o.pointer("/metadata/generation")
    });
    let url = format!("{}{path}", bed.sim.receiver_url());
    // NC-GITLAB: an event not in spec.events is a 400 (empty body, NC-CODES).
    assert_eq!(
        post(
            &url,
            &[("X-Gitlab-Token", TOKEN), ("X-Gitlab-Event", "Push Hook")],
            b"{}"
        ),
        400
    );
    let ks = bed
        .store
        .get(KS, "Kustomization", NS, "ev")
        .unwrap_or_default();
    assert!(requested_at(&ks).is_none());
    // Case-insensitive match.
    assert_eq!(
        post(
            &url,
            &[
                ("X-Gitlab-Token", TOKEN),
                ("X-Gitlab-Event", "tag push hook")
            ],
            b"{}"
        ),
        200
    );
    let ks = bed
        .store
        .get(KS, "Kustomization", NS, "ev")
        .unwrap_or_default();
    // NC-ANNOTATE: Go's time.Time String form.
    let at = requested_at(&ks).unwrap_or_default();
    assert!(at.contains(" +0000 UTC m=+"), "{at}");
}
