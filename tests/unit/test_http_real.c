/* Real client bytes: what skopeo 1.9.3 and curl 7.88.1 sent to a
 * docker-registry (distribution) through a recording relay, one file per
 * TCP connection (client -> registry direction, bodies included), see
 * tests/data/http/expected.txt. Every request must frame exactly (also
 * when the stream is split at any offset) and classify as listed. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "inspect/rw_http.h"
#include "inspect/rw_oci.h"

#define MAX_REQS 8

static char datadir[512];

static uint8_t *slurp(const char *name, size_t *len)
{
	char path[1024];
	snprintf(path, sizeof(path), "%s/%s", datadir, name);
	FILE *f = fopen(path, "rb");
	if (!f)
		fail_msg("cannot open %s", path);
	uint8_t *buf = NULL;
	size_t cap = 0, n = 0;
	for (;;) {
		if (n == cap) {
			cap = cap ? cap * 2 : 4096;
			buf = realloc(buf, cap);
			assert_non_null(buf);
		}
		size_t r = fread(buf + n, 1, cap - n, f);
		if (r == 0)
			break;
		n += r;
	}
	fclose(f);
	*len = n;
	return buf;
}

struct framed {
	size_t start, head_len, body_len, payload;
	bool complete;
};

/* Frame a stream arriving in two pieces (cut); a partial last body is
 * recorded with complete = false. */
static size_t frame(const uint8_t *s, size_t len, size_t cut, struct framed *out)
{
	size_t avail = cut, pos = 0, n = 0;
	bool in_body = false;
	struct rw_http_req req;
	struct rw_http_body b;
	memset(out, 0, MAX_REQS * sizeof(*out));
	for (;;) {
		bool progress = false;
		if (!in_body && pos < avail) {
			enum rw_inspect_result v = rw_http_parse_head(s + pos, avail - pos, &req);
			if (v == RW_INSPECT_REFUSE)
				fail_msg("refused at %zu: %s", pos + req.refuse_at,
					 rw_http_refuse_str(req.refuse));
			if (v == RW_INSPECT_OK) {
				assert_true(n < MAX_REQS);
				out[n].start = pos;
				out[n].head_len = req.head_len;
				pos += req.head_len;
				rw_http_body_init(&b, &req);
				in_body = true;
				progress = true;
			}
		}
		if (in_body) {
			size_t c, p;
			enum rw_inspect_result v = rw_http_body_feed(&b, s + pos, avail - pos, &c, &p);
			assert_int_not_equal(v, RW_INSPECT_REFUSE);
			pos += c;
			out[n].body_len += c;
			out[n].payload += p;
			if (v == RW_INSPECT_OK) {
				out[n].complete = true;
				n++;
				in_body = false;
				progress = true;
			}
		}
		if (progress)
			continue;
		if (avail == len)
			break;
		avail = len;
	}
	assert_int_equal(pos, len);
	return in_body ? n + 1 : n;
}

struct expect {
	char file[64];
	unsigned idx;
	char method[16], op[32], cls[16], repo[256], ref[256];
	bool partial;
};

static size_t load_expected(struct expect *e, size_t max)
{
	size_t len, n = 0;
	uint8_t *buf = slurp("expected.txt", &len);
	char *text = malloc(len + 1);
	assert_non_null(text);
	memcpy(text, buf, len);
	text[len] = '\0';
	free(buf);
	char *save = NULL;
	for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		if (line[0] == '#' || line[0] == '\0')
			continue;
		assert_true(n < max);
		char partial[16] = "";
		int k = sscanf(line, "%63s %u %15s %31s %15s %255s %255s %15s", e[n].file, &e[n].idx,
			       e[n].method, e[n].op, e[n].cls, e[n].repo, e[n].ref, partial);
		assert_true(k == 7 || k == 8);
		e[n].partial = strcmp(partial, "partial") == 0;
		if (strcmp(e[n].repo, "-") == 0)
			e[n].repo[0] = '\0';
		if (strcmp(e[n].ref, "-") == 0)
			e[n].ref[0] = '\0';
		n++;
	}
	free(text);
	return n;
}

static struct expect exp_rows[256];
static size_t n_exp;

static int setup(void **state)
{
	(void)state;
	const char *src = getenv("RW_SRCDIR");
	snprintf(datadir, sizeof(datadir), "%s/tests/data/http", src ? src : ".");
	n_exp = load_expected(exp_rows, sizeof(exp_rows) / sizeof(exp_rows[0]));
	return 0;
}

