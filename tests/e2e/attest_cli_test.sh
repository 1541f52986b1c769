#!/usr/bin/env bash
# `strongroom attest verify` (offline) on the real vectors: every evidence
# type verifies with its claims under --json; tampered input, a wrong nonce,
# an expired certificate and a denying policy exit 1 with the reason on
# stderr and in the JSON; usage errors and unreadable files exit 2.
#   attest_cli_test.sh BUILD_BIN_DIR SOURCE_DIR VECTORS_DIR
set -euo pipefail
bin=$1 src=$2 V=$3
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
sr() { "$bin/strongroom" "$@"; }
# claim FILE NAME: the claim's value from a --json report.
claim() { python3 -c "import json,sys; v=json.load(open(sys.argv[1]))['claims'].get(sys.argv[2]); print(str(v).lower() if isinstance(v,bool) else v)" "$1" "$2"; }
field() { python3 -c "import json,sys; v=json.load(open(sys.argv[1]))[sys.argv[2]]; print(str(v).lower() if isinstance(v,bool) else v)" "$1" "$2"; }
# expect RC NAME ARGS...: `strongroom ARGS` exits RC; output in $tmp/NAME.{out,err}.
expect() {
  local want=$1 name=$2; shift 2
  local rc=0
  sr "$@" >"$tmp/$name.out" 2>"$tmp/$name.err" || rc=$?
  [[ $rc -eq $want ]] || { cat "$tmp/$name.err" >&2; fail "$name: exit $rc, want $want"; }
}

snp=(--type snp --evidence "$V/sev-snp/milan/virtee_report.bin" --cert "$V/sev-snp/milan/virtee_vcek.der"
     --chain "$V/sev-snp/milan/ask_ark_milan.pem" --at 2025-06-01T00:00:00Z)

# --- SEV-SNP
expect 0 snp attest verify "${snp[@]}" --json
[[ $(field "$tmp/snp.out" verified) == true ]] || fail "snp not verified"
[[ $(field "$tmp/snp.out" tee) == snp ]] || fail "tee is not snp"
[[ $(claim "$tmp/snp.out" snp.measurement) == 7a1e5c266c0108dbc9bb94fa926951320940915d0aafb42464bd88b579ea158d3e1a0dc39b2c60bd95b9c480cd81841f ]] \
  || fail "snp.measurement"
[[ $(claim "$tmp/snp.out" snp.reported_tcb.ucode) == 115 ]] || fail "snp.reported_tcb.ucode"
[[ $(claim "$tmp/snp.out" snp.signing_key) == vcek ]] || fail "snp.signing_key"
[[ $(claim "$tmp/snp.out" snp.product) == Milan ]] || fail "snp.product"
[[ $(claim "$tmp/snp.out" snp.policy.debug) == false ]] || fail "snp.policy.debug"
for c in snp.report_data snp.host_data snp.vmpl snp.chip_id snp.reported_tcb.bl snp.reported_tcb.tee snp.reported_tcb.snp; do
  [[ -n $(claim "$tmp/snp.out" "$c") && $(claim "$tmp/snp.out" "$c") != None ]] || fail "claim $c missing"
done
rd=$(claim "$tmp/snp.out" snp.report_data)
expect 0 snp_rd attest verify "${snp[@]}" --report-data "$rd"
expect 1 snp_wrong_rd attest verify "${snp[@]}" --report-data 00 --json
grep -q "report_data" "$tmp/snp_wrong_rd.err" || fail "wrong report data: no reason on stderr"
[[ $(field "$tmp/snp_wrong_rd.out" verified) == false ]] || fail "wrong report data verified"
[[ -n $(field "$tmp/snp_wrong_rd.out" reason) ]] || fail "no reason in the JSON"
# Wrong VCEK (the other Milan chip).
expect 1 snp_wrong_vcek attest verify --type snp --evidence "$V/sev-snp/milan/virtee_report.bin" \
  --cert "$V/sev-snp/milan/gosev_vcek.der" --chain "$V/sev-snp/milan/ask_ark_milan.pem" --at 2025-06-01T00:00:00Z
