/* regwallctl explain: what a connection (and a request) from a source
 * would meet at each layer, decided by the code that decides it for real:
 * the admission model of the current policy (rules/rw_admit.h, with the
 * kernel's ban sets read now), the workers' second line and the decision
 * of terminate mode (fwd/rw_decide.h), the SNI check (fwd/rw_pass.h,
 * rw_names) and the certificate identity (rules/rw_ident.h).
 * docs/design/control.md, "explain". */
#ifndef RW_DAEMON_EXPLAIN_H
#define RW_DAEMON_EXPLAIN_H

#include <jansson.h>

#include "appliance/rw_ctl.h"

struct rw_daemon;

/* The reply of "explain": {"ok":true,"verdict","decided_by","layers":[...]}
 * or {"ok":false,"error"}. */
json_t *rw_daemon_explain(struct rw_daemon *d, const struct rw_ctl_req *req);

#endif
