#!/usr/bin/env bash
# Gateway mode: registry.upstream is 198.51.100.10:5000 behind the gateway.
# Clients that route through the gateway straight to the registry's port are
# dropped in the forward chain with the NFLOG prefix
# "regwall - direct_to_registry"; the gateway itself (where regwall runs)
# still reaches the registry.
set -u
. "$(dirname "$0")/lib.sh"
lab_require_root
lab_require_build
lab_init
lab_topology
lab_echo_server registry "$LAB_REG_PORT"

# Routing works without regwall: the drop below is regwall's.
lab_expect_probe ok outside "$LAB_REG4" "$LAB_REG_PORT"

lab_conf "$LAB_DIR/a.conf" upstream="$LAB_REG4:$LAB_REG_PORT"
lab_apply "$LAB_DIR/a.conf"
cap="$LAB_DIR/fwd.pcap"
lab_capture_start gw "$LAB_GROUP" "$cap" || lab_fail "cannot capture nflog:$LAB_GROUP"
n_out=$(lab_echo_accepts registry "$LAB_REG_PORT" "$LAB_OUTSIDE4")

lab_expect_probe timeout outside "$LAB_REG4" "$LAB_REG_PORT" 2
lab_expect_probe timeout office "$LAB_REG4" "$LAB_REG_PORT" 2
lab_expect_probe ok gw "$LAB_REG4" "$LAB_REG_PORT"
lab_capture_stop "$LAB_CAP_PID"

[ "$(lab_echo_accepts registry "$LAB_REG_PORT" "$LAB_OUTSIDE4")" -eq "$n_out" ] ||
	lab_fail "the registry accepted a direct connection"
[ "$(lab_echo_accepts registry "$LAB_REG_PORT" "$LAB_OFFICE4")" -eq 0 ] ||
	lab_fail "the registry accepted a direct connection from office"
[ "$(lab_echo_accepts registry "$LAB_REG_PORT" 198.51.100.1)" -ge 1 ] ||
	lab_fail "the gateway's own connection did not reach the registry"
lab_expect_nflog "$cap" "regwall - direct_to_registry" "$LAB_OUTSIDE4"
lab_expect_nflog "$cap" "regwall - direct_to_registry" "$LAB_OFFICE4"
lab_expect_counter_gt gw "direct_to_registry" 0
# Other forwarded traffic is not regwall's business.
lab_exec outside ping -c 1 -W 2 "$LAB_REG4" >/dev/null || lab_fail "ping through the gateway was dropped"
echo "ok: direct path to the registry dropped in gateway mode"
