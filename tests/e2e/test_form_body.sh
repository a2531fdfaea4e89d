#!/usr/bin/env bash
# What the registry reads, not only what the request line says: the real
# Debian docker-registry (distribution 2.8, Go 1.19) behind terminate mode.
#
# distribution reads mount and from (and digest, _state) with Go's
# Request.FormValue, which also parses an application/x-www-form-urlencoded
# body of a POST (body values win over the query) and a multipart/form-data
# body (filling in what the query lacks). The test first shows that against
# the registry itself (directly, not through regwall): a form body mounts
# team-b's blob into a team-a repository, urlencoded, multipart, and with a
# non-ASCII Content-Type Go lower-cases into the form type. Then, through
# regwall as ci-bot (push and pull on team-a only): body-only, query+body,
# multipart, chunked, case and parameter variants, two Content-Type fields,
# the non-ASCII type, and bodies on upload starts and mounts are refused
# with the OCI error JSON and an event with the reason, and the registry's
# storage has no link to team-b's blob in any team-a repository.
# Allowed mounts and uploads leave push events (upload_mount with from and
# status, also when the registry answers 202; upload_complete; monolithic
# upload_start), and an allowed mount does link (so the storage check
# above can see a link).
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
for t in docker-registry curl openssl unshare python3; do
	command -v "$t" >/dev/null 2>&1 || lab_skip "$t not installed"
done
"$BUILD/regwalld" --help 2>&1 | grep -q -- '--workers' ||
	lab_skip "this regwalld has no --workers data path"
lab_init
lab_topology
e2e_certs
lab_exec gw sysctl -qw net.ipv4.ip_forward=0 net.ipv6.conf.all.forwarding=0 >/dev/null

e2e_registry plain
conf="$LAB_DIR/regwall.conf"
cat >"$conf" <<EOF
registry = { upstream = "$LAB_REG4:$LAB_REG_PORT"; upstream_tls = false;
             server_names = [ "$E2E_NAME" ]; };
networks = { office = [ "203.0.113.0/25" ]; };
listeners = (
  { name = "tls4"; listen = "0.0.0.0:$LAB_PORT"; mode = "terminate";
    cert = "$E2E_CERTS/server.pem"; key = "$E2E_CERTS/server.key";
    client_ca = "$E2E_CERTS/ca.pem"; crl = "$E2E_CERTS/crl.pem";
    client_cert = "required"; allow_from = [ "office" ]; } );
identities = (
  { name = "ci-bot"; cert_subject = "CN=ci-bot,O=Example Org,C=DE";
    roles = [ "pull:team-a/*", "push:team-a/*" ]; } );
policy = { push_requires_vpn = false; pull_needs_role = true;
           push_rate = { ops_per_minute = 100000; bytes_per_second = 2000000000; };
           conn_rate = { per_source = "1000/second"; }; };
log = { nflog_group = $LAB_GROUP; };
control = { socket = "$LAB_DIR/ctl.sock"; state = "$LAB_DIR/live.json"; };
EOF
e2e_daemon "$conf" 2

REGURL="http://$LAB_REG4:$LAB_REG_PORT"
STORE="$LAB_DIR/storage/docker/registry/v2/repositories"

# direct ARGS...: curl from the registry's own namespace, past regwall
direct() {
	lab_exec registry curl -sS --max-time 10 "$@"
}

