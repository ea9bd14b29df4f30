//! A small raw-HTTP OCI distribution client for tests: push Flux artifacts
//! and Helm charts, pull manifests and blobs, list tags.
//!
//! It is deliberately independent of the plugin's own OCI code (which uses
//! `oci-client`) so tests can cross-check what the plugin pushed. It speaks
//! the distribution API directly with `reqwest`, including the Basic and
//! Bearer-realm token flows.
//!
//! The async [`Client`] works inside any tokio runtime; the free functions
//! ([`push_flux_artifact`], [`push_helm_chart`], [`pull_manifest`],
//! [`pull_blob`], [`list_tags`]) are blocking and may be called from sync
//! code or even from inside an async test (they run on a helper thread).

use std::collections::HashMap;
use std::io::Read;
use std::sync::{Arc, Mutex};

use anyhow::{Context, anyhow, bail};
use serde_json::{Value, json};

/// OCI image manifest media type.
pub const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
/// OCI image index media type.
pub const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
/// Docker schema 2 manifest media type.
pub const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";
/// Flux artifact config media type.
pub const FLUX_CONFIG: &str = "application/vnd.cncf.flux.config.v1+json";
/// Flux artifact content layer media type.
pub const FLUX_CONTENT: &str = "application/vnd.cncf.flux.content.v1.tar+gzip";
/// Helm chart config media type.
pub const HELM_CONFIG: &str = "application/vnd.cncf.helm.config.v1+json";
/// Helm chart content layer media type.
pub const HELM_CONTENT: &str = "application/vnd.cncf.helm.chart.content.v1.tar+gzip";
/// Manifest annotation: the source revision.
pub const ANN_REVISION: &str = "org.opencontainers.image.revision";
/// Manifest annotation: the source URL.
pub const ANN_SOURCE: &str = "org.opencontainers.image.source";
/// Manifest annotation: the creation time.
pub const ANN_CREATED: &str = "org.opencontainers.image.created";

/// Credentials and TLS settings for a [`Client`].
#[derive(Clone, Debug, Default)]
pub struct ClientOptions {
    /// Basic-auth user (also used for the Bearer token exchange).
    pub username: Option<String>,
    /// Basic-auth password or token.
    pub password: Option<String>,
    /// Extra PEM root certificate(s) to trust for `https://` registries.
    pub ca_pem: Option<String>,
}

impl ClientOptions {
    /// Options with Basic credentials.
    pub fn basic(username: &str, password: &str) -> ClientOptions {
        ClientOptions {
            username: Some(username.into()),
            password: Some(password.into()),
            ca_pem: None,
        }
    }
}

/// A manifest as pulled from the registry.
#[derive(Clone, Debug)]
pub struct PulledManifest {
    /// `sha256:<hex>` of the raw bytes.
    pub digest: String,
    /// The `Content-Type` the registry answered with.
    pub media_type: String,
    /// The raw manifest bytes.
    pub bytes: Vec<u8>,
    /// The parsed manifest.
    pub json: Value,
}

impl PulledManifest {
    /// `annotations` of the manifest as string pairs.
    pub fn annotations(&self) -> HashMap<String, String> {
        self.json
            .get("annotations")
            .and_then(Value::as_object)
            .map(|m| {
                m.iter()
                    .filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_string())))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// The layer descriptors.
    pub fn layers(&self) -> Vec<Value> {
        self.json
            .get("layers")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default()
    }
}

/// An async distribution API client bound to one registry base URL.
#[derive(Clone)]
pub struct Client {
    http: reqwest::Client,
    base_url: String,
    opts: ClientOptions,
    /// Bearer tokens by scope.
    tokens: Arc<Mutex<HashMap<String, String>>>,
    /// Whether the registry asked for Basic auth.
    basic: Arc<Mutex<bool>>,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("base_url", &self.base_url)
            .finish_non_exhaustive()
    }
}

/// Install the ring crypto provider for rustls (idempotent).
pub fn ensure_crypto_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

