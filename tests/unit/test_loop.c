/* The event loop (timers, fd handlers, stale events) and the connection
 * admission tables the worker's limits rest on. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "fwd/rw_conn.h"
#include "base/rw_loop.h"
#include "base/rw_err.h"

/* ---- timers ---- */

struct fired {
	int order[64];
	int n;
};

struct tctx {
	struct fired *f;
	int id;
	struct rw_timer t;
	int rearm; /* re-arm this many more times from the callback */
};

static void on_timer(struct rw_loop *l, void *arg)
{
	struct tctx *c = arg;
	if (c->f->n < 64)
		c->f->order[c->f->n++] = c->id;
	if (c->rearm > 0) {
		c->rearm--;
		rw_loop_timer_arm(l, &c->t, 0);
	}
}

/* Run the loop until n timers fired or 2 s passed. */
static void run_until(struct rw_loop *l, struct fired *f, int n)
{
	uint64_t end = rw_loop_clock_ms() + 2000;
	while (f->n < n && rw_loop_clock_ms() < end)
		assert_true(rw_loop_run_once(l, 50) >= 0);
}

static void test_timers_fire_in_order(void **state)
{
	/* Timers count from the loop's cached "now" (taken at init and after
	 * every wait, as in libuv), so the lower bound is measured from
	 * before init: a slow (ASan) run between init and arming must not
	 * make a correct early-looking fire fail. */
	uint64_t t0 = rw_loop_clock_ms();
	struct rw_loop l;
	assert_int_equal(rw_loop_init(&l, 64), 0);
	struct fired f = { 0 };
	struct tctx c[5];
	const int delay[5] = { 40, 10, 30, 10, 20 }; /* ids 1 and 3 tie: armed order wins */
	for (int i = 0; i < 5; i++) {
		c[i] = (struct tctx){ .f = &f, .id = i };
		rw_timer_init(&c[i].t, on_timer, &c[i]);
		assert_int_equal(rw_loop_timer_arm(&l, &c[i].t, (uint64_t)delay[i]), 0);
		assert_true(rw_timer_armed(&c[i].t));
	}
	run_until(&l, &f, 5);
	assert_int_equal(f.n, 5);
	const int want[5] = { 1, 3, 4, 2, 0 };
	for (int i = 0; i < 5; i++)
		assert_int_equal(f.order[i], want[i]);
	assert_true(rw_loop_clock_ms() - t0 >= 40);
	for (int i = 0; i < 5; i++)
		assert_false(rw_timer_armed(&c[i].t));
	rw_loop_fini(&l);
}

static void test_timer_cancel_and_rearm(void **state)
{
	struct rw_loop l;
	assert_int_equal(rw_loop_init(&l, 64), 0);
	struct fired f = { 0 };
	struct tctx a = { .f = &f, .id = 1 }, b = { .f = &f, .id = 2 }, c = { .f = &f, .id = 3 };
	rw_timer_init(&a.t, on_timer, &a);
	rw_timer_init(&b.t, on_timer, &b);
	rw_timer_init(&c.t, on_timer, &c);
	rw_loop_timer_arm(&l, &a.t, 10);
	rw_loop_timer_arm(&l, &b.t, 20);
	rw_loop_timer_arm(&l, &c.t, 30);
	rw_loop_timer_cancel(&l, &b.t);
	assert_false(rw_timer_armed(&b.t));
	rw_loop_timer_cancel(&l, &b.t); /* twice is harmless */
	/* re-arming moves a timer: a now fires after c */
	rw_loop_timer_arm(&l, &a.t, 60);
	run_until(&l, &f, 2);
	/* give b's old deadline time to (wrongly) fire */
	for (int i = 0; i < 3; i++)
		rw_loop_run_once(&l, 20);
	assert_int_equal(f.n, 2);
	assert_int_equal(f.order[0], 3);
	assert_int_equal(f.order[1], 1);
	assert_int_equal(l.n_heap, 0);
	rw_loop_fini(&l);
}

