/* The WireGuard userspace API client (see rw_wg_uapi.h). */
#include "appliance/rw_wg_uapi.h"

#include <arpa/inet.h>
#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "appliance/rw_wg_key.h"
#include "base/rw_err.h"
#include "rules/rw_cidr.h"

void rw_wg_device_free(struct rw_wg_device *d)
{
	if (!d)
		return;
	for (size_t i = 0; i < d->n_peers; i++)
		free(d->peers[i].allowed);
	free(d->peers);
	OPENSSL_cleanse(d, sizeof(*d));
}

/* ---- set: formatting ---------------------------------------------------- */

struct rw_sbuf {
	char *p;
	size_t len, cap;
	int oom;
};

__attribute__((format(printf, 2, 3))) static void rw_sbuf_add(struct rw_sbuf *b, const char *fmt,
								...)
{
	va_list ap;
	if (b->oom)
		return;
	for (;;) {
		va_start(ap, fmt);
		int n = vsnprintf(b->p ? b->p + b->len : NULL, b->p ? b->cap - b->len : 0, fmt, ap);
		va_end(ap);
		if (n < 0) {
			b->oom = 1;
			return;
		}
		if (b->p && (size_t)n < b->cap - b->len) {
			b->len += (size_t)n;
			return;
		}
		size_t cap = b->cap ? b->cap * 2 : 512;
		while (cap < b->len + (size_t)n + 1)
			cap *= 2;
		char *np = malloc(cap);
		if (!np) {
			b->oom = 1;
			return;
		}
		if (b->p) {
			memcpy(np, b->p, b->len);
			OPENSSL_cleanse(b->p, b->cap); /* may hold the private key */
			free(b->p);
		}
		b->p = np;
		b->cap = cap;
	}
}

static void rw_wg_fmt_endpoint(const struct rw_endpoint *e, char *buf, size_t len)
{
	char a[INET6_ADDRSTRLEN];
	inet_ntop(e->family, e->addr, a, sizeof(a));
	if (e->family == AF_INET6)
		snprintf(buf, len, "[%s]:%u", a, e->port);
	else
		snprintf(buf, len, "%s:%u", a, e->port);
}

int rw_wg_uapi_format_set(const struct rw_wg_device *dev, char **out, size_t *len)
{
	struct rw_sbuf b = { 0 };
	char hex[RW_WG_KEY_HEX_LEN + 1];
	rw_sbuf_add(&b, "set=1\n");
	if (dev->has_private_key) {
		rw_wg_key_to_hex(dev->private_key, hex);
		rw_sbuf_add(&b, "private_key=%s\n", hex);
		OPENSSL_cleanse(hex, sizeof(hex));
	}
	if (dev->has_listen_port)
		rw_sbuf_add(&b, "listen_port=%u\n", dev->listen_port);
	if (dev->replace_peers)
		rw_sbuf_add(&b, "replace_peers=true\n");
	for (size_t i = 0; i < dev->n_peers; i++) {
		const struct rw_wg_peer *p = &dev->peers[i];
		rw_wg_key_to_hex(p->public_key, hex);
		rw_sbuf_add(&b, "public_key=%s\n", hex);
		if (p->remove) {
			rw_sbuf_add(&b, "remove=true\n");
			continue;
		}
		if (p->endpoint.family) {
			char ep[80];
			rw_wg_fmt_endpoint(&p->endpoint, ep, sizeof(ep));
			rw_sbuf_add(&b, "endpoint=%s\n", ep);
		}
		rw_sbuf_add(&b, "persistent_keepalive_interval=%u\n", p->keepalive);
		if (p->replace_allowed)
			rw_sbuf_add(&b, "replace_allowed_ips=true\n");
		for (size_t j = 0; j < p->n_allowed; j++) {
			char c[64];
			rw_cidr_format(&p->allowed[j], c, sizeof(c));
			rw_sbuf_add(&b, "allowed_ip=%s\n", c);
		}
	}
	rw_sbuf_add(&b, "\n");
	if (b.oom) {
		if (b.p)
			OPENSSL_cleanse(b.p, b.cap);
		free(b.p);
		return RW_ENOMEM;
	}
	*out = b.p;
	*len = b.len;
	return 0;
}

