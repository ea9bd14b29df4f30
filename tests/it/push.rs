//! `push` end to end: the real binary, a scrubbed environment, the real
//! distribution registry (testbed-registry) and an independent client
//! (Python's standard library) to pull and unpack what was pushed.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::common::Run;
use serde_json::Value;
use testbed_registry::{Auth, FaultProxy, Registry, RegistryConfig, require_registry};

const FLUX_CONFIG: &str = "application/vnd.cncf.flux.config.v1+json";
const FLUX_LAYER: &str = "application/vnd.cncf.flux.content.v1.tar+gzip";
const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";

// ---------------------------------------------------------------- harness

/// A scrubbed environment: no CI_*, docker config, kubeconfig or NO_COLOR;
/// HOME is an empty temporary directory.
struct Env {
    home: tempfile::TempDir,
    vars: BTreeMap<String, String>,
}

impl Env {
    fn new() -> Env {
        Env {
            home: tempfile::tempdir().expect("home"),
            vars: BTreeMap::new(),
        }
    }

    fn var(mut self, k: &str, v: &str) -> Env {
        self.vars.insert(k.to_string(), v.to_string());
        self
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut cmd = crate::common::plugin(self.home.path());
        cmd.env_remove("CI")
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .env("GIT_CEILING_DIRECTORIES", std::env::temp_dir())
            .envs(&self.vars)
            .args(args);
        cmd
    }

    fn run(&self, args: &[&str]) -> Run {
        Run::of(self.command(args).output().expect("run the binary"))
    }

