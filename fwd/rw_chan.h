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
 * worker -> parent  READY    (no body) built, accepting
 *                   EVENT    one decision event, a JSON object (no '\n')
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

#include "fwd/rw_event.h"

enum rw_chan_type {
	RW_CHAN_STOP = 1,
	RW_CHAN_READY = 2,
	RW_CHAN_EVENT = 3,
	RW_CHAN_STATS = 4,
	RW_CHAN_LOG = 5,
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
/* what the worker's socket buffers before events are dropped */
#define RW_CHAN_SNDBUF (1024 * 1024)

struct rw_chan_stats {
	uint64_t events_sent;
	uint64_t events_dropped; /* could not be sent (socket full) or too large */
	uint64_t conns;          /* live connections */
	uint64_t loop_turns;     /* stats messages sent so far: the loop is alive */
};

/* Check one received packet: 0 and *hdr / *body (inside buf) if it is a
 * known type with the length that type allows; RW_EPROTO otherwise. */
int rw_chan_parse(const uint8_t *buf, size_t n, struct rw_chan_hdr *hdr, const uint8_t **body);

/* Send one message without blocking: 0, RW_EINCOMPLETE when the socket is
 * full, RW_EIO when the peer is gone, RW_ETOOBIG for a body over the max. */
int rw_chan_send(int fd, uint16_t type, uint32_t gen, const void *body, size_t len);

/* The worker's event sink: events as EVENT messages on fd. */
struct rw_chan_sink {
	int fd;
	uint32_t gen;
	struct rw_chan_stats stats;
};
void rw_chan_sink_init(struct rw_chan_sink *s, int fd, uint32_t gen);
void rw_chan_event_emit(void *ctx, const struct rw_fwd_event *ev);
/* STATS now (conns: the worker's live connections). */
void rw_chan_sink_stats(struct rw_chan_sink *s, uint64_t conns);

#endif
