/* Terminate mode, the pure parts: who is this connection, may it do this
 * request, and the request head as the upstream sees it. No I/O. */
#include "fwd/rw_term.h"

#include <fnmatch.h>
#include <stdio.h>
#include <string.h>

#include "inspect/rw_cert.h"
#include "inspect/rw_err.h"
#include "rules/rw_cidr.h"

void rw_term_who_resolve(const struct rw_policy *p, X509 *cert, uint8_t family,
			 const uint8_t addr[16], struct rw_term_who *out)
{
	memset(out, 0, sizeof(*out));
	bool vpn = false;
	const struct rw_peer *peer = NULL;
	for (size_t i = 0; p->vpn.enabled && !peer && i < p->vpn.n_peers; i++)
		for (size_t j = 0; j < p->vpn.peers[i].n_addresses; j++)
			if (rw_cidr_contains(&p->vpn.peers[i].addresses[j], family, addr) == 1) {
				peer = &p->vpn.peers[i];
				break;
			}
	vpn = peer != NULL;
	if (cert) {
		/* A certificate that verified but maps to no identity falls
		 * through to the address: it proves nothing the policy names. */
		struct rw_cert_id id;
		if (rw_cert_identity(cert, &id) == 0) {
			const struct rw_identity *ident =
				rw_cert_find_identity(&id, p->identities, p->n_identities);
			if (ident) {
				snprintf(out->name, sizeof(out->name), "%s", ident->name);
				out->roles = ident->roles;
				out->n_roles = ident->n_roles;
				out->via_vpn = vpn;
				return;
			}
		}
	}
	if (peer) {
		snprintf(out->name, sizeof(out->name), "peer:%s", peer->name);
		out->roles = peer->roles;
		out->n_roles = peer->n_roles;
		out->via_vpn = true;
		return;
	}
	for (size_t i = 0; i < p->n_networks; i++)
		for (size_t j = 0; j < p->networks[i].n_cidrs; j++)
			if (rw_cidr_contains(&p->networks[i].cidrs[j], family, addr) == 1) {
				snprintf(out->name, sizeof(out->name), "net:%s", p->networks[i].name);
				out->network_pull = true;
				return;
			}
	snprintf(out->name, sizeof(out->name), "anonymous");
}

/* Globs match across slashes: "team-a/\*" covers "team-a/app/x", as a registry
 * namespace is usually meant. */
static bool rw_term_has_role(const struct rw_term_who *who, enum rw_op_class op,
			     const char *repo)
{
	if (op == RW_ROLE_PULL && who->network_pull)
		return true;
	for (size_t i = 0; i < who->n_roles; i++)
		if (who->roles[i].op == op && fnmatch(who->roles[i].glob, repo, 0) == 0)
			return true;
	return false;
}

const char *rw_term_policy(const struct rw_policy *p, const struct rw_term_who *who,
			   const struct rw_oci_req *oci, char *msg, size_t msglen)
{
	switch (oci->cls) {
	case RW_OCI_CLASS_UNKNOWN:
		if (oci->op == RW_OCI_OP_BASE)
			return NULL;
		snprintf(msg, msglen, "request not recognised as a registry operation (%s)",
			 oci->why ? oci->why : "unknown");
		return "unknown_operation";
	case RW_OCI_CLASS_ADMIN:
		snprintf(msg, msglen, "listing the catalog is not allowed for %s", who->name);
		return "denied";
	case RW_OCI_CLASS_PULL:
		if (oci->op == RW_OCI_OP_BASE || rw_term_has_role(who, RW_ROLE_PULL, oci->repo))
			return NULL;
		snprintf(msg, msglen, "%s may not pull %s", who->name, oci->repo);
		return "denied";
	case RW_OCI_CLASS_PUSH:
		if (p->opts.push_requires_vpn && !who->via_vpn) {
			snprintf(msg, msglen, "push to %s requires the VPN", oci->repo);
			return "denied";
		}
		if (!rw_term_has_role(who, RW_ROLE_PUSH, oci->repo)) {
			snprintf(msg, msglen, "%s may not push to %s", who->name, oci->repo);
			return "denied";
		}
		if (oci->op == RW_OCI_OP_UPLOAD_MOUNT && oci->from[0] &&
		    !rw_term_has_role(who, RW_ROLE_PULL, oci->from)) {
			snprintf(msg, msglen, "%s may not mount from %s", who->name, oci->from);
			return "denied";
		}
		return NULL;
	case RW_OCI_CLASS_DELETE:
		if (rw_term_has_role(who, RW_ROLE_DELETE, oci->repo))
			return NULL;
		snprintf(msg, msglen, "%s may not delete in %s", who->name, oci->repo);
		return "denied";
	default:
		snprintf(msg, msglen, "operation not allowed");
		return "unknown_operation";
	}
}

