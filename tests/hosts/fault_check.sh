#!/usr/bin/env bash
# fault_check.sh STRATA_HOSTS FAULT_CHECK MODE HOSTS RANKS_PER_HOST [tls]
# Runs fault_check (see fault_check.cc) on emulated hosts with a small
# STRATA_TIMEOUT and checks its reports: every healthy rank failed with an
# error text, and at least one names the fault:
#   wrong-secret       healthy: a rank did not join / timed out; the forged
#                      rank: its secret was refused
#   garbage-data       a malformed tcp part header from the faulty rank
#   garbage-bootstrap  a malformed bootstrap message from the faulty rank
#   stall              a timeout waiting for the faulty rank
#   kill               the faulty rank's connection closed or reset
# With "tls" the ranks run STRATA_TLS=1, and garbage on a data socket must be
# reported as a damaged or forged TLS record.
# Exit 77 (skip) without root, as strata-hosts; 1 on a failed check.
set -uo pipefail
[ $# -eq 5 ] || [ $# -eq 6 ] ||
  { echo "usage: fault_check.sh STRATA_HOSTS FAULT_CHECK MODE HOSTS RANKS_PER_HOST [tls]" >&2; exit 2; }
tool=$1 prog=$2 mode=$3 hosts=$4 per_host=$5 tls=${6:-}
[ -z "$tls" ] || [ "$tls" = tls ] || { echo "fault_check.sh: the last argument may only be 'tls'" >&2; exit 2; }
export STRATA_TLS=0
[ "$tls" = tls ] && STRATA_TLS=1
nranks=$((hosts * per_host))
faulty=$((nranks - 1))
timeout_s=${FAULT_CHECK_TIMEOUT:-6}
reports=$(mktemp -d)
trap 'rm -rf "$reports"' EXIT

STRATA_TIMEOUT=$timeout_s STRATA_HANDSHAKE_TIMEOUT_MS=3000 \
  bash "$tool" --hosts "$hosts" --ranks-per-host "$per_host" --timeout $((6 * timeout_s + 90)) -- \
  "$prog" --fault "$mode" --reports "$reports"
rc=$?
[ "$rc" -eq 77 ] && exit 77
if [ "$rc" -ne 0 ]; then
  echo "fault_check.sh: the run exited with $rc (a crash, a hang or a bad rank exit)" >&2
  exit 1
fi

fail=0
named=0
case "$mode" in
  wrong-secret) pattern="missing rank\\(s\\)[^;]*\\b$faulty\\b" ;;
  garbage-data)
    pattern="rank $faulty.*(part header|magic)|(part header|magic).*rank $faulty"
    [ "$tls" = tls ] && pattern="rank $faulty.*TLS receive failed \\(a damaged or forged record\\)" ;;
  garbage-bootstrap) pattern="bootstrap.*rank $faulty.*(malformed|magic|header)" ;;
  stall) pattern="(timed out|timeout|within [0-9]+).*rank $faulty|rank $faulty.*(timed out|within [0-9]+)" ;;
  kill) pattern="rank $faulty.*(closed|reset|gone|died)|(closed|reset|gone|died).*rank $faulty" ;;
  *) echo "fault_check.sh: unknown mode $mode" >&2; exit 2 ;;
esac
for ((r = 0; r < nranks; r++)); do
  [ "$r" -eq "$faulty" ] && continue
  f=$reports/rank$r.txt
  if [ ! -f "$f" ]; then
    echo "fault_check.sh: rank $r wrote no report" >&2
    fail=1
    continue
  fi
  result=$(sed -n 's/^result //p' "$f")
  error=$(sed -n 's/^error //p' "$f")
  if [ "$result" != error ] || [ -z "$error" ]; then
    echo "fault_check.sh: rank $r saw no error (result '$result')" >&2
    fail=1
  fi
  if grep -Eiq -- "$pattern" <<<"$error"; then named=$((named + 1)); fi
done
if [ "$named" -eq 0 ]; then
  echo "fault_check.sh: no healthy rank's error names the fault (/$pattern/)" >&2
  fail=1
fi
if [ "$mode" = wrong-secret ]; then
  f=$reports/rank$faulty.txt
  error=$(sed -n 's/^error //p' "$f" 2>/dev/null)
  if ! grep -Eiq "secret|authenticat" <<<"$error"; then
    echo "fault_check.sh: the forged rank's error does not say its secret was refused: '$error'" >&2
    fail=1
  fi
fi
[ "$fail" -eq 0 ] && echo "fault_check.sh: $mode: $named healthy rank(s) named the fault; all failed cleanly"
exit "$fail"
