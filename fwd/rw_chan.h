/* The channel between regwalld and one worker: a SOCK_SEQPACKET socket
 * pair (fd 3 in the worker), one message per packet, so a message is
 * never split or merged and its length is the packet's.
 *
 *   header (12 bytes, host order: both ends are one machine)
 *     uint16 type  | uint16 flags (0) | uint32 len (body bytes) |
 *     uint32 generation (the sender's worker generation; 0 = parent)
 *   body   len bytes, len <= RW_CHAN_BODY_MAX
 *
 * parent -> worker  STOP     (no body) stop accepting and drain
 *                   NET_ADD  struct rw_chan_net: a prefix added to one of
 *                   NET_DEL  the policy's networks / deleted from it
 *                            (regwallctl network add|del), applied by the
 *                            worker to its own copy of the policy in place
 *                            (no new generation). seq counts the parent's
 *                            live changes: a worker applies only its last
 *                            seq + 1, and only for its own generation; a
 *                            delta it cannot apply (gap, other
 *                            generation, prefix overlapping / missing) is
 *                            logged (LOG) and ends the worker, which the
 *                            parent restarts on its current policy
 *                   BAN_ADD  struct rw_chan_ban: a manual ban (regwallctl
 *                   BAN_DEL  ban add|del) the worker's second line checks
 *                            at admission (fwd/rw_bans.h); no generation
 *                            or sequence number: bans are not part of the
 *                            policy, hold for every generation, and a
 *                            channel keeps their order. ADD of an existing
 *                            ban sets its new expiry, DEL of one the
 *                            worker does not hold (expired) is nothing
 * worker -> parent  READY    (no body) built, accepting
 *                   EVENT    decision events, one or more JSON objects
 *                            each ended by '\n' (no NUL, no empty line):
 *                            a worker gathers events for up to
 *                            RW_CHAN_EVENT_HOLD_MS and sends them in one
 *                            message, not one message each
 *                   STATS    struct rw_chan_stats: sent every
 *                            RW_CHAN_STATS_MS from the worker's loop, so
 *                            the parent sees a worker whose loop stalls
 *                   LOG      a message for regwalld's log (a worker has
 *                            no writable stderr once sandboxed)
 *
 * Every receiver checks type and length before it looks at a body
 * (rw_chan_parse); a malformed message from a worker ends that worker,
 * never the parent. Events never block the data path: the worker sends
 * without waiting, and an event the socket cannot take now is dropped
 * and counted (the count travels in STATS). */
#ifndef RW_CHAN_H
#define RW_CHAN_H

#include <stddef.h>
#include <stdint.h>

#include "base/rw_loop.h"
#include "fwd/rw_event.h"

enum rw_chan_type {
	RW_CHAN_STOP = 1,
	RW_CHAN_READY = 2,
	RW_CHAN_EVENT = 3,
	RW_CHAN_STATS = 4,
	RW_CHAN_LOG = 5,
	RW_CHAN_NET_ADD = 6,
	RW_CHAN_NET_DEL = 7,
	RW_CHAN_BOOT = 8,   /* parent -> new worker: struct rw_chan_boot + fds */
	RW_CHAN_LISTEN = 9, /* parent -> new worker: struct rw_chan_listen + 1 fd */
	RW_CHAN_BAN_ADD = 10,
	RW_CHAN_BAN_DEL = 11,
};
#define RW_CHAN_LOG_MAX 1024u

struct rw_chan_hdr {
	uint16_t type;
	uint16_t flags;
	uint32_t len;
	uint32_t gen;
};

#define RW_CHAN_BODY_MAX 8192u
#define RW_CHAN_MSG_MAX (sizeof(struct rw_chan_hdr) + RW_CHAN_BODY_MAX)
#define RW_CHAN_STATS_MS 500u
/* How long a worker gathers events before it sends them (sooner when
 * RW_CHAN_BODY_MAX fills). At 0 (the end of each loop turn) the parent woke
 * for every few connections and spent ~36 us per short connection; at 10
 * ms ~15-20 (docs/design/bench-proxy.md). Events reach the sinks that much
 * later; STATS and a worker's orderly end flush first. A worker killed
 * outright (SIGKILL, a seccomp violation) loses what it held, at most
 * this long's events, as it lost its last loop turn's before. */
#define RW_CHAN_EVENT_HOLD_MS 10u
/* what the worker's socket buffers before events are dropped */
#define RW_CHAN_SNDBUF (1024 * 1024)

struct rw_chan_stats {
	uint64_t events_sent;
	uint64_t events_dropped; /* could not be sent (socket full) or too large */
	uint64_t conns;          /* live connections */
	uint64_t loop_turns;     /* stats messages sent so far: the loop is alive */
	uint64_t live_seq;       /* the last live change (NET_ADD/NET_DEL seq) in its policy */
};

/* The body of NET_ADD / NET_DEL: 40 bytes, no implicit padding. */
struct rw_chan_net {
	uint64_t seq;     /* the parent's live change count after this one (1, 2, ...) */
	uint32_t gen;     /* the worker generation whose policy it applies to */
	uint32_t net;     /* index into that policy's networks */
	uint8_t family;   /* AF_INET or AF_INET6 */
	uint8_t prefix;   /* 0..32 or 0..128 */
	uint8_t zero[6];  /* 0 */
	uint8_t addr[16]; /* IPv4 in the first 4 bytes; host bits and the rest 0 */
};
_Static_assert(sizeof(struct rw_chan_net) == 40, "rw_chan_net has no padding");

