/* libFuzzer harness: OCI classifier on arbitrary "METHOD TARGET" inputs
 * (split at the first space; seeds are request lines of real captures).
 *
 * Invariants (abort on violation):
 *  - deterministic and independent of what *out held before: a call into
 *    a zeroed struct and one into a struct full of junk give the same
 *    result, field by field (the classifier writes each string's NUL but
 *    does not clear the bytes after it, so memcmp over the struct would
 *    compare junk); every string is NUL-terminated inside its buffer;
 *  - op and class agree (cls == rw_oci_op_class(op)); UNKNOWN leaves every
 *    field empty and gives a reason;
 *  - a classified repository matches the spec's name regex (checked with
 *    POSIX regex, independent of the hand-written scanner), and the target
 *    starts with "/v2/" + repo + "/";
 *  - a classified path has no '%', '\\', ';', '#', "//", dot segments;
 *  - digests and from-repos that come out pass the grammar.
 */
#include <regex.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "inspect/rw_oci.h"

#define CHECK(x) \
	do { \
		if (!(x)) \
			abort(); \
	} while (0)

static regex_t name_re, digest_re, tag_re;

static void init_re(void)
{
	static int done;
	if (done)
		return;
	CHECK(regcomp(&name_re,
		      "^[a-z0-9]+((\\.|_|__|-+)[a-z0-9]+)*(/[a-z0-9]+((\\.|_|__|-+)[a-z0-9]+)*)*$",
		      REG_EXTENDED | REG_NOSUB) == 0);
	CHECK(regcomp(&digest_re, "^[a-z0-9]+([+._-][a-z0-9]+)*:[a-zA-Z0-9=_-]+$",
		      REG_EXTENDED | REG_NOSUB) == 0);
	CHECK(regcomp(&tag_re, "^[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}$", REG_EXTENDED | REG_NOSUB) ==
	      0);
	done = 1;
}

static bool matches(regex_t *re, const char *s)
{
	return regexec(re, s, 0, NULL, 0) == 0;
}

static bool contains(const char *hay, size_t len, const char *needle)
{
	return memmem(hay, len, needle, strlen(needle)) != NULL;
}

/* Each string field is terminated inside its buffer. */
#define TERMINATED(f) (memchr((f), '\0', sizeof(f)) != NULL)

static void check_same(const struct rw_oci_req *a, const struct rw_oci_req *b)
{
	CHECK(TERMINATED(a->repo) && TERMINATED(a->reference) && TERMINATED(a->digest));
	CHECK(TERMINATED(a->from) && TERMINATED(a->upload_id) && TERMINATED(a->last));
	CHECK(TERMINATED(a->artifact_type));
	CHECK(a->n_tags <= RW_OCI_MAX_TAGS);
	for (unsigned i = 0; i < a->n_tags; i++)
		CHECK(TERMINATED(a->tags[i]));
	CHECK(a->op == b->op && a->cls == b->cls && a->why == b->why);
	CHECK(strcmp(a->repo, b->repo) == 0 && strcmp(a->reference, b->reference) == 0);
	CHECK(a->reference_is_digest == b->reference_is_digest);
	CHECK(strcmp(a->digest, b->digest) == 0 && strcmp(a->from, b->from) == 0);
	CHECK(strcmp(a->upload_id, b->upload_id) == 0);
	CHECK(a->n_tags == b->n_tags);
	for (unsigned i = 0; i < a->n_tags; i++)
		CHECK(strcmp(a->tags[i], b->tags[i]) == 0);
	CHECK(a->has_n == b->has_n && a->n == b->n);
	CHECK(strcmp(a->last, b->last) == 0 && strcmp(a->artifact_type, b->artifact_type) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct rw_oci_req a, b;
	init_re();
	const uint8_t *sp = memchr(data, ' ', size);
	size_t mlen = sp ? (size_t)(sp - data) : 0;
	const char *method = (const char *)data;
	const char *target = (const char *)data + (sp ? mlen + 1 : 0);
	size_t tlen = size - (sp ? mlen + 1 : 0);

	memset(&a, 0, sizeof(a));
	memset(&b, 0xa5, sizeof(b)); /* junk, incl. no NUL anywhere */
	CHECK(rw_oci_classify(method, mlen, target, tlen, &a) == 0);
	CHECK(rw_oci_classify(method, mlen, target, tlen, &b) == 0);
	check_same(&a, &b);
	check_same(&b, &a);
	CHECK(a.cls == rw_oci_op_class(a.op));

	if (a.op == RW_OCI_OP_UNKNOWN) {
		CHECK(a.cls == RW_OCI_CLASS_UNKNOWN && a.why != NULL);
		CHECK(a.repo[0] == '\0' && a.reference[0] == '\0' && a.digest[0] == '\0');
		CHECK(a.from[0] == '\0' && a.upload_id[0] == '\0' && a.last[0] == '\0');
		CHECK(a.artifact_type[0] == '\0' && a.n_tags == 0 && !a.has_n && a.n == 0);
		CHECK(!a.reference_is_digest);
		return 0;
	}
	CHECK(a.why == NULL);
	const char *q = memchr(target, '?', tlen);
	size_t plen = q ? (size_t)(q - target) : tlen;
	CHECK(plen >= 4 && memcmp(target, "/v2/", 4) == 0);
	CHECK(!memchr(target, '%', plen) && !memchr(target, '\\', plen));
	CHECK(!memchr(target, ';', plen) && !memchr(target, '#', plen));
	CHECK(!contains(target, plen, "//") && !contains(target, plen, "/./") &&
	      !contains(target, plen, "/../"));
	CHECK(!(plen >= 2 && memcmp(target + plen - 2, "/.", 2) == 0));
	CHECK(!(plen >= 3 && memcmp(target + plen - 3, "/..", 3) == 0));

	if (a.op == RW_OCI_OP_BASE || a.op == RW_OCI_OP_CATALOG) {
		CHECK(a.repo[0] == '\0');
	} else {
		size_t rlen = strlen(a.repo);
		CHECK(rlen > 0 && rlen <= RW_OCI_NAME_MAX);
		CHECK(matches(&name_re, a.repo));
		CHECK(plen > 4 + rlen && memcmp(target + 4, a.repo, rlen) == 0 &&
		      target[4 + rlen] == '/');
	}
	if (a.reference[0]) {
		if (a.reference_is_digest)
			CHECK(matches(&digest_re, a.reference));
		else
			CHECK(matches(&tag_re, a.reference));
	}
	if (a.digest[0])
		CHECK(matches(&digest_re, a.digest));
	if (a.op == RW_OCI_OP_UPLOAD_MOUNT)
		CHECK(a.from[0] && matches(&name_re, a.from) && a.digest[0]);
	else
		CHECK(a.from[0] == '\0');
	if (a.op == RW_OCI_OP_UPLOAD_COMPLETE)
		CHECK(a.digest[0] && a.upload_id[0]);
	for (unsigned i = 0; i < a.n_tags; i++)
		CHECK(matches(&tag_re, a.tags[i]));
	return 0;
}
