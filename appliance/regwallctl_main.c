/* regwallctl: the admin's client for regwalld's control socket. It builds
 * one JSON request from the command line, prints the daemon's answer in a
 * readable form (or raw with -j), and exits with a code scripts can use:
 * 0 done, 1 refused by regwalld, 2 usage, 3 regwalld not reachable. */
#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <libconfig.h>

#include "appliance/rw_audit_cli.h"
#include "appliance/rw_blocked_cli.h"
#include "appliance/rw_wg_cli.h"
#include "appliance/rw_ctl.h"
#include "appliance/rw_version.h"

#define RW_DEFAULT_SOCKET "/run/regwall/ctl.sock"

enum {
	RW_EXIT_OK = 0,
	RW_EXIT_REFUSED = 1, /* regwalld answered: not done (bad request, validation) */
	RW_EXIT_USAGE = 2,
	RW_EXIT_UNREACHABLE = 3, /* no answer: not running, wrong socket, no permission */
};

static void usage(FILE *out)
{
	fprintf(out,
		"usage: regwallctl [-s SOCKET | -c CONFIG] [-j] COMMAND\n"
		"commands:\n"
		"  status                      daemon, workers, table state\n"
		"  network list [NAME]         prefixes in force (all networks without NAME;\n"
		"                              live ones marked)\n"
		"  network add NAME CIDR...    allow more prefixes in a named network (live)\n"
		"  network del NAME CIDR...    remove prefixes (exactly as listed)\n"
		"  ban add ADDRESS|PREFIX [DURATION] [--reason TEXT]\n"
		"                              drop all traffic from ADDRESS or PREFIX (e.g.\n"
		"                              203.0.113.0/28) for DURATION (e.g. 10m); the\n"
		"                              reason is kept with the ban in the kernel\n"
		"  ban del ADDRESS|PREFIX      exactly as banned\n"
		"  ban list                    banned addresses and prefixes: time left,\n"
		"                              origin, reason\n"
		"  counters                    packets/bytes per deciding rule, since start\n"
		"                              and since the last reload\n"
		"  reload                      re-read the config file (old policy kept on error)\n"
		"  log rotate                  rotate log.blocked and log.blocked_pcap (rename\n"
		"                              to .1 and reopen; only reopen if moved away)\n"
		"  log [--follow] [--since T] [--reason R] [--src CIDR] [--file PATH]\n"
		"                              print the blocked-attempt log (log.blocked of\n"
		"                              -c CONFIG, or PATH), filtered; -j: JSON lines\n"
		RW_WG_CLI_USAGE
		"  explain --listener NAME --src ADDRESS [--iif IF] [--sni NAME]\n"
		"          [--cert-subject DN] [--method M --path P] [--json]\n"
		"                              what a connection (and request) from ADDRESS\n"
		"                              would meet at each layer, and which rule or\n"
		"                              role decides\n"
		"  audit verify [--pubkey HEX|PEMFILE] [--checkpoint LINE|FILE] FILE...\n"
		"                              check the push audit chain (local files, oldest\n"
		"                              first; exit 0 verified, 1 tampered, 4 unsigned\n"
		"                              tail); see docs/design/audit.md\n"
		"options:\n"
		"  -s, --socket SOCKET  control socket (default: $REGWALL_SOCKET, else\n"
		"                       " RW_DEFAULT_SOCKET ")\n"
		"  -c, --config FILE    use the control.socket of this config file\n"
		"  -j, --json           print the daemon's JSON answer as it is\n"
		"  -h, --help           this text\n"
		"  -V, --version\n"
		"exit codes: 0 done, 1 refused by regwalld, 2 usage, 3 regwalld not reachable\n");
}

/* The control.socket a config file names (or the default): read with
 * libconfig alone, so a config with other errors still tells the path. */
static int socket_from_config(const char *path, char *out, size_t cap)
{
	config_t cfg;
	config_init(&cfg);
	if (config_read_file(&cfg, path) != CONFIG_TRUE) {
		fprintf(stderr, "regwallctl: %s:%d: %s\n",
			config_error_file(&cfg) ? config_error_file(&cfg) : path,
			config_error_line(&cfg), config_error_text(&cfg));
		config_destroy(&cfg);
		return -1;
	}
	const char *v = NULL;
	if (config_lookup_string(&cfg, "control.socket", &v) != CONFIG_TRUE || !v || !v[0])
		v = RW_DEFAULT_SOCKET;
	int n = snprintf(out, cap, "%s", v);
	config_destroy(&cfg);
	return n > 0 && (size_t)n < cap ? 0 : -1;
}

