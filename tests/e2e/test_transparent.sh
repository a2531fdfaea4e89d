#!/usr/bin/env bash
# Transparent gateway mode end to end (docs/design/transparent.md): the
# clients keep the registry's real address (their resolver, here a private
# /etc/hosts, names registry.example.test at the registry itself,
# 198.51.100.10 / 2001:db8:3::10: what real DNS would say); their route to
# the registry subnet goes through the gateway namespace (tests/net/lib.sh
# topology, forwarding on in gw only), where regwalld's table redirects
# connections to registry.upstream to the transparent listener "gate".
#
# Cases, with the real docker-registry serving TLS and skopeo clients:
#   1. passthrough: push and pull with the registry's address through
#      gate (pass events from gate, the registry's own certificate
#      verified); a refused SNI to the registry's address is refused as in
#      reverse-proxy mode (event sni);
#   2. an unlisted source (outside) dialling the registry's address is
#      redirected, then dropped by the input chain: no connection, a
#      not_allowed line for listener gate in the blocked log;
#   3. a direct path around regwall (another port of the registry, and the
#      registry's port for the unlisted source as well) is dropped in the
#      forward chain and logged (direct_to_registry); the echo server
#      there accepted nothing from the clients;
#      explain says the same (kernel drop, rule "gate not_allowed", the
#      transparent note), and allows office;
#      after `nft flush ruleset` the guard restores chain intercept and a
#      pull goes through gate again; a connection the registry itself
#      opens to a server outside gets its replies (rule registry_replies);
#      the registry host's other address (registry.other_addresses, its
#      v6 one) is dropped and logged the same way;
#   4. a direct connection to the gate listener's own address is refused
#      by the worker (event not_redirected): a transparent listener serves
#      only what was meant for the registry;
#   5. terminate (reload to mode terminate, upstream TLS verified against
#      the CA): push with a push identity, pull back, same digest; a
#      pull-only identity's push and a push outside the glob are refused
#      (403 DENIED in skopeo's message), as in reverse-proxy mode;
#   6. IPv6: a v6 upstream ([2001:db8:3::10]:5000, openssl s_server),
#      s_client from office to the registry's v6 address through gate,
#      certificate verified; outside v6 dropped and logged; another v6
#      registry port dropped and logged; the registry's own v6 connection
#      out gets its replies.
# Certificates: a fresh CA and server/client certificates (e2e_certs).
# Needs root; skips (77) without it outside CI and fails under CI=true.
set -u
HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=../net/lib.sh
. "$HERE/../net/lib.sh"
# shellcheck source=lib-e2e.sh
. "$HERE/lib-e2e.sh"

lab_require_root
lab_require_build
for t in skopeo docker-registry curl openssl unshare; do
	command -v "$t" >/dev/null 2>&1 || lab_skip "$t not installed"
done
lab_init
lab_topology # forwarding on in gw (and only there)
e2e_certs
OTHER_PORT=6000 # a second service on the registry host: a path around regwall
OUT_PORT=7000   # a service outside that the registry itself connects to

e2e_registry tls
lab_echo_server registry "$OTHER_PORT"
# without regwall the clients reach both: the drops below are regwall's
lab_expect_probe ok office "$LAB_REG4" "$OTHER_PORT"
lab_exec office curl -sf --max-time 5 --cacert "$E2E_CERTS/ca.pem" \
	--resolve "$E2E_NAME:$LAB_REG_PORT:$LAB_REG4" "https://$E2E_NAME:$LAB_REG_PORT/v2/" \
	-o /dev/null || lab_fail "the registry is not reachable through the gateway without regwall"
n_other=$(lab_echo_accepts registry "$OTHER_PORT" "$LAB_OFFICE4")
lab_exec office ping -c 1 -W 2 "$LAB_REG4" >/dev/null || lab_fail "no ping to the registry without regwall"

