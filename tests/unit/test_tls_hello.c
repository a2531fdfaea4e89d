/* ClientHello parser: real captured hellos against independently derived
 * expectations (tshark + a separate JA4 implementation, see
 * scripts/capture-hellos.sh), crafted hellos for every refusal code (as
 * files with their expectations from scripts/craft-hellos.py under
 * tests/data/hello-crafted/, and built in code below), and
 * the differential property: any segmentation of the stream and any
 * re-framing of the handshake message into records gives the same answer. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/rw_cursor.h"
#include "inspect/rw_tls_hello.h"
#include "tests/unit/test_tls_build.h"

/* Parsers are large (reassembly buffer inside): keep them off the stack. */
static struct rw_tls_hello_parser g_ref, g_alt;
static struct tb g_msg, g_ext, g_stream, g_reframed;

static const char *data_dir(void)
{
	const char *d = getenv("RW_TLS_HELLO_DIR");
	return d ? d : "tests/data/hello";
}

/* ---- comparing two parser outcomes ---- */

static void assert_same(const struct rw_tls_hello_parser *a, const struct rw_tls_hello_parser *b,
                        const char *what)
{
	if (a->result != b->result || a->refuse != b->refuse)
		fail_msg("%s: result %d/%s vs %d/%s", what, a->result, rw_tls_refuse_str(a->refuse),
		         b->result, rw_tls_refuse_str(b->refuse));
	if (a->result != RW_INSPECT_OK)
		return;
	const struct rw_tls_hello *x = &a->hello, *y = &b->hello;
	assert_string_equal(x->sni, y->sni);
	assert_int_equal(x->sni_len, y->sni_len);
	assert_int_equal(x->n_alpn, y->n_alpn);
	assert_int_equal(x->n_alpn_total, y->n_alpn_total);
	for (size_t i = 0; i < x->n_alpn; i++) {
		assert_int_equal(x->alpn_len[i], y->alpn_len[i]);
		assert_memory_equal(x->alpn[i], y->alpn[i], x->alpn_len[i]);
	}
	assert_int_equal(x->n_versions, y->n_versions);
	assert_memory_equal(x->versions, y->versions, x->n_versions * sizeof(uint16_t));
	assert_int_equal(x->version, y->version);
	assert_int_equal(x->legacy_version, y->legacy_version);
	assert_int_equal(x->ech, y->ech);
	assert_int_equal(x->esni, y->esni);
	assert_int_equal(x->n_ciphers, y->n_ciphers);
	assert_int_equal(x->n_extensions, y->n_extensions);
	assert_int_equal(x->hello_len, y->hello_len);
	assert_string_equal(x->ja4, y->ja4);
}

static enum rw_inspect_result feed_whole(struct rw_tls_hello_parser *p,
                                         const struct rw_tls_hello_limits *lim,
                                         const uint8_t *s, size_t n)
{
	assert_int_equal(rw_tls_hello_init(p, lim), 0);
	return rw_tls_hello_feed(p, s, n);
}

/* Feeds the stream whole, one byte at a time, and split in two at every
 * offset; all must agree. Also checks that answers are sticky. Leaves the
 * whole-feed outcome in g_ref. */
static void differential_segments(const struct rw_tls_hello_limits *lim, const uint8_t *s,
                                  size_t n, const char *what)
{
	enum rw_inspect_result r = feed_whole(&g_ref, lim, s, n), r2;

	/* one byte at a time */
	rw_tls_hello_init(&g_alt, lim);
	r2 = RW_INSPECT_MORE;
	for (size_t i = 0; i < n && r2 == RW_INSPECT_MORE; i++)
		r2 = rw_tls_hello_feed(&g_alt, s + i, 1);
	assert_int_equal(r2, r);
	assert_same(&g_ref, &g_alt, what);
	assert_int_equal(g_alt.consumed, g_ref.consumed);

	/* sticky: feeding more after a decision changes nothing */
	if (r != RW_INSPECT_MORE) {
		assert_int_equal(rw_tls_hello_feed(&g_alt, (const uint8_t *)"\x16\x03\x01", 3), r);
		assert_same(&g_ref, &g_alt, what);
	}

	/* every two-feed split */
	for (size_t cut = 0; cut <= n; cut++) {
		rw_tls_hello_init(&g_alt, lim);
		r2 = rw_tls_hello_feed(&g_alt, s, cut);
		if (r2 == RW_INSPECT_MORE)
			r2 = rw_tls_hello_feed(&g_alt, s + cut, n - cut);
		if (r2 != r)
			fail_msg("%s: split at %zu gave %d, whole gave %d", what, cut, r2, r);
		assert_same(&g_ref, &g_alt, what);
	}
}

/* Re-frames the handshake message into records of several payload sizes
 * (record count limit lifted so 1-byte records are allowed) and compares
 * with the reference outcome. */
static void differential_reframe(const uint8_t *msg, size_t len, const char *what)
{
	static const size_t sizes[] = { 1, 2, 7, 100, 16384 };
	struct rw_tls_hello_limits lim;
	static struct rw_tls_hello_parser ref;

	rw_tls_hello_limits_default(&lim);
	lim.max_records = RW_TLS_HELLO_MAX_RECORDS_CAP;
	tb_frame(&g_reframed, msg, len, 16384);
	feed_whole(&ref, &lim, g_reframed.b, g_reframed.n);
	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		tb_frame(&g_reframed, msg, len, sizes[i]);
		feed_whole(&g_alt, &lim, g_reframed.b, g_reframed.n);
		assert_same(&ref, &g_alt, what);
		if (ref.result == RW_INSPECT_OK)
			assert_int_equal(g_alt.n_records, (len + sizes[i] - 1) / sizes[i]);
		/* a 7-byte framing also goes through the byte-wise feeder */
		if (sizes[i] == 7)
			differential_segments(&lim, g_reframed.b, g_reframed.n, what);
	}
	memcpy(&g_ref, &ref, sizeof(ref));
}

/* Handshake message bytes of a captured stream (concatenated record
 * payloads), read with the project's bounded cursor. */
