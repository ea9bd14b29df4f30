//! Benchmarks on the REAL cluster (`testbed::real`: etcd, kube-apiserver
//! 1.37.2, the four Flux v2.9.4 controllers, built by `make realbed`), side
//! by side with the real peers built there too: kubectl 1.37, the flux CLI
//! v2.9.4 and oras v1.3.6.
//!
//! - `status -A` vs `kubectl get kustomizations -A` over `BENCH_SCALE`
//!   OCIRepositories + Kustomizations (default 1000 each), suspended (no
//!   controller reconciles them) with a realistic status written through the
//!   status subresource;
//! - wait reaction: `wait --artifact` and `kubectl wait --for=jsonpath` both
//!   started before the trigger; ms from the trigger to each one's exit;
//! - trigger + wait vs `flux reconcile kustomization --with-source` then
//!   `kubectl wait`;
//! - push of the same small tree vs `flux push artifact` and `oras push`.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use serde_json::{Value, json};
use testbed::real::{Programs, RealCluster, RealConfig};

use crate::Ctx;
use crate::measure::{self, Measured};
use crate::report::Row;

const OCI: &str = "source.toolkit.fluxcd.io/v1";
const KS: &str = "kustomize.toolkit.fluxcd.io/v1";

fn scale() -> usize {
    std::env::var("BENCH_SCALE")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1000)
}

