#!/usr/bin/env bash
# The push audit chain end to end (docs/design/audit.md): regwalld in
# terminate mode in front of the real Debian docker-registry, skopeo and
# curl clients with the test CA's certificates (the lab of
# test_terminate.sh: per-run namespaces, documentation addresses, no link
# to the host namespace, everything removed at exit).
#
# Cases: the key is created 0600 and `regwallctl status` shows its public
# half; a skopeo push gives an audit line whose digest is skopeo's
# --digestfile; a push outside the identity's repositories gives a refused
# line; a DELETE the registry accepts gives a delete line; `regwallctl
# audit verify --pubkey` passes on the real file once a checkpoint sealed
# it, and fails, naming the line, on copies with one byte changed, one line
# deleted, two lines swapped, a bad checkpoint signature, a torn end, and
# reports the unsigned tail (exit 4, naming its first line) when the file
# is truncated before the last checkpoint, and with --checkpoint (the last
# checkpoint kept elsewhere) fails a file cut back to an earlier one; a
# wrong --pubkey fails; a push the worker answers while regwalld stops is
# still an audit line; a restart continues the chain
# (the stop seals it with a checkpoint).
#
# Needs root; skips (77) without it outside CI and fails under CI=true.
set -u
HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=../net/lib.sh
. "$HERE/../net/lib.sh"
# shellcheck source=lib-e2e.sh
. "$HERE/lib-e2e.sh"

lab_require_root
lab_require_build
for t in skopeo docker-registry curl openssl unshare python3; do
	command -v "$t" >/dev/null 2>&1 || lab_skip "$t not installed"
done
lab_init
lab_topology
e2e_certs
lab_exec gw sysctl -qw net.ipv4.ip_forward=0 net.ipv6.conf.all.forwarding=0 >/dev/null
e2e_registry plain

AUDIT="$LAB_DIR/audit.jsonl"
KEY="$LAB_DIR/keys/audit.key"
mkdir -p "$LAB_DIR/keys"
conf="$LAB_DIR/regwall.conf"
cat >"$conf" <<EOF
registry = { upstream = "$LAB_REG4:$LAB_REG_PORT"; upstream_tls = false;
             server_names = [ "$E2E_NAME" ]; };
networks = { office = [ "203.0.113.0/25", "2001:db8:1::/64" ]; };
listeners = (
  { name = "tls4"; listen = "0.0.0.0:$LAB_PORT"; mode = "terminate";
    cert = "$E2E_CERTS/server.pem"; key = "$E2E_CERTS/server.key";
    client_ca = "$E2E_CERTS/ca.pem"; client_cert = "optional";
    allow_from = [ "office" ]; } );
identities = (
  { name = "ci-bot"; cert_subject = "CN=ci-bot,O=Example Org,C=DE";
    roles = [ "pull:*", "push:team-a/*", "delete:team-a/*" ]; } );
policy = { push_requires_vpn = false; conn_rate = { per_source = "1000/second"; }; };
log = { nflog_group = $LAB_GROUP;
        audit = "$AUDIT"; audit_key = "$KEY";
        audit_checkpoint_lines = 4; audit_checkpoint_interval = "1s"; };
control = { socket = "$LAB_DIR/ctl.sock"; state = "$LAB_DIR/live.json"; };
EOF

# a key that cannot be created: regwalld refuses to start, nothing applied
bad="$LAB_DIR/bad.conf"
sed "s#audit_key = \"$KEY\"#audit_key = \"$LAB_DIR/no-such-dir/audit.key\"#" "$conf" >"$bad"
out=$(lab_exec gw "$BUILD/regwalld" -c "$bad" -f -s "$LAB_DIR/ctl.sock" --workers 1 2>&1) &&
	lab_fail "regwalld started without its audit key: $out"
grep -q "log.audit_key $LAB_DIR/no-such-dir/audit.key: cannot create" <<<"$out" ||
	lab_fail "no clear message for the missing key directory: $out"
grep -q "not starting, nothing changed" <<<"$out" || lab_fail "start refusal: $out"
lab_exec gw nft list table inet regwall >/dev/null 2>&1 &&
	lab_fail "the table was applied although the audit chain could not open"
lab_log "no audit key directory: start refused ($(grep -o 'cannot create: [^;]*' <<<"$out"))"

e2e_daemon "$conf" 2
[ "$(stat -c %a "$KEY")" = 600 ] || lab_fail "audit key mode $(stat -c %a "$KEY"), not 600"
pubhex=$(lab_ctl -j status | python3 -c 'import json,sys; print(json.load(sys.stdin)["audit"]["public_key"])') ||
	lab_fail "status has no audit public key: $(lab_ctl status)"
