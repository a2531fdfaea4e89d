/* Kernel WireGuard netlink encoding (appliance/rw_wg_nl.c) without the
 * module: the bytes of a SET, a NEWLINK and a GETFAMILY against messages
 * written out by hand from uapi linux/wireguard.h and linux/netlink.h
 * (x86-64: host order is little-endian; netlink attribute headers and
 * WireGuard's u16/u32 values are host order, the sockaddr port network
 * order), then splitting and coalescing as a round trip, and the dump's
 * error, DONE and NLM_F_DUMP_INTR handling. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libmnl/libmnl.h>
#include <linux/genetlink.h>
#include <linux/wireguard.h>

#include "appliance/rw_wg_link.h"
#include "appliance/rw_wg_nl.h"
#include "base/rw_err.h"
#include "rules/rw_cidr.h"

#define FAM 0x1b

static void test_set_bytes(void **state)
{
	static const uint8_t want[] = {
		/* nlmsghdr: len 136, type = the family id, flags REQUEST|ACK, seq 7, pid 0 */
		0x88, 0, 0, 0, FAM, 0, 0x05, 0, 7, 0, 0, 0, 0, 0, 0, 0,
		/* genlmsghdr: cmd WG_CMD_SET_DEVICE (1), version 1 */
		1, 1, 0, 0,
		/* WGDEVICE_A_IFNAME (2): "wg0\0" */
		8, 0, 2, 0, 'w', 'g', '0', 0,
		/* WGDEVICE_A_FLAGS (5): WGDEVICE_F_REPLACE_PEERS */
		8, 0, 5, 0, 1, 0, 0, 0,
		/* WGDEVICE_A_LISTEN_PORT (6): u16 51820 = 0xca6c in host order, padded */
		6, 0, 6, 0, 0x6c, 0xca, 0, 0,
		/* WGDEVICE_A_PEERS (8 | NLA_F_NESTED), 92 bytes */
		92, 0, 8, 0x80,
		/* one peer: nest type 0 | NLA_F_NESTED, 88 bytes */
		88, 0, 0, 0x80,
		/* WGPEER_A_PUBLIC_KEY (1): 32 bytes */
		36, 0, 1, 0,
		0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11,
		0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11,
		/* WGPEER_A_FLAGS (3): WGPEER_F_REPLACE_ALLOWEDIPS (2) */
		8, 0, 3, 0, 2, 0, 0, 0,
		/* WGPEER_A_PERSISTENT_KEEPALIVE_INTERVAL (5): u16 25, padded */
		6, 0, 5, 0, 25, 0, 0, 0,
		/* WGPEER_A_ALLOWEDIPS (9 | NLA_F_NESTED), 32 bytes */
		32, 0, 9, 0x80,
		/* one allowed IP: nest type 0, 28 bytes */
		28, 0, 0, 0x80,
		/* WGALLOWEDIP_A_FAMILY (1): AF_INET (2), padded */
		6, 0, 1, 0, 2, 0, 0, 0,
		/* WGALLOWEDIP_A_IPADDR (2): 198.51.100.2 as in_addr */
		8, 0, 2, 0, 198, 51, 100, 2,
		/* WGALLOWEDIP_A_CIDR_MASK (3): u8 32, padded */
		5, 0, 3, 0, 32, 0, 0, 0,
	};
	struct rw_cidr a;
	assert_int_equal(rw_cidr_parse("198.51.100.2/32", &a, 0), 0);
	struct rw_wg_peer p = { .allowed = &a, .n_allowed = 1, .keepalive = 25,
				.replace_allowed = true };
	memset(p.public_key, 0x11, 32);
	struct rw_wg_device d = { .has_listen_port = true, .listen_port = 51820,
				  .replace_peers = true, .peers = &p, .n_peers = 1 };
	struct rw_wg_nl_msgs m;
	assert_int_equal(rw_wg_nl_build_set(&d, "wg0", FAM, 7, 4096, &m), 0);
	assert_int_equal(m.n, 1);
	assert_int_equal(m.len, sizeof(want));
	assert_memory_equal(m.buf, want, sizeof(want));
	rw_wg_nl_msgs_free(&m);
}

