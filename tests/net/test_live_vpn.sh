#!/usr/bin/env bash
# A VPN peer's tunnel address never gets into a named network at run time:
# the data path takes any source inside a peer's addresses for the peer
# (its roles, push_requires_vpn satisfied), so the config loader refuses
# such a network, and so must `regwallctl network add` and the replay of
# the live-changes file at start and at reload. Each refusal changes
# nothing in the kernel and nothing in the state file.
set -u
. "$(dirname "$0")/lib.sh"
lab_require_root
lab_require_build
lab_init
lab_topology

conf="$LAB_DIR/regwall.conf"
state="$LAB_DIR/live.json"
head -c 32 /dev/urandom | base64 >"$LAB_DIR/wg.key" || lab_fail "cannot write a WireGuard key"
chmod 0600 "$LAB_DIR/wg.key"

# lab_conf has no vpn knob: append the section (the interface need not
# exist; the rules only match its name). PEERS is the peers list.
write_conf() {
	lab_conf "$conf" allow=office,vpn
	cat >>"$conf" <<EOF
vpn = {
    interface = "w${LAB_SUFFIX:0:14}";
    address = "192.0.2.1/24";
    private_key_file = "$LAB_DIR/wg.key";
    peers = ( $1 );
};
EOF
}
key() { head -c 32 /dev/urandom | base64; }
alice="{ name = \"alice\"; public_key = \"$(key)\"; address = \"192.0.2.2/32\"; }"
bob="{ name = \"bob\"; public_key = \"$(key)\"; address = \"192.0.2.64/27\"; }"
carol="{ name = \"carol\"; public_key = \"$(key)\"; address = \"192.0.2.3/32\"; }"

# The whole table without counters (they move with any stray packet).
table() { lab_nft gw list table inet regwall | sed -E 's/counter packets [0-9]+ bytes [0-9]+//'; }
sets() {
	local s
	for s in net_office_v4 net_office_v6 live_office_v4 live_office_v6; do
		lab_nft gw list set inet regwall "$s" | sed -n '/elements/,/}/p'
	done
}

write_conf "$alice, $bob"
lab_daemon "$conf"
lab_nft gw list set inet regwall vpn_v4 | grep -qF 192.0.2.2 || lab_fail "alice's address not in vpn_v4"
before=$(sets)

# --- live add: refused, naming the peer and both prefixes ---------------
expect_refused() { # PEER PEER_ADDR PREFIX... (the offending prefix first)
	local peer=$1 paddr=$2 out
	shift 2
	if out=$(lab_ctl network add office "$@" 2>&1); then
		lab_fail "network add office $* accepted although $1 overlaps peer $peer ($paddr)"
	fi
	for want in "$peer" "$paddr" "$1" "VPN peer"; do
		grep -qF -- "$want" <<<"$out" || lab_fail "refusal of $1 does not name '$want': $out"
	done
	lab_log "refused: $out"
}
expect_refused alice 192.0.2.2/32 192.0.2.0/24
expect_refused alice 192.0.2.2/32 192.0.2.2/32
expect_refused bob 192.0.2.64/27 192.0.2.80/32
# one bad prefix refuses the whole request: the good one is not added either
expect_refused bob 192.0.2.64/27 192.0.2.64/26 203.0.113.200/32
[ "$(sets)" = "$before" ] || lab_fail "office's sets changed although every add was refused:
$(sets)"
[ -e "$state" ] && lab_fail "a refused add wrote the state file: $(cat "$state")"
lab_log "office's sets unchanged, no state file"

# the check is exact: the address next to alice's is not hers
lab_ctl network add office 192.0.2.3/32 >/dev/null || lab_fail "192.0.2.3/32 (no peer's) refused"
lab_nft gw list set inet regwall live_office_v4 | grep -qF 192.0.2.3 ||
	lab_fail "192.0.2.3/32 not in live_office_v4 after the add"
grep -qF '"192.0.2.3/32"' "$state" || lab_fail "state file misses 192.0.2.3/32"
lab_stop "$LAB_DAEMON_PID" TERM

# --- replay at start: an overlapping saved addition stops the start -------
cat >"$state" <<'EOF'
{"version":1,"changes":[
 {"op":"add","network":"office","cidr":"192.0.2.3/32"},
 {"op":"add","network":"office","cidr":"192.0.2.0/30"}]}
EOF
before=$(table)
log="$LAB_DIR/start.err"
lab_bg gw "$BUILD/regwalld" -c "$conf" -f -s "$LAB_DIR/ctl.sock" 2>"$log" >/dev/null
pid=$LAB_LAST_PID
lab_wait_for 60 bash -c "! kill -0 $pid 2>/dev/null || grep -q 'regwalld: ready' '$log'"
grep -q "regwalld: ready" "$log" && lab_fail "regwalld started with a saved addition overlapping alice: $(cat "$log")"
rc=0
wait "$pid" || rc=$?
[ "$rc" -eq 1 ] || lab_fail "regwalld exited $rc, want 1: $(cat "$log")"
for want in "$state" "change #2" "192.0.2.0/30" alice 192.0.2.2/32 "remove that change"; do
	grep -qF -- "$want" "$log" || lab_fail "the start error does not say '$want': $(cat "$log")"
done
[ "$(table)" = "$before" ] || lab_fail "the table changed although the start was refused"
lab_log "start refused: $(grep -F 'change #2' "$log")"
# --apply loads the same way
if lab_exec gw "$BUILD/regwalld" -c "$conf" --apply 2>"$log"; then
	lab_fail "--apply accepted the overlapping saved addition"
fi
grep -qF "change #2" "$log" || lab_fail "--apply error does not name the change: $(cat "$log")"
[ "$(table)" = "$before" ] || lab_fail "the table changed although --apply was refused"

# --- replay at reload: a new peer over a live addition fails the reload ---
printf '%s\n' '{"version":1,"changes":[{"op":"add","network":"office","cidr":"192.0.2.3/32"}]}' >"$state"
lab_daemon "$conf"
cp "$state" "$LAB_DIR/state.before"
before=$(table)
write_conf "$alice, $bob, $carol"
if out=$(lab_ctl reload 2>&1); then
	lab_fail "reload accepted carol's 192.0.2.3/32 over the live addition: $out"
fi
for want in "old policy kept" "network add office 192.0.2.3/32" carol 192.0.2.3/32 "regwallctl network del office 192.0.2.3/32"; do
	grep -qF -- "$want" <<<"$out" || lab_fail "the reload error does not say '$want': $out"
done
lab_log "reload refused: $out"
[ "$(table)" = "$before" ] || lab_fail "the table changed although the reload was refused"
cmp -s "$state" "$LAB_DIR/state.before" || lab_fail "a refused reload changed the state file"
lab_ctl network list office | grep -qxF "192.0.2.3/32  (live)" || lab_fail "the live addition was lost"
lab_ctl status | grep -q '^reload_failures: 1$' || lab_fail "reload failure not counted: $(lab_ctl status)"

# the way out the message gives works: undo the addition, then reload
lab_ctl network del office 192.0.2.3/32 >/dev/null || lab_fail "network del 192.0.2.3/32 refused"
out=$(lab_ctl reload 2>&1) || lab_fail "reload after the del still refused: $out"
lab_nft gw list set inet regwall vpn_v4 | grep -qF 192.0.2.3 || lab_fail "carol's address not in vpn_v4 after the reload"
sets | grep -qF 192.0.2.3 && lab_fail "192.0.2.3 still in an office set"
echo "ok: live adds and replays over a VPN peer's address are refused; nothing changes"
