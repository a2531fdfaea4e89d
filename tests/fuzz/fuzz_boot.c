/* A worker's boot bundle as the worker reads it (fwd/rw_boot.h): any bytes
 * give a verdict without a crash or a leak; an accepted bundle packs back
 * to the same bytes (one canonical form: nothing the worker read was
 * ignored), and its bans are sorted, disjoint sets. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fwd/rw_boot.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct rw_boot b;
	char err[256];
	if (rw_boot_unpack(data, size, &b, err, sizeof(err)) != 0)
		return 0;
	uint8_t *again;
	size_t n;
	if (rw_boot_pack(&b, &again, &n) != 0)
		abort();
	if (n != size || memcmp(again, data, n) != 0)
		abort();
	/* the bans a worker checks are two views: sorted, disjoint */
	if (rw_cidrset_check(b.bans.host.set.v, b.bans.host.set.n, NULL) ||
	    rw_cidrset_check(b.bans.pfx.set.v, b.bans.pfx.set.n, NULL))
		abort();
	free(again);
	rw_boot_free(&b);
	return 0;
}
