//! The container image: what the Dockerfile builds, assembled without a
//! container engine so `make image` works anywhere.
//!
//! Two layers, both reproducible (entries sorted, owner 0:0, mtime 0, gzip
//! without name or time):
//! 1. base: the static busybox (`/bin/busybox`, a link per applet where
//!    `busybox --list-full` puts it, `/bin/sh` among them), `/etc/passwd`,
//!    `/etc/group`, `/tmp`, the CA bundle at
//!    `/etc/ssl/certs/ca-certificates.crt`, and the licences of both;
//! 2. plugin: the static binary at `/usr/local/bin/kubectl-gitlab_flux` and
//!    its LICENSE.
//!
//! No entrypoint: GitLab CI runs its job script with the image's shell
//! (`image:` works without `entrypoint: [""]`); `Cmd` prints the help.
//! Pushing goes through the plugin's own registry client
//! ([`kubectl_gitlab_flux::oci::registry`]); [`write_layout`] writes an OCI
//! image layout (plus Docker's `manifest.json`, so its tar loads with
//! `docker load`).

use std::collections::BTreeMap;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context as _, Result, bail};
use kubectl_gitlab_flux::oci::artifact::{self, Blob, MANIFEST_MEDIA_TYPE, sha256_digest};
use kubectl_gitlab_flux::oci::auth;
use kubectl_gitlab_flux::oci::reference::Reference;
use kubectl_gitlab_flux::oci::registry::{ClientOptions, Registry};
use serde::Serialize;

use crate::BIN;
use crate::package::Package;

pub const CONFIG_MEDIA_TYPE: &str = "application/vnd.oci.image.config.v1+json";
pub const LAYER_MEDIA_TYPE: &str = "application/vnd.oci.image.layer.v1.tar+gzip";
pub const INDEX_MEDIA_TYPE: &str = "application/vnd.oci.image.index.v1+json";

/// `PATH` in the image; the plugin is in `/usr/local/bin`.
pub const PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
/// Where the plugin is installed in the image.
pub const BINARY_PATH: &str = "usr/local/bin/kubectl-gitlab_flux";
/// Where the CA bundle is (rustls-native-certs and OpenSSL look there).
pub const CA_BUNDLE_PATH: &str = "etc/ssl/certs/ca-certificates.crt";

/// What goes into the image.
#[derive(Debug, Clone)]
pub struct Inputs {
    /// The static plugin binary for `arch` ([`read_binary`]).
    pub binary: Vec<u8>,
    /// A static busybox for `arch` (Debian: busybox-static's /bin/busybox).
    pub busybox: PathBuf,
    /// The CA bundle (Debian: /etc/ssl/certs/ca-certificates.crt).
    pub ca_bundle: PathBuf,
    /// The plugin's LICENSE.
    pub license: PathBuf,
    /// Licence texts of the base parts: (package name, file), installed as
    /// `/usr/share/doc/<name>/copyright`.
    pub notices: Vec<(String, PathBuf)>,
    /// OCI architecture: `amd64`, `arm64`.
    pub arch: String,
    pub package: Package,
    /// The git commit (label `org.opencontainers.image.revision`).
    pub revision: String,
    /// Creation time (RFC 3339); pinned (commit time, SOURCE_DATE_EPOCH) so
    /// the image digest is reproducible.
    pub created: String,
}

/// One layer: its compressed blob and the digest of the uncompressed tar.
#[derive(Debug, Clone)]
pub struct Layer {
    pub blob: Blob,
    pub diff_id: String,
    pub created_by: String,
}

/// An assembled image.
#[derive(Debug, Clone)]
pub struct Image {
    pub layers: Vec<Layer>,
    pub config: Blob,
    pub manifest: Vec<u8>,
    /// `sha256:…` of the manifest bytes.
    pub digest: String,
    pub arch: String,
    /// `org.opencontainers.image.*` labels (also the manifest's annotations).
    pub labels: BTreeMap<String, String>,
}

enum Node {
    Dir(u32),
    File(u32, Vec<u8>),
    Symlink(String),
}

/// A layer's tree, written as a tar sorted by path, parents first.
#[derive(Default)]
struct Tree {
    nodes: BTreeMap<String, Node>,
}

