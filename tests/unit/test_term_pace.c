/* Upload pacing in terminate mode (fwd/rw_term.c, rw_term_pace): however
 * a client frames the same upload, the registry receives it no faster
 * than the identity's byte bucket allows. Each case runs its own worker
 * (a fresh shared limiter, so the bucket starts full) in a thread on
 * 127.0.0.1 with a small in-process registry that counts body bytes as
 * they arrive and checks, at every receive, the bound
 *
 *   bytes(t) <= burst + rate * (t - t0) * (1 + slack) + rate * 3 ms
 *
 * (t0 taken before the first client connects; 3 ms covers the limiter's
 * millisecond clock). Only an upper bound on the rate is asserted: a slow
 * or loaded machine, or ASan, makes a case slower, never failing. Each
 * upload is two seconds of budget (one of it the burst), so a case takes
 * about a second. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include "appliance/rw_config.h"
#include "fwd/rw_fwd.h"
#include "fwd/rw_limit.h"
#include "base/rw_err.h"

#define CERTS "tests/data/certs/"
#define SLACK 0.05

enum framing {
	F_ONE_BYTE = 0, /* head, then the body in 1-byte TLS records */
	F_1K,           /* head, then 1 kB records */
	F_15K_PATCHES,  /* many 15 kB PATCHes, each head and body in one record */
	F_1M,           /* head, then 1 MB writes */
	F_CONTINUE,     /* Expect: 100-continue, body after the interim 100 */
};

struct pace_case {
	enum framing fr;
	unsigned conns;
	uint64_t rate;  /* bytes_per_second; the burst is one second of it */
	uint32_t idle_ms; /* worker idle timeout; 0 = default */
	uint64_t total; /* body bytes of the whole case; 0 = 2 * rate */
};

static uint64_t now_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

/* ---- the registry: counts body bytes, checks the bound on each receive ---- */

static pthread_mutex_t g_mu = PTHREAD_MUTEX_INITIALIZER;
static uint64_t g_t0_us, g_rate, g_bytes, g_last_us;
static double g_worst; /* max of bytes / bound seen */
static int g_up_fd;
static uint16_t g_up_port;

static void count(size_t n)
{
	uint64_t t = now_us();
	pthread_mutex_lock(&g_mu);
	g_bytes += n;
	g_last_us = t;
	double el = (double)(t - g_t0_us) / 1e6;
	double bound = (double)g_rate * (1.0 + el * (1.0 + SLACK) + 0.003);
	double r = (double)g_bytes / bound;
	if (r > g_worst)
		g_worst = r;
	pthread_mutex_unlock(&g_mu);
}

static void *up_conn(void *arg)
{
	int fd = (int)(intptr_t)arg;
	size_t cap = 1 << 16, len = 0;
	char *b = malloc(cap);
	for (;;) {
		char *end;
		while (!(end = memmem(b, len, "\r\n\r\n", 4))) {
			ssize_t n = recv(fd, b + len, cap - len, 0);
			if (n <= 0)
				goto out;
			len += (size_t)n;
		}
		size_t hl = (size_t)(end - b) + 4;
		char head[2048];
		snprintf(head, sizeof(head), "%.*s", (int)(hl < sizeof(head) ? hl : sizeof(head) - 1),
			 b);
		const char *p = strcasestr(head, "\r\ncontent-length:");
		uint64_t cl = p ? strtoull(p + 17, NULL, 10) : 0;
		if (strcasestr(head, "\r\nexpect: 100-continue") &&
		    send(fd, "HTTP/1.1 100 Continue\r\n\r\n", 25, MSG_NOSIGNAL) < 0)
			goto out;
		memmove(b, b + hl, len - hl);
		len -= hl;
		while (cl > 0) {
			if (len == 0) {
				ssize_t n = recv(fd, b, cap, 0);
				if (n <= 0)
					goto out;
				len = (size_t)n;
			}
			size_t take = len < cl ? len : (size_t)cl;
			count(take);
			cl -= take;
			memmove(b, b + take, len - take);
			len -= take;
		}
		static const char resp[] = "HTTP/1.1 202 Accepted\r\n"
					   "Location: /v2/team-a/app/blobs/uploads/u1\r\n"
					   "Range: 0-0\r\nContent-Length: 0\r\n\r\n";
		if (send(fd, resp, sizeof(resp) - 1, MSG_NOSIGNAL) < 0)
			break;
	}
out:
	free(b);
	close(fd);
	return NULL;
}

