/* rules/rw_policy_pack.c, rw_policy_unpack*.c: the policy as one message
 * for a worker that inherits nothing. Run from the repository root (the
 * configs are tests/configs/good/, the fuzz seeds
 * tests/fuzz/corpus/policy_pack/).
 *
 * Every good config round-trips field by field and byte for byte; every
 * prefix of a real message, and crafted bad ones, fail with their own
 * error and leave the policy zeroed (ASan: `make asan` finds any leak).
 *
 * Seeds: RW_POLICY_PACK_SEEDS=DIR build/tests/test_policy_pack writes the
 * packed configs (and two made-up policies) to DIR; test_seeds checks that
 * the committed ones still unpack to their own bytes. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <dirent.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "appliance/rw_config.h"
#include "base/rw_err.h"
#include "rules/rw_cidr.h"
#include "rules/rw_policy_pack.h"
#include "rules/rw_policy_unpack_int.h"

#define GOOD_DIR "tests/configs/good"
#define SEED_DIR "tests/fuzz/corpus/policy_pack"

/* ---- deep comparison: every field, NULL apart from "" ---- */

static void same_str(const char *a, const char *b)
{
	if (!a || !b) {
		assert_null(a);
		assert_null(b);
		return;
	}
	assert_string_equal(a, b);
}

/* b is the unpacked side: an empty array comes back NULL */
static void same_strv(char *const *a, size_t na, char *const *b, size_t nb)
{
	assert_int_equal(na, nb);
	if (nb == 0)
		assert_null(b);
	for (size_t i = 0; i < na; i++) {
		assert_non_null(b[i]);
		same_str(a[i], b[i]);
	}
}

static void same_cidr(const struct rw_cidr *a, const struct rw_cidr *b)
{
	assert_int_equal(a->family, b->family);
	assert_int_equal(a->prefix, b->prefix);
	assert_memory_equal(a->addr, b->addr, sizeof(a->addr));
}

static void same_cidrs(const struct rw_cidr *a, size_t na, const struct rw_cidr *b, size_t nb)
{
	assert_int_equal(na, nb);
	if (nb == 0)
		assert_null(b);
	for (size_t i = 0; i < na; i++)
		same_cidr(&a[i], &b[i]);
}

static void same_ep(const struct rw_endpoint *a, const struct rw_endpoint *b)
{
	assert_int_equal(a->family, b->family);
	assert_memory_equal(a->addr, b->addr, sizeof(a->addr));
	assert_int_equal(a->port, b->port);
}

static void same_roles(const struct rw_role *a, size_t na, const struct rw_role *b, size_t nb)
{
	assert_int_equal(na, nb);
	if (nb == 0)
		assert_null(b);
	for (size_t i = 0; i < na; i++) {
		assert_int_equal(a[i].op, b[i].op);
		same_str(a[i].glob, b[i].glob);
	}
}

static void same_listener(const struct rw_listener *a, const struct rw_listener *b)
{
	assert_memory_equal(a->name, b->name, sizeof(a->name));
	same_ep(&a->listen, &b->listen);
	assert_int_equal(a->endpoint_index, b->endpoint_index);
	assert_int_equal(a->n_endpoints, b->n_endpoints);
	assert_int_equal(a->mode, b->mode);
	same_str(a->cert, b->cert);
	same_str(a->key, b->key);
	same_str(a->client_ca, b->client_ca);
	same_str(a->crl, b->crl);
	assert_int_equal(a->client_cert, b->client_cert);
	same_strv(a->server_names, a->n_server_names, b->server_names, b->n_server_names);
	assert_int_equal(a->allow_ech, b->allow_ech);
	assert_int_equal(a->no_tickets, b->no_tickets);
	assert_int_equal(a->n_allow_nets, b->n_allow_nets);
	for (size_t k = 0; k < a->n_allow_nets; k++)
		assert_int_equal(a->allow_nets[k], b->allow_nets[k]);
	assert_int_equal(a->allow_vpn, b->allow_vpn);
	assert_int_equal(a->transparent, b->transparent);
	assert_int_equal(a->line, b->line);
	assert_int_equal(a->cert_line, b->cert_line);
	assert_int_equal(a->key_line, b->key_line);
}

static void same_identity(const struct rw_identity *a, const struct rw_identity *b)
{
	assert_memory_equal(a->name, b->name, sizeof(a->name));
	same_str(a->cert_subject, b->cert_subject);
	same_str(a->cert_san, b->cert_san);
	assert_memory_equal(a->cert_sha256, b->cert_sha256, 32);
	assert_int_equal(a->has_sha256, b->has_sha256);
	same_roles(a->roles, a->n_roles, b->roles, b->n_roles);
	assert_int_equal(a->line, b->line);
}

