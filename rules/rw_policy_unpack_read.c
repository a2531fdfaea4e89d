/* The values of the packed-policy format, read from untrusted bytes
 * (rw_policy_unpack_int.h; docs/design/policy-pack.md). Each reader
 * checks its value as it reads it: lengths and counts against the bytes
 * left before anything is allocated, text without NUL, names that fit
 * their array, families, prefix lengths, host bits, ports. */
#include "rules/rw_policy_unpack_int.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "rules/rw_cidr.h"
#include "rules/rw_cidrset.h"
#include "rules/rw_policy_pack.h"

/* Records the first (and only) error: the walk stops at it. */
int rw_up_fail(struct rw_up *u, int err, const char *what, long idx, const char *fmt, ...)
{
	if (!u->diag)
		return err;
	char msg[160], field[64];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (idx >= 0)
		snprintf(field, sizeof(field), "%s[%ld]", what, idx);
	else
		snprintf(field, sizeof(field), "%s", what);
	rw_diag_err(u->diag, NULL, 0, "policy message byte %zu: %s%s%s: %s", u->at, u->where,
		    u->where[0] && field[0] ? "." : "", field, msg);
	return err;
}

static size_t up_alen(uint8_t family)
{
	return family == AF_INET ? 4 : family == AF_INET6 ? 16 : 0;
}

/* n little-endian bytes; the caller has set u->at. */
int rw_up_le(struct rw_up *u, const char *what, long idx, size_t n, uint64_t *v)
{
	const uint8_t *b;
	*v = 0;
	if (rw_cur_bytes(&u->c, n, &b))
		return rw_up_fail(u, RW_EINCOMPLETE, what, idx, "the message ends inside it");
	uint64_t x = 0;
	for (size_t i = n; i-- > 0;)
		x = (x << 8) | b[i];
	*v = x;
	return 0;
}

static int up_uint(struct rw_up *u, const char *what, size_t n, uint64_t *v)
{
	u->at = u->c.off;
	return rw_up_le(u, what, -1, n, v);
}

int rw_up_u16(struct rw_up *u, const char *what, uint16_t *v)
{
	uint64_t x;
	int r = up_uint(u, what, 2, &x);
	*v = (uint16_t)x;
	return r;
}

int rw_up_u32(struct rw_up *u, const char *what, uint32_t *v)
{
	uint64_t x;
	int r = up_uint(u, what, 4, &x);
	*v = (uint32_t)x;
	return r;
}

int rw_up_u64(struct rw_up *u, const char *what, uint64_t *v)
{
	return up_uint(u, what, 8, v);
}

/* A config line: 32-bit two's complement back to an int. */
int rw_up_int(struct rw_up *u, const char *what, int *v)
{
	uint32_t x;
	int r = rw_up_u32(u, what, &x);
	*v = x <= INT32_MAX ? (int)x : (int)(x - INT32_MAX - 1) + INT32_MIN;
	return r;
}

/* 0 or 1 only: one encoding per value, and no bool holding 2. */
int rw_up_bool(struct rw_up *u, const char *what, bool *v)
{
	uint64_t x;
	int r = up_uint(u, what, 1, &x);
	if (r)
		return r;
	if (x > 1)
		return rw_up_fail(u, RW_ERANGE, what, -1, "a bool is 0 or 1, not %u", (unsigned)x);
	*v = x == 1;
	return 0;
}

/* The data path switches on these: a value outside the enum has no case. */
int rw_up_enum(struct rw_up *u, const char *what, long idx, unsigned max, unsigned *v)
{
	uint64_t x;
	u->at = u->c.off;
	int r = rw_up_le(u, what, idx, 1, &x);
	if (r)
		return r;
	if (x > max)
		return rw_up_fail(u, RW_ERANGE, what, idx, "%u is not one of 0..%u", (unsigned)x,
				  max);
	*v = (unsigned)x;
	return 0;
}

static int up_count(struct rw_up *u, const char *what, size_t min_size, size_t *n)
{
	uint32_t x = 0;
	int r = rw_up_u32(u, what, &x);
	if (r)
		return r;
	if (x > rw_cur_left(&u->c) / min_size)
		return rw_up_fail(u, RW_EINCOMPLETE, what, -1,
				  "%u elements need at least %zu bytes each, %zu bytes left", x,
				  min_size, rw_cur_left(&u->c));
	*n = x;
	return 0;
}

/* A counted array: calloc'ed only once its count fits the bytes left;
 * NULL for none (as the loader leaves an empty array). */