blog="$LAB_DIR/blocked.jsonl"
conf="$LAB_DIR/regwall.conf"
write_conf() { # MODE UPSTREAM LISTEN OTHER (the registry host's other address)
	local files=""
	[ "$1" = terminate ] && files="cert = \"$E2E_CERTS/server.pem\"; key = \"$E2E_CERTS/server.key\";
    client_ca = \"$E2E_CERTS/ca.pem\"; client_cert = \"optional\";"
	cat >"$conf" <<EOF2
registry = { upstream = "$2"; upstream_tls = true; upstream_ca = "$E2E_CERTS/ca.pem";
             server_names = [ "$E2E_NAME" ]; other_addresses = [ "$4" ]; };
networks = { office = [ "203.0.113.0/25", "2001:db8:1::/64" ]; };
listeners = (
  { name = "gate"; listen = $3; mode = "$1"; transparent = true;
    $files
    allow_from = [ "office" ]; } );
identities = (
  { name = "ci-bot"; cert_subject = "CN=ci-bot,O=Example Org,C=DE";
    roles = [ "pull:*", "push:team-a/*" ]; },
  { name = "reader"; cert_subject = "CN=cn-only-client"; roles = [ "pull:*" ]; } );
policy = { push_requires_vpn = false; conn_rate = { per_source = "1000/second"; }; };
log = { nflog_group = $LAB_GROUP; blocked = "$blog"; blocked_burst = 100; };
control = { socket = "$LAB_DIR/ctl.sock"; state = "$LAB_DIR/live.json"; };
EOF2
}
write_conf passthrough "$LAB_REG4:$LAB_REG_PORT" "[ \"0.0.0.0:$LAB_PORT\", \"[::]:$LAB_PORT\" ]" "$LAB_REG6"
"$BUILD/regwalld" -c "$conf" --check-config >/dev/null || lab_fail "config refused"
e2e_daemon "$conf" 2
lab_nft gw list chain inet regwall intercept | grep -q "redirect to :$LAB_PORT" ||
	lab_fail "no redirect in chain intercept: $(lab_nft gw list table inet regwall)"

# The clients' resolver says what real DNS says: the registry's own address.
printf '127.0.0.1 localhost\n%s %s\n' "$LAB_REG4" "$E2E_NAME" >"$LAB_DIR/hosts"
office() { e2e_client office "$LAB_DIR/hosts" "$@"; }
REG="$E2E_NAME:$LAB_REG_PORT" # the registry's real address and port
certdir() { # NAME [CLIENT-CERT]: a skopeo cert dir (CA, and the client's pair)
	local d="$LAB_DIR/cd-$1"
	mkdir -p "$d"
	cp "$E2E_CERTS/ca.pem" "$d/ca.crt"
	if [ -n "${2:-}" ]; then
		cp "$E2E_CERTS/$2.pem" "$d/client.cert"
		cp "$E2E_CERTS/$2.key" "$d/client.key"
	fi
	printf '%s' "$d"
}
CD_CA=$(certdir ca)
CD_BOT=$(certdir bot client)
CD_READER=$(certdir reader cnonly)
has_line() { # KIND REASON SRC [LISTENER]: a line of the blocked log
	[ -f "$blog" ] || return 1
	python3 - "$blog" "$@" <<'PY'
import json, sys
f, kind, reason, src = sys.argv[1:5]
lsn = sys.argv[5] if len(sys.argv) > 5 else None
for line in open(f):
    d = json.loads(line)
    if d.get("kind") == kind and d.get("reason") == reason and d.get("src") == src and \
       (lsn is None or d.get("listener") == lsn):
        print(line.strip()); sys.exit(0)
sys.exit(1)
PY
}
expect_line() { # KIND REASON SRC [LISTENER]
	lab_wait_for 5 has_line "$@" || {
		cat "$blog" >&2 2>/dev/null
		lab_fail "no blocked-log line $*"
	}
	lab_log "blocked log: $(has_line "$@")"
}
gate_passes() { grep -c '"kind":"pass","reason":"done".*"listener":"gate"' "$E2E_EVENTS"; }

