//! Scenario 3: status at scale — N OCIRepositories + N Kustomizations
//! (default 1,000 each) in 100 namespaces, brought to Ready by the Flux
//! simulator, then `status -A` and `wait -A` on all of them against
//! `kubectl get kustomizations -A` (and, for reference, kubectl reading the
//! same three kinds, and `kubectl wait --all -A`).

use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use serde_json::{Value, json};
use testbed::apiserver::{ApiServer, ApiServerConfig};
use testbed::flux::{SimConfig, Simulator};
use testbed::registry::{Registry, RegistryConfig};

use crate::Ctx;
use crate::measure::{self, Measured};
use crate::report::{Goal, Row};

const OCI: &str = "source.toolkit.fluxcd.io/v1";
const KS: &str = "kustomize.toolkit.fluxcd.io/v1";
const REPO: &str = "bench/fleet";
/// The goal: peak RSS at most 40 MB (decimal), in MiB as RSS is reported.
const RSS_GOAL_MIB: f64 = 40e6 / 1_048_576.0;

fn ms(m: &Measured) -> f64 {
    m.wall.as_secs_f64() * 1000.0
}

fn mib(m: &Measured) -> f64 {
    m.max_rss_kib as f64 / 1024.0
}

fn lines(m: &Measured) -> usize {
    m.stdout.lines().count()
}

/// The running scale bed (the simulator already stopped).
pub struct ScaleBed {
    pub registry: Registry,
    pub api: ApiServer,
    pub namespaces: usize,
    pub digest: String,
    /// Seconds the simulator needed to bring everything to Ready.
    pub setup_s: f64,
}

fn scale_from_env() -> usize {
    std::env::var("BENCH_SCALE")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1000)
        .max(1)
}

