#!/usr/bin/env bash
# Installs what the build and tests need, builds everything and runs the whole
# test suite with ctest. Works on a fresh Debian 12 machine as root.
#
#   ./deploy/test.sh [extra ctest arguments]
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

./deploy/install-deps.sh
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DBUILD_TESTING=ON
ninja -C build -j2
cd build
ctest --output-on-failure -j2 --timeout 600 "$@"
cd "$root"
# Every parser's libFuzzer target, briefly (STRONGROOM_FUZZ_SECONDS=0 skips).
fuzz_seconds=${STRONGROOM_FUZZ_SECONDS:-15}
if [[ "$fuzz_seconds" != 0 ]]; then
  ./deploy/fuzz.sh "$fuzz_seconds"
fi
