//! Fault-injecting reverse proxy in front of a plain-HTTP registry.

use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::BodyExt as _;
use hyper::body::{Body, Frame, Incoming, SizeHint};
use hyper::header::{self, HeaderMap, HeaderName, HeaderValue};
use hyper::{Request, Response, StatusCode};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use serde_json::json;

use crate::server::{self, BoxBody, BoxError, full};
use crate::{Registry, lock};

/// What the proxy did to a request instead of (or on top of) forwarding it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FaultKind {
    /// Answered with an injected error status, not forwarded.
    Failed,
    /// Answered 429 with `Retry-After`, not forwarded.
    Throttled,
    /// Forwarded, but the connection was cut in the middle of the request or response body.
    Cut,
}

/// One request seen by the proxy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestRecord {
    /// HTTP method, e.g. `PUT`.
    pub method: String,
    /// Path and query, e.g. `/v2/a/b/blobs/uploads/?digest=sha256:…`.
    pub path: String,
    /// Status the client got; `0` when the connection was cut before a response was sent.
    pub status: u16,
    /// The fault injected, if any.
    pub fault: Option<FaultKind>,
}

#[derive(Debug, Clone, Copy)]
enum Action {
    Fail(u16),
    Throttle(u64),
    Cut,
}

struct Rule {
    method: Option<String>,
    path_contains: Option<String>,
    remaining: usize,
    action: Action,
}

struct State {
    upstream: String,
    self_host: String,
    rules: Mutex<Vec<Rule>>,
    delay: Mutex<Duration>,
    log: Mutex<Vec<RequestRecord>>,
    client: Client<HttpConnector, BoxBody>,
}

impl State {
    fn take_action(&self, method: &str, path: &str) -> Option<Action> {
        let mut rules = lock(&self.rules);
        let idx = rules.iter().position(|r| {
            r.remaining > 0
                && r.method
                    .as_deref()
                    .is_none_or(|m| m.eq_ignore_ascii_case(method))
                && r.path_contains.as_deref().is_none_or(|p| path.contains(p))
        })?;
        let rule = &mut rules[idx];
        rule.remaining -= 1;
        let action = rule.action;
        if rule.remaining == 0 {
            rules.remove(idx);
        }
        Some(action)
    }

    fn record(&self, method: &str, path: &str, status: u16, fault: Option<FaultKind>) {
        lock(&self.log).push(RequestRecord {
            method: method.to_string(),
            path: path.to_string(),
            status,
            fault,
        });
    }

    fn add_rule(
        &self,
        method: Option<&str>,
        path_contains: Option<&str>,
        n: usize,
        action: Action,
    ) {
        if n == 0 {
            return;
        }
        lock(&self.rules).push(Rule {
            method: method.map(str::to_string),
            path_contains: path_contains.map(str::to_string),
            remaining: n,
            action,
        });
    }
}

/// A plain-HTTP reverse proxy on its own `127.0.0.1` port in front of a plain-HTTP registry,
/// which can fail, throttle, delay or cut requests on demand and records every request.
///
/// Absolute `Location` headers pointing at the upstream are rewritten to the proxy, so upload
/// sessions keep going through it. Bodies are streamed, never buffered whole.
///
/// Fault rules are consumed in the order they were added: a request takes the first rule that
/// matches it and still has uses left.
pub struct FaultProxy {
    state: Arc<State>,
    port: u16,
    _background: server::Background,
}

impl std::fmt::Debug for FaultProxy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FaultProxy")
            .field("host", &self.host())
            .field("upstream", &self.state.upstream)
            .finish()
    }
}

impl FaultProxy {
    /// Start a proxy in front of `upstream`, which must serve plain HTTP. The registry must
    /// outlive the proxy.
    pub fn start(upstream: &Registry) -> anyhow::Result<FaultProxy> {
        if upstream.is_tls() {
            anyhow::bail!(
                "FaultProxy needs a plain-HTTP upstream registry (RegistryConfig::tls = false)"
            );
        }
        FaultProxy::start_for_host(&upstream.host())
    }

