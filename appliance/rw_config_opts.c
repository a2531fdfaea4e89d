/* Section builders: policy (push and connection rates, bans), limits
 * (data-path timeouts and connection caps), log, control, metrics. Defaults are set by the loader before these run. */
#include "appliance/rw_config_int.h"

#include <limits.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>

/* Bans are nftables set timeouts; a month is past any sensible ban and far
 * inside what the kernel takes. regwallctl ban add keeps the same limit. */
#include "appliance/rw_ctl_proto.h"
#include "rules/rw_cidr.h"

/* A duration member of g between lo and hi ms (range_text says so in the
 * message): true and *ms when present and valid; reported otherwise. */
static bool rw_cfg_duration(struct rw_cfg_ctx *ctx, const config_setting_t *g, const char *name,
			    uint64_t lo, uint64_t hi, const char *range_text, uint64_t *ms)
{
	const config_setting_t *s = rw_cfg_member(g, name);
	if (!s)
		return false;
	uint64_t v = 0;
	int r;
	if (config_setting_type(s) == CONFIG_TYPE_STRING) {
		r = rw_duration_parse_ms(config_setting_get_string(s), &v);
	} else if (config_setting_type(s) == CONFIG_TYPE_INT ||
		   config_setting_type(s) == CONFIG_TYPE_INT64) {
		long long sec = config_setting_get_int64(s);
		r = sec < 0 || (unsigned long long)sec > hi / 1000 + 1 ? RW_ERANGE : 0;
		v = r ? 0 : (uint64_t)sec * 1000;
	} else {
		return false; /* reported by the table walk */
	}
	if (r == RW_EINVAL) {
		rw_cfg_err(ctx, s, "expected a duration such as \"500ms\", \"30s\", \"10m\", \"1h\", \"2d\"");
		return false;
	}
	if (r || v < lo || v > hi) {
		rw_cfg_err(ctx, s, "must be between %s", range_text);
		return false;
	}
	*ms = v;
	return true;
}

static void rw_cfg_conn_rate(struct rw_cfg_ctx *ctx, const config_setting_t *g)
{
	struct rw_policy_opts *o = &ctx->pol->opts;
	const char *v;
	int64_t n;

	if ((v = rw_cfg_get_str(g, "per_source"))) {
		if (rw_rate_parse(v, &o->conn_per_source))
			rw_cfg_err(ctx, rw_cfg_member(g, "per_source"),
				   "\"%s\": expected a rate such as \"20/second\", \"100/minute\" "
				   "or \"5/hour\" (count 1..1000000000)",
				   v);
		else
			o->conn_per_source.burst = 5;
	}
	if (rw_cfg_get_int(g, &rw_cfg_sec_conn_rate, "burst", &n))
		o->conn_per_source.burst = (uint64_t)n;
	if (rw_cfg_get_int(g, &rw_cfg_sec_conn_rate, "ban_after", &n))
		o->ban_after = (uint64_t)n;
	if (rw_cfg_get_int(g, &rw_cfg_sec_conn_rate, "ban_set_size", &n))
		o->ban_set_size = (uint32_t)n;

	uint64_t ms;
	if (rw_cfg_duration(ctx, g, "ban_for", RW_BAN_FOR_MIN_MS, RW_BAN_FOR_MAX_MS,
			    RW_BAN_FOR_RANGE, &ms))
		o->ban_for_ms = ms;
}