impl Tree {
    fn parents(&mut self, path: &str) {
        let parts: Vec<&str> = path.split('/').collect();
        for depth in 1..parts.len() {
            self.nodes
                .entry(parts[..depth].join("/"))
                .or_insert(Node::Dir(0o755));
        }
    }
    fn dir(&mut self, path: &str, mode: u32) {
        self.parents(path);
        self.nodes.insert(path.to_string(), Node::Dir(mode));
    }
    fn file(&mut self, path: &str, mode: u32, data: Vec<u8>) {
        self.parents(path);
        self.nodes.insert(path.to_string(), Node::File(mode, data));
    }
    fn symlink(&mut self, path: &str, target: &str) {
        self.parents(path);
        self.nodes
            .insert(path.to_string(), Node::Symlink(target.to_string()));
    }

    /// The uncompressed tar.
    fn tar(&self) -> Result<Vec<u8>> {
        let mut tar = tar::Builder::new(Vec::new());
        for (path, node) in &self.nodes {
            let mut h = tar::Header::new_gnu();
            h.set_uid(0);
            h.set_gid(0);
            h.set_mtime(0);
            match node {
                Node::Dir(mode) => {
                    h.set_entry_type(tar::EntryType::Directory);
                    h.set_mode(*mode);
                    h.set_size(0);
                    tar.append_data(&mut h, format!("{path}/"), std::io::empty())?;
                }
                Node::File(mode, data) => {
                    h.set_entry_type(tar::EntryType::Regular);
                    h.set_mode(*mode);
                    h.set_size(data.len() as u64);
                    tar.append_data(&mut h, path, data.as_slice())?;
                }
                Node::Symlink(target) => {
                    h.set_entry_type(tar::EntryType::Symlink);
                    h.set_mode(0o777);
                    h.set_size(0);
                    tar.append_link(&mut h, path, target)?;
                }
            }
        }
        Ok(tar.into_inner()?)
    }

    fn layer(&self, created_by: &str) -> Result<Layer> {
        let tar = self.tar()?;
        let diff_id = sha256_digest(&tar);
        let mut gz = flate2::GzBuilder::new()
            .mtime(0)
            .operating_system(255)
            .write(Vec::new(), flate2::Compression::best());
        gz.write_all(&tar)?;
        Ok(Layer {
            blob: Blob::new(LAYER_MEDIA_TYPE, gz.finish()?),
            diff_id,
            created_by: created_by.to_string(),
        })
    }
}

/// The plugin binary: a file, or the `kubectl-gitlab_flux` of a release
/// archive (`.tar.gz`), so the image holds the very binary the archive ships.
pub fn read_binary(path: &Path) -> Result<Vec<u8>> {
    if path.to_string_lossy().ends_with(".tar.gz") {
        return crate::archive::files(path)?
            .into_iter()
            .find(|e| e.name == BIN)
            .map(|e| e.data)
            .with_context(|| format!("{} has no {BIN}", path.display()));
    }
    read(path)
}

fn read(path: &Path) -> Result<Vec<u8>> {
    std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))
}

/// Where busybox puts its applets (`bin/sh`, `usr/bin/env`, …), from the
/// binary itself.
pub fn busybox_applets(busybox: &Path) -> Result<Vec<String>> {
    let out = Command::new(busybox)
        .arg("--list-full")
        .output()
        .with_context(|| format!("cannot run {} --list-full", busybox.display()))?;
    if !out.status.success() {
        bail!(
            "{} --list-full failed (a busybox for another architecture?)",
            busybox.display()
        );
    }
    let text = String::from_utf8(out.stdout).context("busybox --list-full is not UTF-8")?;
    let applets: Vec<String> = text
        .lines()
        .map(str::trim)
        // In a directory (not `linuxrc`), and not busybox itself.
        .filter(|l| l.contains('/') && *l != "bin/busybox")
        .map(str::to_string)
        .collect();
    if !applets.iter().any(|a| a == "bin/sh") {
        bail!("{} has no sh applet", busybox.display());
    }
    Ok(applets)
}

const PASSWD: &str =
    "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n";
const GROUP: &str = "root:x:0:\nnogroup:x:65534:\n";

