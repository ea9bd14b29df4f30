//! Helm charts the classic way, end to end on the simulator: an OCI
//! HelmRepository, the HelmChart helm-controller makes of a HelmRelease's
//! `spec.chart`, and the release (docs/flux-semantics.md SC-HELMREPO,
//! SC-HELMCHART, HC-CHARTTEMPLATE). The same scenarios on the real
//! controllers are in real_cluster.rs (`real_helmrepository_*`).

use crate::common::bed::{Bed, HR, NS, OCI};
use crate::common::{run, write};
use serde_json::{Value, json};
use std::path::Path;

/// Write a chart `podinfo` at `version` (Chart.yaml `annotations` lines
/// given) and push it with the plugin's `push --helm-chart`; returns
/// ARTIFACT_URL (`oci://…/charts/podinfo:VERSION@sha256:…`).
pub fn push_chart(bed: &Bed, version: &str, annotations: &str) -> String {
    push_chart_to(bed, "charts", version, annotations)
}

/// [`push_chart`] under `oci://<registry>/<base>/podinfo`.
pub fn push_chart_to(bed: &Bed, base: &str, version: &str, annotations: &str) -> String {
    let dir = bed.dir.path().join(format!("chart-{base}-{version}"));
    let _ = std::fs::remove_dir_all(&dir);
    write(
        &dir.join("Chart.yaml"),
        &format!(
            "apiVersion: v2\nname: podinfo\nversion: {version}\ndescription: demo\n{annotations}"
        ),
    );
    write(&dir.join("values.yaml"), "replicaCount: 1\n");
    write(
        &dir.join("templates/configmap.yaml"),
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: podinfo\n",
    );
    let env = dir.with_extension("env");
    run(bed
        .plugin()
        .arg("push")
        .arg(&dir)
        .arg(format!("oci://{}/{base}/podinfo", bed.registry.host()))
        .arg("--helm-chart")
        .arg("--dotenv")
        .arg(&env))
    .assert_ok();
    dotenv(&env)["ARTIFACT_URL"].clone()
}

fn dotenv(path: &Path) -> std::collections::BTreeMap<String, String> {
    std::fs::read_to_string(path)
        .expect("dotenv")
        .lines()
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.to_string(), v.trim_matches('"').to_string()))
        .collect()
}

/// An OCI HelmRepository `charts` on `oci://<registry>/charts`.
fn helm_repository(bed: &Bed) {
    helm_repository_named(bed, "charts");
}

/// An OCI HelmRepository `name` on `oci://<registry>/<name>`.
fn helm_repository_named(bed: &Bed, name: &str) {
    bed.store
        .create(json!({
            "apiVersion": OCI, "kind": "HelmRepository",
            "metadata": {"name": name, "namespace": NS},
            "spec": {"type": "oci", "url": format!("oci://{}/{name}", bed.registry.host()),
                     "interval": "1m", "insecure": true},
        }))
        .expect("create HelmRepository");
}

/// A HelmRelease `name` with `spec.chart` (chart podinfo, `version`).
fn release(bed: &Bed, name: &str, version: &str, extra: Value) {
    let mut spec = json!({
        "interval": "10m", "targetNamespace": "apps",
        "chart": {"spec": {"chart": "podinfo", "version": version,
                           "sourceRef": {"kind": "HelmRepository", "name": "charts"}}},
    });
    if let (Some(s), Some(e)) = (spec.as_object_mut(), extra.as_object()) {
        for (k, v) in e {
            s.insert(k.clone(), v.clone());
        }
    }
    bed.store
        .create(json!({"apiVersion": HR, "kind": "HelmRelease",
                       "metadata": {"name": name, "namespace": NS}, "spec": spec}))
        .expect("create HelmRelease");
}

fn get(bed: &Bed, api: &str, kind: &str, name: &str) -> Value {
    bed.store.get(api, kind, NS, name).expect(kind)
}

