/* Passthrough end to end on 127.0.0.1, without root and without the
 * daemon: a worker (rw_fwd_worker_*) runs in a thread with a hand-built
 * policy; behind it either a real TLS server (openssl s_server -www, its
 * certificate made at start-up), a sink that answers with a captured
 * ServerHello and hashes every byte it receives, or a scripted registry
 * that answers hellos with captured HelloRetryRequest / ServerHello bytes.
 * Clients are real openssl s_client / curl processes and crafted byte
 * streams from captured ClientHellos. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/evp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "fwd/rw_fwd.h"
#include "fwd/rw_listen.h"
#include "base/rw_loop.h"
#include "fwd/rw_pass.h"
#include "fwd/rw_event.h"
#include "base/rw_err.h"
#include "tests/unit/test_tls_build.h"

extern char **environ;

#define NAME_OK "registry.example.test"

/* ---- small helpers ---- */

static uint64_t now_ms(void)
{
	return rw_loop_clock_ms();
}

static void sleep_ms(unsigned ms)
{
	struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L };
	nanosleep(&ts, NULL);
}

static int read_file(const char *path, uint8_t *buf, size_t cap, size_t *len)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return -1;
	*len = fread(buf, 1, cap, f);
	fclose(f);
	return 0;
}

static void sha256(const uint8_t *d, size_t n, uint8_t md[32])
{
	unsigned int l = 32;
	assert_int_equal(EVP_Digest(d, n, md, &l, EVP_sha256(), NULL), 1);
}

