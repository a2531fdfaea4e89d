/* regwalld's WireGuard interface (see rw_wg.h). */
#include "appliance/rw_wg.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>

#include <openssl/crypto.h>

#include "appliance/rw_wg_key.h"
#include "appliance/rw_wg_link.h"
#include "appliance/rw_wg_nl.h"
#include "appliance/rw_wg_uapi.h"
#include "base/rw_err.h"

#define RW_WG_GO_WAIT_MS 3000
#define RW_WG_UAPI_TIMEOUT_MS 3000

const char *rw_wg_backend_name(enum rw_wg_backend b)
{
	return b == RW_WG_KERNEL ? "kernel" : b == RW_WG_USERSPACE ? "wireguard-go" : "none";
}

static long long rw_wg_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void rw_wg_peers_free(struct rw_wg_peer *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(p[i].allowed);
	free(p);
}

static int rw_wg_device_set(struct rw_wg *w, const struct rw_wg_device *dev, char *why,
			    size_t why_len)
{
	if (w->backend == RW_WG_KERNEL)
		return rw_wg_nl_set(w->ifname, w->family_id, dev, why, why_len);
	return rw_wg_uapi_set(w->go.sock, dev, RW_WG_UAPI_TIMEOUT_MS, why, why_len);
}

/* The whole configuration: key, port, every peer (replacing any). */
static int rw_wg_apply_all(struct rw_wg *w, char *why, size_t why_len)
{
	struct rw_wg_device dev = { .has_private_key = true, .has_listen_port = true,
				    .listen_port = w->listen_port, .replace_peers = true,
				    .peers = w->peers, .n_peers = w->n_peers };
	memcpy(dev.private_key, w->private_key, 32);
	int rc = rw_wg_device_set(w, &dev, why, why_len);
	OPENSSL_cleanse(dev.private_key, 32);
	return rc;
}

/* Interface address, up, whole configuration: after a (re)start. */
static int rw_wg_bring_up(struct rw_wg *w, char *why, size_t why_len)
{
	int rc = rw_wg_link_setup(w->ifname, &w->address, why, why_len);
	if (!rc)
		rc = rw_wg_apply_all(w, why, why_len);
	return rc;
}

int rw_wg_open(struct rw_wg *w, const struct rw_vpn *vpn, char *why, size_t why_len)
{
	int created = 0, rc;
	memset(w, 0, sizeof(*w));
	snprintf(w->ifname, sizeof(w->ifname), "%s", vpn->interface);
	w->address = vpn->address;
	w->listen_port = vpn->listen_port;
	rw_wg_go_init(&w->go, w->ifname);
	rw_backoff_init(&w->bo, rw_wg_now());
	if (!vpn->private_key_file) {
		snprintf(why, why_len, "vpn.private_key_file is not set");
		return RW_ECONFIG;
	}
	rc = rw_wg_key_load_file(vpn->private_key_file, 1, w->private_key, &created, why, why_len);
	if (rc)
		return rc;
	w->key_created = created;
	if ((rc = rw_wg_key_public(w->private_key, w->public_key))) {
		snprintf(why, why_len, "%s: cannot derive the public key", vpn->private_key_file);
		return rc;
	}
	/* the kernel's WireGuard when there is one; else wireguard-go */
	char kwhy[200] = "";
	rc = rw_wg_nl_link_create(w->ifname, kwhy, sizeof(kwhy));
	if (rc == 0 && (rc = rw_wg_nl_family(&w->family_id, kwhy, sizeof(kwhy))) == 0) {
		w->backend = RW_WG_KERNEL;
	} else if (rc == RW_ENOENT) {
		w->backend = RW_WG_USERSPACE;
		rc = rw_wg_go_start(&w->go, RW_WG_GO_WAIT_MS, why, why_len);
		if (rc)
			return rc;
	} else {
		snprintf(why, why_len, "%s", kwhy);
		return rc;
	}
	rc = rw_wg_bring_up(w, why, why_len);
	if (rc)
		rw_wg_close(w);
	return rc;
}

/* A deep copy of the policy's peers as device peers. */
static int rw_wg_peers_from(const struct rw_peer *peers, size_t n, struct rw_wg_peer **out)
{
	struct rw_wg_peer *v = n ? calloc(n, sizeof(*v)) : NULL;
	if (n && !v)
		return RW_ENOMEM;
	for (size_t i = 0; i < n; i++) {
		memcpy(v[i].public_key, peers[i].public_key, 32);
		v[i].endpoint = peers[i].endpoint;
		v[i].replace_allowed = true;
		v[i].n_allowed = peers[i].n_addresses;
		if (v[i].n_allowed) {
			v[i].allowed = calloc(v[i].n_allowed, sizeof(struct rw_cidr));
			if (!v[i].allowed) {
				rw_wg_peers_free(v, n);
				return RW_ENOMEM;
			}
			memcpy(v[i].allowed, peers[i].addresses, v[i].n_allowed * sizeof(struct rw_cidr));
		}
	}
	*out = v;
	return 0;
}

