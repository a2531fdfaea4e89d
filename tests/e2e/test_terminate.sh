#!/usr/bin/env bash
# Terminate mode end to end: the real Debian docker-registry (distribution
# 2.8) in the "registry" namespace, reachable only through regwalld's
# workers in "gw" (IP forwarding is switched off there, so the only path is
# the proxy), and real skopeo / curl clients with the test CA's client
# certificates in "office". tests/net/lib.sh makes the namespaces (per-run
# names, documentation addresses only, no link to the host namespace) and
# removes them and every process started here at exit.
#
# Cases: push with a push identity (pulled back, digests compared, push
# event with the same digest); pull-only identity: push refused with the
# denial in skopeo's message, pull works; push outside the identity's glob
# refused; a revoked client certificate fails the handshake; 1 GiB layer
# pushed (time-bounded) and its digest checked in the registry's storage,
# while every worker's VmRSS stays bounded (sampled every 0.2 s, and the
# kernel's VmHWM); TLS session resumption (identity kept, new keys after a
# reload); push burst over the ops limit -> 429 + Retry-After, skopeo
# pushing at once fails with the 429, then succeeds after the wait.
# Certificates: a fresh CA, server, clients and CRL made by e2e_certs.
#
# Needs root; skips (77) without it outside CI and fails under CI=true.
# E2E_BIG_BYTES (default 1073741824) sets the big layer's size,
# E2E_RSS_MAX_MIB (default 64) the bound on a worker's resident memory.
set -u
HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=../net/lib.sh
. "$HERE/../net/lib.sh"
# shellcheck source=lib-e2e.sh
. "$HERE/lib-e2e.sh"

BIG=${E2E_BIG_BYTES:-1073741824}
RSS_MAX_MIB=${E2E_RSS_MAX_MIB:-64}

lab_require_root
lab_require_build
for t in skopeo docker-registry curl openssl unshare; do
	command -v "$t" >/dev/null 2>&1 || lab_skip "$t not installed"
done
"$BUILD/regwalld" --help 2>&1 | grep -q -- '--workers' ||
	lab_skip "this regwalld has no --workers data path"
lab_init
lab_topology
e2e_certs
# the proxy is the only way from the clients to the registry
lab_exec gw sysctl -qw net.ipv4.ip_forward=0 net.ipv6.conf.all.forwarding=0 >/dev/null

# ---- registry ----
e2e_registry plain
lab_exec office curl -s --max-time 3 "http://$LAB_REG4:$LAB_REG_PORT/v2/" -o /dev/null &&
	lab_fail "the registry is reachable without the proxy"

# ---- regwalld ----
conf="$LAB_DIR/regwall.conf"
cat >"$conf" <<EOF
registry = { upstream = "$LAB_REG4:$LAB_REG_PORT"; upstream_tls = false;
             server_names = [ "$E2E_NAME" ]; };
networks = { office = [ "203.0.113.0/25", "2001:db8:1::/64" ]; };
listeners = (
  { name = "tls4"; listen = "0.0.0.0:$LAB_PORT"; mode = "terminate";
    cert = "$E2E_CERTS/server.pem"; key = "$E2E_CERTS/server.key";
    client_ca = "$E2E_CERTS/ca.pem"; crl = "$E2E_CERTS/crl.pem";
    client_cert = "optional"; allow_from = [ "office" ]; } );
identities = (
  { name = "ci-bot"; cert_subject = "CN=ci-bot,O=Example Org,C=DE";
    roles = [ "pull:*", "push:team-a/*" ]; },
  { name = "reader"; cert_subject = "CN=cn-only-client"; roles = [ "pull:*" ]; } );
policy = { push_requires_vpn = false;
           push_rate = { ops_per_minute = 30; bytes_per_second = 2000000000; };
           conn_rate = { per_source = "1000/second"; }; };
log = { nflog_group = $LAB_GROUP; };
control = { socket = "$LAB_DIR/ctl.sock"; state = "$LAB_DIR/live.json"; };
EOF
e2e_daemon "$conf" 2

