/* OCI name / tag / digest grammar (distribution-spec v1.1.1 and image-spec).
 *
 *   name      = component *( "/" component )                <= 255 bytes
 *   component = [a-z0-9]+ *( ( "." / "_" / "__" / "-"+ ) [a-z0-9]+ )
 *   tag       = [a-zA-Z0-9_] [a-zA-Z0-9._-]{0,127}
 *   digest    = algorithm ":" encoded                        <= 255 bytes
 *   algorithm = [a-z0-9]+ *( [+._-] [a-z0-9]+ )
 *   encoded   = [a-zA-Z0-9=_-]+ ; sha256: [a-f0-9]{64}, sha512: [a-f0-9]{128}
 *
 * Hand-written scanners rather than regex: they run per request on the
 * data path and must not allocate. */
#include <string.h>

#include "inspect/rw_oci.h"

static bool lower_alnum(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

static bool alnum(char c)
{
	return lower_alnum(c) || (c >= 'A' && c <= 'Z');
}

static bool valid_component(const char *s, size_t len)
{
	size_t i = 0;
	if (len == 0 || !lower_alnum(s[0]))
		return false;
	while (i < len) {
		while (i < len && lower_alnum(s[i]))
			i++;
		if (i == len)
			return true;
		size_t j = i;
		while (j < len && !lower_alnum(s[j]))
			j++;
		if (j == len)
			return false; /* ends in a separator */
		size_t run = j - i;
		bool ok;
		if (run == 1)
			ok = s[i] == '.' || s[i] == '_' || s[i] == '-';
		else if (run == 2 && s[i] == '_' && s[i + 1] == '_')
			ok = true;
		else {
			ok = true;
			for (size_t k = i; k < j; k++)
				ok = ok && s[k] == '-';
		}
		if (!ok)
			return false;
		i = j;
	}
	return true;
}

bool rw_oci_valid_name(const char *s, size_t len)
{
	if (!s || len == 0 || len > RW_OCI_NAME_MAX)
		return false;
	size_t start = 0;
	for (size_t i = 0; i <= len; i++) {
		if (i == len || s[i] == '/') {
			if (!valid_component(s + start, i - start))
				return false;
			start = i + 1;
		}
	}
	return true;
}

bool rw_oci_valid_tag(const char *s, size_t len)
{
	if (!s || len == 0 || len > RW_OCI_TAG_MAX)
		return false;
	if (!alnum(s[0]) && s[0] != '_')
		return false;
	for (size_t i = 1; i < len; i++)
		if (!alnum(s[i]) && s[i] != '.' && s[i] != '_' && s[i] != '-')
			return false;
	return true;
}

static bool all_lower_hex(const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return false;
	return true;
}

bool rw_oci_valid_digest(const char *s, size_t len)
{
	if (!s || len == 0 || len > RW_OCI_DIGEST_MAX)
		return false;
	const char *colon = memchr(s, ':', len);
	if (!colon)
		return false;
	size_t alen = (size_t)(colon - s), elen = len - alen - 1;
	/* algorithm: components of [a-z0-9]+ joined by single [+._-] */
	if (alen == 0 || !lower_alnum(s[0]) || !lower_alnum(s[alen - 1]))
		return false;
	for (size_t i = 1; i < alen; i++) {
		if (lower_alnum(s[i]))
			continue;
		bool sep = s[i] == '+' || s[i] == '.' || s[i] == '_' || s[i] == '-';
		if (!sep || !lower_alnum(s[i - 1]))
			return false;
	}
	const char *e = colon + 1;
	if (elen == 0)
		return false;
	for (size_t i = 0; i < elen; i++)
		if (!alnum(e[i]) && e[i] != '=' && e[i] != '_' && e[i] != '-')
			return false;
	if (alen == 6 && memcmp(s, "sha256", 6) == 0)
		return elen == 64 && all_lower_hex(e, elen);
	if (alen == 6 && memcmp(s, "sha512", 6) == 0)
		return elen == 128 && all_lower_hex(e, elen);
	return true;
}
