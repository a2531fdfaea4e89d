/* The terminate-mode connection to the upstream registry: a non-blocking
 * connect to registry.upstream, then, with registry.upstream_tls, a TLS
 * handshake that verifies the registry's certificate.
 *
 * Which name the certificate must carry: the registry's first server_name
 * (the name clients use, and the name a registry certificate is issued
 * for), sent as SNI too. Only when the policy has no server_names is the
 * upstream IP address checked instead (an IP SAN). The upstream address in
 * the config is always numeric, so it is not a useful host name.
 *
 * Keep-alive reuse: a connection whose response framing allows it stays
 * with its client connection for the next request (rw_term decides); it is
 * never shared between client connections, so one client's requests never
 * ride on a connection another client's bytes could have desynchronised. */
#ifndef RW_UPSTREAM_H
#define RW_UPSTREAM_H

#include <stdbool.h>

#include <openssl/ssl.h>

#include "rules/rw_policy.h"

enum rw_upstream_state {
	RW_UP_CLOSED = 0,
	RW_UP_CONNECTING, /* TCP connect in flight */
	RW_UP_HANDSHAKE,  /* TLS handshake in flight */
	RW_UP_READY,
};

struct rw_upstream {
	enum rw_upstream_state state;
	int fd;   /* -1 when closed */
	SSL *ssl; /* NULL for plain HTTP */
	long verify_result; /* after a failed TLS handshake, for the log */
};

void rw_upstream_init(struct rw_upstream *u);

/* Start connecting to reg->upstream; with tls != NULL the handshake follows
 * (verify name chosen as described above). 0 = started (state CONNECTING),
 * RW_EIO / RW_ENOMEM on failure (u stays CLOSED). */
int rw_upstream_connect(struct rw_upstream *u, const struct rw_registry *reg, SSL_CTX *tls);

/* Drive the connect and handshake on readiness. 0 = READY, RW_EINCOMPLETE
 * = wait for *want (RW_LOOP_*), RW_EIO = connect failed, RW_EPROTO = TLS
 * failed (see verify_result). */
int rw_upstream_progress(struct rw_upstream *u, unsigned *want);

/* Close the socket (does not touch any event loop: unregister first). */
void rw_upstream_close(struct rw_upstream *u);

#endif
