/* libFuzzer harness: HTTP/1.1 head parser + body framer on a pipelined
 * stream. The input is the raw client->server byte stream (the seed corpus
 * is real captured connections); the split points for the streaming body
 * decoder are derived from a hash of the input so the corpus stays plain
 * HTTP.
 *
 * Invariants checked (abort on violation):
 *  - head: OK means 0 < head_len <= len and all spans inside the head; every
 *    prefix gives MORE or the same verdict (same head_len / same reason);
 *    a REFUSE carries a status and refuse_at <= len.
 *  - body: consumed <= offered, payload <= consumed; MORE consumes all it
 *    was offered; OK/REFUSE are stable (later feeds consume nothing);
 *    random splits give the same end, consumed and payload as one feed;
 *    Content-Length bodies carry exactly content_length payload bytes.
 *  - rw_decide_body on every parsed head: a refusal is 400/403 with one
 *    of its four reasons and no limiter flags; a request without
 *    Content-Type and without a body is never refused; a body on a mount
 *    or a non-monolithic upload start always is.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "rules/rw_decide.h"
#include "inspect/rw_http.h"
#include "inspect/rw_oci.h"

#define CHECK(x) \
	do { \
		if (!(x)) \
			abort(); \
	} while (0)

static uint64_t rng;

static uint64_t next_rand(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

static bool span_inside(struct rw_http_span s, const uint8_t *buf, size_t head_len)
{
	return s.ptr >= buf && s.len <= head_len && (size_t)(s.ptr - buf) <= head_len - s.len;
}

static void check_head(const uint8_t *buf, size_t len, struct rw_http_req *req,
		       enum rw_inspect_result r)
{
	static struct rw_http_req p;
	if (r == RW_INSPECT_OK) {
		CHECK(req->head_len > 0 && req->head_len <= len);
		CHECK(span_inside(req->target, buf, req->head_len));
		CHECK(span_inside(req->host, buf, req->head_len));
		CHECK(req->n_fields <= RW_HTTP_MAX_HEADERS);
		for (size_t i = 0; i < req->n_fields; i++) {
			CHECK(span_inside(req->fields[i].name, buf, req->head_len));
			CHECK(span_inside(req->fields[i].value, buf, req->head_len));
		}
		CHECK(req->target.len > 0 && req->target.ptr[0] == '/');
	} else if (r == RW_INSPECT_REFUSE) {
		CHECK(req->status >= 400 && req->status <= 505);
		CHECK(req->refuse_at <= len);
		CHECK(req->refuse != RW_HTTP_REFUSE_NONE);
	}
	/* a few prefixes: MORE or the same verdict */
	for (int k = 0; k < 4 && len > 0; k++) {
		size_t plen = (size_t)(next_rand() % len);
		enum rw_inspect_result pr = rw_http_parse_head(buf, plen, &p);
		if (pr == RW_INSPECT_MORE)
			continue;
		CHECK(pr == r);
		if (r == RW_INSPECT_OK)
			CHECK(p.head_len == req->head_len);
		else
			CHECK(p.refuse == req->refuse && p.refuse_at == req->refuse_at);
	}
	if (r == RW_INSPECT_MORE)
		CHECK(len < RW_HTTP_MAX_LINE + RW_HTTP_MAX_FIELDS);
}

static void check_body_decision(const struct rw_http_req *req)
{
	static struct rw_oci_req oci;
	CHECK(rw_oci_classify_http(req, &oci) == 0);
	struct rw_decision d;
	memset(&d, 0, sizeof(d));
	d.counts_push_op = d.meters_upload = true;
	enum rw_verdict v = rw_decide_body(req, &oci, &d);
	bool body = req->framing == RW_HTTP_BODY_CHUNKED ||
		    (req->framing == RW_HTTP_BODY_LENGTH && req->content_length > 0);
	if (v == RW_VERDICT_ALLOW) {
		CHECK(d.counts_push_op && d.meters_upload);
		CHECK(!body || !(oci.op == RW_OCI_OP_UPLOAD_MOUNT ||
				 (oci.op == RW_OCI_OP_UPLOAD_START && !oci.digest[0])));
		return;
	}
	CHECK(v == RW_VERDICT_DENY);
	CHECK(d.status == 400 || d.status == 403);
	CHECK(!d.counts_push_op && !d.meters_upload);
	CHECK(!strcmp(d.reason, "content_type_duplicate") ||
	      !strcmp(d.reason, "content_type_invalid") || !strcmp(d.reason, "form_body") ||
	      !strcmp(d.reason, "upload_start_body"));
	CHECK(body || rw_http_field_get(req, "Content-Type") != NULL);
}

/* Feed data[0..len) once and in random splits; return the verdict and
 * how much belonged to the body. */
static enum rw_inspect_result frame_body(const struct rw_http_req *req, const uint8_t *data,
					 size_t len, size_t *used)
{
	struct rw_http_body whole, split;
	size_t c1, p1;
	rw_http_body_init(&whole, req);
	enum rw_inspect_result r1 = rw_http_body_feed(&whole, data, len, &c1, &p1);
	CHECK(c1 <= len && p1 <= c1);
	if (r1 == RW_INSPECT_MORE)
		CHECK(c1 == len);

	rw_http_body_init(&split, req);
	size_t off = 0, ptotal = 0;
	enum rw_inspect_result r2 = RW_INSPECT_MORE;
	while (off < len) {
		size_t n = 1 + (size_t)(next_rand() % (len - off));
		if (next_rand() % 4 == 0)
			n = 1;
		size_t c, p;
		r2 = rw_http_body_feed(&split, data + off, n, &c, &p);
		CHECK(c <= n && p <= c);
		off += c;
		ptotal += p;
		if (r2 != RW_INSPECT_MORE)
			break;
		CHECK(c == n);
	}
	if (len == 0) {
		size_t c, p;
		r2 = rw_http_body_feed(&split, data, 0, &c, &p);
		CHECK(c == 0);
	}
	CHECK(r2 == r1);
	if (r1 != RW_INSPECT_REFUSE) {
		CHECK(off == c1);
		CHECK(ptotal == p1);
	}
	if (r1 != RW_INSPECT_MORE) {
		size_t c, p;
		CHECK(rw_http_body_feed(&split, data, len, &c, &p) == r1 && c == 0 && p == 0);
	}
	if (r1 == RW_INSPECT_OK && req->framing == RW_HTTP_BODY_LENGTH)
		CHECK(p1 == req->content_length);
	if (r1 == RW_INSPECT_REFUSE)
		CHECK(whole.status >= 400);
	*used = c1;
	return r1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct rw_http_req req;
	uint64_t h = 1469598103934665603ULL;
	for (size_t i = 0; i < size; i++)
		h = (h ^ data[i]) * 1099511628211ULL;
	rng = h | 1;

	size_t pos = 0;
	for (int n = 0; n < 16 && pos < size; n++) {
		enum rw_inspect_result r = rw_http_parse_head(data + pos, size - pos, &req);
		check_head(data + pos, size - pos, &req, r);
		if (r != RW_INSPECT_OK)
			break;
		check_body_decision(&req);
		pos += req.head_len;
		size_t used;
		r = frame_body(&req, data + pos, size - pos, &used);
		pos += used;
		if (r != RW_INSPECT_OK)
			break;
		if (!req.keep_alive)
			break;
	}
	CHECK(pos <= size);
	return 0;
}
