//! `gitlab-flux-bench`: benchmarks of kubectl-gitlab-flux against its peers
//! on the test bed (real registry, API emulator, Flux simulator), run by
//! `make bench` (scripts/bench.sh). Every number is measured in this run,
//! ours and the peer's side by side; nothing here is a test.
//!
//! ```text
//! gitlab-flux-bench run --plugin PATH [--kubectl PATH] [--oras-python PATH] [--out DIR]
//! gitlab-flux-bench poll-wait …   (internal: the flux CLI's 2 s poll loop)
//! gitlab-flux-bench rss-exec …    (internal: runs one measured command)
//! gitlab-flux-bench scale-bed --dir DIR   (the scale scenario's bed, kept running for profiling)
//! ```
//!
//! Environment: `BENCH_TRIALS` (trials per measurement, overrides every
//! default), `BENCH_ONLY` (comma list of push, wait, scale, startup, real),
//! `BENCH_SCALE` (objects per kind in the scale scenario, default 1000).

mod measure;
mod push;
mod real;
mod report;
mod scale;
mod startup;
mod trees;
mod wait;

use std::path::PathBuf;

use anyhow::{Context, bail};
use serde_json::json;

use report::Row;

const USAGE: &str =
    "usage: gitlab-flux-bench run --plugin PATH [--kubectl PATH] [--oras-python PATH] [--out DIR]

Environment: BENCH_TRIALS=N (trials per measurement), BENCH_ONLY=push,wait,scale,startup,real,
BENCH_SCALE=N (objects per kind in the scale scenario, default 1000).";

/// What every scenario needs.
pub struct Ctx {
    /// The plugin binary (release build).
    pub plugin: PathBuf,
    pub kubectl: Option<PathBuf>,
    /// The venv's python with `oras` installed.
    pub oras_python: Option<PathBuf>,
    /// Why oras-py is missing, when it is.
    pub oras_missing: String,
    /// Results go here (`target/bench`).
    pub out: PathBuf,
    /// Scratch space (`target/bench/work`).
    pub work: PathBuf,
    /// `HOME` of every measured process (empty but for kubectl's cache).
    pub home: PathBuf,
    /// This binary, for `poll-wait`.
    pub self_exe: PathBuf,
    trials: Option<usize>,
}

impl Ctx {
    /// `BENCH_TRIALS`, else the scenario's default.
    pub fn trials(&self, default: usize) -> usize {
        self.trials.unwrap_or(default).max(1)
    }
}

fn main() -> std::process::ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("run") => run(&args[1..]),
        Some("poll-wait") => wait::poll_wait(&args[1..]),
        Some("scale-bed") => scale::serve(&args[1..]),
        Some("rss-exec") => match measure::rss_exec(&args[1..]) {
            Ok(code) => return std::process::ExitCode::from(u8::try_from(code).unwrap_or(1)),
            Err(e) => {
                eprintln!("rss-exec: {e:#}");
                return std::process::ExitCode::from(127);
            }
        },
        Some("-h" | "--help") => {
            println!("{USAGE}");
            Ok(())
        }
        _ => Err(anyhow::anyhow!("{USAGE}")),
    };
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

fn flag(args: &[String], name: &str) -> Option<PathBuf> {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .map(PathBuf::from)
}

fn first_line(program: &std::path::Path, args: &[&str]) -> String {
    std::process::Command::new(program)
        .args(args)
        .output()
        .map(|o| {
            let text = if o.stdout.is_empty() {
                o.stderr
            } else {
                o.stdout
            };
            String::from_utf8_lossy(&text)
                .lines()
                .next()
                .unwrap_or_default()
                .trim()
                .to_string()
        })
        .unwrap_or_default()
}

fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_default()
}

fn cpu_model() -> String {
    std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split_once(':'))
                .map(|(_, v)| v.trim().to_string())
        })
        .unwrap_or_default()
}

/// The peak RSS `rss-exec` reports for `/bin/true`: the floor under every
/// RSS number (the helper's image a child starts from).
fn rss_floor(ctx: &Ctx) -> Option<f64> {
    let mut c = measure::clean("true", &ctx.home);
    measure::run(&mut c)
        .ok()
        .map(|m| (m.max_rss_kib as f64 / 1024.0 * 10.0).round() / 10.0)
}

