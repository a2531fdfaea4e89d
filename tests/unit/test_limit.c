/* rw_limit: token buckets with injected time, table overflow and
 * reclamation, and the shared-memory property that matters: several
 * forked workers hammering one identity never get more than
 * burst + rate * elapsed between them, and a worker dying with the lock
 * held does not block the others. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdatomic.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "fwd/rw_limit.h"
#include "base/rw_err.h"

static struct rw_policy_opts opts(uint64_t opm, uint64_t bps)
{
	struct rw_policy_opts o;
	memset(&o, 0, sizeof(o));
	o.push_requires_vpn = true;
	o.push_ops_per_minute = opm;
	o.push_bytes_per_second = bps;
	return o;
}

static void test_ops_burst_then_rate(void **state)
{
	(void)state;
	struct rw_limit *l;
	assert_int_equal(rw_limit_create(&l, 64), 0);
	struct rw_policy_opts o = opts(60, 0);
	uint64_t retry = 99;
	/* a fresh identity has one minute's worth */
	for (int i = 0; i < 60; i++) {
		assert_int_equal(rw_limit_op(l, "ci-bot", 1000, &o, &retry), 0);
		assert_int_equal(retry, 0);
	}
	assert_int_equal(rw_limit_op(l, "ci-bot", 1000, &o, &retry), RW_ETOOBIG);
	assert_int_equal(retry, 1000); /* 60/min = one per second */
	assert_int_equal(rw_limit_op(l, "ci-bot", 1999, &o, &retry), RW_ETOOBIG);
	assert_int_equal(retry, 1);
	assert_int_equal(rw_limit_op(l, "ci-bot", 2000, &o, &retry), 0);
	assert_int_equal(rw_limit_op(l, "ci-bot", 2000, &o, &retry), RW_ETOOBIG);
	/* 10 s idle: 10 tokens, not more */
	int ok = 0;
	while (rw_limit_op(l, "ci-bot", 12000, &o, &retry) == 0)
		ok++;
	assert_int_equal(ok, 10);
	/* another identity is untouched */
	assert_int_equal(rw_limit_op(l, "peer:alice", 12000, &o, &retry), 0);
	rw_limit_destroy(l);
}

static void test_ops_fractional_rate(void **state)
{
	(void)state;
	struct rw_limit *l;
	assert_int_equal(rw_limit_create(&l, 8), 0);
	struct rw_policy_opts o = opts(7, 0); /* one per 8571.43 ms */
	uint64_t retry;
	for (int i = 0; i < 7; i++)
		assert_int_equal(rw_limit_op(l, "x", 0, &o, &retry), 0);
	assert_int_equal(rw_limit_op(l, "x", 0, &o, &retry), RW_ETOOBIG);
	assert_int_equal(retry, 8572); /* rounded up: never too early */
	assert_int_equal(rw_limit_op(l, "x", 8571, &o, &retry), RW_ETOOBIG);
	assert_int_equal(retry, 1);
	assert_int_equal(rw_limit_op(l, "x", 8572, &o, &retry), 0);
	rw_limit_destroy(l);
}

static void test_unlimited_and_args(void **state)
{
	(void)state;
	struct rw_limit *l;
	assert_int_equal(rw_limit_create(&l, 4), 0);
	struct rw_policy_opts o = opts(0, 0);
	uint64_t retry = 5, wait = 5;
	for (int i = 0; i < 1000; i++)
		assert_int_equal(rw_limit_op(l, "x", 0, &o, &retry), 0);
	assert_int_equal(rw_limit_bytes(l, "x", 0, 1 << 30, &o, &wait), 1 << 30);
	assert_int_equal(wait, 0);
	assert_int_equal(rw_limit_op(NULL, "x", 0, &o, &retry), RW_EINVAL);
	assert_int_equal(rw_limit_op(l, NULL, 0, &o, &retry), RW_EINVAL);
	assert_int_equal(rw_limit_bytes(l, NULL, 0, 10, &o, &wait), 0);
	assert_int_equal(wait, 1000);
	rw_limit_destroy(l);
	assert_int_equal(rw_limit_create(&l, 0), RW_EINVAL);
	assert_int_equal(rw_limit_create(NULL, 4), RW_EINVAL);
	rw_limit_destroy(NULL);
}

