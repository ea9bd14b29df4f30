//! `gitlab-flux-sandbox`: a local stand-in for a GitLab registry plus a
//! Flux-enabled cluster, for trying the plugin and for `make demo`.
//!
//! It starts the real distribution registry (open mode), the Kubernetes API
//! emulator and the Flux simulator, creates a sample OCIRepository and
//! Kustomization `flux-system/apps` on `oci://<registry>/demo/apps:latest`,
//! pushes an initial artifact, writes `DIR/kubeconfig` and `DIR/env`, and
//! runs until Ctrl-C or SIGTERM.
//!
//! ```text
//! cargo run -p testbed --bin gitlab-flux-sandbox -- --dir /tmp/sandbox [--ready-file PATH] [--real]
//! ```
//!
//! `--real` (`make sandbox REAL=1`) runs the same sample on a real cluster
//! instead (`testbed::real`: etcd, kube-apiserver, kube-controller-manager,
//! the four Flux controllers; built by `make realbed`).

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, bail};
use base64::Engine;
use serde_json::json;
use testbed::apiserver::{ApiServer, ApiServerConfig, Store};
use testbed::flux::{SimConfig, Simulator, wait};
use testbed::registry::{Registry, RegistryConfig};

const USAGE: &str = "usage: gitlab-flux-sandbox --dir DIR [--ready-file PATH] [--real]

Starts a registry, a Kubernetes API emulator and a Flux simulator on loopback
(--real: a real cluster: etcd, kube-apiserver and the Flux controllers, built by
`make realbed`), writes DIR/kubeconfig (context `sandbox`) and DIR/env, and runs
until Ctrl-C.";

const WEBHOOK_TOKEN: &str = "sandbox-webhook-token";

struct Args {
    dir: PathBuf,
    ready_file: Option<PathBuf>,
    real: bool,
}

fn parse_args() -> anyhow::Result<Args> {
    let mut dir = None;
    let mut ready_file = None;
    let mut real = false;
    let mut it = std::env::args().skip(1);
    while let Some(a) = it.next() {
        let (flag, inline) = match a.split_once('=') {
            Some((f, v)) => (f.to_string(), Some(v.to_string())),
            None => (a.clone(), None),
        };
        let mut value = |name: &str| -> anyhow::Result<PathBuf> {
            inline
                .clone()
                .or_else(|| it.next())
                .map(PathBuf::from)
                .with_context(|| format!("{name} needs a value\n\n{USAGE}"))
        };
        match flag.as_str() {
            "--dir" => dir = Some(value("--dir")?),
            "--ready-file" => ready_file = Some(value("--ready-file")?),
            "--real" => real = true,
            "-h" | "--help" => {
                println!("{USAGE}");
                std::process::exit(0);
            }
            other => bail!("unknown argument '{other}'\n\n{USAGE}"),
        }
    }
    Ok(Args {
        dir: dir.with_context(|| format!("--dir is required\n\n{USAGE}"))?,
        ready_file,
        real,
    })
}

const SAMPLE_APP: &str = "apiVersion: apps/v1
kind: Deployment
metadata:
  name: podinfo
spec:
  replicas: 1
  selector:
    matchLabels:
      app: podinfo
  template:
    metadata:
      labels:
        app: podinfo
    spec:
      containers:
      - name: podinfo
        image: ghcr.io/stefanprodan/podinfo:6.7.1
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: podinfo-config
data:
  greeting: hello from the sandbox
";

