/* Shared between the record layer (rw_tls_record.c) and the message
 * parser (rw_tls_hello.c); not part of the API. */
#ifndef RW_TLS_HELLO_INT_H
#define RW_TLS_HELLO_INT_H

#include "inspect/rw_tls_hello.h"

/* Parse one handshake message into h, which the caller has zeroed, and l.
 * No JA4. On a refusal h holds partial results: the caller clears it. */
enum rw_tls_refuse rw_tls_hello_parse_msg(const uint8_t *msg, size_t len, struct rw_tls_hello *h,
                                          struct rw_tls_hello_lists *l);

/* JA4 of a parsed hello from the lists its parse kept. 0 or RW_E*. */
int rw_tls_hello_ja4_from(const struct rw_tls_hello *h, const struct rw_tls_hello_lists *l,
                          char out[RW_TLS_JA4_LEN + 1]);

#endif
