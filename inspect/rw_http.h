/* HTTP/1.1 request framing (RFC 9112), strict: pure functions over bytes
 * the caller has buffered, no I/O, no heap.
 *
 * A request head is parsed by rw_http_parse_head() from the start of the
 * connection's unread bytes; the body that follows is framed by a small
 * streaming decoder (rw_http_body_*) that never copies payload, so the data
 * path can forward bytes as they pass and knows exactly where the next
 * pipelined request starts.
 *
 * The parser is stricter than RFC 9112 wherever the RFC allows a choice
 * that two implementations could resolve differently (request smuggling):
 * any ambiguity refuses. See docs/design/inspect-http-oci.md for every rule
 * and the status sent for each refusal. */
#ifndef RW_HTTP_H
#define RW_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "inspect/rw_inspect.h"

#define RW_HTTP_MAX_LINE 8192     /* request line incl. CRLF -> 414 */
#define RW_HTTP_MAX_FIELDS 32768  /* header block after the request line, incl. final CRLF -> 431 */
#define RW_HTTP_MAX_HEADERS 100   /* header lines -> 431 */
#define RW_HTTP_MAX_CHUNK_EXT 4096 /* bytes of chunk extensions on one chunk-size line -> 413 */
#define RW_HTTP_MAX_TRAILER 8192  /* trailer section incl. final CRLF -> 431 */
#define RW_HTTP_MAX_TRAILERS 32   /* trailer lines -> 431 */

/* Methods the registry API uses. Every other syntactically valid method
 * (OPTIONS, CONNECT, TRACE, PRI, ...) is refused with 501. */
enum rw_http_method {
	RW_HTTP_GET = 0,
	RW_HTTP_HEAD,
	RW_HTTP_POST,
	RW_HTTP_PUT,
	RW_HTTP_PATCH,
	RW_HTTP_DELETE,
};

enum rw_http_framing {
	RW_HTTP_BODY_NONE = 0, /* no Content-Length, no Transfer-Encoding: empty body */
	RW_HTTP_BODY_LENGTH,   /* Content-Length (may be 0) */
	RW_HTTP_BODY_CHUNKED,  /* Transfer-Encoding: chunked */
};

/* Why a request was refused. Head reasons and body (framing) reasons share
 * one list so the log has one vocabulary. */
enum rw_http_refuse {
	RW_HTTP_REFUSE_NONE = 0,
	/* request line */
	RW_HTTP_REFUSE_LEADING_EMPTY_LINE,
	RW_HTTP_REFUSE_METHOD_CHAR,     /* not a token */
	RW_HTTP_REFUSE_METHOD_UNSUPPORTED, /* 501 */
	RW_HTTP_REFUSE_H2_PREFACE,      /* "PRI * HTTP/2.0" */
	RW_HTTP_REFUSE_LINE_SYNTAX,     /* spaces, missing parts */
	RW_HTTP_REFUSE_HTTP09,          /* no version */
	RW_HTTP_REFUSE_VERSION_SYNTAX,
	RW_HTTP_REFUSE_VERSION_UNSUPPORTED, /* 505 */
	RW_HTTP_REFUSE_TARGET_FORM,     /* absolute-, authority- or asterisk-form */
	RW_HTTP_REFUSE_TARGET_CHAR,
	RW_HTTP_REFUSE_LINE_TOO_LONG,   /* 414 */
	/* line endings and bytes */
	RW_HTTP_REFUSE_BARE_LF,
	RW_HTTP_REFUSE_BARE_CR,
	RW_HTTP_REFUSE_CTL_CHAR,        /* NUL or other control byte */
	/* header fields */
	RW_HTTP_REFUSE_OBS_FOLD,
	RW_HTTP_REFUSE_SPACE_BEFORE_COLON,
	RW_HTTP_REFUSE_EMPTY_NAME,
	RW_HTTP_REFUSE_NAME_CHAR,
	RW_HTTP_REFUSE_NO_COLON,
	RW_HTTP_REFUSE_FIELDS_TOO_LONG, /* 431 */
	RW_HTTP_REFUSE_TOO_MANY_FIELDS, /* 431 */
	RW_HTTP_REFUSE_HOST_MISSING,
	RW_HTTP_REFUSE_HOST_DUPLICATE,
	RW_HTTP_REFUSE_HOST_INVALID,
	RW_HTTP_REFUSE_CL_INVALID,
	RW_HTTP_REFUSE_CL_DUPLICATE,
	RW_HTTP_REFUSE_CL_TOO_LARGE,    /* 413: over 2^63-1 */
	RW_HTTP_REFUSE_CL_AND_TE,
	RW_HTTP_REFUSE_TE_DUPLICATE,
	RW_HTTP_REFUSE_TE_UNKNOWN,      /* 501 */
	RW_HTTP_REFUSE_TE_NOT_CHUNKED_FINAL,
	RW_HTTP_REFUSE_TE_UNSUPPORTED,  /* 501: e.g. "gzip, chunked" */
	RW_HTTP_REFUSE_TE_HTTP10,
	RW_HTTP_REFUSE_CONNECTION_INVALID,
	RW_HTTP_REFUSE_EXPECT_UNSUPPORTED, /* 417 */
	RW_HTTP_REFUSE_UPGRADE,
	RW_HTTP_REFUSE_METHOD_OVERRIDE,
	/* body framing */
	RW_HTTP_REFUSE_CHUNK_SIZE,      /* not hex, missing, or whitespace */
	RW_HTTP_REFUSE_CHUNK_TOO_LARGE, /* 413: over 2^63-1 */
	RW_HTTP_REFUSE_CHUNK_EXT_TOO_LONG, /* 413 */
	RW_HTTP_REFUSE_CHUNK_EXT_CHAR,
	RW_HTTP_REFUSE_CHUNK_CRLF,      /* data not followed by CRLF */
	RW_HTTP_REFUSE_TRAILER_SYNTAX,
	RW_HTTP_REFUSE_TRAILER_TOO_LONG, /* 431 */
	RW_HTTP_REFUSE_MAX_,
};

