#include "appliance/rw_units.h"

#include <string.h>

#include "inspect/rw_err.h"

/* Strict unsigned decimal: digits only, no sign, no spaces; at most 15
 * digits so a later multiplication by 86400000 cannot overflow 64 bits. */
static int rw_units_number(const char **p, uint64_t *v)
{
	const char *s = *p;
	uint64_t n = 0;
	size_t digits = 0;
	while (*s >= '0' && *s <= '9') {
		if (++digits > 15)
			return RW_ERANGE;
		n = n * 10 + (uint64_t)(*s - '0');
		s++;
	}
	if (digits == 0)
		return RW_EINVAL;
	*p = s;
	*v = n;
	return 0;
}

int rw_duration_parse_ms(const char *text, uint64_t *ms)
{
	static const struct {
		const char *suffix;
		uint64_t ms;
	} units[] = {
		{ "ms", 1 }, { "s", 1000 }, { "", 1000 }, { "m", 60000 },
		{ "h", 3600000 }, { "d", 86400000 },
	};
	const char *p = text;
	uint64_t n;
	int r = rw_units_number(&p, &n);
	if (r)
		return r;
	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
		if (strcmp(p, units[i].suffix) == 0) {
			if (n == 0)
				return RW_ERANGE;
			*ms = n * units[i].ms;
			return 0;
		}
	}
	return RW_EINVAL;
}

int rw_rate_parse(const char *text, struct rw_rate *rate)
{
	static const struct {
		const char *unit;
		uint64_t ms;
	} units[] = {
		{ "second", 1000 }, { "minute", 60000 }, { "hour", 3600000 }, { "day", 86400000 },
	};
	const char *p = text;
	uint64_t n;
	int r = rw_units_number(&p, &n);
	if (r)
		return r;
	if (*p++ != '/')
		return RW_EINVAL;
	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
		if (strcmp(p, units[i].unit) == 0) {
			if (n == 0 || n > UINT32_MAX)
				return RW_ERANGE;
			rate->count = n;
			rate->per_ms = units[i].ms;
			rate->burst = 0;
			return 0;
		}
	}
	return RW_EINVAL;
}
