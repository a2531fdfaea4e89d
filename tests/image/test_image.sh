#!/usr/bin/env bash
# The gateway VM image (issue 12), booted and checked from outside.
#
# qemu-system-x86_64 with TCG (no KVM) and OVMF boots a copy-on-write
# overlay of $IMAGE (default $BUILD/image/regwall-gateway.qcow2, made by
# `make image`) with two virtio NICs on tap devices in a lab namespace "hv":
#   tapc -- bridge brc -- office  203.0.113.10/25 (the clients)
#                      \- outside 203.0.113.140/25 (an unknown network)
#   tapr -- bridge brr -- registry 198.51.100.10/24 (docker-registry, TLS)
# The VM is configured only through its first-boot path: a FAT config
# volume labelled REGWALLCFG (scripts/image/mkconfig.sh) with
# regwall.conf, the networkd files (NICs matched by MAC address) and an
# ssh key made for this run. The management path is ssh with that key
# from the office side (root's password is locked; there is no other way in).
#
# Checks, all from outside the VM:
#   1. regwalld is up under systemd: `regwallctl status` over ssh exits 0
#      with the table in force and workers alive; its start came before
#      systemd-networkd's (the table is in place before the network)
#   2. an office client pulls an image through the VM (skopeo; the layer's
#      digest is the pushed one) in $IMAGE_MODE: "transparent" (the client
#      talks to the registry's real address, routed via the VM) or
#      "reverse" (the client talks to the VM's address)
#   3. a connect from the unknown network is dropped (no answer at all),
#      and its blocked line is in `regwallctl log` over ssh
#   4. the watchdog: regwalld stopped with SIGSTOP is killed and restarted
#      by systemd (WatchdogSec), and status is ready again
# Boot time (qemu start to status ready over ssh) and the total are logged.
#
# Env: IMAGE, IMAGE_MODE (transparent|reverse), IMAGE_CONFIG (volume|fwcfg:
# the same files as qemu -fw_cfg credentials instead of the volume), VM_MEM (1024), VM_SMP (1),
# BOOT_TIMEOUT (900 s), IMAGE_WATCHDOG=0 skips check 4.
# Needs root; skips (77) without it outside CI and fails under CI=true.
set -u
HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=../net/lib.sh
. "$HERE/../net/lib.sh"
# shellcheck source=../e2e/lib-e2e.sh
. "$HERE/../e2e/lib-e2e.sh"

T0=$(date +%s)
BUILD=${BUILD:-$E2E_ROOT/build}
IMAGE=${IMAGE:-$BUILD/image/regwall-gateway.qcow2}
MODE=${IMAGE_MODE:-transparent}
BOOT_TIMEOUT=${BOOT_TIMEOUT:-900}
OVMF_CODE=${OVMF_CODE:-/usr/share/OVMF/OVMF_CODE_4M.fd}
OVMF_VARS=${OVMF_VARS:-/usr/share/OVMF/OVMF_VARS_4M.fd}
MAC_C=52:54:00:0c:00:01
MAC_R=52:54:00:0c:00:02
VM_C4=203.0.113.1   # the VM on the client side (office's gateway)
VM_C4B=203.0.113.129 # the VM on the client side (outside's gateway)
VM_R4=198.51.100.1   # the VM on the registry side

lab_require_root
for t in qemu-system-x86_64 qemu-img ssh ssh-keygen mkfs.vfat mcopy skopeo docker-registry \
	openssl curl unshare; do
	command -v "$t" >/dev/null 2>&1 || lab_skip "$t not installed"
done
{ [ -r "$OVMF_CODE" ] && [ -r "$OVMF_VARS" ]; } || lab_skip "no OVMF firmware ($OVMF_CODE)"
[ -r "$IMAGE" ] || lab_fail "no image $IMAGE (make image)"
case $MODE in transparent | reverse) ;; *) lab_fail "IMAGE_MODE $MODE: transparent or reverse" ;; esac

lab_init
e2e_certs

