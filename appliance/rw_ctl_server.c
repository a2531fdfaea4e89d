#include "appliance/rw_ctl_server.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "appliance/rw_ctl.h"
#include "appliance/rw_path.h"

#define RW_CTL_MAX_CLIENTS 32
#define RW_CTL_IDLE_MS 30000 /* a client that sends nothing is closed */
#define RW_CTL_WRITE_MS 2000 /* a client that does not read is closed */
#define RW_CTL_DISCARD_MS 10000 /* the rest of an overlong line is read this long */

struct rw_ctl_client {
	int fd;
	char *buf; /* RW_CTL_LINE_MAX bytes */
	size_t len;
	struct timespec last;
	/* An overlong line was answered: its rest is read and dropped until
	 * its '\n' (then the client is closed), so that a client still
	 * writing it gets to read the answer instead of a reset. */
	int discarding;
	struct timespec discard_since;
};

int rw_ctl_listen(const char *path, int *fd_out, struct rw_diag *diag)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	if (strlen(path) >= sizeof(sa.sun_path)) {
		rw_diag_err(diag, NULL, 0, "control socket path too long: %s", path);
		return RW_EINVAL;
	}
	memcpy(sa.sun_path, path, strlen(path) + 1);
	int r = rw_path_mkparents(path, 0750);
	if (r) {
		rw_diag_err(diag, NULL, 0, "cannot create the directory of %s: %s", path, strerror(-r));
		return RW_EIO;
	}
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0) {
		rw_diag_err(diag, NULL, 0, "socket: %s", strerror(errno));
		return RW_EIO;
	}
	/* Another regwalld answering on the path is a configuration error, not
	 * a stale file: refuse rather than steal its socket. */
	int probe = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (probe >= 0) {
		if (connect(probe, (struct sockaddr *)&sa, sizeof(sa)) == 0) {
			close(probe);
			close(fd);
			rw_diag_err(diag, NULL, 0, "%s: another regwalld is already running", path);
			return RW_EEXIST;
		}
		close(probe);
	}
	unlink(path);
	mode_t old = umask(0117);
	r = bind(fd, (struct sockaddr *)&sa, sizeof(sa));
	umask(old);
	if (r || listen(fd, 16)) {
		rw_diag_err(diag, NULL, 0, "cannot listen on %s: %s", path, strerror(errno));
		close(fd);
		return RW_EIO;
	}
	*fd_out = fd;
	return 0;
}

static long rw_ctl_ms_since(const struct timespec *t)
{
	struct timespec now;
	clock_gettime(CLOCK_MONOTONIC, &now);
	return (now.tv_sec - t->tv_sec) * 1000 + (now.tv_nsec - t->tv_nsec) / 1000000;
}

static int rw_ctl_write_all(int fd, const char *p, size_t n)
{
	struct timespec start;
	clock_gettime(CLOCK_MONOTONIC, &start);
	while (n > 0) {
		ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
		if (w > 0) {
			p += w;
			n -= (size_t)w;
			continue;
		}
		if (w < 0 && errno != EAGAIN && errno != EINTR)
			return -1;
		long left = RW_CTL_WRITE_MS - rw_ctl_ms_since(&start);
		if (left <= 0)
			return -1;
		struct pollfd pfd = { .fd = fd, .events = POLLOUT };
		poll(&pfd, 1, (int)left);
	}
	return 0;
}

static void rw_ctl_client_close(struct rw_ctl_client *c)
{
	close(c->fd);
	free(c->buf);
	c->fd = -1;
	c->buf = NULL;
	c->len = 0;
	c->discarding = 0;
}

static int rw_ctl_send_reply(int fd, json_t *reply)
{
	char *out = reply ? json_dumps(reply, JSON_COMPACT) : NULL;
	int r = -1;
	if (out) {
		r = rw_ctl_write_all(fd, out, strlen(out));
		if (!r)
			r = rw_ctl_write_all(fd, "\n", 1);
		free(out);
	}
	return r;
}

