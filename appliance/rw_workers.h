/* Supervision of the data-path workers (fwd/): the control plane forks
 * them after the table is applied, restarts a crashed one, and replaces
 * them all with a new generation after a reload.
 *
 * A worker inherits nothing privileged: before it runs fwd/ the child
 * closes every fd but stdio and its stop pipe (close_range: the control
 * socket and its clients, the signalfd, the nftables netlink socket,
 * the other workers' pipes), and dies with its parent (PR_SET_PDEATHSIG) so no orphan keeps
 * serving an old policy. Dropping uid and capabilities comes with the
 * privilege-separation work; the code paths are already apart. */
#ifndef RW_WORKERS_H
#define RW_WORKERS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "fwd/rw_fwd.h"
#include "fwd/rw_limit.h"
#include "fwd/rw_tlsctx.h"
#include "inspect/rw_err.h"
#include "rules/rw_policy.h"

#define RW_WORKERS_MAX 64

struct rw_worker_slot {
	pid_t pid;       /* 0 = empty */
	int stop_w;      /* write end of the worker's stop pipe */
	unsigned restarts;
	long long last_start_ms;
};

/* A worker of an older generation finishing its connections. */
struct rw_worker_draining {
	pid_t pid;
	long long kill_at_ms; /* SIGKILL if still alive then */
};

struct rw_workers {
	unsigned n;      /* wanted workers; 0 = no data path */
	struct rw_worker_slot slot[RW_WORKERS_MAX];
	struct rw_worker_draining draining[4 * RW_WORKERS_MAX];
	struct rw_limit *limit; /* shared push buckets, created once */
	const struct rw_policy *pol;
	uint32_t drain_ms; /* drain_timeout of the current generation's policy */
	unsigned generation;
	/* drawn at each rw_workers_start: the TLS ticket keys of this
	 * generation derive from it, so a reload ends every session */
	uint8_t ticket_secret[RW_TLSCTX_SECRET_LEN];
	bool tickets; /* the secret was drawn */
};

/* n = 0 disables the data path. Creates the shared limiter. */
int rw_workers_init(struct rw_workers *ws, unsigned n, struct rw_diag *diag);
void rw_workers_fini(struct rw_workers *ws); /* stops the workers */

/* (Re)start all workers for policy p. The old generation stops
 * accepting at once and drains its open connections in the background
 * (up to the limits.drain_timeout of the policy it was started with, then
 * SIGKILL after a short grace); the new one takes over the
 * ports through SO_REUSEPORT, so a reload drops no connection. p must
 * stay valid until the next call. */
int rw_workers_start(struct rw_workers *ws, const struct rw_policy *p, struct rw_diag *diag);
void rw_workers_stop(struct rw_workers *ws);

/* After SIGCHLD: reap, and restart workers that died unexpectedly (at
 * most 5 times per minute each; then the slot stays empty and it is
 * logged). */
void rw_workers_reap(struct rw_workers *ws);

/* Call about once a second: kills draining workers past their time. */
void rw_workers_tick(struct rw_workers *ws);

/* Live worker count (current generation). */
unsigned rw_workers_alive(const struct rw_workers *ws);

#endif
