/* ServerHello parser and the later-flight record prefix: real openssl
 * s_server answers (tests/data/server-hello/, expectations from
 * s_client -trace, see scripts/capture-server-hellos.sh), crafted messages
 * for every refusal, and the differential property (any segmentation and
 * record framing gives the same answer). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <dirent.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "inspect/rw_tls_server_hello.h"
#include "tests/unit/test_tls_build.h"

static struct rw_tls_sh_parser g_ref, g_alt;
static struct tb g_msg, g_ext, g_stream;

static size_t read_file(const char *path, uint8_t *buf, size_t cap)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		fail_msg("cannot open %s", path);
	size_t n = fread(buf, 1, cap, f);
	fclose(f);
	return n;
}

static void assert_same(const struct rw_tls_sh_parser *a, const struct rw_tls_sh_parser *b,
			const char *what)
{
	if (a->result != b->result || a->refuse != b->refuse)
		fail_msg("%s: %d/%s vs %d/%s", what, a->result, rw_tls_refuse_str(a->refuse),
			 b->result, rw_tls_refuse_str(b->refuse));
	assert_int_equal(a->consumed, b->consumed);
	assert_memory_equal(&a->sh, &b->sh, sizeof(a->sh));
}

/* Whole, byte by byte, every two-feed split: all agree (left in g_ref). */
static enum rw_inspect_result differential(const uint8_t *s, size_t n, const char *what)
{
	rw_tls_sh_init(&g_ref);
	enum rw_inspect_result r = rw_tls_sh_feed(&g_ref, s, n), r2 = RW_INSPECT_MORE;

	rw_tls_sh_init(&g_alt);
	for (size_t i = 0; i < n && r2 == RW_INSPECT_MORE; i++)
		r2 = rw_tls_sh_feed(&g_alt, s + i, 1);
	assert_int_equal(r2, r);
	assert_same(&g_ref, &g_alt, what);
	if (r != RW_INSPECT_MORE) /* sticky */
		assert_int_equal(rw_tls_sh_feed(&g_alt, (const uint8_t *)"\x15", 1), r);
	for (size_t cut = 0; cut <= n; cut++) {
		rw_tls_sh_init(&g_alt);
		r2 = rw_tls_sh_feed(&g_alt, s, cut);
		if (r2 == RW_INSPECT_MORE)
			r2 = rw_tls_sh_feed(&g_alt, s + cut, n - cut);
		if (r2 != r)
			fail_msg("%s: split at %zu gave %d, whole %d", what, cut, r2, r);
		assert_same(&g_ref, &g_alt, what);
	}
	return r;
}

/* ---- real captures ---- */

static unsigned expect_hex(const char *text, const char *key)
{
	char pat[64];
	snprintf(pat, sizeof(pat), "\n%s ", key);
	const char *p = strstr(text, pat);
	if (!p)
		fail_msg("no '%s' in .expect", key);
	return (unsigned)strtoul(p + strlen(pat), NULL, 16);
}

static unsigned expect_dec(const char *text, const char *key)
{
	char pat[64];
	snprintf(pat, sizeof(pat), "\n%s ", key);
	const char *p = strstr(text, pat);
	if (!p)
		fail_msg("no '%s' in .expect", key);
	return (unsigned)strtoul(p + strlen(pat), NULL, 10);
}

