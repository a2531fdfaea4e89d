/* Kernel WireGuard: the generic-netlink family "wireguard" (uapi
 * linux/wireguard.h) and the rtnetlink request that creates a link of
 * kind "wireguard". Encoding and parsing are pure (buffers in, buffers
 * out) so they are tested against known bytes on machines without the
 * module; the I/O functions below them are thin.
 *
 * SET: one device may need several messages (a socket buffer caps each);
 * every message names the device again, WGDEVICE_F_REPLACE_PEERS only in
 * the first, a peer split across messages carries its flags, endpoint and
 * keepalive only in its first fragment (later ones: public key and more
 * allowed IPs, which WireGuard appends).
 * GET: a dump; a peer (and the device) can continue in the next message
 * and is coalesced by public key; NLM_F_DUMP_INTR means the device changed
 * during the dump, and the caller starts again. */
#ifndef RW_WG_NL_H
#define RW_WG_NL_H

#include <stddef.h>
#include <stdint.h>

#include "appliance/rw_wg_dev.h"

/* The messages of one SET, back to back in one buffer (each a whole
 * nlmsghdr, NLMSG_ALIGNed), for one sendmsg per message. */
struct rw_wg_nl_msgs {
	uint8_t *buf;
	size_t len;
	size_t n; /* messages */
};
void rw_wg_nl_msgs_free(struct rw_wg_nl_msgs *m);

/* WG_CMD_SET_DEVICE for dev on ifname, each message at most msg_max bytes
 * (at least 512), sequence numbers seq, seq+1, ... RW_ETOOBIG when one
 * peer's first fragment alone does not fit msg_max. */
int rw_wg_nl_build_set(const struct rw_wg_device *dev, const char *ifname, uint16_t family_id,
		       uint32_t seq, size_t msg_max, struct rw_wg_nl_msgs *out);

/* WG_CMD_GET_DEVICE dump request into buf (at least 64 bytes); its length. */
size_t rw_wg_nl_build_get(void *buf, size_t buf_len, const char *ifname, uint16_t family_id,
			  uint32_t seq);

/* RTM_NEWLINK creating ifname of kind "wireguard" (CREATE|EXCL|ACK). */
size_t rw_wg_nl_build_newlink(void *buf, size_t buf_len, const char *ifname, uint32_t seq);

/* CTRL_CMD_GETFAMILY for "wireguard". */
size_t rw_wg_nl_build_getfamily(void *buf, size_t buf_len, uint32_t seq);

/* Parsing a GET dump: feed each datagram; the state coalesces. */
struct rw_wg_nl_get {
	struct rw_wg_device dev; /* the result so far */
	size_t peer_cap, allowed_cap;
	int done;        /* NLMSG_DONE seen */
	int interrupted; /* NLM_F_DUMP_INTR seen: discard and dump again */
};
/* 0 = fed (check st->done), RW_EKERNEL (an error message or an error in
 * DONE; *kerr = errno), RW_EPROTO (malformed, why filled), RW_ETOOBIG,
 * RW_ENOMEM. On error the state is to be freed. */
int rw_wg_nl_get_feed(struct rw_wg_nl_get *st, const void *buf, size_t len, uint16_t family_id,
		      int *kerr, char *why, size_t why_len);
void rw_wg_nl_get_free(struct rw_wg_nl_get *st);

/* The family id from a CTRL_CMD_GETFAMILY reply datagram (0 if absent). */
int rw_wg_nl_parse_family(const void *buf, size_t len, uint16_t *family_id, int *kerr);

/* ---- I/O (root / CAP_NET_ADMIN, the caller's netns) ---- */
/* RW_ENOENT when the kernel has no WireGuard: link kind unknown
 * (EOPNOTSUPP) or no genl family. */
int rw_wg_nl_family(uint16_t *family_id, char *why, size_t why_len);
int rw_wg_nl_link_create(const char *ifname, char *why, size_t why_len);
int rw_wg_nl_set(const char *ifname, uint16_t family_id, const struct rw_wg_device *dev,
		 char *why, size_t why_len);
/* One request on a fresh netlink socket of proto, waiting for its ack
 * (RW_EKERNEL with *kerr = errno when refused). */
int rw_wg_nl_talk_ack(int proto, const void *req, size_t req_len, int *kerr);
int rw_wg_nl_get(const char *ifname, uint16_t family_id, struct rw_wg_device *out, char *why,
		 size_t why_len);

#endif
