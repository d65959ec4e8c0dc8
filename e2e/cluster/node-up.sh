#!/usr/bin/env bash
# Starts the local node (issue 7) next to the control plane of up.sh: containerd (Debian's, own
# config/root/state/socket under the cluster folder, CRI plugin, overlayfs, the locally built
# pause image), kubelet, kube-proxy (iptables mode) and CoreDNS, all as processes; pods get
# addresses from the CNI bridge plugin (Debian's containernetworking-plugins). Waits until the
# node is Ready. Idempotent. Stop with node-down.sh (also run by down.sh).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/node-lib.sh"
# shellcheck source=pki.sh
source "${CLUSTER_SRC_DIR}/pki.sh"

READY_TIMEOUT="${READY_TIMEOUT:-120}"
# CPU weight of all pods together (cgroup v1 shares; a busy process has 1024): see
# raise_pods_cpu_weight.
PODS_CPU_SHARES="${PODS_CPU_SHARES:-16384}"
LOGS="${PALISADE_CLUSTER_DIR}/logs"
RUN="${PALISADE_CLUSTER_DIR}/run"

node_certs() {
  local name subject
  for name in kubelet kube-proxy coredns; do
    [[ -f "${PKI}/node-${name}.crt" && -f "${NODE_DIR}/${name}.kubeconfig" ]] &&
      openssl x509 -checkend $((7 * 86400)) -noout -in "${PKI}/node-${name}.crt" >/dev/null &&
      openssl x509 -noout -issuer -in "${PKI}/node-${name}.crt" | grep -q palisade-local-ca &&
      openssl verify -CAfile "${PKI}/ca.crt" "${PKI}/node-${name}.crt" >/dev/null 2>&1 && continue
    case "${name}" in
      kubelet) subject="/O=system:nodes/CN=system:node:${NODE_NAME}" ;;
      kube-proxy) subject=/CN=system:kube-proxy ;;
      coredns) subject=/CN=palisade:coredns ;;
    esac
    new_cert "node-${name}" ca "${subject}" clientAuth
    chmod 600 "${PKI}/node-${name}.key"
    kubeconfig "node/${name}.kubeconfig" "${subject##*CN=}" "node-${name}"
  done
  # kubelet's serving certificate (the API server reaches it for logs and exec).
  if ! openssl x509 -checkend $((7 * 86400)) -noout -in "${PKI}/node-kubelet-serving.crt" >/dev/null 2>&1 ||
    ! openssl verify -CAfile "${PKI}/ca.crt" "${PKI}/node-kubelet-serving.crt" >/dev/null 2>&1; then
    new_cert node-kubelet-serving ca "/CN=${NODE_NAME}" serverAuth "IP:${NODE_IP},IP:127.0.0.1,DNS:${NODE_NAME}"
    chmod 600 "${PKI}/node-kubelet-serving.key"
  fi
}

