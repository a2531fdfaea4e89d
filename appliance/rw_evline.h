/* One worker event line as the parent's sinks see it (stdout, audit
 * chain, metrics, blocked log): the bytes as received, and their JSON
 * object parsed at most once, on the first sink that asks for it.
 *
 * Before this, every sink parsed the line on its own (three jansson
 * parses per event with all sinks on). The line is untrusted (a worker
 * may be compromised): the parse rejects duplicate keys, and a line that
 * is not one JSON object gives NULL to every sink, which counts it as
 * invalid in its own way. */
#ifndef RW_EVLINE_H
#define RW_EVLINE_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

struct rw_evline {
	const char *line;
	size_t len;
	json_t *obj; /* owned; valid once parsed */
	bool parsed;
};

static inline struct rw_evline rw_evline_of(const char *line, size_t len)
{
	return (struct rw_evline){ .line = line, .len = len };
}

/* The line's JSON object (borrowed: the evline owns it), or NULL when the
 * line is not one JSON object. Parsed on the first call only. */
json_t *rw_evline_obj(struct rw_evline *e);
void rw_evline_fini(struct rw_evline *e);

#endif
