#!/usr/bin/env bash
# Terminate mode with TLS to the upstream (registry.upstream_tls): the real
# docker-registry serves TLS with the test server certificate; regwalld
# verifies it against registry.upstream_ca and the registry's server name.
# A push and a pull through regwall work; with an upstream_ca that did not
# sign the registry's certificate, regwall refuses to talk to the registry
# (502) instead of relaying to an unverified peer; a reload back to the
# right CA restores service.
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
for t in skopeo docker-registry curl openssl unshare; do
	command -v "$t" >/dev/null 2>&1 || lab_skip "$t not installed"
done
lab_init
lab_topology
e2e_certs
lab_exec gw sysctl -qw net.ipv4.ip_forward=0 net.ipv6.conf.all.forwarding=0 >/dev/null

e2e_registry tls

# a CA that never signed the registry's certificate
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
	-subj "/CN=other test CA" -keyout "$LAB_DIR/other-ca.key" -out "$LAB_DIR/other-ca.pem" \
	>/dev/null 2>&1 || lab_fail "openssl could not make the other CA"

conf="$LAB_DIR/regwall.conf"
write_conf() { # UPSTREAM_CA
	cat >"$conf" <<EOF2
registry = { upstream = "$LAB_REG4:$LAB_REG_PORT"; upstream_tls = true; upstream_ca = "$1";
             server_names = [ "$E2E_NAME" ]; };
networks = { office = [ "203.0.113.0/25" ]; };
listeners = (
  { name = "tls4"; listen = "0.0.0.0:$LAB_PORT"; mode = "terminate";
    cert = "$E2E_CERTS/server.pem"; key = "$E2E_CERTS/server.key";
    client_ca = "$E2E_CERTS/ca.pem"; crl = "$E2E_CERTS/crl.pem";
    client_cert = "optional"; allow_from = [ "office" ]; } );
identities = ( { name = "ci-bot"; cert_subject = "CN=ci-bot,O=Example Org,C=DE";
                 roles = [ "pull:*", "push:team-a/*" ]; } );
policy = { push_requires_vpn = false; conn_rate = { per_source = "1000/second"; }; };
log = { nflog_group = $LAB_GROUP; };
control = { socket = "$LAB_DIR/ctl.sock"; state = "$LAB_DIR/live.json"; };
EOF2
}
write_conf "$E2E_CERTS/ca.pem"
e2e_daemon "$conf" 1

cd_bot="$LAB_DIR/cd-bot"
mkdir -p "$cd_bot"
cp "$E2E_CERTS/client.pem" "$cd_bot/client.cert"
cp "$E2E_CERTS/client.key" "$cd_bot/client.key"
cp "$E2E_CERTS/ca.pem" "$cd_bot/ca.crt"
printf '127.0.0.1 localhost\n%s %s\n' "$LAB_GW4" "$E2E_NAME" >"$LAB_DIR/hosts"
office() {
	e2e_client office "$LAB_DIR/hosts" "$@"
}
REG="$E2E_NAME:$LAB_PORT"
base_status() {
	office curl -s -o /dev/null -w '%{http_code}' --max-time 10 --cacert "$E2E_CERTS/ca.pem" \
		--cert "$E2E_CERTS/client.pem" --key "$E2E_CERTS/client.key" "https://$REG/v2/"
}

# 1. verified upstream: push and pull through regwall
python3 "$E2E_ROOT/scripts/mkimage.py" "$LAB_DIR/img" 200000 3 v1 >/dev/null || lab_fail "mkimage"
out=$(office timeout 120 skopeo --insecure-policy copy --retry-times 0 \
	--digestfile "$LAB_DIR/pushed.digest" --dest-cert-dir "$cd_bot" \
	"oci:$LAB_DIR/img:v1" "docker://$REG/team-a/app:v1" 2>&1) || lab_fail "push over upstream TLS: $out"
got=$(office timeout 60 skopeo inspect --cert-dir "$cd_bot" --format '{{.Digest}}' \
	"docker://$REG/team-a/app:v1" 2>&1) || lab_fail "inspect over upstream TLS: $got"
[ "$got" = "$(cat "$LAB_DIR/pushed.digest")" ] || lab_fail "digest $got != pushed $(cat "$LAB_DIR/pushed.digest")"
[ "$(base_status)" = 200 ] || lab_fail "GET /v2/ through regwall is not 200"
lab_log "push + inspect through regwall with a verified TLS upstream: $got"

# 2. an upstream_ca that did not sign the registry's certificate: refused
write_conf "$LAB_DIR/other-ca.pem"
e2e_reload
st=$(base_status)
[ "$st" = 502 ] || lab_fail "unverified upstream: want 502, got $st"
e2e_expect_event refuse upstream_failed
lab_log "unverifiable upstream certificate: $st (nothing relayed)"

# 3. back to the right CA by reload
write_conf "$E2E_CERTS/ca.pem"
e2e_reload
[ "$(base_status)" = 200 ] || lab_fail "after reload to the right CA: not 200"
echo "ok: TLS upstream verified against upstream_ca; an unverifiable registry is refused"
