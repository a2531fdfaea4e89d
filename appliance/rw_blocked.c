#include "appliance/rw_blocked.h"

#include <arpa/inet.h>
#include <net/if.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>

#include <jansson.h>

#include "appliance/rw_blocked_int.h"
#include "fwd/rw_event.h"
#include "inspect/rw_nflog.h"

/* The reasons the table's log rules carry (rules/rw_nft_compile.c); the
 * words are already stable tokens. */
static const char *const rw_blocked_kernel_reasons[] = {
	"not_allowed", "rate_limited", "banned", "direct_to_registry",
};

const char *rw_blocked_reason(const char *prefix, char *listener, size_t listener_size,
			      char *prefix_esc, size_t esc_size)
{
	char reason[RW_BLOCKED_REASON_MAX];
	listener[0] = '\0';
	prefix_esc[0] = '\0';
	if (rw_nflog_prefix_split(prefix, listener, listener_size, reason, sizeof(reason)) == 0 &&
	    strncmp(prefix, "regwall ", 8) == 0) {
		for (size_t i = 0; i < sizeof(rw_blocked_kernel_reasons) / sizeof(char *); i++)
			if (strcmp(reason, rw_blocked_kernel_reasons[i]) == 0) {
				if (strcmp(listener, "-") == 0)
					listener[0] = '\0';
				return rw_blocked_kernel_reasons[i];
			}
	}
	listener[0] = '\0';
	rw_event_escape(prefix, strlen(prefix), prefix_esc, esc_size);
	return "other";
}

/* --- the (origin, source, reason) table: open addressing, fixed size --- */

static uint64_t rw_blocked_hash(const struct rw_blocked *b, uint8_t origin, uint8_t family,
				const uint8_t *addr, const char *reason)
{
	uint64_t h = 1469598103934665603ull ^ b->seed; /* FNV-1a, seeded: spoofed
							 * sources cannot aim at one slot */
	uint8_t k[2] = { origin, family };
	for (size_t i = 0; i < 2; i++)
		h = (h ^ k[i]) * 1099511628211ull;
	for (size_t i = 0; i < 16; i++)
		h = (h ^ addr[i]) * 1099511628211ull;
	for (const char *p = reason; *p; p++)
		h = (h ^ (uint8_t)*p) * 1099511628211ull;
	return h;
}

/* The entry for the key, created if there is room; NULL when the table
 * holds log.blocked_sources pairs already. */
static struct rw_blocked_entry *rw_blocked_slot(struct rw_blocked *b, uint8_t origin,
						uint8_t family, const uint8_t *addr,
						const char *reason)
{
	size_t mask = b->tab_size - 1;
	size_t i = (size_t)rw_blocked_hash(b, origin, family, addr, reason) & mask;
	for (size_t n = 0; n < b->tab_size; n++, i = (i + 1) & mask) {
		struct rw_blocked_entry *e = &b->tab[i];
		if (!e->used) {
			if (b->n_used >= b->cfg.blocked_sources)
				return NULL;
			memset(e, 0, sizeof(*e));
			e->used = true;
			e->origin = origin;
			e->family = family;
			memcpy(e->addr, addr, 16);
			snprintf(e->reason, sizeof(e->reason), "%s", reason);
			b->n_used++;
			return e;
		}
		if (e->origin == origin && e->family == family && memcmp(e->addr, addr, 16) == 0 &&
		    strcmp(e->reason, reason) == 0)
			return e;
	}
	return NULL;
}

/* The flood decision for one attempt: true = write its line. */
bool rw_blocked_admit(struct rw_blocked *b, const struct rw_blocked_att *a, uint64_t now_ms)
{
	b->attempts[a->origin]++;
	struct rw_blocked_entry *e = rw_blocked_slot(b, a->origin, a->family, a->src, a->reason);
	if (!e) {
		if (!b->agg[a->origin])
			b->agg_first[a->origin] = now_ms;
		b->agg[a->origin]++;
		b->agg_last[a->origin] = now_ms;
		return false;
	}
	if (!e->first_ms)
		e->first_ms = now_ms;
	e->last_ms = now_ms;
	if (!e->listener[0] && a->listener[0])
		snprintf(e->listener, sizeof(e->listener), "%s", a->listener);
	if (e->lines < b->cfg.blocked_burst && b->lines_interval < b->cfg.blocked_max_lines) {
		e->lines++;
		b->lines_interval++;
		return true;
	}
	e->suppressed++;
	return false;
}

/* --- items --- */

