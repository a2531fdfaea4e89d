/* The parent's metrics (appliance/rw_metrics.c, rw_metrics_parent.c):
 * counters from worker events, labels only from bounded sets, worker
 * numbers that survive a restart, and an exposition promtool accepts. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "tests/unit/test_ci.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <jansson.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include "appliance/rw_config.h"
#include "appliance/rw_metrics.h"
#include "appliance/rw_metrics_http.h"
#include "appliance/rw_metrics_parent.h"
#include "rules/rw_cidr.h"

static int setup(void **state)
{
	struct rw_metrics *m = calloc(1, sizeof(*m));
	if (!m || rw_metrics_init(m))
		return -1;
	const char *names[] = { "pass443", "term5000" };
	rw_metrics_listeners(m, names, 2);
	*state = m;
	return 0;
}

static int teardown(void **state)
{
	rw_metrics_fini(*state);
	free(*state);
	return 0;
}

static int ev(struct rw_metrics *m, const char *line)
{
	return rw_metrics_event(m, line, strlen(line));
}

static char *expo(const struct rw_metrics *m)
{
	struct rw_metrics_out o = { 0 };
	rw_metrics_write(m, &o);
	assert_false(o.oom);
	assert_non_null(o.p);
	return o.p;
}

/* The line "series value" must be in the text, whole. */
static void assert_line(const char *text, const char *line)
{
	size_t n = strlen(line);
	for (const char *p = text; (p = strstr(p, line)); p++)
		if ((p == text || p[-1] == '\n') && p[n] == '\n')
			return;
	fail_msg("line not found: %s\n---\n%s", line, text);
}

static void assert_no(const char *text, const char *needle)
{
	if (strstr(text, needle))
		fail_msg("unexpected %s in\n%s", needle, text);
}

static void test_event_counters(void **state)
{
	struct rw_metrics *m = *state;
	assert_int_equal(ev(m, "{\"kind\":\"refuse\",\"reason\":\"sni\",\"listener\":\"pass443\","
			       "\"src\":\"203.0.113.9\",\"src_port\":4000}"), 0);
	assert_int_equal(ev(m, "{\"kind\":\"refuse\",\"reason\":\"sni\",\"listener\":\"pass443\"}"), 0);
	assert_int_equal(ev(m, "{\"kind\":\"pass\",\"reason\":\"done\",\"listener\":\"pass443\"}"), 0);
	/* a request refusal is not a connection end */
	assert_int_equal(ev(m, "{\"kind\":\"refuse\",\"reason\":\"rate_limited\",\"listener\":"
			       "\"term5000\",\"operation\":\"blob_upload_start\",\"status\":429}"), 0);
	assert_int_equal(ev(m, "{\"kind\":\"push\",\"reason\":\"manifest_put\",\"listener\":"
			       "\"term5000\",\"operation\":\"manifest_put\",\"bytes_up\":1234}"), 0);
	assert_int_equal(ev(m, "{\"kind\":\"push\",\"reason\":\"upload_complete\",\"listener\":"
			       "\"term5000\",\"operation\":\"blob_upload_complete\",\"bytes_up\":100}"),
			 0);
	/* a line another sink parsed already */
	json_t *o = json_loads("{\"kind\":\"term\",\"reason\":\"done\",\"listener\":\"term5000\"}",
			       JSON_REJECT_DUPLICATES, NULL);
	assert_non_null(o);
	assert_int_equal(rw_metrics_event_obj(m, o), 0);
	json_decref(o);
	char *t = expo(m);
	assert_line(t, "regwall_events_received_total 7");
	assert_line(t, "regwall_events_invalid_total 0");
	assert_line(t, "regwall_refusals_total{listener=\"pass443\",reason=\"sni\"} 2");
	assert_line(t, "regwall_connections_total{listener=\"pass443\",outcome=\"refused\"} 2");
	assert_line(t, "regwall_connections_total{listener=\"pass443\",outcome=\"passthrough\"} 1");
	assert_line(t, "regwall_connections_total{listener=\"term5000\",outcome=\"refused\"} 0");
	assert_line(t, "regwall_connections_total{listener=\"term5000\",outcome=\"terminate\"} 1");
	assert_line(t, "regwall_refusals_total{listener=\"term5000\",reason=\"rate_limited\"} 1");
	assert_line(t, "regwall_rate_limited_total{listener=\"term5000\"} 1");
	assert_line(t, "regwall_rate_limited_total{listener=\"pass443\"} 0");
	assert_line(t, "regwall_push_bytes_total{listener=\"term5000\"} 1334");
	assert_line(t, "regwall_requests_total{listener=\"term5000\",operation=\"manifest_put\","
		       "decision=\"allowed\"} 1");
	/* no client address ever becomes a label */
	assert_no(t, "203.0.113.9");
	/* nothing from a source that is not registered */
	assert_no(t, "wireguard_");
	assert_no(t, "regwall_blocked_log");
	free(t);
}

