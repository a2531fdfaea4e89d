#!/usr/bin/env bash
# The metrics endpoint (metrics.listen, docs/design/metrics.md), with
# regwalld --workers 2 in the lab's gw namespace and the endpoint on a lab
# address (203.0.113.1:9477), allowed only to the office client 203.0.113.10:
#   * traffic: allowed passthrough connections (TLS through to the echo
#     registry), connections refused by the workers (closed before a
#     ClientHello: hello_eof), and connects from outside dropped by the
#     table; the endpoint's counters equal what the events on regwalld's
#     stdout say;
#   * `promtool check metrics` passes on the endpoint's output;
#   * the second office source (203.0.113.11) is closed without an answer;
#     POST /metrics is 405 and GET /other is 404;
#   * a real prometheus server (own config and data dir under LAB_DIR,
#     web on 203.0.113.10:9090 in the office namespace, killed by PID at
#     exit) scrapes the endpoint, and the counter it returns through
#     /api/v1/query equals regwalld's;
#   * a manual ban is counted;
#   * counters survive a worker killed with SIGKILL (restart counted) and
#     a reload (counted as a success);
#   * a reload that changes metrics.listen and metrics.allow moves the
#     endpoint and lets the new source in;
#   * an endpoint address gw does not have refuses the start.
set -u
. "$(dirname "$0")/lib.sh"
lab_require_root
lab_require_build
lab_init
lab_topology
lab_echo_server registry "$LAB_REG_PORT"
for c in jq curl promtool prometheus; do
	command -v "$c" >/dev/null 2>&1 || lab_skip "$c not installed (scripts/install-deps.sh)"
done

MADDR=$LAB_GW4
MPORT=9477
MURL="http://$MADDR:$MPORT/metrics"
conf="$LAB_DIR/a.conf"
lab_conf "$conf"
cat >>"$conf" <<EOF
metrics = {
    listen = "$MADDR:$MPORT";
    allow = [ "$LAB_OFFICE4/32" ];
};
EOF
# an endpoint that cannot be bound refuses the start, as a listener does
bad="$LAB_DIR/bad.conf"
sed "s/listen = \"$MADDR:$MPORT\"/listen = \"192.0.2.99:$MPORT\"/" "$conf" >"$bad"
grep -q 192.0.2.99 "$bad" || lab_fail "bad.conf not made"
lab_exec gw timeout 20 "$BUILD/regwalld" -c "$bad" -f -s "$LAB_DIR/bad.sock" --workers 1 \
	>/dev/null 2>"$LAB_DIR/bad.log" && lab_fail "regwalld started with an endpoint it cannot bind"
grep -q "metrics.listen 192.0.2.99:$MPORT: cannot listen" "$LAB_DIR/bad.log" ||
	lab_fail "no word of the endpoint: $(cat "$LAB_DIR/bad.log")"
lab_log "metrics.listen on an address gw does not have: the start fails ($(grep -m1 'metrics.listen' "$LAB_DIR/bad.log"))"

lab_daemon "$conf" gw --workers 2
daemon=$LAB_DAEMON_PID
workers() { pgrep -P "$daemon" | sort -n; }
two_up() { [ "$(lab_ctl -j status | jq '[.worker_list[] | select(.last_heard_ms < 1000)] | length')" = 2 ]; }
lab_wait_for 10 two_up || lab_fail "two workers not up: $(lab_ctl -j status)"

scrape() { lab_exec office curl -sS --max-time 3 --interface "$LAB_OFFICE4" "$MURL"; }
# metric SERIES: its value in a fresh scrape (empty when absent)
metric() {
	scrape | awk -v s="$1" '$1 == s { print $2 }'
}
# events on regwalld's stdout with this listener, kind and reason
events() {
	python3 -c 'import json, sys
n = 0
for line in open(sys.argv[1]):
    try:
        d = json.loads(line)
    except ValueError:
        continue
    if (d.get("listener"), d.get("kind"), d.get("reason")) == tuple(sys.argv[2:5]):
        n += 1
print(n)' "$LAB_DIR/events.jsonl" "$@"
}
# connect and close at once: the worker sees no ClientHello
bare_connect() {
	lab_exec office python3 -c 'import socket, sys
s = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=2)
s.close()' "$LAB_GW4" "$LAB_PORT" || lab_fail "bare connect"
}

PASS='regwall_connections_total{listener="https",outcome="passthrough"}'
REFUSED='regwall_connections_total{listener="https",outcome="refused"}'
EOFREF='regwall_refusals_total{listener="https",reason="hello_eof"}'

# --- traffic ---
for _ in 1 2 3 4 5; do lab_expect_probe ok office "$LAB_GW4" "$LAB_PORT" 3; done
for _ in 1 2 3; do bare_connect; done
for _ in 1 2; do lab_expect_dropped outside "$LAB_GW4" "$LAB_PORT" 1; done
want_pass() { [ "$(events https pass "done")" = 5 ] && [ "$(events https refuse hello_eof)" = 3 ]; }
lab_wait_for 5 want_pass ||
	lab_fail "events: pass/done $(events https pass "done"), refuse/hello_eof $(events https refuse hello_eof)"
