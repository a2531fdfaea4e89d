/* HTTP/1.1 shared pieces: refusal vocabulary, statuses, character classes. */
#include "inspect/rw_http.h"

#include <string.h>

#include "base/rw_cursor.h"

static const struct {
	const char *str;
	int status;
} refuse_tab[RW_HTTP_REFUSE_MAX_] = {
	[RW_HTTP_REFUSE_NONE] = { "none", 0 },
	[RW_HTTP_REFUSE_LEADING_EMPTY_LINE] = { "empty line before request line", 400 },
	[RW_HTTP_REFUSE_METHOD_CHAR] = { "invalid character in method", 400 },
	[RW_HTTP_REFUSE_METHOD_UNSUPPORTED] = { "method not supported", 501 },
	[RW_HTTP_REFUSE_H2_PREFACE] = { "HTTP/2 connection preface", 505 },
	[RW_HTTP_REFUSE_LINE_SYNTAX] = { "malformed request line", 400 },
	[RW_HTTP_REFUSE_HTTP09] = { "HTTP/0.9 request (no version)", 400 },
	[RW_HTTP_REFUSE_VERSION_SYNTAX] = { "malformed HTTP version", 400 },
	[RW_HTTP_REFUSE_VERSION_UNSUPPORTED] = { "HTTP version not supported", 505 },
	[RW_HTTP_REFUSE_TARGET_FORM] = { "request target not in origin-form", 400 },
	[RW_HTTP_REFUSE_TARGET_CHAR] = { "invalid character in request target", 400 },
	[RW_HTTP_REFUSE_LINE_TOO_LONG] = { "request line too long", 414 },
	[RW_HTTP_REFUSE_BARE_LF] = { "bare LF", 400 },
	[RW_HTTP_REFUSE_BARE_CR] = { "bare CR", 400 },
	[RW_HTTP_REFUSE_CTL_CHAR] = { "control character", 400 },
	[RW_HTTP_REFUSE_OBS_FOLD] = { "obsolete line folding", 400 },
	[RW_HTTP_REFUSE_SPACE_BEFORE_COLON] = { "whitespace before colon", 400 },
	[RW_HTTP_REFUSE_EMPTY_NAME] = { "empty field name", 400 },
	[RW_HTTP_REFUSE_NAME_CHAR] = { "invalid character in field name", 400 },
	[RW_HTTP_REFUSE_NO_COLON] = { "field line without colon", 400 },
	[RW_HTTP_REFUSE_FIELDS_TOO_LONG] = { "header block too large", 431 },
	[RW_HTTP_REFUSE_TOO_MANY_FIELDS] = { "too many header fields", 431 },
	[RW_HTTP_REFUSE_HOST_MISSING] = { "Host missing", 400 },
	[RW_HTTP_REFUSE_HOST_DUPLICATE] = { "Host duplicated", 400 },
	[RW_HTTP_REFUSE_HOST_INVALID] = { "Host invalid", 400 },
	[RW_HTTP_REFUSE_CL_INVALID] = { "Content-Length invalid", 400 },
	[RW_HTTP_REFUSE_CL_DUPLICATE] = { "Content-Length duplicated", 400 },
	[RW_HTTP_REFUSE_CL_TOO_LARGE] = { "Content-Length too large", 413 },
	[RW_HTTP_REFUSE_CL_AND_TE] = { "Content-Length with Transfer-Encoding", 400 },
	[RW_HTTP_REFUSE_TE_DUPLICATE] = { "Transfer-Encoding duplicated", 400 },
	[RW_HTTP_REFUSE_TE_UNKNOWN] = { "unknown transfer coding", 501 },
	[RW_HTTP_REFUSE_TE_NOT_CHUNKED_FINAL] = { "chunked is not the one final transfer coding", 400 },
	[RW_HTTP_REFUSE_TE_UNSUPPORTED] = { "transfer coding not supported", 501 },
	[RW_HTTP_REFUSE_TE_HTTP10] = { "Transfer-Encoding in HTTP/1.0", 400 },
	[RW_HTTP_REFUSE_CONNECTION_INVALID] = { "Connection invalid", 400 },
	[RW_HTTP_REFUSE_EXPECT_UNSUPPORTED] = { "expectation not supported", 417 },
	[RW_HTTP_REFUSE_UPGRADE] = { "Upgrade not allowed", 400 },
	[RW_HTTP_REFUSE_METHOD_OVERRIDE] = { "method override header", 400 },
	[RW_HTTP_REFUSE_CHUNK_SIZE] = { "malformed chunk size", 400 },
	[RW_HTTP_REFUSE_CHUNK_TOO_LARGE] = { "chunk too large", 413 },
	[RW_HTTP_REFUSE_CHUNK_EXT_TOO_LONG] = { "chunk extension too long", 413 },
	[RW_HTTP_REFUSE_CHUNK_EXT_CHAR] = { "invalid character in chunk extension", 400 },
	[RW_HTTP_REFUSE_CHUNK_CRLF] = { "chunk data not followed by CRLF", 400 },
	[RW_HTTP_REFUSE_TRAILER_SYNTAX] = { "malformed trailer field", 400 },
	[RW_HTTP_REFUSE_TRAILER_TOO_LONG] = { "trailer section too large", 431 },
};

