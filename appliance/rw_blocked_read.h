/* Reading the blocked log back (regwallctl log): one line of the file, an
 * untrusted input (anyone who can write the file, a full disk that cut a
 * line), parsed with jansson and checked field by field, then matched
 * against the admin's filter and printed with every byte a terminal could
 * act on escaped. */
#ifndef RW_BLOCKED_READ_H
#define RW_BLOCKED_READ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <jansson.h>

#include "rules/rw_cidr.h"

#define RW_BLOCKED_LINE_MAX 65536 /* longer lines are skipped */

struct rw_blocked_rec {
	uint64_t time_ms;
	char kind[16];   /* drop | refuse | summary | loss */
	char of[16];     /* summary / loss: drop | refuse */
	char reason[64];
	bool has_src;
	uint8_t family;
	uint8_t src[16];
	json_t *obj; /* the parsed line (owned; rw_blocked_rec_clear) */
};

struct rw_blocked_filter {
	uint64_t since_ms;  /* 0 = all */
	const char *reason; /* NULL = all; matches reason */
	bool has_src;
	struct rw_cidr src; /* lines without a source never match */
};

/* Parse one line (without its '\n'). 0 and out filled, or RW_EPROTO
 * (not JSON, not an object, a field of the wrong type or out of range,
 * an unknown kind), RW_ETOOBIG (over RW_BLOCKED_LINE_MAX). */
int rw_blocked_read_line(const char *line, size_t len, struct rw_blocked_rec *out);
void rw_blocked_rec_clear(struct rw_blocked_rec *r);
bool rw_blocked_filter_match(const struct rw_blocked_filter *f, const struct rw_blocked_rec *r);

/* One readable line for a terminal: time, kind, reason, listener, src ->
 * dst, then the other fields as key=value; control and non-ASCII bytes as
 * \xNN. */
void rw_blocked_print(FILE *out, const struct rw_blocked_rec *r);

#endif
