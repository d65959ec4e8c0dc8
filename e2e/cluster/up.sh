#!/usr/bin/env bash
# Starts the local cluster: the control plane (etcd, kube-apiserver, kube-controller-manager,
# kube-scheduler, built by build.sh, with certificates from pki.sh), then, unless PALISADE_NODE=0,
# the local node with node-up.sh (containerd, kubelet, kube-proxy, CoreDNS: real pods). Waits
# until the API server's /readyz and the controllers' /healthz are green and the node is Ready.
# Idempotent: when the cluster is already up and healthy it does nothing; a half-started control
# plane is stopped and started again.
#
# PALISADE_NODE=0: control plane only, on loopback. A second cluster on the machine (its own
# PALISADE_CLUSTER_DIR and ports) must use it: the node owns machine-wide names, one per machine.
#
# State lives in ${PALISADE_CLUSTER_DIR:-~/.cache/palisade/cluster}:
#   admin.kubeconfig   cluster-admin credentials (what tests and you use)
#   logs/<component>.log, run/<component>.pid, etcd/ (data), pki/
#
# Endpoints: etcd https://127.0.0.1:23790, API server https://127.0.0.1:16443,
# controller manager https://127.0.0.1:16257, scheduler https://127.0.0.1:16259.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

READY_TIMEOUT="${READY_TIMEOUT:-120}"
SERVICE_CIDR="${SERVICE_CIDR:-10.96.0.0/16}"
POD_CIDR="${POD_CIDR:-10.244.0.0/16}"
LOGS="${PALISADE_CLUSTER_DIR}/logs"
RUN="${PALISADE_CLUSTER_DIR}/run"

# Admission plugins a production cluster runs: the API server's default set plus NodeRestriction
# (as kubeadm configures it), named explicitly so that webhooks and ValidatingAdmissionPolicy are
# on whatever a version's defaults are.
ADMISSION_PLUGINS="NamespaceLifecycle,LimitRanger,ServiceAccount,DefaultTolerationSeconds,\
DefaultStorageClass,StorageObjectInUseProtection,PersistentVolumeClaimResize,RuntimeClass,\
Priority,TaintNodesByCondition,PodSecurity,NodeRestriction,CertificateApproval,\
CertificateSigning,CertificateSubjectRestriction,DefaultIngressClass,MutatingAdmissionWebhook,\
ValidatingAdmissionPolicy,ValidatingAdmissionWebhook,ResourceQuota"

# Where the API server listens and what it advertises as the `kubernetes` Service's endpoint.
# Without a node (PALISADE_NODE=0): loopback only, and no endpoint (validation refuses a loopback
# one). With the node (default): pods must reach it, so it listens on every address and
# advertises the node's bridge address (node-lib.sh NODE_IP), which kube-proxy maps 10.96.0.1 to.
PALISADE_NODE="${PALISADE_NODE:-1}"
if [[ "${PALISADE_NODE}" != 0 ]]; then
  APISERVER_ADDRESS_ARGS=(--bind-address=0.0.0.0 --advertise-address="${NODE_IP:-10.244.0.1}"
    --endpoint-reconciler-type=lease)
else
  APISERVER_ADDRESS_ARGS=(--bind-address=127.0.0.1 --advertise-address=127.0.0.1
    --endpoint-reconciler-type=none)
fi

# True when the running API server fits: any mode with PALISADE_NODE=0 (a node's cluster serves
# loopback clients too, and restarting it would take the node down), the node's address flags
# otherwise.
apiserver_mode_matches() {
  local pid
  [[ "${PALISADE_NODE}" != 0 ]] || return 0
  pid="$(live_pid kube-apiserver)" || return 1
  tr '\0' '\n' <"/proc/${pid}/cmdline" | grep -qxF -- "${APISERVER_ADDRESS_ARGS[1]}"
}

