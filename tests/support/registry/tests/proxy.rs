//! The fault proxy: request log, injected failures, throttling, delays, cut connections and
//! large streamed bodies.

mod common;

use std::time::{Duration, Instant};

use common::{OCI_MANIFEST, RegClient, digest, roundtrip};
use reqwest::StatusCode;
use reqwest::header::{self, HeaderMap};
use testbed_registry::{FaultKind, FaultProxy, Registry, RegistryConfig, require_registry};

fn start() -> Option<(Registry, FaultProxy)> {
    if !require_registry() {
        return None;
    }
    let reg = Registry::start(RegistryConfig::default()).expect("registry starts");
    let proxy = FaultProxy::start(&reg).expect("proxy starts");
    Some((reg, proxy))
}

fn client(proxy: &FaultProxy) -> RegClient {
    RegClient::with_base(&proxy.base_url(), None)
}

#[test]
fn roundtrip_through_proxy_is_logged_and_stays_on_proxy() {
    let Some((reg, proxy)) = start() else {
        return;
    };
    assert_ne!(proxy.host(), reg.host());
    let mut c = client(&proxy);
    roundtrip(&mut c, "group/project");

    let log = proxy.requests();
    let summary: Vec<(&str, u16)> = log.iter().map(|r| (r.method.as_str(), r.status)).collect();
    assert_eq!(
        summary,
        [
            ("POST", 202),
            ("PUT", 201),
            ("POST", 202),
            ("PUT", 201),
            ("PUT", 201),
            ("GET", 200),
            ("GET", 200)
        ]
    );
    // The upload PUTs went to the proxy (Location rewritten), with the registry's session path.
    assert!(
        log.iter()
            .filter(|r| r.method == "PUT" && r.path.contains("/blobs/uploads/"))
            .all(|r| r.path.contains("digest=sha256%3A") || r.path.contains("digest=sha256:"))
    );
    assert!(log.iter().all(|r| r.fault.is_none()));

    // Location headers point at the proxy.
    let http = common::http_client(None);
    let resp = http
        .post(format!(
            "{}/v2/group/project/blobs/uploads/",
            proxy.base_url()
        ))
        .send()
        .expect("POST");
    let location = resp.headers()[header::LOCATION].to_str().expect("ascii");
    // distribution 2.8 sends absolute URLs built from the Host it saw (the upstream's).
    assert!(location.starts_with(&proxy.base_url()), "{location}");
    assert!(!location.contains(&reg.host()), "{location}");

    proxy.clear();
    assert!(proxy.requests().is_empty());
}

#[test]
fn fail_next_then_success() {
    let Some((_reg, proxy)) = start() else {
        return;
    };
    let http = common::http_client(None);
    proxy.fail_next(2, 503);
    for _ in 0..2 {
        let resp = http
            .get(format!("{}/v2/", proxy.base_url()))
            .send()
            .expect("GET");
        assert_eq!(resp.status(), StatusCode::SERVICE_UNAVAILABLE);
        let body: serde_json::Value = resp.json().expect("JSON errors body");
        assert_eq!(body["errors"][0]["code"], "UNAVAILABLE");
    }
    let resp = http
        .get(format!("{}/v2/", proxy.base_url()))
        .send()
        .expect("GET");
    assert_eq!(resp.status(), StatusCode::OK);

    let log = proxy.requests();
    assert_eq!(log.len(), 3);
    assert_eq!(log[0].fault, Some(FaultKind::Failed));
    assert_eq!(log[1].status, 503);
    assert_eq!(log[2].fault, None);
    assert_eq!(log[2].status, 200);
}

#[test]
fn fail_next_matching_only_hits_matching_requests() {
    let Some((_reg, proxy)) = start() else {
        return;
    };
    proxy.fail_next_matching("put", "/manifests/", 1, 500);
    let mut c = client(&proxy);
    let config = b"{}".to_vec();
    let layer = b"layer".to_vec();
    c.push_blob("a/b", &layer)
        .expect("blob upload is not affected");
    c.push_blob("a/b", &config)
        .expect("blob upload is not affected");
    let m = common::manifest(&config, &layer);
    let err = c
        .push_manifest("a/b", "v1", &m)
        .expect_err("first manifest PUT fails");
    assert!(err.contains("500"), "{err}");
    c.push_manifest("a/b", "v1", &m).expect("retry succeeds");

    let faults: Vec<_> = proxy
        .requests()
        .into_iter()
        .filter(|r| r.fault.is_some())
        .collect();
    assert_eq!(faults.len(), 1);
    assert_eq!(faults[0].method, "PUT");
    assert!(faults[0].path.ends_with("/manifests/v1"));
    assert_eq!(faults[0].status, 500);
}

#[test]
fn failed_upload_body_is_drained_so_the_client_sees_the_status() {
    let Some((_reg, proxy)) = start() else {
        return;
    };
    let mut c = client(&proxy);
    proxy.fail_next_matching("PUT", "/blobs/uploads/", 1, 500);
    let big = vec![7u8; 8 << 20];
    let err = c.push_blob("a/b", &big).expect_err("PUT fails");
    assert!(err.contains("500"), "{err}");
    c.push_blob("a/b", &big).expect("second try");
}

