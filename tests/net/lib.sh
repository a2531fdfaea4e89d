# tests/net/lib.sh: the network lab, sourced by every tests/net/test_*.sh,
# shellcheck shell=bash
# by scripts/demo.sh and by scripts/bench/nft-load.sh.
#
# Everything happens in network namespaces this file creates, named
# "<name>-<suffix>" with a per-run suffix, and none of them is linked to the
# host's namespace, so no test packet can leave the machine and the host's
# ruleset, interfaces and routes are never touched. An EXIT trap deletes
# every namespace and kills every process the run started (by PID), also
# when a test fails half-way.
#
# Addresses come only from the documentation ranges:
#
#   office   203.0.113.10/25   2001:db8:1::10/64 --off0-- gw 203.0.113.1   2001:db8:1::1
#            203.0.113.11 (a second office source, for the rate tests)
#   outside  203.0.113.140/25  2001:db8:2::10/64 --out0-- gw 203.0.113.129 2001:db8:2::1
#            203.0.113.141 (a second outside source)
#   registry 198.51.100.10/24  2001:db8:3::10/64 --reg0-- gw 198.51.100.1  2001:db8:3::1
#
# The clients and the registry route everything through gw, which
# forwards, so gateway mode (forward chain) can be tested as well.
#
# Helpers talk in short namespace names ("gw", "office"); lab_nsname turns
# one into the real name. Tests use `set -u`; assertions call lab_fail.

LAB_PORT=${LAB_PORT:-8443}         # the listener port used by the lab configs
LAB_REG_PORT=${LAB_REG_PORT:-5000} # the registry's port (gateway mode)
LAB_GROUP=${LAB_GROUP:-7}          # nflog group in the lab configs

LAB_GW4=203.0.113.1
LAB_GW6=2001:db8:1::1
LAB_OFFICE4=203.0.113.10
LAB_OFFICE4B=203.0.113.11
LAB_OFFICE6=2001:db8:1::10
LAB_GWOUT4=203.0.113.129
LAB_GWOUT6=2001:db8:2::1
LAB_OUTSIDE4=203.0.113.140
LAB_OUTSIDE4B=203.0.113.141
LAB_OUTSIDE6=2001:db8:2::10
LAB_REG4=198.51.100.10
LAB_REG6=2001:db8:3::10

LAB_NSS=()  # short names of namespaces made by this run
LAB_PIDS=() # background processes started by this run
LAB_SUFFIX=""
LAB_DIR=""
LAB_LAST_PID=""

lab_log() { printf '[lab] %s\n' "$*" >&2; }

lab_fail() {
	printf 'FAIL: %s\n' "$*" >&2
	exit 1
}

# Skip (exit 77) when the lab cannot run here; under CI a skip would hide a
# broken machine, so it fails instead.
lab_skip() {
	if [ "${CI:-}" = "true" ]; then
		printf 'FAIL (CI=true, would skip): %s\n' "$*" >&2
		exit 1
	fi
	printf 'SKIP: %s\n' "$*"
	exit 77
}

lab_require_root() {
	[ "$(id -u)" -eq 0 ] || lab_skip "network tests need root"
	command -v ip >/dev/null 2>&1 || lab_skip "iproute2 (ip) not installed"
	command -v nft >/dev/null 2>&1 || lab_skip "nft not installed"
	command -v python3 >/dev/null 2>&1 || lab_skip "python3 not installed"
	local probe="rwprobe$$"
	ip netns add "$probe" 2>/dev/null || lab_skip "cannot create network namespaces"
	if ! ip netns exec "$probe" nft list tables >/dev/null 2>&1; then
		ip netns del "$probe" 2>/dev/null
		lab_skip "nftables not usable in a network namespace"
	fi
	ip netns del "$probe"
}

# Needs the two programs; BUILD is the absolute build directory.
lab_require_build() {
	BUILD=${BUILD:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)/build}
	[ -x "$BUILD/regwalld" ] || lab_fail "no $BUILD/regwalld (run make)"
	[ -x "$BUILD/regwallctl" ] || lab_fail "no $BUILD/regwallctl (run make)"
}

