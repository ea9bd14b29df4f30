//! Bad input against a cluster: each case asserts the exit code, the
//! `error:` message and the `hint:`, and that nothing changed — the API
//! emulator's resourceVersion did not move (no object was created,
//! patched or deleted), and no report file was written. Where the input
//! is rejected before any cluster is needed, not a single request reaches
//! the API. (Push's bad input is in `tests/it/push.rs`; the index is in
//! `reliability`.)

use crate::common::{Run, plugin, run, write};
use serde_json::{Value, json};
use std::path::PathBuf;
use testbed::apiserver::{ApiServer, ApiServerConfig};

const REPO: &str = "registry.example.com/team/app";
const OCI: &str = "source.toolkit.fluxcd.io/v1";
const KS: &str = "kustomize.toolkit.fluxcd.io/v1";

/// An API emulator with an OCIRepository and a Kustomization, a HOME and a
/// kubeconfig pointing at it.
struct Cluster {
    api: ApiServer,
    home: tempfile::TempDir,
    kubeconfig: PathBuf,
}

impl Cluster {
    fn start() -> Cluster {
        Cluster::with(ApiServerConfig::default())
    }

    fn with(cfg: ApiServerConfig) -> Cluster {
        let flux = cfg.flux_crds;
        let api = ApiServer::start(cfg).expect("API emulator starts");
        let home = tempfile::tempdir().expect("tempdir");
        let kubeconfig = home.path().join("kubeconfig");
        write(&kubeconfig, &api.kubeconfig("testbed", Some("flux-system")));
        if flux {
            let store = api.store();
            store
                .create(json!({
                    "apiVersion": OCI, "kind": "OCIRepository",
                    "metadata": {"name": "app", "namespace": "flux-system"},
                    "spec": {"url": format!("oci://{REPO}"), "ref": {"tag": "v1"}, "interval": "10m"},
                }))
                .expect("create OCIRepository");
            store
                .create(json!({
                    "apiVersion": KS, "kind": "Kustomization",
                    "metadata": {"name": "apps", "namespace": "flux-system"},
                    "spec": {"sourceRef": {"kind": "OCIRepository", "name": "app"},
                             "path": "./", "prune": true, "interval": "10m"},
                }))
                .expect("create Kustomization");
        }
        api.clear_requests();
        Cluster {
            api,
            home,
            kubeconfig,
        }
    }

    fn run(&self, args: &[&str]) -> Run {
        self.run_env(args, &[])
    }

    fn run_env(&self, args: &[&str], env: &[(&str, &str)]) -> Run {
        let mut cmd = plugin(self.home.path());
        cmd.arg("--kubeconfig").arg(&self.kubeconfig).args(args);
        for (k, v) in env {
            cmd.env(k, v);
        }
        run(&mut cmd)
    }

    /// A report path in HOME (not created).
    fn report(&self, name: &str) -> PathBuf {
        self.home.path().join(name)
    }

    /// The emulator's resourceVersion: any write moves it.
    fn version(&self) -> u64 {
        self.api.store().resource_version()
    }

    /// Run, check the three-part error, and that nothing was written: the
    /// store did not change and `reports` do not exist.
    #[track_caller]
    fn refused(
        &self,
        args: &[&str],
        code: i32,
        message: &str,
        hint: &str,
        reports: &[&PathBuf],
    ) -> Run {
        let before = self.version();
        let r = self.run(args);
        r.assert_error(code, message, hint);
        assert_eq!(self.version(), before, "the cluster changed: {args:?}");
        for p in reports {
            assert!(!p.exists(), "{} written for {args:?}", p.display());
        }
        assert!(r.stdout.is_empty(), "stdout for {args:?}:\n{}", r.stdout);
        r
    }

    /// Like `refused`, and not a single request reached the API.
    #[track_caller]
    fn refused_offline(&self, args: &[&str], code: i32, message: &str, hint: &str) -> Run {
        self.api.clear_requests();
        let r = self.refused(args, code, message, hint, &[]);
        let sent = self.api.requests();
        assert!(sent.is_empty(), "requests for {args:?}: {sent:#?}");
        r
    }

    fn requested_at(&self) -> Option<Value> {
        self.api
            .store()
            .get(KS, "Kustomization", "flux-system", "apps")?
            .pointer("/metadata/annotations/reconcile.fluxcd.io~1requestedAt")
            .cloned()
    }
}