/// Check the binary is a static ELF: no `PT_INTERP` program header (a
/// dynamic binary would not start in an image without a libc).
pub fn check_static_elf(data: &[u8]) -> Result<()> {
    if data.len() < 64 || &data[..4] != b"\x7fELF" {
        bail!("not an ELF binary");
    }
    if data[4] != 2 || data[5] != 1 {
        bail!("not a 64-bit little-endian ELF binary");
    }
    let u16_at = |o: usize| u16::from_le_bytes([data[o], data[o + 1]]) as usize;
    let u64_at = |o: usize| {
        let mut b = [0u8; 8];
        b.copy_from_slice(&data[o..o + 8]);
        u64::from_le_bytes(b) as usize
    };
    let (phoff, phentsize, phnum) = (u64_at(32), u16_at(54), u16_at(56));
    for i in 0..phnum {
        let off = phoff + i * phentsize;
        if off + 4 > data.len() {
            bail!("truncated ELF program headers");
        }
        let p_type = u32::from_le_bytes([data[off], data[off + 1], data[off + 2], data[off + 3]]);
        if p_type == 3 {
            bail!("it is dynamically linked (has an ELF interpreter); build the musl target");
        }
    }
    Ok(())
}

/// Assemble the image.
pub fn assemble(inputs: &Inputs) -> Result<Image> {
    let binary = inputs.binary.clone();
    check_static_elf(&binary).context("the plugin binary cannot go into the image")?;

    let busybox = read(&inputs.busybox)?;
    check_static_elf(&busybox)
        .with_context(|| format!("{} cannot go into the image", inputs.busybox.display()))?;
    let mut base = Tree::default();
    base.file("bin/busybox", 0o755, busybox);
    for applet in busybox_applets(&inputs.busybox)? {
        let target = if applet.starts_with("bin/") {
            "busybox".to_string()
        } else {
            "/bin/busybox".to_string()
        };
        base.symlink(&applet, &target);
    }
    base.dir("usr/local/bin", 0o755);
    base.dir("root", 0o700);
    base.dir("tmp", 0o1777);
    base.file("etc/passwd", 0o644, PASSWD.as_bytes().to_vec());
    base.file("etc/group", 0o644, GROUP.as_bytes().to_vec());
    base.file(CA_BUNDLE_PATH, 0o644, read(&inputs.ca_bundle)?);
    for (name, path) in &inputs.notices {
        base.file(
            &format!("usr/share/doc/{name}/copyright"),
            0o644,
            read(path)?,
        );
    }

    let mut plugin = Tree::default();
    plugin.file(BINARY_PATH, 0o755, binary);
    plugin.file(
        &format!("usr/share/doc/{}/LICENSE", inputs.package.name),
        0o644,
        read(&inputs.license)?,
    );

    let layers = vec![
        base.layer("static busybox, /etc/passwd, CA certificates")?,
        plugin.layer(&format!("/{BINARY_PATH} (static)"))?,
    ];

    let p = &inputs.package;
    let labels: BTreeMap<String, String> = [
        ("created", inputs.created.as_str()),
        ("description", p.description.as_str()),
        ("licenses", p.license.as_str()),
        ("revision", inputs.revision.as_str()),
        ("source", p.repository.as_str()),
        ("title", p.name.as_str()),
        ("url", p.repository.as_str()),
        ("version", p.version.as_str()),
    ]
    .into_iter()
    .map(|(k, v)| (format!("org.opencontainers.image.{k}"), v.to_string()))
    .collect();

    let config = ImageConfig {
        created: &inputs.created,
        architecture: &inputs.arch,
        os: "linux",
        config: ContainerConfig {
            env: vec![
                format!("PATH={PATH}"),
                format!("SSL_CERT_FILE=/{CA_BUNDLE_PATH}"),
            ],
            cmd: vec![BIN, "--help"],
            working_dir: "/",
            labels: &labels,
        },
        rootfs: RootFs {
            kind: "layers",
            diff_ids: layers.iter().map(|l| l.diff_id.as_str()).collect(),
        },
        history: layers
            .iter()
            .map(|l| History {
                created: &inputs.created,
                created_by: &l.created_by,
            })
            .collect(),
    };
    let config = Blob::new(CONFIG_MEDIA_TYPE, serde_json::to_vec(&config)?);
    let manifest = artifact::image_manifest_bytes(&config, layers.iter().map(|l| &l.blob), &labels);
    Ok(Image {
        digest: sha256_digest(&manifest),
        layers,
        config,
        manifest,
        arch: inputs.arch.clone(),
        labels,
    })
}

