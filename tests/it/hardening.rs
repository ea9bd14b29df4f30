//! Hardening against hostile environments (issue 14): output paths that
//! are symlinks, FIFOs, devices or unwritable; credentials and foreign
//! origins; credential programs that print secrets, hang or fail; symlinks
//! to ignored files. Each test runs the real binary against the real
//! registry (testbed-registry, with a fault proxy or a recording listener)
//! or the API emulator, with real credential-plugin scripts, and checks the
//! exit code, the message, and that nothing else changed.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::os::unix::fs::{FileTypeExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::common::{Run, plugin};
use testbed_registry::{Auth, Registry, RegistryConfig, require_registry};

// ---------------------------------------------------------------- harness

/// A scrubbed environment with an empty HOME.
struct Env {
    home: tempfile::TempDir,
}

impl Env {
    fn new() -> Env {
        Env {
            home: tempfile::tempdir().expect("home"),
        }
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut cmd = plugin(self.home.path());
        cmd.env_remove("CI")
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .env("GIT_CEILING_DIRECTORIES", std::env::temp_dir())
            .args(args);
        cmd
    }

    fn run(&self, args: &[&str]) -> Run {
        Run::of(self.command(args).output().expect("run the binary"))
    }
}

/// A directory tree from (path, content) pairs.
fn tree(files: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    for (p, content) in files {
        crate::common::write(&dir.path().join(p), content);
    }
    dir
}

fn manifests() -> tempfile::TempDir {
    tree(&[(
        "cm.yaml",
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: demo\n",
    )])
}

fn s(p: &Path) -> &str {
    p.to_str().expect("utf8 path")
}

/// The tags of a repository (none when the repository does not exist).
fn tags(base_url: &str, repo: &str) -> Vec<String> {
    testbed::oci::list_tags(base_url, repo).unwrap_or_default()
}

/// The same with credentials.
fn tags_as(reg: &Registry, repo: &str) -> Vec<String> {
    let (user, password) = reg.credentials().expect("credentials");
    let opts = testbed::oci::ClientOptions::basic(&user, &password);
    testbed::oci::block_on(async {
        testbed::oci::Client::new(&reg.base_url(), &opts)?
            .list_tags(repo)
            .await
    })
    .unwrap_or_default()
}

/// Write an executable script.
fn script(dir: &Path, name: &str, body: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, format!("#!/bin/sh\n{body}\n")).expect("write script");
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    path
}

// ------------------------------------------- item 1, 9: output files

/// `--dotenv` through a symlink, into an existing 0600 file, into a FIFO
/// and to `/dev/stdout`: each is written in place (the link stays a link
/// and its target gets the text, the file keeps its mode, the FIFO stays
/// a FIFO and its reader gets the text, `/dev/stdout` stays what it was and
/// the text lands on stdout).
#[test]
fn output_files_are_written_in_place() {
    if !require_registry() {
        return;
    }
    let reg = Registry::start(RegistryConfig::default()).expect("registry");
    let env = Env::new();
    let src = manifests();
    let out = tempfile::tempdir().expect("out");
    let push = |tag: &str, dotenv: &Path| {
        env.run(&[
            "push",
            s(src.path()),
            &format!("oci://{}/h/out:{tag}", reg.host()),
            "--dotenv",
            s(dotenv),
        ])
    };

    // A symlink: its target is written, the link stays.
    let target = out.path().join("real.env");
    std::fs::write(&target, "OLD=1\n").expect("write");
    let link = out.path().join("link.env");
    std::os::unix::fs::symlink("real.env", &link).expect("symlink");
    push("link", &link).assert_ok();
    assert!(
        std::fs::symlink_metadata(&link)
            .expect("lstat")
            .file_type()
            .is_symlink(),
        "the symlink was replaced"
    );
    let text = std::fs::read_to_string(&target).expect("read target");
    assert!(text.contains("ARTIFACT_DIGEST=sha256:"), "{text}");
    assert!(!text.contains("OLD=1"), "{text}");

    // An existing 0600 file keeps its mode.
    let private = out.path().join("private.env");
    std::fs::write(&private, "OLD=1\n").expect("write");
    std::fs::set_permissions(&private, std::fs::Permissions::from_mode(0o600)).expect("chmod");
    push("private", &private).assert_ok();
    let meta = std::fs::metadata(&private).expect("stat");
    assert_eq!(meta.permissions().mode() & 0o777, 0o600, "mode changed");
    assert!(
        std::fs::read_to_string(&private)
            .expect("read")
            .contains("ARTIFACT_DIGEST=")
    );

    // A FIFO: its reader gets the text, it stays a FIFO.
    let fifo = out.path().join("fifo.env");
    let made = Command::new("mkfifo").arg(&fifo).status().expect("mkfifo");
    assert!(made.success());
    let reader = {
        let fifo = fifo.clone();
        std::thread::spawn(move || std::fs::read_to_string(fifo).expect("read fifo"))
    };
    push("fifo", &fifo).assert_ok();
    let text = reader.join().expect("reader");
    assert!(text.contains("ARTIFACT_DIGEST=sha256:"), "{text}");
    assert!(
        std::fs::symlink_metadata(&fifo)
            .expect("lstat")
            .file_type()
            .is_fifo(),
        "the FIFO was replaced"
    );

    // /dev/stdout: the text on stdout, /dev/stdout untouched.
    let before = std::fs::symlink_metadata("/dev/stdout").expect("lstat /dev/stdout");
    let r = push("stdout", Path::new("/dev/stdout"));
    r.assert_ok();
    assert!(r.stdout.contains("ARTIFACT_DIGEST=sha256:"), "{}", r.stdout);
    let after = std::fs::symlink_metadata("/dev/stdout").expect("lstat /dev/stdout");
    assert_eq!(
        before.file_type(),
        after.file_type(),
        "/dev/stdout replaced"
    );
    // Nothing was left beside the files (no temp or probe files).
    let mut names: Vec<String> = std::fs::read_dir(out.path())
        .expect("ls")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(names, ["fifo.env", "link.env", "private.env", "real.env"]);
}

