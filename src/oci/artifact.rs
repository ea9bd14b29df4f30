//! Turning a directory (or a file) into a reproducible Flux artifact: walk
//! with ignore rules, refuse what must not be packed, check YAML, write a
//! deterministic tar+gzip layer, and build the config and manifest bytes
//! ourselves so the digests are exactly controlled.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::Serialize;
use sha2::{Digest as _, Sha256};

use super::error::OciError;

/// OCI image manifest media type.
pub const MANIFEST_MEDIA_TYPE: &str = "application/vnd.oci.image.manifest.v1+json";
/// Flux artifact config media type.
pub const FLUX_CONFIG_MEDIA_TYPE: &str = "application/vnd.cncf.flux.config.v1+json";
/// Flux artifact layer media type.
pub const FLUX_LAYER_MEDIA_TYPE: &str = "application/vnd.cncf.flux.content.v1.tar+gzip";

/// What `flux push artifact` ignores by default (gitignore syntax).
pub const FLUX_DEFAULT_IGNORES: &[&str] = &[
    ".git/",
    ".gitignore",
    ".gitmodules",
    ".gitattributes",
    "*.jpg",
    "*.jpeg",
    "*.gif",
    "*.png",
    "*.wmv",
    "*.flv",
    "*.tar.gz",
    "*.zip",
];

/// The ignore-file name read anywhere in the tree, with gitignore semantics.
pub const SOURCEIGNORE: &str = ".sourceignore";

/// How to collect files.
#[derive(Debug, Clone, Default)]
pub struct CollectOptions {
    /// Built-in patterns (the Flux defaults, or Helm's minimal list).
    pub default_ignores: Vec<String>,
    /// Extra ignore-file names honoured anywhere in the tree (besides `.sourceignore`).
    pub extra_ignore_files: Vec<String>,
    /// `--ignore` patterns.
    pub ignore: Vec<String>,
}

/// A file to pack.
#[derive(Debug, Clone)]
pub struct FileEntry {
    /// Path inside the artifact, `/`-separated, relative.
    pub path: String,
    /// The path on disk, as the user would name it (PATH joined with the relative path).
    pub disk_path: PathBuf,
    pub executable: bool,
    pub data: Vec<u8>,
}

/// The files of PATH after ignores, sorted (component-wise, as a depth-first
/// walk over sorted directory listings would give).
#[derive(Debug, Clone)]
pub struct Collected {
    pub root: PathBuf,
    pub files: Vec<FileEntry>,
    /// Symlinks left out because what they point to is ignored, as notes
    /// for stderr (`link → target`).
    pub left_out: Vec<String>,
}

impl Collected {
    /// Total size of the file contents.
    pub fn content_bytes(&self) -> u64 {
        self.files.iter().map(|f| f.data.len() as u64).sum()
    }
}

