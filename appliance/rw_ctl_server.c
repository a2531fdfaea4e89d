#include "appliance/rw_ctl_server.h"
#include "appliance/rw_wg_peers.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include <systemd/sd-daemon.h>

#include "appliance/rw_audit.h"
#include "appliance/rw_blocked.h"
#include "appliance/rw_ctl.h"
#include "appliance/rw_evout.h"
#include "appliance/rw_metrics_svc.h"
#include "appliance/rw_path.h"
#include "base/rw_loop.h"

/* Clients are cheap until they send: a silent one holds its struct and
 * fd, no buffer. Past the cap, the oldest client with no request under
 * way makes room (a flood of silent connections cannot lock the admin
 * out); only when every client is mid-request is a newcomer told "busy". */
#define RW_CTL_MAX_CLIENTS 512
#define RW_CTL_FIRST_MS 5000   /* connected, nothing sent yet: closed after */
#define RW_CTL_IDLE_MS 30000   /* between requests */
#define RW_CTL_WRITE_MS 2000   /* a reply that makes no progress: closed */
#define RW_CTL_DISCARD_MS 10000 /* the rest of an overlong line is read this long */
#define RW_CTL_TICK_MS 1000

struct rw_ctl_srv;

struct rw_ctl_client {
	struct rw_ctl_srv *srv;
	struct rw_ctl_client *prev, *next; /* oldest first */
	int fd;
	bool reg;
	unsigned mask;
	char *buf; /* RW_CTL_LINE_MAX bytes, from the first byte read */
	size_t len;
	char *out; /* the reply being written (one at a time) */
	size_t out_len, out_off;
	bool sent_any;   /* a byte arrived: the first-request timeout is over */
	bool close_after; /* close once out is written */
	/* An overlong line was answered: its rest is read and dropped until
	 * its '\n' (then the client is closed), so that a client still
	 * writing it gets to read the answer instead of a reset. */
	bool discarding;
	uint64_t deadline_base; /* when the current timeout started */
	struct rw_timer timer;
};

