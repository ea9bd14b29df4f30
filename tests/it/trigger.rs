//! `trigger` and `receiver create` against the API emulator, and the
//! webhook method against a local Receiver that checks calls the way
//! notification-controller does.

use crate::common::{Run, plugin, run, write};
use serde_json::{Value, json};
use std::io::{BufRead, BufReader, Read, Write};
use std::path::PathBuf;
use testbed::apiserver::{ApiServer, ApiServerConfig, RequestRecord};

const REPO: &str = "registry.example.com/team/app/manifests";
const DIGEST: &str = "sha256:1111111111111111111111111111111111111111111111111111111111111111";
const HIGHER: &str = "sha256:2222222222222222222222222222222222222222222222222222222222222222";

/// An API emulator, a HOME and a kubeconfig pointing at it.
struct Bed {
    api: ApiServer,
    home: tempfile::TempDir,
    kubeconfig: PathBuf,
}

impl Bed {
    fn new() -> Bed {
        Bed::with(ApiServerConfig::default())
    }

    fn with(cfg: ApiServerConfig) -> Bed {
        let api = ApiServer::start(cfg).expect("api server starts");
        let home = tempfile::tempdir().expect("tempdir");
        let kubeconfig = home.path().join("kubeconfig");
        write(&kubeconfig, &api.kubeconfig("testbed", Some("flux-system")));
        Bed {
            api,
            home,
            kubeconfig,
        }
    }

    fn create(&self, obj: Value) {
        self.api.store().create(obj).expect("create object");
    }

    fn run(&self, args: &[&str]) -> Run {
        let mut cmd = plugin(self.home.path());
        cmd.arg("--kubeconfig").arg(&self.kubeconfig).args(args);
        run(&mut cmd)
    }

    /// The merge patches sent, as (path, body).
    fn patches(&self) -> Vec<RequestRecord> {
        self.api
            .requests()
            .into_iter()
            .filter(|r| r.method == "PATCH")
            .collect()
    }

    fn annotation(
        &self,
        api_version: &str,
        kind: &str,
        ns: &str,
        name: &str,
        key: &str,
    ) -> Option<String> {
        let obj = self.api.store().get(api_version, kind, ns, name)?;
        obj.pointer("/metadata/annotations")
            .and_then(|a| a.get(key))
            .and_then(Value::as_str)
            .map(str::to_string)
    }
}

fn ocirepo(ns: &str, name: &str, reference: Value) -> Value {
    json!({
        "apiVersion": "source.toolkit.fluxcd.io/v1",
        "kind": "OCIRepository",
        "metadata": {"name": name, "namespace": ns},
        "spec": {"url": format!("oci://{REPO}"), "ref": reference, "interval": "10m"},
    })
}

fn ks(ns: &str, name: &str, source: &str, depends_on: &[&str]) -> Value {
    let deps: Vec<Value> = depends_on.iter().map(|d| json!({"name": d})).collect();
    json!({
        "apiVersion": "kustomize.toolkit.fluxcd.io/v1",
        "kind": "Kustomization",
        "metadata": {"name": name, "namespace": ns},
        "spec": {
            "sourceRef": {"kind": "OCIRepository", "name": source},
            "dependsOn": deps,
            "path": "./",
            "prune": true,
            "interval": "10m",
        },
    })
}

fn hr(ns: &str, name: &str, source: &str) -> Value {
    json!({
        "apiVersion": "helm.toolkit.fluxcd.io/v2",
        "kind": "HelmRelease",
        "metadata": {"name": name, "namespace": ns},
        "spec": {"chartRef": {"kind": "OCIRepository", "name": source}, "interval": "10m"},
    })
}

fn suspended(mut obj: Value) -> Value {
    obj["spec"]["suspend"] = json!(true);
    obj
}

fn patch_token(r: &RequestRecord, key: &str) -> Option<String> {
    r.body
        .as_ref()?
        .pointer("/metadata/annotations")?
        .get(key)?
        .as_str()
        .map(str::to_string)
}