static void same_vpn(const struct rw_vpn *a, const struct rw_vpn *b)
{
	assert_int_equal(a->enabled, b->enabled);
	assert_memory_equal(a->interface, b->interface, sizeof(a->interface));
	assert_int_equal(a->listen_port, b->listen_port);
	same_cidr(&a->address, &b->address);
	same_str(a->private_key_file, b->private_key_file);
	assert_int_equal(a->n_peers, b->n_peers);
	for (size_t i = 0; i < a->n_peers; i++) {
		const struct rw_peer *x = &a->peers[i], *y = &b->peers[i];
		assert_memory_equal(x->name, y->name, sizeof(x->name));
		assert_memory_equal(x->public_key, y->public_key, 32);
		same_cidrs(x->addresses, x->n_addresses, y->addresses, y->n_addresses);
		same_ep(&x->endpoint, &y->endpoint);
		same_roles(x->roles, x->n_roles, y->roles, y->n_roles);
		assert_int_equal(x->line, y->line);
	}
}

/* The scalar sections have no pointers and no padding holes the loader
 * leaves unset (calloc): compare them whole, then by field for a
 * readable failure. */
static void same_scalars(const struct rw_policy *a, const struct rw_policy *b)
{
	const struct rw_policy_opts *x = &a->opts, *y = &b->opts;
	assert_int_equal(x->push_requires_vpn, y->push_requires_vpn);
	assert_int_equal(x->pull_needs_role, y->pull_needs_role);
	assert_int_equal(x->push_ops_per_minute, y->push_ops_per_minute);
	assert_int_equal(x->push_bytes_per_second, y->push_bytes_per_second);
	assert_int_equal(x->push_burst_ops, y->push_burst_ops);
	assert_int_equal(x->push_burst_bytes, y->push_burst_bytes);
	assert_int_equal(x->conn_per_source.count, y->conn_per_source.count);
	assert_int_equal(x->conn_per_source.per_ms, y->conn_per_source.per_ms);
	assert_int_equal(x->conn_per_source.burst, y->conn_per_source.burst);
	assert_int_equal(x->ban_after, y->ban_after);
	assert_int_equal(x->ban_for_ms, y->ban_for_ms);
	assert_int_equal(x->ban_set_size, y->ban_set_size);
	assert_memory_equal(&a->limits, &b->limits, sizeof(a->limits));
	assert_int_equal(a->log.nflog_group, b->log.nflog_group);
	same_str(a->log.blocked, b->log.blocked);
	same_str(a->log.blocked_pcap, b->log.blocked_pcap);
	same_str(a->log.audit, b->log.audit);
	same_str(a->control_socket, b->control_socket);
	same_str(a->state_file, b->state_file);
	same_ep(&a->metrics, &b->metrics);
}

static void same_policy(const struct rw_policy *a, const struct rw_policy *b)
{
	same_str(a->source_file, b->source_file);
	same_ep(&a->registry.upstream, &b->registry.upstream);
	assert_int_equal(a->registry.upstream_tls, b->registry.upstream_tls);
	same_str(a->registry.upstream_ca, b->registry.upstream_ca);
	same_strv(a->registry.server_names, a->registry.n_server_names, b->registry.server_names,
		  b->registry.n_server_names);
	assert_int_equal(a->n_networks, b->n_networks);
	for (size_t i = 0; i < a->n_networks; i++) {
		assert_memory_equal(a->networks[i].name, b->networks[i].name, RW_NAME_MAX);
		same_cidrs(a->networks[i].cidrs, a->networks[i].n_cidrs, b->networks[i].cidrs,
			   b->networks[i].n_cidrs);
		assert_int_equal(a->networks[i].line, b->networks[i].line);
	}
	assert_int_equal(a->n_listeners, b->n_listeners);
	for (size_t i = 0; i < a->n_listeners; i++)
		same_listener(&a->listeners[i], &b->listeners[i]);
	assert_int_equal(a->n_identities, b->n_identities);
	for (size_t i = 0; i < a->n_identities; i++)
		same_identity(&a->identities[i], &b->identities[i]);
	same_vpn(&a->vpn, &b->vpn);
	same_scalars(a, b);
}

/* ---- helpers ---- */

static int policy_is_zero(const struct rw_policy *p)
{
	static const struct rw_policy zero;
	return memcmp(p, &zero, sizeof(zero)) == 0;
}

static void load(const char *path, struct rw_policy *p)
{
	struct rw_diag d;
	rw_diag_init(&d);
	int r = rw_config_load_file(path, p, &d);
	if (r)
		rw_diag_print(&d, stderr);
	assert_int_equal(r, 0);
}

/* A small policy from config text; the tests then bend it. */
static void load_text(const char *text, struct rw_policy *p)
{
	struct rw_diag d;
	rw_diag_init(&d);
	int r = rw_config_load_string(text, "SRCMARK", p, &d);
	if (r)
		rw_diag_print(&d, stderr);
	assert_int_equal(r, 0);
}

