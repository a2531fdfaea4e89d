/* Expression builders: each appends one (or a few) libnftnl expressions to
 * a rule, producing exactly what nft 1.0.6 would for the same statement,
 * so `nft list table inet regwall` reads the table back as nft syntax. */
#include <arpa/inet.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_nat.h>
#include <linux/netfilter/nf_tables.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include <libnftnl/expr.h>
#include <libnftnl/rule.h>
#include <libnftnl/udata.h>

#include "base/rw_cursor.h"
#include "rules/rw_nft_int.h"

static int rw_nft_add(struct nftnl_rule *r, struct nftnl_expr *e)
{
	if (!e)
		return RW_ENOMEM;
	nftnl_rule_add_expr(r, e);
	return 0;
}

int rw_nft_e_meta(struct nftnl_rule *r, uint32_t key)
{
	struct nftnl_expr *e = nftnl_expr_alloc("meta");
	if (!e)
		return RW_ENOMEM;
	nftnl_expr_set_u32(e, NFTNL_EXPR_META_KEY, key);
	nftnl_expr_set_u32(e, NFTNL_EXPR_META_DREG, NFT_REG_1);
	return rw_nft_add(r, e);
}

int rw_nft_e_cmp(struct nftnl_rule *r, uint32_t op, const void *data, uint32_t len)
{
	struct nftnl_expr *e = nftnl_expr_alloc("cmp");
	if (!e)
		return RW_ENOMEM;
	nftnl_expr_set_u32(e, NFTNL_EXPR_CMP_SREG, NFT_REG_1);
	nftnl_expr_set_u32(e, NFTNL_EXPR_CMP_OP, op);
	nftnl_expr_set(e, NFTNL_EXPR_CMP_DATA, data, len);
	return rw_nft_add(r, e);
}

int rw_nft_e_payload(struct nftnl_rule *r, uint32_t base, uint32_t off, uint32_t len)
{
	struct nftnl_expr *e = nftnl_expr_alloc("payload");
	if (!e)
		return RW_ENOMEM;
	nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_BASE, base);
	nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_OFFSET, off);
	nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_LEN, len);
	nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_DREG, NFT_REG_1);
	return rw_nft_add(r, e);
}

/* `ct <key>` loaded into register 1 */
static int rw_nft_e_ct_load(struct nftnl_rule *r, uint32_t key)
{
	struct nftnl_expr *e = nftnl_expr_alloc("ct");
	if (!e)
		return RW_ENOMEM;
	nftnl_expr_set_u32(e, NFTNL_EXPR_CT_KEY, key);
	nftnl_expr_set_u32(e, NFTNL_EXPR_CT_DREG, NFT_REG_1);
	return rw_nft_add(r, e);
}

int rw_nft_e_ct_dir_reply(struct nftnl_rule *r)
{
	int rc = rw_nft_e_ct_load(r, NFT_CT_DIRECTION);
	if (rc)
		return rc;
	const uint8_t reply = 1; /* IP_CT_DIR_REPLY; the key is one byte */
	return rw_nft_e_cmp(r, NFT_CMP_EQ, &reply, 1);
}

/* `ct state X` is a bit test: (state & mask) != 0, in host byte order
 * because the kernel stores ct state as a host u32. */
int rw_nft_e_ct_state(struct nftnl_rule *r, uint32_t mask)
{
	int rc = rw_nft_e_ct_load(r, NFT_CT_STATE);
	if (rc)
		return rc;
	uint32_t zero = 0;
	struct nftnl_expr *e = nftnl_expr_alloc("bitwise");
	if (!e)
		return RW_ENOMEM;
	nftnl_expr_set_u32(e, NFTNL_EXPR_BITWISE_SREG, NFT_REG_1);
	nftnl_expr_set_u32(e, NFTNL_EXPR_BITWISE_DREG, NFT_REG_1);
	nftnl_expr_set_u32(e, NFTNL_EXPR_BITWISE_LEN, sizeof(uint32_t));
	nftnl_expr_set(e, NFTNL_EXPR_BITWISE_MASK, &mask, sizeof(mask));
	nftnl_expr_set(e, NFTNL_EXPR_BITWISE_XOR, &zero, sizeof(zero));
	rc = rw_nft_add(r, e);
	if (rc)
		return rc;
	return rw_nft_e_cmp(r, NFT_CMP_NEQ, &zero, sizeof(zero));
}

