/* The per-request policy decision of terminate mode: who is asking
 * (certificate identity, VPN peer, named network) and may they do this
 * OCI operation on this repository? Pure: no I/O, no heap, no clock.
 * Rate limiting is separate (fwd/rw_limit.h); the decision says which
 * requests count against it. The full table: docs/design/policy.md. */
#ifndef RW_DECIDE_H
#define RW_DECIDE_H

#include <stdbool.h>
#include <stdint.h>

#include "inspect/rw_oci.h"
#include "rules/rw_policy.h"

#define RW_WHO_NAME_MAX (RW_NAME_MAX + 8) /* "peer:" + name */

struct rw_who {
	const struct rw_identity *identity; /* certificate-matched config identity */
	const struct rw_peer *peer;         /* VPN peer owning the tunnel source address */
	const struct rw_network *network;   /* first named network containing the source */
	bool via_vpn;                       /* peer != NULL: arrived through the tunnel */
	/* The display and rate-limit name, by precedence identity > peer >
	 * network: "ci-bot", "peer:alice", "net:office", "anonymous". */
	char name[RW_WHO_NAME_MAX];
};

/*
 * Fill *out for a connection from addr (4 or 16 bytes, family AF_INET or
 * AF_INET6). on_vpn: the connection arrived on the WireGuard interface
 * (only then can the source be a peer: the same address arriving from
 * elsewhere is not the peer). cert_identity: the identity the client
 * certificate matched (rw_ident_find), or NULL. All three of
 * identity, peer and network are filled when they apply; the decision
 * combines them (see rw_decide).
 */
void rw_who_resolve(const struct rw_policy *p, int family, const uint8_t *addr, bool on_vpn,
		    const struct rw_identity *cert_identity, struct rw_who *out);

/*
 * The same with an index of p's VPN peer addresses (rules/rw_cidrset.h,
 * rw_cidrset_index_peers), built by the caller once per policy: the peer
 * is then found by binary search instead of a scan of every peer's
 * addresses. Where the index lives: struct rw_policy stays the loader's
 * plain output (no derived data in it), and the peers never change while
 * a policy lives (live changes touch networks only), so the holder of a
 * policy that resolves many connections (a worker) builds it next to the
 * policy and frees it with it. peers may be NULL, or fail
 * rw_cidrset_index_is_for(peers, p) (an index of another policy, or one
 * that could not be built): then the addresses are scanned, with the same
 * result. rw_who_resolve(...) is rw_who_resolve_ix(p, NULL, ...). No heap
 * either way. Networks are searched by binary search in both (each
 * network's prefixes are a CIDR-set view, rw_policy.h).
 */
struct rw_cidrset_index;
void rw_who_resolve_ix(const struct rw_policy *p, const struct rw_cidrset_index *peers,
		       int family, const uint8_t *addr, bool on_vpn,
		       const struct rw_identity *cert_identity, struct rw_who *out);

/* The VPN peer owning addr (4 or 16 bytes), or NULL; NULL also when the
 * policy has no vpn section. peers as for rw_who_resolve_ix (NULL: scan).
 * Does not ask whether the connection came through the tunnel: callers
 * do. */
const struct rw_peer *rw_decide_peer_of(const struct rw_policy *p,
					const struct rw_cidrset_index *peers, int family,
					const uint8_t *addr);

enum rw_verdict {
	RW_VERDICT_ALLOW = 0,
	RW_VERDICT_DENY,
};

#define RW_DECIDE_MSG_MAX 640 /* room for the longest name(s) in full */

struct rw_decision {
	enum rw_verdict verdict;
	int status;          /* 200 allow; 401 nobody; 403 not allowed */
	const char *code;    /* NULL on allow; "UNAUTHORIZED", "DENIED" */
	const char *reason;  /* log word: "allow", "no_identity", "no_role",
			      * "push_requires_vpn", "unknown_operation",
			      * "mount_source_denied", "catalog_needs_pull_all";
			      * rw_decide_body: "content_type_duplicate",
			      * "content_type_invalid", "form_body",
			      * "upload_start_body" */
	char message[RW_DECIDE_MSG_MAX]; /* for the client ("" on allow) */
	bool counts_push_op; /* take a push-operation token (rw_limit_op) */
	bool meters_upload;  /* pace the request body (rw_limit_bytes) */
};

