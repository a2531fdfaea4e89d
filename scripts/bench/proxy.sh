#!/usr/bin/env bash
# Benchmark (not a test): regwall's data path against HAProxy and against a
# direct connection, on this machine, in one network namespace made here.
# It prints numbers and never fails on them. Method, topology and the meaning
# of every figure: docs/design/bench-proxy.md.
#
#   (a) passthrough: 1 GiB TLS download (curl) and short TLS connections per
#       second (build/bench/bench_mtls without a client certificate, one GET
#       of a 64-byte file per connection): direct to nginx, regwall
#       passthrough listener, HAProxy mode tcp with req.ssl_sni
#   (b) terminate with client certificates: full mTLS handshakes + one
#       GET /v2/ per connection (bench_mtls with the test client cert),
#       regwall terminate listener vs HAProxy (verify required, crl-file),
#       both speaking HTTP/1.1 to the same plain-HTTP nginx
#   (c) memory per idle connection: 2,000 completed mTLS sessions held on
#       the terminate listeners (and, for information, 2,000 passthrough
#       connections with their handshake done end to end)
#
# One worker for regwall (-w 1) and one thread for HAProxy (nbthread 1), so
# the load generator and nginx share the other core. Repetitions are
# interleaved (A B C A C B ...: the two proxies' order alternates); medians
# are reported, with the proxies' CPU time (utime+stime of every proxy
# process, /proc/PID/stat) per unit of work. The RESULT rate ratios are
# paired: the median over repetitions of regwall's rate over HAProxy's in
# the same repetition.
#
# Needs root (namespaces). Knobs: BENCH_REPS (5; downloads and idle memory),
# BENCH_CPS_REPS (11; the short-connection rates), BENCH_BIG_MIB (1024),
# BENCH_CPS_SECS (2), BENCH_CONC (32), BENCH_IDLE (2000), BENCH_TERM=0 skips
# the terminate part (for profiling the passthrough path), BENCH_KEEP=1 keeps
# the lab directory, BENCH_STRACE=DIR writes `strace -c` of each proxy's
# short-connection runs there (with the run's connection count; the rates of
# such a run mean nothing), BENCH_PERF=DIR writes `perf record -a` (the whole
# machine; BENCH_PERF_ARGS, default -g) during each proxy's short-connection
# runs there. The whole run is capped at 600 s (BENCH_MAX_SECS).
# Last line:
#   RESULT pass_tput_vs_haproxy=<x> pass_cps_vs_haproxy=<x>
#          mtls_hs_vs_haproxy=<x> idle_mem_vs_haproxy=<x> pass_tput_vs_direct=<x>
set -u
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
# shellcheck source=../../tests/net/lib.sh
. "$ROOT/tests/net/lib.sh"
BUILD=${BUILD:-$ROOT/build}
TPL="$ROOT/scripts/bench/proxy"
CERTS="$ROOT/tests/data/certs"
GEN="$BUILD/bench/bench_mtls"
NAME=registry.example.test

REPS=${BENCH_REPS:-5}
BIG_MIB=${BENCH_BIG_MIB:-1024}
CPS_SECS=${BENCH_CPS_SECS:-2}
# short runs, many of them: this VM's speed drifts within a minute, and a
# pair of 2 s runs sees less of that drift than a pair of 4 s runs
CPS_REPS=${BENCH_CPS_REPS:-11}
CONC=${BENCH_CONC:-32}
IDLE=${BENCH_IDLE:-2000}
MAX_SECS=${BENCH_MAX_SECS:-600}
LAB_KEEP=${BENCH_KEEP:-0}
STRACE_DIR=${BENCH_STRACE:-} # a directory: strace -c of each proxy per cps run
PERF_DIR=${BENCH_PERF:-}     # a directory: perf record -a per proxy cps run

# Addresses, all on the namespace's loopback (documentation ranges only):
PROXY4=203.0.113.1    # regwall's and HAProxy's listeners
BACK4=198.51.100.10   # nginx: TLS :8443 (passthrough backend), HTTP :8080
SRCS=""               # client sources 203.0.113.10-29, round-robin
for i in $(seq 10 29); do SRCS+="${SRCS:+,}203.0.113.$i"; done
P_DIRECT=8443 P_RW_PASS=9443 P_HA_PASS=9543 P_RW_TERM=9444 P_HA_TERM=9544 P_HTTP=8080