counted() { [ "$(metric "$PASS")" = 5 ] && [ "$(metric "$EOFREF")" = 3 ]; }
lab_wait_for 5 counted || lab_fail "metrics after traffic: $(scrape | grep -E 'connections_total|refusals_total')"
[ "$(metric "$REFUSED")" = 3 ] || lab_fail "$REFUSED = $(metric "$REFUSED"), want 3"
lab_log "after 5 passed, 3 refused by the workers, 2 dropped by the table: $PASS 5, $EOFREF 3"
scrape | grep -qF 203.0.113.1 && lab_fail "a client address appears in the metrics"

# --- the format ---
scrape >"$LAB_DIR/metrics.txt" || lab_fail "scrape failed"
out=$(promtool check metrics <"$LAB_DIR/metrics.txt" 2>&1) || lab_fail "promtool check metrics: $out"
[ -z "$out" ] || lab_fail "promtool check metrics has remarks: $out"
lab_log "promtool check metrics: clean ($(grep -c '^# TYPE' "$LAB_DIR/metrics.txt") families)"
ct=$(lab_exec office curl -sS -o /dev/null -w '%{content_type}' --interface "$LAB_OFFICE4" "$MURL")
[ "$ct" = "text/plain; version=0.0.4; charset=utf-8" ] || lab_fail "Content-Type: $ct"

# --- access control and what else is refused ---
code=$(lab_exec office curl -s -o /dev/null -w '%{http_code}' --max-time 3 --interface "$LAB_OFFICE4B" "$MURL")
rc=$?
if [ "$code" != 000 ] || [ "$rc" -eq 0 ]; then
	lab_fail "from $LAB_OFFICE4B (not in metrics.allow): status $code, curl rc $rc"
fi
lab_log "from $LAB_OFFICE4B: closed without an answer (curl rc $rc)"
code=$(lab_exec outside curl -s -o /dev/null -w '%{http_code}' --max-time 3 "$MURL")
[ "$code" = 000 ] || lab_fail "from outside: status $code"
code=$(lab_exec office curl -s -o /dev/null -w '%{http_code}' --interface "$LAB_OFFICE4" -X POST "$MURL")
[ "$code" = 405 ] || lab_fail "POST /metrics: $code, want 405"
code=$(lab_exec office curl -s -o /dev/null -w '%{http_code}' --interface "$LAB_OFFICE4" "http://$MADDR:$MPORT/other")
[ "$code" = 404 ] || lab_fail "GET /other: $code, want 404"
ref=$(metric 'regwall_metrics_refused_total{why="address"}')
[ "${ref:-0}" -ge 2 ] || lab_fail "refused by address: ${ref:-none}, want >= 2"
lab_log "POST 405, /other 404, disallowed sources closed ($ref counted)"

# --- a real prometheus scrapes it ---
pdir="$LAB_DIR/prometheus"
mkdir -p "$pdir/data"
cat >"$pdir/prometheus.yml" <<EOF
global:
  scrape_interval: 1s
  evaluation_interval: 1s
scrape_configs:
  - job_name: regwall
    scrape_interval: 1s
    scrape_timeout: 1s
    static_configs:
      - targets: ['$MADDR:$MPORT']
EOF
promtool check config "$pdir/prometheus.yml" >/dev/null 2>&1 || lab_fail "prometheus.yml: $(promtool check config "$pdir/prometheus.yml" 2>&1)"
lab_bg office prometheus --config.file="$pdir/prometheus.yml" --storage.tsdb.path="$pdir/data" \
	--web.listen-address="$LAB_OFFICE4:9090" --log.level=warn >"$pdir/log" 2>&1
prom=$LAB_LAST_PID
PROM="http://$LAB_OFFICE4:9090"
# the value prometheus returns for a PromQL query (empty when none yet)
pq() {
	lab_exec office curl -sS --max-time 3 -G "$PROM/api/v1/query" --data-urlencode "query=$1" |
		jq -r '.data.result[0].value[1] // empty'
}
prom_has() { [ "$(pq "$1")" = "$2" ]; }
lab_wait_for 30 prom_has "$PASS" 5 || {
	cat "$pdir/log" >&2
	lab_fail "prometheus: $PASS = '$(pq "$PASS")', regwalld says $(metric "$PASS")"
}
up=$(pq 'up{job="regwall"}')
[ "$up" = 1 ] || lab_fail "prometheus up{job=regwall} = $up"
lab_log "prometheus (pid $prom) scraped $MADDR:$MPORT: $PASS = $(pq "$PASS"), regwalld $(metric "$PASS")"
# more traffic: prometheus follows
for _ in 1 2; do lab_expect_probe ok office "$LAB_GW4" "$LAB_PORT" 3; done
lab_wait_for 15 prom_has "$PASS" 7 || lab_fail "prometheus after 2 more: '$(pq "$PASS")', regwalld $(metric "$PASS")"
lab_log "2 more connections: prometheus says $(pq "$PASS"), events $(events https pass "done")"

