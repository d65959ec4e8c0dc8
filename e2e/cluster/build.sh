#!/usr/bin/env bash
# Builds the local control plane's binaries from source at the versions pinned in versions.env:
#   kube-apiserver kube-controller-manager kube-scheduler kubectl   (k8s-build/: k8s.io/kubernetes)
#   etcd                                                             (etcd-build/: go.etcd.io/etcd/server/v3)
#   helm                                                             (helm-build/: helm.sh/helm/v3/cmd/helm)
# and for the local node (node-up.sh, issue 7):
#   kubelet kube-proxy                                               (k8s-build/, same version)
#   coredns                                (coredns-build/main.go: github.com/coredns/coredns, Corefile's plugins)
#
# Output: ${PALISADE_CACHE_DIR:-~/.cache/palisade}/k8s/<K8S_VERSION>/bin/. Each binary has a stamp
# (bin/.<name>.stamp) holding the version and build recipe it was built with; a binary whose stamp
# matches is not rebuilt, so a second run is a no-op. Usage: build.sh [component...]
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

DEFAULT_COMPONENTS=(kube-apiserver kube-controller-manager kube-scheduler kubectl etcd helm kubelet kube-proxy coredns)
# Build parallelism: the machines this runs on have 2 cores shared with other work.
BUILD_JOBS="${BUILD_JOBS:-2}"
# Bumped when the way binaries are built changes (flags, stamping): stamps of an older recipe
# make build.sh rebuild (mostly a relink: the Go build cache keeps the compiled packages).
BUILD_RECIPE=2
# Kubernetes' buildDate: SOURCE_DATE_EPOCH when given (reproducible builds), else now.
BUILD_DATE="$(date -u ${SOURCE_DATE_EPOCH:+--date=@${SOURCE_DATE_EPOCH}} +%Y-%m-%dT%H:%M:%SZ)"

GO="$(find_go)"
if [[ -z "${GO}" ]]; then
  log "no Go >= ${GO_MIN_VERSION} found: installing one (e2e/cluster/install-go.sh)"
  "${CLUSTER_SRC_DIR}/install-go.sh"
  GO="$(find_go)"
  [[ -n "${GO}" ]] || die "install-go.sh did not provide a Go >= ${GO_MIN_VERSION}"
fi
export GOTOOLCHAIN=local

# Prints "<wrapper module dir> <package> <version>" for a component.
component_source() {
  case "$1" in
    kube-apiserver | kube-controller-manager | kube-scheduler | kubectl | kubelet | kube-proxy)
      echo "k8s-build k8s.io/kubernetes/cmd/$1 ${K8S_VERSION}" ;;
    etcd) echo "etcd-build go.etcd.io/etcd/server/v3 ${ETCD_VERSION}" ;;
    helm) echo "helm-build helm.sh/helm/v3/cmd/helm ${HELM_VERSION}" ;;
    coredns) echo "coredns-build palisade.local/e2e/cluster/coredns-build ${COREDNS_VERSION}" ;;
    *) die "unknown component '$1' (known: ${DEFAULT_COMPONENTS[*]})" ;;
  esac
}

# Prints the -ldflags value for a component: stripped, with versions stamped the way each
# project's own build does (Kubernetes' hack/lib/version.sh, Helm's and etcd's Makefiles), so
# `/version`, `kubectl version`, `helm version` and `etcd --version` report the real release.
ldflags_for() {
  local module="$1" version="$2" flags="-s -w" key value minor
  case "${module}" in
    k8s-build)
      minor="${version#v1.}"
      minor="${minor%%.*}"
      for key in gitVersion="${version}" gitMajor=1 gitMinor="${minor}" gitTreeState=clean \
        buildDate="${BUILD_DATE}"; do
        value="${key#*=}"
        key="${key%%=*}"
        flags+=" -X k8s.io/client-go/pkg/version.${key}=${value}"
        flags+=" -X k8s.io/component-base/version.${key}=${value}"
      done
      ;;
    helm-build)
      # Helm's default Kubernetes version (for `helm template`, lint) is its client-go minor.
      minor="$(sed -nE 's#^[[:space:]]*k8s\.io/client-go v0\.([0-9]+)\..*#\1#p' \
        "${CLUSTER_SRC_DIR}/helm-build/go.mod" | head -n1)"
      flags+=" -X helm.sh/helm/v3/internal/version.version=${version}"
      flags+=" -X helm.sh/helm/v3/internal/version.gitTreeState=clean"
      flags+=" -X helm.sh/helm/v3/pkg/chartutil.k8sVersionMajor=1"
      flags+=" -X helm.sh/helm/v3/pkg/chartutil.k8sVersionMinor=${minor}"
      flags+=" -X helm.sh/helm/v3/pkg/lint/rules.k8sVersionMajor=1"
      flags+=" -X helm.sh/helm/v3/pkg/lint/rules.k8sVersionMinor=${minor}"
      ;;
    etcd-build)
      flags+=" -X go.etcd.io/etcd/api/v3/version.GitSHA=module-${version}"
      ;;
  esac
  echo "${flags}"
}

build_one() {
  local name="$1" module package version stamp started
  read -r module package version <<<"$(component_source "${name}")"
  stamp="${K8S_BIN_DIR}/.${name}.stamp"
  if [[ -x "${K8S_BIN_DIR}/${name}" && "$(cat "${stamp}" 2>/dev/null)" == "${version} recipe ${BUILD_RECIPE}" ]]; then
    log "${name} ${version}: up to date"
    return 0
  fi
  log "${name} ${version}: building (${package})"
  started="${SECONDS}"
  (
    cd "${CLUSTER_SRC_DIR}/${module}"
    CGO_ENABLED=0 GOFLAGS=-mod=readonly nice -n 10 "${GO}" build -p "${BUILD_JOBS}" -trimpath \
      -ldflags "$(ldflags_for "${module}" "${version}")" \
      -o "${K8S_BIN_DIR}/.${name}.tmp" "${package}"
  ) || die "building ${name} failed: (cd e2e/cluster/${module} && go build ${package})"
  mv -f "${K8S_BIN_DIR}/.${name}.tmp" "${K8S_BIN_DIR}/${name}"
  echo "${version} recipe ${BUILD_RECIPE}" >"${stamp}"
  log "${name} ${version}: built in $((SECONDS - started))s"
}

main() {
  local components=("$@") total="${SECONDS}" name
  [[ ${#components[@]} -gt 0 ]] || components=("${DEFAULT_COMPONENTS[@]}")
  mkdir -p "${K8S_BIN_DIR}"
  # One build at a time per cache: two (e.g. two `make cluster-up`) would write the same .tmp
  # files. The second waits, then finds the stamps current and builds nothing.
  exec 9>"${K8S_BIN_DIR}/.build.lock"
  if ! flock -n 9; then
    log "another build is using ${K8S_BIN_DIR}; waiting for it"
    flock 9
  fi
  log "using $("${GO}" version) from ${GO}; output ${K8S_BIN_DIR}"
  "${CLUSTER_SRC_DIR}/gen-modules.sh"
  for name in "${components[@]}"; do build_one "${name}"; done
  log "all built in $((SECONDS - total))s: ${components[*]}"
}

main "$@"
