/* HTTP/1.1 request head parser (RFC 9112 §3, §5), strict.
 *
 *   GET /v2/team/app/manifests/v1 HTTP/1.1\r\n       request line, <= 8 KiB
 *   Host: registry.example.test\r\n                  \
 *   Content-Length: 578\r\n                           | field block, <= 32 KiB,
 *   ...\r\n                                           | <= 100 lines
 *   \r\n                                             /
 *
 * One left-to-right pass over the cursor. Every refusal is decided at the
 * first byte that makes the head unacceptable, and the length limits are
 * checked before a byte is looked at, so the verdict for a prefix never
 * changes when more bytes arrive (the fuzz harness checks this).
 *
 * Speed: runs of ordinary bytes (token, target and value characters) are
 * skipped by scan() with one table lookup per byte, bounded by both the
 * buffer and the current length limit; only the byte that ends a run goes
 * through the careful per-byte code. The verdicts and offsets are the
 * byte-at-a-time ones (tests/unit/test_http_head_diff.c compares with the
 * previous byte-at-a-time parser). */
#include "inspect/rw_http.h"

#include <string.h>

#include "inspect/rw_cursor.h"

struct hp {
	struct rw_cursor c;
	struct rw_http_req *req;
	size_t limit_end; /* absolute offset no byte of the current part may reach */
	enum rw_http_refuse limit_reason;
	bool seen_host, seen_cl, seen_te;
	bool conn_close, conn_keep;
};

/* Internal: 0 = got a byte, otherwise an rw_inspect_result. */
#define HP_GOT 0
#define HP_MORE ((int)RW_INSPECT_MORE + 100)
#define HP_REFUSE ((int)RW_INSPECT_REFUSE + 100)

static int refuse(struct hp *h, enum rw_http_refuse r, size_t at)
{
	h->req->refuse = r;
	h->req->status = rw_http_refuse_status(r);
	h->req->refuse_at = at;
	return HP_REFUSE;
}

static int next(struct hp *h, uint8_t *c)
{
	if (h->c.off >= h->limit_end)
		return refuse(h, h->limit_reason, h->c.off);
	if (rw_cur_u8(&h->c, c))
		return HP_MORE;
	return HP_GOT;
}

/* Eight bytes at a time for field values, where most of a head's bytes
 * are: true when none of the eight is below 0x20 or 0x7f, i.e. all are
 * field characters except that HT (allowed) also says false and goes to
 * the byte loop. Classic SWAR "has byte less than n" / "has zero byte"
 * tests (bytes >= 0x80 never flag). */
static inline bool field_word_plain(uint64_t w)
{
	const uint64_t ones = UINT64_C(0x0101010101010101), high = UINT64_C(0x8080808080808080);
	uint64_t lt20 = (w - ones * 0x20) & ~w & high;
	uint64_t d = w ^ (ones * 0x7f);
	uint64_t eq7f = (d - ones) & ~d & high;
	return (lt20 | eq7f) == 0;
}

/* Skip the bytes of class cls from the cursor on, stopping at the current
 * length limit. Returns HP_GOT with the cursor on the first other byte
 * (not consumed), or what next() would have answered at the stop: the
 * limit refusal if the run reaches it, else HP_MORE. */
static int scan(struct hp *h, uint8_t cls)
{
	const uint8_t *b = h->c.buf;
	size_t i = h->c.off, stop = h->c.len < h->limit_end ? h->c.len : h->limit_end;
	if (stop < i) /* cannot happen (next() never passes the limit); keeps stop - i sane */
		stop = i;
	if (cls == RW_HTTP_C_FIELD) {
		uint64_t w;
		while (stop - i >= 8) {
			memcpy(&w, b + i, 8);
			if (!field_word_plain(w))
				break;
			i += 8;
		}
	}
	while (stop - i >= 4 && (rw_http_ctype[b[i]] & rw_http_ctype[b[i + 1]] &
				 rw_http_ctype[b[i + 2]] & rw_http_ctype[b[i + 3]] & cls))
		i += 4;
	while (i < stop && (rw_http_ctype[b[i]] & cls))
		i++;
	h->c.off = i;
	if (i >= h->limit_end)
		return refuse(h, h->limit_reason, i);
	if (i >= h->c.len)
		return HP_MORE;
	return HP_GOT;
}

