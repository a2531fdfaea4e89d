/* Listening sockets for the workers.
 *
 * Every socket is opened with SO_REUSEPORT: the daemon's parent opens one
 * per listener and worker slot (appliance/rw_workers.c), so the kernel
 * spreads new connections across the workers without a shared accept
 * queue or thundering herd, and a new worker generation accepts from the
 * very sockets the old one used. IPv6 sockets are
 * IPV6_V6ONLY: "::" then means IPv6 only, and IPv4 gets its own listener,
 * which keeps source addresses in one form (no v4-mapped v6) for limits
 * and logs. */
#ifndef RW_LISTEN_H
#define RW_LISTEN_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "rules/rw_policy.h"

/* Open a non-blocking, close-on-exec listening TCP socket. Returns 0 and
 * *fd, or RW_EIO (errno kept) / RW_EINVAL for a bad endpoint; *step (may
 * be NULL) then names the call that failed ("socket", "bind", "listen"),
 * for messages. */
int rw_listen_open(const struct rw_endpoint *ep, int backlog, int *fd, const char **step);
/* "192.0.2.1:8443" / "[2001:db8::1]:8443" into buf. RW_EINVAL for an
 * unknown family, RW_ETOOBIG if buf is short. */
int rw_listen_format(const struct rw_endpoint *ep, char *buf, size_t len);
/* The port actually bound (for port 0), host order; 0 on error. */
uint16_t rw_listen_port(int fd);

/* Endpoint <-> sockaddr. */
int rw_listen_sockaddr(const struct rw_endpoint *ep, struct sockaddr_storage *ss,
		       socklen_t *len);
/* Split a peer address into family, address bytes (4 or 16) and port. */
void rw_listen_peer(const struct sockaddr_storage *ss, uint8_t *family, uint8_t addr[16],
		    uint16_t *port);

/* accept4() one connection, non-blocking and close-on-exec. Returns 0,
 * RW_EINCOMPLETE when the queue is empty, RW_ETOOBIG when out of fds
 * (EMFILE/ENFILE: the caller sheds load, see rw_fwd.c), RW_EIO otherwise. */
int rw_listen_accept(int lfd, int *cfd, struct sockaddr_storage *ss);

#endif
