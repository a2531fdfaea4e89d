/* The parent's event output (appliance/rw_evout.c): into a pipe nobody
 * reads, lines never block; what does not fit the bounded queue is
 * dropped and counted, and every line is either queued or counted as
 * dropped. Once the reader drains the pipe, the queue flushes in order. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <fcntl.h>
#include <sys/ioctl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "appliance/rw_evout.h"

static void test_stalled_reader(void **state)
{
	int p[2];
	assert_int_equal(pipe(p), 0);
	struct rw_loop loop;
	assert_int_equal(rw_loop_init(&loop, 1024), 0);
	struct rw_evout o;
	assert_int_equal(rw_evout_init(&o, p[1], &loop), 0);
	char line[400];
	memset(line, 'x', sizeof(line));
	line[0] = '{';
	const unsigned n = 20000; /* 8 MB: twice the queue */
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (unsigned i = 0; i < n; i++) {
		int k = snprintf(line + 1, 12, "%09u", i);
		line[1 + k] = 'x';
		rw_evout_line(&o, line, sizeof(line));
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	/* never waited for the reader (a blocking write would hang here) */
	assert_true(t1.tv_sec - t0.tv_sec < 30);
	assert_true(o.dropped > 0);
	assert_int_equal(o.lines + o.dropped, n);
	assert_true(o.len > 0 && o.len <= RW_EVOUT_QUEUE);
	/* drain the pipe as a reader would, let the loop flush, and check the
	 * lines come out whole and in order */
	int fl = fcntl(p[0], F_GETFL);
	fcntl(p[0], F_SETFL, fl | O_NONBLOCK);
	size_t got_lines = 0;
	long last = -1;
	char *buf = malloc(1 << 20);
	size_t have = 0;
	for (int spin = 0; spin < 100000 && got_lines < o.lines; spin++) {
		rw_loop_run_once(&loop, 0);
		ssize_t r = read(p[0], buf + have, (1 << 20) - have);
		if (r > 0)
			have += (size_t)r;
		char *nl;
		while ((nl = memchr(buf, '\n', have))) {
			size_t ln = (size_t)(nl - buf);
			assert_int_equal(ln, sizeof(line));
			long v = strtol(buf + 1, NULL, 10);
			assert_true(v > last);
			last = v;
			got_lines++;
			memmove(buf, nl + 1, have - ln - 1);
			have -= ln + 1;
		}
	}
	assert_int_equal(got_lines, o.lines);
	assert_int_equal(o.len, 0);
	free(buf);
	rw_evout_fini(&o);
	rw_loop_fini(&loop);
	close(p[0]);
	close(p[1]);
}

static size_t pending(int fd)
{
	int n = 0;
	assert_int_equal(ioctl(fd, FIONREAD, &n), 0);
	return (size_t)n;
}

/* The lines of one loop turn leave together, after the turn's handlers
 * (a 0 ms timer), not one write each; without a loop, at once. */
static void test_one_write_per_turn(void **state)
{
	int p[2];
	assert_int_equal(pipe(p), 0);
	struct rw_loop loop;
	assert_int_equal(rw_loop_init(&loop, 1024), 0);
	struct rw_evout o;
	assert_int_equal(rw_evout_init(&o, p[1], &loop), 0);
	for (int i = 0; i < 100; i++)
		rw_evout_line(&o, "{\"e\":1}", 7);
	assert_int_equal(pending(p[0]), 0); /* nothing written yet */
	assert_false(o.reg); /* the batch waits for the turn, not for epoll */
	assert_true(rw_loop_run_once(&loop, 0) >= 1);
	assert_int_equal(pending(p[0]), 800); /* all 100 lines, one turn */
	assert_int_equal(o.len, 0);
	rw_evout_fini(&o);
	rw_loop_fini(&loop);

	struct rw_evout now;
	assert_int_equal(rw_evout_init(&now, p[1], NULL), 0);
	rw_evout_line(&now, "{\"e\":2}", 7);
	assert_int_equal(pending(p[0]), 808);
	rw_evout_fini(&now);
	close(p[0]);
	close(p[1]);
}

/* stdout redirected to a file (a bench, `regwalld -f > log`): epoll
 * refuses regular files, so no registration is tried and every line
 * still lands, one write per turn. */
static void test_regular_file(void **state)
{
	FILE *f = tmpfile();
	assert_non_null(f);
	int fd = fileno(f);
	struct rw_loop loop;
	assert_int_equal(rw_loop_init(&loop, 1024), 0);
	struct rw_evout o;
	assert_int_equal(rw_evout_init(&o, fd, &loop), 0);
	for (int turn = 0; turn < 3; turn++) {
		for (int i = 0; i < 50; i++)
			rw_evout_line(&o, "{\"e\":3}", 7);
		assert_false(o.reg);
		assert_true(rw_loop_run_once(&loop, 0) >= 1);
		assert_int_equal(o.len, 0);
		assert_int_equal(lseek(fd, 0, SEEK_END), (turn + 1) * 50 * 8);
	}
	assert_false(o.unpollable); /* never even asked */
	assert_int_equal(o.write_errors, 0);
	rw_evout_fini(&o);
	rw_loop_fini(&loop);
	fclose(f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_stalled_reader),
		cmocka_unit_test(test_one_write_per_turn),
		cmocka_unit_test(test_regular_file),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
