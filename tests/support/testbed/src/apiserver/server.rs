//! The HTTP(S) server: lifecycle, connections and fault injection.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use anyhow::Context;
use base64::Engine;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use serde_json::Value;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpListener;
use tokio::sync::{mpsc, oneshot, watch};

use super::store::Store;

/// How to run an [`ApiServer`].
#[derive(Debug, Clone)]
pub struct ApiServerConfig {
    /// Serve HTTPS with a generated CA (default true); plain HTTP otherwise.
    pub tls: bool,
    /// Bearer token every request must carry (default: a random one);
    /// None accepts anonymous requests.
    pub token: Option<String>,
    /// Serve the Flux API groups (default true); false = "Flux not installed".
    pub flux_crds: bool,
    /// How many events are kept for watch resumption; a watch from an older
    /// resourceVersion gets 410 Gone (default 1000).
    pub watch_window: usize,
    /// How often watches with `allowWatchBookmarks=true` get a BOOKMARK
    /// (default 1 s; the real API server uses about a minute).
    pub bookmark_interval: Duration,
    /// The user named in Forbidden messages.
    pub user: String,
}

impl Default for ApiServerConfig {
    fn default() -> Self {
        ApiServerConfig {
            tls: true,
            token: Some(format!("testbed-{}", uuid::Uuid::new_v4().simple())),
            flux_crds: true,
            watch_window: 1000,
            bookmark_interval: Duration::from_secs(1),
            user: "system:serviceaccount:default:testbed".to_string(),
        }
    }
}

/// One HTTP request as the server received it.
#[derive(Debug, Clone, PartialEq)]
pub struct RequestRecord {
    /// `GET`, `PATCH`, ...
    pub method: String,
    /// The URL path, e.g. `/apis/kustomize.toolkit.fluxcd.io/v1/namespaces/a/kustomizations/b`.
    pub path: String,
    /// The raw query string ("" when absent).
    pub query: String,
    /// The request's `Content-Type`, if any.
    pub content_type: Option<String>,
    /// The body parsed as JSON (a JSON string holding the text when it is
    /// not JSON); None when empty.
    pub body: Option<Value>,
}

impl RequestRecord {
    /// The decoded value of one query parameter.
    pub fn query_param(&self, key: &str) -> Option<String> {
        url::form_urlencoded::parse(self.query.as_bytes())
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.into_owned())
    }
}

#[derive(Debug, Clone)]
pub(crate) struct Deny {
    pub verb: String,
    pub resource: String,
    pub namespace: Option<String>,
}

type RefuseCmd = (Duration, std::sync::mpsc::Sender<()>);

pub(crate) struct FaultState {
    pub latency_ms: AtomicU64,
    pub denies: Mutex<Vec<Deny>>,
    /// Bumped to end every open watch abruptly.
    pub watches: watch::Sender<u64>,
    /// Bumped to drop every connection.
    pub conns: watch::Sender<u64>,
    refuse: mpsc::UnboundedSender<RefuseCmd>,
    store: Store,
}

/// Fault injection for an [`ApiServer`]. Cloning shares the same server.
#[derive(Clone)]
pub struct Faults {
    pub(crate) inner: Arc<FaultState>,
}

impl std::fmt::Debug for Faults {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Faults").finish_non_exhaustive()
    }
}

impl Faults {
    /// End every open watch stream abruptly (the client sees a broken
    /// stream, not a clean end).
    pub fn drop_watches(&self) {
        self.inner.watches.send_modify(|g| *g += 1);
    }

    /// Drop every open connection and close the listener for `d`
    /// (connections are refused), then listen again on the same port.
    /// Returns once the listener is closed.
    pub fn refuse_connections(&self, d: Duration) {
        let (ack_tx, ack_rx) = std::sync::mpsc::channel();
        if self.inner.refuse.send((d, ack_tx)).is_ok() {
            let _ = ack_rx.recv_timeout(Duration::from_secs(5));
        }
    }

    /// Drop all connections and watches; state and port are kept.
    pub fn restart(&self) {
        self.inner.watches.send_modify(|g| *g += 1);
        self.inner.conns.send_modify(|g| *g += 1);
    }

    /// Delay every response by `d` (zero to stop).
    pub fn set_latency(&self, d: Duration) {
        self.inner
            .latency_ms
            .store(d.as_millis() as u64, Ordering::SeqCst);
    }