/* The body of BAN_ADD / BAN_DEL: 32 bytes, no implicit padding. The
 * prefix as `ban add` takes it (rw_bans_cidr_ok): /1 or longer, host bits
 * and unused bytes zero. */
struct rw_chan_ban {
	uint64_t expires_ms; /* ADD: when it ends, CLOCK_REALTIME unix time in ms
			      * (> 0: every ban has a timeout); DEL: 0 */
	uint8_t family;      /* AF_INET or AF_INET6 */
	uint8_t prefix;      /* 1..32 or 1..128 */
	uint8_t zero[6];     /* 0 */
	uint8_t addr[16];    /* IPv4 in the first 4 bytes; host bits and the rest 0 */
};
_Static_assert(sizeof(struct rw_chan_ban) == 32, "rw_chan_ban has no padding");

/* BOOT: the first message a new worker gets. Its descriptors
 * (SCM_RIGHTS): [0] a sealed memfd holding the boot bundle (fwd/rw_boot.h:
 * the packed policy, PEM files, ticket secret) of bundle_len bytes, [1] the
 * push limiter's shared memory (a memfd; only when has_limit). Then
 * n_listen LISTEN messages, one listening socket each, in policy listener
 * order. */
struct rw_chan_boot {
	uint64_t bundle_len;
	uint32_t n_listen;
	uint32_t has_limit; /* 0 or 1 */
};
_Static_assert(sizeof(struct rw_chan_boot) == 16, "rw_chan_boot has no padding");
struct rw_chan_listen {
	uint32_t index; /* the policy listener this socket is for */
	uint32_t zero;
};
#define RW_CHAN_FDS_MAX 2u /* descriptors one message may carry */

/* Check one received packet: 0 and *hdr / *body (inside buf) if it is a
 * known type with the length that type allows; RW_EPROTO otherwise. */
int rw_chan_parse(const uint8_t *buf, size_t n, struct rw_chan_hdr *hdr, const uint8_t **body);

/* Send one message without blocking: 0, RW_EINCOMPLETE when the socket is
 * full, RW_EIO when the peer is gone, RW_ETOOBIG for a body over the max. */
int rw_chan_send(int fd, uint16_t type, uint32_t gen, const void *body, size_t len);

/* Send a message with descriptors (SCM_RIGHTS), n_fds <= RW_CHAN_FDS_MAX;
 * the same results as rw_chan_send. */
int rw_chan_send_fds(int fd, uint16_t type, uint32_t gen, const void *body, size_t len,
		     const int *fds, size_t n_fds);

/* Receive one message, waiting at most timeout_ms (-1: forever): 0 and the
 * message checked by rw_chan_parse (*hdr, *body inside buf, which holds
 * RW_CHAN_MSG_MAX bytes) with the descriptors it carried in fds[] (*n_fds;
 * close-on-exec). A message with more descriptors than max_fds, cut
 * control data or a malformed body is RW_EPROTO, and any descriptor it
 * brought is closed; RW_ETIMEDOUT, RW_EIO (peer gone, error). */
int rw_chan_recv(int fd, uint8_t *buf, int timeout_ms, struct rw_chan_hdr *hdr,
		 const uint8_t **body, int *fds, size_t max_fds, size_t *n_fds);

/* The worker's event sink: events as EVENT messages on fd.
 *
 * Lines are gathered in buf and sent when the buffer would overflow and
 * RW_CHAN_EVENT_HOLD_MS after the first of them (a timer on the attached
 * loop): a short connection costs the worker a memcpy, not a sendmsg, and
 * the parent wakes once per batch, not once per event or worker loop turn.
 * Without an attached loop each event is sent at once. STATS and the end of the
 * worker flush first, so the counts in STATS cover every event before it. */
struct rw_chan_sink {
	int fd;
	uint32_t gen;
	struct rw_chan_stats stats;
	struct rw_loop *loop; /* NULL: send each event at once */
	struct rw_timer soon;
	size_t len;           /* bytes gathered in buf */
	uint32_t lines;       /* events gathered in buf */
	char buf[RW_CHAN_BODY_MAX];
};
void rw_chan_sink_init(struct rw_chan_sink *s, int fd, uint32_t gen);
/* From now on gather events and send them at the end of each turn of loop. */
void rw_chan_sink_attach(struct rw_chan_sink *s, struct rw_loop *loop);
/* Send what is gathered now (also detaches the timer when loop goes). */
void rw_chan_sink_flush(struct rw_chan_sink *s);
void rw_chan_sink_detach(struct rw_chan_sink *s);
void rw_chan_event_emit(void *ctx, const struct rw_fwd_event *ev);
/* Flush, then STATS now (conns: the worker's live connections; the
 * sink's stats.live_seq as the worker last set it). */
void rw_chan_sink_stats(struct rw_chan_sink *s, uint64_t conns);

#endif
