#!/usr/bin/env bash
# The key-release flow end to end with a real vTPM: strongroomd on 127.0.0.1
# trusts the workload's TPM attestation key; a key is bound to a policy that
# requires PCR 16 to hold an approved measurement. The workload (swtpm, the
# strongroom CLI) gets the key while the PCR matches and is refused after the
# PCR is extended; a second run gets the same material; the token verifies
# under the published JWKS; the audit log records every decision, `audit
# verify` passes, and fails after one byte of the export is edited. (The
# other refusals with swtpm evidence, a replayed nonce, an expired token, a
# token presented with another key, and the sealed key opening only with the
# workload's private key, are in WorkloadTpmE2eTest and
# WorkloadTpmShortTokenE2eTest, tests/client/workload_e2e_test.cc.)
#   broker_swtpm_test.sh BUILD_BIN_DIR SOURCE_DIR
set -euo pipefail
bin=$1 src=$2
# shellcheck source=tests/e2e/lib.sh
source "$src/tests/e2e/lib.sh"
# shellcheck source=tests/e2e/swtpm_lib.sh
source "$src/tests/e2e/swtpm_lib.sh"
command -v swtpm >/dev/null || { echo "swtpm not installed (deploy/install-deps.sh)"; exit 1; }

p=spiffe://strongroom
swtpm_start
tpm_extend 16 "approved-workload-v1"
approved=$(tpm_pcr 16)
[[ ${#approved} -eq 64 ]] || fail "cannot read PCR 16"

e2e_provision admin:admin owner1:owner worker:workload auditor:auditor
# The AK the workload will quote with: the endorsement-hierarchy primary key.
swtpm_trust_ak
echo "broker: {jwks_file: published-jwks.json}" >> "$tmp/strongroomd.yaml"
echo "audit: {key_file: audit-key.pem}" >> "$tmp/strongroomd.yaml"
e2e_start
for who in admin owner1 worker auditor; do e2e_client_config "$who"; done

# --- admin: reference values and a policy; owner: a key bound to it.
expect_rc 0 "refvalues put" admin refvalues put pcr16 --value "$approved" --description "approved workload"
cat > "$tmp/policy.json" <<POL
{"version": 1, "tee": ["tpm"], "require": {"allOf": [
  {"claim": "tpm.pcrs.sha256.16", "in": {"referenceValues": "pcr16"}},
  {"claim": "tpm.clock.safe", "equals": true}]}}
POL
expect_rc 0 "policy put" admin policy put tpm-release --file "$tmp/policy.json"
expect_rc 0 "key create" admin key create model-key --owner "$p/owner1"
expect_rc 1 "workload sets a policy" worker key release-policy model-key tpm-release
expect_rc 0 "owner binds the policy" owner1 key release-policy model-key tpm-release
grep -q "policies/tpm-release v1" "$tmp/out" || fail "binding not reported"

# --- release allowed while PCR 16 matches; the token and sealed response are kept.
get_key() {
  as worker workload get-key model-key --attester tpm --tcti "$tcti" --pcrs sha256:0-7,16 "$@"
}
# An existing, world-readable file at the key's path: what is written there is
# a new 0600 file, not the old one's mode.
: > "$tmp/eph.pem"; chmod 644 "$tmp/eph.pem"
get_key --out "$tmp/key1.bin" --token-out "$tmp/token.jwt" --sealed-out "$tmp/sealed.json" \
  --ephemeral-key-out "$tmp/eph.pem" >"$tmp/out" || { cat "$tmp/err" >&2; fail "get-key refused"; }
[[ $(stat -c %s "$tmp/key1.bin") -eq 32 ]] || fail "released key is not 32 bytes"
[[ $(stat -c %a "$tmp/key1.bin") == 600 ]] || fail "key file is not 0600"
grep -q "BEGIN PRIVATE KEY" "$tmp/eph.pem" || fail "ephemeral key not written as PKCS#8"
[[ $(stat -c %a "$tmp/eph.pem") == 600 ]] || fail "ephemeral key file is not 0600"
ls "$tmp"/*.partial-* >/dev/null 2>&1 && fail "a temporary output file was left behind"
[[ $(tr -cd . < "$tmp/token.jwt" | wc -c) -eq 2 ]] || fail "token is not a JWS compact JWT"
# The saved sealed response opens offline with the saved ephemeral key (as
# another tool holding the two files would) to the same material; with
# another key name, or a binary response's byte changed, it does not.
json_ok < "$tmp/sealed.json" || fail "sealed.json is not JSON"
as worker workload open-sealed "$tmp/sealed.json" --ephemeral-key "$tmp/eph.pem" \
  --key model-key --out "$tmp/opened.bin" || { cat "$tmp/err" >&2; fail "open-sealed"; }
cmp -s "$tmp/key1.bin" "$tmp/opened.bin" || fail "the sealed response opens to other material"
expect_rc 1 "open-sealed for another key" worker workload open-sealed "$tmp/sealed.json" \
  --ephemeral-key "$tmp/eph.pem" --key other-key --out "$tmp/other.bin"
[[ ! -e "$tmp/other.bin" ]] || fail "a refused open-sealed wrote its output"
# A second workload run gets the same key version's material.
get_key --out "$tmp/key2.bin" >/dev/null || { cat "$tmp/err" >&2; fail "second get-key"; }
cmp -s "$tmp/key1.bin" "$tmp/key2.bin" || fail "two releases of one version differ"
# The JWKS verifies the token (ES256 over header.payload).
expect_rc 0 "broker jwks" worker broker jwks --out "$tmp/jwks.json"
# The same keys are published as a file at start.
python3 -c 'import json,sys; a=json.load(open(sys.argv[1])); b=json.load(open(sys.argv[2])); assert a==b, (a,b)' \
  "$tmp/jwks.json" "$tmp/published-jwks.json" || fail "published JWKS file differs from GetJwks"
python3 - "$tmp/jwks.json" "$tmp/token.jwt" <<'PY' || fail "token does not verify with the JWKS"
import base64, json, subprocess, sys, tempfile
def b64(s): return base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))
jwk = json.load(open(sys.argv[1]))["keys"][0]
h, p, s = open(sys.argv[2]).read().strip().split(".")
assert json.loads(b64(h))["alg"] == "ES256" and json.loads(b64(h))["kid"] == jwk["kid"]
payload = json.loads(b64(p))
assert payload["submods"]["tpm"]["ear.status"] == "affirming", payload
assert payload["strongroom"]["key"] == "keys/model-key"
x, y, sig = b64(jwk["x"]), b64(jwk["y"]), b64(s)
# SPKI for a P-256 point, then a DER ECDSA signature for openssl.
spki = bytes.fromhex("3059301306072a8648ce3d020106082a8648ce3d030107034200") + b"\x04" + x + y
def der_int(v):
    v = v.lstrip(b"\x00") or b"\x00"
    if v[0] & 0x80: v = b"\x00" + v
    return b"\x02" + bytes([len(v)]) + v
body = der_int(sig[:32]) + der_int(sig[32:])
der_sig = b"\x30" + bytes([len(body)]) + body
d = tempfile.mkdtemp()
open(d + "/k.der", "wb").write(spki); open(d + "/s.der", "wb").write(der_sig)
open(d + "/m", "wb").write((h + "." + p).encode())
subprocess.run(["openssl", "dgst", "-sha256", "-verify", d + "/k.der", "-keyform", "DER",
                "-signature", d + "/s.der", d + "/m"], check=True, capture_output=True)
PY

# --- after PCR 16 changes, the same workload is refused and gets nothing.
tpm_extend 16 "unapproved-code"
rc=0
get_key --out "$tmp/key3.bin" >/dev/null || rc=$?
[[ $rc -eq 1 ]] || fail "get-key after PCR change: exit $rc, want 1"
grep -q "policy_denied" "$tmp/err" || { cat "$tmp/err" >&2; fail "refusal does not name policy_denied"; }
grep -q "audit [0-9]" "$tmp/err" || fail "refusal does not give the audit sequence"
[[ ! -s "$tmp/key3.bin" ]] || fail "a refused workload received key bytes"

# --- the dev attester is off in this server.
rc=0
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$tmp/dev.pem" 2>/dev/null
as worker workload get-key model-key --attester dev --dev-key "$tmp/dev.pem" --measurement 00 \
  --out "$tmp/key4.bin" >/dev/null || rc=$?
[[ $rc -eq 1 ]] || fail "dev evidence against a server without the dev attester: exit $rc"
# The workload's one signing key, given twice, is a usage error (attest's --dev-key is a list).
rc=0
as worker workload get-key model-key --attester dev --dev-key "$tmp/dev.pem" --dev-key "$tmp/dev.pem" \
  --measurement 00 --out "$tmp/key5.bin" >/dev/null || rc=$?
[[ $rc -eq 2 ]] || fail "workload --dev-key twice: exit $rc, want 2"
# Outputs that would overwrite one another, or share stdout, and another
# attester's flags are usage errors found before anything is asked.
dev=(--attester dev --dev-key "$tmp/dev.pem" --measurement 00)
expect_rc 2 "--ephemeral-key-out over --out" worker workload get-key model-key "${dev[@]}" \
  --out "$tmp/k6.bin" --ephemeral-key-out "$tmp/./k6.bin"
grep -q -- "--ephemeral-key-out: '$tmp/./k6.bin' is already --out" "$tmp/err" \
  || { cat "$tmp/err" >&2; fail "same-file outputs not named"; }
expect_rc 2 "two outputs on stdout" worker workload get-key model-key "${dev[@]}" --out - \
  --sealed-out -
grep -q -- "--sealed-out: stdout is already --out" "$tmp/err" || fail "stdout twice not named"
expect_rc 2 "--token-out /dev/stdout beside the key on stdout" worker workload get-key model-key \
  "${dev[@]}" --out - --token-out /dev/stdout
mkdir -p "$tmp/real" && ln -sfn "$tmp/real" "$tmp/link"
expect_rc 2 "one new file through a symlinked folder" worker workload get-key model-key "${dev[@]}" \
  --out "$tmp/real/k10.bin" --ephemeral-key-out "$tmp/link/k10.bin"
echo data > "$tmp/in.bin"
expect_rc 2 "a side output over put-object's input" worker workload put-object d/o "$tmp/in.bin" \
  "${dev[@]}" --token-out "$tmp/in.bin"
grep -q "is already FILE (an input)" "$tmp/err" || fail "input overwrite not named"
[[ $(cat "$tmp/in.bin") == data ]] || fail "put-object's input was touched"
expect_rc 2 "a side output into a folder that does not exist" worker workload get-key model-key \
  "${dev[@]}" --out "$tmp/k11.bin" --token-out "$tmp/nonexistent/t"
grep -q -- "--token-out: cannot write '$tmp/nonexistent/t'" "$tmp/err" \
  || { cat "$tmp/err" >&2; fail "an unwritable side output not named"; }
[[ ! -e "$tmp/k11.bin" ]] || fail "the key was written before a side output that could not be"
cp "$tmp/dev.pem" "$tmp/dev.pem.before"
expect_rc 2 "--out over the attester's signing key" worker workload get-key model-key "${dev[@]}" \
  --out "$tmp/dev.pem"
grep -q -- "--out: '$tmp/dev.pem' is already --dev-key (an input)" "$tmp/err" \
  || { cat "$tmp/err" >&2; fail "an output over --dev-key not named"; }
expect_rc 2 "--token-out over the attester's signing key" worker workload get-object d/o \
  "$tmp/o2.bin" "${dev[@]}" --token-out "$tmp/./dev.pem"
cmp -s "$tmp/dev.pem" "$tmp/dev.pem.before" || fail "the attester's signing key was replaced"
expect_rc 2 "OUT and --token-out one file" worker workload get-object d/o "$tmp/o.bin" "${dev[@]}" \
  --token-out "$tmp/o.bin"
expect_rc 2 "--pcrs with the dev attester" worker workload get-key model-key "${dev[@]}" \
  --out "$tmp/k7.bin" --pcrs sha256:16
grep -q -- "--pcrs: only with --attester tpm" "$tmp/err" || fail "another attester's flag not named"
expect_rc 2 "--privlevel with tdx" worker workload get-key model-key --attester tdx --privlevel 1 \
  --out "$tmp/k8.bin"
expect_rc 2 "a handle with two 0x" worker workload get-key model-key --attester tpm \
  --tpm-ak 0x0x81000000 --out "$tmp/k9.bin"
[[ ! -e "$tmp/k6.bin" && ! -e "$tmp/k7.bin" && ! -e "$tmp/o.bin" ]] || fail "a refused command wrote"
# A bad --persist is refused before --create replaces the AK files (they may
# hold the AK the server trusts).
printf keep > "$tmp/akc.pub" && printf keep > "$tmp/akc.priv"
for handle in 81000100 0x80000000; do
  rc=0
  "$bin/strongroom" workload tpm-ak --tcti "$tcti" --tpm-ak ek-child \
    --tpm-ak-public "$tmp/akc.pub" --tpm-ak-private "$tmp/akc.priv" --create --persist "$handle" \
    --out "$tmp/akc.pem" >"$tmp/out" 2>"$tmp/err" || rc=$?
  [[ $rc == 2 ]] || { cat "$tmp/err" >&2; fail "tpm-ak --persist $handle: exit $rc, not 2"; }
  grep -q -- "--persist" "$tmp/err" || fail "tpm-ak --persist $handle: the flag is not named"
  [[ $(cat "$tmp/akc.pub") == keep && $(cat "$tmp/akc.priv") == keep ]] \
    || fail "tpm-ak --persist $handle replaced the AK files before refusing"
done
expect_rc 2 "refvalues put with an --expires that is no time" admin refvalues put later \
  --value "$approved" --expires 2025-01-01
grep -q -- "--expires: '2025-01-01' is not an RFC 3339 time" "$tmp/err" \
  || { cat "$tmp/err" >&2; fail "--expires not named"; }

# --- audit: every decision is in the chain; verify passes, then fails after an edit.
# --- an admin revokes the token the first run kept (by its jti).
jti=$(python3 -c 'import base64,json,sys; p=open(sys.argv[1]).read().split(".")[1]; print(json.loads(base64.urlsafe_b64decode(p + "=" * (-len(p) % 4)))["jti"])' "$tmp/token.jwt")
expect_rc 1 "a workload revokes a token" worker broker revoke "$jti"
expect_rc 2 "revoke with a malformed id" admin broker revoke not-a-token-id
expect_rc 0 "admin revokes the token" admin broker revoke "$jti"
grep -q "revoked token $jti" "$tmp/out" || fail "broker revoke did not confirm"
# Again (a revocation stands; repeating it changes nothing), answered in JSON.
expect_rc 0 "admin revokes the token again, --json" admin broker revoke "$jti" --json
[[ $(json_get "$tmp/out" 'd["token_id"]') == "$jti" && $(json_get "$tmp/out" 'd["revoked"]') == True ]] \
  || { cat "$tmp/out" >&2; fail "broker revoke --json"; }
expect_rc 1 "worker exports audit" worker audit export
expect_rc 0 "audit export" auditor audit export --out "$tmp/audit.jsonl"
for action in '"action":"challenge"' '"action":"attest"' '"action":"release"' 'policy_denied' \
              '"action":"put_policy"' '"action":"create_key"' '"action":"update_key"' \
              '"action":"revoke_token"'; do
  grep -q "$action" "$tmp/audit.jsonl" || fail "audit export lacks $action"
done
expect_rc 0 "audit verify" auditor audit verify "$tmp/audit.jsonl" --trusted-key "$tmp/audit-key.pem"
cat "$tmp/out" "$tmp/err" | grep -q "(trusted key)" || fail "audit verify: the published key was not pinned"
python3 - "$tmp/audit.jsonl" "$tmp/edited.jsonl" <<'PY'
import sys
lines = open(sys.argv[1]).read().split("\n")
for i, l in enumerate(lines):
    if '"action":"release"' in l:
        lines[i] = l.replace('"action":"release"', '"action":"relEase"', 1)
        break
open(sys.argv[2], "w").write("\n".join(lines))
PY
rc=0
"$bin/strongroom" audit verify "$tmp/edited.jsonl" --trusted-key "$tmp/audit-key.pem" \
  >"$tmp/out" 2>"$tmp/err" || rc=$?
[[ $rc -eq 1 ]] || fail "audit verify of an edited export: exit $rc, want 1"
grep -q "sequence [0-9]" "$tmp/err" || fail "audit verify does not name the bad sequence"
echo "broker with swtpm: all checks passed"
