/* Client certificate -> identity, and identity matching (see rw_cert.h).
 *
 * Runs once per handshake, so OpenSSL's own heap use is acceptable here;
 * what we hand back is copied into fixed buffers. Every copy is checked
 * for fit and refused rather than truncated: a truncated name could match a
 * selector that the real name does not. */
#include "inspect/rw_cert.h"

#include <string.h>

#include <arpa/inet.h>

#include <openssl/asn1.h>
#include <openssl/bio.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/x509v3.h>

#include "base/rw_err.h"

/* Copy a counted string that came from the certificate. NUL inside would
 * let "good.example\0.evil" compare equal to "good.example" in C string
 * code further on, so it is refused (the classic SAN NUL attack). */
static int rw_cert_copy(char *dst, size_t cap, const unsigned char *src, int len)
{
	if (len < 0 || (len > 0 && !src))
		return RW_EPROTO;
	if ((size_t)len >= cap)
		return RW_ETOOBIG;
	if (len > 0 && memchr(src, '\0', (size_t)len))
		return RW_EPROTO;
	if (len > 0)
		memcpy(dst, src, (size_t)len);
	dst[len] = '\0';
	return 0;
}

static int rw_cert_subject(const X509 *cert, struct rw_cert_id *out)
{
	const X509_NAME *name = X509_get_subject_name(cert);
	if (!name)
		return RW_EPROTO;
	BIO *b = BIO_new(BIO_s_mem());
	if (!b)
		return RW_ENOMEM;
	/* UTF-8 is kept unescaped (-ESC_MSB) so config files can spell names
	 * naturally; control bytes (NUL included) are still escaped as \XX. */
	unsigned long flags = XN_FLAG_RFC2253 & ~(unsigned long)ASN1_STRFLGS_ESC_MSB;
	int r = X509_NAME_print_ex(b, name, 0, flags);
	int rc = 0;
	if (r < 0) {
		rc = RW_EPROTO;
	} else {
		const char *data = NULL;
		long n = BIO_get_mem_data(b, &data);
		if (n < 0 || n > (long)INT32_MAX)
			rc = RW_EPROTO;
		else
			rc = rw_cert_copy(out->subject, sizeof(out->subject),
					  (const unsigned char *)data, (int)n);
	}
	BIO_free(b);
	return rc;
}

static int rw_cert_cn(const X509 *cert, struct rw_cert_id *out)
{
	const X509_NAME *name = X509_get_subject_name(cert);
	if (!name)
		return RW_EPROTO;
	int idx = X509_NAME_get_index_by_NID(name, NID_commonName, -1);
	if (idx < 0)
		return 0; /* no CN is fine: SANs or the subject can identify */
	/* Two CNs make "the CN" ambiguous; refuse instead of picking one. */
	if (X509_NAME_get_index_by_NID(name, NID_commonName, idx) >= 0)
		return RW_EPROTO;
	const X509_NAME_ENTRY *e = X509_NAME_get_entry(name, idx);
	const ASN1_STRING *s = e ? X509_NAME_ENTRY_get_data(e) : NULL;
	if (!s)
		return RW_EPROTO;
	unsigned char *utf8 = NULL;
	int n = ASN1_STRING_to_UTF8(&utf8, s);
	if (n < 0)
		return RW_EPROTO;
	int rc = rw_cert_copy(out->cn, sizeof(out->cn), utf8, n);
	OPENSSL_free(utf8);
	if (rc == 0)
		out->has_cn = true;
	return rc;
}

static int rw_cert_san_add(char (*list)[RW_CERT_SAN_LEN], size_t *n, const ASN1_STRING *s)
{
	if (!s)
		return RW_EPROTO;
	if (*n >= RW_CERT_SAN_MAX)
		return RW_ETOOBIG;
	int rc = rw_cert_copy(list[*n], RW_CERT_SAN_LEN, ASN1_STRING_get0_data(s),
			      ASN1_STRING_length(s));
	if (rc == 0)
		(*n)++;
	return rc;
}

/* iPAddress is a bare OCTET STRING: 4 octets for IPv4, 16 for IPv6 in a
 * SAN (8 and 32 are address+mask, legal only in name constraints). Any
 * other length is a malformed certificate, refused like an undecodable
 * extension rather than skipped, so a selector can never be dodged by it. */
static int rw_cert_ip_add(struct rw_cert_id *out, const ASN1_OCTET_STRING *s)
{
	if (!s)
		return RW_EPROTO;
	int len = ASN1_STRING_length(s);
	if (len != 4 && len != 16)
		return RW_EPROTO;
	if (out->n_ip >= RW_CERT_SAN_MAX)
		return RW_ETOOBIG;
	memcpy(out->ip[out->n_ip], ASN1_STRING_get0_data(s), (size_t)len);
	out->ip_len[out->n_ip] = (uint8_t)len;
	out->n_ip++;
	return 0;
}

static int rw_cert_sans(const X509 *cert, struct rw_cert_id *out)
{
	int crit = 0;
	GENERAL_NAMES *g = X509_get_ext_d2i(cert, NID_subject_alt_name, &crit, NULL);
	if (!g) {
		/* crit -1: absent (fine); -2: duplicated extension; >= 0: present
		 * but undecodable. Both of the latter are refused. */
		return crit == -1 ? 0 : RW_EPROTO;
	}
	int rc = 0;
	int count = sk_GENERAL_NAME_num(g);
	for (int i = 0; i < count && rc == 0; i++) {
		const GENERAL_NAME *gn = sk_GENERAL_NAME_value(g, i);
		if (!gn) {
			rc = RW_EPROTO;
			break;
		}
		switch (gn->type) {
		case GEN_DNS:
			rc = rw_cert_san_add(out->dns, &out->n_dns, gn->d.dNSName);
			break;
		case GEN_URI:
			rc = rw_cert_san_add(out->uri, &out->n_uri, gn->d.uniformResourceIdentifier);
			break;
		case GEN_EMAIL:
			rc = rw_cert_san_add(out->email, &out->n_email, gn->d.rfc822Name);
			break;
		case GEN_IPADD:
			rc = rw_cert_ip_add(out, gn->d.iPAddress);
			break;
		default:
			break; /* not used by selectors */
		}
	}
	GENERAL_NAMES_free(g);
	return rc;
}

