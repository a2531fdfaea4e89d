#!/usr/bin/env bash
# A second regwalld for the same control socket (started by hand, another
# config) must not touch the kernel or bind before it finds the first:
# -f, --apply and --remove-rules all exit non-zero naming the running
# daemon's PID, and the running daemon's table is byte-identical after.
set -u
. "$(dirname "$0")/lib.sh"
lab_require_root
lab_require_build
lab_init
lab_topology
lab_echo_server registry "$LAB_REG_PORT"
lab_conf "$LAB_DIR/a.conf"
lab_daemon "$LAB_DIR/a.conf"
# (no probe before the comparisons: a meter element's "expires" would
# change the listing with time alone)
# a clearly different table: another network and a second listener port
lab_conf "$LAB_DIR/b.conf" nets="office=203.0.113.0/25,2001:db8:1::/64;other=192.0.2.0/24" allow=office,other
sed -i "s/:$LAB_PORT\"/:9443\"/" "$LAB_DIR/b.conf"
lab_exec gw "$BUILD/regwalld" -c "$LAB_DIR/b.conf" -n >/dev/null || lab_fail "b.conf does not load"
lab_nft gw list table inet regwall >"$LAB_DIR/before" || lab_fail "no table"

for args in "-f -s $LAB_DIR/ctl.sock" "-f" "--apply" "--remove-rules -s $LAB_DIR/ctl.sock"; do
	# shellcheck disable=SC2086 # args split on purpose
	out=$(lab_exec gw timeout 10 "$BUILD/regwalld" -c "$LAB_DIR/b.conf" $args 2>&1)
	rc=$?
	[ "$rc" -ne 0 ] || lab_fail "regwalld $args exited 0 while another runs"
	grep -qF "another regwalld (pid $LAB_DAEMON_PID) is already running" <<<"$out" ||
		lab_fail "regwalld $args: no clear message naming pid $LAB_DAEMON_PID: $out"
	lab_log "regwalld $args: exit $rc: $out"
	lab_nft gw list table inet regwall | cmp -s - "$LAB_DIR/before" || {
		lab_nft gw list table inet regwall | diff "$LAB_DIR/before" - >&2
		lab_fail "regwalld $args changed the running daemon's table"
	}
	lab_exec gw ss -ltn | grep -q ':9443 ' && lab_fail "regwalld $args bound the second config's port"
done
grep -q 'guard: table inet regwall changed' "$LAB_DIR/regwalld.log" &&
	lab_fail "the running daemon had to restore its table"
lab_ctl status >/dev/null || lab_fail "the running daemon's status fails"
lab_expect_probe ok office "$LAB_GW4"
# The lock dies with its holder: after a stop, --apply works again.
lab_stop "$LAB_DAEMON_PID"
lab_apply "$LAB_DIR/b.conf"
lab_nft gw list set inet regwall net_other_v4 >/dev/null || lab_fail "--apply after the stop did not apply"
echo "ok: a second regwalld (-f, --apply, --remove-rules) is refused before it touches the kernel"
