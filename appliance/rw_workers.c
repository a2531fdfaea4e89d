#include "appliance/rw_workers.h"

#include <errno.h>
#include <stdbool.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/random.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "fwd/rw_event.h"

#define RW_WORKERS_LIMIT_SLOTS 4096
#define RW_WORKERS_STOP_MS 3000     /* on daemon exit */
/* A draining worker returns by itself at its policy's drain_timeout; the
 * parent kills it only this much later (it may be busy closing). */
#define RW_WORKERS_DRAIN_GRACE_MS 5000
#define RW_WORKERS_RESTARTS_PER_MIN 5

/* Exit codes a worker uses so the parent can tell "nothing to serve" and
 * "cannot open a listener" (restarting would not help) from a crash. */
enum {
	RW_WORKER_EXIT_OK = 0,
	RW_WORKER_EXIT_NOTHING = 3,
	RW_WORKER_EXIT_FATAL = 4,
};

static long long rw_workers_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int rw_workers_init(struct rw_workers *ws, unsigned n, struct rw_diag *diag)
{
	memset(ws, 0, sizeof(*ws));
	if (n > RW_WORKERS_MAX) {
		rw_diag_err(diag, NULL, 0, "at most %d workers", RW_WORKERS_MAX);
		return RW_ERANGE;
	}
	ws->n = n;
	if (n == 0)
		return 0;
	int r = rw_limit_create(&ws->limit, RW_WORKERS_LIMIT_SLOTS);
	if (r)
		rw_diag_err(diag, NULL, 0, "cannot create the shared push limiter: %s", rw_strerror(r));
	return r;
}

static void rw_workers_child(struct rw_workers *ws, int stop_r)
{
	/* The parent blocked these for its signalfd; a worker must die on
	 * SIGTERM like any process. */
	sigset_t all;
	sigemptyset(&all);
	sigprocmask(SIG_SETMASK, &all, NULL);
	signal(SIGHUP, SIG_IGN);
	signal(SIGCHLD, SIG_DFL);
	prctl(PR_SET_PDEATHSIG, SIGTERM);
	if (getppid() == 1)
		_exit(RW_WORKER_EXIT_OK); /* the parent is already gone */
	/* Nothing of the parent's but stdio and the stop pipe: not the
	 * nftables netlink socket, the signalfd, the control socket or a
	 * control client, the other workers' pipes, nor whatever the parent
	 * opens later without telling this list. The stop pipe moves to fd 3
	 * so one close_range covers the rest. */
	int stop_fd = stop_r;
	if (stop_r != 3) {
		stop_fd = dup2(stop_r, 3) == 3 ? 3 : -1;
		if (stop_fd < 0)
			_exit(RW_WORKER_EXIT_FATAL);
	}
	/* a dup2 copy has no FD_CLOEXEC; the worker execs nothing, but keep
	 * the flag as the parent set it */
	(void)fcntl(stop_fd, F_SETFD, FD_CLOEXEC);
	if (close_range(4, ~0U, 0) != 0) {
		/* kernels before 5.9: close one by one */
		long max = sysconf(_SC_OPEN_MAX);
		for (long fd = 4; fd < (max > 0 ? max : 65536); fd++)
			close((int)fd);
	}

	struct rw_fwd_opts o;
	rw_fwd_opts_default(&o);
	rw_fwd_opts_from_policy(&o, ws->pol);
	o.stop_fd = stop_fd;
	o.limit = ws->limit;
	o.ticket_secret = ws->tickets ? ws->ticket_secret : NULL;
	struct rw_fwd_events ev;
	rw_event_json_sink(&ev, stdout);
	int r = rw_fwd_worker_run(ws->pol, &o, &ev);
	fflush(stdout);
	if (r == RW_ENOENT)
		_exit(RW_WORKER_EXIT_NOTHING);
	if (r) {
		fprintf(stderr, "regwalld[worker %d]: %s\n", (int)getpid(), rw_strerror(r));
		_exit(RW_WORKER_EXIT_FATAL);
	}
	_exit(RW_WORKER_EXIT_OK);
}

static int rw_workers_spawn(struct rw_workers *ws, unsigned i, struct rw_diag *diag)
{
	int p[2];
	if (pipe2(p, O_CLOEXEC)) {
		rw_diag_err(diag, NULL, 0, "pipe: %s", strerror(errno));
		return RW_EIO;
	}
	fflush(stdout);
	fflush(stderr);
	pid_t pid = fork();
	if (pid < 0) {
		close(p[0]);
		close(p[1]);
		rw_diag_err(diag, NULL, 0, "fork: %s", strerror(errno));
		return RW_EIO;
	}
	if (pid == 0) {
		close(p[1]);
		rw_workers_child(ws, p[0]);
	}
	close(p[0]);
	ws->slot[i].pid = pid;
	ws->slot[i].stop_w = p[1];
	ws->slot[i].last_start_ms = rw_workers_now_ms();
	return 0;
}