impl Client {
    /// A client for `base_url` (`http://127.0.0.1:5000` or `https://…`).
    pub fn new(base_url: &str, opts: &ClientOptions) -> anyhow::Result<Client> {
        ensure_crypto_provider();
        let mut b = reqwest::Client::builder()
            .timeout(std::time::Duration::from_secs(30))
            .connect_timeout(std::time::Duration::from_secs(5));
        if let Some(pem) = &opts.ca_pem {
            let certs =
                reqwest::Certificate::from_pem_bundle(pem.as_bytes()).context("parsing CA PEM")?;
            for c in certs {
                b = b.add_root_certificate(c);
            }
        }
        Ok(Client {
            http: b.build().context("building HTTP client")?,
            base_url: base_url.trim_end_matches('/').to_string(),
            opts: opts.clone(),
            tokens: Arc::default(),
            basic: Arc::default(),
        })
    }

    /// The registry base URL.
    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    fn basic_header(&self) -> Option<String> {
        use base64::Engine;
        let user = self.opts.username.as_deref()?;
        let pass = self.opts.password.as_deref().unwrap_or("");
        Some(format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(format!("{user}:{pass}"))
        ))
    }

    fn auth_header(&self, scope: &str) -> Option<String> {
        if let Some(t) = self.tokens.lock().ok()?.get(scope) {
            return Some(format!("Bearer {t}"));
        }
        if *self.basic.lock().ok()? {
            return self.basic_header();
        }
        None
    }

    /// Send a request built by `build`, doing the auth dance on 401.
    async fn send(
        &self,
        scope: &str,
        build: impl Fn(&reqwest::Client) -> reqwest::RequestBuilder,
    ) -> anyhow::Result<reqwest::Response> {
        let mut attempt = 0;
        loop {
            let mut rb = build(&self.http);
            if let Some(h) = self.auth_header(scope) {
                rb = rb.header(reqwest::header::AUTHORIZATION, h);
            }
            let resp = rb.send().await?;
            if resp.status() != reqwest::StatusCode::UNAUTHORIZED || attempt > 0 {
                return Ok(resp);
            }
            attempt += 1;
            let challenge = resp
                .headers()
                .get(reqwest::header::WWW_AUTHENTICATE)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("")
                .to_string();
            if challenge.to_ascii_lowercase().starts_with("bearer") {
                let token = self.fetch_token(&challenge, scope).await?;
                if let Ok(mut t) = self.tokens.lock() {
                    t.insert(scope.to_string(), token);
                }
            } else {
                if self.opts.username.is_none() {
                    return Ok(resp);
                }
                if let Ok(mut b) = self.basic.lock() {
                    *b = true;
                }
            }
        }
    }

    async fn fetch_token(&self, challenge: &str, scope: &str) -> anyhow::Result<String> {
        let params = parse_challenge(challenge);
        let realm = params
            .get("realm")
            .ok_or_else(|| anyhow!("Bearer challenge without realm: {challenge}"))?;
        let mut query: Vec<(&str, &str)> = Vec::new();
        if let Some(s) = params.get("service") {
            query.push(("service", s));
        }
        let scope = params.get("scope").map(String::as_str).unwrap_or(scope);
        query.push(("scope", scope));
        let mut u = url::Url::parse(realm).with_context(|| format!("bad token realm {realm}"))?;
        u.query_pairs_mut().extend_pairs(query.iter());
        let mut rb = self.http.get(u);
        if let Some(h) = self.basic_header() {
            rb = rb.header(reqwest::header::AUTHORIZATION, h);
        }
        let resp = rb.send().await.context("token request")?;
        let status = resp.status();
        let body: Value = resp.json().await.unwrap_or(Value::Null);
        if !status.is_success() {
            bail!("token endpoint {realm} answered {status}: {body}");
        }
        body.get("token")
            .or_else(|| body.get("access_token"))
            .and_then(Value::as_str)
            .map(str::to_string)
            .ok_or_else(|| anyhow!("token endpoint {realm} returned no token"))
    }

    fn url(&self, path: &str) -> String {
        format!("{}{}", self.base_url, path)
    }

    /// GET a manifest by tag or digest.
    pub async fn get_manifest(
        &self,
        repo: &str,
        reference: &str,
    ) -> anyhow::Result<PulledManifest> {
        let url = self.url(&format!("/v2/{repo}/manifests/{reference}"));
        let accept = format!("{OCI_MANIFEST}, {DOCKER_MANIFEST}, {OCI_INDEX}");
        let resp = self
            .send(&pull_scope(repo), |c| {
                c.get(&url).header(reqwest::header::ACCEPT, &accept)
            })
            .await
            .with_context(|| format!("GET {url}"))?;
        let status = resp.status();
        let media_type = resp
            .headers()
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string();
        let bytes = resp.bytes().await?.to_vec();
        if !status.is_success() {
            bail!(
                "GET {url}: {status}: {}",
                String::from_utf8_lossy(&bytes).trim()
            );
        }
        let json: Value = serde_json::from_slice(&bytes).context("manifest is not JSON")?;
        Ok(PulledManifest {
            digest: sha256_digest(&bytes),
            media_type,
            bytes,
            json,
        })
    }

    /// GET a blob and verify its digest.
    pub async fn get_blob(&self, repo: &str, digest: &str) -> anyhow::Result<Vec<u8>> {
        let url = self.url(&format!("/v2/{repo}/blobs/{digest}"));
        let resp = self
            .send(&pull_scope(repo), |c| c.get(&url))
            .await
            .with_context(|| format!("GET {url}"))?;
        let status = resp.status();
        let bytes = resp.bytes().await?.to_vec();
        if !status.is_success() {
            bail!(
                "GET {url}: {status}: {}",
                String::from_utf8_lossy(&bytes).trim()
            );
        }
        let got = sha256_digest(&bytes);
        if got != digest {
            bail!("blob {digest}: content digest mismatch ({got})");
        }
        Ok(bytes)
    }

    /// List all tags of a repository (following `Link` pagination).
    pub async fn list_tags(&self, repo: &str) -> anyhow::Result<Vec<String>> {
        let mut url = self.url(&format!("/v2/{repo}/tags/list"));
        let mut tags = Vec::new();
        for _ in 0..100 {
            let u = url.clone();
            let resp = self
                .send(&pull_scope(repo), |c| c.get(&u))
                .await
                .with_context(|| format!("GET {u}"))?;
            let status = resp.status();
            let next = resp
                .headers()
                .get(reqwest::header::LINK)
                .and_then(|v| v.to_str().ok())
                .and_then(parse_next_link);
            let body = resp.bytes().await?;
            if !status.is_success() {
                bail!(
                    "GET {u}: {status}: {}",
                    String::from_utf8_lossy(&body).trim()
                );
            }
            let v: Value = serde_json::from_slice(&body)?;
            tags.extend(
                v.get("tags")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                    .filter_map(|t| t.as_str().map(str::to_string)),
            );
            match next {
                Some(n) if n.starts_with('/') => url = self.url(&n),
                Some(n) => url = n,
                None => break,
            }
        }
        Ok(tags)
    }

    /// Upload a blob (skipped when it already exists); returns its digest.
    pub async fn push_blob(&self, repo: &str, bytes: &[u8]) -> anyhow::Result<String> {
        let digest = sha256_digest(bytes);
        let scope = push_scope(repo);
        let head_url = self.url(&format!("/v2/{repo}/blobs/{digest}"));
        let head = self.send(&scope, |c| c.head(&head_url)).await?;
        if head.status().is_success() {
            return Ok(digest);
        }
        let start_url = self.url(&format!("/v2/{repo}/blobs/uploads/"));
        let resp = self
            .send(&scope, |c| {
                c.post(&start_url)
                    .header(reqwest::header::CONTENT_LENGTH, "0")
            })
            .await
            .with_context(|| format!("POST {start_url}"))?;
        if resp.status() != reqwest::StatusCode::ACCEPTED {
            let st = resp.status();
            let body = resp.text().await.unwrap_or_default();
            bail!("POST {start_url}: {st}: {}", body.trim());
        }
        let location = resp
            .headers()
            .get(reqwest::header::LOCATION)
            .and_then(|v| v.to_str().ok())
            .ok_or_else(|| anyhow!("upload start without Location"))?
            .to_string();
        let mut put_url = if location.starts_with('/') {
            self.url(&location)
        } else {
            location
        };
        put_url.push(if put_url.contains('?') { '&' } else { '?' });
        put_url.push_str("digest=");
        put_url.push_str(&digest.replace(':', "%3A"));
        let body = bytes::Bytes::copy_from_slice(bytes);
        let resp = self
            .send(&scope, |c| {
                c.put(&put_url)
                    .header(reqwest::header::CONTENT_TYPE, "application/octet-stream")
                    .body(body.clone())
            })
            .await
            .context("PUT blob")?;
        if !resp.status().is_success() {
            let st = resp.status();
            let body = resp.text().await.unwrap_or_default();
            bail!("PUT blob {digest}: {st}: {}", body.trim());
        }
        Ok(digest)
    }

    /// Upload a manifest under `reference` (a tag or its digest); returns
    /// the manifest digest.
    pub async fn push_manifest(
        &self,
        repo: &str,
        reference: &str,
        media_type: &str,
        bytes: &[u8],
    ) -> anyhow::Result<String> {
        let url = self.url(&format!("/v2/{repo}/manifests/{reference}"));
        let body = bytes::Bytes::copy_from_slice(bytes);
        let resp = self
            .send(&push_scope(repo), |c| {
                c.put(&url)
                    .header(reqwest::header::CONTENT_TYPE, media_type)
                    .body(body.clone())
            })
            .await
            .with_context(|| format!("PUT {url}"))?;
        if !resp.status().is_success() {
            let st = resp.status();
            let body = resp.text().await.unwrap_or_default();
            bail!("PUT {url}: {st}: {}", body.trim());
        }
        Ok(sha256_digest(bytes))
    }

    /// Push an image manifest with one config blob and one layer.
    pub async fn push_single_layer(
        &self,
        repo: &str,
        tag: &str,
        config: (&str, &[u8]),
        layer: (&str, &[u8]),
        annotations: &[(String, String)],
    ) -> anyhow::Result<String> {
        let config_digest = self.push_blob(repo, config.1).await?;
        let layer_digest = self.push_blob(repo, layer.1).await?;
        let mut manifest = json!({
            "schemaVersion": 2,
            "mediaType": OCI_MANIFEST,
            "config": {"mediaType": config.0, "digest": config_digest, "size": config.1.len()},
            "layers": [{"mediaType": layer.0, "digest": layer_digest, "size": layer.1.len()}],
        });
        if !annotations.is_empty() {
            let m: serde_json::Map<String, Value> = annotations
                .iter()
                .map(|(k, v)| (k.clone(), json!(v)))
                .collect();
            manifest["annotations"] = Value::Object(m);
        }
        let bytes = serde_json::to_vec(&manifest)?;
        self.push_manifest(repo, tag, OCI_MANIFEST, &bytes).await
    }

    /// Push a Flux artifact (facts: config `application/vnd.cncf.flux.config.v1+json`,
    /// one `…flux.content.v1.tar+gzip` layer); `org.opencontainers.image.created`
    /// is added unless given. Returns the manifest digest.
    pub async fn push_flux_artifact(
        &self,
        repo: &str,
        tag: &str,
        files: &[(&str, &[u8])],
        annotations: &[(&str, &str)],
    ) -> anyhow::Result<String> {
        let layer = flux_tarball(files)?;
        let mut ann: Vec<(String, String)> = Vec::new();
        if !annotations.iter().any(|(k, _)| *k == ANN_CREATED) {
            ann.push((ANN_CREATED.into(), now_seconds()));
        }
        ann.extend(
            annotations
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string())),
        );
        self.push_single_layer(
            repo,
            tag,
            (FLUX_CONFIG, b"{}"),
            (FLUX_CONTENT, &layer),
            &ann,
        )
        .await
    }

    /// Push a Helm chart in Helm's OCI format under tag `version` (with `+`
    /// replaced by `_`, as Helm does). `extra_files` are placed under
    /// `<chart_name>/`; `chart_annotations` go into `Chart.yaml`.
    pub async fn push_helm_chart(
        &self,
        repo: &str,
        chart_name: &str,
        version: &str,
        extra_files: &[(&str, &[u8])],
        chart_annotations: &[(&str, &str)],
    ) -> anyhow::Result<String> {
        let (config, layer) =
            helm_chart_package(chart_name, version, extra_files, chart_annotations)?;
        let ann = vec![
            (
                "org.opencontainers.image.title".to_string(),
                chart_name.to_string(),
            ),
            (
                "org.opencontainers.image.version".to_string(),
                version.to_string(),
            ),
            (ANN_CREATED.to_string(), now_seconds()),
        ];
        let tag = version.replace('+', "_");
        self.push_single_layer(
            repo,
            &tag,
            (HELM_CONFIG, &config),
            (HELM_CONTENT, &layer),
            &ann,
        )
        .await
    }
}

