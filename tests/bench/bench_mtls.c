/* Load generator for scripts/bench/proxy.sh (a benchmark tool, not a test):
 * TLS connections with an optional client certificate, because neither wrk
 * nor h2load can present one.
 *
 * Load mode (default): keeps CONC connections in flight; each one is
 *   connect -> full TLS handshake (no session reuse, no tickets) ->
 *   one "GET PATH HTTP/1.1" -> the whole response, framed by the library's
 *   rw_httpresp parser -> close
 * until COUNT connections were started or SECONDS passed (whichever comes
 * first), then waits at most 3 s for the ones in flight. Prints one line:
 *   bench_mtls: conns=N hs=N ok=N err_connect=N err_tls=N err_http=N
 *     unfinished=N elapsed_s=X hs_per_s=X req_per_s=X p50_ms=X p99_ms=X cpu_ms=X
 * hs = handshakes completed, ok = 2xx responses read in full; the rates
 * are per second of wall time from the first connect to the last close;
 * cpu_ms is the generator's own user+system time, sys_ms the system part;
 * vcsw and ivcsw its voluntary and involuntary context switches.
 *
 * Idle mode (-I N): opens N connections (CONC at a time in the handshake),
 * completes the handshake and sends nothing more; when every one has
 * either finished its handshake or failed it writes "ok=X fail=Y" to the
 * ready file (-r) and then holds them until SECONDS passed. The caller
 * measures the proxy's memory in between and may end the holder early.
 *
 * Source addresses (-b a,b,c) are used round-robin, so the per-source limits
 * of the proxies (regwall: 256 live connections per source) and the client's
 * ephemeral ports do not cap the run. Single-threaded, epoll, non-blocking.
 *
 * usage: bench_mtls -a ADDR -p PORT [-s SNI] [-H HOST] [-u PATH]
 *          [-c CERT.pem -k KEY.pem] [-A CA.pem] [-b SRC,...] [-C CONC]
 *          [-n COUNT] [-t SECONDS] [-I N -r READYFILE] */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "base/rw_err.h"
#include "inspect/rw_httpresp.h"

#define BM_HEAD_MAX 4096	/* our servers answer with heads of ~250 bytes */
#define BM_SRC_MAX 64
#define BM_LAT_MAX (1u << 20)	/* latency samples kept (4 MiB) */
#define BM_GRACE_NS 3000000000ull

enum bm_state {
	BM_FREE = 0,
	BM_CONNECTING,
	BM_HANDSHAKE,
	BM_SEND,
	BM_HEAD,
	BM_BODY,
	BM_IDLE, /* idle mode: handshake done, held */
};

struct bm_conn {
	enum bm_state state;
	int fd;
	SSL *ssl;
	uint64_t t0;
	size_t head_len;
	struct rw_httpresp_body body;
	uint8_t head[BM_HEAD_MAX];
};

struct bm_opts {
	const char *addr, *sni, *host, *path, *cert, *key, *ca, *ready;
	unsigned port, conc;
	unsigned long count;
	double seconds;
	unsigned long idle;
	struct sockaddr_storage dst;
	socklen_t dst_len;
	struct sockaddr_storage src[BM_SRC_MAX];
	unsigned n_src;
};

struct bm_stats {
	unsigned long started, hs, ok, err_connect, err_tls, err_http, unfinished;
	uint32_t *lat_us;
	size_t n_lat;
};

struct bm_run {
	struct bm_opts o;
	struct bm_stats st;
	SSL_CTX *ctx;
	int ep;
	struct bm_conn *conns;
	unsigned live;
	unsigned next_src;
	char req[1024];
	size_t req_len;
	struct rw_httpresp resp; /* scratch: only the body framing is kept per connection */
};

static uint64_t bm_now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static int bm_parse_addr(const char *s, unsigned port, struct sockaddr_storage *ss, socklen_t *len)
{
	memset(ss, 0, sizeof(*ss));
	struct sockaddr_in *a4 = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)ss;
	if (inet_pton(AF_INET, s, &a4->sin_addr) == 1) {
		a4->sin_family = AF_INET;
		a4->sin_port = htons((uint16_t)port);
		*len = sizeof(*a4);
		return 0;
	}
	if (inet_pton(AF_INET6, s, &a6->sin6_addr) == 1) {
		a6->sin6_family = AF_INET6;
		a6->sin6_port = htons((uint16_t)port);
		*len = sizeof(*a6);
		return 0;
	}
	return RW_EINVAL;
}