/*
 * Decide one classified request. Rules (effective roles = union of the
 * certificate identity's and the VPN peer's roles; a source in a named
 * network may in addition pull every repository; credentials only ever
 * add rights):
 *   nobody (no identity, peer or network) -> 401 UNAUTHORIZED
 *   base /v2/        -> anyone identified
 *   pull ops         -> pull:<glob> on the repository, or network member
 *   catalog          -> a pull role with a match-all glob, or network member
 * What each operation needs, and the limiter flags it sets when allowed,
 * come from the operation table (inspect/rw_oci.h, rw_oci_op_info):
 *   push ops (upload start/chunk/complete/status/cancel, manifest PUT)
 *                    -> pull AND push on the repository, and via the VPN
 *                       when policy.push_requires_vpn
 *   mount            -> as push on the target, plus pull on "from"
 *   delete ops       -> delete on the repository, VPN rule as for push
 *   unknown          -> 403 DENIED (unknown_operation)
 * Returns out->verdict (also on NULL arguments: DENY, 403).
 */
enum rw_verdict rw_decide(const struct rw_policy *p, const struct rw_who *who,
			  const struct rw_oci_req *req, struct rw_decision *out);

/*
 * The rest of the decision, on what the registry reads besides the request
 * target (fwd/rw_decide_body.c): distribution reads mount, from, digest and
 * _state with Go's FormValue, which also parses form bodies. Call after
 * rw_decide allowed, with the parsed head and its classification. Refuses,
 * overwriting *d (verdict, status, code, reason, message; no limiter flags):
 *   two or more Content-Type fields      400 UNSUPPORTED content_type_duplicate
 *   a Content-Type byte >= 0x80          400 UNSUPPORTED content_type_invalid
 *   "urlencoded", "multipart" or "form-data" anywhere in Content-Type
 *                                        403 DENIED form_body
 *   a body (chunked, or Content-Length > 0) on a mount, or on an upload
 *   start without ?digest=               403 DENIED upload_start_body
 * on any request (every endpoint with a repository reaches FormValue in
 * distribution's authorization). Otherwise returns ALLOW and leaves *d as
 * it was.
 */
enum rw_verdict rw_decide_body(const struct rw_http_req *http, const struct rw_oci_req *req,
			       struct rw_decision *d);

/* The workers' second line, used by the workers (fwd/rw_fwd.c,
 * rw_fwd_admit) and by explain alike: a source is admitted when one of
 * the listener's allow_from networks holds it, or the listener allows
 * vpn, a VPN peer owns it and its SYN came in on the VPN interface.
 * *network: the first allowing network's name, "vpn", or NULL when
 * refused (event reason "not_allowed_l7"). Networks are searched by
 * binary search (their prefixes are sorted and disjoint, rw_policy.h); the
 * VPN peers by rw_decide_peer_of without an index.
 * on_vpn(arg) says whether the SYN came in on the VPN interface; it is
 * asked only for a VPN peer's address outside every allowing network (a
 * NULL on_vpn: not on the VPN). addr: 4 (AF_INET) or 16 bytes. */
bool rw_decide_source_fn(const struct rw_policy *p, const struct rw_listener *l, int family,
			 const uint8_t *addr, bool (*on_vpn)(void *arg), void *arg,
			 const char **network);
/* The same with the peers' index (rw_cidrset_index_peers over p; NULL or
 * one not built from p: a scan), as the workers call it per connection. */
bool rw_decide_source_ix(const struct rw_policy *p, const struct rw_cidrset_index *peers,
			 const struct rw_listener *l, int family, const uint8_t *addr,
			 bool (*on_vpn)(void *arg), void *arg, const char **network);
/* The same with the interface already known (explain, tests). */
bool rw_decide_source(const struct rw_policy *p, const struct rw_listener *l, int family,
		      const uint8_t *addr, bool on_vpn, const char **network);
/* Does one of net's prefixes hold addr (binary search, as above)? */
bool rw_decide_net_has(const struct rw_network *net, int family, const uint8_t *addr);

/* ---- explain (regwallctl explain): the same decisions with what made
 * them. Not on the data path: rw_decide stays as it is, and these call it
 * or repeat its lookups. ---- */

#define RW_DECIDE_TRACE_LINES 4
#define RW_DECIDE_TRACE_LEN 256

/* Which credential gave (or would have had to give) each right the
 * operation needs, one line each: "pull on team-a/app: network office",
 * "push on team-a/app: identity ci-bot role push:team-a/...", "push on x:
 * missing", "VPN: peer alice". */
struct rw_decide_trace {
	const char *need; /* "nothing (unknown operation)", "identified", "pull",
			   * "pull on everything", "push", "mount", "delete" */
	char lines[RW_DECIDE_TRACE_LINES][RW_DECIDE_TRACE_LEN];
	size_t n_lines;
};

/* rw_decide, then the trace. Same verdict and *out as rw_decide. */
enum rw_verdict rw_decide_explain(const struct rw_policy *p, const struct rw_who *who,
				  const struct rw_oci_req *req, struct rw_decision *out,
				  struct rw_decide_trace *tr);

#endif