static void test_captured(void **state)
{
	static uint8_t bin[16384];
	static char text[2048], path[512];
	const char *dir = "tests/data/server-hello";
	DIR *d = opendir(dir);
	struct dirent *e;
	unsigned n_files = 0, n_hrr = 0;

	assert_non_null(d);
	while ((e = readdir(d))) {
		size_t l = strlen(e->d_name);
		if (l < 5 || strcmp(e->d_name + l - 4, ".bin"))
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
		size_t n = read_file(path, bin, sizeof(bin));
		snprintf(path, sizeof(path), "%s/%.*s.expect", dir, (int)(l - 4), e->d_name);
		size_t tl = read_file(path, (uint8_t *)text, sizeof(text) - 1);
		text[tl] = '\0';

		/* the flight as the data path sees it: a CCS may lead */
		size_t skip;
		enum rw_tls_refuse why;
		assert_int_equal(rw_tls_flight_prefix(bin, n, false, &skip, &why), RW_INSPECT_OK);
		assert_true(skip == 0 || skip == 6);
		assert_int_equal(differential(bin + skip, n - skip, e->d_name), RW_INSPECT_OK);
		const struct rw_tls_server_hello *sh = &g_ref.sh;
		assert_int_equal(sh->hrr, expect_dec(text, "hrr"));
		assert_int_equal(sh->legacy_version, expect_hex(text, "legacy_version"));
		assert_int_equal(sh->version, expect_hex(text, "version"));
		assert_int_equal(sh->cipher, expect_hex(text, "cipher"));
		assert_int_equal(sh->group, expect_hex(text, "group"));
		assert_int_equal(sh->n_extensions, expect_dec(text, "extensions"));
		assert_int_equal(sh->msg_len, expect_dec(text, "msg_len"));
		/* openssl sends the ServerHello alone in its record: parsing
		 * stops at the record's end, the CCS after it is not looked at */
		assert_int_equal(g_ref.consumed, 5 + sh->msg_len);
		/* the one-shot parser on the message agrees */
		struct rw_tls_server_hello one;
		assert_int_equal(rw_tls_sh_parse(bin + skip + 5, sh->msg_len, &one), RW_TLS_REFUSE_NONE);
		assert_memory_equal(&one, sh, sizeof(one));
		n_hrr += sh->hrr;
		n_files++;
	}
	closedir(d);
	assert_true(n_files >= 4);
	assert_true(n_hrr >= 1);
}

/* The magic is SHA-256("HelloRetryRequest"), RFC 8446 §4.1.3. */
static void test_hrr_magic(void **state)
{
	uint8_t md[32];
	unsigned int l = 32;
	assert_int_equal(EVP_Digest("HelloRetryRequest", 17, md, &l, EVP_sha256(), NULL), 1);
	assert_memory_equal(md, rw_tls_hrr_random, 32);
}

/* ---- crafted ---- */

/* A ServerHello message: random = HRR magic if hrr; exts as given
 * (NULL: no extensions block). */
static void build_sh(struct tb *m, unsigned legacy, bool hrr, size_t sid_len,
		     const struct tb *exts)
{
	struct tb *body = calloc(1, sizeof(*body));
	tb_u16(body, legacy);
	if (hrr)
		tb_mem(body, rw_tls_hrr_random, 32);
	else
		for (unsigned i = 0; i < 32; i++)
			tb_u8(body, i);
	tb_u8(body, (unsigned)sid_len);
	for (size_t i = 0; i < sid_len; i++)
		tb_u8(body, 0x40 + (unsigned)i);
	tb_u16(body, 0x1301);
	tb_u8(body, 0);
	if (exts) {
		tb_u16(body, (unsigned)exts->n);
		tb_mem(body, exts->b, exts->n);
	}
	tb_reset(m);
	tb_u8(m, 2);
	tb_u24(m, (unsigned)body->n);
	tb_mem(m, body->b, body->n);
	free(body);
}

static const uint8_t sv13[] = { 0x03, 0x04 };
static const uint8_t ks_sh[] = { 0x00, 0x1d, 0x00, 0x04, 1, 2, 3, 4 };
static const uint8_t ks_hrr[] = { 0x00, 0x17 };

static void exts_tls13(struct tb *e, bool hrr)
{
	tb_reset(e);
	tb_ext(e, 0x002b, sv13, 2);
	if (hrr)
		tb_ext(e, 0x0033, ks_hrr, 2);
	else
		tb_ext(e, 0x0033, ks_sh, sizeof(ks_sh));
}

static enum rw_inspect_result framed(const struct tb *m, size_t rec, const char *what)
{
	tb_frame(&g_stream, m->b, m->n, rec);
	return differential(g_stream.b, g_stream.n, what);
}

