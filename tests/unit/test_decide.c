/* rw_who_resolve + rw_decide: identity resolution from addresses, the
 * decision table of docs/design/policy.md row by row (requests classified
 * by the real OCI classifier), and every real captured client request in
 * tests/data/http and tests/data/httpresp decided for several kinds of
 * client. Run from the repository root. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "rules/rw_decide.h"
#include "inspect/rw_http.h"
#include "inspect/rw_oci.h"
#include "rules/rw_cidr.h"

/* ---- a policy like the design's sample ---- */

static struct rw_cidr office_c[2], ci_c[1], alice_a[2], bob_a[1];
static struct rw_network nets[2];
static struct rw_role ci_roles[2], reader_roles[1], admin_roles[3], alice_roles[2], bob_roles[1];
static struct rw_identity ids[3];
static struct rw_peer peers[2];
static struct rw_policy pol;

static void cidr(struct rw_cidr *c, const char *s)
{
	assert_int_equal(rw_cidr_parse(s, c, 0), 0);
}

static void role(struct rw_role *r, enum rw_op_class op, const char *glob)
{
	r->op = op;
	r->glob = (char *)glob;
}

static int setup(void **state)
{
	(void)state;
	memset(&pol, 0, sizeof(pol));
	cidr(&office_c[0], "203.0.113.0/25");
	cidr(&office_c[1], "2001:db8:1::/48");
	cidr(&ci_c[0], "203.0.113.200/32");
	snprintf(nets[0].name, RW_NAME_MAX, "office");
	nets[0].cidrs = office_c;
	nets[0].n_cidrs = 2;
	snprintf(nets[1].name, RW_NAME_MAX, "ci");
	nets[1].cidrs = ci_c;
	nets[1].n_cidrs = 1;
	pol.networks = nets;
	pol.n_networks = 2;

	role(&ci_roles[0], RW_ROLE_PULL, "*");
	role(&ci_roles[1], RW_ROLE_PUSH, "team-a/*");
	role(&reader_roles[0], RW_ROLE_PULL, "team-b/**");
	role(&admin_roles[0], RW_ROLE_PULL, "team-a/*");
	role(&admin_roles[1], RW_ROLE_PUSH, "team-a/*");
	role(&admin_roles[2], RW_ROLE_DELETE, "team-a/*");
	snprintf(ids[0].name, RW_NAME_MAX, "ci-bot");
	ids[0].roles = ci_roles;
	ids[0].n_roles = 2;
	snprintf(ids[1].name, RW_NAME_MAX, "reader");
	ids[1].roles = reader_roles;
	ids[1].n_roles = 1;
	snprintf(ids[2].name, RW_NAME_MAX, "admin");
	ids[2].roles = admin_roles;
	ids[2].n_roles = 3;
	pol.identities = ids;
	pol.n_identities = 3;

	cidr(&alice_a[0], "192.0.2.2/32");
	cidr(&alice_a[1], "2001:db8:ffff::2/128");
	cidr(&bob_a[0], "192.0.2.3/32");
	role(&alice_roles[0], RW_ROLE_PUSH, "*");
	role(&alice_roles[1], RW_ROLE_PULL, "*");
	role(&bob_roles[0], RW_ROLE_PULL, "team-a/*");
	snprintf(peers[0].name, RW_NAME_MAX, "alice");
	peers[0].addresses = alice_a;
	peers[0].n_addresses = 2;
	peers[0].roles = alice_roles;
	peers[0].n_roles = 2;
	snprintf(peers[1].name, RW_NAME_MAX, "bob");
	peers[1].addresses = bob_a;
	peers[1].n_addresses = 1;
	peers[1].roles = bob_roles;
	peers[1].n_roles = 1;
	pol.vpn.enabled = true;
	pol.vpn.peers = peers;
	pol.vpn.n_peers = 2;
	pol.opts.push_requires_vpn = true;
	pol.opts.push_ops_per_minute = 60;
	return 0;
}

static void who(const char *ip, bool on_vpn, const struct rw_identity *id, struct rw_who *w)
{
	uint8_t a[16];
	int fam = strchr(ip, ':') ? AF_INET6 : AF_INET;
	assert_int_equal(inet_pton(fam, ip, a), 1);
	rw_who_resolve(&pol, fam, a, on_vpn, id, w);
}

