/* cert_subject spellings -> RFC 2253 (see rw_cert_dn.h). Bounded: at most
 * RW_DN_MAX_AVAS attribute-value pairs, each copied into fixed buffers. */
#include "inspect/rw_cert_dn.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <openssl/objects.h>

#include "base/rw_err.h"

#define RW_DN_MAX_AVAS 32
#define RW_DN_TYPE_MAX 64
#define RW_DN_VALUE_MAX 256

struct rw_dn_ava {
	char type[RW_DN_TYPE_MAX];
	char value[RW_DN_VALUE_MAX]; /* unescaped */
	bool plus_before;            /* joined to the previous one in one RDN */
};

struct rw_dn {
	struct rw_dn_ava ava[RW_DN_MAX_AVAS];
	size_t n;
};

enum rw_dn_form { RW_DN_RFC2253, RW_DN_ONELINE, RW_DN_SLASH };

static bool rw_dn_space(char c)
{
	return c == ' ' || c == '\t';
}

/* The short name OpenSSL prints for a type ("commonName", "cn" -> "CN"),
 * or a dotted OID as it is; false for anything else. */
static bool rw_dn_type(const char *t, size_t n, char *out, char *why, size_t why_cap)
{
	char tmp[RW_DN_TYPE_MAX];
	if (n == 0 || n >= sizeof(tmp)) {
		snprintf(why, why_cap, "an attribute type is empty or too long");
		return false;
	}
	memcpy(tmp, t, n);
	tmp[n] = '\0';
	bool dotted = true;
	for (size_t i = 0; i < n; i++)
		dotted = dotted && ((tmp[i] >= '0' && tmp[i] <= '9') || tmp[i] == '.');
	int nid = NID_undef;
	if (!dotted) {
		nid = OBJ_sn2nid(tmp);
		if (nid == NID_undef)
			nid = OBJ_ln2nid(tmp);
		if (nid == NID_undef) { /* case-insensitive, as fwd/ compares types */
			char up[RW_DN_TYPE_MAX];
			for (size_t i = 0; i <= n; i++)
				up[i] = (char)((tmp[i] >= 'a' && tmp[i] <= 'z') ? tmp[i] - 32 : tmp[i]);
			nid = OBJ_sn2nid(up);
		}
		if (nid == NID_undef && !strcasecmp(tmp, "emailaddress"))
			nid = NID_pkcs9_emailAddress;
		if (nid == NID_undef) {
			snprintf(why, why_cap,
				 "unknown attribute type \"%s\" (use the names openssl prints: CN, O, "
				 "OU, C, L, ST, DC, UID, emailAddress, ...)",
				 tmp);
			return false;
		}
		snprintf(out, RW_DN_TYPE_MAX, "%s", OBJ_nid2sn(nid));
		return true;
	}
	memcpy(out, tmp, n + 1);
	return true;
}

/* Parse "type=value" or "type = value" up to an unescaped separator of
 * the form. Advances *pp past the value; *sep gets the separator seen
 * ('\0' at the end). */
