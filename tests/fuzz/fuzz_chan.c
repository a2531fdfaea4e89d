/* A packet on a worker's channel, as the parent receives it (rw_chan):
 * any bytes give a verdict without a crash; an accepted message has a
 * known type, its exact length, and a body inside the packet. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fwd/rw_chan.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct rw_chan_hdr h;
	const uint8_t *body = NULL;
	if (rw_chan_parse(data, size, &h, &body) != 0)
		return 0;
	if (h.len != size - sizeof(h) || body != data + sizeof(h) || h.len > RW_CHAN_BODY_MAX)
		abort();
	if (h.type == RW_CHAN_EVENT && (body[0] != '{' || memchr(body, '\n', h.len)))
		abort();
	if (h.type == RW_CHAN_STATS && h.len != sizeof(struct rw_chan_stats))
		abort();
	return 0;
}