static void rw_cfg_policy(struct rw_cfg_ctx *ctx, const config_setting_t *root)
{
	const config_setting_t *g = rw_cfg_member(root, "policy"), *sub;
	struct rw_policy_opts *o = &ctx->pol->opts;
	int64_t n;
	if (!g || config_setting_type(g) != CONFIG_TYPE_GROUP)
		return;
	rw_cfg_get_bool(g, "push_requires_vpn", &o->push_requires_vpn);
	rw_cfg_get_bool(g, "pull_needs_role", &o->pull_needs_role);
	sub = rw_cfg_member(g, "push_rate");
	if (sub && config_setting_type(sub) == CONFIG_TYPE_GROUP) {
		if (rw_cfg_get_int(sub, &rw_cfg_sec_push_rate, "ops_per_minute", &n))
			o->push_ops_per_minute = (uint64_t)n;
		if (rw_cfg_get_int(sub, &rw_cfg_sec_push_rate, "bytes_per_second", &n))
			o->push_bytes_per_second = (uint64_t)n;
		if (rw_cfg_get_int(sub, &rw_cfg_sec_push_rate, "burst_ops", &n))
			o->push_burst_ops = (uint64_t)n;
		if (rw_cfg_get_int(sub, &rw_cfg_sec_push_rate, "burst_bytes", &n))
			o->push_burst_bytes = (uint64_t)n;
		/* a burst without its rate would silently limit nothing */
		if (o->push_burst_ops && !o->push_ops_per_minute)
			rw_cfg_err(ctx, rw_cfg_member(sub, "burst_ops"),
				   "needs ops_per_minute (the rate the bucket refills at)");
		if (o->push_burst_bytes && !o->push_bytes_per_second)
			rw_cfg_err(ctx, rw_cfg_member(sub, "burst_bytes"),
				   "needs bytes_per_second (the rate the bucket refills at)");
	}
	sub = rw_cfg_member(g, "conn_rate");
	if (sub && config_setting_type(sub) == CONFIG_TYPE_GROUP)
		rw_cfg_conn_rate(ctx, sub);
}

/* Timeouts: from 100 ms (below that a loaded machine or a slow link
 * fails honest clients) to a day (past that a dead connection holds its
 * fds for good). The drain may be 0 (old workers cut their connections
 * at once) and at most a day. */
#define RW_CFG_TIMEOUT_MIN_MS 100u
#define RW_CFG_TIMEOUT_MAX_MS (24u * 3600 * 1000)
#define RW_CFG_DRAIN_MAX_MS (24u * 3600 * 1000)

static void rw_cfg_limits(struct rw_cfg_ctx *ctx, const config_setting_t *root)
{
	const config_setting_t *g = rw_cfg_member(root, "limits");
	struct rw_limits *l = &ctx->pol->limits;
	static const struct {
		const char *name;
		size_t off;
	} timeouts[] = {
		{ "hello_timeout", offsetof(struct rw_limits, hello_timeout_ms) },
		{ "handshake_timeout", offsetof(struct rw_limits, handshake_timeout_ms) },
		{ "header_timeout", offsetof(struct rw_limits, header_timeout_ms) },
		{ "idle_timeout", offsetof(struct rw_limits, idle_timeout_ms) },
		{ "connect_timeout", offsetof(struct rw_limits, connect_timeout_ms) },
		{ "response_timeout", offsetof(struct rw_limits, response_timeout_ms) },
	};
	uint64_t ms;
	int64_t n;
	if (!g || config_setting_type(g) != CONFIG_TYPE_GROUP)
		return;
	for (size_t i = 0; i < sizeof(timeouts) / sizeof(timeouts[0]); i++)
		if (rw_cfg_duration(ctx, g, timeouts[i].name, RW_CFG_TIMEOUT_MIN_MS,
				    RW_CFG_TIMEOUT_MAX_MS, "100ms and 1d", &ms))
			*(uint32_t *)((char *)l + timeouts[i].off) = (uint32_t)ms;
	if (rw_cfg_duration(ctx, g, "drain_timeout", 0, RW_CFG_DRAIN_MAX_MS, "0s and 24h", &ms))
		l->drain_timeout_ms = (uint32_t)ms;
	if (rw_cfg_get_int(g, &rw_cfg_sec_limits, "max_connections", &n))
		l->max_connections = (uint32_t)n;
	if (rw_cfg_get_int(g, &rw_cfg_sec_limits, "max_per_source", &n))
		l->max_per_source = (uint32_t)n;
	else if (l->max_per_source > l->max_connections)
		/* the default per-source cap is only a default: under a
		 * smaller max_connections it would never apply */
		l->max_per_source = l->max_connections;
	if (l->max_per_source > l->max_connections)
		rw_cfg_err(ctx, rw_cfg_member(g, "max_per_source"),
			   "%u is above max_connections (%u): it would never apply",
			   l->max_per_source, l->max_connections);
}

/* The push audit chain (docs/design/audit.md): the file, its signing key
 * and how often a checkpoint seals it. */
