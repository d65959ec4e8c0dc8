#!/usr/bin/env bash
# Shared settings of the local node (node-up.sh, node-down.sh; sourced, never run).
# shellcheck disable=SC2034 # used by the scripts that source this file
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

NODE_DIR="${PALISADE_CLUSTER_DIR}/node"
CONTAINERD_DIR="${NODE_DIR}/containerd"
CONTAINERD_SOCK="${CONTAINERD_DIR}/containerd.sock"
KUBELET_ROOT="${NODE_DIR}/kubelet"
# The node's name: the machine's host name, lower-cased (what kubelet registers).
NODE_NAME="$(hostname | tr '[:upper:]' '[:lower:]')"
# The pods' bridge, created by node-up.sh before the CNI plugin uses it: its address is the
# pods' gateway and the node's own address (kubelet, CoreDNS and the API server's advertised
# endpoint listen on it, so pods reach them).
BRIDGE="${BRIDGE:-palisade-br0}"
NODE_POD_CIDR="${NODE_POD_CIDR:-10.244.0.0/24}"
NODE_IP="${NODE_IP:-10.244.0.1}"
# CNI configuration files this node owns (removed by node-down.sh).
CNI_CONF_DIR=/etc/cni/net.d
CNI_CONF="${CNI_CONF_DIR}/10-palisade-bridge.conflist"
CNI_BIN_DIR="${CNI_BIN_DIR:-/usr/lib/cni}"
# Ports away from the defaults (10250, 10248, 10249, 10256).
KUBELET_PORT="${KUBELET_PORT:-20250}"
KUBELET_HEALTHZ_PORT="${KUBELET_HEALTHZ_PORT:-20248}"
KUBE_PROXY_METRICS_PORT="${KUBE_PROXY_METRICS_PORT:-20249}"
KUBE_PROXY_HEALTHZ_PORT="${KUBE_PROXY_HEALTHZ_PORT:-20256}"
COREDNS_HEALTH_PORT="${COREDNS_HEALTH_PORT:-20253}"
CLUSTER_DOMAIN=cluster.local

# The node owns machine-wide names (bridge, CNI file, KUBE-*/CNI-* chains): one node per machine.
# This file names the cluster folder of the node that holds them.
NODE_OWNER_FILE="${NODE_OWNER_FILE:-/run/palisade-node.owner}"

# Prints the cluster folder of another cluster's node that is running on this machine, if any.
other_node_owner() {
  local owner
  owner="$(cat "${NODE_OWNER_FILE}" 2>/dev/null)" || return 0
  [[ -n "${owner}" && "${owner}" != "${PALISADE_CLUSTER_DIR}" ]] || return 0
  PALISADE_CLUSTER_DIR="${owner}" live_pid containerd >/dev/null && echo "${owner}"
  return 0
}

# Node processes, in start order (stopped in the reverse order).
NODE_COMPONENTS=(containerd kubelet kube-proxy coredns)
KUBECTL=("${K8S_BIN_DIR}/kubectl" --kubeconfig "${PALISADE_CLUSTER_DIR}/admin.kubeconfig")

# True when the Node is Ready, reported (heartbeat) at or after $1 (RFC 3339, UTC) when given:
# the Node object of a previous run can still say Ready for a while after its kubelet stopped.
node_ready() {
  local status heartbeat
  read -r status heartbeat < <("${KUBECTL[@]}" get node "${NODE_NAME}" -o \
    'jsonpath={.status.conditions[?(@.type=="Ready")].status} {.status.conditions[?(@.type=="Ready")].lastHeartbeatTime}{"\n"}' 2>/dev/null) || return 1
  [[ "${status}" == True && ! "${heartbeat}" < "${1:-}" ]]
}

node_healthy() {
  local name
  for name in "${NODE_COMPONENTS[@]}"; do live_pid "${name}" >/dev/null || return 1; done
  node_ready ""
}
