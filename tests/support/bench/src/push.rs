//! Scenario 1: `push` against the real distribution registry, side by side
//! with oras-py pushing the same tree, plus a re-push of unchanged content
//! whose registry round trips are counted through the fault proxy's log.

use std::path::Path;

use anyhow::Context;
use testbed::registry::{FaultProxy, Registry, RegistryConfig};

use crate::Ctx;
use crate::measure::{self, Measured};
use crate::report::{Goal, Row};
use crate::trees::{self, Tree};

const SOURCE: &str = "https://gitlab.example/bench/apps";
const REVISION: &str = "main@sha1:0123456789abcdef0123456789abcdef01234567";
const CREATED: &str = "2024-01-01T00:00:00Z";

fn ms(m: &Measured) -> f64 {
    m.wall.as_secs_f64() * 1000.0
}

fn mib(m: &Measured) -> f64 {
    m.max_rss_kib as f64 / 1024.0
}

/// Our push: fixed provenance, so the same tree gives the same manifest.
fn ours(ctx: &Ctx, host: &str, repo: &str, dir: &Path, extra: &[&str]) -> anyhow::Result<Measured> {
    let mut cmd = measure::clean(&ctx.plugin, &ctx.home);
    cmd.arg("push")
        .arg(dir)
        .arg(format!("oci://{host}/{repo}:v1"))
        .args([
            "--source",
            SOURCE,
            "--revision",
            REVISION,
            "--created",
            CREATED,
        ])
        .args(extra);
    measure::run(&mut cmd)?.ok("kubectl-gitlab_flux push")
}

/// oras-py pushing the same directory with the same media types and annotations.
fn oras(ctx: &Ctx, py: &Path, host: &str, repo: &str, dir: &Path) -> anyhow::Result<Measured> {
    let mut cmd = measure::clean(py, &ctx.home);
    cmd.arg(ctx.out.join("oras_push.py"))
        .args([host, repo, "v1"])
        .arg(dir)
        .arg(format!("org.opencontainers.image.source={SOURCE}"))
        .arg(format!("org.opencontainers.image.revision={REVISION}"))
        .arg(format!("org.opencontainers.image.created={CREATED}"));
    measure::run(&mut cmd)?.ok("oras-py push")
}

/// The requests a push made, as `METHOD path` without the repository prefix.
fn requests(proxy: &FaultProxy, repo: &str) -> Vec<String> {
    proxy
        .requests()
        .into_iter()
        .map(|r| {
            let path = r.path.replace(&format!("/v2/{repo}/"), "…/");
            let path = path.split('?').next().unwrap_or_default().to_string();
            let path = match path.find("sha256:") {
                Some(i) => format!("{}sha256:…", &path[..i]),
                None => path,
            };
            format!("{} {path}", r.method)
        })
        .collect()
}

pub fn run(ctx: &Ctx, rows: &mut Vec<Row>) -> anyhow::Result<()> {
    std::fs::write(
        ctx.out.join("oras_push.py"),
        include_str!("../oras_push.py"),
    )?;
    eprintln!("push: generating trees");
    let trees = trees::generate(&ctx.work.join("trees"))?;
    let registry = Registry::start(RegistryConfig::default()).context("starting the registry")?;
    let host = registry.host();
    let oras_note = "same tree, same annotations and media types; both make one tar+gzip layer \
                     (ours: gzip level 6 in memory, YAML of every file checked; oras-py: Python \
                     tarfile + gzip level 9 via a temp file); a fresh repository per push, so every \
                     blob is uploaded; wall time includes process start (Python imports for oras-py)";

    for (tree, default_trials) in trees.iter().zip([10usize, 5, 3]) {
        let n = ctx.trials(default_trials);
        eprintln!("push: {} x{n}", tree.label);
        let (mut ow, mut or, mut pw, mut pr) = (vec![], vec![], vec![], vec![]);
        // Trial 0 warms the page cache and both tools up; it is not counted.
        for i in 0..=n {
            let m = ours(
                ctx,
                &host,
                &format!("bench/{}/ours-{i}", tree.name),
                &tree.dir,
                &[],
            )?;
            if i > 0 {
                ow.push(ms(&m));
                or.push(mib(&m));
            }
            if let Some(py) = &ctx.oras_python {
                let m = oras(
                    ctx,
                    py,
                    &host,
                    &format!("bench/{}/oras-{i}", tree.name),
                    &tree.dir,
                )?;
                if i > 0 {
                    pw.push(ms(&m));
                    pr.push(mib(&m));
                }
            }
        }
        let mut wall = Row::new(&tree.label, "wall ms", "push", &ow).peer("oras-py push", &pw);
        if tree.name == "small" {
            wall = wall.goal(Goal::Ratio(0.5)).note(oras_note);
        }
        if ctx.oras_python.is_none() {
            wall = wall.note(ctx.oras_missing.clone());
        }
        rows.push(wall);
        rows.push(Row::new(&tree.label, "peak RSS MiB", "push", &or).peer("oras-py push", &pr));
    }

    repush(ctx, rows, &registry, &trees[0])?;
    Ok(())
}