fn patched_names(bed: &Bed) -> Vec<String> {
    bed.patches()
        .iter()
        .map(|r| {
            let parts: Vec<&str> = r.path.split('/').collect();
            let n = parts.len();
            format!("{}/{}/{}", parts[n - 3], parts[n - 2], parts[n - 1])
        })
        .collect()
}

#[test]
fn explicit_objects_get_one_patch_each_with_one_token() {
    let bed = Bed::new();
    bed.create(ocirepo("flux-system", "app", json!({"tag": "v1"})));
    bed.create(ks("flux-system", "apps", "app", &[]));
    let dotenv = bed.home.path().join("out/trigger.env");
    std::fs::create_dir_all(dotenv.parent().expect("parent")).expect("mkdir");
    let r = bed.run(&[
        "trigger",
        "ks/apps",
        "ocirepository/app",
        "-o",
        "json",
        "--dotenv",
        dotenv.to_str().expect("utf8"),
    ]);
    r.assert_ok();
    let report = r.json();
    let token = report["token"].as_str().expect("token").to_string();
    assert!(token.ends_with('Z') && token.contains('T'), "{token}");
    // Sources first, whatever the order of the arguments.
    assert_eq!(report["objects"][0]["kind"], "OCIRepository");
    assert_eq!(report["objects"][1]["kind"], "Kustomization");
    assert_eq!(report["objects"][1]["result"], "triggered");
    assert_eq!(
        patched_names(&bed),
        vec![
            "flux-system/ocirepositories/app",
            "flux-system/kustomizations/apps"
        ]
    );
    for p in bed.patches() {
        assert_eq!(
            patch_token(&p, "reconcile.fluxcd.io/requestedAt").as_deref(),
            Some(token.as_str())
        );
        assert!(patch_token(&p, "reconcile.fluxcd.io/forceAt").is_none());
        assert_eq!(
            p.content_type.as_deref(),
            Some("application/merge-patch+json")
        );
    }
    assert_eq!(
        bed.annotation(
            "kustomize.toolkit.fluxcd.io/v1",
            "Kustomization",
            "flux-system",
            "apps",
            "reconcile.fluxcd.io/requestedAt"
        )
        .as_deref(),
        Some(token.as_str())
    );
    let env = std::fs::read_to_string(&dotenv).expect("dotenv written");
    assert!(
        env.contains(&format!("FLUX_RECONCILE_TOKEN={token}\n")),
        "{env}"
    );
    assert!(env.contains("FLUX_TRIGGERED=2\n"), "{env}");
    assert!(r.stderr.contains("triggered 2 objects"), "{}", r.stderr);
}

#[test]
fn table_output_lists_each_object() {
    let bed = Bed::new();
    bed.create(ks("flux-system", "apps", "app", &[]));
    let r = bed.run(&["trigger", "kustomization/apps"]);
    r.assert_ok();
    let mut lines = r.stdout.lines();
    let header = lines.next().expect("header");
    for col in ["NAMESPACE", "KIND/NAME", "METHOD", "RESULT", "TOKEN"] {
        assert!(header.contains(col), "{header}");
    }
    let row = lines.next().expect("row");
    assert!(
        row.contains("flux-system") && row.contains("Kustomization/apps"),
        "{row}"
    );
    assert!(
        row.contains("annotation") && row.contains("triggered"),
        "{row}"
    );

    let r = bed.run(&["trigger", "kustomization/apps", "-o", "yaml"]);
    r.assert_ok();
    assert!(
        r.stdout.contains("token: ") && r.stdout.contains("objects:"),
        "{}",
        r.stdout
    );
    assert!(r.stdout.contains("result: triggered"), "{}", r.stdout);
    assert!(r.stdout.ends_with('\n'));
}