static void test_timer_rearm_from_callback_does_not_spin(void **state)
{
	struct rw_loop l;
	assert_int_equal(rw_loop_init(&l, 64), 0);
	struct fired f = { 0 };
	struct tctx a = { .f = &f, .id = 7, .rearm = 3 };
	rw_timer_init(&a.t, on_timer, &a);
	rw_loop_timer_arm(&l, &a.t, 0);
	/* one iteration fires it once; the zero-delay re-arm waits for the next */
	assert_int_equal(rw_loop_run_once(&l, 0), 1);
	assert_int_equal(f.n, 1);
	assert_true(rw_timer_armed(&a.t));
	run_until(&l, &f, 4);
	assert_int_equal(f.n, 4);
	assert_false(rw_timer_armed(&a.t));
	rw_loop_fini(&l);
}

/* Heap against a reference: random deadlines, random cancels; firing
 * order must be sorted by (deadline, arming order). */
static void test_timer_heap_random(void **state)
{
	enum { N = 500 };
	struct rw_loop l;
	assert_int_equal(rw_loop_init(&l, 64), 0);
	static struct rw_timer t[N];
	static int fired_id[N];
	static uint64_t when[N];
	int nf = 0;
	srand(1234);
	l.now_ms = 1000000; /* fixed time base: drive the heap directly */
	for (int i = 0; i < N; i++) {
		rw_timer_init(&t[i], NULL, NULL);
		when[i] = (uint64_t)(rand() % 50);
		assert_int_equal(rw_loop_timer_arm(&l, &t[i], when[i]), 0);
	}
	bool cancelled[N] = { false };
	for (int i = 0; i < N; i += 3) {
		rw_loop_timer_cancel(&l, &t[i]);
		cancelled[i] = true;
	}
	/* pop the heap root by root, as the loop does */
	while (l.n_heap) {
		struct rw_timer *root = l.heap[0];
		rw_loop_timer_cancel(&l, root);
		fired_id[nf++] = (int)(root - t);
	}
	int expect = 0;
	for (int i = 0; i < N; i++)
		expect += !cancelled[i];
	assert_int_equal(nf, expect);
	for (int i = 1; i < nf; i++) {
		int a = fired_id[i - 1], b = fired_id[i];
		assert_false(cancelled[b]);
		assert_true(when[a] < when[b] || (when[a] == when[b] && a < b));
	}
	rw_loop_fini(&l);
}

/* ---- fd handlers ---- */

struct fdctx {
	struct rw_loop *l;
	int calls;
	unsigned last;
	int victim_fd;      /* fd this handler removes (and closes) */
	struct fdctx *other;
};

static void on_fd(struct rw_loop *l, int fd, unsigned events, void *arg)
{
	struct fdctx *c = arg;
	c->calls++;
	c->last = events;
	char buf[16];
	if (events & RW_LOOP_READ)
		(void)!read(fd, buf, sizeof(buf));
	if (c->victim_fd >= 0) {
		rw_loop_fd_del(l, c->victim_fd);
		c->victim_fd = -1;
	}
}

static void test_fd_read_write(void **state)
{
	struct rw_loop l;
	assert_int_equal(rw_loop_init(&l, 1024), 0);
	int sp[2];
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sp), 0);
	struct fdctx c = { .l = &l, .victim_fd = -1 };
	assert_int_equal(rw_loop_fd_add(&l, sp[0], RW_LOOP_READ, on_fd, &c), 0);
	assert_int_equal(rw_loop_fd_add(&l, sp[0], RW_LOOP_READ, on_fd, &c), RW_EEXIST);
	/* nothing to read: no call */
	assert_int_equal(rw_loop_run_once(&l, 10), 0);
	assert_int_equal(c.calls, 0);
	assert_int_equal(write(sp[1], "x", 1), 1);
	assert_int_equal(rw_loop_run_once(&l, 100), 1);
	assert_int_equal(c.calls, 1);
	assert_int_equal(c.last, RW_LOOP_READ);
	/* writable interest only */
	assert_int_equal(rw_loop_fd_mod(&l, sp[0], RW_LOOP_WRITE), 0);
	assert_int_equal(rw_loop_run_once(&l, 100), 1);
	assert_int_equal(c.last, RW_LOOP_WRITE);
	/* mask 0: still registered, but quiet even with data pending */
	assert_int_equal(write(sp[1], "y", 1), 1);
	assert_int_equal(rw_loop_fd_mod(&l, sp[0], 0), 0);
	assert_int_equal(rw_loop_run_once(&l, 10), 0);
	assert_int_equal(rw_loop_fd_del(&l, sp[0]), 0);
	assert_int_equal(rw_loop_fd_del(&l, sp[0]), RW_ENOENT);
	assert_int_equal(rw_loop_fd_mod(&l, sp[0], RW_LOOP_READ), RW_ENOENT);
	/* out of range fds are refused, not written past the table */
	assert_int_equal(rw_loop_fd_add(&l, 5000, RW_LOOP_READ, on_fd, &c), RW_ERANGE);
	close(sp[0]);
	close(sp[1]);
	rw_loop_fini(&l);
}

