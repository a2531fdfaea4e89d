/* The guard (rw_guard.h): notice, log, restore, rate-limit. */
#include "appliance/rw_guard.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define RW_GUARD_CHECK_MS 1000   /* signature read-back period */
#define RW_GUARD_BANS_MS 5000    /* ban copy refresh period */
#define RW_GUARD_BURST 10        /* restores in a row before the back-off */
#define RW_GUARD_REFILL_MS 3000  /* then one restore per this period */
#define RW_GUARD_RETRY_MS 1000   /* after a restore the kernel refused */

static uint64_t rw_guard_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

void rw_guard_init(struct rw_guard *g, struct rw_nft *nft, rw_guard_restore_fn fn, void *ctx)
{
	memset(g, 0, sizeof(*g));
	g->nft = nft;
	g->restore = fn;
	g->ctx = ctx;
	g->tokens_milli = RW_GUARD_BURST * 1000u;
	g->tokens_at_ms = rw_guard_now_ms();
}

void rw_guard_fini(struct rw_guard *g)
{
	rw_nft_mon_close(g->mon);
	free(g->bans);
	memset(g, 0, sizeof(*g));
}

int rw_guard_start(struct rw_guard *g, struct rw_diag *diag)
{
	return rw_nft_mon_open(&g->mon, rw_nft_portid(g->nft), diag);
}

int rw_guard_fd(const struct rw_guard *g)
{
	return g->mon ? rw_nft_mon_fd(g->mon) : -1;
}

struct rw_guard_bans {
	struct rw_nft_ban *v;
	size_t n, cap;
	int oom;
};

static void rw_guard_ban_cb(const struct rw_nft_elem_info *e, void *arg)
{
	struct rw_guard_bans *b = arg;
	if (b->n == b->cap) {
		size_t cap = b->cap ? b->cap * 2 : 64;
		struct rw_nft_ban *v = realloc(b->v, cap * sizeof(*v));
		if (!v) {
			b->oom = 1;
			return;
		}
		b->v = v;
		b->cap = cap;
	}
	b->v[b->n].addr = e->cidr;
	b->v[b->n].timeout_ms = e->expires_ms;
	memcpy(b->v[b->n++].reason, e->comment, sizeof(e->comment)); /* kept with the ban */
}

/* The copy is replaced only by a complete read: a table deleted with its
 * bans must not also wipe the copy that would bring them back. */
static void rw_guard_read_bans(struct rw_guard *g)
{
	struct rw_guard_bans b = { 0 };
	struct rw_diag diag;
	rw_diag_init(&diag);
	uint64_t now = rw_guard_now_ms();
	unsigned present = 0;
	int r = rw_nft_ban_list(g->nft, rw_guard_ban_cb, &b, &present, &diag);
	if (r || present != RW_NFT_BAN_SETS_ALL || b.oom) {
		free(b.v);
		return;
	}
	free(g->bans);
	g->bans = b.v;
	g->n_bans = b.n;
	g->bans_read_ms = now;
	g->last_bans_ms = now;
}

void rw_guard_applied(struct rw_guard *g)
{
	struct rw_diag diag;
	rw_diag_init(&diag);
	struct rw_nft_sig s;
	if (rw_nft_sig_read(g->nft, &s, &diag) == 0 && s.present) {
		g->loaded = s;
		g->have_loaded = 1;
	} else {
		rw_diag_print(&diag, stderr);
		fprintf(stderr, "regwalld: guard: cannot read back the table just applied; "
				"the next check retries\n");
		g->have_loaded = 0;
	}
	g->pending = 0;
	g->last_check_ms = rw_guard_now_ms();
	rw_guard_read_bans(g);
}

void rw_guard_bans_changed(struct rw_guard *g)
{
	rw_guard_read_bans(g);
}

/* The copy with each ban's time reduced by the time since it was read;
 * expired ones get 0 and are skipped by the apply. */
struct rw_nft_ban *rw_guard_bans(const struct rw_guard *g, size_t *n)
{
	*n = 0;
	if (!g->n_bans)
		return NULL;
	struct rw_nft_ban *v = malloc(g->n_bans * sizeof(*v));
	if (!v)
		return NULL;
	uint64_t gone = rw_guard_now_ms() - g->bans_read_ms;
	for (size_t i = 0; i < g->n_bans; i++) {
		v[i] = g->bans[i];
		v[i].timeout_ms = v[i].timeout_ms > gone ? v[i].timeout_ms - gone : 0;
	}
	*n = g->n_bans;
	return v;
}

static void rw_guard_refill(struct rw_guard *g, uint64_t now)
{
	uint64_t add = (now - g->tokens_at_ms) * 1000u / RW_GUARD_REFILL_MS;
	g->tokens_milli += add;
	if (g->tokens_milli > RW_GUARD_BURST * 1000u)
		g->tokens_milli = RW_GUARD_BURST * 1000u;
	g->tokens_at_ms = now;
}

/* A change was seen: restore now if the bucket allows, else say loudly
 * when it will. */
