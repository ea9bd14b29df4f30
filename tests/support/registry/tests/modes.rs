//! Every registry mode: push (monolithic POST+PUT) blobs and an OCI manifest, pull them back;
//! authentication failures; lifecycle.

mod common;

use std::time::Duration;

use common::{OCI_MANIFEST, RegClient, param, parse_challenge, roundtrip};
use reqwest::StatusCode;
use reqwest::header::{self, HeaderMap};
use testbed_registry::{Auth, Registry, RegistryConfig, require_registry};

fn start(cfg: RegistryConfig) -> Option<Registry> {
    if !require_registry() {
        return None;
    }
    Some(Registry::start(cfg).expect("registry starts"))
}

fn htpasswd() -> Auth {
    Auth::Htpasswd {
        username: "alice".into(),
        password: "wonderland".into(),
    }
}

#[test]
fn open_roundtrip_and_delete() {
    let Some(reg) = start(RegistryConfig::default()) else {
        return;
    };
    assert!(reg.base_url().starts_with("http://127.0.0.1:"));
    assert_eq!(reg.base_url(), format!("http://{}", reg.host()));
    assert!(reg.credentials().is_none() && reg.ca_pem().is_none() && reg.token_url().is_none());
    let mut c = RegClient::new(&reg);
    roundtrip(&mut c, "group/project");

    // storage.delete.enabled: manifests can be deleted by digest.
    let resp = c
        .get("/v2/group/project/manifests/v1", Some(OCI_MANIFEST))
        .expect("GET manifest");
    let d = resp.headers()["docker-content-digest"]
        .to_str()
        .expect("ascii")
        .to_string();
    let resp = c
        .send(
            "DELETE",
            &format!("/v2/group/project/manifests/{d}"),
            HeaderMap::new(),
            None,
        )
        .expect("DELETE");
    assert_eq!(resp.status(), StatusCode::ACCEPTED);
    let resp = c
        .get("/v2/group/project/manifests/v1", Some(OCI_MANIFEST))
        .expect("GET manifest");
    assert_eq!(resp.status(), StatusCode::NOT_FOUND);
}

/// distribution 2.8 answers 404 MANIFEST_UNKNOWN for an OCI manifest when the client does not
/// list the OCI media type in `Accept`. Documented here because it surprises everyone once.
#[test]
fn oci_manifest_needs_accept_header() {
    let Some(reg) = start(RegistryConfig::default()) else {
        return;
    };
    let mut c = RegClient::new(&reg);
    roundtrip(&mut c, "a/b");
    let resp = c.get("/v2/a/b/manifests/v1", None).expect("GET");
    assert_eq!(resp.status(), StatusCode::NOT_FOUND);
    let resp = c
        .get("/v2/a/b/manifests/v1", Some(OCI_MANIFEST))
        .expect("GET");
    assert_eq!(resp.status(), StatusCode::OK);
}

#[test]
fn htpasswd_roundtrip() {
    let Some(reg) = start(RegistryConfig {
        auth: htpasswd(),
        ..Default::default()
    }) else {
        return;
    };
    assert_eq!(
        reg.credentials(),
        Some(("alice".to_string(), "wonderland".to_string()))
    );
    let mut c = RegClient::new(&reg);
    roundtrip(&mut c, "group/project");
    assert!(c.auth.as_deref().is_some_and(|a| a.starts_with("Basic ")));
}

#[test]
fn htpasswd_rejects_missing_and_wrong_credentials() {
    let Some(reg) = start(RegistryConfig {
        auth: htpasswd(),
        ..Default::default()
    }) else {
        return;
    };
    let http = common::http_client(None);
    let resp = http
        .get(format!("{}/v2/", reg.base_url()))
        .send()
        .expect("GET /v2/");
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
    let challenge = resp.headers()[header::WWW_AUTHENTICATE]
        .to_str()
        .expect("ascii");
    assert!(challenge.starts_with("Basic realm="), "{challenge}");

    let resp = http
        .get(format!("{}/v2/", reg.base_url()))
        .basic_auth("alice", Some("not-the-password"))
        .send()
        .expect("GET /v2/");
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);

    let mut c = RegClient::new(&reg);
    c.creds = Some(("alice".into(), "nope".into()));
    assert!(c.push_blob("x/y", b"data").is_err());
}

fn token_config() -> RegistryConfig {
    RegistryConfig {
        auth: Auth::gitlab_ci("job-token-123"),
        pull_only_users: vec![("deployer".into(), "read-only".into())],
        ..Default::default()
    }
}

