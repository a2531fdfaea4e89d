/* rules/rw_cidr.c: parse, format, contains, merge, range. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "base/rw_err.h"
#include "rules/rw_cidr.h"
#include "rules/rw_cidrset.h"

static void fmt_is(const struct rw_cidr *c, const char *want)
{
	char buf[64];
	rw_cidr_format(c, buf, sizeof(buf));
	assert_string_equal(buf, want);
}

static struct rw_cidr cidr(const char *text)
{
	struct rw_cidr c;
	assert_int_equal(rw_cidr_parse(text, &c, 0), 0);
	return c;
}

static void test_parse_ok(void **state)
{
	(void)state;
	struct rw_cidr c;
	assert_int_equal(rw_cidr_parse("203.0.113.0/24", &c, 0), 0);
	assert_int_equal(c.family, AF_INET);
	assert_int_equal(c.prefix, 24);
	static const uint8_t a4[4] = { 203, 0, 113, 0 };
	assert_memory_equal(c.addr, a4, 4);
	fmt_is(&c, "203.0.113.0/24");

	assert_int_equal(rw_cidr_parse("2001:db8::/32", &c, 0), 0);
	assert_int_equal(c.family, AF_INET6);
	assert_int_equal(c.prefix, 32);
	assert_int_equal(c.addr[0], 0x20);
	assert_int_equal(c.addr[3], 0xb8);
	fmt_is(&c, "2001:db8::/32");

	assert_int_equal(rw_cidr_parse("198.51.100.7", &c, 0), 0);
	assert_int_equal(c.prefix, 32);
	assert_int_equal(rw_cidr_parse("2001:db8::1", &c, 0), 0);
	assert_int_equal(c.prefix, 128);
	fmt_is(&c, "2001:db8::1/128");
	assert_int_equal(rw_cidr_parse("0.0.0.0/0", &c, 0), 0);
	assert_int_equal(c.prefix, 0);
	assert_int_equal(rw_cidr_parse("::/0", &c, 0), 0);
	/* next to the mapped range, not in it */
	assert_int_equal(rw_cidr_parse("::fffe:c000:201/128", &c, 0), 0);
	assert_int_equal(c.family, AF_INET6);
	assert_int_equal(rw_cidr_parse("::/64", &c, 0), 0);
}

/* ::ffff:0:0/96 never matches: the kernel sees those clients as IPv4. */
static void test_parse_mapped(void **state)
{
	(void)state;
	struct rw_cidr c;
	static const char *const refused[] = {
		"::ffff:203.0.113.11", "::ffff:192.0.2.1/128", "::ffff:192.0.2.0/120",
		"::ffff:0:0/96",       "::FFFF:c000:0201",     "0:0:0:0:0:ffff:c000:201",
	};
	for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++) {
		if (rw_cidr_parse(refused[i], &c, 0) != RW_EINVAL ||
		    rw_cidr_parse(refused[i], &c, 1) != RW_EINVAL)
			fail_msg("%s accepted", refused[i]);
	}
	/* wider than the mapped range: real IPv6 too, so kept */
	assert_int_equal(rw_cidr_parse("::ffff:0:0/95", &c, 1), 0);

	char msg[256];
	assert_int_equal(rw_cidr_mapped_msg("::ffff:203.0.113.11", msg, sizeof(msg)), 1);
	assert_string_equal(msg, "an IPv4-mapped IPv6 address never matches (the kernel sees "
				 "IPv4); write 203.0.113.11");
	assert_int_equal(rw_cidr_mapped_msg("::ffff:192.0.2.0/120", msg, sizeof(msg)), 1);
	assert_non_null(strstr(msg, "write 192.0.2.0/24"));
	assert_int_equal(rw_cidr_mapped_msg("::ffff:0:0/96", msg, sizeof(msg)), 1);
	assert_non_null(strstr(msg, "write 0.0.0.0/0"));
	assert_int_equal(rw_cidr_mapped_msg("::ffff:192.0.2.1/128", msg, sizeof(msg)), 1);
	assert_non_null(strstr(msg, "write 192.0.2.1"));
	assert_int_equal(rw_cidr_mapped_msg("[::ffff:0.0.0.0]:8444", msg, sizeof(msg)), 1);
	assert_non_null(strstr(msg, "write 0.0.0.0:8444"));
	static const char *const other[] = { "203.0.113.11", "2001:db8::1", "::ffff:0:0/95",
					     "[2001:db8::1]:443", "nonsense", "::fffe:c000:201" };
	for (size_t i = 0; i < sizeof(other) / sizeof(other[0]); i++)
		if (rw_cidr_mapped_msg(other[i], msg, sizeof(msg)))
			fail_msg("%s called mapped: %s", other[i], msg);
}