static void check_file(const char *file)
{
	size_t len, n_rows = 0;
	const struct expect *rows[MAX_REQS];
	for (size_t i = 0; i < n_exp; i++) {
		if (strcmp(exp_rows[i].file, file) == 0) {
			assert_true(n_rows < MAX_REQS);
			assert_int_equal(exp_rows[i].idx, n_rows);
			rows[n_rows++] = &exp_rows[i];
		}
	}
	if (n_rows == 0)
		fail_msg("%s is not listed in expected.txt", file);
	uint8_t *s = slurp(file, &len);
	struct framed ref[MAX_REQS], got[MAX_REQS];
	size_t n = frame(s, len, len, ref);
	if (n != n_rows)
		fail_msg("%s: framed %zu requests, expected %zu", file, n, n_rows);
	for (size_t i = 0; i < n; i++) {
		const struct expect *e = rows[i];
		struct rw_http_req req;
		struct rw_oci_req o;
		assert_int_equal(rw_http_parse_head(s + ref[i].start, len - ref[i].start, &req),
				 RW_INSPECT_OK);
		assert_int_equal(ref[i].complete, !e->partial);
		assert_int_equal(rw_oci_classify_http(&req, &o), 0);
		if (strcmp(rw_oci_op_str(o.op), e->op) != 0 ||
		    strcmp(rw_oci_class_str(o.cls), e->cls) != 0)
			fail_msg("%s #%zu: %s/%s (%s), expected %s/%s", file, i, rw_oci_op_str(o.op),
				 rw_oci_class_str(o.cls), o.why ? o.why : "-", e->op, e->cls);
		assert_true(req.method_tok.len == strlen(e->method) &&
			    memcmp(req.method_tok.ptr, e->method, req.method_tok.len) == 0);
		assert_string_equal(o.repo, e->repo);
		const char *ref_got = o.reference;
		if (o.op == RW_OCI_OP_UPLOAD_START || o.op == RW_OCI_OP_UPLOAD_MOUNT)
			ref_got = o.digest;
		else if (o.op >= RW_OCI_OP_UPLOAD_CHUNK && o.op <= RW_OCI_OP_UPLOAD_CANCEL)
			ref_got = o.upload_id;
		assert_string_equal(ref_got, e->ref);
		if (o.op == RW_OCI_OP_UPLOAD_MOUNT)
			assert_string_not_equal(o.from, "");
		/* what the head says about the body is what the framer counted */
		if (ref[i].complete && req.framing == RW_HTTP_BODY_LENGTH)
			assert_int_equal(ref[i].payload, req.content_length);
		if (e->partial)
			assert_true(req.expect_continue); /* curl waited for 100 */
		assert_true(req.host.len > 0);
	}
	/* the same framing for every split of the connection's bytes */
	for (size_t cut = 0; cut <= len; cut++) {
		assert_int_equal(frame(s, len, cut, got), n);
		assert_memory_equal(got, ref, n * sizeof(ref[0]));
	}
	free(s);
}

static int by_name(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void test_all_captures(void **state)
{
	(void)state;
	DIR *d = opendir(datadir);
	assert_non_null(d);
	char *names[256];
	size_t n = 0;
	struct dirent *de;
	while ((de = readdir(d))) {
		size_t l = strlen(de->d_name);
		if (l < 5 || strcmp(de->d_name + l - 4, ".bin") != 0 || strstr(de->d_name, "tls"))
			continue;
		assert_true(n < 256);
		names[n++] = strdup(de->d_name);
	}
	closedir(d);
	qsort(names, n, sizeof(names[0]), by_name);
	assert_true(n >= 60);
	size_t listed = 0;
	for (size_t i = 0; i < n; i++) {
		check_file(names[i]);
		free(names[i]);
	}
	for (size_t i = 0; i < n_exp; i++)
		listed += exp_rows[i].idx == 0;
	assert_int_equal(listed, n); /* no stale rows for missing files */
}

static void test_kinds_present(void **state)
{
	(void)state;
	/* The captures exercise the interesting framing shapes, not just GETs. */
	static const char *const ops[] = { "base", "catalog", "tags_list", "manifest_get",
					   "manifest_head", "manifest_put", "manifest_delete",
					   "blob_get", "blob_head", "blob_delete", "upload_start",
					   "upload_mount", "upload_chunk", "upload_complete",
					   "upload_status", "upload_cancel", "referrers" };
	for (size_t i = 0; i < sizeof(ops) / sizeof(ops[0]); i++) {
		bool found = false;
		for (size_t j = 0; j < n_exp && !found; j++)
			found = strcmp(exp_rows[j].op, ops[i]) == 0;
		if (!found)
			fail_msg("no captured request for %s", ops[i]);
	}
}

static void test_tls_on_plain_port(void **state)
{
	(void)state;
	size_t len;
	uint8_t *s = slurp("skopeo-1-001-tls-clienthello.bin", &len);
	struct rw_http_req req;
	assert_true(len > 100);
	assert_int_equal(rw_http_parse_head(s, len, &req), RW_INSPECT_REFUSE);
	assert_int_equal(req.refuse_at, 0);
	assert_int_equal(req.status, 400);
	assert_int_equal(rw_http_parse_head(s, 1, &req), RW_INSPECT_REFUSE);
	free(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_all_captures),
		cmocka_unit_test(test_kinds_present),
		cmocka_unit_test(test_tls_on_plain_port),
	};
	return cmocka_run_group_tests(tests, setup, NULL);
}