static int connect_port(uint16_t port)
{
	int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct sockaddr_in sin = { .sin_family = AF_INET, .sin_port = htons(port),
				   .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	if (connect(s, (struct sockaddr *)&sin, sizeof(sin)) != 0) {
		close(s);
		return -1;
	}
	int one = 1;
	setsockopt(s, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	return s;
}

static uint16_t free_port(void)
{
	int s = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in sin = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	bind(s, (struct sockaddr *)&sin, sizeof(sin));
	socklen_t len = sizeof(sin);
	getsockname(s, (struct sockaddr *)&sin, &len);
	close(s);
	return ntohs(sin.sin_port);
}

/* Wait (bounded) until fd is closed by the peer: returns ms waited, or
 * -1 if it stayed open for timeout_ms. Data that arrives is discarded. */
static long wait_closed(int fd, unsigned timeout_ms)
{
	uint64_t t0 = now_ms();
	for (;;) {
		uint64_t el = now_ms() - t0;
		if (el >= timeout_ms)
			return -1;
		struct pollfd p = { .fd = fd, .events = POLLIN };
		if (poll(&p, 1, (int)(timeout_ms - el)) <= 0)
			return -1;
		char buf[4096];
		ssize_t n = recv(fd, buf, sizeof(buf), 0);
		if (n <= 0)
			return (long)(now_ms() - t0);
	}
}

/* ---- events from the worker ---- */

struct evrec {
	char kind[16], reason[48], sni[512];
	uint64_t up, down;
};

static pthread_mutex_t ev_mu = PTHREAD_MUTEX_INITIALIZER;
static struct evrec evs[8192];
static int n_evs;

static void on_event(void *ctx, const struct rw_fwd_event *ev)
{
	pthread_mutex_lock(&ev_mu);
	if (n_evs < (int)(sizeof(evs) / sizeof(evs[0]))) {
		struct evrec *r = &evs[n_evs++];
		snprintf(r->kind, sizeof(r->kind), "%s", ev->kind ? ev->kind : "");
		snprintf(r->reason, sizeof(r->reason), "%s", ev->reason ? ev->reason : "");
		snprintf(r->sni, sizeof(r->sni), "%s", ev->sni ? ev->sni : "");
		r->up = ev->bytes_up;
		r->down = ev->bytes_down;
	}
	pthread_mutex_unlock(&ev_mu);
}

static void events_reset(void)
{
	pthread_mutex_lock(&ev_mu);
	n_evs = 0;
	pthread_mutex_unlock(&ev_mu);
}

/* Wait until at least n events, return a copy of event i. */
static int wait_events(int n, unsigned timeout_ms)
{
	uint64_t t0 = now_ms();
	for (;;) {
		pthread_mutex_lock(&ev_mu);
		int have = n_evs;
		pthread_mutex_unlock(&ev_mu);
		if (have >= n || now_ms() - t0 > timeout_ms)
			return have;
		sleep_ms(5);
	}
}

static struct evrec event_at(int i)
{
	pthread_mutex_lock(&ev_mu);
	struct evrec r = evs[i];
	pthread_mutex_unlock(&ev_mu);
	return r;
}

static int count_reason(const char *kind, const char *reason)
{
	int c = 0;
	pthread_mutex_lock(&ev_mu);
	for (int i = 0; i < n_evs; i++)
		c += strcmp(evs[i].kind, kind) == 0 && strcmp(evs[i].reason, reason) == 0;
	pthread_mutex_unlock(&ev_mu);
	return c;
}

/* ---- the worker under test ---- */

struct wfix {
	struct rw_policy pol;
	struct rw_listener lis;
	char *names[2];
	int stop[2];
	struct rw_fwd_worker *w;
	pthread_t th;
	uint16_t port;
	int rc;
};

static void *worker_main(void *arg)
{
	struct wfix *f = arg;
	f->rc = rw_fwd_worker_loop(f->w);
	return NULL;
}

/* allow_ech for the next wfix_start (set before the worker thread runs);
 * unless set, the config loader's default (true) */
static bool next_allow_ech, next_allow_ech_set;

static void wfix_start(struct wfix *f, uint16_t upstream_port, const struct rw_fwd_opts *o_in)
{
	memset(f, 0, sizeof(*f));
	events_reset();
	static const uint8_t lo[4] = { 127, 0, 0, 1 };
	f->names[0] = NAME_OK;
	f->names[1] = "*.mirror.example.test";
	f->pol.registry.upstream.family = AF_INET;
	memcpy(f->pol.registry.upstream.addr, lo, 4);
	f->pol.registry.upstream.port = upstream_port;
	f->pol.registry.server_names = f->names;
	f->pol.registry.n_server_names = 2;
	snprintf(f->lis.name, sizeof(f->lis.name), "pass");
	f->lis.listen.family = AF_INET;
	memcpy(f->lis.listen.addr, lo, 4);
	f->lis.listen.port = 0;
	f->lis.mode = RW_MODE_PASSTHROUGH;
	f->lis.allow_ech = next_allow_ech_set ? next_allow_ech : true;
	next_allow_ech_set = false;
	f->pol.listeners = &f->lis;
	f->pol.n_listeners = 1;
	assert_int_equal(pipe2(f->stop, O_CLOEXEC), 0);
	struct rw_fwd_opts o;
	if (o_in)
		o = *o_in;
	else
		rw_fwd_opts_default(&o);
	o.stop_fd = f->stop[0];
	struct rw_fwd_events ev = { .emit = on_event };
	assert_int_equal(rw_fwd_worker_new(&f->pol, &o, &ev, &f->w), 0);
	f->port = rw_fwd_worker_port(f->w, 0);
	assert_true(f->port != 0);
	assert_int_equal(pthread_create(&f->th, NULL, worker_main, f), 0);
}

static void wfix_stop(struct wfix *f)
{
	assert_int_equal(write(f->stop[1], "q", 1), 1);
	pthread_join(f->th, NULL);
	assert_int_equal(f->rc, 0);
	rw_fwd_worker_free(f->w);
	close(f->stop[0]);
	close(f->stop[1]);
}

/* ---- the sink registry: hashes each connection's bytes ---- */

#define SINK_MAX 8192

struct sink_conn {
	EVP_MD_CTX *md;
	size_t len;
};

/* The registry's answer the sink sends on accept: a real ServerHello
 * (tests/data/server-hello/openssl-tls13.bin: ServerHello + CCS). regwall
 * holds the client's bytes after its hello until it has seen one. */
static uint8_t sh_bytes[4096];
static size_t sh_len;

static void load_server_hello(void)
{
	if (sh_len == 0) {
		assert_int_equal(read_file("tests/data/server-hello/openssl-tls13.bin", sh_bytes,
					   sizeof(sh_bytes), &sh_len), 0);
		assert_true(sh_len > 100);
	}
}

struct sink {
	bool silent; /* no ServerHello: a registry that never answers */
	int lfd, epfd, stop[2];
	uint16_t port;
	pthread_t th;
	pthread_mutex_t mu;
	int live, accepted, n_done;
	struct {
		size_t len;
		uint8_t md[32];
	} done[SINK_MAX];
	struct sink_conn *conn[65536];
};

static void *sink_main(void *arg)
{
	struct sink *s = arg;
	struct epoll_event evb[64];
	for (;;) {
		int n = epoll_wait(s->epfd, evb, 64, -1);
		for (int i = 0; i < n; i++) {
			int fd = evb[i].data.fd;
			if (fd == s->stop[0])
				return NULL;
			if (fd == s->lfd) {
				int c;
				while ((c = accept4(s->lfd, NULL, NULL, SOCK_NONBLOCK)) >= 0) {
					if (c >= 65536) {
						close(c);
						continue;
					}
					if (!s->silent)
						assert_int_equal(send(c, sh_bytes, sh_len, MSG_NOSIGNAL),
								 (ssize_t)sh_len);
					struct sink_conn *sc = calloc(1, sizeof(*sc));
					sc->md = EVP_MD_CTX_new();
					EVP_DigestInit_ex(sc->md, EVP_sha256(), NULL);
					s->conn[c] = sc;
					struct epoll_event ee = { .events = EPOLLIN, .data.fd = c };
					epoll_ctl(s->epfd, EPOLL_CTL_ADD, c, &ee);
					pthread_mutex_lock(&s->mu);
					s->live++;
					s->accepted++;
					pthread_mutex_unlock(&s->mu);
				}
				continue;
			}
			struct sink_conn *sc = s->conn[fd];
			uint8_t buf[65536];
			ssize_t r;
			while ((r = recv(fd, buf, sizeof(buf), 0)) > 0) {
				EVP_DigestUpdate(sc->md, buf, (size_t)r);
				sc->len += (size_t)r;
			}
			if (r < 0 && errno == EAGAIN)
				continue;
			/* EOF (or reset): record and close */
			pthread_mutex_lock(&s->mu);
			if (s->n_done < SINK_MAX) {
				unsigned l = 32;
				s->done[s->n_done].len = sc->len;
				EVP_DigestFinal_ex(sc->md, s->done[s->n_done].md, &l);
				s->n_done++;
			}
			s->live--;
			pthread_mutex_unlock(&s->mu);
			epoll_ctl(s->epfd, EPOLL_CTL_DEL, fd, NULL);
			EVP_MD_CTX_free(sc->md);
			free(sc);
			s->conn[fd] = NULL;
			close(fd);
		}
	}
}

static struct sink *sink_start_opt(bool silent)
{
	load_server_hello();
	struct sink *s = calloc(1, sizeof(*s));
	assert_non_null(s);
	s->silent = silent;
	pthread_mutex_init(&s->mu, NULL);
	s->lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
	struct sockaddr_in sin = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	assert_int_equal(bind(s->lfd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	assert_int_equal(listen(s->lfd, 4096), 0);
	socklen_t len = sizeof(sin);
	getsockname(s->lfd, (struct sockaddr *)&sin, &len);
	s->port = ntohs(sin.sin_port);
	s->epfd = epoll_create1(0);
	assert_int_equal(pipe(s->stop), 0);
	struct epoll_event ee = { .events = EPOLLIN, .data.fd = s->lfd };
	epoll_ctl(s->epfd, EPOLL_CTL_ADD, s->lfd, &ee);
	ee.data.fd = s->stop[0];
	epoll_ctl(s->epfd, EPOLL_CTL_ADD, s->stop[0], &ee);
	assert_int_equal(pthread_create(&s->th, NULL, sink_main, s), 0);
	return s;
}

static struct sink *sink_start(void)
{
	return sink_start_opt(false);
}

static void sink_stop(struct sink *s)
{
	assert_int_equal(write(s->stop[1], "q", 1), 1);
	pthread_join(s->th, NULL);
	for (int fd = 0; fd < 65536; fd++)
		if (s->conn[fd]) {
			EVP_MD_CTX_free(s->conn[fd]->md);
			free(s->conn[fd]);
			close(fd);
		}
	close(s->lfd);
	close(s->epfd);
	close(s->stop[0]);
	close(s->stop[1]);
	free(s);
}

static int sink_wait(struct sink *s, int n_done, unsigned timeout_ms)
{
	uint64_t t0 = now_ms();
	for (;;) {
		pthread_mutex_lock(&s->mu);
		int d = s->n_done;
		pthread_mutex_unlock(&s->mu);
		if (d >= n_done || now_ms() - t0 > timeout_ms)
			return d;
		sleep_ms(5);
	}
}

static int sink_live(struct sink *s)
{
	pthread_mutex_lock(&s->mu);
	int l = s->live;
	pthread_mutex_unlock(&s->mu);
	return l;
}

/* ---- captured hellos ---- */

static uint8_t hello[4096];
static size_t hello_len;

static void load_hello(const char *name)
{
	char path[256];
	snprintf(path, sizeof(path), "tests/data/hello/%s", name);
	assert_int_equal(read_file(path, hello, sizeof(hello), &hello_len), 0);
	assert_true(hello_len > 5);
}

/* Re-frame a single-record hello into records of at most 'chunk' bytes of
 * handshake payload each. */
static size_t reframe(const uint8_t *in, size_t in_len, size_t chunk, uint8_t *out, size_t cap)
{
	size_t body = ((size_t)in[3] << 8) | in[4];
	assert_int_equal(body + 5, in_len);
	size_t o = 0;
	for (size_t off = 0; off < body; off += chunk) {
		size_t n = body - off < chunk ? body - off : chunk;
		assert_true(o + 5 + n <= cap);
		out[o++] = 0x16;
		out[o++] = in[1];
		out[o++] = in[2];
		out[o++] = (uint8_t)(n >> 8);
		out[o++] = (uint8_t)n;
		memcpy(out + o, in + 5 + off, n);
		o += n;
	}
	return o;
}

/* Send stream (hello + trailer) through the worker to the sink and check
 * the sink received exactly those bytes. step = bytes per write. */
static void send_through(struct wfix *f, struct sink *s, const uint8_t *stream, size_t len,
			 size_t step, unsigned pause_ms)
{
	int before = sink_wait(s, 0, 0);
	int c = connect_port(f->port);
	assert_true(c >= 0);
	for (size_t off = 0; off < len; off += step) {
		size_t n = len - off < step ? len - off : step;
		assert_int_equal(send(c, stream + off, n, MSG_NOSIGNAL), (ssize_t)n);
		if (pause_ms && off < 600) /* segment the hello, not the whole trailer */
			sleep_ms(pause_ms);
	}
	shutdown(c, SHUT_WR);
	/* the sink closes after EOF; that FIN travels back to us */
	assert_true(wait_closed(c, 5000) >= 0);
	close(c);
	assert_int_equal(sink_wait(s, before + 1, 5000), before + 1);
	uint8_t md[32];
	sha256(stream, len, md);
	pthread_mutex_lock(&s->mu);
	size_t got_len = s->done[before].len;
	uint8_t got_md[32];
	memcpy(got_md, s->done[before].md, 32);
	pthread_mutex_unlock(&s->mu);
	assert_int_equal(got_len, len);
	assert_memory_equal(got_md, md, 32);
}

static uint8_t *stream_with_trailer(const uint8_t *head, size_t head_len, size_t trailer,
				    size_t *out_len)
{
	uint8_t *b = malloc(head_len + trailer);
	memcpy(b, head, head_len);
	unsigned seed = 42;
	for (size_t i = 0; i < trailer; i++)
		b[head_len + i] = (uint8_t)(rand_r(&seed) >> 5);
	*out_len = head_len + trailer;
	return b;
}

/* ---- tests with the sink ---- */

static void test_bytes_exact_whole(void **state)
{
	load_hello("openssl-tls13-sni-alpn.bin");
	struct sink *s = sink_start();
	struct wfix f;
	wfix_start(&f, s->port, NULL);
	size_t len;
	uint8_t *stream = stream_with_trailer(hello, hello_len, 3 << 20, &len);
	send_through(&f, s, stream, len, len, 0);
	assert_true(wait_events(1, 3000) >= 1);
	struct evrec e = event_at(0);
	assert_string_equal(e.kind, "pass");
	assert_string_equal(e.reason, "done");
	assert_string_equal(e.sni, NAME_OK);
	assert_int_equal(e.up, len);
	assert_int_equal(e.down, sh_len);
	free(stream);
	wfix_stop(&f);
	sink_stop(s);
}

/* The daemon's parent owns the listening socket and gives each worker
 * generation a copy (o.listen_fds). A stopped worker closes only its
 * copy: a connection that arrives while no worker accepts is queued, not
 * refused, and the next worker serves it. */
static void test_handover_keeps_queue(void **state)
{
	load_hello("openssl-tls13-sni-alpn.bin");
	struct sink *s = sink_start();
	struct rw_endpoint ep = { .family = AF_INET, .addr = { 127, 0, 0, 1 } };
	int lfd;
	assert_int_equal(rw_listen_open(&ep, 64, &lfd, NULL), 0);
	uint16_t port = rw_listen_port(lfd);
	assert_true(port != 0);
	struct rw_fwd_opts o;
	rw_fwd_opts_default(&o);
	int given = fcntl(lfd, F_DUPFD_CLOEXEC, 0);
	assert_true(given >= 0);
	o.listen_fds = &given;
	struct wfix f;
	wfix_start(&f, s->port, &o);
	assert_int_equal(f.port, port); /* the given socket, not a new one */
	size_t len;
	uint8_t *stream = stream_with_trailer(hello, hello_len, 20000, &len);
	send_through(&f, s, stream, len, len, 0);
	wfix_stop(&f);

	/* nobody accepts now; the socket is still there */
	int before = sink_wait(s, 0, 0);
	int c = connect_port(port);
	assert_true(c >= 0);
	assert_int_equal(send(c, stream, len, MSG_NOSIGNAL), (ssize_t)len);
	shutdown(c, SHUT_WR);

	/* the next generation takes the queued connection */
	given = fcntl(lfd, F_DUPFD_CLOEXEC, 0);
	assert_true(given >= 0);
	wfix_start(&f, s->port, &o);
	assert_int_equal(f.port, port);
	assert_true(wait_closed(c, 5000) >= 0);
	close(c);
	assert_int_equal(sink_wait(s, before + 1, 5000), before + 1);
	uint8_t md[32];
	sha256(stream, len, md);
	pthread_mutex_lock(&s->mu);
	size_t got_len = s->done[before].len;
	uint8_t got_md[32];
	memcpy(got_md, s->done[before].md, 32);
	pthread_mutex_unlock(&s->mu);
	assert_int_equal(got_len, len);
	assert_memory_equal(got_md, md, 32);
	wfix_stop(&f);
	close(lfd);
	/* with the last copy gone, connects are refused again */
	assert_int_equal(connect_port(port), -1);
	free(stream);
	sink_stop(s);
}

static void test_one_byte_segments(void **state)
{
	load_hello("openssl-tls13-sni-alpn.bin");
	struct sink *s = sink_start();
	struct wfix f;
	wfix_start(&f, s->port, NULL);
	size_t len;
	uint8_t *stream = stream_with_trailer(hello, hello_len, 20000, &len);
	/* 1-byte writes with TCP_NODELAY and a pause: each its own segment */
	send_through(&f, s, stream, len, 1, 1);
	assert_true(wait_events(1, 3000) >= 1);
	assert_string_equal(event_at(0).reason, "done");
	free(stream);
	wfix_stop(&f);
	sink_stop(s);
}

static void test_reframed_10_byte_records(void **state)
{
	load_hello("openssl-tls13-sni-alpn.bin");
	uint8_t re[8192];
	size_t re_len = reframe(hello, hello_len, 10, re, sizeof(re));
	assert_true(re_len > hello_len + 5 * 20);
	struct sink *s = sink_start();
	struct wfix f;
	wfix_start(&f, s->port, NULL);
	size_t len;
	uint8_t *stream = stream_with_trailer(re, re_len, 1000, &len);
	send_through(&f, s, stream, len, 7, 1); /* and odd segments on top */
	assert_true(wait_events(1, 3000) >= 1);
	struct evrec e = event_at(0);
	assert_string_equal(e.reason, "done");
	assert_string_equal(e.sni, NAME_OK);
	free(stream);
	wfix_stop(&f);
	sink_stop(s);
}

/* Each refused stream: closed by the worker, the reason in the event, and
 * the registry never sees a connection. */
static void expect_refused(struct wfix *f, struct sink *s, const uint8_t *b, size_t n,
			   const char *reason)
{
	events_reset();
	int c = connect_port(f->port);
	assert_true(c >= 0);
	assert_int_equal(send(c, b, n, MSG_NOSIGNAL), (ssize_t)n);
	assert_true(wait_closed(c, 3000) >= 0);
	close(c);
	assert_true(wait_events(1, 3000) >= 1);
	struct evrec e = event_at(0);
	assert_string_equal(e.kind, "refuse");
	assert_string_equal(e.reason, reason);
	pthread_mutex_lock(&s->mu);
	assert_int_equal(s->accepted, 0);
	pthread_mutex_unlock(&s->mu);
}

static void test_refusals(void **state)
{
	struct sink *s = sink_start();
	struct wfix f;
	wfix_start(&f, s->port, NULL);
	static const uint8_t http[] = "GET /v2/ HTTP/1.1\r\nHost: x\r\n\r\n";
	expect_refused(&f, s, http, sizeof(http) - 1, "tls_not_tls");
	load_hello("openssl-tls13-nosni.bin");
	expect_refused(&f, s, hello, hello_len, "no_sni");
	load_hello("openssl-tls12-nosni.bin");
	expect_refused(&f, s, hello, hello_len, "no_sni");
	/* a name not on the list: patch the SNI in a captured hello in place
	 * (same length, so every length field stays right) */
	load_hello("curl-http2.bin");
	uint8_t *p = memmem(hello, hello_len, NAME_OK, strlen(NAME_OK));
	assert_non_null(p);
	memcpy(p, "registry.example.evil", strlen(NAME_OK));
	expect_refused(&f, s, hello, hello_len, "sni");
	/* two labels under a one-label wildcard */
	memcpy(p, "a.b.mirror.example.te", strlen(NAME_OK));
	expect_refused(&f, s, hello, hello_len, "sni");
	wfix_stop(&f);
	sink_stop(s);
}

static void load_crafted(const char *name)
{
	char path[256];
	snprintf(path, sizeof(path), "tests/data/hello-crafted/%s", name);
	assert_int_equal(read_file(path, hello, sizeof(hello), &hello_len), 0);
	assert_true(hello_len > 5);
}

/* Chromium and Firefox send GREASE ECH on every connection; a registry
 * without ECH keys handshakes on the outer hello. By default such hellos
 * pass on their (outer) name; allow_ech = false refuses them all. */
static void test_grease_ech(void **state)
{
	struct sink *s = sink_start();
	struct wfix f;
	static const char *const ech_hellos[][2] = { { "hello", "chromium.bin" },
						     { "hello-crafted", "ok-grease-ech.bin" } };
	for (size_t i = 0; i < 2; i++) {
		if (strcmp(ech_hellos[i][0], "hello") == 0)
			load_hello(ech_hellos[i][1]);
		else
			load_crafted(ech_hellos[i][1]);
		wfix_start(&f, s->port, NULL);
		send_through(&f, s, hello, hello_len, 100, 1);
		assert_true(wait_events(1, 3000) >= 1);
		assert_string_equal(event_at(0).kind, "pass");
		assert_string_equal(event_at(0).sni, NAME_OK);
		wfix_stop(&f);
		/* refusals: a fresh registry that must see no connection */
		sink_stop(s);
		s = sink_start();
		/* a name off the list is still refused with ECH present */
		uint8_t *p = memmem(hello, hello_len, NAME_OK, strlen(NAME_OK));
		assert_non_null(p);
		memcpy(p, "registry.example.evil", strlen(NAME_OK));
		wfix_start(&f, s->port, NULL);
		expect_refused(&f, s, hello, hello_len, "sni");
		wfix_stop(&f);
		memcpy(p, NAME_OK, strlen(NAME_OK));
		/* the explicit setting for a registry that holds ECH keys */
		next_allow_ech = false;
		next_allow_ech_set = true;
		wfix_start(&f, s->port, NULL);
		expect_refused(&f, s, hello, hello_len, "ech");
		wfix_stop(&f);
	}
	sink_stop(s);
}

static void test_allowed_wildcard(void **state)
{
	struct sink *s = sink_start();
	struct wfix f;
	wfix_start(&f, s->port, NULL);
	load_hello("curl-http2.bin");
	uint8_t *p = memmem(hello, hello_len, NAME_OK, strlen(NAME_OK));
	assert_non_null(p);
	memcpy(p, "eu01.mirror.example.t", strlen(NAME_OK)); /* still 21 bytes */
	/* "*.mirror.example.test" does not cover ".t": refused */
	expect_refused(&f, s, hello, hello_len, "sni");
	memcpy(p, "eu.mirror.example.tes", strlen(NAME_OK));
	expect_refused(&f, s, hello, hello_len, "sni");
	wfix_stop(&f);
	/* a name the wildcard covers, same length as NAME_OK */
	wfix_start(&f, s->port, NULL);
	memcpy(p, "e.mirror.example.test", strlen(NAME_OK));
	send_through(&f, s, hello, hello_len, hello_len, 0);
	assert_true(wait_events(1, 3000) >= 1);
	assert_string_equal(event_at(0).sni, "e.mirror.example.test");
	wfix_stop(&f);
	sink_stop(s);
}

/* ---- the server name in refusal events ---- */

/* A TLS 1.3 hello whose server_name is (name, len); len (size_t)-1: none. */
static size_t build_hello_named(const uint8_t *name, size_t len, uint8_t *out, size_t cap)
{
	static struct tb ext, msg, rec;
	static const uint16_t ciphers[] = { 0x1301, 0x1302 };
	static const uint16_t versions[] = { 0x0304, 0x0303 };
	static const uint16_t groups[] = { 0x001d };
	static const uint16_t sigalgs[] = { 0x0403, 0x0804 };
	tb_reset(&ext);
	if (len != (size_t)-1)
		tb_ext_sni_n(&ext, (const char *)name, len);
	tb_ext_versions(&ext, versions, 2);
	tb_ext_u16list(&ext, 0x000a, groups, 1);
	tb_ext_u16list(&ext, 0x000d, sigalgs, 2);
	tb_hello(&msg, 0x0303, ciphers, 2, &ext);
	tb_frame(&rec, msg.b, msg.n, 16384);
	assert_true(rec.n <= cap);
	memcpy(out, rec.b, rec.n);
	return rec.n;
}

/* Send a hello with that name; the registry must see nothing. */
static struct evrec refused_with_name(struct wfix *f, struct sink *s, const void *name, size_t len)
{
	static uint8_t buf[20000];
	size_t n = build_hello_named(name, len, buf, sizeof(buf));
	events_reset();
	int c = connect_port(f->port);
	assert_int_equal(send(c, buf, n, MSG_NOSIGNAL), (ssize_t)n);
	assert_true(wait_closed(c, 3000) >= 0);
	close(c);
	assert_int_equal(wait_events(1, 3000), 1);
	pthread_mutex_lock(&s->mu);
	assert_int_equal(s->accepted, 0);
	pthread_mutex_unlock(&s->mu);
	struct evrec e = event_at(0);
	assert_string_equal(e.kind, "refuse");
	return e;
}

/* The event's sni is the name the client asked for: checked names
 * lower-cased as matched, names the parser refuses as sent, with every
 * byte outside [A-Za-z0-9.-_] as \xHH, bounded; none without SNI. Each
 * text also survives the JSON sink as one line and parses back equal. */
static void test_refused_sni_in_event(void **state)
{
	struct sink *s = sink_start();
	struct wfix f;
	wfix_start(&f, s->port, NULL);
	static const struct {
		const char *name;
		size_t len;
		const char *reason, *sni;
	} cases[] = {
#define NAMED(lit) lit, sizeof(lit) - 1
		{ NAMED("Registry.Example.EVIL"), "sni", "registry.example.evil" },
		{ NAMED("bad\x01name\n.test"), "tls_bad_name", "bad\\x01name\\x0a.test" },
		{ NAMED("caf\xc3\xa9.example.test"), "tls_bad_name", "caf\\xc3\\xa9.example.test" },
		{ NAMED("\xff\xfe.test"), "tls_bad_name", "\\xff\\xfe.test" },
		{ NAMED("a\"b\\c d\x7f"), "tls_bad_name", "a\\x22b\\x5cc\\x20d\\x7f" },
		{ NAMED("nul\0" NAME_OK), "tls_bad_name", "nul\\x00" NAME_OK },
		{ NAMED(NAME_OK "."), "tls_bad_name", NAME_OK "." },
		{ NAMED("192.0.2.1"), "tls_bad_name", "192.0.2.1" },
		{ NAMED(""), "tls_bad_name", "" },
#undef NAMED
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct evrec e = refused_with_name(&f, s, cases[i].name, cases[i].len);
		assert_string_equal(e.reason, cases[i].reason);
		assert_string_equal(e.sni, cases[i].sni);
	}
	/* no server_name at all: no sni in the event */
	struct evrec e = refused_with_name(&f, s, NULL, (size_t)-1);
	assert_string_equal(e.reason, "no_sni");
	assert_string_equal(e.sni, "");
	/* over-long, plain bytes: the first 254 kept, then the note */
	static uint8_t longname[1000];
	memset(longname, 'a', sizeof(longname));
	e = refused_with_name(&f, s, longname, 300);
	assert_string_equal(e.reason, "tls_bad_name");
	char want[512];
	memset(want, 'a', 254);
	snprintf(want + 254, sizeof(want) - 254, " (truncated, 300 bytes)");
	assert_string_equal(e.sni, want);
	/* 254 bytes (one over the limit) fit whole: no note */
	e = refused_with_name(&f, s, longname, 254);
	assert_int_equal(strlen(e.sni), 254);
	/* escaped bytes fill the bound first */
	memset(longname, 0x01, 1000);
	e = refused_with_name(&f, s, longname, 1000);
	assert_string_equal(e.reason, "tls_bad_name");
	assert_true(strlen(e.sni) < RW_PASS_SNI_TEXT_MAX);
	assert_memory_equal(e.sni, "\\x01\\x01", 8);
	assert_non_null(strstr(e.sni, "\\x01 (truncated, 1000 bytes)"));
	wfix_stop(&f);
	sink_stop(s);
}

/* rw_pass_sni_text at its bounds, and through the JSON sink. */
static void test_sni_text(void **state)
{
	char out[RW_PASS_SNI_TEXT_MAX];
	uint8_t name[400];
	/* exactly filling the buffer: no note */
	memset(name, 'x', sizeof(name));
	assert_int_equal(rw_pass_sni_text(name, 254, 254, out, sizeof(out)), 254);
	assert_int_equal(rw_pass_sni_text(name, sizeof(out) - 1, sizeof(out) - 1, out, sizeof(out)),
			 sizeof(out) - 1);
	assert_null(strchr(out, ' '));
	/* one more: cut, with the note, within the bound */
	size_t n = rw_pass_sni_text(name, sizeof(out), sizeof(out), out, sizeof(out));
	assert_true(n < sizeof(out));
	assert_non_null(strstr(out, " (truncated, 320 bytes)"));
	/* an escape is never split */
	memset(name, 0xee, sizeof(name));
	n = rw_pass_sni_text(name, 254, 300, out, sizeof(out));
	const char *note = strstr(out, " (truncated");
	assert_non_null(note);
	assert_int_equal((size_t)(note - out) % 4, 0);
	/* JSON: one line, and the text parses back unchanged */
	static const uint8_t nasty[] = "q\"\\\n\r\t\x01\x7f\xc3\xa9\xff</script>";
	rw_pass_sni_text(nasty, sizeof(nasty) - 1, sizeof(nasty) - 1, out, sizeof(out));
	struct rw_fwd_event ev = { .kind = "refuse", .reason = "tls_bad_name", .listener = "pass",
				   .sni = out };
	char *buf = NULL;
	size_t blen = 0;
	FILE *m = open_memstream(&buf, &blen);
	assert_non_null(m);
	assert_int_equal(rw_event_json_write(m, &ev), 0);
	fclose(m);
	assert_non_null(strchr(buf, '\n'));
	assert_true(strchr(buf, '\n') == buf + blen - 1);
	assert_non_null(strstr(buf, "\"sni\":\"q\\\\x22\\\\x5c\\\\x0a\\\\x0d\\\\x09\\\\x01\\\\x7f"
				   "\\\\xc3\\\\xa9\\\\xff\\\\x3c\\\\x2fscript\\\\x3e\""));
	free(buf);
}

static void test_hello_timeout(void **state)
{
	struct sink *s = sink_start();
	struct rw_fwd_opts o;
	rw_fwd_opts_default(&o);
	o.hello_timeout_ms = 1000;
	struct wfix f;
	wfix_start(&f, s->port, &o);
	load_hello("openssl-tls13-sni-alpn.bin");
	int c = connect_port(f.port);
	assert_int_equal(send(c, hello, 5, 0), 5); /* a record header, then silence */
	long waited = wait_closed(c, 4000);
	close(c);
	assert_true(waited >= 800);
	assert_true(waited <= 3000);
	assert_true(wait_events(1, 1000) >= 1);
	assert_string_equal(event_at(0).reason, "hello_timeout");
	/* and one that sends nothing at all */
	events_reset();
	c = connect_port(f.port);
	waited = wait_closed(c, 4000);
	close(c);
	assert_true(waited >= 800 && waited <= 3000);
	assert_true(wait_events(1, 1000) >= 1);
	assert_string_equal(event_at(0).reason, "hello_timeout");
	pthread_mutex_lock(&s->mu);
	assert_int_equal(s->accepted, 0);
	pthread_mutex_unlock(&s->mu);
	wfix_stop(&f);
	sink_stop(s);
}

/* Read what the worker sends before closing: the bytes and how it ended
 * (0: FIN, -1: reset or still open after timeout_ms). */
static int read_until_close(int fd, uint8_t *buf, size_t cap, size_t *len, unsigned timeout_ms)
{
	uint64_t t0 = now_ms();
	*len = 0;
	for (;;) {
		uint64_t el = now_ms() - t0;
		if (el >= timeout_ms)
			return -1;
		struct pollfd p = { .fd = fd, .events = POLLIN };
		if (poll(&p, 1, (int)(timeout_ms - el)) <= 0)
			return -1;
		ssize_t n = recv(fd, buf + *len, cap - *len, 0);
		if (n == 0)
			return 0;
		if (n < 0)
			return -1;
		*len += (size_t)n;
		if (*len == cap)
			return -1;
	}
}

static const uint8_t alert_internal_error[7] = { 0x15, 0x03, 0x03, 0x00, 0x02, 0x02, 0x50 };

/* The registry's port has nothing listening: the client gets a fatal
 * internal_error alert, then FIN; the event says connect_refused. With
 * bytes after the hello (0-RTT-like) the close is still a FIN. */
static void test_connect_failed(void **state)
{
	struct wfix f;
	wfix_start(&f, free_port(), NULL);
	load_hello("openssl-tls13-sni-alpn.bin");
	for (int extra = 0; extra < 2; extra++) {
		events_reset();
		int c = connect_port(f.port);
		assert_int_equal(send(c, hello, hello_len, 0), (ssize_t)hello_len);
		if (extra) {
			static uint8_t junk[20000];
			memset(junk, 0x17, sizeof(junk));
			assert_int_equal(send(c, junk, sizeof(junk), 0), (ssize_t)sizeof(junk));
		}
		uint8_t got[64];
		size_t got_len;
		assert_int_equal(read_until_close(c, got, sizeof(got), &got_len, 3000), 0);
		close(c);
		assert_int_equal(got_len, sizeof(alert_internal_error));
		assert_memory_equal(got, alert_internal_error, sizeof(alert_internal_error));
		assert_true(wait_events(1, 3000) >= 1);
		assert_string_equal(event_at(0).kind, "refuse");
		assert_string_equal(event_at(0).reason, "connect_refused");
		assert_string_equal(event_at(0).sni, NAME_OK);
	}
	wfix_stop(&f);
	/* send_alert = 0: a plain close */
	struct rw_fwd_opts o;
	rw_fwd_opts_default(&o);
	o.send_alert = 0;
	wfix_start(&f, free_port(), &o);
	int c = connect_port(f.port);
	assert_int_equal(send(c, hello, hello_len, 0), (ssize_t)hello_len);
	uint8_t got[64];
	size_t got_len;
	(void)read_until_close(c, got, sizeof(got), &got_len, 3000);
	close(c);
	assert_int_equal(got_len, 0);
	assert_true(wait_events(1, 3000) >= 1);
	assert_string_equal(event_at(0).reason, "connect_refused");
	wfix_stop(&f);
}

/* A registry whose accept queue is full drops the SYN: connect_timeout,
 * with the same alert. listen(0) takes one connection into the queue and
 * drops SYNs after it (on loopback, without root). */
static void test_connect_timeout_alert(void **state)
{
	int l = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct sockaddr_in sin = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	assert_int_equal(bind(l, (struct sockaddr *)&sin, sizeof(sin)), 0);
	assert_int_equal(listen(l, 0), 0);
	socklen_t sl = sizeof(sin);
	getsockname(l, (struct sockaddr *)&sin, &sl);
	uint16_t port = ntohs(sin.sin_port);
	/* fill the queue: connects that complete, then one that cannot */
	int fill[4];
	int n_fill = 0;
	for (; n_fill < 4; n_fill++) {
		fill[n_fill] = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
		(void)connect(fill[n_fill], (struct sockaddr *)&sin, sizeof(sin));
	}
	sleep_ms(100);
	struct rw_fwd_opts o;
	rw_fwd_opts_default(&o);
	o.connect_timeout_ms = 500;
	struct wfix f;
	wfix_start(&f, port, &o);
	load_hello("openssl-tls13-sni-alpn.bin");
	int c = connect_port(f.port);
	assert_int_equal(send(c, hello, hello_len, 0), (ssize_t)hello_len);
	uint64_t t0 = now_ms();
	uint8_t got[64];
	size_t got_len;
	assert_int_equal(read_until_close(c, got, sizeof(got), &got_len, 5000), 0);
	uint64_t waited = now_ms() - t0;
	close(c);
	assert_true(waited >= 400);
	assert_int_equal(got_len, sizeof(alert_internal_error));
	assert_memory_equal(got, alert_internal_error, sizeof(alert_internal_error));
	assert_true(wait_events(1, 3000) >= 1);
	assert_string_equal(event_at(0).reason, "connect_timeout");
	wfix_stop(&f);
	for (int i = 0; i < n_fill; i++)
		close(fill[i]);
	close(l);
}

/* Alert record versions: ClientHello.legacy_version, capped at 3.3. */
static void test_alert_version(void **state)
{
	assert_int_equal(rw_pass_alert_version(0x0303), 0x0303);
	assert_int_equal(rw_pass_alert_version(0x0301), 0x0301);
	assert_int_equal(rw_pass_alert_version(0x0302), 0x0302);
	assert_int_equal(rw_pass_alert_version(0x0304), 0x0303);
	assert_int_equal(rw_pass_alert_version(0x7f1c), 0x0303);
	assert_string_equal(rw_pass_connect_reason(ECONNREFUSED), "connect_refused");
	assert_string_equal(rw_pass_connect_reason(EHOSTUNREACH), "connect_unreachable");
	assert_string_equal(rw_pass_connect_reason(ENETUNREACH), "connect_unreachable");
	assert_string_equal(rw_pass_connect_reason(ETIMEDOUT), "connect_timeout");
	assert_string_equal(rw_pass_connect_reason(EMFILE), "connect_failed");
	assert_string_equal(rw_pass_connect_reason(0), "connect_failed");
}

static void test_limits_overload(void **state)
{
	struct sink *s = sink_start();
	struct rw_fwd_opts o;
	rw_fwd_opts_default(&o);
	o.max_conns = 3;
	o.max_per_source = 0;
	struct wfix f;
	wfix_start(&f, s->port, &o);
	int c[3];
	for (int i = 0; i < 3; i++)
		c[i] = connect_port(f.port);
	/* let the worker admit them */
	for (int i = 0; i < 500 && rw_fwd_worker_conns(f.w) < 3; i++)
		sleep_ms(10);
	int x = connect_port(f.port);
	assert_true(x >= 0);
	/* closed at once, i.e. well before the default 5 s hello timeout
	 * (the bound is loose so a slow sanitizer run cannot flake it) */
	long waited = wait_closed(x, 4000);
	assert_true(waited >= 0 && waited < 3000);
	close(x);
	assert_true(wait_events(1, 2000) >= 1);
	assert_string_equal(event_at(0).reason, "overload");
	/* the three held connections still work */
	load_hello("openssl-tls13-sni-alpn.bin");
	for (int i = 0; i < 3; i++) {
		assert_int_equal(send(c[i], hello, hello_len, 0), (ssize_t)hello_len);
		shutdown(c[i], SHUT_WR);
		assert_true(wait_closed(c[i], 3000) >= 0);
		close(c[i]);
	}
	assert_int_equal(sink_wait(s, 3, 3000), 3);
	wfix_stop(&f);

	/* per-source limit */
	o.max_conns = 100;
	o.max_per_source = 2;
	wfix_start(&f, s->port, &o);
	c[0] = connect_port(f.port);
	c[1] = connect_port(f.port);
	for (int i = 0; i < 500 && rw_fwd_worker_conns(f.w) < 2; i++)
		sleep_ms(10);
	x = connect_port(f.port);
	assert_true(wait_closed(x, 2000) >= 0);
	close(x);
	assert_true(wait_events(1, 2000) >= 1);
	assert_string_equal(event_at(0).reason, "source_limit");
	close(c[0]);
	close(c[1]);
	wfix_stop(&f);
	sink_stop(s);
}

static void test_2000_idle_connections(void **state)
{
	enum { N = 2000 };
	struct rlimit rl;
	getrlimit(RLIMIT_NOFILE, &rl);
	if (rl.rlim_cur < 4 * N + 200) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
		getrlimit(RLIMIT_NOFILE, &rl);
	}
	if (rl.rlim_cur < 4 * N + 200) {
		print_message("RLIMIT_NOFILE %lu too low for %d connections; skipped\n",
			      (unsigned long)rl.rlim_cur, N);
		skip();
	}
	struct sink *s = sink_start();
	struct rw_fwd_opts o;
	rw_fwd_opts_default(&o);
	o.max_per_source = 0;
	struct wfix f;
	wfix_start(&f, s->port, &o);
	load_hello("openssl-tls13-sni-alpn.bin");
	static int c[N];
	for (int i = 0; i < N; i++) {
		c[i] = connect_port(f.port);
		assert_true(c[i] >= 0);
		assert_int_equal(send(c[i], hello, hello_len, 0), (ssize_t)hello_len);
	}
	uint64_t t0 = now_ms();
	while (sink_live(s) < N && now_ms() - t0 < 20000)
		sleep_ms(20);
	assert_int_equal(sink_live(s), N);
	assert_int_equal(rw_fwd_worker_conns(f.w), N);
	/* held: idle for a while, nobody closed, no event */
	sleep_ms(1500);
	assert_int_equal(sink_live(s), N);
	assert_int_equal(rw_fwd_worker_conns(f.w), N);
	assert_int_equal(wait_events(1, 0), 0);
	for (int i = 0; i < N; i++) {
		/* the registry's ServerHello, relayed whole, then nothing */
		uint8_t got[sizeof(sh_bytes)];
		assert_int_equal(recv(c[i], got, sh_len, MSG_WAITALL), (ssize_t)sh_len);
		assert_memory_equal(got, sh_bytes, sh_len);
		struct pollfd p = { .fd = c[i], .events = POLLIN };
		assert_int_equal(poll(&p, 1, 0), 0);
	}
	/* and every one still relays */
	for (int i = 0; i < N; i++) {
		assert_int_equal(send(c[i], "!", 1, 0), 1);
		shutdown(c[i], SHUT_WR);
	}
	assert_int_equal(sink_wait(s, N, 20000), N);
	for (int i = 0; i < N; i++)
		close(c[i]);
	assert_int_equal(wait_events(N, 20000), N);
	assert_int_equal(count_reason("pass", "done") + count_reason("pass", "reset"), N);
	for (int i = 0; i < N; i++)
		assert_int_equal(s->done[i].len, hello_len + 1);
	wfix_stop(&f);
	sink_stop(s);
}


/* ---- HelloRetryRequest: a scripted registry ---- */

/* Answers the first 'expect1' bytes with reply1 and, if expect2, the next
 * expect2 bytes with reply2; then reads until EOF. Keeps every byte it
 * received, so a test sees exactly what reached the registry. */
struct script {
	int lfd;
	uint16_t port;
	pthread_t th;
	size_t expect1, expect2;
	const uint8_t *reply1, *reply2;
	size_t reply1_len, reply2_len;
	uint8_t got[65536];
	size_t got_len;
	int accepted;
	unsigned reply_delay_ms; /* before reply1: a slow registry */
};

static unsigned next_script_delay_ms; /* taken by the next script_start */

static bool script_read(struct script *sc, int c, size_t n)
{
	while (n) {
		ssize_t r = recv(c, sc->got + sc->got_len,
				 n < sizeof(sc->got) - sc->got_len ? n : sizeof(sc->got) - sc->got_len, 0);
		if (r <= 0)
			return false;
		sc->got_len += (size_t)r;
		n -= (size_t)r;
	}
	return true;
}

static void *script_main(void *arg)
{
	struct script *sc = arg;
	struct pollfd p = { .fd = sc->lfd, .events = POLLIN };
	if (poll(&p, 1, 8000) != 1)
		return NULL;
	int c = accept(sc->lfd, NULL, NULL);
	if (c < 0)
		return NULL;
	sc->accepted = 1;
	struct timeval tv = { .tv_sec = 8 };
	setsockopt(c, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	if (script_read(sc, c, sc->expect1)) {
		if (sc->reply_delay_ms)
			sleep_ms(sc->reply_delay_ms);
		send(c, sc->reply1, sc->reply1_len, MSG_NOSIGNAL);
		if (sc->expect2 && script_read(sc, c, sc->expect2))
			send(c, sc->reply2, sc->reply2_len, MSG_NOSIGNAL);
		while (sc->got_len < sizeof(sc->got) && script_read(sc, c, 1))
			;
	}
	close(c);
	return NULL;
}

static struct script *script_start(size_t expect1, const uint8_t *r1, size_t r1_len,
				   size_t expect2, const uint8_t *r2, size_t r2_len)
{
	struct script *sc = calloc(1, sizeof(*sc));
	assert_non_null(sc);
	sc->expect1 = expect1;
	sc->reply_delay_ms = next_script_delay_ms;
	next_script_delay_ms = 0;
	sc->reply1 = r1;
	sc->reply1_len = r1_len;
	sc->expect2 = expect2;
	sc->reply2 = r2;
	sc->reply2_len = r2_len;
	sc->lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct sockaddr_in sin = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	assert_int_equal(bind(sc->lfd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	assert_int_equal(listen(sc->lfd, 4), 0);
	socklen_t len = sizeof(sin);
	getsockname(sc->lfd, (struct sockaddr *)&sin, &len);
	sc->port = ntohs(sin.sin_port);
	assert_int_equal(pthread_create(&sc->th, NULL, script_main, sc), 0);
	return sc;
}

static void script_join(struct script *sc)
{
	pthread_join(sc->th, NULL);
	close(sc->lfd);
}

static uint8_t hrr_bytes[512], sh2_bytes[512];
static size_t hrr_len, sh2_len;
static const uint8_t ccs_rec[6] = { 0x14, 0x03, 0x03, 0x00, 0x01, 0x01 };

static void load_hrr(void)
{
	/* real openssl s_server answers (scripts/capture-server-hellos.sh):
	 * HRR + CCS, and the ServerHello flight after the second hello */
	assert_int_equal(read_file("tests/data/server-hello/openssl-tls13-hrr.bin", hrr_bytes,
				   sizeof(hrr_bytes), &hrr_len), 0);
	assert_int_equal(read_file("tests/data/server-hello/openssl-after-hrr.bin", sh2_bytes,
				   sizeof(sh2_bytes), &sh2_len), 0);
	assert_true(hrr_len > 90 && sh2_len > 100);
}

static void recv_exact(int c, const uint8_t *want, size_t n)
{
	uint8_t got[1024];
	assert_true(n <= sizeof(got));
	struct timeval tv = { .tv_sec = 5 };
	setsockopt(c, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	assert_int_equal(recv(c, got, n, MSG_WAITALL), (ssize_t)n);
	assert_memory_equal(got, want, n);
}

/* CH1, HRR, CCS + the same hello again, ServerHello, then data: all of it
 * reaches the registry in order, and its answers reach the client. */
static void test_hrr_second_hello_passes(void **state)
{
	load_hrr();
	load_hello("openssl-tls13-sni-alpn.bin");
	uint8_t flight2[4096 + 6];
	memcpy(flight2, ccs_rec, 6);
	memcpy(flight2 + 6, hello, hello_len);
	size_t f2_len = 6 + hello_len;
	struct script *sc = script_start(hello_len, hrr_bytes, hrr_len, f2_len, sh2_bytes, sh2_len);
	struct wfix f;
	wfix_start(&f, sc->port, NULL);
	int c = connect_port(f.port);
	assert_true(c >= 0);
	assert_int_equal(send(c, hello, hello_len, 0), (ssize_t)hello_len);
	recv_exact(c, hrr_bytes, hrr_len);
	/* the second flight in two writes: the parser waits for all of it */
	assert_int_equal(send(c, flight2, 20, 0), 20);
	sleep_ms(20);
	assert_int_equal(send(c, flight2 + 20, f2_len - 20, 0), (ssize_t)(f2_len - 20));
	recv_exact(c, sh2_bytes, sh2_len);
	static const char app[] = "application data after the handshake";
	assert_int_equal(send(c, app, sizeof(app), 0), (ssize_t)sizeof(app));
	shutdown(c, SHUT_WR);
	assert_true(wait_closed(c, 5000) >= 0);
	close(c);
	script_join(sc);
	size_t total = hello_len + f2_len + sizeof(app);
	assert_int_equal(sc->got_len, total);
	assert_memory_equal(sc->got, hello, hello_len);
	assert_memory_equal(sc->got + hello_len, flight2, f2_len);
	assert_memory_equal(sc->got + hello_len + f2_len, app, sizeof(app));
	assert_true(wait_events(1, 3000) >= 1);
	struct evrec e = event_at(0);
	assert_string_equal(e.kind, "pass");
	assert_string_equal(e.reason, "done");
	assert_int_equal(e.up, total);
	assert_int_equal(e.down, hrr_len + sh2_len);
	wfix_stop(&f);
	free(sc);
}

/* After the HRR the client sends 'second' (or sent it right behind its
 * first hello: 'presend'); regwall refuses it with 'reason', and the
 * registry never gets a byte beyond the first hello. */
static void hrr_refused(const uint8_t *first, size_t first_len, const uint8_t *second,
			size_t second_len, bool presend, const char *reason)
{
	struct script *sc = script_start(first_len, hrr_bytes, hrr_len, 0, NULL, 0);
	struct wfix f;
	wfix_start(&f, sc->port, NULL);
	int c = connect_port(f.port);
	assert_true(c >= 0);
	uint8_t both[16384];
	assert_true(first_len + second_len <= sizeof(both));
	memcpy(both, first, first_len);
	memcpy(both + first_len, second, second_len);
	if (presend) {
		assert_int_equal(send(c, both, first_len + second_len, 0),
				 (ssize_t)(first_len + second_len));
		recv_exact(c, hrr_bytes, hrr_len);
	} else {
		assert_int_equal(send(c, first, first_len, 0), (ssize_t)first_len);
		recv_exact(c, hrr_bytes, hrr_len);
		assert_int_equal(send(c, second, second_len, MSG_NOSIGNAL), (ssize_t)second_len);
	}
	assert_true(wait_closed(c, 5000) >= 0);
	close(c);
	script_join(sc);
	assert_int_equal(sc->got_len, first_len);
	assert_memory_equal(sc->got, first, first_len);
	assert_true(wait_events(1, 3000) >= 1);
	struct evrec e = event_at(0);
	assert_string_equal(e.kind, "refuse");
	assert_string_equal(e.reason, reason);
	wfix_stop(&f);
	free(sc);
}

static void test_hrr_second_hello_refused(void **state)
{
	load_hrr();
	static uint8_t ch1[4096], ch2[4096 + 6];
	size_t ch1_len;
	load_hello("openssl-tls13-sni-alpn.bin");
	memcpy(ch1, hello, hello_len);
	ch1_len = hello_len;

	/* another server name (same length, so the hello stays well-formed),
	 * with and without the middlebox CCS, after the HRR or sent at once */
	memcpy(ch2, ccs_rec, 6);
	memcpy(ch2 + 6, ch1, ch1_len);
	uint8_t *p = memmem(ch2 + 6, ch1_len, NAME_OK, strlen(NAME_OK));
	assert_non_null(p);
	memcpy(p, "e.mirror.example.test", strlen(NAME_OK)); /* allowed, but changed */
	hrr_refused(ch1, ch1_len, ch2, ch1_len + 6, false, "hrr_sni");
	/* the event names the refused (second) hello's name */
	assert_string_equal(event_at(0).sni, "e.mirror.example.test");
	memcpy(p, "registry.example.evil", strlen(NAME_OK));
	hrr_refused(ch1, ch1_len, ch2 + 6, ch1_len, false, "hrr_sni");
	assert_string_equal(event_at(0).sni, "registry.example.evil");
	hrr_refused(ch1, ch1_len, ch2, ch1_len + 6, true, "hrr_sni");
	/* a second hello whose name the parser refuses: that name, escaped */
	memcpy(p, "registry\x01" "example.evil", strlen(NAME_OK));
	hrr_refused(ch1, ch1_len, ch2, ch1_len + 6, false, "tls_bad_name");
	assert_string_equal(event_at(0).sni, "registry\\x01example.evil");

	/* another ALPN list: "h2" becomes "h3" */
	memcpy(ch2 + 6, ch1, ch1_len);
	p = memmem(ch2 + 6, ch1_len, "\x02h2\x08http/1.1", 12);
	assert_non_null(p);
	p[2] = '3';
	hrr_refused(ch1, ch1_len, ch2, ch1_len + 6, false, "hrr_alpn");

	/* same name and ALPN, but the listener's rules refuse the second:
	 * ECH appears (curl's hello first, then Chromium's; both
	 * registry.example.test with h2,http/1.1) on an allow_ech = false
	 * listener */
	load_hello("curl-http2.bin");
	memcpy(ch1, hello, hello_len);
	ch1_len = hello_len;
	load_hello("chromium.bin");
	next_allow_ech = false;
	next_allow_ech_set = true;
	hrr_refused(ch1, ch1_len, hello, hello_len, false, "ech");

	/* not a hello at all, two CCS, 0-RTT data without early_data offered */
	load_hello("openssl-tls13-sni-alpn.bin");
	static const uint8_t http[] = "GET /v2/ HTTP/1.1\r\nHost: x\r\n\r\n";
	hrr_refused(hello, hello_len, http, sizeof(http) - 1, false, "tls_not_tls");
	uint8_t two_ccs[12];
	memcpy(two_ccs, ccs_rec, 6);
	memcpy(two_ccs + 6, ccs_rec, 6);
	hrr_refused(hello, hello_len, two_ccs, 12, false, "tls_malformed");
	static const uint8_t appdata[] = { 0x17, 0x03, 0x03, 0x00, 0x02, 0xaa, 0xbb };
	hrr_refused(hello, hello_len, appdata, sizeof(appdata), false, "tls_interleaved_record");
}

/* A registry that sends a second HRR would ask for a third hello:
 * refused, and the client never sees that HRR. */
static void test_hrr_twice(void **state)
{
	load_hrr();
	load_hello("openssl-tls13-sni-alpn.bin");
	struct script *sc = script_start(hello_len, hrr_bytes, hrr_len, hello_len, hrr_bytes,
					 hrr_len);
	struct wfix f;
	wfix_start(&f, sc->port, NULL);
	int c = connect_port(f.port);
	assert_int_equal(send(c, hello, hello_len, 0), (ssize_t)hello_len);
	recv_exact(c, hrr_bytes, hrr_len);
	assert_int_equal(send(c, hello, hello_len, 0), (ssize_t)hello_len);
	uint8_t extra[64];
	struct timeval tv = { .tv_sec = 5 };
	setsockopt(c, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	assert_true(recv(c, extra, sizeof(extra), 0) <= 0); /* closed, nothing relayed */
	close(c);
	script_join(sc);
	assert_int_equal(sc->got_len, 2 * hello_len);
	assert_true(wait_events(1, 3000) >= 1);
	assert_string_equal(event_at(0).kind, "refuse");
	assert_string_equal(event_at(0).reason, "hrr_twice");
	wfix_stop(&f);
	free(sc);
}

/* Each wait is bounded by limits.hello_timeout: the client's second hello
 * after an HRR, and the registry's answer (whose silence also keeps the
 * client's later bytes from it). */
static void test_hrr_and_server_hello_timeouts(void **state)
{
	load_hrr();
	load_hello("openssl-tls13-sni-alpn.bin");
	struct rw_fwd_opts o;
	rw_fwd_opts_default(&o);
	o.hello_timeout_ms = 1000;
	struct script *sc = script_start(hello_len, hrr_bytes, hrr_len, 0, NULL, 0);
	struct wfix f;
	wfix_start(&f, sc->port, &o);
	int c = connect_port(f.port);
	assert_int_equal(send(c, hello, hello_len, 0), (ssize_t)hello_len);
	recv_exact(c, hrr_bytes, hrr_len);
	long waited = wait_closed(c, 4000);
	close(c);
	assert_true(waited >= 700 && waited <= 3000);
	assert_true(wait_events(1, 2000) >= 1);
	assert_string_equal(event_at(0).reason, "hrr_timeout");
	script_join(sc);
	free(sc);
	wfix_stop(&f);

	struct sink *s = sink_start_opt(true);
	wfix_start(&f, s->port, &o);
	size_t len;
	uint8_t *stream = stream_with_trailer(hello, hello_len, 5000, &len);
	/* The trailer reaches the worker while it waits for the registry:
	 * the client socket stays in epoll then (no epoll_ctl per
	 * connection), so the worker must park it on that event instead of
	 * being woken by it on every loop turn for the whole second. */
	clockid_t wclk;
	struct timespec cpu0, cpu1;
	assert_int_equal(pthread_getcpuclockid(f.th, &wclk), 0);
	assert_int_equal(clock_gettime(wclk, &cpu0), 0);
	c = connect_port(f.port);
	assert_int_equal(send(c, stream, hello_len, 0), (ssize_t)hello_len);
	sleep_ms(150); /* the hello is read and sent on; the rest comes later */
	assert_int_equal(send(c, stream + hello_len, len - hello_len, 0), (ssize_t)(len - hello_len));
	waited = wait_closed(c, 4000);
	assert_int_equal(clock_gettime(wclk, &cpu1), 0);
	close(c);
	assert_true(waited >= 500 && waited <= 3000);
	long cpu_ms = (cpu1.tv_sec - cpu0.tv_sec) * 1000L + (cpu1.tv_nsec - cpu0.tv_nsec) / 1000000L;
	assert_true(cpu_ms < waited / 4); /* a spinning loop burns about all of it */
	assert_true(wait_events(1, 2000) >= 1);
	assert_string_equal(event_at(0).kind, "refuse");
	assert_string_equal(event_at(0).reason, "server_hello_timeout");
	/* the registry got the hello, nothing after it */
	assert_int_equal(sink_wait(s, 1, 3000), 1);
	pthread_mutex_lock(&s->mu);
	assert_int_equal(s->done[0].len, hello_len);
	pthread_mutex_unlock(&s->mu);
	free(stream);
	wfix_stop(&f);
	sink_stop(s);
}

/* The registry refuses the hello with an alert: the client gets it. */
static void test_server_alert_relayed(void **state)
{
	load_hello("openssl-tls13-sni-alpn.bin");
	static const uint8_t alert[] = { 0x15, 0x03, 0x03, 0x00, 0x02, 0x02, 0x28 };
	struct script *sc = script_start(hello_len, alert, sizeof(alert), 0, NULL, 0);
	struct wfix f;
	wfix_start(&f, sc->port, NULL);
	int c = connect_port(f.port);
	assert_int_equal(send(c, hello, hello_len, 0), (ssize_t)hello_len);
	recv_exact(c, alert, sizeof(alert));
	shutdown(c, SHUT_WR);
	assert_true(wait_closed(c, 5000) >= 0);
	close(c);
	script_join(sc);
	assert_int_equal(sc->got_len, hello_len);
	assert_true(wait_events(1, 3000) >= 1);
	assert_string_equal(event_at(0).kind, "pass");
	assert_int_equal(event_at(0).down, sizeof(alert));
	wfix_stop(&f);
	free(sc);
}

/* Bytes the client sends while the registry has not answered yet (the
 * worker parks the client socket then) are all relayed, in order, once
 * the answer came. */
static void test_early_client_bytes_relayed(void **state)
{
	load_hello("openssl-tls13-sni-alpn.bin");
	static const uint8_t alert[] = { 0x15, 0x03, 0x03, 0x00, 0x02, 0x02, 0x28 };
	next_script_delay_ms = 400;
	struct script *sc = script_start(hello_len, alert, sizeof(alert), 0, NULL, 0);
	struct wfix f;
	wfix_start(&f, sc->port, NULL);
	uint8_t early[3000];
	for (size_t i = 0; i < sizeof(early); i++)
		early[i] = (uint8_t)(i * 7 + 1);
	int c = connect_port(f.port);
	assert_int_equal(send(c, hello, hello_len, 0), (ssize_t)hello_len);
	sleep_ms(100); /* the worker has sent the hello on and waits */
	assert_int_equal(send(c, early, sizeof(early), 0), (ssize_t)sizeof(early));
	recv_exact(c, alert, sizeof(alert));
	shutdown(c, SHUT_WR);
	assert_true(wait_closed(c, 5000) >= 0);
	close(c);
	script_join(sc);
	assert_int_equal(sc->got_len, hello_len + sizeof(early));
	assert_memory_equal(sc->got, hello, hello_len);
	assert_memory_equal(sc->got + hello_len, early, sizeof(early));
	assert_true(wait_events(1, 3000) >= 1);
	assert_string_equal(event_at(0).kind, "pass");
	assert_int_equal(event_at(0).up, hello_len + sizeof(early));
	wfix_stop(&f);
	free(sc);
}

/* ---- tests with a real TLS server and real clients ---- */

static char tmpdir[64];
static pid_t server_pid = -1;
static uint16_t server_port;

static int tls_setup(void **state)
{
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/rw-pass-e2e.XXXXXX");
	if (!mkdtemp(tmpdir))
		return -1;
	char cmd[1024];
	snprintf(cmd, sizeof(cmd),
		 "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes "
		 "-keyout %s/key.pem -out %s/cert.pem -days 2 -subj /CN=" NAME_OK
		 " -addext subjectAltName=DNS:" NAME_OK " >/dev/null 2>&1",
		 tmpdir, tmpdir);
	if (system(cmd) != 0)
		return -1;
	server_port = free_port();
	char port[16], cert[128], key[128];
	snprintf(port, sizeof(port), "127.0.0.1:%u", server_port);
	snprintf(cert, sizeof(cert), "%s/cert.pem", tmpdir);
	snprintf(key, sizeof(key), "%s/key.pem", tmpdir);
	char *argv[] = { "openssl", "s_server", "-quiet", "-accept", port, "-cert", cert,
			 "-key", key, "-www", NULL };
	posix_spawn_file_actions_t fa;
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
	posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
	posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	int rc = posix_spawnp(&server_pid, "openssl", &fa, NULL, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	if (rc != 0)
		return -1;
	for (int i = 0; i < 100; i++) {
		int c = connect_port(server_port);
		if (c >= 0) {
			close(c);
			return 0;
		}
		sleep_ms(50);
	}
	return -1;
}

static int tls_teardown(void **state)
{
	if (server_pid > 0) {
		kill(server_pid, SIGTERM);
		waitpid(server_pid, NULL, 0);
		server_pid = -1;
	}
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", tmpdir);
	return system(cmd) == 0 ? 0 : -1;
}

/* Run a shell command, capture its output (bounded). */
static int run_capture(const char *cmd, char *out, size_t cap)
{
	FILE *p = popen(cmd, "r");
	if (!p)
		return -1;
	size_t n = fread(out, 1, cap - 1, p);
	out[n] = 0;
	int st = pclose(p);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static void test_s_client_allowed(void **state)
{
	struct wfix f;
	wfix_start(&f, server_port, NULL);
	char cmd[1024];
	static char out[65536];
	snprintf(cmd, sizeof(cmd),
		 "printf 'GET / HTTP/1.0\\r\\n\\r\\n' | timeout 10 openssl s_client -connect "
		 "127.0.0.1:%u -servername " NAME_OK " -CAfile %s/cert.pem -verify_return_error "
		 "-ign_eof 2>&1",
		 f.port, tmpdir);
	int rc = run_capture(cmd, out, sizeof(out));
	assert_int_equal(rc, 0);
	/* the registry's own certificate, verified end to end */
	assert_non_null(strstr(out, "subject=CN = " NAME_OK));
	assert_non_null(strstr(out, "Verify return code: 0 (ok)"));
	assert_non_null(strstr(out, "HTTP/1.0 200 ok"));
	assert_true(wait_events(1, 3000) >= 1);
	struct evrec e = event_at(0);
	assert_string_equal(e.kind, "pass");
	assert_string_equal(e.reason, "done");
	assert_string_equal(e.sni, NAME_OK);
	assert_true(e.up > 300 && e.down > 500);
	wfix_stop(&f);
}

static void test_curl_allowed(void **state)
{
	if (system("command -v curl >/dev/null 2>&1") != 0)
		skip();
	struct wfix f;
	wfix_start(&f, server_port, NULL);
	char cmd[1024];
	static char out[65536];
	snprintf(cmd, sizeof(cmd),
		 "timeout 10 curl -sS --max-time 8 --cacert %s/cert.pem --resolve " NAME_OK
		 ":%u:127.0.0.1 https://" NAME_OK ":%u/ 2>&1",
		 tmpdir, f.port, f.port);
	int rc = run_capture(cmd, out, sizeof(out));
	assert_int_equal(rc, 0);
	assert_non_null(strstr(out, "s_server"));
	assert_true(wait_events(1, 3000) >= 1);
	assert_string_equal(event_at(0).kind, "pass");
	wfix_stop(&f);
}

static void test_s_client_refused(void **state)
{
	struct wfix f;
	wfix_start(&f, server_port, NULL);
	char cmd[1024];
	static char out[65536];
	snprintf(cmd, sizeof(cmd),
		 "timeout 10 openssl s_client -connect 127.0.0.1:%u -servername other.example.test "
		 "</dev/null 2>&1",
		 f.port);
	int rc = run_capture(cmd, out, sizeof(out));
	assert_true(rc != 0);
	assert_null(strstr(out, "BEGIN CERTIFICATE"));
	assert_non_null(strstr(out, "unrecognized name"));
	assert_true(wait_events(1, 3000) >= 1);
	assert_string_equal(event_at(0).reason, "sni");
	assert_string_equal(event_at(0).sni, "other.example.test");
	/* without SNI at all */
	events_reset();
	snprintf(cmd, sizeof(cmd),
		 "timeout 10 openssl s_client -connect 127.0.0.1:%u -noservername </dev/null 2>&1",
		 f.port);
	rc = run_capture(cmd, out, sizeof(out));
	assert_true(rc != 0);
	assert_null(strstr(out, "BEGIN CERTIFICATE"));
	assert_true(wait_events(1, 3000) >= 1);
	assert_string_equal(event_at(0).reason, "no_sni");
	wfix_stop(&f);
}


/* The registry cannot be reached: s_client (TLS 1.3 hello) reports the
 * internal_error alert, record version 3.3; a TLS 1.0-only client gets it
 * as 3.1, the version it offered (what OpenSSL's own server sends). */
static void test_s_client_unreachable(void **state)
{
	struct wfix f;
	wfix_start(&f, free_port(), NULL);
	char cmd[1024];
	static char out[65536];
	snprintf(cmd, sizeof(cmd),
		 "timeout 10 openssl s_client -connect 127.0.0.1:%u -servername " NAME_OK
		 " -msg </dev/null 2>&1",
		 f.port);
	int rc = run_capture(cmd, out, sizeof(out));
	assert_true(rc != 0);
	assert_non_null(strstr(out, "alert internal error"));
	assert_non_null(strstr(out, "SSL alert number 80"));
	assert_non_null(strstr(out, "15 03 03 00 02"));
	assert_true(wait_events(1, 3000) >= 1);
	assert_string_equal(event_at(0).reason, "connect_refused");
	events_reset();
	snprintf(cmd, sizeof(cmd),
		 "timeout 10 openssl s_client -tls1 -cipher 'DEFAULT:@SECLEVEL=0' -connect "
		 "127.0.0.1:%u -servername " NAME_OK " -msg </dev/null 2>&1",
		 f.port);
	rc = run_capture(cmd, out, sizeof(out));
	assert_true(rc != 0);
	assert_non_null(strstr(out, "alert internal error"));
	assert_non_null(strstr(out, "15 03 01 00 02"));
	assert_true(wait_events(1, 3000) >= 1);
	assert_string_equal(event_at(0).reason, "connect_refused");
	wfix_stop(&f);
}

/* A real HelloRetryRequest: s_server takes only P-256, s_client offers
 * X25519 and P-256 but sends a key share for X25519 only, so the server
 * asks again. The second hello is checked and the handshake completes. */
static void test_s_client_real_hrr(void **state)
{
	uint16_t port = free_port();
	char addr[32], cert[128], key[128];
	snprintf(addr, sizeof(addr), "127.0.0.1:%u", port);
	snprintf(cert, sizeof(cert), "%s/cert.pem", tmpdir);
	snprintf(key, sizeof(key), "%s/key.pem", tmpdir);
	char *argv[] = { "openssl", "s_server", "-quiet", "-accept", addr, "-cert", cert,
			 "-key", key, "-groups", "P-256", "-www", NULL };
	posix_spawn_file_actions_t fa;
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
	posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
	posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	pid_t pid;
	assert_int_equal(posix_spawnp(&pid, "openssl", &fa, NULL, argv, environ), 0);
	posix_spawn_file_actions_destroy(&fa);
	int up = -1;
	for (int i = 0; i < 100 && up < 0; i++) {
		up = connect_port(port);
		if (up < 0)
			sleep_ms(50);
	}
	assert_true(up >= 0);
	close(up);

	struct wfix f;
	wfix_start(&f, port, NULL);
	char cmd[1024];
	static char out[262144];
	snprintf(cmd, sizeof(cmd),
		 "printf 'GET / HTTP/1.0\\r\\n\\r\\n' | timeout 10 openssl s_client -connect "
		 "127.0.0.1:%u -servername " NAME_OK " -CAfile %s/cert.pem -verify_return_error "
		 "-groups X25519:P-256 -trace -ign_eof 2>&1",
		 f.port, tmpdir);
	int rc = run_capture(cmd, out, sizeof(out));
	kill(pid, SIGTERM);
	waitpid(pid, NULL, 0);
	assert_int_equal(rc, 0);
	/* the HRR's random (SHA-256 of "HelloRetryRequest") as -trace prints it */
	assert_non_null(strstr(out, "gmt_unix_time=0xCF21AD74"));
	assert_non_null(strstr(out, "Verify return code: 0 (ok)"));
	assert_non_null(strstr(out, "HTTP/1.0 200 ok"));
	assert_true(wait_events(1, 3000) >= 1);
	struct evrec e = event_at(0);
	assert_string_equal(e.kind, "pass");
	assert_string_equal(e.reason, "done");
	assert_string_equal(e.sni, NAME_OK);
	wfix_stop(&f);
}

int main(void)
{
	signal(SIGPIPE, SIG_IGN);
	const struct CMUnitTest sink_tests[] = {
		cmocka_unit_test(test_bytes_exact_whole),
		cmocka_unit_test(test_handover_keeps_queue),
		cmocka_unit_test(test_one_byte_segments),
		cmocka_unit_test(test_reframed_10_byte_records),
		cmocka_unit_test(test_refusals),
		cmocka_unit_test(test_allowed_wildcard),
		cmocka_unit_test(test_grease_ech),
		cmocka_unit_test(test_refused_sni_in_event),
		cmocka_unit_test(test_sni_text),
		cmocka_unit_test(test_hello_timeout),
		cmocka_unit_test(test_connect_failed),
		cmocka_unit_test(test_connect_timeout_alert),
		cmocka_unit_test(test_alert_version),
		cmocka_unit_test(test_limits_overload),
		cmocka_unit_test(test_2000_idle_connections),
		cmocka_unit_test(test_hrr_second_hello_passes),
		cmocka_unit_test(test_hrr_second_hello_refused),
		cmocka_unit_test(test_hrr_twice),
		cmocka_unit_test(test_hrr_and_server_hello_timeouts),
		cmocka_unit_test(test_server_alert_relayed),
		cmocka_unit_test(test_early_client_bytes_relayed),
	};
	const struct CMUnitTest tls_tests[] = {
		cmocka_unit_test(test_s_client_allowed),
		cmocka_unit_test(test_curl_allowed),
		cmocka_unit_test(test_s_client_refused),
		cmocka_unit_test(test_s_client_unreachable),
		cmocka_unit_test(test_s_client_real_hrr),
	};
	int failed = cmocka_run_group_tests_name("pass_sink", sink_tests, NULL, NULL);
	failed += cmocka_run_group_tests_name("pass_tls", tls_tests, tls_setup, tls_teardown);
	return failed;
}