# --- the lab: hv holds the taps and two bridges; nothing in the host ns ---
lab_ns hv
lab_ns office
lab_ns outside
lab_ns registry
lab_link hv c0 "" office eth0 "$LAB_OFFICE4/25"
lab_link hv c1 "" outside eth0 "$LAB_OUTSIDE4/25"
lab_link hv r0 "" registry eth0 "$LAB_REG4/24"
HV=$(lab_nsname hv)
for br in brc brr; do
	ip -n "$HV" link add "$br" type bridge || lab_fail "bridge $br"
	ip -n "$HV" link set "$br" up || lab_fail "up $br"
done
ip -n "$HV" tuntap add dev tapc mode tap || lab_fail "tap tapc"
ip -n "$HV" tuntap add dev tapr mode tap || lab_fail "tap tapr"
for p in c0:brc c1:brc tapc:brc r0:brr tapr:brr; do
	ip -n "$HV" link set "${p%%:*}" master "${p#*:}" up || lab_fail "port $p"
done
lab_route office default "$VM_C4"
lab_route outside default "$VM_C4B"
lab_route registry 203.0.113.0/24 "$VM_R4"

# --- the config volume: regwall.conf, network, the ssh key ----------------
CFG="$LAB_DIR/cfg"
mkdir -p "$CFG/regwall" "$CFG/network" "$CFG/ssh"
ssh-keygen -q -t ed25519 -N "" -C regwall-image-test -f "$LAB_DIR/id" || lab_fail "ssh-keygen"
cp "$LAB_DIR/id.pub" "$CFG/ssh/authorized_keys"
echo regwall-lab >"$CFG/hostname"
cat >"$CFG/network/client.network" <<EOF
[Match]
MACAddress=$MAC_C

[Network]
Address=$VM_C4/25
Address=$VM_C4B/25
EOF
cat >"$CFG/network/registry.network" <<EOF
[Match]
MACAddress=$MAC_R

[Network]
Address=$VM_R4/24
EOF
# the listener: reverse proxy on the VM's client address, or transparent
# (connections to the registry's address arriving on the client side are
# redirected to it; the worker reads the original destination)
if [ "$MODE" = transparent ]; then
	LISTEN="listen = \"0.0.0.0:$LAB_PORT\"; transparent = true;"
else
	LISTEN="listen = \"0.0.0.0:$LAB_PORT\";"
fi
cat >"$CFG/regwall/regwall.conf" <<EOF
registry = {
    upstream = "$LAB_REG4:$LAB_REG_PORT";
    upstream_tls = false;
    server_names = [ "$E2E_NAME" ];
};
networks = {
    office = [ "203.0.113.0/25" ];
};
listeners = (
    { name = "pass4"; $LISTEN mode = "passthrough";
      allow_from = [ "office" ]; }
);
log = {
    nflog_group = $LAB_GROUP;
    blocked = "/var/log/regwall/blocked.jsonl";
};
EOF
# the first-boot path: the volume, or the same files as qemu fw_cfg
# credentials (IMAGE_CONFIG=fwcfg)
CONFIG_ARGS=()
if [ "${IMAGE_CONFIG:-volume}" = fwcfg ]; then
	for f in regwall/regwall.conf:regwall.conf network/client.network:regwall.net.client.network \
		network/registry.network:regwall.net.registry.network \
		ssh/authorized_keys:regwall.ssh.authorized_keys hostname:regwall.hostname; do
		CONFIG_ARGS+=(-fw_cfg "name=opt/io.systemd.credentials/${f#*:},file=$CFG/${f%%:*}")
	done
	CONFIG_SEEN="regwall-config: configuration taken from credentials"
else
	bash "$E2E_ROOT/scripts/image/mkconfig.sh" "$CFG" "$LAB_DIR/config.img" >/dev/null ||
		lab_fail "mkconfig.sh"
	CONFIG_ARGS=(-drive "file=$LAB_DIR/config.img,if=virtio,format=raw,readonly=on")
	CONFIG_SEEN="regwall-config: configuration taken from /dev/disk/by-label/REGWALLCFG"
fi

