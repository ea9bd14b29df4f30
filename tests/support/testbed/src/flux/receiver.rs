//! notification-controller: Receiver objects and the webhook listener.

use std::convert::Infallible;
use std::sync::Arc;

use base64::Engine;
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::{Request, Response, StatusCode};
use serde_json::{Value, json};

use super::util::{self, generation_of, set_condition, status_map, str_at};
use super::{FluxKind, ObjKey, Shared, WorkerState};

/// `/hook/` + hex(sha256(token + name + namespace)).
pub(crate) fn webhook_path(token: &str, name: &str, namespace: &str) -> String {
    use sha2::Digest;
    let d = sha2::Sha256::digest(format!("{token}{name}{namespace}").as_bytes());
    format!("/hook/{}", hex::encode(d))
}

/// The token of a Receiver (`spec.secretRef` key `token`).
fn token_of(sh: &Shared, obj: &Value) -> Result<String, String> {
    let ns = util::ns_of(obj);
    let name = str_at(obj, "/spec/secretRef/name").unwrap_or("");
    let secret = sh.store.get("v1", "Secret", ns, name).ok_or_else(|| {
        format!(
            "unable to read token from secret '{ns}/{name}' error: secrets \"{name}\" not found"
        )
    })?;
    let b64 = base64::engine::general_purpose::STANDARD;
    let from_data = secret
        .pointer("/data/token")
        .and_then(Value::as_str)
        .and_then(|v| b64.decode(v).ok())
        .and_then(|b| String::from_utf8(b).ok());
    let from_string = secret
        .pointer("/stringData/token")
        .and_then(Value::as_str)
        .map(str::to_string);
    from_data
        .or(from_string)
        .ok_or_else(|| format!("invalid '{ns}/{name}' secret data: required field 'token'"))
}

pub(crate) fn reconcile(sh: &Arc<Shared>, key: &ObjKey, obj: Value, _st: &mut WorkerState) {
    let generation = generation_of(&obj);
    let mut status = status_map(&obj);
    util::handle_request(&obj, &mut status);
    match token_of(sh, &obj) {
        Ok(token) => {
            let path = webhook_path(&token, &key.name, &key.ns);
            let msg = format!("Receiver initialized for path: {path}");
            status.insert("webhookPath".into(), json!(path));
            status.insert("observedGeneration".into(), json!(generation));
            util::remove_condition(&mut status, "Reconciling");
            set_condition(&mut status, "Ready", "True", "Succeeded", &msg, generation);
        }
        Err(msg) => {
            status.remove("webhookPath");
            set_condition(
                &mut status,
                "Ready",
                "False",
                "TokenNotFound",
                &msg,
                generation,
            );
        }
    }
    if obj.get("status").and_then(serde_json::Value::as_object) != Some(&status) {
        sh.write_status(key, status);
    }
}

/// NC-CODES: notification-controller answers with a bare status code; the
/// reason only reaches its log (here: a debug trace).
fn reply(code: StatusCode, why: &str) -> Response<Full<Bytes>> {
    if !why.is_empty() {
        tracing::debug!("receiver answered {code}: {why}");
    }
    let mut r = Response::new(Full::new(Bytes::new()));
    *r.status_mut() = code;
    r
}

/// Accept connections until shutdown.
pub(crate) async fn serve(sh: Arc<Shared>, listener: tokio::net::TcpListener) {
    let mut shutdown = sh.shutdown.clone();
    loop {
        let accepted = tokio::select! {
            a = listener.accept() => a,
            _ = shutdown.changed() => return,
        };
        let Ok((stream, _)) = accepted else {
            continue;
        };
        let sh = sh.clone();
        tokio::spawn(async move {
            let svc = hyper::service::service_fn(move |req| {
                let sh = sh.clone();
                async move { Ok::<_, Infallible>(handle(&sh, req).await) }
            });
            let io = hyper_util::rt::TokioIo::new(stream);
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(io, svc)
                .await;
        });
    }
}

async fn handle(sh: &Shared, req: Request<Incoming>) -> Response<Full<Bytes>> {
    let path = req.uri().path().to_string();
    if !path.starts_with("/hook/") {
        return reply(StatusCode::NOT_FOUND, "not found");
    }
    if req.method() != hyper::Method::POST {
        return reply(StatusCode::METHOD_NOT_ALLOWED, "method not allowed");
    }
    let headers = req.headers().clone();
    let body = match req.into_body().collect().await {
        Ok(b) => b.to_bytes(),
        Err(_) => return reply(StatusCode::BAD_REQUEST, "unable to read the request body"),
    };
    let receivers = sh.store.list(
        FluxKind::Receiver.api_version(),
        FluxKind::Receiver.kind(),
        None,
    );
    let Some(recv) = receivers
        .into_iter()
        .find(|r| str_at(r, "/status/webhookPath") == Some(path.as_str()))
    else {
        return reply(StatusCode::NOT_FOUND, "receiver not found");
    };
    if util::bool_at(&recv, "/spec/suspend") {
        return reply(StatusCode::SERVICE_UNAVAILABLE, "receiver is suspended");
    }
    // NC-CODES: a Receiver that is not Ready answers 503.
    if !util::is_ready(&recv) {
        return reply(StatusCode::SERVICE_UNAVAILABLE, "receiver is not ready");
    }
    let token = match token_of(sh, &recv) {
        Ok(t) => t,
        Err(_) => return reply(StatusCode::SERVICE_UNAVAILABLE, "receiver is not ready"),
    };
    let header = |n: &str| headers.get(n).and_then(|v| v.to_str().ok()).unwrap_or("");
    let rtype = str_at(&recv, "/spec/type").unwrap_or("generic");
    let valid = match rtype {
        "generic" => Ok(()),
        "generic-hmac" => verify_hmac(header("X-Signature"), &body, &token),
        "github" => verify_hmac(header("X-Hub-Signature-256"), &body, &token)
            .and_then(|()| allowed_event(&recv, header("X-GitHub-Event"), "GitHub")),
        "gitlab" => {
            if header("X-Gitlab-Token") != token {
                Err("the X-Gitlab-Token header value does not match the receiver token".to_string())
            } else {
                // NC-GITLAB: with spec.events set, the X-Gitlab-Event header
                // must name one of them (case-insensitive), else 400.
                allowed_event(&recv, header("X-Gitlab-Event"), "GitLab")
            }
        }
        other => Err(format!(
            "receiver type '{other}' is not supported by the simulator"
        )),
    };
    if let Err(m) = valid {
        return reply(StatusCode::BAD_REQUEST, &m);
    }
    // NC-ANNOTATE: `metav1.Now().String()`, Go's time.Time String form.
    let now = util::now_go_time_string();
    let ns = util::ns_of(&recv).to_string();
    let resources = recv
        .pointer("/spec/resources")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let mut errors = Vec::new();
    for r in resources {
        if let Err(e) = annotate_resource(sh, &r, &ns, &now) {
            errors.push(e);
        }
    }
    if !errors.is_empty() {
        return reply(StatusCode::INTERNAL_SERVER_ERROR, &errors.join("; "));
    }
    sh.event(
        &recv,
        false,
        "Succeeded",
        &format!("handled '{rtype}' webhook request for {path}"),
    );
    reply(StatusCode::OK, "")
}

