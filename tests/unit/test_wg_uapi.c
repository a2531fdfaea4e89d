/* The WireGuard userspace API client (appliance/rw_wg_uapi.c): get
 * replies captured from Debian's wireguard-go 0.0.20220316
 * (tests/data/wg/get_*.txt; the keys are throwaway), crafted malformed
 * replies, the exact bytes of a set request, and one exchange with a
 * stand-in server on a socket (the real wireguard-go is exercised by
 * tests/net/test_wg_peer.sh). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "appliance/rw_wg_key.h"
#include "appliance/rw_wg_uapi.h"
#include "base/rw_err.h"
#include "rules/rw_cidr.h"

static char *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	assert_non_null(f);
	static char buf[65536];
	*len = fread(buf, 1, sizeof(buf), f);
	fclose(f);
	return buf;
}

static void key_is(const uint8_t k[32], const char *b64)
{
	char s[45];
	rw_wg_key_to_base64(k, s);
	assert_string_equal(s, b64);
}

static void cidr_is(const struct rw_cidr *c, const char *text)
{
	char s[64];
	rw_cidr_format(c, s, sizeof(s));
	assert_string_equal(s, text);
}

static void test_real_get_handshake(void **state)
{
	size_t len;
	char *b = slurp("tests/data/wg/get_handshake.txt", &len);
	struct rw_wg_device d;
	int e = -1;
	char why[200] = "";
	assert_int_equal(rw_wg_uapi_parse(b, len, &d, &e, why, sizeof(why)), 0);
	assert_int_equal(e, 0);
	/* the public key of the private key in the reply, as `wg show` printed it */
	assert_true(d.has_public_key);
	key_is(d.public_key, "Lz9kGO0a9REq/yxLYVj/2PI1mUEJQJYJG3KlIn9xZww=");
	assert_false(d.has_private_key); /* wiped */
	assert_true(d.has_listen_port);
	assert_int_equal(d.listen_port, 51820);
	assert_int_equal(d.n_peers, 1);
	const struct rw_wg_peer *p = &d.peers[0];
	key_is(p->public_key, "Xs4i811QcJGUtk63gbIPs+GzjvBylc1bXiy05w8QfHY=");
	assert_int_equal(p->endpoint.family, AF_INET);
	assert_int_equal(p->endpoint.port, 51821);
	assert_memory_equal(p->endpoint.addr, "\xcb\x00\x71\x02", 4);
	assert_int_equal(p->last_handshake_sec, 1796379975);
	assert_int_equal(p->last_handshake_nsec, 107737479);
	assert_int_equal(p->rx_bytes, 436);
	assert_int_equal(p->tx_bytes, 348);
	assert_int_equal(p->keepalive, 0);
	assert_int_equal(p->n_allowed, 1);
	cidr_is(&p->allowed[0], "198.51.100.2/32");
	rw_wg_device_free(&d);
}

static void test_real_get_two_peers(void **state)
{
	size_t len;
	char *b = slurp("tests/data/wg/get_two_peers.txt", &len);
	struct rw_wg_device d;
	int e = -1;
	char why[200] = "";
	assert_int_equal(rw_wg_uapi_parse(b, len, &d, &e, why, sizeof(why)), 0);
	assert_int_equal(d.listen_port, 51999);
	assert_int_equal(d.n_peers, 2);
	assert_int_equal(d.peers[0].keepalive, 25);
	assert_int_equal(d.peers[0].n_allowed, 2);
	cidr_is(&d.peers[0].allowed[0], "198.51.100.2/32");
	cidr_is(&d.peers[0].allowed[1], "2001:db8::2/128");
	assert_int_equal(d.peers[0].endpoint.port, 51820);
	assert_int_equal(d.peers[1].endpoint.family, 0);
	assert_int_equal(d.peers[1].n_allowed, 1);
	assert_int_equal(d.peers[1].last_handshake_sec, 0);
	rw_wg_device_free(&d);
}

static void test_set_replies(void **state)
{
	size_t len;
	char *b = slurp("tests/data/wg/set_einval.txt", &len);
	int e = 0;
	char why[200];
	assert_int_equal(rw_wg_uapi_parse(b, len, NULL, &e, why, sizeof(why)), 0);
	assert_int_equal(e, 22); /* wireguard-go sends -EINVAL */
	assert_int_equal(rw_wg_uapi_parse("errno=0\n\n", 9, NULL, &e, why, sizeof(why)), 0);
	assert_int_equal(e, 0);
	/* a set reply carries errno only */
	assert_int_equal(rw_wg_uapi_parse("listen_port=1\nerrno=0\n\n", 23, NULL, &e, why, sizeof(why)),
			 RW_EPROTO);
}

struct bad {
	const char *text;
	int rc;
	const char *why;
};

