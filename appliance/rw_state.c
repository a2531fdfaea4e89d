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
#include "rules/rw_cidrset.h"

int rw_state_save(const char *path, const struct rw_live_change *v, size_t n,
		  struct rw_diag *diag)
{
	json_t *arr = json_array();
	json_t *root = json_pack("{s:i, s:o}", "version", 1, "changes", arr);
	if (!root)
		return RW_ENOMEM;
	/* members other modules keep in this file (the live VPN peers,
	 * appliance/rw_wg_peers.c) carried over unchanged */
	FILE *old = fopen(path, "re");
	json_t *prev = old ? json_loadf(old, JSON_REJECT_DUPLICATES, NULL) : NULL;
	if (old)
		fclose(old);
	const char *pk;
	json_t *pv;
	json_object_foreach(json_is_object(prev) ? prev : NULL, pk, pv)
		if (strcmp(pk, "version") != 0 && strcmp(pk, "changes") != 0)
			json_object_set(root, pk, pv);
	json_decref(prev);
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

const struct rw_peer *rw_state_peer_overlap_ix(const struct rw_policy *p,
					       const struct rw_cidrset_index *peers,
					       const struct rw_cidr *c, const struct rw_cidr **addr)
{
	if (!p->vpn.enabled)
		return NULL;
	if (rw_cidrset_index_is_for(peers, p)) {
		/* the same answer as the scan below: the overlapping address
		 * of the first peer, that peer's first such address */
		long at = rw_cidrset_index_overlap(peers, c);
		if (at < 0)
			return NULL;
		const struct rw_cidrset_owner *o = &peers->own[at];
		*addr = &p->vpn.peers[o->owner].addresses[o->sub];
		return &p->vpn.peers[o->owner];
	}
	for (size_t i = 0; i < p->vpn.n_peers; i++)
		for (size_t j = 0; j < p->vpn.peers[i].n_addresses; j++)
			if (rw_cidr_overlap(c, &p->vpn.peers[i].addresses[j])) {
				*addr = &p->vpn.peers[i].addresses[j];
				return &p->vpn.peers[i];
			}
	return NULL;
}

const struct rw_peer *rw_state_peer_overlap(const struct rw_policy *p, const struct rw_cidr *c,
					    const struct rw_cidr **addr)
{
	return rw_state_peer_overlap_ix(p, NULL, c, addr);
}

/* Kernel elements are disjoint, and sorted here into a CIDR-set view
 * (rw_cidrset.h): an addition took if the element holding c's start holds
 * all of c (prefixes nest or are disjoint: one that holds c's start and is
 * not narrower holds c); a deletion took if nothing overlaps c. */
static int rw_state_took(int add, const struct rw_cidr *c, const struct rw_cidr *v, size_t n)
{
	if (add) {
		const struct rw_cidr *at = rw_cidrset_contains(v, n, c->family, c->addr);
		return at && at->prefix <= c->prefix;
	}
	return rw_cidrset_overlap(v, n, c) == NULL;
}

enum rw_state_outcome rw_state_outcome(int add, const struct rw_cidr *req, size_t n_req,
				       struct rw_cidr *listed, size_t n_listed,
				       unsigned char *took)
{
	size_t n_took = 0;
	/* one listing of 100,000 elements is searched, not scanned once per
	 * requested prefix */
	rw_cidrset_sort(listed, n_listed);
	for (size_t i = 0; i < n_req; i++) {
		took[i] = (unsigned char)rw_state_took(add, &req[i], listed, n_listed);
		n_took += took[i];
	}
	if (n_took == 0)
		return RW_STATE_NONE;
	return n_took == n_req ? RW_STATE_ALL : RW_STATE_SOME;
}
