#!/usr/bin/env bash
# Pushes only through the tunnel (issue 10), end to end: the real Debian
# docker-registry behind regwalld's terminate listener, regwalld running
# the WireGuard endpoint (wireguard-go here), a VPN client in "outside"
# with its own wireguard-go configured from `regwallctl peer add`'s
# printout, and real skopeo:
#   * alice (roles push:team-a/*, pull:*) pushes team-a/app through the
#     tunnel without a client certificate and pulls it back with the same
#     digest;
#   * `peer del alice` during her long push: the push fails at once (the
#     reset reaches her through the tunnel before her key goes) and the
#     registry has no such tag;
#   * the office client, with a certificate identity that has push rights
#     for team-a, pushing the same image is refused with the OCI DENIED
#     answer ("allowed only through the VPN"); its pull works.
# Needs root; skips (77) without it outside CI and fails under CI=true.
set -u
HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=../net/lib.sh
. "$HERE/../net/lib.sh"
# shellcheck source=lib-e2e.sh
. "$HERE/lib-e2e.sh"

lab_require_root
lab_require_build
for t in skopeo docker-registry curl openssl unshare wireguard-go wg; do
	command -v "$t" >/dev/null 2>&1 || lab_skip "$t not installed"
done
lab_init
lab_topology
e2e_certs
# the proxy is the only way from the clients to the registry
lab_exec gw sysctl -qw net.ipv4.ip_forward=0 net.ipv6.conf.all.forwarding=0 >/dev/null
e2e_registry plain

GWIF="w${LAB_SUFFIX:0:14}"
CLIF="c${LAB_SUFFIX:0:14}"
GWT=192.0.2.1
conf="$LAB_DIR/regwall.conf"
cat >"$conf" <<EOF
registry = { upstream = "$LAB_REG4:$LAB_REG_PORT"; upstream_tls = false;
             server_names = [ "$E2E_NAME" ]; };
networks = { office = [ "203.0.113.0/25", "2001:db8:1::/64" ]; };
listeners = (
  { name = "tls4"; listen = "0.0.0.0:$LAB_PORT"; mode = "terminate";
    cert = "$E2E_CERTS/server.pem"; key = "$E2E_CERTS/server.key";
    client_ca = "$E2E_CERTS/ca.pem"; client_cert = "optional";
    allow_from = [ "office", "vpn" ]; } );
identities = (
  { name = "ci-bot"; cert_subject = "CN=ci-bot,O=Example Org,C=DE";
    roles = [ "pull:*", "push:team-a/*" ]; } );
vpn = { interface = "$GWIF"; address = "$GWT/24"; listen_port = 51820;
        private_key_file = "$LAB_DIR/gw.key"; endpoint = "$LAB_GWOUT4:51820"; };
policy = { push_requires_vpn = true;
           # slow enough that a 60 MB push is still running when alice is deleted
           push_rate = { bytes_per_second = 20000000; };
           conn_rate = { per_source = "1000/second"; }; };
log = { nflog_group = $LAB_GROUP; };
control = { socket = "$LAB_DIR/ctl.sock"; state = "$LAB_DIR/live.json"; };
EOF
e2e_daemon "$conf" 2

# ---- alice: a peer, her client configured from the printout ----
lab_ctl peer add alice --roles 'push:team-a/*,pull:*' >"$LAB_DIR/alice.conf" 2>/dev/null ||
	lab_fail "peer add alice"
lab_bg outside env WG_PROCESS_FOREGROUND=1 LOG_LEVEL=error wireguard-go -f "$CLIF"
lab_wait_for 5 test -S "/var/run/wireguard/$CLIF.sock" || lab_fail "client wireguard-go did not start"
grep -v '^Address' "$LAB_DIR/alice.conf" >"$LAB_DIR/alice.wg"
chmod 600 "$LAB_DIR/alice.wg"
addr=$(sed -n 's/^Address = //p' "$LAB_DIR/alice.conf")
lab_exec outside wg setconf "$CLIF" "$LAB_DIR/alice.wg" || lab_fail "wg setconf"
lab_exec outside ip addr add "$addr" dev "$CLIF"
lab_exec outside ip link set "$CLIF" up
lab_exec outside ip route add "$GWT/32" dev "$CLIF"

