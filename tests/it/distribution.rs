//! Distribution (docs/distribution.md): the release archives of
//! `scripts/dist.sh`, the krew manifest generated from them (checked against
//! krew's rules here, independently of the generator, then installed the way
//! krew installs a plugin and run through the real kubectl), and the
//! container image (pushed with the plugin's registry client, pulled back
//! with the test bed's own client, unpacked and run in a chroot).

use std::collections::BTreeMap;
use std::io::Read as _;
use std::path::{Path, PathBuf};
use std::process::Command;

use gitlab_flux_release::image::{self, Inputs};
use gitlab_flux_release::krew;
use gitlab_flux_release::package::Package;
use serde_json::{Value, json};
use sha2::{Digest as _, Sha256};

use crate::common::{Run, bin, kubectl, run, scrub};

const VERSION: &str = env!("CARGO_PKG_VERSION");
const HELPER: &str = "kubectl_complete-gitlab_flux";

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn package() -> Package {
    Package::read(&repo().join("Cargo.toml")).expect("the plugin's Cargo.toml")
}

fn archive_name(platform: &str) -> String {
    format!("kubectl-gitlab_flux_v{VERSION}_{platform}.tar.gz")
}

fn dist(args: &[&str]) -> Run {
    run(Command::new(repo().join("scripts/dist.sh"))
        .args(args)
        .current_dir(repo()))
}

/// The linux/amd64 archive of the debug binary (the fast path: no build,
/// gzip -1).
fn fast_archive(out: &Path) -> PathBuf {
    let binary = bin();
    dist(&[
        "--out",
        path_str(out),
        "--platform",
        "linux_amd64",
        "--binary",
        path_str(&binary),
        "--gzip-level",
        "1",
    ])
    .assert_ok();
    out.join(archive_name("linux_amd64"))
}

fn path_str(p: &Path) -> &str {
    p.to_str().expect("UTF-8 path")
}

fn sha256_hex(data: &[u8]) -> String {
    hex::encode(Sha256::digest(data))
}

#[derive(Debug)]
struct TarEntry {
    name: String,
    kind: tar::EntryType,
    mode: u32,
    uid: u64,
    gid: u64,
    mtime: u64,
    owner_names: String,
    data: Vec<u8>,
}

fn gunzip(gz: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(gz)
        .read_to_end(&mut out)
        .expect("gzip");
    out
}

fn tar_entries(tar_bytes: &[u8]) -> Vec<TarEntry> {
    let mut a = tar::Archive::new(tar_bytes);
    a.entries()
        .expect("tar")
        .map(|e| {
            let mut e = e.expect("entry");
            let h = e.header().clone();
            let mut data = Vec::new();
            e.read_to_end(&mut data).expect("entry data");
            TarEntry {
                name: e.path().expect("path").to_string_lossy().into_owned(),
                kind: h.entry_type(),
                mode: h.mode().expect("mode"),
                uid: h.uid().expect("uid"),
                gid: h.gid().expect("gid"),
                mtime: h.mtime().expect("mtime"),
                owner_names: format!(
                    "{}{}",
                    h.username().ok().flatten().unwrap_or(""),
                    h.groupname().ok().flatten().unwrap_or("")
                ),
                data,
            }
        })
        .collect()
}