#[derive(Serialize)]
struct ImageConfig<'a> {
    created: &'a str,
    architecture: &'a str,
    os: &'a str,
    config: ContainerConfig<'a>,
    rootfs: RootFs<'a>,
    history: Vec<History<'a>>,
}

#[derive(Serialize)]
struct ContainerConfig<'a> {
    #[serde(rename = "Env")]
    env: Vec<String>,
    #[serde(rename = "Cmd")]
    cmd: Vec<&'a str>,
    #[serde(rename = "WorkingDir")]
    working_dir: &'a str,
    #[serde(rename = "Labels")]
    labels: &'a BTreeMap<String, String>,
}

#[derive(Serialize)]
struct RootFs<'a> {
    #[serde(rename = "type")]
    kind: &'a str,
    diff_ids: Vec<&'a str>,
}

#[derive(Serialize)]
struct History<'a> {
    created: &'a str,
    created_by: &'a str,
}

#[derive(Serialize)]
struct Descriptor<'a> {
    #[serde(rename = "mediaType")]
    media_type: &'a str,
    digest: &'a str,
    size: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    annotations: Option<BTreeMap<&'a str, &'a str>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    platform: Option<Platform<'a>>,
}

#[derive(Serialize)]
struct Platform<'a> {
    architecture: &'a str,
    os: &'a str,
}

#[derive(Serialize)]
struct Index<'a> {
    #[serde(rename = "schemaVersion")]
    schema_version: u32,
    #[serde(rename = "mediaType")]
    media_type: &'a str,
    manifests: Vec<Descriptor<'a>>,
}

/// Docker's `manifest.json` (what `docker save` writes beside the layout).
#[derive(Serialize)]
struct DockerManifest<'a> {
    #[serde(rename = "Config")]
    config: String,
    #[serde(rename = "RepoTags")]
    repo_tags: Vec<&'a str>,
    #[serde(rename = "Layers")]
    layers: Vec<String>,
}

fn blob_path(digest: &str) -> String {
    format!("blobs/{}", digest.replacen(':', "/", 1))
}

/// The files of the OCI image layout for `name` (`repo:tag`), as
/// (relative path, bytes), sorted.
pub fn layout_files(image: &Image, name: &str) -> Result<Vec<(String, Vec<u8>)>> {
    let tag = name.rsplit_once(':').map_or("latest", |(_, t)| t);
    let mut files: BTreeMap<String, Vec<u8>> = BTreeMap::new();
    files.insert(
        "oci-layout".into(),
        br#"{"imageLayoutVersion":"1.0.0"}"#.to_vec(),
    );
    for l in &image.layers {
        files.insert(blob_path(&l.blob.digest), l.blob.data.to_vec());
    }
    files.insert(blob_path(&image.config.digest), image.config.data.to_vec());
    files.insert(blob_path(&image.digest), image.manifest.clone());
    let index = Index {
        schema_version: 2,
        media_type: INDEX_MEDIA_TYPE,
        manifests: vec![Descriptor {
            media_type: MANIFEST_MEDIA_TYPE,
            digest: &image.digest,
            size: image.manifest.len() as u64,
            annotations: Some(BTreeMap::from([
                ("io.containerd.image.name", name),
                ("org.opencontainers.image.ref.name", tag),
            ])),
            platform: Some(Platform {
                architecture: &image.arch,
                os: "linux",
            }),
        }],
    };
    files.insert("index.json".into(), serde_json::to_vec(&index)?);
    let docker = [DockerManifest {
        config: blob_path(&image.config.digest),
        repo_tags: vec![name],
        layers: image
            .layers
            .iter()
            .map(|l| blob_path(&l.blob.digest))
            .collect(),
    }];
    files.insert("manifest.json".into(), serde_json::to_vec(&docker)?);
    Ok(files.into_iter().collect())
}

/// Write the OCI image layout into `dir` (replacing what was there).
pub fn write_layout(image: &Image, dir: &Path, name: &str) -> Result<()> {
    if dir.exists() {
        std::fs::remove_dir_all(dir)
            .with_context(|| format!("cannot replace {}", dir.display()))?;
    }
    for (rel, data) in layout_files(image, name)? {
        let path = dir.join(&rel);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)
                .with_context(|| format!("cannot create {}", parent.display()))?;
        }
        std::fs::write(&path, data).with_context(|| format!("cannot write {}", path.display()))?;
    }
    Ok(())
}