/* The LF after a CR we just consumed. */
static int want_lf(struct hp *h)
{
	uint8_t c;
	int r = next(h, &c);
	if (r != HP_GOT)
		return r;
	if (c != '\n')
		return refuse(h, RW_HTTP_REFUSE_BARE_CR, h->c.off - 2);
	return HP_GOT;
}

static bool is_hex(uint8_t c)
{
	return rw_http_ctype[c] & RW_HTTP_C_HEX;
}

/* pchar / "/" / "?" minus pct-encoded (RFC 3986). Excludes '#', '\\',
 * brackets, quotes, controls and non-ASCII. */
static bool is_target_char(uint8_t c)
{
	return rw_http_ctype[c] & RW_HTTP_C_TARGET;
}

static const struct {
	const char *tok;
	enum rw_http_method m;
} methods[] = {
	{ "GET", RW_HTTP_GET },     { "HEAD", RW_HTTP_HEAD },   { "POST", RW_HTTP_POST },
	{ "PUT", RW_HTTP_PUT },     { "PATCH", RW_HTTP_PATCH }, { "DELETE", RW_HTTP_DELETE },
};

static bool span_is(struct rw_http_span s, const char *lit)
{
	return s.len == strlen(lit) && memcmp(s.ptr, lit, s.len) == 0;
}

static int parse_method(struct hp *h)
{
	size_t start = h->c.off;
	uint8_t c;
	int r;
	for (;;) {
		if ((r = scan(h, RW_HTTP_C_TCHAR)) != HP_GOT || (r = next(h, &c)) != HP_GOT)
			return r;
		if (c == ' ')
			break;
		if (c == '\r' || c == '\n') {
			if (h->c.off - 1 == start)
				return refuse(h, RW_HTTP_REFUSE_LEADING_EMPTY_LINE, start);
			return refuse(h, RW_HTTP_REFUSE_LINE_SYNTAX, h->c.off - 1);
		}
		if (!rw_http_is_tchar(c))
			return refuse(h, c < 0x20 || c == 0x7f ? RW_HTTP_REFUSE_CTL_CHAR
							   : RW_HTTP_REFUSE_METHOD_CHAR,
				      h->c.off - 1);
	}
	struct rw_http_span m = { h->c.buf + start, h->c.off - 1 - start };
	if (m.len == 0)
		return refuse(h, RW_HTTP_REFUSE_LINE_SYNTAX, start);
	h->req->method_tok = m;
	/* Method names are case-sensitive (RFC 9110 §9.1). */
	if (span_is(m, "PRI"))
		return refuse(h, RW_HTTP_REFUSE_H2_PREFACE, start);
	for (size_t i = 0; i < sizeof(methods) / sizeof(methods[0]); i++) {
		if (span_is(m, methods[i].tok)) {
			h->req->method = methods[i].m;
			return HP_GOT;
		}
	}
	return refuse(h, RW_HTTP_REFUSE_METHOD_UNSUPPORTED, start);
}

