/* Reading state back: set elements as prefixes, rule counters by comment.
 *
 * Everything here comes from the kernel's dumps and is checked before use
 * (key lengths against the set's key length, comments inside their TLV).
 * Interval dumps come in descending key order and include the end
 * elements; ranges are rebuilt by sorting and pairing each start with the
 * end just above it. */
#include <errno.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netlink.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <libmnl/libmnl.h>
#include <libnftnl/common.h>
#include <libnftnl/expr.h>
#include <libnftnl/rule.h>
#include <libnftnl/set.h>
#include <libnftnl/udata.h>

#include "rules/rw_nft_int.h"

static int rw_nft_set_cb(const struct nlmsghdr *nlh, void *arg)
{
	if (nftnl_set_nlmsg_parse(nlh, arg) < 0) {
		errno = EPROTO;
		return MNL_CB_ERROR;
	}
	return MNL_CB_OK;
}

static int rw_nft_elems_cb(const struct nlmsghdr *nlh, void *arg)
{
	if (nftnl_set_elems_nlmsg_parse(nlh, arg) < 0) {
		errno = EPROTO;
		return MNL_CB_ERROR;
	}
	return MNL_CB_OK;
}

static struct nftnl_set *rw_nft_set_ref(const char *name)
{
	struct nftnl_set *s = nftnl_set_alloc();
	if (!s)
		return NULL;
	nftnl_set_set_str(s, NFTNL_SET_TABLE, RW_NFT_TABLE);
	nftnl_set_set_str(s, NFTNL_SET_NAME, name);
	nftnl_set_set_u32(s, NFTNL_SET_FAMILY, NFPROTO_INET);
	return s;
}

struct rw_nft_lelem {
	uint8_t key[16];
	int end;
	uint64_t expires_ms;
	char comment[RW_NFT_BAN_REASON_MAX + 1];
};

static int rw_nft_elem_udata_cb(const struct nftnl_udata *attr, void *data)
{
	const struct nftnl_udata **tb = data;
	if (nftnl_udata_type(attr) == NFTNL_UDATA_SET_ELEM_COMMENT)
		tb[NFTNL_UDATA_SET_ELEM_COMMENT] = attr;
	return 0; /* other types (INTERVAL_OPEN flags) are not ours to judge */
}

/* The element's comment, if it is one we could have written: a string of
 * at most RW_NFT_BAN_REASON_MAX printable bytes, NUL-terminated inside
 * its TLV. Anything else (another tool's comment) reads as none. */
static void rw_nft_elem_comment(struct nftnl_set_elem *e, char *out)
{
	const struct nftnl_udata *tb[NFTNL_UDATA_SET_ELEM_COMMENT + 1] = { 0 };
	uint32_t len = 0;
	out[0] = '\0';
	const void *ud = nftnl_set_elem_is_set(e, NFTNL_SET_ELEM_USERDATA)
				 ? nftnl_set_elem_get(e, NFTNL_SET_ELEM_USERDATA, &len)
				 : NULL;
	if (!ud || nftnl_udata_parse(ud, len, rw_nft_elem_udata_cb, tb) < 0 ||
	    !tb[NFTNL_UDATA_SET_ELEM_COMMENT])
		return;
	const char *v = nftnl_udata_get(tb[NFTNL_UDATA_SET_ELEM_COMMENT]);
	uint32_t vl = nftnl_udata_len(tb[NFTNL_UDATA_SET_ELEM_COMMENT]);
	if (vl < 2 || vl > RW_NFT_BAN_REASON_MAX + 1 || v[vl - 1] != '\0')
		return;
	if (rw_nft_ban_reason_ok(v))
		memcpy(out, v, vl);
}

/* ascending key; at one key the end of the lower range sorts before the
 * start of the next one (adjacent prefixes) */
static int rw_nft_lelem_cmp(const void *x, const void *y)
{
	const struct rw_nft_lelem *a = x, *b = y;
	int r = memcmp(a->key, b->key, 16);
	if (r)
		return r;
	return b->end - a->end;
}

struct rw_nft_emit {
	rw_nft_elem_info_cb cb;
	void *arg;
	const char *set;
	const struct rw_nft_lelem *start; /* its timeout and comment go along */
};

