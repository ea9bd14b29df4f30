//! The command line itself: version, usage errors, and every context rule
//! (shown through the `context` command, which resolves without contacting
//! a cluster).

use crate::common::{Run, kubectl, plugin, run, write};
use std::path::Path;

const GITLAB_KUBECONFIG: &str = r#"apiVersion: v1
kind: Config
clusters:
- name: gitlab
  cluster:
    server: https://kas.gitlab.example/k8s-proxy
users:
- name: agent:101
  user:
    token: ci:101:glcbt-64_SECRETJOBTOKEN
- name: agent:202
  user:
    token: ci:202:glcbt-64_SECRETJOBTOKEN
contexts:
- name: group/infra/agents:staging
  context:
    cluster: gitlab
    user: agent:101
- name: group/infra/agents:production
  context:
    cluster: gitlab
    user: agent:202
    namespace: prod-flux
"#;

const LAPTOP_KUBECONFIG: &str = r#"apiVersion: v1
kind: Config
current-context: kind-dev
clusters:
- name: kind
  cluster:
    server: https://127.0.0.1:6443
    insecure-skip-tls-verify: true
users:
- name: me
  user:
    token: abc
contexts:
- name: kind-dev
  context: {cluster: kind, user: me, namespace: dev}
- name: kind-other
  context: {cluster: kind, user: me}
"#;

fn context(home: &Path, kubeconfig: &Path, args: &[&str], env: &[(&str, &str)]) -> Run {
    let mut cmd = plugin(home);
    cmd.arg("context")
        .arg("-o")
        .arg("json")
        .arg("--kubeconfig")
        .arg(kubeconfig)
        .args(args);
    for (k, v) in env {
        cmd.env(k, v);
    }
    run(&mut cmd)
}

fn setup(kubeconfig: &str) -> (tempfile::TempDir, std::path::PathBuf) {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("kubeconfig");
    write(&path, kubeconfig);
    (dir, path)
}

#[test]
fn version_prints_version_commit_and_target() {
    let home = tempfile::tempdir().expect("tempdir");
    let r = run(plugin(home.path()).arg("version"));
    r.assert_ok();
    assert!(r.stdout.starts_with("kubectl-gitlab-flux "), "{}", r.stdout);
    let r = run(plugin(home.path()).args(["version", "-o", "json"]));
    r.assert_ok();
    let v = r.json();
    assert_eq!(v["version"], env!("CARGO_PKG_VERSION"));
    assert!(v["gitCommit"].as_str().is_some_and(|c| !c.is_empty()));
    assert!(v["target"].as_str().is_some_and(|t| t.contains('-')));
    let r = run(plugin(home.path()).args(["version", "-o", "yaml"]));
    r.assert_ok();
    assert!(r.stdout.contains("version: "), "{}", r.stdout);
}

#[test]
fn usage_errors_exit_2_with_a_hint() {
    let home = tempfile::tempdir().expect("tempdir");
    run(plugin(home.path()).arg("--no-such-flag")).assert_error(
        2,
        "unexpected argument '--no-such-flag'",
        "--help",
    );
    run(plugin(home.path()).args(["version", "-o", "xml"])).assert_error(2, "xml", "--help");
    run(plugin(home.path()).args(["version", "--request-timeout", "soon"])).assert_error(
        2,
        "invalid --request-timeout \"soon\"",
        "30s",
    );
}

#[test]
fn help_lists_every_command() {
    let home = tempfile::tempdir().expect("tempdir");
    let r = run(plugin(home.path()).arg("--help"));
    r.assert_ok();
    for cmd in [
        "push",
        "trigger",
        "wait",
        "status",
        "receiver",
        "context",
        "completion",
        "version",
    ] {
        assert!(
            r.stdout.contains(&format!("  {cmd} ")),
            "missing {cmd}:\n{}",
            r.stdout
        );
    }
    assert!(r.stdout.contains("Exit codes"), "{}", r.stdout);
}

#[test]
fn gitlab_kubeconfig_without_current_context_lists_both_agents() {
    let (home, kc) = setup(GITLAB_KUBECONFIG);
    let r = context(home.path(), &kc, &[], &[]);
    r.assert_error(2, "no context chosen", "--agent");
    assert!(
        r.stderr.contains("group/infra/agents:staging"),
        "{}",
        r.stderr
    );
    assert!(
        r.stderr.contains("group/infra/agents:production"),
        "{}",
        r.stderr
    );
    assert!(
        !r.stderr.contains("SECRETJOBTOKEN"),
        "token leaked: {}",
        r.stderr
    );
}

#[test]
fn agent_flag_picks_by_full_path_or_by_name() {
    let (home, kc) = setup(GITLAB_KUBECONFIG);
    let r = context(
        home.path(),
        &kc,
        &["--agent", "group/infra/agents:production"],
        &[],
    );
    r.assert_ok();
    let v = r.json();
    assert_eq!(v["context"], "group/infra/agents:production");
    assert_eq!(v["chosenBy"], "agent-flag");
    assert_eq!(v["namespace"], "prod-flux");
    assert_eq!(v["server"], "https://kas.gitlab.example/k8s-proxy");

    let v = context(home.path(), &kc, &["--agent", ":staging"], &[]).json();
    assert_eq!(v["context"], "group/infra/agents:staging");
    assert_eq!(
        v["namespace"], "flux-system",
        "default namespace as flux defaults"
    );

    context(home.path(), &kc, &["--agent", ":qa"], &[]).assert_error(
        2,
        "no context for GitLab agent",
        "ci_access",
    );
}

