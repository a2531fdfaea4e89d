/* JA4 on demand and the in-place fast path of the ClientHello parser, on
 * the real captured hellos: a deferred parser gives the same decision
 * fields and, when asked, the same JA4 as the eager one; the raw message
 * is the caller's bytes when parsed in place and the parser's copy when
 * reassembled; neither the parse nor the JA4 touches the heap (counted by
 * interposing malloc and friends, as the bench does). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/rw_err.h"
#include "inspect/rw_tls_hello.h"

/* ASan brings its own malloc; interposing glibc's under it would hand
 * ASan pointers it never allocated. The count runs in the plain build. */
#if defined(__SANITIZE_ADDRESS__)
#define RW_TEST_COUNT_ALLOCS 0
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define RW_TEST_COUNT_ALLOCS 0
#endif
#endif
#ifndef RW_TEST_COUNT_ALLOCS
#define RW_TEST_COUNT_ALLOCS 1
#endif

static volatile int g_counting;
static volatile unsigned long g_allocs;

#if RW_TEST_COUNT_ALLOCS
extern void *__libc_malloc(size_t n);
extern void *__libc_calloc(size_t n, size_t m);
extern void *__libc_realloc(void *p, size_t n);

void *malloc(size_t n)
{
	if (g_counting)
		g_allocs++;
	return __libc_malloc(n);
}

void *calloc(size_t n, size_t m)
{
	if (g_counting)
		g_allocs++;
	return __libc_calloc(n, m);
}

void *realloc(void *p, size_t n)
{
	if (g_counting)
		g_allocs++;
	return __libc_realloc(p, n);
}
#endif

struct blob {
	uint8_t b[8192];
	size_t n;
	char name[256];
};

static struct blob g_hellos[32];
static size_t g_n;
static struct rw_tls_hello_parser g_eager, g_lazy, g_bytes;

static int setup(void **state)
{
	(void)state;
	DIR *d = opendir("tests/data/hello");
	if (!d)
		return -1;
	struct dirent *e;
	while ((e = readdir(d)) && g_n < sizeof(g_hellos) / sizeof(g_hellos[0])) {
		size_t l = strlen(e->d_name);
		if (l < 5 || strcmp(e->d_name + l - 4, ".bin"))
			continue;
		char path[512];
		snprintf(path, sizeof(path), "tests/data/hello/%s", e->d_name);
		FILE *f = fopen(path, "rb");
		if (!f)
			continue;
		g_hellos[g_n].n = fread(g_hellos[g_n].b, 1, sizeof(g_hellos[0].b), f);
		snprintf(g_hellos[g_n].name, sizeof(g_hellos[0].name), "%s", e->d_name);
		fclose(f);
		g_n++;
	}
	closedir(d);
	return g_n ? 0 : -1;
}

static void test_deferred_same_answers(void **state)
{
	(void)state;
	size_t ok = 0;
	for (size_t i = 0; i < g_n; i++) {
		const struct blob *h = &g_hellos[i];
		rw_tls_hello_init(&g_eager, NULL);
		rw_tls_hello_init(&g_lazy, NULL);
		rw_tls_hello_defer_ja4(&g_lazy);
		enum rw_inspect_result r = rw_tls_hello_feed(&g_eager, h->b, h->n);
		assert_int_equal(rw_tls_hello_feed(&g_lazy, h->b, h->n), r);
		assert_int_equal(g_lazy.refuse, g_eager.refuse);
		assert_int_equal(g_lazy.consumed, g_eager.consumed);
		if (r != RW_INSPECT_OK)
			continue;
		ok++;
		assert_string_equal(g_lazy.hello.sni, g_eager.hello.sni);
		assert_int_equal(g_lazy.hello.version, g_eager.hello.version);
		assert_int_equal(g_lazy.hello.n_alpn, g_eager.hello.n_alpn);
		assert_int_equal(g_lazy.hello.ech, g_eager.hello.ech);
		assert_int_equal(strlen(g_eager.hello.ja4), RW_TLS_JA4_LEN);
		/* deferred: not computed by the feed, computed on request */
		assert_string_equal(g_lazy.hello.ja4, "");
		char ja4[RW_TLS_JA4_LEN + 1], ja4b[RW_TLS_JA4_LEN + 1];
		assert_int_equal(rw_tls_hello_ja4(&g_lazy, ja4), 0);
		assert_string_equal(ja4, g_eager.hello.ja4);
		/* eager parser: the API copies what the feed computed */
		assert_int_equal(rw_tls_hello_ja4(&g_eager, ja4b), 0);
		assert_string_equal(ja4b, g_eager.hello.ja4);

		/* reassembled a byte at a time (no in-place path): same JA4 */
		rw_tls_hello_init(&g_bytes, NULL);
		rw_tls_hello_defer_ja4(&g_bytes);
		r = RW_INSPECT_MORE;
		for (size_t k = 0; k < h->n && r == RW_INSPECT_MORE; k++)
			r = rw_tls_hello_feed(&g_bytes, h->b + k, 1);
		assert_int_equal(r, RW_INSPECT_OK);
		assert_int_equal(rw_tls_hello_ja4(&g_bytes, ja4b), 0);
		assert_string_equal(ja4b, ja4);
	}
	assert_true(ok >= 10);
}

