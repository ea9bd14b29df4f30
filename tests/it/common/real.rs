//! The real-cluster backend of the test harness: ONE real cluster per test
//! process (etcd, kube-apiserver, kube-controller-manager, the four Flux
//! controllers, the registry; `testbed::real`), started by the first test
//! that asks for it, each test in its own namespace and under its own
//! registry repository prefix. The emulator backend is [`super::bed::Bed`].
//!
//! When a program is not built (`make realbed`), a test skips with a
//! message, except under `CI=true`, where it fails.

use serde_json::{Value, json};
use std::path::PathBuf;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};
use testbed::real::{Programs, RealCluster, RealConfig};

pub use super::bed::{HR, KS, OCI};

/// Which backend a test ran on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// The API emulator and the Flux simulator (`common::bed::Bed`).
    Emulator,
    /// The real cluster (`common::real::RealBed`).
    Real,
}

static CLUSTER: OnceLock<Result<RealCluster, String>> = OnceLock::new();
static SEQ: AtomicUsize = AtomicUsize::new(0);

fn ci() -> bool {
    std::env::var("CI").as_deref() == Ok("true")
}

/// Skip (None) outside CI, fail under CI=true.
fn skip(why: &str) -> Option<&'static RealCluster> {
    if ci() {
        panic!("real cluster required under CI=true: {why}");
    }
    eprintln!("skipping: {why}");
    None
}

/// The shared cluster, started on first use.
pub fn cluster() -> Option<&'static RealCluster> {
    if !testbed::registry::require_registry() {
        return None;
    }
    let res = CLUSTER.get_or_init(|| {
        let programs = Programs::discover().map_err(|e| format!("{e:#}"))?;
        let missing = programs.missing();
        // REALBED_ALLOW_MISSING=1: start what is built (debugging only).
        let allow = std::env::var("REALBED_ALLOW_MISSING").as_deref() == Ok("1");
        if !missing.is_empty() && !allow {
            return Err(format!(
                "not built: {} (run `make realbed`, see docs/testing.md)",
                missing.join(", ")
            ));
        }
        let c = RealCluster::start(RealConfig::default()).map_err(|e| format!("{e:#}"))?;
        eprintln!(
            "real cluster up in {:.1} s: {} ({}), logs in {}",
            c.started_in.as_secs_f64(),
            c.server(),
            c.describe(),
            c.dir().join("logs").display()
        );
        Ok(c)
    });
    match res {
        Ok(c) => Some(c),
        Err(e) if e.starts_with("not built") => skip(e),
        Err(e) => panic!("the real cluster did not start: {e}"),
    }
}

/// One test's share of the real cluster: a namespace, a registry prefix, a
/// temp HOME and an admin kubeconfig whose context namespace is the test's.
pub struct RealBed {
    pub cluster: &'static RealCluster,
    pub ns: String,
    pub dir: tempfile::TempDir,
    pub kubeconfig: PathBuf,
}

