/* The packed policy a worker receives from its parent (rw_policy_pack.h):
 * untrusted bytes, since a compromised or buggy sender must not crash the
 * worker. Any input gives a verdict without a crash or a leak; a refusal
 * leaves the policy zeroed and says why; an accepted input is canonical,
 * so packing the policy again gives the input back byte for byte. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "rules/rw_policy_pack.h"

#define CHECK(x) do { if (!(x)) abort(); } while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const struct rw_policy zero;
	struct rw_policy p;
	struct rw_diag d;
	rw_diag_init(&d);
	int r = rw_policy_unpack(data, size, &p, &d);
	if (r) {
		CHECK(r < 0 && r > RW_ERR_MAX_);
		CHECK(memcmp(&p, &zero, sizeof(p)) == 0);
		CHECK(d.n_err == 1 && d.n == 1); /* one reason, the first */
		return 0;
	}
	CHECK(d.n_err == 0);
	uint8_t *again;
	size_t len;
	CHECK(rw_policy_pack(&p, &again, &len) == 0);
	CHECK(len == size && memcmp(again, data, size) == 0);
	free(again);
	/* what the data path relies on, checked again from the outside */
	for (size_t i = 0; i < p.n_listeners; i++)
		for (size_t k = 0; k < p.listeners[i].n_allow_nets; k++)
			CHECK(p.listeners[i].allow_nets[k] < p.n_networks);
	for (size_t i = 0; i < p.registry.n_server_names; i++)
		CHECK(p.registry.server_names[i] != NULL);
	rw_policy_free(&p);
	return 0;
}
