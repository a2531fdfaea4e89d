#!/usr/bin/env bash
# --dump-rules prints what `nft list table inet regwall` shows once the same
# config is loaded. For every config in tests/configs/nft/ (one per golden
# case of tests/unit/test_nft_compile.c, plus wide.conf for element
# wrapping, /0 prefixes, an IPv6 upstream and non-default rates), in a
# namespace of its own: --dump-rules; regwalld --apply; nft list table;
# the two must be equal after normalising counters only. The dump of a
# golden case's config must also equal tests/golden/<case>.nft (printed
# from the C-built policy by the unit test).
#
# Normalised: the packet and byte counts of `counter` (the dump prints a
# table as loaded, with zeros; nothing sends a packet here, but a counter
# that moved would not make the text wrong). Not normalised, because they
# cannot differ here: handles (not shown without -a), set elements and
# their wrapping (the printer wraps them as nft does), the contents of
# ban_/meter_/banmeter_ sets (filled by traffic and regwallctl; --apply
# of a fresh namespace carries no bans and the lab sends nothing).
#
# Then the dump goes back through nft itself: `nft -f` of the dump in a
# fresh namespace must load, and list as the dump again except for one
# thing nft does differently from rw_nft_compile: given `tcp dport 443 meta
# nfproto ipv4 ip saddr @s`, nft lowers the explicit nfproto test as the
# dependency of `ip saddr`, so it lists as `tcp dport 443 ip saddr @s` (the
# same match; likewise with `ct state new update @m { ip saddr ... }`); a
# `meta nfproto` followed by a source address match is removed on both
# sides for this comparison only.
set -u
. "$(dirname "$0")/lib.sh"
lab_require_root
lab_require_build
lab_init

confdir=$(cd "$(dirname "$0")/../configs/nft" && pwd)
goldendir=$(cd "$(dirname "$0")/../golden" && pwd)

# every golden case has its config
for g in "$goldendir"/*.txt; do
	name=$(basename "$g" .txt)
	[ -r "$confdir/$name.conf" ] || lab_fail "golden case $name has no tests/configs/nft/$name.conf"
done

norm() { sed -E 's/counter packets [0-9]+ bytes [0-9]+/counter packets 0 bytes 0/g' "$1"; }

n=0
for conf in "$confdir"/*.conf; do
	name=$(basename "$conf" .conf)
	dir="$LAB_DIR/$name"
	mkdir -p "$dir"
	n=$((n + 1))
	ns="d$n"
	lab_ns "$ns"

	"$BUILD/regwalld" -c "$conf" --dump-rules >"$dir/dump" 2>"$dir/dump.err" ||
		lab_fail "$name: --dump-rules failed: $(cat "$dir/dump.err")"
	[ -s "$dir/dump.err" ] && lab_fail "$name: --dump-rules wrote to stderr: $(cat "$dir/dump.err")"
	# its own control socket (and so its own lock) under the test's dir
	out=$(lab_exec "$ns" "$BUILD/regwalld" -c "$conf" -s "$dir/ctl.sock" --apply 2>&1) ||
		lab_fail "$name: --apply failed: $out"
	lab_nft "$ns" list table inet regwall >"$dir/listed" || lab_fail "$name: nft list failed"
	norm "$dir/listed" >"$dir/listed.norm"
	norm "$dir/dump" >"$dir/dump.norm"
	if ! diff -u "$dir/listed.norm" "$dir/dump.norm" >"$dir/diff"; then
		cat "$dir/diff" >&2
		lab_fail "$name: --dump-rules differs from nft list table inet regwall (- nft, + dump)"
	fi
	grep -q 'counter packets' "$dir/listed" || lab_fail "$name: no rule listed"
	# the config is the golden case: same table as the C-built policy
	# (vpn.conf has no IPv6 peer address, see its header)
	if [ -r "$goldendir/$name.nft" ]; then
		if [ "$name" = vpn ]; then
			grep -v '^		elements = { 2001:db8:ffff::3 }$' "$goldendir/$name.nft" >"$dir/golden"
		else
			cp "$goldendir/$name.nft" "$dir/golden"
		fi
		diff -u "$dir/golden" "$dir/dump" >&2 || lab_fail "$name: config and tests/golden/$name.nft differ"
	fi

	# the dump is nft input that lists as itself
	lab_ns "r$n"
	lab_nft "r$n" -f "$dir/dump" 2>"$dir/nft-f.err" ||
		lab_fail "$name: nft -f of the dump failed: $(cat "$dir/nft-f.err")"
	lab_nft "r$n" list table inet regwall >"$dir/relisted" || lab_fail "$name: nft list (reloaded) failed"
	sed -E 's/meta nfproto ipv[46] (.*ip6? saddr )/\1/' "$dir/dump" >"$dir/dump.nodep"
	sed -E 's/meta nfproto ipv[46] (.*ip6? saddr )/\1/' "$dir/relisted" >"$dir/relisted.nodep"
	if ! diff -u "$dir/dump.nodep" "$dir/relisted.nodep" >"$dir/diff2"; then
		cat "$dir/diff2" >&2
		lab_fail "$name: the dump loaded with nft -f lists differently (- dump, + nft)"
	fi

	# the low-level form is still there, behind its own flag
	"$BUILD/regwalld" -c "$conf" --dump-netlink >"$dir/netlink" || lab_fail "$name: --dump-netlink failed"
	grep -q '^  \[ cmp eq reg 1 ' "$dir/netlink" || lab_fail "$name: --dump-netlink prints no expressions"
	grep -q '^table inet regwall flags 0$' "$dir/netlink" || lab_fail "$name: --dump-netlink header"
	lab_log "$name: $(grep -c 'comment "' "$dir/dump") rules, dump == nft list"
done
[ "$n" -ge 7 ] || lab_fail "only $n configs in $confdir"
"$BUILD/regwalld" -c "$confdir/minimal_v4.conf" --dump-rules --dump-netlink >/dev/null 2>&1 &&
	lab_fail "--dump-rules with --dump-netlink accepted (one action only)"
echo "ok: --dump-rules equals nft list table inet regwall for $n configs (and the golden .nft files); the dump loads with nft -f"
