/* cert_subject text from the config file -> RFC 2253 (rw_cert_dn). Any
 * bytes: no crash, and an accepted name is stable (normalizing the output
 * again gives the same text) and within the buffer. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "inspect/rw_cert.h"
#include "inspect/rw_cert_dn.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char in[1024], out[RW_CERT_DN_MAX], again[RW_CERT_DN_MAX], why[400];
	if (size >= sizeof(in))
		size = sizeof(in) - 1;
	memcpy(in, data, size);
	in[size] = '\0';
	if (rw_cert_dn_normalize(in, out, sizeof(out), why, sizeof(why)) != 0)
		return 0;
	if (strlen(out) >= sizeof(out))
		abort();
	/* RFC 2253 output is a fixed point (unless it now trips the order
	 * check, which the top-down input forms can produce legitimately) */
	if (rw_cert_dn_normalize(out, again, sizeof(again), why, sizeof(why)) == 0 &&
	    strcmp(out, again) != 0)
		abort();
	return 0;
}
