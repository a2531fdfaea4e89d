/* Live VPN peers and the WireGuard interface (see rw_wg_peers.h). */
#include "appliance/rw_wg_peers.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "appliance/rw_config_int.h"
#include "appliance/rw_daemon.h"
#include "appliance/rw_path.h"
#include "appliance/rw_wg_cut.h"
#include "appliance/rw_wg_key.h"
#include "rules/rw_cidr.h"

#define RW_WGL_KEEPALIVE 25 /* what the client config asks for */

void rw_wgl_init(struct rw_wg_live *l)
{
	memset(l, 0, sizeof(*l));
}

void rw_wgl_fini(struct rw_wg_live *l)
{
	if (l->wg_open)
		rw_wg_close(&l->wg);
	free(l->peers);
	free(l->retired);
	memset(l, 0, sizeof(*l));
}

/* ---- the state file ---------------------------------------------------- */

static int rw_wgl_load(struct rw_wg_live *l, const char *path, struct rw_diag *diag)
{
	json_error_t jerr;
	FILE *f = path ? fopen(path, "re") : NULL;
	if (!f)
		return !path || errno == ENOENT ? 0 : RW_EIO;
	json_t *root = json_loadf(f, JSON_REJECT_DUPLICATES, &jerr);
	fclose(f);
	if (!root)
		return 0; /* rw_state_load reports an unreadable file */
	json_t *arr = json_object_get(root, "peers"), *e;
	size_t i;
	int rc = 0;
	if (arr && (!json_is_array(arr) || json_array_size(arr) > RW_WGL_MAX_PEERS)) {
		rw_diag_err(diag, path, 0, "\"peers\" is not a list of at most %d live VPN peers",
			    RW_WGL_MAX_PEERS);
		json_decref(root);
		return RW_ECONFIG;
	}
	l->peers = arr && json_array_size(arr) ? calloc(json_array_size(arr), sizeof(*l->peers)) : NULL;
	json_array_foreach(arr, i, e) {
		struct rw_wgl_peer *p = &l->peers[l->n];
		const char *name = json_string_value(json_object_get(e, "name"));
		const char *key = json_string_value(json_object_get(e, "public_key"));
		json_t *addrs = json_object_get(e, "addresses"), *roles = json_object_get(e, "roles");
		int bad = !p || !name || strlen(name) >= RW_NAME_MAX || !key ||
			  rw_wg_key_from_base64(key, strlen(key), p->public_key) || !json_is_array(addrs) ||
			  json_array_size(addrs) == 0 || json_array_size(addrs) > RW_WGL_MAX_ADDRS ||
			  !json_is_array(roles) || json_array_size(roles) > RW_CTL_PEER_ROLES_MAX;
		size_t k;
		json_t *v;
		json_array_foreach(bad ? NULL : addrs, k, v) {
			const char *s = json_string_value(v);
			bad = bad || !s || rw_cidr_parse(s, &p->addr[k], 0);
		}
		json_array_foreach(bad ? NULL : roles, k, v) {
			const char *s = json_string_value(v), *glob;
			enum rw_op_class op;
			bad = bad || !s || strlen(s) >= RW_CTL_PEER_ROLE_LEN || rw_cfg_parse_role(s, &op, &glob);
			if (!bad)
				memcpy(p->roles[k], s, strlen(s) + 1);
		}
		if (bad) {
			rw_diag_err(diag, path, 0, "live VPN peer #%zu is malformed; fix or remove the file",
				    i + 1);
			rc = RW_ECONFIG;
			break;
		}
		memcpy(p->name, name, strlen(name) + 1);
		p->n_addr = json_array_size(addrs);
		p->n_roles = json_array_size(roles);
		p->added = json_integer_value(json_object_get(e, "added"));
		l->n++;
	}
	arr = json_object_get(root, "retired_addresses");
	if (!rc && json_is_array(arr) && json_array_size(arr) <= 65536) {
		l->retired = json_array_size(arr) ? calloc(json_array_size(arr), sizeof(*l->retired)) : NULL;
		json_array_foreach(arr, i, e) {
			const char *s = json_string_value(json_object_get(e, "address"));
			if (l->retired && s && rw_cidr_parse(s, &l->retired[l->n_retired].addr, 0) == 0) {
				l->retired[l->n_retired].until = json_integer_value(json_object_get(e, "until"));
				l->n_retired++;
			}
		}
	}
	json_decref(root);
	return rc;
}

