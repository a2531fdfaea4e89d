#!/usr/bin/env bash
# regwallctl explain against what really happens. A matrix of connections
# is made for real through the lab, and for each the same question is put
# to `regwallctl explain --json`; both must agree on every layer:
#   kernel       drop vs accept: the packet counter of the rule explain
#                names (its comment, the counter key) moves by the probe,
#                and a drop leaves the client without an answer
#   second line  a worker refusal has the event reason explain names
#                (not_allowed_l7); an admitted one has none
#   sni          a refused name gives the event reason "sni" and a failed
#                handshake; a good name an echoed probe
# Cases: sources inside and outside the network (IPv4, IPv6), a live
# addition (live_ set), a banned source, a VPN peer through an interface
# named like the VPN interface (a veth "wg0") and the same address from
# another link, a tunnel address no peer owns, SNI good and bad.
set -u
. "$(dirname "$0")/lib.sh"
lab_require_root
lab_require_build
lab_init
lab_topology

# The "VPN": a veth whose gw end is named like the vpn interface; regwall
# matches the name (kernel: iifname; workers: the SYN's ifindex).
lab_ns peer
lab_link gw wg0 "192.0.2.1/24" peer eth0 "192.0.2.2/24,192.0.2.9/24"
lab_route peer default 192.0.2.1
# the peer's address from another link (spoofed): only the SYN matters
ip -n "$(lab_nsname outside)" addr add 192.0.2.2/32 dev eth0 || lab_fail "addr 192.0.2.2 on outside"
lab_exec gw sysctl -qw net.ipv4.conf.all.rp_filter=0 net.ipv4.conf.default.rp_filter=0 \
	net.ipv4.conf.out0.rp_filter=0 >/dev/null || lab_fail "rp_filter off in gw"

conf="$LAB_DIR/regwall.conf"
head -c 32 /dev/urandom | base64 >"$LAB_DIR/wg.key"
chmod 0600 "$LAB_DIR/wg.key"
lab_conf "$conf" allow=office,vpn
# the IPv6 listener allows office only (a vpn section has one IPv4 prefix here)
sed -i '/name = "https6"/,/allow_from/ s/allow_from = \[ "office", "vpn" \]/allow_from = [ "office" ]/' "$conf"
cat >>"$conf" <<EOF
vpn = {
    interface = "wg0";
    manage_interface = false; # "wg0" is the lab's veth standing in for it
    address = "192.0.2.1/24";
    private_key_file = "$LAB_DIR/wg.key";
    peers = ( { name = "alice"; public_key = "$(head -c 32 /dev/urandom | base64)"; address = "192.0.2.2/32"; } );
};
EOF
lab_echo_server registry "$LAB_REG_PORT"
lab_daemon "$conf" gw --workers 1

lab_ctl ban add "$LAB_OFFICE4B" 10m --reason explain-test >/dev/null || lab_fail "ban add"
lab_ctl network add office "$LAB_OUTSIDE4B/32" >/dev/null || lab_fail "network add"

# packets counted by the rules whose comment is exactly $1
count() {
	lab_exec gw nft -j list table inet regwall | python3 -c '
import json, sys
want, n = sys.argv[1], 0
for it in json.load(sys.stdin)["nftables"]:
    r = it.get("rule")
    if r and r.get("comment") == want:
        for e in r["expr"]:
            if isinstance(e.get("counter"), dict):
                n += e["counter"]["packets"]
print(n)' "$1"
}

# field of explain's JSON: layer.key, or a top-level key
field() {
	python3 -c '
import json, sys
d = json.loads(sys.argv[1]); path = sys.argv[2]
if "." in path:
    layer, key = path.split(".")
    for l in d["layers"]:
        if l["layer"] == layer:
            print(l.get(key, "")); break
else:
    print(d.get(path, ""))' "$1" "$2"
}