    /// Start a proxy in front of any plain-HTTP server at `host` (`127.0.0.1:PORT`).
    pub fn start_for_host(host: &str) -> anyhow::Result<FaultProxy> {
        let background = server::Background::new("testbed-proxy")?;
        let listener = server::bind_loopback()?;
        let port = listener.local_addr()?.port();
        let mut connector = HttpConnector::new();
        connector.set_nodelay(true);
        let client = Client::builder(TokioExecutor::new())
            .pool_idle_timeout(Duration::from_secs(30))
            .build(connector);
        let state = Arc::new(State {
            upstream: host.to_string(),
            self_host: format!("127.0.0.1:{port}"),
            rules: Mutex::new(Vec::new()),
            delay: Mutex::new(Duration::ZERO),
            log: Mutex::new(Vec::new()),
            client,
        });
        let handler_state = state.clone();
        server::spawn_server(background.handle(), listener, None, move |req| {
            handle(handler_state.clone(), req)
        });
        Ok(FaultProxy {
            state,
            port,
            _background: background,
        })
    }

    /// `127.0.0.1:PORT` of the proxy.
    pub fn host(&self) -> String {
        self.state.self_host.clone()
    }

    /// `http://127.0.0.1:PORT` of the proxy.
    pub fn base_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Answer the next `n` requests with `status` and a distribution-style JSON error body,
    /// without forwarding them.
    pub fn fail_next(&self, n: usize, status: u16) {
        self.state.add_rule(None, None, n, Action::Fail(status));
    }

    /// Like [`FaultProxy::fail_next`], only for requests with `method` (case-insensitive)
    /// whose path and query contain `path_contains`.
    pub fn fail_next_matching(&self, method: &str, path_contains: &str, n: usize, status: u16) {
        self.state
            .add_rule(Some(method), Some(path_contains), n, Action::Fail(status));
    }

    /// Answer the next `n` requests with 429 Too Many Requests and
    /// `Retry-After: retry_after_secs`, without forwarding them.
    pub fn throttle_next(&self, n: usize, retry_after_secs: u64) {
        self.state
            .add_rule(None, None, n, Action::Throttle(retry_after_secs));
    }

    /// Delay every response by `d` (`Duration::ZERO` turns it off).
    pub fn delay(&self, d: Duration) {
        *lock(&self.state.delay) = d;
    }

    /// The next request with `method` whose path contains `path_contains` is forwarded, but the
    /// connection is cut mid-body: for a request with a body (blob upload `PATCH`/`PUT`) after
    /// half of it went upstream, with no response sent; otherwise after half of the response
    /// body (or right after the upstream answered, when it has none).
    pub fn cut_next_matching(&self, method: &str, path_contains: &str) {
        self.state
            .add_rule(Some(method), Some(path_contains), 1, Action::Cut);
    }

    /// Every request seen so far, in completion order.
    pub fn requests(&self) -> Vec<RequestRecord> {
        lock(&self.state.log).clone()
    }

    /// Forget recorded requests and pending faults, and turn off the delay.
    pub fn clear(&self) {
        lock(&self.state.log).clear();
        lock(&self.state.rules).clear();
        *lock(&self.state.delay) = Duration::ZERO;
    }
}

fn error_code(status: u16) -> &'static str {
    match status {
        400 => "UNSUPPORTED",
        401 => "UNAUTHORIZED",
        403 => "DENIED",
        404 => "NAME_UNKNOWN",
        429 => "TOOMANYREQUESTS",
        503 => "UNAVAILABLE",
        _ => "UNKNOWN",
    }
}

fn error_response(status: u16, message: &str) -> Response<BoxBody> {
    let body =
        json!({"errors": [{"code": error_code(status), "message": message, "detail": null}]});
    let mut resp = Response::new(full(body.to_string()));
    *resp.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json; charset=utf-8"),
    );
    resp.headers_mut().insert(
        HeaderName::from_static("docker-distribution-api-version"),
        HeaderValue::from_static("registry/2.0"),
    );
    resp
}

