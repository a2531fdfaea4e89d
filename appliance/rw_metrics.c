#include "appliance/rw_metrics.h"
#include "fwd/rw_term.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/rw_err.h"
#include "inspect/rw_http.h"
#include "inspect/rw_oci.h"
#include "inspect/rw_tls_hello.h"

/* ---- bounded label sets ---- */

static const char rw_metrics_other[] = "other";

/* Every reason token a worker emits that is not built from an inspect/
 * refusal code: fwd/rw_event.h, fwd/rw_term.h, rules/rw_decide*, the
 * TLS context's certificate verdicts. */
static const char *const rw_metrics_fixed_reasons[] = {
	/* passthrough and admission (rw_event.h) */
	"overload", "source_limit", "not_redirected", "not_upstream", "orig_dst_unknown", "hello_timeout", "no_sni", "sni", "ech", "hello_eof",
	"connect_failed", "connect_refused", "connect_unreachable", "connect_timeout",
	"upstream_error", "hrr_timeout", "hrr_twice", "hrr_alpn", "hrr_sni", "server_eof",
	"server_hello_timeout",
	/* "pass" ends */
	"done", "reset", "idle_timeout", "error",
	/* terminate connections (rw_term.h) */
	"handshake_timeout", "alpn", "client_cert_missing", "client_cert_revoked",
	"client_cert_expired", "client_cert_untrusted", "client_cert_invalid", "tls_handshake",
	/* terminate requests: rw_decide, rw_decide_body, the exchange */
	"no_identity", "no_role", "push_requires_vpn", "mount_source_denied",
	"catalog_needs_pull_all", "unknown_operation", "content_type_duplicate",
	"content_type_invalid", "form_body", "upload_start_body", "misdirected", "rate_limited",
	"upstream_failed", "upstream_timeout",
	/* push results, terminate ends */
	"manifest_put", "upload_mount", "upload_complete", "upload_start", "header_timeout",
	"client_error", "client_gone", "drain", "response_timeout",
	/* spelled out in fwd/ rather than built from an inspect/ code */
	"http_fields_too_long", "http_host_invalid", "http_content_length_with_transfer_encoding",
	"tls_hello_too_large", "server_tls_hello_too_large",
};

#define RW_METRICS_N_FIXED (sizeof(rw_metrics_fixed_reasons) / sizeof(rw_metrics_fixed_reasons[0]))

static int rw_metrics_build_reasons(struct rw_metrics *m)
{
	size_t cap = RW_METRICS_N_FIXED + 2 * (size_t)RW_TLS_REFUSE_MAX_ +
		     (size_t)RW_HTTP_REFUSE_MAX_ + 1;
	m->reason = calloc(cap, sizeof(*m->reason));
	if (!m->reason)
		return RW_ENOMEM;
	size_t n = 0;
	for (size_t i = 0; i < RW_METRICS_N_FIXED; i++)
		snprintf(m->reason[n++], RW_METRICS_NAME_MAX, "%s", rw_metrics_fixed_reasons[i]);
	for (int i = 0; i < (int)RW_TLS_REFUSE_MAX_; i++) {
		const char *t = rw_tls_refuse_str((enum rw_tls_refuse)i);
		snprintf(m->reason[n++], RW_METRICS_NAME_MAX, "tls_%s", t);
		snprintf(m->reason[n++], RW_METRICS_NAME_MAX, "server_tls_%s", t);
	}
	for (int i = 0; i < (int)RW_HTTP_REFUSE_MAX_; i++)
		rw_term_http_reason((enum rw_http_refuse)i, m->reason[n++], RW_METRICS_NAME_MAX);
	snprintf(m->reason[n++], RW_METRICS_NAME_MAX, "%s", rw_metrics_other);
	m->n_reason = n;
	return 0;
}

static size_t rw_metrics_reason_idx(const struct rw_metrics *m, const char *reason)
{
	for (size_t i = 0; reason && i + 1 < m->n_reason; i++)
		if (strcmp(m->reason[i], reason) == 0)
			return i;
	return m->n_reason - 1;
}

