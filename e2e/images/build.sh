#!/usr/bin/env bash
# Builds the local node's images without Docker (issues 7 and 10) and imports them into the
# node's containerd (k8s.io namespace) when it runs. Each image is an OCI archive packed by
# lib/oci-pack.sh from root filesystems assembled here; it is rebuilt only when the content hash
# of its inputs changes (archive name: <image>-<hash>.tar under the cache; older ones removed).
#
#   pause     the pod sandbox: pause/main.go, static (CGO_ENABLED=0)        -> palisade.local/pause:1
#   echo      test app: echo/server.js                                       -> palisade.local/echo:1
#   operator  operator/dist + crds/dist + production node_modules            -> palisade-operator:<appVersion>
#   sidecar   sidecar/dist + crds/dist + production node_modules             -> palisade-sidecar:<appVersion>
#
# echo, operator and sidecar run on the same first layer: this machine's node binary and its
# shared libraries (ldd), /etc/passwd, /tmp; containerd stores it once. operator and sidecar run as
# 65532:65532 (non-root, what the chart's securityContext expects); their second layer is
# assembled by lib/app-tree.mjs from the compiled output (`make build` first), as the Dockerfiles
# (operator/Dockerfile, sidecar/Dockerfile: `make images`) do in their build stage. The names
# without a registry are what the chart's defaults refer to (docker.io/library/... in containerd).
#
# Usage: build.sh [--import] [image...]   (default: every image). Prints each archive's path.
set -euo pipefail
IMAGES_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_DIR="$(cd "${IMAGES_DIR}/../.." && pwd)"
source "${IMAGES_DIR}/../cluster/lib.sh"

IMAGE_CACHE="${PALISADE_CACHE_DIR}/images"
CONTAINERD_SOCK="${PALISADE_CLUSTER_DIR}/node/containerd/containerd.sock"
APP_VERSION="$(sed -nE "s/^appVersion: *'?([^']*)'?$/\1/p" "${REPO_DIR}/charts/palisade/Chart.yaml")"
APP_USER=65532:65532
# Declared by the sidecar's package.json, never loaded by its compiled code (tracing uses the
# trace SDK directly): left out of the image (~16 MB with what only it pulls in).
SIDECAR_OMIT=@opentelemetry/sdk-node
# Node flags of the sidecar's entrypoint, as in sidecar/Dockerfile: a 1 MiB young generation and
# a 1 GiB old-space cap, which also caps V8's heap growing factor (resident memory under load;
# docs/decisions/0019-sidecar-memory-and-filter-cost.md).
SIDECAR_NODE_FLAGS='"--max-semi-space-size=1","--max-old-space-size=1024",'

# The image reference of each image (containerd's normalised form for names without a registry).
image_ref() {
  case "$1" in
    pause | echo) echo "palisade.local/$1:1" ;;
    operator | sidecar) echo "docker.io/library/palisade-$1:${APP_VERSION}" ;;
    *) die "unknown image '$1' (known: pause echo operator sidecar)" ;;
  esac
}

# Content hash of the files named (paths inside the clone, and bytes) plus extra strings.
inputs_hash() {
  { for f in "$@"; do echo "${f#"${REPO_DIR}/"}"; [[ ! -f "${f}" ]] || sha256sum <"${f}"; done; } |
    sha256sum | cut -c1-16
}

# archive_for <image> <hash>: sets ARCHIVE; true when it still has to be built (older archives of
# the image are removed then).
archive_for() {
  ARCHIVE="${IMAGE_CACHE}/$1-$2.tar"
  [[ ! -f "${ARCHIVE}" || ! -f "${ARCHIVE}.digest" ]] || return 1
  find "${IMAGE_CACHE}" -maxdepth 1 -name "$1-*.tar*" -delete
}

# The shared first layer: node, its libraries, a passwd with root, nobody and the app user, /tmp.
NODE_BIN="$(readlink -f "$(command -v node)")"
mapfile -t NODE_LIBS < <(ldd "${NODE_BIN}" | grep -oE '/[^ ]+' | sort -u)
runtime_rootfs() {
  local rootfs="$1" lib
  mkdir -p "${rootfs}/usr/bin" "${rootfs}/tmp" "${rootfs}/etc"
  chmod 1777 "${rootfs}/tmp"
  cp "${NODE_BIN}" "${rootfs}/usr/bin/node"
  for lib in "${NODE_LIBS[@]}"; do
    mkdir -p "${rootfs}$(dirname "${lib}")"
    cp -L "${lib}" "${rootfs}${lib}"
  done
  printf '%s\n' 'root:x:0:0:root:/root:/bin/sh' 'nobody:x:65534:65534:nobody:/:/bin/false' \
    'nonroot:x:65532:65532:nonroot:/home/nonroot:/bin/false' >"${rootfs}/etc/passwd"
  printf '%s\n' 'root:x:0:' 'nogroup:x:65534:' 'nonroot:x:65532:' >"${rootfs}/etc/group"
}

