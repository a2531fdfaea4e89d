#!/usr/bin/env bash
# The blocked-attempt log (log.blocked + log.blocked_pcap), regwalld -f
# with one worker, reading NFLOG group LAB_GROUP itself:
#   * a blocked connect from the unknown network (outside) appears in the
#     JSON log within 1 s with reason not_allowed, listener, ports and
#     interface; `tcpdump -r` reads the pcap and shows the packet;
#   * an L7 refusal (TLS with a wrong SNI from the office to the
#     passthrough listener) joins the same file (kind refuse, reason sni,
#     the name asked for);
#   * a flood of 10,000 SYNs from 4 unknown sources (raw socket, bounded,
#     lab addresses only): the file grows by at most
#       BOUND = intervals x (sources x burst + sources) + 4
#     lines (attempt lines + one summary per source and interval + loss
#     lines; here burst 5, interval 2 s), and lines + summarised counts +
#     reported losses == the packets counted by the table's log rules;
#   * regwalld stopped (SIGSTOP) during 200,000 SYNs: the kernel drops
#     what its socket cannot hold, the sequence gaps are written as a loss
#     line (kernel_overflow), and the identity above still holds exactly;
#   * `regwallctl log rotate` moves the file to .1 and opens a new one; a
#     file logrotate moved away is only reopened, never truncated;
#   * after a reload the capture goes on (an IPv6 drop, listener https6);
#   * `regwallctl log` reads and filters it.
set -u
. "$(dirname "$0")/lib.sh"
lab_require_root
lab_require_build
lab_init
lab_topology
lab_echo_server registry "$LAB_REG_PORT"
command -v tcpdump >/dev/null 2>&1 || lab_skip "tcpdump not installed"

BURST=5
INTERVAL_S=2
FLOOD_SRCS="203.0.113.140 203.0.113.141 203.0.113.142 203.0.113.143"
PER_SRC=2500
for a in 203.0.113.142 203.0.113.143 203.0.113.144; do
	ip -n "$(lab_nsname outside)" addr add "$a/25" dev eth0 || lab_fail "address $a"
done

blog="$LAB_DIR/log/blocked.jsonl"
bpcap="$LAB_DIR/log/blocked.pcap"
conf="$LAB_DIR/a.conf"
lab_conf "$conf"
python3 - "$conf" "$blog" "$bpcap" "$BURST" "$INTERVAL_S" <<'EOF'
import sys
p, blog, bpcap, burst, interval = sys.argv[1:]
s = open(p).read()
s = s.replace("    nflog_group = ", """    blocked = "%s";
    blocked_pcap = "%s";
    blocked_burst = %s;
    blocked_interval = "%ss";
    nflog_group = """ % (blog, bpcap, burst, interval), 1)
open(p, "w").write(s)
EOF
lab_daemon "$conf" gw --workers 1

# Helpers over the JSON file (python: the reader under test is regwallctl).
py() { python3 - "$blog" "$@"; }
count_lines() { [ -f "$blog" ] && wc -l <"$blog" || echo 0; }
has_line() { # KIND REASON SRC
	py "$@" <<'EOF'
import json, sys
f, kind, reason, src = sys.argv[1:5]
for line in open(f):
    d = json.loads(line)
    if d.get("kind") == kind and d.get("reason") == reason and d.get("src") == src:
        print(line.strip()); sys.exit(0)
sys.exit(1)
EOF
}

