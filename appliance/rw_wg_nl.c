/* Kernel WireGuard over netlink (see rw_wg_nl.h). Attribute numbers and
 * types: uapi linux/wireguard.h. Replies are read in the two passes of
 * style habit 3: each attribute's length checked into a table, then only
 * the table is read. */
#include "appliance/rw_wg_nl.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <libmnl/libmnl.h>
#include <linux/genetlink.h>
#include <linux/if_link.h>
#include <linux/rtnetlink.h>
#include <linux/wireguard.h>
#include <net/if.h>
#include <netinet/in.h>
#include <openssl/crypto.h>

#include "base/rw_err.h"

void rw_wg_nl_msgs_free(struct rw_wg_nl_msgs *m)
{
	if (m->buf)
		OPENSSL_cleanse(m->buf, m->len); /* the first message may hold the private key */
	free(m->buf);
	memset(m, 0, sizeof(*m));
}

/* ---- SET ---------------------------------------------------------------- */

struct rw_wg_set_b {
	const char *ifname;
	uint16_t family_id;
	uint32_t seq;
	size_t max;
	uint8_t *scratch;
	struct nlmsghdr *nlh;
	struct nlattr *peers; /* open WGDEVICE_A_PEERS nest, or NULL */
	int has_peer;         /* this message holds some peer content */
	struct rw_wg_nl_msgs *out;
};

static void rw_wg_set_start(struct rw_wg_set_b *b)
{
	memset(b->scratch, 0, b->max);
	b->nlh = mnl_nlmsg_put_header(b->scratch);
	b->nlh->nlmsg_type = b->family_id;
	b->nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK;
	b->nlh->nlmsg_seq = b->seq + (uint32_t)b->out->n;
	struct genlmsghdr *g = mnl_nlmsg_put_extra_header(b->nlh, sizeof(*g));
	g->cmd = WG_CMD_SET_DEVICE;
	g->version = WG_GENL_VERSION;
	mnl_attr_put_strz(b->nlh, WGDEVICE_A_IFNAME, b->ifname);
	b->peers = NULL;
	b->has_peer = 0;
}

static int rw_wg_set_flush(struct rw_wg_set_b *b)
{
	if (b->peers)
		mnl_attr_nest_end(b->nlh, b->peers);
	b->peers = NULL;
	size_t l = b->nlh->nlmsg_len; /* NLMSG_ALIGNed: every attribute is */
	uint8_t *nb = realloc(b->out->buf, b->out->len + l);
	if (!nb)
		return RW_ENOMEM;
	memcpy(nb + b->out->len, b->scratch, l);
	b->out->buf = nb;
	b->out->len += l;
	b->out->n++;
	return 0;
}

/* The next message; RW_ETOOBIG if the current one holds no peer content
 * yet (the fragment cannot fit any message). */
static int rw_wg_set_next(struct rw_wg_set_b *b)
{
	if (!b->has_peer)
		return RW_ETOOBIG;
	int rc = rw_wg_set_flush(b);
	if (rc)
		return rc;
	rw_wg_set_start(b);
	return 0;
}

static int rw_wg_put_endpoint(struct rw_wg_set_b *b, const struct rw_endpoint *e)
{
	if (e->family == AF_INET) {
		struct sockaddr_in sin = { .sin_family = AF_INET, .sin_port = htons(e->port) };
		memcpy(&sin.sin_addr, e->addr, 4);
		return mnl_attr_put_check(b->nlh, b->max, WGPEER_A_ENDPOINT, sizeof(sin), &sin);
	}
	struct sockaddr_in6 sin6 = { .sin6_family = AF_INET6, .sin6_port = htons(e->port) };
	memcpy(&sin6.sin6_addr, e->addr, 16);
	return mnl_attr_put_check(b->nlh, b->max, WGPEER_A_ENDPOINT, sizeof(sin6), &sin6);
}