build_pause() {
  local rootfs go
  archive_for pause "$(inputs_hash "${IMAGES_DIR}/pause/main.go" "${IMAGES_DIR}/pause/go.mod" "${IMAGES_DIR}/lib/oci-pack.sh")" || return 0
  go="$(find_go)"
  [[ -n "${go}" ]] || die "no Go >= ${GO_MIN_VERSION} (e2e/cluster/install-go.sh)"
  rootfs="$(mktemp -d)"
  (cd "${IMAGES_DIR}/pause" && CGO_ENABLED=0 GOTOOLCHAIN=local "${go}" build -trimpath -ldflags '-s -w' -o "${rootfs}/pause" .)
  "${IMAGES_DIR}/lib/oci-pack.sh" "${rootfs}" "$(image_ref pause)" "${ARCHIVE}" '["/pause"]' >"${ARCHIVE}.digest"
  rm -rf "${rootfs}"
  log "pause: built ${ARCHIVE}"
}

build_echo() {
  local work
  archive_for echo "$(inputs_hash "${NODE_BIN}" "${NODE_LIBS[@]}" "${IMAGES_DIR}/echo/server.js" "${IMAGES_DIR}/lib/oci-pack.sh" "${IMAGES_DIR}/build.sh")" || return 0
  work="$(mktemp -d)"
  runtime_rootfs "${work}/runtime"
  mkdir -p "${work}/app/app"
  cp "${IMAGES_DIR}/echo/server.js" "${work}/app/app/server.js"
  "${IMAGES_DIR}/lib/oci-pack.sh" "${work}/runtime:${work}/app" "$(image_ref echo)" "${ARCHIVE}" \
    '["/usr/bin/node","/app/server.js"]' '["PATH=/usr/bin:/bin","PORT=8080"]' /app >"${ARCHIVE}.digest"
  rm -rf "${work}"
  log "echo: built ${ARCHIVE}"
}

# build_app <operator|sidecar> <entrypoint under /app> [--omit list]
build_app() {
  local name="$1" entry="$2" omit=("${@:3}") work files node_flags=''
  if [[ ${name} == sidecar ]]; then node_flags="${SIDECAR_NODE_FLAGS}"; fi
  [[ -f "${REPO_DIR}/${name}/dist/${entry#"${name}/dist/"}" ]] ||
    die "${REPO_DIR}/${entry} missing: build first (make build, or npx tsc -b)"
  mapfile -t files < <(find "${REPO_DIR}/${name}/dist" "${REPO_DIR}/crds/dist" -type f -name '*.js' ! -name '*.test.js' | sort)
  archive_for "${name}" "$(inputs_hash "${NODE_BIN}" "${NODE_LIBS[@]}" "${files[@]}" "${REPO_DIR}/package-lock.json" \
    "${REPO_DIR}/${name}/package.json" "${IMAGES_DIR}/lib/app-tree.mjs" "${IMAGES_DIR}/lib/oci-pack.sh" "${IMAGES_DIR}/build.sh" "${omit[*]}")" || return 0
  work="$(mktemp -d)"
  runtime_rootfs "${work}/runtime"
  node "${IMAGES_DIR}/lib/app-tree.mjs" "${REPO_DIR}" "${name}" "${work}/app/app" "${omit[@]}" >/dev/null
  "${IMAGES_DIR}/lib/oci-pack.sh" "${work}/runtime:${work}/app" "$(image_ref "${name}")" "${ARCHIVE}" \
    "[\"/usr/bin/node\",${node_flags}\"/app/${entry}\"]" '["PATH=/usr/bin:/bin","NODE_ENV=production"]' /app "${APP_USER}" >"${ARCHIVE}.digest"
  rm -rf "${work}"
  log "${name}: built ${ARCHIVE} ($(du -m "${ARCHIVE}" | cut -f1) MB)"
}

# Imports an archive into the node's containerd unless the image is there with the same digest;
# without a running node there is nothing to import into (the archive stays in the cache).
import_image() {
  local ref="$1" archive="$2" ctr=(ctr --address "${CONTAINERD_SOCK}" -n k8s.io) digest
  if [[ ! -S "${CONTAINERD_SOCK}" ]]; then
    log "${ref}: the local node is not running, not imported (make cluster-up)"
    return 0
  fi
  digest="$(cat "${archive}.digest")"
  if "${ctr[@]}" images ls "name==${ref}" 2>/dev/null | grep -qF " ${digest} "; then
    return 0
  fi
  "${ctr[@]}" images import "${archive}" >/dev/null
  log "${ref}: imported into the node's containerd"
}

main() {
  local import=0 images=() name
  if [[ "${1:-}" == --import ]]; then import=1; shift; fi
  images=("$@")
  [[ ${#images[@]} -gt 0 ]] || images=(pause echo operator sidecar)
  mkdir -p "${IMAGE_CACHE}"
  for name in "${images[@]}"; do
    case "${name}" in
      pause) build_pause ;;
      echo) build_echo ;;
      operator) build_app operator operator/dist/bin/palisade-operator.js ;;
      sidecar) build_app sidecar sidecar/dist/bin/palisade-sidecar.js --omit "${SIDECAR_OMIT}" ;;
      *) image_ref "${name}" >/dev/null ;;
    esac
    ARCHIVE="$(ls "${IMAGE_CACHE}/${name}"-*.tar)"
    if ((import)); then import_image "$(image_ref "${name}")" "${ARCHIVE}"; fi
    echo "${ARCHIVE}"
  done
}

main "$@"
