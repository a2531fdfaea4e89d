#!/usr/bin/env bash
# Benchmark (not a test): how much of a flood of dropped packets regwall's
# own NFLOG capture gets, next to tcpdump reading the same packets in the
# same run.
#
# The lab (tests/net/lib.sh, namespaces with no link to the host, lab
# addresses only): regwalld -f in gw with log.blocked set reads group 7.
# A second table, inet rwbench, logs the same flood packets to group 8
# (prerouting, before regwall's chains; one reader per group is all the
# kernel allows), which `tcpdump -i nflog:8 -B 8192` writes to a file.
# From 4 unknown sources in `outside`, raw SYNs at 10k, 50k and 100k
# packets/s for SECS (2) seconds each (paced per millisecond, bounded,
# stops by itself; the achieved rate is printed).
#
# Per rate: regwall's capture ratio = records it received (lines +
# summarised counts in the blocked log) / packets its log rules counted;
# tcpdump's = packets in its file / packets the rwbench rule counted. Also
# whether regwall's accounting identity held (lines + summarised + losses
# == counters).
# Then a stall: both readers stopped during a 200,000-SYN burst; how many
# lost records each reports, against how many it really lost.
# Last line: RESULT regwall_10k=... tcpdump_10k=... ... capture_vs_tcpdump_10k=...
#            _50k=... _100k=... identity_ok=<0|1>
#            regwall_loss_reported_vs_real=... tcpdump_loss_reported_vs_real=...
set -u
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
. "$here/../../tests/net/lib.sh"

if [ "$(id -u)" -ne 0 ]; then
	echo "SKIP: nflog benchmark needs root (network namespaces)"
	exit 0
fi
command -v tcpdump >/dev/null 2>&1 || { echo "nflog: needs tcpdump" >&2; exit 1; }
lab_require_build
SECS=${SECS:-2}
RATES=${RATES:-"10000 50000 100000"}
lab_init
lab_topology
for a in 203.0.113.142 203.0.113.143; do
	ip -n "$(lab_nsname outside)" addr add "$a/25" dev eth0 || lab_fail "address $a"
done
SRCS="203.0.113.140 203.0.113.141 203.0.113.142 203.0.113.143"

blog="$LAB_DIR/blocked.jsonl"
conf="$LAB_DIR/a.conf"
lab_conf "$conf"
sed -i "s|    nflog_group = |    blocked = \"$blog\";\n    blocked_pcap = \"$LAB_DIR/blocked.pcap\";\n    blocked_interval = \"1s\";\n    nflog_group = |" "$conf"
lab_daemon "$conf" gw --workers 1
lab_nft gw -f - <<EOF || lab_fail "rwbench table"
table inet rwbench {
	chain pre {
		type filter hook prerouting priority -300; policy accept;
		ip saddr 203.0.113.140-203.0.113.143 tcp dport $LAB_PORT counter log group 8
	}
}
EOF

regwall_counters() {
	lab_exec gw nft -j list table inet regwall | python3 -c '
import json, sys
t = 0
for it in json.load(sys.stdin)["nftables"]:
    r = it.get("rule")
    if r and any("log" in e for e in r["expr"]):
        t += sum(e["counter"]["packets"] for e in r["expr"] if "counter" in e)
print(t)'
}
bench_counter() {
	lab_exec gw nft -j list table inet rwbench | python3 -c '
import json, sys
print(sum(e["counter"]["packets"] for it in json.load(sys.stdin)["nftables"]
          if "rule" in it for e in it["rule"]["expr"] if "counter" in e))'
}
# "received lost" from the blocked log so far (kind drop)
file_tally() {
	python3 - "$blog" <<'EOF'
import json, sys
rx = lost = 0
try:
    for line in open(sys.argv[1]):
        d = json.loads(line)
        k = d.get("kind")
        if k == "drop":
            rx += 1
        elif k == "summary" and d["of"] == "drop":
            rx += d["count"]
        elif k == "loss" and d["of"] == "drop":
            lost += d["kernel_overflow"] + d["queue_full"] + d["write_error"]
except FileNotFoundError:
    pass
print(rx, lost)
EOF
}

