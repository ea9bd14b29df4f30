//! `tag` end to end: the real binary against the real registry (open and
//! GitLab's token flow), checked with an independent client (testbed::oci),
//! and `--trigger --wait` on the full test bed.

use std::path::Path;

use crate::common::bed::{Bed, KS, NS, OCI, applied, configmap};
use crate::common::{Run, plugin, run, write};
use serde_json::{Value, json};
use testbed::oci::{ClientOptions, FLUX_CONFIG};
use testbed::registry::{Auth, FaultProxy, Registry, RegistryConfig, require_registry};

const REPO: &str = "group/project/manifests";

fn start(cfg: RegistryConfig) -> Option<Registry> {
    if !require_registry() {
        return None;
    }
    Some(Registry::start(cfg).expect("registry starts"))
}

/// A Flux artifact pushed by the independent client; its digest.
fn seed(reg: &Registry, opts: &ClientOptions, tag: &str, content: &str) -> String {
    let cm = configmap(content, "");
    testbed::oci::push_flux_artifact_with(
        &reg.base_url(),
        opts,
        REPO,
        tag,
        &[("cm.yaml", cm.as_bytes())],
        &[
            ("org.opencontainers.image.revision", "main@sha1:0123456789"),
            (
                "org.opencontainers.image.source",
                "https://gitlab.example.com/group/project",
            ),
        ],
    )
    .expect("push artifact")
}

/// What the independent client sees at `reference`: (digest, bytes), or None.
fn pulled(reg: &Registry, opts: &ClientOptions, reference: &str) -> Option<(String, Vec<u8>)> {
    testbed::oci::pull_manifest_with(&reg.base_url(), opts, REPO, reference)
        .ok()
        .map(|m| (m.digest, m.bytes))
}

fn url(reg: &Registry, rest: &str) -> String {
    format!("oci://{}/{REPO}{rest}", reg.host())
}

fn dotenv_of(path: &Path) -> std::collections::BTreeMap<String, String> {
    std::fs::read_to_string(path)
        .expect("dotenv written")
        .lines()
        .map(|l| {
            let (k, v) = l.split_once('=').expect("KEY=VALUE");
            (k.to_string(), v.to_string())
        })
        .collect()
}