# A flipped measurement byte.
cp "$V/sev-snp/milan/virtee_report.bin" "$tmp/flipped.bin"
printf '\xff' | dd of="$tmp/flipped.bin" bs=1 seek=$((0x90)) conv=notrunc status=none
expect 1 snp_flipped attest verify --type snp --evidence "$tmp/flipped.bin" --cert "$V/sev-snp/milan/virtee_vcek.der" \
  --chain "$V/sev-snp/milan/ask_ark_milan.pem" --at 2025-06-01T00:00:00Z
grep -q "signature" "$tmp/snp_flipped.err" || fail "flipped report: reason is not the signature"
# Truncated.
head -c 1000 "$V/sev-snp/milan/virtee_report.bin" > "$tmp/short.bin"
expect 1 snp_short attest verify --type snp --evidence "$tmp/short.bin" --cert "$V/sev-snp/milan/virtee_vcek.der" \
  --chain "$V/sev-snp/milan/ask_ark_milan.pem" --at 2025-06-01T00:00:00Z
# Expired at the verification time.
expect 1 snp_expired attest verify --type snp --evidence "$V/sev-snp/milan/virtee_report.bin" \
  --cert "$V/sev-snp/milan/virtee_vcek.der" --chain "$V/sev-snp/milan/ask_ark_milan.pem" --at 2060-01-01T00:00:00Z
grep -q "expired" "$tmp/snp_expired.err" || fail "expired: reason does not say so"
# Tampered VCEK from the negative vectors.
expect 1 snp_tampered attest verify --type snp --evidence "$V/sev-snp/milan/virtee_report.bin" \
  --cert "$V/sev-snp/negative/trustee_test-vcek-invalid-new.der" --chain "$V/sev-snp/milan/ask_ark_milan.pem" \
  --at 2025-06-01T00:00:00Z

# --- policies: allow, deny naming the clause, reference values from a file.
cat > "$tmp/allow.json" <<POL
{"version": 1, "tee": ["snp"], "require": {"allOf": [
  {"claim": "snp.policy.debug", "equals": false},
  {"claim": "snp.measurement", "in": {"referenceValues": "approved"}},
  {"claim": "snp.reported_tcb.snp", "gte": 8}]}}
POL
cat > "$tmp/approved.json" <<RV
{"name": "approved", "version": 3, "values": ["$(claim "$tmp/snp.out" snp.measurement)"]}
RV
expect 0 pol_allow attest verify "${snp[@]}" --policy "$tmp/allow.json" --refvalues "$tmp/approved.json" --json
[[ $(python3 -c "import json; print(json.load(open('$tmp/pol_allow.out'))['policy']['allowed'])") == True ]] \
  || fail "policy did not allow"
sed 's/"gte": 8/"gte": 9/' "$tmp/allow.json" > "$tmp/deny.json"
expect 1 pol_deny attest verify "${snp[@]}" --policy "$tmp/deny.json" --refvalues "$tmp/approved.json" --json
grep -q 'allOf\[2\]' "$tmp/pol_deny.err" || fail "policy deny does not name the clause"
expect 1 pol_no_rv attest verify "${snp[@]}" --policy "$tmp/allow.json"
echo '{"version": 1, "require": {"allOf": [{"claim": "snp.vmpl", "gte": "x"}]}}' > "$tmp/bad.json"
expect 2 pol_bad attest verify "${snp[@]}" --policy "$tmp/bad.json"
grep -q 'allOf\[0\].gte' "$tmp/pol_bad.err" || fail "invalid policy error does not name the JSON path"

# --- TDX
expect 0 tdx attest verify --type tdx --evidence "$V/tdx/gotdx/quote_v4_SPR_E4.dat" \
  --collateral "$V/tdx/gotdx" --at 2023-06-20T00:00:00Z --json
[[ $(claim "$tmp/tdx.out" tdx.mrtd) == 6363b8043668a3ad953278e10389574d326c6749fb78aa810ecd9336923db86f22fc00b8dcd404bc10d5e119d7215cbb ]] \
  || fail "tdx.mrtd"