#[test]
fn malformed_artifact_references_touch_no_cluster() {
    let c = Cluster::start();
    let dotenv = c.report("trigger.env");
    let junit = c.report("wait.xml");
    let hint = "write it as push prints it: oci://";
    for (reference, message) in [
        (
            "registry.example.com/team/app:v1",
            "it must start with oci://",
        ),
        (
            "oci://registry.example.com/Team/App:v1",
            "repository path components are lowercase",
        ),
        (
            "oci://registry.example.com/team/app:-v1",
            "a tag is up to 128",
        ),
        (
            "oci://registry.example.com/team/app@sha256:1234",
            "the digest must be sha256:<64 lowercase hex digits>",
        ),
    ] {
        let message = format!("invalid artifact {reference:?}: {message}");
        for args in [
            vec!["trigger", "--artifact", reference, "--dotenv"],
            vec!["wait", "--artifact", reference, "--junit"],
            vec!["status", "--artifact", reference],
        ] {
            let mut args = args.clone();
            match args[0] {
                "trigger" => args.push(dotenv.to_str().expect("utf8")),
                "wait" => args.push(junit.to_str().expect("utf8")),
                _ => {}
            }
            c.refused_offline(&args, 2, &message, hint);
            assert!(!dotenv.exists() && !junit.exists());
        }
    }
    assert!(c.requested_at().is_none());
}

#[test]
fn unknown_context_or_agent_touches_no_cluster() {
    let c = Cluster::start();
    c.refused_offline(
        &["trigger", "ks/apps", "--context", "nope"],
        2,
        "context \"nope\" (from --context) is not in the kubeconfig; available: testbed",
        "--context",
    );
    c.refused_offline(
        &[
            "wait",
            "ks/apps",
            "--context",
            "testbed",
            "--context",
            "nope",
        ],
        2,
        "context \"nope\" (from --context) is not in the kubeconfig",
        "--context",
    );
    c.refused_offline(
        &["trigger", "ks/apps", "--agent", "group/agents:nope"],
        2,
        "no context for GitLab agent",
        "ci_access",
    );
    let before = c.version();
    let r = c.run_env(&["status", "ks/apps"], &[("KUBE_CONTEXT", "nope")]);
    r.assert_error(
        2,
        "context \"nope\" (from KUBE_CONTEXT) is not in the kubeconfig",
        "KUBE_CONTEXT",
    );
    assert_eq!(c.version(), before);
    assert!(c.api.requests().is_empty());
    assert!(c.requested_at().is_none());
}

#[test]
fn malformed_kubeconfig_writes_nothing() {
    let c = Cluster::start();
    let dotenv = c.report("trigger.env");
    let junit = c.report("wait.xml");
    for broken in [
        "apiVersion: v1\nclusters: [unclosed\n",
        "apiVersion: v1\nkind: Config\ncurrent-context: x\ncontexts:\n- name: x\n  context: {cluster: missing, user: missing}\n",
    ] {
        write(&c.kubeconfig, broken);
        let r = c.run(&[
            "trigger",
            "ks/apps",
            "--dotenv",
            dotenv.to_str().expect("utf8"),
        ]);
        assert_eq!(r.code, 2, "{r:?}");
        assert!(r.stderr.starts_with("error: "), "{}", r.stderr);
        assert!(r.stderr.contains("\nhint: "), "{}", r.stderr);
        let r = c.run(&["wait", "ks/apps", "--junit", junit.to_str().expect("utf8")]);
        assert_eq!(r.code, 2, "{r:?}");
        assert!(!dotenv.exists() && !junit.exists());
        assert_eq!(
            std::fs::read_to_string(&c.kubeconfig).expect("kubeconfig"),
            broken,
            "the kubeconfig is not rewritten"
        );
    }
    write(&c.kubeconfig, "apiVersion: v1\nclusters: [unclosed\n");
    c.refused_offline(
        &["trigger", "ks/apps"],
        2,
        "cannot read kubeconfig",
        "valid kubeconfig",
    );
    write(
        &c.kubeconfig,
        "apiVersion: v1\nkind: Config\ncurrent-context: x\ncontexts:\n- name: x\n  context: {cluster: missing, user: missing}\n",
    );
    c.refused_offline(
        &["trigger", "ks/apps"],
        2,
        "context \"x\" is not usable",
        "kubectl config view",
    );
    assert!(c.requested_at().is_none());
}