write_configs() {
  mkdir -p "${CONTAINERD_DIR}" "${KUBELET_ROOT}" "${CNI_CONF_DIR}"
  cat >"${CONTAINERD_DIR}/config.toml" <<TOML
version = 2
root = "${CONTAINERD_DIR}/root"
state = "${CONTAINERD_DIR}/state"
disabled_plugins = ["io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.zfs", "io.containerd.snapshotter.v1.devmapper", "io.containerd.snapshotter.v1.aufs"]
[grpc]
  address = "${CONTAINERD_SOCK}"
[ttrpc]
  address = "${CONTAINERD_SOCK}.ttrpc"
[plugins."io.containerd.internal.v1.opt"]
  path = "${CONTAINERD_DIR}/opt"
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "palisade.local/pause:1"
  stream_server_address = "127.0.0.1"
  stream_server_port = "0"
  enable_selinux = false
  # No CAP_SYS_RESOURCE here (root without it in this VM's sandbox): a negative oom_score_adj
  # (kubelet gives pause -998, Guaranteed pods -997) fails in runc ("failed to update
  # /proc/self/oom_score_adj: Permission denied"); containerd clamps it to its own score instead.
  restrict_oom_score_adj = true
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        SystemdCgroup = false
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "${CNI_BIN_DIR}"
    conf_dir = "${CNI_CONF_DIR}"
    max_conf_num = 1
TOML
  cat >"${CNI_CONF}.tmp" <<JSON
{
  "cniVersion": "0.4.0",
  "name": "palisade",
  "plugins": [
    {
      "type": "bridge",
      "bridge": "${BRIDGE}",
      "isGateway": true,
      "ipMasq": true,
      "hairpinMode": true,
      "ipam": {
        "type": "host-local",
        "ranges": [[{ "subnet": "${NODE_POD_CIDR}", "gateway": "${NODE_IP}" }]],
        "routes": [{ "dst": "0.0.0.0/0" }],
        "dataDir": "${NODE_DIR}/cni-ipam"
      }
    },
    { "type": "portmap", "capabilities": { "portMappings": true } }
  ]
}
JSON
  mv -f "${CNI_CONF}.tmp" "${CNI_CONF}"
  cat >"${NODE_DIR}/kubelet-config.yaml" <<YAML
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
address: ${NODE_IP}
port: ${KUBELET_PORT}
readOnlyPort: 0
healthzBindAddress: 127.0.0.1
healthzPort: ${KUBELET_HEALTHZ_PORT}
tlsCertFile: ${PKI}/node-kubelet-serving.crt
tlsPrivateKeyFile: ${PKI}/node-kubelet-serving.key
authentication:
  anonymous: {enabled: false}
  webhook: {enabled: true}
  x509: {clientCAFile: ${PKI}/ca.crt}
authorization: {mode: Webhook}
# This kernel mounts cgroup v1 and no systemd runs: the cgroupfs driver; v1.33 still accepts v1.
cgroupDriver: cgroupfs
failCgroupV1: false
failSwapOn: false
containerRuntimeEndpoint: unix://${CONTAINERD_SOCK}
clusterDNS: [${NODE_IP}]
clusterDomain: ${CLUSTER_DOMAIN}
resolvConf: /etc/resolv.conf
# Containers' logs in the node folder, not /var/log/pods (kubelet still links them from
# /var/log/containers, a fixed path: node-down.sh removes those links).
podLogsDir: ${NODE_DIR}/pod-logs
podCIDR: ${NODE_POD_CIDR}
maxPods: 60
serializeImagePulls: false
rotateCertificates: false
serverTLSBootstrap: false
# A shared development machine: no disk-pressure evictions of test pods, no image GC.
evictionHard: {memory.available: "100Mi", nodefs.available: "1%", imagefs.available: "1%"}
imageGCHighThresholdPercent: 100
imageGCLowThresholdPercent: 99
YAML
  cat >"${NODE_DIR}/kube-proxy-config.yaml" <<YAML
apiVersion: kubeproxy.config.k8s.io/v1alpha1
kind: KubeProxyConfiguration
mode: iptables
clientConnection: {kubeconfig: ${NODE_DIR}/kube-proxy.kubeconfig}
hostnameOverride: ${NODE_NAME}
bindAddress: ${NODE_IP}
clusterCIDR: ${NODE_POD_CIDR}
metricsBindAddress: 127.0.0.1:${KUBE_PROXY_METRICS_PORT}
healthzBindAddress: 127.0.0.1:${KUBE_PROXY_HEALTHZ_PORT}
conntrack: {maxPerCore: 0}
iptables: {masqueradeAll: false}
YAML
  cat >"${NODE_DIR}/Corefile" <<COREFILE
${CLUSTER_DOMAIN}:53 in-addr.arpa:53 ip6.arpa:53 {
    bind ${NODE_IP}
    errors
    health 127.0.0.1:${COREDNS_HEALTH_PORT}
    kubernetes ${CLUSTER_DOMAIN} in-addr.arpa ip6.arpa {
        kubeconfig ${NODE_DIR}/coredns.kubeconfig palisade-local
        pods insecure
        fallthrough in-addr.arpa ip6.arpa
        ttl 5
    }
    cache 5
}
.:53 {
    bind ${NODE_IP}
    errors
    forward . /etc/resolv.conf
    cache 30
}
COREFILE
}

