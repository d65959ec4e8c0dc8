# Placeholder until the local control plane lands (mk/cluster.mk).
.PHONY: e2e
e2e:
	@echo "e2e: no cluster target yet"