static void rw_nft_emit_cidr(const struct rw_cidr *c, void *arg)
{
	const struct rw_nft_emit *e = arg;
	struct rw_nft_elem_info info = { .set = e->set, .cidr = *c };
	if (e->start) {
		info.expires_ms = e->start->expires_ms;
		memcpy(info.comment, e->start->comment, sizeof(info.comment));
	}
	e->cb(&info, e->arg);
}

struct rw_nft_coll {
	struct rw_nft_lelem *v;
	size_t n, cap;
	uint32_t klen;
	int rc;
};

static int rw_nft_collect_cb(struct nftnl_set_elem *e, void *data)
{
	struct rw_nft_coll *c = data;
	uint32_t len = 0;
	const void *key = nftnl_set_elem_get(e, NFTNL_SET_ELEM_KEY, &len);
	if (!key || len != c->klen) {
		c->rc = RW_EPROTO;
		return -1;
	}
	if (c->n == c->cap) {
		size_t cap = c->cap ? c->cap * 2 : 256;
		struct rw_nft_lelem *nv = realloc(c->v, cap * sizeof(*nv));
		if (!nv) {
			c->rc = RW_ENOMEM;
			return -1;
		}
		c->v = nv;
		c->cap = cap;
	}
	struct rw_nft_lelem *l = &c->v[c->n++];
	memset(l, 0, sizeof(*l));
	memcpy(l->key, key, len);
	if (nftnl_set_elem_is_set(e, NFTNL_SET_ELEM_FLAGS))
		l->end = (nftnl_set_elem_get_u32(e, NFTNL_SET_ELEM_FLAGS) &
			  NFT_SET_ELEM_INTERVAL_END) != 0;
	if (nftnl_set_elem_is_set(e, NFTNL_SET_ELEM_EXPIRATION))
		l->expires_ms = nftnl_set_elem_get_u64(e, NFTNL_SET_ELEM_EXPIRATION);
	rw_nft_elem_comment(e, l->comment);
	return 0;
}

static int rw_nft_collect(struct nftnl_set *s, uint32_t klen, struct rw_nft_lelem **out,
			  size_t *n_out)
{
	struct rw_nft_coll c = { .klen = klen };
	nftnl_set_elem_foreach(s, rw_nft_collect_cb, &c);
	if (c.rc) {
		free(c.v);
		return c.rc;
	}
	*out = c.v;
	*n_out = c.n;
	return 0;
}

/* A range's expiry and comment are its start element's (an end element
 * carries neither); a prefix ban that expired leaves no start in the
 * dump, and its end is skipped like the key-0 marker. */
static void rw_nft_emit_intervals(struct rw_nft_lelem *v, size_t n, int family, const char *set,
				  rw_nft_elem_info_cb cb, void *arg)
{
	struct rw_nft_emit em = { cb, arg, set, NULL };
	if (n > 1)
		qsort(v, n, sizeof(*v), rw_nft_lelem_cmp);
	const struct rw_nft_lelem *start = NULL;
	for (size_t i = 0; i < n; i++) {
		if (!v[i].end) {
			if (start) { /* two starts in a row (not produced by nft or us): the
				      * first is taken to run up to the second */
				em.start = start;
				rw_nft_range_to_cidrs(family, start->key, v[i].key, 0,
						      rw_nft_emit_cidr, &em);
			}
			start = &v[i];
			continue;
		}
		/* an end with no start is the key-0 marker (or garbage): skip */
		if (start) {
			em.start = start;
			rw_nft_range_to_cidrs(family, start->key, v[i].key, 0, rw_nft_emit_cidr,
					      &em);
		}
		start = NULL;
	}
	if (start) {
		em.start = start;
		rw_nft_range_to_cidrs(family, start->key, start->key, 1, rw_nft_emit_cidr, &em);
	}
}

struct rw_nft_plain {
	rw_nft_elem_cb cb;
	void *arg;
};

static void rw_nft_plain_cb(const struct rw_nft_elem_info *e, void *arg)
{
	const struct rw_nft_plain *p = arg;
	p->cb(&e->cidr, e->expires_ms, p->arg);
}

int rw_nft_set_list(struct rw_nft *n, const char *set, rw_nft_elem_cb cb, void *arg,
		    struct rw_diag *diag)
{
	struct rw_nft_plain p = { cb, arg };
	return rw_nft_set_list_info(n, set, rw_nft_plain_cb, &p, diag);
}

