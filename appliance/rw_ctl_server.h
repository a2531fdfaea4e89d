/* The control socket of regwalld: a unix stream socket served from the
 * daemon's single-threaded loop, one JSON request line -> one reply line. */
#ifndef RW_CTL_SERVER_H
#define RW_CTL_SERVER_H

#include "appliance/rw_daemon.h"
#include "base/rw_err.h"

/* Create the socket (and its parent directory, 0750), mode 0660. A stale
 * socket file is replaced only if nothing answers on it. */
int rw_ctl_listen(const char *path, int *fd_out, struct rw_diag *diag);

/* Run until SIGTERM/SIGINT: control clients, SIGHUP reloads. Returns 0. */
int rw_ctl_serve(struct rw_daemon *d, int listen_fd);

#endif
