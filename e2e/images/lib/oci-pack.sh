#!/usr/bin/env bash
# Packs a root filesystem folder into a single-layer OCI image archive (OCI image layout in a tar,
# what `ctr images import` reads), by hand: tar + sha256sum + JSON. Reproducible: sorted entries,
# mtime 0, owner root, so the same inputs give the same digests.
#
# Usage: oci-pack.sh <rootfs dir> <image name> <output.tar> <entrypoint JSON array> [env JSON array] [workdir]
#   e.g. oci-pack.sh ./rootfs palisade.local/pause:1 pause.tar '["/pause"]'
set -euo pipefail

rootfs="$1" name="$2" out="$3" entrypoint="$4" env="${5:-[\"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin\"]}" workdir="${6:-/}"
arch="$(uname -m)"
case "${arch}" in x86_64) arch=amd64 ;; aarch64) arch=arm64 ;; esac

work="$(mktemp -d)"
trap 'rm -rf "${work}"' EXIT
mkdir -p "${work}/blobs/sha256"

# put <file>: moves a file into blobs/sha256/<digest>; prints "<digest> <size>".
put() {
  local digest size
  digest="$(sha256sum "$1" | cut -d' ' -f1)"
  size="$(stat -c %s "$1")"
  mv "$1" "${work}/blobs/sha256/${digest}"
  echo "${digest} ${size}"
}

tar --create --file "${work}/layer" --directory "${rootfs}" --sort=name --mtime=@0 \
  --owner=0 --group=0 --numeric-owner --format=posix --pax-option=exthdr.name=%d/PaxHeaders/%f,delete=atime,delete=ctime .
read -r layer_digest layer_size <<<"$(put "${work}/layer")"

printf '{"architecture":"%s","os":"linux","config":{"Entrypoint":%s,"Env":%s,"WorkingDir":"%s"},"rootfs":{"type":"layers","diff_ids":["sha256:%s"]}}' \
  "${arch}" "${entrypoint}" "${env}" "${workdir}" "${layer_digest}" >"${work}/config"
read -r config_digest config_size <<<"$(put "${work}/config")"

printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:%s","size":%s},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":"sha256:%s","size":%s}]}' \
  "${config_digest}" "${config_size}" "${layer_digest}" "${layer_size}" >"${work}/manifest"
read -r manifest_digest manifest_size <<<"$(put "${work}/manifest")"

printf '{"schemaVersion":2,"manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:%s","size":%s,"annotations":{"io.containerd.image.name":"%s","org.opencontainers.image.ref.name":"%s"}}]}' \
  "${manifest_digest}" "${manifest_size}" "${name}" "${name##*:}" >"${work}/index.json"
printf '{"imageLayoutVersion":"1.0.0"}' >"${work}/oci-layout"

mkdir -p "$(dirname "${out}")"
tar --create --file "${out}.tmp" --directory "${work}" --sort=name --mtime=@0 --owner=0 --group=0 \
  --numeric-owner oci-layout index.json blobs
mv -f "${out}.tmp" "${out}"
echo "sha256:${manifest_digest}"
