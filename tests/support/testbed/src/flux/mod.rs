//! A Flux controller simulator driving the API emulator's [`Store`].
//!
//! It plays source-controller (OCIRepository, pulled from a real registry
//! over HTTP), kustomize-controller (Kustomization), helm-controller
//! (HelmRelease) and notification-controller (Receiver, with a real HTTP
//! webhook listener), writing the same status fields, conditions and
//! Events the real controllers write, so the plugin's wait logic can be
//! tested end to end without a cluster.
//!
//! Behaviour can be steered from the artifacts themselves with the
//! `sim.gitlab-flux.io/*` knobs documented in the test bed README.
//!
//! ```no_run
//! # fn main() -> anyhow::Result<()> {
//! use testbed::apiserver::Store;
//! use testbed::flux::{SimConfig, Simulator};
//! let store = Store::new();
//! let sim = Simulator::start(store.clone(), SimConfig::default())?;
//! println!("webhook receiver at {}", sim.receiver_url());
//! # Ok(()) }
//! ```

mod helm;
mod helmchart;
mod kustomize;
mod receiver;
pub mod semver;
mod source;
pub mod util;
pub mod wait;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use futures::FutureExt;
use serde_json::{Map, Value};
use tokio::sync::{Notify, broadcast, watch};
use tokio::time::Instant;

use crate::apiserver::{Store, StoreEvent, StoreEventKind};

/// Annotation on an object inside an artifact (or on a Helm chart's
/// `Chart.yaml`) that makes the simulated controller fail.
pub const SIM_FAIL: &str = "sim.gitlab-flux.io/fail";
/// Annotation overriding the failure message.
pub const SIM_MESSAGE: &str = "sim.gitlab-flux.io/message";
/// Annotation adding extra "apply" time (a Go duration) to a Kustomization
/// or HelmRelease reconcile that contains/is the annotated object.
pub const SIM_DELAY: &str = "sim.gitlab-flux.io/delay";

/// Annotation (on an object in a Kustomization's artifact, on a Helm chart's
/// `Chart.yaml` or on the HelmRelease): the failure chosen by
/// [`SIM_FAIL`] happens on the first N attempts only, then the reconcile
/// succeeds (a health check that passes late, a CRD installed a moment
/// later, an upgrade that succeeds on retry).
pub const SIM_FAIL_TIMES: &str = "sim.gitlab-flux.io/fail-times";
/// Annotation on an OCIRepository: pulling a NEW revision takes this long
/// (a Go duration); during it the old artifact stays in status.
pub const SIM_PULL_DELAY: &str = "sim.gitlab-flux.io/pull-delay";

/// Simulator settings.
#[derive(Debug, Clone)]
pub struct SimConfig {
    /// Registries reached over plain HTTP (`host:port`), besides OCIRepositories
    /// with `spec.insecure: true`.
    pub registry_insecure_hosts: Vec<String>,
    /// Extra PEM CA trusted for `https://` registries.
    pub ca_pem: Option<String>,
    /// How long Kustomizations/HelmReleases stay Reconciling before the verdict.
    pub progress_delay: Duration,
    /// HelmRelease remediation retries when `spec.install|upgrade.remediation.retries`
    /// is not set: Stalled `RetriesExceeded` after `retries + 1` failed attempts
    /// (default 0, as helm-controller: the first failure stalls).
    pub helm_max_retries: u32,
    /// Requeue delay for "dependency not ready", failed HelmRelease retries
    /// and the first source pull retry (the real controllers use 5s and
    /// exponential backoff; tests want it short).
    pub requeue_delay: Duration,
}

impl Default for SimConfig {
    fn default() -> Self {
        SimConfig {
            registry_insecure_hosts: Vec::new(),
            ca_pem: None,
            progress_delay: Duration::from_millis(300),
            // HC-REMEDIATION: helm-controller's default is 0 retries.
            helm_max_retries: 0,
            requeue_delay: Duration::from_secs(1),
        }
    }
}

/// The Flux kinds the simulator reconciles.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum FluxKind {
    OciRepository,
    HelmRepository,
    HelmChart,
    Kustomization,
    HelmRelease,
    Receiver,
}

