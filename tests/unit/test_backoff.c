/* The worker restart budget (appliance/rw_backoff.c), on a simulated
 * clock: the case (six crashes 13 s apart, under 5 a minute) is
 * restarted every time; a fast crash loop backs off and spends the
 * budget, which then refills by itself. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "appliance/rw_backoff.h"

static void test_under_the_rate_never_exhausts(void **state)
{
	struct rw_backoff b;
	rw_backoff_init(&b, 0);
	long long t = 0;
	for (int i = 0; i < 50; i++) {
		long long start = t;
		t += 13000; /* ran 13 s, then crashed: 4.6 a minute */
		bool ex = true;
		long long d = rw_backoff_crash(&b, start, t, &ex);
		assert_false(ex);
		/* short runs make a streak: the backoff grows but is bounded */
		assert_true(d <= RW_BACKOFF_MAX_MS);
		t += d;
	}
}

static void test_stable_run_restarts_at_once(void **state)
{
	struct rw_backoff b;
	rw_backoff_init(&b, 0);
	bool ex = true;
	/* ran an hour, crashed: at once */
	assert_int_equal(rw_backoff_crash(&b, 0, 3600000, &ex), 0);
	assert_false(ex);
	/* crashed again right after: backoff starts */
	assert_int_equal(rw_backoff_crash(&b, 3600000, 3600100, &ex), RW_BACKOFF_BASE_MS);
	assert_int_equal(rw_backoff_crash(&b, 3600400, 3600500, &ex), 2 * RW_BACKOFF_BASE_MS);
	/* a stable run again resets the streak */
	assert_int_equal(rw_backoff_crash(&b, 3601000, 3700000, &ex), 0);
}

static void test_fast_loop_exhausts_then_refills(void **state)
{
	struct rw_backoff b;
	rw_backoff_init(&b, 0);
	long long t = 0, prev = -1;
	bool ex = false;
	int crashes = 0;
	while (!ex && crashes < 20) {
		long long d = rw_backoff_crash(&b, t, t + 10, &ex);
		assert_true(d >= prev || ex); /* never shorter while the streak lasts */
		prev = d;
		t += 10 + d;
		crashes++;
	}
	assert_true(ex);
	/* the burst of RW_BACKOFF_BURST restarts, plus what refilled while
	 * the backoff waited, then the budget is spent */
	assert_in_range(crashes, RW_BACKOFF_BURST + 1, RW_BACKOFF_BURST + 3);
	/* an exhausted slot waits at least for the next token, never gives up */
	ex = false;
	long long d = rw_backoff_crash(&b, t, t + 10, &ex);
	assert_true(ex);
	assert_true(d > 0 && d <= RW_BACKOFF_MAX_MS);
	/* after ten quiet minutes the whole burst is back */
	t += 600000;
	for (int i = 0; i < RW_BACKOFF_BURST; i++) {
		rw_backoff_crash(&b, t - 100000, t, &ex);
		assert_false(ex);
		t += 100000;
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_under_the_rate_never_exhausts),
		cmocka_unit_test(test_stable_run_restarts_at_once),
		cmocka_unit_test(test_fast_loop_exhausts_then_refills),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
