/* Bans as the data path knows them (fwd/rw_bans.h) and as they travel to
 * the workers (fwd/rw_chan.h BAN_ADD / BAN_DEL): the message checks in
 * rw_chan_parse, good bodies and each bad field; the two-set structure
 * the worker checks at admission: re-bans, deletes, address bans nested
 * in a banned prefix, a prefix replacing the overlapping ones, expiry and
 * pruning, the ordered append of a boot bundle; and lookups against a
 * brute-force model over random bans. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "base/rw_err.h"
#include "fwd/rw_bans.h"
#include "fwd/rw_chan.h"
#include "rules/rw_cidr.h"

static struct rw_cidr C(const char *t)
{
	struct rw_cidr c;
	assert_int_equal(rw_cidr_parse(t, &c, 0), 0);
	return c;
}

/* ---- the channel message ---- */

static struct rw_chan_ban mk(const char *cidr, uint64_t expires_ms)
{
	struct rw_chan_ban m = { .expires_ms = expires_ms };
	struct rw_cidr c = C(cidr);
	m.family = c.family;
	m.prefix = c.prefix;
	memcpy(m.addr, c.addr, 16);
	return m;
}

static int parse(uint16_t type, const struct rw_chan_ban *m, size_t len)
{
	uint8_t buf[RW_CHAN_MSG_MAX];
	struct rw_chan_hdr h = { .type = type, .len = (uint32_t)len };
	memset(buf, 0, sizeof(buf));
	memcpy(buf, &h, sizeof(h));
	memcpy(buf + sizeof(h), m, len < sizeof(*m) ? len : sizeof(*m));
	struct rw_chan_hdr got;
	const uint8_t *body;
	int r = rw_chan_parse(buf, sizeof(h) + len, &got, &body);
	if (r == 0) {
		assert_int_equal(got.type, type);
		assert_ptr_equal(body, buf + sizeof(h));
	}
	return r;
}

static void test_parse_ban(void **state)
{
	(void)state;
	const char *good[] = { "192.0.2.7/32", "192.0.2.0/24", "128.0.0.0/1", "2001:db8::1/128",
			       "2001:db8::/32", "8000::/1" };
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		struct rw_chan_ban a = mk(good[i], 1700000000000ull), d = mk(good[i], 0);
		assert_int_equal(parse(RW_CHAN_BAN_ADD, &a, sizeof(a)), 0);
		assert_int_equal(parse(RW_CHAN_BAN_DEL, &d, sizeof(d)), 0);
	}
	struct rw_chan_ban m = mk("192.0.2.0/24", 5), v;
	/* length: one short, one long */
	assert_int_equal(parse(RW_CHAN_BAN_ADD, &m, sizeof(m) - 1), RW_EPROTO);
	assert_int_equal(parse(RW_CHAN_BAN_ADD, &m, sizeof(m) + 1), RW_EPROTO);
	/* expiry: none on an addition, one on a deletion */
	v = m;
	v.expires_ms = 0;
	assert_int_equal(parse(RW_CHAN_BAN_ADD, &v, sizeof(v)), RW_EPROTO);
	assert_int_equal(parse(RW_CHAN_BAN_DEL, &m, sizeof(m)), RW_EPROTO);
	/* family */
	v = m;
	v.family = 0;
	assert_int_equal(parse(RW_CHAN_BAN_ADD, &v, sizeof(v)), RW_EPROTO);
	v.family = AF_UNIX;
	assert_int_equal(parse(RW_CHAN_BAN_ADD, &v, sizeof(v)), RW_EPROTO);
	/* prefix: 0 (every source) and past the family's length */
	v = mk("0.0.0.0/0", 5);
	assert_int_equal(parse(RW_CHAN_BAN_ADD, &v, sizeof(v)), RW_EPROTO);
	v = mk("::/0", 0);
	assert_int_equal(parse(RW_CHAN_BAN_DEL, &v, sizeof(v)), RW_EPROTO);
	v = m;
	v.prefix = 33;
	assert_int_equal(parse(RW_CHAN_BAN_ADD, &v, sizeof(v)), RW_EPROTO);
	v = mk("2001:db8::/32", 5);
	v.prefix = 129;
	assert_int_equal(parse(RW_CHAN_BAN_ADD, &v, sizeof(v)), RW_EPROTO);
	/* host bits, bytes past an IPv4 address, the padding */
	v = m;
	v.addr[3] = 1;
	assert_int_equal(parse(RW_CHAN_BAN_ADD, &v, sizeof(v)), RW_EPROTO);
	v = m;
	v.addr[4] = 1;
	assert_int_equal(parse(RW_CHAN_BAN_ADD, &v, sizeof(v)), RW_EPROTO);
	v = mk("2001:db8::/32", 5);
	v.addr[15] = 1;
	assert_int_equal(parse(RW_CHAN_BAN_ADD, &v, sizeof(v)), RW_EPROTO);
	for (size_t i = 0; i < sizeof(v.zero); i++) {
		v = m;
		v.zero[i] = 1;
		assert_int_equal(parse(RW_CHAN_BAN_ADD, &v, sizeof(v)), RW_EPROTO);
	}
	/* a parent -> worker message the parent refuses from a worker is
	 * still well-formed: the receiver decides what a type means */
	struct rw_chan_ban d = mk("192.0.2.0/24", 0);
	assert_int_equal(parse(RW_CHAN_BAN_DEL, &d, sizeof(d)), 0);
}

