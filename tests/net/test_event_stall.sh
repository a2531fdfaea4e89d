#!/usr/bin/env bash
# A stalled event reader cannot stop forwarding: regwalld's stdout is a
# FIFO that a process holds open and never reads. 1,000 SNI refusals
# follow (an event each); a legitimate client still gets through, the
# control socket answers, and status accounts for every event: received
# from the workers = queued for output + dropped at output, and the
# output drops are reported. Before, workers wrote events with blocking
# stdio: after a few hundred, every worker blocked in write and all
# forwarding stopped.
set -u
. "$(dirname "$0")/lib.sh"
lab_require_root
lab_require_build
lab_init
lab_topology
lab_echo_server registry "$LAB_REG_PORT"
lab_conf "$LAB_DIR/a.conf" rate=100000/second
mkfifo "$LAB_DIR/events.fifo"
# the holder: opens the FIFO read-write (so the daemon's open does not
# wait) and never reads
lab_bg gw bash -c "exec sleep 600 <>'$LAB_DIR/events.fifo'"
holder=$LAB_LAST_PID
log="$LAB_DIR/regwalld.log"
lab_bg gw "$BUILD/regwalld" -c "$LAB_DIR/a.conf" -f -s "$LAB_DIR/ctl.sock" --workers 2 \
	2>>"$log" >"$LAB_DIR/events.fifo"
daemon=$LAB_LAST_PID
lab_wait_for 10 grep -q "regwalld: ready" "$log" || { cat "$log" >&2; lab_fail "regwalld not ready"; }

cat >"$LAB_DIR/refuse.py" <<'PY'
import socket, ssl, sys
host, port, n = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
ctx = ssl.create_default_context(); ctx.check_hostname = False; ctx.verify_mode = ssl.CERT_NONE
done = 0
for i in range(n):
    s = socket.create_connection((host, port), timeout=5)
    try:
        ctx.wrap_socket(s, server_hostname="not-the-registry.example.test")
    except (ssl.SSLError, OSError):
        done += 1
    finally:
        s.close()
print("refused", done, flush=True)
PY
out=$(lab_exec office timeout 120 python3 "$LAB_DIR/refuse.py" "$LAB_GW4" "$LAB_PORT" 1000) ||
	lab_fail "refusal loop: $out"
[ "$out" = "refused 1000" ] || lab_fail "refusal loop: $out"
lab_log "1000 SNI refusals made with regwalld's stdout stalled"
# forwarding still works, and the control socket answers
lab_expect_probe ok office "$LAB_GW4"
lab_expect_probe ok office "$LAB_GW6"
# every refusal accounted for once the workers' heartbeats (500 ms) report
j() { lab_ctl --json status; }
settled() {
	local s
	s=$(j) || return 1
	python3 - "$s" <<'PY'
import json, sys
s = json.loads(sys.argv[1]); e = s["events"]
ok = e["received"] + e["dropped_in_workers"] >= 1000 and \
     e["received"] == e["queued_for_output"] + e["dropped_at_output"] and \
     e["sent_by_workers"] == e["received"]
sys.exit(0 if ok else 1)
PY
}
lab_wait_for 10 settled || lab_fail "events not accounted for: $(j)"
st=$(j)
lab_log "status events: $(printf '%s' "$st" | python3 -c 'import json,sys; print(json.load(sys.stdin)["events"])')"
# 1,000 events fit the 4 MiB output queue (tests/unit/test_evout.c
# overflows it): the stall shows as a backlog beyond the pipe's 64 KiB
printf '%s' "$st" | python3 -c 'import json,sys; e=json.load(sys.stdin)["events"]; sys.exit(0 if e["output_backlog_bytes"] > 0 else 1)' ||
	lab_fail "no output backlog reported although nobody reads stdout: $st"
printf '%s' "$st" | python3 -c 'import json,sys; s=json.load(sys.stdin); sys.exit(0 if s["workers_stalled"] == 0 else 1)' ||
	lab_fail "a worker shows as stalled: $st"
# a worker whose loop stops turning (here: SIGSTOP) shows as stalled
w=$(pgrep -P "$daemon" | head -1)
kill -STOP "$w"
stalled() { j | python3 -c 'import json,sys; s=json.load(sys.stdin); sys.exit(0 if s["workers_stalled"] == 1 and any(x["stalled"] and x["pid"] == int(sys.argv[1]) for x in s["worker_list"]) else 1)' "$w"; }
lab_wait_for 5 stalled || { kill -CONT "$w"; lab_fail "stopped worker $w not shown as stalled: $(j)"; }
kill -CONT "$w"
unstalled() { j | python3 -c 'import json,sys; sys.exit(0 if json.load(sys.stdin)["workers_stalled"] == 0 else 1)'; }
lab_wait_for 5 unstalled || lab_fail "worker $w still stalled after SIGCONT: $(j)"
lab_log "a stopped worker shows as stalled in status, and recovers"
lab_stop "$daemon"
lab_stop "$holder"
lab_log "PASS: a stalled event reader costs events, not forwarding"