impl FluxKind {
    pub(crate) fn api_version(self) -> &'static str {
        match self {
            FluxKind::OciRepository | FluxKind::HelmRepository | FluxKind::HelmChart => {
                "source.toolkit.fluxcd.io/v1"
            }
            FluxKind::Kustomization => "kustomize.toolkit.fluxcd.io/v1",
            FluxKind::HelmRelease => "helm.toolkit.fluxcd.io/v2",
            FluxKind::Receiver => "notification.toolkit.fluxcd.io/v1",
        }
    }

    pub(crate) fn kind(self) -> &'static str {
        match self {
            FluxKind::OciRepository => "OCIRepository",
            FluxKind::HelmRepository => "HelmRepository",
            FluxKind::HelmChart => "HelmChart",
            FluxKind::Kustomization => "Kustomization",
            FluxKind::HelmRelease => "HelmRelease",
            FluxKind::Receiver => "Receiver",
        }
    }

    fn of(obj: &Value) -> Option<FluxKind> {
        let api = obj.get("apiVersion")?.as_str()?;
        let group = api.split('/').next()?;
        match (group, obj.get("kind")?.as_str()?) {
            ("source.toolkit.fluxcd.io", "OCIRepository") => Some(FluxKind::OciRepository),
            ("source.toolkit.fluxcd.io", "HelmRepository") => Some(FluxKind::HelmRepository),
            ("source.toolkit.fluxcd.io", "HelmChart") => Some(FluxKind::HelmChart),
            ("kustomize.toolkit.fluxcd.io", "Kustomization") => Some(FluxKind::Kustomization),
            ("helm.toolkit.fluxcd.io", "HelmRelease") => Some(FluxKind::HelmRelease),
            ("notification.toolkit.fluxcd.io", "Receiver") => Some(FluxKind::Receiver),
            _ => None,
        }
    }
}

/// One reconciled object.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) struct ObjKey {
    pub kind: FluxKind,
    pub ns: String,
    pub name: String,
}

impl ObjKey {
    pub(crate) fn of(obj: &Value) -> Option<ObjKey> {
        Some(ObjKey {
            kind: FluxKind::of(obj)?,
            ns: util::ns_of(obj).to_string(),
            name: util::name_of(obj).to_string(),
        })
    }

    /// `Kind/ns/name`.
    pub(crate) fn display(&self) -> String {
        format!("{}/{}/{}", self.kind.kind(), self.ns, self.name)
    }
}

/// The unpacked content of an OCIRepository's artifact, kept in memory.
#[derive(Debug, Clone)]
pub(crate) struct StoredArtifact {
    pub revision: String,
    /// The raw (tar+gzip) layer.
    pub layer: Vec<u8>,
    pub annotations: Map<String, Value>,
}

/// Per-object memory of the worker (what the last attempt saw).
#[derive(Debug, Default)]
pub(crate) struct WorkerState {
    /// When the object is due again (interval or retry).
    pub next_due: Option<Instant>,
    /// Generation at the last attempt.
    pub last_generation: Option<i64>,
    /// `requestedAt` at the last attempt.
    pub last_request: Option<String>,
    /// Source revision at the last attempt.
    pub last_source_revision: Option<String>,
    /// Waiting for dependencies: re-run on any Flux change.
    pub waiting_deps: bool,
    /// Consecutive failures (source backoff).
    pub failures: u32,
    /// `fail-times` knob: failures injected so far, by revision and object.
    pub fail_counts: HashMap<String, u32>,
}

impl WorkerState {
    /// Whether generation/request/source differ from the last attempt.
    pub(crate) fn changed(&self, obj: &Value, source_revision: Option<&str>) -> bool {
        self.last_generation != Some(util::generation_of(obj))
            || self.last_request.as_deref() != util::annotation(obj, util::REQUESTED_AT)
            || self.last_source_revision.as_deref() != source_revision
    }

    /// Remember what this attempt saw.
    pub(crate) fn mark_attempt(&mut self, obj: &Value, source_revision: Option<&str>) {
        self.last_generation = Some(util::generation_of(obj));
        self.last_request = util::annotation(obj, util::REQUESTED_AT).map(str::to_string);
        self.last_source_revision = source_revision.map(str::to_string);
        self.waiting_deps = false;
    }

    /// Schedule the next run.
    pub(crate) fn requeue_after(&mut self, d: Duration) {
        self.next_due = Some(Instant::now() + d);
    }
}

