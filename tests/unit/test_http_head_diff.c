/* The request head parser against its previous, byte-at-a-time version
 * (tests/unit/ref_http_head_v1.inc, the file as it was before the scanning
 * loops and the length-dispatched field names went in): same verdict, same
 * refusal, same offset, same extracted request, on the real captures, on
 * every prefix of them, on every single-byte mutation of them with the
 * bytes that matter to HTTP framing, and on generated heads around the
 * length limits. The character table is checked against the definitions
 * it replaced, byte by byte. */
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

/* the previous parser, renamed ref_http_parse_head */
enum rw_inspect_result ref_http_parse_head(const uint8_t *buf, size_t len,
					   struct rw_http_req *req);
#include "tests/unit/ref_http_head_v1.inc"

static struct rw_http_req g_new, g_old;
static unsigned long g_compared;

static void same_span(struct rw_http_span a, struct rw_http_span b, const char *what)
{
	if (a.ptr != b.ptr || a.len != b.len)
		fail_msg("%s differs", what);
}

/* Parse buf with both and demand the same outcome. */
static enum rw_inspect_result compare(const uint8_t *buf, size_t len)
{
	enum rw_inspect_result rn = rw_http_parse_head(buf, len, &g_new);
	enum rw_inspect_result ro = ref_http_parse_head(buf, len, &g_old);
	g_compared++;
	if (rn != ro)
		fail_msg("verdict %d, previous parser %d (len %zu, refuse %s / %s)", rn, ro, len,
			 rw_http_refuse_str(g_new.refuse), rw_http_refuse_str(g_old.refuse));
	if (rn == RW_INSPECT_REFUSE) {
		if (g_new.refuse != g_old.refuse || g_new.refuse_at != g_old.refuse_at ||
		    g_new.status != g_old.status)
			fail_msg("refusal %s at %zu (%d), previous %s at %zu (%d)",
				 rw_http_refuse_str(g_new.refuse), g_new.refuse_at, g_new.status,
				 rw_http_refuse_str(g_old.refuse), g_old.refuse_at, g_old.status);
	}
	if (rn != RW_INSPECT_OK)
		return rn;
	assert_int_equal(g_new.method, g_old.method);
	same_span(g_new.method_tok, g_old.method_tok, "method");
	same_span(g_new.target, g_old.target, "target");
	assert_int_equal(g_new.version_minor, g_old.version_minor);
	same_span(g_new.host, g_old.host, "host");
	assert_int_equal(g_new.framing, g_old.framing);
	assert_int_equal(g_new.content_length, g_old.content_length);
	assert_int_equal(g_new.keep_alive, g_old.keep_alive);
	assert_int_equal(g_new.expect_continue, g_old.expect_continue);
	assert_int_equal(g_new.n_fields, g_old.n_fields);
	for (size_t i = 0; i < g_new.n_fields; i++) {
		same_span(g_new.fields[i].name, g_old.fields[i].name, "field name");
		same_span(g_new.fields[i].value, g_old.fields[i].value, "field value");
	}
	assert_int_equal(g_new.head_len, g_old.head_len);
	return rn;
}

struct blob {
	uint8_t *b;
	size_t n;
};

static struct blob g_files[128];
static size_t g_nfiles;

static int setup(void **state)
{
	(void)state;
	DIR *d = opendir("tests/data/http");
	if (!d)
		return -1;
	struct dirent *e;
	while ((e = readdir(d)) && g_nfiles < sizeof(g_files) / sizeof(g_files[0])) {
		size_t l = strlen(e->d_name);
		if (l < 5 || strcmp(e->d_name + l - 4, ".bin"))
			continue;
		char path[512];
		snprintf(path, sizeof(path), "tests/data/http/%s", e->d_name);
		FILE *f = fopen(path, "rb");
		if (!f)
			continue;
		struct blob *b = &g_files[g_nfiles];
		b->b = malloc(65536);
		b->n = b->b ? fread(b->b, 1, 65536, f) : 0;
		fclose(f);
		if (b->n)
			g_nfiles++;
		else
			free(b->b);
	}
	closedir(d);
	return g_nfiles ? 0 : -1;
}

