//! Test fixture: the real distribution registry (Debian's `docker-registry`, 2.8.x) on loopback,
//! in open, htpasswd, token (GitLab-style) and TLS modes, plus a fault-injecting proxy.
//!
//! Every fixture owns its own tokio runtime (background threads) and is built by synchronous
//! constructors, so it works the same from plain `#[test]` functions and from async tests.
//! Dropping a fixture stops everything: the registry child process is killed, servers stop and
//! temporary directories are removed.
//!
//! ```no_run
//! use testbed_registry::{Registry, RegistryConfig, require_registry};
//!
//! if !require_registry() {
//!     return;
//! }
//! let registry = Registry::start(RegistryConfig::default()).unwrap();
//! let target = format!("oci://{}/group/project", registry.host());
//! # let _ = target;
//! ```

#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod proxy;
mod server;
mod tls;
mod token;

use std::fmt;
use std::fs::File;
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};

pub use proxy::{FaultKind, FaultProxy, RequestRecord};
pub use token::TokenRequestRecord;

/// Environment variable overriding the path of the `docker-registry` binary.
pub const REGISTRY_BIN_ENV: &str = "DOCKER_REGISTRY_BIN";

/// How clients authenticate to the registry.
#[derive(Clone, Default, PartialEq, Eq)]
pub enum Auth {
    /// No authentication: anyone may push and pull.
    #[default]
    Anonymous,
    /// HTTP Basic authentication against a bcrypt htpasswd file (one user, full access).
    Htpasswd {
        /// The user name.
        username: String,
        /// The password.
        password: String,
    },
    /// The distribution token flow exactly as GitLab runs it: the registry answers 401 with
    /// `WWW-Authenticate: Bearer realm="<token server>/jwt/auth",service="container_registry",...`
    /// and the fixture's token server exchanges Basic credentials for a JWT.
    Token {
        /// The user name of the push+pull user (like `gitlab-ci-token`).
        username: String,
        /// Its password (like a job token).
        password: String,
    },
}

impl Auth {
    /// Token auth with GitLab CI's user name `gitlab-ci-token` and the given password.
    pub fn gitlab_ci(password: &str) -> Auth {
        Auth::Token {
            username: "gitlab-ci-token".to_string(),
            password: password.to_string(),
        }
    }

    fn credentials(&self) -> Option<(String, String)> {
        match self {
            Auth::Anonymous => None,
            Auth::Htpasswd { username, password } | Auth::Token { username, password } => {
                Some((username.clone(), password.clone()))
            }
        }
    }
}

impl fmt::Debug for Auth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Auth::Anonymous => f.write_str("Anonymous"),
            Auth::Htpasswd { username, .. } => f
                .debug_struct("Htpasswd")
                .field("username", username)
                .field("password", &"<redacted>")
                .finish(),
            Auth::Token { username, .. } => f
                .debug_struct("Token")
                .field("username", username)
                .field("password", &"<redacted>")
                .finish(),
        }
    }
}

/// How to run the registry. `Default` is anonymous plain HTTP.
#[derive(Clone)]
pub struct RegistryConfig {
    /// Authentication mode.
    pub auth: Auth,
    /// Serve HTTPS with a certificate from a freshly generated test CA (SANs `127.0.0.1`,
    /// `localhost`). In token mode the token server is served over HTTPS too.
    pub tls: bool,
    /// Extra users (name, password) who only get `pull` from the token server. Token mode only.
    pub pull_only_users: Vec<(String, String)>,
    /// Lifetime (`exp - iat`) of issued tokens. Default 300 s, GitLab's default.
    pub token_ttl: Duration,
    /// Move issued tokens' `iat`/`nbf`/`exp` this far into the past. distribution allows 60 s of
    /// clock skew on `exp`, so a token is expired for the registry only when
    /// `token_backdate > token_ttl + 60 s`; see [`Registry::set_token_backdate`].
    pub token_backdate: Duration,
    /// Log level of the registry (`error`, `warn`, `info`, `debug`). Default `warn`.
    pub log_level: String,
    /// Keep the registry's access log (one line per request) in [`Registry::log_path`].
    pub access_log: bool,
}

