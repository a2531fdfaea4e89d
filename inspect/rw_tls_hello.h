/* TLS ClientHello inspection: reassemble the first handshake message from
 * the raw TCP stream, validate it, and extract what the policy needs (SNI,
 * ALPN, offered versions, ECH presence, JA4).
 *
 * Pure: no I/O, no heap. All state, including the reassembly buffer, lives
 * in struct rw_tls_hello_parser, which the caller owns (one per
 * connection). The wire format, limits and refusal codes are described in
 * docs/design/inspect-tls.md. */
#ifndef RW_TLS_HELLO_H
#define RW_TLS_HELLO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "inspect/rw_inspect.h"

/* Reassembly buffer: the largest ClientHello we accept, handshake header
 * included. Real hellos are 200 B - 2 KB (post-quantum key shares); 16 KiB
 * leaves room for big PSK tickets while bounding per-connection memory. */
#define RW_TLS_HELLO_BUF 16384u
#define RW_TLS_HELLO_DEFAULT_MAX_RECORDS 64u
/* Upper bound for lim->max_records: one record per byte of the buffer. */
#define RW_TLS_HELLO_MAX_RECORDS_CAP (RW_TLS_HELLO_BUF + 5u)

/* Caps on lists inside the hello. They bound the stack the JA4 computation
 * needs; no real client comes near them (browsers: ~16 ciphers, ~18
 * extensions, ~10 signature algorithms). Exceeding one refuses with
 * RW_TLS_REFUSE_TOO_MANY_ITEMS. */
#define RW_TLS_MAX_CIPHERS 512u
#define RW_TLS_MAX_EXTENSIONS 128u
#define RW_TLS_MAX_SIGALGS 256u

#define RW_TLS_SNI_MAX 253u       /* DNS name in text form, no trailing dot */
#define RW_TLS_ALPN_MAX 8u        /* ALPN ids stored; the rest only counted */
#define RW_TLS_ALPN_ID_MAX 255u   /* ALPN id length is a u8 on the wire */
#define RW_TLS_VERSIONS_MAX 16u   /* supported_versions entries stored */
#define RW_TLS_JA4_LEN 36u        /* "t13d1516h2_8daaf6152771_e5627efa2ab1" */

/* Why a stream was refused. RW_TLS_REFUSE_NONE while undecided or OK. */
enum rw_tls_refuse {
	RW_TLS_REFUSE_NONE = 0,
	RW_TLS_REFUSE_NOT_TLS,            /* first bytes are not a TLS handshake record */
	RW_TLS_REFUSE_SSLV2_HELLO,        /* SSLv2-compatible ClientHello */
	RW_TLS_REFUSE_BAD_VERSION,        /* legacy_version not 3.x, or no usable supported_versions */
	RW_TLS_REFUSE_RECORD_TOO_LARGE,   /* record length over 2^14 */
	RW_TLS_REFUSE_EMPTY_RECORD,       /* zero-length handshake record */
	RW_TLS_REFUSE_INTERLEAVED_RECORD, /* non-handshake record before the hello was complete */
	RW_TLS_REFUSE_TOO_MANY_RECORDS,   /* hello spread over more records than the limit */
	RW_TLS_REFUSE_HELLO_TOO_LARGE,    /* handshake length over the limit */
	RW_TLS_REFUSE_NOT_CLIENT_HELLO,   /* first handshake message is not a ClientHello */
	RW_TLS_REFUSE_TRAILING_DATA,      /* bytes after the hello in its last record */
	RW_TLS_REFUSE_MALFORMED,          /* lengths do not add up, or a field is invalid */
	RW_TLS_REFUSE_DUPLICATE_EXTENSION,/* the same extension type twice */
	RW_TLS_REFUSE_TOO_MANY_ITEMS,     /* a list over RW_TLS_MAX_* */
	RW_TLS_REFUSE_MULTIPLE_NAMES,     /* server_name holds more than one entry */
	RW_TLS_REFUSE_BAD_NAME,           /* server_name is not a valid DNS host name */
	RW_TLS_REFUSE_NO_SNI,             /* never set by the parser: see rw_tls_hello_check_sni() */
	/* only from the ServerHello side (rw_tls_server_hello.h) */
	RW_TLS_REFUSE_NOT_SERVER_HELLO,   /* server's first handshake message is not a ServerHello */
	RW_TLS_REFUSE_ALERT,              /* an alert record where a hello was due */
	RW_TLS_REFUSE_MAX_
};

