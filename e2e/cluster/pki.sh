#!/usr/bin/env bash
# Generates the local cluster's certificates and kubeconfigs with openssl into
# ${PALISADE_CLUSTER_DIR}/pki and ${PALISADE_CLUSTER_DIR}/*.kubeconfig. Idempotent: existing
# material is kept while every certificate stays valid for at least a week more; otherwise the
# whole set is regenerated (certificates are valid for a year).
#
#   ca                         cluster CA: signs every certificate below, and (in the controller
#                              manager) CSRs approved in the cluster
#   apiserver                  API server serving certificate (127.0.0.1, localhost, kubernetes.*)
#   etcd-server                etcd serving certificate (127.0.0.1, localhost)
#   apiserver-etcd-client      API server -> etcd client certificate
#   apiserver-kubelet-client   API server -> kubelet client certificate (group system:masters)
#   front-proxy-ca, front-proxy-client   aggregation layer (request-header authentication)
#   sa.key / sa.pub            service-account token signing key pair
#   admin                      CN=palisade-admin, O=system:masters       -> admin.kubeconfig
#   controller-manager         CN=system:kube-controller-manager         -> controller-manager.kubeconfig
#   scheduler                  CN=system:kube-scheduler                  -> scheduler.kubeconfig
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

PKI="${PALISADE_CLUSTER_DIR}/pki"
DAYS=365
# The first address of --service-cluster-ip-range: the `kubernetes` Service's ClusterIP.
KUBERNETES_SERVICE_IP="${KUBERNETES_SERVICE_IP:-10.96.0.1}"

# new_ca <name> <common name>
new_ca() {
  openssl ecparam -name prime256v1 -genkey -noout -out "${PKI}/$1.key" 2>/dev/null
  openssl req -x509 -new -key "${PKI}/$1.key" -sha256 -days "${DAYS}" -subj "/CN=$2" \
    -addext "basicConstraints=critical,CA:TRUE" \
    -addext "keyUsage=critical,keyCertSign,cRLSign,digitalSignature" \
    -out "${PKI}/$1.crt" 2>/dev/null
}

# new_cert <name> <ca> <subject> <serverAuth|clientAuth|serverAuth,clientAuth> [subjectAltName]
new_cert() {
  local name="$1" ca="$2" subject="$3" usage="$4" san="${5:-}" ext="${PKI}/$1.ext"
  openssl ecparam -name prime256v1 -genkey -noout -out "${PKI}/${name}.key" 2>/dev/null
  openssl req -new -key "${PKI}/${name}.key" -subj "${subject}" -out "${PKI}/${name}.csr" 2>/dev/null
  {
    echo "basicConstraints=critical,CA:FALSE"
    echo "keyUsage=critical,digitalSignature,keyEncipherment"
    echo "extendedKeyUsage=${usage}"
    [[ -z "${san}" ]] || echo "subjectAltName=${san}"
  } >"${ext}"
  openssl x509 -req -in "${PKI}/${name}.csr" -CA "${PKI}/${ca}.crt" -CAkey "${PKI}/${ca}.key" \
    -CAcreateserial -sha256 -days "${DAYS}" -extfile "${ext}" -out "${PKI}/${name}.crt" 2>/dev/null
  rm -f "${PKI}/${name}.csr" "${ext}"
}

# kubeconfig <file> <user> <client cert name>: certificates embedded, so the file stands alone.
kubeconfig() {
  local b64=(base64 -w0)
  cat >"${PALISADE_CLUSTER_DIR}/$1" <<KUBECONFIG
apiVersion: v1
kind: Config
clusters:
  - name: palisade-local
    cluster:
      server: https://127.0.0.1:${APISERVER_PORT}
      certificate-authority-data: $("${b64[@]}" "${PKI}/ca.crt")
users:
  - name: $2
    user:
      client-certificate-data: $("${b64[@]}" "${PKI}/$3.crt")
      client-key-data: $("${b64[@]}" "${PKI}/$3.key")
contexts:
  - name: palisade-local
    context:
      cluster: palisade-local
      user: $2
current-context: palisade-local
KUBECONFIG
  chmod 600 "${PALISADE_CLUSTER_DIR}/$1"
}

pki_valid() {
  local cert
  for cert in ca apiserver etcd-server apiserver-etcd-client apiserver-kubelet-client \
    front-proxy-ca front-proxy-client admin controller-manager scheduler; do
    [[ -f "${PKI}/${cert}.crt" ]] || return 1
    openssl x509 -checkend $((7 * 86400)) -noout -in "${PKI}/${cert}.crt" >/dev/null || return 1
  done
  [[ -f "${PKI}/sa.key" && -f "${PKI}/sa.pub" ]] || return 1
  for cert in admin controller-manager scheduler; do
    [[ -f "${PALISADE_CLUSTER_DIR}/${cert}.kubeconfig" ]] || return 1
  done
  # A kubeconfig written for another API server port is stale.
  grep -q "https://127.0.0.1:${APISERVER_PORT}\$" "${PALISADE_CLUSTER_DIR}/admin.kubeconfig"
}

main() {
  if pki_valid; then
    log "certificates: present and valid (${PKI})"
    return 0
  fi
  log "certificates: generating in ${PKI}"
  rm -rf "${PKI}"
  mkdir -p "${PKI}"
  chmod 700 "${PKI}"
  new_ca ca palisade-local-ca
  new_ca front-proxy-ca palisade-local-front-proxy-ca
  new_cert apiserver ca /CN=kube-apiserver serverAuth \
    "IP:127.0.0.1,IP:${KUBERNETES_SERVICE_IP},DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local"
  new_cert etcd-server ca /CN=etcd serverAuth,clientAuth "IP:127.0.0.1,DNS:localhost"
  new_cert apiserver-etcd-client ca /CN=kube-apiserver-etcd-client clientAuth
  new_cert apiserver-kubelet-client ca "/O=system:masters/CN=kube-apiserver-kubelet-client" clientAuth
  new_cert front-proxy-client front-proxy-ca /CN=front-proxy-client clientAuth
  new_cert admin ca "/O=system:masters/CN=palisade-admin" clientAuth
  new_cert controller-manager ca /CN=system:kube-controller-manager clientAuth
  new_cert scheduler ca /CN=system:kube-scheduler clientAuth
  openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "${PKI}/sa.key" 2>/dev/null
  openssl pkey -in "${PKI}/sa.key" -pubout -out "${PKI}/sa.pub" 2>/dev/null
  chmod 600 "${PKI}"/*.key
  kubeconfig admin.kubeconfig palisade-admin admin
  kubeconfig controller-manager.kubeconfig system:kube-controller-manager controller-manager
  kubeconfig scheduler.kubeconfig system:kube-scheduler scheduler
}

# Sourced by node-up.sh for new_cert and kubeconfig; run, it generates the control plane's set.
if [[ "${BASH_SOURCE[0]}" == "$0" ]]; then main "$@"; fi