static void expect_refuse(const uint8_t *s, size_t n, enum rw_tls_refuse code, const char *what)
{
	if (differential(s, n, what) != RW_INSPECT_REFUSE || g_ref.refuse != code)
		fail_msg("%s: got %d/%s, want refuse %s", what, g_ref.result,
			 rw_tls_refuse_str(g_ref.refuse), rw_tls_refuse_str(code));
}

static void expect_refuse_msg(const struct tb *m, enum rw_tls_refuse code, const char *what)
{
	struct rw_tls_server_hello one;
	tb_frame(&g_stream, m->b, m->n, 16384);
	expect_refuse(g_stream.b, g_stream.n, code, what);
	if (m->n >= 4 && m->n <= RW_TLS_SH_MAX)
		assert_int_equal(rw_tls_sh_parse(m->b, m->n, &one), code);
}

static void test_crafted_ok(void **state)
{
	/* TLS 1.3 ServerHello, in one record and in 7-byte records (14, under
	 * the cap of 16) */
	exts_tls13(&g_ext, false);
	build_sh(&g_msg, 0x0303, false, 32, &g_ext);
	assert_int_equal(framed(&g_msg, 16384, "sh13"), RW_INSPECT_OK);
	assert_false(g_ref.sh.hrr);
	assert_int_equal(g_ref.sh.version, 0x0304);
	assert_int_equal(g_ref.sh.group, 0x001d);
	assert_int_equal(g_ref.sh.cipher, 0x1301);
	struct rw_tls_server_hello whole = g_ref.sh;
	assert_int_equal(g_msg.n, 94);
	assert_int_equal(framed(&g_msg, 7, "sh13 in 14 records"), RW_INSPECT_OK);
	assert_memory_equal(&g_ref.sh, &whole, sizeof(whole));

	/* HRR with a cookie */
	exts_tls13(&g_ext, true);
	static const uint8_t cookie[] = { 0x00, 0x05, 'c', 'o', 'o', 'k', 'y' };
	tb_ext(&g_ext, 0x002c, cookie, sizeof(cookie));
	build_sh(&g_msg, 0x0303, true, 32, &g_ext);
	assert_int_equal(framed(&g_msg, 16384, "hrr cookie"), RW_INSPECT_OK);
	assert_true(g_ref.sh.hrr);
	assert_int_equal(g_ref.sh.group, 0x0017);
	assert_int_equal(g_ref.sh.cookie_len, 5);

	/* TLS 1.2 without extensions, followed in its record by a
	 * Certificate header: parsing stops at the message's end */
	build_sh(&g_msg, 0x0303, false, 0, NULL);
	size_t msg_len = g_msg.n;
	tb_mem(&g_msg, "\x0b\x00\x00\x00", 4);
	assert_int_equal(framed(&g_msg, 16384, "tls12 + more"), RW_INSPECT_OK);
	assert_int_equal(g_ref.sh.version, 0x0303);
	assert_int_equal(g_ref.sh.msg_len, msg_len);
	assert_int_equal(g_ref.consumed, 5 + msg_len);
	assert_int_equal(g_ref.sh.n_extensions, 0);

	/* truncated: more */
	exts_tls13(&g_ext, false);
	build_sh(&g_msg, 0x0303, false, 32, &g_ext);
	tb_frame(&g_stream, g_msg.b, g_msg.n, 16384);
	assert_int_equal(differential(g_stream.b, g_stream.n - 1, "truncated"), RW_INSPECT_MORE);
}

