#!/usr/bin/env bash
# Helpers of demo/run.sh and demo/down.sh (sourced, never run): paths, readable output, and
# progress for slow steps.
# shellcheck source=../e2e/cluster/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/../e2e/cluster/lib.sh"

DEMO_STATE="${PALISADE_CACHE_DIR}/demo"
KUBECTL="${K8S_BIN_DIR}/kubectl"
HELM="${K8S_BIN_DIR}/helm"
export KUBECONFIG="${PALISADE_CLUSTER_DIR}/admin.kubeconfig"

headline() { printf '\n\033[1m══ %s\033[0m\n' "$*"; }
note() { printf '  %s\n' "$*"; }
warn() { printf '  \033[33m! %s\033[0m\n' "$*"; }
die() {
  printf '  \033[31m✘ %s\033[0m\n' "$*" >&2
  exit 1
}

# progress <label> <command...>: runs the command with its output in a log file, printing the
# elapsed time and the log's last line every 5 s, then ✔ or ✘ with the log's tail.
progress() {
  local label="$1" log pid rc=0 started=${SECONDS} last
  shift
  log="${DEMO_STATE}/logs/$(tr -c 'a-z0-9\n' '-' <<<"${label,,}" | cut -c1-60).log"
  printf '  … %s\n' "${label}"
  "$@" >"${log}" 2>&1 &
  pid=$!
  while kill -0 "${pid}" 2>/dev/null; do
    for _ in 1 2 3 4 5 6 7 8 9 10; do
      kill -0 "${pid}" 2>/dev/null || break
      sleep 0.5
    done
    if kill -0 "${pid}" 2>/dev/null; then
      # The newest line that says something (npm repeats a config warning on every call).
      last="$(tail -n 30 "${log}" 2>/dev/null | grep -v '^npm warn' | tail -n 1 | cut -c1-90)"
      printf '    %3ds  %s\n' "$((SECONDS - started))" "${last}"
    fi
  done
  wait "${pid}" || rc=$?
  if ((rc == 0)); then
    printf '  \033[32m✔\033[0m %s (%ds)\n' "${label}" "$((SECONDS - started))"
  else
    printf '  \033[31m✘\033[0m %s failed (exit %d); last lines of %s:\n' "${label}" "${rc}" "${log}"
    tail -n 15 "${log}" | sed 's/^/      /'
  fi
  return "${rc}"
}

# wait_for <label> <timeout s> <check function>: the check prints a one-line status and
# succeeds when done; shown every 2 s while waiting.
wait_for() {
  local label="$1" timeout="$2" check="$3" started=${SECONDS} status=""
  printf '  … waiting for %s\n' "${label}"
  while ((SECONDS - started < timeout)); do
    if status="$("${check}" 2>&1)"; then
      printf '  \033[32m✔\033[0m %s (%ds)\n' "${label}" "$((SECONDS - started))"
      return 0
    fi
    printf '    %3ds  %s\n' "$((SECONDS - started))" "${status:0:100}"
    sleep 2
  done
  warn "gave up waiting for ${label} after ${timeout}s: ${status}"
  return 1
}

node_ready() {
  local ready
  ready="$("${KUBECTL}" get nodes -o jsonpath='{range .items[*]}{.metadata.name}={.status.conditions[?(@.type=="Ready")].status} {end}')"
  echo "nodes: ${ready:-none}"
  grep -q '=True' <<<"${ready}"
}

# Ready when every service has its replicas Ready and no other pod of it is still starting;
# prints e.g. "orders 2/3 · inventory 1/1 · payments 1/1".
shop_ready() {
  local pods svc want ready starting done=0 summary=()
  pods="$("${KUBECTL}" -n shop get pods -o jsonpath='{range .items[*]}{.metadata.labels.shop}|{.metadata.deletionTimestamp}|{.status.containerStatuses[*].ready}{"\n"}{end}')"
  for svc in orders:3 inventory:1 payments:1; do
    want="${svc#*:}" svc="${svc%%:*}"
    # Pods not being deleted, with every container ready (and at least one container).
    ready="$(grep -cE "^${svc}\|\|(true ?)+$" <<<"${pods}" || true)"
    starting="$(grep -E "^${svc}\|\|" <<<"${pods}" | grep -cvE '\|(true ?)+$' || true)"
    summary+=("${svc} ${ready}/${want}")
    ((ready >= want && starting == 0)) && done=$((done + 1))
  done
  echo "${summary[0]} · ${summary[1]} · ${summary[2]}"
  ((done == 3))
}

webhook_ready() {
  local bundles
  bundles="$("${KUBECTL}" get mutatingwebhookconfigurations -o jsonpath='{range .items[*]}{.metadata.name}={.webhooks[0].clientConfig.caBundle}{"\n"}{end}' | grep palisade || true)"
  echo "${bundles:-no palisade webhook configuration}" | cut -c1-60
  grep -qE '=.{20,}' <<<"${bundles}"
}

# Images in the node's containerd (k8s.io namespace), one reference a line.
node_images() {
  ctr --address "${PALISADE_CLUSTER_DIR}/node/containerd/containerd.sock" -n k8s.io images ls -q 2>/dev/null || true
}