lab_init() {
	LAB_SUFFIX="rw$$$(printf '%04x' $((RANDOM % 65536)))"
	LAB_DIR=$(mktemp -d "/tmp/regwall-lab.$LAB_SUFFIX.XXXXXX") || lab_fail "mktemp"
	chmod 0755 "$LAB_DIR"
	trap lab_cleanup EXIT
	trap 'exit 130' INT
	trap 'exit 143' TERM
	# The TLS echo servers use the repository's test server certificate
	# (CN/SAN registry.example.test); probes send that name as SNI.
	LAB_CERTS=${LAB_CERTS:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../data/certs" 2>/dev/null && pwd)}
	[ -r "$LAB_CERTS/server.pem" ] || lab_fail "no test certificate in tests/data/certs"
	export LAB_CERTS LAB_SNI=registry.example.test
	lab_write_tool
}

lab_nsname() { printf '%s-%s' "$1" "$LAB_SUFFIX"; }

lab_cleanup() {
	local rc=$? pid ns _
	trap - EXIT INT TERM
	for pid in "${LAB_PIDS[@]}"; do
		kill -TERM "$pid" 2>/dev/null
	done
	for _ in 1 2 3 4 5 6 7 8 9 10; do
		local alive=0
		for pid in "${LAB_PIDS[@]}"; do
			kill -0 "$pid" 2>/dev/null && alive=1
		done
		[ "$alive" -eq 0 ] && break
		sleep 0.1
	done
	for pid in "${LAB_PIDS[@]}"; do
		kill -KILL "$pid" 2>/dev/null
	done
	# Anything still living inside our own namespaces was started by this
	# run (a child of a recorded process); end it by PID before deleting.
	for ns in "${LAB_NSS[@]}"; do
		for pid in $(ip netns pids "$(lab_nsname "$ns")" 2>/dev/null); do
			kill -KILL "$pid" 2>/dev/null
		done
		ip netns del "$(lab_nsname "$ns")" 2>/dev/null
	done
	if [ -n "$LAB_DIR" ] && [ -d "$LAB_DIR" ]; then
		if [ "${LAB_KEEP:-0}" = "1" ] || { [ "$rc" -ne 0 ] && [ "$rc" -ne 77 ] && [ "${LAB_KEEP_ON_FAIL:-0}" = "1" ]; }; then
			lab_log "kept $LAB_DIR"
		else
			rm -rf "$LAB_DIR"
		fi
	fi
	exit "$rc"
}

lab_ns() {
	local ns
	ns=$(lab_nsname "$1")
	ip netns add "$ns" || lab_fail "ip netns add $ns"
	LAB_NSS+=("$1")
	ip -n "$ns" link set lo up || lab_fail "lo up in $ns"
	# No IPv6 duplicate address detection: addresses are usable at once.
	ip netns exec "$ns" sysctl -qw net.ipv6.conf.all.accept_dad=0 net.ipv6.conf.default.accept_dad=0 >/dev/null 2>&1
}

lab_exec() {
	local ns
	ns=$(lab_nsname "$1")
	shift
	ip netns exec "$ns" "$@"
}

# lab_link NS1 IF1 ADDRS1 NS2 IF2 ADDRS2; ADDRS = "v4/len[,v6/len]..."
lab_link() {
	local n1 n2 a
	n1=$(lab_nsname "$1")
	n2=$(lab_nsname "$4")
	# Created in n1 directly, so the pair never exists in the host netns.
	ip -n "$n1" link add "$2" type veth peer name "$5" netns "$n2" || lab_fail "veth $2/$5"
	for a in ${3//,/ }; do
		if [[ $a == *:* ]]; then
			ip -n "$n1" addr add "$a" dev "$2" nodad || lab_fail "addr $a"
		else
			ip -n "$n1" addr add "$a" dev "$2" || lab_fail "addr $a"
		fi
	done
	for a in ${6//,/ }; do
		if [[ $a == *:* ]]; then
			ip -n "$n2" addr add "$a" dev "$5" nodad || lab_fail "addr $a"
		else
			ip -n "$n2" addr add "$a" dev "$5" || lab_fail "addr $a"
		fi
	done
	ip -n "$n1" link set "$2" up || lab_fail "up $2"
	ip -n "$n2" link set "$5" up || lab_fail "up $5"
}

# lab_route NS DEST VIA
lab_route() {
	ip -n "$(lab_nsname "$1")" route add "$2" via "$3" || lab_fail "route $2 via $3 in $1"
}

# The standard topology (see the top of this file).
lab_topology() {
	lab_ns gw
	lab_ns office
	lab_ns outside
	lab_ns registry
	lab_link gw off0 "$LAB_GW4/25,$LAB_GW6/64" \
		office eth0 "$LAB_OFFICE4/25,$LAB_OFFICE4B/25,$LAB_OFFICE6/64"
	lab_link gw out0 "$LAB_GWOUT4/25,$LAB_GWOUT6/64" \
		outside eth0 "$LAB_OUTSIDE4/25,$LAB_OUTSIDE4B/25,$LAB_OUTSIDE6/64"
	lab_link gw reg0 "198.51.100.1/24,2001:db8:3::1/64" \
		registry eth0 "$LAB_REG4/24,$LAB_REG6/64"
	lab_route office default "$LAB_GW4"
	lab_route office ::/0 "$LAB_GW6"
	lab_route outside default "$LAB_GWOUT4"
	lab_route outside ::/0 "$LAB_GWOUT6"
	lab_route registry default 198.51.100.1
	lab_route registry ::/0 2001:db8:3::1
	lab_exec gw sysctl -qw net.ipv4.ip_forward=1 net.ipv6.conf.all.forwarding=1 >/dev/null ||
		lab_fail "forwarding on in gw"
}

# lab_bg NS CMD...: start CMD in NS in the background, record its PID in
# LAB_PIDS and LAB_LAST_PID. `ip netns exec` execs CMD, so the PID is CMD's.
lab_bg() {
	local ns
	ns=$(lab_nsname "$1")
	shift
	ip netns exec "$ns" "$@" &
	LAB_LAST_PID=$!
	LAB_PIDS+=("$LAB_LAST_PID")
}

# Stop one recorded process and reap it.
lab_stop() {
	local pid=$1 sig=${2:-TERM} _
	kill -"$sig" "$pid" 2>/dev/null
	for _ in $(seq 1 50); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	kill -KILL "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
	return 0
}

# Wait until CMD succeeds (up to SECONDS, polled every 0.1 s).
lab_wait_for() {
	local secs=$1 _
	shift
	for _ in $(seq 1 $((secs * 10))); do
		"$@" >/dev/null 2>&1 && return 0
		sleep 0.1
	done
	return 1
}

# --- traffic helpers (python3, written into LAB_DIR by lab_init) ----------

lab_write_tool() {
	cat >"$LAB_DIR/labtool.py" <<'PYEOF'
# Small lab tool: probes, echo server, SYN flood, long connection, NFLOG pcap
# reader, rule counters from `nft -j`. Output is plain text for the shell.
import errno, json, os, re, select, socket, ssl, struct, sys, threading, time

# Every probe speaks TLS with this SNI: regwalld's passthrough listeners
# read the ClientHello and splice to the registry, and the lab's echo
# servers are TLS too, so one probe works with or without the daemon.
SNI = os.environ.get("LAB_SNI", "registry.example.test")
CERTS = os.environ.get("LAB_CERTS", "")

def client_ctx():
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE   # the lab checks reachability, not PKI
    return ctx

def fam(addr):
    return socket.AF_INET6 if ":" in addr else socket.AF_INET

def probe(addr, port, timeout, src=None):
    """ok = connected, TLS handshake done and the echo came back; refused;
    timeout (no answer to the SYN); tls-failed / noecho after connecting;
    error:..."""
    s = socket.socket(fam(addr), socket.SOCK_STREAM)
    s.settimeout(float(timeout))
    try:
        if src:
            s.bind((src, 0))
        s.connect((addr, int(port)))
        try:
            s = client_ctx().wrap_socket(s, server_hostname=SNI)
        except (ssl.SSLError, OSError, socket.timeout):
            return "tls-failed"
        msg = b"regwall-lab %d\n" % os.getpid()
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
    except OSError as e:
        return "error:" + (errno.errorcode.get(e.errno, str(e.errno)))
    finally:
        s.close()

def echo_server(port, logfile):
    """Dual-stack TLS echo server (the test certificate for SNI); logs each
    accepted peer address at TCP accept time."""
    sctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    sctx.load_cert_chain(CERTS + "/server.pem", CERTS + "/server.key")
    ls = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
    ls.bind(("::", int(port)))
    ls.listen(1024)
    log = open(logfile, "a", buffering=1)
    log.write("listening\n")
    def serve(c):
        try:
            c.settimeout(30)
            c = sctx.wrap_socket(c, server_side=True)
            while True:
                d = c.recv(65536)
                if not d:
                    break
                c.sendall(d)
        except (OSError, ssl.SSLError):
            pass
        finally:
            c.close()
    while True:
        c, peer = ls.accept()
        ip = peer[0]
        if ip.startswith("::ffff:"):
            ip = ip[7:]
        log.write("accept %s\n" % ip)
        threading.Thread(target=serve, args=(c,), daemon=True).start()

def burst(addr, port, count, interval, timeout, src=None):
    """count probes, interval seconds apart; prints the tally."""
    tally = {}
    for i in range(int(count)):
        r = probe(addr, port, timeout, src)
        tally[r] = tally.get(r, 0) + 1
        time.sleep(float(interval))
    print(" ".join("%s=%d" % kv for kv in sorted(tally.items())))

def parallel(addr, port, count, timeout, src=None):
    """count connection attempts at once (non-blocking connects), then wait
    up to timeout: prints ok=N fail=M (ok = handshake completed)."""
    socks = []
    for i in range(int(count)):
        s = socket.socket(fam(addr), socket.SOCK_STREAM)
        s.setblocking(False)
        if src:
            s.bind((src, 0))
        s.connect_ex((addr, int(port)))
        socks.append(s)
    pending = set(socks)
    ok = 0
    end = time.time() + float(timeout)
    while pending and time.time() < end:
        _, w, _ = select.select([], list(pending), [], max(0.0, end - time.time()))
        for s in w:
            if s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR) == 0:
                ok += 1
            pending.discard(s)
    for s in socks:
        s.close()
    print("ok=%d fail=%d" % (ok, int(count) - ok))

def flood(addr, port, seconds, rate, src=None):
    """New connection attempts (each a fresh SYN) at about rate/s for
    seconds; sockets are closed after a short while. Prints the count."""
    n = 0
    live = []
    end = time.time() + float(seconds)
    gap = 1.0 / float(rate)
    while time.time() < end:
        s = socket.socket(fam(addr), socket.SOCK_STREAM)
        s.setblocking(False)
        if src:
            s.bind((src, 0))
        s.connect_ex((addr, int(port)))
        n += 1
        live.append(s)
        if len(live) > 200:
            live.pop(0).close()
        time.sleep(gap)
    for s in live:
        s.close()
    print(n)

def longconn(addr, port, seconds, markfile):
    """One connection; a numbered line every 0.1 s for seconds, each echo
    checked. Touches markfile once connected. Exit 0 only if every line
    came back in order."""
    s = socket.create_connection((addr, int(port)), timeout=5)
    s = client_ctx().wrap_socket(s, server_hostname=SNI)
    s.settimeout(5)
    open(markfile, "w").write("connected\n")
    f = s.makefile("rb")
    start = time.time()
    end = start + float(seconds)
    i = 0
    while time.time() < end:
        line = b"line %d\n" % i
        try:
            s.sendall(line)
            got = f.readline()
        except (OSError, ssl.SSLError) as e:
            print("connection broken at line %d, %.1f s in: %s" % (i, time.time() - start, e))
            sys.exit(1)
        if got != line:
            print("lost at line %d, %.1f s in: got %r" % (i, time.time() - start, got))
            sys.exit(1)
        i += 1
        time.sleep(0.1)
    print("lines=%d" % i)
    s.close()

def nflog(path):
    """Each NFLOG record of a pcap file: prefix, src, dst, dport (TAB)."""
    data = open(path, "rb").read()
    if len(data) < 24:
        return
    magic = struct.unpack("<I", data[:4])[0]
    end = "<" if magic in (0xa1b2c3d4, 0xa1b23c4d) else ">"
    linktype = struct.unpack(end + "I", data[20:24])[0]
    if linktype != 239:
        sys.exit("not an NFLOG capture (linktype %d)" % linktype)
    off = 24
    while off + 16 <= len(data):
        incl = struct.unpack(end + "I", data[off + 8:off + 12])[0]
        rec = data[off + 16:off + 16 + incl]
        off += 16 + incl
        prefix, payload = "", b""
        p = 4
        while p + 4 <= len(rec):
            tlen, ttype = struct.unpack("=HH", rec[p:p + 4])
            if tlen < 4 or p + tlen > len(rec):
                break
            val = rec[p + 4:p + tlen]
            if ttype & 0x7fff == 10:
                prefix = val.split(b"\0")[0].decode(errors="replace")
            elif ttype & 0x7fff == 9:
                payload = val
            p += (tlen + 3) & ~3
        src = dst = "?"
        dport = 0
        if payload[:1] and payload[0] >> 4 == 4 and len(payload) >= 20:
            ihl = (payload[0] & 15) * 4
            src = socket.inet_ntop(socket.AF_INET, payload[12:16])
            dst = socket.inet_ntop(socket.AF_INET, payload[16:20])
            if len(payload) >= ihl + 4:
                dport = struct.unpack(">H", payload[ihl + 2:ihl + 4])[0]
        elif payload[:1] and payload[0] >> 4 == 6 and len(payload) >= 44:
            src = socket.inet_ntop(socket.AF_INET6, payload[8:24])
            dst = socket.inet_ntop(socket.AF_INET6, payload[24:40])
            dport = struct.unpack(">H", payload[42:44])[0]
        print("%s\t%s\t%s\t%d" % (prefix, src, dst, dport))

def counter(pattern):
    """Sum of the counters of rules whose log prefix or comment matches the
    regex (nft -j listing on stdin); 'none' if no such rule has a counter.
    When the matching rules include drop rules, only those count: a
    log-then-drop pair would otherwise count every packet twice."""
    doc = json.load(sys.stdin)
    found = []  # (packets, is_drop)
    for item in doc.get("nftables", []):
        r = item.get("rule")
        if not r:
            continue
        text = r.get("comment", "")
        pk, drop = None, False
        for e in r.get("expr", []):
            if "log" in e:
                text += " " + str(e["log"].get("prefix", ""))
            if "counter" in e and isinstance(e["counter"], dict):
                pk = (pk or 0) + e["counter"].get("packets", 0)
            if "drop" in e:
                drop = True
        if pk is not None and re.search(pattern, text):
            found.append((pk, drop))
    if not found:
        print("none")
    elif any(d for _, d in found):
        print(sum(p for p, d in found if d))
    else:
        print(sum(p for p, _ in found))

cmd, args = sys.argv[1], sys.argv[2:]
if cmd == "probe":
    print(probe(*args))
elif cmd == "echo-server":
    echo_server(*args)
elif cmd == "burst":
    burst(*args)
elif cmd == "parallel":
    parallel(*args)
elif cmd == "flood":
    flood(*args)
elif cmd == "longconn":
    longconn(*args)
elif cmd == "nflog":
    nflog(*args)
elif cmd == "counter":
    counter(*args)
else:
    sys.exit("unknown command " + cmd)
PYEOF
}

lab_tool() { python3 "$LAB_DIR/labtool.py" "$@"; }

# lab_probe NS ADDR [PORT [TIMEOUT [SRC]]] -> prints ok|refused|timeout|...
lab_probe() {
	local ns=$1 addr=$2 port=${3:-$LAB_PORT} to=${4:-2} src=${5:-}
	lab_exec "$ns" python3 "$LAB_DIR/labtool.py" probe "$addr" "$port" "$to" $src
}

# lab_expect_probe WANT NS ADDR [PORT [TIMEOUT [SRC]]]
lab_expect_probe() {
	local want=$1 got
	shift
	got=$(lab_probe "$@")
	[ "$got" = "$want" ] || lab_fail "connect from $1 to $2 port ${3:-$LAB_PORT}${5:+ (src $5)}: want $want, got $got"
	lab_log "connect $1 -> $2:${3:-$LAB_PORT}${5:+ src $5}: $got (as expected)"
}

# lab_expect_dropped NS ADDR [PORT [TIMEOUT [SRC]]]: no answer. A ban drops
# every packet of the source in prerouting, IPv6 neighbour discovery
# included, so a banned IPv6 client may not even resolve the gateway:
# EHOSTUNREACH counts as dropped here too (never refused, never ok).
lab_expect_dropped() {
	local got
	got=$(lab_probe "$@")
	case $got in
	timeout | error:EHOSTUNREACH) lab_log "connect $1 -> $2:${3:-$LAB_PORT}${5:+ src $5}: $got (dropped, as expected)" ;;
	*) lab_fail "connect from $1 to $2 port ${3:-$LAB_PORT}${5:+ (src $5)}: want no answer, got $got" ;;
	esac
}