/* Named sets are found by name; the ID lets the kernel resolve a set that
 * is created earlier in the same batch, as nft does. */
int rw_nft_e_lookup(struct nftnl_rule *r, const struct rw_nft_cset *s)
{
	struct nftnl_expr *e = nftnl_expr_alloc("lookup");
	if (!e)
		return RW_ENOMEM;
	nftnl_expr_set_u32(e, NFTNL_EXPR_LOOKUP_SREG, NFT_REG_1);
	nftnl_expr_set_str(e, NFTNL_EXPR_LOOKUP_SET, s->name);
	nftnl_expr_set_u32(e, NFTNL_EXPR_LOOKUP_SET_ID, s->id);
	return rw_nft_add(r, e);
}

int rw_nft_e_counter(struct nftnl_rule *r)
{
	return rw_nft_add(r, nftnl_expr_alloc("counter"));
}

int rw_nft_e_verdict(struct nftnl_rule *r, int verdict)
{
	struct nftnl_expr *e = nftnl_expr_alloc("immediate");
	if (!e)
		return RW_ENOMEM;
	nftnl_expr_set_u32(e, NFTNL_EXPR_IMM_DREG, NFT_REG_VERDICT);
	nftnl_expr_set_u32(e, NFTNL_EXPR_IMM_VERDICT, (uint32_t)verdict);
	return rw_nft_add(r, e);
}

int rw_nft_e_log(struct nftnl_rule *r, uint16_t group, const char *prefix)
{
	if (strlen(prefix) > RW_NFT_PREFIX_MAX)
		return RW_ERANGE;
	struct nftnl_expr *e = nftnl_expr_alloc("log");
	if (!e)
		return RW_ENOMEM;
	nftnl_expr_set_str(e, NFTNL_EXPR_LOG_PREFIX, prefix);
	nftnl_expr_set_u16(e, NFTNL_EXPR_LOG_GROUP, group);
	return rw_nft_add(r, e);
}

static struct nftnl_expr *rw_nft_limit_new(uint64_t rate, uint64_t unit_s, uint32_t burst,
					   uint32_t flags)
{
	struct nftnl_expr *e = nftnl_expr_alloc("limit");
	if (!e)
		return NULL;
	nftnl_expr_set_u64(e, NFTNL_EXPR_LIMIT_RATE, rate);
	nftnl_expr_set_u64(e, NFTNL_EXPR_LIMIT_UNIT, unit_s);
	nftnl_expr_set_u32(e, NFTNL_EXPR_LIMIT_BURST, burst);
	nftnl_expr_set_u32(e, NFTNL_EXPR_LIMIT_TYPE, NFT_LIMIT_PKTS);
	nftnl_expr_set_u32(e, NFTNL_EXPR_LIMIT_FLAGS, flags);
	return e;
}

int rw_nft_e_limit(struct nftnl_rule *r, uint64_t rate, uint64_t unit_s, uint32_t burst)
{
	return rw_nft_add(r, rw_nft_limit_new(rate, unit_s, burst, 0));
}

/* With a nested "limit over", the dynset breaks the rule unless this key
 * is over its rate: the meter itself is the condition of the rule. */
int rw_nft_e_dynset(struct nftnl_rule *r, const struct rw_nft_cset *s, uint32_t op,
		    uint64_t timeout_ms, uint64_t lim_rate, uint64_t lim_unit_s, uint32_t lim_burst)
{
	struct nftnl_expr *e = nftnl_expr_alloc("dynset");
	if (!e)
		return RW_ENOMEM;
	nftnl_expr_set_u32(e, NFTNL_EXPR_DYNSET_SREG_KEY, NFT_REG_1);
	nftnl_expr_set_u32(e, NFTNL_EXPR_DYNSET_OP, op);
	nftnl_expr_set_str(e, NFTNL_EXPR_DYNSET_SET_NAME, s->name);
	nftnl_expr_set_u32(e, NFTNL_EXPR_DYNSET_SET_ID, s->id);
	if (timeout_ms)
		nftnl_expr_set_u64(e, NFTNL_EXPR_DYNSET_TIMEOUT, timeout_ms);
	if (lim_rate) {
		struct nftnl_expr *lim =
			rw_nft_limit_new(lim_rate, lim_unit_s, lim_burst, NFT_LIMIT_F_INV);
		if (!lim) {
			nftnl_expr_free(e);
			return RW_ENOMEM;
		}
		nftnl_expr_add_expr(e, NFTNL_EXPR_DYNSET_EXPRESSIONS, lim);
	}
	return rw_nft_add(r, e);
}

