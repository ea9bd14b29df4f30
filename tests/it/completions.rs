//! Shell completion: the generated scripts in completions/ (stale copies
//! fail; regenerate with `make completions`), the `__complete` command that
//! answers kubectl's plugin completion protocol, and real bash sessions
//! completing `kubectl gitlab-flux …` through /usr/bin/kubectl and the
//! `kubectl_complete-gitlab_flux` helper.

use serde_json::json;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use testbed::apiserver::{ApiServer, ApiServerConfig, Store};

use crate::common::{Run, bin, kubectl, plugin, run, scrub, write};

#[test]
fn checked_in_completions_are_current() {
    let home = tempfile::tempdir().expect("tempdir");
    for shell in ["bash", "zsh", "fish", "powershell", "elvish"] {
        let r = run(plugin(home.path()).args(["completion", shell]));
        r.assert_ok();
        let path = format!(
            "{}/completions/kubectl-gitlab_flux.{shell}",
            env!("CARGO_MANIFEST_DIR")
        );
        let checked_in = std::fs::read_to_string(&path).unwrap_or_default();
        assert!(
            checked_in == r.stdout,
            "{path} is stale: run `make completions` and commit the result"
        );
    }
}

#[test]
fn bash_completion_offers_subcommands() {
    let home = tempfile::tempdir().expect("tempdir");
    let script = run(plugin(home.path()).args(["completion", "bash"])).stdout;
    let file = home.path().join("c.bash");
    std::fs::write(&file, script).expect("write");
    let probe = format!(
        "source {}; COMP_WORDS=(kubectl-gitlab_flux ''); COMP_CWORD=1; _kubectl__gitlab_flux kubectl-gitlab_flux '' kubectl-gitlab_flux; printf '%s\\n' \"${{COMPREPLY[@]}}\"",
        file.display()
    );
    let out = std::process::Command::new("bash")
        .args(["-c", &probe])
        .output()
        .expect("bash");
    let words = String::from_utf8_lossy(&out.stdout);
    for cmd in ["push", "trigger", "wait", "status", "completion", "version"] {
        assert!(words.lines().any(|w| w == cmd), "missing {cmd} in {words}");
    }
}

// ---- `__complete`: kubectl's plugin completion protocol ----

/// The helper script as committed.
fn helper_script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("completions/kubectl_complete-gitlab_flux")
}

/// What `__complete` answered: candidates (value, description) and the
/// directive of the last line.
struct Answer {
    candidates: Vec<(String, Option<String>)>,
    directive: u32,
}

impl Answer {
    #[track_caller]
    fn parse(r: &Run) -> Answer {
        r.assert_ok();
        let mut lines: Vec<&str> = r.stdout.lines().collect();
        let last = lines.pop().unwrap_or_default();
        let directive = last
            .strip_prefix(':')
            .and_then(|d| d.parse().ok())
            .unwrap_or_else(|| panic!("no :<directive> last line in:\n{}", r.stdout));
        let candidates = lines
            .iter()
            .map(|l| match l.split_once('\t') {
                Some((v, d)) => (v.to_string(), Some(d.to_string())),
                None => (l.to_string(), None),
            })
            .collect();
        Answer {
            candidates,
            directive,
        }
    }

    fn values(&self) -> Vec<&str> {
        self.candidates.iter().map(|(v, _)| v.as_str()).collect()
    }
}

/// Run `__complete` the way the helper script does.
fn complete(mut cmd: Command, words: &[&str]) -> Answer {
    cmd.args(["__complete", "--"]).args(words);
    Answer::parse(&run(&mut cmd))
}

#[test]
fn top_level_offers_subcommands_with_descriptions() {
    let home = tempfile::tempdir().expect("tempdir");
    let a = complete(plugin(home.path()), &[""]);
    for sub in [
        "push",
        "trigger",
        "wait",
        "status",
        "receiver",
        "context",
        "completion",
        "version",
    ] {
        assert!(a.values().contains(&sub), "{sub} missing: {:?}", a.values());
    }
    assert!(!a.values().contains(&"__complete"), "{:?}", a.values());
    let wait = a
        .candidates
        .iter()
        .find(|(v, _)| v == "wait")
        .expect("wait");
    assert!(
        wait.1
            .as_deref()
            .is_some_and(|d| d.contains("exactly the pushed revision")),
        "{wait:?}"
    );
    assert_eq!(a.directive, 4, "no file names among subcommands");

    let a = complete(plugin(home.path()), &["tr"]);
    assert_eq!(a.values(), ["trigger"]);
}

