/* Control-socket requests are untrusted bytes from local users. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "appliance/rw_ctl.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct rw_ctl_req req;
	char err[256];
	if (size >= RW_CTL_LINE_MAX)
		return 0;
	int r = rw_ctl_parse_request((const char *)data, size, &req, err, sizeof(err));
	if (r == 0) {
		/* invariants of an accepted request */
		if (req.n_cidrs > RW_CTL_MAX_CIDRS)
			abort();
		if (memchr(req.network, '\0', sizeof(req.network)) == NULL)
			abort();
		const struct rw_ctl_explain *ex = &req.ex;
		if (!memchr(ex->listener, '\0', sizeof(ex->listener)) ||
		    !memchr(ex->iif, '\0', sizeof(ex->iif)) || !memchr(ex->sni, '\0', sizeof(ex->sni)) ||
		    !memchr(ex->cert_subject, '\0', sizeof(ex->cert_subject)) ||
		    !memchr(ex->method, '\0', sizeof(ex->method)) ||
		    !memchr(ex->path, '\0', sizeof(ex->path)))
			abort();
		if (req.cmd == RW_CTL_EXPLAIN && (!ex->listener[0] || req.n_cidrs != 1 ||
						  !ex->method[0] != !ex->path[0]))
			abort();
		for (size_t i = 0; i < req.n_cidrs; i++)
			if (req.cidrs[i].prefix > (req.cidrs[i].family == 2 ? 32 : 128))
				abort();
	} else if (memchr(err, '\0', sizeof(err)) == NULL) {
		abort();
	}
	return 0;
}