fn pull_scope(repo: &str) -> String {
    format!("repository:{repo}:pull")
}

fn push_scope(repo: &str) -> String {
    format!("repository:{repo}:pull,push")
}

fn now_seconds() -> String {
    let ts = jiff::Timestamp::now();
    jiff::Timestamp::from_second(ts.as_second())
        .unwrap_or(ts)
        .to_string()
}

/// Parse `Bearer realm="…",service="…",scope="…"` into a map.
pub fn parse_challenge(header: &str) -> HashMap<String, String> {
    let rest = header.split_once(' ').map(|(_, r)| r).unwrap_or("").trim();
    let mut out = HashMap::new();
    let mut chars = rest.chars().peekable();
    loop {
        while chars.peek().is_some_and(|c| *c == ',' || c.is_whitespace()) {
            chars.next();
        }
        let key: String = chars.by_ref().take_while(|c| *c != '=').collect();
        if key.is_empty() {
            break;
        }
        let mut value = String::new();
        if chars.peek() == Some(&'"') {
            chars.next();
            let mut escaped = false;
            for c in chars.by_ref() {
                if escaped {
                    value.push(c);
                    escaped = false;
                } else if c == '\\' {
                    escaped = true;
                } else if c == '"' {
                    break;
                } else {
                    value.push(c);
                }
            }
        } else {
            while let Some(c) = chars.peek() {
                if *c == ',' {
                    break;
                }
                value.push(*c);
                chars.next();
            }
        }
        out.insert(key.trim().to_ascii_lowercase(), value.trim().to_string());
    }
    out
}

