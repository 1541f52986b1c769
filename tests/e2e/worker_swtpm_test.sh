#!/usr/bin/env bash
# `strongroom-worker run` end to end with a real vTPM: a data owner creates
# datasets (models, inputs, results) whose release policy requires PCR 16 to
# hold an approved value, and uploads mnist-8 and one input sealed; a worker
# attesting with swtpm runs the model; the owner downloads the result, which
# matches the reference output (and not another digit's). After PCR 16 is
# extended the worker is refused at the attest step, receives nothing and
# uploads nothing. No file the worker wrote (its cwd, $TMPDIR, stdout and
# log) and nothing in the server's store contains a 64-byte window of the
# model's plaintext or of the input.
#   worker_swtpm_test.sh BUILD_BIN_DIR SOURCE_DIR VECTORS_DIR
# Exit 77 (ctest: skipped) when swtpm, tpm2-tools or strace are not installed.
set -euo pipefail
bin=$(cd "$1" && pwd) src=$2 vectors=$3
for tool in swtpm swtpm_setup tpm2_pcrextend tpm2_pcrread strace; do
  command -v "$tool" >/dev/null || { echo "SKIP: $tool not installed (deploy/install-deps.sh)"; exit 77; }
done
# shellcheck source=tests/e2e/lib.sh
source "$src/tests/e2e/lib.sh"
# shellcheck source=tests/e2e/swtpm_lib.sh
source "$src/tests/e2e/swtpm_lib.sh"