/// State shared by the dispatcher, the workers and the webhook listener.
pub(crate) struct Shared {
    pub store: Store,
    pub cfg: SimConfig,
    pub artifacts: Mutex<HashMap<(String, String), Arc<StoredArtifact>>>,
    ready_times: Mutex<Vec<(String, String, SystemTime)>>,
    workers: Mutex<HashMap<ObjKey, Arc<Notify>>>,
    shutdown: watch::Receiver<bool>,
}

impl Shared {
    /// The current object, if it exists.
    pub(crate) fn get(&self, key: &ObjKey) -> Option<Value> {
        self.store
            .get(key.kind.api_version(), key.kind.kind(), &key.ns, &key.name)
    }

    /// Replace the object's status.
    pub(crate) fn write_status(&self, key: &ObjKey, status: Map<String, Value>) -> Option<Value> {
        match self.store.update_status(
            key.kind.api_version(),
            key.kind.kind(),
            &key.ns,
            &key.name,
            Value::Object(status),
        ) {
            Ok(v) => Some(v),
            Err(e) => {
                tracing::debug!("status update of {} failed: {e}", key.display());
                None
            }
        }
    }

    /// Record a Kubernetes Event about the object.
    pub(crate) fn event(&self, obj: &Value, warning: bool, reason: &str, message: &str) {
        let type_ = if warning { "Warning" } else { "Normal" };
        self.store.record_event(obj, type_, reason, message);
    }

    /// Remember that an object turned Ready at a revision.
    pub(crate) fn record_ready(&self, key: &ObjKey, revision: &str) {
        if let Ok(mut v) = self.ready_times.lock() {
            v.push((key.display(), revision.to_string(), SystemTime::now()));
        }
    }

    /// `Err("dependency 'ns/name' is not ready")` when one of
    /// `spec.dependsOn` (objects of the same kind) is missing or not Ready.
    pub(crate) fn check_dependencies(&self, key: &ObjKey, obj: &Value) -> Result<(), String> {
        let deps = obj
            .pointer("/spec/dependsOn")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        for d in deps {
            let Some(name) = d.get("name").and_then(Value::as_str) else {
                continue;
            };
            let ns = d
                .get("namespace")
                .and_then(Value::as_str)
                .filter(|s| !s.is_empty())
                .unwrap_or(&key.ns);
            let ready = self
                .store
                .get(key.kind.api_version(), key.kind.kind(), ns, name)
                .is_some_and(|dep| {
                    util::is_ready(&dep)
                        && match key.kind {
                            // A Kustomization dependency must have applied what it attempted.
                            FluxKind::Kustomization => {
                                util::str_at(&dep, "/status/lastAppliedRevision")
                                    == util::str_at(&dep, "/status/lastAttemptedRevision")
                            }
                            _ => true,
                        }
                });
            if !ready {
                return Err(format!("dependency '{ns}/{name}' is not ready"));
            }
        }
        Ok(())
    }

    /// The cached artifact of an OCIRepository.
    pub(crate) fn artifact(&self, ns: &str, name: &str) -> Option<Arc<StoredArtifact>> {
        self.artifacts
            .lock()
            .ok()?
            .get(&(ns.to_string(), name.to_string()))
            .cloned()
    }

    /// Wake the worker of `key`, starting it if needed (must run inside the runtime).
    fn notify(self: &Arc<Self>, key: ObjKey) {
        let Ok(mut workers) = self.workers.lock() else {
            return;
        };
        if let Some(n) = workers.get(&key) {
            n.notify_one();
            return;
        }
        let n = Arc::new(Notify::new());
        n.notify_one();
        workers.insert(key.clone(), n.clone());
        let sh = self.clone();
        tokio::spawn(worker(sh, key, n));
    }

    /// Wake every worker of the given kinds.
    fn notify_kinds(self: &Arc<Self>, kinds: &[FluxKind]) {
        let keys: Vec<ObjKey> = match self.workers.lock() {
            Ok(w) => w
                .keys()
                .filter(|k| kinds.contains(&k.kind))
                .cloned()
                .collect(),
            Err(_) => return,
        };
        for k in keys {
            self.notify(k);
        }
    }