# Sets ARGS to the command-line arguments of a component (an array: no word splitting, no globs).
# shellcheck disable=SC2054 # commas inside flag values (Node,RBAC), not array separators
component_args() {
  case "$1" in
    etcd)
      ARGS=(--name=palisade --data-dir="${PALISADE_CLUSTER_DIR}/etcd"
        --listen-client-urls="https://127.0.0.1:${ETCD_CLIENT_PORT}"
        --advertise-client-urls="https://127.0.0.1:${ETCD_CLIENT_PORT}"
        --listen-peer-urls="http://127.0.0.1:${ETCD_PEER_PORT}"
        --initial-advertise-peer-urls="http://127.0.0.1:${ETCD_PEER_PORT}"
        --initial-cluster="palisade=http://127.0.0.1:${ETCD_PEER_PORT}"
        --cert-file="${PKI}/etcd-server.crt" --key-file="${PKI}/etcd-server.key"
        --trusted-ca-file="${PKI}/ca.crt" --client-cert-auth=true
        --snapshot-count=10000 --log-level=warn)
      ;;
    kube-apiserver)
      ARGS=("${APISERVER_ADDRESS_ARGS[@]}"
        --secure-port="${APISERVER_PORT}"
        --etcd-servers="https://127.0.0.1:${ETCD_CLIENT_PORT}" --etcd-cafile="${PKI}/ca.crt"
        --etcd-certfile="${PKI}/apiserver-etcd-client.crt"
        --etcd-keyfile="${PKI}/apiserver-etcd-client.key"
        --tls-cert-file="${PKI}/apiserver.crt" --tls-private-key-file="${PKI}/apiserver.key"
        --client-ca-file="${PKI}/ca.crt"
        --kubelet-client-certificate="${PKI}/apiserver-kubelet-client.crt"
        --kubelet-client-key="${PKI}/apiserver-kubelet-client.key"
        # The node (node-up.sh) serves on its InternalIP; its host name may resolve to loopback.
        --kubelet-preferred-address-types=InternalIP,Hostname
        --proxy-client-cert-file="${PKI}/front-proxy-client.crt"
        --proxy-client-key-file="${PKI}/front-proxy-client.key"
        --requestheader-client-ca-file="${PKI}/front-proxy-ca.crt"
        --requestheader-allowed-names=front-proxy-client
        --requestheader-extra-headers-prefix=X-Remote-Extra-
        --requestheader-group-headers=X-Remote-Group
        --requestheader-username-headers=X-Remote-User
        --service-account-issuer=https://kubernetes.default.svc.cluster.local
        --service-account-key-file="${PKI}/sa.pub"
        --service-account-signing-key-file="${PKI}/sa.key"
        --service-cluster-ip-range="${SERVICE_CIDR}"
        --authorization-mode=Node,RBAC --enable-admission-plugins="${ADMISSION_PLUGINS}"
        --allow-privileged=true --profiling=false --v=1)
      ;;
    kube-controller-manager)
      ARGS=(--kubeconfig="${PALISADE_CLUSTER_DIR}/controller-manager.kubeconfig"
        --authentication-kubeconfig="${PALISADE_CLUSTER_DIR}/controller-manager.kubeconfig"
        --authorization-kubeconfig="${PALISADE_CLUSTER_DIR}/controller-manager.kubeconfig"
        --bind-address=127.0.0.1 --secure-port="${CONTROLLER_MANAGER_PORT}"
        --client-ca-file="${PKI}/ca.crt"
        --requestheader-client-ca-file="${PKI}/front-proxy-ca.crt"
        --cluster-signing-cert-file="${PKI}/ca.crt" --cluster-signing-key-file="${PKI}/ca.key"
        --root-ca-file="${PKI}/ca.crt" --service-account-private-key-file="${PKI}/sa.key"
        --use-service-account-credentials=true --controllers='*,bootstrapsigner,tokencleaner'
        --service-cluster-ip-range="${SERVICE_CIDR}" --cluster-cidr="${POD_CIDR}"
        --allocate-node-cidrs=true --leader-elect=false --profiling=false --v=1)
      ;;
    kube-scheduler)
      ARGS=(--kubeconfig="${PALISADE_CLUSTER_DIR}/scheduler.kubeconfig"
        --authentication-kubeconfig="${PALISADE_CLUSTER_DIR}/scheduler.kubeconfig"
        --authorization-kubeconfig="${PALISADE_CLUSTER_DIR}/scheduler.kubeconfig"
        --bind-address=127.0.0.1 --secure-port="${SCHEDULER_PORT}"
        --leader-elect=false --profiling=false --v=1)
      ;;
  esac
}

