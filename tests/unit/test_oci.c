/* rw_oci_classify: every row of the endpoint table (reference §2), every
 * non-canonical form that must stay unknown, query rules, and the grammar,
 * cross-checked against the spec's own regular expression. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <regex.h>
#include <stdio.h>
#include <string.h>

#include "base/rw_err.h"
#include "inspect/rw_oci.h"

#define D256 "sha256:2e8b65dfcabb17cb017db093241230ff894544cf0b931eb59766ce8c4c65e273"
#define D256B "sha256:d8a7396bd19a2efb89043cc53789a46e7e3d3d44f3db51e645bca930842f7940"

static struct rw_oci_req out;

static void classify(const char *m, const char *t)
{
	assert_int_equal(rw_oci_classify(m, strlen(m), t, strlen(t), &out), 0);
}

struct row {
	const char *method, *target;
	enum rw_oci_op op;
	enum rw_oci_class cls;
	const char *repo, *reference;
};

static const struct row rows[] = {
	{ "GET", "/v2/", RW_OCI_OP_BASE, RW_OCI_CLASS_PULL, "", "" },
	{ "GET", "/v2/_catalog", RW_OCI_OP_CATALOG, RW_OCI_CLASS_ADMIN, "", "" },
	{ "GET", "/v2/_catalog?n=10&last=team/app", RW_OCI_OP_CATALOG, RW_OCI_CLASS_ADMIN, "", "" },
	{ "GET", "/v2/team/app/tags/list", RW_OCI_OP_TAGS_LIST, RW_OCI_CLASS_PULL, "team/app", "" },
	{ "GET", "/v2/team/app/tags/list?n=2&last=v0", RW_OCI_OP_TAGS_LIST, RW_OCI_CLASS_PULL, "team/app", "" },
	{ "GET", "/v2/team/app/manifests/v1", RW_OCI_OP_MANIFEST_GET, RW_OCI_CLASS_PULL, "team/app", "v1" },
	{ "GET", "/v2/team/app/manifests/" D256, RW_OCI_OP_MANIFEST_GET, RW_OCI_CLASS_PULL, "team/app", D256 },
	{ "HEAD", "/v2/team/app/manifests/v1", RW_OCI_OP_MANIFEST_HEAD, RW_OCI_CLASS_PULL, "team/app", "v1" },
	{ "PUT", "/v2/team/app/manifests/v1", RW_OCI_OP_MANIFEST_PUT, RW_OCI_CLASS_PUSH, "team/app", "v1" },
	{ "PUT", "/v2/team/app/manifests/" D256 "?tag=v1&tag=latest", RW_OCI_OP_MANIFEST_PUT, RW_OCI_CLASS_PUSH, "team/app", D256 },
	{ "DELETE", "/v2/team/app/manifests/" D256, RW_OCI_OP_MANIFEST_DELETE, RW_OCI_CLASS_DELETE, "team/app", D256 },
	{ "DELETE", "/v2/team/app/manifests/v1", RW_OCI_OP_MANIFEST_DELETE, RW_OCI_CLASS_DELETE, "team/app", "v1" },
	{ "GET", "/v2/team/app/blobs/" D256, RW_OCI_OP_BLOB_GET, RW_OCI_CLASS_PULL, "team/app", D256 },
	{ "HEAD", "/v2/team/app/blobs/" D256, RW_OCI_OP_BLOB_HEAD, RW_OCI_CLASS_PULL, "team/app", D256 },
	{ "DELETE", "/v2/team/app/blobs/" D256, RW_OCI_OP_BLOB_DELETE, RW_OCI_CLASS_DELETE, "team/app", D256 },
	{ "POST", "/v2/team/app/blobs/uploads/", RW_OCI_OP_UPLOAD_START, RW_OCI_CLASS_PUSH, "team/app", "" },
	{ "POST", "/v2/team/app/blobs/uploads/?digest=" D256, RW_OCI_OP_UPLOAD_START, RW_OCI_CLASS_PUSH, "team/app", "" },
	{ "POST", "/v2/team/app/blobs/uploads/?mount=" D256 "&from=team/base", RW_OCI_OP_UPLOAD_MOUNT, RW_OCI_CLASS_PUSH, "team/app", "" },
	{ "PATCH", "/v2/team/app/blobs/uploads/4ee064e7-ea19-421a-9383-0bfb0820248f", RW_OCI_OP_UPLOAD_CHUNK, RW_OCI_CLASS_PUSH, "team/app", "" },
	{ "PUT", "/v2/team/app/blobs/uploads/4ee064e7-ea19-421a-9383-0bfb0820248f?digest=" D256, RW_OCI_OP_UPLOAD_COMPLETE, RW_OCI_CLASS_PUSH, "team/app", "" },
	{ "GET", "/v2/team/app/blobs/uploads/4ee064e7-ea19-421a-9383-0bfb0820248f", RW_OCI_OP_UPLOAD_STATUS, RW_OCI_CLASS_PUSH, "team/app", "" },
	{ "DELETE", "/v2/team/app/blobs/uploads/4ee064e7-ea19-421a-9383-0bfb0820248f", RW_OCI_OP_UPLOAD_CANCEL, RW_OCI_CLASS_PUSH, "team/app", "" },
	{ "GET", "/v2/team/app/referrers/" D256, RW_OCI_OP_REFERRERS, RW_OCI_CLASS_PULL, "team/app", D256 },
	{ "GET", "/v2/team/app/referrers/" D256 "?artifactType=application/vnd.example.sbom%2Bjson", RW_OCI_OP_REFERRERS, RW_OCI_CLASS_PULL, "team/app", D256 },
	/* names containing endpoint words: the endpoint is anchored at the end */
	{ "GET", "/v2/a/manifests/b/manifests/c", RW_OCI_OP_MANIFEST_GET, RW_OCI_CLASS_PULL, "a/manifests/b", "c" },
	{ "HEAD", "/v2/team/manifests/blobs/blobs/" D256, RW_OCI_OP_BLOB_HEAD, RW_OCI_CLASS_PULL, "team/manifests/blobs", D256 },
	{ "POST", "/v2/blobs/uploads/blobs/uploads/", RW_OCI_OP_UPLOAD_START, RW_OCI_CLASS_PUSH, "blobs/uploads", "" },
	{ "PATCH", "/v2/tags/list/blobs/uploads/x", RW_OCI_OP_UPLOAD_CHUNK, RW_OCI_CLASS_PUSH, "tags/list", "" },
	{ "GET", "/v2/uploads/tags/list", RW_OCI_OP_TAGS_LIST, RW_OCI_CLASS_PULL, "uploads", "" },
	{ "GET", "/v2/referrers/manifests/latest", RW_OCI_OP_MANIFEST_GET, RW_OCI_CLASS_PULL, "referrers", "latest" },
	/* name grammar corners */
	{ "GET", "/v2/a__b/c-----d/e.f_g/manifests/_Tag.1-x", RW_OCI_OP_MANIFEST_GET, RW_OCI_CLASS_PULL, "a__b/c-----d/e.f_g", "_Tag.1-x" },
	{ "GET", "/v2/0/manifests/0", RW_OCI_OP_MANIFEST_GET, RW_OCI_CLASS_PULL, "0", "0" },
};