    /// Answer 403 Forbidden to `verb` (`get`, `list`, `watch`, `create`,
    /// `update`, `patch`, `delete`, or `*`) on `resource` (a plural such as
    /// `ocirepositories`, a subresource such as `kustomizations/status`, or
    /// `*`) in `namespace` (None: every namespace).
    pub fn deny(&self, verb: &str, resource: &str, namespace: Option<&str>) {
        self.inner
            .denies
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(Deny {
                verb: verb.to_string(),
                resource: resource.to_string(),
                namespace: namespace.map(str::to_string),
            });
    }

    /// Remove latency and denials.
    pub fn clear(&self) {
        self.set_latency(Duration::ZERO);
        self.inner
            .denies
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clear();
    }

    /// Forget all watch history: resuming from any older resourceVersion
    /// gets 410 Gone.
    pub fn compact(&self) {
        self.inner.store.compact();
    }

    pub(crate) fn denied(
        &self,
        verb: &str,
        resource: &str,
        sub: Option<&str>,
        ns: Option<&str>,
    ) -> bool {
        let full = match sub {
            Some(s) => format!("{resource}/{s}"),
            None => resource.to_string(),
        };
        self.inner
            .denies
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .any(|d| {
                (d.verb == "*" || d.verb == verb)
                    && (d.resource == "*" || d.resource == full)
                    && (d.namespace.is_none() || d.namespace.as_deref() == ns)
            })
    }

    pub(crate) fn latency(&self) -> Duration {
        Duration::from_millis(self.inner.latency_ms.load(Ordering::SeqCst))
    }
}

/// State shared by every connection.
pub(crate) struct Shared {
    pub store: Store,
    pub token: Option<String>,
    pub faults: Faults,
    pub requests: Mutex<Vec<RequestRecord>>,
    pub bookmark_interval: Duration,
    pub user: String,
    pub addr: SocketAddr,
}

/// A running API emulator. Dropping it shuts the server down.
pub struct ApiServer {
    url: String,
    ca_pem: Option<String>,
    token: Option<String>,
    shared: Arc<Shared>,
    shutdown: Option<oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl std::fmt::Debug for ApiServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ApiServer")
            .field("url", &self.url)
            .finish_non_exhaustive()
    }
}

impl ApiServer {
    /// Start a server on 127.0.0.1 (random port) on its own runtime thread.
    pub fn start(cfg: ApiServerConfig) -> anyhow::Result<ApiServer> {
        let std_listener =
            std::net::TcpListener::bind("127.0.0.1:0").context("binding the API server port")?;
        std_listener.set_nonblocking(true)?;
        let addr = std_listener.local_addr()?;
        let tls = if cfg.tls {
            Some(super::tls::generate()?)
        } else {
            None
        };
        let store = Store::with_options(cfg.flux_crds, cfg.watch_window);
        let (refuse_tx, refuse_rx) = mpsc::unbounded_channel();
        let faults = Faults {
            inner: Arc::new(FaultState {
                latency_ms: AtomicU64::new(0),
                denies: Mutex::new(Vec::new()),
                watches: watch::channel(0).0,
                conns: watch::channel(0).0,
                refuse: refuse_tx,
                store: store.clone(),
            }),
        };
        let shared = Arc::new(Shared {
            store,
            token: cfg.token.clone(),
            faults,
            requests: Mutex::new(Vec::new()),
            bookmark_interval: cfg.bookmark_interval,
            user: cfg.user.clone(),
            addr,
        });
        let (shutdown_tx, shutdown_rx) = oneshot::channel();
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .context("building the API server runtime")?;
        let acceptor = tls
            .as_ref()
            .map(|t| tokio_rustls::TlsAcceptor::from(t.config.clone()));
        let shared2 = shared.clone();
        let thread = std::thread::Builder::new()
            .name(format!("apiserver-{}", addr.port()))
            .spawn(move || {
                rt.block_on(accept_loop(
                    std_listener,
                    addr,
                    acceptor,
                    shared2,
                    refuse_rx,
                    shutdown_rx,
                ));
            })?;
        let scheme = if cfg.tls { "https" } else { "http" };
        Ok(ApiServer {
            url: format!("{scheme}://{addr}"),
            ca_pem: tls.map(|t| t.ca_pem),
            token: cfg.token,
            shared,
            shutdown: Some(shutdown_tx),
            thread: Some(thread),
        })
    }

    /// `https://127.0.0.1:PORT` (or `http://` without TLS).
    pub fn url(&self) -> String {
        self.url.clone()
    }

    /// The CA certificate (PEM) that signed the server certificate.
    pub fn ca_pem(&self) -> Option<String> {
        self.ca_pem.clone()
    }

