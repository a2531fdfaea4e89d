/* Supervision of the data-path workers (fwd/): the control plane forks
 * them after the table is applied, restarts a crashed one, and replaces
 * them all with a new generation after a reload.
 *
 * The parent owns the listening sockets (as nginx and relayd do: the
 * privileged parent binds and the sandboxed workers only accept): one
 * SO_REUSEPORT socket per listener and worker slot, so the kernel still
 * spreads connections over the workers. They outlive the generations: a
 * reload reuses the sockets of every listener whose address and port
 * stay, so a new generation accepts from the sockets the old one used and
 * no connect is refused, nor a queued connection dropped, in between.
 *
 * A worker inherits nothing privileged: the forked child keeps only stdio
 * and its channel (fd 3, fwd/rw_chan.h), closes every other fd
 * (close_range: the control socket and its clients, the signalfd, the
 * nftables netlink socket, the listening sockets, the other workers'
 * channels), dies with its parent (PR_SET_PDEATHSIG) so no orphan keeps
 * serving an old policy, and exec's regwalld as `regwalld --worker`
 * (exec_path; rw_worker_main.h). Everything else comes on the channel:
 * the boot bundle (fwd/rw_boot.h: packed policy, TLS files' bytes read
 * here once per generation, ticket secret, user), the limiter's memfd and
 * its slot's listening sockets. Once built it enters its sandbox
 * (rw_sandbox.h: the worker user, no capabilities, no_new_privs, seccomp)
 * before its first accept; stdout and stderr become /dev/null (events
 * and messages go over the channel). Live network changes and bans reach
 * running workers as deltas on the channel; only a reload starts a new
 * generation. */
#ifndef RW_WORKERS_H
#define RW_WORKERS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "appliance/rw_backoff.h"
#include "appliance/rw_sandbox.h"
#include "fwd/rw_bans.h"
#include "fwd/rw_chan.h"
#include "fwd/rw_fwd.h"
#include "base/rw_loop.h"
#include "fwd/rw_limit.h"
#include "fwd/rw_pem.h"
#include "fwd/rw_tlsctx.h"
#include "base/rw_err.h"
#include "rules/rw_policy.h"

#define RW_WORKERS_MAX 64

/* What the parent last heard from a worker on its channel. */
struct rw_worker_heard {
	long long at_ms;          /* last message (0 = none yet) */
	struct rw_chan_stats st;  /* its last STATS */
	uint64_t events;          /* EVENT messages received */
	bool reg;                 /* channel registered in the parent's loop */
	unsigned mask;
};

struct rw_worker_slot {
	pid_t pid;       /* 0 = empty */
	int stop_w;      /* the parent's end of the worker's channel (rw_chan.h) */
	unsigned generation;
	struct rw_worker_heard heard;
	long long last_start_ms;
	/* crash restarts: kept across generations (a reload does not reset
	 * a crash loop's budget) */
	struct rw_backoff bo;
	long long restart_at_ms; /* > 0: restart due then (backoff) */
	bool exhausted;          /* the last crash found the budget empty */
	bool sockets_dropped;    /* closed while waiting; reopened at the restart */
};

/* A worker of an older generation finishing its connections. */
struct rw_worker_draining {
	pid_t pid;
	long long kill_at_ms; /* SIGKILL if still alive then */
	int chan;             /* its channel, read until it ends (events while draining) */
	unsigned generation;
	struct rw_worker_heard heard;
};

/* Receives each decision event line (JSON, no '\n') from any worker. */
typedef void rw_workers_event_fn(void *ctx, const char *line, size_t len);

/* The sockets of one policy listener, one per worker slot. */
struct rw_worker_lsock {
	struct rw_endpoint ep;   /* as configured: the key for reuse */
	int fd[RW_WORKERS_MAX];  /* -1 = closed (slot left empty) */
};

struct rw_worker_lset {
	struct rw_worker_lsock *v; /* indexed like the policy's listeners */
	size_t n;
};

