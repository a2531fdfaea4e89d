/* regwalld: the regwall appliance daemon. This file is only the edge: it
 * parses the command line, calls the modules, and prints their errors once. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <getopt.h>
#include <sys/socket.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "appliance/rw_audit.h"
#include "appliance/rw_config.h"
#include "appliance/rw_ctl_server.h"
#include "appliance/rw_wg_peers.h"
#include "appliance/rw_daemon.h"
#include "appliance/rw_guard.h"
#include "appliance/rw_metrics_parent.h"
#include "appliance/rw_version.h"
#include "appliance/rw_worker_main.h"
#include "appliance/rw_workers.h"
#include "rules/rw_nft.h"
#include "rules/rw_nft_text.h"

#define RW_DEFAULT_CONFIG "/etc/regwall/regwall.conf"
#define RW_DEFAULT_SOCKET "/run/regwall/ctl.sock"

enum rw_action {
	RW_ACT_NONE = 0,
	RW_ACT_CHECK,
	RW_ACT_DUMP,
	RW_ACT_DUMP_NETLINK,
	RW_ACT_APPLY,
	RW_ACT_REMOVE,
	RW_ACT_RUN,
	RW_ACT_LIST,
};

static void usage(FILE *out)
{
	fprintf(out,
		"usage: regwalld [-c FILE] ACTION\n"
		"  -c, --config FILE   configuration (default " RW_DEFAULT_CONFIG ")\n"
		"actions:\n"
		"  -n, --check-config  validate the configuration and exit (changes nothing)\n"
		"      --dump-rules    print the compiled table as `nft list table` shows it\n"
		"      --dump-netlink  print the compiled rules as libnftnl expressions\n"
		"      --apply         apply the table once (one atomic transaction) and exit\n"
		"      --remove-rules  delete table inet regwall (only it) and exit\n"
		"      --list-settings print every setting path the loader accepts, one a line\n"
		"  -f, --foreground    run: apply the table, serve the control socket,\n"
		"                      reload on SIGHUP, stop on SIGTERM (the table stays)\n"
		"  -s, --socket PATH   control socket (overrides control.socket)\n"
		"  -w, --workers N     data-path worker processes (default: one per CPU;\n"
		"                      0 = firewall only, no proxy)\n"
		"  -u, --user NAME     the workers' user (default regwall, else nobody);\n"
		"                      they also lose every capability and run under\n"
		"                      a seccomp allowlist\n"
		"  -h, --help\n"
		"  -V, --version\n");
}

static void print_setting(const char *path, void *arg)
{
	fprintf(arg, "%s\n", path);
}

static int load(const char *path, struct rw_policy *p)
{
	struct rw_diag diag;
	rw_diag_init(&diag);
	int r = rw_config_load_file(path, p, &diag);
	rw_diag_print(&diag, stderr);
	if (r)
		fprintf(stderr, "regwalld: %s: %u error%s\n", path, diag.n_err,
			diag.n_err == 1 ? "" : "s");
	return r;
}

/* Validate the file, the TLS material and the lowering to nftables
 * without touching anything; with dump, print the compiled table (1: nft
 * syntax, 2: libnftnl expressions). */
static int act_check(const char *path, int dump)
{
	struct rw_policy p;
	if (load(path, &p))
		return 1;
	struct rw_diag diag;
	rw_diag_init(&diag);
	struct rw_nft_compiled *c = NULL;
	int r = rw_daemon_check_tls(&p, NULL, &diag);
	if (!r)
		r = rw_nft_compile(&p, &c, &diag);
	if (!r && dump)
		r = dump == 2 ? rw_nft_dump_text(c, stdout) : rw_nft_dump_nft(c, stdout);
	rw_diag_print(&diag, stderr);
	rw_nft_compiled_free(c);
	rw_policy_free(&p);
	if (r) {
		fprintf(stderr, "regwalld: %s: %s\n", path, rw_strerror(r));
		return 1;
	}
	if (!dump)
		printf("%s: configuration OK\n", path);
	return 0;
}

