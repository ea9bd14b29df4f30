//! The real `kubectl` against the API emulator.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use serde_json::{Value, json};
use testbed::apiserver::{ApiServer, ApiServerConfig, require_kubectl};

const KS: &str = "kustomize.toolkit.fluxcd.io/v1";

struct Kubectl {
    bin: PathBuf,
    dir: tempfile::TempDir,
    server: ApiServer,
}

impl Kubectl {
    fn start(cfg: ApiServerConfig) -> Option<Kubectl> {
        let bin = require_kubectl()?;
        let server = ApiServer::start(cfg).expect("start");
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(
            dir.path().join("kubeconfig"),
            server.kubeconfig("group/project:agent", Some("flux-system")),
        )
        .expect("write kubeconfig");
        let store = server.store();
        for ns in ["flux-system", "apps"] {
            store
                .create(json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}}))
                .expect("namespace");
        }
        Some(Kubectl { bin, dir, server })
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut c = Command::new(&self.bin);
        c.arg("--kubeconfig")
            .arg(self.dir.path().join("kubeconfig"))
            .arg("--cache-dir")
            .arg(self.dir.path().join("cache"))
            .args(args)
            .env_remove("KUBECONFIG")
            .stdin(Stdio::null());
        c
    }

    fn run(&self, args: &[&str]) -> Output {
        self.command(args).output().expect("run kubectl")
    }

    /// Run and expect success; returns stdout.
    fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(
            out.status.success(),
            "kubectl {args:?} failed: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Run and expect failure; returns stderr.
    fn fails(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(!out.status.success(), "kubectl {args:?} succeeded");
        String::from_utf8_lossy(&out.stderr).into_owned()
    }

    fn ks(&self, ns: &str, name: &str) {
        self.server
            .store()
            .create(json!({
                "apiVersion": KS, "kind": "Kustomization",
                "metadata": {"name": name, "namespace": ns},
                "spec": {"interval": "10m", "path": "./", "prune": true,
                    "sourceRef": {"kind": "OCIRepository", "name": name}}
            }))
            .expect("kustomization");
    }
}

fn lines_of(child_stdout: impl std::io::Read + Send + 'static) -> mpsc::Receiver<String> {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(child_stdout).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    rx
}

fn ready(status: &str) -> Value {
    json!({
        "observedGeneration": 1,
        "conditions": [{"type": "Ready", "status": status, "reason": "ReconciliationSucceeded",
            "message": "Applied revision: latest@sha256:abc", "lastTransitionTime": "2025-01-01T00:00:00Z",
            "observedGeneration": 1}]
    })
}

#[test]
fn kubectl_get_namespaced_and_all_namespaces() {
    let Some(k) = Kubectl::start(ApiServerConfig::default()) else {
        return;
    };
    k.server
        .store()
        .create(json!({
            "apiVersion": "source.toolkit.fluxcd.io/v1", "kind": "OCIRepository",
            "metadata": {"name": "podinfo", "namespace": "flux-system"},
            "spec": {"url": "oci://ghcr.io/stefanprodan/manifests/podinfo", "interval": "1m"}
        }))
        .unwrap();
    let out = k.ok(&["get", "ocirepositories", "-n", "flux-system"]);
    assert!(out.starts_with("NAME"), "{out}");
    assert!(out.contains("podinfo"), "{out}");
    // Short names come from discovery.
    assert!(k.ok(&["get", "ocirepo"]).contains("podinfo"));
    k.ks("flux-system", "infra");
    k.ks("apps", "web");
    let out = k.ok(&["get", "kustomizations", "-A"]);
    assert!(out.starts_with("NAMESPACE"), "{out}");
    assert!(
        out.contains("flux-system") && out.contains("infra"),
        "{out}"
    );
    assert!(out.contains("apps") && out.contains("web"), "{out}");
    let out = k.ok(&["get", "ks", "web", "-n", "apps", "-o", "json"]);
    let v: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["metadata"]["generation"], 1);
    assert_eq!(v["spec"]["sourceRef"]["name"], "web");
    // Category: `kubectl get fluxcd` lists every Flux kind.
    let out = k.ok(&["get", "fluxcd", "-A"]);
    assert!(out.contains("podinfo") && out.contains("web"), "{out}");
    let err = k.fails(&["get", "ks", "nope"]);
    assert!(
        err.contains(
            "Error from server (NotFound): kustomizations.kustomize.toolkit.fluxcd.io \"nope\" not found"
        ),
        "{err}"
    );
}

