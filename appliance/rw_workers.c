#include "appliance/rw_workers.h"

#include <errno.h>
#include <jansson.h>
#include <stdbool.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <poll.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/random.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "appliance/rw_worker_main.h"
#include "fwd/rw_boot.h"
#include "fwd/rw_event.h"
#include "fwd/rw_listen.h"
#include "rules/rw_cidr.h"

#define RW_WORKERS_LIMIT_SLOTS 4096
#define RW_WORKERS_STOP_MS 3000     /* on daemon exit */
/* A draining worker returns by itself at its policy's drain_timeout; the
 * parent kills it only this much later (it may be busy closing). */
#define RW_WORKERS_DRAIN_GRACE_MS 5000
/* A restart that waits this long or more closes the slot's sockets
 * meanwhile (connections the kernel hashes to them would wait). */
#define RW_WORKERS_DROP_AFTER_MS 1000

static long long rw_workers_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int rw_workers_init(struct rw_workers *ws, unsigned n, struct rw_diag *diag)
{
	memset(ws, 0, sizeof(*ws));
	ws->limit_fd = -1;
	for (size_t k = 0; k < sizeof(ws->draining) / sizeof(ws->draining[0]); k++)
		ws->draining[k].chan = -1;
	if (n > RW_WORKERS_MAX) {
		rw_diag_err(diag, NULL, 0, "at most %d workers", RW_WORKERS_MAX);
		return RW_ERANGE;
	}
	ws->n = n;
	if (n == 0)
		return 0;
	int ur = rw_workers_set_user(ws, NULL, diag);
	if (ur)
		return ur;
	/* the parent writes to the workers' stop sockets: one that just died
	 * must give EPIPE, not kill the daemon (and with it every worker) */
	signal(SIGPIPE, SIG_IGN);
	int r = rw_limit_create_shared(&ws->limit, RW_WORKERS_LIMIT_SLOTS, &ws->limit_fd);
	if (r)
		rw_diag_err(diag, NULL, 0, "cannot create the shared push limiter: %s", rw_strerror(r));
	return r;
}

/* ---- the listening sockets (owned by the parent) ---- */

static bool rw_workers_ep_eq(const struct rw_endpoint *a, const struct rw_endpoint *b)
{
	size_t alen = a->family == AF_INET ? 4 : 16;
	return a->family == b->family && a->port == b->port && !memcmp(a->addr, b->addr, alen);
}

static bool rw_workers_lset_has(const struct rw_worker_lset *s, int fd)
{
	for (size_t j = 0; j < s->n; j++)
		for (unsigned i = 0; i < RW_WORKERS_MAX; i++)
			if (s->v[j].fd[i] == fd)
				return true;
	return false;
}

/* Free set s, closing the sockets that keep (may be NULL) does not share:
 * a socket carried from one set to the other is the same fd in both. */
static void rw_workers_lset_free(struct rw_worker_lset *s, const struct rw_worker_lset *keep)
{
	for (size_t j = 0; j < s->n; j++)
		for (unsigned i = 0; i < RW_WORKERS_MAX; i++) {
			int fd = s->v[j].fd[i];
			if (fd >= 0 && !(keep && rw_workers_lset_has(keep, fd)))
				close(fd);
		}
	free(s->v);
	s->v = NULL;
	s->n = 0;
}

/* Does set s hold the listeners of p, in p's order? */
static bool rw_workers_lset_for(const struct rw_worker_lset *s, const struct rw_policy *p)
{
	if (s->n != p->n_listeners)
		return false;
	for (size_t j = 0; j < s->n; j++)
		if (!rw_workers_ep_eq(&s->v[j].ep, &p->listeners[j].listen))
			return false;
	return true;
}

/* Slot i's sockets go: its worker is gone for good, and a socket nobody
 * accepts on would hold the connections the kernel hashes to it. */
static void rw_workers_lset_drop_slot(struct rw_worker_lset *s, unsigned i)
{
	for (size_t j = 0; j < s->n; j++)
		if (s->v[j].fd[i] >= 0) {
			close(s->v[j].fd[i]);
			s->v[j].fd[i] = -1;
		}
}

/* Open the sockets slots 0..n-1 of listener j still lack. */
static int rw_workers_open_one(const struct rw_policy *p, size_t j, struct rw_worker_lsock *ls,
			       unsigned n, int backlog, struct rw_diag *diag)
{
	const struct rw_listener *l = &p->listeners[j];
	struct rw_endpoint ep = l->listen;
	/* port 0 (tests): every slot on the port the first socket got */
	for (unsigned i = 0; i < n && !ep.port; i++)
		if (ls->fd[i] >= 0)
			ep.port = rw_listen_port(ls->fd[i]);
	for (unsigned i = 0; i < n; i++) {
		if (ls->fd[i] >= 0)
			continue;
		const char *step = "socket";
		int r = rw_listen_open(&ep, backlog, &ls->fd[i], &step);
		if (r) {
			int e = errno;
			char where[64];
			if (rw_listen_format(&ep, where, sizeof(where)))
				snprintf(where, sizeof(where), "(address family %u)", (unsigned)ep.family);
			rw_diag_err(diag, p->source_file, l->line, "listener %s %s: cannot %s: %s",
				    l->name, where, step, r == RW_EINVAL ? "bad address" : strerror(e));
			return r;
		}
		/* accepted sockets then tell the interface their SYN came in on
		 * (the data path's VPN check, fwd/rw_fwd.c rw_fwd_admit) */
		int one = 1;
		setsockopt(ls->fd[i], ep.family == AF_INET ? IPPROTO_IP : IPPROTO_IPV6,
			   ep.family == AF_INET ? IP_PKTINFO : IPV6_RECVPKTINFO, &one, sizeof(one));
		if (ep.port == 0)
			ep.port = rw_listen_port(ls->fd[i]);
	}
	return 0;
}

int rw_workers_prepare(struct rw_workers *ws, const struct rw_policy *p, struct rw_diag *diag)
{
	rw_workers_prepare_cancel(ws);
	if (ws->n == 0)
		return 0;
	struct rw_worker_lset nx = { calloc(p->n_listeners ? p->n_listeners : 1, sizeof(*nx.v)),
				     p->n_listeners };
	bool *taken = calloc(ws->cur.n ? ws->cur.n : 1, sizeof(*taken));
	if (!nx.v || !taken) {
		free(nx.v);
		free(taken);
		rw_diag_err(diag, NULL, 0, "out of memory for the listening sockets");
		return RW_ENOMEM;
	}
	struct rw_fwd_opts o;
	rw_fwd_opts_default(&o);
	for (size_t j = 0; j < nx.n; j++)
		for (unsigned i = 0; i < RW_WORKERS_MAX; i++)
			nx.v[j].fd[i] = -1;
	int r = 0;
	for (size_t j = 0; j < nx.n; j++) {
		struct rw_worker_lsock *ls = &nx.v[j];
		ls->ep = p->listeners[j].listen;
		/* the same address and port as a current listener: its sockets,
		 * queued connections and all */
		for (size_t k = 0; k < ws->cur.n; k++)
			if (!taken[k] && rw_workers_ep_eq(&ws->cur.v[k].ep, &ls->ep)) {
				taken[k] = true;
				memcpy(ls->fd, ws->cur.v[k].fd, sizeof(ls->fd));
				break;
			}
		r = rw_workers_open_one(p, j, ls, ws->n, o.backlog, diag);
		if (r)
			break;
	}
	free(taken);
	if (r) {
		rw_workers_lset_free(&nx, &ws->cur);
		return r;
	}
	ws->next = nx;
	ws->have_next = true;
	return 0;
}

