/* Sorted, disjoint CIDR sets (rw_cidrset.h). */
#include "rules/rw_cidrset.h"

#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "base/rw_err.h"
#include "rules/rw_cidr.h"

static size_t rw_cidrset_alen(int family)
{
	return family == AF_INET ? 4 : 16;
}

/* IPv4 first, then IPv6, then anything else by number */
static int rw_cidrset_rank(int family)
{
	return family == AF_INET ? 0 : family == AF_INET6 ? 1 : 2 + family;
}

static bool rw_cidrset_valid(const struct rw_cidr *c)
{
	if (c->family != AF_INET && c->family != AF_INET6)
		return false;
	size_t alen = rw_cidrset_alen(c->family);
	if (c->prefix > alen * 8)
		return false;
	for (size_t bit = c->prefix; bit < alen * 8; bit++)
		if (c->addr[bit / 8] & (0x80u >> (bit % 8)))
			return false;
	for (size_t i = alen; i < sizeof(c->addr); i++)
		if (c->addr[i])
			return false;
	return true;
}

int rw_cidrset_cmp(const struct rw_cidr *a, const struct rw_cidr *b)
{
	int ra = rw_cidrset_rank(a->family), rb = rw_cidrset_rank(b->family);
	if (ra != rb)
		return ra < rb ? -1 : 1;
	int r = memcmp(a->addr, b->addr, rw_cidrset_alen(a->family));
	if (r)
		return r < 0 ? -1 : 1;
	return a->prefix < b->prefix ? -1 : a->prefix > b->prefix;
}

/* A member's start against an address: <0, 0, >0. */
static int rw_cidrset_cmp_addr(const struct rw_cidr *m, int family, const uint8_t *addr)
{
	int rm = rw_cidrset_rank(m->family), ra = rw_cidrset_rank(family);
	if (rm != ra)
		return rm < ra ? -1 : 1;
	return memcmp(m->addr, addr, rw_cidrset_alen(family));
}

