/* Shared between the passthrough connection (rw_pass.c) and its
 * handshake watch (rw_pass_hs.c); not part of the API. */
#ifndef RW_PASS_INT_H
#define RW_PASS_INT_H

#include "fwd/rw_pass.h"

/* Register interest in fd (0 = none: taken out of epoll). */
int rw_pass_interest(struct rw_pass_conn *c, int fd, bool *reg, unsigned *cur, unsigned mask,
		     rw_loop_fd_fn *fn);
void rw_pass_on_client(struct rw_loop *l, int fd, unsigned events, void *arg);
void rw_pass_on_upstream(struct rw_loop *l, int fd, unsigned events, void *arg);
/* End the connection: event (kind NULL: none), RST if rst. */
void rw_pass_close(struct rw_pass_conn *c, const char *kind, const char *reason, bool rst);
/* Refuse: with the unrecognized_name alert if 'alert' and the worker sends them. */
void rw_pass_refuse(struct rw_pass_conn *c, const char *reason, bool alert);
/* Refuse with a fatal alert 'desc' (if the worker sends alerts), FIN after it. */
void rw_pass_refuse_alert(struct rw_pass_conn *c, const char *reason, uint8_t desc);
/* The parser refused a hello for its server name: keep the name, escaped,
 * for the event. */
void rw_pass_note_refused_name(struct rw_pass_conn *c, const struct rw_tls_hello_parser *p);
/* The decision on a (first or second) hello, as token; NULL = allowed. */
const char *rw_pass_decide(struct rw_pass_conn *c, const struct rw_tls_hello *h);
/* Splice both ways, after the heads: the client's bytes not yet sent
 * (c->hello) up, the registry's bytes read so far (c->hs) down. */
void rw_pass_start_relay(struct rw_pass_conn *c);

/* rw_pass_hs.c: the upstream is connected; send the checked hello and
 * watch the registry's answer. */
void rw_pass_hs_start(struct rw_pass_conn *c);
/* Progress in SERVER_HELLO or RETRY (either socket's event). */
void rw_pass_hs_step(struct rw_pass_conn *c);

#endif
