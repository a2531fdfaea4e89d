/* Server-name matching for listeners (SNI against the allowed names).
 *
 * Patterns are either an exact host name or "*.suffix". A wildcard stands
 * for exactly ONE whole label, as in TLS certificates (RFC 6125 §6.4.3):
 * "*.example.test" matches "a.example.test" but neither "example.test" nor
 * "a.b.example.test". One-label keeps the listener's list and the
 * registry's certificate agreeing on what a name covers; a deeper match
 * would let through names the certificate cannot serve anyway. Partial
 * label wildcards ("reg*.example.test") never match.
 *
 * Comparison is ASCII case-insensitive; a single trailing dot on the host
 * is ignored. Hosts are expected to be A-labels (what SNI carries). */
#ifndef RW_NAMES_H
#define RW_NAMES_H

#include <stdbool.h>
#include <stddef.h>

bool rw_names_match_one(const char *pattern, const char *host);
/* True if any of the n patterns matches host. n == 0 matches nothing. */
bool rw_names_match(char *const *patterns, size_t n, const char *host);

#endif