int rw_nft_set_list_info(struct rw_nft *n, const char *set, rw_nft_elem_info_cb cb, void *arg,
			 struct rw_diag *diag)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	int err = 0;
	struct nftnl_set *s = rw_nft_set_ref(set);
	if (!s)
		return RW_ENOMEM;
	struct nlmsghdr *h = nftnl_nlmsg_build_hdr(buf, NFT_MSG_GETSET, NFPROTO_INET, NLM_F_ACK, 0);
	nftnl_set_nlmsg_build_payload(h, s);
	int rc = rw_nft_request(n, h, rw_nft_set_cb, s, &err);
	uint32_t klen = nftnl_set_is_set(s, NFTNL_SET_KEY_LEN) ? nftnl_set_get_u32(s, NFTNL_SET_KEY_LEN)
							       : 0;
	uint32_t flags = nftnl_set_is_set(s, NFTNL_SET_FLAGS) ? nftnl_set_get_u32(s, NFTNL_SET_FLAGS)
							     : 0;
	nftnl_set_free(s);
	if (rc) {
		rw_diag_err(diag, NULL, 0, "nftables: get set %s: %s", set,
			    err ? strerror(err) : rw_strerror(rc));
		return rc == RW_EKERNEL && err == ENOENT ? RW_ENOENT : rc;
	}
	if (klen != 4 && klen != 16) {
		rw_diag_err(diag, NULL, 0, "nftables: set %s has key length %u, not an address",
			    set, klen);
		return RW_EINVAL;
	}
	int family = klen == 4 ? AF_INET : AF_INET6;

	if (!(s = rw_nft_set_ref(set)))
		return RW_ENOMEM;
	h = nftnl_nlmsg_build_hdr(buf, NFT_MSG_GETSETELEM, NFPROTO_INET, NLM_F_DUMP, 0);
	nftnl_set_elems_nlmsg_build_payload(h, s);
	rc = rw_nft_request(n, h, rw_nft_elems_cb, s, &err);
	struct rw_nft_lelem *v = NULL;
	size_t nv = 0;
	if (!rc)
		rc = rw_nft_collect(s, klen, &v, &nv);
	nftnl_set_free(s);
	if (rc) {
		rw_diag_err(diag, NULL, 0, "nftables: list set %s: %s", set,
			    err ? strerror(err) : rw_strerror(rc));
		return rc;
	}
	if (flags & NFT_SET_INTERVAL) {
		rw_nft_emit_intervals(v, nv, family, set, cb, arg);
	} else {
		for (size_t i = 0; i < nv; i++) {
			struct rw_nft_elem_info info = {
				.set = set,
				.cidr = { .family = (uint8_t)family, .prefix = (uint8_t)(klen * 8) },
				.expires_ms = v[i].expires_ms,
			};
			memcpy(info.cidr.addr, v[i].key, klen);
			memcpy(info.comment, v[i].comment, sizeof(info.comment));
			cb(&info, arg);
		}
	}
	free(v);
	return 0;
}

int rw_nft_ban_list(struct rw_nft *n, rw_nft_elem_info_cb cb, void *arg, unsigned *present,
		    struct rw_diag *diag)
{
	*present = 0;
	for (size_t i = 0; i < RW_NFT_N_BAN_SETS; i++) {
		struct rw_diag ldiag;
		rw_diag_init(&ldiag);
		int rc = rw_nft_set_list_info(n, rw_nft_ban_sets[i], cb, arg, &ldiag);
		if (rc == RW_ENOENT)
			continue;
		if (rc) {
			for (unsigned k = 0; k < ldiag.n; k++)
				rw_diag_err(diag, NULL, 0, "%s", ldiag.msg[k].text);
			return rc;
		}
		*present |= 1u << i;
	}
	return 0;
}

struct rw_nft_ctr {
	char chain[32];
	char comment[RW_NFT_COMMENT_LEN];
	uint64_t packets, bytes;
};

struct rw_nft_ctrs {
	struct rw_nft_ctr *v;
	size_t n, cap;
};