#[test]
fn kube_context_variable_picks_one() {
    let (home, kc) = setup(GITLAB_KUBECONFIG);
    let r = context(
        home.path(),
        &kc,
        &[],
        &[("KUBE_CONTEXT", "group/infra/agents:staging")],
    );
    let v = r.json();
    assert_eq!(v["context"], "group/infra/agents:staging");
    assert_eq!(v["chosenBy"], "kube-context-env");

    // --agent wins over KUBE_CONTEXT, --context over both.
    let v = context(
        home.path(),
        &kc,
        &["--agent", ":production"],
        &[("KUBE_CONTEXT", "group/infra/agents:staging")],
    )
    .json();
    assert_eq!(v["context"], "group/infra/agents:production");
    let v = context(
        home.path(),
        &kc,
        &[
            "--context",
            "group/infra/agents:staging",
            "--agent",
            ":production",
        ],
        &[],
    )
    .json();
    assert_eq!(v["context"], "group/infra/agents:staging");
    assert_eq!(v["chosenBy"], "context-flag");

    context(home.path(), &kc, &[], &[("KUBE_CONTEXT", "nope")]).assert_error(
        2,
        "context \"nope\" (from KUBE_CONTEXT) is not in the kubeconfig",
        "KUBE_CONTEXT",
    );
}

#[test]
fn current_context_namespace_flag_and_unknown_context() {
    let (home, kc) = setup(LAPTOP_KUBECONFIG);
    let v = context(home.path(), &kc, &[], &[]).json();
    assert_eq!(v["context"], "kind-dev");
    assert_eq!(v["chosenBy"], "current-context");
    assert_eq!(v["namespace"], "dev");
    let v = context(home.path(), &kc, &["-n", "apps"], &[]).json();
    assert_eq!(v["namespace"], "apps");
    assert_eq!(v["namespaceFrom"], "flag");
    context(home.path(), &kc, &["--context", "prod"], &[]).assert_error(
        2,
        "context \"prod\" (from --context) is not in the kubeconfig; available: kind-dev, kind-other",
        "--context",
    );
}

#[test]
fn single_context_without_current_context_is_used() {
    let one = GITLAB_KUBECONFIG.replace(
        "- name: group/infra/agents:production\n  context:\n    cluster: gitlab\n    user: agent:202\n    namespace: prod-flux\n",
        "",
    );
    let (home, kc) = setup(&one);
    let v = context(home.path(), &kc, &[], &[]).json();
    assert_eq!(v["context"], "group/infra/agents:staging");
    assert_eq!(v["chosenBy"], "only-context");
}

#[test]
fn kubeconfig_variable_merges_path_lists_like_kubectl() {
    let dir = tempfile::tempdir().expect("tempdir");
    let a = dir.path().join("a");
    let b = dir.path().join("b");
    write(&a, LAPTOP_KUBECONFIG);
    write(&b, GITLAB_KUBECONFIG);
    let list = format!(
        "{}:{}:{}",
        a.display(),
        dir.path().join("missing").display(),
        b.display()
    );
    let r = run(plugin(dir.path())
        .args(["context", "--list", "-o", "json"])
        .env("KUBECONFIG", &list));
    r.assert_ok();
    let names: Vec<String> = r
        .json()
        .as_array()
        .expect("array")
        .iter()
        .map(|e| e["name"].as_str().unwrap_or_default().to_string())
        .collect();
    assert_eq!(
        names,
        vec![
            "kind-dev",
            "kind-other",
            "group/infra/agents:staging",
            "group/infra/agents:production"
        ]
    );
    // The first file's current-context wins.
    let v = run(plugin(dir.path())
        .args(["context", "-o", "json"])
        .env("KUBECONFIG", &list))
    .json();
    assert_eq!(v["context"], "kind-dev");
}

#[test]
fn missing_and_malformed_kubeconfig() {
    let dir = tempfile::tempdir().expect("tempdir");
    run(plugin(dir.path()).arg("context")).assert_error(2, "no kubeconfig found", "KUBECONFIG");
    let bad = dir.path().join("bad");
    write(&bad, "apiVersion: v1\nclusters: [unclosed\n");
    run(plugin(dir.path())
        .args(["context", "--kubeconfig"])
        .arg(&bad))
    .assert_error(2, "cannot read kubeconfig", "valid kubeconfig");
}

#[test]
fn runs_as_a_kubectl_plugin() {
    let Some(kubectl) = kubectl() else { return };
    let home = tempfile::tempdir().expect("tempdir");
    let bin_dir = crate::common::bin()
        .parent()
        .expect("bin dir")
        .to_path_buf();
    let path = format!(
        "{}:{}",
        bin_dir.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let mut cmd = std::process::Command::new(&kubectl);
    crate::common::scrub(&mut cmd, home.path());
    let r = run(cmd.args(["gitlab-flux", "version"]).env("PATH", &path));
    r.assert_ok();
    assert!(r.stdout.starts_with("kubectl-gitlab-flux "), "{}", r.stdout);

    let mut cmd = std::process::Command::new(&kubectl);
    crate::common::scrub(&mut cmd, home.path());
    let r = run(cmd.args(["plugin", "list"]).env("PATH", &path));
    assert!(
        r.stdout.contains("kubectl-gitlab_flux"),
        "plugin list:\n{}\n{}",
        r.stdout,
        r.stderr
    );
}
