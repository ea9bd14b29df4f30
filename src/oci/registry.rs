//! A small client for the distribution API: just what pushing an artifact
//! needs (ping, token flow, blob HEAD/upload, manifest HEAD/GET/PUT), with
//! retries and a deadline.
//!
//! Written on reqwest rather than oci-client 0.18 because a push must tell
//! apart what oci-client folds together: which credential source a 401 or
//! 403 answers, `insufficient_scope`, `Retry-After` on 429, a TLS failure
//! from a refused connection; and must keep the exact manifest bytes.

use std::path::Path;
use std::time::{Duration, Instant};

use base64::Engine as _;
use reqwest::header::{self, HeaderMap, HeaderValue};
use reqwest::{Method, StatusCode, Url};

use super::artifact::{Blob, MANIFEST_MEDIA_TYPE, sha256_digest};
use super::auth::{CredentialSource, Credentials};
use super::error::OciError;
use super::reference::Reference;
use crate::error::redact;

/// How to reach a registry.
#[derive(Debug, Clone)]
pub struct ClientOptions {
    /// Allow plain HTTP (always allowed for loopback registries).
    pub insecure: bool,
    /// Extra CA certificates (PEM).
    pub ca_file: Option<std::path::PathBuf>,
    /// Overall deadline for everything done with this client, retries included.
    pub timeout: Duration,
    /// How many times a transient failure is retried.
    pub max_retries: u32,
    /// First backoff; doubled each retry, capped at 5 s.
    pub backoff: Duration,
}

impl Default for ClientOptions {
    fn default() -> Self {
        ClientOptions {
            insecure: false,
            ca_file: None,
            timeout: Duration::from_secs(300),
            max_retries: 5,
            backoff: Duration::from_millis(250),
        }
    }
}

/// Counters for the report and the tests.
#[derive(Debug, Clone, Default)]
pub struct Stats {
    pub blobs_uploaded: usize,
    pub bytes_uploaded: u64,
    pub retries: u32,
}

/// A connection to one repository of one registry.
pub struct Registry {
    http: reqwest::Client,
    reference: Reference,
    base: Url,
    creds: Credentials,
    authorization: Option<HeaderValue>,
    bearer: Option<Challenge>,
    options: ClientOptions,
    deadline: Instant,
    pub stats: Stats,
}

/// What a `WWW-Authenticate` header asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Challenge {
    pub scheme: String,
    pub params: Vec<(String, String)>,
}

impl Challenge {
    fn param(&self, key: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(key))
            .map(|(_, v)| v.as_str())
    }
}

/// Parse `Bearer realm="…",service="…",error="insufficient_scope"`.
pub fn parse_challenge(header: &str) -> Option<Challenge> {
    let header = header.trim();
    let (scheme, rest) = header
        .split_once(char::is_whitespace)
        .unwrap_or((header, ""));
    if scheme.is_empty() {
        return None;
    }
    let mut params = Vec::new();
    let mut chars = rest.chars().peekable();
    loop {
        while chars.peek().is_some_and(|c| c.is_whitespace() || *c == ',') {
            chars.next();
        }
        let mut key = String::new();
        while let Some(&c) = chars.peek() {
            if c == '=' {
                break;
            }
            key.push(c);
            chars.next();
        }
        if chars.next().is_none() {
            break;
        }
        let mut value = String::new();
        if chars.peek() == Some(&'"') {
            chars.next();
            while let Some(c) = chars.next() {
                match c {
                    '\\' => {
                        if let Some(n) = chars.next() {
                            value.push(n);
                        }
                    }
                    '"' => break,
                    c => value.push(c),
                }
            }
        } else {
            while let Some(&c) = chars.peek() {
                if c == ',' {
                    break;
                }
                value.push(c);
                chars.next();
            }
        }
        params.push((key.trim().to_string(), value.trim().to_string()));
    }
    Some(Challenge {
        scheme: scheme.to_string(),
        params,
    })
}

/// The distribution error envelope, reduced to its first error.
fn error_code(body: &[u8]) -> (String, String) {
    #[derive(serde::Deserialize)]
    struct Envelope {
        #[serde(default)]
        errors: Vec<Item>,
    }
    #[derive(serde::Deserialize)]
    struct Item {
        #[serde(default)]
        code: String,
        #[serde(default)]
        message: String,
    }
    match serde_json::from_slice::<Envelope>(body) {
        Ok(env) if !env.errors.is_empty() => {
            let first = &env.errors[0];
            (first.code.clone(), first.message.clone())
        }
        _ => {
            let text = String::from_utf8_lossy(body);
            let line = text
                .trim()
                .lines()
                .next()
                .unwrap_or("")
                .chars()
                .take(200)
                .collect();
            (String::new(), line)
        }
    }
}

