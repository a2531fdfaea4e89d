/* The restart budget of one worker slot: a decaying token bucket plus an
 * exponential backoff, pure (the clock is passed in) so its arithmetic is
 * tested without waiting.
 *
 * Why a bucket and not "N restarts unless it ran a minute": the old rule
 * reset its count only after a full minute of uptime, so six crashes 13 s
 * apart (4.6 a minute, under the documented 5) abandoned the slot for
 * good. The bucket holds RW_BACKOFF_BURST tokens and refills one every
 * 60 s / RW_BACKOFF_PER_MIN: crashes at or under that rate are restarted
 * for ever; faster ones wait for the next token instead of giving up.
 *
 * Backoff: a worker that dies within RW_BACKOFF_STABLE_MS of its start
 * lengthens the streak; the first crash after a stable run restarts at
 * once, the next ones wait 250 ms, 500 ms, ... up to RW_BACKOFF_MAX_MS.
 */
#ifndef RW_BACKOFF_H
#define RW_BACKOFF_H

#include <stdbool.h>

#define RW_BACKOFF_PER_MIN 5
#define RW_BACKOFF_BURST 5
#define RW_BACKOFF_STABLE_MS 30000
#define RW_BACKOFF_BASE_MS 250
#define RW_BACKOFF_MAX_MS 30000

struct rw_backoff {
	long long tokens_milli; /* tokens x 1000 (integer: no float drift) */
	long long at_ms;        /* when tokens_milli was last brought up to date */
	unsigned streak;        /* crashes in a row, each within STABLE_MS of its start */
	bool started;           /* tokens initialised */
};

void rw_backoff_init(struct rw_backoff *b, long long now_ms);

/* A worker started at start_ms died at now_ms: how long to wait before
 * the restart (0 = at once). *exhausted: the bucket was empty, i.e. the
 * slot crashed more than the budget allows and the delay waits for the
 * next token. The token is spent when this returns. */
long long rw_backoff_crash(struct rw_backoff *b, long long start_ms, long long now_ms,
			   bool *exhausted);

#endif
