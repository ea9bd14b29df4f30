//! Where registry credentials come from, first match wins:
//!
//! 1. `--creds USER:PASSWORD`, or `--username` with `--password-stdin`;
//! 2. in GitLab CI, when the registry is `$CI_REGISTRY`: `CI_DEPLOY_USER` /
//!    `CI_DEPLOY_PASSWORD` when set, else `CI_REGISTRY_USER` /
//!    `CI_REGISTRY_PASSWORD`;
//! 3. the docker config (`$DOCKER_CONFIG/config.json` or
//!    `~/.docker/config.json`): `credHelpers[host]`, then `credsStore`, then
//!    `auths[host]` (base64 `auth` or `username`/`password`; keys with or
//!    without scheme);
//! 4. anonymous.
//!
//! The environment and the credential-helper runner are passed in, so the
//! resolution is testable without touching the machine. Secrets live in
//! [`Secret`], whose `Debug` never shows them.

use std::fmt;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use base64::Engine as _;

use super::error::OciError;

/// A password or token. `Debug` and `Display` print `***`.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(s: impl Into<String>) -> Secret {
        Secret(s.into())
    }
    /// The secret itself: only for building an `Authorization` header.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

/// Where credentials were found; printed in errors instead of the secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CredentialSource {
    /// `--creds`.
    Flag,
    /// `--username` + `--password-stdin`.
    Stdin,
    /// `CI_REGISTRY_USER`/`CI_REGISTRY_PASSWORD`.
    GitLabJob,
    /// `CI_DEPLOY_USER`/`CI_DEPLOY_PASSWORD`.
    GitLabDeploy,
    /// `auths` of a docker config file.
    DockerConfig { path: PathBuf, key: String },
    /// A credential helper (`credHelpers` or `credsStore`) named in a docker config.
    Helper { helper: String, path: PathBuf },
    /// Nothing found.
    Anonymous,
}

impl fmt::Display for CredentialSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CredentialSource::Flag => f.write_str("--creds"),
            CredentialSource::Stdin => f.write_str("--username/--password-stdin"),
            CredentialSource::GitLabJob => f.write_str("CI_REGISTRY_USER/CI_REGISTRY_PASSWORD"),
            CredentialSource::GitLabDeploy => f.write_str("CI_DEPLOY_USER/CI_DEPLOY_PASSWORD"),
            CredentialSource::DockerConfig { path, key } => {
                write!(f, "docker config {} (auths {key:?})", path.display())
            }
            CredentialSource::Helper { helper, path } => write!(
                f,
                "credential helper docker-credential-{helper} (from {})",
                path.display()
            ),
            CredentialSource::Anonymous => f.write_str("anonymous, no credentials found"),
        }
    }
}

/// Credentials for one registry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Credentials {
    /// User and password/token; None for anonymous access.
    pub basic: Option<(String, Secret)>,
    pub source: CredentialSource,
}

impl Credentials {
    pub fn anonymous() -> Credentials {
        Credentials {
            basic: None,
            source: CredentialSource::Anonymous,
        }
    }

    /// `--creds USER:PASSWORD`.
    pub fn from_flag(creds: &str) -> Result<Credentials, OciError> {
        match creds.split_once(':') {
            Some((user, pass)) if !user.is_empty() && !pass.is_empty() => Ok(Credentials {
                basic: Some((user.to_string(), Secret::new(pass))),
                source: CredentialSource::Flag,
            }),
            _ => Err(OciError::Credentials {
                source_name: "--creds".into(),
                reason: "expected USER:PASSWORD with both parts non-empty".into(),
                hint: "write --creds user:token, or use --username USER --password-stdin".into(),
            }),
        }
    }

