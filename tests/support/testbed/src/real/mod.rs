//! A real cluster on loopback: etcd, kube-apiserver (TLS, RBAC), optionally
//! kube-controller-manager, the Flux CRDs as the controllers ship them, the
//! four real Flux controllers run out of cluster against an admin
//! kubeconfig, and the Debian distribution registry as the OCI source.
//!
//! The programs are built from their Go modules by
//! `tests/support/realbed/build.sh` into a cache outside the checkout; the
//! CRDs are read at start-up from the controllers' module directories in the
//! Go module cache. See docs/testing.md.
//!
//! ```no_run
//! use testbed::real::{RealCluster, RealConfig};
//! let cluster = RealCluster::start(RealConfig::default())?;
//! std::fs::write("kubeconfig", cluster.admin_kubeconfig("real", Some("default")))?;
//! # anyhow::Ok(())
//! ```
//!
//! Every process runs in one process group; a reaper kills the group and
//! removes the cluster's directory when the `RealCluster` is dropped, when
//! start-up fails, or when the owning process dies.

mod pki;
mod procs;

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use base64::Engine;
use serde_json::{Value, json};

use crate::registry::{Registry, RegistryConfig};

/// The programs a real cluster needs (kube-controller-manager and
/// helm-controller are optional: without them there is no namespace
/// deletion/garbage collection, or no HelmRelease reconciliation).
pub const REQUIRED: &[&str] = &[
    "etcd",
    "kube-apiserver",
    "source-controller",
    "kustomize-controller",
    "notification-controller",
];
pub const OPTIONAL: &[&str] = &["kube-controller-manager", "helm-controller", "kubectl"];

/// `tests/support/realbed`.
pub fn realbed_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../realbed")
}

/// One program of `build.sh --list`.
#[derive(Debug, Clone)]
pub struct Program {
    pub name: String,
    pub version: String,
    pub module: String,
    pub path: PathBuf,
}

impl Program {
    pub fn built(&self) -> bool {
        self.path.is_file()
    }
}

/// What `build.sh` knows about, and where it is cached.
#[derive(Debug, Clone)]
pub struct Programs(pub BTreeMap<String, Program>);

impl Programs {
    pub fn discover() -> anyhow::Result<Programs> {
        let build = realbed_dir().join("build.sh");
        let out = Command::new("bash")
            .arg(&build)
            .arg("--list")
            .output()
            .with_context(|| format!("running {} --list", build.display()))?;
        if !out.status.success() {
            bail!(
                "{} --list failed: {}",
                build.display(),
                String::from_utf8_lossy(&out.stderr)
            );
        }
        let mut map = BTreeMap::new();
        for line in String::from_utf8_lossy(&out.stdout).lines() {
            let f: Vec<&str> = line.split_whitespace().collect();
            if f.len() < 3 {
                continue;
            }
            let p = Command::new("bash")
                .arg(&build)
                .args(["--path", f[0]])
                .output()?;
            let path = PathBuf::from(String::from_utf8_lossy(&p.stdout).trim());
            map.insert(
                f[0].to_string(),
                Program {
                    name: f[0].into(),
                    version: f[1].into(),
                    module: f[2].into(),
                    path,
                },
            );
        }
        Ok(Programs(map))
    }

    pub fn get(&self, name: &str) -> Option<&Program> {
        self.0.get(name)
    }

    /// The built binary of `name`, if it is in the cache.
    pub fn bin(&self, name: &str) -> Option<PathBuf> {
        self.0
            .get(name)
            .filter(|p| p.built())
            .map(|p| p.path.clone())
    }

    /// The required programs that are not built.
    pub fn missing(&self) -> Vec<String> {
        REQUIRED
            .iter()
            .filter(|n| self.bin(n).is_none())
            .map(|n| n.to_string())
            .collect()
    }

