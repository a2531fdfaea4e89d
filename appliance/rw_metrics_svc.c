#include "appliance/rw_metrics_svc.h"

#include <stdio.h>

static void rw_metrics_svc_names(struct rw_metrics_svc *s)
{
	if (s->d->have_pol && s->d->applies != s->applies) {
		rw_metrics_parent_listeners(&s->m, &s->d->pol);
		s->applies = s->d->applies;
	}
}

int rw_metrics_svc_start(struct rw_metrics_svc *s, const struct rw_daemon *d,
			 struct rw_loop *loop, const struct rw_evout *evout, struct rw_diag *diag)
{
	*s = (struct rw_metrics_svc){ .d = d };
	int r = rw_metrics_init(&s->m);
	if (r)
		return r;
	s->on = true;
	s->parent = (struct rw_metrics_parent){ .d = d, .evout = evout };
	rw_metrics_http_init(&s->http, loop, &s->m, &d->pol);
	rw_metrics_source_add(&s->m, rw_metrics_parent_source, &s->parent);
	rw_metrics_source_add(&s->m, rw_metrics_http_source, &s->http);
	rw_metrics_svc_names(s);
	return rw_metrics_http_sync(&s->http, diag);
}

void rw_metrics_svc_event(struct rw_metrics_svc *s, struct rw_evline *e)
{
	if (!s->on)
		return;
	rw_metrics_svc_names(s);
	/* an invalid line is counted (regwall_events_invalid_total); the
	 * stdout copy of it is the record. The size cap is rw_metrics_event's. */
	(void)rw_metrics_event_obj(&s->m, e->len > 0 && e->len <= RW_METRICS_EVENT_MAX
						  ? rw_evline_obj(e)
						  : NULL);
}

void rw_metrics_svc_tick(struct rw_metrics_svc *s)
{
	if (!s->on)
		return;
	rw_metrics_svc_names(s);
	struct rw_diag diag;
	rw_diag_init(&diag);
	if (rw_metrics_http_sync(&s->http, &diag)) {
		rw_diag_print(&diag, stderr);
		if (diag.n)
			fprintf(stderr, "regwalld: metrics endpoint unchanged\n");
	}
}

void rw_metrics_svc_stop(struct rw_metrics_svc *s)
{
	if (!s->on)
		return;
	rw_metrics_http_fini(&s->http);
	rw_metrics_fini(&s->m);
	s->on = false;
}
