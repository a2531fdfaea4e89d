# tests/e2e/lib-e2e.sh: helpers for the end-to-end tests; sourced after
# shellcheck shell=bash
# tests/net/lib.sh (namespaces, topology, cleanup), whose lab this reuses.
# Everything runs inside the lab's own namespaces (documentation address
# ranges, no link to the host namespace) and is removed at exit.

E2E_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
# the committed test certificates (the unit tests' fixtures); the e2e tests
# make their own with e2e_certs, which points E2E_CERTS at them
E2E_CERTS="$E2E_ROOT/tests/data/certs"
# shellcheck disable=SC2034 # used by the test scripts
E2E_HELLOS="$E2E_ROOT/tests/data/hello"
E2E_NAME=registry.example.test

# e2e_certs: a fresh PKI for this run in $LAB_DIR/certs, made with openssl
# req/ca (EC P-256: fast), and E2E_CERTS pointed at it. Same file names as
# tests/data/certs, so configs and clients read either:
#   ca.pem/.key        the CA (O=Regwall Test, CN=Regwall Test CA)
#   server.pem/.key    CN=registry.example.test, SAN that and
#                      push.registry.example.test, serverAuth
#   client.pem/.key    C=DE, O=Example Org, CN=ci-bot, clientAuth
#   cnonly.pem/.key    CN=cn-only-client, clientAuth, no SAN
#   revoked.pem/.key   CN=revoked-client, clientAuth, revoked in crl.pem
#   crl.pem            the CA's CRL (keyCompromise for revoked.pem)
# Valid from now for two days: nothing here depends on committed dates.
e2e_certs() {
	local d="$LAB_DIR/certs" n subj ext
	mkdir -p "$d/new" || lab_fail "mkdir $d"
	: >"$d/index.txt"
	echo 1000 >"$d/serial"
	echo 01 >"$d/crlnumber"
	cat >"$d/ca.cnf" <<EOF2
[ ca ]
default_ca = lab_ca
[ lab_ca ]
dir = $d
database = \$dir/index.txt
new_certs_dir = \$dir/new
certificate = \$dir/ca.pem
private_key = \$dir/ca.key
serial = \$dir/serial
crlnumber = \$dir/crlnumber
default_md = sha256
default_days = 2
default_crl_days = 2
unique_subject = no
policy = lab_policy
[ lab_policy ]
countryName = optional
organizationName = optional
commonName = supplied
[ server ]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = serverAuth
subjectAltName = DNS:$E2E_NAME, DNS:push.$E2E_NAME
[ client ]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = clientAuth
subjectAltName = DNS:ci-bot.example.test
[ client_nosan ]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = clientAuth
EOF2
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
		-subj "/O=Regwall Test/CN=Regwall Test CA" \
		-addext "basicConstraints=critical,CA:TRUE" \
		-addext "keyUsage=critical,keyCertSign,cRLSign" \
		-keyout "$d/ca.key" -out "$d/ca.pem" >"$d/openssl.log" 2>&1 ||
		lab_fail "openssl: the CA: $(cat "$d/openssl.log")"
	# NAME SUBJECT EXTENSIONS; -preserveDN keeps the subject in the order
	# given (the identities match "CN=ci-bot,O=Example Org,C=DE")
	for n in "server|/CN=$E2E_NAME|server" "client|/C=DE/O=Example Org/CN=ci-bot|client" \
		"cnonly|/CN=cn-only-client|client_nosan" "revoked|/CN=revoked-client|client_nosan"; do
		IFS='|' read -r n subj ext <<<"$n"
		if ! openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
			-subj "$subj" -keyout "$d/$n.key" -out "$d/$n.csr" >>"$d/openssl.log" 2>&1 ||
			! openssl ca -batch -notext -preserveDN -config "$d/ca.cnf" -extensions "$ext" \
				-in "$d/$n.csr" -out "$d/$n.pem" >>"$d/openssl.log" 2>&1; then
			lab_fail "openssl: $n: $(cat "$d/openssl.log")"
		fi
	done
	if ! openssl ca -batch -config "$d/ca.cnf" -revoke "$d/revoked.pem" \
		-crl_reason keyCompromise >>"$d/openssl.log" 2>&1 ||
		! openssl ca -batch -config "$d/ca.cnf" -gencrl -out "$d/crl.pem" \
			>>"$d/openssl.log" 2>&1; then
		lab_fail "openssl: the CRL: $(cat "$d/openssl.log")"
	fi
	E2E_CERTS=$d
}