#[test]
fn archives_hold_the_plugin_and_are_reproducible() {
    let tmp = tempfile::tempdir().expect("tmp");
    let a = fast_archive(&tmp.path().join("a"));
    let b = fast_archive(&tmp.path().join("b"));
    let bytes = std::fs::read(&a).expect("archive");
    assert!(
        bytes == std::fs::read(&b).expect("archive"),
        "two runs gave different archives"
    );

    // gzip: no file name (FLG.FNAME), no time.
    assert_eq!(&bytes[..2], b"\x1f\x8b");
    assert_eq!(bytes[3] & 0x08, 0, "gzip header carries a file name");
    assert_eq!(&bytes[4..8], &[0, 0, 0, 0], "gzip header carries a time");

    let entries = tar_entries(&gunzip(&bytes));
    let names: Vec<&str> = entries.iter().map(|e| e.name.as_str()).collect();
    assert_eq!(
        names,
        ["LICENSE", "README.md", "kubectl-gitlab_flux", HELPER],
        "entries, sorted by name"
    );
    for e in &entries {
        assert!(e.kind.is_file(), "{} is not a regular file", e.name);
        assert_eq!((e.uid, e.gid, e.mtime), (0, 0, 0), "{}", e.name);
        assert_eq!(e.owner_names, "", "{} has owner names", e.name);
        let want = if e.name.starts_with("kubectl") {
            0o755
        } else {
            0o644
        };
        assert_eq!(e.mode, want, "mode of {}", e.name);
    }
    let data = |name: &str| &entries.iter().find(|e| e.name == name).expect(name).data;
    assert!(*data("kubectl-gitlab_flux") == std::fs::read(bin()).expect("bin"));
    assert_eq!(
        *data("LICENSE"),
        std::fs::read(repo().join("LICENSE")).expect("LICENSE")
    );
    assert_eq!(
        *data(HELPER),
        std::fs::read(repo().join("completions").join(HELPER)).expect("helper")
    );

    let sums = std::fs::read_to_string(tmp.path().join("a/SHA256SUMS")).expect("SHA256SUMS");
    assert_eq!(
        sums,
        format!("{}  {}\n", sha256_hex(&bytes), archive_name("linux_amd64"))
    );
}

#[test]
fn dist_refuses_bad_arguments() {
    let tmp = tempfile::tempdir().expect("tmp");
    let out = tmp.path().join("out");
    let binary = bin();
    let cases: [(&[&str], &str); 4] = [
        (
            &["--platform", "windows_amd64"],
            "unknown platform windows_amd64",
        ),
        (
            &[
                "--platform",
                "linux_amd64,linux_arm64",
                "--binary",
                path_str(&binary),
            ],
            "--binary needs exactly one --platform",
        ),
        (
            &["--platform", "linux_amd64", "--binary", "/nonexistent"],
            "is not an executable file",
        ),
        (&["--gzip-level", "0"], "--gzip-level must be 1 to 9"),
    ];
    for (args, message) in cases {
        let mut all = vec!["--out", path_str(&out)];
        all.extend_from_slice(args);
        let r = dist(&all);
        assert_eq!(r.code, 1, "{args:?}: {}", r.stderr);
        assert!(r.stderr.contains(message), "{args:?}: {}", r.stderr);
    }
    assert!(!out.exists(), "nothing is written on a usage error");
}

// ---- krew ------------------------------------------------------------------

/// The OS/arch pairs krew-index checks a manifest against.
const KREW_OSES: [&str; 3] = ["linux", "darwin", "windows"];
const KREW_ARCHES: [&str; 6] = ["amd64", "arm64", "386", "arm", "ppc64le", "s390x"];

fn str_at<'a>(v: &'a Value, path: &[&str]) -> Option<&'a str> {
    path.iter().try_fold(v, |v, k| v.get(k))?.as_str()
}

fn selector_matches(platform: &Value, os: &str, arch: &str) -> bool {
    let labels = platform
        .pointer("/selector/matchLabels")
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default();
    let want = BTreeMap::from([("os", os), ("arch", arch)]);
    labels
        .iter()
        .all(|(k, v)| want.get(k.as_str()).is_some_and(|w| v.as_str() == Some(*w)))
}

fn archive_of(platform: &Value, archives: &Path) -> Option<PathBuf> {
    let uri = platform.get("uri")?.as_str()?;
    let file = uri.rsplit('/').next()?;
    Some(archives.join(file)).filter(|p| p.is_file())
}

/// A release archive as the checks see it: its sha256 and file names.
struct Published {
    sha256: String,
    names: Vec<String>,
}

/// The archives of a directory, read once, by file name.
fn published(dir: &Path) -> BTreeMap<String, Published> {
    std::fs::read_dir(dir)
        .expect("archives")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.to_string_lossy().ends_with(".tar.gz"))
        .map(|p| {
            let bytes = std::fs::read(&p).expect("archive");
            let names = tar_entries(&gunzip(&bytes))
                .into_iter()
                .map(|e| e.name)
                .collect();
            let file = p.file_name().expect("name").to_string_lossy().into_owned();
            let sha256 = sha256_hex(&bytes);
            (file, Published { sha256, names })
        })
        .collect()
}

