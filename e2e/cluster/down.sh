#!/usr/bin/env bash
# Stops the local control plane started by up.sh: each component gets SIGTERM, then SIGKILL if it
# is still alive after STOP_TIMEOUT seconds; then any process of this cluster that the pid files
# missed is stopped the same way. Harmless when nothing runs. State (certificates, etcd data,
# logs) is kept for the next up.sh; `down.sh --purge` removes it too.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

STOP_TIMEOUT="${STOP_TIMEOUT:-15}"

# stop_pids <label> <pid>...: TERM, wait up to STOP_TIMEOUT, then KILL.
stop_pids() {
  local label="$1" pid deadline alive
  shift
  [[ $# -gt 0 ]] || return 0
  kill -TERM "$@" 2>/dev/null || true
  deadline=$((SECONDS + STOP_TIMEOUT))
  while :; do
    alive=()
    for pid in "$@"; do kill -0 "${pid}" 2>/dev/null && alive+=("${pid}"); done
    [[ ${#alive[@]} -gt 0 ]] || break
    if ((SECONDS >= deadline)); then
      log "${label}: still alive after ${STOP_TIMEOUT}s, sending KILL to ${alive[*]}"
      kill -KILL "${alive[@]}" 2>/dev/null || true
      break
    fi
    sleep 0.1
  done
  log "${label}: stopped"
}

# Prints the live pids (from pid files) of the components named, and removes their pid files.
take_pids() {
  local name pid
  for name in "$@"; do
    if pid="$(live_pid "${name}")"; then echo "${pid}"; fi
    rm -f "${PALISADE_CLUSTER_DIR}/run/${name}.pid"
  done
}

main() {
  local pids stray
  # The node (node-up.sh) first: its containers, namespaces, bridge, iptables chains and mounts.
  if [[ -d "${PALISADE_CLUSTER_DIR}/node" ]]; then "${CLUSTER_SRC_DIR}/node-down.sh" "$@"; fi
  # The API server and its clients stop together, etcd after them (no storage errors on the way).
  mapfile -t pids < <(take_pids kube-scheduler kube-controller-manager kube-apiserver)
  if [[ ${#pids[@]} -gt 0 ]]; then stop_pids "control plane (pids ${pids[*]})" "${pids[@]}"; fi
  mapfile -t pids < <(take_pids etcd)
  if [[ ${#pids[@]} -gt 0 ]]; then stop_pids "etcd (pid ${pids[*]})" "${pids[@]}"; fi
  mapfile -t stray < <(cluster_pids)
  if [[ ${#stray[@]} -gt 0 ]]; then stop_pids "stray cluster processes ${stray[*]}" "${stray[@]}"; fi
  if [[ "${1:-}" == --purge ]]; then
    rm -rf "${PALISADE_CLUSTER_DIR}"
    log "removed ${PALISADE_CLUSTER_DIR}"
  fi
  log "cluster down"
}

main "$@"
