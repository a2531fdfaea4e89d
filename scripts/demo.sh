#!/usr/bin/env bash
# The regwall lab demo (`make demo`, as root, BUILD set): the lab in
# throwaway network namespaces, the real Debian docker-registry behind the
# gateway, regwalld in the gateway namespace (firewall + mutual-TLS proxy),
# and real skopeo / curl clients. Pushes and pulls, refused pushes, dropped
# packets in the blocked-attempt log and its pcap with their explain, live
# allowlist changes, bans, the decision events, the push audit chain and
# its verification, metrics, the counters and the table, step by step.
# Everything is removed at the end, on failure and on Ctrl-C.
set -u
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
. "$here/../tests/net/lib.sh"
. "$here/../tests/e2e/lib-e2e.sh"

# bold section titles only on a terminal: no escape codes in a log
if [ -t 1 ]; then
	section() { printf '\n\033[1m=== %s\033[0m\n' "$*"; }
else
	section() { printf '\n=== %s\n' "$*"; }
fi
say() { printf '  %s\n' "$*"; }
show() {
	printf '  $ %s\n' "$*"
	"$@" 2>&1 | sed 's/^/    /'
	return "${PIPESTATUS[0]}"
}

lab_require_root
lab_require_build
for t in skopeo docker-registry curl unshare python3; do
	command -v "$t" >/dev/null 2>&1 || lab_fail "$t is not installed (scripts/install-deps.sh)"
done
lab_init

section "1. The lab: network namespaces of this run, none linked to the host"
lab_topology
e2e_certs # a CA, the server and client certificates, made for this run
# the proxy is the only path from the clients to the registry
lab_exec gw sysctl -qw net.ipv4.ip_forward=0 net.ipv6.conf.all.forwarding=0 >/dev/null
say "office   $LAB_OFFICE4  (allowlisted network 203.0.113.0/25)"
say "outside  $LAB_OUTSIDE4 (unknown network 203.0.113.128/25)"
say "gateway  $LAB_GW4 / $LAB_GWOUT4 - runs regwalld"
say "registry $LAB_REG4:$LAB_REG_PORT - Debian's docker-registry, plain HTTP, behind the gateway"
say "namespaces: $(ip netns list | grep -- "-$LAB_SUFFIX" | awk '{print $1}' | tr '\n' ' ')"

e2e_registry plain
say "office -> registry directly: $(lab_exec office curl -s --max-time 2 -o /dev/null \
	-w '%{http_code}' "http://$LAB_REG4:$LAB_REG_PORT/v2/" || true) (000 = no path: only regwall gets there)"

section "2. The configuration, checked before anything is applied"
conf="$LAB_DIR/regwall.conf"
cat >"$conf" <<EOF
registry = { upstream = "$LAB_REG4:$LAB_REG_PORT"; upstream_tls = false;
             server_names = [ "$E2E_NAME" ]; };
networks = { office = [ "203.0.113.0/25", "2001:db8:1::/64" ]; };
listeners = (
  { name = "registry"; listen = "0.0.0.0:$LAB_PORT"; mode = "terminate";
    cert = "$E2E_CERTS/server.pem"; key = "$E2E_CERTS/server.key";
    client_ca = "$E2E_CERTS/ca.pem"; crl = "$E2E_CERTS/crl.pem";
    client_cert = "optional"; allow_from = [ "office" ]; } );
identities = (
  # as `openssl x509 -noout -subject` prints it; stored as RFC 2253
  { name = "ci-bot"; cert_subject = "C = DE, O = Example Org, CN = ci-bot";
    roles = [ "pull:*", "push:team-a/*" ]; },
  { name = "reader"; cert_subject = "CN=cn-only-client"; roles = [ "pull:*" ]; } );
# no VPN in this demo yet: pushes are allowed by client certificate alone
policy = { push_requires_vpn = false;
           push_rate = { ops_per_minute = 120; bytes_per_second = 100000000; };
           conn_rate = { per_source = "50/second"; ban_after = 300; ban_for = "1m"; }; };
log = { nflog_group = $LAB_GROUP;
        blocked = "$LAB_DIR/blocked.jsonl"; blocked_pcap = "$LAB_DIR/blocked.pcap";
        audit = "$LAB_DIR/audit.jsonl"; audit_key = "$LAB_DIR/audit.key"; };