static void test_resolve(void **state)
{
	(void)state;
	struct rw_who w;
	who("203.0.113.7", false, NULL, &w);
	assert_ptr_equal(w.network, &nets[0]);
	assert_null(w.peer);
	assert_false(w.via_vpn);
	assert_string_equal(w.name, "net:office");
	who("2001:db8:1:2::9", false, NULL, &w);
	assert_string_equal(w.name, "net:office");
	who("203.0.113.200", false, NULL, &w);
	assert_string_equal(w.name, "net:ci");
	who("203.0.113.201", false, NULL, &w);
	assert_string_equal(w.name, "anonymous");
	assert_null(w.network);
	/* a peer's address counts only through the tunnel */
	who("192.0.2.2", true, NULL, &w);
	assert_ptr_equal(w.peer, &peers[0]);
	assert_true(w.via_vpn);
	assert_string_equal(w.name, "peer:alice");
	who("2001:db8:ffff::2", true, NULL, &w);
	assert_string_equal(w.name, "peer:alice");
	who("192.0.2.2", false, NULL, &w);
	assert_null(w.peer);
	assert_false(w.via_vpn);
	assert_string_equal(w.name, "anonymous");
	/* a tunnel address no peer owns */
	who("192.0.2.9", true, NULL, &w);
	assert_null(w.peer);
	assert_false(w.via_vpn);
	/* certificate identity names the client, peer still recorded */
	who("192.0.2.3", true, &ids[0], &w);
	assert_string_equal(w.name, "ci-bot");
	assert_ptr_equal(w.peer, &peers[1]);
	assert_true(w.via_vpn);
	who("203.0.113.7", false, &ids[1], &w);
	assert_string_equal(w.name, "reader");
	assert_ptr_equal(w.network, &nets[0]);
	/* vpn section absent: no peers at all */
	pol.vpn.enabled = false;
	who("192.0.2.2", true, NULL, &w);
	assert_null(w.peer);
	pol.vpn.enabled = true;
	/* bad family */
	uint8_t a[16] = { 0 };
	rw_who_resolve(&pol, AF_UNIX, a, true, NULL, &w);
	assert_string_equal(w.name, "anonymous");
}

static struct rw_oci_req REQ;
static struct rw_decision D;

static enum rw_verdict decide(const struct rw_who *w, const char *method, const char *target)
{
	assert_int_equal(rw_oci_classify(method, strlen(method), target, strlen(target), &REQ), 0);
	return rw_decide(&pol, w, &REQ, &D);
}

static void allow(const struct rw_who *w, const char *method, const char *target)
{
	if (decide(w, method, target) != RW_VERDICT_ALLOW)
		fail_msg("%s %s %s: denied %s (%s)", w->name, method, target, D.reason, D.message);
	assert_int_equal(D.status, 200);
	assert_null(D.code);
	assert_string_equal(D.reason, "allow");
}

static void refuse(const struct rw_who *w, const char *method, const char *target, int status,
		   const char *reason)
{
	if (decide(w, method, target) != RW_VERDICT_DENY)
		fail_msg("%s %s %s: allowed, want %s", w->name, method, target, reason);
	if (strcmp(D.reason, reason) != 0 || D.status != status)
		fail_msg("%s %s %s: %d %s, want %d %s", w->name, method, target, D.status, D.reason,
			 status, reason);
	assert_string_equal(D.code, status == 401 ? "UNAUTHORIZED" : "DENIED");
	assert_true(strlen(D.message) > 0);
	assert_false(D.counts_push_op);
	assert_false(D.meters_upload);
}

#define DIG "sha256:2e8b65dfcabb17cb017db093241230ff894544cf0b931eb59766ce8c4c6a1b2c"

static void test_network_client(void **state)
{
	(void)state;
	struct rw_who w;
	who("203.0.113.7", false, NULL, &w);
	allow(&w, "GET", "/v2/");
	allow(&w, "GET", "/v2/_catalog");
	allow(&w, "GET", "/v2/anything/deep/x/manifests/v1");
	allow(&w, "HEAD", "/v2/team-a/app/blobs/" DIG);
	allow(&w, "GET", "/v2/team-b/app/tags/list");
	assert_false(D.counts_push_op);
	refuse(&w, "POST", "/v2/team-a/app/blobs/uploads/", 403, "no_role");
	assert_string_equal(D.message, "regwall: net:office may not push to team-a/app");
	refuse(&w, "PUT", "/v2/team-a/app/manifests/v1", 403, "no_role");
	refuse(&w, "DELETE", "/v2/team-a/app/manifests/" DIG, 403, "no_role");
	refuse(&w, "GET", "/v2/team-a/app/blobs/uploads/abc", 403, "no_role");
}