static struct rw_blocked_item *rw_blocked_item_json(json_t *o, uint8_t type, uint8_t origin,
						     uint64_t weight)
{
	char *text = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
	json_decref(o);
	struct rw_blocked_item *it = text ? calloc(1, sizeof(*it)) : NULL;
	if (!it) {
		free(text);
		return NULL;
	}
	size_t n = strlen(text);
	char *line = realloc(text, n + 2);
	if (!line) {
		free(text);
		free(it);
		return NULL;
	}
	line[n] = '\n';
	line[n + 1] = '\0';
	it->line = line;
	it->line_len = n + 1;
	it->type = type;
	it->origin = origin;
	it->weight = weight;
	return it;
}

static void rw_blocked_set_time(json_t *o, uint64_t ms)
{
	char iso[RW_EVENT_TIME_LEN];
	rw_event_time_iso(ms, iso);
	json_object_set_new(o, "time", json_string(iso));
	json_object_set_new(o, "time_ms", json_integer((json_int_t)ms));
}

static void rw_blocked_set_addr(json_t *o, const char *key, uint8_t family, const uint8_t *a)
{
	char s[INET6_ADDRSTRLEN];
	if ((family == AF_INET || family == AF_INET6) && inet_ntop(family, a, s, sizeof(s)))
		json_object_set_new(o, key, json_string(s));
}

static void rw_blocked_set_str(json_t *o, const char *key, const char *v)
{
	if (v && v[0])
		json_object_set_new(o, key, json_string(v));
}

static const char *const rw_blocked_origin_name[RW_BLOCKED_ORIGINS] = { "drop", "refuse" };

/* Queue an item; a failed allocation is an attempt lost like a full
 * queue (the writer's counter cannot see it, so it is kept here). */
static void rw_blocked_push(struct rw_blocked *b, struct rw_blocked_item *it, uint8_t origin,
			    uint64_t weight)
{
	if (!it) {
		b->oom[origin] += weight;
		return;
	}
	if (!b->out_on) {
		rw_blocked_item_free(it);
		return;
	}
	rw_blocked_out_push(&b->out, it);
}

void rw_blocked_emit(struct rw_blocked *b, const struct rw_blocked_att *a,
		     const uint8_t *rec, size_t rec_len)
{
	json_t *o = json_object();
	if (!o) {
		rw_blocked_push(b, NULL, a->origin, 1);
		return;
	}
	rw_blocked_set_time(o, a->time_ms);
	json_object_set_new(o, "kind", json_string(rw_blocked_origin_name[a->origin]));
	json_object_set_new(o, "reason", json_string(a->reason));
	rw_blocked_set_str(o, "listener", a->listener);
	rw_blocked_set_addr(o, "src", a->family, a->src);
	if (a->has_ports)
		json_object_set_new(o, "sport", json_integer(a->sport));
	rw_blocked_set_addr(o, "dst", a->dst_family, a->dst);
	if (a->has_dport)
		json_object_set_new(o, "dport", json_integer(a->dport));
	rw_blocked_set_str(o, "proto", a->proto);
	rw_blocked_set_str(o, "in", a->in_if);
	rw_blocked_set_str(o, "out", a->out_if);
	rw_blocked_set_str(o, "tcp_flags", a->tcp_flags);
	rw_blocked_set_str(o, "prefix", a->prefix_esc);
	rw_blocked_set_str(o, "error", a->error);
	if (a->extra)
		json_object_update(o, a->extra);
	struct rw_blocked_item *it = rw_blocked_item_json(o, RW_BLOCKED_ITEM_LINE, a->origin, 1);
	if (it && rec && b->pcap_path) {
		it->rec = malloc(rec_len);
		if (it->rec) {
			memcpy(it->rec, rec, rec_len);
			it->rec_len = rec_len;
			it->ts_us = a->time_us;
		}
	}
	rw_blocked_push(b, it, a->origin, 1);
}

