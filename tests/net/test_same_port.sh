#!/usr/bin/env bash
# Two listeners on two addresses of the gateway share one port, each with
# its own allowlist: the kernel rules of one never decide the other's
# traffic (an office source reaches the office address, not the outside
# one, and the reverse), on real nftables with regwalld serving both.
set -u
. "$(dirname "$0")/lib.sh"
lab_require_root
lab_require_build
lab_init
lab_topology
lab_echo_server registry "$LAB_REG_PORT"
cat >"$LAB_DIR/a.conf" <<EOF2
registry = { upstream = "$LAB_REG4:$LAB_REG_PORT"; upstream_tls = false;
             server_names = [ "registry.example.test" ]; };
networks = { office = [ "203.0.113.0/25" ]; outside = [ "203.0.113.128/25" ]; };
listeners = (
  { name = "in"; listen = "$LAB_GW4:$LAB_PORT"; mode = "passthrough"; allow_from = [ "office" ]; },
  { name = "out"; listen = "$LAB_GWOUT4:$LAB_PORT"; mode = "passthrough"; allow_from = [ "outside" ]; }
);
log = { nflog_group = $LAB_GROUP; };
control = { socket = "$LAB_DIR/ctl.sock"; state = "$LAB_DIR/live.json"; };
EOF2
out=$("$BUILD/regwalld" -c "$LAB_DIR/a.conf" -n 2>&1) || lab_fail "same port on two addresses refused: $out"
lab_daemon "$LAB_DIR/a.conf" gw --workers 1
lab_expect_probe ok office "$LAB_GW4"
lab_expect_probe ok outside "$LAB_GWOUT4"
lab_expect_probe timeout office "$LAB_GWOUT4" "$LAB_PORT" 2
lab_expect_probe timeout outside "$LAB_GW4" "$LAB_PORT" 2
lab_stop "$LAB_DAEMON_PID"
lab_log "PASS: two listeners on one port, each decided by its own allowlist"
