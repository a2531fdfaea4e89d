/* Benchmark (not a test) of address lookups in a set of prefixes, the
 * question every worker asks per connection (rules/rw_cidrset.h):
 *
 *   linear_ns  ns per lookup scanning every prefix with rw_cidr_contains
 *              (what rw_who_resolve did per network, and still does over
 *              the VPN peers without an index)
 *   set_ns     ns per lookup with rw_cidrset_contains (binary search)
 *
 * for sets of 10, 1,000 and 100,000 disjoint prefixes (IPv4 /24s and /32s
 * spread over the space, a tenth IPv6), each queried with the same
 * LOOKUPS addresses: half inside a member (first, last or a middle
 * address), half outside every member. The linear scan of the larger sets
 * gets fewer lookups (its time per lookup is what counts). "100k" is
 * 100,000 generated prefixes less the few the merge absorbs (the line per
 * size prints the count). Each figure is the median of RUNS runs (default
 * 9, env BENCH_RUNS). A checksum of the answers of both methods must
 * agree, or the benchmark fails. Last line:
 *   RESULT n10_linear_ns=.. n10_set_ns=.. n1k_linear_ns=.. n1k_set_ns=..
 *          n100k_linear_ns=.. n100k_set_ns=..
 * (one line). Run: build/bench/bench_cidrset */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "rules/rw_cidr.h"
#include "rules/rw_cidrset.h"

#define LOOKUPS 4096

struct query {
	int family;
	uint8_t addr[16];
};

static uint64_t rng = 0x243f6a8885a308d3ull;

static uint32_t rnd(void)
{
	rng ^= rng >> 12;
	rng ^= rng << 25;
	rng ^= rng >> 27;
	return (uint32_t)((rng * 0x2545f4914f6cdd1dull) >> 32);
}

static double now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

/* n disjoint prefixes: distinct random /24 (or /32) blocks of IPv4, every
 * tenth an IPv6 /48 (or /128); merged, which sorts and drops the rare
 * collision, so the result is a view. */
static struct rw_cidr *make_set(size_t n, size_t *out_n)
{
	struct rw_cidr *v = calloc(n, sizeof(*v));
	if (!v)
		return NULL;
	for (size_t i = 0; i < n; i++) {
		struct rw_cidr *c = &v[i];
		uint32_t r = rnd();
		if (i % 10 == 9) {
			c->family = AF_INET6;
			c->addr[0] = 0x20;
			c->addr[1] = 0x01;
			c->addr[2] = 0x0d;
			c->addr[3] = 0xb8;
			c->addr[4] = (uint8_t)(r >> 8);
			c->addr[5] = (uint8_t)r;
			if (r & 0x10000) {
				c->prefix = 48;
			} else {
				c->prefix = 128;
				c->addr[15] = (uint8_t)(r >> 24) | 1;
			}
		} else {
			c->family = AF_INET;
			c->addr[0] = (uint8_t)(1 + (r >> 24) % 223);
			c->addr[1] = (uint8_t)(r >> 16);
			c->addr[2] = (uint8_t)(r >> 8);
			if (r & 0x80) {
				c->prefix = 24;
			} else {
				c->prefix = 32;
				c->addr[3] = (uint8_t)r | 1;
			}
		}
	}
	rw_cidrset_merge(v, &n);
	*out_n = n;
	return v;
}

static void make_queries(const struct rw_cidr *v, size_t n, struct query *q)
{
	for (size_t i = 0; i < LOOKUPS; i++) {
		memset(&q[i], 0, sizeof(q[i]));
		if (i % 2 == 0) { /* inside a member */
			const struct rw_cidr *m = &v[rnd() % n];
			q[i].family = m->family;
			memcpy(q[i].addr, m->addr, 16);
			size_t alen = m->family == AF_INET ? 4 : 16;
			for (size_t bit = m->prefix; bit < alen * 8; bit++)
				if (rnd() & 1)
					q[i].addr[bit / 8] |= (uint8_t)(0x80u >> (bit % 8));
		} else { /* most likely outside: random */
			uint32_t r = rnd();
			q[i].family = i % 20 == 19 ? AF_INET6 : AF_INET;
			if (q[i].family == AF_INET6) {
				q[i].addr[0] = 0x20;
				q[i].addr[1] = 0x02;
			}
			memcpy(q[i].addr + (q[i].family == AF_INET6 ? 12 : 0), &r, 4);
		}
	}
}

