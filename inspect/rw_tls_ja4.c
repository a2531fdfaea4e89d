/* JA4 = a_b_c
 *   a: 't' | version(2) | 'd' SNI / 'i' none | ciphers(2, max 99) |
 *      extensions(2, max 99, SNI and ALPN counted) | ALPN first+last char
 *   b: sha256("c1,c2,...")[0:12]       ciphers as %04x, sorted
 *   c: sha256("e1,e2,..._s1,s2,...")[0:12]
 *      extensions sorted without SNI (0000) and ALPN (0010); then
 *      signature algorithms in wire order ("_s..." omitted when none)
 * GREASE never appears in the input lists (the parser drops it). */
#include "inspect/rw_tls_ja4.h"

#include <stdio.h>
#include <string.h>

#include <openssl/sha.h>

#include "base/rw_err.h"

/* Longest text to hash: every cipher as "xxxx," (5 bytes), or every
 * extension plus '_' plus every signature algorithm. */
#define RW_TLS_JA4_TEXT_MAX ((RW_TLS_MAX_CIPHERS > RW_TLS_MAX_EXTENSIONS + RW_TLS_MAX_SIGALGS ? \
	RW_TLS_MAX_CIPHERS : RW_TLS_MAX_EXTENSIONS + RW_TLS_MAX_SIGALGS) * 5u + 2u)

static const char rw_tls_ja4_hex[] = "0123456789abcdef";

const char *rw_tls_ja4_version(uint16_t version)
{
	switch (version) {
	case 0x0304: return "13";
	case 0x0303: return "12";
	case 0x0302: return "11";
	case 0x0301: return "10";
	case 0x0300: return "s3";
	case 0x0002: return "s2";
	case 0xfeff: return "d1";
	case 0xfefd: return "d2";
	case 0xfefc: return "d3";
	default: return "00";
	}
}

int rw_tls_ja4_hash12(const char *text, size_t len, char out[13])
{
	unsigned char md[SHA256_DIGEST_LENGTH];

	if (len == 0) {
		memcpy(out, "000000000000", 13);
		return 0;
	}
	/* OpenSSL 3's one-shot SHA256() goes through EVP_Q_digest, which
	 * fetches the algorithm and allocates a context on every call (three
	 * allocations per hash, more time than the hash itself on a short
	 * text). The low-level API hashes in a context on our stack: no heap,
	 * no global state, thread-safe. It is deprecated in favour of EVP but
	 * present in every OpenSSL 3.x; if it goes, a per-worker EVP_MD_CTX
	 * reused with EVP_DigestInit_ex2 is the replacement. */
	SHA256_CTX ctx;
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
	int ok = SHA256_Init(&ctx) && SHA256_Update(&ctx, text, len) && SHA256_Final(md, &ctx);
#pragma GCC diagnostic pop
	if (!ok)
		return RW_EINVAL;
	for (size_t i = 0; i < 6; i++) {
		out[2 * i] = rw_tls_ja4_hex[md[i] >> 4];
		out[2 * i + 1] = rw_tls_ja4_hex[md[i] & 0x0f];
	}
	out[12] = '\0';
	return 0;
}

/* Insertion sort: the lists are capped at a few hundred entries and qsort
 * may allocate. */
static void rw_tls_ja4_sort(uint16_t *v, size_t n)
{
	for (size_t i = 1; i < n; i++) {
		uint16_t x = v[i];
		size_t j = i;
		while (j > 0 && v[j - 1] > x) {
			v[j] = v[j - 1];
			j--;
		}
		v[j] = x;
	}
}

/* Appends "xxxx" entries joined by commas; the caller sized buf. */
static size_t rw_tls_ja4_join(char *buf, size_t at, const uint16_t *v, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (i)
			buf[at++] = ',';
		buf[at++] = rw_tls_ja4_hex[(v[i] >> 12) & 0xf];
		buf[at++] = rw_tls_ja4_hex[(v[i] >> 8) & 0xf];
		buf[at++] = rw_tls_ja4_hex[(v[i] >> 4) & 0xf];
		buf[at++] = rw_tls_ja4_hex[v[i] & 0xf];
	}
	return at;
}

static bool rw_tls_ja4_alnum(uint8_t c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

/* First and last character of the first ALPN id; "00" without one. When
 * either end is not ASCII alphanumeric the spec takes the first and last
 * hex digit of the id instead, so binary ids cannot break the format. */
static void rw_tls_ja4_alpn(const uint8_t *id, size_t len, char out[2])
{
	if (!id || len == 0) {
		out[0] = out[1] = '0';
		return;
	}
	uint8_t first = id[0], last = id[len - 1];
	if (rw_tls_ja4_alnum(first) && rw_tls_ja4_alnum(last)) {
		out[0] = (char)first;
		out[1] = (char)last;
	} else {
		out[0] = rw_tls_ja4_hex[first >> 4];
		out[1] = rw_tls_ja4_hex[last & 0x0f];
	}
}

int rw_tls_ja4(const struct rw_tls_ja4_input *in, char out[RW_TLS_JA4_LEN + 1])
{
	uint16_t sorted[RW_TLS_MAX_CIPHERS > RW_TLS_MAX_EXTENSIONS ? RW_TLS_MAX_CIPHERS
	                                                           : RW_TLS_MAX_EXTENSIONS];
	char text[RW_TLS_JA4_TEXT_MAX];
	char alpn[2], hb[13], hc[13];
	size_t n, at;
	int err;

	if (in->n_ciphers > RW_TLS_MAX_CIPHERS || in->n_exts > RW_TLS_MAX_EXTENSIONS ||
	    in->n_sigalgs > RW_TLS_MAX_SIGALGS)
		return RW_ERANGE;

	memcpy(sorted, in->ciphers, in->n_ciphers * sizeof(uint16_t));
	rw_tls_ja4_sort(sorted, in->n_ciphers);
	at = rw_tls_ja4_join(text, 0, sorted, in->n_ciphers);
	if ((err = rw_tls_ja4_hash12(text, at, hb)))
		return err;

	n = 0;
	for (size_t i = 0; i < in->n_exts; i++)
		if (in->exts[i] != 0x0000 && in->exts[i] != 0x0010)
			sorted[n++] = in->exts[i];
	rw_tls_ja4_sort(sorted, n);
	at = rw_tls_ja4_join(text, 0, sorted, n);
	if (in->n_sigalgs) {
		text[at++] = '_';
		at = rw_tls_ja4_join(text, at, in->sigalgs, in->n_sigalgs);
	}
	if ((err = rw_tls_ja4_hash12(text, at, hc)))
		return err;

	rw_tls_ja4_alpn(in->alpn0, in->alpn0_len, alpn);
	snprintf(out, RW_TLS_JA4_LEN + 1, "t%s%c%02zu%02zu%c%c_%s_%s",
	         rw_tls_ja4_version(in->version), in->sni ? 'd' : 'i',
	         in->n_ciphers > 99 ? (size_t)99 : in->n_ciphers,
	         in->n_exts > 99 ? (size_t)99 : in->n_exts, alpn[0], alpn[1], hb, hc);
	return 0;
}