#[test]
fn promotes_the_artifact_url_push_wrote_byte_for_byte() {
    let Some(reg) = start(RegistryConfig::default()) else {
        return;
    };
    let home = tempfile::tempdir().expect("home");
    let open = ClientOptions::default();
    // The real push, as the staging job runs it, gives ARTIFACT_URL.
    let src = home.path().join("deploy");
    write(&src.join("app.yaml"), &configmap("app", ""));
    let push_env = home.path().join("push.env");
    let r = run(plugin(home.path()).args([
        "push",
        src.to_str().expect("utf8"),
        &url(&reg, ":staging"),
        "--revision",
        "main@sha1:0123456789abcdef0123456789abcdef01234567",
        "--source",
        "https://gitlab.example.com/group/project",
        "--dotenv",
        push_env.to_str().expect("utf8"),
    ]));
    r.assert_ok();
    let pushed = dotenv_of(&push_env);
    let artifact_url = &pushed["ARTIFACT_URL"];
    let digest = &pushed["ARTIFACT_DIGEST"];
    assert_eq!(artifact_url, &url(&reg, &format!(":staging@{digest}")));
    let (_, staging_bytes) = pulled(&reg, &open, "staging").expect("staging");

    // Several new tags at once; JSON on stdout, the summary on stderr.
    let tag_env = home.path().join("tag.env");
    let r = run(plugin(home.path()).args([
        "tag",
        artifact_url,
        "production",
        "v1.0.0",
        "-o",
        "json",
        "--dotenv",
        tag_env.to_str().expect("utf8"),
    ]));
    r.assert_ok();
    for tag in ["production", "v1.0.0"] {
        let (d, bytes) = pulled(&reg, &open, tag).unwrap_or_else(|| panic!("{tag} written"));
        assert_eq!(&d, digest, "{tag} has the same digest");
        assert_eq!(bytes, staging_bytes, "{tag} holds the same bytes");
    }
    let report = r.json();
    assert_eq!(report["digest"], digest.as_str());
    assert_eq!(report["kind"], "flux");
    assert_eq!(report["config_media_type"], FLUX_CONFIG);
    assert_eq!(report["unchanged"], false);
    assert_eq!(report["from"], artifact_url.as_str());
    assert_eq!(
        report["url"],
        url(&reg, &format!(":production@{digest}")).as_str()
    );
    assert_eq!(
        report["results"],
        json!([
            {"tag": "production", "result": "tagged", "previous": null},
            {"tag": "v1.0.0", "result": "tagged", "previous": null},
        ])
    );
    assert!(
        r.stderr.starts_with(&format!(
            "tagged artifact oci://{}/{REPO}:production (also tagged v1.0.0)\n",
            reg.host()
        )),
        "{}",
        r.stderr
    );
    // The dotenv has push's keys, for the first new tag.
    let env = dotenv_of(&tag_env);
    let keys: Vec<&str> = env.keys().map(String::as_str).collect();
    let push_keys: Vec<&str> = pushed.keys().map(String::as_str).collect();
    assert_eq!(keys, push_keys);
    assert_eq!(
        env["ARTIFACT_URL"],
        url(&reg, &format!(":production@{digest}"))
    );
    assert_eq!(env["ARTIFACT_DIGEST"], *digest);
    assert_eq!(env["ARTIFACT_TAG"], "production");
    assert_eq!(env["ARTIFACT_TAGS"], "production,v1.0.0");
    assert_eq!(
        env["ARTIFACT_REVISION"],
        "main@sha1:0123456789abcdef0123456789abcdef01234567"
    );
    assert_eq!(env["ARTIFACT_SOURCE"], pushed["ARTIFACT_SOURCE"]);
    assert_eq!(env["ARTIFACT_UNCHANGED"], "false");

    // Again: every tag already points at it; nothing is written.
    let r = run(plugin(home.path()).args([
        "tag",
        artifact_url,
        "production",
        "v1.0.0",
        "-o",
        "yaml",
        "--dotenv",
        tag_env.to_str().expect("utf8"),
    ]));
    r.assert_ok();
    assert!(r.stdout.contains("unchanged: true"), "{}", r.stdout);
    assert!(
        r.stderr.starts_with(&format!(
            "unchanged: oci://{}/{REPO}:production already points at this artifact",
            reg.host()
        )),
        "{}",
        r.stderr
    );
    assert_eq!(dotenv_of(&tag_env)["ARTIFACT_UNCHANGED"], "true");

    // A tag that held another artifact is moved, and says from what.
    let other = seed(&reg, &open, "qa", "other");
    let r = run(plugin(home.path()).args(["tag", artifact_url, "qa", "production", "-o", "json"]));
    r.assert_ok();
    assert_eq!(
        r.json()["results"],
        json!([
            {"tag": "qa", "result": "tagged", "previous": other},
            {"tag": "production", "result": "unchanged", "previous": null},
        ])
    );
    assert_eq!(pulled(&reg, &open, "qa").expect("qa").0, *digest);
    assert!(
        r.stderr.contains(&format!(
            "  tags:     qa (was {}), production (unchanged)\n",
            &other[..19]
        )),
        "{}",
        r.stderr
    );
}

#[test]
fn by_digest_alone_or_by_tag_alone() {
    let Some(reg) = start(RegistryConfig::default()) else {
        return;
    };
    let home = tempfile::tempdir().expect("home");
    let open = ClientOptions::default();
    let first = seed(&reg, &open, "staging", "one");

    // A tag alone: what it points at now.
    let r = run(plugin(home.path()).args(["tag", &url(&reg, ":staging"), "a", "-o", "json"]));
    r.assert_ok();
    assert_eq!(r.json()["digest"], first.as_str());
    assert_eq!(
        r.json()["from"],
        url(&reg, &format!(":staging@{first}")).as_str()
    );
    assert_eq!(pulled(&reg, &open, "a").expect("a").0, first);

    // The digest alone: exactly it, wherever the tags went since.
    let second = seed(&reg, &open, "staging", "two");
    assert_ne!(first, second);
    let r = run(plugin(home.path()).args(["tag", &url(&reg, &format!("@{first}")), "b"]));
    r.assert_ok();
    assert_eq!(pulled(&reg, &open, "b").expect("b").0, first);
    assert_eq!(pulled(&reg, &open, "staging").expect("staging").0, second);
}

