/* The parent's Prometheus counters and their text exposition (format
 * 0.0.4, written by hand). docs/design/metrics.md lists every metric.
 *
 * Three kinds of numbers, all kept or read in the parent, so they survive
 * reloads and worker restarts:
 *   - counted here from the workers' decision events (rw_metrics_event:
 *     one untrusted JSON line, validated; labels only from bounded sets);
 *   - read at scrape time from counters the parent already keeps
 *     (reloads, bans, worker restarts, event drops: rw_metrics_parent.c);
 *   - asked at scrape time from sources other parts register (the
 *     blocked-attempt log's NFLOG counts, the WireGuard peers, anything
 *     else through rw_metrics_source_add).
 *
 * Labels never carry client addresses, names or anything a client
 * chose: a listener label is a name from the config (kept across reloads
 * up to RW_METRICS_LISTENERS_MAX names), a reason or operation label a
 * token from the fixed lists in fwd/rw_event.h, fwd/rw_term.h and
 * inspect/; anything else becomes "other". */
#ifndef RW_METRICS_H
#define RW_METRICS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define RW_METRICS_LISTENERS_MAX 64
#define RW_METRICS_SOURCES_MAX 8
/* Longest event line looked at; longer ones count as invalid. */
#define RW_METRICS_EVENT_MAX 8192

/* ---- the exposition writer ---- */

/* A growable text buffer; out of memory sticks (oom) and the scrape
 * answers 500. */
struct rw_metrics_out {
	char *p;
	size_t len, cap;
	bool oom;
};

enum rw_metrics_type { RW_METRICS_COUNTER = 0, RW_METRICS_GAUGE };

struct rw_metrics_label {
	const char *name;  /* [a-zA-Z_][a-zA-Z0-9_]*: a constant in the code */
	const char *value; /* any bytes; escaped here (\\, \", \n) */
};

void rw_metrics_out_free(struct rw_metrics_out *o);
/* "# HELP name help\n# TYPE name counter|gauge\n" (help escaped: \\, \n).
 * Write each family's header once, then its samples. */
void rw_metrics_family(struct rw_metrics_out *o, const char *name, enum rw_metrics_type type,
		       const char *help);
/* "name{l1=\"v1\",...} value\n" */
void rw_metrics_sample(struct rw_metrics_out *o, const char *name,
		       const struct rw_metrics_label *labels, size_t n_labels, uint64_t value);
void rw_metrics_sample_i64(struct rw_metrics_out *o, const char *name,
			   const struct rw_metrics_label *labels, size_t n_labels, int64_t value);
/* A label value as the format wants it: '\\' -> "\\\\", '"' -> "\\\"",
 * '\n' -> "\\n"; other bytes as they are. */
void rw_metrics_escape_label(struct rw_metrics_out *o, const char *v);

/* ---- sources the parent asks at each scrape ---- */

/* Writes its own families (rw_metrics_family + rw_metrics_sample) into
 * out. Runs on the parent's loop: it must not block (read counters the
 * source keeps; a source that needs the kernel, e.g. WireGuard peers,
 * keeps the last answer it got and returns that). */
typedef void rw_metrics_source_fn(void *ctx, struct rw_metrics_out *out);

/* The blocked-attempt log's counts (issue 11 part 1), all since start:
 * lines written, summary lines written, attempts those summaries count,
 * and losses by cause. Every dropped packet the kernel logged is one of
 * lines + summarised + lost. */
struct rw_metrics_nflog {
	uint64_t lines, summaries, summarised;
	uint64_t lost_kernel; /* NFLOG queue overflow (ENOBUFS, nflog seq gaps) */
	uint64_t lost_pcap;   /* pcap file writer dropped */
	uint64_t lost_write;  /* the log file could not take the line */
};
/* Fill *out; 0, or non-zero if there is nothing to report now. */
typedef int rw_metrics_nflog_fn(void *ctx, struct rw_metrics_nflog *out);

/* One WireGuard peer as the VPN part last read it (names as
 * prometheus_wireguard_exporter). */
struct rw_metrics_vpn_peer {
	const char *interface;     /* "wg0" */
	const char *public_key;    /* base64, from the config */
	const char *friendly_name; /* the peer's name in the config */
	int64_t latest_handshake;  /* unix seconds; 0 = never */
	uint64_t rx_bytes, tx_bytes;
};
typedef void rw_metrics_vpn_each_fn(void *each_ctx, const struct rw_metrics_vpn_peer *p);
/* Call each() once per configured peer. */
typedef void rw_metrics_vpn_fn(void *ctx, rw_metrics_vpn_each_fn *each, void *each_ctx);