# ---- clients: certificate dirs as skopeo reads them, a private hosts file ----
certdir() { # NAME -> dir with client.cert/client.key/ca.crt
	local d="$LAB_DIR/cd-$1"
	mkdir -p "$d"
	cp "$E2E_CERTS/$1.pem" "$d/client.cert"
	cp "$E2E_CERTS/$1.key" "$d/client.key"
	cp "$E2E_CERTS/ca.pem" "$d/ca.crt"
	printf '%s' "$d"
}
CD_BOT=$(certdir client)
CD_READER=$(certdir cnonly)
printf '127.0.0.1 localhost\n%s %s\n' "$LAB_GW4" "$E2E_NAME" >"$LAB_DIR/hosts"
REG="$E2E_NAME:$LAB_PORT"

# run CMD... in office with $LAB_DIR/hosts as /etc/hosts (a private mount
# namespace: the host's /etc/hosts is never touched)
office() {
	e2e_client office "$LAB_DIR/hosts" "$@"
}
skopeo_push() { # CERTDIR SRC-LAYOUT:TAG REPO:TAG; the pushed digest -> $LAB_DIR/pushed.digest
	rm -f "$LAB_DIR/pushed.digest"
	office timeout "${SKOPEO_TIMEOUT:-120}" skopeo --insecure-policy copy --retry-times 0 \
		--digestfile "$LAB_DIR/pushed.digest" \
		--dest-cert-dir "$1" "oci:$2" "docker://$REG/$3"
}
skopeo_pull() { # CERTDIR REPO:TAG DEST-LAYOUT:TAG
	office timeout 120 skopeo --insecure-policy copy --src-cert-dir "$1" \
		"docker://$REG/$2" "oci:$3"
}
remote_digest() { # CERTDIR REPO:TAG -> sha256 of the manifest bytes the registry serves
	office timeout 60 skopeo inspect --raw --cert-dir "$1" "docker://$REG/$2" | sha256sum |
		sed 's/^\([0-9a-f]*\).*/sha256:\1/'
}
same_layers() { # SRC-LAYOUT PULLED-LAYOUT: the pulled layers, decompressed if
	# skopeo gzipped them on push, are byte for byte the source layers
	python3 - "$1" "$2" <<'PY'
import gzip, hashlib, json, sys
def layers(d):
    m = json.load(open(d + "/index.json"))["manifests"][0]["digest"].split(":")[1]
    return [l["digest"] for l in json.load(open(d + "/blobs/sha256/" + m))["layers"]]
src, got = layers(sys.argv[1]), layers(sys.argv[2])
if len(src) != len(got):
    sys.exit("layer count %d != %d" % (len(src), len(got)))
for s, g in zip(src, got):
    f = open(sys.argv[2] + "/blobs/sha256/" + g.split(":")[1], "rb")
    if f.read(2) == b"\x1f\x8b":
        f.seek(0)
        f = gzip.open(f)
    else:
        f.seek(0)
    h = hashlib.sha256()
    for b in iter(lambda: f.read(1 << 20), b""):
        h.update(b)
    if "sha256:" + h.hexdigest() != s:
        sys.exit("layer %s: content sha256:%s" % (s, h.hexdigest()))
PY
}

python3 "$E2E_ROOT/scripts/mkimage.py" "$LAB_DIR/img1" 300000 1 v1 >/dev/null ||
	lab_fail "mkimage"

# 1. push with a push identity; pull it back; same digests. (skopeo may
# rewrite the manifest on the way - the digest it pushed is in its
# --digestfile; the layers are pushed as they are.)
out=$(skopeo_push "$CD_BOT" "$LAB_DIR/img1:v1" team-a/app:v1 2>&1) ||
	lab_fail "push as ci-bot: $out"
