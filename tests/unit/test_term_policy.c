/* Terminate mode's pure parts: who a connection is (rw_term_identify in
 * front of rw_who_resolve), the verdicts terminate mode gets from
 * rw_decide per operation class (status, code, message, limiter flags),
 * the forwarding-header rewrite, Host vs SNI. Real certificates from
 * tests/data/certs/, requests classified by the real classifier. */
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

#include "rules/rw_decide.h"
#include "fwd/rw_term.h"
#include "base/rw_err.h"

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

/* Terminate mode's identity: the certificate's config identity, the VPN
 * peer of the source, the network of the source, all kept (rw_decide
 * takes the union); the name follows identity > peer > network. */
static void test_identity_order(void **state)
{
	struct rw_who w;
	X509 *bot = load_cert("client"), *other = load_cert("cnonly");
	/* certificate identity named first, even from a VPN address, and
	 * the peer is kept too */
	rw_term_identify(&pol, bot, AF_INET, alice_ip, &w, NULL);
	assert_string_equal(w.name, "ci-bot");
	assert_ptr_equal(w.identity, &idents[0]);
	assert_ptr_equal(w.peer, &peers[0]);
	assert_true(w.via_vpn);
	rw_term_identify(&pol, bot, AF_INET, office_ip, &w, NULL);
	assert_string_equal(w.name, "ci-bot");
	assert_null(w.peer);
	assert_ptr_equal(w.network, &nets[0]);
	assert_false(w.via_vpn);
	/* a verified certificate no identity names: the address decides */
	char *dn = (char *)"unset";
	rw_term_identify(&pol, other, AF_INET, alice_ip, &w, &dn);
	assert_string_equal(w.name, "peer:alice");
	assert_null(w.identity);
	assert_ptr_equal(w.peer, &peers[0]);
	/* ... and its subject is kept for the events */
	assert_non_null(dn);
	assert_string_equal(dn, "CN=cn-only-client");
	free(dn);
	/* a certificate an identity names, or none: no subject kept */
	dn = (char *)"unset";
	rw_term_identify(&pol, bot, AF_INET, office_ip, &w, &dn);
	assert_null(dn);
	dn = (char *)"unset";
	rw_term_identify(&pol, NULL, AF_INET, office_ip, &w, &dn);
	assert_null(dn);
	rw_term_identify(&pol, NULL, AF_INET, office_ip, &w, NULL);
	assert_string_equal(w.name, "net:office");
	assert_ptr_equal(w.network, &nets[0]);
	assert_null(w.identity);
	assert_null(w.peer);
	rw_term_identify(&pol, NULL, AF_INET, outside_ip, &w, NULL);
	assert_string_equal(w.name, "anonymous");
	assert_null(w.identity);
	assert_null(w.peer);
	assert_null(w.network);
	/* VPN disabled: a peer's address is nobody's tunnel */
	pol.vpn.enabled = false;
	rw_term_identify(&pol, NULL, AF_INET, alice_ip, &w, NULL);
	assert_string_equal(w.name, "anonymous");
	assert_false(w.via_vpn);
	pol.vpn.enabled = true;
	X509_free(bot);
	X509_free(other);
}

static enum rw_verdict decide(const struct rw_who *w, const char *method, const char *target,
			      struct rw_decision *d)
{
	struct rw_oci_req o;
	assert_int_equal(rw_oci_classify(method, strlen(method), target, strlen(target), &o), 0);
	return rw_decide(&pol, w, &o, d);
}

/* Allowed, with no refusal fields set. */
static void allow(const struct rw_who *w, const char *method, const char *target)
{
	struct rw_decision d;
	assert_int_equal(decide(w, method, target, &d), RW_VERDICT_ALLOW);
	assert_int_equal(d.status, 200);
	assert_null(d.code);
	assert_string_equal(d.message, "");
}

/* Refused with this status, code, reason and (when given) message. */
static void refuse(const struct rw_who *w, const char *method, const char *target, int status,
		   const char *code, const char *reason, const char *msg)
{
	struct rw_decision d;
	assert_int_equal(decide(w, method, target, &d), RW_VERDICT_DENY);
	assert_int_equal(d.status, status);
	assert_string_equal(d.code, code);
	assert_string_equal(d.reason, reason);
	if (msg)
		assert_string_equal(d.message, msg);
	assert_false(d.counts_push_op);
	assert_false(d.meters_upload);
}

struct clients {
	struct rw_who bot, bot_vpn, alice, net, anon;
};

static void clients(struct clients *c)
{
	X509 *x = load_cert("client");
	rw_term_identify(&pol, x, AF_INET, office_ip, &c->bot, NULL);
	rw_term_identify(&pol, x, AF_INET, alice_ip, &c->bot_vpn, NULL);
	X509_free(x);
	rw_term_identify(&pol, NULL, AF_INET, alice_ip, &c->alice, NULL);
	rw_term_identify(&pol, NULL, AF_INET, office_ip, &c->net, NULL);
	rw_term_identify(&pol, NULL, AF_INET, outside_ip, &c->anon, NULL);
}

