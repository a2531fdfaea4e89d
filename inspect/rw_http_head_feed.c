/* Incremental front of the request head parser, for heads that arrive in
 * pieces. rw_http_parse_head() re-reads from the start on every call,
 * which is right for its determinism but makes a head sent a byte at a
 * time cost O(n^2) (32 KiB of fields: half a billion byte steps). This
 * remembers how far it has looked and runs the full parse only when it
 * can change the answer soon:
 *   - the new bytes hold an LF: a line ended, so the head may be complete
 *     (a head can only end on an LF) or a line may be refusable;
 *   - the buffer has at least doubled since the last full parse;
 *   - the buffer has just crossed the request-line limit.
 * Otherwise the answer is MORE, found with one memchr over the new bytes.
 * Full parses per head: at most one per LF-carrying read (the parser
 * refuses past 100 field lines) plus log2 of the size, so the total is
 * linear in practice and bounded in the worst case. */
#include "inspect/rw_http.h"

#include <string.h>

void rw_http_head_feed_init(struct rw_http_head_feed *s)
{
	memset(s, 0, sizeof(*s));
}

enum rw_inspect_result rw_http_head_feed(struct rw_http_head_feed *s, const uint8_t *buf,
					 size_t len, struct rw_http_req *req)
{
	bool parse;

	if (s->parses == 0 || len < s->seen) {
		parse = true; /* first look, or the caller started over */
	} else {
		size_t from = s->seen;
		parse = (len - from > 0 && memchr(buf + from, '\n', len - from) != NULL) ||
			len / 2 >= s->parsed ||
			(s->parsed < RW_HTTP_MAX_LINE && len >= RW_HTTP_MAX_LINE);
	}
	s->seen = len;
	if (!parse)
		return RW_INSPECT_MORE;
	s->parsed = len;
	s->parses++;
	return rw_http_parse_head(buf, len, req);
}