    /// `kube-apiserver v1.37.2, Flux v2.9.4`.
    pub fn describe(&self) -> String {
        let v = |n: &str| {
            self.get(n)
                .map(|p| p.version.clone())
                .unwrap_or_else(|| "?".into())
        };
        format!("kube-apiserver {}, Flux {}", v("kube-apiserver"), v("flux"))
    }
}

/// The module directory (in the Go module cache) of a controller, from its
/// realbed module: `go list -m -f {{.Dir}} MODULE`.
pub fn module_dir(realbed_module: &str, module: &str) -> anyhow::Result<PathBuf> {
    let out = Command::new("go")
        .args(["list", "-m", "-f", "{{.Dir}}", module])
        .current_dir(realbed_dir().join(realbed_module))
        .output()
        .context("running go list -m (is Go installed?)")?;
    let dir = String::from_utf8_lossy(&out.stdout).trim().to_string();
    if !out.status.success() || dir.is_empty() {
        bail!(
            "go list -m {module} in tests/support/realbed/{realbed_module}: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(PathBuf::from(dir))
}

/// Options of a real cluster.
#[derive(Debug, Clone)]
pub struct RealConfig {
    /// Start kube-controller-manager (namespace deletion, garbage
    /// collection) when it is built. Default true.
    pub controller_manager: bool,
    /// Start helm-controller when it is built. Default true.
    pub helm_controller: bool,
    /// The controllers' `--requeue-dependency`. Default 2s.
    pub requeue_dependency: String,
    /// The controllers' `--log-level`. Default `info`.
    pub log_level: String,
}

impl Default for RealConfig {
    fn default() -> Self {
        RealConfig {
            controller_manager: true,
            helm_controller: true,
            requeue_dependency: "2s".into(),
            log_level: "info".into(),
        }
    }
}

/// Loopback ports of a cluster.
#[derive(Debug, Clone, Default)]
pub struct Ports {
    pub etcd_client: u16,
    pub etcd_peer: u16,
    pub apiserver: u16,
    pub kcm: u16,
    pub storage: u16,
    pub receiver: u16,
    pub events: u16,
    /// (metrics, health) per controller.
    pub controllers: BTreeMap<String, (u16, u16)>,
}

/// A running real cluster.
pub struct RealCluster {
    pub programs: Programs,
    pub ports: Ports,
    pub started_in: Duration,
    /// The controllers that run (helm-controller may be missing).
    pub controllers: Vec<String>,
    pub controller_manager: bool,
    kubectl: PathBuf,
    dir: PathBuf,
    pki: pki::Pki,
    admin_kubeconfig: PathBuf,
    registry: Option<Registry>,
    group: Mutex<procs::Group>,
}

impl std::fmt::Debug for RealCluster {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RealCluster")
            .field("server", &self.server())
            .field("dir", &self.dir)
            .field("controllers", &self.controllers)
            .finish()
    }
}

fn free_ports(n: usize) -> anyhow::Result<Vec<u16>> {
    let listeners: Vec<TcpListener> = (0..n)
        .map(|_| TcpListener::bind("127.0.0.1:0"))
        .collect::<Result<_, _>>()?;
    Ok(listeners
        .iter()
        .map(|l| l.local_addr().map(|a| a.port()))
        .collect::<Result<_, _>>()?)
}

/// A plain-HTTP GET on loopback; the status code.
fn http_status(port: u16, path: &str) -> Option<u16> {
    let mut s = TcpStream::connect_timeout(
        &std::net::SocketAddr::from(([127, 0, 0, 1], port)),
        Duration::from_millis(300),
    )
    .ok()?;
    s.set_read_timeout(Some(Duration::from_secs(1))).ok()?;
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
    )
    .ok()?;
    let mut buf = [0u8; 64];
    let n = s.read(&mut buf).ok()?;
    let head = String::from_utf8_lossy(&buf[..n]);
    head.split_whitespace().nth(1)?.parse().ok()
}

/// The plural resource name of a kind, as kubectl takes it.
pub fn plural(kind: &str) -> String {
    let k = kind.to_ascii_lowercase();
    if let Some(stem) = k.strip_suffix('y') {
        format!("{stem}ies")
    } else {
        format!("{k}s")
    }
}