static void rw_guard_try(struct rw_guard *g)
{
	uint64_t now = rw_guard_now_ms();
	if (now < g->next_try_ms)
		return;
	rw_guard_refill(g, now);
	if (g->tokens_milli < 1000u) {
		uint64_t wait = (1000u - g->tokens_milli) * RW_GUARD_REFILL_MS / 1000u;
		g->next_try_ms = now + wait;
		fprintf(stderr,
			"regwalld: guard: ERROR: table inet regwall changed again (%s) after %d "
			"restores in a short time; another tool keeps changing it. Next restore in "
			"%.1f s; meanwhile the proxy refuses unknown sources itself\n",
			g->pending_what, RW_GUARD_BURST, (double)wait / 1000.0);
		return;
	}
	struct rw_diag diag;
	rw_diag_init(&diag);
	size_t n;
	struct rw_nft_ban *bans = rw_guard_bans(g, &n);
	int r = g->restore(g->ctx, bans, n, &diag);
	free(bans);
	uint64_t done = rw_guard_now_ms();
	if (r) {
		g->restore_failures++;
		g->next_try_ms = done + RW_GUARD_RETRY_MS;
		rw_diag_print(&diag, stderr);
		fprintf(stderr,
			"regwalld: guard: ERROR: table inet regwall changed (%s) and could not be "
			"restored (%s); retrying in 1 s\n",
			g->pending_what, rw_strerror(r));
		return;
	}
	g->tokens_milli -= 1000u;
	g->restores++;
	uint64_t since = g->pending_since_ms;
	rw_guard_applied(g); /* the restored table is the new reference */
	snprintf(g->last_restore, sizeof(g->last_restore), "%.300s; restored in %llu ms",
		 g->pending_what, (unsigned long long)(done - since));
	fprintf(stderr, "regwalld: guard: table inet regwall changed: %s; restored in %llu ms "
			"(restore #%llu)\n",
		g->pending_what, (unsigned long long)(done - since), (unsigned long long)g->restores);
}

static void rw_guard_flag(struct rw_guard *g, const char *what)
{
	if (!g->pending) {
		g->pending = 1;
		g->pending_since_ms = rw_guard_now_ms();
		snprintf(g->pending_what, sizeof(g->pending_what), "%s", what);
	}
	g->changes_seen++;
}

void rw_guard_on_event(struct rw_guard *g)
{
	struct rw_nft_mon_report rep;
	if (rw_nft_mon_read(g->mon, &rep)) {
		fprintf(stderr, "regwalld: guard: nftables monitor read failed; the 1 s check "
				"still runs\n");
		return;
	}
	char what[RW_GUARD_TEXT];
	if (rep.changes) {
		snprintf(what, sizeof(what), "%.340s by %.64s", rep.what,
			 rep.who[0] ? rep.who : "an unknown process");
		rw_guard_flag(g, what);
	}
	if (rep.lost) {
		/* The kernel dropped events for us: an element change in a
		 * network set could be among them, which the signature does
		 * not cover. Restoring is idempotent; it is the safe answer. */
		g->events_lost++;
		rw_guard_flag(g, "nftables events lost (monitor overrun); re-applied to be sure");
	}
	if (rep.bad)
		fprintf(stderr, "regwalld: guard: %u malformed nftables event message%s skipped\n",
			rep.bad, rep.bad == 1 ? "" : "s");
	if (g->pending)
		rw_guard_try(g);
}

void rw_guard_tick(struct rw_guard *g)
{
	uint64_t now = rw_guard_now_ms();
	if (g->pending) {
		rw_guard_try(g);
		return;
	}
	if (now - g->last_check_ms < RW_GUARD_CHECK_MS)
		return;
	g->last_check_ms = now;
	char why[RW_GUARD_TEXT];
	int r = rw_guard_check(g, why, sizeof(why));
	if (r == RW_ENOENT || r == RW_EEXIST) {
		char what[RW_GUARD_TEXT];
		snprintf(what, sizeof(what), "%.300s (found by the periodic check)", why);
		rw_guard_flag(g, what);
		rw_guard_try(g);
		return;
	}
	if (r == 0 && now - g->last_bans_ms >= RW_GUARD_BANS_MS)
		rw_guard_read_bans(g);
}

int rw_guard_check(struct rw_guard *g, char *why, size_t len)
{
	struct rw_diag diag;
	rw_diag_init(&diag);
	struct rw_nft_sig now;
	int r = rw_nft_sig_read(g->nft, &now, &diag);
	if (r) {
		snprintf(why, len, "cannot read table inet %s back: %s", RW_NFT_TABLE,
			 diag.n ? diag.msg[0].text : rw_strerror(r));
		return r;
	}
	if (!g->have_loaded) {
		/* our read-back after the apply failed: take this one */
		if (now.present && !g->pending) {
			g->loaded = now;
			g->have_loaded = 1;
		} else {
			snprintf(why, len, "table inet %s %s", RW_NFT_TABLE,
				 now.present ? "changed before regwalld could read it back"
					     : "is missing");
			return now.present ? RW_EEXIST : RW_ENOENT;
		}
	}
	if (rw_nft_sig_diff(&g->loaded, &now, why, len))
		return now.present ? RW_EEXIST : RW_ENOENT;
	if (g->pending) {
		/* same shape, but an event said elements changed */
		snprintf(why, len, "%s (not yet restored)", g->pending_what);
		return RW_EEXIST;
	}
	return 0;
}
