//! GitLab-style token server: `GET /jwt/auth` with Basic credentials returns `{"token": JWT}`.
//!
//! The JWT is signed ES256 with a key whose self-signed certificate the registry trusts through
//! `auth.token.rootcertbundle`; the JOSE header names the key with a libtrust key id (`kid`),
//! which is what GitLab sends and what distribution 2.8.2 looks up among the bundle's keys.

use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::Context as _;
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use bytes::Bytes;
use http_body_util::BodyExt as _;
use hyper::body::Incoming;
use hyper::{Request, Response, StatusCode};
use rcgen::{CertificateParams, DnType, KeyPair, PublicKeyData as _};
use ring::rand::{SecureRandom as _, SystemRandom};
use ring::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair};
use serde_json::json;
use sha2::{Digest as _, Sha256};

use crate::server::{BoxBody, full};

/// The `service` of the registry (what GitLab uses).
pub(crate) const SERVICE: &str = "container_registry";
/// The `iss` claim (GitLab's default issuer).
pub(crate) const ISSUER: &str = "gitlab-issuer";

/// ES256 signing key plus the self-signed certificate the registry trusts.
pub(crate) struct Signer {
    key: EcdsaKeyPair,
    rng: SystemRandom,
    kid: String,
    pub cert_pem: String,
}

impl Signer {
    pub fn generate() -> anyhow::Result<Signer> {
        let kp = KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256)
            .context("generating the token signing key")?;
        let mut params = CertificateParams::default();
        params.distinguished_name = rcgen::DistinguishedName::new();
        params
            .distinguished_name
            .push(DnType::CommonName, "testbed-registry token signer");
        let cert = params
            .self_signed(&kp)
            .context("self-signing the token certificate")?;
        let rng = SystemRandom::new();
        let key =
            EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, kp.serialized_der(), &rng)
                .map_err(|e| anyhow::anyhow!("loading the token signing key into ring: {e}"))?;
        let kid = libtrust_key_id(&kp.subject_public_key_info());
        Ok(Signer {
            key,
            rng,
            kid,
            cert_pem: cert.pem(),
        })
    }

    /// Sign `claims` as a compact JWS (ES256).
    pub fn sign(&self, claims: &serde_json::Value) -> anyhow::Result<String> {
        let header = json!({"typ": "JWT", "alg": "ES256", "kid": self.kid});
        let signing_input = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(serde_json::to_vec(&header)?),
            URL_SAFE_NO_PAD.encode(serde_json::to_vec(claims)?)
        );
        let sig = self
            .key
            .sign(&self.rng, signing_input.as_bytes())
            .map_err(|e| anyhow::anyhow!("signing a token: {e}"))?;
        Ok(format!(
            "{signing_input}.{}",
            URL_SAFE_NO_PAD.encode(sig.as_ref())
        ))
    }

    fn random_hex(&self, n: usize) -> String {
        let mut buf = vec![0u8; n];
        // SystemRandom only fails when the OS has no randomness at all.
        let _ = self.rng.fill(&mut buf);
        hex::encode(buf)
    }
}

/// libtrust's key id: SHA-256 of the DER SubjectPublicKeyInfo, first 240 bits, base32
/// (RFC 4648 alphabet, no padding), in 12 groups of 4 joined by `:`.
pub(crate) fn libtrust_key_id(spki_der: &[u8]) -> String {
    let digest = Sha256::digest(spki_der);
    let b32 = base32(&digest[..30]);
    b32.as_bytes()
        .chunks(4)
        .map(|c| std::str::from_utf8(c).unwrap_or_default())
        .collect::<Vec<_>>()
        .join(":")
}

fn base32(data: &[u8]) -> String {
    const ALPHABET: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    let mut out = String::new();
    let mut buffer: u64 = 0;
    let mut bits = 0;
    for &b in data {
        buffer = (buffer << 8) | u64::from(b);
        bits += 8;
        while bits >= 5 {
            bits -= 5;
            out.push(ALPHABET[((buffer >> bits) & 31) as usize] as char);
        }
    }
    if bits > 0 {
        out.push(ALPHABET[((buffer << (5 - bits)) & 31) as usize] as char);
    }
    out
}

/// One request the token server answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenRequestRecord {
    /// The Basic user name, `None` for anonymous requests.
    pub username: Option<String>,
    /// The `scope` parameters as requested.
    pub scopes: Vec<String>,
    /// HTTP status of the answer (200, or 401 for bad credentials).
    pub status: u16,
}

pub(crate) struct User {
    password: String,
    pull_only: bool,
}

/// Mutable token-server state, shared with the [`crate::Registry`] handle.
pub(crate) struct TokenState {
    signer: Signer,
    users: HashMap<String, User>,
    pub ttl: Mutex<Duration>,
    pub backdate: Mutex<Duration>,
    pub records: Mutex<Vec<TokenRequestRecord>>,
}

impl TokenState {
    pub fn new(
        signer: Signer,
        user: (String, String),
        pull_only: &[(String, String)],
        ttl: Duration,
        backdate: Duration,
    ) -> TokenState {
        let mut users = HashMap::new();
        users.insert(
            user.0,
            User {
                password: user.1,
                pull_only: false,
            },
        );
        for (u, p) in pull_only {
            users.insert(
                u.clone(),
                User {
                    password: p.clone(),
                    pull_only: true,
                },
            );
        }
        TokenState {
            signer,
            users,
            ttl: Mutex::new(ttl),
            backdate: Mutex::new(backdate),
            records: Mutex::new(Vec::new()),
        }
    }
}

fn json_response(status: StatusCode, body: serde_json::Value) -> Response<BoxBody> {
    let mut resp = Response::new(full(Bytes::from(body.to_string())));
    *resp.status_mut() = status;
    resp.headers_mut().insert(
        hyper::header::CONTENT_TYPE,
        hyper::header::HeaderValue::from_static("application/json"),
    );
    resp
}

