# A software TPM (swtpm) for the quickstart and the end-to-end tests: source
# this file, then
#   swtpm_serve DIR   manufactures a vTPM (sha256 PCR bank) in DIR/state and
#                     serves it on two free consecutive 127.0.0.1 ports (the
#                     swtpm TCTI expects the control port right after the
#                     command port), logging to DIR/log; sets $swtpm_pid and
#                     $tcti and exports TPM2TOOLS_TCTI. Returns 1, with the
#                     log on stderr, when the TPM does not answer in 5 s.
# The caller stops it (kill "$swtpm_pid").
swtpm_pid=""
tcti=""

swtpm_serve() {
  local dir=$1 tpm_port
  mkdir -p "$dir/state"
  swtpm_setup --tpm2 --tpmstate "$dir/state" --pcr-banks sha256 >/dev/null || return 1
  tpm_port=$(python3 -c 'import random, socket
while True:
    p = random.randint(20000, 60000)
    try:
        for q in (p, p + 1):
            s = socket.socket(); s.bind(("127.0.0.1", q)); s.close()
    except OSError:
        continue
    print(p); break')
  swtpm socket --tpm2 --tpmstate dir="$dir/state" \
    --server type=tcp,port="$tpm_port",bindaddr=127.0.0.1 \
    --ctrl type=tcp,port=$((tpm_port + 1)),bindaddr=127.0.0.1 \
    --flags not-need-init,startup-clear >"$dir/log" 2>&1 &
  swtpm_pid=$!
  tcti="swtpm:host=127.0.0.1,port=$tpm_port"
  export TPM2TOOLS_TCTI="$tcti"
  for _ in $(seq 50); do tpm2_pcrread sha256:0 >/dev/null 2>&1 && return 0; sleep 0.1; done
  cat "$dir/log" >&2
  tpm2_pcrread sha256:0 >&2 || true
  return 1
}
