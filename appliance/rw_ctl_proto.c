/* Validation of control-socket requests (untrusted bytes from local
 * clients): JSON decoded by jansson with duplicate keys refused, then every
 * member checked against what the command allows. */
#include <jansson.h>
#include <sys/socket.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "appliance/rw_ctl.h"
#include "appliance/rw_ctl_proto.h"
#include "appliance/rw_units.h"
#include "appliance/rw_wg_ctl.h"
#include "inspect/rw_cert_dn.h"
#include "base/rw_err.h"
#include "rules/rw_cidr.h"

static const char *const rw_ctl_names[] = {
	[RW_CTL_STATUS] = "status",
	[RW_CTL_RELOAD] = "reload",
	[RW_CTL_NET_ADD] = "network add",
	[RW_CTL_NET_DEL] = "network del",
	[RW_CTL_NET_LIST] = "network list",
	[RW_CTL_BAN_ADD] = "ban add",
	[RW_CTL_BAN_DEL] = "ban del",
	[RW_CTL_BAN_LIST] = "ban list",
	[RW_CTL_COUNTERS] = "counters",
	[RW_CTL_EXPLAIN] = "explain",
	[RW_CTL_LOG_ROTATE] = "log rotate",
	[RW_CTL_PEER_ADD] = "peer add",
	[RW_CTL_PEER_DEL] = "peer del",
	[RW_CTL_PEER_LIST] = "peer list",
};

#define RW_CTL_NCMDS (sizeof(rw_ctl_names) / sizeof(rw_ctl_names[0]))

const char *rw_ctl_cmd_str(enum rw_ctl_cmd cmd)
{
	return (size_t)cmd < RW_CTL_NCMDS ? rw_ctl_names[cmd] : "?";
}

/* Which members each command takes besides "cmd". */
enum {
	RW_CTL_M_NETWORK = 1,
	RW_CTL_M_CIDRS = 2,
	RW_CTL_M_ADDRESS = 4,
	RW_CTL_M_TIMEOUT = 8,
	RW_CTL_M_REASON = 16,
	RW_CTL_M_EXPLAIN = 32, /* listener, src, iif, sni, cert_subject, method, path */
	RW_CTL_M_PEER = 64,    /* peer, roles, public_key (rw_wg_ctl.c) */
};

static const unsigned rw_ctl_members[] = {
	[RW_CTL_STATUS] = 0,
	[RW_CTL_RELOAD] = 0,
	[RW_CTL_NET_ADD] = RW_CTL_M_NETWORK | RW_CTL_M_CIDRS,
	[RW_CTL_NET_DEL] = RW_CTL_M_NETWORK | RW_CTL_M_CIDRS,
	[RW_CTL_NET_LIST] = RW_CTL_M_NETWORK,
	[RW_CTL_BAN_ADD] = RW_CTL_M_ADDRESS | RW_CTL_M_TIMEOUT | RW_CTL_M_REASON,
	[RW_CTL_BAN_DEL] = RW_CTL_M_ADDRESS,
	[RW_CTL_BAN_LIST] = 0,
	[RW_CTL_COUNTERS] = 0,
	[RW_CTL_EXPLAIN] = RW_CTL_M_EXPLAIN,
	[RW_CTL_LOG_ROTATE] = 0,
	[RW_CTL_PEER_ADD] = RW_CTL_M_PEER | RW_CTL_M_ADDRESS,
	[RW_CTL_PEER_DEL] = RW_CTL_M_PEER,
	[RW_CTL_PEER_LIST] = 0,
};

__attribute__((format(printf, 3, 4)))
static int rw_ctl_fail(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return RW_EINVAL;
}

static int rw_ctl_name_ok(const char *s)
{
	size_t n = strlen(s);
	if (n == 0 || n >= RW_NAME_MAX || !(s[0] >= 'a' && s[0] <= 'z'))
		return 0;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-'))
			return 0;
	}
	return 1;
}