static void test_ja4_before_ok(void **state)
{
	(void)state;
	char ja4[RW_TLS_JA4_LEN + 1] = "x";
	rw_tls_hello_init(&g_lazy, NULL);
	rw_tls_hello_defer_ja4(&g_lazy);
	assert_int_equal(rw_tls_hello_ja4(&g_lazy, ja4), RW_EINVAL);
	assert_string_equal(ja4, "");
	/* half a hello */
	assert_int_equal(rw_tls_hello_feed(&g_lazy, g_hellos[0].b, g_hellos[0].n / 2),
			 RW_INSPECT_MORE);
	assert_int_equal(rw_tls_hello_ja4(&g_lazy, ja4), RW_EINVAL);
	/* refused */
	rw_tls_hello_init(&g_lazy, NULL);
	assert_int_equal(rw_tls_hello_feed(&g_lazy, (const uint8_t *)"GET / HTTP/1.1\r\n", 16),
			 RW_INSPECT_REFUSE);
	assert_int_equal(rw_tls_hello_ja4(&g_lazy, ja4), RW_EINVAL);
}

/* Whole record in one feed: parsed in place, raw is the caller's bytes.
 * Split feeds: reassembled, raw is the parser's copy. Same content. */
static void test_raw_in_place_or_copy(void **state)
{
	(void)state;
	size_t in_place = 0;
	for (size_t i = 0; i < g_n; i++) {
		const struct blob *h = &g_hellos[i];
		rw_tls_hello_init(&g_lazy, NULL);
		if (rw_tls_hello_feed(&g_lazy, h->b, h->n) != RW_INSPECT_OK)
			continue;
		size_t len, len2;
		const uint8_t *raw = rw_tls_hello_raw(&g_lazy, &len);
		assert_non_null(raw);
		assert_int_equal(len, g_lazy.hello.hello_len);
		size_t rec_len = ((size_t)h->b[3] << 8) | h->b[4];
		if (rec_len == len) {
			/* one record holding exactly the hello */
			assert_ptr_equal(raw, h->b + 5);
			in_place++;
		}
		rw_tls_hello_init(&g_bytes, NULL);
		assert_int_equal(rw_tls_hello_feed(&g_bytes, h->b, 3), RW_INSPECT_MORE);
		assert_int_equal(rw_tls_hello_feed(&g_bytes, h->b + 3, h->n - 3), RW_INSPECT_OK);
		const uint8_t *raw2 = rw_tls_hello_raw(&g_bytes, &len2);
		assert_ptr_equal(raw2, g_bytes.hs);
		assert_int_equal(len2, len);
		assert_memory_equal(raw2, raw, len);
	}
	/* the captures are single-record hellos: the fast path is the norm */
	assert_true(in_place >= 10);
}

static void test_no_heap(void **state)
{
	(void)state;
	char ja4[RW_TLS_JA4_LEN + 1];
	if (!RW_TEST_COUNT_ALLOCS)
		skip();
	/* warm-up: OpenSSL may set itself up on first use */
	rw_tls_hello_init(&g_lazy, NULL);
	rw_tls_hello_feed(&g_lazy, g_hellos[0].b, g_hellos[0].n);
	rw_tls_hello_ja4(&g_lazy, ja4);

	unsigned long parse_allocs, ja4_allocs;
	size_t ok = 0;
	g_allocs = 0;
	g_counting = 1;
	for (size_t i = 0; i < g_n; i++) {
		rw_tls_hello_init(&g_lazy, NULL);
		rw_tls_hello_defer_ja4(&g_lazy);
		rw_tls_hello_feed(&g_lazy, g_hellos[i].b, g_hellos[i].n);
	}
	parse_allocs = g_allocs;
	for (size_t i = 0; i < g_n; i++) {
		rw_tls_hello_init(&g_eager, NULL);
		ok += rw_tls_hello_feed(&g_eager, g_hellos[i].b, g_hellos[i].n) == RW_INSPECT_OK;
		rw_tls_hello_ja4(&g_eager, ja4);
	}
	g_counting = 0;
	ja4_allocs = g_allocs - parse_allocs;
	assert_true(ok >= 10);
	assert_int_equal(parse_allocs, 0);
	assert_int_equal(ja4_allocs, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_deferred_same_answers),
		cmocka_unit_test(test_ja4_before_ok),
		cmocka_unit_test(test_raw_in_place_or_copy),
		cmocka_unit_test(test_no_heap),
	};
	return cmocka_run_group_tests(tests, setup, NULL);
}
