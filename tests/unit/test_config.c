/* Config loader tests. Run from the repository root: the config corpus is
 * tests/configs/{good,bad}/ and docs/regwall.conf.sample. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "appliance/rw_config.h"
#include "appliance/rw_config_int.h"
#include "appliance/rw_daemon.h"
#include "fwd/rw_fwd.h"
#include "rules/rw_cidr.h"
#include "rules/rw_nft.h"

/* ---- helpers ---- */

static int diag_has(const struct rw_diag *d, const char *needle, int warning)
{
	for (unsigned i = 0; i < d->n; i++)
		if (d->msg[i].is_warning == warning && strstr(d->msg[i].text, needle))
			return 1;
	return 0;
}

static void diag_dump(const struct rw_diag *d)
{
	for (unsigned i = 0; i < d->n; i++)
		print_message("    %s%s\n", d->msg[i].is_warning ? "warning: " : "",
			      d->msg[i].text);
}

static int policy_is_zero(const struct rw_policy *p)
{
	static const struct rw_policy zero;
	return memcmp(p, &zero, sizeof(zero)) == 0;
}

static char *slurp(const char *path)
{
	FILE *f = fopen(path, "rb");
	assert_non_null(f);
	char *buf = calloc(1, 1 << 20);
	assert_non_null(buf);
	size_t n = fread(buf, 1, (1 << 20) - 1, f);
	buf[n] = '\0';
	fclose(f);
	return buf;
}

static int load_ok(const char *path, struct rw_policy *p, struct rw_diag *d)
{
	rw_diag_init(d);
	int r = rw_config_load_file(path, p, d);
	if (r != 0) {
		print_message("  %s failed (%d):\n", path, r);
		diag_dump(d);
	}
	return r;
}