#[test]
fn flags_and_their_values() {
    let home = tempfile::tempdir().expect("tempdir");
    let a = complete(plugin(home.path()), &["wait", "--o"]);
    assert_eq!(a.values(), ["--output"]);
    assert_eq!(a.directive, 4);

    let a = complete(plugin(home.path()), &["wait", "--"]);
    for flag in [
        "--since-token",
        "--junit",
        "--context",
        "--namespace",
        "--dependents",
    ] {
        assert!(
            a.values().contains(&flag),
            "{flag} missing: {:?}",
            a.values()
        );
    }

    let a = complete(plugin(home.path()), &["status", "-o", ""]);
    assert_eq!(a.values(), ["table", "json", "yaml"]);
    assert_eq!(a.directive, 4);
    let a = complete(plugin(home.path()), &["status", "--color="]);
    assert_eq!(
        a.values(),
        ["--color=auto", "--color=always", "--color=never"]
    );
    let a = complete(plugin(home.path()), &["completion", "z"]);
    assert_eq!(a.values(), ["zsh"]);

    // Paths: no candidates, and the shell completes file names (directive 0).
    for words in [
        &["push", ""][..],
        &["wait", "--kubeconfig", ""],
        &["wait", "--junit", "out/"],
    ] {
        let a = complete(plugin(home.path()), words);
        assert!(a.candidates.is_empty(), "{words:?}: {:?}", a.values());
        assert_eq!(a.directive, 0, "{words:?}");
    }
    // KIND/NAME starts with the kinds; no space after `ks/`.
    let a = complete(plugin(home.path()), &["wait", ""]);
    assert_eq!(&a.values()[..3], ["kustomization/", "ks/", "helmrelease/"]);
    assert_eq!(a.directive & 2, 2, "NoSpace");
    assert_eq!(a.directive & 4, 4, "NoFileComp");
}

const CONTEXTS: &str = r#"apiVersion: v1
kind: Config
current-context: kind-dev
clusters:
- name: kind
  cluster: {server: "https://127.0.0.1:1"}
users:
- name: me
  user: {token: abc}
contexts:
- name: kind-dev
  context: {cluster: kind, user: me}
- name: group/infra/agents:staging
  context: {cluster: kind, user: me}
- name: group/infra/agents:production
  context: {cluster: kind, user: me}
"#;

#[test]
fn contexts_and_agents_from_the_kubeconfig() {
    let home = tempfile::tempdir().expect("tempdir");
    let kc = home.path().join("kubeconfig");
    write(&kc, CONTEXTS);
    let kc_arg = kc.to_str().expect("utf-8 path");

    let a = complete(
        plugin(home.path()),
        &["wait", "--kubeconfig", kc_arg, "--context", ""],
    );
    assert_eq!(
        a.values(),
        [
            "kind-dev",
            "group/infra/agents:staging",
            "group/infra/agents:production"
        ]
    );
    assert_eq!(a.directive, 4);

    // From KUBECONFIG (a list of files, merged), with a prefix, and a
    // context already given is not offered again.
    let other = home.path().join("other");
    write(
        &other,
        &CONTEXTS.replace("group/infra/agents:", "team/agents:"),
    );
    let list = std::env::join_paths([&kc, &other]).expect("path list");
    let mut cmd = plugin(home.path());
    cmd.env("KUBECONFIG", &list);
    let a = complete(
        cmd,
        &[
            "status",
            "--context",
            "team/agents:staging",
            "--context",
            "team/",
        ],
    );
    assert_eq!(a.values(), ["team/agents:production"]);

    let a = complete(
        plugin(home.path()),
        &["trigger", "--kubeconfig", kc_arg, "--agent", ""],
    );
    assert_eq!(
        a.values(),
        [
            "group/infra/agents:staging",
            "group/infra/agents:production"
        ]
    );

    // No kubeconfig at all: nothing, quietly.
    let mut cmd = plugin(home.path());
    cmd.args(["__complete", "--", "wait", "--context", ""]);
    let r = run(&mut cmd);
    r.assert_ok();
    assert_eq!(r.stdout, ":4\n");
    assert_eq!(r.stderr, "");
}

/// An API emulator with Flux objects in two namespaces, and a kubeconfig
/// whose context defaults to flux-system.
struct Cluster {
    api: ApiServer,
    kubeconfig: PathBuf,
    _dir: tempfile::TempDir,
}