static size_t deframe(const uint8_t *s, size_t n, uint8_t *out, size_t cap)
{
	struct rw_cursor c, payload = { NULL, 0, 0 };
	size_t at = 0;
	uint8_t type = 0;
	uint16_t ver = 0;

	rw_cur_init(&c, s, n);
	while (rw_cur_left(&c)) {
		assert_int_equal(rw_cur_u8(&c, &type), 0);
		assert_int_equal(type, 0x16);
		assert_int_equal(rw_cur_u16(&c, &ver), 0);
		assert_int_equal(rw_cur_sub16(&c, &payload), 0);
		assert_true(at + rw_cur_left(&payload) <= cap);
		memcpy(out + at, rw_cur_ptr(&payload), rw_cur_left(&payload));
		at += rw_cur_left(&payload);
	}
	return at;
}

/* ---- the captured corpus ---- */

static size_t read_file(const char *path, uint8_t *buf, size_t cap)
{
	FILE *f = fopen(path, "rb");
	size_t n;

	if (!f)
		fail_msg("cannot open %s (run from the repository root or set RW_TLS_HELLO_DIR)", path);
	n = fread(buf, 1, cap, f);
	assert_true(feof(f));
	fclose(f);
	return n;
}

/* "key value" lines; '#' starts a comment. False when the key is absent. */
static bool expect_find(const char *text, const char *key, char *val, size_t cap)
{
	size_t kl = strlen(key);

	for (const char *l = text; l && *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL) {
		if (strncmp(l, key, kl) == 0 && l[kl] == ' ') {
			const char *v = l + kl + 1, *e = strchr(v, '\n');
			size_t n = e ? (size_t)(e - v) : strlen(v);
			assert_true(n < cap);
			memcpy(val, v, n);
			val[n] = '\0';
			return true;
		}
	}
	return false;
}

static void expect_get(const char *text, const char *key, char *val, size_t cap)
{
	if (!expect_find(text, key, val, cap))
		fail_msg("expect file has no '%s'", key);
}

static void check_expect(const struct rw_tls_hello *h, const char *text, const char *name)
{
	char want[512], got[512];
	size_t at = 0;

	expect_get(text, "sni", want, sizeof(want));
	assert_string_equal(h->sni_len ? h->sni : "-", want);

	got[0] = '\0';
	for (size_t i = 0; i < h->n_alpn; i++)
		at += (size_t)snprintf(got + at, sizeof(got) - at, "%s%s", i ? "," : "", h->alpn[i]);
	expect_get(text, "alpn", want, sizeof(want));
	assert_string_equal(h->n_alpn ? got : "-", want);

	at = 0;
	got[0] = '\0';
	for (size_t i = 0; i < h->n_versions; i++)
		at += (size_t)snprintf(got + at, sizeof(got) - at, "%s%04x", i ? "," : "", h->versions[i]);
	expect_get(text, "versions", want, sizeof(want));
	assert_string_equal(h->n_versions ? got : "-", want);

	snprintf(got, sizeof(got), "%04x", h->version);
	expect_get(text, "version", want, sizeof(want));
	assert_string_equal(got, want);

	expect_get(text, "ech", want, sizeof(want));
	assert_int_equal(h->ech, strcmp(want, "1") == 0);
	snprintf(got, sizeof(got), "%zu", h->n_ciphers);
	expect_get(text, "ciphers", want, sizeof(want));
	assert_string_equal(got, want);
	snprintf(got, sizeof(got), "%zu", h->n_extensions);
	expect_get(text, "extensions", want, sizeof(want));
	assert_string_equal(got, want);
	expect_get(text, "ja4", want, sizeof(want));
	if (strcmp(h->ja4, want))
		fail_msg("%s: ja4 %s, expected %s", name, h->ja4, want);
}

static void test_captured_corpus(void **state)
{
	static uint8_t bin[65536], msg[65536];
	static char text[4096], path[1024];
	const char *dir = data_dir();
	DIR *d = opendir(dir);
	struct dirent *e;
	unsigned n_files = 0, n_big = 0;

	(void)state;
	if (!d)
		fail_msg("no corpus directory %s", dir);
	while ((e = readdir(d))) {
		size_t l = strlen(e->d_name), n, mlen;
		if (l < 5 || strcmp(e->d_name + l - 4, ".bin"))
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
		n = read_file(path, bin, sizeof(bin));
		snprintf(path, sizeof(path), "%s/%.*s.expect", dir, (int)(l - 4), e->d_name);
		size_t tl = read_file(path, (uint8_t *)text, sizeof(text) - 1);
		text[tl] = '\0';

		differential_segments(NULL, bin, n, e->d_name);
		if (g_ref.result != RW_INSPECT_OK)
			fail_msg("%s: refused (%s)", e->d_name, rw_tls_refuse_str(g_ref.refuse));
		assert_int_equal(g_ref.consumed, n);
		check_expect(&g_ref.hello, text, e->d_name);

		mlen = deframe(bin, n, msg, sizeof(msg));
		differential_reframe(msg, mlen, e->d_name);
		assert_int_equal(g_ref.result, RW_INSPECT_OK);
		check_expect(&g_ref.hello, text, e->d_name);

		/* the one-shot entry point agrees with the stream parser */
		static struct rw_tls_hello h;
		assert_int_equal(rw_tls_hello_parse(msg, mlen, &h), RW_TLS_REFUSE_NONE);
		assert_string_equal(h.ja4, g_ref.hello.ja4);
		if (mlen > 1460)
			n_big++;
		n_files++;
	}
	closedir(d);
	/* the corpus is part of the test: a missing capture is a failure */
	assert_true(n_files >= 12);
	assert_true(n_big >= 1); /* the post-quantum hello that spans segments */
}

/* ---- the crafted corpus (scripts/craft-hellos.py) ---- */

static const char *crafted_dir(void)
{
	const char *d = getenv("RW_TLS_HELLO_CRAFTED_DIR");
	return d ? d : "tests/data/hello-crafted";
}

static void expect_num(const char *text, const char *key, size_t got, const char *name)
{
	char want[64];
	expect_get(text, key, want, sizeof(want));
	if (strtoull(want, NULL, 10) != got)
		fail_msg("%s: %s %zu, expected %s", name, key, got, want);
}

