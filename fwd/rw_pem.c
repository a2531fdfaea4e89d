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

/* One file, whole, bounded. A file that cannot be read is not an error
 * here: the worker's TLS setup reports it with the same words the
 * parent's config check uses ("cert PATH: ..."), so it is left out. */
static int rw_pem_read_one(struct rw_pem_set *s, const char *key, const char *path, char *err,
			   size_t errlen)
{
	if (!path || rw_pem_set_find(s, key))
		return 0;
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0)
		return 0;
	struct stat st;
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		return 0;
	}
	if ((uint64_t)st.st_size > RW_PEM_FILE_MAX) {
		close(fd);
		snprintf(err, errlen, "%s: larger than %u MiB", path, RW_PEM_FILE_MAX >> 20);
		return RW_ETOOBIG;
	}
	size_t cap = (size_t)st.st_size + 1, n = 0;
	uint8_t *buf = malloc(cap);
	if (!buf) {
		close(fd);
		return RW_ENOMEM;
	}
	/* read to EOF (the file may change size under us: a rotation) */
	for (;;) {
		if (n == cap) {
			if (cap > RW_PEM_FILE_MAX) {
				free(buf);
				close(fd);
				snprintf(err, errlen, "%s: larger than %u MiB", path,
					 RW_PEM_FILE_MAX >> 20);
				return RW_ETOOBIG;
			}
			uint8_t *nb = realloc(buf, cap * 2);
			if (!nb) {
				free(buf);
				close(fd);
				return RW_ENOMEM;
			}
			buf = nb;
			cap *= 2;
		}
		ssize_t r = read(fd, buf + n, cap - n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			free(buf);
			close(fd);
			return 0; /* unreadable: reported by the TLS setup */
		}
		if (r == 0)
			break;
		n += (size_t)r;
	}
	close(fd);
	int rc = rw_pem_set_add(s, key, buf, n);
	free(buf);
	if (rc == RW_ETOOBIG)
		snprintf(err, errlen, "%s: too many TLS files", path);
	return rc;
}

int rw_pem_set_read(struct rw_pem_set *s, const struct rw_policy *p, char *err, size_t errlen)
{
	int rc = 0;
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
		if (s->v[i].data)
			OPENSSL_cleanse(s->v[i].data, s->v[i].len); /* keys among them */
		free(s->v[i].data);
	}
	free(s->v);
	s->v = NULL;
	s->n = 0;
}