static void test_crafted_bad(void **state)
{
	static const char pk[] = "public_key=5ece22f35d50709194b64eb781b20fb3e1b38ef07295cd5b5e2cb4e70f107c76\n";
	char buf[4096];
	const struct bad cases[] = {
		{ "", RW_EPROTO, "without the empty line" },
		{ "errno=0\n", RW_EPROTO, "without the empty line" },
		{ "\n", RW_EPROTO, "without errno" },
		{ "listen_port=1\n\n", RW_EPROTO, "without errno" },
		{ "errno=0\n\nx", RW_EPROTO, "after the empty line" },
		{ "errno=0\nlisten_port=1\n\n", RW_EPROTO, "after errno" },
		{ "garbage\nerrno=0\n\n", RW_EPROTO, "not key=value" },
		{ "=1\nerrno=0\n\n", RW_EPROTO, "not key=value" },
		{ "errno=abc\n\n", RW_EPROTO, "small number" },
		{ "errno=99999999999\n\n", RW_EPROTO, "small number" },
		{ "errno=-\n\n", RW_EPROTO, "small number" },
		{ "listen_port=65536\nerrno=0\n\n", RW_EPROTO, "listen_port" },
		{ "listen_port=-1\nerrno=0\n\n", RW_EPROTO, "listen_port" },
		{ "listen_port=\nerrno=0\n\n", RW_EPROTO, "listen_port" },
		{ "private_key=00\nerrno=0\n\n", RW_EPROTO, "private_key" },
		{ "public_key=5ECE22F35D50709194B64EB781B20FB3E1B38EF07295CD5B5E2CB4E70F107C76\nerrno=0\n\n",
		  RW_EPROTO, "public_key" },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct rw_wg_device d;
		int e;
		char why[200] = "";
		int rc = rw_wg_uapi_parse(cases[i].text, strlen(cases[i].text), &d, &e, why, sizeof(why));
		if (rc != cases[i].rc || !strstr(why, cases[i].why))
			fail_msg("case %zu (%s): rc %d why '%s'", i, cases[i].text, rc, why);
		assert_int_equal(d.n_peers, 0);
		assert_null(d.peers);
	}
	/* peer values */
	const char *peer_bad[] = {
		"endpoint=203.0.113.5\n",      "endpoint=203.0.113.5:0\n",  "endpoint=203.0.113.5:65536\n",
		"endpoint=[2001:db8::1:51820\n", "endpoint=300.0.113.5:1\n", "endpoint=[203.0.113.5]:1\n",
		"allowed_ip=198.51.100.2\n",   "allowed_ip=198.51.100.2/33\n", "allowed_ip=198.51.100.3/31\n",
		"allowed_ip=::ffff:198.51.100.3/128\n", "last_handshake_time_nsec=1000000000\n",
		"rx_bytes=18446744073709551616\n", "persistent_keepalive_interval=65536\n",
		"preshared_key=zz\n",
	};
	for (size_t i = 0; i < sizeof(peer_bad) / sizeof(peer_bad[0]); i++) {
		snprintf(buf, sizeof(buf), "%s%serrno=0\n\n", pk, peer_bad[i]);
		struct rw_wg_device d;
		int e;
		char why[200] = "";
		if (rw_wg_uapi_parse(buf, strlen(buf), &d, &e, why, sizeof(why)) != RW_EPROTO ||
		    !strstr(why, "line 2"))
			fail_msg("peer case %zu accepted or wrong line: '%s'", i, why);
		assert_null(d.peers);
	}
	/* good edge values, an unknown key ignored (newer daemons), IPv6 endpoint */
	snprintf(buf, sizeof(buf),
		 "fwmark=0\nsome_new_key=x\n%sendpoint=[2001:db8::5]:1\nrx_bytes=18446744073709551615\n"
		 "last_handshake_time_nsec=999999999\nallowed_ip=0.0.0.0/0\nerrno=0\n\n",
		 pk);
	struct rw_wg_device d;
	int e;
	char why[200] = "";
	assert_int_equal(rw_wg_uapi_parse(buf, strlen(buf), &d, &e, why, sizeof(why)), 0);
	assert_int_equal(d.n_peers, 1);
	assert_int_equal(d.peers[0].endpoint.family, AF_INET6);
	assert_int_equal(d.peers[0].rx_bytes, UINT64_MAX);
	assert_false(d.has_public_key); /* no private key in the reply */
	rw_wg_device_free(&d);
}

static void test_bounds(void **state)
{
	/* a line longer than the cap */
	size_t n = RW_WG_UAPI_LINE_MAX + 50;
	char *b = malloc(n + 16);
	memset(b, 'a', n);
	memcpy(b, "x=", 2);
	memcpy(b + n, "\nerrno=0\n\n", 11);
	struct rw_wg_device d;
	int e;
	char why[200] = "";
	assert_int_equal(rw_wg_uapi_parse(b, n + 10, &d, &e, why, sizeof(why)), RW_ETOOBIG);
	free(b);
	/* too many allowed IPs for one peer */
	static const char pk[] = "public_key=5ece22f35d50709194b64eb781b20fb3e1b38ef07295cd5b5e2cb4e70f107c76\n";
	size_t cap = sizeof(pk) + (RW_WG_MAX_ALLOWED + 1) * 32 + 16, len = 0;
	b = malloc(cap);
	len += (size_t)sprintf(b + len, "%s", pk);
	for (int i = 0; i <= RW_WG_MAX_ALLOWED; i++)
		len += (size_t)sprintf(b + len, "allowed_ip=10.%d.%d.0/24\n", i / 256, i % 256);
	len += (size_t)sprintf(b + len, "errno=0\n\n");
	assert_int_equal(rw_wg_uapi_parse(b, len, &d, &e, why, sizeof(why)), RW_ETOOBIG);
	assert_non_null(strstr(why, "too many allowed IPs"));
	free(b);
}