impl Default for RegistryConfig {
    fn default() -> Self {
        RegistryConfig {
            auth: Auth::Anonymous,
            tls: false,
            pull_only_users: Vec::new(),
            token_ttl: Duration::from_secs(300),
            token_backdate: Duration::ZERO,
            log_level: "warn".to_string(),
            access_log: false,
        }
    }
}

impl fmt::Debug for RegistryConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RegistryConfig")
            .field("auth", &self.auth)
            .field("tls", &self.tls)
            .field(
                "pull_only_users",
                &self
                    .pull_only_users
                    .iter()
                    .map(|(u, _)| u.as_str())
                    .collect::<Vec<_>>(),
            )
            .field("token_ttl", &self.token_ttl)
            .field("token_backdate", &self.token_backdate)
            .field("log_level", &self.log_level)
            .field("access_log", &self.access_log)
            .finish()
    }
}

/// Install rustls' ring crypto provider as the process default (needed by clients built with
/// `rustls-no-provider`, e.g. reqwest here). Calling it again is harmless.
pub fn install_crypto_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// The `docker-registry` binary: `$DOCKER_REGISTRY_BIN`, else `docker-registry` on `PATH`,
/// else `/usr/bin/docker-registry`.
pub fn registry_bin() -> PathBuf {
    if let Some(p) = std::env::var_os(REGISTRY_BIN_ENV).filter(|p| !p.is_empty()) {
        return PathBuf::from(p);
    }
    if let Some(path) = std::env::var_os("PATH") {
        for dir in std::env::split_paths(&path) {
            let candidate = dir.join("docker-registry");
            if candidate.is_file() {
                return candidate;
            }
        }
    }
    PathBuf::from("/usr/bin/docker-registry")
}

/// Whether the registry binary is available. Call first in every test that needs it.
///
/// Returns `true` when it exists. When it does not: panics if `CI=true` (CI must never skip
/// silently), otherwise prints a "skipping" line to stderr and returns `false`.
pub fn require_registry() -> bool {
    let bin = registry_bin();
    if bin.is_file() {
        return true;
    }
    if std::env::var("CI").as_deref() == Ok("true") {
        panic!(
            "docker-registry not found at {} (CI=true, so tests must not be skipped): \
             apt-get install docker-registry, or set {REGISTRY_BIN_ENV}",
            bin.display()
        );
    }
    eprintln!(
        "skipping: docker-registry not installed (apt-get install docker-registry) \
         [looked for {}; set {REGISTRY_BIN_ENV} to override]",
        bin.display()
    );
    false
}

struct TokenServer {
    state: Arc<token::TokenState>,
    realm: String,
}

/// A running distribution registry on `127.0.0.1`, with its token server in token mode.
pub struct Registry {
    child: Child,
    port: u16,
    auth: Auth,
    ca_pem: Option<String>,
    ca_path: Option<PathBuf>,
    token: Option<TokenServer>,
    log_path: PathBuf,
    storage_dir: PathBuf,
    // Dropped after the child is killed (see Drop), in this order.
    _background: Option<server::Background>,
    dir: tempfile::TempDir,
}

impl fmt::Debug for Registry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Registry")
            .field("base_url", &self.base_url())
            .field("auth", &self.auth)
            .field("token_url", &self.token_url())
            .field("dir", &self.dir.path())
            .finish()
    }
}

const START_ATTEMPTS: usize = 5;
const START_TIMEOUT: Duration = Duration::from_secs(20);