static void *up_main(void *arg)
{
	(void)arg;
	for (;;) {
		int fd = accept(g_up_fd, NULL, NULL);
		if (fd < 0)
			return NULL;
		pthread_t t;
		pthread_create(&t, NULL, up_conn, (void *)(intptr_t)fd);
		pthread_detach(t);
	}
}

/* ---- a worker per case ---- */

#define CONF_FMT \
	"registry = { upstream = \"127.0.0.1:%u\"; server_names = [ \"registry.example.test\" ]; };\n" \
	"networks = { lo = [ \"127.0.0.1/32\" ]; };\n" \
	"listeners = (\n" \
	" { name = \"req\"; listen = \"127.0.0.1:1\"; mode = \"terminate\";\n" \
	"   cert = \"" CERTS "server.pem\"; key = \"" CERTS "server.key\";\n" \
	"   client_ca = \"" CERTS "ca.pem\"; crl = \"" CERTS "crl.pem\"; client_cert = \"required\";\n" \
	"   allow_from = [ \"lo\" ]; } );\n" \
	"identities = (\n" \
	" { name = \"ci-bot\"; cert_subject = \"CN=ci-bot,O=Example Org,C=DE\";\n" \
	"   roles = [ \"pull:*\", \"push:team-a/*\" ]; } );\n" \
	"policy = { push_requires_vpn = false;\n" \
	"   push_rate = { ops_per_minute = 1000000; bytes_per_second = %llu; }; };\n"

struct rig {
	struct rw_policy pol;
	struct rw_limit *limit;
	struct rw_fwd_worker *w;
	pthread_t wt, ut;
	int stop;
	uint16_t port;
};
static struct rig g_rig;

/* term/idle_timeout events: a paced upload must not end as idle */
static int g_idle_events;
static void ev_sink(void *ctx, const struct rw_fwd_event *e)
{
	(void)ctx;
	if (!strcmp(e->kind, "term") && !strcmp(e->reason, "idle_timeout")) {
		pthread_mutex_lock(&g_mu);
		g_idle_events++;
		pthread_mutex_unlock(&g_mu);
	}
}

static void *worker_main(void *arg)
{
	(void)arg;
	rw_fwd_worker_loop(g_rig.w);
	return NULL;
}

static int setup(void **state)
{
	const struct pace_case *pc = *state;
	signal(SIGPIPE, SIG_IGN);
	memset(&g_rig, 0, sizeof(g_rig));
	g_up_fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	if (bind(g_up_fd, (struct sockaddr *)&a, sizeof(a)) || listen(g_up_fd, 64))
		return -1;
	socklen_t al = sizeof(a);
	getsockname(g_up_fd, (struct sockaddr *)&a, &al);
	g_up_port = ntohs(a.sin_port);
	pthread_create(&g_rig.ut, NULL, up_main, NULL);
	char conf[4096];
	snprintf(conf, sizeof(conf), CONF_FMT, g_up_port, (unsigned long long)pc->rate);
	struct rw_diag d;
	rw_diag_init(&d);
	if (rw_config_load_string(conf, "test_term_pace.conf", &g_rig.pol, &d)) {
		rw_diag_print(&d, stderr);
		return -1;
	}
	g_rig.pol.listeners[0].listen.port = 0;
	if (rw_limit_create(&g_rig.limit, 64))
		return -1;
	struct rw_fwd_opts o;
	rw_fwd_opts_default(&o);
	g_rig.stop = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	o.stop_fd = g_rig.stop;
	o.limit = g_rig.limit;
	o.drain_timeout_ms = 0;
	if (pc->idle_ms)
		o.idle_timeout_ms = pc->idle_ms;
	struct rw_fwd_events ev = { .emit = ev_sink };
	int rc = rw_fwd_worker_new(&g_rig.pol, &o, &ev, &g_rig.w);
	if (rc) {
		fprintf(stderr, "worker: %s\n", rw_strerror(rc));
		return -1;
	}
	g_rig.port = rw_fwd_worker_port(g_rig.w, 0);
	pthread_mutex_lock(&g_mu);
	g_bytes = 0;
	g_worst = 0;
	g_idle_events = 0;
	g_rate = pc->rate;
	pthread_mutex_unlock(&g_mu);
	pthread_create(&g_rig.wt, NULL, worker_main, NULL);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	uint64_t one = 1;
	if (write(g_rig.stop, &one, sizeof(one)) != sizeof(one))
		return -1;
	pthread_join(g_rig.wt, NULL);
	rw_fwd_worker_free(g_rig.w);
	rw_limit_destroy(g_rig.limit);
	rw_policy_free(&g_rig.pol);
	shutdown(g_up_fd, SHUT_RDWR);
	close(g_up_fd);
	pthread_join(g_rig.ut, NULL);
	close(g_rig.stop);
	return 0;
}

