#!/usr/bin/env bash
# A worker is regwalld exec'd afresh (`regwalld --worker`, no environment,
# nothing of the parent's memory) and gets everything over its channel:
# the packed policy, the listening sockets and the TLS files' bytes, which
# the parent reads once per generation. So:
#  - the workers' command line is "regwalld --worker", their environment
#    empty, their program the parent's;
#  - a terminate listener serves TLS with the key the parent read;
#  - once the key and certificate files are gone from disk, a crashed
#    worker's replacement still serves with that generation's bytes (it
#    opens no file), while a reload, which reads the files anew, fails
#    naming the file and leaves the running workers serving;
#  - `regwalld --worker` run by hand refuses without a channel.
set -u
. "$(dirname "$0")/lib.sh"
lab_require_root
lab_require_build
lab_init
lab_topology
lab_echo_server registry "$LAB_REG_PORT"

pki="$LAB_DIR/pki"
mkdir -p "$pki"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
	-subj "/CN=registry.example.test" -addext "subjectAltName=DNS:registry.example.test" \
	-keyout "$pki/key.pem" -out "$pki/cert.pem" 2>/dev/null || lab_fail "openssl req"
conf="$LAB_DIR/boot.conf"
cat >"$conf" <<EOF2
registry = {
    upstream = "$LAB_REG4:$LAB_REG_PORT";
    upstream_tls = false;
    server_names = [ "registry.example.test" ];
};
networks = { office = [ "203.0.113.0/25" ]; };
listeners = (
    {
        name = "tls";
        listen = "0.0.0.0:$LAB_PORT";
        mode = "terminate";
        cert = "$pki/cert.pem";
        key = "$pki/key.pem";
        allow_from = [ "office" ];
    }
);
policy = { push_requires_vpn = false; };
log = { nflog_group = $LAB_GROUP; };
control = { socket = "$LAB_DIR/ctl.sock"; state = "$LAB_DIR/live.json"; };
EOF2
lab_daemon "$conf" gw --workers 2
daemon=$LAB_DAEMON_PID

workers() { pgrep -P "$daemon" | sort; }
two_up() { [ "$(workers | wc -l)" -eq 2 ] && ! workers | while read -r p; do
	[ "$(tr '\0' ' ' <"/proc/$p/cmdline" 2>/dev/null)" = "regwalld --worker " ] || echo no; done | grep -q no; }
lab_wait_for 10 two_up || lab_fail "two workers did not come up: $(workers | tr '\n' ' ')"

for p in $(workers); do
	cmd=$(tr '\0' ' ' <"/proc/$p/cmdline")
	[ "$cmd" = "regwalld --worker " ] || lab_fail "worker $p runs '$cmd', not 'regwalld --worker'"
	[ -s "/proc/$p/environ" ] && lab_fail "worker $p has an environment: $(tr '\0' ' ' <"/proc/$p/environ")"
	[ "$(readlink "/proc/$p/exe")" = "$(readlink "/proc/$daemon/exe")" ] ||
		lab_fail "worker $p runs $(readlink "/proc/$p/exe"), the parent $(readlink "/proc/$daemon/exe")"
	grep -q '^Seccomp:[[:space:]]*2' "/proc/$p/status" || lab_fail "worker $p has no seccomp filter"
done
lab_log "workers: $(workers | tr '\n' ' ')exec'd as 'regwalld --worker', empty environment, seccomp on"

# N handshakes from office: each must show the listener's certificate
handshakes() {
	local n=$1 ok=0 i out
	for i in $(seq 1 "$n"); do
		out=$(lab_exec office timeout 5 openssl s_client -connect "$LAB_GW4:$LAB_PORT" \
			-servername registry.example.test -alpn http/1.1 </dev/null 2>&1)
		grep -q "subject=CN = registry.example.test" <<<"$out" && ok=$((ok + 1))
	done
	echo "$ok"
}
[ "$(handshakes 4)" = 4 ] || lab_fail "TLS handshakes with the listener's key failed"

# the files go; a worker crashes; its replacement serves from the bytes
mv "$pki/key.pem" "$pki/key.pem.away"
mv "$pki/cert.pem" "$pki/cert.pem.away"
victim=$(workers | head -1)
kill -KILL "$victim"
replaced() { two_up && ! workers | grep -qx "$victim"; }
lab_wait_for 10 replaced || lab_fail "worker $victim not replaced: $(workers | tr '\n' ' ')"
lab_wait_for 5 grep -q "regwalld: worker .* restarted\|restart" "$LAB_DIR/regwalld.log" || true
got=$(handshakes 8)
[ "$got" = 8 ] || lab_fail "after the files went away and a worker was restarted: $got/8 handshakes"
lab_log "files gone, worker $victim killed and replaced: 8/8 handshakes with the generation's bytes"

