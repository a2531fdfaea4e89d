/* The signature of table inet regwall as the kernel holds it: cheap enough
 * to read every second (one GETTABLE and three dumps of a few dozen
 * objects; no set elements), exact enough that any change to the table,
 * a chain, a set declaration or a rule shows.
 *
 * Rules are compared by what they do: each dumped rule is parsed with
 * libnftnl, its counters are set to zero (the only expression state that
 * changes on its own), and its netlink encoding is hashed together with
 * its chain and handle. A rule replaced in place keeps its handle but not
 * its encoding; a rule deleted and added again gets a new handle. */
#include "rules/rw_nft_monitor.h"

#include <errno.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netlink.h>
#include <stdlib.h>
#include <string.h>

#include <libmnl/libmnl.h>
#include <libnftnl/chain.h>
#include <libnftnl/common.h>
#include <libnftnl/expr.h>
#include <libnftnl/rule.h>
#include <libnftnl/set.h>
#include <libnftnl/table.h>

#include "rules/rw_nft_int.h"

#define RW_FNV_OFFSET 0xcbf29ce484222325ull
#define RW_FNV_PRIME 0x100000001b3ull

static uint64_t rw_fnv(uint64_t h, const void *p, size_t n)
{
	const unsigned char *b = p;
	for (size_t i = 0; i < n; i++) {
		h ^= b[i];
		h *= RW_FNV_PRIME;
	}
	return h;
}

static uint64_t rw_fnv_str(uint64_t h, const char *s)
{
	return rw_fnv(h, s ? s : "", s ? strlen(s) + 1 : 1);
}

static uint64_t rw_fnv_u64(uint64_t h, uint64_t v)
{
	return rw_fnv(h, &v, sizeof(v));
}

static int rw_nft_sig_table_cb(const struct nlmsghdr *nlh, void *arg)
{
	struct rw_nft_sig *sig = arg;
	struct nftnl_table *t = nftnl_table_alloc();
	if (!t || nftnl_table_nlmsg_parse(nlh, t) < 0) {
		nftnl_table_free(t);
		errno = t ? EPROTO : ENOMEM;
		return MNL_CB_ERROR;
	}
	sig->present = 1;
	sig->table_flags = nftnl_table_get_u32(t, NFTNL_TABLE_FLAGS);
	/* the handle: a table deleted and created again is another table */
	sig->h_chains = rw_fnv_u64(sig->h_chains, nftnl_table_get_u64(t, NFTNL_TABLE_HANDLE));
	nftnl_table_free(t);
	return MNL_CB_OK;
}

static int rw_nft_sig_chain_cb(const struct nlmsghdr *nlh, void *arg)
{
	struct rw_nft_sig *sig = arg;
	struct nftnl_chain *c = nftnl_chain_alloc();
	if (!c || nftnl_chain_nlmsg_parse(nlh, c) < 0) {
		nftnl_chain_free(c);
		errno = c ? EPROTO : ENOMEM;
		return MNL_CB_ERROR;
	}
	const char *table = nftnl_chain_get_str(c, NFTNL_CHAIN_TABLE);
	if (table && strcmp(table, RW_NFT_TABLE) == 0) {
		uint64_t h = sig->h_chains;
		h = rw_fnv_str(h, nftnl_chain_get_str(c, NFTNL_CHAIN_NAME));
		h = rw_fnv_u64(h, nftnl_chain_get_u64(c, NFTNL_CHAIN_HANDLE));
		h = rw_fnv_str(h, nftnl_chain_get_str(c, NFTNL_CHAIN_TYPE));
		h = rw_fnv_u64(h, nftnl_chain_get_u32(c, NFTNL_CHAIN_HOOKNUM));
		h = rw_fnv_u64(h, (uint32_t)nftnl_chain_get_s32(c, NFTNL_CHAIN_PRIO));
		h = rw_fnv_u64(h, nftnl_chain_get_u32(c, NFTNL_CHAIN_POLICY));
		h = rw_fnv_u64(h, nftnl_chain_get_u32(c, NFTNL_CHAIN_FLAGS));
		sig->h_chains = h;
		sig->n_chains++;
	}
	nftnl_chain_free(c);
	return MNL_CB_OK;
}

