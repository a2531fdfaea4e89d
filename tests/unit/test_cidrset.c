/* rules/rw_cidrset.c: every operation against a brute-force reference on
 * random sets (IPv4 and IPv6 mixed, every prefix length, adjacent and
 * nested prefixes, /0, /32, /128, members at both ends of the address
 * space), insert/remove sequences that must keep the set sorted and
 * disjoint, the peer index against a scan of the peers, and the callers
 * built on it (rw_decide_peer_of, rw_who_resolve_ix,
 * rw_state_peer_overlap_ix, rw_state_outcome, rw_cidrset_merge's order).
 * Random but reproducible: a fixed seed per test (printed on failure
 * through the round number in the assertion's context). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "appliance/rw_state.h"
#include "base/rw_err.h"
#include "rules/rw_cidr.h"
#include "rules/rw_cidrset.h"
#include "rules/rw_decide.h"

/* ---- helpers ---- */

static uint64_t rng_state;

static void rng_seed(uint64_t s)
{
	rng_state = s ? s : 0x9e3779b97f4a7c15ull;
}

static uint32_t rnd(void)
{
	/* xorshift64* */
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return (uint32_t)((rng_state * 0x2545f4914f6cdd1dull) >> 32);
}

static uint32_t rnd_below(uint32_t n)
{
	return rnd() % n;
}

static struct rw_cidr C(const char *text)
{
	struct rw_cidr c;
	assert_int_equal(rw_cidr_parse(text, &c, 0), 0);
	return c;
}

static size_t alen(int family)
{
	return family == AF_INET ? 4 : 16;
}

static void clear_host(struct rw_cidr *c)
{
	for (size_t bit = c->prefix; bit < alen(c->family) * 8; bit++)
		c->addr[bit / 8] &= (uint8_t)~(0x80u >> (bit % 8));
}

/* The last address of c. */
static void last_addr(const struct rw_cidr *c, uint8_t out[16])
{
	memset(out, 0, 16);
	memcpy(out, c->addr, alen(c->family));
	for (size_t bit = c->prefix; bit < alen(c->family) * 8; bit++)
		out[bit / 8] |= (uint8_t)(0x80u >> (bit % 8));
}

/* a +/- 1 as a big-endian number of n bytes (wraps) */
static void addr_step(uint8_t *a, size_t n, int up)
{
	for (size_t i = n; i-- > 0;) {
		if (up) {
			if (++a[i] != 0)
				return;
		} else {
			if (a[i]-- != 0)
				return;
		}
	}
}

/* A random prefix in a small corner of the address space, so random sets
 * have many nested, equal and adjacent prefixes: the top bytes come from a
 * few patterns (the lowest and the highest addresses among them), the low
 * byte (and for IPv6 the one above it) are random, and the length is
 * mostly long, sometimes any, sometimes /0 or the host length. */
static struct rw_cidr rnd_cidr(void)
{
	struct rw_cidr c;
	memset(&c, 0, sizeof(c));
	c.family = rnd_below(2) ? AF_INET : AF_INET6;
	size_t n = alen(c.family);
	static const uint8_t top[4] = { 0x00, 0x0a, 0x80, 0xff };
	uint8_t t = top[rnd_below(4)];
	for (size_t i = 0; i + 2 < n; i++)
		c.addr[i] = t;
	c.addr[n - 2] = (uint8_t)(rnd_below(3) == 0 ? rnd() : t);
	c.addr[n - 1] = (uint8_t)rnd();
	unsigned max = (unsigned)n * 8, r = rnd_below(16);
	if (r == 0)
		c.prefix = 0;
	else if (r == 1)
		c.prefix = (uint8_t)max;
	else if (r < 5)
		c.prefix = (uint8_t)rnd_below(max + 1);
	else
		c.prefix = (uint8_t)(max - rnd_below(12));
	clear_host(&c);
	return c;
}

