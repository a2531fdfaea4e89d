/* `regwallctl audit verify [--pubkey K] FILE...`: runs here, on the files,
 * without regwalld (an auditor runs it on copies, on another machine). */
#include "appliance/rw_audit_cli.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "appliance/rw_audit_verify.h"

static int rw_audit_cli_usage(void)
{
	fprintf(stderr, "usage: regwallctl audit verify [--pubkey HEX|PEMFILE] [--checkpoint LINE|FILE]\n"
			"                              FILE...\n"
			"  FILE...       the audit file, or a rotated sequence oldest first\n"
			"                (audit.jsonl.2 audit.jsonl.1 audit.jsonl)\n"
			"  --pubkey      the key the checkpoints must be signed with\n"
			"  --checkpoint  a checkpoint line kept elsewhere (or a file ending with\n"
			"                one): the files must hold exactly it\n"
			"exit: 0 verified, 1 tampered or unreadable, 2 usage,\n"
			"      4 intact but lines after the last checkpoint are unsigned\n");
	return RW_AUDIT_CLI_USAGE;
}

/* --checkpoint: the line itself ("{...}"), or a file whose last line it is
 * (a SIEM export). */
static int rw_audit_cli_expect(struct rw_audit_verify *v, const char *arg)
{
	char buf[1024], last[1024] = "", why[200];
	if (arg[0] == '{') {
		snprintf(last, sizeof(last), "%s", arg);
	} else {
		FILE *f = fopen(arg, "r");
		if (!f) {
			fprintf(stderr, "regwallctl: audit verify: --checkpoint %s: %s\n", arg,
				strerror(errno));
			return -1;
		}
		while (fgets(buf, sizeof(buf), f))
			if (buf[0] == '{')
				memcpy(last, buf, sizeof(last));
		fclose(f);
	}
	if (rw_audit_verify_expect(v, last, strlen(last), why, sizeof(why))) {
		fprintf(stderr, "regwallctl: audit verify: --checkpoint: %s\n", why);
		return -1;
	}
	return 0;
}

int rw_audit_cli(int argc, char **argv)
{
	if (argc < 2 || strcmp(argv[1], "verify") != 0)
		return rw_audit_cli_usage();
	const char *pub = NULL, *cp = NULL;
	const char *files[256];
	size_t n = 0;
	for (int i = 2; i < argc; i++) {
		if (!strcmp(argv[i], "--pubkey") && i + 1 < argc) {
			pub = argv[++i];
		} else if (!strncmp(argv[i], "--pubkey=", 9)) {
			pub = argv[i] + 9;
		} else if (!strcmp(argv[i], "--checkpoint") && i + 1 < argc) {
			cp = argv[++i];
		} else if (!strncmp(argv[i], "--checkpoint=", 13)) {
			cp = argv[i] + 13;
		} else if (argv[i][0] == '-' && argv[i][1] == '-' && argv[i][2] != '\0') {
			fprintf(stderr, "regwallctl: audit verify: unknown option %s\n", argv[i]);
			return rw_audit_cli_usage();
		} else if (n < sizeof(files) / sizeof(files[0])) {
			files[n++] = argv[i];
		} else {
			fprintf(stderr, "regwallctl: audit verify: at most 256 files\n");
			return RW_AUDIT_CLI_USAGE;
		}
	}
	if (n == 0)
		return rw_audit_cli_usage();
	uint8_t key[32];
	char why[300];
	if (pub && rw_audit_pubkey_load(pub, key, why, sizeof(why))) {
		fprintf(stderr, "regwallctl: audit verify: --pubkey %s\n", why);
		return RW_AUDIT_CLI_USAGE;
	}
	struct rw_audit_verify v;
	if (rw_audit_verify_init(&v, pub ? key : NULL)) {
		fprintf(stderr, "regwallctl: audit verify: out of memory\n");
		return RW_AUDIT_CLI_FAILED;
	}
	if (cp && rw_audit_cli_expect(&v, cp)) {
		rw_audit_verify_fini(&v);
		return RW_AUDIT_CLI_USAGE;
	}
	for (size_t i = 0; i < n && !v.failed; i++)
		rw_audit_verify_file(&v, files[i]);
	rw_audit_verify_finish(&v);
	enum rw_audit_result r = rw_audit_verify_result(&v);
	int rc = RW_AUDIT_CLI_OK;
	if (r == RW_AUDIT_BAD) {
		if (v.failed)
			printf("FAILED: %s:%" PRIu64 ": %s\n", v.fail_file, v.fail_line, v.why);
		else
			printf("FAILED: no audit lines\n");
		rc = RW_AUDIT_CLI_FAILED;
	} else {
		printf("%" PRIu64 " lines in %" PRIu64 " file(s), seq %" PRIu64 "..%" PRIu64
		       ", %" PRIu64 " checkpoints\n",
		       v.lines, v.files, v.first_seq, v.seq, v.checkpoints);
		if (v.expect)
			printf("the given checkpoint (seq %" PRIu64 ") is in the chain\n",
			       v.expect_seq);
		if (v.cp_seq)
			printf("last checkpoint: %s:%" PRIu64 " (seq %" PRIu64 ")\n", v.cp_file,
			       v.cp_line, v.cp_seq);
		printf("signatures checked against %s\n",
		       pub ? "the given public key"
			   : "the key in the file's own open lines (give --pubkey for an independent "
			     "check)");
		if (v.key_changes)
			printf("warning: %s:%" PRIu64 ": from this checkpoint on another key signs (%" PRIu64
			       " change(s)): a new key file, or lines added by someone else%s\n",
			       v.key_change_file, v.key_change_line, v.key_changes,
			       pub ? "" : "; only --pubkey tells which key is genuine");
		if (r == RW_AUDIT_UNSIGNED) {
			printf("unsigned tail: %s:%" PRIu64 ": %" PRIu64
			       " line(s) after the last checkpoint are not signed (a live file "
			       "before its next checkpoint, or truncated before one)\n",
			       v.tail_file, v.tail_line, v.tail_lines);
			rc = RW_AUDIT_CLI_UNSIGNED;
		} else {
			printf("verified\n");
		}
	}
	rw_audit_verify_fini(&v);
	return rc;
}
