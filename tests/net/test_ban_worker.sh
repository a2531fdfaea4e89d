#!/usr/bin/env bash
# Bans reach the workers (their second line checks them): with the
# kernel's ban elements deleted by hand (`nft delete element`, as a set
# flushed by another tool would leave it), only the workers can refuse.
# regwalld with --workers 2:
#   * `ban add` of the office client's address (LAB_OFFICE4) and of a
#     prefix covering LAB_OFFICE4B (203.0.113.8/30, which holds LAB_OFFICE4
#     too: an address ban inside a banned prefix), then both kernel
#     elements deleted: connections from either source are reset by the
#     workers (event reason banned_l7, nothing reaches the registry); a
#     source outside both (203.0.113.20) still gets through;
#   * `ban del` of the address: LAB_OFFICE4 is still refused (the prefix
#     holds it);
#   * a worker killed with SIGKILL comes back (new pid) and refuses the
#     still-banned prefix too: its boot bundle carried the bans;
#   * `ban del` of the prefix lets both addresses through again;
#   * a ban for 3s stops being enforced by the workers once it expired;
#   * bans carried over a reload and a daemon restart (read back from the
#     kernel) reach the new workers' boot bundles.
set -u
. "$(dirname "$0")/lib.sh"
lab_require_root
lab_require_build
lab_init
lab_topology
lab_echo_server registry "$LAB_REG_PORT"
command -v jq >/dev/null 2>&1 || lab_skip "jq not installed"

OTHER=203.0.113.20 # an office source no ban covers
PFX=203.0.113.8/30 # covers LAB_OFFICE4 (.10) and LAB_OFFICE4B (.11)
ip -n "$(lab_nsname office)" addr add "$OTHER/25" dev eth0 || lab_fail "address $OTHER"

conf="$LAB_DIR/a.conf"
lab_conf "$conf"
lab_daemon "$conf" gw --workers 2
daemon=$LAB_DAEMON_PID

workers() { pgrep -P "$daemon" | sort -n; }
two_up() { [ "$(lab_ctl -j status | jq '[.worker_list[] | select(.last_heard_ms < 1000)] | length')" = 2 ]; }
lab_wait_for 10 two_up || lab_fail "two workers not up: $(lab_ctl -j status)"

# events with this source and reason so far (regwalld's stdout)
events() {
	python3 -c 'import json, sys
n = 0
for line in open(sys.argv[1]):
    try:
        d = json.loads(line)
    except ValueError:
        continue
    if d.get("src") == sys.argv[2] and d.get("reason") == sys.argv[3]:
        n += 1
print(n)' "$LAB_DIR/events.jsonl" "$1" "$2"
}
accepts() { grep -c '^accept ' "$LAB_DIR/echo-registry-$LAB_REG_PORT.log"; }

# N connections from SRC, each reset by a worker: the TCP handshake is the
# kernel's (it no longer drops the source), the worker resets at accept,
# emits banned_l7, and the registry sees no connection.
expect_reset() { # SRC [N]
	local src=$1 n=${2:-1} ev0 acc0 got i
	ev0=$(events "$src" banned_l7)
	acc0=$(accepts)
	for i in $(seq 1 "$n"); do
		got=$(lab_probe office "$LAB_GW4" "$LAB_PORT" 2 "$src")
		case $got in
		reset | tls-failed) ;;
		*) lab_fail "connection $i from $src: want a reset by a worker, got $got" ;;
		esac
	done
	want=$((ev0 + n))
	grown() { [ "$(events "$src" banned_l7)" -ge "$want" ]; }
	lab_wait_for 3 grown || lab_fail "$src: $(($(events "$src" banned_l7) - ev0)) banned_l7 events for $n connections"
	[ "$(accepts)" = "$acc0" ] || lab_fail "$src: a refused connection reached the registry"
	lab_log "$n connection(s) from $src: reset by a worker, banned_l7"
}
expect_through() { # SRC
	local ev0
	ev0=$(events "$1" banned_l7)
	lab_expect_probe ok office "$LAB_GW4" "$LAB_PORT" 2 "$1"
	sleep 0.2
	[ "$(events "$1" banned_l7)" = "$ev0" ] || lab_fail "$1 got through, yet a banned_l7 event"
}
# delete a ban element from the kernel by hand, leaving only the workers
kernel_unban() { # SET ELEMENT
	lab_nft gw delete element inet regwall "$1" "{ $2 }" || lab_fail "nft delete element $1 $2"
	lab_nft gw list set inet regwall "$1" | grep -qF "$2" && lab_fail "$2 still in $1"
	lab_log "deleted $2 from $1 by hand"
}

for src in "$LAB_OFFICE4" "$LAB_OFFICE4B" "$OTHER"; do
	expect_through "$src"
done

out=$(lab_ctl ban add "$LAB_OFFICE4" 10m --reason worker-test) || lab_fail "ban add $LAB_OFFICE4: $out"
out=$(lab_ctl ban add "$PFX" 10m) || lab_fail "ban add $PFX: $out"
kernel_unban ban_v4 "$LAB_OFFICE4"
kernel_unban banp_v4 "$PFX"
# (ban list reads the kernel: nothing left there)
lab_ctl ban list | grep -qF 203.0.113 && lab_fail "ban list still shows a ban: $(lab_ctl ban list)"

