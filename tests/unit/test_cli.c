/* regwalld's command line, run as the real binary ($BUILD/regwalld; the unit
 * runner exports BUILD): what a user sees from a check run, a bad config,
 * and a wrong invocation. Exit codes: 0 done, 1 the config (or the action)
 * failed, 2 the command line is wrong. Run from the repository root: the
 * bad configs under tests/configs/bad/ carry their expected message in a
 * "# expect: " first line (the same lines tests/unit/test_config.c reads
 * through the library; here they must reach the terminal as FILE:LINE:). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "tests/unit/test_ci.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

#define BAD_DIR "tests/configs/bad"
#define OUT_MAX 65536

struct run {
	int status; /* exit code, or 128 + signal */
	char out[OUT_MAX];
	char err[OUT_MAX];
};

static char g_bin[512];
static char g_ctl[512];
static char g_tmp[64];

static int setup(void **state)
{
	const char *b = getenv("BUILD");
	snprintf(g_bin, sizeof(g_bin), "%s/regwalld", b && *b ? b : "build");
	snprintf(g_ctl, sizeof(g_ctl), "%s/regwallctl", b && *b ? b : "build");
	if (access(g_bin, X_OK) != 0) {
		fprintf(stderr, "test_cli: %s: %s (run `make` first, or set BUILD)\n", g_bin,
			strerror(errno));
		return -1;
	}
	snprintf(g_tmp, sizeof(g_tmp), "/tmp/rw-cli.XXXXXX");
	return mkdtemp(g_tmp) ? 0 : -1;
}

static int teardown(void **state)
{
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", g_tmp);
	return system(cmd) == 0 ? 0 : -1;
}

static void slurp(const char *path, char *buf, size_t cap)
{
	FILE *f = fopen(path, "r");
	assert_non_null(f);
	size_t n = fread(buf, 1, cap - 1, f);
	buf[n] = '\0';
	fclose(f);
}

/* Runs regwalld with argv (argv[0] filled in here), stdin from /dev/null,
 * stdout and stderr to files. A check run takes milliseconds; the 60 s
 * bound only keeps a hung binary from hanging the suite. */