impl RealBed {
    /// Start (or join) the real cluster for test `name`; None = skipped.
    /// Prints the backend line.
    pub fn start(name: &str) -> Option<RealBed> {
        let cluster = cluster()?;
        let slug: String = name
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() {
                    c.to_ascii_lowercase()
                } else {
                    '-'
                }
            })
            .take(40)
            .collect();
        let ns = format!(
            "t{}-{}",
            SEQ.fetch_add(1, Ordering::SeqCst),
            slug.trim_matches('-')
        );
        cluster
            .apply(&json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}}))
            .expect("test namespace");
        let dir = tempfile::tempdir().expect("tempdir");
        let kubeconfig = dir.path().join("kubeconfig");
        std::fs::write(&kubeconfig, cluster.admin_kubeconfig("real", Some(&ns)))
            .expect("kubeconfig");
        eprintln!("backend: real ({}) namespace {ns}", cluster.describe());
        Some(RealBed {
            cluster,
            ns,
            dir,
            kubeconfig,
        })
    }

    pub fn backend(&self) -> Backend {
        Backend::Real
    }

    /// Whether an optional program runs (helm-controller,
    /// kube-controller-manager); skips (false) outside CI, fails under CI.
    pub fn require(&self, program: &str) -> bool {
        let runs = match program {
            "kube-controller-manager" => self.cluster.controller_manager,
            p => self.cluster.controllers.iter().any(|c| c == p),
        };
        if runs {
            return true;
        }
        let why = format!("{program} is not built (run `make realbed`, see docs/testing.md)");
        if ci() {
            panic!("required under CI=true: {why}");
        }
        eprintln!("skipping: {why}");
        false
    }

    /// A plugin command pointed at this bed (admin, namespace = the test's).
    pub fn plugin(&self) -> std::process::Command {
        let mut cmd = super::plugin(self.dir.path());
        cmd.arg("--kubeconfig").arg(&self.kubeconfig);
        cmd
    }

    /// The registry host.
    pub fn host(&self) -> String {
        self.cluster.registry().host()
    }

    /// The test's registry repository for `repo`: `<ns>/<repo>`.
    pub fn repo(&self, repo: &str) -> String {
        format!("{}/{repo}", self.ns)
    }

    /// `oci://<host>/<ns>/<repo>`.
    pub fn oci(&self, repo: &str) -> String {
        format!("oci://{}/{}", self.host(), self.repo(repo))
    }

    /// `oci://<host>/<ns>/<repo>:<tag>@<digest>` as push prints it.
    pub fn artifact(&self, repo: &str, tag: &str, digest: &str) -> String {
        format!("{}:{tag}@{digest}", self.oci(repo))
    }

    /// Push a Flux artifact with the independent test client; the digest.
    pub fn push(&self, repo: &str, tag: &str, files: &[(&str, &str)]) -> String {
        let files: Vec<(&str, &[u8])> = files.iter().map(|(p, c)| (*p, c.as_bytes())).collect();
        testbed::oci::push_flux_artifact(
            &self.cluster.registry().base_url(),
            &self.repo(repo),
            tag,
            &files,
            &[
                (
                    "org.opencontainers.image.revision",
                    &format!("main@sha1:{:0>40}", tag),
                ),
                (
                    "org.opencontainers.image.source",
                    "https://gitlab.example/demo/apps",
                ),
            ],
        )
        .expect("push artifact")
    }

    /// Server-side apply an object into the test namespace (unless it names one).
    pub fn apply(&self, mut obj: Value) {
        if obj.pointer("/metadata/namespace").is_none()
            && obj["kind"] != "Namespace"
            && let Some(m) = obj.get_mut("metadata").and_then(Value::as_object_mut)
        {
            m.insert("namespace".into(), json!(self.ns));
        }
        self.cluster
            .apply(&obj)
            .unwrap_or_else(|e| panic!("apply {}: {e:#}", obj["kind"]));
    }

    /// An OCIRepository `name` on `<ns>/<repo>` (insecure, interval 1m so
    /// that a trigger, not the interval, makes it pull).
    pub fn create_source(&self, name: &str, repo: &str, reference: Value) {
        self.apply(json!({
            "apiVersion": OCI, "kind": "OCIRepository",
            "metadata": {"name": name},
            "spec": {"url": self.oci(repo), "ref": reference, "interval": "1m", "insecure": true},
        }));
    }

    /// A Kustomization on OCIRepository `source` (interval 1m, retryInterval 2s).
    pub fn create_ks(&self, name: &str, source: &str, extra: Value) {
        let mut spec = json!({
            "interval": "1m", "retryInterval": "2s", "path": "./", "prune": true,
            "timeout": "30s",
            "sourceRef": {"kind": "OCIRepository", "name": source},
        });
        if let (Some(s), Some(e)) = (spec.as_object_mut(), extra.as_object()) {
            for (k, v) in e {
                s.insert(k.clone(), v.clone());
            }
        }
        self.apply(json!({"apiVersion": KS, "kind": "Kustomization",
                          "metadata": {"name": name}, "spec": spec}));
    }

    /// An object of the test namespace.
    pub fn get(&self, api: &str, kind: &str, name: &str) -> Option<Value> {
        self.cluster.get(api, kind, &self.ns, name)
    }

    /// Poll until `pred` holds, at most `timeout`; the object.
    pub fn until(
        &self,
        api: &str,
        kind: &str,
        name: &str,
        timeout: Duration,
        pred: impl Fn(&Value) -> bool,
    ) -> Value {
        let deadline = Instant::now() + timeout;
        let mut last = None;
        loop {
            if let Some(obj) = self.get(api, kind, name) {
                if pred(&obj) {
                    return obj;
                }
                last = Some(obj);
            }
            if Instant::now() > deadline {
                panic!(
                    "timed out waiting for {kind} {}/{name}; last seen:\n{}\nkustomize-controller:\n{}",
                    self.ns,
                    serde_json::to_string_pretty(&last).unwrap_or_default(),
                    self.cluster.log_tail("kustomize-controller", 15)
                );
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    /// The Ready condition of an object.
    pub fn ready(obj: &Value) -> Option<&Value> {
        obj.pointer("/status/conditions")?
            .as_array()?
            .iter()
            .find(|c| c["type"] == "Ready")
    }
}

impl Drop for RealBed {
    fn drop(&mut self) {
        // Keep a failed test's objects for a look; tidy up otherwise.
        if !std::thread::panicking() {
            self.cluster.delete_namespace(&self.ns);
        }
    }
}
