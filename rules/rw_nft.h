/* rules/: the policy compiled into ONE nftables table, "inet regwall".
 *
 * rw_nft_compile() lowers a policy to libnftnl objects (no kernel);
 * rw_nft_dump_text() renders them as readable text for golden files;
 * rw_nft_apply() sends them as ONE batch that atomically replaces the
 * previous table; the incremental calls each send one batch too. Only
 * the table "inet regwall" is ever touched, and it is never created with
 * the owner flag (an owned table would vanish with a crashed daemon and open
 * the registry port).
 *
 * Set names (stable: regwallctl and tests refer to them):
 *   net_<network>_v4 / net_<network>_v6   allowlisted networks (interval)
 *   live_<network>_v4 / live_<network>_v6 prefixes added live since the
 *                                         last apply (interval, small)
 *   vpn_v4 / vpn_v6                       VPN peer tunnel addresses (interval)
 *   ban_v4 / ban_v6                       banned addresses (timeout, fixed
 *                                         size; the ban_after meters and
 *                                         regwallctl write here)
 *   banp_v4 / banp_v6                     banned prefixes (interval, timeout;
 *                                         regwallctl only)
 *   meter_<listener>_v4 / _v6             per-source new-connection meters
 *   banmeter_v4 / banmeter_v6             ban_after meters
 * NFLOG prefixes: "regwall <listener> <reason>" with reasons
 *   not_allowed, rate_limited, banned, direct_to_registry. */
#ifndef RW_NFT_H
#define RW_NFT_H

#include <stdint.h>
#include <stdio.h>

#include "base/rw_err.h"
#include "rules/rw_policy.h"

#define RW_NFT_TABLE "regwall"

struct rw_nft;          /* a netlink socket in the current netns */
struct rw_nft_compiled; /* the lowered table: chains, sets, elements, rules */

int rw_nft_compile(const struct rw_policy *p, struct rw_nft_compiled **out,
		   struct rw_diag *diag);
void rw_nft_compiled_free(struct rw_nft_compiled *c);
/* One line per table/chain/set/rule, rules as their expressions in the
 * style of `nft --debug=netlink`, elements as CIDR ranges. Deterministic. */
int rw_nft_dump_text(const struct rw_nft_compiled *c, FILE *out);

int rw_nft_open(struct rw_nft **out, struct rw_diag *diag);
void rw_nft_close(struct rw_nft *n);

/* Replace table inet regwall with the compiled one in one transaction. On
 * failure the old table stays and diag names every object the kernel
 * refused. RW_EUNKNOWN: acks were lost (ENOBUFS); the caller re-reads. */
int rw_nft_apply(struct rw_nft *n, const struct rw_nft_compiled *c, struct rw_diag *diag);

/* The same, carrying bans over: each is added to ban_v4/_v6 (a host) or
 * banp_v4/_v6 (a prefix) with its remaining time INSIDE the replacing
 * transaction, so a reload never lets a banned source through, not even
 * between two batches. */
/* A ban's reason is kept in the kernel with the element (set element
 * userdata, nft's `comment "..."`): it survives a daemon restart and
 * `nft list set` shows it. A ban added with regwallctl always has one
 * (RW_NFT_BAN_MANUAL when no reason was given); the ban_after meters'
 * dynset cannot attach one, so an element without it is automatic. */
#define RW_NFT_BAN_REASON_MAX 64
#define RW_NFT_BAN_MANUAL "manual"
struct rw_nft_ban {
	struct rw_cidr addr; /* a host goes to ban_v4/_v6, a prefix to banp_ */
	uint64_t timeout_ms; /* > 0 */
	char reason[RW_NFT_BAN_REASON_MAX + 1]; /* "" = automatic */
};
int rw_nft_apply_with_bans(struct rw_nft *n, const struct rw_nft_compiled *c,
			   const struct rw_nft_ban *bans, size_t n_bans, struct rw_diag *diag);

/* Delete table inet regwall (and nothing else). Absent table -> 0. */
int rw_nft_remove(struct rw_nft *n, struct rw_diag *diag);

/* Does table inet regwall exist? 1 yes, 0 no, <0 error. */
int rw_nft_table_exists(struct rw_nft *n, struct rw_diag *diag);

/* Add and delete prefixes of a named network in one batch (both lists may
 * be empty). The caller has validated them against its copy of the
 * network; the kernel refuses overlaps anyway and then nothing changes. */
int rw_nft_net_update(struct rw_nft *n, const char *network, const struct rw_cidr *add,
		      size_t n_add, const struct rw_cidr *del, size_t n_del,
		      struct rw_diag *diag);