/// The message of an error and its causes, de-duplicated, redacted.
fn chain(err: &(dyn std::error::Error + 'static)) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut next: Option<&(dyn std::error::Error + 'static)> = Some(err);
    while let Some(e) = next {
        let msg = e.to_string();
        if !parts.iter().any(|p| p.contains(&msg)) {
            parts.push(msg);
        }
        next = e.source();
    }
    redact(&parts.join(": "))
}

/// The innermost cause of a transport error (what actually happened:
/// "Connection refused", "invalid peer certificate: UnknownIssuer", …).
fn root_cause(err: &(dyn std::error::Error + 'static)) -> String {
    let mut last = err.to_string();
    let mut next = err.source();
    while let Some(e) = next {
        let msg = e.to_string();
        if !msg.is_empty() {
            last = msg;
        }
        next = e.source();
    }
    redact(&last)
}

enum Body {
    Empty,
    /// Shared bytes: every attempt sends the same buffer, never a copy.
    Bytes(bytes::Bytes, &'static str),
    /// The same, with a content type chosen at run time (manifests of any type).
    Typed(bytes::Bytes, HeaderValue),
}

/// Every manifest media type a tag may hold: images and indexes, OCI and Docker.
const ANY_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json, \
     application/vnd.docker.distribution.manifest.v2+json, \
     application/vnd.oci.image.index.v1+json, \
     application/vnd.docker.distribution.manifest.list.v2+json";

/// A manifest exactly as the registry stores it.
#[derive(Debug, Clone)]
pub struct StoredManifest {
    /// `sha256:` of the bytes.
    pub digest: String,
    /// The media type to PUT it with (the manifest's own `mediaType`, else
    /// the registry's `Content-Type`).
    pub media_type: String,
    pub bytes: Vec<u8>,
}

impl Registry {
    /// Build the HTTP client, find the scheme (HTTPS; plain HTTP only for
    /// loopback or `insecure`), and authenticate for push and pull.
    pub async fn connect(
        reference: &Reference,
        creds: Credentials,
        options: ClientOptions,
    ) -> Result<Registry, OciError> {
        let deadline = Instant::now() + options.timeout;
        let http = build_http(options.ca_file.as_deref())?;
        let allow_http = options.insecure || reference.is_loopback();
        let https = Url::parse(&format!("https://{}/", reference.registry)).map_err(|e| {
            OciError::Reference {
                input: reference.to_string(),
                reason: e.to_string(),
                hint: "check the registry host".into(),
            }
        })?;
        let mut reg = Registry {
            http,
            reference: reference.clone(),
            base: https.clone(),
            creds,
            authorization: None,
            bearer: None,
            options,
            deadline,
            stats: Stats::default(),
        };

        let ping = match reg.ping(!allow_http).await {
            Ok(r) => r,
            Err(https_err) if allow_http => {
                tracing::debug!("HTTPS to {} failed, trying plain HTTP", reference.registry);
                reg.base = Url::parse(&format!("http://{}/", reference.registry)).unwrap_or(https);
                match reg.ping(true).await {
                    Ok(r) => r,
                    // Nobody answers plain HTTP either: the HTTPS error says more.
                    Err(OciError::Unreachable { .. }) | Err(OciError::Protocol { .. }) => {
                        return Err(https_err);
                    }
                    // It speaks HTTP but failed (timeout, 5xx, 429): that is the story.
                    Err(e) => return Err(e),
                }
            }
            Err(e) => return Err(e),
        };
        tracing::debug!(
            "registry {} speaks {}",
            reference.registry,
            reg.base.scheme()
        );
        reg.authenticate(ping).await?;
        Ok(reg)
    }

    /// `GET /v2/`; returns the challenge when the registry wants credentials.
    async fn ping(&mut self, retry: bool) -> Result<Option<Challenge>, OciError> {
        let url = self.url("v2/")?;
        let saved = self.options.max_retries;
        if !retry {
            self.options.max_retries = 0;
        }
        let resp = self
            .send_raw(
                Method::GET,
                url,
                HeaderMap::new(),
                &Body::Empty,
                "connecting",
            )
            .await;
        self.options.max_retries = saved;
        let resp = resp?;
        match resp.status() {
            s if s.is_success() => Ok(None),
            StatusCode::UNAUTHORIZED => Ok(challenge_of(&resp)),
            s => Err(OciError::Protocol {
                registry: self.reference.registry.clone(),
                reason: format!("GET /v2/ answered {s}; is this an OCI registry?"),
            }),
        }
    }

    fn unauthorized(&self, reason: impl Into<String>) -> OciError {
        OciError::Unauthorized {
            registry: self.reference.registry.clone(),
            credentials: self.creds.source.to_string(),
            reason: reason.into(),
            anonymous: self.creds.basic.is_none(),
        }
    }

    fn forbidden(&self, action: &str, reason: impl Into<String>) -> OciError {
        if self.creds.basic.is_none() {
            // Anonymous and denied: what is missing is credentials.
            return self.unauthorized(format!(
                "{action} on {} needs credentials ({})",
                self.reference.repository,
                reason.into()
            ));
        }
        OciError::Forbidden {
            registry: self.reference.registry.clone(),
            repository: self.reference.repository.clone(),
            action: action.to_string(),
            credentials: self.creds.source.to_string(),
            reason: reason.into(),
            deploy_token: self.creds.source == CredentialSource::GitLabDeploy,
        }
    }

    fn basic_header(&self) -> Option<HeaderValue> {
        let (user, pass) = self.creds.basic.as_ref()?;
        let raw = format!("{user}:{}", pass.expose());
        let mut v = HeaderValue::from_str(&format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(raw)
        ))
        .ok()?;
        v.set_sensitive(true);
        Some(v)
    }

    async fn authenticate(&mut self, challenge: Option<Challenge>) -> Result<(), OciError> {
        let Some(ch) = challenge else {
            return Ok(());
        };
        if ch.scheme.eq_ignore_ascii_case("basic") {
            let Some(h) = self.basic_header() else {
                return Err(self.unauthorized("the registry asks for a user name and password"));
            };
            self.authorization = Some(h);
            // Check the credentials now, before uploading anything.
            let url = self.url("v2/")?;
            let resp = self
                .send_raw(
                    Method::GET,
                    url,
                    HeaderMap::new(),
                    &Body::Empty,
                    "logging in",
                )
                .await?;
            return match resp.status() {
                s if s.is_success() => Ok(()),
                StatusCode::UNAUTHORIZED => Err(self.unauthorized("wrong user name or password")),
                StatusCode::FORBIDDEN => Err(self.forbidden("access", "403 Forbidden")),
                s => Err(OciError::Protocol {
                    registry: self.reference.registry.clone(),
                    reason: format!("GET /v2/ with credentials answered {s}"),
                }),
            };
        }
        if ch.scheme.eq_ignore_ascii_case("bearer") {
            self.bearer = Some(ch);
            return self.fetch_token().await;
        }
        Err(OciError::Protocol {
            registry: self.reference.registry.clone(),
            reason: format!("unsupported authentication scheme {:?}", ch.scheme),
        })
    }

    /// The token flow: GET realm?service=…&scope=repository:<repo>:pull,push
    /// with Basic credentials (if any) → `{"token": …}`.
    async fn fetch_token(&mut self) -> Result<(), OciError> {
        let Some(ch) = self.bearer.clone() else {
            return Ok(());
        };
        let Some(realm) = ch.param("realm") else {
            return Err(OciError::Protocol {
                registry: self.reference.registry.clone(),
                reason: "Bearer challenge without realm".into(),
            });
        };
        let mut url = Url::parse(realm).map_err(|e| OciError::Protocol {
            registry: self.reference.registry.clone(),
            reason: format!("bad token realm {realm:?}: {e}"),
        })?;
        {
            let mut q = url.query_pairs_mut();
            if let Some(service) = ch.param("service") {
                q.append_pair("service", service);
            }
            q.append_pair(
                "scope",
                &format!("repository:{}:pull,push", self.reference.repository),
            );
            if let Some((user, _)) = &self.creds.basic {
                q.append_pair("account", user);
            }
        }
        let mut headers = HeaderMap::new();
        if let Some(h) = self.basic_header() {
            headers.insert(header::AUTHORIZATION, h);
        }
        let saved = self.authorization.take();
        let resp = self
            .send_raw(
                Method::GET,
                url,
                headers,
                &Body::Empty,
                "getting a registry token",
            )
            .await;
        let resp = match resp {
            Ok(r) => r,
            Err(e) => {
                self.authorization = saved;
                return Err(e);
            }
        };
        let status = resp.status();
        if status == StatusCode::UNAUTHORIZED {
            return Err(self.unauthorized(if self.creds.basic.is_some() {
                "the token server refused the user name or password"
            } else {
                "the token server requires credentials"
            }));
        }
        if status == StatusCode::FORBIDDEN {
            return Err(self.forbidden("a token for", "the token server answered 403 Forbidden"));
        }
        if !status.is_success() {
            return Err(OciError::Protocol {
                registry: self.reference.registry.clone(),
                reason: format!("the token server answered {status}"),
            });
        }
        #[derive(serde::Deserialize)]
        struct TokenAnswer {
            #[serde(default)]
            token: Option<String>,
            #[serde(default)]
            access_token: Option<String>,
        }
        let body = self.read_body(resp, "getting a registry token").await?;
        let answer: TokenAnswer =
            serde_json::from_slice(&body).map_err(|_| OciError::Protocol {
                registry: self.reference.registry.clone(),
                reason: "the token server answered something that is not a token".into(),
            })?;
        let token = answer
            .token
            .or(answer.access_token)
            .filter(|t| !t.is_empty())
            .ok_or_else(|| OciError::Protocol {
                registry: self.reference.registry.clone(),
                reason: "the token server answered without a token".into(),
            })?;
        let mut v =
            HeaderValue::from_str(&format!("Bearer {token}")).map_err(|_| OciError::Protocol {
                registry: self.reference.registry.clone(),
                reason: "the token server answered a token that is not a header value".into(),
            })?;
        v.set_sensitive(true);
        self.authorization = Some(v);
        Ok(())
    }

    fn url(&self, path: &str) -> Result<Url, OciError> {
        self.base.join(path).map_err(|e| OciError::Protocol {
            registry: self.reference.registry.clone(),
            reason: format!("cannot build a URL for {path}: {e}"),
        })
    }

    fn repo_url(&self, rest: &str) -> Result<Url, OciError> {
        self.url(&format!("v2/{}/{rest}", self.reference.repository))
    }

    fn remaining(&self, during: &str) -> Result<Duration, OciError> {
        let now = Instant::now();
        if now >= self.deadline {
            return Err(OciError::Timeout {
                after: self.options.timeout,
                during: during.to_string(),
            });
        }
        Ok(self.deadline - now)
    }

    /// Send one request with retries on transient failures (connection
    /// errors, 408, 429, 5xx), honouring `Retry-After`, within the deadline.
    /// Adds the current Authorization unless `headers` has one.
    async fn send_raw(
        &mut self,
        method: Method,
        url: Url,
        headers: HeaderMap,
        body: &Body,
        during: &str,
    ) -> Result<reqwest::Response, OciError> {
        let mut attempt: u32 = 0;
        loop {
            let remaining = self.remaining(during)?;
            let mut req = self
                .http
                .request(method.clone(), url.clone())
                .timeout(remaining)
                .headers(headers.clone());
            // Credentials go to the registry's own origin only (and, in
            // `headers`, to the token realm it names): an upload Location
            // at another origin (a storage backend) gets none, as docker
            // and oras behave. Redirects to other origins lose them too
            // (reqwest drops Authorization across hosts).
            if !headers.contains_key(header::AUTHORIZATION)
                && let Some(auth) = &self.authorization
            {
                if self.same_origin(&url) {
                    req = req.header(header::AUTHORIZATION, auth.clone());
                } else if attempt == 0 {
                    tracing::debug!(
                        "{method} {}: another origin than the registry's, sent without credentials",
                        redact(origin(&url).as_str())
                    );
                }
            }
            req = match body {
                Body::Empty => req.header(header::CONTENT_LENGTH, 0),
                Body::Bytes(b, ct) => req.header(header::CONTENT_TYPE, *ct).body(b.clone()),
                Body::Typed(b, ct) => req.header(header::CONTENT_TYPE, ct.clone()).body(b.clone()),
            };
            let started = Instant::now();
            let result = req.send().await;
            let wait = match result {
                Ok(resp) => {
                    let status = resp.status();
                    tracing::debug!(
                        "{method} {} → {} ({} ms)",
                        redact(url.as_str()),
                        status.as_u16(),
                        started.elapsed().as_millis()
                    );
                    let transient = status == StatusCode::TOO_MANY_REQUESTS
                        || status == StatusCode::REQUEST_TIMEOUT
                        || status.is_server_error();
                    if !transient {
                        return Ok(resp);
                    }
                    if attempt >= self.options.max_retries {
                        let (code, message) = error_code(&resp.bytes().await.unwrap_or_default());
                        let detail = [code, message]
                            .into_iter()
                            .filter(|s| !s.is_empty())
                            .collect::<Vec<_>>()
                            .join(" ");
                        return Err(OciError::Unavailable {
                            registry: self.reference.registry.clone(),
                            reason: format!(
                                "{status} {detail} while {during}, after {} retries",
                                attempt
                            )
                            .trim()
                            .replace("  ", " "),
                        });
                    }
                    let retry_after = resp
                        .headers()
                        .get(header::RETRY_AFTER)
                        .and_then(|v| v.to_str().ok())
                        .and_then(|v| v.trim().parse::<u64>().ok())
                        .map(Duration::from_secs);
                    match retry_after {
                        Some(d) => {
                            // Waiting it out would pass the deadline: say
                            // what the registry asked, not "timed out".
                            if Instant::now() + d >= self.deadline {
                                return Err(OciError::RetryAfterPastDeadline {
                                    registry: self.reference.registry.clone(),
                                    status: status.to_string(),
                                    during: during.to_string(),
                                    retry_after: d,
                                    timeout: self.options.timeout,
                                });
                            }
                            d
                        }
                        None => self.backoff(attempt),
                    }
                }
                Err(e) => {
                    tracing::debug!("{method} {} failed: {}", redact(url.as_str()), chain(&e));
                    let mut shown = url.clone();
                    shown.set_query(None);
                    let reason =
                        format!("{} ({method} {})", root_cause(&e), redact(shown.as_str()));
                    if e.is_timeout() && Instant::now() >= self.deadline {
                        return Err(OciError::Timeout {
                            after: self.options.timeout,
                            during: during.to_string(),
                        });
                    }
                    // A refused connection is rarely fixed by waiting long.
                    let refused = reason.to_ascii_lowercase().contains("connection refused");
                    let max = if refused {
                        self.options.max_retries.min(2)
                    } else {
                        self.options.max_retries
                    };
                    if attempt >= max || is_permanent(&reason) {
                        if !e.is_connect() && !is_permanent(&reason) {
                            return Err(OciError::Unreachable {
                                registry: self.reference.registry.clone(),
                                reason: format!("the connection broke while {during}: {reason}"),
                                hint: "the registry was reached but the transfer kept failing: check \
                                       proxies and load balancers on the way (body size limits, idle \
                                       timeouts), or retry"
                                    .into(),
                            });
                        }
                        return Err(self.unreachable(&url, reason));
                    }
                    self.backoff(attempt)
                }
            };
            attempt += 1;
            self.stats.retries += 1;
            tracing::debug!("retrying in {} ms ({during})", wait.as_millis());
            let remaining = self.remaining(during)?;
            tokio::time::sleep(wait.min(remaining)).await;
        }
    }

    /// Whether `url` is on the registry's origin (scheme, host, port).
    fn same_origin(&self, url: &Url) -> bool {
        origin(url) == origin(&self.base)
    }

    fn backoff(&self, attempt: u32) -> Duration {
        let factor = 1u32 << attempt.min(5);
        (self.options.backoff * factor).min(Duration::from_secs(5))
    }

    fn unreachable(&self, url: &Url, reason: String) -> OciError {
        let lower = reason.to_ascii_lowercase();
        let hint = if lower.contains("certificate") || lower.contains("unknownissuer") {
            "the registry's TLS certificate is not trusted: pass --ca-file with its CA (PEM)"
                .to_string()
        } else if url.scheme() == "https"
            && (lower.contains("corrupt")
                || lower.contains("invalidcontenttype")
                || lower.contains("wrong version"))
        {
            "the registry may speak plain HTTP: that is allowed only for loopback registries or \
             with --insecure-registry"
                .to_string()
        } else {
            format!(
                "check the host and port ({}), DNS, proxies (HTTPS_PROXY) and that the registry is up",
                self.reference.registry
            )
        };
        OciError::Unreachable {
            registry: self.reference.registry.clone(),
            reason,
            hint,
        }
    }

    /// A request that re-authenticates once on 401 (expired token) and maps
    /// 401/403 to errors naming the credential source.
    async fn send(
        &mut self,
        method: Method,
        url: Url,
        headers: HeaderMap,
        body: Body,
        during: &str,
        action: &str,
    ) -> Result<reqwest::Response, OciError> {
        let mut reauthed = false;
        loop {
            let resp = self
                .send_raw(method.clone(), url.clone(), headers.clone(), &body, during)
                .await?;
            match resp.status() {
                StatusCode::UNAUTHORIZED => {
                    let ch = challenge_of(&resp);
                    let scope_error = ch
                        .as_ref()
                        .and_then(|c| c.param("error"))
                        .is_some_and(|e| e == "insufficient_scope");
                    let (code, message) = error_code(&self.read_body(resp, during).await?);
                    if scope_error {
                        return Err(self.forbidden(action, "insufficient scope"));
                    }
                    if !reauthed && self.bearer.is_some() {
                        reauthed = true;
                        self.fetch_token().await?;
                        continue;
                    }
                    if code == "DENIED" {
                        return Err(self.forbidden(action, message));
                    }
                    let token_error = ch
                        .as_ref()
                        .and_then(|c| c.param("error"))
                        .is_some_and(|e| e == "invalid_token");
                    if reauthed && token_error && self.creds.basic.is_some() {
                        return Err(OciError::TokenRejected {
                            registry: self.reference.registry.clone(),
                            credentials: self.creds.source.to_string(),
                            during: during.to_string(),
                        });
                    }
                    return Err(self.unauthorized(format!("401 Unauthorized while {during}")));
                }
                StatusCode::FORBIDDEN => {
                    let (code, message) = error_code(&self.read_body(resp, during).await?);
                    let reason = [code, message]
                        .into_iter()
                        .filter(|s| !s.is_empty())
                        .collect::<Vec<_>>()
                        .join(": ");
                    return Err(self.forbidden(
                        action,
                        if reason.is_empty() {
                            "403 Forbidden".into()
                        } else {
                            reason
                        },
                    ));
                }
                _ => return Ok(resp),
            }
        }
    }

    async fn read_body(&self, resp: reqwest::Response, during: &str) -> Result<Vec<u8>, OciError> {
        resp.bytes()
            .await
            .map(|b| b.to_vec())
            .map_err(|e| self.unreachable(&self.base, format!("{} while {during}", chain(&e))))
    }

    async fn rejected(&self, resp: reqwest::Response, what: &str) -> OciError {
        let status = resp.status().as_u16();
        let body = resp.bytes().await.unwrap_or_default();
        let (code, message) = error_code(&body);
        OciError::Rejected {
            registry: self.reference.registry.clone(),
            what: what.to_string(),
            status,
            message: if message.is_empty() {
                String::new()
            } else if code.is_empty() {
                message
            } else {
                format!(": {message}")
            },
            code,
        }
    }

    /// Whether the repository has this blob (HEAD).
    pub async fn blob_exists(&mut self, digest: &str) -> Result<bool, OciError> {
        let url = self.repo_url(&format!("blobs/{digest}"))?;
        let during = format!("checking blob {}", short(digest));
        let resp = self
            .send(
                Method::HEAD,
                url,
                HeaderMap::new(),
                Body::Empty,
                &during,
                "pull",
            )
            .await?;
        match resp.status() {
            s if s.is_success() => Ok(true),
            StatusCode::NOT_FOUND => Ok(false),
            _ => Err(self.rejected(resp, "blob check").await),
        }
    }

    /// Upload a blob (POST + monolithic PUT) unless the registry has it;
    /// returns whether it was uploaded. Confirms the blob is present after.
    pub async fn ensure_blob(&mut self, blob: &Blob) -> Result<bool, OciError> {
        if self.blob_exists(&blob.digest).await? {
            tracing::debug!("blob {} already present", short(&blob.digest));
            return Ok(false);
        }
        let during = format!("uploading blob {}", short(&blob.digest));
        let mut restarts: u32 = 0;
        loop {
            let url = self.repo_url("blobs/uploads/")?;
            let resp = self
                .send(
                    Method::POST,
                    url,
                    HeaderMap::new(),
                    Body::Empty,
                    &during,
                    "push",
                )
                .await?;
            if resp.status() != StatusCode::ACCEPTED {
                return Err(self.rejected(resp, "blob upload").await);
            }
            let location = resp
                .headers()
                .get(header::LOCATION)
                .and_then(|v| v.to_str().ok())
                .map(str::to_string)
                .ok_or_else(|| OciError::Protocol {
                    registry: self.reference.registry.clone(),
                    reason: "blob upload started without a Location".into(),
                })?;
            let mut put_url = self.base.join(&location).map_err(|e| OciError::Protocol {
                registry: self.reference.registry.clone(),
                reason: format!("bad upload Location: {e}"),
            })?;
            put_url
                .query_pairs_mut()
                .append_pair("digest", &blob.digest);
            // The PUT is not retried in place: after a cut or a server error
            // the session may hold part of the body. Start a new session.
            let saved = self.options.max_retries;
            self.options.max_retries = 0;
            let resp = self
                .send(
                    Method::PUT,
                    put_url,
                    HeaderMap::new(),
                    Body::Bytes(blob.data.clone(), "application/octet-stream"),
                    &during,
                    "push",
                )
                .await;
            self.options.max_retries = saved;
            let retry = |restarts: u32| restarts < saved;
            let resp = match resp {
                Ok(r) => r,
                Err(OciError::Unreachable { .. } | OciError::Unavailable { .. })
                    if retry(restarts) =>
                {
                    let wait = self.backoff(restarts);
                    restarts += 1;
                    self.stats.retries += 1;
                    tracing::debug!("blob upload failed; new session in {} ms", wait.as_millis());
                    tokio::time::sleep(wait.min(self.remaining(&during)?)).await;
                    continue;
                }
                Err(e) => return Err(e),
            };
            match resp.status() {
                StatusCode::CREATED | StatusCode::NO_CONTENT | StatusCode::OK => {}
                StatusCode::NOT_FOUND | StatusCode::RANGE_NOT_SATISFIABLE if retry(restarts) => {
                    restarts += 1;
                    continue;
                }
                _ => return Err(self.rejected(resp, "blob upload").await),
            }
            if !self.blob_exists(&blob.digest).await? {
                return Err(OciError::Protocol {
                    registry: self.reference.registry.clone(),
                    reason: format!(
                        "blob {} is missing right after its upload",
                        short(&blob.digest)
                    ),
                });
            }
            self.stats.blobs_uploaded += 1;
            self.stats.bytes_uploaded += blob.size();
            return Ok(true);
        }
    }

    fn manifest_headers() -> HeaderMap {
        Self::accept(
            "application/vnd.oci.image.manifest.v1+json, \
             application/vnd.docker.distribution.manifest.v2+json",
        )
    }

    fn accept(media_types: &'static str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(header::ACCEPT, HeaderValue::from_static(media_types));
        h
    }

    /// The manifest a tag points at: (digest, bytes), or None.
    pub async fn get_manifest(&mut self, tag: &str) -> Result<Option<(String, Vec<u8>)>, OciError> {
        self.get_manifest_with(tag, Self::manifest_headers()).await
    }

    /// GET a manifest with these Accept headers: its digest and bytes, or None.
    async fn get_manifest_with(
        &mut self,
        tag: &str,
        headers: HeaderMap,
    ) -> Result<Option<(String, Vec<u8>)>, OciError> {
        let url = self.repo_url(&format!("manifests/{tag}"))?;
        let during = format!("reading tag {tag}");
        let resp = self
            .send(Method::GET, url, headers, Body::Empty, &during, "pull")
            .await?;
        match resp.status() {
            StatusCode::NOT_FOUND => Ok(None),
            s if s.is_success() => {
                let body = self.read_body(resp, &during).await?;
                Ok(Some((sha256_digest(&body), body)))
            }
            _ => Err(self.rejected(resp, "manifest read").await),
        }
    }

    /// The manifest at a tag or digest exactly as stored, whatever its
    /// media type (image or index, OCI or Docker), or None. Fetched by
    /// digest, the bytes are checked against it.
    pub async fn fetch_manifest(
        &mut self,
        reference: &str,
    ) -> Result<Option<StoredManifest>, OciError> {
        let url = self.repo_url(&format!("manifests/{reference}"))?;
        let during = format!("reading {reference}");
        let resp = self
            .send(
                Method::GET,
                url,
                Self::accept(ANY_MANIFEST),
                Body::Empty,
                &during,
                "pull",
            )
            .await?;
        match resp.status() {
            StatusCode::NOT_FOUND => Ok(None),
            s if s.is_success() => {
                let content_type = resp
                    .headers()
                    .get(header::CONTENT_TYPE)
                    .and_then(|v| v.to_str().ok())
                    .map(|v| v.split(';').next().unwrap_or(v).trim().to_string())
                    .unwrap_or_default();
                let bytes = self.read_body(resp, &during).await?;
                let digest = sha256_digest(&bytes);
                if reference.starts_with("sha256:") && digest != reference {
                    return Err(OciError::Protocol {
                        registry: self.reference.registry.clone(),
                        reason: format!("asked for manifest {reference}, got {digest}"),
                    });
                }
                // The media type the manifest declares wins over the header.
                let declared = serde_json::from_slice::<serde_json::Value>(&bytes)
                    .ok()
                    .and_then(|v| v["mediaType"].as_str().map(str::to_string));
                let media_type = declared
                    .filter(|m| !m.is_empty())
                    .or(Some(content_type).filter(|c| !c.is_empty()))
                    .unwrap_or_else(|| MANIFEST_MEDIA_TYPE.to_string());
                Ok(Some(StoredManifest {
                    digest,
                    media_type,
                    bytes,
                }))
            }
            _ => Err(self.rejected(resp, "manifest read").await),
        }
    }

    /// The digest a tag points at (HEAD), or None.
    pub async fn manifest_digest(&mut self, tag: &str) -> Result<Option<String>, OciError> {
        self.head_manifest(tag, Self::manifest_headers()).await
    }

    /// The digest a tag points at (HEAD), whatever the manifest's media
    /// type (image or index), or None.
    pub async fn any_manifest_digest(&mut self, tag: &str) -> Result<Option<String>, OciError> {
        self.head_manifest(tag, Self::accept(ANY_MANIFEST)).await
    }

    async fn head_manifest(
        &mut self,
        tag: &str,
        headers: HeaderMap,
    ) -> Result<Option<String>, OciError> {
        let url = self.repo_url(&format!("manifests/{tag}"))?;
        let during = format!("checking tag {tag}");
        let resp = self
            .send(
                Method::HEAD,
                url,
                headers.clone(),
                Body::Empty,
                &during,
                "pull",
            )
            .await?;
        match resp.status() {
            StatusCode::NOT_FOUND => Ok(None),
            s if s.is_success() => {
                let digest = resp
                    .headers()
                    .get("docker-content-digest")
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_string);
                match digest {
                    Some(d) => Ok(Some(d)),
                    // No digest header: read the manifest with the same Accept.
                    None => Ok(self.get_manifest_with(tag, headers).await?.map(|(d, _)| d)),
                }
            }
            _ => Err(self.rejected(resp, "manifest check").await),
        }
    }

    /// PUT the manifest bytes under a tag; checks the registry stored our digest.
    pub async fn put_manifest(&mut self, tag: &str, bytes: &[u8]) -> Result<String, OciError> {
        self.put_manifest_as(tag, bytes, MANIFEST_MEDIA_TYPE).await
    }

    /// PUT manifest bytes of any media type under a tag, unchanged (so the
    /// digest is the same); checks the registry stored our digest.
    pub async fn put_manifest_as(
        &mut self,
        tag: &str,
        bytes: &[u8],
        media_type: &str,
    ) -> Result<String, OciError> {
        let media_type = HeaderValue::from_str(media_type).map_err(|_| OciError::Protocol {
            registry: self.reference.registry.clone(),
            reason: format!("manifest media type {media_type:?} is not a header value"),
        })?;
        let url = self.repo_url(&format!("manifests/{tag}"))?;
        let during = format!("tagging {tag}");
        let resp = self
            .send(
                Method::PUT,
                url,
                HeaderMap::new(),
                Body::Typed(bytes::Bytes::copy_from_slice(bytes), media_type),
                &during,
                "push",
            )
            .await?;
        if !resp.status().is_success() {
            return Err(self.rejected(resp, "manifest").await);
        }
        let ours = sha256_digest(bytes);
        if let Some(theirs) = resp
            .headers()
            .get("docker-content-digest")
            .and_then(|v| v.to_str().ok())
            && theirs != ours
        {
            return Err(OciError::Protocol {
                registry: self.reference.registry.clone(),
                reason: format!("the registry stored the manifest as {theirs}, not {ours}"),
            });
        }
        Ok(ours)
    }

    /// The scheme in use, `https` or `http`.
    pub fn scheme(&self) -> &str {
        self.base.scheme()
    }

    /// Where the credentials came from.
    pub fn credential_source(&self) -> &CredentialSource {
        &self.creds.source
    }
}

