#!/usr/bin/env bash
# Installs a Go toolchain for build.sh when the machine has none recent enough, using only package
# registries: a bootstrap `go` from Debian's golang-go package (when there is no go at all), which
# then fetches the Go toolchain module (golang.org/toolchain@v0.0.1-<GO_INSTALL_VERSION>.<os>-<arch>,
# the same module GOTOOLCHAIN switching uses) through the configured Go module proxy. Never a
# tarball download. Result: ${PALISADE_CACHE_DIR:-~/.cache/palisade}/go/bin/go.
# Usage: install-go.sh [--force]   (--force installs even when a recent go is already present)
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

main() {
  if [[ "${1:-}" != --force && -n "$(find_go)" ]]; then
    log "Go is already present: $(find_go) ($("$(find_go)" env GOVERSION))"
    return 0
  fi
  local boot
  boot="$(command -v go 2>/dev/null || true)"
  local candidate
  for candidate in /usr/local/go/bin/go /usr/lib/go/bin/go; do
    [[ -n "${boot}" || ! -x "${candidate}" ]] || boot="${candidate}"
  done
  if [[ -z "${boot}" ]]; then
    log "no go at all: installing Debian's golang-go to bootstrap"
    local sudo=()
    [[ "$(id -u)" == 0 ]] || sudo=(sudo)
    "${sudo[@]}" apt-get install -y --no-install-recommends golang-go ca-certificates >&2
    boot="$(command -v go || echo /usr/lib/go/bin/go)"
  fi
  [[ -x "${boot}" ]] || die "no bootstrap go found"
  local os arch module dir
  os="$("${boot}" env GOOS)"
  arch="$("${boot}" env GOARCH)"
  module="golang.org/toolchain@v0.0.1-${GO_INSTALL_VERSION}.${os}-${arch}"
  log "fetching ${module} with $("${boot}" version)"
  # Outside any module, with no toolchain switching by the bootstrap go itself.
  dir="$(cd / && GOTOOLCHAIN=local GOFLAGS=-mod=mod "${boot}" mod download -json "${module}" |
    sed -nE 's/^[[:space:]]*"Dir": "(.*)",?$/\1/p')"
  [[ -n "${dir}" && -f "${dir}/bin/go" ]] || die "could not fetch ${module} through the Go proxy"
  # The module cache stores files without the execute bit; Go's own toolchain switch sets it the
  # same way before running a downloaded toolchain.
  chmod +x "${dir}"/bin/* "${dir}"/pkg/tool/*/* 2>/dev/null || true
  mkdir -p "${PALISADE_CACHE_DIR}"
  ln -sfn "${dir}" "${PALISADE_CACHE_DIR}/go"
  log "installed $("${PALISADE_CACHE_DIR}/go/bin/go" version) at ${PALISADE_CACHE_DIR}/go"
}

main "$@"
