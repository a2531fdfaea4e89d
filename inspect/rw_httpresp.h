/* HTTP/1.1 response framing (RFC 9112) for the answers of the upstream
 * registry: pure functions over bytes the caller has buffered, no I/O, no
 * heap.
 *
 * The data path parses each response head with rw_httpresp_parse_head()
 * (it must know the request method: a HEAD answer has no body), then
 * frames the body with rw_httpresp_body_*, forwarding bytes as they pass,
 * so it knows where the next response on a kept-alive upstream connection
 * begins. Anything malformed or ambiguous (a response another HTTP client
 * could frame differently) is refused; the data path then closes both the
 * upstream and the client connection rather than guess.
 *
 * Named rw_httpresp_* to stay apart from the request side (rw_http_*),
 * whose character classes, spans and chunked decoder it reuses. */
#ifndef RW_HTTPRESP_H
#define RW_HTTPRESP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "inspect/rw_http.h"
#include "inspect/rw_inspect.h"

#define RW_HTTPRESP_MAX_HEAD 32768 /* status line + fields + final CRLF */
#define RW_HTTPRESP_MAX_HEADERS 100

enum rw_httpresp_body_kind {
	RW_HTTPRESP_BODY_NONE = 0, /* HEAD, 1xx, 204, 304: no body whatever the fields say */
	RW_HTTPRESP_BODY_LENGTH,   /* Content-Length (may be 0) */
	RW_HTTPRESP_BODY_CHUNKED,  /* Transfer-Encoding: chunked */
	RW_HTTPRESP_BODY_CLOSE,    /* neither: the body runs to EOF, no keep-alive */
};

enum rw_httpresp_refuse {
	RW_HTTPRESP_REFUSE_NONE = 0,
	RW_HTTPRESP_REFUSE_VERSION,        /* not "HTTP/1.0" or "HTTP/1.1" */
	RW_HTTPRESP_REFUSE_STATUS_LINE,    /* missing SP, not 3 digits, ... */
	RW_HTTPRESP_REFUSE_STATUS_CODE,    /* outside 100..599 */
	RW_HTTPRESP_REFUSE_SWITCHING,      /* 101: we never ask for an upgrade */
	RW_HTTPRESP_REFUSE_BARE_LF,
	RW_HTTPRESP_REFUSE_BARE_CR,
	RW_HTTPRESP_REFUSE_CTL_CHAR,
	RW_HTTPRESP_REFUSE_OBS_FOLD,
	RW_HTTPRESP_REFUSE_SPACE_BEFORE_COLON,
	RW_HTTPRESP_REFUSE_EMPTY_NAME,
	RW_HTTPRESP_REFUSE_NAME_CHAR,
	RW_HTTPRESP_REFUSE_NO_COLON,
	RW_HTTPRESP_REFUSE_HEAD_TOO_LONG,  /* over RW_HTTPRESP_MAX_HEAD */
	RW_HTTPRESP_REFUSE_TOO_MANY_FIELDS,
	RW_HTTPRESP_REFUSE_CL_INVALID,     /* not 1*DIGIT, or over 2^63-1 */
	RW_HTTPRESP_REFUSE_CL_DUPLICATE,   /* two Content-Length fields, even equal */
	RW_HTTPRESP_REFUSE_CL_AND_TE,
	RW_HTTPRESP_REFUSE_TE_UNSUPPORTED, /* anything but exactly "chunked" */
	RW_HTTPRESP_REFUSE_TE_DUPLICATE,
	RW_HTTPRESP_REFUSE_TE_HTTP10,
	RW_HTTPRESP_REFUSE_TE_NO_BODY,     /* Transfer-Encoding on 1xx / 204 */
	RW_HTTPRESP_REFUSE_CONNECTION_INVALID,
	RW_HTTPRESP_REFUSE_DIGEST_INVALID, /* Docker-Content-Digest not a digest */
	RW_HTTPRESP_REFUSE_FIELD_DUPLICATE, /* Docker-Content-Digest, Location, Content-Type twice */
	/* body */
	RW_HTTPRESP_REFUSE_CHUNK,          /* chunked framing error (see chunk_refuse) */
	RW_HTTPRESP_REFUSE_TRUNCATED,      /* EOF before the framed end */
	RW_HTTPRESP_REFUSE_MAX_,
};

