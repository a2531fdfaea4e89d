/* The splice relay over real loopback TCP: byte-exact integrity in both
 * directions with random sizes, the head bytes, half-close each way, a
 * reset, the pipe pool lending pipes only while bytes are in flight, and
 * the copy stage: a direction's first RW_SPLICE_COPY_MAX bytes go through
 * recv/send without a pipe, and what a full destination did not take is
 * kept and sent later, in order. */
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
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "fwd/rw_splice.h"
#include "base/rw_err.h"

/* ---- a loopback TCP pair: 'end' is the test's side, 'mid' the relay's ---- */

static int listener(uint16_t *port)
{
	int l = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in sin = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	assert_int_equal(bind(l, (struct sockaddr *)&sin, sizeof(sin)), 0);
	assert_int_equal(listen(l, 8), 0);
	socklen_t len = sizeof(sin);
	assert_int_equal(getsockname(l, (struct sockaddr *)&sin, &len), 0);
	*port = ntohs(sin.sin_port);
	return l;
}

static void tcp_pair(int *end, int *mid)
{
	uint16_t port;
	int l = listener(&port);
	int c = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in sin = { .sin_family = AF_INET, .sin_port = htons(port),
				   .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	assert_int_equal(connect(c, (struct sockaddr *)&sin, sizeof(sin)), 0);
	int m = accept(l, NULL, NULL);
	assert_true(m >= 0);
	close(l);
	fcntl(m, F_SETFL, O_NONBLOCK);
	*end = c;
	*mid = m;
}

/* ---- the relay under test, driven in its own thread with poll() ---- */

struct relay {
	int a, b; /* relay-side sockets: a faces client end, b faces server end */
	struct rw_splice_dir up, down;
	struct rw_pipe_pool pool;
	int rc;             /* 0 = both directions done, else the step error */
	size_t max_lent;    /* most pipes out of the pool at once */
};

static void *relay_main(void *arg)
{
	struct relay *r = arg;
	for (;;) {
		int ru = rw_splice_dir_step(&r->up, &r->pool, NULL);
		int rd = ru < 0 ? 0 : rw_splice_dir_step(&r->down, &r->pool, NULL);
		size_t lent = r->pool.n_open - r->pool.n_idle;
		if (lent > r->max_lent)
			r->max_lent = lent;
		if (ru < 0 || rd < 0) {
			r->rc = ru < 0 ? ru : rd;
			return NULL;
		}
		if ((ru & RW_SPLICE_DONE) && (rd & RW_SPLICE_DONE)) {
			r->rc = 0;
			return NULL;
		}
		struct pollfd p[2] = {
			{ .fd = r->a, .events = (short)(((ru & RW_SPLICE_WANT_READ) ? POLLIN : 0) |
							((rd & RW_SPLICE_WANT_WRITE) ? POLLOUT : 0)) },
			{ .fd = r->b, .events = (short)(((rd & RW_SPLICE_WANT_READ) ? POLLIN : 0) |
							((ru & RW_SPLICE_WANT_WRITE) ? POLLOUT : 0)) },
		};
		for (int i = 0; i < 2; i++)
			if (!p[i].events)
				p[i].fd = -1; /* nothing wanted: HUP must not spin us */
		if (poll(p, 2, 10000) == 0) {
			r->rc = RW_EIO + 1000; /* stuck: a test failure, not a relay result */
			return NULL;
		}
	}
}

struct fixture {
	int ca, cb; /* test ends: client, server */
	struct relay r;
	pthread_t th;
};

static void fixture_start(struct fixture *f, const uint8_t *head, size_t head_len)
{
	memset(f, 0, sizeof(*f));
	tcp_pair(&f->ca, &f->r.a);
	tcp_pair(&f->cb, &f->r.b);
	assert_int_equal(rw_pipe_pool_init(&f->r.pool, 4, 0), 0);
	rw_splice_dir_init(&f->r.up, f->r.a, f->r.b, head, head_len);
	rw_splice_dir_init(&f->r.down, f->r.b, f->r.a, NULL, 0);
	assert_int_equal(pthread_create(&f->th, NULL, relay_main, &f->r), 0);
}

static void fixture_join(struct fixture *f)
{
	pthread_join(f->th, NULL);
	rw_splice_dir_release(&f->r.up, &f->r.pool);
	rw_splice_dir_release(&f->r.down, &f->r.pool);
}

static void fixture_close(struct fixture *f)
{
	/* every pipe is back in the pool or closed */
	assert_int_equal(f->r.pool.n_open, f->r.pool.n_idle);
	rw_pipe_pool_fini(&f->r.pool);
	close(f->ca);
	close(f->cb);
	close(f->r.a);
	close(f->r.b);
}

/* ---- helpers for the ends ---- */

struct writer {
	int fd;
	const uint8_t *buf;
	size_t len;
	unsigned seed;
	bool shut;
};

/* Writes in random-sized chunks (1 B .. 100 KiB), then optionally FIN. */
static void *writer_main(void *arg)
{
	struct writer *w = arg;
	size_t off = 0;
	while (off < w->len) {
		size_t n = 1 + (size_t)rand_r(&w->seed) % 100000;
		if (n > w->len - off)
			n = w->len - off;
		ssize_t k = write(w->fd, w->buf + off, n);
		if (k <= 0)
			return NULL;
		off += (size_t)k;
	}
	if (w->shut)
		shutdown(w->fd, SHUT_WR);
	return NULL;
}

/* Read until EOF; returns bytes read (at most cap), -1 on error. */
static ssize_t read_all(int fd, uint8_t *buf, size_t cap)
{
	size_t off = 0;
	for (;;) {
		uint8_t scratch[4096];
		uint8_t *dst = off < cap ? buf + off : scratch;
		size_t room = off < cap ? cap - off : sizeof(scratch);
		ssize_t n = read(fd, dst, room);
		if (n < 0)
			return -1;
		if (n == 0)
			return (ssize_t)off;
		off += (size_t)n;
	}
}

static uint8_t *random_bytes(size_t n, unsigned seed)
{
	uint8_t *b = malloc(n ? n : 1);
	assert_non_null(b);
	for (size_t i = 0; i < n; i++)
		b[i] = (uint8_t)(rand_r(&seed) >> 7);
	return b;
}

/* ---- tests ---- */

static void test_integrity_both_ways(void **state)
{
	const size_t sizes[][2] = { { 0, 1 }, { 1, 0 }, { 5, 70000 }, { 65536, 65537 },
				    { 3000000, 1234567 } };
	for (size_t t = 0; t < sizeof(sizes) / sizeof(sizes[0]); t++) {
		size_t nu = sizes[t][0], nd = sizes[t][1];
		uint8_t *du = random_bytes(nu, 1 + (unsigned)t);
		uint8_t *dd = random_bytes(nd, 100 + (unsigned)t);
		static const uint8_t head[] = "\x16\x03\x01 pretend hello";
		struct fixture f;
		fixture_start(&f, head, sizeof(head) - 1);
		struct writer wu = { .fd = f.ca, .buf = du, .len = nu, .seed = 7, .shut = true };
		struct writer wd = { .fd = f.cb, .buf = dd, .len = nd, .seed = 8, .shut = true };
		pthread_t tu, td;
		pthread_create(&tu, NULL, writer_main, &wu);
		pthread_create(&td, NULL, writer_main, &wd);
		uint8_t *gu = malloc(nu + sizeof(head) + 16);
		uint8_t *gd = malloc(nd + 16);
		ssize_t ru = read_all(f.cb, gu, nu + sizeof(head) + 16);
		ssize_t rd = read_all(f.ca, gd, nd + 16);
		pthread_join(tu, NULL);
		pthread_join(td, NULL);
		fixture_join(&f);
		assert_int_equal(f.r.rc, 0);
		/* the server end got exactly head + client bytes */
		assert_int_equal(ru, (ssize_t)(sizeof(head) - 1 + nu));
		assert_memory_equal(gu, head, sizeof(head) - 1);
		if (nu)
			assert_memory_equal(gu + sizeof(head) - 1, du, nu);
		assert_int_equal(rd, (ssize_t)nd);
		if (nd)
			assert_memory_equal(gd, dd, nd);
		assert_int_equal(f.r.up.bytes, sizeof(head) - 1 + nu);
		assert_int_equal(f.r.down.bytes, nd);
		/* one pipe per direction at most */
		assert_true(f.r.max_lent <= 2);
		fixture_close(&f);
		free(du);
		free(dd);
		free(gu);
		free(gd);
	}
}

/* Client closes its sending side first: the server sees EOF while it can
 * still answer, and the answer reaches the client. */
static void test_half_close_client_first(void **state)
{
	struct fixture f;
	fixture_start(&f, NULL, 0);
	assert_int_equal(write(f.ca, "GET", 3), 3);
	shutdown(f.ca, SHUT_WR);
	uint8_t buf[16];
	ssize_t n = read_all(f.cb, buf, sizeof(buf));
	assert_int_equal(n, 3);
	assert_memory_equal(buf, "GET", 3);
	/* the other direction is still open */
	assert_int_equal(write(f.cb, "answer", 6), 6);
	n = read(f.ca, buf, sizeof(buf));
	assert_int_equal(n, 6);
	assert_memory_equal(buf, "answer", 6);
	shutdown(f.cb, SHUT_WR);
	assert_int_equal(read(f.ca, buf, sizeof(buf)), 0);
	fixture_join(&f);
	assert_int_equal(f.r.rc, 0);
	assert_true(f.r.up.shut && f.r.down.shut);
	fixture_close(&f);
}

static void test_half_close_server_first(void **state)
{
	struct fixture f;
	fixture_start(&f, NULL, 0);
	assert_int_equal(write(f.cb, "bye", 3), 3);
	shutdown(f.cb, SHUT_WR);
	uint8_t buf[16];
	assert_int_equal(read_all(f.ca, buf, sizeof(buf)), 3);
	assert_memory_equal(buf, "bye", 3);
	assert_int_equal(write(f.ca, "late", 4), 4);
	assert_int_equal(read(f.cb, buf, sizeof(buf)), 4);
	assert_memory_equal(buf, "late", 4);
	shutdown(f.ca, SHUT_WR);
	assert_int_equal(read(f.cb, buf, sizeof(buf)), 0);
	fixture_join(&f);
	assert_int_equal(f.r.rc, 0);
	fixture_close(&f);
}

static void rst_close(int fd)
{
	struct linger lg = { .l_onoff = 1, .l_linger = 0 };
	setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
	close(fd);
}

static void test_reset_is_reported(void **state)
{
	for (int side = 0; side < 2; side++) {
		struct fixture f;
		fixture_start(&f, NULL, 0);
		assert_int_equal(write(f.ca, "x", 1), 1);
		uint8_t c;
		assert_int_equal(read(f.cb, &c, 1), 1);
		int *victim = side ? &f.cb : &f.ca;
		rst_close(*victim);
		*victim = socket(AF_INET, SOCK_STREAM, 0); /* keep fixture_close simple */
		fixture_join(&f);
		assert_int_equal(f.r.rc, RW_EPROTO);
		assert_true(f.r.up.err == ECONNRESET || f.r.down.err == ECONNRESET);
		fixture_close(&f);
	}
}

/* The pool lends pipes only while data is in flight and reuses them. */
static void test_pipe_pool(void **state)
{
	struct rw_pipe_pool pool;
	assert_int_equal(rw_pipe_pool_init(&pool, 1, 2), 0);
	struct rw_pipe a, b, c;
	assert_int_equal(rw_pipe_get(&pool, &a), 0);
	assert_int_equal(rw_pipe_get(&pool, &b), 0);
	assert_int_equal(rw_pipe_get(&pool, &c), RW_ETOOBIG); /* max_open */
	/* a non-empty pipe is never reused */
	assert_int_equal(write(a.wr, "leak", 4), 4);
	rw_pipe_put(&pool, &a, false);
	assert_int_equal(a.rd, -1);
	assert_int_equal(pool.n_idle, 0);
	assert_int_equal(pool.n_open, 1);
	int brd = b.rd;
	rw_pipe_put(&pool, &b, true);
	assert_int_equal(pool.n_idle, 1);
	assert_int_equal(rw_pipe_get(&pool, &c), 0);
	assert_int_equal(c.rd, brd); /* the idle one came back */
	assert_int_equal(pool.reused, 1);
	rw_pipe_put(&pool, &c, true);
	rw_pipe_pool_fini(&pool);

	/* an idle relay holds no pipe */
	struct fixture f;
	fixture_start(&f, NULL, 0);
	assert_int_equal(write(f.ca, "ping", 4), 4);
	uint8_t buf[8];
	assert_int_equal(read(f.cb, buf, sizeof(buf)), 4);
	/* the relay gives its pipes back once the data is through and it
	 * waits in poll() again; wait (bounded) for that rather than guess
	 * a sleep long enough for a loaded sanitizer run */
	for (int i = 0; i < 500; i++) {
		if (__atomic_load_n(&f.r.pool.n_open, __ATOMIC_ACQUIRE) ==
			    __atomic_load_n(&f.r.pool.n_idle, __ATOMIC_ACQUIRE) &&
		    __atomic_load_n(&f.r.up.pipe.rd, __ATOMIC_ACQUIRE) < 0 &&
		    __atomic_load_n(&f.r.down.pipe.rd, __ATOMIC_ACQUIRE) < 0)
			break;
		usleep(10000);
	}
	assert_int_equal(f.r.pool.n_open, f.r.pool.n_idle);
	assert_true(f.r.up.pipe.rd < 0 && f.r.down.pipe.rd < 0);
	shutdown(f.ca, SHUT_WR);
	shutdown(f.cb, SHUT_WR);
	fixture_join(&f);
	assert_int_equal(f.r.rc, 0);
	fixture_close(&f);
}

/* A slow reader behind small buffers: the copy stage's sends come back
 * short, the rest is kept as the head, and every byte arrives in order;
 * under RW_SPLICE_COPY_MAX no pipe is ever made. Past it, splicing takes
 * over and the bytes still match. */
static void test_copy_stage(void **state)
{
	const size_t sizes[] = { RW_SPLICE_COPY_MAX - 1000, 4 * RW_SPLICE_COPY_MAX };
	for (size_t t = 0; t < 2; t++) {
		size_t n = sizes[t];
		struct fixture f;
		fixture_start(&f, NULL, 0);
		int small = 4096;
		assert_int_equal(setsockopt(f.cb, SOL_SOCKET, SO_RCVBUF, &small, sizeof(small)), 0);
		assert_int_equal(setsockopt(f.r.b, SOL_SOCKET, SO_SNDBUF, &small, sizeof(small)), 0);
		uint8_t *d = random_bytes(n, 77 + (unsigned)t);
		struct writer w = { .fd = f.ca, .buf = d, .len = n, .seed = 9, .shut = true };
		pthread_t tw;
		pthread_create(&tw, NULL, writer_main, &w);
		usleep(200000); /* the relay fills the small buffers and waits */
		uint8_t *g = malloc(n + 16);
		ssize_t r = read_all(f.cb, g, n + 16);
		pthread_join(tw, NULL);
		shutdown(f.cb, SHUT_WR);
		uint8_t b[4];
		assert_int_equal(read(f.ca, b, sizeof(b)), 0);
		fixture_join(&f);
		assert_int_equal(f.r.rc, 0);
		assert_int_equal(r, (ssize_t)n);
		assert_memory_equal(g, d, n);
		assert_int_equal(f.r.up.bytes, n);
		if (n < RW_SPLICE_COPY_MAX)
			assert_int_equal(f.r.pool.created, 0); /* copied, never spliced */
		else
			assert_true(f.r.pool.created >= 1);
		assert_null(f.r.up.own);
		assert_true(f.r.up.rests > 0); /* the short sends did happen */
		fixture_close(&f);
		free(d);
		free(g);
	}
}

/* The peer's FIN already seen (EPOLLRDHUP) and the other direction done
 * ('last'): the short copy read that takes the last bytes ends the
 * direction in the same step, without the recv that would return 0. FIN
 * not seen, or the other direction still running: the step waits and the
 * next recv finds the end. Driven by hand: one step, then the
 * destination's view. */
static void test_fin_seen_ends_at_short_read(void **state)
{
	struct rw_pipe_pool pool;
	for (int k = 0; k < 3; k++) {
		bool seen = k >= 1, last = k != 1;
		assert_int_equal(rw_pipe_pool_init(&pool, 4, 0), 0);
		int src_peer, src, dst_peer, dst;
		tcp_pair(&src_peer, &src);
		tcp_pair(&dst_peer, &dst);
		assert_int_equal(write(src_peer, "last bytes", 10), 10);
		shutdown(src_peer, SHUT_WR);
		struct pollfd p = { .fd = src, .events = POLLRDHUP };
		assert_int_equal(poll(&p, 1, 2000), 1); /* the FIN is in */
		struct rw_splice_dir d;
		rw_splice_dir_init(&d, src, dst, NULL, 0);
		d.fin_seen = seen;
		d.last = last;
		uint64_t mv = 0;
		int rc = rw_splice_dir_step(&d, &pool, &mv);
		assert_int_equal(mv, 10);
		uint8_t b[32];
		assert_int_equal(read(dst_peer, b, sizeof(b)), 10);
		if (seen && last) {
			assert_int_equal(rc, RW_SPLICE_DONE);
			assert_true(d.eof && d.shut);
		} else {
			assert_int_equal(rc, RW_SPLICE_WANT_READ);
			assert_false(d.eof);
			/* the next step's recv finds the end */
			assert_int_equal(rw_splice_dir_step(&d, &pool, &mv), RW_SPLICE_DONE);
		}
		if (!last) /* the FIN passed on by shutdown */
			assert_int_equal(read(dst_peer, b, sizeof(b)), 0);
		rw_splice_dir_release(&d, &pool);
		close(src_peer);
		close(src);
		close(dst_peer);
		close(dst);
		rw_pipe_pool_fini(&pool);
	}
}

int main(void)
{
	signal(SIGPIPE, SIG_IGN);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_integrity_both_ways),
		cmocka_unit_test(test_half_close_client_first),
		cmocka_unit_test(test_half_close_server_first),
		cmocka_unit_test(test_reset_is_reported),
		cmocka_unit_test(test_pipe_pool),
		cmocka_unit_test(test_copy_stage),
		cmocka_unit_test(test_fin_seen_ends_at_short_read),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