static int rw_cert_time(const ASN1_TIME *t, time_t *out)
{
	struct tm tm;
	memset(&tm, 0, sizeof(tm));
	if (!t || ASN1_TIME_to_tm(t, &tm) != 1)
		return RW_EPROTO;
	time_t v = timegm(&tm);
	if (v == (time_t)-1 && !(tm.tm_year == 69 && tm.tm_yday == 364))
		return RW_EPROTO;
	*out = v;
	return 0;
}

int rw_cert_identity(const X509 *cert, struct rw_cert_id *out)
{
	if (!out)
		return RW_EINVAL;
	memset(out, 0, sizeof(*out));
	if (!cert)
		return RW_EINVAL;

	unsigned int mdlen = 0;
	int rc = rw_cert_subject(cert, out);
	if (rc == 0)
		rc = rw_cert_cn(cert, out);
	if (rc == 0)
		rc = rw_cert_sans(cert, out);
	if (rc == 0 && (X509_digest(cert, EVP_sha256(), out->sha256, &mdlen) != 1 ||
			mdlen != sizeof(out->sha256)))
		rc = RW_EPROTO;
	if (rc == 0)
		rc = rw_cert_time(X509_get0_notBefore(cert), &out->not_before);
	if (rc == 0)
		rc = rw_cert_time(X509_get0_notAfter(cert), &out->not_after);
	if (rc != 0)
		memset(out, 0, sizeof(*out));
	return rc;
}

/* ASCII-only case folding: DNS names and attribute types are ASCII, and
 * locale-dependent tolower() must not decide a security match. */
static unsigned char rw_cert_lower(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') ? (unsigned char)(c - 'A' + 'a') : c;
}

static bool rw_cert_caseeq(const char *a, const char *b)
{
	for (;; a++, b++) {
		if (rw_cert_lower((unsigned char)*a) != rw_cert_lower((unsigned char)*b))
			return false;
		if (!*a)
			return true;
	}
}

/* Walk both DNs in lock step. Types (before '=') fold case; values are
 * exact, with "\x" escape pairs taken whole so an escaped ',' or '+' is
 * value text, not a separator. */
bool rw_cert_dn_equal(const char *a, const char *b)
{
	if (!a || !b)
		return false;
	bool in_type = true;
	for (;;) {
		unsigned char ca = (unsigned char)*a, cb = (unsigned char)*b;
		if (in_type) {
			if (rw_cert_lower(ca) != rw_cert_lower(cb))
				return false;
			if (!ca)
				return true;
			if (ca == '=')
				in_type = false;
			a++, b++;
			continue;
		}
		if (ca != cb)
			return false;
		if (!ca)
			return true;
		if (ca == '\\') {
			if (!a[1] || a[1] != b[1])
				return false;
			a += 2, b += 2;
			continue;
		}
		a++, b++;
		if (ca == ',' || ca == '+') {
			while (*a == ' ')
				a++;
			while (*b == ' ')
				b++;
			in_type = true;
		}
	}
}

static bool rw_cert_in_list(const char (*list)[RW_CERT_SAN_LEN], size_t n, const char *want,
			    bool fold_case)
{
	for (size_t i = 0; i < n; i++) {
		if (fold_case ? rw_cert_caseeq(list[i], want) : strcmp(list[i], want) == 0)
			return true;
	}
	return false;
}

static bool rw_cert_has_prefix(const char *s, const char *prefix, const char **rest)
{
	size_t n = strlen(prefix);
	for (size_t i = 0; i < n; i++) {
		if (rw_cert_lower((unsigned char)s[i]) != (unsigned char)prefix[i])
			return false;
	}
	*rest = s + n;
	return true;
}

/* Exact octet comparison: the selector's family decides the length, so an
 * IPv4 selector never matches an IPv6 SAN (mapped or not) and vice versa. */
static bool rw_cert_ip_match(const struct rw_cert_id *id, const char *want)
{
	uint8_t a[16];
	size_t alen;
	if (inet_pton(AF_INET, want, a) == 1)
		alen = 4;
	else if (inet_pton(AF_INET6, want, a) == 1)
		alen = 16;
	else
		return false;
	for (size_t i = 0; i < id->n_ip; i++)
		if (id->ip_len[i] == alen && memcmp(id->ip[i], a, alen) == 0)
			return true;
	return false;
}

bool rw_cert_san_match(const struct rw_cert_id *id, const char *sel)
{
	const char *v;
	if (rw_cert_has_prefix(sel, "dns:", &v))
		return rw_cert_in_list((const char (*)[RW_CERT_SAN_LEN])id->dns, id->n_dns, v, true);
	if (rw_cert_has_prefix(sel, "uri:", &v))
		return rw_cert_in_list((const char (*)[RW_CERT_SAN_LEN])id->uri, id->n_uri, v, false);
	if (rw_cert_has_prefix(sel, "email:", &v))
		return rw_cert_in_list((const char (*)[RW_CERT_SAN_LEN])id->email, id->n_email, v,
				       true);
	if (rw_cert_has_prefix(sel, "ip:", &v))
		return rw_cert_ip_match(id, v);
	return false;
}
