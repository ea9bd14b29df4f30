#!/usr/bin/env bash
# Benchmarks against peers (docs/benchmarks.md): builds the plugin and the
# bench driver in release, installs oras-py into a throwaway venv under
# target/bench/venv, and runs every scenario on the test bed (the emulator,
# and the real cluster of `make realbed`: scenario `real`). Prints a table
# of medians and ratios; writes target/bench/results.{md,json}.
#
#   BENCH_TRIALS=3 make bench          # quick run: 3 trials per measurement
#   BENCH_ONLY=push,startup make bench # only some scenarios (push wait scale startup real)
#   BENCH_SCALE=200 make bench         # fewer objects in the scale scenario
set -euo pipefail
cd "$(dirname "$0")/.."
CARGO=${CARGO:-cargo}
ORAS_VERSION=${ORAS_VERSION:-0.2.43}
OUT=target/bench
mkdir -p "$OUT"

"$CARGO" build --release --locked -q --bin kubectl-gitlab_flux
"$CARGO" build --release --locked -q -p gitlab-flux-bench

# oras-py: the `oras` package from PyPI, pinned, in a venv of its own.
oras_args=()
venv="$OUT/venv"
if [ -x "$venv/bin/python" ] && "$venv/bin/python" -c "import oras.version as v, sys; sys.exit(v.__version__ != '$ORAS_VERSION')" 2>/dev/null; then
  oras_args=(--oras-python "$venv/bin/python")
elif command -v python3 >/dev/null 2>&1; then
  echo "bench: installing oras==$ORAS_VERSION into $venv" >&2
  rm -rf "$venv"
  if python3 -m venv "$venv" >/dev/null 2>&1 &&
    "$venv/bin/python" -m pip install -q --disable-pip-version-check "oras==$ORAS_VERSION" >&2; then
    oras_args=(--oras-python "$venv/bin/python")
  else
    echo "bench: could not install oras-py (python3-venv missing or PyPI unreachable); push runs without its peer" >&2
  fi
else
  echo "bench: python3 not found; push runs without its peer (oras-py)" >&2
fi

exec target/release/gitlab-flux-bench run \
  --plugin target/release/kubectl-gitlab_flux \
  --out "$OUT" \
  ${oras_args[@]+"${oras_args[@]}"}
