//! The release archives `scripts/dist.sh` writes:
//! `kubectl-gitlab_flux_v<version>_<os>_<arch>.tar.gz`.

use std::io::Read as _;
use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result};
use sha2::{Digest as _, Sha256};

use crate::BIN;

/// One platform's archive.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Archive {
    pub path: PathBuf,
    pub file_name: String,
    /// Without the `v`.
    pub version: String,
    pub os: String,
    pub arch: String,
}

/// The archive's file name for a version and platform.
pub fn file_name(version: &str, os: &str, arch: &str) -> String {
    format!("{BIN}_v{version}_{os}_{arch}.tar.gz")
}

/// Parse `kubectl-gitlab_flux_v<version>_<os>_<arch>.tar.gz`.
pub fn parse_name(name: &str) -> Option<(String, String, String)> {
    let rest = name.strip_prefix(BIN)?.strip_prefix("_v")?;
    let rest = rest.strip_suffix(".tar.gz")?;
    let mut parts = rest.rsplitn(3, '_');
    let arch = parts.next()?;
    let os = parts.next()?;
    let version = parts.next()?;
    let ok = |s: &str| !s.is_empty() && s.chars().all(|c| c.is_ascii_alphanumeric());
    (ok(os) && ok(arch) && !version.is_empty())
        .then(|| (version.to_string(), os.to_string(), arch.to_string()))
}

/// The archives in `dir`, sorted by os then arch.
pub fn find(dir: &Path) -> Result<Vec<Archive>> {
    let mut out = Vec::new();
    let entries =
        std::fs::read_dir(dir).with_context(|| format!("cannot list {}", dir.display()))?;
    for entry in entries {
        let entry = entry.with_context(|| format!("cannot list {}", dir.display()))?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if let Some((version, os, arch)) = parse_name(&name) {
            out.push(Archive {
                path: entry.path(),
                file_name: name,
                version,
                os,
                arch,
            });
        }
    }
    out.sort_by(|a, b| (&a.os, &a.arch, &a.version).cmp(&(&b.os, &b.arch, &b.version)));
    Ok(out)
}

/// Lowercase hex sha256 of a file.
pub fn sha256_file(path: &Path) -> Result<String> {
    let mut file =
        std::fs::File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 16];
    loop {
        let n = file
            .read(&mut buf)
            .with_context(|| format!("cannot read {}", path.display()))?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
    }
    Ok(hex::encode(hasher.finalize()))
}

/// A regular file of an archive: its name (no leading `./`) and mode.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub name: String,
    pub mode: u32,
    pub data: Vec<u8>,
}

/// The regular files of a `.tar.gz`, in archive order.
pub fn files(path: &Path) -> Result<Vec<Entry>> {
    let file =
        std::fs::File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
    let mut tar = tar::Archive::new(flate2::read::GzDecoder::new(file));
    let mut out = Vec::new();
    for entry in tar
        .entries()
        .with_context(|| format!("{} is not a tar.gz", path.display()))?
    {
        let mut entry = entry.with_context(|| format!("{} is not a tar.gz", path.display()))?;
        if !entry.header().entry_type().is_file() {
            continue;
        }
        let name = entry.path()?.to_string_lossy().into_owned();
        let name = name.trim_start_matches("./").to_string();
        let mode = entry.header().mode()?;
        let mut data = Vec::new();
        entry
            .read_to_end(&mut data)
            .with_context(|| format!("cannot read {name} in {}", path.display()))?;
        out.push(Entry { name, mode, data });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        let name = file_name("0.1.0", "linux", "amd64");
        assert_eq!(name, "kubectl-gitlab_flux_v0.1.0_linux_amd64.tar.gz");
        assert_eq!(
            parse_name(&name),
            Some(("0.1.0".into(), "linux".into(), "amd64".into()))
        );
        assert_eq!(
            parse_name("kubectl-gitlab_flux_v1.0.0-rc_1_darwin_arm64.tar.gz"),
            Some(("1.0.0-rc_1".into(), "darwin".into(), "arm64".into()))
        );
        for bad in [
            "kubectl-gitlab_flux_0.1.0_linux_amd64.tar.gz",
            "kubectl-gitlab_flux_v0.1.0_linux.tar.gz",
            "kubectl-gitlab_flux_v0.1.0_linux_amd64.zip",
            "SHA256SUMS",
        ] {
            assert_eq!(parse_name(bad), None, "{bad}");
        }
    }
}