[[ $(claim "$tmp/tdx.out" tdx.fmspc) == 50806f000000 ]] || fail "tdx.fmspc"
for c in tdx.rtmr0 tdx.rtmr1 tdx.rtmr2 tdx.rtmr3 tdx.mrconfigid tdx.report_data tdx.td_attributes.debug tdx.tcb_status; do
  [[ $(claim "$tmp/tdx.out" "$c") != None ]] || fail "claim $c missing"
done
expect 0 tdx_trailing attest verify --type tdx --evidence "$V/tdx/gotdx/quote_v4_SPR_E4_with_trailing_bytes.dat" \
  --collateral "$V/tdx/gotdx" --at 2023-06-20T00:00:00Z --json
grep -q "trailing" "$tmp/tdx_trailing.out" || fail "trailing bytes: no warning"
expect 1 tdx_td_report attest verify --type tdx --evidence "$V/tdx/gotdx/td_report.dat" \
  --collateral "$V/tdx/gotdx" --at 2023-06-20T00:00:00Z

# --- TPM: the swtpm quotes, as bundles built from tpm2-tools output.
nonce=$(printf broker-nonce-0001 | od -An -tx1 | tr -d ' \n')
for alg in ecc rsa; do
  expect 0 "bundle_$alg" attest tpm-bundle --quote "$V/tpm/swtpm/quote_$alg.attest" \
    --signature "$V/tpm/swtpm/quote_$alg.sig" --pcrs "$V/tpm/swtpm/pcrs_sha256.txt" \
    --ak-public "$V/tpm/swtpm/ak_$alg.pub" --out "$tmp/quote_$alg.json"
  expect 0 "tpm_$alg" attest verify --type tpm --evidence "$tmp/quote_$alg.json" \
    --ak-key "$V/tpm/swtpm/ak_${alg}_pub.pem" --report-data "$nonce" --json
  [[ $(claim "$tmp/tpm_$alg.out" tpm.nonce) == "$nonce" ]] || fail "tpm.nonce ($alg)"
  [[ $(claim "$tmp/tpm_$alg.out" tpm.pcrs.sha256.16) == 615f7a67a4c9f199664c7e33cf02ec6060828f400b514873477578b29800cdf5 ]] \
    || fail "tpm.pcrs.sha256.16 ($alg)"
  expect 1 "tpm_${alg}_nonce" attest verify --type tpm --evidence "$tmp/quote_$alg.json" \
    --ak-key "$V/tpm/swtpm/ak_${alg}_pub.pem" --report-data 00
  expect 1 "tpm_${alg}_untrusted" attest verify --type tpm --evidence "$tmp/quote_$alg.json"
done
# A PCR value that does not match the quote's digest.
sed 's/615f7a67/715f7a67/' "$tmp/quote_ecc.json" > "$tmp/quote_pcr.json"
expect 1 tpm_pcr attest verify --type tpm --evidence "$tmp/quote_pcr.json" --ak-key "$V/tpm/swtpm/ak_ecc_pub.pem"

# --- NVIDIA H100 (SPDM)
expect 0 nvidia attest verify --type nvidia --evidence "$V/nvidia/nvtrust_hopperAttestationReport.hex.txt" \
  --chain "$V/nvidia/nvtrust_hopperCertChain.pem" --at 2024-06-01T00:00:00Z --json
[[ $(claim "$tmp/nvidia.out" nvidia.nonce) != None ]] || fail "nvidia.nonce missing"
[[ $(claim "$tmp/nvidia.out" nvidia.measurements.1) != None ]] || fail "nvidia.measurements.1 missing"
expect 1 nvidia_nonce attest verify --type nvidia --evidence "$V/nvidia/nvtrust_hopperAttestationReport.hex.txt" \
  --chain "$V/nvidia/nvtrust_hopperCertChain.pem" --at 2024-06-01T00:00:00Z --report-data "$(printf '%064d' 0)"
# Composite: CPU report plus GPU report under one policy.
cat > "$tmp/composite.json" <<POL
{"version": 1, "tee": ["snp", "nvidia"], "require": {"allOf": [
  {"claim": "snp.policy.debug", "equals": false}, {"claim": "nvidia.measurements.1", "exists": true}]}}