    fn run_stdin(&self, args: &[&str], stdin: &str) -> Run {
        use std::io::Write;
        let mut child = self
            .command(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn");
        child
            .stdin
            .take()
            .expect("stdin")
            .write_all(stdin.as_bytes())
            .expect("write stdin");
        Run::of(child.wait_with_output().expect("wait"))
    }
}

/// A directory tree from (path, content) pairs.
fn tree(files: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    write_tree(dir.path(), files);
    dir
}

fn write_tree(root: &Path, files: &[(&str, &str)]) {
    for (p, content) in files {
        crate::common::write(&root.join(p), content);
    }
}

fn manifests() -> Vec<(&'static str, &'static str)> {
    vec![
        (
            "apps/podinfo/deployment.yaml",
            "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: podinfo\n---\napiVersion: v1\nkind: Service\nmetadata:\n  name: podinfo\n",
        ),
        (
            "apps/podinfo/kustomization.yml",
            "resources:\n  - deployment.yaml\n",
        ),
        (
            "infra/namespace.yaml",
            "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: apps\n",
        ),
        ("README.md", "# deploy\n"),
        ("scripts/check.sh", "#!/bin/sh\necho ok\n"),
    ]
}

fn start(cfg: RegistryConfig) -> Registry {
    Registry::start(cfg).expect("start the registry")
}

fn creds(r: &Registry) -> (String, String) {
    r.credentials().expect("credentials")
}

// ------------------------------------------------------- independent client

/// Pulls with Python's standard library only: challenge handling (Basic or
/// Bearer realm), manifest, config and layer (digests checked), and unpacks
/// the layer with `tarfile` (data filter), reporting each member's header.
const PULL_PY: &str = r#"
import base64, hashlib, json, os, re, ssl, sys, tarfile, urllib.error, urllib.parse, urllib.request
base, repo, ref, out = sys.argv[1:5]
user, pw, ca = os.environ.get("PULL_USER"), os.environ.get("PULL_PASS"), os.environ.get("PULL_CA")
ctx = ssl.create_default_context(cafile=ca) if ca else None
auth = None
def basic():
    return "Basic " + base64.b64encode(f"{user}:{pw}".encode()).decode()
def get(url, accept=None):
    global auth
    for attempt in range(2):
        h = {}
        if accept: h["Accept"] = accept
        if auth: h["Authorization"] = auth
        try:
            with urllib.request.urlopen(urllib.request.Request(url, headers=h), context=ctx) as r:
                return 200, r.read()
        except urllib.error.HTTPError as e:
            if e.code == 401 and attempt == 0:
                scheme, _, rest = e.headers.get("WWW-Authenticate", "").partition(" ")
                if scheme.lower() == "basic":
                    auth = basic()
                else:
                    p = dict(re.findall(r'(\w+)="([^"]*)"', rest))
                    q = urllib.parse.urlencode({"service": p.get("service", ""), "scope": f"repository:{repo}:pull"})
                    th = {"Authorization": basic()} if user else {}
                    with urllib.request.urlopen(urllib.request.Request(p["realm"] + "?" + q, headers=th), context=ctx) as t:
                        tok = json.loads(t.read())
                    auth = "Bearer " + (tok.get("token") or tok.get("access_token"))
                continue
            if e.code == 404:
                return 404, b""
            raise
def sha(b): return "sha256:" + hashlib.sha256(b).hexdigest()
status, body = get(f"{base}/v2/{repo}/manifests/{ref}", "application/vnd.oci.image.manifest.v1+json")
if status == 404:
    print(json.dumps({"found": False})); sys.exit(0)
m = json.loads(body)
_, cfg = get(f"{base}/v2/{repo}/blobs/{m['config']['digest']}")
assert sha(cfg) == m["config"]["digest"], "config digest"
_, layer = get(f"{base}/v2/{repo}/blobs/{m['layers'][0]['digest']}")
assert sha(layer) == m["layers"][0]["digest"], "layer digest"
os.makedirs(out, exist_ok=True)
with open(os.path.join(out, "layer.tar.gz"), "wb") as f: f.write(layer)
members = []
with tarfile.open(os.path.join(out, "layer.tar.gz"), "r:gz") as t:
    for x in t.getmembers():
        members.append({"name": x.name, "mode": x.mode, "uid": x.uid, "gid": x.gid,
                        "uname": x.uname, "gname": x.gname, "mtime": x.mtime,
                        "type": "dir" if x.isdir() else "file" if x.isfile() else "other"})
    t.extractall(os.path.join(out, "python"), filter="data")
print(json.dumps({"found": True, "digest": sha(body), "manifest": m, "config": cfg.decode(),
                  "members": members, "gzip_header": list(layer[:10])}))
"#;

struct Pulled {
    found: bool,
    json: Value,
    dir: tempfile::TempDir,
}

fn pull(
    registry_base: &str,
    repo: &str,
    reference: &str,
    auth: Option<(String, String)>,
    ca: Option<&Path>,
) -> Pulled {
    let dir = tempfile::tempdir().expect("out");
    let script = dir.path().join("pull.py");
    std::fs::write(&script, PULL_PY).expect("script");
    let mut cmd = Command::new("python3");
    cmd.arg(&script)
        .arg(registry_base)
        .arg(repo)
        .arg(reference)
        .arg(dir.path().join("out"));
    if let Some((u, p)) = auth {
        cmd.env("PULL_USER", u).env("PULL_PASS", p);
    }
    if let Some(ca) = ca {
        cmd.env("PULL_CA", ca);
    }
    let out = cmd.output().expect("python3");
    assert!(
        out.status.success(),
        "pull failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let json: Value = serde_json::from_slice(&out.stdout).expect("pull json");
    Pulled {
        found: json["found"].as_bool().unwrap_or(false),
        json,
        dir,
    }
}

impl Pulled {
    fn out(&self) -> PathBuf {
        self.dir.path().join("out")
    }

    /// Unpack with GNU tar into `gnu/`.
    fn gnu_untar(&self) -> PathBuf {
        let dest = self.out().join("gnu");
        std::fs::create_dir_all(&dest).expect("mkdir");
        let st = Command::new("tar")
            .arg("-xzf")
            .arg(self.out().join("layer.tar.gz"))
            .arg("-C")
            .arg(&dest)
            .status()
            .expect("tar");
        assert!(st.success(), "GNU tar failed");
        dest
    }
}

/// Every regular file under `root` (relative path → content), not following links.
fn files_of(root: &Path) -> BTreeMap<String, Vec<u8>> {
    fn walk(root: &Path, dir: &Path, out: &mut BTreeMap<String, Vec<u8>>) {
        for e in std::fs::read_dir(dir).expect("read_dir").flatten() {
            let p = e.path();
            let t = e.file_type().expect("type");
            if t.is_dir() {
                walk(root, &p, out);
            } else {
                let rel = p
                    .strip_prefix(root)
                    .expect("rel")
                    .to_string_lossy()
                    .replace('\\', "/");
                out.insert(rel, std::fs::read(&p).expect("read"));
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(root, root, &mut out);
    out
}

fn expected(files: &[(&str, &str)]) -> BTreeMap<String, Vec<u8>> {
    files
        .iter()
        .map(|(p, c)| (p.to_string(), c.as_bytes().to_vec()))
        .collect()
}

// ------------------------------------------------------------ end to end

#[test]
fn open_registry_roundtrip_matches_flux_format() {
    if !require_registry() {
        return;
    }
    let reg = start(RegistryConfig::default());
    let src = tree(&manifests());
    write_tree(
        src.path(),
        &[
            (".git/config", "[core]\n"),
            ("logo.png", "png"),
            ("bundle.tar.gz", "gz"),
            ("secrets/.sourceignore", "*.key\n"),
            ("secrets/tls.key", "KEY"),
            ("secrets/sealed.yaml", "kind: SealedSecret\n"),
            ("notes/todo.txt", "later"),
        ],
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let script = src.path().join("scripts/check.sh");
        std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o700)).expect("chmod");
        std::os::unix::fs::symlink("../infra/namespace.yaml", src.path().join("apps/ns.yaml"))
            .expect("symlink");
    }
    let out = tempfile::tempdir().expect("out");
    let dotenv = out.path().join("push.env");
    let target = format!("oci://{}/group/project/manifests:v1", reg.host());
    let env = Env::new();
    let run = env.run(&[
        "push",
        src.path().to_str().expect("utf8"),
        &target,
        "--tag",
        "latest",
        "--ignore",
        "notes/",
        "--source",
        "https://gitlab.example.com/group/project",
        "--revision",
        "main@sha1:0123456789abcdef0123456789abcdef01234567",
        "--created",
        "2024-02-03T04:05:06+01:00",
        "--annotation",
        "team=platform",
        "--dotenv",
        dotenv.to_str().expect("utf8"),
        "-o",
        "json",
    ]);
    run.assert_ok();
    let report = run.json();
    let digest = report["digest"].as_str().expect("digest").to_string();
    assert_eq!(
        report["url"],
        format!("oci://{}/group/project/manifests:v1@{digest}", reg.host())
    );
    assert_eq!(
        report["repository"],
        format!("{}/group/project/manifests", reg.host())
    );
    assert_eq!(report["tags"], serde_json::json!(["v1", "latest"]));
    assert_eq!(report["unchanged"], false);
    assert_eq!(report["blobs_uploaded"], 2);
    assert_eq!(report["kind"], "flux");
    assert_eq!(
        report["revision"],
        "main@sha1:0123456789abcdef0123456789abcdef01234567"
    );
    assert_eq!(report["source"], "https://gitlab.example.com/group/project");
    assert_eq!(report["created"], "2024-02-03T03:05:06Z");
    for key in [
        "layer_digest",
        "files",
        "bytes",
        "content_bytes",
        "dry_run",
        "credentials",
    ] {
        assert!(report.get(key).is_some(), "{key} missing in {report}");
    }
    assert!(report.get("contents").is_none());
    assert!(run.stderr.contains("pushed artifact"), "{}", run.stderr);
    assert!(run.stderr.contains(&digest), "{}", run.stderr);

    // Pull it back with an independent client.
    let pulled = pull(&reg.base_url(), "group/project/manifests", "v1", None, None);
    assert!(pulled.found);
    let m = &pulled.json["manifest"];
    assert_eq!(pulled.json["digest"], digest.as_str());
    assert_eq!(m["schemaVersion"], 2);
    assert_eq!(m["mediaType"], OCI_MANIFEST);
    assert!(m.get("artifactType").is_none());
    assert_eq!(m["config"]["mediaType"], FLUX_CONFIG);
    assert_eq!(m["layers"].as_array().expect("layers").len(), 1);
    assert_eq!(m["layers"][0]["mediaType"], FLUX_LAYER);
    assert_eq!(m["layers"][0]["digest"], report["layer_digest"]);
    let ann = &m["annotations"];
    assert_eq!(
        ann["org.opencontainers.image.source"],
        "https://gitlab.example.com/group/project"
    );
    assert_eq!(
        ann["org.opencontainers.image.revision"],
        "main@sha1:0123456789abcdef0123456789abcdef01234567"
    );
    assert_eq!(
        ann["org.opencontainers.image.created"],
        "2024-02-03T03:05:06Z"
    );
    assert_eq!(ann["team"], "platform");
    // the extra tag points at the same manifest
    let latest = pull(
        &reg.base_url(),
        "group/project/manifests",
        "latest",
        None,
        None,
    );
    assert_eq!(latest.json["digest"], digest.as_str());

    // The tree is the source minus the ignores; the symlink is a plain file.
    let mut want = expected(&manifests());
    want.insert("secrets/.sourceignore".into(), b"*.key\n".to_vec());
    want.insert(
        "secrets/sealed.yaml".into(),
        b"kind: SealedSecret\n".to_vec(),
    );
    #[cfg(unix)]
    want.insert(
        "apps/ns.yaml".into(),
        b"apiVersion: v1\nkind: Namespace\nmetadata:\n  name: apps\n".to_vec(),
    );
    assert_eq!(files_of(&pulled.gnu_untar()), want, "GNU tar");
    assert_eq!(
        files_of(&pulled.out().join("python")),
        want,
        "python tarfile"
    );

    // Headers are normalized.
    for member in pulled.json["members"].as_array().expect("members") {
        let name = member["name"].as_str().expect("name");
        assert_eq!(member["uid"], 0, "{member}");
        assert_eq!(member["gid"], 0, "{member}");
        assert_eq!(member["uname"], "", "{member}");
        assert_eq!(member["gname"], "", "{member}");
        assert_eq!(member["mtime"], 0, "{member}");
        let want_mode = if member["type"] == "dir" || name == "scripts/check.sh" {
            0o755
        } else {
            0o644
        };
        assert_eq!(member["mode"], want_mode, "{member}");
        assert_ne!(member["type"], "other", "{member}");
    }
    let gz: Vec<u64> = pulled.json["gzip_header"]
        .as_array()
        .expect("gzip")
        .iter()
        .map(|v| v.as_u64().expect("byte"))
        .collect();
    assert_eq!(
        &gz[..8],
        &[0x1f, 0x8b, 8, 0, 0, 0, 0, 0],
        "gzip: no name, no time"
    );

    // dotenv
    let text = std::fs::read_to_string(&dotenv).expect("dotenv");
    let lines: Vec<&str> = text.lines().collect();
    assert!(
        lines.iter().all(|l| {
            let (k, v) = l.split_once('=').expect("KEY=VALUE");
            !k.is_empty() && k.chars().all(|c| c.is_ascii_uppercase() || c == '_') && !v.is_empty()
        }),
        "{text}"
    );
    assert!(!text.contains("\n\n") && !text.contains('#'), "{text}");
    let url_line = format!(
        "ARTIFACT_URL=oci://{}/group/project/manifests:v1@{digest}",
        reg.host()
    );
    for want in [
        url_line.as_str(),
        &format!("ARTIFACT_DIGEST={digest}"),
        &format!(
            "ARTIFACT_REPOSITORY=oci://{}/group/project/manifests",
            reg.host()
        ),
        "ARTIFACT_TAG=v1",
        "ARTIFACT_REVISION=main@sha1:0123456789abcdef0123456789abcdef01234567",
        "ARTIFACT_UNCHANGED=false",
    ] {
        assert!(lines.contains(&want), "{want} not in\n{text}");
    }
    // only the dotenv in the directory: the temporary file was renamed
    assert_eq!(std::fs::read_dir(out.path()).expect("ls").count(), 1);
}

#[test]
fn gitlab_ci_job_token_flow_and_defaults() {
    if !require_registry() {
        return;
    }
    let reg = start(RegistryConfig {
        auth: Auth::gitlab_ci("job-token-secret"),
        ..Default::default()
    });
    let src = tree(&manifests());
    let sha = "89abcdef0123456789abcdef0123456789abcdef";
    let env = Env::new()
        .var("GITLAB_CI", "true")
        .var("CI_REGISTRY", &reg.host())
        .var("CI_REGISTRY_USER", "gitlab-ci-token")
        .var("CI_REGISTRY_PASSWORD", "job-token-secret")
        .var("CI_PROJECT_URL", "https://gitlab.example.com/group/project")
        .var("CI_COMMIT_SHA", sha)
        .var("CI_COMMIT_SHORT_SHA", &sha[..8])
        .var("CI_COMMIT_REF_NAME", "main")
        .var("CI_COMMIT_TIMESTAMP", "2024-03-04T05:06:07+00:00");
    let target = format!("oci://{}/group/project/deploy", reg.host());
    let run = env.run(&[
        "push",
        src.path().to_str().expect("utf8"),
        &target,
        "-o",
        "json",
        "-vv",
    ]);
    run.assert_ok();
    assert!(
        !run.stderr.contains("job-token-secret"),
        "secret in logs: {}",
        run.stderr
    );
    assert!(!run.stdout.contains("job-token-secret"));
    let report = run.json();
    assert_eq!(report["tags"], serde_json::json!([&sha[..8]]));
    assert_eq!(report["revision"], format!("main@sha1:{sha}"));
    assert_eq!(
        report["credentials"],
        "CI_REGISTRY_USER/CI_REGISTRY_PASSWORD"
    );

    let pulled = pull(
        &reg.base_url(),
        "group/project/deploy",
        &sha[..8],
        Some(creds(&reg)),
        None,
    );
    let ann = &pulled.json["manifest"]["annotations"];
    assert_eq!(
        ann["org.opencontainers.image.source"],
        "https://gitlab.example.com/group/project"
    );
    assert_eq!(
        ann["org.opencontainers.image.revision"],
        format!("main@sha1:{sha}")
    );
    assert_eq!(
        ann["org.opencontainers.image.created"],
        "2024-03-04T05:06:07Z"
    );

    // The token server was asked for push and pull on the repository.
    let push_scope = reg.token_requests().iter().any(|t| {
        t.username.as_deref() == Some("gitlab-ci-token")
            && t.scopes
                .iter()
                .any(|s| s.contains("group/project/deploy") && s.contains("push"))
    });
    assert!(push_scope, "{:?}", reg.token_requests());

    // Same commit again: same manifest digest, nothing new.
    let again = env.run(&[
        "push",
        src.path().to_str().expect("utf8"),
        &target,
        "-o",
        "json",
    ]);
    again.assert_ok();
    assert_eq!(again.json()["digest"], report["digest"]);
    assert_eq!(again.json()["unchanged"], true);
    assert_eq!(again.json()["blobs_uploaded"], 0);
}

#[test]
fn htpasswd_with_password_stdin_docker_config_and_helper() {
    if !require_registry() {
        return;
    }
    let reg = start(RegistryConfig {
        auth: Auth::Htpasswd {
            username: "alice".into(),
            password: "pa55-word".into(),
        },
        ..Default::default()
    });
    let src = tree(&manifests());
    let path = src.path().to_str().expect("utf8");
    let target = format!("oci://{}/team/app:stdin", reg.host());

    // --username + --password-stdin
    let env = Env::new();
    let run = env.run_stdin(
        &[
            "push",
            path,
            &target,
            "--username",
            "alice",
            "--password-stdin",
        ],
        "pa55-word\n",
    );
    run.assert_ok();

    // docker config auths (base64 auth, key with scheme)
    use base64::Engine as _;
    let b64 = base64::engine::general_purpose::STANDARD.encode("alice:pa55-word");
    let docker = tempfile::tempdir().expect("docker");
    std::fs::write(
        docker.path().join("config.json"),
        format!(
            r#"{{"auths":{{"http://{}":{{"auth":"{b64}"}}}}}}"#,
            reg.host()
        ),
    )
    .expect("config");
    let env = Env::new().var("DOCKER_CONFIG", docker.path().to_str().expect("utf8"));
    let run = env.run(&[
        "push",
        path,
        &format!("oci://{}/team/app:config", reg.host()),
        "-o",
        "json",
    ]);
    run.assert_ok();
    let source = run.json()["credentials"]
        .as_str()
        .expect("credentials")
        .to_string();
    assert!(
        source.contains("docker config") && source.contains("config.json"),
        "{source}"
    );

    // credsStore through docker-credential-<name> get
    let bin = tempfile::tempdir().expect("bin");
    let helper = bin.path().join("docker-credential-testhelper");
    std::fs::write(
        &helper,
        "#!/bin/sh\nread server\nprintf '{\"ServerURL\":\"%s\",\"Username\":\"alice\",\"Secret\":\"pa55-word\"}' \"$server\"\n",
    )
    .expect("helper");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&helper, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    }
    let home = Env::new();
    std::fs::create_dir_all(home.home.path().join(".docker")).expect("mkdir");
    std::fs::write(
        home.home.path().join(".docker/config.json"),
        r#"{"credsStore":"testhelper"}"#,
    )
    .expect("config");
    let path_var = format!(
        "{}:{}",
        bin.path().display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let env = home.var("PATH", &path_var);
    let run = env.run(&[
        "push",
        path,
        &format!("oci://{}/team/app:helper", reg.host()),
        "-o",
        "json",
    ]);
    run.assert_ok();
    assert!(
        run.json()["credentials"]
            .as_str()
            .expect("credentials")
            .contains("docker-credential-testhelper"),
        "{run:#?}"
    );
    assert!(
        pull(
            &reg.base_url(),
            "team/app",
            "helper",
            Some(creds(&reg)),
            None
        )
        .found
    );
}

#[test]
fn tls_registry_with_custom_ca() {
    if !require_registry() {
        return;
    }
    let reg = start(RegistryConfig {
        tls: true,
        ..Default::default()
    });
    let ca = reg.ca_path().expect("ca");
    let src = tree(&manifests());
    let path = src.path().to_str().expect("utf8");
    let target = format!("oci://{}/secure/app:v1", reg.host());
    let env = Env::new();
    env.run(&["push", path, &target])
        .assert_refused(4, "is unreachable", "--ca-file");
    env.run(&[
        "push",
        path,
        &target,
        "--ca-file",
        ca.to_str().expect("utf8"),
    ])
    .assert_ok();
    let pulled = pull(&reg.base_url(), "secure/app", "v1", None, Some(&ca));
    assert!(pulled.found);
    assert_eq!(files_of(&pulled.gnu_untar()), expected(&manifests()));
}

#[test]
fn helm_chart_in_helm_oci_format() {
    if !require_registry() {
        return;
    }
    let reg = start(RegistryConfig::default());
    let chart = tree(&[
        (
            "Chart.yaml",
            "apiVersion: v2\nname: podinfo\nversion: 6.5.0\ndescription: demo\n",
        ),
        ("values.yaml", "replicas: 1\n"),
        (
            "templates/deployment.yaml",
            "replicas: {{ .Values.replicas }}\n{{- if .x }}\n",
        ),
        (".helmignore", "*.bak\n"),
        ("old.bak", "x"),
    ]);
    let env = Env::new();
    let run = env.run(&[
        "push",
        chart.path().to_str().expect("utf8"),
        &format!("oci://{}/charts/podinfo", reg.host()),
        "-o",
        "json",
    ]);
    run.assert_ok();
    assert_eq!(run.json()["kind"], "helm-chart");
    assert_eq!(run.json()["tags"], serde_json::json!(["6.5.0"]));
    let pulled = pull(&reg.base_url(), "charts/podinfo", "6.5.0", None, None);
    let m = &pulled.json["manifest"];
    assert_eq!(
        m["config"]["mediaType"],
        "application/vnd.cncf.helm.config.v1+json"
    );
    assert_eq!(
        m["layers"][0]["mediaType"],
        "application/vnd.cncf.helm.chart.content.v1.tar+gzip"
    );
    let config: Value =
        serde_json::from_str(pulled.json["config"].as_str().expect("config")).expect("json");
    assert_eq!(config["name"], "podinfo");
    assert_eq!(config["version"], "6.5.0");
    let files = files_of(&pulled.gnu_untar());
    let names: Vec<&str> = files.keys().map(String::as_str).collect();
    assert_eq!(
        names,
        vec![
            "podinfo/.helmignore",
            "podinfo/Chart.yaml",
            "podinfo/templates/deployment.yaml",
            "podinfo/values.yaml"
        ]
    );
}

// -------------------------------------------------------- reproducibility

fn dry_json(env: &Env, path: &Path, extra: &[&str]) -> Value {
    let mut args = vec![
        "push",
        path.to_str().expect("utf8"),
        "oci://registry.example.com/group/app:v1",
        "--dry-run",
        "-o",
        "json",
    ];
    args.extend_from_slice(extra);
    let run = env.run(&args);
    run.assert_ok();
    run.json()
}

#[test]
fn same_content_same_digests_whatever_the_machine() {
    let files = manifests();
    let one = tempfile::tempdir().expect("one");
    write_tree(one.path(), &files);
    // Second copy: reverse creation order, other modes, other mtimes.
    let two = tempfile::tempdir().expect("two");
    let mut rev = files.clone();
    rev.reverse();
    write_tree(two.path(), &rev);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        for (p, _) in &files {
            let mode = if p.ends_with(".sh") { 0o750 } else { 0o600 };
            std::fs::set_permissions(two.path().join(p), std::fs::Permissions::from_mode(mode))
                .expect("chmod");
            let mode = if p.ends_with(".sh") { 0o775 } else { 0o664 };
            std::fs::set_permissions(one.path().join(p), std::fs::Permissions::from_mode(mode))
                .expect("chmod");
        }
    }
    let old = std::time::SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000_000);
    for (p, _) in &files {
        std::fs::File::options()
            .write(true)
            .open(two.path().join(p))
            .expect("open")
            .set_modified(old)
            .expect("mtime");
    }
    let pin = [
        "--revision",
        "main@sha1:0123456789abcdef0123456789abcdef01234567",
        "--source",
        "https://gitlab.example.com/g/app",
        "--created",
        "2024-01-01T00:00:00Z",
    ];
    let env = Env::new();
    let a = dry_json(&env, one.path(), &pin);
    let b = dry_json(&env, two.path(), &pin);
    assert_eq!(a["layer_digest"], b["layer_digest"]);
    assert_eq!(
        a["digest"], b["digest"],
        "same commit metadata, same manifest"
    );
    assert_eq!(a["contents"], b["contents"]);

    // Another revision: same layer, another manifest.
    let c = dry_json(&env, one.path(), &["--revision", "main@sha1:ffff"]);
    assert_eq!(a["layer_digest"], c["layer_digest"]);
    assert_ne!(a["digest"], c["digest"]);

    // A changed file changes the layer.
    std::fs::write(one.path().join("infra/namespace.yaml"), "kind: Namespace\n").expect("write");
    let d = dry_json(&env, one.path(), &pin);
    assert_ne!(a["layer_digest"], d["layer_digest"]);
}

#[test]
fn dry_run_lists_files_and_manifest_and_uploads_nothing() {
    let src = tree(&manifests());
    let env = Env::new();
    // Port 1 is closed: a dry run must not connect.
    let run = env.run(&[
        "push",
        src.path().to_str().expect("utf8"),
        "oci://127.0.0.1:1/app:v1",
        "--dry-run",
        "--created",
        "2024-01-01T00:00:00Z",
    ]);
    run.assert_ok();
    assert!(
        run.stdout.contains("apps/podinfo/deployment.yaml"),
        "{}",
        run.stdout
    );
    assert!(run.stdout.contains("scripts/check.sh"));
    assert!(run.stdout.contains("layer:    sha256:"), "{}", run.stdout);
    assert!(run.stdout.contains(FLUX_LAYER), "{}", run.stdout);
    assert!(
        run.stdout
            .contains("\"org.opencontainers.image.created\": \"2024-01-01T00:00:00Z\"")
    );
    assert!(run.stderr.contains("dry run: would push"), "{}", run.stderr);
    let json = dry_json(&env, src.path(), &[]);
    assert_eq!(json["dry_run"], true);
    let sizes: Vec<(String, u64)> = json["contents"]
        .as_array()
        .expect("contents")
        .iter()
        .map(|f| {
            (
                f["path"].as_str().expect("p").to_string(),
                f["size"].as_u64().expect("s"),
            )
        })
        .collect();
    assert!(
        sizes.contains(&("infra/namespace.yaml".to_string(), 54)),
        "{sizes:?}"
    );
    assert_eq!(
        json["manifest"]["layers"][0]["digest"],
        json["layer_digest"]
    );
}

#[test]
fn laptop_annotations_come_from_the_git_checkout() {
    let repo = tree(&manifests());
    let git = |args: &[&str]| {
        let st = Command::new("git")
            .current_dir(repo.path())
            .args([
                "-c",
                "user.name=t",
                "-c",
                "user.email=t@example.com",
                "-c",
                "init.defaultBranch=main",
            ])
            .args(args)
            .env("GIT_COMMITTER_DATE", "2024-05-06T07:08:09+02:00")
            .env("GIT_AUTHOR_DATE", "2024-05-06T07:08:09+02:00")
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .env("HOME", repo.path())
            .output()
            .expect("git");
        assert!(
            st.status.success(),
            "git {args:?}: {}",
            String::from_utf8_lossy(&st.stderr)
        );
        String::from_utf8_lossy(&st.stdout).trim().to_string()
    };
    git(&["init", "-q"]);
    git(&["checkout", "-q", "-b", "feature/x"]);
    git(&["add", "-A"]);
    git(&["commit", "-q", "-m", "init"]);
    git(&[
        "remote",
        "add",
        "origin",
        "git@gitlab.example.com:group/app.git",
    ]);
    let head = git(&["rev-parse", "HEAD"]);
    let env = Env::new();
    let json = dry_json(&env, &repo.path().join("apps"), &[]);
    assert_eq!(json["source"], "https://gitlab.example.com/group/app");
    assert_eq!(json["revision"], format!("feature/x@sha1:{head}"));
    assert_eq!(json["created"], "2024-05-06T05:08:09Z");
    // and so the digest is stable for the commit
    let again = dry_json(&env, &repo.path().join("apps"), &[]);
    assert_eq!(json["digest"], again["digest"]);
}

#[test]
fn repush_of_unchanged_content_uploads_no_blob() {
    if !require_registry() {
        return;
    }
    let reg = start(RegistryConfig::default());
    let proxy = FaultProxy::start(&reg).expect("proxy");
    let src = tree(&manifests());
    let path = src.path().to_str().expect("utf8");
    let target = format!("oci://{}/g/app:v1", proxy.host());
    let pin = [
        "--revision",
        "main@sha1:aaaa",
        "--created",
        "2024-01-01T00:00:00Z",
    ];
    let env = Env::new();
    let mut args = vec!["push", path, target.as_str(), "-o", "json"];
    args.extend_from_slice(&pin);
    let first = env.run(&args);
    first.assert_ok();
    let uploads = |p: &FaultProxy| {
        p.requests()
            .iter()
            .filter(|r| {
                (r.method == "POST" || r.method == "PUT" || r.method == "PATCH")
                    && r.path.contains("/blobs/uploads")
            })
            .count()
    };
    let manifest_puts = |p: &FaultProxy| {
        p.requests()
            .iter()
            .filter(|r| r.method == "PUT" && r.path.contains("/manifests/"))
            .count()
    };
    assert_eq!(uploads(&proxy), 4, "{:#?}", proxy.requests());
    assert_eq!(manifest_puts(&proxy), 1);

    proxy.clear();
    let second = env.run(&args);
    second.assert_ok();
    assert_eq!(uploads(&proxy), 0, "{:#?}", proxy.requests());
    assert_eq!(manifest_puts(&proxy), 0, "{:#?}", proxy.requests());
    assert_eq!(second.json()["digest"], first.json()["digest"]);
    assert_eq!(second.json()["unchanged"], true);
    assert!(second.stderr.contains("unchanged"), "{}", second.stderr);

    // Other commit metadata, same content: blobs are not uploaded again.
    proxy.clear();
    let third = env.run(&[
        "push",
        path,
        &target,
        "-o",
        "json",
        "--revision",
        "main@sha1:bbbb",
    ]);
    third.assert_ok();
    assert_eq!(uploads(&proxy), 0, "{:#?}", proxy.requests());
    assert_eq!(manifest_puts(&proxy), 1);
    assert_eq!(third.json()["unchanged"], false);

    // --skip-unchanged: the tag already holds this layer; nothing is written
    // and the report describes what the registry holds.
    proxy.clear();
    let out = tempfile::tempdir().expect("out");
    let dotenv = out.path().join("push.env");
    let fourth = env.run(&[
        "push",
        path,
        &target,
        "-o",
        "json",
        "--revision",
        "main@sha1:cccc",
        "--skip-unchanged",
        "--dotenv",
        dotenv.to_str().expect("utf8"),
    ]);
    fourth.assert_ok();
    assert_eq!(
        uploads(&proxy) + manifest_puts(&proxy),
        0,
        "{:#?}",
        proxy.requests()
    );
    let r = fourth.json();
    assert_eq!(r["unchanged"], true);
    assert_eq!(r["digest"], third.json()["digest"]);
    assert_eq!(r["revision"], "main@sha1:bbbb");
    let text = std::fs::read_to_string(&dotenv).expect("dotenv");
    assert!(text.contains("ARTIFACT_UNCHANGED=true"), "{text}");
    assert!(text.contains("ARTIFACT_REVISION=main@sha1:bbbb"), "{text}");
}

// ------------------------------------------------------- transient faults

#[test]
fn server_errors_and_throttling_are_retried() {
    if !require_registry() {
        return;
    }
    let reg = start(RegistryConfig::default());
    let proxy = FaultProxy::start(&reg).expect("proxy");
    let src = tree(&manifests());
    let path = src.path().to_str().expect("utf8");
    let env = Env::new();

    proxy.fail_next(2, 503);
    let run = env.run(&["push", path, &format!("oci://{}/g/a:v1", proxy.host())]);
    run.assert_ok();
    let failed = proxy.requests().iter().filter(|r| r.status == 503).count();
    assert_eq!(failed, 2);

    proxy.clear();
    proxy.fail_next_matching("PUT", "/manifests/", 1, 500);
    env.run(&["push", path, &format!("oci://{}/g/b:v1", proxy.host())])
        .assert_ok();
    assert!(pull(&reg.base_url(), "g/b", "v1", None, None).found);

    proxy.clear();
    proxy.throttle_next(1, 1);
    let started = Instant::now();
    env.run(&["push", path, &format!("oci://{}/g/c:v1", proxy.host())])
        .assert_ok();
    assert!(
        started.elapsed() >= Duration::from_secs(1),
        "Retry-After honoured"
    );

    // A Retry-After beyond --timeout is a timeout (exit 3), not a hang.
    proxy.clear();
    proxy.throttle_next(1, 30);
    env.run(&[
        "push",
        path,
        &format!("oci://{}/g/d:v1", proxy.host()),
        "--timeout",
        "3s",
    ])
    .assert_refused(
        3,
        "asked to retry after 30s, beyond --timeout 3s: not waiting for it",
        "Retry-After",
    );

    // Server errors that never stop: exit 4, no tag.
    proxy.clear();
    proxy.fail_next_matching("PUT", "/manifests/", 100, 503);
    env.run(&["push", path, &format!("oci://{}/g/e:v1", proxy.host())])
        .assert_refused(4, "kept failing", "try again later");
    assert!(!pull(&reg.base_url(), "g/e", "v1", None, None).found);
}

#[test]
fn connection_cut_mid_upload() {
    if !require_registry() {
        return;
    }
    let reg = start(RegistryConfig::default());
    let proxy = FaultProxy::start(&reg).expect("proxy");
    // Big enough that the cut happens mid-body.
    let big: String = (0..20_000).map(|i| format!("k{i}: v{i}\n")).collect();
    let src = tree(&[("big.yaml", big.as_str()), ("a.yaml", "a: 1\n")]);
    let path = src.path().to_str().expect("utf8");
    let env = Env::new();

    // One cut: retried with a new upload session, the push succeeds.
    proxy.cut_next_matching("PUT", "/blobs/uploads/");
    let run = env.run(&[
        "push",
        path,
        &format!("oci://{}/g/cut:v1", proxy.host()),
        "-o",
        "json",
    ]);
    run.assert_ok();
    assert!(
        proxy.requests().iter().any(|r| r.fault.is_some()),
        "{:#?}",
        proxy.requests()
    );
    let pulled = pull(&reg.base_url(), "g/cut", "v1", None, None);
    assert_eq!(files_of(&pulled.gnu_untar())["big.yaml"], big.as_bytes());

    // Cut every time: the push fails, no tag, no dotenv.
    proxy.clear();
    for _ in 0..30 {
        proxy.cut_next_matching("PUT", "/blobs/uploads/");
    }
    let out = tempfile::tempdir().expect("out");
    let dotenv = out.path().join("push.env");
    let src2 = tree(&[("big.yaml", &format!("{big}extra: 1\n"))]);
    let run = env.run(&[
        "push",
        src2.path().to_str().expect("utf8"),
        &format!("oci://{}/g/cut2:v1", proxy.host()),
        "--dotenv",
        dotenv.to_str().expect("utf8"),
    ]);
    run.assert_refused(
        4,
        "the connection broke while uploading blob",
        "proxies and load balancers",
    );
    assert!(
        !run.stderr.contains("_state="),
        "no upload state in errors: {run:#?}"
    );
    assert!(
        !pull(&reg.base_url(), "g/cut2", "v1", None, None).found,
        "no tag may be left"
    );
    assert!(!dotenv.exists(), "no dotenv on failure");
    assert!(
        !proxy
            .requests()
            .iter()
            .any(|r| r.method == "PUT" && r.path.contains("/manifests/"))
    );
}

// ------------------------------------------------------------------ errors

#[test]
fn rejected_manifest_is_exit_1_and_leaves_no_tag() {
    if !require_registry() {
        return;
    }
    let reg = start(RegistryConfig::default());
    let proxy = FaultProxy::start(&reg).expect("proxy");
    let src = tree(&manifests());
    let out = tempfile::tempdir().expect("out");
    let dotenv = out.path().join("push.env");
    proxy.fail_next_matching("PUT", "/manifests/", 1, 400);
    Env::new()
        .run(&[
            "push",
            src.path().to_str().expect("utf8"),
            &format!("oci://{}/g/app:v1", proxy.host()),
            "--dotenv",
            dotenv.to_str().expect("utf8"),
        ])
        .assert_refused(1, "rejected the manifest: 400", "-vv");
    assert!(!pull(&reg.base_url(), "g/app", "v1", None, None).found);
    assert!(!dotenv.exists());
}

#[test]
fn wrong_password_is_exit_4_naming_the_source_not_the_secret() {
    if !require_registry() {
        return;
    }
    let src = tree(&manifests());
    let path = src.path().to_str().expect("utf8");
    for auth in [
        Auth::Htpasswd {
            username: "alice".into(),
            password: "right".into(),
        },
        Auth::gitlab_ci("right"),
    ] {
        let reg = start(RegistryConfig {
            auth: auth.clone(),
            ..Default::default()
        });
        let target = format!("oci://{}/g/app:v1", reg.host());
        let user = creds(&reg).0;
        let run = Env::new().run(&[
            "push",
            path,
            &target,
            "--creds",
            &format!("{user}:wr0ng-s3cret"),
            "-vv",
        ]);
        run.assert_refused(
            4,
            "refused the credentials (--creds)",
            "check the user name and password",
        );
        assert!(
            !run.stderr.contains("wr0ng-s3cret"),
            "{auth:?}: {}",
            run.stderr
        );
        // anonymous: says credentials are needed
        Env::new().run(&["push", path, &target]).assert_refused(
            4,
            "anonymous",
            "needs credentials",
        );
    }
}

#[test]
fn pull_only_user_is_denied_with_exit_4() {
    if !require_registry() {
        return;
    }
    let reg = start(RegistryConfig {
        auth: Auth::gitlab_ci("job"),
        pull_only_users: vec![("reader".into(), "read-pw".into())],
        ..Default::default()
    });
    let src = tree(&manifests());
    let env = Env::new()
        .var("CI_REGISTRY", &reg.host())
        .var("CI_DEPLOY_USER", "reader")
        .var("CI_DEPLOY_PASSWORD", "read-pw")
        .var("CI_REGISTRY_USER", "gitlab-ci-token")
        .var("CI_REGISTRY_PASSWORD", "job");
    let run = env.run(&[
        "push",
        src.path().to_str().expect("utf8"),
        &format!("oci://{}/g/app:v1", reg.host()),
    ]);
    run.assert_refused(4, "denied push", "write_registry");
    assert!(
        run.stderr.contains("CI_DEPLOY_USER/CI_DEPLOY_PASSWORD"),
        "{}",
        run.stderr
    );
    assert!(!run.stderr.contains("read-pw"));
}

#[test]
fn unreachable_registry_is_exit_4() {
    let src = tree(&manifests());
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        l.local_addr().expect("addr").port()
    };
    let started = Instant::now();
    Env::new()
        .run(&[
            "push",
            src.path().to_str().expect("utf8"),
            &format!("oci://127.0.0.1:{port}/g/app:v1"),
        ])
        .assert_refused(4, "is unreachable", "check the host and port");
    assert!(started.elapsed() < Duration::from_secs(20));
}