/* Bytes borrowed from the caller's buffer; valid while it is. */
struct rw_http_span {
	const uint8_t *ptr;
	size_t len;
};

struct rw_http_field {
	struct rw_http_span name;  /* as sent (case preserved), no colon */
	struct rw_http_span value; /* leading and trailing SP/HT removed */
};

struct rw_http_req {
	enum rw_http_method method;
	struct rw_http_span method_tok;
	struct rw_http_span target;  /* origin-form, starts with '/' */
	unsigned version_minor;      /* HTTP/1.<minor>: 0 or 1 */
	struct rw_http_span host;    /* the one Host value */
	enum rw_http_framing framing;
	uint64_t content_length;     /* RW_HTTP_BODY_LENGTH only */
	bool keep_alive;             /* connection persists after this request */
	bool expect_continue;        /* Expect: 100-continue */
	size_t n_fields;
	struct rw_http_field fields[RW_HTTP_MAX_HEADERS];
	size_t head_len;             /* bytes of request line + fields + CRLF */
	/* On REFUSE: */
	int status;                  /* HTTP status to answer with */
	enum rw_http_refuse refuse;
	size_t refuse_at;            /* offset in buf of the offending byte */
};

/*
 * Parse a request head from the start of buf[0..len).
 *
 *   request-line = method SP origin-form SP "HTTP/1." ("0" / "1") CRLF
 *   field-line   = field-name ":" OWS field-value OWS CRLF   (x 0..100)
 *   CRLF
 *
 * RW_INSPECT_OK: *req filled, req->head_len bytes are the head.
 * RW_INSPECT_MORE: no error so far, head incomplete and within limits.
 * RW_INSPECT_REFUSE: req->status, req->refuse, req->refuse_at set.
 *
 * Deterministic left to right: the verdict depends only on bytes up to the
 * point where it was reached, so once OK or REFUSE, any longer buf with the
 * same prefix gives the same answer. Re-parses from the start on each call.
 */
enum rw_inspect_result rw_http_parse_head(const uint8_t *buf, size_t len,
					  struct rw_http_req *req);

/* The same verdicts for a head that arrives in pieces, without re-reading
 * it all on every read (see rw_http_head_feed.c). Call with the whole
 * buffer so far (same start, growing len) after each read; init once per
 * request. Answers exactly what rw_http_parse_head(buf, len) answers,
 * except that it may say MORE where the full parser would already refuse:
 * such a refusal comes, with the same code and offset, at the latest when
 * an LF arrives, the buffer doubles, or it crosses RW_HTTP_MAX_LINE. *req
 * is meaningful only on OK or REFUSE, as with rw_http_parse_head. */
struct rw_http_head_feed {
	size_t seen;      /* bytes looked at so far */
	size_t parsed;    /* len at the last full parse */
	unsigned parses;  /* full parses so far (for tests and statistics) */
};
void rw_http_head_feed_init(struct rw_http_head_feed *s);
enum rw_inspect_result rw_http_head_feed(struct rw_http_head_feed *s, const uint8_t *buf,
					 size_t len, struct rw_http_req *req);

