#!/usr/bin/env bash
# End to end, the sealed store through the strongroom CLI against a real
# strongroomd (SoftHSM, mutual TLS, 127.0.0.1 port 0): datasets, put/get
# (files, stdin/stdout, ranges, versions), ls/stat/rm, who may do what,
# rotation with re-wrap, rekey, what a key destruction would affect, quotas,
# the consistency check, and exit codes (0 ok, 1 refused, 2 usage).
#   sealed_store_test.sh BUILD_BIN_DIR SOURCE_DIR
set -euo pipefail
bin=$1 src=$2
# shellcheck source=tests/e2e/lib.sh
source "$src/tests/e2e/lib.sh"

p=spiffe://strongroom
e2e_provision admin:admin owner1:owner owner2:owner auditor:auditor
e2e_start
for who in admin owner1 owner2 auditor; do e2e_client_config "$who"; done

as admin key create k1 --owner "$p/owner1" --destroy-wait 0 >/dev/null || fail "key create"
as admin key create k2 --owner "$p/owner2" >/dev/null || fail "key create k2"

# --- datasets: owner, key, release policy (one that exists: a name nobody
# put is refused, naming the field).
expect_rc 1 "dataset create naming a policy nobody put" owner1 dataset create ds1 --key k1 \
  --release-policy inference
grep -q "release_policy: policies/inference does not exist" "$tmp/err" \
  || fail "unknown policy error lacks the field: $(cat "$tmp/err")"
echo '{"version": 1, "tee": ["dev"], "require": {"claim": "dev.debug", "equals": false}}' \
  > "$tmp/policy.json"
as admin policy put inference --file "$tmp/policy.json" >/dev/null || fail "policy put"
as owner1 dataset create ds1 --key k1 --release-policy inference --description "e2e" \
  > "$tmp/ds.txt" || { cat "$tmp/err" >&2; fail "dataset create"; }
grep -q "policies/inference" "$tmp/ds.txt" || fail "dataset create output lacks the policy"
expect_rc 1 "owner1 creating a dataset with owner2's key" owner1 dataset create ds9 --key k2
expect_rc 1 "auditor creating a dataset" auditor dataset create ds9 --key k1
expect_rc 2 "dataset create without --key" owner1 dataset create ds9
as admin dataset create small --key k1 --owner "$p/owner1" --quota 3000000 >/dev/null \
  || fail "admin dataset create with quota"
as auditor dataset ls --json > "$tmp/dsl.json" || fail "dataset ls"
[[ $(json_get "$tmp/dsl.json" 'len(d["datasets"])') -eq 2 ]] || fail "auditor sees 2 datasets"
as owner2 dataset ls --json > "$tmp/dsl.json" || fail "owner2 dataset ls"
[[ $(json_get "$tmp/dsl.json" 'len(d.get("datasets", []))') -eq 0 ]] || fail "owner2 sees owner1's datasets"

# --- put/get: byte-exact, files and pipes, ranges, versions.
head -c 5000000 /dev/urandom > "$tmp/a.bin"
as owner1 object put ds1/models/a.bin "$tmp/a.bin" --key k1 --label stage=raw --quiet \
  > "$tmp/put.txt" || { cat "$tmp/err" >&2; fail "object put"; }
grep -q "ds1/models/a.bin@1" "$tmp/put.txt" || fail "put output lacks the version"
[[ ! -s "$tmp/err" ]] || fail "put with --quiet wrote to stderr"
as owner1 object get ds1/models/a.bin "$tmp/a.out" || { cat "$tmp/err" >&2; fail "object get"; }
cmp -s "$tmp/a.bin" "$tmp/a.out" || fail "get is not byte-exact"
[[ $(stat -c %a "$tmp/a.out") == 600 ]] || fail "plaintext output is not mode 0600"
[[ ! -s "$tmp/err" ]] || fail "get wrote progress to a non-terminal stderr"
# On a terminal (script(1) gives it one) a get shows its progress (bytes,
# rate), unless --quiet.
script -qec "$(printf '%q ' "$bin/strongroom" --config "$tmp/owner1.yaml" object get \
  ds1/models/a.bin "$tmp/tty.out")" /dev/null > "$tmp/tty.log" || fail "object get on a terminal"