/* An address to look up near the members of (v, n): a member's first or
 * last address, one before or after those, or random in the same corner. */
static void rnd_addr(const struct rw_cidr *v, size_t n, int *family, uint8_t a[16])
{
	memset(a, 0, 16);
	if (n == 0 || rnd_below(4) == 0) {
		struct rw_cidr c = rnd_cidr();
		*family = c.family;
		memcpy(a, c.addr, 16);
		for (size_t i = c.prefix / 8; i < alen(c.family); i++)
			a[i] |= (uint8_t)(rnd() & (i == c.prefix / 8 ? (0xffu >> (c.prefix % 8)) : 0xff));
		return;
	}
	const struct rw_cidr *m = &v[rnd_below((uint32_t)n)];
	*family = m->family;
	switch (rnd_below(4)) {
	case 0:
		memcpy(a, m->addr, 16);
		break;
	case 1:
		last_addr(m, a);
		break;
	case 2:
		memcpy(a, m->addr, 16);
		addr_step(a, alen(m->family), 0);
		break;
	default:
		last_addr(m, a);
		addr_step(a, alen(m->family), 1);
		break;
	}
}

/* A prefix to ask about near the members: a member itself, one wider or
 * narrower at the same start or inside it, or a random one. */
static struct rw_cidr rnd_cidr_near(const struct rw_cidr *v, size_t n)
{
	if (n == 0 || rnd_below(4) == 0)
		return rnd_cidr();
	struct rw_cidr c = v[rnd_below((uint32_t)n)];
	unsigned max = (unsigned)alen(c.family) * 8;
	switch (rnd_below(4)) {
	case 0:
		break; /* the member */
	case 1: /* wider: holds the member */
		c.prefix = (uint8_t)(c.prefix - rnd_below(c.prefix + 1u));
		clear_host(&c);
		break;
	case 2: { /* narrower: inside the member, anywhere */
		unsigned p = c.prefix + rnd_below(max - c.prefix + 1u);
		for (unsigned bit = c.prefix; bit < p; bit++)
			if (rnd() & 1)
				c.addr[bit / 8] |= (uint8_t)(0x80u >> (bit % 8));
		c.prefix = (uint8_t)p;
		break;
	}
	default: { /* the neighbour of the same length after it */
		uint8_t a[16];
		last_addr(&c, a);
		addr_step(a, alen(c.family), 1);
		memcpy(c.addr, a, 16);
		clear_host(&c);
		break;
	}
	}
	return c;
}

/* ---- the brute-force reference ---- */

static int ref_overlaps(const struct rw_cidr *a, const struct rw_cidr *b)
{
	return a->family == b->family &&
	       (rw_cidr_contains(a, b->family, b->addr) || rw_cidr_contains(b, a->family, a->addr));
}

static const struct rw_cidr *ref_contains(const struct rw_cidr *v, size_t n, int family,
					  const uint8_t *addr)
{
	const struct rw_cidr *hit = NULL;
	for (size_t i = 0; i < n; i++)
		if (rw_cidr_contains(&v[i], family, addr)) {
			assert_null(hit); /* disjoint: at most one */
			hit = &v[i];
		}
	return hit;
}

/* The member overlapping c the set must name: the one holding c if any
 * (then it is the only one), else the lowest one inside c. */
static const struct rw_cidr *ref_overlap(const struct rw_cidr *v, size_t n, const struct rw_cidr *c)
{
	for (size_t i = 0; i < n; i++)
		if (v[i].family == c->family && v[i].prefix <= c->prefix &&
		    rw_cidr_contains(&v[i], c->family, c->addr))
			return &v[i];
	for (size_t i = 0; i < n; i++) /* v is sorted: the first is the lowest */
		if (ref_overlaps(&v[i], c))
			return &v[i];
	return NULL;
}

static long ref_find_exact(const struct rw_cidr *v, size_t n, const struct rw_cidr *c)
{
	for (size_t i = 0; i < n; i++)
		if (v[i].family == c->family && v[i].prefix == c->prefix &&
		    memcmp(v[i].addr, c->addr, 16) == 0)
			return (long)i;
	return -1;
}