/// Push, trigger and wait green; the HelmChart holds the version and the
/// release attempted and applied it; a second, higher push as well; the
/// tag alone is enough.
#[test]
fn helm_repository_chart_spec_push_trigger_wait_green() {
    let Some(bed) = Bed::start() else { return };
    helm_repository(&bed);
    release(&bed, "podinfo", ">=1.0.0", json!({}));
    let url = push_chart(&bed, "1.2.0", "");
    let r = run(bed.plugin().args(["trigger", "--artifact", &url]));
    r.assert_ok();
    assert!(
        r.stdout.contains("HelmChart") && r.stdout.contains("flux-system-podinfo"),
        "trigger names the HelmChart:\n{}",
        r.stdout
    );
    assert!(r.stdout.contains("HelmRelease"), "{}", r.stdout);
    let r = run(bed
        .plugin()
        .args(["wait", "--timeout", "60s", "-o", "json", "--artifact", &url]));
    r.assert_ok();
    let hc = get(&bed, OCI, "HelmChart", "flux-system-podinfo");
    assert_eq!(hc["status"]["artifact"]["revision"], "1.2.0", "{hc}");
    let hr = get(&bed, HR, "HelmRelease", "podinfo");
    assert_eq!(hr["status"]["lastAttemptedRevision"], "1.2.0", "{hr}");
    assert_eq!(hr["status"]["helmChart"], "flux-system/flux-system-podinfo");
    assert!(r.stdout.contains("HelmChart"), "{}", r.stdout);

    // A higher version, waited for by its tag alone.
    let url2 = push_chart(&bed, "1.3.0", "");
    let tag_only = url2.split('@').next().expect("url").to_string();
    run(bed.plugin().args(["trigger", "--artifact", &tag_only])).assert_ok();
    run(bed
        .plugin()
        .args(["wait", "--timeout", "60s", "--artifact", &tag_only]))
    .assert_ok();
    let hr = get(&bed, HR, "HelmRelease", "podinfo");
    assert_eq!(hr["status"]["lastAttemptedRevision"], "1.3.0", "{hr}");

    // status --tree: HelmRepository → HelmChart → HelmRelease.
    let r = run(bed.plugin().args(["status", "--tree"]));
    r.assert_ok();
    let at = |what: &str| {
        r.stdout
            .find(what)
            .unwrap_or_else(|| panic!("{what} in:\n{}", r.stdout))
    };
    assert!(
        at("HelmRepository/flux-system/charts") < at("HelmChart/flux-system/flux-system-podinfo")
            && at("HelmChart/flux-system/flux-system-podinfo")
                < at("HelmRelease/flux-system/podinfo"),
        "{}",
        r.stdout
    );
    assert!(
        r.stdout.contains("    └── ") || r.stdout.contains("│   └── "),
        "{}",
        r.stdout
    );

    // The older version is no longer what the constraint selects.
    let r = run(bed
        .plugin()
        .args(["wait", "--timeout", "10s", "--artifact", &url]));
    r.assert_error(1, "no OCIRepository or HelmChart", "");
    assert!(
        r.stderr.contains("picks the higher version 1.3.0"),
        "{}",
        r.stderr
    );
}

/// A version the HelmChart's constraint does not admit is refused, naming
/// the constraint (exit 1), before and after helm-controller made the HelmChart.
#[test]
fn helm_repository_version_outside_the_constraint_is_refused() {
    let Some(bed) = Bed::start() else { return };
    helm_repository(&bed);
    let url = push_chart(&bed, "2.0.0", "");
    release(&bed, "podinfo", "~1.0", json!({}));
    for _ in 0..2 {
        let r = run(bed
            .plugin()
            .args(["wait", "--timeout", "10s", "--artifact", &url]));
        r.assert_error(
            1,
            "version constraint \"~1.0\" does not include 2.0.0",
            "constraint",
        );
        run(bed.plugin().args(["trigger", "--artifact", &url])).assert_error(1, "~1.0", "");
        // helm-controller creates the HelmChart; the refusal is the same.
        bed.until(OCI, "HelmChart", NS, "flux-system-podinfo", |_| true);
    }
}