/* ---- clients ---- */

struct cli_job {
	const struct pace_case *pc;
	uint64_t bytes;  /* this connection's share of the body bytes */
	int responses;   /* 202s received */
	int failed;      /* 0 ok; else the line in cli_main that failed */
};

static SSL *cli_open(SSL_CTX *ctx, int *fdp)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct timeval tv = { .tv_sec = 60 };
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	int one = 1;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(g_rig.port),
				 .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	*fdp = fd;
	if (connect(fd, (struct sockaddr *)&a, sizeof(a)))
		return NULL;
	SSL *ssl = SSL_new(ctx);
	SSL_set_fd(ssl, fd);
	SSL_set_tlsext_host_name(ssl, "registry.example.test");
	if (SSL_connect(ssl) != 1) {
		SSL_free(ssl);
		return NULL;
	}
	return ssl;
}

static bool cli_write(SSL *ssl, const char *p, size_t n)
{
	while (n > 0) {
		int chunk = n > (1u << 30) ? 1 << 30 : (int)n;
		int w = SSL_write(ssl, p, chunk);
		if (w <= 0)
			return false;
		p += w;
		n -= (size_t)w;
	}
	return true;
}

/* Read up to the end of one response head; its status (100 for an
 * interim one), -1 on EOF or error. Bodies are empty here. */
static int cli_status(SSL *ssl)
{
	char h[1024];
	size_t n = 0;
	while (n < sizeof(h) - 1) {
		int r = SSL_read(ssl, h + n, 1);
		if (r <= 0)
			return -1;
		n++;
		if (n >= 4 && !memcmp(h + n - 4, "\r\n\r\n", 4))
			break;
	}
	h[n] = '\0';
	return n > 12 && !strncmp(h, "HTTP/1.1 ", 9) ? atoi(h + 9) : -1;
}

#define CHECK(cond)                          \
	do {                                 \
		if (!(cond)) {               \
			j->failed = __LINE__; \
			goto out;            \
		}                            \
	} while (0)

static void *cli_main(void *arg)
{
	struct cli_job *j = arg;
	const struct pace_case *pc = j->pc;
	SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
	SSL_CTX_load_verify_file(ctx, CERTS "ca.pem");
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
	SSL_CTX_use_certificate_file(ctx, CERTS "client.pem", SSL_FILETYPE_PEM);
	SSL_CTX_use_PrivateKey_file(ctx, CERTS "client.key", SSL_FILETYPE_PEM);
	int fd = -1;
	SSL *ssl = cli_open(ctx, &fd);
	char *buf = NULL;
	CHECK(ssl);
	const size_t piece = pc->fr == F_15K_PATCHES ? 15000 : (size_t)j->bytes;
	buf = malloc(piece + 512);
	CHECK(buf);
	for (uint64_t sent = 0; sent < j->bytes;) {
		size_t body = j->bytes - sent < piece ? (size_t)(j->bytes - sent) : piece;
		int hl = snprintf(buf, 512,
				  "PATCH /v2/team-a/app/blobs/uploads/u1 HTTP/1.1\r\n"
				  "Host: registry.example.test\r\n"
				  "Content-Type: application/octet-stream\r\n%s"
				  "Content-Length: %zu\r\n\r\n",
				  pc->fr == F_CONTINUE ? "Expect: 100-continue\r\n" : "", body);
		memset(buf + hl, 'z', body);
		switch (pc->fr) {
		case F_15K_PATCHES: /* head and body in one TLS record */
			CHECK(SSL_write(ssl, buf, hl + (int)body) == hl + (int)body);
			break;
		case F_CONTINUE:
			CHECK(cli_write(ssl, buf, (size_t)hl));
			CHECK(cli_status(ssl) == 100);
			for (size_t o = 0; o < body; o += 65536)
				CHECK(cli_write(ssl, buf + hl + o, body - o < 65536 ? body - o : 65536));
			break;
		default: {
			size_t step = pc->fr == F_ONE_BYTE ? 1 : pc->fr == F_1K ? 1000 : 1000000;
			CHECK(cli_write(ssl, buf, (size_t)hl));
			for (size_t o = 0; o < body; o += step)
				CHECK(SSL_write(ssl, buf + hl + o,
						(int)(body - o < step ? body - o : step)) > 0);
			break;
		}
		}
		CHECK(cli_status(ssl) == 202);
		j->responses++;
		sent += body;
	}
out:
	free(buf);
	if (ssl)
		SSL_free(ssl);
	if (fd >= 0)
		close(fd);
	SSL_CTX_free(ctx);
	ERR_clear_error();
	return NULL;
}

