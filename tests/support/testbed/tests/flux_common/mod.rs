//! Shared set-up for the Flux simulator scenario tests: a real registry,
//! the API emulator and the simulator, plus object builders.

#![allow(dead_code)]

use std::time::Duration;

use serde_json::{Value, json};
use testbed::apiserver::{ApiServer, ApiServerConfig, Store};
use testbed::flux::{SimConfig, Simulator, wait};
use testbed::registry::{Registry, RegistryConfig};

pub const OCI: &str = "source.toolkit.fluxcd.io/v1";
pub const KS: &str = "kustomize.toolkit.fluxcd.io/v1";
pub const HR: &str = "helm.toolkit.fluxcd.io/v2";
pub const RCV: &str = "notification.toolkit.fluxcd.io/v1";
pub const NS: &str = "flux-system";
pub const TIMEOUT: Duration = Duration::from_secs(10);

/// A running test bed. Field order = drop order: the simulator stops first.
pub struct Bed {
    pub sim: Simulator,
    pub api: ApiServer,
    pub store: Store,
    pub registry: Registry,
}

impl Bed {
    /// Start everything, or None when the registry binary is missing
    /// (outside CI the test is then skipped).
    pub fn start() -> Option<Bed> {
        Bed::start_with(|_| {})
    }

    /// Like [`Bed::start`], adjusting the simulator config first.
    pub fn start_with(adjust: impl FnOnce(&mut SimConfig)) -> Option<Bed> {
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
        let mut cfg = SimConfig {
            registry_insecure_hosts: vec![registry.host()],
            progress_delay: Duration::from_millis(100),
            requeue_delay: Duration::from_millis(300),
            ..SimConfig::default()
        };
        adjust(&mut cfg);
        let sim = Simulator::start(store.clone(), cfg).expect("simulator starts");
        Some(Bed {
            sim,
            api,
            store,
            registry,
        })
    }

    /// Push a Flux artifact to `repo:tag`; returns the manifest digest.
    pub fn push(&self, repo: &str, tag: &str, files: &[(&str, &str)], revision: &str) -> String {
        let files: Vec<(&str, &[u8])> = files.iter().map(|(p, c)| (*p, c.as_bytes())).collect();
        testbed::oci::push_flux_artifact(
            &self.registry.base_url(),
            repo,
            tag,
            &files,
            &[
                ("org.opencontainers.image.revision", revision),
                (
                    "org.opencontainers.image.source",
                    "https://gitlab.example/demo/apps",
                ),
            ],
        )
        .expect("push artifact")
    }

    /// `oci://<host>/<repo>`.
    pub fn oci_url(&self, repo: &str) -> String {
        format!("oci://{}/{repo}", self.registry.host())
    }

    /// Create an OCIRepository with the given `spec.ref`.
    pub fn create_source(&self, name: &str, repo: &str, reference: Value) -> Value {
        self.store
            .create(json!({
                "apiVersion": OCI, "kind": "OCIRepository",
                "metadata": {"name": name, "namespace": NS},
                "spec": {"url": self.oci_url(repo), "ref": reference, "interval": "10m"},
            }))
            .expect("create OCIRepository")
    }

    /// Create a Kustomization on OCIRepository `source`, with extra spec fields.
    pub fn create_ks(&self, name: &str, source: &str, extra: Value) -> Value {
        let mut spec = json!({
            "interval": "10m",
            "path": "./",
            "prune": true,
            "sourceRef": {"kind": "OCIRepository", "name": source},
        });
        if let (Some(s), Some(e)) = (spec.as_object_mut(), extra.as_object()) {
            for (k, v) in e {
                s.insert(k.clone(), v.clone());
            }
        }
        self.store
            .create(json!({
                "apiVersion": KS, "kind": "Kustomization",
                "metadata": {"name": name, "namespace": NS},
                "spec": spec,
            }))
            .expect("create Kustomization")
    }

    /// Wait until `pred` holds for `kind` `NS/name`.
    pub fn wait(
        &self,
        api: &str,
        kind: &str,
        name: &str,
        pred: impl FnMut(&Value) -> bool,
    ) -> Value {
        self.wait_in(api, kind, NS, name, pred)
    }

    /// Wait in another namespace.
    pub fn wait_in(
        &self,
        api: &str,
        kind: &str,
        ns: &str,
        name: &str,
        pred: impl FnMut(&Value) -> bool,
    ) -> Value {
        wait::wait_for(&self.store, api, kind, ns, name, TIMEOUT, pred)
            .unwrap_or_else(|e| panic!("{e:#}"))
    }

    /// Wait until a Kustomization is Ready at `revision`.
    pub fn wait_ks_applied(&self, name: &str, revision: &str) -> Value {
        self.wait(KS, "Kustomization", name, |o| {
            wait::ready_is(o, "True", "ReconciliationSucceeded")
                && o.pointer("/status/lastAppliedRevision")
                    .and_then(Value::as_str)
                    == Some(revision)
        })
    }
}

/// A ConfigMap manifest.
pub fn configmap(name: &str, extra_meta: &str) -> String {
    format!(
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}\n{extra_meta}data:\n  key: value\n"
    )
}

/// A Deployment manifest.
pub fn deployment(name: &str) -> String {
    format!(
        "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: {name}\nspec:\n  replicas: 2\n  selector:\n    matchLabels:\n      app: {name}\n  template:\n    metadata:\n      labels:\n        app: {name}\n    spec:\n      containers:\n      - name: app\n        image: nginx\n"
    )
}

/// `status.<field>` as a string.
pub fn status_str<'a>(obj: &'a Value, field: &str) -> Option<&'a str> {
    obj.get("status")?.get(field)?.as_str()
}
