#!/usr/bin/env bash
# Benchmarks against peers (issue: benchmarks). Not written yet: say so
# plainly instead of printing numbers nobody measured.
echo "make bench: the benchmark suite is not implemented yet (see docs/usage.md and the closing notes)" >&2
exit 2
