#!/usr/bin/env bash
# bench:proxy-soak — the sidecar's memory across load phases (bench/src/proxy-soak.ts): is what
# load leaves resident a leak or memory the process keeps? Writes bench/results/proxy-soak-*.
# Usage: bench/run-proxy-soak.sh   (SOAK_STEP_SECONDS, SOAK_STEPS, SOAK_SLOW_CLIENTS tune it;
#                                   PALISADE_SOAK_SNAPSHOT_DIR=<dir> writes a heap snapshot per phase)
# Needs nginx, wrk, redis-server and taskset (bench/run-proxy.sh installs them).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
for tool in nginx wrk redis-server taskset; do
  command -v "$tool" >/dev/null || { echo "bench:proxy-soak: $tool missing (run bench/run-proxy.sh once)" >&2; exit 1; }
done
cd "$root"
npx tsc -b sidecar bench || echo "bench:proxy-soak: tsc reported errors (above); using the emitted JavaScript" >&2
[[ -f bench/dist/proxy-soak.js && -f bench/dist/proxy-soak-probe.js && -f sidecar/dist/bin/palisade-sidecar.js ]] || { echo "bench:proxy-soak: build missing" >&2; exit 1; }
node bench/dist/proxy-soak.js "$@"
