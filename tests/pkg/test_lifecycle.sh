#!/usr/bin/env bash
# The package's life in a clean Debian bookworm root (mmdebstrap, variant
# apt): apt installs it with its dependencies from Debian's archive, it is
# upgraded to a second version while regwalld runs, then purged; the root's
# file list afterwards is the one from before (no stray file).
#
# Everything after the download (apt then finds all it needs in its
# cache: the namespace has no network) runs in namespaces of its own (mount, net,
# pid): the maintainer scripts and the packaged regwalld see a network
# namespace with only loopback, never the host's nftables, and every
# process the test started dies with the namespace's pid 1.
#
# systemd is not running in the root; /run/systemd/system exists and
# tests/pkg/fake-systemctl stands in for systemctl (/usr/bin/systemctl), so the maintainer
# scripts take their systemd branches (deb-systemd-invoke start, restart,
# stop) and the stand-in does for regwalld.service what the unit says.
# `nft monitor` records every nftables transaction in the namespace, so
# "table inet regwall was never absent from the moment regwalld first
# started until the purge" is checked at every commit the kernel made,
# not by polling.
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

if [ "${1:-}" = --inside ]; then
	root=$2 work=$3 v1=$4 v2=$5
	fail() {
		echo "FAIL: $*"
		echo "--- fake systemctl log"; cat "$root/run/fake-systemctl.log" 2>/dev/null || true
		echo "--- regwalld output"; tail -n 30 "$root/run/regwalld.out" 2>/dev/null || true
		exit 1
	}
	step() { echo "== $*"; }
	in_root() {
		chroot "$root" /usr/bin/env -i HOME=/root DEBIAN_FRONTEND=noninteractive \
			PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin "$@"
	}
	# The file list (path, mode, owner) of the root but for the kernel's
	# and the package manager's own (dpkg's database, apt's lists, cache and
	# logs) and for the backups shadow's tools write on every account
	# change (/etc/passwd- ...); the account files themselves by content.
	snap() {
		(cd "$root" && find . -xdev \( -path ./proc -o -path ./dev -o -path ./run \
			-o -path ./tmp -o -path ./var/lib/dpkg -o -path ./var/lib/apt \
			-o -path ./var/cache/apt -o -path ./var/cache/debconf \
			-o -path ./var/cache/ldconfig -o -path ./var/log/apt \
			-o -path ./var/log/dpkg.log -o -path ./var/log/alternatives.log \) -prune \
			-o -printf '%p %M %U:%G\n' | grep -Ev '^\./etc/(passwd|group|shadow|gshadow)- ' | sort
		 sha256sum etc/passwd etc/group etc/shadow etc/gshadow) >"$1"
	}
	daemon_pid() { cat "$root/run/fake-regwalld.pid" 2>/dev/null || true; }
	alive() { [ -n "$1" ] && [ -d "$root/proc/$1" ]; }
	has_table() { nft list table inet regwall >/dev/null 2>&1; }
	# generations (committed transactions) after line $1 of the monitor's
	# log at whose end table inet regwall did not exist; the table exists
	# at line $1
	gaps() {
		awk -v from="$1" 'NR > from {
			if ($0 == "add table inet regwall") p = 1
			else if ($0 == "delete table inet regwall") p = 0
			else if ($0 ~ /^# new generation/ && !p) print
		} BEGIN { p = 1 }' "$work/monitor.log"
	}
	mon_lines() { sleep 0.3; wc -l <"$work/monitor.log"; }
	syslog_from() { tail -n +"$(($1 + 1))" "$root/run/fake-systemctl.log"; }
	syslog_len() { wc -l <"$root/run/fake-systemctl.log" 2>/dev/null || echo 0; }

	mount -t proc proc "$root/proc"
	mount --rbind /dev "$root/dev"
	mount -t tmpfs -o mode=0755 tmpfs "$root/run"
	mkdir -p "$root/run/systemd/system" "$root/run/lock"
	: >"$root/run/fake-systemctl.log"
	ip link set lo up
	stdbuf -oL nft monitor >"$work/monitor.log" 2>&1 &
	sleep 0.3
	snap "$work/before"

	step "install $v1 with apt (its dependencies from the archive)"
	in_root apt-get install -y -q --no-install-recommends \
		"/root/pkgtest/regwall_${v1}.deb" || fail "apt-get install"
	[ "$(in_root dpkg-query -W -f '${Status} ${Version}' regwall)" = "install ok installed $v1" ] ||
		fail "regwall $v1 not installed"
	grep -q '^ /etc/regwall/regwall.conf ' <<<"$(in_root dpkg-query -W -f '${Conffiles}\n' regwall)" ||
		fail "/etc/regwall/regwall.conf is not a conffile"
	pw=$(in_root getent passwd regwall) || fail "no user regwall"
	IFS=: read -r _ _ ruid rgid _ home shell <<<"$pw"
	[ "$ruid" -lt 1000 ] && [ "$shell" = /usr/sbin/nologin ] && [ "$home" = /nonexistent ] ||
		fail "regwall is not a system user without login: $pw"
	in_root getent group regwall >/dev/null || fail "no group regwall"
	[ "$(stat -c '%a %U' "$root/var/lib/regwall" "$root/var/log/regwall" | sort -u)" = "750 root" ] ||
		fail "state/log directories not 0750 root"
	grep -qx 'systemctl --quiet --system start regwalld.service' "$root/run/fake-systemctl.log" ||
		fail "postinst did not start regwalld.service"
	p1=$(daemon_pid)
	alive "$p1" || fail "regwalld is not running after the install"
	in_root regwallctl status >/dev/null || fail "regwallctl status"
	has_table || fail "no table inet regwall after the start"
	grep -q 'comment "closed not_allowed"' <<<"$(nft list table inet regwall)" ||
		fail "the default config's listener is not in the table"
	workers=0
	for s in "$root"/proc/[0-9]*/status; do
		if grep -qx "PPid:	$p1" "$s" 2>/dev/null; then
			grep -q "^Uid:	$ruid	" "$s" || fail "a worker of regwalld is not user regwall: $s"
			workers=$((workers + 1))
		fi
	done
	[ "$workers" -gt 0 ] || fail "regwalld started no worker"
	echo "regwalld $p1 serves with the packaged config: table loaded, $workers worker(s) as uid $ruid"
	grep -qx 'add table inet regwall' "$work/monitor.log" || fail "nft monitor saw no table (monitor broken?)"

	step "an admin's edit and run-time state before the upgrade"
	echo '# local edit (test_lifecycle)' >>"$root/etc/regwall/regwall.conf"
	in_root regwallctl network add nobody 192.0.2.77/32 >/dev/null || fail "regwallctl network add"
	[ -s "$root/var/lib/regwall/live.json" ] || fail "no /var/lib/regwall/live.json"
	echo '{}' >"$root/var/log/regwall/blocked.jsonl" # what log.blocked would write
	mark=$(mon_lines)
	slog=$(syslog_len)

	step "upgrade to $v2 while regwalld runs"
	in_root apt-get install -y -q "/root/pkgtest/regwall_${v2}.deb" || fail "upgrade"
	[ "$(in_root dpkg-query -W -f '${Version}' regwall)" = "$v2" ] || fail "$v2 not installed"
	after=$(mon_lines)
	g=$(gaps "$mark")
	[ -z "$g" ] || fail "table inet regwall was absent after: $g"
	n=$(tail -n +"$((mark + 1))" "$work/monitor.log" | grep -c '^# new generation .*(regwalld)' || true)
	[ "$n" -ge 1 ] || fail "nft monitor saw no transaction of the restarted regwalld"
	echo "table inet regwall present at the end of every one of the $n transaction(s) of the upgrade and restart (monitor lines $mark..$after)"
	echo "systemctl calls during the upgrade:"
	syslog_from "$slog" | sed 's/^/  /'
	grep -qx 'systemctl --quiet --system restart regwalld.service' <<<"$(syslog_from "$slog")" ||
		fail "the upgrade did not restart regwalld.service"
	! grep -q ' stop ' <<<"$(syslog_from "$slog")" || fail "the upgrade stopped regwalld.service"
	p2=$(daemon_pid)
	alive "$p2" && [ "$p2" != "$p1" ] || fail "regwalld was not restarted (pid $p1 -> $p2)"
	! alive "$p1" || fail "the old regwalld $p1 still runs"
	in_root regwallctl status >/dev/null || fail "regwallctl status after the upgrade"
	grep -qx '# local edit (test_lifecycle)' "$root/etc/regwall/regwall.conf" ||
		fail "the upgrade lost the admin's edit of the conffile"
	grep -q '192.0.2.77' <<<"$(nft list table inet regwall)" || fail "the live network change was lost"

	step "purge"
	slog=$(syslog_len)
	in_root apt-get purge -y -q regwall || fail "purge"
	grep -q ' stop regwalld.service$' <<<"$(syslog_from "$slog")" ||
		fail "the removal did not stop regwalld.service"
	! alive "$p2" || fail "regwalld still runs after the purge"
	! has_table || fail "table inet regwall is still loaded after the removal"
	! in_root getent passwd regwall >/dev/null || fail "user regwall left after the purge"
	! in_root getent group regwall >/dev/null || fail "group regwall left after the purge"
	in_root apt-get autoremove --purge -y -q || fail "autoremove"
	snap "$work/after"
	if ! diff -u "$work/before" "$work/after"; then
		fail "the root differs from before the install (above: - before, + after)"
	fi
	echo "install, upgrade, purge: the root's files, owners, modes and accounts are as before"
	exit 0