static void test_anonymous_and_unknown(void **state)
{
	(void)state;
	struct rw_who w;
	who("198.51.100.77", false, NULL, &w);
	refuse(&w, "GET", "/v2/", 401, "no_identity");
	refuse(&w, "GET", "/v2/team-a/app/manifests/v1", 401, "no_identity");
	who("203.0.113.7", false, NULL, &w);
	refuse(&w, "GET", "/v2/../etc/passwd", 403, "unknown_operation");
	assert_non_null(strstr(D.message, "("));
	refuse(&w, "OPTIONS", "/v2/", 403, "unknown_operation");
	refuse(&w, "GET", "/v2/Team/app/manifests/v1", 403, "unknown_operation");
	/* unknown beats everything, even for the most privileged */
	who("192.0.2.2", true, NULL, &w);
	refuse(&w, "GET", "/v2/a//b/manifests/v1", 403, "unknown_operation");
	/* NULL arguments deny */
	assert_int_equal(rw_decide(&pol, NULL, &REQ, &D), RW_VERDICT_DENY);
	assert_int_equal(D.status, 403);
	assert_int_equal(rw_decide(NULL, &w, &REQ, &D), RW_VERDICT_DENY);
	assert_int_equal(rw_decide(&pol, &w, &REQ, NULL), RW_VERDICT_DENY);
}

static void test_vpn_peer(void **state)
{
	(void)state;
	struct rw_who w;
	who("192.0.2.2", true, NULL, &w); /* alice: push:*, pull:* */
	allow(&w, "POST", "/v2/team-z/deep/app/blobs/uploads/");
	assert_true(D.counts_push_op);
	assert_true(D.meters_upload);
	allow(&w, "PATCH", "/v2/team-z/app/blobs/uploads/abc-123");
	assert_true(D.meters_upload);
	allow(&w, "PUT", "/v2/team-z/app/blobs/uploads/abc-123?digest=" DIG);
	allow(&w, "PUT", "/v2/team-z/app/manifests/v1");
	assert_true(D.counts_push_op && D.meters_upload);
	allow(&w, "GET", "/v2/team-z/app/blobs/uploads/abc-123");
	assert_false(D.counts_push_op); /* status read: no token */
	assert_false(D.meters_upload);
	allow(&w, "DELETE", "/v2/team-z/app/blobs/uploads/abc-123");
	assert_true(D.counts_push_op);
	allow(&w, "POST", "/v2/team-z/app/blobs/uploads/?mount=" DIG "&from=team-y/base");
	assert_true(D.counts_push_op);
	assert_false(D.meters_upload);
	allow(&w, "GET", "/v2/_catalog");
	/* no delete role */
	refuse(&w, "DELETE", "/v2/team-z/app/manifests/" DIG, 403, "no_role");
	assert_string_equal(D.message, "regwall: peer:alice may not delete in team-z/app");

	who("192.0.2.3", true, NULL, &w); /* bob: pull on team-a, one level */
	allow(&w, "GET", "/v2/team-a/app/manifests/v1");
	refuse(&w, "GET", "/v2/team-a/app/x/manifests/v1", 403, "no_role");
	refuse(&w, "GET", "/v2/team-b/app/manifests/v1", 403, "no_role");
	assert_string_equal(D.message, "regwall: peer:bob may not pull from team-b/app");
	refuse(&w, "GET", "/v2/_catalog", 403, "catalog_needs_pull_all");
	refuse(&w, "POST", "/v2/team-a/app/blobs/uploads/", 403, "no_role");
	allow(&w, "GET", "/v2/");
}

