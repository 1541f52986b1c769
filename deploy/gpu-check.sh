#!/usr/bin/env bash
# The CUDA backend's check on a GPU machine that has the CUDA toolkit and
# driver but none of the project's Debian packages (the lent device machine).
#
#   ./deploy/gpu-check.sh pack   # here: build with nvcc into build-cuda/ (or
#                                # $STRONGROOM_GPU_BUILD_DIR) and
#                                # pack the binaries, their non-CUDA shared
#                                # libraries and the ONNX vectors into
#                                # build-gpu/pack.tar.xz (~12 MB)
#   ./deploy/gpu-check.sh run    # there, from the repo root: unpack and run
#
# `run` runs onnx_cuda_test (every node vector, mnist-8 and the light
# squeezenet / resnet50 / vgg19 on the GPU, checked against the references
# and the CPU backend), run-local on each model with --device cuda and cpu
# (--repeat 20 --profile), onnxruntime from python when the machine has it,
# and compute-sanitizer memcheck / racecheck / initcheck; then the attested
# flow on the GPU: strongroomd (SoftHSM token, RocksDB, mutual TLS on
# 127.0.0.1) with the development attester, an owner uploading mnist-8 and the
# light resnet50 sealed, `strongroom-worker run --device cuda` attesting and
# storing the results sealed, the owner's download compared with the
# references, and a worker with another measurement refused. The token, CA
# and attester key are made by `pack` (the GPU machine has neither
# softhsm2-util nor the openssl CLI). Logs go to $OUT (or build-gpu/out).
# Exit status: 0 when onnx_cuda_test and the attested flow pass.
# STRONGROOM_GPU_CHECK_DEVICE=cpu runs the attested flow on the CPU (to try
# the script on a machine without a GPU).
set -uo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
G=build-gpu
# The build folder pack uses; pack (re)configures it with the options below
# (RelWithDebInfo, tests and CUDA on), which stay in its cache.
B=${STRONGROOM_GPU_BUILD_DIR:-build-cuda}

pack() {
  set -e
  local vectors=${STRONGROOM_VECTORS_DIR:-$root/../shared/vectors}
  cmake -S . -B "$B" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DBUILD_TESTING=ON \
    -DSTRONGROOM_ENABLE_CUDA=ON -DSTRONGROOM_VECTORS_DIR="$vectors" >/dev/null
  ninja -C "$B" -j"${STRONGROOM_JOBS:-2}" onnx_cuda_test strongroom-worker strongroomd \
    strongroom
  local stage
  stage=$(mktemp -d)
  mkdir -p "$stage/lib" "$stage/vectors/onnx-models"
  cp -r "$vectors/onnx-node" "$stage/vectors/"
  cp -r "$vectors/onnx-models/mnist-8" "$vectors/onnx-models/onnx-light" \
    "$stage/vectors/onnx-models/"
  chmod -R u+w "$stage/vectors"
  strip -o "$stage/onnx_cuda_test" "$B"/bin/onnx_cuda_test
  strip -o "$stage/strongroom-worker" "$B"/bin/strongroom-worker
  strip -o "$stage/strongroomd" "$B"/bin/strongroomd
  strip -o "$stage/strongroom" "$B"/bin/strongroom
  mkdir -p "$stage/lib/softhsm" "$stage/var/dev"
  cp -L /usr/lib/softhsm/libsofthsm2.so "$stage/lib/softhsm/"
  hsm-sim/provision-token.sh --dir "$stage/var/hsm" --label gpu >/dev/null
  deploy/local-ca.sh --dir "$stage/var/pki" --client admin --client owner1 --client worker \
    >/dev/null
  openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$stage/var/dev/attester.key"
  openssl pkey -in "$stage/var/dev/attester.key" -pubout -out "$stage/var/dev/attester.pub.pem"
  # glibc, libstdc++ and the CUDA libraries come from the GPU machine.
  ldd "$stage/onnx_cuda_test" "$stage/strongroom-worker" "$stage/strongroomd" \
    "$stage/strongroom" "$stage/lib/softhsm/libsofthsm2.so" | awk '$3 ~ /^\// {print $3}' |
    sort -u | grep -v -E '/(libc|libm|libpthread|libdl|librt|libstdc\+\+|libgcc_s)\.so' |
    grep -v -E '/libcu(da|dart|blas|blasLt)\.so' | xargs -I{} cp -L {} "$stage/lib/"
  mkdir -p $G
  tar -cJf $G/pack.tar.xz -C "$stage" lib vectors var strongroom-worker onnx_cuda_test \
    strongroomd strongroom
  rm -rf "$stage"
  ls -la $G/pack.tar.xz
}

