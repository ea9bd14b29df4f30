//! Scenario 2: wait reaction latency — from the moment the simulator turns
//! the Kustomization Ready at the pushed revision to the moment the waiting
//! process exits, for our `wait`, `kubectl wait --for=condition=Ready` and a
//! 2-second poll loop (the flux CLI's algorithm, run by this binary's
//! `poll-wait` mode).
//!
//! Each trial pushes new content whose ConfigMap carries
//! `sim.gitlab-flux.io/delay`, requests a reconcile, waits until the
//! Kustomization is Progressing at the new revision (Ready Unknown), starts
//! the waiter, and notes when the waiter's first watch (or get) reached the
//! API emulator. A trial counts only when the waiter was armed before the
//! object turned Ready; otherwise it is repeated.

use std::path::PathBuf;
use std::time::{Duration, Instant, SystemTime};

use anyhow::{Context, bail};
use serde_json::{Value, json};
use testbed::apiserver::{ApiServer, ApiServerConfig, RequestRecord, Store};
use testbed::flux::{SimConfig, Simulator};
use testbed::registry::{Registry, RegistryConfig};

use crate::Ctx;
use crate::measure;
use crate::report::{Goal, Row};

const OCI: &str = "source.toolkit.fluxcd.io/v1";
const KS: &str = "kustomize.toolkit.fluxcd.io/v1";
const NS: &str = "flux-system";
const REPO: &str = "bench/apps";
/// Extra apply time of each trial's revision: the waiter's head start is at
/// least this long.
const MIN_APPLY_DELAY_MS: u64 = 1500;
/// A further 0-2 s spread evenly over the trials (golden-ratio steps), so
/// that the poll loop's phase relative to Ready varies as it would in life
/// instead of repeating the same offset every trial.
const SPREAD_MS: f64 = 2000.0;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Waiter {
    Ours,
    Kubectl,
    Poll,
}

impl Waiter {
    fn name(self) -> &'static str {
        match self {
            Waiter::Ours => "ours",
            Waiter::Kubectl => "kubectl",
            Waiter::Poll => "poll",
        }
    }

    /// Whether this request is the waiter listening for the Kustomization.
    fn armed_by(self, r: &RequestRecord) -> bool {
        if !r.path.contains("/kustomizations") {
            return false;
        }
        let watch = matches!(r.query_param("watch").as_deref(), Some("true" | "1"));
        match self {
            Waiter::Ours | Waiter::Kubectl => watch,
            Waiter::Poll => r.path.ends_with("/kustomizations/apps"),
        }
    }
}

struct Bed {
    sim: Simulator,
    api: ApiServer,
    store: Store,
    registry: Registry,
    kubeconfig: PathBuf,
    ca: PathBuf,
}

fn ready_condition(obj: &Value) -> Option<&str> {
    obj.pointer("/status/conditions")?
        .as_array()?
        .iter()
        .find(|c| c.get("type").and_then(Value::as_str) == Some("Ready"))?
        .get("status")?
        .as_str()
}

fn str_at<'a>(obj: &'a Value, p: &str) -> Option<&'a str> {
    obj.pointer(p).and_then(Value::as_str)
}