# ---- 1. passthrough: push and pull with the registry's own address ----
python3 "$E2E_ROOT/scripts/mkimage.py" "$LAB_DIR/img" 200000 2 v1 >/dev/null || lab_fail "mkimage"
p0=$(gate_passes)
out=$(office timeout 120 skopeo --insecure-policy copy --retry-times 0 \
	--digestfile "$LAB_DIR/pushed.digest" --dest-cert-dir "$CD_CA" \
	"oci:$LAB_DIR/img:v1" "docker://$REG/pass/app:v1" 2>&1) || lab_fail "push via the gateway: $out"
want=$(cat "$LAB_DIR/pushed.digest")
got=$(office timeout 60 skopeo inspect --cert-dir "$CD_CA" --format '{{.Digest}}' \
	"docker://$REG/pass/app:v1" 2>&1) || lab_fail "pull (inspect) via the gateway: $got"
[ "$got" = "$want" ] || lab_fail "digest $got != pushed $want"
out=$(office timeout 120 skopeo --insecure-policy copy --src-cert-dir "$CD_CA" \
	"docker://$REG/pass/app:v1" "oci:$LAB_DIR/back:v1" 2>&1) || lab_fail "pull via the gateway: $out"
p1=$(gate_passes)
[ "$p1" -gt "$p0" ] || lab_fail "no pass event from listener gate: the push went around regwall"
lab_log "passthrough: push + pull of $want with the registry's address, $((p1 - p0)) connections through gate"
# refusals as in reverse-proxy mode: a name the registry is not
n=$(e2e_count_events refuse sni)
out=$(printf 'GET / HTTP/1.0\r\n\r\n' | lab_exec office timeout 10 openssl s_client \
	-connect "$LAB_REG4:$LAB_REG_PORT" -servername other.example.test -CAfile "$E2E_CERTS/ca.pem" 2>&1)
grep -q "BEGIN CERTIFICATE" <<<"$out" && lab_fail "a refused name reached the registry"
grep -q "unrecognized name" <<<"$out" || lab_fail "no unrecognized_name alert: $out"
e2e_expect_more_events refuse sni "$n"

# ---- 2. an unlisted source dialling the registry: redirected, dropped ----
lab_expect_probe timeout outside "$LAB_REG4" "$LAB_REG_PORT" 2
expect_line drop not_allowed "$LAB_OUTSIDE4" gate
lab_expect_counter_gt gw "gate not_allowed" 0
# explain agrees: the redirected SYN of outside is the input chain's drop
out=$(lab_ctl explain --listener gate --src "$LAB_OUTSIDE4" --json) || lab_fail "explain: $out"
python3 - "$out" <<'PY' || lab_fail "explain for outside: $out"
import json, sys
d = json.loads(sys.argv[1])
k = d["layers"][0]
assert d["transparent"] is True and d["verdict"] == "refuse" and d["decided_by"] == "kernel", d
assert k["rule"] == "gate not_allowed", k
assert any("redirected by chain intercept" in n for n in k.get("notes", [])), k
PY
out=$(lab_ctl explain --listener gate --src "$LAB_OFFICE4" --sni "$E2E_NAME" --json) || lab_fail "explain: $out"
python3 -c 'import json,sys; d=json.loads(sys.argv[1]); sys.exit(d["verdict"] != "allow")' "$out" ||
	lab_fail "explain for office: $out"

# ---- 3. paths around regwall: dropped in the forward chain, logged ----
lab_expect_probe timeout office "$LAB_REG4" "$OTHER_PORT" 2
expect_line drop direct_to_registry "$LAB_OFFICE4"
[ "$(lab_echo_accepts registry "$OTHER_PORT" "$LAB_OFFICE4")" -eq "$n_other" ] ||
	lab_fail "the registry's other port accepted a client connection"
