#!/usr/bin/env bash
# Release archives: kubectl-gitlab_flux_v<version>_<os>_<arch>.tar.gz holding
#   kubectl-gitlab_flux            the plugin (static musl binary on Linux)
#   kubectl_complete-gitlab_flux   kubectl's completion helper (POSIX sh)
#   LICENSE, README.md
# plus SHA256SUMS over every archive in the output directory.
#
# Archives are reproducible: entries sorted, mtime 0, owner root (0:0),
# fixed modes, gzip without name or time. See docs/distribution.md.
#
# Usage: scripts/dist.sh [--out DIR] [--profile NAME] [--platform OS_ARCH]...
#                        [--binary PATH] [--strict]
#   --out DIR         output directory (default: dist; env DIST_DIR)
#   --profile NAME    cargo profile (default: release; env PROFILE)
#   --platform P      linux_amd64, linux_arm64, darwin_amd64, darwin_arm64;
#                     repeatable or comma-separated (default: all four; env
#                     PLATFORMS). Platforms this machine cannot build are
#                     skipped with a note: the release recipe builds each on
#                     its own runner (docs/distribution.md).
#   --binary PATH     do not build: package this binary for the one --platform
#                     given (tests use the debug binary this way)
#   --gzip-level N    gzip level (default: 9; env DIST_GZIP_LEVEL; tests use 1)
#   --strict          fail instead of skipping a platform or falling back
#                     from a static musl build to a glibc one (env
#                     DIST_STRICT=1; the release jobs use it)
set -euo pipefail
cd "$(dirname "$0")/.."

BIN=kubectl-gitlab_flux
HELPER=kubectl_complete-gitlab_flux
out=${DIST_DIR:-dist}
profile=${PROFILE:-release}
platforms=${PLATFORMS:-}
binary=
strict=${DIST_STRICT:-0}
level=${DIST_GZIP_LEVEL:-9}

die() { echo "dist: error: $*" >&2; exit 1; }
note() { echo "dist: $*" >&2; }

while [ $# -gt 0 ]; do
  case $1 in
    --out) out=$2; shift 2 ;;
    --profile) profile=$2; shift 2 ;;
    --platform) platforms="$platforms ${2//,/ }"; shift 2 ;;
    --binary) binary=$2; shift 2 ;;
    --gzip-level) level=$2; shift 2 ;;
    --strict) strict=1; shift ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) die "unknown argument $1 (see --help)" ;;
  esac
done
case $level in [1-9]) ;; *) die "--gzip-level must be 1 to 9" ;; esac
# Each platform once (PLATFORMS from the environment plus --platform may repeat one).
read -r -a platforms <<<"$(tr ' ' '\n' <<<"${platforms:-linux_amd64 linux_arm64 darwin_amd64 darwin_arm64}" | awk 'NF && !seen[$0]++' | tr '\n' ' ')"
for platform in "${platforms[@]}"; do
  case $platform in linux_amd64|linux_arm64|darwin_amd64|darwin_arm64) ;; *) die "unknown platform $platform" ;; esac
done

version=$(sed -n '/^\[package\]/,/^\[/s/^version = "\(.*\)"/\1/p' Cargo.toml)
[ -n "$version" ] || die "no [package] version in Cargo.toml"

# GNU tar makes the archives reproducible (macOS: brew install gnu-tar).
tar=tar
command -v gtar >/dev/null 2>&1 && tar=gtar
"$tar" --version 2>/dev/null | grep -q 'GNU tar' || die "GNU tar is needed (macOS: brew install gnu-tar)"
if command -v sha256sum >/dev/null 2>&1; then sha256=(sha256sum); else sha256=(shasum -a 256); fi

[ -f "completions/$HELPER" ] || die "completions/$HELPER is missing"
if [ -n "$binary" ]; then
  [ ${#platforms[@]} -eq 1 ] || die "--binary needs exactly one --platform"
  [ -x "$binary" ] || die "--binary $binary is not an executable file"
fi

case $(uname -s) in Linux) host_os=linux ;; Darwin) host_os=darwin ;; *) host_os=other ;; esac
case $(uname -m) in x86_64|amd64) host_arch=amd64 ;; aarch64|arm64) host_arch=arm64 ;; *) host_arch=other ;; esac

# The C compiler for ring's C and assembly, for a Linux musl target: a musl
# cross compiler when there is one, else a gcc/clang for the architecture
# (ring's C needs no libc headers beyond the compiler's own).
c_compiler() {
  local arch=$1 cand
  for cand in "$arch-linux-musl-gcc" "$arch-linux-gnu-gcc"; do
    command -v "$cand" >/dev/null 2>&1 && { echo "$cand"; return; }
  done
  if [ "$arch" = "$(uname -m)" ]; then
    for cand in musl-gcc gcc cc clang; do
      command -v "$cand" >/dev/null 2>&1 && { echo "$cand"; return; }
    done
  fi
  return 1
}

