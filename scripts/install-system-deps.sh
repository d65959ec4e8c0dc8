#!/usr/bin/env bash
# Installs the Debian packages the tests need, only when missing (idempotent, quiet when done).
# Needs root (CI and the dev machines run as root); prints what it installs and why.
set -euo pipefail

# package — why
PACKAGES=(
  redis-server   # global rate limits: integration tests start their own redis-server
  openssl        # local control plane: certificates and keys
  curl           # local control plane: health probes of the components
  util-linux     # setsid: cluster components detached from the caller's session
  iproute2       # Raft/chaos tests: network namespaces and tc netem
  iptables       # partitions between test hosts
  procps         # pgrep/pkill in cluster scripts
  jq             # chaos/run.sh and chaos/pod-delete-loop.sh read objects as JSON
  # The local node (e2e/cluster/node-up.sh, real pods; docs/decisions/0012):
  containerd     # container runtime (CRI plugin); its own config, root and socket per cluster
  runc           # runs the pods' containers
  containernetworking-plugins  # CNI bridge, host-local, loopback, portmap
  conntrack      # kube-proxy clears stale UDP flows (DNS) with it
)

missing=()
for pkg in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' || missing+=("$pkg")
done
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
  echo "install-system-deps: missing ${missing[*]}; run as root (or: sudo apt-get install ${missing[*]})" >&2
  exit 1
fi
echo "install-system-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
# Debian starts redis-server and containerd as services on install; the tests start their own
# (redis on free ports, containerd with the node's own socket and root).
for service in redis-server containerd; do
  if [[ " ${missing[*]} " == *" ${service} "* ]] && command -v systemctl >/dev/null; then
    systemctl disable --now "${service}" >/dev/null 2>&1 || true
  fi
done