fn parse_next_link(link: &str) -> Option<String> {
    link.split(',').find_map(|part| {
        let part = part.trim();
        if !part.contains("rel=\"next\"") {
            return None;
        }
        let start = part.find('<')? + 1;
        let end = part.find('>')?;
        Some(part.get(start..end)?.to_string())
    })
}

/// `sha256:<hex>` of bytes.
pub fn sha256_digest(bytes: &[u8]) -> String {
    use sha2::Digest;
    format!("sha256:{}", hex::encode(sha2::Sha256::digest(bytes)))
}

fn tar_header(path: &str, size: u64, dir: bool) -> anyhow::Result<tar::Header> {
    let mut h = tar::Header::new_gnu();
    h.set_path(path)?;
    h.set_size(size);
    h.set_mode(if dir { 0o755 } else { 0o644 });
    h.set_entry_type(if dir {
        tar::EntryType::Directory
    } else {
        tar::EntryType::Regular
    });
    h.set_uid(0);
    h.set_gid(0);
    h.set_mtime(0);
    h.set_cksum();
    Ok(h)
}

/// Build a gzip'd tar the way `flux push artifact` does: root `.`, parent
/// directories, files sorted by path, uid/gid 0, mtime 0.
pub fn flux_tarball(files: &[(&str, &[u8])]) -> anyhow::Result<Vec<u8>> {
    let mut sorted: Vec<(String, &[u8])> = files
        .iter()
        .map(|(p, b)| (p.trim_start_matches("./").to_string(), *b))
        .collect();
    sorted.sort_by(|a, b| a.0.cmp(&b.0));
    let mut entries: Vec<(String, Option<&[u8]>)> = vec![(".".into(), None)];
    let mut dirs = std::collections::BTreeSet::new();
    for (p, b) in &sorted {
        let parts: Vec<&str> = p.split('/').collect();
        for i in 1..parts.len() {
            let d = parts[..i].join("/");
            if dirs.insert(d.clone()) {
                entries.push((d, None));
            }
        }
        entries.push((p.clone(), Some(b)));
    }
    write_tar_gz(&entries)
}

