#!/usr/bin/env bash
# The main job on the local sandbox: push a directory of manifests as a
# Flux artifact, trigger Flux, wait until exactly that revision is applied,
# and show the status tree. Run by `make demo` after the build.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${BIN:-target/debug/kubectl-gitlab_flux}
SANDBOX=${SANDBOX:-target/debug/gitlab-flux-sandbox}
dir=$(mktemp -d)
ready="$dir/ready"
# REAL=1: the real cluster (etcd, kube-apiserver, the Flux controllers) instead
# of the API emulator and the Flux simulator.
real=()
[ -n "${REAL:-}" ] && [ "${REAL:-}" != 0 ] && real=(--real)
"$SANDBOX" --dir "$dir/sandbox" --ready-file "$ready" "${real[@]}" >"$dir/sandbox.log" 2>&1 &
sandbox_pid=$!
cleanup() { kill "$sandbox_pid" 2>/dev/null || true; wait "$sandbox_pid" 2>/dev/null || true; rm -rf "$dir"; }
trap cleanup EXIT
for _ in $(seq 1 900); do
  [ -f "$ready" ] && break
  kill -0 "$sandbox_pid" 2>/dev/null || { cat "$dir/sandbox.log" >&2; exit 1; }
  sleep 0.1
done
[ -f "$ready" ] || { echo "sandbox did not start" >&2; cat "$dir/sandbox.log" >&2; exit 1; }
# shellcheck disable=SC1090
source "$ready"

step() { printf '\n\033[1m$ %s\033[0m\n' "$*"; }

mkdir -p "$dir/deploy"
cat >"$dir/deploy/app.yaml" <<YAML
apiVersion: v1
kind: ConfigMap
metadata:
  name: demo-config
  namespace: apps
data:
  greeting: "hello from $(date -u +%H:%M:%S)"
YAML

step kubectl gitlab-flux status
"$BIN" status

step kubectl gitlab-flux push ./deploy "oci://$REGISTRY/demo/apps:latest" --dotenv push.env
"$BIN" push "$dir/deploy" "oci://$REGISTRY/demo/apps:latest" --dotenv "$dir/push.env" \
  --source https://gitlab.example.com/demo/apps --revision "main@sha1:$(printf '%040d' 1)"
cat "$dir/push.env"
# shellcheck disable=SC1090
set -a; source "$dir/push.env"; set +a
artifact="$ARTIFACT_URL"

step kubectl gitlab-flux trigger --artifact "$artifact" --dotenv trigger.env
"$BIN" trigger --artifact "$artifact" --dotenv "$dir/trigger.env"
set -a; source "$dir/trigger.env"; set +a

step kubectl gitlab-flux wait --artifact "$artifact" --since-token "$FLUX_RECONCILE_TOKEN"
"$BIN" wait --artifact "$artifact" --since-token "$FLUX_RECONCILE_TOKEN" --timeout 1m

step kubectl gitlab-flux status --tree
"$BIN" status --tree
printf '\nThe demo pushed, triggered and waited for exactly %s.\n' "$ARTIFACT_DIGEST"