size_t rw_cidrset_lower(const struct rw_cidr *v, size_t n, const struct rw_cidr *c)
{
	size_t lo = 0, hi = n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (rw_cidrset_cmp(&v[mid], c) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/* Number of members starting at or before addr. */
static size_t rw_cidrset_upper_addr(const struct rw_cidr *v, size_t n, int family,
				    const uint8_t *addr)
{
	size_t lo = 0, hi = n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (rw_cidrset_cmp_addr(&v[mid], family, addr) <= 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

const struct rw_cidr *rw_cidrset_contains(const struct rw_cidr *v, size_t n, int family,
					  const uint8_t *addr)
{
	if (family != AF_INET && family != AF_INET6)
		return NULL;
	size_t pos = rw_cidrset_upper_addr(v, n, family, addr);
	/* members are disjoint: one starting between the holder's start and
	 * addr would lie inside the holder */
	if (pos > 0 && rw_cidr_contains(&v[pos - 1], family, addr))
		return &v[pos - 1];
	return NULL;
}

const struct rw_cidr *rw_cidrset_overlap(const struct rw_cidr *v, size_t n,
					 const struct rw_cidr *c)
{
	size_t pos = rw_cidrset_lower(v, n, c);
	/* v[pos] starts at or after c's start (at it only when not wider than
	 * c): it overlaps c iff c holds its start */
	if (pos < n && rw_cidr_contains(c, v[pos].family, v[pos].addr))
		return &v[pos];
	/* v[pos - 1] starts before c, or at c's start and is wider: it
	 * overlaps c iff it holds c's start (then it holds all of c) */
	if (pos > 0 && rw_cidr_contains(&v[pos - 1], c->family, c->addr))
		return &v[pos - 1];
	return NULL;
}

long rw_cidrset_find_exact(const struct rw_cidr *v, size_t n, const struct rw_cidr *c)
{
	size_t pos = rw_cidrset_lower(v, n, c);
	if (pos < n && rw_cidrset_cmp(&v[pos], c) == 0)
		return (long)pos;
	return -1;
}

int rw_cidrset_check(const struct rw_cidr *v, size_t n, size_t *bad)
{
	for (size_t i = 0; i < n; i++) {
		int r = 0;
		if (!rw_cidrset_valid(&v[i]))
			r = RW_EINVAL;
		else if (i > 0) {
			int o = rw_cidrset_cmp(&v[i - 1], &v[i]);
			if (o > 0)
				r = RW_EINVAL;
			else if (o == 0 || rw_cidr_contains(&v[i - 1], v[i].family, v[i].addr))
				r = RW_EEXIST;
		}
		if (r) {
			if (bad)
				*bad = i;
			return r;
		}
	}
	return 0;
}

static int rw_cidrset_qcmp(const void *x, const void *y)
{
	return rw_cidrset_cmp(x, y);
}

void rw_cidrset_sort(struct rw_cidr *v, size_t n)
{
	if (n > 1)
		qsort(v, n, sizeof(*v), rw_cidrset_qcmp);
}

size_t rw_cidrset_merge(struct rw_cidr *v, size_t *n)
{
	if (*n < 2)
		return 0;
	for (size_t i = 0; i < *n; i++)
		rw_cidr_clear_host_bits(&v[i]);
	/* the canonical order (rw_cidrset_cmp): a merged array is a set
	 * view, and wider first lets a prefix absorb the narrower ones that
	 * follow */
	rw_cidrset_sort(v, *n);
	size_t out = 0, absorbed = 0;
	for (size_t i = 0; i < *n; i++) {
		/* Sorted by start address with wider prefixes first: an entry
		 * overlaps the previous kept one iff the kept one contains its
		 * start (prefixes never partially overlap). */
		if (out > 0 && rw_cidr_contains(&v[out - 1], v[i].family, v[i].addr)) {
			absorbed++;
			continue;
		}
		v[out++] = v[i];
	}
	*n = out;
	return absorbed;
}

size_t rw_cidrset_sort_unique(struct rw_cidr *v, size_t *n)
{
	rw_cidrset_sort(v, *n);
	size_t out = 0;
	for (size_t i = 0; i < *n; i++)
		if (out == 0 || rw_cidrset_cmp(&v[out - 1], &v[i]) != 0)
			v[out++] = v[i];
	size_t dropped = *n - out;
	*n = out;
	return dropped;
}

/* Where c goes in (v, n), or RW_EEXIST / RW_EINVAL. */
static long rw_cidrset_slot(const struct rw_cidr *v, size_t n, const struct rw_cidr *c)
{
	if (!rw_cidrset_valid(c))
		return RW_EINVAL;
	if (rw_cidrset_overlap(v, n, c))
		return RW_EEXIST;
	return (long)rw_cidrset_lower(v, n, c);
}

static void rw_cidrset_put(struct rw_cidr *v, size_t n, size_t pos, const struct rw_cidr *c)
{
	memmove(&v[pos + 1], &v[pos], (n - pos) * sizeof(*v));
	v[pos] = *c;
}

static int rw_cidrset_take(struct rw_cidr *v, size_t *n, const struct rw_cidr *c)
{
	long at = rw_cidrset_find_exact(v, *n, c);
	if (at < 0)
		return RW_ENOENT;
	memmove(&v[at], &v[at + 1], (*n - (size_t)at - 1) * sizeof(*v));
	(*n)--;
	return 0;
}

int rw_cidrset_net_insert(struct rw_network *net, const struct rw_cidr *c)
{
	long pos = rw_cidrset_slot(net->cidrs, net->n_cidrs, c);
	if (pos < 0)
		return (int)pos;
	struct rw_cidr *v = realloc(net->cidrs, (net->n_cidrs + 1) * sizeof(*v));
	if (!v)
		return RW_ENOMEM;
	net->cidrs = v;
	rw_cidrset_put(v, net->n_cidrs, (size_t)pos, c);
	net->n_cidrs++;
	return 0;
}

int rw_cidrset_net_remove(struct rw_network *net, const struct rw_cidr *c)
{
	return rw_cidrset_take(net->cidrs, &net->n_cidrs, c);
}

void rw_cidrset_init(struct rw_cidrset *s)
{
	memset(s, 0, sizeof(*s));
}

void rw_cidrset_free(struct rw_cidrset *s)
{
	free(s->v);
	rw_cidrset_init(s);
}

int rw_cidrset_insert(struct rw_cidrset *s, const struct rw_cidr *c)
{
	long pos = rw_cidrset_slot(s->v, s->n, c);
	if (pos < 0)
		return (int)pos;
	if (s->n == s->cap) {
		size_t cap = s->cap ? s->cap * 2 : 16;
		if (cap > SIZE_MAX / sizeof(*s->v))
			return RW_ENOMEM;
		struct rw_cidr *v = realloc(s->v, cap * sizeof(*v));
		if (!v)
			return RW_ENOMEM;
		s->v = v;
		s->cap = cap;
	}
	rw_cidrset_put(s->v, s->n, (size_t)pos, c);
	s->n++;
	return 0;
}

int rw_cidrset_remove(struct rw_cidrset *s, const struct rw_cidr *c)
{
	return rw_cidrset_take(s->v, &s->n, c);
}

/* ---- index ---- */

struct rw_cidrset_ientry {
	struct rw_cidr c;
	struct rw_cidrset_owner o;
};

static int rw_cidrset_ientry_cmp(const void *x, const void *y)
{
	const struct rw_cidrset_ientry *a = x, *b = y;
	int r = rw_cidrset_cmp(&a->c, &b->c);
	if (r)
		return r;
	if (a->o.owner != b->o.owner)
		return a->o.owner < b->o.owner ? -1 : 1;
	return a->o.sub < b->o.sub ? -1 : a->o.sub > b->o.sub;
}

void rw_cidrset_index_free(struct rw_cidrset_index *ix)
{
	free(ix->v);
	free(ix->own);
	memset(ix, 0, sizeof(*ix));
}

int rw_cidrset_index_peers(struct rw_cidrset_index *ix, const struct rw_policy *p)
{
	memset(ix, 0, sizeof(*ix));
	const struct rw_vpn *vpn = &p->vpn;
	size_t n = 0;
	if (vpn->n_peers > UINT32_MAX)
		return RW_ERANGE;
	for (size_t i = 0; i < vpn->n_peers; i++) {
		if (vpn->peers[i].n_addresses > UINT32_MAX)
			return RW_ERANGE;
		n += vpn->peers[i].n_addresses;
	}
	struct rw_cidrset_ientry *e = n ? calloc(n, sizeof(*e)) : NULL;
	if (n && !e)
		return RW_ENOMEM;
	size_t k = 0;
	for (size_t i = 0; i < vpn->n_peers; i++)
		for (size_t j = 0; j < vpn->peers[i].n_addresses; j++) {
			e[k].c = vpn->peers[i].addresses[j];
			e[k].o.owner = (uint32_t)i;
			e[k++].o.sub = (uint32_t)j;
		}
	if (n > 1)
		qsort(e, n, sizeof(*e), rw_cidrset_ientry_cmp);
	int rc = 0;
	if (n) {
		ix->v = malloc(n * sizeof(*ix->v));
		ix->own = malloc(n * sizeof(*ix->own));
		if (!ix->v || !ix->own)
			rc = RW_ENOMEM;
	}
	for (size_t i = 0; !rc && i < n; i++) {
		ix->v[i] = e[i].c;
		ix->own[i] = e[i].o;
	}
	free(e);
	if (!rc && rw_cidrset_check(ix->v, n, NULL) != 0)
		rc = RW_EEXIST; /* overlapping (or invalid) addresses: no index */
	if (rc) {
		rw_cidrset_index_free(ix);
		return rc;
	}
	ix->n = n;
	ix->src = vpn->peers;
	ix->n_src = vpn->n_peers;
	return 0;
}

bool rw_cidrset_index_is_for(const struct rw_cidrset_index *ix, const struct rw_policy *p)
{
	return ix && p && ix->src == (const void *)p->vpn.peers && ix->n_src == p->vpn.n_peers;
}

long rw_cidrset_index_find(const struct rw_cidrset_index *ix, int family, const uint8_t *addr)
{
	const struct rw_cidr *m = rw_cidrset_contains(ix->v, ix->n, family, addr);
	return m ? (long)(m - ix->v) : -1;
}

long rw_cidrset_index_overlap(const struct rw_cidrset_index *ix, const struct rw_cidr *c)
{
	size_t pos = rw_cidrset_lower(ix->v, ix->n, c);
	/* a member holding c's start holds all of c, and no other member
	 * can overlap c then */
	if (pos > 0 && rw_cidr_contains(&ix->v[pos - 1], c->family, c->addr))
		return (long)(pos - 1);
	/* else the members overlapping c are those inside it: a run from pos */
	long best = -1;
	for (size_t i = pos; i < ix->n && rw_cidr_contains(c, ix->v[i].family, ix->v[i].addr); i++) {
		const struct rw_cidrset_owner *o = &ix->own[i];
		if (best < 0 || o->owner < ix->own[best].owner ||
		    (o->owner == ix->own[best].owner && o->sub < ix->own[best].sub))
			best = (long)i;
	}
	return best;
}