static size_t ref_lower(const struct rw_cidr *v, size_t n, const struct rw_cidr *c)
{
	size_t i = 0;
	while (i < n && rw_cidrset_cmp(&v[i], c) < 0)
		i++;
	return i;
}

/* sorted (strictly) and pairwise disjoint, by every pair */
static void ref_assert_view(const struct rw_cidr *v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		for (size_t j = i + 1; j < n; j++) {
			assert_true(rw_cidrset_cmp(&v[i], &v[j]) < 0);
			assert_false(ref_overlaps(&v[i], &v[j]));
		}
	assert_int_equal(rw_cidrset_check(v, n, NULL), 0);
}

/* Every lookup on the view (v, n) against the reference, many times. */
static void check_lookups(const struct rw_cidr *v, size_t n, int rounds)
{
	for (int r = 0; r < rounds; r++) {
		int family;
		uint8_t a[16];
		rnd_addr(v, n, &family, a);
		assert_ptr_equal(rw_cidrset_contains(v, n, family, a), ref_contains(v, n, family, a));

		struct rw_cidr c = rnd_cidr_near(v, n);
		assert_ptr_equal(rw_cidrset_overlap(v, n, &c), ref_overlap(v, n, &c));
		assert_int_equal(rw_cidrset_find_exact(v, n, &c), ref_find_exact(v, n, &c));
		assert_int_equal(rw_cidrset_lower(v, n, &c), ref_lower(v, n, &c));
	}
}

/* A random view: random prefixes, each kept unless it overlaps one kept
 * before (the reference decides), then sorted. Returns n. */
static size_t rnd_view(struct rw_cidr *v, size_t want, size_t tries)
{
	size_t n = 0;
	for (size_t t = 0; t < tries && n < want; t++) {
		struct rw_cidr c = rnd_cidr();
		int clash = 0;
		for (size_t i = 0; i < n && !clash; i++)
			clash = ref_overlaps(&v[i], &c);
		if (!clash)
			v[n++] = c;
	}
	rw_cidrset_sort(v, n);
	return n;
}

/* ---- tests ---- */

static void test_order(void **state)
{
	(void)state;
	/* v4 before v6, then address, then wider first */
	struct rw_cidr a = C("255.255.255.255/32"), b = C("::/0"), c = C("10.0.0.0/8"),
		       d = C("10.0.0.0/16"), e = C("10.0.1.0/24");
	assert_true(rw_cidrset_cmp(&a, &b) < 0);
	assert_true(rw_cidrset_cmp(&b, &a) > 0);
	assert_true(rw_cidrset_cmp(&c, &d) < 0);
	assert_true(rw_cidrset_cmp(&d, &e) < 0);
	assert_int_equal(rw_cidrset_cmp(&d, &d), 0);
	/* the loader's order: rw_cidrset_merge's output is a view */
	rng_seed(1);
	struct rw_cidr v[300];
	for (int round = 0; round < 50; round++) {
		size_t n = 1 + rnd_below(300);
		for (size_t i = 0; i < n; i++)
			v[i] = rnd_cidr();
		rw_cidrset_merge(v, &n);
		ref_assert_view(v, n);
	}
	/* a bad family sorts after both, and the order stays total */
	struct rw_cidr bad = a;
	bad.family = 0;
	assert_true(rw_cidrset_cmp(&b, &bad) < 0);
	assert_true(rw_cidrset_cmp(&bad, &b) > 0);
}

