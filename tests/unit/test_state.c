/* Live changes: the state file (round trip, missing file, malformed
 * files), the VPN-peer overlap rule and the judgement of a change whose
 * acknowledgements were lost. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "tests/unit/test_ci.h"
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

/* The save is durable in order: the new file is fsynced, renamed over
 * the old one, and then its directory is fsynced (without the last step
 * a power cut can bring back the old file after the change was
 * acknowledged). Watched with strace on a child that only saves. */
static const char *self_exe;

static void test_durable_order(void **state)
{
	if (system("command -v strace >/dev/null 2>&1") != 0)
		RW_TEST_NEED("strace is missing (scripts/install-deps.sh installs it)");
	char path[256], log[300], cmd[1024];
	snprintf(path, sizeof(path), "%s/durable/live.json", dir);
	snprintf(log, sizeof(log), "%s/strace.log", dir);
	snprintf(cmd, sizeof(cmd),
		 "ASAN_OPTIONS=detect_leaks=0 strace -f -qq -e trace=openat,fsync,rename,renameat,renameat2 -o '%s' '%s' --save '%s'",
		 log, self_exe, path);
	assert_int_equal(system(cmd), 0);
	FILE *f = fopen(log, "r");
	assert_non_null(f);
	char line[1024], dirpath[300];
	snprintf(dirpath, sizeof(dirpath), "\"%s/durable\"", dir);
	int renamed = 0, dir_fd = -1, synced = 0, file_synced_before = 0;
	int last_fsync_fd = -1;
	while (fgets(line, sizeof(line), f)) {
		char *sp = strchr(line, ' '); /* past the pid */
		const char *l = sp ? sp : line;
		while (*l == ' ')
			l++;
		int fd;
		if (!renamed && !strncmp(l, "fsync(", 6))
			last_fsync_fd = atoi(l + 6);
		if (strstr(l, "rename") && strstr(l, "live.json.tmp")) {
			renamed = 1;
			file_synced_before = last_fsync_fd >= 0;
		} else if (renamed && strstr(l, "openat(") && strstr(l, dirpath) &&
			   strstr(l, "O_DIRECTORY") && sscanf(strrchr(l, '=') + 1, "%d", &fd) == 1) {
			dir_fd = fd;
		} else if (renamed && dir_fd >= 0 && !strncmp(l, "fsync(", 6) && atoi(l + 6) == dir_fd &&
			   strstr(l, "= 0")) {
			synced = 1;
		}
	}
	fclose(f);
	assert_true(file_synced_before);
	assert_true(renamed);
	assert_true(dir_fd >= 0);
	assert_true(synced);
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

/* An older regwallctl saved IPv4-mapped prefixes; they never matched, so
 * they are dropped with a warning instead of failing the start. */
static void test_mapped_entries_dropped(void **state)
{
	char path[256];
	snprintf(path, sizeof(path), "%s/mapped.json", dir);
	write_file(path, "{\"version\":1,\"changes\":["
			 "{\"op\":\"add\",\"network\":\"office\",\"cidr\":\"192.0.2.0/28\"},"
			 "{\"op\":\"add\",\"network\":\"office\",\"cidr\":\"::ffff:198.51.100.7\"},"
			 "{\"op\":\"del\",\"network\":\"office\",\"cidr\":\"2001:db8::/64\"}]}");
	struct rw_live_change *out;
	size_t n;
	struct rw_diag d;
	rw_diag_init(&d);
	assert_int_equal(rw_state_load(path, &out, &n, &d), 0);
	assert_int_equal(n, 2);
	assert_int_equal(d.n_err, 0);
	assert_int_equal(d.n_warn, 1);
	assert_non_null(strstr(d.msg[0].text, "change #2 (::ffff:198.51.100.7) dropped"));
	char a[64];
	rw_cidr_format(&out[0].cidr, a, sizeof(a));
	assert_string_equal(a, "192.0.2.0/28");
	assert_false(out[1].add);
	rw_cidr_format(&out[1].cidr, a, sizeof(a));
	assert_string_equal(a, "2001:db8::/64");
	free(out);
}

static struct rw_cidr C(const char *text)
{
	struct rw_cidr c;
	if (rw_cidr_parse(text, &c, 0) != 0)
		fail_msg("bad test prefix %s", text);
	return c;
}

static void test_peer_overlap(void **state)
{
	struct rw_cidr alice[] = { C("192.0.2.2/32"), C("2001:db8:77::2/128") };
	struct rw_cidr bob[] = { C("198.51.100.64/26") };
	struct rw_peer peers[2] = { { .name = "alice", .addresses = alice, .n_addresses = 2 },
				    { .name = "bob", .addresses = bob, .n_addresses = 1 } };
	struct rw_policy p;
	memset(&p, 0, sizeof(p));
	p.vpn.enabled = true;
	p.vpn.peers = peers;
	p.vpn.n_peers = 2;
	const struct rw_cidr *addr = NULL;
	struct rw_cidr c;

	c = C("192.0.2.0/24"); /* contains alice's address */
	const struct rw_peer *hit = rw_state_peer_overlap(&p, &c, &addr);
	assert_ptr_equal(hit, &peers[0]);
	assert_ptr_equal(addr, &alice[0]);
	c = C("198.51.100.70/32"); /* inside bob's */
	hit = rw_state_peer_overlap(&p, &c, &addr);
	assert_ptr_equal(hit, &peers[1]);
	assert_ptr_equal(addr, &bob[0]);
	c = C("2001:db8:77::/48");
	hit = rw_state_peer_overlap(&p, &c, &addr);
	assert_ptr_equal(addr, &alice[1]);
	assert_ptr_equal(hit, &peers[0]);
	/* neighbours and the other family do not overlap */
	c = C("192.0.2.3/32");
	assert_null(rw_state_peer_overlap(&p, &c, &addr));
	c = C("198.51.100.0/26");
	assert_null(rw_state_peer_overlap(&p, &c, &addr));
	c = C("2001:db8:78::/48");
	assert_null(rw_state_peer_overlap(&p, &c, &addr));
	/* no vpn section: no peers to protect */
	p.vpn.enabled = false;
	c = C("192.0.2.0/24");
	assert_null(rw_state_peer_overlap(&p, &c, &addr));
}

/* outcome of req[] against listed[] (copied: it is sorted in place) */
static enum rw_state_outcome judge(int add, const char *const *req, size_t n_req,
				   const char *const *listed, size_t n_listed, unsigned char *took)
{
	struct rw_cidr r[8], l[16];
	assert_true(n_req <= 8 && n_listed <= 16);
	for (size_t i = 0; i < n_req; i++)
		r[i] = C(req[i]);
	for (size_t i = 0; i < n_listed; i++)
		l[i] = C(listed[i]);
	memset(took, 0xee, n_req);
	return rw_state_outcome(add, r, n_req, l, n_listed, took);
}

static void test_outcome_add(void **state)
{
	unsigned char took[8];
	const char *const req[] = { "192.0.2.0/28", "2001:db8:9::/48", "198.51.100.7/32" };
	/* listings in no particular order, other elements around */
	const char *const all[] = { "203.0.113.0/25", "2001:db8:9::/48", "198.51.100.7/32",
				    "192.0.2.0/28", "2001:db8:1::/64" };
	assert_int_equal(judge(1, req, 3, all, 5, took), RW_STATE_ALL);
	assert_memory_equal(took, "\1\1\1", 3);

	const char *const none[] = { "203.0.113.0/25", "2001:db8:1::/64" };
	assert_int_equal(judge(1, req, 3, none, 2, took), RW_STATE_NONE);
	assert_memory_equal(took, "\0\0\0", 3);
	assert_int_equal(judge(1, req, 3, NULL, 0, took), RW_STATE_NONE);

	const char *const some[] = { "2001:db8:9::/48", "203.0.113.0/25" };
	assert_int_equal(judge(1, req, 3, some, 2, took), RW_STATE_SOME);
	assert_memory_equal(took, "\0\1\0", 3);

	/* the listing rebuilds ranges as the fewest prefixes: a wider element
	 * that contains the request means it is there */
	const char *const wider[] = { "192.0.2.0/24", "198.51.100.0/24", "2001:db8::/32" };
	assert_int_equal(judge(1, req, 3, wider, 3, took), RW_STATE_ALL);

	/* a part of the request is not the request: neither a narrower element
	 * nor a neighbour counts, nor the same address in the other family */
	const char *const part[] = { "192.0.2.0/29", "198.51.100.6/32", "198.51.100.8/32",
				     "2001:db8:9::/49" };
	assert_int_equal(judge(1, req, 3, part, 4, took), RW_STATE_NONE);
	const char *const req0[] = { "0.0.0.0/0" };
	const char *const v6zero[] = { "::/0" };
	assert_int_equal(judge(1, req0, 1, v6zero, 1, took), RW_STATE_NONE);
	assert_int_equal(judge(1, v6zero, 1, v6zero, 1, took), RW_STATE_ALL);
}

static void test_outcome_del(void **state)
{
	unsigned char took[8];
	const char *const req[] = { "203.0.113.0/25", "2001:db8:1::/64" };
	const char *const gone[] = { "203.0.113.128/25", "192.0.2.0/24", "2001:db8:2::/64" };
	assert_int_equal(judge(0, req, 2, gone, 3, took), RW_STATE_ALL);
	assert_memory_equal(took, "\1\1", 2);
	assert_int_equal(judge(0, req, 2, NULL, 0, took), RW_STATE_ALL);

	const char *const still[] = { "2001:db8:1::/64", "203.0.113.0/25" };
	assert_int_equal(judge(0, req, 2, still, 2, took), RW_STATE_NONE);
	assert_memory_equal(took, "\0\0", 2);

	const char *const half[] = { "2001:db8:1::/64", "203.0.113.128/25" };
	assert_int_equal(judge(0, req, 2, half, 2, took), RW_STATE_SOME);
	assert_memory_equal(took, "\1\0", 2);

	/* anything left inside or around the prefix means it was not deleted */
	const char *const inside[] = { "203.0.113.64/26", "2001:db8::/32" };
	assert_int_equal(judge(0, req, 2, inside, 2, took), RW_STATE_NONE);
}

int main(int argc, char **argv)
{
	self_exe = "/proc/self/exe";
	char exe[4096];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (n > 0) {
		exe[n] = '\0';
		self_exe = exe;
	}
	if (argc == 3 && !strcmp(argv[1], "--save")) { /* the child of test_durable_order */
		struct rw_live_change c = { .add = 1, .network = "office" };
		struct rw_diag d;
		rw_diag_init(&d);
		if (rw_cidr_parse("192.0.2.0/28", &c.cidr, 0))
			return 1;
		return rw_state_save(argv[2], &c, 1, &d) ? 1 : 0;
	}
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_durable_order),
		cmocka_unit_test(test_missing_is_empty),
		cmocka_unit_test(test_malformed_refused),
		cmocka_unit_test(test_mapped_entries_dropped),
		cmocka_unit_test(test_peer_overlap),
		cmocka_unit_test(test_outcome_add),
		cmocka_unit_test(test_outcome_del),
	};
	return cmocka_run_group_tests_name("state", tests, setup, teardown);
}