static void test_format_set(void **state)
{
	struct rw_cidr a[2];
	assert_int_equal(rw_cidr_parse("198.51.100.2/32", &a[0], 0), 0);
	assert_int_equal(rw_cidr_parse("2001:db8::2/128", &a[1], 0), 0);
	struct rw_wg_peer peers[2] = {
		{ .allowed = a, .n_allowed = 2, .keepalive = 25, .replace_allowed = true },
		{ .remove = true },
	};
	memset(peers[0].public_key, 0x11, 32);
	memset(peers[1].public_key, 0x22, 32);
	peers[0].endpoint.family = AF_INET;
	memcpy(peers[0].endpoint.addr, "\xcb\x00\x71\x05", 4);
	peers[0].endpoint.port = 51820;
	struct rw_wg_device d = { .has_private_key = true, .has_listen_port = true,
				  .listen_port = 51820, .replace_peers = true, .peers = peers,
				  .n_peers = 2 };
	memset(d.private_key, 0xab, 32);
	char *out;
	size_t len;
	assert_int_equal(rw_wg_uapi_format_set(&d, &out, &len), 0);
	assert_string_equal(out,
			    "set=1\n"
			    "private_key=abababababababababababababababababababababababababababababababab\n"
			    "listen_port=51820\n"
			    "replace_peers=true\n"
			    "public_key=1111111111111111111111111111111111111111111111111111111111111111\n"
			    "endpoint=203.0.113.5:51820\n"
			    "persistent_keepalive_interval=25\n"
			    "replace_allowed_ips=true\n"
			    "allowed_ip=198.51.100.2/32\n"
			    "allowed_ip=2001:db8::2/128\n"
			    "public_key=2222222222222222222222222222222222222222222222222222222222222222\n"
			    "remove=true\n"
			    "\n");
	assert_int_equal(len, strlen(out));
	free(out);
}

/* A stand-in for the daemon: reads one request to its empty line,
 * answers with the given bytes. */
static pid_t fake_server(const char *path, const char *answer)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	strcpy(sa.sun_path, path);
	int s = socket(AF_UNIX, SOCK_STREAM, 0);
	assert_true(s >= 0);
	unlink(path);
	assert_int_equal(bind(s, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(listen(s, 1), 0);
	pid_t pid = fork();
	if (pid == 0) {
		int c = accept(s, NULL, NULL);
		char buf[4096];
		size_t len = 0;
		while (len < sizeof(buf)) {
			ssize_t n = read(c, buf + len, sizeof(buf) - len);
			if (n <= 0)
				break;
			len += (size_t)n;
			if (len >= 2 && buf[len - 1] == '\n' && buf[len - 2] == '\n')
				break;
		}
		/* answer in two pieces: the client must keep reading */
		size_t al = strlen(answer), half = al / 2;
		(void)!write(c, answer, half);
		usleep(20000);
		(void)!write(c, answer + half, al - half);
		close(c);
		_exit(0);
	}
	close(s);
	return pid;
}

static void test_socket_exchange(void **state)
{
	char dir[] = "/tmp/rw-wguapi-XXXXXX", path[128], why[256] = "";
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/t.sock", dir);
	size_t len;
	char *b = slurp("tests/data/wg/get_two_peers.txt", &len);
	char answer[65536];
	memcpy(answer, b, len);
	answer[len] = '\0';
	pid_t pid = fake_server(path, answer);
	struct rw_wg_device d;
	assert_int_equal(rw_wg_uapi_get(path, &d, 2000, why, sizeof(why)), 0);
	assert_int_equal(d.n_peers, 2);
	rw_wg_device_free(&d);
	waitpid(pid, NULL, 0);

	struct rw_wg_device set = { .has_listen_port = true, .listen_port = 1 };
	pid = fake_server(path, "errno=-98\n\n");
	assert_int_equal(rw_wg_uapi_set(path, &set, 2000, why, sizeof(why)), RW_EKERNEL);
	assert_non_null(strstr(why, "errno 98"));
	waitpid(pid, NULL, 0);

	pid = fake_server(path, "errno=0\n"); /* closes before the empty line */
	assert_int_equal(rw_wg_uapi_set(path, &set, 2000, why, sizeof(why)), RW_EPROTO);
	waitpid(pid, NULL, 0);

	unlink(path);
	assert_int_equal(rw_wg_uapi_set(path, &set, 2000, why, sizeof(why)), RW_ENOENT);
	rmdir(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_real_get_handshake),
		cmocka_unit_test(test_real_get_two_peers),
		cmocka_unit_test(test_set_replies),
		cmocka_unit_test(test_crafted_bad),
		cmocka_unit_test(test_bounds),
		cmocka_unit_test(test_format_set),
		cmocka_unit_test(test_socket_exchange),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