/// `kustomizations.kustomize.toolkit.fluxcd.io` for kubectl.
pub fn resource(api_version: &str, kind: &str) -> String {
    match api_version.split_once('/') {
        Some((group, _)) => format!("{}.{group}", plural(kind)),
        None => plural(kind),
    }
}

impl RealCluster {
    /// Start a cluster. Fails (with the tails of the logs) when a process
    /// does not come up; everything started is stopped again.
    pub fn start(cfg: RealConfig) -> anyhow::Result<RealCluster> {
        crate::registry::install_crypto_provider();
        let t0 = Instant::now();
        let programs = Programs::discover()?;
        let missing = programs.missing();
        // REALBED_ALLOW_MISSING=1 starts what is built (for debugging the
        // bed while the builds run); the tests never set it.
        let allow_missing = std::env::var("REALBED_ALLOW_MISSING").as_deref() == Ok("1");
        if !missing.is_empty() && !allow_missing {
            bail!(
                "real cluster: not built: {} (run `make realbed`; see docs/testing.md)",
                missing.join(", ")
            );
        }
        let bin = |n: &str| {
            programs
                .bin(n)
                .unwrap_or_else(|| PathBuf::from(format!("/nonexistent/{n}")))
        };
        let kubectl = programs
            .bin("kubectl")
            .unwrap_or_else(|| PathBuf::from("kubectl"));

        let tmp = tempfile::Builder::new()
            .prefix("testbed-real-")
            .tempdir()?
            .keep();
        let group = procs::Group::new(&tmp)?;
        let mut cluster = RealCluster {
            programs: programs.clone(),
            ports: Ports::default(),
            started_in: Duration::ZERO,
            controllers: Vec::new(),
            controller_manager: false,
            kubectl,
            dir: tmp.clone(),
            pki: pki::Pki::generate()?,
            admin_kubeconfig: tmp.join("admin.kubeconfig"),
            registry: None,
            group: Mutex::new(group),
        };
        match cluster.boot(&cfg, &bin, t0) {
            Ok(()) => Ok(cluster),
            Err(e) => {
                let tails = cluster.group.lock().unwrap().all_tails(25);
                Err(e.context(format!("real cluster did not start; logs:\n{tails}")))
            }
        }
    }