static void test_endpoint_table(void **state)
{
	(void)state;
	bool seen_op[RW_OCI_OP_MAX_] = { false };
	bool seen_cls[RW_OCI_CLASS_MAX_] = { false };
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		const struct row *r = &rows[i];
		classify(r->method, r->target);
		if (out.op != r->op || out.cls != r->cls)
			fail_msg("%s %s: got %s/%s (%s), want %s/%s", r->method, r->target,
				 rw_oci_op_str(out.op), rw_oci_class_str(out.cls),
				 out.why ? out.why : "-", rw_oci_op_str(r->op),
				 rw_oci_class_str(r->cls));
		assert_string_equal(out.repo, r->repo);
		assert_string_equal(out.reference, r->reference);
		assert_null(out.why);
		seen_op[r->op] = true;
		seen_cls[r->cls] = true;
	}
	/* every op and every known class is covered by some row */
	for (int op = RW_OCI_OP_BASE; op < RW_OCI_OP_MAX_; op++)
		if (!seen_op[op])
			fail_msg("op %s not covered", rw_oci_op_str((enum rw_oci_op)op));
	for (int c = RW_OCI_CLASS_PULL; c < RW_OCI_CLASS_MAX_; c++)
		assert_true(seen_cls[c]);
}

static void test_details(void **state)
{
	(void)state;
	classify("POST", "/v2/team/app/blobs/uploads/?mount=" D256 "&from=team/base");
	assert_string_equal(out.digest, D256);
	assert_string_equal(out.from, "team/base");
	/* skopeo's encoding of the same (Go url.Values: sorted, escaped) */
	classify("POST", "/v2/team/app/blobs/uploads/?from=team%2Fbase&mount=sha256%3A"
			 "2e8b65dfcabb17cb017db093241230ff894544cf0b931eb59766ce8c4c65e273");
	assert_int_equal(out.op, RW_OCI_OP_UPLOAD_MOUNT);
	assert_string_equal(out.digest, D256);
	assert_string_equal(out.from, "team/base");
	classify("POST", "/v2/team/app/blobs/uploads/?digest=" D256);
	assert_string_equal(out.digest, D256);
	assert_string_equal(out.from, "");
	classify("PUT", "/v2/team/app/blobs/uploads/u-1?_state=abc_-%3D%3D&digest=" D256B);
	assert_int_equal(out.op, RW_OCI_OP_UPLOAD_COMPLETE);
	assert_string_equal(out.upload_id, "u-1");
	assert_string_equal(out.digest, D256B);
	classify("PUT", "/v2/team/app/manifests/" D256 "?tag=v1&tag=latest");
	assert_int_equal(out.n_tags, 2);
	assert_string_equal(out.tags[0], "v1");
	assert_string_equal(out.tags[1], "latest");
	assert_true(out.reference_is_digest);
	classify("GET", "/v2/team/app/tags/list?n=0&last=v0");
	assert_true(out.has_n);
	assert_int_equal(out.n, 0);
	assert_string_equal(out.last, "v0");
	classify("GET", "/v2/team/app/referrers/" D256 "?artifactType=application%2Fvnd.example");
	assert_string_equal(out.artifact_type, "application/vnd.example");
	classify("GET", "/v2/team/app/manifests/v1");
	assert_false(out.reference_is_digest);
	/* the parsed-head entry point gives the same */
	struct rw_http_req req;
	const char *h = "HEAD /v2/a/b/blobs/" D256 " HTTP/1.1\r\nHost: r\r\n\r\n";
	assert_int_equal(rw_http_parse_head((const uint8_t *)h, strlen(h), &req), RW_INSPECT_OK);
	assert_int_equal(rw_oci_classify_http(&req, &out), 0);
	assert_int_equal(out.op, RW_OCI_OP_BLOB_HEAD);
	assert_string_equal(out.repo, "a/b");
	assert_int_equal(rw_oci_classify(NULL, 0, "/v2/", 4, &out), RW_EINVAL);
	assert_int_equal(out.op, RW_OCI_OP_UNKNOWN);
	assert_int_equal(rw_oci_classify("GET", 3, "/v2/", 4, NULL), RW_EINVAL);
}