# e2e_conf FILE: a passthrough config with a v4 and a v6 listener (v6
# sockets are V6ONLY, so "[::]" alone would not take IPv4 clients).
e2e_conf() {
	cat >"$1" <<EOF2
registry = {
    upstream = "$LAB_REG4:$LAB_REG_PORT";
    upstream_tls = false;
    server_names = [ "$E2E_NAME" ];
};
networks = {
    office = [ "203.0.113.0/25", "2001:db8:1::/64" ];
};
listeners = (
    { name = "pass4"; listen = "0.0.0.0:$LAB_PORT"; mode = "passthrough";
      allow_from = [ "office" ]; },
    { name = "pass6"; listen = "[::]:$LAB_PORT"; mode = "passthrough";
      allow_from = [ "office" ]; }
);
policy = { conn_rate = { per_source = "1000/second"; }; };
log = {
    nflog_group = $LAB_GROUP;
};
control = { socket = "$LAB_DIR/ctl.sock"; state = "$LAB_DIR/live.json"; };
EOF2
}

# e2e_tls_registry: openssl s_server -www in the registry namespace with the
# test server certificate (CN/SAN registry.example.test, signed by ca.pem).
e2e_tls_registry() {
	lab_bg registry openssl s_server -quiet -accept "$LAB_REG_PORT" \
		-cert "$E2E_CERTS/server.pem" -key "$E2E_CERTS/server.key" -www \
		</dev/null >"$LAB_DIR/s_server.log" 2>&1
	lab_wait_for 10 lab_exec registry python3 -c "
import socket; socket.create_connection(('$LAB_REG4', $LAB_REG_PORT), 1).close()" ||
		lab_fail "s_server did not come up"
}

# e2e_daemon CONF WORKERS: regwalld with its data path; worker events
# (JSON lines on stdout) go to $LAB_DIR/events.jsonl.
E2E_EVENTS=""
E2E_DAEMON_PID=""
e2e_daemon() {
	local conf=$1 n=${2:-2} log="$LAB_DIR/regwalld.log" _
	E2E_EVENTS="$LAB_DIR/events.jsonl"
	: >"$log"
	: >"$E2E_EVENTS"
	lab_bg gw "$BUILD/regwalld" -c "$conf" -f -s "$LAB_DIR/ctl.sock" --workers "$n" \
		>>"$E2E_EVENTS" 2>>"$log"
	E2E_DAEMON_PID=$LAB_LAST_PID
	for _ in $(seq 1 100); do
		grep -q "regwalld: ready" "$log" && return 0
		kill -0 "$LAB_LAST_PID" 2>/dev/null || {
			cat "$log" >&2
			lab_fail "regwalld exited before it was ready"
		}
		sleep 0.1
	done
	cat "$log" >&2
	lab_fail "regwalld not ready after 10 s"
}

# e2e_expect_event KIND REASON [SECONDS]: an event line with both values.
e2e_expect_event() {
	local kind=$1 reason=$2 secs=${3:-5}
	lab_wait_for "$secs" grep -q "\"kind\":\"$kind\",\"reason\":\"$reason\"" "$E2E_EVENTS" ||
		{
			cat "$E2E_EVENTS" >&2
			lab_fail "no $kind/$reason event"
		}
}

