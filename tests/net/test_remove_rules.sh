#!/usr/bin/env bash
# --remove-rules deletes table inet regwall and nothing else (and is fine
# when the table is absent). Fail closed: when the daemon is killed with
# SIGKILL, or stops on SIGTERM, the table stays and keeps protecting the port.
set -u
. "$(dirname "$0")/lib.sh"
lab_require_root
lab_require_build
lab_init
lab_topology
lab_echo_server gw "$LAB_PORT"

lab_nft gw add table inet other || lab_fail "foreign table"
lab_nft gw add chain inet other c '{ type filter hook output priority 0; policy accept; }'
lab_nft gw list table inet other >"$LAB_DIR/other.before"

conf="$LAB_DIR/regwall.conf"
lab_conf "$conf"
lab_apply "$conf"
lab_nft gw list table inet regwall >/dev/null || lab_fail "no regwall table"
lab_exec gw "$BUILD/regwalld" --remove-rules || lab_fail "--remove-rules failed"
lab_nft gw list table inet regwall >/dev/null 2>&1 && lab_fail "table still there after --remove-rules"
lab_nft gw list table inet other | cmp -s - "$LAB_DIR/other.before" || lab_fail "foreign table changed"
lab_expect_probe ok outside "$LAB_GWOUT4"
lab_exec gw "$BUILD/regwalld" --remove-rules || lab_fail "--remove-rules on an absent table failed"

# Crash: SIGKILL the daemon; the table stays. From here regwalld owns the
# listener port and splices to the registry.
lab_stop "$LAB_ECHO_PID"
lab_echo_server registry "$LAB_REG_PORT"
lab_daemon "$conf"
lab_expect_probe ok office "$LAB_GW4"
lab_expect_probe timeout outside "$LAB_GWOUT4" "$LAB_PORT" 1
kill -KILL "$LAB_DAEMON_PID"
wait "$LAB_DAEMON_PID" 2>/dev/null
lab_nft gw list table inet regwall >/dev/null || lab_fail "table vanished with the crashed daemon"
# timeout, not refused and not ok: the rules still drop, whatever is left
# of the daemon's workers.
lab_expect_probe timeout outside "$LAB_GWOUT4" "$LAB_PORT" 1
lab_expect_probe timeout outside "$LAB_GWOUT6" "$LAB_PORT" 1

# Orderly stop (SIGTERM): the table stays too. Workers orphaned by the
# SIGKILL above (if any) are ended first so the listener port is free.
for pid in $(ip netns pids "$(lab_nsname gw)"); do
	case $(cat "/proc/$pid/comm" 2>/dev/null) in
	regwalld | regwalld-worker) kill -KILL "$pid" ;;
	esac
done
rm -f "$LAB_DIR/ctl.sock"
lab_daemon "$conf"
lab_stop "$LAB_DAEMON_PID" TERM
lab_nft gw list table inet regwall >/dev/null || lab_fail "table vanished on SIGTERM"
lab_expect_probe timeout outside "$LAB_GWOUT4" "$LAB_PORT" 1
lab_nft gw list table inet other | cmp -s - "$LAB_DIR/other.before" || lab_fail "foreign table changed"
echo "ok: remove-rules scoped to our table; fail closed on crash and stop"
