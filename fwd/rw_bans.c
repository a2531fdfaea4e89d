/* The bans the data path checks (rw_bans.h). */
#include "fwd/rw_bans.h"

#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "base/rw_err.h"
#include "rules/rw_cidr.h"

void rw_bans_init(struct rw_bans *b)
{
	memset(b, 0, sizeof(*b));
}

static void rw_bans_part_free(struct rw_bans_part *p)
{
	rw_cidrset_free(&p->set);
	free(p->exp);
	p->exp = NULL;
	p->cap_exp = 0;
}

void rw_bans_free(struct rw_bans *b)
{
	rw_bans_part_free(&b->host);
	rw_bans_part_free(&b->pfx);
	rw_bans_init(b);
}

bool rw_bans_cidr_ok(const struct rw_cidr *c)
{
	/* a one-member view is valid iff the member is */
	return rw_cidrset_check(c, 1, NULL) == 0 && c->prefix >= 1;
}

bool rw_bans_is_host(const struct rw_cidr *c)
{
	return c->prefix == (c->family == AF_INET ? 32 : 128);
}

static struct rw_bans_part *rw_bans_part_of(struct rw_bans *b, const struct rw_cidr *c)
{
	return rw_bans_is_host(c) ? &b->host : &b->pfx;
}

/* Room for one more expiry, before the set itself grows: a failure then
 * leaves both as they were. */
static int rw_bans_reserve(struct rw_bans_part *p)
{
	if (p->set.n < p->cap_exp)
		return 0;
	size_t cap = p->cap_exp ? p->cap_exp * 2 : 16;
	if (cap > SIZE_MAX / sizeof(*p->exp))
		return RW_ENOMEM;
	uint64_t *e = realloc(p->exp, cap * sizeof(*e));
	if (!e)
		return RW_ENOMEM;
	p->exp = e;
	p->cap_exp = cap;
	return 0;
}

static void rw_bans_note_exp(struct rw_bans *b, uint64_t expires_ms)
{
	if (b->next_exp == 0 || expires_ms < b->next_exp)
		b->next_exp = expires_ms;
}

/* Member i goes, its expiry with it. */
static void rw_bans_part_drop(struct rw_bans_part *p, size_t i)
{
	size_t rest = p->set.n - i - 1;
	memmove(&p->set.v[i], &p->set.v[i + 1], rest * sizeof(*p->set.v));
	memmove(&p->exp[i], &p->exp[i + 1], rest * sizeof(*p->exp));
	p->set.n--;
}

/* c into p at its place (no member overlaps it). */
static int rw_bans_part_put(struct rw_bans_part *p, const struct rw_cidr *c, uint64_t expires_ms)
{
	int r = rw_bans_reserve(p);
	if (r)
		return r;
	size_t at = rw_cidrset_lower(p->set.v, p->set.n, c);
	r = rw_cidrset_insert(&p->set, c); /* puts it at `at` */
	if (r)
		return r;
	memmove(&p->exp[at + 1], &p->exp[at], (p->set.n - 1 - at) * sizeof(*p->exp));
	p->exp[at] = expires_ms;
	return 0;
}

int rw_bans_add(struct rw_bans *b, const struct rw_cidr *c, uint64_t expires_ms)
{
	if (!rw_bans_cidr_ok(c) || expires_ms == 0)
		return RW_EINVAL;
	struct rw_bans_part *p = rw_bans_part_of(b, c);
	long at = rw_cidrset_find_exact(p->set.v, p->set.n, c);
	if (at >= 0) { /* a re-ban: the new time */
		p->exp[at] = expires_ms;
		rw_bans_note_exp(b, expires_ms);
		return 0;
	}
	/* room first, so that replacing overlapping prefixes cannot be
	 * followed by a failed insert */
	int r = rw_bans_reserve(p);
	if (r)
		return r;
	const struct rw_cidr *o;
	while ((o = rw_cidrset_overlap(p->set.v, p->set.n, c)))
		rw_bans_part_drop(p, (size_t)(o - p->set.v));
	r = rw_bans_part_put(p, c, expires_ms);
	if (!r)
		rw_bans_note_exp(b, expires_ms);
	return r;
}

