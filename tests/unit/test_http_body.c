/* rw_http_body_*: Content-Length and chunked framing, malformed framing,
 * and pipelined requests framed identically under every split. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "inspect/rw_http.h"

static struct rw_http_req req;

static void head_ok(const char *h)
{
	assert_int_equal(rw_http_parse_head((const uint8_t *)h, strlen(h), &req), RW_INSPECT_OK);
}

/* Feed the body in pieces of 'step' bytes; returns the final result and
 * sums consumed / payload. */
static enum rw_inspect_result feed_steps(struct rw_http_body *b, const char *data, size_t len,
					 size_t step, size_t *consumed, size_t *payload)
{
	enum rw_inspect_result r = RW_INSPECT_MORE;
	size_t off = 0;
	*consumed = 0;
	*payload = 0;
	while (off < len) {
		size_t n = len - off < step ? len - off : step;
		size_t c, p;
		r = rw_http_body_feed(b, (const uint8_t *)data + off, n, &c, &p);
		assert_true(c <= n);
		assert_true(p <= c);
		*consumed += c;
		*payload += p;
		off += c;
		if (r != RW_INSPECT_MORE)
			return r;
		assert_int_equal(c, n); /* MORE means everything was taken */
	}
	return r;
}

static void test_no_body(void **state)
{
	(void)state;
	struct rw_http_body b;
	size_t c, p;
	head_ok("GET /v2/ HTTP/1.1\r\nHost: a\r\n\r\n");
	rw_http_body_init(&b, &req);
	assert_int_equal(rw_http_body_feed(&b, (const uint8_t *)"GET ", 4, &c, &p), RW_INSPECT_OK);
	assert_int_equal(c, 0);
	assert_int_equal(p, 0);
	head_ok("PUT /x HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\n\r\n");
	rw_http_body_init(&b, &req);
	assert_int_equal(rw_http_body_feed(&b, NULL, 0, &c, &p), RW_INSPECT_OK);
}

static void test_content_length(void **state)
{
	(void)state;
	static const char body[] = "0123456789abcdefNEXT";
	for (size_t step = 1; step <= 20; step++) {
		struct rw_http_body b;
		size_t c, p;
		head_ok("PUT /x HTTP/1.1\r\nHost: a\r\nContent-Length: 16\r\n\r\n");
		rw_http_body_init(&b, &req);
		assert_int_equal(feed_steps(&b, body, 20, step, &c, &p), RW_INSPECT_OK);
		assert_int_equal(c, 16);
		assert_int_equal(p, 16);
		assert_int_equal(b.total_payload, 16);
		/* stable after the end */
		assert_int_equal(rw_http_body_feed(&b, (const uint8_t *)"NEXT", 4, &c, &p),
				 RW_INSPECT_OK);
		assert_int_equal(c, 0);
	}
	/* incomplete body: MORE, all consumed as payload */
	struct rw_http_body b;
	size_t c, p;
	head_ok("PUT /x HTTP/1.1\r\nHost: a\r\nContent-Length: 100\r\n\r\n");
	rw_http_body_init(&b, &req);
	assert_int_equal(rw_http_body_feed(&b, (const uint8_t *)body, 20, &c, &p), RW_INSPECT_MORE);
	assert_int_equal(c, 20);
	assert_int_equal(p, 20);
	assert_int_equal(b.remaining, 80);
}

static void test_chunked(void **state)
{
	(void)state;
	static const char body[] = "6\r\nchunky\r\n"
				   "A;name=\"quoted value\";x\r\n0123456789\r\n"
				   "00\r\n"
				   "Checksum: abc\r\nX-T:\r\n"
				   "\r\n"
				   "GET / HTTP/1.1\r\n";
	size_t blen = strlen(body) - strlen("GET / HTTP/1.1\r\n");
	for (size_t step = 1; step <= strlen(body); step++) {
		struct rw_http_body b;
		size_t c, p;
		head_ok("PATCH /x HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n");
		rw_http_body_init(&b, &req);
		assert_int_equal(feed_steps(&b, body, strlen(body), step, &c, &p), RW_INSPECT_OK);
		assert_int_equal(c, blen);
		assert_int_equal(p, 16);
	}
	/* curl's real chunked POST body */
	struct rw_http_body b;
	size_t c, p;
	head_ok("POST /x HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n");
	rw_http_body_init(&b, &req);
	assert_int_equal(rw_http_body_feed(&b, (const uint8_t *)"6\r\nchunky\r\n0\r\n\r\n", 16, &c, &p),
			 RW_INSPECT_OK);
	assert_int_equal(c, 16);
	assert_int_equal(p, 6);
}