/* epoll's own view of fd in the loop's set: the event mask in
 * /proc/self/fdinfo/<epfd> ("tfd: N events: HEX ..."), -1 if absent. */
static long kernel_mask(const struct rw_loop *l, int fd)
{
	char path[64], line[256];
	snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", l->epfd);
	FILE *f = fopen(path, "r");
	assert_non_null(f);
	long mask = -1;
	while (fgets(line, sizeof(line), f)) {
		int tfd;
		unsigned long ev;
		if (sscanf(line, "tfd: %d events: %lx", &tfd, &ev) == 2 && tfd == fd)
			mask = (long)(ev & (EPOLLIN | EPOLLOUT));
	}
	fclose(f);
	return mask;
}

/* fd_mod reaches epoll at the end of the loop turn, not at once: a change
 * undone in the same turn, or made moot by fd_forget + close, costs no
 * epoll_ctl; meanwhile the handler gets only what the new mask asks. */
static void test_fd_mod_deferred(void **state)
{
	struct rw_loop l;
	assert_int_equal(rw_loop_init(&l, 1024), 0);
	int sp[2];
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sp), 0);
	struct fdctx c = { .l = &l, .victim_fd = -1 };
	assert_int_equal(rw_loop_fd_add(&l, sp[0], RW_LOOP_READ, on_fd, &c), 0);
	assert_int_equal(kernel_mask(&l, sp[0]), EPOLLIN); /* add: at once */
	assert_int_equal(rw_loop_fd_mod(&l, sp[0], RW_LOOP_WRITE), 0);
	assert_int_equal(kernel_mask(&l, sp[0]), EPOLLIN); /* mod: not yet */
	assert_int_equal(rw_loop_run_once(&l, 100), 1);
	assert_int_equal(c.last, RW_LOOP_WRITE);
	assert_int_equal(kernel_mask(&l, sp[0]), EPOLLOUT); /* flushed before the wait */
	/* narrowed to nothing with bytes pending: no call, although epoll
	 * still had EPOLLOUT until this turn's flush */
	assert_int_equal(write(sp[1], "x", 1), 1);
	assert_int_equal(rw_loop_fd_mod(&l, sp[0], 0), 0);
	assert_int_equal(rw_loop_run_once(&l, 10), 0);
	assert_int_equal(kernel_mask(&l, sp[0]), 0);
	/* changed and changed back within one turn: never reaches epoll */
	assert_int_equal(rw_loop_fd_mod(&l, sp[0], RW_LOOP_READ), 0);
	assert_int_equal(rw_loop_fd_mod(&l, sp[0], 0), 0);
	assert_int_equal(rw_loop_run_once(&l, 10), 0);
	assert_int_equal(kernel_mask(&l, sp[0]), 0);
	/* forgotten and closed with a change queued, the number reused at
	 * once by a new registration: the stale entry must not touch it */
	assert_int_equal(rw_loop_fd_mod(&l, sp[0], RW_LOOP_WRITE), 0);
	int old = sp[0];
	rw_loop_fd_forget(&l, old);
	close(old);
	int sp2[2];
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sp2), 0);
	assert_int_equal(sp2[0], old); /* lowest free number */
	assert_int_equal(rw_loop_fd_add(&l, sp2[0], RW_LOOP_READ, on_fd, &c), 0);
	c.calls = 0;
	assert_int_equal(rw_loop_run_once(&l, 10), 0); /* nothing to read */
	assert_int_equal(kernel_mask(&l, sp2[0]), EPOLLIN);
	assert_int_equal(write(sp2[1], "y", 1), 1);
	assert_int_equal(rw_loop_run_once(&l, 100), 1);
	assert_int_equal(c.last, RW_LOOP_READ);
	rw_loop_fd_del(&l, sp2[0]);
	close(sp2[0]);
	close(sp2[1]);
	close(sp[1]);
	rw_loop_fini(&l);
}