static void test_invalid_events(void **state)
{
	struct rw_metrics *m = *state;
	const char *bad[] = {
		"",
		"not json",
		"[1,2]",
		"{\"reason\":\"sni\"}",                          /* no kind */
		"{\"kind\":\"refuse\"}",                         /* no reason */
		"{\"kind\":7,\"reason\":\"sni\"}",               /* wrong type */
		"{\"kind\":\"refuse\",\"reason\":[1]}",
		"{\"kind\":\"refuse\",\"reason\":\"sni\",\"listener\":{}}",
		"{\"kind\":\"push\",\"reason\":\"manifest_put\",\"bytes_up\":-5}",
		"{\"kind\":\"push\",\"reason\":\"manifest_put\",\"bytes_up\":\"9\"}",
		"{\"kind\":\"boom\",\"reason\":\"sni\"}",       /* unknown kind */
		"{\"kind\":\"refuse\",\"kind\":\"pass\",\"reason\":\"sni\"}", /* duplicate key */
		"{\"kind\":\"refuse\",\"reason\":\"sni\"", /* cut */
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(ev(m, bad[i]), RW_EINVAL);
	/* overlong: not even parsed */
	size_t n = RW_METRICS_EVENT_MAX + 10;
	char *big = malloc(n + 1);
	memset(big, ' ', n);
	memcpy(big, "{\"kind\":\"refuse\",\"reason\":\"sni\"}", 32);
	big[n] = '\0';
	assert_int_equal(rw_metrics_event(m, big, n), RW_EINVAL);
	free(big);
	assert_int_equal(rw_metrics_event_obj(m, NULL), RW_EINVAL);
	char *t = expo(m);
	char want[64];
	snprintf(want, sizeof(want), "regwall_events_invalid_total %zu",
		 sizeof(bad) / sizeof(bad[0]) + 2);
	assert_line(t, want);
	assert_no(t, "regwall_refusals_total{");
	free(t);
}

static void test_label_bounding(void **state)
{
	struct rw_metrics *m = *state;
	/* tokens the workers emit are kept, whatever module built them */
	assert_string_equal(rw_metrics_reason_label(m, "sni"), "sni");
	assert_string_equal(rw_metrics_reason_label(m, "tls_not_tls"), "tls_not_tls");
	assert_string_equal(rw_metrics_reason_label(m, "http_host_invalid"), "http_host_invalid");
	assert_string_equal(rw_metrics_reason_label(m, "http_fields_too_long"),
			    "http_fields_too_long");
	assert_string_equal(rw_metrics_reason_label(m, "http_content_length_with_transfer_encoding"),
			    "http_content_length_with_transfer_encoding");
	assert_string_equal(rw_metrics_reason_label(m, "client_cert_revoked"),
			    "client_cert_revoked");
	assert_string_equal(rw_metrics_op_label(m, "manifest_put"), "manifest_put");
	/* anything else is "other" */
	assert_string_equal(rw_metrics_reason_label(m, "tls_whatever_a_worker_says"), "other");
	assert_string_equal(rw_metrics_reason_label(m, "203.0.113.7"), "other");
	assert_string_equal(rw_metrics_op_label(m, "drop_tables"), "other");
	assert_string_equal(rw_metrics_listener_label(m, "pass443"), "pass443");
	assert_string_equal(rw_metrics_listener_label(m, "evil\"}\n"), "other");
	assert_string_equal(rw_metrics_listener_label(m, NULL), "other");
	/* a compromised worker inventing 10000 names makes no new series */
	char line[200];
	for (int i = 0; i < 10000; i++) {
		snprintf(line, sizeof(line),
			 "{\"kind\":\"refuse\",\"reason\":\"r%d\",\"listener\":\"l%d\","
			 "\"operation\":\"op%d\"}", i, i, i);
		assert_int_equal(ev(m, line), 0);
	}
	char *t = expo(m);
	assert_line(t, "regwall_refusals_total{listener=\"other\",reason=\"other\"} 10000");
	assert_line(t, "regwall_requests_total{listener=\"other\",operation=\"other\","
		       "decision=\"refused\"} 10000");
	assert_true(strlen(t) < 8192);
	free(t);
	/* listener names: config names only, at most RW_METRICS_LISTENERS_MAX */
	const char *names[RW_METRICS_LISTENERS_MAX + 5];
	char buf[RW_METRICS_LISTENERS_MAX + 5][16];
	for (int i = 0; i < RW_METRICS_LISTENERS_MAX + 5; i++) {
		snprintf(buf[i], sizeof(buf[i]), "lis%d", i);
		names[i] = buf[i];
	}
	rw_metrics_listeners(m, names, RW_METRICS_LISTENERS_MAX + 5);
	assert_int_equal(m->n_listeners, RW_METRICS_LISTENERS_MAX);
	assert_string_equal(rw_metrics_listener_label(m, "pass443"), "pass443"); /* kept */
	assert_string_equal(rw_metrics_listener_label(m, "lis63"), "other");    /* no room */
	const char *odd[] = { "Bad Name", "x\"y" };
	rw_metrics_listeners(m, odd, 2);
	assert_int_equal(m->n_listeners, RW_METRICS_LISTENERS_MAX);
}

static void test_escape(void **state)
{
	(void)state;
	struct rw_metrics_out o = { 0 };
	rw_metrics_family(&o, "x_total", RW_METRICS_COUNTER, "a \\ b\nc \"q\"");
	struct rw_metrics_label l[] = { { "k", "a\\b\"c\nd" } };
	rw_metrics_sample(&o, "x_total", l, 1, 18446744073709551615ull);
	rw_metrics_sample_i64(&o, "x_total", NULL, 0, -3);
	assert_string_equal(o.p, "# HELP x_total a \\\\ b\\nc \"q\"\n"
				 "# TYPE x_total counter\n"
				 "x_total{k=\"a\\\\b\\\"c\\nd\"} 18446744073709551615\n"
				 "x_total -3\n");
	rw_metrics_out_free(&o);
}

/* Workers' STATS: a worker that ends counts with its last report (folded
 * into the base by rw_workers), its successor starts from zero; the sum
 * never goes back. */
static void test_worker_fold(void **state)
{
	(void)state;
	struct rw_workers *ws = calloc(1, sizeof(*ws));
	for (size_t k = 0; k < sizeof(ws->draining) / sizeof(ws->draining[0]); k++)
		ws->draining[k].chan = -1;
	ws->slot[0].pid = 100;
	ws->slot[0].heard.st = (struct rw_chan_stats){ .events_sent = 50, .events_dropped = 3,
						      .conns = 4 };
	ws->slot[1].pid = 101;
	ws->slot[1].heard.st = (struct rw_chan_stats){ .events_sent = 7, .events_dropped = 1 };
	struct rw_metrics_wsum a, b, c;
	rw_metrics_workers_sum(ws, &a);
	assert_int_equal(a.events_sent, 57);
	assert_int_equal(a.events_dropped, 4);
	assert_int_equal(a.conns, 4);
	assert_int_equal(a.alive, 2);
	/* slot 0 is killed: rw_workers folds its last numbers, then the
	 * restart starts a fresh worker in the slot */
	ws->gone_events_sent += ws->slot[0].heard.st.events_sent;
	ws->gone_events_dropped += ws->slot[0].heard.st.events_dropped;
	ws->slot[0].pid = 102;
	ws->slot[0].heard.st = (struct rw_chan_stats){ 0 };
	rw_metrics_workers_sum(ws, &b);
	assert_int_equal(b.events_sent, 57);
	assert_int_equal(b.events_dropped, 4);
	assert_int_equal(b.conns, 0);
	ws->slot[0].heard.st.events_sent = 5;
	/* a reload: slot 1's worker drains with its channel still open */
	ws->draining[0].pid = 101;
	ws->draining[0].chan = 9;
	ws->draining[0].heard = ws->slot[1].heard;
	ws->slot[1].pid = 103;
	ws->slot[1].heard = (struct rw_worker_heard){ 0 };
	rw_metrics_workers_sum(ws, &c);
	assert_int_equal(c.events_sent, 62);
	assert_int_equal(c.events_dropped, 4);
	assert_int_equal(c.draining, 1);
	free(ws);
}

static void test_parent_source(void **state)
{
	struct rw_metrics *m = *state;
	struct rw_daemon *d = calloc(1, sizeof(*d));
	struct rw_workers *ws = calloc(1, sizeof(*ws));
	for (size_t k = 0; k < sizeof(ws->draining) / sizeof(ws->draining[0]); k++)
		ws->draining[k].chan = -1;
	d->workers = ws;
	d->reloads = 5;
	d->reload_failures = 2;
	d->bans_added = 3;
	ws->restarts = 4;
	ws->gone_events_dropped = 6;
	struct rw_evout eo = { .dropped = 11 };
	struct rw_metrics_parent mp = { .d = d, .evout = &eo };
	assert_int_equal(rw_metrics_source_add(m, rw_metrics_parent_source, &mp), 0);
	char *t = expo(m);
	assert_line(t, "regwall_reloads_total{result=\"success\"} 3");
	assert_line(t, "regwall_reloads_total{result=\"failure\"} 2");
	assert_line(t, "regwall_bans_added_total 3");
	assert_line(t, "regwall_worker_restarts_total 4");
	assert_line(t, "regwall_events_dropped_total{where=\"worker\"} 6");
	assert_line(t, "regwall_events_dropped_total{where=\"output\"} 11");
	free(t);
	rw_metrics_source_del(m, rw_metrics_parent_source, &mp);
	t = expo(m);
	assert_no(t, "regwall_reloads_total");
	free(t);
	free(ws);
	free(d);
}

static int nflog_stub(void *ctx, struct rw_metrics_nflog *out)
{
	(void)ctx;
	*out = (struct rw_metrics_nflog){ .lines = 10, .summaries = 2, .summarised = 900,
					  .lost_kernel = 1 };
	return 0;
}

static void vpn_stub(void *ctx, rw_metrics_vpn_each_fn *each, void *each_ctx)
{
	(void)ctx;
	struct rw_metrics_vpn_peer p = { .interface = "wg0",
					 .public_key = "xTIBA5rboUvnH4htodjb6e697QjLERt1NAB4mZqp8Dg=",
					 .friendly_name = "laptop",
					 .latest_handshake = 1764800000,
					 .rx_bytes = 1000,
					 .tx_bytes = 2000 };
	each(each_ctx, &p);
}

static void test_typed_sources(void **state)
{
	struct rw_metrics *m = *state;
	rw_metrics_nflog_source(m, nflog_stub, NULL);
	rw_metrics_vpn_source(m, vpn_stub, NULL);
	char *t = expo(m);
	assert_line(t, "regwall_blocked_log_lines_total 10");
	assert_line(t, "regwall_blocked_log_summarised_total 900");
	assert_line(t, "regwall_blocked_log_lost_total{cause=\"kernel\"} 1");
	assert_line(t, "# TYPE wireguard_latest_handshake_seconds gauge");
	assert_line(t, "wireguard_latest_handshake_seconds{interface=\"wg0\",public_key=\"xTIBA5rbo"
		       "UvnH4htodjb6e697QjLERt1NAB4mZqp8Dg=\",friendly_name=\"laptop\"} 1764800000");
	assert_line(t, "wireguard_sent_bytes_total{interface=\"wg0\",public_key=\"xTIBA5rboUvnH4h"
		       "todjb6e697QjLERt1NAB4mZqp8Dg=\",friendly_name=\"laptop\"} 2000");
	free(t);
}

static int src_a(int n)
{
	return n;
}

static void src_noop(void *ctx, struct rw_metrics_out *o)
{
	(void)ctx;
	(void)o;
}

static void test_source_cap(void **state)
{
	struct rw_metrics *m = *state;
	int ctx[RW_METRICS_SOURCES_MAX + 1];
	for (int i = 0; i < RW_METRICS_SOURCES_MAX; i++)
		assert_int_equal(rw_metrics_source_add(m, src_noop, &ctx[src_a(i)]), 0);
	assert_int_equal(rw_metrics_source_add(m, src_noop, &ctx[RW_METRICS_SOURCES_MAX]),
			 RW_ETOOBIG);
	rw_metrics_source_del(m, src_noop, &ctx[3]);
	assert_int_equal(m->n_src, RW_METRICS_SOURCES_MAX - 1);
	assert_ptr_equal(m->src[3].ctx, &ctx[4]);
}

/* The whole exposition, with every family filled, through promtool. */
static void test_promtool(void **state)
{
	struct rw_metrics *m = *state;
	if (system("command -v promtool >/dev/null 2>&1") != 0)
		RW_TEST_NEED("promtool missing (scripts/install-deps.sh installs prometheus)");
	ev(m, "{\"kind\":\"refuse\",\"reason\":\"sni\",\"listener\":\"pass443\"}");
	ev(m, "{\"kind\":\"refuse\",\"reason\":\"made_up\",\"listener\":\"nope\"}");
	ev(m, "{\"kind\":\"push\",\"reason\":\"manifest_put\",\"listener\":\"term5000\","
	      "\"operation\":\"manifest_put\",\"bytes_up\":5}");
	ev(m, "garbage");
	struct rw_daemon *d = calloc(1, sizeof(*d));
	struct rw_metrics_parent mp = { .d = d };
	rw_metrics_source_add(m, rw_metrics_parent_source, &mp);
	rw_metrics_nflog_source(m, nflog_stub, NULL);
	rw_metrics_vpn_source(m, vpn_stub, NULL);
	char *t = expo(m);
	char path[] = "/tmp/test_metrics_XXXXXX";
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, t, strlen(t)), (ssize_t)strlen(t));
	close(fd);
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "promtool check metrics < %s 2>&1", path);
	FILE *p = popen(cmd, "r");
	char out[4096] = "";
	size_t n = fread(out, 1, sizeof(out) - 1, p);
	out[n] = '\0';
	int st = pclose(p);
	unlink(path);
	if (!WIFEXITED(st) || WEXITSTATUS(st) != 0 || n != 0)
		fail_msg("promtool check metrics: %s\n---\n%s", out, t);
	free(t);
	free(d);
}


