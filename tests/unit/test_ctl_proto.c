/* Control-socket request validation. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "appliance/rw_ctl.h"
#include "rules/rw_cidr.h"

static struct rw_ctl_req req;

static int parse(const char *s, char *err, size_t n)
{
	return rw_ctl_parse_request(s, strlen(s), &req, err, n);
}

static void test_network_add(void **state)
{
	char err[256] = "";
	assert_int_equal(parse("{\"cmd\":\"network add\",\"network\":\"office\","
			       "\"cidrs\":[\"203.0.113.0/25\",\"2001:db8:1::/48\"]}",
			       err, sizeof(err)),
			 0);
	assert_int_equal(req.cmd, RW_CTL_NET_ADD);
	assert_string_equal(req.network, "office");
	assert_int_equal(req.n_cidrs, 2);
	char buf[64];
	rw_cidr_format(&req.cidrs[0], buf, sizeof(buf));
	assert_string_equal(buf, "203.0.113.0/25");
	rw_cidr_format(&req.cidrs[1], buf, sizeof(buf));
	assert_string_equal(buf, "2001:db8:1::/48");
}

static void test_refusals(void **state)
{
	static const struct {
		const char *in, *msg;
	} cases[] = {
		{ "", "bad JSON" },
		{ "[1]", "must be a JSON object" },
		{ "{\"cmd\":\"format disk\"}", "unknown command" },
		{ "{\"cmd\":\"status\",\"x\":1}", "unexpected member \"x\"" },
		{ "{\"cmd\":\"network add\",\"network\":\"office\"}", "missing \"cidrs\"" },
		{ "{\"cmd\":\"network add\",\"cidrs\":[\"203.0.113.0/24\"]}", "missing \"network\"" },
		{ "{\"cmd\":\"network add\",\"network\":\"Office\",\"cidrs\":[\"203.0.113.0/24\"]}",
		  "must be a network name" },
		{ "{\"cmd\":\"network add\",\"network\":\"office\",\"cidrs\":[\"203.0.113.1/24\"]}",
		  "host bits set" },
		{ "{\"cmd\":\"network add\",\"network\":\"office\",\"cidrs\":[\"203.0.113.999/32\"]}",
		  "not an IPv4/IPv6 address" },
		{ "{\"cmd\":\"network add\",\"network\":\"office\",\"cidrs\":[]}", "non-empty array" },
		{ "{\"cmd\":\"network add\",\"network\":\"office\",\"cidrs\":[7]}", "must hold strings" },
		{ "{\"cmd\":\"ban add\",\"address\":\"203.0.113.0/24\"}", "one IPv4 or IPv6 address" },
		{ "{\"cmd\":\"ban add\",\"address\":\"203.0.113.9\",\"timeout\":\"soon\"}", "duration" },
		{ "{\"cmd\":\"ban add\",\"address\":\"203.0.113.9\",\"timeout\":\"0s\"}", "duration" },
		{ "{\"cmd\":\"network list\",\"network\":\"a\",\"network\":\"b\"}", "bad JSON" },
		{ "{\"cmd\":\"ban list\",\"network\":\"office\"}", "unexpected member" },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char err[256] = "";
		int r = parse(cases[i].in, err, sizeof(err));
		if (r == 0 || !strstr(err, cases[i].msg))
			fail_msg("case %zu (%s): r=%d err='%s', want '%s'", i, cases[i].in, r, err,
				 cases[i].msg);
	}
}

static void test_too_many_cidrs(void **state)
{
	size_t cap = 32 * (RW_CTL_MAX_CIDRS + 2) + 128;
	char *s = malloc(cap);
	assert_non_null(s);
	size_t off = (size_t)snprintf(s, cap, "{\"cmd\":\"network add\",\"network\":\"o\",\"cidrs\":[");
	for (int i = 0; i < RW_CTL_MAX_CIDRS + 1; i++)
		off += (size_t)snprintf(s + off, cap - off, "%s\"198.51.%d.%d/32\"", i ? "," : "",
					i / 256, i % 256);
	snprintf(s + off, cap - off, "]}");
	char err[256] = "";
	assert_int_not_equal(parse(s, err, sizeof(err)), 0);
	assert_non_null(strstr(err, "too many"));
	free(s);
}

static void test_ban_timeout(void **state)
{
	char err[256] = "";
	assert_int_equal(parse("{\"cmd\":\"ban add\",\"address\":\"2001:db8::7\",\"timeout\":\"90s\"}",
			       err, sizeof(err)),
			 0);
	assert_int_equal(req.cmd, RW_CTL_BAN_ADD);
	assert_int_equal(req.timeout_ms, 90000);
	assert_int_equal(req.cidrs[0].prefix, 128);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_network_add),
		cmocka_unit_test(test_refusals),
		cmocka_unit_test(test_too_many_cidrs),
		cmocka_unit_test(test_ban_timeout),
	};
	return cmocka_run_group_tests_name("ctl_proto", tests, NULL, NULL);
}