struct rw_ctl_srv {
	struct rw_loop loop;
	struct rw_evout evout; /* the workers' events, to stdout */
	struct rw_metrics_svc metrics; /* counters and the metrics endpoint */
	struct rw_blocked blocked; /* log.blocked: NFLOG drops + refusals */
	struct rw_daemon *d;
	int lfd, sfd;
	struct rw_ctl_req *req; /* up to 1024 prefixes: off the stack */
	struct rw_ctl_client *head, *tail;
	size_t n_clients;
	struct rw_timer tick;
	int rc;
	bool watchdog; /* the unit set WatchdogSec */
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

static void rw_ctl_client_close(struct rw_ctl_client *c)
{
	struct rw_ctl_srv *srv = c->srv;
	rw_loop_fd_want(&srv->loop, c->fd, &c->reg, &c->mask, 0, NULL, c);
	rw_loop_timer_cancel(&srv->loop, &c->timer);
	close(c->fd);
	if (c->prev)
		c->prev->next = c->next;
	else
		srv->head = c->next;
	if (c->next)
		c->next->prev = c->prev;
	else
		srv->tail = c->prev;
	srv->n_clients--;
	free(c->buf);
	free(c->out);
	free(c);
}

static void rw_ctl_client_io(struct rw_loop *l, int fd, unsigned events, void *arg);

/* The client's one timeout, from what it is doing: writing a reply,
 * dropping an overlong line, waiting for a first or a next request. */
static uint64_t rw_ctl_client_deadline(const struct rw_ctl_client *c)
{
	uint64_t ms = c->out ? RW_CTL_WRITE_MS
		    : c->discarding ? RW_CTL_DISCARD_MS
		    : c->sent_any ? RW_CTL_IDLE_MS : RW_CTL_FIRST_MS;
	return c->deadline_base + ms;
}

/* Interest and timer from the state: read while no reply is pending (one
 * request at a time, so a client that does not read holds one reply, not
 * a queue), write while one is. */
static int rw_ctl_client_arm(struct rw_ctl_client *c)
{
	struct rw_loop *l = &c->srv->loop;
	unsigned want = c->out ? RW_LOOP_WRITE : c->close_after ? 0 : RW_LOOP_READ;
	if (rw_loop_fd_want(l, c->fd, &c->reg, &c->mask, want, rw_ctl_client_io, c))
		return -1;
	uint64_t dl = rw_ctl_client_deadline(c), now = rw_loop_now_ms(l);
	return rw_loop_timer_arm(l, &c->timer, dl > now ? dl - now : 0);
}

/* Write what the socket takes now. 1 = all written, 0 = more later,
 * -1 = the client is gone. */
static int rw_ctl_client_flush(struct rw_ctl_client *c)
{
	while (c->out_off < c->out_len) {
		ssize_t w = send(c->fd, c->out + c->out_off, c->out_len - c->out_off,
				 MSG_NOSIGNAL | MSG_DONTWAIT);
		if (w > 0) {
			c->out_off += (size_t)w;
			c->deadline_base = rw_loop_now_ms(&c->srv->loop); /* progress */
			continue;
		}
		if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
			return 0;
		return -1;
	}
	free(c->out);
	c->out = NULL;
	c->out_len = c->out_off = 0;
	c->deadline_base = rw_loop_now_ms(&c->srv->loop);
	return 1;
}

/* Queue one reply line (the JSON and its '\n'). */
static int rw_ctl_client_reply(struct rw_ctl_client *c, json_t *reply)
{
	char *text = reply ? json_dumps(reply, JSON_COMPACT) : NULL;
	if (!text)
		return -1;
	size_t n = strlen(text);
	char *out = realloc(text, n + 2);
	if (!out) {
		free(text);
		return -1;
	}
	out[n] = '\n';
	out[n + 1] = '\0';
	c->out = out;
	c->out_len = n + 1;
	c->out_off = 0;
	c->deadline_base = rw_loop_now_ms(&c->srv->loop);
	return 0;
}

/* A line longer than the limit is not parsed; say so once, stop writing
 * to the client (it sees the answer, then end of file) and drop what it
 * still sends of that line. */
static int rw_ctl_client_overlong(struct rw_ctl_client *c)
{
	char msg[64];
	snprintf(msg, sizeof(msg), "request line longer than %d bytes", RW_CTL_LINE_MAX);
	json_t *reply = json_pack("{s:b, s:s}", "ok", 0, "error", msg);
	int r = rw_ctl_client_reply(c, reply);
	json_decref(reply);
	if (r)
		return -1;
	fprintf(stderr, "regwalld: control: %s\n", msg);
	c->discarding = true;
	c->len = 0;
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

/* Answer the first complete line in the buffer, if there is one and no
 * reply is pending. -1 when the client must be dropped. */
static int rw_ctl_client_line(struct rw_ctl_client *c)
{
	if (c->out || c->discarding || !c->buf)
		return 0;
	char *nl = memchr(c->buf, '\n', c->len);
	if (!nl)
		return c->len >= RW_CTL_LINE_MAX ? rw_ctl_client_overlong(c) : 0;
	size_t line = (size_t)(nl - c->buf);
	char err[512];
	json_t *reply;
	struct rw_ctl_req *req = c->srv->req;
	if (rw_ctl_parse_request(c->buf, line, req, err, sizeof(err)) == 0) {
		reply = rw_daemon_handle(c->srv->d, req);
		rw_ctl_log_result(req, reply);
	} else {
		reply = json_pack("{s:b, s:s}", "ok", 0, "error", err);
	}
	int r = rw_ctl_client_reply(c, reply);
	json_decref(reply);
	if (r)
		return -1;
	memmove(c->buf, nl + 1, c->len - line - 1);
	c->len -= line + 1;
	return 0;
}

/* Read what is there (only while no reply is pending). 0 = ok, -1 = gone. */
static int rw_ctl_client_read(struct rw_ctl_client *c)
{
	if (!c->buf) {
		c->buf = malloc(RW_CTL_LINE_MAX);
		if (!c->buf)
			return -1;
	}
	size_t room = c->discarding ? RW_CTL_LINE_MAX : RW_CTL_LINE_MAX - c->len;
	char *at = c->discarding ? c->buf : c->buf + c->len;
	ssize_t r = recv(c->fd, at, room, MSG_DONTWAIT);
	if (r == 0)
		return -1;
	if (r < 0)
		return (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) ? 0 : -1;
	c->sent_any = true;
	c->deadline_base = rw_loop_now_ms(&c->srv->loop);
	if (c->discarding) {
		if (memchr(at, '\n', (size_t)r))
			return -1; /* the overlong line ended: done with this client */
		return 0;
	}
	c->len += (size_t)r;
	return 0;
}

static void rw_ctl_client_io(struct rw_loop *l, int fd, unsigned events, void *arg)
{
	struct rw_ctl_client *c = arg;
	if (c->out) {
		int f = rw_ctl_client_flush(c);
		if (f < 0)
			goto drop;
		if (f > 0 && c->discarding)
			shutdown(c->fd, SHUT_WR); /* the answer is out: end of file next */
	} else if (events & (RW_LOOP_READ | RW_LOOP_ERROR)) {
		if (rw_ctl_client_read(c))
			goto drop;
	}
	/* Answer the next buffered line once the last reply is out; write it
	 * at once (usually all of it fits the socket). */
	while (!c->out) {
		size_t before = c->len;
		if (rw_ctl_client_line(c))
			goto drop;
		if (!c->out)
			break;
		int f = rw_ctl_client_flush(c);
		if (f < 0)
			goto drop;
		if (f > 0 && c->discarding)
			shutdown(c->fd, SHUT_WR);
		if (c->len == before)
			break;
	}
	if (rw_ctl_client_arm(c) == 0)
		return;
drop:
	rw_ctl_client_close(c);
}

static void rw_ctl_client_timeout(struct rw_loop *l, void *arg)
{
	struct rw_ctl_client *c = arg;
	uint64_t dl = rw_ctl_client_deadline(c), now = rw_loop_now_ms(l);
	if (now < dl) {
		rw_loop_timer_arm(l, &c->timer, dl - now);
		return;
	}
	rw_ctl_client_close(c);
}

/* Room for one more: the oldest client with no request under way (no
 * byte buffered, no reply pending) goes. */
static bool rw_ctl_make_room(struct rw_ctl_srv *srv)
{
	for (struct rw_ctl_client *c = srv->head; c; c = c->next)
		if (!c->out && c->len == 0 && !c->discarding) {
			rw_ctl_client_close(c);
			return true;
		}
	return false;
}

static void rw_ctl_on_accept(struct rw_loop *l, int lfd, unsigned events, void *arg)
{
	struct rw_ctl_srv *srv = arg;
	int fd;
	while ((fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK)) >= 0) {
		struct rw_ctl_client *c = NULL;
		if (srv->n_clients < RW_CTL_MAX_CLIENTS || rw_ctl_make_room(srv))
			c = calloc(1, sizeof(*c));
		if (!c || (size_t)fd >= srv->loop.setsize) {
			static const char busy[] = "{\"ok\":false,\"error\":\"busy\"}\n";
			(void)!send(fd, busy, sizeof(busy) - 1, MSG_NOSIGNAL | MSG_DONTWAIT);
			close(fd);
			free(c);
			continue;
		}
		c->srv = srv;
		c->fd = fd;
		c->deadline_base = rw_loop_now_ms(l);
		rw_timer_init(&c->timer, rw_ctl_client_timeout, c);
		c->prev = srv->tail;
		if (srv->tail)
			srv->tail->next = c;
		else
			srv->head = c;
		srv->tail = c;
		srv->n_clients++;
		if (rw_ctl_client_arm(c))
			rw_ctl_client_close(c);
	}
}

static void rw_ctl_after_workers(struct rw_ctl_srv *srv);

static uint64_t rw_ctl_wall_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static void rw_ctl_on_event(void *ctx, const char *line, size_t len)
{
	struct rw_ctl_srv *srv = ctx;
	rw_evout_line(&srv->evout, line, len);
	/* one parse of the line for all the sinks that read it */
	struct rw_evline e = rw_evline_of(line, len);
	if (srv->d->audit)
		(void)rw_audit_event_of(srv->d->audit, &e, srv->d->workers->event_pid,
				     srv->d->workers->event_generation);
	rw_metrics_svc_event(&srv->metrics, &e);
	/* refusals join the kernel's drops in the blocked log */
	rw_blocked_on_evline(&srv->blocked, &e, rw_ctl_wall_ms());
	rw_evline_fini(&e);
}

static void rw_ctl_on_nflog(struct rw_loop *l, int fd, unsigned events, void *arg)
{
	struct rw_ctl_srv *srv = arg;
	rw_blocked_on_readable(&srv->blocked, rw_ctl_wall_ms());
}

/* After the loop: the workers' last events (requests they answer while
 * stopping, events still queued on their channels) reach only the audit
 * chain, which outlives this function (rw_workers_fini drains them). */
static void rw_ctl_on_event_late(void *ctx, const char *line, size_t len)
{
	struct rw_daemon *d = ctx;
	struct rw_evline e = rw_evline_of(line, len);
	(void)rw_audit_event_of(d->audit, &e, d->workers->event_pid, d->workers->event_generation);
	rw_evline_fini(&e);
}

static void rw_ctl_on_signal(struct rw_loop *l, int sfd, unsigned events, void *arg)
{
	struct rw_ctl_srv *srv = arg;
	struct rw_daemon *d = srv->d;
	struct signalfd_siginfo si;
	while (read(sfd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
		if (si.ssi_signo == SIGHUP) {
			struct rw_diag diag;
			rw_diag_init(&diag);
			/* systemd: a reload in progress, then ready again */
			struct timespec ts;
			clock_gettime(CLOCK_MONOTONIC, &ts);
			sd_notifyf(0, "RELOADING=1\nMONOTONIC_USEC=%llu",
				   (unsigned long long)ts.tv_sec * 1000000ull +
					   (unsigned long long)ts.tv_nsec / 1000ull);
			int r = rw_daemon_reload(d, &diag);
			sd_notifyf(0, "READY=1\nSTATUS=%s", r ? "reload failed; old policy in force"
							     : "serving (reloaded)");
			rw_diag_print(&diag, stderr);
			if (r)
				fprintf(stderr, "regwalld: reload failed (%s); old policy kept\n",
					rw_strerror(r));
			else
				fprintf(stderr, "regwalld: reloaded %s\n", d->config_path);
		} else if (si.ssi_signo == SIGCHLD) {
			if (d->wgl) /* wireguard-go's status first (rw_wg_go.h) */
				rw_wgl_reap(d->wgl);
			if (d->workers)
				rw_workers_reap(d->workers);
		} else {
			d->want_exit = 1;
		}
	}
	rw_ctl_after_workers(srv);
}

/* After anything that may have changed the workers: the next due restart
 * sets the tick's time, and a data path that cannot be kept up ends the
 * daemon (non-zero, for the service manager; the table stays). */
static void rw_ctl_after_workers(struct rw_ctl_srv *srv)
{
	struct rw_daemon *d = srv->d;
	if (d->workers) {
		char why[160];
		if (rw_workers_failed(d->workers, why, sizeof(why))) {
			fprintf(stderr, "regwalld: %s; exiting so the service manager restarts "
					"regwalld (table inet regwall stays in force)\n", why);
			srv->rc = RW_EIO;
			d->want_exit = 1;
		}
		long long due = rw_workers_next_ms(d->workers);
		if (due >= 0 && due < RW_CTL_TICK_MS)
			rw_loop_timer_arm(&srv->loop, &srv->tick, (uint64_t)due);
	}
	if (d->want_exit)
		rw_loop_stop(&srv->loop);
}

static void rw_ctl_on_tick(struct rw_loop *l, void *arg)
{
	struct rw_ctl_srv *srv = arg;
	rw_loop_timer_arm(l, &srv->tick, RW_CTL_TICK_MS);
	if (srv->d->workers)
		rw_workers_tick(srv->d->workers);
	/* the guard reads the table's signature back (about once a second)
	 * and runs a restore its rate limit deferred */
	rw_daemon_tick(srv->d);
	rw_metrics_svc_tick(&srv->metrics);
	rw_blocked_tick(&srv->blocked, rw_ctl_wall_ms(), false);
	/* events the workers could not send may have been pushes */
	if (srv->d->audit && srv->d->workers) {
		struct rw_metrics_wsum ws;
		rw_metrics_workers_sum(srv->d->workers, &ws);
		rw_audit_workers_dropped(srv->d->audit, ws.events_dropped);
	}
	/* systemd's watchdog: the loop turned (WatchdogSec is far longer
	 * than a tick) */
	if (srv->watchdog)
		sd_notify(0, "WATCHDOG=1");
	rw_ctl_after_workers(srv);
}

/* nftables events: someone else may have changed table inet regwall */
static void rw_ctl_on_nft(struct rw_loop *l, int fd, unsigned events, void *arg)
{
	struct rw_ctl_srv *srv = arg;
	rw_daemon_on_nft_event(srv->d);
}

/* The blocked log's counts as the metrics' NFLOG family (summed over
 * kernel drops and worker refusals: both are blocked attempts). */
static int rw_ctl_metrics_nflog(void *ctx, struct rw_metrics_nflog *out)
{
	struct rw_blocked *b = ctx;
	if (!b->on)
		return 1;
	struct rw_blocked_stats st;
	rw_blocked_stats(b, &st);
	memset(out, 0, sizeof(*out));
	for (int o = 0; o < RW_BLOCKED_ORIGINS; o++) {
		out->lines += st.lines[o];
		out->summarised += st.summarised[o];
		out->lost_kernel += st.lost[o][RW_BLOCKED_LOST_KERNEL];
		out->lost_write += st.lost[o][RW_BLOCKED_LOST_QUEUE] + st.lost[o][RW_BLOCKED_LOST_WRITE];
	}
	out->summaries = st.summaries;
	out->lost_pcap = st.pcap_lost;
	return 0;
}

static int rw_ctl_metrics_start(struct rw_ctl_srv *srv)
{
	struct rw_diag diag;
	rw_diag_init(&diag);
	int r = rw_metrics_svc_start(&srv->metrics, srv->d, &srv->loop, &srv->evout, &diag);
	if (!r && srv->metrics.on)
		rw_metrics_nflog_source(&srv->metrics.m, rw_ctl_metrics_nflog, &srv->blocked);
	rw_diag_print(&diag, stderr);
	if (r)
		fprintf(stderr, "regwalld: metrics: %s\n", rw_strerror(r));
	return r;
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
	struct rw_ctl_srv srv = { .d = d, .lfd = listen_fd };
	srv.sfd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
	if (srv.sfd < 0) {
		fprintf(stderr, "regwalld: signalfd: %s\n", strerror(errno));
		return RW_EIO;
	}
	struct rlimit rl;
	size_t setsize = 65536;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY &&
	    rl.rlim_cur < setsize)
		setsize = (size_t)rl.rlim_cur;
	/* The NFLOG socket: bound as root, before the loop (and before any
	 * worker exists); a failure leaves the daemon running without it. */
	struct rw_diag bdiag;
	rw_diag_init(&bdiag);
	int br = rw_blocked_open(&srv.blocked, &d->pol, &bdiag);
	rw_diag_print(&bdiag, stderr);
	if (br)
		fprintf(stderr, "regwalld: blocked log off: %s\n", rw_strerror(br));
	srv.req = malloc(sizeof(*srv.req));
	int r = srv.req ? rw_loop_init(&srv.loop, setsize) : RW_ENOMEM;
	if (r) {
		rw_blocked_close(&srv.blocked);
		free(srv.req);
		close(srv.sfd);
		return r;
	}
	rw_timer_init(&srv.tick, rw_ctl_on_tick, &srv);
	if ((rw_blocked_fd(&srv.blocked) >= 0 &&
	     (r = rw_loop_fd_add(&srv.loop, rw_blocked_fd(&srv.blocked), RW_LOOP_READ,
				 rw_ctl_on_nflog, &srv))) ||
	    (r = rw_loop_fd_add(&srv.loop, srv.sfd, RW_LOOP_READ, rw_ctl_on_signal, &srv)) ||
	    (r = rw_loop_fd_add(&srv.loop, listen_fd, RW_LOOP_READ, rw_ctl_on_accept, &srv)) ||
	    (r = rw_loop_timer_arm(&srv.loop, &srv.tick, RW_CTL_TICK_MS)) ||
	    (rw_daemon_guard_fd(d) >= 0 &&
	     (r = rw_loop_fd_add(&srv.loop, rw_daemon_guard_fd(d), RW_LOOP_READ, rw_ctl_on_nft,
				 &srv)))) {
		fprintf(stderr, "regwalld: control loop: %s\n", rw_strerror(r));
		srv.rc = r;
	} else if ((r = rw_evout_init(&srv.evout, STDOUT_FILENO, &srv.loop))) {
		srv.rc = r;
	} else if ((r = rw_ctl_metrics_start(&srv))) {
		srv.rc = r;
	} else {
		d->evout = &srv.evout;
		d->blocked = &srv.blocked;
		uint64_t wd_usec = 0;
		srv.watchdog = sd_watchdog_enabled(0, &wd_usec) > 0;
		sd_notify(0, "READY=1\nSTATUS=serving");
		if (d->workers)
			rw_workers_attach(d->workers, &srv.loop, rw_ctl_on_event, &srv);
		if (d->audit)
			rw_audit_attach(d->audit, &srv.loop);
		/* signals that came before the loop (a SIGHUP during start) */
		rw_ctl_on_signal(&srv.loop, srv.sfd, RW_LOOP_READ, &srv);
		if (!d->want_exit)
			r = rw_loop_run(&srv.loop);
		if (r && !srv.rc)
			srv.rc = r;
	}
	sd_notify(0, "STOPPING=1");
	while (srv.head)
		rw_ctl_client_close(srv.head);
	if (d->workers) {
		rw_workers_detach(d->workers);
		if (d->audit) {
			d->workers->on_event = rw_ctl_on_event_late;
			d->workers->event_ctx = d;
		}
	}
	if (d->audit)
		rw_audit_detach(d->audit);
	d->evout = NULL;
	rw_metrics_svc_stop(&srv.metrics);
	d->blocked = NULL;
	if (rw_blocked_fd(&srv.blocked) >= 0)
		rw_loop_fd_del(&srv.loop, rw_blocked_fd(&srv.blocked));
	rw_blocked_close(&srv.blocked); /* the last summaries and losses, written */
	if (srv.evout.reg)
		rw_loop_fd_del(&srv.loop, STDOUT_FILENO);
	rw_evout_fini(&srv.evout);
	rw_loop_fd_del(&srv.loop, listen_fd);
	rw_loop_fd_del(&srv.loop, srv.sfd);
	if (rw_daemon_guard_fd(d) >= 0)
		rw_loop_fd_del(&srv.loop, rw_daemon_guard_fd(d));
	rw_loop_fini(&srv.loop);
	free(srv.req);
	close(srv.sfd);
	return srv.rc;
}
