#!/usr/bin/env bash
# What a new admin reads from regwallctl (issue 8.2, 8.4), on real
# nftables: `network list` without a name lists every network and marks
# the prefixes added live; a reload says what changed; counters carry
# over reloads (since start = sum, since reload = new part); bans carry a
# reason and an origin, cover prefixes, and keep both across a reload and
# a restart.
set -u
. "$(dirname "$0")/lib.sh"
lab_require_root
lab_require_build
lab_init
lab_topology

conf="$LAB_DIR/regwall.conf"
lab_conf "$conf" nets='office=203.0.113.0/25,2001:db8:1::/64;ci=198.51.100.128/26'
lab_daemon "$conf"

# --- network list: all networks, file and live prefixes marked -----------
lab_ctl network add office 192.0.2.0/28 >/dev/null || lab_fail "network add refused"
all=$(lab_ctl network list) || lab_fail "network list (all) failed"
lab_log "network list: $(echo "$all" | tr '\n' '|')"
want=$'office:\n  203.0.113.0/25\n  2001:db8:1::/64\n  192.0.2.0/28  (live)\nci:\n  198.51.100.128/26'
[ "$all" = "$want" ] || lab_fail "network list (all) is '$all', want '$want'"
one=$(lab_ctl network list office) || lab_fail "network list office failed"
[ "$one" = $'203.0.113.0/25\n2001:db8:1::/64\n192.0.2.0/28  (live)' ] ||
	lab_fail "network list office is '$one'"
js=$(lab_ctl --json network list) || lab_fail "network list --json failed"
grep -qF '"office":[{"cidr":"203.0.113.0/25","source":"file"},{"cidr":"2001:db8:1::/64","source":"file"},{"cidr":"192.0.2.0/28","source":"live"}]' <<<"$js" ||
	lab_fail "network list --json: $js"
grep -qF '"ci":[{"cidr":"198.51.100.128/26","source":"file"}]' <<<"$js" || lab_fail "ci missing: $js"
lab_ctl network list nosuch >/dev/null 2>&1 && lab_fail "network list of an unknown network succeeded"

# --- counters carried over reloads, live changes and restores ---------
# "https allow office" counts one packet per connection from office (the
# SYN; the rest is established), so the numbers are exact.
ctr() { # ctr FIELD: FIELD of "https allow office" (packets, reload_packets)
	lab_ctl -j counters | jq -r --arg f "$1" '.counters[] | select(.chain=="input" and .rule=="https allow office") | .[$f]'
}
kernel_ctr() { lab_counter gw 'https allow office'; }
connect() { # connect N: N connections from office
	local i
	for ((i = 0; i < $1; i++)); do lab_probe office "$LAB_GW4" "$LAB_PORT" 1 >/dev/null; done
}
expect_ctr() { # expect_ctr SINCE_START SINCE_RELOAD WHEN
	local a b
	a=$(ctr packets)
	b=$(ctr reload_packets)
	[ "$a" = "$1" ] && [ "$b" = "$2" ] ||
		lab_fail "$3: counters since start/reload are $a/$b, want $1/$2"
	lab_log "$3: since start $a, since reload $b (kernel: $(kernel_ctr))"
}
connect 3
expect_ctr 3 3 "3 connections"
# --- a reload says what changed ---------------------------------------
lab_conf "$conf" nets='office=203.0.113.0/25,2001:db8:1::/64,192.0.2.64/28;ci=198.51.100.128/26;lab2=198.51.100.224/28'
lab_ctl reload >"$LAB_DIR/reload1.out" 2>&1 || lab_fail "reload failed: $(cat "$LAB_DIR/reload1.out")"
lab_log "reload: $(tr '\n' '|' <"$LAB_DIR/reload1.out")"
[ "$(grep -v "^warning: " "$LAB_DIR/reload1.out")" = $'reloaded: generation 2\n  network office: +1 -0 prefix\n  network added: lab2 (1 prefix)' ] ||
	lab_fail "reload output: $(cat "$LAB_DIR/reload1.out")"
grep -qF 'regwalld: reload: generation 2: network office: +1 -0 prefix; network added: lab2 (1 prefix)' "$LAB_DIR/regwalld.log" ||
	lab_fail "regwalld did not log the reload's changes: $(grep reload "$LAB_DIR/regwalld.log")"
# the live addition stays live (now in the kernel's net_ set)
lab_ctl network list office | grep -qxF "192.0.2.0/28  (live)" ||
	lab_fail "the live prefix lost its mark at the reload: $(lab_ctl network list office)"
js=$(lab_ctl -j reload) || lab_fail "second reload failed"
[ "$(jq -c '[.generation, .changes.summary]' <<<"$js")" = '[3,["nothing changed"]]' ] ||
	lab_fail "an unchanged reload answers $js"