static void rw_blocked_summary(struct rw_blocked *b, uint8_t origin, const char *reason,
			       uint8_t family, const uint8_t *src, const char *listener,
			       uint64_t count, uint64_t first, uint64_t last, uint64_t now_ms)
{
	json_t *o = json_object();
	if (!o) {
		rw_blocked_push(b, NULL, origin, count);
		return;
	}
	rw_blocked_set_time(o, now_ms);
	json_object_set_new(o, "kind", json_string("summary"));
	json_object_set_new(o, "of", json_string(rw_blocked_origin_name[origin]));
	json_object_set_new(o, "reason", json_string(reason));
	rw_blocked_set_str(o, "listener", listener);
	if (src)
		rw_blocked_set_addr(o, "src", family, src);
	else
		json_object_set_new(o, "aggregate", json_true());
	json_object_set_new(o, "count", json_integer((json_int_t)count));
	char iso[RW_EVENT_TIME_LEN];
	rw_event_time_iso(first, iso);
	json_object_set_new(o, "first", json_string(iso));
	rw_event_time_iso(last, iso);
	json_object_set_new(o, "last", json_string(iso));
	json_object_set_new(o, "interval_ms", json_integer(b->cfg.blocked_interval_ms));
	rw_blocked_push(b, rw_blocked_item_json(o, RW_BLOCKED_ITEM_SUMMARY, origin, count), origin,
			count);
}

/* All losses so far, minus what loss lines already written reported: one
 * loss line per origin with something new. */
static void rw_blocked_loss_lines(struct rw_blocked *b, uint64_t now_ms)
{
	if (!b->out_on)
		return;
	struct rw_blocked_out_stats st;
	rw_blocked_out_stats(&b->out, &st);
	/* one loss report in flight at a time: its counts are not in
	 * `reported` until written */
	pthread_mutex_lock(&b->out.mu);
	bool busy = b->out.n_loss > 0;
	pthread_mutex_unlock(&b->out.mu);
	if (busy)
		return;
	for (int g = 0; g < RW_BLOCKED_ORIGINS; g++) {
		uint64_t total[RW_BLOCKED_LOST_KINDS] = {
			g == RW_BLOCKED_DROP ? b->kernel_lost : 0,
			st.queue_full[g] + b->oom[g],
			st.write_error[g],
		};
		uint64_t d[RW_BLOCKED_LOST_KINDS], any = 0;
		for (int k = 0; k < RW_BLOCKED_LOST_KINDS; k++)
			any |= d[k] = total[k] - st.reported[g][k];
		if (!any)
			continue;
		json_t *o = json_object();
		if (!o)
			return;
		rw_blocked_set_time(o, now_ms);
		json_object_set_new(o, "kind", json_string("loss"));
		json_object_set_new(o, "of", json_string(rw_blocked_origin_name[g]));
		json_object_set_new(o, "kernel_overflow", json_integer((json_int_t)d[0]));
		json_object_set_new(o, "queue_full", json_integer((json_int_t)d[1]));
		json_object_set_new(o, "write_error", json_integer((json_int_t)d[2]));
		if (st.last_errno && d[2])
			json_object_set_new(o, "errno", json_string(strerror(st.last_errno)));
		struct rw_blocked_item *it = rw_blocked_item_json(o, RW_BLOCKED_ITEM_LOSS, (uint8_t)g, 0);
		if (!it)
			return;
		memcpy(it->loss[g], d, sizeof(d));
		rw_blocked_out_push(&b->out, it);
	}
}

void rw_blocked_tick(struct rw_blocked *b, uint64_t now_ms, bool force)
{
	if (!b->on)
		return;
	if (!b->interval_start_ms)
		b->interval_start_ms = now_ms;
	if (!force && now_ms - b->interval_start_ms < b->cfg.blocked_interval_ms) {
		return;
	}
	for (size_t i = 0; i < b->tab_size; i++) {
		struct rw_blocked_entry *e = &b->tab[i];
		if (e->used && e->suppressed)
			rw_blocked_summary(b, e->origin, e->reason, e->family, e->addr, e->listener,
					   e->suppressed, e->first_ms, e->last_ms, now_ms);
		e->used = false;
	}
	for (int g = 0; g < RW_BLOCKED_ORIGINS; g++) {
		if (b->agg[g])
			rw_blocked_summary(b, (uint8_t)g, "*", 0, NULL, NULL, b->agg[g],
					   b->agg_first[g], b->agg_last[g], now_ms);
		b->agg[g] = 0;
	}
	b->n_used = 0;
	b->lines_interval = 0;
	b->interval_start_ms = now_ms;
	memset(b->ifc, 0, sizeof(b->ifc)); /* interface names may change */
	rw_blocked_loss_lines(b, now_ms);
}

/* --- setup --- */

