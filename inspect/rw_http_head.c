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
#ifdef __SSE2__
#include <emmintrin.h>
#endif

#include "base/rw_cursor.h"

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

#ifdef __SSE2__
/* Sixteen bytes per step on the three long runs of a head (field names,
 * field values, the target), where x86-64 always has SSE2. Each class is
 * spelled as ranges of bytes it excludes, derived from the same
 * definitions as rw_http_ctype (rw_http.c); a mask bit per byte that is
 * NOT of the class, so the lowest set bit is the exact stop. The table and
 * SWAR loops below finish the last < 16 bytes and serve other machines. */

/* 0xff where lo <= byte <= hi (unsigned) */
static inline __m128i v_in(__m128i v, unsigned char lo, unsigned char hi)
{
	__m128i x = _mm_sub_epi8(v, _mm_set1_epi8((char)lo));
	return _mm_cmpeq_epi8(_mm_min_epu8(x, _mm_set1_epi8((char)(hi - lo))), x);
}

static inline __m128i v_eq(__m128i v, unsigned char c)
{
	return _mm_cmpeq_epi8(v, _mm_set1_epi8((char)c));
}

/* visible ASCII minus the excluded ranges */
static inline unsigned v_not_class(__m128i v, __m128i excluded)
{
	__m128i good = _mm_andnot_si128(excluded, v_in(v, 0x21, 0x7e));
	return ~(unsigned)_mm_movemask_epi8(good) & 0xffffu;
}

/* tchar: not  " ( ) , / : ; < = > ? @ [ \ ] { } */
static inline unsigned v_not_tchar(__m128i v)
{
	__m128i x = _mm_or_si128(_mm_or_si128(v_eq(v, 0x22), v_in(v, 0x28, 0x29)),
				 _mm_or_si128(v_eq(v, 0x2c), v_eq(v, 0x2f)));
	x = _mm_or_si128(x, _mm_or_si128(v_in(v, 0x3a, 0x40), v_in(v, 0x5b, 0x5d)));
	x = _mm_or_si128(x, _mm_or_si128(v_eq(v, 0x7b), v_eq(v, 0x7d)));
	return v_not_class(v, x);
}

/* target: not  " # % < > [ \ ] ^ ` { | } */
static inline unsigned v_not_target(__m128i v)
{
	__m128i x = _mm_or_si128(_mm_or_si128(v_in(v, 0x22, 0x23), v_eq(v, 0x25)),
				 _mm_or_si128(v_eq(v, 0x3c), v_eq(v, 0x3e)));
	x = _mm_or_si128(x, _mm_or_si128(v_in(v, 0x5b, 0x5e), v_eq(v, 0x60)));
	x = _mm_or_si128(x, v_in(v, 0x7b, 0x7d));
	return v_not_class(v, x);
}

/* field value: bytes below 0x20 (HT among them) and 0x7f stop the run */
static inline unsigned v_not_field(__m128i v)
{
	__m128i x = _mm_or_si128(v_in(v, 0x00, 0x1f), v_eq(v, 0x7f));
	return (unsigned)_mm_movemask_epi8(x);
}

static inline __m128i v_load(const uint8_t *p)
{
	return _mm_loadu_si128((const __m128i *)(const void *)p);
}
#endif

/* First index in [i, stop) whose byte is not of class cls, or stop. Eight
 * lookups ANDed per test on the long runs (targets carry 200-byte _state
 * values), then one at a time. */
static inline size_t run_of(const uint8_t *b, size_t i, size_t stop, uint8_t cls)
{
	const uint8_t *t = rw_http_ctype;
	while (stop - i >= 8 && (t[b[i]] & t[b[i + 1]] & t[b[i + 2]] & t[b[i + 3]] & t[b[i + 4]] &
				 t[b[i + 5]] & t[b[i + 6]] & t[b[i + 7]] & cls))
		i += 8;
	while (stop - i >= 4 && (t[b[i]] & t[b[i + 1]] & t[b[i + 2]] & t[b[i + 3]] & cls))
		i += 4;
	while (i < stop && (t[b[i]] & cls))
		i++;
	return i;
}

/* run_of for field names and for the target: sixteen bytes at a time
 * first where SSE2 is there. */
static size_t run_tchar(const uint8_t *b, size_t i, size_t stop)
{
#ifdef __SSE2__
	while (stop - i >= 16) {
		unsigned bad = v_not_tchar(v_load(b + i));
		if (bad)
			return i + (size_t)__builtin_ctz(bad);
		i += 16;
	}
#endif
	return run_of(b, i, stop, RW_HTTP_C_TCHAR);
}

static size_t run_target(const uint8_t *b, size_t i, size_t stop)
{
#ifdef __SSE2__
	while (stop - i >= 16) {
		unsigned bad = v_not_target(v_load(b + i));
		if (bad)
			return i + (size_t)__builtin_ctz(bad);
		i += 16;
	}
#endif
	return run_of(b, i, stop, RW_HTTP_C_TARGET);
}