static void rw_cfg_log_audit(struct rw_cfg_ctx *ctx, const config_setting_t *g,
			     struct rw_log_cfg *l)
{
	int64_t n;
	uint64_t ms;
	if (rw_cfg_get_str(g, "audit"))
		rw_cfg_abs_path(ctx, rw_cfg_member(g, "audit"), PATH_MAX - 1, &l->audit);
	if (rw_cfg_get_str(g, "audit_key"))
		rw_cfg_abs_path(ctx, rw_cfg_member(g, "audit_key"), PATH_MAX - 5, &l->audit_key);
	if (rw_cfg_get_int(g, &rw_cfg_sec_log, "audit_checkpoint_lines", &n))
		l->audit_cp_lines = (uint32_t)n;
	if (rw_cfg_duration(ctx, g, "audit_checkpoint_interval", 1000, 24u * 3600 * 1000,
			    "1s and 1d", &ms))
		l->audit_cp_ms = (uint32_t)ms;
	static const char *const needs_audit[] = { "audit_key", "audit_checkpoint_lines",
						   "audit_checkpoint_interval" };
	for (size_t i = 0; i < sizeof(needs_audit) / sizeof(needs_audit[0]); i++)
		if (!rw_cfg_member(g, "audit") && rw_cfg_member(g, needs_audit[i]))
			rw_cfg_err(ctx, rw_cfg_member(g, needs_audit[i]),
				   "has no effect without log.audit (the audit file)");
	if (l->audit && l->audit_key && !strcmp(l->audit, l->audit_key))
		rw_cfg_err(ctx, rw_cfg_member(g, "audit_key"), "is the audit file itself");
}

/* Flood control and rotation of the blocked log (docs/design/blocked-log.md). */
static void rw_cfg_blocked(struct rw_cfg_ctx *ctx, const config_setting_t *g,
			   struct rw_log_cfg *l)
{
	int64_t n;
	uint64_t ms;
	if (rw_cfg_get_int(g, &rw_cfg_sec_log, "blocked_burst", &n))
		l->blocked_burst = (uint32_t)n;
	if (rw_cfg_duration(ctx, g, "blocked_interval", 1000, 3600000, "1s and 1h", &ms))
		l->blocked_interval_ms = (uint32_t)ms;
	if (rw_cfg_get_int(g, &rw_cfg_sec_log, "blocked_sources", &n))
		l->blocked_sources = (uint32_t)n;
	if (rw_cfg_get_int(g, &rw_cfg_sec_log, "blocked_max_lines", &n))
		l->blocked_max_lines = (uint32_t)n;
	if (rw_cfg_get_int(g, &rw_cfg_sec_log, "blocked_rotate_mb", &n))
		l->blocked_rotate_bytes = (uint64_t)n << 20;
	if (rw_cfg_get_int(g, &rw_cfg_sec_log, "blocked_keep", &n))
		l->blocked_keep = (uint32_t)n;
	if (l->blocked && l->blocked_pcap && strcmp(l->blocked, l->blocked_pcap) == 0)
		rw_cfg_err(ctx, rw_cfg_member(g, "blocked_pcap"),
			   "is the same file as log.blocked");
}

static void rw_cfg_log(struct rw_cfg_ctx *ctx, const config_setting_t *root)
{
	const config_setting_t *g = rw_cfg_member(root, "log");
	struct rw_log_cfg *l = &ctx->pol->log;
	int64_t n;
	if (!g || config_setting_type(g) != CONFIG_TYPE_GROUP)
		return;
	if (rw_cfg_get_int(g, &rw_cfg_sec_log, "nflog_group", &n))
		l->nflog_group = (uint16_t)n;
	if (rw_cfg_get_str(g, "blocked"))
		rw_cfg_abs_path(ctx, rw_cfg_member(g, "blocked"), PATH_MAX - 1, &l->blocked);
	if (rw_cfg_get_str(g, "blocked_pcap"))
		rw_cfg_abs_path(ctx, rw_cfg_member(g, "blocked_pcap"), PATH_MAX - 1,
				&l->blocked_pcap);
	rw_cfg_log_audit(ctx, g, l);
	rw_cfg_blocked(ctx, g, l);
	/* three writers of one file would interleave and break the chain */
	if (l->audit && ((l->blocked && !strcmp(l->audit, l->blocked)) ||
			 (l->blocked_pcap && !strcmp(l->audit, l->blocked_pcap))))
		rw_cfg_err(ctx, rw_cfg_member(g, "audit"), "is the same file as a blocked log");
}

