/* Single instance (rw_guard.h): a second regwalld started by hand must be
 * refused before it touches the kernel or binds a socket; finding the
 * first one through its control socket came too late (after its apply).
 *
 * flock: released by the kernel when the holder exits, however it exits,
 * so there is no stale lock to clean up; the PID in the file is only for
 * the message. */
#include "appliance/rw_guard.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include "appliance/rw_path.h"

static long rw_guard_lock_holder(int fd)
{
	char buf[32];
	ssize_t n = pread(fd, buf, sizeof(buf) - 1, 0);
	if (n <= 0)
		return 0;
	buf[n] = '\0';
	char *end;
	long pid = strtol(buf, &end, 10);
	return pid > 0 && (*end == '\n' || *end == '\0') ? pid : 0;
}

int rw_guard_lock(const char *path, int *fd_out, long *holder, struct rw_diag *diag)
{
	*fd_out = -1;
	*holder = 0;
	int r = rw_path_mkparents(path, 0750);
	if (r) {
		rw_diag_err(diag, NULL, 0, "cannot create the directory of %s: %s", path, strerror(-r));
		return RW_EIO;
	}
	int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0) {
		rw_diag_err(diag, NULL, 0, "cannot open the lock file %s: %s", path, strerror(errno));
		return RW_EIO;
	}
	if (flock(fd, LOCK_EX | LOCK_NB)) {
		int e = errno;
		if (e == EWOULDBLOCK) {
			*holder = rw_guard_lock_holder(fd);
			close(fd);
			return RW_EEXIST;
		}
		close(fd);
		rw_diag_err(diag, NULL, 0, "cannot lock %s: %s", path, strerror(e));
		return RW_EIO;
	}
	char pid[32];
	int n = snprintf(pid, sizeof(pid), "%ld\n", (long)getpid());
	if (ftruncate(fd, 0) || pwrite(fd, pid, (size_t)n, 0) != n) {
		/* the lock holds regardless; only the message loses the PID */
	}
	*fd_out = fd;
	return 0;
}