static void test_bytes_pacing(void **state)
{
	(void)state;
	struct rw_limit *l;
	assert_int_equal(rw_limit_create(&l, 16), 0);
	struct rw_policy_opts o = opts(0, 1000);
	uint64_t wait;
	/* burst = 1 s worth */
	assert_int_equal(rw_limit_bytes(l, "a", 0, 600, &o, &wait), 600);
	assert_int_equal(wait, 0);
	assert_int_equal(rw_limit_bytes(l, "a", 0, 5000, &o, &wait), 400);
	assert_int_equal(wait, 125); /* wake for 1/8 s of budget */
	assert_int_equal(rw_limit_bytes(l, "a", 0, 5000, &o, &wait), 0);
	assert_int_equal(rw_limit_bytes(l, "a", 125, 5000, &o, &wait), 125);
	/* asking for less than the step waits only for what it needs */
	assert_int_equal(rw_limit_bytes(l, "a", 125, 10, &o, &wait), 0);
	assert_int_equal(wait, 10);
	assert_int_equal(rw_limit_bytes(l, "a", 135, 10, &o, &wait), 10);
	/* a long idle refills to one second, no more */
	assert_int_equal(rw_limit_bytes(l, "a", 100000, 5000, &o, &wait), 1000);
	/* ops and bytes buckets are separate */
	struct rw_policy_opts both = opts(1, 1000);
	uint64_t retry;
	assert_int_equal(rw_limit_op(l, "a", 100000, &both, &retry), 0);
	assert_int_equal(rw_limit_op(l, "a", 100000, &both, &retry), RW_ETOOBIG);
	assert_int_equal(retry, 60000);
	rw_limit_destroy(l);
}

/* policy.push_rate.burst_ops / burst_bytes set the bucket sizes; the
 * refill rates stay those of ops_per_minute / bytes_per_second. */
/* After a reload the old generation (still draining) passes its old
 * settings; the shared buckets must follow the new ones (adversarial
 * review: a 500 B/s upload in an old worker held a new 200 kB burst down
 * to 500 bytes). */
static void test_newest_policy_decides(void **state)
{
	(void)state;
	struct rw_limit *l;
	assert_int_equal(rw_limit_create(&l, 16), 0);
	struct rw_policy_opts old = opts(0, 500), cur = opts(0, 20000);
	cur.push_burst_bytes = 200000;
	uint64_t wait;
	/* before any set_policy: each caller's own settings (as the tests
	 * and a single generation always had it) */
	assert_int_equal(rw_limit_bytes(l, "ci", 0, 100000, &old, &wait), 500);
	assert_int_equal(rw_limit_set_policy(l, &cur), 0);
	/* the old worker keeps metering its slow upload ... */
	for (uint64_t t = 99990; t <= 100000; t++)
		(void)rw_limit_bytes(l, "ci", t, 100, &old, &wait);
	/* ... and a new push right then still gets the new burst at once,
	 * well over the old cap of 500 */
	uint64_t got = rw_limit_bytes(l, "ci", 100001, 60000, &cur, &wait);
	assert_int_equal(got, 60000);
	/* the old worker's next call is metered by the new rate too */
	assert_true(rw_limit_bytes(l, "ci", 100001, 100000, &old, &wait) > 500);
	/* ops the same way: a new ops limit applies to old callers */
	struct rw_policy_opts ops_old = opts(1, 0), ops_new = opts(600, 0);
	assert_int_equal(rw_limit_set_policy(l, &ops_new), 0);
	int ok = 0;
	uint64_t retry;
	while (ok < 1000 && rw_limit_op(l, "ops", 0, &ops_old, &retry) == 0)
		ok++;
	assert_int_equal(ok, 600);
	rw_limit_destroy(l);
}