static size_t rw_metrics_op_idx(const struct rw_metrics *m, const char *op)
{
	for (size_t i = 0; op && i + 1 < m->n_op; i++)
		if (strcmp(rw_oci_op_str((enum rw_oci_op)i), op) == 0)
			return i;
	return m->n_op - 1;
}

static const char *rw_metrics_op_name(const struct rw_metrics *m, size_t i)
{
	return i + 1 < m->n_op ? rw_oci_op_str((enum rw_oci_op)i) : rw_metrics_other;
}

static size_t rw_metrics_row(const struct rw_metrics *m, const char *name)
{
	for (size_t i = 0; name && i < m->n_listeners; i++)
		if (strcmp(m->listener[i], name) == 0)
			return i;
	return RW_METRICS_LISTENERS_MAX;
}

static const char *rw_metrics_row_name(const struct rw_metrics *m, size_t row)
{
	return row < m->n_listeners ? m->listener[row] : rw_metrics_other;
}

const char *rw_metrics_reason_label(const struct rw_metrics *m, const char *reason)
{
	return m->reason[rw_metrics_reason_idx(m, reason)];
}

const char *rw_metrics_op_label(const struct rw_metrics *m, const char *op)
{
	return rw_metrics_op_name(m, rw_metrics_op_idx(m, op));
}

const char *rw_metrics_listener_label(const struct rw_metrics *m, const char *name)
{
	return rw_metrics_row_name(m, rw_metrics_row(m, name));
}

/* ---- the registry ---- */

int rw_metrics_init(struct rw_metrics *m)
{
	*m = (struct rw_metrics){ 0 };
	m->n_op = (size_t)RW_OCI_OP_MAX_ + 1;
	int r = rw_metrics_build_reasons(m);
	if (r)
		return r;
	m->refusals = calloc((size_t)RW_METRICS_ROWS * m->n_reason, sizeof(uint64_t));
	m->requests = calloc((size_t)RW_METRICS_ROWS * m->n_op * RW_METRICS_DEC_MAX_,
			     sizeof(uint64_t));
	if (!m->refusals || !m->requests) {
		rw_metrics_fini(m);
		return RW_ENOMEM;
	}
	return 0;
}

void rw_metrics_fini(struct rw_metrics *m)
{
	free(m->reason);
	free(m->refusals);
	free(m->requests);
	*m = (struct rw_metrics){ 0 };
}

/* A config name (rw_cfg_check_name: [a-z][a-z0-9_-]{0,30}); anything else
 * is not taken as a label. */
static bool rw_metrics_name_ok(const char *s)
{
	size_t n = strlen(s);
	if (n == 0 || n >= RW_METRICS_NAME_MAX)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-'))
			return false;
	}
	return true;
}

void rw_metrics_listeners(struct rw_metrics *m, const char *const *names, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (!names[i] || !rw_metrics_name_ok(names[i]) ||
		    rw_metrics_row(m, names[i]) < RW_METRICS_LISTENERS_MAX ||
		    m->n_listeners >= RW_METRICS_LISTENERS_MAX)
			continue;
		snprintf(m->listener[m->n_listeners++], RW_METRICS_NAME_MAX, "%s", names[i]);
	}
}

/* Optional string member: true when absent (*out NULL) or a string. */
static bool rw_metrics_opt_str(json_t *o, const char *key, const char **out)
{
	json_t *v = json_object_get(o, key);
	*out = v ? json_string_value(v) : NULL;
	return !v || json_is_string(v) || json_is_null(v);
}

