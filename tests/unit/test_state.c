/* Live-change state file: round trip, missing file, malformed files. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "appliance/rw_state.h"
#include "rules/rw_cidr.h"

static char dir[] = "/tmp/rw-state-test.XXXXXX";

static int setup(void **state)
{
	return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	return system(cmd) == 0 ? 0 : -1;
}

static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

static void test_round_trip(void **state)
{
	char path[256];
	snprintf(path, sizeof(path), "%s/sub/dir/live.json", dir);
	struct rw_live_change in[3] = { { .add = 1, .network = "office" },
					{ .add = 0, .network = "ci" },
					{ .add = 1, .network = "office" } };
	assert_int_equal(rw_cidr_parse("192.0.2.0/28", &in[0].cidr, 0), 0);
	assert_int_equal(rw_cidr_parse("203.0.113.200/32", &in[1].cidr, 0), 0);
	assert_int_equal(rw_cidr_parse("2001:db8:9::/48", &in[2].cidr, 0), 0);
	struct rw_diag d;
	rw_diag_init(&d);
	assert_int_equal(rw_state_save(path, in, 3, &d), 0); /* creates the directories */
	struct rw_live_change *out;
	size_t n;
	assert_int_equal(rw_state_load(path, &out, &n, &d), 0);
	assert_int_equal(n, 3);
	for (size_t i = 0; i < 3; i++) {
		assert_int_equal(out[i].add, in[i].add);
		assert_string_equal(out[i].network, in[i].network);
		assert_memory_equal(&out[i].cidr, &in[i].cidr, sizeof(in[i].cidr));
	}
	free(out);
	/* saving an empty list replaces the file (atomically, no .tmp left) */
	assert_int_equal(rw_state_save(path, NULL, 0, &d), 0);
	assert_int_equal(rw_state_load(path, &out, &n, &d), 0);
	assert_int_equal(n, 0);
	char tmp[300];
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	assert_int_not_equal(access(tmp, F_OK), 0);
}

static void test_missing_is_empty(void **state)
{
	char path[256];
	snprintf(path, sizeof(path), "%s/nothing-here.json", dir);
	struct rw_live_change *out = (void *)1;
	size_t n = 9;
	struct rw_diag d;
	rw_diag_init(&d);
	assert_int_equal(rw_state_load(path, &out, &n, &d), 0);
	assert_int_equal(n, 0);
	assert_null(out);
	assert_int_equal(d.n_err, 0);
}

static void test_malformed_refused(void **state)
{
	static const char *const bad[] = {
		"",
		"{\"version\":1,\"changes\":[{\"op\":\"add\"",
		"{\"version\":2,\"changes\":[]}",
		"{\"changes\":[]}",
		"{\"version\":1,\"changes\":{}}",
		"{\"version\":1,\"changes\":[{\"op\":\"flush\",\"network\":\"office\",\"cidr\":\"192.0.2.0/28\"}]}",
		"{\"version\":1,\"changes\":[{\"op\":\"add\",\"network\":\"office\",\"cidr\":\"192.0.2.1/28\"}]}",
		"{\"version\":1,\"changes\":[{\"op\":\"add\",\"network\":\"\",\"cidr\":\"192.0.2.0/28\"}]}",
		"{\"version\":1,\"changes\":[{\"op\":\"add\",\"network\":\"office\"}]}",
		"{\"version\":1,\"version\":1,\"changes\":[]}",
	};
	char path[256];
	snprintf(path, sizeof(path), "%s/bad.json", dir);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		write_file(path, bad[i]);
		struct rw_live_change *out;
		size_t n;
		struct rw_diag d;
		rw_diag_init(&d);
		int r = rw_state_load(path, &out, &n, &d);
		if (r == 0)
			fail_msg("case %zu accepted: %s", i, bad[i]);
		assert_true(d.n_err > 0);
		assert_non_null(strstr(d.msg[0].text, path));
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_missing_is_empty),
		cmocka_unit_test(test_malformed_refused),
	};
	return cmocka_run_group_tests_name("state", tests, setup, teardown);
}