/// Collect the files under `path` (or `path` itself when it is a file).
pub fn collect(path: &Path, opts: &CollectOptions) -> Result<Collected, OciError> {
    let meta = match std::fs::metadata(path) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(match std::fs::symlink_metadata(path) {
                Ok(_) => OciError::BrokenSymlink {
                    link: path.to_path_buf(),
                    reason: "its target does not exist".into(),
                },
                Err(_) => OciError::PathMissing {
                    path: path.to_path_buf(),
                },
            });
        }
        Err(e) => {
            return Err(OciError::Unreadable {
                path: path.to_path_buf(),
                source: e,
            });
        }
    };
    if meta.is_file() {
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .ok_or_else(|| OciError::Unreadable {
                path: path.to_path_buf(),
                source: std::io::Error::other("the file name is not UTF-8"),
            })?
            .to_string();
        let data = read_file(path)?;
        return Ok(Collected {
            left_out: Vec::new(),
            root: path.to_path_buf(),
            files: vec![FileEntry {
                path: name,
                disk_path: path.to_path_buf(),
                executable: is_executable(&meta),
                data,
            }],
        });
    }
    if !meta.is_dir() {
        return Err(OciError::NotRegular {
            path: path.to_path_buf(),
            kind: file_kind(&meta.file_type()),
        });
    }
    let root_canon = std::fs::canonicalize(path).map_err(|e| OciError::Unreadable {
        path: path.to_path_buf(),
        source: e,
    })?;

    let matcher = Arc::new(build_matcher(path, opts)?);

    let mut walk = ignore::WalkBuilder::new(path);
    walk.standard_filters(false)
        .hidden(false)
        .parents(false)
        .ignore(false)
        .git_ignore(false)
        .git_global(false)
        .git_exclude(false)
        .require_git(false)
        .follow_links(true)
        .add_custom_ignore_filename(SOURCEIGNORE)
        .sort_by_file_name(|a, b| a.cmp(b));
    for name in &opts.extra_ignore_files {
        walk.add_custom_ignore_filename(name);
    }
    {
        let matcher = Arc::clone(&matcher);
        let root = path.to_path_buf();
        walk.filter_entry(move |entry| {
            let Ok(rel) = entry.path().strip_prefix(&root) else {
                return true;
            };
            if rel.as_os_str().is_empty() {
                return true;
            }
            let is_dir = entry.file_type().is_some_and(|t| t.is_dir());
            !matcher.matched_path_or_any_parents(rel, is_dir).is_ignore()
        });
    }

    let mut files = Vec::new();
    // Symlinked directories met so far (relative paths): files under them
    // are reached through a link too.
    let mut link_dirs: Vec<PathBuf> = Vec::new();
    // Files reached through a link: (index in `files`, target relative to
    // the root). Checked after the walk against the files reached directly,
    // so that a link never packs what the ignore rules leave out (a
    // `.sourceignore`d secret, `.git/config` through a link to `.git`).
    let mut via_link: Vec<(usize, PathBuf)> = Vec::new();
    for item in walk.build() {
        let entry = item.map_err(|e| walk_error(e, &root_canon))?;
        let disk_path = entry.path().to_path_buf();
        let Ok(rel) = disk_path.strip_prefix(path) else {
            continue;
        };
        if rel.as_os_str().is_empty() {
            continue;
        }
        let mut link_target = None;
        if entry.path_is_symlink() {
            let target =
                std::fs::canonicalize(&disk_path).map_err(|e| OciError::BrokenSymlink {
                    link: disk_path.clone(),
                    reason: e.to_string(),
                })?;
            if !target.starts_with(&root_canon) {
                return Err(OciError::SymlinkEscapes {
                    link: disk_path,
                    target,
                    root: path.to_path_buf(),
                });
            }
            link_target = Some(target);
        }
        let Some(file_type) = entry.file_type() else {
            continue;
        };
        if file_type.is_dir() {
            if link_target.is_some() {
                link_dirs.push(rel.to_path_buf());
            }
            continue;
        }
        if link_target.is_none() && link_dirs.iter().any(|d| rel.starts_with(d)) {
            link_target = std::fs::canonicalize(&disk_path).ok();
        }
        if let Some(target) = &link_target
            && let Ok(target_rel) = target.strip_prefix(&root_canon)
        {
            via_link.push((files.len(), target_rel.to_path_buf()));
        }
        let meta = std::fs::metadata(&disk_path).map_err(|e| OciError::Unreadable {
            path: disk_path.clone(),
            source: e,
        })?;
        if !meta.is_file() {
            return Err(OciError::NotRegular {
                path: disk_path,
                kind: file_kind(&meta.file_type()),
            });
        }
        let rel_str = rel_to_slash(rel).ok_or_else(|| OciError::Unreadable {
            path: disk_path.clone(),
            source: std::io::Error::other("the file name is not UTF-8"),
        })?;
        let data = read_file(&disk_path)?;
        files.push(FileEntry {
            path: rel_str,
            disk_path,
            executable: is_executable(&meta),
            data,
        });
    }
    let mut left_out = Vec::new();
    if !via_link.is_empty() {
        let linked: std::collections::HashSet<usize> = via_link.iter().map(|(i, _)| *i).collect();
        let direct: std::collections::HashSet<String> = files
            .iter()
            .enumerate()
            .filter(|(i, _)| !linked.contains(i))
            .map(|(_, f)| f.path.clone())
            .collect();
        let mut drop = std::collections::HashSet::new();
        for (i, target) in &via_link {
            let target = rel_to_slash(target).unwrap_or_default();
            if !direct.contains(&target) {
                left_out.push(format!("{} → {target}", files[*i].path));
                drop.insert(*i);
            }
        }
        let mut i = 0;
        files.retain(|_| {
            i += 1;
            !drop.contains(&(i - 1))
        });
    }
    left_out.sort();
    files.sort_by(|a, b| a.path.split('/').cmp(b.path.split('/')));
    files.dedup_by(|a, b| a.path == b.path);
    if files.is_empty() {
        return Err(OciError::Empty {
            path: path.to_path_buf(),
            ignored: count_files(path),
        });
    }
    Ok(Collected {
        root: path.to_path_buf(),
        files,
        left_out,
    })
}

