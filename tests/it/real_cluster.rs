//! End to end on a REAL cluster: etcd, kube-apiserver, kube-controller-manager
//! and the four real Flux controllers (`testbed::real`, shared by every test
//! of this process, a namespace per test; `common::real::RealBed`). The
//! plugin is the real binary, as everywhere else.

use crate::common::real::{HR, KS, OCI, RealBed};
use crate::common::{run, write};
use serde_json::{Value, json};
use std::path::Path;
use std::time::{Duration, Instant, SystemTime};

const RCV: &str = "notification.toolkit.fluxcd.io/v1";
const LONG: Duration = Duration::from_secs(60);

fn configmap(name: &str, value: &str) -> String {
    format!(
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}\ndata:\n  key: \"{value}\"\n"
    )
}

/// `dotenv` lines into (key, value) pairs.
fn dotenv(path: &Path) -> std::collections::BTreeMap<String, String> {
    std::fs::read_to_string(path)
        .expect("dotenv")
        .lines()
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| {
            (
                k.to_string(),
                v.trim_matches('"').trim_matches('\'').to_string(),
            )
        })
        .collect()
}

/// The plugin's own push of `files` to `<ns>/<repo>:<tag>`; ARTIFACT_URL and
/// ARTIFACT_DIGEST.
fn plugin_push(bed: &RealBed, repo: &str, tag: &str, files: &[(&str, &str)]) -> (String, String) {
    let src = bed.dir.path().join(format!("src-{repo}-{tag}"));
    let _ = std::fs::remove_dir_all(&src);
    for (p, c) in files {
        write(&src.join(p), c);
    }
    let env = bed.dir.path().join("push.env");
    let r = run(bed
        .plugin()
        .arg("push")
        .arg(&src)
        .arg(format!("{}:{tag}", bed.oci(repo)))
        .arg("--dotenv")
        .arg(&env)
        .args([
            "--revision",
            "main@sha1:0123456789012345678901234567890123456789",
        ]));
    r.assert_ok();
    let env = dotenv(&env);
    (env["ARTIFACT_URL"].clone(), env["ARTIFACT_DIGEST"].clone())
}

fn applied(obj: &Value, digest: &str) -> bool {
    obj.pointer("/status/lastAppliedRevision")
        .and_then(Value::as_str)
        .is_some_and(|r| r.ends_with(digest))
}

fn annotation<'a>(obj: &'a Value, key: &str) -> Option<&'a str> {
    obj.pointer(&format!(
        "/metadata/annotations/{}",
        key.replace('~', "~0").replace('/', "~1")
    ))
    .and_then(Value::as_str)
}

#[test]
fn real_kustomization_push_trigger_wait_applies_exactly_the_digest() {
    let Some(bed) = RealBed::start("ks-push-trigger-wait") else {
        return;
    };
    bed.create_source("apps", "apps", json!({"tag": "latest"}));
    bed.create_ks("apps", "apps", json!({"targetNamespace": bed.ns}));
    let (url, digest) = plugin_push(
        &bed,
        "apps",
        "latest",
        &[("cm.yaml", &configmap("one", "v1"))],
    );

    let env = bed.dir.path().join("trigger.env");
    let r = run(bed
        .plugin()
        .args(["trigger", "--artifact", &url, "--dotenv"])
        .arg(&env));
    r.assert_ok();
    let token = dotenv(&env)["FLUX_RECONCILE_TOKEN"].clone();
    let r = run(bed.plugin().args([
        "wait",
        "--artifact",
        &url,
        "--since-token",
        &token,
        "--timeout",
        "60s",
    ]));
    r.assert_ok();
    let ks = bed.get(KS, "Kustomization", "apps").expect("ks");
    assert!(applied(&ks, &digest), "applied exactly {digest}: {ks}");
    assert_eq!(
        RealBed::ready(&ks).map(|c| c["status"].clone()),
        Some(json!("True"))
    );
    let cm = bed
        .get("v1", "ConfigMap", "one")
        .expect("applied ConfigMap");
    assert_eq!(cm["data"]["key"], "v1");

    // The next push is applied too, and only once wait says so.
    let (url2, digest2) = plugin_push(
        &bed,
        "apps",
        "latest",
        &[("cm.yaml", &configmap("one", "v2"))],
    );
    assert_ne!(digest, digest2);
    run(bed.plugin().args(["trigger", "--artifact", &url2])).assert_ok();
    run(bed
        .plugin()
        .args(["wait", "--artifact", &url2, "--timeout", "60s"]))
    .assert_ok();
    let ks = bed.get(KS, "Kustomization", "apps").expect("ks");
    assert!(applied(&ks, &digest2), "{ks}");
    assert_eq!(
        bed.get("v1", "ConfigMap", "one").expect("cm")["data"]["key"],
        "v2"
    );
}

