//! The krew plugin manifest (`krew/gitlab-flux.yaml`), generated from the
//! release archives so every `sha256` is the archive's real one.
//!
//! Schema and rules: krew's `v1alpha2` Plugin (sigs.k8s.io/krew
//! pkg/index/validation): name `^[\w-]+$` equal to the file name, version
//! semver with a `v`, one-line shortDescription, one platform per os/arch,
//! `sha256` 64 lowercase hex, `bin` among the installed files, and a
//! LICENSE installed with the plugin (krew-index's rule).

use std::collections::BTreeMap;
use std::path::PathBuf;

use anyhow::{Result, bail};
use serde::Serialize;
use serde_saphyr::LitString;

use crate::archive::{self, Archive};
use crate::package::Package;
use crate::{BIN, COMPLETION_HELPER};

/// The plugin's name in krew: `kubectl krew install gitlab-flux`, which
/// krew links as `kubectl-gitlab_flux`.
pub const PLUGIN: &str = "gitlab-flux";

/// Shown by `kubectl krew search`; one line (krew-index asks for brevity).
/// At most 50 characters, as the krew-index review asks.
pub const SHORT_DESCRIPTION: &str = "Deploy with Flux from GitLab CI and wait for it";

/// The platforms a release ships (`scripts/dist.sh`).
pub const PLATFORMS: [(&str, &str); 4] = [
    ("darwin", "amd64"),
    ("darwin", "arm64"),
    ("linux", "amd64"),
    ("linux", "arm64"),
];

/// Prose, not a list of subcommands (krew's plugin-manifest guide).
const DESCRIPTION: &str = "\
Makes a Flux deployment a trustworthy step of a GitLab CI/CD pipeline or of
a terminal session. It packages a directory of manifests (or a Helm chart)
as a Flux OCI artifact with a reproducible digest and pushes it to the GitLab
container registry with the job's credentials, asks Flux to reconcile what
consumes it right away, and then watches until every Kustomization and
HelmRelease has applied exactly that digest and is healthy. When Flux fails
for good, the job fails at once with the controller's reason and events;
while Flux is still retrying, it keeps waiting. In a GitLab CI job it picks
the GitLab agent's kubeconfig context itself and writes dotenv and JUnit
reports for the pipeline.
";

/// What to generate from.
#[derive(Debug, Clone)]
pub struct Options {
    /// Where the archives are (`dist/`).
    pub dist: PathBuf,
    pub package: Package,
    /// Download location of the archives; default: the release's asset
    /// permalinks, `<repository>/-/releases/v<version>/downloads/`.
    pub download_base: Option<String>,
    /// Fail unless every platform of [`PLATFORMS`] has an archive.
    pub strict: bool,
}

/// The manifest text and the platforms it lacks.
#[derive(Debug, Clone)]
pub struct Generated {
    pub yaml: String,
    pub missing: Vec<String>,
}

#[derive(Serialize)]
struct Manifest {
    #[serde(rename = "apiVersion")]
    api_version: &'static str,
    kind: &'static str,
    metadata: Metadata,
    spec: Spec,
}

#[derive(Serialize)]
struct Metadata {
    name: &'static str,
}

#[derive(Serialize)]
struct Spec {
    version: String,
    homepage: String,
    #[serde(rename = "shortDescription")]
    short_description: &'static str,
    description: LitString,
    caveats: LitString,
    platforms: Vec<Platform>,
}

#[derive(Serialize)]
struct Platform {
    selector: Selector,
    uri: String,
    sha256: String,
    bin: &'static str,
    files: Vec<FileOp>,
}

#[derive(Serialize)]
struct Selector {
    #[serde(rename = "matchLabels")]
    match_labels: BTreeMap<&'static str, String>,
}

#[derive(Serialize)]
struct FileOp {
    from: &'static str,
    to: &'static str,
}

/// The release asset permalink of an archive.
pub fn download_url(base: &str, file_name: &str) -> String {
    format!("{}/{file_name}", base.trim_end_matches('/'))
}

/// The default download base: the GitLab release's asset permalinks.
pub fn release_downloads(package: &Package) -> String {
    format!(
        "{}/-/releases/v{}/downloads",
        package.repository, package.version
    )
}

fn caveats(version: &str) -> String {
    format!(
        "\
Shell completion of `kubectl gitlab-flux` (kubectl >= 1.26) runs the helper
{COMPLETION_HELPER}, which must be on your PATH. krew installs it
but links only the plugin, so copy it next to krew's links:

  install -m 0755 \"${{KREW_ROOT:-$HOME/.krew}}/store/{PLUGIN}/v{version}/{COMPLETION_HELPER}\" \"${{KREW_ROOT:-$HOME/.krew}}/bin/\"

It only runs {BIN}, so it keeps working after upgrades. Then
enable kubectl's completion as usual (e.g. source <(kubectl completion bash)).
"
    )
}

