//! A deliberately plain registry client for the fixture's own tests: reqwest blocking, with the
//! Basic and Bearer-realm challenges handled by hand.

#![allow(dead_code)]

use std::time::Duration;

use base64::Engine as _;
use reqwest::StatusCode;
use reqwest::blocking::{Client, Response};
use reqwest::header::{self, HeaderMap, HeaderValue};
use sha2::{Digest as _, Sha256};
use testbed_registry::Registry;

pub const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
pub const OCI_CONFIG: &str = "application/vnd.oci.image.config.v1+json";
pub const LAYER: &str = "application/vnd.cncf.flux.content.v1.tar+gzip";

pub fn digest(data: &[u8]) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(data)))
}

/// A blocking client trusting the fixture CA when there is one.
pub fn http_client(ca_pem: Option<&str>) -> Client {
    testbed_registry::install_crypto_provider();
    let mut b = Client::builder()
        .timeout(Duration::from_secs(120))
        .redirect(reqwest::redirect::Policy::none());
    if let Some(ca) = ca_pem {
        b = b.tls_certs_only([reqwest::Certificate::from_pem(ca.as_bytes()).expect("CA PEM")]);
    }
    b.build().expect("reqwest client")
}

/// Parse `Bearer realm="...",service="...",scope="..."`.
pub fn parse_challenge(value: &str) -> (String, Vec<(String, String)>) {
    let (scheme, rest) = value.split_once(' ').unwrap_or((value, ""));
    let mut params = Vec::new();
    let mut rest = rest.trim();
    while let Some((k, after)) = rest.split_once('=') {
        let k = k.trim().trim_start_matches(',').trim().to_string();
        let (v, remaining) = if let Some(after) = after.strip_prefix('"') {
            let end = after.find('"').expect("closing quote");
            (after[..end].to_string(), &after[end + 1..])
        } else {
            let end = after.find(',').unwrap_or(after.len());
            (after[..end].to_string(), &after[end..])
        };
        params.push((k, v));
        rest = remaining.trim_start_matches(',').trim();
    }
    (scheme.to_string(), params)
}

pub fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

pub fn param<'a>(params: &'a [(String, String)], key: &str) -> Option<&'a str> {
    params
        .iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.as_str())
}

pub struct RegClient {
    pub base: String,
    pub http: Client,
    pub creds: Option<(String, String)>,
    /// Current Authorization header value (Basic or Bearer), learnt from challenges.
    pub auth: Option<String>,
    /// How many tokens were fetched.
    pub tokens_fetched: usize,
}

impl RegClient {
    pub fn new(registry: &Registry) -> RegClient {
        RegClient {
            base: registry.base_url(),
            http: http_client(registry.ca_pem().as_deref()),
            creds: registry.credentials(),
            auth: None,
            tokens_fetched: 0,
        }
    }

    pub fn with_base(base: &str, creds: Option<(String, String)>) -> RegClient {
        RegClient {
            base: base.to_string(),
            http: http_client(None),
            creds,
            auth: None,
            tokens_fetched: 0,
        }
    }

    pub fn basic(&self) -> Option<String> {
        self.creds.as_ref().map(|(u, p)| {
            format!(
                "Basic {}",
                base64::engine::general_purpose::STANDARD.encode(format!("{u}:{p}"))
            )
        })
    }

    fn url(&self, path_or_url: &str) -> String {
        if path_or_url.starts_with("http://") || path_or_url.starts_with("https://") {
            path_or_url.to_string()
        } else {
            format!("{}{}", self.base, path_or_url)
        }
    }

    fn send_once(
        &self,
        method: &reqwest::Method,
        url: &str,
        headers: &HeaderMap,
        body: Option<&[u8]>,
    ) -> reqwest::Result<Response> {
        let mut req = self
            .http
            .request(method.clone(), url)
            .headers(headers.clone());
        if let Some(a) = &self.auth {
            req = req.header(header::AUTHORIZATION, a);
        }
        if let Some(b) = body {
            req = req.body(b.to_vec());
        }
        req.send()
    }

    /// Fetch a token from a Bearer challenge.
    pub fn fetch_token(&mut self, challenge: &str) -> Result<String, (StatusCode, String)> {
        let (_, params) = parse_challenge(challenge);
        let realm = param(&params, "realm").expect("realm").to_string();
        let mut query = vec![(
            "service".to_string(),
            param(&params, "service").unwrap_or_default().to_string(),
        )];
        if let Some(scope) = param(&params, "scope") {
            query.push(("scope".to_string(), scope.to_string()));
        }
        let query: Vec<String> = query
            .iter()
            .map(|(k, v)| format!("{k}={}", urlencode(v)))
            .collect();
        let mut req = self.http.get(format!("{realm}?{}", query.join("&")));
        if let Some(b) = self.basic() {
            req = req.header(header::AUTHORIZATION, b);
        }
        let resp = req.send().expect("token request");
        let status = resp.status();
        let text = resp.text().expect("token body");
        if !status.is_success() {
            return Err((status, text));
        }
        let v: serde_json::Value = serde_json::from_str(&text).expect("token JSON");
        self.tokens_fetched += 1;
        Ok(v["token"].as_str().expect("token field").to_string())
    }