static void test_edges(void **state)
{
	(void)state;
	uint8_t a[16];
	/* empty */
	struct rw_cidr any = C("0.0.0.0/0");
	memset(a, 0, sizeof(a));
	assert_null(rw_cidrset_contains(NULL, 0, AF_INET, a));
	assert_null(rw_cidrset_overlap(NULL, 0, &any));
	assert_int_equal(rw_cidrset_find_exact(NULL, 0, &any), -1);
	assert_int_equal(rw_cidrset_lower(NULL, 0, &any), 0);
	assert_int_equal(rw_cidrset_check(NULL, 0, NULL), 0);

	/* /0 of each family holds that family only */
	struct rw_cidr all[] = { C("0.0.0.0/0"), C("::/0") };
	assert_int_equal(rw_cidrset_check(all, 2, NULL), 0);
	memset(a, 0xff, sizeof(a));
	assert_ptr_equal(rw_cidrset_contains(all, 1, AF_INET, a), &all[0]);
	assert_null(rw_cidrset_contains(all, 1, AF_INET6, a));
	assert_ptr_equal(rw_cidrset_contains(all, 2, AF_INET6, a), &all[1]);
	struct rw_cidr host = C("255.255.255.255/32");
	assert_ptr_equal(rw_cidrset_overlap(all, 2, &host), &all[0]);
	assert_null(rw_cidrset_overlap(&all[1], 1, &host));
	assert_null(rw_cidrset_contains(all, 2, AF_UNIX, a));

	/* the first and last address of each family as members */
	struct rw_cidr ends[] = { C("0.0.0.0/32"), C("255.255.255.255/32"), C("::/128"),
				  C("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff/128") };
	assert_int_equal(rw_cidrset_check(ends, 4, NULL), 0);
	memset(a, 0, sizeof(a));
	assert_ptr_equal(rw_cidrset_contains(ends, 4, AF_INET, a), &ends[0]);
	assert_ptr_equal(rw_cidrset_contains(ends, 4, AF_INET6, a), &ends[2]);
	a[3] = 1;
	assert_null(rw_cidrset_contains(ends, 4, AF_INET, a));
	memset(a, 0xff, 4);
	assert_ptr_equal(rw_cidrset_contains(ends, 4, AF_INET, a), &ends[1]);
	a[3] = 0xfe;
	assert_null(rw_cidrset_contains(ends, 4, AF_INET, a));
	memset(a, 0xff, 16);
	assert_ptr_equal(rw_cidrset_contains(ends, 4, AF_INET6, a), &ends[3]);
	struct rw_cidr q = C("::/0");
	assert_ptr_equal(rw_cidrset_overlap(ends, 4, &q), &ends[2]); /* the lowest inside */
	q = C("128.0.0.0/1");
	assert_ptr_equal(rw_cidrset_overlap(ends, 4, &q), &ends[1]);
	q = C("8000::/1");
	assert_ptr_equal(rw_cidrset_overlap(ends, 4, &q), &ends[3]);
	q = C("0.0.0.1/32");
	assert_null(rw_cidrset_overlap(ends, 4, &q));
	assert_int_equal(rw_cidrset_find_exact(ends, 4, &ends[3]), 3);
	assert_int_equal(rw_cidrset_lower(ends, 4, &q), 1);

	/* adjacent prefixes are apart; nested and equal ones overlap */
	struct rw_cidr adj[] = { C("10.0.0.0/25"), C("10.0.0.128/25"), C("10.0.1.0/24") };
	assert_int_equal(rw_cidrset_check(adj, 3, NULL), 0);
	q = C("10.0.0.0/24");
	assert_ptr_equal(rw_cidrset_overlap(adj, 3, &q), &adj[0]);
	q = C("10.0.0.128/26");
	assert_ptr_equal(rw_cidrset_overlap(adj, 3, &q), &adj[1]);
	q = C("10.0.0.0/25");
	assert_ptr_equal(rw_cidrset_overlap(adj, 3, &q), &adj[0]);
	q = C("10.0.2.0/24");
	assert_null(rw_cidrset_overlap(adj, 3, &q));
}

