/* The descriptor limit the data path needs. systemd starts services with
 * a soft RLIMIT_NOFILE of 1024; with the default max_connections (4096 per
 * worker) a worker then stops accepting at about a thousand connections
 * and sheds the rest as overload, legitimate clients included. */
#ifndef RW_RLIMIT_H
#define RW_RLIMIT_H

#include <stdint.h>
#include <sys/resource.h>

#include "base/rw_err.h"
#include "rules/rw_policy.h"

/* Descriptors per connection at worst: client, upstream, and a splice
 * pipe (two fds) each way for passthrough. */
#define RW_RLIMIT_PER_CONN 6
/* Per connection without any pipe (terminate; passthrough between
 * bursts): the least that still serves max_connections. */
#define RW_RLIMIT_PER_CONN_MIN 2
/* stdio, stop socket, event pipe, epoll, timers, OpenSSL, the listeners */
#define RW_RLIMIT_BASE 64

/* What one worker of policy p needs: full (every connection splicing both
 * ways) and min (every connection, no pipes). */
void rw_rlimit_need(const struct rw_policy *p, rlim_t *full, rlim_t *min);

/* Raise the soft RLIMIT_NOFILE to what p needs, up to the hard limit
 * (workers forked afterwards inherit it). Refuses (RW_ERANGE, an error
 * in diag with the numbers) when even the minimum is above the hard
 * limit; warns when only the full need is. 0 otherwise. */
int rw_rlimit_fit(const struct rw_policy *p, struct rw_diag *diag);

#endif
