/* JA4 TLS client fingerprint (FoxIO, BSD-3; technical_details/JA4.md),
 * computed from lists the ClientHello parser has already validated. */
#ifndef RW_TLS_JA4_H
#define RW_TLS_JA4_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "inspect/rw_tls_hello.h"

/* Everything JA4 looks at. Lists are in wire order with GREASE removed;
 * exts includes server_name and ALPN (they count in part a, and are
 * dropped from the hash in part c here). */
struct rw_tls_ja4_input {
	uint16_t version;           /* highest offered version, see rw_tls_hello.version */
	bool sni;                   /* server_name extension present */
	const uint8_t *alpn0;       /* first ALPN id as sent, NULL if none */
	size_t alpn0_len;
	const uint16_t *ciphers;
	size_t n_ciphers;           /* <= RW_TLS_MAX_CIPHERS */
	const uint16_t *exts;
	size_t n_exts;              /* <= RW_TLS_MAX_EXTENSIONS */
	const uint16_t *sigalgs;
	size_t n_sigalgs;           /* <= RW_TLS_MAX_SIGALGS */
};

/* Writes the 36-character fingerprint plus NUL to out. Returns 0, or
 * RW_ERANGE if a list is over its cap, RW_EINVAL if hashing failed. */
int rw_tls_ja4(const struct rw_tls_ja4_input *in, char out[RW_TLS_JA4_LEN + 1]);

/* First 12 hex digits of SHA-256 over text, or "000000000000" when text
 * is empty (JA4's marker for an empty list). Returns 0 or RW_EINVAL. */
int rw_tls_ja4_hash12(const char *text, size_t len, char out[13]);

/* The two-character JA4 version code for a TLS version number. */
const char *rw_tls_ja4_version(uint16_t version);

#endif
