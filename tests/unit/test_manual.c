/* The manual pages (docs/man/) say what the code does: every setting the
 * loader accepts (regwalld --list-settings, walked from the settings
 * table) is documented in regwall.conf(5) and every documented one is
 * accepted; every control command (the protocol's table, read here through
 * rw_ctl_cmd_str) is documented in regwallctl(8) and the other way round;
 * every long option of the programs' --help is in their pages; each page
 * renders without a warning. tests/unit/manual-check.sh does the
 * comparing and prints what is missing where; run from the repository root
 * with BUILD set (the unit runner does both). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "tests/unit/test_ci.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "appliance/rw_ctl.h"

static char g_tmp[64];

static int setup(void **state)
{
	snprintf(g_tmp, sizeof(g_tmp), "/tmp/rw-man.XXXXXX");
	return mkdtemp(g_tmp) ? 0 : -1;
}

static int teardown(void **state)
{
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", g_tmp);
	return system(cmd) == 0 ? 0 : -1;
}

static int run(const char *cmd)
{
	int st = system(cmd);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static void test_settings_documented(void **state)
{
	assert_int_equal(run("bash tests/unit/manual-check.sh settings"), 0);
}

/* the command names as the daemon parses them, one a line */
static void write_commands(const char *path)
{
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	int n = 0;
	for (int c = 0; c < 256; c++) {
		const char *s = rw_ctl_cmd_str((enum rw_ctl_cmd)c);
		if (!s || !strcmp(s, "?"))
			break;
		fprintf(f, "%s\n", s);
		n++;
	}
	assert_int_equal(fclose(f), 0);
	assert_true(n >= 10); /* status ... explain today */
}

static void test_commands_documented(void **state)
{
	char path[128], cmd[256];
	snprintf(path, sizeof(path), "%s/commands", g_tmp);
	write_commands(path);
	snprintf(cmd, sizeof(cmd), "bash tests/unit/manual-check.sh commands '%s'", path);
	assert_int_equal(run(cmd), 0);
}

/* every long option of regwalld --help and regwallctl --help is in the
 * program's page */
static void test_options_documented(void **state)
{
	assert_int_equal(run("bash tests/unit/manual-check.sh options"), 0);
}

static void test_pages_render(void **state)
{
	int rc = run("bash tests/unit/manual-check.sh render");
	if (rc == 77)
		RW_TEST_NEED("man or groff missing (scripts/install-deps.sh installs man-db)");
	assert_int_equal(rc, 0);
}

/* The check can fail: a copy of the pages with one setting renamed and one
 * command dropped is refused, naming both sides of each difference. */
static void test_check_finds_gaps(void **state)
{
	char cmd[1024], path[128], out[8192];
	snprintf(cmd, sizeof(cmd),
		 "cp -r docs/man '%s/man' && "
		 "sed -i 's/^\\.It Cm limits\\.idle_timeout$/.It Cm limits.idle_timeoutx/' "
		 "'%s/man/regwall.conf.5' && "
		 "sed -i '/^\\.It Cm ban del /d' '%s/man/regwallctl.8'",
		 g_tmp, g_tmp, g_tmp);
	assert_int_equal(run(cmd), 0);
	snprintf(path, sizeof(path), "%s/commands", g_tmp);
	write_commands(path);
	/* each check alone fails (exit 1) and says what is missing where */
	snprintf(cmd, sizeof(cmd),
		 "MAN_DIR='%s/man' bash tests/unit/manual-check.sh settings >'%s/out' 2>&1",
		 g_tmp, g_tmp);
	assert_int_equal(run(cmd), 1);
	snprintf(cmd, sizeof(cmd),
		 "MAN_DIR='%s/man' bash tests/unit/manual-check.sh commands '%s' >>'%s/out' 2>&1",
		 g_tmp, path, g_tmp);
	assert_int_equal(run(cmd), 1);
	snprintf(path, sizeof(path), "%s/out", g_tmp);
	FILE *f = fopen(path, "r");
	assert_non_null(f);
	size_t n = fread(out, 1, sizeof(out) - 1, f);
	fclose(f);
	out[n] = '\0';
	printf("%s", out);
	assert_non_null(strstr(out, "man/regwall.conf.5: missing entry '.It Cm limits.idle_timeout'"));
	assert_non_null(strstr(out, "documents 'limits.idle_timeoutx', which regwalld "
				    "--list-settings does not have"));
	assert_non_null(strstr(out, "man/regwallctl.8: missing entry '.It Cm ban del'"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_settings_documented),
		cmocka_unit_test(test_commands_documented),
		cmocka_unit_test(test_options_documented),
		cmocka_unit_test(test_pages_render),
		cmocka_unit_test(test_check_finds_gaps),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