#[test]
fn force_and_reset_go_to_helmreleases_only() {
    let bed = Bed::new();
    bed.create(ocirepo("flux-system", "chart", json!({"tag": "1.0.0"})));
    bed.create(hr("flux-system", "podinfo", "chart"));
    bed.create(ks("flux-system", "apps", "chart", &[]));
    let r = bed.run(&[
        "trigger",
        "--artifact",
        &format!("oci://{REPO}:1.0.0"),
        "--force",
        "--reset",
        "-o",
        "json",
    ]);
    r.assert_ok();
    let token = r.json()["token"].as_str().expect("token").to_string();
    let patches = bed.patches();
    assert_eq!(patches.len(), 3, "{patches:#?}");
    assert!(patches[0].path.ends_with("/ocirepositories/chart"));
    for p in &patches {
        let is_hr = p.path.contains("/helmreleases/");
        let want = if is_hr { Some(token.clone()) } else { None };
        assert_eq!(
            patch_token(p, "reconcile.fluxcd.io/forceAt"),
            want,
            "{}",
            p.path
        );
        assert_eq!(
            patch_token(p, "reconcile.fluxcd.io/resetAt"),
            want,
            "{}",
            p.path
        );
        assert_eq!(
            patch_token(p, "reconcile.fluxcd.io/requestedAt").as_deref(),
            Some(token.as_str())
        );
    }
}

#[test]
fn artifact_selects_by_tag_and_skips_other_tags() {
    let bed = Bed::new();
    bed.create(ocirepo("flux-system", "v1", json!({"tag": "v1.2.0"})));
    bed.create(ocirepo("flux-system", "other", json!({"tag": "stable"})));
    bed.create(ks("flux-system", "uses-v1", "v1", &[]));
    bed.create(ks("flux-system", "uses-other", "other", &[]));
    let r = bed.run(&[
        "trigger",
        "--artifact",
        &format!("oci://{REPO}:v1.2.0"),
        "-o",
        "json",
    ]);
    r.assert_ok();
    let names: Vec<String> = r.json()["objects"]
        .as_array()
        .expect("objects")
        .iter()
        .map(|o| {
            format!(
                "{}/{}",
                o["kind"].as_str().unwrap_or(""),
                o["name"].as_str().unwrap_or("")
            )
        })
        .collect();
    assert_eq!(names, vec!["OCIRepository/v1", "Kustomization/uses-v1"]);
    assert_eq!(bed.patches().len(), 2);
}

#[test]
fn artifact_selects_by_semver_range_unless_a_higher_tag_wins() {
    let bed = Bed::new();
    bed.create(ocirepo(
        "flux-system",
        "minor",
        json!({"semver": ">=1.2.0 <2.0.0"}),
    ));
    bed.create(ocirepo("flux-system", "next", json!({"semver": ">=2.0.0"})));
    bed.create(ocirepo("flux-system", "ahead", json!({"semver": "1.x"})));
    bed.api
        .store()
        .update_status(
            "source.toolkit.fluxcd.io/v1",
            "OCIRepository",
            "flux-system",
            "ahead",
            json!({"artifact": {"revision": format!("1.9.0@{HIGHER}")}}),
        )
        .expect("status");
    let r = bed.run(&[
        "trigger",
        "--artifact",
        &format!("oci://{REPO}:1.3.0"),
        "-o",
        "json",
    ]);
    r.assert_ok();
    let objects = r.json()["objects"].as_array().expect("objects").clone();
    assert_eq!(objects.len(), 1, "{objects:#?}");
    assert_eq!(objects[0]["name"], "minor");
    let patched = patched_names(&bed);
    assert_eq!(patched, vec!["flux-system/ocirepositories/minor"]);
}