int rw_nft_e_l4port(struct nftnl_rule *r, uint8_t proto, uint16_t port)
{
	uint16_t be = htons(port);
	int rc = rw_nft_e_meta(r, NFT_META_L4PROTO);
	if (!rc)
		rc = rw_nft_e_cmp(r, NFT_CMP_EQ, &proto, 1);
	if (!rc)
		rc = rw_nft_e_payload(r, NFT_PAYLOAD_TRANSPORT_HEADER, 2, 2);
	if (!rc)
		rc = rw_nft_e_cmp(r, NFT_CMP_EQ, &be, 2);
	return rc;
}

/* In an inet table the network header may be either family: every ip/ip6
 * field load is guarded by meta nfproto, or a v6 packet would be read at
 * v4 offsets. */
int rw_nft_e_nfproto(struct nftnl_rule *r, int family)
{
	uint8_t nfp = family == AF_INET ? NFPROTO_IPV4 : NFPROTO_IPV6;
	int rc = rw_nft_e_meta(r, NFT_META_NFPROTO);
	if (!rc)
		rc = rw_nft_e_cmp(r, NFT_CMP_EQ, &nfp, 1);
	return rc;
}

int rw_nft_e_saddr(struct nftnl_rule *r, int family)
{
	int rc = rw_nft_e_nfproto(r, family);
	if (rc)
		return rc;
	if (family == AF_INET)
		return rw_nft_e_payload(r, NFT_PAYLOAD_NETWORK_HEADER, 12, 4);
	return rw_nft_e_payload(r, NFT_PAYLOAD_NETWORK_HEADER, 8, 16);
}

int rw_nft_e_daddr_eq(struct nftnl_rule *r, int family, const uint8_t addr[16])
{
	int rc = rw_nft_e_nfproto(r, family);
	if (rc)
		return rc;
	if (family == AF_INET) {
		rc = rw_nft_e_payload(r, NFT_PAYLOAD_NETWORK_HEADER, 16, 4);
		return rc ? rc : rw_nft_e_cmp(r, NFT_CMP_EQ, addr, 4);
	}
	rc = rw_nft_e_payload(r, NFT_PAYLOAD_NETWORK_HEADER, 24, 16);
	return rc ? rc : rw_nft_e_cmp(r, NFT_CMP_EQ, addr, 16);
}

/* nft compares an exact interface name including its NUL. */
int rw_nft_e_iifname(struct nftnl_rule *r, const char *ifname)
{
	size_t len = strlen(ifname);
	if (len == 0 || len >= 16)
		return RW_EINVAL;
	int rc = rw_nft_e_meta(r, NFT_META_IIFNAME);
	return rc ? rc : rw_nft_e_cmp(r, NFT_CMP_EQ, ifname, (uint32_t)len + 1);
}

int rw_nft_e_iifname_not(struct nftnl_rule *r, const char *ifname)
{
	size_t len = strlen(ifname);
	if (len == 0 || len >= 16)
		return RW_EINVAL;
	int rc = rw_nft_e_meta(r, NFT_META_IIFNAME);
	return rc ? rc : rw_nft_e_cmp(r, NFT_CMP_NEQ, ifname, (uint32_t)len + 1);
}

/* `immediate reg N value`: value as the packet carries it (network order). */
static int rw_nft_e_imm(struct nftnl_rule *r, uint32_t reg, const void *data, uint32_t len)
{
	struct nftnl_expr *e = nftnl_expr_alloc("immediate");
	if (!e)
		return RW_ENOMEM;
	nftnl_expr_set_u32(e, NFTNL_EXPR_IMM_DREG, reg);
	nftnl_expr_set(e, NFTNL_EXPR_IMM_DATA, data, len);
	return rw_nft_add(r, e);
}

/* `redirect to :port`, as nft 1.0.6 lowers it: the port into reg 1, redir
 * with NF_NAT_RANGE_PROTO_SPECIFIED. */
