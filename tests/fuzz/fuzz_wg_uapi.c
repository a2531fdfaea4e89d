/* A get or set reply from wireguard-go's control socket: bytes another
 * process wrote (a stale socket, a different daemon version, a
 * compromised userspace WireGuard). Parsed as a get and as a set reply;
 * what a successful parse returns must hold its bounds. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "appliance/rw_wg_uapi.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct rw_wg_device d;
	int e;
	char why[200];
	why[0] = '\0';
	if (rw_wg_uapi_parse((const char *)data, size, &d, &e, why, sizeof(why)) == 0) {
		if (d.n_peers > RW_WG_MAX_PEERS || e < 0 || e > 4095 || d.has_private_key)
			abort();
		for (size_t i = 0; i < d.n_peers; i++)
			if (d.peers[i].n_allowed > RW_WG_MAX_ALLOWED ||
			    d.peers[i].last_handshake_nsec > 999999999)
				abort();
		rw_wg_device_free(&d);
	} else if (why[0] == '\0' || d.peers) {
		abort(); /* every refusal says why and leaves nothing allocated */
	}
	why[0] = '\0';
	if (rw_wg_uapi_parse((const char *)data, size, NULL, &e, why, sizeof(why)) != 0 &&
	    why[0] == '\0')
		abort();
	return 0;
}
