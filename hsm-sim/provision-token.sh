#!/usr/bin/env bash
# Provisions a SoftHSM2 token in a directory of its own.
#
#   provision-token.sh --dir DIR --label LABEL [--pin PIN] [--so-pin SOPIN]
#
# Creates DIR/tokens and DIR/softhsm2.conf, keeps the user and SO PINs in
# DIR/user.pin and DIR/so.pin (mode 0600, no trailing newline), and
# initialises a token labelled LABEL in the first free slot. PINs that are not
# given are read from existing DIR/*.pin files, or else generated from
# /dev/urandom (16 random bytes, hex), so several tokens in one DIR share PINs.
#
# Idempotent: when DIR already holds a token labelled LABEL nothing is changed.
# On success the last line on stdout is `SOFTHSM2_CONF=DIR/softhsm2.conf` (DIR
# absolute); everything else goes to stderr. Exits non-zero on any failure.
#
# PINs never appear on the command line of any process but softhsm2-util,
# which only accepts them there (see the comment at its call). Passing --pin
# or --so-pin to this script puts them on its own command line: leave them out
# outside tests.
set -euo pipefail

readonly prog="${0##*/}"

die() {
  echo "${prog}: error: $*" >&2
  exit 1
}

usage() {
  echo "usage: ${prog} --dir DIR --label LABEL [--pin PIN] [--so-pin SOPIN]" >&2
  exit 2
}

dir=""
label=""
pin=""
so_pin=""
while [[ $# -gt 0 ]]; do
  case "$1" in
    --dir) [[ $# -ge 2 ]] || usage; dir="$2"; shift 2 ;;
    --label) [[ $# -ge 2 ]] || usage; label="$2"; shift 2 ;;
    --pin) [[ $# -ge 2 ]] || usage; pin="$2"; shift 2 ;;
    --so-pin) [[ $# -ge 2 ]] || usage; so_pin="$2"; shift 2 ;;
    -h|--help) usage ;;
    *) echo "${prog}: error: unknown argument '$1'" >&2; usage ;;
  esac
done

[[ -n "${dir}" ]] || { echo "${prog}: error: --dir is required" >&2; usage; }
[[ -n "${label}" ]] || { echo "${prog}: error: --label is required" >&2; usage; }
# PKCS#11 token labels are 32 bytes, blank padded.
(( $(printf '%s' "${label}" | wc -c) <= 32 )) ||
  die "label '${label}' is longer than 32 bytes"
[[ "${label}" != *$'\n'* ]] || die "label must not contain a newline"

command -v softhsm2-util >/dev/null 2>&1 ||
  die "softhsm2-util not found in PATH (install the softhsm2 package)"

umask 077
mkdir -p "${dir}/tokens" || die "cannot create '${dir}/tokens'"
dir="$(cd "${dir}" && pwd -P)" || die "cannot resolve directory '${dir}'"
readonly conf="${dir}/softhsm2.conf"

# Lists the labels of the initialised tokens, one per line, blanks trimmed.
token_labels() {
  SOFTHSM2_CONF="${conf}" softhsm2-util --show-slots 2>/dev/null |
    sed -n 's/^ *Label: *//p' | sed 's/ *$//' | grep -v '^$' || true
}

# Writes a secret into a 0600 file without a trailing newline. printf is a
# bash builtin: the secret is never in any process's argv.
write_secret() {
  local path="$1" value="$2" tmp
  tmp="$(mktemp "${path}.XXXXXX")" || die "cannot create a file next to '${path}'"
  printf '%s' "${value}" >"${tmp}" || { rm -f "${tmp}"; die "cannot write '${path}'"; }
  if ! chmod 0600 "${tmp}" || ! mv -f "${tmp}" "${path}"; then
    rm -f "${tmp}"
    die "cannot install '${path}'"
  fi
}

random_pin() {
  local hex
  hex="$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')" ||
    die "cannot read /dev/urandom"
  [[ ${#hex} -eq 32 ]] || die "short read from /dev/urandom"
  printf '%s' "${hex}"
}

if [[ ! -f "${conf}" ]]; then
  tmp_conf="$(mktemp "${conf}.XXXXXX")" || die "cannot write '${conf}'"
  cat >"${tmp_conf}" <<EOF || die "cannot write '${conf}'"
# Written by ${prog}.
directories.tokendir = ${dir}/tokens
objectstore.backend = file
log.level = ERROR
slots.removable = false
EOF
  chmod 0600 "${tmp_conf}"
  mv -f "${tmp_conf}" "${conf}" || die "cannot install '${conf}'"
fi

if token_labels | grep -qxF -- "${label}"; then
  echo "${prog}: token '${label}' already exists in ${dir}; nothing to do" >&2
  echo "SOFTHSM2_CONF=${conf}"
  exit 0
fi

for kind in user so; do
  file="${dir}/${kind}.pin"
  if [[ "${kind}" == user ]]; then value="${pin}"; else value="${so_pin}"; fi
  if [[ -n "${value}" ]]; then
    write_secret "${file}" "${value}"
  elif [[ -s "${file}" ]]; then
    chmod 0600 "${file}" || die "cannot chmod '${file}'"
  else
    value="$(random_pin)" || exit 1
    write_secret "${file}" "${value}"
  fi
done

# softhsm2-util takes PINs only as arguments, so for the life of this one
# process they are visible in its argv (/proc/PID/cmdline) to this user and
# root. Nothing else ever receives them on a command line; $(<file) is a bash
# builtin read, not a `cat` process.
if ! out="$(SOFTHSM2_CONF="${conf}" softhsm2-util --init-token --free \
    --label "${label}" --pin "$(<"${dir}/user.pin")" \
    --so-pin "$(<"${dir}/so.pin")" 2>&1)"; then
  echo "${out}" >&2
  die "softhsm2-util --init-token failed for label '${label}' in ${dir}"
fi

token_labels | grep -qxF -- "${label}" ||
  die "token '${label}' not visible after initialisation in ${dir}"

echo "SOFTHSM2_CONF=${conf}"