/// The sample objects: namespaces, OCIRepository + Kustomization
/// `flux-system/apps`, the webhook Secret and a gitlab Receiver.
fn sample_objects(registry: &Registry) -> Vec<serde_json::Value> {
    let b64 = base64::engine::general_purpose::STANDARD;
    vec![
        json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "flux-system"}}),
        json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "apps"}}),
        json!({
            "apiVersion": "source.toolkit.fluxcd.io/v1", "kind": "OCIRepository",
            "metadata": {"name": "apps", "namespace": "flux-system"},
            "spec": {"url": format!("oci://{}/demo/apps", registry.host()), "ref": {"tag": "latest"},
                     "insecure": true, "interval": "1m"},
        }),
        json!({
            "apiVersion": "kustomize.toolkit.fluxcd.io/v1", "kind": "Kustomization",
            "metadata": {"name": "apps", "namespace": "flux-system"},
            // No `wait`: nothing runs pods on the real cluster (no kubelet).
            "spec": {"interval": "10m", "retryInterval": "5s", "path": "./", "prune": true,
                     "targetNamespace": "apps",
                     "sourceRef": {"kind": "OCIRepository", "name": "apps"}},
        }),
        json!({
            "apiVersion": "v1", "kind": "Secret", "type": "Opaque",
            "metadata": {"name": "webhook-token", "namespace": "flux-system"},
            "data": {"token": b64.encode(WEBHOOK_TOKEN)},
        }),
        json!({
            "apiVersion": "notification.toolkit.fluxcd.io/v1", "kind": "Receiver",
            "metadata": {"name": "gitlab", "namespace": "flux-system"},
            "spec": {"type": "gitlab", "secretRef": {"name": "webhook-token"},
                     "resources": [{"kind": "OCIRepository", "name": "apps"}]},
        }),
    ]
}

/// The sample artifact (a ConfigMap only: the real cluster runs no pods).
const REAL_SAMPLE_APP: &str = "apiVersion: v1
kind: ConfigMap
metadata:
  name: podinfo-config
data:
  greeting: hello from the real sandbox
";

fn create_objects(store: &Store, registry: &Registry) -> anyhow::Result<()> {
    for ns in ["flux-system", "apps"] {
        store
            .create(json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}}))
            .map_err(|e| anyhow::anyhow!("namespace {ns}: {e}"))?;
    }
    store
        .create(json!({
            "apiVersion": "source.toolkit.fluxcd.io/v1", "kind": "OCIRepository",
            "metadata": {"name": "apps", "namespace": "flux-system"},
            "spec": {
                "url": format!("oci://{}/demo/apps", registry.host()),
                "ref": {"tag": "latest"},
                "insecure": true,
                "interval": "1m",
            },
        }))
        .map_err(|e| anyhow::anyhow!("OCIRepository: {e}"))?;
    store
        .create(json!({
            "apiVersion": "kustomize.toolkit.fluxcd.io/v1", "kind": "Kustomization",
            "metadata": {"name": "apps", "namespace": "flux-system"},
            "spec": {
                "interval": "10m",
                "path": "./",
                "prune": true,
                "wait": true,
                "targetNamespace": "apps",
                "sourceRef": {"kind": "OCIRepository", "name": "apps"},
            },
        }))
        .map_err(|e| anyhow::anyhow!("Kustomization: {e}"))?;
    let b64 = base64::engine::general_purpose::STANDARD;
    store
        .create(json!({
            "apiVersion": "v1", "kind": "Secret", "type": "Opaque",
            "metadata": {"name": "webhook-token", "namespace": "flux-system"},
            "data": {"token": b64.encode(WEBHOOK_TOKEN)},
        }))
        .map_err(|e| anyhow::anyhow!("Secret: {e}"))?;
    store
        .create(json!({
            "apiVersion": "notification.toolkit.fluxcd.io/v1", "kind": "Receiver",
            "metadata": {"name": "gitlab", "namespace": "flux-system"},
            "spec": {
                "type": "gitlab",
                "secretRef": {"name": "webhook-token"},
                "resources": [{"kind": "OCIRepository", "name": "apps"}],
            },
        }))
        .map_err(|e| anyhow::anyhow!("Receiver: {e}"))?;
    Ok(())
}

fn write_file(path: &Path, content: &str) -> anyhow::Result<()> {
    std::fs::write(path, content).with_context(|| format!("writing {}", path.display()))
}

fn shell_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

fn wait_for_signal() -> anyhow::Result<()> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    rt.block_on(async {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
        tokio::select! {
            r = tokio::signal::ctrl_c() => r?,
            _ = term.recv() => {}
        }
        anyhow::Ok(())
    })
}

fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_writer(std::io::stderr)
        .init();
    let args = parse_args()?;
    std::fs::create_dir_all(&args.dir)
        .with_context(|| format!("creating {}", args.dir.display()))?;
    let dir = args.dir.canonicalize()?;
    if let Some(rf) = &args.ready_file {
        let _ = std::fs::remove_file(rf);
    }
    if args.real {
        return run_real(&args, &dir);
    }

    let registry = Registry::start(RegistryConfig::default()).context("starting the registry")?;
    let api = ApiServer::start(ApiServerConfig::default()).context("starting the API emulator")?;
    let store = api.store();
    let sim = Simulator::start(
        store.clone(),
        SimConfig {
            registry_insecure_hosts: vec![registry.host()],
            ..SimConfig::default()
        },
    )
    .context("starting the Flux simulator")?;

    let digest = testbed::oci::push_flux_artifact(
        &registry.base_url(),
        "demo/apps",
        "latest",
        &[("apps.yaml", SAMPLE_APP.as_bytes())],
        &[
            (
                "org.opencontainers.image.source",
                "https://gitlab.example.com/demo/apps",
            ),
            (
                "org.opencontainers.image.revision",
                "main@sha1:0000000000000000000000000000000000000000",
            ),
        ],
    )
    .context("pushing the initial artifact")?;
    create_objects(&store, &registry)?;
    let revision = format!("latest@{digest}");
    wait::wait_for(
        &store,
        "kustomize.toolkit.fluxcd.io/v1",
        "Kustomization",
        "flux-system",
        "apps",
        Duration::from_secs(60),
        |o| {
            o.pointer("/status/lastAppliedRevision")
                .and_then(|v| v.as_str())
                == Some(revision.as_str())
        },
    )
    .context("waiting for the sample Kustomization")?;
    let webhook_path = wait::wait_for(
        &store,
        "notification.toolkit.fluxcd.io/v1",
        "Receiver",
        "flux-system",
        "gitlab",
        Duration::from_secs(10),
        |o| o.pointer("/status/webhookPath").is_some(),
    )?
    .pointer("/status/webhookPath")
    .and_then(|v| v.as_str())
    .unwrap_or_default()
    .to_string();
    let webhook_url = format!("{}{webhook_path}", sim.receiver_url());

    let kubeconfig = dir.join("kubeconfig");
    write_file(&kubeconfig, &api.kubeconfig("sandbox", Some("flux-system")))?;
    let env = format!(
        "export KUBECONFIG={}\nexport REGISTRY={}\nexport SANDBOX_REGISTRY_URL={}\nexport SANDBOX_WEBHOOK_URL={}\nexport SANDBOX_WEBHOOK_TOKEN={}\n",
        shell_quote(&kubeconfig.display().to_string()),
        shell_quote(&registry.host()),
        shell_quote(&registry.base_url()),
        shell_quote(&webhook_url),
        shell_quote(WEBHOOK_TOKEN),
    );
    let env_path = dir.join("env");
    write_file(&env_path, &env)?;

    println!("gitlab-flux sandbox is up");
    println!("  registry:     {} (open, plain HTTP)", registry.base_url());
    println!("  API server:   {}", api.url());
    println!("  webhook:      {webhook_url} (type gitlab, X-Gitlab-Token: {WEBHOOK_TOKEN})");
    println!(
        "  sample:       OCIRepository + Kustomization flux-system/apps on oci://{}/demo/apps:latest",
        registry.host()
    );
    println!("                applied revision {revision}");
    println!();
    println!("Point the plugin and kubectl at it:");
    println!("  source {}", env_path.display());
    println!("  kubectl get kustomizations,ocirepositories -n flux-system");
    println!(
        "  kubectl gitlab-flux ...   # push to oci://$REGISTRY/demo/apps with --insecure/plain HTTP"
    );
    println!();
    println!("Ctrl-C to stop.");

    if let Some(rf) = &args.ready_file {
        write_file(rf, &env)?;
    }
    let res = wait_for_signal();
    println!("stopping the sandbox");
    if let Some(rf) = &args.ready_file {
        let _ = std::fs::remove_file(rf);
    }
    drop(sim);
    drop(api);
    drop(registry);
    res
}

fn write_env(
    dir: &Path,
    kubeconfig: &Path,
    registry: &Registry,
    webhook_url: &str,
) -> anyhow::Result<(PathBuf, String)> {
    let env = format!(
        "export KUBECONFIG={}\nexport REGISTRY={}\nexport SANDBOX_REGISTRY_URL={}\nexport SANDBOX_WEBHOOK_URL={}\nexport SANDBOX_WEBHOOK_TOKEN={}\n",
        shell_quote(&kubeconfig.display().to_string()),
        shell_quote(&registry.host()),
        shell_quote(&registry.base_url()),
        shell_quote(webhook_url),
        shell_quote(WEBHOOK_TOKEN),
    );
    let env_path = dir.join("env");
    write_file(&env_path, &env)?;
    Ok((env_path, env))
}

