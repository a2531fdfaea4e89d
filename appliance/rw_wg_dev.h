/* A WireGuard device's configuration and read-back, the same for both
 * backends (kernel generic netlink: rw_wg_nl; userspace API socket:
 * rw_wg_uapi). One struct for both directions: a set fills what it wants
 * changed, a get fills what the device reports. */
#ifndef RW_WG_DEV_H
#define RW_WG_DEV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "rules/rw_policy.h"

/* Bounds on a read-back (a get is parsed from bytes another process
 * wrote): far above any regwall peer list, low enough that a runaway
 * reply cannot take the parent's memory. */
#define RW_WG_MAX_PEERS 65536
#define RW_WG_MAX_ALLOWED 1024 /* per peer */

struct rw_wg_peer {
	uint8_t public_key[32];
	struct rw_endpoint endpoint; /* family 0: none */
	struct rw_cidr *allowed;     /* set: the caller's; get: owned (rw_wg_device_free) */
	size_t n_allowed;
	uint16_t keepalive; /* persistent keepalive, seconds; 0 = off */
	/* set only */
	bool remove;          /* take this peer off the device */
	bool replace_allowed; /* the allowed IPs given replace the peer's */
	/* get only */
	int64_t last_handshake_sec; /* 0 = never */
	int64_t last_handshake_nsec;
	uint64_t rx_bytes, tx_bytes;
};

struct rw_wg_device {
	bool has_private_key;
	uint8_t private_key[32]; /* set only; a get wipes it after deriving public_key */
	bool has_public_key;     /* get: derived from the private key */
	uint8_t public_key[32];
	bool has_listen_port;
	uint16_t listen_port;
	bool replace_peers; /* set: peers not listed are removed */
	struct rw_wg_peer *peers;
	size_t n_peers;
};

/* Frees what a get allocated (peers and their allowed IPs) and wipes the
 * key bytes. Not for a set's struct, whose arrays are the caller's. */
void rw_wg_device_free(struct rw_wg_device *d);

#endif
