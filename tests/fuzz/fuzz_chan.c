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

/* What the parent relies on when it splits an EVENT body: every line
 * starts with '{', is at least 2 bytes, ends in '\n', and holds no NUL. */
static void check_events(const uint8_t *b, size_t len)
{
	if (len == 0 || b[len - 1] != '\n' || memchr(b, '\0', len))
		abort();
	for (size_t at = 0; at < len;) {
		const uint8_t *nl = memchr(b + at, '\n', len - at);
		if (!nl || nl - (b + at) < 2 || b[at] != '{')
			abort();
		at = (size_t)(nl - b) + 1;
	}
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
	if (h.type == RW_CHAN_EVENT)
		check_events(body, h.len);
	if (h.type == RW_CHAN_STATS && h.len != sizeof(struct rw_chan_stats))
		abort();
	if (h.type == RW_CHAN_BAN_ADD || h.type == RW_CHAN_BAN_DEL)
		check_ban(h.type, body, h.len);
	return 0;
}
