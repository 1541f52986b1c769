#!/usr/bin/env bash
# End to end, key management through the strongroom CLI against a real
# strongroomd on 127.0.0.1 (port 0) with SoftHSM: an admin creates a key for
# owner1, owner1 encrypts and decrypts, the auditor is refused, versions
# rotate, dual control needs a second admin, and exit codes hold (0 ok,
# 1 refused by the server, 2 local usage errors).
#   key_cli_test.sh BUILD_BIN_DIR SOURCE_DIR
set -euo pipefail
bin=$1 src=$2
# shellcheck source=tests/e2e/lib.sh
source "$src/tests/e2e/lib.sh"
# json_get FILE EXPR: evaluates EXPR on the parsed document `d`.

p=spiffe://strongroom
e2e_provision admin:admin admin2:admin owner1:owner owner2:owner auditor:auditor
e2e_start

for who in admin admin2 owner1 owner2 auditor; do e2e_client_config "$who"; done

# --- keys: admin creates one for owner1; switches do not eat the next word.
as admin key create --pre-active k1 --owner "$p/owner1" --label team=ml --label env=e2e \
  --description "e2e key" --rotation-period 30d --destroy-wait 1d > "$tmp/create.txt" \
  || { cat "$tmp/err" >&2; fail "key create"; }
grep -q "owner *$p/owner1" "$tmp/create.txt" || fail "key create output lacks the owner"
grep -q "rotation *30d" "$tmp/create.txt" || fail "key create output lacks the rotation period"
as admin key describe k1 --json > "$tmp/describe.json" || fail "key describe --json"
json_ok < "$tmp/describe.json" || fail "key describe --json is not JSON"
[[ $(json_get "$tmp/describe.json" 'd["key"]["labels"]["team"]') == ml ]] || fail "labels not kept"
[[ $(json_get "$tmp/describe.json" 'd["versions"][0]["state"]') == PRE_ACTIVE ]] \
  || fail "--pre-active: first version is not PRE_ACTIVE"
as admin key enable k1 1 --reason "e2e go-live" > /dev/null || fail "key enable"
as admin key describe k1 > "$tmp/describe.txt" || fail "key describe"
grep -Eq '^1 +ENABLED' "$tmp/describe.txt" || fail "key describe table lacks version 1 ENABLED"
as admin key version k1 1 > "$tmp/version.txt" || fail "key version"
grep -q "e2e go-live" "$tmp/version.txt" || fail "key version history lacks the reason"
expect_rc 1 "owner1 creating a key for owner2" owner1 key create k9 --owner "$p/owner2"
expect_rc 1 "creating k1 twice" admin key create k1 --owner "$p/owner1"
expect_rc 1 "an owner who is not a configured principal" admin key create k8 --owner "$p/onwer1"
grep -q "owner: '$p/onwer1' is not a principal" "$tmp/err" || fail "unknown owner not named"

as admin key list --json > "$tmp/list.json" || fail "key list --json"
json_ok < "$tmp/list.json" || fail "key list --json is not JSON"
[[ $(json_get "$tmp/list.json" 'len(d["keys"])') -eq 1 ]] || fail "key list: want 1 key"
as admin key create k2 --owner "$p/owner2" >/dev/null || fail "key create k2"
as admin key list --page-size 1 --all --json > "$tmp/list.json" || fail "key list --all"
[[ $(json_get "$tmp/list.json" 'len(d["keys"])') -eq 2 ]] || fail "key list --all: want 2 keys"
as owner1 key list > "$tmp/list.txt" || fail "owner1 key list"
grep -q "keys/k1" "$tmp/list.txt" || fail "owner1 does not see k1"
if grep -q "keys/k2" "$tmp/list.txt"; then fail "owner1 sees owner2's key"; fi

# --- envelope encryption: byte-exact round trip, raw and base64.
head -c 5000 /dev/urandom > "$tmp/plain.bin"
as owner1 encrypt k1 --in "$tmp/plain.bin" --out "$tmp/ct1.bin" --context purpose=e2e \
  || { cat "$tmp/err" >&2; fail "owner1 encrypt"; }
[[ $(head -c 4 "$tmp/ct1.bin") == SRC1 ]] || fail "raw ciphertext lacks the SRC1 magic"
as owner1 decrypt --in "$tmp/ct1.bin" --out "$tmp/plain.out" --context purpose=e2e \
  || { cat "$tmp/err" >&2; fail "owner1 decrypt"; }
cmp -s "$tmp/plain.bin" "$tmp/plain.out" || fail "decrypt is not byte-exact"
[[ ! -s "$tmp/err" ]] || fail "decrypt wrote to stderr"
cp "$tmp/ct1.bin" "$tmp/ct1.copy"
expect_rc 2 "decrypt --out over its --in" owner1 decrypt --in "$tmp/ct1.copy" --out "$tmp/ct1.copy" \
  --context purpose=e2e
