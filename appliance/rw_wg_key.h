/* WireGuard keys: X25519 key pairs through OpenSSL, and the two text
 * forms the tools use: base64 (wg, wg-quick, regwall.conf: 44 characters
 * ending in '=') and lowercase hex (the userspace API socket: 64
 * characters). Decoders are strict so one key has exactly one spelling
 * (the duplicate-key checks compare bytes, and a second spelling of the
 * same key must not slip past them). */
#ifndef RW_WG_KEY_H
#define RW_WG_KEY_H

#include <stddef.h>
#include <stdint.h>

#define RW_WG_KEY_LEN 32
#define RW_WG_KEY_B64_LEN 44 /* without the NUL */
#define RW_WG_KEY_HEX_LEN 64 /* without the NUL */

/* A fresh private key (clamped like `wg genkey`) and its public key. */
int rw_wg_key_generate(uint8_t priv[RW_WG_KEY_LEN], uint8_t pub[RW_WG_KEY_LEN]);
/* pub = X25519(priv, 9), what `wg pubkey` prints. */
int rw_wg_key_public(const uint8_t priv[RW_WG_KEY_LEN], uint8_t pub[RW_WG_KEY_LEN]);
/* The clamp `wg genkey` applies (idempotent). */
void rw_wg_key_clamp(uint8_t k[RW_WG_KEY_LEN]);
/* True for 32 zero bytes (not a key: WireGuard reads it as "unset"). */
int rw_wg_key_is_zero(const uint8_t k[RW_WG_KEY_LEN]);

/* out must hold RW_WG_KEY_B64_LEN + 1 / RW_WG_KEY_HEX_LEN + 1 bytes. */
void rw_wg_key_to_base64(const uint8_t k[RW_WG_KEY_LEN], char out[RW_WG_KEY_B64_LEN + 1]);
void rw_wg_key_to_hex(const uint8_t k[RW_WG_KEY_LEN], char out[RW_WG_KEY_HEX_LEN + 1]);
/* Exactly len characters (no NUL needed); RW_EINVAL on any other length, a
 * character outside the alphabet, missing '=', non-zero trailing bits, or
 * upper-case hex. */
int rw_wg_key_from_base64(const char *s, size_t len, uint8_t k[RW_WG_KEY_LEN]);
int rw_wg_key_from_hex(const char *s, size_t len, uint8_t k[RW_WG_KEY_LEN]);

/* The private key file (`wg genkey` format: base64 and an optional
 * newline). Missing and create set: a new key is written with mode 0600
 * (O_EXCL, so two starts cannot both write one) and *created set. A file
 * readable by group or others is refused: it holds the gateway's secret. */
int rw_wg_key_load_file(const char *path, int create, uint8_t priv[RW_WG_KEY_LEN],
			int *created, char *why, size_t why_len);

#endif
