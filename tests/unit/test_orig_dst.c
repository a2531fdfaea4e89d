/* fwd/rw_orig_dst.c: the original destination of a transparent
 * listener's connection, on real sockets in a private network namespace
 * (unshare, nothing named, gone at exit) with a real nft redirect:
 *   - a connection to 127.0.0.5:5000 that the output nat chain redirects
 *     to the listener reads back 127.0.0.5:5000 and is served when that
 *     is the upstream, refused "not_upstream" when it is not;
 *   - a connection straight to the listener is "not_redirected";
 *   - a socket whose original destination cannot be read at all is
 *     "orig_dst_unknown" (no namespace needed);
 *   - the same for IPv6 (on lo the only v6 address is ::1: the redirect
 *     from [::1]:5000 changes only the port).
 * Root or CAP_SYS_ADMIN needed; under CI=true a missing one is a failure. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "tests/unit/test_ci.h"

#include <arpa/inet.h>
#include <sched.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "base/rw_err.h"
#include "fwd/rw_listen.h"
#include "fwd/rw_orig_dst.h"

static bool have_netns;

#define NEED_NETNS()                                                        \
	do {                                                                \
		if (!have_netns)                                            \
			RW_TEST_NEED("no network namespace (root?)");       \
	} while (0)

static void ep(struct rw_endpoint *e, const char *addr, uint16_t port)
{
	memset(e, 0, sizeof(*e));
	if (inet_pton(AF_INET, addr, e->addr) == 1)
		e->family = AF_INET;
	else {
		assert_int_equal(inet_pton(AF_INET6, addr, e->addr), 1);
		e->family = AF_INET6;
	}
	e->port = port;
}

/* one client connect to dst, accepted on listening socket lfd: the
 * accepted socket in *afd, the client's in *cfd */
static void connect_accept(int lfd, const struct rw_endpoint *dst, int *afd, int *cfd)
{
	struct sockaddr_storage ss, peer;
	socklen_t len;
	assert_int_equal(rw_listen_sockaddr(dst, &ss, &len), 0);
	*cfd = socket(dst->family, SOCK_STREAM, 0);
	assert_true(*cfd >= 0);
	assert_int_equal(connect(*cfd, (struct sockaddr *)&ss, len), 0);
	int rc = RW_EINCOMPLETE;
	for (int i = 0; i < 100 && rc == RW_EINCOMPLETE; i++) {
		rc = rw_listen_accept(lfd, afd, &peer);
		if (rc == RW_EINCOMPLETE)
			usleep(10000);
	}
	assert_int_equal(rc, 0);
}

static void nft(const char *rules)
{
	FILE *p = popen("nft -f - 2>&1", "w");
	assert_non_null(p);
	fputs(rules, p);
	assert_int_equal(pclose(p), 0);
}

static void check_family(const char *lo, const char *other)
{
	struct rw_endpoint lis, up, wrong, orig;
	int lfd, afd, cfd;
	char rules[512];
	ep(&lis, lo, 0);
	assert_int_equal(rw_listen_open(&lis, 8, &lfd, NULL), 0);
	lis.port = rw_listen_port(lfd);
	assert_true(lis.port != 0);
	ep(&up, other, 5000);
	/* direct: to the listener's own address and port, no redirect */
	connect_accept(lfd, &lis, &afd, &cfd);
	assert_string_equal(rw_orig_dst_check(afd, lis.family, &up), "not_redirected");
	close(afd);
	close(cfd);
	/* redirected from other:5000 to the listener */
	snprintf(rules, sizeof(rules),
		 "table inet rwtest { chain out { type nat hook output priority -100; "
		 "policy accept;\n  %s daddr %s tcp dport 5000 redirect to :%u\n}\n}\n",
		 lis.family == AF_INET ? "ip" : "ip6", other, lis.port);
	nft(rules);
	connect_accept(lfd, &up, &afd, &cfd);
	assert_int_equal(rw_orig_dst(afd, lis.family, &orig), 0);
	assert_int_equal(orig.family, lis.family);
	assert_int_equal(orig.port, 5000);
	assert_memory_equal(orig.addr, up.addr, lis.family == AF_INET ? 4 : 16);
	assert_null(rw_orig_dst_check(afd, lis.family, &up));
	/* the same connection, but the configured upstream is elsewhere */
	ep(&wrong, other, 5001);
	assert_string_equal(rw_orig_dst_check(afd, lis.family, &wrong), "not_upstream");
	close(afd);
	close(cfd);
	close(lfd);
	nft("delete table inet rwtest\n");
}

static void test_orig_dst_v4(void **state)
{
	(void)state;
	NEED_NETNS();
	check_family("127.0.0.1", "127.0.0.5");
}

static void test_orig_dst_v6(void **state)
{
	(void)state;
	NEED_NETNS();
	check_family("::1", "::1");
}

/* A socket conntrack cannot answer for (here a UNIX socket: the
 * getsockopt fails with EOPNOTSUPP, as it fails with ENOPROTOOPT where
 * conntrack is not loaded) is refused as orig_dst_unknown, not blamed on
 * the client as not_redirected. No namespace needed. */
static void test_orig_dst_unreadable(void **state)
{
	(void)state;
	int sp[2];
	struct rw_endpoint up;
	ep(&up, "192.0.2.7", 443);
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sp), 0);
	assert_string_equal(rw_orig_dst_check(sp[0], AF_INET, &up), "orig_dst_unknown");
	assert_string_equal(rw_orig_dst_check(sp[0], AF_INET6, &up), "orig_dst_unknown");
	close(sp[0]);
	close(sp[1]);
}

int main(void)
{
	have_netns = geteuid() == 0 && unshare(CLONE_NEWNET) == 0 &&
		     system("ip link set lo up") == 0;
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_orig_dst_unreadable),
		cmocka_unit_test(test_orig_dst_v4),
		cmocka_unit_test(test_orig_dst_v6),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