[ "$(kernel_ctr)" = 0 ] || lab_fail "the kernel's counter did not restart at the reload"
expect_ctr 3 0 "after a reload"
connect 2
expect_ctr 5 2 "2 more connections"
lab_ctl network add ci 198.51.100.192/28 >/dev/null || lab_fail "network add ci refused"
expect_ctr 5 2 "after a live change"
# a foreign change: the guard restores the table, carrying the counts
restores() { lab_ctl -j status | jq -r '.table_restores'; }
r0=$(restores)
lab_nft gw flush chain inet regwall early
lab_wait_for 10 eval '[ "$(restores)" -gt "$r0" ]' || lab_fail "the guard did not restore"
lab_wait_for 5 eval 'lab_ctl status >/dev/null' || lab_fail "status not ok after the restore"
expect_ctr 5 2 "after a guard restore"
connect 1
expect_ctr 6 3 "1 more connection"
lab_ctl counters >"$LAB_DIR/counters.txt" || lab_fail "counters failed"
lab_log "counters: $(grep 'https allow office' "$LAB_DIR/counters.txt")"
grep -qE '^input +https allow office +6 +[0-9]+ +3 +[0-9]+$' "$LAB_DIR/counters.txt" ||
	lab_fail "counters text: $(cat "$LAB_DIR/counters.txt")"
head -1 "$LAB_DIR/counters.txt" | grep -q 'since start.*since reload' ||
	lab_fail "counters text has no since start / since reload heading"

# --- bans with a reason, kept in the kernel ---------------------------
out=$(lab_ctl ban add "$LAB_OUTSIDE4" 10m --reason "scanner from outside") || lab_fail "ban add --reason failed: $out"
[ "$out" = "banned: $LAB_OUTSIDE4/32 for 10m: scanner from outside" ] || lab_fail "ban add says '$out'"
lab_ctl ban add "$LAB_OUTSIDE4B" 5m >/dev/null || lab_fail "ban add without a reason failed"
lab_nft gw list set inet regwall ban_v4 | grep -qE "$LAB_OUTSIDE4 expires [0-9]+m[0-9]+s[0-9]*m?s? comment" ||
	lab_fail "no timeout in the kernel: $(lab_nft gw list set inet regwall ban_v4)"
lab_nft gw list set inet regwall ban_v4 | grep -qF 'comment "scanner from outside"' ||
	lab_fail "nft list set does not show the reason: $(lab_nft gw list set inet regwall ban_v4)"
banline() { lab_ctl ban list | grep -F "$1/32"; }
expect_ban() { # expect_ban ADDR REGEX WHEN
	local l
	l=$(banline "$1") || lab_fail "$3: $1 not in ban list: $(lab_ctl ban list)"
	[[ $l =~ $2 ]] || lab_fail "$3: ban list line '$l' does not match /$2/"
	lab_log "$3: $l"
}
expect_ban "$LAB_OUTSIDE4" 'expires in [0-9.]+s +manual: scanner from outside$' "after ban add"
expect_ban "$LAB_OUTSIDE4B" 'expires in [0-9.]+s +manual$' "without a reason"
[ "$(lab_ctl -j ban list | jq -c --arg a "$LAB_OUTSIDE4/32" '.bans[] | select(.cidr==$a) | [.origin, .reason]')" = '["manual","scanner from outside"]' ] ||
	lab_fail "ban list --json: $(lab_ctl -j ban list)"
# refused: a quote, a control character, too long; nothing banned then
for bad in 'say "hi"' $'tab\there' "$(printf 'x%.0s' {1..65})"; do
	out=$(lab_ctl ban add 203.0.113.142 --reason "$bad" 2>&1) && lab_fail "reason '$bad' accepted"
	grep -qF '"reason" must be 1..64 printable ASCII characters' <<<"$out" || lab_fail "reason refusal says: $out"
done
lab_ctl ban list | grep -qF 203.0.113.142 && lab_fail "a refused ban reached the kernel"
# kept across a reload, a restore after the table was deleted, a restart
lab_ctl reload >/dev/null || lab_fail "reload failed"
expect_ban "$LAB_OUTSIDE4" 'manual: scanner from outside$' "after a reload"
r0=$(restores)
lab_nft gw delete table inet regwall
lab_wait_for 10 eval '[ "$(restores)" -gt "$r0" ]' || lab_fail "the guard did not restore the deleted table"
expect_ban "$LAB_OUTSIDE4" 'manual: scanner from outside$' "after the guard restored a deleted table"
lab_stop "$LAB_DAEMON_PID" TERM
lab_daemon "$conf"
expect_ban "$LAB_OUTSIDE4" 'manual: scanner from outside$' "after a restart"
lab_expect_dropped outside "$LAB_GW4" "$LAB_PORT" 1 "$LAB_OUTSIDE4"
# a re-ban restarts the time and takes the new reason
lab_ctl ban add "$LAB_OUTSIDE4" 20m --reason "still scanning" >/dev/null || lab_fail "re-ban failed"
expect_ban "$LAB_OUTSIDE4" 'expires in 1[12][0-9][0-9]\.[0-9]s +manual: still scanning$' "after a re-ban"

echo "ok: regwallctl admin views"
