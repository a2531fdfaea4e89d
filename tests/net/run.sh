#!/usr/bin/env bash
# Runs every tests/net/test_*.sh (or the ones named on the command line),
# each under `timeout 300`: exit 0 = pass, 77 = skip, anything else = fail.
# Under CI=true a skip counts as a failure. Ends with exactly one line
# "net: N passed, N failed, N skipped"; exits non-zero if any failed.
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
	echo "== $name"
	start=$(date +%s)
	timeout --kill-after=10 "${TEST_TIMEOUT:-300}" bash "$t"
	rc=$?
	secs=$(($(date +%s) - start))
	if [ "$rc" -eq 0 ]; then
		echo "-- PASS $name (${secs}s)"
		passed=$((passed + 1))
	elif [ "$rc" -eq 77 ] && [ "${CI:-}" != "true" ]; then
		echo "-- SKIP $name"
		skipped=$((skipped + 1))
	else
		[ "$rc" -eq 124 ] && echo "-- (timed out after ${TEST_TIMEOUT:-300} s)"
		echo "-- FAIL $name (exit $rc, ${secs}s)"
		failed=$((failed + 1))
		failed_names+=("$name")
	fi
done
[ "$failed" -gt 0 ] && echo "failed: ${failed_names[*]}"
echo "${RUN_LABEL:-net}: $passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ]
