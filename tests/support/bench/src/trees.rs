//! Deterministic content for the push scenarios: the same bytes on every
//! run and every machine, so layer digests and sizes are comparable.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::Context;

/// xorshift64*: deterministic, no dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// `n` characters of the base64 alphabet.
    fn text(&mut self, n: usize, out: &mut Vec<u8>) {
        const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
        let mut left = 0;
        let mut bits = 0u64;
        for _ in 0..n {
            if left < 6 {
                bits = self.next();
                left = 64;
            }
            out.push(ALPHABET[(bits & 63) as usize]);
            bits >>= 6;
            left -= 6;
        }
    }
}

/// A ConfigMap of about `size` bytes with random values (like generated
/// configuration): repeated keys, incompressible values.
fn configmap(rng: &mut Rng, name: &str, size: usize) -> Vec<u8> {
    let mut out = format!(
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}\n  labels:\n    app.kubernetes.io/part-of: bench\ndata:\n"
    )
    .into_bytes();
    let mut i = 0;
    while out.len() < size {
        out.extend_from_slice(format!("  key-{i:04}: \"").as_bytes());
        rng.text(48, &mut out);
        out.extend_from_slice(b"\"\n");
        i += 1;
    }
    out
}

/// A tree of manifests.
pub struct Tree {
    pub name: &'static str,
    pub label: String,
    pub dir: PathBuf,
    pub files: usize,
    pub bytes: u64,
}

fn write(path: &Path, data: &[u8]) -> anyhow::Result<()> {
    if let Some(p) = path.parent() {
        std::fs::create_dir_all(p)?;
    }
    std::fs::write(path, data).with_context(|| format!("writing {}", path.display()))
}

/// `files` YAML files of `size` bytes each, `per_dir` to a directory.
fn yaml_tree(
    root: &Path,
    name: &'static str,
    files: usize,
    size: usize,
    per_dir: usize,
) -> anyhow::Result<Tree> {
    let dir = root.join(name);
    let _ = std::fs::remove_dir_all(&dir);
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15 ^ files as u64);
    let mut bytes = 0;
    for i in 0..files {
        let data = configmap(&mut rng, &format!("{name}-{i:04}"), size);
        bytes += data.len() as u64;
        let rel = if per_dir >= files {
            format!("cm-{i:04}.yaml")
        } else {
            format!("team-{:02}/cm-{i:04}.yaml", i / per_dir)
        };
        write(&dir.join(rel), &data)?;
    }
    Ok(Tree {
        name,
        label: String::new(),
        dir,
        files,
        bytes,
    })
}

/// One large non-YAML file (base64-like text lines, as an embedded binary
/// would be), so the plugin's YAML check does not apply to it.
fn large_tree(root: &Path, size: usize) -> anyhow::Result<Tree> {
    let dir = root.join("large");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir)?;
    let path = dir.join("bundle.dat");
    let mut f = std::io::BufWriter::new(std::fs::File::create(&path)?);
    let mut rng = Rng(0xD1B5_4A32_D192_ED03);
    let mut written = 0;
    let mut line = Vec::with_capacity(80);
    while written < size {
        line.clear();
        rng.text(76, &mut line);
        line.push(b'\n');
        f.write_all(&line)?;
        written += line.len();
    }
    f.flush()?;
    Ok(Tree {
        name: "large",
        label: String::new(),
        dir,
        files: 1,
        bytes: written as u64,
    })
}

fn human(bytes: u64) -> String {
    if bytes >= 1 << 20 {
        format!("{:.0} MiB", bytes as f64 / f64::from(1 << 20))
    } else {
        format!("{:.0} KiB", bytes as f64 / 1024.0)
    }
}

/// The small (50 files, ~200 KB), medium (2,000 files, ~20 MB) and large
/// (one ~100 MB file) trees under `root`.
pub fn generate(root: &Path) -> anyhow::Result<Vec<Tree>> {
    let mut trees = vec![
        yaml_tree(root, "small", 50, 4_000, 50)?,
        yaml_tree(root, "medium", 2_000, 10_000, 100)?,
        large_tree(root, 100_000_000)?,
    ];
    for t in &mut trees {
        t.label = format!(
            "push {} ({} file{}, {})",
            t.name,
            t.files,
            if t.files == 1 { "" } else { "s" },
            human(t.bytes)
        );
    }
    Ok(trees)
}