/// Does a krew `files[].from` glob match a path of the archive?
fn glob_matches(pattern: &str, name: &str) -> bool {
    match pattern.split_once('*') {
        None => pattern == name,
        Some((head, tail)) => {
            name.len() >= head.len() + tail.len()
                && name.starts_with(head)
                && name.ends_with(tail)
                && !name[head.len()..name.len() - tail.len()].contains('/')
        }
    }
}

/// krew's rules (sigs.k8s.io/krew pkg/index/validation, and krew-index's
/// checks): the violations found, empty when the manifest is valid.
fn krew_violations(
    m: &Value,
    file_stem: &str,
    archives: &BTreeMap<String, Published>,
) -> Vec<String> {
    let mut v = Vec::new();
    if str_at(m, &["apiVersion"]) != Some("krew.googlecontainertools.github.com/v1alpha2") {
        v.push("apiVersion".to_string());
    }
    if str_at(m, &["kind"]) != Some("Plugin") {
        v.push("kind".to_string());
    }
    let name = str_at(m, &["metadata", "name"]).unwrap_or("");
    let name_re = regex::Regex::new(r"^[\w-]+$").expect("regex");
    if !name_re.is_match(name) || name != file_stem {
        v.push(format!("metadata.name {name:?} (file {file_stem}.yaml)"));
    }
    let version = str_at(m, &["spec", "version"]).unwrap_or("");
    let semver_with_v = version
        .strip_prefix('v')
        .map(semver::Version::parse)
        .is_some_and(|parsed| parsed.is_ok());
    if !semver_with_v {
        v.push(format!("spec.version {version:?} is not semver with a v"));
    }
    let short = str_at(m, &["spec", "shortDescription"]).unwrap_or("");
    // krew-index review: one line of at most 50 characters.
    if short.trim().is_empty() || short.contains('\n') || short.chars().count() > 50 {
        v.push(format!("spec.shortDescription {short:?}"));
    }
    // krew's plugin-manifest guide: a description in prose, not a list of
    // subcommands.
    let description = str_at(m, &["spec", "description"]).unwrap_or("");
    if description
        .lines()
        .any(|l| l.trim_start().starts_with(['-', '*']))
    {
        v.push("spec.description lists items instead of describing the plugin".to_string());
    }
    if !str_at(m, &["spec", "homepage"]).is_some_and(|h| h.starts_with("https://")) {
        v.push("spec.homepage".to_string());
    }
    if str_at(m, &["spec", "description"]).is_none_or(|d| d.trim().is_empty()) {
        v.push("spec.description".to_string());
    }
    let platforms = m
        .pointer("/spec/platforms")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    if platforms.is_empty() {
        v.push("spec.platforms is empty".to_string());
    }
    for os in KREW_OSES {
        for arch in KREW_ARCHES {
            let n = platforms
                .iter()
                .filter(|p| selector_matches(p, os, arch))
                .count();
            if n > 1 {
                v.push(format!(
                    "{n} platforms match {os}/{arch} (selectors overlap)"
                ));
            }
        }
    }
    let sha_re = regex::Regex::new("^[a-f0-9]{64}$").expect("regex");
    for (i, p) in platforms.iter().enumerate() {
        let at = |what: &str| format!("platforms[{i}].{what}");
        if p.pointer("/selector/matchLabels")
            .and_then(Value::as_object)
            .is_none_or(|l| l.is_empty())
        {
            v.push(at("selector"));
        }
        if !str_at(p, &["uri"]).is_some_and(|u| u.starts_with("https://")) {
            v.push(at("uri"));
        }
        let sha = str_at(p, &["sha256"]).unwrap_or("");
        if !sha_re.is_match(sha) {
            v.push(at("sha256 is not 64 lowercase hex"));
        }
        let file = str_at(p, &["uri"]).and_then(|u| u.rsplit('/').next());
        let Some(archive) = file.and_then(|f| archives.get(f)) else {
            v.push(at("uri names no archive of the release"));
            continue;
        };
        if archive.sha256 != sha {
            v.push(at("sha256 does not match the archive"));
        }
        let installed = install_names(p, &archive.names);
        let bin = str_at(p, &["bin"]).unwrap_or("");
        if bin.is_empty() || !installed.iter().any(|n| n == bin) {
            v.push(at(&format!("bin {bin:?} is not among the installed files")));
        }
        if !installed.iter().any(|n| n.starts_with("LICENSE")) {
            v.push(at("no LICENSE among the installed files"));
        }
    }
    v
}

