#!/usr/bin/env bash
# Captures real ServerHello and HelloRetryRequest bytes from openssl s_server
# into tests/data/server-hello/ (the corpus of inspect/rw_tls_server_hello):
# openssl s_client talks to s_server through a small Python relay that keeps
# the server-to-client stream.
#
#   openssl-tls13      s_server default groups: ServerHello (x25519), CCS
#   openssl-tls13-hrr  s_server -groups P-256, s_client -groups X25519:P-256:
#                      the client sends an x25519 key share only, so the
#                      server answers with a HelloRetryRequest (+ CCS)
#   openssl-after-hrr  the same connection's next server flight: the CCS (if
#                      it did not come with the HRR) and the real ServerHello
#   openssl-tls12      s_client -tls1_2: the server's first record(s) up to
#                      the one that ends the ServerHello
#
# NAME.bin keeps the server's records up to the end of the one holding the
# (first) ServerHello, plus a ChangeCipherSpec right after it. NAME.expect
# does NOT come from regwall's parser: the fields are read from
# `openssl s_client -trace`, which decodes the same bytes on the client.
#
# Runs in a private network namespace (unshare --net) with only loopback.
# Usage: scripts/capture-server-hellos.sh [OUTDIR]  (default tests/data/server-hello)
set -euo pipefail

OUT=${1:-tests/data/server-hello}
if [ "${RW_CAPTURE_INNER:-}" != 1 ]; then
	mkdir -p "$OUT"
	OUT=$(cd "$OUT" && pwd)
	exec unshare --net env RW_CAPTURE_INNER=1 bash "$0" "$OUT"
fi
ip link set lo up
WORK=$(mktemp -d /tmp/rw-capture-sh.XXXXXX)
SPID=
cleanup() { [ -n "$SPID" ] && kill "$SPID" 2>/dev/null; rm -rf "$WORK"; }
trap cleanup EXIT
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
	-keyout "$WORK/key.pem" -out "$WORK/cert.pem" -days 2 \
	-subj /CN=registry.example.test >/dev/null 2>&1

cat >"$WORK/relay.py" <<'PY'
# One connection: client <-> server, server-to-client bytes appended to OUT.
import select, socket, sys
lport, sport, out = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
l = socket.socket(); l.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
l.bind(("127.0.0.1", lport)); l.listen(1); l.settimeout(20)
open(out + ".ready", "w").close()
c, _ = l.accept()
s = socket.create_connection(("127.0.0.1", sport))
down = b""
live = {c: s, s: c}
while live:
    r, _, _ = select.select(list(live), [], [], 10)
    if not r:
        break
    for x in r:
        d = x.recv(65536)
        if not d:
            live.pop(x, None)
            continue
        if x is s:
            down += d
        live[x].sendall(d)
open(out, "wb").write(down)
PY

cat >"$WORK/cut.py" <<'PY'
# Server records up to the end of the one completing ServerHello number N
# (1 = first), plus one ChangeCipherSpec record right after it. For N = 2
# the bytes start after the first ServerHello's records.
import sys
data, n, out = open(sys.argv[1], "rb").read(), int(sys.argv[2]), sys.argv[3]
off, hs, seen, start = 0, b"", 0, 0
while off + 5 <= len(data):
    t, ln = data[off], int.from_bytes(data[off + 3:off + 5], "big")
    end = off + 5 + ln
    if t == 22:
        hs += data[off + 5:end]
    done = False
    while len(hs) >= 4 and len(hs) >= 4 + int.from_bytes(hs[1:4], "big"):
        if hs[0] == 2:
            seen += 1
            done = seen == n
        hs = hs[4 + int.from_bytes(hs[1:4], "big"):]
    if done:
        if end + 6 <= len(data) and data[end] == 20:
            end += 6
        open(out, "wb").write(data[start:end])
        sys.exit(0)
    if seen == n - 1 and n > 1 and start == 0 and t == 22 and not hs:
        start = end
    off = end