# --- 1. one blocked connect, in the log within 1 s ---------------------
# The delay is measured from the packet's kernel timestamp (the line's
# time_ms, NFULA_TIMESTAMP) to the moment the line is in the file.
lab_bg outside python3 "$LAB_DIR/labtool.py" probe "$LAB_GWOUT4" "$LAB_PORT" 2
probe_pid=$LAB_LAST_PID
seen=$(py "$LAB_OUTSIDE4" <<'EOF'
import json, sys, time
f, src = sys.argv[1:]
end = time.time() + 5
while time.time() < end:
    try:
        for line in open(f):
            d = json.loads(line)
            if d.get("kind") == "drop" and d.get("reason") == "not_allowed" and d.get("src") == src:
                print(int(time.time() * 1000) - d["time_ms"]); sys.exit(0)
    except FileNotFoundError:
        pass
    time.sleep(0.01)
sys.exit(1)
EOF
) || { cat "$LAB_DIR/regwalld.log" >&2; lab_fail "no not_allowed line for $LAB_OUTSIDE4"; }
[ "$seen" -le 1000 ] || lab_fail "the line appeared $seen ms after the packet (> 1 s)"
line=$(has_line drop not_allowed "$LAB_OUTSIDE4")
lab_log "blocked connect logged ${seen} ms after the packet: $line"
py "$LAB_OUTSIDE4" "$LAB_GWOUT4" "$LAB_PORT" <<'EOF' || lab_fail "line fields wrong: $line"
import json, sys
f, src, dst, port = sys.argv[1:]
for line in open(f):
    d = json.loads(line)
    if d.get("src") == src and d.get("kind") == "drop":
        ok = (d["listener"] == "https" and d["dst"] == dst and d["dport"] == int(port)
              and d["proto"] == "tcp" and d["in"] == "out0" and "S" in d["tcp_flags"]
              and isinstance(d["sport"], int) and d["time"].endswith("Z"))
        sys.exit(0 if ok else 1)
sys.exit(1)
EOF
wait "$probe_pid" 2>/dev/null
tcpdump -nn -r "$bpcap" 2>/dev/null | grep -q "$LAB_OUTSIDE4" ||
	lab_fail "tcpdump -r $bpcap does not show $LAB_OUTSIDE4: $(tcpdump -nn -r "$bpcap" 2>&1 | head -3)"
lab_log "tcpdump -r reads the pcap: $(tcpdump -nn -r "$bpcap" 2>/dev/null | head -1)"

# --- 2. an L7 refusal joins the same file ------------------------------
r=$(LAB_SNI=wrong.example.test lab_exec office python3 "$LAB_DIR/labtool.py" probe "$LAB_GW4" "$LAB_PORT" 3)
[ "$r" != ok ] || lab_fail "a wrong SNI got through"
lab_wait_for 3 has_line refuse sni "$LAB_OFFICE4" || lab_fail "no refuse/sni line for $LAB_OFFICE4"
line=$(has_line refuse sni "$LAB_OFFICE4")
case $line in *'"sni":"wrong.example.test"'*'"listener":"https"'* | *'"listener":"https"'*'"sni":"wrong.example.test"'*) ;;
*) lab_fail "refusal line lacks sni/listener: $line" ;; esac
lab_log "L7 refusal logged: $line"

