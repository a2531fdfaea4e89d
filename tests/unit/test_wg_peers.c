/* Live VPN peers: the request members of peer add/del (rw_wg_ctl through
 * rw_ctl_parse_request) and the next free tunnel address (rw_wg_peers). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <string.h>
#include <sys/socket.h>

#include "appliance/rw_ctl.h"
#include "appliance/rw_wg_peers.h"
#include "base/rw_err.h"
#include "rules/rw_cidr.h"

static int parse(const char *line, struct rw_ctl_req *req, char *err)
{
	return rw_ctl_parse_request(line, strlen(line), req, err, 256);
}

static void test_requests(void **state)
{
	static struct rw_ctl_req req;
	char err[256];
	assert_int_equal(parse("{\"cmd\":\"peer add\",\"peer\":\"alice\",\"roles\":[\"push:team-a/*\","
			       "\"pull:*\"],\"public_key\":\"jZdBt7x8tyqdytefFlLDwELDIedjlaIj2wT79R7EL38=\","
			       "\"address\":\"192.0.2.2\"}",
			       &req, err),
			 0);
	assert_int_equal(req.cmd, RW_CTL_PEER_ADD);
	assert_string_equal(req.peer.name, "alice");
	assert_int_equal(req.peer.n_roles, 2);
	assert_string_equal(req.peer.roles[1], "pull:*");
	assert_true(req.peer.has_key);
	assert_int_equal(req.n_cidrs, 1);
	assert_int_equal(req.cidrs[0].prefix, 32);
	/* key and address optional */
	assert_int_equal(parse("{\"cmd\":\"peer add\",\"peer\":\"bob\",\"roles\":[\"pull:x\"]}", &req, err), 0);
	assert_false(req.peer.has_key);
	assert_int_equal(req.n_cidrs, 0);
	assert_int_equal(parse("{\"cmd\":\"peer del\",\"peer\":\"bob\"}", &req, err), 0);
	assert_int_equal(parse("{\"cmd\":\"peer list\"}", &req, err), 0);

	const char *bad[][2] = {
		{ "{\"cmd\":\"peer add\",\"peer\":\"bob\"}", "missing \"roles\"" },
		{ "{\"cmd\":\"peer add\",\"roles\":[\"pull:x\"]}", "missing \"peer\"" },
		{ "{\"cmd\":\"peer add\",\"peer\":\"Bob\",\"roles\":[\"pull:x\"]}", "\"peer\" must be" },
		{ "{\"cmd\":\"peer add\",\"peer\":\"bob\",\"roles\":[\"write:x\"]}", "role \"write:x\"" },
		{ "{\"cmd\":\"peer add\",\"peer\":\"bob\",\"roles\":[]}", "\"roles\" must be" },
		{ "{\"cmd\":\"peer add\",\"peer\":\"bob\",\"roles\":[\"pull:x\"],\"public_key\":\"abc\"}",
		  "WireGuard public key" },
		{ "{\"cmd\":\"peer add\",\"peer\":\"bob\",\"roles\":[\"pull:x\"],\"public_key\":"
		  "\"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\"}",
		  "WireGuard public key" }, /* all zero */
		{ "{\"cmd\":\"peer del\",\"peer\":\"bob\",\"roles\":[\"pull:x\"]}", "unexpected member" },
		{ "{\"cmd\":\"peer list\",\"peer\":\"bob\"}", "unexpected member" },
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err[0] = '\0';
		if (parse(bad[i][0], &req, err) != RW_EINVAL || !strstr(err, bad[i][1]))
			fail_msg("%s: '%s'", bad[i][0], err);
	}
}

static void test_next_address(void **state)
{
	struct rw_vpn vpn = { .enabled = true };
	struct rw_cidr taken[2], c;
	struct rw_peer peers[1] = { { .addresses = taken, .n_addresses = 2 } };
	assert_int_equal(rw_cidr_parse("192.0.2.1/29", &vpn.address, 1), 0);
	/* .0 network, .1 the gateway: .2 first */
	assert_int_equal(rw_wgl_next_address(&vpn, NULL, 0, 1000, &c), 0);
	char s[64];
	rw_cidr_format(&c, s, sizeof(s));
	assert_string_equal(s, "192.0.2.2/32");
	/* peers hold .2 and .4; .3 rests until 2000 */
	rw_cidr_parse("192.0.2.2/32", &taken[0], 0);
	rw_cidr_parse("192.0.2.4/32", &taken[1], 0);
	vpn.peers = peers;
	vpn.n_peers = 1;
	struct rw_wgl_retired r = { .until = 2000 };
	rw_cidr_parse("192.0.2.3/32", &r.addr, 0);
	assert_int_equal(rw_wgl_next_address(&vpn, &r, 1, 1000, &c), 0);
	rw_cidr_format(&c, s, sizeof(s));
	assert_string_equal(s, "192.0.2.5/32");
	/* after its rest .3 is free again */
	assert_int_equal(rw_wgl_next_address(&vpn, &r, 1, 2000, &c), 0);
	rw_cidr_format(&c, s, sizeof(s));
	assert_string_equal(s, "192.0.2.3/32");
	/* .5 and .6 taken too: full (.7 is the broadcast) */
	struct rw_cidr more[4];
	memcpy(more, taken, sizeof(taken));
	rw_cidr_parse("192.0.2.5/32", &more[2], 0);
	rw_cidr_parse("192.0.2.6/32", &more[3], 0);
	peers[0].addresses = more;
	peers[0].n_addresses = 4;
	assert_int_equal(rw_wgl_next_address(&vpn, &r, 1, 1000, &c), RW_ENOENT);
	/* IPv6: the gateway at ::1, first free ::2 */
	struct rw_vpn v6 = { .enabled = true };
	assert_int_equal(rw_cidr_parse("2001:db8:9::1/64", &v6.address, 1), 0);
	assert_int_equal(rw_wgl_next_address(&v6, NULL, 0, 0, &c), 0);
	rw_cidr_format(&c, s, sizeof(s));
	assert_string_equal(s, "2001:db8:9::2/128");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_requests),
		cmocka_unit_test(test_next_address),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
