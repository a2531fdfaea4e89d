/* Worker internals shared by rw_fwd.c (listeners, admission) and rw_pass.c
 * (the passthrough connection). Not for use outside fwd/. */
#ifndef RW_FWD_INT_H
#define RW_FWD_INT_H

#include <stdbool.h>
#include <sys/socket.h>

#include "fwd/rw_conn.h"
#include "fwd/rw_event.h"
#include "fwd/rw_fwd.h"
#include "base/rw_loop.h"
#include "fwd/rw_splice.h"
#include "rules/rw_cidrset.h"

struct rw_fwd_worker;
struct rw_term_listener;
struct rw_term_conn;

struct rw_fwd_listener {
	struct rw_fwd_worker *w;
	const struct rw_listener *cfg;
	int fd;                /* -1 if not opened (terminate mode, for now) */
	uint16_t port;
	char *const *names;    /* the listener's names, else the registry's */
	size_t n_names;
	struct rw_term_listener *term; /* terminate mode: SSL_CTX + names; else NULL */
};

#define RW_FWD_IO_POOL 16

struct rw_fwd_worker {
	struct rw_loop loop;
	const struct rw_policy *p;
	/* the VPN peers' tunnel addresses, sorted (rules/rw_cidrset.h): the
	 * per-connection "whose address is this" in O(log n). Peers change
	 * only with a new generation. */
	struct rw_cidrset_index peer_ix;
	/* the bans checked first at admission: o.bans, or own_bans when the
	 * caller gave none (rw_fwd_opts.bans) */
	struct rw_bans *bans;
	struct rw_bans own_bans;
	struct rw_fwd_opts o;
	struct rw_fwd_events ev;
	struct rw_fwd_listener *lis;
	size_t n_lis;
	struct rw_conn_table conns;
	struct rw_pipe_pool pipes;
	int spare_fd; /* held open so EMFILE can still accept-and-close */
	int vpn_ifindex; /* the VPN interface's index as last resolved; 0 = not yet */
	bool listeners_paused;
	struct rw_timer resume_timer;
	/* terminate mode (rw_term.c) */
	struct rw_term_conn *term_conns; /* live terminate connections */
	struct rw_timer drain_timer;     /* while draining after a stop */
	struct rw_timer tick_timer;      /* o.tick, every o.tick_ms */
	uint64_t drain_deadline_ms;
	bool draining;                   /* stopped: no keep-alive past the current response */
	int failed;                      /* a live change could not be applied: the loop
					  * ended and rw_fwd_worker_loop returns this */
	struct ssl_ctx_st *up_ctx;       /* upstream TLS client context; NULL = plain */
	/* terminate-mode request buffers kept for reuse (rw_term.c) */
	void *io_pool[RW_FWD_IO_POOL];
	unsigned n_io_pool;
};

/* Wall clock in ms, for events. */
uint64_t rw_fwd_wall_ms(void);

/* Emit a refusal for a connection that never got a conn object. */
void rw_fwd_emit_refuse(struct rw_fwd_worker *w, const struct rw_fwd_listener *lis,
			const struct sockaddr_storage *ss, const char *reason);

/* Make close(fd) send RST instead of FIN (SO_LINGER 0): for connections
 * refused or reset, so no TIME_WAIT state is kept for them. */
void rw_fwd_linger0(int fd);

/* Admission shared by both modes: the peer's address into family/addr/port
 * and key; the source checked against the worker's bans (rw_bans.h: the
 * manual bans the parent knows, in force now), then against the
 * listener's allow_from (networks, and VPN peers only through the VPN
 * interface): the kernel's early and input chains do the same, this is
 * the second line for when the table or a ban element is gone; then a
 * slot in the worker's table (total and per-source limits) holding conn.
 * A transparent listener's connection must have been redirected from the
 * upstream (rw_orig_dst_check). Returns the slot; or, when refused,
 * closes cfd with RST, emits the refusal ("banned_l7" / "not_allowed_l7"
 * / "not_redirected" / "not_upstream" / "source_limit" / "overload")
 * and returns < 0. */
long rw_fwd_admit(struct rw_fwd_worker *w, const struct rw_fwd_listener *lis, int cfd,
		  const struct sockaddr_storage *ss, void *conn, struct rw_src_key *key,
		  uint8_t *family, uint8_t addr[16], uint16_t *port);

/* Let accepted sockets of listening socket fd tell the interface their
 * SYN came in on (IP_PKTINFO / IPV6_RECVPKTINFO), for the VPN check in
 * rw_fwd_admit. Set before listen() sees a connection: a socket accepted
 * earlier has no record of it. */
void rw_fwd_listen_pktinfo(int fd, int family);

/* Draining began (rw_fwd.c): close the terminate sessions that sit idle
 * between requests; sessions that have not sent a byte of their first
 * request (or are still in the handshake) get a 1 s grace, then close; the
 * others close after their response (rw_term.c). */
void rw_term_drain(struct rw_fwd_worker *w);

#endif