static const char small_conf[] =
	"registry = { upstream = \"198.51.100.10:5000\"; server_names = [ \"r.example\" ]; };\n"
	"networks = { nmark = [ \"10.0.0.0/24\", \"10.0.2.0/24\" ]; };\n"
	"listeners = ( { name = \"lmark\"; listen = \"0.0.0.0:443\"; mode = \"passthrough\";\n"
	"  server_names = [ \"smark.example\" ]; allow_from = [ \"nmark\" ]; } );\n"
	"identities = ( { name = \"imark\"; cert_subject = \"CN=x\";\n"
	"  roles = [ \"push:gmark\" ]; } );\n"
	"policy = { push_requires_vpn = false; };\n";

static void pack_ok(const struct rw_policy *p, uint8_t **buf, size_t *len)
{
	assert_int_equal(rw_policy_pack(p, buf, len), 0);
	assert_non_null(*buf);
	assert_true(*len >= 8);
}

/* Unpack must fail with want, say why once, and leave *p zeroed. */
static void unpack_fails(const uint8_t *buf, size_t len, int want, const char *why)
{
	struct rw_policy p;
	struct rw_diag d;
	rw_diag_init(&d);
	memset(&p, 0xa5, sizeof(p));
	int r = rw_policy_unpack(buf, len, &p, &d);
	if (r != want || (why && (d.n < 1 || !strstr(d.msg[0].text, why))))
		print_message("  got %d (%s), want %d: %s\n", r, d.n ? d.msg[0].text : "-", want,
			      why ? why : "");
	assert_int_equal(r, want);
	assert_true(policy_is_zero(&p));
	assert_int_equal(d.n_err, 1);
	if (why)
		assert_non_null(strstr(d.msg[0].text, why));
	/* and the same without a diag */
	assert_int_equal(rw_policy_unpack(buf, len, &p, NULL), want);
	assert_true(policy_is_zero(&p));
}

