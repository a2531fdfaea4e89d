/* The forwarding worker: the public entry the daemon calls.
 *
 * The privileged parent applies the nftables table and serves the control
 * socket, opens the listening sockets (one SO_REUSEPORT socket per
 * listener and worker slot, kept across reloads), then forks N workers;
 * each calls rw_fwd_worker_run() with its slot's sockets in
 * o->listen_fds, and runs one epoll loop until stop_fd becomes readable
 * (or a fatal error). Passthrough
 * listeners are served by rw_pass, terminate listeners by rw_term (one
 * SSL_CTX per listener, built in rw_fwd_worker_new).
 *
 * The worker ignores SIGPIPE (splice into a dead socket raises it). It
 * installs no other signal handlers: the parent stops a worker by making
 * stop_fd readable (write to a pipe, an eventfd, or a signalfd). The
 * worker then stops accepting at once: it takes each listener out of its
 * loop and closes its copy; the parent's copy keeps the socket, and the
 * connections queued on it, for the new generation a reload started. It
 * returns when its
 * last connection has ended or drain_timeout_ms has passed: a reload does
 * not cut a push in flight. While draining, a terminate connection is
 * closed once its current response is out (idle ones at once; one still
 * in the handshake or silent since it after a 1 s grace), so keep-alive
 * does not hold the old worker for the whole drain time and no request is
 * decided under the old policy later. */
#ifndef RW_FWD_H
#define RW_FWD_H

#include <stddef.h>
#include <stdint.h>

#include "fwd/rw_bans.h"
#include "fwd/rw_event.h"
#include "fwd/rw_limit.h"
#include "fwd/rw_pem.h"
#include "rules/rw_policy.h"

struct rw_fwd_opts {
	uint32_t hello_timeout_ms;   /* accept -> complete ClientHello; default 5000 */
	uint32_t connect_timeout_ms; /* upstream connect(); default 5000 */
	uint32_t response_timeout_ms; /* terminate: request written upstream -> final
				       * response head, else 504; default 120000 */
	uint32_t idle_timeout_ms;    /* no byte either way while relaying; default 300000 */
	uint32_t max_conns;          /* live connections per worker; default 4096 */
	uint32_t max_per_source;     /* per source address (v6: /64); 0 = none; default 256 */
	uint32_t max_idle_pipes;     /* pipes kept for reuse; default 256 */
	int backlog;                 /* listen(2) backlog; default 1024 */
	int stop_fd;                 /* readable -> the worker stops accepting and drains */
	uint32_t drain_timeout_ms;   /* after stop: open connections may finish this long;
				      * 0 = return at once; default 3600000 (an hour: a
				      * push in flight is not cut by a reload) */
	int send_alert;              /* 1: a refused name gets a TLS unrecognized_name alert; default 1 */
	int check_sources;           /* 1: refuse a source outside the listener's allow_from
				      * ("not_allowed_l7"), the second line behind the kernel's
				      * input chain; rw_fwd_opts_from_policy sets it; default 0
				      * (tests that feed the decision any source) */
	/* ---- terminate mode (fwd/rw_term.h) ---- */
	uint32_t handshake_timeout_ms; /* accept -> TLS handshake done; default 10000 */
	uint32_t header_timeout_ms;    /* first byte of a request head -> whole head; default 30000 */
	struct rw_limit *limit;        /* shared push buckets; NULL = no push limits */
	char *err;                     /* optional: why rw_fwd_worker_new failed, for the
					* caller to print (a file, a listener) */
	size_t errlen;
	/* The TLS files' bytes as the parent read them (fwd/rw_pem.h); NULL =
	 * read them from disk (tests, tools). Used only while building. */
	const struct rw_pem_set *pem;
	const uint8_t *ticket_secret;  /* RW_TLSCTX_SECRET_LEN bytes shared by the workers of
					* one generation: TLS session tickets; NULL = none */
	/* Indexed by policy listener: a socket already bound and listening
	 * (from rw_listen_open) that the worker accepts on, or -1 to open one
	 * itself; NULL = open all itself. rw_fwd_worker_new takes every fd
	 * >= 0 in it over, also when it fails: the worker closes it at stop
	 * or free (its own copy; the parent keeps the socket). */
	const int *listen_fds;
	/* Called every tick_ms from the worker's loop (0 = never) with the
	 * live connection count: the worker's heartbeat to the parent
	 * (rw_chan STATS), so a loop that stops turning shows. */
	void (*tick)(void *ctx, uint64_t conns);
	void *tick_ctx;
	uint32_t tick_ms;
	/* Live network changes (rw_chan.h NET_ADD / NET_DEL on stop_fd, a
	 * channel): live_pol is p itself, writable (the worker's private
	 * copy, unpacked from its boot bundle); a delta changes that network's
	 * prefixes in place, so the next admission check and rw_who_resolve
	 * see it. live_gen: the generation a delta must name; live_seq: the
	 * last live change already in p (the next delta must carry
	 * live_seq + 1). live_pol NULL: a delta is inapplicable. A delta that
	 * cannot be applied is logged on the channel (LOG) and ends the
	 * worker: rw_fwd_worker_loop returns RW_EPROTO. */
	struct rw_policy *live_pol;
	uint32_t live_gen;
	uint64_t live_seq;
	/* The manual bans the parent knows (fwd/rw_bans.h), checked first at
	 * admission: a banned source is reset with event banned_l7. The
	 * worker uses this object in place (the worker's copy from its boot
	 * bundle) and applies BAN_ADD / BAN_DEL from its channel to it; NULL:
	 * the worker keeps its own, empty at the start. */
	struct rw_bans *bans;
};