static int rw_dn_ava_parse(const char **pp, enum rw_dn_form f, struct rw_dn_ava *a, char *sep,
			   char *why, size_t why_cap)
{
	const char *p = *pp;
	while (rw_dn_space(*p))
		p++;
	const char *t = p;
	while (*p && *p != '=' && !(f == RW_DN_SLASH && *p == '/') && *p != ',' && *p != '+')
		p++;
	if (*p != '=') {
		snprintf(why, why_cap, "\"%.*s\" has no '='", (int)(p - t), t);
		return RW_EINVAL;
	}
	const char *te = p;
	while (te > t && rw_dn_space(te[-1]))
		te--;
	if (!rw_dn_type(t, (size_t)(te - t), a->type, why, why_cap))
		return RW_EINVAL;
	p++;
	if (f == RW_DN_ONELINE)
		while (rw_dn_space(*p))
			p++;
	size_t n = 0;
	bool quoted = f == RW_DN_ONELINE && *p == '"';
	if (quoted)
		p++;
	for (;;) {
		char c = *p;
		if (!c) {
			if (quoted) {
				snprintf(why, why_cap, "a quoted value does not end");
				return RW_EINVAL;
			}
			break;
		}
		if (quoted && c == '"') {
			p++;
			while (rw_dn_space(*p))
				p++;
			if (*p && *p != ',' && *p != '+') {
				snprintf(why, why_cap, "text after a quoted value");
				return RW_EINVAL;
			}
			break;
		}
		if (!quoted) {
			if (f == RW_DN_SLASH ? (c == '/' || c == '+') : (c == ',' || c == '+'))
				break;
		}
		if (c == '\\') {
			/* \X (a special) or \XX (hex) */
			/* \XX (RFC 2253, oneline), \xXX (openssl -nameopt compat) */
			const char *h = "0123456789abcdef0123456789ABCDEF";
			const char *q = p + 1;
			if (*q == 'x' && q[1] && q[2] && strchr(h, q[1]) && strchr(h, q[2]))
				q++;
			const char *d1 = *q ? strchr(h, *q) : NULL;
			const char *d2 = (d1 && q[1]) ? strchr(h, q[1]) : NULL;
			if (d1 && d2) {
				c = (char)((((d1 - h) & 15) << 4) | ((d2 - h) & 15));
				p = q + 1;
			} else if (p[1]) {
				c = p[1];
				p += 1;
			} else {
				snprintf(why, why_cap, "a '\\' ends the text");
				return RW_EINVAL;
			}
		}
		if (n + 1 >= sizeof(a->value)) {
			snprintf(why, why_cap, "a value is longer than %d bytes", RW_DN_VALUE_MAX - 1);
			return RW_EINVAL;
		}
		a->value[n++] = c;
		p++;
	}
	/* unquoted values lose trailing spaces in the oneline form (", "
	 * separators); RFC 2253 and slash values keep what was written */
	if (f == RW_DN_ONELINE && !quoted)
		while (n > 0 && rw_dn_space(a->value[n - 1]))
			n--;
	a->value[n] = '\0';
	if (n == 0) {
		snprintf(why, why_cap, "attribute %s has an empty value", a->type);
		return RW_EINVAL;
	}
	*sep = *p;
	if (*p)
		p++;
	*pp = p;
	return 0;
}

static int rw_dn_parse(const char *in, enum rw_dn_form f, struct rw_dn *dn, char *why,
		       size_t why_cap)
{
	const char *p = in;
	if (f == RW_DN_SLASH)
		p++; /* the leading '/' */
	dn->n = 0;
	bool plus = false;
	while (*p) {
		if (dn->n == RW_DN_MAX_AVAS) {
			snprintf(why, why_cap, "more than %d attributes", RW_DN_MAX_AVAS);
			return RW_EINVAL;
		}
		struct rw_dn_ava *a = &dn->ava[dn->n];
		a->plus_before = plus;
		char sep;
		int r = rw_dn_ava_parse(&p, f, a, &sep, why, why_cap);
		if (r)
			return r;
		dn->n++;
		plus = sep == '+';
		if (sep && !*p) {
			snprintf(why, why_cap, "a separator ends the text");
			return RW_EINVAL;
		}
		if (f == RW_DN_ONELINE && plus)
			while (rw_dn_space(*p))
				p++;
	}
	if (dn->n == 0) {
		snprintf(why, why_cap, "no attribute");
		return RW_EINVAL;
	}
	return 0;
}

/* Append s to out with RFC 2253 escaping of a value (what OpenSSL's
 * ASN1_STRFLGS_ESC_2253 does: ,+"\<>; anywhere, '#' or ' ' first, ' '
 * last; control bytes as \XX). */