static int rw_ctl_parse_cidrs(json_t *arr, struct rw_ctl_req *req, char *err, size_t errlen)
{
	if (!json_is_array(arr) || json_array_size(arr) == 0)
		return rw_ctl_fail(err, errlen, "%s", "\"cidrs\" must be a non-empty array of strings");
	if (json_array_size(arr) > RW_CTL_MAX_CIDRS)
		return rw_ctl_fail(err, errlen, "%s", "too many cidrs in one request (max 1024)");
	size_t i;
	json_t *v;
	json_array_foreach(arr, i, v) {
		const char *s = json_string_value(v);
		if (!s)
			return rw_ctl_fail(err, errlen, "%s", "\"cidrs\" must hold strings");
		int r = rw_cidr_parse(s, &req->cidrs[i], 0);
		if (r) {
			/* Tell host bits apart: the admin most likely mistyped a prefix. */
			struct rw_cidr loose;
			char why[160];
			if (rw_cidr_mapped_msg(s, why, sizeof(why)))
				return rw_ctl_fail(err, errlen, "%.64s: %s", s, why);
			if (rw_cidr_parse(s, &loose, 1) == 0)
				return rw_ctl_fail(err, errlen, "\"%s\": host bits set in prefix", s);
			return rw_ctl_fail(err, errlen, "\"%s\": not an IPv4/IPv6 address or prefix", s);
		}
	}
	req->n_cidrs = json_array_size(arr);
	return 0;
}

/* bytes of s all in [A-Za-z0-9] or extra; length 1..max */
static int rw_ctl_chars_ok(const char *s, size_t max, const char *extra)
{
	size_t n = strlen(s);
	if (n == 0 || n > max)
		return 0;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      (c && strchr(extra, c))))
			return 0;
	}
	return 1;
}

/* One member of an explain request. 1 = handled, 0 = not an explain
 * member, RW_EINVAL = refused (err set). */
static int rw_ctl_explain_member(const char *key, json_t *val, struct rw_ctl_req *req,
				 char *err, size_t errlen)
{
	struct rw_ctl_explain *ex = &req->ex;
	const char *s = json_string_value(val);
	if (strcmp(key, "listener") == 0) {
		/* the names the compiler accepts (rw_nft_check_names) */
		if (!s || !rw_ctl_chars_ok(s, RW_NAME_MAX - 1, "_-."))
			return rw_ctl_fail(err, errlen, "%s", "\"listener\" must be a listener name");
		memcpy(ex->listener, s, strlen(s) + 1);
	} else if (strcmp(key, "src") == 0) {
		char why[160];
		if (s && rw_cidr_mapped_msg(s, why, sizeof(why)))
			return rw_ctl_fail(err, errlen, "%.64s: %s", s, why);
		if (!s || rw_cidr_parse(s, &req->cidrs[0], 0) ||
		    req->cidrs[0].prefix != (req->cidrs[0].family == AF_INET ? 32 : 128))
			return rw_ctl_fail(err, errlen, "%s", "\"src\" must be one IPv4 or IPv6 address");
		req->n_cidrs = 1;
	} else if (strcmp(key, "iif") == 0) {
		if (!s || !rw_ctl_chars_ok(s, RW_CTL_IFNAME_MAX - 1, "_-.@"))
			return rw_ctl_fail(err, errlen, "%s",
					   "\"iif\" must be an interface name (1..15 of A-Z a-z 0-9 _ - . @)");
		memcpy(ex->iif, s, strlen(s) + 1);
	} else if (strcmp(key, "sni") == 0) {
		/* what the ClientHello parser keeps: a host name, lower-cased */
		if (!s || !rw_ctl_chars_ok(s, RW_CTL_SNI_MAX, "_-."))
			return rw_ctl_fail(err, errlen, "%s",
					   "\"sni\" must be a host name (1..253 of A-Z a-z 0-9 _ - .)");
		size_t n = strlen(s);
		for (size_t i = 0; i <= n; i++)
			ex->sni[i] = (char)(s[i] >= 'A' && s[i] <= 'Z' ? s[i] + 32 : s[i]);
	} else if (strcmp(key, "cert_subject") == 0) {
		/* the config's normalisation: the name, not the spelling */
		char why[160] = "";
		if (!s || strlen(s) >= RW_CTL_DN_MAX)
			return rw_ctl_fail(err, errlen, "\"cert_subject\" must be a DN of at most %d bytes",
					   RW_CTL_DN_MAX - 1);
		int r = rw_cert_dn_normalize(s, ex->cert_subject, sizeof(ex->cert_subject), why,
					     sizeof(why));
		if (r)
			return rw_ctl_fail(err, errlen, "\"cert_subject\": %s",
					   r == RW_ETOOBIG ? "too long once normalised" : why);
	} else if (strcmp(key, "method") == 0) {
		if (!s || !rw_ctl_chars_ok(s, RW_CTL_METHOD_MAX, ""))
			return rw_ctl_fail(err, errlen, "%s", "\"method\" must be an HTTP method (1..16 letters)");
		for (size_t i = 0; s[i]; i++)
			if (s[i] < 'A' || s[i] > 'Z')
				return rw_ctl_fail(err, errlen, "%s",
						   "\"method\" must be an HTTP method in capitals");
		memcpy(ex->method, s, strlen(s) + 1);
	} else if (strcmp(key, "path") == 0) {
		size_t n = s ? strlen(s) : 0;
		int ok = s && n >= 1 && n <= RW_CTL_PATH_MAX && s[0] == '/';
		for (size_t i = 0; ok && i < n; i++)
			ok = (unsigned char)s[i] > 0x20 && (unsigned char)s[i] < 0x7f;
		if (!ok)
			return rw_ctl_fail(err, errlen,
					   "\"path\" must be a request target: '/' then at most %d "
					   "visible ASCII characters",
					   RW_CTL_PATH_MAX - 1);
		memcpy(ex->path, s, n + 1);
	} else {
		return 0;
	}
	return 1;
}