#[test]
fn real_helmrelease_chartref_to_an_oci_chart() {
    let Some(bed) = RealBed::start("hr-chartref") else {
        return;
    };
    if !bed.require("helm-controller") {
        return;
    }
    bed.apply(json!({
        "apiVersion": OCI, "kind": "OCIRepository",
        "metadata": {"name": "web"},
        "spec": {
            "url": bed.oci("charts/web"), "interval": "1m", "insecure": true,
            "ref": {"semver": ">=1.0.0"},
            "layerSelector": {"mediaType": "application/vnd.cncf.helm.chart.content.v1.tar+gzip", "operation": "copy"},
        },
    }));
    bed.apply(json!({
        "apiVersion": HR, "kind": "HelmRelease",
        "metadata": {"name": "web"},
        "spec": {"interval": "1m", "chartRef": {"kind": "OCIRepository", "name": "web"},
                 "install": {"timeout": "30s"}, "upgrade": {"timeout": "30s"},
                 "values": {"greeting": "hello"}},
    }));
    let chart = bed.dir.path().join("chart");
    write(
        &chart.join("Chart.yaml"),
        "apiVersion: v2\nname: web\nversion: 1.0.0\ndescription: test chart\n",
    );
    write(&chart.join("values.yaml"), "greeting: default\n");
    write(
        &chart.join("templates/configmap.yaml"),
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ .Release.Name }}-config\ndata:\n  greeting: {{ .Values.greeting | quote }}\n",
    );
    let env = bed.dir.path().join("push.env");
    let r = run(bed
        .plugin()
        .arg("push")
        .arg(&chart)
        .arg(bed.oci("charts/web"))
        .arg("--helm-chart")
        .arg("--dotenv")
        .arg(&env));
    r.assert_ok();
    let env = dotenv(&env);
    let (url, digest) = (env["ARTIFACT_URL"].clone(), env["ARTIFACT_DIGEST"].clone());
    assert!(url.contains(":1.0.0@"), "{url}");
    run(bed.plugin().args(["trigger", "--artifact", &url])).assert_ok();
    let r = run(bed
        .plugin()
        .args(["wait", "--artifact", &url, "--timeout", "90s", "-o", "json"]));
    r.assert_ok();
    let hr = bed.get(HR, "HelmRelease", "web").expect("hr");
    assert_eq!(
        hr["status"]["lastAttemptedRevisionDigest"],
        digest.as_str(),
        "{hr}"
    );
    let cm = bed
        .get("v1", "ConfigMap", "web-config")
        .expect("rendered by Helm");
    assert_eq!(cm["data"]["greeting"], "hello");
}

#[test]
fn real_tag_moved_between_push_and_wait_is_never_green_on_the_old_revision() {
    let Some(bed) = RealBed::start("tag-moved") else {
        return;
    };
    bed.create_source("apps", "apps", json!({"tag": "latest"}));
    bed.create_ks("apps", "apps", json!({"targetNamespace": bed.ns}));
    let d1 = bed.push("apps", "latest", &[("cm.yaml", &configmap("one", "v1"))]);
    run(bed.plugin().args([
        "trigger",
        "--artifact",
        &bed.artifact("apps", "latest", &d1),
    ]))
    .assert_ok();
    bed.until(KS, "Kustomization", "apps", LONG, |o| applied(o, &d1));

    // push d2, and before the wait the tag moves on to d3.
    let d2 = bed.push("apps", "latest", &[("cm.yaml", &configmap("one", "v2"))]);
    let d3 = bed.push("apps", "latest", &[("cm.yaml", &configmap("one", "v3"))]);
    let url2 = bed.artifact("apps", "latest", &d2);
    run(bed.plugin().args(["trigger", "--artifact", &url2])).assert_ok();
    let r = run(bed
        .plugin()
        .args(["wait", "--artifact", &url2, "--timeout", "10s"]));
    // Real Flux fetched d3: the plugin waits for d2 (StaleRevision) and
    // times out naming what the source has.
    assert_eq!(
        r.code, 3,
        "wait must not go green for {d2}: the cluster has d1 then d3\nstdout:\n{}\nstderr:\n{}",
        r.stdout, r.stderr
    );
    let short3 = &d3["sha256:".len().."sha256:".len() + 12];
    assert!(r.stderr.contains("StaleRevision"), "{}", r.stderr);
    assert!(
        r.stderr.contains(&format!("has latest@sha256:{short3}")),
        "names the moved tag's digest {short3}:\n{}",
        r.stderr
    );
    let ks = bed.until(KS, "Kustomization", "apps", LONG, |o| applied(o, &d3));
    assert!(!applied(&ks, &d2));
}

