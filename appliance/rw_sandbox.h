/* The worker's sandbox, applied in the forked child after it has built
 * everything privileged (TLS files read, listening sockets taken over)
 * and before its first accept (OpenSSH's privsep child and seccomp
 * sandbox are the model):
 *
 *   1. identity: supplementary groups dropped, then gid and uid set to
 *      the worker user (all three ids; libcap-ng's capng_change_id, which
 *      also clears the capability bounding set), and checked: going back
 *      to uid 0 must fail;
 *   2. no capabilities at all (effective, permitted, inheritable,
 *      ambient);
 *   3. PR_SET_NO_NEW_PRIVS;
 *   4. a seccomp allowlist (libseccomp): the system calls of the data
 *      path; socket() only for IPv4/IPv6 TCP (the registry connection);
 *      open/openat answer EACCES (OpenSSL may probe a file lazily; no
 *      file is opened after the drop); anything else kills the worker,
 *      which the parent logs and restarts.
 *
 * Running as non-root (unit tests, a developer's shell) skips step 1-2
 * (there is nothing to drop) but still applies 3-4. A build with
 * AddressSanitizer skips 4 (the sanitizer's runtime needs system calls a
 * worker never makes). */
#ifndef RW_SANDBOX_H
#define RW_SANDBOX_H

#include <stdbool.h>
#include <stddef.h>

/* The user the workers run as when none is given: "regwall" if it exists
 * (make install / the package create it), else "nobody". */
#define RW_SANDBOX_USER "regwall"
#define RW_SANDBOX_FALLBACK_USER "nobody"

/* Resolve the worker user now (in the parent: NSS may open files). */
struct rw_sandbox_user {
	unsigned uid, gid;
	char name[64];
	bool valid;
	/* the worker's parent as it was when the worker started (0: not
	 * checked): after the uid change the parent-death signal is set again
	 * and the parent must still be this process */
	int parent_pid;
};
int rw_sandbox_user_lookup(const char *name, struct rw_sandbox_user *out, char *err, size_t errlen);

/* Steps 1-4 in the calling process (the worker child). 0, or a negative
 * RW_E* with err[] saying which step failed: the worker then exits
 * rather than serve with privileges. */
int rw_sandbox_enter(const struct rw_sandbox_user *u, char *err, size_t errlen);

/* Step 4 alone (tests: run a forbidden call under the real filter). */
int rw_sandbox_seccomp(char *err, size_t errlen);

#endif
