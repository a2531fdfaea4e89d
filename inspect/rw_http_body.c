/* HTTP/1.1 message body framing (RFC 9112 §6, §7.1), streaming.
 *
 * Content-Length:   <content_length payload bytes>
 *
 * chunked:          1a;name=value\r\n          chunk-size (hex) [ext] CRLF
 *                   <0x1a payload bytes>\r\n    chunk-data CRLF
 *                   ...
 *                   0\r\n                       last-chunk
 *                   Trailer-Name: value\r\n     trailer section (bounded)
 *                   \r\n                        end of body
 *
 * A byte-at-a-time state machine for framing bytes and a bulk skip for
 * payload, so any split of the stream gives the same result and no payload
 * is ever copied. The decoder never looks into payload bytes. */
#include "inspect/rw_http.h"

#include <string.h>

#include "base/rw_cursor.h"

#define RW_HTTP_SIZE_MAX UINT64_C(0x7fffffffffffffff)

void rw_http_body_init(struct rw_http_body *b, const struct rw_http_req *req)
{
	memset(b, 0, sizeof(*b));
	switch (req->framing) {
	case RW_HTTP_BODY_LENGTH:
		b->remaining = req->content_length;
		b->state = b->remaining ? RW_HTTP_B_LENGTH : RW_HTTP_B_DONE;
		break;
	case RW_HTTP_BODY_CHUNKED:
		b->state = RW_HTTP_B_SIZE;
		break;
	case RW_HTTP_BODY_NONE:
	default:
		/* A request without either field has no body (RFC 9112 §6.3 #7). */
		b->state = RW_HTTP_B_DONE;
		break;
	}
}

static enum rw_inspect_result body_refuse(struct rw_http_body *b, enum rw_http_refuse r)
{
	b->state = RW_HTTP_B_REFUSED;
	b->refuse = r;
	b->status = rw_http_refuse_status(r);
	return RW_INSPECT_REFUSE;
}

