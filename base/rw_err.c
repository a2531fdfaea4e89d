#include "base/rw_err.h"

#include <limits.h>
#include <stdarg.h>
#include <stdio.h>

static const char *const rw_err_text[] = {
	[0] = "success",
	[1] = "out of memory",
	[2] = "invalid argument",
	[3] = "incomplete input",
	[4] = "value out of range",
	[5] = "invalid configuration",
	[6] = "netlink communication failed",
	[7] = "kernel refused the change",
	[8] = "outcome unknown",
	[9] = "no such object",
	[10] = "object exists",
	[11] = "input/output error",
	[12] = "operation not permitted",
	[13] = "protocol error",
	[14] = "over limit",
	[15] = "timed out",
};

const char *rw_strerror(int err)
{
	if (err > 0 || err <= RW_ERR_MAX_)
		return "unknown error";
	return rw_err_text[-err];
}

void rw_diag_init(struct rw_diag *d)
{
	d->n_err = d->n_warn = d->n = d->dropped = 0;
}

static void rw_diag_vadd(struct rw_diag *d, int warn, const char *file, int line,
			 const char *fmt, va_list ap)
{
	if (warn)
		d->n_warn++;
	else
		d->n_err++;
	if (d->n >= RW_DIAG_MAX) {
		d->dropped++;
		return;
	}
	char *t = d->msg[d->n].text;
	size_t cap = sizeof(d->msg[d->n].text);
	int off = 0;
	if (file && line > 0)
		off = snprintf(t, cap, "%s:%d: ", file, line);
	else if (file)
		off = snprintf(t, cap, "%s: ", file);
	if (off < 0 || (size_t)off >= cap)
		off = 0;
	vsnprintf(t + off, cap - (size_t)off, fmt, ap);
	d->msg[d->n].is_warning = warn;
	d->msg[d->n].line = file ? line : 0;
	d->n++;
}

void rw_diag_err(struct rw_diag *d, const char *file, int line, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	rw_diag_vadd(d, 0, file, line, fmt, ap);
	va_end(ap);
}

void rw_diag_warn(struct rw_diag *d, const char *file, int line, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	rw_diag_vadd(d, 1, file, line, fmt, ap);
	va_end(ap);
}

void rw_diag_print(const struct rw_diag *d, FILE *out)
{
	/* stable insertion sort of indices by line (none last) */
	unsigned idx[RW_DIAG_MAX];
	for (unsigned i = 0; i < d->n; i++) {
		int li = d->msg[i].line > 0 ? d->msg[i].line : INT_MAX;
		unsigned j = i;
		while (j > 0) {
			const int lj = d->msg[idx[j - 1]].line > 0 ? d->msg[idx[j - 1]].line : INT_MAX;
			if (lj <= li)
				break;
			idx[j] = idx[j - 1];
			j--;
		}
		idx[j] = i;
	}
	for (unsigned k = 0; k < d->n; k++)
		fprintf(out, "%s%s\n", d->msg[idx[k]].is_warning ? "warning: " : "",
			d->msg[idx[k]].text);
	if (d->dropped)
		fprintf(out, "(%u more messages not shown)\n", d->dropped);
}
