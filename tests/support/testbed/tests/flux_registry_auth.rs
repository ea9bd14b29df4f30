//! Scenario tests: OCIRepository pulls from registries that need
//! credentials (GitLab-style Bearer token flow) and TLS.

use std::time::Duration;

use base64::Engine;
use serde_json::json;
use testbed::apiserver::Store;
use testbed::flux::{SimConfig, Simulator, wait};
use testbed::oci::ClientOptions;
use testbed::registry::{Auth, Registry, RegistryConfig};

const OCI: &str = "source.toolkit.fluxcd.io/v1";

fn pull_secret(store: &Store, host: &str, user: &str, pass: &str) {
    let b64 = base64::engine::general_purpose::STANDARD;
    let cfg = json!({"auths": {host: {"auth": b64.encode(format!("{user}:{pass}"))}}});
    store
        .create(json!({
            "apiVersion": "v1", "kind": "Secret", "type": "kubernetes.io/dockerconfigjson",
            "metadata": {"name": "regcred", "namespace": "default"},
            "data": {".dockerconfigjson": b64.encode(cfg.to_string())},
        }))
        .expect("secret");
}

#[test]
fn token_auth_over_tls_with_pull_secret() {
    if !testbed::registry::require_registry() {
        return;
    }
    let registry = Registry::start(RegistryConfig {
        auth: Auth::gitlab_ci("job-token"),
        tls: true,
        ..RegistryConfig::default()
    })
    .expect("registry");
    let opts = ClientOptions {
        ca_pem: registry.ca_pem(),
        ..ClientOptions::basic("gitlab-ci-token", "job-token")
    };
    let digest = testbed::oci::push_flux_artifact_with(
        &registry.base_url(),
        &opts,
        "group/project/manifests",
        "main",
        &[(
            "cm.yaml",
            b"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\n",
        )],
        &[("org.opencontainers.image.revision", "main@sha1:abc")],
    )
    .expect("push with token auth");
    // Anonymous pulls are refused by the registry.
    assert!(
        testbed::oci::pull_manifest_with(
            &registry.base_url(),
            &ClientOptions {
                ca_pem: registry.ca_pem(),
                ..Default::default()
            },
            "group/project/manifests",
            "main",
        )
        .is_err()
    );

    let store = Store::new();
    let _sim = Simulator::start(
        store.clone(),
        SimConfig {
            ca_pem: registry.ca_pem(),
            requeue_delay: Duration::from_millis(200),
            ..SimConfig::default()
        },
    )
    .expect("sim");
    store
        .create(json!({
            "apiVersion": OCI, "kind": "OCIRepository",
            "metadata": {"name": "private", "namespace": "default"},
            "spec": {
                "url": format!("oci://{}/group/project/manifests", registry.host()),
                "ref": {"tag": "main"}, "interval": "1m",
                "secretRef": {"name": "regcred"},
            },
        }))
        .expect("create");
    // Without the Secret the pull fails...
    let obj = wait::wait_for(
        &store,
        OCI,
        "OCIRepository",
        "default",
        "private",
        Duration::from_secs(10),
        |o| wait::ready_is(o, "False", "OCIArtifactPullFailed"),
    )
    .unwrap_or_else(|e| panic!("{e:#}"));
    let (_, _, msg) = wait::ready(&obj).unwrap_or_default();
    assert!(msg.contains("regcred"), "{msg}");
    // ...and succeeds on the retry once it exists.
    pull_secret(&store, &registry.host(), "gitlab-ci-token", "job-token");
    let obj = wait::wait_for(
        &store,
        OCI,
        "OCIRepository",
        "default",
        "private",
        Duration::from_secs(10),
        |o| wait::ready_is(o, "True", "Succeeded"),
    )
    .unwrap_or_else(|e| panic!("{e:#}"));
    assert_eq!(
        obj["status"]["artifact"]["revision"],
        json!(format!("main@{digest}"))
    );
    assert_eq!(
        obj["status"]["artifact"]["metadata"]["org.opencontainers.image.revision"],
        "main@sha1:abc"
    );
    assert!(!registry.token_requests().is_empty());
}
