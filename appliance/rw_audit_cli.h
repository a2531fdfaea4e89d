/* `regwallctl audit ...` (local: reads the files, never the daemon). */
#ifndef RW_AUDIT_CLI_H
#define RW_AUDIT_CLI_H

enum {
	RW_AUDIT_CLI_OK = 0,
	RW_AUDIT_CLI_FAILED = 1,   /* a line changed, removed, inserted, reordered, a bad signature */
	RW_AUDIT_CLI_USAGE = 2,
	RW_AUDIT_CLI_UNSIGNED = 4, /* intact, but lines after the last checkpoint */
};

/* argv[0] is "audit". Prints the result; returns the exit code. */
int rw_audit_cli(int argc, char **argv);

#endif