static int ends_with(const char *s, const char *suffix)
{
	size_t a = strlen(s), b = strlen(suffix);
	return a >= b && strcmp(s + a - b, suffix) == 0;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Sorted list of the *.conf files in dir; returns the count. */
static size_t list_confs(const char *dir, char ***out)
{
	DIR *d = opendir(dir);
	assert_non_null(d);
	char **v = NULL;
	size_t n = 0;
	struct dirent *e;
	while ((e = readdir(d))) {
		if (!ends_with(e->d_name, ".conf"))
			continue;
		v = realloc(v, (n + 1) * sizeof(*v));
		assert_non_null(v);
		assert_true(asprintf(&v[n], "%s/%s", dir, e->d_name) > 0);
		n++;
	}
	closedir(d);
	qsort(v, n, sizeof(*v), cmp_str);
	*out = v;
	return n;
}

/* ---- the corpus ---- */

static void test_bad_configs(void **state)
{
	(void)state;
	char **files;
	size_t n = list_confs("tests/configs/bad", &files);
	assert_true(n >= 30);
	unsigned failures = 0;
	for (size_t i = 0; i < n; i++) {
		char *text = slurp(files[i]);
		char expect[512];
		assert_int_equal(strncmp(text, "# expect: ", 10), 0);
		size_t len = strcspn(text + 10, "\n");
		assert_true(len > 0 && len < sizeof(expect));
		memcpy(expect, text + 10, len);
		expect[len] = '\0';
		free(text);

		struct rw_policy p;
		struct rw_diag d;
		rw_diag_init(&d);
		memset(&p, 0xa5, sizeof(p));
		int r = rw_config_load_file(files[i], &p, &d);
		if (r != RW_ECONFIG || !diag_has(&d, expect, 0) || !policy_is_zero(&p) ||
		    d.n_err == 0) {
			print_message("  %s: rc %d, want message containing: %s\n", files[i], r,
				      expect);
			diag_dump(&d);
			failures++;
		}
		if (r == 0)
			rw_policy_free(&p);
		free(files[i]);
	}
	free(files);
	assert_int_equal(failures, 0);
}

static void test_good_configs(void **state)
{
	(void)state;
	char **files;
	size_t n = list_confs("tests/configs/good", &files);
	assert_true(n >= 3);
	for (size_t i = 0; i < n; i++) {
		struct rw_policy p;
		struct rw_diag d;
		assert_int_equal(load_ok(files[i], &p, &d), 0);
		assert_int_equal(d.n_err, 0);
		assert_string_equal(p.source_file, files[i]);
		assert_true(p.n_listeners >= 1);
		rw_policy_free(&p);
		assert_true(policy_is_zero(&p));
		free(files[i]);
	}
	free(files);
}

/* The sample names /etc/regwall/...; point those at the committed test
 * files and load the rest unchanged. */
static void test_sample_config(void **state)
{
	(void)state;
	char *text = slurp("docs/regwall.conf.sample");
	char *out = calloc(1, strlen(text) * 2 + 1);
	assert_non_null(out);
	const char *from = "/etc/regwall/", *to = "tests/configs/files/";
	char *w = out;
	unsigned replaced = 0;
	for (const char *s = text; *s;) {
		if (strncmp(s, from, strlen(from)) == 0) {
			w = stpcpy(w, to);
			s += strlen(from);
			replaced++;
		} else {
			*w++ = *s++;
		}
	}
	assert_true(replaced >= 5);
	struct rw_policy p;
	struct rw_diag d;
	rw_diag_init(&d);
	int r = rw_config_load_string(out, "regwall.conf.sample", &p, &d);
	if (r)
		diag_dump(&d);
	assert_int_equal(r, 0);
	assert_int_equal(d.n_warn, 0);
	/* "https" on a listen list of two endpoints, then "pass" */
	assert_int_equal(p.n_listeners, 3);
	assert_string_equal(p.listeners[1].name, "https");
	assert_int_equal(p.listeners[1].n_endpoints, 2);
	assert_int_equal(p.listeners[1].listen.family, AF_INET6);
	assert_string_equal(p.listeners[2].name, "pass");
	assert_true(p.vpn.enabled);
	rw_policy_free(&p);
	free(out);
	free(text);
}

/* ---- values landing in the struct ---- */

static void assert_cidr(const struct rw_cidr *c, const char *text)
{
	char buf[64];
	rw_cidr_format(c, buf, sizeof(buf));
	assert_string_equal(buf, text);
}

static void assert_ep(const struct rw_endpoint *e, int family, const char *addr, uint16_t port)
{
	uint8_t want[16] = { 0 };
	assert_int_equal(e->family, family);
	assert_int_equal(inet_pton(family, addr, want), 1);
	assert_memory_equal(e->addr, want, family == AF_INET ? 4 : 16);
	assert_int_equal(e->port, port);
}

static void test_full_values(void **state)
{
	(void)state;
	struct rw_policy p;
	struct rw_diag d;
	assert_int_equal(load_ok("tests/configs/good/01-full.conf", &p, &d), 0);
	assert_int_equal(d.n_warn, 0);

	/* registry */
	assert_ep(&p.registry.upstream, AF_INET, "198.51.100.10", 5000);
	assert_true(p.registry.upstream_tls);
	assert_string_equal(p.registry.upstream_ca,
			    "tests/configs/good/../files/upstream-ca.crt");
	assert_int_equal(p.registry.n_server_names, 2);
	assert_string_equal(p.registry.server_names[0], "registry.example.test");
	assert_string_equal(p.registry.server_names[1], "*.registry.example.test");

	/* networks */
	assert_int_equal(p.n_networks, 2);
	const struct rw_network *office = rw_policy_network(&p, "office");
	assert_non_null(office);
	assert_int_equal(office->n_cidrs, 2);
	assert_cidr(&office->cidrs[0], "203.0.113.0/25");
	assert_cidr(&office->cidrs[1], "2001:db8:1::/48");
	assert_int_equal(rw_policy_network_index(&p, "ci"), 1);
	assert_cidr(&p.networks[1].cidrs[0], "203.0.113.200/32");
	assert_int_equal(p.networks[1].line, 12);

	/* listeners */
	assert_int_equal(p.n_listeners, 2);
	const struct rw_listener *l = &p.listeners[0];
	assert_string_equal(l->name, "https");
	assert_ep(&l->listen, AF_INET, "0.0.0.0", 443);
	assert_int_equal(l->mode, RW_MODE_TERMINATE);
	assert_string_equal(l->cert, "tests/configs/good/../files/server.crt");
	assert_string_equal(l->key, "tests/configs/good/../files/server.key");
	assert_string_equal(l->client_ca, "tests/configs/good/../files/client-ca.crt");
	assert_string_equal(l->crl, "tests/configs/good/../files/clients.crl");
	assert_int_equal(l->client_cert, RW_CCERT_OPTIONAL);
	assert_null(l->server_names);
	assert_true(l->allow_ech);
	assert_int_equal(l->n_allow_nets, 2);
	assert_int_equal(l->allow_nets[0], 0);
	assert_int_equal(l->allow_nets[1], 1);
	assert_true(l->allow_vpn);
	assert_int_equal(l->line, 16);
	l = &p.listeners[1];
	assert_string_equal(l->name, "pass6");
	assert_ep(&l->listen, AF_INET6, "2001:db8::1", 8443);
	assert_int_equal(l->mode, RW_MODE_PASSTHROUGH);
	assert_null(l->cert);
	assert_int_equal(l->client_cert, RW_CCERT_NONE);
	assert_int_equal(l->n_server_names, 1);
	assert_string_equal(l->server_names[0], "push.example.test");
	assert_true(l->allow_ech); /* unset: the default */
	assert_int_equal(l->n_allow_nets, 0);
	assert_true(l->allow_vpn);

	/* identities */
	assert_int_equal(p.n_identities, 2);
	const struct rw_identity *id = &p.identities[0];
	assert_string_equal(id->name, "ci-bot");
	assert_string_equal(id->cert_subject, "CN=ci-bot,O=Example");
	assert_string_equal(id->cert_san, "DNS:ci.example.test");
	assert_true(id->has_sha256);
	static const uint8_t fp0[32] = { 0xab, 0xcd, 0xef, 0x01, 0x23, 0x45, 0x67, 0x89,
					 0xab, 0xcd, 0xef, 0x01, 0x23, 0x45, 0x67, 0x89,
					 0xab, 0xcd, 0xef, 0x01, 0x23, 0x45, 0x67, 0x89,
					 0xab, 0xcd, 0xef, 0x01, 0x23, 0x45, 0x67, 0x89 };
	assert_memory_equal(id->cert_sha256, fp0, 32);
	assert_int_equal(id->n_roles, 3);
	assert_int_equal(id->roles[0].op, RW_ROLE_PULL);
	assert_string_equal(id->roles[0].glob, "*");
	assert_int_equal(id->roles[1].op, RW_ROLE_PUSH);
	assert_string_equal(id->roles[1].glob, "team-a/*");
	assert_int_equal(id->roles[2].op, RW_ROLE_DELETE);
	assert_string_equal(id->roles[2].glob, "team-a/*");
	id = &p.identities[1];
	assert_null(id->cert_subject);
	assert_null(id->cert_san);
	assert_int_equal(id->cert_sha256[0], 0x00);
	assert_int_equal(id->cert_sha256[31], 0xff);

	/* vpn */
	assert_true(p.vpn.enabled);
	assert_string_equal(p.vpn.interface, "wg0");
	assert_int_equal(p.vpn.listen_port, 51821);
	assert_cidr(&p.vpn.address, "192.0.2.1/24");
	assert_string_equal(p.vpn.private_key_file, "tests/configs/good/../files/wg.key");
	assert_int_equal(p.vpn.n_peers, 2);
	const struct rw_peer *peer = &p.vpn.peers[0];
	assert_string_equal(peer->name, "alice");
	/* `echo <key> | base64 -d | xxd -i` */
	static const uint8_t alice[32] = { 0x8d, 0x97, 0x41, 0xb7, 0xbc, 0x7c, 0xb7, 0x2a,
					   0x9d, 0xca, 0xd7, 0x9f, 0x16, 0x52, 0xc3, 0xc0,
					   0x42, 0xc3, 0x21, 0xe7, 0x63, 0x95, 0xa2, 0x23,
					   0xdb, 0x04, 0xfb, 0xf5, 0x1e, 0xc4, 0x2f, 0x7f };
	assert_memory_equal(peer->public_key, alice, 32);
	assert_int_equal(peer->n_addresses, 1);
	assert_cidr(&peer->addresses[0], "192.0.2.2/32");
	assert_ep(&peer->endpoint, AF_INET, "203.0.113.9", 51820);
	assert_int_equal(peer->n_roles, 2);
	assert_int_equal(peer->roles[0].op, RW_ROLE_PUSH);
	peer = &p.vpn.peers[1];
	assert_int_equal(peer->n_addresses, 2);
	assert_cidr(&peer->addresses[0], "192.0.2.16/28");
	assert_cidr(&peer->addresses[1], "192.0.2.3/32");
	assert_int_equal(peer->endpoint.family, 0);
	assert_string_equal(peer->roles[0].glob, "library/*");

	/* policy, log, control, metrics */
	assert_false(p.opts.push_requires_vpn);
	assert_true(p.opts.pull_needs_role);
	assert_int_equal(p.opts.push_ops_per_minute, 60);
	assert_int_equal(p.opts.push_bytes_per_second, 5000000000ull);
	assert_int_equal(p.opts.push_burst_ops, 120);
	assert_int_equal(p.opts.push_burst_bytes, 20000000000ull);
	assert_int_equal(p.opts.conn_per_source.count, 100);
	assert_int_equal(p.opts.conn_per_source.per_ms, 60000);
	assert_int_equal(p.opts.conn_per_source.burst, 7);
	assert_int_equal(p.opts.ban_after, 100);
	assert_int_equal(p.opts.ban_for_ms, 2ull * 3600 * 1000);
	assert_int_equal(p.opts.ban_set_size, 1024);
	assert_int_equal(p.limits.hello_timeout_ms, 2000);
	assert_int_equal(p.limits.handshake_timeout_ms, 1500);
	assert_int_equal(p.limits.header_timeout_ms, 20000);
	assert_int_equal(p.limits.idle_timeout_ms, 600000);
	assert_int_equal(p.limits.connect_timeout_ms, 3000);
	assert_int_equal(p.limits.response_timeout_ms, 45000);
	assert_int_equal(p.limits.max_connections, 10000);
	assert_int_equal(p.limits.max_per_source, 0);
	assert_int_equal(p.limits.drain_timeout_ms, 2u * 3600 * 1000);
	/* and into the worker's options */
	struct rw_fwd_opts fo;
	rw_fwd_opts_default(&fo);
	rw_fwd_opts_from_policy(&fo, &p);
	assert_int_equal(fo.hello_timeout_ms, 2000);
	assert_int_equal(fo.handshake_timeout_ms, 1500);
	assert_int_equal(fo.header_timeout_ms, 20000);
	assert_int_equal(fo.idle_timeout_ms, 600000);
	assert_int_equal(fo.connect_timeout_ms, 3000);
	assert_int_equal(fo.response_timeout_ms, 45000);
	assert_int_equal(fo.max_conns, 10000);
	assert_int_equal(fo.max_per_source, 0);
	assert_int_equal(fo.drain_timeout_ms, 2u * 3600 * 1000);
	assert_int_equal(p.log.nflog_group, 9);
	assert_string_equal(p.log.blocked, "/var/log/regwall-test/blocked.jsonl");
	assert_string_equal(p.log.blocked_pcap, "/var/log/regwall-test/blocked.pcap");
	assert_int_equal(p.log.blocked_burst, 3);
	assert_int_equal(p.log.blocked_interval_ms, 30000);
	assert_int_equal(p.log.blocked_sources, 100);
	assert_int_equal(p.log.blocked_max_lines, 50);
	assert_int_equal(p.log.blocked_rotate_bytes, 2u << 20);
	assert_int_equal(p.log.blocked_keep, 7);
	assert_string_equal(p.control_socket, "/run/regwall-test/ctl.sock");
	rw_policy_free(&p);
}

static void test_defaults(void **state)
{
	(void)state;
	struct rw_policy p;
	struct rw_diag d;
	assert_int_equal(load_ok("tests/configs/good/02-minimal.conf", &p, &d), 0);
	assert_true(p.opts.push_requires_vpn);
	assert_false(p.opts.pull_needs_role);
	assert_int_equal(p.opts.push_ops_per_minute, 0);
	assert_int_equal(p.opts.push_bytes_per_second, 0);
	assert_int_equal(p.opts.conn_per_source.count, 0);
	assert_int_equal(p.opts.ban_after, 0);
	assert_int_equal(p.opts.ban_for_ms, 600000);
	assert_int_equal(p.opts.ban_set_size, 65536);
	assert_int_equal(p.opts.push_burst_ops, 0);
	assert_int_equal(p.opts.push_burst_bytes, 0);
	/* limits: the worker's built-in defaults, field for field */
	struct rw_fwd_opts def, fo;
	rw_fwd_opts_default(&def);
	fo = def;
	rw_fwd_opts_from_policy(&fo, &p);
	assert_int_equal(fo.hello_timeout_ms, def.hello_timeout_ms);
	assert_int_equal(fo.handshake_timeout_ms, def.handshake_timeout_ms);
	assert_int_equal(fo.header_timeout_ms, def.header_timeout_ms);
	assert_int_equal(fo.idle_timeout_ms, def.idle_timeout_ms);
	assert_int_equal(fo.connect_timeout_ms, def.connect_timeout_ms);
	assert_int_equal(fo.response_timeout_ms, def.response_timeout_ms);
	assert_int_equal(p.limits.response_timeout_ms, 120000);
	assert_int_equal(fo.max_conns, def.max_conns);
	assert_int_equal(fo.max_per_source, def.max_per_source);
	assert_int_equal(fo.drain_timeout_ms, def.drain_timeout_ms);
	assert_int_equal(p.limits.drain_timeout_ms, 3600000);
	assert_int_equal(p.limits.idle_timeout_ms, 300000);
	assert_int_equal(p.limits.max_per_source, 256);
	assert_int_equal(p.log.nflog_group, 7);
	assert_int_equal(p.log.blocked_burst, 10);
	assert_int_equal(p.log.blocked_interval_ms, 10000);
	assert_int_equal(p.log.blocked_sources, 4096);
	assert_int_equal(p.log.blocked_max_lines, 1000);
	assert_int_equal(p.log.blocked_rotate_bytes, 64u << 20);
	assert_int_equal(p.log.blocked_keep, 4);
	assert_null(p.log.blocked);
	assert_null(p.log.audit);
	assert_string_equal(p.control_socket, "/run/regwall/ctl.sock");
	assert_int_equal(p.metrics.family, 0);
	assert_false(p.vpn.enabled);
	assert_int_equal(p.n_identities, 0);
	assert_false(p.registry.upstream_tls);
	assert_int_equal(p.listeners[0].mode, RW_MODE_PASSTHROUGH);
	rw_policy_free(&p);

	/* mode defaults to terminate; burst defaults to 5 with a conn_rate */
	rw_diag_init(&d);
	const char *text =
		"registry = { upstream = \"198.51.100.10:5000\"; server_names = [ \"r.example.test\" ]; };\n"
		"networks = { lan = [ \"203.0.113.0/24\" ]; };\n"
		"listeners = ( { name = \"t\"; listen = \"0.0.0.0:443\"; cert = \"tests/configs/files/server.crt\";\n"
		"  key = \"tests/configs/files/server.key\"; allow_from = [ \"lan\" ]; } );\n"
		"policy = { conn_rate = { per_source = \"5/hour\"; }; };\n";
	assert_int_equal(rw_config_load_string(text, "mem", &p, &d), 0);
	assert_int_equal(p.listeners[0].mode, RW_MODE_TERMINATE);
	assert_int_equal(p.opts.conn_per_source.count, 5);
	assert_int_equal(p.opts.conn_per_source.per_ms, 3600000);
	assert_int_equal(p.opts.conn_per_source.burst, 5);
	assert_string_equal(p.source_file, "mem");
	assert_true(p.listeners[0].allow_ech); /* unset: the default */
	rw_policy_free(&p);

	/* allow_ech = false is kept (a registry that holds ECH keys) */
	rw_diag_init(&d);
	text = "registry = { upstream = \"198.51.100.10:5000\"; server_names = [ \"r.example.test\" ]; };\n"
	       "networks = { lan = [ \"203.0.113.0/24\" ]; };\n"
	       "listeners = ( { name = \"p\"; listen = \"0.0.0.0:443\"; mode = \"passthrough\";\n"
	       "  allow_ech = false; allow_from = [ \"lan\" ]; } );\n";
	assert_int_equal(rw_config_load_string(text, "mem", &p, &d), 0);
	assert_false(p.listeners[0].allow_ech);
	rw_policy_free(&p);
}

static void test_merge_warnings(void **state)
{
	(void)state;
	struct rw_policy p;
	struct rw_diag d;
	assert_int_equal(load_ok("tests/configs/good/03-merge.conf", &p, &d), 0);
	assert_int_equal(d.n_err, 0);
	assert_int_equal(d.n_warn, 2);
	assert_true(diag_has(&d,
			     "03-merge.conf:4: networks.office[1]: \"203.0.113.64/26\" overlaps "
			     "\"203.0.113.0/24\" (office[0]); merged",
			     1));
	assert_true(diag_has(&d, "\"2001:db8:1:2::/64\" overlaps \"2001:db8:1::/48\" (office[2])", 1));
	const struct rw_network *n = rw_policy_network(&p, "office");
	assert_non_null(n);
	assert_int_equal(n->n_cidrs, 3);
	assert_cidr(&n->cidrs[0], "198.51.100.7/32");
	assert_cidr(&n->cidrs[1], "203.0.113.0/24");
	assert_cidr(&n->cidrs[2], "2001:db8:1::/48");
	assert_ep(&p.registry.upstream, AF_INET6, "2001:db8:5::10", 5000);
	assert_int_equal(p.opts.ban_for_ms, 300000);
	rw_policy_free(&p);

	/* a duplicate is an overlap too, named as such */
	rw_diag_init(&d);
	const char *text =
		"registry = { upstream = \"198.51.100.10:5000\"; server_names = [ \"r.example.test\" ]; };\n"
		"networks = { lan = [ \"203.0.113.0/24\",\n \"203.0.113.0/24\" ]; };\n"
		"listeners = ( { name = \"t\"; listen = \"0.0.0.0:443\"; mode = \"passthrough\"; allow_from = [ \"lan\" ]; } );\n";
	assert_int_equal(rw_config_load_string(text, "mem", &p, &d), 0);
	assert_true(diag_has(&d, "mem:3: networks.lan[1]: \"203.0.113.0/24\" overlaps \"203.0.113.0/24\" (lan[0])", 1));
	assert_int_equal(p.networks[0].n_cidrs, 1);
	rw_policy_free(&p);
}

/* All problems are reported, not just the first. */
static void test_collects_all_errors(void **state)
{
	(void)state;
	struct rw_policy p;
	struct rw_diag d;
	rw_diag_init(&d);
	const char *text =
		"registry = { upstream = \"nohost\"; server_names = [ \"bad_name\" ]; };\n"
		"networks = { lan = [ \"10.0.0.1/8\" ]; };\n"
		"listeners = ( { name = \"t\"; listen = \"0.0.0.0:443\"; mode = \"passthrough\";\n"
		"  allow_from = [ \"wan\" ]; colour = 1; } );\n"
		"log = { nflog_group = -1; };\n";
	assert_int_equal(rw_config_load_string(text, "c.conf", &p, &d), RW_ECONFIG);
	assert_true(policy_is_zero(&p));
	assert_true(diag_has(&d, "c.conf:1: registry.upstream: \"nohost\"", 0));
	assert_true(diag_has(&d, "c.conf:1: registry.server_names[0]: \"bad_name\"", 0));
	assert_true(diag_has(&d, "c.conf:2: networks.lan[0]: \"10.0.0.1/8\": host bits set (did you mean 10.0.0.0/8?)", 0));
	assert_true(diag_has(&d, "c.conf:4: listeners[0].allow_from[0]: \"wan\": no such network", 0));
	assert_true(diag_has(&d, "c.conf:4: unknown setting 'colour' in listeners[]", 0));
	assert_true(diag_has(&d, "c.conf:5: log.nflog_group: -1 is out of range 0..65535", 0));
	assert_int_equal(d.n_err, 6);
}

static void test_parse_error_location(void **state)
{
	(void)state;
	struct rw_policy p;
	struct rw_diag d;
	rw_diag_init(&d);
	assert_int_equal(rw_config_load_string("registry = {\n upstream = ;\n};\n", "x.conf", &p, &d),
			 RW_ECONFIG);
	assert_true(diag_has(&d, "x.conf:2: syntax error", 0));
	assert_true(policy_is_zero(&p));

	/* max_connections below the default per-source cap: the default
	 * follows it (only an explicit max_per_source above it is an error) */
	rw_diag_init(&d);
	assert_int_equal(rw_config_load_string(
				 "registry = { upstream = \"198.51.100.10:5000\"; server_names = [ \"r.example.test\" ]; };\n"
				 "networks = { office = [ \"203.0.113.0/24\" ]; };\n"
				 "listeners = ( { name = \"p\"; listen = \"0.0.0.0:443\"; mode = \"passthrough\";\n"
				 "  allow_from = [ \"office\" ]; } );\n"
				 "limits = { max_connections = 100; };\n",
				 "lim.conf", &p, &d),
			 0);
	assert_int_equal(p.limits.max_connections, 100);
	assert_int_equal(p.limits.max_per_source, 100);
	rw_policy_free(&p);

	/* a byte order mark is named, not reported as a syntax error */
	rw_diag_init(&d);
	assert_int_equal(rw_config_load_string("\xef\xbb\xbfregistry = { upstream = \"198.51.100.10:5000\"; };\n",
					       "bom.conf", &p, &d),
			 RW_ECONFIG);
	assert_true(diag_has(&d, "bom.conf:1: the file starts with a UTF-8 byte order mark", 0));
	assert_false(diag_has(&d, "syntax error", 0));
	/* short texts are read safely */
	rw_diag_init(&d);
	assert_int_equal(rw_config_load_string("\xef", "short.conf", &p, &d), RW_ECONFIG);

	rw_diag_init(&d);
	assert_int_equal(rw_config_load_file("tests/configs/does-not-exist.conf", &p, &d), RW_EIO);
	assert_true(diag_has(&d, "tests/configs/does-not-exist.conf: cannot open", 0));
	rw_diag_init(&d);
	assert_int_equal(rw_config_load_file("tests/configs", &p, &d), RW_ECONFIG);
	assert_true(diag_has(&d, "not a regular file", 0));
	assert_true(policy_is_zero(&p));
}

/* ---- value parsers ---- */

static void test_duration(void **state)
{
	(void)state;
	static const struct {
		const char *in;
		int rc;
		uint64_t ms;
	} t[] = {
		{ "10m", 0, 600000 },     { "30s", 0, 30000 },   { "1h", 0, 3600000 },
		{ "500ms", 0, 500 },      { "2d", 0, 172800000 }, { "45", 0, 45000 },
		{ "0", 0, 0 },            { "", RW_EINVAL, 0 },   { "m", RW_EINVAL, 0 },
		{ "10 m", RW_EINVAL, 0 }, { "1h30m", RW_EINVAL, 0 }, { "10M", RW_EINVAL, 0 },
		{ "-5s", RW_EINVAL, 0 },  { "010s", RW_EINVAL, 0 }, { "5w", RW_EINVAL, 0 },
		{ "18446744073709551615ms", 0, UINT64_MAX },
		{ "18446744073709551616ms", RW_ERANGE, 0 },
		{ "18446744073709551615s", RW_ERANGE, 0 },
	};
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		uint64_t ms = 12345;
		int rc = rw_duration_parse_ms(t[i].in, &ms);
		if (rc != t[i].rc)
			print_message("duration \"%s\": rc %d\n", t[i].in, rc);
		assert_int_equal(rc, t[i].rc);
		if (rc == 0)
			assert_int_equal(ms, t[i].ms);
	}
}