/* A line longer than the limit is not parsed; say so once, stop writing
 * to the client (it sees the answer, then end of file) and drop what it
 * still sends of that line. */
static int rw_ctl_client_overlong(struct rw_ctl_client *c)
{
	char msg[64];
	snprintf(msg, sizeof(msg), "request line longer than %d bytes", RW_CTL_LINE_MAX);
	json_t *reply = json_pack("{s:b, s:s}", "ok", 0, "error", msg);
	int r = rw_ctl_send_reply(c->fd, reply);
	json_decref(reply);
	if (r)
		return -1;
	fprintf(stderr, "regwalld: control: %s\n", msg);
	shutdown(c->fd, SHUT_WR);
	c->discarding = 1;
	c->len = 0;
	clock_gettime(CLOCK_MONOTONIC, &c->discard_since);
	return 0;
}

static void rw_ctl_log_result(const struct rw_ctl_req *req, json_t *reply)
{
	if (!json_is_true(json_object_get(reply, "ok")))
		fprintf(stderr, "regwalld: control: %s refused: %s\n", rw_ctl_cmd_str(req->cmd),
			json_string_value(json_object_get(reply, "error")));
	else if (req->cmd != RW_CTL_STATUS && req->cmd != RW_CTL_COUNTERS &&
		 req->cmd != RW_CTL_NET_LIST && req->cmd != RW_CTL_BAN_LIST)
		fprintf(stderr, "regwalld: control: %s%s%s done\n", rw_ctl_cmd_str(req->cmd),
			req->network[0] ? " " : "", req->network);
}

/* Answer every complete line in the client's buffer. Returns -1 when the
 * client must be dropped. */
static int rw_ctl_client_lines(struct rw_daemon *d, struct rw_ctl_client *c,
			       struct rw_ctl_req *req)
{
	for (;;) {
		char *nl = memchr(c->buf, '\n', c->len);
		if (!nl)
			return c->len >= RW_CTL_LINE_MAX ? rw_ctl_client_overlong(c) : 0;
		size_t line = (size_t)(nl - c->buf);
		char err[512];
		json_t *reply;
		if (rw_ctl_parse_request(c->buf, line, req, err, sizeof(err)) == 0) {
			reply = rw_daemon_handle(d, req);
			rw_ctl_log_result(req, reply);
		} else {
			reply = json_pack("{s:b, s:s}", "ok", 0, "error", err);
		}
		int r = rw_ctl_send_reply(c->fd, reply);
		json_decref(reply);
		if (r)
			return -1;
		memmove(c->buf, nl + 1, c->len - line - 1);
		c->len -= line + 1;
	}
}

