#!/usr/bin/env bash
# Installs every Debian package that building, testing, fuzzing, the demo and
# the benchmarks need. Idempotent: packages already present are not fetched.
# The Makefile's 'deps' target runs this when a library or one of the
# commands its target needs (*_CMDS there: nft, tcpdump, clang, skopeo,
# docker-registry, haproxy, ...) is missing; keep the two lists in step.
set -euo pipefail

PKGS=(
  build-essential pkg-config clang libclang-rt-14-dev
  libnftnl-dev libmnl-dev libpcap-dev libssl-dev libconfig-dev libcmocka-dev
  libjansson-dev libcap-ng-dev libseccomp-dev libsystemd-dev libqrencode-dev
  nftables iproute2 tcpdump iputils-ping netcat-openbsd socat
  openssl curl python3 gnutls-bin time strace bash-completion jq procps man-db groff-base
  wireguard-tools wireguard-go docker-registry skopeo
  haproxy nginx prometheus
  debhelper lintian mmdebstrap
  qemu-system-x86 qemu-utils ovmf systemd-boot-efi dosfstools mtools fdisk openssh-client
)

missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#PKGS[@]} packages present"
  exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
  echo "install-deps: missing packages (${missing[*]}); run this script as root" >&2
  exit 1
fi
echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -q
# Services from these packages (nginx, haproxy, docker-registry, prometheus)
# must not start on the host: tests start their own copies inside lab
# namespaces (prometheus' postinst asks invoke-rc.d, which obeys policy-rc.d).
policy=/usr/sbin/policy-rc.d
created_policy=0
if [ ! -e "$policy" ]; then
  printf '#!/bin/sh\nexit 101\n' > "$policy"; chmod 755 "$policy"; created_policy=1
fi
trap '[ "$created_policy" = 1 ] && rm -f "$policy"' EXIT
apt-get install -y -q --no-install-recommends "${missing[@]}"