static void test_configured_bursts(void **state)
{
	(void)state;
	struct rw_limit *l;
	assert_int_equal(rw_limit_create(&l, 16), 0);
	struct rw_policy_opts o = opts(60, 1000);
	o.push_burst_ops = 5;
	o.push_burst_bytes = 3000;
	uint64_t retry, wait;
	/* a smaller ops burst than the minute's 60 */
	for (int i = 0; i < 5; i++)
		assert_int_equal(rw_limit_op(l, "b", 0, &o, &retry), 0);
	assert_int_equal(rw_limit_op(l, "b", 0, &o, &retry), RW_ETOOBIG);
	assert_int_equal(retry, 1000); /* still one per second */
	/* an hour idle refills to 5, not to 60 */
	int ok = 0;
	while (rw_limit_op(l, "b", 3600000, &o, &retry) == 0)
		ok++;
	assert_int_equal(ok, 5);
	/* a larger bytes burst than the second's 1000 */
	assert_int_equal(rw_limit_bytes(l, "b", 0, 5000, &o, &wait), 3000);
	assert_int_equal(wait, 375); /* wake for 1/8 of the burst: 375 bytes at 1/ms */
	assert_int_equal(rw_limit_bytes(l, "b", 500, 5000, &o, &wait), 500);
	assert_int_equal(rw_limit_bytes(l, "b", 100000, 100000, &o, &wait), 3000);
	/* a larger ops burst than the minute's */
	struct rw_policy_opts big = opts(1, 0);
	big.push_burst_ops = 100;
	ok = 0;
	while (rw_limit_op(l, "c", 0, &big, &retry) == 0)
		ok++;
	assert_int_equal(ok, 100);
	assert_int_equal(retry, 60000);
	rw_limit_destroy(l);
}

static void test_clock_backwards(void **state)
{
	(void)state;
	struct rw_limit *l;
	assert_int_equal(rw_limit_create(&l, 16), 0);
	struct rw_policy_opts o = opts(60, 0);
	uint64_t retry;
	for (int i = 0; i < 60; i++)
		assert_int_equal(rw_limit_op(l, "a", 50000, &o, &retry), 0);
	/* earlier time: no refill, and the later refill is not counted twice */
	assert_int_equal(rw_limit_op(l, "a", 1000, &o, &retry), RW_ETOOBIG);
	assert_int_equal(rw_limit_op(l, "a", 51000, &o, &retry), 0);
	assert_int_equal(rw_limit_op(l, "a", 51000, &o, &retry), RW_ETOOBIG);
	rw_limit_destroy(l);
}

static void test_overflow_and_reclaim(void **state)
{
	(void)state;
	struct rw_limit *l;
	assert_int_equal(rw_limit_create(&l, 1), 0);
	struct rw_policy_opts o = opts(2, 0);
	uint64_t retry;
	struct rw_limit_stats st;
	assert_int_equal(rw_limit_op(l, "one", 0, &o, &retry), 0);
	/* table (one slot) full and "one" is not idle: "two" and "three"
	 * share the overflow bucket, which limits them together */
	assert_int_equal(rw_limit_op(l, "two", 0, &o, &retry), 0);
	assert_int_equal(rw_limit_op(l, "three", 0, &o, &retry), 0);
	assert_int_equal(rw_limit_op(l, "two", 0, &o, &retry), RW_ETOOBIG);
	assert_int_equal(rw_limit_stats(l, &st), 0);
	assert_int_equal(st.slots, 1);
	assert_int_equal(st.slots_used, 1);
	assert_int_equal(st.overflow_uses, 3);
	/* "one" is full again after 30 s idle: its slot goes to "two" */
	assert_int_equal(rw_limit_op(l, "two", 30000, &o, &retry), 0);
	assert_int_equal(rw_limit_op(l, "two", 30000, &o, &retry), 0);
	assert_int_equal(rw_limit_op(l, "two", 30000, &o, &retry), RW_ETOOBIG);
	assert_int_equal(rw_limit_stats(l, &st), 0);
	assert_int_equal(st.overflow_uses, 3);

	/* a name too long for a slot is limited (overflow), not unlimited */
	char longname[RW_LIMIT_NAME_MAX + 8];
	memset(longname, 'n', sizeof(longname) - 1);
	longname[sizeof(longname) - 1] = '\0';
	while (rw_limit_op(l, longname, 100000, &o, &retry) == 0)
		;
	assert_int_equal(retry, 30000);
	rw_limit_destroy(l);
}

