#!/usr/bin/env bash
# Listeners share a worker's connection cap but each keeps a reserved
# share: slow clients filling the IPv4 listener (max_connections = 20,
# 1 worker: 5 reserved per listener + 10 shared) are refused past 15,
# and the IPv6 listener is still served. Before, one cap for all: the v6
# client was refused as overload.
set -u
. "$(dirname "$0")/lib.sh"
lab_require_root
lab_require_build
lab_init
lab_topology
lab_echo_server registry "$LAB_REG_PORT"
lab_conf "$LAB_DIR/a.conf" rate=100000/second
printf 'limits = { max_connections = 20; max_per_source = 0; hello_timeout = "20s"; };\n' >>"$LAB_DIR/a.conf"
lab_daemon "$LAB_DIR/a.conf" gw --workers 1

cat >"$LAB_DIR/hold.py" <<'PY'
import socket, sys, time
n, host, port = int(sys.argv[1]), sys.argv[2], int(sys.argv[3])
held, reset = [], 0
for i in range(n):
    s = socket.socket()
    s.settimeout(3)
    # a connection the worker refuses is reset right after its accept;
    # that can land before connect() has read SO_ERROR (a fast worker):
    # it is one of the refusals the events count, not a failure here
    try:
        s.connect((host, port))
        held.append(s)
    except ConnectionResetError:
        reset += 1
        s.close()
print("held", len(held) + reset, "reset_at_connect", reset, flush=True)
time.sleep(30)
PY
lab_bg office python3 "$LAB_DIR/hold.py" 30 "$LAB_GW4" "$LAB_PORT" >"$LAB_DIR/hold.out" 2>&1
holder=$LAB_LAST_PID
lab_wait_for 15 grep -q "^held 30" "$LAB_DIR/hold.out" || lab_fail "holder: $(cat "$LAB_DIR/hold.out")"
# the worker refuses the 16th and later (a reset each, event "overload")
refused() { [ "$(grep -c '"reason":"overload"' "$LAB_DIR/events.jsonl")" -ge 15 ]; }
lab_wait_for 10 refused || lab_fail "want 15 overload refusals on the full listener, got $(grep -c '"reason":"overload"' "$LAB_DIR/events.jsonl")"
n=$(grep -c '"reason":"overload"' "$LAB_DIR/events.jsonl")
grep '"reason":"overload"' "$LAB_DIR/events.jsonl" | grep -qv '"listener":"https"' &&
	lab_fail "an overload refusal on another listener than the full one"
lab_log "IPv4 listener full: $n of 30 refused (want 15)"
[ "$n" -eq 15 ] || lab_fail "want exactly 15 refused (5 reserved + 10 shared admitted), got $n"
# the other listener keeps its reservation
lab_expect_probe ok office "$LAB_GW6"
lab_expect_probe ok office "$LAB_GW6"
lab_stop "$holder"
lab_stop "$LAB_DAEMON_PID"
lab_log "PASS: a full listener does not starve the other"
