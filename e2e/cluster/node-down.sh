#!/usr/bin/env bash
# Stops the local node started by node-up.sh and removes what it created on the machine: pod
# containers and their shims, network namespaces, mounts under the node folder, the pods' bridge,
# the CNI configuration file, kubelet's log links in /var/log/containers, and the KUBE-*/CNI-*
# iptables chains (IPv4 and IPv6). Images stay in containerd's root under the cluster folder
# (warm restart); `node-down.sh --purge` removes that too. Harmless when nothing runs.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/node-lib.sh"

STOP_TIMEOUT="${STOP_TIMEOUT:-15}"
CTR=(ctr --address "${CONTAINERD_SOCK}" -n k8s.io)

stop_component() {
  local name="$1" pid deadline
  pid="$(live_pid "${name}")" || { rm -f "${PALISADE_CLUSTER_DIR}/run/${name}.pid"; return 0; }
  kill -TERM "${pid}" 2>/dev/null || true
  deadline=$((SECONDS + STOP_TIMEOUT))
  while kill -0 "${pid}" 2>/dev/null; do
    if ((SECONDS >= deadline)); then
      kill -KILL "${pid}" 2>/dev/null || true
      break
    fi
    sleep 0.1
  done
  rm -f "${PALISADE_CLUSTER_DIR}/run/${name}.pid"
  log "${name}: stopped (pid ${pid})"
}

# Kills and deletes every container of the node's containerd; prints the network namespaces of
# the pod sandboxes (to unmount once containerd is gone).
remove_containers() {
  local id netns
  # ctr waits ~10 s for a socket nobody serves: ask only a running containerd.
  live_pid containerd >/dev/null && [[ -S "${CONTAINERD_SOCK}" ]] || return 0
  "${CTR[@]}" version >/dev/null 2>&1 || return 0
  while read -r id; do
    [[ -n "${id}" ]] || continue
    netns="$("${CTR[@]}" containers info "${id}" 2>/dev/null |
      sed -nE '/"type": "network"/{n;s/.*"path": "([^"]+)".*/\1/p}' | head -n1)"
    [[ -z "${netns}" ]] || echo "${netns}"
    "${CTR[@]}" tasks kill --signal SIGKILL "${id}" >/dev/null 2>&1 || true
    "${CTR[@]}" tasks delete --force "${id}" >/dev/null 2>&1 || true
    "${CTR[@]}" containers delete "${id}" >/dev/null 2>&1 || true
  done < <("${CTR[@]}" containers list --quiet 2>/dev/null)
}