# e2e_reload: SIGHUP to the daemon; returns once it counted the reload and
# the port belongs to the new generation: every listener on $LAB_PORT is
# a new worker's (the old ones close theirs when told to drain; before
# that a connection could still land in an old worker's queue).
e2e_workers() { cat /proc/"$E2E_DAEMON_PID"/task/*/children 2>/dev/null; }
e2e_reloads() { lab_ctl status | sed -n 's/^reloads: \([0-9]*\).*/\1/p'; }
e2e_new_gen_listens() { # " OLD PIDS "
	local l pids p
	l=$(lab_exec gw ss -Hltnp "( sport = :$LAB_PORT )") || return 1
	pids=$(grep -o 'pid=[0-9]*' <<<"$l" | cut -d= -f2)
	[ -n "$pids" ] || return 1
	for p in $pids; do
		[[ $1 == *" $p "* ]] && return 1
	done
	return 0
}
e2e_reloaded() { [ "$(e2e_reloads)" -gt "$1" ]; }
e2e_reload() {
	local old n
	old=" $(e2e_workers | tr '\n' ' ') "
	n=$(e2e_reloads)
	[ -n "$n" ] || lab_fail "regwallctl status has no reloads line: $(lab_ctl status 2>&1)"
	kill -HUP "$E2E_DAEMON_PID"
	lab_wait_for 10 e2e_reloaded "$n" || lab_fail "SIGHUP did not reload: $(lab_ctl status 2>&1)"
	lab_wait_for 20 e2e_new_gen_listens "$old" ||
		lab_fail "old workers ($old) still listen: $(lab_exec gw ss -Hltnp "( sport = :$LAB_PORT )")"
}

# e2e_count_events KIND REASON: how many event lines have both values.
e2e_count_events() {
	grep -c "\"kind\":\"$1\",\"reason\":\"$2\"" "$E2E_EVENTS"
}

# e2e_expect_more_events KIND REASON BEFORE [SECONDS]: more than BEFORE such
# lines (an event of this very case, not one an earlier case left).
e2e_more_events() { [ "$(e2e_count_events "$1" "$2")" -gt "$3" ]; }
e2e_expect_more_events() {
	local kind=$1 reason=$2 before=$3 secs=${4:-5}
	lab_wait_for "$secs" e2e_more_events "$kind" "$reason" "$before" || {
		cat "$E2E_EVENTS" >&2
		lab_fail "no new $kind/$reason event (still $before)"
	}
}

# e2e_rss_start: sample VmRSS of regwalld's workers (the daemon's children,
# whichever exist at each sample) every 0.2 s in the background until
# e2e_rss_stop. The sampler is this shell's own child, recorded for cleanup.
E2E_RSS_PID=""
e2e_rss_start() {
	local out="$LAB_DIR/rss.samples"
	: >"$out"
	(
		while :; do
			line="" # "pid:kB pid:kB ..." of this sample
			for c in $(e2e_workers); do
				while read -r k v _; do
					[ "$k" = VmRSS: ] && line="$line $c:$v" && break
				done 2>/dev/null <"/proc/$c/status"
			done
			echo "${line# }" >>"$out"
			sleep 0.2
		done
	) &
	E2E_RSS_PID=$!
	LAB_PIDS+=("$E2E_RSS_PID")
}

# e2e_rss_stop MAX_MIB WHAT: stop the sampler; fail unless workers were
# seen in the samples and every worker's VmRSS, and its VmHWM (the kernel's
# own peak, which catches a spike between two samples), stayed under
# MAX_MIB. Logs the peak.
e2e_rss_stop() {
	local max_kb=$(($1 * 1024)) what=$2 peak=0 ppid="" n=0 line w pid kb c k v hwm=0
	kill "$E2E_RSS_PID" 2>/dev/null
	wait "$E2E_RSS_PID" 2>/dev/null
	while read -r line; do
		[ -n "$line" ] || continue
		n=$((n + 1))
		for w in $line; do
			pid=${w%%:*} kb=${w#*:}
			[ "$kb" -gt "$peak" ] && peak=$kb ppid=$pid
		done
	done <"$LAB_DIR/rss.samples"
	[ "$n" -ge 1 ] || lab_fail "$what: no worker of regwalld ($E2E_DAEMON_PID) in any sample"
	for c in $(e2e_workers); do
		while read -r k v _; do
			[ "$k" = VmHWM: ] && [ "$v" -gt "$hwm" ] && hwm=$v
		done 2>/dev/null <"/proc/$c/status"
	done
	lab_log "$what: worker VmRSS peak $((peak / 1024)) MiB (pid $ppid, $n samples of $(wc -l <"$LAB_DIR/rss.samples")), VmHWM $((hwm / 1024)) MiB, bound $1 MiB"
	[ "$peak" -lt "$max_kb" ] || lab_fail "$what: a worker's VmRSS reached $peak kB (bound $1 MiB)"
	[ "$hwm" -lt "$max_kb" ] || lab_fail "$what: a worker's VmHWM reached $hwm kB (bound $1 MiB)"
}

# e2e_s_client NS HOST SNI-ARGS...: prints s_client's output; GET / sent.
e2e_s_client() {
	local ns=$1 host=$2
	shift 2
	printf 'GET / HTTP/1.0\r\n\r\n' | lab_exec "$ns" timeout 10 openssl s_client \
		-connect "$host:$LAB_PORT" -CAfile "$E2E_CERTS/ca.pem" -verify_return_error \
		-ign_eof "$@" 2>&1
}

# e2e_send_hello NS HOST FILE MODE: send a captured hello to HOST:LAB_PORT
# from NS, MODE "bytes" (1-byte TCP segments) or "records10" (re-framed into
# records of 10 payload bytes); prints the first 5 bytes answered, in hex.
e2e_send_hello() {
	lab_exec "$1" python3 - "$2" "$LAB_PORT" "$3" "$4" <<'PY'
import socket, sys, time
host, port, path, mode = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
h = open(path, "rb").read()
if mode == "records10":
    body = h[5:5 + ((h[3] << 8) | h[4])]
    out = b""
    for i in range(0, len(body), 10):
        c = body[i:i + 10]
        out += bytes([0x16, h[1], h[2], len(c) >> 8, len(c) & 255]) + c
    h = out
fam = socket.AF_INET6 if ":" in host else socket.AF_INET
s = socket.socket(fam, socket.SOCK_STREAM)
s.settimeout(8)
s.connect((host, port))
s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
if mode == "bytes":
    for i in range(len(h)):
        s.send(h[i:i + 1])
        time.sleep(0.002)
else:
    s.sendall(h)
got = b""
try:
    while len(got) < 5:
        d = s.recv(5 - len(got))
        if not d:
            break
        got += d
except OSError:
    pass
print(got.hex())
PY
}

# e2e_hold NS HOST NBYTES SECONDS: connect, send NBYTES of a record header,
# print how many seconds passed until the server closed (or "open").
e2e_hold() {
	lab_exec "$1" python3 - "$2" "$LAB_PORT" "$3" "$4" <<'PY'
import socket, sys, time
host, port, n, secs = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4])
fam = socket.AF_INET6 if ":" in host else socket.AF_INET
s = socket.socket(fam, socket.SOCK_STREAM)
s.connect((host, port))
s.send(bytes([0x16, 3, 1, 1, 0])[:n])
t0 = time.monotonic()
s.settimeout(secs)
try:
    while s.recv(100):
        pass
    print("%.1f" % (time.monotonic() - t0))
except socket.timeout:
    print("open")
except OSError:
    print("%.1f" % (time.monotonic() - t0))
PY
}

