#!/usr/bin/env bash
# Prints, as KEY=VALUE lines (values unquoted), where the local control plane's pieces are (from lib.sh, the one
# place that computes them): for the Jest global setup, and for `eval "$(e2e/cluster/env.sh)"`.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

printf '%s=%s\n' \
  K8S_VERSION "${K8S_VERSION}" \
  PALISADE_K8S_BIN_DIR "${K8S_BIN_DIR}" \
  PALISADE_KUBECONFIG "${PALISADE_CLUSTER_DIR}/admin.kubeconfig" \
  PALISADE_KUBECTL "${K8S_BIN_DIR}/kubectl" \
  PALISADE_CLUSTER_LOGS "${PALISADE_CLUSTER_DIR}/logs"
