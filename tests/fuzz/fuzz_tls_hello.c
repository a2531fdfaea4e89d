/* libFuzzer harness for the ClientHello parser.
 *
 * Input: byte 0 picks how the rest is cut into feeds (and whether tight
 * limits apply); bytes 1.. are the client's stream. Invariants checked:
 *  - the segmented feed gives exactly the answer of the whole feed
 *    (result, refusal, bytes consumed, every extracted field);
 *  - an OK hello is internally consistent: lower-case valid SNI of the
 *    stated length, 36-character JA4, the one-shot parser agrees on the
 *    raw message, and re-framing that message into 1-byte records gives
 *    the same hello. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "inspect/rw_tls_hello.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct rw_tls_hello_parser whole, seg;
static struct rw_tls_hello one;
static uint8_t reframed[RW_TLS_HELLO_BUF * 6];

#define CHECK(x) do { if (!(x)) abort(); } while (0)

static void same_hello(const struct rw_tls_hello *a, const struct rw_tls_hello *b)
{
	CHECK(a->sni_len == b->sni_len && strcmp(a->sni, b->sni) == 0);
	CHECK(a->n_alpn == b->n_alpn && a->n_alpn_total == b->n_alpn_total);
	for (size_t i = 0; i < a->n_alpn; i++)
		CHECK(a->alpn_len[i] == b->alpn_len[i] &&
		      memcmp(a->alpn[i], b->alpn[i], a->alpn_len[i]) == 0);
	CHECK(a->n_versions == b->n_versions && a->version == b->version);
	CHECK(memcmp(a->versions, b->versions, a->n_versions * sizeof(uint16_t)) == 0);
	CHECK(a->ech == b->ech && a->esni == b->esni);
	CHECK(a->n_ciphers == b->n_ciphers && a->n_extensions == b->n_extensions);
	CHECK(strcmp(a->ja4, b->ja4) == 0);
}

/* Chunk length for feed number i under pattern p. */
static size_t chunk(uint8_t p, size_t i)
{
	switch (p & 3) {
	case 0: return 1;
	case 1: return (size_t)(p >> 2) + 1;
	case 2: return (size_t)((i * 7 + (p >> 2)) % 13) + 1;
	default: return i % 2 ? 1 : 1500; /* MTU-sized segments then a byte */
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct rw_tls_hello_limits lim, *limp = NULL;
	enum rw_inspect_result r1, r2 = RW_INSPECT_MORE;

	if (size < 1)
		return 0;
	uint8_t pat = data[0];
	data++;
	size--;
	if (pat & 0x80) {
		rw_tls_hello_limits_default(&lim);
		lim.max_records = 3;
		lim.max_hello = 512;
		limp = &lim;
	}

	CHECK(rw_tls_hello_init(&whole, limp) == 0);
	r1 = rw_tls_hello_feed(&whole, data, size);

	CHECK(rw_tls_hello_init(&seg, limp) == 0);
	for (size_t off = 0, i = 0; off < size && r2 == RW_INSPECT_MORE; i++) {
		size_t n = chunk(pat & 0x7f, i);
		if (n > size - off)
			n = size - off;
		r2 = rw_tls_hello_feed(&seg, data + off, n);
		off += n;
	}
	CHECK(r1 == r2 && whole.refuse == seg.refuse && whole.consumed == seg.consumed);
	if (r2 != RW_INSPECT_MORE) /* decisions are sticky */
		CHECK(rw_tls_hello_feed(&seg, data, size) == r2);
	CHECK((r1 == RW_INSPECT_REFUSE) == (whole.refuse != RW_TLS_REFUSE_NONE));
	if (r1 != RW_INSPECT_OK)
		return 0;

	const struct rw_tls_hello *h = &whole.hello;
	same_hello(h, &seg.hello);
	CHECK(strlen(h->sni) == h->sni_len && h->sni_len <= RW_TLS_SNI_MAX);
	for (size_t i = 0; i < h->sni_len; i++)
		CHECK(h->sni[i] < 'A' || h->sni[i] > 'Z');
	CHECK(strlen(h->ja4) == RW_TLS_JA4_LEN);
	CHECK(whole.consumed <= size);

	size_t mlen;
	const uint8_t *msg = rw_tls_hello_raw(&whole, &mlen);
	CHECK(msg && mlen == h->hello_len);
	CHECK(rw_tls_hello_parse(msg, mlen, &one) == RW_TLS_REFUSE_NONE);
	same_hello(h, &one);

	/* the same message in 1-byte records */
	size_t at = 0;
	for (size_t i = 0; i < mlen; i++) {
		reframed[at++] = 0x16;
		reframed[at++] = 0x03;
		reframed[at++] = 0x03;
		reframed[at++] = 0x00;
		reframed[at++] = 0x01;
		reframed[at++] = msg[i];
	}
	rw_tls_hello_limits_default(&lim);
	lim.max_records = RW_TLS_HELLO_MAX_RECORDS_CAP;
	if (limp)
		lim.max_hello = limp->max_hello;
	CHECK(rw_tls_hello_init(&seg, &lim) == 0);
	CHECK(rw_tls_hello_feed(&seg, reframed, at) == RW_INSPECT_OK);
	same_hello(h, &seg.hello);
	return 0;
}