# SO_REUSEPORT spreads connections over both workers by source port:
# several from each source reach both
expect_reset "$LAB_OFFICE4" 6
expect_reset "$LAB_OFFICE4B" 6
expect_through "$OTHER"
# explain says the same: the kernel accepts, the workers' second line
# refuses with the ban that holds the source
ex=$(lab_ctl explain --listener https --src "$LAB_OFFICE4B" --iif off0 --json) || lab_fail "explain: $ex"
got=$(jq -r '[.decided_by, (.layers[] | select(.layer == "second_line") | .reason, .ban)] | join(" ")' <<<"$ex")
[ "$got" = "second_line banned_l7 $PFX" ] || lab_fail "explain $LAB_OFFICE4B: '$got': $ex"
lab_log "explain $LAB_OFFICE4B: decided by $got"

# the address ban goes (the kernel lost its element: regwalld lifts it
# from the workers and says so); the prefix still holds the address
out=$(lab_ctl -j ban del "$LAB_OFFICE4") || lab_fail "ban del $LAB_OFFICE4: $out"
grep -qF 'lifted from the proxy workers' <<<"$out" || lab_fail "ban del $LAB_OFFICE4: no word of the workers: $out"
lab_log "ban del $LAB_OFFICE4: $out"
expect_reset "$LAB_OFFICE4" 4

# a worker killed and started again gets the bans in its boot bundle
pids0=$(workers | tr '\n' ' ')
victim=$(workers | head -1)
kill -KILL "$victim"
replaced() { [ "$(workers | wc -l)" -eq 2 ] && ! workers | grep -qx "$victim" && two_up; }
lab_wait_for 10 replaced || lab_fail "worker $victim not replaced: $(workers | tr '\n' ' ')"
newpid=$(workers | grep -vxF -f <(tr ' ' '\n' <<<"$pids0" | grep .))
[ -n "$newpid" ] || lab_fail "no new worker pid (before: $pids0, now: $(workers | tr '\n' ' '))"
lab_log "worker $victim killed, replaced by $newpid"
ev_new() { lab_ctl -j status | jq --argjson p "$newpid" '.worker_list[] | select(.pid == $p) | .events_sent'; }
e0=$(ev_new)
expect_reset "$LAB_OFFICE4B" 12
served() { [ "$(ev_new)" -gt "$e0" ]; }
lab_wait_for 3 served || lab_fail "the restarted worker $newpid refused none of 12 connections (events $e0 -> $(ev_new))"
lab_log "the restarted worker $newpid refused the banned prefix (events $e0 -> $(ev_new))"

# ban del of the prefix: both addresses through again
out=$(lab_ctl ban del "$PFX") || lab_fail "ban del $PFX: $out"
lab_log "ban del $PFX: $out"
expect_through "$LAB_OFFICE4"
expect_through "$LAB_OFFICE4B"

# ban and unban with the kernel's element in place: the unban reaches the
# workers too (one that kept the ban would reset the next connection)
lab_ctl ban add "$LAB_OFFICE4" 10m >/dev/null || lab_fail "ban add $LAB_OFFICE4 again"
lab_expect_dropped office "$LAB_GW4" "$LAB_PORT" 1 "$LAB_OFFICE4"
out=$(lab_ctl -j ban del "$LAB_OFFICE4") || lab_fail "ban del $LAB_OFFICE4: $out"
grep -qF warnings <<<"$out" && lab_fail "ban del of a ban the kernel held: $out"
for i in 1 2 3 4; do expect_through "$LAB_OFFICE4"; done

# a short ban: enforced by the workers until it expires, then not
out=$(lab_ctl ban add "$LAB_OFFICE4B" 3s) || lab_fail "ban add 3s: $out"
t0=$(date +%s%N)
kernel_unban ban_v4 "$LAB_OFFICE4B"
expect_reset "$LAB_OFFICE4B" 2
while [ $(($(date +%s%N) - t0)) -lt 3500000000 ]; do sleep 0.1; done
expect_through "$LAB_OFFICE4B"

# bans read back from the kernel: a reload (new generation) and a daemon
# restart carry them into the workers' boot bundles
out=$(lab_ctl ban add "$LAB_OFFICE4" 10m --reason carried) || lab_fail "ban add: $out"
out=$(lab_ctl reload) || lab_fail "reload: $out"
kernel_unban ban_v4 "$LAB_OFFICE4"
expect_reset "$LAB_OFFICE4" 4
out=$(lab_ctl ban add "$LAB_OFFICE4B" 10m --reason restart) || lab_fail "ban add: $out"
lab_stop "$daemon"
lab_daemon "$conf" gw --workers 2
daemon=$LAB_DAEMON_PID
lab_wait_for 10 two_up || lab_fail "two workers not up after the restart"
kernel_unban ban_v4 "$LAB_OFFICE4B"
expect_reset "$LAB_OFFICE4B" 4
# the first ban was gone from the kernel before the restart: not known
expect_through "$LAB_OFFICE4"
lab_log "bans carried by a reload and a daemon restart reach the new workers"

# the one worker this test killed is the only one that ended
bad=$(grep -E 'exited with|could not apply|malformed' "$LAB_DIR/regwalld.log")
[ -z "$bad" ] || lab_fail "a worker ended unexpectedly: $bad"
lab_stop "$daemon"
echo "ok: workers refuse banned addresses and prefixes (banned_l7) without the kernel's elements; ban del, crash restart, expiry"