# --- the registry, with one small image pushed straight to it -------------
e2e_registry tls
printf '127.0.0.1 localhost\n%s %s\n' "$LAB_REG4" "$E2E_NAME" >"$LAB_DIR/hosts.reg"
CAD="$LAB_DIR/cd-ca"
mkdir -p "$CAD"
cp "$E2E_CERTS/ca.pem" "$CAD/ca.crt"
python3 "$E2E_ROOT/scripts/mkimage.py" "$LAB_DIR/src" 1048576 12 v1 >/dev/null || lab_fail "mkimage"
out=$(e2e_client registry "$LAB_DIR/hosts.reg" timeout 60 skopeo --insecure-policy copy \
	--retry-times 0 --dest-cert-dir "$CAD" "oci:$LAB_DIR/src:v1" \
	"docker://$E2E_NAME:$LAB_REG_PORT/lab/app:v1" 2>&1) || lab_fail "push to the registry: $out"

# --- boot -----------------------------------------------------------------
qemu-img create -q -f qcow2 -F "$(qemu-img info --output=json "$IMAGE" |
	python3 -c 'import json,sys; print(json.load(sys.stdin)["format"])')" \
	-b "$(readlink -f "$IMAGE")" "$LAB_DIR/disk.qcow2" || lab_fail "overlay"
cp "$OVMF_VARS" "$LAB_DIR/OVMF_VARS.fd"
SERIAL="$LAB_DIR/serial.log"
: >"$SERIAL"
tb=$(date +%s)
lab_bg hv qemu-system-x86_64 -machine q35,accel=tcg -cpu max -m "${VM_MEM:-1024}" \
	-smp "${VM_SMP:-1}" -nodefaults -display none -vga none -monitor none \
	-drive "if=pflash,format=raw,unit=0,readonly=on,file=$OVMF_CODE" \
	-drive "if=pflash,format=raw,unit=1,file=$LAB_DIR/OVMF_VARS.fd" \
	-drive "file=$LAB_DIR/disk.qcow2,if=virtio,format=qcow2" \
	"${CONFIG_ARGS[@]}" \
	-netdev tap,id=nc,ifname=tapc,script=no,downscript=no \
	-device "virtio-net-pci,netdev=nc,mac=$MAC_C" \
	-netdev tap,id=nr,ifname=tapr,script=no,downscript=no \
	-device "virtio-net-pci,netdev=nr,mac=$MAC_R" \
	-serial "file:$SERIAL" -device virtio-rng-pci \
	>"$LAB_DIR/qemu.log" 2>&1
QEMU_PID=$LAB_LAST_PID
lab_log "qemu $QEMU_PID booting $IMAGE (TCG, $MODE mode); serial: $SERIAL"

vm() { # CMD...: over ssh from office, the management path
	lab_exec office timeout 60 ssh -F /dev/null -i "$LAB_DIR/id" -o BatchMode=yes \
		-o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR \
		-o ConnectTimeout=10 "root@$VM_C4" "$@"
}
# vm_wait SECS CMD...: retry CMD every 2 s until it succeeds, by the clock
vm_wait() {
	local end=$(($(date +%s) + $1))
	shift
	until "$@" >/dev/null 2>&1; do
		[ "$(date +%s)" -lt "$end" ] || return 1
		sleep 2
	done
}
ctl() { vm regwallctl -c /etc/regwall/regwall.conf "$@"; }
ready() { vm regwallctl status >"$LAB_DIR/status.txt" 2>&1; }
dump() {
	lab_log "serial console (last 60 lines):"
	tail -60 "$SERIAL" | sed 's/^/  serial| /' >&2
	sed 's/^/  qemu| /' "$LAB_DIR/qemu.log" >&2
}
t=0
until ready; do
	kill -0 "$QEMU_PID" 2>/dev/null || {
		dump
		lab_fail "qemu exited during boot"
	}
	t=$(($(date +%s) - tb))
	[ "$t" -lt "$BOOT_TIMEOUT" ] || {
		dump
		lab_fail "not ready over ssh after $BOOT_TIMEOUT s"
	}
	sleep 5