static void test_chunk_size_bounds(void **state)
{
	(void)state;
	struct rw_http_body b;
	size_t c, p;
	head_ok("PATCH /x HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n");
	/* 2^63-1 is representable: MORE while its payload flows */
	rw_http_body_init(&b, &req);
	assert_int_equal(rw_http_body_feed(&b, (const uint8_t *)"7fffffffffffffff\r\nab", 20, &c, &p),
			 RW_INSPECT_MORE);
	assert_int_equal(p, 2);
	assert_true(b.remaining == UINT64_C(0x7fffffffffffffff) - 2);
	/* 2^63 is not; leading zeros do not matter */
	rw_http_body_init(&b, &req);
	assert_int_equal(rw_http_body_feed(&b, (const uint8_t *)"0008000000000000000\r\n", 21, &c, &p),
			 RW_INSPECT_REFUSE);
	assert_int_equal(b.refuse, RW_HTTP_REFUSE_CHUNK_TOO_LARGE);
	assert_int_equal(b.status, 413);
	assert_int_equal(c, 18); /* the digit that overflowed */
	rw_http_body_init(&b, &req);
	assert_int_equal(rw_http_body_feed(&b, (const uint8_t *)"10000000000000000\r\n", 19, &c, &p),
			 RW_INSPECT_REFUSE);
	assert_int_equal(b.refuse, RW_HTTP_REFUSE_CHUNK_TOO_LARGE);
}

struct badbody {
	const char *name;
	const char *data;
	enum rw_http_refuse reason;
	int status;
};