/* One peer's first fragment head: key, flags, endpoint, keepalive. */
static int rw_wg_put_peer_head(struct rw_wg_set_b *b, const struct rw_wg_peer *p, int first)
{
	if (!mnl_attr_put_check(b->nlh, b->max, WGPEER_A_PUBLIC_KEY, 32, p->public_key))
		return 0;
	if (!first)
		return 1;
	uint32_t flags = (p->remove ? WGPEER_F_REMOVE_ME : 0) |
			 (p->replace_allowed && !p->remove ? WGPEER_F_REPLACE_ALLOWEDIPS : 0);
	if (flags && !mnl_attr_put_u32_check(b->nlh, b->max, WGPEER_A_FLAGS, flags))
		return 0;
	if (p->remove)
		return 1;
	if (p->endpoint.family && !rw_wg_put_endpoint(b, &p->endpoint))
		return 0;
	return mnl_attr_put_u16_check(b->nlh, b->max, WGPEER_A_PERSISTENT_KEEPALIVE_INTERVAL,
				      p->keepalive);
}

static int rw_wg_put_allowed(struct rw_wg_set_b *b, const struct rw_cidr *c)
{
	struct nlattr *n = mnl_attr_nest_start_check(b->nlh, b->max, 0);
	if (!n)
		return 0;
	if (!mnl_attr_put_u16_check(b->nlh, b->max, WGALLOWEDIP_A_FAMILY, c->family) ||
	    !mnl_attr_put_check(b->nlh, b->max, WGALLOWEDIP_A_IPADDR, c->family == AF_INET ? 4 : 16,
				c->addr) ||
	    !mnl_attr_put_u8_check(b->nlh, b->max, WGALLOWEDIP_A_CIDR_MASK, c->prefix)) {
		mnl_attr_nest_cancel(b->nlh, n);
		return 0;
	}
	mnl_attr_nest_end(b->nlh, n);
	return 1;
}

static int rw_wg_set_peer(struct rw_wg_set_b *b, const struct rw_wg_peer *p)
{
	size_t j = 0;
	int first = 1, rc;
	for (;;) {
		struct nlattr *pn = NULL, *ips = NULL;
		if (!b->peers)
			b->peers = mnl_attr_nest_start_check(b->nlh, b->max, WGDEVICE_A_PEERS);
		if (b->peers)
			pn = mnl_attr_nest_start_check(b->nlh, b->max, 0);
		if (!pn || !rw_wg_put_peer_head(b, p, first)) {
			if (pn)
				mnl_attr_nest_cancel(b->nlh, pn);
			if ((rc = rw_wg_set_next(b)))
				return rc;
			continue;
		}
		b->has_peer = 1;
		first = 0;
		if (p->remove || j == p->n_allowed) {
			mnl_attr_nest_end(b->nlh, pn);
			return 0;
		}
		ips = mnl_attr_nest_start_check(b->nlh, b->max, WGPEER_A_ALLOWEDIPS);
		while (ips && j < p->n_allowed && rw_wg_put_allowed(b, &p->allowed[j]))
			j++;
		if (ips)
			mnl_attr_nest_end(b->nlh, ips);
		mnl_attr_nest_end(b->nlh, pn);
		if (j == p->n_allowed)
			return 0;
		/* the rest of this peer's allowed IPs in the next message,
		 * under its key only (appended, not replacing) */
		if ((rc = rw_wg_set_flush(b)))
			return rc;
		rw_wg_set_start(b);
	}
}

int rw_wg_nl_build_set(const struct rw_wg_device *dev, const char *ifname, uint16_t family_id,
		       uint32_t seq, size_t msg_max, struct rw_wg_nl_msgs *out)
{
	struct rw_wg_set_b b = { .ifname = ifname, .family_id = family_id, .seq = seq,
				 .max = msg_max, .out = out };
	int rc = 0;
	memset(out, 0, sizeof(*out));
	if (msg_max < 512 || strlen(ifname) >= IFNAMSIZ || !ifname[0])
		return RW_EINVAL;
	if (!(b.scratch = malloc(msg_max)))
		return RW_ENOMEM;
	rw_wg_set_start(&b);
	/* device fields: only in the first message (REPLACE_PEERS there
	 * only: in a later one it would drop the peers just sent) */
	if (dev->replace_peers)
		mnl_attr_put_u32(b.nlh, WGDEVICE_A_FLAGS, WGDEVICE_F_REPLACE_PEERS);
	if (dev->has_private_key)
		mnl_attr_put(b.nlh, WGDEVICE_A_PRIVATE_KEY, 32, dev->private_key);
	if (dev->has_listen_port)
		mnl_attr_put_u16(b.nlh, WGDEVICE_A_LISTEN_PORT, dev->listen_port);
	for (size_t i = 0; i < dev->n_peers && !rc; i++)
		rc = rw_wg_set_peer(&b, &dev->peers[i]);
	if (!rc)
		rc = rw_wg_set_flush(&b);
	OPENSSL_cleanse(b.scratch, msg_max);
	free(b.scratch);
	if (rc)
		rw_wg_nl_msgs_free(out);
	return rc;
}

