#!/usr/bin/env bash
# Builds the real programs of the test bed (kube-apiserver, kubectl, the Flux
# controllers, the peers) from their published Go modules, one small module
# of ours per program (tests/support/realbed/<module>/go.mod), into a cache
# outside the checkout:
#
#   ${REALBED_CACHE:-${XDG_CACHE_HOME:-~/.cache}/kubectl-gitlab-flux/realbed}/NAME-VERSION/NAME
#
# A program already in the cache is reused. Nothing is written into the
# checkout. Usage:
#
#   build.sh                 build what is missing (all programs)
#   build.sh NAME...         only these
#   build.sh --list          NAME VERSION MODULE PACKAGE, one program a line
#   build.sh --path NAME     print where NAME is (or would be) cached
#
# A program whose module is not served or does not build is reported and
# skipped (exit 0 unless REALBED_STRICT=1); the tests that need it say so.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
cache=${REALBED_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/kubectl-gitlab-flux/realbed}

# NAME  MODULE-DIR  MODULE  PACKAGE
programs=(
  "etcd etcd go.etcd.io/etcd/server/v3 kubectl-gitlab-flux/realbed/etcd"
  "kube-apiserver kubernetes k8s.io/kubernetes k8s.io/kubernetes/cmd/kube-apiserver"
  "kubectl kubernetes k8s.io/kubernetes k8s.io/kubernetes/cmd/kubectl"
  "kube-controller-manager kubernetes k8s.io/kubernetes k8s.io/kubernetes/cmd/kube-controller-manager"
  "source-controller source-controller github.com/fluxcd/source-controller github.com/fluxcd/source-controller"
  "kustomize-controller kustomize-controller github.com/fluxcd/kustomize-controller github.com/fluxcd/kustomize-controller"
  "helm-controller helm-controller github.com/fluxcd/helm-controller github.com/fluxcd/helm-controller"
  "notification-controller notification-controller github.com/fluxcd/notification-controller github.com/fluxcd/notification-controller"
  "flux flux github.com/fluxcd/flux2/v2 github.com/fluxcd/flux2/v2/cmd/flux"
  "oras oras oras.land/oras oras.land/oras/cmd/oras"
  "krew krew sigs.k8s.io/krew sigs.k8s.io/krew/cmd/krew"
  "cosign cosign github.com/sigstore/cosign/v3 github.com/sigstore/cosign/v3/cmd/cosign"
)

# The version of MODULE that the module dir DIR requires (its go.mod).
version_of() { # DIR MODULE
  awk -v m="$2" '($1 == m || ($1 == "require" && $2 == m)) && $0 ~ / v[0-9]/ {
      for (i = 1; i <= NF; i++) if ($i ~ /^v[0-9]/) { print $i; exit } }' "$here/$1/go.mod"
}

ldflags_for() { # NAME VERSION
  local v=$2
  case $1 in
    kube-apiserver|kubectl|kube-controller-manager)
      local mm=${v#v}; local major=${mm%%.*}; local minor=${mm#*.}; minor=${minor%%.*}
      local f="-s -w"
      for p in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
        f+=" -X $p.gitVersion=$v -X $p.gitMajor=$major -X $p.gitMinor=$minor -X $p.gitTreeState=clean -X $p.buildDate=1970-01-01T00:00:00Z"
      done
      echo "$f" ;;
    flux) echo "-s -w -X main.VERSION=${v#v}" ;;
    oras) echo "-s -w -X oras.land/oras/internal/version.Version=${v#v} -X oras.land/oras/internal/version.BuildMetadata=" ;;
    cosign) echo "-s -w -X sigs.k8s.io/release-utils/version.gitVersion=$v" ;;
    krew) echo "-s -w -X sigs.k8s.io/krew/internal/version.gitTag=$v -X sigs.k8s.io/krew/internal/version.gitCommit=$v" ;;
    *) echo "-s -w" ;;
  esac
}