static void test_set_remove_and_endpoint_bytes(void **state)
{
	/* a removal carries the key and WGPEER_F_REMOVE_ME only; an IPv6
	 * endpoint is a 28-byte sockaddr_in6 with the port in network order */
	struct rw_wg_peer p[2] = { { .remove = true }, { .keepalive = 0 } };
	memset(p[0].public_key, 0x22, 32);
	memset(p[1].public_key, 0x33, 32);
	p[1].endpoint.family = AF_INET6;
	inet_pton(AF_INET6, "2001:db8::5", p[1].endpoint.addr);
	p[1].endpoint.port = 51820;
	struct rw_wg_device d = { .peers = p, .n_peers = 2 };
	struct rw_wg_nl_msgs m;
	assert_int_equal(rw_wg_nl_build_set(&d, "wg0", FAM, 1, 4096, &m), 0);
	assert_int_equal(m.n, 1);
	const uint8_t *b = m.buf + 16 + 4 + 8; /* after headers and IFNAME: the PEERS nest */
	static const uint8_t peer0[] = { 48, 0, 0, 0x80, 36, 0, 1, 0 };
	assert_memory_equal(b + 4, peer0, sizeof(peer0));
	static const uint8_t flags_remove[] = { 8, 0, 3, 0, 1, 0, 0, 0 };
	assert_memory_equal(b + 4 + 4 + 36, flags_remove, sizeof(flags_remove));
	const uint8_t *p1 = b + 4 + 48;
	/* peer 1: key, endpoint (4 + 28), keepalive 0 (8) = 4 + 36 + 32 + 8 */
	assert_int_equal(p1[0], 80);
	static const uint8_t ep[] = { 32, 0, 4, 0, 10, 0, 0xca, 0x6c, 0, 0, 0, 0, 0x20, 0x01, 0x0d, 0xb8 };
	assert_memory_equal(p1 + 4 + 36, ep, sizeof(ep)); /* sin6_family 10, port big-endian, flowinfo 0 */
	rw_wg_nl_msgs_free(&m);
}

static void test_newlink_and_family_bytes(void **state)
{
	static const uint8_t want[] = {
		/* nlmsghdr: 60 bytes, RTM_NEWLINK (16), REQUEST|ACK|EXCL|CREATE (0x605), seq 3 */
		60, 0, 0, 0, 16, 0, 0x05, 0x06, 3, 0, 0, 0, 0, 0, 0, 0,
		/* struct ifinfomsg, all zero (AF_UNSPEC, no index) */
		0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
		/* IFLA_IFNAME (3) "wgx\0" */
		8, 0, 3, 0, 'w', 'g', 'x', 0,
		/* IFLA_LINKINFO (18 | NLA_F_NESTED), 20 bytes */
		20, 0, 18, 0x80,
		/* IFLA_INFO_KIND (1) "wireguard\0" (14 bytes), padded to 16 */
		14, 0, 1, 0, 'w', 'i', 'r', 'e', 'g', 'u', 'a', 'r', 'd', 0, 0, 0,
	};
	uint8_t buf[128];
	assert_int_equal(rw_wg_nl_build_newlink(buf, sizeof(buf), "wgx", 3), sizeof(want));
	assert_memory_equal(buf, want, sizeof(want));

	static const uint8_t fam[] = {
		/* 36 bytes, GENL_ID_CTRL (0x10), REQUEST|ACK, seq 9 */
		36, 0, 0, 0, 0x10, 0, 5, 0, 9, 0, 0, 0, 0, 0, 0, 0,
		/* CTRL_CMD_GETFAMILY (3), version 1 */
		3, 1, 0, 0,
		/* CTRL_ATTR_FAMILY_NAME (2) "wireguard\0" */
		14, 0, 2, 0, 'w', 'i', 'r', 'e', 'g', 'u', 'a', 'r', 'd', 0, 0, 0,
	};
	assert_int_equal(rw_wg_nl_build_getfamily(buf, sizeof(buf), 9), sizeof(fam));
	assert_memory_equal(buf, fam, sizeof(fam));

	/* the reply: family id in CTRL_ATTR_FAMILY_ID (1, u16) */
	uint8_t rep[64] = { 0 };
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(rep);
	nlh->nlmsg_type = GENL_ID_CTRL;
	struct genlmsghdr *g = mnl_nlmsg_put_extra_header(nlh, sizeof(*g));
	g->cmd = CTRL_CMD_NEWFAMILY;
	mnl_attr_put_u16(nlh, CTRL_ATTR_FAMILY_ID, 0x2a);
	uint16_t id;
	int kerr;
	assert_int_equal(rw_wg_nl_parse_family(rep, nlh->nlmsg_len, &id, &kerr), 0);
	assert_int_equal(id, 0x2a);
}

