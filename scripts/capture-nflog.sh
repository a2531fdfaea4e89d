#!/usr/bin/env bash
# Captures REAL DLT_NFLOG records for the unit tests (run as root).
#
# Two throwaway network namespaces joined by a veth pair (no link to the
# host namespace, documentation addresses only): "cli" sends, "srv" holds
# an nft table that logs to NFLOG group 7 and drops. tcpdump reads
# nflog:7 inside srv. Each captured record is then written, exactly as
# libpcap delivers it, to tests/data/nflog/NN-<what>.bin, and a sidecar
# NN-<what>.expect is derived from `tcpdump -r -nn -v` of that single
# record (an independent decoder), plus the prefix of the rule we aimed at.
#
#   ./scripts/capture-nflog.sh [outdir]     (default tests/data/nflog)
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-tests/data/nflog}
[ "$(id -u)" -eq 0 ] || { echo "needs root (network namespaces)" >&2; exit 1; }

sfx=$$
cli=rwcap-cli-$sfx
srv=rwcap-srv-$sfx
work=$(mktemp -d)
tdpid=
cleanup() {
	[ -n "$tdpid" ] && kill "$tdpid" 2>/dev/null || true
	ip netns del "$cli" 2>/dev/null || true
	ip netns del "$srv" 2>/dev/null || true
	rm -rf "$work"
}
trap cleanup EXIT

ip netns add "$cli"
ip netns add "$srv"
ip -n "$cli" link add veth0 type veth peer name veth1 netns "$srv"
for ns in "$cli" "$srv"; do ip -n "$ns" link set lo up; done
ip -n "$cli" addr add 203.0.113.10/24 dev veth0
ip -n "$cli" addr add 2001:db8:7::10/64 dev veth0 nodad
ip -n "$srv" addr add 203.0.113.1/24 dev veth1
ip -n "$srv" addr add 2001:db8:7::1/64 dev veth1 nodad
ip -n "$cli" link set veth0 up
ip -n "$srv" link set veth1 up

# queue-threshold 1: one record per netlink message, delivered at once.
# 8443 logs with snaplen 30 so the TCP header is cut (real truncated L4).
# prerouting at -450 runs before any defragmentation, so fragments are
# logged as fragments (first one with an L4 header, later ones without).
cat > "$work/rules.nft" <<'NFT'
table inet rwcap {
	chain pre {
		type filter hook prerouting priority -450; policy accept;
		ip frag-off & 0x1fff != 0 log prefix "regwall frag later" group 7 queue-threshold 1
		ip frag-off & 0x3fff == 0x2000 log prefix "regwall frag first" group 7 queue-threshold 1
		exthdr frag exists log prefix "regwall frag v6" group 7 queue-threshold 1
	}
	chain input {
		type filter hook input priority 0; policy accept;
		tcp dport 443 log prefix "regwall https not_allowed" group 7 queue-threshold 1 drop
		tcp dport 8443 log prefix "regwall https snapped" group 7 snaplen 30 queue-threshold 1 drop
		udp dport 443 log prefix "regwall quic not_allowed" group 7 queue-threshold 1 drop
		udp dport 9999 drop
		icmp type echo-request log prefix "regwall icmp not_allowed" group 7 queue-threshold 1 drop
		icmpv6 type echo-request log prefix "regwall icmp6 not_allowed" group 7 queue-threshold 1 drop
	}
}
NFT
ip netns exec "$srv" nft -f "$work/rules.nft"

ip netns exec "$srv" tcpdump -Z root -U -i nflog:7 -w "$work/all.pcap" 2>"$work/tcpdump.err" &
tdpid=$!
for _ in $(seq 50); do grep -q "listening on" "$work/tcpdump.err" 2>/dev/null && break; sleep 0.1; done

# One SYN each (short timeout, no retransmission), one datagram each.
ip netns exec "$cli" python3 - <<'PY'
import socket, time
def syn(fam, addr, port):
    s = socket.socket(fam, socket.SOCK_STREAM)
    s.setblocking(False)
    try: s.connect((addr, port))
    except BlockingIOError: pass
    time.sleep(0.3); s.close()
def udp(fam, addr, port, size):
    s = socket.socket(fam, socket.SOCK_DGRAM)
    s.sendto(b"Q" * size, (addr, port)); s.close(); time.sleep(0.2)
syn(socket.AF_INET, "203.0.113.1", 443)
syn(socket.AF_INET6, "2001:db8:7::1", 443)
syn(socket.AF_INET, "203.0.113.1", 8443)
udp(socket.AF_INET, "203.0.113.1", 443, 32)
udp(socket.AF_INET6, "2001:db8:7::1", 443, 32)
udp(socket.AF_INET, "203.0.113.1", 9999, 2000)      # fragmented v4
udp(socket.AF_INET6, "2001:db8:7::1", 9999, 2000)   # fragmented v6
PY
ip netns exec "$cli" ping -c 1 -W 1 203.0.113.1 >/dev/null || true
ip netns exec "$cli" ping -6 -c 1 -W 1 2001:db8:7::1 >/dev/null || true
sleep 0.5
kill "$tdpid"; wait "$tdpid" 2>/dev/null || true; tdpid=

