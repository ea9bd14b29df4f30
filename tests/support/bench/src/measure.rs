//! Running one measured child process: wall time from spawn to exit, the
//! child's own peak RSS (`wait4`'s `ru_maxrss`), its exit status, output,
//! and the wall-clock moment it exited (compared with the simulator's
//! Ready times).
//!
//! Every measured command runs under this binary's small `rss-exec` mode,
//! which spawns the command, reaps it with `wait4` and writes what it
//! measured to a file. The detour matters for the peak RSS: Linux starts a
//! new program's `ru_maxrss` from the high-water mark of the memory image it
//! was spawned from, and the bench process itself holds the API emulator's
//! store (hundreds of MB at scale). Spawned from the fresh `rss-exec`
//! process, a child starts from a few MB (the floor is reported with the
//! results). The wall time is taken inside `rss-exec` too, so it does not
//! include the helper's own start.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context, bail};

/// What one run of a child process cost.
#[derive(Debug, Clone)]
pub struct Measured {
    /// From just before the spawn to the return of `wait4`.
    pub wall: Duration,
    /// Peak resident set size of the child, in KiB (Linux `ru_maxrss`).
    pub max_rss_kib: u64,
    /// Exit code (128 + signal number when killed by a signal).
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
    /// When `wait4` returned (wall clock).
    pub exited_at: SystemTime,
}

impl Measured {
    /// Fail with the command's output unless it exited 0.
    pub fn ok(self, what: &str) -> anyhow::Result<Measured> {
        if self.code != 0 {
            bail!(
                "{what} exited {}\n--- stdout\n{}\n--- stderr\n{}",
                self.code,
                tail(&self.stdout, 30),
                tail(&self.stderr, 30)
            );
        }
        Ok(self)
    }
}

fn tail(s: &str, n: usize) -> String {
    let lines: Vec<&str> = s.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

/// A command to measure: the `rss-exec` helper running `program`. Add the
/// program's arguments with `arg`/`args` as on any [`Command`].
pub struct Cmd {
    cmd: Command,
    result: PathBuf,
}

impl std::ops::Deref for Cmd {
    type Target = Command;
    fn deref(&self) -> &Command {
        &self.cmd
    }
}

impl std::ops::DerefMut for Cmd {
    fn deref_mut(&mut self) -> &mut Command {
        &mut self.cmd
    }
}

static COUNTER: AtomicUsize = AtomicUsize::new(0);

/// A command with a clean environment: only `PATH`, `HOME` and `LANG=C`, so
/// neither the developer's kubeconfig, docker config nor CI variables leak
/// into any tool that is measured.
pub fn clean(program: impl AsRef<std::ffi::OsStr>, home: &Path) -> Cmd {
    let id = COUNTER.fetch_add(1, Ordering::Relaxed);
    let result = std::env::temp_dir().join(format!(
        "gitlab-flux-bench-{}-{id}.measure",
        std::process::id()
    ));
    let helper = std::env::current_exe().unwrap_or_else(|_| PathBuf::from("gitlab-flux-bench"));
    let mut cmd = Command::new(helper);
    cmd.env_clear()
        .env(
            "PATH",
            std::env::var_os("PATH").unwrap_or_else(|| "/usr/bin:/bin".into()),
        )
        .env("HOME", home)
        .env("LANG", "C")
        .arg("rss-exec")
        .arg(&result)
        .arg(program);
    Cmd { cmd, result }
}

/// A child being measured; [`Running::finish`] reaps it.
pub struct Running {
    pid: libc::pid_t,
    result: PathBuf,
    out: std::thread::JoinHandle<String>,
    err: std::thread::JoinHandle<String>,
    // Kept so the pipes stay owned until the child is reaped; std never
    // waits for a child on drop.
    _child: Child,
}

fn drain(mut r: impl Read + Send + 'static) -> std::thread::JoinHandle<String> {
    std::thread::spawn(move || {
        let mut buf = Vec::new();
        let _ = r.read_to_end(&mut buf);
        String::from_utf8_lossy(&buf).into_owned()
    })
}

/// Spawn with stdin closed and stdout/stderr captured.
pub fn spawn(cmd: &mut Cmd) -> anyhow::Result<Running> {
    let _ = std::fs::remove_file(&cmd.result);
    cmd.cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.cmd.spawn().context("starting the rss-exec helper")?;
    let pid = libc::pid_t::try_from(child.id()).context("pid out of range")?;
    let out = drain(child.stdout.take().context("stdout pipe")?);
    let err = drain(child.stderr.take().context("stderr pipe")?);
    Ok(Running {
        pid,
        result: cmd.result.clone(),
        out,
        err,
        _child: child,
    })
}

/// Block until `pid` exits: (exit code, rusage).
fn reap(pid: libc::pid_t) -> anyhow::Result<(i32, libc::rusage)> {
    let mut status: libc::c_int = 0;
    // SAFETY: an all-zero `rusage` is a valid value of this plain C struct.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    loop {
        // SAFETY: `pid` is our own unreaped child; `status` and `usage` are
        // valid, writable and live for the call.
        let r = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
        if r == pid {
            break;
        }
        let e = std::io::Error::last_os_error();
        if e.kind() != std::io::ErrorKind::Interrupted {
            return Err(e).context("wait4");
        }
    }
    let code = if libc::WIFEXITED(status) {
        libc::WEXITSTATUS(status)
    } else if libc::WIFSIGNALED(status) {
        128 + libc::WTERMSIG(status)
    } else {
        -1
    };
    Ok((code, usage))
}

