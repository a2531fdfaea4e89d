#!/usr/bin/env bash
# Live changes made with regwallctl survive a restart of regwalld (they are
# saved to control.state and replayed on top of the config file), a
# live deletion included; a corrupt state file stops the start instead of
# silently re-opening what an admin closed.
set -u
. "$(dirname "$0")/lib.sh"
lab_require_root
lab_require_build
lab_init
lab_topology

conf="$LAB_DIR/regwall.conf"
lab_conf "$conf"
lab_daemon "$conf"
lab_ctl network add office 192.0.2.0/28 >/dev/null || lab_fail "network add refused"
lab_ctl network del office 203.0.113.0/25 >/dev/null || lab_fail "network del refused"
[ -s "$LAB_DIR/live.json" ] || lab_fail "no state file written"
grep -q '"192.0.2.0/28"' "$LAB_DIR/live.json" || lab_fail "state file misses the addition"
lab_stop "$LAB_DAEMON_PID" TERM

lab_daemon "$conf"
list=$(lab_ctl network list office) || lab_fail "network list failed"
echo "$list" | grep -qxF "192.0.2.0/28  (live)" || lab_fail "live addition lost (or not marked live) on restart: $list"
echo "$list" | grep -qxF 203.0.113.0/25 && lab_fail "live deletion undone on restart: $list"
lab_nft gw list set inet regwall net_office_v4 | grep -qF 203.0.113.0/25 &&
	lab_fail "203.0.113.0/25 back in the kernel after restart"
lab_log "restart kept the live changes: $(echo "$list" | tr '\n' ' ')"
lab_stop "$LAB_DAEMON_PID" TERM

# --apply replays them too (the same table a daemon would load)
lab_apply "$conf"
lab_nft gw list set inet regwall net_office_v4 | grep -qF 192.0.2.0/28 ||
	lab_fail "--apply did not include the live addition"

echo '{"version":1,"changes":[{"op":"add"' >"$LAB_DIR/live.json"
before=$(lab_nft gw list table inet regwall | sed -E 's/counter packets [0-9]+ bytes [0-9]+//')
if lab_exec gw "$BUILD/regwalld" -c "$conf" --apply 2>"$LAB_DIR/apply.err"; then
	lab_fail "a corrupt state file was accepted"
fi
grep -q "live.json" "$LAB_DIR/apply.err" || lab_fail "the error does not name the state file: $(cat "$LAB_DIR/apply.err")"
after=$(lab_nft gw list table inet regwall | sed -E 's/counter packets [0-9]+ bytes [0-9]+//')
[ "$before" = "$after" ] || lab_fail "the table changed although the start was refused"
lab_log "corrupt state refused: $(head -1 "$LAB_DIR/apply.err")"
echo "ok: live changes persist across restarts; corrupt state fails closed"
