/* HTTP/1.1 response head parser (see rw_httpresp.h).
 *
 *   HTTP/1.1 201 Created\r\n                       status-line
 *   Location: /v2/team-a/app/manifests/sha256:..\r\n
 *   Docker-Content-Digest: sha256:98f0...\r\n     field-lines (<= 100)
 *   Content-Length: 0\r\n
 *   \r\n                                          end of head (<= 32 KiB in all)
 *
 * Byte at a time through a cursor, left to right, so every verdict depends
 * only on the bytes before it. Stricter than RFC 9112 where the RFC lets a
 * recipient choose (bare LF, obs-fold, duplicate Content-Length): the
 * client behind us might choose differently, and a response that two
 * parsers frame differently lets the upstream smuggle a second answer. */
#include "inspect/rw_httpresp.h"

#include <string.h>

#include "base/rw_cursor.h"
#include "inspect/rw_oci.h"

#define RW_HTTPRESP_INT_MAX UINT64_C(0x7fffffffffffffff)
#define RW_HTTPRESP_RETRY_CAP (UINT64_C(1) << 32)

struct rp {
	struct rw_cursor c;
	struct rw_httpresp *r;
	bool seen_cl, seen_te, conn_close;
};

/* Internal: 0 = got a byte / step done, otherwise one of these. */
#define RP_GOT 0
#define RP_MORE 1
#define RP_REFUSE 2

static int refuse(struct rp *p, enum rw_httpresp_refuse why, size_t at)
{
	p->r->refuse = why;
	p->r->refuse_at = at;
	return RP_REFUSE;
}

static int next(struct rp *p, uint8_t *c)
{
	if (p->c.off >= RW_HTTPRESP_MAX_HEAD)
		return refuse(p, RW_HTTPRESP_REFUSE_HEAD_TOO_LONG, p->c.off);
	if (rw_cur_u8(&p->c, c))
		return RP_MORE;
	return RP_GOT;
}

/* The LF after a CR just consumed. */
static int want_lf(struct rp *p)
{
	uint8_t c;
	int r = next(p, &c);
	if (r != RP_GOT)
		return r;
	if (c != '\n')
		return refuse(p, RW_HTTPRESP_REFUSE_BARE_CR, p->c.off - 2);
	return RP_GOT;
}

/* A literal that must come next, e.g. "HTTP/1.". */
static int want_lit(struct rp *p, const char *lit, enum rw_httpresp_refuse why)
{
	uint8_t c;
	int r;
	for (; *lit; lit++) {
		if ((r = next(p, &c)) != RP_GOT)
			return r;
		if (c != (uint8_t)*lit)
			return refuse(p, why, p->c.off - 1);
	}
	return RP_GOT;
}

/* "HTTP/1.1 404 Not Found\r\n" */
static int parse_status_line(struct rp *p)
{
	uint8_t c;
	int r;
	if ((r = want_lit(p, "HTTP/1.", RW_HTTPRESP_REFUSE_VERSION)) != RP_GOT)
		return r;
	if ((r = next(p, &c)) != RP_GOT)
		return r;
	if (c != '0' && c != '1')
		return refuse(p, RW_HTTPRESP_REFUSE_VERSION, p->c.off - 1);
	p->r->version_minor = (unsigned)(c - '0');
	if ((r = want_lit(p, " ", RW_HTTPRESP_REFUSE_STATUS_LINE)) != RP_GOT)
		return r;
	size_t code_at = p->c.off;
	unsigned code = 0;
	for (int i = 0; i < 3; i++) {
		if ((r = next(p, &c)) != RP_GOT)
			return r;
		if (c < '0' || c > '9')
			return refuse(p, RW_HTTPRESP_REFUSE_STATUS_LINE, p->c.off - 1);
		code = code * 10 + (unsigned)(c - '0');
	}
	if (code < 100 || code > 599)
		return refuse(p, RW_HTTPRESP_REFUSE_STATUS_CODE, code_at);
	p->r->status = code;
	if ((r = next(p, &c)) != RP_GOT)
		return r;
	if (c == '\r')
		return want_lf(p); /* "HTTP/1.1 200\r\n": no SP, no reason */
	if (c != ' ')
		return refuse(p, RW_HTTPRESP_REFUSE_STATUS_LINE, p->c.off - 1);
	size_t rstart = p->c.off;
	for (;;) {
		if ((r = next(p, &c)) != RP_GOT)
			return r;
		if (c == '\r')
			break;
		if (c == '\n')
			return refuse(p, RW_HTTPRESP_REFUSE_BARE_LF, p->c.off - 1);
		if (!rw_http_is_field_char(c))
			return refuse(p, RW_HTTPRESP_REFUSE_CTL_CHAR, p->c.off - 1);
	}
	p->r->reason.ptr = p->c.buf + rstart;
	p->r->reason.len = p->c.off - 1 - rstart;
	return want_lf(p);
}