# like the other scripts/bench/*.sh: a machine that cannot run it is a
# skip (exit 0), so `make bench` runs the rest
bench_skip() { echo "SKIP: proxy bench: $*"; exit 0; }
[ "$(id -u)" -eq 0 ] || bench_skip "needs root (network namespaces)"
for t in haproxy nginx curl openssl ip; do
	command -v "$t" >/dev/null 2>&1 || bench_skip "$t not installed"
done
lab_require_build
[ -x "$GEN" ] || lab_fail "no $GEN (make $GEN)"
# 2,000 idle connections cost the proxies 2-4 fds each: raise the soft
# limit as far as the hard one allows (root may still lack CAP_SYS_RESOURCE)
ulimit -n "$(ulimit -Hn)" 2>/dev/null
[ "$(ulimit -n)" = unlimited ] || [ "$(ulimit -n)" -ge $((IDLE * 2 + 1000)) ] ||
	lab_fail "open-file limit $(ulimit -n) too low for $IDLE idle connections"
lab_init
# lab_init's trap removes the namespace and every recorded PID at exit; a
# watchdog (recorded too) bounds the whole run.
# The watchdog's sleep is ended with it (its TERM trap), so it never
# outlives the run nor holds the output pipe open.
(
	trap 'kill "$sp" 2>/dev/null; exit 0' TERM
	sleep "$MAX_SECS" </dev/null >/dev/null 2>&1 &
	sp=$!
	wait "$sp" && { echo "proxy bench: over ${MAX_SECS}s, stopping" >&2; kill -TERM $$; }
) &
LAB_PIDS+=("$!")

log() { printf '%s\n' "$*" >&2; }

# ---- the lab: one namespace, everything on its loopback ---------------------
lab_ns bench
lab_exec bench ip addr add "$PROXY4/32" dev lo
lab_exec bench ip addr add "$BACK4/32" dev lo
for a in ${SRCS//,/ }; do lab_exec bench ip addr add "$a/32" dev lo; done
# many short connections: reuse TIME_WAIT ports for new outgoing connects
# (client -> proxy and proxy -> backend), a wide port range, deep backlogs
lab_exec bench sysctl -qw net.ipv4.tcp_tw_reuse=1 "net.ipv4.ip_local_port_range=1024 65000" \
	net.core.somaxconn=8192 net.ipv4.tcp_max_syn_backlog=8192 >/dev/null

W="$LAB_DIR"
mkdir -p "$W/www" "$W/www/v2"
head -c $((BIG_MIB * 1048576)) /dev/zero >"$W/www/big" || lab_fail "big file"
head -c 64 /dev/zero | tr '\0' x >"$W/www/small"
cat "$CERTS/server.pem" "$CERTS/server.key" >"$W/server-combined.pem"
chmod -R a+rX "$W"

render() { # TEMPLATE OUT: @W@ @CERTS@ @PROXY4@ @BACK4@ and ports substituted
	sed -e "s|@W@|$W|g" -e "s|@CERTS@|$CERTS|g" -e "s|@PROXY4@|$PROXY4|g" \
		-e "s|@BACK4@|$BACK4|g" -e "s|@P_DIRECT@|$P_DIRECT|g" -e "s|@P_HTTP@|$P_HTTP|g" \
		-e "s|@P_RW_PASS@|$P_RW_PASS|g" -e "s|@P_HA_PASS@|$P_HA_PASS|g" \
		-e "s|@P_RW_TERM@|$P_RW_TERM|g" -e "s|@P_HA_TERM@|$P_HA_TERM|g" "$1" >"$2"
}

# ---- process accounting ------------------------------------------------------
TCK=$(getconf CLK_TCK)
RW_PID="" HA_PID="" NG_PID=""
procs_of() { # regwall|haproxy -> the PIDs of that proxy (regwalld: parent + workers)
	case $1 in
	regwall) [ -n "$RW_PID" ] && echo "$RW_PID" $(pgrep -P "$RW_PID") ;;
	haproxy) [ -n "$HA_PID" ] && echo "$HA_PID" $(pgrep -P "$HA_PID") ;;
	nginx) echo "$NG_PID" $(pgrep -P "$NG_PID") ;;
	esac
}
cpu_ticks() { # PIDS... -> utime+stime summed (clock ticks)
	local p s=0 line f
	for p in "$@"; do
		line=$(cat "/proc/$p/stat" 2>/dev/null) || continue
		# after the ")" that ends comm: state is field 0, utime 11, stime 12
		read -ra f <<<"${line##*) }"
		s=$((s + f[11] + f[12]))
	done
	echo "$s"
}
rss_kib() { # PIDS... -> VmRSS summed (KiB)
	local p s=0 v
	for p in "$@"; do
		v=$(awk '/^VmRSS:/ { print $2 }' "/proc/$p/status" 2>/dev/null)
		s=$((s + ${v:-0}))
	done
	echo "$s"
}
proxy_ticks() { [ "$1" = direct ] && echo 0 || cpu_ticks $(procs_of "$1"); }