/* One regwalld per control socket: -f, --apply and --remove-rules take
 * "<control socket>.lock" before anything touches the kernel or binds, so
 * a second instance started by hand cannot replace the running daemon's
 * table (the running one would go on believing its own sets). The socket
 * is -s, else the config's control.socket, else the default (a config
 * that does not load fails the action later, before the kernel). Returns
 * the held fd (kept open for the life of the process), or -1 after
 * printing why. */
static int instance_lock(const char *config, const char *sock)
{
	char path[4096];
	struct rw_policy p;
	struct rw_diag diag;
	rw_diag_init(&diag);
	if (sock) {
		snprintf(path, sizeof(path), "%s.lock", sock);
	} else if (rw_config_load_file(config, &p, &diag) == 0) {
		snprintf(path, sizeof(path), "%s.lock",
			 p.control_socket ? p.control_socket : RW_DEFAULT_SOCKET);
		rw_policy_free(&p);
	} else {
		snprintf(path, sizeof(path), "%s.lock", RW_DEFAULT_SOCKET);
	}
	rw_diag_init(&diag);
	int fd;
	long holder;
	int r = rw_guard_lock(path, &fd, &holder, &diag);
	rw_diag_print(&diag, stderr);
	if (r == RW_EEXIST) {
		char pid[32] = "";
		if (holder > 0)
			snprintf(pid, sizeof(pid), " (pid %ld)", holder);
		fprintf(stderr,
			"regwalld: another regwalld%s is already running for this control socket "
			"(it holds %s); nothing changed\n",
			pid, path);
		return -1;
	}
	if (r) {
		fprintf(stderr, "regwalld: cannot take the instance lock (%s); nothing changed\n",
			rw_strerror(r));
		return -1;
	}
	return fd;
}

static int act_run_audited(const char *path, const char *sock, long nworkers, const char *user,
			   struct rw_audit *audit);

static int act_apply(const char *path)
{
	struct rw_daemon d;
	struct rw_diag diag;
	rw_daemon_init(&d, path);
	rw_diag_init(&diag);
	int r = rw_daemon_load_apply(&d, &diag);
	rw_diag_print(&diag, stderr);
	rw_daemon_fini(&d);
	if (r) {
		fprintf(stderr, "regwalld: apply failed (%s); the previous table stays\n",
			rw_strerror(r));
		return 1;
	}
	return 0;
}

static int act_remove(void)
{
	struct rw_diag diag;
	struct rw_nft *n = NULL;
	rw_diag_init(&diag);
	int r = rw_nft_open(&n, &diag);
	if (!r)
		r = rw_nft_remove(n, &diag);
	if (n)
		rw_nft_close(n);
	rw_diag_print(&diag, stderr);
	if (r) {
		fprintf(stderr, "regwalld: remove failed: %s\n", rw_strerror(r));
		return 1;
	}
	return 0;
}

/* log.audit: the chain is opened (key created, file's last line read)
 * before anything touches the kernel, so a start that cannot audit
 * changes nothing. 1 opened, 0 not configured (or the config does not
 * load: the apply reports that), -1 failed (printed). */
static int audit_open(const char *path, struct rw_audit *a)
{
	struct rw_policy p;
	struct rw_diag diag;
	struct rw_audit_cfg cfg;
	rw_diag_init(&diag);
	if (rw_config_load_file(path, &p, &diag) != 0)
		return 0;
	int r = 0;
	if (rw_audit_cfg_from(&p.log, &cfg) == 0) {
		rw_diag_init(&diag);
		r = rw_audit_open(a, &cfg, &diag) ? -1 : 1;
		rw_diag_print(&diag, stderr);
		if (r < 0)
			fprintf(stderr, "regwalld: cannot open the audit chain (log.audit); not "
					"starting, nothing changed\n");
		else
			fprintf(stderr, "regwalld: audit chain %s at seq %llu, key %.16s...\n", a->path,
				(unsigned long long)a->seq, a->key_fp);
	}
	rw_policy_free(&p);
	return r;
}

static int act_run(const char *path, const char *sock, long nworkers, const char *user)
{
	struct rw_audit audit;
	int ar = audit_open(path, &audit);
	if (ar < 0)
		return 1;
	int rc = act_run_audited(path, sock, nworkers, user, ar > 0 ? &audit : NULL);
	if (ar > 0)
		rw_audit_close(&audit);
	return rc;
}