static int rw_nft_ctr_add(struct rw_nft_ctrs *cs, const char *chain, const char *comment,
			  uint64_t pk, uint64_t by)
{
	/* twins (v4 and v6) share a comment: one entry, summed */
	for (size_t i = 0; i < cs->n; i++)
		if (strcmp(cs->v[i].chain, chain) == 0 && strcmp(cs->v[i].comment, comment) == 0) {
			cs->v[i].packets += pk;
			cs->v[i].bytes += by;
			return 0;
		}
	if (cs->n == cs->cap) {
		size_t cap = cs->cap ? cs->cap * 2 : 32;
		struct rw_nft_ctr *nv = realloc(cs->v, cap * sizeof(*nv));
		if (!nv)
			return RW_ENOMEM;
		cs->v = nv;
		cs->cap = cap;
	}
	struct rw_nft_ctr *c = &cs->v[cs->n++];
	snprintf(c->chain, sizeof(c->chain), "%s", chain);
	snprintf(c->comment, sizeof(c->comment), "%s", comment);
	c->packets = pk;
	c->bytes = by;
	return 0;
}

static int rw_nft_rule_cb(const struct nlmsghdr *nlh, void *arg)
{
	struct rw_nft_ctrs *cs = arg;
	struct nftnl_rule *r = nftnl_rule_alloc();
	if (!r) {
		errno = ENOMEM;
		return MNL_CB_ERROR;
	}
	if (nftnl_rule_nlmsg_parse(nlh, r) < 0) {
		nftnl_rule_free(r);
		errno = EPROTO;
		return MNL_CB_ERROR;
	}
	const char *table = nftnl_rule_get_str(r, NFTNL_RULE_TABLE);
	const char *chain = nftnl_rule_get_str(r, NFTNL_RULE_CHAIN);
	char comment[RW_NFT_COMMENT_LEN];
	int ok = table && chain && strcmp(table, RW_NFT_TABLE) == 0 &&
		 rw_nft_rule_get_comment(r, comment, sizeof(comment)) == 0;
	uint64_t pk = 0, by = 0;
	int has_counter = 0;
	struct nftnl_expr_iter *it = ok ? nftnl_expr_iter_create(r) : NULL;
	if (it) {
		struct nftnl_expr *e;
		while ((e = nftnl_expr_iter_next(it)) != NULL) {
			const char *nm = nftnl_expr_get_str(e, NFTNL_EXPR_NAME);
			if (nm && strcmp(nm, "counter") == 0) {
				pk += nftnl_expr_get_u64(e, NFTNL_EXPR_CTR_PACKETS);
				by += nftnl_expr_get_u64(e, NFTNL_EXPR_CTR_BYTES);
				has_counter = 1;
			}
		}
		nftnl_expr_iter_destroy(it);
	}
	int rc = 0;
	if (ok && has_counter)
		rc = rw_nft_ctr_add(cs, chain, comment, pk, by);
	nftnl_rule_free(r);
	if (rc) {
		errno = ENOMEM;
		return MNL_CB_ERROR;
	}
	return MNL_CB_OK;
}

int rw_nft_counters(struct rw_nft *n, rw_nft_counter_cb cb, void *arg, struct rw_diag *diag)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct nftnl_rule *r = nftnl_rule_alloc();
	if (!r)
		return RW_ENOMEM;
	nftnl_rule_set_str(r, NFTNL_RULE_TABLE, RW_NFT_TABLE);
	nftnl_rule_set_u32(r, NFTNL_RULE_FAMILY, NFPROTO_INET);
	struct nlmsghdr *h = nftnl_nlmsg_build_hdr(buf, NFT_MSG_GETRULE, NFPROTO_INET, NLM_F_DUMP, 0);
	nftnl_rule_nlmsg_build_payload(h, r);
	nftnl_rule_free(r);
	struct rw_nft_ctrs cs = { 0 };
	int err = 0;
	int rc = rw_nft_request(n, h, rw_nft_rule_cb, &cs, &err);
	if (rc) {
		rw_diag_err(diag, NULL, 0, "nftables: list rules of inet %s: %s", RW_NFT_TABLE,
			    err ? strerror(err) : rw_strerror(rc));
		free(cs.v);
		return rc == RW_EKERNEL && err == ENOENT ? RW_ENOENT : rc;
	}
	for (size_t i = 0; i < cs.n; i++)
		cb(cs.v[i].chain, cs.v[i].comment, cs.v[i].packets, cs.v[i].bytes, arg);
	free(cs.v);
	return 0;
}
