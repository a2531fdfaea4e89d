/* Value parsers for config strings: durations, rates, endpoints, names,
 * roles, fingerprints, WireGuard keys. Pure functions, no allocation.
 *
 * Config text is admin input, but it is also what the fuzzer feeds, so it
 * is read through struct rw_cursor like any other untrusted bytes. */
#include "appliance/rw_config_int.h"
#include "appliance/rw_wg_key.h"

#include <arpa/inet.h>
#include <string.h>
#include <sys/socket.h>

#include "base/rw_cursor.h"
#include "rules/rw_cidr.h"

static void rw_cfg_cur_str(struct rw_cursor *c, const char *s)
{
	rw_cur_init(c, s, strlen(s));
}

static int rw_cfg_is_digit(uint8_t ch)
{
	return ch >= '0' && ch <= '9';
}

/* Decimal digits into *v, refusing overflow past 'max' and leading zeros
 * (a "010" is more likely a typo than ten). At least one digit. */
static int rw_cfg_cur_uint(struct rw_cursor *c, uint64_t max, uint64_t *v)
{
	uint8_t ch;
	uint64_t acc = 0;
	size_t n = 0;
	while (rw_cur_peek_u8(c, 0, &ch) == 0 && rw_cfg_is_digit(ch)) {
		if (n == 1 && acc == 0)
			return RW_EINVAL;
		uint64_t d = (uint64_t)(ch - '0');
		if (acc > (max - d) / 10)
			return RW_ERANGE;
		acc = acc * 10 + d;
		rw_cur_skip(c, 1);
		n++;
	}
	if (n == 0)
		return RW_EINVAL;
	*v = acc;
	return 0;
}

/* The rest of the cursor equals word exactly. */
static int rw_cfg_cur_rest_is(const struct rw_cursor *c, const char *word)
{
	size_t n = strlen(word);
	return rw_cur_left(c) == n && memcmp(rw_cur_ptr(c), word, n) == 0;
}

/*
 * duration := digits [ "ms" | "s" | "m" | "h" | "d" ]
 * No unit means seconds. One number, one unit: "1h30m" is refused rather
 * than half-understood.
 */
int rw_duration_parse_ms(const char *s, uint64_t *ms)
{
	static const struct {
		const char *unit;
		uint64_t ms;
	} units[] = {
		{ "", 1000 },    { "ms", 1 },         { "s", 1000 },
		{ "m", 60000 },  { "h", 3600000 },    { "d", 86400000 },
	};
	struct rw_cursor c;
	uint64_t n;
	rw_cfg_cur_str(&c, s);
	int r = rw_cfg_cur_uint(&c, UINT64_MAX, &n);
	if (r)
		return r;
	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
		if (!rw_cfg_cur_rest_is(&c, units[i].unit))
			continue;
		if (n > UINT64_MAX / units[i].ms)
			return RW_ERANGE;
		*ms = n * units[i].ms;
		return 0;
	}
	return RW_EINVAL;
}

/* rate := digits "/" ( "second" | "minute" | "hour" ) */
int rw_rate_parse(const char *s, struct rw_rate *out)
{
	static const struct {
		const char *unit;
		uint64_t ms;
	} units[] = { { "second", 1000 }, { "minute", 60000 }, { "hour", 3600000 } };
	struct rw_cursor c;
	uint64_t n;
	uint8_t ch;
	rw_cfg_cur_str(&c, s);
	int r = rw_cfg_cur_uint(&c, 1000000000u, &n);
	if (r)
		return r;
	if (n == 0)
		return RW_ERANGE;
	if (rw_cur_u8(&c, &ch) || ch != '/')
		return RW_EINVAL;
	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
		if (rw_cfg_cur_rest_is(&c, units[i].unit)) {
			memset(out, 0, sizeof(*out));
			out->count = n;
			out->per_ms = units[i].ms;
			return 0;
		}
	}
	return RW_EINVAL;
}

/*
 * endpoint := ipv4 ":" port | "[" ipv6 "]" ":" port
 * Names are refused: resolving them would make the firewall's behaviour
 * depend on DNS at load time.
 */
int rw_cfg_parse_endpoint(const char *s, struct rw_endpoint *out)
{
	struct rw_cursor c;
	char host[INET6_ADDRSTRLEN];
	const uint8_t *p;
	uint8_t ch;
	size_t hlen;
	int v6 = 0;

	rw_cfg_cur_str(&c, s);
	if (rw_cur_peek_u8(&c, 0, &ch))
		return RW_EINVAL;
	if (ch == '[') {
		v6 = 1;
		rw_cur_skip(&c, 1);
		for (hlen = 0; rw_cur_peek_u8(&c, hlen, &ch) == 0 && ch != ']'; hlen++)
			;
		if (rw_cur_peek_u8(&c, hlen, &ch))
			return RW_EINVAL; /* no ']' */
	} else {
		/* the last ':' separates the port; a second one means a bare v6 */
		size_t colons = 0, last = 0;
		for (size_t i = 0; rw_cur_peek_u8(&c, i, &ch) == 0; i++)
			if (ch == ':') {
				colons++;
				last = i;
			}
		if (colons != 1)
			return RW_EINVAL;
		hlen = last;
	}
	if (hlen == 0 || hlen >= sizeof(host) || rw_cur_bytes(&c, hlen, &p))
		return RW_EINVAL;
	memcpy(host, p, hlen);
	host[hlen] = '\0';
	if (v6 && (rw_cur_u8(&c, &ch) || ch != ']'))
		return RW_EINVAL;
	if (rw_cur_u8(&c, &ch) || ch != ':')
		return RW_EINVAL;

	memset(out, 0, sizeof(*out));
	if (inet_pton(v6 ? AF_INET6 : AF_INET, host, out->addr) != 1)
		return RW_EINVAL;
	/* an IPv4 address in disguise would slip past the checks that compare
	 * families (a duplicate port); rw_cidr_mapped_msg says what to write */
	if (v6 && rw_cidr_addr_is_mapped(out->addr))
		return RW_EINVAL;
	out->family = v6 ? AF_INET6 : AF_INET;

	uint64_t port;
	int r = rw_cfg_cur_uint(&c, 1000000, &port);
	if (r == RW_ERANGE)
		return RW_ERANGE;
	if (r || rw_cur_left(&c) != 0)
		return RW_EINVAL;
	if (port < 1 || port > 65535)
		return RW_ERANGE;
	out->port = (uint16_t)port;
	return 0;
}

