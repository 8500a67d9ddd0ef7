# The shared start of the runner's guest tests (wl-*.sh; sourced).  No set -e
# here, unlike lib.sh: these tests run the runner and judge its exit statuses.
# shellcheck shell=bash disable=SC2034 # the variables are for the tests that source this
set -uo pipefail
top=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
: "${WBTRACE_SCRATCH:?not in the lab guest: run through ./wbtrace vm run}"
run=$top/workloads/wbtrace-run
PY=/usr/bin/python3
out=$(mktemp -d "/tmp/$(basename "$0" .sh).XXXXXX")
fails=0
fail() { echo "  FAIL: $*"; fails=$((fails + 1)); }
# wl_json get|items FILE ...: values from the runner's JSON files (wl_json.py).
wl_json() { $PY "$top/tests/guest/wl_json.py" "$@"; }
