#!/usr/bin/env bash
# Runs every tests/net/test_*.sh (or the ones named on the command line),
# each under `timeout 300`: exit 0 = pass, 77 = skip, anything else = fail.
# Under CI=true a skip counts as a failure. Ends with exactly one line
# "net: N passed, N failed, N skipped"; exits non-zero if any failed.
# One line per test (PASS/FAIL/SKIP and time); a test's own output only
# when it failed or skipped, or always with V=1. TEST_SUMMARY (a file):
# the counts are appended as "LABEL P F S" for make test's total line.
set -u
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
BUILD=${BUILD:-$(cd "$here/../.." && pwd)/build}
export BUILD
case $BUILD in /*) ;; *) BUILD=$(pwd)/$BUILD ;; esac

if [ "$#" -gt 0 ]; then
	tests=("$@")
else
	tests=("$here"/test_*.sh)
fi

passed=0 failed=0 skipped=0
failed_names=()
for t in "${tests[@]}"; do
	name=$(basename "$t" .sh)
	log=$(mktemp)
	start=$(date +%s)
	if [ "${V:-0}" = 1 ]; then
		echo "== $name"
		timeout --kill-after=10 "${TEST_TIMEOUT:-300}" bash "$t" 2>&1 | tee "$log"
		rc=${PIPESTATUS[0]}
	else
		timeout --kill-after=10 "${TEST_TIMEOUT:-300}" bash "$t" >"$log" 2>&1
		rc=$?
	fi
	secs=$(($(date +%s) - start))
	if [ "$rc" -eq 0 ]; then
		printf 'PASS %-32s %4ss\n' "$name" "$secs"
		passed=$((passed + 1))
	elif [ "$rc" -eq 77 ] && [ "${CI:-}" != "true" ]; then
		printf 'SKIP %-32s %s\n' "$name" "$(grep -m1 '^SKIP' "$log")"
		skipped=$((skipped + 1))
	else
		[ "${V:-0}" = 1 ] || sed "s/^/  $name| /" "$log"
		[ "$rc" -eq 124 ] && echo "  (timed out after ${TEST_TIMEOUT:-300} s)"
		printf 'FAIL %-32s %4ss (exit %s)\n' "$name" "$secs" "$rc"
		failed=$((failed + 1))
		failed_names+=("$name")
	fi
	rm -f "$log"
done
[ "$failed" -gt 0 ] && echo "failed: ${failed_names[*]}"
echo "${RUN_LABEL:-net}: $passed passed, $failed failed, $skipped skipped"
[ -n "${TEST_SUMMARY:-}" ] && echo "${RUN_LABEL:-net} $passed $failed $skipped" >>"$TEST_SUMMARY"
[ "$failed" -eq 0 ]