static int bm_parse_ulong(const char *s, unsigned long max, unsigned long *out)
{
	char *end;
	errno = 0;
	unsigned long v = strtoul(s, &end, 10);
	if (errno || end == s || *end || v > max)
		return RW_EINVAL;
	*out = v;
	return 0;
}

static int bm_parse_sources(struct bm_opts *o, char *list)
{
	char *save = NULL;
	for (char *t = strtok_r(list, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
		socklen_t l;
		if (o->n_src == BM_SRC_MAX || bm_parse_addr(t, 0, &o->src[o->n_src], &l) < 0)
			return RW_EINVAL;
		o->n_src++;
	}
	return 0;
}

static void bm_usage(void)
{
	fprintf(stderr, "usage: bench_mtls -a ADDR -p PORT [-s SNI] [-H HOST] [-u PATH]\n"
			"  [-c CERT.pem -k KEY.pem] [-A CA.pem] [-b SRC,...] [-C CONC]\n"
			"  [-n COUNT] [-t SECONDS] [-I N -r READYFILE]\n");
}

static int bm_parse_opts(struct bm_opts *o, int argc, char **argv)
{
	int c;
	unsigned long v;
	memset(o, 0, sizeof(*o));
	o->path = "/";
	o->conc = 16;
	o->count = 1000000;
	o->seconds = 5;
	while ((c = getopt(argc, argv, "a:p:s:H:u:c:k:A:b:C:n:t:I:r:")) != -1) {
		switch (c) {
		case 'a': o->addr = optarg; break;
		case 'p':
			if (bm_parse_ulong(optarg, 65535, &v) < 0 || v == 0)
				return RW_EINVAL;
			o->port = (unsigned)v;
			break;
		case 's': o->sni = optarg; break;
		case 'H': o->host = optarg; break;
		case 'u': o->path = optarg; break;
		case 'c': o->cert = optarg; break;
		case 'k': o->key = optarg; break;
		case 'A': o->ca = optarg; break;
		case 'b':
			if (bm_parse_sources(o, optarg) < 0)
				return RW_EINVAL;
			break;
		case 'C':
			if (bm_parse_ulong(optarg, 100000, &v) < 0 || v == 0)
				return RW_EINVAL;
			o->conc = (unsigned)v;
			break;
		case 'n':
			if (bm_parse_ulong(optarg, 100000000, &o->count) < 0 || o->count == 0)
				return RW_EINVAL;
			break;
		case 't': {
			char *end;
			o->seconds = strtod(optarg, &end);
			if (end == optarg || *end || !(o->seconds > 0 && o->seconds <= 3600))
				return RW_EINVAL;
			break;
		}
		case 'I':
			if (bm_parse_ulong(optarg, 100000, &o->idle) < 0 || o->idle == 0)
				return RW_EINVAL;
			break;
		case 'r': o->ready = optarg; break;
		default: return RW_EINVAL;
		}
	}
	if (!o->addr || !o->port || (!o->cert) != (!o->key) || (o->idle && !o->ready))
		return RW_EINVAL;
	if (bm_parse_addr(o->addr, o->port, &o->dst, &o->dst_len) < 0)
		return RW_EINVAL;
	if (!o->host)
		o->host = o->sni ? o->sni : o->addr;
	return 0;
}

/* One context for every connection: resumption off on both ends of the
 * API (no cache, no tickets) so each connection pays a full handshake. */
static SSL_CTX *bm_ctx_new(const struct bm_opts *o)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
	if (!ctx)
		return NULL;
	SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
	SSL_CTX_set_options(ctx, SSL_OP_NO_TICKET);
	static const unsigned char alpn[] = "\x08http/1.1";
	SSL_CTX_set_alpn_protos(ctx, alpn, sizeof(alpn) - 1);
	if (o->cert && (SSL_CTX_use_certificate_chain_file(ctx, o->cert) != 1 ||
			SSL_CTX_use_PrivateKey_file(ctx, o->key, SSL_FILETYPE_PEM) != 1 ||
			SSL_CTX_check_private_key(ctx) != 1))
		goto fail;
	if (o->ca) {
		if (SSL_CTX_load_verify_locations(ctx, o->ca, NULL) != 1)
			goto fail;
		SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
	}
	return ctx;
fail:
	ERR_print_errors_fp(stderr);
	SSL_CTX_free(ctx);
	return NULL;
}

static void bm_watch(struct bm_run *r, struct bm_conn *c, uint32_t events, int op)
{
	struct epoll_event ev = {.events = events, .data.ptr = c};
	(void)epoll_ctl(r->ep, op, c->fd, &ev);
}