/* The peers and resting addresses into the state file, the network
 * changes in it kept (rw_state_save keeps ours the same way). Written
 * whole to a temporary file, fsync'd, renamed, directory synced. */
static int rw_wgl_save(const struct rw_wg_live *l, const char *path, char *why, size_t why_len)
{
	json_error_t jerr;
	json_t *root = NULL;
	FILE *f = fopen(path, "re");
	if (f) {
		root = json_loadf(f, JSON_REJECT_DUPLICATES, &jerr);
		fclose(f);
	}
	if (!json_is_object(root)) {
		json_decref(root);
		root = json_pack("{s:i, s:[]}", "version", 1, "changes");
	}
	json_t *arr = json_array(), *ret = json_array();
	long long now = time(NULL);
	for (size_t i = 0; i < l->n; i++) {
		const struct rw_wgl_peer *p = &l->peers[i];
		char key[RW_WG_KEY_B64_LEN + 1], a[64];
		rw_wg_key_to_base64(p->public_key, key);
		json_t *addrs = json_array(), *roles = json_array();
		for (size_t k = 0; k < p->n_addr; k++) {
			rw_cidr_format(&p->addr[k], a, sizeof(a));
			json_array_append_new(addrs, json_string(a));
		}
		for (size_t k = 0; k < p->n_roles; k++)
			json_array_append_new(roles, json_string(p->roles[k]));
		json_array_append_new(arr, json_pack("{s:s, s:s, s:o, s:o, s:I}", "name", p->name,
						     "public_key", key, "addresses", addrs, "roles",
						     roles, "added", (json_int_t)p->added));
	}
	for (size_t i = 0; i < l->n_retired; i++) {
		char a[64];
		if (l->retired[i].until <= now)
			continue;
		rw_cidr_format(&l->retired[i].addr, a, sizeof(a));
		json_array_append_new(ret, json_pack("{s:s, s:I}", "address", a, "until",
						     (json_int_t)l->retired[i].until));
	}
	json_object_set_new(root, "peers", arr);
	json_object_set_new(root, "retired_addresses", ret);
	char *text = json_dumps(root, JSON_INDENT(1));
	json_decref(root);
	if (!text) {
		snprintf(why, why_len, "out of memory");
		return RW_ENOMEM;
	}
	char tmp[4096 + 16];
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	int r = rw_path_mkparents(path, 0750);
	int fd = r ? -1 : open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0640);
	size_t len = strlen(text);
	int ok = fd >= 0 && write(fd, text, len) == (ssize_t)len && write(fd, "\n", 1) == 1 &&
		 fsync(fd) == 0;
	int saved = errno;
	if (fd >= 0 && close(fd) != 0)
		ok = 0;
	free(text);
	if (!ok || rename(tmp, path) != 0 || rw_path_sync_dir(path) != 0) {
		if (ok)
			saved = errno;
		unlink(tmp);
		snprintf(why, why_len, "%s: cannot save the live VPN peers: %s", path, strerror(saved));
		return RW_EIO;
	}
	return 0;
}

/* ---- merging into a policy ---------------------------------------------- */

static bool rw_wgl_overlaps(const struct rw_cidr *a, size_t na, const struct rw_cidr *b, size_t nb,
			    const struct rw_cidr **hit)
{
	for (size_t i = 0; i < na; i++)
		for (size_t j = 0; j < nb; j++)
			if (rw_cidr_overlap(&a[i], &b[j])) {
				*hit = &b[j];
				return true;
			}
	return false;
}

static int rw_wgl_to_peer(const struct rw_wgl_peer *lp, struct rw_peer *out)
{
	memset(out, 0, sizeof(*out));
	snprintf(out->name, sizeof(out->name), "%s", lp->name);
	memcpy(out->public_key, lp->public_key, 32);
	out->addresses = calloc(lp->n_addr, sizeof(*out->addresses));
	out->roles = lp->n_roles ? calloc(lp->n_roles, sizeof(*out->roles)) : NULL;
	if (!out->addresses || (lp->n_roles && !out->roles))
		return RW_ENOMEM;
	memcpy(out->addresses, lp->addr, lp->n_addr * sizeof(*out->addresses));
	out->n_addresses = lp->n_addr;
	for (size_t k = 0; k < lp->n_roles; k++) {
		const char *glob;
		enum rw_op_class op;
		if (rw_cfg_parse_role(lp->roles[k], &op, &glob))
			return RW_EINVAL;
		out->roles[k].op = op;
		if (!(out->roles[k].glob = strdup(glob)))
			return RW_ENOMEM;
		out->n_roles = k + 1;
	}
	return 0;
}

