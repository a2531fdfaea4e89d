/* Inside the blocked log: one attempt as both origins describe it, the
 * flood decision and the line writer (rw_blocked.c), used by the two
 * front ends (rw_blocked_ev.c: NFLOG records, worker refusals). */
#ifndef RW_BLOCKED_INT_H
#define RW_BLOCKED_INT_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "appliance/rw_blocked.h"
#include "fwd/rw_event.h"

struct rw_blocked_att {
	uint8_t origin;
	uint64_t time_ms, time_us;
	const char *reason;
	char listener[RW_NAME_MAX];
	uint8_t family, dst_family; /* 0 = unknown */
	uint8_t src[16], dst[16];
	bool has_ports, has_dport;
	uint16_t sport, dport;
	const char *proto;
	char in_if[16], out_if[16];
	char tcp_flags[12];
	char prefix_esc[RW_EVENT_STR_MAX];
	const char *error;
	json_t *extra; /* refusals: identity, sni, ... (borrowed) */
};

bool rw_blocked_admit(struct rw_blocked *b, const struct rw_blocked_att *a, uint64_t now_ms);
void rw_blocked_emit(struct rw_blocked *b, const struct rw_blocked_att *a, const uint8_t *rec,
		     size_t rec_len);
/* By name (name != NULL), else by destination address and port. */
const struct rw_blocked_lsn *rw_blocked_find_lsn(const struct rw_blocked *b, const char *name,
						 uint8_t family, const uint8_t *dst,
						 uint16_t dport);

#endif