control = { socket = "$LAB_DIR/ctl.sock"; state = "$LAB_DIR/live.json"; };
metrics = { listen = "127.0.0.1:9477"; };
EOF
sed 's/^/    /' "$conf"
show lab_exec gw "$BUILD/regwalld" -c "$conf" --check-config || lab_fail "config invalid"
bad="$LAB_DIR/bad.conf"
sed 's#allow_from = \[ "office" \]#allow_from = [ "ofice" ]#' "$conf" >"$bad"
say "a typo (allow_from = [ \"ofice\" ]) is refused with its line, and nothing is applied:"
show lab_exec gw "$BUILD/regwalld" -c "$bad" --check-config || true

section "3. regwalld: the table applied in one transaction, two proxy workers"
e2e_daemon "$conf" 2
daemon=$LAB_LAST_PID
say "regwalld runs in the gateway namespace; decision events go to $E2E_EVENTS"
show lab_ctl status
say "the workers: regwalld exec'd afresh as 'regwalld --worker', booted from their channel, sandboxed:"
for w in $(pgrep -P "$daemon"); do
	printf '  pid %s: %s| %s\n' "$w" "$(tr '\0' ' ' <"/proc/$w/cmdline")" \
		"$(grep -E '^(Uid|CapEff|NoNewPrivs|Seccomp):' "/proc/$w/status" | tr -s '\t ' ' ' | tr '\n' ' ')"
done

# skopeo reads client.cert/client.key/ca.crt from a directory
certdir() {
	local d="$LAB_DIR/cd-$1"
	mkdir -p "$d"
	cp "$E2E_CERTS/$1.pem" "$d/client.cert"
	cp "$E2E_CERTS/$1.key" "$d/client.key"
	cp "$E2E_CERTS/ca.pem" "$d/ca.crt"
	printf '%s' "$d"
}
CD_BOT=$(certdir client)
CD_READER=$(certdir cnonly)
CD_ANON="$LAB_DIR/cd-anon"
mkdir -p "$CD_ANON" && cp "$E2E_CERTS/ca.pem" "$CD_ANON/ca.crt"
printf '127.0.0.1 localhost\n%s %s\n%s %s\n' "$LAB_GW4" "$E2E_NAME" >"$LAB_DIR/hosts.office"
printf '127.0.0.1 localhost\n%s %s\n' "$LAB_GWOUT4" "$E2E_NAME" >"$LAB_DIR/hosts.outside"
REG="$E2E_NAME:$LAB_PORT"
# run CMD in a client namespace with a private /etc/hosts (own mount
# namespace; the host's /etc/hosts is never touched)
client() {
	local ns=$1
	shift
	e2e_client "$ns" "$LAB_DIR/hosts.$ns" "$@"
}
python3 "$here/mkimage.py" "$LAB_DIR/img" 2000000 7 v1 >/dev/null || lab_fail "mkimage failed"

section "4. A push with a certificate whose identity may push (ci-bot: push:team-a/*)"
show client office timeout 120 skopeo --insecure-policy copy --retry-times 0 \
	--digestfile "$LAB_DIR/pushed.digest" --dest-cert-dir "$CD_BOT" \
	"oci:$LAB_DIR/img:v1" "docker://$REG/team-a/app:v1" || lab_fail "the allowed push failed"
say "pushed manifest digest: $(cat "$LAB_DIR/pushed.digest")"
show client office timeout 60 skopeo inspect --cert-dir "$CD_READER" \
	--format '{{.Name}}@{{.Digest}}' "docker://$REG/team-a/app:v1"
show client office timeout 120 skopeo --insecure-policy copy --src-cert-dir "$CD_READER" \
	"docker://$REG/team-a/app:v1" "oci:$LAB_DIR/pulled:v1" || lab_fail "the pull failed"

section "5. Refused pushes, answered the way registry clients understand"
say "a pull-only identity (reader) tries to push:"
show client office timeout 60 skopeo --insecure-policy copy --retry-times 0 \
	--dest-cert-dir "$CD_READER" "oci:$LAB_DIR/img:v1" "docker://$REG/team-a/app:evil" || true
say "ci-bot tries to push outside its glob (team-b):"
show client office timeout 60 skopeo --insecure-policy copy --retry-times 0 \
	--dest-cert-dir "$CD_BOT" "oci:$LAB_DIR/img:v1" "docker://$REG/team-b/app:v1" || true
say "no certificate at all: an office client may pull, not push:"
show client office curl -s --cacert "$E2E_CERTS/ca.pem" -X POST \
	"https://$REG/v2/team-a/app/blobs/uploads/" || true
