#!/usr/bin/env bash
# Prints the state of the local control plane: each component's pid and health, the kubeconfig
# and the logs. Exit status 0 when every component runs and is healthy — with the node (unless
# PALISADE_NODE=0, as for up.sh): its processes run and the Node is Ready — 1 otherwise.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/node-lib.sh"

main() {
  local name pid state healthy=0
  printf 'Kubernetes %s (etcd %s); binaries: %s\n' "${K8S_VERSION}" "${ETCD_VERSION}" "${K8S_BIN_DIR}"
  for name in "${CLUSTER_COMPONENTS[@]}"; do
    if pid="$(live_pid "${name}")"; then
      if health_check "${name}"; then state="running, healthy"; else state="running, NOT healthy"; healthy=1; fi
      printf '  %-24s pid %-8s %s\n' "${name}" "${pid}" "${state}"
    else
      printf '  %-24s %-12s %s\n' "${name}" "-" "stopped"
      healthy=1
    fi
  done
  # The node (node-up.sh): part of the exit status unless PALISADE_NODE=0.
  if [[ "${PALISADE_NODE:-1}" != 0 || -d "${NODE_DIR}" ]]; then
    for name in "${NODE_COMPONENTS[@]}"; do
      if pid="$(live_pid "${name}")"; then state="running"; else pid="-" state="stopped"; fi
      printf '  %-24s pid %-8s %s (node)\n' "${name}" "${pid}" "${state}"
    done
    if ((healthy == 0)) && node_healthy; then state=Ready; else state="not Ready"; fi
    printf '  node %s: %s\n' "${NODE_NAME}" "${state}"
    if [[ "${PALISADE_NODE:-1}" != 0 && "${state}" != Ready ]]; then healthy=1; fi
  fi
  printf 'kubeconfig: %s\nlogs:       %s\n' "${PALISADE_CLUSTER_DIR}/admin.kubeconfig" "${PALISADE_CLUSTER_DIR}/logs/"
  return "${healthy}"
}

main "$@"