static void test_cert_identity(void **state)
{
	(void)state;
	struct rw_who w;
	/* ci-bot from the office: role allows team-a pushes, VPN rule refuses */
	who("203.0.113.7", false, &ids[0], &w);
	allow(&w, "GET", "/v2/team-q/app/manifests/v1");
	refuse(&w, "POST", "/v2/team-a/app/blobs/uploads/", 403, "push_requires_vpn");
	assert_string_equal(D.message, "regwall: push to team-a/app is allowed only through the VPN");
	refuse(&w, "POST", "/v2/team-b/app/blobs/uploads/", 403, "no_role");
	/* with push_requires_vpn off, the same push passes */
	pol.opts.push_requires_vpn = false;
	allow(&w, "POST", "/v2/team-a/app/blobs/uploads/");
	allow(&w, "PUT", "/v2/team-a/app/manifests/v1");
	refuse(&w, "PUT", "/v2/team-a/app/x/manifests/v1", 403, "no_role");
	pol.opts.push_requires_vpn = true;

	/* ci-bot over bob's tunnel: roles are the union, VPN satisfied */
	who("192.0.2.3", true, &ids[0], &w);
	allow(&w, "PUT", "/v2/team-a/app/manifests/v1");
	allow(&w, "GET", "/v2/_catalog");

	/* reader (pull, all of team-b) from outside any network */
	who("198.51.100.1", false, &ids[1], &w);
	allow(&w, "GET", "/v2/");
	allow(&w, "GET", "/v2/team-b/x/y/manifests/v1");
	refuse(&w, "GET", "/v2/team-c/x/manifests/v1", 403, "no_role");
	refuse(&w, "GET", "/v2/_catalog", 403, "catalog_needs_pull_all");
	/* the same identity inside a network also gets the network's pulls */
	who("203.0.113.9", false, &ids[1], &w);
	allow(&w, "GET", "/v2/team-c/x/manifests/v1");

	/* admin: pull, push, delete on team-a, over the VPN via alice */
	who("192.0.2.2", true, &ids[2], &w);
	allow(&w, "DELETE", "/v2/team-a/app/manifests/" DIG);
	assert_true(D.counts_push_op);
	assert_false(D.meters_upload);
	allow(&w, "DELETE", "/v2/team-a/app/blobs/" DIG);
	/* admin alone from outside: delete needs the VPN too */
	who("198.51.100.1", false, &ids[2], &w);
	refuse(&w, "DELETE", "/v2/team-a/app/manifests/" DIG, 403, "push_requires_vpn");
	assert_string_equal(D.message, "regwall: delete in team-a/app is allowed only through the VPN");
	/* push needs pull as well (distribution's rule) */
	static struct rw_role push_only[1];
	static struct rw_identity pusher;
	role(&push_only[0], RW_ROLE_PUSH, "**");
	snprintf(pusher.name, RW_NAME_MAX, "pusher");
	pusher.roles = push_only;
	pusher.n_roles = 1;
	who("192.0.2.9", true, &pusher, &w);
	pol.opts.push_requires_vpn = false;
	refuse(&w, "POST", "/v2/team-a/app/blobs/uploads/", 403, "no_role");
	assert_string_equal(D.message, "regwall: pusher may not pull from team-a/app");
	pol.opts.push_requires_vpn = true;
}

static void test_mount(void **state)
{
	(void)state;
	struct rw_who w;
	/* ci-bot via bob's tunnel: pull:* so any source is fine */
	who("192.0.2.3", true, &ids[0], &w);
	allow(&w, "POST", "/v2/team-a/app/blobs/uploads/?mount=" DIG "&from=team-z/base");
	/* admin pulls only team-a by its own roles (alice would add pull on
	 * everything), so admin alone, with push_requires_vpn off */
	pol.opts.push_requires_vpn = false;
	who("198.51.100.1", false, &ids[2], &w);
	allow(&w, "POST", "/v2/team-a/app/blobs/uploads/?mount=" DIG "&from=team-a/base");
	refuse(&w, "POST", "/v2/team-a/app/blobs/uploads/?mount=" DIG "&from=team-b/secret", 403,
	       "mount_source_denied");
	assert_string_equal(D.message, "regwall: admin may not pull from team-b/secret (mount source)");
	refuse(&w, "POST", "/v2/team-b/app/blobs/uploads/?mount=" DIG "&from=team-a/base", 403,
	       "no_role");
	pol.opts.push_requires_vpn = true;
}

/* ---- every real captured request, decided for several clients ---- */

struct real_tally {
	unsigned requests, pulls, pushes, deletes;
};

