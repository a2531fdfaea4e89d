/* libFuzzer harness: rw_nflog_decode on arbitrary bytes (one DLT_NFLOG
 * record). Seeds: tests/fuzz/corpus/nflog/ (real records captured by
 * scripts/capture-nflog.sh). Besides the sanitizers, checks invariants the
 * callers rely on; a violation aborts. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <stdio.h>

#include "inspect/rw_nflog.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(x)                                                                   \
	do {                                                                       \
		if (!(x)) {                                                        \
			fprintf(stderr, "invariant failed: %s (line %d)\n", #x, __LINE__); \
			abort();                                                   \
		}                                                                  \
	} while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct rw_nflog_pkt p, q;
	enum rw_inspect_result r = rw_nflog_decode(data, size, &p);
	CHECK(r == RW_INSPECT_OK || r == RW_INSPECT_REFUSE);
	/* deterministic, and no hidden state between calls */
	CHECK(rw_nflog_decode(data, size, &q) == r);
	CHECK(memcmp(&p, &q, sizeof(p)) == 0);

	if (r == RW_INSPECT_REFUSE) {
		CHECK(p.err < 0 && p.why != NULL);
		return 0;
	}
	CHECK(size >= 4);
	CHECK(p.err == 0 && p.why == NULL);
	if (p.payload_len > 0)
		CHECK(p.payload >= data && p.payload_len <= size &&
		      (size_t)(p.payload - data) <= size - p.payload_len);
	CHECK(memchr(p.prefix, '\0', sizeof(p.prefix)) != NULL);
	CHECK(p.has_prefix || p.prefix[0] == '\0');
	CHECK(p.l4 <= RW_NFLOG_L4_MALFORMED);
	if (p.ip_version == 0) {
		CHECK(p.l4 == RW_NFLOG_L4_NONE && !p.has_ports && !p.has_icmp);
	} else {
		CHECK(p.ip_version == 4 || p.ip_version == 6);
		CHECK(p.payload_len >= (p.ip_version == 4 ? 20u : 40u));
		CHECK(p.l3_truncated == (p.payload_len < p.ip_len));
	}
	if (p.has_ports)
		CHECK(p.proto == 6 || p.proto == 17);
	if (p.has_icmp)
		CHECK(p.proto == 1 || p.proto == 58);
	if (p.l4 == RW_NFLOG_L4_FRAGMENT)
		CHECK(p.is_fragment && p.frag_offset != 0 && !p.has_ports && !p.has_icmp);
	if (p.l4 == RW_NFLOG_L4_TRUNCATED)
		CHECK(p.l3_truncated);
	if (p.l4 == RW_NFLOG_L4_OK)
		CHECK(p.has_ports || p.has_icmp);

	char l[64], rs[RW_NFLOG_PREFIX_MAX];
	if (rw_nflog_prefix_split(p.prefix, l, sizeof(l), rs, sizeof(rs)) == 0) {
		char again[3 * RW_NFLOG_PREFIX_MAX];
		snprintf(again, sizeof(again), "regwall %s %s", l, rs);
		CHECK(strcmp(again, p.prefix) == 0);
	}
	return 0;
}
