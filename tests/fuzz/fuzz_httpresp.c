/* Upstream responses are untrusted bytes (a compromised or confused
 * registry). Input: byte 0 picks the request method (odd = HEAD) and
 * byte 1 a split point for the body feed; the rest is the response stream.
 * Checks: spans stay inside the input, a head is never OK on fewer bytes,
 * and body framing does not depend on how the bytes are split. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "inspect/rw_httpresp.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void in_input(struct rw_http_span s, const uint8_t *buf, size_t len)
{
	if (s.len == 0)
		return;
	if (s.ptr < buf || s.ptr > buf + len || s.len > (size_t)(buf + len - s.ptr))
		abort();
}

/* Frame one body over buf[0..len) whole, and again split at 'cut';
 * both must agree. Returns bytes consumed, or (size_t)-1 to stop. */
static size_t frame_body(const struct rw_httpresp *r, const uint8_t *buf, size_t len, size_t cut)
{
	struct rw_httpresp_body a, b;
	size_t ua, pa, u1, p1, u2 = 0, p2 = 0;
	rw_httpresp_body_init(&a, r);
	rw_httpresp_body_init(&b, r);
	enum rw_inspect_result ra = rw_httpresp_body_feed(&a, buf, len, &ua, &pa);
	if (cut > len)
		cut = len;
	enum rw_inspect_result rb = rw_httpresp_body_feed(&b, buf, cut, &u1, &p1);
	if (rb == RW_INSPECT_MORE) {
		if (u1 != cut)
			abort();
		rb = rw_httpresp_body_feed(&b, buf + cut, len - cut, &u2, &p2);
	}
	if (ra == RW_INSPECT_MORE && rb == RW_INSPECT_MORE && ua != len)
		abort();
	if (ra != rb)
		abort();
	if (ra == RW_INSPECT_OK && (ua != u1 + u2 || pa != p1 + p2))
		abort();
	if (ua > len || pa > ua)
		abort();
	if (ra != RW_INSPECT_OK)
		return (size_t)-1;
	return ua;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct rw_httpresp r, r2;
	if (size < 2)
		return 0;
	enum rw_http_method m = (data[0] & 1) ? RW_HTTP_HEAD : RW_HTTP_GET;
	size_t cut = data[1];
	const uint8_t *buf = data + 2;
	size_t len = size - 2, off = 0;
	for (int n = 0; n < 8 && off < len; n++) {
		enum rw_inspect_result res = rw_httpresp_parse_head(buf + off, len - off, m, &r);
		if (res != RW_INSPECT_OK) {
			if (res == RW_INSPECT_REFUSE && r.refuse_at > len - off)
				abort();
			return 0;
		}
		if (r.head_len == 0 || r.head_len > len - off || r.head_len > RW_HTTPRESP_MAX_HEAD)
			abort();
		if (r.n_fields > RW_HTTPRESP_MAX_HEADERS || r.status < 100 || r.status > 599)
			abort();
		for (size_t i = 0; i < r.n_fields; i++) {
			in_input(r.fields[i].name, buf + off, r.head_len);
			in_input(r.fields[i].value, buf + off, r.head_len);
		}
		in_input(r.digest, buf + off, r.head_len);
		in_input(r.location, buf + off, r.head_len);
		if (r.body == RW_HTTPRESP_BODY_CLOSE && r.keep_alive)
			abort();
		if (rw_httpresp_parse_head(buf + off, r.head_len - 1, m, &r2) != RW_INSPECT_MORE)
			abort();
		off += r.head_len;
		if (r.interim)
			continue;
		size_t used = frame_body(&r, buf + off, len - off, cut);
		if (used == (size_t)-1)
			return 0;
		off += used;
	}
	return 0;
}