/* Tell the current generation to stop accepting and drain; reaped later. */
static void rw_workers_retire(struct rw_workers *ws)
{
	/* the drain time of the policy these workers were started with (the
	 * daemon has already replaced that policy by now) */
	long long kill_at = rw_workers_now_ms() + (long long)ws->drain_ms + RW_WORKERS_DRAIN_GRACE_MS;
	for (unsigned i = 0; i < RW_WORKERS_MAX; i++) {
		struct rw_worker_slot *s = &ws->slot[i];
		if (!s->pid)
			continue;
		(void)!write(s->stop_w, "x", 1);
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
		}
		ws->draining[k] = (struct rw_worker_draining){ s->pid, kill_at };
		close(s->stop_w);
		s->pid = 0;
		s->stop_w = -1;
	}
}

void rw_workers_tick(struct rw_workers *ws)
{
	long long now = rw_workers_now_ms();
	for (size_t k = 0; k < sizeof(ws->draining) / sizeof(ws->draining[0]); k++) {
		struct rw_worker_draining *dr = &ws->draining[k];
		if (dr->pid && now >= dr->kill_at_ms) {
			fprintf(stderr, "regwalld: draining worker %d past its time; killed\n",
				(int)dr->pid);
			kill(dr->pid, SIGKILL);
			waitpid(dr->pid, NULL, 0);
			dr->pid = 0;
		}
	}
}

int rw_workers_start(struct rw_workers *ws, const struct rw_policy *p, struct rw_diag *diag)
{
	/* A new secret first: if the kernel cannot give one, the workers
	 * run without resumption rather than with a guessable key. */
	bool tickets = getrandom(ws->ticket_secret, sizeof(ws->ticket_secret), 0) ==
		       (ssize_t)sizeof(ws->ticket_secret);
	rw_workers_retire(ws);
	ws->pol = p;
	ws->drain_ms = p->limits.drain_timeout_ms;
	ws->tickets = tickets;
	ws->generation++;
	for (unsigned i = 0; i < ws->n; i++) {
		ws->slot[i].restarts = 0;
		int r = rw_workers_spawn(ws, i, diag);
		if (r)
			return r;
	}
	return 0;
}

static void rw_workers_clear(struct rw_worker_slot *s)
{
	if (s->stop_w >= 0 && s->pid)
		close(s->stop_w);
	s->pid = 0;
	s->stop_w = -1;
}

void rw_workers_stop(struct rw_workers *ws)
{
	for (size_t k = 0; k < sizeof(ws->draining) / sizeof(ws->draining[0]); k++)
		if (ws->draining[k].pid) {
			kill(ws->draining[k].pid, SIGKILL);
			waitpid(ws->draining[k].pid, NULL, 0);
			ws->draining[k].pid = 0;
		}
	for (unsigned i = 0; i < RW_WORKERS_MAX; i++)
		if (ws->slot[i].pid)
			(void)!write(ws->slot[i].stop_w, "x", 1);
	long long deadline = rw_workers_now_ms() + RW_WORKERS_STOP_MS;
	for (;;) {
		unsigned left = 0;
		for (unsigned i = 0; i < RW_WORKERS_MAX; i++) {
			if (!ws->slot[i].pid)
				continue;
			if (waitpid(ws->slot[i].pid, NULL, WNOHANG) == ws->slot[i].pid)
				rw_workers_clear(&ws->slot[i]);
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
				rw_workers_clear(&ws->slot[i]);
			}
			return;
		}
		struct timespec ts = { 0, 20 * 1000000 };
		nanosleep(&ts, NULL);
	}
}

void rw_workers_reap(struct rw_workers *ws)
{
	int status;
	pid_t pid;
	while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
		for (size_t k = 0; k < sizeof(ws->draining) / sizeof(ws->draining[0]); k++)
			if (ws->draining[k].pid == pid)
				ws->draining[k].pid = 0; /* an old generation finished */
		for (unsigned i = 0; i < RW_WORKERS_MAX; i++) {
			struct rw_worker_slot *s = &ws->slot[i];
			if (s->pid != pid)
				continue;
			rw_workers_clear(s);
			int code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
			if (code == RW_WORKER_EXIT_NOTHING) {
				fprintf(stderr, "regwalld: no passthrough/terminate listener to serve; "
						"data path idle\n");
				break;
			}
			if (code == RW_WORKER_EXIT_FATAL) {
				fprintf(stderr, "regwalld: worker %d could not start; not restarted "
						"(fix the listeners and reload)\n", (int)pid);
				break;
			}
			if (WIFSIGNALED(status))
				fprintf(stderr, "regwalld: worker %d killed by signal %d\n", (int)pid,
					WTERMSIG(status));
			else
				fprintf(stderr, "regwalld: worker %d exited with %d\n", (int)pid, code);
			long long now = rw_workers_now_ms();
			if (now - s->last_start_ms > 60000)
				s->restarts = 0;
			if (i >= ws->n || ++s->restarts > RW_WORKERS_RESTARTS_PER_MIN) {
				fprintf(stderr, "regwalld: worker slot %u restarted too often; left empty\n", i);
				break;
			}
			struct rw_diag diag;
			rw_diag_init(&diag);
			if (rw_workers_spawn(ws, i, &diag))
				rw_diag_print(&diag, stderr);
			break;
		}
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
	rw_limit_destroy(ws->limit);
	ws->limit = NULL;
}