struct rw_workers {
	unsigned n;      /* wanted workers; 0 = no data path */
	struct rw_worker_slot slot[RW_WORKERS_MAX];
	struct rw_worker_draining draining[4 * RW_WORKERS_MAX];
	struct rw_limit *limit; /* shared push buckets, created once */
	int limit_fd;           /* its memfd, sent to each new worker */
	struct rw_pem_set pem;  /* the current generation's TLS files (rw_workers_start) */
	struct rw_pem_set next_pem; /* read and checked for the next start */
	bool have_next_pem;
	/* When set (regwalld: "/proc/self/exe"), a new worker exec's this
	 * program as `regwalld --worker`; NULL runs the worker in the forked
	 * child (test programs). */
	const char *exec_path;
	const struct rw_policy *pol;
	uint32_t drain_ms; /* drain_timeout of the current generation's policy */
	unsigned generation;
	/* drawn at each rw_workers_start: the TLS ticket keys of this
	 * generation derive from it, so a reload ends every session */
	uint8_t ticket_secret[RW_TLSCTX_SECRET_LEN];
	bool tickets; /* the secret was drawn */
	struct rw_worker_lset cur;  /* the sockets of the current generation */
	struct rw_worker_lset next; /* from rw_workers_prepare, for the next start */
	bool have_next;
	/* the parent's loop and event sink, once attached (rw_workers_attach) */
	struct rw_loop *loop;
	rw_workers_event_fn *on_event;
	void *event_ctx;
	/* the worker whose event on_event is handling (the parent's own
	 * record, never the worker's word): the audit chain stamps it */
	pid_t event_pid;
	unsigned event_generation;
	/* events of workers that are gone (their last STATS) */
	uint64_t gone_events_sent, gone_events_dropped, events_received;
	uint64_t bad_messages; /* malformed channel messages (the worker was killed) */
	uint64_t restarts; /* slot restarts after a worker ended (crash, kill, failed delta) */
	struct rw_sandbox_user user; /* the workers run as this user (rw_sandbox.h) */
	/* live network changes sent (rw_workers_delta): a worker forked now
	 * starts from this count, which its policy (ws->pol) already holds */
	uint64_t live_seq;
	uint64_t live_restarts; /* workers restarted because they could not take one
				 * (or a ban delta: rw_workers_ban) */
	/* The manual bans the parent knows (rw_workers_ban,
	 * rw_workers_bans_replace), which every worker checks as its second
	 * line: each new worker gets them in its boot bundle, running ones as
	 * deltas. Not the bans the kernel's ban_after meters add: those are
	 * written from the packet path and never reach the parent, so only
	 * the kernel enforces them. */
	struct rw_bans bans;
};

/* n = 0 disables the data path. Creates the shared limiter. As root,
 * resolves the worker user: user, or NULL for "regwall" falling back to
 * "nobody" (an unknown user refuses the start). */
int rw_workers_init(struct rw_workers *ws, unsigned n, struct rw_diag *diag);
int rw_workers_set_user(struct rw_workers *ws, const char *user, struct rw_diag *diag);
void rw_workers_fini(struct rw_workers *ws); /* stops the workers, closes the sockets */

/* Open, or find among the current ones, every listening socket policy p
 * needs, without touching the running generation. Fails (RW_EIO, and a
 * diag naming listener, address and error, e.g. "listener pass4
 * 203.0.113.99:8444: cannot bind: Cannot assign requested address") if
 * one cannot be had; nothing changes then. The result waits for the next
 * rw_workers_start; a new call replaces it. Call it before the policy's
 * table is applied, so a listener that cannot be bound refuses the
 * reload before anything changed. 0 with n = 0 workers. p need not stay
 * valid after the call (only the listeners' addresses are kept). */
int rw_workers_prepare(struct rw_workers *ws, const struct rw_policy *p, struct rw_diag *diag);
/* Give up a prepared set (the apply that was to follow failed): sockets
 * it opened are closed, so no new socket waits with nobody accepting. */
/* The TLS files' bytes for the next rw_workers_start, read and checked
 * before the policy is applied (rw_daemon_check_tls); taken over (*pem
 * emptied), dropped by rw_workers_prepare_cancel. */
void rw_workers_next_pem(struct rw_workers *ws, struct rw_pem_set *pem);
void rw_workers_prepare_cancel(struct rw_workers *ws);

/* (Re)start all workers for policy p: the prepared sockets if they are
 * for p's listeners, else it prepares them itself (and fails, the old
 * generation still running, if that fails). Then it forks the new
 * generation, which accepts at once on the sockets, and only then tells
 * the old one to stop accepting; the old one drains its open connections
 * in the background (up to the limits.drain_timeout of the policy it was
 * started with, then SIGKILL after a short grace). Sockets of listeners
 * no longer in p are closed. p must stay valid until the next call. */
