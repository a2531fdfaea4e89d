/* Human units shared by the config file and the control socket:
 * durations ("500ms", "30s", "10m", "1h", "2d"; a bare integer means
 * seconds) and rates ("20/second", "100/minute", "5/hour").
 * Implemented in rw_config_parse.c with the loader's other value parsers. */
#ifndef RW_UNITS_H
#define RW_UNITS_H

#include <stdint.h>

#include "rules/rw_policy.h"

/* Returns 0, RW_EINVAL (syntax) or RW_ERANGE (overflow; a zero rate).
 * A zero duration parses; callers that need a positive one check. */
int rw_duration_parse_ms(const char *text, uint64_t *ms);
int rw_rate_parse(const char *text, struct rw_rate *rate);

#endif