/* Does live peer lp clash with a config peer (or sit outside the vpn
 * section)? The message names both and the way out. */
static int rw_wgl_clash(const struct rw_policy *np, const struct rw_wgl_peer *lp, char *why,
			size_t why_len)
{
	const struct rw_vpn *vpn = &np->vpn;
	const char *cfg = np->source_file ? np->source_file : "the config";
	char a[64], b[64];
	if (!vpn->enabled) {
		snprintf(why, why_len, "live VPN peer '%s' needs a vpn section in %s", lp->name, cfg);
		return RW_ECONFIG;
	}
	for (size_t k = 0; k < lp->n_addr; k++) {
		rw_cidr_format(&lp->addr[k], a, sizeof(a));
		rw_cidr_format(&vpn->address, b, sizeof(b));
		if (lp->addr[k].family != vpn->address.family ||
		    !rw_cidr_contains(&vpn->address, lp->addr[k].family, lp->addr[k].addr)) {
			snprintf(why, why_len, "live VPN peer '%s': address %s is outside vpn.address %s; "
					       "remove it with 'regwallctl peer del %s'",
				 lp->name, a, b, lp->name);
			return RW_ECONFIG;
		}
	}
	for (size_t i = 0; i < vpn->n_config_peers; i++) {
		const struct rw_peer *cp = &vpn->peers[i];
		const struct rw_cidr *hit;
		const char *what = NULL;
		if (strcmp(cp->name, lp->name) == 0)
			what = "the same name as";
		else if (memcmp(cp->public_key, lp->public_key, 32) == 0)
			what = "the same public key as";
		else if (rw_wgl_overlaps(lp->addr, lp->n_addr, cp->addresses, cp->n_addresses, &hit)) {
			rw_cidr_format(hit, b, sizeof(b));
			snprintf(why, why_len,
				 "live VPN peer '%s' (regwallctl peer add) has an address overlapping %s "
				 "of config peer '%s' (%s line %d): one key per tunnel address; remove one: "
				 "'regwallctl peer del %s' or the peer in %s",
				 lp->name, b, cp->name, cfg, cp->line, lp->name, cfg);
			return RW_ECONFIG;
		}
		if (what) {
			snprintf(why, why_len,
				 "live VPN peer '%s' (regwallctl peer add) has %s config peer '%s' (%s "
				 "line %d); remove one: 'regwallctl peer del %s' or the peer in %s",
				 lp->name, what, cp->name, cfg, cp->line, lp->name, cfg);
			return RW_ECONFIG;
		}
	}
	return 0;
}

int rw_wgl_merge(struct rw_wg_live *l, struct rw_policy *np, struct rw_diag *diag)
{
	char why[512];
	if (!l->loaded) {
		int rc = rw_wgl_load(l, np->state_file, diag);
		if (rc)
			return rc;
		l->loaded = true;
		if (l->n)
			rw_diag_warn(diag, np->state_file, 0, "%zu live VPN peer%s from regwallctl re-applied",
				     l->n, l->n == 1 ? "" : "s");
	}
	if (!l->n)
		return 0;
	for (size_t i = 0; i < l->n; i++)
		if (rw_wgl_clash(np, &l->peers[i], why, sizeof(why))) {
			rw_diag_err(diag, np->state_file, 0, "%s", why);
			return RW_ECONFIG;
		}
	struct rw_vpn *vpn = &np->vpn;
	struct rw_peer *v = realloc(vpn->peers, (vpn->n_peers + l->n) * sizeof(*v));
	if (!v)
		return RW_ENOMEM;
	vpn->peers = v;
	for (size_t i = 0; i < l->n; i++) {
		int rc = rw_wgl_to_peer(&l->peers[i], &v[vpn->n_peers]);
		vpn->n_peers++; /* partly filled ones too: rw_policy_free frees them */
		if (rc)
			return rc;
	}
	return 0;
}

/* ---- the interface ------------------------------------------------------ */

