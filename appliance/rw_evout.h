/* Where the workers' decision events go in the parent: today one sink,
 * JSON lines on regwalld's stdout (the journal under systemd). The
 * blocked-attempt log, the audit chain and metrics hang off here next.
 *
 * stdout never blocks the parent: lines wait in a bounded queue and are
 * written when the descriptor takes them; a line that does not fit is
 * dropped and counted (a stalled reader, a full pipe, a slow journald
 * costs events, never forwarding, reloads or control requests). */
#ifndef RW_EVOUT_H
#define RW_EVOUT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/rw_loop.h"

#define RW_EVOUT_QUEUE (4u * 1024u * 1024u)
/* An unpollable output that took only part of the queue: next try. */
#define RW_EVOUT_RETRY_MS 50u

struct rw_evout {
	int fd;
	struct rw_loop *loop;
	bool reg;
	bool unpollable; /* a file or /dev/null: epoll refuses it */
	unsigned mask;
	char *buf; /* ring of RW_EVOUT_QUEUE bytes; whole lines only */
	size_t head, len;
	uint64_t lines, dropped, write_errors;
	/* With a loop: the first line into an empty queue arms this 0 ms
	 * timer, which the loop fires after this turn's handlers, so every
	 * event of one turn leaves in one write (not one write each). */
	struct rw_timer soon;
};

/* fd (1) is set non-blocking; loop may be NULL (then writes are tried
 * at each line only). */
int rw_evout_init(struct rw_evout *o, int fd, struct rw_loop *loop);
void rw_evout_fini(struct rw_evout *o); /* flushes what fd takes now */
/* Queue one line (without '\n'; added here). */
void rw_evout_line(struct rw_evout *o, const char *line, size_t len);

#endif
