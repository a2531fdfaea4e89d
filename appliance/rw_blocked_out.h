/* The blocked log's writer: a bounded queue drained by one thread that
 * owns the two files (log.blocked, JSON lines; log.blocked_pcap,
 * LINKTYPE_NFLOG records), so a slow or full disk never stalls the
 * parent's loop. What the queue cannot take, or the disk refuses, is
 * counted as lost by the number of attempts the item stood for.
 *
 * Files are opened O_APPEND|O_CREAT (0640) and never truncated: a pcap
 * file that exists must start with our header, else it is left alone and
 * the pcap records are counted lost. Rotation: past max_bytes, or on
 * rw_blocked_out_rotate(): if the path still names the open file it is
 * renamed to path.1 (path.1 -> path.2 ... up to keep), then path is
 * opened anew; if someone (logrotate) moved it already, it is only
 * reopened. */
#ifndef RW_BLOCKED_OUT_H
#define RW_BLOCKED_OUT_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define RW_BLOCKED_ORIGINS 2 /* 0 = kernel drop (NFLOG), 1 = worker refusal */
/* loss kinds: records the kernel could not deliver (sequence gaps), the
 * queue was full, the write failed (full disk) */
enum { RW_BLOCKED_LOST_KERNEL = 0, RW_BLOCKED_LOST_QUEUE, RW_BLOCKED_LOST_WRITE, RW_BLOCKED_LOST_KINDS };

enum rw_blocked_item_type {
	RW_BLOCKED_ITEM_LINE = 0, /* one attempt */
	RW_BLOCKED_ITEM_SUMMARY,  /* weight attempts, summarised */
	RW_BLOCKED_ITEM_LOSS,     /* a loss report; weight 0 */
};

struct rw_blocked_item {
	struct rw_blocked_item *next;
	uint8_t type, origin;
	uint64_t weight;       /* attempts this item accounts for */
	uint64_t loss[RW_BLOCKED_ORIGINS][RW_BLOCKED_LOST_KINDS]; /* LOSS: what it reports */
	char *line;            /* with its '\n' */
	size_t line_len;
	uint8_t *rec;          /* NFLOG record for the pcap, or NULL */
	size_t rec_len;
	uint64_t ts_us;        /* pcap record time */
};

/* Counters the writer keeps (read under its lock by _stats). */
struct rw_blocked_out_stats {
	uint64_t lines[RW_BLOCKED_ORIGINS];      /* attempt lines written */
	uint64_t summaries;                      /* summary lines written */
	uint64_t summarised[RW_BLOCKED_ORIGINS]; /* attempts in summary lines written */
	uint64_t loss_lines;
	uint64_t queue_full[RW_BLOCKED_ORIGINS]; /* attempts lost: queue full */
	uint64_t write_error[RW_BLOCKED_ORIGINS]; /* attempts lost: write failed */
	uint64_t reported[RW_BLOCKED_ORIGINS][RW_BLOCKED_LOST_KINDS]; /* in loss lines written */
	uint64_t pcap_records, pcap_lost;
	uint64_t rotations;
	uint64_t bytes, pcap_bytes; /* size of the current files */
	int last_errno;
};

struct rw_blocked_out {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	pthread_t thread;
	bool started, stop, want_rotate;
	struct rw_blocked_item *head, *tail;
	size_t n, cap;
	size_t n_loss; /* loss items queued (room kept for them) */
	char *path, *pcap_path;
	uint64_t max_bytes, pcap_max_bytes;
	unsigned keep;
	int fd, pcap_fd;
	bool pcap_bad; /* the existing pcap file is not ours */
	struct rw_blocked_out_stats st; /* the writer's */
	uint64_t q_full[RW_BLOCKED_ORIGINS], q_pcap_lost; /* the pusher's */
};

/* path may be NULL (no JSON file: everything counts as written nowhere),
 * pcap_path NULL: no pcap. cap: items queued at most. */
int rw_blocked_out_start(struct rw_blocked_out *o, const char *path, const char *pcap_path,
			 uint64_t max_bytes, uint64_t pcap_max_bytes, unsigned keep, size_t cap);
/* Drains what is queued, then stops the thread and closes the files. */
void rw_blocked_out_stop(struct rw_blocked_out *o);

/* Queue an item (taken over, freed by the writer). When full, the item is
 * freed and its weight counted in queue_full; false then. Loss items get
 * a small reserve beyond cap. */
bool rw_blocked_out_push(struct rw_blocked_out *o, struct rw_blocked_item *it);
void rw_blocked_out_rotate(struct rw_blocked_out *o);
void rw_blocked_out_stats(struct rw_blocked_out *o, struct rw_blocked_out_stats *st);
/* true when no item is queued (tests, shutdown) */
bool rw_blocked_out_idle(struct rw_blocked_out *o);

void rw_blocked_item_free(struct rw_blocked_item *it);

/* The 24-byte pcap file header for LINKTYPE_NFLOG (239), snaplen 65535. */
void rw_blocked_pcap_header(uint8_t out[24]);

#endif