    /// The bearer token requests must carry.
    pub fn token(&self) -> Option<String> {
        self.token.clone()
    }

    /// A kubeconfig (YAML) with one cluster (inline CA data), one user (the
    /// token) and `context` as the current context.
    pub fn kubeconfig(&self, context: &str, namespace: Option<&str>) -> String {
        let q = |s: &str| serde_json::to_string(s).unwrap_or_default();
        let mut out =
            String::from("apiVersion: v1\nkind: Config\nclusters:\n- name: testbed\n  cluster:\n");
        out += &format!("    server: {}\n", q(&self.url));
        if let Some(ca) = &self.ca_pem {
            let b64 = base64::engine::general_purpose::STANDARD.encode(ca.as_bytes());
            out += &format!("    certificate-authority-data: {b64}\n");
        }
        out += "users:\n- name: testbed\n  user:\n";
        match &self.token {
            Some(t) => out += &format!("    token: {}\n", q(t)),
            None => out += "    {}\n",
        }
        out += &format!(
            "contexts:\n- name: {}\n  context:\n    cluster: testbed\n    user: testbed\n",
            q(context)
        );
        if let Some(ns) = namespace {
            out += &format!("    namespace: {}\n", q(ns));
        }
        out += &format!("current-context: {}\npreferences: {{}}\n", q(context));
        out
    }

    /// The object store behind the server (shared, live).
    pub fn store(&self) -> Store {
        self.shared.store.clone()
    }

    /// Fault injection handle.
    pub fn faults(&self) -> Faults {
        self.shared.faults.clone()
    }

    /// Every HTTP request received so far, in order.
    pub fn requests(&self) -> Vec<RequestRecord> {
        self.shared
            .requests
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Forget the recorded requests.
    pub fn clear_requests(&self) {
        self.shared
            .requests
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clear();
    }
}

impl Drop for ApiServer {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

async fn bind_again(addr: SocketAddr) -> Option<TcpListener> {
    for _ in 0..100 {
        if let Ok(l) = TcpListener::bind(addr).await {
            return Some(l);
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    None
}

async fn accept_loop(
    std_listener: std::net::TcpListener,
    addr: SocketAddr,
    acceptor: Option<tokio_rustls::TlsAcceptor>,
    shared: Arc<Shared>,
    mut refuse_rx: mpsc::UnboundedReceiver<RefuseCmd>,
    mut shutdown_rx: oneshot::Receiver<()>,
) {
    let mut listener = match TcpListener::from_std(std_listener) {
        Ok(l) => Some(l),
        Err(e) => {
            tracing::error!("API server listener: {e}");
            return;
        }
    };
    loop {
        let Some(l) = listener.as_ref() else {
            // Could not rebind; just wait for shutdown.
            let _ = (&mut shutdown_rx).await;
            return;
        };
        tokio::select! {
            _ = &mut shutdown_rx => return,
            cmd = refuse_rx.recv() => {
                let Some((d, ack)) = cmd else { continue };
                drop(listener.take());
                shared.faults.inner.watches.send_modify(|g| *g += 1);
                shared.faults.inner.conns.send_modify(|g| *g += 1);
                let _ = ack.send(());
                tokio::select! {
                    _ = &mut shutdown_rx => return,
                    _ = tokio::time::sleep(d) => {}
                }
                listener = bind_again(addr).await;
            }
            res = l.accept() => {
                let Ok((tcp, _)) = res else { continue };
                let _ = tcp.set_nodelay(true);
                let shared = shared.clone();
                let acceptor = acceptor.clone();
                tokio::spawn(async move {
                    let mut conns = shared.faults.inner.conns.subscribe();
                    let serve = async {
                        match acceptor {
                            Some(acc) => {
                                if let Ok(Ok(tls)) = tokio::time::timeout(Duration::from_secs(10), acc.accept(tcp)).await {
                                    serve_io(tls, shared.clone()).await;
                                }
                            }
                            None => serve_io(tcp, shared.clone()).await,
                        }
                    };
                    tokio::select! {
                        _ = serve => {}
                        _ = conns.changed() => {}
                    }
                });
            }
        }
    }
}

async fn serve_io<I>(io: I, shared: Arc<Shared>)
where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let svc = service_fn(move |req| {
        let shared = shared.clone();
        async move { Ok::<_, std::convert::Infallible>(super::http::handle(shared, req).await) }
    });
    let builder = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
    let _ = builder.serve_connection(TokioIo::new(io), svc).await;
}
