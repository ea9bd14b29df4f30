//! The processes of a real cluster: one process group (anchored by a
//! `sleep` so that it outlives any member), and a reaper that kills the group
//! and removes the cluster's directory when its stdin closes — on drop, on an
//! error during start-up, and when the test process itself dies (a signal,
//! a panic, or the end of a test binary whose cluster sits in a `static`).

use std::io::Write;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::Context;

const REAPER: &str = r#"
trap '' INT TERM HUP PIPE
read -r pgid || exit 0
extra=""
while read -r line; do extra="$extra $line"; done
kill -TERM -- "-$pgid" $extra 2>/dev/null
for _ in $(seq 1 50); do
  alive=0
  kill -0 -- "-$pgid" 2>/dev/null && alive=1
  for p in $extra; do kill -0 "$p" 2>/dev/null && alive=1; done
  [ "$alive" = 0 ] && break
  sleep 0.1
done
kill -KILL -- "-$pgid" $extra 2>/dev/null
rm -rf -- "$1"
"#;

/// A process group plus its reaper.
pub struct Group {
    pgid: i32,
    anchor: Child,
    reaper: Child,
    reaper_in: Option<ChildStdin>,
    children: Vec<(String, Child)>,
    logs: PathBuf,
}

impl Group {
    /// A new group whose reaper removes `dir` when it is done.
    pub fn new(dir: &Path) -> anyhow::Result<Group> {
        let logs = dir.join("logs");
        std::fs::create_dir_all(&logs)?;
        let anchor = Command::new("sleep")
            .arg("infinity")
            .process_group(0)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .context("spawning the process-group anchor (sleep)")?;
        let pgid = anchor.id() as i32;
        let mut reaper = Command::new("bash")
            .arg("-c")
            .arg(REAPER)
            .arg("reaper")
            .arg(dir)
            // Its own group: a Ctrl-C in the terminal must not kill it
            // before it has cleaned up.
            .process_group(0)
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .context("spawning the reaper (bash)")?;
        let mut reaper_in = reaper.stdin.take();
        if let Some(w) = reaper_in.as_mut() {
            writeln!(w, "{pgid}")?;
        }
        Ok(Group {
            pgid,
            anchor,
            reaper,
            reaper_in,
            children: Vec::new(),
            logs,
        })
    }

    /// Also kill this process (not in the group) when done.
    pub fn adopt_pid(&mut self, pid: u32) {
        if let Some(w) = self.reaper_in.as_mut() {
            let _ = writeln!(w, "{pid}");
        }
    }

    pub fn log_path(&self, name: &str) -> PathBuf {
        self.logs.join(format!("{name}.log"))
    }

    /// Spawn `cmd` in the group, stdout and stderr into `logs/NAME.log`.
    pub fn spawn(&mut self, name: &str, mut cmd: Command) -> anyhow::Result<()> {
        let log = std::fs::File::create(self.log_path(name))?;
        let child = cmd
            .process_group(self.pgid)
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .spawn()
            .with_context(|| format!("spawning {name} ({:?})", cmd.get_program()))?;
        self.children.push((name.to_string(), child));
        Ok(())
    }

    /// An error when a process of the group has exited.
    pub fn check_alive(&mut self) -> anyhow::Result<()> {
        for (name, child) in &mut self.children {
            if let Some(status) = child.try_wait()? {
                anyhow::bail!("{name} exited during start-up ({status})");
            }
        }
        Ok(())
    }

    /// The last `lines` lines of a process's log.
    pub fn log_tail(&self, name: &str, lines: usize) -> String {
        let text = std::fs::read_to_string(self.log_path(name)).unwrap_or_default();
        let all: Vec<&str> = text.lines().collect();
        all[all.len().saturating_sub(lines)..].join("\n")
    }

    /// Tails of every log, for a start-up failure.
    pub fn all_tails(&self, lines: usize) -> String {
        let mut out = String::new();
        for (name, _) in &self.children {
            out.push_str(&format!(
                "--- {name} ({}) ---\n{}\n",
                self.log_path(name).display(),
                self.log_tail(name, lines)
            ));
        }
        out
    }

    /// Kill everything and remove the directory; waits for the reaper.
    pub fn stop(&mut self) {
        drop(self.reaper_in.take());
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.reaper.try_wait() {
                break;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        for (_, child) in &mut self.children {
            let _ = child.kill();
            let _ = child.wait();
        }
        let _ = self.anchor.kill();
        let _ = self.anchor.wait();
        let _ = self.reaper.wait();
    }

    pub fn pgid(&self) -> i32 {
        self.pgid
    }
}

impl Drop for Group {
    fn drop(&mut self) {
        self.stop();
    }
}

/// The pid of a child process of ours whose command line has an argument
/// starting with `needle` (e.g. the registry's config file in its temp dir).
pub fn child_pid_with_arg(needle: &str) -> Option<u32> {
    let me = std::process::id();
    for entry in std::fs::read_dir("/proc").ok()?.flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
            continue;
        };
        // pid (comm) state ppid ...
        let ppid = stat
            .rsplit_once(')')
            .and_then(|(_, rest)| rest.split_whitespace().nth(1))
            .and_then(|p| p.parse::<u32>().ok());
        if ppid != Some(me) {
            continue;
        }
        let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
        if cmdline
            .split(|b| *b == 0)
            .any(|a| a.starts_with(needle.as_bytes()))
        {
            return Some(pid);
        }
    }
    None
}