const char *rw_http_refuse_str(enum rw_http_refuse r)
{
	if ((unsigned)r >= RW_HTTP_REFUSE_MAX_ || !refuse_tab[r].str)
		return "unknown refusal";
	return refuse_tab[r].str;
}

int rw_http_refuse_status(enum rw_http_refuse r)
{
	if ((unsigned)r >= RW_HTTP_REFUSE_MAX_ || r == RW_HTTP_REFUSE_NONE)
		return 400;
	return refuse_tab[r].status;
}

const char *rw_http_method_str(enum rw_http_method m)
{
	switch (m) {
	case RW_HTTP_GET: return "GET";
	case RW_HTTP_HEAD: return "HEAD";
	case RW_HTTP_POST: return "POST";
	case RW_HTTP_PUT: return "PUT";
	case RW_HTTP_PATCH: return "PATCH";
	case RW_HTTP_DELETE: return "DELETE";
	}
	return "?";
}

/* The classes as constant expressions, evaluated for all 256 bytes at
 * compile time. */
#define C_ALNUM(c) (((c) >= 'a' && (c) <= 'z') || ((c) >= 'A' && (c) <= 'Z') || \
		    ((c) >= '0' && (c) <= '9'))
#define C_TCHAR(c) (C_ALNUM(c) || (c) == '!' || (c) == '#' || (c) == '$' || (c) == '%' || \
		    (c) == '&' || (c) == '\'' || (c) == '*' || (c) == '+' || (c) == '-' || \
		    (c) == '.' || (c) == '^' || (c) == '_' || (c) == '`' || (c) == '|' || (c) == '~')
#define C_FIELD(c) ((c) == '\t' || ((c) >= 0x20 && (c) != 0x7f))
/* pchar / "/" / "?" minus pct-encoded (RFC 3986): no '#', '\\', brackets,
 * quotes, controls or non-ASCII */
#define C_TARGET(c) (C_ALNUM(c) || (c) == '-' || (c) == '.' || (c) == '_' || (c) == '~' || \
		     (c) == '!' || (c) == '$' || (c) == '&' || (c) == '\'' || (c) == '(' || \
		     (c) == ')' || (c) == '*' || (c) == '+' || (c) == ',' || (c) == ';' || \
		     (c) == '=' || (c) == ':' || (c) == '@' || (c) == '/' || (c) == '?')
#define C_HEX(c) (((c) >= '0' && (c) <= '9') || ((c) >= 'a' && (c) <= 'f') || \
		  ((c) >= 'A' && (c) <= 'F'))
/* reg-name or IP-literal and port, narrower than RFC 3986 (see host_valid
 * in rw_http_head.c) */
#define C_HOST(c) (C_ALNUM(c) || (c) == '.' || (c) == '-' || (c) == '_' || (c) == ':' || \
		   (c) == '[' || (c) == ']')
#define C(c) (uint8_t)((C_TCHAR(c) ? RW_HTTP_C_TCHAR : 0u) | (C_FIELD(c) ? RW_HTTP_C_FIELD : 0u) | \
		       (C_TARGET(c) ? RW_HTTP_C_TARGET : 0u) | (C_HEX(c) ? RW_HTTP_C_HEX : 0u) | \
		       (C_HOST(c) ? RW_HTTP_C_HOST : 0u))
#define C4(c) C(c), C((c) + 1), C((c) + 2), C((c) + 3)
#define C16(c) C4(c), C4((c) + 4), C4((c) + 8), C4((c) + 12)
#define C64(c) C16(c), C16((c) + 16), C16((c) + 32), C16((c) + 48)

const uint8_t rw_http_ctype[256] = { C64(0), C64(64), C64(128), C64(192) };

bool rw_http_is_tchar(uint8_t c)
{
	return rw_http_ctype[c] & RW_HTTP_C_TCHAR;
}

bool rw_http_is_field_char(uint8_t c)
{
	return rw_http_ctype[c] & RW_HTTP_C_FIELD;
}

static uint8_t lower(uint8_t c)
{
	return (c >= 'A' && c <= 'Z') ? (uint8_t)(c + 32) : c;
}

bool rw_http_span_eq(struct rw_http_span s, const char *lit)
{
	size_t n = strlen(lit);
	if (s.len != n)
		return false;
	for (size_t i = 0; i < n; i++)
		if (lower(s.ptr[i]) != lower((uint8_t)lit[i]))
			return false;
	return true;
}

const struct rw_http_field *rw_http_field_get(const struct rw_http_req *req, const char *name)
{
	for (size_t i = 0; i < req->n_fields; i++)
		if (rw_http_span_eq(req->fields[i].name, name))
			return &req->fields[i];
	return NULL;
}

/* Comma-separated list of tokens with optional whitespace around commas
 * (RFC 9110 §5.6.1). Empty elements are refused here although recipients
 * may skip them: nobody legitimate sends them. Returns 1 and the element,
 * 0 at the end, -1 on bad syntax. */
int rw_http_list_next(struct rw_cursor *lc, struct rw_http_span *elem)
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
	while (rw_cur_peek_u8(lc, 0, &c) == 0 && (rw_http_ctype[c] & RW_HTTP_C_TCHAR)) {
		rw_cur_skip(lc, 1);
		elem->len++;
	}
	if (elem->len == 0)
		return -1;
	return 1;
}