#[test]
fn artifact_selects_by_digest() {
    let bed = Bed::new();
    bed.create(ocirepo("flux-system", "pinned", json!({"digest": DIGEST})));
    bed.create(ocirepo(
        "flux-system",
        "pinned-elsewhere",
        json!({"digest": HIGHER}),
    ));
    bed.create(ks("flux-system", "apps", "pinned", &[]));
    let r = bed.run(&[
        "trigger",
        "--artifact",
        &format!("oci://{REPO}:v1@{DIGEST}"),
        "-o",
        "json",
    ]);
    r.assert_ok();
    assert_eq!(
        patched_names(&bed),
        vec![
            "flux-system/ocirepositories/pinned",
            "flux-system/kustomizations/apps"
        ]
    );
}

#[test]
fn all_namespaces_and_dependents_follow_the_chain() {
    let bed = Bed::new();
    bed.create(ocirepo("team-a", "app", json!({"tag": "v2"})));
    bed.create(ocirepo("team-b", "app", json!({"tag": "v2"})));
    bed.create(ks("team-a", "infra", "app", &[]));
    // apps depends on infra, smoke on apps: neither uses the artifact.
    bed.create(ks("team-a", "apps", "unrelated", &["infra"]));
    bed.create(ks("team-a", "smoke", "unrelated", &["apps"]));
    bed.create(ks("team-a", "lonely", "unrelated", &[]));
    bed.create(ks("team-b", "web", "app", &[]));

    // Without -A only the context namespace (flux-system) is searched.
    let r = bed.run(&["trigger", "--artifact", &format!("oci://{REPO}:v2")]);
    r.assert_error(1, "no OCIRepository in namespace flux-system", "-A");
    assert!(bed.patches().is_empty());

    let r = bed.run(&[
        "trigger",
        "--artifact",
        &format!("oci://{REPO}:v2"),
        "--dependents",
        "-A",
        "-o",
        "json",
    ]);
    r.assert_ok();
    let patched = patched_names(&bed);
    assert_eq!(patched.len(), 6, "{patched:#?}");
    assert!(!patched.iter().any(|p| p.contains("lonely")));
    let pos = |n: &str| {
        patched
            .iter()
            .position(|p| p == n)
            .unwrap_or_else(|| panic!("{n} not patched: {patched:?}"))
    };
    // Sources first, then consumers, then dependents in dependency order.
    assert!(pos("team-a/ocirepositories/app") < pos("team-a/kustomizations/infra"));
    assert!(pos("team-b/ocirepositories/app") < pos("team-b/kustomizations/web"));
    assert!(pos("team-a/kustomizations/infra") < pos("team-a/kustomizations/apps"));
    assert!(pos("team-a/kustomizations/apps") < pos("team-a/kustomizations/smoke"));
    let tokens: std::collections::BTreeSet<String> = bed
        .patches()
        .iter()
        .filter_map(|p| patch_token(p, "reconcile.fluxcd.io/requestedAt"))
        .collect();
    assert_eq!(tokens.len(), 1, "one token for the whole run: {tokens:?}");
}

#[test]
fn suspended_objects_are_skipped_or_refused_before_any_patch() {
    let bed = Bed::new();
    bed.create(ocirepo("flux-system", "app", json!({"tag": "v1"})));
    bed.create(suspended(ks("flux-system", "apps", "app", &[])));
    let dotenv = bed.home.path().join("trigger.env");
    let r = bed.run(&[
        "trigger",
        "--artifact",
        &format!("oci://{REPO}:v1"),
        "--fail-on-suspended",
        "--dotenv",
        dotenv.to_str().expect("utf8"),
    ]);
    r.assert_error(
        1,
        "Kustomization flux-system/apps",
        "flux resume kustomization apps -n flux-system",
    );
    assert!(bed.patches().is_empty(), "nothing may be patched");
    assert!(!dotenv.exists(), "no dotenv on failure");

    let r = bed.run(&[
        "trigger",
        "--artifact",
        &format!("oci://{REPO}:v1"),
        "-o",
        "json",
    ]);
    r.assert_ok();
    let report = r.json();
    assert_eq!(report["objects"][1]["name"], "apps");
    assert_eq!(report["objects"][1]["result"], "skipped: suspended");
    assert_eq!(patched_names(&bed), vec!["flux-system/ocirepositories/app"]);
    assert!(r.stderr.contains("skipped 1 suspended"), "{}", r.stderr);
}