static void test_many_names(void **state)
{
	(void)state;
	struct rw_limit *l;
	assert_int_equal(rw_limit_create(&l, 100), 0);
	struct rw_policy_opts o = opts(1, 0);
	uint64_t retry;
	char name[32];
	struct rw_limit_stats st;
	assert_int_equal(rw_limit_stats(l, &st), 0);
	assert_int_equal(st.slots, 128);
	for (int i = 0; i < 64; i++) {
		snprintf(name, sizeof(name), "peer:p%d", i);
		assert_int_equal(rw_limit_op(l, name, 0, &o, &retry), 0);
	}
	/* each one used its only token, in its own bucket or the overflow */
	assert_int_equal(rw_limit_stats(l, &st), 0);
	int limited = 0;
	for (int i = 0; i < 64; i++) {
		snprintf(name, sizeof(name), "peer:p%d", i);
		limited += rw_limit_op(l, name, 0, &o, &retry) == RW_ETOOBIG;
	}
	assert_int_equal(limited, 64);
	assert_true(st.slots_used + st.overflow_uses == 64);
	assert_true(st.slots_used >= 60); /* half-full table, 8 probes */
	rw_limit_destroy(l);
}

static uint64_t mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

#define WORKERS 4

struct shared_count {
	_Atomic uint64_t ops;
	_Atomic uint64_t bytes;
	_Atomic int go;
};