mkdir -p "$out" tests/fuzz/corpus/nflog
rm -f "$out"/*.bin "$out"/*.expect
python3 - "$work/all.pcap" "$out" "$work" <<'PY'
# Split the pcap (classic format, LINKTYPE_NFLOG 239) into one file per
# record, and derive each sidecar from tcpdump's own decode of that record.
import re, struct, subprocess, sys
src, out, work = sys.argv[1:4]
d = open(src, "rb").read()
magic = d[:4]
end = "<" if magic == b"\xd4\xc3\xb2\xa1" else ">"
assert struct.unpack(end + "I", d[20:24])[0] == 239, "not LINKTYPE_NFLOG"
off, n = 24, 0
def addr_port(tok, v6):
    # tcpdump prints "addr.port"; a v4 address has 3 dots, v6 none
    if v6:
        if "." in tok:
            a, p = tok.rsplit(".", 1); return a, p
        return tok, None
    parts = tok.split(".")
    return (".".join(parts[:4]), parts[4]) if len(parts) == 5 else (tok, None)
while off < len(d):
    ts, us, cl, ol = struct.unpack(end + "IIII", d[off:off + 16])
    rec = d[off + 16: off + 16 + cl]
    off += 16 + cl
    n += 1
    one = f"{work}/one.pcap"
    open(one, "wb").write(d[:24] + struct.pack(end + "IIII", ts, us, cl, ol) + rec)
    txt = subprocess.run(["tcpdump", "-r", one, "-nn", "-v", "-e"], capture_output=True,
                         text=True, check=True).stdout
    txt = " ".join(txt.split())
    e = {}
    m = re.search(r"version (\d+), resource ID (\d+), family (IPv4|IPv6)", txt)
    e["family"] = "inet" if m.group(3) == "IPv4" else "inet6"
    e["group"] = m.group(2)
    v6 = e["family"] == "inet6"
    frag_off = 0
    if not v6:
        e["proto"] = re.search(r"proto \w+ \((\d+)\)", txt).group(1)
        e["ip_len"] = re.search(r"proto \w+ \(\d+\), length (\d+)\)", txt).group(1)
        frag_off = int(re.search(r"offset (\d+)", txt).group(1))
        m = re.search(r"\) ([0-9.]+) > ([0-9.]+):", txt)
    else:
        m = re.search(r"next-header \w+ \((\d+)\) payload length: (\d+)\)", txt)
        if m.group(1) != "44":
            e["proto"] = m.group(1)
        e["ip_len"] = str(int(m.group(2)) + 40)
        m = re.search(r"\) ([0-9a-f:.]+) > ([0-9a-f:.]+):", txt)
    s_a, s_p = addr_port(m.group(1), v6)
    d_a, d_p = addr_port(m.group(2), v6)
    e["src"], e["dst"] = s_a, d_a
    fm = re.search(r"frag \(0x[0-9a-f]+:(\d+)\|\d+\)(?: (\d+) > (\d+):)?", txt)
    if fm:
        frag_off = int(fm.group(1))
        if fm.group(2):
            s_p, d_p = fm.group(2), fm.group(3)
        if " UDP," in txt:
            e["proto"] = "17"
    if s_p:
        e["sport"], e["dport"] = s_p, d_p
    e["frag_offset"] = str(frag_off)
    if frag_off:
        e["l4"] = "fragment"
    elif "[|tcp]" in txt or "[|udp]" in txt or "[|icmp" in txt:
        e["l4"] = "truncated"
    else:
        e["l4"] = "ok"
    fl = re.search(r"Flags \[([^\]]*)\]", txt)
    if fl:
        e["tcp_flags"] = fl.group(1)
    if "ICMP echo request" in txt:
        e["icmp_type"], e["icmp_code"] = "8", "0"
    if "ICMP6, echo request" in txt:
        e["icmp_type"], e["icmp_code"] = "128", "0"
    # The prefix is not in tcpdump's output; it follows from the packet
    # tcpdump decoded and the rule set above.
    proto = e.get("proto")
    if v6 and fm:
        pre, what = "regwall frag v6", "udp-frag%d" % (1 if frag_off else 0)
    elif not v6 and frag_off:
        pre, what = "regwall frag later", "udp-frag1"
    elif not v6 and "flags [+]" in txt:
        pre, what = "regwall frag first", "udp-frag0"
    elif proto == "6" and d_p == "443":
        pre, what = "regwall https not_allowed", "tcp-syn"
    elif proto == "6" and d_p == "8443":
        pre, what = "regwall https snapped", "tcp-snapped"
    elif proto == "17" and d_p == "443":
        pre, what = "regwall quic not_allowed", "udp"
    elif proto == "1":
        pre, what = "regwall icmp not_allowed", "icmp-echo"
    elif proto == "58":
        pre, what = "regwall icmp6 not_allowed", "icmp6-echo"
    else:
        sys.exit("unexpected record: " + txt)
    e["prefix"] = pre
    name = f"{out}/{n:02d}-{'v6' if v6 else 'v4'}-{what}"
    open(name + ".bin", "wb").write(rec)
    with open(name + ".expect", "w") as f:
        f.write("# from: tcpdump -r -nn -v -e\n# " + txt.strip() + "\n")
        for k, v in e.items():
            f.write(f"{k}={v}\n")
    # also a seed for the fuzzer
    open(f"tests/fuzz/corpus/nflog/{name.rsplit('/', 1)[1]}.bin", "wb").write(rec)
print(f"{n} records")
PY
echo "records written to $out"