/* The fields beyond what the captures record. */
static void check_crafted_ok(const struct rw_tls_hello *h, const char *text, const char *name)
{
	char want[64];
	check_expect(h, text, name);
	expect_num(text, "alpn_total", h->n_alpn_total, name);
	expect_num(text, "esni", h->esni, name);
	expect_num(text, "hello_len", h->hello_len, name);
	expect_get(text, "check_sni", want, sizeof(want));
	assert_string_equal(rw_tls_hello_check_sni(h) == RW_TLS_REFUSE_NONE
				    ? "none"
				    : rw_tls_refuse_str(rw_tls_hello_check_sni(h)),
			    want);
}

static void crafted_one(const char *name, const uint8_t *bin, size_t n, const char *text,
			bool seen[RW_TLS_REFUSE_MAX_])
{
	static uint8_t msg[65536];
	static struct rw_tls_hello h;
	char result[32], want[64];
	size_t mlen;

	expect_get(text, "result", result, sizeof(result));
	differential_segments(NULL, bin, n, name);

	if (strcmp(result, "more") == 0) {
		if (g_ref.result != RW_INSPECT_MORE)
			fail_msg("%s: decided (%d/%s) on an incomplete hello", name, g_ref.result,
				 rw_tls_refuse_str(g_ref.refuse));
		return;
	}
	if (strcmp(result, "ok") == 0) {
		if (g_ref.result != RW_INSPECT_OK)
			fail_msg("%s: refused (%s)", name, rw_tls_refuse_str(g_ref.refuse));
		expect_num(text, "consumed", g_ref.consumed, name);
		check_crafted_ok(&g_ref.hello, text, name);
		seen[rw_tls_hello_check_sni(&g_ref.hello)] = true;
		/* the hello's own records only: bytes after them are not its */
		mlen = deframe(bin, g_ref.consumed, msg, sizeof(msg));
		differential_reframe(msg, mlen, name);
		assert_int_equal(g_ref.result, RW_INSPECT_OK);
		check_crafted_ok(&g_ref.hello, text, name);
		assert_int_equal(rw_tls_hello_parse(msg, mlen, &h), RW_TLS_REFUSE_NONE);
		assert_string_equal(h.ja4, g_ref.hello.ja4);
		return;
	}
	if (strcmp(result, "refuse") != 0)
		fail_msg("%s: result '%s': expected ok, refuse or more", name, result);
	expect_get(text, "refuse", want, sizeof(want));
	if (g_ref.result != RW_INSPECT_REFUSE || strcmp(rw_tls_refuse_str(g_ref.refuse), want))
		fail_msg("%s: got %d/%s, want refuse/%s", name, g_ref.result,
			 rw_tls_refuse_str(g_ref.refuse), want);
	assert_string_equal(g_ref.hello.ja4, "");
	enum rw_tls_refuse code = g_ref.refuse;
	seen[code] = true;
	expect_get(text, "reframe", want, sizeof(want));
	if (strcmp(want, "1") == 0) {
		/* about the message, not the records: any framing, and the
		 * one-shot parser, refuse it the same way */
		mlen = deframe(bin, n, msg, sizeof(msg));
		differential_reframe(msg, mlen, name);
		assert_int_equal(g_ref.result, RW_INSPECT_REFUSE);
		assert_int_equal(g_ref.refuse, code);
		assert_int_equal(rw_tls_hello_parse(msg, mlen, &h), code);
	}
}

static void test_crafted_corpus(void **state)
{
	static uint8_t bin[65536];
	static char text[4096], path[1024];
	bool seen[RW_TLS_REFUSE_MAX_] = { false };
	const char *dir = crafted_dir();
	DIR *d = opendir(dir);
	struct dirent *e;
	unsigned n_files = 0;

	(void)state;
	if (!d)
		fail_msg("no crafted corpus %s (scripts/craft-hellos.py writes it)", dir);
	while ((e = readdir(d))) {
		size_t l = strlen(e->d_name), n;
		if (l < 5 || strcmp(e->d_name + l - 4, ".bin"))
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
		n = read_file(path, bin, sizeof(bin));
		snprintf(path, sizeof(path), "%s/%.*s.expect", dir, (int)(l - 4), e->d_name);
		size_t tl = read_file(path, (uint8_t *)text, sizeof(text) - 1);
		text[tl] = '\0';
		crafted_one(e->d_name, bin, n, text, seen);
		n_files++;
	}
	closedir(d);
	/* every refusal code has its file (no_sni through check_sni on an OK
	 * hello), and valid hellos are among them */
	for (int i = 0; i <= RW_TLS_REFUSE_NO_SNI; i++) /* the later codes are ServerHello's */
		if (!seen[i])
			fail_msg("no crafted file gives %s", i ? rw_tls_refuse_str((enum rw_tls_refuse)i)
							       : "an OK hello with an SNI");
	assert_true(n_files >= 40);
}

/* ---- crafted hellos ---- */

static const uint16_t spec_ciphers[] = { 0x0a0a, 0x1301, 0x1302, 0x1303, 0xc02b, 0xc02f,
	0xc02c, 0xc030, 0xcca9, 0xcca8, 0xc013, 0xc014, 0x009c, 0x009d, 0x002f, 0x0035 };
static const uint16_t spec_sigalgs[] = { 0x0403, 0x0804, 0x0401, 0x0503, 0x0805, 0x0501,
	0x0806, 0x0601 };

/* The JA4 spec's worked example as a real hello: the same ciphers,
 * extensions and signature algorithms, plus GREASE that must not count. */
