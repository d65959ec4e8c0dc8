# The Helm chart (charts/palisade, docs/install.md, docs/decisions/0014-helm-chart.md).
# charts/palisade/crds/ holds byte-for-byte copies of crds/generated/palisade.dev_*.yaml: Helm
# installs the CRDs found there; crds/src/chart-sync.test.ts fails when they drift.
CHART_DIR := charts/palisade
CHART_HELM = $${PALISADE_CACHE_DIR:-$$HOME/.cache/palisade}/k8s/$$(sed -n 's/^K8S_VERSION=//p' e2e/cluster/versions.env)/bin/helm

.PHONY: chart-sync chart-lint

chart-sync: ## copy crds/generated/palisade.dev_*.yaml into charts/palisade/crds/ (after `make crds`)
	@mkdir -p $(CHART_DIR)/crds
	@rm -f $(CHART_DIR)/crds/palisade.dev_*.yaml
	cp crds/generated/palisade.dev_*.yaml $(CHART_DIR)/crds/

chart-lint: ## helm lint --strict the chart, and render it with defaults and with every option on
	$(CHART_HELM) lint --strict $(CHART_DIR)
	$(CHART_HELM) template palisade $(CHART_DIR) --namespace palisade-system >/dev/null
	$(CHART_HELM) template palisade $(CHART_DIR) --namespace palisade-system \
	  --set serviceMonitor.enabled=true --set redis.install=true \
	  --set webhook.certManager.enabled=true --set tracing.otlpEndpoint=http://otel-collector:4318 >/dev/null