static void test_parse_host_bits(void **state)
{
	(void)state;
	struct rw_cidr c;
	assert_int_equal(rw_cidr_parse("192.0.2.1/24", &c, 0), RW_EINVAL);
	assert_int_equal(rw_cidr_parse("192.0.2.1/24", &c, 1), 0);
	fmt_is(&c, "192.0.2.1/24"); /* kept as typed when allowed */
	assert_int_equal(rw_cidr_parse("2001:db8::1/64", &c, 0), RW_EINVAL);
	assert_int_equal(rw_cidr_parse("192.0.2.128/25", &c, 0), 0);
	assert_int_equal(rw_cidr_parse("192.0.2.129/25", &c, 0), RW_EINVAL);
	assert_int_equal(rw_cidr_parse("1.0.0.0/0", &c, 0), RW_EINVAL);
}

static void test_parse_bad(void **state)
{
	(void)state;
	struct rw_cidr c;
	static const char *const inval[] = {
		"", "/24", "192.0.2.0/", "192.0.2.0/024", "192.0.2.0/+8", "192.0.2.0/ 8",
		"192.0.2.0/8a", "192.0.2/24", "192.0.2.0.0/24", "192.0.2.256/32", "01.2.3.4/32",
		"host.example.test", "2001:db8::/32/1", "2001:db8:::/48", "fe80::1%eth0/128",
		" 192.0.2.0/24", "192.0.2.0/24 ", "192.0.2.0/1234",
		"0000:0000:0000:0000:0000:0000:0000:0000:0000/128/64", /* too long for the buffer */
	};
	for (size_t i = 0; i < sizeof(inval) / sizeof(inval[0]); i++) {
		int r = rw_cidr_parse(inval[i], &c, 1);
		if (r == 0)
			print_message("accepted \"%s\"\n", inval[i]);
		assert_int_not_equal(r, 0);
	}
	assert_int_equal(rw_cidr_parse("192.0.2.0/33", &c, 1), RW_ERANGE);
	assert_int_equal(rw_cidr_parse("2001:db8::/129", &c, 1), RW_ERANGE);
	assert_int_equal(rw_cidr_parse("2001:db8::/128", &c, 1), 0);
}

static void test_contains(void **state)
{
	(void)state;
	struct rw_cidr c = cidr("203.0.113.0/25");
	uint8_t a[16];
	inet_pton(AF_INET, "203.0.113.127", a);
	assert_true(rw_cidr_contains(&c, AF_INET, a));
	inet_pton(AF_INET, "203.0.113.128", a);
	assert_false(rw_cidr_contains(&c, AF_INET, a));
	inet_pton(AF_INET, "203.0.113.0", a);
	assert_false(rw_cidr_contains(&c, AF_INET6, a)); /* family must match */

	c = cidr("2001:db8:1::/48");
	inet_pton(AF_INET6, "2001:db8:1:ffff::1", a);
	assert_true(rw_cidr_contains(&c, AF_INET6, a));
	inet_pton(AF_INET6, "2001:db8:2::", a);
	assert_false(rw_cidr_contains(&c, AF_INET6, a));

	c = cidr("0.0.0.0/0");
	inet_pton(AF_INET, "255.255.255.255", a);
	assert_true(rw_cidr_contains(&c, AF_INET, a));
	c = cidr("192.0.2.7/32");
	inet_pton(AF_INET, "192.0.2.7", a);
	assert_true(rw_cidr_contains(&c, AF_INET, a));
	inet_pton(AF_INET, "192.0.2.6", a);
	assert_false(rw_cidr_contains(&c, AF_INET, a));
	c = cidr("192.0.2.0/31"); /* prefix not on a byte boundary */
	inet_pton(AF_INET, "192.0.2.1", a);
	assert_true(rw_cidr_contains(&c, AF_INET, a));
	inet_pton(AF_INET, "192.0.2.2", a);
	assert_false(rw_cidr_contains(&c, AF_INET, a));
}

