/* The WireGuard cross-platform userspace API (wireguard-go's control
 * socket, /var/run/wireguard/IFACE.sock): a line protocol of key=value,
 * requests and replies each ended by an empty line, keys in lowercase hex.
 *
 *   set: "set=1\n" device keys, then per peer "public_key=..." and its
 *        keys, "\n"  ->  "errno=N\n\n" (wireguard-go sends -errno)
 *   get: "get=1\n\n" -> device keys, peers, "errno=0\n\n"
 *
 * The reply is bytes from another process: parsed bounded (line length,
 * peers, allowed IPs, reply size), every malformed line an error. */
#ifndef RW_WG_UAPI_H
#define RW_WG_UAPI_H

#include <stddef.h>

#include "appliance/rw_wg_dev.h"

#define RW_WG_UAPI_DIR "/var/run/wireguard"
#define RW_WG_UAPI_LINE_MAX 256        /* longest line we accept in a reply */
#define RW_WG_UAPI_REPLY_MAX (64u << 20) /* a whole get reply */

/* The set request for dev (heap, NUL-terminated; *len without the NUL).
 * Keys are written in the order the protocol needs: device keys, then
 * each peer's public_key followed by its keys. */
int rw_wg_uapi_format_set(const struct rw_wg_device *dev, char **out, size_t *len);

/* Parse a reply (get or set) of len bytes ending in the empty line. For a
 * get, out is filled (free with rw_wg_device_free; the private key is
 * turned into the public key and wiped); for a set pass out NULL: any
 * key but errno is then a protocol error. *wg_errno gets the absolute
 * errno value. Returns 0 (also when *wg_errno != 0: the exchange was
 * well-formed), RW_EPROTO / RW_ETOOBIG / RW_ENOMEM with why filled. */
int rw_wg_uapi_parse(const char *buf, size_t len, struct rw_wg_device *out, int *wg_errno,
		     char *why, size_t why_len);

/* The socket path of an interface ("/var/run/wireguard/IFACE.sock"). */
int rw_wg_uapi_path(const char *ifname, char *out, size_t out_len);

/* One exchange over the socket at path (connect, send, read to the empty
 * line; timeout_ms bounds each wait). set: dev as above; get: fills out.
 * A refused set (errno != 0) returns RW_EKERNEL with the errno in why. */
int rw_wg_uapi_set(const char *path, const struct rw_wg_device *dev, int timeout_ms, char *why,
		   size_t why_len);
int rw_wg_uapi_get(const char *path, struct rw_wg_device *out, int timeout_ms, char *why,
		   size_t why_len);

#endif
