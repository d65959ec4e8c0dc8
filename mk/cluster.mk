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

# The local node (issue 7, docs/decisions/0012): containerd + kubelet + kube-proxy + CoreDNS on
# this machine, next to the control plane. Opt-in while it settles; needs root, Debian's
# containerd, runc, containernetworking-plugins, iptables, conntrack.
.PHONY: node-build node-up node-down node-images

node-build: cluster-build ## build kubelet, kube-proxy and CoreDNS (cached)
	$(CLUSTER_SCRIPTS)/build.sh kubelet kube-proxy coredns

# PALISADE_NODE=1: the API server also listens where pods reach it (restarted if it did not).
node-up: node-build cluster-build ## start the control plane and the local node (containerd, kubelet, kube-proxy, CoreDNS)
	PALISADE_NODE=1 $(CLUSTER_SCRIPTS)/up.sh
	$(CLUSTER_SCRIPTS)/node-up.sh

node-down: ## stop the local node; removes its containers, netns, bridge, iptables chains, mounts
	$(CLUSTER_SCRIPTS)/node-down.sh

node-images: ## build the node's images (OCI archives, no Docker) into the cache
	e2e/images/build.sh