/* 1*DIGIT into *n; false if empty, not digits, or above max. */
static bool parse_uint(struct rw_http_span v, uint64_t max, uint64_t *n)
{
	uint64_t x = 0;
	if (v.len == 0)
		return false;
	for (size_t i = 0; i < v.len; i++) {
		uint8_t c = v.ptr[i];
		if (c < '0' || c > '9')
			return false;
		if (x > (max - (uint64_t)(c - '0')) / 10)
			return false;
		x = x * 10 + (uint64_t)(c - '0');
	}
	*n = x;
	return true;
}

/* Fields whose value decides framing or is read downstream. */
static int field_semantics(struct rp *p, struct rw_http_span name, struct rw_http_span v,
			   size_t at)
{
	struct rw_httpresp *r = p->r;
	if (rw_http_span_eq(name, "Content-Length")) {
		if (p->seen_cl)
			return refuse(p, RW_HTTPRESP_REFUSE_CL_DUPLICATE, at);
		if (p->seen_te)
			return refuse(p, RW_HTTPRESP_REFUSE_CL_AND_TE, at);
		p->seen_cl = true;
		if (!parse_uint(v, RW_HTTPRESP_INT_MAX, &r->content_length))
			return refuse(p, RW_HTTPRESP_REFUSE_CL_INVALID, at);
		r->has_content_length = true;
	} else if (rw_http_span_eq(name, "Transfer-Encoding")) {
		if (p->seen_te)
			return refuse(p, RW_HTTPRESP_REFUSE_TE_DUPLICATE, at);
		if (p->seen_cl)
			return refuse(p, RW_HTTPRESP_REFUSE_CL_AND_TE, at);
		p->seen_te = true;
		if (r->version_minor == 0)
			return refuse(p, RW_HTTPRESP_REFUSE_TE_HTTP10, at);
		/* The registry API never needs a coding under chunked; one we
		 * do not decode could hide where the body ends. */
		if (!rw_http_span_eq(v, "chunked"))
			return refuse(p, RW_HTTPRESP_REFUSE_TE_UNSUPPORTED, at);
	} else if (rw_http_span_eq(name, "Connection")) {
		struct rw_cursor lc;
		struct rw_http_span e;
		int lr;
		rw_cur_init(&lc, v.ptr, v.len);
		if (v.len == 0)
			return refuse(p, RW_HTTPRESP_REFUSE_CONNECTION_INVALID, at);
		while ((lr = rw_http_list_next(&lc, &e)) == 1)
			if (rw_http_span_eq(e, "close"))
				p->conn_close = true;
		if (lr < 0)
			return refuse(p, RW_HTTPRESP_REFUSE_CONNECTION_INVALID, at);
	} else if (rw_http_span_eq(name, "Docker-Content-Digest")) {
		/* It goes into the push audit log: one, well-formed. */
		if (r->digest.len)
			return refuse(p, RW_HTTPRESP_REFUSE_FIELD_DUPLICATE, at);
		if (!rw_oci_valid_digest((const char *)v.ptr, v.len))
			return refuse(p, RW_HTTPRESP_REFUSE_DIGEST_INVALID, at);
		r->digest = v;
	} else if (rw_http_span_eq(name, "Location")) {
		if (r->location.ptr)
			return refuse(p, RW_HTTPRESP_REFUSE_FIELD_DUPLICATE, at);
		r->location = v;
	} else if (rw_http_span_eq(name, "Content-Type")) {
		if (r->content_type.ptr)
			return refuse(p, RW_HTTPRESP_REFUSE_FIELD_DUPLICATE, at);
		r->content_type = v;
	} else if (rw_http_span_eq(name, "Retry-After")) {
		/* Informational (we pass it on); an HTTP-date is kept raw. */
		r->has_retry_after = true;
		r->retry_after = v;
		bool digits = v.len > 0;
		uint64_t s = 0;
		for (size_t i = 0; i < v.len && digits; i++) {
			digits = v.ptr[i] >= '0' && v.ptr[i] <= '9';
			if (digits && s < RW_HTTPRESP_RETRY_CAP)
				s = s * 10 + (uint64_t)(v.ptr[i] - '0');
		}
		if (digits) {
			r->retry_after_is_seconds = true;
			r->retry_after_s = s < RW_HTTPRESP_RETRY_CAP ? s : RW_HTTPRESP_RETRY_CAP;
		}
	}
	return RP_GOT;
}