/* Defaults: the RW_LIMITS_DEF_* values of rules/rw_policy.h. */
void rw_fwd_opts_default(struct rw_fwd_opts *o);
/* The policy's limits section into o (timeouts, connection caps, drain);
 * the other members are left as they are. */
void rw_fwd_opts_from_policy(struct rw_fwd_opts *o, const struct rw_policy *p);

/* Run one worker until stop. p must stay valid and unchanged while it
 * runs. ev may be NULL (no events). Returns 0 after a stop, RW_ENOENT if
 * the policy has no listener this worker can serve, RW_EIO if a listener
 * cannot be opened, RW_ENOMEM. */
int rw_fwd_worker_run(const struct rw_policy *p, const struct rw_fwd_opts *o,
		      const struct rw_fwd_events *ev);

/* The same in steps, for tests and for callers that need the bound ports
 * (listeners configured with port 0) before the loop starts. */
struct rw_fwd_worker;
int rw_fwd_worker_new(const struct rw_policy *p, const struct rw_fwd_opts *o,
		      const struct rw_fwd_events *ev, struct rw_fwd_worker **out);
/* Bound port of policy listener index i (host order); 0 if not opened. */
uint16_t rw_fwd_worker_port(const struct rw_fwd_worker *w, size_t listener_index);
/* Live connections right now (not thread-safe: a snapshot for tests). */
size_t rw_fwd_worker_conns(const struct rw_fwd_worker *w);
/* Runs until stopped and drained (0), or RW_EPROTO after a live change
 * the worker could not apply (it logged why on the channel). */
int rw_fwd_worker_loop(struct rw_fwd_worker *w);
/* The last live change applied (rw_fwd_opts.live_seq, then +1 per delta). */
/* The worker's event loop (a sink that gathers events flushes on it). */
struct rw_loop *rw_fwd_worker_loop_of(struct rw_fwd_worker *w);
uint64_t rw_fwd_worker_live_seq(const struct rw_fwd_worker *w);

/* One live change to a network's prefixes (sorted v4 before v6, then by
 * address, disjoint: rw_policy.h), kept in that order: add c (RW_EEXIST
 * if it overlaps a prefix of net) or delete exactly c (RW_ENOENT if net
 * does not hold it). Binary search plus one memmove; RW_ENOMEM. */
int rw_fwd_net_change(struct rw_network *net, int add, const struct rw_cidr *c);
void rw_fwd_worker_free(struct rw_fwd_worker *w); /* closes every socket */

#endif
