#!/usr/bin/env bash
# End to end through the real binaries: provision a token and a CA, start
# strongroomd on 127.0.0.1 (port 0), drive it with the strongroom CLI, check
# hardening and error handling, stop it with SIGTERM.
#   daemon_cli_test.sh BUILD_BIN_DIR SOURCE_DIR
set -euo pipefail
bin=$1 src=$2
tmp=$(mktemp -d)
pid=""
cleanup() { [[ -n "$pid" ]] && kill "$pid" 2>/dev/null; rm -rf "$tmp"; }
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; [[ -f "$tmp/server.log" ]] && tail -5 "$tmp/server.log" >&2; exit 1; }

"$src/hsm-sim/provision-token.sh" --dir "$tmp/hsm" --label e2e >/dev/null
"$src/deploy/local-ca.sh" --dir "$tmp/pki" --client admin
cat > "$tmp/strongroomd.yaml" <<YAML
server:
  listen: 127.0.0.1:0
  tls: {cert: pki/server.crt, key: pki/server.key, client_ca: pki/ca.crt}
hsm: {module: /usr/lib/softhsm/libsofthsm2.so, token_label: e2e, pin_file: hsm/user.pin, softhsm_conf: hsm/softhsm2.conf}
storage: {path: db}
principals: [{name: "spiffe://strongroom/admin", role: admin}]
YAML

# A config with a typo is refused with the field named.
sed 's/token_label/token_lable/' "$tmp/strongroomd.yaml" > "$tmp/bad.yaml"
if "$bin/strongroomd" --config "$tmp/bad.yaml" 2>"$tmp/bad.log"; then fail "bad config accepted"; fi
grep -q "hsm.token_lable': unknown field" "$tmp/bad.log" || fail "bad config error does not name the field"

"$bin/strongroomd" --config "$tmp/strongroomd.yaml" --port-file "$tmp/port" >"$tmp/server.log" 2>&1 &
pid=$!
for _ in $(seq 100); do [[ -s "$tmp/port" ]] && break; sleep 0.1; done
[[ -s "$tmp/port" ]] || fail "strongroomd did not start"
port=$(cat "$tmp/port")

grep -Eq '^Max core file size +0 +0 ' "/proc/$pid/limits" || fail "core dumps are not disabled"

cat > "$tmp/client.yaml" <<YAML
server: 127.0.0.1:$port
ca: pki/ca.crt
cert: pki/clients/admin.crt
key: pki/clients/admin.key
YAML
export STRONGROOM_CLIENT_CONFIG="$tmp/client.yaml"
"$bin/strongroom" status --json > "$tmp/status.json" || fail "status failed"
grep -q '"principal": "spiffe://strongroom/admin"' "$tmp/status.json" || fail "status lacks the principal"
grep -q '"token_label": "e2e"' "$tmp/status.json" || fail "status lacks the token"
"$bin/strongroom" hsm check > "$tmp/check.txt" || fail "hsm check failed"
grep -q "HSM check passed" "$tmp/check.txt" || fail "hsm check output"
[[ $(grep -c ' ok ' "$tmp/check.txt") -eq 6 ]] || fail "hsm check did not report 6 passing steps"

# Usage errors exit 2; a refused connection exits 1.
set +e
"$bin/strongroom" frobnicate 2>/dev/null; [[ $? -eq 2 ]] || fail "unknown command should exit 2"
STRONGROOM_CLIENT_CONFIG= "$bin/strongroom" status 2>"$tmp/err"; rc=$?
[[ $rc -eq 2 ]] && grep -q -- "--server" "$tmp/err" || fail "missing --server should exit 2 naming the flag"
"$bin/strongroom" --cert "$tmp/pki/server.crt" --key "$tmp/pki/server.key" status 2>/dev/null; rc=$?
[[ $rc -eq 1 ]] || fail "a server certificate used as client certificate should be refused (exit 1), got $rc"
set -e

# The PIN never appears in the server's log.
pin=$(cat "$tmp/hsm/user.pin")
if grep -qF "$pin" "$tmp/server.log"; then fail "PIN found in the server log"; fi

kill -TERM "$pid"
for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
if kill -0 "$pid" 2>/dev/null; then fail "strongroomd ignored SIGTERM"; fi
wait "$pid" || fail "strongroomd exited non-zero after SIGTERM"
pid=""
grep -q '"event":"server.stopped"' "$tmp/server.log" || fail "no clean stop logged"
echo "1 passed, 0 failed"