port_of() {
  case "$1" in
    etcd) echo "${ETCD_CLIENT_PORT} ${ETCD_PEER_PORT}" ;;
    kube-apiserver) echo "${APISERVER_PORT}" ;;
    kube-controller-manager) echo "${CONTROLLER_MANAGER_PORT}" ;;
    kube-scheduler) echo "${SCHEDULER_PORT}" ;;
  esac
}

port_busy() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# Starts a component in the background, its output appended to logs/<name>.log.
launch() {
  local name="$1"
  component_args "${name}"
  printf '\n==== %s starting %s\n' "$(date -u +%FT%TZ)" "${name}" >>"${LOGS}/${name}.log"
  # setsid: the component leads its own session, so it outlives this script and the terminal's
  # signals; it execs in place (a background job is no group leader), so $! is its pid.
  setsid "${K8S_BIN_DIR}/${name}" "${ARGS[@]}" >>"${LOGS}/${name}.log" 2>&1 </dev/null &
  echo "$!" >"${RUN}/${name}.pid"
}

# Waits until each component named is healthy; fails (with the tail of its log and the log's
# path) when one exits or is not healthy within READY_TIMEOUT seconds.
await_healthy() {
  local name pid started="${SECONDS}" deadline=$((SECONDS + READY_TIMEOUT))
  for name in "$@"; do
    pid="$(cat "${RUN}/${name}.pid")"
    until health_check "${name}"; do
      if ! kill -0 "${pid}" 2>/dev/null; then
        tail -n 25 "${LOGS}/${name}.log" >&2 || true
        die "${name} exited during start-up; its log: ${LOGS}/${name}.log"
      fi
      if ((SECONDS >= deadline)); then
        tail -n 25 "${LOGS}/${name}.log" >&2 || true
        die "${name} not healthy after ${READY_TIMEOUT}s; its log: ${LOGS}/${name}.log (stop with e2e/cluster/down.sh)"
      fi
      sleep 0.2
    done
    log "${name}: healthy (pid ${pid}, $((SECONDS - started))s)"
  done
}

main() {
  start_control_plane
  [[ "${PALISADE_NODE}" == 0 ]] || "${CLUSTER_SRC_DIR}/node-up.sh"
}

start_control_plane() {
  local started="${SECONDS}" name port
  require_commands curl openssl setsid
  for name in "${CLUSTER_COMPONENTS[@]}"; do
    [[ -x "${K8S_BIN_DIR}/${name}" ]] || die "${K8S_BIN_DIR}/${name} missing: run 'make cluster-build' (e2e/cluster/build.sh)"
  done
  if all_healthy && apiserver_mode_matches; then
    log "cluster already up and healthy; kubeconfig: ${PALISADE_CLUSTER_DIR}/admin.kubeconfig"
    return 0
  fi
  # Anything left from a half-started or crashed cluster goes first.
  "${CLUSTER_SRC_DIR}/down.sh" >/dev/null 2>&1 || true
  for name in "${CLUSTER_COMPONENTS[@]}"; do
    for port in $(port_of "${name}"); do
      if port_busy "${port}"; then
        die "port 127.0.0.1:${port} needed by ${name} is in use by another process (see: ss -ltnp 'sport = :${port}')"
      fi
    done
  done
  # A failed start-up stops whatever it had started; the logs stay for the post-mortem.
  trap 'if [[ $? -ne 0 ]]; then "${CLUSTER_SRC_DIR}/down.sh" >/dev/null 2>&1 || true; fi' EXIT
  mkdir -p "${LOGS}" "${RUN}"
  "${CLUSTER_SRC_DIR}/pki.sh"
  # etcd, then the API server; its two clients start together once it is ready.
  launch etcd
  await_healthy etcd
  launch kube-apiserver
  await_healthy kube-apiserver
  launch kube-controller-manager
  launch kube-scheduler
  await_healthy kube-controller-manager kube-scheduler
  trap - EXIT
  log "control plane up in $((SECONDS - started))s: https://127.0.0.1:${APISERVER_PORT}"
  log "kubeconfig: ${PALISADE_CLUSTER_DIR}/admin.kubeconfig   logs: ${LOGS}/"
  log "try: ${K8S_BIN_DIR}/kubectl --kubeconfig ${PALISADE_CLUSTER_DIR}/admin.kubeconfig get --raw /readyz"
}

main "$@"
