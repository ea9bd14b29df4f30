//! Every kind of kubeconfig the plugin must work with, against the API
//! emulator over HTTPS: CA inline and as a file, insecure-skip-tls-verify,
//! bearer token inline and from a file, an exec credential plugin, client
//! certificates (file and inline), and a wrong token (401 → exit 4).

use crate::common::{Run, plugin, run};
use base64::Engine;
use std::path::Path;
use testbed::apiserver::{ApiServer, ApiServerConfig};

fn status(home: &Path, kubeconfig: &str) -> Run {
    let kc = home.join("kubeconfig");
    std::fs::write(&kc, kubeconfig).expect("kubeconfig");
    run(plugin(home)
        .arg("status")
        .arg("--kubeconfig")
        .arg(&kc)
        .args(["-o", "json"]))
}

fn kubeconfig(server: &str, cluster_extra: &str, user: &str) -> String {
    format!(
        "apiVersion: v1\nkind: Config\ncurrent-context: c\nclusters:\n- name: c\n  cluster:\n    server: {server}\n{cluster_extra}users:\n- name: u\n  user:\n{user}contexts:\n- name: c\n  context: {{cluster: c, user: u, namespace: flux-system}}\n"
    )
}

fn b64(s: &str) -> String {
    base64::engine::general_purpose::STANDARD.encode(s)
}

#[test]
fn ca_token_exec_and_client_certificates() {
    let home = tempfile::tempdir().expect("tempdir");
    let h = home.path();
    let api = ApiServer::start(ApiServerConfig::default()).expect("emulator");
    let url = api.url();
    let token = api.token().expect("token");
    let ca = api.ca_pem().expect("ca");
    let ca_file = h.join("ca.pem");
    std::fs::write(&ca_file, &ca).expect("ca file");
    let token_line = format!("    token: {token}\n");

    // CA inline, token inline.
    status(
        h,
        &kubeconfig(
            &url,
            &format!("    certificate-authority-data: {}\n", b64(&ca)),
            &token_line,
        ),
    )
    .assert_ok();
    // CA file.
    status(
        h,
        &kubeconfig(
            &url,
            &format!("    certificate-authority: {}\n", ca_file.display()),
            &token_line,
        ),
    )
    .assert_ok();
    // No CA, insecure-skip-tls-verify.
    status(
        h,
        &kubeconfig(&url, "    insecure-skip-tls-verify: true\n", &token_line),
    )
    .assert_ok();
    // No CA and no skip: the emulator's certificate is not trusted → exit 4.
    status(h, &kubeconfig(&url, "", &token_line)).assert_error(
        4,
        "cannot reach the Kubernetes API",
        "network",
    );
    // Token from a file.
    let token_file = h.join("token");
    std::fs::write(&token_file, &token).expect("token file");
    status(
        h,
        &kubeconfig(
            &url,
            &format!("    certificate-authority: {}\n", ca_file.display()),
            &format!("    tokenFile: {}\n", token_file.display()),
        ),
    )
    .assert_ok();
    // An exec credential plugin (client.authentication.k8s.io/v1), as
    // cloud CLIs and gitlab-agent-style helpers provide.
    let exec = h.join("cred.sh");
    std::fs::write(
        &exec,
        format!("#!/bin/sh\nprintf '%s' '{{\"apiVersion\":\"client.authentication.k8s.io/v1\",\"kind\":\"ExecCredential\",\"status\":{{\"token\":\"{token}\"}}}}'\n"),
    )
    .expect("exec plugin");
    std::process::Command::new("chmod")
        .arg("+x")
        .arg(&exec)
        .status()
        .expect("chmod");
    status(
        h,
        &kubeconfig(
            &url,
            &format!("    certificate-authority: {}\n", ca_file.display()),
            &format!("    exec:\n      apiVersion: client.authentication.k8s.io/v1\n      command: {}\n      interactiveMode: Never\n", exec.display()),
        ),
    )
    .assert_ok();
    // Client certificate and key, as files and inline (the emulator does not
    // ask for them, so this proves they load and the connection works).
    let key = h.join("client.key");
    let crt = h.join("client.crt");
    let ok = std::process::Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=test",
        ])
        .arg("-keyout")
        .arg(&key)
        .arg("-out")
        .arg(&crt)
        .output()
        .expect("openssl runs");
    assert!(
        ok.status.success(),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );
    let ca_line = format!("    certificate-authority: {}\n", ca_file.display());
    status(
        h,
        &kubeconfig(
            &url,
            &ca_line,
            &format!(
                "{token_line}    client-certificate: {}\n    client-key: {}\n",
                crt.display(),
                key.display()
            ),
        ),
    )
    .assert_ok();
    let crt_pem = std::fs::read_to_string(&crt).expect("crt");
    let key_pem = std::fs::read_to_string(&key).expect("key");
    status(
        h,
        &kubeconfig(
            &url,
            &ca_line,
            &format!(
                "{token_line}    client-certificate-data: {}\n    client-key-data: {}\n",
                b64(&crt_pem),
                b64(&key_pem)
            ),
        ),
    )
    .assert_ok();
    // A wrong token: 401 → exit 4 with a hint, and the token is not shown.
    let r = status(
        h,
        &kubeconfig(&url, &ca_line, "    token: wrong-token-value\n"),
    );
    r.assert_error(4, "refused our credentials (401)", "expired");
    assert!(!r.stderr.contains("wrong-token-value"), "{}", r.stderr);
}

#[test]
fn gitlab_agent_style_kubeconfig_uses_system_roots() {
    // GitLab's agent kubeconfig carries no CA: the system roots are used, so
    // a private test CA is rejected (exit 4) — proof that no CA is invented
    // and no verification skipped.
    let home = tempfile::tempdir().expect("tempdir");
    let api = ApiServer::start(ApiServerConfig::default()).expect("emulator");
    let yaml = format!(
        "apiVersion: v1\nkind: Config\nclusters:\n- name: gitlab\n  cluster:\n    server: {}/k8s-proxy\nusers:\n- name: agent:1\n  user:\n    token: ci:1:glcbt-64_JOBTOKEN\ncontexts:\n- name: g/agents:prod\n  context: {{cluster: gitlab, user: \"agent:1\"}}\n",
        api.url()
    );
    let r = status(home.path(), &yaml);
    r.assert_error(
        4,
        "cannot reach the Kubernetes API of context \"g/agents:prod\"",
        "",
    );
    assert!(!r.stderr.contains("JOBTOKEN"), "{}", r.stderr);
}
