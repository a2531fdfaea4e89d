#!/usr/bin/env bash
# Descriptor limits under a service manager's default (soft 1024, as
# systemd gives): regwalld raises its soft limit to what max_connections
# needs, so a worker holds 1,500 connections instead of shedding past
# about a thousand; and a hard limit too low for max_connections refuses
# the start with the numbers instead of shedding clients later.
set -u
. "$(dirname "$0")/lib.sh"
lab_require_root
lab_require_build
command -v prlimit >/dev/null 2>&1 || lab_skip "prlimit (util-linux) not installed"
lab_init
lab_topology
lab_echo_server registry "$LAB_REG_PORT"
lab_conf "$LAB_DIR/a.conf" rate=100000/second
printf 'limits = { max_connections = 4096; max_per_source = 4096; hello_timeout = "30s"; };\n' >>"$LAB_DIR/a.conf"

log="$LAB_DIR/regwalld.log"
# 1. a hard limit below what 4096 connections need: refused, nothing applied
out=$(lab_exec gw prlimit --nofile=1024:1024 "$BUILD/regwalld" -c "$LAB_DIR/a.conf" -f \
	-s "$LAB_DIR/ctl.sock" --workers 1 2>&1)
rc=$?
[ "$rc" -ne 0 ] || lab_fail "regwalld started with a hard limit of 1024 for max_connections 4096"
printf '%s\n' "$out" | grep -q "needs at least 8258 open files per worker.*hard limit is 1024" ||
	lab_fail "no message naming the numbers: $out"
lab_nft gw list table inet regwall >/dev/null 2>&1 && lab_fail "the refused start applied a table"
lab_log "hard limit 1024: refused with: $(printf '%s\n' "$out" | grep 'needs at least' | head -1)"

# 2. soft 1024, hard as this machine allows (a container may not let even
# root raise it): raised to min(hard, need), and the worker holds 1,500
# connections
hard=$(ulimit -Hn)
[ "$hard" = unlimited ] && hard=1048576
[ "$hard" -ge 4096 ] || lab_skip "hard open-file limit $hard is too low for this test"
need=$((6 * 4096 + 64 + 2))
want=$((hard < need ? hard : need))
: >"$log"
lab_bg gw prlimit --nofile=1024:"$hard" "$BUILD/regwalld" -c "$LAB_DIR/a.conf" -f \
	-s "$LAB_DIR/ctl.sock" --workers 1 2>>"$log" >>"$LAB_DIR/events.jsonl"
daemon=$LAB_LAST_PID
lab_wait_for 10 grep -q "regwalld: ready" "$log" || { cat "$log" >&2; lab_fail "regwalld not ready"; }
worker=$(pgrep -P "$daemon" | head -1)
[ -n "$worker" ] || lab_fail "no worker"
soft=$(awk '/^Max open files/ { print $4 }' "/proc/$worker/limits")
[ "$soft" -ge "$want" ] || lab_fail "worker soft limit $soft, want >= $want"
lab_log "worker soft open-file limit: $soft (started with 1024; hard $hard)"
if [ "$hard" -lt "$need" ]; then
	grep -q "open-file limit $hard is below the $need" "$log" || lab_fail "no warning about the hard limit $hard < $need"
fi

cat >"$LAB_DIR/hold.py" <<'PY'
import socket, sys, time
n, host, port = int(sys.argv[1]), sys.argv[2], int(sys.argv[3])
held = []
for i in range(n):
    s = socket.socket()
    s.settimeout(5)
    s.connect((host, port))
    held.append(s)
print("held", len(held), flush=True)
time.sleep(float(sys.argv[4]))
PY
lab_bg office prlimit --nofile=4096:4096 python3 "$LAB_DIR/hold.py" 1500 "$LAB_GW4" "$LAB_PORT" 20 \
	>"$LAB_DIR/hold.out" 2>&1
holder=$LAB_LAST_PID
lab_wait_for 30 grep -q "^held 1500" "$LAB_DIR/hold.out" || lab_fail "client could not open 1500 connections: $(cat "$LAB_DIR/hold.out")"
# every one accepted by the worker (an fd each), none shed as overload
accepted() { [ "$(ls "/proc/$worker/fd" | wc -l)" -ge 1500 ]; }
lab_wait_for 10 accepted || lab_fail "worker holds only $(ls "/proc/$worker/fd" | wc -l) fds for 1500 connections"
grep -q '"overload"' "$LAB_DIR/events.jsonl" && lab_fail "connections shed as overload: $(grep -c '"overload"' "$LAB_DIR/events.jsonl")"
lab_log "worker holds $(ls "/proc/$worker/fd" | wc -l) fds with 1500 client connections open; no overload"
lab_stop "$holder"
lab_stop "$daemon"
lab_log "PASS: open-file limit fitted to max_connections"