void rw_workers_next_pem(struct rw_workers *ws, struct rw_pem_set *pem)
{
	rw_pem_set_free(&ws->next_pem);
	ws->next_pem = *pem;
	ws->have_next_pem = true;
	*pem = (struct rw_pem_set){ 0 };
}

void rw_workers_prepare_cancel(struct rw_workers *ws)
{
	rw_pem_set_free(&ws->next_pem);
	ws->have_next_pem = false;
	if (!ws->have_next)
		return;
	rw_workers_lset_free(&ws->next, &ws->cur);
	ws->have_next = false;
}

/* The forked child, before it becomes a worker: it keeps only stdio and
 * its channel, moved to fd 3 (not the nftables netlink socket, the
 * signalfd, the control socket or a control client, the listening
 * sockets, the other workers' channels, nor whatever the parent opens
 * later without telling this list: one close_range covers the rest), dies
 * with the parent, and then either exec's regwalld as a worker (a fresh
 * address space: nothing of the parent's memory comes along) or, in a
 * program that is not regwalld (tests), runs the worker here. Either way
 * it gets everything else on the channel (rw_worker_main.h). */
static void rw_workers_child(struct rw_workers *ws, int chan, pid_t parent)
{
	/* The parent blocked these for its signalfd; a worker must die on
	 * SIGTERM like any process. */
	sigset_t all;
	sigemptyset(&all);
	sigprocmask(SIG_SETMASK, &all, NULL);
	signal(SIGHUP, SIG_IGN);
	signal(SIGCHLD, SIG_DFL);
	prctl(PR_SET_PDEATHSIG, SIGTERM);
	/* the parent died before the line above: not "ppid == 1" (regwalld
	 * may be PID 1 in a container, or have a subreaper above it) */
	if (getppid() != parent)
		_exit(RW_WORKER_EXIT_OK);
	if (chan != RW_WORKER_CHAN_FD) {
		if (dup2(chan, RW_WORKER_CHAN_FD) != RW_WORKER_CHAN_FD)
			_exit(RW_WORKER_EXIT_BOOT);
	} else if (fcntl(chan, F_SETFD, 0) != 0) {
		_exit(RW_WORKER_EXIT_BOOT);
	}
	if (close_range(RW_WORKER_CHAN_FD + 1, ~0U, 0) != 0) {
		/* kernels before 5.9: close one by one */
		long max = sysconf(_SC_OPEN_MAX);
		for (long f = RW_WORKER_CHAN_FD + 1; f < (max > 0 ? max : 65536); f++)
			close((int)f);
	}
	/* events go over the channel: the worker needs no writable stdout */
	int devnull = open("/dev/null", O_WRONLY | O_CLOEXEC);
	if (devnull >= 0) {
		dup2(devnull, STDOUT_FILENO);
		close(devnull);
	}
	if (ws->exec_path) {
		char *const argv[] = { "regwalld", "--worker", NULL };
		char *const envp[] = { NULL };
		execve(ws->exec_path, argv, envp);
		/* say it the only way left: the channel */
		char msg[160];
		int n = snprintf(msg, sizeof(msg), "pid %d: cannot run %s as a worker: %s",
				 (int)getpid(), ws->exec_path, strerror(errno));
		if (n > 0)
			(void)rw_chan_send(RW_WORKER_CHAN_FD, RW_CHAN_LOG, 0, msg,
					   (size_t)n < sizeof(msg) ? (size_t)n : sizeof(msg) - 1);
		_exit(RW_WORKER_EXIT_BOOT);
	}
	fflush(stdout);
	_exit(rw_worker_main(RW_WORKER_CHAN_FD));
}

/* The boot bundle of a new worker in slot i, in a sealed memfd: the
 * current policy (with every live change so far), the bans in force,
 * this generation's TLS files and ticket secret, the worker user. */