# e2e_client NS HOSTS CMD...: run CMD in namespace NS in a private mount
# namespace where HOSTS is /etc/hosts and skopeo's blob-info cache (root's
# /var/lib/containers/cache) is a tmpfs: neither the host's /etc/hosts nor
# its /var/lib is written by a test client.
e2e_client() {
	local ns=$1 hosts=$2
	shift 2
	lab_exec "$ns" unshare --mount sh -c '
		mount --bind "$0" /etc/hosts || exit 125
		if [ -d /var/lib/containers ]; then
			mount -t tmpfs -o mode=0700,size=64m tmpfs /var/lib/containers || exit 125
		else # no mount point to cover: cover /var/lib (skopeo needs nothing there)
			mount -t tmpfs -o mode=0755,size=64m tmpfs /var/lib || exit 125
		fi
		exec "$@"' "$hosts" "$@"
}

# e2e_registry plain|tls: Debian's docker-registry in the registry
# namespace on $LAB_REG4:$LAB_REG_PORT, storage in $LAB_DIR/storage,
# serving plain HTTP or TLS with the test server certificate; returns when
# it answers /v2/ (the PID is recorded by lab_bg and ended at exit).
e2e_registry() {
	local mode=$1 tls="" url="http://$LAB_REG4:$LAB_REG_PORT/v2/" curl_tls=()
	if [ "$mode" = tls ]; then
		tls="  tls:
    certificate: $E2E_CERTS/server.pem
    key: $E2E_CERTS/server.key"
		url="https://$E2E_NAME:$LAB_REG_PORT/v2/"
		curl_tls=(--cacert "$E2E_CERTS/ca.pem" --resolve "$E2E_NAME:$LAB_REG_PORT:$LAB_REG4")
	fi
	mkdir -p "$LAB_DIR/storage"
	cat >"$LAB_DIR/registry.yml" <<EOF2
version: 0.1
log: { level: warn }
storage:
  filesystem: { rootdirectory: $LAB_DIR/storage }
  delete: { enabled: true }
http:
  addr: $LAB_REG4:$LAB_REG_PORT
$tls
EOF2
	lab_bg registry docker-registry serve "$LAB_DIR/registry.yml" >"$LAB_DIR/registry.log" 2>&1
	lab_wait_for 15 lab_exec registry curl -sf "${curl_tls[@]}" "$url" -o /dev/null ||
		lab_fail "docker-registry ($mode) did not come up: $(cat "$LAB_DIR/registry.log")"
}
