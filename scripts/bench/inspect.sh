#!/usr/bin/env bash
# Benchmark (not a test): inspect/ parsers on the real captures.
#   ns per ClientHello parse (tests/data/hello), ns per request-head framing
#   + OCI classification (tests/data/http), heap allocations in one pass.
# Built by `make bench` as $BUILD/bench/bench_inspect; BENCH_RUNS and
# BENCH_ITERS tune it (defaults 15 runs x 2000 passes, median reported).
# Last line: RESULT hello_ns=<median> oci_ns=<median> allocs=<n>
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
build=${BUILD:-$root/build}
bin=$build/bench/bench_inspect
if [ ! -x "$bin" ]; then
	echo "inspect bench: $bin missing (make $build/bench/bench_inspect)" >&2
	exit 1
fi
cd "$root"
out=$("$bin")
printf '%s\n' "$out"
last=$(printf '%s\n' "$out" | tail -n 1)
if ! [[ $last =~ ^RESULT\ hello_ns=[0-9]+\ oci_ns=[0-9]+\ allocs=[0-9]+$ ]]; then
	echo "inspect bench: unexpected last line: $last" >&2
	exit 1
fi