static void bm_close(struct bm_run *r, struct bm_conn *c)
{
	if (c->ssl) {
		/* close_notify is sent best-effort; the reply is not awaited */
		if (c->state >= BM_SEND)
			(void)SSL_shutdown(c->ssl);
		SSL_free(c->ssl);
		c->ssl = NULL;
	}
	if (c->fd >= 0)
		close(c->fd); /* also leaves the epoll set */
	c->fd = -1;
	c->state = BM_FREE;
	r->live--;
}

static void bm_fail(struct bm_run *r, struct bm_conn *c, unsigned long *counter)
{
	(*counter)++;
	ERR_clear_error();
	bm_close(r, c);
}

static int bm_start(struct bm_run *r, struct bm_conn *c)
{
	int fd = socket(r->o.dst.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return RW_EIO;
	int one = 1;
	(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	r->st.started++;
	r->live++;
	c->fd = fd;
	c->ssl = NULL;
	c->head_len = 0;
	c->t0 = bm_now_ns();
	c->state = BM_CONNECTING;
	if (r->o.n_src) {
		/* the port is chosen at connect(), per 4-tuple: many more than
		 * 28k connections fit through one source address */
		(void)setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof(one));
		const struct sockaddr_storage *s = &r->o.src[r->next_src++ % r->o.n_src];
		socklen_t l = s->ss_family == AF_INET ? sizeof(struct sockaddr_in)
						     : sizeof(struct sockaddr_in6);
		if (bind(fd, (const struct sockaddr *)s, l) < 0) {
			bm_fail(r, c, &r->st.err_connect);
			return 0;
		}
	}
	if (connect(fd, (const struct sockaddr *)&r->o.dst, r->o.dst_len) < 0 && errno != EINPROGRESS) {
		bm_fail(r, c, &r->st.err_connect);
		return 0;
	}
	bm_watch(r, c, EPOLLOUT, EPOLL_CTL_ADD);
	return 0;
}

/* OpenSSL's "would block" answers -> epoll interest; anything else fails
 * the connection (counted under *counter). Returns 1 while it waits. */
static int bm_ssl_wait(struct bm_run *r, struct bm_conn *c, int ret, unsigned long *counter)
{
	int e = SSL_get_error(c->ssl, ret);
	if (e == SSL_ERROR_WANT_READ) {
		bm_watch(r, c, EPOLLIN, EPOLL_CTL_MOD);
		return 1;
	}
	if (e == SSL_ERROR_WANT_WRITE) {
		bm_watch(r, c, EPOLLOUT, EPOLL_CTL_MOD);
		return 1;
	}
	bm_fail(r, c, counter);
	return 0;
}

static void bm_done(struct bm_run *r, struct bm_conn *c)
{
	if (r->resp.status >= 200 && r->resp.status < 300) {
		r->st.ok++;
		if (r->st.n_lat < BM_LAT_MAX) {
			uint64_t us = (bm_now_ns() - c->t0) / 1000;
			r->st.lat_us[r->st.n_lat++] = us > UINT32_MAX ? UINT32_MAX : (uint32_t)us;
		}
		bm_close(r, c);
	} else {
		bm_fail(r, c, &r->st.err_http);
	}
}

/* Feed body bytes; returns 1 when the response is complete. */
static int bm_body(struct bm_run *r, struct bm_conn *c, const uint8_t *p, size_t n)
{
	size_t used, payload;
	enum rw_inspect_result res = rw_httpresp_body_feed(&c->body, p, n, &used, &payload);
	if (res == RW_INSPECT_OK) {
		bm_done(r, c);
		return 1;
	}
	if (res == RW_INSPECT_REFUSE) {
		bm_fail(r, c, &r->st.err_http);
		return 1;
	}
	return 0;
}

static void bm_read(struct bm_run *r, struct bm_conn *c)
{
	uint8_t buf[16384];
	for (;;) {
		int n;
		if (c->state == BM_HEAD) {
			if (c->head_len == sizeof(c->head)) {
				bm_fail(r, c, &r->st.err_http);
				return;
			}
			n = SSL_read(c->ssl, c->head + c->head_len, (int)(sizeof(c->head) - c->head_len));
		} else {
			n = SSL_read(c->ssl, buf, (int)sizeof(buf));
		}
		if (n <= 0) {
			int e = SSL_get_error(c->ssl, n);
			if (e == SSL_ERROR_ZERO_RETURN ||
			    (e == SSL_ERROR_SYSCALL && c->state == BM_BODY)) {
				/* a close-delimited body ends here; anything else is short */
				if (c->state == BM_BODY && rw_httpresp_body_eof(&c->body) == RW_INSPECT_OK)
					bm_done(r, c);
				else
					bm_fail(r, c, &r->st.err_http);
				return;
			}
			(void)bm_ssl_wait(r, c, n, &r->st.err_http);
			return;
		}
		if (c->state == BM_BODY) {
			if (bm_body(r, c, buf, (size_t)n))
				return;
			continue;
		}
		c->head_len += (size_t)n;
		enum rw_inspect_result res;
		/* skip 1xx heads: the answer to our GET follows them */
		for (;;) {
			res = rw_httpresp_parse_head(c->head, c->head_len, RW_HTTP_GET, &r->resp);
			if (res != RW_INSPECT_OK || !r->resp.interim)
				break;
			memmove(c->head, c->head + r->resp.head_len, c->head_len - r->resp.head_len);
			c->head_len -= r->resp.head_len;
		}
		if (res == RW_INSPECT_MORE)
			continue;
		if (res == RW_INSPECT_REFUSE) {
			bm_fail(r, c, &r->st.err_http);
			return;
		}
		rw_httpresp_body_init(&c->body, &r->resp);
		c->state = BM_BODY;
		if (r->resp.body == RW_HTTPRESP_BODY_NONE) {
			bm_done(r, c);
			return;
		}
		if (bm_body(r, c, c->head + r->resp.head_len, c->head_len - r->resp.head_len))
			return;
	}
}

static void bm_step(struct bm_run *r, struct bm_conn *c)
{
	int ret;
	switch (c->state) {
	case BM_CONNECTING: {
		int err = 0;
		socklen_t l = sizeof(err);
		if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &l) < 0 || err) {
			bm_fail(r, c, &r->st.err_connect);
			return;
		}
		c->ssl = SSL_new(r->ctx);
		if (!c->ssl || SSL_set_fd(c->ssl, c->fd) != 1 ||
		    (r->o.sni && SSL_set_tlsext_host_name(c->ssl, r->o.sni) != 1)) {
			bm_fail(r, c, &r->st.err_tls);
			return;
		}
		SSL_set_connect_state(c->ssl);
		c->state = BM_HANDSHAKE;
	}
		/* fall through */
	case BM_HANDSHAKE:
		ret = SSL_do_handshake(c->ssl);
		if (ret != 1) {
			(void)bm_ssl_wait(r, c, ret, &r->st.err_tls);
			return;
		}
		r->st.hs++;
		if (r->o.idle) {
			c->state = BM_IDLE;
			/* nothing to wait for: the peer's tickets or a close stay in
			 * the socket until the holder exits */
			(void)epoll_ctl(r->ep, EPOLL_CTL_DEL, c->fd, NULL);
			return;
		}
		c->state = BM_SEND;
		/* fall through */
	case BM_SEND:
		ret = SSL_write(c->ssl, r->req, (int)r->req_len);
		if (ret <= 0) {
			(void)bm_ssl_wait(r, c, ret, &r->st.err_http);
			return;
		}
		c->state = BM_HEAD;
		bm_watch(r, c, EPOLLIN, EPOLL_CTL_MOD);
		/* fall through */
	case BM_HEAD:
	case BM_BODY:
		bm_read(r, c);
		return;
	case BM_FREE:
	case BM_IDLE:
		return;
	}
}

