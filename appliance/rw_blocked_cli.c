#include "appliance/rw_blocked_cli.h"

#include <getopt.h>
#include <libconfig.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "appliance/rw_blocked_read.h"
#include "appliance/rw_units.h"
#include "base/rw_err.h"

#define RW_CLI_FOLLOW_MS 200

static void rw_cli_usage(void)
{
	fprintf(stderr, "usage: regwallctl [-c CONFIG] [-j] log [--follow] [--since T] [--reason R]\n"
			"                  [--src CIDR] [--file PATH]\n"
			"  T: a duration back from now (10m, 2h) or a UTC time 2026-12-04T10:00:00Z\n");
}

static int rw_cli_since(const char *s, uint64_t *ms)
{
	uint64_t back;
	if (rw_duration_parse_ms(s, &back) == 0) {
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		uint64_t now = (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
		*ms = back < now ? now - back : 1;
		return 0;
	}
	struct tm tm;
	memset(&tm, 0, sizeof(tm));
	const char *end = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm);
	if (!end || (*end && strcmp(end, "Z") != 0))
		return -1;
	time_t t = timegm(&tm);
	if (t < 0)
		return -1;
	*ms = (uint64_t)t * 1000u;
	return 0;
}

static int rw_cli_path_from_config(const char *config, char *out, size_t cap)
{
	config_t cfg;
	config_init(&cfg);
	if (config_read_file(&cfg, config) != CONFIG_TRUE) {
		fprintf(stderr, "regwallctl: %s:%d: %s\n", config, config_error_line(&cfg),
			config_error_text(&cfg));
		config_destroy(&cfg);
		return -1;
	}
	const char *v = NULL;
	int ok = config_lookup_string(&cfg, "log.blocked", &v) == CONFIG_TRUE && v && v[0] == '/';
	if (ok)
		ok = snprintf(out, cap, "%s", v) < (int)cap;
	config_destroy(&cfg);
	if (!ok)
		fprintf(stderr, "regwallctl: %s sets no log.blocked (an absolute path)\n", config);
	return ok ? 0 : -1;
}

struct rw_cli_reader {
	FILE *f;
	char *buf;
	size_t len;
	bool skipping; /* inside an overlong line */
	uint64_t bad;  /* lines that are not blocked-log lines */
};

static void rw_cli_line(struct rw_cli_reader *rd, const char *line, size_t len,
			const struct rw_blocked_filter *flt, int raw)
{
	struct rw_blocked_rec r;
	if (rw_blocked_read_line(line, len, &r)) {
		rd->bad++;
		return;
	}
	if (rw_blocked_filter_match(flt, &r)) {
		if (raw) {
			char *s = json_dumps(r.obj, JSON_COMPACT | JSON_PRESERVE_ORDER |
							   JSON_ENSURE_ASCII);
			if (s)
				printf("%s\n", s);
			free(s);
		} else {
			rw_blocked_print(stdout, &r);
		}
	}
	rw_blocked_rec_clear(&r);
}

/* Read what the file holds now: whole lines are handled, a partial last
 * line waits in the buffer (the writer may be mid-line). */
static void rw_cli_drain(struct rw_cli_reader *rd, const struct rw_blocked_filter *flt, int raw)
{
	int c;
	while ((c = fgetc(rd->f)) != EOF) {
		if (c == '\n') {
			if (!rd->skipping)
				rw_cli_line(rd, rd->buf, rd->len, flt, raw);
			else
				rd->bad++;
			rd->len = 0;
			rd->skipping = false;
			continue;
		}
		if (rd->skipping)
			continue;
		if (rd->len == RW_BLOCKED_LINE_MAX) {
			rd->skipping = true;
			continue;
		}
		rd->buf[rd->len++] = (char)c;
	}
	clearerr(rd->f);
	fflush(stdout);
}

int rw_blocked_cli(int argc, char **argv, const char *config, int raw)
{
	static const struct option opts[] = {
		{ "follow", no_argument, NULL, 'f' },  { "since", required_argument, NULL, 't' },
		{ "reason", required_argument, NULL, 'r' }, { "src", required_argument, NULL, 's' },
		{ "file", required_argument, NULL, 'F' }, { NULL, 0, NULL, 0 },
	};
	struct rw_blocked_filter flt;
	memset(&flt, 0, sizeof(flt));
	const char *file = NULL;
	int follow = 0, c;
	optind = 1;
	while ((c = getopt_long(argc, argv, "+", opts, NULL)) != -1) {
		switch (c) {
		case 'f': follow = 1; break;
		case 'r': flt.reason = optarg; break;
		case 'F': file = optarg; break;
		case 't':
			if (rw_cli_since(optarg, &flt.since_ms)) {
				fprintf(stderr, "regwallctl: log --since %s: want 10m or "
						"2026-12-04T10:00:00Z\n", optarg);
				return 2;
			}
			break;
		case 's':
			if (rw_cidr_parse(optarg, &flt.src, 1)) {
				fprintf(stderr, "regwallctl: log --src %s: not an address or prefix\n",
					optarg);
				return 2;
			}
			flt.has_src = true;
			break;
		default: rw_cli_usage(); return 2;
		}
	}
	if (optind != argc) {
		rw_cli_usage();
		return 2;
	}
	char path[4096];
	if (file)
		snprintf(path, sizeof(path), "%s", file);
	else if (!config) {
		fprintf(stderr, "regwallctl: log: give --file PATH or -c CONFIG (its log.blocked)\n");
		return 2;
	} else if (rw_cli_path_from_config(config, path, sizeof(path)))
		return 2;
	struct rw_cli_reader rd = { .f = fopen(path, "re"), .buf = malloc(RW_BLOCKED_LINE_MAX) };
	if (!rd.f || !rd.buf) {
		fprintf(stderr, "regwallctl: %s: %m\n", path);
		if (rd.f)
			fclose(rd.f);
		free(rd.buf);
		return 1;
	}
	rw_cli_drain(&rd, &flt, raw);
	while (follow) {
		usleep(RW_CLI_FOLLOW_MS * 1000);
		rw_cli_drain(&rd, &flt, raw);
		/* rotated (renamed or replaced): the old file is read to its end
		 * above, then the new one from its start */
		struct stat a, b;
		if (stat(path, &b) == 0 && fstat(fileno(rd.f), &a) == 0 &&
		    (a.st_ino != b.st_ino || a.st_dev != b.st_dev)) {
			FILE *n = fopen(path, "re");
			if (n) {
				fclose(rd.f);
				rd.f = n;
				rd.len = 0;
				rd.skipping = false;
			}
		}
	}
	if (rd.bad)
		fprintf(stderr, "regwallctl: %s: %llu line(s) skipped (not blocked-log lines)\n",
			path, (unsigned long long)rd.bad);
	fclose(rd.f);
	free(rd.buf);
	return 0;
}
