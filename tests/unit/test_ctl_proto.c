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
#include "appliance/rw_ctl_proto.h"
#include "base/rw_err.h"
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

/* "network list" names one network or none (then all are listed); the
 * other network commands need one. */
static void test_network_list(void **state)
{
	char err[256] = "";
	assert_int_equal(parse("{\"cmd\":\"network list\"}", err, sizeof(err)), 0);
	assert_int_equal(req.cmd, RW_CTL_NET_LIST);
	assert_string_equal(req.network, "");
	assert_int_equal(parse("{\"cmd\":\"network list\",\"network\":\"office\"}", err,
			       sizeof(err)),
			 0);
	assert_string_equal(req.network, "office");
	assert_int_equal(parse("{\"cmd\":\"network del\",\"cidrs\":[\"203.0.113.0/24\"]}", err,
			       sizeof(err)),
			 RW_EINVAL);
	assert_string_equal(err, "missing \"network\"");
}

/* A ban's reason goes into the kernel as the element's comment: plain,
 * bounded, and only for ban add. */
static void test_ban_reason(void **state)
{
	char err[256] = "";
	assert_int_equal(parse("{\"cmd\":\"ban add\",\"address\":\"203.0.113.9\","
			       "\"reason\":\"scanner (ticket 42)\"}",
			       err, sizeof(err)),
			 0);
	assert_string_equal(req.reason, "scanner (ticket 42)");
	static const char *const bad[] = {
		"{\"cmd\":\"ban add\",\"address\":\"203.0.113.9\",\"reason\":\"\"}",
		"{\"cmd\":\"ban add\",\"address\":\"203.0.113.9\",\"reason\":\"a\\\"b\"}",
		"{\"cmd\":\"ban add\",\"address\":\"203.0.113.9\",\"reason\":\"a\\\\b\"}",
		"{\"cmd\":\"ban add\",\"address\":\"203.0.113.9\",\"reason\":\"a\\nb\"}",
		"{\"cmd\":\"ban add\",\"address\":\"203.0.113.9\",\"reason\":\"caf\\u00e9\"}",
		"{\"cmd\":\"ban add\",\"address\":\"203.0.113.9\",\"reason\":7}",
		"{\"cmd\":\"ban add\",\"address\":\"203.0.113.9\",\"reason\":"
		"\"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\"}",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(parse(bad[i], err, sizeof(err)), RW_EINVAL);
		assert_non_null(strstr(err, "\"reason\" must be 1..64 printable ASCII"));
	}
	/* 64 is the most */
	assert_int_equal(parse("{\"cmd\":\"ban add\",\"address\":\"203.0.113.9\",\"reason\":"
			       "\"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\"}",
			       err, sizeof(err)),
			 0);
	assert_int_equal(parse("{\"cmd\":\"ban del\",\"address\":\"203.0.113.9\",\"reason\":\"x\"}",
			       err, sizeof(err)),
			 RW_EINVAL);
	assert_string_equal(err, "unexpected member \"reason\"");
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
		{ "{\"cmd\":\"ban add\",\"address\":\"203.0.113.1/24\"}", "a prefix without host bits" },
		{ "{\"cmd\":\"ban del\",\"address\":\"2001:db8::1/64\"}", "a prefix without host bits" },
		{ "{\"cmd\":\"ban add\",\"address\":\"0.0.0.0/0\"}", "one IPv4 or IPv6 address" },
		{ "{\"cmd\":\"ban add\",\"address\":\"203.0.113.0/33\"}", "one IPv4 or IPv6 address" },
		{ "{\"cmd\":\"ban add\",\"address\":\"203.0.113.9\",\"timeout\":\"soon\"}", "duration" },
		{ "{\"cmd\":\"ban add\",\"address\":\"203.0.113.9\",\"timeout\":\"0s\"}",
		  "must be between 1s and 30d" },
		{ "{\"cmd\":\"ban add\",\"address\":\"203.0.113.9\",\"timeout\":\"999ms\"}",
		  "must be between 1s and 30d" },
		{ "{\"cmd\":\"ban add\",\"address\":\"203.0.113.9\",\"timeout\":\"31d\"}",
		  "\"timeout\" 31d: must be between 1s and 30d" },
		{ "{\"cmd\":\"ban add\",\"address\":\"203.0.113.9\",\"timeout\":\"100000d\"}",
		  "must be between 1s and 30d" },
		{ "{\"cmd\":\"ban add\",\"address\":\"203.0.113.9\","
		  "\"timeout\":\"99999999999999999999999d\"}",
		  "must be between 1s and 30d" },
		{ "{\"cmd\":\"ban add\",\"address\":\"::ffff:203.0.113.11\",\"timeout\":\"10m\"}",
		  "::ffff:203.0.113.11: an IPv4-mapped IPv6 address never matches (the kernel sees "
		  "IPv4); write 203.0.113.11" },
		{ "{\"cmd\":\"ban del\",\"address\":\"::ffff:203.0.113.11\"}", "write 203.0.113.11" },
		{ "{\"cmd\":\"network add\",\"network\":\"office\",\"cidrs\":[\"::ffff:192.0.2.0/120\"]}",
		  "::ffff:192.0.2.0/120: an IPv4-mapped IPv6 address never matches (the kernel sees "
		  "IPv4); write 192.0.2.0/24" },
		{ "{\"cmd\":\"network del\",\"network\":\"office\",\"cidrs\":[\"::ffff:192.0.2.7\"]}",
		  "write 192.0.2.7" },
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
	/* the edges of the config's ban_for range are in it */
	assert_int_equal(parse("{\"cmd\":\"ban add\",\"address\":\"203.0.113.9\",\"timeout\":\"30d\"}",
			       err, sizeof(err)),
			 0);
	assert_int_equal(req.timeout_ms, RW_BAN_FOR_MAX_MS);
	assert_int_equal(parse("{\"cmd\":\"ban add\",\"address\":\"203.0.113.9\",\"timeout\":\"1s\"}",
			       err, sizeof(err)),
			 0);
	assert_int_equal(req.timeout_ms, RW_BAN_FOR_MIN_MS);
}

