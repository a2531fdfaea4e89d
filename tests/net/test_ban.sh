#!/usr/bin/env bash
# Manual bans with a timeout (`regwallctl ban add ADDR 6s`) drop an
# otherwise allowed client until the timeout passes; `ban list` shows the
# time left; `ban del` lifts a ban. Then the automatic path: a source that
# opens more than ban_after new connections a minute is banned by the kernel.
set -u
. "$(dirname "$0")/lib.sh"
lab_require_root
lab_require_build
lab_init
lab_topology
# regwalld serves the listener (passthrough) and splices to the registry.
lab_echo_server registry "$LAB_REG_PORT"

lab_conf "$LAB_DIR/a.conf"
lab_daemon "$LAB_DIR/a.conf"
# The daemon may own the nflog group for its blocked-attempt log; then the
# drop records are read from its pcap file instead.
cap="$LAB_DIR/ban.pcap"
if ! lab_capture_start gw "$LAB_GROUP" "$cap"; then
	cap="$LAB_DIR/blocked.pcap"
	lab_log "using the daemon's capture $cap"
fi

lab_expect_probe ok office "$LAB_GW4"
out=$(lab_ctl ban add "$LAB_OFFICE4" 6s) || lab_fail "ban add failed: $out"
t0=$(date +%s%N)
list=$(lab_ctl ban list) || lab_fail "ban list failed"
printf '%s\n' "$list" | sed 's/^/  ban list: /' >&2
line=$(printf '%s\n' "$list" | grep -F "$LAB_OFFICE4") || lab_fail "ban list does not show $LAB_OFFICE4"
[ "$(printf '%s\n' "$line" | wc -l)" -eq 1 ] || lab_fail "ban list shows $LAB_OFFICE4 more than once"
# The time left must be shown: some number besides the address itself.
rest=${line//$LAB_OFFICE4\/32/}
rest=${rest//$LAB_OFFICE4/}
[[ $rest =~ [0-9] ]] || lab_fail "ban list shows no time left for $LAB_OFFICE4: '$line'"
lab_exec gw nft list set inet regwall ban_v4 | grep -qF "$LAB_OFFICE4" ||
	lab_fail "$LAB_OFFICE4 not in set ban_v4"

lab_expect_probe timeout office "$LAB_GW4" "$LAB_PORT" 1
lab_expect_probe ok office "$LAB_GW4" "$LAB_PORT" 2 "$LAB_OFFICE4B" # other source
lab_expect_counter_gt gw "banned" 0

# Wait for the 6 s to pass (from the ban add), then it passes again.
while [ $(($(date +%s%N) - t0)) -lt 6600000000 ]; do sleep 0.2; done
lab_expect_probe ok office "$LAB_GW4"
lab_ctl ban list | grep -qF "$LAB_OFFICE4" && lab_fail "expired ban still listed"

# A ban outlives table replacement: --apply of a changed config and a
# SIGHUP reload (no unbanned window, no lost ban).
lab_ctl ban add "$LAB_OFFICE6" 10m >/dev/null || lab_fail "ban add v6 failed"
lab_expect_dropped office "$LAB_GW6" "$LAB_PORT" 1
lab_conf "$LAB_DIR/b.conf" nets="office=203.0.113.0/25,2001:db8:1::/64;lab=192.0.2.0/24"
# --apply runs only while no daemon holds the instance lock: stop it (the
# table and the ban stay), apply, and start the daemon on the new config.
lab_stop "$LAB_DAEMON_PID"
lab_apply "$LAB_DIR/b.conf"
lab_exec gw nft list set inet regwall ban_v6 | grep -qF "$LAB_OFFICE6" ||
	lab_fail "the ban of $LAB_OFFICE6 was lost by --apply"
cp "$LAB_DIR/b.conf" "$LAB_DIR/a.conf"
lab_daemon "$LAB_DIR/a.conf"
lab_exec gw nft list set inet regwall ban_v6 | grep -qF "$LAB_OFFICE6" ||
	lab_fail "the ban of $LAB_OFFICE6 was lost by the daemon's start"
reloaded() { lab_ctl status | grep -qE '^reloads: [1-9]'; }
kill -HUP "$LAB_DAEMON_PID"
lab_wait_for 5 reloaded || lab_fail "SIGHUP did not reload (status: $(lab_ctl status | tr '\n' ' '))"
lab_exec gw nft list set inet regwall ban_v6 | grep -qF "$LAB_OFFICE6" ||
	lab_fail "the ban of $LAB_OFFICE6 was lost by a SIGHUP reload"
lab_expect_dropped office "$LAB_GW6" "$LAB_PORT" 1
# ban del lifts a long ban at once.
lab_ctl ban del "$LAB_OFFICE6" >/dev/null || lab_fail "ban del v6 failed"
lab_expect_probe ok office "$LAB_GW6" "$LAB_PORT" 5 # neighbour discovery may need a retry

if [ "$cap" = "$LAB_DIR/ban.pcap" ]; then
	lab_capture_stop "$LAB_CAP_PID"
else
	sleep 1.5
fi
lab_expect_nflog "$cap" "regwall [^ ]+ banned" "$LAB_OFFICE4"
lab_expect_nflog "$cap" "regwall [^ ]+ banned" "$LAB_OFFICE6"
lab_stop "$LAB_DAEMON_PID"

# Automatic bans: ban_after = 5 new connections a minute.
lab_conf "$LAB_DIR/b.conf" ban_after=5 ban_for=1m
lab_daemon "$LAB_DIR/b.conf"
res=$(lab_exec office python3 "$LAB_DIR/labtool.py" burst "$LAB_GW4" "$LAB_PORT" 12 0.05 1 "$LAB_OFFICE4B")
lab_log "12 quick connections from $LAB_OFFICE4B: $res"
[[ $res == *timeout=* ]] || lab_fail "no connection was dropped after ban_after=5: $res"
lab_exec gw nft list set inet regwall ban_v4 | grep -qF "$LAB_OFFICE4B" ||
	lab_fail "$LAB_OFFICE4B was not put into ban_v4"
line=$(lab_ctl ban list | grep -F "$LAB_OFFICE4B/32") || lab_fail "ban list does not show the automatic ban"
# its origin: the ban_after meter of the one IPv4 listener (https6 is v6)
[[ $line == *"automatic (ban_after meter of listener https)" ]] ||
	lab_fail "the automatic ban's origin is not named: '$line'"
lab_log "automatic ban: $line"
lab_expect_probe timeout office "$LAB_GW4" "$LAB_PORT" 1 "$LAB_OFFICE4B"
lab_expect_probe ok office "$LAB_GW4" "$LAB_PORT" 2 "$LAB_OFFICE4" # other source unaffected
echo "ok: manual ban with timeout, ban del, automatic ban_after"
