/* Sorted, disjoint sets of CIDR prefixes: one order and one binary search
 * for every place that keeps prefixes apart (a network's prefixes in the
 * daemon and the workers, the kernel's listing after a lost
 * acknowledgement, the VPN peers' tunnel addresses). docs/design/rules.md,
 * "CIDR sets".
 *
 * Canonical order (rw_cidrset_cmp): IPv4 before IPv6; then the network
 * address as big-endian bytes (4 for IPv4, 16 for IPv6); then the prefix
 * length, shorter (wider) first. rw_cidrset_merge sorts in exactly this order
 * (it calls rw_cidrset_cmp), and the config loader builds every network
 * with it (appliance/rw_config_net.c), so the cidrs of a struct rw_network
 * are a view in this order. In a disjoint set no two members start at the
 * same address, so the prefix length only orders unsorted input (a sort,
 * a merge).
 *
 * A view is (v, n): n prefixes sorted by rw_cidrset_cmp, no two of them
 * overlapping (prefixes either nest or are disjoint; nesting and equality
 * count as overlap), each valid (AF_INET or AF_INET6, prefix within the
 * family, no host bits). The functions on views trust that and do not
 * check it; rw_cidrset_check does, for arrays that come from elsewhere.
 * Lookups are O(log n), no heap, no locks: safe on the data path.
 *
 * Three users keep the arrays:
 *   - a struct rw_network owns its cidrs (rules/rw_policy.h, which this
 *     does not change): the views read them, rw_cidrset_net_insert and
 *     rw_cidrset_net_remove change them in place;
 *   - struct rw_cidrset owns a growable array of its own;
 *   - struct rw_cidrset_index maps prefixes to an owner (the VPN peer a
 *     tunnel address belongs to), built once per policy. */
#ifndef RW_CIDRSET_H
#define RW_CIDRSET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "rules/rw_policy.h"

/* <0, 0, >0 in the canonical order. Families other than AF_INET and
 * AF_INET6 sort after both (by their number), so the order is total even
 * on bad input. */
int rw_cidrset_cmp(const struct rw_cidr *a, const struct rw_cidr *b);

/* ---- views (v, n): sorted and disjoint ---- */

/* First index whose member is >= c in the canonical order (n if none). */
size_t rw_cidrset_lower(const struct rw_cidr *v, size_t n, const struct rw_cidr *c);

/* The member holding the address (family AF_INET with 4 bytes or AF_INET6
 * with 16), or NULL. The last member starting at or before addr is the
 * only one that can. */
const struct rw_cidr *rw_cidrset_contains(const struct rw_cidr *v, size_t n, int family,
					  const uint8_t *addr);

/* A member overlapping c (holding it, inside it, or equal to it), or NULL.
 * Only two can: the member before rw_cidrset_lower(c) (it may hold c) and
 * the one at it (c may hold it). When c holds several members, the lowest
 * one is returned. */
const struct rw_cidr *rw_cidrset_overlap(const struct rw_cidr *v, size_t n,
					 const struct rw_cidr *c);

/* Index of the member equal to c (family, address and prefix), or -1. */
long rw_cidrset_find_exact(const struct rw_cidr *v, size_t n, const struct rw_cidr *c);

/* Is (v, n) a valid view? 0 if so. RW_EINVAL: a member is invalid (family,
 * prefix length, host bits, bytes past an IPv4 address not zero) or out of
 * order; RW_EEXIST: a member overlaps the one before it (which is enough:
 * in a sorted array, any overlap shows between neighbours). *bad (may be
 * NULL) gets the offending index (the later one of a pair). O(n). */
int rw_cidrset_check(const struct rw_cidr *v, size_t n, size_t *bad);

/* Sort into the canonical order (O(n log n)). */
/* Sort (the canonical order above: v4 before v6, then by
 * address, then wider prefix first) and merge overlapping or nested
 * prefixes in place; *n is updated, and the result is a CIDR-set view.
 * Adjacent prefixes are kept apart (they do not overlap, and keeping them
 * lets a later delete name them exactly).
 * Returns the number of input entries that were absorbed by a wider one. */
size_t rw_cidrset_merge(struct rw_cidr *v, size_t *n);

