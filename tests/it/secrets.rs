//! No secret in the output, ever: every command, at `-v` and `-vv`, with
//! credentials in flags (`--creds`), in the environment (`CI_REGISTRY_PASSWORD`,
//! `CI_JOB_TOKEN`, `CI_DEPLOY_PASSWORD`, the Receiver token variable), in a
//! docker config (`auths` with a base64 `auth`, an `identitytoken`) and in
//! the kubeconfig (bearer token), in URLs (`oci://user:pw@…`, a kubeconfig
//! server, a Receiver URL), on success and on failure (wrong
//! password → 401, unreachable registry or cluster, wrong Receiver token,
//! expired cluster token). Each secret is looked for as is, in base64 (also
//! `user:secret`, as in Basic auth and docker configs) and in URL-safe
//! base64, on stdout and stderr; and no JWT (the registry's bearer tokens)
//! appears either. `-vvv` is swept too: it is what people paste into bug
//! reports.
//!
//! By design `receiver create` prints the token it generates, once, on
//! stdout (that is how the user learns it); that token must not appear
//! anywhere else, and no other secret may appear there either.

use crate::common::bed::{Bed, KS, NS, applied, configmap};
use crate::common::{Run, plugin, run};
use base64::Engine;
use serde_json::json;
use std::path::Path;
use std::process::Command;
use testbed::registry::{Auth, Registry, RegistryConfig};

const REGISTRY_PASSWORD: &str = "ci-registry-s3cret-7f2a";
const JOB_TOKEN: &str = "ci-job-s3cret-91bd";
const DEPLOY_PASSWORD: &str = "ci-deploy-s3cret-4c0e";
const FLAG_PASSWORD: &str = "flag-s3cret-d81f";
const DOCKER_PASSWORD: &str = "docker-s3cret-2b7c";
const IDENTITY_TOKEN: &str = "identity-s3cret-e5a9";
const RECEIVER_TOKEN: &str = "receiver-s3cret-0a6d";
/// Credentials written into URLs (`oci://user:pw@…`, a kubeconfig server,
/// a Receiver URL), which the plugin must not echo.
const URL_PASSWORD: &str = "url-userinfo-s3cret-6e3b";

/// Every form a secret could take in output.
fn forms(user: Option<&str>, secret: &str) -> Vec<String> {
    let std = base64::engine::general_purpose::STANDARD;
    let url = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let mut out = vec![secret.to_string(), std.encode(secret), url.encode(secret)];
    if let Some(u) = user {
        let pair = format!("{u}:{secret}");
        out.push(std.encode(&pair));
        out.push(url.encode(&pair));
    }
    // A base64 form shorter than 8 characters would match by chance.
    out.retain(|f| f.len() >= 8);
    out
}

/// The secrets to look for, and what was found where.
#[derive(Default)]
struct Sweep {
    secrets: Vec<(&'static str, String)>,
    leaks: Vec<String>,
    runs: usize,
}

impl Sweep {
    fn add(&mut self, label: &'static str, user: Option<&str>, secret: &str) {
        for f in forms(user, secret) {
            self.secrets.push((label, f));
        }
    }

    /// Look for every secret in both streams of `r`; `allowed_stdout` is a
    /// secret that may appear on stdout (receiver create's own token).
    fn check(&mut self, what: &str, r: &Run, allowed_stdout: Option<&str>) {
        self.runs += 1;
        for (label, form) in &self.secrets {
            for (stream, text) in [("stdout", &r.stdout), ("stderr", &r.stderr)] {
                if stream == "stdout" && allowed_stdout == Some(form.as_str()) {
                    continue;
                }
                if text.contains(form.as_str()) {
                    self.leaks
                        .push(format!("{label} ({form}) on {stream} of `{what}`:\n{text}"));
                }
            }
        }
    }

