/* Fit RLIMIT_NOFILE to the policy's connection limits (rw_rlimit.h). */
#include "appliance/rw_rlimit.h"

#include <errno.h>
#include <string.h>

void rw_rlimit_need(const struct rw_policy *p, rlim_t *full, rlim_t *min)
{
	rlim_t conns = p->limits.max_connections;
	rlim_t base = RW_RLIMIT_BASE + (rlim_t)p->n_listeners;
	*full = base + conns * RW_RLIMIT_PER_CONN;
	*min = base + conns * RW_RLIMIT_PER_CONN_MIN;
}

int rw_rlimit_fit(const struct rw_policy *p, struct rw_diag *diag)
{
	rlim_t full, min;
	rw_rlimit_need(p, &full, &min);
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl)) {
		rw_diag_err(diag, NULL, 0, "getrlimit(RLIMIT_NOFILE): %s", strerror(errno));
		return RW_EIO;
	}
	rlim_t want = full;
	if (rl.rlim_max != RLIM_INFINITY && want > rl.rlim_max)
		want = rl.rlim_max;
	if (rl.rlim_cur == RLIM_INFINITY || rl.rlim_cur >= want)
		goto check; /* never lowered: an admin's higher limit stays */
	struct rlimit nl = { .rlim_cur = want, .rlim_max = rl.rlim_max };
	if (setrlimit(RLIMIT_NOFILE, &nl)) {
		rw_diag_err(diag, NULL, 0, "cannot raise the open-file limit from %llu to %llu: %s",
			    (unsigned long long)rl.rlim_cur, (unsigned long long)want,
			    strerror(errno));
		return RW_EIO;
	}
	rl.rlim_cur = want;
check:
	if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < min) {
		rw_diag_err(diag, p->source_file, 0,
			    "limits.max_connections = %u needs at least %llu open files per worker "
			    "(%d per connection + %d), but the hard limit is %llu: raise LimitNOFILE "
			    "(systemd) or ulimit -Hn, or lower max_connections",
			    p->limits.max_connections, (unsigned long long)min,
			    RW_RLIMIT_PER_CONN_MIN, RW_RLIMIT_BASE, (unsigned long long)rl.rlim_cur);
		return RW_ERANGE;
	}
	if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < full)
		rw_diag_warn(diag, p->source_file, 0,
			     "open-file limit %llu is below the %llu that max_connections = %u needs "
			     "when every connection splices (%d per connection + %d): passthrough "
			     "connections past about %llu per worker may be shed",
			     (unsigned long long)rl.rlim_cur, (unsigned long long)full,
			     p->limits.max_connections, RW_RLIMIT_PER_CONN, RW_RLIMIT_BASE,
			     (unsigned long long)((rl.rlim_cur - RW_RLIMIT_BASE) / RW_RLIMIT_PER_CONN));
	return 0;
}