fn write_tar_gz(entries: &[(String, Option<&[u8]>)]) -> anyhow::Result<Vec<u8>> {
    let gz = flate2::GzBuilder::new()
        .mtime(0)
        .write(Vec::new(), flate2::Compression::default());
    let mut tb = tar::Builder::new(gz);
    for (path, content) in entries {
        match content {
            None => {
                let h = tar_header(path, 0, true)?;
                tb.append(&h, std::io::empty())?;
            }
            Some(bytes) => {
                let h = tar_header(path, bytes.len() as u64, false)?;
                tb.append(&h, *bytes)?;
            }
        }
    }
    let gz = tb.into_inner()?;
    Ok(gz.finish()?)
}

/// Build a Helm chart package: (config JSON, tar+gzip layer). The layer
/// holds `<name>/Chart.yaml`, `<name>/values.yaml` (unless given) and the
/// extra files under `<name>/`.
pub fn helm_chart_package(
    chart_name: &str,
    version: &str,
    extra_files: &[(&str, &[u8])],
    chart_annotations: &[(&str, &str)],
) -> anyhow::Result<(Vec<u8>, Vec<u8>)> {
    let q = |s: &str| serde_json::to_string(s).unwrap_or_else(|_| "\"\"".into());
    let mut chart_yaml = format!(
        "apiVersion: v2\nname: {}\nversion: {}\nappVersion: {}\ntype: application\n",
        q(chart_name),
        q(version),
        q(version)
    );
    if !chart_annotations.is_empty() {
        chart_yaml.push_str("annotations:\n");
        for (k, v) in chart_annotations {
            chart_yaml.push_str(&format!("  {}: {}\n", q(k), q(v)));
        }
    }
    let mut files: Vec<(String, Vec<u8>)> =
        vec![(format!("{chart_name}/Chart.yaml"), chart_yaml.into_bytes())];
    if !extra_files.iter().any(|(p, _)| *p == "values.yaml") {
        files.push((format!("{chart_name}/values.yaml"), b"{}\n".to_vec()));
    }
    for (p, b) in extra_files {
        files.push((
            format!("{chart_name}/{}", p.trim_start_matches("./")),
            b.to_vec(),
        ));
    }
    let entries: Vec<(String, Option<&[u8]>)> = files
        .iter()
        .map(|(p, b)| (p.clone(), Some(b.as_slice())))
        .collect();
    let layer = write_tar_gz(&entries)?;
    let annotations: serde_json::Map<String, Value> = chart_annotations
        .iter()
        .map(|(k, v)| (k.to_string(), json!(v)))
        .collect();
    let mut config = json!({
        "apiVersion": "v2",
        "name": chart_name,
        "version": version,
        "appVersion": version,
        "type": "application",
    });
    if !annotations.is_empty() {
        config["annotations"] = Value::Object(annotations);
    }
    Ok((serde_json::to_vec(&config)?, layer))
}