    #[track_caller]
    fn assert_clean(&self) {
        assert!(
            self.leaks.is_empty(),
            "{} leak(s) in {} runs:\n{}",
            self.leaks.len(),
            self.runs,
            self.leaks.join("\n---\n")
        );
    }
}

/// A plugin command with every credential variable set.
fn command(home: &Path, env: &[(&str, String)]) -> Command {
    let mut cmd = plugin(home);
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd
}

#[test]
fn no_command_prints_a_secret() {
    let Some(bed) = Bed::start() else { return };
    // The registry the CI variables are for (GitLab's token flow), and one
    // reached through the docker config (htpasswd).
    let ci_registry = Registry::start(RegistryConfig {
        auth: Auth::gitlab_ci(REGISTRY_PASSWORD),
        ..Default::default()
    })
    .expect("registry");
    let docker_registry = Registry::start(RegistryConfig {
        auth: Auth::Htpasswd {
            username: "alice".into(),
            password: DOCKER_PASSWORD.into(),
        },
        ..Default::default()
    })
    .expect("registry");
    let kube_token = bed.api.token().expect("kubeconfig token");

    let mut sweep = Sweep::default();
    sweep.add(
        "CI_REGISTRY_PASSWORD",
        Some("gitlab-ci-token"),
        REGISTRY_PASSWORD,
    );
    sweep.add("CI_JOB_TOKEN", Some("gitlab-ci-token"), JOB_TOKEN);
    sweep.add("CI_DEPLOY_PASSWORD", Some("deployer"), DEPLOY_PASSWORD);
    sweep.add("--creds password", Some("gitlab-ci-token"), FLAG_PASSWORD);
    sweep.add("docker config auth", Some("alice"), DOCKER_PASSWORD);
    sweep.add("docker config identitytoken", None, IDENTITY_TOKEN);
    sweep.add("Receiver token variable", None, RECEIVER_TOKEN);
    sweep.add("kubeconfig token", None, &kube_token);
    sweep.add("password in a URL", Some("bob"), URL_PASSWORD);
    // The registry's bearer tokens are JWTs, unknown in advance: any JWT
    // starts with base64 of `{"`.
    sweep
        .secrets
        .push(("a JWT (registry bearer token)", "eyJ".into()));

    let docker = bed.dir.path().join("docker");
    std::fs::create_dir_all(&docker).expect("mkdir");
    let b64 = base64::engine::general_purpose::STANDARD;
    let identity_host = format!("localhost:{}", ci_registry.port());
    std::fs::write(
        docker.join("config.json"),
        json!({"auths": {
            docker_registry.host(): {"auth": b64.encode(format!("alice:{DOCKER_PASSWORD}"))},
            identity_host.clone(): {"identitytoken": IDENTITY_TOKEN},
        }})
        .to_string(),
    )
    .expect("docker config");
    let env: Vec<(&str, String)> = vec![
        ("GITLAB_CI", "true".into()),
        ("CI_REGISTRY", ci_registry.host()),
        ("CI_REGISTRY_USER", "gitlab-ci-token".into()),
        ("CI_REGISTRY_PASSWORD", REGISTRY_PASSWORD.into()),
        ("CI_JOB_TOKEN", JOB_TOKEN.into()),
        ("CI_DEPLOY_PASSWORD", DEPLOY_PASSWORD.into()),
        ("FLUX_RECEIVER_TOKEN", RECEIVER_TOKEN.into()),
        ("DOCKER_CONFIG", docker.to_str().expect("utf8").into()),
        ("KUBECONFIG", bed.kubeconfig.to_str().expect("utf8").into()),
    ];
    let home = bed.dir.path();

    bed.create_source(NS, "apps", "demo/apps", json!({"tag": "v1"}));
    bed.create_ks(NS, "apps", "apps", json!({}));
    let d1 = bed.push("demo/apps", "v1", &[("cm.yaml", &configmap("one", ""))]);
    bed.until(KS, "Kustomization", NS, "apps", |o| applied(o, &d1));
    let artifact = bed.artifact("demo/apps", "v1", &d1);
    let never = bed.artifact("demo/apps", "v1", &format!("sha256:{}", "ab".repeat(32)));
    let src = bed.dir.path().join("deploy");
    std::fs::create_dir_all(&src).expect("mkdir");
    std::fs::write(src.join("cm.yaml"), configmap("pushed", "")).expect("write");
    let src = src.to_str().expect("utf8").to_string();
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        l.local_addr().expect("addr").port()
    };
    let wrong_kubeconfig = bed.dir.path().join("wrong-kubeconfig");
    std::fs::write(
        &wrong_kubeconfig,
        std::fs::read_to_string(&bed.kubeconfig)
            .expect("kubeconfig")
            .replace(&kube_token, JOB_TOKEN),
    )
    .expect("kubeconfig");
    let unreachable_kubeconfig = bed.dir.path().join("unreachable-kubeconfig");
    std::fs::write(
        &unreachable_kubeconfig,
        std::fs::read_to_string(&bed.kubeconfig)
            .expect("kubeconfig")
            .replace(
                &bed.api.url(),
                &format!("https://bob:{URL_PASSWORD}@127.0.0.1:{closed}/?token={URL_PASSWORD}"),
            ),
    )
    .expect("kubeconfig");

