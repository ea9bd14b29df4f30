//! `gitlab-flux-release`: `make krew` and `make image` (see docs/distribution.md).

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context as _, Result};
use clap::{Args, Parser, Subcommand};
use gitlab_flux_release::image::{self, Inputs};
use gitlab_flux_release::krew;
use gitlab_flux_release::package::Package;
use kubectl_gitlab_flux::oci::registry::ClientOptions;

#[derive(Parser)]
#[command(about = "Release tooling of kubectl-gitlab-flux: krew manifest, container image")]
struct Cli {
    /// The plugin's Cargo.toml (version, repository, description).
    #[arg(long, default_value = "Cargo.toml", global = true)]
    cargo_toml: PathBuf,
    #[command(subcommand)]
    command: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Generate the krew manifest from the release archives.
    Krew(KrewArgs),
    /// Assemble the container image; push it, or write an OCI image layout.
    Image(Box<ImageArgs>),
}

#[derive(Args)]
struct KrewArgs {
    /// Where the archives are.
    #[arg(long, default_value = "dist")]
    dist: PathBuf,
    /// Where to write the manifest.
    #[arg(long, default_value = "krew/gitlab-flux.yaml")]
    out: PathBuf,
    /// Download location of the archives (default: the GitLab release's
    /// asset permalinks, <repository>/-/releases/v<version>/downloads).
    #[arg(long)]
    download_base: Option<String>,
    /// Fail unless every platform has an archive (release jobs).
    #[arg(long)]
    strict: bool,
}

#[derive(Args)]
struct ImageArgs {
    /// The static (musl) plugin binary, or a linux release archive
    /// (.tar.gz) to take it from.
    #[arg(long)]
    binary: PathBuf,
    /// OCI architecture of the binary.
    #[arg(long, default_value = "amd64")]
    arch: String,
    /// A static busybox for that architecture.
    #[arg(long, default_value = "/bin/busybox")]
    busybox: PathBuf,
    /// Licence text of busybox.
    #[arg(long, default_value = "/usr/share/doc/busybox-static/copyright")]
    busybox_copyright: PathBuf,
    /// The CA bundle.
    #[arg(long, default_value = "/etc/ssl/certs/ca-certificates.crt")]
    ca_bundle: PathBuf,
    /// Licence text of the CA bundle.
    #[arg(long, default_value = "/usr/share/doc/ca-certificates/copyright")]
    ca_copyright: PathBuf,
    /// The plugin's LICENSE.
    #[arg(long, default_value = "LICENSE")]
    license: PathBuf,
    /// Git commit for the revision label (default: git rev-parse HEAD).
    #[arg(long)]
    revision: Option<String>,
    /// Creation time, unix seconds (default: SOURCE_DATE_EPOCH, else
    /// the commit time of HEAD, else 0): fixed so the digest is reproducible.
    #[arg(long)]
    created: Option<i64>,
    /// Push to host[:port]/repository[:tag] (tag default v<version>);
    /// repeatable.
    #[arg(long)]
    push: Vec<String>,
    /// Allow plain HTTP to a non-loopback registry.
    #[arg(long)]
    insecure: bool,
    /// Write the OCI image layout into this directory.
    #[arg(long)]
    layout: Option<PathBuf>,
    /// Write the layout as one tar (docker load, podman load).
    #[arg(long)]
    archive: Option<PathBuf>,
    /// Image name recorded in the layout (default kubectl-gitlab-flux:v<version>).
    #[arg(long)]
    name: Option<String>,
}

fn git(args: &[&str]) -> Option<String> {
    let out = std::process::Command::new("git").args(args).output().ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
        .filter(|s| !s.is_empty())
}

fn created_time(flag: Option<i64>) -> Result<String> {
    let secs = match flag {
        Some(s) => s,
        None => match std::env::var("SOURCE_DATE_EPOCH") {
            Ok(v) if !v.is_empty() => v.trim().parse().context("SOURCE_DATE_EPOCH")?,
            _ => git(&["log", "-1", "--format=%ct"])
                .and_then(|s| s.parse().ok())
                .unwrap_or(0),
        },
    };
    let t = jiff::Timestamp::from_second(secs).context("creation time")?;
    Ok(t.strftime("%Y-%m-%dT%H:%M:%SZ").to_string())
}

fn run(cli: Cli) -> Result<()> {
    let package = Package::read(&cli.cargo_toml)?;
    match cli.command {
        Cmd::Krew(args) => {
            let KrewArgs {
                dist,
                out,
                download_base,
                strict,
            } = args;
            let generated = krew::generate(&krew::Options {
                dist,
                package,
                download_base,
                strict,
            })?;
            if !generated.missing.is_empty() {
                eprintln!(
                    "krew: no archive for {} here; a release builds them on their own runners \
                     (docs/distribution.md)",
                    generated.missing.join(", ")
                );
            }
            if let Some(parent) = out.parent().filter(|p| !p.as_os_str().is_empty()) {
                std::fs::create_dir_all(parent)?;
            }
            std::fs::write(&out, generated.yaml)
                .with_context(|| format!("cannot write {}", out.display()))?;
            eprintln!("krew: {}", out.display());
        }
        Cmd::Image(args) => {
            let ImageArgs {
                binary,
                arch,
                busybox,
                busybox_copyright,
                ca_bundle,
                ca_copyright,
                license,
                revision,
                created,
                push,
                insecure,
                layout,
                archive,
                name,
            } = *args;
            let version = package.version.clone();
            let img = image::assemble(&Inputs {
                binary: image::read_binary(&binary)?,
                busybox,
                ca_bundle,
                license,
                notices: vec![
                    ("busybox-static".into(), busybox_copyright),
                    ("ca-certificates".into(), ca_copyright),
                ],
                arch,
                revision: revision
                    .or_else(|| git(&["rev-parse", "HEAD"]))
                    .unwrap_or_else(|| "unknown".into()),
                created: created_time(created)?,
                package,
            })?;
            eprintln!("image: {} ({})", img.digest, img.arch);
            let name = name.unwrap_or_else(|| format!("kubectl-gitlab-flux:v{version}"));
            if let Some(dir) = layout {
                image::write_layout(&img, &dir, &name)?;
                eprintln!("image: OCI layout {} ({name})", dir.display());
            }
            if let Some(path) = archive {
                std::fs::write(&path, image::layout_tar(&img, &name)?)
                    .with_context(|| format!("cannot write {}", path.display()))?;
                eprintln!(
                    "image: {} (docker load -i / podman load -i)",
                    path.display()
                );
            }
            for target in push {
                let reference = image::parse_reference(&target, &format!("v{version}"))?;
                let url = image::push(
                    &img,
                    &reference,
                    ClientOptions {
                        insecure,
                        timeout: Duration::from_secs(600),
                        ..ClientOptions::default()
                    },
                    &|k| std::env::var(k).ok(),
                )?;
                println!("{url}");
            }
        }
    }
    Ok(())
}

fn main() -> ExitCode {
    match run(Cli::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