struct unk {
	const char *method, *target;
};

static const struct unk unknowns[] = {
	/* non-canonical paths */
	{ "GET", "/v2//team/app/manifests/v1" },
	{ "GET", "/v2/team//app/manifests/v1" },
	{ "GET", "/v2/team/app/manifests//v1" },
	{ "GET", "/v2/team/./app/manifests/v1" },
	{ "GET", "/v2/team/../app/manifests/v1" },
	{ "GET", "/v2/./team/manifests/v1" },
	{ "GET", "/v2/../v2/team/manifests/v1" },
	{ "GET", "/v2/team/app/manifests/v1/." },
	{ "GET", "/v2/team/app/manifests/v1/.." },
	{ "GET", "/v2/team/app/manifests/." },
	{ "GET", "/v2/team/app/manifests/.." },
	{ "GET", "/v2/team/app/manifests/v1/" },
	{ "GET", "/v2/team%2Fapp/manifests/v1" },
	{ "GET", "/v2/team/app/manifests/v%31" },
	{ "GET", "/v2/te%61m/app/manifests/v1" },
	{ "GET", "/v2%2Fteam/app/manifests/v1" },
	{ "GET", "/v2/team\\app/manifests/v1" },
	{ "GET", "/v2/team/app/manifests/v1;x=y" },
	{ "GET", "/v2/team;/app/manifests/v1" },
	{ "GET", "/v2/team/app/manifests/v1#frag" },
	{ "GET", "/v2/Team/app/manifests/v1" },
	{ "GET", "/V2/team/app/manifests/v1" },
	{ "GET", "/v2" },
	{ "GET", "/v2//" },
	{ "GET", "//v2/" },
	{ "GET", "/" },
	{ "GET", "" },
	{ "GET", "v2/" },
	{ "GET", "/v1/team/manifests/v1" },
	{ "GET", "/v2/_catalog/" },
	{ "GET", "/v2/_CATALOG" },
	{ "GET", "/v2/team/app" },
	{ "GET", "/v2/team/app/" },
	{ "GET", "/v2/manifests/v1" },
	{ "GET", "/v2/blobs/" D256 },
	{ "GET", "/v2/team/app/tags/list/" },
	{ "GET", "/v2/team/app/tags/lis" },
	{ "GET", "/v2/team/app/uploads/x" },
	{ "PATCH", "/v2/team/app/blobs/uploads" },
	{ "POST", "/v2/team/app/blobs/uploads" },
	/* bad names */
	{ "GET", "/v2/-team/manifests/v1" },
	{ "GET", "/v2/team-/manifests/v1" },
	{ "GET", "/v2/te___am/manifests/v1" },
	{ "GET", "/v2/te..am/manifests/v1" },
	{ "GET", "/v2/te.-am/manifests/v1" },
	{ "GET", "/v2/_team/manifests/v1" },
	{ "GET", "/v2/team:5000/manifests/v1" },
	{ "GET", "/v2/te+am/manifests/v1" },
	/* bad references and digests */
	{ "GET", "/v2/team/manifests/-v1" },
	{ "GET", "/v2/team/manifests/.v1" },
	{ "GET", "/v2/team/manifests/sha256:abc" },
	{ "GET", "/v2/team/manifests/sha256:2E8B65DFCABB17CB017DB093241230FF894544CF0B931EB59766CE8C4C65E273" },
	{ "GET", "/v2/team/manifests/SHA256:2e8b65dfcabb17cb017db093241230ff894544cf0b931eb59766ce8c4c65e273" },
	{ "GET", "/v2/team/manifests/sha256:" },
	{ "GET", "/v2/team/manifests/:abc" },
	{ "GET", "/v2/team/manifests/sha512:abc" },
	{ "GET", "/v2/team/manifests/sha256++x:abc" },
	{ "GET", "/v2/team/blobs/v1" },
	{ "GET", "/v2/team/referrers/v1" },
	{ "GET", "/v2/team/blobs/uploads/a:b" },
	/* methods not in the table */
	{ "HEAD", "/v2/" },
	{ "POST", "/v2/" },
	{ "HEAD", "/v2/_catalog" },
	{ "DELETE", "/v2/_catalog" },
	{ "HEAD", "/v2/team/tags/list" },
	{ "POST", "/v2/team/manifests/v1" },
	{ "PATCH", "/v2/team/manifests/v1" },
	{ "PUT", "/v2/team/blobs/" D256 },
	{ "POST", "/v2/team/blobs/" D256 },
	{ "HEAD", "/v2/team/blobs/uploads/u" },
	{ "POST", "/v2/team/blobs/uploads/u" },
	{ "PUT", "/v2/team/blobs/uploads/" },
	{ "PATCH", "/v2/team/blobs/uploads/" },
	{ "GET", "/v2/team/blobs/uploads/" },
	{ "DELETE", "/v2/team/blobs/uploads/" },
	{ "HEAD", "/v2/team/referrers/" D256 },
	{ "get", "/v2/" },
	{ "OPTIONS", "/v2/" },
	/* queries */
	{ "GET", "/v2/?" },
	{ "GET", "/v2/?x=1" },
	{ "GET", "/v2/team/manifests/v1?" },
	{ "GET", "/v2/team/manifests/v1?tag=v2" },
	{ "GET", "/v2/team/manifests/v1?digest=" D256 },
	{ "GET", "/v2/team/tags/list?n=1&n=2" },
	{ "GET", "/v2/team/tags/list?n=-1" },
	{ "GET", "/v2/team/tags/list?n=" },
	{ "GET", "/v2/team/tags/list?n=1x" },
	{ "GET", "/v2/team/tags/list?n=2147483648" },
	{ "GET", "/v2/team/tags/list?n" },
	{ "GET", "/v2/team/tags/list?n=1&" },
	{ "GET", "/v2/team/tags/list?&n=1" },
	{ "GET", "/v2/team/tags/list?n=1&&last=a" },
	{ "GET", "/v2/team/tags/list?N=1" },
	{ "GET", "/v2/team/tags/list?last=-x" },
	{ "GET", "/v2/team/tags/list?n=1%" },
	{ "GET", "/v2/team/tags/list?n=%zz" },
	{ "GET", "/v2/team/tags/list?n=1+" },
	{ "GET", "/v2/_catalog?last=Team" },
	{ "GET", "/v2/_catalog?n=1&last=a&x=" },
	{ "POST", "/v2/team/blobs/uploads/?mount=" D256 },
	{ "POST", "/v2/team/blobs/uploads/?from=team/base" },
	{ "POST", "/v2/team/blobs/uploads/?mount=" D256 "&from=team/base&digest=" D256 },
	{ "POST", "/v2/team/blobs/uploads/?mount=" D256 "&from=Team" },
	{ "POST", "/v2/team/blobs/uploads/?mount=sha256:1&from=team/base" },
	{ "POST", "/v2/team/blobs/uploads/?digest=" D256 "&digest=" D256 },
	{ "POST", "/v2/team/blobs/uploads/?digest=sha256%3Azz" },
	{ "POST", "/v2/team/blobs/uploads/?digest=" D256 "%00" },
	{ "POST", "/v2/team/blobs/uploads/?_state=abc" },
	{ "PUT", "/v2/team/blobs/uploads/u" },
	{ "PUT", "/v2/team/blobs/uploads/u?_state=abc" },
	{ "PUT", "/v2/team/blobs/uploads/u?_state=a%2Fb&digest=" D256 },
	{ "PATCH", "/v2/team/blobs/uploads/u?digest=" D256 },
	{ "PATCH", "/v2/team/blobs/uploads/u?_state=a&_state=a" },
	{ "PUT", "/v2/team/manifests/v1?tag=-bad" },
	{ "PUT", "/v2/team/manifests/v1?tag=a&tag=b&tag=c&tag=d&tag=e&tag=f&tag=g&tag=h&tag=i&tag=j"
		 "&tag=k&tag=l&tag=m&tag=n&tag=o&tag=p&tag=q" },
	{ "GET", "/v2/team/referrers/" D256 "?artifactType=nope" },
	{ "GET", "/v2/team/referrers/" D256 "?artifactType=a/b;x=y" },
	{ "GET", "/v2/team/referrers/" D256 "?artifactType=a/b&artifactType=a/b" },
};

