/* The blocked log's two untrusted inputs in the parent: a worker's event
 * line (a compromised worker writes what it likes) and an NFLOG record.
 * The first byte picks which; the rest is the input. The writer goes to
 * /dev/null (not a regular file: every line counts as a write error), so
 * the run writes nothing. After each input the accounting must hold:
 * every record and valid refusal reached the flood control. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "appliance/rw_blocked.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct rw_blocked b;
	static struct rw_listener l;
	static int ready;
	if (!ready) {
		struct rw_policy p;
		memset(&p, 0, sizeof(p));
		p.log.nflog_group = 7;
		p.log.blocked = (char *)"/dev/null";
		p.log.blocked_burst = 2;
		p.log.blocked_interval_ms = 1000;
		p.log.blocked_sources = 16;
		p.log.blocked_max_lines = 100;
		p.log.blocked_keep = 1;
		strcpy(l.name, "https");
		l.listen.family = 2;
		l.listen.port = 443;
		p.listeners = &l;
		p.n_listeners = 1;
		struct rw_diag d;
		rw_diag_init(&d);
		if (rw_blocked_open_nocap(&b, &p, &d))
			abort();
		ready = 1;
	}
	if (size < 1)
		return 0;
	static uint64_t now = 1796380000000ull;
	now += 7;
	if (data[0] & 1)
		rw_blocked_on_event(&b, (const char *)data + 1, size - 1, now);
	else
		rw_blocked_on_nflog(&b, data + 1, size - 1, now);
	if (data[0] & 2)
		rw_blocked_tick(&b, now + 1000, false);
	/* every record and every valid refusal is an attempt the flood
	 * control saw (a line, a summary's count, or a loss) */
	if (b.attempts[0] != b.records || b.attempts[1] != b.refusals)
		abort();
	return 0;
}