cmp -s "$tmp/ct1.bin" "$tmp/ct1.copy" || fail "decrypt over its input changed the input"
# An output that cannot be written is refused before the call (the server
# would decrypt, or make a data key, and audit it for nothing).
expect_rc 2 "decrypt --out into a missing folder" owner1 decrypt --in "$tmp/ct1.bin" \
  --out "$tmp/no/such/plain" --context purpose=e2e
grep -q -- "--out: cannot write '$tmp/no/such/plain': the folder '$tmp/no/such' does not exist" \
  "$tmp/err" || { cat "$tmp/err" >&2; fail "decrypt --out: folder not named"; }
expect_rc 2 "decrypt --out a folder" owner1 decrypt --in "$tmp/ct1.bin" --out "$tmp" \
  --context purpose=e2e
grep -q -- "is a folder; give a file" "$tmp/err" || fail "decrypt --out a folder: no message"
# A device is written in place, whatever its folder allows.
as owner1 decrypt --in "$tmp/ct1.bin" --out /dev/null --context purpose=e2e \
  || { cat "$tmp/err" >&2; fail "decrypt --out /dev/null"; }
expect_rc 2 "datakey --out-wrapped into a missing folder" owner1 datakey k1 \
  --out-wrapped "$tmp/no/such/wrapped"
expect_rc 2 "audit export --out into a missing folder" auditor audit export \
  --out "$tmp/no/such/audit.jsonl"
[[ $(stat -c %a "$tmp/plain.out") == 600 ]] || fail "plaintext --out file is not mode 0600"
as owner1 encrypt k1 --context purpose=e2e < "$tmp/plain.bin" > "$tmp/ct1.b64" || fail "encrypt to stdout"
# Output that cannot be written (a full disk) is a failure, not exit 0.
rc=0; as owner1 encrypt k1 --in "$tmp/plain.bin" > /dev/full || rc=$?
[[ $rc -ne 0 ]] || fail "encrypt to a full stdout exited 0"
grep -q "writing to stdout failed" "$tmp/err" || fail "encrypt to a full stdout: no message"
base64 -d "$tmp/ct1.b64" > /dev/null || fail "encrypt stdout is not base64"
as owner1 decrypt k1 --in "$tmp/ct1.b64" --context purpose=e2e > "$tmp/plain.out2" \
  || { cat "$tmp/err" >&2; fail "decrypt of base64 input"; }
cmp -s "$tmp/plain.bin" "$tmp/plain.out2" || fail "base64 decrypt is not byte-exact"
as owner1 encrypt k1 --in "$tmp/plain.bin" --json > "$tmp/enc.json" || fail "encrypt --json"
[[ $(json_get "$tmp/enc.json" 'd["key_version"]') == keys/k1/versions/1 ]] || fail "encrypt --json key_version"
json_get "$tmp/enc.json" 'd["ciphertext"]' | base64 -d > "$tmp/ct0.bin" || fail "encrypt --json ciphertext"
as owner1 decrypt --in "$tmp/ct0.bin" --out "$tmp/plain.out3" || fail "decrypt of --json ciphertext"
cmp -s "$tmp/plain.bin" "$tmp/plain.out3" || fail "--json ciphertext round trip"

# --- refusals exit 1 with the server's reason; nothing is printed.
expect_rc 1 "wrong --context" owner1 decrypt --in "$tmp/ct1.bin" --context purpose=other
[[ ! -s "$tmp/out" ]] || fail "a failed decrypt printed something"
grep -q "^strongroom: " "$tmp/err" || fail "error lacks the strongroom: prefix"
expect_rc 1 "auditor encrypt" auditor encrypt k1 --in "$tmp/plain.bin"
grep -qi denied "$tmp/err" || fail "auditor refusal does not say denied: $(cat "$tmp/err")"
expect_rc 1 "owner2 decrypting owner1's data" owner2 decrypt --in "$tmp/ct1.bin" --context purpose=e2e
grep -qi denied "$tmp/err" || fail "owner2 refusal does not say denied"
expect_rc 1 "decrypt naming the wrong key" owner1 decrypt k2 --in "$tmp/ct1.bin" --context purpose=e2e
expect_rc 1 "describe of a missing key" admin key describe nosuch
expect_rc 1 "auditor rotate" auditor key rotate k1
as auditor key describe k1 --json | json_ok || fail "auditor cannot read key metadata"

# --- rotation: old ciphertext still decrypts, new uses version 2.
as admin key rotate k1 > "$tmp/rotate.txt" || fail "key rotate"
grep -q "keys/k1/versions/2 *ENABLED" "$tmp/rotate.txt" || fail "rotate output: $(cat "$tmp/rotate.txt")"
as owner1 decrypt --in "$tmp/ct1.bin" --out "$tmp/plain.out" --context purpose=e2e \
  || fail "decrypt of pre-rotation ciphertext"
