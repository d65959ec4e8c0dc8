#!/usr/bin/env bash
# bench:propagation — policy change → applied by 100 and 1,000 sidecar stand-ins, against the raw
# API-server watch fan-out to as many watchers (see bench/src/propagation-bench.ts). Needs the
# local control plane (`make cluster-up`; PALISADE_CLUSTER_DIR / APISERVER_PORT select another).
# Usage: bench/run-propagation.sh   (PROP_BENCH_SIZES=100,1000 PROP_BENCH_TRIALS=10)
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
eval "$(bash e2e/cluster/env.sh | sed 's/^/export /')"
bash e2e/cluster/status.sh >/dev/null || { echo "bench:propagation: the local control plane is not up (make cluster-up)" >&2; exit 1; }
# The operator and the bench need the CRDs; a fresh control plane (PALISADE_NODE=0) has none.
"${PALISADE_KUBECTL}" --kubeconfig "${PALISADE_KUBECONFIG}" apply --server-side --force-conflicts \
  -f crds/generated/all.yaml >/dev/null
# A type error elsewhere in the tree must not block the benchmark: report it and go on with what
# tsc emitted; fail only if what the bench runs was not built.
npx tsc -b sidecar operator bench || echo "bench:propagation: tsc reported errors (above); using the emitted JavaScript" >&2
for f in bench/dist/propagation-bench.js bench/dist/propagation-standin.js operator/dist/bin/palisade-operator.js sidecar/dist/kube-config/index.js; do
  [[ -f "$f" ]] || { echo "bench:propagation: $f missing" >&2; exit 1; }
done
# Each stand-in holds two API connections; 1,000 of them need more than the default 1,024 files.
ulimit -n 65536 2>/dev/null || true
exec node bench/dist/propagation-bench.js "$@"
