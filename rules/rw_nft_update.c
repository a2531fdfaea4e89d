/* Incremental changes, each one batch (all or nothing): network prefixes
 * and bans. The table's rules are untouched, so established connections
 * and meter state survive. */
#include <errno.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netlink.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <libnftnl/set.h>

#include "rules/rw_cidr.h"
#include "rules/rw_cidrset.h"
#include "rules/rw_nft_int.h"

static int rw_nft_map_errno(int rc, int err)
{
	if (rc != RW_EKERNEL)
		return rc;
	if (err == ENOENT)
		return RW_ENOENT;
	if (err == EEXIST)
		return RW_EEXIST;
	if (err == EPERM)
		return RW_EPERM;
	return RW_EKERNEL;
}

/* Copy the prefixes of one family, sorted (interval elements of one
 * message need not be sorted, but sorted chunks make messages readable). */
static int rw_nft_pick(const struct rw_cidr *v, size_t n, int family, struct rw_cidr **out,
		       size_t *n_out)
{
	*out = NULL;
	*n_out = 0;
	size_t k = 0;
	for (size_t i = 0; i < n; i++)
		k += v[i].family == family;
	if (!k)
		return 0;
	struct rw_cidr *c = malloc(k * sizeof(*c));
	if (!c)
		return RW_ENOMEM;
	k = 0;
	for (size_t i = 0; i < n; i++)
		if (v[i].family == family)
			c[k++] = v[i];
	rw_cidrset_merge(c, &k);
	*out = c;
	*n_out = k;
	return 0;
}

static int rw_nft_valid_cidrs(const struct rw_cidr *v, size_t n, struct rw_diag *diag)
{
	for (size_t i = 0; i < n; i++) {
		int fam = v[i].family;
		if ((fam != AF_INET && fam != AF_INET6) || v[i].prefix > (fam == AF_INET ? 32 : 128)) {
			rw_diag_err(diag, NULL, 0, "prefix %zu: bad family or length", i + 1);
			return RW_EINVAL;
		}
	}
	return 0;
}

static int rw_nft_net_name_ok(const char *network, struct rw_diag *diag)
{
	if (!network || strnlen(network, RW_NAME_MAX) == 0 ||
	    strnlen(network, RW_NAME_MAX) == RW_NAME_MAX) {
		rw_diag_err(diag, NULL, 0, "network name missing or too long");
		return RW_EINVAL;
	}
	return 0;
}

/* Append NEWSETELEM/DELSETELEM messages for v[0..n) to <prefix><network>_v4
 * and _v6 (each family to its own set). */
static int rw_nft_net_elems(struct rw_nft_batch *b, uint16_t type, const char *prefix,
			    const char *network, const struct rw_cidr *v, size_t n)
{
	static const int fams[2] = { AF_INET, AF_INET6 };
	int rc = 0;
	for (int f = 0; f < 2 && !rc && n; f++) {
		char set[64];
		struct rw_cidr *pick;
		size_t k;
		snprintf(set, sizeof(set), "%s%s_%s", prefix, network, f ? "v6" : "v4");
		rc = rw_nft_pick(v, n, fams[f], &pick, &k);
		if (!rc && k)
			rc = rw_nft_batch_elems(b, type, set, 0, pick, k, 0);
		free(pick);
	}
	return rc;
}

static int rw_nft_net_send(struct rw_nft *n, const char *network,
			   const struct rw_cidr *const lists[3], const size_t counts[3],
			   const char *const prefixes[3], struct rw_diag *diag)
{
	int rc = rw_nft_net_name_ok(network, diag);
	for (int i = 0; i < 3 && !rc; i++)
		rc = rw_nft_valid_cidrs(lists[i], counts[i], diag);
	if (rc)
		return rc;
	if (counts[0] + counts[1] + counts[2] == 0)
		return 0;
	struct rw_nft_batch *b = rw_nft_batch_new(n);
	if (!b)
		return RW_ENOMEM;
	/* deletes first: replacing a prefix by a wider one is then one batch;
	 * lists[0] is the one list of additions */
	for (int i = 1; i < 3 && !rc; i++)
		rc = rw_nft_net_elems(b, NFT_MSG_DELSETELEM, prefixes[i], network, lists[i],
				      counts[i]);
	if (!rc)
		rc = rw_nft_net_elems(b, NFT_MSG_NEWSETELEM, prefixes[0], network, lists[0],
				      counts[0]);
	int err = 0;
	if (!rc)
		rc = rw_nft_batch_send(b, diag, &err);
	rw_nft_batch_free(b);
	return rw_nft_map_errno(rc, err);
}