#[test]
fn real_broken_manifest_fails_with_kustomize_controllers_message() {
    let Some(bed) = RealBed::start("broken-manifest") else {
        return;
    };
    bed.create_source("apps", "apps", json!({"tag": "latest"}));
    bed.create_ks("apps", "apps", json!({"targetNamespace": bed.ns}));
    let d1 = bed.push("apps", "latest", &[("cm.yaml", &configmap("one", "v1"))]);
    run(bed.plugin().args([
        "trigger",
        "--artifact",
        &bed.artifact("apps", "latest", &d1),
    ]))
    .assert_ok();
    bed.until(KS, "Kustomization", "apps", LONG, |o| applied(o, &d1));

    let d2 = bed.push(
        "apps",
        "latest",
        &[("cm.yaml", "apiVersion: v1\nkind: [unclosed\n")],
    );
    let url = bed.artifact("apps", "latest", &d2);
    run(bed.plugin().args(["trigger", "--artifact", &url])).assert_ok();
    let r = run(bed
        .plugin()
        .args(["wait", "--artifact", &url, "--timeout", "60s"]));
    let exited = SystemTime::now();
    crate::common::scenarios::assert_scenario("broken_manifest", "real", &r);
    let ks = bed.get(KS, "Kustomization", "apps").expect("ks");
    let ready = RealBed::ready(&ks).expect("Ready condition").clone();
    assert_eq!(ready["status"], "False", "{ks}");
    let message = ready["message"].as_str().unwrap_or_default();
    // kustomize-controller's own message (its first line), as the plugin shows it.
    let first = message.lines().next().unwrap_or_default();
    assert!(
        !first.is_empty() && r.stderr.contains(first.trim()),
        "stderr should carry kustomize-controller's message {first:?}:\n{}",
        r.stderr
    );
    let reason = ready["reason"].as_str().unwrap_or_default();
    assert!(r.stderr.contains(reason), "reason {reason}:\n{}", r.stderr);
    let since: jiff::Timestamp = ready["lastTransitionTime"]
        .as_str()
        .expect("lastTransitionTime")
        .parse()
        .expect("RFC 3339");
    let exited = jiff::Timestamp::try_from(exited).expect("now");
    let lag = exited.duration_since(since);
    // lastTransitionTime has second resolution: allow one more second.
    assert!(
        lag < jiff::SignedDuration::from_secs(6),
        "wait exited {lag:?} after the condition (must be within 5 s)"
    );
    assert!(applied(&ks, &d1), "the controller kept the old revision");
}

#[test]
fn real_ocirepository_shipped_together_with_its_consumers() {
    let Some(bed) = RealBed::start("shipped-source") else {
        return;
    };
    // The inner artifact the shipped OCIRepository points at.
    let inner = bed.push(
        "inner",
        "v1",
        &[("cm.yaml", &configmap("inner", "from-inner"))],
    );
    let shipped = format!(
        "apiVersion: {OCI}\nkind: OCIRepository\nmetadata:\n  name: inner\n  namespace: {ns}\nspec:\n  url: {url}\n  ref:\n    tag: v1\n  interval: 1m\n  insecure: true\n---\napiVersion: {KS}\nkind: Kustomization\nmetadata:\n  name: inner\n  namespace: {ns}\nspec:\n  interval: 1m\n  retryInterval: 2s\n  path: ./\n  prune: true\n  targetNamespace: {ns}\n  sourceRef:\n    kind: OCIRepository\n    name: inner\n",
        ns = bed.ns,
        url = bed.oci("inner"),
    );
    bed.create_source("outer", "outer", json!({"tag": "latest"}));
    bed.create_ks("outer", "outer", json!({}));
    let (url, digest) = plugin_push(&bed, "outer", "latest", &[("flux.yaml", &shipped)]);
    run(bed.plugin().args(["trigger", "--artifact", &url])).assert_ok();
    let r = run(bed
        .plugin()
        .args(["wait", "--artifact", &url, "--timeout", "90s", "-o", "json"]));
    crate::common::scenarios::assert_scenario("shipped_source", "real", &r);
    let outer = bed.get(KS, "Kustomization", "outer").expect("outer");
    assert!(applied(&outer, &digest), "{outer}");
    let inner_ks = bed.until(KS, "Kustomization", "inner", LONG, |o| applied(o, &inner));
    assert!(applied(&inner_ks, &inner));
    let report = r.json();
    eprintln!("wait report: {report}");
    assert!(
        report.to_string().contains("Kustomization") && report.to_string().contains("inner"),
        "the shipped consumer is followed: {report}"
    );
    assert_eq!(
        bed.get("v1", "ConfigMap", "inner").expect("cm")["data"]["key"],
        "from-inner"
    );
}