static bool rw_term_forward_field(struct rw_http_span name)
{
	return rw_http_span_eq(name, "X-Forwarded-For") || rw_http_span_eq(name, "Forwarded") ||
	       rw_http_span_eq(name, "X-Real-IP") || rw_http_span_eq(name, "X-Forwarded-Proto") ||
	       rw_http_span_eq(name, "X-Forwarded-Host");
}

/* Offset just past the CRLF that ends the field line whose value ends at
 * 'from' (the parser accepted the head, so OWS then CRLF follow). */
static size_t rw_term_line_end(const uint8_t *head, size_t head_len, size_t from)
{
	for (size_t i = from; i + 1 < head_len; i++)
		if (head[i] == '\r' && head[i + 1] == '\n')
			return i + 2;
	return head_len;
}

static int rw_term_out(uint8_t *out, size_t cap, size_t *n, const void *p, size_t len)
{
	if (len > cap - *n)
		return RW_ERANGE;
	memcpy(out + *n, p, len);
	*n += len;
	return 0;
}

int rw_term_rewrite_head(const uint8_t *head, const struct rw_http_req *req,
			 const char *client_ip, uint8_t *out, size_t cap, size_t *len)
{
	size_t n = 0, pos = 0;
	*len = 0;
	if (req->head_len < 2)
		return RW_EINVAL;
	size_t end = req->head_len - 2; /* the final CRLF */
	for (size_t i = 0; i < req->n_fields; i++) {
		const struct rw_http_field *f = &req->fields[i];
		if (!rw_term_forward_field(f->name))
			continue;
		size_t s = (size_t)(f->name.ptr - head);
		size_t vend = (size_t)(f->value.ptr - head) + f->value.len;
		size_t e = rw_term_line_end(head, req->head_len, vend);
		if (s < pos || e > end)
			return RW_EINVAL;
		if (rw_term_out(out, cap, &n, head + pos, s - pos))
			return RW_ERANGE;
		pos = e;
	}
	char add[128];
	int k = snprintf(add, sizeof(add), "X-Forwarded-For: %s\r\nX-Forwarded-Proto: https\r\n\r\n",
			 client_ip);
	if (k < 0 || (size_t)k >= sizeof(add))
		return RW_EINVAL;
	if (rw_term_out(out, cap, &n, head + pos, end - pos) ||
	    rw_term_out(out, cap, &n, add, (size_t)k))
		return RW_ERANGE;
	*len = n;
	return 0;
}

bool rw_term_host_matches(struct rw_http_span host, const char *sni)
{
	size_t hl = host.len;
	/* strip ":port" (the parser has validated Host; IPv6 literals are in
	 * brackets and never equal an SNI, which cannot be an address) */
	for (size_t i = hl; i > 0; i--) {
		uint8_t ch = host.ptr[i - 1];
		if (ch == ':') {
			hl = i - 1;
			break;
		}
		if (ch < '0' || ch > '9')
			break;
	}
	if (hl > 0 && host.ptr[hl - 1] == '.')
		hl--;
	size_t sl = strlen(sni);
	if (sl > 0 && sni[sl - 1] == '.')
		sl--;
	if (hl != sl || hl == 0)
		return false;
	struct rw_http_span h = { host.ptr, hl };
	char tmp[256];
	if (sl >= sizeof(tmp))
		return false;
	memcpy(tmp, sni, sl);
	tmp[sl] = '\0';
	return rw_http_span_eq(h, tmp);
}
