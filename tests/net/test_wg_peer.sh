#!/usr/bin/env bash
# regwalld runs the WireGuard endpoint (issue 10), on this machine's
# userspace backend (no kernel module: wireguard-go as its child):
#   * the interface's private key is created 0600 at the first start and
#     its public key logged and shown by `regwallctl status`;
#   * `peer add alice` prints a wg-quick config once; loaded on a VPN
#     client (its own wireguard-go, `wg setconf` without the wg-quick-only
#     lines, ip addr/route) it gives a handshake within 5 s and a TLS
#     connection through the tunnel to the VPN listener reaches the
#     registry backend; `wg show` on the gateway (wireguard-tools, the
#     independent check) lists what regwall configured;
#   * `kill -9` of the gateway's wireguard-go: interface and peer restored
#     within 5 s, traffic works again without touching the client;
#   * a restart of regwalld keeps the live peer; a config peer with the
#     live peer's address is refused with a message naming both;
#   * a packet with alice's tunnel address from the office side is dropped
#     and logged with NFLOG prefix "regwall - spoofed_vpn";
#   * `peer del alice` during an open connection: the key leaves `wg
#     show`, the address the nftables VPN set, the connection is cut at the
#     gateway, and the next connection from the address gets no answer.
# Interface names carry the lab suffix: /var/run/wireguard is shared by
# every network namespace on the machine.
set -u
. "$(dirname "$0")/lib.sh"
lab_require_root
lab_require_build
lab_init
command -v wireguard-go >/dev/null 2>&1 || lab_fail "wireguard-go not installed (scripts/install-deps.sh)"
command -v wg >/dev/null 2>&1 || lab_fail "wg not installed (scripts/install-deps.sh)"
command -v jq >/dev/null 2>&1 || lab_fail "jq not installed"
lab_topology
lab_echo_server registry "$LAB_REG_PORT"

GWIF="w${LAB_SUFFIX:0:14}" # the gateway's WireGuard interface
CLIF="c${LAB_SUFFIX:0:14}" # the VPN client's
GWT=192.0.2.1              # the gateway's tunnel address
key="$LAB_DIR/keys/gw.key" # missing: regwalld creates it
conf="$LAB_DIR/regwall.conf"
write_conf() { # extra config peers
	lab_conf "$conf" allow=office,vpn
	cat >>"$conf" <<EOF
vpn = {
    interface = "$GWIF";
    address = "$GWT/24";
    listen_port = 51820;
    private_key_file = "$key";
    endpoint = "$LAB_GWOUT4:51820";
    address_reuse_after = "1h";
    peers = ( $1 );
};
EOF
}
write_conf ""
mkdir -p "$LAB_DIR/keys"
lab_daemon "$conf"

# --- the key: created 0600, public key logged and in status -------------
[ -f "$key" ] || lab_fail "private key file not created"
[ "$(stat -c %a "$key")" = 600 ] || lab_fail "key file mode $(stat -c %a "$key"), want 600"
gwpub=$(wg pubkey <"$key") || lab_fail "wg cannot read the key regwalld wrote"
grep -qF "public key $gwpub" "$LAB_DIR/regwalld.log" || lab_fail "public key not logged: $(cat "$LAB_DIR/regwalld.log")"
st=$(lab_ctl -j status)
[ "$(jq -r .vpn.public_key <<<"$st")" = "$gwpub" ] || lab_fail "status does not show the public key: $st"
[ "$(jq -r .vpn.backend <<<"$st")" = wireguard-go ] || lab_fail "backend not wireguard-go: $st"
lab_ctl status | grep -qF "$gwpub" || lab_fail "regwallctl status (text) lacks the public key"
lab_log "gateway key created 0600, public key $gwpub in log and status"

# --- peer add: the client config, printed once --------------------------
out=$(lab_ctl peer add alice --roles 'push:team-a/*,pull:*' 2>"$LAB_DIR/add.err") ||
	lab_fail "peer add alice failed: $out $(cat "$LAB_DIR/add.err")"