/* ---- small requests ----------------------------------------------------- */

size_t rw_wg_nl_build_get(void *buf, size_t buf_len, const char *ifname, uint16_t family_id,
			  uint32_t seq)
{
	if (buf_len < 64 || strlen(ifname) >= IFNAMSIZ)
		return 0;
	memset(buf, 0, 64);
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	nlh->nlmsg_type = family_id;
	nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK | NLM_F_DUMP;
	nlh->nlmsg_seq = seq;
	struct genlmsghdr *g = mnl_nlmsg_put_extra_header(nlh, sizeof(*g));
	g->cmd = WG_CMD_GET_DEVICE;
	g->version = WG_GENL_VERSION;
	mnl_attr_put_strz(nlh, WGDEVICE_A_IFNAME, ifname);
	return nlh->nlmsg_len;
}

size_t rw_wg_nl_build_newlink(void *buf, size_t buf_len, const char *ifname, uint32_t seq)
{
	if (buf_len < 128 || strlen(ifname) >= IFNAMSIZ)
		return 0;
	memset(buf, 0, 128);
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	nlh->nlmsg_type = RTM_NEWLINK;
	nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL;
	nlh->nlmsg_seq = seq;
	struct ifinfomsg *ifm = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifm));
	ifm->ifi_family = AF_UNSPEC;
	mnl_attr_put_strz(nlh, IFLA_IFNAME, ifname);
	struct nlattr *li = mnl_attr_nest_start(nlh, IFLA_LINKINFO);
	mnl_attr_put_strz(nlh, IFLA_INFO_KIND, WG_GENL_NAME);
	mnl_attr_nest_end(nlh, li);
	return nlh->nlmsg_len;
}

size_t rw_wg_nl_build_getfamily(void *buf, size_t buf_len, uint32_t seq)
{
	if (buf_len < 64)
		return 0;
	memset(buf, 0, 64);
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	nlh->nlmsg_type = GENL_ID_CTRL;
	nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK;
	nlh->nlmsg_seq = seq;
	struct genlmsghdr *g = mnl_nlmsg_put_extra_header(nlh, sizeof(*g));
	g->cmd = CTRL_CMD_GETFAMILY;
	g->version = 1;
	mnl_attr_put_strz(nlh, CTRL_ATTR_FAMILY_NAME, WG_GENL_NAME);
	return nlh->nlmsg_len;
}

/* ---- GET: parsing ------------------------------------------------------- */

/* mnl_nlmsg_ok compares (int)nlmsg_len: a length over 2 GiB turns
 * negative, passes, and mnl_nlmsg_next then walks off the buffer (the
 * fuzzer found it). Compared unsigned here. */
/* A netlink error value (-errno) as a positive errno; anything else
 * (positive, INT_MIN: -INT_MIN overflows) is a protocol error. */
static int rw_nl_errno(int v)
{
	return v < 0 && v > -4096 ? -v : EPROTO;
}

static int rw_nl_ok(const struct nlmsghdr *nlh, int left)
{
	return left >= (int)sizeof(*nlh) && nlh->nlmsg_len >= sizeof(*nlh) &&
	       nlh->nlmsg_len <= (unsigned)left;
}

struct rw_tb {
	const struct nlattr **tb;
	unsigned max;
};

/* pass 1: keep attributes we know, by type, once their payload fits */
static int rw_wg_tb_cb(const struct nlattr *a, void *data)
{
	struct rw_tb *t = data;
	unsigned type = mnl_attr_get_type(a);
	if (type <= t->max)
		t->tb[type] = a;
	return MNL_CB_OK;
}

static int rw_wg_len_is(const struct nlattr *a, size_t len)
{
	return !a || mnl_attr_get_payload_len(a) == len;
}

