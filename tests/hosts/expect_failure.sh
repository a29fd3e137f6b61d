#!/usr/bin/env bash
# expect_failure.sh PATTERN command...: passes when the command fails (a
# non-zero exit that is not a timeout) and its output matches the extended
# regular expression PATTERN, the error a user should see. Exit 77 (skip)
# is passed through.
set -uo pipefail
[ $# -ge 2 ] || { echo "usage: expect_failure.sh PATTERN command..." >&2; exit 2; }
pattern=$1
shift
out=$(mktemp)
trap 'rm -f "$out"' EXIT
"$@" 2>&1 | tee "$out"
rc=${PIPESTATUS[0]}
[ "$rc" -eq 77 ] && exit 77
if [ "$rc" -eq 0 ]; then
  echo "expect_failure: the command succeeded; it should have failed" >&2
  exit 1
fi
if [ "$rc" -eq 124 ]; then
  echo "expect_failure: the command timed out instead of failing with a clear error" >&2
  exit 1
fi
if ! grep -Eq -- "$pattern" "$out"; then
  echo "expect_failure: no output matches /$pattern/" >&2
  exit 1
fi
echo "expect_failure: failed as expected (exit $rc) with /$pattern/"