static void test_check(void **state)
{
	(void)state;
	size_t bad = 99;
	struct rw_cidr v[] = { C("10.0.0.0/24"), C("10.0.1.0/24"), C("2001:db8::/32") };
	assert_int_equal(rw_cidrset_check(v, 3, &bad), 0);
	struct rw_cidr w[3];
	memcpy(w, v, sizeof(v));
	w[0] = v[1];
	w[1] = v[0]; /* out of order */
	assert_int_equal(rw_cidrset_check(w, 3, &bad), RW_EINVAL);
	assert_int_equal(bad, 1);
	memcpy(w, v, sizeof(v));
	w[1] = v[0]; /* a duplicate */
	assert_int_equal(rw_cidrset_check(w, 3, &bad), RW_EEXIST);
	assert_int_equal(bad, 1);
	w[0] = C("10.0.0.0/16"); /* nested, in order */
	w[1] = C("10.0.1.0/24");
	assert_int_equal(rw_cidrset_check(w, 3, &bad), RW_EEXIST);
	assert_int_equal(bad, 1);
	memcpy(w, v, sizeof(v));
	w[2].addr[15] = 1; /* host bits */
	assert_int_equal(rw_cidrset_check(w, 3, &bad), RW_EINVAL);
	assert_int_equal(bad, 2);
	memcpy(w, v, sizeof(v));
	w[0].addr[7] = 1; /* a byte past an IPv4 address */
	assert_int_equal(rw_cidrset_check(w, 3, &bad), RW_EINVAL);
	assert_int_equal(bad, 0);
	memcpy(w, v, sizeof(v));
	w[1].prefix = 33;
	assert_int_equal(rw_cidrset_check(w, 3, &bad), RW_EINVAL);
	w[1].prefix = 24;
	w[1].family = AF_UNIX;
	assert_int_equal(rw_cidrset_check(w, 3, &bad), RW_EINVAL);

	/* random arrays: check agrees with the pairwise reference */
	rng_seed(7);
	struct rw_cidr r[40];
	for (int round = 0; round < 2000; round++) {
		size_t n = rnd_below(40);
		for (size_t i = 0; i < n; i++)
			r[i] = rnd_cidr();
		if (rnd_below(2))
			rw_cidrset_sort(r, n);
		int ok = 1;
		for (size_t i = 0; i < n && ok; i++)
			for (size_t j = i + 1; j < n && ok; j++)
				ok = rw_cidrset_cmp(&r[i], &r[j]) < 0 && !ref_overlaps(&r[i], &r[j]);
		assert_int_equal(rw_cidrset_check(r, n, NULL) == 0, ok);
	}
}

static void test_sort_unique(void **state)
{
	(void)state;
	rng_seed(11);
	struct rw_cidr v[200], ref[200];
	for (int round = 0; round < 200; round++) {
		size_t n = rnd_below(200);
		for (size_t i = 0; i < n; i++)
			v[i] = i && rnd_below(3) == 0 ? v[rnd_below((uint32_t)i)] : rnd_cidr();
		/* the reference: distinct prefixes by a scan */
		size_t k = 0;
		for (size_t i = 0; i < n; i++)
			if (ref_find_exact(ref, k, &v[i]) < 0)
				ref[k++] = v[i];
		size_t m = n;
		assert_int_equal(rw_cidrset_sort_unique(v, &m), n - k);
		assert_int_equal(m, k);
		for (size_t i = 0; i + 1 < m; i++)
			assert_true(rw_cidrset_cmp(&v[i], &v[i + 1]) < 0);
		for (size_t i = 0; i < k; i++)
			assert_true(ref_find_exact(v, m, &ref[i]) >= 0);
	}
}

static void test_lookups_random(void **state)
{
	(void)state;
	rng_seed(42);
	static struct rw_cidr v[400];
	for (int round = 0; round < 120; round++) {
		size_t want = round < 10 ? (size_t)round : 1 + rnd_below(400);
		size_t n = rnd_view(v, want, want * 3);
		ref_assert_view(v, n);
		check_lookups(v, n, 200);
	}
}