static void test_rate(void **state)
{
	(void)state;
	struct rw_rate r;
	assert_int_equal(rw_rate_parse("20/second", &r), 0);
	assert_int_equal(r.count, 20);
	assert_int_equal(r.per_ms, 1000);
	assert_int_equal(r.burst, 0);
	assert_int_equal(rw_rate_parse("100/minute", &r), 0);
	assert_int_equal(r.count, 100);
	assert_int_equal(r.per_ms, 60000);
	assert_int_equal(rw_rate_parse("5/hour", &r), 0);
	assert_int_equal(r.per_ms, 3600000);
	assert_int_equal(rw_rate_parse("1000000000/second", &r), 0);
	assert_int_equal(rw_rate_parse("1000000001/second", &r), RW_ERANGE);
	assert_int_equal(rw_rate_parse("0/second", &r), RW_ERANGE);
	assert_int_equal(rw_rate_parse("20/sec", &r), RW_EINVAL);
	assert_int_equal(rw_rate_parse("20 /second", &r), RW_EINVAL);
	assert_int_equal(rw_rate_parse("20/second ", &r), RW_EINVAL);
	assert_int_equal(rw_rate_parse("/second", &r), RW_EINVAL);
	assert_int_equal(rw_rate_parse("20", &r), RW_EINVAL);
	assert_int_equal(rw_rate_parse("20/", &r), RW_EINVAL);
	assert_int_equal(rw_rate_parse("20/day", &r), RW_EINVAL);
}

