#!/usr/bin/env bash
# Benchmark (not a test): what metrics add to the parent's event path
# (stdout queue alone vs queue + jansson parse + count, per event line)
# and what one full scrape costs. Built by `make bench` as
# $BUILD/bench/bench_metrics; BENCH_RUNS and BENCH_ITERS tune it.
# Last line: RESULT evout_ns=<n> both_ns=<n> ratio=<x.xx> scrape_us=<n>
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
build=${BUILD:-$root/build}
bin=$build/bench/bench_metrics
if [ ! -x "$bin" ]; then
	echo "metrics bench: $bin missing (make $build/bench/bench_metrics)" >&2
	exit 1
fi
out=$("$bin")
printf '%s\n' "$out"
last=$(printf '%s\n' "$out" | tail -n 1)
if ! [[ $last =~ ^RESULT\ evout_ns=[0-9]+\ both_ns=[0-9]+\ ratio=[0-9.]+\ scrape_us=[0-9]+$ ]]; then
	echo "metrics bench: unexpected last line: $last" >&2
	exit 1
fi
