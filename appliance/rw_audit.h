/* The push audit chain's writer (log.audit): runs in regwalld's parent
 * only, the one writer of the file. Workers report pushes, deletes and
 * refused write requests as events (fwd/rw_event.h); the parent parses
 * each one as untrusted input (rw_audit_event.c), stamps the worker's pid
 * and generation itself, and appends one chained line; every
 * checkpoint_lines lines or checkpoint_seconds after the first line not
 * yet sealed, a signed checkpoint (Ed25519, key in log.audit_key).
 * Format and rules: rw_audit_verify.h and docs/design/audit.md.
 *
 * Durability: each line is one write(2) on an O_APPEND descriptor at
 * once (a crash of regwalld loses nothing the kernel took); fdatasync
 * runs once per event-loop turn for every line that turn wrote (group
 * commit: a burst of refused pushes costs one sync, not one per line),
 * and at every checkpoint, rotation and close. */
#ifndef RW_AUDIT_H
#define RW_AUDIT_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "appliance/rw_audit_verify.h"
#include "appliance/rw_evline.h"
#include "base/rw_err.h"
#include "base/rw_loop.h"
#include "rules/rw_policy.h"

#define RW_AUDIT_DEFAULT_KEY "/var/lib/regwall/audit.key"
#define RW_AUDIT_DEFAULT_CP_LINES 100u
#define RW_AUDIT_DEFAULT_CP_SECONDS 60u

struct rw_audit_cfg {
	const char *path;      /* log.audit */
	const char *key_path;  /* log.audit_key (NULL: RW_AUDIT_DEFAULT_KEY) */
	uint32_t cp_lines;     /* log.audit_checkpoint_lines (0: default) */
	uint32_t cp_seconds;   /* log.audit_checkpoint_seconds (0: default) */
};

struct evp_pkey_st;

struct rw_audit {
	char *path, *key_path;
	int fd;
	struct evp_pkey_st *key;
	uint8_t pub[32];
	char key_fp[RW_AUDIT_HEX];
	uint32_t cp_lines, cp_seconds;
	/* the chain head: seq and hash of the last line in the file */
	uint64_t seq;
	char head[RW_AUDIT_HEX];
	uint64_t unsealed;        /* lines since the last checkpoint */
	uint64_t last_cp_seq;
	/* counters for status */
	uint64_t lines, checkpoints, events_invalid, events_unparsed, lost, write_errors,
		sync_errors;
	uint64_t pending_lost;    /* lines lost since the last "lost" line */
	uint64_t workers_dropped; /* the workers' drop count last recorded */
	uint64_t torn_bytes;      /* cut from the file's end at open (a torn last line) */
	char last_error[200];
	/* loop hooks (rw_audit_attach): the turn's sync, the checkpoint timer */
	struct rw_loop *loop;
	struct rw_timer sync_t, cp_t;
	bool dirty;
	/* test hook: when set, the clock for "time" fields (ms since the epoch) */
	uint64_t (*now_ms)(void);
};

/* Open (creating them if missing) the key (0600, in a directory that
 * exists) and the file, read the file's last line and continue its chain
 * (a torn last line, from a crash mid-write, is cut off and recorded in
 * the open line: bytes and their SHA-256), then write the "open" line.
 * Refuses a file whose last complete line is not an audit line, and a key
 * readable by group or others. Every problem is one diag message. */
int rw_audit_open(struct rw_audit *a, const struct rw_audit_cfg *cfg, struct rw_diag *diag);
/* The settings of a policy's log section: 0, or 1 when log.audit is unset. */
int rw_audit_cfg_from(const struct rw_log_cfg *l, struct rw_audit_cfg *cfg);
/* After a reload: new checkpoint settings apply at once; a changed file or
 * key, or log.audit set or unset, only at the next start (a warning in
 * diag says so). a may be NULL (no audit chain running). */
void rw_audit_reloaded(struct rw_audit *a, const struct rw_log_cfg *l, struct rw_diag *diag);
/* Checkpoint, sync and close (regwalld stopping). */
void rw_audit_close(struct rw_audit *a);
/* logrotate: seal the current file with a checkpoint, close it, open the
 * path again (a new file when it was renamed) and write an "open" line
 * whose prev is the old file's last line. On failure the old descriptor
 * is kept. */
int rw_audit_reopen(struct rw_audit *a, struct rw_diag *diag);
/* New checkpoint settings (a reload); path and key stay until restart. */
void rw_audit_set_interval(struct rw_audit *a, uint32_t cp_lines, uint32_t cp_seconds);

/* Run the turn's fdatasync and the checkpoint timer on loop. */
void rw_audit_attach(struct rw_audit *a, struct rw_loop *loop);
void rw_audit_detach(struct rw_audit *a);

/* One worker event line (JSON, untrusted): a push, a delete or a refused
 * write request becomes an audit line; anything else is ignored. pid and
 * generation are the parent's knowledge of which worker sent it.
 * Returns 1 written, 0 not an audit event, <0 an error (counted). */
int rw_audit_event(struct rw_audit *a, const char *line, size_t len, pid_t pid,
		   unsigned generation);
/* The same for a line whose parse the other sinks share (rw_evline.h). */
int rw_audit_event_of(struct rw_audit *a, struct rw_evline *e, pid_t pid,
		   unsigned generation);
/* The workers' count of events they could not send (channel full,
 * summed over all workers since start): each increase is a "lost" line
 * (cause worker_channel), since any of them may have been an audit event.
 * Called from the parent's tick. */
void rw_audit_workers_dropped(struct rw_audit *a, uint64_t total);
/* Write a checkpoint now (nothing when no line is unsealed unless force). */
int rw_audit_checkpoint(struct rw_audit *a, bool force);
int rw_audit_sync(struct rw_audit *a);

/* status: {"file","public_key","key_fingerprint","seq","lines",...} */
json_t *rw_audit_status_json(const struct rw_audit *a);

/* Internal, shared with rw_audit_event.c: append one line built from o
 * (seq, prev and time are set here, first). Takes a reference to o. */
int rw_audit_append(struct rw_audit *a, json_t *o);
/* Validate a worker event and build its record; NULL when it is not an
 * audit event. An audit event that fails validation gives an "invalid"
 * record naming the field. */
json_t *rw_audit_record(const char *line, size_t len, pid_t pid, unsigned generation, int *unparsed);
/* The same for a line whose parse the other sinks share. */
json_t *rw_audit_record_of(struct rw_evline *e, pid_t pid, unsigned generation, int *unparsed);

#endif
