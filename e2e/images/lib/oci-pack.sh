#!/usr/bin/env bash
# Packs root filesystem folders into an OCI image archive (OCI image layout in a tar, what
# `ctr images import` reads), by hand: tar + sha256sum + JSON. One layer per folder, in order, so
# images that start with the same folder (the Node runtime) share that layer in containerd.
# Reproducible: sorted entries, mtime 0, owner root, so the same inputs give the same digests.
#
# Usage: oci-pack.sh <rootfs dir>[:<rootfs dir>...] <image name> <output.tar> <entrypoint JSON array>
#                    [env JSON array] [workdir] [user]
#   e.g. oci-pack.sh ./rootfs palisade.local/pause:1 pause.tar '["/pause"]'
#   user: "uid:gid" the process runs as (empty: root).
set -euo pipefail

rootfs="$1" name="$2" out="$3" entrypoint="$4" env="${5:-[\"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin\"]}" workdir="${6:-/}" user="${7:-}"
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

diff_ids=() layers=()
IFS=: read -r -a dirs <<<"${rootfs}"
for dir in "${dirs[@]}"; do
  tar --create --file "${work}/layer" --directory "${dir}" --sort=name --mtime=@0 \
    --owner=0 --group=0 --numeric-owner --format=posix --pax-option=exthdr.name=%d/PaxHeaders/%f,delete=atime,delete=ctime .
  read -r layer_digest layer_size <<<"$(put "${work}/layer")"
  diff_ids+=("\"sha256:${layer_digest}\"")
  layers+=("{\"mediaType\":\"application/vnd.oci.image.layer.v1.tar\",\"digest\":\"sha256:${layer_digest}\",\"size\":${layer_size}}")
done
join() { local IFS=,; echo "$*"; }

printf '{"architecture":"%s","os":"linux","config":{"User":"%s","Entrypoint":%s,"Env":%s,"WorkingDir":"%s"},"rootfs":{"type":"layers","diff_ids":[%s]}}' \
  "${arch}" "${user}" "${entrypoint}" "${env}" "${workdir}" "$(join "${diff_ids[@]}")" >"${work}/config"
read -r config_digest config_size <<<"$(put "${work}/config")"

printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:%s","size":%s},"layers":[%s]}' \
  "${config_digest}" "${config_size}" "$(join "${layers[@]}")" >"${work}/manifest"
read -r manifest_digest manifest_size <<<"$(put "${work}/manifest")"

printf '{"schemaVersion":2,"manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:%s","size":%s,"annotations":{"io.containerd.image.name":"%s","org.opencontainers.image.ref.name":"%s"}}]}' \
  "${manifest_digest}" "${manifest_size}" "${name}" "${name##*:}" >"${work}/index.json"
printf '{"imageLayoutVersion":"1.0.0"}' >"${work}/oci-layout"

mkdir -p "$(dirname "${out}")"
tar --create --file "${out}.tmp" --directory "${work}" --sort=name --mtime=@0 --owner=0 --group=0 \
  --numeric-owner oci-layout index.json blobs
mv -f "${out}.tmp" "${out}"
echo "sha256:${manifest_digest}"