static struct rw_cidr cidr(const char *s)
{
	struct rw_cidr c;
	assert_int_equal(rw_cidr_parse(s, &c, 0), 0);
	return c;
}

/* A ban that covers the upstream, this host, or an address that is never
 * a client is refused; any other is allowed. */
static void test_ban_check(void **state)
{
	struct rw_endpoint up = { .family = AF_INET, .addr = { 198, 51, 100, 10 }, .port = 5000 };
	struct rw_ctl_host_addr own[2] = { { .addr = cidr("192.0.2.1"), .ifname = "eth0" },
					   { .addr = cidr("2001:db8::1"), .ifname = "eth1" } };
	static const struct {
		const char *ban, *msg;
	} refused[] = {
		{ "198.51.100.10", "covers the registry upstream 198.51.100.10/32" },
		{ "198.51.100.0/24", "covers the registry upstream" },
		{ "192.0.2.1", "covers 192.0.2.1/32, an address of this host (eth0)" },
		{ "2001:db8::1", "an address of this host (eth1)" },
		{ "2001:db8::/32", "an address of this host (eth1)" },
		{ "0.0.0.0", "unspecified" },
		{ "::", "unspecified" },
		{ "127.0.0.1", "loopback" },
		{ "127.3.2.1", "loopback" },
		{ "::1", "loopback" },
		{ "224.0.0.251", "multicast" },
		{ "239.255.255.250", "multicast" },
		{ "ff02::1", "multicast" },
		{ "255.255.255.255", "broadcast" },
		{ "0.0.0.0/0", "covers" },
		{ "::/0", "covers" },
	};
	char err[512];
	for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++) {
		struct rw_cidr b = cidr(refused[i].ban);
		err[0] = '\0';
		int r = rw_ctl_ban_check(&b, &up, own, 2, err, sizeof(err));
		if (r == 0 || !strstr(err, refused[i].msg) || !strstr(err, "refusing to ban"))
			fail_msg("%s: r=%d err='%s', want '%s'", refused[i].ban, r, err,
				 refused[i].msg);
	}
	static const char *const allowed[] = { "203.0.113.9", "198.51.100.11", "192.0.2.2",
					       "2001:db8::2", "2001:db9::/32", "223.255.255.255",
					       "240.0.0.1" };
	for (size_t i = 0; i < sizeof(allowed) / sizeof(allowed[0]); i++) {
		struct rw_cidr b = cidr(allowed[i]);
		if (rw_ctl_ban_check(&b, &up, own, 2, err, sizeof(err)))
			fail_msg("%s refused: %s", allowed[i], err);
	}
	/* prefixes: covering or inside what may not be banned, both ways */
	static const struct {
		const char *ban, *msg;
	} pfx[] = {
		{ "198.51.100.0/28", "covers the registry upstream 198.51.100.10/32" },
		{ "192.0.2.0/28", "192.0.2.1/32, an address of this host (eth0)" },
		{ "126.0.0.0/7", "covers 127.0.0.0/8 (loopback" },
		{ "127.0.0.0/28", "is inside 127.0.0.0/8 (loopback" },
		{ "::/120", "covers ::/128 (the unspecified" },
		{ "255.255.255.240/28", "broadcast" },
		{ "ff02::/16", "multicast" },
	};
	for (size_t i = 0; i < sizeof(pfx) / sizeof(pfx[0]); i++) {
		struct rw_cidr b = cidr(pfx[i].ban);
		err[0] = '\0';
		int r = rw_ctl_ban_check(&b, &up, own, 2, err, sizeof(err));
		if (r == 0 || !strstr(err, pfx[i].msg))
			fail_msg("%s: r=%d err='%s', want '%s'", pfx[i].ban, r, err, pfx[i].msg);
	}
	struct rw_cidr ok = cidr("203.0.113.0/28");
	assert_int_equal(rw_ctl_ban_check(&ok, &up, own, 2, err, sizeof(err)), 0);
	/* no upstream configured, no addresses known: only the fixed ranges */
	struct rw_cidr b = cidr("198.51.100.10");
	assert_int_equal(rw_ctl_ban_check(&b, NULL, NULL, 0, err, sizeof(err)), 0);
}