/* Count one parsed event object; false when it is not one we count. */
static bool rw_metrics_count(struct rw_metrics *m, json_t *o)
{
	const char *kind = NULL, *reason = NULL, *lis = NULL, *op = NULL;
	json_t *bytes = json_object_get(o, "bytes_up");
	if (!rw_metrics_opt_str(o, "kind", &kind) || !kind ||
	    !rw_metrics_opt_str(o, "reason", &reason) || !reason ||
	    !rw_metrics_opt_str(o, "listener", &lis) || !rw_metrics_opt_str(o, "operation", &op) ||
	    (bytes && (!json_is_integer(bytes) || json_integer_value(bytes) < 0)))
		return false;
	size_t row = rw_metrics_row(m, lis);
	size_t ri = rw_metrics_reason_idx(m, reason);
	if (strcmp(kind, "refuse") == 0) {
		m->refusals[row * m->n_reason + ri]++;
		if (strcmp(reason, "rate_limited") == 0)
			m->rate_limited[row]++;
		if (op) {
			size_t oi = rw_metrics_op_idx(m, op);
			m->requests[(row * m->n_op + oi) * RW_METRICS_DEC_MAX_ +
				    RW_METRICS_DEC_REFUSED]++;
		} else {
			m->conn[row][RW_METRICS_OUT_REFUSED]++;
		}
	} else if (strcmp(kind, "pass") == 0) {
		m->conn[row][RW_METRICS_OUT_PASS]++;
	} else if (strcmp(kind, "term") == 0) {
		m->conn[row][RW_METRICS_OUT_TERM]++;
	} else if (strcmp(kind, "push") == 0) {
		size_t oi = rw_metrics_op_idx(m, op);
		m->requests[(row * m->n_op + oi) * RW_METRICS_DEC_MAX_ + RW_METRICS_DEC_ALLOWED]++;
		/* saturate: a wrap would read as a counter reset */
		uint64_t b = bytes ? (uint64_t)json_integer_value(bytes) : 0;
		m->push_bytes[row] = m->push_bytes[row] > UINT64_MAX - b ? UINT64_MAX
									  : m->push_bytes[row] + b;
	} else {
		return false;
	}
	return true;
}

int rw_metrics_event_obj(struct rw_metrics *m, const json_t *obj)
{
	m->events++;
	/* the getters take non-const objects; nothing here changes it */
	json_t *o = (json_t *)obj;
	if (json_is_object(o) && rw_metrics_count(m, o))
		return 0;
	m->events_invalid++;
	return RW_EINVAL;
}

int rw_metrics_event(struct rw_metrics *m, const char *line, size_t len)
{
	json_t *o = NULL;
	if (len > 0 && len <= RW_METRICS_EVENT_MAX)
		o = json_loadb(line, len, JSON_REJECT_DUPLICATES, NULL);
	int r = rw_metrics_event_obj(m, o);
	json_decref(o);
	return r;
}

int rw_metrics_source_add(struct rw_metrics *m, rw_metrics_source_fn *fn, void *ctx)
{
	if (!fn)
		return RW_EINVAL;
	if (m->n_src >= RW_METRICS_SOURCES_MAX)
		return RW_ETOOBIG;
	m->src[m->n_src].fn = fn;
	m->src[m->n_src].ctx = ctx;
	m->n_src++;
	return 0;
}

void rw_metrics_source_del(struct rw_metrics *m, rw_metrics_source_fn *fn, void *ctx)
{
	for (size_t i = 0; i < m->n_src; i++)
		if (m->src[i].fn == fn && m->src[i].ctx == ctx) {
			memmove(&m->src[i], &m->src[i + 1], (m->n_src - i - 1) * sizeof(m->src[0]));
			m->n_src--;
			return;
		}
}

void rw_metrics_nflog_source(struct rw_metrics *m, rw_metrics_nflog_fn *fn, void *ctx)
{
	m->nflog = fn;
	m->nflog_ctx = fn ? ctx : NULL;
}

void rw_metrics_vpn_source(struct rw_metrics *m, rw_metrics_vpn_fn *fn, void *ctx)
{
	m->vpn = fn;
	m->vpn_ctx = fn ? ctx : NULL;
}

/* ---- the exposition ---- */

static const char *const rw_metrics_outcome_name[RW_METRICS_OUT_MAX_] = {
	"refused", "passthrough", "terminate",
};
static const char *const rw_metrics_decision_name[RW_METRICS_DEC_MAX_] = { "refused", "allowed" };

/* Rows that have a name, plus "other" once it counted something. */
static bool rw_metrics_row_shown(const struct rw_metrics *m, size_t row, bool other_used)
{
	return row < m->n_listeners || (row == RW_METRICS_LISTENERS_MAX && other_used);
}