# ---- servers -------------------------------------------------------------------
start_nginx() {
	render "$TPL/nginx.conf.in" "$W/nginx.conf"
	lab_bg bench nginx -p "$W" -e "$W/nginx.err" -c "$W/nginx.conf"
	NG_PID=$LAB_LAST_PID
	lab_wait_for 10 lab_exec bench curl -sf -o /dev/null "http://$BACK4:$P_HTTP/v2/" ||
		lab_fail "nginx did not come up: $(cat "$W/nginx.err")"
}

start_regwall() { # CONF
	: >"$W/regwalld.log"
	lab_bg bench "$BUILD/regwalld" -c "$1" -f -s "$W/ctl.sock" -w 1 \
		>"$W/events.jsonl" 2>>"$W/regwalld.log"
	RW_PID=$LAB_LAST_PID
	lab_wait_for 10 grep -q "regwalld: ready" "$W/regwalld.log" ||
		lab_fail "regwalld not ready: $(cat "$W/regwalld.log")"
	lab_wait_for 5 test -n "$(pgrep -P "$RW_PID")" || lab_fail "no regwalld worker"
	# the table regwalld applied loads conntrack here; its TIME_WAIT entries
	# must not pile up over ~10^5 short connections (same for every path)
	lab_exec bench sysctl -qw net.netfilter.nf_conntrack_tcp_timeout_time_wait=1 >/dev/null 2>&1
}

start_haproxy() { # CFG
	lab_exec bench haproxy -c -q -f "$1" || lab_fail "haproxy config $1 invalid"
	lab_bg bench haproxy -db -f "$1"
	HA_PID=$LAB_LAST_PID
}

# A fresh process for every memory run: both allocators keep freed memory
# (glibc's heap in regwall, HAProxy's pools), so a second run in the same
# process would measure reuse, not the cost of a connection.
RW_CONF="" HA_CFG=""
restart_proxy() { # CAND
	case $1 in
	regwall) lab_stop "$RW_PID"; start_regwall "$RW_CONF" ;;
	haproxy) lab_stop "$HA_PID"; start_haproxy "$HA_CFG" ;;
	esac
}

stop_proxies() {
	[ -n "$RW_PID" ] && lab_stop "$RW_PID"
	[ -n "$HA_PID" ] && lab_stop "$HA_PID"
	RW_PID="" HA_PID=""
}

wait_port() { # PORT
	lab_wait_for 10 lab_exec bench bash -c "exec 3<>/dev/tcp/$PROXY4/$1" ||
		lab_fail "nothing listens on $PROXY4:$1"
}

# ---- measurements ----------------------------------------------------------
# Each run appends "section cand value cpu_ticks units" to $W/results.
RES="$W/results"
: >"$RES"

target() { # CAND MODE -> "addr port"
	case $1/$2 in
	direct/pass) echo "$BACK4 $P_DIRECT" ;;
	regwall/pass) echo "$PROXY4 $P_RW_PASS" ;;
	haproxy/pass) echo "$PROXY4 $P_HA_PASS" ;;
	regwall/term) echo "$PROXY4 $P_RW_TERM" ;;
	haproxy/term) echo "$PROXY4 $P_HA_TERM" ;;
	esac
}