# Make sure rustup has the target (installing it when missing).
have_target() {
  local triple=$1
  if ! command -v rustup >/dev/null 2>&1; then
    [ "$(rustc -vV | sed -n 's/^host: //p')" = "$triple" ]
    return
  fi
  rustup target list --installed | grep -qx "$triple" && return 0
  note "installing the Rust target $triple (rustup target add)"
  rustup target add "$triple" >&2
}

# Build the binary for a platform and print its path; returns 1 to skip the
# platform, exits 2 when the build itself fails.
build() {
  local platform=$1 os=${1%_*} arch=${1#*_} triple cc
  if [ "$os" != "$host_os" ]; then
    note "skipping $platform: it is built on a $os machine (release recipe in docs/distribution.md)"
    return 1
  fi
  case $platform in
    linux_amd64) triple=x86_64-unknown-linux-musl ;;
    linux_arm64) triple=aarch64-unknown-linux-musl ;;
    darwin_amd64) triple=x86_64-apple-darwin ;;
    darwin_arm64) triple=aarch64-apple-darwin ;;
  esac
  local env=()
  if [ "$os" = linux ]; then
    local march=${triple%%-*} cc_var
    # A C compiler first (CC_<triple> set by the caller wins): without one
    # there is no point in installing the target.
    cc_var="CC_$(echo "$triple" | tr - _)"
    if [ -z "${!cc_var:-}" ]; then
      if cc=$(c_compiler "$march"); then
        env+=("$cc_var=$cc")
      elif [ "$arch" != "$host_arch" ]; then
        note "skipping $platform: no C compiler for $march (install gcc-$march-linux-gnu, or build on an $arch machine)"
        return 1
      fi
    fi
    if ! have_target "$triple"; then
      if [ "$strict" = 1 ] || [ "$arch" != "$host_arch" ]; then
        note "skipping $platform: the Rust target $triple is not available"
        return 1
      fi
      # Still static: glibc's static libraries (libc6-dev) with crt-static.
      # With --target, RUSTFLAGS reach only the target's code, not build scripts.
      triple=$march-unknown-linux-gnu
      env=("RUSTFLAGS=${RUSTFLAGS:-} -C target-feature=+crt-static")
      note "WARNING: $platform falls back to $triple with crt-static (a static glibc binary; musl is preferred)"
    elif [ "$arch" != "$host_arch" ]; then
      # Cross: link with rust-lld and musl's own startup files (no cross linker needed).
      local linker_var
      linker_var="CARGO_TARGET_$(echo "$triple" | tr '[:lower:]-' '[:upper:]_')_LINKER"
      [ -n "${!linker_var:-}" ] || env+=("$linker_var=rust-lld")
    fi
  else
    have_target "$triple" || { note "skipping $platform: the Rust target $triple is not available"; return 1; }
  fi
  note "building $platform ($triple, profile $profile)"
  # cargo names the binary in its JSON messages (wherever the target dir is).
  local messages exe
  if ! messages=$(env ${env[@]+"${env[@]}"} cargo build --locked --profile "$profile" --target "$triple" \
    --bin "$BIN" --message-format=json-render-diagnostics); then
    note "error: cargo build for $platform failed"
    exit 2
  fi
  exe=$(sed -n 's/.*"executable":"\([^"]*\)".*/\1/p' <<<"$messages" | tail -1)
  [ -n "$exe" ] || { note "error: cargo did not name the $BIN binary"; exit 2; }
  echo "$exe"
}

mkdir -p "$out"
made=0
for platform in "${platforms[@]}"; do
  if [ -n "$binary" ]; then
    bin_path=$binary
  else
    rc=0
    bin_path=$(build "$platform") || rc=$?
    case $rc in
      0) ;;
      1) [ "$strict" = 1 ] && die "$platform cannot be built here (--strict)"; continue ;;
      *) exit "$rc" ;;
    esac
  fi
  stage=$(mktemp -d)
  install -m 0755 "$bin_path" "$stage/$BIN"
  install -m 0755 "completions/$HELPER" "$stage/$HELPER"
  install -m 0644 LICENSE README.md "$stage/"
  archive="$out/${BIN}_v${version}_${platform}.tar.gz"
  # Members in byte order (tar's --sort only sorts directory contents).
  "$tar" --sort=name --format=gnu --mtime=@0 --owner=0 --group=0 --numeric-owner \
    -C "$stage" -cf - LICENSE README.md "$BIN" "$HELPER" | gzip "-${level}n" >"$archive.tmp"
  mv "$archive.tmp" "$archive"
  rm -rf "$stage"
  echo "dist: $archive"
  made=$((made + 1))
done
[ "$made" -gt 0 ] || die "no archive could be built here"
(cd "$out" && "${sha256[@]}" ./*.tar.gz | sed 's# \./# #' >SHA256SUMS)
echo "dist: $out/SHA256SUMS"