static unsigned parse_status(const char *req)
{
	struct rw_metrics_http_req r;
	int rc = rw_metrics_http_parse(req, strlen(req), &r);
	if (rc == RW_EINCOMPLETE)
		return 0;
	assert_int_equal(rc, 0);
	return r.status;
}

static void test_http_parse(void **state)
{
	(void)state;
	assert_int_equal(parse_status("GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n"), 200);
	assert_int_equal(parse_status("GET /metrics HTTP/1.0\r\n\r\n"), 200);
	assert_int_equal(parse_status("GET /metrics HTTP/1.1\n\n"), 200);
	assert_int_equal(parse_status("GET /metrics?x=1 HTTP/1.1\r\nAccept: text/plain;"
				      "version=0.0.4;q=1,*/*;q=0.1\r\n\r\n"), 200);
	/* more bytes wanted */
	assert_int_equal(parse_status(""), 0);
	assert_int_equal(parse_status("GET /metrics HTTP/1.1\r\nHost: x\r\n"), 0);
	/* other paths, other methods */
	assert_int_equal(parse_status("GET / HTTP/1.1\r\n\r\n"), 404);
	assert_int_equal(parse_status("GET /metricsx HTTP/1.1\r\n\r\n"), 404);
	assert_int_equal(parse_status("GET /metrics/ HTTP/1.1\r\n\r\n"), 404);
	assert_int_equal(parse_status("POST /metrics HTTP/1.1\r\nContent-Length: 0\r\n\r\n"), 405);
	assert_int_equal(parse_status("HEAD /metrics HTTP/1.1\r\n\r\n"), 405);
	assert_int_equal(parse_status("get /metrics HTTP/1.1\r\n\r\n"), 405);
	/* malformed */
	assert_int_equal(parse_status("GET /metrics HTTP/2.0\r\n\r\n"), 505);
	assert_int_equal(parse_status("GET /metrics\r\n\r\n"), 400);
	assert_int_equal(parse_status("GET  /metrics HTTP/1.1\r\n\r\n"), 400);
	assert_int_equal(parse_status("GET /metrics HTTP/1.1 \r\n\r\n"), 400);
	assert_int_equal(parse_status("GET /metrics HTTP/1.10\r\n\r\n"), 400);
	assert_int_equal(parse_status("\r\n\r\n"), 400);
	assert_int_equal(parse_status("GET /metrics HTTP/1.1\r\nHost : x\r\n\r\n"), 400);
	assert_int_equal(parse_status("GET /metrics HTTP/1.1\r\nHost: x\r\n folded\r\n\r\n"), 400);
	assert_int_equal(parse_status("GET /metrics HTTP/1.1\r\nX: a\001b\r\n\r\n"), 400);
	assert_int_equal(parse_status("GET /me\x01trics HTTP/1.1\r\n\r\n"), 400);
	/* a NUL inside the head */
	struct rw_metrics_http_req r;
	static const char nul[] = "GET /metrics HTTP/1.1\r\nX: a\0b\r\n\r\n";
	assert_int_equal(rw_metrics_http_parse(nul, sizeof(nul) - 1, &r), 0);
	assert_int_equal(r.status, 400);
	/* too long: the head must end within RW_METRICS_HTTP_REQ_MAX */
	char *big = malloc(RW_METRICS_HTTP_REQ_MAX + 100);
	memset(big, 'a', RW_METRICS_HTTP_REQ_MAX + 100);
	memcpy(big, "GET /metrics HTTP/1.1\r\nX: ", 26);
	assert_int_equal(rw_metrics_http_parse(big, RW_METRICS_HTTP_REQ_MAX - 1, &r),
			 RW_EINCOMPLETE);
	assert_int_equal(rw_metrics_http_parse(big, RW_METRICS_HTTP_REQ_MAX, &r), 0);
	assert_int_equal(r.status, 431);
	assert_int_equal(rw_metrics_http_parse(big, RW_METRICS_HTTP_REQ_MAX + 100, &r), 0);
	assert_int_equal(r.status, 431);
	free(big);
}