/* ---- replies: parsing -------------------------------------------------- */

/* Decimal without sign, at most max. */
static int rw_wg_num(const char *v, size_t n, uint64_t max, uint64_t *out)
{
	uint64_t x = 0;
	if (n == 0 || n > 20)
		return RW_EPROTO;
	for (size_t i = 0; i < n; i++) {
		if (v[i] < '0' || v[i] > '9')
			return RW_EPROTO;
		unsigned d = (unsigned)(v[i] - '0');
		if (x > (UINT64_MAX - d) / 10)
			return RW_EPROTO;
		x = x * 10 + d;
	}
	if (x > max)
		return RW_EPROTO;
	*out = x;
	return 0;
}

/* "203.0.113.5:51820" or "[2001:db8::5]:51820" */
static int rw_wg_parse_endpoint(const char *v, size_t n, struct rw_endpoint *e)
{
	char host[INET6_ADDRSTRLEN + 1];
	const char *colon = NULL;
	size_t hl;
	uint64_t port;
	for (size_t i = n; i > 0; i--)
		if (v[i - 1] == ':') {
			colon = v + i - 1;
			break;
		}
	if (!colon)
		return RW_EPROTO;
	hl = (size_t)(colon - v);
	memset(e, 0, sizeof(*e));
	if (hl >= 2 && v[0] == '[' && v[hl - 1] == ']') {
		if (hl - 2 >= sizeof(host))
			return RW_EPROTO;
		memcpy(host, v + 1, hl - 2);
		host[hl - 2] = '\0';
		if (inet_pton(AF_INET6, host, e->addr) != 1)
			return RW_EPROTO;
		e->family = AF_INET6;
	} else {
		if (hl >= sizeof(host))
			return RW_EPROTO;
		memcpy(host, v, hl);
		host[hl] = '\0';
		if (inet_pton(AF_INET, host, e->addr) != 1)
			return RW_EPROTO;
		e->family = AF_INET;
	}
	if (rw_wg_num(colon + 1, n - hl - 1, 65535, &port) || port == 0)
		return RW_EPROTO;
	e->port = (uint16_t)port;
	return 0;
}

static int rw_wg_add_peer(struct rw_wg_device *d, size_t *cap)
{
	if (d->n_peers >= RW_WG_MAX_PEERS)
		return RW_ETOOBIG;
	if (d->n_peers == *cap) {
		size_t nc = *cap ? *cap * 2 : 8;
		struct rw_wg_peer *np = realloc(d->peers, nc * sizeof(*np));
		if (!np)
			return RW_ENOMEM;
		d->peers = np;
		*cap = nc;
	}
	memset(&d->peers[d->n_peers++], 0, sizeof(struct rw_wg_peer));
	return 0;
}

static int rw_wg_add_allowed(struct rw_wg_peer *p, size_t *cap, const struct rw_cidr *c)
{
	if (p->n_allowed >= RW_WG_MAX_ALLOWED)
		return RW_ETOOBIG;
	if (p->n_allowed == *cap) {
		size_t nc = *cap ? *cap * 2 : 4;
		struct rw_cidr *na = realloc(p->allowed, nc * sizeof(*na));
		if (!na)
			return RW_ENOMEM;
		p->allowed = na;
		*cap = nc;
	}
	p->allowed[p->n_allowed++] = *c;
	return 0;
}

#define KEY_IS(lit) (kl == sizeof(lit) - 1 && memcmp(k, lit, kl) == 0)

/* One key=value line of a get reply, after the device's keys or inside
 * the current peer (d->n_peers > 0). */