/// Bad input is refused before anything is sent: exit 2, the message and
/// the hint, no connection to the registry (a listener records any), and
/// no dotenv written.
#[test]
fn local_input_errors_are_exit_2_before_any_upload() {
    let env = Env::new();
    let listener = Listener::new();
    let target = listener.target();
    let target = target.as_str();
    let out = tempfile::tempdir().expect("out");
    let dotenv = out.path().join("push.env");
    let dotenv_arg = dotenv.to_str().expect("utf8").to_string();
    let refused = |args: &[&str], code: i32, message: &str, hint: &str| {
        let mut args = args.to_vec();
        args.extend_from_slice(&["--dotenv", &dotenv_arg]);
        // Should a regression reach the listener (which never answers),
        // fail in seconds rather than hang.
        if !args.contains(&"--timeout") {
            args.extend_from_slice(&["--timeout", "5s"]);
        }
        let run = env.run(&args);
        run.assert_refused(code, message, hint);
        listener.assert_untouched();
        assert!(!dotenv.exists(), "no dotenv for {args:?}");
        run
    };

    let dir = tempfile::tempdir().expect("dir");
    let missing = dir.path().join("nope");
    refused(
        &["push", missing.to_str().expect("utf8"), target],
        2,
        "no such file or directory",
        "directory (or file) of manifests",
    );

    let only_ignored = tree(&[("logo.png", "x"), (".git/HEAD", "ref"), ("docs/a.md", "x")]);
    refused(
        &[
            "push",
            only_ignored.path().to_str().expect("utf8"),
            target,
            "--ignore",
            "*.md",
        ],
        2,
        "nothing to push",
        "3 file(s) were all ignored",
    );

    let bad_yaml = tree(&[
        ("ok.yaml", "a: 1\n"),
        ("apps/broken.yaml", "a: 1\n---\nb: c: d\n"),
    ]);
    let run = refused(
        &["push", bad_yaml.path().to_str().expect("utf8"), target],
        2,
        "broken.yaml:3:5: invalid YAML",
        "--no-validate",
    );
    assert!(run.stderr.contains("invalid YAML"), "{}", run.stderr);
    // --no-validate skips the check.
    let run = env.run(&[
        "push",
        bad_yaml.path().to_str().expect("utf8"),
        target,
        "--no-validate",
        "--dry-run",
    ]);
    run.assert_ok();

    #[cfg(unix)]
    {
        let outside = tree(&[("secret.yaml", "s: 1\n")]);
        let escaping = tree(&[("a.yaml", "a: 1\n")]);
        std::os::unix::fs::symlink(
            outside.path().join("secret.yaml"),
            escaping.path().join("leak.yaml"),
        )
        .expect("symlink");
        refused(
            &["push", escaping.path().to_str().expect("utf8"), target],
            2,
            "leak.yaml points outside",
            "resolve inside PATH",
        );

        // Unreadable file. Root reads anything, so there use a FIFO, which
        // cannot be packed either; otherwise chmod 000. (As root,
        // unreadable_file_as_an_unprivileged_user drops privileges.)
        let unreadable = tree(&[("a.yaml", "a: 1\n"), ("b.yaml", "b: 2\n")]);
        let is_root = Command::new("id")
            .arg("-u")
            .output()
            .map(|o| o.stdout == b"0\n")
            .unwrap_or(false);
        if is_root {
            let fifo = unreadable.path().join("pipe.yaml");
            let st = Command::new("mkfifo").arg(&fifo).status().expect("mkfifo");
            assert!(st.success());
            refused(
                &["push", unreadable.path().to_str().expect("utf8"), target],
                2,
                "pipe.yaml: it is a FIFO",
                "remove it",
            );
        } else {
            use std::os::unix::fs::PermissionsExt;
            let b = unreadable.path().join("b.yaml");
            std::fs::set_permissions(&b, std::fs::Permissions::from_mode(0o000)).expect("chmod");
            refused(
                &["push", unreadable.path().to_str().expect("utf8"), target],
                2,
                "cannot read",
                "readable",
            );
        }
    }

    let src = tree(&manifests());
    let path = src.path().to_str().expect("utf8");
    refused(
        &["push", path, "registry.example.com/g/app:v1"],
        2,
        "does not start with oci://",
        "oci://registry.example.com/g/app:v1",
    );
    refused(
        &["push", path, "oci://registry.example.com/Group/App:v1"],
        2,
        "uppercase",
        "\"group/app\"",
    );
    refused(
        &["push", path, "oci://registry.example.com/g/app:-v1"],
        2,
        "bad tag",
        "128 characters",
    );
    refused(
        &["push", path, "oci://registry.example.com/g/app@sha256:1234"],
        2,
        "bad digest",
        "64 lowercase hex",
    );
    refused(
        &["push", path, target, "--tag", "a+b"],
        2,
        "invalid tag \"a+b\"",
        "128 characters",
    );
    refused(
        &["push", path, target, "--annotation", "novalue"],
        2,
        "invalid annotation",
        "KEY=VALUE",
    );
    refused(
        &["push", path, target, "--creds", "nopassword"],
        2,
        "--creds",
        "--password-stdin",
    );
    refused(
        &["push", path, target, "--trigger", "--dry-run"],
        2,
        "--trigger/--wait cannot be combined with --dry-run",
        "drop --dry-run",
    );
    refused(
        &[
            "push",
            path,
            target,
            "--creds",
            "u:p",
            "--username",
            "u",
            "--password-stdin",
        ],
        2,
        "'--creds <USER:PASSWORD>' cannot be used with: --username <USER>, --password-stdin",
        "--help",
    );
    refused(
        &["push", path, target, "--dependents"],
        2,
        "--dependents and -A only apply with --trigger or --wait",
        "add --trigger",
    );
    refused(
        &["push", path, target, "--timeout", "0"],
        2,
        "--timeout",
        "5m",
    );
    refused(
        &["push", path, target, "--timeout", "soon"],
        2,
        "invalid --timeout \"soon\"",
        "30s, 5m",
    );
    refused(
        &["push", path, target, "--wait", "--wait-timeout", "5"],
        2,
        "invalid --wait-timeout \"5\": a unit is required",
        "--wait-timeout 5s",
    );
}

