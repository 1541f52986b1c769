#!/usr/bin/env bash
# Builds every parser fuzz target with clang + libFuzzer (ASan, UBSan) in
# build-fuzz/ and runs each for a short time, seeded from the shared vectors.
# A crash, leak or sanitizer report fails the script and leaves the input as
# <build>/artifacts/<target>-crash-* (the log in <build>/logs/).
#
#   ./deploy/fuzz.sh [seconds per target, default 20]
#
# Environment: STRONGROOM_FUZZ_BUILD_DIR (default build-fuzz, relative to the
# repo root or absolute), STRONGROOM_FUZZ_JOBS (ninja -j, default 2).
#
# Cost: 13 targets, so ~13 x seconds of fuzzing (4.7 min at the default 20 s,
# 3.5 min at deploy/test.sh's 15 s) plus the build. A cold build compiles the
# targets' libraries again with clang and sanitizers (protobuf/gRPC code for
# fuzz_workload_client is most of it): 40 min at -j1 on a shared 2-vCPU VM;
# an incremental one takes seconds to minutes.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
seconds=${1:-20}
vectors=${STRONGROOM_VECTORS_DIR:-$root/../shared/vectors}
build=${STRONGROOM_FUZZ_BUILD_DIR:-build-fuzz}
jobs=${STRONGROOM_FUZZ_JOBS:-2}

CC=clang CXX=clang++ cmake -S . -B "$build" -G Ninja \
  -DCMAKE_BUILD_TYPE=RelWithDebInfo -DBUILD_TESTING=ON -DSTRONGROOM_FUZZ=ON \
  -DSTRONGROOM_ENABLE_CUDA=OFF -DSTRONGROOM_VECTORS_DIR="$vectors" >/dev/null
targets=$(ninja -C "$build" -t targets all | sed -n 's/^\(fuzz_[a-z0-9_]*\): .*/\1/p' | sort -u)
if [[ -z "$targets" ]]; then
  echo "fuzz: no fuzz targets found" >&2
  exit 1
fi
ninja -C "$build" -j"$jobs" $targets

cd "$build"
mkdir -p logs artifacts
# UBSan reports are recoverable by default (printed, then the run goes on):
# make the first one fatal so it fails the script like an ASan report.
export UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1${UBSAN_OPTIONS:+:$UBSAN_OPTIONS}"
fuzz_start=$SECONDS
summary=""
for t in $targets; do
  seeds="seeds/$t"
  rm -rf "$seeds"
  mkdir -p "$seeds" "corpus/$t"
  # Seed files are listed by the target's .cmake file (SEEDS); copy them in,
  # numbered, since several share a base name (onnx-node/*/model.onnx).
  if [[ -f "$t.seeds" ]]; then
    n=0
    while read -r f; do
      [[ -n "$f" ]] || continue
      n=$((n + 1))
      if [[ -f "$f" ]]; then
        cp -f "$f" "$seeds/$(printf '%03d' "$n")-$(basename "$f")"
      else
        echo "fuzz: $t: seed $f is missing (STRONGROOM_VECTORS_DIR?)" >&2
      fi
    done < "$t.seeds"
  fi
  echo "fuzz: $t for ${seconds}s"
  start=$SECONDS
  if ! ./bin/$t -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
      -print_final_stats=1 -artifact_prefix="artifacts/$t-" "corpus/$t" "$seeds" \
      > "logs/$t.log" 2>&1; then
    tail -n 60 "logs/$t.log"
    echo "fuzz: $t FAILED; full log $build/logs/$t.log, input(s):" >&2
    ls -1 artifacts/"$t"-* >&2 || true
    exit 1
  fi
  tail -n 6 "logs/$t.log"
  summary+="  $t: $((SECONDS - start))s, $(sed -n 's/^stat::number_of_executed_units: *//p' "logs/$t.log") runs"$'\n'
done
echo "fuzz: all targets ran without a crash ($((SECONDS - fuzz_start))s of fuzzing):"
printf '%s' "$summary"