static int rw_workers_bundle(struct rw_workers *ws, unsigned i, uint64_t *len, struct rw_diag *diag)
{
	/* ws->bans is not pruned here: a delta loop may be walking it while
	 * a slot restarts (rw_workers_push); the worker ignores an expired
	 * ban and drops it at its first connection */
	struct rw_boot b = { .generation = ws->generation, .slot = i, .live_seq = ws->live_seq,
			     .tickets = ws->tickets, .uid = ws->user.uid, .gid = ws->user.gid,
			     .user_valid = ws->user.valid };
	memcpy(b.secret, ws->ticket_secret, sizeof(b.secret));
	snprintf(b.user, sizeof(b.user), "%s", ws->user.name);
	b.pol = *ws->pol; /* borrowed: packed, not freed */
	b.pem = ws->pem;
	b.bans = ws->bans; /* borrowed too */
	uint8_t *buf;
	size_t n;
	int rc = rw_boot_pack(&b, &buf, &n);
	OPENSSL_cleanse(b.secret, sizeof(b.secret));
	if (rc) {
		rw_diag_err(diag, NULL, 0, "worker boot bundle: %s", rw_strerror(rc));
		return rc;
	}
	int fd = memfd_create("regwall-boot", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	size_t off = 0;
	while (fd >= 0 && off < n) {
		ssize_t w = write(fd, buf + off, n - off);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			break;
		off += (size_t)w;
	}
	OPENSSL_cleanse(buf, n);
	free(buf);
	if (fd < 0 || off != n ||
	    fcntl(fd, F_ADD_SEALS, F_SEAL_WRITE | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL) != 0) {
		rw_diag_err(diag, NULL, 0, "worker boot bundle: memfd: %s", strerror(errno));
		if (fd >= 0)
			close(fd);
		return RW_EIO;
	}
	*len = n;
	return fd;
}

/* One boot message; when the channel is full (a policy with hundreds of
 * listeners fills the socket buffer before the worker reads) wait until
 * the worker drains it, for at most RW_WORKER_BOOT_MS overall. */
static int rw_workers_send_wait(int chan, uint16_t type, uint32_t gen, const void *body,
				size_t len, const int *fds, size_t n_fds, long long deadline)
{
	for (;;) {
		int rc = rw_chan_send_fds(chan, type, gen, body, len, fds, n_fds);
		if (rc != RW_EINCOMPLETE)
			return rc;
		long long left = deadline - rw_workers_now_ms();
		if (left <= 0)
			return RW_ETIMEDOUT;
		struct pollfd pf = { .fd = chan, .events = POLLOUT };
		if (poll(&pf, 1, (int)left) < 0 && errno != EINTR)
			return RW_EIO;
		if (pf.revents & (POLLERR | POLLHUP))
			return RW_EIO;
	}
}

/* BOOT and the slot's listening sockets to a new worker. */
static int rw_workers_send_boot(struct rw_workers *ws, unsigned i, int chan, struct rw_diag *diag)
{
	uint64_t len = 0;
	int bfd = rw_workers_bundle(ws, i, &len, diag);
	if (bfd < 0)
		return bfd;
	size_t n_lis = ws->cur.n == ws->pol->n_listeners ? ws->cur.n : 0;
	struct rw_chan_boot bm = { .bundle_len = len, .n_listen = (uint32_t)n_lis,
				   .has_limit = ws->limit_fd >= 0 };
	int fds[2] = { bfd, ws->limit_fd };
	long long deadline = rw_workers_now_ms() + RW_WORKER_BOOT_MS;
	int rc = rw_workers_send_wait(chan, RW_CHAN_BOOT, ws->generation, &bm, sizeof(bm), fds,
				      bm.has_limit ? 2 : 1, deadline);
	close(bfd);
	for (size_t j = 0; !rc && j < n_lis; j++) {
		struct rw_chan_listen lm = { .index = (uint32_t)j };
		int lfd = ws->cur.v[j].fd[i];
		/* without a socket (none open for this slot) the worker opens
		 * its own, as rw_fwd_opts.listen_fds -1 says */
		rc = rw_workers_send_wait(chan, RW_CHAN_LISTEN, ws->generation, &lm, sizeof(lm),
					  &lfd, lfd >= 0 ? 1 : 0, deadline);
	}
	if (rc)
		rw_diag_err(diag, NULL, 0, "worker slot %u: cannot send its boot messages: %s", i,
			    rw_strerror(rc));
	return rc;
}

/* ---- the workers' channels, read in the parent's loop ---- */

static void rw_workers_on_chan(struct rw_loop *l, int fd, unsigned events, void *arg);

static void rw_workers_chan_watch(struct rw_workers *ws, int fd, struct rw_worker_heard *h)
{
	if (ws->loop && fd >= 0)
		(void)rw_loop_fd_want(ws->loop, fd, &h->reg, &h->mask, RW_LOOP_READ,
				      rw_workers_on_chan, ws);
}

static void rw_workers_chan_unwatch(struct rw_workers *ws, int fd, struct rw_worker_heard *h)
{
	if (ws->loop && fd >= 0 && h->reg)
		(void)rw_loop_fd_want(ws->loop, fd, &h->reg, &h->mask, 0, NULL, ws);
	h->reg = false;
	h->mask = 0;
}

/* The generation the parent started pid in (0: not one of ours). */
static unsigned rw_workers_gen_of(const struct rw_workers *ws, pid_t pid)
{
	for (unsigned i = 0; i < RW_WORKERS_MAX; i++)
		if (ws->slot[i].pid == pid)
			return ws->slot[i].generation;
	for (size_t k = 0; k < sizeof(ws->draining) / sizeof(ws->draining[0]); k++)
		if (ws->draining[k].pid == pid)
			return ws->draining[k].generation;
	return 0;
}

/* One message from a worker. -1: malformed (the worker is killed). */
static int rw_workers_chan_msg(struct rw_workers *ws, struct rw_worker_heard *h, const uint8_t *buf,
			       size_t n)
{
	struct rw_chan_hdr hdr;
	const uint8_t *body;
	if (rw_chan_parse(buf, n, &hdr, &body))
		return -1;
	h->at_ms = rw_workers_now_ms();
	switch (hdr.type) {
	case RW_CHAN_EVENT:
		/* rw_chan_parse checked the lines: each starts with '{' and ends
		 * in '\n', and the body ends in one */
		for (size_t at = 0; at < hdr.len;) {
			const char *line = (const char *)body + at;
			const char *nl = memchr(line, '\n', hdr.len - at);
			size_t ln = (size_t)(nl - line);
			h->events++;
			ws->events_received++;
			if (ws->on_event)
				ws->on_event(ws->event_ctx, line, ln);
			at += ln + 1;
		}
		return 0;
	case RW_CHAN_STATS:
		memcpy(&h->st, body, sizeof(h->st));
		return 0;
	case RW_CHAN_READY:
		return 0;
	case RW_CHAN_LOG:
		fprintf(stderr, "regwalld: worker %.*s\n", (int)hdr.len, (const char *)body);
		return 0;
	default:
		return -1; /* STOP is not the worker's to send */
	}
}

/* Read what is queued on a worker's channel (bounded per call so one
 * chatty worker cannot starve the loop). 1 = more may be there, 0 = all
 * read, -1 = ended (EOF or a malformed message: the worker is killed). */
static int rw_workers_chan_read(struct rw_workers *ws, int fd, struct rw_worker_heard *h, pid_t pid,
				unsigned budget)
{
	uint8_t buf[RW_CHAN_MSG_MAX];
	ws->event_pid = pid;
	ws->event_generation = rw_workers_gen_of(ws, pid);
	for (unsigned k = 0; k < budget; k++) {
		ssize_t n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT | MSG_TRUNC);
		if (n < 0)
			return (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) ? 0 : -1;
		if (n == 0)
			return -1;
		if ((size_t)n > sizeof(buf) || rw_workers_chan_msg(ws, h, buf, (size_t)n)) {
			ws->bad_messages++;
			fprintf(stderr, "regwalld: worker %d sent a malformed channel message; "
					"killed\n", (int)pid);
			if (pid > 0)
				kill(pid, SIGKILL);
			return -1;
		}
	}
	return 1;
}

/* Everything left on a channel (a worker that ended: its last events). */
static void rw_workers_chan_drain(struct rw_workers *ws, int fd, struct rw_worker_heard *h,
				  pid_t pid)
{
	while (rw_workers_chan_read(ws, fd, h, pid, 256) > 0)
		;
}

static void rw_workers_on_chan(struct rw_loop *l, int fd, unsigned events, void *arg)
{
	struct rw_workers *ws = arg;
	for (unsigned i = 0; i < RW_WORKERS_MAX; i++) {
		struct rw_worker_slot *s = &ws->slot[i];
		if (s->pid && s->stop_w == fd) {
			if (rw_workers_chan_read(ws, fd, &s->heard, s->pid, 64) < 0)
				rw_workers_chan_unwatch(ws, fd, &s->heard); /* reaped later */
			return;
		}
	}
	for (size_t k = 0; k < sizeof(ws->draining) / sizeof(ws->draining[0]); k++) {
		struct rw_worker_draining *dr = &ws->draining[k];
		if (dr->chan == fd && dr->chan >= 0) {
			if (rw_workers_chan_read(ws, fd, &dr->heard, dr->pid, 64) < 0) {
				rw_workers_chan_unwatch(ws, fd, &dr->heard);
				ws->gone_events_sent += dr->heard.st.events_sent;
				ws->gone_events_dropped += dr->heard.st.events_dropped;
				close(dr->chan);
				dr->chan = -1;
			}
			return;
		}
	}
	/* nobody owns it any more: stop watching (it is closed elsewhere) */
	(void)rw_loop_fd_del(l, fd);
}

