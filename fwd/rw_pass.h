/* Passthrough mode: read the ClientHello, decide on its server name, then
 * splice the untouched byte stream to the registry and back.
 *
 * Connection states (docs/design/fwd.md draws them):
 *
 *   accept --admit--> HELLO --hello OK, name allowed--> CONNECTING
 *                       |                                  | connected
 *                       | refuse / timeout / EOF           v
 *                       v                            SERVER_HELLO: the hello to the
 *                     closed (event "refuse")          registry, its answer read
 *                                                      |         |  HelloRetryRequest
 *                                     ServerHello/alert|         v
 *                                                      |       RETRY: HRR to the client,
 *                                                      |         its second hello read and
 *                                                      |         checked, back to SERVER_HELLO
 *                                                      v
 *                                                    RELAY --both FINs passed,
 *                                                      |    reset, idle--> closed
 *                                                      v    (event "pass")
 *
 * Only the client socket exists in HELLO; the registry is not contacted
 * before the decision, so a refused client never reaches it. From
 * CONNECTING to RELAY each socket is read only when its side is due to
 * speak: bytes the client sends after its hello wait in the kernel until
 * the registry's ServerHello shows that no second hello is due (an HRR
 * would make them one), and are spliced afterwards, in order. */
#ifndef RW_PASS_H
#define RW_PASS_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#include "fwd/rw_conn.h"
#include "base/rw_loop.h"
#include "fwd/rw_splice.h"
#include "inspect/rw_tls_hello.h"
#include "inspect/rw_tls_server_hello.h"

struct rw_fwd_worker;
struct rw_fwd_listener;

/* Raw bytes kept while the hello is incomplete: the parser's own cap plus
 * a record header for each record it accepts. They are replayed to the
 * registry exactly as received. */
#define RW_PASS_HELLO_RAW_MAX (RW_TLS_HELLO_BUF + 5u * RW_TLS_HELLO_DEFAULT_MAX_RECORDS)
/* Raw bytes kept from the registry until its ServerHello is parsed: the
 * parser's cap, its records' headers and a CCS before it. */
#define RW_PASS_SERVER_RAW_MAX (RW_TLS_SH_MAX + 5u * RW_TLS_SH_MAX_RECORDS + 6u)

/* The event text of a refused server name: room for 253 plain bytes or
 * 70 escaped ones, and the truncation note. */
#define RW_PASS_SNI_TEXT_MAX 320u

enum rw_pass_state {
	RW_PASS_HELLO = 0,
	RW_PASS_CONNECTING,
	RW_PASS_SERVER_HELLO,
	RW_PASS_RETRY,
	RW_PASS_RELAY,
};

/* Allocated on the first readable event, freed once the bytes are sent on:
 * a connection that is only open (or idle in RELAY) costs no 33 KiB. */
struct rw_pass_hello {
	struct rw_tls_hello_parser parser;
	size_t len;       /* bytes read from the client and not yet sent on */
	size_t flight;    /* of which the checked hello's records (and the CCS
			   * or 0-RTT records before a second hello) */
	size_t skip;      /* second hello: records before it (rw_tls_flight_prefix) */
	size_t fed;       /* second hello: bytes given to the parser */
	bool prefix_done;
	uint8_t buf[RW_PASS_HELLO_RAW_MAX];
};

/* From CONNECTING to RELAY: the registry's answer and what the first hello
 * said, so that a second hello after an HRR can be held to it. Allocated
 * at connect, freed once its bytes are sent on. */
struct rw_pass_hs {
	struct rw_tls_sh_parser sh;
	size_t len;        /* bytes read from the registry */
	size_t skip, fed;  /* CCS before the ServerHello; bytes given to the parser */
	bool prefix_done;
	unsigned n_hrr;    /* HelloRetryRequests seen (a second one is refused) */
	const uint8_t *out; /* a flight being written: to the registry in
			     * SERVER_HELLO, to the client in RETRY */
	size_t out_len, out_off;
	struct rw_tls_hello first;
	uint8_t buf[RW_PASS_SERVER_RAW_MAX];
};

struct rw_pass_conn {
	struct rw_fwd_worker *w;
	struct rw_fwd_listener *lis;
	size_t slot;
	struct rw_src_key key;
	enum rw_pass_state state;
	int cfd, ufd;
	unsigned cmask, umask; /* registered interest */
	bool creg, ureg;       /* registered with the loop at all */
	uint8_t src_family;
	uint8_t src_addr[16];
	uint16_t src_port;
	uint64_t t_start;      /* monotonic ms at accept */
	uint64_t last_io;      /* monotonic ms of the last byte relayed */
	struct rw_timer timer; /* hello, connect or idle deadline */
	struct rw_pass_hello *hello;
	struct rw_pass_hs *hs;
	uint64_t hs_up, hs_down;   /* bytes written outside the splice (hellos, HRR) */
	bool have_hello;
	uint16_t alert_version;    /* record version of our alerts, from the hello */
	char sni[RW_TLS_SNI_MAX + 1];
	/* a name the parser refused (tls_bad_name, tls_multiple_names), escaped
	 * by rw_pass_sni_text() for the event; "" otherwise */
	char sni_refused[RW_PASS_SNI_TEXT_MAX];
	char ja4[RW_TLS_JA4_LEN + 1];
	struct rw_splice_dir up;   /* client -> registry */
	struct rw_splice_dir down; /* registry -> client */
	int r_up, r_down;          /* each direction's last step result (wants) */
};

/* Take over an accepted client socket: admission (limits), then HELLO.
 * On refusal the socket is closed and the event emitted here. */
void rw_pass_accept(struct rw_fwd_worker *w, struct rw_fwd_listener *lis, int cfd,
		    const struct sockaddr_storage *ss);
/* Close every live connection without events (worker shutdown). */
void rw_pass_close_all(struct rw_fwd_worker *w);

/* The decision on a complete hello, apart from I/O: NULL to let it
 * through, else the refusal reason token. */
const char *rw_pass_check_hello(const struct rw_tls_hello *h, char *const *names,
				size_t n_names, bool allow_ech);

/* The record version regwall's alerts carry: the client's
 * ClientHello.legacy_version, at most 0x0303 (what OpenSSL's server does
 * before a version is agreed; TLS 1.3 clients put 0x0303 there, the record
 * layer of their hello often says 0x0301). Not 3.x: 0x0303. */
uint16_t rw_pass_alert_version(uint16_t legacy_version);
/* A failed connect() to the registry (errno, 0 = no socket) as the event
 * reason: connect_refused, connect_unreachable, connect_timeout or
 * connect_failed. */
const char *rw_pass_connect_reason(int err);

/* A server name the parser refused, as event text: bytes outside
 * [A-Za-z0-9.-_] written as \xHH (so the text is printable ASCII and a
 * backslash or space never comes from the client); when the name does not
 * fit (kept = bytes available, wire_len = its length on the wire) it is
 * cut and " (truncated, N bytes)" added. out_size >= 32. Returns strlen. */
size_t rw_pass_sni_text(const uint8_t *name, size_t kept, size_t wire_len, char *out,
			size_t out_size);

/* A second ClientHello (after an HRR) against the first: NULL if the
 * server name and the ALPN list are the same, else "hrr_sni" or
 * "hrr_alpn". The listener's rules are rw_pass_check_hello()'s. */
const char *rw_pass_check_retry(const struct rw_tls_hello *first, const struct rw_tls_hello *second);

#endif