node_args() {
  case "$1" in
    containerd) ARGS=(--config "${CONTAINERD_DIR}/config.toml" --log-level warn) ;;
    kubelet)
      ARGS=(--config="${NODE_DIR}/kubelet-config.yaml" --kubeconfig="${NODE_DIR}/kubelet.kubeconfig"
        --root-dir="${KUBELET_ROOT}" --cert-dir="${KUBELET_ROOT}/pki" --node-ip="${NODE_IP}"
        --hostname-override="${NODE_NAME}" --v=1)
      ;;
    kube-proxy) ARGS=(--config="${NODE_DIR}/kube-proxy-config.yaml" --v=1) ;;
    coredns) ARGS=(-conf "${NODE_DIR}/Corefile") ;;
  esac
}

node_binary() {
  case "$1" in
    containerd) command -v containerd ;;
    *) echo "${K8S_BIN_DIR}/$1" ;;
  esac
}

launch() {
  local name="$1"
  node_args "${name}"
  printf '\n==== %s starting %s\n' "$(date -u +%FT%TZ)" "${name}" >>"${LOGS}/${name}.log"
  local proxy=()
  # No image is ever pulled: images come from e2e/images/build.sh. A pod naming an image the node
  # lacks (imagePullPolicy other than Never) must fail on the spot, not reach out to a registry:
  # containerd's pulls go through a proxy on a loopback port nothing listens on.
  [[ "${name}" != containerd ]] || proxy=(HTTP_PROXY=http://127.0.0.1:9 HTTPS_PROXY=http://127.0.0.1:9 NO_PROXY=)
  env "${proxy[@]}" setsid "$(node_binary "${name}")" "${ARGS[@]}" >>"${LOGS}/${name}.log" 2>&1 </dev/null &
  echo "$!" >"${RUN}/${name}.pid"
}

# wait_until <what> <component whose death fails it> <command...>
wait_until() {
  local what="$1" name="$2" deadline=$((SECONDS + READY_TIMEOUT)) started="${SECONDS}"
  shift 2
  until "$@" >/dev/null 2>&1; do
    if ! live_pid "${name}" >/dev/null; then
      tail -n 25 "${LOGS}/${name}.log" >&2 || true
      die "${name} exited while waiting for ${what}; its log: ${LOGS}/${name}.log"
    fi
    if ((SECONDS >= deadline)); then
      tail -n 25 "${LOGS}/${name}.log" >&2 || true
      die "${what}: not after ${READY_TIMEOUT}s; log: ${LOGS}/${name}.log (stop with e2e/cluster/node-down.sh)"
    fi
    sleep 0.3
  done
  log "${what} ($((SECONDS - started))s)"
}

setup_network() {
  sysctl -qw net.ipv4.ip_forward=1
  [[ ! -e /proc/sys/net/bridge/bridge-nf-call-iptables ]] || sysctl -qw net.bridge.bridge-nf-call-iptables=1
  if ! ip link show "${BRIDGE}" >/dev/null 2>&1; then
    ip link add "${BRIDGE}" type bridge
  fi
  ip addr replace "${NODE_IP}/${NODE_POD_CIDR#*/}" dev "${BRIDGE}"
  ip link set "${BRIDGE}" up
}

# kubelet gives the cgroup of all pods (kubepods) the CPU weight of the node's allocatable CPU
# (2048 for 2 cores), which competes with every busy process of the machine at weight 1024 each.
# On a development machine running the control plane, test runners and other work beside the
# node, that starves pods: a sidecar's 1.5 CPU-s start-up took 30 s (its startup probe's whole
# budget) at a load average of 12, 5 s with this weight. kubelet sets the weight once, at start.
raise_pods_cpu_weight() {
  local dir
  for dir in /sys/fs/cgroup/cpu/kubepods /sys/fs/cgroup/cpu,cpuacct/kubepods; do
    [[ -w "${dir}/cpu.shares" ]] && echo "${PODS_CPU_SHARES}" >"${dir}/cpu.shares" && return 0
  done
  [[ ! -w /sys/fs/cgroup/kubepods/cpu.weight ]] || echo 10000 >/sys/fs/cgroup/kubepods/cpu.weight
}

rbac() {
  "${KUBECTL[@]}" apply -f - >/dev/null <<'YAML'
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: "palisade:coredns"}
rules:
  - apiGroups: [""]
    resources: [endpoints, services, pods, namespaces]
    verbs: [list, watch]
  - apiGroups: [discovery.k8s.io]
    resources: [endpointslices]
    verbs: [list, watch]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: "palisade:coredns"}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: "palisade:coredns"}
