#!/usr/bin/env bash
# Builds the local node's images without Docker (issue 7) and imports them into the node's
# containerd (k8s.io namespace) when it runs. Each image is an OCI archive packed by
# lib/oci-pack.sh from a root filesystem assembled here; it is rebuilt only when the content hash
# of its inputs changes (archive name: <image>-<hash>.tar under the cache).
#
#   pause   the pod sandbox: pause/main.go, static (CGO_ENABLED=0)       -> palisade.local/pause:1
#   echo    test app: this machine's node binary + its shared libraries
#           (ldd) + echo/server.js                                        -> palisade.local/echo:1
#
# Usage: build.sh [--import] [image...]   (default: every image). Prints each archive's path.
# Dockerfiles (pause/Dockerfile, echo/Dockerfile) build the same images with Docker.
set -euo pipefail
IMAGES_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
source "${IMAGES_DIR}/../cluster/lib.sh"

IMAGE_CACHE="${PALISADE_CACHE_DIR}/images"
CONTAINERD_SOCK="${PALISADE_CLUSTER_DIR}/node/containerd/containerd.sock"

# Content hash of the files named (paths and bytes) plus extra strings.
inputs_hash() {
  { for f in "$@"; do if [[ -f "${f}" ]]; then echo "${f}"; sha256sum <"${f}"; else echo "${f}"; fi; done; } |
    sha256sum | cut -c1-16
}

build_pause() {
  local hash out rootfs go
  hash="$(inputs_hash "${IMAGES_DIR}/pause/main.go" "${IMAGES_DIR}/pause/go.mod" "${IMAGES_DIR}/lib/oci-pack.sh")"
  out="${IMAGE_CACHE}/pause-${hash}.tar"
  if [[ ! -f "${out}" ]]; then
    go="$(find_go)"
    [[ -n "${go}" ]] || die "no Go >= ${GO_MIN_VERSION} (e2e/cluster/install-go.sh)"
    rootfs="$(mktemp -d)"
    (cd "${IMAGES_DIR}/pause" && CGO_ENABLED=0 GOTOOLCHAIN=local "${go}" build -trimpath -ldflags '-s -w' -o "${rootfs}/pause" .)
    "${IMAGES_DIR}/lib/oci-pack.sh" "${rootfs}" palisade.local/pause:1 "${out}" '["/pause"]' >"${out}.digest"
    rm -rf "${rootfs}"
    log "pause: built ${out}"
  fi
  echo "${out}"
}

build_echo() {
  local node hash out rootfs lib libs
  node="$(readlink -f "$(command -v node)")"
  mapfile -t libs < <(ldd "${node}" | grep -oE '/[^ ]+' | sort -u)
  hash="$(inputs_hash "${node}" "${libs[@]}" "${IMAGES_DIR}/echo/server.js" "${IMAGES_DIR}/lib/oci-pack.sh")"
  out="${IMAGE_CACHE}/echo-${hash}.tar"
  if [[ ! -f "${out}" ]]; then
    rootfs="$(mktemp -d)"
    mkdir -p "${rootfs}/usr/bin" "${rootfs}/app" "${rootfs}/tmp" "${rootfs}/etc"
    chmod 1777 "${rootfs}/tmp"
    cp "${node}" "${rootfs}/usr/bin/node"
    for lib in "${libs[@]}"; do
      mkdir -p "${rootfs}$(dirname "${lib}")"
      cp -L "${lib}" "${rootfs}${lib}"
    done
    cp "${IMAGES_DIR}/echo/server.js" "${rootfs}/app/server.js"
    echo 'root:x:0:0:root:/root:/bin/sh' >"${rootfs}/etc/passwd"
    echo 'nobody:x:65534:65534:nobody:/:/bin/false' >>"${rootfs}/etc/passwd"
    "${IMAGES_DIR}/lib/oci-pack.sh" "${rootfs}" palisade.local/echo:1 "${out}" \
      '["/usr/bin/node","/app/server.js"]' '["PATH=/usr/bin:/bin","PORT=8080"]' /app >"${out}.digest"
    rm -rf "${rootfs}"
    log "echo: built ${out}"
  fi
  echo "${out}"
}

# Imports an archive into the node's containerd unless the image is there with the same digest.
import_image() {
  local name="$1" archive="$2" ctr=(ctr --address "${CONTAINERD_SOCK}" -n k8s.io) digest
  digest="$(cat "${archive}.digest" 2>/dev/null || true)"
  if [[ -n "${digest}" ]] && "${ctr[@]}" images ls "name==palisade.local/${name}:1" 2>/dev/null | grep -qF " ${digest} "; then
    return 0
  fi
  "${ctr[@]}" images import "${archive}" >/dev/null
  log "${name}: imported into the node's containerd"
}

main() {
  local import=0 images=() name archive
  if [[ "${1:-}" == --import ]]; then import=1; shift; fi
  images=("$@")
  [[ ${#images[@]} -gt 0 ]] || images=(pause echo)
  mkdir -p "${IMAGE_CACHE}"
  for name in "${images[@]}"; do
    case "${name}" in
      pause) archive="$(build_pause)" ;;
      echo) archive="$(build_echo)" ;;
      *) die "unknown image '${name}' (known: pause echo)" ;;
    esac
    if ((import)); then import_image "${name}" "${archive}"; fi
    echo "${archive}"
  done
}

main "$@"