result="RESULT"
ratios=""
identity_ok=1
for rate in $RATES; do
	k=$((rate / 1000))k
	cap="$LAB_DIR/tcpdump-$k.pcap"
	lab_bg gw tcpdump -Z root -n -B 8192 -i nflog:8 -w "$cap" 2>"$cap.err"
	tpid=$LAB_LAST_PID
	lab_wait_for 5 grep -q "listening on" "$cap.err" || lab_fail "tcpdump: $(cat "$cap.err")"
	read -r rx0 lost0 <<<"$(file_tally)"
	c0=$(regwall_counters)
	b0=$(bench_counter)
	achieved=$(lab_exec outside python3 - "$LAB_GWOUT4" "$LAB_PORT" "$rate" "$SECS" $SRCS <<'EOF'
# Raw IPv4 SYNs from lab sources to a lab address, paced per millisecond;
# stops after secs seconds. Prints the achieved packets/s.
import socket, struct, sys, time
dst, port, rate, secs = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4])
srcs = sys.argv[5:]
assert all(a.startswith("203.0.113.") for a in srcs + [dst])
def csum(b):
    s = sum(struct.unpack("!%dH" % (len(b) // 2), b))
    while s >> 16:
        s = (s & 0xffff) + (s >> 16)
    return ~s & 0xffff
d = socket.inet_aton(dst)
pkts = []
for a in srcs:  # a few hundred ports per source, prebuilt
    sa = socket.inet_aton(a)
    for sport in range(20000, 20256):
        tcp = struct.pack("!HHIIBBHHH", sport, port, 1, 0, 5 << 4, 0x02, 64240, 0, 0)
        tcp = tcp[:16] + struct.pack("!H", csum(sa + d + struct.pack("!BBH", 0, 6, 20) + tcp)) + tcp[18:]
        ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 40, 1, 0, 64, 6, 0, sa, d)
        ip = ip[:10] + struct.pack("!H", csum(ip)) + ip[12:]
        pkts.append(ip + tcp)
s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW)
s.setsockopt(socket.IPPROTO_IP, socket.IP_HDRINCL, 1)
total = int(rate * secs)
n, i, start = 0, 0, time.time()
while n < total and time.time() - start < secs * 3:
    due = min(total, int((time.time() - start) * rate) + 1)
    while n < due:
        s.sendto(pkts[i], (dst, 0))
        i = (i + 1) % len(pkts)
        n += 1
    time.sleep(0.0005)
print(int(n / max(time.time() - start, 1e-3)))
EOF
)
	# a late probe (a tail loss shows as a sequence gap at the next record)
	lab_exec outside python3 "$LAB_DIR/labtool.py" probe "$LAB_GWOUT4" "$LAB_PORT" 0.2 >/dev/null
	sleep 3 # the kernel's flush, the 1 s interval's summaries, the loss line
	lab_stop "$tpid" INT
	read -r rx1 lost1 <<<"$(file_tally)"
	c1=$(regwall_counters)
	b1=$(bench_counter)
	tcp_rx=$(tcpdump -r "$cap" 2>/dev/null | wc -l)
	kernel=$((c1 - c0))
	rw_rx=$((rx1 - rx0))
	rw_lost=$((lost1 - lost0))
	[ $((rw_rx + rw_lost)) -eq "$kernel" ] || identity_ok=0
	line=$(python3 -c "
rw = $rw_rx / max($kernel, 1); td = $tcp_rx / max($((b1 - b0)), 1)
print('%.4f %.4f %.4f' % (rw, td, rw / td if td else 0))")
	read -r rw_ratio td_ratio vs <<<"$line"
	lab_log "rate $rate/s (achieved $achieved/s): regwall received $rw_rx of $kernel (lost $rw_lost, counted) ratio $rw_ratio; tcpdump $tcp_rx of $((b1 - b0)) ratio $td_ratio; $(grep -h 'dropped by kernel' "$cap.err" | head -1)"
	ratios+=" capture_vs_tcpdump_$k=$vs"
	result+=" regwall_$k=$rw_ratio tcpdump_$k=$td_ratio achieved_$k=$achieved"
done
# Stall: both readers stopped (SIGSTOP) for a 200,000-SYN burst, so both
# sockets overflow. How many records each says it lost, against what it
# really lost (counter - received): regwall from its sequence gaps,
# tcpdump from pcap_stats ps_drop ("dropped by kernel").
cap="$LAB_DIR/tcpdump-stall.pcap"
lab_bg gw tcpdump -Z root -n -B 8192 -i nflog:8 -w "$cap" 2>"$cap.err"
tpid=$LAB_LAST_PID
lab_wait_for 5 grep -q "listening on" "$cap.err" || lab_fail "tcpdump: $(cat "$cap.err")"
read -r rx0 lost0 <<<"$(file_tally)"
c0=$(regwall_counters)
b0=$(bench_counter)
kill -STOP "$LAB_DAEMON_PID" "$tpid"
lab_exec outside python3 - "$LAB_GWOUT4" "$LAB_PORT" $SRCS <<'EOF'
import socket, struct, sys
dst, port, srcs = sys.argv[1], int(sys.argv[2]), sys.argv[3:]
assert all(a.startswith("203.0.113.") for a in srcs + [dst])
s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW)
s.setsockopt(socket.IPPROTO_IP, socket.IP_HDRINCL, 1)
d = socket.inet_aton(dst)
for i in range(50000):
    for a in srcs:
        tcp = struct.pack("!HHIIBBHHH", 20000 + i % 40000, port, i, 0, 5 << 4, 2, 64240, 0, 0)
        ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 40, 1, 0, 64, 6, 0, socket.inet_aton(a), d)
        s.sendto(ip + tcp, (dst, 0))
EOF
kill -CONT "$LAB_DAEMON_PID" "$tpid"
lab_exec outside python3 "$LAB_DIR/labtool.py" probe "$LAB_GWOUT4" "$LAB_PORT" 0.2 >/dev/null
sleep 4
lab_stop "$tpid" INT
read -r rx1 lost1 <<<"$(file_tally)"
c1=$(regwall_counters)
b1=$(bench_counter)
tcp_rx=$(tcpdump -r "$cap" 2>/dev/null | wc -l)
tcp_said=$(sed -n 's/^\([0-9]*\) packets dropped by kernel.*/\1/p' "$cap.err" | head -1)
rw_real=$((c1 - c0 - (rx1 - rx0)))
rw_said=$((lost1 - lost0))
td_real=$((b1 - b0 - tcp_rx))
lab_log "stall: regwall lost $rw_real, reported $rw_said; tcpdump lost $td_real, reported ${tcp_said:-?} (dropped by kernel)"
stall=$(python3 -c "print('regwall_loss_reported_vs_real=%.4f tcpdump_loss_reported_vs_real=%.4f' % ($rw_said / max($rw_real, 1), ${tcp_said:-0} / max($td_real, 1)))")
echo "$result$ratios identity_ok=$identity_ok $stall"