/* Find a field by case-insensitive name; NULL if absent. */
const struct rw_http_field *rw_http_field_get(const struct rw_http_req *req,
					      const char *name);

const char *rw_http_refuse_str(enum rw_http_refuse r);
/* The status a refusal is answered with (400 for most). */
int rw_http_refuse_status(enum rw_http_refuse r);
const char *rw_http_method_str(enum rw_http_method m);

/* Streaming body framer. Feed it the bytes that follow the head, in any
 * split; it reports how many bytes belong to this request's body. */
enum rw_http_body_state {
	RW_HTTP_B_LENGTH = 0, /* inside Content-Length payload */
	RW_HTTP_B_SIZE,       /* chunk-size hex digits */
	RW_HTTP_B_EXT,        /* chunk extension up to CR */
	RW_HTTP_B_SIZE_LF,    /* LF after chunk-size line */
	RW_HTTP_B_DATA,       /* chunk payload */
	RW_HTTP_B_DATA_CR,    /* CR after chunk payload */
	RW_HTTP_B_DATA_LF,
	RW_HTTP_B_TRAILER_BOL, /* start of a trailer line or final CRLF */
	RW_HTTP_B_TRAILER_NAME,
	RW_HTTP_B_TRAILER_VALUE,
	RW_HTTP_B_TRAILER_LF, /* LF ending a trailer line */
	RW_HTTP_B_FINAL_LF,   /* LF of the final CRLF */
	RW_HTTP_B_DONE,
	RW_HTTP_B_REFUSED,
};

struct rw_http_body {
	enum rw_http_body_state state;
	uint64_t remaining;     /* payload bytes left (Content-Length or chunk) */
	uint64_t chunk_size;    /* being accumulated */
	unsigned size_digits;
	size_t ext_len;         /* chunk-extension bytes on this line */
	size_t trailer_len;     /* trailer section bytes so far */
	unsigned n_trailers;
	uint64_t total_payload; /* payload bytes seen so far */
	int status;             /* on REFUSE */
	enum rw_http_refuse refuse;
};

void rw_http_body_init(struct rw_http_body *b, const struct rw_http_req *req);

/*
 * Content-Length: exactly content_length payload bytes.
 * Chunked:
 *   chunk      = 1*HEXDIG [ ";" ext ] CRLF data CRLF
 *   last-chunk = 1*"0"    [ ";" ext ] CRLF
 *   trailer    = *( field-line CRLF ) CRLF
 * (no whitespace allowed around the size; ext up to 4 KiB of visible
 * characters, not interpreted).
 *
 * *consumed: bytes of data that belong to this body (framing included);
 * *payload_bytes: how many of those are payload. OK exactly at the end of
 * the body (data[*consumed] is the next request), MORE when all of data was
 * consumed and the body goes on, REFUSE on malformed framing (b->status,
 * b->refuse; *consumed is where it went wrong). After OK or REFUSE, further
 * calls return the same verdict and consume nothing.
 */
enum rw_inspect_result rw_http_body_feed(struct rw_http_body *b, const uint8_t *data,
					 size_t len, size_t *consumed, size_t *payload_bytes);

/* Character classes as one lookup table, so the head parser's inner loops
 * are a load and a test per byte instead of a call. */
#define RW_HTTP_C_TCHAR 0x01u  /* token character (RFC 9110 §5.6.2) */
#define RW_HTTP_C_FIELD 0x02u  /* field-vchar / SP / HTAB, see below */
#define RW_HTTP_C_TARGET 0x04u /* origin-form byte other than '%' (pchar / "/" / "?") */
#define RW_HTTP_C_HEX 0x08u    /* HEXDIG */
#define RW_HTTP_C_HOST 0x10u   /* [A-Za-z0-9._:[]-]: what a Host value may hold */
extern const uint8_t rw_http_ctype[256];

/* Character classes (RFC 9110 §5.6.2), shared by head and body. */
bool rw_http_is_tchar(uint8_t c);
/* field-vchar / SP / HTAB: VCHAR, obs-text (0x80-0xff), SP, HT. */
bool rw_http_is_field_char(uint8_t c);
/* Case-insensitive compare of a span to a NUL-terminated ASCII string. */
bool rw_http_span_eq(struct rw_http_span s, const char *lit);

/* Next element of a comma-separated token list (RFC 9110 §5.6.1), shared
 * by request and response framing (Transfer-Encoding, Connection): 1 and
 * the element, 0 at the end, -1 on bad syntax (empty elements included). */
struct rw_cursor;
int rw_http_list_next(struct rw_cursor *lc, struct rw_http_span *elem);

#endif
