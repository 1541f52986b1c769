#!/usr/bin/env bash
# Crash test of the sealed store: strongroomd is killed with SIGKILL at named
# crash points (storage/sealed/crash_point.h: STRONGROOM_TEST_CRASH_AT) during
# uploads, commits, deletes, re-wraps, rekeys and even during the recovery of
# an earlier crash, and at random moments of large uploads and rekeys. After
# every restart it checks that the database opens, every committed object
# reads back bit-exact, no uncommitted object is visible, and the store check
# finds no orphaned segment and no leftover upload.
#   sealed_store_crash_test.sh BUILD_BIN_DIR SOURCE_DIR
set -euo pipefail
bin=$1 src=$2
# shellcheck source=tests/e2e/lib.sh
source "$src/tests/e2e/lib.sh"

p=spiffe://strongroom
e2e_provision admin:admin owner:owner auditor:auditor
cat >> "$tmp/strongroomd.yaml" <<'YAML'
store: {maintenance_interval: 100ms}
logging: {level: warning}
YAML

# stop: ends a running strongroomd cleanly (SIGTERM).
stop() {
  if [[ -n "$pid" ]]; then
    kill -TERM "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
    pid=""
  fi
}
# start [CRASH_POINT]: strongroomd (stopping one that runs), armed to die at
# CRASH_POINT when given.
start() {
  stop
  rm -f "$tmp/port"
  STRONGROOM_TEST_CRASH_AT="${1:-}" "$bin/strongroomd" --config "$tmp/strongroomd.yaml" \
    --port-file "$tmp/port" >>"$tmp/server.log" 2>&1 &
  pid=$!
  for _ in $(seq 200); do [[ -s "$tmp/port" ]] && break; kill -0 "$pid" 2>/dev/null || break; sleep 0.05; done
  if [[ -s "$tmp/port" ]]; then
    port=$(cat "$tmp/port")
    e2e_client_config admin
    e2e_client_config owner
    e2e_client_config auditor
  fi
}
# expect_killed WHAT: the server died of SIGKILL (exit status 137).
expect_killed() {
  local rc=0
  for _ in $(seq 200); do kill -0 "$pid" 2>/dev/null || break; sleep 0.05; done
  if kill -0 "$pid" 2>/dev/null; then
    # The crash point never fired: stop the server and say which point.
    kill -9 "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
    pid=""
    fail "$1: strongroomd still running 10 s after the operation; its crash point did not fire"
  fi
  wait "$pid" || rc=$?
  pid=""
  [[ $rc -eq 137 ]] || fail "$1: strongroomd exited with $rc, expected SIGKILL (137)"
  points=$((points + 1))
}
as() { local who=$1; shift; "$bin/strongroom" --config "$tmp/$who.yaml" "$@" 2>>"$tmp/cli.err"; }