struct rw_httpresp {
	unsigned version_minor;          /* HTTP/1.<minor>: 0 or 1 */
	unsigned status;                 /* 100..599 */
	struct rw_http_span reason;      /* may be empty */
	bool interim;                    /* 1xx (not 101): skip head_len, parse the next head */
	enum rw_httpresp_body_kind body;
	bool has_content_length;
	uint64_t content_length;         /* as sent; on HEAD/304 the size of the GET body */
	bool keep_alive;                 /* the upstream connection may carry another request */
	struct rw_http_span digest;      /* Docker-Content-Digest (grammar-checked); len 0 if absent */
	struct rw_http_span location;    /* len 0 if absent */
	struct rw_http_span content_type;
	bool has_retry_after;            /* Retry-After present */
	bool retry_after_is_seconds;     /* delta-seconds form; else an HTTP-date (not parsed) */
	uint64_t retry_after_s;          /* capped at 2^32 */
	struct rw_http_span retry_after;
	size_t n_fields;
	struct rw_http_field fields[RW_HTTPRESP_MAX_HEADERS];
	size_t head_len;                 /* bytes of status line + fields + CRLF */
	/* On REFUSE: */
	enum rw_httpresp_refuse refuse;
	size_t refuse_at;                /* offset in buf of the offending byte */
};

/*
 * Parse a response head from the start of buf[0..len). req_method is the
 * method of the request it answers.
 *
 *   status-line = "HTTP/1." ("0" / "1") SP 3DIGIT SP *( HTAB / SP / VCHAR / obs-text ) CRLF
 *                 (the SP before an empty reason may be missing)
 *   field-line  = field-name ":" OWS field-value OWS CRLF     (x 0..100)
 *   CRLF
 *
 * RW_INSPECT_OK: *out filled; out->head_len bytes are the head. If
 *   out->interim (100 Continue, 102, 103), another head follows at
 *   buf + head_len for the same request.
 * RW_INSPECT_MORE: no error so far, head incomplete, within 32 KiB.
 * RW_INSPECT_REFUSE: out->refuse, out->refuse_at.
 * Re-parses from the start on every call; the verdict only depends on the
 * bytes up to where it was reached.
 */
enum rw_inspect_result rw_httpresp_parse_head(const uint8_t *buf, size_t len,
					      enum rw_http_method req_method,
					      struct rw_httpresp *out);

/* Find a field by case-insensitive name; NULL if absent. */
const struct rw_http_field *rw_httpresp_field(const struct rw_httpresp *r, const char *name);

const char *rw_httpresp_refuse_str(enum rw_httpresp_refuse r);

/* Streaming body framer. Feed it the bytes that follow the head, in any
 * split; payload is never copied or looked into. */
struct rw_httpresp_body {
	enum rw_httpresp_body_kind kind;
	uint64_t remaining;            /* LENGTH: payload bytes left */
	struct rw_http_body chunked;   /* CHUNKED: the request side's decoder */
	uint64_t total_payload;
	bool done;
	enum rw_httpresp_refuse refuse;
	enum rw_http_refuse chunk_refuse; /* detail of RW_HTTPRESP_REFUSE_CHUNK */
};

void rw_httpresp_body_init(struct rw_httpresp_body *b, const struct rw_httpresp *resp);

/*
 * *consumed: bytes of data that belong to this body (chunk framing
 * included); *payload_bytes: how many of those are payload. OK exactly at
 * the end of the body (data[*consumed] starts the next response), MORE when
 * all of data was consumed and the body goes on (always, for CLOSE),
 * REFUSE on malformed chunked framing. After OK or REFUSE further calls
 * consume nothing and repeat the verdict.
 */
enum rw_inspect_result rw_httpresp_body_feed(struct rw_httpresp_body *b, const uint8_t *data,
					     size_t len, size_t *consumed, size_t *payload_bytes);

/* The upstream closed its side. OK if that ends the body (CLOSE kind, or
 * the body was already complete), REFUSE (TRUNCATED) if the framing said
 * more was to come: the client must not see a short body as complete. */
enum rw_inspect_result rw_httpresp_body_eof(struct rw_httpresp_body *b);

#endif
