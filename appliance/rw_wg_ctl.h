/* The members of the peer commands on the control socket ("peer",
 * "roles", "public_key"): untrusted bytes from local clients, checked into
 * struct rw_ctl_peer before regwalld acts (called by rw_ctl_proto.c). */
#ifndef RW_WG_CTL_H
#define RW_WG_CTL_H

#include <jansson.h>
#include <stddef.h>

#include "appliance/rw_ctl.h"

/* 1: key taken, 0: not a member of this command (peer del takes "peer"
 * only), RW_EINVAL with err filled. */
int rw_wg_ctl_member(int is_add, const char *key, json_t *val, struct rw_ctl_peer *p, char *err,
		     size_t errlen);
/* After all members: what the command needs is there (add: a name and
 * roles; del: a name). 0 or RW_EINVAL with err. */
int rw_wg_ctl_check(int is_add, const struct rw_ctl_peer *p, char *err, size_t errlen);

#endif