fn unauthorized() -> Response<BoxBody> {
    json_response(
        StatusCode::UNAUTHORIZED,
        json!({"errors": [{
            "code": "UNAUTHORIZED",
            "message": "HTTP Basic: Access denied. If a password was provided for Git authentication, the password was incorrect or you're required to use a token instead of a password."
        }]}),
    )
}

fn decode_query(s: &str) -> String {
    let s = s.replace('+', " ");
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && i + 2 < bytes.len()
            && let Ok(v) = std::str::from_utf8(&bytes[i + 1..i + 3])
                .map_err(|_| ())
                .and_then(|h| u8::from_str_radix(h, 16).map_err(|_| ()))
        {
            out.push(v);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Grant what a user may have of one requested scope, GitLab-style: entries with no granted
/// action are left out.
fn grant(scope: &str, pull_only: bool) -> Option<serde_json::Value> {
    let (typ, rest) = scope.split_once(':')?;
    let (name, actions) = rest.rsplit_once(':')?;
    if typ != "repository" || name.is_empty() {
        return None;
    }
    let allowed: &[&str] = if pull_only {
        &["pull"]
    } else {
        &["pull", "push", "delete"]
    };
    let mut granted = BTreeSet::new();
    for a in actions.split(',') {
        if a == "*" {
            if !pull_only {
                granted.insert("*");
            }
        } else if allowed.contains(&a) {
            granted.insert(a);
        }
    }
    if granted.is_empty() {
        return None;
    }
    Some(json!({"type": typ, "name": name, "actions": granted.into_iter().collect::<Vec<_>>()}))
}

pub(crate) async fn handle(
    state: Arc<TokenState>,
    req: Request<Incoming>,
) -> Result<Response<BoxBody>, crate::server::BoxError> {
    let path = req.uri().path().to_string();
    let query = req.uri().query().unwrap_or_default().to_string();
    let auth = req
        .headers()
        .get(hyper::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    // Drain the body (there should be none).
    let _ = req.into_body().collect().await;
    if path != "/jwt/auth" {
        return Ok(json_response(
            StatusCode::NOT_FOUND,
            json!({"message": "404 Not Found"}),
        ));
    }
    let mut scopes = Vec::new();
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        if decode_query(k) == "scope" {
            scopes.extend(
                decode_query(v)
                    .split(' ')
                    .filter(|s| !s.is_empty())
                    .map(str::to_string),
            );
        }
    }

    // Who is asking?
    let mut username = None;
    let mut pull_only = true;
    let mut anonymous = true;
    if let Some(auth) = auth {
        let creds = auth
            .strip_prefix("Basic ")
            .and_then(|b| STANDARD.decode(b.trim()).ok())
            .and_then(|b| String::from_utf8(b).ok())
            .and_then(|s| {
                s.split_once(':')
                    .map(|(u, p)| (u.to_string(), p.to_string()))
            });
        let ok = match &creds {
            Some((u, p)) => state.users.get(u).filter(|user| &user.password == p),
            None => None,
        };
        let Some(user) = ok else {
            state
                .records
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .push(TokenRequestRecord {
                    username: creds.map(|(u, _)| u),
                    scopes,
                    status: 401,
                });
            return Ok(unauthorized());
        };
        pull_only = user.pull_only;
        anonymous = false;
        username = creds.map(|(u, _)| u);
    }

    let access: Vec<serde_json::Value> = if anonymous {
        Vec::new()
    } else {
        scopes.iter().filter_map(|s| grant(s, pull_only)).collect()
    };
    let ttl = *state.ttl.lock().unwrap_or_else(|e| e.into_inner());
    let backdate = *state.backdate.lock().unwrap_or_else(|e| e.into_inner());
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .saturating_sub(backdate)
        .as_secs() as i64;
    let claims = json!({
        "iss": ISSUER,
        "sub": username.clone().unwrap_or_default(),
        "aud": SERVICE,
        "iat": now,
        "nbf": now - 5,
        "exp": now + ttl.as_secs() as i64,
        "jti": state.signer.random_hex(16),
        "access": access,
    });
    let token = match state.signer.sign(&claims) {
        Ok(t) => t,
        Err(e) => {
            return Ok(json_response(
                StatusCode::INTERNAL_SERVER_ERROR,
                json!({"message": e.to_string()}),
            ));
        }
    };
    state
        .records
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .push(TokenRequestRecord {
            username,
            scopes,
            status: 200,
        });
    Ok(json_response(StatusCode::OK, json!({"token": token})))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base32_matches_rfc4648() {
        assert_eq!(base32(b"foobar"), "MZXW6YTBOI");
        assert_eq!(base32(b"f"), "MY");
    }

    #[test]
    fn key_id_shape() {
        let kid = libtrust_key_id(b"anything");
        assert_eq!(kid.len(), 12 * 4 + 11);
        assert_eq!(kid.split(':').count(), 12);
    }

    #[test]
    fn grants() {
        assert_eq!(
            grant("repository:a/b:push,pull", false),
            Some(json!({"type": "repository", "name": "a/b", "actions": ["pull", "push"]}))
        );
        assert_eq!(
            grant("repository:a/b:push,pull", true),
            Some(json!({"type": "repository", "name": "a/b", "actions": ["pull"]}))
        );
        assert_eq!(grant("repository:a/b:push", true), None);
        assert_eq!(grant("registry:catalog:*", false), None);
    }

    #[test]
    fn query_decoding() {
        assert_eq!(
            decode_query("repository%3Aa%2Fb%3Apush%2Cpull"),
            "repository:a/b:push,pull"
        );
    }
}
