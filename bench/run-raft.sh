#!/usr/bin/env bash
# bench:raft — Raft lease failover vs a Kubernetes Lease election (client-go defaults); lease
# acquire latency at 100 and 1,000 ops/s and peak lease ops/s vs a durable Redis SET NX PX, with
# CPU and run-queue wait per op; in one run (see bench/src/raft-bench.ts). Needs redis-server.
# Usage: bench/run-raft.sh     (RAFT_BENCH_TRIALS, RAFT_BENCH_SECONDS, RAFT_BENCH_K8S_TRIALS,
#        RAFT_BENCH_SKIP_K8S=1, RAFT_BENCH_ONLY=load, RAFT_BENCH_NODE_ARGS; the Lease baseline uses the local control
#        plane if it is up: kubeconfig $HOME/.cache/palisade/cluster/admin.kubeconfig or KUBECONFIG)
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
# A type error elsewhere in the tree must not block the benchmark: report it and go on with what
# tsc emitted; fail only if the bench itself was not built.
npx tsc -b sidecar bench || echo "bench:raft: tsc reported errors (above); using the emitted JavaScript" >&2
[[ -f bench/dist/raft-bench.js && -f sidecar/dist/raft-node/standalone.js ]] || { echo "bench:raft: build missing" >&2; exit 1; }
exec node bench/dist/raft-bench.js "$@"