fn run(args: &[String]) -> anyhow::Result<()> {
    let plugin = flag(args, "--plugin").context("--plugin is required")?;
    if !plugin.is_file() {
        bail!(
            "{} does not exist; build it with `cargo build --release`",
            plugin.display()
        );
    }
    let out = flag(args, "--out").unwrap_or_else(|| PathBuf::from("target/bench"));
    let work = out.join("work");
    let home = work.join("home");
    std::fs::create_dir_all(&home)?;
    let kubectl = flag(args, "--kubectl")
        .or_else(testbed::apiserver::require_kubectl)
        .filter(|p| p.is_file());
    let (oras_python, oras_missing) = match flag(args, "--oras-python") {
        Some(p) if p.is_file() => (Some(p), String::new()),
        Some(p) => (
            None,
            format!("oras-py unavailable ({} missing)", p.display()),
        ),
        None => (None, "oras-py unavailable (no --oras-python)".to_string()),
    };
    let trials = std::env::var("BENCH_TRIALS")
        .ok()
        .and_then(|s| s.parse().ok());
    let only: Vec<String> = std::env::var("BENCH_ONLY")
        .unwrap_or_default()
        .split(',')
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .collect();
    let ctx = Ctx {
        plugin: std::fs::canonicalize(&plugin)?,
        kubectl,
        oras_python: oras_python.map(std::path::absolute).transpose()?,
        oras_missing,
        out: std::path::absolute(&out)?,
        work: std::path::absolute(&work)?,
        home: std::path::absolute(&home)?,
        self_exe: std::env::current_exe()?,
        trials,
    };
    if !testbed::registry::require_registry() {
        bail!("docker-registry is needed (apt-get install docker-registry)");
    }

    let started = jiff::Timestamp::now();
    let load_before = loadavg();
    let mut rows: Vec<Row> = Vec::new();
    type Scenario = fn(&Ctx, &mut Vec<Row>) -> anyhow::Result<()>;
    let scenarios: [(&str, Scenario); 5] = [
        ("push", push::run),
        ("wait", wait::run),
        ("scale", scale::run),
        ("startup", startup::run),
        ("real", real::run),
    ];
    for (name, f) in scenarios {
        if !only.is_empty() && !only.iter().any(|o| o == name) {
            continue;
        }
        f(&ctx, &mut rows).with_context(|| format!("scenario {name}"))?;
    }

    let environment = json!({
        "date": jiff::Timestamp::from_second(started.as_second()).map(|t| t.to_string()).unwrap_or_default(),
        "cpus": std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0),
        "cpu": cpu_model(),
        "kernel": first_line(std::path::Path::new("uname"), &["-sr"]),
        "load_before": load_before,
        "load_after": loadavg(),
        "plugin": first_line(&ctx.plugin, &["version"]),
        "checkout": first_line(std::path::Path::new("git"), &["describe", "--always", "--dirty"]),
        "kubectl": ctx.kubectl.as_ref().map(|k| first_line(k, &["version", "--client"])),
        "oras_py": ctx.oras_python.as_ref().map(|p| first_line(p, &["-c", "import oras.version as v; print(v.__version__)"])),
        "python": ctx.oras_python.as_ref().map(|p| first_line(p, &["--version"])),
        "registry": first_line(&testbed::registry::registry_bin(), &["--version"]),
        "trials_override": ctx.trials,
        "rss_floor_mib": rss_floor(&ctx),
    });

    let table = report::text_table(&rows);
    println!("\n{table}");
    let notes = report::notes(&rows);
    if !notes.is_empty() {
        println!("Notes:\n{notes}");
    }
    let env_md: String = environment
        .as_object()
        .map(|m| {
            m.iter()
                .map(|(k, v)| {
                    format!(
                        "- {k}: {}\n",
                        v.as_str().map_or(v.to_string(), str::to_string)
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    std::fs::write(
        ctx.out.join("results.md"),
        format!(
            "## Results\n\n{}\n### Notes\n\n{notes}\n### Environment\n\n{env_md}",
            report::markdown_table(&rows)
        ),
    )?;
    std::fs::write(
        ctx.out.join("results.json"),
        report::json(&rows, &environment),
    )?;
    println!(
        "written: {} and {}",
        ctx.out.join("results.md").display(),
        ctx.out.join("results.json").display()
    );
    Ok(())
}