/* Insert/remove sequences on the owning set and on a network's array: the
 * result codes the reference predicts, and a view after every step. */
static void test_insert_remove(void **state)
{
	(void)state;
	rng_seed(2024);
	static struct rw_cidr ref[600];
	for (int round = 0; round < 30; round++) {
		struct rw_cidrset s = RW_CIDRSET_INIT;
		struct rw_network net;
		memset(&net, 0, sizeof(net));
		size_t n = 0;
		for (int step = 0; step < 600; step++) {
			int add = n == 0 || rnd_below(3) != 0;
			struct rw_cidr c;
			if (add) {
				c = rnd_cidr_near(ref, n);
				int want = 0;
				for (size_t i = 0; i < n && !want; i++)
					want = ref_overlaps(&ref[i], &c) ? RW_EEXIST : 0;
				assert_int_equal(rw_cidrset_insert(&s, &c), want);
				assert_int_equal(rw_cidrset_net_insert(&net, &c), want);
				if (!want)
					ref[n++] = c;
			} else {
				/* a member, or something near one that may not be */
				c = rnd_below(2) ? ref[rnd_below((uint32_t)n)] : rnd_cidr_near(ref, n);
				long at = ref_find_exact(ref, n, &c);
				int want = at < 0 ? RW_ENOENT : 0;
				assert_int_equal(rw_cidrset_remove(&s, &c), want);
				assert_int_equal(rw_cidrset_net_remove(&net, &c), want);
				if (at >= 0)
					ref[at] = ref[--n];
			}
			assert_int_equal(s.n, n);
			assert_int_equal(net.n_cidrs, n);
			assert_int_equal(rw_cidrset_check(s.v, s.n, NULL), 0);
			assert_memory_equal(s.v, net.cidrs, n * sizeof(*s.v));
			for (size_t i = 0; i < n; i++)
				assert_true(rw_cidrset_find_exact(s.v, s.n, &ref[i]) >= 0);
		}
		ref_assert_view(s.v, s.n);
		check_lookups(s.v, s.n, 100);
		/* invalid prefixes are refused, nothing changes */
		struct rw_cidr bad = C("10.0.0.0/8");
		bad.addr[3] = 1;
		assert_int_equal(rw_cidrset_insert(&s, &bad), RW_EINVAL);
		bad = C("10.0.0.0/8");
		bad.family = 0;
		assert_int_equal(rw_cidrset_insert(&s, &bad), RW_EINVAL);
		assert_int_equal(s.n, n);
		rw_cidrset_free(&s);
		assert_null(s.v);
		assert_int_equal(s.n, 0);
		free(net.cidrs);
	}
}

/* ---- the peer index ---- */

enum { MAXPEERS = 64, MAXADDR = 4 };
static struct rw_peer peers[MAXPEERS];
static struct rw_cidr paddrs[MAXPEERS][MAXADDR];

/* A policy with n_peers peers owning random disjoint addresses, in random
 * order within and across peers. */
static void rnd_peers(struct rw_policy *p, size_t n_peers)
{
	static struct rw_cidr pool[MAXPEERS * MAXADDR];
	size_t n = rnd_view(pool, n_peers * MAXADDR, n_peers * MAXADDR * 4);
	for (size_t i = n; i-- > 1;) { /* shuffle */
		size_t j = rnd_below((uint32_t)(i + 1));
		struct rw_cidr t = pool[i];
		pool[i] = pool[j];
		pool[j] = t;
	}
	memset(p, 0, sizeof(*p));
	memset(peers, 0, sizeof(peers));
	size_t k = 0;
	for (size_t i = 0; i < n_peers; i++) {
		snprintf(peers[i].name, sizeof(peers[i].name), "p%zu", i);
		peers[i].addresses = paddrs[i];
		size_t m = 1 + rnd_below(MAXADDR);
		for (size_t j = 0; j < m && k < n; j++)
			paddrs[i][peers[i].n_addresses++] = pool[k++];
	}
	p->vpn.enabled = true;
	p->vpn.peers = peers;
	p->vpn.n_peers = n_peers;
}