/* Turn our SET messages into what a GET dump looks like (cmd 0) and feed
 * them back: the coalesced device must be what we asked for. */
static void test_split_round_trip(void **state)
{
	enum { N = 300 };
	struct rw_cidr *a = calloc(N, sizeof(*a));
	for (int i = 0; i < N; i++) {
		char t[32];
		snprintf(t, sizeof(t), "10.%d.%d.0/24", i / 256, i % 256);
		assert_int_equal(rw_cidr_parse(t, &a[i], 0), 0);
	}
	struct rw_wg_peer p[3] = {
		{ .allowed = a, .n_allowed = 5, .keepalive = 25, .replace_allowed = true },
		{ .allowed = a + 5, .n_allowed = N - 10, .keepalive = 7, .replace_allowed = true },
		{ .allowed = a + N - 5, .n_allowed = 5 },
	};
	for (int i = 0; i < 3; i++)
		memset(p[i].public_key, 0x40 + i, 32);
	struct rw_wg_device d = { .replace_peers = true, .has_listen_port = true,
				  .listen_port = 1, .peers = p, .n_peers = 3 };
	struct rw_wg_nl_msgs m;
	assert_int_equal(rw_wg_nl_build_set(&d, "wg0", FAM, 100, 1024, &m), 0);
	assert_true(m.n >= 8); /* 300 allowed IPs of 28 bytes do not fit 1 KiB */

	struct rw_wg_nl_get st = { 0 };
	int kerr;
	char why[200];
	size_t off = 0;
	for (size_t i = 0; i < m.n; i++) {
		struct nlmsghdr *nlh = (void *)(m.buf + off);
		assert_true(nlh->nlmsg_len <= 1024);
		assert_int_equal(nlh->nlmsg_seq, 100 + i);
		/* REPLACE_PEERS only in the first message */
		const struct nlattr *at;
		int has_flags = 0;
		mnl_attr_for_each(at, nlh, sizeof(struct genlmsghdr))
			has_flags |= mnl_attr_get_type(at) == WGDEVICE_A_FLAGS;
		assert_int_equal(has_flags, i == 0);
		struct genlmsghdr *g = mnl_nlmsg_get_payload(nlh);
		g->cmd = WG_CMD_GET_DEVICE;
		assert_int_equal(rw_wg_nl_get_feed(&st, nlh, nlh->nlmsg_len, FAM, &kerr, why, sizeof(why)), 0);
		off += nlh->nlmsg_len;
	}
	uint8_t done[20] = { 0 };
	struct nlmsghdr *dn = mnl_nlmsg_put_header(done);
	dn->nlmsg_type = NLMSG_DONE;
	mnl_nlmsg_put_extra_header(dn, 4);
	assert_int_equal(rw_wg_nl_get_feed(&st, done, dn->nlmsg_len, FAM, &kerr, why, sizeof(why)), 0);
	assert_true(st.done);
	assert_false(st.interrupted);
	assert_int_equal(st.dev.n_peers, 3);
	for (int i = 0; i < 3; i++) {
		assert_memory_equal(st.dev.peers[i].public_key, p[i].public_key, 32);
		assert_int_equal(st.dev.peers[i].n_allowed, p[i].n_allowed);
		assert_memory_equal(st.dev.peers[i].allowed, p[i].allowed,
				    p[i].n_allowed * sizeof(struct rw_cidr));
		assert_int_equal(st.dev.peers[i].keepalive, p[i].keepalive);
	}
	rw_wg_nl_get_free(&st);
	rw_wg_nl_msgs_free(&m);

	/* the smallest message size allowed (512) still carries a peer; below it: refused */
	struct rw_wg_device one = { .peers = p, .n_peers = 1 };
	assert_int_equal(rw_wg_nl_build_set(&one, "wg0", FAM, 1, 512, &m), 0);
	rw_wg_nl_msgs_free(&m);
	assert_int_equal(rw_wg_nl_build_set(&one, "wg0", FAM, 1, 511, &m), RW_EINVAL);
	free(a);
}