/// `receiver create` (real CRD validation), then `trigger --receiver` against
/// notification-controller's receiver server.
fn receiver_round_trip(bed: &RealBed, name: &str, kind: &str) {
    let r = run(bed.plugin().args([
        "receiver",
        "create",
        name,
        "--for",
        "ocirepository/apps",
        "--type",
        kind,
        "--timeout",
        "30s",
        "-o",
        "json",
    ]));
    r.assert_ok();
    let report = r.json();
    let token = report["token"].as_str().expect("token").to_string();
    let path = report["webhookPath"].as_str().expect("path").to_string();
    let rcv = bed.get(RCV, "Receiver", name).expect("receiver");
    assert_eq!(rcv["spec"]["type"], kind);
    assert_eq!(rcv["status"]["webhookPath"], path.as_str());
    let url = format!("{}{path}", bed.cluster.receiver_url());
    let before = bed
        .get(OCI, "OCIRepository", "apps")
        .and_then(|o| annotation(&o, "reconcile.fluxcd.io/requestedAt").map(str::to_string));

    if kind != "generic" {
        let r = run(bed
            .plugin()
            .args(["trigger", "--receiver", &url, "--receiver-type", kind])
            .args(["--token-env", "FLUX_RECEIVER_TOKEN"])
            .env("FLUX_RECEIVER_TOKEN", "not-the-token"));
        assert_ne!(r.code, 0, "a wrong token is refused:\n{}", r.stderr);
        eprintln!(
            "{kind} receiver, wrong token: exit {}\n{}",
            r.code, r.stderr
        );
        assert!(!r.stderr.contains(&path[6..]), "secret path leaked");
    }
    let r = run(bed
        .plugin()
        .args(["trigger", "--receiver", &url, "--receiver-type", kind])
        .args(["--token-env", "FLUX_RECEIVER_TOKEN"])
        .env("FLUX_RECEIVER_TOKEN", &token));
    r.assert_ok();
    assert!(!r.stdout.contains(&token) && !r.stderr.contains(&token));
    bed.until(OCI, "OCIRepository", "apps", Duration::from_secs(20), |o| {
        let now = annotation(o, "reconcile.fluxcd.io/requestedAt").map(str::to_string);
        now.is_some() && now != before
    });
}

#[test]
fn real_receivers_gitlab_generic_and_generic_hmac() {
    let Some(bed) = RealBed::start("receivers") else {
        return;
    };
    bed.create_source("apps", "apps", json!({"tag": "latest"}));
    for kind in ["gitlab", "generic", "generic-hmac"] {
        receiver_round_trip(&bed, &format!("ci-{kind}"), kind);
    }
    // An existing Receiver is refused (exit 2), by the plugin before the API.
    let r = run(bed.plugin().args([
        "receiver",
        "create",
        "ci-gitlab",
        "--for",
        "ocirepository/apps",
    ]));
    assert_eq!(r.code, 2, "{}", r.stderr);
}