/* What a valid ClientHello offered. Strings are NUL-terminated copies, so
 * the struct stays valid after the parser is reused or freed. */
struct rw_tls_hello {
	uint16_t legacy_version;   /* ClientHello.legacy_version */
	uint16_t version;          /* highest non-GREASE supported_versions, else legacy_version */
	uint16_t versions[RW_TLS_VERSIONS_MAX]; /* supported_versions, GREASE removed, wire order */
	size_t n_versions;         /* entries stored in versions[] */
	size_t n_versions_total;   /* non-GREASE entries on the wire */
	bool has_supported_versions;

	char sni[RW_TLS_SNI_MAX + 1]; /* lower-cased host name; "" when absent */
	size_t sni_len;               /* 0: the hello carried no server_name */

	/* ALPN protocol ids in wire order, GREASE ids removed. An id may hold
	 * any byte (even NUL): use alpn_len[], the NUL is only a convenience. */
	char alpn[RW_TLS_ALPN_MAX][RW_TLS_ALPN_ID_MAX + 1];
	uint8_t alpn_len[RW_TLS_ALPN_MAX];
	size_t n_alpn;             /* ids stored */
	size_t n_alpn_total;       /* non-GREASE ids on the wire */
	bool has_alpn;             /* the extension was present */

	bool ech;                  /* encrypted_client_hello (0xfe0d) present: real or GREASE */
	bool esni;                 /* legacy draft ESNI (0xffce) present */
	bool early_data;           /* early_data (0x002a) offered: 0-RTT records may follow */

	size_t n_ciphers;          /* cipher suites, GREASE removed */
	size_t n_extensions;       /* extensions, GREASE removed */
	size_t hello_len;          /* handshake message bytes, 4-byte header included */

	/* FoxIO JA4 (TCP), e.g. t13d1516h2_8daaf6152771_e5627efa2ab1; "" when
	 * the parser was told to defer it (rw_tls_hello_ja4()) */
	char ja4[RW_TLS_JA4_LEN + 1];
};

struct rw_tls_hello_limits {
	uint32_t max_hello;    /* handshake bytes incl. header; 1..RW_TLS_HELLO_BUF */
	uint32_t max_records;  /* records carrying the hello; 1..RW_TLS_HELLO_MAX_RECORDS_CAP */
};

/* What JA4 needs beyond struct rw_tls_hello, kept by the parser so the
 * fingerprint can be computed after the decision (rw_tls_hello_ja4()).
 * Lists are GREASE-free, in wire order. Private. */
struct rw_tls_hello_lists {
	uint16_t ciphers[RW_TLS_MAX_CIPHERS];
	size_t n_ciphers;
	uint16_t exts[RW_TLS_MAX_EXTENSIONS];
	size_t n_exts;
	uint16_t sigalgs[RW_TLS_MAX_SIGALGS];
	size_t n_sigalgs;
	/* JA4 reads only the first and last byte of the first ALPN id */
	uint8_t alpn0_ends[2];
	size_t alpn0_len;       /* 0: no ALPN id */
	/* the first server_name entry of a hello refused for its name: points
	 * into the message being parsed; NULL otherwise */
	const uint8_t *name;
	size_t name_len;
};

/* Incremental parser state. Treat every member but 'hello', 'refuse',
 * 'consumed' and 'refused_name[_len]' as private. */
struct rw_tls_hello_parser {
	struct rw_tls_hello_limits lim;
	enum rw_inspect_result result;  /* sticky once OK or REFUSE */
	enum rw_tls_refuse refuse;
	struct rw_tls_hello hello;      /* valid when result == RW_INSPECT_OK */
	size_t consumed;  /* stream bytes that belong to the hello's records; the
	                   * bytes after it (if any) were not looked at */

