#include "appliance/rw_state.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
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
	/* The rename is durable only once the directory entry is: without
	 * this a power cut can bring back the old file after the change was
	 * acknowledged. */
	r = rw_path_sync_dir(path);
	if (r) {
		rw_diag_err(diag, path, 0, "cannot sync its directory: %s", strerror(-r));
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
	size_t i, k = 0;
	json_t *e;
	json_array_foreach(arr, i, e) {
		const char *op = json_string_value(json_object_get(e, "op"));
		const char *net = json_string_value(json_object_get(e, "network"));
		const char *cidr = json_string_value(json_object_get(e, "cidr"));
		char why[160];
		if (cidr && rw_cidr_mapped_msg(cidr, why, sizeof(why))) {
			/* saved by a version that accepted IPv4-mapped prefixes:
			 * it matched nothing then, so dropping it changes nothing
			 * (converting it to IPv4 would newly admit clients) */
			rw_diag_warn(diag, path, 0, "change #%zu (%s) dropped: %s", i + 1, cidr, why);
			continue;
		}
		if (!op || !net || !cidr || (strcmp(op, "add") != 0 && strcmp(op, "del") != 0) ||
		    strlen(net) == 0 || strlen(net) >= RW_NAME_MAX ||
		    rw_cidr_parse(cidr, &out[k].cidr, 0) != 0) {
			rw_diag_err(diag, path, 0, "change #%zu is malformed; fix or remove the file",
				    i + 1);
			free(out);
			goto out;
		}
		out[k].add = strcmp(op, "add") == 0;
		memcpy(out[k].network, net, strlen(net) + 1);
		k++;
	}
	if (k == 0) {
		free(out);
		out = NULL;
	}
	*v = out;
	*n = k;
	r = 0;
out:
	json_decref(root);
	return r;
}

static int rw_state_overlaps(const struct rw_cidr *a, const struct rw_cidr *b)
{
	return rw_cidr_contains(a, b->family, b->addr) || rw_cidr_contains(b, a->family, a->addr);
}

const struct rw_peer *rw_state_peer_overlap(const struct rw_policy *p, const struct rw_cidr *c,
					    const struct rw_cidr **addr)
{
	for (size_t i = 0; p->vpn.enabled && i < p->vpn.n_peers; i++)
		for (size_t j = 0; j < p->vpn.peers[i].n_addresses; j++)
			if (rw_state_overlaps(c, &p->vpn.peers[i].addresses[j])) {
				*addr = &p->vpn.peers[i].addresses[j];
				return &p->vpn.peers[i];
			}
	return NULL;
}

/* v4 before v6, then by start address: the order of a network's prefixes
 * in regwalld, so a listing of 100,000 elements is searched, not scanned
 * once per requested prefix. */
static int rw_state_key_cmp(const void *x, const void *y)
{
	const struct rw_cidr *a = x, *b = y;
	if (a->family != b->family)
		return a->family == AF_INET ? -1 : 1;
	return memcmp(a->addr, b->addr, sizeof(a->addr));
}

/* First index whose start is >= c's. */
static size_t rw_state_lower(const struct rw_cidr *v, size_t n, const struct rw_cidr *c)
{
	size_t lo = 0, hi = n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (rw_state_key_cmp(&v[mid], c) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/* Kernel elements are disjoint: only the element starting last at or
 * before c can contain c's start, and only elements starting inside c can
 * lie inside it (the first of them suffices to see an overlap). */
static int rw_state_took(int add, const struct rw_cidr *c, const struct rw_cidr *v, size_t n)
{
	size_t pos = rw_state_lower(v, n, c);
	const struct rw_cidr *at = pos < n ? &v[pos] : NULL;
	const struct rw_cidr *before = pos > 0 ? &v[pos - 1] : NULL;
	if (add) {
		if (at && rw_state_key_cmp(at, c) == 0 && at->prefix <= c->prefix)
			return 1;
		/* prefixes nest or are disjoint: one that starts before c and
		 * holds c's start holds all of c */
		return before && rw_cidr_contains(before, c->family, c->addr);
	}
	int overlap = (at && rw_cidr_contains(c, at->family, at->addr)) ||
		      (before && rw_cidr_contains(before, c->family, c->addr));
	return !overlap;
}

enum rw_state_outcome rw_state_outcome(int add, const struct rw_cidr *req, size_t n_req,
				       struct rw_cidr *listed, size_t n_listed,
				       unsigned char *took)
{
	size_t n_took = 0;
	if (n_listed > 1)
		qsort(listed, n_listed, sizeof(*listed), rw_state_key_cmp);
	for (size_t i = 0; i < n_req; i++) {
		took[i] = (unsigned char)rw_state_took(add, &req[i], listed, n_listed);
		n_took += took[i];
	}
	if (n_took == 0)
		return RW_STATE_NONE;
	return n_took == n_req ? RW_STATE_ALL : RW_STATE_SOME;
}