static int rw_wg_nested_ok(const struct nlattr *a)
{
	/* every attribute inside must be well-formed up to the end */
	const struct nlattr *x;
	size_t seen = 0;
	mnl_attr_for_each_nested(x, a)
		seen += MNL_ALIGN(x->nla_len);
	size_t plen = mnl_attr_get_payload_len(a);
	return seen >= plen && seen - plen < MNL_ALIGNTO; /* the last one's padding */
}

static int rw_wg_parse_allowed(struct rw_wg_nl_get *st, struct rw_wg_peer *p,
			       const struct nlattr *list, const char **what)
{
	const struct nlattr *ip;
	if (!rw_wg_nested_ok(list)) {
		*what = "malformed allowed-IP list";
		return RW_EPROTO;
	}
	mnl_attr_for_each_nested(ip, list) {
		const struct nlattr *tb[WGALLOWEDIP_A_MAX + 1] = { 0 };
		struct rw_tb t = { tb, WGALLOWEDIP_A_MAX };
		if (!rw_wg_nested_ok(ip) || mnl_attr_parse_nested(ip, rw_wg_tb_cb, &t) < 0 ||
		    !tb[WGALLOWEDIP_A_FAMILY] || !tb[WGALLOWEDIP_A_IPADDR] ||
		    !tb[WGALLOWEDIP_A_CIDR_MASK] || !rw_wg_len_is(tb[WGALLOWEDIP_A_FAMILY], 2) ||
		    !rw_wg_len_is(tb[WGALLOWEDIP_A_CIDR_MASK], 1)) {
			*what = "allowed IP without family, address and mask";
			return RW_EPROTO;
		}
		struct rw_cidr c = { 0 };
		uint16_t fam = mnl_attr_get_u16(tb[WGALLOWEDIP_A_FAMILY]);
		size_t alen = fam == AF_INET ? 4 : fam == AF_INET6 ? 16 : 0;
		c.family = (uint8_t)fam;
		c.prefix = mnl_attr_get_u8(tb[WGALLOWEDIP_A_CIDR_MASK]);
		if (!alen || !rw_wg_len_is(tb[WGALLOWEDIP_A_IPADDR], alen) || c.prefix > alen * 8) {
			*what = "allowed IP: bad family, address length or mask";
			return RW_EPROTO;
		}
		memcpy(c.addr, mnl_attr_get_payload(tb[WGALLOWEDIP_A_IPADDR]), alen);
		if (p->n_allowed >= RW_WG_MAX_ALLOWED) {
			*what = "too many allowed IPs for one peer";
			return RW_ETOOBIG;
		}
		if (p->n_allowed == st->allowed_cap) {
			size_t nc = st->allowed_cap ? st->allowed_cap * 2 : 4;
			struct rw_cidr *na = realloc(p->allowed, nc * sizeof(*na));
			if (!na)
				return RW_ENOMEM;
			p->allowed = na;
			st->allowed_cap = nc;
		}
		p->allowed[p->n_allowed++] = c;
	}
	return 0;
}

static int rw_wg_parse_endpoint_attr(const struct nlattr *a, struct rw_endpoint *e)
{
	size_t l = mnl_attr_get_payload_len(a);
	const uint8_t *pl = mnl_attr_get_payload(a);
	sa_family_t fam;
	if (l < sizeof(fam))
		return RW_EPROTO;
	memcpy(&fam, pl, sizeof(fam));
	memset(e, 0, sizeof(*e));
	if (fam == AF_INET && l >= sizeof(struct sockaddr_in)) {
		struct sockaddr_in sin;
		memcpy(&sin, pl, sizeof(sin));
		e->family = AF_INET;
		memcpy(e->addr, &sin.sin_addr, 4);
		e->port = ntohs(sin.sin_port);
		return 0;
	}
	if (fam == AF_INET6 && l >= sizeof(struct sockaddr_in6)) {
		struct sockaddr_in6 sin6;
		memcpy(&sin6, pl, sizeof(sin6));
		e->family = AF_INET6;
		memcpy(e->addr, &sin6.sin6_addr, 16);
		e->port = ntohs(sin6.sin6_port);
		return 0;
	}
	return RW_EPROTO;
}