want=$(cat "$LAB_DIR/pushed.digest")
got=$(remote_digest "$CD_BOT" team-a/app:v1) || lab_fail "inspect through regwall"
[ "$got" = "$want" ] || lab_fail "manifest digest in the registry: $got, pushed $want"
out=$(skopeo_pull "$CD_BOT" team-a/app:v1 "$LAB_DIR/back1:v1" 2>&1) || lab_fail "pull back: $out"
same_layers "$LAB_DIR/img1" "$LAB_DIR/back1" || lab_fail "pulled layers differ from the pushed ones"
lab_wait_for 5 grep -q "\"kind\":\"push\".*\"identity\":\"ci-bot\".*\"repository\":\"team-a/app\".*\"reference\":\"v1\",\"digest\":\"$want\"" \
	"$E2E_EVENTS" || lab_fail "no push event with $want: $(grep push "$E2E_EVENTS")"
lab_log "push + pull back as ci-bot: $want"

# 2. pull-only identity: push refused, with the denial in skopeo's message
out=$(skopeo_push "$CD_READER" "$LAB_DIR/img1:v1" team-a/app:v2 2>&1) &&
	lab_fail "reader could push"
grep -qi "denied" <<<"$out" || lab_fail "skopeo does not show the denial: $out"
grep -q "reader may not push to team-a/app" <<<"$out" ||
	lab_fail "skopeo does not show regwall's message: $out"
e2e_expect_event refuse no_role
deny=$(grep -o 'denied: [^"]*' <<<"$out" | head -1)
out=$(skopeo_pull "$CD_READER" team-a/app:v1 "$LAB_DIR/back2:v1" 2>&1) ||
	lab_fail "reader pull: $out"
same_layers "$LAB_DIR/img1" "$LAB_DIR/back2" || lab_fail "reader pulled other layers"
lab_log "reader: push refused (skopeo: $deny), pull ok"

# 3. push outside the identity's glob
out=$(skopeo_push "$CD_BOT" "$LAB_DIR/img1:v1" team-b/app:v1 2>&1) &&
	lab_fail "ci-bot could push to team-b"
grep -q "ci-bot may not push to team-b/app" <<<"$out" || lab_fail "team-b denial: $out"
[ -e "$LAB_DIR/storage/docker/registry/v2/repositories/team-b" ] &&
	lab_fail "team-b reached the registry storage"

# 3b. a revoked client certificate (in the CRL this run made) fails the
# handshake although client certificates are optional: never a downgrade
# to an anonymous connection
nrev=$(e2e_count_events refuse client_cert_revoked)
out=$(office curl -sS --max-time 10 --cacert "$E2E_CERTS/ca.pem" \
	--cert "$E2E_CERTS/revoked.pem" --key "$E2E_CERTS/revoked.key" "https://$REG/v2/" 2>&1) &&
	lab_fail "a revoked certificate was let through: $out"
e2e_expect_more_events refuse client_cert_revoked "$nrev"
lab_log "revoked client refused (curl: $(tail -1 <<<"$out"))"

