# Shared set-up for the end-to-end scripts; source it after setting
# bin=BUILD_BIN_DIR and src=SOURCE_DIR.
#
#   e2e_provision NAME:ROLE...   token, CA with a client per NAME, $tmp/strongroomd.yaml
#   e2e_start                    strongroomd on 127.0.0.1 port 0; sets $pid and $port
#   e2e_client_config NAME       writes $tmp/NAME.yaml for the CLI's --config
#   as WHO ARGS...               runs the CLI as WHO ($tmp/WHO.yaml); stderr to $tmp/err
#   expect_rc RC WHAT WHO ARGS...  the CLI run as WHO exits RC (stdout to $tmp/out)
#   json_ok < FILE               FILE is JSON
#   json_get FILE EXPR           prints the Python EXPR over the JSON in FILE as d
#   fail MESSAGE                 prints MESSAGE and the server log's tail, exits 1
# The temp dir $tmp and the server are removed on exit.
tmp=$(mktemp -d)
pid=""
port=""
# Waits for the server to finish its clean stop (it signs its audit head and
# moves the anchor in the token under $tmp/hsm) before removing $tmp.
cleanup() {
  if [[ -n "$pid" ]] && kill "$pid" 2>/dev/null; then wait "$pid" 2>/dev/null; fi
  rm -rf "$tmp"
}
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; [[ -f "$tmp/server.log" ]] && tail -5 "$tmp/server.log" >&2; exit 1; }

e2e_provision() {
  local clients=() principals="" entry name role
  for entry in "$@"; do
    name=${entry%%:*} role=${entry#*:}
    clients+=(--client "$name")
    principals+="  - {name: \"spiffe://strongroom/$name\", role: $role}"$'\n'
  done
  "$src/hsm-sim/provision-token.sh" --dir "$tmp/hsm" --label e2e >/dev/null
  "$src/deploy/local-ca.sh" --dir "$tmp/pki" "${clients[@]}" >/dev/null
  cat > "$tmp/strongroomd.yaml" <<YAML
server:
  listen: 127.0.0.1:0
  tls: {cert: pki/server.crt, key: pki/server.key, client_ca: pki/ca.crt}
hsm: {module: /usr/lib/softhsm/libsofthsm2.so, token_label: e2e, pin_file: hsm/user.pin, softhsm_conf: hsm/softhsm2.conf}
storage: {path: db}
principals:
$principals
YAML
}

e2e_start() {
  "$bin/strongroomd" --config "$tmp/strongroomd.yaml" --port-file "$tmp/port" >"$tmp/server.log" 2>&1 &
  pid=$!
  for _ in $(seq 100); do [[ -s "$tmp/port" ]] && break; sleep 0.1; done
  [[ -s "$tmp/port" ]] || fail "strongroomd did not start"
  port=$(cat "$tmp/port")
}

e2e_client_config() {
  printf 'server: 127.0.0.1:%s\nca: pki/ca.crt\ncert: pki/clients/%s.crt\nkey: pki/clients/%s.key\n' \
    "$port" "$1" "$1" > "$tmp/$1.yaml"
}

as() { local who=$1; shift; "$bin/strongroom" --config "$tmp/$who.yaml" "$@" 2>"$tmp/err"; }

expect_rc() {
  local want=$1 what=$2; shift 2
  local rc=0
  as "$@" >"$tmp/out" || rc=$?
  [[ $rc -eq $want ]] || { cat "$tmp/err" >&2; fail "$what: exit $rc, want $want"; }
}

json_ok() { python3 -c 'import json,sys; json.load(sys.stdin)'; }
json_get() { python3 -c "import json,sys,base64; d=json.load(open(sys.argv[1])); print($2)" "$1"; }
