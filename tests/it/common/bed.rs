//! The full test bed for end-to-end tests of the plugin: the real registry,
//! the Kubernetes API emulator and the Flux simulator, with a kubeconfig
//! file for the plugin.

use serde_json::{Value, json};
use std::path::PathBuf;
use std::time::Duration;
use testbed::apiserver::{ApiServer, ApiServerConfig, Store};
use testbed::flux::{SimConfig, Simulator};
use testbed::registry::{Registry, RegistryConfig};

pub const OCI: &str = "source.toolkit.fluxcd.io/v1";
pub const KS: &str = "kustomize.toolkit.fluxcd.io/v1";
pub const HR: &str = "helm.toolkit.fluxcd.io/v2";
pub const NS: &str = "flux-system";

/// A running test bed; the simulator stops first.
pub struct Bed {
    pub sim: Simulator,
    pub api: ApiServer,
    pub store: Store,
    pub registry: Registry,
    pub dir: tempfile::TempDir,
    pub kubeconfig: PathBuf,
}

impl Bed {
    /// Start everything, or None (skip) when the registry is missing outside CI.
    pub fn start() -> Option<Bed> {
        if !testbed::registry::require_registry() {
            return None;
        }
        let registry = Registry::start(RegistryConfig::default()).expect("registry starts");
        let api = ApiServer::start(ApiServerConfig::default()).expect("API emulator starts");
        let store = api.store();
        for ns in [NS, "apps"] {
            store
                .create(json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}}))
                .expect("namespace");
        }
        let cfg = SimConfig {
            registry_insecure_hosts: vec![registry.host()],
            progress_delay: Duration::from_millis(150),
            ..SimConfig::default()
        };
        let sim = Simulator::start(store.clone(), cfg).expect("simulator starts");
        let dir = tempfile::tempdir().expect("tempdir");
        let kubeconfig = dir.path().join("kubeconfig");
        std::fs::write(&kubeconfig, api.kubeconfig("testbed", Some(NS))).expect("kubeconfig");
        eprintln!("backend: emulator (API emulator + Flux simulator)");
        Some(Bed {
            sim,
            api,
            store,
            registry,
            dir,
            kubeconfig,
        })
    }

    /// A plugin command pointed at this bed.
    pub fn plugin(&self) -> std::process::Command {
        let mut cmd = super::plugin(self.dir.path());
        cmd.arg("--kubeconfig").arg(&self.kubeconfig);
        cmd
    }

    /// Push a Flux artifact (with the independent test client); returns the
    /// manifest digest.
    pub fn push(&self, repo: &str, tag: &str, files: &[(&str, &str)]) -> String {
        let files: Vec<(&str, &[u8])> = files.iter().map(|(p, c)| (*p, c.as_bytes())).collect();
        testbed::oci::push_flux_artifact(
            &self.registry.base_url(),
            repo,
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

    /// Push the Helm chart `web` at `version` to `charts/web` (Helm's OCI
    /// format, with the test bed's own client); returns the manifest digest.
    pub fn push_chart(&self, version: &str, annotations: &[(&str, &str)]) -> String {
        testbed::oci::push_helm_chart(
            &self.registry.base_url(),
            "charts/web",
            "web",
            version,
            &[("templates/configmap.yaml", b"kind: ConfigMap\n")],
            annotations,
        )
        .expect("push chart")
    }

    /// `oci://<host>/<repo>:<tag>@<digest>` as push prints it.
    pub fn artifact(&self, repo: &str, tag: &str, digest: &str) -> String {
        format!("oci://{}/{repo}:{tag}@{digest}", self.registry.host())
    }

    pub fn create_source(&self, ns: &str, name: &str, repo: &str, reference: Value) {
        self.store
            .create(json!({
                "apiVersion": OCI, "kind": "OCIRepository",
                "metadata": {"name": name, "namespace": ns},
                "spec": {"url": format!("oci://{}/{repo}", self.registry.host()), "ref": reference,
                         "interval": "1s", "insecure": true},
            }))
            .expect("create OCIRepository");
    }

    pub fn create_ks(&self, ns: &str, name: &str, source: &str, extra: Value) {
        let mut spec = json!({
            "interval": "10m", "path": "./", "prune": true,
            "sourceRef": {"kind": "OCIRepository", "name": source},
        });
        if let (Some(s), Some(e)) = (spec.as_object_mut(), extra.as_object()) {
            for (k, v) in e {
                s.insert(k.clone(), v.clone());
            }
        }
        self.store
            .create(json!({"apiVersion": KS, "kind": "Kustomization",
                           "metadata": {"name": name, "namespace": ns}, "spec": spec}))
            .expect("create Kustomization");
    }

    /// Poll the store (test-side only) until `pred` holds, at most 15 s.
    pub fn until(
        &self,
        api: &str,
        kind: &str,
        ns: &str,
        name: &str,
        pred: impl Fn(&Value) -> bool,
    ) -> Value {
        let deadline = std::time::Instant::now() + Duration::from_secs(15);
        loop {
            if let Some(obj) = self.store.get(api, kind, ns, name)
                && pred(&obj)
            {
                return obj;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "timed out waiting for {kind} {ns}/{name}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

/// A ConfigMap manifest; `extra_meta` lines go under metadata.
pub fn configmap(name: &str, extra_meta: &str) -> String {
    format!(
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}\n{extra_meta}data:\n  key: value\n"
    )
}

/// Whether a Kustomization applied `revision` and is Ready.
pub fn applied(obj: &Value, digest: &str) -> bool {
    obj.pointer("/status/lastAppliedRevision")
        .and_then(Value::as_str)
        .is_some_and(|r| r.ends_with(digest))
}

/// Another cluster (API emulator + simulator) fed by the same registry.
pub struct Cluster2 {
    pub sim: Simulator,
    pub api: ApiServer,
    pub store: Store,
}

impl Bed {
    /// Start a second cluster sharing this bed's registry, with the same
    /// namespaces.
    pub fn second_cluster(&self) -> Cluster2 {
        let api = ApiServer::start(ApiServerConfig::default()).expect("API emulator starts");
        let store = api.store();
        for ns in [NS, "apps"] {
            store
                .create(json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}}))
                .expect("namespace");
        }
        let cfg = SimConfig {
            registry_insecure_hosts: vec![self.registry.host()],
            progress_delay: Duration::from_millis(150),
            ..SimConfig::default()
        };
        let sim = Simulator::start(store.clone(), cfg).expect("simulator starts");
        Cluster2 { sim, api, store }
    }
}

/// One kubeconfig with a context per API emulator (cluster and user named
/// after the context).
pub fn merged_kubeconfig(servers: &[(&ApiServer, &str)]) -> String {
    let (mut clusters, mut users, mut contexts) = (String::new(), String::new(), String::new());
    for (api, ctx) in servers {
        let one = api.kubeconfig(ctx, Some(NS));
        let mut section = "";
        for line in one.lines() {
            match line {
                "clusters:" | "users:" | "contexts:" => {
                    section = line;
                    continue;
                }
                l if !l.starts_with(' ') && !l.starts_with('-') => {
                    section = "";
                    continue;
                }
                _ => {}
            }
            let line = line
                .replace("- name: testbed", &format!("- name: {ctx}"))
                .replace("cluster: testbed", &format!("cluster: {ctx}"))
                .replace("user: testbed", &format!("user: {ctx}"));
            let out = match section {
                "clusters:" => &mut clusters,
                "users:" => &mut users,
                "contexts:" => &mut contexts,
                _ => continue,
            };
            out.push_str(&line);
            out.push('\n');
        }
    }
    format!(
        "apiVersion: v1\nkind: Config\nclusters:\n{clusters}users:\n{users}contexts:\n{contexts}current-context: {}\npreferences: {{}}\n",
        servers.first().map(|(_, c)| *c).unwrap_or_default()
    )
}