static const struct rw_cidr *linear(const struct rw_cidr *v, size_t n, int family,
				    const uint8_t *addr)
{
	for (size_t i = 0; i < n; i++)
		if (rw_cidr_contains(&v[i], family, addr))
			return &v[i];
	return NULL;
}

/* ns per lookup over count lookups (the queries in turn); *sum: a
 * checksum of the answers (member index + 1, 0 for none) */
static double time_linear(const struct rw_cidr *v, size_t n, const struct query *q,
			  size_t count, uint64_t *sum)
{
	double t0 = now_ns();
	uint64_t s = 0;
	for (size_t i = 0; i < count; i++) {
		const struct rw_cidr *m = linear(v, n, q[i % LOOKUPS].family, q[i % LOOKUPS].addr);
		s += m ? (uint64_t)(m - v) + 1 : 0;
	}
	*sum = s;
	return (now_ns() - t0) / (double)count;
}

static double time_set(const struct rw_cidr *v, size_t n, const struct query *q, size_t count,
		       uint64_t *sum)
{
	double t0 = now_ns();
	uint64_t s = 0;
	for (size_t i = 0; i < count; i++) {
		const struct rw_cidr *m =
			rw_cidrset_contains(v, n, q[i % LOOKUPS].family, q[i % LOOKUPS].addr);
		s += m ? (uint64_t)(m - v) + 1 : 0;
	}
	*sum = s;
	return (now_ns() - t0) / (double)count;
}

int main(void)
{
	const size_t sizes[] = { 10, 1000, 100000 };
	const char *names[] = { "n10", "n1k", "n100k" };
	const char *env = getenv("BENCH_RUNS");
	size_t runs = env && atoi(env) > 0 ? (size_t)atoi(env) : 9;
	double lin_med[3], set_med[3];
	static struct query q[LOOKUPS];
	for (size_t s = 0; s < 3; s++) {
		size_t n;
		struct rw_cidr *v = make_set(sizes[s], &n);
		if (!v || rw_cidrset_check(v, n, NULL) != 0) {
			fprintf(stderr, "bench_cidrset: cannot build a set of %zu\n", sizes[s]);
			return 1;
		}
		make_queries(v, n, q);
		/* the same lookups for both, counted so each run takes a few ms */
		size_t lin_count = sizes[s] >= 100000 ? LOOKUPS / 16
				   : sizes[s] >= 1000 ? LOOKUPS * 2 : LOOKUPS * 64;
		size_t set_count = LOOKUPS * 64;
		double *lt = calloc(runs, sizeof(double)), *st = calloc(runs, sizeof(double));
		if (!lt || !st)
			return 1;
		/* the same answers: one pass of each over (a part of) the queries */
		uint64_t a, b;
		time_linear(v, n, q, lin_count < LOOKUPS ? lin_count : LOOKUPS, &a);
		time_set(v, n, q, lin_count < LOOKUPS ? lin_count : LOOKUPS, &b);
		if (a != b) {
			fprintf(stderr, "bench_cidrset: answers differ for %zu prefixes\n", n);
			return 1;
		}
		for (size_t r = 0; r < runs; r++) {
			lt[r] = time_linear(v, n, q, lin_count, &a);
			st[r] = time_set(v, n, q, set_count, &b);
		}
		qsort(lt, runs, sizeof(double), cmp_double);
		qsort(st, runs, sizeof(double), cmp_double);
		lin_med[s] = lt[runs / 2];
		set_med[s] = st[runs / 2];
		printf("%zu prefixes: linear %.1f ns/lookup, set %.1f ns/lookup (median of %zu runs; "
		       "%zu and %zu lookups per run)\n",
		       n, lin_med[s], set_med[s], runs, lin_count, set_count);
		free(lt);
		free(st);
		free(v);
	}
	printf("RESULT");
	for (size_t s = 0; s < 3; s++)
		printf(" %s_linear_ns=%.0f %s_set_ns=%.0f", names[s], lin_med[s], names[s], set_med[s]);
	printf("\n");
	return 0;
}
