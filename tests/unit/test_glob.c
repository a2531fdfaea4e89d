/* rw_glob: the documented star rules, match-all globs, bounds, and a
 * cross-check against an independent recursive matcher on generated
 * globs and names. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "rules/rw_glob.h"

static void test_rules(void **state)
{
	(void)state;
	/* literal */
	assert_true(rw_glob_match("team-a/app", "team-a/app"));
	assert_false(rw_glob_match("team-a/app", "team-a/app2"));
	assert_false(rw_glob_match("team-a/app", "team-a/ap"));
	/* '*' stays in one segment */
	assert_true(rw_glob_match("team-a/*", "team-a/app"));
	assert_false(rw_glob_match("team-a/*", "team-a/app/x"));
	assert_false(rw_glob_match("team-a/*", "team-a"));
	assert_false(rw_glob_match("team-a/*", "team-ab/app"));
	assert_true(rw_glob_match("*/app", "team-a/app"));
	assert_false(rw_glob_match("*/app", "x/team-a/app"));
	assert_true(rw_glob_match("team-*/base", "team-b/base"));
	assert_true(rw_glob_match("app*", "app"));
	/* '**' crosses segments */
	assert_true(rw_glob_match("team-a/**", "team-a/app"));
	assert_true(rw_glob_match("team-a/**", "team-a/app/x/y"));
	assert_false(rw_glob_match("team-a/**", "team-a"));
	assert_false(rw_glob_match("team-a/**", "team-b/app"));
	assert_true(rw_glob_match("**/base", "a/b/c/base"));
	assert_true(rw_glob_match("**/base", "x/base"));
	assert_false(rw_glob_match("**/base", "base"));
	/* stars alone: everything */
	assert_true(rw_glob_match("*", "library/ubuntu"));
	assert_true(rw_glob_match("*", "a/b/c/d"));
	assert_true(rw_glob_match("**", "a/b"));
	assert_true(rw_glob_is_all("*"));
	assert_true(rw_glob_is_all("**"));
	assert_false(rw_glob_is_all("*/*"));
	assert_false(rw_glob_is_all(""));
	assert_false(rw_glob_is_all(NULL));
	/* degenerate inputs */
	assert_false(rw_glob_match("", "a"));
	assert_true(rw_glob_match("", ""));
	assert_false(rw_glob_match(NULL, "a"));
	assert_false(rw_glob_match("a", NULL));
}

static void test_long_names(void **state)
{
	(void)state;
	char name[300];
	memset(name, 'a', sizeof(name));
	name[255] = '\0';
	assert_true(rw_glob_match("a*", name));
	assert_true(rw_glob_match("*", name));
	name[255] = 'a';
	name[256] = '\0';
	assert_false(rw_glob_match("a*", name)); /* over the grammar's 255 */
	/* many stars, no match: must stay fast (DP, no backtracking) */
	memset(name, 'a', 255);
	name[255] = '\0';
	assert_false(rw_glob_match("*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*b", name));
}

/* Independent reference: plain recursion (fine for short inputs). */
static bool ref_match(const char *g, const char *n)
{
	if (!*g)
		return !*n;
	if (g[0] == '*' && g[1] == '*') {
		for (const char *p = n;; p++) {
			if (ref_match(g + 2, p))
				return true;
			if (!*p)
				return false;
		}
	}
	if (g[0] == '*') {
		for (const char *p = n;; p++) {
			if (ref_match(g + 1, p))
				return true;
			if (!*p || *p == '/')
				return false;
		}
	}
	return *n == *g && ref_match(g + 1, n + 1);
}

static void test_against_reference(void **state)
{
	(void)state;
	static const char galpha[] = "ab/*";
	static const char nalpha[] = "ab/";
	srand(12345);
	unsigned matched = 0;
	for (int i = 0; i < 200000; i++) {
		char g[9], n[11];
		int gl = rand() % 8, nl = rand() % 10;
		for (int k = 0; k < gl; k++)
			g[k] = galpha[rand() % 4];
		g[gl] = '\0';
		for (int k = 0; k < nl; k++)
			n[k] = nalpha[rand() % 3];
		n[nl] = '\0';
		bool want = rw_glob_is_all(g) ? true : ref_match(g, n);
		if (rw_glob_match(g, n) != want)
			fail_msg("glob \"%s\" name \"%s\": want %d", g, n, want);
		matched += want;
	}
	assert_true(matched > 1000); /* the generator does produce matches */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rules),
		cmocka_unit_test(test_long_names),
		cmocka_unit_test(test_against_reference),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