static void build_spec_exts(struct tb *e, const char *sni)
{
	static const uint16_t vers[] = { 0x7a7a, 0x0304, 0x0303 };
	static const uint16_t groups[] = { 0x2a2a, 0x001d, 0x0017 };
	static const uint8_t empty[1];
	static const uint8_t ks[] = { 0x00, 0x06, 0x00, 0x1d, 0x00, 0x02, 0xaa, 0xbb };

	tb_reset(e);
	tb_ext(e, 0x1a1a, empty, 0);
	tb_ext(e, 0x001b, "\x02\x00\x02", 3);
	if (sni)
		tb_ext_sni(e, sni);
	tb_ext(e, 0x0033, ks, sizeof(ks));
	tb_ext_alpn(e, "h2", "http/1.1", NULL);
	tb_ext(e, 0x4469, "\x00\x03\x02h2", 6);
	tb_ext(e, 0x0017, empty, 0);
	tb_ext(e, 0x002d, "\x01\x01", 2);
	tb_ext_u16list(e, 0x000d, spec_sigalgs, 8);
	tb_ext(e, 0x0005, "\x01\x00\x00\x00\x00", 5);
	tb_ext(e, 0x0023, empty, 0);
	tb_ext(e, 0x0012, empty, 0);
	tb_ext_versions(e, vers, 3);
	tb_ext(e, 0xff01, "\x00", 1);
	tb_ext(e, 0x000b, "\x01\x00", 2);
	tb_ext_u16list(e, 0x000a, groups, 3);
	tb_ext(e, 0x0015, "\x00\x00\x00", 3);
	tb_ext(e, 0x5a5a, "\x00", 1);
}

static void spec_hello(struct tb *m, const char *sni)
{
	build_spec_exts(&g_ext, sni);
	tb_hello(m, 0x0303, spec_ciphers, 16, &g_ext);
}

static void test_ja4_spec_example_end_to_end(void **state)
{
	(void)state;
	spec_hello(&g_msg, "Registry.Example.TEST");
	differential_reframe(g_msg.b, g_msg.n, "spec");
	assert_int_equal(g_ref.result, RW_INSPECT_OK);
	assert_string_equal(g_ref.hello.ja4, "t13d1516h2_8daaf6152771_e5627efa2ab1");
	assert_string_equal(g_ref.hello.sni, "registry.example.test");
	assert_int_equal(g_ref.hello.n_alpn, 2);
	assert_string_equal(g_ref.hello.alpn[0], "h2");
	assert_string_equal(g_ref.hello.alpn[1], "http/1.1");
	assert_int_equal(g_ref.hello.n_versions, 2); /* GREASE 0x7a7a dropped */
	assert_int_equal(g_ref.hello.versions[0], 0x0304);
	assert_int_equal(g_ref.hello.version, 0x0304);
	assert_int_equal(g_ref.hello.n_ciphers, 15);
	assert_int_equal(g_ref.hello.n_extensions, 16);
	assert_false(g_ref.hello.ech);
	assert_int_equal(rw_tls_hello_check_sni(&g_ref.hello), RW_TLS_REFUSE_NONE);

	size_t rl;
	const uint8_t *raw = rw_tls_hello_raw(&g_ref, &rl);
	assert_non_null(raw);
	assert_int_equal(rl, g_msg.n);
	assert_memory_equal(raw, g_msg.b, rl);
}

static void test_no_sni_is_callers_choice(void **state)
{
	(void)state;
	spec_hello(&g_msg, NULL);
	tb_frame(&g_stream, g_msg.b, g_msg.n, 16384);
	differential_segments(NULL, g_stream.b, g_stream.n, "nosni");
	assert_int_equal(g_ref.result, RW_INSPECT_OK);
	assert_int_equal(g_ref.hello.sni_len, 0);
	assert_string_equal(g_ref.hello.sni, "");
	/* 'i' and one extension fewer; the hashes do not change */
	assert_string_equal(g_ref.hello.ja4, "t13i1515h2_8daaf6152771_e5627efa2ab1");
	assert_int_equal(rw_tls_hello_check_sni(&g_ref.hello), RW_TLS_REFUSE_NO_SNI);
	assert_string_equal(rw_tls_refuse_str(RW_TLS_REFUSE_NO_SNI), "no_sni");
}

/* A hello refused for its server name keeps the name as sent (bounded)
 * for the caller's log, on the in-place and the byte-wise path alike. */
static void check_refused_name(const uint8_t *name, size_t len, enum rw_tls_refuse want)
{
	static const uint16_t c[] = { 0x1301 };
	static const uint16_t v[] = { 0x0304 };
	tb_reset(&g_ext);
	tb_ext_sni_n(&g_ext, (const char *)name, len);
	tb_ext_versions(&g_ext, v, 1);
	tb_hello(&g_msg, 0x0303, c, 1, &g_ext);
	tb_frame(&g_stream, g_msg.b, g_msg.n, 16384);
	differential_segments(NULL, g_stream.b, g_stream.n, "refused name");
	const struct rw_tls_hello_parser *ps[2] = { &g_ref, &g_alt };
	for (int i = 0; i < 2; i++) {
		if (want == RW_TLS_REFUSE_NONE) {
			assert_int_equal(ps[i]->result, RW_INSPECT_OK);
			assert_int_equal(ps[i]->refused_name_len, 0);
			continue;
		}
		assert_int_equal(ps[i]->result, RW_INSPECT_REFUSE);
		assert_int_equal(ps[i]->refuse, want);
		assert_int_equal(ps[i]->refused_name_len, len);
		size_t kept = len < RW_TLS_SNI_MAX + 1 ? len : RW_TLS_SNI_MAX + 1;
		assert_memory_equal(ps[i]->refused_name, name, kept);
	}
}

