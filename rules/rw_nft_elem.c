/* Set elements: CIDR lists to interval elements (as nft 1.0.6 encodes
 * them) and interval ranges back to CIDRs.
 *
 * An interval set stores each range [a, b) as two elements (end exclusive):
 *
 *   key=a  flags=0                      start
 *   key=b  flags=NFT_SET_ELEM_INTERVAL_END
 *
 * Edges: a whole set whose first range does not start at address 0 gets a
 * leading key-0 INTERVAL_END element; a range reaching the top of the
 * address space (0.0.0.0/0, ::/0, 255.255.255.0/24) has no end element
 * and its start carries element userdata FLAGS=INTERVAL_OPEN. */
#include <linux/netfilter/nf_tables.h>
#include <string.h>
#include <sys/socket.h>

#include <libnftnl/set.h>
#include <libnftnl/udata.h>

#include "rules/rw_cidr.h"
#include "rules/rw_nft_int.h"

static uint32_t rw_nft_alen(int family)
{
	return family == AF_INET ? 4 : 16;
}

/* One element. open: the start of a range reaching the top of the
 * address space (nft's INTERVAL_OPEN userdata flag); timeout_ms 0 = the
 * set's default; comment NULL or "" = none (both only on starts and
 * hosts: an end element carries nothing but its key and flag). */
static int rw_nft_elem_put(struct nftnl_set *s, const uint8_t *key, uint32_t alen,
			   uint32_t flags, int open, uint64_t timeout_ms, const char *comment)
{
	struct nftnl_set_elem *e = nftnl_set_elem_alloc();
	if (!e)
		return RW_ENOMEM;
	nftnl_set_elem_set(e, NFTNL_SET_ELEM_KEY, key, alen);
	if (flags)
		nftnl_set_elem_set_u32(e, NFTNL_SET_ELEM_FLAGS, flags);
	if (timeout_ms)
		nftnl_set_elem_set_u64(e, NFTNL_SET_ELEM_TIMEOUT, timeout_ms);
	int has_comment = comment && comment[0];
	if (open || has_comment) {
		/* what nft attaches: the open-range flag so that it can print
		 * the range back, and `comment "..."` as one NUL-terminated
		 * string */
		struct nftnl_udata_buf *u = nftnl_udata_buf_alloc(NFT_USERDATA_MAXLEN);
		if (!u || (open && !nftnl_udata_put_u32(u, NFTNL_UDATA_SET_ELEM_FLAGS,
							 NFTNL_SET_ELEM_F_INTERVAL_OPEN)) ||
		    (has_comment && !nftnl_udata_put_strz(u, NFTNL_UDATA_SET_ELEM_COMMENT, comment))) {
			nftnl_udata_buf_free(u);
			nftnl_set_elem_free(e);
			return RW_ENOMEM;
		}
		nftnl_set_elem_set(e, NFTNL_SET_ELEM_USERDATA, nftnl_udata_buf_data(u),
				   nftnl_udata_buf_len(u));
		nftnl_udata_buf_free(u);
	}
	nftnl_set_elem_add(s, e);
	return 0;
}

long rw_nft_elems_interval(struct nftnl_set *s, const struct rw_cidr *v, size_t n,
			   int with_marker)
{
	static const uint8_t zero[16];
	long count = 0;
	for (size_t i = 0; i < n; i++) {
		uint8_t start[16], end[16];
		int overflow = 0;
		uint32_t alen = rw_nft_alen(v[i].family);
		rw_cidr_range(&v[i], start, end, &overflow);
		if (i == 0 && with_marker && memcmp(start, zero, alen) != 0) {
			if (rw_nft_elem_put(s, zero, alen, NFT_SET_ELEM_INTERVAL_END, 0, 0, NULL))
				return RW_ENOMEM;
			count++;
		}
		if (rw_nft_elem_put(s, start, alen, 0, overflow, 0, NULL))
			return RW_ENOMEM;
		count++;
		if (!overflow) {
			if (rw_nft_elem_put(s, end, alen, NFT_SET_ELEM_INTERVAL_END, 0, 0, NULL))
				return RW_ENOMEM;
			count++;
		}
	}
	return count;
}

int rw_nft_elem_host(struct nftnl_set *s, const struct rw_cidr *c, uint64_t timeout_ms,
		     const char *comment)
{
	return rw_nft_elem_put(s, c->addr, rw_nft_alen(c->family), 0, 0, timeout_ms, comment);
}

int rw_nft_elem_range(struct nftnl_set *s, const struct rw_cidr *c, uint64_t timeout_ms,
		      const char *comment)
{
	uint8_t start[16], end[16];
	int overflow = 0;
	uint32_t alen = rw_nft_alen(c->family);
	rw_cidr_range(c, start, end, &overflow);
	int rc = rw_nft_elem_put(s, start, alen, 0, overflow, timeout_ms, comment);
	if (!rc && !overflow)
		rc = rw_nft_elem_put(s, end, alen, NFT_SET_ELEM_INTERVAL_END, 0, 0, NULL);
	return rc;
}

/* Big-endian helpers over alen bytes. */
static int rw_nft_bit(const uint8_t *a, unsigned bit)
{
	return (a[bit / 8] >> (7 - bit % 8)) & 1;
}

/* last = start with the low 'host' bits set */
static void rw_nft_fill_host(uint8_t *last, const uint8_t *start, unsigned bits, unsigned host)
{
	memcpy(last, start, bits / 8);
	for (unsigned b = bits - host; b < bits; b++)
		last[b / 8] |= (uint8_t)(0x80u >> (b % 8));
}

/* a += 1; returns 1 on wrap past the top */
static int rw_nft_inc(uint8_t *a, unsigned alen)
{
	for (unsigned i = alen; i-- > 0;) {
		a[i] = (uint8_t)(a[i] + 1);
		if (a[i] != 0)
			return 0;
	}
	return 1;
}

void rw_nft_range_to_cidrs(int family, const uint8_t start[16], const uint8_t end[16],
			   int end_open, void (*cb)(const struct rw_cidr *c, void *arg), void *arg)
{
	unsigned alen = rw_nft_alen(family), bits = alen * 8;
	uint8_t cur[16] = { 0 };
	memcpy(cur, start, alen);
	while (end_open || memcmp(cur, end, alen) < 0) {
		/* widest block aligned at cur that stays below end */
		unsigned host = 0;
		while (host < bits && !rw_nft_bit(cur, bits - 1 - host))
			host++;
		uint8_t last[16] = { 0 };
		for (;; host--) {
			rw_nft_fill_host(last, cur, bits, host);
			if (end_open || memcmp(last, end, alen) < 0 || host == 0)
				break;
		}
		struct rw_cidr c = { .family = (uint8_t)family, .prefix = (uint8_t)(bits - host) };
		memcpy(c.addr, cur, alen);
		cb(&c, arg);
		memcpy(cur, last, alen);
		if (rw_nft_inc(cur, alen))
			return;
	}
}
