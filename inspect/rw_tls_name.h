/* Validation of the host name carried in the server_name extension. */
#ifndef RW_TLS_NAME_H
#define RW_TLS_NAME_H

#include <stddef.h>

#include "base/rw_cursor.h"

/* Accepts a DNS host name as RFC 6066 allows it in SNI: 1..253 bytes,
 * dot-separated labels of 1..63 letters, digits and hyphens, no hyphen at
 * either end of a label, no trailing dot, and not an IP literal (the last
 * label all digits). Consumes the whole cursor. On success writes the
 * lower-cased name plus a NUL to out (out_size must exceed the name) and
 * returns 0; otherwise RW_EINVAL (bad name) or RW_ERANGE (out too small). */
int rw_tls_name_check(struct rw_cursor *name, char *out, size_t out_size);

#endif