static void decide_file(const char *path, struct real_tally *t)
{
	FILE *f = fopen(path, "rb");
	assert_non_null(f);
	static uint8_t buf[1 << 16];
	size_t len = fread(buf, 1, sizeof(buf), f);
	fclose(f);
	static struct rw_http_req hreq;
	if (len == 0 || rw_http_parse_head(buf, len, &hreq) != RW_INSPECT_OK)
		return; /* TLS probes, deliberately malformed captures */
	static struct rw_oci_req req;
	assert_int_equal(rw_oci_classify_http(&hreq, &req), 0);
	if (req.op == RW_OCI_OP_UNKNOWN)
		return;
	t->requests++;
	struct rw_who alice, office, ci_office, anon;
	who("192.0.2.2", true, NULL, &alice);
	who("203.0.113.7", false, NULL, &office);
	who("203.0.113.7", false, &ids[0], &ci_office);
	who("198.51.100.50", false, NULL, &anon);
	struct rw_decision d;
	enum rw_oci_class cls = rw_oci_op_class(req.op);

	/* nobody: always 401 */
	assert_int_equal(rw_decide(&pol, &anon, &req, &d), RW_VERDICT_DENY);
	assert_int_equal(d.status, 401);

	/* office network: reads only */
	enum rw_verdict v = rw_decide(&pol, &office, &req, &d);
	if (cls == RW_OCI_CLASS_PULL || cls == RW_OCI_CLASS_ADMIN) {
		assert_int_equal(v, RW_VERDICT_ALLOW);
		t->pulls++;
	} else {
		assert_int_equal(v, RW_VERDICT_DENY);
		assert_string_equal(d.reason, "no_role");
		if (cls == RW_OCI_CLASS_PUSH)
			t->pushes++;
		else
			t->deletes++;
	}
	/* alice (pull and push, no delete) over the VPN: everything but
	 * deletes; upload cancel is push (its class and its need) */
	v = rw_decide(&pol, &alice, &req, &d);
	if (req.op == RW_OCI_OP_MANIFEST_DELETE || req.op == RW_OCI_OP_BLOB_DELETE)
		assert_int_equal(v, RW_VERDICT_DENY);
	else
		assert_int_equal(v, RW_VERDICT_ALLOW);
	/* ci-bot from the office: pushes to team/ are outside team-a/ */
	v = rw_decide(&pol, &ci_office, &req, &d);
	if (cls == RW_OCI_CLASS_PUSH) {
		assert_int_equal(v, RW_VERDICT_DENY);
		if (strncmp(req.repo, "team-a/", 7) == 0 && !strchr(req.repo + 7, '/'))
			assert_string_equal(d.reason, "push_requires_vpn");
		else
			assert_string_equal(d.reason, "no_role");
	} else if (cls == RW_OCI_CLASS_PULL || cls == RW_OCI_CLASS_ADMIN) {
		assert_int_equal(v, RW_VERDICT_ALLOW);
	}
}

static void scan_dir(const char *dir, const char *suffix, struct real_tally *t)
{
	DIR *d = opendir(dir);
	assert_non_null(d);
	struct dirent *e;
	char path[512];
	while ((e = readdir(d)) != NULL) {
		size_t l = strlen(e->d_name), s = strlen(suffix);
		if (l <= s || strcmp(e->d_name + l - s, suffix) != 0)
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
		decide_file(path, t);
	}
	closedir(d);
}

static void test_real_requests(void **state)
{
	(void)state;
	struct real_tally t;
	memset(&t, 0, sizeof(t));
	scan_dir("tests/data/http", ".bin", &t);
	scan_dir("tests/data/httpresp", ".req", &t);
	assert_true(t.requests >= 60);
	assert_true(t.pulls >= 20);
	assert_true(t.pushes >= 15);
	assert_true(t.deletes >= 1);
}

/* policy.pull_needs_role: a named network no longer grants pull; the
 * identity's own pull globs bind even from the office. */
static void test_pull_needs_role(void **state)
{
	(void)state;
	struct rw_who w;
	pol.opts.pull_needs_role = true;
	pol.opts.push_requires_vpn = false;
	/* network only: identified (base), nothing to pull */
	who("203.0.113.7", false, NULL, &w);
	allow(&w, "GET", "/v2/");
	refuse(&w, "GET", "/v2/team-b/app/tags/list", 403, "no_role");
	assert_string_equal(D.message, "regwall: net:office may not pull from team-b/app");
	refuse(&w, "GET", "/v2/_catalog", 403, "catalog_needs_pull_all");
	/* admin (pull, push, delete on team-a) in the office: team-a yes, team-b no,
	 * and no mount out of team-b */
	who("203.0.113.7", false, &ids[2], &w);
	allow(&w, "GET", "/v2/team-a/app/manifests/v1");
	refuse(&w, "GET", "/v2/team-b/app/manifests/v1", 403, "no_role");
	allow(&w, "POST", "/v2/team-a/app/blobs/uploads/?mount=" DIG "&from=team-a/base");
	refuse(&w, "POST", "/v2/team-a/app/blobs/uploads/?mount=" DIG "&from=team-b/secret", 403,
	       "mount_source_denied");
	/* ci-bot (pull:*) still pulls everything and lists the catalog */
	who("203.0.113.7", false, &ids[0], &w);
	allow(&w, "GET", "/v2/team-b/app/manifests/v1");
	allow(&w, "GET", "/v2/_catalog");
	/* the default: the same office client may pull team-b */
	pol.opts.pull_needs_role = false;
	who("203.0.113.7", false, &ids[2], &w);
	allow(&w, "GET", "/v2/team-b/app/manifests/v1");
	pol.opts.push_requires_vpn = true;
}