static void rw_cfg_control(struct rw_cfg_ctx *ctx, const config_setting_t *root)
{
	const config_setting_t *g = rw_cfg_member(root, "control");
	struct sockaddr_un sun;
	char *path;
	if (!g)
		return;
	/* sun_path holds the name and its NUL */
	if (rw_cfg_get_str(g, "socket") &&
	    !rw_cfg_abs_path(ctx, rw_cfg_member(g, "socket"), sizeof(sun.sun_path) - 1, &path)) {
		free(ctx->pol->control_socket);
		ctx->pol->control_socket = path;
	}
	if (rw_cfg_get_str(g, "state") &&
	    !rw_cfg_abs_path(ctx, rw_cfg_member(g, "state"), PATH_MAX - 1, &path)) {
		free(ctx->pol->state_file);
		ctx->pol->state_file = path;
	}
}

/* metrics.allow: CIDRs (or addresses) that may scrape; loopback when
 * absent. An empty list is refused: it would be an endpoint nobody can
 * read. */
static void rw_cfg_metrics_allow(struct rw_cfg_ctx *ctx, const config_setting_t *g)
{
	struct rw_policy *p = ctx->pol;
	const config_setting_t *list;
	int n = rw_cfg_get_strings(g, "allow", &list);
	if (n < 0) {
		if (rw_cfg_member(g, "allow"))
			return; /* ill-typed: reported by the table check */
		p->metrics_allow = rw_cfg_calloc(ctx, 2, sizeof(*p->metrics_allow));
		if (!p->metrics_allow)
			return;
		rw_cidr_parse("127.0.0.0/8", &p->metrics_allow[0], 0);
		rw_cidr_parse("::1/128", &p->metrics_allow[1], 0);
		p->n_metrics_allow = 2;
		return;
	}
	if (n == 0) {
		rw_cfg_err(ctx, rw_cfg_member(g, "allow"),
			   "empty: name who may scrape (default, without allow: loopback)");
		return;
	}
	p->metrics_allow = rw_cfg_calloc(ctx, (size_t)n, sizeof(*p->metrics_allow));
	if (!p->metrics_allow)
		return;
	for (int i = 0; i < n; i++) {
		const char *v = rw_cfg_elem_str(list, i);
		char why[192];
		struct rw_cidr *c = &p->metrics_allow[p->n_metrics_allow];
		if (v && rw_cidr_parse(v, c, 0) == 0) {
			p->n_metrics_allow++;
			continue;
		}
		if (v && rw_cidr_mapped_msg(v, why, sizeof(why)))
			rw_cfg_err(ctx, rw_cfg_elem(list, i), "\"%s\": %s", v, why);
		else
			rw_cfg_err(ctx, rw_cfg_elem(list, i),
				   "\"%s\": not an IPv4 or IPv6 address or CIDR (host bits clear)",
				   v ? v : "");
	}
}

static void rw_cfg_metrics(struct rw_cfg_ctx *ctx, const config_setting_t *root)
{
	const config_setting_t *g = rw_cfg_member(root, "metrics"), *s;
	struct rw_policy *p = ctx->pol;
	const char *v;
	if (!g || !(v = rw_cfg_get_str(g, "listen")))
		return;
	s = rw_cfg_member(g, "listen");
	rw_cfg_metrics_allow(ctx, g);
	char why[192];
	int r = rw_cfg_parse_endpoint(v, &p->metrics);
	if (r && rw_cidr_mapped_msg(v, why, sizeof(why))) {
		rw_cfg_err(ctx, s, "\"%s\": %s", v, why);
		memset(&p->metrics, 0, sizeof(p->metrics));
		return;
	}
	if (r) {
		rw_cfg_err(ctx, s, "\"%s\": expected address:port or [v6-address]:port", v);
		memset(&p->metrics, 0, sizeof(p->metrics));
		return;
	}
	for (size_t i = 0; i < p->n_listeners; i++) {
		const struct rw_endpoint *e = &p->listeners[i].listen;
		if (e->family == p->metrics.family && e->port == p->metrics.port &&
		    rw_cfg_endpoints_overlap(e, &p->metrics))
			rw_cfg_err(ctx, s, "port %u already used by listener '%s' (line %d)",
				   e->port, p->listeners[i].name, p->listeners[i].line);
	}
}

void rw_cfg_build_opts(struct rw_cfg_ctx *ctx, const config_setting_t *root)
{
	rw_cfg_policy(ctx, root);
	rw_cfg_limits(ctx, root);
	rw_cfg_log(ctx, root);
	rw_cfg_control(ctx, root);
	rw_cfg_metrics(ctx, root);
}