/// Unpack a tar+gzip archive into `(path, bytes)` pairs of regular files
/// (paths relative, without a leading `./`). Like source-controller it
/// rejects absolute names and `..` components and skips symlinks.
pub fn unpack_tar_gz(bytes: &[u8]) -> anyhow::Result<Vec<(String, Vec<u8>)>> {
    let gz = flate2::read::GzDecoder::new(bytes);
    let mut ar = tar::Archive::new(gz);
    let mut out = Vec::new();
    for entry in ar.entries().context("reading tar stream")? {
        let mut entry = entry.context("reading tar entry")?;
        let raw = String::from_utf8_lossy(&entry.path_bytes()).to_string();
        if raw.starts_with('/') {
            bail!("tar entry '{raw}' has an absolute path");
        }
        if raw.split('/').any(|c| c == "..") {
            bail!("tar entry '{raw}' is trying to traverse outside the target directory");
        }
        if entry.header().entry_type() != tar::EntryType::Regular
            && entry.header().entry_type() != tar::EntryType::GNUSparse
        {
            continue;
        }
        let path = raw
            .split('/')
            .filter(|c| !c.is_empty() && *c != ".")
            .collect::<Vec<_>>()
            .join("/");
        let mut buf = Vec::new();
        entry
            .read_to_end(&mut buf)
            .with_context(|| format!("reading tar entry '{raw}'"))?;
        if !path.is_empty() {
            out.push((path, buf));
        }
    }
    Ok(out)
}