fn kubectl_file(c: &RealCluster, args: &[&str], file: &Path) -> anyhow::Result<()> {
    let out = c.kubectl_admin().args(args).arg("-f").arg(file).output()?;
    if !out.status.success() {
        bail!(
            "kubectl {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(())
}

fn list(items: Vec<Value>) -> Value {
    json!({"apiVersion": "v1", "kind": "List", "items": items})
}

fn cond(type_: &str, status: &str, reason: &str, message: &str) -> Value {
    json!({"type": type_, "status": status, "reason": reason, "message": message,
           "observedGeneration": 1, "lastTransitionTime": "2026-01-01T00:00:00Z"})
}

/// `n` OCIRepositories and Kustomizations in 10 namespaces, suspended,
/// with the status a healthy fleet has.
fn populate(c: &RealCluster, work: &Path, n: usize) -> anyhow::Result<()> {
    let nss = 10;
    let mut objs = Vec::new();
    let mut status = Vec::new();
    for ns in 0..nss {
        objs.push(json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": format!("fleet-{ns}")}}));
    }
    for i in 0..n {
        let ns = format!("fleet-{}", i % nss);
        let name = format!("app-{i:04}");
        let digest = format!("sha256:{:064x}", i as u128 * 7919 + 1);
        let rev = format!("v1.{}.0@{digest}", i % 50);
        let meta = json!({"name": name, "namespace": ns});
        objs.push(
            json!({"apiVersion": OCI, "kind": "OCIRepository", "metadata": meta,
            "spec": {"url": format!("oci://registry.example/apps/{name}"), "interval": "10m",
                     "ref": {"semver": ">=1.0.0"}, "suspend": true}}),
        );
        objs.push(
            json!({"apiVersion": KS, "kind": "Kustomization", "metadata": meta,
            "spec": {"interval": "10m", "path": "./", "prune": true, "suspend": true,
                     "sourceRef": {"kind": "OCIRepository", "name": name}}}),
        );
        status.push(json!({"apiVersion": OCI, "kind": "OCIRepository", "metadata": meta,
            "status": {"observedGeneration": 1, "url": format!("http://source-controller/ocirepository/{ns}/{name}/latest.tar.gz"),
              "artifact": {"revision": rev, "digest": digest, "path": format!("ocirepository/{ns}/{name}/{digest}.tar.gz"),
                           "url": format!("http://source-controller/ocirepository/{ns}/{name}/{digest}.tar.gz"),
                           "size": 1234, "lastUpdateTime": "2026-01-01T00:00:00Z",
                           "metadata": {"org.opencontainers.image.revision": "main@sha1:0123456789abcdef0123456789abcdef01234567"}},
              "conditions": [cond("Ready", "True", "Succeeded", &format!("stored artifact for digest '{rev}'")),
                             cond("ArtifactInStorage", "True", "Succeeded", &format!("stored artifact for digest '{rev}'"))]}}));
        status.push(json!({"apiVersion": KS, "kind": "Kustomization", "metadata": meta,
            "status": {"observedGeneration": 1, "lastAppliedRevision": rev, "lastAttemptedRevision": rev,
              "lastAppliedOriginRevision": "main@sha1:0123456789abcdef0123456789abcdef01234567",
              "inventory": {"entries": (0..5).map(|k| json!({"id": format!("{ns}_{name}-{k}__ConfigMap"), "v": "v1"})).collect::<Vec<_>>()},
              "conditions": [cond("Ready", "True", "ReconciliationSucceeded", &format!("Applied revision: {rev}"))]}}));
    }
    let objs_file = work.join("fleet.json");
    std::fs::write(&objs_file, list(objs).to_string())?;
    kubectl_file(
        c,
        &["apply", "--server-side", "--field-manager=bench"],
        &objs_file,
    )?;
    let status_file = work.join("fleet-status.json");
    std::fs::write(&status_file, list(status).to_string())?;
    kubectl_file(
        c,
        &[
            "apply",
            "--server-side",
            "--subresource=status",
            "--field-manager=bench-status",
            "--force-conflicts",
        ],
        &status_file,
    )?;
    Ok(())
}

fn with_kubeconfig(mut cmd: measure::Cmd, kubeconfig: &Path) -> measure::Cmd {
    cmd.env("KUBECONFIG", kubeconfig);
    cmd
}

fn ms(m: &Measured) -> f64 {
    m.wall.as_secs_f64() * 1000.0
}

pub fn run(ctx: &Ctx, rows: &mut Vec<Row>) -> anyhow::Result<()> {
    let programs = Programs::discover()?;
    if !programs.missing().is_empty() {
        eprintln!(
            "bench: real cluster skipped: not built: {} (make realbed)",
            programs.missing().join(", ")
        );
        return Ok(());
    }
    let kubectl = programs
        .bin("kubectl")
        .context("kubectl 1.37 not built (make realbed)")?;
    let work = ctx.work.join("real");
    std::fs::create_dir_all(&work)?;
    let c = RealCluster::start(RealConfig::default())?;
    eprintln!(
        "bench: real cluster up in {:.1} s ({})",
        c.started_in.as_secs_f64(),
        c.describe()
    );
    let kubeconfig = work.join("kubeconfig");
    std::fs::write(&kubeconfig, c.admin_kubeconfig("real", Some("bench")))?;
    c.apply(&json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "bench"}}))?;
    let scenario = "real cluster";

    // status -A vs kubectl get -A.
    let n = scale();
    let t = Instant::now();
    populate(&c, &work, n)?;
    eprintln!(
        "bench: {n} OCIRepositories + {n} Kustomizations with status in {:.1} s",
        t.elapsed().as_secs_f64()
    );
    let trials = ctx.trials(7);
    let (mut ours, mut peer) = (Vec::new(), Vec::new());
    for _ in 0..trials {
        let mut cmd = with_kubeconfig(measure::clean(&ctx.plugin, &ctx.home), &kubeconfig);
        cmd.args(["status", "-A"]);
        ours.push(ms(&measure::run(&mut cmd)?.ok("status -A")?));
        let mut cmd = with_kubeconfig(measure::clean(&kubectl, &ctx.home), &kubeconfig);
        cmd.args(["get", "kustomizations.kustomize.toolkit.fluxcd.io", "-A"]);
        peer.push(ms(&measure::run(&mut cmd)?.ok("kubectl get")?));
    }
    rows.push(
        Row::new(&format!("{scenario}: {n} OCIRepositories + {n} Kustomizations"), "wall ms", "status -A", &ours)
            .peer("kubectl 1.37 get kustomizations -A", &peer)
            .note("real kube-apiserver 1.37.2; objects suspended, status written through the status subresource; status -A also reads the OCIRepositories"),
    );

    // One live Kustomization for wait and trigger.
    let base = c.registry().base_url();
    let host = c.registry().host();
    c.apply(&json!({"apiVersion": OCI, "kind": "OCIRepository", "metadata": {"name": "apps", "namespace": "bench"},
        "spec": {"url": format!("oci://{host}/bench/apps"), "ref": {"tag": "latest"}, "interval": "1h", "insecure": true}}))?;
    c.apply(&json!({"apiVersion": KS, "kind": "Kustomization", "metadata": {"name": "apps", "namespace": "bench"},
        "spec": {"interval": "1h", "retryInterval": "2s", "path": "./", "prune": true, "targetNamespace": "bench",
                 "sourceRef": {"kind": "OCIRepository", "name": "apps"}}}))?;
    let push = |i: usize| -> anyhow::Result<String> {
        let cm = format!(
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: one\ndata:\n  trial: \"{i}\"\n"
        );
        testbed::oci::push_flux_artifact(
            &base,
            "bench/apps",
            "latest",
            &[("cm.yaml", cm.as_bytes())],
            &[],
        )
    };
    let url = |d: &str| format!("oci://{host}/bench/apps:latest@{d}");
    let trigger = |d: &str| -> anyhow::Result<Measured> {
        let mut cmd = with_kubeconfig(measure::clean(&ctx.plugin, &ctx.home), &kubeconfig);
        cmd.args(["trigger", "--artifact", &url(d)]);
        measure::run(&mut cmd)?.ok("trigger")
    };
    let kwait = |d: &str| {
        let mut cmd = with_kubeconfig(measure::clean(&kubectl, &ctx.home), &kubeconfig);
        cmd.args([
            "wait",
            "-n",
            "bench",
            "kustomization/apps",
            "--timeout=120s",
            &format!("--for=jsonpath={{.status.lastAppliedRevision}}=latest@{d}"),
        ]);
        cmd
    };
    // warm up: the first revision applied.
    let d = push(0)?;
    trigger(&d)?;
    measure::run(&mut kwait(&d))?.ok("kubectl wait (warm-up)")?;

    // wait reaction.
    let trials = ctx.trials(5);
    let (mut ours, mut peer) = (Vec::new(), Vec::new());
    for i in 0..trials {
        let d = push(100 + i)?;
        let mut w = with_kubeconfig(measure::clean(&ctx.plugin, &ctx.home), &kubeconfig);
        w.args(["wait", "--timeout", "120s", "--artifact", &url(&d)]);
        let ow = measure::spawn(&mut w)?;
        let pw = measure::spawn(&mut kwait(&d))?;
        std::thread::sleep(Duration::from_millis(500));
        let t0 = std::time::SystemTime::now();
        trigger(&d)?;
        let (o, p) = (ow.finish()?.ok("wait")?, pw.finish()?.ok("kubectl wait")?);
        let after = |m: &Measured| {
            m.exited_at
                .duration_since(t0)
                .unwrap_or_default()
                .as_secs_f64()
                * 1000.0
        };
        ours.push(after(&o));
        peer.push(after(&p));
    }
    rows.push(
        Row::new(scenario, "trigger → exit ms", "wait --artifact", &ours)
            .peer("kubectl 1.37 wait --for=jsonpath", &peer)
            .note("both started before the trigger (which both wait for): ms from the trigger to each one's exit; the same reconcile by the real kustomize-controller"),
    );

    // trigger + wait vs flux reconcile --with-source + kubectl wait.
    let (mut ours, mut peer) = (Vec::new(), Vec::new());
    let flux = programs.bin("flux");
    for i in 0..trials {
        let d = push(200 + i)?;
        let t = Instant::now();
        trigger(&d)?;
        let mut w = with_kubeconfig(measure::clean(&ctx.plugin, &ctx.home), &kubeconfig);
        w.args(["wait", "--timeout", "120s", "--artifact", &url(&d)]);
        measure::run(&mut w)?.ok("wait")?;
        ours.push(t.elapsed().as_secs_f64() * 1000.0);
        if let Some(flux) = &flux {
            let d = push(300 + i)?;
            let t = Instant::now();
            let mut r = with_kubeconfig(measure::clean(flux, &ctx.home), &kubeconfig);
            r.args([
                "reconcile",
                "kustomization",
                "apps",
                "-n",
                "bench",
                "--with-source",
                "--timeout=2m",
            ]);
            measure::run(&mut r)?.ok("flux reconcile")?;
            measure::run(&mut kwait(&d))?.ok("kubectl wait")?;
            peer.push(t.elapsed().as_secs_f64() * 1000.0);
        }
    }
    let mut row = Row::new(scenario, "wall ms", "trigger + wait", &ours)
        .peer("flux reconcile ks --with-source + kubectl wait", &peer);
    row = row.note(if flux.is_some() {
        "a new revision each trial; flux reconcile polls the objects itself (2 s) before kubectl wait checks the revision"
    } else {
        "flux CLI not built (make realbed)"
    });
    rows.push(row);

    // push vs flux push artifact and oras push.
    let tree = work.join("tree");
    for k in 0..20 {
        let p = tree.join(format!("app/cm-{k}.yaml"));
        std::fs::create_dir_all(p.parent().unwrap_or(&tree))?;
        std::fs::write(
            &p,
            format!(
                "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm-{k}\ndata:\n  k: \"{}\"\n",
                "x".repeat(200)
            ),
        )?;
    }
    let trials = ctx.trials(5);
    let (mut ours, mut fl, mut or) = (Vec::new(), Vec::new(), Vec::new());
    let oras = programs.bin("oras");
    for i in 0..trials {
        let mut cmd = measure::clean(&ctx.plugin, &ctx.home);
        cmd.arg("push")
            .arg(&tree)
            .arg(format!("oci://{host}/bench/push-ours:t{i}"))
            .args([
                "--revision",
                "main@sha1:0123456789abcdef0123456789abcdef01234567",
            ]);
        ours.push(ms(&measure::run(&mut cmd)?.ok("push")?));
        if let Some(flux) = &flux {
            let mut cmd = measure::clean(flux, &ctx.home);
            cmd.args([
                "push",
                "artifact",
                &format!("oci://{host}/bench/push-flux:t{i}"),
                "--insecure-registry",
            ])
            .arg(format!("--path={}", tree.display()))
            .args([
                "--source=https://gitlab.example/demo/apps",
                "--revision=main@sha1:0123456789abcdef0123456789abcdef01234567",
            ]);
            fl.push(ms(&measure::run(&mut cmd)?.ok("flux push artifact")?));
        }
        if let Some(oras) = &oras {
            let mut cmd = measure::clean(oras, &ctx.home);
            cmd.current_dir(&tree).args([
                "push",
                "--plain-http",
                &format!("{host}/bench/push-oras:t{i}"),
                "app/",
            ]);
            or.push(ms(&measure::run(&mut cmd)?.ok("oras push")?));
        }
    }
    let note_missing = |b: &Option<PathBuf>, what: &str| {
        if b.is_none() {
            format!("{what} not built (make realbed)")
        } else {
            String::new()
        }
    };
    rows.push(
        Row::new(
            "push (20 files) to the real cluster's registry",
            "wall ms",
            "push",
            &ours,
        )
        .peer("flux push artifact v2.9.4", &fl)
        .note(format!(
            "both make one tar+gzip layer of the same tree (flux: gzip default level) {}",
            note_missing(&flux, "flux")
        )),
    );
    rows.push(
        Row::new(
            "push (20 files) to the real cluster's registry",
            "wall ms",
            "push",
            &ours,
        )
        .peer("oras push v1.3.6", &or)
        .note(format!(
            "oras pushes the directory as one tar+gzip layer (its own media type) {}",
            note_missing(&oras, "oras")
        )),
    );
    c.stop();
    Ok(())
}