static void test_endpoint(void **state)
{
	(void)state;
	struct rw_endpoint e;
	assert_int_equal(rw_cfg_parse_endpoint("198.51.100.10:5000", &e), 0);
	assert_ep(&e, AF_INET, "198.51.100.10", 5000);
	assert_int_equal(rw_cfg_parse_endpoint("[2001:db8::1]:443", &e), 0);
	assert_ep(&e, AF_INET6, "2001:db8::1", 443);
	assert_int_equal(rw_cfg_parse_endpoint("[::]:1", &e), 0);
	assert_ep(&e, AF_INET6, "::", 1);
	assert_int_equal(rw_cfg_parse_endpoint("0.0.0.0:65535", &e), 0);
	assert_int_equal(e.port, 65535);
	assert_int_equal(rw_cfg_parse_endpoint("0.0.0.0:65536", &e), RW_ERANGE);
	assert_int_equal(rw_cfg_parse_endpoint("0.0.0.0:0", &e), RW_ERANGE);
	assert_int_equal(rw_cfg_parse_endpoint("0.0.0.0:99999999999999999999", &e), RW_ERANGE);
	static const char *const bad[] = {
		"", ":443", "0.0.0.0", "0.0.0.0:", "host.example.test:443", "2001:db8::1:443",
		"[2001:db8::1]443", "[2001:db8::1]", "[203.0.113.1]:443", "203.0.113.1:44a",
		"203.0.113.1:+443", "203.0.113.1: 443", "[2001:db8::1:443", "[]:443",
		"203.0.113.1:0443", "203.0.113.256:443",
		/* IPv4-mapped: IPv4 in disguise, past the duplicate-port check */
		"[::ffff:0.0.0.0]:8444", "[::ffff:198.51.100.10]:5000",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (rw_cfg_parse_endpoint(bad[i], &e) != RW_EINVAL)
			print_message("endpoint \"%s\" accepted\n", bad[i]);
		assert_int_equal(rw_cfg_parse_endpoint(bad[i], &e), RW_EINVAL);
	}
}

/* Checks that a config passing them silently could never work. */
static void test_cannot_work(void **state)
{
	(void)state;
	static const struct {
		const char *text, *msg;
	} cases[] = {
		{ "registry = { upstream = \"[::]:5000\"; server_names = [ \"r.example.test\" ]; };\n",
		  "c.conf:1: registry.upstream: \"[::]:5000\": the unspecified address is not a "
		  "registry" },
		{ "metrics = { listen = \"[::ffff:127.0.0.1]:9100\"; };\n",
		  "c.conf:1: metrics.listen: \"[::ffff:127.0.0.1]:9100\": an IPv4-mapped IPv6 "
		  "address is an IPv4 address in disguise" },
		{ "identities = ( { name = \"a\"; cert_subject = \"CN=ci,O=Example\"; roles = [ \"pull:*\" ]; },\n"
		  "  { name = \"b\"; cert_subject = \"cn=ci, o=Example\"; roles = [ \"push:*\" ]; } );\n",
		  "c.conf:2: identities[1]: identity 'b' (line 2) is never used: identity 'a' (line 1)" },
		{ "identities = ( { name = \"a\"; cert_subject = \"=ci\"; roles = [ \"pull:*\" ]; } );\n",
		  "\"=ci\": not a distinguished name" },
		/* OpenSSL's top-down order with RFC 2253 commas never matches */
		{ "identities = ( { name = \"a\";\n cert_subject = \"C=DE, O=Example Corp, CN=ci-bot\"; "
		  "roles = [ \"pull:*\" ]; } );\n",
		  "c.conf:2: identities[0].cert_subject: \"C=DE, O=Example Corp, CN=ci-bot\": names C "
		  "first and CN last: RFC 2253 puts the most specific name first "
		  "(\"CN=ci-bot,O=Example Corp,C=DE\")" },
		{ "identities = ( { name = \"a\"; cert_subject = \"CommonName=x\"; roles = [ \"pull:*\" ]; } );\n",
		  "unknown attribute type \"CommonName\"" },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct rw_policy p;
		struct rw_diag d;
		rw_diag_init(&d);
		int r = rw_config_load_string(cases[i].text, "c.conf", &p, &d);
		if (r == 0)
			rw_policy_free(&p);
		if (r != RW_ECONFIG || !diag_has(&d, cases[i].msg, 0)) {
			diag_dump(&d);
			fail_msg("case %zu: r=%d, want '%s'", i, r, cases[i].msg);
		}
	}
	/* different selectors, or the narrower one first: both usable */
	static const char *const fine =
		"identities = ( { name = \"a\"; cert_san = \"URI:spiffe://x/CI\"; roles = [ \"pull:*\" ]; },\n"
		"  { name = \"b\"; cert_san = \"URI:spiffe://x/ci\"; roles = [ \"pull:*\" ]; },\n"
		"  { name = \"c\"; cert_subject = \"CN=ci\"; cert_san = \"DNS:ci.example.test\"; roles = [ \"push:*\" ]; },\n"
		"  { name = \"d\"; cert_subject = \"CN=ci\"; roles = [ \"pull:*\" ]; } );\n";
	struct rw_policy p;
	struct rw_diag d;
	rw_diag_init(&d);
	int r = rw_config_load_string(fine, "c.conf", &p, &d);
	if (r == 0)
		rw_policy_free(&p);
	if (diag_has(&d, "never used", 0) || diag_has(&d, "identities", 0)) {
		diag_dump(&d);
		fail_msg("usable identities refused");
	}
}

