#!/usr/bin/env bash
# Runs each cmocka test binary, shows its output, and ends with one summary
# line "N passed, N failed, N skipped" counted from cmocka's own result
# lines. A skipped test is one that could not run here (no root, a low fd
# limit, a build without allocation counting); under CI=true the
# environment is expected to provide all of that, so a skip fails the run.
# UNIT_EXPECTED_SKIPS (space-separated binary:test) names the skips that are
# by design for this build (the allocation count cannot run under ASan);
# they are listed but never fail the run.
# Output: one line per test binary (PASS/FAIL, its counts and time); the
# binary's whole output (cmocka's lines, worker events, daemon messages)
# only when it failed, or always with V=1. TEST_SUMMARY (a file): the
# counts are appended there as "unit P F S" for make test's total line.
set -u
passed=0; failed=0; broken=0; skipped=0
skipped_names=()
count() { # count TAG TEXT: sum of N on cmocka's "[TAG] N test(s)" summary lines
  printf '%s\n' "$2" | sed -n "s/^\[$1\] \([0-9]\+\) test.*/\1/p" | awk '{s+=$1} END {print s+0}'
}
for t in "$@"; do
  [ "${V:-0}" = 1 ] && echo "== $t"
  t0=$(date +%s%N)
  out=$("$t" 2>&1); rc=$?
  ms=$((($(date +%s%N) - t0) / 1000000))
  p=$(count '  PASSED  ' "$out")
  f=$(count '  FAILED  ' "$out")
  s=$(count '  SKIPPED ' "$out")
  if [ "${V:-0}" = 1 ] || [ "$rc" -ne 0 ] || [ "$f" -gt 0 ]; then
    printf '%s\n' "$out"
  fi
  verdict=PASS
  { [ "$rc" -ne 0 ] || [ "$f" -gt 0 ]; } && verdict=FAIL
  printf '%-4s %-28s %3d passed, %d failed, %d skipped  %d.%01ds\n' "$verdict" \
    "$(basename "$t")" "$p" "$f" "$s" $((ms / 1000)) $((ms % 1000 / 100))
  passed=$((passed + p)); failed=$((failed + f)); skipped=$((skipped + s))
  if [ "$s" -gt 0 ]; then
    # per-test lines "[  SKIPPED ] name" (the summary repeats them; keep one)
    while IFS= read -r n; do skipped_names+=("$(basename "$t"):$n"); done < <(
      printf '%s\n' "$out" | sed -n 's/^\[  SKIPPED \] \([A-Za-z_][A-Za-z0-9_]*\)$/\1/p' | sort -u)
  fi
  if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
    echo "!! $t exited $rc without a cmocka failure line (crash?)"; broken=$((broken + 1))
  fi
done
failed=$((failed + broken))
unexpected=0
for n in ${skipped_names[@]+"${skipped_names[@]}"}; do
  case " ${UNIT_EXPECTED_SKIPS:-} " in
    *" $n "*) echo "skipped: $n (expected for this build)" ;;
    *) echo "skipped: $n"; unexpected=$((unexpected + 1)) ;;
  esac
done
# a skip cmocka counted but whose name we could not read is unexpected too
[ "$skipped" -gt "${#skipped_names[@]}" ] && unexpected=$((unexpected + skipped - ${#skipped_names[@]}))
echo "unit: $passed passed, $failed failed, $skipped skipped"
[ -n "${TEST_SUMMARY:-}" ] && echo "unit $passed $failed $skipped" >>"$TEST_SUMMARY"
if [ "${CI:-}" = true ] && [ "$unexpected" -gt 0 ]; then
  echo "unit: CI=true and $unexpected test(s) skipped: every test must run in CI" >&2
  exit 1
fi
[ "$failed" -eq 0 ]