/// What krew would install from an archive: the archive paths matched by
/// the `files[].from` globs, placed under `to` (flattened to the base name).
fn install_names(platform: &Value, entries: &[String]) -> Vec<String> {
    let mut names = Vec::new();
    for op in platform
        .get("files")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default()
    {
        let from = str_at(&op, &["from"]).unwrap_or("");
        let to = str_at(&op, &["to"]).unwrap_or(".");
        for e in entries.iter().filter(|e| glob_matches(from, e)) {
            let base = e.rsplit('/').next().unwrap_or(e);
            let dest = Path::new(to).join(base);
            let dest = dest.strip_prefix(".").unwrap_or(&dest);
            names.push(dest.to_string_lossy().into_owned());
        }
    }
    names
}

/// Install a platform the way krew does: check the sha256, unpack, move the
/// `files` into `<root>/store/<name>/<version>/`, link `<root>/bin/kubectl-<name
/// with _>` to `bin`.
fn krew_install(root: &Path, manifest: &Value, platform: &Value, archives: &Path) {
    let name = str_at(manifest, &["metadata", "name"]).expect("name");
    let version = str_at(manifest, &["spec", "version"]).expect("version");
    let bytes = std::fs::read(archive_of(platform, archives).expect("archive")).expect("read");
    assert_eq!(
        sha256_hex(&bytes),
        str_at(platform, &["sha256"]).expect("sha256")
    );
    let store = root.join("store").join(name).join(version);
    let entries = tar_entries(&gunzip(&bytes));
    for op in platform["files"].as_array().expect("files") {
        let from = str_at(op, &["from"]).expect("from");
        let to = match str_at(op, &["to"]).expect("to") {
            "." => store.clone(),
            to => store.join(to),
        };
        std::fs::create_dir_all(&to).expect("mkdir");
        let mut matched = false;
        for e in entries.iter().filter(|e| glob_matches(from, &e.name)) {
            matched = true;
            let dest = to.join(e.name.rsplit('/').next().expect("base name"));
            std::fs::write(&dest, &e.data).expect("write");
            use std::os::unix::fs::PermissionsExt as _;
            std::fs::set_permissions(&dest, std::fs::Permissions::from_mode(e.mode))
                .expect("chmod");
        }
        assert!(matched, "krew: files[].from {from:?} matches nothing");
    }
    let bin = store.join(str_at(platform, &["bin"]).expect("bin"));
    assert!(
        bin.is_file(),
        "krew: bin {} was not installed",
        bin.display()
    );
    std::fs::create_dir_all(root.join("bin")).expect("mkdir");
    let link = root
        .join("bin")
        .join(format!("kubectl-{}", name.replace('-', "_")));
    std::os::unix::fs::symlink(&bin, &link).expect("symlink");
}

