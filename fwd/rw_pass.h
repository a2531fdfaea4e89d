/* Passthrough mode: read the ClientHello, decide on its server name, then
 * splice the untouched byte stream to the registry and back.
 *
 * Connection states (docs/design/fwd.md draws them):
 *
 *   accept --admit--> HELLO --hello OK, name allowed--> CONNECTING
 *                       |                                  |
 *                       | refuse / timeout / EOF           | connected: send the
 *                       v                                  v buffered bytes
 *                     closed (event "refuse")            RELAY --both FINs passed,
 *                                                          |    reset, idle--> closed
 *                                                          v    (event "pass")
 *
 * Only the client socket exists in HELLO; the registry is not contacted
 * before the decision, so a refused client never reaches it. The client
 * socket is not read while CONNECTING: bytes after the hello wait in the
 * kernel and are spliced afterwards, in order. */
#ifndef RW_PASS_H
#define RW_PASS_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#include "fwd/rw_conn.h"
#include "fwd/rw_loop.h"
#include "fwd/rw_splice.h"
#include "inspect/rw_tls_hello.h"

struct rw_fwd_worker;
struct rw_fwd_listener;

/* Raw bytes kept while the hello is incomplete: the parser's own cap plus
 * a record header for each record it accepts. They are replayed to the
 * registry exactly as received. */
#define RW_PASS_HELLO_RAW_MAX (RW_TLS_HELLO_BUF + 5u * RW_TLS_HELLO_DEFAULT_MAX_RECORDS)

enum rw_pass_state {
	RW_PASS_HELLO = 0,
	RW_PASS_CONNECTING,
	RW_PASS_RELAY,
};

/* Allocated on the first readable event, freed once the bytes are sent on:
 * a connection that is only open (or idle in RELAY) costs no 33 KiB. */
struct rw_pass_hello {
	struct rw_tls_hello_parser parser;
	size_t len;
	uint8_t buf[RW_PASS_HELLO_RAW_MAX];
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
	bool have_hello;
	char sni[RW_TLS_SNI_MAX + 1];
	char ja4[RW_TLS_JA4_LEN + 1];
	struct rw_splice_dir up;   /* client -> registry */
	struct rw_splice_dir down; /* registry -> client */
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

#endif