/// Files (not directories) under `dir`, without following links: how much
/// the ignore rules dropped when nothing is left.
fn count_files(dir: &Path) -> usize {
    let Ok(read) = std::fs::read_dir(dir) else {
        return 0;
    };
    read.flatten()
        .map(|e| match e.file_type() {
            Ok(t) if t.is_dir() => count_files(&e.path()),
            _ => 1,
        })
        .sum()
}

fn build_matcher(
    root: &Path,
    opts: &CollectOptions,
) -> Result<ignore::gitignore::Gitignore, OciError> {
    let mut b = ignore::gitignore::GitignoreBuilder::new(root);
    for pattern in opts.default_ignores.iter().chain(&opts.ignore) {
        b.add_line(None, pattern)
            .map_err(|e| OciError::IgnorePattern {
                pattern: pattern.clone(),
                reason: e.to_string(),
            })?;
    }
    b.build().map_err(|e| OciError::IgnorePattern {
        pattern: opts.ignore.join(" "),
        reason: e.to_string(),
    })
}

fn walk_error(err: ignore::Error, root: &Path) -> OciError {
    fn unwrap(err: &ignore::Error) -> (Option<PathBuf>, &ignore::Error) {
        match err {
            ignore::Error::WithPath { path, err } => {
                let (inner_path, inner) = unwrap(err);
                (inner_path.or_else(|| Some(path.clone())), inner)
            }
            ignore::Error::WithDepth { err, .. } | ignore::Error::WithLineNumber { err, .. } => {
                unwrap(err)
            }
            other => (None, other),
        }
    }
    let (path, inner) = unwrap(&err);
    let path = path.unwrap_or_else(|| root.to_path_buf());
    match inner {
        ignore::Error::Loop { child, .. } => OciError::BrokenSymlink {
            link: child.clone(),
            reason: "it makes a symlink loop".into(),
        },
        ignore::Error::Io(io) => {
            let is_link =
                std::fs::symlink_metadata(&path).is_ok_and(|m| m.file_type().is_symlink());
            if is_link && io.kind() == std::io::ErrorKind::NotFound {
                OciError::BrokenSymlink {
                    link: path,
                    reason: "its target does not exist".into(),
                }
            } else {
                OciError::Unreadable {
                    path,
                    source: std::io::Error::new(io.kind(), io.to_string()),
                }
            }
        }
        ignore::Error::Glob { glob, err } => OciError::IgnorePattern {
            pattern: glob.clone().unwrap_or_default(),
            reason: format!("{err} (in {})", path.display()),
        },
        other => OciError::Unreadable {
            path,
            source: std::io::Error::other(other.to_string()),
        },
    }
}

fn read_file(path: &Path) -> Result<Vec<u8>, OciError> {
    std::fs::read(path).map_err(|e| OciError::Unreadable {
        path: path.to_path_buf(),
        source: e,
    })
}

fn rel_to_slash(rel: &Path) -> Option<String> {
    let parts: Option<Vec<&str>> = rel
        .components()
        .map(|c| match c {
            std::path::Component::Normal(s) => s.to_str(),
            _ => None,
        })
        .collect();
    parts.map(|p| p.join("/"))
}