# lab_echo_server NS PORT: dual-stack TLS echo server; accepted peers go to
# $LAB_DIR/echo-<NS>-<PORT>.log; PID in LAB_ECHO_PID. Waits until it listens.
# Without a daemon it stands in for the listener on gw; with regwalld
# running (which owns the listener port) it is the registry behind it.
lab_echo_server() {
	local log="$LAB_DIR/echo-$1-$2.log"
	lab_bg "$1" python3 "$LAB_DIR/labtool.py" echo-server "$2" "$log"
	# shellcheck disable=SC2034 # used by the tests
	LAB_ECHO_PID=$LAB_LAST_PID
	lab_wait_for 5 grep -q listening "$log" || lab_fail "echo server on $1:$2 did not start"
}

# Accepts from ADDR counted by the echo server NS:PORT.
lab_echo_accepts() {
	local n
	n=$(grep -c "^accept $3\$" "$LAB_DIR/echo-$1-$2.log" 2>/dev/null)
	echo "${n:-0}"
}

# --- NFLOG capture ------------------------------------------------------

# lab_capture_start NS GROUP FILE: tcpdump on nflog:GROUP into FILE (pcap).
# Returns 1 if the group cannot be bound (e.g. regwalld reads it itself).
lab_capture_start() {
	local err="$3.err"
	command -v tcpdump >/dev/null 2>&1 || { lab_log "no tcpdump"; return 1; }
	# -Z root: keep root so the file can be written; -U: flush per packet.
	lab_bg "$1" tcpdump -Z root -U -n -i "nflog:$2" -w "$3" 2>"$err"
	LAB_CAP_PID=$LAB_LAST_PID
	if ! lab_wait_for 5 grep -q "listening on" "$err"; then
		lab_log "tcpdump on nflog:$2 did not start: $(cat "$err")"
		return 1
	fi
	sleep 0.2
	kill -0 "$LAB_CAP_PID" 2>/dev/null || { lab_log "tcpdump died: $(cat "$err")"; return 1; }
	return 0
}