/* A client_ca that holds a leaf certificate: OpenSSL loads it, and no
 * client certificate ever verifies. */
/* Messages are printed in line order, whatever pass found them; the
 * same line keeps the recorded order, unlocated ones come last. And on a
 * real config: a cross-check error (line 6) found after a section error
 * (line 7) still prints first. */
static void test_diag_line_order(void **state)
{
	struct rw_diag d;
	rw_diag_init(&d);
	rw_diag_err(&d, "c.conf", 9, "nine");
	rw_diag_warn(&d, "c.conf", 3, "three-a");
	rw_diag_err(&d, NULL, 0, "global");
	rw_diag_err(&d, "c.conf", 3, "three-b");
	rw_diag_err(&d, "c.conf", 1, "one");
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	rw_diag_print(&d, f);
	fclose(f);
	assert_string_equal(buf, "c.conf:1: one\nwarning: c.conf:3: three-a\nc.conf:3: three-b\n"
				 "c.conf:9: nine\nglobal\n");
	free(buf);

	const char *text =
		"registry = { upstream = \"198.51.100.10:5000\"; server_names = [ \"r.example.test\" ]; };\n"
		"networks = { office = [ \"203.0.113.0/25\" ]; };\n"
		"listeners = ( { name = \"p\"; listen = \"0.0.0.0:8443\"; mode = \"passthrough\";\n"
		"  allow_from = [ \"office\" ]; } );\n"
		"identities = (\n"
		"  { name = \"a\"; cert_subject = \"CN=x\"; roles = [ \"pull:*\" ]; },\n"
		"  { name = \"b\"; cert_subject = \"CN=x\"; roles = [ \"pull:*\" ]; bogus = 1; } );\n"
		"limits = { max_connections = 0; };\n";
	struct rw_policy p;
	rw_diag_init(&d);
	assert_int_not_equal(rw_config_load_string(text, "c.conf", &p, &d), 0);
	f = open_memstream(&buf, &len);
	rw_diag_print(&d, f);
	fclose(f);
	int last = 0;
	for (char *l = buf; l && *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL) {
		const char *at = strstr(l, "c.conf:");
		if (!at || at > strchr(l, '\n'))
			continue;
		int line = atoi(at + 7);
		if (line < last)
			fail_msg("line %d printed after line %d:\n%s", line, last, buf);
		last = line;
	}
	assert_true(last >= 7);
	free(buf);
}

/* Rights that can never be used: refused where no push could ever
 * succeed (push_requires_vpn with no way in through the VPN), warned
 * where identities or peers could never match. */
static void test_unreachable_rights(void **state)
{
	static const char base[] =
		"registry = { upstream = \"198.51.100.10:5000\"; server_names = [ \"registry.example.test\" ]; };\n"
		"networks = { office = [ \"203.0.113.0/25\" ]; };\n"
		"listeners = ( { name = \"tls\"; listen = \"0.0.0.0:8443\"; mode = \"terminate\";\n"
		"  cert = \"" "tests/data/certs/server.pem\"; key = \"tests/data/certs/server.key\";\n"
		"  client_cert = \"%s\"; client_ca = \"tests/data/certs/ca.pem\"; allow_from = [ %s ]; } );\n"
		"identities = ( { name = \"ci\"; cert_subject = \"CN=ci-bot\"; roles = [ \"pull:*\", \"%s\" ]; } );\n"
		"%s%s";
	static const char vpn[] =
		"vpn = { interface = \"wg0\"; address = \"192.0.2.1/24\"; private_key_file = \"tests/configs/files/wg.key\";\n"
		"  peers = ( { name = \"alice\"; public_key = \"jZdBt7x8tyqdytefFlLDwELDIedjlaIj2wT79R7EL38=\";\n"
		"    address = \"192.0.2.2/32\"; roles = [ \"push:*\" ]; } ); };\n";
	static const struct {
		const char *cc, *allow, *role, *pol, *vpn;
		int err;           /* 1: refused */
		const char *msg;   /* in an error (err) or a warning */
	} cases[] = {
		{ "required", "\"office\"", "push:team-a/*", "", "", 1,
		  "c.conf:6: policy.push_requires_vpn (default true): no push or delete can ever "
		  "succeed: they must come through the VPN and there is no vpn section (write "
		  "rights: identity 'ci' (line 6))" },
		{ "required", "\"office\"", "delete:*", "policy = {\n push_requires_vpn = true; };\n", "", 1,
		  "c.conf:8: policy.push_requires_vpn: no push or delete can ever succeed" },
		{ "required", "\"office\"", "push:*", "", vpn, 1,
		  "no terminate listener has \"vpn\" in allow_from" },
		/* fine: pushes through the VPN are possible */
		{ "required", "\"office\", \"vpn\"", "push:*", "", vpn, 0, NULL },
		/* fine: pull only */
		{ "required", "\"office\"", "pull:team-b/*", "", "", 0, NULL },
		/* fine: no VPN rule */
		{ "required", "\"office\"", "push:*", "policy = { push_requires_vpn = false; };\n", "", 0, NULL },
		/* identities that can never match: warned */
		{ "none", "\"office\"", "pull:x", "", "", 0,
		  "1 identity can never match: no terminate listener asks for a client certificate" },
		/* peers whose roles can never apply: warned */
		{ "required", "\"office\"", "pull:x", "policy = { push_requires_vpn = false; };\n", vpn, 0,
		  "the roles of 1 VPN peer can never apply" },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char text[4096];
		snprintf(text, sizeof(text), base, cases[i].cc, cases[i].allow, cases[i].role,
			 cases[i].pol, cases[i].vpn);
		struct rw_policy p;
		struct rw_diag d;
		rw_diag_init(&d);
		int r = rw_config_load_string(text, "c.conf", &p, &d);
		if (r == 0)
			rw_policy_free(&p);
		bool ok = cases[i].err ? (r == RW_ECONFIG && diag_has(&d, cases[i].msg, 0))
			  : cases[i].msg ? (r == 0 && diag_has(&d, cases[i].msg, 1))
					 : (r == 0 && d.n_warn == 0);
		if (!ok) {
			diag_dump(&d);
			fail_msg("case %zu: r=%d, want %s '%s'", i, r, cases[i].err ? "error" : "warning",
				 cases[i].msg ? cases[i].msg : "(none)");
		}
	}
}

/* The spellings openssl prints load as the RFC 2253 name the
 * certificate shows (tests/unit/test_cert_dn.c checks them against real
 * certificates); two identities with the same name in different
 * spellings are the same selector. */