int rw_up_array(struct rw_up *u, const char *what, size_t min_size, size_t size,
		size_t *n, void **out)
{
	*out = NULL;
	*n = 0;
	size_t k = 0;
	int r = up_count(u, what, min_size, &k);
	if (r || k == 0)
		return r;
	*out = calloc(k, size);
	if (!*out)
		return rw_up_fail(u, RW_ENOMEM, what, -1, "out of memory for %zu elements", k);
	*n = k;
	return 0;
}

/* Borrow n bytes of text: no NUL inside, or a C string would end early. */
static int up_text(struct rw_up *u, const char *what, long idx, size_t n, const uint8_t **b)
{
	if (rw_cur_bytes(&u->c, n, b))
		return rw_up_fail(u, RW_EINCOMPLETE, what, idx, "%zu bytes of text, %zu left", n,
				  rw_cur_left(&u->c));
	if (memchr(*b, '\0', n))
		return rw_up_fail(u, RW_EINVAL, what, idx, "a NUL inside the text");
	return 0;
}

/* A string: length word (RW_POLICY_PACK_NULL: NULL, if nullable), text. */
int rw_up_str(struct rw_up *u, const char *what, long idx, bool nullable, char **out)
{
	uint64_t n;
	const uint8_t *b;
	*out = NULL;
	u->at = u->c.off;
	int r = rw_up_le(u, what, idx, 4, &n);
	if (r)
		return r;
	if (n == RW_POLICY_PACK_NULL && nullable)
		return 0;
	if (n == RW_POLICY_PACK_NULL)
		return rw_up_fail(u, RW_EINVAL, what, idx, "NULL where a string is required");
	if (n > RW_POLICY_PACK_STR_MAX)
		return rw_up_fail(u, RW_ETOOBIG, what, idx, "a string of %llu bytes (at most %u)",
				  (unsigned long long)n, RW_POLICY_PACK_STR_MAX);
	if ((r = up_text(u, what, idx, (size_t)n, &b)))
		return r;
	*out = malloc((size_t)n + 1);
	if (!*out)
		return rw_up_fail(u, RW_ENOMEM, what, idx, "out of memory");
	memcpy(*out, b, (size_t)n);
	(*out)[n] = '\0';
	return 0;
}

/* Server names: an array of strings, none NULL (fwd/ reads each). */
int rw_up_strv(struct rw_up *u, const char *what, char ***v, size_t *n)
{
	void *arr;
	int r = rw_up_array(u, what, PK_STR, sizeof(char *), n, &arr);
	*v = arr;
	for (size_t i = 0; !r && i < *n; i++)
		r = rw_up_str(u, what, (long)i, false, &(*v)[i]);
	return r;
}

/* A fixed-size name: length byte, text; it must fit with its NUL. */
int rw_up_name(struct rw_up *u, const char *what, char *dst, size_t cap)
{
	uint64_t n;
	const uint8_t *b;
	u->at = u->c.off;
	int r = rw_up_le(u, what, -1, 1, &n);
	if (r)
		return r;
	if (n >= cap)
		return rw_up_fail(u, RW_ERANGE, what, -1, "%u bytes do not fit %zu with the NUL",
				  (unsigned)n, cap);
	if ((r = up_text(u, what, -1, (size_t)n, &b)))
		return r;
	memcpy(dst, b, (size_t)n);
	dst[n] = '\0';
	return 0;
}

/* Family byte: AF_INET, AF_INET6, or 0 where the flags allow unset. */
static int up_family(struct rw_up *u, const char *what, long idx, unsigned flags, uint8_t *fam)
{
	uint64_t x;
	int r = rw_up_le(u, what, idx, 1, &x);
	if (r)
		return r;
	if (x != AF_INET && x != AF_INET6 && !(x == 0 && (flags & RW_UP_UNSET)))
		return rw_up_fail(u, RW_ERANGE, what, idx, "address family %u", (unsigned)x);
	*fam = (uint8_t)x;
	return 0;
}

/* The CIDR parser refuses IPv4-mapped IPv6 everywhere (the kernel sees
 * those clients as IPv4): a mapped address would match nothing and slip
 * past the checks that compare families. */
static int up_mapped(struct rw_up *u, const char *what, long idx, uint8_t family,
		     unsigned prefix, const uint8_t *addr)
{
	if (family == AF_INET6 && prefix >= 96 && rw_cidr_addr_is_mapped(addr))
		return rw_up_fail(u, RW_EINVAL, what, idx, "an IPv4-mapped IPv6 address");
	return 0;
}

