/* The worker sandbox (rw_sandbox.h). */
#include "appliance/rw_sandbox.h"

#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <string.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cap-ng.h>
#include <seccomp.h>

#include "base/rw_err.h"

#if defined(__SANITIZE_ADDRESS__)
#define RW_SANDBOX_NO_SECCOMP 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define RW_SANDBOX_NO_SECCOMP 1
#endif
#endif

int rw_sandbox_user_lookup(const char *name, struct rw_sandbox_user *out, char *err, size_t errlen)
{
	memset(out, 0, sizeof(*out));
	const char *want = name ? name : RW_SANDBOX_USER;
	struct passwd *pw = getpwnam(want);
	if (!pw && !name) {
		want = RW_SANDBOX_FALLBACK_USER;
		pw = getpwnam(want);
	}
	if (!pw) {
		snprintf(err, errlen, "worker user \"%s\" does not exist%s", want,
			 name ? "" : " (nor \"" RW_SANDBOX_FALLBACK_USER "\")");
		return RW_ENOENT;
	}
	if (pw->pw_uid == 0) {
		snprintf(err, errlen, "worker user \"%s\" is root: workers must not run as root",
			 want);
		return RW_EINVAL;
	}
	out->uid = pw->pw_uid;
	out->gid = pw->pw_gid;
	snprintf(out->name, sizeof(out->name), "%s", want);
	out->valid = true;
	return 0;
}

#ifndef RW_SANDBOX_NO_SECCOMP
/* The data path's system calls (epoll loop, accept, splice, TLS over
 * sockets, timers, memory). */
static const int rw_sandbox_allowed[] = {
	SCMP_SYS(read), SCMP_SYS(write), SCMP_SYS(readv), SCMP_SYS(writev), SCMP_SYS(pread64),
	SCMP_SYS(recvfrom), SCMP_SYS(sendto), SCMP_SYS(recvmsg), SCMP_SYS(sendmsg),
	SCMP_SYS(close), SCMP_SYS(shutdown), SCMP_SYS(accept4), SCMP_SYS(accept),
	SCMP_SYS(connect), SCMP_SYS(setsockopt), SCMP_SYS(getsockopt), SCMP_SYS(getsockname),
	SCMP_SYS(getpeername), SCMP_SYS(splice), SCMP_SYS(pipe2), SCMP_SYS(fcntl),
	SCMP_SYS(epoll_wait), SCMP_SYS(epoll_pwait), SCMP_SYS(epoll_ctl), SCMP_SYS(poll),
	SCMP_SYS(ppoll), SCMP_SYS(clock_gettime), SCMP_SYS(gettimeofday), SCMP_SYS(time),
	SCMP_SYS(nanosleep), SCMP_SYS(clock_nanosleep), SCMP_SYS(mmap), SCMP_SYS(munmap),
	SCMP_SYS(mremap), SCMP_SYS(madvise), SCMP_SYS(mprotect), SCMP_SYS(brk),
	SCMP_SYS(futex), SCMP_SYS(getrandom), SCMP_SYS(getpid), SCMP_SYS(gettid),
	SCMP_SYS(getppid), SCMP_SYS(getuid), SCMP_SYS(geteuid), SCMP_SYS(getgid),
	SCMP_SYS(getegid), SCMP_SYS(exit), SCMP_SYS(exit_group), SCMP_SYS(rt_sigreturn),
	SCMP_SYS(rt_sigprocmask), SCMP_SYS(rt_sigaction), SCMP_SYS(restart_syscall),
	SCMP_SYS(fstat), SCMP_SYS(newfstatat), SCMP_SYS(lseek), SCMP_SYS(sched_yield),
	SCMP_SYS(ioctl), SCMP_SYS(dup), SCMP_SYS(dup3), SCMP_SYS(getrlimit), SCMP_SYS(prlimit64),
	SCMP_SYS(sysinfo), SCMP_SYS(uname), SCMP_SYS(tgkill), SCMP_SYS(rseq),
};
/* the calls of every connection (accept to close) */
static const int rw_sandbox_hot[] = {
	SCMP_SYS(recvfrom), SCMP_SYS(sendto), SCMP_SYS(epoll_ctl), SCMP_SYS(epoll_wait),
	SCMP_SYS(close),    SCMP_SYS(accept4), SCMP_SYS(connect),  SCMP_SYS(shutdown),
	SCMP_SYS(setsockopt), SCMP_SYS(splice),
};
#endif