/// Check that an archive holds what the manifest installs from it.
fn check_contents(a: &Archive) -> Result<()> {
    let files = archive::files(&a.path)?;
    let find = |name: &str| files.iter().find(|e| e.name == name);
    for name in [BIN, COMPLETION_HELPER] {
        match find(name) {
            None => bail!("{} has no {name}", a.file_name),
            Some(e) if e.mode & 0o111 == 0 => bail!("{name} in {} is not executable", a.file_name),
            Some(_) => {}
        }
    }
    if find("LICENSE").is_none() {
        bail!("{} has no LICENSE (krew-index requires one)", a.file_name);
    }
    Ok(())
}

/// Generate the manifest from the archives of the package's version.
pub fn generate(opts: &Options) -> Result<Generated> {
    let version = &opts.package.version;
    let archives: Vec<Archive> = archive::find(&opts.dist)?
        .into_iter()
        .filter(|a| &a.version == version)
        .collect();
    if archives.is_empty() {
        bail!(
            "no release archive for v{version} in {} (run make dist first)",
            opts.dist.display()
        );
    }
    let base = opts
        .download_base
        .clone()
        .unwrap_or_else(|| release_downloads(&opts.package));
    let mut platforms = Vec::new();
    for a in &archives {
        if !PLATFORMS.contains(&(a.os.as_str(), a.arch.as_str())) {
            bail!("{}: unknown platform {}/{}", a.file_name, a.os, a.arch);
        }
        check_contents(a)?;
        platforms.push(Platform {
            selector: Selector {
                match_labels: BTreeMap::from([("os", a.os.clone()), ("arch", a.arch.clone())]),
            },
            uri: download_url(&base, &a.file_name),
            sha256: archive::sha256_file(&a.path)?,
            bin: BIN,
            files: vec![
                FileOp { from: BIN, to: "." },
                FileOp {
                    from: COMPLETION_HELPER,
                    to: ".",
                },
                FileOp {
                    from: "LICENSE",
                    to: ".",
                },
                FileOp {
                    from: "README.md",
                    to: ".",
                },
            ],
        });
    }
    let missing: Vec<String> = PLATFORMS
        .iter()
        .filter(|(os, arch)| !archives.iter().any(|a| a.os == *os && a.arch == *arch))
        .map(|(os, arch)| format!("{os}/{arch}"))
        .collect();
    if opts.strict && !missing.is_empty() {
        bail!(
            "no archive for {} in {} (--strict: a release ships every platform)",
            missing.join(", "),
            opts.dist.display()
        );
    }
    let manifest = Manifest {
        api_version: "krew.googlecontainertools.github.com/v1alpha2",
        kind: "Plugin",
        metadata: Metadata { name: PLUGIN },
        spec: Spec {
            version: format!("v{version}"),
            homepage: opts.package.repository.clone(),
            short_description: SHORT_DESCRIPTION,
            description: LitString(DESCRIPTION.to_string()),
            caveats: LitString(caveats(version)),
            platforms,
        },
    };
    // Long URIs stay on one line; description and caveats are literal blocks.
    let options = serde_saphyr::ser_options! { prefer_block_scalars: false };
    let mut yaml = serde_saphyr::to_string_with_options(&manifest, options)?;
    if !yaml.ends_with('\n') {
        yaml.push('\n');
    }
    Ok(Generated {
        yaml: format!(
            "# Generated by `make krew` (tools/release) from the release archives; do not edit.\n{yaml}"
        ),
        missing,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_description_is_one_short_line() {
        assert!(!SHORT_DESCRIPTION.contains('\n'));
        assert!(
            SHORT_DESCRIPTION.chars().count() <= 50,
            "{}",
            SHORT_DESCRIPTION.len()
        );
    }

    #[test]
    fn description_is_prose() {
        // krew's guide: describe the plugin, do not list its subcommands.
        assert!(
            !DESCRIPTION
                .lines()
                .any(|l| l.trim_start().starts_with(['-', '*'])),
            "{DESCRIPTION}"
        );
        assert!(DESCRIPTION.split_whitespace().count() > 40);
    }

    #[test]
    fn caveats_name_the_helper_path_of_the_version() {
        let c = caveats("1.2.3");
        assert!(
            c.contains("/store/gitlab-flux/v1.2.3/kubectl_complete-gitlab_flux"),
            "{c}"
        );
        assert!(c.contains("${KREW_ROOT:-$HOME/.krew}/bin/"), "{c}");
    }

    #[test]
    fn urls() {
        let p = Package {
            name: "kubectl-gitlab-flux".into(),
            version: "0.1.0".into(),
            description: "d".into(),
            repository: "https://gitlab.com/g/p".into(),
            license: "Apache-2.0".into(),
        };
        assert_eq!(
            download_url(&release_downloads(&p), "a.tar.gz"),
            "https://gitlab.com/g/p/-/releases/v0.1.0/downloads/a.tar.gz"
        );
        assert_eq!(download_url("https://x/y/", "a"), "https://x/y/a");
    }
}