/* The operation table (inspect/rw_oci.c) is what rw_decide checks: for
 * every operation, a client holding exactly the rights of its class (pull,
 * pull + push, pull + delete; all through the VPN) is allowed exactly
 * when the class says so, the refusal names that right, and an allowed
 * request carries the table's limiter flags. So the class printed for an
 * operation is the right the decision asked for. */
static void test_op_table(void **state)
{
	(void)state;
	static const char *const sample[RW_OCI_OP_MAX_][2] = {
		[RW_OCI_OP_BASE] = { "GET", "/v2/" },
		[RW_OCI_OP_CATALOG] = { "GET", "/v2/_catalog" },
		[RW_OCI_OP_TAGS_LIST] = { "GET", "/v2/team/app/tags/list" },
		[RW_OCI_OP_MANIFEST_GET] = { "GET", "/v2/team/app/manifests/v1" },
		[RW_OCI_OP_MANIFEST_HEAD] = { "HEAD", "/v2/team/app/manifests/v1" },
		[RW_OCI_OP_MANIFEST_PUT] = { "PUT", "/v2/team/app/manifests/v1" },
		[RW_OCI_OP_MANIFEST_DELETE] = { "DELETE", "/v2/team/app/manifests/" DIG },
		[RW_OCI_OP_BLOB_GET] = { "GET", "/v2/team/app/blobs/" DIG },
		[RW_OCI_OP_BLOB_HEAD] = { "HEAD", "/v2/team/app/blobs/" DIG },
		[RW_OCI_OP_BLOB_DELETE] = { "DELETE", "/v2/team/app/blobs/" DIG },
		[RW_OCI_OP_UPLOAD_START] = { "POST", "/v2/team/app/blobs/uploads/" },
		[RW_OCI_OP_UPLOAD_MOUNT] = { "POST", "/v2/team/app/blobs/uploads/?mount=" DIG "&from=team/base" },
		[RW_OCI_OP_UPLOAD_CHUNK] = { "PATCH", "/v2/team/app/blobs/uploads/u-1" },
		[RW_OCI_OP_UPLOAD_COMPLETE] = { "PUT", "/v2/team/app/blobs/uploads/u-1?digest=" DIG },
		[RW_OCI_OP_UPLOAD_STATUS] = { "GET", "/v2/team/app/blobs/uploads/u-1" },
		[RW_OCI_OP_UPLOAD_CANCEL] = { "DELETE", "/v2/team/app/blobs/uploads/u-1" },
		[RW_OCI_OP_REFERRERS] = { "GET", "/v2/team/app/referrers/" DIG },
	};
	static struct rw_role r_pull[1], r_push[2], r_del[2];
	role(&r_pull[0], RW_ROLE_PULL, "*");
	role(&r_push[0], RW_ROLE_PULL, "*");
	role(&r_push[1], RW_ROLE_PUSH, "*");
	role(&r_del[0], RW_ROLE_PULL, "*");
	role(&r_del[1], RW_ROLE_DELETE, "*");
	static struct rw_identity id[3];
	const struct rw_role *rs[3] = { r_pull, r_push, r_del };
	const size_t nr[3] = { 1, 2, 2 };
	const enum rw_oci_class has[3] = { RW_OCI_CLASS_PULL, RW_OCI_CLASS_PUSH,
					   RW_OCI_CLASS_DELETE };
	struct rw_who w[3];
	for (int k = 0; k < 3; k++) {
		snprintf(id[k].name, RW_NAME_MAX, "id-%s", rw_oci_class_str(has[k]));
		id[k].roles = (struct rw_role *)rs[k];
		id[k].n_roles = nr[k];
		memset(&w[k], 0, sizeof(w[k]));
		w[k].identity = &id[k];
		w[k].via_vpn = true;
		snprintf(w[k].name, sizeof(w[k].name), "id-%s", rw_oci_class_str(has[k]));
	}
	assert_true(pol.opts.push_requires_vpn);
	for (int op = RW_OCI_OP_UNKNOWN + 1; op < RW_OCI_OP_MAX_; op++) {
		const struct rw_oci_op_info *info = rw_oci_op_info((enum rw_oci_op)op);
		const char *m = sample[op][0], *t = sample[op][1];
		assert_non_null(m); /* every operation has a sample */
		for (int k = 0; k < 3; k++) {
			enum rw_verdict v = decide(&w[k], m, t);
			assert_int_equal(REQ.op, op);
			assert_int_equal(REQ.cls, info->cls);
			bool want = info->cls == RW_OCI_CLASS_PULL || info->cls == RW_OCI_CLASS_ADMIN ||
				    info->cls == has[k];
			if ((v == RW_VERDICT_ALLOW) != want)
				fail_msg("%s (class %s) by %s: %s, want %s", info->name,
					 rw_oci_class_str(info->cls), w[k].name, D.reason,
					 want ? "allow" : "deny");
			if (want) {
				assert_int_equal(D.counts_push_op, info->push_op);
				assert_int_equal(D.meters_upload, info->meters_upload);
				continue;
			}
			assert_string_equal(D.reason, "no_role");
			/* the refusal names the right of the class */
			const char *verb = info->cls == RW_OCI_CLASS_PUSH ? "may not push to"
									  : "may not delete in";
			if (!strstr(D.message, verb))
				fail_msg("%s by %s: \"%s\", want \"%s\"", info->name, w[k].name,
					 D.message, verb);
		}
		/* the VPN rule follows the class too: every push and delete op */
		if (info->cls == RW_OCI_CLASS_PUSH || info->cls == RW_OCI_CLASS_DELETE) {
			struct rw_who out = w[info->cls == RW_OCI_CLASS_PUSH ? 1 : 2];
			out.via_vpn = false;
			refuse(&out, m, t, 403, "push_requires_vpn");
		}
	}
	/* a push-only identity cancels its own upload, and deletes nothing */
	allow(&w[1], "DELETE", "/v2/team/app/blobs/uploads/u-1");
	assert_true(D.counts_push_op);
	refuse(&w[1], "DELETE", "/v2/team/app/manifests/" DIG, 403, "no_role");
	refuse(&w[2], "DELETE", "/v2/team/app/blobs/uploads/u-1", 403, "no_role");
}