static int rw_workers_spawn(struct rw_workers *ws, unsigned i, struct rw_diag *diag)
{
	/* The channel is a SEQPACKET socket pair (rw_chan.h): STOP one way;
	 * READY, events and heartbeats the other. */
	int p[2];
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, p)) {
		rw_diag_err(diag, NULL, 0, "socketpair: %s", strerror(errno));
		return RW_EIO;
	}
	fflush(stdout);
	fflush(stderr);
	pid_t parent = getpid();
	pid_t pid = fork();
	if (pid < 0) {
		close(p[0]);
		close(p[1]);
		rw_diag_err(diag, NULL, 0, "fork: %s", strerror(errno));
		return RW_EIO;
	}
	if (pid == 0) {
		close(p[1]);
		rw_workers_child(ws, p[0], parent);
	}
	close(p[0]);
	(void)fcntl(p[1], F_SETFL, O_NONBLOCK);
	int sr = rw_workers_send_boot(ws, i, p[1], diag);
	if (sr) {
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
		close(p[1]);
		return sr;
	}
	ws->slot[i].pid = pid;
	ws->slot[i].stop_w = p[1];
	ws->slot[i].generation = ws->generation;
	ws->slot[i].heard = (struct rw_worker_heard){ 0 };
	ws->slot[i].last_start_ms = rw_workers_now_ms();
	rw_workers_chan_watch(ws, p[1], &ws->slot[i].heard);
	return 0;
}

static void rw_workers_clear_ws(struct rw_workers *ws, struct rw_worker_slot *s)
{
	if (s->stop_w >= 0 && s->pid) {
		rw_workers_chan_drain(ws, s->stop_w, &s->heard, s->pid);
		rw_workers_chan_unwatch(ws, s->stop_w, &s->heard);
		ws->gone_events_sent += s->heard.st.events_sent;
		ws->gone_events_dropped += s->heard.st.events_dropped;
		close(s->stop_w);
	}
	s->pid = 0;
	s->stop_w = -1;
}

/* Wait (bounded) until every new worker of ws->slot has said "ready" on
 * its stop socket; mark in failed[] those that exited first or stayed
 * silent. Building a worker takes milliseconds (TLS contexts, listener
 * takeover); the bound only matters for a hung one. */
#define RW_WORKERS_READY_MS 10000
static void rw_workers_wait_ready(struct rw_workers *ws, bool *failed, struct rw_diag *diag)
{
	bool done[RW_WORKERS_MAX] = { false };
	long long deadline = rw_workers_now_ms() + RW_WORKERS_READY_MS;
	for (;;) {
		struct pollfd pf[RW_WORKERS_MAX];
		unsigned idx[RW_WORKERS_MAX], n = 0;
		for (unsigned i = 0; i < ws->n; i++)
			if (!failed[i] && !done[i] && ws->slot[i].pid) {
				pf[n] = (struct pollfd){ .fd = ws->slot[i].stop_w, .events = POLLIN };
				idx[n++] = i;
			}
		long long left = deadline - rw_workers_now_ms();
		if (n == 0)
			return;
		if (left <= 0) {
			for (unsigned k = 0; k < n; k++) {
				failed[idx[k]] = true;
				rw_diag_err(diag, NULL, 0, "worker slot %u: not ready after %d ms",
					    idx[k], RW_WORKERS_READY_MS);
			}
			return;
		}
		int pr = poll(pf, n, (int)left);
		if (pr < 0 && errno != EINTR)
			return; /* cannot tell: treat as started, as before readiness existed */
		for (unsigned k = 0; pr > 0 && k < n; k++) {
			if (!pf[k].revents)
				continue;
			struct rw_worker_slot *sl = &ws->slot[idx[k]];
			uint8_t buf[RW_CHAN_MSG_MAX];
			struct rw_chan_hdr hdr;
			const uint8_t *body;
			ssize_t got = recv(pf[k].fd, buf, sizeof(buf), MSG_DONTWAIT | MSG_TRUNC);
			if (got < 0 && (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK))
				continue;
			if (got > 0 && (size_t)got <= sizeof(buf) &&
			    rw_chan_parse(buf, (size_t)got, &hdr, &body) == 0 &&
			    hdr.type == RW_CHAN_READY) {
				done[idx[k]] = true;
			} else if (got > 0 && (size_t)got <= sizeof(buf) &&
				   rw_workers_chan_msg(ws, &sl->heard, buf, (size_t)got) == 0) {
				continue; /* an event before READY is still an event */
			} else {
				failed[idx[k]] = true; /* exited before it was built, or garbled */
				rw_diag_err(diag, NULL, 0,
					    "worker slot %u: exited before it was ready (see its message "
					    "above)",
					    idx[k]);
			}
		}
	}
}

/* A draining worker is gone: its last events and counts, then its
 * channel closes. */
static void rw_workers_draining_gone(struct rw_workers *ws, struct rw_worker_draining *dr)
{
	if (dr->chan >= 0) {
		rw_workers_chan_drain(ws, dr->chan, &dr->heard, dr->pid);
		rw_workers_chan_unwatch(ws, dr->chan, &dr->heard);
		ws->gone_events_sent += dr->heard.st.events_sent;
		ws->gone_events_dropped += dr->heard.st.events_dropped;
		close(dr->chan);
	}
	dr->chan = -1;
	dr->pid = 0;
}

/* Tell an old generation (its slots in old) to stop accepting and drain;
 * reaped later. drain_ms: of the policy it was started with. */