    /// `--username` with the password read from stdin (one trailing newline dropped).
    pub fn from_stdin(username: &str, mut stdin: impl Read) -> Result<Credentials, OciError> {
        let err = |reason: String| OciError::Credentials {
            source_name: "--password-stdin".into(),
            reason,
            hint: "pipe the password or token, e.g. echo \"$TOKEN\" | kubectl gitlab-flux push … \
                   --username USER --password-stdin"
                .into(),
        };
        let mut text = String::new();
        stdin
            .read_to_string(&mut text)
            .map_err(|e| err(format!("cannot read stdin: {e}")))?;
        let pass = text
            .strip_suffix('\n')
            .map(|s| s.strip_suffix('\r').unwrap_or(s))
            .unwrap_or(&text);
        if pass.is_empty() {
            return Err(err("stdin was empty".into()));
        }
        if username.is_empty() {
            return Err(err("--username is empty".into()));
        }
        Ok(Credentials {
            basic: Some((username.to_string(), Secret::new(pass))),
            source: CredentialSource::Stdin,
        })
    }
}

/// Runs `docker-credential-<helper> get` for a server; Ok(None) when the
/// helper has nothing for it.
pub type HelperRunner<'a> = &'a dyn Fn(&str, &str) -> Result<Option<(String, Secret)>, String>;