static void test_http_answer(void **state)
{
	struct rw_metrics *m = *state;
	char *out;
	size_t n;
	assert_int_equal(rw_metrics_http_answer(200, m, &out, &n), 0);
	assert_true(strncmp(out, "HTTP/1.1 200 OK\r\n", 17) == 0);
	assert_non_null(strstr(out, "\r\nContent-Type: text/plain; version=0.0.4; charset=utf-8\r\n"));
	char *body = strstr(out, "\r\n\r\n") + 4;
	char cl[64];
	snprintf(cl, sizeof(cl), "\r\nContent-Length: %zu\r\n", strlen(body));
	assert_non_null(strstr(out, cl));
	assert_true(strncmp(body, "# HELP regwall_", 15) == 0);
	free(out);
	assert_int_equal(rw_metrics_http_answer(405, m, &out, &n), 0);
	assert_true(strncmp(out, "HTTP/1.1 405 Method Not Allowed\r\n", 33) == 0);
	assert_non_null(strstr(out, "\r\nAllow: GET\r\n"));
	assert_null(strstr(out, "regwall_"));
	free(out);
}

static void test_config_allow(void **state)
{
	(void)state;
	static const char base[] =
		"registry = { upstream = \"198.51.100.10:5000\"; server_names = "
		"[ \"registry.example.test\" ]; };\n"
		"networks = { office = [ \"203.0.113.0/24\" ]; };\n"
		"listeners = ( { name = \"a\"; listen = \"0.0.0.0:443\"; mode = \"passthrough\"; "
		"allow_from = [ \"office\" ]; } );\n";
	char text[1024];
	struct rw_policy p;
	struct rw_diag d;
	uint8_t a4[4], a6[16];
	snprintf(text, sizeof(text), "%smetrics = { listen = \"127.0.0.1:9477\"; };\n", base);
	rw_diag_init(&d);
	assert_int_equal(rw_config_load_string(text, "c.conf", &p, &d), 0);
	assert_int_equal(p.metrics.family, AF_INET);
	assert_int_equal(p.metrics.port, 9477);
	inet_pton(AF_INET, "127.0.0.5", a4);
	assert_true(rw_metrics_http_allowed(&p, AF_INET, a4));
	inet_pton(AF_INET6, "::1", a6);
	assert_true(rw_metrics_http_allowed(&p, AF_INET6, a6));
	inet_pton(AF_INET, "192.0.2.7", a4);
	assert_false(rw_metrics_http_allowed(&p, AF_INET, a4));
	rw_policy_free(&p);
	snprintf(text, sizeof(text),
		 "%smetrics = { listen = \"192.0.2.1:9477\"; allow = [ \"192.0.2.0/28\", "
		 "\"2001:db8::7\" ]; };\n", base);
	rw_diag_init(&d);
	assert_int_equal(rw_config_load_string(text, "c.conf", &p, &d), 0);
	assert_int_equal(p.n_metrics_allow, 2);
	assert_true(rw_metrics_http_allowed(&p, AF_INET, a4));
	inet_pton(AF_INET, "127.0.0.1", a4);
	assert_false(rw_metrics_http_allowed(&p, AF_INET, a4)); /* loopback only by default */
	inet_pton(AF_INET6, "2001:db8::7", a6);
	assert_true(rw_metrics_http_allowed(&p, AF_INET6, a6));
	rw_policy_free(&p);
}

