/* Push rate limiting shared by every worker process.
 *
 * Two token buckets per identity name (rw_who.name: "ci-bot", "peer:alice",
 * "net:office", "anonymous"): push operations per minute and upload bytes
 * per second (policy.opts). The table lives in one shared mapping of a
 * sealed memfd the parent creates and sends to every worker (or, for
 * tests, an anonymous shared region inherited across fork), so a client
 * spreading its pushes over several connections (and so several workers
 * under SO_REUSEPORT) still draws from one budget.
 *
 * Burst sizes (the bucket capacity; a new or idle identity starts full),
 * policy.push_rate.burst_ops / burst_bytes when set, else:
 *   ops:   one minute's worth, push_ops_per_minute operations, at least 1.
 *          A push of one image is ~3 ops per blob + 1 per manifest and
 *          arrives at once; a smaller burst would throttle ordinary pushes
 *          while the long-run rate is what the number bounds.
 *   bytes: one second's worth, push_bytes_per_second bytes.
 * So over any interval of T ms an identity gets at most
 *   burst + rate * T
 * (the property the fork test checks).
 *
 * Times are caller-supplied milliseconds of CLOCK_MONOTONIC (the same
 * clock in every process); tests inject them. Design notes:
 * docs/design/policy.md "Push rate limiting". */
#ifndef RW_LIMIT_H
#define RW_LIMIT_H

#include <stddef.h>
#include <stdint.h>

#include "rules/rw_policy.h"

#define RW_LIMIT_NAME_MAX 64  /* key bytes incl. NUL; longer names share the overflow bucket */
#define RW_LIMIT_PROBE 8      /* slots looked at per lookup (bounded probing) */
#define RW_LIMIT_SLOTS_MAX (1u << 20)

struct rw_limit;

/* Map a table of 'slots' buckets (1..RW_LIMIT_SLOTS_MAX, rounded up to a
 * power of two) plus the overflow bucket, in anonymous shared memory: call
 * before fork(), the children inherit the mapping (tests). 0, RW_EINVAL, RW_ENOMEM or RW_EIO (mutex setup). */
int rw_limit_create(struct rw_limit **out, size_t slots);
/* The same in a sealed memfd (*memfd, close-on-exec), for workers that
 * are exec'd and get the table by descriptor (rw_limit_attach). */
int rw_limit_create_shared(struct rw_limit **out, size_t slots, int *memfd);
/* Map a table made by rw_limit_create_shared from its memfd: the size
 * must be a table's and the table must describe that size, else
 * RW_EINVAL. */
int rw_limit_attach(int fd, struct rw_limit **out);
/* Unmap (in this process only; others keep their mapping). NULL is ok. */
void rw_limit_destroy(struct rw_limit *l);

/* One push operation by 'who' at now_ms. 0 = allowed (a token was taken);
 * RW_ETOOBIG = over the rate, *retry_after_ms = how long until a token is
 * there (at least 1); RW_EINVAL for NULL arguments; RW_EIO if the shared
 * lock is unusable (callers refuse the push: fail closed).
 * push_ops_per_minute == 0 means unlimited. */
/* The rates every caller uses from now on, whatever opts it passes: the
 * parent sets them before it starts a worker generation, so workers of an
 * older generation (draining after a reload) meter by the new settings
 * instead of capping the shared buckets at their own. Until it is called,
 * each caller's opts apply. 0, RW_EINVAL, RW_EIO. */
int rw_limit_set_policy(struct rw_limit *l, const struct rw_policy_opts *o);

int rw_limit_op(struct rw_limit *l, const char *who, uint64_t now_ms,
		const struct rw_policy_opts *o, uint64_t *retry_after_ms);

/* Pacing of upload bytes: how many of 'want' bytes may pass now (taken
 * from the bucket). When less than want, *wait_ms says when to ask again
 * (the time until about 1/8 s of budget, or the rest of want if smaller,
 * has refilled; at least 1). Never an error: with NULL arguments or an
 * unusable lock it returns 0 and *wait_ms = 1000 (the upload stalls rather
 * than passes unmetered). push_bytes_per_second == 0 means unlimited. */
uint64_t rw_limit_bytes(struct rw_limit *l, const char *who, uint64_t now_ms, size_t want,
			const struct rw_policy_opts *o, uint64_t *wait_ms);

/* Counters for metrics: names that fell back to the overflow bucket
 * (table full around their hash, or name too long), and lock recoveries
 * after a worker died holding the lock. */
struct rw_limit_stats {
	uint64_t overflow_uses;
	uint64_t lock_recoveries;
	size_t slots;
	size_t slots_used;
};
int rw_limit_stats(struct rw_limit *l, struct rw_limit_stats *out);

/* The shared lock itself, for metrics readers and for the test that kills
 * a worker while it holds the lock. 0 or RW_EIO. */
int rw_limit_lock(struct rw_limit *l);
void rw_limit_unlock(struct rw_limit *l);

#endif