    /// Notify every existing Flux object (startup and after a lagged watch).
    fn resync(self: &Arc<Self>) {
        for kind in [
            FluxKind::OciRepository,
            FluxKind::HelmRepository,
            FluxKind::HelmChart,
            FluxKind::Kustomization,
            FluxKind::HelmRelease,
            FluxKind::Receiver,
        ] {
            for obj in self.store.list(kind.api_version(), kind.kind(), None) {
                if let Some(k) = ObjKey::of(&obj) {
                    self.notify(k);
                }
            }
        }
    }

    fn on_event(self: &Arc<Self>, ev: &StoreEvent) {
        let obj = &ev.object;
        if let Some(key) = ObjKey::of(obj) {
            let kind = key.kind;
            if ev.kind == StoreEventKind::Deleted
                && kind == FluxKind::OciRepository
                && let Ok(mut a) = self.artifacts.lock()
            {
                a.remove(&(key.ns.clone(), key.name.clone()));
            }
            self.notify(key);
            if kind == FluxKind::HelmRepository {
                self.notify_kinds(&[FluxKind::HelmChart]);
            }
            if kind != FluxKind::Receiver {
                self.notify_kinds(&[FluxKind::Kustomization, FluxKind::HelmRelease]);
            }
        } else if obj.get("kind").and_then(Value::as_str) == Some("Secret")
            && obj.get("apiVersion").and_then(Value::as_str) == Some("v1")
        {
            self.notify_kinds(&[FluxKind::Receiver]);
        }
    }
}

/// A reconcile loop for one object: serialized, coalescing wake-ups.
async fn worker(sh: Arc<Shared>, key: ObjKey, notify: Arc<Notify>) {
    let mut st = WorkerState::default();
    let mut shutdown = sh.shutdown.clone();
    loop {
        let due = st.next_due;
        let timer = async {
            match due {
                Some(d) => tokio::time::sleep_until(d).await,
                None => std::future::pending().await,
            }
        };
        let forced = tokio::select! {
            _ = notify.notified() => false,
            _ = timer => true,
            _ = shutdown.changed() => return,
        };
        if *shutdown.borrow() {
            return;
        }
        if forced {
            st.next_due = None;
        }
        let Some(obj) = sh.get(&key) else {
            st = WorkerState::default();
            continue;
        };
        if util::bool_at(&obj, "/spec/suspend") {
            // KC-SUSPEND: suspended objects are not reconciled; resuming
            // changes the spec (a new generation), which triggers a
            // reconcile. kustomize- and helm-controller still record a
            // reconcile request as handled (their deferred status patch).
            // KC-SUSPEND: token, and when Ready is True, Reconciling removed
            // and observedGeneration recorded; HC-SUSPEND: token and
            // observedGeneration regardless of Ready.
            if matches!(key.kind, FluxKind::Kustomization | FluxKind::HelmRelease) {
                let mut status = util::status_map(&obj);
                util::handle_request(&obj, &mut status);
                let ready_true = util::condition(&status, "Ready")
                    .and_then(|c| c.get("status"))
                    .and_then(Value::as_str)
                    == Some("True");
                let generation = util::generation_of(&obj);
                if key.kind == FluxKind::HelmRelease || ready_true {
                    if ready_true {
                        util::remove_condition(&mut status, "Reconciling");
                    }
                    status.insert("observedGeneration".into(), serde_json::json!(generation));
                }
                if obj.get("status").and_then(Value::as_object) != Some(&status) {
                    sh.write_status(&key, status);
                }
            }
            st.last_generation = Some(util::generation_of(&obj));
            st.next_due = None;
            continue;
        }
        if obj.pointer("/metadata/deletionTimestamp").is_some() {
            continue;
        }
        let snapshot = obj.clone();
        let run = async {
            match key.kind {
                FluxKind::OciRepository => source::reconcile(&sh, &key, obj, &mut st, forced).await,
                FluxKind::HelmRepository => helmchart::reconcile_repository(&sh, &key, obj),
                FluxKind::HelmChart => {
                    helmchart::reconcile_chart(&sh, &key, obj, &mut st, forced).await
                }
                FluxKind::Kustomization => {
                    kustomize::reconcile(&sh, &key, obj, &mut st, forced).await
                }
                FluxKind::HelmRelease => helm::reconcile(&sh, &key, obj, &mut st, forced).await,
                FluxKind::Receiver => receiver::reconcile(&sh, &key, obj, &mut st),
            }
        };
        if let Err(panic) = std::panic::AssertUnwindSafe(run).catch_unwind().await {
            // A simulator bug must not kill the worker: surface it on the object.
            let what = panic
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_else(|| "unknown panic".into());
            let mut status = util::status_map(&snapshot);
            let generation = util::generation_of(&snapshot);
            util::set_condition(
                &mut status,
                "Ready",
                "False",
                "SimulatorError",
                &format!("flux simulator failed on this object: {what}"),
                generation,
            );
            sh.write_status(&key, status);
            st.requeue_after(sh.cfg.requeue_delay.max(Duration::from_secs(5)));
        }
    }
}