cmp -s "$tmp/a.bin" "$tmp/tty.out" || fail "get on a terminal is not byte-exact"
grep -aq "MiB.*/s" "$tmp/tty.log" || fail "no progress on a terminal: $(cat -v "$tmp/tty.log")"
script -qec "$(printf '%q ' "$bin/strongroom" --config "$tmp/owner1.yaml" object get \
  ds1/models/a.bin "$tmp/tty2.out" --quiet)" /dev/null > "$tmp/tty2.log" ||
  fail "object get --quiet on a terminal"
[[ ! -s "$tmp/tty2.log" ]] || fail "--quiet showed progress on a terminal: $(cat -v "$tmp/tty2.log")"
ls "$tmp"/a.out.partial-* >/dev/null 2>&1 && fail "a temporary output file was left behind"
as owner1 object get ds1/models/a.bin "$tmp/r.out" --range 1000000-1999999 || fail "ranged get"
cmp -s <(tail -c +1000001 "$tmp/a.bin" | head -c 1000000) "$tmp/r.out" || fail "range is wrong"
as owner1 object get ds1/models/a.bin "$tmp/r2.out" --range 4999990- || fail "open range"
cmp -s <(tail -c 10 "$tmp/a.bin") "$tmp/r2.out" || fail "open range is wrong"
expect_rc 2 "a bad --range" owner1 object get ds1/models/a.bin "$tmp/x" --range 9-3
expect_rc 2 "--raw with --range" owner1 object get ds1/models/a.bin "$tmp/x" --raw --range 0-9
mkfifo "$tmp/fifo"
expect_rc 2 "object get over a FIFO" owner1 object get ds1/models/a.bin "$tmp/fifo"
[[ -p "$tmp/fifo" ]] || fail "object get replaced the FIFO"
mkdir -p "$tmp/adir"
expect_rc 2 "object put of a folder" owner1 object put ds1/models/dir "$tmp/adir"
expect_rc 2 "a --segment-size below the format's" owner1 object put ds1/models/s "$tmp/a.bin" \
  --segment-size 100
expect_rc 2 "object ls --key-version 0" owner1 object ls --key k1 --key-version 0
expect_rc 2 "object ls --key-version without --key" owner1 object ls ds1 --key-version 1
head -c 300000 /dev/urandom > "$tmp/b.bin"
as owner1 object put ds1/models/a.bin - --quiet < "$tmp/b.bin" >/dev/null || fail "put from stdin"
as owner1 object get ds1/models/a.bin - > "$tmp/b.out" || fail "get to stdout"
cmp -s "$tmp/b.bin" "$tmp/b.out" || fail "latest version is not the stdin upload"
as owner1 object get ds1/models/a.bin@1 "$tmp/a2.out" || fail "get @1"
cmp -s "$tmp/a.bin" "$tmp/a2.out" || fail "version 1 changed"
: > "$tmp/empty"
as owner1 object put ds1/empty "$tmp/empty" >/dev/null || fail "put empty"
as owner1 object get ds1/empty "$tmp/empty.out" || fail "get empty"
[[ ! -s "$tmp/empty.out" ]] || fail "empty object is not empty"

# --- several objects stored together: all of them or none.
head -c 2000000 /dev/urandom > "$tmp/t1.bin"
head -c 2000000 /dev/urandom > "$tmp/t2.bin"
head -c 500000 /dev/urandom > "$tmp/t3.bin"
expect_rc 1 "a set over the quota" owner1 object put small/t1 "$tmp/t1.bin" small/t2 "$tmp/t2.bin" \
  --quiet
grep -q "small/t2: .*quota.*nothing stored" "$tmp/err" || fail "a refused set's error: $(cat "$tmp/err")"
as owner1 object ls small --json > "$tmp/ls.json" || fail "object ls small"
[[ $(json_get "$tmp/ls.json" 'len(d.get("objects", []))') -eq 0 ]] || fail "a refused set left objects"
# t1's staged upload was discarded with the set: its 2 MB no longer count.
as owner1 object put small/t1 "$tmp/t1.bin" small/t3 "$tmp/t3.bin" --quiet > "$tmp/put.txt" \
  || { cat "$tmp/err" >&2; fail "a set put"; }
