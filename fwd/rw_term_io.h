/* Byte I/O over a non-blocking socket, plain or through OpenSSL, with one
 * result convention for both, so the terminate-mode pump treats the
 * client (always TLS) and the upstream (plain or TLS) alike.
 *
 * OpenSSL may need the opposite readiness of the call made (a TLS 1.3
 * KeyUpdate makes SSL_write read, a record flush makes SSL_read write),
 * so a would-block result says which event to wait for in *want
 * (RW_LOOP_READ or RW_LOOP_WRITE) and the caller re-arms by that, never by
 * the call it made (reference: tls-clienthello.md §8). */
#ifndef RW_TERM_IO_H
#define RW_TERM_IO_H

#include <stddef.h>
#include <sys/types.h>

#include <openssl/ssl.h>

/* > 0: bytes moved. 0: the peer closed (read side only). RW_EINCOMPLETE:
 * would block, *want set. RW_EPROTO: reset or TLS protocol error. RW_EIO:
 * another socket error. The OpenSSL error queue is cleared either way. */
ssize_t rw_term_io_read(int fd, SSL *ssl, void *buf, size_t n, unsigned *want);
ssize_t rw_term_io_write(int fd, SSL *ssl, const void *buf, size_t n, unsigned *want);

/* Drive SSL_accept / SSL_connect one step: 0 done, RW_EINCOMPLETE (*want
 * set), RW_EPROTO failed (the error queue is cleared). */
int rw_term_io_handshake(SSL *ssl, unsigned *want);

#endif
