/* The TLS files a worker needs, as bytes: certificates, keys, client CAs,
 * CRLs and the upstream CA, read by the privileged parent and handed to
 * the workers in their boot bundle (fwd/rw_boot.h), so a worker opens no
 * file and never needs to read a key as root. Keyed by the path the
 * policy names (messages still name the file). */
#ifndef RW_PEM_H
#define RW_PEM_H

#include <stddef.h>
#include <stdint.h>

#include "rules/rw_policy.h"

/* The key the system's default CA bundle is stored under, for an
 * upstream with TLS and no upstream_ca (OpenSSL's default cert file,
 * SSL_CERT_FILE honoured). */
#define RW_PEM_SYSTEM_CA "(system CA bundle)"
#define RW_PEM_FILE_MAX (16u << 20) /* one file; a CRL can be large */
#define RW_PEM_FILES_MAX 1024u

struct rw_pem_file {
	char *path;
	uint8_t *data; /* NULL: the parent could not read it (err) */
	size_t len;
	int err;       /* errno of the failed open or read; 0 when read */
};

struct rw_pem_set {
	struct rw_pem_file *v;
	size_t n;
};

/* Reads every file the policy's listeners and registry name (each path
 * once). A file that cannot be opened or read is kept as an entry without
 * data and with its errno (the TLS setup reports it in its own words, as
 * for a file it opened itself). 0, or RW_ETOOBIG / RW_ENOMEM with err
 * naming the file. */
int rw_pem_set_read(struct rw_pem_set *s, const struct rw_policy *p, char *err, size_t errlen);
/* Adds one file's bytes (copied) under path; the boot bundle's parser
 * uses it. RW_EEXIST for a path already there. */
int rw_pem_set_add(struct rw_pem_set *s, const char *path, const uint8_t *data, size_t len);
/* The bytes stored for path, or NULL. */
const struct rw_pem_file *rw_pem_set_find(const struct rw_pem_set *s, const char *path);
void rw_pem_set_free(struct rw_pem_set *s);

#endif