static void run_bin(const char *bin, struct run *r, const char *const *args)
{
	char *argv[16];
	size_t n = 0;
	argv[n++] = (char *)bin;
	for (; args[n - 1]; n++) {
		assert_true(n < sizeof(argv) / sizeof(argv[0]) - 1);
		argv[n] = (char *)args[n - 1];
	}
	argv[n] = NULL;

	char outp[128], errp[128];
	snprintf(outp, sizeof(outp), "%s/stdout", g_tmp);
	snprintf(errp, sizeof(errp), "%s/stderr", g_tmp);
	posix_spawn_file_actions_t fa;
	assert_int_equal(posix_spawn_file_actions_init(&fa), 0);
	posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	posix_spawn_file_actions_addopen(&fa, 1, outp, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	posix_spawn_file_actions_addopen(&fa, 2, errp, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	pid_t pid;
	int rc = posix_spawn(&pid, bin, &fa, NULL, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	assert_int_equal(rc, 0);

	int st = 0;
	pid_t w = 0;
	for (int i = 0; i < 6000 && (w = waitpid(pid, &st, WNOHANG)) == 0; i++)
		nanosleep(&(struct timespec){ 0, 10 * 1000 * 1000 }, NULL);
	if (w == 0) {
		kill(pid, SIGKILL);
		waitpid(pid, &st, 0);
		fail_msg("%s %s: still running after 60 s", bin, args[0] ? args[0] : "");
	}
	assert_int_equal(w, pid);
	r->status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
	slurp(outp, r->out, sizeof(r->out));
	slurp(errp, r->err, sizeof(r->err));
}

static void run(struct run *r, const char *const *args)
{
	run_bin(g_bin, r, args);
}

static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	assert_int_equal(fputs(text, f) >= 0, 1);
	assert_int_equal(fclose(f), 0);
}

static const char good_conf[] =
	"registry = { upstream = \"198.51.100.10:5000\";\n"
	"             server_names = [ \"registry.example.test\" ]; };\n"
	"networks = { office = [ \"203.0.113.0/24\", \"2001:db8:1::/48\" ]; };\n"
	"listeners = ( { name = \"pass\"; listen = \"0.0.0.0:8443\"; mode = \"passthrough\";\n"
	"                allow_from = [ \"office\" ]; } );\n";

/* the same file with one mistake on line 3 */
static const char bad_conf[] =
	"registry = { upstream = \"198.51.100.10:5000\";\n"
	"             server_names = [ \"registry.example.test\" ]; };\n"
	"networks = { office = [ \"203.0.113.1/24\" ]; };\n"
	"listeners = ( { name = \"pass\"; listen = \"0.0.0.0:8443\"; mode = \"passthrough\";\n"
	"                allow_from = [ \"office\" ]; } );\n";

static struct run g_r;

static void test_good_config(void **state)
{
	char path[128], want[256];
	snprintf(path, sizeof(path), "%s/good.conf", g_tmp);
	write_file(path, good_conf);
	snprintf(want, sizeof(want), "%s: configuration OK\n", path);

	static const char *const flags[] = { "-n", "--check-config" };
	for (size_t i = 0; i < 2; i++) {
		run(&g_r, (const char *const[]){ "-c", path, flags[i], NULL });
		if (g_r.status != 0)
			fail_msg("%s: exit %d, stderr: %s", flags[i], g_r.status, g_r.err);
		assert_string_equal(g_r.out, want);
		assert_string_equal(g_r.err, "");
	}
	/* --config FILE and the action first work the same */
	run(&g_r, (const char *const[]){ "--check-config", "--config", path, NULL });
	assert_int_equal(g_r.status, 0);
	assert_string_equal(g_r.out, want);

	/* the compiled table goes to stdout, nothing else */
	run(&g_r, (const char *const[]){ "-c", path, "--dump-rules", NULL });
	assert_int_equal(g_r.status, 0);
	assert_non_null(strstr(g_r.out, "table inet regwall"));
	assert_non_null(strstr(g_r.out, "203.0.113.0/24"));
	assert_null(strstr(g_r.out, "configuration OK"));
}

static void test_bad_config(void **state)
{
	char path[128], want[256];
	snprintf(path, sizeof(path), "%s/bad.conf", g_tmp);
	write_file(path, bad_conf);
	snprintf(want, sizeof(want),
		 "%s:3: networks.office[0]: \"203.0.113.1/24\": host bits set", path);

	static const char *const flags[] = { "-n", "--check-config", "--dump-rules" };
	for (size_t i = 0; i < 3; i++) {
		run(&g_r, (const char *const[]){ "-c", path, flags[i], NULL });
		if (g_r.status != 1)
			fail_msg("%s: exit %d, want 1", flags[i], g_r.status);
		if (strncmp(g_r.err, want, strlen(want)) != 0)
			fail_msg("%s: stderr does not start with '%s':\n%s", flags[i], want, g_r.err);
		assert_string_equal(g_r.out, ""); /* no half table, no "OK" */
	}

	/* a file that is not there: exit 1, named on stderr */
	snprintf(path, sizeof(path), "%s/absent.conf", g_tmp);
	run(&g_r, (const char *const[]){ "-c", path, "-n", NULL });
	assert_int_equal(g_r.status, 1);
	assert_non_null(strstr(g_r.err, path));
	assert_string_equal(g_r.out, "");
}

/* Every bad config of the library tests, through the binary: exit 1 and
 * its expected "FILE:LINE: message" on stderr, with FILE as given. */
static void test_bad_config_corpus(void **state)
{
	DIR *d = opendir(BAD_DIR);
	struct dirent *e;
	unsigned n = 0;
	if (!d)
		fail_msg("no %s (run from the repository root)", BAD_DIR);
	while ((e = readdir(d))) {
		size_t l = strlen(e->d_name);
		if (l < 6 || strcmp(e->d_name + l - 5, ".conf"))
			continue;
		char path[512], text[4096], want[1024];
		snprintf(path, sizeof(path), BAD_DIR "/%s", e->d_name);
		slurp(path, text, sizeof(text));
		if (strncmp(text, "# expect: ", 10) != 0)
			fail_msg("%s: no '# expect: ' first line", path);
		size_t el = strcspn(text + 10, "\n");
		/* ":N: msg" is relative to the file; other expectations are whole */
		if (text[10] == ':')
			snprintf(want, sizeof(want), "%s%.*s", path, (int)el, text + 10);
		else
			snprintf(want, sizeof(want), "%.*s", (int)el, text + 10);

		run(&g_r, (const char *const[]){ "-c", path, "-n", NULL });
		if (g_r.status != 1 || !strstr(g_r.err, want))
			fail_msg("%s: exit %d (want 1), stderr lacks '%s':\n%s", path, g_r.status,
				 want, g_r.err);
		assert_string_equal(g_r.out, "");
		n++;
	}
	closedir(d);
	assert_true(n >= 30);
}

static void expect_usage_error(const char *const *args, const char *what, const char *msg)
{
	run(&g_r, args);
	if (g_r.status != 2)
		fail_msg("%s: exit %d, want 2", what, g_r.status);
	if (msg && !strstr(g_r.err, msg))
		fail_msg("%s: stderr lacks '%s':\n%s", what, msg, g_r.err);
	assert_string_equal(g_r.out, "");
}

static void test_usage_errors(void **state)
{
	char path[128];
	snprintf(path, sizeof(path), "%s/good.conf", g_tmp);
	write_file(path, good_conf);

	expect_usage_error((const char *const[]){ "--bogus", NULL }, "--bogus", "usage: regwalld");
	expect_usage_error((const char *const[]){ "--bogus", NULL }, "--bogus", "'--bogus'");
	expect_usage_error((const char *const[]){ "-x", "-c", path, "-n", NULL }, "-x",
			   "usage: regwalld");
	/* no action: usage, not a silent default */
	expect_usage_error((const char *const[]){ "-c", path, NULL }, "no action", "usage: regwalld");
	expect_usage_error((const char *const[]){ NULL }, "no arguments", "usage: regwalld");
	/* a stray argument is not ignored */
	expect_usage_error((const char *const[]){ "-c", path, "-n", "extra", NULL }, "stray",
			   "usage: regwalld");
	/* -c without its FILE */
	expect_usage_error((const char *const[]){ "-n", "-c", NULL }, "-c alone", "usage: regwalld");
	expect_usage_error((const char *const[]){ "-c", path, "-n", "--apply", NULL }, "two actions",
			   "choose one action");
	expect_usage_error((const char *const[]){ "-c", path, "-f", "-w", "many", NULL }, "-w many",
			   "--workers wants 0..");
	expect_usage_error((const char *const[]){ "-c", path, "-f", "-w", "-1", NULL }, "-w -1",
			   "--workers wants 0..");

	/* the same action twice is still one action */
	run(&g_r, (const char *const[]){ "-c", path, "-n", "--check-config", NULL });
	assert_int_equal(g_r.status, 0);
}

static void test_help(void **state)
{
	static const char *const flags[] = { "-h", "--help" };
	for (size_t i = 0; i < 2; i++) {
		run(&g_r, (const char *const[]){ flags[i], NULL });
		assert_int_equal(g_r.status, 0);
		/* asked for, so on stdout; every action is listed */
		assert_non_null(strstr(g_r.out, "usage: regwalld"));
		assert_non_null(strstr(g_r.out, "--check-config"));
		assert_non_null(strstr(g_r.out, "--dump-rules"));
		assert_non_null(strstr(g_r.out, "--foreground"));
		assert_string_equal(g_r.err, "");
	}
}

/* regwallctl's command line: --version, --help with the exit codes, an
 * unknown command named, and the socket found from -s, -c CONFIG or
 * $REGWALL_SOCKET (nothing listens there: exit 3 naming the path). */
static void test_ctl_cli(void **state)
{
	run_bin(g_ctl, &g_r, (const char *const[]){ "--version", NULL });
	assert_int_equal(g_r.status, 0);
	assert_true(strncmp(g_r.out, "regwallctl ", 11) == 0);
	run(&g_r, (const char *const[]){ "--version", NULL });
	assert_int_equal(g_r.status, 0);
	assert_true(strncmp(g_r.out, "regwalld ", 9) == 0);
	run_bin(g_ctl, &g_r, (const char *const[]){ "--help", NULL });
	assert_int_equal(g_r.status, 0);
	assert_non_null(strstr(g_r.out, "exit codes: 0 done, 1 refused by regwalld, 2 usage, 3"));

	run_bin(g_ctl, &g_r, (const char *const[]){ "frob", NULL });
	assert_int_equal(g_r.status, 2);
	assert_true(strncmp(g_r.err, "regwallctl: unknown command 'frob'\n", 35) == 0);
	run_bin(g_ctl, &g_r, (const char *const[]){ "network", "add", "office", NULL });
	assert_int_equal(g_r.status, 2);
	assert_non_null(strstr(g_r.err, "network: wrong arguments"));

	char sock[128], conf[128];
	snprintf(sock, sizeof(sock), "%s/nobody-here.sock", g_tmp);
	run_bin(g_ctl, &g_r, (const char *const[]){ "--socket", sock, "status", NULL });
	assert_int_equal(g_r.status, 3);
	assert_non_null(strstr(g_r.err, sock));

	snprintf(conf, sizeof(conf), "%s/ctl.conf", g_tmp);
	char text[512];
	snprintf(text, sizeof(text), "%scontrol = { socket = \"%s/from-config.sock\"; };\n", good_conf,
		 g_tmp);
	write_file(conf, text);
	run_bin(g_ctl, &g_r, (const char *const[]){ "-c", conf, "status", NULL });
	assert_int_equal(g_r.status, 3);
	assert_non_null(strstr(g_r.err, "/from-config.sock"));
	run_bin(g_ctl, &g_r, (const char *const[]){ "-c", conf, "-s", sock, "status", NULL });
	assert_int_equal(g_r.status, 2);

	setenv("REGWALL_SOCKET", sock, 1);
	run_bin(g_ctl, &g_r, (const char *const[]){ "status", NULL });
	unsetenv("REGWALL_SOCKET");
	assert_int_equal(g_r.status, 3);
	assert_non_null(strstr(g_r.err, sock));
}

/* The bash completion installed with the programs offers their commands
 * and options (tests/unit/completion-check.sh drives it as bash does). */
static void test_completion(void **state)
{
	int st = system("bash tests/unit/completion-check.sh");
	int rc = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
	if (rc == 77)
		RW_TEST_NEED("bash-completion missing (scripts/install-deps.sh installs it)");
	assert_int_equal(rc, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_good_config),
		cmocka_unit_test(test_bad_config),
		cmocka_unit_test(test_bad_config_corpus),
		cmocka_unit_test(test_usage_errors),
		cmocka_unit_test(test_help),
		cmocka_unit_test(test_ctl_cli),
		cmocka_unit_test(test_completion),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