#[test]
fn nothing_matching_lists_the_ocirepositories_that_do_not_select() {
    let bed = Bed::new();
    bed.create(ocirepo("flux-system", "prod", json!({"tag": "stable"})));
    let r = bed.run(&["trigger", "--artifact", &format!("oci://{REPO}:v9"), "-A"]);
    r.assert_error(
        1,
        "no OCIRepository in any namespace selects",
        "create an OCIRepository",
    );
    assert!(
        r.stderr
            .contains("flux-system/prod: follows tag \"stable\""),
        "{}",
        r.stderr
    );
}

#[test]
fn a_missing_object_is_a_usage_error() {
    let bed = Bed::new();
    let r = bed.run(&["trigger", "ks/nope"]);
    r.assert_error(2, "Kustomization flux-system/nope not found", "-A");
}

#[test]
fn flux_not_installed() {
    let bed = Bed::with(ApiServerConfig {
        flux_crds: false,
        ..ApiServerConfig::default()
    });
    let r = bed.run(&["trigger", "ks/apps"]);
    r.assert_error(2, "Flux is not installed", "install Flux");
}

#[test]
fn forbidden_names_the_verb_resource_and_namespace() {
    let bed = Bed::new();
    bed.create(ks("flux-system", "apps", "app", &[]));
    bed.api
        .faults()
        .deny("patch", "kustomizations", Some("flux-system"));
    let r = bed.run(&["trigger", "ks/apps"]);
    r.assert_error(
        4,
        "forbidden: cannot patch kustomizations in namespace \"flux-system\"",
        "docs/rbac.md",
    );
}

#[test]
fn an_unreachable_api_is_exit_4() {
    let home = tempfile::tempdir().expect("tempdir");
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        l.local_addr().expect("addr").port()
    };
    let kc = home.path().join("kubeconfig");
    write(
        &kc,
        &format!(
            "apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster:\n    server: http://127.0.0.1:{port}\nusers:\n- name: u\n  user:\n    token: t\ncontexts:\n- name: x\n  context: {{cluster: c, user: u}}\ncurrent-context: x\n"
        ),
    );
    let mut cmd = plugin(home.path());
    cmd.arg("--kubeconfig")
        .arg(&kc)
        .args(["trigger", "ks/apps"]);
    let r = run(&mut cmd);
    r.assert_error(4, "cannot reach the Kubernetes API", "network");
}

// ---------------------------------------------------------------------------
// Webhook method

/// A minimal Receiver endpoint, validating as notification-controller does.
struct Hook {
    url: String,
    _thread: std::thread::JoinHandle<()>,
}

#[derive(Clone, Copy)]
enum HookType {
    GenericHmac,
    Gitlab,
    Suspended,
}

const HOOK_TOKEN: &str = "s3cr3t-receiver-token";

fn hook_path() -> String {
    use sha2::Digest;
    let d = sha2::Sha256::digest(format!("{HOOK_TOKEN}ci-hookflux-system").as_bytes());
    format!("/hook/{}", hex::encode(d))
}

