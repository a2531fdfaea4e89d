/* regwallctl log [--follow] [--since T] [--reason R] [--src CIDR]
 * [--file PATH] [-j]: read the blocked log, filter, print. Runs without
 * the daemon (it reads the file); the path comes from --file, else from
 * log.blocked of the config given with regwallctl -c. */
#ifndef RW_BLOCKED_CLI_H
#define RW_BLOCKED_CLI_H

/* argv[0] is "log". raw: print the lines as JSON (re-serialised, ASCII).
 * Returns regwallctl's exit code (0 ok, 2 usage, 1 cannot read). */
int rw_blocked_cli(int argc, char **argv, const char *config, int raw);

#endif