static void test_subject_spellings(void **state)
{
	static const char *const forms[] = {
		"CN=ci-bot,O=Example Corp,C=DE",
		"C = DE, O = Example Corp, CN = ci-bot",
		"/C=DE/O=Example Corp/CN=ci-bot",
		"commonName=ci-bot, organizationName=Example Corp, countryName=DE",
	};
	for (size_t i = 0; i < sizeof(forms) / sizeof(forms[0]); i++) {
		char text[512];
		snprintf(text, sizeof(text),
			 "registry = { upstream = \"198.51.100.10:5000\"; server_names = [ \"r.example.test\" ]; };\n"
			 "networks = { office = [ \"203.0.113.0/25\" ]; };\n"
			 "listeners = ( { name = \"p\"; listen = \"0.0.0.0:8443\"; mode = \"passthrough\";\n"
			 "  allow_from = [ \"office\" ]; } );\n"
			 "identities = ( { name = \"a\"; cert_subject = \"%s\"; roles = [ \"pull:*\" ]; } );\n",
			 forms[i]);
		struct rw_policy p;
		struct rw_diag d;
		rw_diag_init(&d);
		if (rw_config_load_string(text, "c.conf", &p, &d)) {
			rw_diag_print(&d, stderr);
			fail_msg("\"%s\" refused", forms[i]);
		}
		assert_string_equal(p.identities[0].cert_subject, "CN=ci-bot,O=Example Corp,C=DE");
		rw_policy_free(&p);
	}
}

static void test_client_ca_not_ca(void **state)
{
	(void)state;
	static const char *const fmt =
		"registry = { upstream = \"127.0.0.1:5000\"; server_names = [ \"registry.example.test\" ]; };\n"
		"networks = { office = [ \"203.0.113.0/25\" ]; };\n"
		"listeners = ( { name = \"tls\"; listen = \"0.0.0.0:443\"; mode = \"terminate\";\n"
		"  cert = \"tests/data/certs/server.pem\"; key = \"tests/data/certs/server.key\";\n"
		"  client_ca = \"tests/data/certs/%s\";\n"
		"  client_cert = \"required\"; allow_from = [ \"office\" ]; } );\n";
	char text[1024];
	struct rw_policy p;
	struct rw_diag d;

	snprintf(text, sizeof(text), fmt, "client.pem");
	rw_diag_init(&d);
	assert_int_equal(rw_config_load_string(text, "t.conf", &p, &d), 0);
	assert_int_equal(rw_daemon_check_tls(&p, NULL, &d), RW_ECONFIG);
	rw_policy_free(&p);
	if (!diag_has(&d, "t.conf:3: listener tls: client_ca tests/data/certs/client.pem: ", 0) ||
	    !diag_has(&d, "is not a CA certificate (basicConstraints CA:FALSE)", 0)) {
		diag_dump(&d);
		fail_msg("leaf certificate as client_ca not reported");
	}

	snprintf(text, sizeof(text), fmt, "ca.pem");
	rw_diag_init(&d);
	assert_int_equal(rw_config_load_string(text, "t.conf", &p, &d), 0);
	assert_int_equal(rw_daemon_check_tls(&p, NULL, &d), 0);
	rw_policy_free(&p);
	assert_int_equal(d.n_err, 0);
}

static void test_names(void **state)
{
	(void)state;
	assert_int_equal(rw_cfg_check_name("office"), 0);
	assert_int_equal(rw_cfg_check_name("a"), 0);
	assert_int_equal(rw_cfg_check_name("ci-bot_2"), 0);
	assert_int_equal(rw_cfg_check_name("abcdefghijklmnopqrstuvwxyz01234"), 0); /* 31 */
	assert_int_equal(rw_cfg_check_name("abcdefghijklmnopqrstuvwxyz012345"), RW_EINVAL);
	assert_int_equal(rw_cfg_check_name(""), RW_EINVAL);
	assert_int_equal(rw_cfg_check_name("Office"), RW_EINVAL);
	assert_int_equal(rw_cfg_check_name("1st"), RW_EINVAL);
	assert_int_equal(rw_cfg_check_name("-x"), RW_EINVAL);
	assert_int_equal(rw_cfg_check_name("a.b"), RW_EINVAL);

	assert_int_equal(rw_cfg_check_ifname("wg0"), 0);
	assert_int_equal(rw_cfg_check_ifname("wg-Reg.1_x"), 0);
	assert_int_equal(rw_cfg_check_ifname("abcdefghijklmno"), 0);
	assert_int_equal(rw_cfg_check_ifname("abcdefghijklmnop"), RW_EINVAL);
	assert_int_equal(rw_cfg_check_ifname(""), RW_EINVAL);
	assert_int_equal(rw_cfg_check_ifname("wg 0"), RW_EINVAL);
	assert_int_equal(rw_cfg_check_ifname("wg/0"), RW_EINVAL);
	assert_int_equal(rw_cfg_check_ifname(".."), RW_EINVAL);
}

static void test_server_names(void **state)
{
	(void)state;
	char a[] = "Registry.Example.TEST", b[] = "*.Example.test", c[] = "localhost",
	     d[] = "a-1.b2";
	assert_int_equal(rw_cfg_server_name_norm(a), 0);
	assert_string_equal(a, "registry.example.test");
	assert_int_equal(rw_cfg_server_name_norm(b), 0);
	assert_string_equal(b, "*.example.test");
	assert_int_equal(rw_cfg_server_name_norm(c), 0);
	assert_int_equal(rw_cfg_server_name_norm(d), 0);
	static const char *const bad[] = {
		"", "*", "*.", "a.*.b", "*a.b", "**.b", "a..b", ".a", "a.", "-a.b", "a-.b",
		"a_b.c", "a b", "xn--\xc3\xa9", "a.b:443",
		"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.b", /* 64 */
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char buf[128];
		snprintf(buf, sizeof(buf), "%s", bad[i]);
		if (rw_cfg_server_name_norm(buf) != RW_EINVAL)
			print_message("server name \"%s\" accepted\n", bad[i]);
		assert_int_equal(rw_cfg_server_name_norm(buf), RW_EINVAL);
	}
	char label63[80];
	memset(label63, 'a', 63);
	strcpy(label63 + 63, ".b");
	assert_int_equal(rw_cfg_server_name_norm(label63), 0);
	char long_name[300];
	for (int i = 0; i < 127; i++)
		memcpy(long_name + 2 * i, "a.", 2);
	strcpy(long_name + 254, "a"); /* 255 chars */
	assert_int_equal(rw_cfg_server_name_norm(long_name), RW_EINVAL);
}

