# swtpm for the end-to-end scripts: source after lib.sh.
#   swtpm_start     manufactures a vTPM (sha256 bank) in
#                   $tmp/tpm and serves it on free 127.0.0.1 ports; sets $tcti
#   tpm_extend N S  extends PCR N with SHA-256 of string S
#   tpm_pcr N       prints PCR N (sha256) as lowercase hex
#   swtpm_trust_ak  after swtpm_start and e2e_provision: writes the TPM's AK
#                   public key (strongroom workload tpm-ak; needs $bin) to
#                   $tmp/ak.pem and appends to $tmp/strongroomd.yaml an
#                   attestation section with the TPM verifier trusting it
swtpm_pid=""
swtpm_stop() { [[ -n "$swtpm_pid" ]] && kill "$swtpm_pid" 2>/dev/null; swtpm_pid=""; }
trap 'swtpm_stop; cleanup' EXIT

swtpm_start() {
  mkdir -p "$tmp/tpm/state"
  swtpm_setup --tpm2 --tpmstate "$tmp/tpm/state" --pcr-banks sha256 >/dev/null \
    || fail "swtpm_setup"
  local ports
  # The swtpm TCTI expects the control port right after the command port.
  ports=$(python3 -c 'import random, socket
while True:
    p = random.randint(20000, 60000)
    try:
        for q in (p, p + 1):
            s = socket.socket(); s.bind(("127.0.0.1", q)); s.close()
    except OSError:
        continue
    print(p, p + 1); break')
  read -r tpm_port ctrl_port <<<"$ports"
  swtpm socket --tpm2 --tpmstate dir="$tmp/tpm/state" \
    --server type=tcp,port="$tpm_port",bindaddr=127.0.0.1 \
    --ctrl type=tcp,port="$ctrl_port",bindaddr=127.0.0.1 \
    --flags not-need-init,startup-clear --pid file="$tmp/tpm/pid" >"$tmp/tpm/log" 2>&1 &
  swtpm_pid=$!
  tcti="swtpm:host=127.0.0.1,port=$tpm_port"
  export TPM2TOOLS_TCTI="$tcti"
  for _ in $(seq 50); do tpm2_pcrread sha256:0 >/dev/null 2>&1 && return 0; sleep 0.1; done
  cat "$tmp/tpm/log" >&2
  tpm2_pcrread sha256:0 >&2 || true
  fail "swtpm did not start"
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