# Stop the capture after the kernel's 1 s nflog batching had time to flush.
lab_capture_stop() {
	sleep 1.5
	lab_stop "$1" INT
}

# Records of an NFLOG pcap as "prefix<TAB>src<TAB>dst<TAB>dport" lines.
lab_nflog_records() {
	[ -s "$1" ] || return 0
	lab_tool nflog "$1"
}

# lab_expect_nflog FILE PREFIX_REGEX SRC: at least one record from SRC with
# a prefix matching the (anchored) regex.
lab_expect_nflog() {
	local recs
	recs=$(lab_nflog_records "$1")
	if ! printf '%s\n' "$recs" | awk -F'\t' -v re="^$2\$" -v src="$3" \
		'$1 ~ re && $2 == src { found = 1 } END { exit !found }'; then
		printf '%s\n' "$recs" | sed 's/^/  nflog: /' >&2
		lab_fail "no NFLOG record with prefix /$2/ from $3 in $1"
	fi
	lab_log "NFLOG record from $3 with prefix /$2/ captured"
}

# --- regwall --------------------------------------------------------------

# Sum of the packet counters of regwall rules whose log prefix or comment
# matches REGEX ("none" if there is no such rule with a counter).
lab_counter() {
	lab_exec "$1" nft -j list table inet regwall 2>/dev/null | lab_tool counter "$2"
}