static int rw_wg_parse_peer(struct rw_wg_nl_get *st, const struct nlattr *pa, const char **what)
{
	const struct nlattr *tb[WGPEER_A_MAX + 1] = { 0 };
	struct rw_tb t = { tb, WGPEER_A_MAX };
	struct rw_wg_device *d = &st->dev;
	*what = "malformed peer";
	if (!rw_wg_nested_ok(pa) || mnl_attr_parse_nested(pa, rw_wg_tb_cb, &t) < 0)
		return RW_EPROTO;
	if (!tb[WGPEER_A_PUBLIC_KEY] || !rw_wg_len_is(tb[WGPEER_A_PUBLIC_KEY], 32)) {
		*what = "peer without a 32-byte public key";
		return RW_EPROTO;
	}
	if (!rw_wg_len_is(tb[WGPEER_A_PERSISTENT_KEEPALIVE_INTERVAL], 2) ||
	    !rw_wg_len_is(tb[WGPEER_A_LAST_HANDSHAKE_TIME], 16) ||
	    !rw_wg_len_is(tb[WGPEER_A_RX_BYTES], 8) || !rw_wg_len_is(tb[WGPEER_A_TX_BYTES], 8)) {
		*what = "peer attribute of the wrong size";
		return RW_EPROTO;
	}
	const uint8_t *key = mnl_attr_get_payload(tb[WGPEER_A_PUBLIC_KEY]);
	struct rw_wg_peer *p = d->n_peers ? &d->peers[d->n_peers - 1] : NULL;
	/* the same key as the last peer: its continuation (dump split) */
	if (!p || memcmp(p->public_key, key, 32) != 0) {
		if (d->n_peers >= RW_WG_MAX_PEERS) {
			*what = "too many peers";
			return RW_ETOOBIG;
		}
		if (d->n_peers == st->peer_cap) {
			size_t nc = st->peer_cap ? st->peer_cap * 2 : 8;
			struct rw_wg_peer *np = realloc(d->peers, nc * sizeof(*np));
			if (!np)
				return RW_ENOMEM;
			d->peers = np;
			st->peer_cap = nc;
		}
		p = &d->peers[d->n_peers++];
		memset(p, 0, sizeof(*p));
		memcpy(p->public_key, key, 32);
		st->allowed_cap = 0;
	}
	if (tb[WGPEER_A_ENDPOINT] && rw_wg_parse_endpoint_attr(tb[WGPEER_A_ENDPOINT], &p->endpoint)) {
		*what = "peer endpoint not a sockaddr_in/in6";
		return RW_EPROTO;
	}
	if (tb[WGPEER_A_PERSISTENT_KEEPALIVE_INTERVAL])
		p->keepalive = mnl_attr_get_u16(tb[WGPEER_A_PERSISTENT_KEEPALIVE_INTERVAL]);
	if (tb[WGPEER_A_LAST_HANDSHAKE_TIME]) {
		int64_t ts[2]; /* struct __kernel_timespec: s64 sec, s64 nsec */
		memcpy(ts, mnl_attr_get_payload(tb[WGPEER_A_LAST_HANDSHAKE_TIME]), sizeof(ts));
		if (ts[0] < 0 || ts[1] < 0 || ts[1] > 999999999) {
			*what = "last handshake time out of range";
			return RW_EPROTO;
		}
		p->last_handshake_sec = ts[0];
		p->last_handshake_nsec = ts[1];
	}
	if (tb[WGPEER_A_RX_BYTES])
		p->rx_bytes = mnl_attr_get_u64(tb[WGPEER_A_RX_BYTES]);
	if (tb[WGPEER_A_TX_BYTES])
		p->tx_bytes = mnl_attr_get_u64(tb[WGPEER_A_TX_BYTES]);
	if (tb[WGPEER_A_ALLOWEDIPS])
		return rw_wg_parse_allowed(st, p, tb[WGPEER_A_ALLOWEDIPS], what);
	return 0;
}