lab_exec office ping -c 1 -W 2 "$LAB_REG4" >/dev/null 2>&1 &&
	lab_fail "ping to the registry went through the gateway"
lab_expect_counter_gt gw "direct_to_registry" 0
lab_expect_counter_gt gw "gate transparent" 0
# the registry's own connections out through the gateway get their
# replies (ct direction reply), though every packet a client sends to
# the registry's address is dropped; the reverse path stays closed
lab_echo_server outside "$OUT_PORT"
lab_expect_probe ok registry "$LAB_OUTSIDE4" "$OUT_PORT"
lab_expect_counter_gt gw "registry_replies" 0
lab_expect_probe timeout outside "$LAB_REG4" "$OTHER_PORT" 2
# the registry host's other address (registry.other_addresses, here its
# v6 one): the registry port there is no way around regwall either, and
# the registry's own connections from it still get their replies
lab_expect_probe timeout office "$LAB_REG6" "$LAB_REG_PORT" 2
expect_line drop direct_to_registry "$LAB_OFFICE6"
lab_expect_probe ok registry "$LAB_OUTSIDE6" "$OUT_PORT"
# the guard restores the nat chain with the rest after `nft flush ruleset`
p0=$(gate_passes)
lab_nft gw flush ruleset
lab_wait_for 5 lab_nft gw list chain inet regwall intercept ||
	lab_fail "chain intercept not restored after flush ruleset"
out=$(office timeout 60 skopeo inspect --cert-dir "$CD_CA" --format '{{.Digest}}' \
	"docker://$REG/pass/app:v1" 2>&1) || lab_fail "pull after the guard's restore: $out"
lab_wait_for 5 test "$(gate_passes)" -gt "$p0" || lab_fail "the pull after the restore went around gate"
lab_log "after flush ruleset: chain intercept restored, pull through gate works"

# ---- 4. a direct connection to the listener itself: not the transparent path ----
n=$(e2e_count_events refuse not_redirected)
got=$(lab_probe office "$LAB_GW4" "$LAB_PORT" 3)
case $got in
reset | tls-failed) lab_log "direct connect to gate's own address: $got" ;;
*) lab_fail "direct connect to the transparent listener's own address: want reset, got $got" ;;
esac
e2e_expect_more_events refuse not_redirected "$n"

# ---- 5. terminate, by reload: identities and OCI refusals ----
write_conf terminate "$LAB_REG4:$LAB_REG_PORT" "[ \"0.0.0.0:$LAB_PORT\", \"[::]:$LAB_PORT\" ]" "$LAB_REG6"
e2e_reload
python3 "$E2E_ROOT/scripts/mkimage.py" "$LAB_DIR/img2" 150000 2 v2 >/dev/null || lab_fail "mkimage"
out=$(office timeout 120 skopeo --insecure-policy copy --retry-times 0 \
	--digestfile "$LAB_DIR/pushed2.digest" --dest-cert-dir "$CD_BOT" \
	"oci:$LAB_DIR/img2:v2" "docker://$REG/team-a/app:v2" 2>&1) || lab_fail "terminate push as ci-bot: $out"
want=$(cat "$LAB_DIR/pushed2.digest")
got=$(office timeout 60 skopeo inspect --cert-dir "$CD_BOT" --format '{{.Digest}}' \
	"docker://$REG/team-a/app:v2" 2>&1) || lab_fail "terminate inspect: $got"
[ "$got" = "$want" ] || lab_fail "terminate: digest $got != pushed $want"
lab_wait_for 5 grep -q "\"kind\":\"push\".*\"identity\":\"ci-bot\".*\"digest\":\"$want\"" "$E2E_EVENTS" ||
	lab_fail "no push event for $want"
got=$(office timeout 60 skopeo inspect --cert-dir "$CD_READER" --format '{{.Digest}}' \
	"docker://$REG/team-a/app:v2" 2>&1) || lab_fail "terminate pull as reader: $got"
