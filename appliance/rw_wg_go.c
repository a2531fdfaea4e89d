/* wireguard-go as a supervised child (see rw_wg_go.h). */
#include "appliance/rw_wg_go.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "appliance/rw_wg_uapi.h"
#include "base/rw_err.h"

#define RW_WG_GO_PATH "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

#ifndef P_PIDFD
#define P_PIDFD 3
#endif

static long long rw_wg_go_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void rw_wg_go_init(struct rw_wg_go *g, const char *ifname)
{
	memset(g, 0, sizeof(*g));
	snprintf(g->ifname, sizeof(g->ifname), "%s", ifname);
	(void)rw_wg_uapi_path(ifname, g->sock, sizeof(g->sock));
	g->pidfd = -1;
}

/* 0: it answers; RW_ENOENT: no socket or a stale one (nobody listens). */
static int rw_wg_go_probe(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return RW_EIO;
	int rc = connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0 ? 0 : RW_ENOENT;
	close(fd);
	return rc;
}

static void rw_wg_go_child(const struct rw_wg_go *g, int errfd)
{
	/* the parent blocked these for its signalfd; exec keeps the mask */
	sigset_t none;
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	signal(SIGPIPE, SIG_DFL);
	prctl(PR_SET_PDEATHSIG, SIGTERM);
	/* stdout is regwalld's event stream: the daemon's lines go to stderr */
	int devnull = open("/dev/null", O_RDONLY);
	if (devnull >= 0)
		dup2(devnull, 0);
	dup2(errfd, 1);
	dup2(errfd, 2);
	/* nothing else of the parent's: netlink, control socket, channels */
	syscall(SYS_close_range, 3u, ~0u, 0u);
	char *argv[] = { "wireguard-go", "-f", (char *)g->ifname, NULL };
	char *envp[] = { "PATH=" RW_WG_GO_PATH, "WG_PROCESS_FOREGROUND=1", "LOG_LEVEL=error",
			 NULL };
	/* searched in our fixed PATH (execvpe would search the parent's) */
	char path[256];
	const char *dirs = RW_WG_GO_PATH;
	int err = ENOENT;
	while (*dirs) {
		size_t n = strcspn(dirs, ":");
		snprintf(path, sizeof(path), "%.*s/wireguard-go", (int)n, dirs);
		execve(path, argv, envp);
		if (errno != ENOENT)
			err = errno;
		dirs += n + (dirs[n] == ':');
	}
	dprintf(2, "regwalld: exec wireguard-go (in %s): %s\n", RW_WG_GO_PATH, strerror(err));
	_exit(127);
}

int rw_wg_go_start(struct rw_wg_go *g, int wait_ms, char *why, size_t why_len)
{
	if (g->pid)
		return 0;
	if (rw_wg_go_probe(g->sock) == 0) {
		snprintf(why, why_len, "%s answers already: another WireGuard daemon runs %s "
				       "(interface names must be unique on this machine)",
			 g->sock, g->ifname);
		return RW_EEXIST;
	}
	unlink(g->sock); /* stale: its daemon is gone */
	pid_t pid = fork();
	if (pid < 0) {
		snprintf(why, why_len, "fork: %s", strerror(errno));
		return RW_EIO;
	}
	if (pid == 0)
		rw_wg_go_child(g, STDERR_FILENO);
	g->pid = pid;
	g->started_ms = rw_wg_go_now();
	g->pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
	if (g->pidfd >= 0)
		(void)fcntl(g->pidfd, F_SETFD, FD_CLOEXEC);
	long long deadline = g->started_ms + wait_ms;
	for (;;) {
		int st;
		if (rw_wg_go_exited(g, &st)) {
			snprintf(why, why_len, "wireguard-go -f %s ended at start (%s %d)", g->ifname,
				 st >= 0 && WIFSIGNALED(st) ? "signal" : "status",
				 st < 0 ? -1 : WIFSIGNALED(st) ? WTERMSIG(st) : WEXITSTATUS(st));
			return RW_EIO;
		}
		if (rw_wg_go_probe(g->sock) == 0)
			return 0;
		if (rw_wg_go_now() >= deadline)
			break;
		usleep(20000);
	}
	snprintf(why, why_len, "wireguard-go -f %s: no socket %s after %d ms", g->ifname, g->sock,
		 wait_ms);
	rw_wg_go_stop(g, 500);
	return RW_ETIMEDOUT;
}

static int rw_wg_go_decode(const siginfo_t *si)
{
	return si->si_code == CLD_EXITED ? W_EXITCODE(si->si_status, 0) : si->si_status;
}

void rw_wg_go_reap(struct rw_wg_go *g)
{
	siginfo_t si = { 0 };
	if (!g->pid || g->reaped || g->pidfd < 0)
		return;
	if (waitid(P_PIDFD, (id_t)g->pidfd, &si, WEXITED | WNOHANG) == 0 && si.si_pid) {
		g->reaped = true;
		g->reap_status = rw_wg_go_decode(&si);
	}
}

bool rw_wg_go_exited(struct rw_wg_go *g, int *status)
{
	if (!g->pid)
		return true;
	if (status)
		*status = -1;
	if (g->reaped) {
		if (status)
			*status = g->reap_status;
		if (g->pidfd >= 0)
			close(g->pidfd);
		g->pidfd = -1;
		g->pid = 0;
		g->reaped = false;
		return true;
	}
	if (g->pidfd >= 0) {
		struct pollfd p = { .fd = g->pidfd, .events = POLLIN };
		if (poll(&p, 1, 0) <= 0)
			return false;
		siginfo_t si = { 0 };
		/* reap it unless the workers' waitpid(-1) already did */
		if (waitid(P_PIDFD, (id_t)g->pidfd, &si, WEXITED | WNOHANG) == 0 && si.si_pid &&
		    status)
			*status = rw_wg_go_decode(&si);
		close(g->pidfd);
		g->pidfd = -1;
	} else {
		int st;
		pid_t r = waitpid(g->pid, &st, WNOHANG);
		if (r == 0)
			return false;
		if (r == g->pid && status)
			*status = st;
	}
	g->pid = 0;
	return true;
}

void rw_wg_go_stop(struct rw_wg_go *g, int wait_ms)
{
	if (!g->pid)
		return;
	kill(g->pid, SIGTERM);
	long long deadline = rw_wg_go_now() + wait_ms;
	while (!rw_wg_go_exited(g, NULL)) {
		if (rw_wg_go_now() >= deadline) {
			kill(g->pid, SIGKILL);
			deadline = rw_wg_go_now() + 2000;
			while (!rw_wg_go_exited(g, NULL) && rw_wg_go_now() < deadline)
				usleep(10000);
			break;
		}
		usleep(10000);
	}
	if (g->pidfd >= 0)
		close(g->pidfd);
	g->pidfd = -1;
	g->pid = 0;
	g->reaped = false;
}
