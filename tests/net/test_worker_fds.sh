#!/usr/bin/env bash
# Workers hold nothing privileged of the parent's: no netlink socket (the
# nftables handle), no signalfd, no unix socket (the control socket, or a
# control client whose request started them). Checked on the first
# generation and on one started by `regwallctl reload`, i.e. while the
# parent has that client's connection open. A live change (`network add`)
# starts none: the same workers take it over their channel. The same checks run on
# the parent, which must hold each of these, so a check that could not
# see them fails the test instead of passing it.
set -u
. "$(dirname "$0")/lib.sh"
lab_require_root
lab_require_build
lab_init
lab_topology
lab_echo_server registry "$LAB_REG_PORT"
lab_conf "$LAB_DIR/a.conf"

lab_daemon "$LAB_DIR/a.conf" gw --workers 2
daemon=$LAB_DAEMON_PID

# Inodes of every netlink / unix socket in gw's namespace (the daemon's
# /proc view is gw's; the workers share that namespace).
netlink_inodes() { awk 'NR > 1 { print $10 }' "/proc/$daemon/net/netlink"; }
unix_inodes() { awk 'NR > 1 { print $7 }' "/proc/$daemon/net/unix"; }

# fd_kinds PID: one line per fd, "FD KIND TARGET", KIND one of netlink,
# unix, signalfd, other.
fd_kinds() {
	local pid=$1 fd target ino nl ux
	nl=" $(netlink_inodes | tr '\n' ' ') "
	ux=" $(unix_inodes | tr '\n' ' ') "
	for fd in /proc/"$pid"/fd/*; do
		target=$(readlink "$fd" 2>/dev/null) || continue
		case $target in
		'anon_inode:[signalfd]') echo "${fd##*/} signalfd $target" ;;
		socket:\[*\])
			ino=${target#socket:[}
			ino=${ino%]}
			if [[ $nl == *" $ino "* ]]; then
				echo "${fd##*/} netlink $target"
			elif [[ $ux == *" $ino "* ]]; then
				echo "${fd##*/} unix $target"
			else
				echo "${fd##*/} other $target"
			fi
			;;
		*) echo "${fd##*/} other $target" ;;
		esac
	done
}

# The current workers: the daemon's children (two of them, once spawned).
workers() { pgrep -P "$daemon"; }
two_workers() { [ "$(workers | wc -l)" -eq 2 ]; }

# A worker closes the parent's fds before it opens its listeners: wait
# until both listen (their fds include TCP sockets) before looking.
listening() {
	local w
	for w in $(workers); do
		fd_kinds "$w" | grep -q ' other socket:' || return 1
	done
	two_workers
}

check_workers() {
	local what=$1 w kinds
	lab_wait_for 20 listening || lab_fail "$what: two listening workers not seen (children: $(workers | tr '\n' ' '))"
	for w in $(workers); do
		kinds=$(fd_kinds "$w")
		printf '%s\n' "$kinds" | sed "s/^/  $what worker $w fd /" >&2
		# fd 3 is the worker's own stop channel (a socket pair made for
		# it at fork; it answers "ready" on it): the one unix socket allowed
		printf '%s\n' "$kinds" | grep -vE '^3 unix ' | grep -qE ' (netlink|signalfd|unix) ' &&
			lab_fail "$what: worker $w holds a parent fd: $(printf '%s\n' "$kinds" | grep -vE '^3 unix ' | grep -E ' (netlink|signalfd|unix) ' | tr '\n' ';')"
		printf '%s\n' "$kinds" | grep -qE '^3 unix ' ||
			lab_fail "$what: worker $w fd 3 is not its stop channel"
		# ... and not the control socket: its inode is not the listening
		# control socket's (the only unix socket with a path here)
		local ctl_ino
		ctl_ino=$(awk -v p="$LAB_DIR/ctl.sock" 'NR > 1 && $8 == p { print $7 }' "/proc/$daemon/net/unix" | head -1)
		[ -n "$ctl_ino" ] && readlink "/proc/$w/fd/3" | grep -qF "[$ctl_ino]" &&
			lab_fail "$what: worker $w fd 3 is the control socket"
	done
}