	bool ja4_deferred;    /* rw_tls_hello_defer_ja4() was called */
	uint8_t rec_hdr[5];
	uint8_t rec_hdr_have;
	size_t rec_left;      /* payload bytes of the current record still to come */
	uint32_t n_records;
	uint32_t hs_need;     /* 4 + handshake length, 0 until the header is known */
	uint32_t hs_have;
	const uint8_t *raw;   /* the message once OK: hs, or the caller's bytes */

	/* After a bad_name or multiple_names refusal: the first server_name
	 * entry's bytes as sent (the first RW_TLS_SNI_MAX + 1 of them) and its
	 * length on the wire; 0 after any other answer. Unchecked bytes, for
	 * a log line only (escape them). Public, like 'hello'. */
	uint8_t refused_name[RW_TLS_SNI_MAX + 1];
	size_t refused_name_len;

	/* not cleared by init: written before they are read */
	struct rw_tls_hello_lists lists;
	uint8_t hs[RW_TLS_HELLO_BUF];
};

/* Defaults: max_hello = RW_TLS_HELLO_BUF (16 KiB), max_records = 64. */
void rw_tls_hello_limits_default(struct rw_tls_hello_limits *lim);

/* Start a parser. lim == NULL means the defaults. Returns 0, or RW_ERANGE
 * if a limit is out of range; then the parser uses the defaults instead so
 * it is still safe to feed. */
int rw_tls_hello_init(struct rw_tls_hello_parser *p, const struct rw_tls_hello_limits *lim);

/* Leave JA4 out of rw_tls_hello_feed(): p->hello.ja4 stays "" and
 * rw_tls_hello_ja4() computes it when it is wanted. For the data path,
 * which decides on SNI/ALPN/versions/ECH and needs JA4 only for its log
 * (two SHA-256 runs, several times the cost of the parse). Call after
 * rw_tls_hello_init(), before the first feed. */
void rw_tls_hello_defer_ja4(struct rw_tls_hello_parser *p);

/* The JA4 of the hello the parser answered OK to (computed now if it was
 * deferred, copied otherwise). Returns 0, or RW_EINVAL before OK or if
 * hashing failed (out is then ""). Allocation-free. */
int rw_tls_hello_ja4(const struct rw_tls_hello_parser *p, char out[RW_TLS_JA4_LEN + 1]);

/* Feed the next bytes of the client-to-server stream, in any segmentation.
 * Every byte up to the end of the hello's last record is taken; bytes after
 * it are ignored (p->consumed says where the hello ended). Once the answer
 * is OK or REFUSE, further calls return it again without looking at data. */
enum rw_inspect_result rw_tls_hello_feed(struct rw_tls_hello_parser *p, const uint8_t *data,
                                         size_t len);

/* Parse one complete, reassembled ClientHello handshake message (type byte
 * and u24 length included), e.g. the buffer OpenSSL's msg callback hands
 * over. Returns RW_TLS_REFUSE_NONE and fills *out, or the refusal. */
enum rw_tls_refuse rw_tls_hello_parse(const uint8_t *msg, size_t len, struct rw_tls_hello *out);

/* The raw handshake message once the parser answered OK (for logging or a
 * second opinion); NULL before. When the hello arrived whole in one record
 * within one feed it was parsed in place, and this points into the buffer
 * given to that feed call: valid while that buffer is (the data path keeps
 * the stream it forwards anyway). Otherwise it points into the parser. */
const uint8_t *rw_tls_hello_raw(const struct rw_tls_hello_parser *p, size_t *len);

/* Policy helper: the hello carried no server_name. Whether that is refused
 * is the caller's choice (IP-literal clients send none); if so, refuse with
 * RW_TLS_REFUSE_NO_SNI. Returns RW_TLS_REFUSE_NO_SNI or RW_TLS_REFUSE_NONE. */
enum rw_tls_refuse rw_tls_hello_check_sni(const struct rw_tls_hello *h);

/* Stable lower-case token, e.g. "duplicate_extension"; "unknown" if out of range. */
const char *rw_tls_refuse_str(enum rw_tls_refuse r);

#endif