/// `spec.events` filter (empty: every event), case-insensitive.
fn allowed_event(recv: &Value, event: &str, provider: &str) -> Result<(), String> {
    let events: Vec<&str> = recv
        .pointer("/spec/events")
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    if events.is_empty() || events.iter().any(|e| e.eq_ignore_ascii_case(event)) {
        Ok(())
    } else {
        Err(format!("the {provider} event {event:?} is not authorised"))
    }
}

fn verify_hmac(header: &str, body: &[u8], token: &str) -> Result<(), String> {
    use hmac::{Hmac, Mac};
    let Some(sig) = header.strip_prefix("sha256=") else {
        return Err("unsupported or missing signature (expected 'sha256=<hex>')".into());
    };
    let Ok(sig) = hex::decode(sig) else {
        return Err("invalid signature encoding".into());
    };
    let mut mac =
        Hmac::<sha2::Sha256>::new_from_slice(token.as_bytes()).map_err(|e| format!("hmac: {e}"))?;
    mac.update(body);
    mac.verify_slice(&sig)
        .map_err(|_| "unable to validate HMAC signature".to_string())
}

/// Default apiVersion of a Flux kind named in `spec.resources`.
fn default_api_version(kind: &str) -> Option<&'static str> {
    Some(match kind {
        "OCIRepository" | "GitRepository" | "Bucket" | "HelmRepository" | "HelmChart" => {
            "source.toolkit.fluxcd.io/v1"
        }
        "Kustomization" => "kustomize.toolkit.fluxcd.io/v1",
        "HelmRelease" => "helm.toolkit.fluxcd.io/v2",
        "ImageRepository" => "image.toolkit.fluxcd.io/v1beta2",
        _ => return None,
    })
}

fn annotate_resource(sh: &Shared, r: &Value, recv_ns: &str, now: &str) -> Result<(), String> {
    let kind = r.get("kind").and_then(Value::as_str).unwrap_or("");
    let name = r.get("name").and_then(Value::as_str).unwrap_or("");
    let ns = r
        .get("namespace")
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .unwrap_or(recv_ns);
    let api = r
        .get("apiVersion")
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .or_else(|| default_api_version(kind))
        .ok_or_else(|| format!("unknown resource kind '{kind}'"))?;
    let patch = json!({"metadata": {"annotations": {util::REQUESTED_AT: now}}});
    if name == "*" {
        let labels = r
            .get("matchLabels")
            .and_then(Value::as_object)
            .cloned()
            .unwrap_or_default();
        for obj in sh.store.list(api, kind, Some(ns)) {
            let matches = labels
                .iter()
                .all(|(k, v)| obj.pointer("/metadata/labels").and_then(|l| l.get(k)) == Some(v));
            if matches {
                sh.store
                    .merge_patch(api, kind, ns, util::name_of(&obj), patch.clone())
                    .map_err(|e| format!("{kind}/{ns}/{}: {e}", util::name_of(&obj)))?;
            }
        }
        return Ok(());
    }
    sh.store
        .merge_patch(api, kind, ns, name, patch)
        .map(|_| ())
        .map_err(|e| format!("{kind}/{ns}/{name}: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn webhook_path_is_sha256_of_token_name_namespace() {
        use sha2::Digest;
        let p = webhook_path("tok", "recv", "flux-system");
        let want = hex::encode(sha2::Sha256::digest(b"tokrecvflux-system"));
        assert_eq!(p, format!("/hook/{want}"));
    }

    #[test]
    fn hmac_validation() {
        use hmac::{Hmac, Mac};
        let mut mac =
            Hmac::<sha2::Sha256>::new_from_slice(b"tok").unwrap_or_else(|_| unreachable!());
        mac.update(b"body");
        let sig = format!("sha256={}", hex::encode(mac.finalize().into_bytes()));
        assert!(verify_hmac(&sig, b"body", "tok").is_ok());
        assert!(verify_hmac(&sig, b"other", "tok").is_err());
        assert!(verify_hmac("", b"body", "tok").is_err());
    }
}