done
BOOT_S=$(($(date +%s) - tb))
lab_log "boot: status ready over ssh $BOOT_S s after qemu started; in the VM: $(vm systemd-analyze 2>&1 | head -1)"

# --- 1. ready under systemd, table before network --------------------------
grep -q '^table: "\?in force' "$LAB_DIR/status.txt" || lab_fail "status: $(cat "$LAB_DIR/status.txt")"
w=$(sed -n 's/^workers: \([0-9]*\).*/\1/p' "$LAB_DIR/status.txt")
[ "${w:-0}" -ge 1 ] || lab_fail "no live worker: $(cat "$LAB_DIR/status.txt")"
grep -q "$CONFIG_SEEN" "$SERIAL" ||
	lab_fail "the serial console does not say: $CONFIG_SEEN"
[ "$(vm systemctl is-active regwalld.service)" = active ] || lab_fail "regwalld.service not active"
order=$(vm systemctl show -p ActiveEnterTimestampMonotonic --value regwalld.service systemd-networkd.service) ||
	lab_fail "systemctl show over ssh"
read -r t_rw t_nd <<<"$(tr '\n' ' ' <<<"$order")"
[ "${t_rw:-0}" -gt 0 ] && [ "${t_nd:-0}" -gt "$t_rw" ] ||
	lab_fail "regwalld ($t_rw) was not ready before systemd-networkd ($t_nd)"
vm nft list table inet regwall >/dev/null || lab_fail "no table inet regwall in the VM"
# forwarding is turned on by regwall-forward.service only, after regwalld
# and only with the table loaded (the .network files leave it off)
[ "$(vm systemctl is-active regwall-forward.service)" = active ] ||
	lab_fail "regwall-forward.service not active"
[ "$(vm sysctl -n net.ipv4.ip_forward)" = 1 ] || lab_fail "forwarding is off in the VM"
t_fw=$(vm systemctl show -p ActiveEnterTimestampMonotonic --value regwall-forward.service)
[ "${t_fw:-0}" -ge "$t_rw" ] || lab_fail "forwarding ($t_fw) came before regwalld was ready ($t_rw)"
vm 'getent shadow root | cut -d: -f2' | grep -q '^!' || lab_fail "root's password is not locked"
lab_log "1: regwalld ready under systemd, $w workers, table before network ($t_rw < $t_nd us)"

# --- 2. an office client pulls through the VM ------------------------------
if [ "$MODE" = transparent ]; then
	# the registry's real name and address; the route goes via the VM
	printf '127.0.0.1 localhost\n%s %s\n' "$LAB_REG4" "$E2E_NAME" >"$LAB_DIR/hosts.office"
	REG="$E2E_NAME:$LAB_REG_PORT"
else
	printf '127.0.0.1 localhost\n%s %s\n' "$VM_C4" "$E2E_NAME" >"$LAB_DIR/hosts.office"
	REG="$E2E_NAME:$LAB_PORT"
fi
tp=$(date +%s)
out=$(e2e_client office "$LAB_DIR/hosts.office" timeout 300 skopeo --insecure-policy copy \
	--retry-times 0 --src-cert-dir "$CAD" "docker://$REG/lab/app:v1" "oci:$LAB_DIR/pulled:v1" 2>&1) ||
	{
		vm journalctl -u regwalld --no-pager -n 30 >&2
		lab_fail "pull through the VM ($MODE): $out"
	}
# the layer the registry holds (asked directly, not through the VM) is the
# one pulled, and the pulled blob's bytes hash to its digest
want=$(e2e_client registry "$LAB_DIR/hosts.reg" timeout 60 skopeo inspect --raw --cert-dir "$CAD" \
	"docker://$E2E_NAME:$LAB_REG_PORT/lab/app:v1" |
	python3 -c 'import json,sys; print(json.load(sys.stdin)["layers"][0]["digest"])') ||
	lab_fail "inspect at the registry"