/* ---- explain: its flags and its printing ---- */

static int explain_json; /* explain ... --json */
static int peer_qr;      /* peer add ... --qr */

/* explain --listener NAME --src ADDR [--iif IF] [--sni NAME]
 * [--cert-subject DN] [--method M --path P] [--json]; "--flag=value" too */
static json_t *build_explain(int argc, char **argv, json_t *req)
{
	static const struct {
		const char *flag, *key;
	} flags[] = {
		{ "--listener", "listener" }, { "--src", "src" },     { "--iif", "iif" },
		{ "--sni", "sni" },           { "--cert-subject", "cert_subject" },
		{ "--method", "method" },     { "--path", "path" },
	};
	json_object_set_new(req, "cmd", json_string("explain"));
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--json") == 0) {
			explain_json = 1;
			continue;
		}
		size_t k, n = sizeof(flags) / sizeof(flags[0]);
		const char *val = NULL;
		for (k = 0; k < n; k++) {
			size_t fl = strlen(flags[k].flag);
			if (strcmp(argv[i], flags[k].flag) == 0 && i + 1 < argc) {
				val = argv[++i];
				break;
			}
			if (strncmp(argv[i], flags[k].flag, fl) == 0 && argv[i][fl] == '=') {
				val = argv[i] + fl + 1;
				break;
			}
		}
		if (k == n || json_object_get(req, flags[k].key)) {
			fprintf(stderr, "regwallctl: explain: %s '%s'\n",
				k == n ? "unknown argument" : "given twice:", argv[i]);
			return NULL;
		}
		json_t *js = json_string(val);
		if (!js) {
			fprintf(stderr, "regwallctl: explain: %s is not UTF-8\n", flags[k].flag);
			return NULL;
		}
		json_object_set_new(req, flags[k].key, js);
	}
	if (!json_object_get(req, "listener") || !json_object_get(req, "src")) {
		fprintf(stderr, "regwallctl: explain needs --listener and --src\n");
		return NULL;
	}
	return req;
}

/* One line per layer: name, verdict, what decided; then the kernel's rule
 * details and every note. */
static void print_explain(json_t *rep)
{
	const char *by = json_string_value(json_object_get(rep, "decided_by"));
	printf("%s from %s (%s): %s%s%s\n", json_string_value(json_object_get(rep, "listener")),
	       json_string_value(json_object_get(rep, "src")),
	       json_string_value(json_object_get(rep, "mode")),
	       json_string_value(json_object_get(rep, "verdict")), by && by[0] ? " by " : "",
	       by && by[0] ? by : "");
	size_t i, k;
	json_t *l, *e;
	json_array_foreach(json_object_get(rep, "layers"), i, l) {
		printf("  %-12s %-15s %s\n", json_string_value(json_object_get(l, "layer")),
		       json_string_value(json_object_get(l, "verdict")),
		       json_string_value(json_object_get(l, "by")));
		const char *chain = json_string_value(json_object_get(l, "chain"));
		if (chain && chain[0]) {
			const char *pfx = json_string_value(json_object_get(l, "nflog_prefix"));
			printf("  %-12s chain %s, counter \"%s\"%s%s%s\n", "", chain,
			       json_string_value(json_object_get(l, "counter")),
			       pfx && pfx[0] ? ", NFLOG \"" : "", pfx && pfx[0] ? pfx : "",
			       pfx && pfx[0] ? "\"" : "");
		}
		json_array_foreach(json_object_get(l, "steps"), k, e)
			printf("  %-12s   %s: %s: %s\n", "",
			       json_string_value(json_object_get(e, "chain")),
			       json_string_value(json_object_get(e, "rule")),
			       json_string_value(json_object_get(e, "result")));
		const char *s;
		if ((s = json_string_value(json_object_get(l, "name"))))
			printf("  %-12s name %s (identity %s, peer %s, network %s)\n", "", s,
			       json_string_value(json_object_get(l, "identity")) ?: "-",
			       json_string_value(json_object_get(l, "peer")) ?: "-",
			       json_string_value(json_object_get(l, "network")) ?: "-");
		if ((s = json_string_value(json_object_get(l, "operation"))))
			printf("  %-12s %s %s needs %s -> %lld %s\n", "", s,
			       json_string_value(json_object_get(l, "repository")) ?: "",
			       json_string_value(json_object_get(l, "needs")),
			       (long long)json_integer_value(json_object_get(l, "status")),
			       json_string_value(json_object_get(l, "reason")));
		json_array_foreach(json_object_get(l, "grants"), k, e)
			printf("  %-12s   %s\n", "", json_string_value(e));
		if ((s = json_string_value(json_object_get(l, "message"))))
			printf("  %-12s message: %s\n", "", s);
		json_array_foreach(json_object_get(l, "notes"), k, e)
			printf("  %-12s note: %s\n", "", json_string_value(e));
	}
}