fn until(what: &str, timeout: Duration, mut f: impl FnMut() -> bool) -> anyhow::Result<()> {
    let deadline = Instant::now() + timeout;
    while !f() {
        if Instant::now() > deadline {
            bail!("timed out after {timeout:?} waiting for {what}");
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    Ok(())
}

impl Bed {
    fn start(ctx: &Ctx) -> anyhow::Result<Bed> {
        let registry = Registry::start(RegistryConfig::default()).context("registry")?;
        let api = ApiServer::start(ApiServerConfig::default()).context("API emulator")?;
        let store = api.store();
        store
            .create(json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NS}}))
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        let sim = Simulator::start(
            store.clone(),
            SimConfig {
                registry_insecure_hosts: vec![registry.host()],
                progress_delay: Duration::from_millis(100),
                ..SimConfig::default()
            },
        )?;
        let dir = ctx.work.join("wait");
        std::fs::create_dir_all(&dir)?;
        let kubeconfig = dir.join("kubeconfig");
        std::fs::write(&kubeconfig, api.kubeconfig("bench", Some(NS)))?;
        let ca = dir.join("ca.pem");
        std::fs::write(&ca, api.ca_pem().unwrap_or_default())?;
        Ok(Bed {
            sim,
            api,
            store,
            registry,
            kubeconfig,
            ca,
        })
    }

    fn push(&self, trial: &str, delay_ms: u64) -> anyhow::Result<String> {
        let cm = format!(
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: bench\n  annotations:\n    sim.gitlab-flux.io/delay: {delay_ms}ms\ndata:\n  trial: \"{trial}\"\n"
        );
        testbed::oci::push_flux_artifact(
            &self.registry.base_url(),
            REPO,
            "latest",
            &[("cm.yaml", cm.as_bytes())],
            &[(
                "org.opencontainers.image.revision",
                &format!("main@sha1:{:0>40}", trial.len()),
            )],
        )
    }

    fn ks(&self) -> Option<Value> {
        self.store.get(KS, "Kustomization", NS, "apps")
    }

    fn create_objects(&self) -> anyhow::Result<()> {
        let e = |e: testbed::apiserver::StoreError| anyhow::anyhow!("{e}");
        self.store
            .create(json!({
                "apiVersion": OCI, "kind": "OCIRepository",
                "metadata": {"name": "apps", "namespace": NS},
                "spec": {"url": format!("oci://{}/{REPO}", self.registry.host()),
                         "ref": {"tag": "latest"}, "interval": "60m", "insecure": true},
            }))
            .map_err(e)?;
        self.store
            .create(json!({
                "apiVersion": KS, "kind": "Kustomization",
                "metadata": {"name": "apps", "namespace": NS},
                "spec": {"interval": "60m", "path": "./", "prune": true,
                         "sourceRef": {"kind": "OCIRepository", "name": "apps"}},
            }))
            .map_err(e)?;
        Ok(())
    }

    /// Push new content and request a reconcile; returns the digest once
    /// the Kustomization is Progressing at it.
    fn next_revision(&self, trial: &str, delay_ms: u64) -> anyhow::Result<String> {
        let digest = self.push(trial, delay_ms)?;
        self.store
            .merge_patch(
                OCI,
                "OCIRepository",
                NS,
                "apps",
                json!({"metadata": {"annotations": {"reconcile.fluxcd.io/requestedAt": trial}}}),
            )
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        until(
            "the Kustomization to start applying",
            Duration::from_secs(30),
            || {
                self.ks().is_some_and(|o| {
                    str_at(&o, "/status/lastAttemptedRevision")
                        .is_some_and(|r| r.ends_with(&digest))
                        && ready_condition(&o) == Some("Unknown")
                })
            },
        )?;
        Ok(digest)
    }

    fn ready_at(&self, digest: &str) -> Option<SystemTime> {
        self.sim
            .ready_times()
            .into_iter()
            .find(|(what, rev, _)| {
                what == "Kustomization/flux-system/apps" && rev.ends_with(digest)
            })
            .map(|(_, _, t)| t)
    }
}

fn command(ctx: &Ctx, bed: &Bed, w: Waiter, digest: &str) -> anyhow::Result<measure::Cmd> {
    Ok(match w {
        Waiter::Ours => {
            let mut c = measure::clean(&ctx.plugin, &ctx.home);
            c.arg("--kubeconfig").arg(&bed.kubeconfig).args([
                "wait",
                "--artifact",
                &format!("oci://{}/{REPO}:latest@{digest}", bed.registry.host()),
                "--timeout",
                "60s",
            ]);
            c
        }
        Waiter::Kubectl => {
            let k = ctx.kubectl.as_ref().context("kubectl")?;
            let mut c = measure::clean(k, &ctx.home);
            c.arg("--kubeconfig").arg(&bed.kubeconfig).args([
                "wait",
                "--for=condition=Ready",
                "kustomization/apps",
                "-n",
                NS,
                "--timeout=60s",
            ]);
            c
        }
        Waiter::Poll => {
            let mut c = measure::clean(&ctx.self_exe, &ctx.home);
            c.arg("poll-wait")
                .args(["--server", &bed.api.url()])
                .args(["--token", &bed.api.token().unwrap_or_default()])
                .arg("--ca")
                .arg(&bed.ca)
                .args(["--namespace", NS, "--name", "apps", "--digest", digest]);
            c
        }
    })
}