sys.exit("ServerHello %d not found" % n)
PY

cat >"$WORK/expect.py" <<'PY'
# The Nth "ServerHello" block of s_client -trace (received) as .expect lines.
import re, sys
text, n, src = open(sys.argv[1]).read(), int(sys.argv[2]), sys.argv[3]
MAGIC = "CF21AD74E59A6111BE1D8C021E65B891C2A211167ABB8C5E079E09E2C8A8339C"
blocks = re.findall(r"Received Record\n(?:.*\n)*?    ServerHello, Length=(\d+)\n((?:      .*\n|\s*\n)*)", text)
length, body = blocks[n - 1]
rnd = re.search(r"gmt_unix_time=0x([0-9A-F]+)\n\s*random_bytes \(len=28\): ([0-9A-F]+)", body)
hrr = (rnd.group(1) + rnd.group(2)) == MAGIC
legacy = re.search(r"server_version=0x([0-9a-f]+)", body).group(1)
cipher = re.search(r"cipher_suite \{0x([0-9A-F]{2}), 0x([0-9A-F]{2})\}", body)
sv = re.search(r"supported_versions\(43\), length=2\n\s*TLS [0-9.]+ \((\d+)\)", body)
grp = re.search(r"NamedGroup: .*\((\d+)\)\n", body)
exts = re.findall(r"extension_type=", body)
print("# source: %s" % src)
print("# expectations: openssl s_client -trace of the same connection")
print("result ok")
print("hrr %d" % hrr)
print("legacy_version %04x" % int(legacy, 16))
print("version %04x" % (int(sv.group(1)) if sv else int(legacy, 16)))
print("cipher %s%s" % (cipher.group(1).lower(), cipher.group(2).lower()))
print("group %04x" % (int(grp.group(1)) if grp else 0))
print("extensions %d" % len(exts))
print("msg_len %d" % (int(length) + 4))
PY

port=48600
capture() { # NAME N SERVER_ARGS -- CLIENT_ARGS
	local name=$1 n=$2; shift 2
	local sargs=() cargs=()
	while [ "$1" != -- ]; do sargs+=("$1"); shift; done; shift
	cargs=("$@")
	port=$((port + 2))
	openssl s_server -quiet -accept "127.0.0.1:$((port + 1))" -cert "$WORK/cert.pem" \
		-key "$WORK/key.pem" -www "${sargs[@]}" >/dev/null 2>&1 &
	SPID=$!
	sleep 0.5
	rm -f "$WORK/down" "$WORK/down.ready"
	python3 "$WORK/relay.py" "$port" "$((port + 1))" "$WORK/down" &
	local rpid=$!
	for _ in $(seq 50); do [ -e "$WORK/down.ready" ] && break; sleep 0.1; done
	printf 'GET / HTTP/1.0\r\n\r\n' | timeout 10 openssl s_client -connect "127.0.0.1:$port" \
		-servername registry.example.test -ign_eof -trace "${cargs[@]}" >"$WORK/trace" 2>"$WORK/err" || true
	wait "$rpid"
	kill "$SPID"; wait "$SPID" 2>/dev/null || true; SPID=
	python3 "$WORK/cut.py" "$WORK/down" "$n" "$OUT/$name.bin"
	python3 "$WORK/expect.py" "$WORK/trace" "$n" \
		"openssl s_server ${sargs[*]} / s_client ${cargs[*]} ($(openssl version | cut -d' ' -f1-2))" \
		>"$OUT/$name.expect"
	echo "captured $name ($(stat -c %s "$OUT/$name.bin") bytes)"
}
capture openssl-tls13 1 -- -tls1_3
capture openssl-tls13-hrr 1 -groups P-256 -- -groups X25519:P-256
capture openssl-after-hrr 2 -groups P-256 -- -groups X25519:P-256
capture openssl-tls12 1 -- -tls1_2
