/* regwalld's WireGuard interface, whichever backend runs it.
 *
 * Backend: the kernel's when it has WireGuard (a link of kind "wireguard"
 * can be created and the "wireguard" genl family exists), else
 * wireguard-go as a supervised child (rw_wg_go). Above that, one model:
 * the interface's private key (vpn.private_key_file, created 0600 at the
 * first start), its address (vpn.address) and listen port, and the peers
 * (one entry per VPN peer: its key and tunnel addresses as allowed IPs,
 * so WireGuard's cryptokey routing binds each source address to one key).
 *
 * Changes are sent as a difference: peers that went are removed, the
 * others are (re)sent with replace_allowed_ips, which keeps their
 * sessions. A restarted wireguard-go gets the whole configuration again
 * (replace_peers) after its address and up state. */
#ifndef RW_WG_H
#define RW_WG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "appliance/rw_backoff.h"
#include "appliance/rw_wg_dev.h"
#include "appliance/rw_wg_go.h"
#include "rules/rw_policy.h"

enum rw_wg_backend {
	RW_WG_NONE = 0,
	RW_WG_KERNEL,
	RW_WG_USERSPACE,
};

struct rw_wg {
	char ifname[16];
	enum rw_wg_backend backend;
	uint16_t family_id; /* kernel */
	struct rw_cidr address;
	uint16_t listen_port;
	uint8_t private_key[32];
	uint8_t public_key[32];
	bool key_created; /* the key file was written by this start */
	struct rw_wg_peer *peers; /* what the device should hold (owned) */
	size_t n_peers;
	struct rw_wg_go go;
	struct rw_backoff bo;
	long long restart_at_ms; /* 0: none due */
	unsigned restarts;       /* wireguard-go restarts since start */
	bool degraded;           /* the last restart or apply failed; retried */
};

/* Key, backend, interface, address, up, listen port, and the peers of
 * vpn. why says what failed. */
int rw_wg_open(struct rw_wg *w, const struct rw_vpn *vpn, char *why, size_t why_len);
/* The peers the device should hold now (the policy's: config and live). */
int rw_wg_set_peers(struct rw_wg *w, const struct rw_peer *peers, size_t n, char *why,
		    size_t why_len);
/* Supervision, from the parent's tick: a dead wireguard-go is restarted
 * (rw_backoff: at once after a stable run, then 250 ms, 500 ms, ...) and
 * configured again. Logs to stderr. */
void rw_wg_tick(struct rw_wg *w, long long now_ms);
/* Read back what the device holds (handshakes, bytes, endpoints). */
int rw_wg_get(struct rw_wg *w, struct rw_wg_device *out, char *why, size_t why_len);
void rw_wg_close(struct rw_wg *w);
const char *rw_wg_backend_name(enum rw_wg_backend b);

#endif