/// A `--dotenv` (or `--junit`) that cannot be written — in a directory
/// where no file can be created, or a socket — is refused with exit 2
/// before the registry is touched: no tag, no file.
#[test]
fn unwritable_output_paths_are_refused_before_any_push() {
    if !require_registry() {
        return;
    }
    let reg = Registry::start(RegistryConfig::default()).expect("registry");
    let env = Env::new();
    let src = manifests();
    // As root no permission bit stops a write: /proc takes no new files.
    // Otherwise a read-only directory does.
    let ro = tempfile::tempdir().expect("ro");
    let unwritable_dir = if is_root() {
        PathBuf::from("/proc")
    } else {
        std::fs::set_permissions(ro.path(), std::fs::Permissions::from_mode(0o555)).expect("chmod");
        ro.path().to_path_buf()
    };
    let sock_dir = tempfile::tempdir().expect("sock");
    let sock = sock_dir.path().join("push.env");
    let _listener = std::os::unix::net::UnixListener::bind(&sock).expect("bind");
    for (flag, path, reason) in [
        (
            "--dotenv",
            unwritable_dir.join("push.env"),
            "cannot create a file in",
        ),
        (
            "--junit",
            unwritable_dir.join("wait.xml"),
            "cannot create a file in",
        ),
        ("--dotenv", sock.clone(), "it is a socket"),
    ] {
        let mut args = vec![
            "push".to_string(),
            s(src.path()).to_string(),
            format!("oci://{}/h/unwritable:v1", reg.host()),
            flag.to_string(),
            s(&path).to_string(),
        ];
        if flag == "--junit" {
            args.push("--wait".into());
        }
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let r = env.run(&args);
        r.assert_refused(
            2,
            &format!("cannot write {flag} {}", path.display()),
            "writable",
        );
        assert!(r.stderr.contains(reason), "{}", r.stderr);
        assert!(!path.is_file(), "{} written", path.display());
        assert!(
            tags(&reg.base_url(), "h/unwritable").is_empty(),
            "a tag was pushed"
        );
    }
    std::fs::set_permissions(ro.path(), std::fs::Permissions::from_mode(0o755)).expect("chmod");
}

fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("Uid:"))
                .and_then(|l| l.split_whitespace().nth(2).map(|u| u == "0"))
        })
        .unwrap_or(false)
}

// ------------------------------------- item 2: credentials stay at home

/// What a relay saw of one request.
#[derive(Debug, Clone)]
struct Seen {
    origin: &'static str,
    method: String,
    path: String,
    /// The raw request head (request line and headers).
    head: String,
}