#[test]
fn real_status_and_status_tree() {
    let Some(bed) = RealBed::start("status") else {
        return;
    };
    bed.create_source("apps", "apps", json!({"tag": "latest"}));
    bed.create_ks("apps", "apps", json!({"targetNamespace": bed.ns}));
    let (url, digest) = plugin_push(
        &bed,
        "apps",
        "latest",
        &[("cm.yaml", &configmap("one", "v1"))],
    );
    run(bed.plugin().args(["trigger", "--artifact", &url])).assert_ok();
    run(bed
        .plugin()
        .args(["wait", "--artifact", &url, "--timeout", "60s"]))
    .assert_ok();

    let r = run(bed.plugin().arg("status"));
    r.assert_ok();
    assert!(
        r.stdout.contains("Kustomization/apps") || r.stdout.contains("apps"),
        "{}",
        r.stdout
    );
    let short = &digest["sha256:".len().."sha256:".len() + 12];
    assert!(
        r.stdout.contains(short) || r.stdout.contains("latest@"),
        "revision shown:\n{}",
        r.stdout
    );
    eprintln!("status:\n{}", r.stdout);

    let r = run(bed.plugin().args(["status", "--tree"]));
    r.assert_ok();
    eprintln!("status --tree:\n{}", r.stdout);
    // The tree shows Flux objects (inventories' Flux kinds), not ConfigMaps.
    for want in ["OCIRepository/", "Kustomization/", "✔"] {
        assert!(r.stdout.contains(want), "{want} in the tree:\n{}", r.stdout);
    }
    let r = run(bed.plugin().args(["status", "-o", "json"]));
    r.assert_ok();
    let text = r.stdout;
    assert!(
        text.contains("\"Kustomization\"") && text.contains(&digest),
        "{text}"
    );
}

/// The deployer ClusterRole of docs/rbac.md, as the rules of a Role: read
/// from the doc itself, so the doc is what is tested.
fn ci_role_rules() -> Value {
    let doc = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/rbac.md"),
    )
    .expect("docs/rbac.md");
    let block = doc
        .split("```yaml\n")
        .skip(1)
        .filter_map(|b| b.split("```").next())
        .find(|b| b.contains("kind: ClusterRole") && b.contains("name: gitlab-flux-deployer"))
        .expect("docs/rbac.md has the gitlab-flux-deployer ClusterRole");
    let role: Value = serde_saphyr::from_str(block).expect("the ClusterRole parses");
    role["rules"].clone()
}

#[test]
fn real_ci_role_of_docs_rbac_is_enough_and_a_missing_verb_is_named() {
    let Some(bed) = RealBed::start("rbac") else {
        return;
    };
    bed.create_source("apps", "apps", json!({"tag": "latest"}));
    bed.create_ks("apps", "apps", json!({"targetNamespace": bed.ns}));
    let ci = bed
        .cluster
        .service_account_kubeconfig(&bed.ns, "ci", ci_role_rules(), "ci")
        .expect("service account");
    let ci_kc = bed.dir.path().join("ci.kubeconfig");
    std::fs::write(&ci_kc, ci).expect("write");
    let as_ci = || {
        let mut c = crate::common::plugin(bed.dir.path());
        c.arg("--kubeconfig").arg(&ci_kc);
        c
    };
    let (url, digest) = plugin_push(
        &bed,
        "apps",
        "latest",
        &[("cm.yaml", &configmap("one", "v1"))],
    );
    run(as_ci().args(["trigger", "--artifact", &url])).assert_ok();
    run(as_ci().args(["wait", "--artifact", &url, "--timeout", "60s"])).assert_ok();
    run(as_ci().arg("status")).assert_ok();
    assert!(applied(
        &bed.get(KS, "Kustomization", "apps").expect("ks"),
        &digest
    ));

    // Without patch on kustomizations: the documented error.
    let mut rules = ci_role_rules();
    rules[2]["verbs"] = json!(["get", "list", "watch"]);
    let weak = bed
        .cluster
        .service_account_kubeconfig(&bed.ns, "weak", rules, "weak")
        .expect("service account");
    let weak_kc = bed.dir.path().join("weak.kubeconfig");
    std::fs::write(&weak_kc, weak).expect("write");
    let (url2, _) = plugin_push(
        &bed,
        "apps",
        "latest",
        &[("cm.yaml", &configmap("one", "v2"))],
    );
    let r = run(crate::common::plugin(bed.dir.path())
        .arg("--kubeconfig")
        .arg(&weak_kc)
        .args(["trigger", "--artifact", &url2]));
    r.assert_error(
        4,
        &format!(
            "forbidden: cannot patch kustomizations in namespace \"{}\"",
            bed.ns
        ),
        "docs/rbac.md",
    );
}