/// Find the credentials for `registry` (`host[:port]`), after the explicit
/// ones from the command line (which win when given).
pub fn resolve(
    registry: &str,
    explicit: Option<Credentials>,
    env: &dyn Fn(&str) -> Option<String>,
    helper: HelperRunner<'_>,
) -> Result<Credentials, OciError> {
    if let Some(c) = explicit {
        return Ok(c);
    }
    let var = |k: &str| env(k).filter(|v| !v.is_empty());
    if let Some(ci_registry) = var("CI_REGISTRY")
        && ci_registry.trim().eq_ignore_ascii_case(registry)
    {
        if let (Some(u), Some(p)) = (var("CI_DEPLOY_USER"), var("CI_DEPLOY_PASSWORD")) {
            return Ok(Credentials {
                basic: Some((u, Secret::new(p))),
                source: CredentialSource::GitLabDeploy,
            });
        }
        if let (Some(u), Some(p)) = (var("CI_REGISTRY_USER"), var("CI_REGISTRY_PASSWORD")) {
            return Ok(Credentials {
                basic: Some((u, Secret::new(p))),
                source: CredentialSource::GitLabJob,
            });
        }
    }
    if let Some(path) = docker_config_path(env) {
        match std::fs::read(&path) {
            Ok(bytes) => {
                if let Some(c) = from_docker_config(&path, &bytes, registry, helper)? {
                    return Ok(c);
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => {
                return Err(OciError::Credentials {
                    source_name: format!("docker config {}", path.display()),
                    reason: format!("cannot read it: {e}"),
                    hint: "make it readable, or point DOCKER_CONFIG at another directory".into(),
                });
            }
        }
    }
    Ok(Credentials::anonymous())
}

/// `$DOCKER_CONFIG/config.json`, else `$HOME/.docker/config.json`.
pub fn docker_config_path(env: &dyn Fn(&str) -> Option<String>) -> Option<PathBuf> {
    if let Some(dir) = env("DOCKER_CONFIG").filter(|v| !v.is_empty()) {
        return Some(Path::new(&dir).join("config.json"));
    }
    env("HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(dirs::home_dir)
        .map(|home| home.join(".docker").join("config.json"))
}

#[derive(Debug, Default, serde::Deserialize)]
struct DockerConfig {
    #[serde(default)]
    auths: std::collections::BTreeMap<String, AuthEntry>,
    #[serde(default, rename = "credHelpers")]
    cred_helpers: std::collections::BTreeMap<String, String>,
    #[serde(default, rename = "credsStore")]
    creds_store: Option<String>,
}

#[derive(Debug, Default, serde::Deserialize)]
struct AuthEntry {
    #[serde(default)]
    auth: Option<String>,
    #[serde(default)]
    username: Option<String>,
    #[serde(default)]
    password: Option<String>,
    #[serde(default, rename = "identitytoken")]
    identity_token: Option<String>,
}

/// Credentials for `registry` from a docker config file's bytes.
pub fn from_docker_config(
    path: &Path,
    bytes: &[u8],
    registry: &str,
    helper: HelperRunner<'_>,
) -> Result<Option<Credentials>, OciError> {
    let source_name = format!("docker config {}", path.display());
    let cfg: DockerConfig = serde_json::from_slice(bytes).map_err(|e| OciError::Credentials {
        source_name: source_name.clone(),
        reason: format!("it is not valid JSON: {e}"),
        hint: "fix the file, or point DOCKER_CONFIG at a directory with a valid config.json".into(),
    })?;

    let helper_name = cfg
        .cred_helpers
        .iter()
        .find(|(k, _)| key_matches(k, registry))
        .map(|(_, v)| v.clone())
        .or_else(|| cfg.creds_store.clone().filter(|s| !s.is_empty()));
    if let Some(name) = helper_name {
        let src = CredentialSource::Helper {
            helper: name.clone(),
            path: path.to_path_buf(),
        };
        match helper(&name, registry) {
            Ok(Some((user, secret))) => {
                return Ok(Some(Credentials {
                    basic: Some((user, secret)),
                    source: src,
                }));
            }
            Ok(None) => {
                tracing::debug!("{src} has no credentials for {registry}");
            }
            Err(reason) => {
                return Err(OciError::Credentials {
                    source_name: src.to_string(),
                    reason,
                    hint: format!(
                        "install docker-credential-{name} or remove it from {}, or pass --creds",
                        path.display()
                    ),
                });
            }
        }
    }

    let Some((key, entry)) = cfg.auths.iter().find(|(k, _)| key_matches(k, registry)) else {
        return Ok(None);
    };
    let src = CredentialSource::DockerConfig {
        path: path.to_path_buf(),
        key: key.clone(),
    };
    let bad = |reason: &str| OciError::Credentials {
        source_name: src.to_string(),
        reason: reason.to_string(),
        hint: format!(
            "run `docker login {registry}` again, or fix the entry in {}",
            path.display()
        ),
    };
    if let Some(auth) = entry.auth.as_deref().filter(|a| !a.is_empty()) {
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(auth.trim())
            .map_err(|_| bad("its \"auth\" is not base64"))?;
        let decoded = String::from_utf8(decoded).map_err(|_| bad("its \"auth\" is not UTF-8"))?;
        let (user, pass) = decoded
            .split_once(':')
            .ok_or_else(|| bad("its \"auth\" is not base64 of USER:PASSWORD"))?;
        return Ok(Some(Credentials {
            basic: Some((user.to_string(), Secret::new(pass))),
            source: src,
        }));
    }
    if let (Some(u), Some(p)) = (&entry.username, &entry.password)
        && !u.is_empty()
    {
        return Ok(Some(Credentials {
            basic: Some((u.clone(), Secret::new(p.clone()))),
            source: src,
        }));
    }
    if entry.identity_token.is_some() {
        return Err(bad(
            "it holds an identity token (OAuth refresh token), which this plugin does not support",
        ));
    }
    Ok(None)
}

/// Whether an `auths`/`credHelpers` key names `registry`: scheme and path
/// are ignored; Docker Hub's historical names are equivalent.
pub fn key_matches(key: &str, registry: &str) -> bool {
    let k = key.trim();
    let k = k.split_once("://").map_or(k, |(_, rest)| rest);
    let k = k.split('/').next().unwrap_or(k).to_ascii_lowercase();
    let r = registry.to_ascii_lowercase();
    let hub = |h: &str| matches!(h, "docker.io" | "index.docker.io" | "registry-1.docker.io");
    k == r || (hub(&k) && hub(&r))
}

/// The real helper runner: `docker-credential-<name> get`, server on stdin,
/// `{"Username":…,"Secret":…}` on stdout; at most 30 seconds.
pub fn run_helper(name: &str, server: &str) -> Result<Option<(String, Secret)>, String> {
    let program = format!("docker-credential-{name}");
    let mut child = Command::new(&program)
        .arg("get")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => format!("{program} is not installed (not in PATH)"),
            _ => format!("cannot run {program}: {e}"),
        })?;
    if let Some(mut stdin) = child.stdin.take() {
        let _ = stdin.write_all(server.as_bytes());
    }
    let deadline = Instant::now() + Duration::from_secs(30);
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(20)),
            Ok(None) => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!("{program} did not answer within 30s"));
            }
            Err(e) => return Err(format!("cannot wait for {program}: {e}")),
        }
    };
    let mut stdout = String::new();
    if let Some(mut out) = child.stdout.take() {
        let _ = out.read_to_string(&mut stdout);
    }
    if !status.success() {
        let mut stderr = String::new();
        if let Some(mut err) = child.stderr.take() {
            let _ = err.read_to_string(&mut stderr);
        }
        // docker's helpers say "credentials not found in native keychain"
        // on stdout; nothing else of stdout is used: it may hold the secret.
        let not_found = |t: &str| t.to_ascii_lowercase().contains("credentials not found");
        if not_found(&stdout) || not_found(&stderr) {
            return Ok(None);
        }
        let status = crate::error::describe_status(status);
        return Err(match crate::error::first_line(stderr.as_bytes()) {
            Some(line) => format!("{program} get {status}; its stderr: {line}"),
            None => format!("{program} get {status}; nothing on its stderr"),
        });
    }
    #[derive(serde::Deserialize)]
    struct HelperAnswer {
        #[serde(rename = "Username", default)]
        username: String,
        #[serde(rename = "Secret", default)]
        secret: String,
    }
    let answer: HelperAnswer = serde_json::from_str(stdout.trim())
        .map_err(|_| format!("{program} get printed something that is not its JSON answer"))?;
    if answer.secret.is_empty() {
        return Ok(None);
    }
    if answer.username == "<token>" {
        return Err(format!(
            "{program} returned an identity token, which this plugin does not support"
        ));
    }
    Ok(Some((answer.username, Secret::new(answer.secret))))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn env(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> + use<> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |k| map.get(k).cloned()
    }

    fn no_helper(_: &str, _: &str) -> Result<Option<(String, Secret)>, String> {
        panic!("no helper expected")
    }

    fn user(c: &Credentials) -> (&str, &str) {
        let (u, p) = c.basic.as_ref().expect("basic");
        (u.as_str(), p.expose())
    }

    #[test]
    fn flag_and_stdin() {
        let c = Credentials::from_flag("u:p:q").expect("creds");
        assert_eq!(user(&c), ("u", "p:q"));
        assert!(Credentials::from_flag("nopass").is_err());
        assert!(Credentials::from_flag(":p").is_err());
        let c = Credentials::from_stdin("u", "tok\r\n".as_bytes()).expect("stdin");
        assert_eq!(user(&c), ("u", "tok"));
        assert!(Credentials::from_stdin("u", "".as_bytes()).is_err());
        // explicit wins over everything
        let e = env(&[
            ("CI_REGISTRY", "r.example"),
            ("CI_REGISTRY_USER", "x"),
            ("CI_REGISTRY_PASSWORD", "y"),
        ]);
        let c = resolve(
            "r.example",
            Some(Credentials::from_flag("a:b").expect("c")),
            &e,
            &no_helper,
        )
        .expect("resolve");
        assert_eq!(c.source, CredentialSource::Flag);
    }

    #[test]
    fn gitlab_ci_only_for_its_registry() {
        let e = env(&[
            ("CI_REGISTRY", "registry.gitlab.example:5050"),
            ("CI_REGISTRY_USER", "gitlab-ci-token"),
            ("CI_REGISTRY_PASSWORD", "job-token"),
            ("HOME", "/nonexistent"),
        ]);
        let c = resolve("registry.gitlab.example:5050", None, &e, &no_helper).expect("resolve");
        assert_eq!(c.source, CredentialSource::GitLabJob);
        assert_eq!(user(&c), ("gitlab-ci-token", "job-token"));
        let c = resolve("other.example", None, &e, &no_helper).expect("resolve");
        assert_eq!(c.source, CredentialSource::Anonymous);

        let e = env(&[
            ("CI_REGISTRY", "registry.gitlab.example:5050"),
            ("CI_REGISTRY_USER", "gitlab-ci-token"),
            ("CI_REGISTRY_PASSWORD", "job-token"),
            ("CI_DEPLOY_USER", "gitlab+deploy-token-1"),
            ("CI_DEPLOY_PASSWORD", "deploy"),
        ]);
        let c = resolve("registry.gitlab.example:5050", None, &e, &no_helper).expect("resolve");
        assert_eq!(c.source, CredentialSource::GitLabDeploy);
    }

    #[test]
    fn docker_config_auths() {
        let p = Path::new("/h/.docker/config.json");
        let b64 = base64::engine::general_purpose::STANDARD.encode("alice:pw");
        let cfg = format!(
            r#"{{"auths":{{"https://r.example/v1/":{{"auth":"{b64}"}},"other.example:5000":{{"username":"bob","password":"pw2"}},"https://index.docker.io/v1/":{{"auth":"{b64}"}}}}}}"#
        );
        let c = from_docker_config(p, cfg.as_bytes(), "r.example", &no_helper)
            .expect("ok")
            .expect("found");
        assert_eq!(user(&c), ("alice", "pw"));
        assert!(c.source.to_string().contains("https://r.example/v1/"));
        assert!(!c.source.to_string().contains("pw"));
        let c = from_docker_config(p, cfg.as_bytes(), "other.example:5000", &no_helper)
            .expect("ok")
            .expect("found");
        assert_eq!(user(&c), ("bob", "pw2"));
        assert!(
            from_docker_config(p, cfg.as_bytes(), "docker.io", &no_helper)
                .expect("ok")
                .is_some()
        );
        assert!(
            from_docker_config(p, cfg.as_bytes(), "nope.example", &no_helper)
                .expect("ok")
                .is_none()
        );
        assert!(from_docker_config(p, b"{not json", "r.example", &no_helper).is_err());
        assert!(
            from_docker_config(
                p,
                br#"{"auths":{"r.example":{"auth":"!!"}}}"#,
                "r.example",
                &no_helper
            )
            .is_err()
        );
    }

    #[test]
    fn docker_config_helpers() {
        let p = Path::new("/h/.docker/config.json");
        let cfg = br#"{"auths":{"r.example":{"username":"file","password":"f"}},
            "credHelpers":{"r.example":"special"},"credsStore":"desktop"}"#;
        let helper = |name: &str, server: &str| -> Result<Option<(String, Secret)>, String> {
            assert_eq!(server, "r.example");
            match name {
                "special" => Ok(Some(("h".into(), Secret::new("s")))),
                _ => Ok(None),
            }
        };
        let c = from_docker_config(p, cfg, "r.example", &helper)
            .expect("ok")
            .expect("found");
        assert_eq!(user(&c), ("h", "s"));
        assert!(c.source.to_string().contains("docker-credential-special"));

        // credsStore with nothing stored falls back to auths
        let cfg =
            br#"{"auths":{"r.example":{"username":"file","password":"f"}},"credsStore":"desktop"}"#;
        let c = from_docker_config(p, cfg, "r.example", &helper)
            .expect("ok")
            .expect("found");
        assert_eq!(user(&c), ("file", "f"));

        // a helper that fails is an error naming the helper
        let failing = |_: &str, _: &str| -> Result<Option<(String, Secret)>, String> {
            Err("docker-credential-desktop is not installed (not in PATH)".into())
        };
        let err = from_docker_config(p, cfg, "r.example", &failing).expect_err("fails");
        assert!(
            err.to_string().contains("docker-credential-desktop"),
            "{err}"
        );
    }

    #[test]
    fn config_location() {
        let e = env(&[("DOCKER_CONFIG", "/d"), ("HOME", "/h")]);
        assert_eq!(
            docker_config_path(&e),
            Some(PathBuf::from("/d/config.json"))
        );
        let e = env(&[("HOME", "/h")]);
        assert_eq!(
            docker_config_path(&e),
            Some(PathBuf::from("/h/.docker/config.json"))
        );
    }

    #[test]
    fn secrets_do_not_print() {
        let c = Credentials::from_flag("u:topsecret").expect("creds");
        assert!(!format!("{c:?}").contains("topsecret"));
    }
}
