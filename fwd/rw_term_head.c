/* Terminate mode, the pure parts of its own: who the connection is (the
 * certificate and address glue in front of rw_who_resolve; the decision
 * itself is rw_decide's alone), the request head as the upstream sees it,
 * and Host vs SNI. No I/O. */
#include "fwd/rw_term.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "inspect/rw_cert.h"
#include "rules/rw_ident.h"
#include "base/rw_err.h"

void rw_term_identify(const struct rw_policy *p, X509 *cert, uint8_t family,
		      const uint8_t addr[16], struct rw_who *out, char **unmatched_dn)
{
	rw_term_identify_ix(p, NULL, cert, family, addr, out, unmatched_dn);
}

void rw_term_identify_ix(const struct rw_policy *p, const struct rw_cidrset_index *peers,
			 X509 *cert, uint8_t family, const uint8_t addr[16], struct rw_who *out,
			 char **unmatched_dn)
{
	const struct rw_identity *ident = NULL;
	struct rw_cert_id id;
	if (unmatched_dn)
		*unmatched_dn = NULL;
	/* A certificate that verified but maps to no identity adds nothing:
	 * it proves nothing the policy names, so the address decides. */
	if (cert && rw_cert_identity(cert, &id) == 0) {
		ident = rw_ident_find(&id, p->identities, p->n_identities);
		if (!ident && unmatched_dn)
			*unmatched_dn = strdup(id.subject);
	}
	/* on_vpn = true: see rw_term.h, a peer source reaches this socket only
	 * through the tunnel. */
	rw_who_resolve_ix(p, peers, family, addr, true, ident, out);
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

/* Where the ":port" of a Host value starts (its colon), or host.len when
 * there is none. An IP literal is in brackets; a reg-name has no colon, so
 * a second one makes the value invalid (SIZE_MAX). */
static size_t rw_term_host_colon(struct rw_http_span host)
{
	size_t from = 0;
	if (host.len > 0 && host.ptr[0] == '[') {
		const uint8_t *rb = memchr(host.ptr, ']', host.len);
		if (!rb)
			return SIZE_MAX;
		from = (size_t)(rb - host.ptr) + 1;
		if (from == host.len)
			return host.len;
		return host.ptr[from] == ':' ? from : SIZE_MAX;
	}
	const uint8_t *c = memchr(host.ptr, ':', host.len);
	if (!c)
		return host.len;
	size_t at = (size_t)(c - host.ptr);
	return memchr(host.ptr + at + 1, ':', host.len - at - 1) ? SIZE_MAX : at;
}

bool rw_term_host_port_ok(struct rw_http_span host)
{
	size_t at = rw_term_host_colon(host);
	if (at == SIZE_MAX || at == 0)
		return false;
	if (at == host.len)
		return true;
	size_t n = host.len - at - 1;
	if (n == 0 || n > 5)
		return false;
	unsigned long port = 0;
	for (size_t i = at + 1; i < host.len; i++) {
		if (host.ptr[i] < '0' || host.ptr[i] > '9')
			return false;
		port = port * 10 + (unsigned long)(host.ptr[i] - '0');
	}
	return port >= 1 && port <= 65535;
}
