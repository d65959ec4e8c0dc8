#!/usr/bin/env bash
# Shared helpers for the local control-plane scripts (sourced, never run).
# Paths:
#   PALISADE_CACHE_DIR    (default ~/.cache/palisade): built binaries, keyed by version, and a Go
#                         toolchain installed by install-go.sh. Outside the clone, so a fresh clone
#                         on the same machine reuses them.
#   PALISADE_CLUSTER_DIR  (default $PALISADE_CACHE_DIR/cluster): certificates, kubeconfigs, etcd
#                         data, logs and pid files of the running cluster.

CLUSTER_SRC_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=versions.env
source "${CLUSTER_SRC_DIR}/versions.env"

PALISADE_CACHE_DIR="${PALISADE_CACHE_DIR:-${HOME}/.cache/palisade}"
PALISADE_CLUSTER_DIR="${PALISADE_CLUSTER_DIR:-${PALISADE_CACHE_DIR}/cluster}"
# shellcheck disable=SC2034 # used by the scripts that source this file
K8S_BIN_DIR="${PALISADE_CACHE_DIR}/k8s/${K8S_VERSION}/bin"
PKI="${PALISADE_CLUSTER_DIR}/pki"

# Loopback ports, away from the defaults (2379/2380/6443) so a real cluster on the machine does
# not clash with this one.
ETCD_CLIENT_PORT="${ETCD_CLIENT_PORT:-23790}"
ETCD_PEER_PORT="${ETCD_PEER_PORT:-23800}"
APISERVER_PORT="${APISERVER_PORT:-16443}"
CONTROLLER_MANAGER_PORT="${CONTROLLER_MANAGER_PORT:-16257}"
SCHEDULER_PORT="${SCHEDULER_PORT:-16259}"

# Control-plane components, in start order (stopped in the reverse order).
CLUSTER_COMPONENTS=(etcd kube-apiserver kube-controller-manager kube-scheduler)

log() { printf '[%s] %s\n' "$(date -u +%H:%M:%S)" "$*" >&2; }
# Fails with an install hint when a command the scripts need is missing.
require_commands() {
  local cmd
  for cmd in "$@"; do
    command -v "${cmd}" >/dev/null || die "'${cmd}' is required: apt-get install -y ${cmd}"
  done
}

die() {
  printf 'error: %s\n' "$*" >&2
  exit 1
}

# Prints the path of a Go toolchain able to build the wrapper modules: the machine's go (PATH,
# then /usr/local/go/bin), then one installed by install-go.sh. Empty when none.
find_go() {
  local candidate
  for candidate in "$(command -v go 2>/dev/null || true)" /usr/local/go/bin/go \
    "${PALISADE_CACHE_DIR}/go/bin/go"; do
    if [[ -n "${candidate}" && -x "${candidate}" ]] && go_is_recent "${candidate}"; then
      echo "${candidate}"
      return 0
    fi
  done
  return 0
}

# True when the go binary given is at least GO_MIN_VERSION (go directive of the wrapper modules).
go_is_recent() {
  local have
  have="$("$1" env GOVERSION 2>/dev/null | sed -E 's/^go//; s/[^0-9.].*$//')"
  [[ -n "${have}" ]] || return 1
  [[ "$(printf '%s\n%s\n' "${GO_MIN_VERSION}" "${have}" | sort -V | head -n1)" == "${GO_MIN_VERSION}" ]]
}

# Prints the pid stored in <cluster dir>/run/<name>.pid when that process is still alive and is
# one of this cluster's (its command line names the cluster directory: guards against pid reuse).
live_pid() {
  local pidfile="${PALISADE_CLUSTER_DIR}/run/$1.pid" pid
  [[ -f "${pidfile}" ]] || return 1
  pid="$(cat "${pidfile}")"
  [[ "${pid}" =~ ^[0-9]+$ ]] && kill -0 "${pid}" 2>/dev/null || return 1
  tr '\0' ' ' <"/proc/${pid}/cmdline" 2>/dev/null | grep -qF -- "${PALISADE_CLUSTER_DIR}/" || return 1
  echo "${pid}"
}

# Prints the pids of every process started from a binary of the cache (any version) whose command
# line names this cluster's directory: what down.sh stops even when pid files are lost.
cluster_pids() {
  local proc pid exe
  for proc in /proc/[0-9]*; do
    pid="${proc#/proc/}"
    exe="$(readlink "${proc}/exe" 2>/dev/null)" || continue
    [[ "${exe}" == "${PALISADE_CACHE_DIR}/k8s/"*/bin/* ]] || continue
    tr '\0' ' ' <"${proc}/cmdline" 2>/dev/null | grep -qF -- "${PALISADE_CLUSTER_DIR}/" || continue
    echo "${pid}"
  done
}

# True when the component answers its health endpoint with ok (etcd: /health; API server:
# /readyz with the admin credentials; controller manager and scheduler: /healthz, anonymous).
health_check() {
  local client=(--cacert "${PKI}/ca.crt" --cert "${PKI}/admin.crt" --key "${PKI}/admin.key")
  case "$1" in
    etcd)
      [[ "$(curl --silent --max-time 3 --cacert "${PKI}/ca.crt" \
        --cert "${PKI}/apiserver-etcd-client.crt" --key "${PKI}/apiserver-etcd-client.key" \
        "https://127.0.0.1:${ETCD_CLIENT_PORT}/health")" == *'"health":"true"'* ]]
      ;;
    kube-apiserver)
      [[ "$(curl --silent --max-time 3 "${client[@]}" "https://127.0.0.1:${APISERVER_PORT}/readyz")" == ok ]]
      ;;
    kube-controller-manager)
      [[ "$(curl --silent --max-time 3 --insecure "https://127.0.0.1:${CONTROLLER_MANAGER_PORT}/healthz")" == ok ]]
      ;;
    kube-scheduler)
      [[ "$(curl --silent --max-time 3 --insecure "https://127.0.0.1:${SCHEDULER_PORT}/healthz")" == ok ]]
      ;;
  esac
}

# True when every component runs (pid file) and is healthy.
all_healthy() {
  local name
  for name in "${CLUSTER_COMPONENTS[@]}"; do
    live_pid "${name}" >/dev/null && health_check "${name}" || return 1
  done
}