static json_t *build_request(int argc, char **argv)
{
	if (argc < 1)
		return NULL;
	const char *a = argv[0], *b = argc > 1 ? argv[1] : "";
	json_t *req = json_object();
	if (strcmp(a, "explain") == 0) {
		if (!build_explain(argc, argv, req))
			goto bad;
	} else if (strcmp(a, "status") == 0 || strcmp(a, "reload") == 0 || strcmp(a, "counters") == 0) {
		if (argc != 1)
			goto bad;
		json_object_set_new(req, "cmd", json_string(a));
	} else if (strcmp(a, "log") == 0 && argc == 2 && strcmp(b, "rotate") == 0) {
		json_object_set_new(req, "cmd", json_string("log rotate"));
	} else if (strcmp(a, "network") == 0 && argc == 2 && strcmp(b, "list") == 0) {
		json_object_set_new(req, "cmd", json_string("network list"));
	} else if (strcmp(a, "network") == 0 && argc >= 3 &&
		   (strcmp(b, "add") == 0 || strcmp(b, "del") == 0 || strcmp(b, "list") == 0)) {
		char cmd[32];
		snprintf(cmd, sizeof(cmd), "network %s", b);
		json_object_set_new(req, "cmd", json_string(cmd));
		json_object_set_new(req, "network", json_string(argv[2]));
		if (strcmp(b, "list") == 0) {
			if (argc != 3)
				goto bad;
		} else {
			if (argc < 4)
				goto bad;
			json_t *arr = json_array();
			for (int i = 3; i < argc; i++)
				json_array_append_new(arr, json_string(argv[i]));
			json_object_set_new(req, "cidrs", arr);
		}
	} else if (strcmp(a, "peer") == 0) {
		if (!rw_wg_cli_build(argc, argv, req, &peer_qr, &explain_json))
			goto bad;
	} else if (strcmp(a, "ban") == 0 && argc >= 2) {
		char cmd[32];
		snprintf(cmd, sizeof(cmd), "ban %s", b);
		json_object_set_new(req, "cmd", json_string(cmd));
		if (strcmp(b, "add") == 0 && argc >= 3) {
			/* ban add ADDRESS [DURATION] [--reason TEXT], the reason
			 * anywhere after ADDRESS */
			const char *pos[2] = { NULL, NULL };
			int n_pos = 0;
			for (int i = 2; i < argc; i++) {
				if (strcmp(argv[i], "--reason") == 0 && i + 1 < argc &&
				    !json_object_get(req, "reason")) {
					json_object_set_new(req, "reason", json_string(argv[++i]));
				} else if (strncmp(argv[i], "--reason=", 9) == 0 &&
					   !json_object_get(req, "reason")) {
					json_object_set_new(req, "reason", json_string(argv[i] + 9));
				} else if (argv[i][0] == '-' && argv[i][1] == '-') {
					goto bad;
				} else if (n_pos < 2) {
					pos[n_pos++] = argv[i];
				} else {
					goto bad;
				}
			}
			if (!pos[0])
				goto bad;
			json_object_set_new(req, "address", json_string(pos[0]));
			if (pos[1])
				json_object_set_new(req, "timeout", json_string(pos[1]));
		} else if (strcmp(b, "del") == 0 && argc == 3) {
			json_object_set_new(req, "address", json_string(argv[2]));
		} else if (!(strcmp(b, "list") == 0 && argc == 2)) {
			goto bad;
		}
	} else {
		goto bad;
	}
	return req;
bad:
	json_decref(req);
	return NULL;
}

