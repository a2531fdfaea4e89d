#!/usr/bin/env bash
# The regwall lab demo (`make demo`, as root, BUILD set): the lab topology
# in throwaway network namespaces, regwalld in the gateway namespace, and
# the firewall side of regwall shown step by step. Everything is removed at
# the end and on Ctrl-C. It grows with the TLS proxy and real registry pushes.
set -u
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
. "$here/../tests/net/lib.sh"

section() { printf '\n\033[1m=== %s\033[0m\n' "$*"; }
say() { printf '  %s\n' "$*"; }
show() {
	printf '  $ %s\n' "$*"
	"$@" 2>&1 | sed 's/^/    /'
	return "${PIPESTATUS[0]}"
}

lab_require_root
lab_require_build
lab_init

section "1. The lab: four network namespaces, none linked to the host"
lab_topology
say "office   $LAB_OFFICE4 $LAB_OFFICE6  (allowlisted network 203.0.113.0/25)"
say "outside  $LAB_OUTSIDE4 $LAB_OUTSIDE6 (unknown network 203.0.113.128/25)"
say "gateway  $LAB_GW4 / $LAB_GWOUT4 / 198.51.100.1 - runs regwalld"
say "registry $LAB_REG4 (behind the gateway)"
say "namespaces: $(ip netns list | grep -- "-$LAB_SUFFIX" | awk '{print $1}' | tr '\n' ' ')"
say "the registry is a TLS echo server for now (test certificate, registry.example.test);"
say "regwalld's passthrough listeners on port $LAB_PORT read the SNI and splice to it"
lab_echo_server registry "$LAB_REG_PORT"

section "2. Config and regwalld"
conf="$LAB_DIR/regwall.conf"
lab_conf "$conf" ban_after=20 ban_for=1m
sed 's/^/    /' "$conf"
show lab_exec gw "$BUILD/regwalld" -c "$conf" --check-config || lab_fail "config invalid"
cap="$LAB_DIR/demo.pcap"
lab_daemon "$conf"
say "regwalld is running in the gateway namespace (pid $LAB_DAEMON_PID)"
if lab_capture_start gw "$LAB_GROUP" "$cap"; then
	say "capturing dropped packets: tcpdump -i nflog:$LAB_GROUP"
else
	cap="$LAB_DIR/blocked.pcap"
	say "regwalld owns nflog:$LAB_GROUP; reading its own capture $cap"
fi

section "3. An allowed connection from office (TCP, TLS with SNI, echo through regwalld)"
say "office -> $LAB_GW4:$LAB_PORT: $(lab_probe office "$LAB_GW4")"
say "office -> [$LAB_GW6]:$LAB_PORT: $(lab_probe office "$LAB_GW6")"

section "4. A dropped connection from outside (times out: no RST, nothing to learn)"
say "outside -> $LAB_GWOUT4:$LAB_PORT: $(lab_probe outside "$LAB_GWOUT4" "$LAB_PORT" 2)"
if [ "$cap" = "$LAB_DIR/demo.pcap" ]; then
	lab_capture_stop "$LAB_CAP_PID"
else
	sleep 1.5
fi
say "NFLOG records (prefix, source, destination, port):"
lab_nflog_records "$cap" | sed 's/^/    /'
[ "$cap" = "$LAB_DIR/demo.pcap" ] && { tcpdump -nn -r "$cap" 2>/dev/null | head -4 | sed 's/^/    /'; }

section "5. Live allowlist change: regwallctl network add office 203.0.113.140/32"
show lab_ctl network add office 203.0.113.140/32
show lab_ctl network list office
say "outside -> $LAB_GWOUT4:$LAB_PORT: $(lab_probe outside "$LAB_GWOUT4" "$LAB_PORT" 2)"
show lab_ctl network del office 203.0.113.140/32
say "outside -> $LAB_GWOUT4:$LAB_PORT: $(lab_probe outside "$LAB_GWOUT4" "$LAB_PORT" 1)"

section "6. A ban: regwallctl ban add $LAB_OFFICE4 30s"
show lab_ctl ban add "$LAB_OFFICE4" 30s
show lab_ctl ban list
say "office -> $LAB_GW4:$LAB_PORT: $(lab_probe office "$LAB_GW4" "$LAB_PORT" 1)"
show lab_ctl ban del "$LAB_OFFICE4"
say "office -> $LAB_GW4:$LAB_PORT: $(lab_probe office "$LAB_GW4")"

section "7. Counters"
show lab_ctl counters
show lab_ctl status

section "8. The table: nft list table inet regwall"
lab_nft gw list table inet regwall | sed 's/^/    /'

section "9. Fail closed: regwalld stops, the table stays"
lab_stop "$LAB_DAEMON_PID" TERM
say "regwalld stopped; table still there: $(lab_nft gw list tables | tr '\n' ' ')"
say "outside -> $LAB_GWOUT4:$LAB_PORT: $(lab_probe outside "$LAB_GWOUT4" "$LAB_PORT" 1)"

section "Done: removing the lab namespaces"