/// One trial: Some(latency ms), or None when the waiter was not armed in time.
fn trial(
    ctx: &Ctx,
    bed: &Bed,
    w: Waiter,
    label: &str,
    delay_ms: u64,
) -> anyhow::Result<Option<f64>> {
    let digest = bed.next_revision(label, delay_ms)?;
    bed.api.clear_requests();
    let running = measure::spawn(&mut command(ctx, bed, w, &digest)?)?;
    let mut armed_at = None;
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline && !running.exited() {
        if bed.api.requests().iter().any(|r| w.armed_by(r)) {
            armed_at = Some(SystemTime::now());
            break;
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    let m = running.finish()?.ok(w.name())?;
    let ready = bed
        .ready_at(&digest)
        .context("the simulator recorded no Ready time for the revision")?;
    match armed_at {
        Some(a) if a < ready => {}
        _ => return Ok(None),
    }
    let latency = m
        .exited_at
        .duration_since(ready)
        .context("the waiter exited before the object turned Ready")?;
    Ok(Some(latency.as_secs_f64() * 1000.0))
}

pub fn run(ctx: &Ctx, rows: &mut Vec<Row>) -> anyhow::Result<()> {
    let n = ctx.trials(20);
    eprintln!("wait: starting the test bed");
    let bed = Bed::start(ctx)?;
    bed.push("initial", 0)?;
    bed.create_objects()?;
    until("the first revision", Duration::from_secs(30), || {
        bed.ks()
            .is_some_and(|o| ready_condition(&o) == Some("True"))
    })?;
    let mut waiters = vec![Waiter::Ours, Waiter::Poll];
    if let Some(k) = &ctx.kubectl {
        // Fill kubectl's discovery cache once, as on any workstation.
        let mut c = measure::clean(k, &ctx.home);
        c.arg("--kubeconfig")
            .arg(&bed.kubeconfig)
            .args(["get", "kustomizations", "-n", NS]);
        measure::run(&mut c)?.ok("kubectl get")?;
        waiters.insert(1, Waiter::Kubectl);
    }
    eprintln!(
        "wait: x{n} for {}",
        waiters
            .iter()
            .map(|w| w.name())
            .collect::<Vec<_>>()
            .join(", ")
    );
    let mut samples: Vec<Vec<f64>> = vec![Vec::new(); 3];
    let mut retried = 0;
    for i in 0..n {
        let delay_ms =
            MIN_APPLY_DELAY_MS + ((i as f64 * 0.618_033_988_75).fract() * SPREAD_MS) as u64;
        for &w in &waiters {
            let mut attempt = 0;
            loop {
                match trial(
                    ctx,
                    &bed,
                    w,
                    &format!("{}-{i}-{attempt}", w.name()),
                    delay_ms,
                )? {
                    Some(ms) => {
                        samples[w as usize].push(ms);
                        break;
                    }
                    None if attempt < 3 => {
                        retried += 1;
                        attempt += 1;
                    }
                    None => bail!("{}: the waiter was never armed before Ready", w.name()),
                }
            }
        }
    }
    let label = "wait reaction latency";
    let note = format!(
        "Ready recorded by the simulator just before it writes the status; the waiter starts while \
         the Kustomization is Progressing (apply delay {MIN_APPLY_DELAY_MS} ms plus 0-{SPREAD_MS} ms, \
         varied over the trials) and must have opened its watch (poll: made its first get) before \
         Ready, else the trial is repeated ({retried} repeated)"
    );
    let ours = &samples[Waiter::Ours as usize];
    let mut r = Row::new(label, "latency ms", "wait", ours)
        .goal(Goal::P95(50.0))
        .on_emulator();
    if ctx.kubectl.is_some() {
        r = r.peer(
            "kubectl wait --for=condition=Ready",
            &samples[Waiter::Kubectl as usize],
        );
    }
    rows.push(r.note(note));
    rows.push(
        Row::new(label, "latency ms", "wait", ours)
            .peer(
                "poll loop (get, check Ready + revision, sleep 2 s)",
                &samples[Waiter::Poll as usize],
            )
            .on_emulator(),
    );
    Ok(())
}

/// `gitlab-flux-bench poll-wait`: the flux CLI's wait algorithm — get the
/// object, check Ready=True and the applied revision, else sleep 2 s.
pub fn poll_wait(args: &[String]) -> anyhow::Result<()> {
    let get = |flag: &str| -> anyhow::Result<String> {
        args.iter()
            .position(|a| a == flag)
            .and_then(|i| args.get(i + 1))
            .cloned()
            .with_context(|| format!("poll-wait needs {flag}"))
    };
    let (server, token, ca) = (get("--server")?, get("--token")?, get("--ca")?);
    let (ns, name, digest) = (get("--namespace")?, get("--name")?, get("--digest")?);
    let interval = Duration::from_millis(
        get("--interval-ms")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(2000),
    );
    testbed::registry::install_crypto_provider();
    let pem = std::fs::read(&ca)?;
    let mut b = reqwest::blocking::Client::builder().timeout(Duration::from_secs(10));
    for c in reqwest::Certificate::from_pem_bundle(&pem)? {
        b = b.add_root_certificate(c);
    }
    let http = b.build()?;
    let url = format!("{server}/apis/{KS}/namespaces/{ns}/kustomizations/{name}");
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let obj: Value = http
            .get(&url)
            .bearer_auth(&token)
            .send()?
            .error_for_status()?
            .json()?;
        let applied =
            str_at(&obj, "/status/lastAppliedRevision").is_some_and(|r| r.ends_with(&digest));
        if applied && ready_condition(&obj) == Some("True") {
            return Ok(());
        }
        if Instant::now() > deadline {
            bail!("timed out");
        }
        std::thread::sleep(interval);
    }
}
