#include "fwd/rw_names.h"

#include <string.h>
#include <strings.h>

/* Length of host without one trailing dot. */
static size_t rw_names_hostlen(const char *host)
{
	size_t n = strlen(host);
	if (n > 0 && host[n - 1] == '.')
		n--;
	return n;
}

bool rw_names_match_one(const char *pattern, const char *host)
{
	if (!pattern || !host)
		return false;
	size_t hl = rw_names_hostlen(host);
	size_t pl = strlen(pattern);
	if (hl == 0 || pl == 0)
		return false;
	if (pattern[0] != '*')
		return pl == hl && strncasecmp(pattern, host, hl) == 0;
	/* "*.suffix": the suffix needs at least one label of its own. */
	if (pl < 3 || pattern[1] != '.' || strchr(pattern + 2, '*'))
		return false;
	const char *suffix = pattern + 1; /* ".suffix" */
	size_t sl = pl - 1;
	if (hl <= sl)
		return false;
	size_t label = hl - sl; /* bytes of the host's first label */
	if (strncasecmp(host + label, suffix, sl) != 0)
		return false;
	/* exactly one label: no dot inside the part the '*' covers */
	return memchr(host, '.', label) == NULL;
}

bool rw_names_match(char *const *patterns, size_t n, const char *host)
{
	for (size_t i = 0; i < n; i++)
		if (rw_names_match_one(patterns[i], host))
			return true;
	return false;
}
