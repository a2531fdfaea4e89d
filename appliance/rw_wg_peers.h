/* VPN peers added and deleted at run time (`regwallctl peer add|del|list`)
 * and the WireGuard interface they go to.
 *
 * A live peer is kept like a live network change: in memory, merged into
 * every policy regwalld loads (start, reload), and saved in the state file
 * (policy.state_file, members "peers" and "retired_addresses" beside the
 * network changes) so a restart keeps it. The client's private key, when
 * regwalld generates the pair, is in the one reply and nowhere else.
 *
 * A peer add or del applies as a reload does (the config file is read
 * again, the live peers merged, the table replaced in one transaction, a
 * new worker generation on the policy with the peer's roles), then the
 * WireGuard device gets the difference. A del then cuts the peer's open
 * connections (rw_wg_cut): a removed peer must not finish a push. */
#ifndef RW_WG_PEERS_H
#define RW_WG_PEERS_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "appliance/rw_ctl.h"
#include "appliance/rw_wg.h"
#include "base/rw_err.h"
#include "rules/rw_policy.h"

#define RW_WGL_MAX_PEERS 4096
#define RW_WGL_MAX_ADDRS 2 /* one IPv4 and/or one IPv6 host address */

struct rw_wgl_peer {
	char name[RW_NAME_MAX];
	uint8_t public_key[32];
	struct rw_cidr addr[RW_WGL_MAX_ADDRS];
	size_t n_addr;
	char roles[RW_CTL_PEER_ROLES_MAX][RW_CTL_PEER_ROLE_LEN];
	size_t n_roles;
	long long added; /* unix seconds */
};

struct rw_wgl_retired {
	struct rw_cidr addr;
	long long until; /* unix seconds: not handed out again before */
};

struct rw_wg_live {
	bool loaded; /* the state file was read */
	struct rw_wgl_peer *peers;
	size_t n;
	struct rw_wgl_retired *retired;
	size_t n_retired;
	struct rw_wg wg;
	bool wg_open;
	/* peer del: the deleted peer's key stays in WireGuard until its
	 * connections are cut, so the resets reach its client */
	bool hold;
	struct rw_peer held;
	struct rw_cidr held_addr[RW_WGL_MAX_ADDRS];
};

struct rw_daemon;

void rw_wgl_init(struct rw_wg_live *l);
void rw_wgl_fini(struct rw_wg_live *l);
/* Into a freshly loaded policy: the live peers (read from np's state file
 * the first time). A live peer whose name, key or address a config peer
 * has refuses the load, naming both and the way out. */
int rw_wgl_merge(struct rw_wg_live *l, struct rw_policy *np, struct rw_diag *diag);
/* After an apply: the interface (opened at the first one) gets the
 * policy's peers. */
int rw_wgl_after_apply(struct rw_wg_live *l, const struct rw_policy *p, struct rw_diag *diag);
void rw_wgl_tick(struct rw_wg_live *l);
/* SIGCHLD: collect wireguard-go's status before the workers' waitpid(-1). */
void rw_wgl_reap(struct rw_wg_live *l);
/* Control requests. */
json_t *rw_wgl_peer_add(struct rw_daemon *d, const struct rw_ctl_req *req);
json_t *rw_wgl_peer_del(struct rw_daemon *d, const struct rw_ctl_req *req);
json_t *rw_wgl_peer_list(struct rw_daemon *d);
/* The "vpn" object of `regwallctl status` (NULL when there is none). */
json_t *rw_wgl_status(struct rw_wg_live *l, const struct rw_policy *p);

/* The next free host address in vpn.address's prefix: not the network's
 * or the gateway's, not a peer's, not resting (retired until > now).
 * Pure, for the tests. */
int rw_wgl_next_address(const struct rw_vpn *vpn, const struct rw_wgl_retired *retired,
			size_t n_retired, long long now, struct rw_cidr *out);

#endif
