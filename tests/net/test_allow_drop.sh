#!/usr/bin/env bash
# An allowlisted client reaches the listener port; a client from an unknown
# network is dropped (its connect times out: no RST) and the drop is logged
# to NFLOG with the prefix "regwall https not_allowed" (the IPv6 listener
# is "https6"). IPv4 and IPv6.
# Uses `regwalld --apply` (no daemon) so that tcpdump can own the nflog group.
set -u
. "$(dirname "$0")/lib.sh"
lab_require_root
lab_require_build
lab_init
lab_topology
lab_echo_server gw "$LAB_PORT"

# Without regwall both clients get through: the drops below are regwall's.
lab_expect_probe ok outside "$LAB_GWOUT4"
lab_expect_probe ok outside "$LAB_GWOUT6"

lab_conf "$LAB_DIR/a.conf"
lab_exec gw "$BUILD/regwalld" -c "$LAB_DIR/a.conf" -n || lab_fail "config rejected by --check-config"
lab_apply "$LAB_DIR/a.conf"
lab_nft gw list table inet regwall >/dev/null || lab_fail "no table inet regwall after --apply"

cap="$LAB_DIR/drop.pcap"
lab_capture_start gw "$LAB_GROUP" "$cap" || lab_fail "cannot capture nflog:$LAB_GROUP"
before4=$(lab_echo_accepts gw "$LAB_PORT" "$LAB_OUTSIDE4")

lab_expect_probe ok office "$LAB_GW4"
lab_expect_probe ok office "$LAB_GW6"
lab_expect_probe timeout outside "$LAB_GWOUT4" "$LAB_PORT" 3
lab_expect_probe timeout outside "$LAB_GWOUT6" "$LAB_PORT" 3
lab_capture_stop "$LAB_CAP_PID"

[ "$(lab_echo_accepts gw "$LAB_PORT" "$LAB_OUTSIDE4")" -eq "$before4" ] ||
	lab_fail "the server accepted a connection from outside"
lab_expect_nflog "$cap" "regwall https not_allowed" "$LAB_OUTSIDE4"
lab_expect_nflog "$cap" "regwall https6 not_allowed" "$LAB_OUTSIDE6"
# Nothing from the allowed client may be logged as a drop.
if lab_nflog_records "$cap" | awk -F'\t' -v a="$LAB_OFFICE4" -v b="$LAB_OFFICE6" \
	'$2 == a || $2 == b { bad = 1 } END { exit !bad }'; then
	lab_fail "an allowed client's packet was logged as dropped"
fi
c=$(lab_counter gw "not_allowed")
if [ "$c" != "none" ]; then
	# 2 probes x (SYN + retransmits) at least
	[ "$c" -ge 2 ] || lab_fail "not_allowed counter is $c, want >= 2"
	lab_log "not_allowed counter = $c"
fi
echo "ok: allow/drop v4+v6, NFLOG prefix checked"