int rw_bans_del(struct rw_bans *b, const struct rw_cidr *c)
{
	struct rw_bans_part *p = rw_bans_part_of(b, c);
	long at = rw_cidrset_find_exact(p->set.v, p->set.n, c);
	if (at < 0)
		return RW_ENOENT;
	rw_bans_part_drop(p, (size_t)at);
	return 0;
}

int rw_bans_append(struct rw_bans *b, const struct rw_cidr *c, uint64_t expires_ms)
{
	if (!rw_bans_cidr_ok(c) || expires_ms == 0)
		return RW_EINVAL;
	struct rw_bans_part *p = rw_bans_part_of(b, c);
	if (p->set.n) {
		const struct rw_cidr *last = &p->set.v[p->set.n - 1];
		if (rw_cidrset_cmp(last, c) >= 0)
			return RW_EINVAL;
		if (rw_cidr_overlap(last, c))
			return RW_EEXIST;
	}
	/* after the last member: the insert's search ends at the end */
	int r = rw_bans_part_put(p, c, expires_ms);
	if (!r)
		rw_bans_note_exp(b, expires_ms);
	return r;
}

static bool rw_bans_part_find(const struct rw_bans_part *p, int family, const uint8_t *addr,
			      uint64_t now_ms, struct rw_cidr *hit, uint64_t *expires)
{
	const struct rw_cidr *m = rw_cidrset_contains(p->set.v, p->set.n, family, addr);
	if (!m)
		return false;
	uint64_t e = p->exp[m - p->set.v];
	if (now_ms >= e)
		return false; /* expired: not pruned yet */
	if (hit)
		*hit = *m;
	if (expires)
		*expires = e;
	return true;
}

bool rw_bans_find(const struct rw_bans *b, int family, const uint8_t *addr, uint64_t now_ms,
		  struct rw_cidr *hit, uint64_t *expires)
{
	return rw_bans_part_find(&b->host, family, addr, now_ms, hit, expires) ||
	       rw_bans_part_find(&b->pfx, family, addr, now_ms, hit, expires);
}

bool rw_bans_has(const struct rw_bans *b, const struct rw_cidr *c, uint64_t now_ms)
{
	const struct rw_bans_part *p = rw_bans_is_host(c) ? &b->host : &b->pfx;
	long at = rw_cidrset_find_exact(p->set.v, p->set.n, c);
	return at >= 0 && now_ms < p->exp[at];
}

/* Keep the members of p in force at now_ms, in order; the earliest
 * expiry left goes into *next. */
static size_t rw_bans_part_prune(struct rw_bans_part *p, uint64_t now_ms, uint64_t *next)
{
	size_t out = 0, n = p->set.n;
	for (size_t i = 0; i < n; i++) {
		if (now_ms >= p->exp[i])
			continue;
		p->set.v[out] = p->set.v[i];
		p->exp[out++] = p->exp[i];
		if (*next == 0 || p->exp[i] < *next)
			*next = p->exp[i];
	}
	p->set.n = out;
	return n - out;
}

size_t rw_bans_prune(struct rw_bans *b, uint64_t now_ms)
{
	if (b->next_exp == 0 || now_ms < b->next_exp)
		return 0;
	uint64_t next = 0;
	size_t n = rw_bans_part_prune(&b->host, now_ms, &next);
	n += rw_bans_part_prune(&b->pfx, now_ms, &next);
	b->next_exp = next;
	return n;
}

size_t rw_bans_count(const struct rw_bans *b)
{
	return b->host.set.n + b->pfx.set.n;
}

uint64_t rw_bans_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}
