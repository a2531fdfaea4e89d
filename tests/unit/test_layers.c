/* The layer check (scripts/check-layers.sh) that every build runs: it must
 * pass on the real tree and fail on each kind of upward dependency, shown
 * on small trees made here (two layers "low" and "high"). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

static char g_dir[64];
static char g_top[4096];

static void put(const char *rel, const char *text)
{
	char p[512];
	snprintf(p, sizeof(p), "%s/%s", g_dir, rel);
	FILE *f = fopen(p, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

static int sh(const char *fmt, ...)
{
	char cmd[2048];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	int st = system(cmd);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* builds liblow.a and libhigh.a from the tree and runs the check */
static int check_tree(void)
{
	int rc = sh("cd %s && for d in low high; do cc -I. -c -o $d.o $d/x.c || exit 9; "
		    "ar rcs lib$d.a $d.o; done && bash %s/scripts/check-layers.sh . low high 2>err",
		    g_dir, g_top);
	return rc;
}

static int setup(void **state)
{
	assert_non_null(getcwd(g_top, sizeof(g_top)));
	snprintf(g_dir, sizeof(g_dir), "/tmp/rw-layers.XXXXXX");
	assert_non_null(mkdtemp(g_dir));
	assert_int_equal(sh("mkdir -p %s/low %s/high", g_dir, g_dir), 0);
	return 0;
}

static int teardown(void **state)
{
	sh("rm -rf %s", g_dir);
	return 0;
}

static void base_tree(void)
{
	put("low/x.h", "int low_f(void);\n");
	put("low/x.c", "#include \"low/x.h\"\nint low_f(void) { return 1; }\n");
	put("high/x.h", "int high_f(void);\n");
	put("high/x.c", "#include \"high/x.h\"\n#include \"low/x.h\"\nint high_f(void) { return low_f(); }\n");
}

static void test_downward_ok(void **state)
{
	base_tree();
	assert_int_equal(check_tree(), 0);
}

static void test_upward_include(void **state)
{
	base_tree();
	put("low/x.c", "#include \"low/x.h\"\n#include \"high/x.h\"\nint low_f(void) { return 1; }\n");
	assert_int_equal(check_tree(), 1);
	assert_int_equal(sh("grep -q 'low/x.c:2: low/ includes high/' %s/err", g_dir), 0);
}

/* a call upward without the include (a local prototype) is still caught */
static void test_upward_symbol(void **state)
{
	base_tree();
	put("low/x.c", "#include \"low/x.h\"\nint high_f(void);\nint low_f(void) { return high_f(); }\n");
	assert_int_equal(check_tree(), 1);
	assert_int_equal(sh("grep -q 'low/ uses symbols of high/.*high_f' %s/err", g_dir), 0);
}

/* the project itself, as built for this test run */
static void test_real_tree(void **state)
{
	const char *build = getenv("BUILD");
	if (!build)
		build = "build";
	assert_int_equal(sh("bash scripts/check-layers.sh %s base inspect rules fwd appliance", build), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_downward_ok),
		cmocka_unit_test(test_upward_include),
		cmocka_unit_test(test_upward_symbol),
		cmocka_unit_test(test_real_tree),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
