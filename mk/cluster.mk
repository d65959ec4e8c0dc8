# The local Kubernetes cluster for e2e tests (e2e/cluster/, docs/decisions/0003 and 0012): the
# control plane and one node (containerd, kubelet, kube-proxy, CoreDNS) on this machine.
# Versions are pinned in e2e/cluster/versions.env; binaries are cached, keyed by version, under
# ${PALISADE_CACHE_DIR:-~/.cache/palisade}/k8s/<version>/bin. The node needs root and Debian's
# containerd, runc, containernetworking-plugins, iptables, conntrack (`make deps` installs them).
# PALISADE_NODE=0 keeps to the control plane (a second cluster on the machine must: one node
# per machine).
CLUSTER_SCRIPTS := e2e/cluster

.PHONY: cluster-build cluster-up cluster-down cluster-status cluster-purge node-down images images-local

cluster-build: ## build etcd, kube-*, kubectl, helm, kubelet, kube-proxy, CoreDNS from Go modules (cached)
	$(CLUSTER_SCRIPTS)/build.sh

cluster-up: cluster-build ## start the control plane and a Ready node (no-op when up; PALISADE_NODE=0: no node)
	$(CLUSTER_SCRIPTS)/up.sh

cluster-down: ## stop node and control plane: no process, container, netns, iptables rule or mount left; state kept
	$(CLUSTER_SCRIPTS)/down.sh

cluster-status: ## show the local cluster's processes, health, node, kubeconfig and logs
	$(CLUSTER_SCRIPTS)/status.sh

cluster-purge: ## cluster-down, then delete its state (certs, etcd data, containerd root, logs)
	$(CLUSTER_SCRIPTS)/down.sh --purge

node-down: ## stop the local node only (containers, netns, bridge, iptables chains, mounts)
	$(CLUSTER_SCRIPTS)/node-down.sh

# Without Docker: OCI archives packed here (e2e/images/build.sh), rebuilt when inputs change,
# imported into the local node's containerd when it runs.
images-local: build ## build pause, echo, operator and sidecar images without Docker (+ import into the node)
	e2e/images/build.sh --import

# With Docker: the same image definitions, from the Dockerfiles.
# The chart's appVersion: the tag the chart uses when image.tag is empty.
IMAGE_TAG ?= $(shell sed -nE "s/^appVersion: *'?([^']*)'?$$/\1/p" charts/palisade/Chart.yaml)
images: ## docker build the operator and sidecar images (needs Docker; IMAGE_TAG defaults to the chart's appVersion)
	@command -v docker >/dev/null || { echo "make images needs docker (without it: make images-local)"; exit 1; }
	docker build -f operator/Dockerfile -t palisade-operator:$(IMAGE_TAG) .
	docker build -f sidecar/Dockerfile -t palisade-sidecar:$(IMAGE_TAG) .