static int rw_nft_sig_set_cb(const struct nlmsghdr *nlh, void *arg)
{
	struct rw_nft_sig *sig = arg;
	struct nftnl_set *s = nftnl_set_alloc();
	if (!s || nftnl_set_nlmsg_parse(nlh, s) < 0) {
		nftnl_set_free(s);
		errno = s ? EPROTO : ENOMEM;
		return MNL_CB_ERROR;
	}
	const char *table = nftnl_set_get_str(s, NFTNL_SET_TABLE);
	if (table && strcmp(table, RW_NFT_TABLE) == 0) {
		uint64_t h = sig->h_sets;
		h = rw_fnv_str(h, nftnl_set_get_str(s, NFTNL_SET_NAME));
		h = rw_fnv_u64(h, nftnl_set_get_u64(s, NFTNL_SET_HANDLE));
		h = rw_fnv_u64(h, nftnl_set_get_u32(s, NFTNL_SET_FLAGS));
		h = rw_fnv_u64(h, nftnl_set_get_u32(s, NFTNL_SET_KEY_TYPE));
		h = rw_fnv_u64(h, nftnl_set_get_u32(s, NFTNL_SET_KEY_LEN));
		h = rw_fnv_u64(h, nftnl_set_get_u64(s, NFTNL_SET_TIMEOUT));
		h = rw_fnv_u64(h, nftnl_set_get_u32(s, NFTNL_SET_DESC_SIZE));
		sig->h_sets = h;
		sig->n_sets++;
	}
	nftnl_set_free(s);
	return MNL_CB_OK;
}

/* The rule's netlink encoding with its counters at zero. */
static int rw_nft_sig_rule_hash(struct nftnl_rule *r, uint32_t msg_len, uint64_t *h)
{
	struct nftnl_expr_iter *it = nftnl_expr_iter_create(r);
	if (!it)
		return -1;
	struct nftnl_expr *e;
	while ((e = nftnl_expr_iter_next(it)) != NULL) {
		const char *nm = nftnl_expr_get_str(e, NFTNL_EXPR_NAME);
		if (nm && strcmp(nm, "counter") == 0) {
			nftnl_expr_set_u64(e, NFTNL_EXPR_CTR_PACKETS, 0);
			nftnl_expr_set_u64(e, NFTNL_EXPR_CTR_BYTES, 0);
		}
	}
	nftnl_expr_iter_destroy(it);
	/* the encoding is as long as the dumped message (same attributes,
	 * counters the same width): twice that is ample */
	size_t cap = 2 * (size_t)msg_len + 4096;
	/* zeroed: libmnl 1.0.4 leaves attribute padding as it finds it, and
	 * the padding is hashed too */
	char *buf = calloc(1, cap);
	if (!buf)
		return -1;
	struct nlmsghdr *nlh = nftnl_nlmsg_build_hdr(buf, NFT_MSG_NEWRULE, NFPROTO_INET, 0, 0);
	nftnl_rule_nlmsg_build_payload(nlh, r);
	*h = rw_fnv(*h, mnl_nlmsg_get_payload(nlh), mnl_nlmsg_get_payload_len(nlh));
	free(buf);
	return 0;
}

static int rw_nft_sig_rule_cb(const struct nlmsghdr *nlh, void *arg)
{
	struct rw_nft_sig *sig = arg;
	struct nftnl_rule *r = nftnl_rule_alloc();
	if (!r || nftnl_rule_nlmsg_parse(nlh, r) < 0) {
		nftnl_rule_free(r);
		errno = r ? EPROTO : ENOMEM;
		return MNL_CB_ERROR;
	}
	const char *table = nftnl_rule_get_str(r, NFTNL_RULE_TABLE);
	int rc = MNL_CB_OK;
	if (table && strcmp(table, RW_NFT_TABLE) == 0) {
		uint64_t h = sig->h_rules;
		h = rw_fnv_str(h, nftnl_rule_get_str(r, NFTNL_RULE_CHAIN));
		h = rw_fnv_u64(h, nftnl_rule_get_u64(r, NFTNL_RULE_HANDLE));
		if (rw_nft_sig_rule_hash(r, nlh->nlmsg_len, &h)) {
			errno = ENOMEM;
			rc = MNL_CB_ERROR;
		}
		sig->h_rules = h;
		sig->n_rules++;
	}
	nftnl_rule_free(r);
	return rc;
}

/* A request for table inet regwall's objects of one kind: the kernel
 * filters dumps by the table attribute where it can; the callbacks check
 * the table again in any case. */