/// The layout as one reproducible tar (`docker load`, `podman load`,
/// `skopeo copy oci-archive:…`).
pub fn layout_tar(image: &Image, name: &str) -> Result<Vec<u8>> {
    let mut tree = Tree::default();
    for (rel, data) in layout_files(image, name)? {
        tree.file(&rel, 0o644, data);
    }
    tree.tar()
}

/// `host[:port]/repository[:tag]` (an `oci://` prefix is accepted); the tag
/// defaults to `v<version>`.
pub fn parse_reference(input: &str, default_tag: &str) -> Result<Reference> {
    let with_scheme = if input.starts_with("oci://") {
        input.to_string()
    } else {
        format!("oci://{input}")
    };
    let mut r = Reference::parse(&with_scheme).map_err(|e| anyhow::anyhow!("{e}"))?;
    if r.digest.is_some() {
        bail!("{input}: push to a tag, not a digest");
    }
    if r.tag.is_none() {
        r.tag = Some(default_tag.to_string());
    }
    Ok(r)
}

/// Push the image with the plugin's registry client; credentials are found
/// as `kubectl gitlab-flux push` finds them in the environment `env`
/// (`CI_REGISTRY_USER`/`CI_REGISTRY_PASSWORD` for `$CI_REGISTRY` in GitLab
/// CI, the docker config). Returns `oci://…:tag@sha256:…`.
pub fn push(
    image: &Image,
    reference: &Reference,
    options: ClientOptions,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<String> {
    // The plugin's binary installs the same provider in main().
    let _ = rustls::crypto::ring::default_provider().install_default();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    rt.block_on(async {
        let creds = auth::resolve(&reference.registry, None, env, &auth::run_helper)
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        let mut reg = Registry::connect(reference, creds, options)
            .await
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        for blob in image.layers.iter().map(|l| &l.blob).chain([&image.config]) {
            reg.ensure_blob(blob)
                .await
                .map_err(|e| anyhow::anyhow!("{e}"))?;
        }
        let tag = reference.tag.as_deref().unwrap_or("latest");
        let digest = reg
            .put_manifest(tag, &image.manifest)
            .await
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        Ok(reference.url_with_tag_and_digest(Some(tag), &digest))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tree_emits_parents_first_and_sorted() {
        let mut t = Tree::default();
        t.symlink("usr/bin/env", "/bin/busybox");
        t.file("bin/busybox", 0o755, b"x".to_vec());
        t.dir("tmp", 0o1777);
        let tar = t.tar().expect("tar");
        let mut a = tar::Archive::new(tar.as_slice());
        let names: Vec<(String, u32, u64)> = a
            .entries()
            .expect("entries")
            .map(|e| {
                let e = e.expect("entry");
                (
                    e.path().expect("path").to_string_lossy().into_owned(),
                    e.header().mode().expect("mode"),
                    e.header().mtime().expect("mtime"),
                )
            })
            .collect();
        let only: Vec<&str> = names.iter().map(|(n, _, _)| n.as_str()).collect();
        assert_eq!(
            only,
            [
                "bin/",
                "bin/busybox",
                "tmp/",
                "usr/",
                "usr/bin/",
                "usr/bin/env"
            ]
        );
        assert!(names.iter().all(|(_, _, m)| *m == 0));
        assert_eq!(names[2].1, 0o1777);
    }

    #[test]
    fn static_elf_check() {
        let exe = std::fs::read(std::env::current_exe().expect("exe")).expect("read");
        // The test binary itself is linked against glibc (x86_64 gnu host).
        if cfg!(all(target_os = "linux", target_env = "gnu")) {
            let err = check_static_elf(&exe).expect_err("dynamic");
            assert!(err.to_string().contains("dynamically linked"), "{err}");
        }
        assert!(check_static_elf(b"#!/bin/sh\n").is_err());
    }

    #[test]
    fn references() {
        let r = parse_reference("localhost:5000/a/b", "v1").expect("ok");
        assert_eq!(r.tag.as_deref(), Some("v1"));
        let r = parse_reference("oci://registry.gitlab.com/g/p:edge", "v1").expect("ok");
        assert_eq!(r.tag.as_deref(), Some("edge"));
        assert_eq!(r.registry, "registry.gitlab.com");
        let d = format!("sha256:{}", "a".repeat(64));
        assert!(parse_reference(&format!("h/r@{d}"), "v1").is_err());
    }
}