/* Live changes by regwallctl: additions go to the network's small live_
 * sets, deletions to whichever set holds the prefix; one batch. Why two
 * sets: the kernel's interval-set commit costs O(set size) (kernel 6.18:
 * ~12 ms for a 100,000-prefix set), while a commit on a small set costs
 * ~0.1 ms; the next apply folds the live prefixes into the main set. The
 * input chain looks up both, so a prefix matches wherever it is. */
int rw_nft_net_live_update(struct rw_nft *n, const char *network, const struct rw_cidr *add_live,
			   size_t n_add_live, const struct rw_cidr *del_live, size_t n_del_live,
			   const struct rw_cidr *del_main, size_t n_del_main, struct rw_diag *diag);

/* Bans live in two pairs of sets. ban_v4/_v6 (hash, timeout, dynamic)
 * hold single addresses: the ban_after meters write there (a dynset
 * cannot write an interval set: EOPNOTSUPP), and so does regwallctl for
 * one address, so that a manual ban of an automatically banned address
 * replaces its element. banp_v4/_v6 (interval, timeout) hold prefixes
 * wider than one address; only regwallctl writes them. The early chain
 * drops a source in any of the four. */
#define RW_NFT_N_BAN_SETS 4
extern const char *const rw_nft_ban_sets[RW_NFT_N_BAN_SETS]; /* ban_v4 ban_v6 banp_v4 banp_v6 */
/* The set that holds a ban of c: ban_vX for a host, banp_vX for a prefix. */
const char *rw_nft_ban_set(const struct rw_cidr *c);
/* Is c a host address (/32, /128)? */
int rw_nft_cidr_is_host(const struct rw_cidr *c);

/* Ban a host or prefix (host bits zero) for timeout_ms (0 = the set's
 * default), with reason (printable, at most RW_NFT_BAN_REASON_MAX bytes,
 * no '"' or '\\'; NULL or "" = none) as the element's comment. A re-ban
 * restarts the timeout and sets the reason. A prefix overlapping another
 * banned prefix (not the same) is refused by the kernel (RW_EEXIST or
 * RW_EKERNEL); the caller checks first to name it. */
int rw_nft_ban_add(struct rw_nft *n, const struct rw_cidr *addr, uint64_t timeout_ms,
		   const char *reason, struct rw_diag *diag);
/* Is s a valid ban reason (see rw_nft_ban_add)? */
int rw_nft_ban_reason_ok(const char *s);
/* Unban exactly addr (RW_ENOENT if it is not there): _del from the set
 * rw_nft_ban_set(addr) names, _del_in from the named ban set (a host
 * that someone put into banp_ as a /32 with nft). */
int rw_nft_ban_del(struct rw_nft *n, const struct rw_cidr *addr, struct rw_diag *diag);
int rw_nft_ban_del_in(struct rw_nft *n, const struct rw_cidr *addr, const char *set,
		      struct rw_diag *diag);

/* List the elements of a set: interval sets as prefixes (ranges rebuilt
 * from start/end pairs), timeout sets with ms left (0 if none). */
typedef void (*rw_nft_elem_cb)(const struct rw_cidr *c, uint64_t expires_ms, void *arg);
int rw_nft_set_list(struct rw_nft *n, const char *set, rw_nft_elem_cb cb, void *arg,
		    struct rw_diag *diag);
/* The same with each element's comment ("" when it has none, or when it
 * is not a valid ban reason: kernel bytes are checked before use). */
struct rw_nft_elem_info {
	const char *set; /* the set it was listed from */
	struct rw_cidr cidr;
	uint64_t expires_ms;
	char comment[RW_NFT_BAN_REASON_MAX + 1];
};
typedef void (*rw_nft_elem_info_cb)(const struct rw_nft_elem_info *e, void *arg);
int rw_nft_set_list_info(struct rw_nft *n, const char *set, rw_nft_elem_info_cb cb, void *arg,
			 struct rw_diag *diag);

/* Every ban of the four ban sets (prefix bans from their start element's
 * timeout and comment). A set that does not exist is skipped, not an
 * error: *present gets bit i for each rw_nft_ban_sets[i] that was read
 * (a table of an older version has no banp_ sets; a deleted table none). */
int rw_nft_ban_list(struct rw_nft *n, rw_nft_elem_info_cb cb, void *arg, unsigned *present,
		    struct rw_diag *diag);
#define RW_NFT_BAN_SETS_ALL 0xfu

/* Counters of every deciding rule, keyed by the rule's comment
 * ("<listener> <what>", e.g. "https allow office"). */
typedef void (*rw_nft_counter_cb)(const char *chain, const char *comment, uint64_t packets,
				  uint64_t bytes, void *arg);
int rw_nft_counters(struct rw_nft *n, rw_nft_counter_cb cb, void *arg, struct rw_diag *diag);

#endif