# Stops runc shims started by this node's containerd (their command line names its socket).
stop_shims() {
  local proc pids=()
  for proc in /proc/[0-9]*; do
    tr '\0' ' ' <"${proc}/cmdline" 2>/dev/null | grep -qF -- "-address ${CONTAINERD_SOCK} " || continue
    pids+=("${proc#/proc/}")
  done
  [[ ${#pids[@]} -eq 0 ]] || { kill -KILL "${pids[@]}" 2>/dev/null || true; log "shims: killed ${pids[*]}"; }
}

# Unmounts everything mounted under the node folder (deepest first) and the given namespaces.
unmount_all() {
  local target
  for target in "$@"; do
    umount "${target}" 2>/dev/null || umount -l "${target}" 2>/dev/null || true
    rm -f "${target}"
  done
  while read -r target; do
    umount "${target}" 2>/dev/null || umount -l "${target}" 2>/dev/null || true
  done < <(awk -v dir="${NODE_DIR}/" 'index($2, dir) == 1 { print $2 }' /proc/self/mounts | sort -r)
}

# Removes the KUBE-* and CNI-* chains (and the rules jumping to them) from every table.
remove_chains() {
  local cmd table rule chain
  for cmd in iptables ip6tables; do
    command -v "${cmd}" >/dev/null || continue
    for table in filter nat mangle raw; do
      "${cmd}" -t "${table}" -S >/dev/null 2>&1 || continue
      while read -r rule; do
        # A rule as iptables -S prints it, comments double-quoted: eval splits it the same way.
        eval "${cmd} -t ${table} ${rule/#-A/-D}" 2>/dev/null || true
      done < <("${cmd}" -t "${table}" -S | grep -E '^-A ' | grep -E -- '-j (KUBE|CNI)-' | grep -vE '^-A (KUBE|CNI)-')
      mapfile -t chains < <("${cmd}" -t "${table}" -S | sed -nE 's/^-N ((KUBE|CNI)-[^ ]+)$/\1/p')
      for chain in "${chains[@]}"; do "${cmd}" -t "${table}" -F "${chain}" 2>/dev/null || true; done
      for chain in "${chains[@]}"; do "${cmd}" -t "${table}" -X "${chain}" 2>/dev/null || true; done
    done
  done
}

# Removes the cgroups kubelet created (kubepods, per QoS class and pod) and containerd's k8s.io
# namespace cgroups (ctr runs), once empty: rmdir refuses a cgroup that still has processes.
remove_cgroups() {
  local dir
  for dir in /sys/fs/cgroup/*/kubepods /sys/fs/cgroup/*/k8s.io /sys/fs/cgroup/kubepods /sys/fs/cgroup/k8s.io; do
    [[ -d "${dir}" ]] || continue
    find "${dir}" -depth -type d -exec rmdir {} \; 2>/dev/null || true
  done
}

# Without this the Node object stays in etcd: on the next control-plane start the scheduler binds
# pods to a node no kubelet serves, and deleting them hangs. Deregistered while the API server
# answers (pods still bound to it are then removed by the pod garbage collector).
deregister_node() {
  local kubectl="${K8S_BIN_DIR}/kubectl" kubeconfig="${PALISADE_CLUSTER_DIR}/admin.kubeconfig"
  [[ -x "${kubectl}" && -f "${kubeconfig}" ]] || return 0
  if "${kubectl}" --kubeconfig "${kubeconfig}" --request-timeout=5s delete node "${NODE_NAME}" \
    --ignore-not-found --wait=false >/dev/null 2>&1; then
    log "node ${NODE_NAME}: deregistered"
  fi
}

main() {
  local netns=() name other
  for name in coredns kube-proxy kubelet; do stop_component "${name}"; done
  deregister_node
  mapfile -t netns < <(remove_containers)
  stop_component containerd
  stop_shims
  unmount_all "${netns[@]}"
  other="$(other_node_owner)"
  if [[ -n "${other}" ]]; then
    log "the machine-wide pieces (bridge, CNI file, iptables chains) belong to the node of ${other}: left alone"
    log "node down"
    return 0
  fi
  ip link show "${BRIDGE}" >/dev/null 2>&1 && ip link del "${BRIDGE}" && log "bridge ${BRIDGE}: removed"
  rm -f "${CNI_CONF}" "${CNI_CONF}.tmp"
  # kubelet's links to the containers' logs (their files are in the node folder).
  find /var/log/containers -maxdepth 1 -type l -lname "${NODE_DIR}/*" -delete 2>/dev/null || true
  rmdir /var/log/containers /var/log/pods 2>/dev/null || true
  rm -rf "${NODE_DIR}/cni-ipam"
  # containerd 1.6 puts shim sockets, fifos and runc state under /run/containerd whatever its
  # config says; they are empty once the shims are gone. Left alone if a system containerd runs.
  if [[ -d /run/containerd && ! -S /run/containerd/containerd.sock ]]; then
    find /run/containerd -depth -type d -empty -delete 2>/dev/null || true
  fi
  remove_chains
  remove_cgroups
  rm -f "${NODE_OWNER_FILE}"
  if [[ "${1:-}" == --purge ]]; then rm -rf "${NODE_DIR}"; fi
  log "node down"
}

main "$@"