    fn boot(
        &mut self,
        cfg: &RealConfig,
        bin: &dyn Fn(&str) -> PathBuf,
        t0: Instant,
    ) -> anyhow::Result<()> {
        let dir = self.dir.clone();
        let pki_dir = dir.join("pki");
        self.pki.write(&pki_dir)?;

        // The registry, in parallel with the control plane.
        let registry = std::thread::spawn(|| Registry::start(RegistryConfig::default()));

        let ctl_names = [
            "source-controller",
            "kustomize-controller",
            "helm-controller",
            "notification-controller",
        ];
        let p = free_ports(7 + 2 * ctl_names.len())?;
        let mut ports = Ports {
            etcd_client: p[0],
            etcd_peer: p[1],
            apiserver: p[2],
            kcm: p[3],
            storage: p[4],
            receiver: p[5],
            events: p[6],
            controllers: BTreeMap::new(),
        };
        for (i, n) in ctl_names.iter().enumerate() {
            ports
                .controllers
                .insert(n.to_string(), (p[7 + 2 * i], p[8 + 2 * i]));
        }
        self.ports = ports.clone();
        std::fs::write(&self.admin_kubeconfig, self.admin_kubeconfig("admin", None))?;

        // etcd
        let etcd_url = format!("http://127.0.0.1:{}", ports.etcd_client);
        let peer_url = format!("http://127.0.0.1:{}", ports.etcd_peer);
        let mut etcd = Command::new(bin("etcd"));
        etcd.arg("--name=testbed")
            .arg(format!("--data-dir={}", dir.join("etcd").display()))
            .arg(format!("--listen-client-urls={etcd_url}"))
            .arg(format!("--advertise-client-urls={etcd_url}"))
            .arg(format!("--listen-peer-urls={peer_url}"))
            .arg(format!("--initial-advertise-peer-urls={peer_url}"))
            .arg(format!("--initial-cluster=testbed={peer_url}"))
            .arg("--unsafe-no-fsync")
            .arg("--log-level=warn");
        self.group.lock().unwrap().spawn("etcd", etcd)?;
        self.until("etcd", Duration::from_secs(15), || {
            http_status(ports.etcd_client, "/health") == Some(200)
        })?;

        // kube-apiserver
        let pk = |f: &str| pki_dir.join(f).display().to_string();
        let mut api = Command::new(bin("kube-apiserver"));
        api.arg(format!("--etcd-servers={etcd_url}"))
            .arg("--bind-address=127.0.0.1")
            .arg("--advertise-address=127.0.0.1")
            .arg(format!("--secure-port={}", ports.apiserver))
            .arg(format!(
                "--cert-dir={}",
                dir.join("apiserver-certs").display()
            ))
            .arg(format!("--tls-cert-file={}", pk("apiserver.crt")))
            .arg(format!("--tls-private-key-file={}", pk("apiserver.key")))
            .arg(format!("--client-ca-file={}", pk("ca.crt")))
            .arg("--authorization-mode=RBAC")
            .arg("--service-account-issuer=https://kubernetes.default.svc.cluster.local")
            .arg(format!("--service-account-key-file={}", pk("sa.pub")))
            .arg(format!(
                "--service-account-signing-key-file={}",
                pk("sa.key")
            ))
            .arg("--service-cluster-ip-range=10.0.0.0/24")
            .arg("--endpoint-reconciler-type=none")
            .arg("--enable-priority-and-fairness=false")
            .arg("--profiling=false")
            .arg("--v=0");
        self.group.lock().unwrap().spawn("kube-apiserver", api)?;
        let last = Mutex::new(String::new());
        self.until("kube-apiserver", Duration::from_secs(30), || {
            match self
                .kubectl_admin()
                .args(["get", "--raw", "/readyz"])
                .output()
            {
                Ok(o) if o.status.success() => true,
                Ok(o) => {
                    *last.lock().unwrap() = String::from_utf8_lossy(&o.stderr).into_owned();
                    false
                }
                Err(e) => {
                    *last.lock().unwrap() = e.to_string();
                    false
                }
            }
        })
        .with_context(|| format!("kubectl get --raw /readyz: {}", last.lock().unwrap()))?;

        // kube-controller-manager (namespace deletion, garbage collection).
        if cfg.controller_manager
            && let Some(kcm) = self.programs.bin("kube-controller-manager")
        {
            let mut c = Command::new(kcm);
            let kc = self.admin_kubeconfig.display().to_string();
            c.arg(format!("--kubeconfig={kc}"))
                .arg(format!("--authentication-kubeconfig={kc}"))
                .arg(format!("--authorization-kubeconfig={kc}"))
                .arg("--leader-elect=false")
                .arg("--bind-address=127.0.0.1")
                .arg(format!("--secure-port={}", ports.kcm))
                .arg(format!("--cert-dir={}", dir.join("kcm-certs").display()))
                // No deployment controller (no pods run here anyway): tests
                // may set a Deployment's status by hand.
                .arg("--controllers=namespace-controller,garbage-collector-controller,serviceaccount-controller")
                .arg("--concurrent-gc-syncs=5")
                .arg("--v=0");
            self.group
                .lock()
                .unwrap()
                .spawn("kube-controller-manager", c)?;
            self.controller_manager = true;
        }

        // The Flux CRDs, from the controllers' modules.
        let mut crd_files = Vec::new();
        for n in [
            "source-controller",
            "kustomize-controller",
            "helm-controller",
            "notification-controller",
        ] {
            let module = &self
                .programs
                .get(n)
                .with_context(|| format!("{n} not in build.sh --list"))?
                .module;
            let bases = module_dir(n, module)?.join("config/crd/bases");
            for e in
                std::fs::read_dir(&bases).with_context(|| format!("reading {}", bases.display()))?
            {
                let path = e?.path();
                if path.extension().is_some_and(|x| x == "yaml") {
                    crd_files.push(path);
                }
            }
        }
        let mut apply = self.kubectl_admin();
        apply.args(["apply", "--server-side", "--force-conflicts", "-o", "name"]);
        for f in &crd_files {
            apply.arg("-f").arg(f);
        }
        let out = apply.output()?;
        if !out.status.success() {
            bail!(
                "applying the Flux CRDs: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        let out = self
            .kubectl_admin()
            .args([
                "wait",
                "--for=condition=Established",
                "--timeout=30s",
                "crd",
                "--all",
            ])
            .output()?;
        if !out.status.success() {
            bail!(
                "Flux CRDs not established: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        self.apply(&json!({"apiVersion": "v1", "kind": "Namespace",
                           "metadata": {"name": "flux-system"}}))?;

        // The controllers.
        let kc = self.admin_kubeconfig.clone();
        // Without notification-controller, the others would spend 15 s per
        // reconciliation retrying their events: no --events-addr then.
        let events_url = self
            .programs
            .bin("notification-controller")
            .map(|_| format!("http://127.0.0.1:{}", ports.events));
        for n in ctl_names {
            if n == "helm-controller" && !cfg.helm_controller {
                continue;
            }
            let Some(path) = self.programs.bin(n) else {
                continue;
            };
            let (metrics, health) = ports.controllers[n];
            let mut c = Command::new(path);
            c.env("KUBECONFIG", &kc)
                .env("RUNTIME_NAMESPACE", "flux-system")
                .arg(format!("--metrics-addr=127.0.0.1:{metrics}"))
                .arg(format!("--health-addr=127.0.0.1:{health}"))
                .arg("--enable-leader-election=false")
                .arg(format!("--log-level={}", cfg.log_level))
                .arg("--log-encoding=console");
            match n {
                "source-controller" => {
                    std::fs::create_dir_all(dir.join("source-storage"))?;
                    c.arg(format!(
                        "--storage-path={}",
                        dir.join("source-storage").display()
                    ))
                    .arg(format!("--storage-addr=127.0.0.1:{}", ports.storage))
                    .arg(format!("--storage-adv-addr=127.0.0.1:{}", ports.storage))
                    .args(events_url.iter().map(|u| format!("--events-addr={u}")))
                    .arg(format!("--requeue-dependency={}", cfg.requeue_dependency));
                }
                "kustomize-controller" => {
                    c.args(events_url.iter().map(|u| format!("--events-addr={u}")))
                        .arg(format!("--requeue-dependency={}", cfg.requeue_dependency))
                        .arg("--no-remote-bases=true");
                }
                "helm-controller" => {
                    c.args(events_url.iter().map(|u| format!("--events-addr={u}")))
                        .arg(format!("--requeue-dependency={}", cfg.requeue_dependency))
                        .arg("--graceful-shutdown-timeout=1s");
                }
                "notification-controller" => {
                    c.arg(format!("--events-addr=127.0.0.1:{}", ports.events))
                        .arg(format!("--receiverAddr=127.0.0.1:{}", ports.receiver));
                }
                _ => {}
            }
            self.group.lock().unwrap().spawn(n, c)?;
            self.controllers.push(n.to_string());
        }
        let controllers = self.controllers.clone();
        self.until("the Flux controllers", Duration::from_secs(30), || {
            controllers
                .iter()
                .all(|n| http_status(ports.controllers[n].1, "/readyz") == Some(200))
        })?;

        let registry = registry
            .join()
            .map_err(|_| anyhow::anyhow!("the registry thread panicked"))?
            .context("starting the registry")?;
        if let Some(pid) = procs::child_pid_with_arg(
            &registry
                .storage_dir()
                .parent()
                .unwrap_or(registry.storage_dir())
                .display()
                .to_string(),
        ) {
            self.group.lock().unwrap().adopt_pid(pid);
        }
        self.registry = Some(registry);
        self.started_in = t0.elapsed();
        Ok(())
    }

    /// Poll `ok` every 100 ms until it holds, a process died, or `timeout`.
    fn until(&self, what: &str, timeout: Duration, ok: impl Fn() -> bool) -> anyhow::Result<()> {
        let deadline = Instant::now() + timeout;
        loop {
            if ok() {
                return Ok(());
            }
            self.group.lock().unwrap().check_alive()?;
            if Instant::now() > deadline {
                bail!("{what} not ready after {timeout:?}");
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// `https://127.0.0.1:PORT`.
    pub fn server(&self) -> String {
        format!("https://127.0.0.1:{}", self.ports.apiserver)
    }

    pub fn ca_pem(&self) -> &str {
        &self.pki.ca_pem
    }

    /// The cluster's temp dir (logs in `logs/`).
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    pub fn registry(&self) -> &Registry {
        self.registry.as_ref().expect("started")
    }

    /// notification-controller's receiver server: `http://127.0.0.1:PORT`;
    /// POST `<url><Receiver .status.webhookPath>`.
    pub fn receiver_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.ports.receiver)
    }

    /// The kubectl used for admin operations (the built 1.37 one if there).
    pub fn kubectl_path(&self) -> &Path {
        &self.kubectl
    }

    /// `kube-apiserver v1.37.2, Flux v2.9.4`.
    pub fn describe(&self) -> String {
        self.programs.describe()
    }

    /// The last lines of a process's log (`etcd`, `kube-apiserver`,
    /// `kustomize-controller`, …).
    pub fn log_tail(&self, name: &str, lines: usize) -> String {
        self.group.lock().unwrap().log_tail(name, lines)
    }

    fn kubeconfig(&self, context: &str, namespace: Option<&str>, user: &str) -> String {
        let b64 = base64::engine::general_purpose::STANDARD;
        let ns = namespace
            .map(|n| format!("    namespace: {n}\n"))
            .unwrap_or_default();
        format!(
            "apiVersion: v1\nkind: Config\nclusters:\n- name: {context}\n  cluster:\n    server: {}\n    certificate-authority-data: {}\nusers:\n- name: {context}\n  user:\n{user}contexts:\n- name: {context}\n  context:\n    cluster: {context}\n    user: {context}\n{ns}current-context: {context}\npreferences: {{}}\n",
            self.server(),
            b64.encode(&self.pki.ca_pem),
        )
    }

    /// A kubeconfig for the admin (client certificate, group system:masters).
    pub fn admin_kubeconfig(&self, context: &str, namespace: Option<&str>) -> String {
        let b64 = base64::engine::general_purpose::STANDARD;
        let user = format!(
            "    client-certificate-data: {}\n    client-key-data: {}\n",
            b64.encode(&self.pki.admin_cert_pem),
            b64.encode(&self.pki.admin_key_pem)
        );
        self.kubeconfig(context, namespace, &user)
    }

    /// A kubeconfig for a bearer token.
    pub fn token_kubeconfig(&self, context: &str, namespace: Option<&str>, token: &str) -> String {
        self.kubeconfig(context, namespace, &format!("    token: {token}\n"))
    }

    /// A ServiceAccount `ns/name` bound to a Role with `rules` (a JSON array
    /// of PolicyRules) in `ns`, and a kubeconfig with a token of it
    /// (TokenRequest, 1 h).
    pub fn service_account_kubeconfig(
        &self,
        ns: &str,
        name: &str,
        rules: Value,
        context: &str,
    ) -> anyhow::Result<String> {
        self.apply(&json!({"apiVersion": "v1", "kind": "ServiceAccount",
                           "metadata": {"name": name, "namespace": ns}}))?;
        self.apply(
            &json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role",
                           "metadata": {"name": name, "namespace": ns}, "rules": rules}),
        )?;
        self.apply(&json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
                           "metadata": {"name": name, "namespace": ns},
                           "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": name},
                           "subjects": [{"kind": "ServiceAccount", "name": name, "namespace": ns}]}))?;
        let req = json!({"apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest",
                         "spec": {"expirationSeconds": 3600}});
        let out = self.kubectl_stdin(
            &[
                "create",
                "--raw",
                &format!("/api/v1/namespaces/{ns}/serviceaccounts/{name}/token"),
                "-f",
                "-",
            ],
            &req.to_string(),
        )?;
        let v: Value = serde_json::from_str(&out).context("TokenRequest answer")?;
        let token = v
            .pointer("/status/token")
            .and_then(Value::as_str)
            .context("no token in the TokenRequest answer")?;
        Ok(self.token_kubeconfig(context, Some(ns), token))
    }

    /// kubectl with the admin kubeconfig.
    pub fn kubectl_admin(&self) -> Command {
        let mut c = Command::new(&self.kubectl);
        c.arg("--kubeconfig").arg(&self.admin_kubeconfig);
        c.env_remove("KUBECONFIG");
        c
    }

    fn kubectl_stdin(&self, args: &[&str], input: &str) -> anyhow::Result<String> {
        let mut child = self
            .kubectl_admin()
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()?;
        child
            .stdin
            .take()
            .context("stdin")?
            .write_all(input.as_bytes())?;
        let out = child.wait_with_output()?;
        if !out.status.success() {
            bail!(
                "kubectl {}: {}",
                args.join(" "),
                String::from_utf8_lossy(&out.stderr).trim()
            );
        }
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    }

    /// Server-side apply of one object (as the admin, field manager
    /// `testbed`, conflicts forced).
    pub fn apply(&self, obj: &Value) -> anyhow::Result<()> {
        self.kubectl_stdin(
            &[
                "apply",
                "--server-side",
                "--force-conflicts",
                "--field-manager=testbed",
                "-f",
                "-",
            ],
            &obj.to_string(),
        )
        .map(|_| ())
    }

    /// Create one object (fails if it exists).
    pub fn create(&self, obj: &Value) -> anyhow::Result<()> {
        self.kubectl_stdin(&["create", "-f", "-"], &obj.to_string())
            .map(|_| ())
    }

    /// Get one object, or None when it does not exist.
    pub fn get(&self, api_version: &str, kind: &str, ns: &str, name: &str) -> Option<Value> {
        let mut c = self.kubectl_admin();
        c.args(["get", &resource(api_version, kind), name, "-o", "json"]);
        if !ns.is_empty() {
            c.args(["-n", ns]);
        }
        let out = c.output().ok()?;
        if !out.status.success() {
            return None;
        }
        serde_json::from_slice(&out.stdout).ok()
    }

    /// Merge-patch one object.
    pub fn merge_patch(
        &self,
        api_version: &str,
        kind: &str,
        ns: &str,
        name: &str,
        patch: &Value,
    ) -> anyhow::Result<()> {
        let out = self
            .kubectl_admin()
            .args([
                "patch",
                &resource(api_version, kind),
                name,
                "-n",
                ns,
                "--type=merge",
                "-p",
                &patch.to_string(),
            ])
            .output()?;
        if !out.status.success() {
            bail!("patch: {}", String::from_utf8_lossy(&out.stderr).trim());
        }
        Ok(())
    }

    /// Delete a namespace without waiting.
    pub fn delete_namespace(&self, ns: &str) {
        let _ = self
            .kubectl_admin()
            .args(["delete", "namespace", ns, "--wait=false"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }

    /// Stop everything and remove the files now (also done on drop).
    pub fn stop(&self) {
        self.group.lock().unwrap().stop();
    }

    pub fn pgid(&self) -> i32 {
        self.group.lock().unwrap().pgid()
    }
}

impl Drop for RealCluster {
    fn drop(&mut self) {
        if let Ok(mut g) = self.group.lock() {
            g.stop();
        }
        drop(self.registry.take());
    }
}