cases=0
# case_ NAME NS LISTENER-ADDR SRC IIF SNI: one connection for real, then explain
case_() {
	local name=$1 ns=$2 dst=$3 src=$4 iif=$5 sni=$6 listener=https ex kv rule before after got ev evn
	[[ $src == *:* ]] && listener=https6
	ex=$(lab_ctl explain --listener "$listener" --src "$src" --iif "$iif" --sni "$sni" --json) ||
		lab_fail "$name: explain failed: $ex"
	kv=$(field "$ex" kernel.verdict)
	rule=$(field "$ex" kernel.rule)
	[ -n "$rule" ] || lab_fail "$name: explain names no kernel rule: $ex"
	before=$(count "$rule")
	evn=$(wc -l <"$LAB_DIR/events.jsonl")
	got=$(LAB_SNI=$sni lab_probe "$ns" "$dst" "$LAB_PORT" 2 "$src")
	sleep 0.3
	after=$(count "$rule")
	ev=$(tail -n +"$((evn + 1))" "$LAB_DIR/events.jsonl" | grep -F "\"$src\"" |
		python3 -c 'import json,sys
for l in sys.stdin:
    d = json.loads(l)
    if d.get("kind") == "refuse": print(d.get("reason", ""))' | head -1)
	[ "$after" -gt "$before" ] ||
		lab_fail "$name: explain says kernel $kv by \"$rule\", but its counter stayed at $before (probe: $got)"
	case $kv in
	drop)
		case $got in timeout | error:EHOSTUNREACH) ;; *) lab_fail "$name: explain says drop by \"$rule\", the probe got $got" ;; esac
		[ -z "$ev" ] || lab_fail "$name: dropped by the kernel, yet a worker event: $ev"
		;;
	accept)
		local l2 sv want
		l2=$(field "$ex" second_line.verdict)
		sv=$(field "$ex" sni.verdict)
		if [ "$l2" = refuse ]; then
			want=not_allowed_l7
		elif [ "$sv" = refuse ]; then
			want=$(field "$ex" sni.reason)
		else
			want=""
		fi
		[ "$ev" = "$want" ] ||
			lab_fail "$name: explain expects worker refusal \"$want\", the event says \"$ev\" (probe: $got)"
		if [ -z "$want" ]; then
			[ "$got" = ok ] || lab_fail "$name: explain admits at every layer, the probe got $got"
		else
			[ "$got" != ok ] || lab_fail "$name: explain refuses ($want), the probe got through"
		fi
		;;
	*) lab_fail "$name: kernel verdict \"$kv\"" ;;
	esac
	cases=$((cases + 1))
	[ "$kv" = drop ] && ev="not reached"
	lab_log "$name: kernel $kv by \"$rule\"; worker: ${ev:-admitted}; probe $got (agrees)"
}

good=registry.example.test
case_ office-v4 office "$LAB_GW4" "$LAB_OFFICE4" off0 "$good"
case_ outside-v4 outside "$LAB_GWOUT4" "$LAB_OUTSIDE4" out0 "$good"
case_ office-v6 office "$LAB_GW6" "$LAB_OFFICE6" off0 "$good"
case_ outside-v6 outside "$LAB_GWOUT6" "$LAB_OUTSIDE6" out0 "$good"
case_ live-addition outside "$LAB_GWOUT4" "$LAB_OUTSIDE4B" out0 "$good"
case_ banned office "$LAB_GW4" "$LAB_OFFICE4B" off0 "$good"
case_ vpn-peer peer 192.0.2.1 192.0.2.2 wg0 "$good"
case_ vpn-peer-spoofed outside "$LAB_GWOUT4" 192.0.2.2 out0 "$good"
case_ tunnel-no-peer peer 192.0.2.1 192.0.2.9 wg0 "$good"
case_ sni-bad office "$LAB_GW4" "$LAB_OFFICE4" off0 other.example.test
case_ vpn-peer-sni-bad peer 192.0.2.1 192.0.2.2 wg0 other.example.test

# the text form names the same rule and the NFLOG prefix
txt=$(lab_ctl explain --listener https --src "$LAB_OFFICE4B" --iif off0)
grep -qF 'kernel       drop' <<<"$txt" || lab_fail "text: no kernel drop line: $txt"
grep -qF 'NFLOG "regwall - banned"' <<<"$txt" || lab_fail "text: no NFLOG prefix: $txt"
txt=$(lab_ctl explain --listener https --src "$LAB_OUTSIDE4" --iif out0)
grep -qF 'NFLOG "regwall https not_allowed"' <<<"$txt" || lab_fail "text: no not_allowed prefix: $txt"
grep -qF 'rate limits not evaluated' <<<"$txt" || lab_fail "text: no meters note: $txt"
lab_log "text form:
$txt"
# a refused request changes nothing and says why
out=$(lab_ctl explain --listener nope --src "$LAB_OFFICE4" 2>&1) && lab_fail "unknown listener accepted: $out"
grep -qF 'no listener named "nope"' <<<"$out" || lab_fail "unknown listener: $out"
out=$(lab_ctl explain --listener https --src "$LAB_OFFICE6" 2>&1) && lab_fail "IPv6 source on an IPv4 listener accepted"
grep -qF 'takes IPv4 only' <<<"$out" || lab_fail "family mismatch: $out"
echo "ok: $cases cases, explain agrees with the kernel (counters, drops) and the workers (events) in every one"