impl Seen {
    fn authorized(&self) -> bool {
        self.head
            .lines()
            .any(|l| l.to_ascii_lowercase().starts_with("authorization:"))
    }
}

/// One HTTP/1.1 request read off a connection: (head, body).
fn read_request(stream: &mut TcpStream) -> Option<(String, Vec<u8>)> {
    let mut reader = BufReader::new(stream.try_clone().ok()?);
    let mut head = String::new();
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).ok()? == 0 {
            return None;
        }
        if line == "\r\n" || line == "\n" {
            break;
        }
        head.push_str(&line);
        if head.len() > 64 * 1024 {
            return None;
        }
    }
    let length = head
        .lines()
        .filter_map(|l| l.split_once(':'))
        .find(|(k, _)| k.trim().eq_ignore_ascii_case("content-length"))
        .and_then(|(_, v)| v.trim().parse::<usize>().ok())
        .unwrap_or(0);
    let mut body = vec![0; length];
    reader.read_exact(&mut body).ok()?;
    Some((head, body))
}

/// A relay in front of the registry, standing for one origin. The
/// registry's origin (`home`) forwards as is, but moves every blob upload
/// to the `foreign` origin (rewriting the upload `Location`) and redirects
/// every blob `HEAD` there (307). The foreign origin, like a storage
/// backend with pre-signed URLs, needs no credentials from the client: it
/// forwards with its own. Every request is recorded.
struct Relay {
    home: TcpListener,
    foreign: TcpListener,
    seen: Arc<Mutex<Vec<Seen>>>,
}

impl Relay {
    fn start(registry: &str, basic: &str) -> Relay {
        let home = TcpListener::bind("127.0.0.1:0").expect("bind");
        let foreign = TcpListener::bind("127.0.0.1:0").expect("bind");
        let seen = Arc::new(Mutex::new(Vec::new()));
        let foreign_host = foreign.local_addr().expect("addr").to_string();
        for (listener, origin) in [(&home, "home"), (&foreign, "foreign")] {
            let listener = listener.try_clone().expect("clone");
            let seen = seen.clone();
            let registry = registry.to_string();
            let basic = basic.to_string();
            let foreign_host = foreign_host.clone();
            std::thread::spawn(move || {
                for stream in listener.incoming() {
                    let Ok(stream) = stream else { continue };
                    let seen = seen.clone();
                    let (registry, basic, foreign_host) =
                        (registry.clone(), basic.clone(), foreign_host.clone());
                    std::thread::spawn(move || {
                        relay_one(stream, origin, &registry, &basic, &foreign_host, &seen)
                    });
                }
            });
        }
        Relay {
            home,
            foreign,
            seen,
        }
    }

    fn host(&self) -> String {
        self.home.local_addr().expect("addr").to_string()
    }

    fn seen(&self, origin: &str) -> Vec<Seen> {
        let _ = &self.foreign;
        self.seen
            .lock()
            .expect("lock")
            .iter()
            .filter(|s| s.origin == origin)
            .cloned()
            .collect()
    }
}