// ------------------------------------------------------- reliability (issue 8)

/// A registry slower than `--timeout` (every request delayed): exit 3 with
/// the hint, promptly, and no tag.
#[test]
fn slow_registry_hits_the_timeout_and_leaves_no_tag() {
    if !require_registry() {
        return;
    }
    let reg = start(RegistryConfig::default());
    let proxy = FaultProxy::start(&reg).expect("proxy");
    proxy.delay(Duration::from_secs(3));
    let src = tree(&manifests());
    let out = tempfile::tempdir().expect("out");
    let dotenv = out.path().join("push.env");
    Env::new()
        .run(&[
            "push",
            src.path().to_str().expect("utf8"),
            &format!("oci://{}/g/slow:v1", proxy.host()),
            "--timeout",
            "2s",
            "--dotenv",
            dotenv.to_str().expect("utf8"),
        ])
        .assert_refused(3, "timed out after 2s", "--timeout");
    proxy.delay(Duration::ZERO);
    assert!(!pull(&reg.base_url(), "g/slow", "v1", None, None).found);
    assert!(!dotenv.exists(), "no dotenv on failure");
}

/// GitLab's registry tokens expire: a token the registry finds expired is
/// a 401 → exit 4 with a hint, and nothing is tagged.
#[test]
fn expired_registry_token_is_exit_4_and_leaves_no_tag() {
    if !require_registry() {
        return;
    }
    let reg = start(RegistryConfig {
        auth: Auth::gitlab_ci("expired-s3cret"),
        token_ttl: Duration::from_secs(60),
        // Issued already expired (beyond distribution's 60 s of leeway).
        token_backdate: Duration::from_secs(600),
        ..Default::default()
    });
    let src = tree(&manifests());
    let env = Env::new()
        .var("CI_REGISTRY", &reg.host())
        .var("CI_REGISTRY_USER", "gitlab-ci-token")
        .var("CI_REGISTRY_PASSWORD", "expired-s3cret");
    let run = env.run(&[
        "push",
        src.path().to_str().expect("utf8"),
        &format!("oci://{}/g/app:v1", reg.host()),
    ]);
    run.assert_refused(
        4,
        "rejected the token issued for the credentials (CI_REGISTRY_USER/CI_REGISTRY_PASSWORD)",
        "re-run the job",
    );
    assert!(!run.stderr.contains("expired-s3cret"), "{}", run.stderr);
    reg.set_token_backdate(Duration::ZERO);
    assert!(!pull(&reg.base_url(), "g/app", "v1", Some(creds(&reg)), None).found);
}