int rw_ctl_parse_request(const char *line, size_t len, struct rw_ctl_req *req, char *err,
			 size_t errlen)
{
	json_error_t jerr;
	memset(req, 0, sizeof(*req));
	if (len >= RW_CTL_LINE_MAX)
		return rw_ctl_fail(err, errlen, "%s", "request too long");
	json_t *root = json_loadb(line, len, JSON_REJECT_DUPLICATES, &jerr);
	if (!root)
		return rw_ctl_fail(err, errlen, "bad JSON: %s", jerr.text);
	int r = RW_EINVAL;
	if (!json_is_object(root)) {
		rw_ctl_fail(err, errlen, "%s", "request must be a JSON object");
		goto out;
	}
	const char *cmd = json_string_value(json_object_get(root, "cmd"));
	if (!cmd) {
		rw_ctl_fail(err, errlen, "%s", "missing \"cmd\"");
		goto out;
	}
	size_t c;
	for (c = 0; c < RW_CTL_NCMDS; c++)
		if (strcmp(cmd, rw_ctl_names[c]) == 0)
			break;
	if (c == RW_CTL_NCMDS) {
		rw_ctl_fail(err, errlen, "unknown command \"%.64s\"", cmd);
		goto out;
	}
	req->cmd = (enum rw_ctl_cmd)c;
	unsigned allowed = rw_ctl_members[c];

	const char *key;
	json_t *val;
	json_object_foreach(root, key, val) {
		if (strcmp(key, "cmd") == 0)
			continue;
		if (allowed & RW_CTL_M_EXPLAIN) {
			int e = rw_ctl_explain_member(key, val, req, err, errlen);
			if (e < 0)
				goto out;
			if (e > 0)
				continue;
		}
		if (allowed & RW_CTL_M_PEER) {
			int e = rw_wg_ctl_member(req->cmd == RW_CTL_PEER_ADD, key, val, &req->peer, err,
						 errlen);
			if (e < 0)
				goto out;
			if (e > 0)
				continue;
		}
		if (strcmp(key, "network") == 0 && (allowed & RW_CTL_M_NETWORK)) {
			const char *s = json_string_value(val);
			if (!s || !rw_ctl_name_ok(s)) {
				rw_ctl_fail(err, errlen, "%s", "\"network\" must be a network name");
				goto out;
			}
			memcpy(req->network, s, strlen(s) + 1);
		} else if (strcmp(key, "cidrs") == 0 && (allowed & RW_CTL_M_CIDRS)) {
			if (rw_ctl_parse_cidrs(val, req, err, errlen))
				goto out;
		} else if (strcmp(key, "address") == 0 && (allowed & RW_CTL_M_ADDRESS)) {
			const char *s = json_string_value(val);
			char why[160];
			if (s && rw_cidr_mapped_msg(s, why, sizeof(why))) {
				rw_ctl_fail(err, errlen, "%.64s: %s", s, why);
				goto out;
			}
			/* one address, or a prefix (a ban of a range: banp_ sets) */
			if (!s || rw_cidr_parse(s, &req->cidrs[0], 0) || req->cidrs[0].prefix == 0) {
				rw_ctl_fail(err, errlen, "%s",
					    "\"address\" must be one IPv4 or IPv6 address, or a prefix "
					    "without host bits (203.0.113.0/28)");
				goto out;
			}
			req->n_cidrs = 1;
		} else if (strcmp(key, "timeout") == 0 && (allowed & RW_CTL_M_TIMEOUT)) {
			const char *s = json_string_value(val);
			if (!s || rw_duration_parse_ms(s, &req->timeout_ms) == RW_EINVAL) {
				rw_ctl_fail(err, errlen, "%s",
					    "\"timeout\" must be a duration like 30s, 10m, 1h");
				goto out;
			}
			/* the limit of the config's ban_for, with its words */
			if (req->timeout_ms < RW_BAN_FOR_MIN_MS || req->timeout_ms > RW_BAN_FOR_MAX_MS) {
				rw_ctl_fail(err, errlen, "\"timeout\" %.32s: must be between %s", s,
					    RW_BAN_FOR_RANGE);
				goto out;
			}
		} else if (strcmp(key, "reason") == 0 && (allowed & RW_CTL_M_REASON)) {
			/* kept in the kernel as the element's comment, shown by
			 * `nft list set` and `ban list`: bounded and plain */
			const char *s = json_string_value(val);
			if (!s || !rw_nft_ban_reason_ok(s)) {
				rw_ctl_fail(err, errlen,
					    "\"reason\" must be 1..%d printable ASCII characters "
					    "without '\"' or '\\'",
					    RW_NFT_BAN_REASON_MAX);
				goto out;
			}
			memcpy(req->reason, s, strlen(s) + 1);
		} else {
			rw_ctl_fail(err, errlen, "unexpected member \"%.64s\"", key);
			goto out;
		}
	}
	/* "network list" without a network lists them all */
	if ((allowed & RW_CTL_M_NETWORK) && !req->network[0] && req->cmd != RW_CTL_NET_LIST) {
		rw_ctl_fail(err, errlen, "%s", "missing \"network\"");
		goto out;
	}
	if ((allowed & RW_CTL_M_PEER) &&
	    rw_wg_ctl_check(req->cmd == RW_CTL_PEER_ADD, &req->peer, err, errlen))
		goto out;
	if (((allowed & RW_CTL_M_CIDRS) || (allowed & RW_CTL_M_ADDRESS)) && req->n_cidrs == 0 &&
	    !(allowed & RW_CTL_M_PEER)) { /* peer add: the next free address */
		rw_ctl_fail(err, errlen, "%s",
			    (allowed & RW_CTL_M_CIDRS) ? "missing \"cidrs\"" : "missing \"address\"");
		goto out;
	}
	if (allowed & RW_CTL_M_EXPLAIN) {
		const char *miss = !req->ex.listener[0] ? "missing \"listener\""
				   : req->n_cidrs == 0    ? "missing \"src\""
				   : !req->ex.method[0] != !req->ex.path[0]
					   ? "\"method\" and \"path\" go together"
					   : NULL;
		if (miss) {
			rw_ctl_fail(err, errlen, "%s", miss);
			goto out;
		}
	}
	r = 0;
out:
	json_decref(root);
	return r;
}

