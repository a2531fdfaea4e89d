/* The manual bans as the data path knows them: a worker checks them first
 * in admission (fwd/rw_fwd.c rw_fwd_admit, event reason banned_l7), the
 * second line behind the kernel's ban sets, and the parent keeps the same
 * structure as its list of the bans it knows (appliance/rw_workers.h),
 * which a new worker gets in its boot bundle (fwd/rw_boot.h) and running
 * workers as BAN_ADD / BAN_DEL deltas (fwd/rw_chan.h).
 *
 * Two sorted sets (rules/rw_cidrset.h), as the kernel has two pairs of
 * sets: addresses (/32, /128; ban_v4/_v6) and wider prefixes (banp_v4/_v6).
 * Prefix bans never overlap each other (the kernel's interval set keeps
 * them apart and regwalld refuses an overlapping ban), but an address ban
 * may lie inside a banned prefix: each set stays disjoint, and a lookup
 * asks both, O(log n) each, no heap.
 *
 * Each ban has an expiry: CLOCK_REALTIME unix time in ms (the parent and
 * its workers share the clock; the kernel's timeouts cannot be read as
 * times). A ban is in force while now < expires_ms; an expired one is
 * never a match and goes at the next rw_bans_prune.
 *
 * Bans the kernel's ban_after meters add are not here: the parent never
 * learns of them (the kernel writes them from the packet path), so only
 * the kernel enforces them. */
#ifndef RW_BANS_H
#define RW_BANS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "rules/rw_cidrset.h"

/* One of the two sets, with the expiries parallel to its members. */
struct rw_bans_part {
	struct rw_cidrset set;
	uint64_t *exp; /* exp[i] is set.v[i]'s expiry */
	size_t cap_exp;
};

struct rw_bans {
	struct rw_bans_part host; /* addresses */
	struct rw_bans_part pfx;  /* prefixes wider than one address */
	uint64_t next_exp;        /* no member expires before this (0: empty) */
};

/* All zero is an empty set, as is RW_BANS_INIT. */
#define RW_BANS_INIT { { RW_CIDRSET_INIT, NULL, 0 }, { RW_CIDRSET_INIT, NULL, 0 }, 0 }

void rw_bans_init(struct rw_bans *b);
void rw_bans_free(struct rw_bans *b); /* and empty */

/* Is c a ban regwalld can hold: valid (family, length, no host bits,
 * bytes past an IPv4 address zero) and /1 or longer (as `ban add` takes)? */
bool rw_bans_cidr_ok(const struct rw_cidr *c);
/* Does c name one address (/32, /128)? */
bool rw_bans_is_host(const struct rw_cidr *c);

/* Ban c until expires_ms (> 0). A ban of exactly c already there gets the
 * new expiry (a re-ban). A prefix ban overlapping other banned prefixes
 * replaces them: the kernel holds only one of overlapping prefixes, so an
 * overlap the parent sends means the older ones are gone there (expired
 * in the kernel a moment before the parent's reckoning). 0, RW_EINVAL (c
 * or expires_ms), RW_ENOMEM (nothing changed). */
int rw_bans_add(struct rw_bans *b, const struct rw_cidr *c, uint64_t expires_ms);
/* Lift exactly c: 0, or RW_ENOENT when it is not there (also when it
 * expired and was pruned). */
int rw_bans_del(struct rw_bans *b, const struct rw_cidr *c);

/* Append c (expires_ms > 0) after every member of its set, for input that
 * is already in the canonical order (a boot bundle): 0; RW_EINVAL for an
 * invalid c or expiry, or a c not after the last member of its set;
 * RW_EEXIST for a prefix overlapping the last one; RW_ENOMEM. */
int rw_bans_append(struct rw_bans *b, const struct rw_cidr *c, uint64_t expires_ms);

/* The ban in force at now_ms holding the address (family AF_INET with 4
 * bytes or AF_INET6 with 16): true, with the ban in *hit and its expiry in
 * *expires (both may be NULL); an address ban is found before a prefix
 * ban holding it. O(log n), no heap: the data path's check. */
bool rw_bans_find(const struct rw_bans *b, int family, const uint8_t *addr, uint64_t now_ms,
		  struct rw_cidr *hit, uint64_t *expires);

/* Is exactly c banned (the same prefix, not one inside or over it) and
 * in force at now_ms? */
bool rw_bans_has(const struct rw_bans *b, const struct rw_cidr *c, uint64_t now_ms);

/* Drop the bans expired at now_ms; the number dropped. O(1) while none
 * has expired, else O(n). */
size_t rw_bans_prune(struct rw_bans *b, uint64_t now_ms);

/* Members, expired ones included until pruned. */
size_t rw_bans_count(const struct rw_bans *b);

/* Now on the bans' clock (CLOCK_REALTIME, unix ms). */
uint64_t rw_bans_now_ms(void);

#endif