/* The server on a real loopback socket, driven by the loop: a scrape,
 * a wrong path, a client that sends nothing (closed at the timeout). */
static void run_until(struct rw_loop *l, int fd, char *buf, size_t cap, size_t *got)
{
	*got = 0;
	for (int i = 0; i < 200; i++) {
		rw_loop_run_once(l, 20);
		ssize_t r = recv(fd, buf + *got, cap - 1 - *got, MSG_DONTWAIT);
		if (r > 0)
			*got += (size_t)r;
		else if (r == 0)
			break;
	}
	buf[*got] = '\0';
}

static int connect_to(uint16_t port)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(port) };
	inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
	assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	return fd;
}

static void test_http_server(void **state)
{
	struct rw_metrics *m = *state;
	struct rw_loop loop;
	assert_int_equal(rw_loop_init(&loop, 1024), 0);
	struct rw_policy pol = { 0 };
	struct rw_cidr lo;
	assert_int_equal(rw_cidr_parse("127.0.0.0/8", &lo, 0), 0);
	pol.metrics_allow = &lo;
	pol.n_metrics_allow = 1;
	pol.metrics.family = AF_INET;
	inet_pton(AF_INET, "127.0.0.1", pol.metrics.addr);
	struct rw_metrics_http h;
	struct rw_diag d;
	rw_diag_init(&d);
	int r = -1;
	for (uint16_t port = 39477; port < 39577 && r; port++) {
		pol.metrics.port = port;
		memset(&h, 0, sizeof(h));
		rw_metrics_http_init(&h, &loop, m, &pol);
		r = rw_metrics_http_sync(&h, &d);
	}
	assert_int_equal(r, 0);
	rw_metrics_source_add(m, rw_metrics_http_source, &h);
	char buf[65536];
	size_t got;
	int fd = connect_to(pol.metrics.port);
	const char req[] = "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n";
	assert_int_equal(send(fd, req, sizeof(req) - 1, 0), (ssize_t)(sizeof(req) - 1));
	run_until(&loop, fd, buf, sizeof(buf), &got);
	close(fd);
	assert_true(strncmp(buf, "HTTP/1.1 200 OK\r\n", 17) == 0);
	assert_non_null(strstr(buf, "\nregwall_metrics_scrapes_total 1\n"));
	fd = connect_to(pol.metrics.port);
	const char bad[] = "DELETE /metrics HTTP/1.1\r\n\r\n";
	assert_int_equal(send(fd, bad, sizeof(bad) - 1, 0), (ssize_t)(sizeof(bad) - 1));
	run_until(&loop, fd, buf, sizeof(buf), &got);
	close(fd);
	assert_true(strncmp(buf, "HTTP/1.1 405 ", 13) == 0);
	/* a body the server never reads (more than its 4 KiB buffer): the
	 * answer arrives whole and the server drops the rest until the
	 * client closes (a close with unread bytes would send a reset,
	 * which some client stacks let destroy the answer) */
	fd = connect_to(pol.metrics.port);
	static char post[60000];
	int pn = snprintf(post, sizeof(post), "POST /metrics HTTP/1.1\r\nContent-Length: 59000\r\n\r\n");
	memset(post + pn, 'b', sizeof(post) - (size_t)pn);
	assert_int_equal(send(fd, post, sizeof(post), 0), (ssize_t)sizeof(post));
	/* the server answers before the client reads anything */
	for (int i = 0; i < 10; i++)
		rw_loop_run_once(&loop, 10);
	run_until(&loop, fd, buf, sizeof(buf), &got);
	close(fd);
	assert_true(strncmp(buf, "HTTP/1.1 405 ", 13) == 0);
	assert_non_null(strstr(buf, "\r\n\r\nMethod Not Allowed\n"));
	for (int i = 0; i < 10 && h.n_clients; i++)
		rw_loop_run_once(&loop, 10);
	/* a client that half-closes after its request (nc -N, a shell's
	 * printf | nc) still gets its answer */
	fd = connect_to(pol.metrics.port);
	assert_int_equal(send(fd, req, sizeof(req) - 1, 0), (ssize_t)(sizeof(req) - 1));
	shutdown(fd, SHUT_WR);
	run_until(&loop, fd, buf, sizeof(buf), &got);
	close(fd);
	assert_true(strncmp(buf, "HTTP/1.1 200 OK\r\n", 17) == 0);
	for (int i = 0; i < 10 && h.n_clients; i++)
		rw_loop_run_once(&loop, 10);
	/* loopback no longer allowed (a reload changed metrics.allow):
	 * closed before a byte is read */
	struct rw_cidr other;
	rw_cidr_parse("192.0.2.0/24", &other, 0);
	pol.metrics_allow = &other;
	fd = connect_to(pol.metrics.port);
	(void)!send(fd, req, sizeof(req) - 1, MSG_NOSIGNAL);
	run_until(&loop, fd, buf, sizeof(buf), &got);
	close(fd);
	assert_int_equal(got, 0);
	assert_int_equal(h.refused_addr, 1);
	/* a client that sends half a request holds its slot only until the
	 * timeout; past RW_METRICS_HTTP_CLIENTS newcomers are closed */
	pol.metrics_allow = &lo;
	h.timeout_ms = 300;
	int slow[RW_METRICS_HTTP_CLIENTS + 1];
	for (int i = 0; i <= RW_METRICS_HTTP_CLIENTS; i++) {
		slow[i] = connect_to(pol.metrics.port);
		(void)!send(slow[i], "GET /metr", 9, MSG_NOSIGNAL);
		rw_loop_run_once(&loop, 10);
	}
	assert_int_equal(h.n_clients, RW_METRICS_HTTP_CLIENTS);
	assert_int_equal(h.refused_busy, 1);
	for (int i = 0; i < 50 && h.n_clients; i++)
		rw_loop_run_once(&loop, 20);
	assert_int_equal(h.n_clients, 0);
	assert_int_equal(h.timeouts, RW_METRICS_HTTP_CLIENTS);
	for (int i = 0; i <= RW_METRICS_HTTP_CLIENTS; i++)
		close(slow[i]);
	assert_int_equal(h.scrapes, 2);
	assert_int_equal(h.bad_requests, 2);
	assert_int_equal(h.n_clients, 0);
	rw_metrics_source_del(m, rw_metrics_http_source, &h);
	rw_metrics_http_fini(&h);
	rw_loop_fini(&loop);
}