/* rw_decide_explain: same verdict as rw_decide, and which credential gave
 * each right; rw_decide_source: the workers' second line. */
static void explain(const struct rw_who *w, const char *m, const char *t, enum rw_verdict want,
		    const char *l0, const char *l1)
{
	static struct rw_oci_req req;
	struct rw_decision d1, d2;
	struct rw_decide_trace tr;
	assert_int_equal(rw_oci_classify(m, strlen(m), t, strlen(t), &req), 0);
	assert_int_equal(rw_decide_explain(&pol, w, &req, &d2, &tr), want);
	assert_int_equal(rw_decide(&pol, w, &req, &d1), want);
	assert_string_equal(d1.reason, d2.reason);
	assert_int_equal(d1.status, d2.status);
	if (l0) {
		assert_true(tr.n_lines >= 1);
		assert_string_equal(tr.lines[0], l0);
	}
	if (l1) {
		assert_true(tr.n_lines >= 2);
		assert_string_equal(tr.lines[1], l1);
	}
}

static bool count_ask(void *arg)
{
	++*(int *)arg;
	return true;
}

static void test_explain(void **state)
{
	(void)state;
	struct rw_who w;
	who("203.0.113.7", false, &ids[0], &w); /* ci-bot in the office */
	explain(&w, "GET", "/v2/team-q/app/manifests/v1", RW_VERDICT_ALLOW,
		"pull on team-q/app: network office", NULL);
	explain(&w, "POST", "/v2/team-a/app/blobs/uploads/", RW_VERDICT_DENY,
		"pull on team-a/app: network office",
		"push on team-a/app: identity ci-bot role push:team-a/*");
	explain(&w, "DELETE", "/v2/team-a/app/manifests/v1", RW_VERDICT_DENY,
		"delete on team-a/app: missing (no such role)", "VPN: required, not via the VPN");
	who("192.0.2.2", true, NULL, &w); /* alice through the tunnel */
	explain(&w, "PUT", "/v2/x/manifests/v1", RW_VERDICT_ALLOW,
		"pull on x: peer alice role pull:*", "push on x: peer alice role push:*");
	who("198.51.100.1", false, &ids[1], &w); /* reader outside */
	explain(&w, "GET", "/v2/_catalog", RW_VERDICT_DENY,
		"pull on everything: missing (no such role)", NULL);

	/* the second line */
	struct rw_listener l = { .name = "https" };
	size_t allow[] = { 1, 0 };
	l.allow_nets = allow;
	l.n_allow_nets = 2;
	uint8_t a[16] = { 0 };
	const char *net;
	assert_int_equal(inet_pton(AF_INET, "203.0.113.7", a), 1);
	assert_true(rw_decide_source(&pol, &l, AF_INET, a, false, &net));
	assert_string_equal(net, "office");
	assert_int_equal(inet_pton(AF_INET, "192.0.2.2", a), 1);
	assert_false(rw_decide_source(&pol, &l, AF_INET, a, true, &net)); /* no allow vpn */
	assert_null(net);
	l.allow_vpn = true;
	assert_true(rw_decide_source(&pol, &l, AF_INET, a, true, &net));
	assert_string_equal(net, "vpn");
	assert_false(rw_decide_source(&pol, &l, AF_INET, a, false, &net)); /* not via wg */

	/* the workers' form: the interface is asked only for a peer's
	 * address outside the allowing networks */
	int asked = 0;
	assert_int_equal(inet_pton(AF_INET, "203.0.113.7", a), 1);
	assert_true(rw_decide_source_fn(&pol, &l, AF_INET, a, count_ask, &asked, &net));
	assert_int_equal(asked, 0);
	assert_int_equal(inet_pton(AF_INET, "198.51.100.9", a), 1); /* nobody's */
	assert_false(rw_decide_source_fn(&pol, &l, AF_INET, a, count_ask, &asked, &net));
	assert_int_equal(asked, 0);
	assert_int_equal(inet_pton(AF_INET, "192.0.2.3", a), 1); /* bob */
	assert_true(rw_decide_source_fn(&pol, &l, AF_INET, a, count_ask, &asked, &net));
	assert_int_equal(asked, 1);
	assert_string_equal(net, "vpn");
	assert_int_equal(inet_pton(AF_INET6, "2001:db8:1::5", a), 1); /* office, v6 */
	assert_true(rw_decide_source_fn(&pol, &l, AF_INET6, a, NULL, NULL, &net));
	assert_string_equal(net, "office");

	/* binary search over a large network agrees with a linear scan */
	enum { NBIG = 4096 };
	static struct rw_cidr big[NBIG + 1];
	for (int i = 0; i < NBIG; i++) { /* 10.x.y.0/24, every other /24 */
		char txt[32];
		snprintf(txt, sizeof(txt), "10.%d.%d.0/24", (2 * i) >> 8, (2 * i) & 255);
		cidr(&big[i], txt);
	}
	cidr(&big[NBIG], "2001:db8:9::/48");
	struct rw_network bn = { .name = "big", .cidrs = big, .n_cidrs = NBIG + 1 };
	for (int i = 0; i < 2 * NBIG + 8; i += 3) {
		uint8_t x[16] = { 10, (uint8_t)(i >> 8), (uint8_t)(i & 255), (uint8_t)i };
		bool lin = false;
		for (int j = 0; j <= NBIG; j++)
			lin |= big[j].family == AF_INET && rw_cidr_contains(&big[j], AF_INET, x);
		assert_int_equal(rw_decide_net_has(&bn, AF_INET, x), lin);
	}
	assert_int_equal(inet_pton(AF_INET6, "2001:db8:9::1", a), 1);
	assert_true(rw_decide_net_has(&bn, AF_INET6, a));
	assert_int_equal(inet_pton(AF_INET6, "2001:db8:8::1", a), 1);
	assert_false(rw_decide_net_has(&bn, AF_INET6, a));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_resolve),
		cmocka_unit_test(test_network_client),
		cmocka_unit_test(test_pull_needs_role),
		cmocka_unit_test(test_anonymous_and_unknown),
		cmocka_unit_test(test_vpn_peer),
		cmocka_unit_test(test_cert_identity),
		cmocka_unit_test(test_mount),
		cmocka_unit_test(test_real_requests),
		cmocka_unit_test(test_explain),
		cmocka_unit_test(test_op_table),
	};
	return cmocka_run_group_tests(tests, setup, NULL);
}
