#!/usr/bin/env bash
# Builds every parser fuzz target with clang + libFuzzer (ASan, UBSan) in
# build-fuzz/ and runs each for a short time, seeded from the shared vectors.
# A crash, leak or sanitizer report fails the script and leaves the input as
# build-fuzz/crash-*.
#
#   ./deploy/fuzz.sh [seconds per target, default 20]
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
seconds=${1:-20}
vectors=${STRONGROOM_VECTORS_DIR:-$root/../shared/vectors}

CC=clang CXX=clang++ cmake -S . -B build-fuzz -G Ninja \
  -DCMAKE_BUILD_TYPE=RelWithDebInfo -DBUILD_TESTING=ON -DSTRONGROOM_FUZZ=ON \
  -DSTRONGROOM_ENABLE_CUDA=OFF -DSTRONGROOM_VECTORS_DIR="$vectors" >/dev/null
targets=$(ninja -C build-fuzz -t targets all | sed -n 's/^\(fuzz_[a-z0-9_]*\): .*/\1/p' | sort -u)
if [[ -z "$targets" ]]; then
  echo "fuzz: no fuzz targets found" >&2
  exit 1
fi
ninja -C build-fuzz -j2 $targets

cd build-fuzz
for t in $targets; do
  seeds="seeds/$t"
  mkdir -p "$seeds" "corpus/$t"
  # Seed files are listed by the target's .cmake file (SEEDS); copy them in.
  if [[ -f "$t.seeds" ]]; then
    while read -r f; do [[ -f "$f" ]] && cp -f "$f" "$seeds/"; done < "$t.seeds"
  fi
  echo "fuzz: $t for ${seconds}s"
  ./bin/$t -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
    -print_final_stats=1 -artifact_prefix=./ "corpus/$t" "$seeds" 2>&1 | tail -n 12
done
echo "fuzz: all targets ran without a crash"
