#!/usr/bin/env bash
# Builds the demo shop's image without Docker, the way e2e/images/build.sh builds the node's
# images: palisade.local/shop:1 is the echo image's root filesystem (this machine's node binary
# and its shared libraries) plus demo/shop/, packed by e2e/images/lib/oci-pack.sh. One image for
# the three services: the Deployment's args pick orders, inventory or payments. Rebuilt only
# when its inputs change (archive <cache>/images/shop-<hash>.tar).
#
# Usage: build.sh [--import]   (--import: into the local node's containerd). Prints the archive.
set -euo pipefail
DEMO_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
REPO_DIR="$(cd "${DEMO_DIR}/.." && pwd)"
source "${REPO_DIR}/e2e/cluster/lib.sh"

IMAGE=palisade.local/shop:1
IMAGE_CACHE="${PALISADE_CACHE_DIR}/images"
CONTAINERD_SOCK="${PALISADE_CLUSTER_DIR}/node/containerd/containerd.sock"

# Unpacks every layer of an OCI archive, in order, into <dir> (the image's root filesystem;
# the echo image has no deletions, so no whiteout handling is needed).
unpack_layers() {
  local archive="$1" dir="$2" work manifest layer
  work="$(mktemp -d)"
  tar -xf "${archive}" -C "${work}"
  manifest="$(grep -oE 'sha256:[0-9a-f]{64}' "${work}/index.json" | head -1)"
  for layer in $(grep -oE '"layers":\[.*\]' "${work}/blobs/sha256/${manifest#sha256:}" | grep -oE 'sha256:[0-9a-f]{64}'); do
    tar -xf "${work}/blobs/sha256/${layer#sha256:}" -C "${dir}"
  done
  rm -rf "${work}"
}

main() {
  local import=0 base hash out rootfs
  [[ "${1:-}" == --import ]] && import=1
  base="$("${REPO_DIR}/e2e/images/build.sh" echo | tail -1)"
  hash="$({
    echo "${base}"
    find "${DEMO_DIR}/shop" -type f ! -path '*/test/*' -print0 | sort -z | xargs -0 sha256sum
    sha256sum "${BASH_SOURCE[0]}"
  } | sha256sum | cut -c1-16)"
  out="${IMAGE_CACHE}/shop-${hash}.tar"
  if [[ ! -f "${out}" ]]; then
    find "${IMAGE_CACHE}" -maxdepth 1 -name 'shop-*.tar*' -delete # older builds
    rootfs="$(mktemp -d)"
    unpack_layers "${base}" "${rootfs}"
    rm -f "${rootfs}/app/server.js"
    mkdir -p "${rootfs}/app/shop"
    cp -r "${DEMO_DIR}/shop/main.js" "${DEMO_DIR}/shop/package.json" "${DEMO_DIR}/shop/src" "${rootfs}/app/shop/"
    "${REPO_DIR}/e2e/images/lib/oci-pack.sh" "${rootfs}" "${IMAGE}" "${out}" \
      '["/usr/bin/node","/app/shop/main.js"]' '["PATH=/usr/bin:/bin","PORT=8080"]' /app/shop >"${out}.digest"
    rm -rf "${rootfs}"
    log "shop: built ${out} ($(du -h "${out}" | cut -f1))"
  fi
  if ((import)); then
    local ctr=(ctr --address "${CONTAINERD_SOCK}" -n k8s.io)
    if ! "${ctr[@]}" images ls "name==${IMAGE}" 2>/dev/null | grep -qF " $(cat "${out}.digest") "; then
      "${ctr[@]}" images import "${out}" >/dev/null
      log "shop: imported into the node's containerd"
    fi
  fi
  echo "${out}"
}

main "$@"
