//! Scenario 4: start-up — `version` and `--help` against
//! `kubectl version --client`.

use crate::Ctx;
use crate::measure;
use crate::report::{Goal, Row};

pub fn run(ctx: &Ctx, rows: &mut Vec<Row>) -> anyhow::Result<()> {
    let n = ctx.trials(30);
    eprintln!("start-up: x{n}");
    let ours = |args: &[&str]| {
        let mut cmd = measure::clean(&ctx.plugin, &ctx.home);
        cmd.args(args);
        measure::run(&mut cmd)?.ok("kubectl-gitlab_flux")
    };
    let kubectl = || -> anyhow::Result<Option<measure::Measured>> {
        let Some(k) = &ctx.kubectl else {
            return Ok(None);
        };
        let mut cmd = measure::clean(k, &ctx.home);
        cmd.args(["version", "--client"]);
        Ok(Some(
            measure::run(&mut cmd)?.ok("kubectl version --client")?,
        ))
    };
    let (mut vw, mut vr, mut hw, mut hr, mut kw, mut kr) =
        (vec![], vec![], vec![], vec![], vec![], vec![]);
    // Three untimed rounds first: page cache, dynamic loader.
    for i in 0..n + 3 {
        let v = ours(&["version"])?;
        let h = ours(&["--help"])?;
        let k = kubectl()?;
        if i < 3 {
            continue;
        }
        vw.push(v.wall.as_secs_f64() * 1000.0);
        vr.push(v.max_rss_kib as f64 / 1024.0);
        hw.push(h.wall.as_secs_f64() * 1000.0);
        hr.push(h.max_rss_kib as f64 / 1024.0);
        if let Some(k) = k {
            kw.push(k.wall.as_secs_f64() * 1000.0);
            kr.push(k.max_rss_kib as f64 / 1024.0);
        }
    }
    let peer = "kubectl version --client";
    rows.push(
        Row::new("start-up", "wall ms", "version", &vw)
            .peer(peer, &kw)
            .goal(Goal::P50(10.0))
            .note("spawn to exit, measured by the small rss-exec helper that spawns the command (exec and the dynamic loader included)"),
    );
    rows.push(
        Row::new("start-up", "wall ms", "--help", &hw)
            .peer(peer, &kw)
            .goal(Goal::P50(10.0)),
    );
    rows.push(Row::new("start-up", "peak RSS MiB", "version", &vr).peer(peer, &kr));
    rows.push(Row::new("start-up", "peak RSS MiB", "--help", &hr).peer(peer, &kr));
    Ok(())
}