/* pack -> unpack -> compare -> pack again: the same bytes. */
static void round_trip(const struct rw_policy *p)
{
	uint8_t *buf, *again;
	size_t len, len2;
	struct rw_policy q;
	struct rw_diag d;
	pack_ok(p, &buf, &len);
	rw_diag_init(&d);
	int r = rw_policy_unpack(buf, len, &q, &d);
	if (r)
		rw_diag_print(&d, stderr);
	assert_int_equal(r, 0);
	assert_int_equal(d.n, 0);
	same_policy(p, &q);
	pack_ok(&q, &again, &len2);
	assert_int_equal(len, len2);
	assert_memory_equal(buf, again, len);
	rw_policy_free(&q);
	free(buf);
	free(again);
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

/* Sorted names of the files in dir ending in suffix. */
static size_t list_dir(const char *dir, const char *suffix, char ***out)
{
	DIR *d = opendir(dir);
	assert_non_null(d);
	char **v = NULL;
	size_t n = 0;
	struct dirent *e;
	while ((e = readdir(d))) {
		if (e->d_name[0] == '.' || !ends_with(e->d_name, suffix))
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

static void free_list(char **v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

/* Offset of the only occurrence of marker in buf. */
static size_t find(const uint8_t *buf, size_t len, const char *marker)
{
	size_t m = strlen(marker), at = SIZE_MAX;
	for (size_t i = 0; i + m <= len; i++)
		if (memcmp(buf + i, marker, m) == 0) {
			assert_true(at == SIZE_MAX);
			at = i;
		}
	assert_true(at != SIZE_MAX);
	return at;
}

static void put_le32(uint8_t *b, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		b[i] = (uint8_t)(v >> (8 * i));
}

static struct rw_cidr cidr(const char *text, int host_bits)
{
	struct rw_cidr c;
	assert_int_equal(rw_cidr_parse(text, &c, host_bits), 0);
	return c;
}

/* 01-full plus what it does not set (the audit path, metrics on an
 * IPv6 address), "" next to NULL, a listener on port 0 (tests), extreme
 * lines and numbers. The paths 01-full sets are replaced (freed first). */
static void load_max(struct rw_policy *p)
{
	load(GOOD_DIR "/01-full.conf", p);
	free(p->log.blocked);
	free(p->log.blocked_pcap);
	free(p->log.audit);
	p->log.blocked = strdup("/var/log/regwall/blocked.jsonl");
	p->log.blocked_pcap = strdup("/var/log/regwall/blocked.pcap");
	p->log.audit = strdup("");
	assert_non_null(p->log.blocked);
	p->metrics.family = AF_INET6;
	assert_int_equal(inet_pton(AF_INET6, "2001:db8::5", p->metrics.addr), 1);
	p->metrics.port = 9100;
	assert_null(p->identities[1].cert_subject);
	p->identities[1].cert_subject = strdup(""); /* cert_san stays NULL */
	p->listeners[0].listen.port = 0;
	p->listeners[1].endpoint_index = 2;
	p->listeners[1].n_endpoints = 3;
	p->networks[0].line = INT_MIN;
	p->networks[1].line = INT_MAX;
	p->opts.ban_for_ms = UINT64_MAX;
	p->limits.drain_timeout_ms = UINT32_MAX;
	p->vpn.peers[1].endpoint.family = AF_INET6;
	p->vpn.peers[1].endpoint.addr[15] = 1;
	p->vpn.peers[1].endpoint.port = 65535;
}

/* ---- round trips ---- */

static void test_good_configs(void **state)
{
	(void)state;
	char **files;
	size_t n = list_dir(GOOD_DIR, ".conf", &files);
	assert_true(n >= 5);
	for (size_t i = 0; i < n; i++) {
		struct rw_policy p;
		load(files[i], &p);
		round_trip(&p);
		rw_policy_free(&p);
	}
	free_list(files, n);
}

static void test_max_policy(void **state)
{
	(void)state;
	struct rw_policy p;
	load_max(&p);
	round_trip(&p);
	rw_policy_free(&p);
}

/* Host bits in the VPN interface address, an empty network (a live
 * delete can empty one), v4 /0 next to v6 prefixes, adjacent prefixes. */
static void test_edge_values(void **state)
{
	(void)state;
	struct rw_policy p;
	load_text(small_conf, &p);
	p.vpn.enabled = true;
	p.vpn.address = cidr("192.0.2.1/24", 1);
	snprintf(p.vpn.interface, sizeof(p.vpn.interface), "%s", "wg-fifteen-char");
	round_trip(&p);
	struct rw_network *net = &p.networks[0];
	struct rw_cidr *v = realloc(net->cidrs, 4 * sizeof(*v));
	assert_non_null(v);
	v[0] = cidr("0.0.0.0/0", 0);
	v[1] = cidr("::/1", 0);
	v[2] = cidr("8000::/2", 0);
	v[3] = cidr("c000::/2", 0); /* up to the top of the space */
	net->cidrs = v;
	net->n_cidrs = 4;
	round_trip(&p);
	free(net->cidrs);
	net->cidrs = NULL;
	net->n_cidrs = 0;
	round_trip(&p);
	rw_policy_free(&p);
}

/* The count bounds (left / fewest bytes per element) must not refuse the
 * smallest honest elements: a policy of nothing but minimal elements, and
 * each one's size measured as the difference one more element makes. */
static void test_minimal_elements(void **state)
{
	(void)state;
	struct rw_policy p = { 0 };
	uint8_t *b0, *b1;
	size_t l0, l1;
	p.registry.upstream.family = AF_INET;
	p.registry.upstream.port = 1;
	pack_ok(&p, &b0, &l0);
	static const struct {
		size_t min;
		size_t off_n, off_v, size;
	} arrays[] = {
		{ PK_NETWORK, offsetof(struct rw_policy, n_networks),
		  offsetof(struct rw_policy, networks), sizeof(struct rw_network) },
		{ PK_LISTENER, offsetof(struct rw_policy, n_listeners),
		  offsetof(struct rw_policy, listeners), sizeof(struct rw_listener) },
		{ PK_IDENTITY, offsetof(struct rw_policy, n_identities),
		  offsetof(struct rw_policy, identities), sizeof(struct rw_identity) },
		{ PK_PEER, offsetof(struct rw_policy, vpn.n_peers),
		  offsetof(struct rw_policy, vpn.peers), sizeof(struct rw_peer) },
	};
	for (size_t i = 0; i < sizeof(arrays) / sizeof(arrays[0]); i++) {
		struct rw_policy q = p;
		void *arr = calloc(3, arrays[i].size);
		assert_non_null(arr);
		if (arrays[i].size == sizeof(struct rw_listener))
			for (size_t k = 0; k < 3; k++)
				((struct rw_listener *)arr)[k].listen = p.registry.upstream;
		*(size_t *)((char *)&q + arrays[i].off_n) = 3;
		memcpy((char *)&q + arrays[i].off_v, &arr, sizeof(arr));
		pack_ok(&q, &b1, &l1);
		assert_int_equal(l1 - l0, 3 * arrays[i].min);
		round_trip(&q);
		free(b1);
		free(arr);
	}
	/* and the elements inside: a prefix, a role, an index, a string */
	struct rw_network net = { .name = "" };
	struct rw_cidr c4[3] = { cidr("10.0.0.0/8", 0), cidr("11.0.0.0/8", 0),
				 cidr("12.0.0.0/8", 0) };
	net.cidrs = c4;
	net.n_cidrs = 3;
	p.networks = &net;
	p.n_networks = 1;
	pack_ok(&p, &b1, &l1);
	assert_int_equal(l1 - l0, PK_NETWORK + 3 * PK_CIDR);
	round_trip(&p);
	free(b1);
	char glob[] = "", *names[3] = { glob, glob, glob };
	struct rw_role roles[3] = { { RW_ROLE_PULL, glob },
				    { RW_ROLE_PULL, glob },
				    { RW_ROLE_PULL, glob } };
	struct rw_identity id = { .roles = roles, .n_roles = 3 };
	p.identities = &id;
	p.n_identities = 1;
	p.registry.server_names = names;
	p.registry.n_server_names = 3;
	uint8_t *b2;
	size_t l2;
	pack_ok(&p, &b2, &l2);
	assert_int_equal(l2 - l1, PK_IDENTITY + 3 * PK_ROLE + 3 * PK_STR);
	round_trip(&p);
	free(b0);
	free(b2);
}

/* ---- refusals ---- */

/* Every proper prefix of a real message: incomplete, zeroed, no leak. */
static void test_truncated_everywhere(void **state)
{
	(void)state;
	struct rw_policy p;
	uint8_t *buf;
	size_t len;
	load_max(&p);
	pack_ok(&p, &buf, &len);
	rw_policy_free(&p);
	for (size_t k = 0; k < len; k++) {
		uint8_t *cut = malloc(k ? k : 1); /* exactly k bytes: ASan sees any over-read */
		assert_non_null(cut);
		memcpy(cut, buf, k);
		unpack_fails(cut, k, RW_EINCOMPLETE, NULL);
		free(cut);
	}
	unpack_fails(NULL, 0, RW_EINCOMPLETE, "magic");
	free(buf);
}

static void test_header(void **state)
{
	(void)state;
	struct rw_policy p;
	uint8_t *buf;
	size_t len;
	load_text(small_conf, &p);
	pack_ok(&p, &buf, &len);
	rw_policy_free(&p);
	assert_memory_equal(buf, "RWPK\x02\0\0\0", 8);
	buf[0] = 'X';
	unpack_fails(buf, len, RW_EPROTO, "byte 0: magic: 0x4b505758 is not a packed policy");
	buf[0] = 'R';
	buf[4] = 1;
	unpack_fails(buf, len, RW_EPROTO, "byte 4: version: version 1 (this build reads 2)");
	buf[4] = 2;
	/* trailing bytes */
	uint8_t *more = malloc(len + 1);
	assert_non_null(more);
	memcpy(more, buf, len);
	more[len] = 0;
	unpack_fails(more, len + 1, RW_EPROTO, "bytes after the policy: 1");
	free(more);
	/* over the cap: refused before a byte is read */
	uint8_t *huge = calloc(1, (size_t)RW_POLICY_PACK_MAX + 1);
	assert_non_null(huge);
	memcpy(huge, buf, len);
	unpack_fails(huge, (size_t)RW_POLICY_PACK_MAX + 1, RW_ETOOBIG, "at most");
	free(huge);
	free(buf);
}

/* Strings and names: lengths, NUL, NULL where required. */
static void test_strings(void **state)
{
	(void)state;
	struct rw_policy p;
	uint8_t *buf;
	size_t len;
	load_text(small_conf, &p);
	pack_ok(&p, &buf, &len);
	rw_policy_free(&p);
	size_t src = find(buf, len, "SRCMARK"); /* source_file's text */
	assert_int_equal(src, 12);
	uint8_t *b = malloc(len);
	assert_non_null(b);
#define RESET() memcpy(b, buf, len)
	RESET();
	put_le32(b + src - 4, 0xfffffff0u);
	unpack_fails(b, len, RW_ETOOBIG, "byte 8: source_file: a string of 4294967280 bytes");
	RESET();
	put_le32(b + src - 4, RW_POLICY_PACK_STR_MAX); /* allowed, but not there */
	unpack_fails(b, len, RW_EINCOMPLETE, "source_file: 65536 bytes of text");
	RESET();
	b[src + 3] = '\0';
	unpack_fails(b, len, RW_EINVAL, "source_file: a NUL inside the text");
	/* a server name may not be NULL */
	size_t sn = find(buf, len, "r.example");
	RESET();
	put_le32(b + sn - 4, RW_POLICY_PACK_NULL);
	unpack_fails(b, len, RW_EINVAL,
		     "registry.server_names[0]: NULL where a string is required");
	/* a name must fit its array with the NUL */
	size_t nm = find(buf, len, "nmark");
	RESET();
	b[nm - 1] = RW_NAME_MAX;
	unpack_fails(b, len, RW_ERANGE, "networks[0].name: 32 bytes do not fit 32 with the NUL");
	RESET();
	b[nm - 1] = 255;
	unpack_fails(b, len, RW_ERANGE, "do not fit");
	RESET();
	b[nm + 2] = '\0';
	unpack_fails(b, len, RW_EINVAL, "networks[0].name: a NUL inside the text");
	/* a role's glob may not be NULL either (fwd/ matches it) */
	size_t gl = find(buf, len, "gmark");
	RESET();
	put_le32(b + gl - 4, RW_POLICY_PACK_NULL);
	unpack_fails(b, len, RW_EINVAL, "identities[0].roles[0]: NULL where a string is required");
#undef RESET
	free(b);
	free(buf);
}

/* Counts, indexes, enums, bools. */
static void test_counts_and_values(void **state)
{
	(void)state;
	struct rw_policy p;
	uint8_t *buf;
	size_t len;
	load_text(small_conf, &p);
	pack_ok(&p, &buf, &len);
	rw_policy_free(&p);
	uint8_t *b = malloc(len);
	assert_non_null(b);
#define RESET() memcpy(b, buf, len)
	/* the networks count: 4 bytes before the first name's length byte */
	size_t nm = find(buf, len, "nmark") - 1;
	RESET();
	put_le32(b + nm - 4, 0x7fffffffu);
	unpack_fails(b, len, RW_EINCOMPLETE,
		     "networks: 2147483647 elements need at least 9 bytes each");
	RESET();
	put_le32(b + nm + 6, 1000); /* the cidrs count after "nmark" */
	unpack_fails(b, len, RW_EINCOMPLETE, "networks[0].cidrs: 1000 elements need at least 6");
	/* after the listener's last server name: allow_ech, no_tickets, the
	 * allow_nets count, the index */
	size_t sn = find(buf, len, "smark.example") + strlen("smark.example");
	assert_int_equal(buf[sn + 2], 1);
	RESET();
	put_le32(b + sn + 6, 1);
	unpack_fails(b, len, RW_ERANGE, "listeners[0].allow_nets[0]: network 1 of 1");
	RESET();
	put_le32(b + sn + 2, 2);
	unpack_fails(b, len, RW_ERANGE, "listeners[0].allow_nets: 2 entries for 1 networks");
	RESET();
	b[sn] = 2;
	unpack_fails(b, len, RW_ERANGE, "listeners[0].allow_ech: a bool is 0 or 1, not 2");
	/* mode: after the name, a v4 endpoint (7) and two u32 */
	size_t lm = find(buf, len, "lmark") + 5;
	assert_int_equal(buf[lm + 15], RW_MODE_PASSTHROUGH);
	RESET();
	b[lm + 15] = 2;
	unpack_fails(b, len, RW_ERANGE, "listeners[0].mode: 2 is not one of 0..1");
	RESET();
	put_le32(b + lm + 7, 1); /* endpoint_index 1 of n_endpoints 1 */
	unpack_fails(b, len, RW_ERANGE, "listeners[0].endpoint_index: 1 of 1 endpoints");
	/* a role's op: the byte before its glob's length */
	size_t gl = find(buf, len, "gmark") - 4;
	assert_int_equal(buf[gl - 1], RW_ROLE_PUSH);
	RESET();
	b[gl - 1] = 3;
	unpack_fails(b, len, RW_ERANGE, "identities[0].roles[0]: 3 is not one of 0..2");
#undef RESET
	free(b);
	free(buf);
}

/* Families, prefix lengths, host bits, ports. */
static void test_addresses(void **state)
{
	(void)state;
	struct rw_policy p;
	uint8_t *buf;
	size_t len;
	load_text(small_conf, &p);
	pack_ok(&p, &buf, &len);
	uint8_t *b = malloc(len);
	assert_non_null(b);
#define RESET() memcpy(b, buf, len)
	/* the upstream endpoint follows source_file */
	size_t up = find(buf, len, "SRCMARK") + 7;
	assert_int_equal(buf[up], AF_INET);
	RESET();
	b[up] = 0; /* required */
	unpack_fails(b, len, RW_ERANGE, "registry.upstream: address family 0");
	RESET();
	b[up] = 3;
	unpack_fails(b, len, RW_ERANGE, "address family 3");
	RESET();
	b[up + 5] = b[up + 6] = 0;
	unpack_fails(b, len, RW_ERANGE, "registry.upstream: port 0");
	/* the first prefix of nmark: family, prefix, 10.0.0.0 */
	size_t c0 = find(buf, len, "nmark") + 5 + 4;
	assert_int_equal(buf[c0 + 1], 24);
	RESET();
	b[c0 + 1] = 33;
	unpack_fails(b, len, RW_ERANGE, "networks[0].cidrs[0]: prefix length 33 (at most 32)");
	RESET();
	b[c0 + 5] = 1; /* 10.0.0.1/24 */
	unpack_fails(b, len, RW_EINVAL, "networks[0].cidrs[0]: host bits set");
	free(b);
	free(buf);
#undef RESET

	/* the rest is easier to say on the policy: pack does not judge */
	struct rw_cidr *v = p.networks[0].cidrs, keep[2] = { v[0], v[1] };
	v[0] = keep[1];
	v[1] = keep[0];
	pack_ok(&p, &buf, &len);
	unpack_fails(buf, len, RW_EINVAL, "networks[0].cidrs[1]: below the prefix before it");
	free(buf);
	v[0] = cidr("10.0.0.0/16", 0);
	v[1] = cidr("10.0.2.0/24", 0);
	pack_ok(&p, &buf, &len);
	unpack_fails(buf, len, RW_EEXIST, "networks[0].cidrs[1]: overlaps the prefix before it");
	free(buf);
	v[1] = v[0]; /* a duplicate */
	pack_ok(&p, &buf, &len);
	unpack_fails(buf, len, RW_EEXIST, "overlaps");
	free(buf);
	v[0] = cidr("0.0.0.0/0", 0); /* reaches the top: nothing v4 after it */
	v[1] = cidr("255.255.255.255/32", 0);
	pack_ok(&p, &buf, &len);
	unpack_fails(buf, len, RW_EEXIST, "overlaps");
	free(buf);
	v[0] = cidr("2001:db8::/32", 0);
	v[1] = cidr("10.0.0.0/8", 0);
	pack_ok(&p, &buf, &len);
	unpack_fails(buf, len, RW_EINVAL, "networks[0].cidrs[1]: IPv4 after IPv6");
	free(buf);
	v[0] = cidr("10.0.0.0/8", 0);
	v[1].family = AF_INET6;
	v[1].prefix = 96;
	memset(v[1].addr, 0, 16);
	v[1].addr[10] = v[1].addr[11] = 0xff; /* ::ffff:0:0/96, which the parser refuses */
	pack_ok(&p, &buf, &len);
	unpack_fails(buf, len, RW_EINVAL, "networks[0].cidrs[1]: an IPv4-mapped IPv6 address");
	free(buf);
	v[1] = cidr("2001:db8::/32", 0);

	/* vpn: its address may keep host bits but must be set when enabled */
	p.vpn.enabled = true;
	pack_ok(&p, &buf, &len);
	unpack_fails(buf, len, RW_ERANGE, "vpn.address: address family 0");
	free(buf);
	p.vpn.address = cidr("192.0.2.1/24", 1);
	p.vpn.peers = calloc(1, sizeof(*p.vpn.peers));
	assert_non_null(p.vpn.peers);
	p.vpn.n_peers = 1;
	p.vpn.peers[0].addresses = calloc(1, sizeof(struct rw_cidr));
	assert_non_null(p.vpn.peers[0].addresses);
	p.vpn.peers[0].n_addresses = 1;
	p.vpn.peers[0].addresses[0] = cidr("192.0.2.7/24", 1);
	pack_ok(&p, &buf, &len);
	unpack_fails(buf, len, RW_EINVAL, "vpn.peers[0].addresses[0]: host bits set");
	free(buf);
	p.vpn.peers[0].addresses[0] = cidr("192.0.2.7/32", 0);
	p.vpn.peers[0].endpoint.family = AF_INET; /* set, port 0 */
	pack_ok(&p, &buf, &len);
	unpack_fails(buf, len, RW_ERANGE, "vpn.peers[0].endpoint: port 0");
	free(buf);
	p.vpn.peers[0].endpoint.port = 51820;
	round_trip(&p);
	p.listeners[0].endpoint_index = 1; /* n_endpoints 0 means 1 */
	p.listeners[0].n_endpoints = 0;
	pack_ok(&p, &buf, &len);
	unpack_fails(buf, len, RW_ERANGE, "listeners[0].endpoint_index: 1 of 0 endpoints");
	free(buf);
	rw_policy_free(&p);
}

/* What pack itself refuses: values the format cannot carry. */
static void test_pack_refuses(void **state)
{
	(void)state;
	struct rw_policy p;
	static uint8_t dummy;
	uint8_t *buf = &dummy;
	size_t len = 1;
	load_text(small_conf, &p);
	char saved[RW_NAME_MAX];
	memcpy(saved, p.networks[0].name, RW_NAME_MAX);
	memset(p.networks[0].name, 'a', RW_NAME_MAX); /* no NUL */
	assert_int_equal(rw_policy_pack(&p, &buf, &len), RW_ERANGE);
	assert_null(buf);
	assert_int_equal(len, 0);
	memcpy(p.networks[0].name, saved, RW_NAME_MAX);
	p.listeners[0].mode = (enum rw_listener_mode)7;
	assert_int_equal(rw_policy_pack(&p, &buf, &len), RW_ERANGE);
	p.listeners[0].mode = RW_MODE_TERMINATE;
	p.identities[0].roles[0].op = (enum rw_op_class)3;
	assert_int_equal(rw_policy_pack(&p, &buf, &len), RW_ERANGE);
	p.identities[0].roles[0].op = RW_ROLE_PULL;
	p.networks[0].cidrs[0].family = 99;
	assert_int_equal(rw_policy_pack(&p, &buf, &len), RW_ERANGE);
	p.networks[0].cidrs[0].family = AF_INET;
	char *big = malloc(RW_POLICY_PACK_STR_MAX + 2);
	assert_non_null(big);
	memset(big, 'a', RW_POLICY_PACK_STR_MAX + 1);
	big[RW_POLICY_PACK_STR_MAX + 1] = '\0';
	free(p.source_file);
	p.source_file = big;
	assert_int_equal(rw_policy_pack(&p, &buf, &len), RW_ETOOBIG);
	assert_null(buf);
	big[RW_POLICY_PACK_STR_MAX] = '\0'; /* exactly the cap: fine */
	round_trip(&p);
	assert_int_equal(rw_policy_pack(NULL, &buf, &len), RW_EINVAL);
	rw_policy_free(&p);
}

/* One byte changed anywhere, to a few values: a verdict, never a crash,
 * and what is accepted is canonical (a small fuzz that runs under ASan
 * with every `make asan`). */
static void test_byte_flips(void **state)
{
	(void)state;
	struct rw_policy p, q;
	uint8_t *buf, *again;
	size_t len, len2;
	load_max(&p);
	pack_ok(&p, &buf, &len);
	rw_policy_free(&p);
	static const uint8_t vals[] = { 0x00, 0x01, 0x02, 0x0a, 0x20, 0x7f, 0x80, 0xff };
	unsigned accepted = 0;
	for (size_t i = 0; i < len; i++) {
		uint8_t orig = buf[i];
		for (size_t k = 0; k < sizeof(vals); k++) {
			if (vals[k] == orig)
				continue;
			buf[i] = vals[k];
			int r = rw_policy_unpack(buf, len, &q, NULL);
			if (r) {
				assert_true(r < 0 && r > RW_ERR_MAX_);
				assert_true(policy_is_zero(&q));
				continue;
			}
			accepted++;
			pack_ok(&q, &again, &len2);
			assert_int_equal(len2, len);
			assert_memory_equal(again, buf, len);
			free(again);
			rw_policy_free(&q);
		}
		buf[i] = orig;
	}
	assert_true(accepted > 0); /* a changed letter, a line, a number */
	free(buf);
}

/* ---- the fuzz seeds ---- */

static void write_seed(const char *dir, const char *name, const struct rw_policy *p)
{
	char path[512];
	uint8_t *buf;
	size_t len;
	pack_ok(p, &buf, &len);
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	FILE *f = fopen(path, "wb");
	assert_non_null(f);
	assert_int_equal(fwrite(buf, 1, len, f), len);
	assert_int_equal(fclose(f), 0);
	free(buf);
}

/* RW_POLICY_PACK_SEEDS=DIR: write the seeds (the good configs, the
 * maximal and the small policy). Then, always: every committed seed
 * unpacks, and packs back to its own bytes. */
static void test_seeds(void **state)
{
	(void)state;
	const char *out = getenv("RW_POLICY_PACK_SEEDS");
	if (out) {
		char **files;
		size_t n = list_dir(GOOD_DIR, ".conf", &files);
		for (size_t i = 0; i < n; i++) {
			struct rw_policy p;
			char name[256];
			load(files[i], &p);
			snprintf(name, sizeof(name), "%s", strrchr(files[i], '/') + 1);
			memcpy(name + strlen(name) - 5, ".bin", 5);
			write_seed(out, name, &p);
			rw_policy_free(&p);
		}
		free_list(files, n);
		struct rw_policy p;
		load_max(&p);
		write_seed(out, "max.bin", &p);
		rw_policy_free(&p);
		load_text(small_conf, &p);
		write_seed(out, "small.bin", &p);
		rw_policy_free(&p);
	}
	char **seeds;
	size_t n = list_dir(SEED_DIR, ".bin", &seeds);
	assert_true(n >= 7);
	for (size_t i = 0; i < n; i++) {
		FILE *f = fopen(seeds[i], "rb");
		assert_non_null(f);
		uint8_t buf[65536], *again;
		size_t len = fread(buf, 1, sizeof(buf), f), len2;
		fclose(f);
		assert_true(len < sizeof(buf));
		struct rw_policy p;
		struct rw_diag d;
		rw_diag_init(&d);
		int r = rw_policy_unpack(buf, len, &p, &d);
		if (r)
			print_message("  %s: %s (regenerate: see the top of this file)\n", seeds[i],
				      d.n ? d.msg[0].text : "?");
		assert_int_equal(r, 0);
		pack_ok(&p, &again, &len2);
		assert_int_equal(len2, len);
		assert_memory_equal(again, buf, len);
		free(again);
		rw_policy_free(&p);
	}
	free_list(seeds, n);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_good_configs),
		cmocka_unit_test(test_max_policy),
		cmocka_unit_test(test_edge_values),
		cmocka_unit_test(test_minimal_elements),
		cmocka_unit_test(test_truncated_everywhere),
		cmocka_unit_test(test_header),
		cmocka_unit_test(test_strings),
		cmocka_unit_test(test_counts_and_values),
		cmocka_unit_test(test_addresses),
		cmocka_unit_test(test_pack_refuses),
		cmocka_unit_test(test_byte_flips),
		cmocka_unit_test(test_seeds),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
