#!/usr/bin/env bash
# Benchmark (not a test): loading a big allowlist into the kernel through
# regwall versus nft, and one-element updates on the loaded set.
#
#   (a) `regwalld -c big.conf --apply`: 100,000 IPv4 + 20,000 IPv6 prefixes
#       in one network; wall time and peak RSS (/usr/bin/time). The config
#       parse alone is timed too (`regwalld -n`), since it is part of (a).
#   (b) the same elements with `nft -f` into table inet bench.
#   (c) add + delete of one prefix in the 100k set: `regwallctl network
#       add/del` against a running daemon versus `nft add/delete element`
#       (median of 7, each a process start + one netlink batch).
#
# Prefixes come from a fixed seed and are disjoint and non-adjacent (even
# /24s and /48s only), so neither tool merges anything and both load the
# same element list. They are set contents only: everything runs in a
# namespace of its own with no links, no packet is sent.
# Last line: RESULT load_ratio=<regwall/nft> update_ms=<ms> rss_ratio=<regwall/nft>
set -u
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
. "$here/../../tests/net/lib.sh"

if [ "$(id -u)" -ne 0 ]; then
	echo "SKIP: nft-load benchmark needs root (network namespaces)"
	exit 0
fi
[ -x /usr/bin/time ] || { echo "nft-load: needs /usr/bin/time (Debian package 'time')" >&2; exit 1; }
lab_require_build
N4=${N4:-100000}
N6=${N6:-20000}
REPS=${REPS:-7}
lab_init
lab_ns bench

python3 - "$LAB_DIR" "$N4" "$N6" <<'PYEOF'
import ipaddress, random, sys
d, n4, n6 = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
rnd = random.Random(20240601)
v4 = []
for blk in sorted(rnd.sample(range(1 << 23), n4)):
    base = (blk * 2) << 8                      # an even /24: never adjacent
    plen = rnd.randint(24, 32)
    sub = rnd.randrange(1 << (plen - 24)) << (32 - plen)
    v4.append("%s/%d" % (ipaddress.IPv4Address(base + sub), plen))
v6 = []
root = int(ipaddress.IPv6Address("2001:db8::"))
for blk in sorted(rnd.sample(range(1 << 15), n6)):
    base = root + ((blk * 2) << 80)            # an even /48 in 2001:db8::/32
    plen = rnd.randint(48, 64)
    sub = rnd.randrange(1 << (plen - 48)) << (128 - plen)
    v6.append("%s/%d" % (ipaddress.IPv6Address(base + sub), plen))
with open(d + "/big.conf", "w") as f:
    f.write('registry = { upstream = "198.51.100.10:5000";'
            ' server_names = [ "registry.example.test" ]; };\n')
    f.write("networks = {\n    big = [\n")
    f.write(",\n".join('        "%s"' % c for c in v4 + v6))
    f.write("\n    ];\n};\n")
    f.write('listeners = ( { name = "https"; listen = "[::]:8443"; mode = "passthrough";'
            ' allow_from = [ "big" ]; } );\n')
    f.write('control = { socket = "%s/ctl.sock"; state = "%s/live.json"; };\n' % (d, d))
with open(d + "/bench.nft", "w") as f:
    f.write("table inet bench {\n")
    f.write("  set s4 { type ipv4_addr; flags interval; elements = {\n")
    f.write(",\n".join("    " + c for c in v4))
    f.write("\n  } }\n")
    f.write("  set s6 { type ipv6_addr; flags interval; elements = {\n")
    f.write(",\n".join("    " + c for c in v6))
    f.write("\n  } }\n}\n")
# one /32 in an odd /24: in no set and adjacent to nothing
one = ipaddress.IPv4Address(((rnd.randrange(1 << 23) * 2 + 1) << 8) + 77)
open(d + "/one", "w").write("%s/32\n" % one)
PYEOF
[ -s "$LAB_DIR/big.conf" ] || lab_fail "generator failed"
one=$(cat "$LAB_DIR/one")
echo "nft-load: $N4 IPv4 + $N6 IPv6 prefixes (seed fixed), one-element update $one"

# timed NAME CMD...: runs CMD in the bench namespace under /usr/bin/time;
# sets T_SEC and T_KB (peak RSS). Output of CMD goes to $LAB_DIR/NAME.out.
timed() {
	local name=$1
	shift
	lab_exec bench timeout 300 /usr/bin/time -o "$LAB_DIR/$name.time" -f '%e %M' "$@" \
		>"$LAB_DIR/$name.out" 2>&1 || {
		cat "$LAB_DIR/$name.out" >&2
		lab_fail "$name failed: $*"
	}
	read -r T_SEC T_KB <"$LAB_DIR/$name.time"
}