#[cfg(unix)]
fn is_executable(meta: &std::fs::Metadata) -> bool {
    use std::os::unix::fs::PermissionsExt;
    meta.permissions().mode() & 0o111 != 0
}

#[cfg(not(unix))]
fn is_executable(_meta: &std::fs::Metadata) -> bool {
    false
}

fn file_kind(t: &std::fs::FileType) -> &'static str {
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        if t.is_fifo() {
            return "FIFO";
        }
        if t.is_socket() {
            return "socket";
        }
        if t.is_block_device() {
            return "block device";
        }
        if t.is_char_device() {
            return "character device";
        }
    }
    if t.is_symlink() {
        return "symlink";
    }
    "special file"
}

/// Check that every `.yaml`/`.yml` file (all its documents) parses, except
/// those `skip` selects (Helm templates).
pub fn validate_yaml(files: &[FileEntry], skip: impl Fn(&str) -> bool) -> Result<(), OciError> {
    for f in files {
        let lower = f.path.to_ascii_lowercase();
        if !(lower.ends_with(".yaml") || lower.ends_with(".yml")) || skip(&f.path) {
            continue;
        }
        check_yaml(&f.disk_path, &f.data)?;
    }
    Ok(())
}

/// Parse all documents of one YAML file.
pub fn check_yaml(path: &Path, data: &[u8]) -> Result<(), OciError> {
    let text = match std::str::from_utf8(data) {
        Ok(t) => t,
        Err(e) => {
            let (line, column) = line_col(&data[..e.valid_up_to()]);
            return Err(OciError::InvalidYaml {
                path: path.to_path_buf(),
                line,
                column,
                message: "the file is not UTF-8".into(),
            });
        }
    };
    match serde_saphyr::from_multiple_with_options::<serde::de::IgnoredAny>(text, yaml_options()) {
        Ok(_) => Ok(()),
        // A breached budget says nothing of validity (the error may come
        // wrapped with a location, so it is told by its text too).
        Err(e)
            if matches!(e, serde_saphyr::Error::Budget { .. })
                || e.to_string().contains("budget breached") =>
        {
            Err(OciError::YamlTooLarge {
                path: path.to_path_buf(),
                limit: first_line(&e.to_string()),
            })
        }
        Err(e) => {
            let (line, column) = e.location().map_or((0, 0), |l| (l.line(), l.column()));
            Err(OciError::InvalidYaml {
                path: path.to_path_buf(),
                line,
                column,
                message: first_line(&e.to_string()),
            })
        }
    }
}

/// The parser's limits for the YAML check: as large as real manifests get
/// (a ConfigMap of 150,000 keys, 30,000 documents in one file, a CRD
/// bundle of tens of MB) — the work grows with the file, so a large one is
/// slower, not dangerous — while alias expansion (billion laughs), the one
/// way a small file makes a lot of work, keeps the parser's own guards.
fn yaml_options() -> serde_saphyr::Options {
    let mut budget = serde_saphyr::Budget::default();
    budget.max_events = 200_000_000;
    budget.max_documents = 10_000_000;
    budget.max_nodes = 100_000_000;
    budget.max_total_scalar_bytes = 1024 * 1024 * 1024;
    budget.max_depth = 512;
    // What anchors may make the parser copy: far below the default, so an
    // alias bomb is stopped at once; manifests rarely use anchors at all.
    budget.max_recorded_anchor_events = 100_000;
    serde_saphyr::options! { budget: Some(budget) }
}

/// The first line of a parser message, without the `error: line L column C:`
/// prefix (the location is reported separately).
fn first_line(s: &str) -> String {
    let line = s.lines().next().unwrap_or(s).trim();
    let line = line.strip_prefix("error:").map_or(line, str::trim_start);
    if let Some(rest) = line.strip_prefix("line ")
        && let Some((_, after)) = rest.split_once(": ")
        && rest.contains("column")
    {
        return after.trim().to_string();
    }
    line.to_string()
}