static const struct rw_peer *scan_peer(const struct rw_policy *p, int family, const uint8_t *a)
{
	for (size_t i = 0; i < p->vpn.n_peers; i++)
		for (size_t j = 0; j < p->vpn.peers[i].n_addresses; j++)
			if (rw_cidr_contains(&p->vpn.peers[i].addresses[j], family, a))
				return &p->vpn.peers[i];
	return NULL;
}

static void test_peer_index(void **state)
{
	(void)state;
	rng_seed(99);
	struct rw_policy p;
	for (int round = 0; round < 60; round++) {
		rnd_peers(&p, 1 + rnd_below(MAXPEERS));
		struct rw_cidrset_index ix = RW_CIDRSET_INDEX_INIT;
		assert_int_equal(rw_cidrset_index_peers(&ix, &p), 0);
		assert_true(rw_cidrset_index_is_for(&ix, &p));
		ref_assert_view(ix.v, ix.n);
		size_t total = 0;
		for (size_t i = 0; i < p.vpn.n_peers; i++)
			total += p.vpn.peers[i].n_addresses;
		assert_int_equal(ix.n, total);
		for (size_t i = 0; i < ix.n; i++) /* each member is its owner's */
			assert_memory_equal(&ix.v[i],
					    &p.vpn.peers[ix.own[i].owner].addresses[ix.own[i].sub],
					    sizeof(ix.v[i]));
		for (int q = 0; q < 300; q++) {
			int family;
			uint8_t a[16];
			rnd_addr(ix.v, ix.n, &family, a);
			const struct rw_peer *want = scan_peer(&p, family, a);
			long at = rw_cidrset_index_find(&ix, family, a);
			assert_ptr_equal(at < 0 ? NULL : &p.vpn.peers[ix.own[at].owner], want);
			assert_ptr_equal(rw_decide_peer_of(&p, &ix, family, a), want);
			assert_ptr_equal(rw_decide_peer_of(&p, NULL, family, a), want);
			struct rw_who w1, w2;
			rw_who_resolve_ix(&p, &ix, family, a, true, NULL, &w1);
			rw_who_resolve(&p, family, a, true, NULL, &w2);
			assert_ptr_equal(w1.peer, want);
			assert_memory_equal(&w1, &w2, sizeof(w1));

			/* overlap: the first peer's first address a scan finds */
			struct rw_cidr c = rnd_cidr_near(ix.v, ix.n);
			const struct rw_cidr *sa = NULL, *ia = NULL;
			const struct rw_peer *sp = rw_state_peer_overlap(&p, &c, &sa);
			const struct rw_peer *ip = rw_state_peer_overlap_ix(&p, &ix, &c, &ia);
			assert_ptr_equal(ip, sp);
			if (sp)
				assert_ptr_equal(ia, sa);
		}
		rw_cidrset_index_free(&ix);
		assert_null(ix.v);
	}
}

