/* A cert_subject as an admin writes it -> the RFC 2253 text fwd/ compares
 * with the certificate's subject (rw_cert_identity, rw_cert_dn_equal).
 *
 * Admins copy subjects from three places, in two orders:
 *   RFC 2253   CN=ci-bot,O=Example Corp,C=DE          most specific first
 *              (openssl x509 -subject -nameopt RFC2253; kept as written)
 *   oneline    C = DE, O = Example Corp, CN = ci-bot  most specific last
 *              (openssl x509 -subject, the default; values with specials
 *              in double quotes)
 *   slash      /C=DE/O=Example Corp/CN=ci-bot          most specific last
 *              (openssl req -subj, openssl x509 -nameopt compat)
 * The oneline and slash forms are parsed into RDNs, reversed and written
 * in RFC 2253 with its escaping, so the name, not the spelling, is what
 * gets compared. Attribute types become the short names OpenSSL prints
 * (commonName -> CN); a type OpenSSL does not know is refused, since the
 * certificate's subject would show it differently and never match. A
 * comma form that names the country (C) or a domainComponent (DC) first
 * and the CN last is the top-down order written with RFC 2253 commas: it
 * could never match either, so it is refused with the right order. */
#ifndef RW_CERT_DN_H
#define RW_CERT_DN_H

#include <stddef.h>

/* 0 and out (NUL-terminated), or RW_EINVAL with why[] saying what is
 * wrong (for the config error), or RW_ETOOBIG when out is too small. */
int rw_cert_dn_normalize(const char *in, char *out, size_t cap, char *why, size_t why_cap);

#endif