static void test_unknowns(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(unknowns) / sizeof(unknowns[0]); i++) {
		classify(unknowns[i].method, unknowns[i].target);
		if (out.op != RW_OCI_OP_UNKNOWN || out.cls != RW_OCI_CLASS_UNKNOWN)
			fail_msg("%s %s: classified as %s/%s repo '%s'", unknowns[i].method,
				 unknowns[i].target, rw_oci_op_str(out.op),
				 rw_oci_class_str(out.cls), out.repo);
		assert_non_null(out.why);
		assert_string_equal(out.repo, ""); /* nothing half-filled */
		assert_string_equal(out.digest, "");
	}
}

static void test_name_length(void **state)
{
	(void)state;
	char name[300], target[400];
	/* 255 bytes: "a/" * 127 + "a" */
	size_t n = 0;
	while (n + 2 < 255) {
		name[n++] = 'a';
		name[n++] = '/';
	}
	name[n++] = 'a';
	name[n] = '\0';
	assert_int_equal(strlen(name), 255);
	snprintf(target, sizeof(target), "/v2/%s/manifests/v1", name);
	classify("GET", target);
	assert_int_equal(out.op, RW_OCI_OP_MANIFEST_GET);
	assert_string_equal(out.repo, name);
	snprintf(target, sizeof(target), "/v2/%sb/manifests/v1", name);
	classify("GET", target);
	assert_int_equal(out.op, RW_OCI_OP_UNKNOWN);
	/* 128-char tag ok, 129 not */
	char tag[140];
	memset(tag, 't', 128);
	tag[128] = '\0';
	snprintf(target, sizeof(target), "/v2/a/manifests/%s", tag);
	classify("GET", target);
	assert_int_equal(out.op, RW_OCI_OP_MANIFEST_GET);
	snprintf(target, sizeof(target), "/v2/a/manifests/%st", tag);
	classify("GET", target);
	assert_int_equal(out.op, RW_OCI_OP_UNKNOWN);
}

/* The hand-written name scanner against the spec's regular expression, on
 * every string of up to 4 characters over the relevant alphabet. */
