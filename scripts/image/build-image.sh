#!/usr/bin/env bash
# scripts/image/build-image.sh: the regwall gateway VM image (issue 12).
#
#   build-image.sh OUTDIR REGWALL_DEB
#
# Writes OUTDIR/regwall-gateway.img (raw, GPT, UEFI) and
# OUTDIR/regwall-gateway.qcow2. Runs as root on Debian 12 with Debian
# packages only (mmdebstrap, dosfstools, mtools, fdisk, e2fsprogs,
# systemd-boot-efi, qemu-utils); no KVM, no loop device, no mount:
#
#   1. mmdebstrap (unshare mode) builds the root in a directory: the cloud
#      kernel, systemd, nftables, wireguard-tools, wireguard-go, ssh (off
#      unless a key is supplied) and the regwall .deb installed with apt
#      (so apt pulls its library dependencies); the files under
#      scripts/image/rootfs/ are copied over it (first-boot unit, drop-ins).
#      Downloaded .debs are kept in OUTDIR/apt-cache, so a rebuild fetches
#      nothing.
#   2. The ESP is a FAT file (mkfs.vfat -C) filled with mcopy: systemd-boot
#      as EFI/BOOT/BOOTX64.EFI, one loader entry, the kernel and initrd.
#   3. sfdisk writes a GPT into the image file; dd conv=notrunc puts the ESP
#      at its offset and `mkfs.ext4 -E offset=... -d` writes the root from
#      the directory straight into the image at its partition's offset.
#      qemu-img makes the qcow2.
#
# Env: MIRROR (default http://deb.debian.org/debian), SUITE (bookworm),
# ESP_MB (96), ROOT_EXTRA_MB (384: free space on the root), QCOW2=0 skips it.
set -euo pipefail

