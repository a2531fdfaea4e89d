#!/usr/bin/env bash
# No connect is refused while the workers are replaced. Two clients in the
# office connect to the passthrough listener in a loop (connect, TLS
# handshake through regwalld to the registry's echo server, one line echoed,
# close) while the daemon reloads three times on SIGHUP, each of which
# starts a new worker generation, and takes two live changes (`regwallctl
# network add`, `network del`), which the running workers apply in place
# (no new generation). Every connection must be answered: no RST at
# connect (nobody listening), no reset of a queued connection.
#
# Then a listener the host cannot bind (an address not on gw): a SIGHUP
# reload with it fails with a message naming the listener, address and
# error, and the running workers keep serving; `regwalld -f` with it exits
# non-zero with the same message instead of saying "ready".
set -u
. "$(dirname "$0")/lib.sh"
lab_require_root
lab_require_build
lab_init
lab_topology
lab_echo_server registry "$LAB_REG_PORT"

# A high per-source rate: the kernel's conn_rate must not be what drops a
# connect here (that would show as a timeout, not as the bug looked for).
conf="$LAB_DIR/a.conf"
lab_conf "$conf" rate="100000/second" burst=100000
log="$LAB_DIR/regwalld.log"
lab_daemon "$conf" gw --workers 2
daemon=$LAB_DAEMON_PID
lab_expect_probe ok office "$LAB_GW4"

# The client: loops until STOPFILE exists (or HARDCAP seconds), then prints
# one "result=count" line per outcome and the first few failures.
cat >"$LAB_DIR/connloop.py" <<'PYEOF'
import errno, os, socket, ssl, sys, time
addr, port, stopfile, hardcap, startfile = sys.argv[1:6]
ctx = ssl.create_default_context()
ctx.check_hostname = False
ctx.verify_mode = ssl.CERT_NONE
sni = os.environ.get("LAB_SNI", "registry.example.test")

def one(i):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.settimeout(10)
    try:
        s.connect((addr, int(port)))
        s = ctx.wrap_socket(s, server_hostname=sni)
        msg = b"conn %d %d\n" % (os.getpid(), i)
        s.sendall(msg)
        got = b""
        while len(got) < len(msg):
            chunk = s.recv(len(msg) - len(got))
            if not chunk:
                break
            got += chunk
        return "ok" if got == msg else "noecho"
    except ConnectionRefusedError:
        return "refused"
    except ConnectionResetError:
        return "reset"
    except socket.timeout:
        return "timeout"
    except ssl.SSLError as e:
        return "tls:" + e.__class__.__name__
    except OSError as e:
        return "error:" + errno.errorcode.get(e.errno, str(e.errno))
    finally:
        s.close()

tally = {}
fails = []
end = time.monotonic() + float(hardcap)
i = 0
open(startfile, "w").write("started\n")
while not os.path.exists(stopfile) and time.monotonic() < end:
    r = one(i)
    tally[r] = tally.get(r, 0) + 1
    if r != "ok" and len(fails) < 10:
        fails.append("%d:%s@%.3f" % (i, r, time.monotonic()))
    i += 1
for k, v in sorted(tally.items()):
    print("%s=%d" % (k, v))
print("total=%d" % i)
print("hardcap=%d" % (time.monotonic() >= end))
for f in fails:
    print("fail " + f)
PYEOF

stop="$LAB_DIR/stop-clients"
clients=()
for c in 1 2; do
	lab_bg office timeout 120 python3 "$LAB_DIR/connloop.py" "$LAB_GW4" "$LAB_PORT" "$stop" 90 \
		"$LAB_DIR/started.$c" >"$LAB_DIR/client.$c.out" 2>&1
	clients+=("$LAB_LAST_PID")
done
lab_wait_for 10 test -e "$LAB_DIR/started.1" -a -e "$LAB_DIR/started.2" ||
	lab_fail "the connect loops did not start"

reloads() { lab_ctl -j status | python3 -c 'import json,sys; print(json.load(sys.stdin).get("reloads", -1))'; }
children() { pgrep -P "$daemon" | sort | tr '\n' ' '; }
# a new generation is running: other children than before
renewed() { [ "$(children)" != "$1" ] && [ -n "$(children)" ]; }

