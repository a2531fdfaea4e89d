/* The control socket protocol between regwallctl and regwalld.
 *
 * Wire format: a unix stream socket; each request is ONE line of JSON
 * (at most RW_CTL_LINE_MAX bytes including the '\n'), answered by one line
 * of JSON. Requests:
 *   {"cmd":"status"}
 *   {"cmd":"reload"}
 *   {"cmd":"network add","network":"office","cidrs":["203.0.113.7/32",...]}
 *   {"cmd":"network del","network":"office","cidrs":[...]}
 *   {"cmd":"network list","network":"office"}   ("network" optional: all)
 *   {"cmd":"ban add","address":"203.0.113.9","timeout":"10m","reason":"scanner"}
 *                                 (timeout and reason optional; a reason is
 *                                 1..64 printable ASCII bytes, no '"' or '\\')
 *   {"cmd":"ban del","address":"203.0.113.9"}
 *   {"cmd":"ban list"}
 *   {"cmd":"counters"}
 *   {"cmd":"peer add","peer":"alice","roles":["push:team-a/x"],
 *    "public_key":"<base64>","address":"192.0.2.2"}  (key and address optional)
 *   {"cmd":"peer del","peer":"alice"}
 *   {"cmd":"peer list"}
 *   {"cmd":"explain","listener":"https","src":"203.0.113.10","iif":"wg0",
 *    "sni":"registry.example.test","cert_subject":"CN=ci-bot,O=Example",
 *    "method":"PUT","path":"/v2/team-a/app/manifests/1.0"}
 *                                 (listener and src required; method and
 *                                 path together; the rest optional)
 * Answers: {"ok":true, ...command data...} or {"ok":false,"error":"..."};
 * ban add answers {"ok":true,"banned":"203.0.113.9/32","timeout_ms":600000},
 * ban del {"ok":true,"unbanned":"203.0.113.9/32"}. A line of
 * RW_CTL_LINE_MAX bytes or more is answered with
 * {"ok":false,"error":"request line longer than 65536 bytes"}, then closed.
 * The request bytes are untrusted (any local user allowed by the socket's
 * mode may write them): rw_ctl_parse_request validates everything into a
 * fixed struct before the daemon acts. */
#ifndef RW_CTL_H
#define RW_CTL_H

#include <stddef.h>
#include <stdint.h>

#include "rules/rw_nft.h"
#include "rules/rw_policy.h"

#define RW_CTL_LINE_MAX 65536
#define RW_CTL_MAX_CIDRS 1024

enum rw_ctl_cmd {
	RW_CTL_STATUS = 0,
	RW_CTL_RELOAD,
	RW_CTL_NET_ADD,
	RW_CTL_NET_DEL,
	RW_CTL_NET_LIST,
	RW_CTL_BAN_ADD,
	RW_CTL_BAN_DEL,
	RW_CTL_BAN_LIST,
	RW_CTL_COUNTERS,
	RW_CTL_EXPLAIN,
	RW_CTL_LOG_ROTATE,
	RW_CTL_PEER_ADD, /* VPN peers: rw_wg_ctl.c parses, rw_wg_peers.c runs */
	RW_CTL_PEER_DEL,
	RW_CTL_PEER_LIST,
};

#define RW_CTL_IFNAME_MAX 16     /* IFNAMSIZ */
#define RW_CTL_SNI_MAX 253       /* a DNS name */
#define RW_CTL_DN_MAX 512        /* = RW_CERT_DN_MAX */
#define RW_CTL_METHOD_MAX 16
#define RW_CTL_PATH_MAX 2048

/* explain: what a connection and request would meet (rw_daemon_explain.c) */
struct rw_ctl_explain {
	char listener[RW_NAME_MAX];
	char iif[RW_CTL_IFNAME_MAX];          /* "" = not given */
	char sni[RW_CTL_SNI_MAX + 1];         /* "" = not given; lower-cased */
	char cert_subject[RW_CTL_DN_MAX];     /* RFC 2253, normalised; "" = none */
	char method[RW_CTL_METHOD_MAX + 1];   /* "" = no request */
	char path[RW_CTL_PATH_MAX + 1];
};

/* peer add / del (rw_wg_ctl.c): the address, when given, in cidrs[0] */
#define RW_CTL_PEER_ROLES_MAX 32
#define RW_CTL_PEER_ROLE_LEN 160
struct rw_ctl_peer {
	char name[RW_NAME_MAX];
	char roles[RW_CTL_PEER_ROLES_MAX][RW_CTL_PEER_ROLE_LEN];
	size_t n_roles;
	uint8_t public_key[32];
	int has_key; /* 0: regwalld generates the client's key pair */
};

struct rw_ctl_req {
	enum rw_ctl_cmd cmd;
	char network[RW_NAME_MAX];
	struct rw_cidr cidrs[RW_CTL_MAX_CIDRS];
	size_t n_cidrs;
	uint64_t timeout_ms; /* ban add; 0 = the set's default */
	char reason[RW_NFT_BAN_REASON_MAX + 1]; /* ban add; "" = none given */
	struct rw_ctl_explain ex; /* explain; src in cidrs[0] */
	struct rw_ctl_peer peer;  /* peer add / del */
};

/* Parse one request line (without the '\n'). Returns 0, or RW_EINVAL with
 * a message for the client in err. */
int rw_ctl_parse_request(const char *line, size_t len, struct rw_ctl_req *req, char *err,
			 size_t errlen);

/* The command names as they appear on the wire ("network add"). */
const char *rw_ctl_cmd_str(enum rw_ctl_cmd cmd);

#endif