int rw_sandbox_seccomp(char *err, size_t errlen)
{
#ifdef RW_SANDBOX_NO_SECCOMP
	(void)err;
	(void)errlen;
	return 0;
#else
	scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_KILL_PROCESS);
	if (!ctx) {
		snprintf(err, errlen, "seccomp_init failed");
		return RW_ENOMEM;
	}
	/* Every system call of the worker runs this filter: a binary tree
	 * over the syscall number (log n compares) instead of libseccomp's
	 * default linear chain, and the data path's calls weighted first. */
	int rc = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_OPTIMIZE, 2);
	for (size_t i = 0; !rc && i < sizeof(rw_sandbox_allowed) / sizeof(rw_sandbox_allowed[0]); i++)
		rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, rw_sandbox_allowed[i], 0);
	for (size_t i = 0; !rc && i < sizeof(rw_sandbox_hot) / sizeof(rw_sandbox_hot[0]); i++)
		rc = seccomp_syscall_priority(ctx, rw_sandbox_hot[i], 255);
	/* the registry connection: TCP over IPv4 or IPv6, nothing else (no
	 * netlink, no unix sockets, no raw sockets) */
	if (!rc)
		rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(socket), 1,
				      SCMP_A0(SCMP_CMP_EQ, AF_INET));
	if (!rc)
		rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(socket), 1,
				      SCMP_A0(SCMP_CMP_EQ, AF_INET6));
	/* no file is opened after the drop; a lazy probe gets an error */
	if (!rc)
		rc = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EACCES), SCMP_SYS(openat), 0);
	if (!rc)
		rc = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EACCES), SCMP_SYS(open), 0);
	if (!rc)
		rc = seccomp_load(ctx);
	seccomp_release(ctx);
	if (rc) {
		snprintf(err, errlen, "seccomp filter: %s", strerror(-rc));
		return RW_EIO;
	}
	return 0;
#endif
}

int rw_sandbox_enter(const struct rw_sandbox_user *u, char *err, size_t errlen)
{
	if (geteuid() == 0) {
		if (!u || !u->valid) {
			snprintf(err, errlen, "no worker user to run as");
			return RW_EINVAL;
		}
		capng_clear(CAPNG_SELECT_BOTH);
		int rc = capng_change_id((int)u->uid, (int)u->gid,
					 CAPNG_DROP_SUPP_GRP | CAPNG_CLEAR_BOUNDING);
		if (rc) {
			snprintf(err, errlen, "cannot become %s (uid %u): capng_change_id %d", u->name,
				 u->uid, rc);
			return RW_EIO;
		}
		/* prove it: the old ids cannot come back */
		if (setuid(0) == 0 || seteuid(0) == 0 || setgid(0) == 0) {
			snprintf(err, errlen, "privileges could be regained after the drop");
			return RW_EIO;
		}
		uid_t r, e, s;
		if (getresuid(&r, &e, &s) || r != u->uid || e != u->uid || s != u->uid) {
			snprintf(err, errlen, "uid not dropped");
			return RW_EIO;
		}
		/* the kernel clears the parent-death signal when the uid
		 * changes: set it again, and check the parent did not die in
		 * between (an orphan would serve an old policy) */
		if (prctl(PR_SET_PDEATHSIG, SIGTERM) != 0 ||
		    (u->parent_pid > 0 && getppid() != u->parent_pid)) {
			snprintf(err, errlen, "parent gone or PR_SET_PDEATHSIG failed");
			return RW_EIO;
		}
	}
	/* no capabilities of any kind, also as non-root (ambient ones) */
	capng_clear(CAPNG_SELECT_BOTH);
	if (capng_apply(CAPNG_SELECT_BOTH) != 0 && geteuid() == 0) {
		snprintf(err, errlen, "cannot clear capabilities");
		return RW_EIO;
	}
	(void)prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0);
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0)) {
		snprintf(err, errlen, "PR_SET_NO_NEW_PRIVS: %s", strerror(errno));
		return RW_EIO;
	}
	return rw_sandbox_seccomp(err, errlen);
}
