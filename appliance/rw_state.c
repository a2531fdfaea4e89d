#include "appliance/rw_state.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "appliance/rw_path.h"
#include "rules/rw_cidr.h"

int rw_state_save(const char *path, const struct rw_live_change *v, size_t n,
		  struct rw_diag *diag)
{
	json_t *arr = json_array();
	json_t *root = json_pack("{s:i, s:o}", "version", 1, "changes", arr);
	if (!root)
		return RW_ENOMEM;
	for (size_t i = 0; i < n; i++) {
		char c[64];
		rw_cidr_format(&v[i].cidr, c, sizeof(c));
		json_array_append_new(arr, json_pack("{s:s, s:s, s:s}", "op", v[i].add ? "add" : "del",
						     "network", v[i].network, "cidr", c));
	}
	char *text = json_dumps(root, JSON_INDENT(1));
	json_decref(root);
	if (!text)
		return RW_ENOMEM;

	char tmp[4096 + 16];
	int r = rw_path_mkparents(path, 0750);
	if (r) {
		rw_diag_err(diag, path, 0, "cannot create its directory: %s", strerror(-r));
		free(text);
		return RW_EIO;
	}
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0640);
	size_t len = strlen(text), off = 0;
	while (fd >= 0 && off < len) {
		ssize_t w = write(fd, text + off, len - off);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			break;
		off += (size_t)w;
	}
	int ok = fd >= 0 && off == len && write(fd, "\n", 1) == 1 && fsync(fd) == 0;
	int saved = errno;
	if (fd >= 0 && close(fd) != 0)
		ok = 0;
	free(text);
	if (!ok || rename(tmp, path) != 0) {
		if (ok)
			saved = errno;
		unlink(tmp);
		rw_diag_err(diag, path, 0, "cannot save the live changes: %s", strerror(saved));
		return RW_EIO;
	}
	return 0;
}

int rw_state_load(const char *path, struct rw_live_change **v, size_t *n, struct rw_diag *diag)
{
	*v = NULL;
	*n = 0;
	json_error_t jerr;
	FILE *f = fopen(path, "re");
	if (!f) {
		if (errno == ENOENT)
			return 0;
		rw_diag_err(diag, path, 0, "cannot read the live changes: %s", strerror(errno));
		return RW_EIO;
	}
	json_t *root = json_loadf(f, JSON_REJECT_DUPLICATES, &jerr);
	fclose(f);
	if (!root) {
		rw_diag_err(diag, path, jerr.line, "live changes unreadable (%s); fix or remove the "
				"file to start without them", jerr.text);
		return RW_ECONFIG;
	}
	int r = RW_ECONFIG;
	json_t *arr = json_object_get(root, "changes");
	json_t *ver = json_object_get(root, "version");
	if (!json_is_integer(ver) || json_integer_value(ver) != 1 || !json_is_array(arr) ||
	    json_array_size(arr) > RW_STATE_MAX_CHANGES) {
		rw_diag_err(diag, path, 0, "not a regwall live-changes file (version 1)");
		goto out;
	}
	size_t count = json_array_size(arr);
	struct rw_live_change *out = count ? calloc(count, sizeof(*out)) : NULL;
	if (count && !out) {
		r = RW_ENOMEM;
		goto out;
	}
	size_t i;
	json_t *e;
	json_array_foreach(arr, i, e) {
		const char *op = json_string_value(json_object_get(e, "op"));
		const char *net = json_string_value(json_object_get(e, "network"));
		const char *cidr = json_string_value(json_object_get(e, "cidr"));
		if (!op || !net || !cidr || (strcmp(op, "add") != 0 && strcmp(op, "del") != 0) ||
		    strlen(net) == 0 || strlen(net) >= RW_NAME_MAX ||
		    rw_cidr_parse(cidr, &out[i].cidr, 0) != 0) {
			rw_diag_err(diag, path, 0, "change #%zu is malformed; fix or remove the file",
				    i + 1);
			free(out);
			goto out;
		}
		out[i].add = strcmp(op, "add") == 0;
		memcpy(out[i].network, net, strlen(net) + 1);
	}
	*v = out;
	*n = count;
	r = 0;
out:
	json_decref(root);
	return r;
}