/* What is wrong with a command line build_request refused, in words. */
static void say_bad_command(int argc, char **argv)
{
	static const char *const known[] = { "status", "network", "ban", "counters", "reload",
					     "explain", "peer" };
	if (argc < 1) {
		fprintf(stderr, "regwallctl: no command\n");
		return;
	}
	for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++)
		if (strcmp(argv[0], known[i]) == 0) {
			fprintf(stderr, "regwallctl: %s: wrong arguments%s%s%s\n", argv[0],
				argc > 1 ? " ('" : "", argc > 1 ? argv[1] : "", argc > 1 ? "' ...)" : "");
			return;
		}
	fprintf(stderr, "regwallctl: unknown command '%s'\n", argv[0]);
}

/* Command-line strings are not guaranteed UTF-8; jansson refuses those. */
static int request_valid(json_t *req)
{
	return req != NULL && json_object_get(req, "cmd") != NULL;
}

static int talk(const char *path, const char *line, char **reply)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	if (strlen(path) >= sizeof(sa.sun_path)) {
		fprintf(stderr, "regwallctl: socket path too long\n");
		return -1;
	}
	memcpy(sa.sun_path, path, strlen(path) + 1);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa))) {
		fprintf(stderr, "regwallctl: cannot reach regwalld at %s: %s\n", path, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -2;
	}
	size_t n = strlen(line);
	/* regwalld may answer before it has read everything (a line over its
	 * limit) and then stop reading: a failed send still reads the answer. */
	int send_errno = 0;
	if (send(fd, line, n, MSG_NOSIGNAL) != (ssize_t)n || send(fd, "\n", 1, MSG_NOSIGNAL) != 1)
		send_errno = errno;
	size_t cap = 65536, len = 0;
	char *buf = malloc(cap);
	for (;;) {
		if (!buf) {
			close(fd);
			return -1;
		}
		if (len + 1 >= cap) {
			char *nb = realloc(buf, cap * 2);
			if (!nb) {
				free(buf);
				close(fd);
				return -1;
			}
			buf = nb;
			cap *= 2;
		}
		ssize_t r = recv(fd, buf + len, cap - len - 1, 0);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		len += (size_t)r;
		if (memchr(buf + len - (size_t)r, '\n', (size_t)r))
			break;
	}
	close(fd);
	buf[len] = '\0';
	if (len == 0 && send_errno) {
		fprintf(stderr, "regwallctl: send: %s\n", strerror(send_errno));
		free(buf);
		return -1;
	}
	if (len == 0) {
		fprintf(stderr, "regwallctl: regwalld closed the connection without an answer\n");
		free(buf);
		return -1;
	}
	*reply = buf;
	return 0;
}

/* ban list: address, time left, manual (with its reason) or automatic
 * (with the rule that banned it) */
static void print_bans(json_t *arr)
{
	size_t i;
	json_t *e;
	json_array_foreach(arr, i, e) {
		char left[32] = "";
		json_t *exp = json_object_get(e, "expires_ms");
		if (exp)
			snprintf(left, sizeof(left), "expires in %.1fs",
				 (double)json_integer_value(exp) / 1000.0);
		const char *origin = json_string_value(json_object_get(e, "origin"));
		const char *reason = json_string_value(json_object_get(e, "reason"));
		const char *rule = json_string_value(json_object_get(e, "rule"));
		printf("%-20s %-20s %s", json_string_value(json_object_get(e, "cidr")), left,
		       origin ? origin : "?");
		if (reason)
			printf(": %s", reason);
		else if (rule)
			printf(" (%s)", rule);
		printf("\n");
	}
}

static void print_elements(json_t *arr)
{
	size_t i;
	json_t *e;
	json_array_foreach(arr, i, e) {
		json_t *exp = json_object_get(e, "expires_ms");
		if (exp)
			printf("%s\texpires in %.1fs\n", json_string_value(json_object_get(e, "cidr")),
			       (double)json_integer_value(exp) / 1000.0);
		else
			printf("%s\n", json_string_value(json_object_get(e, "cidr")));
	}
}