static int act_run_audited(const char *path, const char *sock, long nworkers, const char *user,
			   struct rw_audit *audit)
{
	struct rw_daemon d;
	struct rw_diag diag;
	struct rw_workers ws;
	rw_daemon_init(&d, path);
	d.audit = audit;
	/* the VPN interface runs with the daemon (not for --apply) */
	struct rw_wg_live wgl;
	rw_wgl_init(&wgl);
	d.wgl = &wgl;
	/* the monitor listens before the first apply: no change after it
	 * goes unseen */
	rw_diag_init(&diag);
	int r = rw_daemon_guard_start(&d, &diag);
	rw_diag_print(&diag, stderr);
	if (r) {
		fprintf(stderr, "regwalld: cannot watch table inet regwall (%s); nothing changed\n",
			rw_strerror(r));
		rw_daemon_fini(&d);
		return 1;
	}
	if (nworkers < 0) {
		long cpus = sysconf(_SC_NPROCESSORS_ONLN);
		nworkers = cpus > 0 ? cpus : 1;
	}
	rw_diag_init(&diag);
	r = rw_workers_init(&ws, (unsigned)nworkers, &diag);
	/* new workers are this program, exec'd afresh (rw_worker_main.h) */
	ws.exec_path = "/proc/self/exe";
	if (!r && user && nworkers > 0)
		r = rw_workers_set_user(&ws, user, &diag);
	rw_diag_print(&diag, stderr);
	if (r) {
		rw_daemon_fini(&d);
		return 1;
	}
	/* Known to the daemon before the first apply, so the listening
	 * sockets can be bound before the table changes (rw_workers_prepare). */
	if (nworkers > 0)
		d.workers = &ws;
	rw_diag_init(&diag);
	r = rw_daemon_load_apply(&d, &diag);
	rw_diag_print(&diag, stderr);
	if (r) {
		fprintf(stderr, "regwalld: cannot start (%s); nothing changed\n", rw_strerror(r));
		rw_workers_fini(&ws);
		rw_daemon_fini(&d);
		return 1;
	}
	int lfd = -1;
	const char *path_sock = sock ? sock : d.pol.control_socket;
	rw_diag_init(&diag);
	r = rw_ctl_listen(path_sock, &lfd, &diag);
	rw_diag_print(&diag, stderr);
	if (r) {
		rw_workers_fini(&ws);
		rw_daemon_fini(&d);
		return 1;
	}
	rw_diag_init(&diag);
	/* binds the listeners (unless the apply already did) and forks the
	 * workers; each child closes every parent fd but its own sockets */
	if (nworkers > 0)
		r = rw_workers_start(&ws, &d.pol, &diag);
	rw_diag_print(&diag, stderr);
	if (r) {
		fprintf(stderr, "regwalld: cannot start the data path (%s)\n", rw_strerror(r));
		rw_workers_fini(&ws);
		close(lfd);
		unlink(path_sock);
		rw_daemon_fini(&d);
		return 1;
	}
	fprintf(stderr, "regwalld: ready (config %s, control %s, %ld workers)\n", path, path_sock,
		nworkers);
	r = rw_ctl_serve(&d, lfd);
	rw_workers_fini(&ws); /* their last events still reach d.audit */
	if (d.audit) {
		struct rw_metrics_wsum sum;
		rw_metrics_workers_sum(&ws, &sum);
		rw_audit_workers_dropped(d.audit, sum.events_dropped);
	}
	close(lfd);
	unlink(path_sock);
	fprintf(stderr, "regwalld: stopping; table inet regwall stays in force\n");
	rw_daemon_fini(&d);
	return r ? 1 : 0;
}