[[ $(grep -c "^stored datasets/small/t[13]@" "$tmp/put.txt") -eq 2 ]] || fail "a set put's output: $(cat "$tmp/put.txt")"
as owner1 object get small/t3 "$tmp/t3.out" || fail "get a set's object"
cmp -s "$tmp/t3.bin" "$tmp/t3.out" || fail "a set's object is not byte-exact"
expect_rc 2 "a set across datasets" owner1 object put small/t4 "$tmp/t3.bin" ds1/t4 "$tmp/t3.bin"
expect_rc 2 "an odd argument count" owner1 object put small/t4 "$tmp/t3.bin" small/t5
expect_rc 2 "stdin twice" owner1 object put small/t4 - small/t5 - < "$tmp/t3.bin"
grep -q "small/t5: FILE '-' (stdin) is given for small/t4 already" "$tmp/err" \
  || fail "stdin twice: $(cat "$tmp/err")"
# (removed again: the checks below count the objects under k1)
as owner1 object rm small/t1@2 >/dev/null && as owner1 object rm small/t3@1 >/dev/null \
  || fail "removing a set's objects"

# --- metadata.
as owner1 object ls ds1 --json > "$tmp/ls.json" || fail "object ls"
[[ $(json_get "$tmp/ls.json" 'len(d["objects"])') -eq 2 ]] || fail "ls: want latest of 2 names"
as owner1 object ls ds1/models --all-versions --json > "$tmp/ls.json" || fail "ls --all-versions"
[[ $(json_get "$tmp/ls.json" 'len(d["objects"])') -eq 2 ]] || fail "ls: want 2 versions"
as owner1 object ls ds1 --page-size 1 --json > "$tmp/ls.json" || fail "ls --page-size 1"
[[ $(json_get "$tmp/ls.json" 'len(d["objects"])') -eq 1 ]] || fail "ls --page-size 1: want 1"
token=$(json_get "$tmp/ls.json" 'd["next_page_token"]')
[[ -n $token ]] || fail "ls --page-size 1: no next page token"
as owner1 object ls ds1 --page-size 1 --page-token "$token" --json > "$tmp/ls.json" \
  || fail "ls --page-token"
[[ $(json_get "$tmp/ls.json" 'len(d["objects"])') -eq 1 ]] || fail "ls --page-token: want 1"
as owner1 object ls ds1 --page-size 1 --all --json > "$tmp/ls.json" || fail "ls --all"
[[ $(json_get "$tmp/ls.json" 'len(d["objects"])') -eq 2 ]] || fail "ls --page-size 1 --all: want 2"
[[ -z $(json_get "$tmp/ls.json" 'd["next_page_token"]') ]] || fail "ls --all left a page token"
as auditor object stat ds1/models/a.bin@1 --json > "$tmp/stat.json" || fail "auditor stat"
[[ $(json_get "$tmp/stat.json" 'd["size"]') -eq 5000000 ]] || fail "stat size"
[[ $(json_get "$tmp/stat.json" 'd["labels"]["stage"]') == raw ]] || fail "labels not kept"
as owner1 dataset describe ds1 --json > "$tmp/desc.json" || fail "dataset describe"
[[ $(json_get "$tmp/desc.json" 'd["object_count"]') -eq 3 ]] || fail "dataset counts 3 objects"

# --- refusals: exit 1 from the server, 2 for local mistakes.
expect_rc 1 "admin reading plaintext" admin object get ds1/models/a.bin "$tmp/x"
expect_rc 1 "auditor reading" auditor object get ds1/models/a.bin "$tmp/x"
expect_rc 1 "owner2 reading owner1's object" owner2 object get ds1/models/a.bin "$tmp/x"
expect_rc 1 "owner2 writing to owner1's dataset" owner2 object put ds1/x "$tmp/b.bin"
expect_rc 1 "a --key that is not the dataset's" owner1 object put ds1/x "$tmp/b.bin" --key k2
expect_rc 1 "missing object" owner1 object get ds1/nope "$tmp/x"
expect_rc 2 "bad path" owner1 object get nodataset "$tmp/x"
expect_rc 2 "unreadable input" owner1 object put ds1/x "$tmp/does-not-exist"
expect_rc 2 "rm without a version" owner1 object rm ds1/models/a.bin
[[ ! -e "$tmp/x" ]] || fail "a refused get left an output file"
expect_rc 1 "upload over quota" owner1 object put small/big "$tmp/a.bin" --quiet
as owner1 object put small/ok "$tmp/b.bin" --quiet >/dev/null || fail "upload within quota"

