#!/usr/bin/env bash
# The control socket cannot be starved: 200 clients that connect and say
# nothing, plus 10 that send requests and never read the replies, while
# the admin runs `regwallctl status` and a worker is killed. Before, 32
# silent clients locked the admin out ("busy") for 30 s, and non-reading
# ones made status take 20 s and delayed a worker restart by 6 s: replies
# were written blocking in the loop that also handles SIGCHLD.
set -u
. "$(dirname "$0")/lib.sh"
lab_require_root
lab_require_build
lab_init
lab_topology
lab_echo_server registry "$LAB_REG_PORT"
lab_conf "$LAB_DIR/a.conf"
lab_daemon "$LAB_DIR/a.conf" gw --workers 2
daemon=$LAB_DAEMON_PID

cat >"$LAB_DIR/starve.py" <<'PY'
import socket, sys, time
path, silent, greedy, hold = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4])
socks = []
for i in range(silent):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(path)
    socks.append(s)
# non-reading clients: a tiny receive buffer, requests whose replies are
# large (the whole counter table), and never a recv
req = b'{"cmd":"counters"}\n' * 2000
for i in range(greedy):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1024)
    s.connect(path)
    s.setblocking(False)
    try:
        s.send(req)
    except BlockingIOError:
        pass
    socks.append(s)
print("connected", len(socks), flush=True)
time.sleep(hold)
PY
lab_bg gw python3 "$LAB_DIR/starve.py" "$LAB_DIR/ctl.sock" 200 10 4 >"$LAB_DIR/starve.out" 2>&1
starver=$LAB_LAST_PID
lab_wait_for 10 grep -q "^connected 210" "$LAB_DIR/starve.out" || lab_fail "starver: $(cat "$LAB_DIR/starve.out")"
sleep 0.5 # the greedy clients' replies fill their sockets

ms() { date +%s%3N; }
worst=0
for i in 1 2 3 4 5; do
	t0=$(ms)
	out=$(lab_ctl status) || lab_fail "status failed under 210 idle clients: $out"
	t=$(($(ms) - t0))
	[ "$t" -gt "$worst" ] && worst=$t
done
# The goal is 100 ms; the bound allows a loaded CI box (before: 20 s or "busy").
[ "$worst" -le 1000 ] || lab_fail "status took $worst ms with 210 idle clients"
lab_log "regwallctl status with 200 silent + 10 non-reading clients: worst of 5 = $worst ms"

# a killed worker is back at once, not after the clients' write timeouts
w=$(pgrep -P "$daemon" | head -1)
t0=$(ms)
kill -9 "$w"
back() { [ "$(pgrep -P "$daemon" | grep -vx "$w" | wc -l)" -ge 2 ]; }
lab_wait_for 5 back || lab_fail "killed worker $w not restarted within 5 s"
t=$(($(ms) - t0))
[ "$t" -le 1500 ] || lab_fail "killed worker restarted after $t ms"
lab_log "worker killed -> restarted in $t ms"

# the silent clients are closed after the first-request timeout (5 s)
lab_stop "$starver"
lab_expect_probe ok office "$LAB_GW4"
lab_stop "$daemon"
lab_log "PASS: control socket not starved"