fn start_hook(kind: HookType) -> Hook {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("addr");
    let thread = std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(stream) = stream else { continue };
            let mut reader = BufReader::new(stream);
            let mut request_line = String::new();
            if reader.read_line(&mut request_line).is_err() {
                continue;
            }
            let mut headers = std::collections::HashMap::new();
            loop {
                let mut line = String::new();
                if reader.read_line(&mut line).is_err() || line.trim().is_empty() {
                    break;
                }
                if let Some((k, v)) = line.split_once(':') {
                    headers.insert(k.trim().to_ascii_lowercase(), v.trim().to_string());
                }
            }
            let len: usize = headers
                .get("content-length")
                .and_then(|v| v.parse().ok())
                .unwrap_or(0);
            let mut body = vec![0u8; len];
            let _ = reader.read_exact(&mut body);
            let path = request_line.split(' ').nth(1).unwrap_or("").to_string();
            let status = if path != hook_path() {
                404
            } else {
                match kind {
                    HookType::Suspended => 503,
                    HookType::GenericHmac => {
                        use hmac::Mac;
                        let mut mac =
                            hmac::Hmac::<sha2::Sha256>::new_from_slice(HOOK_TOKEN.as_bytes())
                                .expect("hmac");
                        mac.update(&body);
                        let want = format!("sha256={}", hex::encode(mac.finalize().into_bytes()));
                        if headers.get("x-signature") == Some(&want) {
                            200
                        } else {
                            400
                        }
                    }
                    HookType::Gitlab => {
                        if headers.get("x-gitlab-token").map(String::as_str) == Some(HOOK_TOKEN) {
                            200
                        } else {
                            400
                        }
                    }
                }
            };
            let mut stream = reader.into_inner();
            let _ = write!(
                stream,
                "HTTP/1.1 {status} X\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
            );
        }
    });
    Hook {
        url: format!("http://{addr}{}", hook_path()),
        _thread: thread,
    }
}

fn webhook(url: &str, args: &[&str], token: &str) -> Run {
    let home = tempfile::tempdir().expect("tempdir");
    let mut cmd = plugin(home.path());
    // No kubeconfig at all: the webhook method must not need one.
    cmd.env("KUBECONFIG", home.path().join("missing"))
        .env("FLUX_RECEIVER_TOKEN", token)
        .args([
            "trigger",
            "--receiver",
            url,
            "--token-env",
            "FLUX_RECEIVER_TOKEN",
        ])
        .args(args);
    run(&mut cmd)
}

fn assert_no_secret(r: &Run) {
    for text in [&r.stdout, &r.stderr] {
        assert!(!text.contains(HOOK_TOKEN), "token leaked:\n{text}");
        assert!(!text.contains("wrong-token"), "token leaked:\n{text}");
        assert!(!text.contains(&hook_path()), "webhook path leaked:\n{text}");
    }
}

#[test]
fn webhook_generic_hmac_signs_the_body() {
    let hook = start_hook(HookType::GenericHmac);
    let r = webhook(
        &hook.url,
        &["-o", "json", "--artifact", &format!("oci://{REPO}:v1")],
        HOOK_TOKEN,
    );
    r.assert_ok();
    assert_eq!(r.json()["objects"][0]["result"], "triggered");
    assert_eq!(r.json()["method"], "webhook");
    assert_no_secret(&r);

    let r = webhook(&hook.url, &[], "wrong-token");
    r.assert_error(4, "rejected the call (400)", "generic-hmac");
    assert_no_secret(&r);
}

#[test]
fn webhook_gitlab_sends_the_token_header() {
    let hook = start_hook(HookType::Gitlab);
    let r = webhook(&hook.url, &["--receiver-type", "gitlab"], HOOK_TOKEN);
    r.assert_ok();
    assert!(r.stdout.contains("triggered"), "{}", r.stdout);
    assert_no_secret(&r);
    // A gitlab Receiver does not accept an HMAC signature.
    let r = webhook(&hook.url, &[], HOOK_TOKEN);
    r.assert_error(4, "rejected the call (400)", "token");
    assert_no_secret(&r);
}

#[test]
fn webhook_token_from_file_and_stdin() {
    let hook = start_hook(HookType::GenericHmac);
    let home = tempfile::tempdir().expect("tempdir");
    let file = home.path().join("token");
    write(&file, &format!("{HOOK_TOKEN}\n"));
    let mut cmd = plugin(home.path());
    cmd.args(["trigger", "--receiver", &hook.url, "--token-file"])
        .arg(&file);
    run(&mut cmd).assert_ok();

    let mut cmd = plugin(home.path());
    cmd.args(["trigger", "--receiver", &hook.url])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    let mut child = cmd.spawn().expect("spawn");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(format!("{HOOK_TOKEN}\n").as_bytes())
        .expect("write stdin");
    let r = Run::of(child.wait_with_output().expect("wait"));
    r.assert_ok();

    // stdin is empty (null) in `plugin`: an empty token is an error.
    let mut cmd = plugin(home.path());
    cmd.args(["trigger", "--receiver", &hook.url]);
    run(&mut cmd).assert_error(2, "token from stdin is empty", "--token-env");
}