run_tput() { # CAND REP
	local addr port c0 c1 b0 b1 out
	read -r addr port <<<"$(target "$1" pass)"
	c0=$(proxy_ticks "$1") b0=$(proxy_ticks nginx)
	out=$(lab_exec bench timeout 120 curl -sS --max-time 110 --cacert "$CERTS/ca.pem" \
		--interface 203.0.113.10 --resolve "$NAME:$port:$addr" \
		-o /dev/null -w '%{size_download} %{time_total}' "https://$NAME:$port/big") || {
		log "  tput $1 rep $2: curl failed ($out)"
		return
	}
	c1=$(proxy_ticks "$1") b1=$(proxy_ticks nginx)
	local bytes secs
	read -r bytes secs <<<"$out"
	awk -v b="$bytes" -v s="$secs" -v c=$((c1 - c0)) -v bc=$((b1 - b0)) -v cand="$1" -v t="$TCK" -v rep="$2" '
	BEGIN {
		mibs = b / 1048576 / s; gib = b / 1073741824
		printf "tput %s %.1f %.3f %.6f %.3f %d\n", cand, mibs, c * 1000 / t, gib, bc * 1000 / t, rep >> "'"$RES"'"
		printf "  tput     rep %d %-8s %8.1f MiB/s  %6.2f s  cpu ms/GiB: proxy %5.0f  nginx %5.0f\n", rep, cand, mibs, s, (gib > 0 ? c * 1000 / t / gib : 0), (gib > 0 ? bc * 1000 / t / gib : 0) > "/dev/stderr"
	}'
}

run_gen() { # SECTION CAND MODE REP ARGS...: bench_mtls load run
	local sec=$1 cand=$2 mode=$3 rep=$4 addr port c0 c1 b0 b1 out
	shift 4
	read -r addr port <<<"$(target "$cand" "$mode")"
	c0=$(proxy_ticks "$cand") b0=$(proxy_ticks nginx)
	# regwall's figure is parent + workers; the parent's own share (it
	# receives and writes the event lines) is printed beside it
	local par0=0 par1=0
	[ "$cand" = regwall ] && par0=$(cpu_ticks "$RW_PID")
	local st=""
	if [ -n "$STRACE_DIR" ] && [ "$sec" = cps ] && [ "$cand" != direct ]; then
		# system calls per connection (strace -c slows the proxy: the
		# rates of such a run mean nothing)
		strace ${BENCH_STRACE_ARGS:--c} -f -o "$STRACE_DIR/$cand-$rep.txt" $(procs_of "$cand" | sed 's/[0-9][0-9]*/-p &/g') &
		st=$!
		sleep 0.5
	fi
	local pf=""
	if [ -n "$PERF_DIR" ] && [ "$sec" = cps ] && [ "$cand" != direct ]; then
		# where the CPU goes, the whole machine's (the client's and nginx's
		# kernel work depends on the proxy too): perf report --sort comm,sym
		perf record -q -a ${BENCH_PERF_ARGS:--g} -o "$PERF_DIR/$cand-$rep.data" >/dev/null 2>&1 &
		pf=$!
		sleep 0.5
	fi
	out=$(lab_exec bench timeout $((CPS_SECS + 30)) "$GEN" -a "$addr" -p "$port" -s "$NAME" \
		-A "$CERTS/ca.pem" -b "$SRCS" -C "$CONC" -t "$CPS_SECS" "$@" 2>&1)
	if [ -n "$st" ]; then
		kill -INT "$st" 2>/dev/null
		wait "$st" 2>/dev/null
		printf 'conns=%s\n' "$(sed -n 's/^bench_mtls: conns=.* ok=\([0-9]*\).*/\1/p' <<<"$out")" >>"$STRACE_DIR/$cand-$rep.txt"
	fi
	if [ -n "$pf" ]; then
		kill -INT "$pf" 2>/dev/null
		wait "$pf" 2>/dev/null
	fi
	c1=$(proxy_ticks "$cand") b1=$(proxy_ticks nginx)
	[ "$cand" = regwall ] && par1=$(cpu_ticks "$RW_PID")
	local line
	line=$(grep '^bench_mtls: conns=' <<<"$out")
	[ -n "$line" ] || {
		log "  $sec $cand rep $rep: load generator failed: $out"
		return
	}
	awk -v l="$line" -v c=$((c1 - c0)) -v bc=$((b1 - b0)) -v pc=$((par1 - par0)) -v cand="$cand" -v t="$TCK" -v sec="$sec" -v rep="$rep" '
	BEGIN {
		n = split(l, kv, " ")
		for (i = 2; i <= n; i++) { split(kv[i], p, "="); v[p[1]] = p[2] }
		rate = v["req_per_s"]; ok = v["ok"]
		printf "%s %s %.1f %.3f %d %.3f %.3f %d\n", sec, cand, rate, c * 1000 / t, ok, bc * 1000 / t, v["cpu_ms"], rep >> "'"$RES"'"
		if (ok < 1) ok = 1
		printf "  %-6s rep %d %-8s %6.0f conn/s  ok %6d  err %d/%d/%d  p50 %6.2f ms  p99 %6.2f ms  cpu us/conn: proxy %6.1f  nginx %6.1f  client %6.1f%s  client sys %5.1f us, sleeps %4.2f /conn\n", sec, rep, cand, rate, v["ok"], v["err_connect"], v["err_tls"], v["err_http"], v["p50_ms"], v["p99_ms"], c * 1e6 / t / ok, bc * 1e6 / t / ok, v["cpu_ms"] * 1000 / ok, (cand == "regwall" ? sprintf("  (parent %.1f)", pc * 1e6 / t / ok) : ""), v["sys_ms"] * 1000 / ok, v["vcsw"] / ok > "/dev/stderr"
	}'
}