static const char *fr_name(enum framing f)
{
	static const char *n[] = { "1-byte records", "1 kB records", "15 kB PATCHes (head+body)",
				   "1 MB writes", "Expect: 100-continue" };
	return n[f];
}

static void run_case(void **state)
{
	const struct pace_case *pc = *state;
	uint64_t total = pc->total ? pc->total : 2 * pc->rate;
	struct cli_job jobs[8];
	pthread_t th[8];
	assert_true(pc->conns >= 1 && pc->conns <= 8);
	pthread_mutex_lock(&g_mu);
	g_t0_us = now_us();
	pthread_mutex_unlock(&g_mu);
	for (unsigned i = 0; i < pc->conns; i++) {
		jobs[i] = (struct cli_job){ .pc = pc, .bytes = total / pc->conns };
		if (i == 0)
			jobs[i].bytes += total % pc->conns;
		pthread_create(&th[i], NULL, cli_main, &jobs[i]);
	}
	for (unsigned i = 0; i < pc->conns; i++)
		pthread_join(th[i], NULL);
	pthread_mutex_lock(&g_mu);
	uint64_t got = g_bytes, last = g_last_us, t0 = g_t0_us;
	double worst = g_worst;
	int idle = g_idle_events;
	pthread_mutex_unlock(&g_mu);
	double secs = (double)(last - t0) / 1e6;
	/* beyond the burst (one second's worth, which the fresh bucket
	 * holds): the rate the limit is about */
	double beyond = got > pc->rate ? (double)(got - pc->rate) : 0.0;
	print_message("%-26s x%u: %llu bytes in %.2f s, %.0f B/s beyond the burst "
		      "(limit %llu); peak %.3f of the bound\n",
		      fr_name(pc->fr), pc->conns, (unsigned long long)got, secs,
		      secs > 0 ? beyond / secs : 0.0, (unsigned long long)pc->rate, worst);
	for (unsigned i = 0; i < pc->conns; i++)
		if (jobs[i].failed)
			fail_msg("client %u failed at test_term_pace.c:%d", i, jobs[i].failed);
	assert_int_equal(got, total);
	assert_int_equal(idle, 0);
	/* never above burst + rate * t (with the slack above) */
	assert_true(worst <= 1.0);
}

#define CASE(f, n, r) { .fr = f, .conns = n, .rate = r }
static const struct pace_case c_1b_1 = CASE(F_ONE_BYTE, 1, 20000);
static const struct pace_case c_1b_8 = CASE(F_ONE_BYTE, 8, 20000);
static const struct pace_case c_1k_1 = CASE(F_1K, 1, 200000);
static const struct pace_case c_1k_8 = CASE(F_1K, 8, 200000);
static const struct pace_case c_15k_1 = CASE(F_15K_PATCHES, 1, 300000);
static const struct pace_case c_15k_8 = CASE(F_15K_PATCHES, 8, 300000);
static const struct pace_case c_1m_1 = CASE(F_1M, 1, 1000000);
static const struct pace_case c_1m_8 = CASE(F_1M, 8, 1000000);
static const struct pace_case c_cont_1 = CASE(F_CONTINUE, 1, 500000);
static const struct pace_case c_cont_8 = CASE(F_CONTINUE, 8, 500000);
/* A paced upload waits longer between wake-ups (1/8 s of budget) than
 * this idle timeout: waiting for budget is not the client being idle. */
static const struct pace_case c_idle = { .fr = F_1M, .conns = 1, .rate = 8000, .idle_ms = 60,
					 .total = 16000 };

#define T(name, c) { name, run_case, setup, teardown, (void *)&c }
int main(void)
{
	const struct CMUnitTest tests[] = {
		T("one_byte_records_x1", c_1b_1),   T("one_byte_records_x8", c_1b_8),
		T("1k_records_x1", c_1k_1),         T("1k_records_x8", c_1k_8),
		T("15k_patches_x1", c_15k_1),       T("15k_patches_x8", c_15k_8),
		T("1m_writes_x1", c_1m_1),          T("1m_writes_x8", c_1m_8),
		T("expect_continue_x1", c_cont_1),  T("expect_continue_x8", c_cont_8),
		T("paced_longer_than_idle_timeout", c_idle),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