/// Run a future to completion on a helper thread with its own runtime, so
/// blocking callers work from sync code and from inside async tests.
pub fn block_on<F>(fut: F) -> F::Output
where
    F: std::future::Future + Send,
    F::Output: Send,
{
    std::thread::scope(|s| {
        s.spawn(|| {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap_or_else(|e| panic!("building a tokio runtime: {e}"));
            rt.block_on(fut)
        })
        .join()
        .unwrap_or_else(|p| std::panic::resume_unwind(p))
    })
}

/// Blocking: push a Flux artifact anonymously; returns the manifest digest.
pub fn push_flux_artifact(
    base_url: &str,
    repo: &str,
    tag: &str,
    files: &[(&str, &[u8])],
    annotations: &[(&str, &str)],
) -> anyhow::Result<String> {
    push_flux_artifact_with(
        base_url,
        &ClientOptions::default(),
        repo,
        tag,
        files,
        annotations,
    )
}

/// Blocking: push a Flux artifact with credentials/TLS options.
pub fn push_flux_artifact_with(
    base_url: &str,
    opts: &ClientOptions,
    repo: &str,
    tag: &str,
    files: &[(&str, &[u8])],
    annotations: &[(&str, &str)],
) -> anyhow::Result<String> {
    block_on(async {
        Client::new(base_url, opts)?
            .push_flux_artifact(repo, tag, files, annotations)
            .await
    })
}

/// Blocking: push a Helm chart anonymously; returns the manifest digest.
pub fn push_helm_chart(
    base_url: &str,
    repo: &str,
    chart_name: &str,
    version: &str,
    extra_files: &[(&str, &[u8])],
    chart_annotations: &[(&str, &str)],
) -> anyhow::Result<String> {
    push_helm_chart_with(
        base_url,
        &ClientOptions::default(),
        repo,
        chart_name,
        version,
        extra_files,
        chart_annotations,
    )
}

/// Blocking: push a Helm chart with credentials/TLS options.
pub fn push_helm_chart_with(
    base_url: &str,
    opts: &ClientOptions,
    repo: &str,
    chart_name: &str,
    version: &str,
    extra_files: &[(&str, &[u8])],
    chart_annotations: &[(&str, &str)],
) -> anyhow::Result<String> {
    block_on(async {
        Client::new(base_url, opts)?
            .push_helm_chart(repo, chart_name, version, extra_files, chart_annotations)
            .await
    })
}