static void rw_blocked_listeners(struct rw_blocked *b, const struct rw_policy *p)
{
	free(b->lsn);
	b->lsn = calloc(p->n_listeners ? p->n_listeners : 1, sizeof(*b->lsn));
	b->n_lsn = 0;
	static const uint8_t zero[16];
	for (size_t i = 0; b->lsn && i < p->n_listeners; i++) {
		struct rw_blocked_lsn *l = &b->lsn[b->n_lsn++];
		snprintf(l->name, sizeof(l->name), "%s", p->listeners[i].name);
		l->ep = p->listeners[i].listen;
		l->any = memcmp(l->ep.addr, zero, l->ep.family == AF_INET ? 4 : 16) == 0;
	}
}

const struct rw_blocked_lsn *rw_blocked_find_lsn(const struct rw_blocked *b, const char *name,
						 uint8_t family, const uint8_t *dst,
						 uint16_t dport)
{
	for (size_t i = 0; i < b->n_lsn; i++) {
		const struct rw_blocked_lsn *l = &b->lsn[i];
		if (name) {
			if (strcmp(l->name, name) == 0)
				return l;
			continue;
		}
		if (l->ep.port == dport && l->ep.family == family &&
		    (l->any || memcmp(l->ep.addr, dst, family == AF_INET ? 4 : 16) == 0))
			return l;
	}
	return NULL;
}

static int rw_blocked_start_out(struct rw_blocked *b, struct rw_diag *diag)
{
	int r = rw_blocked_out_start(&b->out, b->path, b->pcap_path, b->cfg.blocked_rotate_bytes,
				     b->cfg.blocked_rotate_bytes, b->cfg.blocked_keep,
				     RW_BLOCKED_QUEUE);
	if (r) {
		rw_diag_err(diag, NULL, 0, "blocked log: cannot start its writer: %s", rw_strerror(r));
		return r;
	}
	b->out_on = true;
	if (b->path && b->out.fd < 0)
		rw_diag_err(diag, NULL, 0, "blocked log %s: %s (lines are counted as lost until "
			    "it can be written)", b->path, strerror(b->out.st.last_errno));
	if (b->pcap_path && b->out.pcap_fd < 0)
		rw_diag_err(diag, NULL, 0, "blocked pcap %s: %s", b->pcap_path,
			    b->out.pcap_bad ? "exists and is not a regwall NFLOG pcap; left alone"
					    : strerror(b->out.st.last_errno));
	return 0;
}