static void test_refused_name_kept(void **state)
{
	static uint8_t longname[1200];
	(void)state;
	check_refused_name((const uint8_t *)"registry.example.test", 21, RW_TLS_REFUSE_NONE);
	check_refused_name((const uint8_t *)"bad\x01name.test", 13, RW_TLS_REFUSE_BAD_NAME);
	check_refused_name((const uint8_t *)"caf\xc3\xa9.test", 10, RW_TLS_REFUSE_BAD_NAME);
	check_refused_name((const uint8_t *)"x.test.", 7, RW_TLS_REFUSE_BAD_NAME);
	memset(longname, 'a', sizeof(longname));
	check_refused_name(longname, 254, RW_TLS_REFUSE_BAD_NAME);
	check_refused_name(longname, 1200, RW_TLS_REFUSE_BAD_NAME);
	/* a refusal for anything else leaves it empty (bad ALPN after a bad
	 * name is decided first: ALPN is decoded before the name) */
	tb_reset(&g_ext);
	tb_ext_sni_n(&g_ext, "bad\x01", 4);
	tb_ext(&g_ext, 0x0010, "\x00\x01\x00", 3); /* empty ALPN id */
	tb_hello(&g_msg, 0x0303, (const uint16_t[]){ 0x1301 }, 1, &g_ext);
	tb_frame(&g_stream, g_msg.b, g_msg.n, 16384);
	differential_segments(NULL, g_stream.b, g_stream.n, "alpn first");
	assert_int_equal(g_ref.result, RW_INSPECT_REFUSE);
	assert_true(g_ref.refuse != RW_TLS_REFUSE_BAD_NAME);
	assert_int_equal(g_ref.refused_name_len, 0);
	/* two entries: the first is kept */
	tb_reset(&g_ext);
	tb_u16(&g_ext, 0x0000);
	tb_u16(&g_ext, 2 + 3 + 5 + 3 + 5);
	tb_u16(&g_ext, 3 + 5 + 3 + 5);
	tb_u8(&g_ext, 0), tb_u16(&g_ext, 5), tb_mem(&g_ext, "a.tst", 5);
	tb_u8(&g_ext, 0), tb_u16(&g_ext, 5), tb_mem(&g_ext, "b.tst", 5);
	tb_hello(&g_msg, 0x0303, (const uint16_t[]){ 0x1301 }, 1, &g_ext);
	tb_frame(&g_stream, g_msg.b, g_msg.n, 16384);
	differential_segments(NULL, g_stream.b, g_stream.n, "two names");
	assert_int_equal(g_ref.refuse, RW_TLS_REFUSE_MULTIPLE_NAMES);
	assert_int_equal(g_ref.refused_name_len, 5);
	assert_memory_equal(g_ref.refused_name, "a.tst", 5);
}

static void test_ech_esni_grease_alpn(void **state)
{
	static const uint16_t c[] = { 0x1301 };
	static const uint16_t v[] = { 0x0304 };
	(void)state;
	tb_reset(&g_ext);
	tb_ext_sni(&g_ext, "public.example.test");
	tb_ext(&g_ext, 0xfe0d, "\x00\x00\x01\x00\x01\x07\x00\x00\x00\x00", 10);
	tb_ext(&g_ext, 0xffce, "\x00", 1);
	/* GREASE ALPN id first, then nine real ids: more than we store */
	tb_ext_alpn(&g_ext, "\x3a\x3a", "a", "b", "c", "d", "e", "f", "g", "h", "i", NULL);
	tb_ext_versions(&g_ext, v, 1);
	tb_hello(&g_msg, 0x0303, c, 1, &g_ext);
	differential_reframe(g_msg.b, g_msg.n, "ech");
	assert_int_equal(g_ref.result, RW_INSPECT_OK);
	assert_true(g_ref.hello.ech);
	assert_true(g_ref.hello.esni);
	assert_int_equal(g_ref.hello.n_alpn, RW_TLS_ALPN_MAX);
	assert_int_equal(g_ref.hello.n_alpn_total, 9);
	assert_string_equal(g_ref.hello.alpn[0], "a");
	/* JA4 takes the first id as sent (the GREASE one): not alphanumeric,
	 * so the first and last hex digit of 3a3a */
	assert_memory_equal(g_ref.hello.ja4, "t13d01053a", 10);
}

static void test_legacy_hello_without_extensions(void **state)
{
	static const uint16_t c[] = { 0x002f, 0x0035 };
	(void)state;
	tb_hello(&g_msg, 0x0301, c, 2, NULL);
	differential_reframe(g_msg.b, g_msg.n, "legacy");
	assert_int_equal(g_ref.result, RW_INSPECT_OK);
	assert_int_equal(g_ref.hello.version, 0x0301);
	assert_false(g_ref.hello.has_supported_versions);
	assert_int_equal(g_ref.hello.n_extensions, 0);
	assert_memory_equal(g_ref.hello.ja4, "t10i020000_", 11);
	assert_string_equal(g_ref.hello.ja4 + 24, "000000000000");
}

/* A crafted stream and the refusal it must get; reframe says whether the
 * refusal is about the handshake message (so any record framing of it must
 * give the same) or about the record layer. */
struct refusal_case {
	const char *name;
	enum rw_tls_refuse want;
	bool reframe;
};

static void expect_refusal(const uint8_t *s, size_t n, const struct refusal_case *c)
{
	differential_segments(NULL, s, n, c->name);
	if (g_ref.result != RW_INSPECT_REFUSE || g_ref.refuse != c->want)
		fail_msg("%s: got %d/%s, want refuse/%s", c->name, g_ref.result,
		         rw_tls_refuse_str(g_ref.refuse), rw_tls_refuse_str(c->want));
	assert_string_equal(g_ref.hello.ja4, "");
}

static void refuse_msg(const struct refusal_case *c)
{
	tb_frame(&g_stream, g_msg.b, g_msg.n, 16384);
	expect_refusal(g_stream.b, g_stream.n, c);
	if (c->reframe) {
		differential_reframe(g_msg.b, g_msg.n, c->name);
		assert_int_equal(g_ref.refuse, c->want);
	}
}