#[test]
fn expired_cluster_token_changes_nothing() {
    let c = Cluster::start();
    let token = c.api.token().expect("token");
    let yaml = std::fs::read_to_string(&c.kubeconfig).expect("kubeconfig");
    assert!(yaml.contains(&token));
    write(&c.kubeconfig, &yaml.replace(&token, "expired-token-value"));
    let dotenv = c.report("trigger.env");
    let junit = c.report("wait.xml");
    let hint = "expired";
    let message = "refused our credentials (401)";
    let d = dotenv.to_str().expect("utf8");
    let j = junit.to_str().expect("utf8");
    for args in [
        vec!["trigger", "ks/apps", "--dotenv", d],
        vec![
            "trigger",
            "--artifact",
            "oci://registry.example.com/team/app:v1",
            "--dotenv",
            d,
        ],
        vec!["wait", "ks/apps", "--timeout", "20s", "--junit", j],
        vec!["status"],
        vec!["receiver", "create", "ci", "--for", "ocirepository/app"],
    ] {
        let r = c.refused(&args, 4, message, hint, &[&dotenv, &junit]);
        assert!(!r.stderr.contains("expired-token-value"), "{}", r.stderr);
    }
    assert!(c.requested_at().is_none());
    assert!(
        c.api
            .store()
            .get("v1", "Secret", "flux-system", "ci-token")
            .is_none()
    );
}

#[test]
fn forbidden_changes_nothing() {
    let c = Cluster::start();
    let dotenv = c.report("trigger.env");
    let junit = c.report("wait.xml");
    let d = dotenv.to_str().expect("utf8");
    let j = junit.to_str().expect("utf8");
    let hint = "docs/rbac.md";
    c.api
        .faults()
        .deny("patch", "kustomizations", Some("flux-system"));
    c.refused(
        &["trigger", "ks/apps", "--dotenv", d],
        4,
        "forbidden: cannot patch kustomizations in namespace \"flux-system\"",
        hint,
        &[&dotenv],
    );
    c.api.faults().clear();
    for verb in ["list", "watch"] {
        c.api
            .faults()
            .deny(verb, "kustomizations", Some("flux-system"));
        c.refused(
            &["wait", "ks/apps", "--timeout", "20s", "--junit", j],
            4,
            &format!("forbidden: cannot {verb} kustomizations in namespace \"flux-system\""),
            hint,
            &[&junit],
        );
        c.api.faults().clear();
    }
    c.api.faults().deny("list", "*", None);
    c.refused(&["status", "-A"], 4, "forbidden: cannot list", hint, &[]);
    c.api.faults().clear();
    // The Receiver may not be created: its Secret is not left behind.
    c.api
        .faults()
        .deny("create", "receivers", Some("flux-system"));
    c.refused(
        &["receiver", "create", "ci", "--for", "ocirepository/app"],
        4,
        "cannot create receivers in namespace \"flux-system\"",
        hint,
        &[],
    );
    assert!(
        c.api
            .store()
            .get("v1", "Secret", "flux-system", "ci-token")
            .is_none(),
        "the Secret must not be left without its Receiver"
    );
    assert!(c.requested_at().is_none());
}

#[test]
fn flux_not_installed_changes_nothing() {
    let c = Cluster::with(ApiServerConfig {
        flux_crds: false,
        ..ApiServerConfig::default()
    });
    let junit = c.report("wait.xml");
    let dotenv = c.report("trigger.env");
    let message = "Flux is not installed in context \"testbed\"";
    let hint = "install Flux";
    c.refused(
        &[
            "wait",
            "--artifact",
            "oci://registry.example.com/team/app:v1",
            "--timeout",
            "20s",
            "--junit",
            junit.to_str().expect("utf8"),
        ],
        2,
        message,
        hint,
        &[&junit],
    );
    c.refused(
        &[
            "trigger",
            "ks/apps",
            "--dotenv",
            dotenv.to_str().expect("utf8"),
        ],
        2,
        message,
        hint,
        &[&dotenv],
    );
    c.refused(
        &["receiver", "create", "ci", "--for", "ocirepository/app"],
        2,
        message,
        hint,
        &[],
    );
    assert!(
        c.api
            .store()
            .get("v1", "Secret", "flux-system", "ci-token")
            .is_none()
    );
}