static void test_crafted_refusals(void **state)
{
	expect_refuse((const uint8_t *)"HTTP/1.1 400 Bad", 16, RW_TLS_REFUSE_NOT_TLS, "http");
	expect_refuse((const uint8_t *)"\x16\x03\x09\x00\x10", 5, RW_TLS_REFUSE_NOT_TLS, "ver 3.9");
	expect_refuse((const uint8_t *)"\x15\x03\x03\x00\x02\x02\x28", 7, RW_TLS_REFUSE_ALERT,
		      "alert");
	expect_refuse((const uint8_t *)"\x14\x03\x03\x00\x01\x01", 6,
		      RW_TLS_REFUSE_INTERLEAVED_RECORD, "ccs not skipped by the caller");
	expect_refuse((const uint8_t *)"\x16\x03\x03\x40\x01", 5, RW_TLS_REFUSE_RECORD_TOO_LARGE,
		      "record 2^14+1");
	expect_refuse((const uint8_t *)"\x16\x03\x03\x00\x00", 5, RW_TLS_REFUSE_EMPTY_RECORD,
		      "empty record");
	expect_refuse((const uint8_t *)"\x16\x03\x03\x00\x04\x02\x00\x1f\xfd", 9,
		      RW_TLS_REFUSE_HELLO_TOO_LARGE, "length 8189");
	expect_refuse((const uint8_t *)"\x16\x03\x03\x00\x04\x0b\x00\x00\x10", 9,
		      RW_TLS_REFUSE_NOT_SERVER_HELLO, "certificate first");
	expect_refuse((const uint8_t *)"\x16\x03\x03\x00\x04\x02\x00\x00\x10", 9,
		      RW_TLS_REFUSE_MALFORMED, "length 16");

	exts_tls13(&g_ext, false);
	build_sh(&g_msg, 0x0303, false, 32, &g_ext);
	/* one-byte records: over RW_TLS_SH_MAX_RECORDS */
	tb_frame(&g_stream, g_msg.b, g_msg.n, 1);
	expect_refuse(g_stream.b, g_stream.n, RW_TLS_REFUSE_TOO_MANY_RECORDS, "1-byte records");
	/* a CCS between two fragments */
	struct tb *s2 = calloc(1, sizeof(*s2));
	tb_frame(s2, g_msg.b, 20, 16384);
	tb_mem(s2, "\x14\x03\x03\x00\x01\x01", 6);
	tb_frame(&g_stream, g_msg.b + 20, g_msg.n - 20, 16384);
	tb_mem(s2, g_stream.b, g_stream.n);
	expect_refuse(s2->b, s2->n, RW_TLS_REFUSE_INTERLEAVED_RECORD, "ccs inside");
	free(s2);

	build_sh(&g_msg, 0x0200, false, 0, NULL);
	expect_refuse_msg(&g_msg, RW_TLS_REFUSE_BAD_VERSION, "legacy 2.0");
	tb_reset(&g_ext);
	tb_ext(&g_ext, 0x002b, "\x02\x00", 2);
	build_sh(&g_msg, 0x0303, false, 0, &g_ext);
	expect_refuse_msg(&g_msg, RW_TLS_REFUSE_BAD_VERSION, "supported_versions 2.0");
	build_sh(&g_msg, 0x0303, false, 33, NULL);
	expect_refuse_msg(&g_msg, RW_TLS_REFUSE_MALFORMED, "session id 33");
	/* HRR without supported_versions */
	tb_reset(&g_ext);
	tb_ext(&g_ext, 0x0033, ks_hrr, 2);
	build_sh(&g_msg, 0x0303, true, 0, &g_ext);
	expect_refuse_msg(&g_msg, RW_TLS_REFUSE_MALFORMED, "hrr without versions");
	/* ServerHello key_share with an empty key; HRR key_share too long */
	exts_tls13(&g_ext, false);
	g_ext.n -= sizeof(ks_sh) + 4;
	tb_ext(&g_ext, 0x0033, "\x00\x1d\x00\x00", 4);
	build_sh(&g_msg, 0x0303, false, 0, &g_ext);
	expect_refuse_msg(&g_msg, RW_TLS_REFUSE_MALFORMED, "empty key");
	tb_reset(&g_ext);
	tb_ext(&g_ext, 0x002b, sv13, 2);
	tb_ext(&g_ext, 0x0033, ks_sh, sizeof(ks_sh));
	build_sh(&g_msg, 0x0303, true, 0, &g_ext);
	expect_refuse_msg(&g_msg, RW_TLS_REFUSE_MALFORMED, "hrr key_share with a key");
	/* empty cookie; extension block one byte short; a byte after it */
	exts_tls13(&g_ext, true);
	tb_ext(&g_ext, 0x002c, "\x00\x00", 2);
	build_sh(&g_msg, 0x0303, true, 0, &g_ext);
	expect_refuse_msg(&g_msg, RW_TLS_REFUSE_MALFORMED, "empty cookie");
	exts_tls13(&g_ext, true);
	build_sh(&g_msg, 0x0303, true, 0, &g_ext);
	g_msg.b[4 + 2 + 32 + 1 + 2 + 1 + 1]--; /* low byte of the extensions length */
	expect_refuse_msg(&g_msg, RW_TLS_REFUSE_MALFORMED, "ext block short");
	build_sh(&g_msg, 0x0303, true, 0, &g_ext);
	tb_u8(&g_msg, 0);
	g_msg.b[3]++;
	expect_refuse_msg(&g_msg, RW_TLS_REFUSE_MALFORMED, "byte after extensions");
	/* duplicate, too many */
	exts_tls13(&g_ext, false);
	tb_ext(&g_ext, 0x002b, sv13, 2);
	build_sh(&g_msg, 0x0303, false, 0, &g_ext);
	expect_refuse_msg(&g_msg, RW_TLS_REFUSE_DUPLICATE_EXTENSION, "duplicate");
	exts_tls13(&g_ext, false);
	for (unsigned i = 0; i < RW_TLS_SH_MAX_EXTENSIONS - 1; i++)
		tb_ext(&g_ext, 0x1000 + i, "", 0);
	build_sh(&g_msg, 0x0303, false, 0, &g_ext);
	expect_refuse_msg(&g_msg, RW_TLS_REFUSE_TOO_MANY_ITEMS, "65 extensions");
	/* and 64 pass */
	g_ext.n -= 4;
	build_sh(&g_msg, 0x0303, false, 0, &g_ext);
	assert_int_equal(framed(&g_msg, 16384, "64 extensions"), RW_INSPECT_OK);
	assert_int_equal(g_ref.sh.n_extensions, RW_TLS_SH_MAX_EXTENSIONS);
}