/// Ctrl-C while a blob is being uploaded (the registry is slow): exit 130
/// promptly, no manifest written, no tag, no dotenv.
#[test]
fn ctrl_c_during_blob_upload_exits_130_and_leaves_no_tag() {
    if !require_registry() {
        return;
    }
    let reg = start(RegistryConfig::default());
    let proxy = FaultProxy::start(&reg).expect("proxy");
    proxy.delay(Duration::from_millis(700));
    let src = tree(&manifests());
    let out = tempfile::tempdir().expect("out");
    let dotenv = out.path().join("push.env");
    let mut child = Env::new()
        .command(&[
            "push",
            src.path().to_str().expect("utf8"),
            &format!("oci://{}/g/int:v1", proxy.host()),
            "--dotenv",
            dotenv.to_str().expect("utf8"),
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn push");
    // An upload session was opened: the blob's PUT is on its way now.
    let deadline = Instant::now() + Duration::from_secs(30);
    while !proxy
        .requests()
        .iter()
        .any(|r| r.method == "POST" && r.path.contains("/blobs/uploads/"))
    {
        assert!(
            child.try_wait().expect("try_wait").is_none(),
            "push ended before uploading"
        );
        assert!(Instant::now() < deadline, "{:#?}", proxy.requests());
        std::thread::sleep(Duration::from_millis(20));
    }
    let sent = Instant::now();
    let st = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .expect("kill");
    assert!(st.success());
    let code = loop {
        if let Some(s) = child.try_wait().expect("try_wait") {
            break s.code();
        }
        if sent.elapsed() > Duration::from_secs(3) {
            let _ = child.kill();
            panic!("push did not exit within 3 s of SIGINT");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let run = Run::of(child.wait_with_output().expect("output"));
    assert_eq!(code, Some(130), "{run:#?}");
    assert!(run.stderr.contains("interrupted"), "{run:#?}");
    proxy.delay(Duration::ZERO);
    assert!(
        !proxy
            .requests()
            .iter()
            .any(|r| r.method == "PUT" && r.path.contains("/manifests/")),
        "{:#?}",
        proxy.requests()
    );
    assert!(!pull(&reg.base_url(), "g/int", "v1", None, None).found);
    assert!(!dotenv.exists(), "no dotenv when interrupted");
}

/// As root, chmod 000 does not stop reading; drop to `nobody` with setpriv
/// so the real "permission denied" path is tested. Skipped (with the
/// reason printed) when not root, without setpriv, or when `nobody` cannot
/// run the test binary.
#[cfg(unix)]
#[test]
fn unreadable_file_as_an_unprivileged_user() {
    use std::os::unix::fs::PermissionsExt;
    let is_root = Command::new("id")
        .arg("-u")
        .output()
        .map(|o| o.stdout == b"0\n")
        .unwrap_or(false);
    if !is_root {
        eprintln!(
            "skipping: not root (local_input_errors_are_exit_2_before_any_upload covers chmod 000)"
        );
        return;
    }
    let as_nobody = |args: &[&str], home: &Path| {
        let mut cmd = Command::new("setpriv");
        cmd.args(["--reuid=65534", "--regid=65534", "--clear-groups"])
            .arg(crate::common::bin())
            .args(args)
            .env_clear()
            .env("HOME", home)
            .env("PATH", "/usr/bin:/bin")
            .stdin(Stdio::null());
        cmd.output()
    };
    let home = tempfile::tempdir().expect("home");
    let open = std::fs::Permissions::from_mode(0o755);
    std::fs::set_permissions(home.path(), open.clone()).expect("chmod");
    match as_nobody(&["version"], home.path()) {
        Ok(o) if o.status.success() => {}
        Ok(o) => {
            eprintln!(
                "skipping: nobody cannot run {}: {}",
                crate::common::bin().display(),
                String::from_utf8_lossy(&o.stderr)
            );
            return;
        }
        Err(e) => {
            eprintln!("skipping: setpriv not available: {e}");
            return;
        }
    }
    let listener = Listener::new();
    let src = tree(&[("a.yaml", "a: 1\n"), ("b.yaml", "b: 2\n")]);
    std::fs::set_permissions(src.path(), open.clone()).expect("chmod");
    let b = src.path().join("b.yaml");
    std::fs::set_permissions(&b, std::fs::Permissions::from_mode(0o000)).expect("chmod");
    let out = tempfile::tempdir().expect("out");
    std::fs::set_permissions(out.path(), std::fs::Permissions::from_mode(0o777)).expect("chmod");
    let dotenv = out.path().join("push.env");
    let run = Run::of(
        as_nobody(
            &[
                "push",
                src.path().to_str().expect("utf8"),
                &listener.target(),
                "--dotenv",
                dotenv.to_str().expect("utf8"),
            ],
            home.path(),
        )
        .expect("setpriv runs"),
    );
    run.assert_refused(2, &format!("cannot read {}", b.display()), "readable");
    assert!(run.stderr.contains("Permission denied"), "{run:#?}");
    listener.assert_untouched();
    assert!(!dotenv.exists());
}

/// A loopback port that records whether anything connected: proof that a
/// rejected command never reached a registry.
struct Listener(std::net::TcpListener);

impl Listener {
    fn new() -> Listener {
        let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        l.set_nonblocking(true).expect("nonblocking");
        Listener(l)
    }

    fn target(&self) -> String {
        format!(
            "oci://127.0.0.1:{}/g/app:v1",
            self.0.local_addr().expect("addr").port()
        )
    }

    #[track_caller]
    fn assert_untouched(&self) {
        match self.0.accept() {
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
            Ok((_, peer)) => panic!("the registry was contacted (from {peer})"),
            Err(e) => panic!("accept: {e}"),
        }
    }
}