OUT=${1:?usage: build-image.sh OUTDIR REGWALL_DEB}
DEB=${2:?usage: build-image.sh OUTDIR REGWALL_DEB}
HERE=$(cd "$(dirname "$0")" && pwd)
MIRROR=${MIRROR:-http://deb.debian.org/debian}
SUITE=${SUITE:-bookworm}
ESP_MB=${ESP_MB:-96}
ROOT_EXTRA_MB=${ROOT_EXTRA_MB:-384}
# The root partition's GPT UUID: the kernel finds its root by it
# (root=PARTUUID=..., no initrd lookup by label needed). One disk per VM,
# so a fixed value is fine.
ROOT_PARTUUID=5b1e7a2c-3f4d-4e8a-9c61-2d7f0e9a4b13
NAME=regwall-gateway

log() { printf '[image] %s\n' "$*" >&2; }
die() {
	printf 'build-image: %s\n' "$*" >&2
	exit 1
}

[ "$(id -u)" -eq 0 ] || die "must run as root (mmdebstrap unshare mode as root keeps file ownership)"
for c in mmdebstrap mkfs.vfat mcopy mmd sfdisk mkfs.ext4 qemu-img; do
	command -v "$c" >/dev/null 2>&1 || die "$c not installed (scripts/install-deps.sh)"
done
BOOTEFI=/usr/lib/systemd/boot/efi/systemd-bootx64.efi
[ -r "$BOOTEFI" ] || die "no $BOOTEFI (package systemd-boot-efi)"
[ -r "$DEB" ] || die "no regwall package $DEB (make deb)"
DEB=$(cd "$(dirname "$DEB")" && pwd)/$(basename "$DEB")

mkdir -p "$OUT/apt-cache"
WORK="$OUT/work"
rm -rf "$WORK"
mkdir -p "$WORK"
ROOT="$WORK/root"
t0=$(date +%s)

# Packages besides the essential set and apt. The cloud kernel: virtio and
# ext4 built for VMs, fewer modules (smaller initrd, faster boot under TCG).
PKGS=linux-image-cloud-amd64,initramfs-tools,systemd-sysv,udev,dbus,iproute2,kmod
PKGS=$PKGS,nftables,wireguard-tools,wireguard-go,openssh-server,ca-certificates,less

log "mmdebstrap $SUITE from $MIRROR"
mmdebstrap --mode=unshare --variant=apt --format=directory \
	--include="$PKGS" \
	--aptopt='APT::Install-Recommends "false"' \
	--dpkgopt='path-exclude=/usr/share/doc/*' \
	--dpkgopt='path-include=/usr/share/doc/regwall/*' \
	--dpkgopt='path-exclude=/usr/share/man/*' \
	--dpkgopt='path-include=/usr/share/man/man[58]/reg*' \
	--dpkgopt='path-exclude=/usr/share/locale/*' \
	--skip=essential/unlink \
	--setup-hook='mkdir -p "$1"/var/cache/apt/archives/' \
	--setup-hook="sync-in '$OUT/apt-cache' /var/cache/apt/archives/" \
	--customize-hook="copy-in '$DEB' /tmp" \
	--customize-hook="chroot \"\$1\" apt-get install -y -q --no-install-recommends /tmp/$(basename "$DEB")" \
	--customize-hook="rm -f \"\$1/tmp/$(basename "$DEB")\"" \
	--customize-hook="sync-out /var/cache/apt/archives '$OUT/apt-cache'" \
	--customize-hook="sync-in '$HERE/rootfs' /" \
	--customize-hook="ROOT_PARTUUID=$ROOT_PARTUUID \"$HERE/customize.sh\" \"\$1\"" \
	"$SUITE" "$ROOT" "deb $MIRROR $SUITE main" "deb $MIRROR-security $SUITE-security main" \
	>"$WORK/mmdebstrap.log" 2>&1 || {
	tail -40 "$WORK/mmdebstrap.log" >&2
	die "mmdebstrap failed (log: $WORK/mmdebstrap.log)"
}
rm -f "$ROOT"/var/cache/apt/archives/*.deb
log "root built in $(($(date +%s) - t0)) s"

# --- the ESP: systemd-boot and one Type #1 entry (kernel + initrd) --------
kver=$(basename "$(ls -d "$ROOT"/lib/modules/* | sort -V | tail -1)")
[ -r "$ROOT/boot/vmlinuz-$kver" ] || die "no kernel in the root"
CMDLINE="root=PARTUUID=$ROOT_PARTUUID rw rootwait console=tty0 console=ttyS0,115200 \
systemd.show_status=1 loglevel=4 net.ifnames=1"
ESP="$WORK/esp.img"
rm -f "$ESP"
mkfs.vfat -C -F 32 -n ESP "$ESP" $((ESP_MB * 1024)) >/dev/null
export MTOOLS_SKIP_CHECK=1
mmd -i "$ESP" ::/EFI ::/EFI/BOOT ::/loader ::/loader/entries ::/regwall
mcopy -i "$ESP" "$BOOTEFI" ::/EFI/BOOT/BOOTX64.EFI
printf 'default regwall.conf\ntimeout 0\nconsole-mode keep\neditor no\n' >"$WORK/loader.conf"
mcopy -i "$ESP" "$WORK/loader.conf" ::/loader/loader.conf
printf 'title regwall gateway\nversion %s\nlinux /regwall/vmlinuz\ninitrd /regwall/initrd.img\noptions %s\n' \
	"$kver" "$CMDLINE" >"$WORK/entry.conf"
mcopy -i "$ESP" "$WORK/entry.conf" ::/loader/entries/regwall.conf
mcopy -i "$ESP" "$ROOT/boot/vmlinuz-$kver" ::/regwall/vmlinuz
mcopy -i "$ESP" "$ROOT/boot/initrd.img-$kver" ::/regwall/initrd.img

# --- GPT image: 1 MiB gap, ESP, root, 1 MiB for the backup GPT ------------
used_mb=$(du -sm --apparent-size "$ROOT" | cut -f1)
ROOT_MB=$((used_mb + used_mb / 4 + ROOT_EXTRA_MB))
IMG="$OUT/$NAME.img"
esp_start=2048
esp_sec=$((ESP_MB * 2048))
root_start=$((esp_start + esp_sec))
root_sec=$((ROOT_MB * 2048))
total_sec=$((root_start + root_sec + 2048))
rm -f "$IMG.tmp"
truncate -s $((total_sec * 512)) "$IMG.tmp"
sfdisk -q --no-reread --no-tell-kernel "$IMG.tmp" <<EOF >/dev/null
label: gpt
unit: sectors
start=$esp_start, size=$esp_sec, type=C12A7328-F81F-11D2-BA4B-00A0C93EC93B, name="ESP"
start=$root_start, size=$root_sec, type=0FC63DAF-8483-4772-8E79-3D69D8477DE4, uuid=$ROOT_PARTUUID, name="regwall-root"
EOF
dd if="$ESP" of="$IMG.tmp" bs=512 seek=$esp_start conv=notrunc,sparse status=none
# the root filesystem, written from the directory straight into the image
# at the partition's offset (no separate file, no loop device)
mkfs.ext4 -q -F -L regwall-root -E offset=$((root_start * 512)) -d "$ROOT" "$IMG.tmp" "${ROOT_MB}M" ||
	die "mkfs.ext4 -d failed"
[ "$(stat -c %s "$IMG.tmp")" -eq $((total_sec * 512)) ] || die "mkfs.ext4 changed the image size"
mv "$IMG.tmp" "$IMG"
if [ "${QCOW2:-1}" = 1 ]; then
	qemu-img convert -O qcow2 "$IMG" "$OUT/$NAME.qcow2.tmp"
	mv "$OUT/$NAME.qcow2.tmp" "$OUT/$NAME.qcow2"
fi
printf '%s\n' "$kver" >"$OUT/kernel-version"
rm -rf "$WORK"
log "$IMG: $((total_sec / 2048)) MiB (kernel $kver, regwall $(basename "$DEB")) in $(($(date +%s) - t0)) s"
