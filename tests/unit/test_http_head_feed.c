/* rw_http_head_feed: the incremental front of the head parser. Same
 * verdicts as rw_http_parse_head on the real captures fed in every piece
 * size, refusals never lost (same code and offset, at the latest at the
 * next LF), and a head trickled in a byte at a time costs a bounded number
 * of full parses instead of one per byte. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "inspect/rw_http.h"

static struct rw_http_req g_req, g_ref;

/* Feed buf[0..n) in pieces of 'step'; return the first non-MORE verdict
 * and the length at which it came (n + 1 if none). */
static enum rw_inspect_result feed_steps(const uint8_t *buf, size_t n, size_t step,
					 size_t *at, unsigned *parses)
{
	struct rw_http_head_feed s;
	rw_http_head_feed_init(&s);
	enum rw_inspect_result r = RW_INSPECT_MORE;
	size_t len = 0;
	*at = n + 1;
	while (len < n) {
		len = len + step < n ? len + step : n;
		r = rw_http_head_feed(&s, buf, len, &g_req);
		if (r != RW_INSPECT_MORE) {
			*at = len;
			break;
		}
	}
	*parses = s.parses;
	return r;
}

static void test_real_streams_all_steps(void **state)
{
	(void)state;
	DIR *d = opendir("tests/data/http");
	assert_non_null(d);
	struct dirent *e;
	static uint8_t buf[65536];
	size_t files = 0;
	while ((e = readdir(d))) {
		size_t l = strlen(e->d_name);
		if (l < 5 || strcmp(e->d_name + l - 4, ".bin"))
			continue;
		char path[512];
		snprintf(path, sizeof(path), "tests/data/http/%s", e->d_name);
		FILE *f = fopen(path, "rb");
		assert_non_null(f);
		size_t n = fread(buf, 1, sizeof(buf), f);
		fclose(f);
		files++;
		enum rw_inspect_result want = rw_http_parse_head(buf, n, &g_ref);
		static const size_t steps[] = { 1, 2, 3, 7, 64, 1460, 65536 };
		for (size_t k = 0; k < sizeof(steps) / sizeof(steps[0]); k++) {
			size_t at;
			unsigned parses;
			enum rw_inspect_result r = feed_steps(buf, n, steps[k], &at, &parses);
			if (r != want)
				fail_msg("%s step %zu: %d, whole %d", e->d_name, steps[k], r, want);
			if (r == RW_INSPECT_OK) {
				/* complete exactly when the final LF is in */
				assert_int_equal(g_req.head_len, g_ref.head_len);
				assert_true(at >= g_ref.head_len && at < g_ref.head_len + steps[k]);
				assert_true(g_req.target.len == g_ref.target.len &&
					    g_req.n_fields == g_ref.n_fields);
			} else if (r == RW_INSPECT_REFUSE) {
				assert_int_equal(g_req.refuse, g_ref.refuse);
				assert_int_equal(g_req.refuse_at, g_ref.refuse_at);
			}
			/* a byte at a time: at most one full parse per line plus
			 * the doublings, never one per byte */
			if (steps[k] == 1 && r == RW_INSPECT_OK)
				assert_true(parses <= g_ref.n_fields + 2 + 16);
		}
	}
	closedir(d);
	assert_true(files > 10);
}

/* 30 KB of one field value, a byte at a time: a handful of full parses,
 * and the OK arrives with the final LF. */
static void test_trickle_is_cheap(void **state)
{
	(void)state;
	static uint8_t buf[40000];
	size_t n = 0;
	const char *pre = "GET /v2/ HTTP/1.1\r\nHost: h\r\nX-Big: ";
	memcpy(buf, pre, strlen(pre));
	n = strlen(pre);
	while (n < 30000)
		buf[n++] = 'v';
	memcpy(buf + n, "\r\n\r\n", 4);
	n += 4;
	size_t at;
	unsigned parses;
	assert_int_equal(feed_steps(buf, n, 1, &at, &parses), RW_INSPECT_OK);
	assert_int_equal(at, n);
	/* 3 lines + log2(30000) doublings + the line limit crossing */
	assert_true(parses < 3 + 16 + 2);
	assert_true(parses >= 3);
}

/* A refusal in the middle of a line is reported by the next LF at the
 * latest, with the full parser's code and offset. */
static void test_refusal_not_lost(void **state)
{
	(void)state;
	static const char *const heads[] = {
		"GET /v2/ HTTP/1.1\r\nHost: h\r\nX-A: a\x01" "bcdefghijklmnop\r\n\r\n",
		"GET /v2/ HTTP/1.1\r\nHost: h\r\nX A: abc\r\n\r\n",
		"GET /v2/ HTTP/1.1\r\nHost: h\r\nUpgrade: x\r\n\r\n",
		"GET /v2/ HTTP/1.1\r\nHost: h\r\nbare\nX: y\r\n\r\n",
		"GET /v2/#frag HTTP/1.1\r\nHost: h\r\n\r\n",
	};
	for (size_t i = 0; i < sizeof(heads) / sizeof(heads[0]); i++) {
		const uint8_t *b = (const uint8_t *)heads[i];
		size_t n = strlen(heads[i]);
		assert_int_equal(rw_http_parse_head(b, n, &g_ref), RW_INSPECT_REFUSE);
		size_t at;
		unsigned parses;
		assert_int_equal(feed_steps(b, n, 1, &at, &parses), RW_INSPECT_REFUSE);
		assert_int_equal(g_req.refuse, g_ref.refuse);
		assert_int_equal(g_req.refuse_at, g_ref.refuse_at);
		/* by the first LF after the offending byte */
		const uint8_t *lf = memchr(b + g_ref.refuse_at, '\n', n - g_ref.refuse_at);
		assert_non_null(lf);
		assert_true(at <= (size_t)(lf - b) + 1);
	}
	/* garbage in the first read is refused on that read */
	size_t at;
	unsigned parses;
	assert_int_equal(feed_steps((const uint8_t *)"G\x01T / HTTP/1.1", 14, 14, &at, &parses),
			 RW_INSPECT_REFUSE);
	assert_int_equal(at, 14);
}

/* Started over (shorter buffer): parses again from scratch. */
static void test_restart(void **state)
{
	(void)state;
	struct rw_http_head_feed s;
	const uint8_t *a = (const uint8_t *)"GET /v2/ HTTP/1.1\r\nHost: h\r\n\r\n";
	rw_http_head_feed_init(&s);
	assert_int_equal(rw_http_head_feed(&s, a, 20, &g_req), RW_INSPECT_MORE);
	assert_int_equal(rw_http_head_feed(&s, a, 5, &g_req), RW_INSPECT_MORE);
	assert_int_equal(s.parses, 2);
	assert_int_equal(rw_http_head_feed(&s, a, strlen((const char *)a), &g_req), RW_INSPECT_OK);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_real_streams_all_steps),
		cmocka_unit_test(test_trickle_is_cheap),
		cmocka_unit_test(test_refusal_not_lost),
		cmocka_unit_test(test_restart),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
