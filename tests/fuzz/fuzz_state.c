/* The live-change state file is read at every start: bytes on disk that a
 * crash, a full disk or a careless edit may have mangled. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "appliance/rw_state.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char path[64];
	if (!path[0])
		snprintf(path, sizeof(path), "/tmp/rw-fuzz-state.%d.json", (int)getpid());
	FILE *f = fopen(path, "wb");
	if (!f)
		return 0;
	fwrite(data, 1, size, f);
	fclose(f);
	struct rw_live_change *v;
	size_t n;
	struct rw_diag d;
	rw_diag_init(&d);
	if (rw_state_load(path, &v, &n, &d) == 0) {
		for (size_t i = 0; i < n; i++)
			if (v[i].network[0] == '\0' || (v[i].add != 0 && v[i].add != 1))
				abort();
		free(v);
	} else if (d.n_err == 0) {
		abort(); /* every refusal says why */
	}
	return 0;
}
