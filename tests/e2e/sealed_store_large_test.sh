#!/usr/bin/env bash
# Bounded memory: an object of SIZE bytes (default 2 GiB) streams through
# `strongroom object put` and `object get` while the client's peak RSS stays
# under LIMIT (default 128 MiB), and comes back bit-exact. The data is a
# deterministic AES-CTR keystream piped in, and the download is hashed as it
# is piped out, so nothing of that size lands on disk except in the store.
#   sealed_store_large_test.sh BUILD_BIN_DIR SOURCE_DIR [SIZE_BYTES] [LIMIT_MIB]
set -euo pipefail
bin=$1 src=$2
size=${3:-$((2 * 1024 * 1024 * 1024))}
limit_mib=${4:-128}
# shellcheck source=tests/e2e/lib.sh
source "$src/tests/e2e/lib.sh"

e2e_provision admin:admin owner:owner
e2e_start
e2e_client_config admin
e2e_client_config owner
sr() { "$bin/strongroom" --config "$tmp/owner.yaml" "$@"; }
"$bin/strongroom" --config "$tmp/admin.yaml" key create k1 --owner spiffe://strongroom/owner \
  >/dev/null || fail "key create"
sr dataset create big --key k1 >/dev/null || fail "dataset create"

# openssl dies of SIGPIPE when head has enough: not an error.
data() {
  { openssl enc -aes-128-ctr -nosalt -K 000102030405060708090a0b0c0d0e0f \
      -iv 00000000000000000000000000000000 < /dev/zero 2>/dev/null || true; } | head -c "$size"
}
# peak_rss_kib CMD...: runs CMD (stdin and stdout inherited) and prints the
# peak resident set of CMD itself, in KiB, on fd 3.
peak_rss_kib() {
  python3 -c '
import os, resource, subprocess, sys
rc = subprocess.call(sys.argv[1:])
os.write(3, b"%d %d\n" % (rc, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss))
' "$@"
}

start=$(date +%s)
want=$(data | sha256sum | cut -d' ' -f1)
data | peak_rss_kib "$bin/strongroom" --config "$tmp/owner.yaml" object put big/blob - --quiet \
  3>"$tmp/put.rss" >/dev/null
read -r rc put_kib < "$tmp/put.rss"
[[ $rc -eq 0 ]] || fail "put of $size bytes failed"
mid=$(date +%s)
peak_rss_kib "$bin/strongroom" --config "$tmp/owner.yaml" object get big/blob - --quiet \
  3>"$tmp/get.rss" | sha256sum | cut -d' ' -f1 > "$tmp/got.sha"
read -r rc get_kib < "$tmp/get.rss"
[[ $rc -eq 0 ]] || fail "get of $size bytes failed"
end=$(date +%s)
[[ $(cat "$tmp/got.sha") == "$want" ]] || fail "the $size-byte object did not come back bit-exact"
echo "size=$size put_rss_kib=$put_kib get_rss_kib=$get_kib put_s=$((mid - start)) get_s=$((end - mid))"
(( put_kib < limit_mib * 1024 )) || fail "put peak RSS ${put_kib} KiB >= ${limit_mib} MiB"
(( get_kib < limit_mib * 1024 )) || fail "get peak RSS ${get_kib} KiB >= ${limit_mib} MiB"
# Stop the server before the temp dir goes: it may still be flushing.
kill -TERM "$pid"; wait "$pid" || true; pid=""
echo "1 passed, 0 failed"