# --- rotation: what a destruction would affect, re-wrap, destruction.
as admin key rotate k1 >/dev/null || fail "key rotate"
as owner1 object ls --key k1 --key-version 1 --json > "$tmp/aff.json" || fail "ls --key"
[[ $(json_get "$tmp/aff.json" 'len(d["objects"])') -eq 4 ]] || fail "ls --key: want 4 versions on v1"
as owner1 object rewrap ds1 --wait --json > "$tmp/rw.json" || fail "object rewrap"
[[ $(json_get "$tmp/rw.json" 'd["state"]') == DONE ]] || fail "rewrap did not finish"
[[ $(json_get "$tmp/rw.json" 'd["done"]') -eq 3 ]] || fail "rewrap: want 3 objects re-wrapped"
as owner1 object ls --key k1 --key-version 1 --json > "$tmp/aff.json" || fail "ls --key after"
[[ $(json_get "$tmp/aff.json" 'len(d.get("objects", []))') -eq 1 ]] || fail "only small/ok left on v1"
as owner1 object get ds1/models/a.bin@1 "$tmp/a3.out" || fail "get after rewrap"
cmp -s "$tmp/a.bin" "$tmp/a3.out" || fail "rewrap changed the data"
as admin key destroy k1 1 >/dev/null || fail "destroy v1"
expect_rc 1 "object under a destroyed version" owner1 object get small/ok "$tmp/x"
grep -q "Decrypt" "$tmp/err" || fail "destroyed-version error does not name the KMS call"
as owner1 object get ds1/models/a.bin@1 "$tmp/a4.out" || fail "re-wrapped object after destroy"
cmp -s "$tmp/a.bin" "$tmp/a4.out" || fail "re-wrapped object changed"

# --- rekey: a new data key, same plaintext.
as owner1 object get ds1/models/a.bin@1 "$tmp/raw1" --raw || fail "raw export"
[[ $(head -c 4 "$tmp/raw1") == SRSO ]] || fail "raw export lacks the SRSO magic"
as owner1 object rekey ds1/models/a.bin@1 --json > "$tmp/rk.json" || { cat "$tmp/err" >&2; fail "rekey"; }
[[ $(json_get "$tmp/rk.json" 'd["state"]') == DONE ]] || fail "rekey did not finish"
as owner1 object get ds1/models/a.bin@1 "$tmp/raw2" --raw || fail "raw export after rekey"
cmp -s "$tmp/raw1" "$tmp/raw2" && fail "rekey did not change the ciphertext"
as owner1 object get ds1/models/a.bin@1 "$tmp/a5.out" || fail "get after rekey"
cmp -s "$tmp/a.bin" "$tmp/a5.out" || fail "rekey changed the data"

# --- delete by version; the store stays consistent.
as owner1 object rm ds1/models/a.bin@2 >/dev/null || fail "object rm"
expect_rc 1 "deleted version" owner1 object get ds1/models/a.bin@2 "$tmp/x"
as admin store check > "$tmp/check.txt" || { cat "$tmp/check.txt" >&2; fail "store check"; }
grep -q "store check passed" "$tmp/check.txt" || fail "store check output"
grep -q " 0 orphaned segments" "$tmp/check.txt" || fail "orphaned segments"
expect_rc 1 "owners may not run the store check" owner1 store check
# Every change an owner or admin made is in the audit chain, with its detail.
as auditor audit export --out "$tmp/audit.jsonl" || fail "audit export"
for action in '"action":"create_dataset"' '"action":"delete_object"' '"action":"start_rewrap"' \
              '"action":"begin_rekey"' '"action":"rotate_key"'; do
  grep -q "$action" "$tmp/audit.jsonl" || fail "audit export lacks $action"
done
grep '"action":"create_dataset"' "$tmp/audit.jsonl" | grep -q '"reason_detail":"owner spiffe://strongroom/owner1 key keys/k1' \
  || fail "create_dataset record lacks its owner and key"
grep '"action":"delete_object"' "$tmp/audit.jsonl" | grep -q '"resource":"datasets/ds1/models/a.bin@2"' \
  || fail "delete_object record does not name the object version"
as auditor audit verify "$tmp/audit.jsonl" --allow-unpinned >/dev/null || fail "audit verify"
# Stop the server before the temp dir goes: it may still be flushing.
kill -TERM "$pid"; wait "$pid" || true; pid=""
echo "1 passed, 0 failed"
