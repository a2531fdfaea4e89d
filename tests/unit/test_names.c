/* Server-name matching: exact names, one-label wildcards, case. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "fwd/rw_names.h"

static void test_exact(void **state)
{
	assert_true(rw_names_match_one("registry.example.test", "registry.example.test"));
	assert_false(rw_names_match_one("registry.example.test", "registry.example.tes"));
	assert_false(rw_names_match_one("registry.example.test", "xregistry.example.test"));
	assert_false(rw_names_match_one("registry.example.test", "registry.example.test.evil"));
	assert_false(rw_names_match_one("registry.example.test", ""));
	assert_false(rw_names_match_one("", "registry.example.test"));
}

static void test_case_and_trailing_dot(void **state)
{
	assert_true(rw_names_match_one("registry.example.test", "REGISTRY.Example.TEST"));
	assert_true(rw_names_match_one("registry.example.test", "registry.example.test."));
	assert_false(rw_names_match_one("registry.example.test", "registry.example.test.."));
	assert_true(rw_names_match_one("*.example.test", "A.EXAMPLE.test"));
}

static void test_wildcard_one_label(void **state)
{
	assert_true(rw_names_match_one("*.example.test", "a.example.test"));
	assert_true(rw_names_match_one("*.example.test", "registry-2.example.test"));
	/* not the bare suffix, not two labels */
	assert_false(rw_names_match_one("*.example.test", "example.test"));
	assert_false(rw_names_match_one("*.example.test", "a.b.example.test"));
	assert_false(rw_names_match_one("*.example.test", ".example.test"));
	/* the suffix must match on a label boundary */
	assert_false(rw_names_match_one("*.example.test", "aexample.test"));
	assert_false(rw_names_match_one("*.example.test", "a.notexample.test"));
}

static void test_bad_patterns_never_match(void **state)
{
	assert_false(rw_names_match_one("*", "a"));
	assert_false(rw_names_match_one("*.", "a."));
	assert_false(rw_names_match_one("reg*.example.test", "registry.example.test"));
	assert_false(rw_names_match_one("*.*.test", "a.b.test"));
	assert_false(rw_names_match_one("**.example.test", "a.example.test"));
	assert_false(rw_names_match_one(NULL, "a.example.test"));
	assert_false(rw_names_match_one("a.example.test", NULL));
}

static void test_list(void **state)
{
	char *names[] = { "registry.example.test", "*.mirror.example.test" };
	assert_true(rw_names_match(names, 2, "registry.example.test"));
	assert_true(rw_names_match(names, 2, "eu.mirror.example.test"));
	assert_false(rw_names_match(names, 2, "mirror.example.test"));
	assert_false(rw_names_match(names, 2, "other.example.test"));
	assert_false(rw_names_match(names, 0, "registry.example.test"));
	assert_false(rw_names_match(NULL, 0, "registry.example.test"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_exact),
		cmocka_unit_test(test_case_and_trailing_dot),
		cmocka_unit_test(test_wildcard_one_label),
		cmocka_unit_test(test_bad_patterns_never_match),
		cmocka_unit_test(test_list),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