static int bm_cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
	return (x > y) - (x < y);
}

static double bm_pct_ms(struct bm_stats *s, double q)
{
	if (!s->n_lat)
		return 0;
	size_t i = (size_t)(q * (double)(s->n_lat - 1));
	return s->lat_us[i] / 1000.0;
}

/* Starts connections while the budget lasts, drives them, returns when all
 * are done (load mode) or all handshakes settled (idle mode). */
static void bm_loop(struct bm_run *r, uint64_t deadline)
{
	struct epoll_event evs[256];
	unsigned long budget = r->o.idle ? r->o.idle : r->o.count;
	unsigned idx = 0;
	for (;;) {
		uint64_t now = bm_now_ns();
		bool may_start = r->st.started < budget && now < deadline;
		/* in idle mode held connections are not "in flight" */
		unsigned busy = r->live;
		if (r->o.idle)
			busy = (unsigned)(r->st.started - r->st.hs - r->st.err_connect - r->st.err_tls);
		while (may_start && busy < r->o.conc && r->st.started < budget) {
			/* find a free slot (slots = conc in load mode, N in idle mode) */
			unsigned n_slots = r->o.idle ? (unsigned)r->o.idle : r->o.conc;
			unsigned tries = 0;
			while (r->conns[idx].state != BM_FREE && tries++ < n_slots)
				idx = (idx + 1) % n_slots;
			if (r->conns[idx].state != BM_FREE)
				break;
			if (bm_start(r, &r->conns[idx]) < 0)
				break;
			busy++;
		}
		if (!may_start && busy == 0)
			return;
		if (!may_start && now > deadline + BM_GRACE_NS)
			return;
		int n = epoll_wait(r->ep, evs, 256, 100);
		for (int i = 0; i < n; i++) {
			struct bm_conn *c = evs[i].data.ptr;
			if (c->state != BM_FREE)
				bm_step(r, c);
		}
	}
}