#[test]
fn throttle_sends_429_with_retry_after() {
    let Some((_reg, proxy)) = start() else {
        return;
    };
    let http = common::http_client(None);
    proxy.throttle_next(1, 7);
    let resp = http
        .get(format!("{}/v2/", proxy.base_url()))
        .send()
        .expect("GET");
    assert_eq!(resp.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(resp.headers()[header::RETRY_AFTER], "7");
    let body: serde_json::Value = resp.json().expect("JSON");
    assert_eq!(body["errors"][0]["code"], "TOOMANYREQUESTS");
    let resp = http
        .get(format!("{}/v2/", proxy.base_url()))
        .send()
        .expect("GET");
    assert_eq!(resp.status(), StatusCode::OK);
    let log = proxy.requests();
    assert_eq!(log[0].fault, Some(FaultKind::Throttled));
    assert_eq!(log[0].status, 429);
}

#[test]
fn delay_slows_every_response_until_cleared() {
    let Some((_reg, proxy)) = start() else {
        return;
    };
    let http = common::http_client(None);
    proxy.delay(Duration::from_millis(1500));
    let t = Instant::now();
    let resp = http
        .get(format!("{}/v2/", proxy.base_url()))
        .send()
        .expect("GET");
    assert_eq!(resp.status(), StatusCode::OK);
    assert!(t.elapsed() >= Duration::from_millis(1500));
    proxy.clear();
    let t = Instant::now();
    http.get(format!("{}/v2/", proxy.base_url()))
        .send()
        .expect("GET");
    assert!(t.elapsed() < Duration::from_millis(1500), "delay cleared");
}

#[test]
fn cut_upload_mid_body_gives_a_client_error() {
    let Some((_reg, proxy)) = start() else {
        return;
    };
    let mut c = client(&proxy);
    let blob = vec![42u8; 4 << 20];
    proxy.cut_next_matching("PUT", "/blobs/uploads/");
    let err = c.push_blob("a/b", &blob).expect_err("cut upload fails");
    assert!(err.starts_with("PUT upload: "), "{err}");

    let log = proxy.requests();
    let cut: Vec<_> = log.iter().filter(|r| r.fault.is_some()).collect();
    assert_eq!(cut.len(), 1);
    assert_eq!(cut[0].fault, Some(FaultKind::Cut));
    assert_eq!(cut[0].status, 0);

    // The blob did not make it; a second attempt does.
    let d = digest(&blob);
    let mut headers = HeaderMap::new();
    headers.insert(header::ACCEPT, "*/*".parse().expect("header"));
    let resp = c
        .send("HEAD", &format!("/v2/a/b/blobs/{d}"), headers, None)
        .expect("HEAD");
    assert_eq!(resp.status(), StatusCode::NOT_FOUND);
    assert_eq!(c.push_blob("a/b", &blob).expect("retry"), d);
}

#[test]
fn cut_download_mid_body_gives_a_truncated_body_error() {
    let Some((_reg, proxy)) = start() else {
        return;
    };
    let mut c = client(&proxy);
    let blob = vec![9u8; 1 << 20];
    let d = c.push_blob("a/b", &blob).expect("push");
    proxy.cut_next_matching("GET", "/blobs/sha256:");
    let resp = c
        .get(&format!("/v2/a/b/blobs/{d}"), None)
        .expect("headers arrive");
    assert_eq!(resp.status(), StatusCode::OK);
    assert!(resp.bytes().is_err(), "body must be truncated");
    let resp = c.get(&format!("/v2/a/b/blobs/{d}"), None).expect("GET");
    assert_eq!(resp.bytes().expect("full body").len(), blob.len());
}

#[test]
fn cut_without_body_drops_the_response() {
    let Some((_reg, proxy)) = start() else {
        return;
    };
    let mut c = client(&proxy);
    proxy.cut_next_matching("POST", "/blobs/uploads/");
    let err = c.push_blob("a/b", b"x").expect_err("no response");
    assert!(err.starts_with("POST upload: "), "{err}");
    c.push_blob("a/b", b"x").expect("retry");
}

#[test]
fn large_blob_streams_through_the_proxy() {
    let Some((_reg, proxy)) = start() else {
        return;
    };
    let mut c = client(&proxy);
    let blob: Vec<u8> = (0..100u32 << 20).map(|i| (i % 251) as u8).collect();
    let d = c.push_blob("big/blob", &blob).expect("push 100 MiB");
    let resp = c
        .get(&format!("/v2/big/blob/blobs/{d}"), None)
        .expect("GET");
    assert_eq!(resp.status(), StatusCode::OK);
    let back = resp.bytes().expect("body");
    assert_eq!(back.len(), blob.len());
    assert_eq!(digest(&back), d);
}

#[test]
fn proxy_refuses_tls_upstream() {
    if !require_registry() {
        return;
    }
    let reg = Registry::start(RegistryConfig {
        tls: true,
        ..Default::default()
    })
    .expect("registry");
    let err = FaultProxy::start(&reg).expect_err("TLS upstream unsupported");
    assert!(err.to_string().contains("plain-HTTP"), "{err}");
}

#[test]
fn manifest_roundtrip_request_count() {
    let Some((_reg, proxy)) = start() else {
        return;
    };
    let mut c = client(&proxy);
    roundtrip(&mut c, "x/y");
    proxy.clear();
    let resp = c
        .get("/v2/x/y/manifests/v1", Some(OCI_MANIFEST))
        .expect("GET");
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(proxy.requests().len(), 1);
}