/* The same for field values: first index in [i, stop) whose byte is not a
 * field character, or stop. Eight bytes per test (field_word_plain); in a
 * word that fails, the lowest flagged byte is exactly the first byte below
 * 0x20 or equal to 0x7f (borrows only run upwards from a true hit), so on
 * little-endian machines we land on it directly. HT is the one such byte
 * that belongs to a value: step over it and go on. */
static inline size_t field_run(const uint8_t *b, size_t i, size_t stop)
{
	const uint64_t ones = UINT64_C(0x0101010101010101), high = UINT64_C(0x8080808080808080);
	for (;;) {
#ifdef __SSE2__
		while (stop - i >= 16) {
			unsigned bad = v_not_field(v_load(b + i));
			if (bad) {
				i += (size_t)__builtin_ctz(bad);
				break;
			}
			i += 16;
		}
		if (i < stop && b[i] == '\t') {
			i++;
			continue;
		}
		if (i < stop && !(rw_http_ctype[b[i]] & RW_HTTP_C_FIELD))
			return i;
#endif
		while (stop - i >= 8) {
			uint64_t w;
			memcpy(&w, b + i, 8);
			uint64_t d = w ^ (ones * 0x7f);
			uint64_t m = ((w - ones * 0x20) & ~w & high) | ((d - ones) & ~d & high);
			if (m == 0) {
				i += 8;
				continue;
			}
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
			i += (size_t)__builtin_ctzll(m) >> 3;
#else
			while (rw_http_ctype[b[i]] & RW_HTTP_C_FIELD && b[i] != '\t')
				i++;
#endif
			break;
		}
		while (i < stop && (rw_http_ctype[b[i]] & RW_HTTP_C_FIELD) && b[i] != '\t')
			i++;
		if (i < stop && b[i] == '\t') {
			i++;
			continue;
		}
		return i;
	}
}

/* What next() would answer at index i where a run stopped at its bound:
 * the limit refusal if i reached the limit, else MORE. */