[[ $pubhex =~ ^[0-9a-f]{64}$ ]] || lab_fail "public key in status: $pubhex"
lab_ctl status | grep -q "\"public_key\": \"$pubhex\"" || lab_fail "regwallctl status does not print the key"
lab_log "audit key created 0600; status shows public key $pubhex"

certdir() {
	local d="$LAB_DIR/cd-$1"
	mkdir -p "$d"
	cp "$E2E_CERTS/$1.pem" "$d/client.cert"
	cp "$E2E_CERTS/$1.key" "$d/client.key"
	cp "$E2E_CERTS/ca.pem" "$d/ca.crt"
	printf '%s' "$d"
}
CD_BOT=$(certdir client)
printf '127.0.0.1 localhost\n%s %s\n' "$LAB_GW4" "$E2E_NAME" >"$LAB_DIR/hosts"
REG="$E2E_NAME:$LAB_PORT"
office() { e2e_client office "$LAB_DIR/hosts" "$@"; }
skopeo_push() { # SRC-LAYOUT:TAG REPO:TAG -> $LAB_DIR/pushed.digest
	rm -f "$LAB_DIR/pushed.digest"
	office timeout 120 skopeo --insecure-policy copy --retry-times 0 \
		--digestfile "$LAB_DIR/pushed.digest" \
		--dest-cert-dir "$CD_BOT" "oci:$1" "docker://$REG/$2"
}
verify() { "$BUILD/regwallctl" audit verify --pubkey "$pubhex" "$@"; }
line_of() { grep -n -- "$1" "$2" | head -1 | cut -d: -f1; }

python3 "$E2E_ROOT/scripts/mkimage.py" "$LAB_DIR/img1" 200000 1 v1 >/dev/null || lab_fail "mkimage"

# 1. a push: the audit line's digest is skopeo's --digestfile
out=$(skopeo_push "$LAB_DIR/img1:v1" team-a/app:v1 2>&1) || lab_fail "push: $out"
want=$(cat "$LAB_DIR/pushed.digest")
pat="\"kind\":\"push\",\"op\":\"manifest_put\",\"result\":\"done\",\"status\":201,\"identity\":\"ci-bot\""
lab_wait_for 5 grep -q "$pat.*\"repository\":\"team-a/app\",\"reference\":\"v1\",\"digest\":\"$want\"" "$AUDIT" ||
	lab_fail "no audit line with digest $want: $(cat "$AUDIT")"
grep -q "\"kind\":\"push\",\"op\":\"upload_complete\"" "$AUDIT" ||
	grep -q "\"kind\":\"push\",\"op\":\"upload_start\"" "$AUDIT" || lab_fail "no blob upload line"
# stamped by the parent with the worker that reported it
wpid=$(grep "\"digest\":\"$want\"" "$AUDIT" | head -1 | sed -n 's/.*"worker_pid":\([0-9]*\),"worker_generation":\([0-9]*\).*/\1 \2/p')
read -r wpid wgen <<<"$wpid"
[ -n "$wpid" ] && [ "$wgen" -ge 1 ] && e2e_workers | tr " " "\n" | grep -qx "$wpid" ||
	lab_fail "worker_pid/generation ($wpid/$wgen) is not a worker of regwalld ($(e2e_workers | tr '\n' ' '))"
lab_log "push team-a/app:v1: audit line digest = --digestfile = $want (worker $wpid, generation $wgen)"

# 2. a refused push (outside push:team-a/*)
out=$(skopeo_push "$LAB_DIR/img1:v1" team-b/app:v1 2>&1) && lab_fail "push to team-b allowed"
lab_wait_for 5 grep -q "\"kind\":\"refuse\",\"op\":\"[a-z_]*\",\"result\":\"refused\",\"reason\":\"no_role\".*\"repository\":\"team-b/app\"" "$AUDIT" ||
	lab_fail "no refused line for team-b: $(cat "$AUDIT")"
lab_log "refused push to team-b/app: $(grep -o '"kind":"refuse","op":"[a-z_]*"' "$AUDIT" | head -1)"

# 3. a delete the registry accepts
code=$(office curl -s -o /dev/null -w '%{http_code}' --max-time 10 --cacert "$E2E_CERTS/ca.pem" \
	--cert "$E2E_CERTS/client.pem" --key "$E2E_CERTS/client.key" -X DELETE \
	"https://$REG/v2/team-a/app/manifests/$want")
[ "$code" = 202 ] || lab_fail "DELETE answered $code"
lab_wait_for 5 grep -q "\"kind\":\"delete\",\"op\":\"manifest_delete\",\"result\":\"done\",\"status\":202.*\"reference\":\"$want\"" "$AUDIT" ||
	lab_fail "no delete line: $(cat "$AUDIT")"
lab_log "DELETE manifest: delete line"