static void test_explain(void **state)
{
	(void)state;
	char err[256];
	assert_int_equal(parse("{\"cmd\":\"explain\",\"listener\":\"https\",\"src\":\"203.0.113.10\","
			       "\"iif\":\"wg0\",\"sni\":\"Registry.Example.TEST\","
			       "\"cert_subject\":\"/C=DE/O=Example Corp/CN=ci-bot\","
			       "\"method\":\"PUT\",\"path\":\"/v2/team-a/app/manifests/1.0\"}",
			       err, sizeof(err)), 0);
	assert_int_equal(req.cmd, RW_CTL_EXPLAIN);
	assert_string_equal(req.ex.listener, "https");
	assert_int_equal(req.n_cidrs, 1);
	assert_int_equal(req.cidrs[0].prefix, 32);
	assert_string_equal(req.ex.iif, "wg0");
	assert_string_equal(req.ex.sni, "registry.example.test");
	/* the config's normalisation: slash form -> RFC 2253 */
	assert_string_equal(req.ex.cert_subject, "CN=ci-bot,O=Example Corp,C=DE");
	assert_string_equal(req.ex.method, "PUT");
	static const struct {
		const char *json, *want;
	} bad[] = {
		{ "{\"cmd\":\"explain\",\"src\":\"203.0.113.10\"}", "missing \"listener\"" },
		{ "{\"cmd\":\"explain\",\"listener\":\"https\"}", "missing \"src\"" },
		{ "{\"cmd\":\"explain\",\"listener\":\"a b\",\"src\":\"203.0.113.10\"}", "listener" },
		{ "{\"cmd\":\"explain\",\"listener\":\"h\",\"src\":\"203.0.113.0/24\"}", "one IPv4" },
		{ "{\"cmd\":\"explain\",\"listener\":\"h\",\"src\":\"::ffff:203.0.113.1\"}", "IPv4-mapped" },
		{ "{\"cmd\":\"explain\",\"listener\":\"h\",\"src\":\"203.0.113.1\",\"iif\":\"a/b\"}", "interface" },
		{ "{\"cmd\":\"explain\",\"listener\":\"h\",\"src\":\"203.0.113.1\",\"iif\":\"abcdefghijklmnop\"}", "interface" },
		{ "{\"cmd\":\"explain\",\"listener\":\"h\",\"src\":\"203.0.113.1\",\"sni\":\"a b\"}", "host name" },
		{ "{\"cmd\":\"explain\",\"listener\":\"h\",\"src\":\"203.0.113.1\",\"cert_subject\":\"C=DE,O=x,CN=y\"}", "cert_subject" },
		{ "{\"cmd\":\"explain\",\"listener\":\"h\",\"src\":\"203.0.113.1\",\"method\":\"GET\"}", "go together" },
		{ "{\"cmd\":\"explain\",\"listener\":\"h\",\"src\":\"203.0.113.1\",\"method\":\"get\",\"path\":\"/v2/\"}", "capitals" },
		{ "{\"cmd\":\"explain\",\"listener\":\"h\",\"src\":\"203.0.113.1\",\"method\":\"GET\",\"path\":\"v2/\"}", "request target" },
		{ "{\"cmd\":\"explain\",\"listener\":\"h\",\"src\":\"203.0.113.1\",\"method\":\"GET\",\"path\":\"/v2/ x\"}", "request target" },
		{ "{\"cmd\":\"explain\",\"listener\":\"h\",\"src\":\"203.0.113.1\",\"network\":\"office\"}", "unexpected member" },
		{ "{\"cmd\":\"status\",\"listener\":\"h\"}", "unexpected member" },
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err[0] = '\0';
		if (parse(bad[i].json, err, sizeof(err)) != RW_EINVAL || !strstr(err, bad[i].want))
			fail_msg("%s: got \"%s\", want \"%s\"", bad[i].json, err, bad[i].want);
	}
	/* a path of the longest allowed length, and one byte more */
	static char line[RW_CTL_PATH_MAX + 200], path[RW_CTL_PATH_MAX + 2];
	memset(path, 'a', sizeof(path) - 1);
	path[0] = '/';
	path[RW_CTL_PATH_MAX] = '\0';
	snprintf(line, sizeof(line),
		 "{\"cmd\":\"explain\",\"listener\":\"h\",\"src\":\"2001:db8::1\",\"method\":\"GET\",\"path\":\"%s\"}",
		 path);
	assert_int_equal(parse(line, err, sizeof(err)), 0);
	path[RW_CTL_PATH_MAX] = 'a';
	path[RW_CTL_PATH_MAX + 1] = '\0';
	snprintf(line, sizeof(line),
		 "{\"cmd\":\"explain\",\"listener\":\"h\",\"src\":\"2001:db8::1\",\"method\":\"GET\",\"path\":\"%s\"}",
		 path);
	assert_int_equal(parse(line, err, sizeof(err)), RW_EINVAL);
}