printf '%s\n' "$out" >"$LAB_DIR/alice.conf"
grep -qx "Address = 192.0.2.2/32" <<<"$out" || lab_fail "alice not at the first free address: $out"
grep -qx "PublicKey = $gwpub" <<<"$out" || lab_fail "client config lacks the gateway key: $out"
grep -qx "Endpoint = $LAB_GWOUT4:51820" <<<"$out" || lab_fail "client config lacks the endpoint: $out"
grep -qx "AllowedIPs = $GWT/32" <<<"$out" || lab_fail "client AllowedIPs not only the registry address: $out"
grep -qx "PersistentKeepalive = 25" <<<"$out" || lab_fail "no PersistentKeepalive: $out"
alice_priv=$(sed -n 's/^PrivateKey = //p' <<<"$out")
alice_pub=$(wg pubkey <<<"$alice_priv") || lab_fail "the printed private key is not a key"
grep -rqF "$alice_priv" "$LAB_DIR/live.json" "$LAB_DIR/regwalld.log" && lab_fail "the client's private key was stored"
jq -e --arg k "$alice_pub" '.peers[] | select(.name == "alice" and .public_key == $k)' "$LAB_DIR/live.json" >/dev/null ||
	lab_fail "alice not in the state file: $(cat "$LAB_DIR/live.json")"
lab_nft gw list set inet regwall vpn_v4 | grep -qF 192.0.2.2 || lab_fail "192.0.2.2 not in vpn_v4"
lab_log "peer add alice: address 192.0.2.2, key $alice_pub; private key only printed"

# --- the VPN client: its own wireguard-go, configured from the printout ----
lab_bg outside env WG_PROCESS_FOREGROUND=1 LOG_LEVEL=error wireguard-go -f "$CLIF"
lab_wait_for 5 test -S "/var/run/wireguard/$CLIF.sock" || lab_fail "client wireguard-go did not start"
grep -v '^Address' "$LAB_DIR/alice.conf" >"$LAB_DIR/alice.wg" # wg-quick-only lines out
chmod 600 "$LAB_DIR/alice.wg"
lab_exec outside wg setconf "$CLIF" "$LAB_DIR/alice.wg" || lab_fail "wg setconf on the client"
lab_exec outside ip addr add 192.0.2.2/32 dev "$CLIF"
lab_exec outside ip link set "$CLIF" up
lab_exec outside ip route add "$GWT/32" dev "$CLIF"
handshake() { # NS IF KEY: a handshake with KEY happened
	local t
	t=$(lab_exec "$1" wg show "$2" latest-handshakes | awk -v k="$3" '$1 == k { print $2 }')
	[ -n "$t" ] && [ "$t" != 0 ]
}
t0=$(date +%s%N)
lab_wait_for 5 handshake outside "$CLIF" "$gwpub" || lab_fail "no handshake within 5 s: $(lab_exec outside wg show "$CLIF")"
lab_log "handshake after $((($(date +%s%N) - t0) / 1000000)) ms"

# --- through the tunnel to the registry backend --------------------------
before=$(grep -c '^accept' "$LAB_DIR/echo-registry-$LAB_REG_PORT.log")
lab_expect_probe ok outside "$GWT" "$LAB_PORT" 3
after=$(grep -c '^accept' "$LAB_DIR/echo-registry-$LAB_REG_PORT.log")
[ "$after" -gt "$before" ] || lab_fail "the registry backend saw no connection"
# the same client without the tunnel (its own address) is not a VPN peer
lab_expect_dropped outside "$LAB_GWOUT4" "$LAB_PORT" 2

# --- wg show on the gateway: the independent check ------------------------
dump=$(lab_exec gw wg show "$GWIF" dump) || lab_fail "wg show $GWIF failed"
head -1 <<<"$dump" | awk -v k="$gwpub" '$2 == k && $3 == 51820 { ok = 1 } END { exit !ok }' ||
	lab_fail "wg show: interface key/port not what regwall set: $dump"
awk -v k="$alice_pub" '$1 == k && $4 == "192.0.2.2/32" { ok = 1 } END { exit !ok }' <<<"$dump" ||
	lab_fail "wg show lacks alice with 192.0.2.2/32 only: $dump"
lab_exec gw ip -br addr show "$GWIF" | grep -qF "$GWT/24" || lab_fail "interface address not set"
list=$(lab_ctl -j peer list)
jq -e '.peers[] | select(.name == "alice" and .configured and .last_handshake > 0 and .rx_bytes > 0 and (.endpoint | startswith("203.0.113.140:")))' \
	<<<"$list" >/dev/null || lab_fail "peer list: alice without handshake/bytes/endpoint: $list"