static int rw_wg_parse_device_msg(struct rw_wg_nl_get *st, const struct nlmsghdr *nlh,
				  const char **what)
{
	const struct nlattr *tb[WGDEVICE_A_MAX + 1] = { 0 };
	struct rw_tb t = { tb, WGDEVICE_A_MAX };
	*what = "malformed device message";
	if (mnl_nlmsg_get_payload_len(nlh) < sizeof(struct genlmsghdr))
		return RW_EPROTO;
	const struct genlmsghdr *g = mnl_nlmsg_get_payload(nlh);
	if (g->cmd != WG_CMD_GET_DEVICE) {
		*what = "not a GET_DEVICE reply";
		return RW_EPROTO;
	}
	if (mnl_attr_parse(nlh, sizeof(*g), rw_wg_tb_cb, &t) < 0)
		return RW_EPROTO;
	if (!rw_wg_len_is(tb[WGDEVICE_A_PUBLIC_KEY], 32) ||
	    !rw_wg_len_is(tb[WGDEVICE_A_LISTEN_PORT], 2) ||
	    !rw_wg_len_is(tb[WGDEVICE_A_PRIVATE_KEY], 32)) {
		*what = "device attribute of the wrong size";
		return RW_EPROTO;
	}
	if (tb[WGDEVICE_A_PUBLIC_KEY]) {
		memcpy(st->dev.public_key, mnl_attr_get_payload(tb[WGDEVICE_A_PUBLIC_KEY]), 32);
		st->dev.has_public_key = true;
	}
	if (tb[WGDEVICE_A_LISTEN_PORT]) {
		st->dev.listen_port = mnl_attr_get_u16(tb[WGDEVICE_A_LISTEN_PORT]);
		st->dev.has_listen_port = true;
	}
	if (tb[WGDEVICE_A_PEERS]) {
		const struct nlattr *pa;
		if (!rw_wg_nested_ok(tb[WGDEVICE_A_PEERS]))
			return RW_EPROTO;
		mnl_attr_for_each_nested(pa, tb[WGDEVICE_A_PEERS]) {
			int rc = rw_wg_parse_peer(st, pa, what);
			if (rc)
				return rc;
		}
	}
	return 0;
}

int rw_wg_nl_get_feed(struct rw_wg_nl_get *st, const void *buf, size_t len, uint16_t family_id,
		      int *kerr, char *why, size_t why_len)
{
	const struct nlmsghdr *nlh = buf;
	int left = len > INT32_MAX ? INT32_MAX : (int)len;
	*kerr = 0;
	if (st->done) {
		snprintf(why, why_len, "data after the end of the dump");
		return RW_EPROTO;
	}
	while (rw_nl_ok(nlh, left)) {
		if (nlh->nlmsg_flags & NLM_F_DUMP_INTR)
			st->interrupted = 1;
		if (nlh->nlmsg_type == NLMSG_ERROR) {
			const struct nlmsgerr *e = mnl_nlmsg_get_payload(nlh);
			if (mnl_nlmsg_get_payload_len(nlh) < sizeof(*e)) {
				snprintf(why, why_len, "short error message");
				return RW_EPROTO;
			}
			if (e->error) {
				*kerr = rw_nl_errno(e->error);
				snprintf(why, why_len, "kernel: %s", strerror(*kerr));
				return RW_EKERNEL;
			}
		} else if (nlh->nlmsg_type == NLMSG_DONE) {
			int err = 0;
			if (mnl_nlmsg_get_payload_len(nlh) >= sizeof(err))
				memcpy(&err, mnl_nlmsg_get_payload(nlh), sizeof(err));
			if (err) {
				*kerr = rw_nl_errno(err);
				snprintf(why, why_len, "kernel: %s", strerror(*kerr));
				return RW_EKERNEL;
			}
			st->done = 1;
			return 0;
		} else if (nlh->nlmsg_type == family_id) {
			const char *what = "";
			int rc = rw_wg_parse_device_msg(st, nlh, &what);
			if (rc) {
				snprintf(why, why_len, "%s", rc == RW_ENOMEM ? "out of memory" : what);
				return rc;
			}
		} else if (nlh->nlmsg_type != NLMSG_NOOP) {
			snprintf(why, why_len, "unexpected message type %u", nlh->nlmsg_type);
			return RW_EPROTO;
		}
		nlh = mnl_nlmsg_next(nlh, &left);
	}
	if (left != 0) {
		snprintf(why, why_len, "%d bytes of a truncated message", left);
		return RW_EPROTO;
	}
	return 0;
}

void rw_wg_nl_get_free(struct rw_wg_nl_get *st)
{
	rw_wg_device_free(&st->dev);
	memset(st, 0, sizeof(*st));
}