#[test]
fn webhook_unknown_path_and_suspended_receiver() {
    let hook = start_hook(HookType::GenericHmac);
    let wrong = hook.url.replace("/hook/", "/hook/00");
    let r = webhook(&wrong, &[], HOOK_TOKEN);
    r.assert_error(
        2,
        "does not know this webhook path (404)",
        "status.webhookPath",
    );
    assert_no_secret(&r);

    let hook = start_hook(HookType::Suspended);
    let r = webhook(&hook.url, &[], HOOK_TOKEN);
    r.assert_error(1, "suspended or not ready (503)", "describe receiver");
}

#[test]
fn webhook_url_must_be_http() {
    let r = webhook("ftp://hooks.example.com/hook/abc", &[], HOOK_TOKEN);
    r.assert_error(2, "must be http or https", "https://");
    let r = webhook("hooks.example.com/hook/abc", &[], HOOK_TOKEN);
    r.assert_error(2, "invalid --receiver URL", "https://");
}

#[test]
fn webhook_connection_refused_is_exit_4() {
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        l.local_addr().expect("addr").port()
    };
    let r = webhook(
        &format!("http://127.0.0.1:{port}/hook/abc"),
        &[],
        HOOK_TOKEN,
    );
    r.assert_error(4, "cannot reach the Receiver", "reachable");
    assert!(!r.stderr.contains("/hook/abc"), "{}", r.stderr);
}

// ---------------------------------------------------------------------------
// receiver create

#[test]
fn receiver_create_export_prints_secret_and_receiver() {
    let home = tempfile::tempdir().expect("tempdir");
    let mut cmd = plugin(home.path());
    cmd.args([
        "receiver",
        "create",
        "gitlab-ci",
        "--for",
        "ocirepository/apps",
        "--for",
        "ks/infra",
        "--export",
        "-n",
        "flux-system",
        "-o",
        "json",
    ]);
    let r = run(&mut cmd);
    r.assert_ok();
    let list = r.json();
    let secret = &list["items"][0];
    let receiver = &list["items"][1];
    assert_eq!(secret["kind"], "Secret");
    assert_eq!(secret["type"], "Opaque");
    assert_eq!(secret["metadata"]["name"], "gitlab-ci-token");
    let token = secret["stringData"]["token"].as_str().expect("token");
    assert_eq!(token.len(), 64);
    assert_eq!(receiver["apiVersion"], "notification.toolkit.fluxcd.io/v1");
    assert_eq!(receiver["kind"], "Receiver");
    assert_eq!(receiver["metadata"]["namespace"], "flux-system");
    assert_eq!(receiver["spec"]["type"], "generic-hmac");
    assert_eq!(receiver["spec"]["secretRef"]["name"], "gitlab-ci-token");
    assert_eq!(
        receiver["spec"]["resources"],
        json!([
            {"apiVersion": "source.toolkit.fluxcd.io/v1", "kind": "OCIRepository", "name": "apps"},
            {"apiVersion": "kustomize.toolkit.fluxcd.io/v1", "kind": "Kustomization", "name": "infra"},
        ])
    );

    // YAML: two documents.
    let mut cmd = plugin(home.path());
    cmd.args([
        "receiver", "create", "ci", "--for", "oci/apps", "--export", "-n", "apps", "--type",
        "gitlab",
    ]);
    let r = run(&mut cmd);
    r.assert_ok();
    assert_eq!(r.stdout.matches("---\n").count(), 2, "{}", r.stdout);
    assert!(
        r.stdout.contains("kind: Secret") && r.stdout.contains("kind: Receiver"),
        "{}",
        r.stdout
    );
    assert!(r.stdout.contains("type: gitlab"), "{}", r.stdout);
    assert!(r.stdout.ends_with('\n'), "{}", r.stdout);
    assert!(!r.stdout.contains("gitlab---"), "{}", r.stdout);
    assert!(r.stdout.contains("namespace: apps"), "{}", r.stdout);
}

