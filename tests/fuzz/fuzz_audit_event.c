/* A worker's event line is untrusted for the parent (a worker may be
 * compromised): rw_audit_record turns it into an audit record or
 * nothing. Whatever the bytes, the record is one of the four kinds the
 * parent builds, carries the parent's pid and generation (never the
 * worker's), no chain field (seq, prev, time), and its line fits the cap
 * with no raw control byte. */
#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "appliance/rw_audit.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	int unparsed = 0;
	json_t *o = rw_audit_record((const char *)data, size, 4242, 7, &unparsed);
	if (!o)
		return 0;
	const char *kind = json_string_value(json_object_get(o, "kind"));
	if (!kind || (strcmp(kind, "push") && strcmp(kind, "delete") && strcmp(kind, "refuse") &&
		      strcmp(kind, "invalid")))
		abort();
	if (json_integer_value(json_object_get(o, "worker_pid")) != 4242 ||
	    json_integer_value(json_object_get(o, "worker_generation")) != 7)
		abort();
	if (json_object_get(o, "seq") || json_object_get(o, "prev") || json_object_get(o, "time"))
		abort();
	char *s = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
	if (!s || strlen(s) + 200 >= RW_AUDIT_LINE_MAX)
		abort();
	for (const unsigned char *p = (const unsigned char *)s; *p; p++)
		if (*p < 0x20 || *p == 0x7f)
			abort();
	free(s);
	json_decref(o);
	return 0;
}