# the registry name: the tunnel address for alice, the LAN address for office
printf '127.0.0.1 localhost\n%s %s\n' "$GWT" "$E2E_NAME" >"$LAB_DIR/hosts-vpn"
printf '127.0.0.1 localhost\n%s %s\n' "$LAB_GW4" "$E2E_NAME" >"$LAB_DIR/hosts-office"
CA_DIR="$LAB_DIR/ca-only" # trust the test CA, no client certificate
mkdir -p "$CA_DIR"
cp "$E2E_CERTS/ca.pem" "$CA_DIR/ca.crt"
REG="$E2E_NAME:$LAB_PORT"
BOT_DIR="$LAB_DIR/cd-bot" # office: ci-bot's client certificate
mkdir -p "$BOT_DIR"
cp "$E2E_CERTS/client.pem" "$BOT_DIR/client.cert"
cp "$E2E_CERTS/client.key" "$BOT_DIR/client.key"
cp "$E2E_CERTS/ca.pem" "$BOT_DIR/ca.crt"
skopeo_copy() { # NS HOSTS SRC DST [digestfile]
	local ns=$1 hosts=$2 src=$3 dst=$4 cd=$CA_DIR
	[ "$ns" = office ] && cd=$BOT_DIR
	e2e_client "$ns" "$hosts" timeout 120 skopeo --insecure-policy copy --retry-times 0 \
		${5:+--digestfile "$5"} --src-cert-dir "$cd" --dest-cert-dir "$cd" "$src" "$dst"
}
python3 "$E2E_ROOT/scripts/mkimage.py" "$LAB_DIR/img" 300000 1 v1 >/dev/null || lab_fail "mkimage"

# ---- alice pushes through the tunnel and pulls it back ----
out=$(skopeo_copy outside "$LAB_DIR/hosts-vpn" "oci:$LAB_DIR/img:v1" "docker://$REG/team-a/app:v1" \
	"$LAB_DIR/pushed.digest" 2>&1) || lab_fail "push through the tunnel: $out"
pushed=$(cat "$LAB_DIR/pushed.digest")
out=$(skopeo_copy outside "$LAB_DIR/hosts-vpn" "docker://$REG/team-a/app:v1" "oci:$LAB_DIR/back:v1" 2>&1) ||
	lab_fail "pull back through the tunnel: $out"
got=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1] + "/index.json"))["manifests"][0]["digest"])' \
	"$LAB_DIR/back")
[ "$got" = "$pushed" ] || lab_fail "pulled digest $got, pushed $pushed"
lab_log "alice pushed team-a/app:v1 through the tunnel ($pushed) and pulled it back"

# ---- office: push refused (push requires VPN), pull allowed ----
if out=$(skopeo_copy office "$LAB_DIR/hosts-office" "oci:$LAB_DIR/img:v1" "docker://$REG/team-a/app:v2" 2>&1); then
	lab_fail "office push accepted without the VPN"
fi
grep -q "allowed only through the VPN" <<<"$out" || lab_fail "office push refusal does not say VPN only: $out"
grep -qi "denied" <<<"$out" || lab_fail "office push refusal is not DENIED: $out"
out=$(skopeo_copy office "$LAB_DIR/hosts-office" "docker://$REG/team-a/app:v1" "oci:$LAB_DIR/office:v1" 2>&1) ||
	lab_fail "office pull refused: $out"
lab_log "office: push refused (VPN only), pull allowed"
# ---- peer del during alice's long push ----
python3 "$E2E_ROOT/scripts/mkimage.py" "$LAB_DIR/big" 60000000 2 v1 >/dev/null || lab_fail "mkimage big"
skopeo_copy outside "$LAB_DIR/hosts-vpn" "oci:$LAB_DIR/big:v1" "docker://$REG/team-a/big:v1" \
	>"$LAB_DIR/big.out" 2>&1 &
bigpid=$!
uploading() { lab_exec gw ss -Htn state established dst "${addr%/*}" | grep -q .; }
lab_wait_for 20 uploading || lab_fail "alice's big push never connected"
sleep 1
kill -0 "$bigpid" 2>/dev/null || lab_fail "the big push ended before the delete: $(cat "$LAB_DIR/big.out")"
t0=$(date +%s%N)
out=$(lab_ctl peer del alice) || lab_fail "peer del alice: $out"
lab_wait_for 5 bash -c "! kill -0 $bigpid 2>/dev/null" || lab_fail "alice's push still running 5 s after peer del"
ms=$((($(date +%s%N) - t0) / 1000000))
rc=0
wait "$bigpid" || rc=$?
[ "$rc" -ne 0 ] || lab_fail "alice's push succeeded although she was deleted"
code=$(lab_exec gw curl -s -o /dev/null -w '%{http_code}' --max-time 5 \
	"http://$LAB_REG4:$LAB_REG_PORT/v2/team-a/big/manifests/v1")
[ "$code" = 404 ] || lab_fail "the registry has team-a/big:v1 (HTTP $code)"
lab_log "peer del during the push: $out; skopeo failed ${ms} ms later: $(tail -1 "$LAB_DIR/big.out")"
echo "ok: pushes only through the tunnel; alice's push and pull through it keep the digest; her deletion fails her push at once"
