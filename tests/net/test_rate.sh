#!/usr/bin/env bash
# conn_rate.per_source = 5/second, burst 5: a source opening 30 connections
# at once gets some of them dropped (rate_limited counter and NFLOG); a
# source opening one connection every 0.5 s is never limited.
set -u
. "$(dirname "$0")/lib.sh"
lab_require_root
lab_require_build
lab_init
lab_topology
lab_echo_server gw "$LAB_PORT"

lab_conf "$LAB_DIR/a.conf" rate=5/second burst=5
lab_apply "$LAB_DIR/a.conf"
cap="$LAB_DIR/rate.pcap"
lab_capture_start gw "$LAB_GROUP" "$cap" || lab_fail "cannot capture nflog:$LAB_GROUP"

slow=$(lab_exec office python3 "$LAB_DIR/labtool.py" burst "$LAB_GW4" "$LAB_PORT" 6 0.5 2 "$LAB_OFFICE4B")
lab_log "slow source $LAB_OFFICE4B, 6 connections 0.5 s apart: $slow"
[ "$slow" = "ok=6" ] || lab_fail "slow source was limited: $slow"

fast=$(lab_exec office python3 "$LAB_DIR/labtool.py" parallel "$LAB_GW4" "$LAB_PORT" 30 1.5 "$LAB_OFFICE4")
lab_log "fast source $LAB_OFFICE4, 30 connections at once: $fast"
ok=${fast#ok=}; ok=${ok%% *}
fail=${fast#*fail=}
[ "$fail" -gt 0 ] || lab_fail "fast source was not limited: $fast"
[ "$ok" -ge 3 ] || lab_fail "fast source got fewer than the burst through: $fast"

v6=$(lab_exec office python3 "$LAB_DIR/labtool.py" parallel "$LAB_GW6" "$LAB_PORT" 30 1.5)
lab_log "fast IPv6 source: $v6"
[[ $v6 != *fail=0 ]] || lab_fail "fast IPv6 source was not limited: $v6"

lab_capture_stop "$LAB_CAP_PID"
lab_expect_counter_gt gw "rate_limited" 0
lab_expect_nflog "$cap" "regwall https rate_limited" "$LAB_OFFICE4"
lab_expect_nflog "$cap" "regwall https6 rate_limited" "$LAB_OFFICE6"
if lab_nflog_records "$cap" | awk -F'\t' -v s="$LAB_OFFICE4B" '$2 == s { bad = 1 } END { exit !bad }'; then
	lab_fail "the slow source was logged as dropped"
fi
# After the meter refills the fast source gets in again.
sleep 1.2
lab_expect_probe ok office "$LAB_GW4" "$LAB_PORT" 2 "$LAB_OFFICE4"
echo "ok: per-source rate limit"