/* field-line = field-name ":" OWS field-value OWS CRLF; the first byte is
 * known not to be CR, LF, SP or HT. */
static int parse_field(struct rp *p)
{
	size_t start = p->c.off;
	uint8_t c;
	int r;
	for (;;) {
		if ((r = next(p, &c)) != RP_GOT)
			return r;
		if (c == ':')
			break;
		if (rw_http_is_tchar(c))
			continue;
		size_t at = p->c.off - 1;
		if (c == ' ' || c == '\t')
			return refuse(p, RW_HTTPRESP_REFUSE_SPACE_BEFORE_COLON, at);
		if (c == '\r' || c == '\n')
			return refuse(p, RW_HTTPRESP_REFUSE_NO_COLON, at);
		if (c < 0x20 || c == 0x7f)
			return refuse(p, RW_HTTPRESP_REFUSE_CTL_CHAR, at);
		return refuse(p, RW_HTTPRESP_REFUSE_NAME_CHAR, at);
	}
	struct rw_http_span name = { p->c.buf + start, p->c.off - 1 - start };
	if (name.len == 0)
		return refuse(p, RW_HTTPRESP_REFUSE_EMPTY_NAME, start);
	size_t vstart = p->c.off;
	for (;;) {
		if ((r = next(p, &c)) != RP_GOT)
			return r;
		if (c == '\r') {
			if ((r = want_lf(p)) != RP_GOT)
				return r;
			break;
		}
		if (c == '\n')
			return refuse(p, RW_HTTPRESP_REFUSE_BARE_LF, p->c.off - 1);
		if (!rw_http_is_field_char(c))
			return refuse(p, RW_HTTPRESP_REFUSE_CTL_CHAR, p->c.off - 1);
	}
	/* Trim OWS by narrowing a sub-cursor over the value, never by
	 * arithmetic on the wire length. */
	struct rw_cursor vc;
	rw_cur_init(&vc, p->c.buf + vstart, p->c.off - 2 - vstart);
	uint8_t b;
	while (rw_cur_peek_u8(&vc, 0, &b) == 0 && (b == ' ' || b == '\t'))
		rw_cur_skip(&vc, 1);
	while (vc.len > vc.off && (vc.buf[vc.len - 1] == ' ' || vc.buf[vc.len - 1] == '\t'))
		vc.len--;
	struct rw_http_span v = { rw_cur_ptr(&vc), rw_cur_left(&vc) };
	if ((r = field_semantics(p, name, v, start)) != RP_GOT)
		return r;
	struct rw_http_field *f = &p->r->fields[p->r->n_fields++];
	f->name = name;
	f->value = v;
	return RP_GOT;
}

static int parse_fields(struct rp *p)
{
	uint8_t c;
	int r;
	for (;;) {
		if (p->c.off >= RW_HTTPRESP_MAX_HEAD)
			return refuse(p, RW_HTTPRESP_REFUSE_HEAD_TOO_LONG, p->c.off);
		if (rw_cur_peek_u8(&p->c, 0, &c))
			return RP_MORE;
		if (c == '\r') {
			rw_cur_skip(&p->c, 1);
			return want_lf(p);
		}
		if (c == '\n')
			return refuse(p, RW_HTTPRESP_REFUSE_BARE_LF, p->c.off);
		if (c == ' ' || c == '\t')
			return refuse(p, RW_HTTPRESP_REFUSE_OBS_FOLD, p->c.off);
		if (p->r->n_fields >= RW_HTTPRESP_MAX_HEADERS)
			return refuse(p, RW_HTTPRESP_REFUSE_TOO_MANY_FIELDS, p->c.off);
		if ((r = parse_field(p)) != RP_GOT)
			return r;
	}
}

/* RFC 9112 §6.3, in its order, minus the cases we refuse instead. */
static int decide_framing(struct rp *p, enum rw_http_method req_method)
{
	struct rw_httpresp *r = p->r;
	unsigned s = r->status;
	if (s == 101)
		return refuse(p, RW_HTTPRESP_REFUSE_SWITCHING, 9);
	if ((s < 200 || s == 204) && p->seen_te)
		return refuse(p, RW_HTTPRESP_REFUSE_TE_NO_BODY, 0);
	if (s < 200) {
		r->interim = true;
		r->body = RW_HTTPRESP_BODY_NONE;
		r->keep_alive = true; /* the final answer decides */
		return RP_GOT;
	}
	if (req_method == RW_HTTP_HEAD || s == 204 || s == 304)
		r->body = RW_HTTPRESP_BODY_NONE;
	else if (p->seen_te)
		r->body = RW_HTTPRESP_BODY_CHUNKED;
	else if (p->seen_cl)
		r->body = RW_HTTPRESP_BODY_LENGTH;
	else
		r->body = RW_HTTPRESP_BODY_CLOSE;
	/* HTTP/1.0 upstreams get no keep-alive from us (we never ask for it). */
	r->keep_alive = r->version_minor == 1 && !p->conn_close &&
			r->body != RW_HTTPRESP_BODY_CLOSE;
	return RP_GOT;
}