#[test]
fn token_roundtrip_gitlab_style_challenge() {
    let Some(reg) = start(token_config()) else {
        return;
    };
    let realm = reg.token_url().expect("token mode has a realm");
    assert!(realm.starts_with("http://127.0.0.1:") && realm.ends_with("/jwt/auth"));

    let http = common::http_client(None);
    let resp = http
        .post(format!(
            "{}/v2/group/project/blobs/uploads/",
            reg.base_url()
        ))
        .send()
        .expect("POST");
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
    let (scheme, params) = parse_challenge(
        resp.headers()[header::WWW_AUTHENTICATE]
            .to_str()
            .expect("ascii"),
    );
    assert_eq!(scheme, "Bearer");
    assert_eq!(param(&params, "realm"), Some(realm.as_str()));
    assert_eq!(param(&params, "service"), Some("container_registry"));
    // distribution lists the actions in random order (Go map iteration): `pull,push` or
    // `push,pull`.
    assert!(
        matches!(
            param(&params, "scope"),
            Some("repository:group/project:pull,push" | "repository:group/project:push,pull")
        ),
        "{params:?}"
    );

    let mut c = RegClient::new(&reg);
    roundtrip(&mut c, "group/project");
    assert!(c.auth.as_deref().is_some_and(|a| a.starts_with("Bearer ")));

    let log = reg.token_requests();
    assert!(!log.is_empty());
    assert!(
        log.iter()
            .all(|r| r.status == 200 && r.username.as_deref() == Some("gitlab-ci-token"))
    );
    assert!(
        log.iter()
            .any(|r| r.scopes == ["repository:group/project:pull,push"]
                || r.scopes == ["repository:group/project:push,pull"]),
        "{log:?}"
    );
}

#[test]
fn token_server_rejects_wrong_password_like_gitlab() {
    let Some(reg) = start(token_config()) else {
        return;
    };
    let realm = reg.token_url().expect("realm");
    let http = common::http_client(None);
    let resp = http
        .get(format!(
            "{realm}?service=container_registry&scope=repository%3Agroup%2Fproject%3Apush%2Cpull"
        ))
        .basic_auth("gitlab-ci-token", Some("wrong"))
        .send()
        .expect("token request");
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
    let body: serde_json::Value = resp.json().expect("JSON error body");
    assert_eq!(body["errors"][0]["code"], "UNAUTHORIZED");

    // Through the whole flow: the push fails with 401.
    let mut c = RegClient::new(&reg);
    c.creds = Some(("gitlab-ci-token".into(), "wrong".into()));
    let err = c.push_blob("group/project", b"x").expect_err("must fail");
    assert!(err.contains("401"), "{err}");
    let log = reg.token_requests();
    assert!(log.iter().all(|r| r.status == 401));
}

#[test]
fn token_pull_only_user_can_pull_but_not_push() {
    let Some(reg) = start(token_config()) else {
        return;
    };
    let mut owner = RegClient::new(&reg);
    roundtrip(&mut owner, "group/project");

    let mut reader = RegClient::new(&reg);
    reader.creds = Some(("deployer".into(), "read-only".into()));
    let resp = reader
        .get("/v2/group/project/manifests/v1", Some(OCI_MANIFEST))
        .expect("GET");
    assert_eq!(resp.status(), StatusCode::OK);

    let mut reader = RegClient::new(&reg);
    reader.creds = Some(("deployer".into(), "read-only".into()));
    let err = reader
        .push_blob("group/project", b"nope")
        .expect_err("pull-only user must not push");
    assert!(err.contains("401"), "{err}");
    assert_eq!(
        reader.tokens_fetched, 1,
        "a token was issued, just without push"
    );
}

#[test]
fn token_anonymous_gets_no_access() {
    let Some(reg) = start(token_config()) else {
        return;
    };
    let mut owner = RegClient::new(&reg);
    roundtrip(&mut owner, "group/project");
    let mut anon = RegClient::new(&reg);
    anon.creds = None;
    let resp = anon
        .get("/v2/group/project/manifests/v1", Some(OCI_MANIFEST))
        .expect("GET");
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(anon.tokens_fetched, 1);
    assert!(reg.token_requests().iter().any(|r| r.username.is_none()));
}

#[test]
fn token_expired_is_rejected() {
    let Some(reg) = start(RegistryConfig {
        token_ttl: Duration::from_secs(10),
        ..token_config()
    }) else {
        return;
    };
    let mut c = RegClient::new(&reg);
    roundtrip(&mut c, "group/project");

    // Tokens issued from now on expired 70 s ago (beyond distribution's 60 s leeway).
    reg.set_token_backdate(Duration::from_secs(80));
    let mut c = RegClient::new(&reg);
    let resp = c
        .get("/v2/group/project/manifests/v1", Some(OCI_MANIFEST))
        .expect("GET");
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
    let challenge = resp.headers()[header::WWW_AUTHENTICATE]
        .to_str()
        .expect("ascii");
    assert!(challenge.contains("error=\"invalid_token\""), "{challenge}");

    // And fresh tokens work again.
    reg.set_token_backdate(Duration::ZERO);
    let mut c = RegClient::new(&reg);
    let resp = c
        .get("/v2/group/project/manifests/v1", Some(OCI_MANIFEST))
        .expect("GET");
    assert_eq!(resp.status(), StatusCode::OK);
}

