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

/// SC-REV, KC-SUCCESS: `wait --artifact REPO:TAG` (no digest) is exact:
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

/// KC-BUILD: a manifest that does not build fails the wait with the
/// controller's message within 5 s of the condition.
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

/// KC-SRC, KC-DEP: an artifact that ships a new OCIRepository and its
/// Kustomization: the new Kustomization first says "Source artifact not
/// found, retrying"; that is transient and the wait ends green.
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