# --- a manual ban is counted ---
out=$(lab_ctl ban add "$LAB_OUTSIDE4" 10m --reason metrics-test) || lab_fail "ban add: $out"
[ "$(metric regwall_bans_added_total)" = 1 ] || lab_fail "bans added: $(metric regwall_bans_added_total), want 1"

# --- counters survive a worker kill and a reload ---
r0=$(metric regwall_worker_restarts_total)
victim=$(workers | head -1)
kill -KILL "$victim"
replaced() { [ "$(workers | wc -l)" -eq 2 ] && ! workers | grep -qx "$victim" && two_up; }
lab_wait_for 10 replaced || lab_fail "worker $victim not replaced"
[ "$(metric regwall_worker_restarts_total)" = $((r0 + 1)) ] ||
	lab_fail "worker restarts: $(metric regwall_worker_restarts_total), want $((r0 + 1))"
[ "$(metric "$PASS")" = 7 ] || lab_fail "after the kill: $PASS = $(metric "$PASS"), want 7"
[ "$(metric "$EOFREF")" = 3 ] || lab_fail "after the kill: $EOFREF = $(metric "$EOFREF"), want 3"
out=$(lab_ctl reload) || lab_fail "reload: $out"
lab_wait_for 10 two_up || lab_fail "workers not up after the reload"
[ "$(metric 'regwall_reloads_total{result="success"}')" = 1 ] ||
	lab_fail "reloads: $(scrape | grep reloads_total)"
[ "$(metric regwall_bans_added_total)" = 1 ] || lab_fail "bans added after the reload: $(metric regwall_bans_added_total)"
for _ in 1 2 3; do lab_expect_probe ok office "$LAB_GW4" "$LAB_PORT" 3; done
bare_connect
c10() { [ "$(metric "$PASS")" = 10 ] && [ "$(metric "$EOFREF")" = 4 ]; }
lab_wait_for 5 c10 || lab_fail "after kill + reload + traffic: $PASS $(metric "$PASS") (want 10), $EOFREF $(metric "$EOFREF") (want 4)"
[ "$(events https pass "done")" = 10 ] || lab_fail "events say $(events https pass "done") passed"
lab_wait_for 15 prom_has "$PASS" 10 || lab_fail "prometheus after the reload: '$(pq "$PASS")'"
# prometheus saw no counter reset in all this
resets=$(pq "resets(${PASS}[5m])")
[ "$resets" = 0 ] || lab_fail "prometheus saw $resets counter resets"
lab_log "worker kill + reload: counters kept (restarts $(metric regwall_worker_restarts_total), $PASS 10, no reset in prometheus)"

# a reload that changes metrics.allow and metrics.listen: the new port
# serves the newly allowed source, the old port is closed
sed -i "s|allow = \[ \"$LAB_OFFICE4/32\" \];|allow = [ \"$LAB_OFFICE4/32\", \"$LAB_OFFICE4B\" ];|; s|listen = \"$MADDR:$MPORT\"|listen = \"$MADDR:9478\"|" "$conf"
{ grep -q ":9478" "$conf" && grep -qF "\"$LAB_OFFICE4B\"" "$conf"; } || lab_fail "conf not edited: $(grep -A3 '^metrics' "$conf")"
out=$(lab_ctl reload) || lab_fail "reload 2: $out"
moved() { lab_exec office curl -s -o /dev/null --max-time 2 --interface "$LAB_OFFICE4B" "http://$MADDR:9478/metrics"; }
lab_wait_for 5 moved || lab_fail "after the reload, $LAB_OFFICE4B not served on :9478"
code=$(lab_exec office curl -s -o /dev/null -w '%{http_code}' --max-time 2 --interface "$LAB_OFFICE4" "$MURL")
[ "$code" = 000 ] || lab_fail "the old port $MPORT still answers ($code) after the reload moved it"
v=$(lab_exec office curl -sS --max-time 2 --interface "$LAB_OFFICE4B" "http://$MADDR:9478/metrics" | awk -v s="$PASS" '$1 == s { print $2 }')
[ "$v" = 10 ] || lab_fail "on the new port: $PASS = $v, want 10"
lab_log "reload moved the endpoint to :9478 and allowed $LAB_OFFICE4B; counters kept ($v)"

lab_stop "$prom"
lab_stop "$daemon"
echo "ok: metrics endpoint: counters equal the events, promtool clean, access control, prometheus scrape + query, survive worker kill and reload"
