/* GREASE (RFC 8701): reserved values clients sprinkle into every list so
 * that servers learn to ignore the unknown. Parsers skip them and never
 * refuse because of them; JA4 leaves them out. */
#ifndef RW_TLS_GREASE_H
#define RW_TLS_GREASE_H

#include <stdbool.h>
#include <stdint.h>

/* 0x0a0a, 0x1a1a, ... 0xfafa: both bytes equal, low nibble of each 0xa. */
static inline bool rw_tls_is_grease(uint16_t v)
{
	return (v & 0x0f0f) == 0x0a0a && (v >> 8) == (v & 0xff);
}

#endif
