#!/usr/bin/env bash
# Passthrough end to end through regwalld's workers, in network namespaces
# made here (tests/net/lib.sh topology: office/outside clients, gw running
# regwalld, the registry behind it; documentation addresses only, nothing
# linked to the host namespace; all removed at exit).
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
command -v openssl >/dev/null 2>&1 || lab_skip "openssl not installed"
"$BUILD/regwalld" --help 2>&1 | grep -q -- '--workers' ||
	lab_skip "this regwalld has no --workers data path"
lab_init
lab_topology
e2e_tls_registry
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

# 2. refused: unknown name (with the unrecognized_name alert), no name
out=$(e2e_s_client office "$LAB_GW4" -servername other.example.test)
grep -q "BEGIN CERTIFICATE" <<<"$out" && lab_fail "a refused name reached the registry"
grep -q "unrecognized name" <<<"$out" || lab_fail "no unrecognized_name alert: $out"
e2e_expect_event refuse sni
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

echo "PASS test_passthrough"