fn relay_one(
    mut client: TcpStream,
    origin: &'static str,
    registry: &str,
    basic: &str,
    foreign_host: &str,
    seen: &Mutex<Vec<Seen>>,
) {
    let Some((head, body)) = read_request(&mut client) else {
        return; // e.g. a TLS ClientHello: not HTTP
    };
    let mut lines = head.lines();
    let request_line = lines.next().unwrap_or_default().to_string();
    let mut parts = request_line.split_whitespace();
    let method = parts.next().unwrap_or_default().to_string();
    let path = parts.next().unwrap_or_default().to_string();
    seen.lock().expect("lock").push(Seen {
        origin,
        method: method.clone(),
        path: path.clone(),
        head: head.clone(),
    });
    if origin == "home" && method == "HEAD" && path.contains("/blobs/sha256:") {
        let answer = format!(
            "HTTP/1.1 307 Temporary Redirect\r\nLocation: http://{foreign_host}{path}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
        );
        let _ = client.write_all(answer.as_bytes());
        return;
    }
    let mut upstream_head = format!("{request_line}\r\nHost: {registry}\r\nConnection: close\r\n");
    for line in lines {
        let key = line
            .split(':')
            .next()
            .unwrap_or_default()
            .to_ascii_lowercase();
        if key == "host" || key == "connection" {
            continue;
        }
        if origin == "foreign" && key == "authorization" {
            continue;
        }
        upstream_head.push_str(line);
        upstream_head.push_str("\r\n");
    }
    if origin == "foreign" {
        upstream_head.push_str(&format!("Authorization: {basic}\r\n"));
    }
    upstream_head.push_str("\r\n");
    let Ok(mut upstream) = TcpStream::connect(registry) else {
        return;
    };
    if upstream.write_all(upstream_head.as_bytes()).is_err() || upstream.write_all(&body).is_err() {
        return;
    }
    let mut answer = Vec::new();
    let _ = upstream.read_to_end(&mut answer);
    let split = answer
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .unwrap_or(answer.len());
    let (response_head, rest) = answer.split_at(split);
    let mut response_head = String::from_utf8_lossy(response_head).into_owned();
    if origin == "home" && method == "POST" && path.contains("/blobs/uploads/") {
        let moved: Vec<String> = response_head
            .split("\r\n")
            .map(|l| {
                if l.to_ascii_lowercase().starts_with("location:") {
                    let value = l[9..].trim();
                    let path = match value.split_once("://") {
                        Some((_, rest)) => &rest[rest.find('/').unwrap_or(rest.len())..],
                        None => value,
                    };
                    format!("Location: http://{foreign_host}{path}")
                } else {
                    l.to_string()
                }
            })
            .collect();
        response_head = moved.join("\r\n");
    }
    let _ = client.write_all(response_head.as_bytes());
    let _ = client.write_all(rest);
}

/// An upload `Location` and a redirect at another origin get no
/// credentials: the blob PUTs and the redirected HEADs reach the foreign
/// origin without an Authorization header (nor the password in any form),
/// while the registry's own origin gets them; the push still succeeds.
#[test]
fn credentials_never_follow_a_foreign_location_or_redirect() {
    if !require_registry() {
        return;
    }
    let password = "relay-s3cret-8c1d";
    let reg = Registry::start(RegistryConfig {
        auth: Auth::Htpasswd {
            username: "pusher".into(),
            password: password.into(),
        },
        ..Default::default()
    })
    .expect("registry");
    use base64::Engine;
    let basic = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("pusher:{password}"))
    );
    let relay = Relay::start(&reg.host(), &basic);
    let env = Env::new();
    let src = manifests();
    let r = env.run(&[
        "push",
        s(src.path()),
        &format!("oci://{}/h/foreign:v1", relay.host()),
        "--creds",
        &format!("pusher:{password}"),
        "-o",
        "json",
        "-vv",
    ]);
    r.assert_ok();
    assert_eq!(r.json()["blobs_uploaded"], 2, "{}", r.stdout);
    let foreign = relay.seen("foreign");
    let puts = foreign
        .iter()
        .filter(|s| s.method == "PUT" && s.path.contains("/blobs/uploads/"))
        .count();
    let heads = foreign.iter().filter(|s| s.method == "HEAD").count();
    assert!(puts >= 2 && heads >= 2, "{foreign:#?}");
    for s in &foreign {
        assert!(
            !s.authorized(),
            "credentials sent to another origin: {s:#?}"
        );
        assert!(
            !s.head.contains(password) && !s.head.contains(&basic[6..]),
            "{s:#?}"
        );
    }
    assert!(
        relay.seen("home").iter().any(Seen::authorized),
        "the registry itself gets the credentials"
    );
    assert!(!r.stderr.contains(password), "{}", r.stderr);
    assert_eq!(tags_as(&reg, "h/foreign"), ["v1"]);
}

// ------------------- items 3, 5: credential programs (exec, docker helpers)

/// An API emulator and a kubeconfig whose user runs `plugin` (an exec
/// credential plugin) instead of holding the token.
struct ExecCluster {
    api: testbed::apiserver::ApiServer,
    home: tempfile::TempDir,
    kubeconfig: PathBuf,
}