static void rw_workers_retire(struct rw_workers *ws, struct rw_worker_slot *old, uint32_t drain_ms)
{
	long long kill_at = rw_workers_now_ms() + (long long)drain_ms + RW_WORKERS_DRAIN_GRACE_MS;
	for (unsigned i = 0; i < RW_WORKERS_MAX; i++) {
		struct rw_worker_slot *s = &old[i];
		if (!s->pid)
			continue;
		(void)rw_chan_send(s->stop_w, RW_CHAN_STOP, 0, NULL, 0);
		size_t k, oldest = 0;
		for (k = 0; k < sizeof(ws->draining) / sizeof(ws->draining[0]); k++) {
			if (!ws->draining[k].pid)
				break;
			if (ws->draining[k].kill_at_ms < ws->draining[oldest].kill_at_ms)
				oldest = k;
		}
		if (k == sizeof(ws->draining) / sizeof(ws->draining[0])) {
			/* Too many generations still draining (many live changes
			 * within one drain time): the oldest one goes now; its
			 * connections are the likeliest to be stale. */
			k = oldest;
			fprintf(stderr, "regwalld: too many draining workers; worker %d killed\n",
				(int)ws->draining[k].pid);
			kill(ws->draining[k].pid, SIGKILL);
			waitpid(ws->draining[k].pid, NULL, 0);
			rw_workers_draining_gone(ws, &ws->draining[k]);
		}
		/* its channel stays open: a draining worker still sends the
		 * events of the connections it finishes */
		rw_workers_chan_unwatch(ws, s->stop_w, &s->heard);
		ws->draining[k] = (struct rw_worker_draining){ .pid = s->pid, .kill_at_ms = kill_at,
							       .chan = s->stop_w,
							       .generation = s->generation,
							       .heard = s->heard };
		ws->draining[k].heard.reg = false;
		ws->draining[k].heard.mask = 0;
		rw_workers_chan_watch(ws, s->stop_w, &ws->draining[k].heard);
		s->pid = 0;
		s->stop_w = -1;
	}
}

static int rw_workers_spawn(struct rw_workers *ws, unsigned i, struct rw_diag *diag);
static void rw_workers_exited(struct rw_workers *ws, pid_t pid, int status);
static void rw_workers_push(struct rw_workers *ws, unsigned i, uint16_t type, const void *body,
			    size_t len, const char *what);
static bool rw_workers_new_secret(struct rw_workers *ws);
static void rw_workers_crashed(struct rw_workers *ws, unsigned i, long long now);

/* Slot i's backoff is over: its sockets back (if they were closed while
 * it waited), then a worker. A failure counts as another crash. */
static void rw_workers_restart(struct rw_workers *ws, unsigned i, long long now)
{
	struct rw_worker_slot *s = &ws->slot[i];
	s->restart_at_ms = 0;
	ws->restarts++; /* metrics: regwall_worker_restarts_total */
	struct rw_diag diag;
	rw_diag_init(&diag);
	int r = 0;
	if (s->sockets_dropped && ws->pol) {
		struct rw_fwd_opts o;
		rw_fwd_opts_default(&o);
		for (size_t j = 0; j < ws->cur.n && !r; j++)
			r = rw_workers_open_one(ws->pol, j, &ws->cur.v[j], ws->n, o.backlog, &diag);
		if (!r)
			s->sockets_dropped = false;
	}
	if (!r) {
		/* The restarted worker gets its generation's bytes (the TLS
		 * files as read at the start or reload) and its ticket secret:
		 * it verifies exactly as its siblings, so sessions resume
		 * across them. */
		r = rw_workers_spawn(ws, i, &diag);
	}
	rw_diag_print(&diag, stderr);
	if (r) {
		s->last_start_ms = now;
		rw_workers_crashed(ws, i, now);
	}
}

long long rw_workers_next_ms(const struct rw_workers *ws)
{
	long long now = rw_workers_now_ms(), best = -1;
	for (unsigned i = 0; i < ws->n && i < RW_WORKERS_MAX; i++) {
		long long at = ws->slot[i].restart_at_ms;
		if (!at)
			continue;
		long long d = at > now ? at - now : 0;
		if (best < 0 || d < best)
			best = d;
	}
	return best;
}

bool rw_workers_failed(const struct rw_workers *ws, char *why, size_t cap)
{
	if (ws->n == 0 || rw_workers_alive(ws) > 0)
		return false;
	for (unsigned i = 0; i < ws->n; i++)
		if (!ws->slot[i].restart_at_ms || !ws->slot[i].exhausted)
			return false;
	snprintf(why, cap,
		 "no worker stays up: every one of %u slot%s crashed more than %d times a minute",
		 ws->n, ws->n == 1 ? "" : "s", RW_BACKOFF_PER_MIN);
	return true;
}

void rw_workers_tick(struct rw_workers *ws)
{
	long long now = rw_workers_now_ms();
	for (unsigned i = 0; i < ws->n && i < RW_WORKERS_MAX; i++)
		if (ws->slot[i].restart_at_ms && now >= ws->slot[i].restart_at_ms &&
		    !ws->slot[i].pid)
			rw_workers_restart(ws, i, now);
	for (size_t k = 0; k < sizeof(ws->draining) / sizeof(ws->draining[0]); k++) {
		struct rw_worker_draining *dr = &ws->draining[k];
		if (dr->pid && now >= dr->kill_at_ms) {
			fprintf(stderr, "regwalld: draining worker %d past its time; killed\n",
				(int)dr->pid);
			kill(dr->pid, SIGKILL);
			waitpid(dr->pid, NULL, 0);
			rw_workers_draining_gone(ws, dr);
		}
	}
}

/* A new ticket secret; false if the kernel cannot give one: the workers
 * then run without resumption rather than with a guessable key. */
static bool rw_workers_new_secret(struct rw_workers *ws)
{
	return getrandom(ws->ticket_secret, sizeof(ws->ticket_secret), 0) ==
	       (ssize_t)sizeof(ws->ticket_secret);
}

