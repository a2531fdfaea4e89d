#!/usr/bin/env bash
# Live changes without a fork (issue 9): 1,000 `regwallctl network add|del`
# in a row (500 add+del pairs of 203.0.113.140/32, the outside client's
# address, to network office) with `--workers 2`:
#
#   * no new worker process: both workers' PIDs (and their generation) are
#     the same after the loop, no worker draining, none restarted;
#   * each worker applied every change: status shows the parent's count of
#     live changes sent (1,000) and each worker's count of changes applied
#     (its heartbeat); a worker applies only the next one in order, so
#     equal counts mean every change, in order;
#   * a change decides the next connection in every worker: at every 50th
#     pair, right after the add, connections from 203.0.113.140 go through
#     (TLS echo via the registry). Only the live addition lets that source
#     in, in the kernel (live_office_v4) and in the worker's second-line
#     check (its policy copy): a worker without the delta resets it with
#     event not_allowed_l7, which must never appear for that source. Both
#     workers must have served such connections (their per-worker event
#     counts both grow over the checkpoint connections);
#   * no connect refused: a client in the office (allowed by the file)
#     connects in a loop all along; every one answered;
#   * the workers' RSS before/after the loop within 1 MiB.
set -u
. "$(dirname "$0")/lib.sh"
lab_require_root
lab_require_build
lab_init
lab_topology
lab_echo_server registry "$LAB_REG_PORT"
command -v jq >/dev/null 2>&1 || lab_skip "jq not installed"

conf="$LAB_DIR/regwall.conf"
lab_conf "$conf" rate="100000/second" burst=100000
lab_daemon "$conf" gw --workers 2
daemon=$LAB_DAEMON_PID
OUT=$LAB_OUTSIDE4

st() { lab_ctl -j status; }
pids() { st | jq -r '[.worker_list[].pid] | sort | map(tostring) | join(" ")'; }
two_heard() { [ "$(st | jq '[.worker_list[] | select(.last_heard_ms < 1000)] | length')" = 2 ]; }
lab_wait_for 10 two_heard || lab_fail "two workers not up: $(st)"
pids0=$(pids)
gens0=$(st | jq -c '[.worker_list[].generation]')
rss() { awk '/^VmRSS:/ { print $2 }' "/proc/$1/status"; }
# warm up: one of each change and a connection through each, so the
# heap of each worker has what the loop reuses
lab_ctl network add office "$OUT/32" >/dev/null || lab_fail "warm-up add"
lab_tool_ns() { lab_exec "$1" python3 "$LAB_DIR/labtool.py" "${@:2}"; }
lab_tool_ns outside burst "$LAB_GWOUT4" "$LAB_PORT" 6 0 3 >/dev/null
lab_ctl network del office "$OUT/32" >/dev/null || lab_fail "warm-up del"
sleep 1
declare -A rss0
for p in $pids0; do rss0[$p]=$(rss "$p"); done
sent0=$(st | jq '.live_changes')
ev_worker() { st | jq -r '.worker_list | sort_by(.pid) | map(.events_sent | tostring) | join(" ")'; }

# the office client, all along the loop
stop="$LAB_DIR/stop"
(
	n=0 ok=0 other=""
	while [ ! -e "$stop" ]; do
		r=$(lab_probe office "$LAB_GW4" "$LAB_PORT" 3)
		n=$((n + 1))
		if [ "$r" = ok ]; then ok=$((ok + 1)); else other+=" $r"; fi
	done
	echo "total=$n ok=$ok other=$other" >"$LAB_DIR/office.out"
) &
office_pid=$!
LAB_PIDS+=("$office_pid")

t0=$(date +%s%N)
changes=0 checks=0 check_bad=""
ev_before=$(ev_worker)
for i in $(seq 1 500); do
	lab_ctl network add office "$OUT/32" >/dev/null || lab_fail "pair $i: network add refused"
	changes=$((changes + 1))
	if [ $((i % 50)) -eq 0 ]; then
		# right after the add: several connections (SO_REUSEPORT spreads
		# them over both workers by the source port)
		r=$(lab_tool_ns outside burst "$LAB_GWOUT4" "$LAB_PORT" 8 0 3)
		checks=$((checks + 8))
		[ "$r" = "ok=8" ] || check_bad+=" pair $i: $r;"
	fi
	lab_ctl network del office "$OUT/32" >/dev/null || lab_fail "pair $i: network del refused"
	changes=$((changes + 1))