int rw_wg_nl_parse_family(const void *buf, size_t len, uint16_t *family_id, int *kerr)
{
	const struct nlmsghdr *nlh = buf;
	int left = len > INT32_MAX ? INT32_MAX : (int)len;
	*family_id = 0;
	*kerr = 0;
	while (rw_nl_ok(nlh, left)) {
		if (nlh->nlmsg_type == NLMSG_ERROR &&
		    mnl_nlmsg_get_payload_len(nlh) >= sizeof(struct nlmsgerr)) {
			const struct nlmsgerr *e = mnl_nlmsg_get_payload(nlh);
			if (e->error) {
				*kerr = rw_nl_errno(e->error);
				return RW_EKERNEL;
			}
		} else if (nlh->nlmsg_type == GENL_ID_CTRL &&
			   mnl_nlmsg_get_payload_len(nlh) >= sizeof(struct genlmsghdr)) {
			const struct nlattr *tb[CTRL_ATTR_MAX + 1] = { 0 };
			struct rw_tb t = { tb, CTRL_ATTR_MAX };
			if (mnl_attr_parse(nlh, sizeof(struct genlmsghdr), rw_wg_tb_cb, &t) < 0 ||
			    !tb[CTRL_ATTR_FAMILY_ID] || !rw_wg_len_is(tb[CTRL_ATTR_FAMILY_ID], 2))
				return RW_EPROTO;
			*family_id = mnl_attr_get_u16(tb[CTRL_ATTR_FAMILY_ID]);
		}
		nlh = mnl_nlmsg_next(nlh, &left);
	}
	return *family_id ? 0 : RW_EPROTO;
}

/* ---- I/O ---------------------------------------------------------------- */

/* Send one message, read until its ack (or, for a dump, hand each
 * datagram to feed). */