/* ---- the set ---- */

static bool banned(const struct rw_bans *b, const char *addr, uint64_t now, const char *want)
{
	struct rw_cidr a = C(addr), hit;
	uint64_t exp = 0;
	bool r = rw_bans_find(b, a.family, a.addr, now, &hit, &exp);
	if (r && want) {
		char got[64];
		rw_cidr_format(&hit, got, sizeof(got));
		assert_string_equal(got, want);
		assert_true(exp > now);
	}
	return r;
}

static void test_add_del(void **state)
{
	(void)state;
	struct rw_bans b = RW_BANS_INIT;
	struct rw_cidr h = C("203.0.113.10/32"), p = C("203.0.113.8/30"), h6 = C("2001:db8::1/128");
	assert_false(banned(&b, "203.0.113.10", 100, NULL));
	assert_int_equal(rw_bans_add(&b, &h, 1000), 0);
	assert_int_equal(rw_bans_add(&b, &h6, 1000), 0);
	assert_true(banned(&b, "203.0.113.10", 100, "203.0.113.10/32"));
	assert_false(banned(&b, "203.0.113.11", 100, NULL));
	assert_true(banned(&b, "2001:db8::1", 100, "2001:db8::1/128"));
	/* an IPv4 ban never holds an IPv6 address of the same bytes */
	uint8_t v6[16] = { 203, 0, 113, 10 };
	assert_false(rw_bans_find(&b, AF_INET6, v6, 100, NULL, NULL));
	/* the address ban inside a banned prefix: both held, apart */
	assert_int_equal(rw_bans_add(&b, &p, 2000), 0);
	assert_int_equal(rw_bans_count(&b), 3);
	assert_true(banned(&b, "203.0.113.10", 100, "203.0.113.10/32")); /* the address first */
	assert_true(banned(&b, "203.0.113.11", 100, "203.0.113.8/30"));
	/* the address ban expires first: the prefix still holds it */
	assert_true(banned(&b, "203.0.113.10", 1500, "203.0.113.8/30"));
	/* deletes are exact: the prefix stays when the address goes */
	assert_int_equal(rw_bans_del(&b, &h), 0);
	assert_int_equal(rw_bans_del(&b, &h), RW_ENOENT);
	assert_true(banned(&b, "203.0.113.10", 100, "203.0.113.8/30"));
	struct rw_cidr inside = C("203.0.113.8/31"), over = C("203.0.113.0/29");
	assert_int_equal(rw_bans_del(&b, &inside), RW_ENOENT);
	assert_int_equal(rw_bans_del(&b, &over), RW_ENOENT);
	assert_int_equal(rw_bans_del(&b, &p), 0);
	assert_false(banned(&b, "203.0.113.10", 100, NULL));
	/* a re-ban sets the new time, earlier or later */
	assert_int_equal(rw_bans_add(&b, &h, 1000), 0);
	assert_int_equal(rw_bans_add(&b, &h, 5000), 0);
	assert_true(banned(&b, "203.0.113.10", 4000, NULL));
	assert_int_equal(rw_bans_add(&b, &h, 300), 0);
	assert_false(banned(&b, "203.0.113.10", 400, NULL));
	assert_int_equal(rw_bans_count(&b), 2);
	/* refused: no expiry, a host-bit prefix, /0, another family */
	struct rw_cidr bad = p;
	assert_int_equal(rw_bans_add(&b, &p, 0), RW_EINVAL);
	bad.addr[3] = 9;
	assert_int_equal(rw_bans_add(&b, &bad, 10), RW_EINVAL);
	bad = C("0.0.0.0/0");
	assert_int_equal(rw_bans_add(&b, &bad, 10), RW_EINVAL);
	bad = p;
	bad.family = AF_UNIX;
	assert_int_equal(rw_bans_add(&b, &bad, 10), RW_EINVAL);
	assert_int_equal(rw_bans_count(&b), 2);
	rw_bans_free(&b);
	assert_int_equal(rw_bans_count(&b), 0);
}