/// A failing upgrade (the default remediation: no retries) fails fast.
#[test]
fn helm_repository_failing_upgrade_fails_fast() {
    let Some(bed) = Bed::start() else { return };
    helm_repository(&bed);
    release(&bed, "podinfo", "*", json!({}));
    let url = push_chart(&bed, "1.0.0", "");
    run(bed
        .plugin()
        .args(["wait", "--timeout", "60s", "--artifact", &url]))
    .assert_ok();
    let bad = push_chart(
        &bed,
        "1.1.0",
        "annotations:\n  sim.gitlab-flux.io/fail: \"true\"\n",
    );
    run(bed.plugin().args(["trigger", "--artifact", &bad])).assert_ok();
    let started = std::time::Instant::now();
    let r = run(bed
        .plugin()
        .args(["wait", "--timeout", "60s", "--artifact", &bad]));
    r.assert_error(1, "HelmRelease/flux-system/podinfo", "");
    assert!(r.stderr.contains("RetriesExceeded"), "{}", r.stderr);
    assert!(started.elapsed().as_secs() < 30, "fails fast");
}

/// `--dependents` follows a HelmRelease that depends on the chart's
/// release (HC-DEP) although the artifact does not select it (its chart
/// comes from another HelmRepository). Flux's Kustomization `dependsOn`
/// names Kustomizations only (kustomize-controller api v1.9.4
/// `DependencyReference`), so the dependent here is a HelmRelease.
#[test]
fn helm_repository_dependents_are_followed() {
    let Some(bed) = Bed::start() else { return };
    helm_repository(&bed);
    helm_repository_named(&bed, "other");
    push_chart_to(&bed, "other", "0.5.0", "");
    release(&bed, "podinfo", ">=1.0.0", json!({}));
    let url = push_chart(&bed, "1.0.0", "");
    bed.store
        .create(json!({"apiVersion": HR, "kind": "HelmRelease",
            "metadata": {"name": "frontend", "namespace": NS},
            "spec": {"interval": "10m", "targetNamespace": "apps",
                     "dependsOn": [{"name": "podinfo"}],
                     "chart": {"spec": {"chart": "podinfo", "version": "0.5.0",
                               "sourceRef": {"kind": "HelmRepository", "name": "other"}}}}}))
        .expect("create dependent");
    let r = run(bed
        .plugin()
        .args(["wait", "--timeout", "60s", "--artifact", &url, "-o", "json"]));
    r.assert_ok();
    assert!(
        !r.stdout.contains("frontend"),
        "not selected without --dependents:\n{}",
        r.stdout
    );
    let r = run(bed.plugin().args([
        "wait",
        "--timeout",
        "60s",
        "--dependents",
        "-o",
        "json",
        "--artifact",
        &url,
    ]));
    r.assert_ok();
    assert!(r.stdout.contains("frontend"), "{}", r.stdout);
    let hr = get(&bed, HR, "HelmRelease", "frontend");
    assert_eq!(hr["status"]["lastAttemptedRevision"], "0.5.0", "{hr}");
}

/// SC-HELMCHART: source-controller does not pull a chart version it
/// already holds, so a version re-pushed with other bytes would leave the
/// cluster on the old bytes; the wait reports it instead of passing.
#[test]
fn helm_repository_version_re_pushed_with_other_bytes_is_reported() {
    let Some(bed) = Bed::start() else { return };
    helm_repository(&bed);
    release(&bed, "podinfo", ">=1.0.0", json!({}));
    let first = push_chart(&bed, "1.2.0", "");
    run(bed.plugin().args(["trigger", "--artifact", &first])).assert_ok();
    run(bed
        .plugin()
        .args(["wait", "--timeout", "60s", "--artifact", &first]))
    .assert_ok();
    // The same version, other bytes.
    let again = push_chart(&bed, "1.2.0", "annotations:\n  rebuilt: \"yes\"\n");
    assert_ne!(first, again, "the re-push has another digest");
    run(bed.plugin().args(["trigger", "--artifact", &again])).assert_ok();
    let r = run(bed
        .plugin()
        .args(["wait", "--timeout", "60s", "--artifact", &again]));
    r.assert_error(
        1,
        "HelmChart/flux-system/flux-system-podinfo ChartBytesDiffer",
        "",
    );
    assert!(r.stderr.contains("re-pushed"), "{}", r.stderr);
}
