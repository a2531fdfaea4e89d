#!/usr/bin/env bash
# regwalld speaks systemd's notify protocol (Type=notify in the unit):
# READY=1 once it serves, RELOADING=1 with MONOTONIC_USEC on SIGHUP and
# READY=1 again after, WATCHDOG=1 from its loop when WATCHDOG_USEC is set,
# STOPPING=1 on SIGTERM. A datagram socket of the test stands in for
# systemd's NOTIFY_SOCKET.
set -u
. "$(dirname "$0")/lib.sh"
lab_require_root
lab_require_build
lab_init
lab_topology
lab_echo_server registry "$LAB_REG_PORT"
lab_conf "$LAB_DIR/a.conf"
sock="$LAB_DIR/notify.sock"
cat >"$LAB_DIR/notify.py" <<'PY'
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
out = open(sys.argv[2], "a", buffering=1)
out.write("bound\n")
while True:
    m = s.recv(4096).decode()
    out.write(m.replace("\n", " ") + "\n")
PY
lab_bg gw python3 "$LAB_DIR/notify.py" "$sock" "$LAB_DIR/notify.log"
lab_wait_for 5 grep -q bound "$LAB_DIR/notify.log" || lab_fail "notify receiver did not start"
log="$LAB_DIR/regwalld.log"
lab_bg gw env NOTIFY_SOCKET="$sock" WATCHDOG_USEC=2000000 "$BUILD/regwalld" -c "$LAB_DIR/a.conf" \
	-f -s "$LAB_DIR/ctl.sock" --workers 1 2>>"$log" >>"$LAB_DIR/events.jsonl"
daemon=$LAB_LAST_PID
lab_wait_for 10 grep -q "^READY=1" "$LAB_DIR/notify.log" || { cat "$log" >&2; lab_fail "no READY=1: $(cat "$LAB_DIR/notify.log")"; }
lab_wait_for 5 grep -q "^WATCHDOG=1" "$LAB_DIR/notify.log" || lab_fail "no WATCHDOG=1 with WATCHDOG_USEC set"
kill -HUP "$daemon"
lab_wait_for 10 grep -qE "^RELOADING=1 MONOTONIC_USEC=[0-9]+" "$LAB_DIR/notify.log" || lab_fail "no RELOADING=1 with MONOTONIC_USEC: $(cat "$LAB_DIR/notify.log")"
lab_wait_for 10 grep -q "^READY=1 STATUS=serving (reloaded)" "$LAB_DIR/notify.log" || lab_fail "no READY=1 after the reload"
kill -TERM "$daemon"
lab_wait_for 10 grep -q "^STOPPING=1" "$LAB_DIR/notify.log" || lab_fail "no STOPPING=1"
lab_log "notify messages: $(grep -v bound "$LAB_DIR/notify.log" | sort | uniq -c | tr '\n' ';')"
lab_log "PASS: READY, RELOADING, WATCHDOG and STOPPING sent to NOTIFY_SOCKET"