static void test_grammar_matches_regex(void **state)
{
	(void)state;
	regex_t re;
	assert_int_equal(regcomp(&re,
				 "^[a-z0-9]+((\\.|_|__|-+)[a-z0-9]+)*"
				 "(/[a-z0-9]+((\\.|_|__|-+)[a-z0-9]+)*)*$",
				 REG_EXTENDED | REG_NOSUB),
			 0);
	static const char alpha[] = "a0._-/A";
	const size_t k = sizeof(alpha) - 1;
	char s[8];
	size_t checked = 0, valid = 0;
	for (size_t len = 1; len <= 5; len++) {
		size_t total = 1;
		for (size_t i = 0; i < len; i++)
			total *= k;
		for (size_t x = 0; x < total; x++) {
			size_t v = x;
			for (size_t i = 0; i < len; i++) {
				s[i] = alpha[v % k];
				v /= k;
			}
			s[len] = '\0';
			bool want = regexec(&re, s, 0, NULL, 0) == 0;
			if (rw_oci_valid_name(s, len) != want)
				fail_msg("name '%s': scanner %d regex %d", s, !want, want);
			checked++;
			valid += want;
		}
	}
	regfree(&re);
	assert_true(valid > 100 && checked > valid);

	assert_true(rw_oci_valid_tag("latest", 6));
	assert_false(rw_oci_valid_tag("", 0));
	assert_false(rw_oci_valid_tag("a/b", 3));
	assert_true(rw_oci_valid_digest(D256, strlen(D256)));
	assert_true(rw_oci_valid_digest("blake3+x.y:AZaz09=_-", 20));
	assert_false(rw_oci_valid_digest("blake3+:abc", 11));
	assert_false(rw_oci_valid_digest("b\0:abc", 6));
}

/* The classifier writes each string's NUL and the scalars but does not
 * clear whole buffers: a result must not depend on what the struct held
 * before, and an UNKNOWN after a full classification leaves nothing. */
static void expect_same(const struct rw_oci_req *a, const struct rw_oci_req *b, const char *what)
{
	if (a->op != b->op || a->cls != b->cls || a->why != b->why ||
	    strcmp(a->repo, b->repo) || strcmp(a->reference, b->reference) ||
	    a->reference_is_digest != b->reference_is_digest || strcmp(a->digest, b->digest) ||
	    strcmp(a->from, b->from) || strcmp(a->upload_id, b->upload_id) ||
	    a->n_tags != b->n_tags || a->has_n != b->has_n || a->n != b->n ||
	    strcmp(a->last, b->last) || strcmp(a->artifact_type, b->artifact_type))
		fail_msg("%s: result depends on the struct's previous contents", what);
	for (unsigned i = 0; i < a->n_tags; i++)
		assert_string_equal(a->tags[i], b->tags[i]);
}

static void classify_into(struct rw_oci_req *o, int fill, const char *m, const char *t)
{
	memset(o, fill, sizeof(*o));
	assert_int_equal(rw_oci_classify(m, strlen(m), t, strlen(t), o), 0);
}

static void test_struct_reuse(void **state)
{
	(void)state;
	static struct rw_oci_req clean, junk;
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		classify_into(&clean, 0, rows[i].method, rows[i].target);
		classify_into(&junk, 0xa5, rows[i].method, rows[i].target);
		expect_same(&clean, &junk, rows[i].target);
		assert_int_equal(junk.op, rows[i].op);
	}
	for (size_t i = 0; i < sizeof(unknowns) / sizeof(unknowns[0]); i++) {
		classify_into(&clean, 0, unknowns[i].method, unknowns[i].target);
		classify_into(&junk, 0xa5, unknowns[i].method, unknowns[i].target);
		expect_same(&clean, &junk, unknowns[i].target);
	}
	/* every field set, then an unknown into the same struct: all empty */
	static const char *const full[][2] = {
		{ "POST", "/v2/team/app/blobs/uploads/?mount=" D256 "&from=team/base" },
		{ "PUT", "/v2/team/app/manifests/" D256 "?tag=v1&tag=latest" },
		{ "GET", "/v2/team/app/tags/list?n=5&last=v0" },
		{ "GET", "/v2/team/app/referrers/" D256 "?artifactType=application/x" },
		{ "PUT", "/v2/team/app/blobs/uploads/u-1?_state=abc&digest=" D256 },
	};
	/* each fails only in its last query parameter, after the others were
	 * written into the struct */
	static const char *const late_fail[][2] = {
		{ "POST", "/v2/team/app/blobs/uploads/?mount=" D256 "&from=Team" },
		{ "PUT", "/v2/team/app/manifests/" D256 "?tag=v1&tag=-x" },
		{ "GET", "/v2/team/app/tags/list?n=5&last=-v0" },
		{ "GET", "/v2/team/app/referrers/" D256 "?artifactType=x" },
		{ "PUT", "/v2/team/app/blobs/uploads/u-1?digest=" D256 "&_state=a%2Fb" },
	};
	for (size_t i = 0; i < sizeof(full) / sizeof(full[0]); i++) {
		memset(&out, 0, sizeof(out));
		classify(full[i][0], full[i][1]);
		assert_int_not_equal(out.op, RW_OCI_OP_UNKNOWN);
		classify(late_fail[i][0], late_fail[i][1]);
		assert_int_equal(out.op, RW_OCI_OP_UNKNOWN);
		assert_non_null(out.why);
		assert_string_equal(out.repo, "");
		assert_string_equal(out.reference, "");
		assert_false(out.reference_is_digest);
		assert_string_equal(out.digest, "");
		assert_string_equal(out.from, "");
		assert_string_equal(out.upload_id, "");
		assert_int_equal(out.n_tags, 0);
		assert_false(out.has_n);
		assert_int_equal(out.n, 0);
		assert_string_equal(out.last, "");
		assert_string_equal(out.artifact_type, "");
	}
}