static bool rw_metrics_other_used(const struct rw_metrics *m)
{
	const size_t r = RW_METRICS_LISTENERS_MAX;
	uint64_t any = m->push_bytes[r] | m->rate_limited[r];
	for (int k = 0; k < RW_METRICS_OUT_MAX_; k++)
		any |= m->conn[r][k];
	for (size_t i = 0; i < m->n_reason; i++)
		any |= m->refusals[r * m->n_reason + i];
	return any != 0;
}

static void rw_metrics_write_events(const struct rw_metrics *m, struct rw_metrics_out *o)
{
	bool other = rw_metrics_other_used(m);
	rw_metrics_family(o, "regwall_events_received_total", RW_METRICS_COUNTER,
			  "Decision events the parent received from the workers.");
	rw_metrics_sample(o, "regwall_events_received_total", NULL, 0, m->events);
	rw_metrics_family(o, "regwall_events_invalid_total", RW_METRICS_COUNTER,
			  "Worker events that were not a valid decision event (not counted).");
	rw_metrics_sample(o, "regwall_events_invalid_total", NULL, 0, m->events_invalid);

	rw_metrics_family(o, "regwall_connections_total", RW_METRICS_COUNTER,
			  "Client connections ended, by listener and outcome.");
	for (size_t r = 0; r < RW_METRICS_ROWS; r++) {
		if (!rw_metrics_row_shown(m, r, other))
			continue;
		for (int k = 0; k < RW_METRICS_OUT_MAX_; k++) {
			struct rw_metrics_label l[] = { { "listener", rw_metrics_row_name(m, r) },
							{ "outcome", rw_metrics_outcome_name[k] } };
			rw_metrics_sample(o, "regwall_connections_total", l, 2, m->conn[r][k]);
		}
	}
	rw_metrics_family(o, "regwall_refusals_total", RW_METRICS_COUNTER,
			  "Connections and requests refused by the data path, by listener and "
			  "reason.");
	for (size_t r = 0; r < RW_METRICS_ROWS; r++)
		for (size_t i = 0; i < m->n_reason; i++) {
			uint64_t v = m->refusals[r * m->n_reason + i];
			if (!v)
				continue;
			struct rw_metrics_label l[] = { { "listener", rw_metrics_row_name(m, r) },
							{ "reason", m->reason[i] } };
			rw_metrics_sample(o, "regwall_refusals_total", l, 2, v);
		}
	rw_metrics_family(o, "regwall_requests_total", RW_METRICS_COUNTER,
			  "Terminate-mode registry requests with an event: refused ones and "
			  "push operations the registry answered, by listener, operation and "
			  "decision.");
	for (size_t r = 0; r < RW_METRICS_ROWS; r++)
		for (size_t i = 0; i < m->n_op; i++)
			for (int d = 0; d < RW_METRICS_DEC_MAX_; d++) {
				uint64_t v = m->requests[(r * m->n_op + i) * RW_METRICS_DEC_MAX_ +
							 (size_t)d];
				if (!v)
					continue;
				struct rw_metrics_label l[] = {
					{ "listener", rw_metrics_row_name(m, r) },
					{ "operation", rw_metrics_op_name(m, i) },
					{ "decision", rw_metrics_decision_name[d] },
				};
				rw_metrics_sample(o, "regwall_requests_total", l, 3, v);
			}
	rw_metrics_family(o, "regwall_push_bytes_total", RW_METRICS_COUNTER,
			  "Request body bytes of push operations the registry answered.");
	for (size_t r = 0; r < RW_METRICS_ROWS; r++)
		if (rw_metrics_row_shown(m, r, other)) {
			struct rw_metrics_label l[] = { { "listener", rw_metrics_row_name(m, r) } };
			rw_metrics_sample(o, "regwall_push_bytes_total", l, 1, m->push_bytes[r]);
		}
	rw_metrics_family(o, "regwall_rate_limited_total", RW_METRICS_COUNTER,
			  "Requests answered 429 by the push rate limit.");
	for (size_t r = 0; r < RW_METRICS_ROWS; r++)
		if (rw_metrics_row_shown(m, r, other)) {
			struct rw_metrics_label l[] = { { "listener", rw_metrics_row_name(m, r) } };
			rw_metrics_sample(o, "regwall_rate_limited_total", l, 1, m->rate_limited[r]);
		}
}