/* A counter never goes back: a worker's huge bytes_up saturates the
 * push bytes instead of wrapping them (a wrap reads as a counter reset
 * and makes rate() spike). */
static void test_push_bytes_saturate(void **state)
{
	struct rw_metrics *m = *state;
	const char *big = "{\"kind\":\"push\",\"reason\":\"manifest_put\",\"listener\":"
			  "\"term5000\",\"operation\":\"manifest_put\",\"bytes_up\":"
			  "9223372036854775807}";
	for (int i = 0; i < 3; i++)
		assert_int_equal(ev(m, big), 0);
	char *t = expo(m);
	assert_line(t, "regwall_push_bytes_total{listener=\"term5000\"} 18446744073709551615");
	free(t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_event_counters, setup, teardown),
		cmocka_unit_test_setup_teardown(test_push_bytes_saturate, setup, teardown),
		cmocka_unit_test_setup_teardown(test_invalid_events, setup, teardown),
		cmocka_unit_test_setup_teardown(test_label_bounding, setup, teardown),
		cmocka_unit_test(test_escape),
		cmocka_unit_test(test_worker_fold),
		cmocka_unit_test_setup_teardown(test_parent_source, setup, teardown),
		cmocka_unit_test_setup_teardown(test_typed_sources, setup, teardown),
		cmocka_unit_test_setup_teardown(test_source_cap, setup, teardown),
		cmocka_unit_test_setup_teardown(test_promtool, setup, teardown),
		cmocka_unit_test(test_http_parse),
		cmocka_unit_test_setup_teardown(test_http_answer, setup, teardown),
		cmocka_unit_test(test_config_allow),
		cmocka_unit_test_setup_teardown(test_http_server, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