static size_t dev_msg(uint8_t *buf, uint16_t flags, const uint8_t key[32], uint64_t rx)
{
	memset(buf, 0, 512);
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	nlh->nlmsg_type = FAM;
	nlh->nlmsg_flags = NLM_F_MULTI | flags;
	struct genlmsghdr *g = mnl_nlmsg_put_extra_header(nlh, sizeof(*g));
	g->cmd = WG_CMD_GET_DEVICE;
	g->version = 1;
	mnl_attr_put_strz(nlh, WGDEVICE_A_IFNAME, "wg0");
	mnl_attr_put_u16(nlh, WGDEVICE_A_LISTEN_PORT, 51820);
	struct nlattr *ps = mnl_attr_nest_start(nlh, WGDEVICE_A_PEERS);
	struct nlattr *pn = mnl_attr_nest_start(nlh, 0);
	mnl_attr_put(nlh, WGPEER_A_PUBLIC_KEY, 32, key);
	mnl_attr_put_u64(nlh, WGPEER_A_RX_BYTES, rx);
	int64_t ts[2] = { 1796379975, 5 };
	mnl_attr_put(nlh, WGPEER_A_LAST_HANDSHAKE_TIME, sizeof(ts), ts);
	struct sockaddr_in sin = { .sin_family = AF_INET, .sin_port = htons(4242) };
	inet_pton(AF_INET, "203.0.113.9", &sin.sin_addr);
	mnl_attr_put(nlh, WGPEER_A_ENDPOINT, sizeof(sin), &sin);
	mnl_attr_nest_end(nlh, pn);
	mnl_attr_nest_end(nlh, ps);
	return nlh->nlmsg_len;
}