run() {
  local out=${OUT:-$root/$G/out}
  mkdir -p "$out"
  tar -xJf $G/pack.tar.xz -C $G || exit 2
  local cublas
  cublas=$(ls /usr/local/cuda/lib64/libcublas.so.13 2>/dev/null ||
    find / -name 'libcublas.so.13' -not -path '/proc/*' 2>/dev/null | head -1)
  export PATH=$PATH:/usr/local/cuda/bin
  export LD_LIBRARY_PATH=$root/$G/lib:$(dirname "$cublas"):/usr/local/cuda/lib64
  export STRONGROOM_VECTORS_DIR=$root/$G/vectors  # onnx_cuda_test reads the packed ones
  nvidia-smi --query-gpu=name,driver_version --format=csv,noheader
  echo "cublas: $cublas; $(nproc) CPUs"
  ldd $G/onnx_cuda_test $G/strongroom-worker | grep "not found"
  echo "== onnx_cuda_test"
  timeout 240 $G/onnx_cuda_test 2>&1 | tee "$out/cuda_test.log" | grep -v '^\[ *OK\|^\[ RUN'
  local rc=${PIPESTATUS[0]}
  python3 -c "
import numpy as np
from onnx import numpy_helper as h
n = 3 * 224 * 224
x = (np.arange(n, dtype=np.float64) / n).astype(np.float32).reshape(1, 3, 224, 224)
open('/tmp/x.pb', 'wb').write(h.from_array(x, 'x').SerializeToString())"
  local L=$G/vectors/onnx-models/onnx-light M=$G/vectors/onnx-models/mnist-8
  local worker=$G/strongroom-worker
  {
    for m in squeezenet resnet50 vgg19; do
      for d in cuda cpu; do
        echo "== $m $d"
        timeout 100 $worker run-local --model $L/light_$m.onnx --input /tmp/x.pb \
          --expect $L/light_${m}_output_0.pb --device $d --threads 16 --repeat 20 --profile
      done
    done
    for d in cuda cpu; do
      echo "== mnist-8 $d"
      $worker run-local --model $M/model.onnx --input $M/test_data_set_0/input_0.pb \
        --expect $M/test_data_set_0/output_0.pb --device $d --threads 16 --repeat 50
    done
    echo "== onnxruntime (python)"
    timeout 120 python3 - "$L" <<'PY'
import sys, time, numpy as np, onnxruntime as ort
print("onnxruntime", ort.__version__, ort.get_available_providers())
n = 3 * 224 * 224
x = (np.arange(n, dtype=np.float64) / n).astype(np.float32).reshape(1, 3, 224, 224)
for m in ["squeezenet", "resnet50", "vgg19"]:
    for prov in [p for p in ["CUDAExecutionProvider", "CPUExecutionProvider"]
                 if p in ort.get_available_providers()]:
        o = ort.SessionOptions(); o.intra_op_num_threads = 16
        s = ort.InferenceSession(f"{sys.argv[1]}/light_{m}.onnx", o, providers=[prov])
        feed = {s.get_inputs()[0].name: x}
        s.run(None, feed)
        t = []
        for _ in range(20):
            t0 = time.perf_counter(); s.run(None, feed); t.append((time.perf_counter() - t0) * 1e3)
        t.sort()
        print(f"ort {m} {prov}: median {t[10]:.2f} ms, min {t[0]:.2f} ms")
PY
    echo "== compute-sanitizer"
    timeout 60 compute-sanitizer --tool memcheck --leak-check full $worker run-local \
      --model $M/model.onnx --input $M/test_data_set_0/input_0.pb \
      --expect $M/test_data_set_0/output_0.pb --device cuda --repeat 2 | tail -3
    for m in squeezenet resnet50; do
      timeout 90 compute-sanitizer --tool memcheck $worker run-local --model $L/light_$m.onnx \
        --input /tmp/x.pb --expect $L/light_${m}_output_0.pb --device cuda --repeat 2 | tail -2
    done
    for tool in racecheck initcheck; do
      timeout 60 compute-sanitizer --tool $tool $worker run-local \
        --model $L/light_squeezenet.onnx --input /tmp/x.pb \
        --expect $L/light_squeezenet_output_0.pb --device cuda --repeat 2 | tail -2
    done
  } 2>&1 | tee "$out/runs.log"
  echo "== attested run on the GPU"
  attested "$out" 2>&1 | tee "$out/attested.log"
  [[ ${PIPESTATUS[0]} -eq 0 ]] || rc=1
  return "$rc"
}