POL
expect 0 composite attest verify "${snp[@]}" --gpu-evidence "$V/nvidia/nvtrust_hopperAttestationReport.hex.txt" \
  --gpu-chain "$V/nvidia/nvtrust_hopperCertChain.pem" --policy "$tmp/composite.json" --json
[[ $(claim "$tmp/composite.out" nvidia.spdm_version) != None ]] || fail "composite lacks GPU claims"

# --- usage and unreadable input: exit 2
expect 2 no_type attest verify --evidence "$V/sev-snp/milan/virtee_report.bin"
expect 2 bad_type attest verify --type sgx --evidence "$V/sev-snp/milan/virtee_report.bin"
expect 2 missing_file attest verify --type snp --evidence "$tmp/does-not-exist"
expect 2 bad_at attest verify "${snp[@]}" --at yesterday
expect 2 bad_hex attest verify "${snp[@]}" --report-data zz
# A reason cut inside a multi-byte character (the dev verifier quotes the
# first 64 bytes of a bad format) still gives valid JSON, not a crash.
openssl ecparam -name prime256v1 -genkey -noout -out "$tmp/dev.key" 2>/dev/null
openssl ec -in "$tmp/dev.key" -pubout -out "$tmp/dev.pub" 2>/dev/null
python3 -c 'import json; print(json.dumps({"format": "a" * 63 + "\u00e9", "body": "", "signature": "", "key_id": ""}))' \
  > "$tmp/utf8.json"
expect 1 dev_utf8 attest verify --type dev --evidence "$tmp/utf8.json" --dev-key "$tmp/dev.pub" --json
python3 -c 'import json,sys; json.load(open(sys.argv[1]))' "$tmp/dev_utf8.out" || fail "dev_utf8: not JSON"
[[ $(field "$tmp/dev_utf8.out" verified) == false ]] || fail "dev_utf8 verified"
# Empty values are refused, not read as stdin/stdout or the environment's.
expect 2 empty_evidence attest verify --type snp --evidence ""
grep -q -- "--evidence is empty" "$tmp/empty_evidence.err" || fail "empty --evidence: no message"
expect 2 empty_ca attest verify "${snp[@]}" --ca ""
# So are empty arguments ("$OUT" unset), which as files would be stdin/stdout.
expect 2 empty_arg audit verify "" --allow-unpinned
grep -q "audit verify: argument 1 (FILE) is empty" "$tmp/empty_arg.err" || fail "empty argument: no message"
expect 2 empty_out object get ds1/model.bin ""
grep -q "object get: argument 2 (OUT) is empty" "$tmp/empty_out.err" || fail "empty OUT: no message"
# A flag that would be ignored is refused: a GPU chain without the GPU report,
# collateral in a dry run (the server uses its own).
expect 2 gpu_chain_alone attest verify "${snp[@]}" --gpu-chain "$V/nvidia/nvtrust_hopperCertChain.pem"
grep -q -- "--gpu-chain: only with --gpu-evidence" "$tmp/gpu_chain_alone.err" || fail "--gpu-chain alone"
expect 2 dry_run_collateral policy dry-run p --type tdx --evidence "$V/sev-snp/milan/virtee_report.bin" \
  --collateral "$tmp"
grep -q "unknown flag --collateral" "$tmp/dry_run_collateral.err" || fail "dry-run --collateral"
# audit verify reads a file of any size (an export has no limit): past 64 MiB
# it is judged, not refused as too large.
python3 -c 'import sys; sys.stdout.write("{}\n" * 23400000)' > "$tmp/big.jsonl"  # 70 MB
expect 1 big_export audit verify "$tmp/big.jsonl" --allow-unpinned
rm -f "$tmp/big.jsonl"
# A folder is an unreadable file (exit 2), not an empty export.
expect 2 folder_export audit verify "$tmp" --allow-unpinned
grep -q "cannot read '$tmp': Is a directory" "$tmp/folder_export.err" || fail "audit verify of a folder"
echo "attest CLI: all checks passed"
