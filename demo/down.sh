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
  if [[ -z "${started}" ]]; then
    # A cluster the demo found running: take back only what the demo added.
    "${KUBECTL}" delete namespace shop --ignore-not-found --wait --timeout 90s >/dev/null && note "namespace shop deleted"
    "${HELM}" uninstall palisade --namespace palisade-system --wait --timeout 90s >/dev/null 2>&1 && note "Helm release palisade uninstalled" || true
    "${KUBECTL}" delete namespace palisade-system --ignore-not-found --wait --timeout 90s >/dev/null && note "namespace palisade-system deleted"
  else
    # The whole cluster goes: stopping it removes every pod with it.
    progress "stopping the node and the control plane" e2e/cluster/down.sh $([[ "${started}" == created ]] && echo --purge)
  fi
else
  note "local cluster not running: nothing to stop"
fi
rm -rf "${DEMO_STATE}"
left="$(pgrep -a -f "${PALISADE_CLUSTER_DIR}" || true)"
[[ -z "${left}" || -z "${started}" ]] || warn "still running: ${left}"
note "done. Build caches kept under ${PALISADE_CACHE_DIR} (k8s/, images/); delete them to reclaim the space."