int rw_wgl_after_apply(struct rw_wg_live *l, const struct rw_policy *p, struct rw_diag *diag)
{
	char why[400];
	const struct rw_vpn *vpn = &p->vpn;
	if (l->wg_open && (!vpn->enabled || strcmp(l->wg.ifname, vpn->interface) != 0 ||
			   l->wg.listen_port != vpn->listen_port ||
			   memcmp(&l->wg.address, &vpn->address, sizeof(vpn->address)) != 0)) {
		fprintf(stderr, "regwalld: VPN interface %s: the vpn section changed; closing it\n",
			l->wg.ifname);
		rw_wg_close(&l->wg);
		l->wg_open = false;
	}
	if (!vpn->enabled || !vpn->manage_interface) {
		if (l->wg_open) {
			rw_wg_close(&l->wg);
			l->wg_open = false;
		}
		return 0;
	}
	if (!l->wg_open) {
		int rc = rw_wg_open(&l->wg, vpn, why, sizeof(why));
		if (rc) {
			rw_diag_err(diag, p->source_file, 0, "VPN interface %s: %s", vpn->interface, why);
			return rc;
		}
		l->wg_open = true;
		char key[RW_WG_KEY_B64_LEN + 1];
		rw_wg_key_to_base64(l->wg.public_key, key);
		fprintf(stderr, "regwalld: VPN interface %s up (%s backend, port %u); public key %s%s%s\n",
			vpn->interface, rw_wg_backend_name(l->wg.backend), vpn->listen_port, key,
			l->wg.key_created ? "; new private key written to " : "",
			l->wg.key_created ? vpn->private_key_file : "");
	}
	int rc;
	if (l->hold) { /* the policy's peers and the one being deleted */
		struct rw_peer *v = calloc(vpn->n_peers + 1, sizeof(*v));
		if (!v)
			return RW_ENOMEM;
		memcpy(v, vpn->peers, vpn->n_peers * sizeof(*v));
		v[vpn->n_peers] = l->held;
		rc = rw_wg_set_peers(&l->wg, v, vpn->n_peers + 1, why, sizeof(why));
		free(v);
	} else {
		rc = rw_wg_set_peers(&l->wg, vpn->peers, vpn->n_peers, why, sizeof(why));
	}
	if (rc)
		rw_diag_warn(diag, NULL, 0, "VPN interface %s: peers not all set (%s); retried when "
					    "the interface restarts", vpn->interface, why);
	return 0;
}

void rw_wgl_tick(struct rw_wg_live *l)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	if (l->wg_open)
		rw_wg_tick(&l->wg, (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000);
}

void rw_wgl_reap(struct rw_wg_live *l)
{
	if (l->wg_open && l->wg.backend == RW_WG_USERSPACE)
		rw_wg_go_reap(&l->wg.go);
}

/* ---- addresses ---------------------------------------------------------- */

static void rw_wgl_addr_add(uint8_t *a, size_t len, uint64_t k)
{
	for (size_t i = len; i-- > 0 && k;) {
		uint64_t s = a[i] + (k & 0xff);
		a[i] = (uint8_t)s;
		k = (k >> 8) + (s >> 8);
	}
}

int rw_wgl_next_address(const struct rw_vpn *vpn, const struct rw_wgl_retired *retired,
			size_t n_retired, long long now, struct rw_cidr *out)
{
	const struct rw_cidr *net = &vpn->address;
	size_t alen = net->family == AF_INET ? 4 : 16;
	unsigned host_bits = (unsigned)alen * 8 - net->prefix;
	uint64_t count = host_bits >= 20 ? (1u << 20) : (1ull << host_bits);
	struct rw_cidr base = *net;
	rw_cidr_clear_host_bits(&base);
	/* 1 .. count-2: not the network address, not (v4) the broadcast */
	for (uint64_t k = 1; k + 1 < count || (net->family == AF_INET6 && k < count); k++) {
		struct rw_cidr c = { .family = net->family, .prefix = (uint8_t)(alen * 8) };
		memcpy(c.addr, base.addr, alen);
		rw_wgl_addr_add(c.addr, alen, k);
		if (memcmp(c.addr, net->addr, alen) == 0)
			continue; /* the gateway's own */
		bool used = false;
		for (size_t i = 0; i < vpn->n_peers && !used; i++)
			for (size_t j = 0; j < vpn->peers[i].n_addresses && !used; j++)
				used = rw_cidr_overlap(&c, &vpn->peers[i].addresses[j]);
		for (size_t i = 0; i < n_retired && !used; i++)
			used = retired[i].until > now && rw_cidr_overlap(&c, &retired[i].addr);
		if (!used) {
			*out = c;
			return 0;
		}
	}
	return RW_ENOENT;
}

