/* The parent's own numbers as metrics: reloads, bans, worker restarts,
 * event drops, live connections. Read at scrape time from the counters
 * rw_daemon, rw_workers and rw_evout already keep (a source for
 * rw_metrics_source_add), so nothing here can drift from `status`. */
#ifndef RW_METRICS_PARENT_H
#define RW_METRICS_PARENT_H

#include "appliance/rw_daemon.h"
#include "appliance/rw_evout.h"
#include "appliance/rw_metrics.h"
#include "appliance/rw_workers.h"

struct rw_metrics_parent {
	const struct rw_daemon *d;
	const struct rw_evout *evout; /* NULL: no output queue */
};

/* rw_metrics_source_fn; ctx is a struct rw_metrics_parent. */
void rw_metrics_parent_source(void *ctx, struct rw_metrics_out *out);

/* The workers' STATS summed: workers that ended count with their last
 * report (rw_workers folds it into gone_* when it reaps them), running
 * and draining ones with their latest, so the sum never goes back when
 * a worker is restarted. */
struct rw_metrics_wsum {
	uint64_t events_sent, events_dropped, conns;
	unsigned alive, draining;
};
void rw_metrics_workers_sum(const struct rw_workers *ws, struct rw_metrics_wsum *out);

/* The policy's listener names into m (call after every apply). */
void rw_metrics_parent_listeners(struct rw_metrics *m, const struct rw_policy *p);

#endif