int rw_nft_net_update(struct rw_nft *n, const char *network, const struct rw_cidr *add,
		      size_t n_add, const struct rw_cidr *del, size_t n_del,
		      struct rw_diag *diag)
{
	const struct rw_cidr *lists[3] = { add, del, NULL };
	const size_t counts[3] = { n_add, n_del, 0 };
	const char *const prefixes[3] = { "net_", "net_", "net_" };
	return rw_nft_net_send(n, network, lists, counts, prefixes, diag);
}

int rw_nft_net_live_update(struct rw_nft *n, const char *network, const struct rw_cidr *add_live,
			   size_t n_add_live, const struct rw_cidr *del_live, size_t n_del_live,
			   const struct rw_cidr *del_main, size_t n_del_main, struct rw_diag *diag)
{
	const struct rw_cidr *lists[3] = { add_live, del_live, del_main };
	const size_t counts[3] = { n_add_live, n_del_live, n_del_main };
	const char *const prefixes[3] = { "live_", "live_", "net_" };
	return rw_nft_net_send(n, network, lists, counts, prefixes, diag);
}

int rw_nft_ban_reason_ok(const char *s)
{
	size_t n = s ? strnlen(s, RW_NFT_BAN_REASON_MAX + 1) : 0;
	if (n == 0 || n > RW_NFT_BAN_REASON_MAX)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (s[i] < 0x20 || s[i] > 0x7e || s[i] == '"' || s[i] == '\\')
			return 0;
	return 1;
}

const char *const rw_nft_ban_sets[RW_NFT_N_BAN_SETS] = { "ban_v4", "ban_v6", "banp_v4",
							   "banp_v6" };

int rw_nft_cidr_is_host(const struct rw_cidr *c)
{
	return c->prefix == (c->family == AF_INET ? 32 : 128);
}

const char *rw_nft_ban_set(const struct rw_cidr *c)
{
	return rw_nft_ban_sets[(c->family == AF_INET ? 0 : 1) + (rw_nft_cidr_is_host(c) ? 0 : 2)];
}

static int rw_nft_ban_msg_in(struct rw_nft_batch *b, uint16_t type, const char *set,
			     const struct rw_cidr *addr, uint64_t timeout_ms, const char *comment,
			     const char *what)
{
	struct nftnl_set *s = nftnl_set_alloc();
	if (!s)
		return RW_ENOMEM;
	nftnl_set_set_str(s, NFTNL_SET_TABLE, RW_NFT_TABLE);
	nftnl_set_set_str(s, NFTNL_SET_NAME, set);
	/* the address pair is hashed, the prefix pair holds intervals */
	int rc = strncmp(set, "banp_", 5) == 0 ? rw_nft_elem_range(s, addr, timeout_ms, comment)
					      : rw_nft_elem_host(s, addr, timeout_ms, comment);
	char desc[RW_NFT_DESC_LEN], a[64];
	rw_cidr_format(addr, a, sizeof(a));
	snprintf(desc, sizeof(desc), "set %s %s %s", set, what, a);
	struct nlmsghdr *h = rc ? NULL : rw_nft_batch_msg(b, type, NLM_F_CREATE, desc);
	if (h) {
		nftnl_set_elems_nlmsg_build_payload(h, s);
		rc = rw_nft_batch_msg_done(b);
	} else if (!rc)
		rc = RW_ENOMEM;
	nftnl_set_free(s);
	return rc;
}