/* Ranges no ban may touch, with why. */
static const struct {
	const char *cidr, *why;
} rw_ctl_unbannable[] = {
	{ "0.0.0.0/32", "the unspecified address is never a client's source" },
	{ "::/128", "the unspecified address is never a client's source" },
	{ "127.0.0.0/8", "loopback addresses are this host itself" },
	{ "::1/128", "the loopback address is this host itself" },
	{ "224.0.0.0/4", "multicast addresses are never a client's source" },
	{ "ff00::/8", "multicast addresses are never a client's source" },
	{ "255.255.255.255/32", "the broadcast address is never a client's source" },
};

int rw_ctl_ban_check(const struct rw_cidr *ban, const struct rw_endpoint *upstream,
		     const struct rw_ctl_host_addr *own, size_t n_own, char *err, size_t errlen)
{
	char b[64], o[64];
	rw_cidr_format(ban, b, sizeof(b));
	if (upstream && upstream->family) {
		struct rw_cidr up = { .family = upstream->family,
				      .prefix = upstream->family == AF_INET ? 32 : 128 };
		memcpy(up.addr, upstream->addr, sizeof(up.addr));
		if (rw_cidr_overlap(ban, &up)) {
			rw_cidr_format(&up, o, sizeof(o));
			return rw_ctl_fail(err, errlen,
					   "refusing to ban %s: it covers the registry upstream %s "
					   "(registry.upstream); every request would time out with 502",
					   b, o);
		}
	}
	for (size_t i = 0; i < sizeof(rw_ctl_unbannable) / sizeof(rw_ctl_unbannable[0]); i++) {
		struct rw_cidr r;
		if (rw_cidr_parse(rw_ctl_unbannable[i].cidr, &r, 0))
			continue; /* cannot happen: the table is ours */
		if (rw_cidr_overlap(ban, &r))
			return rw_ctl_fail(err, errlen, "refusing to ban %s: it %s %s (%s)", b,
					   ban->prefix > r.prefix ? "is inside" : "covers",
					   rw_ctl_unbannable[i].cidr, rw_ctl_unbannable[i].why);
	}
	for (size_t i = 0; i < n_own; i++) {
		if (!rw_cidr_overlap(ban, &own[i].addr))
			continue;
		rw_cidr_format(&own[i].addr, o, sizeof(o));
		return rw_ctl_fail(err, errlen,
				   "refusing to ban %s: it covers %s, an address of this host (%.16s); "
				   "the appliance would cut itself off",
				   b, o, own[i].ifname);
	}
	return 0;
}

enum rw_ctl_ban_match rw_ctl_ban_match(const struct rw_cidr *c, const struct rw_cidr *have,
				       size_t n, size_t *at)
{
	/* A scan, not a binary search (rules/rw_cidrset.h): have is what the
	 * kernel listed for this one request, in its order, so reading it was
	 * O(n) already and sorting it would cost more than the scan; and the
	 * reply names the first overlapping prefix in that order. */
	enum rw_ctl_ban_match m = RW_CTL_BAN_NONE;
	for (size_t i = 0; i < n; i++) {
		if (!rw_cidr_overlap(c, &have[i]))
			continue;
		if (have[i].prefix == c->prefix) { /* overlapping and as long: the same */
			*at = i;
			return RW_CTL_BAN_EXACT;
		}
		if (m == RW_CTL_BAN_NONE) {
			*at = i;
			m = RW_CTL_BAN_OVERLAP;
		}
	}
	return m;
}
