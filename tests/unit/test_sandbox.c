/* The worker's seccomp allowlist (appliance/rw_sandbox.c) under the real
 * filter, in forked children: calls a worker never makes (execve, a
 * netlink or unix socket, ptrace) kill the process with SIGSYS; the data
 * path's calls (a TCP socket, a pipe and splice, epoll, memory) work;
 * opening a file is answered EACCES. Skipped in sanitizer builds, where
 * the filter is not applied (the sanitizer runtime needs other calls). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "appliance/rw_sandbox.h"

#if defined(__SANITIZE_ADDRESS__)
#define NO_FILTER 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define NO_FILTER 1
#endif
#endif

enum probe { P_EXECVE, P_NETLINK, P_UNIX, P_PTRACE, P_ALLOWED };

static int pre_epoll = -1; /* a worker makes its epoll before the filter */

static int child(enum probe p)
{
	char err[128];
	pre_epoll = epoll_create1(EPOLL_CLOEXEC);
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) || rw_sandbox_seccomp(err, sizeof(err)))
		_exit(90);
	switch (p) {
	case P_EXECVE: {
		char *argv[] = { "/bin/true", NULL };
		execve("/bin/true", argv, NULL);
		_exit(91);
	}
	case P_NETLINK:
		socket(AF_NETLINK, SOCK_RAW, 0);
		_exit(91);
	case P_UNIX:
		socket(AF_UNIX, SOCK_STREAM, 0);
		_exit(91);
	case P_PTRACE:
		ptrace(PTRACE_TRACEME, 0, NULL, NULL);
		_exit(91);
	case P_ALLOWED: {
		int s = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
		int s6 = socket(AF_INET6, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
		int pp[2], qq[2];
		if (s < 0 || s6 < 0 || pipe2(pp, O_NONBLOCK) || pipe2(qq, O_NONBLOCK))
			_exit(92);
		if (write(pp[1], "abc", 3) != 3 ||
		    splice(pp[0], NULL, qq[1], NULL, 3, SPLICE_F_NONBLOCK) != 3)
			_exit(93);
		struct epoll_event ev = { .events = EPOLLIN };
		if (epoll_ctl(pre_epoll, EPOLL_CTL_ADD, qq[0], &ev) ||
		    epoll_wait(pre_epoll, &ev, 1, 0) != 1)
			_exit(96);
		void *m = mmap(NULL, 1 << 20, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (m == MAP_FAILED)
			_exit(94);
		munmap(m, 1 << 20);
		void *h = malloc(1 << 20);
		free(h);
		/* no file can be opened: an error, not death */
		errno = 0;
		if (open("/etc/hostname", O_RDONLY) != -1 || errno != EACCES)
			_exit(95);
		_exit(0);
	}
	}
	_exit(99);
}

static int run(enum probe p)
{
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0)
		child(p);
	int st;
	assert_int_equal(waitpid(pid, &st, 0), pid);
	return st;
}

static void test_forbidden_kill(void **state)
{
#ifdef NO_FILTER
	skip();
#endif
	static const enum probe bad[] = { P_EXECVE, P_NETLINK, P_UNIX, P_PTRACE };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int st = run(bad[i]);
		if (!WIFSIGNALED(st) || WTERMSIG(st) != SIGSYS)
			fail_msg("probe %zu: status 0x%x, want killed by SIGSYS", i, st);
	}
}

static void test_allowed_path(void **state)
{
#ifdef NO_FILTER
	skip();
#endif
	int st = run(P_ALLOWED);
	if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
		fail_msg("allowed calls: status 0x%x (exit %d)", st,
			 WIFEXITED(st) ? WEXITSTATUS(st) : -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_forbidden_kill),
		cmocka_unit_test(test_allowed_path),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
