/* regwallctl: the admin's client for regwalld's control socket. It builds
 * one JSON request from the command line, prints the daemon's answer in a
 * readable form (or raw with -j), and exits 0 only if the daemon said ok. */
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

#include "appliance/rw_ctl.h"

#define RW_DEFAULT_SOCKET "/run/regwall/ctl.sock"

static void usage(FILE *out)
{
	fprintf(out,
		"usage: regwallctl [-s SOCKET] [-j] COMMAND\n"
		"  network add NAME CIDR...    allow more prefixes in a named network (live)\n"
		"  network del NAME CIDR...    remove prefixes (exactly as listed)\n"
		"  network list NAME           prefixes in force in the kernel\n"
		"  ban add ADDRESS [DURATION]  drop all traffic from ADDRESS (e.g. 10m)\n"
		"  ban del ADDRESS\n"
		"  ban list                    banned addresses with time left\n"
		"  counters                    packets/bytes per deciding rule\n"
		"  reload                      re-read the config file (old policy kept on error)\n"
		"  status\n"
		"  -s SOCKET  control socket (default " RW_DEFAULT_SOCKET ")\n"
		"  -j         print the daemon's JSON answer as it is\n");
}

static json_t *build_request(int argc, char **argv)
{
	if (argc < 1)
		return NULL;
	const char *a = argv[0], *b = argc > 1 ? argv[1] : "";
	json_t *req = json_object();
	if (strcmp(a, "status") == 0 || strcmp(a, "reload") == 0 || strcmp(a, "counters") == 0) {
		if (argc != 1)
			goto bad;
		json_object_set_new(req, "cmd", json_string(a));
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
	} else if (strcmp(a, "ban") == 0 && argc >= 2) {
		char cmd[32];
		snprintf(cmd, sizeof(cmd), "ban %s", b);
		json_object_set_new(req, "cmd", json_string(cmd));
		if (strcmp(b, "add") == 0 && (argc == 3 || argc == 4)) {
			json_object_set_new(req, "address", json_string(argv[2]));
			if (argc == 4)
				json_object_set_new(req, "timeout", json_string(argv[3]));
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
		return -1;
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

static void print_reply(json_t *rep)
{
	json_t *v;
	if ((v = json_object_get(rep, "banned")) && json_is_string(v)) {
		char t[32];
		format_ms((uint64_t)json_integer_value(json_object_get(rep, "timeout_ms")), t,
			  sizeof(t));
		printf("banned: %s for %s\n", json_string_value(v), t);
	} else if ((v = json_object_get(rep, "unbanned")) && json_is_string(v)) {
		printf("unbanned: %s\n", json_string_value(v));
	} else if ((v = json_object_get(rep, "elements"))) {
		print_elements(v);
	} else if ((v = json_object_get(rep, "counters"))) {
		size_t i;
		json_t *e;
		printf("%-8s %-40s %12s %14s\n", "chain", "rule", "packets", "bytes");
		json_array_foreach(v, i, e)
			printf("%-8s %-40s %12lld %14lld\n",
			       json_string_value(json_object_get(e, "chain")),
			       json_string_value(json_object_get(e, "rule")),
			       (long long)json_integer_value(json_object_get(e, "packets")),
			       (long long)json_integer_value(json_object_get(e, "bytes")));
	} else {
		const char *key;
		json_object_foreach(rep, key, v) {
			if (strcmp(key, "ok") == 0)
				continue;
			if (json_is_array(v)) {
				size_t i;
				json_t *e;
				json_array_foreach(v, i, e)
					printf("%s: %s\n", key, json_string_value(e));
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
	const char *sock = RW_DEFAULT_SOCKET;
	int raw = 0, c;
	while ((c = getopt(argc, argv, "+s:jh")) != -1) {
		switch (c) {
		case 's': sock = optarg; break;
		case 'j': raw = 1; break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	json_t *req = build_request(argc - optind, argv + optind);
	if (!request_valid(req)) {
		usage(stderr);
		json_decref(req);
		return 2;
	}
	char *line = json_dumps(req, JSON_COMPACT);
	json_decref(req);
	char *reply = NULL;
	int r = line ? talk(sock, line, &reply) : -1;
	free(line);
	if (r)
		return 1;
	json_error_t jerr;
	json_t *rep = json_loads(reply, 0, &jerr);
	if (!rep) {
		fprintf(stderr, "regwallctl: unreadable answer from regwalld: %s\n", jerr.text);
		free(reply);
		return 1;
	}
	int ok = json_is_true(json_object_get(rep, "ok"));
	if (raw) {
		fputs(reply, stdout);
	} else if (ok) {
		print_reply(rep);
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
	return ok ? 0 : 1;
}