static void test_roles(void **state)
{
	(void)state;
	enum rw_op_class op;
	const char *glob;
	assert_int_equal(rw_cfg_parse_role("pull:*", &op, &glob), 0);
	assert_int_equal(op, RW_ROLE_PULL);
	assert_string_equal(glob, "*");
	assert_int_equal(rw_cfg_parse_role("push:team-a/app_1.x/*", &op, &glob), 0);
	assert_int_equal(op, RW_ROLE_PUSH);
	assert_string_equal(glob, "team-a/app_1.x/*");
	assert_int_equal(rw_cfg_parse_role("delete:team-a/*", &op, &glob), 0);
	assert_int_equal(op, RW_ROLE_DELETE);
	static const char *const bad[] = { "pull:", "pull", "write:*", "PULL:*", "push:Team/*",
					   "push: x", "push:a?b", "push:a:b", "" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(rw_cfg_parse_role(bad[i], &op, &glob), RW_EINVAL);
}

static void test_sha256(void **state)
{
	(void)state;
	uint8_t out[32], want[32];
	for (int i = 0; i < 32; i++)
		want[i] = (uint8_t)(i * 8 + 7);
	char hex[65], colon[97]; /* room for the last "XX:" and its NUL */
	for (int i = 0; i < 32; i++) {
		snprintf(hex + 2 * i, 3, "%02x", want[i]);
		snprintf(colon + 3 * i, 4, "%02X:", want[i]);
	}
	colon[95] = '\0';
	assert_int_equal(rw_cfg_parse_sha256(hex, out), 0);
	assert_memory_equal(out, want, 32);
	memset(out, 0, 32);
	assert_int_equal(rw_cfg_parse_sha256(colon, out), 0);
	assert_memory_equal(out, want, 32);
	hex[10] = 'g';
	assert_int_equal(rw_cfg_parse_sha256(hex, out), RW_EINVAL);
	hex[10] = '0';
	hex[63] = '\0';
	assert_int_equal(rw_cfg_parse_sha256(hex, out), RW_EINVAL);
	colon[2] = '-';
	assert_int_equal(rw_cfg_parse_sha256(colon, out), RW_EINVAL);
	/* 64 hex digits with colons in the wrong places */
	char mixed[97];
	memcpy(mixed, colon, sizeof(mixed));
	mixed[2] = mixed[3];
	mixed[3] = ':';
	assert_int_equal(rw_cfg_parse_sha256(mixed, out), RW_EINVAL);
	assert_int_equal(rw_cfg_parse_sha256("", out), RW_EINVAL);
}

static void test_wg_key(void **state)
{
	(void)state;
	/* generated with `wg genkey | wg pubkey`; bytes from base64 -d */
	static const uint8_t want[32] = { 0x8d, 0x97, 0x41, 0xb7, 0xbc, 0x7c, 0xb7, 0x2a,
					  0x9d, 0xca, 0xd7, 0x9f, 0x16, 0x52, 0xc3, 0xc0,
					  0x42, 0xc3, 0x21, 0xe7, 0x63, 0x95, 0xa2, 0x23,
					  0xdb, 0x04, 0xfb, 0xf5, 0x1e, 0xc4, 0x2f, 0x7f };
	uint8_t out[32];
	assert_int_equal(rw_cfg_parse_wg_key("jZdBt7x8tyqdytefFlLDwELDIedjlaIj2wT79R7EL38=", out), 0);
	assert_memory_equal(out, want, 32);
	assert_int_equal(rw_cfg_parse_wg_key("////////////////////////////////////////+/8=", out), 0);
	assert_int_equal(out[0], 0xff);
	assert_int_equal(out[31], 0xff);
	/* last symbol carries two non-zero trailing bits: same bytes as 'w', refused */
	assert_int_equal(rw_cfg_parse_wg_key("jZdBt7x8tyqdytefFlLDwELDIedjlaIj2wT79R7EL39=", out), RW_EINVAL);
	assert_int_equal(rw_cfg_parse_wg_key("jZdBt7x8tyqdytefFlLDwELDIedjlaIj2wT79R7EL38", out), RW_EINVAL);
	assert_int_equal(rw_cfg_parse_wg_key("jZdBt7x8tyqdytefFlLDwELDIedjlaIj2wT79R7EL38==", out), RW_EINVAL);
	assert_int_equal(rw_cfg_parse_wg_key("jZdBt7x8tyqdytefFlLDwELDIedjlaIj2wT79R7EL3==", out), RW_EINVAL);
	assert_int_equal(rw_cfg_parse_wg_key("jZdBt7x8tyqdytefFlLDwELDIedjlaIj2wT79R7E 38=", out), RW_EINVAL);
	assert_int_equal(rw_cfg_parse_wg_key("jZdBt7x8tyqdytefFlLDwELDIedjlaIj2wT79R7E-38=", out), RW_EINVAL);
	assert_int_equal(rw_cfg_parse_wg_key("", out), RW_EINVAL);
}

static void test_prescan(void **state)
{
	(void)state;
	static const struct {
		const char *text;
		unsigned errs;
		int line; /* of the first error */
	} t[] = {
		{ "a = 2147483647;", 0, 0 },
		{ "a = 2147483648;", 1, 1 },
		{ "a = -2147483649;", 1, 1 },
		{ "a = 5000000000L;", 0, 0 },
		{ "a = 0x7FFFFFFF;", 0, 0 },
		{ "a = 0xFFFFFFFF;", 1, 1 },
		{ "a = 0x1FFFFFFFFL;", 0, 0 },
		{ "a = 5000000000.0; b = 1e12; c = 12345678901e-3;", 0, 0 },
		{ "a = \"5000000000\";", 0, 0 },
		{ "a = \"x\\\"5000000000\";", 0, 0 },
		{ "# 5000000000\n// 5000000000\n/* 5000000000\n */ a = 1;", 0, 0 },
		{ "a12345678901 = 1;", 0, 0 },
		{ "x-99999999999 = 1;", 0, 0 },
		{ "a = 1;\nb = [ 1, 2,\n 99999999999999999999999 ];", 1, 3 },
		{ "a = \"multi\nline\";\nb = 3000000000;", 1, 3 },
		{ "a = 1;\n  @include \"/etc/passwd\"\n", 1, 2 },
		{ "a = \"\n@include \\\"x\\\"\";", 1, 2 },
		{ "a = 1;\nb = \"never\nclosed;\n", 1, 2 },
		{ "a = \"ends in escape\\\"", 1, 1 },
	};
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		struct rw_diag d;
		bool inc;
		char want[32];
		rw_diag_init(&d);
		unsigned e = rw_cfg_prescan(t[i].text, "f", &d, &inc);
		if (e != t[i].errs)
			print_message("prescan case %zu: %u errors\n", i, e);
		assert_int_equal(e, t[i].errs);
		assert_int_equal(d.n_err, t[i].errs);
		if (t[i].errs) {
			snprintf(want, sizeof(want), "f:%d: ", t[i].line);
			assert_memory_equal(d.msg[0].text, want, strlen(want));
		}
		/* libconfig must not see includes or an open string */
		assert_int_equal(inc, strstr(t[i].text, "@include") != NULL ||
					      strstr(t[i].text, "closed") || strstr(t[i].text, "escape"));
	}
}

/* The reason the prescan exists: libconfig really truncates. If a newer
 * libconfig stops doing so this documents it (the scan stays harmless). */
static void test_big_int_needs_suffix(void **state)
{
	(void)state;
	struct rw_policy p;
	struct rw_diag d;
#define BIG_BASE                                                                                   \
	"registry = { upstream = \"198.51.100.10:5000\"; server_names = [ \"r.example.test\" ]; };\n" \
	"networks = { lan = [ \"203.0.113.0/24\" ]; };\n"                                             \
	"listeners = ( { name = \"t\"; listen = \"0.0.0.0:443\"; mode = \"passthrough\";"              \
	" allow_from = [ \"lan\" ]; } );\n"                                                            \
	"policy = { push_rate = { bytes_per_second = %s; }; };\n"
	char text[1024];
	snprintf(text, sizeof(text), BIG_BASE, "5000000000");
	rw_diag_init(&d);
	assert_int_equal(rw_config_load_string(text, "m", &p, &d), RW_ECONFIG);
	assert_true(diag_has(&d, "m:4: integer too large for 32 bits; write it with an L suffix", 0));
	snprintf(text, sizeof(text), BIG_BASE, "5000000000L");
	rw_diag_init(&d);
	assert_int_equal(rw_config_load_string(text, "m", &p, &d), 0);
	assert_int_equal(p.opts.push_bytes_per_second, 5000000000ull);
	rw_policy_free(&p);
	snprintf(text, sizeof(text), BIG_BASE, "2000000000000L");
	rw_diag_init(&d);
	assert_int_equal(rw_config_load_string(text, "m", &p, &d), RW_ECONFIG);
	assert_true(diag_has(&d, "m:4: policy.push_rate.bytes_per_second: 2000000000000 is out of range", 0));
}

static void test_edit_distance(void **state)
{
	(void)state;
	assert_int_equal(rw_cfg_edit_distance("allow_from", "allow_from", 2), 0);
	assert_int_equal(rw_cfg_edit_distance("alow_from", "allow_from", 2), 1);
	assert_int_equal(rw_cfg_edit_distance("allow_form", "allow_from", 2), 2);
	assert_int_equal(rw_cfg_edit_distance("listen", "log", 2), 3);
	assert_int_equal(rw_cfg_edit_distance("", "abc", 5), 3);
}

static void test_policy_lookup(void **state)
{
	(void)state;
	struct rw_network nets[2];
	memset(nets, 0, sizeof(nets));
	strcpy(nets[0].name, "office");
	strcpy(nets[1].name, "ci");
	struct rw_policy p;
	memset(&p, 0, sizeof(p));
	p.networks = nets;
	p.n_networks = 2;
	assert_int_equal(rw_policy_network_index(&p, "ci"), 1);
	assert_int_equal(rw_policy_network_index(&p, "office"), 0);
	assert_int_equal(rw_policy_network_index(&p, "lab"), -1);
	assert_ptr_equal(rw_policy_network(&p, "ci"), &nets[1]);
	assert_null(rw_policy_network(&p, "offic"));
	assert_null(rw_policy_network(NULL, "ci"));
	p.networks = NULL;
	p.n_networks = 0;
	rw_policy_free(&p); /* empty policy: nothing to free, must not crash */
	rw_policy_free(NULL);
}

