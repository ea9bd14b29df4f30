//! Scenario tests: malformed objects get failure conditions (the simulator
//! keeps running), and `spec.interval` drives periodic reconciles.

mod flux_common;

use flux_common::*;
use serde_json::{Value, json};
use testbed::flux::wait;

#[test]
fn odd_objects_get_failure_conditions() {
    let Some(bed) = Bed::start() else { return };
    let objs = [
        json!({"apiVersion": OCI, "kind": "OCIRepository", "metadata": {"name": "no-url", "namespace": NS}, "spec": {}}),
        json!({"apiVersion": OCI, "kind": "OCIRepository", "metadata": {"name": "bad-url", "namespace": NS},
               "spec": {"url": "https://example/x", "interval": 42, "ref": "latest"}}),
        json!({"apiVersion": OCI, "kind": "OCIRepository", "metadata": {"name": "bad-semver", "namespace": NS},
               "spec": {"url": bed.oci_url("demo/none"), "ref": {"semver": "not a range"}}}),
        json!({"apiVersion": KS, "kind": "Kustomization", "metadata": {"name": "no-source", "namespace": NS},
               "spec": "garbage"}),
        json!({"apiVersion": KS, "kind": "Kustomization", "metadata": {"name": "git-source", "namespace": NS},
               "spec": {"sourceRef": {"kind": "GitRepository", "name": "x"}, "interval": "bogus"}}),
        json!({"apiVersion": HR, "kind": "HelmRelease", "metadata": {"name": "no-chart", "namespace": NS},
               "spec": {"values": [1, 2]}}),
        json!({"apiVersion": RCV, "kind": "Receiver", "metadata": {"name": "no-secret", "namespace": NS},
               "spec": {"type": "generic", "resources": "x"}}),
    ];
    for o in objs {
        bed.store.create(o).expect("create");
    }
    let not_ready = |o: &Value| wait::ready(o).is_some_and(|(s, _, _)| s == "False");
    bed.wait(OCI, "OCIRepository", "no-url", not_ready);
    let o = bed.wait(OCI, "OCIRepository", "bad-url", not_ready);
    assert!(
        wait::ready(&o).is_some_and(|(_, _, m)| m.contains("oci://")),
        "{o}"
    );
    bed.wait(OCI, "OCIRepository", "bad-semver", not_ready);
    bed.wait(KS, "Kustomization", "no-source", |o| {
        wait::ready_is(o, "False", "ArtifactFailed")
    });
    bed.wait(KS, "Kustomization", "git-source", |o| {
        wait::ready_is(o, "False", "ArtifactFailed")
    });
    bed.wait(HR, "HelmRelease", "no-chart", |o| {
        wait::ready_is(o, "False", "ArtifactFailed")
    });
    bed.wait(RCV, "Receiver", "no-secret", |o| {
        wait::ready_is(o, "False", "TokenNotFound")
    });

    // An artifact whose layer is not a tarball.
    testbed::oci::block_on(async {
        let c = testbed::oci::Client::new(&bed.registry.base_url(), &Default::default())?;
        c.push_single_layer(
            "demo/notar",
            "latest",
            (testbed::oci::FLUX_CONFIG, b"{}"),
            (testbed::oci::FLUX_CONTENT, b"definitely not gzip"),
            &[],
        )
        .await
    })
    .expect("push");
    bed.create_source("notar", "demo/notar", json!({}));
    let o = bed.wait(OCI, "OCIRepository", "notar", |o| {
        wait::ready_is(o, "False", "OCIArtifactPullFailed")
    });
    assert!(
        wait::ready(&o).is_some_and(|(_, _, m)| m.contains("extract")),
        "{o}"
    );

    // The simulator is still healthy.
    let d = bed.push(
        "demo/fine",
        "latest",
        &[("f.yaml", &configmap("f", ""))],
        "main@sha1:f",
    );
    bed.create_source("fine", "demo/fine", json!({}));
    bed.create_ks("fine", "fine", json!({}));
    bed.wait_ks_applied("fine", &format!("latest@{d}"));
}

#[test]
fn interval_picks_up_new_pushes() {
    let Some(bed) = Bed::start() else { return };
    let d1 = bed.push(
        "demo/tick",
        "latest",
        &[("t.yaml", &configmap("t1", ""))],
        "main@sha1:1",
    );
    bed.store
        .create(json!({
            "apiVersion": OCI, "kind": "OCIRepository",
            "metadata": {"name": "tick", "namespace": NS},
            "spec": {"url": bed.oci_url("demo/tick"), "interval": "1s"},
        }))
        .expect("create");
    bed.create_ks("tick", "tick", json!({"interval": "1s"}));
    bed.wait_ks_applied("tick", &format!("latest@{d1}"));
    let d2 = bed.push(
        "demo/tick",
        "latest",
        &[("t.yaml", &configmap("t2", ""))],
        "main@sha1:2",
    );
    let ks = bed.wait_ks_applied("tick", &format!("latest@{d2}"));
    assert_eq!(
        status_str(&ks, "lastAppliedOriginRevision"),
        Some("main@sha1:2")
    );
    assert!(bed.store.get("v1", "ConfigMap", NS, "t2").is_some());
    assert!(
        bed.store.get("v1", "ConfigMap", NS, "t1").is_none(),
        "pruned"
    );
}