sleep 0.5 # some connections before the first change, on the first generation
for step in hup add hup del hup; do
	before=$(children)
	case $step in
	hup)
		r0=$(reloads)
		kill -HUP "$daemon"
		lab_wait_for 20 eval '[ "$(reloads)" -gt "$r0" ]' || lab_fail "SIGHUP reload not done"
		;;
	add) lab_ctl network add office 192.0.2.0/24 >/dev/null || lab_fail "network add failed" ;;
	del) lab_ctl network del office 192.0.2.0/24 >/dev/null || lab_fail "network del failed" ;;
	esac
	case $step in
	hup)
		lab_wait_for 20 renewed "$before" || lab_fail "$step: no new worker generation (children: $(children))"
		lab_log "$step: new generation $(children)"
		;;
	*)
		# a live change is a delta to the running workers
		[ "$(children)" = "$before" ] || lab_fail "$step: workers replaced ($before -> $(children))"
		lab_log "$step: same workers $(children)"
		;;
	esac
	sleep 0.4 # connections on the new generation, while the old one drains
done
touch "$stop"

bad=0
total=0
for c in 1 2; do
	wait "${clients[$((c - 1))]}"
	rc=$?
	out=$(cat "$LAB_DIR/client.$c.out")
	printf '%s\n' "$out" | sed "s/^/  client $c: /" >&2
	[ "$rc" -eq 0 ] || lab_fail "client $c exited with $rc"
	printf '%s\n' "$out" | grep -qx 'hardcap=0' || lab_fail "client $c ran into its hard cap"
	n=$(printf '%s\n' "$out" | sed -n 's/^total=//p')
	ok=$(printf '%s\n' "$out" | sed -n 's/^ok=//p')
	total=$((total + ${n:-0}))
	bad=$((bad + ${n:-0} - ${ok:-0}))
done
lab_log "connections: $total, not answered: $bad"
[ "$total" -ge 100 ] || lab_fail "only $total connections in the loop: too few to show anything"
[ "$bad" -eq 0 ] || {
	grep -E 'regwalld' "$log" | tail -20 >&2
	lab_fail "$bad of $total connections refused, reset or unanswered across reloads and live changes"
}
kill -0 "$daemon" || lab_fail "daemon died"

# --- a listener address the host does not have --------------------------
badconf="$LAB_DIR/bad.conf"
lab_conf "$badconf" rate="100000/second" burst=100000
# one more passthrough listener, on an address that is not on gw
python3 - "$badconf" <<'PYEOF' || lab_fail "cannot write bad.conf"
import sys
p = sys.argv[1]
s = open(p).read()
extra = ''',
    {
        name = "pass4";
        listen = "203.0.113.99:8444";
        mode = "passthrough";
        allow_from = [ "office" ];
    }
);'''
i = s.index("\n);")
open(p, "w").write(s[:i] + extra + s[i + 3:])
PYEOF
lab_exec gw "$BUILD/regwalld" -c "$badconf" --check-config >/dev/null 2>&1 ||
	lab_fail "bad.conf is not even valid as a file: $(lab_exec gw "$BUILD/regwalld" -c "$badconf" --check-config 2>&1)"
want='listener pass4 203.0.113.99:8444: cannot bind: Cannot assign requested address'

# the old generations have drained (their connections were short)
two() { [ "$(pgrep -P "$daemon" | wc -l)" -eq 2 ]; }
lab_wait_for 30 two || lab_fail "old worker generations still alive: $(children)"
cp "$badconf" "$conf"
before=$(children)
kill -HUP "$daemon"
lab_wait_for 20 grep -qF "$want" "$log" || {
	tail -20 "$log" >&2
	lab_fail "reload with an unbindable listener: no message '$want'"
}
lab_log "reload refused: $(grep -F "$want" "$log" | tail -1)"
kill -0 "$daemon" || lab_fail "daemon died on the refused reload"
[ "$(children)" = "$before" ] || lab_fail "the workers changed on a refused reload ($before -> $(children))"
lab_expect_probe ok office "$LAB_GW4"
lab_stop "$daemon"

# The same listener at start: regwalld -f exits non-zero, no "ready".
out=$(lab_exec gw timeout 60 "$BUILD/regwalld" -c "$badconf" -f -s "$LAB_DIR/ctl2.sock" --workers 2 2>&1 </dev/null)
rc=$?
printf '%s\n' "$out" | sed 's/^/  regwalld -f: /' >&2
[ "$rc" -ne 0 ] && [ "$rc" -ne 124 ] || lab_fail "regwalld -f with an unbindable listener: exit $rc"
printf '%s\n' "$out" | grep -qF "$want" || lab_fail "regwalld -f: no message '$want'"
printf '%s\n' "$out" | grep -q "regwalld: ready" && lab_fail "regwalld -f said ready with an unbindable listener"
lab_log "PASS: $total connections across 3 reloads and 2 live changes, none refused; unbindable listener refused"