fi

need_root mmdebstrap unshare chroot nft ip dpkg-deb stdbuf
base=$(pkg_base_tar)
work=$(mktemp -d "$BUILD/pkg/lifecycle.XXXXXX")
trap 'rm -rf --one-file-system "$work"' EXIT
root=$work/root
mkdir "$root"
tar -C "$root" -xf "$base"
cp -L /etc/resolv.conf "$root/etc/resolv.conf"
# /usr/bin: where systemd puts it (the root has no systemd package)
install -m 0755 "$PKG_DIR/fake-systemctl" "$root/usr/bin/systemctl"

# The second version: the same package with its version raised
# (dpkg-deb -R / -b). The maintainer scripts, which decide what happens to
# the daemon and its table, are the same as a second build's.
v1=$(dpkg-deb -f "$DEB" Version)
v2=$v1+pkgtest1
mkdir -p "$root/root/pkgtest"
cp "$DEB" "$root/root/pkgtest/regwall_${v1}.deb"
dpkg-deb -R "$DEB" "$work/v2"
sed -i "s/^Version: .*/Version: $v2/" "$work/v2/DEBIAN/control"
dpkg-deb --root-owner-group -b "$work/v2" "$root/root/pkgtest/regwall_${v2}.deb" >/dev/null

echo "== download $v1's dependencies (host network)"
unshare --mount --fork bash -c '
	set -e
	mount -t proc proc "$1/proc"
	mount --rbind /dev "$1/dev"
	chroot "$1" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin DEBIAN_FRONTEND=noninteractive \
		sh -c "apt-get update -q && apt-get install -y -q --download-only --no-install-recommends \"/root/pkgtest/regwall_$2.deb\""
' _ "$root" "$v1" || { echo "FAIL: apt could not fetch the dependencies"; exit 1; }

unshare --mount --net --pid --fork --kill-child bash "${BASH_SOURCE[0]}" --inside "$root" "$work" "$v1" "$v2"