mnist=$vectors/onnx-models/mnist-8
[[ -f $mnist/model.onnx && -f $mnist/test_data_set_0/input_0.pb ]] || fail "no mnist-8 in $mnist"
p=spiffe://strongroom
swtpm_start
tpm_extend 16 "approved-worker-v1"
approved=$(tpm_pcr 16)
[[ ${#approved} -eq 64 ]] || fail "cannot read PCR 16"

e2e_provision admin:admin owner1:owner worker:workload
swtpm_trust_ak
e2e_start
for who in admin owner1 worker; do e2e_client_config "$who"; done
ok() { local what=$1; shift; as "$@" >"$tmp/out" || { cat "$tmp/err" >&2; fail "$what"; }; }

# --- admin: the approved PCR value and a policy; owner: datasets under it.
ok "refvalues put" admin refvalues put worker-pcr16 --value "$approved" --description "approved worker"
cat > "$tmp/policy.json" <<POL
{"version": 1, "tee": ["tpm"], "require": {"allOf": [
  {"claim": "tpm.pcrs.sha256.16", "in": {"referenceValues": "worker-pcr16"}},
  {"claim": "tpm.clock.safe", "equals": true}]}}
POL
ok "policy put" admin policy put worker-release --file "$tmp/policy.json"
ok "key create" admin key create owner-key --owner "$p/owner1"
for ds in models inputs results; do
  ok "dataset create $ds" owner1 dataset create "$ds" --key owner-key --release-policy worker-release
done
ok "put model" owner1 object put models/mnist-8.onnx "$mnist/model.onnx" --quiet
ok "put input" owner1 object put inputs/digit-0.pb "$mnist/test_data_set_0/input_0.pb" --quiet

# --- the worker: cwd, HOME and TMPDIR in a fresh directory, so that every
# file it writes lands where the scan below looks.
wd=$tmp/worker-wd
mkdir -p "$wd/tmp"
worker_extra=() tracer=()
run_worker() {  # OUTPUT_NAME LOG
  local out=$1 log=$2
  (cd "$wd" && HOME="$wd" TMPDIR="$wd/tmp" "${tracer[@]}" "$bin/strongroom-worker" run --config "$tmp/worker.yaml" \
     --model models/mnist-8.onnx --input inputs/digit-0.pb --output "results/$out" \
     --attester tpm --tcti "$tcti" --pcrs sha256:0-7,16 --threads 1 "${worker_extra[@]}" \
     >"$wd/$log.stdout" 2>"$wd/$log.log")
}
# The worker locks all its memory or refuses to start. With CAP_IPC_LOCK
# (root) it can; without it, it must refuse before any attestation, and the
# rest of this test runs with --allow-unlocked-memory.
ipc_lock=0
caps=$(awk '/^CapEff:/ {print $2}' /proc/self/status)
(( (16#$caps >> 14) & 1 )) && ipc_lock=1
if [[ $ipc_lock -eq 0 && $(ulimit -l) != unlimited ]]; then
  rc=0
  run_worker digit-0 run0 || rc=$?
  [[ $rc -eq 1 ]] || { cat "$wd/run0.log" >&2; fail "worker without lockable memory: exit $rc, want 1"; }
  grep -q "strongroom-worker run: start: cannot lock the process's memory" "$wd/run0.log" \
    || { cat "$wd/run0.log" >&2; fail "the refusal does not say why"; }
  grep -q '"event":"worker.attest"' "$wd/run0.log" && fail "a worker that cannot lock memory attested"
  worker_extra=(--allow-unlocked-memory)
fi
rc=0
# The successful run is traced: every file it opens for writing, creates or
# renames is listed, wherever it is (checked below).
tracer=(strace -f -qq -s 4096 -o "$tmp/worker.strace"
        -e trace=open,openat,openat2,creat,rename,renameat,renameat2,link,linkat,mknod,mknodat,truncate)
run_worker digit-0 run1 || rc=$?
tracer=()
[[ $rc -eq 0 ]] || { cat "$wd/run1.log" >&2; fail "worker run: exit $rc, want 0"; }
grep -q "^stored results/digit-0@1 " "$wd/run1.stdout" || fail "worker did not report the stored output"
# Each step is logged, with its duration.
for event in worker.start worker.attest worker.key_release worker.get worker.load worker.parse worker.infer worker.serialize worker.put worker.done; do
  grep "\"event\":\"$event\"" "$wd/run1.log" | grep -q '"ms":\|"core_dumps_off":' \
    || { cat "$wd/run1.log" >&2; fail "worker log lacks $event with its time"; }
done
[[ $(grep -c '"event":"worker.attest"' "$wd/run1.log") -eq 3 ]] || fail "want one attest per dataset"
# Unless told otherwise, the run above locked all its memory.
if [[ ${#worker_extra[@]} -eq 0 ]]; then
  grep '"event":"worker.start"' "$wd/run1.log" | grep -q '"memory_locked":true' \
    || { cat "$wd/run1.log" >&2; fail "the worker ran without locking its memory"; }
else
  grep '"event":"worker.start"' "$wd/run1.log" | grep -q '"memory_locked":' \
    || fail "worker.start lacks memory_locked"
fi
# The output's label names the model version it came from.
ok "object stat" owner1 object stat results/digit-0 --json
grep -q '"strongroom.worker.model": *"models/mnist-8.onnx@1"' "$tmp/out" || fail "output lacks its model label"

# --- the owner reads the result; it matches the reference (and the check
# can fail: another digit's reference output does not match).
ok "owner gets the output" owner1 object get results/digit-0 "$tmp/result.pb"
"$bin/strongroom-worker" compare "$tmp/result.pb" "$mnist/test_data_set_0/output_0.pb" >"$tmp/cmp" \
  || { cat "$tmp/cmp" >&2; fail "the worker's output does not match output_0.pb"; }
rc=0
"$bin/strongroom-worker" compare "$tmp/result.pb" "$mnist/test_data_set_1/output_0.pb" >/dev/null || rc=$?
[[ $rc -eq 1 ]] || fail "comparison with another digit's output: exit $rc, want 1"
# The worker cannot read what it wrote back as an owner would (below: nor
# with a dataset token): only the results dataset's owner reads it.
rc=0
as worker object get results/digit-0 "$tmp/stolen.pb" >/dev/null || rc=$?
[[ $rc -eq 1 && ! -s "$tmp/stolen.pb" ]] || fail "the worker's certificate read the output without a token: exit $rc"

# A workload's dataset token, written by get-object, reads the sealed object
# raw from a file (never argv); without --raw it is a usage error.
ok "workload get-object" worker workload get-object inputs/digit-0.pb "$tmp/in.copy" --attester tpm \
  --tcti "$tcti" --pcrs sha256:0-7,16 --token-out "$tmp/inputs.jwt" --quiet
cmp -s "$tmp/in.copy" "$mnist/test_data_set_0/input_0.pb" || fail "get-object's plaintext differs"
# Its own output, though its attestation passes the results dataset's policy
# (it uploaded there): the data key is the owner's alone.
rc=0
as worker workload get-object results/digit-0 "$tmp/own-output.pb" --attester tpm --tcti "$tcti" \
  --pcrs sha256:0-7,16 --quiet >/dev/null || rc=$?
[[ $rc -eq 1 ]] && grep -q "object_written_by_workload" "$tmp/err" ||
  fail "a workload read a workload's output: exit $rc, $(cat "$tmp/err")"
[[ ! -s "$tmp/own-output.pb" ]] || fail "the refused read left $tmp/own-output.pb"
ok "owner gets the sealed input" owner1 object get inputs/digit-0.pb "$tmp/owner.raw" --raw
ok "token reads the sealed input" worker object get inputs/digit-0.pb "$tmp/worker.raw" --raw \
  --token-file "$tmp/inputs.jwt"
cmp -s "$tmp/owner.raw" "$tmp/worker.raw" || fail "the token's raw read differs from the owner's"
rc=0
as worker object get inputs/digit-0.pb "$tmp/plain.pb" --token-file "$tmp/inputs.jwt" >/dev/null || rc=$?
[[ $rc -eq 2 && ! -e "$tmp/plain.pb" ]] || fail "--token-file without --raw: exit $rc, want 2"
grep -q -- "--token-file: only with --raw" "$tmp/err" || { cat "$tmp/err" >&2; fail "not named"; }
rc=0
as worker object get results/digit-0 "$tmp/other.raw" --raw --token-file "$tmp/inputs.jwt" \
  >/dev/null || rc=$?
[[ $rc -eq 1 && ! -s "$tmp/other.raw" ]] || fail "the inputs token read results: exit $rc, want 1"

# --- PCR 16 changes: the worker is refused at attest and gets nothing.
tpm_extend 16 "tampered-worker"
rc=0
run_worker digit-0-again run2 || rc=$?
[[ $rc -eq 1 ]] || { cat "$wd/run2.log" >&2; fail "worker with other PCRs: exit $rc, want 1"; }
grep -q "strongroom-worker run: attest datasets/models: .*policy_denied" "$wd/run2.log" \
  || { cat "$wd/run2.log" >&2; fail "the refusal does not name the attest step and policy_denied"; }
grep -q '"event":"worker.get"\|"event":"worker.load"\|"event":"worker.put"' "$wd/run2.log" \
  && fail "a refused worker fetched, loaded or stored something"
[[ ! -s "$wd/run2.stdout" ]] || fail "a refused worker reported output"
ok "object ls results" owner1 object ls results --json
grep -q "digit-0-again" "$tmp/out" && fail "a refused worker uploaded an output"
grep -q '"digit-0"' "$tmp/out" || fail "object ls lacks the first output"

# --- the worker writes no file at all (docs/worker.md): none in its working
# directory (the scan below checks that too), /tmp, /var/tmp, /dev/shm or
# $HOME. strace -f splits a call another thread interrupted into
# "<unfinished ...>" and "<... resumed>" lines; they are joined first, so no
# open is missed.
python3 - "$tmp/worker.strace" "$wd" <<'PY' || fail "the worker wrote a file (see above)"
import os, re, sys
trace, wd = sys.argv[1], os.path.realpath(sys.argv[2])
allowed = (wd + "/", "/dev/null", "/dev/tpm", "/proc/", "/sys/")
writes, opened, bad = 0, set(), []
pending, lines = {}, []
for raw in open(trace):
    raw = raw.rstrip("\n")
    u = re.match(r'(\d+)\s+(.*) <unfinished \.\.\.>$', raw)
    if u:
        pending[u.group(1)] = u.group(2)
        continue
    r = re.match(r'(\d+)\s+<\.\.\. \w+ resumed>(.*)$', raw)
    if r:
        if r.group(1) not in pending:
            bad.append(f"a resumed call with no start: {raw}")
            continue
        raw = f"{r.group(1)} {pending.pop(r.group(1))}{r.group(2)}"
    lines.append(raw)
for line in lines:
    m = re.match(r'\d+\s+(\w+)\((.*)\)\s+=\s+(-?\d+)', line)
    if not m or int(m.group(3)) < 0:
        continue
    opened.add(m.group(2))
    call, args = m.group(1), m.group(2)
    paths = re.findall(r'"((?:[^"\\]|\\.)*)"', args)
    if not paths:
        continue
    if call.startswith("open") or call == "creat":
        if call != "creat" and not re.search(r"O_WRONLY|O_RDWR|O_CREAT|O_TRUNC", args):
            continue
        targets = paths[:1]
    else:  # rename, link, mknod, truncate: every path named
        targets = paths
    for t in targets:
        full = os.path.realpath(os.path.join(wd, t))
        if full.startswith(allowed[1:]):
            continue  # a device or kernel file, not a file on disk
        writes += 1
        where = "in its directory" if (full + "/").startswith(allowed[0]) else "outside its directory"
        bad.append(f"the worker wrote a file {where}: {call}: {full}")
# The trace must show what the worker did read (its configuration), or it
# proves nothing.
if not any("worker.yaml" in a for a in opened):
    bad.append("the trace does not show the worker reading its configuration")
print(f"{len(opened)} opens traced, {writes} of them writes to files")
for b in bad:
    print(b, file=sys.stderr)
sys.exit(1 if bad else 0)
PY

# --- no plaintext in anything the worker wrote, or in the server's store.
mkdir -p "$tmp/control"
head -c 200 "$mnist/model.onnx" | tail -c 100 > "$tmp/control/piece"
python3 - "$mnist/model.onnx" "$mnist/test_data_set_0/input_0.pb" "$tmp/control" "$wd" "$tmp"/db* <<'PY' \
  || fail "plaintext found in a file (see above)"
import os, sys
W = 64
def windows(path):
    data = open(path, "rb").read()
    return {data[i:i + W] for i in range(len(data) - W + 1)}
secret = windows(sys.argv[1]) | windows(sys.argv[2])
def leaks(path):
    data = open(path, "rb").read()
    return any(data[i:i + W] in secret for i in range(len(data) - W + 1))
def scan(root):
    found, count = [], 0
    for d, _, files in os.walk(root):
        for f in files:
            p = os.path.join(d, f)
            if os.path.isfile(p) and not os.path.islink(p):
                count += 1
                if leaks(p):
                    found.append(p)
    return found, count
# The scanner must see what it looks for.
found, _ = scan(sys.argv[3])
assert found, "the scan missed a planted window of the model"
bad, total = [], 0
for root in sys.argv[4:]:
    f, n = scan(root)
    bad += f
    total += n
for p in bad:
    print("plaintext window in", p, file=sys.stderr)
print(f"scanned {total} files")
sys.exit(1 if bad else 0)
PY
echo "worker with swtpm: all checks passed"
