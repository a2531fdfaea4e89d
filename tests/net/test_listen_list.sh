#!/usr/bin/env bash
# listen = [ "0.0.0.0:P", "[::]:P" ]: one listener "https" serves IPv4 and
# IPv6 from one config block. Office clients pass on both families, an
# outside client is dropped on both; the admin sees one listener: status
# counts 1, `regwallctl counters` has one "https allow office" line with
# the packets of both families summed, NFLOG prefixes and events say
# "https". A reload that drops the IPv6 endpoint says "listener changed:
# https (listen)" and IPv6 is no longer served.
set -u
. "$(dirname "$0")/lib.sh"
lab_require_root
lab_require_build
lab_init
lab_topology
lab_echo_server registry "$LAB_REG_PORT"
conf() { # LISTEN-LIST
	cat >"$LAB_DIR/a.conf" <<EOF2
registry = { upstream = "$LAB_REG4:$LAB_REG_PORT"; upstream_tls = false;
             server_names = [ "registry.example.test" ]; };
networks = { office = [ "203.0.113.0/25", "2001:db8:1::/64" ]; };
listeners = (
  { name = "https"; listen = [ $1 ]; mode = "passthrough"; allow_from = [ "office" ]; }
);
policy = { conn_rate = { per_source = "1000/second"; }; };
log = { nflog_group = $LAB_GROUP; };
control = { socket = "$LAB_DIR/ctl.sock"; state = "$LAB_DIR/live.json"; };
EOF2
}
conf "\"0.0.0.0:$LAB_PORT\", \"[::]:$LAB_PORT\""
out=$("$BUILD/regwalld" -c "$LAB_DIR/a.conf" -n 2>&1) || lab_fail "listen list refused: $out"
lab_daemon "$LAB_DIR/a.conf" gw --workers 1
cap="$LAB_DIR/list.pcap"
if ! lab_capture_start gw "$LAB_GROUP" "$cap"; then
	cap="$LAB_DIR/blocked.pcap"
	lab_log "using the daemon's capture $cap"
fi
lab_expect_probe ok office "$LAB_GW4"
lab_expect_probe ok office "$LAB_GW6" "$LAB_PORT" 5
lab_expect_probe timeout outside "$LAB_GWOUT4" "$LAB_PORT" 1
lab_expect_probe timeout outside "$LAB_GWOUT6" "$LAB_PORT" 1

lab_ctl status | grep -qE '^listeners: 1$' || lab_fail "status does not count one listener: $(lab_ctl status | grep listeners)"
lab_ctl counters >"$LAB_DIR/counters.txt" || lab_fail "counters failed"
allow=$(grep -E '^input +https allow office ' "$LAB_DIR/counters.txt") || lab_fail "no 'https allow office' counter: $(cat "$LAB_DIR/counters.txt")"
[ "$(printf '%s\n' "$allow" | wc -l)" -eq 1 ] || lab_fail "'https allow office' listed more than once: $allow"
# the SYNs of both families (the rule sees only new connections' first packets)
pk=$(printf '%s\n' "$allow" | awk '{print $5}')
[ "$pk" -ge 2 ] || lab_fail "'https allow office' did not sum v4 and v6: $allow"
lab_log "counter: $allow"
lab_nft gw list chain inet regwall input | grep -c 'comment "https allow office"' | grep -qx 4 ||
	lab_fail "want four 'https allow office' rules (net_ and live_, v4 and v6): $(lab_nft gw list chain inet regwall input)"
[ "$(lab_nft gw list table inet regwall | grep -c 'set meter_https_v')" -eq 2 ] ||
	lab_fail "want one meter pair for https"

if [ "$cap" = "$LAB_DIR/list.pcap" ]; then
	lab_capture_stop "$LAB_CAP_PID"
else
	sleep 1.5
fi
lab_expect_nflog "$cap" "regwall https not_allowed" "$LAB_OUTSIDE4"
lab_expect_nflog "$cap" "regwall https not_allowed" "$LAB_OUTSIDE6"
sleep 0.5
for a in "$LAB_OFFICE4" "$LAB_OFFICE6"; do
	grep -F "\"$a\"" "$LAB_DIR/events.jsonl" | grep -qF '"listener":"https"' ||
		lab_fail "no event with listener https from $a: $(tail -5 "$LAB_DIR/events.jsonl")"
done

# reload without the IPv6 endpoint
conf "\"0.0.0.0:$LAB_PORT\""
out=$(lab_ctl reload) || lab_fail "reload failed: $out"
[[ $out == *"listener changed: https (listen)"* ]] || lab_fail "reload does not name the listen change: $out"
lab_expect_probe ok office "$LAB_GW4"
got=$(lab_probe office "$LAB_GW6" "$LAB_PORT" 2)
[ "$got" != ok ] || lab_fail "IPv6 still served after the reload"
lab_log "IPv6 after the reload: $got"
lab_stop "$LAB_DAEMON_PID"
echo "ok: one listener on IPv4 and IPv6 through a listen list"