run_idle() { # SECTION CAND MODE REP ARGS...: hold IDLE connections, RSS before/after
	local sec=$1 cand=$2 mode=$3 rep=$4 addr port r0 r1 gp ok
	shift 4
	read -r addr port <<<"$(target "$cand" "$mode")"
	rm -f "$W/ready"
	restart_proxy "$cand"
	wait_port "$port"
	sleep 1
	r0=$(rss_kib $(procs_of "$cand"))
	lab_bg bench "$GEN" -a "$addr" -p "$port" -s "$NAME" -A "$CERTS/ca.pem" -b "$SRCS" \
		-C "$CONC" -I "$IDLE" -r "$W/ready" -t 60 "$@" >/dev/null 2>"$W/idle.err"
	gp=$LAB_LAST_PID
	lab_wait_for 55 test -s "$W/ready" || log "  idle $cand: not ready: $(cat "$W/idle.err")"
	sleep 1 # the proxy has read the last Finished messages
	r1=$(rss_kib $(procs_of "$cand"))
	ok=$(sed -n 's/^ok=\([0-9]*\).*/\1/p' "$W/ready" 2>/dev/null)
	lab_stop "$gp"
	awk -v a="$r0" -v b="$r1" -v n="${ok:-0}" -v cand="$cand" -v sec="$sec" -v rep="$rep" '
	BEGIN {
		per = (n > 0 ? (b - a) * 1024 / n : 0)
		printf "%s %s %.0f 0 %d\n", sec, cand, per, n >> "'"$RES"'"
		printf "  %-8s rep %d %-8s %6d conns  RSS %7d -> %7d KiB  %7.0f bytes/conn\n", sec, rep, cand, n, a, b, per > "/dev/stderr"
	}'
}

median() { # SECTION CAND COLUMN(3=value 4=cpu_ms 5=units) -> median of the per-run value
	awk -v s="$1" -v c="$2" -v col="$3" '$1 == s && $2 == c { v[n++] = $col }
	END {
		if (!n) { print "nan"; exit }
		for (i = 0; i < n; i++) for (j = i + 1; j < n; j++) if (v[j] < v[i]) { t = v[i]; v[i] = v[j]; v[j] = t }
		print (n % 2 ? v[int(n / 2)] : (v[n / 2 - 1] + v[n / 2]) / 2)
	}' "$RES"
}
cpu_per() { # SECTION CAND SCALE [COL] -> median over runs of cpu_ms(COL: 4 proxy,
	# 6 nginx, 7 client)*SCALE/units
	awk -v s="$1" -v c="$2" -v k="$3" -v col="${4:-4}" '$1 == s && $2 == c && $5 > 0 { v[n++] = $col * k / $5 }
	END {
		if (!n) { print "nan"; exit }
		for (i = 0; i < n; i++) for (j = i + 1; j < n; j++) if (v[j] < v[i]) { t = v[i]; v[i] = v[j]; v[j] = t }
		print (n % 2 ? v[int(n / 2)] : (v[n / 2 - 1] + v[n / 2]) / 2)
	}' "$RES"
}
# The RESULT ratios are paired: regwall's figure over HAProxy's from the
# same repetition (the two runs back to back, their order alternating from
# one repetition to the next), then the median over repetitions. This VM's
# speed drifts by up to 2x over a minute; a ratio of two medians taken from
# different minutes carries that drift, a ratio of neighbours mostly not.
paired() { # SECTION REP_COLUMN -> median over reps of regwall/haproxy (column 3)
	awk -v s="$1" -v rc="$2" '$1 == s && $2 == "regwall" { r[$rc] = $3 } $1 == s && $2 == "haproxy" { h[$rc] = $3 }
	END {
		for (k in r) if ((k in h) && h[k] > 0) v[n++] = r[k] / h[k]
		if (!n) { print "nan"; exit }
		for (i = 0; i < n; i++) for (j = i + 1; j < n; j++) if (v[j] < v[i]) { t = v[i]; v[i] = v[j]; v[j] = t }
		printf "%.3f\n", (n % 2 ? v[int(n / 2)] : (v[n / 2 - 1] + v[n / 2]) / 2)
	}' "$RES"
}
pair_order() { # REP -> the two proxies in this repetition's order
	if [ $(($1 % 2)) = 1 ]; then echo regwall haproxy; else echo haproxy regwall; fi
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a == "nan" || b == "nan" || b + 0 == 0) print "nan"; else printf "%.3f\n", a / b }'; }