enum rw_inspect_result rw_httpresp_parse_head(const uint8_t *buf, size_t len,
					      enum rw_http_method req_method,
					      struct rw_httpresp *out)
{
	struct rp p;
	int r;
	memset(out, 0, sizeof(*out));
	memset(&p, 0, sizeof(p));
	p.r = out;
	rw_cur_init(&p.c, buf, len);
	if ((r = parse_status_line(&p)) == RP_GOT && (r = parse_fields(&p)) == RP_GOT)
		r = decide_framing(&p, req_method);
	if (r == RP_MORE)
		return RW_INSPECT_MORE;
	if (r == RP_REFUSE)
		return RW_INSPECT_REFUSE;
	out->head_len = p.c.off;
	return RW_INSPECT_OK;
}

const struct rw_http_field *rw_httpresp_field(const struct rw_httpresp *r, const char *name)
{
	for (size_t i = 0; i < r->n_fields; i++)
		if (rw_http_span_eq(r->fields[i].name, name))
			return &r->fields[i];
	return NULL;
}

const char *rw_httpresp_refuse_str(enum rw_httpresp_refuse r)
{
	static const char *const s[RW_HTTPRESP_REFUSE_MAX_] = {
		[RW_HTTPRESP_REFUSE_NONE] = "none",
		[RW_HTTPRESP_REFUSE_VERSION] = "version",
		[RW_HTTPRESP_REFUSE_STATUS_LINE] = "status_line",
		[RW_HTTPRESP_REFUSE_STATUS_CODE] = "status_code",
		[RW_HTTPRESP_REFUSE_SWITCHING] = "switching_protocols",
		[RW_HTTPRESP_REFUSE_BARE_LF] = "bare_lf",
		[RW_HTTPRESP_REFUSE_BARE_CR] = "bare_cr",
		[RW_HTTPRESP_REFUSE_CTL_CHAR] = "ctl_char",
		[RW_HTTPRESP_REFUSE_OBS_FOLD] = "obs_fold",
		[RW_HTTPRESP_REFUSE_SPACE_BEFORE_COLON] = "space_before_colon",
		[RW_HTTPRESP_REFUSE_EMPTY_NAME] = "empty_name",
		[RW_HTTPRESP_REFUSE_NAME_CHAR] = "name_char",
		[RW_HTTPRESP_REFUSE_NO_COLON] = "no_colon",
		[RW_HTTPRESP_REFUSE_HEAD_TOO_LONG] = "head_too_long",
		[RW_HTTPRESP_REFUSE_TOO_MANY_FIELDS] = "too_many_fields",
		[RW_HTTPRESP_REFUSE_CL_INVALID] = "cl_invalid",
		[RW_HTTPRESP_REFUSE_CL_DUPLICATE] = "cl_duplicate",
		[RW_HTTPRESP_REFUSE_CL_AND_TE] = "cl_and_te",
		[RW_HTTPRESP_REFUSE_TE_UNSUPPORTED] = "te_unsupported",
		[RW_HTTPRESP_REFUSE_TE_DUPLICATE] = "te_duplicate",
		[RW_HTTPRESP_REFUSE_TE_HTTP10] = "te_http10",
		[RW_HTTPRESP_REFUSE_TE_NO_BODY] = "te_no_body",
		[RW_HTTPRESP_REFUSE_CONNECTION_INVALID] = "connection_invalid",
		[RW_HTTPRESP_REFUSE_DIGEST_INVALID] = "digest_invalid",
		[RW_HTTPRESP_REFUSE_FIELD_DUPLICATE] = "field_duplicate",
		[RW_HTTPRESP_REFUSE_CHUNK] = "chunk",
		[RW_HTTPRESP_REFUSE_TRUNCATED] = "truncated",
	};
	if ((unsigned)r >= RW_HTTPRESP_REFUSE_MAX_ || !s[r])
		return "unknown";
	return s[r];
}