/// The running simulator; dropping it stops all controllers and the
/// webhook listener.
pub struct Simulator {
    shared: Arc<Shared>,
    receiver_addr: SocketAddr,
    shutdown: watch::Sender<bool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl std::fmt::Debug for Simulator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Simulator")
            .field("receiver_addr", &self.receiver_addr)
            .finish_non_exhaustive()
    }
}

impl Simulator {
    /// Start the controllers on their own runtime thread. Objects already in
    /// the store are reconciled right away.
    pub fn start(store: Store, cfg: SimConfig) -> anyhow::Result<Simulator> {
        crate::oci::ensure_crypto_provider();
        let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
        listener.set_nonblocking(true)?;
        let receiver_addr = listener.local_addr()?;
        let (tx, rx) = watch::channel(false);
        let events = store.subscribe();
        let shared = Arc::new(Shared {
            store,
            cfg,
            artifacts: Mutex::default(),
            ready_times: Mutex::default(),
            workers: Mutex::default(),
            shutdown: rx,
        });
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("flux-sim")
            .enable_all()
            .build()?;
        let sh = shared.clone();
        let (ready_tx, ready_rx) = std::sync::mpsc::channel::<anyhow::Result<()>>();
        let thread = std::thread::Builder::new()
            .name("flux-sim-main".into())
            .spawn(move || {
                rt.block_on(async move {
                    let listener = match tokio::net::TcpListener::from_std(listener) {
                        Ok(l) => l,
                        Err(e) => {
                            let _ = ready_tx.send(Err(e.into()));
                            return;
                        }
                    };
                    tokio::spawn(receiver::serve(sh.clone(), listener));
                    sh.resync();
                    let _ = ready_tx.send(Ok(()));
                    dispatch(sh, events).await;
                });
                rt.shutdown_timeout(Duration::from_secs(2));
            })?;
        ready_rx
            .recv()
            .map_err(|_| anyhow::anyhow!("simulator thread exited during startup"))??;
        Ok(Simulator {
            shared,
            receiver_addr,
            shutdown: tx,
            thread: Some(thread),
        })
    }

    /// Base URL of the notification-controller webhook receiver
    /// (`http://127.0.0.1:PORT`); POST to `<url><status.webhookPath>`.
    pub fn receiver_url(&self) -> String {
        format!("http://{}", self.receiver_addr)
    }

    /// `(Kind/ns/name, revision, time)` for every time an object turned
    /// Ready at a revision, in order.
    pub fn ready_times(&self) -> Vec<(String, String, SystemTime)> {
        self.shared
            .ready_times
            .lock()
            .map(|v| v.clone())
            .unwrap_or_default()
    }

    /// The simulator's configuration.
    pub fn config(&self) -> &SimConfig {
        &self.shared.cfg
    }
}

impl Drop for Simulator {
    fn drop(&mut self) {
        let _ = self.shutdown.send(true);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

async fn dispatch(sh: Arc<Shared>, mut events: broadcast::Receiver<StoreEvent>) {
    let mut shutdown = sh.shutdown.clone();
    loop {
        tokio::select! {
            ev = events.recv() => match ev {
                Ok(ev) => sh.on_event(&ev),
                Err(broadcast::error::RecvError::Lagged(_)) => sh.resync(),
                Err(broadcast::error::RecvError::Closed) => return,
            },
            _ = shutdown.changed() => return,
        }
        if *shutdown.borrow() {
            return;
        }
    }
}