/* network list: {"office":[{"cidr":...,"source":"file"|"live"}],...}.
 * One network (named on the command line): its prefixes, one a line;
 * all: each network's name, then its prefixes indented. Prefixes added
 * with regwallctl (not in the config file) are marked "(live)". */
static void print_networks(json_t *nets, int named)
{
	const char *name;
	json_t *arr;
	json_object_foreach(nets, name, arr) {
		if (!named)
			printf("%s:%s\n", name, json_array_size(arr) ? "" : " (no prefixes)");
		size_t i;
		json_t *e;
		json_array_foreach(arr, i, e) {
			const char *src = json_string_value(json_object_get(e, "source"));
			printf("%s%s%s\n", named ? "" : "  ",
			       json_string_value(json_object_get(e, "cidr")),
			       src && strcmp(src, "live") == 0 ? "  (live)" : "");
		}
	}
}

/* 600000 -> "10m": the largest unit that says it exactly. */
static void format_ms(uint64_t ms, char *buf, size_t len)
{
	static const struct {
		const char *unit;
		uint64_t ms;
	} units[] = { { "d", 86400000 }, { "h", 3600000 }, { "m", 60000 }, { "s", 1000 } };
	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
		if (ms && ms % units[i].ms == 0) {
			snprintf(buf, len, "%llu%s", (unsigned long long)(ms / units[i].ms),
				 units[i].unit);
			return;
		}
	}
	snprintf(buf, len, "%llums", (unsigned long long)ms);
}

