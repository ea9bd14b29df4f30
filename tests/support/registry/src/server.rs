//! Small hyper 1 server plumbing shared by the token server and the fault proxy, and the
//! per-fixture background runtime.

use std::future::Future;
use std::sync::Arc;

use bytes::Bytes;
use http_body_util::{BodyExt as _, Full};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;

/// Error type of bodies and services.
pub(crate) type BoxError = Box<dyn std::error::Error + Send + Sync>;
/// Body type of every response the fixture produces.
pub(crate) type BoxBody = http_body_util::combinators::BoxBody<Bytes, BoxError>;

/// A complete body.
pub(crate) fn full(b: impl Into<Bytes>) -> BoxBody {
    Full::new(b.into()).map_err(|never| match never {}).boxed()
}

/// A tokio runtime owned by one fixture. Dropping it from inside another runtime (an async
/// test) is allowed: it shuts down in the background.
pub(crate) struct Background {
    rt: Option<tokio::runtime::Runtime>,
}

impl Background {
    pub fn new(name: &str) -> anyhow::Result<Background> {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name(name)
            .enable_all()
            .build()?;
        Ok(Background { rt: Some(rt) })
    }

    pub fn handle(&self) -> &tokio::runtime::Handle {
        self.rt
            .as_ref()
            .expect("runtime present until drop")
            .handle()
    }
}

impl Drop for Background {
    fn drop(&mut self) {
        if let Some(rt) = self.rt.take() {
            rt.shutdown_background();
        }
    }
}

/// Bind a listener on a free loopback port (synchronously, so constructors need no runtime).
pub(crate) fn bind_loopback() -> anyhow::Result<std::net::TcpListener> {
    let l = std::net::TcpListener::bind(("127.0.0.1", 0))?;
    l.set_nonblocking(true)?;
    Ok(l)
}

/// Serve HTTP/1.1 on `listener`, optionally behind TLS, with `handler` for every request.
pub(crate) fn spawn_server<F, Fut>(
    rt: &tokio::runtime::Handle,
    listener: std::net::TcpListener,
    tls: Option<Arc<rustls::ServerConfig>>,
    handler: F,
) where
    F: Fn(Request<Incoming>) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<Response<BoxBody>, BoxError>> + Send + 'static,
{
    let handler = Arc::new(handler);
    rt.spawn(async move {
        let listener = match tokio::net::TcpListener::from_std(listener) {
            Ok(l) => l,
            Err(e) => {
                tracing::error!("testbed-registry: cannot register listener: {e}");
                return;
            }
        };
        let acceptor = tls.map(tokio_rustls::TlsAcceptor::from);
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            let _ = stream.set_nodelay(true);
            let handler = handler.clone();
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                let svc = service_fn(move |req| handler(req));
                let builder = http1::Builder::new();
                match acceptor {
                    Some(acceptor) => {
                        let Ok(stream) = acceptor.accept(stream).await else {
                            return;
                        };
                        let _ = builder.serve_connection(TokioIo::new(stream), svc).await;
                    }
                    None => {
                        let _ = builder.serve_connection(TokioIo::new(stream), svc).await;
                    }
                }
            });
        }
    });
}