echo

section "5b. A cross-repository mount hidden in a form body is refused"
say "ci-bot may push team-a/* only; the registry would read mount/from from the body:"
# the first layer of the pushed image, as the registry lists it
first_layer() {
	client office curl -s --cacert "$E2E_CERTS/ca.pem" --cert "$E2E_CERTS/cnonly.pem" \
		--key "$E2E_CERTS/cnonly.key" \
		-H 'Accept: application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json' \
		"https://$REG/v2/team-a/app/manifests/v1" |
		python3 -c 'import json,sys; print(json.load(sys.stdin)["layers"][0]["digest"])'
}
blob=$(first_layer) || lab_fail "cannot read the pushed manifest"
show client office curl -s --cacert "$E2E_CERTS/ca.pem" --cert "$E2E_CERTS/client.pem" \
	--key "$E2E_CERTS/client.key" -X POST -H 'Content-Type: application/x-www-form-urlencoded' \
	--data "mount=$blob&from=team-b/secret" "https://$REG/v2/team-a/x/blobs/uploads/" || true
echo

section "6. A connection from an unknown network is dropped in the kernel"
say "outside -> $LAB_GWOUT4:$LAB_PORT: $(lab_probe outside "$LAB_GWOUT4" "$LAB_PORT" 2)"
sleep 1 # the capture flushes within 50 ms, the writer right after
say "the blocked-attempt log (regwalld reads NFLOG group $LAB_GROUP itself):"
show "$BUILD/regwallctl" log --file "$LAB_DIR/blocked.jsonl" --reason not_allowed
say "the same drop in the pcap (tcpdump -r):"
tcpdump -nr "$LAB_DIR/blocked.pcap" 2>/dev/null | head -3 | sed 's/^/    /'
say "and why, as explain sees it:"
show lab_ctl explain --listener registry --src "$LAB_OUTSIDE4"

section "7. Live allowlist change: regwallctl network add office 203.0.113.140/32"
show lab_ctl network add office 203.0.113.140/32
show lab_ctl network list office
say "outside (203.0.113.140, no certificate) may now pull:"
show client outside timeout 60 skopeo inspect --cert-dir "$CD_ANON" \
	--format '{{.Name}}@{{.Digest}}' "docker://$REG/team-a/app:v1" || true
show lab_ctl network del office 203.0.113.140/32
say "outside -> $LAB_GWOUT4:$LAB_PORT: $(lab_probe outside "$LAB_GWOUT4" "$LAB_PORT" 1)"

section "8. A ban: regwallctl ban add $LAB_OFFICE4 30s"
show lab_ctl ban add "$LAB_OFFICE4" 30s
show lab_ctl ban list
say "office -> $LAB_GW4:$LAB_PORT: $(lab_probe office "$LAB_GW4" "$LAB_PORT" 1)"
show lab_ctl ban del "$LAB_OFFICE4"

section "9. Refusals and pushes from the decision events (one JSON line each)"
grep -E '"kind":"(refuse|push)"' "$E2E_EVENTS" | sed 's/^/    /'
say "($(wc -l <"$E2E_EVENTS") events in all; status accounts for every one:)"
show lab_ctl --json status

say "the push audit chain (log.audit): one hash-chained line per push, delete and refused push:"
head -4 "$LAB_DIR/audit.jsonl" | cut -c1-220 | sed 's/^/    /'
say "(verified at the end, after the stop seals it with a signed checkpoint)"

section "10. Counters, metrics and the table"
say "Prometheus metrics (GET http://127.0.0.1:9477/metrics in the gateway), a few:"
lab_exec gw curl -s --max-time 5 http://127.0.0.1:9477/metrics |
	grep -E '^regwall_(connections|refusals|push)' | head -8 | sed 's/^/    /'
show lab_ctl counters
lab_nft gw list table inet regwall | sed 's/^/    /' | head -60
say "(first 60 lines)"

section "11. A reload while a pull is in flight: the pull completes"
layer=$blob
say "a 2 MB layer pulled at 400 kB/s (about 5 s); SIGHUP after 1 s"
client office curl -s --limit-rate 400k --cacert "$E2E_CERTS/ca.pem" --cert "$E2E_CERTS/cnonly.pem" \
	--key "$E2E_CERTS/cnonly.key" -o "$LAB_DIR/layer.bin" -w '%{http_code} %{size_download}\n' \
	"https://$REG/v2/team-a/app/blobs/$layer" >"$LAB_DIR/inflight.out" 2>&1 &