static void test_policy(void **state)
{
	struct clients c;
	clients(&c);

	allow(&c.net, "GET", "/v2/lib/x/manifests/v1");
	allow(&c.net, "GET", "/v2/");
	/* nobody at all: 401 UNAUTHORIZED (the old terminate path said 403
	 * and let anonymous clients read /v2/) */
	refuse(&c.anon, "GET", "/v2/lib/x/manifests/v1", 401, "UNAUTHORIZED", "no_identity",
	       "regwall: unknown client: use a client certificate, the VPN, or an allowed network");
	refuse(&c.anon, "GET", "/v2/", 401, "UNAUTHORIZED", "no_identity", NULL);
	refuse(&c.anon, "POST", "/v2/team-a/app/blobs/uploads/", 401, "UNAUTHORIZED", "no_identity",
	       NULL);
	/* push requires the VPN: ci-bot has the role but comes from the office */
	refuse(&c.bot, "POST", "/v2/team-a/app/blobs/uploads/", 403, "DENIED", "push_requires_vpn",
	       "regwall: push to team-a/app is allowed only through the VPN");
	allow(&c.alice, "PUT", "/v2/any/thing/manifests/v1");
	pol.opts.push_requires_vpn = false;
	allow(&c.bot, "POST", "/v2/team-a/app/blobs/uploads/");
	allow(&c.bot, "PUT", "/v2/team-a/app/manifests/v1");
	// "team-a/*" stays within one path segment (rw_glob; the old
	// fnmatch path let it reach team-a/deep/er)
	refuse(&c.bot, "PUT", "/v2/team-a/deep/er/manifests/v1", 403, "DENIED", "no_role",
	       "regwall: ci-bot may not push to team-a/deep/er");
	refuse(&c.bot, "PUT", "/v2/team-b/app/manifests/v1", 403, "DENIED", "no_role",
	       "regwall: ci-bot may not push to team-b/app");
	refuse(&c.net, "PATCH", "/v2/team-a/app/blobs/uploads/abc", 403, "DENIED", "no_role",
	       "regwall: net:office may not push to team-a/app");
	/* delete is its own role */
	refuse(&c.bot, "DELETE", "/v2/team-a/app/manifests/v1", 403, "DENIED", "no_role",
	       "regwall: ci-bot may not delete in team-a/app");
	allow(&c.alice, "DELETE", "/v2/scratch/x/manifests/v1");
	/* catalog: a pull role on everything (alice: pull:*) or a network */
	allow(&c.alice, "GET", "/v2/_catalog");
	allow(&c.net, "GET", "/v2/_catalog");
	/* unknown operations: 403 with the classifier's reason */
	refuse(&c.alice, "GET", "/v2/a/../b/manifests/v1", 403, "DENIED", "unknown_operation", NULL);
	pol.opts.push_requires_vpn = true;
}

/* A certificate identity that also arrives through the tunnel acts with
 * the union of both role sets and satisfies push_requires_vpn; the old
 * terminate path used the certificate's roles alone. */
static void test_union_of_cert_and_peer(void **state)
{
	struct clients c;
	clients(&c);
	assert_string_equal(c.bot_vpn.name, "ci-bot");
	allow(&c.bot_vpn, "POST", "/v2/team-a/app/blobs/uploads/");
	// alice's roles: push:*, delete:scratch/*
	allow(&c.bot_vpn, "PUT", "/v2/team-b/app/manifests/v1");
	allow(&c.bot_vpn, "DELETE", "/v2/scratch/x/manifests/v1");
	refuse(&c.bot_vpn, "DELETE", "/v2/team-a/app/manifests/v1", 403, "DENIED", "no_role",
	       "regwall: ci-bot may not delete in team-a/app");
	/* the same certificate from the office: the certificate's roles only */
	refuse(&c.bot, "DELETE", "/v2/scratch/x/manifests/v1", 403, "DENIED", "no_role", NULL);
}

/* What the limiter is told per operation: every allowed state change
 * spends an op token except the upload-status read; only requests that
 * carry blob or manifest bytes are paced. */
