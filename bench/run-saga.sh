#!/usr/bin/env bash
# bench:saga — saga instances/s and end-to-end p99 on a Raft group of three real sidecars, against
# the step services' own latency in the same run (see bench/src/saga-bench.ts).
# Usage: bench/run-saga.sh     (SAGA_BENCH_SECONDS, default 20; SAGA_BENCH_CONCURRENCY, default 64)
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
# A type error elsewhere in the tree must not block the benchmark: report it and go on with what
# tsc emitted; fail only if the bench itself was not built.
npx tsc -b sidecar bench || echo "bench:saga: tsc reported errors (above); using the emitted JavaScript" >&2
[[ -f bench/dist/saga-bench.js && -f sidecar/dist/bin/palisade-sidecar.js ]] || { echo "bench:saga: build missing" >&2; exit 1; }
exec node bench/dist/saga-bench.js "$@"
