/* SNI host name check. A name that passes is something the policy can
 * compare byte for byte against configured names: no case games, no
 * trailing-dot aliases, no NULs that C string code would cut at, and no IP
 * literal (RFC 6066 §3 forbids them, and a firewall keyed on names must not
 * be steered by one). */
#include "inspect/rw_tls_name.h"

#include <stdbool.h>

#include "base/rw_err.h"

static bool rw_tls_name_ldh(uint8_t c)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-';
}

int rw_tls_name_check(struct rw_cursor *name, char *out, size_t out_size)
{
	size_t len = rw_cur_left(name), label = 0, at = 0;
	bool label_digits = true;
	uint8_t c, prev = '.';

	if (len == 0 || len > 253)
		return RW_EINVAL;
	if (out_size <= len)
		return RW_ERANGE;
	while (rw_cur_u8(name, &c) == 0) {
		if (c >= 'A' && c <= 'Z')
			c = (uint8_t)(c - 'A' + 'a');
		if (c == '.') {
			/* empty label (leading dot, "..", or trailing dot), or hyphen at its end */
			if (label == 0 || prev == '-')
				return RW_EINVAL;
			label = 0;
			label_digits = true;
		} else {
			if (!rw_tls_name_ldh(c))
				return RW_EINVAL;
			if (c == '-' && label == 0)
				return RW_EINVAL;
			if (++label > 63)
				return RW_EINVAL;
			if (c < '0' || c > '9')
				label_digits = false;
		}
		out[at++] = (char)c;
		prev = c;
	}
	/* trailing dot, hyphen ending the last label, or an all-digit last
	 * label: "10.0.0.1", "127.1" and friends are IP literals, not names */
	if (label == 0 || prev == '-' || label_digits)
		return RW_EINVAL;
	out[at] = '\0';
	return 0;
}
