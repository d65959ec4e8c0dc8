#!/usr/bin/env bash
# Local network chaos between sidecar test hosts (network namespaces, tc netem, partitions) with
# lease clients and a history check; see chaos/src/netns-chaos.ts and docs/chaos.md. Needs root.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
[[ -f sidecar/dist/raft-node/testing/process-cluster.js ]] || npx tsc -b
npx tsc -p chaos
exec node chaos/dist/chaos/src/netns-chaos.js "$@"
