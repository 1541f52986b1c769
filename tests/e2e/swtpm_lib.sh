# swtpm for the end-to-end scripts: source after lib.sh.
#   swtpm_start     manufactures a vTPM (sha256 bank) in
#                   $tmp/tpm and serves it on free 127.0.0.1 ports; sets $tcti
#   tpm_extend N S  extends PCR N with SHA-256 of string S
#   tpm_pcr N       prints PCR N (sha256) as lowercase hex
#   swtpm_trust_ak  after swtpm_start and e2e_provision: writes the TPM's AK
#                   public key (strongroom workload tpm-ak; needs $bin) to
#                   $tmp/ak.pem and appends to $tmp/strongroomd.yaml an
#                   attestation section with the TPM verifier trusting it
# shellcheck source=deploy/swtpm.sh
source "$src/deploy/swtpm.sh"
swtpm_stop() { [[ -n "$swtpm_pid" ]] && kill "$swtpm_pid" 2>/dev/null; swtpm_pid=""; }
trap 'swtpm_stop; cleanup' EXIT

swtpm_start() {
  swtpm_serve "$tmp/tpm" || fail "swtpm did not start"
}

tpm_extend() {
  tpm2_pcrextend "$1:sha256=$(printf %s "$2" | sha256sum | cut -d' ' -f1)" >/dev/null \
    || fail "pcrextend $1"
}

tpm_pcr() {
  tpm2_pcrread "sha256:$1" | sed -n "s/^ *$1 *: *0x\([0-9A-Fa-f]*\).*/\1/p" | tr 'A-F' 'a-f'
}

swtpm_trust_ak() {
  "$bin/strongroom" workload tpm-ak --tcti "$tcti" --out "$tmp/ak.pem" 2>"$tmp/err" \
    || { cat "$tmp/err" >&2; fail "workload tpm-ak"; }
  cat >> "$tmp/strongroomd.yaml" <<YAML
attestation:
  verifiers: [tpm]
  tpm: {trusted_ak_keys: [ak.pem]}
YAML
}
