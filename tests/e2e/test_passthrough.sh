#!/usr/bin/env bash
# Passthrough end to end through regwalld's workers, in network namespaces
# made here (tests/net/lib.sh topology: office/outside clients, gw running
# regwalld, the registry behind it; documentation addresses only, nothing
# linked to the host namespace; all removed at exit).
#
# Cases: s_client (v4, v6) and curl with the allowed name get the
# registry's certificate verified; curl and s_client with a refused name,
# and a hello without one, are refused (alert, logged); a hello in 1-byte
# segments and one re-framed into 10-byte records pass; a client that sends
# 5 bytes and stops is closed at the hello timeout; nftables drops a client
# outside the allowlist.
# Then, with the real docker-registry serving TLS itself in place of
# s_server: a 1 GiB blob pushed by skopeo arrives with the right digest
# (bounded by E2E_BIG_TIMEOUT, default 600 s) while every worker's VmRSS
# stays bounded, and 2,000 concurrent idle TLS connections are held through
# regwalld past the hello timeout.
# Certificates: a fresh CA and server certificate made by e2e_certs.
#
# Needs root; skips (77) without it outside CI and fails under CI=true.
# E2E_BIG_BYTES (default 1073741824) sets the big layer's size,
# E2E_IDLE_CONNS (default 2000) the number of idle connections,
# E2E_RSS_MAX_MIB (default 64) the bound on a worker's resident memory.
set -u
HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=../net/lib.sh
. "$HERE/../net/lib.sh"
# shellcheck source=lib-e2e.sh
. "$HERE/lib-e2e.sh"

BIG=${E2E_BIG_BYTES:-1073741824}
RSS_MAX_MIB=${E2E_RSS_MAX_MIB:-64}
NIDLE=${E2E_IDLE_CONNS:-2000}

lab_require_root
lab_require_build
for t in openssl skopeo docker-registry curl unshare ss; do
	command -v "$t" >/dev/null 2>&1 || lab_skip "$t not installed"
done
# 2,000 idle connections through passthrough cost regwalld two sockets and
# two splice pipes each (six descriptors; a worker may get them all) and the
# registry one socket: far above the default 1024. regwalld and
# docker-registry inherit the raised limit.
ulimit -n "$(ulimit -Hn)" 2>/dev/null
[ "$(ulimit -n)" = unlimited ] || [ "$(ulimit -n)" -ge $((6 * NIDLE + 512)) ] ||
	lab_skip "descriptor limit $(ulimit -n) too low for $NIDLE idle connections"
"$BUILD/regwalld" --help 2>&1 | grep -q -- '--workers' ||
	lab_skip "this regwalld has no --workers data path"
lab_init
lab_topology
e2e_certs
e2e_tls_registry
S_SERVER_PID=$LAB_LAST_PID
conf="$LAB_DIR/regwall.conf"
e2e_conf "$conf"
e2e_daemon "$conf" 2

# 1. allowed name, IPv4 and IPv6: the registry's own certificate, verified
out=$(e2e_s_client office "$LAB_GW4" -servername "$E2E_NAME")
grep -q "Verify return code: 0 (ok)" <<<"$out" || lab_fail "v4 s_client: $out"
grep -q "HTTP/1.0 200 ok" <<<"$out" || lab_fail "v4: no answer from the registry: $out"
out=$(e2e_s_client office "[$LAB_GW6]" -servername "$E2E_NAME")
grep -q "Verify return code: 0 (ok)" <<<"$out" || lab_fail "v6 s_client: $out"
e2e_expect_event pass "done"
if command -v curl >/dev/null 2>&1; then
	lab_exec office timeout 10 curl -sS --max-time 8 --cacert "$E2E_CERTS/ca.pem" \
		--resolve "$E2E_NAME:$LAB_PORT:$LAB_GW4" "https://$E2E_NAME:$LAB_PORT/" |
		grep -q s_server || lab_fail "curl through regwall"
fi

# 2. refused: unknown name (with the unrecognized_name alert), no name;
# curl as well as s_client: curl must fail, and the refusal is logged
nsni=$(e2e_count_events refuse sni)
out=$(lab_exec office timeout 10 curl -sS --max-time 8 --cacert "$E2E_CERTS/ca.pem" \
	--resolve "other.example.test:$LAB_PORT:$LAB_GW4" "https://other.example.test:$LAB_PORT/" 2>&1) &&
	lab_fail "curl with a refused name got an answer: $out"
