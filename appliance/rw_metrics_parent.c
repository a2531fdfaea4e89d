#include "appliance/rw_metrics_parent.h"

void rw_metrics_workers_sum(const struct rw_workers *ws, struct rw_metrics_wsum *out)
{
	*out = (struct rw_metrics_wsum){ .events_sent = ws->gone_events_sent,
					 .events_dropped = ws->gone_events_dropped };
	for (unsigned i = 0; i < RW_WORKERS_MAX; i++) {
		const struct rw_worker_slot *s = &ws->slot[i];
		if (!s->pid)
			continue;
		out->alive++;
		out->events_sent += s->heard.st.events_sent;
		out->events_dropped += s->heard.st.events_dropped;
		out->conns += s->heard.st.conns;
	}
	for (size_t k = 0; k < sizeof(ws->draining) / sizeof(ws->draining[0]); k++) {
		const struct rw_worker_draining *dr = &ws->draining[k];
		/* a draining worker whose channel ended was folded already */
		if (!dr->pid || dr->chan < 0)
			continue;
		out->draining++;
		out->events_sent += dr->heard.st.events_sent;
		out->events_dropped += dr->heard.st.events_dropped;
		out->conns += dr->heard.st.conns;
	}
}

void rw_metrics_parent_listeners(struct rw_metrics *m, const struct rw_policy *p)
{
	const char *names[RW_METRICS_LISTENERS_MAX];
	size_t n = 0;
	for (size_t i = 0; i < p->n_listeners && n < RW_METRICS_LISTENERS_MAX; i++)
		names[n++] = p->listeners[i].name;
	rw_metrics_listeners(m, names, n);
}

static void rw_mp_one(struct rw_metrics_out *o, const char *name, enum rw_metrics_type t,
		      const char *help, uint64_t v)
{
	rw_metrics_family(o, name, t, help);
	rw_metrics_sample(o, name, NULL, 0, v);
}

void rw_metrics_parent_source(void *ctx, struct rw_metrics_out *o)
{
	const struct rw_metrics_parent *mp = ctx;
	const struct rw_daemon *d = mp->d;
	rw_metrics_family(o, "regwall_reloads_total", RW_METRICS_COUNTER,
			  "Configuration reloads (SIGHUP or regwallctl reload), by result.");
	struct rw_metrics_label ok[] = { { "result", "success" } };
	struct rw_metrics_label bad[] = { { "result", "failure" } };
	rw_metrics_sample(o, "regwall_reloads_total", ok, 1, d->reloads - d->reload_failures);
	rw_metrics_sample(o, "regwall_reloads_total", bad, 1, d->reload_failures);
	rw_mp_one(o, "regwall_bans_added_total", RW_METRICS_COUNTER,
		  "Manual bans the kernel took (regwallctl ban add).", d->bans_added);

	struct rw_metrics_wsum ws = { 0 };
	uint64_t restarts = 0, bad_msgs = 0;
	if (d->workers) {
		rw_metrics_workers_sum(d->workers, &ws);
		restarts = d->workers->restarts;
		bad_msgs = d->workers->bad_messages;
	}
	rw_mp_one(o, "regwall_worker_restarts_total", RW_METRICS_COUNTER,
		  "Workers restarted after one ended (crash, kill, a change it could not take).",
		  restarts);
	rw_mp_one(o, "regwall_worker_bad_messages_total", RW_METRICS_COUNTER,
		  "Malformed channel messages from workers (each worker was killed).", bad_msgs);
	rw_mp_one(o, "regwall_workers", RW_METRICS_GAUGE,
		  "Workers of the current generation running.", ws.alive);
	rw_mp_one(o, "regwall_workers_draining", RW_METRICS_GAUGE,
		  "Workers of older generations finishing their connections.", ws.draining);
	rw_mp_one(o, "regwall_connections_open", RW_METRICS_GAUGE,
		  "Client connections open in the workers (their last heartbeat).", ws.conns);
	rw_mp_one(o, "regwall_worker_events_sent_total", RW_METRICS_COUNTER,
		  "Decision events the workers sent to the parent.", ws.events_sent);
	rw_metrics_family(o, "regwall_events_dropped_total", RW_METRICS_COUNTER,
			  "Decision events lost: in a worker (its channel full) or in the "
			  "parent's stdout queue.");
	struct rw_metrics_label wl[] = { { "where", "worker" } };
	struct rw_metrics_label ol[] = { { "where", "output" } };
	rw_metrics_sample(o, "regwall_events_dropped_total", wl, 1, ws.events_dropped);
	rw_metrics_sample(o, "regwall_events_dropped_total", ol, 1,
			  mp->evout ? mp->evout->dropped : 0);
}
