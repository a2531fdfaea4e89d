/* rw_evline: a worker's event line parsed at most once for all sinks, and
 * only into a JSON object (the line is untrusted). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <string.h>

#include "appliance/rw_evline.h"

static void test_parsed_once(void **state)
{
	const char *l = "{\"kind\":\"refuse\",\"reason\":\"sni\"}";
	struct rw_evline e = rw_evline_of(l, strlen(l));
	assert_false(e.parsed);
	json_t *a = rw_evline_obj(&e);
	assert_non_null(a);
	assert_string_equal(json_string_value(json_object_get(a, "reason")), "sni");
	/* a second sink gets the same object, not a second parse */
	assert_ptr_equal(rw_evline_obj(&e), a);
	rw_evline_fini(&e);
	assert_null(e.obj);
}

static void test_not_an_object(void **state)
{
	static const char *bad[] = {
		"[\"refuse\"]",                      /* JSON, not an object */
		"\"refuse\"",                        /* a string */
		"{\"kind\":\"refuse\",\"kind\":\"pass\"}", /* duplicate key: ambiguous */
		"{\"kind\":\"refuse\"",              /* cut short */
		"{\"kind\":\"refuse\"} {}",          /* two values */
		"",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct rw_evline e = rw_evline_of(bad[i], strlen(bad[i]));
		assert_null(rw_evline_obj(&e));
		assert_true(e.parsed); /* and not tried again */
		assert_null(rw_evline_obj(&e));
		rw_evline_fini(&e);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parsed_once),
		cmocka_unit_test(test_not_an_object),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