/* _state is checked where it lies, by the same rule as before: its
 * form-decoded bytes are [A-Za-z0-9_=-]{1,4096}. */
static void test_state_values(void **state)
{
	(void)state;
	static char target[3 * RW_OCI_STATE_MAX + 200];
	static const struct {
		const char *state;
		bool ok;
	} cases[] = {
		{ "abc", true },
		{ "xR1GnCEnmwiSCAC4OJrS5gTDofMzNg-R65KBKOEepwZ7Ik5hbWUiOiJ0ZWFtL2FwcCJ9%3D%3D", true },
		{ "%41%62_-", true },  /* "Ab_-" */
		{ "%3d", true },       /* lower-case hex is an escape too */
		{ "%3D", true },
		{ "=", true },
		{ "", false },
		{ "a+b", false },      /* '+' is a space */
		{ "a%2Bb", false },    /* '+' itself is not base64url */
		{ "a%2Fb", false },
		{ "a%00", false },
		{ "a%", false },
		{ "a%3", false },
		{ "a%zz", false },
		{ "a.b", false },
		{ "a~b", false },
		{ "abcd:", false },    /* a bad byte after a run of four good ones */
		{ "abcdefgh%3D!", false },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		snprintf(target, sizeof(target), "/v2/team/app/blobs/uploads/u?_state=%s",
			 cases[i].state);
		classify("PATCH", target);
		if ((out.op == RW_OCI_OP_UPLOAD_CHUNK) != cases[i].ok)
			fail_msg("_state=%s: got %s (%s)", cases[i].state, rw_oci_op_str(out.op),
				 out.why ? out.why : "-");
	}
	/* the length limit counts decoded bytes: %3D is one */
	const char *pre = "/v2/team/app/blobs/uploads/u?_state=";
	size_t p = strlen(pre);
	memcpy(target, pre, p);
	memset(target + p, 'A', RW_OCI_STATE_MAX);
	target[p + RW_OCI_STATE_MAX] = '\0';
	classify("PATCH", target);
	assert_int_equal(out.op, RW_OCI_OP_UPLOAD_CHUNK);
	strcat(target, "A");
	classify("PATCH", target);
	assert_int_equal(out.op, RW_OCI_OP_UNKNOWN);
	for (size_t i = 0; i < RW_OCI_STATE_MAX; i++)
		memcpy(target + p + 3 * i, "%3D", 3);
	target[p + 3 * RW_OCI_STATE_MAX] = '\0';
	classify("PATCH", target);
	assert_int_equal(out.op, RW_OCI_OP_UPLOAD_CHUNK);
	strcat(target, "%3D");
	classify("PATCH", target);
	assert_int_equal(out.op, RW_OCI_OP_UNKNOWN);
}

/* Query values are decoded straight into their field: a value longer than
 * the field is refused, one that just fits is kept whole. */
static void test_query_value_lengths(void **state)
{
	(void)state;
	char target[1200], name[300], tag[200];
	/* from = a 255-byte name ("a/" * 127 + "a"), encoded with %2F */
	size_t n = 0;
	while (n + 2 < 255) {
		name[n++] = 'a';
		name[n++] = '/';
	}
	name[n++] = 'a';
	name[n] = '\0';
	int k = snprintf(target, sizeof(target), "/v2/t/blobs/uploads/?mount=%s&from=", D256);
	for (size_t i = 0; i < n; i++)
		k += snprintf(target + k, sizeof(target) - (size_t)k, "%s",
			      name[i] == '/' ? "%2F" : "a");
	classify("POST", target);
	assert_int_equal(out.op, RW_OCI_OP_UPLOAD_MOUNT);
	assert_string_equal(out.from, name);
	strcat(target, "b"); /* 256 */
	classify("POST", target);
	assert_int_equal(out.op, RW_OCI_OP_UNKNOWN);
	assert_string_equal(out.from, "");
	/* ?tag= of 128 bytes fits, 129 does not */
	memset(tag, 'v', 128);
	tag[128] = '\0';
	snprintf(target, sizeof(target), "/v2/t/manifests/v1?tag=%s", tag);
	classify("PUT", target);
	assert_int_equal(out.op, RW_OCI_OP_MANIFEST_PUT);
	assert_int_equal(out.n_tags, 1);
	assert_string_equal(out.tags[0], tag);
	snprintf(target, sizeof(target), "/v2/t/manifests/v1?tag=%sv", tag);
	classify("PUT", target);
	assert_int_equal(out.op, RW_OCI_OP_UNKNOWN);
	/* 16 tags fit; the 17th is refused even when valid */
	k = snprintf(target, sizeof(target), "/v2/t/manifests/v1?tag=t0");
	for (int i = 1; i < RW_OCI_MAX_TAGS; i++)
		k += snprintf(target + k, sizeof(target) - (size_t)k, "&tag=t%d", i);
	classify("PUT", target);
	assert_int_equal(out.n_tags, RW_OCI_MAX_TAGS);
	assert_string_equal(out.tags[15], "t15");
	strcat(target, "&tag=t16");
	classify("PUT", target);
	assert_int_equal(out.op, RW_OCI_OP_UNKNOWN);
	/* n: ten digits at most, and %3x escapes decode to digits */
	classify("GET", "/v2/t/tags/list?n=%31%30");
	assert_int_equal(out.op, RW_OCI_OP_TAGS_LIST);
	assert_int_equal(out.n, 10);
	classify("GET", "/v2/t/tags/list?n=2147483647");
	assert_int_equal(out.n, 2147483647);
	classify("GET", "/v2/t/tags/list?n=00000000001");
	assert_int_equal(out.op, RW_OCI_OP_UNKNOWN);
	/* upload ids "." and ".." are dot segments, not ids */
	classify("PATCH", "/v2/t/blobs/uploads/.");
	assert_int_equal(out.op, RW_OCI_OP_UNKNOWN);
	classify("PATCH", "/v2/t/blobs/uploads/..");
	assert_int_equal(out.op, RW_OCI_OP_UNKNOWN);
	classify("PATCH", "/v2/t/blobs/uploads/...");
	assert_int_equal(out.op, RW_OCI_OP_UPLOAD_CHUNK);
}

