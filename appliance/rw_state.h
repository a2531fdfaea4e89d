/* Live changes: on disk, and the pure checks regwalld makes on them.
 *
 * On disk, so a restart does not undo what an admin did with
 * regwallctl (the config file stays the admin's own text: regwall never
 * rewrites it).
 *
 * Format (JSON, written whole to a temporary file, fsync'd and renamed over
 * the old one, so a crash leaves the old or the new list, never half):
 *   {"version":1,"changes":[{"op":"add","network":"office","cidr":"203.0.113.7/32"},...]}
 * A missing file means no changes. A file that cannot be read or parsed is
 * an error, not "no changes": silently dropping a live deletion would
 * re-open what the admin closed. */
#ifndef RW_STATE_H
#define RW_STATE_H

#include <stddef.h>

#include "base/rw_err.h"
#include "rules/rw_policy.h"

/* A live change made through the control socket. */
struct rw_live_change {
	int add; /* 1 add, 0 delete */
	char network[RW_NAME_MAX];
	struct rw_cidr cidr;
};

#define RW_STATE_MAX_CHANGES 1000000

int rw_state_save(const char *path, const struct rw_live_change *v, size_t n,
		  struct rw_diag *diag);
/* *v is malloc'd (NULL when n is 0); the caller frees it. */
int rw_state_load(const char *path, struct rw_live_change **v, size_t *n, struct rw_diag *diag);

/* The VPN peer whose tunnel address c overlaps (*addr set to that
 * address), or NULL. Such a prefix must never be in a named network: the
 * data path takes any source inside a peer's addresses for the peer (its
 * roles, push_requires_vpn satisfied), and a network would let it in on
 * any link. The config loader refuses it in the file; this is the same
 * rule for live additions and their replay. */
const struct rw_peer *rw_state_peer_overlap(const struct rw_policy *p, const struct rw_cidr *c,
					    const struct rw_cidr **addr);
/* The same through an index of p's peer addresses (rw_cidrset_index_peers;
 * NULL or one not built from p: the scan above), for callers checking many
 * prefixes. Same answer: when c overlaps several addresses, the first
 * peer's, and that peer's first. */
struct rw_cidrset_index;
const struct rw_peer *rw_state_peer_overlap_ix(const struct rw_policy *p,
					       const struct rw_cidrset_index *peers,
					       const struct rw_cidr *c, const struct rw_cidr **addr);

/* What a change whose netlink acknowledgements were lost (RW_EUNKNOWN) did,
 * judged from the elements the kernel lists afterwards in every set the
 * change could have touched (listed is sorted here, in place). An added
 * prefix took effect if a listed element contains it; a deleted one if no
 * listed element overlaps it (a part left over counts as not deleted).
 * took[i] is set to 1 or 0 for each requested prefix. */
enum rw_state_outcome {
	RW_STATE_NONE = 0, /* not applied: nothing took effect */
	RW_STATE_SOME,     /* partially applied */
	RW_STATE_ALL,      /* applied */
};
enum rw_state_outcome rw_state_outcome(int add, const struct rw_cidr *req, size_t n_req,
				       struct rw_cidr *listed, size_t n_listed,
				       unsigned char *took);

#endif
