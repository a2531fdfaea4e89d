/* rules/: internals shared by the rw_nft_*.c files (and the unit test).
 *
 * The compiled table keeps libnftnl objects for the table, the chains and
 * the rules, but set elements only as CIDR lists: they are turned into
 * netlink elements at send time, in chunks, because a set of 100,000
 * prefixes does not fit one netlink message (attribute lengths are u16). */
#ifndef RW_NFT_INT_H
#define RW_NFT_INT_H

#include <stddef.h>
#include <stdint.h>

#include "rules/rw_nft.h"
#include "rules/rw_nft_text.h"

struct nftnl_table;
struct nftnl_chain;
struct nftnl_set;
struct nftnl_rule;
struct nftnl_expr;
struct nftnl_batch;
struct mnl_socket;
struct nlmsghdr;

/* Ranges per NEWSETELEM message: an IPv6 range costs about 64 bytes of
 * attributes, so 512 ranges stay well below the 64 KiB attribute limit. */
#define RW_NFT_CHUNK 512

#define RW_NFT_DESC_LEN 192
#define RW_NFT_COMMENT_LEN 128 /* NFTNL_UDATA_COMMENT_MAXLEN */
#define RW_NFT_PREFIX_MAX 127  /* NFLOG prefix without NUL */

struct rw_nft_cset {
	struct nftnl_set *decl; /* declaration only: no elements */
	char name[64];
	int family;  /* AF_INET / AF_INET6: key type */
	uint32_t flags; /* NFT_SET_* */
	uint32_t id;    /* NFTNL_SET_ID, unique in the batch */
	uint32_t size;  /* 0 = unset */
	uint64_t timeout_ms;
	struct rw_cidr *cidrs; /* interval sets: sorted, merged, one family */
	size_t n_cidrs;
};

struct rw_nft_crule {
	struct nftnl_rule *rule;
	char chain[16];
	unsigned index; /* position in its chain, for messages */
	char comment[RW_NFT_COMMENT_LEN];
	struct rw_nft_rdesc desc; /* the rule in policy terms (rw_nft_text.c) */
};

struct rw_nft_cchain {
	struct nftnl_chain *chain;
	char name[16];
	const char *type; /* "filter", "nat" */
	const char *hook; /* for text */
	int prio;
};

struct rw_nft_compiled {
	struct nftnl_table *table;
	struct rw_nft_cchain chains[4];
	size_t n_chains;
	struct rw_nft_cset *sets;
	size_t n_sets, cap_sets;
	struct rw_nft_crule *rules;
	size_t n_rules, cap_rules;
};

struct rw_nft {
	struct mnl_socket *nl;
	uint32_t portid;
	uint32_t seq;
};

/* --- expressions (rw_nft_expr.c); each appends to r, returns 0/RW_ENOMEM */
int rw_nft_e_meta(struct nftnl_rule *r, uint32_t key);
int rw_nft_e_cmp(struct nftnl_rule *r, uint32_t op, const void *data, uint32_t len);
int rw_nft_e_payload(struct nftnl_rule *r, uint32_t base, uint32_t off, uint32_t len);
int rw_nft_e_ct_state(struct nftnl_rule *r, uint32_t mask);
/* `ct direction reply`: the packet travels the reply way of a connection
 * conntrack saw opened in the other direction. */
int rw_nft_e_ct_dir_reply(struct nftnl_rule *r);
int rw_nft_e_lookup(struct nftnl_rule *r, const struct rw_nft_cset *s);
int rw_nft_e_counter(struct nftnl_rule *r);
int rw_nft_e_verdict(struct nftnl_rule *r, int verdict);
int rw_nft_e_log(struct nftnl_rule *r, uint16_t group, const char *prefix);
int rw_nft_e_limit(struct nftnl_rule *r, uint64_t rate, uint64_t unit_s, uint32_t burst);
/* dynset on s keyed by reg 1; lim_rate 0 = no nested limit; timeout 0 = set's */
int rw_nft_e_dynset(struct nftnl_rule *r, const struct rw_nft_cset *s, uint32_t op,
		    uint64_t timeout_ms, uint64_t lim_rate, uint64_t lim_unit_s, uint32_t lim_burst);