impl Registry {
    /// Start a registry with `cfg`. Blocks until it answers `GET /v2/`.
    ///
    /// Errors name the registry binary and include the tail of its log when it fails to start.
    pub fn start(cfg: RegistryConfig) -> anyhow::Result<Registry> {
        let bin = registry_bin();
        if !bin.is_file() {
            bail!(
                "docker-registry not found at {} (apt-get install docker-registry, or set {REGISTRY_BIN_ENV})",
                bin.display()
            );
        }
        if !cfg.pull_only_users.is_empty() && !matches!(cfg.auth, Auth::Token { .. }) {
            bail!(
                "RegistryConfig::pull_only_users needs Auth::Token (htpasswd has no per-user permissions)"
            );
        }

        let dir = tempfile::Builder::new()
            .prefix("testbed-registry-")
            .tempdir()
            .context("creating the registry's temporary directory")?;
        let storage_dir = dir.path().join("storage");
        std::fs::create_dir(&storage_dir)?;
        let log_path = dir.path().join("registry.log");

        let mut auth_yaml = String::new();
        let mut tls_yaml = String::new();
        let mut ca_pem = None;
        let mut ca_path = None;
        let mut server_tls = None;
        let mut client_tls = None;
        if cfg.tls {
            let material = tls::TlsMaterial::generate()?;
            let ca = dir.path().join("ca.pem");
            let cert = dir.path().join("server.pem");
            let key = dir.path().join("server-key.pem");
            write(&ca, &material.ca_pem)?;
            write(&cert, &material.cert_pem)?;
            write(&key, &material.key_pem)?;
            tls_yaml = format!(
                "  tls:\n    certificate: {}\n    key: {}\n",
                yaml_str(&cert),
                yaml_str(&key)
            );
            server_tls = Some(material.server_config()?);
            client_tls = Some(material.client_config()?);
            ca_pem = Some(material.ca_pem.clone());
            ca_path = Some(ca);
        }

        let mut background = None;
        let mut token_server = None;
        match &cfg.auth {
            Auth::Anonymous => {}
            Auth::Htpasswd { username, password } => {
                let hash = bcrypt::hash(password, 4).context("bcrypt-hashing the password")?;
                let path = dir.path().join("htpasswd");
                write(&path, &format!("{username}:{hash}\n"))?;
                auth_yaml = format!(
                    "auth:\n  htpasswd:\n    realm: testbed-registry\n    path: {}\n",
                    yaml_str(&path)
                );
            }
            Auth::Token { username, password } => {
                let signer = token::Signer::generate()?;
                let bundle = dir.path().join("token-signer.pem");
                write(&bundle, &signer.cert_pem)?;
                let state = Arc::new(token::TokenState::new(
                    signer,
                    (username.clone(), password.clone()),
                    &cfg.pull_only_users,
                    cfg.token_ttl,
                    cfg.token_backdate,
                ));
                let bg = server::Background::new("testbed-token")?;
                let listener = server::bind_loopback()?;
                let port = listener.local_addr()?.port();
                let scheme = if cfg.tls { "https" } else { "http" };
                let realm = format!("{scheme}://127.0.0.1:{port}/jwt/auth");
                let handler_state = state.clone();
                server::spawn_server(bg.handle(), listener, server_tls.clone(), move |req| {
                    token::handle(handler_state.clone(), req)
                });
                auth_yaml = format!(
                    "auth:\n  token:\n    realm: {}\n    service: {}\n    issuer: {}\n    rootcertbundle: {}\n",
                    yaml_str(&realm),
                    token::SERVICE,
                    token::ISSUER,
                    yaml_str(&bundle)
                );
                background = Some(bg);
                token_server = Some(TokenServer { state, realm });
            }
        }

        let config_path = dir.path().join("config.yml");
        let mut last_err = None;
        for _ in 0..START_ATTEMPTS {
            let port = server::bind_loopback()?.local_addr()?.port();
            let config = format!(
                "version: 0.1\n\
                 log:\n  level: {level}\n  formatter: text\n  accesslog:\n    disabled: {no_access}\n\
                 storage:\n  filesystem:\n    rootdirectory: {storage}\n  delete:\n    enabled: true\n  \
                 maintenance:\n    uploadpurging:\n      enabled: false\n\
                 http:\n  addr: 127.0.0.1:{port}\n  secret: testbed-registry-{port}\n{tls_yaml}\
                 health:\n  storagedriver:\n    enabled: false\n\
                 {auth_yaml}",
                level = yaml_str(&cfg.log_level),
                no_access = !cfg.access_log,
                storage = yaml_str(&storage_dir),
            );
            write(&config_path, &config)?;
            let log = File::create(&log_path)
                .with_context(|| format!("creating {}", log_path.display()))?;
            let mut child = Command::new(&bin)
                .arg("serve")
                .arg(&config_path)
                .stdin(Stdio::null())
                .stdout(log.try_clone()?)
                .stderr(log)
                .spawn()
                .with_context(|| format!("spawning {}", bin.display()))?;
            match wait_ready(&mut child, port, client_tls.clone()) {
                Ok(()) => {
                    return Ok(Registry {
                        child,
                        port,
                        auth: cfg.auth,
                        ca_pem,
                        ca_path,
                        token: token_server,
                        log_path,
                        storage_dir,
                        _background: background,
                        dir,
                    });
                }
                Err(e) => {
                    let _ = child.kill();
                    let _ = child.wait();
                    let log = std::fs::read_to_string(&log_path).unwrap_or_default();
                    let err = e.context(format!(
                        "docker-registry ({}) failed to start; log tail:\n{}",
                        bin.display(),
                        tail(&log, 30)
                    ));
                    if !log.contains("address already in use") {
                        return Err(err);
                    }
                    last_err = Some(err);
                }
            }
        }
        Err(last_err.unwrap_or_else(|| anyhow::anyhow!("registry did not start")))
    }