# lab_expect_counter_gt NS REGEX MIN: counter > MIN
lab_expect_counter_gt() {
	local c
	c=$(lab_counter "$1" "$2")
	[ "$c" != "none" ] || lab_fail "no regwall rule with a counter matches /$2/"
	[ "$c" -gt "$3" ] || lab_fail "counter /$2/ is $c, want > $3"
	lab_log "counter /$2/ = $c"
}

# lab_conf FILE [options]: write a lab config. Options (all optional):
#   nets='office=203.0.113.0/25,2001:db8:1::/64;extra=198.51.100.0/24'
#   allow='office'          listener allow_from (comma list)
#   rate='50/second'        policy.conn_rate.per_source
#   burst=N                 policy.conn_rate.burst
#   ban_after=N ban_for=5s  policy.conn_rate ban settings (none by default)
#   upstream=ADDR:PORT      registry.upstream
#   sock=PATH               control.socket
# The syntax follows docs/regwall.conf.sample; only this function needs to
# change if the format does.
lab_conf() {
	local file=$1
	shift
	local nets="office=203.0.113.0/25,2001:db8:1::/64" allow="office" rate="1000/second"
	local burst="" ban_after="" ban_for="10m" upstream="$LAB_REG4:$LAB_REG_PORT"
	local sock="$LAB_DIR/ctl.sock" kv
	for kv in "$@"; do
		case $kv in
		nets=*) nets=${kv#nets=} ;;
		allow=*) allow=${kv#allow=} ;;
		rate=*) rate=${kv#rate=} ;;
		burst=*) burst=${kv#burst=} ;;
		ban_after=*) ban_after=${kv#ban_after=} ;;
		ban_for=*) ban_for=${kv#ban_for=} ;;
		upstream=*) upstream=${kv#upstream=} ;;
		sock=*) sock=${kv#sock=} ;;
		*) lab_fail "lab_conf: unknown option $kv" ;;
		esac
	done
	local netblock="" n name cidrs c list
	IFS=';' read -ra _nets <<<"$nets"
	for n in "${_nets[@]}"; do
		name=${n%%=*}
		cidrs=${n#*=}
		list=""
		for c in ${cidrs//,/ }; do
			list+="${list:+, }\"$c\""
		done
		netblock+="    $name = [ $list ];"$'\n'
	done
	# optional conn_rate settings (the loader refuses ban_after = 0)
	local extra_rate=""
	[ -n "$burst" ] && extra_rate+=$'\n'"        burst = $burst;"
	[ -n "$ban_after" ] && extra_rate+=$'\n'"        ban_after = $ban_after;"$'\n'"        ban_for = \"$ban_for\";"
	local allowlist="" a
	for a in ${allow//,/ }; do
		allowlist+="${allowlist:+, }\"$a\""
	done
	cat >"$file" <<EOF
# regwall lab config (generated by tests/net/lib.sh lab_conf)
registry = {
    upstream = "$upstream";
    upstream_tls = false;
    server_names = [ "registry.example.test" ];
};
networks = {
$netblock};
listeners = (
    {
        name = "https";
        listen = "0.0.0.0:$LAB_PORT";
        mode = "passthrough";
        allow_from = [ $allowlist ];
    },
    {
        name = "https6";
        listen = "[::]:$LAB_PORT";
        mode = "passthrough";
        allow_from = [ $allowlist ];
    }
);
policy = {
    conn_rate = {
        per_source = "$rate";$extra_rate
    };
};
log = {
    nflog_group = $LAB_GROUP;
};
control = {
    socket = "$sock";
    state = "$LAB_DIR/live.json";
};
EOF
}

# Validate + apply a config once in NS (default gw). Fails the test on error.
lab_apply() {
	local conf=$1 ns=${2:-gw} out
	out=$(lab_exec "$ns" "$BUILD/regwalld" -c "$conf" --apply 2>&1) ||
		lab_fail "regwalld -c $conf --apply failed: $out"
}

LAB_DAEMON_PID=""
# lab_daemon CONF [NS]: regwalld in the foreground (backgrounded here),
# waits for "regwalld: ready". Its stderr goes to $LAB_DIR/regwalld.log,
# its stdout (worker events, JSON lines) to $LAB_DIR/events.jsonl.
# It serves the listeners itself (passthrough to the registry namespace).
lab_daemon() { # CONF [NS] [more regwalld arguments, e.g. --workers 2]
	local conf=$1 ns=${2:-gw} _
	shift $(($# < 2 ? $# : 2))
	local log="$LAB_DIR/regwalld.log"
	: >"$log"
	lab_bg "$ns" "$BUILD/regwalld" -c "$conf" -f -s "$LAB_DIR/ctl.sock" "$@" \
		2>>"$log" >>"$LAB_DIR/events.jsonl"
	LAB_DAEMON_PID=$LAB_LAST_PID
	for _ in $(seq 1 100); do
		grep -q "regwalld: ready" "$log" && return 0
		kill -0 "$LAB_DAEMON_PID" 2>/dev/null || {
			cat "$log" >&2
			lab_fail "regwalld exited before it was ready"
		}
		sleep 0.1
	done
	cat "$log" >&2
	lab_fail "regwalld not ready after 10 s"
}

# regwallctl against the lab daemon (in gw).
lab_ctl() {
	lab_exec gw "$BUILD/regwallctl" -s "$LAB_DIR/ctl.sock" "$@"
}

lab_nft() {
	local ns=$1
	shift
	lab_exec "$ns" nft "$@"
}
