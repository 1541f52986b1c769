#!/usr/bin/env bash
# End to end through the real binaries: provision a token and a CA, start
# strongroomd on 127.0.0.1 (port 0), drive it with the strongroom CLI, check
# hardening and error handling, stop it with SIGTERM.
#   daemon_cli_test.sh BUILD_BIN_DIR SOURCE_DIR
set -euo pipefail
bin=$1 src=$2
# shellcheck source=tests/e2e/lib.sh
source "$src/tests/e2e/lib.sh"
e2e_provision admin:admin worker:workload

# A config with a typo is refused with the field named.
sed 's/token_label/token_lable/' "$tmp/strongroomd.yaml" > "$tmp/bad.yaml"
if "$bin/strongroomd" --config "$tmp/bad.yaml" 2>"$tmp/bad.log"; then fail "bad config accepted"; fi
grep -q "hsm.token_lable': unknown field" "$tmp/bad.log" || fail "bad config error does not name the field"
# Its own flags: none missing, empty or given twice.
for args in "" "--config" "--config ''" "--config a.yaml --config b.yaml" \
            "--config $tmp/strongroomd.yaml --port-file ''"; do
  rc=0
  eval "\"\$bin/strongroomd\" $args" >/dev/null 2>"$tmp/flags.log" || rc=$?
  [[ $rc == 2 ]] || fail "strongroomd $args: exit $rc, not 2"
done
rc=0; "$bin/strongroomd" --config a.yaml --config b.yaml 2>"$tmp/flags.log" || rc=$?
grep -q -- "--config is given twice" "$tmp/flags.log" || fail "a repeated --config is not named"
rc=0; "$bin/strongroomd" --port-file "" --config a.yaml 2>"$tmp/flags.log" || rc=$?
grep -q -- "--port-file needs a value" "$tmp/flags.log" || fail "an empty --port-file is not named"
rc=0; "$bin/strongroomd" 2>"$tmp/flags.log" || rc=$?
grep -q -- "--config is required" "$tmp/flags.log" || fail "a missing --config is not named"

e2e_start

grep -Eq '^Max core file size +0 +0 ' "/proc/$pid/limits" || fail "core dumps are not disabled"

e2e_client_config admin
export STRONGROOM_CLIENT_CONFIG="$tmp/admin.yaml"
"$bin/strongroom" status --json > "$tmp/status.json" || fail "status failed"
grep -q '"principal": "spiffe://strongroom/admin"' "$tmp/status.json" || fail "status lacks the principal"
grep -q '"token_label": "e2e"' "$tmp/status.json" || fail "status lacks the token"
"$bin/strongroom" hsm check > "$tmp/check.txt" || fail "hsm check failed"
grep -q "HSM check passed" "$tmp/check.txt" || fail "hsm check output"
[[ $(grep -c ' ok ' "$tmp/check.txt") -eq 6 ]] || fail "hsm check did not report 6 passing steps"
rc=0; "$bin/strongroom" hsm check --payload-bytes 70000 2> "$tmp/err" || rc=$?
[[ $rc -eq 2 ]] && grep -q -- "--payload-bytes: 70000 is outside" "$tmp/err" || fail "hsm check --payload-bytes 70000: exit $rc"
# A workload sees who it is, not the HSM or the database, and may not run the HSM check.
e2e_client_config worker
expect_rc 0 "status as a workload" worker status
grep -q "role: workload" "$tmp/out" && grep -q "hsm        (not shown to this role)" "$tmp/out" ||
  fail "a workload's status: $(cat "$tmp/out")"
grep -q "storage" "$tmp/out" && fail "a workload's status shows the storage"
expect_rc 1 "hsm check as a workload" worker hsm check
grep -q "(role workload) is not an admin or auditor" "$tmp/err" || fail "hsm check as a workload: $(cat "$tmp/err")"

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