static int rw_nft_sig_dump(struct rw_nft *n, uint16_t type, int (*cb)(const struct nlmsghdr *, void *),
			   struct rw_nft_sig *sig, struct rw_diag *diag, const char *what)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	uint16_t flags = type == NFT_MSG_GETTABLE ? NLM_F_ACK : NLM_F_DUMP;
	struct nlmsghdr *h = nftnl_nlmsg_build_hdr(buf, type, NFPROTO_INET, flags, 0);
	mnl_attr_put_strz(h, 1, RW_NFT_TABLE); /* NFTA_{TABLE_NAME,CHAIN_TABLE,SET_TABLE,RULE_TABLE} */
	int err = 0;
	int rc = rw_nft_request(n, h, cb, sig, &err);
	if (rc == RW_EKERNEL && err == ENOENT)
		return RW_ENOENT;
	if (rc)
		rw_diag_err(diag, NULL, 0, "nftables: read %s of inet %s: %s", what, RW_NFT_TABLE,
			    err ? strerror(err) : rw_strerror(rc));
	return rc;
}

int rw_nft_sig_read(struct rw_nft *n, struct rw_nft_sig *out, struct rw_diag *diag)
{
	memset(out, 0, sizeof(*out));
	out->h_chains = out->h_sets = out->h_rules = RW_FNV_OFFSET;
	int rc = rw_nft_sig_dump(n, NFT_MSG_GETTABLE, rw_nft_sig_table_cb, out, diag, "the table");
	if (rc == RW_ENOENT) {
		memset(out, 0, sizeof(*out));
		return 0;
	}
	if (!rc)
		rc = rw_nft_sig_dump(n, NFT_MSG_GETCHAIN, rw_nft_sig_chain_cb, out, diag, "chains");
	if (!rc)
		rc = rw_nft_sig_dump(n, NFT_MSG_GETSET, rw_nft_sig_set_cb, out, diag, "sets");
	if (!rc)
		rc = rw_nft_sig_dump(n, NFT_MSG_GETRULE, rw_nft_sig_rule_cb, out, diag, "rules");
	/* deleted between the GETTABLE and a dump: the table is gone now */
	if (rc == RW_ENOENT) {
		memset(out, 0, sizeof(*out));
		return 0;
	}
	return rc;
}

static void rw_nft_sig_add(char *buf, size_t len, size_t *off, const char *text)
{
	if (*off >= len)
		return;
	int k = snprintf(buf + *off, len - *off, "%s%s", *off ? "; " : "", text);
	if (k > 0)
		*off += (size_t)k;
}

int rw_nft_sig_diff(const struct rw_nft_sig *loaded, const struct rw_nft_sig *now, char *buf,
		    size_t len)
{
	size_t off = 0;
	if (len)
		buf[0] = '\0';
	if (!now->present) {
		snprintf(buf, len, "table inet %s is missing", RW_NFT_TABLE);
		return 1;
	}
	if (!loaded->present) {
		snprintf(buf, len, "table inet %s exists but regwalld has not loaded it", RW_NFT_TABLE);
		return 1;
	}
	char t[96];
	if (now->table_flags != loaded->table_flags) {
		snprintf(t, sizeof(t), "table flags 0x%x (loaded 0x%x; 0x1 = dormant)",
			 now->table_flags, loaded->table_flags);
		rw_nft_sig_add(buf, len, &off, t);
	}
	if (now->n_chains != loaded->n_chains || now->h_chains != loaded->h_chains) {
		snprintf(t, sizeof(t), "table or chains differ (%u chains now, %u loaded)",
			 now->n_chains, loaded->n_chains);
		rw_nft_sig_add(buf, len, &off, t);
	}
	if (now->n_sets != loaded->n_sets || now->h_sets != loaded->h_sets) {
		snprintf(t, sizeof(t), "sets differ (%u now, %u loaded)", now->n_sets, loaded->n_sets);
		rw_nft_sig_add(buf, len, &off, t);
	}
	if (now->n_rules != loaded->n_rules || now->h_rules != loaded->h_rules) {
		snprintf(t, sizeof(t), "rules differ (%u now, %u loaded)", now->n_rules,
			 loaded->n_rules);
		rw_nft_sig_add(buf, len, &off, t);
	}
	return off != 0;
}
