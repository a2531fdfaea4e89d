/* Configuration loading: libconfig file -> validated struct rw_policy.
 *
 * The whole file is validated before anything is returned (style habit 8):
 * unknown settings, wrong types, bad CIDRs, undefined or duplicate names,
 * ranges, missing files, cross-field checks. Every problem goes into diag as
 * "FILE:LINE: what is wrong"; merged overlapping CIDRs are warnings. On any
 * error the function returns RW_ECONFIG and *out is left zeroed (nothing to
 * free). On success the caller owns *out (rw_policy_free). */
#ifndef RW_CONFIG_H
#define RW_CONFIG_H

#include "base/rw_err.h"
#include "rules/rw_policy.h"

int rw_config_load_file(const char *path, struct rw_policy *out, struct rw_diag *diag);

/* Same, from memory (tests, fuzzing). 'name' is used as FILE in messages;
 * relative file paths inside are checked relative to the current dir. */
int rw_config_load_string(const char *text, const char *name, struct rw_policy *out,
			  struct rw_diag *diag);

#endif