static void test_limit_flags(void **state)
{
	struct clients c;
	clients(&c);
	struct rw_decision d;
	static const struct {
		const char *m, *t;
		bool op, bytes;
	} rows[] = {
		{ "POST", "/v2/team-a/app/blobs/uploads/", true, true },
		{ "PATCH", "/v2/team-a/app/blobs/uploads/abc", true, true },
		{ "PUT", "/v2/team-a/app/blobs/uploads/abc?digest=sha256:"
			 "4f1a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d5e6f708192a3b4c5d6e7f8", true, true },
		{ "PUT", "/v2/team-a/app/manifests/v1", true, true },
		{ "GET", "/v2/team-a/app/blobs/uploads/abc", false, false },
		{ "DELETE", "/v2/team-a/app/blobs/uploads/abc", true, false },
		{ "GET", "/v2/team-a/app/manifests/v1", false, false },
		{ "GET", "/v2/", false, false },
	};
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		assert_int_equal(decide(&c.bot_vpn, rows[i].m, rows[i].t, &d), RW_VERDICT_ALLOW);
		assert_int_equal(d.counts_push_op, rows[i].op);
		assert_int_equal(d.meters_upload, rows[i].bytes);
	}
}

static void test_mount_needs_pull_on_from(void **state)
{
	static struct rw_role push_only[] = { { RW_ROLE_PULL, "dst/*" }, { RW_ROLE_PUSH, "dst/*" } };
	static struct rw_role both[] = { { RW_ROLE_PULL, "dst/*" }, { RW_ROLE_PUSH, "dst/*" },
					 { RW_ROLE_PULL, "src/*" } };
	struct rw_identity m = { .roles = push_only, .n_roles = 2 };
	snprintf(m.name, sizeof(m.name), "m");
	struct rw_who w;
	rw_who_resolve(&pol, AF_INET, alice_ip, true, &m, &w);
	/* alice's peer roles would allow everything: test the identity alone */
	w.peer = NULL;
	w.via_vpn = true;
	const char *dg = "sha256:4f1a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d5e6f708192a3b4c5d6e7f8";
	char t[300];
	snprintf(t, sizeof(t), "/v2/dst/app/blobs/uploads/?mount=%s&from=src/app", dg);
	refuse(&w, "POST", t, 403, "DENIED", "mount_source_denied",
	       "regwall: m may not pull from src/app (mount source)");
	m.roles = both;
	m.n_roles = 3;
	allow(&w, "POST", t);
	/* pushing needs pulling the target too */
	static struct rw_role no_pull[] = { { RW_ROLE_PUSH, "dst/*" }, { RW_ROLE_PULL, "src/*" } };
	m.roles = no_pull;
	m.n_roles = 2;
	refuse(&w, "POST", t, 403, "DENIED", "no_role", "regwall: m may not pull from dst/app");
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

/* The port a Host may carry: absent, or 1..65535 in at most 5 digits;
 * any port in range, not only the listener's (clients send the one they
 * dialled, which a port mapping in front may have changed). */
static void test_host_port(void **state)
{
	struct rw_http_span s;
#define H(str) (s.ptr = (const uint8_t *)(str), s.len = strlen(str), s)
	assert_true(rw_term_host_port_ok(H("registry.example.test")));
	assert_true(rw_term_host_port_ok(H("registry.example.test:443")));
	assert_true(rw_term_host_port_ok(H("registry.example.test:8443")));
	assert_true(rw_term_host_port_ok(H("registry.example.test:1")));
	assert_true(rw_term_host_port_ok(H("registry.example.test:65535")));
	assert_true(rw_term_host_port_ok(H("[2001:db8::1]")));
	assert_true(rw_term_host_port_ok(H("[2001:db8::1]:8443")));
	assert_false(rw_term_host_port_ok(H("registry.example.test:99999")));
	assert_false(rw_term_host_port_ok(H("registry.example.test:65536")));
	assert_false(rw_term_host_port_ok(H("registry.example.test:0")));
	assert_false(rw_term_host_port_ok(H("registry.example.test:00000")));
	assert_false(rw_term_host_port_ok(H("registry.example.test:000443")));
	assert_false(rw_term_host_port_ok(H("registry.example.test:")));
	assert_false(rw_term_host_port_ok(H("registry.example.test:44a")));
	assert_false(rw_term_host_port_ok(H("registry.example.test:+443")));
	assert_false(rw_term_host_port_ok(H("registry.example.test:443:443")));
	assert_false(rw_term_host_port_ok(H(":443")));
	assert_false(rw_term_host_port_ok(H("[2001:db8::1]443")));
	assert_false(rw_term_host_port_ok(H("[2001:db8::1")));
	assert_false(rw_term_host_port_ok(H("[2001:db8::1]:")));
#undef H
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_identity_order),
		cmocka_unit_test(test_policy),
		cmocka_unit_test(test_union_of_cert_and_peer),
		cmocka_unit_test(test_limit_flags),
		cmocka_unit_test(test_mount_needs_pull_on_from),
		cmocka_unit_test(test_rewrite_head),
		cmocka_unit_test(test_host_matches),
		cmocka_unit_test(test_host_port),
	};
	return cmocka_run_group_tests(tests, setup, NULL);
}
