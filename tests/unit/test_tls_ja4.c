/* JA4 pieces and the SNI name check, against the FoxIO spec's worked
 * example (values re-checked with sha256sum, see the reference note). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <string.h>

#include "base/rw_err.h"
#include "inspect/rw_tls_grease.h"
#include "inspect/rw_tls_ja4.h"
#include "inspect/rw_tls_name.h"

static void test_hash12_spec_vectors(void **state)
{
	static const char ciphers[] =
		"002f,0035,009c,009d,1301,1302,1303,c013,c014,c02b,c02c,c02f,c030,cca8,cca9";
	static const char exts[] =
		"0005,000a,000b,000d,0012,0015,0017,001b,0023,002b,002d,0033,4469,ff01_"
		"0403,0804,0401,0503,0805,0501,0806,0601";
	char out[13];
	(void)state;

	assert_int_equal(rw_tls_ja4_hash12(ciphers, strlen(ciphers), out), 0);
	assert_string_equal(out, "8daaf6152771");
	assert_int_equal(rw_tls_ja4_hash12(exts, strlen(exts), out), 0);
	assert_string_equal(out, "e5627efa2ab1");
	assert_int_equal(rw_tls_ja4_hash12("", 0, out), 0);
	assert_string_equal(out, "000000000000");
}

/* The spec example's lists in wire (unsorted) order. */
static void test_ja4_from_lists(void **state)
{
	static const uint16_t ciphers[] = { 0x1301, 0x1302, 0x1303, 0xc02b, 0xc02f, 0xc02c,
		0xc030, 0xcca9, 0xcca8, 0xc013, 0xc014, 0x009c, 0x009d, 0x002f, 0x0035 };
	static const uint16_t exts[] = { 0x001b, 0x0000, 0x0033, 0x0010, 0x4469, 0x0017,
		0x002d, 0x000d, 0x0005, 0x0023, 0x0012, 0x002b, 0xff01, 0x000b, 0x000a, 0x0015 };
	static const uint16_t sigs[] = { 0x0403, 0x0804, 0x0401, 0x0503, 0x0805, 0x0501,
		0x0806, 0x0601 };
	struct rw_tls_ja4_input in = {
		.version = 0x0304, .sni = true, .alpn0 = (const uint8_t *)"h2", .alpn0_len = 2,
		.ciphers = ciphers, .n_ciphers = 15, .exts = exts, .n_exts = 16,
		.sigalgs = sigs, .n_sigalgs = 8,
	};
	char out[RW_TLS_JA4_LEN + 1];
	(void)state;

	assert_int_equal(rw_tls_ja4(&in, out), 0);
	assert_string_equal(out, "t13d1516h2_8daaf6152771_e5627efa2ab1");

	/* ALPN first/last characters, and the hex fallback */
	in.alpn0 = (const uint8_t *)"http/1.1";
	in.alpn0_len = 8;
	assert_int_equal(rw_tls_ja4(&in, out), 0);
	assert_memory_equal(out, "t13d1516h1_", 11);
	in.alpn0 = (const uint8_t *)"\xabh2";
	in.alpn0_len = 3;
	assert_int_equal(rw_tls_ja4(&in, out), 0);
	assert_memory_equal(out, "t13d1516a2_", 11); /* ab..32: 'a' and '2' */
	in.alpn0 = NULL;
	in.alpn0_len = 0;
	assert_int_equal(rw_tls_ja4(&in, out), 0);
	assert_memory_equal(out, "t13d151600_", 11);

	/* no signature algorithms: no '_' in the hashed text, so a new hash */
	in.n_sigalgs = 0;
	assert_int_equal(rw_tls_ja4(&in, out), 0);
	assert_string_not_equal(out + 24, "e5627efa2ab1");
	in.n_sigalgs = RW_TLS_MAX_SIGALGS + 1;
	assert_int_equal(rw_tls_ja4(&in, out), RW_ERANGE);
}

static void test_ja4_versions(void **state)
{
	(void)state;
	assert_string_equal(rw_tls_ja4_version(0x0304), "13");
	assert_string_equal(rw_tls_ja4_version(0x0303), "12");
	assert_string_equal(rw_tls_ja4_version(0x0302), "11");
	assert_string_equal(rw_tls_ja4_version(0x0301), "10");
	assert_string_equal(rw_tls_ja4_version(0x0300), "s3");
	assert_string_equal(rw_tls_ja4_version(0x0305), "00");
}

static void test_grease(void **state)
{
	unsigned n = 0;
	(void)state;
	for (unsigned v = 0; v <= 0xffff; v++)
		n += rw_tls_is_grease((uint16_t)v);
	assert_int_equal(n, 16);
	assert_true(rw_tls_is_grease(0x0a0a));
	assert_true(rw_tls_is_grease(0xfafa));
	assert_false(rw_tls_is_grease(0x0a1a));
}

static int name(const char *s, char *out, size_t cap)
{
	struct rw_cursor c;
	rw_cur_init(&c, s, strlen(s));
	return rw_tls_name_check(&c, out, cap);
}

static void test_name_check(void **state)
{
	char out[300], n253[254], n254[255];
	(void)state;

	assert_int_equal(name("Registry.EXAMPLE.test", out, sizeof(out)), 0);
	assert_string_equal(out, "registry.example.test");
	assert_int_equal(name("a", out, sizeof(out)), 0);
	assert_int_equal(name("x-1.example", out, sizeof(out)), 0);
	assert_int_equal(name("1.example", out, sizeof(out)), 0);
	assert_int_equal(name("example.1a", out, sizeof(out)), 0);
	assert_int_equal(name("127.1", out, sizeof(out)), RW_EINVAL);
	assert_int_equal(name("10.0.0.1", out, sizeof(out)), RW_EINVAL);
	assert_int_equal(name(".example", out, sizeof(out)), RW_EINVAL);
	assert_int_equal(name("example.", out, sizeof(out)), RW_EINVAL);
	assert_int_equal(name("ex ample", out, sizeof(out)), RW_EINVAL);
	assert_int_equal(name("ex\xc3\xa9mple", out, sizeof(out)), RW_EINVAL);
	assert_int_equal(name("xn--exmple-cua.test", out, sizeof(out)), 0);
	assert_int_equal(name("abc", out, 3), RW_ERANGE);

	/* 253 bytes is the longest name: 63+1+63+1+63+1+61 */
	memset(n253, 'a', 253);
	n253[63] = n253[127] = n253[191] = '.';
	n253[253] = '\0';
	assert_int_equal(name(n253, out, sizeof(out)), 0);
	memcpy(n254, n253, 253);
	n254[253] = 'a';
	n254[254] = '\0';
	assert_int_equal(name(n254, out, sizeof(out)), RW_EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_hash12_spec_vectors),
		cmocka_unit_test(test_ja4_from_lists),
		cmocka_unit_test(test_ja4_versions),
		cmocka_unit_test(test_grease),
		cmocka_unit_test(test_name_check),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