static void test_refuse_record_layer(void **state)
{
	static const uint8_t http[] = "GET /v2/ HTTP/1.1\r\nHost: x\r\n\r\n";
	static const uint8_t v2[] = { 0x80, 0x2e, 0x01, 0x03, 0x01, 0x00, 0x15, 0x00, 0x00 };
	static const uint8_t badmajor[] = { 0x16, 0x02, 0x00, 0x00, 0x10 };
	static const uint8_t badminor[] = { 0x16, 0x03, 0x09, 0x00, 0x10 };
	static const uint8_t hibit[] = { 0x80, 0x2e, 0x02, 0x03 };
	static const uint8_t big[] = { 0x16, 0x03, 0x01, 0x40, 0x01, 0x01 };
	static const uint8_t empty[] = { 0x16, 0x03, 0x01, 0x00, 0x00 };
	static const uint8_t sh[] = { 0x16, 0x03, 0x03, 0x00, 0x04, 0x02, 0x00, 0x00, 0x26 };
	static const uint8_t huge[] = { 0x16, 0x03, 0x01, 0x00, 0x04, 0x01, 0x00, 0x40, 0x01 };
	static const uint8_t tiny[] = { 0x16, 0x03, 0x01, 0x00, 0x04, 0x01, 0x00, 0x00, 0x10 };
	(void)state;

	expect_refusal(http, sizeof(http) - 1, &(struct refusal_case){ "http", RW_TLS_REFUSE_NOT_TLS, false });
	expect_refusal(v2, sizeof(v2), &(struct refusal_case){ "sslv2", RW_TLS_REFUSE_SSLV2_HELLO, false });
	expect_refusal(hibit, sizeof(hibit), &(struct refusal_case){ "hibit", RW_TLS_REFUSE_NOT_TLS, false });
	expect_refusal(badmajor, sizeof(badmajor), &(struct refusal_case){ "major", RW_TLS_REFUSE_NOT_TLS, false });
	expect_refusal(badminor, sizeof(badminor), &(struct refusal_case){ "minor", RW_TLS_REFUSE_NOT_TLS, false });
	expect_refusal(big, sizeof(big), &(struct refusal_case){ "big", RW_TLS_REFUSE_RECORD_TOO_LARGE, false });
	expect_refusal(empty, sizeof(empty), &(struct refusal_case){ "empty", RW_TLS_REFUSE_EMPTY_RECORD, false });
	expect_refusal(sh, sizeof(sh), &(struct refusal_case){ "serverhello", RW_TLS_REFUSE_NOT_CLIENT_HELLO, false });
	expect_refusal(huge, sizeof(huge), &(struct refusal_case){ "huge", RW_TLS_REFUSE_HELLO_TOO_LARGE, false });
	expect_refusal(tiny, sizeof(tiny), &(struct refusal_case){ "tiny", RW_TLS_REFUSE_MALFORMED, false });

	/* an empty input and a lone header byte are not decisions yet */
	assert_int_equal(feed_whole(&g_ref, NULL, NULL, 0), RW_INSPECT_MORE);
	assert_int_equal(rw_tls_hello_feed(&g_ref, (const uint8_t *)"\x16\x03\x01\x00", 4), RW_INSPECT_MORE);
	assert_int_equal(feed_whole(&g_ref, NULL, hibit, 2), RW_INSPECT_MORE);
}

static void test_refuse_interleaved_trailing_records(void **state)
{
	static const uint8_t alert[] = { 0x15, 0x03, 0x03, 0x00, 0x02, 0x01, 0x00 };
	struct rw_tls_hello_limits lim;
	(void)state;

	spec_hello(&g_msg, "registry.example.test");
	/* first 40 bytes as one record, an alert, then the rest */
	tb_frame(&g_stream, g_msg.b, 40, 40);
	tb_mem(&g_stream, alert, sizeof(alert));
	tb_u8(&g_stream, 0x16);
	tb_u16(&g_stream, 0x0301);
	tb_u16(&g_stream, (unsigned)(g_msg.n - 40));
	tb_mem(&g_stream, g_msg.b + 40, g_msg.n - 40);
	expect_refusal(g_stream.b, g_stream.n,
	               &(struct refusal_case){ "interleaved", RW_TLS_REFUSE_INTERLEAVED_RECORD, false });

	/* a second handshake byte in the record that completes the hello */
	tb_reset(&g_stream);
	tb_u8(&g_stream, 0x16);
	tb_u16(&g_stream, 0x0303);
	tb_u16(&g_stream, (unsigned)(g_msg.n + 1));
	tb_mem(&g_stream, g_msg.b, g_msg.n);
	tb_u8(&g_stream, 0x0b);
	expect_refusal(g_stream.b, g_stream.n,
	               &(struct refusal_case){ "trailing", RW_TLS_REFUSE_TRAILING_DATA, false });

	/* bytes after the hello's last record are not ours: OK, and consumed
	 * stops at the record end */
	tb_frame(&g_stream, g_msg.b, g_msg.n, 16384);
	size_t end = g_stream.n;
	tb_mem(&g_stream, alert, sizeof(alert));
	differential_segments(NULL, g_stream.b, g_stream.n, "after");
	assert_int_equal(g_ref.result, RW_INSPECT_OK);
	assert_int_equal(g_ref.consumed, end);

	/* too many records: 1-byte records under the default limit of 64 */
	tb_frame(&g_stream, g_msg.b, g_msg.n, 1);
	expect_refusal(g_stream.b, g_stream.n,
	               &(struct refusal_case){ "records", RW_TLS_REFUSE_TOO_MANY_RECORDS, false });
	assert_int_equal(g_ref.n_records, 65);
	/* exactly at the limit is fine */
	rw_tls_hello_limits_default(&lim);
	lim.max_records = (uint32_t)g_msg.n;
	assert_int_equal(feed_whole(&g_ref, &lim, g_stream.b, g_stream.n), RW_INSPECT_OK);
	lim.max_records = (uint32_t)g_msg.n - 1;
	assert_int_equal(feed_whole(&g_ref, &lim, g_stream.b, g_stream.n), RW_INSPECT_REFUSE);
	assert_int_equal(g_ref.refuse, RW_TLS_REFUSE_TOO_MANY_RECORDS);

	/* hello size limit: exactly at it passes, one byte under refuses */
	rw_tls_hello_limits_default(&lim);
	lim.max_hello = (uint32_t)g_msg.n;
	tb_frame(&g_stream, g_msg.b, g_msg.n, 16384);
	assert_int_equal(feed_whole(&g_ref, &lim, g_stream.b, g_stream.n), RW_INSPECT_OK);
	lim.max_hello = (uint32_t)g_msg.n - 1;
	assert_int_equal(feed_whole(&g_ref, &lim, g_stream.b, g_stream.n), RW_INSPECT_REFUSE);
	assert_int_equal(g_ref.refuse, RW_TLS_REFUSE_HELLO_TOO_LARGE);

	/* out-of-range limits are reported, and the defaults stay in force */
	lim.max_hello = RW_TLS_HELLO_BUF + 1;
	assert_int_equal(rw_tls_hello_init(&g_ref, &lim), RW_ERANGE);
	assert_int_equal(g_ref.lim.max_hello, RW_TLS_HELLO_BUF);
	rw_tls_hello_limits_default(&lim);
	lim.max_records = 0;
	assert_int_equal(rw_tls_hello_init(&g_ref, &lim), RW_ERANGE);
	assert_int_equal(g_ref.lim.max_records, RW_TLS_HELLO_DEFAULT_MAX_RECORDS);
}