    /// `127.0.0.1:PORT`: what a user writes after `oci://`.
    pub fn host(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// The port the registry listens on.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// `http://127.0.0.1:PORT` or `https://127.0.0.1:PORT`.
    pub fn base_url(&self) -> String {
        let scheme = if self.ca_pem.is_some() {
            "https"
        } else {
            "http"
        };
        format!("{scheme}://{}", self.host())
    }

    /// Whether the registry serves HTTPS.
    pub fn is_tls(&self) -> bool {
        self.ca_pem.is_some()
    }

    /// TLS mode: the test CA certificate (PEM) that signed the server certificate.
    pub fn ca_pem(&self) -> Option<String> {
        self.ca_pem.clone()
    }

    /// TLS mode: path of a file holding [`Registry::ca_pem`].
    pub fn ca_path(&self) -> Option<PathBuf> {
        self.ca_path.clone()
    }

    /// The authentication mode.
    pub fn auth(&self) -> &Auth {
        &self.auth
    }

    /// User name and password of the push+pull user (htpasswd and token modes).
    pub fn credentials(&self) -> Option<(String, String)> {
        self.auth.credentials()
    }

    /// Token mode: the realm, `http(s)://127.0.0.1:P/jwt/auth`.
    pub fn token_url(&self) -> Option<String> {
        self.token.as_ref().map(|t| t.realm.clone())
    }

    /// Token mode: every request the token server answered, in order (no passwords).
    pub fn token_requests(&self) -> Vec<TokenRequestRecord> {
        self.token
            .as_ref()
            .map(|t| lock(&t.state.records).clone())
            .unwrap_or_default()
    }

    /// Token mode: change the lifetime of tokens issued from now on.
    pub fn set_token_ttl(&self, ttl: Duration) {
        if let Some(t) = &self.token {
            *lock(&t.state.ttl) = ttl;
        }
    }

    /// Token mode: move the timestamps of tokens issued from now on this far into the past.
    /// With `backdate > ttl + 60 s` (distribution's clock-skew leeway) new tokens are already
    /// expired, which is how tests get "expired token" 401s without waiting.
    pub fn set_token_backdate(&self, backdate: Duration) {
        if let Some(t) = &self.token {
            *lock(&t.state.backdate) = backdate;
        }
    }

    /// The registry's own log (stdout and stderr), for debugging failures.
    pub fn log_path(&self) -> PathBuf {
        self.log_path.clone()
    }

    /// The last `lines` lines of the registry log.
    pub fn log_tail(&self, lines: usize) -> String {
        tail(
            &std::fs::read_to_string(&self.log_path).unwrap_or_default(),
            lines,
        )
    }

    /// Root of the registry's filesystem storage.
    pub fn storage_dir(&self) -> &Path {
        &self.storage_dir
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub(crate) fn lock<T>(m: &std::sync::Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

fn write(path: &Path, contents: &str) -> anyhow::Result<()> {
    std::fs::write(path, contents).with_context(|| format!("writing {}", path.display()))
}

/// A YAML scalar (JSON strings are valid YAML).
fn yaml_str(s: impl AsRef<std::ffi::OsStr>) -> String {
    serde_json::Value::String(s.as_ref().to_string_lossy().into_owned()).to_string()
}

fn tail(s: &str, lines: usize) -> String {
    let all: Vec<&str> = s.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

/// Wait until the child answers `GET /v2/` like a distribution registry.
fn wait_ready(
    child: &mut Child,
    port: u16,
    tls: Option<Arc<rustls::ClientConfig>>,
) -> anyhow::Result<()> {
    let deadline = Instant::now() + START_TIMEOUT;
    loop {
        if let Some(status) = child.try_wait()? {
            bail!("docker-registry exited with {status}");
        }
        match probe(port, tls.clone()) {
            Ok(true) => return Ok(()),
            Ok(false) => {}
            Err(e) => {
                // Something answered but it is not (yet) our registry: give the child a moment
                // to either bind or exit with "address already in use".
                if Instant::now() > deadline {
                    return Err(e);
                }
            }
        }
        if Instant::now() > deadline {
            bail!(
                "docker-registry did not answer on 127.0.0.1:{port} within {:?}",
                START_TIMEOUT
            );
        }
        std::thread::sleep(Duration::from_millis(25));
    }
}

/// `Ok(false)`: nothing listening yet. `Ok(true)`: a distribution registry answered.
fn probe(port: u16, tls: Option<Arc<rustls::ClientConfig>>) -> anyhow::Result<bool> {
    let addr = std::net::SocketAddr::from(([127, 0, 0, 1], port));
    let Ok(tcp) = TcpStream::connect_timeout(&addr, Duration::from_millis(500)) else {
        return Ok(false);
    };
    tcp.set_read_timeout(Some(Duration::from_secs(5)))?;
    tcp.set_write_timeout(Some(Duration::from_secs(5)))?;
    let request =
        format!("GET /v2/ HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n");
    let mut response = Vec::new();
    let mut buf = [0u8; 4096];
    let mut read_headers = |stream: &mut dyn ReadWrite| -> anyhow::Result<()> {
        stream.write_all(request.as_bytes())?;
        while !response.windows(4).any(|w| w == b"\r\n\r\n") {
            let n = stream.read(&mut buf)?;
            if n == 0 {
                break;
            }
            response.extend_from_slice(&buf[..n]);
        }
        Ok(())
    };
    match tls {
        Some(config) => {
            let conn = rustls::ClientConnection::new(config, tls::loopback_server_name())?;
            let mut stream = rustls::StreamOwned::new(conn, tcp);
            read_headers(&mut stream)?;
        }
        None => {
            let mut tcp = tcp;
            read_headers(&mut tcp)?;
        }
    }
    let text = String::from_utf8_lossy(&response).to_ascii_lowercase();
    if text.contains("docker-distribution-api-version: registry/2.0") {
        Ok(true)
    } else {
        bail!(
            "127.0.0.1:{port} answered but not like a distribution registry: {:?}",
            text.lines().next().unwrap_or_default()
        )
    }
}

trait ReadWrite: std::io::Read + std::io::Write {}
impl<T: std::io::Read + std::io::Write> ReadWrite for T {}
