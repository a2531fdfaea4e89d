/* wireguard-go as regwalld's child: the userspace WireGuard for kernels
 * without the module. Started as `wireguard-go -f IFACE` (foreground, so
 * the pid we hold is the daemon, not a launcher that exits) with a fresh
 * environment: WG_PROCESS_FOREGROUND=1, LOG_LEVEL=error, PATH, and none
 * of the parent's variables (WG_TUN_FD / WG_UAPI_FD inherited from
 * regwalld's environment would make it take a stranger's descriptors).
 * It dies with regwalld (PR_SET_PDEATHSIG), so a crashed regwalld never
 * leaves a daemon holding the socket name. Its end is seen through a
 * pidfd, which stays valid even when another waitpid(-1) reaps it. */
#ifndef RW_WG_GO_H
#define RW_WG_GO_H

#include <stdbool.h>
#include <sys/types.h>

struct rw_wg_go {
	char ifname[16];
	char sock[108];
	pid_t pid;  /* 0: not running */
	int pidfd;  /* -1: none */
	long long started_ms;
	bool reaped;     /* rw_wg_go_reap collected it: status below */
	int reap_status;
};

void rw_wg_go_init(struct rw_wg_go *g, const char *ifname);
/* Start it and wait (at most wait_ms) until its UAPI socket answers. A
 * stale socket file (a killed daemon's) is removed first; a live one (a
 * daemon we do not own) is refused. */
int rw_wg_go_start(struct rw_wg_go *g, int wait_ms, char *why, size_t why_len);
/* Has it ended? Reaps it if nobody has; *status (may be NULL) is its
 * wait status or -1 when another reaper got it first. */
bool rw_wg_go_exited(struct rw_wg_go *g, int *status);
/* On SIGCHLD, before any waitpid(-1) of the workers' supervision: take
 * our child's exit status while it is there to take. */
void rw_wg_go_reap(struct rw_wg_go *g);
/* SIGTERM, then SIGKILL after wait_ms; closes the pidfd. */
void rw_wg_go_stop(struct rw_wg_go *g, int wait_ms);

#endif
