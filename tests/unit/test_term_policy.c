/* Terminate mode's pure parts: identity order, the policy verdict per
 * operation class, the forwarding-header rewrite, Host vs SNI. Real
 * certificates from tests/data/certs/, request heads from the real
 * parser. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include <openssl/pem.h>

#include "fwd/rw_term.h"
#include "inspect/rw_err.h"

static X509 *load_cert(const char *name)
{
	char p[256];
	snprintf(p, sizeof(p), "tests/data/certs/%s.pem", name);
	FILE *f = fopen(p, "r");
	assert_non_null(f);
	X509 *x = PEM_read_X509(f, NULL, NULL, NULL);
	fclose(f);
	assert_non_null(x);
	return x;
}

/* A hand-built policy: network office, VPN peer alice, identity ci-bot. */
static struct rw_role bot_roles[] = { { RW_ROLE_PULL, "*" }, { RW_ROLE_PUSH, "team-a/*" } };
static struct rw_role alice_roles[] = { { RW_ROLE_PUSH, "*" }, { RW_ROLE_PULL, "*" },
					{ RW_ROLE_DELETE, "scratch/*" } };
static struct rw_cidr office_cidr = { AF_INET, 25, { 203, 0, 113, 0 } };
static struct rw_cidr alice_cidr = { AF_INET, 32, { 192, 0, 2, 2 } };
static struct rw_network nets[1];
static struct rw_peer peers[1];
static struct rw_identity idents[1];
static struct rw_policy pol;

static int setup(void **state)
{
	memset(&pol, 0, sizeof(pol));
	snprintf(nets[0].name, sizeof(nets[0].name), "office");
	nets[0].cidrs = &office_cidr;
	nets[0].n_cidrs = 1;
	snprintf(peers[0].name, sizeof(peers[0].name), "alice");
	peers[0].addresses = &alice_cidr;
	peers[0].n_addresses = 1;
	peers[0].roles = alice_roles;
	peers[0].n_roles = 3;
	snprintf(idents[0].name, sizeof(idents[0].name), "ci-bot");
	idents[0].cert_subject = "CN=ci-bot,O=Example Org,C=DE";
	idents[0].roles = bot_roles;
	idents[0].n_roles = 2;
	pol.networks = nets;
	pol.n_networks = 1;
	pol.vpn.enabled = true;
	pol.vpn.peers = peers;
	pol.vpn.n_peers = 1;
	pol.identities = idents;
	pol.n_identities = 1;
	pol.opts.push_requires_vpn = true;
	return 0;
}

static const uint8_t office_ip[16] = { 203, 0, 113, 10 };
static const uint8_t alice_ip[16] = { 192, 0, 2, 2 };
static const uint8_t outside_ip[16] = { 203, 0, 113, 140 };

static void test_identity_order(void **state)
{
	struct rw_term_who w;
	X509 *bot = load_cert("client"), *other = load_cert("cnonly");
	/* certificate identity first, even from a VPN address */
	rw_term_who_resolve(&pol, bot, AF_INET, alice_ip, &w);
	assert_string_equal(w.name, "ci-bot");
	assert_true(w.via_vpn);
	rw_term_who_resolve(&pol, bot, AF_INET, office_ip, &w);
	assert_string_equal(w.name, "ci-bot");
	assert_false(w.via_vpn);
	/* a verified certificate no identity names: falls through */
	rw_term_who_resolve(&pol, other, AF_INET, alice_ip, &w);
	assert_string_equal(w.name, "peer:alice");
	assert_int_equal(w.n_roles, 3);
	rw_term_who_resolve(&pol, NULL, AF_INET, office_ip, &w);
	assert_string_equal(w.name, "net:office");
	assert_true(w.network_pull);
	rw_term_who_resolve(&pol, NULL, AF_INET, outside_ip, &w);
	assert_string_equal(w.name, "anonymous");
	assert_int_equal(w.n_roles, 0);
	X509_free(bot);
	X509_free(other);
}

static const char *verdict(const struct rw_term_who *w, const char *method, const char *target,
			   char *msg)
{
	struct rw_oci_req o;
	assert_int_equal(rw_oci_classify(method, strlen(method), target, strlen(target), &o), 0);
	return rw_term_policy(&pol, w, &o, msg, 200);
}

static void test_policy(void **state)
{
	struct rw_term_who bot, alice, net, anon;
	char msg[200];
	X509 *x = load_cert("client");
	rw_term_who_resolve(&pol, x, AF_INET, office_ip, &bot);
	X509_free(x);
	rw_term_who_resolve(&pol, NULL, AF_INET, alice_ip, &alice);
	rw_term_who_resolve(&pol, NULL, AF_INET, office_ip, &net);
	rw_term_who_resolve(&pol, NULL, AF_INET, outside_ip, &anon);

	assert_null(verdict(&anon, "GET", "/v2/", msg));
	assert_null(verdict(&net, "GET", "/v2/lib/x/manifests/v1", msg));
	assert_string_equal(verdict(&anon, "GET", "/v2/lib/x/manifests/v1", msg), "denied");
	assert_string_equal(msg, "anonymous may not pull lib/x");
	/* push requires the VPN: ci-bot has the role but comes from the office */
	assert_string_equal(verdict(&bot, "POST", "/v2/team-a/app/blobs/uploads/", msg), "denied");
	assert_string_equal(msg, "push to team-a/app requires the VPN");
	assert_null(verdict(&alice, "PUT", "/v2/any/thing/manifests/v1", msg));
	pol.opts.push_requires_vpn = false;
	assert_null(verdict(&bot, "POST", "/v2/team-a/app/blobs/uploads/", msg));
	assert_null(verdict(&bot, "PUT", "/v2/team-a/deep/er/manifests/v1", msg));
	assert_string_equal(verdict(&bot, "PUT", "/v2/team-b/app/manifests/v1", msg), "denied");
	assert_string_equal(msg, "ci-bot may not push to team-b/app");
	assert_string_equal(verdict(&net, "PATCH", "/v2/team-a/app/blobs/uploads/abc", msg), "denied");
	/* delete is its own class */
	assert_string_equal(verdict(&bot, "DELETE", "/v2/team-a/app/manifests/v1", msg), "denied");
	assert_null(verdict(&alice, "DELETE", "/v2/scratch/x/manifests/v1", msg));
	/* catalog and unknown operations */
	assert_string_equal(verdict(&alice, "GET", "/v2/_catalog", msg), "denied");
	assert_string_equal(verdict(&alice, "GET", "/v2/a/../b/manifests/v1", msg),
			    "unknown_operation");
	pol.opts.push_requires_vpn = true;
}