fn line_col(valid: &[u8]) -> (u64, u64) {
    let line = valid.iter().filter(|&&b| b == b'\n').count() as u64 + 1;
    let col = valid.iter().rev().take_while(|&&b| b != b'\n').count() as u64 + 1;
    (line, col)
}

/// A blob with its digest. The bytes are shared, not copied, when the blob
/// is cloned or uploaded (a layer can be 100 MB).
#[derive(Debug, Clone)]
pub struct Blob {
    pub media_type: String,
    pub data: bytes::Bytes,
    pub digest: String,
}

impl Blob {
    pub fn new(media_type: &str, data: Vec<u8>) -> Blob {
        Blob {
            media_type: media_type.to_string(),
            digest: sha256_digest(&data),
            data: data.into(),
        }
    }

    pub fn size(&self) -> u64 {
        self.data.len() as u64
    }
}

/// `sha256:<hex>` of some bytes.
pub fn sha256_digest(data: &[u8]) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(data)))
}

/// The reproducible tar+gzip of the files, each under `prefix` (e.g.
/// `chart/`, or empty). Directories are emitted before their contents with
/// mode 0755; files get 0644 (0755 when executable); owners, names and
/// times are zeroed; the gzip header has no name and no time.
pub fn build_layer(files: &[FileEntry], prefix: &str) -> Result<Vec<u8>, OciError> {
    let gz = flate2::GzBuilder::new()
        .mtime(0)
        .operating_system(255)
        .write(Vec::new(), flate2::Compression::default());
    let mut tar = tar::Builder::new(gz);
    let io_err = |e: std::io::Error| OciError::Unreadable {
        path: PathBuf::from("<layer>"),
        source: e,
    };
    let mut emitted_dirs: std::collections::BTreeSet<String> = Default::default();
    let prefix = prefix.trim_matches('/');
    for f in files {
        let full = if prefix.is_empty() {
            f.path.clone()
        } else {
            format!("{prefix}/{}", f.path)
        };
        // parent directories first
        let parts: Vec<&str> = full.split('/').collect();
        for depth in 1..parts.len() {
            let dir = parts[..depth].join("/");
            if emitted_dirs.insert(dir.clone()) {
                let mut h = header(tar::EntryType::Directory, 0o755, 0);
                tar.append_data(&mut h, format!("{dir}/"), std::io::empty())
                    .map_err(io_err)?;
            }
        }
        let mode = if f.executable { 0o755 } else { 0o644 };
        let mut h = header(tar::EntryType::Regular, mode, f.data.len() as u64);
        tar.append_data(&mut h, &full, f.data.as_slice())
            .map_err(io_err)?;
    }
    let gz = tar.into_inner().map_err(io_err)?;
    let mut bytes = gz.finish().map_err(io_err)?;
    bytes.flush().map_err(io_err)?;
    Ok(bytes)
}

fn header(kind: tar::EntryType, mode: u32, size: u64) -> tar::Header {
    let mut h = tar::Header::new_gnu();
    h.set_entry_type(kind);
    h.set_mode(mode);
    h.set_uid(0);
    h.set_gid(0);
    h.set_mtime(0);
    h.set_size(size);
    // new_gnu() leaves user and group names empty.
    h
}

#[derive(Serialize)]
struct Descriptor<'a> {
    #[serde(rename = "mediaType")]
    media_type: &'a str,
    digest: &'a str,
    size: u64,
}

#[derive(Serialize)]
struct Manifest<'a> {
    #[serde(rename = "schemaVersion")]
    schema_version: u32,
    #[serde(rename = "mediaType")]
    media_type: &'a str,
    config: Descriptor<'a>,
    layers: Vec<Descriptor<'a>>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    annotations: &'a BTreeMap<String, String>,
}

/// The OCI image manifest bytes: one config, one layer, sorted annotations,
/// no `artifactType` (GitLab's registry rejects it). Compact JSON, fixed key
/// order, so the same inputs always give the same digest.
pub fn manifest_bytes(
    config: &Blob,
    layer: &Blob,
    annotations: &BTreeMap<String, String>,
) -> Vec<u8> {
    image_manifest_bytes(config, [layer], annotations)
}