#[test]
fn missing_object_patches_nothing() {
    let c = Cluster::start();
    let dotenv = c.report("trigger.env");
    // One of the named objects is missing: the others are not patched either.
    c.refused(
        &[
            "trigger",
            "ks/apps",
            "ocirepository/app",
            "ks/nope",
            "--dotenv",
            dotenv.to_str().expect("utf8"),
        ],
        2,
        "Kustomization flux-system/nope not found",
        "-A",
        &[&dotenv],
    );
    c.refused(
        &["wait", "ks/nope", "--timeout", "20s"],
        2,
        "Kustomization flux-system/nope not found",
        "-A",
        &[],
    );
    assert!(c.requested_at().is_none());
}

#[test]
fn invalid_durations() {
    let c = Cluster::start();
    for (args, message, hint) in [
        (
            vec!["wait", "ks/apps", "--timeout", "soon"],
            "invalid --timeout \"soon\"",
            "30s, 5m",
        ),
        (
            vec!["wait", "ks/apps", "--timeout", "10"],
            "invalid --timeout \"10\": a unit is required",
            "--timeout 10s",
        ),
        (
            vec!["wait", "ks/apps", "--timeout", "0"],
            "invalid --timeout \"0\": it must be longer than zero",
            "--timeout 5m",
        ),
        (
            vec![
                "receiver",
                "create",
                "ci",
                "--for",
                "oci/app",
                "--timeout",
                "1x",
            ],
            "invalid --timeout \"1x\"",
            "30s, 5m",
        ),
        (
            vec!["trigger", "ks/apps", "--request-timeout", "soon"],
            "invalid --request-timeout \"soon\"",
            "30s, 5m",
        ),
        (
            vec!["status", "--request-timeout", "forever"],
            "invalid --request-timeout \"forever\"",
            "30s, 5m",
        ),
    ] {
        c.refused_offline(&args, 2, message, hint);
    }
    assert!(c.requested_at().is_none());
}

#[test]
fn conflicting_flags_change_nothing() {
    let c = Cluster::start();
    // A Receiver that must never be called.
    let hook = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    hook.set_nonblocking(true).expect("nonblocking");
    let url = format!("http://{}/hook/abc", hook.local_addr().expect("addr"));
    let ftp = url.replace("http://", "ftp://");
    let dotenv = c.report("trigger.env");
    let home = c.home.path().to_str().expect("utf8").to_string();
    for (args, message, hint) in [
        (
            vec![
                "trigger",
                "--receiver",
                &url,
                "--token-file",
                "t",
                "--token-env",
                "T",
            ],
            "'--token-file <FILE>' cannot be used with '--token-env <NAME>'",
            "--help",
        ),
        (
            vec!["trigger", "--receiver", &url, "ks/apps", "--token-env", "T"],
            "KIND/NAME, --dependents and -A do not apply to --receiver",
            "drop them",
        ),
        (
            vec!["trigger", "--receiver", &url, "--force", "--token-env", "T"],
            "--force and --reset need the annotation method",
            "drop --receiver",
        ),
        (
            vec!["trigger", "ks/apps", "--token-env", "T"],
            "--token-file and --token-env only apply to the webhook method",
            "add --receiver",
        ),
        (
            vec![
                "trigger",
                "ks/apps",
                "--context",
                "testbed",
                "--context",
                "other",
            ],
            "this command works on one cluster",
            "single --context",
        ),
        (
            vec!["trigger", "ks/apps", "--dotenv", &home],
            "is a directory",
            "existing directory",
        ),
        (
            vec!["wait", "ks/apps", "--junit", &home],
            "is a directory",
            "existing directory",
        ),
        (
            vec![
                "trigger",
                "ks/apps",
                "--dotenv",
                "/nonexistent-dir/trigger.env",
            ],
            "/nonexistent-dir is not a directory",
            "existing directory",
        ),
        (
            vec!["trigger", "kustomization"],
            "invalid object \"kustomization\": expected KIND/NAME",
            "KIND/NAME",
        ),
        (vec!["wait"], "nothing selected", "--artifact"),
        (
            vec!["trigger", "--receiver", &ftp, "--token-env", "T"],
            "the scheme must be http or https",
            "https://",
        ),
    ] {
        let mut args = args.clone();
        if args[0] == "trigger" && !args.contains(&"--dotenv") {
            args.extend_from_slice(&["--dotenv", dotenv.to_str().expect("utf8")]);
        }
        c.refused_offline(&args, 2, message, hint);
        assert!(!dotenv.exists());
        match hook.accept() {
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
            other => panic!("the Receiver was called for {args:?}: {other:?}"),
        }
    }
    assert!(c.requested_at().is_none());
}