static int parse_target(struct hp *h)
{
	size_t start = h->c.off;
	uint8_t c;
	int r;
	if ((r = next(h, &c)) != HP_GOT)
		return r;
	if (c != '/') {
		/* "*", "http://host/..." and "host:port" all land here. */
		if (c == ' ' || c == '\r' || c == '\n')
			return refuse(h, RW_HTTP_REFUSE_LINE_SYNTAX, start);
		return refuse(h, RW_HTTP_REFUSE_TARGET_FORM, start);
	}
	for (;;) {
		if ((r = scan(h, RW_HTTP_C_TARGET)) != HP_GOT || (r = next(h, &c)) != HP_GOT)
			return r;
		if (c == ' ')
			break;
		if (c == '\r' || c == '\n')
			return refuse(h, RW_HTTP_REFUSE_HTTP09, h->c.off - 1);
		if (c == '%') {
			uint8_t d;
			for (int i = 0; i < 2; i++) {
				if ((r = next(h, &d)) != HP_GOT)
					return r;
				if (!is_hex(d))
					return refuse(h, RW_HTTP_REFUSE_TARGET_CHAR, h->c.off - 1);
			}
			continue;
		}
		if (!is_target_char(c))
			return refuse(h, c < 0x20 || c == 0x7f ? RW_HTTP_REFUSE_CTL_CHAR
							   : RW_HTTP_REFUSE_TARGET_CHAR,
				      h->c.off - 1);
	}
	h->req->target.ptr = h->c.buf + start;
	h->req->target.len = h->c.off - 1 - start;
	return HP_GOT;
}

/* "HTTP/" DIGIT "." DIGIT CRLF; the name is case-sensitive. */
static int parse_version(struct hp *h)
{
	static const char shape[] = "HTTP/d.d";
	uint8_t c, major = 0, minor = 0;
	int r;
	for (size_t i = 0; i < sizeof(shape) - 1; i++) {
		if ((r = next(h, &c)) != HP_GOT)
			return r;
		if (shape[i] == 'd') {
			if (c < '0' || c > '9')
				return refuse(h, RW_HTTP_REFUSE_VERSION_SYNTAX, h->c.off - 1);
			if (i == 5)
				major = (uint8_t)(c - '0');
			else
				minor = (uint8_t)(c - '0');
		} else if (c != (uint8_t)shape[i]) {
			if (c == ' ')
				return refuse(h, RW_HTTP_REFUSE_LINE_SYNTAX, h->c.off - 1);
			return refuse(h, RW_HTTP_REFUSE_VERSION_SYNTAX, h->c.off - 1);
		}
	}
	if ((r = next(h, &c)) != HP_GOT)
		return r;
	if (c == '\n')
		return refuse(h, RW_HTTP_REFUSE_BARE_LF, h->c.off - 1);
	if (c == ' ')
		return refuse(h, RW_HTTP_REFUSE_LINE_SYNTAX, h->c.off - 1);
	if (c != '\r')
		return refuse(h, RW_HTTP_REFUSE_VERSION_SYNTAX, h->c.off - 1);
	if ((r = want_lf(h)) != HP_GOT)
		return r;
	if (major != 1 || minor > 1)
		return refuse(h, RW_HTTP_REFUSE_VERSION_UNSUPPORTED, h->c.off - 10);
	h->req->version_minor = minor;
	return HP_GOT;
}

/* Comma-separated list of tokens with optional whitespace around commas
 * (RFC 9110 §5.6.1). Empty elements are refused here although recipients
 * may skip them: nobody legitimate sends them. Returns 1 and the element,
 * 0 at the end, -1 on bad syntax. */
static int list_next(struct rw_cursor *lc, struct rw_http_span *elem)
{
	uint8_t c;
	if (rw_cur_left(lc) == 0)
		return 0;
	if (lc->off > 0) {
		/* not the first element: expect OWS "," OWS */
		while (rw_cur_peek_u8(lc, 0, &c) == 0 && (c == ' ' || c == '\t'))
			rw_cur_skip(lc, 1);
		if (rw_cur_u8(lc, &c) || c != ',')
			return -1;
		while (rw_cur_peek_u8(lc, 0, &c) == 0 && (c == ' ' || c == '\t'))
			rw_cur_skip(lc, 1);
	}
	elem->ptr = rw_cur_ptr(lc);
	elem->len = 0;
	while (rw_cur_peek_u8(lc, 0, &c) == 0 && rw_http_is_tchar(c)) {
		rw_cur_skip(lc, 1);
		elem->len++;
	}
	if (elem->len == 0)
		return -1;
	return 1;
}

