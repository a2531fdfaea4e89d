/* regwallctl peer commands (see rw_wg_cli.h). */
#include "appliance/rw_wg_cli.h"

#include <qrencode.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

int rw_wg_cli_build(int argc, char **argv, json_t *req, int *qr, int *json)
{
	const char *sub = argc > 1 ? argv[1] : "";
	if (strcmp(sub, "list") == 0) {
		for (int i = 2; i < argc; i++) {
			if (strcmp(argv[i], "--json") != 0)
				return 0;
			*json = 1;
		}
		json_object_set_new(req, "cmd", json_string("peer list"));
		return 1;
	}
	if (argc < 3 || (strcmp(sub, "add") != 0 && strcmp(sub, "del") != 0))
		return 0;
	char cmd[16];
	snprintf(cmd, sizeof(cmd), "peer %s", sub);
	json_object_set_new(req, "cmd", json_string(cmd));
	json_object_set_new(req, "peer", json_string(argv[2]));
	if (strcmp(sub, "del") == 0)
		return argc == 3;
	for (int i = 3; i < argc; i++) {
		const char *o = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
		if (strcmp(o, "--qr") == 0) {
			*qr = 1;
			continue;
		}
		if (!v)
			return 0;
		i++;
		if (strcmp(o, "--roles") == 0 && !json_object_get(req, "roles")) {
			/* comma-separated, as an admin types them */
			json_t *arr = json_array();
			char *copy = strdup(v), *save = NULL;
			for (char *t = strtok_r(copy, ",", &save); t; t = strtok_r(NULL, ",", &save))
				if (*t)
					json_array_append_new(arr, json_string(t));
			free(copy);
			json_object_set_new(req, "roles", arr);
		} else if (strcmp(o, "--public-key") == 0 && !json_object_get(req, "public_key")) {
			json_object_set_new(req, "public_key", json_string(v));
		} else if (strcmp(o, "--address") == 0 && !json_object_get(req, "address")) {
			json_object_set_new(req, "address", json_string(v));
		} else {
			return 0;
		}
	}
	return json_object_get(req, "roles") != NULL;
}

int rw_wg_cli_qr(const char *text, FILE *out)
{
	QRcode *q = QRcode_encodeString(text, 0, QR_ECLEVEL_L, QR_MODE_8, 1);
	if (!q)
		return -1;
	int w = q->width, quiet = 2;
	/* upper half block: the top module dark on a light background; a
	 * light quiet zone around so phones read it on dark terminals */
	for (int y = -quiet; y < w + quiet; y += 2) {
		for (int x = -quiet; x < w + quiet; x++) {
			int top = y >= 0 && y < w && x >= 0 && x < w && (q->data[y * w + x] & 1);
			int bot = y + 1 >= 0 && y + 1 < w && x >= 0 && x < w &&
				  (q->data[(y + 1) * w + x] & 1);
			fputs(top && bot ? " " : top ? "\u2584" : bot ? "\u2580" : "\u2588", out);
		}
		fputc('\n', out);
	}
	QRcode_free(q);
	return 0;
}

static void rw_wg_cli_ago(long long t, char *buf, size_t len)
{
	if (t <= 0) {
		snprintf(buf, len, "never");
		return;
	}
	long long d = (long long)time(NULL) - t;
	snprintf(buf, len, "%llds ago", d < 0 ? 0 : d);
}

int rw_wg_cli_print(json_t *rep, int qr, FILE *out)
{
	json_t *v;
	if ((v = json_object_get(rep, "peers")) && json_is_array(v)) {
		size_t i;
		json_t *p;
		fprintf(out, "%-16s %-44s %-20s %-6s %-14s %12s %12s %s\n", "name", "public key",
			"address", "origin", "handshake", "rx", "tx", "endpoint / roles");
		json_array_foreach(v, i, p) {
			char hs[32], roles[512] = "";
			size_t k, o = 0;
			json_t *r;
			rw_wg_cli_ago(json_integer_value(json_object_get(p, "last_handshake")), hs,
				      sizeof(hs));
			json_array_foreach(json_object_get(p, "roles"), k, r)
				o += (size_t)snprintf(roles + o, o < sizeof(roles) ? sizeof(roles) - o : 0,
						      "%s%s", k ? "," : "", json_string_value(r));
			fprintf(out, "%-16s %-44s %-20s %-6s %-14s %12lld %12lld %s %s\n",
				json_string_value(json_object_get(p, "name")),
				json_string_value(json_object_get(p, "public_key")),
				json_string_value(json_array_get(json_object_get(p, "addresses"), 0)),
				json_string_value(json_object_get(p, "origin")),
				json_is_true(json_object_get(p, "configured")) ? hs : "NOT SET",
				(long long)json_integer_value(json_object_get(p, "rx_bytes")),
				(long long)json_integer_value(json_object_get(p, "tx_bytes")),
				json_string_value(json_object_get(p, "endpoint")) ?: "-", roles);
		}
		if ((v = json_object_get(rep, "warning")))
			fprintf(out, "warning: %s\n", json_string_value(v));
		return 1;
	}
	if ((v = json_object_get(rep, "deleted")) && json_is_string(v)) {
		fprintf(out, "deleted peer %s (%s); %lld open connection%s cut\n", json_string_value(v),
			json_string_value(json_object_get(rep, "address")),
			(long long)json_integer_value(json_object_get(rep, "connections_cut")),
			json_integer_value(json_object_get(rep, "connections_cut")) == 1 ? "" : "s");
		if ((v = json_object_get(rep, "warning")))
			fprintf(out, "warning: %s\n", json_string_value(v));
		return 1;
	}
	if ((v = json_object_get(rep, "peer")) && json_is_string(v)) {
		const char *conf = json_string_value(json_object_get(rep, "client_config"));
		fprintf(stderr, "added peer %s: address %s, public key %s\n", json_string_value(v),
			json_string_value(json_object_get(rep, "address")),
			json_string_value(json_object_get(rep, "public_key")));
		if (conf && qr) {
			if (rw_wg_cli_qr(conf, out))
				fputs(conf, out);
		} else if (conf) {
			fputs(conf, out);
		}
		if (conf)
			fprintf(stderr, "this is the only copy of the client's private key: regwalld "
					"does not keep it\n");
		return 1;
	}
	return 0;
}
