/* regwallctl log reads the blocked log: a file anyone with write access to
 * it, or a disk that filled up mid-line, may have mangled. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "appliance/rw_blocked_read.h"
#include "base/rw_err.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static FILE *sink;
	if (!sink)
		sink = fopen("/dev/null", "w");
	struct rw_blocked_rec r;
	int rc = rw_blocked_read_line((const char *)data, size, &r);
	if (rc == 0) {
		if (!r.obj || !r.kind[0])
			abort();
		struct rw_blocked_filter f = { .since_ms = 1, .reason = "not_allowed" };
		rw_cidr_parse("203.0.113.0/24", &f.src, 0);
		f.has_src = true;
		(void)rw_blocked_filter_match(&f, &r);
		if (sink)
			rw_blocked_print(sink, &r);
		rw_blocked_rec_clear(&r);
	} else if (rc != RW_EPROTO && rc != RW_ETOOBIG) {
		abort();
	} else if (r.obj) {
		abort(); /* a refusal owns nothing */
	}
	return 0;
}