# ---- (a) passthrough ---------------------------------------------------------
start_nginx
render "$TPL/regwall-pass.conf.in" "$W/regwall-pass.conf"
render "$TPL/haproxy-pass.cfg.in" "$W/haproxy-pass.cfg"
RW_CONF="$W/regwall-pass.conf" HA_CFG="$W/haproxy-pass.cfg"
start_regwall "$RW_CONF"
start_haproxy "$HA_CFG"
wait_port "$P_RW_PASS"
wait_port "$P_HA_PASS"
for cand in direct regwall haproxy; do # warm-up, and a check that each path works
	read -r addr port <<<"$(target "$cand" pass)"
	lab_exec bench curl -sS --max-time 10 --cacert "$CERTS/ca.pem" --interface 203.0.113.10 \
		--resolve "$NAME:$port:$addr" -o /dev/null "https://$NAME:$port/small" ||
		lab_fail "passthrough path $cand does not work"
done
log "(a) passthrough: ${BIG_MIB} MiB download x $REPS, ${CPS_SECS}s of short connections x $CPS_REPS (concurrency $CONC)"
for rep in $(seq 1 "$REPS"); do
	for cand in direct $(pair_order "$rep"); do run_tput "$cand" "$rep"; done
done
for rep in $(seq 1 "$CPS_REPS"); do
	for cand in direct $(pair_order "$rep"); do run_gen cps "$cand" pass "$rep" -u /small; done
done
log "(c') passthrough idle: $IDLE connections, TLS done end to end (for information)"
for rep in 1; do
	for cand in regwall haproxy; do run_idle pidle "$cand" pass "$rep"; done
done
stop_proxies

# ---- (b) terminate with client certificates, (c) idle mTLS sessions ----------
if [ "${BENCH_TERM:-1}" = 1 ]; then # BENCH_TERM=0: passthrough only (profiling)
render "$TPL/regwall-term.conf.in" "$W/regwall-term.conf"
render "$TPL/haproxy-term.cfg.in" "$W/haproxy-term.cfg"
RW_CONF="$W/regwall-term.conf" HA_CFG="$W/haproxy-term.cfg"
start_regwall "$RW_CONF"
start_haproxy "$HA_CFG"
wait_port "$P_RW_TERM"
wait_port "$P_HA_TERM"
MTLS=(-c "$CERTS/client.pem" -k "$CERTS/client.key" -u /v2/)
for cand in regwall haproxy; do
	read -r addr port <<<"$(target "$cand" term)"
	out=$(lab_exec bench "$GEN" -a "$addr" -p "$port" -s "$NAME" -A "$CERTS/ca.pem" \
		-b 203.0.113.10 -C 1 -n 3 -t 5 "${MTLS[@]}")
	grep -q ' ok=3 ' <<<"$out" || lab_fail "terminate path $cand does not work: $out"
	# the client certificate is required: without one no request gets through
	out=$(lab_exec bench "$GEN" -a "$addr" -p "$port" -s "$NAME" -A "$CERTS/ca.pem" \
		-b 203.0.113.10 -C 1 -n 1 -t 5 -u /v2/)
	grep -q ' ok=0 ' <<<"$out" || lab_fail "$cand answered without a client certificate: $out"
