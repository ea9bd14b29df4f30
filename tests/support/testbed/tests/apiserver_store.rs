//! Store semantics: generation, resourceVersion, conflicts, status subresource, events.

use serde_json::json;
use testbed::apiserver::{Store, StoreError, StoreEventKind};

const OCI: &str = "source.toolkit.fluxcd.io/v1";

fn ocirepo(name: &str) -> serde_json::Value {
    json!({
        "apiVersion": OCI, "kind": "OCIRepository",
        "metadata": {"name": name, "namespace": "flux-system"},
        "spec": {"url": "oci://registry/app", "ref": {"tag": "latest"}, "interval": "1m"}
    })
}

fn rv(v: &serde_json::Value) -> u64 {
    v["metadata"]["resourceVersion"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap()
}

#[test]
fn create_sets_server_fields() {
    let s = Store::new();
    let o = s.create(ocirepo("app")).unwrap();
    assert_eq!(o["metadata"]["generation"], 1);
    assert!(o["metadata"]["uid"].as_str().unwrap().len() > 10);
    assert!(
        o["metadata"]["creationTimestamp"]
            .as_str()
            .unwrap()
            .ends_with('Z')
    );
    assert!(rv(&o) > 0);
    assert_eq!(s.create(ocirepo("app")), Err(StoreError::AlreadyExists));
    let mut no_ns = ocirepo("x");
    no_ns["metadata"]
        .as_object_mut()
        .unwrap()
        .remove("namespace");
    assert!(matches!(s.create(no_ns), Err(StoreError::Invalid(_))));
    let unknown =
        json!({"apiVersion": "example.com/v1", "kind": "Nope", "metadata": {"name": "a"}});
    assert!(matches!(s.create(unknown), Err(StoreError::UnknownKind(_))));
    assert!(s.get(OCI, "OCIRepository", "flux-system", "app").is_some());
    assert!(s.get(OCI, "OCIRepository", "other", "app").is_none());
    assert_eq!(s.list(OCI, "OCIRepository", None).len(), 1);
    assert_eq!(s.list(OCI, "OCIRepository", Some("other")).len(), 0);
}

#[test]
fn flux_kinds_can_be_absent() {
    let s = Store::with_options(false, 10);
    assert!(matches!(
        s.create(ocirepo("a")),
        Err(StoreError::UnknownKind(_))
    ));
    assert!(s.create(json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c", "namespace": "default"}})).is_ok());
}

#[test]
fn generation_and_resource_version() {
    let s = Store::new();
    let o = s.create(ocirepo("app")).unwrap();
    let rv1 = rv(&o);
    // Metadata-only change: rv bumps, generation does not.
    let o2 = s
        .merge_patch(
            OCI,
            "OCIRepository",
            "flux-system",
            "app",
            json!({"metadata": {"annotations": {"reconcile.fluxcd.io/requestedAt": "now"}}}),
        )
        .unwrap();
    assert!(rv(&o2) > rv1);
    assert_eq!(o2["metadata"]["generation"], 1);
    // Spec change: generation bumps.
    let o3 = s
        .merge_patch(
            OCI,
            "OCIRepository",
            "flux-system",
            "app",
            json!({"spec": {"ref": {"tag": "v2"}}}),
        )
        .unwrap();
    assert_eq!(o3["metadata"]["generation"], 2);
    assert_eq!(o3["spec"]["ref"]["tag"], "v2");
    // Status via the main resource is ignored.
    let o4 = s
        .merge_patch(
            OCI,
            "OCIRepository",
            "flux-system",
            "app",
            json!({"status": {"x": 1}}),
        )
        .unwrap();
    assert!(o4.get("status").is_none());
    assert_eq!(rv(&o4), rv(&o3), "no-op write keeps the resourceVersion");
    // Status subresource.
    let o5 = s
        .update_status(
            OCI,
            "OCIRepository",
            "flux-system",
            "app",
            json!({"observedGeneration": 2}),
        )
        .unwrap();
    assert_eq!(o5["status"]["observedGeneration"], 2);
    assert_eq!(o5["metadata"]["generation"], 2);
    assert!(rv(&o5) > rv(&o3));
    // update() keeps the status and checks the resourceVersion.
    let mut stale = o3.clone();
    stale["spec"]["interval"] = json!("5m");
    assert_eq!(s.update(stale.clone()), Err(StoreError::Conflict));
    stale["metadata"]["resourceVersion"] = o5["metadata"]["resourceVersion"].clone();
    let o6 = s.update(stale).unwrap();
    assert_eq!(o6["status"]["observedGeneration"], 2);
    assert_eq!(o6["metadata"]["generation"], 3);
    // Unconditional update.
    let mut unc = o6.clone();
    unc["metadata"]
        .as_object_mut()
        .unwrap()
        .remove("resourceVersion");
    unc["spec"]["interval"] = json!("6m");
    assert_eq!(s.update(unc).unwrap()["metadata"]["generation"], 4);
    // Merge patch pinning a stale resourceVersion conflicts.
    assert_eq!(
        s.merge_patch(
            OCI,
            "OCIRepository",
            "flux-system",
            "app",
            json!({"metadata": {"resourceVersion": "1"}, "spec": {"suspend": true}})
        ),
        Err(StoreError::Conflict)
    );
    assert_eq!(
        s.delete(OCI, "OCIRepository", "flux-system", "app")
            .unwrap()["metadata"]["name"],
        "app"
    );
    assert_eq!(
        s.delete(OCI, "OCIRepository", "flux-system", "app"),
        Err(StoreError::NotFound)
    );
    assert_eq!(
        s.update_status(OCI, "OCIRepository", "flux-system", "app", json!({})),
        Err(StoreError::NotFound)
    );
}

#[test]
fn kinds_without_status_subresource_keep_status_on_update() {
    let s = Store::new();
    let a = s
        .create(
            json!({"apiVersion": "notification.toolkit.fluxcd.io/v1beta3", "kind": "Alert",
            "metadata": {"name": "a", "namespace": "default"}, "spec": {}, "status": {"ok": true}}),
        )
        .unwrap();
    assert_eq!(a["status"]["ok"], true);
}

#[test]
fn subscribers_see_every_write() {
    let s = Store::new();
    let mut rx = s.subscribe();
    s.create(ocirepo("app")).unwrap();
    s.update_status(OCI, "OCIRepository", "flux-system", "app", json!({"a": 1}))
        .unwrap();
    s.delete(OCI, "OCIRepository", "flux-system", "app")
        .unwrap();
    let kinds: Vec<_> = (0..3).map(|_| rx.try_recv().unwrap().kind).collect();
    assert_eq!(
        kinds,
        [
            StoreEventKind::Added,
            StoreEventKind::Modified,
            StoreEventKind::Deleted
        ]
    );
}

#[test]
fn record_event_is_visible_in_both_event_apis() {
    let s = Store::new();
    let o = s.create(ocirepo("app")).unwrap();
    let e = s.record_event(&o, "Normal", "NewArtifact", "stored artifact");
    assert_eq!(e["involvedObject"]["kind"], "OCIRepository");
    assert_eq!(e["source"]["component"], "source-controller");
    assert_eq!(e["count"], 1);
    let e2 = s.record_event(&o, "Normal", "NewArtifact", "stored artifact");
    assert_eq!(e2["count"], 2);
    assert_eq!(s.list("v1", "Event", Some("flux-system")).len(), 1);
    let v1 = s.list("events.k8s.io/v1", "Event", Some("flux-system"));
    assert_eq!(v1.len(), 1);
    assert_eq!(v1[0]["apiVersion"], "events.k8s.io/v1");
    assert_eq!(v1[0]["note"], "stored artifact");
    assert_eq!(v1[0]["regarding"]["name"], "app");
    assert_eq!(v1[0]["reportingController"], "source-controller");
}
