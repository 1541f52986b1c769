#!/usr/bin/env bash
# Creates a local certificate authority and the certificates strongroomd and
# its clients need for mutual TLS (EC P-256, SHA-256).
#
#   deploy/local-ca.sh --dir DIR [--server-name NAME]... [--client NAME]... [--days N]
#
# DIR/ca.crt, DIR/ca.key             the CA (key never leaves DIR, mode 0600)
# DIR/server.crt, DIR/server.key     SANs: localhost, 127.0.0.1 and each --server-name
# DIR/clients/NAME.crt, NAME.key     CN=NAME, URI SAN spiffe://strongroom/NAME
# Idempotent: existing files are kept; a missing client is added.
set -euo pipefail

dir="" days=825
server_names=() clients=()
while (($#)); do
  case "$1" in
    --dir) dir="$2"; shift 2 ;;
    --server-name) server_names+=("$2"); shift 2 ;;
    --client) clients+=("$2"); shift 2 ;;
    --days) days="$2"; shift 2 ;;
    *) echo "local-ca.sh: unknown argument '$1'" >&2; exit 2 ;;
  esac
done
[[ -n "$dir" ]] || { echo "local-ca.sh: --dir is required" >&2; exit 2; }
for c in "${clients[@]}"; do
  [[ "$c" =~ ^[A-Za-z0-9._-]+$ ]] || { echo "local-ca.sh: client name '$c' must match [A-Za-z0-9._-]+" >&2; exit 2; }
done

umask 077
mkdir -p "$dir/clients"
cd "$dir"

if [[ ! -s ca.key || ! -s ca.crt ]]; then
  openssl ecparam -name prime256v1 -genkey -noout -out ca.key
  openssl req -x509 -new -key ca.key -sha256 -days "$days" -subj "/CN=Strongroom local CA" \
    -addext "basicConstraints=critical,CA:TRUE" \
    -addext "keyUsage=critical,keyCertSign,cRLSign" -out ca.crt 2>/dev/null
fi

issue() {  # issue NAME_PREFIX SUBJECT EXTFILE
  local out="$1" subject="$2" ext="$3"
  openssl ecparam -name prime256v1 -genkey -noout -out "$out.key"
  openssl req -new -key "$out.key" -subj "$subject" -out "$out.csr" 2>/dev/null
  openssl x509 -req -in "$out.csr" -CA ca.crt -CAkey ca.key -CAcreateserial -sha256 \
    -days "$days" -extfile "$ext" -out "$out.crt" 2>/dev/null
  rm -f "$out.csr" "$ext"
}

if [[ ! -s server.key || ! -s server.crt ]]; then
  san="DNS:localhost,IP:127.0.0.1"
  for n in "${server_names[@]}"; do san="$san,DNS:$n"; done
  printf 'subjectAltName=%s\nextendedKeyUsage=serverAuth\nkeyUsage=critical,digitalSignature\n' \
    "$san" > server.ext
  issue server "/CN=strongroomd" server.ext
fi

for c in "${clients[@]}"; do
  [[ -s "clients/$c.key" && -s "clients/$c.crt" ]] && continue
  printf 'subjectAltName=URI:spiffe://strongroom/%s\nextendedKeyUsage=clientAuth\nkeyUsage=critical,digitalSignature\n' \
    "$c" > "clients/$c.ext"
  issue "clients/$c" "/CN=$c" "clients/$c.ext"
done
chmod 600 ./*.key clients/*.key 2>/dev/null || true
chmod 644 ./*.crt clients/*.crt 2>/dev/null || true