/* What the client routes into the tunnel: the registry's addresses that
 * take VPN clients (listeners with "vpn" in allow_from bound to one
 * address), else the gateway's tunnel address. Nothing else. */
static void rw_wgl_allowed_ips(const struct rw_policy *p, char *out, size_t len)
{
	size_t o = 0;
	out[0] = '\0';
	for (size_t i = 0; i < p->n_listeners; i++) {
		const struct rw_listener *ls = &p->listeners[i];
		static const uint8_t zero[16];
		size_t alen = ls->listen.family == AF_INET ? 4 : 16;
		if (!ls->allow_vpn || memcmp(ls->listen.addr, zero, alen) == 0)
			continue;
		char a[INET6_ADDRSTRLEN], item[64];
		inet_ntop(ls->listen.family, ls->listen.addr, a, sizeof(a));
		snprintf(item, sizeof(item), "%s/%d", a, ls->listen.family == AF_INET ? 32 : 128);
		if (strstr(out, item))
			continue;
		o += (size_t)snprintf(out + o, o < len ? len - o : 0, "%s%s", o ? ", " : "", item);
	}
	if (o == 0) {
		char a[INET6_ADDRSTRLEN];
		inet_ntop(p->vpn.address.family, p->vpn.address.addr, a, sizeof(a));
		snprintf(out, len, "%s/%d", a, p->vpn.address.family == AF_INET ? 32 : 128);
	}
}

/* ---- control requests ----------------------------------------------------- */

