#!/usr/bin/env bash
# Makes the internal mTLS certificates deploy/k8s expects: a CA, and for each process identity a key and a
# certificate whose common name is that identity (common/callers.py) and whose names are its Service's
# in-cluster names. Prints the `kubectl create secret` line for each `layers-grpc-tls-<identity>` Secret.
#
#     deploy/k8s/grpc-certs.sh OUT_DIR [NAMESPACE]     # NAMESPACE defaults to layers
#
# Keep OUT_DIR/ca.key offline: whoever holds it can mint any identity. Certificates last DAYS (default 365).
set -euo pipefail
umask 077
trap 'echo "grpc-certs: failed at line $LINENO" >&2' ERR

quiet() {  # run a command; show what it printed only when it fails
  local said
  if ! said=$("$@" 2>&1); then
    echo "$said" >&2
    return 1
  fi
}

if [[ $# -lt 1 || $1 == -h || $1 == --help ]]; then
  sed -n '2,8p' "$0" | sed 's/^# \{0,1\}//'
  exit $(( $# < 1 ? 2 : 0 ))
fi
out=$1
namespace=${2:-layers}
days=${DAYS:-365}
identities=(gateway renderer admin content media billing webhooks)

if [[ -e $out/ca.key ]]; then
  echo "grpc-certs: $out/ca.key exists; refusing to overwrite a CA (choose another folder)" >&2
  exit 1
fi
mkdir -p "$out"
quiet openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days "$days" \
  -subj "/CN=layers internal CA" -keyout "$out/ca.key" -out "$out/ca.crt"

for name in "${identities[@]}"; do
  dir=$out/$name
  mkdir -p "$dir"
  cp "$out/ca.crt" "$dir/ca.crt"
  names="DNS:$name,DNS:$name.$namespace,DNS:$name.$namespace.svc,DNS:$name.$namespace.svc.cluster.local,DNS:localhost"
  quiet openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=$name" \
    -keyout "$dir/tls.key" -out "$dir/tls.csr"
  quiet openssl x509 -req -in "$dir/tls.csr" -CA "$out/ca.crt" -CAkey "$out/ca.key" -CAcreateserial -days "$days" \
    -extfile <(printf 'subjectAltName=%s\nextendedKeyUsage=serverAuth,clientAuth\nbasicConstraints=CA:FALSE\n' "$names") \
    -out "$dir/tls.crt"
  rm "$dir/tls.csr"
  printf 'kubectl -n %q create secret generic layers-grpc-tls-%s --from-file=tls.crt=%q --from-file=tls.key=%q --from-file=ca.crt=%q\n' \
    "$namespace" "$name" "$dir/tls.crt" "$dir/tls.key" "$dir/ca.crt"
done