const HOP_BY_HOP: &[&str] = &[
    "connection",
    "keep-alive",
    "proxy-authenticate",
    "proxy-authorization",
    "proxy-connection",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
];

fn strip_hop_by_hop(headers: &mut HeaderMap) {
    for h in HOP_BY_HOP {
        headers.remove(*h);
    }
}

fn content_length(headers: &HeaderMap) -> Option<u64> {
    headers
        .get(header::CONTENT_LENGTH)?
        .to_str()
        .ok()?
        .parse()
        .ok()
}

async fn handle(state: Arc<State>, req: Request<Incoming>) -> Result<Response<BoxBody>, BoxError> {
    let method = req.method().to_string();
    let path = req
        .uri()
        .path_and_query()
        .map(|p| p.as_str().to_string())
        .unwrap_or_else(|| "/".to_string());
    let action = state.take_action(&method, &path);
    let delay = *lock(&state.delay);
    if !delay.is_zero() {
        tokio::time::sleep(delay).await;
    }

    match action {
        Some(Action::Fail(status)) => {
            // Read the request body so the client sees the answer, not a broken pipe.
            drain(req.into_body()).await;
            state.record(&method, &path, status, Some(FaultKind::Failed));
            Ok(error_response(
                status,
                "injected by the testbed-registry fault proxy",
            ))
        }
        Some(Action::Throttle(secs)) => {
            drain(req.into_body()).await;
            state.record(&method, &path, 429, Some(FaultKind::Throttled));
            let mut resp = error_response(
                429,
                "too many requests (injected by the testbed-registry fault proxy)",
            );
            resp.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(secs));
            Ok(resp)
        }
        Some(Action::Cut) => cut(state, req, method, path).await,
        None => forward(state, req, method, path).await,
    }
}

async fn drain(mut body: Incoming) {
    while let Some(frame) = body.frame().await {
        if frame.is_err() {
            break;
        }
    }
}

fn upstream_request(
    state: &State,
    req: Request<()>,
    body: BoxBody,
    path: &str,
) -> Result<Request<BoxBody>, BoxError> {
    let (parts, _) = req.into_parts();
    let uri: hyper::Uri = format!("http://{}{}", state.upstream, path).parse()?;
    let mut out = Request::builder()
        .method(parts.method)
        .uri(uri)
        .body(body)?;
    *out.headers_mut() = parts.headers;
    strip_hop_by_hop(out.headers_mut());
    out.headers_mut()
        .insert(header::HOST, HeaderValue::from_str(&state.upstream)?);
    Ok(out)
}

fn rewrite_response(state: &State, resp: Response<Incoming>) -> Response<Incoming> {
    let (mut parts, body) = resp.into_parts();
    strip_hop_by_hop(&mut parts.headers);
    if let Some(loc) = parts
        .headers
        .get(header::LOCATION)
        .and_then(|v| v.to_str().ok())
    {
        let rewritten = loc.replacen(
            &format!("http://{}", state.upstream),
            &format!("http://{}", state.self_host),
            1,
        );
        if let Ok(v) = HeaderValue::from_str(&rewritten) {
            parts.headers.insert(header::LOCATION, v);
        }
    }
    Response::from_parts(parts, body)
}

async fn forward(
    state: Arc<State>,
    req: Request<Incoming>,
    method: String,
    path: String,
) -> Result<Response<BoxBody>, BoxError> {
    let (parts, body) = req.into_parts();
    let req = Request::from_parts(parts, ());
    let body = body.map_err(BoxError::from).boxed();
    let upstream = upstream_request(&state, req, body, &path);
    let upstream = match upstream {
        Ok(r) => r,
        Err(e) => {
            state.record(&method, &path, 502, None);
            return Ok(error_response(
                502,
                &format!("fault proxy: bad request: {e}"),
            ));
        }
    };
    match state.client.request(upstream).await {
        Ok(resp) => {
            let resp = rewrite_response(&state, resp);
            state.record(&method, &path, resp.status().as_u16(), None);
            Ok(resp.map(|b| b.map_err(BoxError::from).boxed()))
        }
        Err(e) => {
            state.record(&method, &path, 502, None);
            Ok(error_response(
                502,
                &format!("fault proxy: upstream request failed: {e}"),
            ))
        }
    }
}