static int rw_wg_talk(int proto, const void *req, size_t req_len, int (*feed)(void *, const void *, size_t),
		      void *arg, int *kerr)
{
	struct mnl_socket *nl = mnl_socket_open2(proto, SOCK_CLOEXEC);
	uint8_t buf[MNL_SOCKET_BUFFER_SIZE > 16384 ? MNL_SOCKET_BUFFER_SIZE : 16384];
	int rc = 0;
	*kerr = 0;
	if (!nl)
		return RW_ENETLINK;
	struct timeval tv = { .tv_sec = 3 };
	setsockopt(mnl_socket_get_fd(nl), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	if (mnl_socket_bind(nl, 0, MNL_SOCKET_AUTOPID) < 0 ||
	    mnl_socket_sendto(nl, req, req_len) < 0) {
		mnl_socket_close(nl);
		return RW_ENETLINK;
	}
	for (;;) {
		ssize_t n = mnl_socket_recvfrom(nl, buf, sizeof(buf));
		if (n <= 0) {
			rc = RW_ENETLINK;
			break;
		}
		if (feed) {
			rc = feed(arg, buf, (size_t)n);
			if (rc != 0)
				break;
			continue;
		}
		/* an ack: NLMSG_ERROR with error 0 or -errno */
		const struct nlmsghdr *nlh = (const void *)buf;
		if (rw_nl_ok(nlh, (int)n) && nlh->nlmsg_type == NLMSG_ERROR &&
		    mnl_nlmsg_get_payload_len(nlh) >= sizeof(struct nlmsgerr)) {
			const struct nlmsgerr *e = mnl_nlmsg_get_payload(nlh);
			*kerr = e->error ? rw_nl_errno(e->error) : 0;
			rc = e->error ? RW_EKERNEL : 0;
			break;
		}
	}
	mnl_socket_close(nl);
	return rc > 0 ? 0 : rc;
}

int rw_wg_nl_talk_ack(int proto, const void *req, size_t req_len, int *kerr)
{
	return rw_wg_talk(proto, req, req_len, NULL, NULL, kerr);
}

struct rw_wg_fam_arg {
	uint16_t id;
	int kerr;
};

static int rw_wg_fam_feed(void *arg, const void *buf, size_t len)
{
	struct rw_wg_fam_arg *a = arg;
	int rc = rw_wg_nl_parse_family(buf, len, &a->id, &a->kerr);
	return rc == 0 ? 1 : rc; /* 1: done */
}

int rw_wg_nl_family(uint16_t *family_id, char *why, size_t why_len)
{
	uint8_t req[64];
	struct rw_wg_fam_arg a = { 0 };
	int kerr;
	size_t l = rw_wg_nl_build_getfamily(req, sizeof(req), (uint32_t)time(NULL));
	int rc = rw_wg_talk(NETLINK_GENERIC, req, l, rw_wg_fam_feed, &a, &kerr);
	if (rc == 0 && a.id) {
		*family_id = a.id;
		return 0;
	}
	snprintf(why, why_len, "no generic netlink family \"wireguard\"%s%s",
		 a.kerr ? ": " : "", a.kerr ? strerror(a.kerr) : "");
	return a.kerr == ENOENT ? RW_ENOENT : rc ? rc : RW_ENOENT;
}

int rw_wg_nl_link_create(const char *ifname, char *why, size_t why_len)
{
	uint8_t req[128];
	int kerr;
	size_t l = rw_wg_nl_build_newlink(req, sizeof(req), ifname, (uint32_t)time(NULL));
	if (!l)
		return RW_EINVAL;
	int rc = rw_wg_talk(NETLINK_ROUTE, req, l, NULL, NULL, &kerr);
	if (rc == RW_EKERNEL && kerr == EEXIST)
		return 0; /* ours from a previous run, or an admin's: SET decides */
	if (rc == RW_EKERNEL && (kerr == EOPNOTSUPP || kerr == ENOTSUP)) {
		snprintf(why, why_len, "the kernel has no WireGuard (link kind \"wireguard\": %s)",
			 strerror(kerr));
		return RW_ENOENT;
	}
	if (rc)
		snprintf(why, why_len, "create link %s: %s", ifname,
			 kerr ? strerror(kerr) : rw_strerror(rc));
	return rc;
}

int rw_wg_nl_set(const char *ifname, uint16_t family_id, const struct rw_wg_device *dev,
		 char *why, size_t why_len)
{
	struct rw_wg_nl_msgs m;
	int kerr = 0;
	int rc = rw_wg_nl_build_set(dev, ifname, family_id, (uint32_t)time(NULL),
				    MNL_SOCKET_BUFFER_SIZE, &m);
	if (rc) {
		snprintf(why, why_len, "set %s: %s", ifname, rw_strerror(rc));
		return rc;
	}
	size_t off = 0;
	for (size_t i = 0; i < m.n && !rc; i++) {
		const struct nlmsghdr *nlh = (const void *)(m.buf + off);
		rc = rw_wg_talk(NETLINK_GENERIC, nlh, nlh->nlmsg_len, NULL, NULL, &kerr);
		off += nlh->nlmsg_len;
	}
	rw_wg_nl_msgs_free(&m);
	if (rc)
		snprintf(why, why_len, "set %s: %s", ifname, kerr ? strerror(kerr) : rw_strerror(rc));
	return rc;
}

struct rw_wg_get_arg {
	struct rw_wg_nl_get *st;
	uint16_t family_id;
	int kerr;
	char *why;
	size_t why_len;
};

static int rw_wg_get_feed_cb(void *arg, const void *buf, size_t len)
{
	struct rw_wg_get_arg *a = arg;
	int rc = rw_wg_nl_get_feed(a->st, buf, len, a->family_id, &a->kerr, a->why, a->why_len);
	if (rc)
		return rc;
	return a->st->done ? 1 : 0;
}

int rw_wg_nl_get(const char *ifname, uint16_t family_id, struct rw_wg_device *out, char *why,
		 size_t why_len)
{
	uint8_t req[64];
	memset(out, 0, sizeof(*out));
	/* NLM_F_DUMP_INTR: the peer list changed under the dump; again,
	 * a few times (wg retries on EINTR the same way) */
	for (int attempt = 0; attempt < 5; attempt++) {
		struct rw_wg_nl_get st = { 0 };
		struct rw_wg_get_arg a = { &st, family_id, 0, why, why_len };
		int kerr;
		size_t l = rw_wg_nl_build_get(req, sizeof(req), ifname, family_id,
					      (uint32_t)time(NULL) + (uint32_t)attempt);
		int rc = rw_wg_talk(NETLINK_GENERIC, req, l, rw_wg_get_feed_cb, &a, &kerr);
		if (rc == 0 && st.interrupted) {
			rw_wg_nl_get_free(&st);
			continue;
		}
		if (rc) {
			rw_wg_nl_get_free(&st);
			return rc;
		}
		*out = st.dev;
		return 0;
	}
	snprintf(why, why_len, "get %s: the device kept changing during the dump", ifname);
	return RW_EUNKNOWN;
}