static int teardown(void **state)
{
	(void)state;
	for (size_t i = 0; i < g_nfiles; i++)
		free(g_files[i].b);
	return 0;
}

static void test_ctype_table(void **state)
{
	(void)state;
	for (unsigned c = 0; c < 256; c++) {
		bool alnum = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
		bool tchar = alnum || (c != 0 && strchr("!#$%&'*+-.^_`|~", (int)c));
		bool field = c == '\t' || (c >= 0x20 && c != 0x7f);
		assert_int_equal(rw_http_is_tchar((uint8_t)c), tchar);
		assert_int_equal(rw_http_is_field_char((uint8_t)c), field);
		/* the previous parser's own target and hex classes */
		assert_int_equal(!!(rw_http_ctype[c] & RW_HTTP_C_TARGET),
				 (alnum || (c != 0 && strchr("-._~!$&'()*+,;=:@/?", (int)c))));
		assert_int_equal(!!(rw_http_ctype[c] & RW_HTTP_C_HEX),
				 (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') ||
					 (c >= 'A' && c <= 'F'));
	}
}

/* Every real stream, and every prefix of its first head (plus a little). */
static void test_real_and_prefixes(void **state)
{
	(void)state;
	size_t ok = 0;
	for (size_t i = 0; i < g_nfiles; i++) {
		struct blob *b = &g_files[i];
		ok += compare(b->b, b->n) == RW_INSPECT_OK;
		size_t upto = b->n < 2048 ? b->n : 2048;
		for (size_t n = 0; n <= upto; n++)
			compare(b->b, n);
	}
	/* all but the TLS-first capture are HTTP */
	assert_true(ok + 1 >= g_nfiles);
}

/* Every single-byte substitution, deletion and duplication in each head,
 * with the bytes HTTP framing cares about. */
static void test_mutations(void **state)
{
	(void)state;
	static const uint8_t bytes[] = { 0x00, '\t', '\n', '\r', ' ', ':', '%', 0x7f, 0x80, 0xff,
					 'A', 'z', '/', '?', '#', ',', '"', '0', 'f', 'G' };
	static uint8_t buf[70000];
	size_t refused = 0;
	for (size_t i = 0; i < g_nfiles; i++) {
		struct blob *b = &g_files[i];
		size_t n = b->n < 1024 ? b->n : 1024;
		for (size_t at = 0; at < n; at++) {
			memcpy(buf, b->b, n);
			for (size_t k = 0; k < sizeof(bytes); k++) {
				buf[at] = bytes[k];
				refused += compare(buf, n) == RW_INSPECT_REFUSE;
			}
			/* deletion */
			memcpy(buf, b->b, at);
			memcpy(buf + at, b->b + at + 1, n - at - 1);
			compare(buf, n - 1);
			/* duplication */
			memcpy(buf, b->b, at + 1);
			memcpy(buf + at + 1, b->b + at, n - at);
			compare(buf, n + 1);
		}
	}
	/* the mutations must reach the refusal paths, not only MORE/OK */
	assert_true(refused > 1000);
}

static size_t put(uint8_t *buf, size_t at, const char *s)
{
	size_t l = strlen(s);
	memcpy(buf + at, s, l);
	return at + l;
}

/* Request lines and field blocks at, just under and just over the limits,
 * and too many fields, so scan()'s stop at the limit is exercised. */
static void test_limits(void **state)
{
	(void)state;
	static uint8_t buf[RW_HTTP_MAX_LINE + RW_HTTP_MAX_FIELDS + 4096];
	static const int deltas[] = { -3, -2, -1, 0, 1, 2 };
	for (size_t d = 0; d < sizeof(deltas) / sizeof(deltas[0]); d++) {
		/* request line whose length is MAX_LINE + delta */
		size_t at = put(buf, 0, "GET /");
		size_t want = (size_t)((int)RW_HTTP_MAX_LINE + deltas[d]) - strlen(" HTTP/1.1\r\n");
		while (at < want)
			buf[at++] = 'a';
		at = put(buf, at, " HTTP/1.1\r\nHost: h\r\n\r\n");
		for (size_t n = RW_HTTP_MAX_LINE - 20; n <= at; n++)
			compare(buf, n);
		/* field block of MAX_FIELDS + delta in one long value */
		at = put(buf, 0, "GET / HTTP/1.1\r\nHost: h\r\nX-Long: ");
		size_t line = at - strlen("Host: h\r\nX-Long: ") - 0;
		size_t target_end = line + (size_t)((int)RW_HTTP_MAX_FIELDS + deltas[d]) - 4;
		while (at < target_end)
			buf[at++] = 'v';
		at = put(buf, at, "\r\n\r\n");
		compare(buf, at);
		for (size_t n = at - 8; n <= at; n++)
			compare(buf, n);
		/* the same limit hit inside a field name */
		at = put(buf, 0, "GET / HTTP/1.1\r\nHost: h\r\nX");
		while (at < target_end)
			buf[at++] = 'n';
		at = put(buf, at, ": v\r\n\r\n");
		compare(buf, at);
	}
	/* header counts around RW_HTTP_MAX_HEADERS */
	for (int extra = -1; extra <= 1; extra++) {
		size_t at = put(buf, 0, "GET / HTTP/1.1\r\nHost: h\r\n");
		for (int i = 0; i < RW_HTTP_MAX_HEADERS - 1 + extra; i++)
			at = put(buf, at, "X-A: b\r\n");
		at = put(buf, at, "\r\n");
		compare(buf, at);
	}
}

/* Generated heads: random field names in the interesting lengths (the
 * new dispatch is on name length), random case, random values. */
static void test_generated(void **state)
{
	(void)state;
	static const char *const names[] = {
		"Host", "host", "HOST", "Content-Length", "content-length", "Transfer-Encoding",
		"Connection", "Expect", "Upgrade", "X-HTTP-Method-Override", "X-HTTP-Method",
		"X-Method-Override", "Hosts", "Hos", "Content-Lengths", "Transfer-Encodinh",
		"X-Method-Overridf", "Accept", "User-Agent", "Authorization",
	};
	static const char *const values[] = {
		"h", "registry.example.test:5000", "0", "12", "chunked", "gzip, chunked", "close",
		"keep-alive, Upgrade", "100-continue", "websocket", "PUT", " x ", "", "1 2",
		"[::1]:5000", "a\tb", "18446744073709551616",
	};
	static const char *const lines[] = {
		"GET /v2/ HTTP/1.1\r\n", "PUT /v2/a/manifests/v1 HTTP/1.0\r\n",
		"PATCH /v2/a/blobs/uploads/x?_state=abc%2F HTTP/1.1\r\n", "POST /%zz HTTP/1.1\r\n",
	};
	static uint8_t buf[8192];
	uint32_t x = 2463534242u;
	for (int iter = 0; iter < 20000; iter++) {
		x ^= x << 13;
		x ^= x >> 17;
		x ^= x << 5;
		size_t at = put(buf, 0, lines[x % 4]);
		unsigned nf = 1 + (x >> 8) % 5;
		for (unsigned f = 0; f < nf; f++) {
			x ^= x << 13;
			x ^= x >> 17;
			x ^= x << 5;
			at = put(buf, at, names[x % (sizeof(names) / sizeof(names[0]))]);
			at = put(buf, at, ":");
			at = put(buf, at, values[(x >> 8) % (sizeof(values) / sizeof(values[0]))]);
			at = put(buf, at, "\r\n");
		}
		at = put(buf, at, "\r\n");
		compare(buf, at);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ctype_table),
		cmocka_unit_test(test_real_and_prefixes),
		cmocka_unit_test(test_mutations),
		cmocka_unit_test(test_limits),
		cmocka_unit_test(test_generated),
	};
	int rc = cmocka_run_group_tests(tests, setup, teardown);
	printf("compared %lu parses\n", g_compared);
	return rc;
}
