#!/usr/bin/env bash
# Atomic replace under load (after nftables' tests/shell atomic_replace):
# 100 `regwalld --apply` runs alternating two configs while the outside
# client floods new connections (SYNs) at the listener. Two probe tables in
# the gateway count those SYNs: one hooked before regwall (priority -300,
# proves the flood arrived) and one after it (priority 1000); the second must
# stay at 0 and the server must accept nothing from outside. At the same time
# the office client connects over and over and must always get through.
set -u
. "$(dirname "$0")/lib.sh"
lab_require_root
lab_require_build
lab_init
lab_topology
lab_echo_server gw "$LAB_PORT"

lab_conf "$LAB_DIR/a.conf"
lab_conf "$LAB_DIR/b.conf" nets="office=203.0.113.0/25,2001:db8:1::/64;lab=192.0.2.0/24,2001:db8:4::/64"
lab_apply "$LAB_DIR/a.conf"

lab_nft gw -f - <<NFT || lab_fail "probe tables"
table inet probe_pre {
	chain c {
		type filter hook input priority -300; policy accept;
		tcp dport $LAB_PORT ip saddr $LAB_OUTSIDE4 counter
		tcp dport $LAB_PORT ip6 saddr $LAB_OUTSIDE6 counter
	}
}
table inet probe_post {
	chain c {
		type filter hook input priority 1000; policy accept;
		tcp dport $LAB_PORT ip saddr $LAB_OUTSIDE4 counter
		tcp dport $LAB_PORT ip6 saddr $LAB_OUTSIDE6 counter
	}
}
NFT
# The post probe only proves something if every regwall input chain runs
# before it.
prios=$(lab_nft gw -j list table inet regwall | python3 -c '
import json, sys
for i in json.load(sys.stdin)["nftables"]:
    c = i.get("chain")
    if c and c.get("hook") == "input":
        print(c["prio"])')
[ -n "$prios" ] || lab_fail "regwall has no input chain"
for p in $prios; do
	[ "$p" -lt 1000 ] || lab_fail "regwall input chain priority $p is not before the probe"
done

probe_sum() {
	lab_nft gw -j list table inet "$1" | python3 -c '
import json, sys
print(sum(e["counter"]["packets"] for i in json.load(sys.stdin)["nftables"]
          if "rule" in i for e in i["rule"]["expr"] if "counter" in e))'
}

lab_bg outside python3 "$LAB_DIR/labtool.py" flood "$LAB_GWOUT4" "$LAB_PORT" 120 400
flood4=$LAB_LAST_PID
lab_bg outside python3 "$LAB_DIR/labtool.py" flood "$LAB_GWOUT6" "$LAB_PORT" 120 200
flood6=$LAB_LAST_PID
lab_bg office python3 "$LAB_DIR/labtool.py" burst "$LAB_GW4" "$LAB_PORT" 100000 0.05 3
office=$LAB_LAST_PID
sleep 0.5

start=$(date +%s%N)
for i in $(seq 1 100); do
	if [ $((i % 2)) -eq 1 ]; then c=b; else c=a; fi
	out=$(lab_exec gw "$BUILD/regwalld" -c "$LAB_DIR/$c.conf" --apply 2>&1) ||
		lab_fail "apply #$i ($c.conf) failed: $out"
done
ms=$((($(date +%s%N) - start) / 1000000))
lab_log "100 applies in $ms ms"
sleep 0.5
lab_stop "$flood4"
lab_stop "$flood6"
lab_stop "$office" INT

pre=$(probe_sum probe_pre)
post=$(probe_sum probe_post)
acc=$(($(lab_echo_accepts gw "$LAB_PORT" "$LAB_OUTSIDE4") + $(lab_echo_accepts gw "$LAB_PORT" "$LAB_OUTSIDE6")))
lab_log "outside SYNs before regwall: $pre, after regwall: $post, accepted: $acc"
[ "$pre" -ge 1000 ] || lab_fail "the flood did not arrive ($pre SYNs)"
[ "$post" -eq 0 ] || lab_fail "$post forbidden packets got past regwall during replaces"
[ "$acc" -eq 0 ] || lab_fail "the server accepted $acc connections from outside"
ok=$(lab_echo_accepts gw "$LAB_PORT" "$LAB_OFFICE4")
lab_log "office connections accepted meanwhile: $ok"
[ "$ok" -ge 10 ] || lab_fail "the office client got through only $ok times during the replaces"
# Office probes that failed would have taken 3 s each; a probe is ~0.05 s.
lab_expect_probe ok office "$LAB_GW4"
echo "ok: no forbidden packet leaked during 100 atomic replaces"