# 4. the real file verifies once a checkpoint sealed it (interval 1 s)
lab_wait_for 5 verify "$AUDIT" || lab_fail "verify on the real file: $(verify "$AUDIT")"
lab_log "audit verify: $(verify "$AUDIT" | tr '\n' ';')"
"$BUILD/regwallctl" audit verify --pubkey "$KEY.pub" "$AUDIT" >/dev/null ||
	lab_fail "verify with the .pub PEM file"

# 5. tampered copies: each fails naming the line
snap="$LAB_DIR/audit.snap"
cp "$AUDIT" "$snap"
n=$(wc -l <"$snap")
L=$(line_of "\"op\":\"manifest_put\"" "$snap")
[ -n "$L" ] && [ "$L" -lt "$n" ] || lab_fail "no manifest_put line inside the file"
expect_fail() { # WHAT FILE LINE WORD
	local out rc
	out=$(verify "$2")
	rc=$?
	[ "$rc" = 1 ] || lab_fail "$1: verify exit $rc: $out"
	grep -q "^FAILED: $2:$3: .*$4" <<<"$out" || lab_fail "$1: not line $3 ($4): $out"
	lab_log "$1: $out"
}
c="$LAB_DIR/t-byte"
python3 - "$snap" "$c" "$L" <<'PY'
import sys
src, dst, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
lines = open(src, "rb").read().split(b"\n")
l = lines[n - 1]
i = l.index(b'"digest":"sha256:') + 17
l = l[:i] + (b"1" if l[i:i + 1] != b"1" else b"2") + l[i + 1:]
lines[n - 1] = l
open(dst, "wb").write(b"\n".join(lines))
PY
expect_fail "one byte changed" "$c" "$L" "changed"
c="$LAB_DIR/t-del"
sed "${L}d" "$snap" >"$c"
expect_fail "one line deleted" "$c" "$L" "removed"
c="$LAB_DIR/t-swap"
awk -v a="$L" 'NR==a { h=$0; next } NR==a+1 { print; print h; next } { print }' "$snap" >"$c"
expect_fail "two lines swapped" "$c" "$L" "reordered"
C=$(grep -n '"kind":"checkpoint"' "$snap" | tail -1 | cut -d: -f1)
[ "$C" = "$n" ] || lab_fail "the sealed file does not end with its checkpoint ($C of $n)"
c="$LAB_DIR/t-sig"
python3 - "$snap" "$c" "$C" <<'PY'
import sys
src, dst, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
lines = open(src, "rb").read().split(b"\n")
l = lines[n - 1]
i = l.index(b'"sig":"') + 7
l = l[:i] + (b"a" if l[i:i + 1] != b"a" else b"b") + l[i + 1:]
lines[n - 1] = l
open(dst, "wb").write(b"\n".join(lines))
PY
expect_fail "bad checkpoint signature" "$c" "$C" "bad checkpoint signature"
c="$LAB_DIR/t-torn"
head -c -20 "$snap" >"$c"
expect_fail "torn end" "$c" "$n" "torn"
# truncated before the last checkpoint: the chain is intact but unsealed;
# the report names the first unsigned line and exits 4
c="$LAB_DIR/t-trunc"
head -n $((C - 1)) "$snap" >"$c"
P=$(grep -n '"kind":"checkpoint"' "$c" | tail -1 | cut -d: -f1)
[ -n "$P" ] || lab_fail "no checkpoint before the last one in $snap"
T=$((P + 1))
out=$(verify "$c")
rc=$?
[ "$rc" = 4 ] || lab_fail "truncated before the last checkpoint: exit $rc: $out"
grep -q "^unsigned tail: $c:$T: " <<<"$out" || lab_fail "truncation: tail not at line $T: $out"
lab_log "truncated before the last checkpoint: $(grep unsigned <<<"$out")"
# cut back to the earlier checkpoint: the file alone verifies (the limit
# the design note states), the last checkpoint kept elsewhere catches it
c="$LAB_DIR/t-cut"
head -n "$P" "$snap" >"$c"
verify "$c" >/dev/null || lab_fail "a file cut at a checkpoint should verify alone"
tail -1 "$snap" >"$LAB_DIR/siem.jsonl"
out=$(verify --checkpoint "$LAB_DIR/siem.jsonl" "$c")
[ $? = 1 ] && grep -q "^FAILED: $c:$P: .*before the checkpoint given.*truncated" <<<"$out" ||
	lab_fail "cut to an earlier checkpoint with --checkpoint: $out"
verify --checkpoint "$LAB_DIR/siem.jsonl" "$snap" >/dev/null ||
	lab_fail "--checkpoint on the whole file: $(verify --checkpoint "$LAB_DIR/siem.jsonl" "$snap")"
lab_log "cut to an earlier checkpoint, --checkpoint from elsewhere: $out"
# a wrong public key
other=$(printf '%064d' 7)
out=$("$BUILD/regwallctl" audit verify --pubkey "$other" "$snap")
[ $? = 1 ] && grep -q "not the given public key" <<<"$out" || lab_fail "wrong key: $out"