static int field_content_length(struct hp *h, struct rw_http_span v, size_t at)
{
	if (h->seen_cl)
		return refuse(h, RW_HTTP_REFUSE_CL_DUPLICATE, at);
	if (h->seen_te)
		return refuse(h, RW_HTTP_REFUSE_CL_AND_TE, at);
	h->seen_cl = true;
	if (v.len == 0)
		return refuse(h, RW_HTTP_REFUSE_CL_INVALID, at);
	uint64_t n = 0;
	bool big = false;
	for (size_t i = 0; i < v.len; i++) {
		uint8_t c = v.ptr[i];
		if (c < '0' || c > '9')
			return refuse(h, RW_HTTP_REFUSE_CL_INVALID, at);
		if (n > (UINT64_C(0x7fffffffffffffff) - (uint64_t)(c - '0')) / 10)
			big = true;
		else
			n = n * 10 + (uint64_t)(c - '0');
	}
	if (big)
		return refuse(h, RW_HTTP_REFUSE_CL_TOO_LARGE, at);
	h->req->framing = RW_HTTP_BODY_LENGTH;
	h->req->content_length = n;
	return HP_GOT;
}

static bool is_known_coding(struct rw_http_span s)
{
	static const char *const known[] = { "chunked", "gzip", "x-gzip", "deflate", "compress",
					     "x-compress" };
	for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++)
		if (rw_http_span_eq(s, known[i]))
			return true;
	return false;
}

/* Only "Transfer-Encoding: chunked" exactly. Unknown codings are 501 (RFC
 * 9112 §6.1); chunked not final, or twice, is 400 (§6.3); known codings
 * stacked under chunked ("gzip, chunked") are valid HTTP that the registry
 * API never needs: 501. */
static int field_transfer_encoding(struct hp *h, struct rw_http_span v, size_t at)
{
	if (h->seen_te)
		return refuse(h, RW_HTTP_REFUSE_TE_DUPLICATE, at);
	if (h->seen_cl)
		return refuse(h, RW_HTTP_REFUSE_CL_AND_TE, at);
	h->seen_te = true;
	if (h->req->version_minor == 0)
		return refuse(h, RW_HTTP_REFUSE_TE_HTTP10, at);
	struct rw_cursor lc;
	struct rw_http_span e;
	unsigned n = 0, n_chunked = 0;
	bool last_chunked = false;
	int r;
	rw_cur_init(&lc, v.ptr, v.len);
	while ((r = list_next(&lc, &e)) == 1) {
		if (!is_known_coding(e))
			return refuse(h, RW_HTTP_REFUSE_TE_UNKNOWN, at);
		last_chunked = rw_http_span_eq(e, "chunked");
		n_chunked += last_chunked;
		n++;
	}
	if (r < 0 || !last_chunked || n_chunked != 1)
		return refuse(h, RW_HTTP_REFUSE_TE_NOT_CHUNKED_FINAL, at);
	if (n != 1)
		return refuse(h, RW_HTTP_REFUSE_TE_UNSUPPORTED, at);
	h->req->framing = RW_HTTP_BODY_CHUNKED;
	return HP_GOT;
}

static int field_connection(struct hp *h, struct rw_http_span v, size_t at)
{
	struct rw_cursor lc;
	struct rw_http_span e;
	int r;
	rw_cur_init(&lc, v.ptr, v.len);
	if (v.len == 0)
		return refuse(h, RW_HTTP_REFUSE_CONNECTION_INVALID, at);
	while ((r = list_next(&lc, &e)) == 1) {
		if (rw_http_span_eq(e, "close"))
			h->conn_close = true;
		else if (rw_http_span_eq(e, "keep-alive"))
			h->conn_keep = true;
	}
	if (r < 0)
		return refuse(h, RW_HTTP_REFUSE_CONNECTION_INVALID, at);
	return HP_GOT;
}

/* reg-name or IP-literal, optional port. Deliberately narrower than RFC
 * 3986 (no userinfo, no pct-encoding, no sub-delims): the Host is compared
 * with the TLS name and the listener's names downstream. */