/* The parent sends a prefix overlapping banned ones only when the kernel
 * took it, i.e. the older ones are gone there: the newest replaces them,
 * and the set stays a view. Address bans are not touched by it. */
static void test_overlap_replaces(void **state)
{
	(void)state;
	struct rw_bans b = RW_BANS_INIT;
	const char *olds[] = { "198.51.100.0/28", "198.51.100.16/28", "198.51.100.64/26" };
	for (size_t i = 0; i < 3; i++) {
		struct rw_cidr c = C(olds[i]);
		assert_int_equal(rw_bans_add(&b, &c, 1000), 0);
	}
	struct rw_cidr host = C("198.51.100.5/32");
	assert_int_equal(rw_bans_add(&b, &host, 1000), 0);
	struct rw_cidr wide = C("198.51.100.0/27"); /* holds the two /28 */
	assert_int_equal(rw_bans_add(&b, &wide, 3000), 0);
	assert_int_equal(b.pfx.set.n, 2);
	assert_int_equal(rw_cidrset_check(b.pfx.set.v, b.pfx.set.n, NULL), 0);
	assert_true(banned(&b, "198.51.100.20", 2000, "198.51.100.0/27"));
	assert_true(banned(&b, "198.51.100.5", 500, "198.51.100.5/32"));
	struct rw_cidr narrow = C("198.51.100.96/27"); /* inside the /26 */
	assert_int_equal(rw_bans_add(&b, &narrow, 3000), 0);
	assert_false(banned(&b, "198.51.100.70", 500, NULL));
	assert_true(banned(&b, "198.51.100.100", 500, "198.51.100.96/27"));
	assert_int_equal(rw_cidrset_check(b.pfx.set.v, b.pfx.set.n, NULL), 0);
	rw_bans_free(&b);
}

static void test_prune(void **state)
{
	(void)state;
	struct rw_bans b = RW_BANS_INIT;
	assert_int_equal(rw_bans_prune(&b, 12345), 0);
	const char *v[] = { "192.0.2.1/32", "192.0.2.2/32", "192.0.2.64/26", "2001:db8::/48" };
	uint64_t exp[] = { 100, 300, 200, 400 };
	for (size_t i = 0; i < 4; i++) {
		struct rw_cidr c = C(v[i]);
		assert_int_equal(rw_bans_add(&b, &c, exp[i]), 0);
	}
	assert_int_equal(b.next_exp, 100);
	assert_int_equal(rw_bans_prune(&b, 99), 0);
	/* an expired ban is no match before it is pruned either */
	assert_false(banned(&b, "192.0.2.1", 100, NULL));
	struct rw_cidr c1 = C("192.0.2.1/32");
	assert_false(rw_bans_has(&b, &c1, 100));
	assert_true(rw_bans_has(&b, &c1, 99));
	assert_int_equal(rw_bans_count(&b), 4);
	assert_int_equal(rw_bans_prune(&b, 250), 2);
	assert_int_equal(rw_bans_count(&b), 2);
	assert_int_equal(b.next_exp, 300);
	assert_true(banned(&b, "192.0.2.2", 250, "192.0.2.2/32"));
	assert_true(banned(&b, "2001:db8:0:1::5", 250, "2001:db8::/48"));
	assert_int_equal(rw_bans_prune(&b, 1000), 2);
	assert_int_equal(b.next_exp, 0);
	assert_int_equal(rw_bans_count(&b), 0);
	/* a deletion leaves next_exp early: the next prune only finds nothing */
	assert_int_equal(rw_bans_add(&b, &c1, 50), 0);
	assert_int_equal(rw_bans_del(&b, &c1), 0);
	assert_int_equal(rw_bans_prune(&b, 60), 0);
	assert_int_equal(b.next_exp, 0);
	rw_bans_free(&b);
}