# 6. a push that finishes while regwalld stops is still an audit line:
# its request head is in before the SIGTERM, its body after, so the
# worker answers it while stopping and sends the event after the
# parent's loop ended (it was dropped unrecorded before)
cat >"$LAB_DIR/slowput.py" <<'PYEOF'
import os, socket, ssl, sys, time
host, port, cd, mark = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
ctx = ssl.create_default_context(cafile=cd + "/ca.crt")
ctx.load_cert_chain(cd + "/client.cert", cd + "/client.key")
def req(s, head, body=b""):
    s.sendall(head.encode() + body)
with ctx.wrap_socket(socket.create_connection((host, port)), server_hostname=host) as s:
    req(s, "GET /v2/team-a/app/manifests/v3 HTTP/1.1\r\nHost: %s\r\nAccept: "
        "application/vnd.oci.image.manifest.v1+json\r\n\r\n" % host)
    data = b""
    while b"\r\n\r\n" not in data:
        data += s.recv(65536)
    head, body = data.split(b"\r\n\r\n", 1)
    hdrs = {l.split(b":", 1)[0].strip().lower(): l.split(b":", 1)[1].strip()
            for l in head.split(b"\r\n")[1:]}
    n = int(hdrs[b"content-length"])
    while len(body) < n:
        body += s.recv(65536)
    ctype = hdrs[b"content-type"].decode()
    req(s, "PUT /v2/team-a/app/manifests/slow HTTP/1.1\r\nHost: %s\r\nContent-Type: %s\r\n"
        "Content-Length: %d\r\n\r\n" % (host, ctype, len(body)), body[:10])
    open(mark, "w").close()
    time.sleep(1.5)
    s.sendall(body[10:])
    print(s.recv(65536).split(b"\r\n", 1)[0].decode())
PYEOF
out=$(skopeo_push "$LAB_DIR/img1:v1" team-a/app:v3 2>&1) || lab_fail "push v3: $out"
rm -f "$LAB_DIR/slow.mark"
office python3 "$LAB_DIR/slowput.py" "$E2E_NAME" "$LAB_PORT" "$CD_BOT" "$LAB_DIR/slow.mark" \
	>"$LAB_DIR/slow.out" 2>&1 &
slow_pid=$!
lab_wait_for 10 test -e "$LAB_DIR/slow.mark" || lab_fail "slow push: $(cat "$LAB_DIR/slow.out")"
sleep 0.3

# 7. a restart continues the chain; the stop sealed the file
seq_before=$(tail -1 "$AUDIT" | python3 -c 'import json,sys; print(json.load(sys.stdin)["seq"])')
kill -TERM "$E2E_DAEMON_PID"
lab_wait_for 10 sh -c "! kill -0 $E2E_DAEMON_PID" || lab_fail "regwalld did not stop"
wait "$slow_pid"
grep -q "^HTTP/1.1 201" "$LAB_DIR/slow.out" || lab_fail "slow push during the stop: $(cat "$LAB_DIR/slow.out"); $(grep slow "$AUDIT" | tail -2)"
grep -q '"kind":"push","op":"manifest_put".*"reference":"slow"' "$AUDIT" ||
	lab_fail "a push answered while regwalld stopped has no audit line"
lab_log "a push answered during the stop: $(grep -o '"kind":"push","op":"manifest_put","result":"done","status":201' "$AUDIT" | tail -1) (reference slow)"
seq_before=$(tail -1 "$AUDIT" | python3 -c 'import json,sys; print(json.load(sys.stdin)["seq"])')
tail -1 "$AUDIT" | grep -q '"kind":"checkpoint"' || lab_fail "the stop did not seal the file"
verify "$AUDIT" >/dev/null || lab_fail "verify after the stop: $(verify "$AUDIT")"
e2e_daemon "$conf" 1
out=$(skopeo_push "$LAB_DIR/img1:v1" team-a/app:v2 2>&1) || lab_fail "push after restart: $out"
want2=$(cat "$LAB_DIR/pushed.digest")
lab_wait_for 5 grep -q "\"reference\":\"v2\",\"digest\":\"$want2\"" "$AUDIT" || lab_fail "no line for v2"
grep -q "\"seq\":$((seq_before + 1)),.*\"kind\":\"open\",\"reason\":\"start\"" "$AUDIT" ||
	lab_fail "the restart did not continue at seq $((seq_before + 1))"
lab_wait_for 5 verify "$AUDIT" || lab_fail "verify after the restart: $(verify "$AUDIT")"
lab_log "restart: chain continued at seq $((seq_before + 1)); $(verify "$AUDIT" | head -1)"

echo "PASS test_audit"