int rw_up_cidr(struct rw_up *u, const char *what, long idx, unsigned flags,
	       struct rw_cidr *c)
{
	uint64_t prefix;
	u->at = u->c.off;
	int r = up_family(u, what, idx, flags, &c->family);
	if (!r)
		r = rw_up_le(u, what, idx, 1, &prefix);
	if (r)
		return r;
	size_t alen = up_alen(c->family);
	if (prefix > alen * 8)
		return rw_up_fail(u, RW_ERANGE, what, idx, "prefix length %u (at most %zu)",
				  (unsigned)prefix, alen * 8);
	c->prefix = (uint8_t)prefix;
	if (rw_cur_copy(&u->c, c->addr, alen))
		return rw_up_fail(u, RW_EINCOMPLETE, what, idx, "the message ends inside it");
	if ((r = up_mapped(u, what, idx, c->family, c->prefix, c->addr)))
		return r;
	if (flags & RW_UP_HOST_BITS)
		return 0;
	/* interval sets and the binary search hold networks, not hosts */
	uint8_t start[16], end[16];
	int ovf;
	rw_cidr_range(c, start, end, &ovf);
	if (memcmp(start, c->addr, alen) != 0)
		return rw_up_fail(u, RW_EINVAL, what, idx, "host bits set");
	return 0;
}

int rw_up_endpoint(struct rw_up *u, const char *what, unsigned flags, struct rw_endpoint *e)
{
	uint64_t port;
	u->at = u->c.off;
	int r = up_family(u, what, -1, flags, &e->family);
	if (r || e->family == 0)
		return r;
	if (rw_cur_copy(&u->c, e->addr, up_alen(e->family)))
		return rw_up_fail(u, RW_EINCOMPLETE, what, -1, "the message ends inside it");
	if ((r = rw_up_le(u, what, -1, 2, &port)))
		return r;
	e->port = (uint16_t)port;
	if ((r = up_mapped(u, what, -1, e->family, 128, e->addr)))
		return r;
	if (e->port == 0 && !(flags & RW_UP_PORT0))
		return rw_up_fail(u, RW_ERANGE, what, -1, "port 0");
	return 0;
}

/* The data path binary-searches a network's prefixes (fwd/rw_decide.c,
 * rw_decide_source_fn) and live changes find them the same way: IPv4
 * before IPv6, each family ascending and disjoint, as rw_cidrset_merge
 * leaves them. Sorted by start, b overlaps a iff it starts before a ends. */
static int up_cidr_after(struct rw_up *u, long idx, const struct rw_cidr *a,
			 const struct rw_cidr *b)
{
	if (a->family != b->family) {
		if (a->family == AF_INET6)
			return rw_up_fail(u, RW_EINVAL, "cidrs", idx, "IPv4 after IPv6");
		return 0;
	}
	uint8_t as[16], ae[16], bs[16], be[16];
	int a_ovf, b_ovf;
	size_t alen = up_alen(a->family);
	rw_cidr_range(a, as, ae, &a_ovf);
	rw_cidr_range(b, bs, be, &b_ovf);
	if (memcmp(bs, as, alen) < 0)
		return rw_up_fail(u, RW_EINVAL, "cidrs", idx, "below the prefix before it");
	if (a_ovf || memcmp(bs, ae, alen) < 0)
		return rw_up_fail(u, RW_EEXIST, "cidrs", idx, "overlaps the prefix before it");
	return 0;
}

/* Prefixes: network ones ordered (sorted), a peer's in config order. */
int rw_up_cidrs(struct rw_up *u, const char *what, bool sorted, struct rw_cidr **v,
		size_t *n)
{
	void *arr;
	int r = rw_up_array(u, what, PK_CIDR, sizeof(struct rw_cidr), n, &arr);
	*v = arr;
	for (size_t i = 0; !r && i < *n; i++) {
		r = rw_up_cidr(u, what, (long)i, 0, &(*v)[i]);
		if (!r && sorted && i > 0)
			r = up_cidr_after(u, (long)i, &(*v)[i - 1], &(*v)[i]);
	}
	return r;
}

int rw_up_roles(struct rw_up *u, struct rw_role **v, size_t *n)
{
	void *arr;
	int r = rw_up_array(u, "roles", PK_ROLE, sizeof(struct rw_role), n, &arr);
	*v = arr;
	for (size_t i = 0; !r && i < *n; i++) {
		unsigned op = 0;
		r = rw_up_enum(u, "roles", (long)i, RW_ROLE_DELETE, &op);
		(*v)[i].op = (enum rw_op_class)op;
		if (!r) /* a role is its glob: the loader never leaves one NULL */
			r = rw_up_str(u, "roles", (long)i, false, &(*v)[i].glob);
	}
	return r;
}