int rw_cfg_check_name(const char *s)
{
	size_t n = strlen(s);
	if (n == 0 || n >= RW_NAME_MAX || s[0] < 'a' || s[0] > 'z')
		return RW_EINVAL;
	for (size_t i = 1; i < n; i++) {
		char ch = s[i];
		if (!((ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '_' ||
		      ch == '-'))
			return RW_EINVAL;
	}
	return 0;
}

/*
 * name  := [ "*." ] label *( "." label )    at most 253 chars
 * label := 1..63 of [a-z0-9-], not starting or ending with '-'
 * Upper case is accepted and folded: SNI comparison is case-insensitive,
 * and storing one case lets fwd/ compare bytes.
 */
int rw_cfg_server_name_norm(char *s)
{
	size_t n = strlen(s), i = 0, label = 0;
	if (n == 0 || n > 253)
		return RW_EINVAL;
	if (n >= 2 && s[0] == '*' && s[1] == '.')
		i = 2;
	if (i == n)
		return RW_EINVAL;
	for (; i <= n; i++) {
		char ch = s[i];
		if (ch == '.' || ch == '\0') {
			if (label == 0 || label > 63 || s[i - 1] == '-')
				return RW_EINVAL;
			label = 0;
			continue;
		}
		if (ch >= 'A' && ch <= 'Z')
			s[i] = ch = (char)(ch - 'A' + 'a');
		if (!((ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '-'))
			return RW_EINVAL;
		if (label == 0 && ch == '-')
			return RW_EINVAL;
		label++;
	}
	return 0;
}

/* role := ( "pull" | "push" | "delete" ) ":" glob
 * glob := one or more of a-z 0-9 . _ / * - */
int rw_cfg_parse_role(const char *s, enum rw_op_class *op, const char **glob_out)
{
	static const struct {
		const char *prefix;
		enum rw_op_class op;
	} ops[] = { { "pull:", RW_ROLE_PULL }, { "push:", RW_ROLE_PUSH }, { "delete:", RW_ROLE_DELETE } };
	for (size_t i = 0; i < sizeof(ops) / sizeof(ops[0]); i++) {
		size_t plen = strlen(ops[i].prefix);
		if (strncmp(s, ops[i].prefix, plen) != 0)
			continue;
		const char *g = s + plen;
		if (*g == '\0')
			return RW_EINVAL;
		for (const char *q = g; *q; q++)
			if (!((*q >= 'a' && *q <= 'z') || (*q >= '0' && *q <= '9') ||
			      strchr("._/*-", *q)))
				return RW_EINVAL;
		*op = ops[i].op;
		*glob_out = g;
		return 0;
	}
	return RW_EINVAL;
}

static int rw_cfg_hexval(uint8_t ch)
{
	if (ch >= '0' && ch <= '9')
		return ch - '0';
	if (ch >= 'a' && ch <= 'f')
		return ch - 'a' + 10;
	if (ch >= 'A' && ch <= 'F')
		return ch - 'A' + 10;
	return -1;
}

/* "ab12..." (64 hex) or "AB:12:..." (32 pairs, 31 colons); no mixing. */
int rw_cfg_parse_sha256(const char *s, uint8_t out[32])
{
	struct rw_cursor c;
	rw_cfg_cur_str(&c, s);
	size_t len = rw_cur_left(&c);
	int colons;
	if (len == 64)
		colons = 0;
	else if (len == 95)
		colons = 1;
	else
		return RW_EINVAL;
	for (size_t i = 0; i < 32; i++) {
		uint8_t hi, lo, sep;
		if (colons && i > 0 && (rw_cur_u8(&c, &sep) || sep != ':'))
			return RW_EINVAL;
		if (rw_cur_u8(&c, &hi) || rw_cur_u8(&c, &lo))
			return RW_EINVAL;
		int h = rw_cfg_hexval(hi), l = rw_cfg_hexval(lo);
		if (h < 0 || l < 0)
			return RW_EINVAL;
		out[i] = (uint8_t)(h << 4 | l);
	}
	return rw_cur_left(&c) == 0 ? 0 : RW_EINVAL;
}

/* The strict decoder WireGuard keys get everywhere (appliance/rw_wg_key.c:
 * 43 symbols, '=', zero trailing bits), so the config and `peer add`
 * cannot disagree on which strings name one key. */
int rw_cfg_parse_wg_key(const char *s, uint8_t out[32])
{
	return rw_wg_key_from_base64(s, s ? strlen(s) : 0, out);
}

int rw_cfg_check_ifname(const char *s)
{
	size_t n = strlen(s);
	if (n == 0 || n > 15)
		return RW_EINVAL;
	for (size_t i = 0; i < n; i++) {
		char ch = s[i];
		if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
		      (ch >= '0' && ch <= '9') || ch == '_' || ch == '.' || ch == '-'))
			return RW_EINVAL;
	}
	/* "." and ".." are refused by the kernel (dev_valid_name) */
	if (strcmp(s, ".") == 0 || strcmp(s, "..") == 0)
		return RW_EINVAL;
	return 0;
}