int main(int argc, char **argv)
{
	static struct bm_run run;
	struct bm_run *r = &run;
	if (bm_parse_opts(&r->o, argc, argv) < 0) {
		bm_usage();
		return 2;
	}
	signal(SIGPIPE, SIG_IGN);
	r->ctx = bm_ctx_new(&r->o);
	r->ep = epoll_create1(EPOLL_CLOEXEC);
	unsigned n_slots = r->o.idle ? (unsigned)r->o.idle : r->o.conc;
	r->conns = calloc(n_slots, sizeof(*r->conns));
	r->st.lat_us = calloc(BM_LAT_MAX, sizeof(uint32_t));
	if (!r->ctx || r->ep < 0 || !r->conns || !r->st.lat_us) {
		fprintf(stderr, "bench_mtls: setup failed\n");
		return 1;
	}
	for (unsigned i = 0; i < n_slots; i++)
		r->conns[i].fd = -1;
	int rl = snprintf(r->req, sizeof(r->req),
			  "GET %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: bench_mtls\r\nAccept: */*\r\n\r\n",
			  r->o.path, r->o.host);
	if (rl < 0 || (size_t)rl >= sizeof(r->req)) {
		fprintf(stderr, "bench_mtls: path/host too long\n");
		return 2;
	}
	r->req_len = (size_t)rl;

	uint64_t start = bm_now_ns();
	uint64_t deadline = start + (uint64_t)(r->o.seconds * 1e9);
	if (r->o.idle) {
		/* the handshakes get at most the whole hold time */
		bm_loop(r, deadline);
		unsigned long fail = r->st.err_connect + r->st.err_tls;
		FILE *f = fopen(r->o.ready, "w");
		if (f) {
			fprintf(f, "ok=%lu fail=%lu\n", r->st.hs, fail);
			fclose(f);
		}
		printf("bench_mtls: idle ok=%lu fail=%lu setup_s=%.3f\n", r->st.hs, fail,
		       (double)(bm_now_ns() - start) / 1e9);
		fflush(stdout);
		uint64_t now = bm_now_ns();
		if (now < deadline) {
			uint64_t left = deadline - now;
			struct timespec ts = {.tv_sec = (time_t)(left / 1000000000ull),
					      .tv_nsec = (long)(left % 1000000000ull)};
			while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
				;
		}
		return 0;
	}
	bm_loop(r, deadline);
	double el = (double)(bm_now_ns() - start) / 1e9;
	for (unsigned i = 0; i < n_slots; i++) {
		if (r->conns[i].state != BM_FREE) {
			r->st.unfinished++;
			bm_close(r, &r->conns[i]);
		}
	}
	qsort(r->st.lat_us, r->st.n_lat, sizeof(uint32_t), bm_cmp_u32);
	/* the generator's own CPU: on a small machine it shares the cores
	 * with the proxy, so it is part of what a rate can be */
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	double cpu_ms = (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1e3 +
			(double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e3;
	printf("bench_mtls: conns=%lu hs=%lu ok=%lu err_connect=%lu err_tls=%lu err_http=%lu "
	       "unfinished=%lu elapsed_s=%.3f hs_per_s=%.1f req_per_s=%.1f p50_ms=%.3f p99_ms=%.3f "
	       "cpu_ms=%.0f sys_ms=%.0f vcsw=%ld ivcsw=%ld\n",
	       r->st.started, r->st.hs, r->st.ok, r->st.err_connect, r->st.err_tls, r->st.err_http,
	       r->st.unfinished, el, el > 0 ? (double)r->st.hs / el : 0,
	       el > 0 ? (double)r->st.ok / el : 0, bm_pct_ms(&r->st, 0.5), bm_pct_ms(&r->st, 0.99), cpu_ms,
	       (double)ru.ru_stime.tv_sec * 1e3 + (double)ru.ru_stime.tv_usec / 1e3, ru.ru_nvcsw,
	       ru.ru_nivcsw);
	free(r->conns);
	free(r->st.lat_us);
	SSL_CTX_free(r->ctx);
	close(r->ep);
	return 0;
}