int rw_nft_e_redir(struct nftnl_rule *r, uint16_t port)
{
	uint16_t p = htons(port);
	int rc = rw_nft_e_imm(r, NFT_REG_1, &p, sizeof(p));
	if (rc)
		return rc;
	struct nftnl_expr *e = nftnl_expr_alloc("redir");
	if (!e)
		return RW_ENOMEM;
	nftnl_expr_set_u32(e, NFTNL_EXPR_REDIR_REG_PROTO_MIN, NFT_REG_1);
	nftnl_expr_set_u32(e, NFTNL_EXPR_REDIR_FLAGS, NF_NAT_RANGE_PROTO_SPECIFIED);
	return rw_nft_add(r, e);
}

/* `dnat ip to A:port` / `dnat ip6 to [A]:port`: the address into reg 1,
 * the port into reg 2. */
int rw_nft_e_dnat(struct nftnl_rule *r, int family, const uint8_t addr[16], uint16_t port)
{
	uint16_t p = htons(port);
	int rc = rw_nft_e_imm(r, NFT_REG_1, addr, family == AF_INET ? 4 : 16);
	if (!rc)
		rc = rw_nft_e_imm(r, NFT_REG_2, &p, sizeof(p));
	if (rc)
		return rc;
	struct nftnl_expr *e = nftnl_expr_alloc("nat");
	if (!e)
		return RW_ENOMEM;
	nftnl_expr_set_u32(e, NFTNL_EXPR_NAT_TYPE, NFT_NAT_DNAT);
	nftnl_expr_set_u32(e, NFTNL_EXPR_NAT_FAMILY, family == AF_INET ? NFPROTO_IPV4 : NFPROTO_IPV6);
	nftnl_expr_set_u32(e, NFTNL_EXPR_NAT_REG_ADDR_MIN, NFT_REG_1);
	nftnl_expr_set_u32(e, NFTNL_EXPR_NAT_REG_PROTO_MIN, NFT_REG_2);
	nftnl_expr_set_u32(e, NFTNL_EXPR_NAT_FLAGS, NF_NAT_RANGE_PROTO_SPECIFIED);
	return rw_nft_add(r, e);
}

int rw_nft_rule_set_comment(struct nftnl_rule *r, const char *comment)
{
	if (strlen(comment) >= NFTNL_UDATA_COMMENT_MAXLEN)
		return RW_ERANGE;
	struct nftnl_udata_buf *u = nftnl_udata_buf_alloc(NFT_USERDATA_MAXLEN);
	if (!u)
		return RW_ENOMEM;
	int rc = 0;
	if (!nftnl_udata_put_strz(u, NFTNL_UDATA_RULE_COMMENT, comment))
		rc = RW_ERANGE;
	else
		nftnl_rule_set_data(r, NFTNL_RULE_USERDATA, nftnl_udata_buf_data(u),
				    nftnl_udata_buf_len(u));
	nftnl_udata_buf_free(u);
	return rc;
}

/* Rule userdata as nft writes it, a list of nftnl_udata TLVs:
 *
 *   +------+-----+---------------+------+-----+----
 *   | type | len | value (len B) | type | len | ...
 *   +------+-----+---------------+------+-----+----
 *     u8     u8
 *
 * It comes back from the kernel as opaque bytes (any tool may have written
 * them), so it is read through the cursor: a length past the end or a
 * comment that is not one NUL-terminated string is refused. */
int rw_nft_rule_get_comment(const struct nftnl_rule *r, char *buf, size_t len)
{
	uint32_t ulen = 0;
	buf[0] = '\0';
	if (!nftnl_rule_is_set(r, NFTNL_RULE_USERDATA))
		return RW_ENOENT;
	const void *ud = nftnl_rule_get_data(r, NFTNL_RULE_USERDATA, &ulen);
	struct rw_cursor c;
	rw_cur_init(&c, ud, ud ? ulen : 0);
	while (rw_cur_left(&c) > 0) {
		uint8_t type, vlen;
		const uint8_t *v;
		if (rw_cur_u8(&c, &type) || rw_cur_u8(&c, &vlen) || rw_cur_bytes(&c, vlen, &v))
			return RW_EPROTO;
		if (type != NFTNL_UDATA_RULE_COMMENT)
			continue;
		if (vlen == 0 || memchr(v, '\0', vlen) != v + vlen - 1)
			return RW_EPROTO;
		snprintf(buf, len, "%s", (const char *)v);
		return 0;
	}
	return RW_ENOENT;
}
