/* Peer command members (see rw_wg_ctl.h). */
#include "appliance/rw_wg_ctl.h"

#include <stdio.h>
#include <string.h>

#include "appliance/rw_config_int.h"
#include "appliance/rw_wg_key.h"
#include "base/rw_err.h"

/* a peer name: what the config allows for names ([a-z][a-z0-9_-]*) */
static int rw_wg_ctl_name_ok(const char *s)
{
	size_t n = strlen(s);
	if (n == 0 || n >= RW_NAME_MAX || !(s[0] >= 'a' && s[0] <= 'z'))
		return 0;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-'))
			return 0;
	}
	return 1;
}

int rw_wg_ctl_member(int is_add, const char *key, json_t *val, struct rw_ctl_peer *p, char *err,
		     size_t errlen)
{
	if (strcmp(key, "peer") == 0) {
		const char *s = json_string_value(val);
		if (!s || !rw_wg_ctl_name_ok(s)) {
			snprintf(err, errlen, "\"peer\" must be a name of [a-z][a-z0-9_-]* (at most %d)",
				 RW_NAME_MAX - 1);
			return RW_EINVAL;
		}
		memcpy(p->name, s, strlen(s) + 1);
		return 1;
	}
	if (!is_add)
		return 0;
	if (strcmp(key, "public_key") == 0) {
		const char *s = json_string_value(val);
		if (!s || rw_wg_key_from_base64(s, strlen(s), p->public_key) ||
		    rw_wg_key_is_zero(p->public_key)) {
			snprintf(err, errlen, "\"public_key\" must be a WireGuard public key (base64 "
					      "of 32 bytes, 44 characters ending in '=')");
			return RW_EINVAL;
		}
		p->has_key = 1;
		return 1;
	}
	if (strcmp(key, "roles") == 0) {
		size_t i;
		json_t *v;
		if (!json_is_array(val) || json_array_size(val) == 0 ||
		    json_array_size(val) > RW_CTL_PEER_ROLES_MAX) {
			snprintf(err, errlen, "\"roles\" must be an array of 1..%d strings",
				 RW_CTL_PEER_ROLES_MAX);
			return RW_EINVAL;
		}
		json_array_foreach(val, i, v) {
			const char *s = json_string_value(v), *glob;
			enum rw_op_class op;
			if (!s || strlen(s) >= RW_CTL_PEER_ROLE_LEN || rw_cfg_parse_role(s, &op, &glob)) {
				snprintf(err, errlen, "role \"%.64s\": expected pull:, push: or delete: "
						      "and a repository glob of [a-z0-9._/*-]",
					 s ? s : "(not a string)");
				return RW_EINVAL;
			}
			memcpy(p->roles[i], s, strlen(s) + 1);
		}
		p->n_roles = json_array_size(val);
		return 1;
	}
	return 0;
}

int rw_wg_ctl_check(int is_add, const struct rw_ctl_peer *p, char *err, size_t errlen)
{
	if (!p->name[0]) {
		snprintf(err, errlen, "missing \"peer\"");
		return RW_EINVAL;
	}
	if (is_add && p->n_roles == 0) {
		snprintf(err, errlen, "missing \"roles\" (what the peer may do, e.g. push:team-a/*)");
		return RW_EINVAL;
	}
	return 0;
}