grep -q s_server <<<"$out" && lab_fail "curl with a refused name reached the registry: $out"
grep -q "unrecognized name" <<<"$out" || lab_fail "curl: no unrecognized_name alert: $out"
e2e_expect_more_events refuse sni "$nsni"
lab_log "curl with a refused name: $(tail -1 <<<"$out")"
nsni=$(e2e_count_events refuse sni)
out=$(e2e_s_client office "$LAB_GW4" -servername other.example.test)
grep -q "BEGIN CERTIFICATE" <<<"$out" && lab_fail "a refused name reached the registry"
grep -q "unrecognized name" <<<"$out" || lab_fail "no unrecognized_name alert: $out"
e2e_expect_more_events refuse sni "$nsni"
out=$(e2e_s_client office "$LAB_GW4" -noservername)
grep -q "BEGIN CERTIFICATE" <<<"$out" && lab_fail "a hello without SNI got through"
e2e_expect_event refuse no_sni

# 3. segmentation: 1-byte TCP segments, and 10-byte TLS records; the
# registry answers with a handshake record (0x16 0x03 ..)
hello="$E2E_HELLOS/openssl-tls13-sni-alpn.bin"
ans=$(e2e_send_hello office "$LAB_GW4" "$hello" bytes)
[[ $ans == 1603* ]] || lab_fail "1-byte segments: answer '$ans'"
ans=$(e2e_send_hello office "$LAB_GW4" "$hello" records10)
[[ $ans == 1603* ]] || lab_fail "10-byte records: answer '$ans'"

# 4. a client that sends 5 bytes and stops: closed at the hello timeout (5 s)
t=$(e2e_hold office "$LAB_GW4" 5 9)
[ "$t" != open ] || lab_fail "slow client never closed"
awk -v t="$t" 'BEGIN { exit !(t >= 4 && t <= 7.5) }' || lab_fail "closed after ${t}s, want ~5s"
e2e_expect_event refuse hello_timeout

# 5. outside the allowlist: nftables drops before any worker sees it
out=$(e2e_s_client outside "$LAB_GW4" -servername "$E2E_NAME")
grep -q "BEGIN CERTIFICATE" <<<"$out" && lab_fail "outside client reached the registry"

# ---- the real registry, serving TLS itself, behind passthrough ----
# s_server answers one connection at a time; docker-registry takes its place
# on the same address, so regwalld's upstream stays as configured.
lab_stop "$S_SERVER_PID"
e2e_registry tls

# clients in office see registry.example.test at the gateway (a private
# /etc/hosts in a private mount namespace; the host's file is not touched)
printf '127.0.0.1 localhost\n%s %s\n' "$LAB_GW4" "$E2E_NAME" >"$LAB_DIR/hosts"
office() {
	e2e_client office "$LAB_DIR/hosts" "$@"
}
# skopeo trusts the registry's own certificate through the CA alone (no
# client certificate: passthrough never looks inside TLS)
CAD="$LAB_DIR/cd-ca"
mkdir -p "$CAD"
cp "$E2E_CERTS/ca.pem" "$CAD/ca.crt"
REG="$E2E_NAME:$LAB_PORT"

