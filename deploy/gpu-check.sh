#!/usr/bin/env bash
# The CUDA backend's check on a GPU machine that has the CUDA toolkit and
# driver but none of the project's Debian packages (the lent device machine).
#
#   ./deploy/gpu-check.sh pack   # here: build with nvcc into build-cuda/ and
#                                # pack the binaries, their non-CUDA shared
#                                # libraries and the ONNX vectors into
#                                # build-gpu/pack.tar.xz (~12 MB)
#   ./deploy/gpu-check.sh run    # there, from the repo root: unpack and run
#
# `run` runs onnx_cuda_test (every node vector, mnist-8 and the light
# squeezenet / resnet50 / vgg19 on the GPU, checked against the references
# and the CPU backend), run-local on each model with --device cuda and cpu
# (--repeat 20 --profile), onnxruntime from python when the machine has it,
# and compute-sanitizer memcheck / racecheck / initcheck. Logs go to $OUT
# (or build-gpu/out). Exit status: onnx_cuda_test's.
set -uo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
G=build-gpu

pack() {
  set -e
  local vectors=${STRONGROOM_VECTORS_DIR:-$root/../shared/vectors}
  cmake -S . -B build-cuda -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DBUILD_TESTING=ON \
    -DSTRONGROOM_ENABLE_CUDA=ON -DSTRONGROOM_VECTORS_DIR=$G/vectors >/dev/null
  ninja -C build-cuda -j"${STRONGROOM_JOBS:-2}" onnx_cuda_test strongroom-worker
  local stage
  stage=$(mktemp -d)
  mkdir -p "$stage/lib" "$stage/vectors/onnx-models"
  cp -r "$vectors/onnx-node" "$stage/vectors/"
  cp -r "$vectors/onnx-models/mnist-8" "$vectors/onnx-models/onnx-light" \
    "$stage/vectors/onnx-models/"
  chmod -R u+w "$stage/vectors"
  strip -o "$stage/onnx_cuda_test" build-cuda/bin/onnx_cuda_test
  strip -o "$stage/strongroom-worker" build-cuda/bin/strongroom-worker
  # glibc, libstdc++ and the CUDA libraries come from the GPU machine.
  ldd "$stage/onnx_cuda_test" "$stage/strongroom-worker" | awk '$3 ~ /^\// {print $3}' |
    sort -u | grep -v -E '/(libc|libm|libpthread|libdl|librt|libstdc\+\+|libgcc_s)\.so' |
    grep -v -E '/libcu(da|dart|blas|blasLt)\.so' | xargs -I{} cp -L {} "$stage/lib/"
  mkdir -p $G
  tar -cJf $G/pack.tar.xz -C "$stage" lib vectors strongroom-worker onnx_cuda_test
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
  return "$rc"
}

case "${1:-}" in
  pack) pack ;;
  run) run ;;
  *) echo "usage: $0 pack|run" >&2; exit 2 ;;
esac