#[test]
fn a_moved_source_tag_is_refused_and_nothing_is_written() {
    let Some(reg) = start(RegistryConfig::default()) else {
        return;
    };
    let home = tempfile::tempdir().expect("home");
    let open = ClientOptions::default();
    let tested = seed(&reg, &open, "staging", "tested");
    let old_production = seed(&reg, &open, "production", "old");
    // A newer pipeline moved staging after this one tested it.
    let newer = seed(&reg, &open, "staging", "newer");
    let dotenv = home.path().join("tag.env");
    let r = run(plugin(home.path()).args([
        "tag",
        &url(&reg, &format!(":staging@{tested}")),
        "production",
        "fresh",
        "--dotenv",
        dotenv.to_str().expect("utf8"),
    ]));
    r.assert_error(
        1,
        &format!("staging no longer points at {tested}"),
        &format!("oci://{}/{REPO}@{tested}", reg.host()),
    );
    assert!(
        r.stderr.contains(&format!("it points at {newer}")),
        "{}",
        r.stderr
    );
    assert!(r.stdout.is_empty(), "{}", r.stdout);
    assert!(!dotenv.exists(), "no dotenv after a refusal");
    assert_eq!(
        pulled(&reg, &open, "production").expect("production").0,
        old_production
    );
    assert!(pulled(&reg, &open, "fresh").is_none(), "no new tag written");

    // The digest alone promotes it anyway, as the hint says.
    run(plugin(home.path()).args(["tag", &url(&reg, &format!("@{tested}")), "production"]))
        .assert_ok();
    assert_eq!(
        pulled(&reg, &open, "production").expect("production").0,
        tested
    );
}

#[test]
fn missing_sources_are_clear_errors() {
    let Some(reg) = start(RegistryConfig::default()) else {
        return;
    };
    let home = tempfile::tempdir().expect("home");
    let open = ClientOptions::default();
    let digest = seed(&reg, &open, "staging", "x");
    let absent = format!("sha256:{}", "0".repeat(64));
    for (reference, what) in [
        (url(&reg, ":nope"), "has no tag nope".to_string()),
        (
            url(&reg, &format!("@{absent}")),
            format!("has no manifest {absent}"),
        ),
        (
            url(&reg, &format!(":staging@{absent}")),
            format!("has no manifest {absent}"),
        ),
        (
            format!("oci://{}/group/unknown:staging", reg.host()),
            "has no tag staging".to_string(),
        ),
    ] {
        let r = run(plugin(home.path()).args(["tag", &reference, "production"]));
        r.assert_error(2, "no such artifact: ", "ARTIFACT_URL");
        assert!(r.stderr.contains(&what), "{reference}: {}", r.stderr);
    }
    assert!(pulled(&reg, &open, "production").is_none());
    assert_eq!(pulled(&reg, &open, "staging").expect("staging").0, digest);
}

#[test]
fn only_flux_artifacts_and_helm_charts_unless_any_media_type() {
    let Some(reg) = start(RegistryConfig::default()) else {
        return;
    };
    let home = tempfile::tempdir().expect("home");
    let base = reg.base_url();
    // A container image: OCI image config, one layer.
    let image = testbed::oci::block_on(async {
        testbed::oci::Client::new(&base, &ClientOptions::default())
            .expect("client")
            .push_single_layer(
                REPO,
                "image",
                (
                    "application/vnd.oci.image.config.v1+json",
                    b"{\"architecture\":\"amd64\"}",
                ),
                ("application/vnd.oci.image.layer.v1.tar+gzip", b"layer"),
                &[],
            )
            .await
            .expect("push image")
    });
    let r = run(plugin(home.path()).args(["tag", &url(&reg, ":image"), "production"]));
    r.assert_error(
        2,
        "is not a Flux artifact or a Helm chart: its config is application/vnd.oci.image.config.v1+json",
        "--any-media-type",
    );
    assert!(pulled(&reg, &ClientOptions::default(), "production").is_none());

    let r = run(plugin(home.path()).args([
        "tag",
        &url(&reg, ":image"),
        "production",
        "--any-media-type",
        "-o",
        "json",
    ]));
    r.assert_ok();
    assert_eq!(r.json()["kind"], "other");
    assert_eq!(
        pulled(&reg, &ClientOptions::default(), "production")
            .expect("production")
            .0,
        image
    );

    // A Helm chart, as push --helm-chart makes them: tagged as is.
    let chart =
        testbed::oci::push_helm_chart(&base, "group/project/charts", "demo", "1.2.3", &[], &[])
            .expect("push chart");
    let r = run(plugin(home.path()).args([
        "tag",
        &format!("oci://{}/group/project/charts:1.2.3", reg.host()),
        "stable",
        "-o",
        "json",
    ]));
    r.assert_ok();
    assert_eq!(r.json()["kind"], "helm-chart");
    assert!(r.stderr.starts_with("tagged Helm chart"), "{}", r.stderr);
    let stable =
        testbed::oci::pull_manifest(&base, "group/project/charts", "stable").expect("stable");
    assert_eq!(stable.digest, chart);
}