/* ---- the prefix of a later flight ---- */

static enum rw_inspect_result prefix(const char *hex_or_raw, size_t n, bool appdata, size_t *skip,
				     enum rw_tls_refuse *why)
{
	/* every prefix of the bytes answers MORE or the final answer's OK/REFUSE
	 * at the same point: check stateless monotony on the way */
	enum rw_inspect_result r = rw_tls_flight_prefix((const uint8_t *)hex_or_raw, n, appdata,
							skip, why);
	for (size_t i = 0; i < n; i++) {
		size_t s2;
		enum rw_tls_refuse w2;
		enum rw_inspect_result ri =
			rw_tls_flight_prefix((const uint8_t *)hex_or_raw, i, appdata, &s2, &w2);
		if (ri == RW_INSPECT_REFUSE)
			assert_int_equal(r, RW_INSPECT_REFUSE);
		if (ri == RW_INSPECT_OK)
			assert_int_equal(s2, *skip);
	}
	return r;
}

static void test_flight_prefix(void **state)
{
	size_t skip;
	enum rw_tls_refuse why;
	static const char ccs_hs[] = "\x14\x03\x03\x00\x01\x01\x16\x03\x01";
	assert_int_equal(prefix(ccs_hs, 9, false, &skip, &why), RW_INSPECT_OK);
	assert_int_equal(skip, 6);
	assert_int_equal(prefix("\x16", 1, false, &skip, &why), RW_INSPECT_OK);
	assert_int_equal(skip, 0);
	assert_int_equal(prefix(ccs_hs, 6, false, &skip, &why), RW_INSPECT_MORE);
	assert_int_equal(prefix(ccs_hs, 3, false, &skip, &why), RW_INSPECT_MORE);
	assert_int_equal(prefix("", 0, false, &skip, &why), RW_INSPECT_MORE);
	/* two CCS; a CCS of length 2; a CCS whose byte is not 1 */
	assert_int_equal(prefix("\x14\x03\x03\x00\x01\x01\x14\x03\x03\x00\x01\x01\x16", 13, false,
				&skip, &why), RW_INSPECT_REFUSE);
	assert_int_equal(why, RW_TLS_REFUSE_MALFORMED);
	assert_int_equal(prefix("\x14\x03\x03\x00\x02\x01\x01\x16", 8, false, &skip, &why),
			 RW_INSPECT_REFUSE);
	assert_int_equal(why, RW_TLS_REFUSE_MALFORMED);
	assert_int_equal(prefix("\x14\x03\x03\x00\x01\x02\x16", 7, false, &skip, &why),
			 RW_INSPECT_REFUSE);
	assert_int_equal(why, RW_TLS_REFUSE_MALFORMED);
	/* 0-RTT records: only when allowed */
	static const char ed[] = "\x14\x03\x03\x00\x01\x01\x17\x03\x03\x00\x03\xaa\xbb\xcc"
				 "\x17\x03\x03\x00\x01\xdd\x16";
	assert_int_equal(prefix(ed, 21, true, &skip, &why), RW_INSPECT_OK);
	assert_int_equal(skip, 20);
	assert_int_equal(prefix(ed, 21, false, &skip, &why), RW_INSPECT_REFUSE);
	assert_int_equal(why, RW_TLS_REFUSE_INTERLEAVED_RECORD);
	assert_int_equal(prefix("\x17\x03\x03\x00\x00", 5, true, &skip, &why), RW_INSPECT_REFUSE);
	assert_int_equal(why, RW_TLS_REFUSE_EMPTY_RECORD);
	assert_int_equal(prefix("\x17\x03\x03\x41\x01", 5, true, &skip, &why), RW_INSPECT_REFUSE);
	assert_int_equal(why, RW_TLS_REFUSE_RECORD_TOO_LARGE);
	/* alert, other bytes, bad versions */
	assert_int_equal(prefix("\x15\x03\x03\x00\x02\x02\x28", 7, false, &skip, &why),
			 RW_INSPECT_REFUSE);
	assert_int_equal(why, RW_TLS_REFUSE_ALERT);
	assert_int_equal(prefix("GET /", 5, true, &skip, &why), RW_INSPECT_REFUSE);
	assert_int_equal(why, RW_TLS_REFUSE_NOT_TLS);
	assert_int_equal(prefix("\x14\x02", 2, false, &skip, &why), RW_INSPECT_REFUSE);
	assert_int_equal(why, RW_TLS_REFUSE_NOT_TLS);
	/* many 0-RTT records: capped */
	static uint8_t many[6 * 70 + 1];
	for (size_t i = 0; i < 70; i++)
		memcpy(many + 6 * i, "\x17\x03\x03\x00\x01\x00", 6);
	many[6 * 70] = 0x16;
	assert_int_equal(rw_tls_flight_prefix(many, sizeof(many), true, &skip, &why),
			 RW_INSPECT_REFUSE);
	assert_int_equal(why, RW_TLS_REFUSE_TOO_MANY_RECORDS);
	assert_int_equal(rw_tls_flight_prefix(many + 6 * 10, sizeof(many) - 60, true, &skip, &why),
			 RW_INSPECT_OK);
	assert_int_equal(skip, 6 * 60);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_captured),
		cmocka_unit_test(test_hrr_magic),
		cmocka_unit_test(test_crafted_ok),
		cmocka_unit_test(test_crafted_refusals),
		cmocka_unit_test(test_flight_prefix),
	};
	return cmocka_run_group_tests_name("tls_server_hello", tests, NULL, NULL);
}
