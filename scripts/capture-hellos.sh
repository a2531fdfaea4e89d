#!/usr/bin/env bash
# Regenerates the real part of the ClientHello corpus (tests/data/hello/; the
# crafted part, one file per refusal code, is tests/data/hello-crafted/ from
# scripts/craft-hellos.py):
# real clients (openssl s_client, curl, python ssl, gnutls-cli, skopeo, headless
# Chromium) connect to a one-shot TCP listener that keeps the raw bytes up to
# the end of the record that completes the ClientHello, then closes.
#
# Each capture NAME gives NAME.bin (raw stream bytes) and NAME.expect, whose
# values do NOT come from regwall's parser: tshark dissects the bytes (wrapped
# into a synthetic pcap) and a separate Python JA4 implementation, fed only
# with tshark's fields, computes the fingerprint the way FoxIO's ja4.py does.
#
# Everything runs inside a new network namespace (unshare --net) with only
# its own loopback, and skopeo sees a private /etc/hosts via a bind mount in
# a private mount namespace; the host's network and files are untouched.
#
# Usage: scripts/capture-hellos.sh [OUTDIR]   (default tests/data/hello)
set -euo pipefail

OUT=${1:-tests/data/hello}
NAME=registry.example.test

need() { command -v "$1" >/dev/null 2>&1; }
missing=()
need tshark || missing+=(tshark)
need chromium || missing+=(chromium)
need gnutls-cli || missing+=(gnutls-bin)
need skopeo || missing+=(skopeo)
need curl || missing+=(curl)
need openssl || missing+=(openssl)
if [ ${#missing[@]} -gt 0 ]; then
	DEBIAN_FRONTEND=noninteractive apt-get install -y "${missing[@]}"
fi

if [ "${RW_CAPTURE_INNER:-}" != 1 ]; then
	mkdir -p "$OUT"
	OUT=$(cd "$OUT" && pwd)
	exec unshare --net --mount env RW_CAPTURE_INNER=1 bash "$0" "$OUT"
fi

# ---- inside the private namespaces from here on ----
ip link set lo up
WORK=$(mktemp -d /tmp/rw-capture.XXXXXX)
trap 'rm -rf "$WORK"' EXIT
printf '127.0.0.1 localhost\n127.0.0.1 %s\n' "$NAME" >"$WORK/hosts"
mount --bind "$WORK/hosts" /etc/hosts

cat >"$WORK/listen.py" <<'PY'
# One-shot listener: accept one connection, read until the first handshake
# message is complete (reassembling across records), save the stream bytes up
# to the end of that record, close.
import socket, sys
port, out = int(sys.argv[1]), sys.argv[2]
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", port)); s.listen(8); s.settimeout(60)
open(out + ".ready", "w").close()
c, _ = s.accept(); c.settimeout(20)
buf = b""
def complete(b):
    hs, off = b"", 0
    while off + 5 <= len(b):
        rlen = int.from_bytes(b[off + 3:off + 5], "big")
        if off + 5 + rlen > len(b):
            return None
        hs += b[off + 5:off + 5 + rlen]; off += 5 + rlen
        if len(hs) >= 4 and len(hs) >= 4 + int.from_bytes(hs[1:4], "big"):
            return off
    return None
while True:
    d = c.recv(65536)
    if not d:
        sys.exit("connection closed before the hello was complete")
    buf += d
    end = complete(buf)
    if end is not None:
        break
open(out, "wb").write(buf[:end])
c.close(); s.close()
PY

cat >"$WORK/expect.py" <<'PY'
# Independent expectations: tshark's dissection + JA4 from its fields.
import hashlib, struct, subprocess, sys, time
raw = open(sys.argv[1], "rb").read()
pcap = sys.argv[1] + ".pcap"
# one Ethernet/IPv4/TCP packet to port 443 carrying the whole stream
tcp = struct.pack("!HHIIBBHHH", 40000, 443, 1, 0, 5 << 4, 0x18, 65535, 0, 0)
ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(tcp) + len(raw), 1, 0, 64, 6, 0,
                 bytes([192, 0, 2, 1]), bytes([192, 0, 2, 2]))
eth = b"\x00" * 12 + b"\x08\x00"
frame = eth + ip + tcp + raw
with open(pcap, "wb") as f:
    f.write(struct.pack("<IHHiIII", 0xa1b2c3d4, 2, 4, 0, 0, 262144, 1))
    f.write(struct.pack("<IIII", int(time.time()), 0, len(frame), len(frame)))
    f.write(frame)
fields = ["tls.handshake.type", "tls.handshake.version",
          "tls.handshake.extensions_server_name", "tls.handshake.extensions_alpn_str",
          "tls.handshake.extensions.supported_version", "tls.handshake.ciphersuite",
          "tls.handshake.extension.type", "tls.handshake.sig_hash_alg"]
cmd = ["tshark", "-r", pcap, "-o", "tls.desegment_ssl_records:TRUE",
       "-T", "fields", "-E", "separator=|", "-E", "occurrence=a", "-E", "aggregator=,"]
for f in fields:
    cmd += ["-e", f]
line = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout.strip()
(htype, hver, sni, alpn, svers, ciphers, exts, sigs) = line.split("|")
if htype.split(",")[0] != "1":
    sys.exit("tshark did not see a ClientHello")
num = lambda v: int(v, 0)
grease = lambda v: (v & 0x0f0f) == 0x0a0a and (v >> 8) == (v & 0xff)
lst = lambda s: [num(x) for x in s.split(",") if x]
ciphers = [c for c in lst(ciphers) if not grease(c)]
exts = [e for e in lst(exts) if not grease(e)]
svers = [v for v in lst(svers) if not grease(v)]
# sig_hash_alg also occurs inside other extensions (delegated_credentials);
sigs_all = lst(sigs)
alpns = [a for a in alpn.split(",") if a]
ver = max(svers) if svers else num(hver)
vmap = {0x0304: "13", 0x0303: "12", 0x0302: "11", 0x0301: "10", 0x0300: "s3", 0x0002: "s2"}
def alpn_chars(a):
    if not a:
        return "00"
    if a[0].isascii() and a[0].isalnum() and a[-1].isascii() and a[-1].isalnum():
        return a[0] + a[-1]
    h = a.encode().hex()
    return h[0] + h[-1]
def h12(s):
    return hashlib.sha256(s.encode()).hexdigest()[:12] if s else "000000000000"
# tshark also emits sig_hash_alg for delegated_credentials (34); with it
# present the two lists cannot be told apart from the fields alone
if 34 in exts:
    sys.exit("delegated_credentials present: cannot split sig_hash_alg lists")
sig_list = [s for s in sigs_all if not grease(s)]
a = "t%s%s%02d%02d%s" % (vmap.get(ver, "00"), "d" if 0 in exts else "i",
                         min(len(ciphers), 99), min(len(exts), 99),
                         alpn_chars(alpns[0] if alpns else ""))
b = h12(",".join("%04x" % c for c in sorted(ciphers)))
ce = ",".join("%04x" % e for e in sorted(e for e in exts if e not in (0, 16)))
if sig_list:
    ce += "_" + ",".join("%04x" % s for s in sig_list)
c = h12(ce)
galpn = lambda s: len(s) == 2 and grease(int.from_bytes(s.encode("latin1"), "big"))
print("sni", sni.lower() if sni else "-")
print("alpn", ",".join(x for x in alpns if not galpn(x)) or "-")
print("versions", ",".join("%04x" % v for v in svers) or "-")
print("version", "%04x" % ver)
print("ech", 1 if 0xfe0d in exts else 0)
print("ciphers", len(ciphers))
print("extensions", len(exts))
print("ja4", "%s_%s_%s" % (a, b, c))
PY

capture() { # NAME CMD...
	local name=$1 port
	shift
	port=$((20000 + RANDOM % 20000))
	rm -f "$WORK/$name.bin" "$WORK/$name.bin.ready"
	python3 "$WORK/listen.py" "$port" "$WORK/$name.bin" &
	local lpid=$!
	for _ in $(seq 50); do [ -e "$WORK/$name.bin.ready" ] && break; sleep 0.1; done
	local cmd=("${@//PORT/$port}")
	timeout 30 "${cmd[@]}" </dev/null >"$WORK/$name.log" 2>&1 || true
	if ! wait "$lpid" || [ ! -s "$WORK/$name.bin" ]; then
		echo "capture $name: FAILED (client log: $WORK/$name.log)" >&2
		sed -n 1,20p "$WORK/$name.log" >&2
		return 1
	fi
	python3 "$WORK/expect.py" "$WORK/$name.bin" >"$WORK/$name.expect"
	cp "$WORK/$name.bin" "$OUT/$name.bin"
	{ echo "# source: ${*//$WORK/<tmp>}"; echo "# expectations: tshark $(tshark --version | sed -n '1s/.*(Wireshark) \([^ ]*\).*/\1/p') fields + JA4 computed in scripts/capture-hellos.sh"; cat "$WORK/$name.expect"; } >"$OUT/$name.expect"
	echo "capture $name: $(stat -c %s "$OUT/$name.bin") bytes, $(grep '^ja4' "$OUT/$name.expect")"
}

S="openssl s_client -connect 127.0.0.1:PORT"
capture openssl-tls12-sni $S -tls1_2 -servername $NAME
capture openssl-tls12-nosni $S -tls1_2 -noservername
capture openssl-tls13-sni-alpn $S -tls1_3 -servername $NAME -alpn h2,http/1.1
capture openssl-tls13-nosni $S -tls1_3 -noservername
capture openssl-default-alpn $S -servername $NAME -alpn http/1.1
capture curl-http11 curl -sk --http1.1 --resolve $NAME:PORT:127.0.0.1 https://$NAME:PORT/v2/
capture curl-http2 curl -sk --http2 --resolve $NAME:PORT:127.0.0.1 https://$NAME:PORT/v2/
capture curl-tls12 curl -sk --tlsv1.2 --tls-max 1.2 --resolve $NAME:PORT:127.0.0.1 https://$NAME:PORT/v2/
capture python-ssl python3 -c "
import socket, ssl, sys
ctx = ssl.create_default_context(); ctx.check_hostname = False; ctx.verify_mode = ssl.CERT_NONE
ctx.set_alpn_protocols(['http/1.1'])
s = socket.create_connection(('127.0.0.1', int(sys.argv[1])))
try: ctx.wrap_socket(s, server_hostname='$NAME')
except Exception: pass" PORT
capture gnutls-cli gnutls-cli --insecure -p PORT --sni-hostname $NAME --alpn h2 127.0.0.1
capture skopeo skopeo inspect --tls-verify=false docker://$NAME:PORT/x/y
CHROME_DIR=$(mktemp -d "$WORK/chrome.XXXXXX")
capture chromium chromium --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
	--disable-background-networking --disable-component-update --disable-sync \
	--user-data-dir="$CHROME_DIR" --host-resolver-rules="MAP $NAME 127.0.0.1" \
	--dump-dom https://$NAME:PORT/v2/