static int rw_dn_put_value(char *out, size_t cap, size_t *o, const char *s)
{
	size_t n = strlen(s);
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		char buf[4];
		size_t k = 0;
		if (c < 0x20 || c == 0x7f) {
			snprintf(buf, sizeof(buf), "\\%02X", c);
			k = 3;
		} else if (strchr(",+\"\\<>;", c) || (i == 0 && (c == '#' || c == ' ')) ||
			   (i == n - 1 && c == ' ')) {
			buf[0] = '\\';
			buf[1] = (char)c;
			k = 2;
		} else {
			buf[0] = (char)c;
			k = 1;
		}
		if (*o + k >= cap)
			return RW_ETOOBIG;
		memcpy(out + *o, buf, k);
		*o += k;
	}
	return 0;
}

static int rw_dn_put(char *out, size_t cap, size_t *o, const char *s)
{
	size_t n = strlen(s);
	if (*o + n >= cap)
		return RW_ETOOBIG;
	memcpy(out + *o, s, n);
	*o += n;
	return 0;
}

/* Write dn as RFC 2253; reverse: the attributes in the opposite order,
 * as OpenSSL prints a name in RFC 2253 (it reverses the whole entry
 * list, the members of a multi-valued RDN included). */
static int rw_dn_write(const struct rw_dn *dn, bool reverse, char *out, size_t cap)
{
	size_t o = 0;
	for (size_t j = 0; j < dn->n; j++) {
		size_t i = reverse ? dn->n - 1 - j : j;
		/* joined to the one written before it? */
		bool plus = reverse ? dn->ava[i + 1 < dn->n ? i + 1 : i].plus_before && j > 0
				    : dn->ava[i].plus_before;
		if (j && rw_dn_put(out, cap, &o, plus ? "+" : ","))
			return RW_ETOOBIG;
		if (rw_dn_put(out, cap, &o, dn->ava[i].type) || rw_dn_put(out, cap, &o, "=") ||
		    rw_dn_put_value(out, cap, &o, dn->ava[i].value))
			return RW_ETOOBIG;
	}
	if (o >= cap)
		return RW_ETOOBIG;
	out[o] = '\0';
	return 0;
}

static bool rw_dn_is(const struct rw_dn_ava *a, const char *sn)
{
	return strcmp(a->type, sn) == 0;
}

int rw_cert_dn_normalize(const char *in, char *out, size_t cap, char *why, size_t why_cap)
{
	if (!in || !out || !cap || !why || !why_cap)
		return RW_EINVAL;
	why[0] = '\0';
	enum rw_dn_form f = RW_DN_RFC2253;
	if (in[0] == '/')
		f = RW_DN_SLASH;
	else {
		/* "type = value": OpenSSL's default (oneline) print; an '='
		 * with a space before it never occurs in RFC 2253 types */
		const char *eq = strchr(in, '=');
		if (eq && eq > in && rw_dn_space(eq[-1]))
			f = RW_DN_ONELINE;
	}
	struct rw_dn dn;
	int r = rw_dn_parse(in, f, &dn, why, why_cap);
	if (r)
		return r;
	if (f == RW_DN_RFC2253 && dn.n > 1) {
		const struct rw_dn_ava *first = &dn.ava[0], *last = &dn.ava[dn.n - 1];
		if ((rw_dn_is(first, "C") || rw_dn_is(first, "DC")) && rw_dn_is(last, "CN")) {
			char right[512];
			if (rw_dn_write(&dn, true, right, sizeof(right)))
				right[0] = '\0';
			snprintf(why, why_cap,
				 "names %s first and CN last: RFC 2253 puts the most specific name "
				 "first (\"%s\"); `openssl x509 -noout -subject -nameopt RFC2253 -in "
				 "CERT` prints it",
				 first->type, right);
			return RW_EINVAL;
		}
	}
	return rw_dn_write(&dn, f != RW_DN_RFC2253, out, cap);
}