#[test]
fn krew_manifest_follows_krew_rules() {
    let tmp = tempfile::tempdir().expect("tmp");
    let archives = tmp.path().join("dist");
    fast_archive(&archives);
    let opts = krew::Options {
        dist: archives.clone(),
        package: package(),
        download_base: None,
        strict: false,
    };
    let generated = krew::generate(&opts).expect("manifest");
    assert_eq!(
        generated.missing,
        ["darwin/amd64", "darwin/arm64", "linux/arm64"]
    );
    let m: Value = serde_saphyr::from_str(&generated.yaml).expect("YAML");
    let published = published(&archives);
    assert_eq!(
        krew_violations(&m, "gitlab-flux", &published),
        Vec::<String>::new(),
        "{}",
        generated.yaml
    );
    assert_eq!(m["spec"]["version"], format!("v{VERSION}"));
    assert_eq!(m["spec"]["homepage"], package().repository.as_str());
    let platforms = m["spec"]["platforms"].as_array().expect("platforms");
    assert_eq!(platforms.len(), 1);
    assert_eq!(
        platforms[0]["uri"],
        format!(
            "{}/-/releases/v{VERSION}/downloads/{}",
            package().repository,
            archive_name("linux_amd64")
        )
    );
    let caveats = m["spec"]["caveats"].as_str().expect("caveats");
    assert!(caveats.contains(HELPER), "{caveats}");

    // A release must ship every platform.
    let err = krew::generate(&krew::Options {
        strict: true,
        ..opts.clone()
    })
    .expect_err("strict without darwin");
    assert!(err.to_string().contains("darwin/amd64"), "{err}");

    // The checks above catch what krew rejects.
    let broken: [(&str, Value, &str); 9] = [
        ("/metadata/name", json!("gitlab flux"), "metadata.name"),
        ("/spec/version", json!("0.1.0"), "spec.version"),
        ("/spec/shortDescription", json!("a\nb"), "shortDescription"),
        (
            "/spec/shortDescription",
            json!("x".repeat(51)),
            "shortDescription",
        ),
        (
            "/spec/description",
            json!("- push\n- wait\n"),
            "description",
        ),
        (
            "/spec/platforms/0/sha256",
            json!("A".repeat(64)),
            "64 lowercase hex",
        ),
        (
            "/spec/platforms/0/sha256",
            json!("a".repeat(64)),
            "does not match",
        ),
        ("/spec/platforms/0/bin", json!("kubectl-gitlab-flux"), "bin"),
        (
            "/spec/platforms/0/files",
            json!([{"from": "kubectl-*", "to": "."}]),
            "LICENSE",
        ),
    ];
    for (pointer, value, expected) in broken {
        let mut bad = m.clone();
        *bad.pointer_mut(pointer).expect(pointer) = value;
        let v = krew_violations(&bad, "gitlab-flux", &published);
        assert!(
            v.iter().any(|s| s.contains(expected)),
            "{pointer}: expected a violation with {expected:?}, got {v:?}"
        );
    }
    let mut overlap = m.clone();
    let mut any_arch = platforms[0].clone();
    any_arch["selector"]["matchLabels"] = json!({"os": "linux"});
    overlap["spec"]["platforms"]
        .as_array_mut()
        .expect("platforms")
        .push(any_arch);
    let v = krew_violations(&overlap, "gitlab-flux", &published);
    assert!(v.iter().any(|s| s.contains("overlap")), "{v:?}");
}

#[test]
fn krew_install_runs_through_kubectl() {
    let Some(kubectl) = kubectl() else { return };
    let tmp = tempfile::tempdir().expect("tmp");
    let archives = tmp.path().join("dist");
    fast_archive(&archives);
    let generated = krew::generate(&krew::Options {
        dist: archives.clone(),
        package: package(),
        download_base: None,
        strict: false,
    })
    .expect("manifest");
    let m: Value = serde_saphyr::from_str(&generated.yaml).expect("YAML");
    let platform = m["spec"]["platforms"]
        .as_array()
        .expect("platforms")
        .iter()
        .find(|p| selector_matches(p, "linux", "amd64"))
        .expect("a linux/amd64 platform")
        .clone();
    let root = tmp.path().join("krew");
    krew_install(&root, &m, &platform, &archives);

    let krew_bin = root.join("bin");
    let path = format!("{}:/usr/bin:/bin", krew_bin.display());
    let kubectl_run = |args: &[&str]| {
        let mut cmd = Command::new(&kubectl);
        scrub(&mut cmd, tmp.path());
        run(cmd.args(args).env("PATH", &path).env("KREW_ROOT", &root))
    };
    let r = kubectl_run(&["gitlab-flux", "version"]);
    r.assert_ok();
    assert!(
        r.stdout
            .starts_with(&format!("kubectl-gitlab-flux {VERSION} ")),
        "{}",
        r.stdout
    );
    let r = kubectl_run(&["plugin", "list"]);
    r.assert_ok();
    let ours = krew_bin.join("kubectl-gitlab_flux");
    assert!(
        r.stdout
            .lines()
            .any(|l| l.trim() == ours.to_str().expect("utf-8")),
        "kubectl plugin list does not show {}:\n{}{}",
        ours.display(),
        r.stdout,
        r.stderr
    );

    // The caveat's command puts the completion helper on PATH.
    let caveats = m["spec"]["caveats"].as_str().expect("caveats");
    let line = caveats
        .lines()
        .map(str::trim)
        .find(|l| l.starts_with("install ") && l.contains(HELPER))
        .unwrap_or_else(|| panic!("no install command in the caveats:\n{caveats}"));
    let mut sh = Command::new("/bin/sh");
    scrub(&mut sh, tmp.path());
    run(sh.args(["-c", line]).env("KREW_ROOT", &root)).assert_ok();
    let helper = krew_bin.join(HELPER);
    use std::os::unix::fs::PermissionsExt as _;
    let mode = std::fs::metadata(&helper)
        .expect("helper")
        .permissions()
        .mode();
    assert_eq!(mode & 0o111, 0o111, "helper not executable");
    assert_eq!(
        std::fs::read(&helper).expect("helper"),
        std::fs::read(repo().join("completions").join(HELPER)).expect("helper")
    );

    // With the helper installed, kubectl completes the plugin's commands.
    let r = kubectl_run(&["__complete", "gitlab-flux", "wa"]);
    r.assert_ok();
    assert!(
        r.stdout.lines().any(|l| l.starts_with("wait")),
        "kubectl __complete gitlab-flux wa offers no `wait`:\n{}{}",
        r.stdout,
        r.stderr
    );
}