async fn cut(
    state: Arc<State>,
    req: Request<Incoming>,
    method: String,
    path: String,
) -> Result<Response<BoxBody>, BoxError> {
    let declared = content_length(req.headers());
    let has_body =
        declared.is_some_and(|n| n > 0) || req.headers().contains_key(header::TRANSFER_ENCODING);
    let (parts, body) = req.into_parts();
    let req = Request::from_parts(parts, ());

    if has_body {
        // Forward half of the request body, then fail the stream: hyper aborts the upstream
        // request, and returning an error here drops the client connection without a response.
        let limit = declared.map(|n| n / 2).unwrap_or(0);
        let body = CutBody::new(body, limit).boxed();
        let upstream = upstream_request(&state, req, body, &path)?;
        let _ = state.client.request(upstream).await;
        state.record(&method, &path, 0, Some(FaultKind::Cut));
        return Err("connection cut by the testbed-registry fault proxy".into());
    }

    let body = body.map_err(BoxError::from).boxed();
    let upstream = upstream_request(&state, req, body, &path)?;
    let resp = rewrite_response(&state, state.client.request(upstream).await?);
    let declared = content_length(resp.headers());
    match declared {
        Some(n) if n > 0 && method != "HEAD" => {
            state.record(&method, &path, resp.status().as_u16(), Some(FaultKind::Cut));
            Ok(resp.map(|b| CutBody::new(b, n / 2).boxed()))
        }
        _ => {
            state.record(&method, &path, 0, Some(FaultKind::Cut));
            Err("connection cut by the testbed-registry fault proxy".into())
        }
    }
}

/// Passes through at most `limit` bytes (at least one frame's worth when `limit` is 0), then
/// fails.
struct CutBody {
    inner: Incoming,
    limit: u64,
    sent: u64,
    done: bool,
}

impl CutBody {
    fn new(inner: Incoming, limit: u64) -> CutBody {
        CutBody {
            inner,
            limit,
            sent: 0,
            done: false,
        }
    }
}

impl Body for CutBody {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let this = &mut *self;
        if this.done || (this.sent >= this.limit && this.sent > 0) {
            this.done = true;
            return Poll::Ready(Some(Err(
                "body cut by the testbed-registry fault proxy".into()
            )));
        }
        match Pin::new(&mut this.inner).poll_frame(cx) {
            Poll::Ready(Some(Ok(frame))) => match frame.into_data() {
                Ok(mut data) => {
                    let room = if this.limit == 0 {
                        data.len() as u64
                    } else {
                        this.limit - this.sent
                    };
                    if (data.len() as u64) > room {
                        data.truncate(room as usize);
                    }
                    this.sent += data.len() as u64;
                    if data.is_empty() {
                        this.done = true;
                        return Poll::Ready(Some(Err(
                            "body cut by the testbed-registry fault proxy".into(),
                        )));
                    }
                    Poll::Ready(Some(Ok(Frame::data(data))))
                }
                Err(frame) => Poll::Ready(Some(Ok(frame))),
            },
            Poll::Ready(Some(Err(e))) => Poll::Ready(Some(Err(e.into()))),
            // Never end cleanly: the point is a truncated body.
            Poll::Ready(None) => {
                this.done = true;
                Poll::Ready(Some(Err(
                    "body cut by the testbed-registry fault proxy".into()
                )))
            }
            Poll::Pending => Poll::Pending,
        }
    }

    fn is_end_stream(&self) -> bool {
        false
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}
