#!/usr/bin/env bash
# regwall owns only table inet regwall: other tables in the same namespace
# are byte-identical (nft list table) after --apply, a daemon start, a
# SIGHUP reload, a daemon stop and --remove-rules.
# The gateway namespace has no links here, so no packet bumps a counter.
set -u
. "$(dirname "$0")/lib.sh"
lab_require_root
lab_require_build
lab_init
lab_ns gw

lab_nft gw -f - <<'NFT' || lab_fail "cannot create the foreign tables"
table inet other {
	set keep {
		type ipv4_addr
		flags interval
		elements = { 192.0.2.0/24 }
	}
	chain c {
		type filter hook input priority 10; policy accept;
		counter
	}
}
table ip nat {
	chain postrouting {
		type nat hook postrouting priority srcnat; policy accept;
		oifname "eth9" masquerade
	}
}
NFT
snap() { { lab_nft gw list table inet other && lab_nft gw list table ip nat; } >"$LAB_DIR/$1"; }
check() {
	snap after
	cmp -s "$LAB_DIR/before" "$LAB_DIR/after" || {
		diff "$LAB_DIR/before" "$LAB_DIR/after" >&2
		lab_fail "foreign tables changed by: $1"
	}
	lab_log "foreign tables unchanged after $1"
}
snap before

conf="$LAB_DIR/regwall.conf"
lab_conf "$conf"
lab_apply "$conf"
lab_nft gw list table inet regwall >/dev/null || lab_fail "no regwall table"
check "--apply"
lab_apply "$conf"
check "second --apply"

lab_daemon "$conf"
check "daemon start"
lab_conf "$conf" nets="office=203.0.113.0/25;lab=192.0.2.0/24"
kill -HUP "$LAB_DAEMON_PID"
lab_wait_for 5 lab_nft gw list set inet regwall net_lab_v4 || lab_fail "reload did not happen"
check "SIGHUP reload"
lab_ctl network add lab 198.51.100.0/24 >/dev/null || lab_fail "network add failed"
check "regwallctl network add"
lab_stop "$LAB_DAEMON_PID"
check "daemon stop"

lab_exec gw "$BUILD/regwalld" --remove-rules || lab_fail "--remove-rules failed"
lab_nft gw list table inet regwall >/dev/null 2>&1 && lab_fail "regwall table still there"
check "--remove-rules"
lab_nft gw list tables | sort >"$LAB_DIR/tables"
printf 'table inet other\ntable ip nat\n' | sort | cmp -s - "$LAB_DIR/tables" ||
	lab_fail "unexpected table list: $(cat "$LAB_DIR/tables")"
echo "ok: foreign tables untouched"
