#!/usr/bin/env bash
# scripts/image/mkconfig.sh SRCDIR OUT.img: the gateway image's config
# volume, a small FAT filesystem labelled REGWALLCFG made from SRCDIR with
# mkfs.vfat -C and mcopy (no loop device, no mount). SRCDIR's layout:
#   regwall/regwall.conf (+ certificates, keys, the WireGuard key ...)
#   network/*.network    systemd-networkd files (match NICs by MACAddress=)
#   ssh/authorized_keys  optional: turns ssh on for these keys
#   hostname             optional
# Attach it as a second disk (qemu: -drive file=OUT.img,if=virtio,format=raw,readonly=on).
set -euo pipefail
src=${1:?usage: mkconfig.sh SRCDIR OUT.img}
out=${2:?usage: mkconfig.sh SRCDIR OUT.img}
[ -f "$src/regwall/regwall.conf" ] || echo "mkconfig: warning: no $src/regwall/regwall.conf" >&2
kb=$(du -sk "$src" | cut -f1)
kb=$((kb * 2 + 2048)) # FAT overhead; at least 2 MiB
rm -f "$out"
mkfs.vfat -C -n REGWALLCFG "$out" "$kb" >/dev/null
export MTOOLS_SKIP_CHECK=1
shopt -s nullglob dotglob
items=("$src"/*)
[ ${#items[@]} -gt 0 ] && mcopy -s -i "$out" "${items[@]}" ::/
echo "$out"