static int rw_wg_get_line(struct rw_wg_device *d, const char *k, size_t kl, const char *v,
			  size_t vl, size_t *peer_cap, size_t *allowed_cap, const char **what)
{
	struct rw_wg_peer *p = d->n_peers ? &d->peers[d->n_peers - 1] : NULL;
	uint8_t key[32];
	uint64_t x;
	int rc;
	*what = "bad value";
	if (KEY_IS("public_key")) {
		if (rw_wg_key_from_hex(v, vl, key))
			return RW_EPROTO;
		if ((rc = rw_wg_add_peer(d, peer_cap))) {
			*what = rc == RW_ETOOBIG ? "too many peers" : "out of memory";
			return rc;
		}
		memcpy(d->peers[d->n_peers - 1].public_key, key, 32);
		*allowed_cap = 0;
		return 0;
	}
	if (!p) { /* device keys */
		if (KEY_IS("private_key")) {
			if (rw_wg_key_from_hex(v, vl, d->private_key))
				return RW_EPROTO;
			d->has_private_key = true;
		} else if (KEY_IS("listen_port")) {
			if (rw_wg_num(v, vl, 65535, &x))
				return RW_EPROTO;
			d->has_listen_port = true;
			d->listen_port = (uint16_t)x;
		} else if (KEY_IS("fwmark")) {
			if (rw_wg_num(v, vl, UINT32_MAX, &x))
				return RW_EPROTO;
		}
		return 0; /* other device keys: newer daemons may add some */
	}
	if (KEY_IS("preshared_key")) {
		return rw_wg_key_from_hex(v, vl, key) ? RW_EPROTO : 0;
	} else if (KEY_IS("protocol_version")) {
		return rw_wg_num(v, vl, UINT32_MAX, &x);
	} else if (KEY_IS("endpoint")) {
		return rw_wg_parse_endpoint(v, vl, &p->endpoint);
	} else if (KEY_IS("last_handshake_time_sec")) {
		if (rw_wg_num(v, vl, INT64_MAX, &x))
			return RW_EPROTO;
		p->last_handshake_sec = (int64_t)x;
	} else if (KEY_IS("last_handshake_time_nsec")) {
		if (rw_wg_num(v, vl, 999999999, &x))
			return RW_EPROTO;
		p->last_handshake_nsec = (int64_t)x;
	} else if (KEY_IS("rx_bytes")) {
		return rw_wg_num(v, vl, UINT64_MAX, &p->rx_bytes);
	} else if (KEY_IS("tx_bytes")) {
		return rw_wg_num(v, vl, UINT64_MAX, &p->tx_bytes);
	} else if (KEY_IS("persistent_keepalive_interval")) {
		if (rw_wg_num(v, vl, 65535, &x))
			return RW_EPROTO;
		p->keepalive = (uint16_t)x;
	} else if (KEY_IS("allowed_ip")) {
		char buf[64];
		struct rw_cidr c;
		if (vl >= sizeof(buf))
			return RW_EPROTO;
		memcpy(buf, v, vl);
		buf[vl] = '\0';
		if (!memchr(buf, '/', vl) || rw_cidr_parse(buf, &c, 0))
			return RW_EPROTO;
		if ((rc = rw_wg_add_allowed(p, allowed_cap, &c))) {
			*what = rc == RW_ETOOBIG ? "too many allowed IPs for one peer" : "out of memory";
			return rc;
		}
	}
	return 0;
}

