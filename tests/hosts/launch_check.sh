#!/usr/bin/env bash
# launch_check.sh NRANKS command...: runs a perf tool through a launcher
# (mpirun, strata-hosts --mpirun, strata-run --hosts) and checks that it
# exited 0, that all NRANKS ranks formed one communicator (the tool's header
# says "NRANKS ranks": a launcher whose ranks did not find each other gives
# NRANKS communicators of 1) and that every value was right.
# Exit 77 (skip) is passed through: the emulated-host launchers need root.
set -uo pipefail
[ $# -ge 2 ] || { echo "usage: launch_check.sh NRANKS command..." >&2; exit 2; }
want=$1
shift
out=$(mktemp)
trap 'rm -f "$out"' EXIT
"$@" 2>&1 | tee "$out"
rc=${PIPESTATUS[0]}
[ "$rc" -eq 77 ] && exit 77
if [ "$rc" -ne 0 ]; then
  echo "launch_check: the launcher exited with $rc" >&2
  exit 1
fi
if ! grep -Eq "_perf: Strata .*, $want ranks\$" "$out"; then
  echo "launch_check: no header for one communicator of $want ranks" >&2
  exit 1
fi
if ! grep -q "Out of bounds values : 0 OK" "$out"; then
  echo "launch_check: no 'Out of bounds values : 0 OK' line" >&2
  exit 1
fi
echo "launch_check: $want ranks, all values right"
