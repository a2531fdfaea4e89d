/* Non-blocking connect (+ TLS) to the registry; see rw_upstream.h. */
#include "fwd/rw_upstream.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/x509v3.h>

#include "fwd/rw_listen.h"
#include "base/rw_loop.h"
#include "fwd/rw_term_io.h"
#include "base/rw_err.h"

void rw_upstream_init(struct rw_upstream *u)
{
	*u = (struct rw_upstream){ .state = RW_UP_CLOSED, .fd = -1 };
}

void rw_upstream_close(struct rw_upstream *u)
{
	if (u->ssl)
		SSL_free(u->ssl);
	if (u->fd >= 0)
		close(u->fd);
	u->ssl = NULL;
	u->fd = -1;
	u->state = RW_UP_CLOSED;
}

static int rw_upstream_tls_setup(struct rw_upstream *u, const struct rw_registry *reg,
				 SSL_CTX *tls)
{
	u->ssl = SSL_new(tls);
	if (!u->ssl || SSL_set_fd(u->ssl, u->fd) != 1)
		return RW_ENOMEM;
	SSL_set_connect_state(u->ssl);
	if (reg->n_server_names && reg->server_names[0][0] != '*') {
		const char *name = reg->server_names[0];
		if (SSL_set_tlsext_host_name(u->ssl, name) != 1 || SSL_set1_host(u->ssl, name) != 1)
			return RW_ENOMEM;
	} else {
		char ip[INET6_ADDRSTRLEN];
		if (!inet_ntop(reg->upstream.family, reg->upstream.addr, ip, sizeof(ip)))
			return RW_EINVAL;
		X509_VERIFY_PARAM *vp = SSL_get0_param(u->ssl);
		if (X509_VERIFY_PARAM_set1_ip_asc(vp, ip) != 1)
			return RW_ENOMEM;
	}
	return 0;
}

int rw_upstream_connect(struct rw_upstream *u, const struct rw_registry *reg, SSL_CTX *tls)
{
	rw_upstream_init(u);
	struct sockaddr_storage ss;
	socklen_t len;
	if (rw_listen_sockaddr(&reg->upstream, &ss, &len))
		return RW_EIO;
	u->fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, IPPROTO_TCP);
	if (u->fd < 0)
		return RW_EIO;
	int one = 1;
	setsockopt(u->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	int rc = 0;
	if (connect(u->fd, (struct sockaddr *)&ss, len) != 0 && errno != EINPROGRESS)
		rc = RW_EIO;
	if (!rc && tls)
		rc = rw_upstream_tls_setup(u, reg, tls);
	if (rc) {
		ERR_clear_error();
		rw_upstream_close(u);
		return rc;
	}
	u->state = RW_UP_CONNECTING;
	return 0;
}

int rw_upstream_progress(struct rw_upstream *u, unsigned *want)
{
	*want = 0;
	if (u->state == RW_UP_CONNECTING) {
		int err = 0;
		socklen_t el = sizeof(err);
		if (getsockopt(u->fd, SOL_SOCKET, SO_ERROR, &err, &el) != 0)
			return RW_EIO;
		if (err == EINPROGRESS || err == EALREADY) {
			*want = RW_LOOP_WRITE;
			return RW_EINCOMPLETE;
		}
		if (err != 0)
			return RW_EIO;
		/* SO_ERROR is also 0 while still in progress: confirm with
		 * getpeername before declaring it connected. */
		struct sockaddr_storage peer;
		socklen_t pl = sizeof(peer);
		if (getpeername(u->fd, (struct sockaddr *)&peer, &pl) != 0) {
			if (errno != ENOTCONN)
				return RW_EIO;
			*want = RW_LOOP_WRITE;
			return RW_EINCOMPLETE;
		}
		u->state = u->ssl ? RW_UP_HANDSHAKE : RW_UP_READY;
	}
	if (u->state == RW_UP_HANDSHAKE) {
		int rc = rw_term_io_handshake(u->ssl, want);
		if (rc == RW_EINCOMPLETE)
			return rc;
		if (rc) {
			u->verify_result = SSL_get_verify_result(u->ssl);
			return RW_EPROTO;
		}
		u->state = RW_UP_READY;
	}
	return u->state == RW_UP_READY ? 0 : RW_EIO;
}
