#!/usr/bin/env bash
# An established connection keeps flowing while the table is replaced: a
# client sends a numbered line every 0.1 s for 8 s and checks every echo,
# while (1) `regwalld --apply` loads a changed config (a network added) and
# (2) the running daemon reloads another changed config on SIGHUP.
set -u
. "$(dirname "$0")/lib.sh"
lab_require_root
lab_require_build
lab_init
lab_topology
# regwalld serves the listener (passthrough) and splices to the registry.
lab_echo_server registry "$LAB_REG_PORT"

conf="$LAB_DIR/regwall.conf"
lab_conf "$conf"
lab_daemon "$conf"

mark="$LAB_DIR/connected"
out="$LAB_DIR/longconn.out"
lab_bg office python3 "$LAB_DIR/labtool.py" longconn "$LAB_GW4" "$LAB_PORT" 8 "$mark" >"$out" 2>&1
client=$LAB_LAST_PID
lab_wait_for 5 test -s "$mark" || lab_fail "long connection did not connect"
sleep 1.5

# (--apply is refused while the daemon runs: test_single_instance.sh; the
# daemon's own full re-apply is `regwallctl reload`.)
lab_conf "$conf" nets="office=203.0.113.0/25,2001:db8:1::/64;lab=192.0.2.0/24"
lab_ctl reload >/dev/null || lab_fail "regwallctl reload failed"
lab_nft gw list set inet regwall net_lab_v4 >/dev/null || lab_fail "reload did not add net_lab_v4"
lab_log "re-applied with network lab (regwallctl reload)"
sleep 1.5

lab_conf "$conf" nets="office=203.0.113.0/25,2001:db8:1::/64;extra=198.51.100.0/24,2001:db8:3::/64"
lab_log "SIGHUP to regwalld"
kill -HUP "$LAB_DAEMON_PID"
lab_wait_for 5 lab_nft gw list set inet regwall net_extra_v6 || {
	cat "$LAB_DIR/regwalld.log" >&2
	lab_fail "SIGHUP reload did not add net_extra_v6"
}
lab_log "daemon reloaded with network extra"
kill -0 "$LAB_DAEMON_PID" || lab_fail "daemon died on reload"

wait "$client"
rc=$?
cat "$out"
[ "$rc" -eq 0 ] || lab_fail "the long connection lost data (exit $rc)"
n=$(sed -n 's/^lines=//p' "$out")
[ "${n:-0}" -ge 50 ] || lab_fail "only ${n:-0} lines went through"
# And the policy still holds after all of it.
lab_expect_probe timeout outside "$LAB_GWOUT4" "$LAB_PORT" 1
echo "ok: established connection survived a regwallctl reload and a SIGHUP reload"
