/* A packet on a channel, as the parent or a worker receives it (rw_chan):
 * any bytes give a verdict without a crash; an accepted message has a
 * known type, its exact length, and a body inside the packet; an accepted
 * ban is one a worker can hold (rw_bans_cidr_ok), with an expiry exactly
 * when it is an addition. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fwd/rw_bans.h"
#include "fwd/rw_chan.h"

static void check_ban(uint16_t type, const uint8_t *body, uint32_t len)
{
	struct rw_chan_ban m;
	if (len != sizeof(m))
		abort();
	memcpy(&m, body, sizeof(m));
	struct rw_cidr c = { .family = m.family, .prefix = m.prefix };
	memcpy(c.addr, m.addr, sizeof(c.addr));
	if (!rw_bans_cidr_ok(&c) || (type == RW_CHAN_BAN_ADD) != (m.expires_ms != 0))
		abort();
	for (size_t i = 0; i < sizeof(m.zero); i++)
		if (m.zero[i])
			abort();
	/* what the worker then does with it cannot fail but for memory */
	struct rw_bans b = RW_BANS_INIT;
	if (type == RW_CHAN_BAN_ADD && rw_bans_add(&b, &c, m.expires_ms) != 0)
		abort();
	rw_bans_free(&b);
}

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
	if (h.type == RW_CHAN_BAN_ADD || h.type == RW_CHAN_BAN_DEL)
		check_ban(h.type, body, h.len);
	return 0;
}