int rw_workers_start(struct rw_workers *ws, const struct rw_policy *p, struct rw_diag *diag)
{
	/* Every socket first: a listener that cannot be bound fails here,
	 * with the old generation still serving. */
	if (!ws->have_next || !rw_workers_lset_for(&ws->next, p)) {
		int r = rw_workers_prepare(ws, p, diag);
		if (r)
			return r;
	}
	/* This generation's TLS files, read once (as root): its workers, also
	 * those restarted later, get these bytes, so a file being rotated
	 * later does not break a crash restart. The daemon read and checked
	 * them before it applied the policy (rw_workers_next_pem), so nothing
	 * here can fail after the policy changed; other callers (tests)
	 * have them read now. */
	struct rw_pem_set pem = { 0 };
	if (ws->have_next_pem) {
		pem = ws->next_pem;
		ws->next_pem = (struct rw_pem_set){ 0 };
		ws->have_next_pem = false;
	} else {
		char perr[256] = "";
		int pr = rw_pem_set_read(&pem, p, perr, sizeof(perr));
		if (pr) {
			rw_pem_set_free(&pem);
			rw_diag_err(diag, NULL, 0, "%s", perr[0] ? perr : rw_strerror(pr));
			return pr;
		}
	}
	rw_pem_set_free(&ws->pem);
	ws->pem = pem;
	bool tickets = rw_workers_new_secret(ws);
	/* the shared push buckets meter by this policy from now on, also in
	 * the old generation while it drains */
	if (ws->limit)
		if (rw_limit_set_policy(ws->limit, &p->opts) != 0)
			fprintf(stderr, "regwalld: the shared push buckets' lock is held by a stuck "
					"worker; they keep the previous rates until the next reload\n");
	struct rw_worker_slot old[RW_WORKERS_MAX];
	memcpy(old, ws->slot, sizeof(old));
	uint32_t old_drain_ms = ws->drain_ms;
	struct rw_worker_lset old_set = ws->cur;
	ws->cur = ws->next;
	ws->next = (struct rw_worker_lset){ 0 };
	ws->have_next = false;
	ws->pol = p;
	ws->drain_ms = p->limits.drain_timeout_ms;
	ws->tickets = tickets;
	ws->generation++;
	/* The new generation first: it accepts on the sockets at once, and
	 * until it does, connections wait in their queues; then the old one
	 * stops accepting. At no point is nobody listening. */
	int r = 0;
	bool failed[RW_WORKERS_MAX] = { false };
	for (unsigned i = 0; i < RW_WORKERS_MAX; i++) {
		/* the crash budget stays with the slot across generations */
		ws->slot[i] = (struct rw_worker_slot){ .stop_w = -1, .bo = old[i].bo };
		old[i].restart_at_ms = 0;
		if (i >= ws->n)
			continue;
		int e = rw_workers_spawn(ws, i, diag);
		if (e) {
			failed[i] = true;
			r = r ? r : e;
		}
	}
	/* Retire an old worker only once its successor is up: a new worker
	 * that cannot start (a key file unreadable mid-rotation, fork
	 * failing) must not leave its slot with nobody accepting. That slot
	 * keeps its old worker, on the previous policy, until it is replaced
	 * by a later start or restarted after a crash. */
	rw_workers_wait_ready(ws, failed, diag);
	for (unsigned i = 0; i < ws->n; i++) {
		if (!failed[i])
			continue;
		r = r ? r : RW_EIO;
		if (ws->slot[i].pid) { /* started, then died or hung: gone for good */
			kill(ws->slot[i].pid, SIGKILL);
			waitpid(ws->slot[i].pid, NULL, 0);
			rw_workers_clear_ws(ws, &ws->slot[i]);
		}
		if (old[i].pid) {
			rw_diag_err(diag, NULL, 0,
				    "worker slot %u: the new worker did not start; the previous one "
				    "keeps serving on the old policy",
				    i);
			ws->slot[i] = old[i];
			old[i] = (struct rw_worker_slot){ .stop_w = -1 };
			failed[i] = false; /* its sockets stay: the old worker uses them */
		}
	}
	rw_workers_retire(ws, old, old_drain_ms);
	/* listeners gone from the policy: the old workers drop their copies
	 * as they stop, this closes the last one */
	rw_workers_lset_free(&old_set, &ws->cur);
	for (unsigned i = 0; i < ws->n; i++)
		if (failed[i])
			rw_workers_lset_drop_slot(&ws->cur, i);
	return r;
}

/* Slot i runs a worker of an older generation (its successor did not
 * start at the last rw_workers_start): a live change is for the current
 * policy, which that worker does not have. Start a successor on the
 * current policy as rw_workers_start does (the old one stops only once
 * the new one is ready; if it does not come up, the old one stays). */
static int rw_workers_replace_old(struct rw_workers *ws, unsigned i, struct rw_diag *diag)
{
	struct rw_worker_slot old[RW_WORKERS_MAX];
	bool failed[RW_WORKERS_MAX];
	for (unsigned k = 0; k < RW_WORKERS_MAX; k++) {
		old[k] = (struct rw_worker_slot){ .stop_w = -1 };
		failed[k] = k != i; /* rw_workers_wait_ready: this slot only */
	}
	old[i] = ws->slot[i];
	ws->slot[i] = (struct rw_worker_slot){ .stop_w = -1, .bo = old[i].bo };
	failed[i] = rw_workers_spawn(ws, i, diag) != 0;
	rw_workers_wait_ready(ws, failed, diag);
	if (failed[i]) {
		if (ws->slot[i].pid) {
			kill(ws->slot[i].pid, SIGKILL);
			waitpid(ws->slot[i].pid, NULL, 0);
			rw_workers_clear_ws(ws, &ws->slot[i]);
		}
		ws->slot[i] = old[i];
		rw_diag_err(diag, NULL, 0,
			    "worker slot %u: runs generation %u's policy and its successor did not "
			    "start; it keeps serving without this change",
			    i, old[i].generation);
		return RW_EIO;
	}
	rw_workers_retire(ws, old, ws->drain_ms);
	return 0;
}

int rw_workers_delta(struct rw_workers *ws, bool add, size_t net_index, const struct rw_cidr *c,
		     struct rw_diag *diag)
{
	if (ws->n == 0 || !ws->pol || ws->generation == 0)
		return 0; /* no worker: later ones fork with the policy as it is */
	if (net_index >= ws->pol->n_networks || net_index > UINT32_MAX)
		return RW_EINVAL;
	ws->live_seq++;
	struct rw_chan_net m = { .seq = ws->live_seq,
				 .gen = ws->generation,
				 .net = (uint32_t)net_index,
				 .family = c->family,
				 .prefix = c->prefix };
	memcpy(m.addr, c->addr, sizeof(m.addr));
	int r = 0;
	for (unsigned i = 0; i < ws->n && i < RW_WORKERS_MAX; i++) {
		struct rw_worker_slot *s = &ws->slot[i];
		if (!s->pid)
			continue; /* waiting for its restart: forks with the changed policy */
		if (s->generation != ws->generation) {
			ws->live_restarts++;
			int e = rw_workers_replace_old(ws, i, diag);
			r = r ? r : e;
			continue;
		}
		char what[48];
		snprintf(what, sizeof(what), "live change #%llu", (unsigned long long)m.seq);
		rw_workers_push(ws, i, add ? RW_CHAN_NET_ADD : RW_CHAN_NET_DEL, &m, sizeof(m), what);
	}
	return r;
}

/* Send one delta to slot i's worker. One that would miss it (its channel
 * is full: the worker has not read it for 512 messages; or gone: it is
 * ending) must not go on accepting on a state the parent no longer has:
 * it ends now and its slot restarts, like after a crash, from what the
 * parent holds now (its boot bundle carries the change). */
static void rw_workers_push(struct rw_workers *ws, unsigned i, uint16_t type, const void *body,
			    size_t len, const char *what)
{
	struct rw_worker_slot *s = &ws->slot[i];
	int e = rw_chan_send(s->stop_w, type, 0, body, len);
	if (e == 0)
		return;
	pid_t pid = s->pid;
	int status = 0;
	ws->live_restarts++;
	fprintf(stderr, "regwalld: worker %d cannot take %s (%s); restarting slot %u on the "
			"current policy\n",
		(int)pid, what, e == RW_EINCOMPLETE ? "its channel is full" : "its channel is closed",
		i);
	kill(pid, SIGKILL);
	if (waitpid(pid, &status, 0) == pid)
		rw_workers_exited(ws, pid, status);
}

