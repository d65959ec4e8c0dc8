# End-to-end tests against a real cluster; see e2e/cluster/README.md. Two jest projects, one
# global setup: e2e (e2e/src/*.test.ts, operator/test/*.e2e.ts: API server only) and e2e-node
# (e2e/src/*.node.ts: real pods on the local node, images built here, Helm with real pods).
E2E_JEST = $(JEST) --selectProjects e2e e2e-node --runInBand
KIND ?= kind
KIND_CLUSTER ?= palisade-e2e
# Empty: kind's default node image. Set e.g. kindest/node:<tag> to pin the node version.
KIND_NODE_IMAGE ?=
E2E_IMAGE_TAG ?= e2e
# <image name>=<Dockerfile> pairs built and loaded into kind when the Dockerfile exists.
E2E_IMAGES ?= palisade-operator=operator/Dockerfile palisade-sidecar=sidecar/Dockerfile
E2E_CHART ?= charts/palisade
E2E_HELM = $${PALISADE_CACHE_DIR:-$$HOME/.cache/palisade}/k8s/$$(sed -n 's/^K8S_VERSION=//p' e2e/cluster/versions.env)/bin/helm

.PHONY: e2e e2e-kind

# The Jest global setup starts the cluster (control plane + node, images imported) unless it is
# up, and stops what it started; the recipe stops it as well when Jest itself dies, so a run
# never leaves processes, containers, namespaces or iptables rules behind.
e2e: build cluster-build ## e2e tests (API server + real pods) on the local cluster (started and stopped if not up)
	@was_up=0; $(CLUSTER_SCRIPTS)/status.sh >/dev/null 2>&1 && was_up=1; \
	rc=0; E2E_TARGET=local $(E2E_JEST) || rc=$$?; \
	if [ "$$was_up" = 0 ]; then $(CLUSTER_SCRIPTS)/down.sh >/dev/null 2>&1 || true; fi; \
	exit $$rc

# Needs Docker and kind, so it cannot run on machines without them (such as the project's own);
# see e2e/cluster/README.md.
e2e-kind: build cluster-build ## e2e tests on a kind cluster (needs Docker + kind): images, helm install
	@command -v docker >/dev/null && command -v $(KIND) >/dev/null || \
	  { echo "e2e-kind needs docker and kind on PATH (use 'make e2e' for the local control plane)"; exit 1; }
	@$(KIND) get clusters 2>/dev/null | grep -qx '$(KIND_CLUSTER)' || \
	  $(KIND) create cluster --name '$(KIND_CLUSTER)' --wait 180s $(if $(KIND_NODE_IMAGE),--image '$(KIND_NODE_IMAGE)')
	$(KIND) export kubeconfig --name '$(KIND_CLUSTER)'
	@set -e; for pair in $(E2E_IMAGES); do \
	  image="$${pair%%=*}:$(E2E_IMAGE_TAG)"; dockerfile="$${pair#*=}"; \
	  if [ -f "$$dockerfile" ]; then \
	    docker build -t "$$image" -f "$$dockerfile" . && $(KIND) load docker-image "$$image" --name '$(KIND_CLUSTER)'; \
	  else echo "e2e-kind: $$dockerfile not there yet, $$image skipped"; fi; \
	done
	@if [ -f '$(E2E_CHART)/Chart.yaml' ]; then \
	  $(E2E_HELM) upgrade --install palisade '$(E2E_CHART)' --namespace palisade-system \
	    --create-namespace --set image.tag='$(E2E_IMAGE_TAG)' --wait --timeout 5m; \
	else echo "e2e-kind: no chart at $(E2E_CHART) yet, helm install skipped"; fi
	E2E_TARGET=kind $(JEST) --selectProjects e2e --runInBand

.PHONY: e2e-node
e2e-node: build cluster-build ## only the real-pod e2e tests (e2e/src/*.node.ts); cluster as for `make e2e`
	@was_up=0; $(CLUSTER_SCRIPTS)/status.sh >/dev/null 2>&1 && was_up=1; \
	rc=0; E2E_TARGET=local $(JEST) --selectProjects e2e-node --runInBand || rc=$$?; \
	if [ "$$was_up" = 0 ]; then $(CLUSTER_SCRIPTS)/down.sh >/dev/null 2>&1 || true; fi; \
	exit $$rc