done
t1=$(date +%s%N)
touch "$stop"
wait "$office_pid"
lab_log "1000 changes in $(((t1 - t0) / 1000000)) ms (with $checks checkpoint connections)"
[ -z "$check_bad" ] || lab_fail "connections from $OUT right after an add failed:$check_bad"

# every worker applied every change (its next heartbeat says so)
want=$((sent0 + changes))
applied() { [ "$(st | jq --argjson w "$want" '[.worker_list[] | select(.live_changes == $w)] | length')" = 2 ]; }
lab_wait_for 5 applied || lab_fail "workers did not apply all $want changes: $(st | jq -c '[.live_changes, [.worker_list[] | {pid, live_changes}]]')"
[ "$(st | jq '.live_changes')" = "$want" ] || lab_fail "parent counts $(st | jq '.live_changes') changes, want $want"
lab_log "changes sent $want, applied per worker: $(st | jq -c '[.worker_list[] | {pid, live_changes}]')"

pids1=$(pids)
[ "$pids1" = "$pids0" ] || lab_fail "worker PIDs changed: $pids0 -> $pids1"
[ "$(st | jq -c '[.worker_list[].generation]')" = "$gens0" ] || lab_fail "worker generation changed"
[ "$(st | jq '.workers_draining')" = 0 ] || lab_fail "draining workers: $(st | jq '.workers_draining')"
[ "$(st | jq '.live_change_restarts')" = 0 ] || lab_fail "workers restarted for live changes"
[ "$(pgrep -P "$daemon" | sort -n | tr '\n' ' ' | sed 's/ $//')" = "$(tr ' ' '\n' <<<"$pids0" | sort -n | tr '\n' ' ' | sed 's/ $//')" ] ||
	lab_fail "the daemon's children are not the two workers: $(pgrep -P "$daemon" | tr '\n' ' ')"
grep -qE 'killed|exited with|could not apply' "$LAB_DIR/regwalld.log" &&
	lab_fail "a worker ended: $(grep -E 'killed|exited with|could not apply' "$LAB_DIR/regwalld.log" | head -3)"
lab_log "worker PIDs unchanged: $pids1"

# both workers served the checkpoint connections (events per worker grew)
ev_after=$(ev_worker)
read -r a0 b0 <<<"$ev_before"
read -r a1 b1 <<<"$ev_after"
lab_log "events per worker: $ev_before -> $ev_after"
[ "$a1" -gt "$a0" ] && [ "$b1" -gt "$b0" ] ||
	lab_fail "not both workers served connections from $OUT: events $ev_before -> $ev_after"
n7=$(grep -c "\"not_allowed_l7\".*\"$OUT\"\|\"$OUT\".*\"not_allowed_l7\"" "$LAB_DIR/events.jsonl")
[ "$n7" -eq 0 ] || lab_fail "$n7 not_allowed_l7 events for $OUT: a worker missed an add"
passes=$(grep -c "\"$OUT\"" "$LAB_DIR/events.jsonl")
lab_log "events for $OUT: $passes, not_allowed_l7: 0"

office=$(cat "$LAB_DIR/office.out")
lab_log "office client during the loop: $office"
total=$(sed -n 's/.*total=\([0-9]*\).*/\1/p' <<<"$office")
ok=$(sed -n 's/.* ok=\([0-9]*\).*/\1/p' <<<"$office")
[ "${total:-0}" -ge 50 ] || lab_fail "only ${total:-0} office connections: too few to show anything"
[ "$ok" = "$total" ] || lab_fail "office connections not answered during the loop: $office"

for p in $pids0; do
	r1=$(rss "$p")
	lab_log "worker $p RSS ${rss0[$p]} kB -> $r1 kB"
	[ $((r1 - rss0[$p])) -le 1024 ] || lab_fail "worker $p RSS grew ${rss0[$p]} -> $r1 kB"
done

# the network is as in the file again, in the daemon and the kernel
[ "$(lab_ctl network list office)" = "$(printf '203.0.113.0/25\n2001:db8:1::/64')" ] ||
	lab_fail "network office after the loop: $(lab_ctl network list office)"
lab_expect_dropped outside "$LAB_GWOUT4"
lab_stop "$daemon"
echo "ok: 1000 live changes, same 2 workers ($pids1), each applied all; $checks connections right after adds all through, office $total/$total answered"