static void print_reply(json_t *rep, int named)
{
	json_t *v;
	if ((v = json_object_get(rep, "networks")) && json_is_object(v)) {
		print_networks(v, named);
	} else if ((v = json_object_get(rep, "changes")) && json_is_object(v)) {
		/* reload: generation, what changed (one line each), warnings */
		size_t i;
		json_t *e;
		printf("reloaded: generation %lld\n",
		       (long long)json_integer_value(json_object_get(rep, "generation")));
		json_array_foreach(json_object_get(v, "summary"), i, e)
			printf("  %s\n", json_string_value(e));
		json_array_foreach(json_object_get(rep, "warnings"), i, e)
			printf("warning: %s\n", json_string_value(e));
	} else if ((v = json_object_get(rep, "banned")) && json_is_string(v)) {
		char t[32];
		format_ms((uint64_t)json_integer_value(json_object_get(rep, "timeout_ms")), t,
			  sizeof(t));
		const char *why = json_string_value(json_object_get(rep, "reason"));
		printf("banned: %s for %s%s%s\n", json_string_value(v), t, why ? ": " : "",
		       why ? why : "");
	} else if ((v = json_object_get(rep, "unbanned")) && json_is_string(v)) {
		printf("unbanned: %s\n", json_string_value(v));
	} else if ((v = json_object_get(rep, "bans")) && json_is_array(v)) {
		print_bans(v);
	} else if ((v = json_object_get(rep, "elements"))) {
		print_elements(v);
	} else if ((v = json_object_get(rep, "counters"))) {
		/* two columns: since regwalld started (carried over reloads,
		 * live changes and restores) and since the last reload */
		size_t i;
		json_t *e;
		char h1[64], h2[64];
		snprintf(h1, sizeof(h1), "since start (%llds)",
			 (long long)json_integer_value(json_object_get(rep, "since_start_s")));
		snprintf(h2, sizeof(h2), "since reload (%llds)",
			 (long long)json_integer_value(json_object_get(rep, "since_reload_s")));
		printf("%-8s %-40s %-27s %s\n", "", "", h1, h2);
		printf("%-8s %-40s %12s %14s %12s %14s\n", "chain", "rule", "packets", "bytes",
		       "packets", "bytes");
		json_array_foreach(v, i, e)
			printf("%-8s %-40s %12lld %14lld %12lld %14lld\n",
			       json_string_value(json_object_get(e, "chain")),
			       json_string_value(json_object_get(e, "rule")),
			       (long long)json_integer_value(json_object_get(e, "packets")),
			       (long long)json_integer_value(json_object_get(e, "bytes")),
			       (long long)json_integer_value(json_object_get(e, "reload_packets")),
			       (long long)json_integer_value(json_object_get(e, "reload_bytes")));
	} else {
		const char *key;
		json_object_foreach(rep, key, v) {
			if (strcmp(key, "ok") == 0)
				continue;
			if (json_is_array(v)) {
				size_t i;
				json_t *e;
				json_array_foreach(v, i, e) {
					if (json_is_string(e)) {
						printf("%s: %s\n", key, json_string_value(e));
						continue;
					}
					char *t = json_dumps(e, JSON_ENCODE_ANY | JSON_COMPACT);
					printf("%s: %s\n", key, t ? t : "?");
					free(t);
				}
				continue;
			}
			char *s = json_dumps(v, JSON_ENCODE_ANY);
			printf("%s: %s\n", key, s ? s : "?");
			free(s);
		}
	}
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "socket", required_argument, NULL, 's' },
		{ "config", required_argument, NULL, 'c' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	const char *sock = getenv("REGWALL_SOCKET"), *config = NULL, *sock_opt = NULL;
	char sock_buf[4096];
	int raw = 0, c;
	while ((c = getopt_long(argc, argv, "+s:c:jhV", opts, NULL)) != -1) {
		switch (c) {
		case 's': sock_opt = optarg; break;
		case 'c': config = optarg; break;
		case 'j': raw = 1; break;
		case 'h': usage(stdout); return RW_EXIT_OK;
		case 'V': printf("regwallctl %s\n", RW_VERSION); return RW_EXIT_OK;
		default: usage(stderr); return RW_EXIT_USAGE;
		}
	}
	/* local: reads the audit files, not the daemon */
	if (optind < argc && strcmp(argv[optind], "audit") == 0)
		return rw_audit_cli(argc - optind, argv + optind);
	if (sock_opt && config) {
		fprintf(stderr, "regwallctl: -s and -c both name the socket: choose one\n");
		return RW_EXIT_USAGE;
	}
	if (config) {
		if (socket_from_config(config, sock_buf, sizeof(sock_buf)))
			return RW_EXIT_USAGE;
		sock = sock_buf;
	}
	if (sock_opt)
		sock = sock_opt;
	if (!sock || !sock[0])
		sock = RW_DEFAULT_SOCKET;
	/* log (not log rotate) reads the file itself, no daemon needed */
	if (optind < argc && strcmp(argv[optind], "log") == 0 &&
	    !(optind + 1 < argc && strcmp(argv[optind + 1], "rotate") == 0))
		return rw_blocked_cli(argc - optind, argv + optind, config, raw);
	json_t *req = build_request(argc - optind, argv + optind);
	if (!request_valid(req)) {
		say_bad_command(argc - optind, argv + optind);
		usage(stderr);
		json_decref(req);
		return RW_EXIT_USAGE;
	}
	char *line = json_dumps(req, JSON_COMPACT);
	json_decref(req);
	char *reply = NULL;
	int r = line ? talk(sock, line, &reply) : -1;
	free(line);
	if (r)
		return RW_EXIT_UNREACHABLE;
	json_error_t jerr;
	json_t *rep = json_loads(reply, 0, &jerr);
	if (!rep) {
		fprintf(stderr, "regwallctl: unreadable answer from regwalld: %s\n", jerr.text);
		free(reply);
		return RW_EXIT_UNREACHABLE;
	}
	int ok = json_is_true(json_object_get(rep, "ok"));
	if (raw || explain_json) {
		fputs(reply, stdout);
	} else if (ok && json_object_get(rep, "layers")) {
		print_explain(rep);
	} else if (ok && rw_wg_cli_print(rep, peer_qr, stdout)) {
		/* peer add / del / list */
	} else if (ok) {
		/* "network list NAME": that network alone, without a heading */
		print_reply(rep, argc - optind >= 3);
	} else {
		fprintf(stderr, "regwallctl: %s\n", json_string_value(json_object_get(rep, "error")));
		json_t *det = json_object_get(rep, "details");
		size_t i;
		json_t *e;
		json_array_foreach(det, i, e)
			fprintf(stderr, "  %s\n", json_string_value(e));
	}
	free(reply);
	json_decref(rep);
	return ok ? RW_EXIT_OK : RW_EXIT_REFUSED;
}