#[test]
fn bad_references_are_usage_errors_before_any_request() {
    // Nothing listens on port 1: any request would be exit 4.
    let home = tempfile::tempdir().expect("home");
    let d = format!("sha256:{}", "a".repeat(64));
    let cases: Vec<(Vec<String>, &str, &str)> = vec![
        (
            vec!["oci://127.0.0.1:1/group/app".into(), "production".into()],
            "names no artifact",
            "ARTIFACT_URL",
        ),
        (
            vec!["127.0.0.1:1/group/app:v1".into(), "production".into()],
            "does not start with oci://",
            "oci://",
        ),
        (
            vec![
                "oci://127.0.0.1:1/group/app@sha256:abc".into(),
                "production".into(),
            ],
            "bad digest",
            "sha256:",
        ),
        (
            vec![format!("oci://127.0.0.1:1/group/app@{d}"), ".bad".into()],
            "invalid tag \".bad\"",
            "1 to 128 characters",
        ),
        (
            vec![
                format!("oci://127.0.0.1:1/group/app@{d}"),
                "oci://127.0.0.1:1/group/app:production".into(),
            ],
            "is a reference, not a tag",
            "give just the tag",
        ),
        (
            vec![
                format!("oci://127.0.0.1:1/group/app@{d}"),
                "oci://127.0.0.1:1/group/other:production".into(),
            ],
            "is a reference, not a tag",
            "own repository",
        ),
        (
            vec![
                format!("oci://127.0.0.1:1/group/app@{d}"),
                "production".into(),
                "--dependents".into(),
            ],
            "--dependents and -A only apply with --trigger or --wait",
            "--trigger",
        ),
    ];
    for (args, message, hint) in cases {
        let r: Run = run(plugin(home.path()).arg("tag").args(&args));
        r.assert_error(2, message, hint);
        assert!(r.stdout.is_empty(), "{args:?}: {}", r.stdout);
    }
    // No NEW_TAG at all: clap's usage error.
    let r = run(plugin(home.path()).args(["tag", &format!("oci://127.0.0.1:1/group/app@{d}")]));
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("NEW_TAG"), "{}", r.stderr);
}

#[test]
fn gitlab_token_flow_with_the_job_token() {
    let Some(reg) = start(RegistryConfig {
        auth: Auth::gitlab_ci("job-token-secret"),
        ..Default::default()
    }) else {
        return;
    };
    let home = tempfile::tempdir().expect("home");
    let opts = ClientOptions::basic("gitlab-ci-token", "job-token-secret");
    let digest = seed(&reg, &opts, "staging", "app");
    let ci = |cmd: &mut std::process::Command, password: &str| {
        cmd.env("GITLAB_CI", "true")
            .env("CI_REGISTRY", reg.host())
            .env("CI_REGISTRY_USER", "gitlab-ci-token")
            .env("CI_REGISTRY_PASSWORD", password);
    };
    let artifact_url = url(&reg, &format!(":staging@{digest}"));
    let mut cmd = plugin(home.path());
    cmd.args(["tag", &artifact_url, "production", "-o", "json", "-vv"]);
    ci(&mut cmd, "job-token-secret");
    let r = run(&mut cmd);
    r.assert_ok();
    assert!(
        !r.stderr.contains("job-token-secret") && !r.stdout.contains("job-token-secret"),
        "the secret leaked"
    );
    assert_eq!(
        r.json()["credentials"],
        "CI_REGISTRY_USER/CI_REGISTRY_PASSWORD"
    );
    assert_eq!(
        pulled(&reg, &opts, "production").expect("production").0,
        digest
    );
    let scoped = reg.token_requests().iter().any(|t| {
        t.username.as_deref() == Some("gitlab-ci-token")
            && t.scopes
                .iter()
                .any(|s| s.contains(REPO) && s.contains("push"))
    });
    assert!(scoped, "{:?}", reg.token_requests());

    // A wrong job token: exit 4 naming the source, nothing written.
    let mut cmd = plugin(home.path());
    cmd.args(["tag", &artifact_url, "qa"]);
    ci(&mut cmd, "wrong");
    let r = run(&mut cmd);
    r.assert_error(4, "CI_REGISTRY_USER/CI_REGISTRY_PASSWORD", "write_registry");
    assert!(!r.stderr.contains("wrong"), "{}", r.stderr);
    assert!(pulled(&reg, &opts, "qa").is_none());
}

