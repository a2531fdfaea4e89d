/* The metrics as the running parent has them: the registry, the
 * parent's own numbers as a source, the HTTP endpoint. rw_ctl_server
 * calls these four functions from its loop; nothing else of metrics
 * touches the control plane. Other parts register their sources on
 * svc->m (rw_metrics_source_add, rw_metrics_nflog_source,
 * rw_metrics_vpn_source) once it is started. */
#ifndef RW_METRICS_SVC_H
#define RW_METRICS_SVC_H

#include "appliance/rw_daemon.h"
#include "appliance/rw_evline.h"
#include "appliance/rw_evout.h"
#include "appliance/rw_metrics.h"
#include "appliance/rw_metrics_http.h"
#include "appliance/rw_metrics_parent.h"

struct rw_metrics_svc {
	struct rw_metrics m;
	struct rw_metrics_parent parent;
	struct rw_metrics_http http;
	const struct rw_daemon *d;
	uint64_t applies; /* the apply whose listener names m has */
	bool on;
};

/* Counters from now on; listen on metrics.listen when the config sets
 * it (RW_EIO and diag when it cannot: the start fails, as for a data
 * listener). */
int rw_metrics_svc_start(struct rw_metrics_svc *s, const struct rw_daemon *d,
			 struct rw_loop *loop, const struct rw_evout *evout, struct rw_diag *diag);
/* One worker event line (rw_ctl_on_event). */
void rw_metrics_svc_event(struct rw_metrics_svc *s, struct rw_evline *e);
/* Once a second: after a reload, the new listener names, and the
 * endpoint moved, opened or closed as metrics.listen now says (a bind
 * that fails is logged once; the old endpoint keeps serving). */
void rw_metrics_svc_tick(struct rw_metrics_svc *s);
void rw_metrics_svc_stop(struct rw_metrics_svc *s);

#endif