cmp -s "$tmp/plain.bin" "$tmp/plain.out" || fail "pre-rotation ciphertext round trip"
as owner1 encrypt k1 --in "$tmp/plain.bin" --json > "$tmp/enc2.json" || fail "encrypt after rotate"
[[ $(json_get "$tmp/enc2.json" 'd["key_version"]') == keys/k1/versions/2 ]] || fail "encrypt did not use version 2"
as owner1 reencrypt --in "$tmp/ct1.bin" --out "$tmp/ct2.bin" --context purpose=e2e \
  || { cat "$tmp/err" >&2; fail "reencrypt"; }
as owner1 decrypt --in "$tmp/ct2.bin" --out "$tmp/plain.out" --context purpose=e2e --json > "$tmp/dec.json" \
  || fail "decrypt of reencrypted ciphertext"
cmp -s "$tmp/plain.bin" "$tmp/plain.out" || fail "reencrypt round trip"
[[ $(json_get "$tmp/dec.json" 'd["key_version"]') == keys/k1/versions/2 ]] || fail "reencrypt did not move to version 2"
[[ $(json_get "$tmp/dec.json" 'd["plaintext"]') == "" ]] || fail "decrypt --json --out echoed the plaintext"
as admin key suspend k1 1 >/dev/null || fail "key suspend"
as owner1 decrypt --in "$tmp/ct1.bin" --out "$tmp/plain.out" --context purpose=e2e || fail "SUSPENDED must still decrypt"
as admin key disable k1 1 >/dev/null || fail "key disable"
expect_rc 1 "decrypt under a DISABLED version" owner1 decrypt --in "$tmp/ct1.bin" --context purpose=e2e

# --- data keys.
as owner1 datakey k1 --json --context job=7 --out-wrapped "$tmp/dk.wrapped" > "$tmp/dk.json" \
  || { cat "$tmp/err" >&2; fail "datakey"; }
[[ $(json_get "$tmp/dk.json" 'len(base64.b64decode(d["plaintext"]))') -eq 32 ]] || fail "datakey is not 32 bytes"
as owner1 decrypt --in "$tmp/dk.wrapped" --context job=7 > "$tmp/dk.plain" || fail "unwrap data key"
[[ $(base64 -w0 "$tmp/dk.plain") == $(json_get "$tmp/dk.json" 'd["plaintext"]') ]] || fail "wrapped data key differs"
as owner1 datakey k1 --length 16 > "$tmp/dk.txt" || fail "datakey --length 16"
[[ $(awk '/^plaintext/ {print $2}' "$tmp/dk.txt" | base64 -d | wc -c) -eq 16 ]] || fail "datakey --length 16"
as owner1 datakey k1 --wrapped-only > "$tmp/dk.txt" || fail "datakey --wrapped-only"
if grep -q '^plaintext' "$tmp/dk.txt"; then fail "--wrapped-only printed a plaintext key"; fi

# --- dual control: destroy needs a second, different admin.
as admin key create --dual-control k3 --owner "$p/owner1" --json > "$tmp/k3.json" || fail "create k3"
[[ $(json_get "$tmp/k3.json" 'd["dual_control"]') == True ]] || fail "--dual-control not set"
as admin key rotate k3 >/dev/null || fail "rotate k3"
as admin key destroy k3 1 --json > "$tmp/destroy.json" || fail "key destroy (proposal)"
change=$(json_get "$tmp/destroy.json" 'd["pending"]["id"]')
[[ -n "$change" ]] || fail "destroy on a dual-control key did not wait for approval"
as admin key changes --pending > "$tmp/changes.txt" || fail "key changes --pending"
grep -q "$change" "$tmp/changes.txt" || fail "pending change not listed"
expect_rc 1 "proposer approving own change" admin key approve "$change"
as admin2 key approve "$change" > /dev/null || { cat "$tmp/err" >&2; fail "second admin approve"; }
# The approval's audit record names the version and what was approved.
as auditor audit export --out "$tmp/audit.jsonl" || { cat "$tmp/err" >&2; fail "audit export"; }
# --from takes a 64-bit sequence number to the server (which refuses one
# past its head, naming it), not a usage error past 2^32.
expect_rc 1 "audit export --from past 2^32" auditor audit export --from 5000000000
grep -q "from_sequence 5000000000" "$tmp/err" || fail "audit export --from: value not passed whole"
expect_rc 2 "audit export --from -1" auditor audit export --from -1
python3 - "$tmp/audit.jsonl" "$change" "$p" <<'PY' || fail "approve_change audit record"
import json, sys
path, change, p = sys.argv[1:]
recs = [json.loads(l) for l in open(path) if l.strip()]
hits = [r for r in recs if r.get("type") == "record" and r["action"] == "approve_change"]
# Each attempt's request is recorded before it is carried out, then its
# outcome: the proposer's own approval refused, the second admin's applied.
shape = [(r["principal"], r["decision"], r["reason_id"], r["resource"]) for r in hits]
assert shape == [(f"{p}/admin", "info", "admin.requested", f"changes/{change}"),
                 (f"{p}/admin", "deny", "admin.refused.permission_denied", f"changes/{change}"),
                 (f"{p}/admin2", "info", "admin.requested", f"changes/{change}"),
                 (f"{p}/admin2", "info", "", "keys/k3/versions/1")], shape