static void rw_metrics_write_nflog(const struct rw_metrics *m, struct rw_metrics_out *o)
{
	struct rw_metrics_nflog n = { 0 };
	if (!m->nflog || m->nflog(m->nflog_ctx, &n))
		return;
	rw_metrics_family(o, "regwall_blocked_log_lines_total", RW_METRICS_COUNTER,
			  "Blocked attempts written to log.blocked as their own line.");
	rw_metrics_sample(o, "regwall_blocked_log_lines_total", NULL, 0, n.lines);
	rw_metrics_family(o, "regwall_blocked_log_summaries_total", RW_METRICS_COUNTER,
			  "Summary lines written to log.blocked (flood control).");
	rw_metrics_sample(o, "regwall_blocked_log_summaries_total", NULL, 0, n.summaries);
	rw_metrics_family(o, "regwall_blocked_log_summarised_total", RW_METRICS_COUNTER,
			  "Blocked attempts counted in summary lines instead of their own line.");
	rw_metrics_sample(o, "regwall_blocked_log_summarised_total", NULL, 0, n.summarised);
	rw_metrics_family(o, "regwall_blocked_log_lost_total", RW_METRICS_COUNTER,
			  "Blocked attempts the log could not record, by cause.");
	static const char *const cause[] = { "kernel", "pcap", "write" };
	uint64_t v[] = { n.lost_kernel, n.lost_pcap, n.lost_write };
	for (size_t i = 0; i < 3; i++) {
		struct rw_metrics_label l[] = { { "cause", cause[i] } };
		rw_metrics_sample(o, "regwall_blocked_log_lost_total", l, 1, v[i]);
	}
}

/* The three WireGuard families; one pass over the peers per family. */
struct rw_metrics_vpn_pass {
	struct rw_metrics_out *o;
	int which; /* 0 handshake, 1 rx, 2 tx */
};

static void rw_metrics_vpn_one(void *arg, const struct rw_metrics_vpn_peer *p)
{
	struct rw_metrics_vpn_pass *vp = arg;
	struct rw_metrics_label l[] = { { "interface", p->interface },
					{ "public_key", p->public_key },
					{ "friendly_name", p->friendly_name } };
	if (vp->which == 0)
		rw_metrics_sample_i64(vp->o, "wireguard_latest_handshake_seconds", l, 3,
				      p->latest_handshake);
	else if (vp->which == 1)
		rw_metrics_sample(vp->o, "wireguard_received_bytes_total", l, 3, p->rx_bytes);
	else
		rw_metrics_sample(vp->o, "wireguard_sent_bytes_total", l, 3, p->tx_bytes);
}

static void rw_metrics_write_vpn(const struct rw_metrics *m, struct rw_metrics_out *o)
{
	if (!m->vpn)
		return;
	static const struct {
		const char *name, *help;
		enum rw_metrics_type type;
	} fam[] = {
		{ "wireguard_latest_handshake_seconds",
		  "Unix time of the latest handshake with the peer (0: none).", RW_METRICS_GAUGE },
		{ "wireguard_received_bytes_total", "Bytes received from the peer.",
		  RW_METRICS_COUNTER },
		{ "wireguard_sent_bytes_total", "Bytes sent to the peer.", RW_METRICS_COUNTER },
	};
	for (int i = 0; i < 3; i++) {
		struct rw_metrics_vpn_pass vp = { o, i };
		rw_metrics_family(o, fam[i].name, fam[i].type, fam[i].help);
		m->vpn(m->vpn_ctx, rw_metrics_vpn_one, &vp);
	}
}

void rw_metrics_write(const struct rw_metrics *m, struct rw_metrics_out *out)
{
	rw_metrics_write_events(m, out);
	for (size_t i = 0; i < m->n_src; i++)
		m->src[i].fn(m->src[i].ctx, out);
	rw_metrics_write_nflog(m, out);
	rw_metrics_write_vpn(m, out);
}