static void test_fd_hangup_reported(void **state)
{
	struct rw_loop l;
	assert_int_equal(rw_loop_init(&l, 1024), 0);
	int sp[2];
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sp), 0);
	struct fdctx c = { .l = &l, .victim_fd = -1 };
	assert_int_equal(rw_loop_fd_add(&l, sp[0], 0, on_fd, &c), 0);
	close(sp[1]);
	assert_int_equal(rw_loop_run_once(&l, 100), 1);
	assert_true(c.last & RW_LOOP_ERROR);
	assert_false(c.last & RW_LOOP_READ); /* not asked for */
	rw_loop_fd_del(&l, sp[0]);
	close(sp[0]);
	rw_loop_fini(&l);
}

/* Two fds ready in the same epoll batch; whichever handler runs first
 * removes the other one. The removed fd's event must not be delivered,
 * even though epoll_wait already returned it. */
static void test_removed_fd_event_not_delivered(void **state)
{
	struct rw_loop l;
	assert_int_equal(rw_loop_init(&l, 1024), 0);
	int a[2], b[2];
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, a), 0);
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, b), 0);
	struct fdctx ca = { .l = &l, .victim_fd = b[0] };
	struct fdctx cb = { .l = &l, .victim_fd = a[0] };
	assert_int_equal(rw_loop_fd_add(&l, a[0], RW_LOOP_READ, on_fd, &ca), 0);
	assert_int_equal(rw_loop_fd_add(&l, b[0], RW_LOOP_READ, on_fd, &cb), 0);
	assert_int_equal(write(a[1], "x", 1), 1);
	assert_int_equal(write(b[1], "x", 1), 1);
	usleep(10000);
	assert_int_equal(rw_loop_run_once(&l, 100), 1);
	assert_int_equal(ca.calls + cb.calls, 1);
	rw_loop_fd_del(&l, a[0]);
	rw_loop_fd_del(&l, b[0]);
	close(a[0]);
	close(a[1]);
	close(b[0]);
	close(b[1]);
	rw_loop_fini(&l);
}

/* Generation check at the epoll level: an event queued for a registration
 * that was removed and replaced before dispatch is dropped. */
struct genctx {
	int replaced_fd;
	struct fdctx *newowner;
	int calls;
};

static void on_replace(struct rw_loop *l, int fd, unsigned events, void *arg)
{
	struct genctx *g = arg;
	g->calls++;
	char buf[8];
	(void)!read(fd, buf, sizeof(buf));
	if (g->replaced_fd >= 0) {
		rw_loop_fd_del(l, g->replaced_fd);
		/* same fd number, new owner: the event epoll_wait already
		 * returned for the old registration must not reach it */
		rw_loop_fd_add(l, g->replaced_fd, RW_LOOP_READ, on_fd, g->newowner);
		g->replaced_fd = -1;
	}
}

static void test_replaced_fd_gets_no_stale_event(void **state)
{
	struct rw_loop l;
	assert_int_equal(rw_loop_init(&l, 1024), 0);
	int a[2], b[2];
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, a), 0);
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, b), 0);
	struct fdctx newowner = { .l = &l, .victim_fd = -1 };
	struct genctx ga = { .replaced_fd = b[0], .newowner = &newowner };
	struct genctx gb = { .replaced_fd = a[0], .newowner = &newowner };
	assert_int_equal(rw_loop_fd_add(&l, a[0], RW_LOOP_READ, on_replace, &ga), 0);
	assert_int_equal(rw_loop_fd_add(&l, b[0], RW_LOOP_READ, on_replace, &gb), 0);
	assert_int_equal(write(a[1], "x", 1), 1);
	assert_int_equal(write(b[1], "x", 1), 1);
	usleep(10000);
	int called = rw_loop_run_once(&l, 100);
	/* exactly one of the original handlers ran; the other fd's event (old
	 * generation) went to nobody: the new owner was not called in this batch */
	assert_int_equal(called, 1);
	assert_int_equal(ga.calls + gb.calls, 1);
	assert_int_equal(newowner.calls, 0);
	rw_loop_fini(&l);
	close(a[0]);
	close(a[1]);
	close(b[0]);
	close(b[1]);
}

struct stopctx {
	int calls;
};

static void on_stop_fd(struct rw_loop *l, int fd, unsigned events, void *arg)
{
	struct stopctx *s = arg;
	s->calls++;
	rw_loop_stop(l);
}

