/* Worker event lines are untrusted for the parent (a worker may be
 * compromised). Whatever they say, the metrics keep bounded label sets:
 * labels come only from the config's listener names and the fixed token
 * lists, so the exposition cannot grow with the input. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "appliance/rw_metrics.h"
#include "base/rw_err.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct rw_metrics m;
static size_t bound;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (!m.reason) {
		if (rw_metrics_init(&m))
			abort();
		const char *names[] = { "https", "term" };
		rw_metrics_listeners(&m, names, 2);
		/* every series there can be, each with a 20-digit value */
		bound = 4096 + (size_t)RW_METRICS_ROWS *
				       (m.n_reason + m.n_op * RW_METRICS_DEC_MAX_ + 8) * 200;
	}
	char *buf = malloc(size ? size : 1);
	if (!buf)
		return 0;
	memcpy(buf, data, size);
	int r = rw_metrics_event(&m, buf, size);
	if (r != 0 && r != RW_EINVAL)
		abort();
	free(buf);
	if (m.events % 64 == 0) {
		struct rw_metrics_out o = { 0 };
		rw_metrics_write(&m, &o);
		if (!o.oom && (o.len > bound || strlen(o.p) != o.len))
			abort();
		rw_metrics_out_free(&o);
	}
	return 0;
}
