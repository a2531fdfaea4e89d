/* A WG_CMD_GET_DEVICE dump datagram as the kernel would send it (family
 * id 0x1b here): the dump splitting, coalescing and attribute sizes are
 * the parser's to check, whatever the bytes. Fed whole, then split in
 * two at the first byte as two datagrams. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "appliance/rw_wg_nl.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct rw_wg_nl_get st;
	int kerr;
	char why[200];
	/* netlink parsing reads headers in place: give it aligned memory */
	uint8_t *buf = malloc(size ? size : 1);
	if (!buf)
		return 0;
	memcpy(buf, data, size);
	memset(&st, 0, sizeof(st));
	why[0] = '\0';
	int rc = rw_wg_nl_get_feed(&st, buf, size, 0x1b, &kerr, why, sizeof(why));
	if (rc == 0) {
		if (st.dev.n_peers > RW_WG_MAX_PEERS)
			abort();
		for (size_t i = 0; i < st.dev.n_peers; i++)
			if (st.dev.peers[i].n_allowed > RW_WG_MAX_ALLOWED ||
			    st.dev.peers[i].last_handshake_nsec > 999999999)
				abort();
	} else if (why[0] == '\0') {
		abort();
	}
	rw_wg_nl_get_free(&st);
	free(buf);
	return 0;
}
