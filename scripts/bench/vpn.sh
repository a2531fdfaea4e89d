#!/usr/bin/env bash
# Benchmark (not a test): push throughput through the WireGuard tunnel that
# regwalld runs, with and without regwall's proxy in the path, in one run.
#
#   via_regwall: skopeo in the VPN client namespace pushes one image with a
#     BENCH_BYTES layer (default 1 GiB) through the tunnel to regwalld's
#     terminate listener (TLS, the peer's roles, push accounting), which
#     forwards it to docker-registry A;
#   tunnel_only: the same image through the same tunnel, forwarded by the
#     gateway's kernel to docker-registry B on another port of the registry
#     host (plain HTTP: regwall's forward chain refuses direct traffic to
#     its own upstream, A's port).
# Both registries keep their storage on the same disk; runs alternate
# (A B A B ...), BENCH_REPS each (default 3), median seconds reported.
# Needs root (namespaces), wireguard-go, skopeo, docker-registry.
# Last line: RESULT push_mbps_regwall=<x> push_mbps_tunnel=<x> regwall_vs_tunnel=<ratio>
set -u
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
BUILD=${BUILD:-$root/build}
export BUILD
# shellcheck source=../../tests/net/lib.sh
. "$root/tests/net/lib.sh"
# shellcheck source=../../tests/e2e/lib-e2e.sh
. "$root/tests/e2e/lib-e2e.sh"
BYTES=${BENCH_BYTES:-1073741824}
REPS=${BENCH_REPS:-3}
lab_require_root
lab_require_build
lab_init
lab_topology
e2e_certs
e2e_registry plain
# registry B: the tunnel-only baseline
mkdir -p "$LAB_DIR/storage-b"
cat >"$LAB_DIR/registry-b.yml" <<EOF
version: 0.1
log: { level: warn }
storage:
  filesystem: { rootdirectory: $LAB_DIR/storage-b }
  delete: { enabled: true }
http:
  addr: $LAB_REG4:5001
EOF
lab_bg registry docker-registry serve "$LAB_DIR/registry-b.yml" >"$LAB_DIR/registry-b.log" 2>&1
lab_wait_for 15 lab_exec registry curl -sf "http://$LAB_REG4:5001/v2/" -o /dev/null ||
	lab_fail "registry B did not come up"

GWIF="w${LAB_SUFFIX:0:14}"
CLIF="c${LAB_SUFFIX:0:14}"
GWT=192.0.2.1
conf="$LAB_DIR/regwall.conf"
cat >"$conf" <<EOF
registry = { upstream = "$LAB_REG4:$LAB_REG_PORT"; upstream_tls = false;
             server_names = [ "$E2E_NAME" ]; };
networks = { office = [ "203.0.113.0/25" ]; };
listeners = (
  { name = "tls4"; listen = "0.0.0.0:$LAB_PORT"; mode = "terminate";
    cert = "$E2E_CERTS/server.pem"; key = "$E2E_CERTS/server.key";
    allow_from = [ "vpn" ]; } );
vpn = { interface = "$GWIF"; address = "$GWT/24"; listen_port = 51820;
        private_key_file = "$LAB_DIR/gw.key"; endpoint = "$LAB_GWOUT4:51820"; };
policy = { push_requires_vpn = true; conn_rate = { per_source = "1000/second"; }; };
log = { nflog_group = $LAB_GROUP; };
control = { socket = "$LAB_DIR/ctl.sock"; state = "$LAB_DIR/live.json"; };
EOF
e2e_daemon "$conf" 1
lab_ctl peer add bench --roles 'push:*,pull:*' >"$LAB_DIR/peer.conf" 2>/dev/null || lab_fail "peer add"
# the client routes the registry host through the tunnel too (baseline)
sed -e '/^Address/d' -e "s|^AllowedIPs = .*|AllowedIPs = $GWT/32, $LAB_REG4/32|" \
	"$LAB_DIR/peer.conf" >"$LAB_DIR/peer.wg"
chmod 600 "$LAB_DIR/peer.wg"
addr=$(sed -n 's/^Address = //p' "$LAB_DIR/peer.conf")
lab_bg outside env WG_PROCESS_FOREGROUND=1 LOG_LEVEL=error wireguard-go -f "$CLIF"
lab_wait_for 5 test -S "/var/run/wireguard/$CLIF.sock" || lab_fail "client wireguard-go"
lab_exec outside wg setconf "$CLIF" "$LAB_DIR/peer.wg" || lab_fail "wg setconf"
lab_exec outside ip addr add "$addr" dev "$CLIF"
lab_exec outside ip link set "$CLIF" up
lab_exec outside ip route add "$GWT/32" dev "$CLIF"
lab_exec outside ip route add "$LAB_REG4/32" dev "$CLIF"
# (the gateway's side needs nothing more: the baseline's packets come
# from the peer's tunnel address, its only allowed IP, and the gateway
# forwards them; regwall's forward chain drops only its upstream's port)

printf '127.0.0.1 localhost\n%s %s\n' "$GWT" "$E2E_NAME" >"$LAB_DIR/hosts"
mkdir -p "$LAB_DIR/ca"
cp "$E2E_CERTS/ca.pem" "$LAB_DIR/ca/ca.crt"
python3 "$root/scripts/mkimage.py" "$LAB_DIR/img" "$BYTES" 7 v1 >/dev/null || lab_fail "mkimage"

push() { # regwall|tunnel N -> seconds
	local dst t0
	if [ "$1" = regwall ]; then
		dst=(--dest-cert-dir "$LAB_DIR/ca" "docker://$E2E_NAME:$LAB_PORT/bench/img:r$2")
	else
		dst=(--dest-tls-verify=false "docker://$LAB_REG4:5001/bench/img:r$2")
	fi
	t0=$(date +%s%N)
	e2e_client outside "$LAB_DIR/hosts" timeout 600 skopeo --insecure-policy copy --retry-times 0 \
		"oci:$LAB_DIR/img:v1" "${dst[@]}" >"$LAB_DIR/push.log" 2>&1 ||
		lab_fail "push ($1): $(tail -3 "$LAB_DIR/push.log")"
	echo "scale=3; ($(date +%s%N) - $t0) / 1000000000" | bc
}
median() { sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
: >"$LAB_DIR/regwall.s"
: >"$LAB_DIR/tunnel.s"
for i in $(seq 1 "$REPS"); do
	s=$(push regwall "$i")
	echo "$s" >>"$LAB_DIR/regwall.s"
	t=$(push tunnel "$i")
	echo "$t" >>"$LAB_DIR/tunnel.s"
	echo "rep $i: via regwall ${s}s, tunnel only ${t}s"
done
mr=$(median <"$LAB_DIR/regwall.s")
mt=$(median <"$LAB_DIR/tunnel.s")
mbr=$(echo "scale=1; $BYTES / 1000000 / $mr" | bc)
mbt=$(echo "scale=1; $BYTES / 1000000 / $mt" | bc)
ratio=$(echo "scale=3; $mt / $mr" | bc)
echo "layer $BYTES bytes, $REPS reps, medians: via regwall ${mr}s, tunnel only ${mt}s"
echo "RESULT push_mbps_regwall=$mbr push_mbps_tunnel=$mbt regwall_vs_tunnel=$ratio"