/* The boot bundle's order: strictly increasing per set, no overlap. */
static void test_append(void **state)
{
	(void)state;
	struct rw_bans b = RW_BANS_INIT;
	struct rw_cidr a = C("192.0.2.1/32"), a2 = C("192.0.2.9/32"), p1 = C("192.0.2.0/29"),
		       p2 = C("192.0.2.16/28"), p6 = C("2001:db8::/32");
	assert_int_equal(rw_bans_append(&b, &a, 10), 0);
	assert_int_equal(rw_bans_append(&b, &p1, 10), 0); /* the other set: its own order */
	assert_int_equal(rw_bans_append(&b, &a, 10), RW_EINVAL);  /* again */
	assert_int_equal(rw_bans_append(&b, &a2, 10), 0);
	assert_int_equal(rw_bans_append(&b, &a, 10), RW_EINVAL);  /* backwards */
	struct rw_cidr in = C("192.0.2.4/30");
	assert_int_equal(rw_bans_append(&b, &in, 10), RW_EEXIST); /* inside p1 */
	assert_int_equal(rw_bans_append(&b, &p2, 0), RW_EINVAL);  /* no expiry */
	assert_int_equal(rw_bans_append(&b, &p2, 10), 0);
	assert_int_equal(rw_bans_append(&b, &p6, 10), 0);
	assert_int_equal(rw_bans_count(&b), 5);
	assert_int_equal(rw_cidrset_check(b.host.set.v, b.host.set.n, NULL), 0);
	assert_int_equal(rw_cidrset_check(b.pfx.set.v, b.pfx.set.n, NULL), 0);
	assert_true(banned(&b, "192.0.2.1", 5, "192.0.2.1/32"));
	assert_true(banned(&b, "192.0.2.3", 5, "192.0.2.0/29"));
	rw_bans_free(&b);
}

/* 5,000 random bans and unbans (addresses and /28 prefixes in
 * 10.0.0.0/22, random expiries) against a model: each of the 1,024
 * addresses asked at random times. */
static void test_model(void **state)
{
	(void)state;
	struct rw_bans b = RW_BANS_INIT;
	static uint64_t host_exp[1024], pfx_exp[64]; /* 0 = not banned */
	memset(host_exp, 0, sizeof(host_exp));
	memset(pfx_exp, 0, sizeof(pfx_exp));
	unsigned seed = 4242;
	uint64_t now = 1000;
	for (int k = 0; k < 5000; k++) {
		seed = seed * 1103515245u + 12345u;
		unsigned x = (seed >> 8) & 1023;
		bool prefix = ((seed >> 20) & 3) == 0, add = (seed >> 22) & 1;
		uint64_t exp = now + 1 + ((seed >> 24) & 255);
		char t[40];
		if (prefix)
			snprintf(t, sizeof(t), "10.0.%u.%u/28", x >> 8, x & 0xf0);
		else
			snprintf(t, sizeof(t), "10.0.%u.%u/32", x >> 8, x & 0xff);
		struct rw_cidr c = C(t);
		uint64_t *cell = prefix ? &pfx_exp[x >> 4] : &host_exp[x];
		if (add) {
			assert_int_equal(rw_bans_add(&b, &c, exp), 0);
			*cell = exp;
		} else {
			bool there = *cell != 0;
			int r = rw_bans_del(&b, &c);
			/* the model keeps expired ones until pruned, as the set */
			assert_int_equal(r, there ? 0 : RW_ENOENT);
			*cell = 0;
		}
		now += (seed >> 16) & 3;
		if ((k & 63) == 0) {
			rw_bans_prune(&b, now);
			for (size_t i = 0; i < 1024; i++)
				if (host_exp[i] && host_exp[i] <= now)
					host_exp[i] = 0;
			for (size_t i = 0; i < 64; i++)
				if (pfx_exp[i] && pfx_exp[i] <= now)
					pfx_exp[i] = 0;
		}
		for (int q = 0; q < 8; q++) {
			seed = seed * 1103515245u + 12345u;
			unsigned y = (seed >> 8) & 1023;
			uint8_t a[4] = { 10, 0, (uint8_t)(y >> 8), (uint8_t)y };
			bool want = (host_exp[y] > now) || (pfx_exp[y >> 4] > now);
			assert_int_equal(rw_bans_find(&b, AF_INET, a, now, NULL, NULL), want);
		}
	}
	assert_int_equal(rw_cidrset_check(b.host.set.v, b.host.set.n, NULL), 0);
	assert_int_equal(rw_cidrset_check(b.pfx.set.v, b.pfx.set.n, NULL), 0);
	rw_bans_free(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_ban),
		cmocka_unit_test(test_add_del),
		cmocka_unit_test(test_overlap_replaces),
		cmocka_unit_test(test_prune),
		cmocka_unit_test(test_append),
		cmocka_unit_test(test_model),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