/* A prefix ban against the banned prefixes: the same one, overlapping
 * one (either way), or apart. */
static void test_ban_match(void **state)
{
	struct rw_cidr have[3] = { cidr("198.51.100.0/24"), cidr("203.0.113.0/28"),
				   cidr("2001:db8::/48") };
	static const struct {
		const char *c;
		enum rw_ctl_ban_match m;
		size_t at;
	} cases[] = {
		{ "203.0.113.0/28", RW_CTL_BAN_EXACT, 1 },
		{ "203.0.113.0/27", RW_CTL_BAN_OVERLAP, 1 },
		{ "203.0.113.8/29", RW_CTL_BAN_OVERLAP, 1 },
		{ "203.0.113.5", RW_CTL_BAN_OVERLAP, 1 },
		{ "203.0.113.16/28", RW_CTL_BAN_NONE, 0 },
		{ "198.0.0.0/8", RW_CTL_BAN_OVERLAP, 0 },
		{ "2001:db8::/48", RW_CTL_BAN_EXACT, 2 },
		{ "2001:db8::/32", RW_CTL_BAN_OVERLAP, 2 },
		{ "2001:db9::/48", RW_CTL_BAN_NONE, 0 },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct rw_cidr c = cidr(cases[i].c);
		size_t at = 99;
		enum rw_ctl_ban_match m = rw_ctl_ban_match(&c, have, 3, &at);
		if (m != cases[i].m || (m != RW_CTL_BAN_NONE && at != cases[i].at))
			fail_msg("%s: match %d at %zu, want %d at %zu", cases[i].c, m, at, cases[i].m,
				 cases[i].at);
	}
	struct rw_cidr c = cidr("203.0.113.0/28");
	size_t at;
	assert_int_equal(rw_ctl_ban_match(&c, NULL, 0, &at), RW_CTL_BAN_NONE);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_network_add),
		cmocka_unit_test(test_network_list),
		cmocka_unit_test(test_ban_reason),
		cmocka_unit_test(test_refusals),
		cmocka_unit_test(test_too_many_cidrs),
		cmocka_unit_test(test_ban_timeout),
		cmocka_unit_test(test_ban_check),
		cmocka_unit_test(test_explain),
		cmocka_unit_test(test_ban_match),
	};
	return cmocka_run_group_tests_name("ctl_proto", tests, NULL, NULL);
}
