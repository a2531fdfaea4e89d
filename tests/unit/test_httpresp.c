/* rw_httpresp: response framing on real docker-registry conversations
 * (tests/data/httpresp/NNN.req + NNN.resp, recorded by capture.sh there)
 * and on crafted responses for every refusal and framing rule.
 * Run from the repository root. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <dirent.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "inspect/rw_http.h"
#include "inspect/rw_httpresp.h"

#define DATA_DIR "tests/data/httpresp/"
#define MAX_REQS 64

static uint8_t *load(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	assert_non_null(f);
	fseek(f, 0, SEEK_END);
	long n = ftell(f);
	fseek(f, 0, SEEK_SET);
	uint8_t *b = malloc((size_t)n + 1);
	assert_non_null(b);
	assert_int_equal(fread(b, 1, (size_t)n, f), (size_t)n);
	fclose(f);
	*len = (size_t)n;
	return b;
}

struct req_info {
	enum rw_http_method method;
	char target[256];
	uint8_t body_sha256[32];
	uint64_t body_len;
};

/* Walk a recorded client stream with the request parser. */
static size_t split_requests(const uint8_t *b, size_t len, struct req_info *out)
{
	static struct rw_http_req req;
	size_t off = 0, n = 0;
	while (off < len) {
		assert_true(n < MAX_REQS);
		assert_int_equal(rw_http_parse_head(b + off, len - off, &req), RW_INSPECT_OK);
		out[n].method = req.method;
		snprintf(out[n].target, sizeof(out[n].target), "%.*s", (int)req.target.len,
			 (const char *)req.target.ptr);
		off += req.head_len;
		struct rw_http_body body;
		rw_http_body_init(&body, &req);
		size_t used, pay;
		EVP_MD_CTX *md = EVP_MD_CTX_new();
		EVP_DigestInit_ex(md, EVP_sha256(), NULL);
		enum rw_inspect_result r = rw_http_body_feed(&body, b + off, len - off, &used, &pay);
		assert_int_equal(r, RW_INSPECT_OK);
		/* hashed only where payload = bytes (the manifest PUT is such) */
		if (req.framing == RW_HTTP_BODY_LENGTH)
			EVP_DigestUpdate(md, b + off, used);
		EVP_DigestFinal_ex(md, out[n].body_sha256, NULL);
		EVP_MD_CTX_free(md);
		out[n].body_len = used;
		off += used;
		n++;
	}
	return n;
}

static void hex(const uint8_t *d, size_t n, char *out)
{
	for (size_t i = 0; i < n; i++)
		sprintf(out + 2 * i, "%02x", d[i]);
}

struct tally {
	unsigned files, responses, manifest_put_digests, head_with_cl, uploads_202, json_404,
		closes, close_framed;
};

/* Frame every response of one recorded connection; check it against the
 * requests and the per-response facts a registry guarantees. */