/* ---- the registry ---- */

/* Connection outcomes (the events that end a connection). */
enum rw_metrics_outcome {
	RW_METRICS_OUT_REFUSED = 0, /* "refuse" with no operation */
	RW_METRICS_OUT_PASS,        /* "pass": a passthrough connection ended */
	RW_METRICS_OUT_TERM,        /* "term": a terminated connection ended */
	RW_METRICS_OUT_MAX_,
};
enum rw_metrics_decision { RW_METRICS_DEC_REFUSED = 0, RW_METRICS_DEC_ALLOWED, RW_METRICS_DEC_MAX_ };

#define RW_METRICS_NAME_MAX 48
/* Rows are listeners: RW_METRICS_LISTENERS_MAX names, then "other". */
#define RW_METRICS_ROWS (RW_METRICS_LISTENERS_MAX + 1)

struct rw_metrics {
	char listener[RW_METRICS_LISTENERS_MAX][RW_METRICS_NAME_MAX];
	size_t n_listeners;
	/* the reason tokens regwall emits (built at init from the fixed
	 * lists and inspect/'s refusal codes), "other" last */
	char (*reason)[RW_METRICS_NAME_MAX];
	size_t n_reason;
	size_t n_op; /* OCI operations, "other" last */
	/* counters, row-major by listener row */
	uint64_t conn[RW_METRICS_ROWS][RW_METRICS_OUT_MAX_];
	uint64_t push_bytes[RW_METRICS_ROWS], rate_limited[RW_METRICS_ROWS];
	uint64_t *refusals; /* [row][n_reason] */
	uint64_t *requests; /* [row][n_op][RW_METRICS_DEC_MAX_] */
	uint64_t events, events_invalid;
	struct {
		rw_metrics_source_fn *fn;
		void *ctx;
	} src[RW_METRICS_SOURCES_MAX];
	size_t n_src;
	rw_metrics_nflog_fn *nflog;
	void *nflog_ctx;
	rw_metrics_vpn_fn *vpn;
	void *vpn_ctx;
};

int rw_metrics_init(struct rw_metrics *m);
void rw_metrics_fini(struct rw_metrics *m);

/* The config's listener names (at start and after each reload). Names
 * seen before stay (their series continue); new ones are added while
 * there is room, later ones count as "other". */
void rw_metrics_listeners(struct rw_metrics *m, const char *const *names, size_t n);

/* One decision event line from a worker (untrusted: bounded, parsed with
 * jansson, every field checked). 0 counted; RW_EINVAL not an event we
 * count (counted in regwall_events_invalid_total). */
int rw_metrics_event(struct rw_metrics *m, const char *line, size_t len);
/* The same for a line the caller parsed already (NULL counts as
 * invalid). Parsing is most of the cost (bench_metrics: ~5 µs of jansson
 * per line): when several sinks read each event, parse once in
 * rw_ctl_on_event and hand each sink the object. The line must have been
 * parsed with JSON_REJECT_DUPLICATES and at most RW_METRICS_EVENT_MAX. */
struct json_t;
int rw_metrics_event_obj(struct rw_metrics *m, const struct json_t *obj);

/* Register a scrape-time source (RW_ETOOBIG when RW_METRICS_SOURCES_MAX
 * are registered); del removes the one with the same fn and ctx. */
int rw_metrics_source_add(struct rw_metrics *m, rw_metrics_source_fn *fn, void *ctx);
void rw_metrics_source_del(struct rw_metrics *m, rw_metrics_source_fn *fn, void *ctx);
/* The two typed sources (one each; NULL fn removes it). */
void rw_metrics_nflog_source(struct rw_metrics *m, rw_metrics_nflog_fn *fn, void *ctx);
void rw_metrics_vpn_source(struct rw_metrics *m, rw_metrics_vpn_fn *fn, void *ctx);

/* The whole exposition: the event counters, then every source. */
void rw_metrics_write(const struct rw_metrics *m, struct rw_metrics_out *out);

/* Bounded label sets (exported for the tests): the token itself when it
 * is one regwall emits, else "other". */
const char *rw_metrics_reason_label(const struct rw_metrics *m, const char *reason);
const char *rw_metrics_op_label(const struct rw_metrics *m, const char *op);
const char *rw_metrics_listener_label(const struct rw_metrics *m, const char *name);

#endif
