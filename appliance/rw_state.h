/* Live changes on disk, so a restart does not undo what an admin did with
 * regwallctl (the config file stays the admin's own text: regwall never
 * rewrites it).
 *
 * Format (JSON, written whole to a temporary file, fsync'd and renamed over
 * the old one, so a crash leaves the old or the new list, never half):
 *   {"version":1,"changes":[{"op":"add","network":"office","cidr":"203.0.113.7/32"},...]}
 * A missing file means no changes. A file that cannot be read or parsed is
 * an error, not "no changes": silently dropping a live deletion would
 * re-open what the admin closed. */
#ifndef RW_STATE_H
#define RW_STATE_H

#include <stddef.h>

#include "inspect/rw_err.h"
#include "rules/rw_policy.h"

/* A live change made through the control socket. */
struct rw_live_change {
	int add; /* 1 add, 0 delete */
	char network[RW_NAME_MAX];
	struct rw_cidr cidr;
};

#define RW_STATE_MAX_CHANGES 1000000

int rw_state_save(const char *path, const struct rw_live_change *v, size_t n,
		  struct rw_diag *diag);
/* *v is malloc'd (NULL when n is 0); the caller frees it. */
int rw_state_load(const char *path, struct rw_live_change **v, size_t *n, struct rw_diag *diag);

#endif