# upload_direct REPO FILE: a blob pushed straight into the registry
# (POST, then PUT with the bytes); prints its digest
upload_direct() {
	local repo=$1 file=$2 dg loc
	dg="sha256:$(sha256sum "$file" | cut -d' ' -f1)"
	loc=$(direct -o /dev/null -D - -X POST "$REGURL/v2/$repo/blobs/uploads/" |
		sed -n 's/^[Ll]ocation: *//p' | tr -d '\r')
	[ -n "$loc" ] || lab_fail "no upload session for $repo"
	case $loc in /*) loc="$REGURL$loc" ;; esac
	[ "$(direct -o /dev/null -w '%{http_code}' -X PUT -H 'Content-Type: application/octet-stream' \
		--data-binary "@$file" "$loc&digest=$dg")" = 201 ] || lab_fail "direct upload to $repo"
	printf '%s' "$dg"
}

linked() { # REPO DIGEST: the registry links the blob into REPO
	[ -f "$STORE/$1/_layers/sha256/${2#sha256:}/link" ]
}

# rw REQUEST-FILE: send the raw bytes of REQUEST-FILE through regwall as
# ci-bot (TLS, client certificate) from the office; prints the status code
# and writes the response head and body to $LAB_DIR/rw.head, rw.body
rw() {
	lab_exec office python3 - "$LAB_GW4" "$LAB_PORT" "$E2E_NAME" "$E2E_CERTS" "$1" \
		"$LAB_DIR/rw" <<'PY'
import socket, ssl, sys
host, port, name, certs, req, out = sys.argv[1:7]
ctx = ssl.create_default_context(cafile=certs + "/ca.pem")
ctx.load_cert_chain(certs + "/client.pem", certs + "/client.key")
s = ctx.wrap_socket(socket.create_connection((host, int(port)), 10), server_hostname=name)
s.settimeout(10)
s.sendall(open(req, "rb").read())
data = b""
try:
    while True:
        d = s.recv(65536)
        if not d:
            break
        data += d
        h, sep, rest = data.partition(b"\r\n\r\n")
        if sep:
            cl = [l for l in h.split(b"\r\n") if l.lower().startswith(b"content-length:")]
            if cl and len(rest) >= int(cl[0].split(b":")[1]):
                break
except (socket.timeout, ssl.SSLError, OSError):
    pass
h, _, rest = data.partition(b"\r\n\r\n")
open(out + ".head", "wb").write(h)
open(out + ".body", "wb").write(rest)
print(h.split(b" ")[1].decode() if h.startswith(b"HTTP/1.1 ") else "none")
PY
}

# req FILE METHOD TARGET BODY [FIELD...]: write a request with a
# Content-Length body (BODY may be empty) and the given head fields
req() {
	local f=$1 m=$2 t=$3 b=$4
	shift 4
	{
		printf '%s %s HTTP/1.1\r\nHost: %s:%s\r\nConnection: close\r\n' "$m" "$t" "$E2E_NAME" "$LAB_PORT"
		for h in "$@"; do printf '%s\r\n' "$h"; done
		printf 'Content-Length: %s\r\n\r\n%s' "${#b}" "$b"
	} >"$f"
}
# chunked FILE METHOD TARGET BODY [FIELD...]: the same body in two chunks
chunked() {
	local f=$1 m=$2 t=$3 b=$4 h1 h2
	shift 4
	h1=${b:0:5} h2=${b:5}
	{
		printf '%s %s HTTP/1.1\r\nHost: %s:%s\r\nConnection: close\r\n' "$m" "$t" "$E2E_NAME" "$LAB_PORT"
		for h in "$@"; do printf '%s\r\n' "$h"; done
		printf 'Transfer-Encoding: chunked\r\n\r\n%x\r\n%s\r\n%x\r\n%s\r\n0\r\n\r\n' \
			"${#h1}" "$h1" "${#h2}" "$h2"
	} >"$f"
}

# refused FILE STATUS REASON WHAT: through regwall, answered STATUS with
# the OCI error JSON, a new refuse event with REASON
refused() {
	local f=$1 st=$2 reason=$3 what=$4 n got code
	n=$(e2e_count_events refuse "$reason")
	got=$(rw "$f")
	[ "$got" = "$st" ] || lab_fail "$what: answered $got, want $st ($(cat "$LAB_DIR/rw.body"))"
	code=$([ "$st" = 400 ] && echo UNSUPPORTED || echo DENIED)
	grep -q "^{\"errors\":\[{\"code\":\"$code\",\"message\":\"regwall: " "$LAB_DIR/rw.body" ||
		lab_fail "$what: body $(cat "$LAB_DIR/rw.body")"
	e2e_expect_more_events refuse "$reason" "$n"
	lab_log "$what: $got $reason"
}

# ---- team-b's secret blob, and what the registry itself does with forms ----
head -c 4096 /dev/urandom >"$LAB_DIR/secret.bin"
SECRET=$(upload_direct team-b/secret "$LAB_DIR/secret.bin")
linked team-b/secret "$SECRET" || lab_fail "seed blob not linked in team-b/secret"
FORM="mount=$SECRET&from=team-b/secret"
# the registry mounts from a urlencoded body, a multipart body, and a
# body whose Content-Type only Go's Unicode lower-casing makes a form
c=$(direct -o /dev/null -w '%{http_code}' -X POST -H 'Content-Type: application/x-www-form-urlencoded' \
	--data "$FORM" "$REGURL/v2/team-a/control1/blobs/uploads/")
[ "$c" = 201 ] && linked team-a/control1 "$SECRET" ||
	lab_fail "control: the registry did not mount from a urlencoded body ($c)"
c=$(direct -o /dev/null -w '%{http_code}' -X POST -F "mount=$SECRET" -F "from=team-b/secret" \
	"$REGURL/v2/team-a/control2/blobs/uploads/")
[ "$c" = 201 ] && linked team-a/control2 "$SECRET" ||
	lab_fail "control: the registry did not mount from a multipart body ($c)"
c=$(direct -o /dev/null -w '%{http_code}' -X POST \
	-H $'Content-Type: appl\xc4\xb0cation/x-www-form-urlencoded' \
	--data "$FORM" "$REGURL/v2/team-a/control3/blobs/uploads/")
[ "$c" = 201 ] && linked team-a/control3 "$SECRET" ||
	lab_fail "control: the registry did not read a U+0130 Content-Type as a form ($c)"
lab_log "control: the registry itself mounts $SECRET from urlencoded, multipart and U+0130 form bodies"

# ---- through regwall: every variant refused, nothing linked ----
F="$LAB_DIR/req.http"
START=/v2/team-a/x1/blobs/uploads/
FORMCT='Content-Type: application/x-www-form-urlencoded'
req "$F" POST "$START" "$FORM" "$FORMCT"
refused "$F" 403 form_body "body-only mount"
req "$F" POST "/v2/team-a/x2/blobs/uploads/?mount=$SECRET&from=team-a/src" "from=team-b/secret" "$FORMCT"
refused "$F" 403 form_body "allowed mount in the query, another from in the body"
bnd=regwallXyZ
mp=$(printf -- '--%s\r\nContent-Disposition: form-data; name="mount"\r\n\r\n%s\r\n--%s\r\nContent-Disposition: form-data; name="from"\r\n\r\nteam-b/secret\r\n--%s--\r\n' \
	"$bnd" "$SECRET" "$bnd" "$bnd")
req "$F" POST "/v2/team-a/x3/blobs/uploads/" "$mp" "Content-Type: multipart/form-data; boundary=$bnd"
refused "$F" 403 form_body "multipart body"
chunked "$F" POST "/v2/team-a/x4/blobs/uploads/" "$FORM" "$FORMCT"
refused "$F" 403 form_body "chunked urlencoded body"
req "$F" POST "/v2/team-a/x5/blobs/uploads/?digest=$SECRET" "$FORM" \
	'Content-Type: Application/X-WWW-Form-Urlencoded ; charset=utf-8'
refused "$F" 403 form_body "monolithic start with a form body (case, parameters)"
req "$F" POST "/v2/team-a/x6/blobs/uploads/" "$FORM" 'Content-Type: application/octet-stream' \
	'content-type: application/x-www-form-urlencoded'
refused "$F" 400 content_type_duplicate "two Content-Type fields"
req "$F" POST "/v2/team-a/x7/blobs/uploads/" "$FORM" $'Content-Type: appl\xc4\xb0cation/x-www-form-urlencoded'
refused "$F" 400 content_type_invalid "U+0130 in Content-Type"
req "$F" POST "/v2/team-a/x8/blobs/uploads/" "$FORM"
refused "$F" 403 upload_start_body "upload start with a body, no Content-Type"
chunked "$F" POST "/v2/team-a/x9/blobs/uploads/" "$FORM"
refused "$F" 403 upload_start_body "upload start with a chunked body"
req "$F" POST "/v2/team-a/x10/blobs/uploads/?mount=$SECRET&from=team-a/src" "$FORM" \
	'Content-Type: application/octet-stream'
refused "$F" 403 upload_start_body "mount with a body"
# the PUT that completes an upload reads digest through FormValue too
req "$F" PUT "/v2/team-a/x11/blobs/uploads/u1?digest=$SECRET" "digest=$SECRET" "$FORMCT"
refused "$F" 403 form_body "upload complete with a form body"
# no team-a repository but the controls holds a link to the secret blob
leaks=$(find "$STORE/team-a" -path "*/_layers/sha256/${SECRET#sha256:}/link" 2>/dev/null |
	grep -v '/team-a/control[0-9]/' || true)
[ -z "$leaks" ] || lab_fail "team-b's blob linked through regwall: $leaks"
[ ! -e "$STORE/team-a/x1" ] || lab_fail "a refused request reached the registry (team-a/x1 exists)"

# ---- allowed: upload, mount, monolithic start: each a push event ----
head -c 3000 /dev/urandom >"$LAB_DIR/own.bin"
OWN="sha256:$(sha256sum "$LAB_DIR/own.bin" | cut -d' ' -f1)"
n=$(e2e_count_events push upload_complete)
req "$F" POST /v2/team-a/src/blobs/uploads/ ""
[ "$(rw "$F")" = 202 ] || lab_fail "upload start through regwall"
loc=$(sed -n 's/^[Ll]ocation: *//p' "$LAB_DIR/rw.head" | tr -d '\r')
[ -n "$loc" ] || lab_fail "no Location through regwall"
loc=/v2/${loc#*/v2/}
{
	printf 'PUT %s&digest=%s HTTP/1.1\r\nHost: %s:%s\r\nConnection: close\r\n' "$loc" "$OWN" "$E2E_NAME" "$LAB_PORT"
	printf 'Content-Type: application/octet-stream\r\nContent-Length: %s\r\n\r\n' "$(stat -c %s "$LAB_DIR/own.bin")"
	cat "$LAB_DIR/own.bin"
} >"$F"
[ "$(rw "$F")" = 201 ] || lab_fail "upload complete through regwall: $(cat "$LAB_DIR/rw.body")"
e2e_expect_more_events push upload_complete "$n"
grep -q "\"reason\":\"upload_complete\".*\"repository\":\"team-a/src\".*\"digest\":\"$OWN\",\"status\":201" \
	"$E2E_EVENTS" || lab_fail "upload_complete event: $(grep upload_complete "$E2E_EVENTS")"
linked team-a/src "$OWN" || lab_fail "uploaded blob not in team-a/src"

n=$(e2e_count_events push upload_mount)
req "$F" POST "/v2/team-a/dst/blobs/uploads/?mount=$OWN&from=team-a/src" ""
[ "$(rw "$F")" = 201 ] || lab_fail "allowed mount: $(cat "$LAB_DIR/rw.body")"
linked team-a/dst "$OWN" || lab_fail "allowed mount did not link (the storage check would see nothing)"
e2e_expect_more_events push upload_mount "$n"
grep -q "\"reason\":\"upload_mount\",.*\"repository\":\"team-a/dst\",\"operation\":\"upload_mount\",\"digest\":\"$OWN\",\"from\":\"team-a/src\",\"status\":201" \
	"$E2E_EVENTS" || lab_fail "upload_mount event: $(grep upload_mount "$E2E_EVENTS")"
# a digest the source does not have: the registry opens a session (202),
# and the attempt (an answer about the digest) is recorded as well
n=$(e2e_count_events push upload_mount)
req "$F" POST "/v2/team-a/dst/blobs/uploads/?mount=$SECRET&from=team-a/src" ""
[ "$(rw "$F")" = 202 ] || lab_fail "mount of a digest team-a/src lacks: $(cat "$LAB_DIR/rw.body")"
e2e_expect_more_events push upload_mount "$n"
grep -q "\"digest\":\"$SECRET\",\"from\":\"team-a/src\",\"status\":202" "$E2E_EVENTS" ||
	lab_fail "202 mount event: $(grep upload_mount "$E2E_EVENTS")"
linked team-a/dst "$SECRET" && lab_fail "team-b's blob linked by a mount from team-a/src"

# monolithic start (distribution 2.8 answers 202 and opens a session)
n=$(e2e_count_events push upload_start)
req "$F" POST "/v2/team-a/mono/blobs/uploads/?digest=$OWN" "$(head -c 100 /dev/zero | tr '\0' 'm')" \
	'Content-Type: application/octet-stream'
c=$(rw "$F")
case $c in 201 | 202) ;; *) lab_fail "monolithic start: $c" ;; esac
e2e_expect_more_events push upload_start "$n"
lab_log "allowed: upload_complete, upload_mount (201 and 202), upload_start ($c) events"

echo "PASS test_form_body"