// ---- container image -------------------------------------------------------

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

/// Whether this test can run here; under CI=true a missing part fails.
fn image_test_possible() -> bool {
    let ci = std::env::var("CI").as_deref() == Ok("true");
    let skip = |why: &str| {
        assert!(!ci, "CI=true, so tests must not be skipped: {why}");
        eprintln!("skipping: {why}");
        false
    };
    if !cfg!(all(target_os = "linux", target_arch = "x86_64")) {
        return skip("the image test builds a linux/amd64 image and runs it");
    }
    if !is_root() {
        return skip("running the image in a chroot needs root");
    }
    if !Path::new("/bin/busybox").is_file() || !Path::new(CA_BUNDLE).is_file() {
        return skip(
            "busybox-static and ca-certificates are needed (apt-get install busybox-static ca-certificates)",
        );
    }
    testbed_registry::require_registry()
}

const CA_BUNDLE: &str = "/etc/ssl/certs/ca-certificates.crt";

/// Unpack image layers in order into `dir`, as a container runtime does
/// (no whiteouts in this image).
fn unpack_layers(layers: &[Vec<u8>], dir: &Path) {
    for layer in layers {
        let tar_bytes = gunzip(layer);
        let mut a = tar::Archive::new(tar_bytes.as_slice());
        a.set_preserve_permissions(true);
        a.set_overwrite(true);
        a.unpack(dir).expect("unpack layer");
    }
}

