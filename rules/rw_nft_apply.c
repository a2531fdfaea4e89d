/* Whole-table operations: replace, remove, exists.
 *
 * Replace is one batch, as nft -f does it:
 *   NEWTABLE (create, no EXCL)  so that the DELTABLE below cannot fail
 *   DELTABLE                    the old table with all its chains and sets
 *   NEWTABLE NEWCHAIN... NEWSET... NEWSETELEM... NEWRULE...
 * Packets see the old table or the new one, never a mix; if anything is
 * refused the kernel aborts the batch and the old table stays. */
#include <errno.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netlink.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <libmnl/libmnl.h>
#include <libnftnl/chain.h>
#include <libnftnl/common.h>
#include <libnftnl/rule.h>
#include <libnftnl/set.h>
#include <libnftnl/table.h>

#include "rules/rw_nft_int.h"

static int rw_nft_put_table(struct rw_nft_batch *b, uint16_t type, const struct nftnl_table *t,
			    const char *desc)
{
	struct nlmsghdr *h = rw_nft_batch_msg(b, type, type == NFT_MSG_NEWTABLE ? NLM_F_CREATE : 0,
					      desc);
	if (!h)
		return RW_ENOMEM;
	nftnl_table_nlmsg_build_payload(h, t);
	return rw_nft_batch_msg_done(b);
}

static struct nftnl_table *rw_nft_table_ref(void)
{
	struct nftnl_table *t = nftnl_table_alloc();
	if (!t)
		return NULL;
	nftnl_table_set_str(t, NFTNL_TABLE_NAME, RW_NFT_TABLE);
	nftnl_table_set_u32(t, NFTNL_TABLE_FAMILY, NFPROTO_INET);
	nftnl_table_set_u32(t, NFTNL_TABLE_FLAGS, 0);
	return t;
}

/* NEWTABLE + DELTABLE: deletes the table whether or not it existed. */
static int rw_nft_put_delete(struct rw_nft_batch *b)
{
	struct nftnl_table *t = rw_nft_table_ref();
	if (!t)
		return RW_ENOMEM;
	int rc = rw_nft_put_table(b, NFT_MSG_NEWTABLE, t, "table inet regwall (ensure)");
	if (!rc)
		rc = rw_nft_put_table(b, NFT_MSG_DELTABLE, t, "table inet regwall (delete old)");
	nftnl_table_free(t);
	return rc;
}

static int rw_nft_put_compiled(struct rw_nft_batch *b, const struct rw_nft_compiled *c)
{
	char desc[RW_NFT_DESC_LEN];
	int rc = rw_nft_put_table(b, NFT_MSG_NEWTABLE, c->table, "table inet regwall");
	for (size_t i = 0; i < c->n_chains && !rc; i++) {
		snprintf(desc, sizeof(desc), "chain %s", c->chains[i].name);
		struct nlmsghdr *h = rw_nft_batch_msg(b, NFT_MSG_NEWCHAIN, NLM_F_CREATE, desc);
		if (!h)
			return RW_ENOMEM;
		nftnl_chain_nlmsg_build_payload(h, c->chains[i].chain);
		rc = rw_nft_batch_msg_done(b);
	}
	for (size_t i = 0; i < c->n_sets && !rc; i++) {
		const struct rw_nft_cset *s = &c->sets[i];
		snprintf(desc, sizeof(desc), "set %s", s->name);
		struct nlmsghdr *h =
			rw_nft_batch_msg(b, NFT_MSG_NEWSET, NLM_F_CREATE | NLM_F_EXCL, desc);
		if (!h)
			return RW_ENOMEM;
		nftnl_set_nlmsg_build_payload(h, s->decl);
		rc = rw_nft_batch_msg_done(b);
		if (!rc && s->n_cidrs)
			rc = rw_nft_batch_elems(b, NFT_MSG_NEWSETELEM, s->name, s->id, s->cidrs,
						s->n_cidrs, 1);
	}
	for (size_t i = 0; i < c->n_rules && !rc; i++) {
		const struct rw_nft_crule *r = &c->rules[i];
		snprintf(desc, sizeof(desc), "rule %s #%u (%s)", r->chain, r->index, r->comment);
		struct nlmsghdr *h = rw_nft_batch_msg(b, NFT_MSG_NEWRULE,
						      NLM_F_CREATE | NLM_F_APPEND, desc);
		if (!h)
			return RW_ENOMEM;
		nftnl_rule_nlmsg_build_payload(h, r->rule);
		rc = rw_nft_batch_msg_done(b);
	}
	return rc;
}