static void test_forked_workers_share_budget(void **state)
{
	(void)state;
	struct rw_limit *l;
	assert_int_equal(rw_limit_create(&l, 64), 0);
	struct shared_count *c = mmap(NULL, sizeof(*c), PROT_READ | PROT_WRITE,
				      MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	assert_true(c != MAP_FAILED);
	/* 600/min = 10/s, burst 600; 200 KB/s, burst 200 KB */
	struct rw_policy_opts o = opts(600, 200000);
	const uint64_t run_ms = 400;
	pid_t pid[WORKERS];
	for (int w = 0; w < WORKERS; w++) {
		pid[w] = fork();
		assert_true(pid[w] >= 0);
		if (pid[w] == 0) {
			while (!atomic_load(&c->go))
				;
			uint64_t end = mono_ms() + run_ms, retry, wait;
			while (mono_ms() < end) {
				if (rw_limit_op(l, "peer:alice", mono_ms(), &o, &retry) == 0)
					atomic_fetch_add(&c->ops, 1);
				atomic_fetch_add(&c->bytes, rw_limit_bytes(l, "peer:alice", mono_ms(),
									   1500, &o, &wait));
			}
			_exit(0);
		}
	}
	uint64_t t0 = mono_ms();
	atomic_store(&c->go, 1);
	for (int w = 0; w < WORKERS; w++) {
		int st;
		assert_int_equal(waitpid(pid[w], &st, 0), pid[w]);
		assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	}
	uint64_t elapsed = mono_ms() - t0 + 1;
	uint64_t ops = atomic_load(&c->ops), bytes = atomic_load(&c->bytes);
	/* never more than burst + rate * elapsed ... */
	assert_true(ops <= 600 + (10 * elapsed) / 1000 + 1);
	assert_true(bytes <= 200000 + 200 * elapsed);
	/* ... and the burst itself was handed out (the table really is shared:
	 * per-process buckets would have given 4 x 600) */
	assert_true(ops >= 600);
	assert_true(bytes >= 200000);
	munmap(c, sizeof(*c));
	rw_limit_destroy(l);
}

static void test_dead_holder_does_not_block(void **state)
{
	(void)state;
	struct rw_limit *l;
	assert_int_equal(rw_limit_create(&l, 8), 0);
	pid_t p = fork();
	assert_true(p >= 0);
	if (p == 0) {
		if (rw_limit_lock(l) != 0)
			_exit(2);
		_exit(0); /* dies holding the lock */
	}
	int st;
	assert_int_equal(waitpid(p, &st, 0), p);
	assert_int_equal(WEXITSTATUS(st), 0);
	struct rw_policy_opts o = opts(60, 0);
	uint64_t retry;
	assert_int_equal(rw_limit_op(l, "ci-bot", 0, &o, &retry), 0);
	struct rw_limit_stats s;
	assert_int_equal(rw_limit_stats(l, &s), 0);
	assert_int_equal(s.lock_recoveries, 1);
	assert_int_equal(rw_limit_op(l, "ci-bot", 0, &o, &retry), 0);
	assert_int_equal(rw_limit_stats(l, &s), 0);
	assert_int_equal(s.lock_recoveries, 1);
	rw_limit_destroy(l);
}

/* The table shared with exec'd workers through a memfd: a worker that
 * attaches, scribbles over the page's geometry (slot mask, length) and
 * then sits on the lock must neither make another process index outside
 * its mapping nor stall it: the lock wait is bounded and fails closed. */
static void test_shared_page_cannot_hurt_others(void **state)
{
	struct rw_limit *l;
	int fd;
	assert_int_equal(rw_limit_create_shared(&l, 16, &fd), 0);
	struct rw_policy_opts o = { .push_ops_per_minute = 60 };
	int go[2], held[2];
	assert_int_equal(pipe(go), 0);
	assert_int_equal(pipe(held), 0);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct rw_limit *w;
		if (rw_limit_attach(fd, &w) != 0)
			_exit(2);
		/* the page's own geometry: mutex first, then map_len, mask */
		size_t *geo = (size_t *)((char *)mmap(NULL, 4096, PROT_READ | PROT_WRITE,
						      MAP_SHARED, fd, 0) +
					 sizeof(pthread_mutex_t));
		geo[0] = (size_t)1 << 40;
		geo[1] = ~(size_t)0;
		if (rw_limit_lock(w) != 0)
			_exit(3);
		char c = 1;
		(void)!write(held[1], &c, 1);
		(void)!read(go[0], &c, 1); /* hold it until told */
		_exit(0);
	}
	char c;
	assert_int_equal(read(held[0], &c, 1), 1);
	long long t0 = mono_ms();
	assert_int_equal(rw_limit_set_policy(l, &o), RW_EIO);
	uint64_t retry;
	assert_int_equal(rw_limit_op(l, "alice", 1000, &o, &retry), RW_EIO);
	assert_true(mono_ms() - t0 < 2000);
	assert_int_equal(write(go[1], &c, 1), 1);
	int st;
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	/* the holder is gone (robust mutex); the wrecked mask in the page
	 * does not matter: this process indexes with its own */
	for (int i = 0; i < 40; i++) {
		char who[16];
		snprintf(who, sizeof(who), "id%d", i);
		assert_true(rw_limit_op(l, who, 1000, &o, &retry) == 0);
	}
	struct rw_limit_stats stt;
	assert_int_equal(rw_limit_stats(l, &stt), 0);
	assert_int_equal(stt.slots, 16);
	close(fd);
	close(go[0]);
	close(go[1]);
	close(held[0]);
	close(held[1]);
	rw_limit_destroy(l);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_shared_page_cannot_hurt_others),
		cmocka_unit_test(test_ops_burst_then_rate),
		cmocka_unit_test(test_ops_fractional_rate),
		cmocka_unit_test(test_unlimited_and_args),
		cmocka_unit_test(test_bytes_pacing),
		cmocka_unit_test(test_configured_bursts),
		cmocka_unit_test(test_newest_policy_decides),
		cmocka_unit_test(test_clock_backwards),
		cmocka_unit_test(test_overflow_and_reclaim),
		cmocka_unit_test(test_many_names),
		cmocka_unit_test(test_forked_workers_share_budget),
		cmocka_unit_test(test_dead_holder_does_not_block),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