impl Running {
    /// Block until the child exits; collect what the helper measured.
    pub fn finish(self) -> anyhow::Result<Measured> {
        let (helper_code, _) = reap(self.pid)?;
        let stdout = self.out.join().unwrap_or_default();
        let stderr = self.err.join().unwrap_or_default();
        let text = std::fs::read_to_string(&self.result).with_context(|| {
            format!("the rss-exec helper exited {helper_code} without a result: {stderr}")
        })?;
        let _ = std::fs::remove_file(&self.result);
        let f: Vec<i128> = text
            .split_whitespace()
            .map(|s| s.parse().context("bad rss-exec result"))
            .collect::<anyhow::Result<_>>()?;
        let [wall_ns, rss, exited_ns, code] = f[..] else {
            bail!("bad rss-exec result {text:?}");
        };
        Ok(Measured {
            wall: Duration::from_nanos(u64::try_from(wall_ns)?),
            max_rss_kib: u64::try_from(rss)?,
            code: i32::try_from(code)?,
            stdout,
            stderr,
            exited_at: UNIX_EPOCH + Duration::from_nanos(u64::try_from(exited_ns)?),
        })
    }

    /// Whether the helper has exited (without reaping it).
    pub fn exited(&self) -> bool {
        // SAFETY: an all-zero `siginfo_t` is a valid value of this C struct.
        let mut info: libc::siginfo_t = unsafe { std::mem::zeroed() };
        // SAFETY: `info` is valid and writable; WNOWAIT leaves the child
        // reapable by `finish`.
        let r = unsafe {
            libc::waitid(
                libc::P_PID,
                self.pid as libc::id_t,
                &mut info,
                libc::WEXITED | libc::WNOHANG | libc::WNOWAIT,
            )
        };
        // SAFETY: reading the pid field of a siginfo filled by waitid.
        r == 0 && unsafe { info.si_pid() } == self.pid
    }
}

/// Spawn and wait: the usual case.
pub fn run(cmd: &mut Cmd) -> anyhow::Result<Measured> {
    spawn(cmd)?.finish()
}

/// The `rss-exec RESULT PROGRAM [ARGS…]` mode: run PROGRAM (stdio and
/// environment inherited), write `wall_ns max_rss_kib exited_at_unix_ns
/// exit_code` to RESULT, and exit with PROGRAM's code.
pub fn rss_exec(args: &[String]) -> anyhow::Result<i32> {
    let [result, program, rest @ ..] = args else {
        bail!("usage: gitlab-flux-bench rss-exec RESULT PROGRAM [ARGS…]");
    };
    let start = Instant::now();
    let child = Command::new(program)
        .args(rest)
        .spawn()
        .with_context(|| format!("starting {program}"))?;
    let (code, usage) = reap(libc::pid_t::try_from(child.id())?)?;
    let wall = start.elapsed();
    let exited = SystemTime::now().duration_since(UNIX_EPOCH)?;
    std::fs::write(
        result,
        format!(
            "{} {} {} {code}\n",
            wall.as_nanos(),
            usage.ru_maxrss,
            exited.as_nanos()
        ),
    )?;
    Ok(code)
}