static void test_malformed_chunked(void **state)
{
	(void)state;
	static char ext_long[RW_HTTP_MAX_CHUNK_EXT + 32];
	static char ext_max[RW_HTTP_MAX_CHUNK_EXT + 32];
	static char trailer_long[RW_HTTP_MAX_TRAILER + 64];
	/* ";" + 4095 bytes = 4096 extension bytes: accepted; one more refused */
	static const char end[] = "\r\nx\r\n0\r\n\r\n";
	memcpy(ext_max, "1;", 2);
	memset(ext_max + 2, 'e', RW_HTTP_MAX_CHUNK_EXT - 1);
	memcpy(ext_max + 1 + RW_HTTP_MAX_CHUNK_EXT, end, sizeof(end));
	memcpy(ext_long, "1;", 2);
	memset(ext_long + 2, 'e', RW_HTTP_MAX_CHUNK_EXT);
	memcpy(ext_long + 2 + RW_HTTP_MAX_CHUNK_EXT, end, sizeof(end));
	memcpy(trailer_long, "0\r\nT: ", 6);
	memset(trailer_long + 6, 't', RW_HTTP_MAX_TRAILER);
	memcpy(trailer_long + 6 + RW_HTTP_MAX_TRAILER, "\r\n\r\n", 5);

	const struct badbody bads[] = {
		{ "no size", "\r\n", RW_HTTP_REFUSE_CHUNK_SIZE, 400 },
		{ "non-hex", "g\r\n", RW_HTTP_REFUSE_CHUNK_SIZE, 400 },
		{ "0x prefix", "0x1\r\nx\r\n", RW_HTTP_REFUSE_CHUNK_SIZE, 400 },
		{ "sign", "+1\r\nx\r\n", RW_HTTP_REFUSE_CHUNK_SIZE, 400 },
		{ "space after size", "1 \r\nx\r\n", RW_HTTP_REFUSE_CHUNK_SIZE, 400 },
		{ "space before ext", "1 ;a\r\nx\r\n", RW_HTTP_REFUSE_CHUNK_SIZE, 400 },
		{ "leading space", " 1\r\nx\r\n", RW_HTTP_REFUSE_CHUNK_SIZE, 400 },
		{ "LF-only size line", "1\nx\r\n", RW_HTTP_REFUSE_CHUNK_SIZE, 400 },
		{ "CR then junk", "1\rx", RW_HTTP_REFUSE_CHUNK_SIZE, 400 },
		{ "data too long", "1\r\nxy\r\n", RW_HTTP_REFUSE_CHUNK_CRLF, 400 },
		{ "data LF only", "1\r\nx\n0\r\n\r\n", RW_HTTP_REFUSE_CHUNK_CRLF, 400 },
		{ "data CR junk", "1\r\nx\rX", RW_HTTP_REFUSE_CHUNK_CRLF, 400 },
		{ "ext NUL", "1;a\0b\r\n", RW_HTTP_REFUSE_CHUNK_EXT_CHAR, 400 },
		{ "ext LF", "1;a\nx\r\n", RW_HTTP_REFUSE_CHUNK_EXT_CHAR, 400 },
		{ "ext too long", ext_long, RW_HTTP_REFUSE_CHUNK_EXT_TOO_LONG, 413 },
		{ "last chunk LF", "0\n\n", RW_HTTP_REFUSE_CHUNK_SIZE, 400 },
		{ "final LF only", "0\r\n\n", RW_HTTP_REFUSE_TRAILER_SYNTAX, 400 },
		{ "final CR junk", "0\r\n\rX", RW_HTTP_REFUSE_TRAILER_SYNTAX, 400 },
		{ "trailer fold", "0\r\nA: b\r\n c\r\n\r\n", RW_HTTP_REFUSE_TRAILER_SYNTAX, 400 },
		{ "trailer no colon", "0\r\nAb\r\n\r\n", RW_HTTP_REFUSE_TRAILER_SYNTAX, 400 },
		{ "trailer space name", "0\r\nA b: c\r\n\r\n", RW_HTTP_REFUSE_TRAILER_SYNTAX, 400 },
		{ "trailer bare LF", "0\r\nA: b\n\r\n", RW_HTTP_REFUSE_TRAILER_SYNTAX, 400 },
		{ "trailer ctl", "0\r\nA: \x01\r\n\r\n", RW_HTTP_REFUSE_TRAILER_SYNTAX, 400 },
		{ "trailer too long", trailer_long, RW_HTTP_REFUSE_TRAILER_TOO_LONG, 431 },
	};
	head_ok("PATCH /x HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n");
	for (size_t i = 0; i < sizeof(bads) / sizeof(bads[0]); i++) {
		size_t len = strlen(bads[i].data);
		if (strcmp(bads[i].name, "ext NUL") == 0)
			len = 8;
		for (size_t step = 1; step <= len; step++) {
			struct rw_http_body b;
			size_t c, p;
			rw_http_body_init(&b, &req);
			enum rw_inspect_result r = feed_steps(&b, bads[i].data, len, step, &c, &p);
			if (r != RW_INSPECT_REFUSE || b.refuse != bads[i].reason ||
			    b.status != bads[i].status)
				fail_msg("%s (step %zu): result %d reason '%s'", bads[i].name, step, r,
					 rw_http_refuse_str(b.refuse));
			assert_true(c < len);
			/* stable */
			assert_int_equal(rw_http_body_feed(&b, (const uint8_t *)"0\r\n\r\n", 5, &c, &p),
					 RW_INSPECT_REFUSE);
			assert_int_equal(c, 0);
		}
	}
	/* the boundary cases are accepted */
	struct rw_http_body b;
	size_t c, p;
	rw_http_body_init(&b, &req);
	assert_int_equal(feed_steps(&b, ext_max, strlen(ext_max), 7, &c, &p), RW_INSPECT_OK);
	assert_int_equal(c, strlen(ext_max));
	assert_int_equal(p, 1);
}

/* ---- pipelining -------------------------------------------------------- */

struct framed {
	size_t start, head_len, body_len, payload;
	enum rw_http_method method;
};

/* A data path in miniature: bytes arrive in the pieces given by cuts[]
 * (offsets into stream), the head parser waits for a whole head, the body
 * framer eats what belongs to the body. Returns the number of requests. */