/* xorshift: reproducible pseudo-random strings for the grammar checks */
static uint64_t rng = 0x9e3779b97f4a7c15u;

static uint64_t next_rand(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

/* Longer strings than the exhaustive check above, against the spec's
 * regular expressions: names, tags and digests, 200 000 each, biased
 * towards valid shapes so both answers are common. */
static void test_grammar_random(void **state)
{
	(void)state;
	regex_t name_re, tag_re, digest_re;
	assert_int_equal(regcomp(&name_re,
				 "^[a-z0-9]+((\\.|_|__|-+)[a-z0-9]+)*"
				 "(/[a-z0-9]+((\\.|_|__|-+)[a-z0-9]+)*)*$",
				 REG_EXTENDED | REG_NOSUB),
			 0);
	assert_int_equal(regcomp(&tag_re, "^[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}$",
				 REG_EXTENDED | REG_NOSUB),
			 0);
	assert_int_equal(regcomp(&digest_re, "^[a-z0-9]+([+._-][a-z0-9]+)*:[a-zA-Z0-9=_-]+$",
				 REG_EXTENDED | REG_NOSUB),
			 0);
	static const char name_alpha[] = "ab09ab09._-/A ";
	static const char tag_alpha[] = "aZ9_.-:/";
	static const char dig_alpha[] = "0af9AF+._-:=x";
	char s[300];
	size_t yes[3] = { 0 }, total = 200000;
	for (size_t it = 0; it < total; it++) {
		/* names */
		size_t len = 1 + next_rand() % 40;
		for (size_t i = 0; i < len; i++)
			s[i] = name_alpha[next_rand() % (sizeof(name_alpha) - 1)];
		s[len] = '\0';
		bool want = regexec(&name_re, s, 0, NULL, 0) == 0;
		if (rw_oci_valid_name(s, len) != want)
			fail_msg("name '%s': scanner %d regex %d", s, !want, want);
		yes[0] += want;
		/* tags, up to 140 bytes (the regex has the 128 limit) */
		len = 1 + next_rand() % 140;
		for (size_t i = 0; i < len; i++)
			s[i] = tag_alpha[next_rand() % (next_rand() % 8 ? 4 : sizeof(tag_alpha) - 1)];
		s[len] = '\0';
		want = regexec(&tag_re, s, 0, NULL, 0) == 0;
		if (rw_oci_valid_tag(s, len) != want)
			fail_msg("tag '%s': scanner %d regex %d", s, !want, want);
		yes[1] += want;
		/* digests: a random algorithm, or sha256/sha512 with hex-ish
		 * encodings of about the right length */
		size_t k = 0;
		unsigned shape = next_rand() % 3;
		if (shape == 0) {
			memcpy(s, "sha256:", 7);
			k = 7;
			len = 7 + 62 + next_rand() % 5;
		} else if (shape == 1) {
			memcpy(s, "sha512:", 7);
			k = 7;
			len = 7 + 126 + next_rand() % 5;
		} else {
			len = 1 + next_rand() % 30;
		}
		for (; k < len; k++)
			s[k] = next_rand() % 16 ? "0123456789abcdef"[next_rand() % 16]
					     : dig_alpha[next_rand() % (sizeof(dig_alpha) - 1)];
		s[len] = '\0';
		want = regexec(&digest_re, s, 0, NULL, 0) == 0;
		/* the regex is the general grammar; the registered algorithms
		 * add their exact lengths and lower-case hex */
		const char *colon = strchr(s, ':');
		if (want && colon && colon - s == 6 && strncmp(s, "sha256", 6) == 0)
			want = strlen(colon + 1) == 64 && strspn(colon + 1, "0123456789abcdef") == 64;
		if (want && colon && colon - s == 6 && strncmp(s, "sha512", 6) == 0)
			want = strlen(colon + 1) == 128 && strspn(colon + 1, "0123456789abcdef") == 128;
		if (rw_oci_valid_digest(s, len) != want)
			fail_msg("digest '%s': scanner %d regex %d", s, !want, want);
		yes[2] += want;
	}
	regfree(&name_re);
	regfree(&tag_re);
	regfree(&digest_re);
	for (int i = 0; i < 3; i++)
		if (yes[i] < total / 100 || yes[i] > total - total / 100)
			fail_msg("grammar %d: %zu of %zu valid, sample not mixed", i, yes[i], total);
}

static void test_strings(void **state)
{
	(void)state;
	for (int op = 0; op < RW_OCI_OP_MAX_; op++) {
		assert_non_null(rw_oci_op_str((enum rw_oci_op)op));
		for (int j = 0; j < op; j++)
			assert_string_not_equal(rw_oci_op_str((enum rw_oci_op)op),
						rw_oci_op_str((enum rw_oci_op)j));
	}
	assert_string_equal(rw_oci_op_str(RW_OCI_OP_UPLOAD_MOUNT), "upload_mount");
	assert_string_equal(rw_oci_class_str(RW_OCI_CLASS_ADMIN), "admin");
	assert_string_equal(rw_oci_class_str(RW_OCI_CLASS_UNKNOWN), "unknown");
	assert_int_equal(rw_oci_op_class(RW_OCI_OP_UNKNOWN), RW_OCI_CLASS_UNKNOWN);
}

/* The one operation table (rw_oci_op_info), every row: name, class,
 * need, rate-limit flags; and the class always follows the need. */
static void test_op_table(void **state)
{
	(void)state;
	static const struct {
		enum rw_oci_op op;
		const char *name;
		enum rw_oci_class cls;
		enum rw_oci_need need;
		bool push_op, meters;
	} want[RW_OCI_OP_MAX_] = {
#define W(o, n, c, nd, po, m) [RW_OCI_OP_##o] = { RW_OCI_OP_##o, n, RW_OCI_CLASS_##c, RW_OCI_NEED_##nd, po, m }
		W(UNKNOWN, "unknown", UNKNOWN, NOTHING, false, false),
		W(BASE, "base", PULL, IDENTIFIED, false, false),
		W(CATALOG, "catalog", ADMIN, PULL_ALL, false, false),
		W(TAGS_LIST, "tags_list", PULL, PULL, false, false),
		W(MANIFEST_GET, "manifest_get", PULL, PULL, false, false),
		W(MANIFEST_HEAD, "manifest_head", PULL, PULL, false, false),
		W(MANIFEST_PUT, "manifest_put", PUSH, PUSH, true, true),
		W(MANIFEST_DELETE, "manifest_delete", DELETE, DELETE, true, false),
		W(BLOB_GET, "blob_get", PULL, PULL, false, false),
		W(BLOB_HEAD, "blob_head", PULL, PULL, false, false),
		W(BLOB_DELETE, "blob_delete", DELETE, DELETE, true, false),
		W(UPLOAD_START, "upload_start", PUSH, PUSH, true, true),
		W(UPLOAD_MOUNT, "upload_mount", PUSH, MOUNT, true, false),
		W(UPLOAD_CHUNK, "upload_chunk", PUSH, PUSH, true, true),
		W(UPLOAD_COMPLETE, "upload_complete", PUSH, PUSH, true, true),
		W(UPLOAD_STATUS, "upload_status", PUSH, PUSH, false, false),
		W(UPLOAD_CANCEL, "upload_cancel", PUSH, PUSH, true, false),
		W(REFERRERS, "referrers", PULL, PULL, false, false),
#undef W
	};
	static const enum rw_oci_class cls_of_need[RW_OCI_NEED_MAX_] = {
		[RW_OCI_NEED_NOTHING] = RW_OCI_CLASS_UNKNOWN,
		[RW_OCI_NEED_IDENTIFIED] = RW_OCI_CLASS_PULL,
		[RW_OCI_NEED_PULL] = RW_OCI_CLASS_PULL,
		[RW_OCI_NEED_PULL_ALL] = RW_OCI_CLASS_ADMIN,
		[RW_OCI_NEED_PUSH] = RW_OCI_CLASS_PUSH,
		[RW_OCI_NEED_MOUNT] = RW_OCI_CLASS_PUSH,
		[RW_OCI_NEED_DELETE] = RW_OCI_CLASS_DELETE,
	};
	for (int op = 0; op < RW_OCI_OP_MAX_; op++) {
		const struct rw_oci_op_info *i = rw_oci_op_info((enum rw_oci_op)op);
		assert_non_null(want[op].name); /* the expectation covers every op */
		assert_int_equal(want[op].op, op);
		assert_non_null(i->name);
		assert_string_equal(i->name, want[op].name);
		assert_string_equal(rw_oci_op_str((enum rw_oci_op)op), want[op].name);
		if (i->cls != want[op].cls || i->need != want[op].need ||
		    i->push_op != want[op].push_op || i->meters_upload != want[op].meters)
			fail_msg("op %s: class %s need %d push_op %d meters %d", i->name,
				 rw_oci_class_str(i->cls), i->need, i->push_op, i->meters_upload);
		assert_int_equal(rw_oci_op_class((enum rw_oci_op)op), i->cls);
		assert_int_equal(rw_oci_op_need((enum rw_oci_op)op), i->need);
		assert_int_equal(i->cls, cls_of_need[i->need]);
		/* only state changes spend tokens; only they carry bytes */
		if (i->push_op || i->meters_upload)
			assert_true(i->cls == RW_OCI_CLASS_PUSH || i->cls == RW_OCI_CLASS_DELETE);
		if (i->meters_upload)
			assert_true(i->push_op);
	}
	/* out of range: the unknown row */
	assert_ptr_equal(rw_oci_op_info(RW_OCI_OP_MAX_), rw_oci_op_info(RW_OCI_OP_UNKNOWN));
	assert_ptr_equal(rw_oci_op_info((enum rw_oci_op)-1), rw_oci_op_info(RW_OCI_OP_UNKNOWN));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_endpoint_table),
		cmocka_unit_test(test_details),
		cmocka_unit_test(test_unknowns),
		cmocka_unit_test(test_name_length),
		cmocka_unit_test(test_grammar_matches_regex),
		cmocka_unit_test(test_strings),
		cmocka_unit_test(test_op_table),
		cmocka_unit_test(test_struct_reuse),
		cmocka_unit_test(test_state_values),
		cmocka_unit_test(test_query_value_lengths),
		cmocka_unit_test(test_grammar_random),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
