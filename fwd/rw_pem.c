/* The TLS files as bytes (see rw_pem.h). */
#include "fwd/rw_pem.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/x509.h>

#include "base/rw_err.h"

const struct rw_pem_file *rw_pem_set_find(const struct rw_pem_set *s, const char *path)
{
	for (size_t i = 0; s && path && i < s->n; i++)
		if (!strcmp(s->v[i].path, path))
			return &s->v[i];
	return NULL;
}

int rw_pem_set_add(struct rw_pem_set *s, const char *path, const uint8_t *data, size_t len)
{
	if (rw_pem_set_find(s, path))
		return RW_EEXIST;
	if (s->n >= RW_PEM_FILES_MAX || len > RW_PEM_FILE_MAX)
		return RW_ETOOBIG;
	struct rw_pem_file *nv = realloc(s->v, (s->n + 1) * sizeof(*nv));
	if (!nv)
		return RW_ENOMEM;
	s->v = nv;
	struct rw_pem_file *f = &s->v[s->n];
	f->path = strdup(path);
	f->data = malloc(len ? len : 1);
	f->len = len;
	f->err = 0;
	if (!f->path || !f->data) {
		free(f->path);
		free(f->data);
		return RW_ENOMEM;
	}
	if (len)
		memcpy(f->data, data, len);
	s->n++;
	return 0;
}

/* An entry for a file that could not be read: its errno, no data. */
static int rw_pem_add_failed(struct rw_pem_set *s, const char *key, int err)
{
	int rc = rw_pem_set_add(s, key, NULL, 0);
	if (rc)
		return rc;
	struct rw_pem_file *f = &s->v[s->n - 1];
	free(f->data);
	f->data = NULL;
	f->err = err ? err : EIO;
	return 0;
}

/* Grow a buffer that may hold key bytes: the old one is wiped, not left
 * behind by realloc. */
static uint8_t *rw_pem_grow(uint8_t *buf, size_t used, size_t cap)
{
	uint8_t *nb = malloc(cap);
	if (nb && used)
		memcpy(nb, buf, used);
	if (buf) {
		OPENSSL_cleanse(buf, used);
		free(buf);
	}
	return nb;
}

/* One file, whole, bounded (a file that grows while read stops at the
 * cap too). Opened non-blocking: a FIFO at a configured path must not
 * hang the parent. */
static int rw_pem_read_one(struct rw_pem_set *s, const char *key, const char *path, char *err,
			   size_t errlen)
{
	if (!path || rw_pem_set_find(s, key))
		return 0;
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0)
		return rw_pem_add_failed(s, key, errno);
	struct stat st;
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		return rw_pem_add_failed(s, key, EINVAL);
	}
	if ((uint64_t)st.st_size > RW_PEM_FILE_MAX) {
		close(fd);
		snprintf(err, errlen, "%s: larger than %u MiB", path, RW_PEM_FILE_MAX >> 20);
		return RW_ETOOBIG;
	}
	size_t cap = (size_t)st.st_size + 1, n = 0;
	uint8_t *buf = rw_pem_grow(NULL, 0, cap);
	int rc = buf ? 0 : RW_ENOMEM;
	while (!rc) {
		if (n == cap) {
			if (cap > RW_PEM_FILE_MAX) {
				snprintf(err, errlen, "%s: larger than %u MiB", path,
					 RW_PEM_FILE_MAX >> 20);
				rc = RW_ETOOBIG;
				break;
			}
			buf = rw_pem_grow(buf, n, cap * 2);
			if (!buf) {
				rc = RW_ENOMEM;
				break;
			}
			cap *= 2;
		}
		ssize_t r = read(fd, buf + n, cap - n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			int e = errno;
			OPENSSL_cleanse(buf, n);
			free(buf);
			close(fd);
			return rw_pem_add_failed(s, key, e);
		}
		if (r == 0)
			break;
		n += (size_t)r;
	}
	close(fd);
	if (!rc)
		rc = rw_pem_set_add(s, key, buf, n);
	if (buf) {
		OPENSSL_cleanse(buf, n);
		free(buf);
	}
	if (rc == RW_ETOOBIG && !err[0])
		snprintf(err, errlen, "%s: too many TLS files", path);
	return rc;
}

int rw_pem_set_read(struct rw_pem_set *s, const struct rw_policy *p, char *err, size_t errlen)
{
	int rc = 0;
	if (err && errlen)
		err[0] = '\0';
	for (size_t i = 0; !rc && i < p->n_listeners; i++) {
		const struct rw_listener *l = &p->listeners[i];
		if (l->mode != RW_MODE_TERMINATE)
			continue;
		const char *paths[] = { l->cert, l->key, l->client_ca, l->crl };
		for (size_t k = 0; !rc && k < sizeof(paths) / sizeof(paths[0]); k++)
			rc = rw_pem_read_one(s, paths[k], paths[k], err, errlen);
	}
	if (!rc && p->registry.upstream_tls) {
		if (p->registry.upstream_ca) {
			rc = rw_pem_read_one(s, p->registry.upstream_ca, p->registry.upstream_ca, err,
					     errlen);
		} else {
			const char *def = getenv(X509_get_default_cert_file_env());
			rc = rw_pem_read_one(s, RW_PEM_SYSTEM_CA, def ? def : X509_get_default_cert_file(),
					     err, errlen);
		}
	}
	return rc;
}

void rw_pem_set_free(struct rw_pem_set *s)
{
	for (size_t i = 0; i < s->n; i++) {
		free(s->v[i].path);
		if (s->v[i].data && s->v[i].len)
			OPENSSL_cleanse(s->v[i].data, s->v[i].len); /* keys among them */
		free(s->v[i].data);
	}
	free(s->v);
	s->v = NULL;
	s->n = 0;
}