/// Blocking: pull a manifest by tag or digest.
pub fn pull_manifest(
    base_url: &str,
    repo: &str,
    reference: &str,
) -> anyhow::Result<PulledManifest> {
    pull_manifest_with(base_url, &ClientOptions::default(), repo, reference)
}

/// Blocking: pull a manifest with credentials/TLS options.
pub fn pull_manifest_with(
    base_url: &str,
    opts: &ClientOptions,
    repo: &str,
    reference: &str,
) -> anyhow::Result<PulledManifest> {
    block_on(async {
        Client::new(base_url, opts)?
            .get_manifest(repo, reference)
            .await
    })
}

/// Blocking: pull a blob by digest (verified).
pub fn pull_blob(base_url: &str, repo: &str, digest: &str) -> anyhow::Result<Vec<u8>> {
    pull_blob_with(base_url, &ClientOptions::default(), repo, digest)
}

/// Blocking: pull a blob with credentials/TLS options.
pub fn pull_blob_with(
    base_url: &str,
    opts: &ClientOptions,
    repo: &str,
    digest: &str,
) -> anyhow::Result<Vec<u8>> {
    block_on(async { Client::new(base_url, opts)?.get_blob(repo, digest).await })
}

/// Blocking: list a repository's tags.
pub fn list_tags(base_url: &str, repo: &str) -> anyhow::Result<Vec<String>> {
    block_on(async {
        Client::new(base_url, &ClientOptions::default())?
            .list_tags(repo)
            .await
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flux_tarball_round_trips_and_is_reproducible() -> anyhow::Result<()> {
        let files: &[(&str, &[u8])] = &[("b/x.yaml", b"b"), ("a.yaml", b"a")];
        let t1 = flux_tarball(files)?;
        let t2 = flux_tarball(files)?;
        assert_eq!(t1, t2);
        let out = unpack_tar_gz(&t1)?;
        assert_eq!(
            out,
            vec![
                ("a.yaml".to_string(), b"a".to_vec()),
                ("b/x.yaml".to_string(), b"b".to_vec())
            ]
        );
        Ok(())
    }

    #[test]
    fn unpack_rejects_traversal() -> anyhow::Result<()> {
        let mut tb = tar::Builder::new(flate2::write::GzEncoder::new(
            Vec::new(),
            flate2::Compression::default(),
        ));
        let mut h = tar::Header::new_gnu();
        // set_path refuses "..", so write the name bytes directly.
        let name = b"../evil.yaml";
        h.as_old_mut().name[..name.len()].copy_from_slice(name);
        h.set_size(1);
        h.set_entry_type(tar::EntryType::Regular);
        h.set_cksum();
        tb.append(&h, &b"x"[..])?;
        let bytes = tb.into_inner()?.finish()?;
        let err = unpack_tar_gz(&bytes)
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(err.contains("traverse"), "{err}");
        Ok(())
    }

    #[test]
    fn challenge_parsing() {
        let m = parse_challenge(
            r#"Bearer realm="https://gitlab.example/jwt/auth",service="container_registry",scope="repository:a/b:pull""#,
        );
        assert_eq!(m["realm"], "https://gitlab.example/jwt/auth");
        assert_eq!(m["service"], "container_registry");
        assert_eq!(m["scope"], "repository:a/b:pull");
    }

    #[test]
    fn helm_package_has_chart_yaml() -> anyhow::Result<()> {
        let (config, layer) = helm_chart_package(
            "demo",
            "1.2.3",
            &[("templates/cm.yaml", b"x")],
            &[("a", "b")],
        )?;
        let cfg: Value = serde_json::from_slice(&config)?;
        assert_eq!(cfg["name"], "demo");
        let files = unpack_tar_gz(&layer)?;
        let names: Vec<_> = files.iter().map(|(p, _)| p.as_str()).collect();
        assert_eq!(
            names,
            [
                "demo/Chart.yaml",
                "demo/values.yaml",
                "demo/templates/cm.yaml"
            ]
        );
        Ok(())
    }
}