/// `--real`: the sample on a real cluster.
fn run_real(args: &Args, dir: &Path) -> anyhow::Result<()> {
    let cluster = testbed::real::RealCluster::start(testbed::real::RealConfig::default())
        .context("starting the real cluster (make realbed builds it)")?;
    let registry = cluster.registry();
    let digest = testbed::oci::push_flux_artifact(
        &registry.base_url(),
        "demo/apps",
        "latest",
        &[("apps.yaml", REAL_SAMPLE_APP.as_bytes())],
        &[
            (
                "org.opencontainers.image.source",
                "https://gitlab.example.com/demo/apps",
            ),
            (
                "org.opencontainers.image.revision",
                "main@sha1:0000000000000000000000000000000000000000",
            ),
        ],
    )
    .context("pushing the initial artifact")?;
    for obj in sample_objects(registry) {
        cluster
            .apply(&obj)
            .with_context(|| format!("creating {}", obj["kind"]))?;
    }
    let revision = format!("latest@{digest}");
    let deadline = std::time::Instant::now() + Duration::from_secs(90);
    let (mut applied, mut webhook_path) = (false, None);
    while std::time::Instant::now() < deadline && !(applied && webhook_path.is_some()) {
        applied = cluster
            .get(
                "kustomize.toolkit.fluxcd.io/v1",
                "Kustomization",
                "flux-system",
                "apps",
            )
            .and_then(|o| {
                o.pointer("/status/lastAppliedRevision")
                    .and_then(|v| v.as_str())
                    .map(|r| r == revision)
            })
            .unwrap_or(false);
        webhook_path = cluster
            .get(
                "notification.toolkit.fluxcd.io/v1",
                "Receiver",
                "flux-system",
                "gitlab",
            )
            .and_then(|o| {
                o.pointer("/status/webhookPath")
                    .and_then(|v| v.as_str())
                    .map(str::to_string)
            });
        std::thread::sleep(Duration::from_millis(300));
    }
    if !applied {
        bail!(
            "the sample Kustomization did not apply {revision}:\n{}",
            cluster.log_tail("kustomize-controller", 20)
        );
    }
    let webhook_url = format!(
        "{}{}",
        cluster.receiver_url(),
        webhook_path.unwrap_or_default()
    );
    let kubeconfig = dir.join("kubeconfig");
    write_file(
        &kubeconfig,
        &cluster.admin_kubeconfig("sandbox", Some("flux-system")),
    )?;
    let (env_path, env) = write_env(dir, &kubeconfig, registry, &webhook_url)?;

    println!(
        "gitlab-flux sandbox is up on a REAL cluster ({}), started in {:.1} s",
        cluster.describe(),
        cluster.started_in.as_secs_f64()
    );
    println!("  registry:     {} (open, plain HTTP)", registry.base_url());
    println!(
        "  API server:   {} (etcd, kube-apiserver, kube-controller-manager: {})",
        cluster.server(),
        cluster.controller_manager
    );
    println!("  controllers:  {}", cluster.controllers.join(", "));
    println!("  webhook:      {webhook_url} (type gitlab, X-Gitlab-Token: {WEBHOOK_TOKEN})");
    println!("  logs:         {}", cluster.dir().join("logs").display());
    println!(
        "  sample:       OCIRepository + Kustomization flux-system/apps, applied revision {revision}"
    );
    println!();
    println!("Point the plugin and kubectl at it:");
    println!("  source {}", env_path.display());
    println!(
        "  {} get kustomizations,ocirepositories -n flux-system",
        cluster.kubectl_path().display()
    );
    println!();
    println!("Ctrl-C to stop.");
    if let Some(rf) = &args.ready_file {
        write_file(rf, &env)?;
    }
    let res = wait_for_signal();
    println!("stopping the sandbox");
    if let Some(rf) = &args.ready_file {
        let _ = std::fs::remove_file(rf);
    }
    drop(cluster);
    res
}