/// Create `total` OCIRepositories + Kustomizations in up to 100
/// namespaces, all on one artifact, and let the simulator apply them.
pub fn setup(total: usize) -> anyhow::Result<ScaleBed> {
    let namespaces = total.min(100);
    let per_ns = total.div_ceil(namespaces);
    let registry = Registry::start(RegistryConfig::default()).context("registry")?;
    let api = ApiServer::start(ApiServerConfig::default()).context("API emulator")?;
    let store = api.store();
    let digest = testbed::oci::push_flux_artifact(
        &registry.base_url(),
        REPO,
        "latest",
        &[(
            "cm.yaml",
            b"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: fleet\ndata:\n  key: value\n",
        )],
        &[(
            "org.opencontainers.image.revision",
            "main@sha1:0123456789abcdef0123456789abcdef01234567",
        )],
    )?;
    let e = |e: testbed::apiserver::StoreError| anyhow::anyhow!("{e}");
    let setup = Instant::now();
    let sim = Simulator::start(
        store.clone(),
        SimConfig {
            registry_insecure_hosts: vec![registry.host()],
            progress_delay: Duration::from_millis(10),
            ..SimConfig::default()
        },
    )?;
    let mut created = 0;
    for t in 0..namespaces {
        let ns = format!("team-{t:03}");
        store
            .create(json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}}))
            .map_err(e)?;
        for j in 0..per_ns {
            if created == total {
                break;
            }
            created += 1;
            let name = format!("app-{j}");
            store
                .create(json!({
                    "apiVersion": OCI, "kind": "OCIRepository",
                    "metadata": {"name": name, "namespace": ns},
                    "spec": {"url": format!("oci://{}/{REPO}", registry.host()),
                             "ref": {"tag": "latest"}, "interval": "60m", "insecure": true},
                }))
                .map_err(e)?;
            store
                .create(json!({
                    "apiVersion": KS, "kind": "Kustomization",
                    "metadata": {"name": name, "namespace": ns},
                    "spec": {"interval": "60m", "path": "./", "prune": true,
                             "targetNamespace": ns,
                             "sourceRef": {"kind": "OCIRepository", "name": name}},
                }))
                .map_err(e)?;
        }
    }
    let deadline = Instant::now() + Duration::from_secs(1800);
    let mut last_report = Instant::now();
    loop {
        let done = store
            .list(KS, "Kustomization", None)
            .iter()
            .filter(|o| {
                o.pointer("/status/lastAppliedRevision")
                    .and_then(Value::as_str)
                    .is_some_and(|r| r.ends_with(&digest))
            })
            .count();
        if done == total {
            break;
        }
        if Instant::now() > deadline {
            bail!("the simulator brought only {done} of {total} Kustomizations to Ready");
        }
        if last_report.elapsed() > Duration::from_secs(10) {
            eprintln!("scale: {done}/{total} Kustomizations applied");
            last_report = Instant::now();
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let setup_s = setup.elapsed().as_secs_f64();
    drop(sim); // nothing reconciles while we measure
    Ok(ScaleBed {
        registry,
        api,
        namespaces,
        digest,
        setup_s,
    })
}

impl ScaleBed {
    /// `oci://<registry>/<repo>:latest@<digest>`: selects every object.
    pub fn artifact(&self) -> String {
        format!(
            "oci://{}/{REPO}:latest@{}",
            self.registry.host(),
            self.digest
        )
    }
}

/// `gitlab-flux-bench scale-bed --dir DIR`: set the scale bed up, write
/// DIR/kubeconfig and DIR/artifact, and keep it running (for profiling)
/// until SIGINT or SIGTERM, then stop the registry and remove its files.
pub fn serve(args: &[String]) -> anyhow::Result<()> {
    let dir = args
        .iter()
        .position(|a| a == "--dir")
        .and_then(|i| args.get(i + 1))
        .map(std::path::PathBuf::from)
        .context("scale-bed needs --dir DIR")?;
    std::fs::create_dir_all(&dir)?;
    let bed = setup(scale_from_env())?;
    std::fs::write(
        dir.join("kubeconfig"),
        bed.api.kubeconfig("bench", Some("team-000")),
    )?;
    std::fs::write(dir.join("artifact"), bed.artifact() + "\n")?;
    eprintln!(
        "scale bed ready after {:.1} s: {}/kubeconfig, artifact {}",
        bed.setup_s,
        dir.display(),
        bed.artifact()
    );
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    rt.block_on(async {
        use tokio::signal::unix::{SignalKind, signal};
        let mut term = signal(SignalKind::terminate())?;
        let mut int = signal(SignalKind::interrupt())?;
        tokio::select! {
            _ = term.recv() => {}
            _ = int.recv() => {}
        }
        anyhow::Ok(())
    })?;
    eprintln!("scale bed: stopping");
    drop(bed);
    Ok(())
}

pub fn run(ctx: &Ctx, rows: &mut Vec<Row>) -> anyhow::Result<()> {
    let n = ctx.trials(5);
    let total = scale_from_env();
    eprintln!("scale: starting the test bed ({total} objects per kind)");
    let bed = setup(total)?;
    let (api, namespaces, setup_s) = (&bed.api, bed.namespaces, bed.setup_s);
    let scenario = format!("{total} OCIRepositories + {total} Kustomizations, {namespaces} ns");
    eprintln!("scale: all Ready after {setup_s:.1} s; measuring x{n}");

    let dir = ctx.work.join("scale");
    std::fs::create_dir_all(&dir)?;
    let kubeconfig = dir.join("kubeconfig");
    std::fs::write(&kubeconfig, api.kubeconfig("bench", Some("team-000")))?;
    let artifact = bed.artifact();

    let ours = |args: &[&str]| -> anyhow::Result<Measured> {
        let mut c = measure::clean(&ctx.plugin, &ctx.home);
        c.arg("--kubeconfig").arg(&kubeconfig).args(args);
        measure::run(&mut c)?.ok(&format!("kubectl-gitlab_flux {}", args.join(" ")))
    };
    let kubectl = |args: &[&str]| -> anyhow::Result<Option<Measured>> {
        let Some(k) = &ctx.kubectl else {
            return Ok(None);
        };
        let mut c = measure::clean(k, &ctx.home);
        c.arg("--kubeconfig").arg(&kubeconfig).args(args);
        Ok(Some(
            measure::run(&mut c)?.ok(&format!("kubectl {}", args.join(" ")))?,
        ))
    };
    let status_args = ["status", "-A"];
    let wait_args = ["wait", "--artifact", &artifact, "-A", "--timeout", "120s"];
    let k_get = ["get", "kustomizations", "-A"];
    let k_get3 = ["get", "ocirepositories,kustomizations,helmreleases", "-A"];
    let k_wait = [
        "wait",
        "--for=condition=Ready",
        "kustomizations",
        "--all",
        "-A",
        "--timeout=120s",
    ];

    // One untimed round (discovery cache for kubectl, page cache), checking
    // that every command sees all the objects.
    let s = ours(&status_args)?;
    if lines(&s) < 2 * total {
        bail!(
            "status -A printed {} lines for {} objects",
            lines(&s),
            2 * total
        );
    }
    ours(&wait_args)?;
    if let Some(k) = kubectl(&k_get)?
        && lines(&k) != total + 1
    {
        bail!(
            "kubectl get printed {} lines for {total} objects",
            lines(&k)
        );
    }
    kubectl(&k_get3)?;

    let mut m: Vec<Vec<Measured>> = vec![Vec::new(); 5];
    for _ in 0..n {
        m[0].push(ours(&status_args)?);
        m[1].push(ours(&wait_args)?);
        if let Some(k) = kubectl(&k_get)? {
            m[2].push(k);
        }
        if let Some(k) = kubectl(&k_get3)? {
            m[3].push(k);
        }
    }
    // kubectl wait handles the objects one by one under kubectl's client-side
    // rate limit (about 5 requests/s): minutes for a thousand objects. Timed
    // once, and only at small scales.
    if total <= 200
        && let Some(k) = kubectl(&k_wait)?
    {
        m[4].push(k);
    }
    // What the emulator alone costs: the raw list a client makes, in process.
    let raw = raw_lists(api, n)?;

    let wall = |i: usize| m[i].iter().map(ms).collect::<Vec<_>>();
    let rss = |i: usize| m[i].iter().map(mib).collect::<Vec<_>>();
    let kget = "kubectl get kustomizations -A";
    rows.push(
        Row::new(&scenario, "wall ms", "status -A", &wall(0))
            .peer(kget, &wall(2))
            .on_emulator()
            .note(format!(
                "status -A lists all three Flux kinds (OCIRepository, Kustomization, HelmRelease); \
                 the emulator serves no Table format, so kubectl also receives full objects; the \
                 raw GET of all Kustomizations from the emulator takes {:.0} ms (p50, in process); \
                 the simulator needed {setup_s:.0} s to bring everything to Ready",
                raw
            )),
    );
    rows.push(
        Row::new(&scenario, "peak RSS MiB", "status -A", &rss(0))
            .peer(kget, &rss(2))
            .on_emulator()
            .goal(Goal::Max(RSS_GOAL_MIB)),
    );
    rows.push(
        Row::new(&scenario, "wall ms", "wait --artifact … -A", &wall(1))
            .peer(kget, &wall(2))
            .on_emulator()
            .note(
                "every OCIRepository points at the same repository and tag, so `wait --artifact \
                 URL:TAG@DIGEST -A` selects all of them and their Kustomizations (already Ready)",
            ),
    );
    rows.push(
        Row::new(&scenario, "peak RSS MiB", "wait --artifact … -A", &rss(1))
            .peer(kget, &rss(2))
            .on_emulator()
            .goal(Goal::Max(RSS_GOAL_MIB)),
    );
    rows.push(
        Row::new(&scenario, "wall ms", "status -A", &wall(0))
            .peer(
                "kubectl get ocirepositories,kustomizations,helmreleases -A",
                &wall(3),
            )
            .on_emulator(),
    );
    if !m[4].is_empty() {
        rows.push(
            Row::new(&scenario, "wall ms", "wait --artifact … -A", &wall(1))
                .peer("kubectl wait --for=condition=Ready kustomizations --all -A", &wall(4))
                .on_emulator()
                .note("kubectl wait takes the objects one by one under its client-side rate limit; timed once"),
        );
    }
    Ok(())
}

/// p50 of an in-process GET of every Kustomization, body read and parsed.
fn raw_lists(api: &ApiServer, n: usize) -> anyhow::Result<f64> {
    testbed::registry::install_crypto_provider();
    let mut b = reqwest::blocking::Client::builder().timeout(Duration::from_secs(60));
    for c in reqwest::Certificate::from_pem_bundle(api.ca_pem().unwrap_or_default().as_bytes())? {
        b = b.add_root_certificate(c);
    }
    let http = b.build()?;
    let url = format!("{}/apis/{KS}/kustomizations", api.url());
    let token = api.token().unwrap_or_default();
    let mut samples = Vec::new();
    for i in 0..=n {
        let t = Instant::now();
        let v: Value = http
            .get(&url)
            .bearer_auth(&token)
            .send()?
            .error_for_status()?
            .json()?;
        if i > 0 {
            samples.push(t.elapsed().as_secs_f64() * 1000.0);
        }
        std::hint::black_box(v);
    }
    Ok(crate::report::Summary::of(&samples).map_or(0.0, |s| s.p50))
}