# a reload reads the files anew: it fails naming the file, workers stay
before=$(workers)
if out=$(lab_ctl reload 2>&1); then
	lab_fail "reload succeeded with the key and certificate missing: $out"
fi
grep -qF "$pki/" <<<"$out" || lab_fail "reload refusal does not name the file: $out"
[ "$(workers)" = "$before" ] || lab_fail "a failed reload changed the workers"
[ "$(handshakes 2)" = 2 ] || lab_fail "the workers stopped serving after a failed reload"
lab_log "reload without the files refused: $out"

mv "$pki/key.pem.away" "$pki/key.pem"
mv "$pki/cert.pem.away" "$pki/cert.pem"
lab_ctl reload >/dev/null || lab_fail "reload with the files back failed"
[ "$(handshakes 2)" = 2 ] || lab_fail "no handshake after the reload"

# A TLS file over the parent's 16 MiB cap: the reload is refused by the
# check, before the policy is applied, so the running generation stays
# whole (before, the parent applied the new policy and only then failed
# to read the file, leaving workers and parent on different policies).
gen() { lab_ctl -j status | jq .applies; }
g0=$(gen)
head -c $((17 << 20)) /dev/zero >"$pki/big.pem"
sed -i "s#cert = \"$pki/cert.pem\"#cert = \"$pki/big.pem\"#" "$conf"
if out=$(lab_ctl reload 2>&1); then
	lab_fail "reload with a 17 MiB certificate file succeeded: $out"
fi
grep -q "big.pem: larger than 16 MiB" <<<"$out" || lab_fail "refusal does not say the file is too large: $out"
[ "$(gen)" = "$g0" ] || lab_fail "generation moved from $g0 to $(gen) on a refused reload"
[ "$(handshakes 2)" = 2 ] || lab_fail "no handshake after the refused reload"
sed -i "s#cert = \"$pki/big.pem\"#cert = \"$pki/cert.pem\"#" "$conf"
lab_log "a 17 MiB TLS file: reload refused before the apply, generation $g0 kept"

# by hand, without the channel on fd 3
if out=$(lab_exec gw "$BUILD/regwalld" --worker 2>&1 3<&-); then
	lab_fail "regwalld --worker ran without a channel"
fi
grep -q "started by regwalld itself" <<<"$out" || lab_fail "regwalld --worker by hand: $out"
lab_stop "$daemon" TERM

# regwalld as PID 1 of its own PID namespace (a container without an
# init) with 300 listener endpoints: every worker gets its 300 sockets
# (more than one socket buffer of boot messages) and none mistakes "my
# parent is PID 1" for "my parent died".
many="$LAB_DIR/many.conf"
ports=$(seq 20000 20299 | sed 's/.*/"0.0.0.0:&"/' | paste -sd, -)
sed -e "s#listen = \"0.0.0.0:$LAB_PORT\";#listen = [ $ports ];#" \
	-e 's#mode = "terminate";#mode = "passthrough";#' -e '/cert = /d' -e '/key = /d' \
	-e "s#ctl.sock#ctl2.sock#" "$conf" >"$many"
lab_bg gw unshare --pid --fork --kill-child "$BUILD/regwalld" -c "$many" -f --workers 2 \
	2>"$LAB_DIR/many.log" >/dev/null
ush=$LAB_LAST_PID
ready() { grep -q "regwalld: ready" "$LAB_DIR/many.log"; }
lab_wait_for 20 ready || lab_fail "regwalld as PID 1 with 300 endpoints not ready: $(tail -5 "$LAB_DIR/many.log")"
rwd=$(pgrep -P "$ush")
up2() { [ "$(lab_exec gw "$BUILD/regwallctl" -s "$LAB_DIR/ctl2.sock" -j status | jq '[.worker_list[] | select(.last_heard_ms < 1000)] | length')" = 2 ]; }
lab_wait_for 15 up2 || lab_fail "not 2 live workers under PID 1 with 300 endpoints: $(tail -5 "$LAB_DIR/many.log")"
for p in $(pgrep -P "$rwd"); do
	n=$(ls -l "/proc/$p/fd" | grep -c 'socket:')
	[ "$n" -ge 300 ] || lab_fail "worker $p holds $n sockets, not 300 listeners + its channel"
done
grep -q "could not\|exited" "$LAB_DIR/many.log" && lab_fail "a worker failed: $(cat "$LAB_DIR/many.log")"
lab_log "PID 1, 300 endpoints: 2 workers up with their sockets"
kill -TERM "$rwd"
lab_stop "$ush" TERM
echo "ok: workers exec'd with nothing but their channel; TLS from the parent's bytes survives the files' removal across a worker restart; a reload re-reads them"