#[test]
fn receiver_create_creates_both_and_prints_path_and_token_once() {
    let bed = Bed::new();
    bed.create(ocirepo("flux-system", "apps", json!({"tag": "v1"})));
    // Play notification-controller: publish the path once the Receiver exists.
    let store = bed.api.store();
    let publisher = std::thread::spawn(move || {
        for _ in 0..200 {
            if store
                .get(
                    "notification.toolkit.fluxcd.io/v1",
                    "Receiver",
                    "flux-system",
                    "gitlab-ci",
                )
                .is_some()
            {
                store
                    .update_status(
                        "notification.toolkit.fluxcd.io/v1",
                        "Receiver",
                        "flux-system",
                        "gitlab-ci",
                        json!({"webhookPath": "/hook/abc123"}),
                    )
                    .expect("status");
                return;
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
    });
    let r = bed.run(&[
        "receiver",
        "create",
        "gitlab-ci",
        "--for",
        "ocirepository/apps",
        "--timeout",
        "10s",
    ]);
    publisher.join().expect("publisher");
    r.assert_ok();
    let secret = bed
        .api
        .store()
        .get("v1", "Secret", "flux-system", "gitlab-ci-token")
        .expect("secret created");
    let token = secret
        .pointer("/stringData/token")
        .and_then(Value::as_str)
        .map(str::to_string)
        .or_else(|| {
            use base64::Engine;
            let b = secret.pointer("/data/token")?.as_str()?;
            let raw = base64::engine::general_purpose::STANDARD.decode(b).ok()?;
            String::from_utf8(raw).ok()
        })
        .expect("token in secret");
    assert_eq!(r.stdout.matches(&token).count(), 1, "{}", r.stdout);
    assert!(!r.stderr.contains(&token));
    assert!(r.stdout.contains("/hook/abc123"), "{}", r.stdout);
    assert!(
        r.stdout.contains("--token-env FLUX_RECEIVER_TOKEN"),
        "{}",
        r.stdout
    );
    let receiver = bed
        .api
        .store()
        .get(
            "notification.toolkit.fluxcd.io/v1",
            "Receiver",
            "flux-system",
            "gitlab-ci",
        )
        .expect("receiver");
    assert_eq!(
        receiver["spec"]["resources"][0]["apiVersion"],
        "source.toolkit.fluxcd.io/v1"
    );
    assert_eq!(receiver["spec"]["secretRef"]["name"], "gitlab-ci-token");

    // Again: it exists.
    let r = bed.run(&[
        "receiver",
        "create",
        "gitlab-ci",
        "--for",
        "ocirepository/apps",
    ]);
    r.assert_error(2, "Receiver flux-system/gitlab-ci already exists", "delete");
}

#[test]
fn receiver_create_times_out_without_a_webhook_path() {
    let bed = Bed::new();
    let r = bed.run(&[
        "receiver",
        "create",
        "ci",
        "--for",
        "oci/apps",
        "--timeout",
        "1s",
    ]);
    r.assert_error(3, "has no status.webhookPath", "notification-controller");
}

#[test]
fn receiver_create_forbidden() {
    let bed = Bed::new();
    bed.api
        .faults()
        .deny("create", "secrets", Some("flux-system"));
    let r = bed.run(&["receiver", "create", "ci", "--for", "oci/apps"]);
    r.assert_error(
        4,
        "cannot create secrets in namespace \"flux-system\"",
        "docs/rbac.md",
    );
}