# The flux CLI's module is published without its generated
# cmd/flux/manifests/*.yaml (flux2 generates them before a release build;
# `//go:embed manifests/*.yaml` then finds no file). Build it from a copy of
# the module, in the cache and never in the checkout, with an empty
# placeholder manifest (only `flux install` reads them), through a go.mod
# copy (-modfile) that replaces the module by that copy. Prints the extra
# `go build` arguments.
prepare_flux() { # DIR MODULE VERSION
  local dir=$1 mod=$2 v=$3 src="$cache/.src/flux2-$3" modsrc
  if [ ! -f "$src/.ready" ]; then
    (cd "$here/$dir" && go mod download "$mod@$v") >&2
    modsrc=$(cd "$here/$dir" && go list -m -f '{{.Dir}}' "$mod")
    [ -d "$modsrc" ] || { echo "realbed: $mod $v is not in the module cache" >&2; return 1; }
    rm -rf "$src"
    mkdir -p "$src"
    cp -R "$modsrc/." "$src/"
    chmod -R u+w "$src"
    mkdir -p "$src/cmd/flux/manifests"
    : >"$src/cmd/flux/manifests/placeholder.yaml"
    touch "$src/.ready"
  fi
  cp "$here/$dir/go.mod" "$src.mod"
  printf '\nreplace %s => %s\n' "$mod" "$src" >>"$src.mod"
  cp "$here/$dir/go.sum" "$src.sum"
  echo "-modfile=$src.mod"
}

entry() { # NAME -> "NAME DIR PACKAGE"
  local e
  for e in "${programs[@]}"; do
    [ "${e%% *}" = "$1" ] && { echo "$e"; return 0; }
  done
  echo "realbed: unknown program '$1' (known: $(printf '%s ' "${programs[@]%% *}"))" >&2
  return 2
}

path_of() { # NAME
  local e dir v
  e=$(entry "$1") || return 2
  read -r _ dir mod _ <<<"$e"
  v=$(version_of "$dir" "$mod")
  echo "$cache/$1-$v/$1"
}

case "${1:-}" in
  --list)
    for e in "${programs[@]}"; do
      read -r name dir mod pkg <<<"$e"
      echo "$name $(version_of "$dir" "$mod") $mod $pkg"
    done
    exit 0 ;;
  --path)
    path_of "${2:?--path NAME}"; exit $? ;;
esac

wanted=("$@")
[ ${#wanted[@]} -gt 0 ] || wanted=("${programs[@]%% *}")
failed=()
for name in "${wanted[@]}"; do
  e=$(entry "$name")
  read -r _ dir mod pkg <<<"$e"
  v=$(version_of "$dir" "$mod")
  out="$cache/$name-$v"
  if [ -x "$out/$name" ]; then
    continue
  fi
  # A build that failed for this version is not retried on every run (it
  # would cost minutes each time): REALBED_RETRY=1 retries it.
  if [ -f "$out.failed" ] && [ "${REALBED_RETRY:-0}" != 1 ]; then
    echo "realbed: $name $v did not build before (log: $out.failed; REALBED_RETRY=1 retries)" >&2
    failed+=("$name")
    continue
  fi
  echo "realbed: building $name $v ($pkg)" >&2
  mkdir -p "$cache"
  tmp=$(mktemp -d "$cache/.build-$name.XXXXXX")
  start=$SECONDS
  extra=()
  if [ "$name" = flux ]; then
    if ! extra=("$(prepare_flux "$dir" "$mod" "$v" 2>"$tmp/build.log")"); then
      extra=(-modfile=/nonexistent/prepare-failed.mod)
    fi
  fi
  if (cd "$here/$dir" && CGO_ENABLED=0 go build "${extra[@]}" -trimpath \
        -ldflags "$(ldflags_for "$name" "$v")" -o "$tmp/$name" "$pkg") >"$tmp/build.log" 2>&1; then
    chmod 755 "$tmp"
    rm -rf "$out" "$out.failed"
    mv "$tmp" "$out"
    echo "realbed: built $name $v in $((SECONDS - start)) s -> $out/$name" >&2
  else
    echo "realbed: $name $v did not build:" >&2
    tail -n 20 "$tmp/build.log" >&2
    cp "$tmp/build.log" "$out.failed"
    rm -rf "$tmp"
    failed+=("$name")
  fi
done
if [ ${#failed[@]} -gt 0 ]; then
  echo "realbed: not built: ${failed[*]} (see docs/testing.md)" >&2
  [ "${REALBED_STRICT:-0}" = 1 ] && exit 1
fi
exit 0