    /// Send a request, answering one auth challenge if needed.
    pub fn send(
        &mut self,
        method: &str,
        path_or_url: &str,
        headers: HeaderMap,
        body: Option<&[u8]>,
    ) -> reqwest::Result<Response> {
        let method: reqwest::Method = method.parse().expect("method");
        let url = self.url(path_or_url);
        let resp = self.send_once(&method, &url, &headers, body)?;
        if resp.status() != StatusCode::UNAUTHORIZED {
            return Ok(resp);
        }
        let Some(challenge) = resp
            .headers()
            .get(header::WWW_AUTHENTICATE)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
        else {
            return Ok(resp);
        };
        if challenge.starts_with("Basic") {
            match self.basic() {
                Some(b) if self.auth.as_deref() != Some(b.as_str()) => self.auth = Some(b),
                _ => return Ok(resp),
            }
        } else if challenge.starts_with("Bearer") {
            match self.fetch_token(&challenge) {
                Ok(t) => self.auth = Some(format!("Bearer {t}")),
                Err(_) => return Ok(resp),
            }
        } else {
            return Ok(resp);
        }
        self.send_once(&method, &url, &headers, body)
    }

    /// Monolithic upload: POST, then PUT with the whole blob. Returns the digest.
    pub fn push_blob(&mut self, repo: &str, data: &[u8]) -> Result<String, String> {
        let d = digest(data);
        let resp = self
            .send(
                "POST",
                &format!("/v2/{repo}/blobs/uploads/"),
                HeaderMap::new(),
                None,
            )
            .map_err(|e| format!("POST upload: {e}"))?;
        if resp.status() != StatusCode::ACCEPTED {
            return Err(format!(
                "POST upload: {} {}",
                resp.status(),
                resp.text().unwrap_or_default()
            ));
        }
        let location = resp
            .headers()
            .get(header::LOCATION)
            .expect("Location")
            .to_str()
            .expect("Location ASCII")
            .to_string();
        let sep = if location.contains('?') { '&' } else { '?' };
        let mut headers = HeaderMap::new();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/octet-stream"),
        );
        let resp = self
            .send(
                "PUT",
                &format!("{location}{sep}digest={d}"),
                headers,
                Some(data),
            )
            .map_err(|e| format!("PUT upload: {e}"))?;
        if resp.status() != StatusCode::CREATED {
            return Err(format!(
                "PUT upload: {} {}",
                resp.status(),
                resp.text().unwrap_or_default()
            ));
        }
        Ok(d)
    }

    pub fn push_manifest(
        &mut self,
        repo: &str,
        tag: &str,
        manifest: &[u8],
    ) -> Result<String, String> {
        let mut headers = HeaderMap::new();
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(OCI_MANIFEST));
        let resp = self
            .send(
                "PUT",
                &format!("/v2/{repo}/manifests/{tag}"),
                headers,
                Some(manifest),
            )
            .map_err(|e| format!("PUT manifest: {e}"))?;
        if resp.status() != StatusCode::CREATED {
            return Err(format!(
                "PUT manifest: {} {}",
                resp.status(),
                resp.text().unwrap_or_default()
            ));
        }
        Ok(resp
            .headers()
            .get("docker-content-digest")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string())
    }

    pub fn get(&mut self, path: &str, accept: Option<&str>) -> reqwest::Result<Response> {
        let mut headers = HeaderMap::new();
        if let Some(a) = accept {
            headers.insert(header::ACCEPT, HeaderValue::from_str(a).expect("accept"));
        }
        self.send("GET", path, headers, None)
    }
}

/// An OCI image manifest with one config blob and one layer.
pub fn manifest(config: &[u8], layer: &[u8]) -> Vec<u8> {
    serde_json::to_vec(&serde_json::json!({
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": {"mediaType": OCI_CONFIG, "digest": digest(config), "size": config.len()},
        "layers": [{"mediaType": LAYER, "digest": digest(layer), "size": layer.len()}],
        "annotations": {"org.opencontainers.image.revision": "main@sha1:0123456789abcdef"}
    }))
    .expect("manifest JSON")
}

/// Push config, layer and manifest, then pull them back and compare.
pub fn roundtrip(client: &mut RegClient, repo: &str) {
    let layer = b"pretend this is a gzipped tarball of manifests".repeat(100);
    let config = br#"{"created":"2024-01-01T00:00:00Z"}"#.to_vec();
    let layer_digest = client.push_blob(repo, &layer).expect("push layer");
    let config_digest = client.push_blob(repo, &config).expect("push config");
    assert_eq!(config_digest, digest(&config));
    let m = manifest(&config, &layer);
    let manifest_digest = client.push_manifest(repo, "v1", &m).expect("push manifest");
    assert_eq!(manifest_digest, digest(&m));

    let resp = client
        .get(&format!("/v2/{repo}/manifests/v1"), Some(OCI_MANIFEST))
        .expect("GET manifest");
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(
        resp.headers()["docker-content-digest"]
            .to_str()
            .expect("ascii"),
        digest(&m)
    );
    assert_eq!(resp.bytes().expect("manifest body").as_ref(), m.as_slice());

    let resp = client
        .get(&format!("/v2/{repo}/blobs/{layer_digest}"), None)
        .expect("GET blob");
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(resp.bytes().expect("blob body").as_ref(), layer.as_slice());
}
