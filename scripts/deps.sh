#!/usr/bin/env bash
# Checks for the programs the tests and the sandbox use; as root (CI), installs
# the missing ones from Debian's packages. Elsewhere it says what to install.
# Also adds the Rust target of the static (musl) builds: `make dist`, `make
# image` and the image test in tests/it/distribution.rs build for it.
set -euo pipefail
ci=${CI:-}
missing=()
command -v docker-registry >/dev/null 2>&1 || missing+=(docker-registry)
command -v kubectl >/dev/null 2>&1 || missing+=(kubernetes-client)
command -v python3 >/dev/null 2>&1 || missing+=(python3)
command -v git >/dev/null 2>&1 || missing+=(git)
command -v openssl >/dev/null 2>&1 || missing+=(openssl)
[ -f /usr/share/bash-completion/bash_completion ] || missing+=(bash-completion)
dpkg -s busybox-static >/dev/null 2>&1 || missing+=(busybox-static)
[ -f /etc/ssl/certs/ca-certificates.crt ] || missing+=(ca-certificates)

musl=x86_64-unknown-linux-musl
if [ "$(uname -m)" = x86_64 ] && command -v rustup >/dev/null 2>&1 &&
  ! rustup target list --installed 2>/dev/null | grep -qx "$musl"; then
  echo "deps: rustup target add $musl" >&2
  if ! rustup target add "$musl" >&2; then
    echo "deps: cannot add the Rust target $musl: static builds (make dist, make image, the image test) fall back to static glibc" >&2
  fi
fi

# Go builds the real cluster of the tests (make realbed, tests/support/realbed):
# it is not a Debian package here (Debian's golang is too old); the programs'
# modules come from the Go module proxy.
if ! command -v go >/dev/null 2>&1; then
  echo "deps: go not found: the real-cluster tests need Go >= 1.26 (https://go.dev/dl/) to build their programs" >&2
  if [ "$ci" = "true" ]; then exit 1; fi
fi

# GitLab's CI schema checks (tests/it/docs/schema.rs): check-jsonschema from
# PyPI, in a venv of its own; Debian's python3 needs python3-venv for it.
python3 -m venv --help >/dev/null 2>&1 && python3 -c 'import ensurepip' >/dev/null 2>&1 ||
  missing+=(python3-venv)

install_schema_checker() {
  local venv=${XDG_CACHE_HOME:-$HOME/.cache}/kubectl-gitlab-flux/venv
  [ -x "$venv/bin/check-jsonschema" ] && return 0
  echo "deps: installing check-jsonschema into $venv" >&2
  if ! { python3 -m venv "$venv" && "$venv/bin/pip" install -q check-jsonschema; } >&2; then
    echo "deps: cannot install check-jsonschema: the CI schema test is skipped (fails in CI)" >&2
    rm -rf "$venv"
    if [ "$ci" = "true" ]; then exit 1; fi
  fi
}

if [ ${#missing[@]} -eq 0 ]; then install_schema_checker; exit 0; fi
if [ "$(id -u)" = 0 ]; then
  echo "deps: installing ${missing[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
  echo "deps: installing ${missing[*]} with sudo" >&2
  sudo DEBIAN_FRONTEND=noninteractive apt-get update -qq
  sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
else
  echo "deps: missing Debian packages: ${missing[*]}" >&2
  echo "hint: sudo apt-get install ${missing[*]}" >&2
  if [ "$ci" = "true" ]; then exit 1; fi
fi
install_schema_checker