ms_now() { echo $(($(date +%s%N) / 1000000)); }
median() { sort -n | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'; }

# (a) regwall
timed parse "$BUILD/regwalld" -c "$LAB_DIR/big.conf" -n
parse_s=$T_SEC parse_kb=$T_KB
timed rwload "$BUILD/regwalld" -c "$LAB_DIR/big.conf" --apply
rw_s=$T_SEC rw_kb=$T_KB
nelem() {
	lab_nft bench -j list set inet "$1" "$2" | python3 -c '
import json, sys
print(sum(len(i["set"].get("elem", [])) for i in json.load(sys.stdin)["nftables"] if "set" in i))'
}
echo "regwall --apply:     ${rw_s}s  peak RSS ${rw_kb} KiB  (config check alone: ${parse_s}s, ${parse_kb} KiB)"
echo "  loaded: net_big_v4 $(nelem regwall net_big_v4), net_big_v6 $(nelem regwall net_big_v6) prefixes"

# (b) nft -f
timed nftload nft -f "$LAB_DIR/bench.nft"
nft_s=$T_SEC nft_kb=$T_KB
echo "nft -f:              ${nft_s}s  peak RSS ${nft_kb} KiB"
echo "  loaded: s4 $(nelem bench s4), s6 $(nelem bench s6) prefixes"

# (c) one-element updates
lab_bg bench "$BUILD/regwalld" -c "$LAB_DIR/big.conf" -f -w 0 -s "$LAB_DIR/ctl.sock" 2>"$LAB_DIR/regwalld.log"
daemon=$LAB_LAST_PID
for _ in $(seq 1 3000); do
	grep -q "regwalld: ready" "$LAB_DIR/regwalld.log" && break
	kill -0 "$daemon" 2>/dev/null || { cat "$LAB_DIR/regwalld.log" >&2; lab_fail "daemon exited"; }
	sleep 0.1
done
grep -q "regwalld: ready" "$LAB_DIR/regwalld.log" || lab_fail "daemon not ready after 300 s"
: >"$LAB_DIR/rw_add" ; : >"$LAB_DIR/rw_del" ; : >"$LAB_DIR/nft_add" ; : >"$LAB_DIR/nft_del"
for _ in $(seq 1 "$REPS"); do
	t=$(ms_now)
	lab_ctl_bench() { lab_exec bench "$BUILD/regwallctl" -s "$LAB_DIR/ctl.sock" "$@" >/dev/null; }
	lab_ctl_bench network add big "$one" || lab_fail "regwallctl network add big $one failed"
	echo $(($(ms_now) - t)) >>"$LAB_DIR/rw_add"
	t=$(ms_now)
	lab_ctl_bench network del big "$one" || lab_fail "regwallctl network del big $one failed"
	echo $(($(ms_now) - t)) >>"$LAB_DIR/rw_del"
	t=$(ms_now)
	lab_nft bench add element inet bench s4 "{ $one }" || lab_fail "nft add element failed"
	echo $(($(ms_now) - t)) >>"$LAB_DIR/nft_add"
	t=$(ms_now)
	lab_nft bench delete element inet bench s4 "{ $one }" || lab_fail "nft delete element failed"
	echo $(($(ms_now) - t)) >>"$LAB_DIR/nft_del"
done
# The operation itself, without process start-up (about 25-50 ms per exec
# on a loaded 2-core VM, which would hide it): one control connection, the
# same JSON requests regwallctl sends, timed around each round trip.
lab_exec bench python3 - "$LAB_DIR/ctl.sock" "$one" "$REPS" >"$LAB_DIR/rtt" <<'PYEOF' || lab_fail "control round trips failed"
import json, socket, sys, time
path, one, reps = sys.argv[1], sys.argv[2], int(sys.argv[3])
s = socket.socket(socket.AF_UNIX)
s.connect(path)
f = s.makefile("rwb")
def rt(cmd):
    t = time.perf_counter()
    f.write((json.dumps({"cmd": cmd, "network": "big", "cidrs": [one]}) + "\n").encode())
    f.flush()
    r = json.loads(f.readline())
    if not r.get("ok"):
        sys.exit("refused: %s" % r)
    return (time.perf_counter() - t) * 1000
adds, dels = [], []
for _ in range(reps):
    adds.append(rt("network add"))
    dels.append(rt("network del"))
adds.sort(); dels.sort()
print("%.2f %.2f" % (adds[len(adds) // 2], dels[len(dels) // 2]))
PYEOF
read -r rtt_add rtt_del <"$LAB_DIR/rtt"
lab_stop "$daemon"
rw_add=$(median <"$LAB_DIR/rw_add")
rw_del=$(median <"$LAB_DIR/rw_del")
nft_add=$(median <"$LAB_DIR/nft_add")
nft_del=$(median <"$LAB_DIR/nft_del")
echo "one element, median of $REPS (ms):"
echo "  regwall, control round trip (validate + one netlink batch): add $rtt_add  del $rtt_del"
echo "  regwallctl CLI (incl. process start):                      add $rw_add  del $rw_del"
echo "  nft add element CLI (incl. process start; nft 1.0.6 dumps the set first):"
echo "                                                              add $nft_add  del $nft_del"
echo "  (a delete of a prefix loaded by --apply commits on the 100k main set: the"
echo "   kernel's interval-set commit is O(set size); live additions go to a small set)"

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b <= 0) b = 0.01; printf "%.2f", a / b }'; }
load_ratio=$(ratio "$rw_s" "$nft_s")
rss_ratio=$(ratio "$rw_kb" "$nft_kb")
share=$(awk -v p="$parse_s" -v t="$rw_s" 'BEGIN { if (t <= 0) t = 0.01; printf "%d", 100 * p / t }')
echo "load: regwall/nft = $load_ratio; RSS regwall/nft = $rss_ratio"
if [ "$share" -ge 100 ]; then
	echo "note: the config check alone (${parse_s}s) took as long as the whole apply (${rw_s}s):"
	echo "      parsing/validating the $((N4 + N6))-entry config dominates regwall's load time"
elif [ "$share" -ge 50 ]; then
	echo "note: config parsing/validation is ${share}% of regwall's load time (it dominates)"
else
	echo "note: config parsing/validation is ${share}% of regwall's load time"
fi
echo "RESULT load_ratio=$load_ratio update_ms=$rtt_add rss_ratio=$rss_ratio"