cat >"$LAB_DIR/synflood.py" <<'EOF'
# Raw IPv4 SYNs with the given lab sources, round robin; stops after
# PER_SRC packets per source. Lab addresses only (the caller's namespace
# has no route off the lab).
import socket, struct, sys
dst, port, per = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
srcs = sys.argv[4:]
assert all(a.startswith(("203.0.113.", "198.51.100.", "192.0.2.")) for a in srcs + [dst])
def csum(b):
    if len(b) % 2:
        b += b"\0"
    s = sum(struct.unpack("!%dH" % (len(b) // 2), b))
    while s >> 16:
        s = (s & 0xffff) + (s >> 16)
    return ~s & 0xffff
s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW)
s.setsockopt(socket.IPPROTO_IP, socket.IP_HDRINCL, 1)
d = socket.inet_aton(dst)
n = 0
for i in range(per):
    for a in srcs:
        sa = socket.inet_aton(a)
        sport = 10000 + (i % 50000)
        tcp = struct.pack("!HHIIBBHHH", sport, port, i, 0, 5 << 4, 0x02, 64240, 0, 0)
        ph = sa + d + struct.pack("!BBH", 0, 6, len(tcp))
        tcp = tcp[:16] + struct.pack("!H", csum(ph + tcp)) + tcp[18:]
        ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(tcp), i & 0xffff, 0, 64, 6, 0, sa, d)
        ip = ip[:10] + struct.pack("!H", csum(ip)) + ip[12:]
        s.sendto(ip + tcp, (dst, 0))
        n += 1
print(n)
EOF

# The accounting over the file and its .1 (kind drop): "lines summarised
# lost"; and the packets the table's log rules counted.
tally() {
	py <<'EOF'
import json, sys
lines = summ = lost = 0
for f in (sys.argv[1] + ".1", sys.argv[1]):
    try:
        fh = open(f)
    except FileNotFoundError:
        continue
    for line in fh:
        d = json.loads(line)
        k = d.get("kind")
        if k == "drop":
            lines += 1
        elif k == "summary" and d["of"] == "drop":
            summ += d["count"]
        elif k == "loss" and d["of"] == "drop":
            lost += d["kernel_overflow"] + d["queue_full"] + d["write_error"]
print(lines, summ, lost)
EOF
}
nft_logged() {
	lab_exec gw nft -j list table inet regwall | python3 -c '
import json, sys
t = 0
for it in json.load(sys.stdin)["nftables"]:
    r = it.get("rule")
    if r and any("log" in e for e in r["expr"]):
        t += sum(e["counter"]["packets"] for e in r["expr"] if "counter" in e)
print(t)'
}

# --- 3. flood: bounded lines, every attempt accounted for --------------
sleep $((INTERVAL_S + 1)) # the first interval's summaries are out
before=$(count_lines)
start=$(date +%s)
sent=$(lab_exec outside python3 "$LAB_DIR/synflood.py" "$LAB_GWOUT4" "$LAB_PORT" "$PER_SRC" $FLOOD_SRCS)
dur=$(( $(date +%s) - start + 1 ))
[ "$sent" = $((PER_SRC * 4)) ] || lab_fail "flood sent $sent packets"
# a last probe after the flood: a loss at the flood's tail shows as a gap
# in the sequence numbers only when a later record arrives
lab_exec outside python3 "$LAB_DIR/labtool.py" probe "$LAB_GWOUT4" "$LAB_PORT" 1 "203.0.113.144" >/dev/null
sleep $((INTERVAL_S * 2 + 1)) # summaries and loss lines of the flood's intervals
after=$(count_lines)
grown=$((after - before))
intervals=$(( (dur + 1) / INTERVAL_S + 2 ))
BOUND=$(( intervals * (5 * BURST + 5) + 4 )) # 4 flood sources + the probe's
lab_log "flood: $sent SYNs in ~${dur}s, file grew by $grown lines (bound $BOUND)"
[ "$grown" -le "$BOUND" ] || lab_fail "the file grew by $grown lines, bound $BOUND"
[ "$grown" -gt 0 ] || lab_fail "the flood left no line"

nft_total=$(nft_logged)
read -r lines summarised lost <<<"$(tally)"
lab_log "accounting: lines $lines + summarised $summarised + lost $lost = $((lines + summarised + lost)); nft log-rule counters $nft_total"
[ $((lines + summarised + lost)) -eq "$nft_total" ] ||
	lab_fail "lines $lines + summarised $summarised + lost $lost != nft counters $nft_total"
[ "$summarised" -gt 0 ] || lab_fail "a 10,000 SYN flood was not summarised"
for a in $FLOOD_SRCS; do
	py "$a" <<'EOF' || lab_fail "no summary line for $a"
import json, sys
sys.exit(0 if any(json.loads(l).get("kind") == "summary" and json.loads(l).get("src") == sys.argv[2]
                  for l in open(sys.argv[1])) else 1)
EOF
done

flood_acct="$lines + $summarised + $lost == $nft_total"

# --- 3b. kernel losses are counted exactly -----------------------------
# regwalld stopped (SIGSTOP) while 200,000 SYNs arrive: its 8 MiB socket
# buffer overflows and the kernel drops whole batches. The sequence gaps
# become a loss line, and the identity still holds.
kill -STOP "$LAB_DAEMON_PID"
sent=$(lab_exec outside python3 "$LAB_DIR/synflood.py" "$LAB_GWOUT4" "$LAB_PORT" 50000 $FLOOD_SRCS)
kill -CONT "$LAB_DAEMON_PID"
lab_exec outside python3 "$LAB_DIR/labtool.py" probe "$LAB_GWOUT4" "$LAB_PORT" 1 "203.0.113.144" >/dev/null
sleep $((INTERVAL_S * 2 + 1))
nft_total=$(nft_logged)
read -r lines summarised lost <<<"$(tally)"
lab_log "after a stall ($sent SYNs): lines $lines + summarised $summarised + lost $lost = $((lines + summarised + lost)); nft log-rule counters $nft_total"
[ "$lost" -gt 0 ] || lab_fail "200,000 SYNs into a stopped reader lost nothing"
[ $((lines + summarised + lost)) -eq "$nft_total" ] ||
	lab_fail "after kernel losses: lines $lines + summarised $summarised + lost $lost != nft counters $nft_total"
grep -q '"kind":"loss","of":"drop","kernel_overflow":[1-9]' "$blog" || lab_fail "no loss line with kernel_overflow"
stall_acct="$lines + $summarised + $lost lost == $nft_total"
# the same numbers in `regwallctl status` (rw_blocked_stats, for metrics)
st=$(lab_ctl -j status)
python3 -c '
import json, sys
b = json.loads(sys.argv[1])["blocked_log"]
lost = int(sys.argv[2])
ok = b["lost_kernel"] == lost and b["capturing"] and b["lines"] > 0 and b["summarised"] > 0
sys.exit(0 if ok else 1)' "$st" "$lost" || lab_fail "status blocked_log disagrees with the file (lost $lost): $st"


# --- 4. rotation: ours renamed to .1; a moved file only reopened -------
lab_ctl log rotate >/dev/null || lab_fail "regwallctl log rotate failed"
lab_wait_for 3 test -s "$blog.1" || lab_fail "no $blog.1 after log rotate"
lab_wait_for 3 test -e "$blog" || lab_fail "no new $blog after log rotate"
[ -s "$bpcap.1" ] || lab_fail "no $bpcap.1 after log rotate"
size1=$(stat -c %s "$blog.1")
lab_exec outside python3 "$LAB_DIR/labtool.py" probe "$LAB_GWOUT4" "$LAB_PORT" 1 "$LAB_OUTSIDE4B" >/dev/null
lab_wait_for 3 has_line drop not_allowed "$LAB_OUTSIDE4B" || lab_fail "no line in the new file after rotate"
[ "$(stat -c %s "$blog.1")" = "$size1" ] || lab_fail "the rotated file changed"
tcpdump -nn -r "$bpcap" 2>/dev/null | grep -q "$LAB_OUTSIDE4B" || lab_fail "new pcap unreadable after rotate"
# logrotate style: the admin moves the file, then asks for a reopen
mv "$blog" "$LAB_DIR/moved.jsonl"
msize=$(stat -c %s "$LAB_DIR/moved.jsonl")
lab_ctl log rotate >/dev/null || lab_fail "second log rotate failed"
lab_wait_for 3 test -e "$blog" || lab_fail "no reopened $blog"
[ "$(stat -c %s "$LAB_DIR/moved.jsonl")" = "$msize" ] || lab_fail "the moved file was written to"
[ "$(stat -c %s "$blog.1")" = "$size1" ] || lab_fail "a reopen renamed files"

# --- 4b. a reload (SIGHUP's meaning, unchanged) keeps the capture; IPv6 --
lab_ctl reload >/dev/null || lab_fail "reload failed"
lab_exec outside python3 "$LAB_DIR/labtool.py" probe "$LAB_GWOUT6" "$LAB_PORT" 1 >/dev/null
lab_wait_for 3 has_line drop not_allowed "$LAB_OUTSIDE6" || lab_fail "no IPv6 line after a reload"
case $(has_line drop not_allowed "$LAB_OUTSIDE6") in *'"listener":"https6"'*) ;;
*) lab_fail "IPv6 line without listener https6: $(has_line drop not_allowed "$LAB_OUTSIDE6")" ;; esac

# --- 5. regwallctl log reads and filters --------------------------------
out=$("$BUILD/regwallctl" log --file "$blog.1" --reason not_allowed --src 203.0.113.140/32) ||
	lab_fail "regwallctl log failed"
[ -n "$out" ] || lab_fail "regwallctl log printed nothing for 203.0.113.140"
if printf '%s\n' "$out" | grep -v "203.0.113.140" | grep -q .; then
	lab_fail "regwallctl log --src printed other sources: $(printf '%s\n' "$out" | head -3)"
fi
out=$("$BUILD/regwallctl" log --file "$blog.1" --reason sni)
printf '%s\n' "$out" | grep -q "wrong.example.test" || lab_fail "regwallctl log --reason sni: $out"
echo "ok: blocked log: drop within ${seen} ms, pcap readable, L7 refusal, flood grew $grown <= $BOUND lines, $flood_acct; after a stall $stall_acct; reload, rotation, regwallctl log"