int rw_ctl_serve(struct rw_daemon *d, int listen_fd)
{
	sigset_t mask;
	sigemptyset(&mask);
	sigaddset(&mask, SIGHUP);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGCHLD);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	int sfd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
	if (sfd < 0) {
		fprintf(stderr, "regwalld: signalfd: %s\n", strerror(errno));
		return RW_EIO;
	}
	/* The request struct holds up to 1024 prefixes: keep it off the stack. */
	struct rw_ctl_req *req = malloc(sizeof(*req));
	if (!req) {
		close(sfd);
		return RW_ENOMEM;
	}
	struct rw_ctl_client cl[RW_CTL_MAX_CLIENTS];
	for (int i = 0; i < RW_CTL_MAX_CLIENTS; i++)
		cl[i] = (struct rw_ctl_client){ .fd = -1 };

	while (!d->want_exit) {
		struct pollfd pf[3 + RW_CTL_MAX_CLIENTS];
		int map[3 + RW_CTL_MAX_CLIENTS];
		int n = 0;
		pf[n++] = (struct pollfd){ .fd = sfd, .events = POLLIN };
		pf[n++] = (struct pollfd){ .fd = listen_fd, .events = POLLIN };
		/* the nftables monitor (fd -1 when none: poll skips it) */
		pf[n++] = (struct pollfd){ .fd = rw_daemon_guard_fd(d), .events = POLLIN };
		int first_client = n;
		for (int i = 0; i < RW_CTL_MAX_CLIENTS; i++) {
			if (cl[i].fd < 0)
				continue;
			map[n] = i;
			pf[n++] = (struct pollfd){ .fd = cl[i].fd, .events = POLLIN };
		}
		int pr = poll(pf, (nfds_t)n, 1000);
		if (pr < 0 && errno != EINTR)
			break;
		if (pf[0].revents & POLLIN) {
			struct signalfd_siginfo si;
			while (read(sfd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
				if (si.ssi_signo == SIGHUP) {
					struct rw_diag diag;
					rw_diag_init(&diag);
					int r = rw_daemon_reload(d, &diag);
					rw_diag_print(&diag, stderr);
					if (r) {
						fprintf(stderr, "regwalld: reload failed (%s); old policy kept\n",
							rw_strerror(r));
					} else {
						fprintf(stderr, "regwalld: reloaded %s\n", d->config_path);
					}
				} else if (si.ssi_signo == SIGCHLD) {
					if (d->workers)
						rw_workers_reap(d->workers);
				} else {
					d->want_exit = 1;
				}
			}
		}
		if (pf[2].revents & POLLIN)
			rw_daemon_on_nft_event(d);
		if (pf[1].revents & POLLIN) {
			int fd;
			while ((fd = accept4(listen_fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK)) >= 0) {
				int slot = -1;
				for (int i = 0; i < RW_CTL_MAX_CLIENTS && slot < 0; i++)
					if (cl[i].fd < 0)
						slot = i;
				char *buf = slot >= 0 ? malloc(RW_CTL_LINE_MAX) : NULL;
				if (!buf) {
					static const char busy[] = "{\"ok\":false,\"error\":\"busy\"}\n";
					(void)!send(fd, busy, sizeof(busy) - 1, MSG_NOSIGNAL);
					close(fd);
					continue;
				}
				cl[slot] = (struct rw_ctl_client){ .fd = fd, .buf = buf };
				clock_gettime(CLOCK_MONOTONIC, &cl[slot].last);
			}
		}
		for (int k = first_client; k < n; k++) {
			struct rw_ctl_client *c = &cl[map[k]];
			if (!(pf[k].revents & (POLLIN | POLLHUP | POLLERR)))
				continue;
			ssize_t r = recv(c->fd, c->buf + c->len, RW_CTL_LINE_MAX - c->len, 0);
			if (r == 0 || (r < 0 && errno != EAGAIN && errno != EINTR)) {
				rw_ctl_client_close(c);
				continue;
			}
			if (r < 0)
				continue;
			clock_gettime(CLOCK_MONOTONIC, &c->last);
			if (c->discarding) {
				if (memchr(c->buf, '\n', (size_t)r))
					rw_ctl_client_close(c);
				continue;
			}
			c->len += (size_t)r;
			if (rw_ctl_client_lines(d, c, req))
				rw_ctl_client_close(c);
		}
		for (int i = 0; i < RW_CTL_MAX_CLIENTS; i++)
			if (cl[i].fd >= 0 && (rw_ctl_ms_since(&cl[i].last) > RW_CTL_IDLE_MS ||
					      (cl[i].discarding &&
					       rw_ctl_ms_since(&cl[i].discard_since) > RW_CTL_DISCARD_MS)))
				rw_ctl_client_close(&cl[i]);
		if (d->workers)
			rw_workers_tick(d->workers);
		rw_daemon_tick(d);
	}
	for (int i = 0; i < RW_CTL_MAX_CLIENTS; i++)
		if (cl[i].fd >= 0)
			rw_ctl_client_close(&cl[i]);
	free(req);
	close(sfd);
	return 0;
}
