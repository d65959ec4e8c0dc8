# The local Kubernetes control plane for e2e tests (e2e/cluster/, docs/decisions/0003).
# Versions are pinned in e2e/cluster/versions.env; binaries are cached, keyed by version, under
# ${PALISADE_CACHE_DIR:-~/.cache/palisade}/k8s/<version>/bin.
CLUSTER_SCRIPTS := e2e/cluster

.PHONY: cluster-build cluster-up cluster-down cluster-status cluster-purge

cluster-build: ## build etcd, kube-apiserver, controller-manager, scheduler, kubectl, helm (cached)
	$(CLUSTER_SCRIPTS)/build.sh

cluster-up: cluster-build ## start the local control plane on loopback (no-op when up)
	$(CLUSTER_SCRIPTS)/up.sh

cluster-down: ## stop the local control plane (no process left; state kept)
	$(CLUSTER_SCRIPTS)/down.sh

cluster-status: ## show the local control plane's processes, health, kubeconfig and logs
	$(CLUSTER_SCRIPTS)/status.sh

cluster-purge: ## stop the local control plane and delete its state (certs, etcd data, logs)
	$(CLUSTER_SCRIPTS)/down.sh --purge