lab_ctl peer list | grep -q '^alice ' || lab_fail "peer list (text) lacks alice"
lab_log "wg show and peer list agree: $(lab_ctl peer list | sed -n 2p)"

# --- kill -9 of wireguard-go: restored within 5 s ------------------------
wgpid=$(lab_ctl -j status | jq -r .vpn.pid)
[ "$wgpid" -gt 1 ] 2>/dev/null || lab_fail "no wireguard-go pid in status"
kill -KILL "$wgpid"
restored() {
	local p
	p=$(lab_ctl -j status | jq -r .vpn.pid)
	[ "$p" != "$wgpid" ] && [ "$p" -gt 1 ] &&
		lab_exec gw wg show "$GWIF" allowed-ips | grep -qF "$alice_pub	192.0.2.2/32" &&
		lab_exec gw ip -br addr show "$GWIF" | grep -qF "$GWT/24"
}
t0=$(date +%s%N)
lab_wait_for 5 restored || lab_fail "not restored within 5 s: $(tail -5 "$LAB_DIR/regwalld.log")"
lab_log "restored after $((($(date +%s%N) - t0) / 1000000)) ms"
grep -q "wireguard-go for $GWIF ended (signal 9)" "$LAB_DIR/regwalld.log" || lab_fail "the death was not logged"
grep -q "wireguard-go for $GWIF restarted" "$LAB_DIR/regwalld.log" || lab_fail "the restart was not logged"
through() {
	local _
	for _ in 1 2 3 4 5 6 7 8 9 10; do # the client re-handshakes on its own
		[ "$(lab_probe outside "$GWT" "$LAB_PORT" 2)" = ok ] && return 0
	done
	return 1
}
through || lab_fail "no traffic through the tunnel after the restart"
lab_log "traffic through the tunnel again, client untouched"

# --- restart of regwalld keeps the live peer ------------------------------
lab_stop "$LAB_DAEMON_PID" TERM
lab_wait_for 5 bash -c "! test -S /var/run/wireguard/$GWIF.sock" || lab_fail "wireguard-go outlived regwalld"
lab_daemon "$conf"
lab_ctl peer list | grep -q '^alice .* live ' || lab_fail "alice lost over the restart: $(lab_ctl peer list)"
lab_exec gw wg show "$GWIF" peers | grep -qxF "$alice_pub" || lab_fail "alice not configured after the restart"
lab_ctl reload >/dev/null || lab_fail "reload failed"
lab_exec gw wg show "$GWIF" peers | grep -qxF "$alice_pub" || lab_fail "alice not configured after a reload"
through || lab_fail "no traffic after the restart of regwalld"
lab_log "restart and reload keep alice"

# --- a config peer over the live peer's address: refused, clearly ---------
cp "$conf" "$LAB_DIR/good.conf"
write_conf "{ name = \"bob\"; public_key = \"$(wg genkey | wg pubkey)\"; address = \"192.0.2.2/32\"; }"
if out=$(lab_ctl reload 2>&1); then lab_fail "reload with bob over alice's address accepted"; fi
for want in alice bob 192.0.2.2/32 "regwallctl peer del alice"; do
	grep -qF -- "$want" <<<"$out" || lab_fail "the refusal does not say '$want': $out"
done
lab_log "refused: $(tr '\n' ' ' <<<"$out")"
# a live add with a config peer's key or address
carol=$(wg genkey | wg pubkey)
write_conf "{ name = \"carol\"; public_key = \"$carol\"; address = \"192.0.2.9/32\"; }"
lab_ctl reload >/dev/null || lab_fail "reload with carol failed"
if out=$(lab_ctl peer add dave --roles pull:x --public-key "$carol" 2>&1); then lab_fail "dave with carol's key accepted"; fi
grep -qF "carol" <<<"$out" || lab_fail "the refusal does not name carol: $out"
if out=$(lab_ctl peer add dave --roles pull:x --address 192.0.2.9 2>&1); then lab_fail "dave on carol's address accepted"; fi
grep -qF "carol" <<<"$out" || lab_fail "the refusal does not name carol: $out"
if out=$(lab_ctl peer del carol 2>&1); then lab_fail "peer del of a config peer accepted"; fi
lab_exec gw wg show "$GWIF" peers | grep -qxF "$carol" || lab_fail "config peer carol not configured"
lab_log "live add over a config peer's key/address refused"