static size_t frame_stream(const uint8_t *stream, size_t len, const size_t *cuts, size_t n_cuts,
			   struct framed *out, size_t max_out)
{
	size_t avail = 0, pos = 0, n = 0, cut = 0;
	bool in_body = false;
	struct rw_http_body b;
	struct rw_http_req r;
	size_t body_start = 0, payload = 0;
	memset(out, 0, max_out * sizeof(*out)); /* padding too: compared bytewise */
	for (;;) {
		bool progress = false;
		if (!in_body && pos < avail) {
			enum rw_inspect_result v = rw_http_parse_head(stream + pos, avail - pos, &r);
			assert_int_not_equal(v, RW_INSPECT_REFUSE);
			if (v == RW_INSPECT_OK) {
				assert_true(n < max_out);
				out[n].start = pos;
				out[n].head_len = r.head_len;
				out[n].method = r.method;
				pos += r.head_len;
				body_start = pos;
				payload = 0;
				rw_http_body_init(&b, &r);
				in_body = true;
				progress = true;
			}
		}
		if (in_body) {
			size_t c, p;
			enum rw_inspect_result v =
				rw_http_body_feed(&b, stream + pos, avail - pos, &c, &p);
			assert_int_not_equal(v, RW_INSPECT_REFUSE);
			pos += c;
			payload += p;
			if (v == RW_INSPECT_OK) {
				out[n].body_len = pos - body_start;
				out[n].payload = payload;
				n++;
				in_body = false;
				progress = true;
			}
		}
		if (progress)
			continue;
		if (avail == len)
			break;
		avail = cut < n_cuts ? cuts[cut++] : len;
	}
	assert_false(in_body);
	assert_int_equal(pos, len);
	return n;
}

static const char pipeline[] =
	"PATCH /v2/team/app/blobs/uploads/u1 HTTP/1.1\r\n"
	"Host: 127.0.0.1:5080\r\nTransfer-Encoding: chunked\r\n\r\n"
	"5\r\nhello\r\n3;e=1\r\n, w\r\n0\r\nX-Trailer: t\r\n\r\n"
	"PUT /v2/team/app/blobs/uploads/u1?digest=sha256:0000000000000000000000000000000000000000000000000000000000000000 HTTP/1.1\r\n"
	"Host: 127.0.0.1:5080\r\nContent-Length: 7\r\n\r\n"
	"GET /v2"
	"GET /v2/ HTTP/1.1\r\nHost: 127.0.0.1:5080\r\n\r\n";

static void test_pipeline_every_split(void **state)
{
	(void)state;
	const uint8_t *s = (const uint8_t *)pipeline;
	size_t len = strlen(pipeline);
	struct framed ref[8], got[8];
	size_t n = frame_stream(s, len, NULL, 0, ref, 8);
	assert_int_equal(n, 3);
	assert_int_equal(ref[0].method, RW_HTTP_PATCH);
	assert_int_equal(ref[0].payload, 8);
	assert_int_equal(ref[1].method, RW_HTTP_PUT);
	assert_int_equal(ref[1].body_len, 7);
	assert_int_equal(ref[1].payload, 7);
	assert_int_equal(ref[2].method, RW_HTTP_GET);
	assert_int_equal(ref[2].body_len, 0);
	assert_int_equal(ref[2].start + ref[2].head_len, len);
	assert_int_equal(ref[1].start, ref[0].start + ref[0].head_len + ref[0].body_len);
	/* one split at every offset, and two splits at every pair */
	for (size_t i = 0; i <= len; i++) {
		size_t cuts[1] = { i };
		assert_int_equal(frame_stream(s, len, cuts, 1, got, 8), 3);
		assert_memory_equal(got, ref, sizeof(ref[0]) * 3);
	}
	for (size_t i = 0; i <= len; i += 3) {
		for (size_t j = i; j <= len; j++) {
			size_t cuts[2] = { i, j };
			assert_int_equal(frame_stream(s, len, cuts, 2, got, 8), 3);
			assert_memory_equal(got, ref, sizeof(ref[0]) * 3);
		}
	}
	/* byte by byte */
	size_t *cuts = malloc(len * sizeof(*cuts));
	assert_non_null(cuts);
	for (size_t i = 0; i < len; i++)
		cuts[i] = i + 1;
	assert_int_equal(frame_stream(s, len, cuts, len, got, 8), 3);
	assert_memory_equal(got, ref, sizeof(ref[0]) * 3);
	free(cuts);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_no_body),
		cmocka_unit_test(test_content_length),
		cmocka_unit_test(test_chunked),
		cmocka_unit_test(test_chunk_size_bounds),
		cmocka_unit_test(test_malformed_chunked),
		cmocka_unit_test(test_pipeline_every_split),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