done
log "(b) terminate, mTLS handshake + GET /v2/ per connection: ${CPS_SECS}s x $CPS_REPS (concurrency $CONC)"
for rep in $(seq 1 "$CPS_REPS"); do
	for cand in $(pair_order "$rep"); do run_gen mtls "$cand" term "$rep" "${MTLS[@]}"; done
done
log "(c) terminate idle: $IDLE completed mTLS sessions held"
for rep in $(seq 1 "$REPS"); do
	for cand in regwall haproxy; do run_idle idle "$cand" term "$rep" "${MTLS[@]}"; done
done
stop_proxies
fi

# ---- summary -----------------------------------------------------------------
t_d=$(median tput direct 3) t_r=$(median tput regwall 3) t_h=$(median tput haproxy 3)
c_d=$(median cps direct 3) c_r=$(median cps regwall 3) c_h=$(median cps haproxy 3)
m_r=$(median mtls regwall 3) m_h=$(median mtls haproxy 3)
i_r=$(median idle regwall 3) i_h=$(median idle haproxy 3)
pi_r=$(median pidle regwall 3) pi_h=$(median pidle haproxy 3)
tc_r=$(cpu_per tput regwall 1) tc_h=$(cpu_per tput haproxy 1)
cc_r=$(cpu_per cps regwall 1000) cc_h=$(cpu_per cps haproxy 1000)
mc_r=$(cpu_per mtls regwall 1000) mc_h=$(cpu_per mtls haproxy 1000)
cat <<EOF
proxy bench: medians of $REPS (rates of short connections: $CPS_REPS) interleaved runs; regwall -w 1, HAProxy nbthread 1; $(nproc) CPUs
  passthrough 1 GiB TLS download   direct $t_d MiB/s   regwall $t_r MiB/s   haproxy $t_h MiB/s
    proxy CPU per GiB              regwall $tc_r ms   haproxy $tc_h ms
    nginx CPU per GiB              direct $(cpu_per tput direct 1 6) ms   regwall $(cpu_per tput regwall 1 6) ms   haproxy $(cpu_per tput haproxy 1 6) ms
  passthrough short TLS conns/s    direct $c_d   regwall $c_r   haproxy $c_h
    proxy CPU per connection       regwall $cc_r us   haproxy $cc_h us
    client CPU per connection      direct $(cpu_per cps direct 1000 7) us   regwall $(cpu_per cps regwall 1000 7) us   haproxy $(cpu_per cps haproxy 1000 7) us
  terminate mTLS hs+GET/s          regwall $m_r   haproxy $m_h
    proxy CPU per handshake+GET    regwall $mc_r us   haproxy $mc_h us
    client CPU per handshake+GET   regwall $(cpu_per mtls regwall 1000 7) us   haproxy $(cpu_per mtls haproxy 1000 7) us
    nginx CPU per GET              regwall $(cpu_per mtls regwall 1000 6) us   haproxy $(cpu_per mtls haproxy 1000 6) us
  idle mTLS session (RSS/conn)     regwall $i_r B   haproxy $i_h B
  idle passthrough conn (RSS/conn) regwall $pi_r B   haproxy $pi_h B   (information)
  CPU-fair ratios (haproxy CPU per unit / regwall CPU per unit, higher = regwall cheaper):
    tput $(ratio "$tc_h" "$tc_r")   cps $(ratio "$cc_h" "$cc_r")   mtls $(ratio "$mc_h" "$mc_r")
  ratios of the medians above (information; RESULT pairs each repetition's runs):
    tput $(ratio "$t_r" "$t_h")   cps $(ratio "$c_r" "$c_h")   mtls $(ratio "$m_r" "$m_h")
EOF
echo "RESULT pass_tput_vs_haproxy=$(paired tput 7) pass_cps_vs_haproxy=$(paired cps 8) mtls_hs_vs_haproxy=$(paired mtls 8) idle_mem_vs_haproxy=$(ratio "$i_r" "$i_h") pass_tput_vs_direct=$(ratio "$t_r" "$t_d")"