impl ExecCluster {
    /// `body` is the plugin script; `$TOKEN` in it is the emulator's token.
    fn start(body: &str) -> ExecCluster {
        let api = testbed::apiserver::ApiServer::start(Default::default()).expect("emulator");
        let home = tempfile::tempdir().expect("home");
        let token = api.token().expect("token");
        let plugin = script(
            home.path(),
            "cred-plugin.sh",
            &body.replace("$TOKEN", &token),
        );
        let kc = api.kubeconfig("testbed", Some("flux-system"));
        let line = kc
            .lines()
            .find(|l| l.trim_start().starts_with("token:"))
            .expect("token line")
            .to_string();
        let exec = format!(
            "    exec:\n      apiVersion: client.authentication.k8s.io/v1\n      command: {}\n      interactiveMode: Never",
            plugin.display()
        );
        let kubeconfig = home.path().join("kubeconfig");
        crate::common::write(&kubeconfig, &kc.replace(&line, &exec));
        api.clear_requests();
        ExecCluster {
            api,
            home,
            kubeconfig,
        }
    }

    fn plugin_path(&self) -> PathBuf {
        self.home.path().join("cred-plugin.sh")
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut cmd = plugin(self.home.path());
        cmd.arg("--kubeconfig").arg(&self.kubeconfig).args(args);
        cmd
    }

    fn run(&self, args: &[&str]) -> Run {
        Run::of(self.command(args).output().expect("run"))
    }
}

const EXEC_SECRET: &str = "exec-plugin-s3cret-31f4";
const HELPER_SECRET: &str = "helper-s3cret-a07e";

/// A kubeconfig exec plugin and a docker credential helper that print
/// their credential and then exit non-zero: the error names the program,
/// its exit status and its stderr's first line — never its stdout — at
/// every verbosity; no request reaches the API, no tag is pushed.
#[test]
fn failing_credential_programs_never_show_their_output() {
    let printing = format!(
        "printf '{{\"apiVersion\":\"client.authentication.k8s.io/v1\",\"kind\":\"ExecCredential\",\"status\":{{\"token\":\"{EXEC_SECRET}\"}}}}'\necho 'login failed: session expired' >&2\necho 'second line' >&2\nexit 3"
    );
    let c = ExecCluster::start(&printing);
    let program = c.plugin_path();
    for verbosity in [None, Some("-v"), Some("-vvv")] {
        let mut args = vec!["status"];
        args.extend(verbosity);
        let r = c.run(&args);
        r.assert_refused(
            4,
            &format!(
                "the credential plugin {} of context \"testbed\" exited with status 3; its stderr: login failed: session expired",
                program.display()
            ),
            "run the program yourself",
        );
        assert!(!r.stderr.contains("second line"), "{}", r.stderr);
        for text in [&r.stdout, &r.stderr] {
            assert!(!text.contains(EXEC_SECRET), "secret printed:\n{text}");
            assert!(!text.contains("ExecCredential"), "stdout printed:\n{text}");
        }
    }
    assert!(c.api.requests().is_empty(), "a request reached the API");

    // Nothing on stderr: said so; the output still not shown.
    let silent = ExecCluster::start(&format!("echo '{EXEC_SECRET}'\nexit 1"));
    let r = silent.run(&["wait", "ks/apps", "--timeout", "10s"]);
    r.assert_refused(4, "exited with status 1; nothing on its stderr", "");
    assert!(!r.stderr.contains(EXEC_SECRET), "{}", r.stderr);

    // Output that is not an ExecCredential: not quoted either.
    let garbage = ExecCluster::start(&format!("echo 'token={EXEC_SECRET}'"));
    let r = garbage.run(&["status"]);
    r.assert_refused(4, "printed no usable ExecCredential", "");
    assert!(!r.stderr.contains(EXEC_SECRET), "{}", r.stderr);

    // A docker credential helper that prints its answer and fails.
    if !require_registry() {
        return;
    }
    let reg = Registry::start(RegistryConfig {
        auth: Auth::Htpasswd {
            username: "pusher".into(),
            password: HELPER_SECRET.into(),
        },
        ..Default::default()
    })
    .expect("registry");
    let env = Env::new();
    let bin = env.home.path().join("bin");
    std::fs::create_dir_all(&bin).expect("bin");
    script(
        &bin,
        "docker-credential-leaky",
        &format!(
            "cat >/dev/null\nprintf '{{\"ServerURL\":\"x\",\"Username\":\"pusher\",\"Secret\":\"{HELPER_SECRET}\"}}'\necho 'keychain locked' >&2\nexit 1"
        ),
    );
    crate::common::write(
        &env.home.path().join(".docker/config.json"),
        &format!("{{\"credHelpers\": {{\"{}\": \"leaky\"}}}}", reg.host()),
    );
    let path = format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let src = manifests();
    let target = format!("oci://{}/h/helper:v1", reg.host());
    for verbosity in ["-v", "-vvv"] {
        let r = Run::of(
            env.command(&["push", s(src.path()), &target, verbosity])
                .env("PATH", &path)
                .output()
                .expect("run"),
        );
        r.assert_refused(
            2,
            "docker-credential-leaky get exited with status 1; its stderr: keychain locked",
            "docker-credential-leaky",
        );
        for text in [&r.stdout, &r.stderr] {
            assert!(!text.contains(HELPER_SECRET), "secret printed:\n{text}");
        }
    }
    assert!(tags_as(&reg, "h/helper").is_empty(), "a tag was pushed");
}