/* Shorthands built from the above: l4proto+port, nfproto+address. */
int rw_nft_e_l4port(struct nftnl_rule *r, uint8_t proto, uint16_t port);
int rw_nft_e_saddr(struct nftnl_rule *r, int family);
int rw_nft_e_nfproto(struct nftnl_rule *r, int family); /* meta nfproto == family */
int rw_nft_e_daddr_eq(struct nftnl_rule *r, int family, const uint8_t addr[16]);
int rw_nft_e_iifname(struct nftnl_rule *r, const char *ifname);
/* iifname != ifname */
int rw_nft_e_iifname_not(struct nftnl_rule *r, const char *ifname);
/* redirect to :port (the incoming interface's primary address) */
int rw_nft_e_redir(struct nftnl_rule *r, uint16_t port);
/* dnat ip|ip6 to addr:port */
int rw_nft_e_dnat(struct nftnl_rule *r, int family, const uint8_t addr[16], uint16_t port);
/* Rule comment as nft stores it (nftnl_udata, NFTNL_UDATA_RULE_COMMENT). */
int rw_nft_rule_set_comment(struct nftnl_rule *r, const char *comment);
int rw_nft_rule_get_comment(const struct nftnl_rule *r, char *buf, size_t len);

/* Expressions of r, one "  [ name ... ]" line each (rw_nft_dump.c). */
int rw_nft_rule_text(const struct nftnl_rule *r, FILE *out);

/* --- interval elements (rw_nft_elem.c) */
/* Append to s the elements for ranges v[0..n) (one family, sorted, no
 * overlaps) the way nft 1.0.6 encodes them. with_marker: this is the start
 * of a whole set (not an incremental change), so a first range that does
 * not begin at address 0 is preceded by the key-0 INTERVAL_END element.
 * Returns the number of elements added, or RW_ENOMEM. */
long rw_nft_elems_interval(struct nftnl_set *s, const struct rw_cidr *v, size_t n,
			   int with_marker);
/* One host element (/32, /128) for a plain (hash) set; timeout 0 =
 * default; comment NULL or "" = none. */
int rw_nft_elem_host(struct nftnl_set *s, const struct rw_cidr *c, uint64_t timeout_ms,
		     const char *comment);
/* One prefix of an interval+timeout set (a prefix ban): the start element
 * carries the timeout (0 = default) and the comment, the end element only
 * its key, as nft 1.0.6 sends `{ 203.0.113.0/28 timeout 5m comment "x" }`
 * (no key-0 marker: never the start of a whole set). */
int rw_nft_elem_range(struct nftnl_set *s, const struct rw_cidr *c, uint64_t timeout_ms,
		      const char *comment);
/* Cover [start, end) (end_open: to the top of the address space) exactly
 * with prefixes, smallest count, ascending; calls cb for each. */
void rw_nft_range_to_cidrs(int family, const uint8_t start[16], const uint8_t end[16],
			   int end_open, void (*cb)(const struct rw_cidr *c, void *arg),
			   void *arg);

/* --- batches and acknowledgements (rw_nft_batch.c) */
struct rw_nft_batch;
struct rw_nft_batch *rw_nft_batch_new(struct rw_nft *n);
void rw_nft_batch_free(struct rw_nft_batch *b);
/* Start a message; returns the header to fill (payload builders follow),
 * NULL on no memory. desc names the object for error messages. */
struct nlmsghdr *rw_nft_batch_msg(struct rw_nft_batch *b, uint16_t type, uint16_t flags,
				  const char *desc);
int rw_nft_batch_msg_done(struct rw_nft_batch *b);
/* Add elements of one set in chunks: NEWSETELEM or DELSETELEM. */
int rw_nft_batch_elems(struct rw_nft_batch *b, uint16_t type, const char *set,
		       uint32_t set_id, const struct rw_cidr *v, size_t n, int with_marker);
/* Close, send, read every ack. 0, RW_EKERNEL (diag names each failing
 * object; *first_errno set), RW_EUNKNOWN (acks lost), RW_ENETLINK. */
int rw_nft_batch_send(struct rw_nft_batch *b, struct rw_diag *diag, int *first_errno);

/* One ban element message (rw_nft_update.c): a host (/32, /128) to
 * ban_v4/ban_v6, any other prefix to banp_v4/banp_v6. */
int rw_nft_ban_msg(struct rw_nft_batch *b, uint16_t type, const struct rw_cidr *addr,
		   uint64_t timeout_ms, const char *comment, const char *what);

/* A request/dump round trip outside a batch (seq is filled in here): cb
 * gets each data message and returns MNL_CB_OK, or MNL_CB_ERROR with errno
 * set. Returns 0; RW_EKERNEL with *nl_errno from the kernel's NLMSG_ERROR
 * (ENOENT: no such object) or from cb; RW_EPERM; RW_ENETLINK. */
int rw_nft_request(struct rw_nft *n, struct nlmsghdr *req,
		   int (*cb)(const struct nlmsghdr *nlh, void *arg), void *arg, int *nl_errno);

#endif