/* Replace the byte at 'off' of the message (tests of single-field faults). */
static void test_refuse_hello_fields(void **state)
{
	static const uint16_t c1[] = { 0x1301 };
	static const uint16_t only_grease[] = { 0x0a0a, 0x1a1a };
	static uint16_t many[RW_TLS_MAX_CIPHERS + 1];
	(void)state;

	/* legacy_version 2.0 */
	tb_hello(&g_msg, 0x0200, c1, 1, NULL);
	refuse_msg(&(struct refusal_case){ "v2.0", RW_TLS_REFUSE_BAD_VERSION, true });

	/* supported_versions with nothing but GREASE */
	tb_reset(&g_ext);
	tb_ext_versions(&g_ext, only_grease, 2);
	tb_hello(&g_msg, 0x0303, c1, 1, &g_ext);
	refuse_msg(&(struct refusal_case){ "grease-versions", RW_TLS_REFUSE_BAD_VERSION, true });

	/* odd cipher_suites length */
	tb_hello(&g_msg, 0x0303, c1, 1, NULL);
	g_msg.b[4 + 2 + 32 + 1 + 32 + 1] = 3; /* u16 len 0x0003 */
	refuse_msg(&(struct refusal_case){ "odd-ciphers", RW_TLS_REFUSE_MALFORMED, true });

	/* compression methods without null */
	tb_hello(&g_msg, 0x0303, c1, 1, NULL);
	g_msg.b[g_msg.n - 1] = 1;
	refuse_msg(&(struct refusal_case){ "no-null-comp", RW_TLS_REFUSE_MALFORMED, true });

	/* session id over 32 bytes: say 33 and keep the total length right */
	tb_hello(&g_msg, 0x0303, c1, 1, NULL);
	g_msg.b[4 + 2 + 32] = 33;
	refuse_msg(&(struct refusal_case){ "sid33", RW_TLS_REFUSE_MALFORMED, true });

	/* extensions block length one short */
	spec_hello(&g_msg, "registry.example.test");
	{
		size_t at = 4 + 2 + 32 + 1 + 32 + 2 + 32 + 2;
		g_msg.b[at + 1] = (uint8_t)(g_msg.b[at + 1] - 1);
	}
	refuse_msg(&(struct refusal_case){ "ext-len", RW_TLS_REFUSE_MALFORMED, true });

	/* handshake length larger than the bytes in the message: the stream
	 * parser waits (MORE) for bytes that the one-shot parser refuses */
	spec_hello(&g_msg, "registry.example.test");
	static struct rw_tls_hello h;
	assert_int_equal(rw_tls_hello_parse(g_msg.b, g_msg.n - 1, &h), RW_TLS_REFUSE_MALFORMED);
	assert_int_equal(rw_tls_hello_parse(g_msg.b, 0, &h), RW_TLS_REFUSE_MALFORMED);

	/* duplicate extension */
	build_spec_exts(&g_ext, "registry.example.test");
	tb_ext(&g_ext, 0x0017, "", 0);
	tb_hello(&g_msg, 0x0303, spec_ciphers, 16, &g_ext);
	refuse_msg(&(struct refusal_case){ "dup", RW_TLS_REFUSE_DUPLICATE_EXTENSION, true });

	/* two server_name extensions are duplicates too */
	build_spec_exts(&g_ext, "registry.example.test");
	tb_ext_sni(&g_ext, "other.example.test");
	tb_hello(&g_msg, 0x0303, spec_ciphers, 16, &g_ext);
	refuse_msg(&(struct refusal_case){ "dup-sni", RW_TLS_REFUSE_DUPLICATE_EXTENSION, true });

	/* pre_shared_key not last */
	build_spec_exts(&g_ext, "registry.example.test");
	tb_ext(&g_ext, 0x0029, "\x00\x00", 2);
	tb_ext(&g_ext, 0x0016, "", 0);
	tb_hello(&g_msg, 0x0303, spec_ciphers, 16, &g_ext);
	refuse_msg(&(struct refusal_case){ "psk", RW_TLS_REFUSE_MALFORMED, true });
	/* ... and last is accepted */
	build_spec_exts(&g_ext, "registry.example.test");
	tb_ext(&g_ext, 0x0029, "\x00\x00", 2);
	tb_hello(&g_msg, 0x0303, spec_ciphers, 16, &g_ext);
	assert_int_equal(rw_tls_hello_parse(g_msg.b, g_msg.n, &h), RW_TLS_REFUSE_NONE);

	/* too many cipher suites */
	for (size_t i = 0; i <= RW_TLS_MAX_CIPHERS; i++)
		many[i] = (uint16_t)(0x1000 + i);
	tb_hello(&g_msg, 0x0303, many, RW_TLS_MAX_CIPHERS + 1, NULL);
	refuse_msg(&(struct refusal_case){ "ciphers", RW_TLS_REFUSE_TOO_MANY_ITEMS, true });
	tb_hello(&g_msg, 0x0303, many, RW_TLS_MAX_CIPHERS, NULL);
	assert_int_equal(rw_tls_hello_parse(g_msg.b, g_msg.n, &h), RW_TLS_REFUSE_NONE);
	assert_memory_equal(h.ja4, "t12i990000_", 11); /* count capped at 99 */

	/* empty ALPN id */
	tb_reset(&g_ext);
	tb_ext(&g_ext, 0x0010, "\x00\x04\x02h2\x00", 6);
	tb_hello(&g_msg, 0x0303, c1, 1, &g_ext);
	refuse_msg(&(struct refusal_case){ "alpn-empty-id", RW_TLS_REFUSE_MALFORMED, true });

	/* ALPN list length disagreeing with the extension length */
	tb_reset(&g_ext);
	tb_ext(&g_ext, 0x0010, "\x00\x02\x02h2", 5);
	tb_hello(&g_msg, 0x0303, c1, 1, &g_ext);
	refuse_msg(&(struct refusal_case){ "alpn-len", RW_TLS_REFUSE_MALFORMED, true });
}