/// The pids a hanging plugin wrote (itself and the `sleep` it started).
fn plugin_pids(file: &Path) -> Vec<u32> {
    std::fs::read_to_string(file)
        .unwrap_or_default()
        .split_whitespace()
        .filter_map(|p| p.parse().ok())
        .collect()
}

/// Whether a process is alive (a zombie is not).
fn alive(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|s| {
            s.rsplit_once(')')
                .and_then(|(_, rest)| rest.split_whitespace().next().map(|st| st != "Z"))
        })
        .unwrap_or(false)
}

#[track_caller]
fn assert_all_dead(pids: &[u32]) {
    assert_eq!(pids.len(), 2, "the plugin wrote its pids");
    let deadline = Instant::now() + Duration::from_secs(3);
    while pids.iter().any(|p| alive(*p)) {
        assert!(
            Instant::now() < deadline,
            "credential plugin processes left running: {pids:?}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A credential plugin that hangs (with a child of its own) is bounded by
/// `--request-timeout` (exit 4) and by `wait --timeout` (exit 3), named in
/// the message, and killed with its child; on SIGTERM the command exits
/// 130 promptly and kills them too. No request reaches the API.
#[test]
fn hanging_credential_plugins_are_bounded_and_killed() {
    let pidfile_dir = tempfile::tempdir().expect("pids");
    let pidfile = pidfile_dir.path().join("pids");
    let body = format!("sleep 60 &\necho $$ $! > {}\nwait", pidfile.display());
    let c = ExecCluster::start(&body);

    let started = Instant::now();
    let r = c.run(&["status", "--request-timeout", "2s"]);
    r.assert_refused(
        4,
        "did not answer within 2s (--request-timeout); it was stopped",
        "raise --request-timeout",
    );
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "{:?}",
        started.elapsed()
    );
    assert_all_dead(&plugin_pids(&pidfile));

    std::fs::remove_file(&pidfile).expect("rm");
    let started = Instant::now();
    let r = c.run(&[
        "wait",
        "ks/apps",
        "--timeout",
        "2s",
        "--request-timeout",
        "0",
    ]);
    r.assert_refused(3, "did not answer within 2s (--timeout)", "raise --timeout");
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "{:?}",
        started.elapsed()
    );
    assert_all_dead(&plugin_pids(&pidfile));

    // No limit at all: SIGTERM ends it.
    std::fs::remove_file(&pidfile).expect("rm");
    let mut child = c
        .command(&["status", "--request-timeout", "0"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    let deadline = Instant::now() + Duration::from_secs(10);
    while plugin_pids(&pidfile).len() < 2 {
        assert!(Instant::now() < deadline, "the plugin never started");
        std::thread::sleep(Duration::from_millis(20));
    }
    let pids = plugin_pids(&pidfile);
    let sent = Instant::now();
    Command::new("kill")
        .args(["-s", "TERM", &child.id().to_string()])
        .status()
        .expect("kill");
    let deadline = Instant::now() + Duration::from_secs(5);
    let status = loop {
        if let Some(status) = child.try_wait().expect("try_wait") {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("SIGTERM did not end the command within 5s");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    assert_eq!(status.code(), Some(130), "exit code");
    assert!(
        sent.elapsed() < Duration::from_secs(3),
        "{:?}",
        sent.elapsed()
    );
    assert_all_dead(&pids);
    assert!(c.api.requests().is_empty(), "a request reached the API");
}

// ------------------------------------- item 4: links to ignored files

/// A symlink to a `.sourceignore`d file and one to the ignored `.git`
/// directory are left out of the artifact, each with a note on stderr;
/// the rest is pushed (exit 0), and the pushed layer holds neither the
/// ignored content nor the links. The same in `--dry-run`.
#[test]
fn symlinks_to_ignored_files_are_left_out_with_a_note() {
    if !require_registry() {
        return;
    }
    let reg = Registry::start(RegistryConfig::default()).expect("registry");
    let env = Env::new();
    let src = tree(&[
        (
            "cm.yaml",
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: demo\n",
        ),
        (".sourceignore", "secret.yaml\n"),
        ("secret.yaml", "password: ignored-s3cret\n"),
        (
            ".git/config",
            "[remote \"origin\"]\n  url = https://u:git-s3cret@h/r\n",
        ),
    ]);
    std::os::unix::fs::symlink("secret.yaml", src.path().join("innocent.yaml")).expect("ln");
    std::os::unix::fs::symlink(".git", src.path().join("gitdir")).expect("ln");
    let notes = [
        "note: left out gitdir/config: it is a symlink to .git/config, which the ignore rules leave out",
        "note: left out innocent.yaml: it is a symlink to secret.yaml, which the ignore rules leave out",
    ];

    let dry = env.run(&[
        "push",
        s(src.path()),
        "oci://127.0.0.1:1/h/links:v1",
        "--dry-run",
        "-o",
        "json",
    ]);
    dry.assert_ok();
    for note in notes {
        assert!(dry.stderr.contains(note), "{}", dry.stderr);
    }
    let listed: Vec<String> = dry.json()["contents"]
        .as_array()
        .expect("contents")
        .iter()
        .map(|f| f["path"].as_str().unwrap_or_default().to_string())
        .collect();
    assert_eq!(listed, [".sourceignore", "cm.yaml"]);

    let r = env.run(&[
        "push",
        s(src.path()),
        &format!("oci://{}/h/links:v1", reg.host()),
    ]);
    r.assert_ok();
    for note in notes {
        assert!(r.stderr.contains(note), "{}", r.stderr);
    }
    assert!(!r.stderr.contains("s3cret"), "{}", r.stderr);
    let manifest = testbed::oci::pull_manifest(&reg.base_url(), "h/links", "v1").expect("manifest");
    let layer = manifest.layers()[0]["digest"]
        .as_str()
        .expect("digest")
        .to_string();
    let blob = testbed::oci::pull_blob(&reg.base_url(), "h/links", &layer).expect("layer");
    let files = testbed::oci::unpack_tar_gz(&blob).expect("unpack");
    let names: Vec<&str> = files.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names, [".sourceignore", "cm.yaml"]);
    for (_, data) in &files {
        assert!(!String::from_utf8_lossy(data).contains("s3cret"));
    }
}

// ------------------------------------------- item 11: API error messages

/// API errors print as plain messages: a `Status` as `<code> <reason>:
/// <message>`, never kube's debug dump of it, and no line twice; a server
/// that answers HTML is named as not being a Kubernetes API, with a hint
/// (exit 4).
#[test]
fn api_errors_are_plain_messages() {
    let api = testbed::apiserver::ApiServer::start(Default::default()).expect("emulator");
    let home = tempfile::tempdir().expect("home");
    let kubeconfig = home.path().join("kubeconfig");
    crate::common::write(&kubeconfig, &api.kubeconfig("testbed", Some("flux-system")));
    api.faults().deny("list", "kustomizations", None);
    let r = Run::of(
        plugin(home.path())
            .arg("--kubeconfig")
            .arg(&kubeconfig)
            .args(["status", "-A"])
            .output()
            .expect("run"),
    );
    assert_eq!(r.code, 4, "{}", r.stderr);
    assert!(!r.stderr.contains("Status {"), "debug dump:\n{}", r.stderr);
    assert!(
        !r.stderr.contains("ApiError:"),
        "kube's text:\n{}",
        r.stderr
    );
    let lines: Vec<&str> = r.stderr.lines().filter(|l| !l.trim().is_empty()).collect();
    let mut unique = lines.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(lines.len(), unique.len(), "a line repeats:\n{}", r.stderr);

    // A server answering HTML (a proxy's login page).
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("addr");
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let _ = read_request(&mut stream);
            let body = "<!DOCTYPE html><html><body>Please log in</body></html>";
            let _ = write!(
                stream,
                "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
        }
    });
    let html = format!(
        "apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster:\n    server: http://{addr}\nusers:\n- name: u\n  user:\n    token: t\ncontexts:\n- name: html\n  context:\n    cluster: c\n    user: u\ncurrent-context: html\n"
    );
    crate::common::write(&kubeconfig, &html);
    let r = Run::of(
        plugin(home.path())
            .arg("--kubeconfig")
            .arg(&kubeconfig)
            .args(["status"])
            .output()
            .expect("run"),
    );
    r.assert_refused(4, "does not answer as a Kubernetes API", "HTML");
    assert!(!r.stderr.contains("Please log in"), "{}", r.stderr);
}

/// Issue 14 item 10: `push --trigger --wait -o json` prints ONE JSON
/// document holding the push, the trigger and the wait (and `-o yaml` one
/// mapping), so `| jq` reads it.
#[test]
fn push_trigger_wait_prints_one_document() {
    use crate::common::bed::{Bed, NS, configmap};
    let Some(bed) = Bed::start() else { return };
    bed.create_source(
        NS,
        "apps",
        "demo/apps",
        serde_json::json!({"tag": "latest"}),
    );
    bed.create_ks(NS, "apps", "apps", serde_json::json!({}));
    let src = bed.dir.path().join("deploy");
    std::fs::create_dir_all(&src).expect("mkdir");
    std::fs::write(src.join("cm.yaml"), configmap("one", "")).expect("write");
    let target = format!("oci://{}/demo/apps:latest", bed.registry.host());
    for format in ["json", "yaml"] {
        let r = crate::common::run(bed.plugin().arg("push").arg(&src).arg(&target).args([
            "--trigger",
            "--wait",
            "--wait-timeout",
            "30s",
            "-o",
            format,
        ]));
        r.assert_ok();
        let docs: Vec<serde_json::Value> = if format == "json" {
            serde_json::Deserializer::from_str(&r.stdout)
                .into_iter::<serde_json::Value>()
                .collect::<Result<_, _>>()
                .expect("JSON values")
        } else {
            serde_saphyr::from_multiple(&r.stdout).expect("YAML documents")
        };
        assert_eq!(docs.len(), 1, "one {format} document:\n{}", r.stdout);
        let doc = &docs[0];
        for key in ["push", "trigger", "wait"] {
            assert!(doc.get(key).is_some(), "{key} in {doc}");
        }
        assert_eq!(doc["wait"]["result"], "ready", "{doc}");
        assert!(doc["push"]["digest"].is_string(), "{doc}");
        assert_eq!(doc["push"]["digest"], doc["wait"]["digest"], "{doc}");
        assert!(doc["trigger"]["token"].is_string(), "{doc}");
    }
}

/// Issue 14 item 6: an API server that accepts the connection and never
/// answers ends `wait` at its `--timeout` with exit 3 (the wait's own
/// limit), not with exit 4 when a request's limit passes.
#[test]
fn a_paused_api_server_is_a_timeout_at_the_deadline() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    // Accept and hold every connection, answering nothing.
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for conn in listener.incoming().flatten() {
            held.push(conn);
        }
    });
    let dir = tempfile::tempdir().expect("tempdir");
    let kubeconfig = dir.path().join("kubeconfig");
    std::fs::write(
        &kubeconfig,
        format!(
            "apiVersion: v1\nkind: Config\nclusters:\n- name: paused\n  cluster:\n    server: https://127.0.0.1:{port}\n    insecure-skip-tls-verify: true\nusers:\n- name: paused\n  user:\n    token: t0ken\ncontexts:\n- name: paused\n  context:\n    cluster: paused\n    user: paused\n    namespace: flux-system\ncurrent-context: paused\n"
        ),
    )
    .expect("kubeconfig");
    let r = crate::common::run(
        crate::common::plugin(dir.path())
            .arg("--kubeconfig")
            .arg(&kubeconfig)
            .args(["wait", "kustomization/apps", "--timeout", "3s"]),
    );
    r.assert_error(3, "timed out after 3s", "--timeout");
    // `--request-timeout 0` is no limit at all: not even the client's own
    // 30 s for connecting; the wait's --timeout (here past 30 s) decides.
    let r = crate::common::run(
        crate::common::plugin(dir.path())
            .arg("--kubeconfig")
            .arg(&kubeconfig)
            .args([
                "--request-timeout",
                "0",
                "wait",
                "kustomization/apps",
                "--timeout",
                "33s",
            ]),
    );
    r.assert_error(3, "timed out after 33s", "--timeout");
}