static void test_merge(void **state)
{
	(void)state;
	struct rw_cidr v[] = {
		cidr("2001:db8:1:2::/64"), cidr("203.0.113.64/26"), cidr("2001:db8:1::/48"),
		cidr("203.0.113.0/24"),    cidr("198.51.100.0/24"), cidr("203.0.113.0/24"),
		cidr("198.51.101.0/24"),   cidr("203.0.113.200/32"),
	};
	size_t n = sizeof(v) / sizeof(v[0]);
	assert_int_equal(rw_cidrset_merge(v, &n), 4);
	assert_int_equal(n, 4);
	fmt_is(&v[0], "198.51.100.0/24");
	fmt_is(&v[1], "198.51.101.0/24"); /* adjacent: kept apart */
	fmt_is(&v[2], "203.0.113.0/24");
	fmt_is(&v[3], "2001:db8:1::/48");

	struct rw_cidr one[] = { cidr("192.0.2.0/24") };
	n = 1;
	assert_int_equal(rw_cidrset_merge(one, &n), 0);
	assert_int_equal(n, 1);
	n = 0;
	assert_int_equal(rw_cidrset_merge(one, &n), 0);

	/* a narrow prefix sorting before a wide one at the same start */
	struct rw_cidr w[] = { cidr("10.0.0.0/16"), cidr("10.0.0.0/8"), cidr("10.255.0.0/16"),
			       cidr("11.0.0.0/8") };
	n = 4;
	assert_int_equal(rw_cidrset_merge(w, &n), 2);
	assert_int_equal(n, 2);
	fmt_is(&w[0], "10.0.0.0/8");
	fmt_is(&w[1], "11.0.0.0/8");
}

static void test_range(void **state)
{
	(void)state;
	uint8_t s[16], e[16];
	int ovf;
	struct rw_cidr c = cidr("203.0.113.0/25");
	rw_cidr_range(&c, s, e, &ovf);
	static const uint8_t s1[4] = { 203, 0, 113, 0 }, e1[4] = { 203, 0, 113, 128 };
	assert_memory_equal(s, s1, 4);
	assert_memory_equal(e, e1, 4);
	assert_int_equal(ovf, 0);

	c = cidr("203.0.113.255/32");
	rw_cidr_range(&c, s, e, &ovf);
	static const uint8_t e2[4] = { 203, 0, 114, 0 }; /* carry */
	assert_memory_equal(e, e2, 4);
	assert_int_equal(ovf, 0);

	c = cidr("0.0.0.0/0");
	rw_cidr_range(&c, s, e, &ovf);
	assert_int_equal(ovf, 1);
	c = cidr("255.255.255.0/24");
	rw_cidr_range(&c, s, e, &ovf);
	assert_int_equal(ovf, 1);

	c = cidr("2001:db8::/32");
	rw_cidr_range(&c, s, e, &ovf);
	uint8_t want[16] = { 0 };
	inet_pton(AF_INET6, "2001:db9::", want);
	assert_memory_equal(e, want, 16);
	assert_int_equal(ovf, 0);
	c = cidr("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff/128");
	rw_cidr_range(&c, s, e, &ovf);
	assert_int_equal(ovf, 1);

	/* host bits allowed in the input: start is still the network */
	assert_int_equal(rw_cidr_parse("192.0.2.77/24", &c, 1), 0);
	rw_cidr_range(&c, s, e, &ovf);
	static const uint8_t s3[4] = { 192, 0, 2, 0 }, e3[4] = { 192, 0, 3, 0 };
	assert_memory_equal(s, s3, 4);
	assert_memory_equal(e, e3, 4);
}

static void test_format_small_buffer(void **state)
{
	(void)state;
	struct rw_cidr c = cidr("203.0.113.0/24");
	char buf[8];
	memset(buf, 'x', sizeof(buf));
	rw_cidr_format(&c, buf, sizeof(buf));
	assert_string_equal(buf, "203.0.1"); /* truncated, still terminated */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_ok), cmocka_unit_test(test_parse_mapped),    cmocka_unit_test(test_parse_host_bits),
		cmocka_unit_test(test_parse_bad),    cmocka_unit_test(test_contains),
		cmocka_unit_test(test_merge),        cmocka_unit_test(test_range),
		cmocka_unit_test(test_format_small_buffer),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