out=$(office timeout 120 skopeo --insecure-policy copy --retry-times 0 --dest-cert-dir "$CD_READER" \
	"oci:$LAB_DIR/img2:v2" "docker://$REG/team-a/app:v3" 2>&1) &&
	lab_fail "a pull-only identity pushed through the gateway"
grep -qi "denied" <<<"$out" || lab_fail "reader push: no denial in skopeo's message: $out"
out=$(office timeout 120 skopeo --insecure-policy copy --retry-times 0 --dest-cert-dir "$CD_BOT" \
	"oci:$LAB_DIR/img2:v2" "docker://$REG/team-b/app:v1" 2>&1) &&
	lab_fail "a push outside the identity's glob went through"
grep -qi "denied" <<<"$out" || lab_fail "team-b push: no denial in skopeo's message: $out"
e2e_expect_event refuse no_role
lab_log "terminate: push + pull as ci-bot ($want), reader and team-b pushes refused (403)"
# still no way around it
lab_expect_probe timeout office "$LAB_REG4" "$OTHER_PORT" 2
n=$(e2e_count_events refuse not_redirected)
got=$(lab_probe office "$LAB_GW4" "$LAB_PORT" 3)
[ "$got" != ok ] || lab_fail "terminate: a direct connection to gate was served"
e2e_expect_more_events refuse not_redirected "$n"

# ---- 6. IPv6: the registry's v6 address ----
grep "killed by signal" "$LAB_DIR/regwalld.log" && lab_fail "a worker was killed (seccomp?)"
lab_stop "$E2E_DAEMON_PID"
lab_bg registry openssl s_server -quiet -accept "[$LAB_REG6]:$LAB_REG_PORT" \
	-cert "$E2E_CERTS/server.pem" -key "$E2E_CERTS/server.key" -www \
	</dev/null >"$LAB_DIR/s_server6.log" 2>&1
lab_wait_for 10 lab_exec registry python3 -c "
import socket; socket.create_connection(('$LAB_REG6', $LAB_REG_PORT), 1).close()" ||
	lab_fail "s_server on the v6 address did not come up"
write_conf passthrough "[$LAB_REG6]:$LAB_REG_PORT" "[ \"0.0.0.0:$LAB_PORT\", \"[::]:$LAB_PORT\" ]" "$LAB_REG4"
e2e_daemon "$conf" 1
p0=$(gate_passes)
out=$(printf 'GET / HTTP/1.0\r\n\r\n' | lab_exec office timeout 10 openssl s_client \
	-connect "[$LAB_REG6]:$LAB_REG_PORT" -servername "$E2E_NAME" -CAfile "$E2E_CERTS/ca.pem" \
	-verify_return_error -ign_eof 2>&1)
grep -q "Verify return code: 0 (ok)" <<<"$out" || lab_fail "v6 s_client to the registry: $out"
grep -q "HTTP/1.0 200 ok" <<<"$out" || lab_fail "v6: no answer from the registry: $out"
lab_wait_for 5 test "$(gate_passes)" -gt "$p0" || lab_fail "v6: no pass event from gate"
lab_expect_probe timeout outside "$LAB_REG6" "$LAB_REG_PORT" 2
expect_line drop not_allowed "$LAB_OUTSIDE6" gate
lab_expect_probe timeout office "$LAB_REG6" "$OTHER_PORT" 2
expect_line drop direct_to_registry "$LAB_OFFICE6"
lab_expect_probe ok registry "$LAB_OUTSIDE6" "$OUT_PORT"
lab_log "IPv6: through gate to [$LAB_REG6]:$LAB_REG_PORT; outside and port $OTHER_PORT dropped"

grep "killed by signal" "$LAB_DIR/regwalld.log" && lab_fail "a worker was killed (seccomp?)"
echo "PASS test_transparent"