/* One ban delta to every worker in a slot, whatever its generation. */
static void rw_workers_ban_send(struct rw_workers *ws, bool add, const struct rw_cidr *c,
				uint64_t expires_ms)
{
	struct rw_chan_ban m = { .expires_ms = add ? expires_ms : 0,
				 .family = c->family,
				 .prefix = c->prefix };
	memcpy(m.addr, c->addr, sizeof(m.addr));
	char cs[64], what[96];
	rw_cidr_format(c, cs, sizeof(cs));
	snprintf(what, sizeof(what), "the %s of %s", add ? "ban" : "unban", cs);
	for (unsigned i = 0; i < ws->n && i < RW_WORKERS_MAX; i++)
		if (ws->slot[i].pid) /* a slot waiting for its restart forks with ws->bans */
			rw_workers_push(ws, i, add ? RW_CHAN_BAN_ADD : RW_CHAN_BAN_DEL, &m,
					sizeof(m), what);
}

int rw_workers_ban(struct rw_workers *ws, bool add, const struct rw_cidr *c, uint64_t expires_ms,
		   struct rw_diag *diag)
{
	if (!rw_bans_cidr_ok(c) || (add && expires_ms == 0))
		return RW_EINVAL;
	(void)rw_bans_prune(&ws->bans, rw_bans_now_ms());
	/* the list first: a worker restarted below boots with it */
	if (add) {
		int r = rw_bans_add(&ws->bans, c, expires_ms);
		if (r) {
			rw_diag_err(diag, NULL, 0, "the proxy workers' ban list: %s", rw_strerror(r));
			return r;
		}
	} else {
		(void)rw_bans_del(&ws->bans, c); /* absent: expired, or a meter's ban */
	}
	rw_workers_ban_send(ws, add, c, expires_ms);
	return 0;
}

/* Does part p hold c with about expiry exp (within slack; slack 0: any)? */
static bool rw_workers_bans_has(const struct rw_bans_part *p, const struct rw_cidr *c,
				uint64_t exp, uint64_t slack)
{
	long at = rw_cidrset_find_exact(p->set.v, p->set.n, c);
	if (at < 0)
		return false;
	uint64_t e = p->exp[at];
	return slack == 0 || (e > exp ? e - exp : exp - e) < slack;
}

#define RW_WORKERS_BAN_SLACK_MS 1000

/* One delta for each member of `from` that `to` lacks: deletions (add
 * false: from the old list, membership only) or additions (from the new
 * list; also a ban whose expiry moved by the slack or more). */
static void rw_workers_bans_diff(struct rw_workers *ws, const struct rw_bans_part *from,
				 const struct rw_bans_part *to, bool add)
{
	for (size_t i = 0; i < from->set.n; i++)
		if (!rw_workers_bans_has(to, &from->set.v[i], from->exp[i],
					 add ? RW_WORKERS_BAN_SLACK_MS : 0))
			rw_workers_ban_send(ws, add, &from->set.v[i], from->exp[i]);
}

void rw_workers_bans_replace(struct rw_workers *ws, struct rw_bans *nb)
{
	struct rw_bans old = ws->bans;
	ws->bans = *nb; /* first: a worker restarted below boots with it */
	rw_bans_init(nb);
	/* deletions first, so that no addition relies on the worker
	 * replacing an overlapping prefix it still holds */
	rw_workers_bans_diff(ws, &old.host, &ws->bans.host, false);
	rw_workers_bans_diff(ws, &old.pfx, &ws->bans.pfx, false);
	rw_workers_bans_diff(ws, &ws->bans.host, &old.host, true);
	rw_workers_bans_diff(ws, &ws->bans.pfx, &old.pfx, true);
	rw_bans_free(&old);
}

void rw_workers_stop(struct rw_workers *ws)
{
	for (size_t k = 0; k < sizeof(ws->draining) / sizeof(ws->draining[0]); k++)
		if (ws->draining[k].pid) {
			kill(ws->draining[k].pid, SIGKILL);
			waitpid(ws->draining[k].pid, NULL, 0);
			rw_workers_draining_gone(ws, &ws->draining[k]);
		}
	for (unsigned i = 0; i < RW_WORKERS_MAX; i++)
		if (ws->slot[i].pid)
			(void)rw_chan_send(ws->slot[i].stop_w, RW_CHAN_STOP, 0, NULL, 0);
	long long deadline = rw_workers_now_ms() + RW_WORKERS_STOP_MS;
	for (;;) {
		unsigned left = 0;
		for (unsigned i = 0; i < RW_WORKERS_MAX; i++) {
			if (!ws->slot[i].pid)
				continue;
			if (waitpid(ws->slot[i].pid, NULL, WNOHANG) == ws->slot[i].pid)
				rw_workers_clear_ws(ws, &ws->slot[i]);
			else
				left++;
		}
		if (!left)
			return;
		if (rw_workers_now_ms() > deadline) {
			for (unsigned i = 0; i < RW_WORKERS_MAX; i++) {
				if (!ws->slot[i].pid)
					continue;
				kill(ws->slot[i].pid, SIGKILL);
				waitpid(ws->slot[i].pid, NULL, 0);
				rw_workers_clear_ws(ws, &ws->slot[i]);
			}
			return;
		}
		struct timespec ts = { 0, 20 * 1000000 };
		nanosleep(&ts, NULL);
	}
}

/* Slot worker pid ended with status (from waitpid). */
static void rw_workers_exited(struct rw_workers *ws, pid_t pid, int status)
{
	for (unsigned i = 0; i < RW_WORKERS_MAX; i++) {
		struct rw_worker_slot *s = &ws->slot[i];
		if (s->pid != pid)
			continue;
		rw_workers_clear_ws(ws, s);
		int code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
		if (code == RW_WORKER_EXIT_NOTHING) {
			fprintf(stderr, "regwalld: no passthrough/terminate listener to serve; "
					"data path idle\n");
			rw_workers_lset_drop_slot(&ws->cur, i);
			return;
		}
		if (code == RW_WORKER_EXIT_FATAL) {
			fprintf(stderr, "regwalld: worker %d could not start; not restarted "
					"(fix the listeners and reload)\n", (int)pid);
			rw_workers_lset_drop_slot(&ws->cur, i);
			return;
		}
		if (code == RW_WORKER_EXIT_BOOT) {
			fprintf(stderr, "regwalld: worker %d could not boot (see its message "
					"above); restarting slot %u\n", (int)pid, i);
		} else if (code == RW_WORKER_EXIT_LIVE) {
			ws->live_restarts++;
			fprintf(stderr, "regwalld: worker %d could not apply a live change; "
					"restarting slot %u on the current policy\n", (int)pid, i);
		} else if (WIFSIGNALED(status))
			fprintf(stderr, "regwalld: worker %d killed by signal %d\n", (int)pid,
				WTERMSIG(status));
		else
			fprintf(stderr, "regwalld: worker %d exited with %d\n", (int)pid, code);
		rw_workers_crashed(ws, i, rw_workers_now_ms());
		return;
	}
}