static json_t *rw_wgl_err(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static json_t *rw_wgl_err(const char *fmt, ...)
{
	char buf[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	return json_pack("{s:b, s:s}", "ok", 0, "error", buf);
}

static json_t *rw_wgl_diag_err(const char *what, const struct rw_diag *diag)
{
	json_t *msgs = json_array();
	for (unsigned i = 0; i < diag->n; i++)
		if (!diag->msg[i].is_warning)
			json_array_append_new(msgs, json_string(diag->msg[i].text));
	return json_pack("{s:b, s:s, s:o}", "ok", 0, "error", what, "details", msgs);
}

static const struct rw_peer *rw_wgl_find(const struct rw_policy *p, const char *name, size_t *idx)
{
	for (size_t i = 0; i < p->vpn.n_peers; i++)
		if (strcmp(p->vpn.peers[i].name, name) == 0) {
			if (idx)
				*idx = i;
			return &p->vpn.peers[i];
		}
	return NULL;
}

static const char *rw_wgl_origin(const struct rw_policy *p, size_t idx)
{
	return idx < p->vpn.n_config_peers ? "config" : "live";
}

json_t *rw_wgl_peer_add(struct rw_daemon *d, const struct rw_ctl_req *req)
{
	struct rw_wg_live *l = d->wgl;
	const struct rw_policy *p = &d->pol;
	const struct rw_ctl_peer *rp = &req->peer;
	char why[512], a[64], b[64];
	if (!l || !p->vpn.enabled || !l->wg_open)
		return rw_wgl_err("regwalld runs no VPN interface: the config needs a vpn section "
				  "with manage_interface = true");
	size_t idx;
	if (rw_wgl_find(p, rp->name, &idx))
		return rw_wgl_err("peer '%s' exists already (%s)", rp->name, rw_wgl_origin(p, idx));
	if (l->n >= RW_WGL_MAX_PEERS)
		return rw_wgl_err("%d live peers already", RW_WGL_MAX_PEERS);
	struct rw_wgl_peer np = { 0 };
	uint8_t client_priv[32];
	snprintf(np.name, sizeof(np.name), "%s", rp->name);
	if (rp->has_key) {
		memcpy(np.public_key, rp->public_key, 32);
	} else if (rw_wg_key_generate(client_priv, np.public_key)) {
		return rw_wgl_err("cannot generate a key pair");
	}
	if (memcmp(np.public_key, l->wg.public_key, 32) == 0)
		return rw_wgl_err("that is the gateway's own public key");
	for (size_t i = 0; i < p->vpn.n_peers; i++)
		if (memcmp(p->vpn.peers[i].public_key, np.public_key, 32) == 0)
			return rw_wgl_err("peer '%s' (%s) has this public key already",
					  p->vpn.peers[i].name, rw_wgl_origin(p, i));
	long long now = time(NULL);
	if (req->n_cidrs) {
		const struct rw_cidr *c = &req->cidrs[0];
		rw_cidr_format(c, a, sizeof(a));
		rw_cidr_format(&p->vpn.address, b, sizeof(b));
		if (c->prefix != (c->family == AF_INET ? 32 : 128))
			return rw_wgl_err("--address %s: one host address (/32 or /128), the peer's "
					  "tunnel address", a);
		if (c->family != p->vpn.address.family ||
		    !rw_cidr_contains(&p->vpn.address, c->family, c->addr))
			return rw_wgl_err("--address %s is outside vpn.address %s", a, b);
		if (memcmp(c->addr, p->vpn.address.addr, 16) == 0)
			return rw_wgl_err("--address %s is the gateway's own", a);
		for (size_t i = 0; i < p->vpn.n_peers; i++) {
			const struct rw_cidr *hit;
			if (rw_wgl_overlaps(c, 1, p->vpn.peers[i].addresses, p->vpn.peers[i].n_addresses,
					    &hit)) {
				rw_cidr_format(hit, b, sizeof(b));
				return rw_wgl_err("--address %s overlaps %s of peer '%s' (%s)", a, b,
						  p->vpn.peers[i].name, rw_wgl_origin(p, i));
			}
		}
		np.addr[0] = *c;
	} else if (rw_wgl_next_address(&p->vpn, l->retired, l->n_retired, now, &np.addr[0])) {
		rw_cidr_format(&p->vpn.address, b, sizeof(b));
		return rw_wgl_err("no free address left in vpn.address %s (deleted peers' addresses "
				  "rest for vpn.address_reuse_after)", b);
	}
	np.n_addr = 1;
	for (size_t k = 0; k < rp->n_roles; k++)
		memcpy(np.roles[k], rp->roles[k], sizeof(np.roles[k]));
	np.n_roles = rp->n_roles;
	np.added = now;
	/* into the list and the state file, then applied as a reload is;
	 * undone on any failure */
	struct rw_wgl_peer *v = realloc(l->peers, (l->n + 1) * sizeof(*v));
	if (!v)
		return rw_wgl_err("out of memory");
	l->peers = v;
	l->peers[l->n++] = np;
	struct rw_diag diag;
	rw_diag_init(&diag);
	int rc = rw_wgl_save(l, p->state_file, why, sizeof(why));
	if (!rc)
		rc = rw_daemon_reload(d, &diag);
	if (rc) {
		l->n--;
		char why2[512];
		(void)rw_wgl_save(l, d->pol.state_file, why2, sizeof(why2));
		OPENSSL_cleanse(client_priv, sizeof(client_priv));
		return diag.n ? rw_wgl_diag_err("peer add refused; nothing changed", &diag)
			      : rw_wgl_err("peer add refused: %s", why);
	}
	char key[RW_WG_KEY_B64_LEN + 1];
	rw_wg_key_to_base64(np.public_key, key);
	rw_cidr_format(&np.addr[0], a, sizeof(a));
	fprintf(stderr, "regwalld: VPN peer %s added (%s, key %s)\n", np.name, a, key);
	json_t *rep = json_pack("{s:b, s:s, s:s, s:s}", "ok", 1, "peer", np.name, "address", a,
				"public_key", key);
	if (!rp->has_key) {
		/* the client's configuration, once: its private key is only here */
		char priv[RW_WG_KEY_B64_LEN + 1], gw[RW_WG_KEY_B64_LEN + 1], allowed[512], ep[300];
		rw_wg_key_to_base64(client_priv, priv);
		rw_wg_key_to_base64(l->wg.public_key, gw);
		rw_wgl_allowed_ips(&d->pol, allowed, sizeof(allowed));
		if (d->pol.vpn.endpoint[0])
			snprintf(ep, sizeof(ep), "Endpoint = %s\n", d->pol.vpn.endpoint);
		else
			snprintf(ep, sizeof(ep), "# Endpoint = (set vpn.endpoint in %s)\n",
				 d->pol.source_file ? d->pol.source_file : "the config");
		char conf[2048];
		snprintf(conf, sizeof(conf),
			 "[Interface]\nPrivateKey = %s\nAddress = %s\n\n[Peer]\nPublicKey = %s\n%s"
			 "AllowedIPs = %s\nPersistentKeepalive = %d\n",
			 priv, a, gw, ep, allowed, RW_WGL_KEEPALIVE);
		json_object_set_new(rep, "client_config", json_string(conf));
		OPENSSL_cleanse(priv, sizeof(priv));
		OPENSSL_cleanse(conf, sizeof(conf));
		OPENSSL_cleanse(client_priv, sizeof(client_priv));
	}
	return rep;
}

json_t *rw_wgl_peer_del(struct rw_daemon *d, const struct rw_ctl_req *req)
{
	struct rw_wg_live *l = d->wgl;
	const struct rw_policy *p = &d->pol;
	char why[512];
	size_t idx, li;
	if (!l || !p->vpn.enabled)
		return rw_wgl_err("no VPN interface runs: the config needs a vpn section");
	if (!rw_wgl_find(p, req->peer.name, &idx))
		return rw_wgl_err("no peer '%s'", req->peer.name);
	if (idx < p->vpn.n_config_peers)
		return rw_wgl_err("peer '%s' is in %s (line %d): remove it there and reload",
				  req->peer.name, p->source_file ? p->source_file : "the config",
				  p->vpn.peers[idx].line);
	for (li = 0; li < l->n; li++)
		if (strcmp(l->peers[li].name, req->peer.name) == 0)
			break;
	if (li == l->n)
		return rw_wgl_err("peer '%s' is not a live peer", req->peer.name);
	struct rw_wgl_peer gone = l->peers[li];
	/* its addresses rest before another peer gets them: a client with
	 * the old config must not come back as someone else */
	struct rw_wgl_retired *rv = realloc(l->retired, (l->n_retired + gone.n_addr) * sizeof(*rv));
	if (!rv)
		return rw_wgl_err("out of memory");
	l->retired = rv;
	size_t n_retired_before = l->n_retired;
	long long until = time(NULL) + (long long)(p->vpn.address_reuse_after_ms / 1000);
	for (size_t k = 0; k < gone.n_addr; k++)
		l->retired[l->n_retired++] = (struct rw_wgl_retired){ gone.addr[k], until };
	l->peers[li] = l->peers[--l->n];
	/* Order: the nftables sets and the workers lose the peer first (no
	 * new connection), its connections are cut while WireGuard can still
	 * carry the resets to its client (its push fails at once instead of
	 * hanging), then the key goes. */
	memset(&l->held, 0, sizeof(l->held));
	memcpy(l->held.public_key, gone.public_key, 32);
	memcpy(l->held_addr, gone.addr, sizeof(l->held_addr));
	l->held.addresses = l->held_addr;
	l->held.n_addresses = gone.n_addr;
	l->hold = l->wg_open;
	struct rw_diag diag;
	rw_diag_init(&diag);
	int rc = rw_wgl_save(l, p->state_file, why, sizeof(why));
	if (!rc)
		rc = rw_daemon_reload(d, &diag); /* nft sets, workers, WireGuard */
	if (rc) {
		l->hold = false;
		l->peers[l->n++] = gone;
		l->n_retired = n_retired_before;
		char why2[512];
		(void)rw_wgl_save(l, d->pol.state_file, why2, sizeof(why2));
		return diag.n ? rw_wgl_diag_err("peer del refused; nothing changed", &diag)
			      : rw_wgl_err("peer del refused: %s", why);
	}
	/* its open connections: cut, not drained */
	unsigned cut = 0;
	int cr = rw_wg_cut_from(gone.addr, gone.n_addr, &cut);
	if (l->hold) {
		/* the resets are queued to the tunnel; wireguard-go reads its
		 * TUN device asynchronously: a moment for them to leave */
		if (cut && l->wg.backend == RW_WG_USERSPACE)
			usleep(100000);
		l->hold = false;
		char wwhy[300];
		if (rw_wg_set_peers(&l->wg, d->pol.vpn.peers, d->pol.vpn.n_peers, wwhy, sizeof(wwhy)))
			fprintf(stderr, "regwalld: VPN interface %s: removing %s's key: %s (retried "
					"at the next restart)\n",
				l->wg.ifname, gone.name, wwhy);
	}
	char a[64];
	rw_cidr_format(&gone.addr[0], a, sizeof(a));
	fprintf(stderr, "regwalld: VPN peer %s deleted (%s); %u connection%s cut%s%s\n", gone.name, a,
		cut, cut == 1 ? "" : "s", cr ? "; cutting failed: " : "", cr ? rw_strerror(cr) : "");
	json_t *rep = json_pack("{s:b, s:s, s:s, s:i}", "ok", 1, "deleted", gone.name, "address", a,
				"connections_cut", (int)cut);
	if (cr)
		json_object_set_new(rep, "warning",
				    json_string("open connections could not be cut (sock_diag destroy)"));
	return rep;
}

json_t *rw_wgl_peer_list(struct rw_daemon *d)
{
	struct rw_wg_live *l = d->wgl;
	const struct rw_policy *p = &d->pol;
	json_t *arr = json_array();
	struct rw_wg_device dev = { 0 };
	char why[300];
	int have = l && l->wg_open && rw_wg_get(&l->wg, &dev, why, sizeof(why)) == 0;
	for (size_t i = 0; p->vpn.enabled && i < p->vpn.n_peers; i++) {
		const struct rw_peer *pe = &p->vpn.peers[i];
		char key[RW_WG_KEY_B64_LEN + 1], a[64];
		rw_wg_key_to_base64(pe->public_key, key);
		json_t *addrs = json_array(), *roles = json_array();
		for (size_t k = 0; k < pe->n_addresses; k++) {
			rw_cidr_format(&pe->addresses[k], a, sizeof(a));
			json_array_append_new(addrs, json_string(a));
		}
		for (size_t k = 0; k < pe->n_roles; k++) {
			char r[200];
			const char *op = pe->roles[k].op == RW_ROLE_PUSH     ? "push"
					 : pe->roles[k].op == RW_ROLE_DELETE ? "delete"
									     : "pull";
			snprintf(r, sizeof(r), "%s:%s", op, pe->roles[k].glob);
			json_array_append_new(roles, json_string(r));
		}
		json_t *o = json_pack("{s:s, s:s, s:o, s:o, s:s, s:b}", "name", pe->name, "public_key",
				      key, "addresses", addrs, "roles", roles, "origin",
				      rw_wgl_origin(p, i), "configured", 0);
		for (size_t j = 0; have && j < dev.n_peers; j++) {
			const struct rw_wg_peer *dp = &dev.peers[j];
			if (memcmp(dp->public_key, pe->public_key, 32) != 0)
				continue;
			json_object_set_new(o, "configured", json_true());
			json_object_set_new(o, "last_handshake", json_integer(dp->last_handshake_sec));
			json_object_set_new(o, "rx_bytes", json_integer((json_int_t)dp->rx_bytes));
			json_object_set_new(o, "tx_bytes", json_integer((json_int_t)dp->tx_bytes));
			if (dp->endpoint.family) {
				char h[INET6_ADDRSTRLEN], ep[80];
				inet_ntop(dp->endpoint.family, dp->endpoint.addr, h, sizeof(h));
				snprintf(ep, sizeof(ep), dp->endpoint.family == AF_INET6 ? "[%s]:%u" : "%s:%u",
					 h, dp->endpoint.port);
				json_object_set_new(o, "endpoint", json_string(ep));
			}
		}
		json_array_append_new(arr, o);
	}
	rw_wg_device_free(&dev);
	json_t *rep = json_pack("{s:b, s:o}", "ok", 1, "peers", arr);
	if (l && l->wg_open && !have)
		json_object_set_new(rep, "warning", json_string(why));
	return rep;
}

json_t *rw_wgl_status(struct rw_wg_live *l, const struct rw_policy *p)
{
	if (!l || !p->vpn.enabled)
		return NULL;
	char key[RW_WG_KEY_B64_LEN + 1] = "";
	if (l->wg_open)
		rw_wg_key_to_base64(l->wg.public_key, key);
	return json_pack("{s:s, s:s, s:s, s:i, s:I, s:I, s:i, s:b, s:i}", "interface",
			 p->vpn.interface, "backend",
			 l->wg_open ? rw_wg_backend_name(l->wg.backend) : "down", "public_key", key,
			 "listen_port", p->vpn.listen_port, "peers", (json_int_t)p->vpn.n_peers,
			 "live_peers", (json_int_t)l->n, "restarts", (int)l->wg.restarts, "degraded",
			 l->wg.degraded, "pid", (int)l->wg.go.pid);
}