static int at_stop(struct hp *h, size_t i)
{
	h->c.off = i;
	if (i >= h->limit_end)
		return refuse(h, h->limit_reason, i);
	return HP_MORE;
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
	i = cls == RW_HTTP_C_FIELD ? field_run(b, i, stop)
	    : cls == RW_HTTP_C_TCHAR ? run_tchar(b, i, stop) : run_of(b, i, stop, cls);
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

static int method_is(struct hp *h, enum rw_http_method m)
{
	h->req->method = m;
	return HP_GOT;
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
	const char *t = (const char *)m.ptr;
	switch (m.len) {
	case 3:
		if (memcmp(t, "GET", 3) == 0)
			return method_is(h, RW_HTTP_GET);
		if (memcmp(t, "PUT", 3) == 0)
			return method_is(h, RW_HTTP_PUT);
		if (memcmp(t, "PRI", 3) == 0)
			return refuse(h, RW_HTTP_REFUSE_H2_PREFACE, start);
		break;
	case 4:
		if (memcmp(t, "HEAD", 4) == 0)
			return method_is(h, RW_HTTP_HEAD);
		if (memcmp(t, "POST", 4) == 0)
			return method_is(h, RW_HTTP_POST);
		break;
	case 5:
		if (memcmp(t, "PATCH", 5) == 0)
			return method_is(h, RW_HTTP_PATCH);
		break;
	case 6:
		if (memcmp(t, "DELETE", 6) == 0)
			return method_is(h, RW_HTTP_DELETE);
		break;
	default:
		break;
	}
	return refuse(h, RW_HTTP_REFUSE_METHOD_UNSUPPORTED, start);
}

/* Bounds kept in locals: the cursor is written back only where the
 * target ends or a verdict is reached. Offsets and verdicts are those of
 * next() byte by byte. */
static int parse_target(struct hp *h)
{
	const uint8_t *b = h->c.buf;
	size_t start = h->c.off, lim = h->limit_end, len = h->c.len;
	size_t stop = len < lim ? len : lim, i = start;
	uint8_t c;
	if (i >= stop)
		return at_stop(h, i);
	c = b[i++];
	if (c != '/') {
		/* "*", "http://host/..." and "host:port" all land here. */
		if (c == ' ' || c == '\r' || c == '\n')
			return refuse(h, RW_HTTP_REFUSE_LINE_SYNTAX, start);
		return refuse(h, RW_HTTP_REFUSE_TARGET_FORM, start);
	}
	for (;;) {
		i = run_target(b, i, stop);
		if (i >= stop)
			return at_stop(h, i);
		c = b[i++];
		if (c == ' ')
			break;
		if (c == '\r' || c == '\n')
			return refuse(h, RW_HTTP_REFUSE_HTTP09, i - 1);
		if (c == '%') {
			for (int k = 0; k < 2; k++) {
				if (i >= stop)
					return at_stop(h, i);
				if (!is_hex(b[i++]))
					return refuse(h, RW_HTTP_REFUSE_TARGET_CHAR, i - 1);
			}
			continue;
		}
		return refuse(h, c < 0x20 || c == 0x7f ? RW_HTTP_REFUSE_CTL_CHAR
						   : RW_HTTP_REFUSE_TARGET_CHAR,
			      i - 1);
	}
	h->c.off = i;
	h->req->target.ptr = b + start;
	h->req->target.len = i - 1 - start;
	return HP_GOT;
}

/* "HTTP/" DIGIT "." DIGIT CRLF; the name is case-sensitive. */
static int parse_version(struct hp *h)
{
	static const char shape[] = "HTTP/d.d";
	uint8_t c, major = 0, minor = 0;
	int r;
	/* what every client sends, all ten bytes present and inside the limit:
	 * the byte-by-byte walk below would accept it with these values */
	size_t off = h->c.off;
	if (h->c.len - off >= 10 && h->limit_end - off >= 10 &&
	    memcmp(h->c.buf + off, "HTTP/1.", 7) == 0 &&
	    (h->c.buf[off + 7] == '1' || h->c.buf[off + 7] == '0') &&
	    memcmp(h->c.buf + off + 8, "\r\n", 2) == 0) {
		h->req->version_minor = (unsigned)(h->c.buf[off + 7] - '0');
		h->c.off = off + 10;
		return HP_GOT;
	}
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

/* Case-insensitive compare of a token with a literal of known length made
 * of lower-case letters and '-': inline, so the common field that is none
 * of ours costs a switch on its length and nothing else. OR 0x20 folds
 * case; on a token it is exact, as the only other byte it maps onto a
 * letter or '-' would be a control character (0x0d -> '-'), never a
 * tchar. Eight bytes per compare. */
static inline bool name_is(struct rw_http_span s, const char *lit, size_t n)
{
	const uint64_t fold = UINT64_C(0x2020202020202020);
	size_t i = 0;
	if (s.len != n)
		return false;
	for (; n - i >= 8; i += 8) {
		uint64_t a, l;
		memcpy(&a, s.ptr + i, 8);
		memcpy(&l, lit + i, 8);
		if ((a | fold) != l)
			return false;
	}
	for (; i < n; i++)
		if ((s.ptr[i] | 0x20) != (uint8_t)lit[i])
			return false;
	return true;
}

#define NAME_IS(s, lit) name_is((s), (lit), sizeof(lit) - 1)

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
	while ((r = rw_http_list_next(&lc, &e)) == 1) {
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
	while ((r = rw_http_list_next(&lc, &e)) == 1) {
		if (NAME_IS(e, "close"))
			h->conn_close = true;
		else if (NAME_IS(e, "keep-alive"))
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
	return v.len > 0 && run_of(v.ptr, 0, v.len, RW_HTTP_C_HOST) == v.len;
}


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
 * already checked not to be CR, LF, SP or HT, and to lie before the limit
 * and the end. Bounds in locals, as in parse_target; the field block's
 * limit holds for the whole line. */
static int parse_field(struct hp *h)
{
	const uint8_t *b = h->c.buf;
	size_t start = h->c.off, lim = h->limit_end, len = h->c.len;
	size_t stop = len < lim ? len : lim;
	size_t i = run_tchar(b, start, stop);
	if (i >= stop)
		return at_stop(h, i);
	uint8_t c = b[i];
	if (c != ':') {
		if (c == ' ' || c == '\t')
			return refuse(h, RW_HTTP_REFUSE_SPACE_BEFORE_COLON, i);
		if (c == '\r' || c == '\n')
			return refuse(h, RW_HTTP_REFUSE_NO_COLON, i);
		if (c < 0x20 || c == 0x7f)
			return refuse(h, RW_HTTP_REFUSE_CTL_CHAR, i);
		return refuse(h, RW_HTTP_REFUSE_NAME_CHAR, i);
	}
	struct rw_http_span name = { b + start, i - start };
	if (name.len == 0)
		return refuse(h, RW_HTTP_REFUSE_EMPTY_NAME, start);
	/* leading OWS is not part of the value; it is field characters, so
	 * skipping it here changes no verdict */
	i++;
	while (i < stop && (b[i] == ' ' || b[i] == '\t'))
		i++;
	size_t vstart = i;
	i = field_run(b, i, stop);
	if (i >= stop)
		return at_stop(h, i);
	size_t vend = i;
	c = b[i++];
	if (c == '\n')
		return refuse(h, RW_HTTP_REFUSE_BARE_LF, vend);
	if (c != '\r')
		return refuse(h, RW_HTTP_REFUSE_CTL_CHAR, vend);
	if (i >= stop)
		return at_stop(h, i);
	if (b[i++] != '\n')
		return refuse(h, RW_HTTP_REFUSE_BARE_CR, vend);
	h->c.off = i;
	while (vend > vstart && (b[vend - 1] == ' ' || b[vend - 1] == '\t'))
		vend--;
	struct rw_http_span v = { b + vstart, vend - vstart };
	int r;
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
