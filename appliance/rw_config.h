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

/* Calls fn with the full path of every setting the loader accepts, in the
 * table's order: "registry.upstream", "listeners[].allow_from",
 * "policy.conn_rate.per_source"; "networks.*" for free-form names. */
void rw_config_settings(void (*fn)(const char *path, void *arg), void *arg);

#endif