#[test]
fn real_cluster_names_its_versions_and_deletes_namespaces() {
    let Some(bed) = RealBed::start("startup") else {
        return;
    };
    let c = bed.cluster;
    assert!(
        c.describe().contains("kube-apiserver v1."),
        "{}",
        c.describe()
    );
    let out = c
        .kubectl_admin()
        .args(["version", "-o", "json"])
        .output()
        .expect("kubectl version");
    let v: Value = serde_json::from_slice(&out.stdout).unwrap_or_default();
    eprintln!(
        "server {} (started in {:.1} s)",
        v["serverVersion"]["gitVersion"],
        c.started_in.as_secs_f64()
    );
    // The start-up time is reported, not asserted: it is a measurement
    // (docs/testing.md gives it), and a loaded machine is not a failure.
    // kube-controller-manager runs: a deleted namespace goes away (its
    // namespace controller empties and finalizes it).
    if bed.require("kube-controller-manager") {
        let ns = format!("{}-gone", bed.ns);
        bed.apply(json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}}));
        bed.apply(json!({"apiVersion": "v1", "kind": "ConfigMap",
                         "metadata": {"name": "x", "namespace": ns}}));
        c.delete_namespace(&ns);
        let deadline = Instant::now() + Duration::from_secs(30);
        while c.get("v1", "Namespace", "", &ns).is_some() {
            assert!(
                Instant::now() < deadline,
                "namespace {ns} not deleted:\n{}",
                c.log_tail("kube-controller-manager", 20)
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }
}

/// krew v0.4.3 (built by `make realbed`) installs the release archive from
/// the filled manifest into a temp KREW_ROOT; the plugin then runs through
/// kubectl 1.37, and kubectl's plugin completion (kubectl ≥ 1.26, with the
/// completion helper of the manifest's caveats on PATH) lists its
/// subcommands. No cluster is needed.
#[test]
fn real_krew_installs_the_release_archive_and_kubectl_1_37_completes_it() {
    use gitlab_flux_release::krew;
    use gitlab_flux_release::package::Package;
    let programs = testbed::real::Programs::discover().expect("build.sh --list");
    let (Some(krew_bin), Some(kubectl)) = (programs.bin("krew"), programs.bin("kubectl")) else {
        let why = "krew or kubectl 1.37 is not built (run `make realbed`, see docs/testing.md)";
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "required under CI=true: {why}"
        );
        eprintln!("skipping: {why}");
        return;
    };
    eprintln!(
        "backend: real binaries (krew {}, kubectl {})",
        programs
            .get("krew")
            .map(|p| p.version.as_str())
            .unwrap_or("?"),
        programs
            .get("kubectl")
            .map(|p| p.version.as_str())
            .unwrap_or("?")
    );
    let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
    let tmp = tempfile::tempdir().expect("tmp");
    let dist = tmp.path().join("dist");
    let mut cmd = std::process::Command::new(repo.join("scripts/dist.sh"));
    run(cmd
        .args(["--out"])
        .arg(&dist)
        .args(["--platform", "linux_amd64", "--binary"])
        .arg(crate::common::bin())
        .args(["--gzip-level", "1"])
        .current_dir(repo))
    .assert_ok();
    let version = env!("CARGO_PKG_VERSION");
    let archive = dist.join(format!("kubectl-gitlab_flux_v{version}_linux_amd64.tar.gz"));
    let generated = krew::generate(&krew::Options {
        dist: dist.clone(),
        package: Package::read(&repo.join("Cargo.toml")).expect("Cargo.toml"),
        download_base: None,
        strict: false,
    })
    .expect("krew manifest");
    let manifest = tmp.path().join("krew/gitlab-flux.yaml");
    write(&manifest, &generated.yaml);

    let root = tmp.path().join("krew-root");
    let path = format!("{}:/usr/bin:/bin", root.join("bin").display());
    let with_env = |cmd: &mut std::process::Command| {
        crate::common::scrub(cmd, tmp.path());
        cmd.env("KREW_ROOT", &root).env("PATH", &path);
    };
    let mut install = std::process::Command::new(&krew_bin);
    with_env(&mut install);
    let r = run(install
        .arg("install")
        .arg(format!("--manifest={}", manifest.display()))
        .arg(format!("--archive={}", archive.display())));
    r.assert_ok();
    eprintln!("krew install:\n{}{}", r.stdout, r.stderr);
    let receipt = root.join("receipts/gitlab-flux.yaml");
    assert!(
        receipt.is_file(),
        "krew wrote no receipt {}",
        receipt.display()
    );
    let kubectl_run = |args: &[&str]| {
        let mut cmd = std::process::Command::new(&kubectl);
        with_env(&mut cmd);
        run(cmd.args(args))
    };
    let r = kubectl_run(&["gitlab-flux", "version"]);
    r.assert_ok();
    assert!(
        r.stdout
            .starts_with(&format!("kubectl-gitlab-flux {version} ")),
        "{}",
        r.stdout
    );
    // (`krew list` needs a local index, which an offline test has not.)
    let receipt = std::fs::read_to_string(&receipt).expect("receipt");
    assert!(
        receipt.contains(&format!("version: v{version}")),
        "{receipt}"
    );

    // The caveats' command installs the completion helper next to it.
    let caveats = generated.yaml.clone();
    let line = caveats
        .lines()
        .map(str::trim)
        .find(|l| l.starts_with("install ") && l.contains("kubectl_complete-gitlab_flux"))
        .unwrap_or_else(|| panic!("no install command in the caveats:\n{caveats}"))
        .to_string();
    let mut sh = std::process::Command::new("/bin/sh");
    with_env(&mut sh);
    run(sh.args(["-c", &line]).current_dir(repo)).assert_ok();
    let r = kubectl_run(&["__complete", "gitlab-flux", ""]);
    r.assert_ok();
    let offered: Vec<&str> = r
        .stdout
        .lines()
        .filter(|l| !l.starts_with(':'))
        .map(|l| l.split('\t').next().unwrap_or_default())
        .collect();
    for sub in ["push", "trigger", "wait", "status", "version"] {
        assert!(
            offered.contains(&sub),
            "kubectl 1.37 __complete gitlab-flux \"\" offers no {sub}: {offered:?}\n{}",
            r.stderr
        );
    }
    eprintln!("kubectl 1.37 completes: {offered:?}");
}

