#!/usr/bin/env bash
# Runs each libFuzzer harness for FUZZ_SECONDS on a scratch copy of its seed
# corpus (tests/fuzz/corpus/<name>/), so runs never modify the repository.
# A crash leaves its input in tests/fuzz/findings/ and fails the run; turn
# it into a regression input in the corpus once fixed.
set -u
secs=${FUZZ_SECONDS:-30}
top=$(cd "$(dirname "$0")/../.." && pwd)
findings="$top/tests/fuzz/findings"
passed=0; failed=0
for bin in "$@"; do
  name=$(basename "$bin"); name=${name#fuzz_}
  seeds="$top/tests/fuzz/corpus/$name"
  work=$(mktemp -d)
  [ -d "$seeds" ] && cp -r "$seeds/." "$work/" 2>/dev/null
  mkdir -p "$findings"
  echo "== fuzz $name for ${secs}s ($(ls "$work" | wc -l) seeds)"
  if "$bin" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
       -artifact_prefix="$findings/$name-" "$work" > "$work.log" 2>&1; then
    tail -n 3 "$work.log"; passed=$((passed + 1))
  else
    tail -n 40 "$work.log"; echo "!! fuzz $name FAILED (input saved under tests/fuzz/findings/)"
    failed=$((failed + 1))
  fi
  rm -rf "$work" "$work.log"
done
echo "fuzz: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