int main(int argc, char **argv)
{
	/* A worker: regwalld exec'd by its parent with the channel on fd 3
	 * (appliance/rw_worker_main.h); nothing else of the command line or
	 * the environment is read. */
	if (argc == 2 && !strcmp(argv[1], "--worker")) {
		int type = 0;
		socklen_t tl = sizeof(type);
		if (getsockopt(RW_WORKER_CHAN_FD, SOL_SOCKET, SO_TYPE, &type, &tl) != 0 ||
		    type != SOCK_SEQPACKET) {
			fprintf(stderr, "regwalld: --worker is started by regwalld itself "
					"(it needs the worker channel on fd 3)\n");
			return 2;
		}
		return rw_worker_main(RW_WORKER_CHAN_FD);
	}
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "check-config", no_argument, NULL, 'n' },
		{ "dump-rules", no_argument, NULL, 'D' },
		{ "dump-netlink", no_argument, NULL, 'L' },
		{ "apply", no_argument, NULL, 'A' },
		{ "remove-rules", no_argument, NULL, 'R' },
		{ "list-settings", no_argument, NULL, 'S' },
		{ "foreground", no_argument, NULL, 'f' },
		{ "socket", required_argument, NULL, 's' },
		{ "workers", required_argument, NULL, 'w' },
		{ "user", required_argument, NULL, 'u' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	const char *config = RW_DEFAULT_CONFIG, *sock = NULL;
	long nworkers = -1;
	const char *user = NULL;
	enum rw_action act = RW_ACT_NONE;
	int c;
	/* Started with stdio closed, the netlink or control socket would land
	 * on fd 0-2, which the workers keep: take those slots first. */
	for (int f = 0; f < 3; f++)
		if (fcntl(f, F_GETFD) < 0 && errno == EBADF) {
			int n = open("/dev/null", O_RDWR | O_CLOEXEC);
			if (n >= 0 && n != f) {
				dup2(n, f);
				close(n);
			} else if (n == f) {
				fcntl(f, F_SETFD, 0);
			}
		}
	/* A write to a worker that just died (its stop socket) or to a
	 * control client that went away must be an error, not the end of
	 * the daemon and, through PR_SET_PDEATHSIG, of every worker. */
	signal(SIGPIPE, SIG_IGN);
	setvbuf(stderr, NULL, _IOLBF, 0);
	while ((c = getopt_long(argc, argv, "c:nfs:w:u:hV", opts, NULL)) != -1) {
		enum rw_action a = RW_ACT_NONE;
		switch (c) {
		case 'c': config = optarg; continue;
		case 's': sock = optarg; continue;
		case 'u': user = optarg; continue;
		case 'w': {
			char *end;
			errno = 0;
			nworkers = strtol(optarg, &end, 10);
			if (errno || *end || end == optarg || nworkers < 0 || nworkers > RW_WORKERS_MAX) {
				fprintf(stderr, "regwalld: --workers wants 0..%d\n", RW_WORKERS_MAX);
				return 2;
			}
			continue;
		}
		case 'n': a = RW_ACT_CHECK; break;
		case 'D': a = RW_ACT_DUMP; break;
		case 'L': a = RW_ACT_DUMP_NETLINK; break;
		case 'A': a = RW_ACT_APPLY; break;
		case 'R': a = RW_ACT_REMOVE; break;
		case 'S': a = RW_ACT_LIST; break;
		case 'f': a = RW_ACT_RUN; break;
		case 'h': usage(stdout); return 0;
		case 'V': printf("regwalld %s\n", RW_VERSION); return 0;
		default: usage(stderr); return 2;
		}
		if (act != RW_ACT_NONE && act != a) {
			fprintf(stderr, "regwalld: choose one action\n");
			return 2;
		}
		act = a;
	}
	if (optind != argc || act == RW_ACT_NONE) {
		usage(stderr);
		return 2;
	}
	/* held until exit; the kernel releases it however we exit */
	if ((act == RW_ACT_APPLY || act == RW_ACT_REMOVE || act == RW_ACT_RUN) &&
	    instance_lock(config, sock) < 0)
		return 1;
	switch (act) {
	case RW_ACT_CHECK: return act_check(config, 0);
	case RW_ACT_DUMP: return act_check(config, 1);
	case RW_ACT_DUMP_NETLINK: return act_check(config, 2);
	case RW_ACT_APPLY: return act_apply(config);
	case RW_ACT_REMOVE: return act_remove();
	case RW_ACT_RUN: return act_run(config, sock, nworkers, user);
	case RW_ACT_LIST: rw_config_settings(print_setting, stdout); return 0;
	case RW_ACT_NONE: break;
	}
	return 2;
}
