/* A metrics scrape request is untrusted bytes from the network (only
 * from metrics.allow addresses, but still). rw_metrics_http_parse must
 * never read past the input, and what it decides must be consistent. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "appliance/rw_metrics_http.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* an exact-size copy, so ASan sees any read past the end */
	char *buf = malloc(size ? size : 1);
	if (!buf)
		return 0;
	memcpy(buf, data, size);
	struct rw_metrics_http_req req;
	int r = rw_metrics_http_parse(buf, size, &req);
	if (r == RW_EINCOMPLETE) {
		if (size >= RW_METRICS_HTTP_REQ_MAX)
			abort(); /* past the limit there is always an answer */
	} else if (r == 0) {
		switch (req.status) {
		case 200: case 400: case 404: case 405: case 431: case 505:
			break;
		default:
			abort();
		}
		if (req.head_len > size || req.head_len > RW_METRICS_HTTP_REQ_MAX)
			abort();
		if (req.status == 200 && (size < 13 || memcmp(buf, "GET /metrics", 12) != 0))
			abort();
		char *out;
		size_t n;
		if (rw_metrics_http_answer(req.status, NULL, &out, &n) == 0) {
			if (n < 12 || memcmp(out, "HTTP/1.1 ", 9) != 0)
				abort();
			free(out);
		}
	} else {
		abort();
	}
	free(buf);
	return 0;
}