static bool host_valid(struct rw_http_span v)
{
	if (v.len == 0)
		return false;
	for (size_t i = 0; i < v.len; i++) {
		uint8_t c = v.ptr[i];
		bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
			  (c >= '0' && c <= '9') || c == '.' || c == '-' || c == '_' ||
			  c == ':' || c == '[' || c == ']';
		if (!ok)
			return false;
	}
	return true;
}

/* Case-insensitive compare with a lower-case literal of known length:
 * inline, so the common field that is none of ours costs a switch on its
 * length and nothing else. */
static inline bool name_is(struct rw_http_span s, const char *lit, size_t n)
{
	if (s.len != n)
		return false;
	for (size_t i = 0; i < n; i++) {
		uint8_t c = s.ptr[i];
		if (c >= 'A' && c <= 'Z')
			c = (uint8_t)(c + 32);
		if (c != (uint8_t)lit[i])
			return false;
	}
	return true;
}

#define NAME_IS(s, lit) name_is((s), (lit), sizeof(lit) - 1)

static int field_semantics(struct hp *h, struct rw_http_span name, struct rw_http_span v,
			   size_t at)
{
	switch (name.len) {
	case 4:
		if (NAME_IS(name, "host")) {
			if (h->seen_host)
				return refuse(h, RW_HTTP_REFUSE_HOST_DUPLICATE, at);
			h->seen_host = true;
			if (!host_valid(v))
				return refuse(h, RW_HTTP_REFUSE_HOST_INVALID, at);
			h->req->host = v;
		}
		break;
	case 6:
		if (NAME_IS(name, "expect")) {
			if (!rw_http_span_eq(v, "100-continue"))
				return refuse(h, RW_HTTP_REFUSE_EXPECT_UNSUPPORTED, at);
			h->req->expect_continue = true;
		}
		break;
	case 7:
		if (NAME_IS(name, "upgrade"))
			return refuse(h, RW_HTTP_REFUSE_UPGRADE, at);
		break;
	case 10:
		if (NAME_IS(name, "connection"))
			return field_connection(h, v, at);
		break;
	case 14:
		if (NAME_IS(name, "content-length"))
			return field_content_length(h, v, at);
		break;
	case 17:
		if (NAME_IS(name, "transfer-encoding"))
			return field_transfer_encoding(h, v, at);
		/* same length as the override header below */
		if (NAME_IS(name, "x-method-override"))
			return refuse(h, RW_HTTP_REFUSE_METHOD_OVERRIDE, at);
		break;
	/* These let a request claim a different method than its request line;
	 * the classifier decides on the request line alone, so refuse them. */
	case 13:
		if (NAME_IS(name, "x-http-method"))
			return refuse(h, RW_HTTP_REFUSE_METHOD_OVERRIDE, at);
		break;
	case 22:
		if (NAME_IS(name, "x-http-method-override"))
			return refuse(h, RW_HTTP_REFUSE_METHOD_OVERRIDE, at);
		break;
	default:
		break;
	}
	return HP_GOT;
}

/* field-line = field-name ":" OWS field-value OWS CRLF. The first byte was
 * already checked not to be CR, LF, SP or HT. */