int rw_nft_ban_msg(struct rw_nft_batch *b, uint16_t type, const struct rw_cidr *addr,
		   uint64_t timeout_ms, const char *comment, const char *what)
{
	return rw_nft_ban_msg_in(b, type, rw_nft_ban_set(addr), addr, timeout_ms, comment, what);
}

/* A prefix of a family, host bits zero (what the control parser makes;
 * checked again because this is what the kernel gets). */
static int rw_nft_ban_cidr_ok(const struct rw_cidr *addr, struct rw_diag *diag)
{
	int fam = addr->family;
	unsigned bits = fam == AF_INET ? 32 : 128;
	if ((fam != AF_INET && fam != AF_INET6) || addr->prefix > bits || addr->prefix == 0) {
		rw_diag_err(diag, NULL, 0, "a ban names an address or a prefix of at least one bit");
		return RW_EINVAL;
	}
	for (unsigned i = addr->prefix; i < bits; i++)
		if (addr->addr[i / 8] & (0x80u >> (i % 8))) {
			rw_diag_err(diag, NULL, 0, "a banned prefix has no host bits set");
			return RW_EINVAL;
		}
	return 0;
}

int rw_nft_ban_add(struct rw_nft *n, const struct rw_cidr *addr, uint64_t timeout_ms,
		   const char *reason, struct rw_diag *diag)
{
	int rc = rw_nft_ban_cidr_ok(addr, diag);
	if (rc)
		return rc;
	if (reason && reason[0] && !rw_nft_ban_reason_ok(reason)) {
		rw_diag_err(diag, NULL, 0, "a ban reason is 1..%d printable characters without '\"' "
					   "or '\\'", RW_NFT_BAN_REASON_MAX);
		return RW_EINVAL;
	}
	struct rw_nft_batch *b = rw_nft_batch_new(n);
	if (!b)
		return RW_ENOMEM;
	/* add-or-keep, delete, add: a ban of an already banned address or
	 * prefix restarts its timeout instead of failing or keeping the old
	 * one (the kernel takes an identical interval again without
	 * NLM_F_EXCL; an overlapping one fails the batch) */
	rc = rw_nft_ban_msg(b, NFT_MSG_NEWSETELEM, addr, 0, NULL, "ensure");
	if (!rc)
		rc = rw_nft_ban_msg(b, NFT_MSG_DELSETELEM, addr, 0, NULL, "unban");
	if (!rc)
		rc = rw_nft_ban_msg(b, NFT_MSG_NEWSETELEM, addr, timeout_ms, reason, "ban");
	int err = 0;
	if (!rc)
		rc = rw_nft_batch_send(b, diag, &err);
	rw_nft_batch_free(b);
	return rw_nft_map_errno(rc, err);
}

int rw_nft_ban_del_in(struct rw_nft *n, const struct rw_cidr *addr, const char *set,
		      struct rw_diag *diag)
{
	int rc = rw_nft_ban_cidr_ok(addr, diag);
	size_t k;
	for (k = 0; k < RW_NFT_N_BAN_SETS; k++)
		if (set && strcmp(set, rw_nft_ban_sets[k]) == 0)
			break;
	if (!rc && (k == RW_NFT_N_BAN_SETS || (k % 2 == 0) != (addr->family == AF_INET) ||
		    (k < 2 && !rw_nft_cidr_is_host(addr)))) {
		rw_diag_err(diag, NULL, 0, "no ban set %s for that address", set ? set : "(none)");
		rc = RW_EINVAL;
	}
	if (rc)
		return rc;
	struct rw_nft_batch *b = rw_nft_batch_new(n);
	if (!b)
		return RW_ENOMEM;
	rc = rw_nft_ban_msg_in(b, NFT_MSG_DELSETELEM, set, addr, 0, NULL, "unban");
	int err = 0;
	if (!rc)
		rc = rw_nft_batch_send(b, diag, &err);
	rw_nft_batch_free(b);
	return rw_nft_map_errno(rc, err);
}

int rw_nft_ban_del(struct rw_nft *n, const struct rw_cidr *addr, struct rw_diag *diag)
{
	return rw_nft_ban_del_in(n, addr, rw_nft_ban_set(addr), diag);
}
