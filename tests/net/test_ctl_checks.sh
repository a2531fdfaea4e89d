#!/usr/bin/env bash
# Control-plane input checks, against a running regwalld on real nftables:
# - IPv4-mapped IPv6 addresses are refused (ban, live network add) with
#   the IPv4 form to write: the kernel sees those clients as IPv4, so they
#   would silently match nothing;
# - a ban that would cut the appliance off (the registry upstream, the
#   gateway's own addresses, loopback, unspecified, multicast, broadcast)
#   is refused and nothing reaches the kernel's ban sets;
# - a ban timeout outside the config's ban_for range (1s..30d) is refused;
# - ban add / ban del say what they did;
# - a request line over 64 KiB gets a JSON error, not a connection reset,
#   also while the client is still writing the line.
set -u
. "$(dirname "$0")/lib.sh"
lab_require_root
lab_require_build
lab_init
lab_topology
lab_echo_server registry "$LAB_REG_PORT"
lab_conf "$LAB_DIR/a.conf"
lab_daemon "$LAB_DIR/a.conf"
lab_expect_probe ok office "$LAB_GW4"

# ctl_refused WANT ARGS...: regwallctl must fail and say WANT on stderr.
ctl_refused() {
	local want=$1 out args
	shift
	args="$*"
	[ "${#args}" -gt 80 ] && args="${args:0:80}... ($# arguments)"
	if out=$(lab_ctl "$@" 2>&1); then
		lab_fail "regwallctl $args was accepted: $out"
	fi
	[[ $out == *"$want"* ]] || lab_fail "regwallctl $args: want '$want', got: $out"
	lab_log "regwallctl $args: refused: $out"
}

bans_empty() {
	local s
	for s in ban_v4 ban_v6; do
		lab_nft gw list set inet regwall "$s" | grep -q 'elements' &&
			lab_fail "set $s is not empty: $(lab_nft gw list set inet regwall "$s" | tr '\n' ' ')"
	done
	[ -z "$(lab_ctl ban list)" ] || lab_fail "ban list not empty: $(lab_ctl ban list)"
}

# 1. IPv4-mapped IPv6 addresses.
ctl_refused "::ffff:203.0.113.11: an IPv4-mapped IPv6 address never matches (the kernel sees IPv4); write 203.0.113.11" \
	ban add ::ffff:203.0.113.11 10m
ctl_refused "write 192.0.2.0/24" network add office ::ffff:192.0.2.0/120
lab_ctl network list office | grep -qi 'ffff' && lab_fail "a mapped prefix reached network office"
bans_empty

# 2. Bans that would cut the appliance off, or can never match a client.
ctl_refused "covers the registry upstream 198.51.100.10/32" ban add "$LAB_REG4" 2m
ctl_refused "an address of this host (off0)" ban add "$LAB_GW4"
ctl_refused "an address of this host (reg0)" ban add 198.51.100.1
ctl_refused "an address of this host (off0)" ban add "$LAB_GW6"
ctl_refused "unspecified" ban add 0.0.0.0
ctl_refused "unspecified" ban add ::
ctl_refused "loopback" ban add 127.0.0.1
ctl_refused "loopback" ban add ::1
ctl_refused "multicast" ban add 224.0.0.1
ctl_refused "multicast" ban add ff02::1
ctl_refused "broadcast" ban add 255.255.255.255
bans_empty
# the upstream still answers through the appliance
lab_expect_probe ok office "$LAB_GW4"
# an address this host gains later is covered too (read at each ban)
lab_exec gw ip addr add 192.0.2.77/32 dev lo || lab_fail "add 192.0.2.77 to gw's lo"
ctl_refused "covers 192.0.2.77/32, an address of this host (lo)" ban add 192.0.2.77

# 3. Ban timeouts: the config's ban_for range.
ctl_refused "\"timeout\" 31d: must be between 1s and 30d" ban add "$LAB_OUTSIDE4" 31d
ctl_refused "must be between 1s and 30d" ban add "$LAB_OUTSIDE4" 100000d
ctl_refused "must be between 1s and 30d" ban add "$LAB_OUTSIDE4" 500ms
bans_empty

# 4. ban add / ban del say what they did.
out=$(lab_ctl ban add "$LAB_OUTSIDE4" 30d) || lab_fail "ban add 30d failed: $out"
[ "$out" = "banned: $LAB_OUTSIDE4/32 for 30d" ] || lab_fail "ban add printed '$out'"
out=$(lab_ctl ban add "$LAB_OUTSIDE6") || lab_fail "ban add (default time) failed: $out"
[ "$out" = "banned: $LAB_OUTSIDE6/128 for 10m" ] || lab_fail "ban add printed '$out'"
lab_nft gw list set inet regwall ban_v4 | grep -qF "$LAB_OUTSIDE4" ||
	lab_fail "$LAB_OUTSIDE4 not in ban_v4"
out=$(lab_ctl ban del "$LAB_OUTSIDE4") || lab_fail "ban del failed: $out"
[ "$out" = "unbanned: $LAB_OUTSIDE4/32" ] || lab_fail "ban del printed '$out'"
out=$(lab_ctl ban del "$LAB_OUTSIDE6") || lab_fail "ban del failed: $out"
[ "$out" = "unbanned: $LAB_OUTSIDE6/128" ] || lab_fail "ban del printed '$out'"
bans_empty

# 5. A request line over the 64 KiB limit: a JSON error, then the end of
# the connection; the daemon keeps serving. First through regwallctl
# (4000 prefixes make a line of about 100 KB), then raw, with a line of
# 4 MiB so that the client is still writing when the answer comes.
mapfile -t many < <(for i in $(seq 1 4000); do printf '2001:db8:1:ffff::%x/128\n' "$i"; done)
ctl_refused "request line longer than 65536 bytes" network add office "${many[@]}"
cat >"$LAB_DIR/longline.py" <<'EOF'
import socket, sys
path, size = sys.argv[1], int(sys.argv[2])
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.settimeout(30)
s.connect(path)
line = b'{"cmd":"status","pad":"' + b"x" * size + b'"}\n'
try:
    s.sendall(line)
    sent = "all"
except OSError as e:
    sent = "error:" + type(e).__name__
data = b""
while True:
    try:
        chunk = s.recv(4096)
    except OSError as e:
        print("recv:" + type(e).__name__, sent, data.decode(errors="replace"))
        sys.exit(0)
    if not chunk:
        break
    data += chunk
print("eof", sent, data.decode(errors="replace").strip())
EOF
want='{"ok":false,"error":"request line longer than 65536 bytes"}'
for size in 70000 4194304; do
	out=$(lab_exec gw python3 "$LAB_DIR/longline.py" "$LAB_DIR/ctl.sock" "$size") ||
		lab_fail "long line client failed: $out"
	lab_log "line of $size bytes: $out"
	[ "$out" = "eof all $want" ] || lab_fail "line of $size bytes: want 'eof all $want', got '$out'"
done
lab_ctl status | grep -q '^config:' || lab_fail "regwalld stopped answering after the long lines"
kill -0 "$LAB_DAEMON_PID" || lab_fail "regwalld died"

lab_stop "$LAB_DAEMON_PID"
echo "ok: mapped addresses, self-cutting bans, ban timeouts refused; ban replies; overlong line answered"