int rw_workers_start(struct rw_workers *ws, const struct rw_policy *p, struct rw_diag *diag);
/* A live network change (regwallctl network add|del) without a new
 * generation: the caller has already changed ws->pol the same way (add c
 * to / delete c from network net_index), so every worker forked from now
 * on (crash restarts) has it; this sends it (rw_chan NET_ADD / NET_DEL)
 * to every running worker of the current generation, which applies it to
 * its own copy in place before its next accept. A worker that would miss
 * it is not left running on the old policy:
 *   - its channel is full (it has not read 512 messages) or closed: it is
 *     killed and its slot restarted like after a crash (rw_workers_crashed:
 *     at once after a stable run), on the current policy;
 *   - it runs an older generation (its successor did not start at the
 *     last reload): a successor is started on the current policy, and the
 *     old one drains once it is ready; if it does not come up, the old
 *     one stays and RW_EIO plus a diag say so.
 * A worker that cannot apply a change it got (rw_fwd.h) says why and ends
 * with its own exit code; the parent restarts it the same way. Draining
 * workers get no changes: they accept nothing new. 0 = sent to all. */
int rw_workers_delta(struct rw_workers *ws, bool add, size_t net_index, const struct rw_cidr *c,
		     struct rw_diag *diag);

/* A manual ban added (add: until expires_ms, CLOCK_REALTIME unix ms, as
 * rw_bans.h) or lifted (regwallctl ban add|del, after the kernel took
 * it): recorded in ws->bans, so every worker forked from now on has it,
 * and sent (rw_chan BAN_ADD / BAN_DEL) to every worker in a slot, of any
 * generation (bans are not part of the policy; an older generation still
 * serving a slot admits connections too). A worker whose channel is full
 * or closed is killed and its slot restarted, as for a live change.
 * Draining workers get nothing: they stopped accepting and stopped
 * reading their channel at their STOP (fwd/rw_fwd.c rw_fwd_stop), so no
 * connection they could refuse is left to come. 0; RW_EINVAL (c,
 * expires_ms); RW_ENOMEM (not recorded and not sent: the kernel holds the
 * ban all the same). */
int rw_workers_ban(struct rw_workers *ws, bool add, const struct rw_cidr *c, uint64_t expires_ms,
		   struct rw_diag *diag);
/* The bans read back from the kernel at a start, reload or guard restore
 * (the manual ones the table replace carried over) become ws->bans
 * (taken over: *nb is left empty); the running workers get the
 * difference as deltas (deletions first), so they hold what the kernel
 * holds. An expiry that moved by less than a second counts as the same
 * (the parent's reckoning and the kernel's time left differ by the time
 * a ban took to apply). */
void rw_workers_bans_replace(struct rw_workers *ws, struct rw_bans *nb);

/* Stops the workers (SIGKILL after 3 s); the sockets stay open. */
void rw_workers_stop(struct rw_workers *ws);

/* After SIGCHLD: reap, and restart workers that died unexpectedly on
 * their slot's sockets. The first crash after a stable run restarts at
 * once; a crash loop backs off (rw_backoff.h: 5 restarts a minute per
 * slot as a decaying budget, 250 ms doubling to 30 s between restarts);
 * a slot is never abandoned. While a restart waits 1 s or more its
 * sockets are closed (the kernel spreads connections over the other
 * slots) and reopened at the restart. */
void rw_workers_reap(struct rw_workers *ws);

/* Call at least once a second (and when rw_workers_next_ms says):
 * restarts slots whose backoff is over, kills draining workers past
 * their time. */
void rw_workers_tick(struct rw_workers *ws);
/* Milliseconds until the next due restart; -1 if none waits. */
long long rw_workers_next_ms(const struct rw_workers *ws);
/* No worker can be kept alive: the data path is wanted (n > 0), no
 * worker of the current generation runs, and every slot's restart budget
 * is spent. The daemon then exits non-zero (the table stays in force) so
 * the service manager restarts it; why[] says what happened. */
bool rw_workers_failed(const struct rw_workers *ws, char *why, size_t cap);

/* Live worker count (current generation). */
unsigned rw_workers_alive(const struct rw_workers *ws);

/* Read the workers' channels from loop (events to on_event, heartbeats
 * and counts to rw_workers_status_json); workers started before are
 * registered now, later ones as they start. */
void rw_workers_attach(struct rw_workers *ws, struct rw_loop *loop, rw_workers_event_fn *on_event,
		       void *ctx);
void rw_workers_detach(struct rw_workers *ws);

/* A worker whose loop has not sent its heartbeat for this long is shown
 * as stalled by status. */
#define RW_WORKERS_STALL_MS 1500

struct json_t;
/* {"worker_list":[{slot,pid,generation,connections,last_heard_ms,stalled,
 * events_sent,events_dropped,live_changes}...], "workers_stalled",
 * "workers_draining", "live_changes" (sent), "live_change_restarts",
 * "events":{received,sent_by_workers,dropped_in_workers}} into obj. */
void rw_workers_status_json(const struct rw_workers *ws, struct json_t *obj);

#endif
