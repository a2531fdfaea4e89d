/* A worker event line parsed once for all parent sinks (rw_evline.h). */
#include "appliance/rw_evline.h"

json_t *rw_evline_obj(struct rw_evline *e)
{
	if (!e->parsed) {
		e->parsed = true;
		e->obj = json_loadb(e->line, e->len, JSON_REJECT_DUPLICATES, NULL);
		if (e->obj && !json_is_object(e->obj)) {
			json_decref(e->obj);
			e->obj = NULL;
		}
	}
	return e->obj;
}

void rw_evline_fini(struct rw_evline *e)
{
	json_decref(e->obj);
	e->obj = NULL;
}