/// Write chart `podinfo` at `version` (`template` as its only manifest) and
/// push it with `push --helm-chart` under `<base>/podinfo`; ARTIFACT_URL.
fn real_push_chart(bed: &RealBed, base: &str, version: &str, template: &str) -> String {
    let chart = bed.dir.path().join(format!("chart-{base}-{version}"));
    let _ = std::fs::remove_dir_all(&chart);
    write(
        &chart.join("Chart.yaml"),
        &format!("apiVersion: v2\nname: podinfo\nversion: {version}\ndescription: test chart\n"),
    );
    write(&chart.join("templates/configmap.yaml"), template);
    let env = bed.dir.path().join("chart.env");
    run(bed
        .plugin()
        .arg("push")
        .arg(&chart)
        .arg(bed.oci(&format!("{base}/podinfo")))
        .arg("--helm-chart")
        .arg("--dotenv")
        .arg(&env))
    .assert_ok();
    dotenv(&env)["ARTIFACT_URL"].clone()
}

const GOOD_TEMPLATE: &str = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ .Release.Name }}-config\ndata:\n  chart: {{ .Chart.Version | quote }}\n";

/// SC-HELMREPO, SC-HELMCHART, HC-CHARTTEMPLATE on the real controllers: an
/// OCI HelmRepository and a HelmRelease with `spec.chart`; push, trigger and
/// wait green (the HelmChart's revision and the release's
/// lastAttemptedRevision are the chart version, no digest); a version the
/// constraint does not admit is refused naming it; `--dependents` follows a
/// HelmRelease that depends on it; a failing upgrade fails fast.
#[test]
fn real_helmrepository_chart_spec_push_trigger_wait() {
    let Some(bed) = RealBed::start("hr-helmrepo") else {
        return;
    };
    if !bed.require("helm-controller") {
        return;
    }
    for name in ["charts", "other"] {
        bed.apply(json!({
            "apiVersion": OCI, "kind": "HelmRepository",
            "metadata": {"name": name},
            "spec": {"type": "oci", "url": bed.oci(name), "interval": "1m", "insecure": true},
        }));
    }
    let release = |name: &str, repo: &str, version: &str, deps: Value| {
        json!({
            "apiVersion": HR, "kind": "HelmRelease",
            "metadata": {"name": name},
            "spec": {"interval": "1m", "dependsOn": deps,
                     "install": {"timeout": "30s"}, "upgrade": {"timeout": "30s"},
                     "chart": {"spec": {"chart": "podinfo", "version": version,
                               "sourceRef": {"kind": "HelmRepository", "name": repo}}}},
        })
    };
    real_push_chart(&bed, "other", "0.5.0", GOOD_TEMPLATE);
    let url = real_push_chart(&bed, "charts", "1.2.0", GOOD_TEMPLATE);
    bed.apply(release("web", "charts", ">=1.0.0 <2.0.0", json!([])));
    bed.apply(release(
        "frontend",
        "other",
        "0.5.0",
        json!([{"name": "web"}]),
    ));

    let r = run(bed.plugin().args(["trigger", "--artifact", &url]));
    r.assert_ok();
    let r = run(bed.plugin().args([
        "wait",
        "--artifact",
        &url,
        "--dependents",
        "--timeout",
        "120s",
        "-o",
        "json",
    ]));
    r.assert_ok();
    assert!(r.stdout.contains("frontend"), "{}", r.stdout);
    let chart_name = format!("{}-web", bed.ns);
    let hc = bed.get(OCI, "HelmChart", &chart_name).expect("HelmChart");
    assert_eq!(hc["status"]["artifact"]["revision"], "1.2.0", "{hc}");
    let hr = bed.get(HR, "HelmRelease", "web").expect("hr");
    assert_eq!(hr["status"]["lastAttemptedRevision"], "1.2.0", "{hr}");
    assert!(
        hr["status"]["lastAttemptedRevisionDigest"].is_null()
            || hr["status"]["lastAttemptedRevisionDigest"] == "",
        "{hr}"
    );
    let repo = bed.get(OCI, "HelmRepository", "charts").expect("repo");
    eprintln!("OCI HelmRepository status: {}", repo["status"]);

    // Refused, naming the constraint.
    let too_new = real_push_chart(&bed, "charts", "2.0.0", GOOD_TEMPLATE);
    let r = run(bed
        .plugin()
        .args(["wait", "--artifact", &too_new, "--timeout", "20s"]));
    r.assert_error(
        1,
        "version constraint \">=1.0.0 <2.0.0\" does not include 2.0.0",
        "",
    );

    // SC-HELMCHART: 1.2.0 re-pushed with other bytes; source-controller
    // keeps the chart it holds for that version: reported, not passed.
    let again = real_push_chart(
        &bed,
        "charts",
        "1.2.0",
        &format!("{GOOD_TEMPLATE}  rebuilt: \"yes\"\n"),
    );
    assert_ne!(again, url, "the re-push has another digest");
    run(bed.plugin().args(["trigger", "--artifact", &again])).assert_ok();
    let r = run(bed
        .plugin()
        .args(["wait", "--artifact", &again, "--timeout", "60s"]));
    r.assert_error(1, "ChartBytesDiffer", "");
    eprintln!("re-pushed version: {}", r.stderr);

    // A failing upgrade (an invalid object name) fails fast.
    let bad = real_push_chart(
        &bed,
        "charts",
        "1.3.0",
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: Not_A_Valid_Name\n",
    );
    run(bed.plugin().args(["trigger", "--artifact", &bad])).assert_ok();
    let started = Instant::now();
    let r = run(bed
        .plugin()
        .args(["wait", "--artifact", &bad, "--timeout", "150s"]));
    r.assert_error(1, "HelmRelease", "");
    assert!(
        started.elapsed() < Duration::from_secs(120),
        "fails fast: {:?}",
        started.elapsed()
    );
    eprintln!("failing upgrade: {}", r.stderr);
}

/// The peers `make realbed` builds for benchmarks and independent checks
/// run and name their versions: cosign (the signing issue's independent
/// signature check), oras and the flux CLI (benchmarks).
#[test]
fn real_peers_run_and_name_their_versions() {
    let programs = testbed::real::Programs::discover().expect("build.sh --list");
    for (name, args, want) in [
        ("cosign", &["version"][..], "v3.1.3"),
        ("oras", &["version"][..], "1.3.6"),
        ("flux", &["version", "--client"][..], "2.9.4"),
    ] {
        let Some(bin) = programs.bin(name) else {
            let why = format!("{name} is not built (run `make realbed`, see docs/testing.md)");
            assert!(
                std::env::var("CI").as_deref() != Ok("true"),
                "required under CI=true: {why}"
            );
            eprintln!("skipping: {why}");
            continue;
        };
        let out = std::process::Command::new(&bin)
            .args(args)
            .env("HOME", std::env::temp_dir())
            .output()
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(out.status.success(), "{name} {args:?}: {text}");
        assert!(text.contains(want), "{name} names {want}: {text}");
        eprintln!("backend: real binary {name} {want}");
    }
}