int rw_wg_set_peers(struct rw_wg *w, const struct rw_peer *peers, size_t n, char *why,
		    size_t why_len)
{
	struct rw_wg_peer *nv;
	int rc = rw_wg_peers_from(peers, n, &nv);
	if (rc) {
		snprintf(why, why_len, "out of memory");
		return rc;
	}
	/* the change: every new peer (updates keep sessions), then a removal
	 * for each old key no longer there */
	size_t n_rm = 0;
	for (size_t i = 0; i < w->n_peers; i++) {
		bool kept = false;
		for (size_t j = 0; j < n && !kept; j++)
			kept = memcmp(w->peers[i].public_key, nv[j].public_key, 32) == 0;
		n_rm += !kept;
	}
	struct rw_wg_peer *msg = calloc(n + n_rm + 1, sizeof(*msg));
	if (!msg) {
		rw_wg_peers_free(nv, n);
		snprintf(why, why_len, "out of memory");
		return RW_ENOMEM;
	}
	size_t k = 0;
	for (size_t i = 0; i < w->n_peers; i++) {
		bool kept = false;
		for (size_t j = 0; j < n && !kept; j++)
			kept = memcmp(w->peers[i].public_key, nv[j].public_key, 32) == 0;
		if (!kept) {
			memcpy(msg[k].public_key, w->peers[i].public_key, 32);
			msg[k++].remove = true;
		}
	}
	/* removals first: a new peer may take a removed one's address */
	memcpy(msg + k, nv, n * sizeof(*nv));
	struct rw_wg_device dev = { .peers = msg, .n_peers = k + n };
	rc = w->backend == RW_WG_NONE ? 0 : rw_wg_device_set(w, &dev, why, why_len);
	free(msg);
	/* the model follows the wish even on failure: a restart applies it */
	rw_wg_peers_free(w->peers, w->n_peers);
	w->peers = nv;
	w->n_peers = n;
	return rc;
}

void rw_wg_tick(struct rw_wg *w, long long now_ms)
{
	char why[300];
	int st;
	if (w->backend != RW_WG_USERSPACE)
		return;
	if (w->go.pid && rw_wg_go_exited(&w->go, &st)) {
		bool exhausted = false;
		long long delay = rw_backoff_crash(&w->bo, w->go.started_ms, now_ms, &exhausted);
		w->restart_at_ms = now_ms + (delay ? delay : 1);
		fprintf(stderr,
			"regwalld: wireguard-go for %s ended (%s %d); restart in %lld ms%s\n",
			w->ifname, st >= 0 && WIFSIGNALED(st) ? "signal" : "status",
			st < 0 ? -1 : WIFSIGNALED(st) ? WTERMSIG(st) : WEXITSTATUS(st), delay,
			exhausted ? " (restart budget spent)" : "");
	}
	if (w->go.pid || !w->restart_at_ms || now_ms < w->restart_at_ms)
		return;
	w->restart_at_ms = 0;
	int rc = rw_wg_go_start(&w->go, RW_WG_GO_WAIT_MS, why, sizeof(why));
	if (!rc)
		rc = rw_wg_bring_up(w, why, sizeof(why));
	if (rc) {
		/* dead again or unconfigurable: counts as a crash, retried */
		bool exhausted = false;
		long long delay = rw_backoff_crash(&w->bo, w->go.started_ms, rw_wg_now(), &exhausted);
		rw_wg_go_stop(&w->go, 500);
		w->restart_at_ms = rw_wg_now() + (delay ? delay : 1);
		w->degraded = true;
		fprintf(stderr, "regwalld: wireguard-go for %s: restart failed: %s; again in %lld ms\n",
			w->ifname, why, delay);
		return;
	}
	w->restarts++;
	w->degraded = false;
	fprintf(stderr,
		"regwalld: wireguard-go for %s restarted (pid %d, restart %u); interface and %zu "
		"peer%s configured again\n",
		w->ifname, (int)w->go.pid, w->restarts, w->n_peers, w->n_peers == 1 ? "" : "s");
}

int rw_wg_get(struct rw_wg *w, struct rw_wg_device *out, char *why, size_t why_len)
{
	if (w->backend == RW_WG_KERNEL)
		return rw_wg_nl_get(w->ifname, w->family_id, out, why, why_len);
	if (w->backend == RW_WG_USERSPACE && w->go.pid)
		return rw_wg_uapi_get(w->go.sock, out, RW_WG_UAPI_TIMEOUT_MS, why, why_len);
	memset(out, 0, sizeof(*out));
	snprintf(why, why_len, "the WireGuard interface %s is down", w->ifname);
	return RW_ENOENT;
}

void rw_wg_close(struct rw_wg *w)
{
	if (w->backend == RW_WG_USERSPACE)
		rw_wg_go_stop(&w->go, 2000);
	rw_wg_peers_free(w->peers, w->n_peers);
	w->peers = NULL;
	w->n_peers = 0;
	OPENSSL_cleanse(w->private_key, sizeof(w->private_key));
	w->backend = RW_WG_NONE;
}