/// The OCI image manifest bytes for any number of layers (the CI image has
/// two), in the same fixed form as [`manifest_bytes`].
pub fn image_manifest_bytes<'a>(
    config: &Blob,
    layers: impl IntoIterator<Item = &'a Blob>,
    annotations: &BTreeMap<String, String>,
) -> Vec<u8> {
    let descriptor = |b: &'a Blob| Descriptor {
        media_type: &b.media_type,
        digest: &b.digest,
        size: b.size(),
    };
    let m = Manifest {
        schema_version: 2,
        media_type: MANIFEST_MEDIA_TYPE,
        config: Descriptor {
            media_type: &config.media_type,
            digest: &config.digest,
            size: config.size(),
        },
        layers: layers.into_iter().map(descriptor).collect(),
        annotations,
    };
    // Serializing plain strings and numbers cannot fail.
    serde_json::to_vec(&m).unwrap_or_default()
}

/// The Flux config blob: an empty JSON object (no consumer reads it).
pub fn flux_config() -> Blob {
    Blob::new(FLUX_CONFIG_MEDIA_TYPE, b"{}".to_vec())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;

    fn tree(files: &[(&str, &str)]) -> tempfile::TempDir {
        let dir = tempfile::tempdir().expect("tempdir");
        for (p, content) in files {
            let path = dir.path().join(p);
            if let Some(parent) = path.parent() {
                fs::create_dir_all(parent).expect("mkdir");
            }
            fs::write(path, content).expect("write");
        }
        dir
    }

    fn flux_opts(ignore: &[&str]) -> CollectOptions {
        CollectOptions {
            default_ignores: FLUX_DEFAULT_IGNORES.iter().map(|s| s.to_string()).collect(),
            extra_ignore_files: vec![],
            ignore: ignore.iter().map(|s| s.to_string()).collect(),
        }
    }

    fn paths(c: &Collected) -> Vec<&str> {
        c.files.iter().map(|f| f.path.as_str()).collect()
    }

    #[test]
    fn ignore_rules() {
        let d = tree(&[
            ("app/deploy.yaml", "a: 1"),
            ("app/logo.png", "x"),
            (".git/config", "x"),
            (".gitignore", "x"),
            ("README.md", "x"),
            ("docs/notes.md", "x"),
            ("nested/.sourceignore", "secret.yaml\n!keep.md\n"),
            ("nested/secret.yaml", "x"),
            ("nested/other.yaml", "b: 2"),
            (".sourceignore", "/docs/\n"),
            ("a.yaml", "c: 3"),
        ]);
        let c = collect(d.path(), &flux_opts(&["*.md"])).expect("collect");
        assert_eq!(
            paths(&c),
            vec![
                ".sourceignore",
                "a.yaml",
                "app/deploy.yaml",
                "nested/.sourceignore",
                "nested/other.yaml"
            ]
        );
    }

    #[test]
    fn links_to_ignored_files_are_left_out() {
        let d = tree(&[
            ("a.yaml", "a: 1"),
            (".git/config", "[remote]\n"),
            (".sourceignore", "secret.yaml\n"),
            ("secret.yaml", "password: x"),
            ("real/b.yaml", "b: 2"),
        ]);
        let ln = |target: &str, link: &str| {
            std::os::unix::fs::symlink(target, d.path().join(link)).expect("ln")
        };
        ln("secret.yaml", "innocent.yaml");
        ln(".git", "gitdir");
        ln("real", "same");
        ln("a.yaml", "alias.yaml");
        let c = collect(d.path(), &flux_opts(&[])).expect("collect");
        assert_eq!(
            paths(&c),
            vec![
                ".sourceignore",
                "a.yaml",
                "alias.yaml",
                "real/b.yaml",
                "same/b.yaml"
            ]
        );
        assert_eq!(
            c.left_out,
            vec!["gitdir/config → .git/config", "innocent.yaml → secret.yaml"]
        );
    }

    #[test]
    fn empty_after_ignores_is_an_error() {
        let d = tree(&[("logo.png", "x"), ("README.md", "y")]);
        let err = collect(d.path(), &flux_opts(&["*.md"])).expect_err("empty");
        assert!(matches!(err, OciError::Empty { ignored: 2, .. }), "{err:?}");
    }

    #[cfg(unix)]
    #[test]
    fn symlinks_inside_are_files_outside_are_refused() {
        let d = tree(&[("real/a.yaml", "a: 1")]);
        std::os::unix::fs::symlink("real/a.yaml", d.path().join("link.yaml")).expect("ln");
        std::os::unix::fs::symlink("real", d.path().join("dirlink")).expect("ln");
        let c = collect(d.path(), &flux_opts(&[])).expect("collect");
        assert_eq!(
            paths(&c),
            vec!["dirlink/a.yaml", "link.yaml", "real/a.yaml"]
        );
        assert_eq!(c.files[1].data, b"a: 1");

        let outside = tree(&[("secret", "s")]);
        std::os::unix::fs::symlink(outside.path().join("secret"), d.path().join("escape"))
            .expect("ln");
        let err = collect(d.path(), &flux_opts(&[])).expect_err("escape");
        assert!(matches!(err, OciError::SymlinkEscapes { .. }), "{err:?}");
        assert!(err.to_string().contains("escape"), "{err}");

        // ignored escaping links are fine
        collect(d.path(), &flux_opts(&["escape"])).expect("ignored link");
    }

    #[test]
    fn single_file() {
        let d = tree(&[("dir/app.yaml", "a: 1")]);
        let c = collect(&d.path().join("dir/app.yaml"), &flux_opts(&[])).expect("collect");
        assert_eq!(paths(&c), vec!["app.yaml"]);
    }

    #[test]
    fn missing_path() {
        let err = collect(Path::new("/nonexistent/x"), &flux_opts(&[])).expect_err("missing");
        assert!(matches!(err, OciError::PathMissing { .. }));
    }

    #[test]
    fn large_valid_yaml_is_checked_and_alias_bombs_are_too_large() {
        // Issue 14 item 8: what real manifests reach passes the check.
        let mut cm =
            String::from("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: big\ndata:\n");
        for i in 0..150_000 {
            cm.push_str(&format!("  key{i}: value{i}\n"));
        }
        check_yaml(Path::new("big.yaml"), cm.as_bytes()).expect("a 150,000-key ConfigMap");
        let docs = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\n---\n".repeat(30_000);
        check_yaml(Path::new("many.yaml"), docs.as_bytes()).expect("30,000 documents");
        // Alias expansion: refused as too large, not as invalid.
        let mut bomb = String::from(
            "a: &a [\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\"]\n",
        );
        let names = ["b", "c", "d", "e", "f", "g", "h", "i"];
        let mut prev = "a";
        for n in names {
            bomb.push_str(&format!("{n}: &{n} [*{prev},*{prev},*{prev},*{prev},*{prev},*{prev},*{prev},*{prev},*{prev}]\n"));
            prev = n;
        }
        let started = std::time::Instant::now();
        let err =
            check_yaml(Path::new("bomb.yaml"), bomb.as_bytes()).expect_err("a billion laughs");
        assert!(
            matches!(err, OciError::YamlTooLarge { .. }),
            "too large, not invalid: {err}"
        );
        eprintln!("billion laughs refused in {:?}", started.elapsed());
    }

    #[test]
    fn yaml_errors_have_line_and_column() {
        let err = check_yaml(Path::new("x.yaml"), b"a: 1\n---\nb: [1, 2\nc: 3\n").expect_err("bad");
        match err {
            OciError::InvalidYaml { line, column, .. } => {
                assert!(line >= 3, "line {line}");
                assert!(column >= 1, "column {column}");
            }
            other => panic!("{other:?}"),
        }
        let err = check_yaml(Path::new("x.yaml"), b"a: 1\nb:\n\t- x\n").expect_err("tab");
        assert!(
            matches!(err, OciError::InvalidYaml { line: 3, .. }),
            "{err:?}"
        );
        check_yaml(
            Path::new("ok.yaml"),
            b"---\na: &x 1\nb: *x\n---\n- !!str y\n---\n",
        )
        .expect("valid multi-doc");
        let err = check_yaml(Path::new("x.yaml"), b"a: 1\n\xff\n").expect_err("utf8");
        assert!(
            matches!(
                err,
                OciError::InvalidYaml {
                    line: 2,
                    column: 1,
                    ..
                }
            ),
            "{err:?}"
        );
    }

    #[test]
    fn layer_is_deterministic_and_normalized() {
        let files = |order_rev: bool| {
            let mut v = vec![
                FileEntry {
                    path: "a/b.yaml".into(),
                    disk_path: "x".into(),
                    executable: false,
                    data: b"b".to_vec(),
                },
                FileEntry {
                    path: "run.sh".into(),
                    disk_path: "y".into(),
                    executable: true,
                    data: b"#!/bin/sh".to_vec(),
                },
            ];
            if order_rev {
                v.reverse();
                v.sort_by(|a, b| a.path.split('/').cmp(b.path.split('/')));
            }
            v
        };
        let one = build_layer(&files(false), "").expect("layer");
        let two = build_layer(&files(true), "").expect("layer");
        assert_eq!(sha256_digest(&one), sha256_digest(&two));
        // gzip header: magic, deflate, no flags, mtime 0, xfl, OS 255
        assert_eq!(&one[..4], &[0x1f, 0x8b, 8, 0]);
        assert_eq!(&one[4..8], &[0, 0, 0, 0]);

        let mut archive = tar::Archive::new(flate2::read::GzDecoder::new(one.as_slice()));
        let mut seen = Vec::new();
        for e in archive.entries().expect("entries") {
            let e = e.expect("entry");
            let h = e.header();
            seen.push((
                e.path().expect("path").to_string_lossy().to_string(),
                h.mode().expect("mode"),
                h.mtime().expect("mtime"),
                h.uid().expect("uid"),
            ));
            assert_eq!(h.username().ok().flatten().unwrap_or(""), "");
        }
        assert_eq!(
            seen,
            vec![
                ("a/".to_string(), 0o755, 0, 0),
                ("a/b.yaml".to_string(), 0o644, 0, 0),
                ("run.sh".to_string(), 0o755, 0, 0),
            ]
        );
        let prefixed = build_layer(&files(false), "chart").expect("layer");
        let mut archive = tar::Archive::new(flate2::read::GzDecoder::new(prefixed.as_slice()));
        let first = archive
            .entries()
            .expect("entries")
            .next()
            .expect("one")
            .expect("entry")
            .path()
            .expect("path")
            .to_string_lossy()
            .to_string();
        assert_eq!(first, "chart/");
    }

    #[test]
    fn manifest_has_flux_shape() {
        let layer = Blob::new(FLUX_LAYER_MEDIA_TYPE, b"layer".to_vec());
        let mut ann = BTreeMap::new();
        ann.insert(
            "org.opencontainers.image.revision".to_string(),
            "main@sha1:x".to_string(),
        );
        let bytes = manifest_bytes(&flux_config(), &layer, &ann);
        let v: serde_json::Value = serde_json::from_slice(&bytes).expect("json");
        assert_eq!(v["schemaVersion"], 2);
        assert_eq!(v["mediaType"], MANIFEST_MEDIA_TYPE);
        assert_eq!(v["config"]["mediaType"], FLUX_CONFIG_MEDIA_TYPE);
        assert_eq!(v["config"]["size"], 2);
        assert_eq!(v["layers"][0]["mediaType"], FLUX_LAYER_MEDIA_TYPE);
        assert_eq!(v["layers"][0]["digest"], layer.digest.as_str());
        assert!(v.get("artifactType").is_none());
        assert_eq!(bytes, manifest_bytes(&flux_config(), &layer, &ann));
    }
}