#[test]
fn container_image_runs_the_static_plugin() {
    if !image_test_possible() {
        return;
    }
    let tmp = tempfile::tempdir().expect("tmp");
    // The static binary as a release builds it (musl; static glibc where the
    // musl target cannot be installed), in the cheap dist-test profile.
    let musl = Command::new("rustup")
        .args(["target", "list", "--installed"])
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).contains("x86_64-unknown-linux-musl"));
    let archives = tmp.path().join("dist");
    dist(&[
        "--out",
        path_str(&archives),
        "--platform",
        "linux_amd64",
        "--profile",
        "dist-test",
        "--gzip-level",
        "1",
    ])
    .assert_ok();
    let binary = image::read_binary(&archives.join(archive_name("linux_amd64"))).expect("binary");
    let inputs = Inputs {
        binary,
        busybox: "/bin/busybox".into(),
        ca_bundle: CA_BUNDLE.into(),
        license: repo().join("LICENSE"),
        notices: vec![("busybox-static".into(), repo().join("LICENSE"))],
        arch: "amd64".into(),
        package: package(),
        revision: "0123456789abcdef0123456789abcdef01234567".into(),
        created: "2024-05-01T12:00:00Z".into(),
    };
    let img = image::assemble(&inputs).expect("image");
    assert_eq!(
        image::assemble(&inputs).expect("image").digest,
        img.digest,
        "the same inputs must give the same image"
    );

    // The OCI layout: every blob under its digest, the index naming the manifest.
    let layout = tmp.path().join("layout");
    image::write_layout(&img, &layout, "kubectl-gitlab-flux:test").expect("layout");
    for blob in std::fs::read_dir(layout.join("blobs/sha256")).expect("blobs") {
        let blob = blob.expect("blob");
        let data = std::fs::read(blob.path()).expect("blob");
        assert_eq!(sha256_hex(&data), blob.file_name().to_string_lossy());
    }
    let index: Value =
        serde_json::from_slice(&std::fs::read(layout.join("index.json")).expect("index"))
            .expect("index JSON");
    assert_eq!(index["manifests"][0]["digest"], img.digest.as_str());
    assert_eq!(
        index["manifests"][0]["annotations"]["org.opencontainers.image.ref.name"],
        "test"
    );

    // Push as a GitLab CI release job would: token auth, CI_REGISTRY_* credentials.
    let registry = testbed_registry::Registry::start(testbed_registry::RegistryConfig {
        auth: testbed_registry::Auth::gitlab_ci("job-token"),
        ..Default::default()
    })
    .expect("registry");
    let host = registry.host();
    let env = |k: &str| match k {
        "CI_REGISTRY" => Some(host.clone()),
        "CI_REGISTRY_USER" => Some("gitlab-ci-token".to_string()),
        "CI_REGISTRY_PASSWORD" => Some("job-token".to_string()),
        _ => None,
    };
    let reference =
        image::parse_reference(&format!("{host}/group/project"), "v9.9.9").expect("reference");
    let url = image::push(
        &img,
        &reference,
        kubectl_gitlab_flux::oci::registry::ClientOptions::default(),
        &env,
    )
    .expect("push");
    assert_eq!(
        url,
        format!("oci://{host}/group/project:v9.9.9@{}", img.digest)
    );

    // Pull it back with the test bed's client, not the plugin's.
    let creds = testbed::oci::ClientOptions::basic("gitlab-ci-token", "job-token");
    let base = registry.base_url();
    let pulled =
        testbed::oci::pull_manifest_with(&base, &creds, "group/project", "v9.9.9").expect("pull");
    assert_eq!(pulled.digest, img.digest);
    assert_eq!(
        pulled.json["mediaType"],
        "application/vnd.oci.image.manifest.v1+json"
    );
    let blob = |digest: &Value| {
        testbed::oci::pull_blob_with(
            &base,
            &creds,
            "group/project",
            digest.as_str().expect("digest"),
        )
        .expect("blob")
    };
    let config: Value =
        serde_json::from_slice(&blob(&pulled.json["config"]["digest"])).expect("config JSON");
    assert_eq!(config["architecture"], "amd64");
    assert_eq!(config["os"], "linux");
    assert!(
        config["config"].get("Entrypoint").is_none(),
        "GitLab CI's image: needs no entrypoint: {config}"
    );
    assert_eq!(
        config["config"]["Labels"]["org.opencontainers.image.version"],
        VERSION
    );
    let layers: Vec<Vec<u8>> = pulled
        .layers()
        .iter()
        .map(|l| {
            assert_eq!(
                l["mediaType"],
                "application/vnd.oci.image.layer.v1.tar+gzip"
            );
            blob(&l["digest"])
        })
        .collect();
    let diff_ids: Vec<String> = layers
        .iter()
        .map(|l| format!("sha256:{}", sha256_hex(&gunzip(l))))
        .collect();
    assert_eq!(config["rootfs"]["diff_ids"], json!(diff_ids));

    // Unpack and run the job shell in it, with the image's environment.
    let rootfs = tmp.path().join("rootfs");
    std::fs::create_dir(&rootfs).expect("mkdir");
    unpack_layers(&layers, &rootfs);
    let env: Vec<(String, String)> = config["config"]["Env"]
        .as_array()
        .expect("Env")
        .iter()
        .filter_map(|e| e.as_str()?.split_once('='))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let chroot = ["/usr/sbin/chroot", "/sbin/chroot"]
        .into_iter()
        .find(|p| Path::new(p).exists())
        .expect("chroot (coreutils)");
    let r = run(Command::new(chroot)
        .env_clear()
        .envs(env)
        .arg(&rootfs)
        .args([
            "/bin/sh",
            "-c",
            "kubectl-gitlab_flux version && test -s \"$SSL_CERT_FILE\" && /usr/bin/env true \
             && ls /usr/share/doc/kubectl-gitlab-flux && echo job-shell-ok",
        ]));
    r.assert_ok();
    assert!(
        r.stdout
            .starts_with(&format!("kubectl-gitlab-flux {VERSION} ")),
        "{}",
        r.stdout
    );
    // It ran in a root without a dynamic loader, so it is static either way.
    let target = if musl {
        "x86_64-unknown-linux-musl"
    } else {
        "x86_64-unknown-linux-gnu"
    };
    assert!(r.stdout.contains(target), "{}", r.stdout);
    assert!(r.stdout.contains("LICENSE\njob-shell-ok"), "{}", r.stdout);
}