void rw_cidrset_sort(struct rw_cidr *v, size_t n);

/* Sort, then drop exact duplicates; *n is updated, the number dropped is
 * returned. Nested prefixes stay (rw_cidrset_merge absorbs them;
 * rw_cidrset_check refuses them): the result is a view iff no two
 * distinct input prefixes overlap. */
size_t rw_cidrset_sort_unique(struct rw_cidr *v, size_t *n);

/* ---- a network's own array (struct rw_network: cidrs, n_cidrs) ---- */

/* Insert c in order: 0; RW_EEXIST when c overlaps a member (nothing
 * changed; rw_cidrset_overlap names it); RW_EINVAL for an invalid c;
 * RW_ENOMEM. The array is realloc'd to the new size: a network has no
 * spare capacity to record, and realloc of a large block is cheap. Binary
 * search plus one memmove. */
int rw_cidrset_net_insert(struct rw_network *net, const struct rw_cidr *c);
/* Delete exactly c: 0, or RW_ENOENT when net does not hold it. */
int rw_cidrset_net_remove(struct rw_network *net, const struct rw_cidr *c);

/* ---- an owning, growable set ---- */

struct rw_cidrset {
	struct rw_cidr *v; /* a view: sorted, disjoint */
	size_t n, cap;
};

#define RW_CIDRSET_INIT { NULL, 0, 0 }

void rw_cidrset_init(struct rw_cidrset *s);
void rw_cidrset_free(struct rw_cidrset *s); /* and empty: init again */
/* As rw_cidrset_net_insert (RW_EEXIST, RW_EINVAL, RW_ENOMEM), growing the
 * array by doubling. */
int rw_cidrset_insert(struct rw_cidrset *s, const struct rw_cidr *c);
/* Delete exactly c: 0 or RW_ENOENT. */
int rw_cidrset_remove(struct rw_cidrset *s, const struct rw_cidr *c);

/* ---- prefixes with owners: the VPN peers' tunnel addresses ---- */

/* Member i (a view in v) is prefix number own[i].sub of owner own[i].owner;
 * for rw_cidrset_index_peers, p->vpn.peers[owner].addresses[sub]. */
struct rw_cidrset_owner {
	uint32_t owner, sub;
};

struct rw_cidrset_index {
	struct rw_cidr *v; /* sorted, disjoint */
	struct rw_cidrset_owner *own;
	size_t n;
	/* what it was built from (the peers array and its length), so a
	 * caller holding an index of another policy is caught
	 * (rw_cidrset_index_is_for) instead of naming the wrong peer */
	const void *src;
	size_t n_src;
};

#define RW_CIDRSET_INDEX_INIT { NULL, NULL, 0, NULL, 0 }

/* Build the index of p's VPN peer addresses (every peer's, also when
 * p->vpn.enabled is false: the caller asks that first). The loader refuses
 * peer addresses that overlap, across peers or within one
 * (appliance/rw_config_ident.c, rw_cfg_peer_overlap), so the index of a
 * loaded policy is a view; a policy built otherwise with overlapping
 * addresses gets RW_EEXIST (and an empty index: callers then scan, as
 * without one). 0, RW_EEXIST, RW_ERANGE (over 2^32 peers or addresses),
 * RW_ENOMEM. *ix is overwritten: free an old index first. */
int rw_cidrset_index_peers(struct rw_cidrset_index *ix, const struct rw_policy *p);
void rw_cidrset_index_free(struct rw_cidrset_index *ix); /* and empty */

/* Was ix built from p's peers (same array, same count)? A NULL ix: no. */
bool rw_cidrset_index_is_for(const struct rw_cidrset_index *ix, const struct rw_policy *p);

/* Position of the member holding the address, or -1. O(log n). */
long rw_cidrset_index_find(const struct rw_cidrset_index *ix, int family, const uint8_t *addr);

/* Position of the member overlapping c with the lowest (owner, sub), or -1:
 * the one a scan of owners in order, each of its prefixes in order, finds
 * first. O(log n + k) for k members inside c (a c holding no member or
 * inside one: O(log n)). */
long rw_cidrset_index_overlap(const struct rw_cidrset_index *ix, const struct rw_cidr *c);

#endif