/* limits.response_timeout: a duration of 100ms..1d like the other
 * timeouts; plain digits are seconds. */
static void test_response_timeout_range(void **state)
{
	(void)state;
	static const struct {
		const char *v;
		uint32_t ms; /* 0: refused */
	} cases[] = {
		{ "\"100ms\"", 100 }, { "\"90s\"", 90000 }, { "300", 300000 },
		{ "\"1d\"", 86400000 }, { "\"99ms\"", 0 }, { "0", 0 },
		{ "\"25h\"", 0 }, { "\"soon\"", 0 }, { "-5", 0 },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char text[1024];
		snprintf(text, sizeof(text),
			 "registry = { upstream = \"198.51.100.10:5000\"; server_names = [ \"r.example.test\" ]; };\n"
			 "networks = { lan = [ \"203.0.113.0/24\" ]; };\n"
			 "listeners = ( { name = \"p\"; listen = \"0.0.0.0:443\"; mode = \"passthrough\"; allow_from = [ \"lan\" ]; } );\n"
			 "limits = { response_timeout = %s; };\n",
			 cases[i].v);
		struct rw_policy p;
		struct rw_diag d;
		rw_diag_init(&d);
		int rc = rw_config_load_string(text, "mem", &p, &d);
		if (cases[i].ms) {
			if (rc)
				rw_diag_print(&d, stderr);
			assert_int_equal(rc, 0);
			assert_int_equal(p.limits.response_timeout_ms, cases[i].ms);
			rw_policy_free(&p);
		} else {
			assert_int_equal(rc, RW_ECONFIG);
			assert_true(diag_has(&d, "mem:4: limits.response_timeout: ", 0));
		}
	}
}

/* listen = [ ... ]: one entry per endpoint, next to each other, with the
 * listener's name and settings (own copies: freeing one frees no other's),
 * endpoint_index / n_endpoints set; a single string is one entry; the
 * nftables table gets one meter pair per name and the same rule comments
 * on every endpoint (so the counters sum up under "https"). */
static void test_listen_list(void **state)
{
	(void)state;
	const char *text =
		"registry = { upstream = \"198.51.100.10:5000\"; server_names = [ \"r.example.test\" ]; };\n"
		"networks = { office = [ \"203.0.113.0/24\", \"2001:db8:1::/48\" ]; };\n"
		"policy = { conn_rate = { per_source = \"20/second\"; ban_after = 50; }; };\n"
		"listeners = (\n"
		" { name = \"https\"; listen = [ \"0.0.0.0:443\", \"[::]:443\" ]; mode = \"passthrough\";\n"
		"   server_names = [ \"a.example.test\" ]; allow_from = [ \"office\" ]; },\n"
		" { name = \"alt\"; listen = \"203.0.113.1:8443\"; mode = \"passthrough\"; allow_from = [ \"office\" ]; }\n"
		");\n";
	struct rw_policy p;
	struct rw_diag d;
	rw_diag_init(&d);
	int r = rw_config_load_string(text, "l.conf", &p, &d);
	if (r)
		diag_dump(&d);
	assert_int_equal(r, 0);
	assert_int_equal(p.n_listeners, 3);
	const struct rw_listener *a = &p.listeners[0], *b = &p.listeners[1], *c = &p.listeners[2];
	assert_string_equal(a->name, "https");
	assert_string_equal(b->name, "https");
	assert_string_equal(c->name, "alt");
	assert_int_equal(a->endpoint_index, 0);
	assert_int_equal(b->endpoint_index, 1);
	assert_int_equal(a->n_endpoints, 2);
	assert_int_equal(b->n_endpoints, 2);
	assert_int_equal(c->endpoint_index, 0);
	assert_int_equal(c->n_endpoints, 1);
	assert_int_equal(a->listen.family, AF_INET);
	assert_int_equal(b->listen.family, AF_INET6);
	assert_int_equal(a->listen.port, 443);
	assert_int_equal(b->listen.port, 443);
	assert_int_equal(a->line, b->line);
	assert_int_equal(b->mode, RW_MODE_PASSTHROUGH);
	assert_int_equal(b->n_server_names, 1);
	assert_string_equal(b->server_names[0], "a.example.test");
	assert_ptr_not_equal(a->server_names, b->server_names);
	assert_ptr_not_equal(a->server_names[0], b->server_names[0]);
	assert_int_equal(b->n_allow_nets, 1);
	assert_ptr_not_equal(a->allow_nets, b->allow_nets);
	assert_int_equal(b->allow_nets[0], a->allow_nets[0]);

	struct rw_nft_compiled *comp = NULL;
	assert_int_equal(rw_nft_compile(&p, &comp, &d), 0);
	char *txt = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&txt, &len);
	assert_non_null(f);
	assert_int_equal(rw_nft_dump_text(comp, f), 0);
	fclose(f);
	rw_nft_compiled_free(comp);
	size_t n_meter = 0, n_allow = 0;
	for (const char *q = txt; (q = strstr(q, "\nset meter_https_v4 ")); q++)
		n_meter++;
	for (const char *q = txt; (q = strstr(q, "comment \"https allow office\"")); q++)
		n_allow++;
	assert_int_equal(n_meter, 1);
	assert_int_equal(n_allow, 4); /* net_ and live_ lookups, on v4 and on v6 */
	assert_null(strstr(txt, "https#"));
	free(txt);
	rw_policy_free(&p);
}

/* log.audit and its settings (the audit chain, docs/design/audit.md) */
static void test_audit_settings(void **state)
{
	(void)state;
	struct rw_policy p;
	struct rw_diag d;
	assert_int_equal(load_ok("tests/configs/good/06-audit.conf", &p, &d), 0);
	assert_string_equal(p.log.audit, "/var/log/regwall/audit.jsonl");
	assert_string_equal(p.log.audit_key, "/var/lib/regwall/audit.key");
	assert_int_equal(p.log.audit_cp_lines, 10);
	assert_int_equal(p.log.audit_cp_ms, 5000);
	rw_policy_free(&p);
}

/* registry.other_addresses: plain addresses, with the upstream's port,
 * kept in order (tests/configs/good/07-transparent.conf; the refusals are
 * tests/configs/bad/97-99). */
static void test_other_addresses(void **state)
{
	(void)state;
	struct rw_policy p;
	struct rw_diag d;
	assert_int_equal(load_ok("tests/configs/good/07-transparent.conf", &p, &d), 0);
	assert_int_equal(p.registry.n_other, 1);
	assert_int_equal(p.registry.other[0].family, AF_INET6);
	assert_int_equal(p.registry.other[0].port, 5000);
	static const uint8_t want[16] = { 0x20, 0x01, 0x0d, 0xb8, 0, 3, [15] = 0x10 };
	assert_memory_equal(p.registry.other[0].addr, want, 16);
	rw_policy_free(&p);
	assert_int_equal(load_ok("tests/configs/good/02-minimal.conf", &p, &d), 0);
	assert_int_equal(p.registry.n_other, 0);
	assert_null(p.registry.other);
	rw_policy_free(&p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_bad_configs),
		cmocka_unit_test(test_good_configs),
		cmocka_unit_test(test_audit_settings),
		cmocka_unit_test(test_other_addresses),
		cmocka_unit_test(test_sample_config),
		cmocka_unit_test(test_full_values),
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_response_timeout_range),
		cmocka_unit_test(test_merge_warnings),
		cmocka_unit_test(test_collects_all_errors),
		cmocka_unit_test(test_parse_error_location),
		cmocka_unit_test(test_duration),
		cmocka_unit_test(test_rate),
		cmocka_unit_test(test_endpoint),
		cmocka_unit_test(test_cannot_work),
		cmocka_unit_test(test_subject_spellings),
		cmocka_unit_test(test_unreachable_rights),
		cmocka_unit_test(test_diag_line_order),
		cmocka_unit_test(test_client_ca_not_ca),
		cmocka_unit_test(test_names),
		cmocka_unit_test(test_server_names),
		cmocka_unit_test(test_roles),
		cmocka_unit_test(test_sha256),
		cmocka_unit_test(test_wg_key),
		cmocka_unit_test(test_prescan),
		cmocka_unit_test(test_big_int_needs_suffix),
		cmocka_unit_test(test_listen_list),
		cmocka_unit_test(test_edit_distance),
		cmocka_unit_test(test_policy_lookup),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
