#!/usr/bin/env bash
# Live updates that are wrong are refused with a message and change
# nothing: a malformed address, a prefix with host bits, an overlap with a
# prefix already in the network, an unknown network. A valid add/del works
# (so the comparisons can fail). A bad config on SIGHUP (and on `regwallctl
# reload`) leaves the old table and the daemon running.
set -u
. "$(dirname "$0")/lib.sh"
lab_require_root
lab_require_build
lab_init
lab_topology

conf="$LAB_DIR/regwall.conf"
lab_conf "$conf"
lab_daemon "$conf"

# live additions land in the small live_ sets (rules/rw_nft.h), so the
# state of a network is both of its sets per family
set_v4() { lab_nft gw list set inet regwall net_office_v4 && lab_nft gw list set inet regwall live_office_v4; }
set_v6() { lab_nft gw list set inet regwall net_office_v6 && lab_nft gw list set inet regwall live_office_v6; }
set_v4 >"$LAB_DIR/v4.before" || lab_fail "no set net_office_v4"
set_v6 >"$LAB_DIR/v6.before" || lab_fail "no set net_office_v6"

refuse() {
	local why=$1 err
	shift
	if err=$(lab_ctl "$@" 2>&1 >/dev/null); then
		lab_fail "regwallctl $* was accepted ($why)"
	fi
	[ -n "$err" ] || lab_fail "regwallctl $* failed without a message ($why)"
	lab_log "refused ($why): regwallctl $* -> $err"
	set_v4 | cmp -s - "$LAB_DIR/v4.before" || lab_fail "net_office_v4 changed after: $*"
	set_v6 | cmp -s - "$LAB_DIR/v6.before" || lab_fail "net_office_v6 changed after: $*"
}
refuse "bad octet" network add office 203.0.113.999/32
refuse "not an address" network add office not-an-address
refuse "host bits" network add office 192.0.2.5/24
refuse "prefix length" network add office 192.0.2.0/33
refuse "overlap v4" network add office 203.0.113.64/26
refuse "overlap v6" network add office 2001:db8::/32
refuse "unknown network" network add nosuch 192.0.2.0/24
refuse "one bad among good" network add office 192.0.2.0/28 203.0.113.999/32
refuse "delete absent" network del office 192.0.2.0/28

# A valid change shows in the set and in `network list`, and undoes cleanly.
lab_ctl network add office 192.0.2.0/28 >/dev/null || lab_fail "valid network add refused"
set_v4 | grep -qF 192.0.2.0/28 || lab_fail "192.0.2.0/28 not in net_office_v4 or live_office_v4"
lab_ctl network list office | grep -qF 192.0.2.0/28 || lab_fail "network list misses 192.0.2.0/28"
lab_ctl network del office 192.0.2.0/28 >/dev/null || lab_fail "valid network del refused"
set_v4 | cmp -s - "$LAB_DIR/v4.before" || lab_fail "net_office_v4 not restored after add+del"

# Bad config on SIGHUP: old table stays, daemon stays.
norm() { lab_nft gw list table inet regwall | sed -E 's/counter packets [0-9]+ bytes [0-9]+/counter/; s/expires [0-9a-z.]+//'; }
norm >"$LAB_DIR/table.before"
cp "$conf" "$LAB_DIR/good.conf"
printf 'networks = { office = [ "203.0.113.0/25", "999.0.0.0/8" ]; };\nthis is not libconfig\n' >"$conf"
kill -HUP "$LAB_DAEMON_PID"
# the reload is over when the daemon says it failed (no guess at a time)
lab_wait_for 10 grep -q "reload failed" "$LAB_DIR/regwalld.log" ||
	lab_fail "no 'reload failed' in the daemon's log after SIGHUP with a bad config"
kill -0 "$LAB_DAEMON_PID" 2>/dev/null || lab_fail "daemon died on a bad config"
norm | cmp -s - "$LAB_DIR/table.before" || lab_fail "table changed after a bad reload"
grep -qE "$conf:[0-9]+" "$LAB_DIR/regwalld.log" || {
	cat "$LAB_DIR/regwalld.log" >&2
	lab_fail "no FILE:LINE error for the bad config in the daemon's log"
}
if lab_ctl reload >/dev/null 2>&1; then
	lab_fail "regwallctl reload of a bad config reported success"
fi
kill -0 "$LAB_DAEMON_PID" 2>/dev/null || lab_fail "daemon died on regwallctl reload"
norm | cmp -s - "$LAB_DIR/table.before" || lab_fail "table changed after a bad regwallctl reload"
lab_ctl status >/dev/null || lab_fail "status fails after a bad reload"
lab_echo_server registry "$LAB_REG_PORT"
lab_expect_probe ok office "$LAB_GW4"
lab_expect_probe timeout outside "$LAB_GWOUT4" "$LAB_PORT" 1
echo "ok: invalid updates refused, bad reload harmless"