int rw_wg_uapi_parse(const char *buf, size_t len, struct rw_wg_device *out, int *wg_errno,
		     char *why, size_t why_len)
{
	size_t off = 0, line_no = 0, peer_cap = 0, allowed_cap = 0;
	int have_errno = 0, rc = 0;
	*wg_errno = 0;
	if (out)
		memset(out, 0, sizeof(*out));
	if (len > RW_WG_UAPI_REPLY_MAX) {
		snprintf(why, why_len, "reply over %u bytes", RW_WG_UAPI_REPLY_MAX);
		return RW_ETOOBIG;
	}
	for (;;) {
		const char *line = buf + off;
		size_t left = len - off;
		const char *nl = memchr(line, '\n', left < RW_WG_UAPI_LINE_MAX + 1 ? left : RW_WG_UAPI_LINE_MAX + 1);
		line_no++;
		if (!nl) {
			snprintf(why, why_len, left > RW_WG_UAPI_LINE_MAX ? "line %zu: longer than %d bytes"
									  : "line %zu: reply ends without the empty line",
				 line_no, RW_WG_UAPI_LINE_MAX);
			rc = left > RW_WG_UAPI_LINE_MAX ? RW_ETOOBIG : RW_EPROTO;
			break;
		}
		size_t ll = (size_t)(nl - line);
		off += ll + 1;
		if (ll == 0) { /* the end */
			if (!have_errno) {
				snprintf(why, why_len, "line %zu: reply ends without errno=", line_no);
				rc = RW_EPROTO;
			} else if (off != len) {
				snprintf(why, why_len, "line %zu: %zu bytes after the empty line", line_no,
					 len - off);
				rc = RW_EPROTO;
			}
			break;
		}
		const char *eq = memchr(line, '=', ll);
		if (!eq || eq == line) {
			snprintf(why, why_len, "line %zu: not key=value", line_no);
			rc = RW_EPROTO;
			break;
		}
		const char *k = line, *v = eq + 1;
		size_t kl = (size_t)(eq - line), vl = ll - kl - 1;
		if (have_errno) {
			snprintf(why, why_len, "line %zu: '%.*s' after errno=", line_no, (int)kl, k);
			rc = RW_EPROTO;
			break;
		}
		if (KEY_IS("errno")) {
			uint64_t x;
			int neg = vl > 0 && v[0] == '-';
			if (rw_wg_num(v + neg, vl - (size_t)neg, 4095, &x)) {
				snprintf(why, why_len, "line %zu: errno=%.*s is not a small number", line_no,
					 (int)(vl > 32 ? 32 : vl), v);
				rc = RW_EPROTO;
				break;
			}
			*wg_errno = (int)x;
			have_errno = 1;
			continue;
		}
		if (!out) {
			snprintf(why, why_len, "line %zu: '%.*s' in a set reply", line_no, (int)kl, k);
			rc = RW_EPROTO;
			break;
		}
		const char *what = "bad value";
		if ((rc = rw_wg_get_line(out, k, kl, v, vl, &peer_cap, &allowed_cap, &what))) {
			snprintf(why, why_len, "line %zu: %.*s: %s", line_no, (int)(kl > 40 ? 40 : kl), k,
				 what);
			break;
		}
	}
	if (rc) {
		rw_wg_device_free(out);
		if (out)
			memset(out, 0, sizeof(*out));
		return rc;
	}
	if (out && out->has_private_key) {
		if (rw_wg_key_is_zero(out->private_key) ||
		    rw_wg_key_public(out->private_key, out->public_key) == 0)
			out->has_public_key = !rw_wg_key_is_zero(out->private_key);
		OPENSSL_cleanse(out->private_key, sizeof(out->private_key));
		out->has_private_key = false;
	}
	return 0;
}

/* ---- the socket --------------------------------------------------------- */

int rw_wg_uapi_path(const char *ifname, char *out, size_t out_len)
{
	int n = snprintf(out, out_len, "%s/%s.sock", RW_WG_UAPI_DIR, ifname);
	return n < 0 || (size_t)n >= out_len ? RW_ERANGE : 0;
}

static long long rw_wg_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int rw_wg_wait(int fd, short ev, long long deadline)
{
	struct pollfd p = { .fd = fd, .events = ev };
	for (;;) {
		long long left = deadline - rw_wg_now_ms();
		if (left <= 0)
			return RW_ETIMEDOUT;
		int n = poll(&p, 1, (int)left);
		if (n > 0)
			return 0;
		if (n < 0 && errno != EINTR)
			return RW_EIO;
	}
}

