/* Descriptors over the worker channel (rw_chan_send_fds / rw_chan_recv):
 * the BOOT and LISTEN messages a new worker gets. What arrives is what
 * was sent; a message with more descriptors than the receiver takes, or
 * with a malformed body, is refused and every descriptor it brought is
 * closed (counted in /proc/self/fd), and a silent parent is a timeout. */
#include <dirent.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "base/rw_err.h"
#include "fwd/rw_chan.h"

static int open_fds(void)
{
	int n = 0;
	DIR *d = opendir("/proc/self/fd");
	assert_non_null(d);
	while (readdir(d))
		n++;
	closedir(d);
	return n;
}

static void pair(int sv[2])
{
	assert_int_equal(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv), 0);
}

static void test_boot_fds(void **state)
{
	int sv[2];
	pair(sv);
	int a = open("/dev/null", O_RDONLY | O_CLOEXEC), b = open("/dev/zero", O_RDONLY | O_CLOEXEC);
	struct rw_chan_boot bm = { .bundle_len = 42, .n_listen = 3, .has_limit = 1 };
	int fds[2] = { a, b };
	assert_int_equal(rw_chan_send_fds(sv[0], RW_CHAN_BOOT, 9, &bm, sizeof(bm), fds, 2), 0);
	uint8_t buf[RW_CHAN_MSG_MAX];
	struct rw_chan_hdr h;
	const uint8_t *body;
	int got[2];
	size_t n;
	assert_int_equal(rw_chan_recv(sv[1], buf, 1000, &h, &body, got, 2, &n), 0);
	assert_int_equal(h.type, RW_CHAN_BOOT);
	assert_int_equal(h.gen, 9);
	assert_int_equal(n, 2);
	struct stat s1, s2;
	assert_int_equal(fstat(got[1], &s1), 0);
	assert_int_equal(fstat(b, &s2), 0);
	assert_true(s1.st_ino == s2.st_ino && s1.st_dev == s2.st_dev);
	assert_true(fcntl(got[0], F_GETFD) & FD_CLOEXEC);
	close(got[0]);
	close(got[1]);
	close(a);
	close(b);
	close(sv[0]);
	close(sv[1]);
}

static void test_refused_closes(void **state)
{
	int sv[2];
	pair(sv);
	int a = open("/dev/null", O_RDONLY | O_CLOEXEC), b = open("/dev/zero", O_RDONLY | O_CLOEXEC);
	int fds[2] = { a, b };
	uint8_t buf[RW_CHAN_MSG_MAX];
	struct rw_chan_hdr h;
	const uint8_t *body;
	int got[2];
	size_t n;
	int before = open_fds();
	/* two descriptors where one is taken */
	struct rw_chan_listen lm = { .index = 0 };
	assert_int_equal(rw_chan_send_fds(sv[0], RW_CHAN_LISTEN, 1, &lm, sizeof(lm), fds, 2), 0);
	assert_int_equal(rw_chan_recv(sv[1], buf, 1000, &h, &body, got, 1, &n), RW_EPROTO);
	assert_int_equal(n, 0);
	assert_int_equal(open_fds(), before);
	/* a malformed body (zero field set) with a descriptor */
	lm.zero = 1;
	assert_int_equal(rw_chan_send_fds(sv[0], RW_CHAN_LISTEN, 1, &lm, sizeof(lm), fds, 1), 0);
	assert_int_equal(rw_chan_recv(sv[1], buf, 1000, &h, &body, got, 1, &n), RW_EPROTO);
	assert_int_equal(open_fds(), before);
	/* a BOOT with a zero-length bundle */
	struct rw_chan_boot bm = { 0 };
	assert_int_equal(rw_chan_send_fds(sv[0], RW_CHAN_BOOT, 1, &bm, sizeof(bm), fds, 1), 0);
	assert_int_equal(rw_chan_recv(sv[1], buf, 1000, &h, &body, got, 2, &n), RW_EPROTO);
	assert_int_equal(open_fds(), before);
	/* too many to send at all */
	int three[3] = { a, b, a };
	assert_int_equal(rw_chan_send_fds(sv[0], RW_CHAN_LISTEN, 1, &lm, sizeof(lm), three, 3),
			 RW_ETOOBIG);
	/* nothing more: a timeout; the peer gone: RW_EIO */
	assert_int_equal(rw_chan_recv(sv[1], buf, 50, &h, &body, got, 1, &n), RW_ETIMEDOUT);
	close(sv[0]);
	assert_int_equal(rw_chan_recv(sv[1], buf, 50, &h, &body, got, 1, &n), RW_EIO);
	close(sv[1]);
	close(a);
	close(b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_boot_fds),
		cmocka_unit_test(test_refused_closes),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