int rw_nft_apply(struct rw_nft *n, const struct rw_nft_compiled *c, struct rw_diag *diag)
{
	return rw_nft_apply_with_bans(n, c, NULL, 0, diag);
}

int rw_nft_apply_with_bans(struct rw_nft *n, const struct rw_nft_compiled *c,
			   const struct rw_nft_ban *bans, size_t n_bans, struct rw_diag *diag)
{
	struct rw_nft_batch *b = rw_nft_batch_new(n);
	if (!b)
		return RW_ENOMEM;
	int rc = rw_nft_put_delete(b);
	if (!rc)
		rc = rw_nft_put_compiled(b, c);
	for (size_t i = 0; i < n_bans && !rc; i++) {
		const struct rw_cidr *a = &bans[i].addr;
		if (bans[i].timeout_ms == 0 || (a->family != AF_INET && a->family != AF_INET6) ||
		    a->prefix == 0 || a->prefix > (a->family == AF_INET ? 32 : 128))
			continue; /* expired while we read it, or not a ban */
		/* hosts to ban_, prefixes to banp_ (rw_nft_ban_msg): a /32 that
		 * was put into banp_ by hand comes back in ban_ */
		/* the reason goes along (an invalid one, which we never write,
		 * would fail the whole replace: dropped instead) */
		rc = rw_nft_ban_msg(b, NFT_MSG_NEWSETELEM, a, bans[i].timeout_ms,
				    rw_nft_ban_reason_ok(bans[i].reason) ? bans[i].reason : NULL,
				    "carry over");
	}
	int err = 0;
	if (!rc)
		rc = rw_nft_batch_send(b, diag, &err);
	rw_nft_batch_free(b);
	if (rc == RW_EKERNEL)
		rw_diag_err(diag, NULL, 0, "nftables: table inet %s not replaced; the old one stays",
			    RW_NFT_TABLE);
	return rc;
}

int rw_nft_remove(struct rw_nft *n, struct rw_diag *diag)
{
	struct rw_nft_batch *b = rw_nft_batch_new(n);
	if (!b)
		return RW_ENOMEM;
	int rc = rw_nft_put_delete(b);
	int err = 0;
	if (!rc)
		rc = rw_nft_batch_send(b, diag, &err);
	rw_nft_batch_free(b);
	return rc;
}

static int rw_nft_ignore_cb(const struct nlmsghdr *nlh, void *arg)
{
	return MNL_CB_OK;
}

int rw_nft_table_exists(struct rw_nft *n, struct rw_diag *diag)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct nftnl_table *t = rw_nft_table_ref();
	if (!t)
		return RW_ENOMEM;
	struct nlmsghdr *h =
		nftnl_nlmsg_build_hdr(buf, NFT_MSG_GETTABLE, NFPROTO_INET, NLM_F_ACK, 0);
	nftnl_table_nlmsg_build_payload(h, t);
	nftnl_table_free(t);
	int err = 0;
	int rc = rw_nft_request(n, h, rw_nft_ignore_cb, NULL, &err);
	if (rc == 0)
		return 1;
	if (rc == RW_EKERNEL && err == ENOENT)
		return 0;
	rw_diag_err(diag, NULL, 0, "nftables: get table inet %s: %s", RW_NFT_TABLE,
		    err ? strerror(err) : rw_strerror(rc));
	return rc;
}
