/* Glob matching as a row of booleans over name prefixes: row[j] says the
 * glob read so far matches name[0..j). Each glob token maps the row to the
 * next one, so stars never backtrack (a role like "*a*a*a*b" cannot make a
 * request cost exponential time). */
#include "rules/rw_glob.h"

#include <string.h>

#define RW_GLOB_NAME_MAX 255

bool rw_glob_is_all(const char *glob)
{
	if (!glob || !*glob)
		return false;
	for (; *glob; glob++)
		if (*glob != '*')
			return false;
	return true;
}

bool rw_glob_match(const char *glob, const char *name)
{
	if (!glob || !name)
		return false;
	size_t n = strnlen(name, RW_GLOB_NAME_MAX + 1);
	if (n > RW_GLOB_NAME_MAX)
		return false;
	if (rw_glob_is_all(glob))
		return true;
	bool row[RW_GLOB_NAME_MAX + 1], nxt[RW_GLOB_NAME_MAX + 1];
	memset(row, 0, sizeof(row));
	row[0] = true;
	for (const char *g = glob; *g;) {
		if (g[0] == '*' && g[1] == '*') {
			/* any run of characters */
			nxt[0] = row[0];
			for (size_t j = 1; j <= n; j++)
				nxt[j] = row[j] || nxt[j - 1];
			g += 2;
		} else if (g[0] == '*') {
			/* a run without '/' */
			nxt[0] = row[0];
			for (size_t j = 1; j <= n; j++)
				nxt[j] = row[j] || (nxt[j - 1] && name[j - 1] != '/');
			g += 1;
		} else {
			nxt[0] = false;
			for (size_t j = 1; j <= n; j++)
				nxt[j] = row[j - 1] && name[j - 1] == *g;
			g += 1;
		}
		memcpy(row, nxt, (n + 1) * sizeof(row[0]));
	}
	return row[n];
}