static int parse_field(struct hp *h)
{
	size_t start = h->c.off;
	uint8_t c;
	int r;
	for (;;) {
		if ((r = scan(h, RW_HTTP_C_TCHAR)) != HP_GOT || (r = next(h, &c)) != HP_GOT)
			return r;
		if (c == ':')
			break;
		size_t at = h->c.off - 1;
		if (c == ' ' || c == '\t')
			return refuse(h, RW_HTTP_REFUSE_SPACE_BEFORE_COLON, at);
		if (c == '\r' || c == '\n')
			return refuse(h, RW_HTTP_REFUSE_NO_COLON, at);
		if (c < 0x20 || c == 0x7f)
			return refuse(h, RW_HTTP_REFUSE_CTL_CHAR, at);
		return refuse(h, RW_HTTP_REFUSE_NAME_CHAR, at);
	}
	struct rw_http_span name = { h->c.buf + start, h->c.off - 1 - start };
	if (name.len == 0)
		return refuse(h, RW_HTTP_REFUSE_EMPTY_NAME, start);
	size_t vstart = h->c.off;
	for (;;) {
		if ((r = scan(h, RW_HTTP_C_FIELD)) != HP_GOT || (r = next(h, &c)) != HP_GOT)
			return r;
		if (c == '\r') {
			if ((r = want_lf(h)) != HP_GOT)
				return r;
			break;
		}
		if (c == '\n')
			return refuse(h, RW_HTTP_REFUSE_BARE_LF, h->c.off - 1);
		if (!rw_http_is_field_char(c))
			return refuse(h, RW_HTTP_REFUSE_CTL_CHAR, h->c.off - 1);
	}
	struct rw_http_span v = { h->c.buf + vstart, h->c.off - 2 - vstart };
	while (v.len > 0 && (v.ptr[0] == ' ' || v.ptr[0] == '\t')) {
		v.ptr++;
		v.len--;
	}
	while (v.len > 0 && (v.ptr[v.len - 1] == ' ' || v.ptr[v.len - 1] == '\t'))
		v.len--;
	if ((r = field_semantics(h, name, v, start)) != HP_GOT)
		return r;
	struct rw_http_field *f = &h->req->fields[h->req->n_fields++];
	f->name = name;
	f->value = v;
	return HP_GOT;
}

static int parse_fields(struct hp *h)
{
	uint8_t c;
	int r;
	h->limit_end = h->c.off + RW_HTTP_MAX_FIELDS;
	h->limit_reason = RW_HTTP_REFUSE_FIELDS_TOO_LONG;
	for (;;) {
		if (h->c.off >= h->limit_end)
			return refuse(h, h->limit_reason, h->c.off);
		if (rw_cur_peek_u8(&h->c, 0, &c))
			return HP_MORE;
		if (c == '\r') {
			rw_cur_skip(&h->c, 1);
			return want_lf(h);
		}
		if (c == '\n')
			return refuse(h, RW_HTTP_REFUSE_BARE_LF, h->c.off);
		if (c == ' ' || c == '\t')
			return refuse(h, RW_HTTP_REFUSE_OBS_FOLD, h->c.off);
		if (h->req->n_fields >= RW_HTTP_MAX_HEADERS)
			return refuse(h, RW_HTTP_REFUSE_TOO_MANY_FIELDS, h->c.off);
		if ((r = parse_field(h)) != HP_GOT)
			return r;
	}
}

static enum rw_inspect_result verdict(int r)
{
	return r == HP_MORE ? RW_INSPECT_MORE : RW_INSPECT_REFUSE;
}

enum rw_inspect_result rw_http_parse_head(const uint8_t *buf, size_t len, struct rw_http_req *req)
{
	struct hp h;
	int r;
	/* everything but the 3 KB field table, whose entries count only below
	 * n_fields */
	memset(req, 0, offsetof(struct rw_http_req, fields));
	size_t tail = offsetof(struct rw_http_req, fields) + sizeof(req->fields);
	memset((uint8_t *)req + tail, 0, sizeof(*req) - tail);
	memset(&h, 0, sizeof(h));
	h.req = req;
	rw_cur_init(&h.c, buf, len);
	h.limit_end = RW_HTTP_MAX_LINE;
	h.limit_reason = RW_HTTP_REFUSE_LINE_TOO_LONG;

	if ((r = parse_method(&h)) != HP_GOT || (r = parse_target(&h)) != HP_GOT ||
	    (r = parse_version(&h)) != HP_GOT || (r = parse_fields(&h)) != HP_GOT)
		return verdict(r);

	size_t end = h.c.off;
	if (!h.seen_host) {
		refuse(&h, RW_HTTP_REFUSE_HOST_MISSING, end);
		return RW_INSPECT_REFUSE;
	}
	req->keep_alive = req->version_minor == 1 ? !h.conn_close : (h.conn_keep && !h.conn_close);
	req->head_len = end;
	return RW_INSPECT_OK;
}
