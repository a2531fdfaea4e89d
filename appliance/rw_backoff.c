/* Restart budget of a worker slot (see rw_backoff.h). */
#include "appliance/rw_backoff.h"

#define RW_BACKOFF_REFILL_MS (60000LL / RW_BACKOFF_PER_MIN) /* per token */

void rw_backoff_init(struct rw_backoff *b, long long now_ms)
{
	b->tokens_milli = RW_BACKOFF_BURST * 1000LL;
	b->at_ms = now_ms;
	b->streak = 0;
	b->started = true;
}

static void rw_backoff_refill(struct rw_backoff *b, long long now_ms)
{
	if (now_ms <= b->at_ms)
		return;
	long long add = (now_ms - b->at_ms) * 1000LL / RW_BACKOFF_REFILL_MS;
	b->tokens_milli += add;
	if (b->tokens_milli > RW_BACKOFF_BURST * 1000LL)
		b->tokens_milli = RW_BACKOFF_BURST * 1000LL;
	/* keep the remainder of a partial token: advance the clock only by
	 * what was credited */
	b->at_ms += add * RW_BACKOFF_REFILL_MS / 1000LL;
	if (b->tokens_milli == RW_BACKOFF_BURST * 1000LL)
		b->at_ms = now_ms;
}

long long rw_backoff_crash(struct rw_backoff *b, long long start_ms, long long now_ms,
			   bool *exhausted)
{
	if (!b->started)
		rw_backoff_init(b, start_ms);
	rw_backoff_refill(b, now_ms);
	if (now_ms - start_ms < RW_BACKOFF_STABLE_MS)
		b->streak++;
	else
		b->streak = 1; /* a stable run: this crash starts a new streak */
	long long delay = 0;
	if (b->streak >= 2) {
		unsigned shift = b->streak - 2;
		delay = shift >= 8 ? RW_BACKOFF_MAX_MS : (long long)RW_BACKOFF_BASE_MS << shift;
		if (delay > RW_BACKOFF_MAX_MS)
			delay = RW_BACKOFF_MAX_MS;
	}
	*exhausted = b->tokens_milli < 1000;
	if (*exhausted) {
		/* wait for the next whole token; it is spent at the restart */
		long long need = 1000 - b->tokens_milli;
		long long wait = (need * RW_BACKOFF_REFILL_MS + 999) / 1000;
		if (wait > delay)
			delay = wait;
	}
	b->tokens_milli -= 1000; /* may go below 0: the wait above pays it back */
	return delay;
}
