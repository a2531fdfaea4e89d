/* The text exposition format 0.0.4, written by hand: HELP and TYPE
 * lines, samples with escaped label values, one growable buffer. */
#include "appliance/rw_metrics.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void rw_mo_put(struct rw_metrics_out *o, const char *s, size_t n)
{
	if (o->oom)
		return;
	if (o->len + n + 1 > o->cap) {
		size_t cap = o->cap ? o->cap : 4096;
		while (o->len + n + 1 > cap)
			cap *= 2;
		char *p = realloc(o->p, cap);
		if (!p) {
			o->oom = true;
			return;
		}
		o->p = p;
		o->cap = cap;
	}
	memcpy(o->p + o->len, s, n);
	o->len += n;
	o->p[o->len] = '\0';
}

static void rw_mo_str(struct rw_metrics_out *o, const char *s)
{
	rw_mo_put(o, s, strlen(s));
}

void rw_metrics_out_free(struct rw_metrics_out *o)
{
	free(o->p);
	*o = (struct rw_metrics_out){ 0 };
}

/* HELP text escapes only '\\' and '\n'; label values also '"'. */
static void rw_mo_escaped(struct rw_metrics_out *o, const char *v, bool quote)
{
	const char *run = v;
	for (; *v; v++) {
		const char *esc = *v == '\\' ? "\\\\" : *v == '\n' ? "\\n"
			      : quote && *v == '"' ? "\\\"" : NULL;
		if (!esc)
			continue;
		rw_mo_put(o, run, (size_t)(v - run));
		rw_mo_str(o, esc);
		run = v + 1;
	}
	rw_mo_put(o, run, (size_t)(v - run));
}

void rw_metrics_escape_label(struct rw_metrics_out *o, const char *v)
{
	rw_mo_escaped(o, v ? v : "", true);
}

void rw_metrics_family(struct rw_metrics_out *o, const char *name, enum rw_metrics_type type,
		       const char *help)
{
	rw_mo_str(o, "# HELP ");
	rw_mo_str(o, name);
	rw_mo_str(o, " ");
	rw_mo_escaped(o, help, false);
	rw_mo_str(o, "\n# TYPE ");
	rw_mo_str(o, name);
	rw_mo_str(o, type == RW_METRICS_GAUGE ? " gauge\n" : " counter\n");
}

static void rw_mo_series(struct rw_metrics_out *o, const char *name,
			 const struct rw_metrics_label *labels, size_t n)
{
	rw_mo_str(o, name);
	if (n) {
		rw_mo_str(o, "{");
		for (size_t i = 0; i < n; i++) {
			if (i)
				rw_mo_str(o, ",");
			rw_mo_str(o, labels[i].name);
			rw_mo_str(o, "=\"");
			rw_metrics_escape_label(o, labels[i].value);
			rw_mo_str(o, "\"");
		}
		rw_mo_str(o, "}");
	}
}

void rw_metrics_sample(struct rw_metrics_out *o, const char *name,
		       const struct rw_metrics_label *labels, size_t n_labels, uint64_t value)
{
	char num[32];
	rw_mo_series(o, name, labels, n_labels);
	snprintf(num, sizeof(num), " %" PRIu64 "\n", value);
	rw_mo_str(o, num);
}

void rw_metrics_sample_i64(struct rw_metrics_out *o, const char *name,
			   const struct rw_metrics_label *labels, size_t n_labels, int64_t value)
{
	char num[32];
	rw_mo_series(o, name, labels, n_labels);
	snprintf(num, sizeof(num), " %" PRId64 "\n", value);
	rw_mo_str(o, num);
}

