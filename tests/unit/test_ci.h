/* What a unit test does when the machine lacks something it needs (root
 * for a network namespace, a tool such as promtool or strace): outside CI
 * that is a skip (a developer's unprivileged `make unit`); under CI=true
 * the thing is part of the environment .ci/run sets up, so its absence is
 * a failure. Header-only, included after <cmocka.h>. */
#ifndef RW_TEST_CI_H
#define RW_TEST_CI_H

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

static inline bool rw_test_under_ci(void)
{
	const char *v = getenv("CI");
	return v && strcmp(v, "true") == 0;
}

/* Skip the calling test, or fail it under CI=true; why says what is
 * missing and how it is normally provided. */
#define RW_TEST_NEED(why)                                                 \
	do {                                                              \
		if (rw_test_under_ci())                                   \
			fail_msg("CI=true and %s", (why));                \
		print_message("%s: skipped\n", (why));                    \
		skip();                                                   \
	} while (0)

#endif