static void test_peer_index_fallback(void **state)
{
	(void)state;
	struct rw_cidr alice[] = { C("10.9.0.2/32"), C("fd00::2/128") };
	struct rw_cidr bob[] = { C("10.9.0.0/24") }; /* overlaps alice's */
	struct rw_peer pe[2] = { { .name = "alice", .addresses = alice, .n_addresses = 2 },
				 { .name = "bob", .addresses = bob, .n_addresses = 1 } };
	struct rw_policy p;
	memset(&p, 0, sizeof(p));
	p.vpn.enabled = true;
	p.vpn.peers = pe;
	p.vpn.n_peers = 2;
	struct rw_cidrset_index ix = RW_CIDRSET_INDEX_INIT;
	/* the loader refuses this; built by hand it gets no index */
	assert_int_equal(rw_cidrset_index_peers(&ix, &p), RW_EEXIST);
	assert_false(rw_cidrset_index_is_for(&ix, &p));
	uint8_t a[16] = { 10, 9, 0, 2 };
	/* callers then scan: the first peer in order */
	assert_ptr_equal(rw_decide_peer_of(&p, &ix, AF_INET, a), &pe[0]);

	/* an index of another policy is not used */
	p.vpn.n_peers = 1;
	assert_int_equal(rw_cidrset_index_peers(&ix, &p), 0);
	assert_true(rw_cidrset_index_is_for(&ix, &p));
	struct rw_policy other = p;
	struct rw_peer pe2[1] = { { .name = "carol", .addresses = bob, .n_addresses = 1 } };
	other.vpn.peers = pe2;
	assert_false(rw_cidrset_index_is_for(&ix, &other));
	assert_ptr_equal(rw_decide_peer_of(&other, &ix, AF_INET, a), &pe2[0]);
	struct rw_who w;
	rw_who_resolve_ix(&other, &ix, AF_INET, a, true, NULL, &w);
	assert_string_equal(w.name, "peer:carol");
	/* no vpn section, or not through the tunnel: no peer */
	p.vpn.enabled = false;
	assert_null(rw_decide_peer_of(&p, &ix, AF_INET, a));
	p.vpn.enabled = true;
	rw_who_resolve_ix(&p, &ix, AF_INET, a, false, NULL, &w);
	assert_null(w.peer);
	rw_cidrset_index_free(&ix);

	/* no peers: an empty index */
	p.vpn.n_peers = 0;
	assert_int_equal(rw_cidrset_index_peers(&ix, &p), 0);
	assert_int_equal(ix.n, 0);
	assert_int_equal(rw_cidrset_index_find(&ix, AF_INET, a), -1);
	assert_int_equal(rw_cidrset_index_overlap(&ix, &bob[0]), -1);
	rw_cidrset_index_free(&ix);
}

/* rw_state_outcome on a shuffled kernel listing, against the reference:
 * an addition took if one listed element holds it, a deletion if none
 * overlaps it. */
static void test_state_outcome(void **state)
{
	(void)state;
	rng_seed(5);
	static struct rw_cidr listed[300], req[40];
	unsigned char took[40];
	for (int round = 0; round < 100; round++) {
		size_t n = rnd_view(listed, rnd_below(300), 600);
		for (size_t i = n; i-- > 1;) {
			size_t j = rnd_below((uint32_t)(i + 1));
			struct rw_cidr t = listed[i];
			listed[i] = listed[j];
			listed[j] = t;
		}
		size_t k = 1 + rnd_below(40);
		for (size_t i = 0; i < k; i++)
			req[i] = rnd_cidr_near(listed, n);
		int add = (int)rnd_below(2);
		enum rw_state_outcome o = rw_state_outcome(add, req, k, listed, n, took);
		size_t yes = 0;
		for (size_t i = 0; i < k; i++) {
			int want = 0, any = 0;
			for (size_t j = 0; j < n; j++) {
				any |= ref_overlaps(&listed[j], &req[i]);
				want |= listed[j].family == req[i].family &&
					listed[j].prefix <= req[i].prefix &&
					rw_cidr_contains(&listed[j], req[i].family, req[i].addr);
			}
			if (!add)
				want = !any;
			assert_int_equal(took[i], want);
			yes += (size_t)want;
		}
		assert_int_equal(o, yes == 0 ? RW_STATE_NONE : yes == k ? RW_STATE_ALL : RW_STATE_SOME);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_order),
		cmocka_unit_test(test_edges),
		cmocka_unit_test(test_check),
		cmocka_unit_test(test_sort_unique),
		cmocka_unit_test(test_lookups_random),
		cmocka_unit_test(test_insert_remove),
		cmocka_unit_test(test_peer_index),
		cmocka_unit_test(test_peer_index_fallback),
		cmocka_unit_test(test_state_outcome),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