impl Cluster {
    fn start() -> Cluster {
        let api = ApiServer::start(ApiServerConfig::default()).expect("API emulator starts");
        let store = api.store();
        for ns in ["flux-system", "apps"] {
            store
                .create(json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}}))
                .expect("namespace");
        }
        ks(&store, "flux-system", "apps", true);
        ks(&store, "flux-system", "podinfo", false);
        ks(&store, "apps", "infra", true);
        store
            .create(json!({
                "apiVersion": "helm.toolkit.fluxcd.io/v2", "kind": "HelmRelease",
                "metadata": {"name": "redis", "namespace": "flux-system"},
                "spec": {"interval": "10m", "chartRef": {"kind": "OCIRepository", "name": "redis"}},
            }))
            .expect("HelmRelease");
        let dir = tempfile::tempdir().expect("tempdir");
        let kubeconfig = dir.path().join("kubeconfig");
        write(&kubeconfig, &api.kubeconfig("testbed", Some("flux-system")));
        Cluster {
            api,
            kubeconfig,
            _dir: dir,
        }
    }

    fn kubeconfig_arg(&self) -> &str {
        self.kubeconfig.to_str().expect("utf-8 path")
    }
}

fn ks(store: &Store, ns: &str, name: &str, ready: bool) {
    let status = if ready { "True" } else { "False" };
    store
        .create(json!({
            "apiVersion": "kustomize.toolkit.fluxcd.io/v1", "kind": "Kustomization",
            "metadata": {"name": name, "namespace": ns},
            "spec": {"interval": "10m", "path": "./", "prune": true,
                     "sourceRef": {"kind": "OCIRepository", "name": name}},
            "status": {"conditions": [{"type": "Ready", "status": status,
                       "reason": if ready { "ReconciliationSucceeded" } else { "BuildFailed" },
                       "message": "", "lastTransitionTime": "2024-01-01T00:00:00Z"}]},
        }))
        .expect("Kustomization");
}

#[test]
fn object_names_and_namespaces_from_the_cluster() {
    let cluster = Cluster::start();
    let home = tempfile::tempdir().expect("tempdir");
    let kc = cluster.kubeconfig_arg();
    // Generous for a loaded machine; the default is 1 s.
    let cmd = || {
        let mut c = plugin(home.path());
        c.env("GITLAB_FLUX_COMPLETE_TIMEOUT", "20s");
        c
    };

    let a = complete(cmd(), &["wait", "--kubeconfig", kc, "kustomization/"]);
    assert_eq!(a.values(), ["kustomization/apps", "kustomization/podinfo"]);
    assert_eq!(a.directive, 4);
    let described: Vec<Option<&str>> = a.candidates.iter().map(|(_, d)| d.as_deref()).collect();
    assert_eq!(described, [Some("Ready"), Some("not ready: BuildFailed")]);

    let a = complete(cmd(), &["wait", "--kubeconfig", kc, "ks/ap"]);
    assert_eq!(a.values(), ["ks/apps"]);

    // The namespace on the line, in either spelling, wins over the context's.
    let a = complete(cmd(), &["status", "--kubeconfig", kc, "-n", "apps", "ks/"]);
    assert_eq!(a.values(), ["ks/infra"]);
    let a = complete(
        cmd(),
        &["trigger", "--namespace=apps", "--kubeconfig", kc, "ks/"],
    );
    assert_eq!(a.values(), ["ks/infra"]);

    let a = complete(cmd(), &["trigger", "--kubeconfig", kc, "hr/"]);
    assert_eq!(a.values(), ["hr/redis"]);

    // Through KUBECONFIG, and an object already named is not offered again.
    let mut c = cmd();
    c.env("KUBECONFIG", &cluster.kubeconfig);
    let a = complete(c, &["wait", "ks/apps", "ks/"]);
    assert_eq!(a.values(), ["ks/podinfo"]);

    let a = complete(cmd(), &["status", "--kubeconfig", kc, "-n", ""]);
    let mut namespaces = a.values();
    namespaces.sort();
    assert_eq!(
        namespaces,
        ["apps", "default", "flux-system", "kube-system"]
    );
    assert_eq!(a.directive, 4);
}