got=$(python3 -c '
import json,sys
d=sys.argv[1]; m=json.load(open(d+"/index.json"))["manifests"][0]["digest"].split(":")[1]
print(json.load(open(d+"/blobs/sha256/"+m))["layers"][0]["digest"])' "$LAB_DIR/pulled") ||
	lab_fail "no manifest in the pulled image"
[ "$got" = "$want" ] || lab_fail "pulled layer $got, the registry has $want"
[ "sha256:$(sha256sum "$LAB_DIR/pulled/blobs/sha256/${want#sha256:}" | cut -d' ' -f1)" = "$want" ] ||
	lab_fail "pulled layer bytes do not hash to $want"
# through regwalld's worker, not merely routed: its pass events name office
passed() { vm journalctl -u regwalld --no-pager -o cat | grep '"kind":"pass"' | grep -q "\"src\":\"$LAB_OFFICE4\""; }
vm_wait 30 passed || lab_fail "no pass event from $LAB_OFFICE4 in regwalld's journal"
lab_log "2: office pulled $REG/lab/app:v1 through the VM ($MODE) in $(($(date +%s) - tp)) s, layer $want"

# --- 3. the unknown network is dropped, and logged --------------------------
if [ "$MODE" = transparent ]; then
	dst=$LAB_REG4 dport=$LAB_REG_PORT
else
	dst=$VM_C4B dport=$LAB_PORT
fi
res=$(lab_exec outside python3 - "$dst" "$dport" <<'PY'
import socket, sys
s = socket.socket()
s.settimeout(4)
try:
    s.connect((sys.argv[1], int(sys.argv[2])))
    print("connected")
except socket.timeout:
    print("timeout")
except OSError as e:
    print("error %s" % e)
PY
)
[ "$res" = timeout ] || lab_fail "outside's connect to $dst:$dport was not dropped: $res"
blocked_line() { ctl log --reason not_allowed --src "$LAB_OUTSIDE4/32" | grep -q "$LAB_OUTSIDE4"; }
vm_wait 60 blocked_line || lab_fail "no blocked line for $LAB_OUTSIDE4: $(ctl log 2>&1 | tail -5)"
line=$(ctl log --src "$LAB_OUTSIDE4/32" | tail -1)
lab_log "3: outside's connect to $dst:$dport dropped; over ssh: $line"
e2e_client outside "$LAB_DIR/hosts.office" timeout 20 curl -sS --max-time 10 --cacert "$E2E_CERTS/ca.pem" \
	"https://$REG/v2/" >/dev/null 2>&1 && lab_fail "outside reached the registry through the VM"

# --- 4. the watchdog restarts a hung regwalld -------------------------------
if [ "${IMAGE_WATCHDOG:-1}" = 1 ]; then
	pid1=$(vm systemctl show -p MainPID --value regwalld.service)
	[ "${pid1:-0}" -gt 0 ] || lab_fail "no MainPID for regwalld"
	vm kill -STOP "$pid1" || lab_fail "SIGSTOP regwalld"
	tw=$(date +%s)
	restarted() {
		local p
		p=$(vm systemctl show -p MainPID --value regwalld.service) || return 1
		[ "${p:-0}" -gt 0 ] && [ "$p" != "$pid1" ] && vm regwallctl status >/dev/null
	}
	vm_wait 240 restarted || lab_fail "regwalld ($pid1, stopped) was not restarted by the watchdog"
	vm journalctl -u regwalld --no-pager -o cat | grep -qi 'watchdog' ||
		lab_fail "the journal does not name the watchdog"
	lab_log "4: hung regwalld ($pid1) killed by the watchdog and restarted, ready again after $(($(date +%s) - tw)) s"
fi

lab_log "serial console: $(grep -c . "$SERIAL") lines; boot ${BOOT_S} s; total $(($(date +%s) - T0)) s"
lab_log "slowest units: $(vm systemd-analyze blame 2>/dev/null | head -4 | tr -s ' ' | paste -sd, -)"
echo "ok: image ($MODE, config from ${IMAGE_CONFIG:-volume}): boot ${BOOT_S} s, pull through the VM, outside dropped and logged, status ready over ssh; total $(($(date +%s) - T0)) s"
