/* Response body framing (see rw_httpresp.h).
 *
 *   NONE:     (nothing; the next response starts right after the head)
 *   LENGTH:   <Content-Length payload bytes>
 *   CHUNKED:  1a\r\n <26 bytes> \r\n ... 0\r\n [trailers] \r\n
 *   CLOSE:    <payload> ... EOF
 *
 * Chunked framing is the request side's decoder (rw_http_body_*): one
 * implementation of the chunk grammar and its limits for both directions,
 * so a fix there protects both. */
#include "inspect/rw_httpresp.h"

#include <string.h>

/* The request decoder is initialised from a request head; only its
 * framing field matters to it. */
static const struct rw_http_req rw_httpresp_chunked_req = { .framing = RW_HTTP_BODY_CHUNKED };

void rw_httpresp_body_init(struct rw_httpresp_body *b, const struct rw_httpresp *resp)
{
	memset(b, 0, sizeof(*b));
	b->kind = resp->body;
	switch (b->kind) {
	case RW_HTTPRESP_BODY_LENGTH:
		b->remaining = resp->content_length;
		b->done = b->remaining == 0;
		break;
	case RW_HTTPRESP_BODY_CHUNKED:
		rw_http_body_init(&b->chunked, &rw_httpresp_chunked_req);
		break;
	case RW_HTTPRESP_BODY_CLOSE:
		break;
	case RW_HTTPRESP_BODY_NONE:
	default:
		b->kind = RW_HTTPRESP_BODY_NONE;
		b->done = true;
		break;
	}
}

enum rw_inspect_result rw_httpresp_body_feed(struct rw_httpresp_body *b, const uint8_t *data,
					     size_t len, size_t *consumed, size_t *payload_bytes)
{
	*consumed = 0;
	*payload_bytes = 0;
	if (b->refuse != RW_HTTPRESP_REFUSE_NONE)
		return RW_INSPECT_REFUSE;
	if (b->done)
		return RW_INSPECT_OK;
	switch (b->kind) {
	case RW_HTTPRESP_BODY_LENGTH: {
		size_t n = len;
		if ((uint64_t)n > b->remaining)
			n = (size_t)b->remaining;
		b->remaining -= n;
		b->total_payload += n;
		*consumed = n;
		*payload_bytes = n;
		if (b->remaining == 0) {
			b->done = true;
			return RW_INSPECT_OK;
		}
		return RW_INSPECT_MORE;
	}
	case RW_HTTPRESP_BODY_CHUNKED: {
		enum rw_inspect_result r =
			rw_http_body_feed(&b->chunked, data, len, consumed, payload_bytes);
		b->total_payload += *payload_bytes;
		if (r == RW_INSPECT_OK) {
			b->done = true;
		} else if (r == RW_INSPECT_REFUSE) {
			b->refuse = RW_HTTPRESP_REFUSE_CHUNK;
			b->chunk_refuse = b->chunked.refuse;
		}
		return r;
	}
	case RW_HTTPRESP_BODY_CLOSE:
		b->total_payload += len;
		*consumed = len;
		*payload_bytes = len;
		return RW_INSPECT_MORE;
	case RW_HTTPRESP_BODY_NONE:
	default:
		b->done = true;
		return RW_INSPECT_OK;
	}
}

enum rw_inspect_result rw_httpresp_body_eof(struct rw_httpresp_body *b)
{
	if (b->refuse != RW_HTTPRESP_REFUSE_NONE)
		return RW_INSPECT_REFUSE;
	if (b->done)
		return RW_INSPECT_OK;
	if (b->kind == RW_HTTPRESP_BODY_CLOSE) {
		b->done = true;
		return RW_INSPECT_OK;
	}
	b->refuse = RW_HTTPRESP_REFUSE_TRUNCATED;
	return RW_INSPECT_REFUSE;
}