#[test]
fn tls_roundtrip_with_custom_ca() {
    let Some(reg) = start(RegistryConfig {
        tls: true,
        ..Default::default()
    }) else {
        return;
    };
    assert!(reg.base_url().starts_with("https://127.0.0.1:"));
    let ca = reg.ca_pem().expect("CA");
    assert!(ca.starts_with("-----BEGIN CERTIFICATE-----"));
    assert_eq!(
        std::fs::read_to_string(reg.ca_path().expect("CA path")).expect("CA file"),
        ca
    );
    let mut c = RegClient::new(&reg);
    roundtrip(&mut c, "group/project");

    // Also valid for "localhost".
    let http = common::http_client(Some(&ca));
    let resp = http
        .get(format!("https://localhost:{}/v2/", reg.port()))
        .send()
        .expect("GET via localhost");
    assert_eq!(resp.status(), StatusCode::OK);

    // Without the CA the server is not trusted.
    let other = Registry::start(RegistryConfig {
        tls: true,
        ..Default::default()
    })
    .expect("second registry");
    let http = common::http_client(other.ca_pem().as_deref());
    let err = http
        .get(format!("{}/v2/", reg.base_url()))
        .send()
        .expect_err("another CA must not be trusted");
    assert!(err.is_connect() || err.is_request(), "{err:?}");
}

#[test]
fn tls_htpasswd_roundtrip() {
    let Some(reg) = start(RegistryConfig {
        tls: true,
        auth: htpasswd(),
        ..Default::default()
    }) else {
        return;
    };
    let mut c = RegClient::new(&reg);
    roundtrip(&mut c, "group/project");
}

#[test]
fn tls_token_roundtrip() {
    let Some(reg) = start(RegistryConfig {
        tls: true,
        ..token_config()
    }) else {
        return;
    };
    let realm = reg.token_url().expect("realm");
    assert!(realm.starts_with("https://127.0.0.1:"), "{realm}");
    let mut c = RegClient::new(&reg);
    roundtrip(&mut c, "group/sub/project");
    assert!(c.tokens_fetched >= 1);
}

#[test]
fn drop_stops_the_registry_and_removes_files() {
    let Some(reg) = start(token_config()) else {
        return;
    };
    let addr = reg.host();
    let realm = reg.token_url().expect("realm");
    let dir = reg.log_path().parent().expect("dir").to_path_buf();
    assert!(dir.is_dir());
    drop(reg);
    assert!(!dir.exists(), "temp dir removed");
    assert!(
        std::net::TcpStream::connect(&addr).is_err(),
        "registry stopped"
    );
    let token_addr = realm
        .trim_start_matches("http://")
        .trim_end_matches("/jwt/auth")
        .to_string();
    // The token server's runtime shuts down in the background: give it a moment.
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    while std::net::TcpStream::connect(&token_addr).is_ok() {
        assert!(
            std::time::Instant::now() < deadline,
            "token server still up"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn config_errors_are_clear() {
    if !require_registry() {
        return;
    }
    let err = Registry::start(RegistryConfig {
        pull_only_users: vec![("a".into(), "b".into())],
        ..Default::default()
    })
    .expect_err("pull-only users need token mode");
    assert!(format!("{err:#}").contains("Auth::Token"), "{err:#}");

    // A registry that refuses its configuration: the error carries the log tail.
    let err = Registry::start(RegistryConfig {
        log_level: "no-such-level".into(),
        ..Default::default()
    })
    .expect_err("bad log level");
    let msg = format!("{err:#}");
    assert!(msg.contains("failed to start; log tail"), "{msg}");
    assert!(msg.contains("no-such-level"), "{msg}");
}

#[test]
fn debug_output_never_shows_passwords() {
    let cfg = RegistryConfig {
        auth: Auth::gitlab_ci("super-secret-token"),
        pull_only_users: vec![("r".into(), "also-secret".into())],
        ..Default::default()
    };
    let s = format!("{cfg:?}");
    assert!(
        !s.contains("super-secret-token") && !s.contains("also-secret"),
        "{s}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn usable_and_droppable_inside_async_tests() {
    if !require_registry() {
        return;
    }
    let reg = Registry::start(token_config()).expect("start");
    let open = Registry::start(RegistryConfig::default()).expect("start");
    let proxy = testbed_registry::FaultProxy::start(&open).expect("proxy");
    testbed_registry::install_crypto_provider();
    let http = reqwest::Client::new();
    let resp = http
        .get(format!("{}/v2/", reg.base_url()))
        .send()
        .await
        .expect("GET /v2/");
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
    let resp = http
        .get(format!("{}/v2/", proxy.base_url()))
        .send()
        .await
        .expect("GET /v2/ via proxy");
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(proxy.requests().len(), 1);
    // Dropping fixtures inside a runtime must not panic.
    drop(proxy);
    drop(open);
    drop(reg);
}

#[tokio::test(flavor = "current_thread")]
async fn usable_from_current_thread_runtime() {
    if !require_registry() {
        return;
    }
    let reg = Registry::start(RegistryConfig::default()).expect("start");
    testbed_registry::install_crypto_provider();
    let resp = reqwest::Client::new()
        .get(format!("{}/v2/", reg.base_url()))
        .send()
        .await
        .expect("GET /v2/");
    assert_eq!(resp.status(), StatusCode::OK);
}