    // Create a Receiver (as -v) to learn its token and path.
    let r = run(command(home, &env).args([
        "-v",
        "receiver",
        "create",
        "ci",
        "--for",
        "ocirepository/apps",
        "--timeout",
        "20s",
        "-o",
        "json",
    ]));
    r.assert_ok();
    let report = r.json();
    let hook_token = report["token"].as_str().expect("token").to_string();
    let hook_path = report["webhookPath"].as_str().expect("path").to_string();
    assert_eq!(r.stdout.matches(&hook_token).count(), 1, "{}", r.stdout);
    sweep.check("receiver create -v", &r, Some(&hook_token));
    sweep.add("generated Receiver token", None, &hook_token);
    let hook_url = format!("{}{hook_path}", bed.sim.receiver_url());
    // The path is derived from the token: a secret too, outside of
    // `receiver create`'s own report.
    let secret_part = hook_path.trim_start_matches("/hook/").to_string();

    struct Case {
        what: &'static str,
        args: Vec<String>,
        env: Vec<(&'static str, String)>,
        /// Expected exit code.
        code: i32,
        /// A secret that may appear on stdout (receiver create).
        allowed: bool,
    }
    let s = |v: &[&str]| v.iter().map(|a| a.to_string()).collect::<Vec<_>>();
    let case = |what, args: Vec<String>, code| Case {
        what,
        args,
        env: vec![],
        code,
        allowed: false,
    };
    let cases = vec![
        case("version", s(&["version"]), 0),
        case("context", s(&["context", "-o", "json"]), 0),
        case("context --list", s(&["context", "--list"]), 0),
        case("status", s(&["status", "-o", "json"]), 0),
        case("status --tree", s(&["status", "--tree", "oci/apps"]), 0),
        case("trigger", s(&["trigger", "ks/apps", "-o", "json"]), 0),
        case(
            "wait",
            s(&["wait", "--artifact", &artifact, "--timeout", "30s"]),
            0,
        ),
        case(
            "wait (timeout)",
            s(&["wait", "--artifact", &never, "--timeout", "1s"]),
            3,
        ),
        Case {
            allowed: true,
            ..case(
                "receiver create --export",
                s(&["receiver", "create", "x", "--for", "oci/apps", "--export"]),
                0,
            )
        },
        Case {
            env: vec![("HOOK_TOKEN", hook_token.clone())],
            ..case(
                "trigger --receiver",
                s(&[
                    "trigger",
                    "--receiver",
                    &hook_url,
                    "--token-env",
                    "HOOK_TOKEN",
                ]),
                0,
            )
        },
        case(
            "trigger --receiver (wrong token)",
            s(&[
                "trigger",
                "--receiver",
                &hook_url,
                "--token-env",
                "FLUX_RECEIVER_TOKEN",
            ]),
            4,
        ),
        case(
            "trigger --receiver (gitlab type, wrong token)",
            s(&[
                "trigger",
                "--receiver",
                &hook_url,
                "--receiver-type",
                "gitlab",
                "--token-env",
                "FLUX_RECEIVER_TOKEN",
            ]),
            4,
        ),
        case(
            "trigger (wrong kubeconfig token)",
            s(&[
                "trigger",
                "ks/apps",
                "--kubeconfig",
                wrong_kubeconfig.to_str().expect("utf8"),
            ]),
            4,
        ),
        case(
            "wait (wrong kubeconfig token)",
            s(&[
                "wait",
                "ks/apps",
                "--kubeconfig",
                wrong_kubeconfig.to_str().expect("utf8"),
            ]),
            4,
        ),
        case(
            "status (unreachable cluster)",
            s(&[
                "status",
                "--kubeconfig",
                unreachable_kubeconfig.to_str().expect("utf8"),
            ]),
            4,
        ),
        case(
            "context (server URL with credentials)",
            s(&[
                "context",
                "--kubeconfig",
                unreachable_kubeconfig.to_str().expect("utf8"),
            ]),
            0,
        ),
        case(
            "push (credentials in the reference)",
            s(&[
                "push",
                &src,
                &format!("oci://bob:{URL_PASSWORD}@{}/g/app:v1", ci_registry.host()),
            ]),
            2,
        ),
        case(
            "trigger --artifact (credentials in the reference)",
            s(&[
                "trigger",
                "--artifact",
                &format!(
                    "oci://bob:{URL_PASSWORD}@{}/demo/apps:v1",
                    bed.registry.host()
                ),
            ]),
            2,
        ),
        case(
            "wait --artifact (credentials in the reference)",
            s(&[
                "wait",
                "--artifact",
                &format!(
                    "oci://bob:{URL_PASSWORD}@{}/demo/apps:v1",
                    bed.registry.host()
                ),
            ]),
            2,
        ),
        Case {
            env: vec![("HOOK_TOKEN", hook_token.clone())],
            ..case(
                "trigger --receiver (credentials in the URL)",
                s(&[
                    "trigger",
                    "--receiver",
                    &hook_url.replace("://", &format!("://bob:{URL_PASSWORD}@")),
                    "--token-env",
                    "HOOK_TOKEN",
                ]),
                0,
            )
        },
        case(
            "push (CI_REGISTRY_PASSWORD)",
            s(&[
                "push",
                &src,
                &format!("oci://{}/g/app:v1", ci_registry.host()),
                "-o",
                "json",
            ]),
            0,
        ),
        Case {
            env: vec![("CI_DEPLOY_USER", "deployer".into())],
            ..case(
                "push (wrong CI_DEPLOY_PASSWORD)",
                s(&[
                    "push",
                    &src,
                    &format!("oci://{}/g/app:v2", ci_registry.host()),
                ]),
                4,
            )
        },
        case(
            "push --creds (wrong password)",
            s(&[
                "push",
                &src,
                &format!("oci://{}/g/app:v3", ci_registry.host()),
                "--creds",
                &format!("gitlab-ci-token:{FLAG_PASSWORD}"),
            ]),
            4,
        ),
        case(
            "tag (CI_REGISTRY_PASSWORD)",
            s(&[
                "tag",
                &format!("oci://{}/g/app:v1", ci_registry.host()),
                "staging",
                "-o",
                "json",
            ]),
            0,
        ),
        case(
            "tag --creds (wrong password)",
            s(&[
                "tag",
                &format!("oci://{}/g/app:v1", ci_registry.host()),
                "production",
                "--creds",
                &format!("gitlab-ci-token:{FLAG_PASSWORD}"),
            ]),
            4,
        ),
        case(
            "tag (credentials in the reference)",
            s(&[
                "tag",
                &format!("oci://bob:{URL_PASSWORD}@{}/g/app:v1", ci_registry.host()),
                "production",
            ]),
            2,
        ),
        case(
            "push (docker config auth)",
            s(&[
                "push",
                &src,
                &format!("oci://{}/g/app:v1", docker_registry.host()),
            ]),
            0,
        ),
        case(
            "push (docker config identitytoken)",
            s(&["push", &src, &format!("oci://{identity_host}/g/app:v1")]),
            2,
        ),
        case(
            "push --creds (unreachable registry)",
            s(&[
                "push",
                &src,
                &format!("oci://127.0.0.1:{closed}/g/app:v1"),
                "--creds",
                &format!("gitlab-ci-token:{FLAG_PASSWORD}"),
                "--timeout",
                "10s",
            ]),
            4,
        ),
        case(
            "push --trigger --wait",
            s(&[
                "push",
                &src,
                &format!("oci://{}/demo/apps:v1", bed.registry.host()),
                "--trigger",
                "--wait",
                "--wait-timeout",
                "30s",
            ]),
            0,
        ),
    ];

    for c in &cases {
        for v in ["-v", "-vv", "-vvv"] {
            let mut cmd = command(home, &env);
            for (k, val) in &c.env {
                cmd.env(k, val);
            }
            let r = run(cmd.arg(v).args(&c.args));
            let what = format!("{} {v}", c.what);
            assert_eq!(
                r.code, c.code,
                "{what}: exit code\nstdout:\n{}\nstderr:\n{}",
                r.stdout, r.stderr
            );
            sweep.check(&what, &r, None);
            if c.allowed {
                // Only its own, freshly generated token may be on stdout.
                let generated = r
                    .stdout
                    .lines()
                    .find_map(|l| l.trim().strip_prefix("token: "))
                    .expect("the exported Secret has a token")
                    .trim_matches('"')
                    .to_string();
                assert!(!r.stderr.contains(&generated), "{what}: {}", r.stderr);
            }
            if c.args.first().map(String::as_str) == Some("trigger") {
                for text in [&r.stdout, &r.stderr] {
                    assert!(
                        !text.contains(&secret_part),
                        "{what}: the webhook path leaked:\n{text}"
                    );
                }
            }
        }
    }
    sweep.assert_clean();
}