/// Run with a generous bound; a completion that does not return fails.
#[track_caller]
fn run_bounded(cmd: &mut Command, bound: Duration) -> Run {
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    let deadline = Instant::now() + bound;
    loop {
        if child.try_wait().expect("try_wait").is_some() {
            return Run::of(child.wait_with_output().expect("output"));
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let out = child.wait_with_output().expect("output");
            panic!(
                "completion did not return within {bound:?}; stdout:\n{}",
                String::from_utf8_lossy(&out.stdout)
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn slow_or_silent_clusters_get_no_candidates_and_no_hang() {
    let home = tempfile::tempdir().expect("tempdir");
    let bound = Duration::from_secs(10);

    // An API server that answers every request a minute late.
    let cluster = Cluster::start();
    cluster.api.faults().set_latency(Duration::from_secs(60));
    let mut cmd = plugin(home.path());
    cmd.args(["__complete", "--", "wait", "--kubeconfig"])
        .arg(&cluster.kubeconfig)
        .arg("ks/");
    let r = run_bounded(&mut cmd, bound);
    r.assert_ok();
    assert_eq!(r.stdout, ":4\n");
    assert!(!r.stderr.contains("error"), "{}", r.stderr);

    // A socket that accepts connections (the kernel does) but never speaks
    // TLS; the default time limit applies.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = silent.local_addr().expect("addr").port();
    // A closed port: connections are refused at once.
    let refused = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port")
        .port();
    for port in [port, refused] {
        let kc = home.path().join(format!("kubeconfig-{port}"));
        write(
            &kc,
            &format!(
                "apiVersion: v1\nkind: Config\ncurrent-context: c\nclusters:\n- name: c\n  cluster:\n    server: https://127.0.0.1:{port}\n    insecure-skip-tls-verify: true\nusers:\n- name: u\n  user: {{token: t}}\ncontexts:\n- name: c\n  context: {{cluster: c, user: u}}\n"
            ),
        );
        for words in [&["status", "ks/"][..], &["wait", "-n", ""]] {
            let mut cmd = plugin(home.path());
            cmd.env("KUBECONFIG", &kc)
                .args(["__complete", "--"])
                .args(words);
            let r = run_bounded(&mut cmd, bound);
            r.assert_ok();
            assert_eq!(r.stdout, ":4\n", "port {port}, {words:?}");
            assert!(!r.stderr.contains("error"), "{}", r.stderr);
        }
    }
    drop(silent);
}

// ---- kubectl's own completion, in bash ----

/// Debian's bash-completion, or None (skip) outside CI.
fn bash_completion() -> Option<PathBuf> {
    let path = PathBuf::from("/usr/share/bash-completion/bash_completion");
    if path.exists() {
        return Some(path);
    }
    if std::env::var("CI").as_deref() == Ok("true") {
        panic!("bash-completion is required under CI=true (apt-get install bash-completion)");
    }
    eprintln!("skipping: bash-completion not installed");
    None
}

/// A directory for PATH holding kubectl, the plugin and the committed
/// completion helper, as `make install` or a manual install lays them out.
fn install_dir(kubectl: &Path) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    std::os::unix::fs::symlink(kubectl, dir.path().join("kubectl")).expect("link kubectl");
    std::os::unix::fs::symlink(bin(), dir.path().join("kubectl-gitlab_flux")).expect("link plugin");
    let helper = dir.path().join("kubectl_complete-gitlab_flux");
    std::fs::copy(helper_script(), &helper).expect("copy helper");
    dir
}

/// Complete `line` (ending where the cursor is) in a bash that sourced
/// bash-completion and `kubectl completion bash`; returns COMPREPLY.
fn bash_complete(
    kubectl: &Path,
    bash_completion: &Path,
    line: &str,
    env: &[(&str, &Path)],
) -> Vec<String> {
    let dir = install_dir(kubectl);
    let home = tempfile::tempdir().expect("tempdir");
    let mut words: Vec<&str> = line.split_whitespace().collect();
    if line.ends_with(' ') {
        words.push("");
    }
    let q = |s: &str| format!("'{}'", s.replace('\'', r"'\''"));
    let cword = words.len() - 1;
    let script = format!(
        "source {bc}\n\
         source <(kubectl completion bash)\n\
         COMP_WORDS=({words})\n\
         COMP_CWORD={cword}\n\
         COMP_LINE={line}\n\
         COMP_POINT=${{#COMP_LINE}}\n\
         COMP_TYPE=9\n\
         COMP_KEY=9\n\
         __start_kubectl kubectl {cur} {prev}\n\
         printf '%s\\n' \"${{COMPREPLY[@]}}\"\n",
        bc = q(&bash_completion.display().to_string()),
        words = words.iter().map(|w| q(w)).collect::<Vec<_>>().join(" "),
        line = q(line),
        cur = q(words[cword]),
        prev = q(words[cword.saturating_sub(1)]),
    );
    let mut cmd = Command::new("bash");
    scrub(&mut cmd, home.path());
    let path = format!("{}:/usr/bin:/bin", dir.path().display());
    cmd.env("PATH", path)
        .env("GITLAB_FLUX_COMPLETE_TIMEOUT", "20s")
        .args(["--norc", "--noprofile", "-c", &script]);
    for (k, v) in env {
        cmd.env(k, v);
    }
    let r = run(&mut cmd);
    assert_eq!(r.code, 0, "bash failed:\n{}", r.stderr);
    // Descriptions, when bash shows them, follow the word after spaces.
    r.stdout
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .map(str::to_string)
        .collect()
}

#[test]
fn kubectl_completes_the_plugin_in_bash() {
    let (Some(kubectl), Some(bc)) = (kubectl(), bash_completion()) else {
        return;
    };
    let reply = bash_complete(&kubectl, &bc, "kubectl gitlab-flux ", &[]);
    for sub in [
        "push",
        "trigger",
        "wait",
        "status",
        "receiver",
        "completion",
    ] {
        assert!(reply.iter().any(|w| w == sub), "{sub} missing: {reply:?}");
    }
    assert!(!reply.iter().any(|w| w == "__complete"), "{reply:?}");

    let mut reply = bash_complete(&kubectl, &bc, "kubectl gitlab-flux status -o ", &[]);
    reply.sort();
    assert_eq!(reply, ["json", "table", "yaml"]);

    // Against the API emulator, the kubeconfig from KUBECONFIG.
    let cluster = Cluster::start();
    let env = [("KUBECONFIG", cluster.kubeconfig.as_path())];
    let reply = bash_complete(
        &kubectl,
        &bc,
        "kubectl gitlab-flux wait kustomization/",
        &env,
    );
    assert_eq!(reply, ["kustomization/apps", "kustomization/podinfo"]);
    let reply = bash_complete(&kubectl, &bc, "kubectl gitlab-flux wait ks/po", &env);
    assert_eq!(reply, ["ks/podinfo"]);
    // A flag as the plugin's first word reaches the helper too.
    let reply = bash_complete(&kubectl, &bc, "kubectl gitlab-flux --context ", &env);
    assert_eq!(reply, ["testbed"]);

    // GitLab agent contexts: bash breaks words at `:`, so the reply is
    // what follows the colon.
    let home = tempfile::tempdir().expect("tempdir");
    let kc = home.path().join("kubeconfig");
    write(&kc, CONTEXTS);
    let reply = bash_complete(
        &kubectl,
        &bc,
        "kubectl gitlab-flux wait --agent group/infra/agents:st",
        &[("KUBECONFIG", kc.as_path())],
    );
    assert_eq!(reply, ["staging"]);
}

#[test]
fn kubectl_without_the_helper_offers_no_plugin_candidates() {
    // The control for the test above: the candidates come from the helper.
    let Some(kubectl) = kubectl() else { return };
    let dir = install_dir(&kubectl);
    std::fs::remove_file(dir.path().join("kubectl_complete-gitlab_flux")).expect("rm helper");
    let home = tempfile::tempdir().expect("tempdir");
    let mut cmd = Command::new(dir.path().join("kubectl"));
    scrub(&mut cmd, home.path());
    cmd.env("PATH", format!("{}:/usr/bin:/bin", dir.path().display()))
        .args(["__complete", "gitlab-flux", "wa"]);
    let r = run(&mut cmd);
    assert!(!r.stdout.contains("wait"), "{}", r.stdout);

    let mut cmd = Command::new(dir.path().join("kubectl"));
    scrub(&mut cmd, home.path());
    std::fs::copy(
        helper_script(),
        dir.path().join("kubectl_complete-gitlab_flux"),
    )
    .expect("copy helper");
    cmd.env("PATH", format!("{}:/usr/bin:/bin", dir.path().display()))
        .args(["__complete", "gitlab-flux", "wa"]);
    let r = run(&mut cmd);
    assert_eq!(
        r.stdout.lines().next(),
        Some("wait\tWait until Flux applied exactly the pushed revision and everything is Ready")
    );
    assert_eq!(r.stdout.lines().last(), Some(":4"));
}