inflight=$!
sleep 1
kill -HUP "$daemon"
wait "$inflight"
say "pull in flight across the reload: $(cat "$LAB_DIR/inflight.out") (HTTP status, bytes)"
say "its digest: sha256:$(sha256sum "$LAB_DIR/layer.bin" | cut -d' ' -f1) (want $layer)"
show lab_ctl status

section "12. Transparent gateway mode: clients keep the registry's own address"
say "a second listener, transparent = true: the table's intercept chain hands it every"
say "connection to registry.upstream ($LAB_REG4:$LAB_REG_PORT) that the gateway routes"
python3 - "$conf" "$E2E_CERTS" <<'PY'
import sys
conf, certs = sys.argv[1], sys.argv[2]
s = open(conf).read()
gate = ('  { name = "gate"; listen = "0.0.0.0:9443"; mode = "terminate"; transparent = true;\n'
        '    cert = "%s/server.pem"; key = "%s/server.key"; client_ca = "%s/ca.pem";\n'
        '    crl = "%s/crl.pem"; client_cert = "optional"; allow_from = [ "office" ]; },\n') % (certs, certs, certs, certs)
s = s.replace("listeners = (\n", "listeners = (\n" + gate, 1)
open(conf, "w").write(s)
PY
grep -A2 'name = "gate"' "$conf" | sed 's/^/    /'
show lab_exec gw "$BUILD/regwalld" -c "$conf" --check-config || lab_fail "transparent config invalid"
say "and the gateway now routes (forwarding on): its forward chain is what stands between"
say "the clients and the registry"
lab_exec gw sysctl -qw net.ipv4.ip_forward=1 net.ipv6.conf.all.forwarding=1 >/dev/null
kill -HUP "$daemon"
sleep 1
lab_nft gw list chain inet regwall intercept | sed 's/^/    /'
say "the office's route to the registry goes through the gateway:"
show lab_exec office ip route get "$LAB_REG4"
say "office pulls from the registry's own address (https://$E2E_NAME:$LAB_REG_PORT, the name resolving to $LAB_REG4):"
show client office curl -s --cacert "$E2E_CERTS/ca.pem" --resolve "$E2E_NAME:$LAB_REG_PORT:$LAB_REG4" \
	"https://$E2E_NAME:$LAB_REG_PORT/v2/team-a/app/tags/list" || lab_fail "transparent pull failed"
echo
sleep 0.5
say "regwalld served it on the transparent listener:"
grep '"listener":"gate"' "$E2E_EVENTS" | tail -1 | cut -c1-200 | sed 's/^/    /'
say "a path around regwall (another port on the registry) is dropped in the forward chain:"
say "office -> $LAB_REG4:6000: $(lab_probe office "$LAB_REG4" 6000 2)"
sleep 1
show "$BUILD/regwallctl" log --file "$LAB_DIR/blocked.jsonl" --reason direct_to_registry
show lab_ctl explain --listener gate --src "$LAB_OFFICE4"

section "13. Someone flushes the ruleset: regwalld puts its table back"
show lab_exec gw nft flush ruleset
sleep 0.5
say "table inet regwall: $(lab_nft gw list tables | tr '\n' ' ')"
grep -E "restor|table inet regwall" "$LAB_DIR/regwalld.log" | tail -2 | sed 's/^/    /'
say "a second regwalld is refused before it touches anything:"
show lab_exec gw "$BUILD/regwalld" -c "$conf" -f -s "$LAB_DIR/ctl.sock" || true

section "14. regwalld stops; the table stays (fail closed)"
lab_stop "$daemon" TERM
say "regwalld running: $(kill -0 "$daemon" 2>/dev/null && echo yes || echo no)"
say "regwalld stopped; the table stays: $(lab_nft gw list tables | tr '\n' ' ')"
say "the audit chain, sealed at the stop, verified against the key regwalld created:"
show "$BUILD/regwallctl" audit verify --pubkey "$LAB_DIR/audit.key.pub" "$LAB_DIR/audit.jsonl" ||
	lab_fail "audit verify failed"

say "outside -> $LAB_GWOUT4:$LAB_PORT: $(lab_probe outside "$LAB_GWOUT4" "$LAB_PORT" 1)"

section "Done: removing the lab namespaces"