void rw_workers_reap(struct rw_workers *ws)
{
	int status;
	pid_t pid;
	while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
		for (size_t k = 0; k < sizeof(ws->draining) / sizeof(ws->draining[0]); k++)
			if (ws->draining[k].pid == pid) /* an old generation finished */
				rw_workers_draining_gone(ws, &ws->draining[k]);
		rw_workers_exited(ws, pid, status);
	}
}

/* Slot i's worker died unexpectedly (or could not be restarted): restart
 * it now or after its backoff (rw_backoff.h); never abandon the slot. */
static void rw_workers_crashed(struct rw_workers *ws, unsigned i, long long now)
{
	struct rw_worker_slot *s = &ws->slot[i];
	if (i >= ws->n) {
		rw_workers_lset_drop_slot(&ws->cur, i);
		return;
	}
	bool exhausted = false;
	long long delay = rw_backoff_crash(&s->bo, s->last_start_ms, now, &exhausted);
	s->exhausted = exhausted;
	if (delay == 0) {
		s->restart_at_ms = 0;
		rw_workers_restart(ws, i, now);
		return;
	}
	s->restart_at_ms = now + delay;
	bool drop = delay >= RW_WORKERS_DROP_AFTER_MS && !s->sockets_dropped;
	fprintf(stderr, "regwalld: worker slot %u: %u crash%s in a row%s; restart in %lld ms%s\n",
		i, s->bo.streak, s->bo.streak == 1 ? "" : "es",
		exhausted ? ", restart budget spent" : "", delay,
		drop ? " (its listening sockets closed meanwhile)" : "");
	if (drop) {
		rw_workers_lset_drop_slot(&ws->cur, i);
		s->sockets_dropped = true;
	}
}

unsigned rw_workers_alive(const struct rw_workers *ws)
{
	unsigned n = 0;
	for (unsigned i = 0; i < RW_WORKERS_MAX; i++)
		n += ws->slot[i].pid != 0;
	return n;
}

void rw_workers_fini(struct rw_workers *ws)
{
	rw_workers_stop(ws);
	rw_workers_prepare_cancel(ws);
	rw_workers_lset_free(&ws->cur, NULL);
	rw_limit_destroy(ws->limit);
	ws->limit = NULL;
	if (ws->limit_fd >= 0)
		close(ws->limit_fd);
	ws->limit_fd = -1;
	rw_pem_set_free(&ws->pem);
	rw_bans_free(&ws->bans);
}

int rw_workers_set_user(struct rw_workers *ws, const char *user, struct rw_diag *diag)
{
	if (geteuid() != 0 && !user)
		return 0; /* not root: nothing to drop; the sandbox still applies */
	char err[160];
	int r = rw_sandbox_user_lookup(user, &ws->user, err, sizeof(err));
	if (r)
		rw_diag_err(diag, NULL, 0, "%s", err);
	return r;
}

void rw_workers_attach(struct rw_workers *ws, struct rw_loop *loop, rw_workers_event_fn *on_event,
		       void *ctx)
{
	ws->loop = loop;
	ws->on_event = on_event;
	ws->event_ctx = ctx;
	for (unsigned i = 0; i < RW_WORKERS_MAX; i++)
		if (ws->slot[i].pid)
			rw_workers_chan_watch(ws, ws->slot[i].stop_w, &ws->slot[i].heard);
	for (size_t k = 0; k < sizeof(ws->draining) / sizeof(ws->draining[0]); k++)
		if (ws->draining[k].chan >= 0)
			rw_workers_chan_watch(ws, ws->draining[k].chan, &ws->draining[k].heard);
}

void rw_workers_detach(struct rw_workers *ws)
{
	for (unsigned i = 0; i < RW_WORKERS_MAX; i++)
		if (ws->slot[i].pid)
			rw_workers_chan_unwatch(ws, ws->slot[i].stop_w, &ws->slot[i].heard);
	for (size_t k = 0; k < sizeof(ws->draining) / sizeof(ws->draining[0]); k++)
		if (ws->draining[k].chan >= 0)
			rw_workers_chan_unwatch(ws, ws->draining[k].chan, &ws->draining[k].heard);
	ws->loop = NULL;
	ws->on_event = NULL;
	ws->event_ctx = NULL;
}

void rw_workers_status_json(const struct rw_workers *ws, json_t *obj)
{
	long long now = rw_workers_now_ms();
	json_t *arr = json_array();
	uint64_t dropped = ws->gone_events_dropped, sent = ws->gone_events_sent;
	unsigned stalled = 0, draining = 0;
	for (unsigned i = 0; i < RW_WORKERS_MAX; i++) {
		const struct rw_worker_slot *s = &ws->slot[i];
		if (!s->pid)
			continue;
		/* not heard since it started counts from the start */
		long long since = now - (s->heard.at_ms ? s->heard.at_ms : s->last_start_ms);
		bool st = since >= RW_WORKERS_STALL_MS;
		stalled += st;
		dropped += s->heard.st.events_dropped;
		sent += s->heard.st.events_sent;
		json_array_append_new(
			arr, json_pack("{s:I, s:I, s:I, s:I, s:I, s:b, s:I, s:I, s:I}", "slot",
				       (json_int_t)i, "pid", (json_int_t)s->pid, "generation",
				       (json_int_t)s->generation, "connections",
				       (json_int_t)s->heard.st.conns, "last_heard_ms",
				       (json_int_t)since, "stalled", st, "events_sent",
				       (json_int_t)s->heard.st.events_sent, "events_dropped",
				       (json_int_t)s->heard.st.events_dropped, "live_changes",
				       (json_int_t)s->heard.st.live_seq));
	}
	for (size_t k = 0; k < sizeof(ws->draining) / sizeof(ws->draining[0]); k++) {
		const struct rw_worker_draining *dr = &ws->draining[k];
		if (!dr->pid)
			continue;
		draining++;
		dropped += dr->heard.st.events_dropped;
		sent += dr->heard.st.events_sent;
	}
	json_object_set_new(obj, "worker_list", arr);
	json_object_set_new(obj, "workers_stalled", json_integer(stalled));
	json_object_set_new(obj, "workers_draining", json_integer(draining));
	/* live network changes sent; each worker's live_changes reaches it
	 * once it applied them all (its next heartbeat) */
	json_object_set_new(obj, "live_changes", json_integer((json_int_t)ws->live_seq));
	json_object_set_new(obj, "live_change_restarts",
			    json_integer((json_int_t)ws->live_restarts));
	json_object_set_new(obj, "events",
			    json_pack("{s:I, s:I, s:I}", "received", (json_int_t)ws->events_received,
				      "sent_by_workers", (json_int_t)sent, "dropped_in_workers",
				      (json_int_t)dropped));
}