fn challenge_of(resp: &reqwest::Response) -> Option<Challenge> {
    resp.headers()
        .get(header::WWW_AUTHENTICATE)
        .and_then(|v| v.to_str().ok())
        .and_then(parse_challenge)
}

/// Errors no retry will fix.
fn is_permanent(reason: &str) -> bool {
    let l = reason.to_ascii_lowercase();
    l.contains("certificate") || l.contains("dns error") || l.contains("failed to lookup")
}

fn short(digest: &str) -> &str {
    let end = digest.len().min(19);
    &digest[..end]
}

/// The origin of a URL (`scheme://host:port`), ports made explicit.
fn origin(url: &Url) -> String {
    format!(
        "{}://{}:{}",
        url.scheme(),
        url.host_str().unwrap_or_default().to_ascii_lowercase(),
        url.port_or_known_default().unwrap_or_default()
    )
}

fn build_http(ca_file: Option<&Path>) -> Result<reqwest::Client, OciError> {
    let mut b = reqwest::Client::builder()
        .user_agent(concat!("kubectl-gitlab-flux/", env!("CARGO_PKG_VERSION")))
        .connect_timeout(Duration::from_secs(15));
    if let Some(path) = ca_file {
        let err = |reason: String| OciError::CaFile {
            path: path.to_path_buf(),
            reason,
        };
        let pem = std::fs::read(path).map_err(|e| err(e.to_string()))?;
        let certs = reqwest::Certificate::from_pem_bundle(&pem).map_err(|e| err(e.to_string()))?;
        if certs.is_empty() {
            return Err(err("it holds no PEM certificate".into()));
        }
        b = b.tls_certs_merge(certs);
    }
    b.build().map_err(|e| OciError::CaFile {
        path: ca_file.map(Path::to_path_buf).unwrap_or_default(),
        reason: format!("cannot set up the HTTP client: {}", chain(&e)),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origins() {
        let url = |u: &str| Url::parse(u).expect("url");
        assert_eq!(
            origin(&url("https://Registry.example/v2/x")),
            "https://registry.example:443"
        );
        assert_eq!(
            origin(&url("https://registry.example:443/a")),
            origin(&url("https://registry.example/b?c"))
        );
        assert_ne!(
            origin(&url("http://127.0.0.1:5000/v2/")),
            origin(&url("http://127.0.0.1:5001/v2/"))
        );
        assert_ne!(
            origin(&url("http://registry.example/v2/")),
            origin(&url("https://registry.example/v2/"))
        );
    }

    #[test]
    fn challenges() {
        let c = parse_challenge(
            r#"Bearer realm="https://gitlab.example.com/jwt/auth",service="container_registry",scope="repository:a/b:push,pull",error="insufficient_scope""#,
        )
        .expect("challenge");
        assert_eq!(c.scheme, "Bearer");
        assert_eq!(
            c.param("realm"),
            Some("https://gitlab.example.com/jwt/auth")
        );
        assert_eq!(c.param("scope"), Some("repository:a/b:push,pull"));
        assert_eq!(c.param("error"), Some("insufficient_scope"));
        let c = parse_challenge(r#"Basic realm="Registry Realm""#).expect("basic");
        assert_eq!(c.scheme, "Basic");
        assert_eq!(c.param("realm"), Some("Registry Realm"));
        assert!(parse_challenge("").is_none());
    }

    #[test]
    fn error_envelopes() {
        let (code, msg) = error_code(
            br#"{"errors":[{"code":"MANIFEST_INVALID","message":"manifest invalid","detail":{}}]}"#,
        );
        assert_eq!(code, "MANIFEST_INVALID");
        assert_eq!(msg, "manifest invalid");
        let (code, msg) = error_code(b"<html>oops</html>");
        assert_eq!(code, "");
        assert_eq!(msg, "<html>oops</html>");
    }
}
