#!/usr/bin/env bash
# Benchmark (not a test): the audit chain's fdatasync choice, side by side
# in one run (docs/design/audit.md, "Durability"): one sync per line
# against one per event-loop turn, and the verifier's lines per second.
# Built by `make bench` as $BUILD/bench/bench_audit; BENCH_DIR (default
# /var/tmp, a real disk) and BENCH_LINES (default 2000) tune it.
# Last line: RESULT per_line_lines_s=.. per_turn_lines_s=.. ratio=.. verify_lines_s=..
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
build=${BUILD:-$root/build}
bin=$build/bench/bench_audit
if [ ! -x "$bin" ]; then
	echo "audit bench: $bin missing (make $build/bench/bench_audit)" >&2
	exit 1
fi
out=$("$bin")
printf '%s\n' "$out"
last=$(printf '%s\n' "$out" | tail -n 1)
if ! [[ $last =~ ^RESULT\ per_line_lines_s=[0-9]+\ per_turn_lines_s=[0-9]+\ ratio=[0-9.]+\ verify_lines_s=[0-9]+$ ]]; then
	echo "audit bench: unexpected last line: $last" >&2
	exit 1
fi