r = hits[3]
assert r["resource"] == "keys/k3/versions/1", r
want = f"approved {change} (destroy keys/k3/versions/1) proposed by {p}/admin"
assert r["reason_detail"].startswith(want), r
assert "state DESTROY_SCHEDULED" in r["reason_detail"], r
PY
as admin key version k3 1 --json > "$tmp/v.json" || fail "key version k3 1"
[[ $(json_get "$tmp/v.json" 'd["state"]') == DESTROY_SCHEDULED ]] || fail "approved destroy not scheduled"
# Cancelling that destruction takes two admins as well.
as admin key restore k3 1 --json > "$tmp/restore.json" || fail "key restore (proposal)"
rchange=$(json_get "$tmp/restore.json" 'd["pending"]["id"]')
[[ -n "$rchange" ]] || fail "restore on a dual-control key did not wait for approval"
as admin key version k3 1 --json > "$tmp/v.json" || fail "key version k3 1"
[[ $(json_get "$tmp/v.json" 'd["state"]') == DESTROY_SCHEDULED ]] || fail "one admin restored alone"
as admin2 key approve "$rchange" > "$tmp/restore.txt" || { cat "$tmp/err" >&2; fail "approve restore"; }
grep -q DISABLED "$tmp/restore.txt" || fail "restored version is not DISABLED"
as admin key update k1 --description "changed" --rotation-period 12h --json > "$tmp/update.json" \
  || { cat "$tmp/err" >&2; fail "key update"; }
[[ $(json_get "$tmp/update.json" 'd["key"]["rotation_period_seconds"]') == 43200 ]] || fail "update not applied"

# --- root keys.
as admin root status --json | json_ok || fail "root status"
as admin root rotate > /dev/null || { cat "$tmp/err" >&2; fail "root rotate"; }
expect_rc 1 "owner root rotate" owner1 root rotate
as owner1 decrypt --in "$tmp/ct2.bin" --out "$tmp/plain.out" --context purpose=e2e || fail "decrypt after root rotate"
cmp -s "$tmp/plain.bin" "$tmp/plain.out" || fail "round trip after root rotate"

# --- local usage errors exit 2 before any RPC.
expect_rc 2 "unknown command" admin frobnicate
expect_rc 2 "unknown key subcommand" admin key frobnicate k1
expect_rc 2 "bad duration" admin key create k4 --rotation-period soon
grep -q -- "--rotation-period" "$tmp/err" || fail "bad duration error does not name the flag"
expect_rc 2 "unknown flag" admin key rotate k1 --colour blue
expect_rc 2 "missing argument" admin key enable k1
expect_rc 2 "bad version number" admin key enable k1 two
expect_rc 2 "bad --length" owner1 datakey k1 --length 24
expect_rc 2 "bad --context" owner1 encrypt k1 --in "$tmp/plain.bin" --context novalue
expect_rc 2 "unreadable --in" owner1 encrypt k1 --in "$tmp/does-not-exist"
expect_rc 2 "update without changes" admin key update k1
expect_rc 2 "a single-valued flag twice" owner1 decrypt --in "$tmp/ct0.bin" --out "$tmp/a" --out "$tmp/b"
grep -q -- "--out given more than once" "$tmp/err" || fail "a repeated --out is not named"
[[ ! -e "$tmp/a" && ! -e "$tmp/b" ]] || fail "a refused decrypt wrote an output"
expect_rc 2 "a global flag twice" owner1 --server 127.0.0.1:1 --server 127.0.0.1:2 key list
expect_rc 0 "help" admin help
grep -q "key create" "$tmp/out" || fail "help does not list key create"

# Plaintext never reaches the server's log.
if grep -qF "$(head -c 32 "$tmp/plain.bin" | base64 -w0)" "$tmp/server.log"; then
  fail "plaintext found in the server log"
fi
kill -TERM "$pid"
wait "$pid" || fail "strongroomd exited non-zero after SIGTERM"
pid=""