static void test_run_until_stop(void **state)
{
	struct rw_loop l;
	assert_int_equal(rw_loop_init(&l, 1024), 0);
	int p[2];
	assert_int_equal(pipe(p), 0);
	struct stopctx s = { 0 };
	assert_int_equal(rw_loop_fd_add(&l, p[0], RW_LOOP_READ, on_stop_fd, &s), 0);
	assert_int_equal(write(p[1], "q", 1), 1);
	assert_int_equal(rw_loop_run(&l), 0);
	assert_int_equal(s.calls, 1);
	rw_loop_fini(&l);
	close(p[0]);
	close(p[1]);
}

/* ---- admission limits ---- */

static void key4(struct rw_src_key *k, uint8_t a, uint8_t b, uint8_t c, uint8_t d)
{
	const uint8_t addr[4] = { a, b, c, d };
	rw_src_key_make(k, AF_INET, addr);
}

static void test_conn_limits(void **state)
{
	struct rw_conn_table t;
	assert_int_equal(rw_conn_table_init(&t, 4, 2), 0);
	struct rw_src_key x, y, z;
	key4(&x, 203, 0, 113, 10);
	key4(&y, 203, 0, 113, 11);
	key4(&z, 198, 51, 100, 7);
	int obj;
	long s1 = rw_conn_admit(&t, &x, &obj);
	long s2 = rw_conn_admit(&t, &x, &obj);
	assert_true(s1 >= 0 && s2 >= 0 && s1 != s2);
	/* third from the same source: per-source limit */
	assert_int_equal(rw_conn_admit(&t, &x, &obj), RW_ERANGE);
	assert_int_equal(rw_conn_source_count(&t, &x), 2);
	long s3 = rw_conn_admit(&t, &y, &obj);
	long s4 = rw_conn_admit(&t, &y, &obj);
	assert_true(s3 >= 0 && s4 >= 0);
	/* worker full: even a new source is refused */
	assert_int_equal(rw_conn_admit(&t, &z, &obj), RW_ETOOBIG);
	assert_int_equal(t.n, 4);
	rw_conn_release(&t, (size_t)s1, &x);
	assert_int_equal(rw_conn_source_count(&t, &x), 1);
	long s5 = rw_conn_admit(&t, &z, &obj);
	assert_int_equal(s5, s1); /* the freed slot is reused */
	rw_conn_release(&t, (size_t)s2, &x);
	assert_int_equal(rw_conn_source_count(&t, &x), 0);
	assert_int_equal(t.src.used, 2);
	rw_conn_table_fini(&t);
}

static void test_conn_v6_counts_per_64(void **state)
{
	struct rw_conn_table t;
	assert_int_equal(rw_conn_table_init(&t, 8, 2), 0);
	uint8_t a[16] = { 0x20, 0x01, 0x0d, 0xb8, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1 };
	uint8_t b[16], c[16];
	memcpy(b, a, 16);
	b[15] = 2; /* same /64 */
	memcpy(c, a, 16);
	c[7] = 2; /* other /64 */
	struct rw_src_key ka, kb, kc;
	rw_src_key_make(&ka, AF_INET6, a);
	rw_src_key_make(&kb, AF_INET6, b);
	rw_src_key_make(&kc, AF_INET6, c);
	int obj;
	assert_true(rw_conn_admit(&t, &ka, &obj) >= 0);
	assert_true(rw_conn_admit(&t, &kb, &obj) >= 0);
	assert_int_equal(rw_conn_admit(&t, &ka, &obj), RW_ERANGE);
	assert_true(rw_conn_admit(&t, &kc, &obj) >= 0);
	rw_conn_table_fini(&t);
}

/* Many sources admitted and released in random order: the open-addressing
 * table (backward-shift deletion) must keep every count exact. */
