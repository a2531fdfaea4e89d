/* Zero-copy relay of one direction of a TCP connection with splice(2),
 * and the per-worker pool of pipes it borrows.
 *
 * splice() needs a pipe between two sockets. A pipe costs two fds and a
 * 64 KiB kernel buffer, so a direction holds one only while bytes are in
 * flight: it takes a pipe from the pool before the first splice in, and
 * gives it back as soon as everything that went in came out again. An
 * idle connection (the common case for registry clients between layers)
 * therefore holds no pipe. A pipe returned non-empty (the connection died
 * mid-flight) is closed, never reused, so no byte can leak into another
 * connection.
 *
 * A direction may start with a "head": bytes already read from the source
 * by the caller (the buffered ClientHello) that must reach the destination
 * first and exactly once. They are sent with send(2) before any splice.
 *
 * Half-close: once the source reports EOF and the pipe is drained, the
 * destination gets shutdown(SHUT_WR), so a FIN travels through. Writes use
 * MSG_NOSIGNAL where possible; splice into a socket whose peer is gone can
 * still raise SIGPIPE, so processes using this must ignore SIGPIPE (the
 * worker does). */
#ifndef RW_SPLICE_H
#define RW_SPLICE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct rw_pipe {
	int rd, wr; /* -1 when not held */
};

struct rw_pipe_pool {
	struct rw_pipe *idle;
	size_t n_idle, max_idle;
	size_t n_open;   /* pipes in existence: idle + lent out */
	size_t max_open; /* 0 = no limit */
	uint64_t created, reused; /* counters, for tests and metrics */
	uint8_t *scratch;        /* RW_SPLICE_SCRATCH bytes: the copy stage's buffer */
};

/* The first RW_SPLICE_COPY_MAX bytes of a direction are copied with
 * recv/send through the pool's scratch buffer, not spliced: a short
 * connection (a TLS handshake, a manifest, a token) moves a few small
 * chunks, and for those a splice costs more in the kernel (pipe buffers,
 * page references, a pipe taken and given back) than a copy does. A
 * short read ends the step (level-triggered epoll calls back if more is
 * there), which saves the recv that would only say EAGAIN. A send that
 * takes less than was read keeps the rest as the direction's head (a
 * malloc'd copy, freed when sent). Bulk transfers splice after that. */
#define RW_SPLICE_COPY_MAX (64u * 1024u)
#define RW_SPLICE_SCRATCH (16u * 1024u)

int rw_pipe_pool_init(struct rw_pipe_pool *pool, size_t max_idle, size_t max_open);
void rw_pipe_pool_fini(struct rw_pipe_pool *pool); /* closes idle pipes */
/* Lend a pipe (an idle one if any). RW_ETOOBIG at max_open, RW_EIO if
 * pipe2() fails (fd limit). */
int rw_pipe_get(struct rw_pipe_pool *pool, struct rw_pipe *p);
/* Take a pipe back; reused only if 'empty', else closed. p is reset to -1. */
void rw_pipe_put(struct rw_pipe_pool *pool, struct rw_pipe *p, bool empty);

struct rw_splice_dir {
	int from, to;        /* sockets; not owned */
	const uint8_t *head; /* bytes to send before splicing; NULL when done */
	size_t head_len, head_off;
	uint8_t *own;        /* head when it is a copy stage's unsent rest (owned) */
	uint64_t rests;      /* times a send took less than the copy stage read */
	struct rw_pipe pipe;
	size_t in_pipe;      /* bytes in the pipe not yet written to 'to' */
	uint64_t bytes;      /* bytes delivered to 'to' (head included) */
	bool eof;            /* 'from' sent FIN */
	bool fin_seen;       /* set by the caller on RW_LOOP_RDHUP: 'from's FIN
			      * is queued behind its data, so with 'last' a
			      * short copy read is the end (no recv that
			      * returns 0) */
	bool shut;           /* FIN passed on (or due with the close, see last) */
	bool last;           /* set by the caller: the other direction is done, so
			      * the close of both sockets that follows this one's
			      * EOF sends the FIN; no shutdown(2) needed */
	int err;             /* errno that ended the direction, 0 if none */
};

/* Step results: bits of what the direction waits for, or a negative code.
 * The step reads 'from' only when called for it: after the head is sent
 * it asks for READ instead of trying a recv that would mostly say EAGAIN
 * (epoll is level-triggered: bytes already there are reported at once). */
#define RW_SPLICE_WANT_READ 1  /* readable 'from' */
#define RW_SPLICE_WANT_WRITE 2 /* writable 'to' */
#define RW_SPLICE_DONE 4       /* EOF passed on; nothing more to do */

void rw_splice_dir_init(struct rw_splice_dir *d, int from, int to, const uint8_t *head,
			size_t head_len);
/* Move as much as possible without blocking (bounded per call so one busy
 * connection cannot starve the loop; if the budget runs out the result
 * asks for the event that is already pending, and level-triggered epoll
 * calls back). Returns RW_SPLICE_* bits (> 0), or RW_EPROTO when a socket
 * was reset (ECONNRESET/EPIPE; d->err says which), RW_EIO for another
 * socket error, RW_ETOOBIG / RW_EIO when no pipe could be had. Bytes moved
 * are added to d->bytes; *moved (may be NULL) is set to bytes moved by
 * this call in either stage. */
int rw_splice_dir_step(struct rw_splice_dir *d, struct rw_pipe_pool *pool, uint64_t *moved);
/* Give the pipe back (closed if it still holds bytes) and free an unsent
 * rest. */
void rw_splice_dir_release(struct rw_splice_dir *d, struct rw_pipe_pool *pool);

#endif
