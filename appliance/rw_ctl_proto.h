/* Checks of control requests that need more than the request bytes: what
 * a ban may cover, given the running policy and this host's addresses.
 * (The wire format and the request parser are in appliance/rw_ctl.h.) */
#ifndef RW_CTL_PROTO_H
#define RW_CTL_PROTO_H

#include <stddef.h>

#include "rules/rw_policy.h"

/* A ban's duration, live or as the config's ban_for: at least a second
 * (the kernel's set timeouts are coarse), at most 30 days (a longer one is
 * a permanent ban in disguise; edit a network for that). */
#define RW_BAN_FOR_MIN_MS 1000ull
#define RW_BAN_FOR_MAX_MS (30ull * 24 * 3600 * 1000)
#define RW_BAN_FOR_RANGE "1s and 30d"

/* One address of this host, with the interface that holds it. */
struct rw_ctl_host_addr {
	struct rw_cidr addr; /* /32 or /128 */
	char ifname[16];
};

/* May ban be banned? Refused (RW_EINVAL, reason in err) when it covers or
 * is inside the registry upstream's address, an address of this host
 * (own[0..n_own)), loopback, the unspecified address, multicast or the
 * IPv4 broadcast address: such a ban cuts the appliance off (every request
 * would wait for an upstream that never answers) or can never match a
 * client. upstream may be NULL or have family 0 (none configured). */
int rw_ctl_ban_check(const struct rw_cidr *ban, const struct rw_endpoint *upstream,
		     const struct rw_ctl_host_addr *own, size_t n_own, char *err, size_t errlen);

/* Where a ban request stands among the banned prefixes have[0..n) (one
 * banp_ set: no two of them overlap). EXACT: one of them is the same
 * prefix (a re-ban, or the one to unban); OVERLAP: it overlaps one
 * without being it (*at: the first such); NONE otherwise. */
enum rw_ctl_ban_match {
	RW_CTL_BAN_NONE = 0,
	RW_CTL_BAN_EXACT,
	RW_CTL_BAN_OVERLAP,
};
enum rw_ctl_ban_match rw_ctl_ban_match(const struct rw_cidr *c, const struct rw_cidr *have,
				       size_t n, size_t *at);

#endif