static int hexval(uint8_t c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Counts a trailer byte against the section limit. */
static bool trailer_byte(struct rw_http_body *b)
{
	return ++b->trailer_len <= RW_HTTP_MAX_TRAILER;
}

/* One framing byte. Returns MORE to go on, OK at the end, REFUSE. */
static enum rw_inspect_result step(struct rw_http_body *b, uint8_t c)
{
	int v;
	switch (b->state) {
	case RW_HTTP_B_SIZE:
		if ((v = hexval(c)) >= 0) {
			if (b->chunk_size > (RW_HTTP_SIZE_MAX - (uint64_t)v) / 16)
				return body_refuse(b, RW_HTTP_REFUSE_CHUNK_TOO_LARGE);
			b->chunk_size = b->chunk_size * 16 + (uint64_t)v;
			b->size_digits++;
			return RW_INSPECT_MORE;
		}
		if (b->size_digits == 0)
			return body_refuse(b, RW_HTTP_REFUSE_CHUNK_SIZE);
		if (c == ';') {
			b->ext_len = 1;
			b->state = RW_HTTP_B_EXT;
			return RW_INSPECT_MORE;
		}
		if (c == '\r') {
			b->state = RW_HTTP_B_SIZE_LF;
			return RW_INSPECT_MORE;
		}
		/* BWS before ';' is legal but nobody sends it; whitespace and
		 * LF-only endings are classic smuggling tools: refuse. */
		return body_refuse(b, RW_HTTP_REFUSE_CHUNK_SIZE);
	case RW_HTTP_B_EXT:
		if (c == '\r') {
			b->state = RW_HTTP_B_SIZE_LF;
			return RW_INSPECT_MORE;
		}
		if (!rw_http_is_field_char(c))
			return body_refuse(b, RW_HTTP_REFUSE_CHUNK_EXT_CHAR);
		if (++b->ext_len > RW_HTTP_MAX_CHUNK_EXT)
			return body_refuse(b, RW_HTTP_REFUSE_CHUNK_EXT_TOO_LONG);
		return RW_INSPECT_MORE;
	case RW_HTTP_B_SIZE_LF:
		if (c != '\n')
			return body_refuse(b, RW_HTTP_REFUSE_CHUNK_SIZE);
		b->remaining = b->chunk_size;
		b->chunk_size = 0;
		b->size_digits = 0;
		b->ext_len = 0;
		b->state = b->remaining ? RW_HTTP_B_DATA : RW_HTTP_B_TRAILER_BOL;
		return RW_INSPECT_MORE;
	case RW_HTTP_B_DATA_CR:
		if (c != '\r')
			return body_refuse(b, RW_HTTP_REFUSE_CHUNK_CRLF);
		b->state = RW_HTTP_B_DATA_LF;
		return RW_INSPECT_MORE;
	case RW_HTTP_B_DATA_LF:
		if (c != '\n')
			return body_refuse(b, RW_HTTP_REFUSE_CHUNK_CRLF);
		b->state = RW_HTTP_B_SIZE;
		return RW_INSPECT_MORE;
	case RW_HTTP_B_TRAILER_BOL:
		if (!trailer_byte(b))
			return body_refuse(b, RW_HTTP_REFUSE_TRAILER_TOO_LONG);
		if (c == '\r') {
			b->state = RW_HTTP_B_FINAL_LF;
			return RW_INSPECT_MORE;
		}
		if (!rw_http_is_tchar(c))
			return body_refuse(b, RW_HTTP_REFUSE_TRAILER_SYNTAX);
		if (++b->n_trailers > RW_HTTP_MAX_TRAILERS)
			return body_refuse(b, RW_HTTP_REFUSE_TRAILER_TOO_LONG);
		b->state = RW_HTTP_B_TRAILER_NAME;
		return RW_INSPECT_MORE;
	case RW_HTTP_B_TRAILER_NAME:
		if (!trailer_byte(b))
			return body_refuse(b, RW_HTTP_REFUSE_TRAILER_TOO_LONG);
		if (c == ':')
			b->state = RW_HTTP_B_TRAILER_VALUE;
		else if (!rw_http_is_tchar(c))
			return body_refuse(b, RW_HTTP_REFUSE_TRAILER_SYNTAX);
		return RW_INSPECT_MORE;
	case RW_HTTP_B_TRAILER_VALUE:
		if (!trailer_byte(b))
			return body_refuse(b, RW_HTTP_REFUSE_TRAILER_TOO_LONG);
		if (c == '\r')
			b->state = RW_HTTP_B_TRAILER_LF;
		else if (!rw_http_is_field_char(c))
			return body_refuse(b, RW_HTTP_REFUSE_TRAILER_SYNTAX);
		return RW_INSPECT_MORE;
	case RW_HTTP_B_TRAILER_LF:
		if (!trailer_byte(b))
			return body_refuse(b, RW_HTTP_REFUSE_TRAILER_TOO_LONG);
		if (c != '\n')
			return body_refuse(b, RW_HTTP_REFUSE_TRAILER_SYNTAX);
		b->state = RW_HTTP_B_TRAILER_BOL;
		return RW_INSPECT_MORE;
	case RW_HTTP_B_FINAL_LF:
		if (c != '\n')
			return body_refuse(b, RW_HTTP_REFUSE_TRAILER_SYNTAX);
		b->state = RW_HTTP_B_DONE;
		return RW_INSPECT_OK;
	case RW_HTTP_B_LENGTH:
	case RW_HTTP_B_DATA:
	case RW_HTTP_B_DONE:
	case RW_HTTP_B_REFUSED:
		break;
	}
	/* Payload states are handled by the caller; reaching here is a bug. */
	return body_refuse(b, RW_HTTP_REFUSE_CHUNK_SIZE);
}

enum rw_inspect_result rw_http_body_feed(struct rw_http_body *b, const uint8_t *data, size_t len,
					 size_t *consumed, size_t *payload_bytes)
{
	struct rw_cursor c;
	size_t payload = 0;
	enum rw_inspect_result r = RW_INSPECT_MORE;

	rw_cur_init(&c, data, len);
	*consumed = 0;
	*payload_bytes = 0;
	if (b->state == RW_HTTP_B_DONE)
		return RW_INSPECT_OK;
	if (b->state == RW_HTTP_B_REFUSED)
		return RW_INSPECT_REFUSE;

	while (rw_cur_left(&c) > 0) {
		if (b->state == RW_HTTP_B_LENGTH || b->state == RW_HTTP_B_DATA) {
			size_t n = rw_cur_left(&c);
			if ((uint64_t)n > b->remaining)
				n = (size_t)b->remaining;
			rw_cur_skip(&c, n);
			payload += n;
			b->remaining -= n;
			b->total_payload += n;
			if (b->remaining == 0) {
				if (b->state == RW_HTTP_B_LENGTH) {
					b->state = RW_HTTP_B_DONE;
					r = RW_INSPECT_OK;
					break;
				}
				b->state = RW_HTTP_B_DATA_CR;
			}
			continue;
		}
		uint8_t byte;
		rw_cur_u8(&c, &byte);
		r = step(b, byte);
		if (r == RW_INSPECT_REFUSE) {
			c.off--; /* point at the offending byte */
			break;
		}
		if (r == RW_INSPECT_OK)
			break;
	}
	*consumed = c.off;
	*payload_bytes = payload;
	return r;
}
