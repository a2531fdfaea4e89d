/* The blocked-attempt log (log.blocked, log.blocked_pcap): one JSON line
 * per blocked attempt, from two origins:
 *   "drop"   the kernel's drops, NFLOG records of the table's log rules
 *            (appliance/rw_nflog_cap), decoded by inspect/rw_nflog;
 *   "refuse" the workers' L7 refusals (events of kind "refuse", untrusted:
 *            parsed with jansson and validated here).
 * Flood control: per (origin, source, reason), the first log.blocked_burst
 * attempts of each interval get a line, the rest are counted into one
 * summary line at the interval's end; at most log.blocked_max_lines
 * attempt lines per interval in all; the table holds
 * log.blocked_sources pairs, attempts of pairs that do not fit go into
 * one aggregate summary per origin. Every attempt is a line, part of a
 * summary's count, or a counted loss written in a loss line
 * (docs/design/blocked-log.md has the line format and the identity). */
#ifndef RW_BLOCKED_H
#define RW_BLOCKED_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "appliance/rw_blocked_out.h"
#include "appliance/rw_evline.h"
#include "appliance/rw_nflog_cap.h"
#include "base/rw_err.h"
#include "rules/rw_policy.h"

#define RW_BLOCKED_REASON_MAX 48
#define RW_BLOCKED_QUEUE 4096 /* items waiting for the writer at most */
#define RW_BLOCKED_IFCACHE 16

enum rw_blocked_origin { RW_BLOCKED_DROP = 0, RW_BLOCKED_REFUSE = 1 };

/* Everything the metrics exporter may read (rw_blocked_stats). Attempts,
 * not bytes; per origin [0] drop, [1] refuse. */
struct rw_blocked_stats {
	uint64_t records;                        /* NFLOG records received */
	uint64_t undecodable;                    /* of those, refused by the decoder */
	uint64_t refusals;                       /* worker refusal events accepted */
	uint64_t bad_events;                     /* worker events refused (invalid) */
	uint64_t lines[RW_BLOCKED_ORIGINS];      /* attempt lines written */
	uint64_t summaries;                      /* summary lines written */
	uint64_t summarised[RW_BLOCKED_ORIGINS]; /* attempts counted in those */
	uint64_t pending[RW_BLOCKED_ORIGINS];    /* summarised, interval not over */
	uint64_t lost[RW_BLOCKED_ORIGINS][RW_BLOCKED_LOST_KINDS];
	uint64_t loss_lines;
	uint64_t enobufs, truncated;             /* kernel overflow events */
	uint64_t pcap_records, pcap_lost, rotations;
};

struct rw_blocked_entry {
	bool used;
	uint8_t origin, family;
	uint8_t addr[16];
	char reason[RW_BLOCKED_REASON_MAX];
	uint32_t lines;       /* lines this interval */
	uint64_t suppressed;  /* attempts summarised this interval */
	uint64_t first_ms, last_ms;
	char listener[RW_NAME_MAX];
};

struct rw_blocked_lsn {
	char name[RW_NAME_MAX];
	struct rw_endpoint ep;
	bool any;
};

struct rw_blocked {
	struct rw_log_cfg cfg; /* numbers only; the paths are the writer's */
	char *path, *pcap_path;
	bool on;               /* a file is configured: capture and write */
	struct rw_blocked_out out;
	bool out_on;
	struct rw_nflog_cap cap;
	/* flood control, reset each interval */
	struct rw_blocked_entry *tab;
	size_t tab_size, n_used;
	uint64_t seed;
	uint64_t interval_start_ms, lines_interval;
	uint64_t agg[RW_BLOCKED_ORIGINS], agg_first[RW_BLOCKED_ORIGINS], agg_last[RW_BLOCKED_ORIGINS];
	/* kernel sequence: the next record's seq */
	bool seq_known;
	uint32_t seq_next;
	uint64_t kernel_lost;
	uint64_t records, undecodable, refusals, bad_events, attempts[RW_BLOCKED_ORIGINS];
	uint64_t oom[RW_BLOCKED_ORIGINS]; /* lines that could not be built */
	struct rw_blocked_lsn *lsn;
	size_t n_lsn;
	struct { int idx; char name[16]; } ifc[RW_BLOCKED_IFCACHE];
};

/* From the policy's log section. Opens the NFLOG capture (root, before
 * anything drops privileges) when log.blocked or log.blocked_pcap is set,
 * and starts the writer. Nothing is opened when neither is set. */
int rw_blocked_open(struct rw_blocked *b, const struct rw_policy *p, struct rw_diag *diag);
/* The same without the NFLOG socket (tests, fuzzing: records are fed
 * with rw_blocked_on_nflog). */
int rw_blocked_open_nocap(struct rw_blocked *b, const struct rw_policy *p, struct rw_diag *diag);
/* A reload: new listeners, new limits; new paths restart the writer
 * (files reopened). A new nflog group is taken at the next restart. */
int rw_blocked_set_policy(struct rw_blocked *b, const struct rw_policy *p, struct rw_diag *diag);
void rw_blocked_close(struct rw_blocked *b);

/* The capture fd for the loop (-1 when off) and its readiness. */
int rw_blocked_fd(const struct rw_blocked *b);
void rw_blocked_on_readable(struct rw_blocked *b, uint64_t now_ms);

/* One NFLOG record (as rw_nflog_cap hands it). now_ms: wall clock. */
void rw_blocked_on_nflog(struct rw_blocked *b, const uint8_t *rec, size_t len, uint64_t now_ms);
/* One worker event line; only kind "refuse" is taken, anything else is
 * ignored (returns false). Invalid refusals are counted in bad_events. */
bool rw_blocked_on_event(struct rw_blocked *b, const char *line, size_t len, uint64_t now_ms);
/* The same for a line whose parse the other sinks share (rw_evline.h). */
bool rw_blocked_on_evline(struct rw_blocked *b, struct rw_evline *e, uint64_t now_ms);
/* Call at least once a second: ends the interval when it is due
 * (summary and loss lines). force: end it now (shutdown, tests). */
void rw_blocked_tick(struct rw_blocked *b, uint64_t now_ms, bool force);
/* regwallctl log rotate */
void rw_blocked_rotate(struct rw_blocked *b);
void rw_blocked_stats(struct rw_blocked *b, struct rw_blocked_stats *st);
/* The stats as a JSON object for `regwallctl status` (new reference). */
json_t *rw_blocked_status_json(struct rw_blocked *b);

/* The reason token for a log prefix: "regwall <listener> <reason>" with a
 * known reason gives that reason and the listener ("-" = none); anything
 * else gives "other" and the prefix escaped in prefix_esc. */
const char *rw_blocked_reason(const char *prefix, char *listener, size_t listener_size,
			      char *prefix_esc, size_t esc_size);

#endif
