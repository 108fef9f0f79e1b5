#!/usr/bin/env bash
# Tests the completion shim plugins/kubectl_complete-pgbackrest the way kubectl (>= 1.26) uses it.
#   plugins/test.sh [path/to/kubectl-pgbackrest]
# Without an argument, kubectl-pgbackrest must already be on PATH (e.g. after `make build`:
# PATH=$PWD/bin:$PATH). Needs kubectl on PATH; needs no cluster (only static completions are
# checked, and KUBECONFIG points nowhere so nothing can reach a cluster by accident).
#
# Two ways in, both checked for each case:
#  - the shim alone: `kubectl_complete-pgbackrest ARGS...`, as kubectl runs it;
#  - through kubectl itself: `kubectl __complete pgbackrest ARGS...`, which is what the shell's
#    kubectl completion runs on <TAB>; kubectl then finds the shim on PATH and calls it.
# Both answer in cobra's __complete protocol: one candidate a line ("value<TAB>description"), then a
# ":<directive>" line.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)

if [ $# -gt 0 ]; then
  bin=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
  [ -x "$bin" ] || { echo "plugins/test.sh: $1 is not an executable" >&2; exit 2; }
  [ "$(basename "$bin")" = kubectl-pgbackrest ] || { echo "plugins/test.sh: the binary must be named kubectl-pgbackrest" >&2; exit 2; }
  PATH=$(dirname "$bin"):$PATH
fi
# This shim, not one installed elsewhere.
PATH=$here:$PATH
export PATH
command -v kubectl >/dev/null || { echo "plugins/test.sh: kubectl is not on PATH" >&2; exit 2; }
command -v kubectl-pgbackrest >/dev/null ||
  { echo "plugins/test.sh: kubectl-pgbackrest is not on PATH (build it, or pass its path)" >&2; exit 2; }
[ "$(command -v kubectl_complete-pgbackrest)" = "$here/kubectl_complete-pgbackrest" ] ||
  { echo "plugins/test.sh: PATH finds $(command -v kubectl_complete-pgbackrest), not $here's shim" >&2; exit 2; }

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
export KUBECONFIG=$tmp/no-kubeconfig
export NO_COLOR=1

failures=0
fail() { echo "FAIL: $*" >&2; failures=$((failures + 1)); }
pass() { echo "ok:   $*"; }

# candidates HOW ARGS...: runs the completion and prints the candidate values, one a line.
# HOW is "shim" or "kubectl". Fails the case when the protocol is not followed.
candidates() {
  local how=$1; shift
  local out=$tmp/out
  if [ "$how" = shim ]; then
    kubectl_complete-pgbackrest "$@" >"$out" 2>"$tmp/err" </dev/null || { echo "exit status $?"; return 1; }
  else
    kubectl __complete pgbackrest "$@" >"$out" 2>"$tmp/err" </dev/null || { echo "exit status $?"; return 1; }
  fi
  tail -n 1 "$out" | grep -Eq '^:[0-9]+$' || { echo "no :<directive> last line; got: $(tail -n 3 "$out" | tr '\n' '|')"; return 1; }
  sed '$d' "$out" | cut -f1
}

# expect NAME WANT... -- ARGS...: every WANT is among the candidates of ARGS, by both ways.
expect() {
  local name=$1; shift
  local want=()
  while [ "$1" != -- ]; do want+=("$1"); shift; done
  shift
  local how got missing
  for how in shim kubectl; do
    if ! got=$(candidates "$how" "$@"); then
      fail "$name ($how): $got; stderr: $(head -c 300 "$tmp/err")"
      continue
    fi
    missing=()
    for w in "${want[@]}"; do
      printf '%s\n' "$got" | grep -qxF -- "$w" || missing+=("$w")
    done
    if [ ${#missing[@]} -gt 0 ]; then
      fail "$name ($how): missing ${missing[*]}; candidates: $(printf '%s ' $got)"
    else
      pass "$name ($how): ${want[*]}"
    fi
  done
}

# refuse NAME UNWANTED... -- ARGS...: none of UNWANTED is among the candidates (shim only).
refuse() {
  local name=$1; shift
  local unwanted=()
  while [ "$1" != -- ]; do unwanted+=("$1"); shift; done
  shift
  local got
  got=$(candidates shim "$@") || { fail "$name: $got"; return; }
  for u in "${unwanted[@]}"; do
    if printf '%s\n' "$got" | grep -qxF -- "$u"; then fail "$name: unexpected candidate $u"; return; fi
  done
  pass "$name: none of ${unwanted[*]}"
}

# kubectl pgbackrest <TAB>
expect "subcommands" \
  create list delete s3 backup info show check restore promote retired cleanup version -- ""
# kubectl pgbackrest b<TAB>
expect "prefix b" backup -- b
refuse "prefix b" create restore list -- b
# kubectl pgbackrest s3 <TAB>
expect "s3 subcommands" configure show -- s3 ""
# kubectl pgbackrest create db --storage <TAB>, and --storage=<TAB> (cobra answers the value alone;
# the shell keeps the "--storage=" part)
expect "create --storage" local s3 local,s3 -- create db --storage ""
expect "create --storage=" local s3 local,s3 -- create db --storage=
# kubectl pgbackrest backup db --type <TAB>
expect "backup --type" full diff incr -- backup db --type ""
# kubectl pgbackrest --color <TAB>
expect "--color" auto always never -- --color ""

if [ "$failures" -gt 0 ]; then
  echo "plugins/test.sh: $failures failure(s)" >&2
  exit 1
fi
echo "plugins/test.sh: completion shim OK"
