/* TLS ServerHello inspection, for passthrough: is the server's first
 * handshake message a HelloRetryRequest? After one, the client sends a
 * second ClientHello, which the data path must check like the first
 * (docs/design/inspect-tls.md, "ServerHello").
 *
 * Pure: no I/O, no heap. The parser reassembles the first handshake
 * message of the server-to-client stream across records into its own
 * buffer, parses it, and answers OK (with the fields below), MORE, or
 * REFUSE with a reason (enum rw_tls_refuse, shared with the ClientHello
 * parser). Records before the handshake message (a middlebox-compatibility
 * ChangeCipherSpec) are the caller's: see rw_tls_flight_prefix(). */
#ifndef RW_TLS_SERVER_HELLO_H
#define RW_TLS_SERVER_HELLO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "inspect/rw_inspect.h"
#include "inspect/rw_tls_hello.h"

/* Largest ServerHello accepted, handshake header included. A TLS 1.3
 * ServerHello is ~90 B plus its key share (X25519MLKEM768: 1120 B); an
 * OpenSSL HelloRetryRequest may carry a cookie of up to 4096 B
 * (SSL_COOKIE_LENGTH). */
#define RW_TLS_SH_MAX 8192u
/* Records that may carry it; real servers use one. */
#define RW_TLS_SH_MAX_RECORDS 16u
#define RW_TLS_SH_MAX_EXTENSIONS 64u

/* SHA-256("HelloRetryRequest"): the ServerHello.random of an HRR
 * (RFC 8446 §4.1.3). */
extern const uint8_t rw_tls_hrr_random[32];

struct rw_tls_server_hello {
	bool hrr;                 /* random == rw_tls_hrr_random */
	uint16_t legacy_version;  /* ServerHello.legacy_version */
	uint16_t version;         /* supported_versions if present, else legacy_version */
	bool has_supported_versions;
	uint16_t cipher;          /* cipher_suite */
	uint16_t group;           /* key_share: HRR selected_group / ServerHello group; 0 = none */
	size_t cookie_len;        /* HRR cookie bytes; 0 = none */
	size_t n_extensions;      /* extensions in the message */
	size_t msg_len;           /* handshake message bytes, 4-byte header included */
};

/* Incremental state; treat all but 'result', 'refuse', 'sh' and 'consumed'
 * as private. ~8.3 KB: the data path allocates it per connection only for
 * the moment between its ClientHello and the server's answer. */
struct rw_tls_sh_parser {
	enum rw_inspect_result result;  /* sticky once OK or REFUSE */
	enum rw_tls_refuse refuse;
	struct rw_tls_server_hello sh;  /* valid when result == RW_INSPECT_OK */
	size_t consumed;  /* stream bytes up to the end of the ServerHello message;
	                   * what follows (in its record or after) was not looked at */

	uint8_t rec_hdr[5];
	uint8_t rec_hdr_have;
	size_t rec_left;
	uint32_t n_records;
	uint32_t hs_need;  /* 4 + handshake length, 0 until the header is known */
	uint32_t hs_have;
	uint8_t hs[RW_TLS_SH_MAX];
};

void rw_tls_sh_init(struct rw_tls_sh_parser *p);

/* Feed the next bytes of the server-to-client stream (starting with the
 * record that begins the ServerHello), in any segmentation. Once OK or
 * REFUSE, further calls return the same answer without looking at data.
 * Refusals: not_tls, alert (an alert record first: the server refused the
 * ClientHello), interleaved_record (another non-handshake record),
 * record_too_large, empty_record, too_many_records, hello_too_large,
 * not_server_hello, bad_version, malformed, duplicate_extension,
 * too_many_items. */
enum rw_inspect_result rw_tls_sh_feed(struct rw_tls_sh_parser *p, const uint8_t *data, size_t len);

/* Parse one complete ServerHello handshake message (type and u24 length
 * included). RW_TLS_REFUSE_NONE and *out filled, or the refusal. */
enum rw_tls_refuse rw_tls_sh_parse(const uint8_t *msg, size_t len, struct rw_tls_server_hello *out);

/* Records that may come before a hello in a flight after the first one,
 * each relayed untouched: at most one ChangeCipherSpec (RFC 8446 §D.4
 * middlebox compatibility: exactly 14 03 0x 00 01 01) and, when
 * 'allow_appdata' (the client offered 0-RTT early data, which the server
 * skips after an HRR, §4.2.10), application_data records. Looks at the
 * buffered stream from its start (stateless; the caller bounds the buffer).
 * OK: *skip bytes of such records, then a handshake record begins.
 * MORE: the bytes so far are such records or a prefix of one.
 * REFUSE (*why): another record type (alert: RW_TLS_REFUSE_ALERT), a
 * second or malformed CCS, an oversized or empty record, more than
 * RW_TLS_HELLO_DEFAULT_MAX_RECORDS records. */
enum rw_inspect_result rw_tls_flight_prefix(const uint8_t *buf, size_t len, bool allow_appdata,
                                            size_t *skip, enum rw_tls_refuse *why);

#endif
