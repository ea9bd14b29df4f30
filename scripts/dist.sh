#!/usr/bin/env bash
# Release archives into dist/: kubectl-gitlab_flux_<os>_<arch>.tar.gz with the
# binary, LICENSE and README. Builds the targets whose toolchain is
# installed here (always the host); the others are listed as skipped.
set -euo pipefail
cd "$(dirname "$0")/.."
version=$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -1)
mkdir -p dist
host=$(rustc -vV | sed -n 's/^host: //p')
declare -A targets=(
  [linux_amd64]=x86_64-unknown-linux-gnu
  [linux_arm64]=aarch64-unknown-linux-gnu
  [darwin_amd64]=x86_64-apple-darwin
  [darwin_arm64]=aarch64-apple-darwin
)
installed=$(rustup target list --installed 2>/dev/null || echo "$host")
for platform in "${!targets[@]}"; do
  triple=${targets[$platform]}
  if ! grep -qx "$triple" <<<"$installed"; then
    echo "dist: skipping $platform ($triple not installed; built by the release recipe)" >&2
    continue
  fi
  cargo build --release --locked --target "$triple" --bin kubectl-gitlab_flux
  stage=$(mktemp -d)
  cp "target/$triple/release/kubectl-gitlab_flux" LICENSE README.md "$stage/"
  [ -f completions/kubectl_complete-gitlab_flux ] && cp completions/kubectl_complete-gitlab_flux "$stage/"
  tar --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner -czf "dist/kubectl-gitlab_flux_${platform}_v${version}.tar.gz" -C "$stage" .
  rm -rf "$stage"
  echo "dist: dist/kubectl-gitlab_flux_${platform}_v${version}.tar.gz"
done
(cd dist && sha256sum ./*.tar.gz > SHA256SUMS)
