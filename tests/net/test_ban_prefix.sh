#!/usr/bin/env bash
# Prefix bans (banp_v4 / banp_v6): `regwallctl ban add 203.0.113.16/28 10m
# --reason x` drops two office addresses inside it and not a third one
# outside it; the reason is in the kernel and in `ban list`; an
# overlapping prefix, one covering this host, and an unban of an address
# inside the prefix are refused, naming why; the ban is carried over a
# SIGHUP reload and a guard restore (table deleted by nft) with its reason;
# `ban del` of the prefix lifts it. Also one IPv6 prefix.
set -u
. "$(dirname "$0")/lib.sh"
lab_require_root
lab_require_build
lab_init
lab_topology
lab_echo_server registry "$LAB_REG_PORT"
# the gateway is 203.0.113.1, so the banned /28 is 203.0.113.16/28: two
# more office addresses inside it, and the office's own one outside it
IN1=203.0.113.20
IN2=203.0.113.21
OUT4=$LAB_OFFICE4
for a in "$IN1" "$IN2"; do
	ip -n "$(lab_nsname office)" addr add "$a/25" dev eth0 || lab_fail "address $a"
done

lab_conf "$LAB_DIR/a.conf"
lab_daemon "$LAB_DIR/a.conf"
cap="$LAB_DIR/ban.pcap"
if ! lab_capture_start gw "$LAB_GROUP" "$cap"; then
	cap="$LAB_DIR/blocked.pcap"
	lab_log "using the daemon's capture $cap"
fi
for src in "$IN1" "$IN2" "$OUT4"; do
	lab_expect_probe ok office "$LAB_GW4" "$LAB_PORT" 2 "$src"
done

out=$(lab_ctl ban add 203.0.113.16/28 10m --reason "scanner net") || lab_fail "ban add /28: $out"
lab_log "ban add: $out"
set4() { lab_nft gw list set inet regwall banp_v4; }
set4 | grep -qE '203\.0\.113\.16/28 (timeout [0-9hms]+ )?expires [0-9hms]+ comment "scanner net"' ||
	lab_fail "banp_v4 does not hold the /28 with its timeout and reason: $(set4 | tr '\n' ' ')"
lab_expect_dropped office "$LAB_GW4" "$LAB_PORT" 1 "$IN1"
lab_expect_dropped office "$LAB_GW4" "$LAB_PORT" 1 "$IN2"
lab_expect_probe ok office "$LAB_GW4" "$LAB_PORT" 2 "$OUT4"
lab_expect_counter_gt gw "banned" 0
line=$(lab_ctl ban list | grep -F "203.0.113.16/28") || lab_fail "ban list does not show the /28"
[[ $line == *"manual: scanner net" ]] || lab_fail "ban list: origin or reason missing: '$line'"
[[ $line =~ expires\ in\ [0-9] ]] || lab_fail "ban list: no time left: '$line'"
lab_log "ban list: $line"

# refusals, each naming why; nothing changes
refused() { # WANT-TEXT ARGS...
	local want=$1 out
	shift
	out=$(lab_ctl "$@" 2>&1) && lab_fail "'$*' was accepted: $out"
	[[ $out == *"$want"* ]] || lab_fail "'$*': want '$want' in: $out"
	lab_log "refused as expected: $* -> $out"
}
refused "overlaps the banned prefix 203.0.113.16/28" ban add 203.0.113.16/29 5m
refused "overlaps the banned prefix 203.0.113.16/28" ban add 203.0.113.28/30 5m
refused "an address of this host" ban add 203.0.113.0/25 5m
refused "loopback" ban add 127.0.0.0/28 5m
refused "covers the registry upstream" ban add 198.51.100.0/28 5m
refused "is inside the banned prefix 203.0.113.16/28" ban del "$IN1"
refused "that prefix is not banned" ban del 203.0.113.32/28
[ "$(set4 | grep -c '/2[0-9]')" -eq 1 ] || lab_fail "banp_v4 changed: $(set4 | tr '\n' ' ')"
# a single address inside the prefix is a ban of its own (ban_v4)
lab_ctl ban add "$IN2" 10m --reason one >/dev/null || lab_fail "ban add of an address inside the prefix"
lab_nft gw list set inet regwall ban_v4 | grep -qF "$IN2" || lab_fail "$IN2 not in ban_v4"

# IPv6: a /124 around the office's address, not the gateway's
lab_ctl ban add 2001:db8:1::10/124 10m --reason v6 >/dev/null || lab_fail "ban add v6 prefix"
lab_expect_dropped office "$LAB_GW6" "$LAB_PORT" 1

# carried over a reload and a guard restore, reasons included
reloaded() { lab_ctl status | grep -qE '^reloads: [1-9]'; }
kill -HUP "$LAB_DAEMON_PID"
lab_wait_for 5 reloaded || lab_fail "SIGHUP did not reload"
set4 | grep -qF '203.0.113.16/28 ' || lab_fail "the /28 was lost by the reload"
set4 | grep -qF 'comment "scanner net"' || lab_fail "the /28's reason was lost by the reload"
lab_expect_dropped office "$LAB_GW4" "$LAB_PORT" 1 "$IN1"
lab_nft gw delete table inet regwall || lab_fail "delete table"
back() { set4 2>/dev/null | grep -qF 'comment "scanner net"'; }
lab_wait_for 5 back || lab_fail "the guard did not restore the /28 with its reason"
lab_nft gw list set inet regwall banp_v6 | grep -qF '2001:db8:1::10/124' || lab_fail "the v6 prefix ban was not restored"
lab_nft gw list set inet regwall ban_v4 | grep -qF "$IN2" || lab_fail "the address ban was not restored"
lab_expect_dropped office "$LAB_GW4" "$LAB_PORT" 1 "$IN1"
lab_expect_probe ok office "$LAB_GW4" "$LAB_PORT" 2 "$OUT4"

# ban del finds each where it is
lab_ctl ban del 203.0.113.16/28 >/dev/null || lab_fail "ban del /28"
lab_ctl ban del "$IN2" >/dev/null || lab_fail "ban del $IN2"
lab_ctl ban del 2001:db8:1::10/124 >/dev/null || lab_fail "ban del v6 prefix"
[ -z "$(lab_ctl ban list)" ] || lab_fail "bans left: $(lab_ctl ban list)"
lab_expect_probe ok office "$LAB_GW4" "$LAB_PORT" 2 "$IN1"
lab_expect_probe ok office "$LAB_GW4" "$LAB_PORT" 2 "$IN2"
lab_expect_probe ok office "$LAB_GW6" "$LAB_PORT" 5

if [ "$cap" = "$LAB_DIR/ban.pcap" ]; then
	lab_capture_stop "$LAB_CAP_PID"
else
	sleep 1.5
fi
lab_expect_nflog "$cap" "regwall - banned" "$IN1"
lab_stop "$LAB_DAEMON_PID"
echo "ok: prefix bans drop inside, not outside; reasons, refusals, reload and guard carry-over, ban del"