# 6. a 1 GiB blob through passthrough; the registry stores it under the
# digest its manifest names, and the stored bytes are the source layer
python3 "$E2E_ROOT/scripts/mkimage.py" "$LAB_DIR/big" "$BIG" 11 big >/dev/null || lab_fail "mkimage big"
layer=$(python3 -c '
import json,sys
d=sys.argv[1]; m=json.load(open(d+"/index.json"))["manifests"][0]["digest"].split(":")[1]
print(json.load(open(d+"/blobs/sha256/"+m))["layers"][0]["digest"])' "$LAB_DIR/big")
t0=$(date +%s)
e2e_rss_start
out=$(office timeout "${E2E_BIG_TIMEOUT:-600}" skopeo --insecure-policy copy --retry-times 0 \
	--dest-cert-dir "$CAD" "oci:$LAB_DIR/big:big" "docker://$REG/big/app:v1" 2>&1) ||
	lab_fail "big push through passthrough: $out"
t1=$(date +%s)
# spliced through the kernel: no worker grows with the blob
e2e_rss_stop "$RSS_MAX_MIB" "passthrough, big layer"
rm -rf "$LAB_DIR/big"
rlayer=$(office timeout 60 skopeo inspect --raw --cert-dir "$CAD" "docker://$REG/big/app:v1" |
	python3 -c 'import json,sys; print(json.load(sys.stdin)["layers"][0]["digest"])') ||
	lab_fail "inspect big through passthrough"
stored="$LAB_DIR/storage/docker/registry/v2/blobs/sha256/${rlayer:7:2}/${rlayer#sha256:}/data"
[ -f "$stored" ] || lab_fail "big layer $rlayer not in the registry storage"
[ "sha256:$(sha256sum "$stored" | cut -d' ' -f1)" = "$rlayer" ] || lab_fail "big layer digest differs"
python3 - "$stored" "$layer" <<'PY' || lab_fail "big layer content differs from the source"
import gzip, hashlib, sys
f = open(sys.argv[1], "rb")
if f.read(2) == b"\x1f\x8b":  # skopeo may compress an uncompressed layer
    f.seek(0); f = gzip.open(f)
else:
    f.seek(0)
h = hashlib.sha256()
for b in iter(lambda: f.read(1 << 20), b""):
    h.update(b)
sys.exit(0 if "sha256:" + h.hexdigest() == sys.argv[2] else 1)
PY
rm -rf "$LAB_DIR/storage/docker/registry/v2/blobs"
lab_log "big layer ($BIG bytes) through passthrough in $((t1 - t0)) s, digest $layer"

# 7. $NIDLE concurrent idle TLS connections held through regwalld. The
# worker admits at most 256 per source address (rw_fwd_opts.max_per_source,
# not a config setting), so they come from 10 office addresses.
srcs=()
for i in $(seq 20 29); do
	lab_exec office ip addr add "203.0.113.$i/25" dev eth0 || lab_fail "office address $i"
	srcs+=("203.0.113.$i")
done
cat >"$LAB_DIR/idle.py" <<'PY'
import os, resource, socket, ssl, sys, time
host, port, name, ca, n, ready, go = sys.argv[1:8]
port, n, srcs = int(port), int(n), sys.argv[8:]
hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
ctx = ssl.create_default_context(cafile=ca)
conns = []
t0 = time.monotonic()
for i in range(n):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.settimeout(20)
    s.bind((srcs[i % len(srcs)], 0))
    s.connect((host, port))
    # a full handshake with the registry: the connection is spliced through
    conns.append(ctx.wrap_socket(s, server_hostname=name))
print("open %d in %.1f s" % (len(conns), time.monotonic() - t0), flush=True)
open(ready, "w").close()
while not os.path.exists(go):
    time.sleep(0.1)
# each connection is still the registry's: one request on every one
ok = 0
for c in conns:
    c.sendall(("GET /v2/ HTTP/1.1\r\nHost: %s\r\n\r\n" % name).encode())
    got = b""
    while b"\r\n\r\n" not in got:
        d = c.recv(4096)
        if not d:
            break
        got += d
    if got.startswith(b"HTTP/1.1 200"):
        ok += 1
print("answered %d" % ok, flush=True)
PY
lab_exec office python3 "$LAB_DIR/idle.py" "$LAB_GW4" "$LAB_PORT" "$E2E_NAME" "$E2E_CERTS/ca.pem" \
	"$NIDLE" "$LAB_DIR/idle.ready" "$LAB_DIR/idle.go" "${srcs[@]}" >"$LAB_DIR/idle.out" 2>&1 &
IDLE_PID=$!
LAB_PIDS+=("$IDLE_PID")
lab_wait_for 180 test -e "$LAB_DIR/idle.ready" ||
	lab_fail "idle connections not all open: $(cat "$LAB_DIR/idle.out")"
# idle well past the hello timeout (5 s): nothing may reap them
sleep 8
est=$(lab_exec gw ss -Htn state established "( dport = :$LAB_REG_PORT )" | wc -l)
[ "$est" -ge "$NIDLE" ] || lab_fail "only $est upstream connections held for $NIDLE idle clients"
touch "$LAB_DIR/idle.go"
wait "$IDLE_PID" || lab_fail "idle client: $(cat "$LAB_DIR/idle.out")"
grep -qx "answered $NIDLE" "$LAB_DIR/idle.out" || lab_fail "idle connections: $(cat "$LAB_DIR/idle.out")"
lab_log "idle: $(head -1 "$LAB_DIR/idle.out"); $est held through regwalld after 8 s idle; all answered"

echo "PASS test_passthrough"