# 4. the big layer, time-bounded; its digest as stored by the registry
python3 "$E2E_ROOT/scripts/mkimage.py" "$LAB_DIR/big" "$BIG" 7 big >/dev/null || lab_fail "mkimage big"
layer=$(python3 -c '
import json,sys
d=sys.argv[1]; m=json.load(open(d+"/index.json"))["manifests"][0]["digest"].split(":")[1]
print(json.load(open(d+"/blobs/sha256/"+m))["layers"][0]["digest"])' "$LAB_DIR/big")
t0=$(date +%s)
e2e_rss_start
out=$(SKOPEO_TIMEOUT=600 skopeo_push "$CD_BOT" "$LAB_DIR/big:big" team-a/big:v1 2>&1) ||
	lab_fail "big push: $out"
t1=$(date +%s)
# the layer streams through: no worker grows with the blob
e2e_rss_stop "$RSS_MAX_MIB" "terminate, big layer"
# the registry's manifest (read through regwall) names the layer as
# pushed (skopeo gzips uncompressed layers); its stored bytes must hash to
# that digest and decompress to the source layer
rlayer=$(office timeout 60 skopeo inspect --raw --cert-dir "$CD_BOT" "docker://$REG/team-a/big:v1" |
	python3 -c 'import json,sys; print(json.load(sys.stdin)["layers"][0]["digest"])') ||
	lab_fail "inspect big"
stored="$LAB_DIR/storage/docker/registry/v2/blobs/sha256/${rlayer:7:2}/${rlayer#sha256:}/data"
[ -f "$stored" ] || lab_fail "big layer $rlayer not in the registry storage"
[ "sha256:$(sha256sum "$stored" | cut -d' ' -f1)" = "$rlayer" ] || lab_fail "big layer digest differs"
python3 - "$stored" "$layer" <<'PY' || lab_fail "big layer content differs from the source"
import gzip, hashlib, sys
f = open(sys.argv[1], "rb")
if f.read(2) == b"\x1f\x8b":
    f.seek(0); f = gzip.open(f)
else:
    f.seek(0)
h = hashlib.sha256()
for b in iter(lambda: f.read(1 << 20), b""):
    h.update(b)
sys.exit(0 if "sha256:" + h.hexdigest() == sys.argv[2] else 1)
PY
lab_log "big layer ($BIG bytes) pushed in $((t1 - t0)) s, digest $layer"
rm -rf "$LAB_DIR/big"

# 5. TLS session resumption with openssl s_client: a ticket resumes on
# any worker of this generation, the resumed connection keeps the verified
# client certificate's identity (a push-class request is allowed for
# ci-bot), and a reload (new ticket keys) forces a full handshake.
sclient() { # SESSION-ARGS... -> s_client's output; one upload start sent
	# (the answer may share a line with the session dump: grep unanchored)
	printf 'POST /v2/team-a/resume/blobs/uploads/ HTTP/1.1\r\nHost: %s\r\nContent-Length: 0\r\nConnection: close\r\n\r\n' \
		"$E2E_NAME" |
		office timeout 10 openssl s_client -connect "$REG" -servername "$E2E_NAME" \
			-CAfile "$E2E_CERTS/ca.pem" -verify_return_error -ign_eof \
			-cert "$E2E_CERTS/client.pem" -key "$E2E_CERTS/client.key" "$@" 2>&1
}
out=$(sclient -sess_out "$LAB_DIR/sess.pem")
grep -q '^New, TLSv1.3' <<<"$out" || lab_fail "first handshake: $(grep -E '^(New|Reused)' <<<"$out")"
grep -q 'HTTP/1.1 202 ' <<<"$out" || lab_fail "upload start as ci-bot: $(grep '^HTTP' <<<"$out")"
[ -s "$LAB_DIR/sess.pem" ] || lab_fail "no session ticket was issued"
reused=0
for _ in 1 2 3 4; do # several connections: SO_REUSEPORT spreads them over both workers
	out=$(sclient -sess_in "$LAB_DIR/sess.pem")
	grep -q 'HTTP/1.1 202 ' <<<"$out" || lab_fail "resumed upload start: $(grep '^HTTP' <<<"$out")"
	grep -q '^Reused, TLSv1.3' <<<"$out" && reused=$((reused + 1))
done
[ "$reused" = 4 ] || lab_fail "only $reused of 4 connections resumed the ticket"
# without a certificate the same request is refused: the 202 above came
# from the identity the ticket carried
out=$(printf 'POST /v2/team-a/resume/blobs/uploads/ HTTP/1.1\r\nHost: %s\r\nContent-Length: 0\r\nConnection: close\r\n\r\n' "$E2E_NAME" |
	office timeout 10 openssl s_client -connect "$REG" -servername "$E2E_NAME" \
		-CAfile "$E2E_CERTS/ca.pem" -ign_eof 2>&1)
grep -qE 'HTTP/1.1 (401|403) ' <<<"$out" || lab_fail "anonymous upload start: $(grep '^HTTP' <<<"$out")"
e2e_reload
out=$(sclient -sess_in "$LAB_DIR/sess.pem")
grep -q '^New, TLSv1.3' <<<"$out" || lab_fail "a ticket of the old generation resumed after reload"
grep -q 'HTTP/1.1 202 ' <<<"$out" || lab_fail "upload start after reload: $(grep '^HTTP' <<<"$out")"
lab_log "resumption: 4/4 resumed with ci-bot's identity; after reload a full handshake"

# 6. push burst over the ops limit (30/min, burst 30): curl's burst ends in
# 429 + Retry-After + TOOMANYREQUESTS; skopeo pushing at once gets the 429
# itself; after the wait skopeo succeeds
python3 "$E2E_ROOT/scripts/mkimage.py" "$LAB_DIR/img2" 200000 2 v1 >/dev/null ||
	lab_fail "mkimage img2"
start="https://$REG/v2/team-a/burst/blobs/uploads/"
codes=""
# the refused request's own answer is checked (a token refills every 2 s,
# so a later request may be allowed again)
for _ in $(seq 1 40); do
	c=$(office curl -s -D "$LAB_DIR/burst.hdr" -o "$LAB_DIR/429.json" -w '%{http_code}' \
		--max-time 5 -X POST \
		--cacert "$E2E_CERTS/ca.pem" --cert "$E2E_CERTS/client.pem" --key "$E2E_CERTS/client.key" \
		-H 'Content-Length: 0' "$start")
	codes="$codes $c"
	[ "$c" = 429 ] && break
done
# regwalld's workers get the shared limiter (appliance/rw_workers.c sets
# rw_fwd_opts.limit), so the burst must end in a 429
[[ $codes == *429* ]] || lab_fail "40 pushes in a burst, no 429: codes$codes"
hdr=$(cat "$LAB_DIR/burst.hdr")
grep -q '^HTTP/1.1 429 ' <<<"$hdr" || lab_fail "429 head: $hdr"
ra=$(grep -i '^Retry-After:' <<<"$hdr" | tr -dc '0-9')
[ -n "$ra" ] && [ "$ra" -ge 1 ] && [ "$ra" -le 60 ] || lab_fail "429 without a usable Retry-After: $hdr"
grep -q '^{"errors":\[{"code":"TOOMANYREQUESTS","message":"push rate limit for ci-bot reached' \
	"$LAB_DIR/429.json" || lab_fail "429 body: $(cat "$LAB_DIR/429.json")"
e2e_expect_event refuse rate_limited
# at once, with the bucket empty: a new image (two blobs, nothing to mount
# from anywhere) needs 7 push operations, and one token comes back every
# 2 s - far fewer than 7 in the seconds skopeo takes to get going
n429=$(e2e_count_events refuse rate_limited)
out=$(skopeo_push "$CD_BOT" "$LAB_DIR/img2:v1" team-a/burst:v1 2>&1) &&
	lab_fail "skopeo pushed 7 operations into an empty bucket"
# (skopeo prints the OCI code lower-case, then regwall's message)
grep -qiE '(toomanyrequests|429).*push rate limit for ci-bot reached' <<<"$out" ||
	lab_fail "skopeo's failure does not show the 429: $out"
e2e_expect_more_events refuse rate_limited "$n429"
why=$(grep -oiE '(toomanyrequests|429).*' <<<"$out" | head -1 | tr -d '"')
# skopeo 1.9 gives up on the 429 (seen: "uploading layer chunked:
# toomanyrequests", the layer's PATCH): wait as told, plus the refill for
# one image (7 ops, 2 s each at 30/min), then push again
sleep $((ra + 14))
out=$(skopeo_push "$CD_BOT" "$LAB_DIR/img2:v1" team-a/burst:v1 2>&1) ||
	lab_fail "push after the wait: $out"
want=$(cat "$LAB_DIR/pushed.digest")
got=$(remote_digest "$CD_BOT" team-a/burst:v1) || lab_fail "inspect team-a/burst"
[ "$got" = "$want" ] || lab_fail "team-a/burst:v1 in the registry: $got, pushed $want"
lab_log "burst: codes$codes; Retry-After $ra s; skopeo refused ($why), succeeded after waiting"

echo "PASS test_terminate"