/// Push the small tree again, unchanged: time it, and count the registry
/// requests through the fault proxy (a logging reverse proxy).
fn repush(ctx: &Ctx, rows: &mut Vec<Row>, registry: &Registry, tree: &Tree) -> anyhow::Result<()> {
    let host = registry.host();
    let n = ctx.trials(10);
    let label = "re-push unchanged (small tree)";
    eprintln!("push: {label} x{n}");
    ours(ctx, &host, "bench/repush/ours", &tree.dir, &[])?;
    if let Some(py) = &ctx.oras_python {
        oras(ctx, py, &host, "bench/repush/oras", &tree.dir)?;
    }
    let (mut ow, mut pw, mut sw) = (vec![], vec![], vec![]);
    for _ in 0..n {
        ow.push(ms(&ours(ctx, &host, "bench/repush/ours", &tree.dir, &[])?));
        sw.push(ms(&ours(
            ctx,
            &host,
            "bench/repush/ours",
            &tree.dir,
            &["--skip-unchanged"],
        )?));
        if let Some(py) = &ctx.oras_python {
            pw.push(ms(&oras(ctx, py, &host, "bench/repush/oras", &tree.dir)?));
        }
    }

    let proxy = FaultProxy::start(registry).context("starting the request-logging proxy")?;
    let via = proxy.host();
    proxy.clear();
    ours(ctx, &via, "bench/repush/ours", &tree.dir, &[])?;
    let ours_reqs = requests(&proxy, "bench/repush/ours");
    proxy.clear();
    ours(
        ctx,
        &via,
        "bench/repush/ours",
        &tree.dir,
        &["--skip-unchanged"],
    )?;
    let skip_reqs = requests(&proxy, "bench/repush/ours");
    let mut oras_reqs = Vec::new();
    if let Some(py) = &ctx.oras_python {
        proxy.clear();
        oras(ctx, py, &via, "bench/repush/oras", &tree.dir)?;
        oras_reqs = requests(&proxy, "bench/repush/oras");
    }

    rows.push(
        Row::new(label, "wall ms", "push", &ow)
            .peer("oras-py push", &pw)
            .note("the same tree pushed again to the same tag (the manifest is identical)"),
    );
    rows.push(Row::new(label, "wall ms", "push --skip-unchanged", &sw).peer("oras-py push", &pw));
    let count = |v: &Vec<String>| vec![v.len() as f64];
    let mut rt = Row::new(label, "registry requests", "push", &count(&ours_reqs))
        .goal(Goal::Max(3.0))
        .note(format!(
            "ours: {}; with --skip-unchanged: {}; oras-py: {}",
            ours_reqs.join(", "),
            skip_reqs.join(", "),
            if oras_reqs.is_empty() {
                "-".to_string()
            } else {
                oras_reqs.join(", ")
            }
        ));
    if ctx.oras_python.is_some() {
        rt = rt.peer("oras-py push", &count(&oras_reqs));
    }
    rows.push(rt);
    rows.push(
        Row::new(
            label,
            "registry requests",
            "push --skip-unchanged",
            &count(&skip_reqs),
        )
        .goal(Goal::Max(3.0)),
    );
    Ok(())
}