#[test]
fn kubectl_get_watch_streams_updates() {
    let Some(k) = Kubectl::start(ApiServerConfig::default()) else {
        return;
    };
    k.ks("flux-system", "app");
    let mut child = k
        .command(&["get", "kustomizations", "-w", "-o", "name"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let lines = lines_of(child.stdout.take().unwrap());
    let first = lines
        .recv_timeout(Duration::from_secs(20))
        .expect("initial line");
    assert_eq!(first, "kustomization.kustomize.toolkit.fluxcd.io/app");
    // Give kubectl a moment to open the watch, then change the object.
    std::thread::sleep(Duration::from_millis(500));
    k.ks("flux-system", "second");
    let next = lines
        .recv_timeout(Duration::from_secs(20))
        .expect("streamed line");
    assert_eq!(next, "kustomization.kustomize.toolkit.fluxcd.io/second");
    k.server
        .store()
        .update_status(KS, "Kustomization", "flux-system", "app", ready("True"))
        .unwrap();
    let next = lines
        .recv_timeout(Duration::from_secs(20))
        .expect("streamed line");
    assert_eq!(next, "kustomization.kustomize.toolkit.fluxcd.io/app");
    let _ = child.kill();
    let _ = child.wait();
    assert!(
        k.server
            .requests()
            .iter()
            .any(|r| r.query_param("watch").as_deref() == Some("true")),
        "kubectl did not watch"
    );
}

#[test]
fn kubectl_annotate_sends_a_merge_patch() {
    let Some(k) = Kubectl::start(ApiServerConfig::default()) else {
        return;
    };
    k.ks("flux-system", "app");
    let out = k.ok(&[
        "annotate",
        "--overwrite",
        "kustomization/app",
        "reconcile.fluxcd.io/requestedAt=2025-06-01T10:00:00.123456789Z",
    ]);
    assert!(out.contains("annotated"), "{out}");
    let obj = k
        .server
        .store()
        .get(KS, "Kustomization", "flux-system", "app")
        .unwrap();
    assert_eq!(
        obj["metadata"]["annotations"]["reconcile.fluxcd.io/requestedAt"],
        "2025-06-01T10:00:00.123456789Z"
    );
    assert_eq!(obj["metadata"]["generation"], 1);
    let patch = k
        .server
        .requests()
        .into_iter()
        .find(|r| r.method == "PATCH")
        .expect("a PATCH");
    assert_eq!(
        patch.path,
        "/apis/kustomize.toolkit.fluxcd.io/v1/namespaces/flux-system/kustomizations/app"
    );
    assert_eq!(
        patch.content_type.as_deref(),
        Some("application/merge-patch+json")
    );
    assert_eq!(
        patch.body,
        Some(
            json!({"metadata": {"annotations": {"reconcile.fluxcd.io/requestedAt": "2025-06-01T10:00:00.123456789Z"}}})
        )
    );
}

#[test]
fn kubectl_patch_status_subresource() {
    let Some(k) = Kubectl::start(ApiServerConfig::default()) else {
        return;
    };
    k.ks("flux-system", "app");
    let patch = json!({"status": ready("False"), "spec": {"suspend": true}}).to_string();
    let out = k.ok(&[
        "patch",
        "kustomization",
        "app",
        "--subresource=status",
        "--type=merge",
        "-p",
        &patch,
    ]);
    assert!(out.contains("patched"), "{out}");
    let obj = k
        .server
        .store()
        .get(KS, "Kustomization", "flux-system", "app")
        .unwrap();
    assert_eq!(obj["status"]["conditions"][0]["status"], "False");
    assert!(
        obj["spec"].get("suspend").is_none(),
        "spec changed via /status"
    );
    // And a JSON patch on the main resource bumps the generation.
    k.ok(&[
        "patch",
        "ks",
        "app",
        "--type=json",
        "-p",
        r#"[{"op":"add","path":"/spec/suspend","value":true}]"#,
    ]);
    let obj = k
        .server
        .store()
        .get(KS, "Kustomization", "flux-system", "app")
        .unwrap();
    assert_eq!(obj["spec"]["suspend"], true);
    assert_eq!(obj["metadata"]["generation"], 2);
}

#[test]
fn kubectl_wait_for_ready() {
    let Some(k) = Kubectl::start(ApiServerConfig::default()) else {
        return;
    };
    k.ks("flux-system", "app");
    let child = k
        .command(&[
            "wait",
            "--for=condition=Ready",
            "kustomization/app",
            "--timeout=30s",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(1500));
    k.server
        .store()
        .update_status(KS, "Kustomization", "flux-system", "app", ready("True"))
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("condition met"), "{stdout}");
}

#[test]
fn kubectl_shows_forbidden() {
    let Some(k) = Kubectl::start(ApiServerConfig::default()) else {
        return;
    };
    k.ks("flux-system", "app");
    k.server
        .faults()
        .deny("patch", "kustomizations", Some("flux-system"));
    let err = k.fails(&["annotate", "kustomization/app", "a=b"]);
    assert!(
        err.contains(
            "Error from server (Forbidden): kustomizations.kustomize.toolkit.fluxcd.io \"app\" is forbidden: User \"system:serviceaccount:default:testbed\" cannot patch resource \"kustomizations\" in API group \"kustomize.toolkit.fluxcd.io\" in the namespace \"flux-system\""
        ),
        "{err}"
    );
}

#[test]
fn kubectl_without_flux_or_token() {
    let Some(k) = Kubectl::start(ApiServerConfig {
        flux_crds: false,
        ..Default::default()
    }) else {
        return;
    };
    let err = k.fails(&["get", "kustomizations"]);
    assert!(
        err.contains("the server doesn't have a resource type \"kustomizations\""),
        "{err}"
    );
    // Core resources still work: apply, get, delete a ConfigMap. (Typed
    // `kubectl create configmap` sends protobuf, which is not emulated.)
    let manifest = k.dir.path().join("cm.yaml");
    std::fs::write(
        &manifest,
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\ndata:\n  a: b\n",
    )
    .unwrap();
    let manifest = manifest.to_str().unwrap();
    assert!(k.ok(&["apply", "-f", manifest]).contains("created"));
    assert!(k.ok(&["apply", "-f", manifest]).contains("unchanged"));
    assert_eq!(k.ok(&["get", "cm", "c", "-o", "jsonpath={.data.a}"]), "b");
    assert!(k.ok(&["delete", "-f", manifest]).contains("deleted"));
    assert!(
        k.server
            .store()
            .list("v1", "ConfigMap", Some("flux-system"))
            .is_empty()
    );
    // A wrong token is Unauthorized.
    std::fs::write(
        k.dir.path().join("kubeconfig"),
        k.server
            .kubeconfig("ctx", None)
            .replace(&k.server.token().unwrap(), "wrong"),
    )
    .unwrap();
    let err = k.fails(&["get", "cm"]);
    assert!(
        err.contains("You must be logged in to the server") || err.contains("Unauthorized"),
        "{err}"
    );
}
