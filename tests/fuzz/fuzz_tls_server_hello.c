/* libFuzzer harness for the ServerHello parser and the later-flight record
 * prefix (inspect/rw_tls_server_hello.h).
 *
 * Input: byte 0 picks the segmentation (bits 0-1 pattern, 2-6 size) and,
 * in bit 7, whether 0-RTT records are allowed in the prefix; bytes 1.. are
 * the stream. Invariants:
 *  - the prefix: OK points at a handshake record inside the buffer, and
 *    every shorter prefix of the buffer answers MORE or the same;
 *  - the parser fed after the prefix, in pieces, answers exactly as fed
 *    whole (result, refusal, consumed, fields), and sticks to it;
 *  - an OK ServerHello: consumed within the input, msg_len within the cap,
 *    and the one-shot parser agrees on the reassembled message. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "inspect/rw_tls_server_hello.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct rw_tls_sh_parser whole, seg;

#define CHECK(x) do { if (!(x)) abort(); } while (0)

static size_t chunk(uint8_t p, size_t i)
{
	switch (p & 3) {
	case 0: return 1;
	case 1: return (size_t)((p >> 2) & 31) + 1;
	case 2: return (size_t)((i * 7 + ((p >> 2) & 31)) % 13) + 1;
	default: return i % 2 ? 1 : 1500;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	uint8_t pat = data[0];
	bool appdata = pat & 0x80;
	data++;
	size--;

	size_t skip = 0, s2;
	enum rw_tls_refuse why, w2;
	enum rw_inspect_result pr = rw_tls_flight_prefix(data, size, appdata, &skip, &why);
	if (pr == RW_INSPECT_OK)
		CHECK(skip < size && data[skip] == 22);
	if (pr == RW_INSPECT_REFUSE)
		CHECK(why != RW_TLS_REFUSE_NONE);
	/* a few shorter prefixes: never a different decision */
	for (size_t cut = 0; cut < size; cut += 1 + size / 8) {
		enum rw_inspect_result r = rw_tls_flight_prefix(data, cut, appdata, &s2, &w2);
		if (r == RW_INSPECT_OK)
			CHECK(pr == RW_INSPECT_OK && s2 == skip);
		if (r == RW_INSPECT_REFUSE)
			CHECK(pr == RW_INSPECT_REFUSE && w2 == why);
	}
	if (pr != RW_INSPECT_OK)
		skip = 0; /* the parser must also cope with what the prefix refused */

	const uint8_t *s = data + skip;
	size_t n = size - skip;
	rw_tls_sh_init(&whole);
	enum rw_inspect_result r1 = rw_tls_sh_feed(&whole, s, n), r2 = RW_INSPECT_MORE;
	rw_tls_sh_init(&seg);
	for (size_t off = 0, i = 0; off < n && r2 == RW_INSPECT_MORE; i++) {
		size_t c = chunk(pat, i);
		if (c > n - off)
			c = n - off;
		r2 = rw_tls_sh_feed(&seg, s + off, c);
		off += c;
	}
	CHECK(r1 == r2);
	CHECK(whole.refuse == seg.refuse && whole.consumed == seg.consumed);
	CHECK(memcmp(&whole.sh, &seg.sh, sizeof(whole.sh)) == 0);
	if (r1 != RW_INSPECT_MORE) /* sticky once decided */
		CHECK(rw_tls_sh_feed(&seg, s, n) == r1);
	if (r1 == RW_INSPECT_REFUSE)
		CHECK(whole.refuse != RW_TLS_REFUSE_NONE);
	if (r1 == RW_INSPECT_OK) {
		struct rw_tls_server_hello one;
		CHECK(whole.consumed <= n);
		CHECK(whole.sh.msg_len >= 4 && whole.sh.msg_len <= RW_TLS_SH_MAX);
		CHECK(rw_tls_sh_parse(whole.hs, whole.sh.msg_len, &one) == RW_TLS_REFUSE_NONE);
		CHECK(memcmp(&one, &whole.sh, sizeof(one)) == 0);
	}
	return 0;
}
