#!/bin/sh
# scripts/image/customize.sh ROOT: mmdebstrap's last customize hook (runs
# as root outside the chroot, in mmdebstrap's mount namespace). The
# overlay under scripts/image/rootfs/ is already copied in.
set -eu
R=$1
: "${ROOT_PARTUUID:?}"

printf 'PARTUUID=%s / ext4 defaults,errors=remount-ro 0 1\n' "$ROOT_PARTUUID" >"$R/etc/fstab"
echo regwall-gateway >"$R/etc/hostname"
printf '127.0.0.1 localhost\n127.0.1.1 regwall-gateway\n::1 localhost ip6-localhost ip6-loopback\n' >"$R/etc/hosts"
# every VM gets its own machine id (systemd treats this as first boot)
echo uninitialized >"$R/etc/machine-id"
rm -f "$R/var/lib/dbus/machine-id"
# no default password: root's is locked; login only with a supplied ssh key
chroot "$R" usermod -p '!*' root
# host keys made in the build would be shared by every VM: the first
# start of ssh makes this VM's own (ssh.service.d/regwall-image.conf)
rm -f "$R"/etc/ssh/ssh_host_*
rm -f "$R/etc/resolv.conf"
chmod 0755 "$R/usr/lib/regwall-image/regwall-config"
chroot "$R" systemctl enable systemd-networkd.service regwall-config.service regwalld.service regwall-forward.service ssh.service
# nothing in the background on an appliance: no apt timers, no fstrim/e2scrub jobs
chroot "$R" systemctl mask apt-daily.timer apt-daily-upgrade.timer e2scrub_all.timer \
	e2scrub_reap.service fstrim.timer >/dev/null 2>&1 || true
