#!/usr/bin/env bash
# `make demo-down`: removes what `make demo` set up. The shop, the policies and the Helm release
# always; the local cluster (node and control plane: processes, containers, network namespaces,
# iptables rules, mounts) only if `make demo` started it, and its state too if `make demo`
# created it. Build caches stay (~/.cache/palisade/k8s, images/: reused by the next run).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
source demo/lib.sh

mkdir -p "${DEMO_STATE}/logs"
headline "Palisade demo: tearing down"
started="$(cat "${DEMO_STATE}/started-cluster" 2>/dev/null || true)"
if e2e/cluster/status.sh >/dev/null 2>&1; then
  if [[ "${started}" != created ]]; then
    # The cluster stays (it was up before the demo) or keeps its state (it existed): take back
    # what the demo added, so it does not come back with the cluster.
    "${KUBECTL}" delete namespace shop --ignore-not-found --wait --timeout 120s >/dev/null && note "namespace shop deleted"
    if "${HELM}" status palisade --namespace palisade-system >/dev/null 2>&1; then
      "${HELM}" uninstall palisade --namespace palisade-system --wait --timeout 120s >/dev/null && note "Helm release palisade uninstalled"
    fi
    "${KUBECTL}" delete namespace palisade-system --ignore-not-found --wait --timeout 120s >/dev/null && note "namespace palisade-system deleted"
  fi
  if [[ -n "${started}" ]]; then
    # Stopping the cluster removes its pods' containers, network namespaces, iptables rules and
    # mounts with it; a cluster the demo created goes entirely (--purge).
    progress "stopping the node and the control plane" e2e/cluster/down.sh $([[ "${started}" == created ]] && echo --purge)
  fi
else
  note "local cluster not running: nothing to stop"
fi
rm -rf "${DEMO_STATE}"
left="$(pgrep -a -f "${PALISADE_CLUSTER_DIR}" || true)"
[[ -z "${left}" || -z "${started}" ]] || warn "still running: ${left}"
note "done. Build caches kept under ${PALISADE_CACHE_DIR} (k8s/, images/); delete them to reclaim the space."
