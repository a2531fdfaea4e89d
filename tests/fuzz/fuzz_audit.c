/* The audit file is read by `regwallctl audit verify` (and its last line
 * by regwalld at every start): bytes an attacker with write access may
 * have shaped. The input is fed in pieces (the first byte chooses the
 * split, so lines that cross reads are exercised) to a verifier pinned to
 * the corpus key, then its last line goes through the line parser alone;
 * whatever the bytes, the result is one of the three and a failure names
 * a line. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "appliance/rw_audit_verify.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	size_t step = (size_t)data[0] * 37u + 1u;
	data++;
	size--;
	/* the key of the seed files: their open lines announce it too */
	static const uint8_t pin[32] = { 0 };
	struct rw_audit_verify v;
	if (rw_audit_verify_init(&v, size & 1 ? pin : NULL))
		return 0;
	/* sometimes the first line is also the checkpoint "kept elsewhere" */
	if (size & 2) {
		const uint8_t *e = memchr(data, '\n', size);
		char why[160];
		(void)rw_audit_verify_expect(&v, (const char *)data, e ? (size_t)(e - data) : size,
					     why, sizeof(why));
	}
	rw_audit_verify_begin(&v, "fuzz");
	for (size_t off = 0; off < size; off += step)
		rw_audit_verify_feed(&v, data + off, size - off < step ? size - off : step);
	rw_audit_verify_end(&v);
	rw_audit_verify_finish(&v);
	enum rw_audit_result r = rw_audit_verify_result(&v);
	if (r != RW_AUDIT_VERIFIED && r != RW_AUDIT_BAD && r != RW_AUDIT_UNSIGNED)
		abort();
	if (v.failed && (v.why[0] == '\0' || v.fail_line == 0))
		abort();
	if (r == RW_AUDIT_UNSIGNED && v.tail_lines == 0)
		abort();
	rw_audit_verify_fini(&v);
	/* the line parser alone, on the first line */
	const uint8_t *nl = memchr(data, '\n', size);
	size_t len = nl ? (size_t)(nl - data) : size;
	struct rw_audit_rec rec;
	char why[160];
	if (rw_audit_parse_line((const char *)data, len, &rec, why, sizeof(why)) == 0 &&
	    (rec.seq == 0 || strlen(rec.prev) != 64))
		abort();
	return 0;
}