/* Send req, read the reply up to and including the empty line. */
static int rw_wg_exchange(const char *path, const char *req, size_t req_len, char **reply,
			  size_t *reply_len, int timeout_ms, char *why, size_t why_len)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	long long deadline = rw_wg_now_ms() + timeout_ms;
	char *buf = NULL;
	size_t len = 0, cap = 0;
	int rc = 0;
	if (strlen(path) >= sizeof(sa.sun_path)) {
		snprintf(why, why_len, "%s: path too long", path);
		return RW_ERANGE;
	}
	strcpy(sa.sun_path, path);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0) {
		snprintf(why, why_len, "socket: %s", strerror(errno));
		return RW_EIO;
	}
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
		snprintf(why, why_len, "connect %s: %s", path, strerror(errno));
		close(fd);
		return errno == ENOENT || errno == ECONNREFUSED ? RW_ENOENT : RW_EIO;
	}
	for (size_t sent = 0; sent < req_len;) {
		ssize_t n = send(fd, req + sent, req_len - sent, MSG_NOSIGNAL);
		if (n > 0) {
			sent += (size_t)n;
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN && (rc = rw_wg_wait(fd, POLLOUT, deadline)) == 0)
			continue;
		snprintf(why, why_len, "send to %s: %s", path,
			 rc ? rw_strerror(rc) : strerror(errno));
		close(fd);
		return rc ? rc : RW_EIO;
	}
	/* read until the reply ends with "\n\n" (or is just "\n") */
	for (;;) {
		if (len >= 1 && buf[len - 1] == '\n' && (len == 1 || buf[len - 2] == '\n'))
			break;
		if (cap - len < 4096) {
			size_t nc = cap ? cap * 2 : 16384;
			if (nc > RW_WG_UAPI_REPLY_MAX + 1) {
				snprintf(why, why_len, "%s: reply over %u bytes", path, RW_WG_UAPI_REPLY_MAX);
				rc = RW_ETOOBIG;
				break;
			}
			char *nb = realloc(buf, nc);
			if (!nb) {
				rc = RW_ENOMEM;
				snprintf(why, why_len, "out of memory");
				break;
			}
			buf = nb;
			cap = nc;
		}
		ssize_t n = recv(fd, buf + len, cap - len, 0);
		if (n > 0) {
			len += (size_t)n;
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN && (rc = rw_wg_wait(fd, POLLIN, deadline)) == 0)
			continue;
		if (rc == 0)
			rc = RW_EPROTO;
		snprintf(why, why_len, "%s: %s before the end of the reply", path,
			 n == 0 ? "connection closed" : rw_strerror(rc));
		break;
	}
	close(fd);
	if (rc) {
		if (buf)
			OPENSSL_cleanse(buf, cap);
		free(buf);
		return rc;
	}
	*reply = buf;
	*reply_len = len;
	return 0;
}

int rw_wg_uapi_set(const char *path, const struct rw_wg_device *dev, int timeout_ms, char *why,
		   size_t why_len)
{
	char *req, *reply;
	size_t req_len, reply_len;
	int wg_errno = 0;
	int rc = rw_wg_uapi_format_set(dev, &req, &req_len);
	if (rc) {
		snprintf(why, why_len, "out of memory");
		return rc;
	}
	rc = rw_wg_exchange(path, req, req_len, &reply, &reply_len, timeout_ms, why, why_len);
	OPENSSL_cleanse(req, req_len);
	free(req);
	if (rc)
		return rc;
	char pwhy[200];
	rc = rw_wg_uapi_parse(reply, reply_len, NULL, &wg_errno, pwhy, sizeof(pwhy));
	free(reply);
	if (rc) {
		snprintf(why, why_len, "%s: set reply: %s", path, pwhy);
		return rc;
	}
	if (wg_errno) {
		snprintf(why, why_len, "%s: set refused: %s (errno %d)", path, strerror(wg_errno),
			 wg_errno);
		return RW_EKERNEL;
	}
	return 0;
}

int rw_wg_uapi_get(const char *path, struct rw_wg_device *out, int timeout_ms, char *why,
		   size_t why_len)
{
	static const char req[] = "get=1\n\n";
	char *reply;
	size_t reply_len;
	int wg_errno = 0;
	memset(out, 0, sizeof(*out));
	int rc = rw_wg_exchange(path, req, sizeof(req) - 1, &reply, &reply_len, timeout_ms, why,
				why_len);
	if (rc)
		return rc;
	char pwhy[200];
	rc = rw_wg_uapi_parse(reply, reply_len, out, &wg_errno, pwhy, sizeof(pwhy));
	OPENSSL_cleanse(reply, reply_len);
	free(reply);
	if (rc) {
		snprintf(why, why_len, "%s: get reply: %s", path, pwhy);
		return rc;
	}
	if (wg_errno) {
		rw_wg_device_free(out);
		memset(out, 0, sizeof(*out));
		snprintf(why, why_len, "%s: get refused: %s (errno %d)", path, strerror(wg_errno),
			 wg_errno);
		return RW_EKERNEL;
	}
	return 0;
}