# The ledger: NAME SHA256 of every object that must exist (latest version).
declare -A ledger
verify() {
  local what=$1 name sum
  for name in "${!ledger[@]}"; do
    as owner object get "ds/$name" - --quiet > "$tmp/got" || fail "$what: committed ds/$name unreadable"
    sum=$(sha256sum < "$tmp/got" | cut -d' ' -f1)
    [[ "$sum" == "${ledger[$name]}" ]] || fail "$what: ds/$name is not bit-exact"
  done
  as owner object ls ds --json > "$tmp/ls.json" || fail "$what: object ls"
  local listed
  listed=$(python3 -c "import json; print(len(json.load(open('$tmp/ls.json')).get('objects', [])))")
  [[ $listed -eq ${#ledger[@]} ]] || fail "$what: $listed objects visible, ${#ledger[@]} committed"
  as admin store check > "$tmp/check.txt" || { cat "$tmp/check.txt" >&2; fail "$what: store check"; }
  grep -q " 0 open uploads" "$tmp/check.txt" || fail "$what: uploads survived the restart"
  grep -q " 0 orphaned segments" "$tmp/check.txt" || fail "$what: orphaned segments"
}
new_file() { head -c "$2" /dev/urandom > "$tmp/$1"; sha256sum < "$tmp/$1" | cut -d' ' -f1; }

points=0
start
as admin key create k1 --owner "$p/owner" >/dev/null || fail "key create"
as owner dataset create ds --key k1 >/dev/null || fail "dataset create"
as admin dataset create q --key k1 --owner "$p/owner" --quota 100000 >/dev/null || fail "dataset q"
for i in 1 2 3; do
  ledger[base$i]=$(new_file base$i 300000)
  as owner object put "ds/base$i" "$tmp/base$i" --quiet --segment-size 65536 >/dev/null || fail "put base$i"
done
kill -KILL "$pid"; expect_killed "plain kill"

# crash_put POINT VISIBLE [SIZE]: an upload killed at POINT; VISIBLE says
# whether the object exists after the restart (yes: the commit was durable
# first). Past 8 MiB an upload's segments skip the WAL until the commit.
crash_put() {
  local point=$1 visible=$2 size=${3:-700000} name
  name=obj$points
  local sum
  sum=$(new_file "$name" "$size")
  start "$point"
  as owner object put "ds/$name" "$tmp/$name" --quiet --segment-size 65536 >/dev/null || true
  expect_killed "$point"
  start
  if [[ $visible == yes ]]; then ledger[$name]=$sum; fi
  verify "$point"
}
crash_put upload.begin.after_write no
crash_put upload.segment.before_write@1 no
crash_put upload.segment.after_write@1 no
crash_put upload.segment.after_write@6 no
crash_put upload.commit.before_write no
crash_put upload.commit.after_write yes
crash_put upload.segment.after_write@150 no 12000000
crash_put upload.commit.after_flush no 12000000
crash_put upload.commit.after_write yes 12000000

# crash_put_together POINT VISIBLE: two objects stored together (staged,
# then one commit) killed at POINT; both or neither exist after the restart.
crash_put_together() {
  local point=$1 visible=$2 a b sa sb
  a=obj${points}a b=obj${points}b
  sa=$(new_file "$a" 300000)
  sb=$(new_file "$b" 200000)
  start "$point"
  as owner object put "ds/$a" "$tmp/$a" "ds/$b" "$tmp/$b" --quiet --segment-size 65536 \
    >/dev/null || true
  expect_killed "$point"
  start
  if [[ $visible == yes ]]; then ledger[$a]=$sa; ledger[$b]=$sb; fi
  verify "$point"
}
crash_put_together upload.stage.after_write@1 no
crash_put_together upload.stage.after_write@2 no
crash_put_together upload.commit_staged.before_write no
crash_put_together upload.commit_staged.after_write yes

# An upload the server refuses (over the dataset's quota) is discarded;
# dying while discarding leaves nothing either.
start upload.discard.before_write
as owner object put q/refused "$tmp/base1" --quiet --segment-size 65536 >/dev/null || true
expect_killed upload.discard.before_write
start
as owner object stat q/refused >/dev/null 2>&1 && fail "a refused upload is visible"
verify upload.discard.before_write

# Crash while recovering from a crash: an upload left behind, then a kill
# while startup discards it.
name=obj$points; sum=$(new_file "$name" 700000)
start upload.segment.after_write@3
as owner object put "ds/$name" "$tmp/$name" --quiet --segment-size 65536 >/dev/null || true
expect_killed upload.segment.after_write@3
start open.discard_upload.after_write
expect_killed open.discard_upload.after_write
start
verify open.discard_upload.after_write

start dataset.create.after_write
as admin dataset create ds2 --key k1 --owner "$p/owner" >/dev/null || true
expect_killed dataset.create.after_write
start
as owner dataset describe ds2 >/dev/null || fail "a dataset acknowledged durable is gone"
verify dataset.create.after_write

# Deletes: before the batch nothing changed; after it the object is gone.
start delete.before_write
as owner object rm ds/base3@1 >/dev/null || true
expect_killed delete.before_write
start; verify delete.before_write
start delete.after_write
as owner object rm ds/base3@1 >/dev/null || true
expect_killed delete.after_write
unset 'ledger[base3]'
start; verify delete.after_write

# Rekey: killed anywhere, the object reads with the old key until the swap
# and with the new one after; running rekey again resumes and finishes.
for point in rekey.begin.after_write rekey.header.after_write rekey.segment.after_write@1 \
             rekey.segment.after_write@3 rekey.commit.before_write rekey.commit.after_write; do
  start "$point"
  as owner object rekey ds/base1 --quiet >/dev/null || true
  expect_killed "$point"
  start
  verify "$point"
  as owner object rekey ds/base1 --quiet >/dev/null || fail "$point: rekey did not resume"
  verify "$point (resumed)"
done

# Re-wrap after a rotation: the background job is killed between objects;
# after the restart it carries on from its cursor.
as admin key rotate k1 >/dev/null || fail "key rotate"
for point in rewrap.start.after_write rewrap.object.before_write@1 rewrap.object.after_write@2; do
  start "$point"
  as owner object rewrap ds --wait >/dev/null || true
  expect_killed "$point"
  start
  verify "$point"
  as owner object rewrap ds --wait --json > "$tmp/rw.json" || fail "$point: rewrap"
  [[ $(python3 -c "import json; print(json.load(open('$tmp/rw.json'))['state'])") == DONE ]] \
    || fail "$point: rewrap did not finish"
  as admin key rotate k1 >/dev/null || fail "key rotate"
done
stop

# Random moments: SIGKILL from outside during large uploads and rekeys.
for delay in 0.3 0.7 1.1; do
  name=big$points
  sum=$(new_file "$name" 24000000)
  start
  as owner object put "ds/$name" "$tmp/$name" --quiet >/dev/null &
  cli=$!
  sleep "$delay"
  kill -KILL "$pid"; expect_killed "kill during upload after ${delay}s"
  wait "$cli" || true
  start
  if as owner object stat "ds/$name" >/dev/null; then ledger[$name]=$sum; fi
  verify "kill during upload after ${delay}s"
  stop
done
start
ledger[bigrk]=$(new_file bigrk 24000000)
as owner object put ds/bigrk "$tmp/bigrk" --quiet >/dev/null || fail "put bigrk"
for delay in 0.2 0.6 1.0; do
  as owner object rekey ds/bigrk --quiet >/dev/null &
  cli=$!
  sleep "$delay"
  kill -KILL "$pid"; expect_killed "kill during rekey after ${delay}s"
  wait "$cli" || true
  start
  verify "kill during rekey after ${delay}s"
done
as owner object rekey ds/bigrk --quiet >/dev/null || fail "rekey of bigrk did not resume"
verify "final"
[[ $points -ge 20 ]] || fail "only $points crash points"
stop
named=$(grep -c "crash point reached" "$tmp/server.log" || true)
[[ $named -ge 20 ]] || fail "only $named named crash points fired"
# Every start after a kill found the audit records past the last checkpoint
# under the head MAC they were written with, and said so in the chain; the
# export verifies.
start
as auditor audit export --out "$tmp/audit.jsonl" || fail "audit export"
verified=$(grep -c '"reason_id":"audit.head_mac_verified_at_start"' "$tmp/audit.jsonl" || true)
[[ $verified -ge 1 ]] || fail "no start noted a verified audit tail"
if grep -q '"reason_id":"audit.unsigned_at_start"' "$tmp/audit.jsonl"; then
  fail "a start found an audit tail it could not verify"
fi
as auditor audit verify "$tmp/audit.jsonl" --allow-unpinned >/dev/null || fail "audit verify"
stop
echo "$points SIGKILLs ($named at named crash points); 1 passed, 0 failed"