# The parent holds each kind the check looks for (else the check is blind).
pk=$(fd_kinds "$daemon")
printf '%s\n' "$pk" | sed 's/^/  parent fd /' >&2
for k in netlink signalfd unix; do
	printf '%s\n' "$pk" | grep -q " $k " || lab_fail "the check does not see the parent's $k fd"
done

# The sandbox: every worker runs as an unprivileged user with no
# capabilities, no new privileges and the seccomp filter (mode 2), and
# holds no writable regular file (stdout is /dev/null: events go over
# its channel).
check_sandbox() {
	local what=$1 w st f t mode
	for w in $(workers); do
		st=/proc/$w/status
		[ "$(awk '/^Uid:/ { print $2 }' "$st")" != 0 ] || lab_fail "$what: worker $w runs as uid 0"
		[ "$(awk '/^Uid:/ { print $3 }' "$st")" != 0 ] || lab_fail "$what: worker $w has euid 0"
		[ "$(awk '/^CapEff:/ { print $2 }' "$st")" = 0000000000000000 ] || lab_fail "$what: worker $w CapEff $(awk '/^CapEff:/ { print $2 }' "$st")"
		[ "$(awk '/^CapPrm:/ { print $2 }' "$st")" = 0000000000000000 ] || lab_fail "$what: worker $w CapPrm not 0"
		[ "$(awk '/^NoNewPrivs:/ { print $2 }' "$st")" = 1 ] || lab_fail "$what: worker $w NoNewPrivs not 1"
		[ "$(awk '/^Seccomp:/ { print $2 }' "$st")" = 2 ] || lab_fail "$what: worker $w Seccomp not 2"
		for f in /proc/"$w"/fd/*; do
			t=$(readlink "$f") || continue
			case $t in
			/*)
				mode=$(awk '/^flags:/ { print $2 }' "/proc/$w/fdinfo/${f##*/}")
				# O_WRONLY (1) or O_RDWR (2) on a path other than /dev/null
				if [ "$t" != /dev/null ] && [ $((8#$mode & 3)) -ne 0 ]; then
					lab_fail "$what: worker $w holds $t open for writing (fd ${f##*/})"
				fi
				;;
			esac
		done
		lab_log "$what: worker $w uid $(awk '/^Uid:/ { print $2 }' "$st"), CapEff 0, NoNewPrivs 1, Seccomp 2, no writable file"
	done
}

check_workers "first generation"
check_sandbox "first generation"
first=$(workers | sort | tr '\n' ' ')

# A live change is applied by the same workers (no new generation).
lab_ctl network add office 192.0.2.0/24 >/dev/null || lab_fail "network add failed"
[ "$(workers | sort | tr '\n' ' ')" = "$first" ] ||
	lab_fail "network add replaced the workers: $first -> $(workers | sort | tr '\n' ' ')"
# A reload starts a new generation from inside a control request.
lab_ctl reload >/dev/null || lab_fail "reload failed"
renewed() { [ "$(workers | sort | tr '\n' ' ')" != "$first" ] && listening; }
lab_wait_for 20 renewed || lab_fail "no new worker generation after reload (children: $(workers | tr '\n' ' '))"
# the old generation had no connections: it is gone, not draining for an hour
gone() { local p; for p in $first; do kill -0 "$p" 2>/dev/null && return 1; done; return 0; }
lab_wait_for 20 gone || lab_fail "idle workers of the old generation still alive: $first"
check_workers "after reload"
check_sandbox "after reload"

# And the data path still works through the new workers.
lab_expect_probe ok office "$LAB_GW4"
lab_stop "$daemon"
lab_log "PASS: workers hold no netlink, signalfd or unix socket of the parent"
