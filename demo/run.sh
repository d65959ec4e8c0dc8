#!/usr/bin/env bash
# `make demo`: Palisade on the local cluster with the demo shop, live traffic and a report.
#   1. the local cluster: control plane + node (make cluster-up), started only if not up
#   2. the images, built here without Docker: operator, sidecar (make images-local), shop
#   3. Palisade with Helm (charts/palisade), the shop (demo/manifests) and its policies
#      (demo/policies: RateLimitPolicy, CircuitBreaker, Saga; the ChaosExperiment comes later)
#   4. traffic and the report (demo/driver/demo.js)
# Every slow step shows its progress; its full output goes to ~/.cache/palisade/demo/logs/.
# The cluster stays up afterwards; `make demo-down` removes what this started.
set -euo pipefail
DEMO_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_DIR="$(cd "${DEMO_DIR}/.." && pwd)"
cd "${REPO_DIR}"
source demo/lib.sh

mkdir -p "${DEMO_STATE}/logs"
started=${SECONDS}
headline "Palisade demo — $(date -u '+%Y-%m-%d %H:%M UTC')"

# 1. Cluster. Remember what we started, so demo-down stops exactly that; `make cluster-up` is a
# no-op for a cluster that is up, and adds the node when only the control plane runs.
if e2e/cluster/status.sh >/dev/null 2>&1; then
  note "local cluster already up: using it (demo-down will leave it up)"
else
  [[ -f "${DEMO_STATE}/started-cluster" ]] || {
    [[ -d "${PALISADE_CLUSTER_DIR}/pki" ]] && echo existing || echo created
  } >"${DEMO_STATE}/started-cluster"
fi
progress "building Kubernetes from its Go modules (cached after the first run)" make --no-print-directory cluster-build
progress "starting the control plane and the node" make --no-print-directory cluster-up
wait_for "the node to be Ready" 180 node_ready || die "no Ready node: see make cluster-status"

# 2. Images.
progress "compiling, then building the operator and sidecar images (no Docker) and importing them" make --no-print-directory images-local
progress "building the shop image and importing it" demo/images/build.sh --import
images="$(node_images)"
for image in palisade-operator palisade-sidecar; do
  grep -q "/${image}:" <<<"${images}" || warn "image ${image} is not on the node: Helm's pods will not start (not built here yet)"
done

# 3. Palisade, the shop, the policies.
progress "installing Palisade with Helm (charts/palisade)" \
  "${HELM}" upgrade --install palisade charts/palisade --namespace palisade-system --create-namespace \
  --set operator.replicas=1 --wait --timeout 4m ||
  warn "helm install did not finish: see ${DEMO_STATE}/logs; continuing so the report says what works"
wait_for "the injection webhook's certificate" 60 webhook_ready || true
"${KUBECTL}" apply -f demo/manifests/shop.yaml >>"${DEMO_STATE}/logs/apply.log"
note "shop deployed: orders ×3, inventory, payments (namespace shop)"
# Pods of an earlier run created while the webhook was not serving have no sidecar: replace them.
if "${KUBECTL}" -n shop get pods -o name -l '!palisade.dev/sidecar' 2>/dev/null | grep -q .; then
  "${KUBECTL}" -n shop rollout restart deployment >>"${DEMO_STATE}/logs/apply.log"
  note "restarted shop pods that had no sidecar"
fi
"${KUBECTL}" apply -f demo/policies/rate-limit.yaml -f demo/policies/circuit-breaker.yaml -f demo/policies/saga.yaml \
  >>"${DEMO_STATE}/logs/apply.log" 2>&1 || warn "policies not applied (CRDs missing?): $(tail -1 "${DEMO_STATE}/logs/apply.log")"
wait_for "the shop's 5 pods to be Ready" 240 shop_ready || warn "going on: the report says what works"
"${KUBECTL}" get palisade -n shop 2>/dev/null | sed 's/^/  /' || true

# 4. Traffic and report.
headline "Traffic"
rc=0
DEMO_REPORT="${DEMO_STATE}/report.json" DEMO_SERIES="${DEMO_STATE}/series.json" KUBECTL="${KUBECTL}" \
  node demo/driver/demo.js || rc=$?
# The dashboard's panels drawn from what was scraped (a PNG too where Chromium is installed).
png=()
command -v chromium >/dev/null && png=(--png "${DEMO_STATE}/dashboard.png")
node demo/driver/render-dashboard.js "${DEMO_STATE}/series.json" "${DEMO_STATE}/dashboard.html" "${png[@]}" >/dev/null 2>&1 ||
  warn "no dashboard picture: too few metric samples (sidecar probe listener not reachable?)"

headline "Explore further (the cluster stays up; 'make demo-down' removes it)"
cat <<EOF
  export KUBECONFIG=${KUBECONFIG}  PATH=$(dirname "${KUBECTL}"):\$PATH
  kubectl get palisade -n shop                       # the policies: READY, matched PODS, reasons
  kubectl get chaos,sagas -n shop -o wide            # experiment phase and Verified; saga counts
  kubectl -n shop get pods -o wide                   # each pod: app + palisade-sidecar
  curl -s http://\$(kubectl -n shop get pod -l shop=orders -o jsonpath='{.items[0].status.podIP}'):15020/metrics   # metrics
  kubectl -n shop exec deploy/orders -c palisade-sidecar -- \\
    node -e "fetch('http://127.0.0.1:15000/v1/raft').then(r=>r.text()).then(console.log)"   # Raft
  Traces: helm upgrade palisade charts/palisade -n palisade-system --reuse-values \\
    --set tracing.otlpEndpoint=http://<your collector>:4318 --set tracing.sampleRatio=1
  Dashboard and alerts: deploy/grafana/palisade-dashboard.json, deploy/prometheus/palisade-alerts.yaml
  This run's panels: ${DEMO_STATE}/dashboard.html$([[ ${#png[@]} -gt 0 ]] && echo " (.png)")
  Report as JSON: ${DEMO_STATE}/report.json · logs: ${DEMO_STATE}/logs/
EOF
note "demo finished in $(((SECONDS - started) / 60)) min $(((SECONDS - started) % 60)) s"
exit "${rc}"