static void sni_case(const void *name, size_t len, enum rw_tls_refuse want, const char *what)
{
	static const uint16_t c1[] = { 0x1301 };
	tb_reset(&g_ext);
	tb_ext_sni_n(&g_ext, name, len);
	tb_hello(&g_msg, 0x0303, c1, 1, &g_ext);
	if (want == RW_TLS_REFUSE_NONE) {
		tb_frame(&g_stream, g_msg.b, g_msg.n, 16384);
		differential_segments(NULL, g_stream.b, g_stream.n, what);
		assert_int_equal(g_ref.result, RW_INSPECT_OK);
		assert_int_equal(g_ref.hello.sni_len, len);
		return;
	}
	refuse_msg(&(struct refusal_case){ what, want, true });
}

static void test_refuse_names(void **state)
{
	static const uint16_t c1[] = { 0x1301 };
	char label64[80];
	(void)state;

	sni_case("registry.example.test.", 22, RW_TLS_REFUSE_BAD_NAME, "trailing-dot");
	sni_case("reg\0istry.example.test", 22, RW_TLS_REFUSE_BAD_NAME, "nul");
	sni_case("192.0.2.10", 10, RW_TLS_REFUSE_BAD_NAME, "ipv4");
	sni_case("2001:db8::1", 11, RW_TLS_REFUSE_BAD_NAME, "ipv6");
	sni_case("reg_istry.example.test", 22, RW_TLS_REFUSE_BAD_NAME, "underscore");
	sni_case("a..b", 4, RW_TLS_REFUSE_BAD_NAME, "empty-label");
	sni_case("-a.example", 10, RW_TLS_REFUSE_BAD_NAME, "leading-hyphen");
	sni_case("a-.example", 10, RW_TLS_REFUSE_BAD_NAME, "trailing-hyphen");
	sni_case("", 0, RW_TLS_REFUSE_BAD_NAME, "empty-name");
	memset(label64, 'a', 64);
	memcpy(label64 + 64, ".test", 5);
	sni_case(label64, 69, RW_TLS_REFUSE_BAD_NAME, "label64");
	sni_case(label64 + 1, 68, RW_TLS_REFUSE_NONE, "label63");

	/* name_type other than host_name */
	tb_reset(&g_ext);
	tb_ext(&g_ext, 0x0000, "\x00\x06\x01\x00\x03" "abc", 8);
	tb_hello(&g_msg, 0x0303, c1, 1, &g_ext);
	refuse_msg(&(struct refusal_case){ "name-type", RW_TLS_REFUSE_BAD_NAME, true });

	/* two host_name entries in one extension */
	tb_reset(&g_ext);
	tb_ext(&g_ext, 0x0000, "\x00\x0a\x00\x00\x03" "abc" "\x00\x00\x01" "d", 12);
	tb_hello(&g_msg, 0x0303, c1, 1, &g_ext);
	refuse_msg(&(struct refusal_case){ "two-names", RW_TLS_REFUSE_MULTIPLE_NAMES, true });

	/* empty server_name list, and a list length that does not add up */
	tb_reset(&g_ext);
	tb_ext(&g_ext, 0x0000, "\x00\x00", 2);
	tb_hello(&g_msg, 0x0303, c1, 1, &g_ext);
	refuse_msg(&(struct refusal_case){ "sni-empty-list", RW_TLS_REFUSE_MALFORMED, true });
	tb_reset(&g_ext);
	tb_ext(&g_ext, 0x0000, "\x00\x07\x00\x00\x03" "abc", 8);
	tb_hello(&g_msg, 0x0303, c1, 1, &g_ext);
	refuse_msg(&(struct refusal_case){ "sni-list-len", RW_TLS_REFUSE_MALFORMED, true });

	/* upper case is folded; that hello is fine */
	tb_reset(&g_ext);
	tb_ext_sni(&g_ext, "REGISTRY.Example.Test");
	tb_hello(&g_msg, 0x0303, c1, 1, &g_ext);
	tb_frame(&g_stream, g_msg.b, g_msg.n, 16384);
	assert_int_equal(feed_whole(&g_ref, NULL, g_stream.b, g_stream.n), RW_INSPECT_OK);
	assert_string_equal(g_ref.hello.sni, "registry.example.test");
	assert_int_equal(g_ref.hello.sni_len, 21);
}

static void test_refuse_str_distinct(void **state)
{
	(void)state;
	for (int i = 0; i < RW_TLS_REFUSE_MAX_; i++) {
		const char *a = rw_tls_refuse_str((enum rw_tls_refuse)i);
		assert_string_not_equal(a, "unknown");
		for (int j = 0; j < i; j++)
			assert_string_not_equal(a, rw_tls_refuse_str((enum rw_tls_refuse)j));
	}
	assert_string_equal(rw_tls_refuse_str(RW_TLS_REFUSE_MAX_), "unknown");
	assert_string_equal(rw_tls_refuse_str(RW_TLS_REFUSE_INTERLEAVED_RECORD), "interleaved_record");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_captured_corpus),
		cmocka_unit_test(test_crafted_corpus),
		cmocka_unit_test(test_ja4_spec_example_end_to_end),
		cmocka_unit_test(test_no_sni_is_callers_choice),
		cmocka_unit_test(test_refused_name_kept),
		cmocka_unit_test(test_ech_esni_grease_alpn),
		cmocka_unit_test(test_legacy_hello_without_extensions),
		cmocka_unit_test(test_refuse_record_layer),
		cmocka_unit_test(test_refuse_interleaved_trailing_records),
		cmocka_unit_test(test_refuse_hello_fields),
		cmocka_unit_test(test_refuse_names),
		cmocka_unit_test(test_refuse_str_distinct),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