static void test_conn_table_churn(void **state)
{
	enum { MAXC = 600, NSRC = 300 };
	struct rw_conn_table t;
	assert_int_equal(rw_conn_table_init(&t, MAXC, 0), 0);
	static long slot[MAXC];
	static int src_of[MAXC];
	static uint32_t ref[NSRC];
	memset(ref, 0, sizeof(ref));
	int live = 0, obj;
	srand(99);
	for (int round = 0; round < 20000; round++) {
		if (live < MAXC && (live == 0 || rand() % 2)) {
			int s = rand() % NSRC;
			struct rw_src_key k;
			key4(&k, 10, (uint8_t)(s >> 8), (uint8_t)s, 1);
			long r = rw_conn_admit(&t, &k, &obj);
			assert_true(r >= 0);
			slot[live] = r;
			src_of[live] = s;
			live++;
			ref[s]++;
		} else {
			int i = rand() % live;
			struct rw_src_key k;
			key4(&k, 10, (uint8_t)(src_of[i] >> 8), (uint8_t)src_of[i], 1);
			rw_conn_release(&t, (size_t)slot[i], &k);
			ref[src_of[i]]--;
			slot[i] = slot[live - 1];
			src_of[i] = src_of[live - 1];
			live--;
		}
	}
	size_t used = 0;
	for (int s = 0; s < NSRC; s++) {
		struct rw_src_key k;
		key4(&k, 10, (uint8_t)(s >> 8), (uint8_t)s, 1);
		assert_int_equal(rw_conn_source_count(&t, &k), ref[s]);
		used += ref[s] > 0;
	}
	assert_int_equal(t.src.used, used);
	assert_int_equal(t.n, (size_t)live);
	rw_conn_table_fini(&t);
}

/* Listeners as classes: with 2 classes over 20 slots each reserves 5 and
 * 10 are shared. One class filling up takes its 5 and the shared 10,
 * then is refused, while the other still gets its 5; releases give the
 * shared places back in any order. */
static void test_conn_class_reserve(void **state)
{
	struct rw_conn_table t;
	assert_int_equal(rw_conn_table_init(&t, 20, 0), 0);
	assert_int_equal(rw_conn_table_classes(&t, 2), 0);
	struct rw_src_key k;
	uint8_t a[4] = { 203, 0, 113, 7 };
	rw_src_key_make(&k, AF_INET, a);
	int obj;
	long slots[20];
	size_t n0 = 0;
	while (n0 < 20) {
		long s = rw_conn_admit_class(&t, 0, &k, &obj);
		if (s < 0) {
			assert_int_equal(s, RW_ETOOBIG);
			break;
		}
		slots[n0++] = s;
	}
	assert_int_equal(n0, 15); /* 5 reserved + 10 shared */
	assert_int_equal(rw_conn_class_count(&t, 0), 15);
	long b[5];
	for (int i = 0; i < 5; i++) {
		b[i] = rw_conn_admit_class(&t, 1, &k, &obj);
		assert_true(b[i] >= 0); /* class 1's reservation holds */
	}
	assert_int_equal(rw_conn_admit_class(&t, 1, &k, &obj), RW_ETOOBIG);
	/* a class-0 connection leaves: one shared place, which either class
	 * may take */
	rw_conn_release(&t, (size_t)slots[--n0], &k);
	long x = rw_conn_admit_class(&t, 1, &k, &obj);
	assert_true(x >= 0);
	assert_int_equal(rw_conn_admit_class(&t, 0, &k, &obj), RW_ETOOBIG);
	/* class 1 releases its reserved ones first, then the shared one: the
	 * shared count returns to class 0's 9 either way */
	for (int i = 0; i < 5; i++)
		rw_conn_release(&t, (size_t)b[i], &k);
	rw_conn_release(&t, (size_t)x, &k);
	assert_int_equal(t.shared_used, 9);
	assert_int_equal(rw_conn_class_count(&t, 1), 0);
	assert_true(rw_conn_admit_class(&t, 0, &k, &obj) >= 0);
	assert_int_equal(rw_conn_admit_class(&t, 2, &k, &obj), RW_EINVAL);
	rw_conn_table_fini(&t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_timers_fire_in_order),
		cmocka_unit_test(test_timer_cancel_and_rearm),
		cmocka_unit_test(test_timer_rearm_from_callback_does_not_spin),
		cmocka_unit_test(test_timer_heap_random),
		cmocka_unit_test(test_fd_read_write),
		cmocka_unit_test(test_fd_mod_deferred),
		cmocka_unit_test(test_fd_hangup_reported),
		cmocka_unit_test(test_removed_fd_event_not_delivered),
		cmocka_unit_test(test_replaced_fd_gets_no_stale_event),
		cmocka_unit_test(test_run_until_stop),
		cmocka_unit_test(test_conn_limits),
		cmocka_unit_test(test_conn_v6_counts_per_64),
		cmocka_unit_test(test_conn_table_churn),
		cmocka_unit_test(test_conn_class_reserve),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