static void test_dump_cases(void **state)
{
	uint8_t buf[512], key[32];
	memset(key, 0x55, 32);
	struct rw_wg_nl_get st = { 0 };
	int kerr;
	char why[200];
	size_t l = dev_msg(buf, 0, key, 1000);
	assert_int_equal(rw_wg_nl_get_feed(&st, buf, l, FAM, &kerr, why, sizeof(why)), 0);
	assert_int_equal(st.dev.n_peers, 1);
	assert_int_equal(st.dev.peers[0].rx_bytes, 1000);
	assert_int_equal(st.dev.peers[0].last_handshake_sec, 1796379975);
	assert_int_equal(st.dev.peers[0].endpoint.port, 4242);
	assert_int_equal(st.dev.listen_port, 51820);
	/* the device changed during the dump */
	l = dev_msg(buf, NLM_F_DUMP_INTR, key, 1000);
	assert_int_equal(rw_wg_nl_get_feed(&st, buf, l, FAM, &kerr, why, sizeof(why)), 0);
	assert_true(st.interrupted);
	rw_wg_nl_get_free(&st);

	/* an error in NLMSG_DONE */
	uint8_t done[20] = { 0 };
	struct nlmsghdr *dn = mnl_nlmsg_put_header(done);
	dn->nlmsg_type = NLMSG_DONE;
	int *e = mnl_nlmsg_put_extra_header(dn, 4);
	*e = -19;
	assert_int_equal(rw_wg_nl_get_feed(&st, done, dn->nlmsg_len, FAM, &kerr, why, sizeof(why)),
			 RW_EKERNEL);
	assert_int_equal(kerr, 19);
	rw_wg_nl_get_free(&st);

	/* truncated and malformed: refused, never read past the buffer */
	l = dev_msg(buf, 0, key, 1);
	for (size_t cut = 1; cut < l; cut++) {
		memset(&st, 0, sizeof(st));
		struct nlmsghdr *nlh = (void *)buf;
		uint32_t keep = nlh->nlmsg_len;
		int rc = rw_wg_nl_get_feed(&st, buf, cut, FAM, &kerr, why, sizeof(why));
		assert_int_equal(rc, RW_EPROTO);
		rw_wg_nl_get_free(&st);
		nlh->nlmsg_len = keep;
	}
	/* a peer key of the wrong size */
	l = dev_msg(buf, 0, key, 1);
	struct nlmsghdr *nlh = (void *)buf;
	uint8_t *k = memmem(buf, l, key, 32);
	assert_non_null(k);
	((struct nlattr *)(k - 4))->nla_len = 20; /* 16-byte "key" */
	memset(&st, 0, sizeof(st));
	assert_int_equal(rw_wg_nl_get_feed(&st, buf, nlh->nlmsg_len, FAM, &kerr, why, sizeof(why)),
			 RW_EPROTO);
	rw_wg_nl_get_free(&st);
}

/* The interface's address and up state (rw_wg_link), as `ip addr add
 * 198.51.100.1/24 dev X` and `ip link set X up` send them. */
static void test_link_bytes(void **state)
{
	static const uint8_t addr[] = {
		/* 40 bytes, RTM_NEWADDR (20), REQUEST|ACK|REPLACE|CREATE (0x505), seq 4 */
		40, 0, 0, 0, 20, 0, 0x05, 0x05, 4, 0, 0, 0, 0, 0, 0, 0,
		/* ifaddrmsg: AF_INET, /24, flags 0, RT_SCOPE_UNIVERSE, ifindex 7 */
		2, 24, 0, 0, 7, 0, 0, 0,
		/* IFA_LOCAL (2), IFA_ADDRESS (1): 198.51.100.1 */
		8, 0, 2, 0, 198, 51, 100, 1,
		8, 0, 1, 0, 198, 51, 100, 1,
	};
	struct rw_cidr c;
	assert_int_equal(rw_cidr_parse("198.51.100.1/24", &c, 1), 0);
	uint8_t buf[128];
	assert_int_equal(rw_wg_link_build_addr(buf, sizeof(buf), 7, &c, 4), sizeof(addr));
	assert_memory_equal(buf, addr, sizeof(addr));
	static const uint8_t up[] = {
		/* 32 bytes, RTM_NEWLINK (16), REQUEST|ACK, seq 5 */
		32, 0, 0, 0, 16, 0, 5, 0, 5, 0, 0, 0, 0, 0, 0, 0,
		/* ifinfomsg: AF_UNSPEC, type 0, index 7, flags IFF_UP, change IFF_UP */
		0, 0, 0, 0, 7, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0,
	};
	assert_int_equal(rw_wg_link_build_up(buf, sizeof(buf), 7, 5), sizeof(up));
	assert_memory_equal(buf, up, sizeof(up));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_set_bytes),
		cmocka_unit_test(test_set_remove_and_endpoint_bytes),
		cmocka_unit_test(test_newlink_and_family_bytes),
		cmocka_unit_test(test_split_round_trip),
		cmocka_unit_test(test_dump_cases),
		cmocka_unit_test(test_link_bytes),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