#[test]
fn retries_deadline_and_tls_as_push() {
    let Some(reg) = start(RegistryConfig::default()) else {
        return;
    };
    let home = tempfile::tempdir().expect("home");
    let open = ClientOptions::default();
    let digest = seed(&reg, &open, "staging", "app");
    let proxy = FaultProxy::start(&reg).expect("proxy");
    let via_proxy = format!("oci://{}/{REPO}:staging@{digest}", proxy.host());

    // A server error on the manifest PUT is retried.
    proxy.fail_next_matching("PUT", "/manifests/", 1, 500);
    run(plugin(home.path()).args(["tag", &via_proxy, "a"])).assert_ok();
    assert_eq!(
        proxy.requests().iter().filter(|r| r.status == 500).count(),
        1
    );
    assert_eq!(pulled(&reg, &open, "a").expect("a").0, digest);

    // A registry that keeps failing: exit 4, no tag.
    proxy.clear();
    proxy.fail_next_matching("PUT", "/manifests/", 100, 503);
    run(plugin(home.path()).args(["tag", &via_proxy, "b"])).assert_error(
        4,
        "kept failing",
        "try again later",
    );
    assert!(pulled(&reg, &open, "b").is_none());

    // A Retry-After beyond --timeout is exit 3, not a hang.
    proxy.clear();
    proxy.throttle_next(1, 30);
    run(plugin(home.path()).args(["tag", &via_proxy, "c", "--timeout", "3s"])).assert_error(
        3,
        "asked to retry after 30s, beyond --timeout 3s",
        "Retry-After",
    );
    assert!(pulled(&reg, &open, "c").is_none());

    // HTTPS with a private CA: refused without --ca-file, fine with it.
    let Some(tls) = start(RegistryConfig {
        tls: true,
        ..Default::default()
    }) else {
        return;
    };
    let ca = tls.ca_path().expect("CA");
    let tls_opts = ClientOptions {
        ca_pem: tls.ca_pem(),
        ..Default::default()
    };
    let digest = seed(&tls, &tls_opts, "staging", "app");
    let reference = url(&tls, &format!(":staging@{digest}"));
    run(plugin(home.path()).args(["tag", &reference, "production"])).assert_error(
        4,
        "unreachable",
        "--ca-file",
    );
    run(plugin(home.path()).args([
        "tag",
        &reference,
        "production",
        "--ca-file",
        ca.to_str().expect("utf8"),
    ]))
    .assert_ok();
    assert_eq!(
        pulled(&tls, &tls_opts, "production").expect("production").0,
        digest
    );
}

#[test]
fn trigger_and_wait_deploy_the_promoted_digest() {
    let Some(bed) = Bed::start() else { return };
    let repo = "demo/apps";
    let old = bed.push(repo, "production", &[("old.yaml", &configmap("old", ""))]);
    let tested = bed.push(repo, "staging", &[("app.yaml", &configmap("app", ""))]);
    bed.create_source(NS, "production", repo, json!({"tag": "production"}));
    bed.create_ks(NS, "production", "production", json!({}));
    bed.until(KS, "Kustomization", NS, "production", |o| applied(o, &old));

    let junit = bed.dir.path().join("flux-wait.xml");
    let r = run(bed.plugin().args([
        "tag",
        &bed.artifact(repo, "staging", &tested),
        "production",
        "--trigger",
        "--wait",
        "--wait-timeout",
        "30s",
        "--junit",
        junit.to_str().expect("utf8"),
    ]));
    r.assert_ok();
    assert!(r.stderr.contains("tagged artifact"), "{}", r.stderr);
    assert!(r.stderr.contains("triggered"), "{}", r.stderr);
    // The OCIRepository following `production` is Ready at that digest, and
    // its Kustomization applied it.
    let source = bed
        .store
        .get(OCI, "OCIRepository", NS, "production")
        .expect("OCIRepository");
    assert_eq!(
        source
            .pointer("/status/artifact/revision")
            .and_then(Value::as_str),
        Some(format!("production@{tested}").as_str()),
        "{source:#}"
    );
    let ready = source
        .pointer("/status/conditions")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .any(|c| c["type"] == "Ready" && c["status"] == "True");
    assert!(ready, "{source:#}");
    let ks = bed
        .store
        .get(KS, "Kustomization", NS, "production")
        .expect("Kustomization");
    assert!(applied(&ks, &tested), "{ks:#}");
    let xml = std::fs::read_to_string(&junit).expect("JUnit report");
    assert!(xml.contains("Kustomization/production"), "{xml}");
}