# The attested flow (see the top); $1: the log folder.
attested() {
  local out=$1 v=$root/$G/var b=$root/$G device=${STRONGROOM_GPU_CHECK_DEVICE:-cuda}
  local M=$b/vectors/onnx-models/mnist-8 L=$b/vectors/onnx-models/onnx-light
  sed -i "s|^directories.tokendir.*|directories.tokendir = $v/hsm/tokens|" "$v/hsm/softhsm2.conf"
  cat > "$v/strongroomd.yaml" <<YAML
server:
  listen: 127.0.0.1:0
  tls: {cert: pki/server.crt, key: pki/server.key, client_ca: pki/ca.crt}
hsm: {module: $b/lib/softhsm/libsofthsm2.so, token_label: gpu, pin_file: hsm/user.pin,
      softhsm_conf: hsm/softhsm2.conf}
storage: {path: db}
principals:
  - {name: "spiffe://strongroom/admin", role: admin}
  - {name: "spiffe://strongroom/owner1", role: owner}
  - {name: "spiffe://strongroom/worker", role: workload}
attestation:
  dev_attester: {enabled: true, trusted_keys: [dev/attester.pub.pem]}
YAML
  rm -f "$v/port"
  "$b/strongroomd" --config "$v/strongroomd.yaml" --port-file "$v/port" >"$out/server.log" 2>&1 &
  local server=$!
  for _ in $(seq 100); do [[ -s "$v/port" ]] && break; sleep 0.1; done
  [[ -s "$v/port" ]] || { tail -5 "$out/server.log"; kill $server; return 1; }
  for who in admin owner1 worker; do
    printf 'server: 127.0.0.1:%s\nca: pki/ca.crt\n' "$(cat "$v/port")" >"$v/$who.yaml"
    printf 'cert: pki/clients/%s.crt\nkey: pki/clients/%s.key\n' "$who" "$who" >>"$v/$who.yaml"
  done
  local failed=0
  sr() { local who=$1; shift; "$b/strongroom" --config "$v/$who.yaml" "$@"; }
  check() { local what=$1; shift; "$@" >/dev/null || { echo "FAILED: $what"; failed=1; }; }
  local approved tampered
  approved=$(printf 'gpu-worker-v1' | sha256sum | cut -c1-64)
  tampered=$(printf 'gpu-worker-tampered' | sha256sum | cut -c1-64)
  cat > "$v/policy.json" <<POL
{"version": 1, "tee": ["dev"], "require": {"allOf": [
  {"claim": "dev.measurement", "in": {"referenceValues": "gpu-worker"}},
  {"claim": "dev.debug", "equals": false}]}}
POL
  check "refvalues put" sr admin refvalues put gpu-worker --value "$approved"
  check "policy put" sr admin policy put gpu-release --file "$v/policy.json"
  check "key create" sr admin key create owner-key --owner spiffe://strongroom/owner1
  for ds in models inputs results; do
    check "dataset $ds" sr owner1 dataset create $ds --key owner-key --release-policy gpu-release
  done
  check "put mnist" sr owner1 object put models/mnist-8.onnx "$M/model.onnx" --quiet
  check "put digit" sr owner1 object put inputs/digit-0.pb "$M/test_data_set_0/input_0.pb" --quiet
  check "put resnet50" sr owner1 object put models/resnet50.onnx "$L/light_resnet50.onnx" --quiet
  check "put image" sr owner1 object put inputs/image.pb /tmp/x.pb --quiet
  work() {  # OUTPUT MODEL INPUT MEASUREMENT
    "$b/strongroom-worker" run --config "$v/worker.yaml" --model "models/$2" --input "inputs/$3" \
      --output "results/$1" --attester dev --dev-key "$v/dev/attester.key" --measurement "$4" \
      --device "$device" --threads 4 >"$out/$1.stdout" 2>"$out/$1.log"
  }
  local case model input expect
  for case in "digit-0 mnist-8.onnx digit-0.pb $M/test_data_set_0/output_0.pb" \
              "resnet50 resnet50.onnx image.pb $L/light_resnet50_output_0.pb"; do
    read -r name model input expect <<<"$case"
    if work "$name" "$model" "$input" "$approved"; then
      cat "$out/$name.stdout"
      grep -o '"event":"worker\.\(start\|attest\|load\|infer\|put\|done\)"[^}]*' \
        "$out/$name.log" | sed 's/^/  /'
      grep '"event":"worker.infer"' "$out/$name.log" | grep -q "\"device\":\"$device\"" ||
        { echo "FAILED: $name did not infer on $device"; failed=1; }
      check "get $name" sr owner1 object get "results/$name" "$v/$name.pb"
      "$b/strongroom-worker" compare "$v/$name.pb" "$expect" || { echo "FAILED: $name"; failed=1; }
    else
      echo "FAILED: worker run $name"; tail -5 "$out/$name.log"; failed=1
    fi
  done
  local rc=0
  work refused mnist-8.onnx digit-0.pb "$tampered" || rc=$?
  if [[ $rc -eq 1 ]] && grep -q "policy_denied" "$out/refused.log" &&
     ! grep -q '"event":"worker.get"' "$out/refused.log"; then
    echo "another measurement: refused at attest, nothing fetched ($(grep -o 'attest [^"]*' \
      "$out/refused.log" | head -1))"
  else
    echo "FAILED: a worker with another measurement: exit $rc"; failed=1
  fi
  kill $server
  [[ $failed -eq 0 ]] && echo "attested run: all checks passed"
  return $failed
}

case "${1:-}" in
  pack) pack ;;
  run) run ;;
  *) echo "usage: $0 pack|run" >&2; exit 2 ;;
esac