static bool rw_blocked_same(const char *a, const char *b)
{
	return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

int rw_blocked_set_policy(struct rw_blocked *b, const struct rw_policy *p, struct rw_diag *diag)
{
	uint16_t group = b->cfg.nflog_group;
	bool was_on = b->on;
	b->cfg = p->log;
	b->cfg.nflog_group = group;
	b->cfg.blocked = b->cfg.blocked_pcap = b->cfg.audit = NULL;
	rw_blocked_listeners(b, p);
	size_t want = 16;
	while (want < 2 * (size_t)b->cfg.blocked_sources)
		want *= 2;
	if (want != b->tab_size) {
		/* a new size: the interval so far ends with its summaries */
		if (b->tab)
			rw_blocked_tick(b, b->interval_start_ms, true);
		struct rw_blocked_entry *t = calloc(want, sizeof(*t));
		if (!t)
			return RW_ENOMEM;
		free(b->tab);
		b->tab = t;
		b->tab_size = want;
		b->n_used = 0;
	}
	if (rw_blocked_same(b->path, p->log.blocked) &&
	    rw_blocked_same(b->pcap_path, p->log.blocked_pcap) && was_on)
		return 0;
	if (b->out_on) {
		rw_blocked_out_stop(&b->out);
		b->out_on = false;
	}
	free(b->path);
	free(b->pcap_path);
	b->path = p->log.blocked ? strdup(p->log.blocked) : NULL;
	b->pcap_path = p->log.blocked_pcap ? strdup(p->log.blocked_pcap) : NULL;
	b->on = b->path || b->pcap_path;
	return b->on ? rw_blocked_start_out(b, diag) : 0;
}

static int rw_blocked_open_int(struct rw_blocked *b, const struct rw_policy *p, bool capture,
			       struct rw_diag *diag)
{
	memset(b, 0, sizeof(*b));
	rw_nflog_cap_init(&b->cap);
	if (getrandom(&b->seed, sizeof(b->seed), 0) != sizeof(b->seed))
		b->seed = (uint64_t)(uintptr_t)b;
	b->cfg.nflog_group = p->log.nflog_group;
	if (!p->log.blocked && !p->log.blocked_pcap)
		return rw_blocked_set_policy(b, p, diag);
	int r = capture ? rw_nflog_cap_open(&b->cap, p->log.nflog_group, diag) : 0;
	if (r)
		return r;
	r = rw_blocked_set_policy(b, p, diag);
	if (r)
		rw_blocked_close(b);
	return r;
}

int rw_blocked_open(struct rw_blocked *b, const struct rw_policy *p, struct rw_diag *diag)
{
	return rw_blocked_open_int(b, p, true, diag);
}

int rw_blocked_open_nocap(struct rw_blocked *b, const struct rw_policy *p, struct rw_diag *diag)
{
	return rw_blocked_open_int(b, p, false, diag);
}

void rw_blocked_close(struct rw_blocked *b)
{
	if (b->out_on) {
		rw_blocked_tick(b, b->interval_start_ms ? b->interval_start_ms : 1, true);
		rw_blocked_out_stop(&b->out);
		b->out_on = false;
	}
	rw_nflog_cap_close(&b->cap);
	free(b->tab);
	free(b->lsn);
	free(b->path);
	free(b->pcap_path);
	b->tab = NULL;
	b->lsn = NULL;
	b->path = b->pcap_path = NULL;
	b->on = false;
}

int rw_blocked_fd(const struct rw_blocked *b)
{
	return b->cap.fd;
}

void rw_blocked_rotate(struct rw_blocked *b)
{
	if (b->out_on)
		rw_blocked_out_rotate(&b->out);
}

void rw_blocked_stats(struct rw_blocked *b, struct rw_blocked_stats *st)
{
	memset(st, 0, sizeof(*st));
	struct rw_blocked_out_stats o;
	memset(&o, 0, sizeof(o));
	if (b->out_on)
		rw_blocked_out_stats(&b->out, &o);
	st->records = b->records;
	st->undecodable = b->undecodable;
	st->refusals = b->refusals;
	st->bad_events = b->bad_events;
	st->summaries = o.summaries;
	st->loss_lines = o.loss_lines;
	for (int g = 0; g < RW_BLOCKED_ORIGINS; g++) {
		st->lines[g] = o.lines[g];
		st->summarised[g] = o.summarised[g];
		st->lost[g][RW_BLOCKED_LOST_QUEUE] = o.queue_full[g] + b->oom[g];
		st->lost[g][RW_BLOCKED_LOST_WRITE] = o.write_error[g];
		st->pending[g] = b->agg[g];
	}
	for (size_t i = 0; i < b->tab_size; i++)
		if (b->tab[i].used)
			st->pending[b->tab[i].origin] += b->tab[i].suppressed;
	st->lost[RW_BLOCKED_DROP][RW_BLOCKED_LOST_KERNEL] = b->kernel_lost;
	st->enobufs = b->cap.enobufs;
	st->truncated = b->cap.truncated;
	st->pcap_records = o.pcap_records;
	st->pcap_lost = o.pcap_lost;
	st->rotations = o.rotations;
}

json_t *rw_blocked_status_json(struct rw_blocked *b)
{
	struct rw_blocked_stats st;
	rw_blocked_stats(b, &st);
	json_t *o = json_object();
	if (!o)
		return NULL;
#define RW_BS(k, v) json_object_set_new(o, k, json_integer((json_int_t)(v)))
	if (b->path)
		json_object_set_new(o, "file", json_string(b->path));
	if (b->pcap_path)
		json_object_set_new(o, "pcap", json_string(b->pcap_path));
	RW_BS("nflog_group", b->cfg.nflog_group);
	json_object_set_new(o, "capturing", json_boolean(b->cap.fd >= 0));
	RW_BS("records", st.records);
	RW_BS("refusals", st.refusals);
	RW_BS("lines", st.lines[0] + st.lines[1]);
	RW_BS("summary_lines", st.summaries);
	RW_BS("summarised", st.summarised[0] + st.summarised[1]);
	RW_BS("pending", st.pending[0] + st.pending[1]);
	RW_BS("lost_kernel", st.lost[0][RW_BLOCKED_LOST_KERNEL]);
	RW_BS("lost_queue_full", st.lost[0][RW_BLOCKED_LOST_QUEUE] + st.lost[1][RW_BLOCKED_LOST_QUEUE]);
	RW_BS("lost_write_error", st.lost[0][RW_BLOCKED_LOST_WRITE] + st.lost[1][RW_BLOCKED_LOST_WRITE]);
	RW_BS("undecodable", st.undecodable);
	RW_BS("bad_worker_events", st.bad_events);
	RW_BS("pcap_records", st.pcap_records);
	RW_BS("pcap_lost", st.pcap_lost);
	RW_BS("rotations", st.rotations);
#undef RW_BS
	return o;
}
