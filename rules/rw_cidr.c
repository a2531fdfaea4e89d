#include "rules/rw_cidr.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "base/rw_err.h"

static size_t rw_cidr_alen(int family)
{
	return family == AF_INET ? 4 : 16;
}

static int rw_cidr_host_bits_set(const struct rw_cidr *c)
{
	size_t alen = rw_cidr_alen(c->family);
	for (size_t bit = c->prefix; bit < alen * 8; bit++)
		if (c->addr[bit / 8] & (0x80u >> (bit % 8)))
			return 1;
	return 0;
}

void rw_cidr_clear_host_bits(struct rw_cidr *c)
{
	size_t alen = rw_cidr_alen(c->family);
	for (size_t bit = c->prefix; bit < alen * 8; bit++)
		c->addr[bit / 8] &= (uint8_t)~(0x80u >> (bit % 8));
}

int rw_cidr_parse(const char *text, struct rw_cidr *out, int allow_host_bits)
{
	char buf[64];
	size_t len = strlen(text);
	if (len == 0 || len >= sizeof(buf))
		return RW_EINVAL;
	memcpy(buf, text, len + 1);

	memset(out, 0, sizeof(*out));
	char *slash = strchr(buf, '/');
	long prefix = -1;
	if (slash) {
		*slash = '\0';
		const char *p = slash + 1;
		/* digits only: no sign, no spaces, no leading zeros beyond "0" */
		if (*p == '\0' || strlen(p) > 3 || (p[0] == '0' && p[1] != '\0'))
			return RW_EINVAL;
		prefix = 0;
		for (; *p; p++) {
			if (*p < '0' || *p > '9')
				return RW_EINVAL;
			prefix = prefix * 10 + (*p - '0');
		}
	}
	if (inet_pton(AF_INET, buf, out->addr) == 1)
		out->family = AF_INET;
	else if (inet_pton(AF_INET6, buf, out->addr) == 1)
		out->family = AF_INET6;
	else
		return RW_EINVAL;

	long max = (long)rw_cidr_alen(out->family) * 8;
	if (prefix < 0)
		prefix = max;
	if (prefix > max)
		return RW_ERANGE;
	out->prefix = (uint8_t)prefix;
	if (out->family == AF_INET6 && prefix >= 96 && rw_cidr_addr_is_mapped(out->addr))
		return RW_EINVAL;
	if (rw_cidr_host_bits_set(out)) {
		if (!allow_host_bits)
			return RW_EINVAL;
	}
	return 0;
}

int rw_cidr_addr_is_mapped(const uint8_t addr[16])
{
	static const uint8_t pfx[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };
	return memcmp(addr, pfx, sizeof(pfx)) == 0;
}

int rw_cidr_mapped_msg(const char *text, char *msg, size_t len)
{
	char host[64], v4[INET_ADDRSTRLEN];
	const char *tail = "", *end;
	uint8_t a[16];
	int endpoint = text[0] == '[';
	if (endpoint) {
		text++;
		end = strchr(text, ']');
		if (!end)
			return 0;
		tail = end + 1; /* ":port", kept as written */
	} else {
		end = strchr(text, '/');
		if (!end)
			end = text + strlen(text);
	}
	size_t hlen = (size_t)(end - text);
	if (hlen >= sizeof(host))
		return 0;
	memcpy(host, text, hlen);
	host[hlen] = '\0';
	if (inet_pton(AF_INET6, host, a) != 1 || !rw_cidr_addr_is_mapped(a) ||
	    !inet_ntop(AF_INET, a + 12, v4, sizeof(v4)))
		return 0;
	if (endpoint) {
		snprintf(msg, len,
			 "an IPv4-mapped IPv6 address is an IPv4 address in disguise (the kernel "
			 "sees IPv4, and the checks would take it for IPv6); write %s%s",
			 v4, tail);
		return 1;
	}
	char pfx[8] = "";
	if (*end == '/') {
		/* only the prefix lengths rw_cidr_parse would otherwise take */
		long n = strtol(end + 1, NULL, 10);
		if (n < 96 || n > 128)
			return 0;
		if (n < 128)
			snprintf(pfx, sizeof(pfx), "/%ld", n - 96);
	}
	snprintf(msg, len,
		 "an IPv4-mapped IPv6 address never matches (the kernel sees IPv4); write %s%s", v4,
		 pfx);
	return 1;
}

void rw_cidr_format(const struct rw_cidr *c, char *buf, size_t len)
{
	char a[INET6_ADDRSTRLEN];
	if (!inet_ntop(c->family == AF_INET ? AF_INET : AF_INET6, c->addr, a, sizeof(a)))
		snprintf(a, sizeof(a), "?");
	snprintf(buf, len, "%s/%u", a, c->prefix);
}

int rw_cidr_overlap(const struct rw_cidr *a, const struct rw_cidr *b)
{
	return rw_cidr_contains(a, b->family, b->addr) || rw_cidr_contains(b, a->family, a->addr);
}

int rw_cidr_contains(const struct rw_cidr *c, int family, const void *addr)
{
	if (c->family != family)
		return 0;
	const uint8_t *a = addr;
	size_t full = c->prefix / 8, rem = c->prefix % 8;
	if (memcmp(c->addr, a, full) != 0)
		return 0;
	if (rem) {
		uint8_t mask = (uint8_t)(0xffu << (8 - rem));
		if ((c->addr[full] & mask) != (a[full] & mask))
			return 0;
	}
	return 1;
}

void rw_cidr_range(const struct rw_cidr *c, uint8_t start[16], uint8_t end[16], int *end_overflow)
{
	size_t alen = rw_cidr_alen(c->family);
	memset(start, 0, 16);
	memset(end, 0, 16);
	memcpy(start, c->addr, alen);
	memcpy(end, c->addr, alen);
	for (size_t bit = c->prefix; bit < alen * 8; bit++) {
		start[bit / 8] &= (uint8_t)~(0x80u >> (bit % 8));
		end[bit / 8] |= (uint8_t)(0x80u >> (bit % 8));
	}
	/* end = last address + 1, big-endian increment with carry */
	int carry = 1;
	for (size_t i = alen; i-- > 0 && carry;) {
		end[i] = (uint8_t)(end[i] + 1);
		carry = end[i] == 0;
	}
	*end_overflow = carry;
}
