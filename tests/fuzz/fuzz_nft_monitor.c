/* nftables event messages as the monitor receives them: bytes from the
 * kernel, parsed in the process that keeps the firewall up. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "rules/rw_nft_monitor.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* the monitor's buffer is 4-aligned like a recv buffer */
	uint32_t *buf = malloc(size ? (size + 3) / 4 * 4 : 4);
	if (!buf)
		return 0;
	memcpy(buf, data, size);
	struct rw_nft_mon_report rep;
	memset(&rep, 0, sizeof(rep));
	rw_nft_mon_parse(buf, size, 4242, &rep);
	if (strlen(rep.what) >= sizeof(rep.what) || strlen(rep.who) >= sizeof(rep.who))
		abort();
	free(buf);
	return 0;
}
