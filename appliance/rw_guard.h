/* The guard: keeps table inet regwall in force while regwalld runs.
 *
 * Anyone with CAP_NET_ADMIN can delete or change the table (Debian's
 * nftables.service starts with `flush ruleset`). The guard learns of it
 * from the nftables event monitor at once, and from a read-back of the
 * table's signature every second (rules/rw_nft_monitor.h says what the
 * signature covers), and then restores the table: the daemon re-applies
 * its current policy (live changes included) as one transaction, carrying
 * over the bans the kernel still has or, when the table was deleted with
 * them, the guard's last copy of the ban sets.
 *
 * Restores are rate-limited by a token bucket (10, one more every 3 s),
 * so a tool that keeps changing the table is fought at most once every
 * 3 s, each time logged as an error; the data path's own source check
 * (fwd/rw_fwd.c) refuses unknown sources in between.
 *
 * Also here: the single-instance lock (rw_guard_lock.c). */
#ifndef RW_GUARD_H
#define RW_GUARD_H

#include <stddef.h>
#include <stdint.h>

#include "base/rw_err.h"
#include "rules/rw_nft.h"
#include "rules/rw_nft_monitor.h"

/* Re-apply the current policy with these bans (the guard's copy; used
 * only when the kernel's ban sets are gone). */
typedef int (*rw_guard_restore_fn)(void *ctx, const struct rw_nft_ban *bans, size_t n_bans,
				   struct rw_diag *diag);

#define RW_GUARD_TEXT 448

struct rw_guard {
	struct rw_nft *nft; /* the daemon's; not owned */
	struct rw_nft_mon *mon;
	rw_guard_restore_fn restore;
	void *ctx;
	struct rw_nft_sig loaded; /* read right after our last apply */
	int have_loaded;
	/* a change seen and not yet undone */
	int pending;
	char pending_what[RW_GUARD_TEXT];
	uint64_t pending_since_ms;
	/* rate limit: tokens in thousandths */
	uint64_t tokens_milli, tokens_at_ms, next_try_ms;
	uint64_t last_check_ms, last_bans_ms;
	/* counters for status */
	uint64_t restores, restore_failures, events_lost, changes_seen;
	char last_restore[RW_GUARD_TEXT];
	/* the ban sets as last read, with the time of reading */
	struct rw_nft_ban *bans;
	size_t n_bans;
	uint64_t bans_read_ms;
};

void rw_guard_init(struct rw_guard *g, struct rw_nft *nft, rw_guard_restore_fn fn, void *ctx);
void rw_guard_fini(struct rw_guard *g);

/* Open the monitor (events of nft's own socket filtered out). */
int rw_guard_start(struct rw_guard *g, struct rw_diag *diag);
/* The fd to poll for readability, -1 when not started. */
int rw_guard_fd(const struct rw_guard *g);

/* regwalld applied the table itself: take its signature as the new
 * reference and the ban sets as the new copy. */
void rw_guard_applied(struct rw_guard *g);
/* The ban sets changed through regwalld: re-read the copy. */
void rw_guard_bans_changed(struct rw_guard *g);

/* The copy of the ban sets, each ban's time reduced by the time since it
 * was read (0 = expired; the apply skips those). Caller frees; NULL with
 * *n = 0 when there is none. */
struct rw_nft_ban *rw_guard_bans(const struct rw_guard *g, size_t *n);

/* The monitor fd is readable. */
void rw_guard_on_event(struct rw_guard *g);
/* Called on every loop iteration; does its work at most once a second
 * (and when a deferred restore is due). */
void rw_guard_tick(struct rw_guard *g);

/* Is the kernel's table the one regwalld loaded? 0 yes; RW_ENOENT
 * missing; RW_EEXIST differs; another code when it cannot be read. why
 * says what, in words. */
int rw_guard_check(struct rw_guard *g, char *why, size_t len);

/* Single instance: an exclusive flock on PATH (created 0600), held for
 * the life of the process; the file holds the holder's PID. RW_EEXIST
 * when another process holds it: *holder is its PID (0 if unknown). */
int rw_guard_lock(const char *path, int *fd_out, long *holder, struct rw_diag *diag);

#endif