subjects: [{apiGroup: rbac.authorization.k8s.io, kind: User, name: "palisade:coredns"}]
YAML
}

main() {
  local started="${SECONDS}" name other kubelet_started
  require_commands containerd runc ctr iptables ip conntrack openssl setsid
  [[ -x "${CNI_BIN_DIR}/bridge" ]] || die "CNI plugins missing in ${CNI_BIN_DIR}: apt-get install -y containernetworking-plugins"
  for name in kubelet kube-proxy coredns; do
    [[ -x "${K8S_BIN_DIR}/${name}" ]] || die "${K8S_BIN_DIR}/${name} missing: e2e/cluster/build.sh kubelet kube-proxy coredns"
  done
  "${K8S_BIN_DIR}/kubectl" --kubeconfig "${PALISADE_CLUSTER_DIR}/admin.kubeconfig" get --raw /readyz >/dev/null 2>&1 ||
    die "the control plane is not up: run e2e/cluster/up.sh first"
  if node_healthy && [[ -z "$(other_node_owner)" ]]; then
    echo "${PALISADE_CLUSTER_DIR}" >"${NODE_OWNER_FILE}"
    raise_pods_cpu_weight
    log "node ${NODE_NAME} already up and Ready"
    return 0
  fi
  other="$(other_node_owner)"
  [[ -z "${other}" ]] || die "another cluster's node runs on this machine (${other}): stop it first (PALISADE_CLUSTER_DIR=${other} e2e/cluster/node-down.sh)"
  "${CLUSTER_SRC_DIR}/node-down.sh" >/dev/null 2>&1 || true
  echo "${PALISADE_CLUSTER_DIR}" >"${NODE_OWNER_FILE}"
  trap 'if [[ $? -ne 0 ]]; then log "node start-up failed: stopping it (logs kept)"; "${CLUSTER_SRC_DIR}/node-down.sh" >/dev/null 2>&1 || true; fi' EXIT
  mkdir -p "${LOGS}" "${RUN}" "${NODE_DIR}"
  node_certs
  write_configs
  setup_network
  launch containerd
  wait_until "containerd: serving" containerd ctr --address "${CONTAINERD_SOCK}" version
  "${CLUSTER_SRC_DIR}/../images/build.sh" --import pause echo >/dev/null
  rbac
  kubelet_started="$(date -u +%Y-%m-%dT%H:%M:%SZ)"
  launch kubelet
  launch kube-proxy
  launch coredns
  wait_until "node ${NODE_NAME}: Ready" kubelet node_ready "${kubelet_started}"
  raise_pods_cpu_weight
  wait_until "coredns: healthy" coredns curl -fsS "http://127.0.0.1:${COREDNS_HEALTH_PORT}/health"
  wait_until "kube-proxy: healthy" kube-proxy curl -fsS "http://127.0.0.1:${KUBE_PROXY_HEALTHZ_PORT}/healthz"
  if [[ -z "$("${KUBECTL[@]}" get endpoints kubernetes -o 'jsonpath={.subsets[*].addresses[*].ip}' 2>/dev/null)" ]]; then
    log "warning: the API server advertises no endpoint, pods cannot reach it: start the control plane with PALISADE_NODE=1 e2e/cluster/up.sh (make node-up does)"
  fi
  log "node ${NODE_NAME} up in $((SECONDS - started))s (pods ${NODE_POD_CIDR} on ${BRIDGE}, DNS ${NODE_IP})"
}

main "$@"