# --- alice's tunnel address from the office side: spoofed_vpn -------------
# (rp_filter off on the gateway, so the packet reaches the filter rules
# instead of being dropped by the route check first)
lab_exec gw sysctl -qw net.ipv4.conf.all.rp_filter=0 net.ipv4.conf.default.rp_filter=0 \
	net.ipv4.conf.off0.rp_filter=0 >/dev/null || lab_fail "rp_filter off in gw"
lab_exec office ip addr add 192.0.2.2/32 dev eth0 || lab_fail "spoofed address on the office client"
cap="$LAB_DIR/spoof.pcap"
lab_capture_start gw "$LAB_GROUP" "$cap" || lab_fail "cannot capture NFLOG group $LAB_GROUP"
before=$(grep -c '^accept' "$LAB_DIR/echo-registry-$LAB_REG_PORT.log")
lab_expect_dropped office "$LAB_GW4" "$LAB_PORT" 2 192.0.2.2
lab_capture_stop "$LAB_CAP_PID"
lab_expect_nflog "$cap" "regwall - spoofed_vpn" 192.0.2.2
[ "$(grep -c '^accept' "$LAB_DIR/echo-registry-$LAB_REG_PORT.log")" = "$before" ] ||
	lab_fail "the spoofed connection reached the registry"
lab_exec office ip addr del 192.0.2.2/32 dev eth0
lab_nft gw list chain inet regwall input | grep -q 'iifname != "'"$GWIF"'" ip saddr @vpn_v4 .*drop' ||
	lab_fail "no spoofed_vpn drop rule in the input chain"

# --- peer del during an open connection ------------------------------------
lab_bg outside python3 "$LAB_DIR/labtool.py" longconn "$GWT" "$LAB_PORT" 30 "$LAB_DIR/long.mark" \
	>"$LAB_DIR/long.out"
longpid=$LAB_LAST_PID
lab_wait_for 5 test -f "$LAB_DIR/long.mark" || lab_fail "long connection did not connect"
sleep 0.5
conns() { lab_exec gw ss -Htn state established dst 192.0.2.2 | wc -l; }
[ "$(conns)" -ge 1 ] || lab_fail "no proxied connection from 192.0.2.2 on the gateway"
out=$(lab_ctl -j peer del alice) || lab_fail "peer del alice failed: $out"
cut=$(jq -r .connections_cut <<<"$out")
[ "$cut" -ge 1 ] || lab_fail "peer del cut no connection: $out"
[ "$(conns)" = 0 ] || lab_fail "connections from 192.0.2.2 still open at the gateway: $(lab_exec gw ss -tn dst 192.0.2.2)"
lab_exec gw wg show "$GWIF" peers | grep -qxF "$alice_pub" && lab_fail "alice's key still in wg show"
lab_nft gw list set inet regwall vpn_v4 | grep -qF 192.0.2.2 && lab_fail "192.0.2.2 still in vpn_v4"
# the reset went through the tunnel before the key left: the client's
# connection fails at once, not after its read timeout
lab_wait_for 2 bash -c "! kill -0 $longpid 2>/dev/null" ||
	lab_fail "alice's connection still open 2 s after peer del (the reset did not reach her)"
rc=0
wait "$longpid" || rc=$?
[ "$rc" -ne 0 ] || lab_fail "the long connection finished although alice was deleted"
grep -qE "connection broken|lost at line" "$LAB_DIR/long.out" || # reset or EOF, either at once
	lab_fail "alice's connection did not break: $(cat "$LAB_DIR/long.out")"
lab_log "alice's open connection: $(cat "$LAB_DIR/long.out")"
lab_expect_dropped outside "$GWT" "$LAB_PORT" 2
jq -e '[.peers[] | select(.name == "alice")] | length == 0' "$LAB_DIR/live.json" >/dev/null ||
	lab_fail "alice still in the state file"
# her address rests: the next peer gets another one
out=$(lab_ctl peer add erin --roles pull:x 2>/dev/null) || lab_fail "peer add erin failed"
grep -qx "Address = 192.0.2.3/32" <<<"$out" || lab_fail "erin did not get the next address (alice's rests): $out"
lab_log "peer del: $cut connection(s) cut, key and address gone, next connect dropped"
echo "ok: regwalld runs the WireGuard endpoint: peers added/deleted live, restored after kill -9, kept over restarts"
