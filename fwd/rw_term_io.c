/* Plain / TLS byte I/O with one result convention (see rw_term_io.h). */
#include "fwd/rw_term_io.h"

#include <errno.h>
#include <sys/socket.h>

#include <openssl/err.h>

#include "base/rw_loop.h"
#include "base/rw_err.h"

/* Map SSL_get_error() after a failed call. */
static ssize_t rw_term_io_ssl_err(SSL *ssl, int r, unsigned *want, int is_read)
{
	int e = SSL_get_error(ssl, r);
	int sys = errno;
	ERR_clear_error();
	switch (e) {
	case SSL_ERROR_WANT_READ:
		*want = RW_LOOP_READ;
		return RW_EINCOMPLETE;
	case SSL_ERROR_WANT_WRITE:
		*want = RW_LOOP_WRITE;
		return RW_EINCOMPLETE;
	case SSL_ERROR_ZERO_RETURN:
		return is_read ? 0 : RW_EPROTO;
	case SSL_ERROR_SYSCALL:
		/* With SSL_OP_IGNORE_UNEXPECTED_EOF a bare TCP FIN reads as
		 * ZERO_RETURN; SYSCALL is a real socket error. */
		if (sys == EAGAIN || sys == EINTR) {
			*want = is_read ? RW_LOOP_READ : RW_LOOP_WRITE;
			return RW_EINCOMPLETE;
		}
		return sys == ECONNRESET || sys == EPIPE ? RW_EPROTO : RW_EIO;
	default:
		return RW_EPROTO;
	}
}

ssize_t rw_term_io_read(int fd, SSL *ssl, void *buf, size_t n, unsigned *want)
{
	*want = 0;
	if (n == 0)
		return RW_EINVAL;
	if (ssl) {
		size_t got = 0;
		ERR_clear_error();
		int r = SSL_read_ex(ssl, buf, n, &got);
		if (r == 1)
			return (ssize_t)got;
		return rw_term_io_ssl_err(ssl, 0, want, 1);
	}
	for (;;) {
		ssize_t r = recv(fd, buf, n, MSG_DONTWAIT);
		if (r >= 0)
			return r;
		if (errno == EINTR)
			continue;
		if (errno == EAGAIN || errno == EWOULDBLOCK) {
			*want = RW_LOOP_READ;
			return RW_EINCOMPLETE;
		}
		return errno == ECONNRESET ? RW_EPROTO : RW_EIO;
	}
}

ssize_t rw_term_io_write(int fd, SSL *ssl, const void *buf, size_t n, unsigned *want)
{
	*want = 0;
	if (n == 0)
		return RW_EINVAL;
	if (ssl) {
		size_t put = 0;
		ERR_clear_error();
		int r = SSL_write_ex(ssl, buf, n, &put);
		if (r == 1)
			return (ssize_t)put;
		return rw_term_io_ssl_err(ssl, 0, want, 0);
	}
	for (;;) {
		ssize_t r = send(fd, buf, n, MSG_DONTWAIT | MSG_NOSIGNAL);
		if (r >= 0)
			return r;
		if (errno == EINTR)
			continue;
		if (errno == EAGAIN || errno == EWOULDBLOCK) {
			*want = RW_LOOP_WRITE;
			return RW_EINCOMPLETE;
		}
		return errno == ECONNRESET || errno == EPIPE ? RW_EPROTO : RW_EIO;
	}
}

int rw_term_io_handshake(SSL *ssl, unsigned *want)
{
	*want = 0;
	ERR_clear_error();
	int r = SSL_do_handshake(ssl);
	if (r == 1)
		return 0;
	ssize_t e = rw_term_io_ssl_err(ssl, r, want, 1);
	return e == RW_EINCOMPLETE ? RW_EINCOMPLETE : RW_EPROTO;
}