static void test_mount_needs_pull_on_from(void **state)
{
	struct rw_term_who w = { .name = "m", .roles = NULL, .via_vpn = true };
	static struct rw_role push_only[] = { { RW_ROLE_PUSH, "dst/*" } };
	w.roles = push_only;
	w.n_roles = 1;
	char msg[200];
	const char *d = "sha256:4f1a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d5e6f708192a3b4c5d6e7f8";
	char t[300];
	snprintf(t, sizeof(t), "/v2/dst/app/blobs/uploads/?mount=%s&from=src/app", d);
	assert_string_equal(verdict(&w, "POST", t, msg), "denied");
	assert_string_equal(msg, "m may not mount from src/app");
	static struct rw_role both[] = { { RW_ROLE_PUSH, "dst/*" }, { RW_ROLE_PULL, "src/*" } };
	w.roles = both;
	w.n_roles = 2;
	assert_null(verdict(&w, "POST", t, msg));
}

static void rewrite(const char *in, const char *ip, char *out, size_t cap)
{
	struct rw_http_req req;
	assert_int_equal(rw_http_parse_head((const uint8_t *)in, strlen(in), &req), RW_INSPECT_OK);
	size_t len = 0;
	assert_int_equal(rw_term_rewrite_head((const uint8_t *)in, &req, ip, (uint8_t *)out, cap - 1,
					      &len),
			 0);
	out[len] = '\0';
}

static void test_rewrite_head(void **state)
{
	char out[1024];
	rewrite("GET /v2/ HTTP/1.1\r\nX-Forwarded-For: 1.2.3.4\r\nHost: r\r\n"
		"forwarded:  for=5.6.7.8 \r\nUser-Agent: a b\r\nX-REAL-IP:9.9.9.9\r\n"
		"X-Forwarded-Proto: http\r\nX-Forwarded-Host: evil\r\n\r\n",
		"203.0.113.10", out, sizeof(out));
	assert_string_equal(out, "GET /v2/ HTTP/1.1\r\nHost: r\r\nUser-Agent: a b\r\n"
				 "X-Forwarded-For: 203.0.113.10\r\nX-Forwarded-Proto: https\r\n\r\n");
	/* nothing to drop: every byte kept, ours appended (IPv6 too) */
	rewrite("PUT /v2/a/manifests/v1 HTTP/1.1\r\nHost: r\r\nContent-Length: 2\r\n\r\n",
		"2001:db8:1::10", out, sizeof(out));
	assert_string_equal(out, "PUT /v2/a/manifests/v1 HTTP/1.1\r\nHost: r\r\nContent-Length: 2\r\n"
				 "X-Forwarded-For: 2001:db8:1::10\r\nX-Forwarded-Proto: https\r\n\r\n");
	/* too small an output buffer is an error, not a truncation */
	const char *in = "GET /v2/ HTTP/1.1\r\nHost: r\r\n\r\n";
	struct rw_http_req req;
	assert_int_equal(rw_http_parse_head((const uint8_t *)in, strlen(in), &req), RW_INSPECT_OK);
	size_t len;
	assert_int_equal(rw_term_rewrite_head((const uint8_t *)in, &req, "192.0.2.1",
					      (uint8_t *)out, 40, &len),
			 RW_ERANGE);
}

static void test_host_matches(void **state)
{
	struct rw_http_span s;
#define H(str) (s.ptr = (const uint8_t *)(str), s.len = strlen(str), s)
	assert_true(rw_term_host_matches(H("registry.example.test"), "registry.example.test"));
	assert_true(rw_term_host_matches(H("Registry.Example.TEST:443"), "registry.example.test"));
	assert_true(rw_term_host_matches(H("registry.example.test."), "registry.example.test"));
	assert_false(rw_term_host_matches(H("registry.example.test.evil"), "registry.example.test"));
	assert_false(rw_term_host_matches(H("other.example.test"), "registry.example.test"));
	assert_false(rw_term_host_matches(H("registry.example.test"), ""));
	assert_false(rw_term_host_matches(H("[2001:db8::1]:443"), "registry.example.test"));
#undef H
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_identity_order),
		cmocka_unit_test(test_policy),
		cmocka_unit_test(test_mount_needs_pull_on_from),
		cmocka_unit_test(test_rewrite_head),
		cmocka_unit_test(test_host_matches),
	};
	return cmocka_run_group_tests(tests, setup, NULL);
}