static void check_conversation(const char *stem, struct tally *t)
{
	char path[512];
	size_t qlen, slen;
	snprintf(path, sizeof(path), DATA_DIR "%s.req", stem);
	uint8_t *q = load(path, &qlen);
	snprintf(path, sizeof(path), DATA_DIR "%s.resp", stem);
	uint8_t *s = load(path, &slen);
	struct req_info reqs[MAX_REQS];
	size_t nreq;
	bool tls_probe = qlen > 0 && q[0] == 0x16;
	if (tls_probe) {
		/* skopeo tries TLS first; Go answers a plain 400 framed by
		 * connection close (no Content-Length) */
		memset(reqs, 0, sizeof(reqs[0]));
		reqs[0].method = RW_HTTP_GET;
		nreq = 1;
	} else {
		nreq = split_requests(q, qlen, reqs);
	}
	static struct rw_httpresp r;
	size_t off = 0;
	for (size_t i = 0; i < nreq; i++) {
		enum rw_inspect_result res;
		do {
			res = rw_httpresp_parse_head(s + off, slen - off, reqs[i].method, &r);
			if (res != RW_INSPECT_OK)
				fail_msg("%s response %zu: %d %s at %zu", stem, i, res,
					 rw_httpresp_refuse_str(r.refuse), r.refuse_at);
			/* every shorter prefix of the head asks for more */
			for (size_t cut = 0; cut < r.head_len; cut += 7) {
				static struct rw_httpresp r2;
				assert_int_equal(rw_httpresp_parse_head(s + off, cut, reqs[i].method, &r2),
						 RW_INSPECT_MORE);
			}
			off += r.head_len;
		} while (r.interim);
		t->responses++;
		assert_int_equal(r.version_minor, 1);
		if (!tls_probe)
			assert_non_null(rw_httpresp_field(&r, "Docker-Distribution-Api-Version"));
		struct rw_httpresp_body b;
		rw_httpresp_body_init(&b, &r);
		/* feed in small pieces: the split must not matter */
		size_t used, pay, total = 0;
		res = RW_INSPECT_MORE;
		while (res == RW_INSPECT_MORE && off < slen) {
			size_t piece = slen - off < 100 ? slen - off : 100;
			res = rw_httpresp_body_feed(&b, s + off, piece, &used, &pay);
			off += used;
			total += pay;
		}
		if (res == RW_INSPECT_MORE)
			res = rw_httpresp_body_eof(&b);
		assert_int_equal(res, RW_INSPECT_OK);
		if (r.body == RW_HTTPRESP_BODY_LENGTH)
			assert_int_equal(total, r.content_length);

		if (reqs[i].method == RW_HTTP_HEAD && r.status == 200) {
			/* a HEAD answer carries the GET's length but no body */
			assert_int_equal(r.body, RW_HTTPRESP_BODY_NONE);
			assert_true(r.has_content_length && r.content_length > 0);
			assert_int_equal(total, 0);
			t->head_with_cl++;
		}
		if (reqs[i].method == RW_HTTP_PUT && strstr(reqs[i].target, "/manifests/")) {
			/* the digest the registry reports is the sha256 of what was PUT */
			char want[7 + 65] = "sha256:";
			hex(reqs[i].body_sha256, 32, want + 7);
			assert_int_equal(r.status, 201);
			assert_int_equal(r.digest.len, strlen(want));
			assert_memory_equal(r.digest.ptr, want, r.digest.len);
			assert_true(r.location.len > 0);
			t->manifest_put_digests++;
		}
		if (reqs[i].method == RW_HTTP_POST && r.status == 202) {
			assert_true(r.location.len > 0);
			assert_non_null(rw_httpresp_field(&r, "Docker-Upload-Uuid"));
			t->uploads_202++;
		}
		if (r.status == 404 && r.content_type.len >= 16 &&
		    memcmp(r.content_type.ptr, "application/json", 16) == 0)
			t->json_404++;
		if (!r.keep_alive)
			t->closes++;
		if (tls_probe) {
			assert_int_equal(r.status, 400);
			assert_int_equal(r.body, RW_HTTPRESP_BODY_CLOSE);
			assert_int_equal(total, 15); /* "400 Bad Request" */
			t->close_framed++;
		}
	}
	/* nothing left over after the last framed response */
	assert_int_equal(off, slen);
	t->files++;
	free(q);
	free(s);
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void test_real_registry_conversations(void **state)
{
	(void)state;
	DIR *d = opendir(DATA_DIR);
	assert_non_null(d);
	char *stems[256];
	size_t n = 0;
	struct dirent *e;
	while ((e = readdir(d)) != NULL) {
		size_t l = strlen(e->d_name);
		if (l > 4 && strcmp(e->d_name + l - 4, ".req") == 0 && n < 256)
			stems[n++] = strndup(e->d_name, l - 4);
	}
	closedir(d);
	qsort(stems, n, sizeof(stems[0]), cmp_str);
	struct tally t;
	memset(&t, 0, sizeof(t));
	for (size_t i = 0; i < n; i++) {
		check_conversation(stems[i], &t);
		free(stems[i]);
	}
	assert_true(t.files >= 20);
	assert_true(t.responses > t.files); /* one keep-alive conversation at least */
	assert_true(t.manifest_put_digests >= 1);
	assert_true(t.head_with_cl >= 1);
	assert_true(t.uploads_202 >= 2);
	assert_true(t.json_404 >= 1);
	assert_true(t.closes >= 1);
	assert_true(t.close_framed >= 1);
}

/* ---- crafted ---- */

static struct rw_httpresp R;

static enum rw_inspect_result parse(const char *s, enum rw_http_method m)
{
	return rw_httpresp_parse_head((const uint8_t *)s, strlen(s), m, &R);
}

static void expect_refuse(const char *s, enum rw_httpresp_refuse why)
{
	enum rw_inspect_result r = parse(s, RW_HTTP_GET);
	if (r != RW_INSPECT_REFUSE || R.refuse != why)
		fail_msg("%s: got %d %s, want refuse %s", s, r, rw_httpresp_refuse_str(R.refuse),
			 rw_httpresp_refuse_str(why));
}

static void test_status_line(void **state)
{
	(void)state;
	assert_int_equal(parse("HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n", RW_HTTP_GET),
			 RW_INSPECT_OK);
	assert_int_equal(R.status, 404);
	assert_int_equal(R.reason.len, 9);
	assert_int_equal(R.head_len, 45);
	assert_true(R.keep_alive);
	/* no reason phrase, with and without the SP */
	assert_int_equal(parse("HTTP/1.1 200 \r\nContent-Length: 0\r\n\r\n", RW_HTTP_GET), RW_INSPECT_OK);
	assert_int_equal(R.reason.len, 0);
	assert_int_equal(parse("HTTP/1.1 200\r\nContent-Length: 0\r\n\r\n", RW_HTTP_GET), RW_INSPECT_OK);
	assert_int_equal(R.status, 200);
	assert_int_equal(parse("HTTP/1.1 2", RW_HTTP_GET), RW_INSPECT_MORE);
	assert_int_equal(parse("", RW_HTTP_GET), RW_INSPECT_MORE);

	expect_refuse("HTTP/2 200 OK\r\n\r\n", RW_HTTPRESP_REFUSE_VERSION);
	expect_refuse("HTTP/1.2 200 OK\r\n\r\n", RW_HTTPRESP_REFUSE_VERSION);
	expect_refuse("http/1.1 200 OK\r\n\r\n", RW_HTTPRESP_REFUSE_VERSION);
	expect_refuse("ICY 200 OK\r\n\r\n", RW_HTTPRESP_REFUSE_VERSION);
	expect_refuse("HTTP/1.1  200 OK\r\n\r\n", RW_HTTPRESP_REFUSE_STATUS_LINE);
	expect_refuse("HTTP/1.1 20 OK\r\n\r\n", RW_HTTPRESP_REFUSE_STATUS_LINE);
	expect_refuse("HTTP/1.1 2000 OK\r\n\r\n", RW_HTTPRESP_REFUSE_STATUS_LINE);
	expect_refuse("HTTP/1.1 099 OK\r\n\r\n", RW_HTTPRESP_REFUSE_STATUS_CODE);
	expect_refuse("HTTP/1.1 600 OK\r\n\r\n", RW_HTTPRESP_REFUSE_STATUS_CODE);
	expect_refuse("HTTP/1.1 200 OK\n\n", RW_HTTPRESP_REFUSE_BARE_LF);
	expect_refuse("HTTP/1.1 200 O\rK\r\n\r\n", RW_HTTPRESP_REFUSE_BARE_CR);
	expect_refuse("HTTP/1.1 200 O\x01K\r\n\r\n", RW_HTTPRESP_REFUSE_CTL_CHAR);
	expect_refuse("HTTP/1.1 101 Switching Protocols\r\nUpgrade: h2c\r\n\r\n",
		      RW_HTTPRESP_REFUSE_SWITCHING);
	assert_int_equal(R.refuse_at, 9);
}

static void test_fields(void **state)
{
	(void)state;
	expect_refuse("HTTP/1.1 200 OK\r\nA: b\r\n c\r\nContent-Length: 0\r\n\r\n",
		      RW_HTTPRESP_REFUSE_OBS_FOLD);
	expect_refuse("HTTP/1.1 200 OK\r\nA: b\nContent-Length: 0\r\n\r\n", RW_HTTPRESP_REFUSE_BARE_LF);
	expect_refuse("HTTP/1.1 200 OK\r\nA: b\r\n\n", RW_HTTPRESP_REFUSE_BARE_LF);
	expect_refuse("HTTP/1.1 200 OK\r\nA : b\r\n\r\n", RW_HTTPRESP_REFUSE_SPACE_BEFORE_COLON);
	expect_refuse("HTTP/1.1 200 OK\r\n: b\r\n\r\n", RW_HTTPRESP_REFUSE_EMPTY_NAME);
	expect_refuse("HTTP/1.1 200 OK\r\nA(b: c\r\n\r\n", RW_HTTPRESP_REFUSE_NAME_CHAR);
	expect_refuse("HTTP/1.1 200 OK\r\nAbc\r\n\r\n", RW_HTTPRESP_REFUSE_NO_COLON);
}

static void test_fields_binary(void **state)
{
	(void)state;
	static const uint8_t nul[] = "HTTP/1.1 200 OK\r\nA: b\0c\r\n\r\n";
	assert_int_equal(rw_httpresp_parse_head(nul, sizeof(nul) - 1, RW_HTTP_GET, &R),
			 RW_INSPECT_REFUSE);
	assert_int_equal(R.refuse, RW_HTTPRESP_REFUSE_CTL_CHAR);
	assert_int_equal(R.refuse_at, 21);
	/* OWS trimmed, case-insensitive names, order kept */
	assert_int_equal(parse("HTTP/1.1 200 OK\r\nX-A:\t v  \r\ncontent-length:3\r\n\r\n", RW_HTTP_GET),
			 RW_INSPECT_OK);
	assert_int_equal(R.n_fields, 2);
	assert_int_equal(R.fields[0].value.len, 1);
	assert_int_equal(R.fields[0].value.ptr[0], 'v');
	assert_int_equal(R.body, RW_HTTPRESP_BODY_LENGTH);
	assert_int_equal(R.content_length, 3);
	const struct rw_http_field *f = rw_httpresp_field(&R, "x-a");
	assert_non_null(f);
	assert_null(rw_httpresp_field(&R, "x-b"));
}

static void test_framing_rules(void **state)
{
	(void)state;
	expect_refuse("HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\n",
		      RW_HTTPRESP_REFUSE_CL_DUPLICATE);
	expect_refuse("HTTP/1.1 200 OK\r\nContent-Length: 5, 5\r\n\r\n", RW_HTTPRESP_REFUSE_CL_INVALID);
	expect_refuse("HTTP/1.1 200 OK\r\nContent-Length: +5\r\n\r\n", RW_HTTPRESP_REFUSE_CL_INVALID);
	expect_refuse("HTTP/1.1 200 OK\r\nContent-Length: \r\n\r\n", RW_HTTPRESP_REFUSE_CL_INVALID);
	expect_refuse("HTTP/1.1 200 OK\r\nContent-Length: 9223372036854775808\r\n\r\n",
		      RW_HTTPRESP_REFUSE_CL_INVALID);
	assert_int_equal(parse("HTTP/1.1 200 OK\r\nContent-Length: 9223372036854775807\r\n\r\n",
			       RW_HTTP_GET), RW_INSPECT_OK);
	assert_int_equal(R.content_length, UINT64_C(9223372036854775807));
	expect_refuse("HTTP/1.1 200 OK\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n",
		      RW_HTTPRESP_REFUSE_CL_AND_TE);
	expect_refuse("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n",
		      RW_HTTPRESP_REFUSE_CL_AND_TE);
	expect_refuse("HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n",
		      RW_HTTPRESP_REFUSE_TE_UNSUPPORTED);
	expect_refuse("HTTP/1.1 200 OK\r\nTransfer-Encoding: identity\r\n\r\n",
		      RW_HTTPRESP_REFUSE_TE_UNSUPPORTED);
	expect_refuse("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n",
		      RW_HTTPRESP_REFUSE_TE_DUPLICATE);
	expect_refuse("HTTP/1.0 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", RW_HTTPRESP_REFUSE_TE_HTTP10);
	expect_refuse("HTTP/1.1 204 No Content\r\nTransfer-Encoding: chunked\r\n\r\n",
		      RW_HTTPRESP_REFUSE_TE_NO_BODY);
	expect_refuse("HTTP/1.1 200 OK\r\nConnection: close,,\r\n\r\n",
		      RW_HTTPRESP_REFUSE_CONNECTION_INVALID);

	/* chunked, case-insensitive */
	assert_int_equal(parse("HTTP/1.1 200 OK\r\nTransfer-Encoding: Chunked\r\n\r\n", RW_HTTP_GET),
			 RW_INSPECT_OK);
	assert_int_equal(R.body, RW_HTTPRESP_BODY_CHUNKED);
	assert_true(R.keep_alive);
	/* no length at all: to EOF, no reuse */
	assert_int_equal(parse("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\n", RW_HTTP_GET),
			 RW_INSPECT_OK);
	assert_int_equal(R.body, RW_HTTPRESP_BODY_CLOSE);
	assert_false(R.keep_alive);
	/* HEAD, 204, 304: no body whatever Content-Length says */
	assert_int_equal(parse("HTTP/1.1 200 OK\r\nContent-Length: 527\r\n\r\n", RW_HTTP_HEAD),
			 RW_INSPECT_OK);
	assert_int_equal(R.body, RW_HTTPRESP_BODY_NONE);
	assert_int_equal(R.content_length, 527);
	assert_true(R.keep_alive);
	assert_int_equal(parse("HTTP/1.1 200 OK\r\n\r\n", RW_HTTP_HEAD), RW_INSPECT_OK);
	assert_int_equal(R.body, RW_HTTPRESP_BODY_NONE);
	assert_true(R.keep_alive);
	assert_int_equal(parse("HTTP/1.1 204 No Content\r\n\r\n", RW_HTTP_GET), RW_INSPECT_OK);
	assert_int_equal(R.body, RW_HTTPRESP_BODY_NONE);
	assert_int_equal(parse("HTTP/1.1 304 Not Modified\r\nContent-Length: 10\r\n\r\n", RW_HTTP_GET),
			 RW_INSPECT_OK);
	assert_int_equal(R.body, RW_HTTPRESP_BODY_NONE);
	/* Connection: close and HTTP/1.0 end reuse */
	assert_int_equal(parse("HTTP/1.1 200 OK\r\nConnection: keep-alive, Close\r\nContent-Length: 0\r\n\r\n",
			       RW_HTTP_GET), RW_INSPECT_OK);
	assert_false(R.keep_alive);
	assert_int_equal(parse("HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n", RW_HTTP_GET), RW_INSPECT_OK);
	assert_int_equal(R.version_minor, 0);
	assert_false(R.keep_alive);
}

static void test_interim(void **state)
{
	(void)state;
	const char *s = "HTTP/1.1 100 Continue\r\n\r\n"
			"HTTP/1.1 201 Created\r\nLocation: /v2/a/blobs/sha256:x\r\nContent-Length: 0\r\n\r\n";
	assert_int_equal(parse(s, RW_HTTP_PUT), RW_INSPECT_OK);
	assert_true(R.interim);
	assert_int_equal(R.status, 100);
	assert_int_equal(R.head_len, 25);
	assert_int_equal(rw_httpresp_parse_head((const uint8_t *)s + 25, strlen(s) - 25, RW_HTTP_PUT, &R),
			 RW_INSPECT_OK);
	assert_false(R.interim);
	assert_int_equal(R.status, 201);
	assert_int_equal(R.location.len, 20);
	assert_int_equal(parse("HTTP/1.1 103 Early Hints\r\nLink: </x>\r\n\r\n", RW_HTTP_GET), RW_INSPECT_OK);
	assert_true(R.interim);
	assert_int_equal(R.body, RW_HTTPRESP_BODY_NONE);
}

static void test_registry_fields(void **state)
{
	(void)state;
	const char *d = "sha256:98f0387b4e07471bafb935d4c6045b274119c6bd1a1206a32872a3d4e340eb53";
	char buf[512];
	snprintf(buf, sizeof(buf),
		 "HTTP/1.1 201 Created\r\nDocker-Content-Digest:  %s \r\n"
		 "Location: http://r/v2/a/manifests/%s\r\nContent-Length: 0\r\n\r\n", d, d);
	assert_int_equal(parse(buf, RW_HTTP_PUT), RW_INSPECT_OK);
	assert_int_equal(R.digest.len, strlen(d));
	assert_memory_equal(R.digest.ptr, d, strlen(d));

	expect_refuse("HTTP/1.1 201 Created\r\nDocker-Content-Digest: sha256:abc\r\n\r\n",
		      RW_HTTPRESP_REFUSE_DIGEST_INVALID);
	expect_refuse("HTTP/1.1 201 Created\r\nDocker-Content-Digest: \r\n\r\n",
		      RW_HTTPRESP_REFUSE_DIGEST_INVALID);
	snprintf(buf, sizeof(buf),
		 "HTTP/1.1 201 Created\r\nDocker-Content-Digest: %s\r\nDocker-Content-Digest: %s\r\n\r\n", d, d);
	expect_refuse(buf, RW_HTTPRESP_REFUSE_FIELD_DUPLICATE);
	expect_refuse("HTTP/1.1 202 Accepted\r\nLocation: /a\r\nLocation: /b\r\n\r\n",
		      RW_HTTPRESP_REFUSE_FIELD_DUPLICATE);
	expect_refuse("HTTP/1.1 200 OK\r\nContent-Type: a/b\r\nContent-type: c/d\r\n\r\n",
		      RW_HTTPRESP_REFUSE_FIELD_DUPLICATE);

	assert_int_equal(parse("HTTP/1.1 429 Too Many Requests\r\nRetry-After: 120\r\nContent-Length: 0\r\n\r\n",
			       RW_HTTP_GET), RW_INSPECT_OK);
	assert_true(R.has_retry_after && R.retry_after_is_seconds);
	assert_int_equal(R.retry_after_s, 120);
	assert_int_equal(parse("HTTP/1.1 503 X\r\nRetry-After: 99999999999999999999999\r\nContent-Length: 0\r\n\r\n",
			       RW_HTTP_GET), RW_INSPECT_OK);
	assert_int_equal(R.retry_after_s, UINT64_C(1) << 32);
	assert_int_equal(parse("HTTP/1.1 503 X\r\nRetry-After: Fri, 31 Dec 1999 23:59:59 GMT\r\nContent-Length: 0\r\n\r\n",
			       RW_HTTP_GET), RW_INSPECT_OK);
	assert_true(R.has_retry_after);
	assert_false(R.retry_after_is_seconds);
	assert_int_equal(R.retry_after.len, 29);
}

static void test_limits(void **state)
{
	(void)state;
	static char big[RW_HTTPRESP_MAX_HEAD + 200];
	/* 100 fields fit, 101 do not */
	size_t n = (size_t)snprintf(big, sizeof(big), "HTTP/1.1 200 OK\r\n");
	for (int i = 0; i < 100; i++)
		n += (size_t)snprintf(big + n, sizeof(big) - n, "X-%d: y\r\n", i);
	snprintf(big + n, sizeof(big) - n, "\r\n");
	assert_int_equal(parse(big, RW_HTTP_HEAD), RW_INSPECT_OK);
	assert_int_equal(R.n_fields, 100);
	snprintf(big + n, sizeof(big) - n, "X-last: y\r\n\r\n");
	expect_refuse(big, RW_HTTPRESP_REFUSE_TOO_MANY_FIELDS);

	/* a head of exactly 32 KiB is fine; one byte more is not */
	const char *pre = "HTTP/1.1 200 OK\r\nX: ";
	n = strlen(pre);
	memcpy(big, pre, n);
	size_t fill = RW_HTTPRESP_MAX_HEAD - n - 4;
	memset(big + n, 'a', fill);
	memcpy(big + n + fill, "\r\n\r\n", 5);
	assert_int_equal(parse(big, RW_HTTP_HEAD), RW_INSPECT_OK);
	assert_int_equal(R.head_len, RW_HTTPRESP_MAX_HEAD);
	memset(big + n, 'a', fill + 1);
	memcpy(big + n + fill + 1, "\r\n\r\n", 5);
	expect_refuse(big, RW_HTTPRESP_REFUSE_HEAD_TOO_LONG);
	/* and an endless head is refused without its end ever arriving */
	memset(big + n, 'a', sizeof(big) - n - 1);
	big[sizeof(big) - 1] = '\0';
	expect_refuse(big, RW_HTTPRESP_REFUSE_HEAD_TOO_LONG);
	assert_int_equal(R.refuse_at, RW_HTTPRESP_MAX_HEAD);
}

static enum rw_inspect_result feed_all(struct rw_httpresp_body *b, const char *s, size_t step,
				       size_t *used_total, size_t *pay_total)
{
	size_t len = strlen(s), off = 0, used, pay;
	enum rw_inspect_result r = RW_INSPECT_MORE;
	*pay_total = 0;
	while (off < len && r == RW_INSPECT_MORE) {
		size_t piece = len - off < step ? len - off : step;
		r = rw_httpresp_body_feed(b, (const uint8_t *)s + off, piece, &used, &pay);
		off += used;
		*pay_total += pay;
	}
	*used_total = off;
	return r;
}

static void test_bodies(void **state)
{
	(void)state;
	struct rw_httpresp_body b;
	size_t used, pay;
	const char *chunked = "1a\r\nabcdefghijklmnopqrstuvwxyz\r\n3;ext=1\r\nabc\r\n0\r\n"
			      "X-Trailer: t\r\n\r\nHTTP/1.1 200 OK\r\n";
	assert_int_equal(parse("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", RW_HTTP_GET),
			 RW_INSPECT_OK);
	for (size_t step = 1; step <= 64; step *= 2) {
		rw_httpresp_body_init(&b, &R);
		assert_int_equal(feed_all(&b, chunked, step, &used, &pay), RW_INSPECT_OK);
		assert_int_equal(pay, 29);
		assert_int_equal(used, strlen(chunked) - strlen("HTTP/1.1 200 OK\r\n"));
		assert_int_equal(b.total_payload, 29);
	}
	/* done: more bytes belong to the next response */
	assert_int_equal(rw_httpresp_body_feed(&b, (const uint8_t *)"x", 1, &used, &pay), RW_INSPECT_OK);
	assert_int_equal(used, 0);
	/* bad chunk size; truncated chunked body */
	rw_httpresp_body_init(&b, &R);
	assert_int_equal(feed_all(&b, "zz\r\n", 4, &used, &pay), RW_INSPECT_REFUSE);
	assert_int_equal(b.refuse, RW_HTTPRESP_REFUSE_CHUNK);
	assert_int_equal(b.chunk_refuse, RW_HTTP_REFUSE_CHUNK_SIZE);
	assert_int_equal(rw_httpresp_body_eof(&b), RW_INSPECT_REFUSE);
	rw_httpresp_body_init(&b, &R);
	assert_int_equal(feed_all(&b, "5\r\nab", 4, &used, &pay), RW_INSPECT_MORE);
	assert_int_equal(rw_httpresp_body_eof(&b), RW_INSPECT_REFUSE);
	assert_int_equal(b.refuse, RW_HTTPRESP_REFUSE_TRUNCATED);

	/* Content-Length */
	assert_int_equal(parse("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n", RW_HTTP_GET), RW_INSPECT_OK);
	rw_httpresp_body_init(&b, &R);
	assert_int_equal(feed_all(&b, "abcdeHTTP", 2, &used, &pay), RW_INSPECT_OK);
	assert_int_equal(used, 5);
	assert_int_equal(pay, 5);
	rw_httpresp_body_init(&b, &R);
	assert_int_equal(feed_all(&b, "abc", 2, &used, &pay), RW_INSPECT_MORE);
	assert_int_equal(rw_httpresp_body_eof(&b), RW_INSPECT_REFUSE);
	/* zero length and no-body kinds are done at once */
	assert_int_equal(parse("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", RW_HTTP_GET), RW_INSPECT_OK);
	rw_httpresp_body_init(&b, &R);
	assert_int_equal(rw_httpresp_body_feed(&b, (const uint8_t *)"H", 1, &used, &pay), RW_INSPECT_OK);
	assert_int_equal(used, 0);
	assert_int_equal(rw_httpresp_body_eof(&b), RW_INSPECT_OK);
	/* until close: everything is body, EOF ends it cleanly */
	assert_int_equal(parse("HTTP/1.1 200 OK\r\n\r\n", RW_HTTP_GET), RW_INSPECT_OK);
	rw_httpresp_body_init(&b, &R);
	assert_int_equal(feed_all(&b, "HTTP/1.1 200 OK\r\n\r\n", 5, &used, &pay), RW_INSPECT_MORE);
	assert_int_equal(pay, 19);
	assert_int_equal(rw_httpresp_body_eof(&b), RW_INSPECT_OK);
	assert_int_equal(rw_httpresp_body_eof(&b), RW_INSPECT_OK);
}

static void test_refuse_strings(void **state)
{
	(void)state;
	for (int i = 0; i < RW_HTTPRESP_REFUSE_MAX_; i++)
		assert_string_not_equal(rw_httpresp_refuse_str((enum rw_httpresp_refuse)i), "unknown");
	assert_string_equal(rw_httpresp_refuse_str(RW_HTTPRESP_REFUSE_MAX_), "unknown");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_real_registry_conversations),
		cmocka_unit_test(test_status_line),
		cmocka_unit_test(test_fields),
		cmocka_unit_test(test_fields_binary),
		cmocka_unit_test(test_framing_rules),
		cmocka_unit_test(test_interim),
		cmocka_unit_test(test_registry_fields),
		cmocka_unit_test(test_limits),
		cmocka_unit_test(test_bodies),
		cmocka_unit_test(test_refuse_strings),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
