/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of the engine settings loader (control/engine_conf.c) and the
 * address helpers it is built on (dataplane/io/addr.c): the documented
 * default of every key, every key read back as written, every kind of
 * error reported with the file, line and column an operator must fix,
 * the cross-checks against the groups file, and paths resolved against
 * the configuration file's directory.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include <arpa/inet.h>

#include "pickup/engine_conf.h"
#include "pickup/groups_conf.h"

#define NAME "test.yaml"

static struct pk_engine_conf *parse_ok(const char *yaml)
{
	struct pk_engine_conf_error err;
	struct pk_engine_conf *c = pk_engine_conf_parse(yaml, strlen(yaml), NAME, "/etc/pickupd", &err);

	if (c == NULL)
		fail_msg("unexpected error: %s", err.msg);
	return c;
}

/* The load must fail with "test.yaml:line:col: ..." containing text. */
static void parse_bad(const char *yaml, uint32_t line, uint32_t col, const char *text)
{
	struct pk_engine_conf_error err;
	struct pk_engine_conf *c = pk_engine_conf_parse(yaml, strlen(yaml), NAME, "/etc/pickupd", &err);
	char where[64];

	if (c != NULL) {
		pk_engine_conf_free(c);
		fail_msg("accepted, expected an error containing '%s':\n%s", text, yaml);
	}
	snprintf(where, sizeof(where), NAME ":%u:%u: ", line, col);
	if (strncmp(err.msg, where, strlen(where)) != 0 || strstr(err.msg, text) == NULL)
		fail_msg("got '%s', expected '%s...%s'", err.msg, where, text);
	assert_int_equal(err.code, -EINVAL);
	assert_int_equal(err.line, line);
	assert_int_equal(err.col, col);
}

static struct pk_groups_conf *groups_parse(const char *yaml)
{
	struct pk_groups_conf_error err;
	struct pk_groups_conf *g = pk_groups_conf_parse(yaml, strlen(yaml), "groups.yaml", &err);

	if (g == NULL)
		fail_msg("groups: %s", err.msg);
	return g;
}

static const char *addr_str(const struct pk_addr *a)
{
	static char buf[PK_ADDR_STRLEN];

	pk_addr_format(a, true, buf, sizeof(buf));
	return buf;
}

static bool has_listener(const struct pk_engine_conf *c, enum pk_listen_role role, enum pk_transport t,
			 const char *addr)
{
	for (uint32_t i = 0; i < c->n_listeners; i++)
		if (c->listeners[i].role == role && c->listeners[i].transport == t &&
		    strcmp(addr_str(&c->listeners[i].addr), addr) == 0)
			return true;
	return false;
}

/* ---- defaults ---- */

static void test_defaults(void **state)
{
	(void)state;
	struct pk_engine_conf *c = parse_ok("# nothing set\n");

	assert_int_equal(c->workers, 1);
	assert_true(c->listen_default);
	assert_int_equal(c->n_listeners, 4);
	assert_true(has_listener(c, PK_LISTEN_PROXY, PK_TRANSPORT_UDP, "127.0.0.1:5060"));
	assert_true(has_listener(c, PK_LISTEN_PROXY, PK_TRANSPORT_TCP, "127.0.0.1:5060"));
	assert_true(has_listener(c, PK_LISTEN_APP, PK_TRANSPORT_UDP, "127.0.0.1:5075"));
	assert_true(has_listener(c, PK_LISTEN_APP, PK_TRANSPORT_TCP, "127.0.0.1:5075"));
	assert_int_equal(c->served.n_domains, 0); /* taken from the groups file */
	assert_string_equal(c->groups_path, "/etc/pickupd/groups.yaml");
	assert_int_equal(c->n_trusted, 0);
	assert_int_equal(c->n_bindings, 0);
	assert_int_equal(c->timers.ring_timeout, 3600);
	assert_int_equal(c->timers.claim_timeout, 32);
	assert_int_equal(c->timers.register_min_expires, 60);
	assert_int_equal(c->timers.register_max_expires, 3600);
	assert_int_equal(c->timers.register_default_expires, 3600);
	assert_int_equal(c->timers.tcp_idle_timeout, 300);
	assert_int_equal(c->capacity.calls, 65536);
	assert_int_equal(c->capacity.registrations, 65536);
	assert_int_equal(c->capacity.groups, 65536);
	assert_int_equal(c->capacity.users, 1u << 20);
	assert_int_equal(c->capacity.tcp_connections, 1024);
	assert_int_equal(c->capacity.group_flat_max, 65536);
	assert_string_equal(c->control_socket, "/run/pickupd/pickupd.sock");
	assert_int_equal(c->backend, PK_IO_SOCKET);
	assert_int_equal(c->socket_buffer, 4u << 20);
	assert_int_equal(c->log_level, PK_LOG_INFO);
	assert_int_equal(c->log_target, PK_LOG_STDERR);
	pk_engine_conf_free(c);

	/* an empty file and an empty document are the defaults too */
	c = parse_ok("");
	assert_int_equal(c->n_listeners, 4);
	pk_engine_conf_free(c);
	c = parse_ok("---\n...\n");
	assert_int_equal(c->workers, 1);
	pk_engine_conf_free(c);
}

/* ---- every key ---- */

static const char full_yaml[] =
	"listen:\n"
	"  proxy: [\"10.0.0.1:5060\", \"[2001:db8::1]:5060\"]\n"
	"  app:\n"
	"    udp: \"0.0.0.0:5075\"\n"
	"    tcp: [\"0.0.0.0:5075\", \"127.0.0.1:0\"]\n"
	"workers: 4\n"
	"domains: [Example.Test, branch.example.test]\n"
	"groups: conf.d/groups.yaml\n"
	"trusted: [10.0.0.0/8, \"fd00::/8\", 192.0.2.7]\n"
	"bindings:\n"
	"  gw@example.test: sip:gw@10.0.0.9:5080\n"
	"  \"sip:trunk@Branch.Example.Test\":\n"
	"    - sip:trunk@10.0.0.10\n"
	"    - \"sip:trunk@10.0.0.11;transport=tcp\"\n"
	"  \"2001\": sip:2001@10.0.0.20\n"
	"timers:\n"
	"  ring_timeout: 600\n"
	"  claim_timeout: 10\n"
	"  register_min_expires: 30\n"
	"  register_max_expires: 7200\n"
	"  register_default_expires: 600\n"
	"  tcp_idle_timeout: 900\n"
	"capacity:\n"
	"  calls: 1000000\n"
	"  registrations: 200000\n"
	"  groups: 5000\n"
	"  users: 100000\n"
	"  tcp_connections: 4096\n"
	"  group_flat_max: 2000\n"
	"control_socket: run/pickupd.sock\n"
	"io:\n"
	"  backend: socket\n"
	"  socket_buffer: 0\n"
	"log:\n"
	"  level: debug\n"
	"  target: syslog\n";

static void test_every_key(void **state)
{
	(void)state;
	struct pk_engine_conf *c = parse_ok(full_yaml);

	assert_false(c->listen_default);
	assert_int_equal(c->n_listeners, 7);
	assert_true(has_listener(c, PK_LISTEN_PROXY, PK_TRANSPORT_UDP, "10.0.0.1:5060"));
	assert_true(has_listener(c, PK_LISTEN_PROXY, PK_TRANSPORT_TCP, "10.0.0.1:5060"));
	assert_true(has_listener(c, PK_LISTEN_PROXY, PK_TRANSPORT_UDP, "[2001:db8::1]:5060"));
	assert_true(has_listener(c, PK_LISTEN_PROXY, PK_TRANSPORT_TCP, "[2001:db8::1]:5060"));
	assert_true(has_listener(c, PK_LISTEN_APP, PK_TRANSPORT_UDP, "0.0.0.0:5075"));
	assert_true(has_listener(c, PK_LISTEN_APP, PK_TRANSPORT_TCP, "0.0.0.0:5075"));
	assert_true(has_listener(c, PK_LISTEN_APP, PK_TRANSPORT_TCP, "127.0.0.1:0"));
	assert_false(has_listener(c, PK_LISTEN_APP, PK_TRANSPORT_UDP, "127.0.0.1:0"));
	assert_int_equal(c->listeners[0].line, 2);
	assert_int_equal(c->workers, 4);
	assert_int_equal(c->served.n_domains, 2);
	assert_string_equal(c->served.domains[0], "example.test"); /* lowercased */
	assert_string_equal(c->served.domains[1], "branch.example.test");
	assert_string_equal(c->groups_path, "/etc/pickupd/conf.d/groups.yaml");

	assert_int_equal(c->n_trusted, 3);
	struct pk_addr a;

	assert_int_equal(pk_addr_parse_ip(PK_STR_LIT("10.200.3.4"), &a), 0);
	assert_true(pk_engine_conf_trusted(c, &a));
	assert_int_equal(pk_addr_parse_ip(PK_STR_LIT("11.0.0.1"), &a), 0);
	assert_false(pk_engine_conf_trusted(c, &a));
	assert_int_equal(pk_addr_parse_ip(PK_STR_LIT("fd12::1"), &a), 0);
	assert_true(pk_engine_conf_trusted(c, &a));
	assert_int_equal(pk_addr_parse_ip(PK_STR_LIT("192.0.2.7"), &a), 0);
	assert_true(pk_engine_conf_trusted(c, &a));
	assert_int_equal(pk_addr_parse_ip(PK_STR_LIT("192.0.2.8"), &a), 0);
	assert_false(pk_engine_conf_trusted(c, &a));

	assert_int_equal(c->n_bindings, 3);
	assert_true(pk_str_eq(c->bindings[0].user, PK_STR_LIT("gw")));
	assert_true(pk_str_eq(c->bindings[0].domain, PK_STR_LIT("example.test")));
	assert_int_equal(c->bindings[0].n_contacts, 1);
	assert_true(pk_str_eq(c->bindings[0].contacts[0], PK_STR_LIT("sip:gw@10.0.0.9:5080")));
	assert_int_equal(c->bindings[0].line, 11);
	assert_true(pk_str_eq(c->bindings[1].user, PK_STR_LIT("trunk")));
	assert_true(pk_str_eq(c->bindings[1].domain, PK_STR_LIT("branch.example.test")));
	assert_int_equal(c->bindings[1].n_contacts, 2);
	assert_true(pk_str_eq(c->bindings[1].contacts[1], PK_STR_LIT("sip:trunk@10.0.0.11;transport=tcp")));
	assert_true(pk_str_eq(c->bindings[2].user, PK_STR_LIT("2001")));
	assert_int_equal(c->bindings[2].domain.len, 0); /* the default domain, once resolved */

	assert_int_equal(c->timers.ring_timeout, 600);
	assert_int_equal(c->timers.claim_timeout, 10);
	assert_int_equal(c->timers.register_min_expires, 30);
	assert_int_equal(c->timers.register_max_expires, 7200);
	assert_int_equal(c->timers.register_default_expires, 600);
	assert_int_equal(c->timers.tcp_idle_timeout, 900);
	assert_int_equal(c->capacity.calls, 1000000);
	assert_int_equal(c->capacity.registrations, 200000);
	assert_int_equal(c->capacity.groups, 5000);
	assert_int_equal(c->capacity.users, 100000);
	assert_int_equal(c->capacity.tcp_connections, 4096);
	assert_int_equal(c->capacity.group_flat_max, 2000);
	assert_string_equal(c->control_socket, "/etc/pickupd/run/pickupd.sock");
	assert_int_equal(c->backend, PK_IO_SOCKET);
	assert_int_equal(c->socket_buffer, 0);
	assert_int_equal(c->log_level, PK_LOG_DEBUG);
	assert_int_equal(c->log_target, PK_LOG_SYSLOG);

	/* resolve against a groups file of the same domains: the binding
	 * without a domain gets the first one */
	struct pk_groups_conf *g = groups_parse("settings:\n  domains: [example.test]\n"
						"groups:\n  - number: 801\n    members: [alice]\n");
	struct pk_engine_conf_error err;

	assert_int_equal(pk_engine_conf_resolve(c, g, &err), 0);
	assert_true(pk_str_eq(c->bindings[2].domain, PK_STR_LIT("example.test")));
	pk_groups_conf_free(g);
	pk_engine_conf_free(c);
}

/* Calls stop being offered after the groups file's ring timeout, not after
 * the table's hard limit (a caller that vanished without a CANCEL must not
 * stay pickable for an hour). */
/* io.backend dpdk with its keys; and the listeners it cannot serve. */
static void test_dpdk(void **state)
{
	struct pk_engine_conf_error err;
	const char *bad;
	(void)state;
	struct pk_engine_conf *c = parse_ok("listen:\n  proxy:\n    udp: \"10.99.0.1:5060\"\n"
					    "io:\n  backend: dpdk\n  dpdk:\n"
					    "    eal: [--no-huge, -m, \"512\", --vdev, \"net_af_packet0,iface=v0\"]\n"
					    "    port: net_af_packet0\n    prefix_len: 16\n"
					    "    gateway: 10.99.255.254\n    vlan: 42\n    mtu: 9000\n"
					    "    mbufs: 65535\n    data_room: 16512\n    rx_desc: 512\n"
					    "    tx_desc: 2048\n    tx_drain_us: 50\n");
	assert_int_equal(c->backend, PK_IO_DPDK);
	assert_int_equal(c->dpdk.n_eal, 5);
	assert_string_equal(c->dpdk.eal[0], "--no-huge");
	assert_string_equal(c->dpdk.eal[2], "512");
	assert_string_equal(c->dpdk.eal[4], "net_af_packet0,iface=v0");
	assert_string_equal(c->dpdk.port, "net_af_packet0");
	assert_int_equal(c->dpdk.prefix_len, 16);
	const uint8_t gw[4] = { 10, 99, 255, 254 };
	assert_memory_equal(&c->dpdk.gateway, gw, 4);
	assert_int_equal(c->dpdk.vlan, 42);
	assert_int_equal(c->dpdk.mtu, 9000);
	assert_int_equal(c->dpdk.mbufs, 65535);
	assert_int_equal(c->dpdk.data_room, 16512);
	assert_int_equal(c->dpdk.rx_desc, 512);
	assert_int_equal(c->dpdk.tx_desc, 2048);
	assert_int_equal(c->dpdk.tx_drain_us, 50);
	pk_engine_conf_free(c);
	/* defaults */
	c = parse_ok("listen:\n  proxy:\n    udp: \"10.99.0.1:5060\"\nio:\n  backend: dpdk\n");
	assert_int_equal(c->dpdk.n_eal, 0);
	assert_string_equal(c->dpdk.port, "0");
	assert_int_equal(c->dpdk.prefix_len, 24);
	assert_int_equal(c->dpdk.gateway, 0);
	assert_int_equal(c->dpdk.mtu, 0);
	pk_engine_conf_free(c);
	/* TCP (the default listeners have it), 0.0.0.0, port 0, IPv6: refused */
	const char *refused[][2] = {
		{ "io:\n  backend: dpdk\n", "serves SIP over UDP only" },
		{ "listen:\n  proxy:\n    udp: \"0.0.0.0:5060\"\nio:\n  backend: dpdk\n", "not 0.0.0.0" },
		{ "listen:\n  proxy:\n    udp: \"10.0.0.1:0\"\nio:\n  backend: dpdk\n", "not port 0" },
		{ "listen:\n  proxy:\n    udp: \"[2001:db8::1]:5060\"\nio:\n  backend: dpdk\n", "IPv4" },
	};
	for (unsigned i = 0; i < PK_ARRAY_SIZE(refused); i++) {
		bad = refused[i][0];
		c = pk_engine_conf_parse(bad, strlen(bad), NAME, "/etc/pickupd", &err);
		if (c != NULL)
			fail_msg("accepted: %s", bad);
		if (strstr(err.msg, refused[i][1]) == NULL)
			fail_msg("got '%s', expected '%s'", err.msg, refused[i][1]);
	}
}

/* io.dpdk.ports: several ports, each with its addresses; what is refused
 * (file:line:col, or the listener's line). */
static void test_dpdk_ports(void **state)
{
	(void)state;
	static const char head[] = "listen:\n  proxy: {udp: [10.1.0.1:5060, 10.2.0.1:5060, 10.2.0.2:5070]}\n"
				   "io:\n  backend: dpdk\n  dpdk:\n";
	char y[1024];
	snprintf(y, sizeof(y),
		 "%s    ports:\n"
		 "      - port: net_af_packet0\n"
		 "        addresses: [10.1.0.1]\n"
		 "      - port: \"1\"\n"
		 "        addresses: [10.2.0.1, 10.2.0.2]\n"
		 "        prefix_len: 16\n"
		 "        gateway: 10.2.255.254\n"
		 "        vlan: 7\n"
		 "        mtu: 1400\n",
		 head);
	struct pk_engine_conf *c = parse_ok(y);
	static const uint8_t a1[4] = { 10, 1, 0, 1 }, a22[4] = { 10, 2, 0, 2 }, gw[4] = { 10, 2, 255, 254 };
	assert_int_equal(c->dpdk.n_ports, 2);
	assert_string_equal(c->dpdk.ports[0].port, "net_af_packet0");
	assert_int_equal(c->dpdk.ports[0].n_addrs, 1);
	assert_memory_equal(&c->dpdk.ports[0].addrs[0], a1, 4);
	assert_int_equal(c->dpdk.ports[0].prefix_len, 24); /* the default */
	assert_int_equal(c->dpdk.ports[0].gateway, 0);
	assert_int_equal(c->dpdk.ports[0].line, 7);
	assert_string_equal(c->dpdk.ports[1].port, "1");
	assert_int_equal(c->dpdk.ports[1].n_addrs, 2);
	assert_memory_equal(&c->dpdk.ports[1].addrs[1], a22, 4);
	assert_int_equal(c->dpdk.ports[1].prefix_len, 16);
	assert_memory_equal(&c->dpdk.ports[1].gateway, gw, 4);
	assert_int_equal(c->dpdk.ports[1].vlan, 7);
	assert_int_equal(c->dpdk.ports[1].mtu, 1400);
	assert_int_equal(pk_engine_conf_dpdk_ignored(c), 0); /* backend dpdk: used */
	pk_engine_conf_free(c);

	/* io.dpdk without backend: dpdk is left unused: its line, for the
	 * warning; none without an io.dpdk section */
	c = parse_ok("listen:\n  proxy: {udp: 10.1.0.1:5060}\nio:\n  socket_buffer: 65536\n"
		     "  dpdk:\n    ports:\n      - {port: net_af_packet0, addresses: [10.1.0.1]}\n");
	assert_int_equal(c->backend, PK_IO_SOCKET);
	assert_int_equal(pk_engine_conf_dpdk_ignored(c), 6);
	pk_engine_conf_free(c);
	c = parse_ok("listen:\n  proxy: {udp: 10.1.0.1:5060}\nio:\n  backend: socket\n  dpdk: {port: \"0\"}\n");
	assert_int_equal(pk_engine_conf_dpdk_ignored(c), 5);
	pk_engine_conf_free(c);
	c = parse_ok("listen:\n  proxy: {udp: 10.1.0.1:5060}\nio:\n  backend: socket\n");
	assert_int_equal(pk_engine_conf_dpdk_ignored(c), 0);
	pk_engine_conf_free(c);

	/* both forms */
	snprintf(y, sizeof(y),
		 "%s    port: \"0\"\n    ports:\n      - {port: \"0\", addresses: [10.1.0.1, 10.2.0.1, 10.2.0.2]}\n",
		 head);
	parse_bad(y, 6, 5, "'port' is a key of the one-port form");
	snprintf(y, sizeof(y),
		 "%s    ports:\n      - {port: \"0\", addresses: [10.1.0.1, 10.2.0.1, 10.2.0.2]}\n    gateway: 10.1.0.9\n",
		 head);
	parse_bad(y, 8, 5, "'gateway' is a key of the one-port form");
	/* a listener on no port: its line */
	snprintf(y, sizeof(y), "%s    ports:\n      - {port: \"0\", addresses: [10.1.0.1, 10.2.0.1]}\n", head);
	parse_bad(y, 2, 0, "listen: 10.2.0.2:5070 is on no port");
	/* a port without a listener: its line */
	snprintf(y, sizeof(y),
		 "%s    ports:\n      - {port: \"0\", addresses: [10.1.0.1, 10.2.0.1, 10.2.0.2]}\n"
		 "      - {port: \"1\", addresses: [10.3.0.1]}\n",
		 head);
	parse_bad(y, 8, 0, "port 1 has no listener");
	/* the same port, the same address twice */
	snprintf(y, sizeof(y),
		 "%s    ports:\n      - {port: \"0\", addresses: [10.1.0.1]}\n"
		 "      - {port: \"0\", addresses: [10.2.0.1, 10.2.0.2]}\n",
		 head);
	parse_bad(y, 8, 16, "io.dpdk.ports[1].port: port '0' is listed twice (line 7)");
	snprintf(y, sizeof(y),
		 "%s    ports:\n      - {port: \"0\", addresses: [10.1.0.1, 10.2.0.1]}\n"
		 "      - {port: \"1\", addresses: [10.2.0.2, 10.1.0.1]}\n",
		 head);
	parse_bad(y, 8, 43, "address 10.1.0.1 given twice (on port 0, line 7)");
	/* what a port needs, what it may hold */
	snprintf(y, sizeof(y), "%s    ports:\n      - {port: \"0\"}\n", head);
	parse_bad(y, 7, 9, "a port needs port: (its name or number) and addresses:");
	snprintf(y, sizeof(y), "%s    ports: []\n", head);
	parse_bad(y, 6, 12, "expected a list of ports");
	snprintf(y, sizeof(y), "%s    ports:\n      - {port: \"0\", addresses: [10.1.0.1.5]}\n", head);
	parse_bad(y, 7, 33, "io.dpdk.ports[0].addresses: '10.1.0.1.5' is not an IPv4 address");
	snprintf(y, sizeof(y), "%s    ports:\n      - {port: \"0\", addresses: [10.1.0.1], mtu: 500}\n", head);
	parse_bad(y, 7, 49, "io.dpdk.ports[0].mtu: mtu 500 is below 576");
	snprintf(y, sizeof(y), "%s    ports:\n      - {port: \"0\", addresses: [10.1.0.1], colour: red}\n",
		 head);
	parse_bad(y, 7, 44, "io.dpdk.ports[0]: unknown key 'colour'");
	snprintf(y, sizeof(y),
		 "%s    ports:\n      - {port: a, addresses: [10.1.0.1]}\n      - {port: b, addresses: [10.2.0.1]}\n"
		 "      - {port: c, addresses: [10.2.0.2]}\n      - {port: d, addresses: [10.3.0.1]}\n"
		 "      - {port: e, addresses: [10.3.0.2]}\n",
		 head);
	parse_bad(y, 11, 9, "more than 4 ports");
	/* a port's own address twice; addresses a port cannot have; a
	 * gateway off-link; an item that is not a mapping */
	snprintf(y, sizeof(y), "%s    ports:\n      - {port: \"0\", addresses: [10.1.0.1, 10.2.0.1, 10.2.0.2, 10.1.0.1]}\n",
		 head);
	parse_bad(y, 7, 63, "io.dpdk.ports[0].addresses: address 10.1.0.1 given twice");
	snprintf(y, sizeof(y), "%s    ports:\n      - {port: \"0\", addresses: [224.0.0.5]}\n", head);
	parse_bad(y, 7, 33, "'224.0.0.5' is not a unicast address a port can have");
	snprintf(y, sizeof(y), "%s    ports:\n      - {port: \"0\", addresses: [10.1.0.1], gateway: 255.255.255.255}\n",
		 head);
	parse_bad(y, 7, 53, "not a unicast address");
	snprintf(y, sizeof(y),
		 "%s    ports:\n      - port: \"0\"\n        addresses: [10.1.0.1, 10.2.0.1, 10.2.0.2]\n"
		 "        gateway: 10.3.0.1\n",
		 head);
	parse_bad(y, 9, 0, "the gateway 10.3.0.1 of port 0 is in the prefix (/24) of none of its addresses");
	snprintf(y, sizeof(y), "%s    ports:\n      - net_af_packet0\n", head);
	parse_bad(y, 7, 9, "io.dpdk.ports[0]: expected a mapping");
}

/* io.dpdk.ports[].routes and io.dpdk.routes: static routes, "PREFIX/LEN
 * via NEXT-HOP"; what is refused, at the route's line. */
static void test_dpdk_routes(void **state)
{
	(void)state;
	static const char head[] = "listen:\n  proxy: {udp: [10.1.0.1:5060, 10.2.0.1:5060, 10.2.0.2:5070]}\n"
				   "io:\n  backend: dpdk\n  dpdk:\n";
	/* port 0: 10.1.0.1/24 (lines 7-9, its routes from line 10); port 1:
	 * 10.2.0.1 and 10.2.0.2/16 */
	static const char port0[] = "    ports:\n      - port: \"0\"\n        addresses: [10.1.0.1]\n        routes:\n";
	static const char port1[] = "      - port: \"1\"\n        addresses: [10.2.0.1, 10.2.0.2]\n        prefix_len: 16\n";
	char y[2048];
	snprintf(y, sizeof(y),
		 "%s%s"
		 "          - 10.50.0.0/16 via 10.1.0.254\n"
		 "          - \"172.16.0.0/12 \\t via  10.1.0.253 \"\n"
		 "%s"
		 "        routes: [192.0.2.0/24 via 10.2.9.9, 198.51.100.7/32 via 10.2.0.78]\n",
		 head, port0, port1);
	struct pk_engine_conf *c = parse_ok(y);
	static const uint8_t n0[4] = { 10, 50, 0, 0 }, v0[4] = { 10, 1, 0, 254 }, n1[4] = { 172, 16, 0, 0 },
			     n3[4] = { 198, 51, 100, 7 }, v3[4] = { 10, 2, 0, 78 };
	assert_int_equal(c->dpdk.ports[0].n_routes, 2);
	assert_memory_equal(&c->dpdk.ports[0].routes[0].net, n0, 4);
	assert_int_equal(c->dpdk.ports[0].routes[0].prefix_len, 16);
	assert_memory_equal(&c->dpdk.ports[0].routes[0].via, v0, 4);
	assert_int_equal(c->dpdk.ports[0].routes[0].line, 10);
	assert_memory_equal(&c->dpdk.ports[0].routes[1].net, n1, 4);
	assert_int_equal(c->dpdk.ports[0].routes[1].prefix_len, 12);
	assert_int_equal(c->dpdk.ports[1].n_routes, 2);
	assert_memory_equal(&c->dpdk.ports[1].routes[1].net, n3, 4);
	assert_int_equal(c->dpdk.ports[1].routes[1].prefix_len, 32);
	assert_memory_equal(&c->dpdk.ports[1].routes[1].via, v3, 4);
	pk_engine_conf_free(c);

	/* the one-port form: io.dpdk.routes, next hops on-link with a
	 * listener's address */
	snprintf(y, sizeof(y), "%s    port: \"0\"\n    gateway: 10.1.0.254\n    routes: [10.50.0.0/16 via 10.2.0.9]\n", head);
	c = parse_ok(y);
	assert_int_equal(c->dpdk.n_routes, 1);
	assert_memory_equal(&c->dpdk.routes[0].net, n0, 4);
	pk_engine_conf_free(c);
	snprintf(y, sizeof(y), "%s    port: \"0\"\n    routes: [10.50.0.0/16 via 10.7.0.9]\n", head);
	parse_bad(y, 7, 0, "io.dpdk.routes: the next hop 10.7.0.9 of the route to 10.50.0.0/16 (port 0) is in the "
			   "prefix (/24) of none of its addresses");
	snprintf(y, sizeof(y), "%s    port: \"0\"\n    gateway: 10.7.0.1\n", head);
	parse_bad(y, 7, 0, "io.dpdk.gateway: 10.7.0.1 is in the prefix (/24) of none of the listeners' addresses");
	snprintf(y, sizeof(y), "%s    port: \"0\"\n    gateway: 10.2.0.255\n", head);
	parse_bad(y, 7, 0, "io.dpdk.gateway: the gateway 10.2.0.255 of port 0 is the network or broadcast address "
			   "of its prefix (/24)");
	/* a /31's two addresses are both hosts */
	snprintf(y, sizeof(y), "%s    port: \"0\"\n    prefix_len: 31\n    gateway: 10.1.0.0\n", head);
	pk_engine_conf_free(parse_ok(y));
	snprintf(y, sizeof(y), "%s    ports:\n      - {port: \"0\", addresses: [10.1.0.1, 10.2.0.1, 10.2.0.2]}\n"
			       "    routes: [10.50.0.0/16 via 10.1.0.254]\n", head);
	parse_bad(y, 8, 5, "'routes' is a key of the one-port form");

	/* one bad route on port 0 */
	static const struct {
		const char *route;
		uint32_t col; /* 0: found once every port is read */
		const char *why;
	} bad[] = {
		{ "10.50.0.0/16 10.1.0.254", 13, "'10.50.0.0/16 10.1.0.254' is not a route (PREFIX/LEN via NEXT-HOP" },
		{ "10.50.0.0/16 via", 13, "is not a route" },
		{ "10.50.0.0 via 10.1.0.254", 13, "'10.50.0.0' is not an IPv4 prefix (as 10.50.0.0/16)" },
		{ "10.50.0.0/33 via 10.1.0.254", 13, "'10.50.0.0/33' is not an IPv4 prefix" },
		{ "10.50.0.0/1x via 10.1.0.254", 13, "is not an IPv4 prefix" },
		{ "10.50.0/16 via 10.1.0.254", 13, "is not an IPv4 prefix" },
		{ "0.0.0.0/0 via 10.1.0.254", 13, "a route of every address is the port's gateway (gateway:)" },
		{ "10.50.1.0/16 via 10.1.0.254", 13, "'10.50.1.0/16' has host bits set (the prefix is 10.50.0.0/16)" },
		{ "10.50.0.0/16 via 10.1.0.x", 13, "next hop '10.1.0.x' is not a unicast IPv4 address" },
		{ "10.50.0.0/16 via 224.0.0.1", 13, "next hop '224.0.0.1' is not a unicast IPv4 address" },
		{ "10.50.0.0/16 via 10.9.0.1", 0,
		  "io.dpdk.ports: the next hop 10.9.0.1 of the route to 10.50.0.0/16 (port 0) is in the prefix (/24) "
		  "of none of its addresses" },
		{ "10.50.0.0/16 via 10.1.0.1", 0, "the next hop 10.1.0.1 of the route to 10.50.0.0/16 is an address of "
						 "pickupd's (port 0)" },
		{ "10.2.3.0/24 via 10.1.0.254", 0,
		  "the route to 10.2.3.0/24 is on-link on port 1 (10.2.0.1/16): no route is needed" },
		{ "10.1.0.128/25 via 10.1.0.254", 0, "the route to 10.1.0.128/25 is on-link on port 0 (10.1.0.1/24)" },
		{ "192.0.2.0/24 via 10.1.0.254", 0, "the route to 192.0.2.0/24 is given twice (line 10)" },
		{ "10.50.0.0/16 via 10.1.0.255", 0,
		  "the next hop 10.1.0.255 of the route to 10.50.0.0/16 is the network or broadcast address of "
		  "its prefix (/24)" },
		{ "10.50.0.0/16 via 10.1.0.0", 0, "is the network or broadcast address of its prefix (/24)" },
	};
	for (unsigned i = 0; i < PK_ARRAY_SIZE(bad); i++) {
		snprintf(y, sizeof(y), "%s%s          - %s\n%s        routes: [192.0.2.0/24 via 10.2.9.9]\n", head,
			 port0, bad[i].route, port1);
		/* a route given twice is found at the second one: port 1's */
		parse_bad(y, strstr(bad[i].why, "twice") ? 14 : 10, bad[i].col, bad[i].why);
	}
	/* the same prefix twice on one port; 17 routes */
	snprintf(y, sizeof(y), "%s%s          - 10.50.0.0/16 via 10.1.0.254\n          - 10.50.0.0/16 via 10.1.0.253\n%s",
		 head, port0, port1);
	parse_bad(y, 11, 0, "the route to 10.50.0.0/16 is given twice (line 10)");
	size_t n = (size_t)snprintf(y, sizeof(y), "%s%s", head, port0);
	for (unsigned i = 0; i < 17; i++)
		n += (size_t)snprintf(y + n, sizeof(y) - n, "          - 10.%u.0.0/16 via 10.1.0.254\n", 100 + i);
	snprintf(y + n, sizeof(y) - n, "%s", port1);
	parse_bad(y, 26, 13, "more than 16 routes on a port");
}

static void test_ring_timeout_applied(void **state)
{
	(void)state;
	struct pk_engine_conf_error err;
	struct pk_engine_conf *c = parse_ok("domains: [example.test]\n");
	struct pk_groups_conf *g = groups_parse("settings:\n  domains: [example.test]\n  ring_timeout: 45\n"
						"groups:\n  - number: 801\n    members: [alice]\n");

	assert_int_equal(pk_engine_conf_resolve(c, g, &err), 0);
	assert_int_equal(c->timers.ring_timeout, 3600); /* the hard limit's default */
	assert_int_equal(pk_engine_conf_ring_timeout(c, g), 45);
	pk_groups_conf_free(g);
	/* the groups file's default (180 s) when it says nothing */
	g = groups_parse("settings:\n  domains: [example.test]\n"
			 "groups:\n  - number: 801\n    members: [alice]\n");
	assert_int_equal(pk_engine_conf_resolve(c, g, &err), 0);
	assert_int_equal(pk_engine_conf_ring_timeout(c, g), 180);
	pk_groups_conf_free(g);
	pk_engine_conf_free(c);
}

static void test_listen_forms(void **state)
{
	(void)state;
	struct pk_engine_conf *c;

	/* one transport only; an empty list is no listener of that kind */
	c = parse_ok("listen:\n  proxy:\n    udp: 127.0.0.1:5060\n    tcp: []\n");
	assert_int_equal(c->n_listeners, 1);
	assert_true(has_listener(c, PK_LISTEN_PROXY, PK_TRANSPORT_UDP, "127.0.0.1:5060"));
	pk_engine_conf_free(c);
	/* a role left out has no listener */
	c = parse_ok("listen:\n  app: \"[::1]:5075\"\n");
	assert_int_equal(c->n_listeners, 2);
	assert_true(has_listener(c, PK_LISTEN_APP, PK_TRANSPORT_TCP, "[::1]:5075"));
	pk_engine_conf_free(c);
	/* port 0 twice is fine (two kernel-chosen ports) */
	c = parse_ok("listen:\n  proxy: [127.0.0.1:0]\n  app: [127.0.0.1:0]\n");
	assert_int_equal(c->n_listeners, 4);
	pk_engine_conf_free(c);
	/* the same port on UDP and TCP, and on two addresses */
	c = parse_ok("listen:\n  proxy: {udp: [127.0.0.1:5060, 127.0.0.2:5060], tcp: 127.0.0.1:5060}\n");
	assert_int_equal(c->n_listeners, 3);
	pk_engine_conf_free(c);
}

/* ---- errors: file:line:col and the reason ---- */

static void test_errors_structure(void **state)
{
	(void)state;
	parse_bad("workers: [1\n", 2, 1, "YAML syntax");
	parse_bad("- a\n- b\n", 1, 1, "expected a mapping");
	parse_bad("workers: 2\nworkerz: 3\n", 2, 1, "unknown key 'workerz'");
	parse_bad("timers:\n  ring: 3\n", 2, 3, "timers: unknown key 'ring'");
	parse_bad("log:\n  level: info\n  colour: red\n", 3, 3, "log: unknown key 'colour'");
	parse_bad("workers: 2\nworkers: 3\n", 2, 1, "workers: given twice");
	parse_bad("timers:\n  claim_timeout: 3\n  claim_timeout: 4\n", 3, 3, "timers.claim_timeout: given twice");
	parse_bad("workers: [1]\n", 1, 10, "workers: expected a value, found a list");
	parse_bad("workers:\n", 1, 9, "workers: expected a value, found nothing");
	parse_bad("timers: 5\n", 1, 9, "timers: expected a mapping");
	parse_bad("bindings: [a]\n", 1, 11, "bindings: expected a mapping of AoR");
	parse_bad("[a]: 1\n", 1, 1, "keys must be names");
	parse_bad("workers: 1\n---\nworkers: 2\n", 3, 1, "a second YAML document");
	parse_bad("workers: 1\n---\n[a\n", 4, 1, "YAML syntax"); /* a broken second one */
}

/* An empty mapping or list sets nothing, as a key without a value (which
 * is refused): refused too, with its place, unless it is the documented
 * way to say "none" (a listener transport, trusted, eal). */
static void test_errors_empty(void **state)
{
	struct pk_engine_conf *c;

	(void)state;
	parse_bad("timers: {}\n", 1, 9,
		  "timers: the mapping is empty: give a key (known here: ring_timeout, claim_timeout, "
		  "register_min_expires, register_max_expires, register_default_expires, tcp_idle_timeout) "
		  "or leave it out");
	parse_bad("capacity: {}\n", 1, 11, "capacity: the mapping is empty");
	parse_bad("limits: {}\n", 1, 9, "limits: the mapping is empty");
	parse_bad("log: {}\n", 1, 6, "log: the mapping is empty");
	parse_bad("io: {}\n", 1, 5, "io: the mapping is empty");
	parse_bad("io:\n  dpdk: {}\n", 2, 9, "io.dpdk: the mapping is empty");
	parse_bad("listen: {}\n", 1, 9, "listen: the mapping is empty: give a key (known here: proxy, app)");
	parse_bad("listen:\n  proxy: {}\n  app: 127.0.0.1:5075\n", 2, 10, "listen.proxy: the mapping is empty");
	parse_bad("bindings: {}\n", 1, 11, "bindings: the mapping is empty: leave the key out for no static bindings");
	parse_bad("io:\n  dpdk:\n    routes: []\n", 3, 13,
		  "io.dpdk.routes: the list is empty: leave the key out for no static routes");
	parse_bad("io:\n  dpdk:\n    ports:\n      - port: \"0\"\n        addresses: [10.0.0.1]\n"
		  "        routes: []\n",
		  6, 17, "io.dpdk.ports[0].routes: the list is empty");
	parse_bad("io:\n  dpdk:\n    ports:\n      - {}\n", 4, 9, "io.dpdk.ports[0]: the mapping is empty");

	/* still "none": these empties are documented */
	c = parse_ok("listen:\n  proxy:\n    udp: 127.0.0.1:5060\n    tcp: []\n  app: []\n");
	assert_int_equal(c->n_listeners, 1);
	pk_engine_conf_free(c);
	c = parse_ok("trusted: []\nio:\n  dpdk:\n    eal: []\n");
	assert_int_equal(c->n_trusted, 0);
	assert_int_equal(c->dpdk.n_eal, 0);
	pk_engine_conf_free(c);
	/* the whole file as {}: all defaults, as an empty file */
	c = parse_ok("{}\n");
	assert_int_equal(c->workers, 1);
	pk_engine_conf_free(c);
}

static void test_errors_values(void **state)
{
	(void)state;
	parse_bad("workers: 0\n", 1, 10, "workers: '0' is not a whole number of workers in 1..64");
	parse_bad("workers: 65\n", 1, 10, "1..64");
	parse_bad("workers: -1\n", 1, 10, "not a whole number");
	parse_bad("workers: 0x10\n", 1, 10, "not a whole number");
	parse_bad("workers: 99999999999999999999\n", 1, 10, "not a whole number");
	parse_bad("timers:\n  ring_timeout: 3601\n", 2, 17, "timers.ring_timeout: '3601' is not a whole number of seconds in 1..3600");
	parse_bad("timers:\n  claim_timeout: 0\n", 2, 18, "timers.claim_timeout");
	parse_bad("timers:\n  tcp_idle_timeout: 1.5\n", 2, 21, "timers.tcp_idle_timeout");
	parse_bad("timers:\n  register_min_expires: 7200\n", 2, 3,
		  "register_min_expires (7200) is above register_max_expires (3600)");
	parse_bad("timers:\n  register_default_expires: 30\n", 2, 3,
		  "register_default_expires (30) is outside");
	parse_bad("capacity:\n  calls: 0\n", 2, 10, "capacity.calls");
	parse_bad("capacity:\n  groups: 16777217\n", 2, 11, "capacity.groups");
	parse_bad("capacity:\n  tcp_connections: 0\n", 2, 20, "capacity.tcp_connections");
	parse_bad("capacity:\n  group_flat_max: 0\n", 2, 19, "capacity.group_flat_max");
	parse_bad("io:\n  dpdk:\n    mtu: 500\n", 3, 10, "io.dpdk.mtu: mtu 500 is below 576");
	parse_bad("io:\n  dpdk:\n    mtu: 9001\n", 3, 10, "io.dpdk.mtu");
	parse_bad("io:\n  dpdk:\n    data_room: 721\n", 3, 16,
		  "io.dpdk.data_room: data_room 721 is below 722 (128 bytes of headroom, an Ethernet header "
		  "with a VLAN tag and a 576-byte packet; 0: 2176)");
	parse_bad("io:\n  dpdk:\n    gateway: 10.0.0.1:5\n", 3, 14, "not an IPv4 address");
	parse_bad("io:\n  dpdk:\n    gateway: \"::1\"\n", 3, 14, "not an IPv4 address");
	parse_bad("io:\n  dpdk:\n    vlan: 4095\n", 3, 11, "io.dpdk.vlan");
	parse_bad("io:\n  dpdk:\n    prefix_len: 33\n", 3, 17, "io.dpdk.prefix_len");
	parse_bad("io:\n  dpdk:\n    eal: [1, [2]]\n", 3, 14, "io.dpdk.eal: list items must be values");
	parse_bad("io:\n  backend: netmap\n", 2, 12, "unknown backend 'netmap'");
	parse_bad("io:\n  socket_buffer: 2147483648\n", 2, 18, "io.socket_buffer");
	parse_bad("log:\n  level: verbose\n", 2, 10, "log.level: unknown level 'verbose'");
	parse_bad("log:\n  target: file\n", 2, 11, "log.target: unknown target 'file'");
	parse_bad("groups: \"\"\n", 1, 9, "groups: empty value");
	parse_bad("domains: [\"\"]\n", 1, 11, "domains: empty value");
	parse_bad("control_socket: /run/\n", 1, 17, "names a directory");
	parse_bad("control_socket: /run/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
		  "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.sock\n",
		  1, 17, "longer than a UNIX socket path");
	parse_bad("domains: [example.test, Example.TEST]\n", 1, 25, "listed twice");
	parse_bad("domains: [\"exa mple.test\"]\n", 1, 11, "is not a domain name");
	parse_bad("domains: []\n", 1, 10, "the list is empty");
	parse_bad("trusted: [10.1.0.0/8]\n", 1, 11, "is not a network");
	parse_bad("trusted: [10.0.0.0/33]\n", 1, 11, "is not a network");
	parse_bad("trusted: [example.test]\n", 1, 11, "is not a network");
	parse_bad("trusted: [[10.0.0.0/8]]\n", 1, 11, "list items must be values");
}

static void test_errors_listen(void **state)
{
	(void)state;
	parse_bad("listen:\n  proxy: localhost:5060\n", 2, 10, "listen.proxy: 'localhost:5060' is not an address:port");
	parse_bad("listen:\n  proxy: 127.0.0.1\n", 2, 10, "is not an address:port");
	parse_bad("listen:\n  proxy: \"::1:5060\"\n", 2, 10, "is not an address:port");
	parse_bad("listen:\n  proxy: 127.0.0.1:65536\n", 2, 10, "is not an address:port");
	parse_bad("listen:\n  proxy:\n    sctp: 127.0.0.1:5060\n", 3, 5, "listen.proxy: unknown key 'sctp'");
	parse_bad("listen:\n  gateway: 127.0.0.1:5060\n", 2, 3, "listen: unknown key 'gateway' (known here: proxy, app)");
	parse_bad("listen:\n  proxy: 127.0.0.1:5060\n  app: 127.0.0.1:5060\n", 3, 8,
		  "proxy udp already listens there (line 2)");
	parse_bad("listen:\n  proxy: 0.0.0.0:5060\n  app:\n    tcp: 127.0.0.1:5060\n", 4, 10,
		  "overlaps the proxy tcp listener of line 2");
	parse_bad("listen:\n  proxy: []\n", 2, 3, "listen: no listener");
	parse_bad("listen:\n", 1, 8, "listen: expected a mapping");
}

static void test_errors_bindings(void **state)
{
	(void)state;
	parse_bad("bindings:\n  \"@example.test\": sip:a@10.0.0.1\n", 2, 3, "is not an AoR");
	parse_bad("bindings:\n  \"a b@example.test\": sip:a@10.0.0.1\n", 2, 3, "bad user part");
	parse_bad("bindings:\n  a@exa_mple: sip:a@10.0.0.1\n", 2, 3, "bad domain");
	parse_bad("bindings:\n  a@example.test: tel:+15551234\n", 2, 19, "'tel:+15551234' is not a sip: or sips: URI");
	parse_bad("bindings:\n  a@example.test: \"sip:a@[::1\"\n", 2, 19, "is not a sip: or sips: URI");
	/* TLS only (RFC 5630 §4): it would have to be sent in the clear */
	parse_bad("bindings:\n  a@example.test: [sip:a@h1, \"SIPS:a@10.0.0.1\"]\n", 2, 30,
		  "'SIPS:a@10.0.0.1': sips: needs TLS, which pickupd does not speak yet");
	parse_bad("bindings:\n  a@example.test: []\n", 2, 19, "has no contact");
	parse_bad("bindings:\n  a@example.test: [sip:a@h1, sip:a@h1]\n", 2, 30, "listed twice");
	parse_bad("bindings:\n  a@example.test: [sip:a@h1, sip:a@h2, sip:a@h3, sip:a@h4, sip:a@h5, sip:a@h6, "
		  "sip:a@h7, sip:a@h8, sip:a@h9]\n",
		  2, 100, "more than 8 contacts");

	/* the location table keeps a contact of up to 256 bytes: a longer one
	 * is refused here, not only when pickupd starts */
	char yaml[512];

	snprintf(yaml, sizeof(yaml), "bindings:\n  a@example.test: sip:a@%0251d\n", 0);
	parse_bad(yaml, 2, 19, "contact of 257 bytes, longer than 256");
	snprintf(yaml, sizeof(yaml), "bindings:\n  a@example.test: sip:a@%0247d.te\n", 0);
	struct pk_engine_conf *c = parse_ok(yaml);

	assert_int_equal(c->bindings[0].contacts[0].len, 256);
	pk_engine_conf_free(c);
}

/* advertise: a scalar for every listener, or a mapping listener address:
 * host[:port]; each wrong shape named with its line and column */
static void test_errors_advertise(void **state)
{
	(void)state;
	parse_bad("advertise: [pbx.example.test]\n", 1, 12,
		  "advertise: expected host[:port], or a mapping listener address: host[:port], found a list");
	parse_bad("advertise:\n", 1, 11, "advertise: expected a value, found nothing");
	/* an empty mapping advertises nothing: refused like no value */
	parse_bad("advertise: {}\n", 1, 12,
		  "advertise: the mapping is empty: leave the key out to advertise each listener's own address");
	parse_bad("advertise:\n  \"127.0.0.1:5060\": a\n  \"127.0.0.1:5060\": b\n", 3, 3,
		  "advertise: '127.0.0.1:5060' given twice");
	/* the same address written another way is the same listener */
	parse_bad("advertise:\n  \"[::1]:5060\": a\n  \"[0::1]:5060\": b\n", 3, 3, "'[0::1]:5060' given twice");
	parse_bad("advertise:\n  localhost:5060: a\n", 2, 3,
		  "advertise: 'localhost:5060' is not a listener address:port");
	parse_bad("advertise:\n  ? [x]\n  : a\n", 2, 5, "advertise: keys must be listener addresses, found a list");
	parse_bad("advertise:\n  ~: a\n", 2, 3, "keys must be listener addresses, found nothing");
	parse_bad("advertise:\n  \"127.0.0.1:5060\": \"a b\"\n", 2, 21, "advertise: 'a b' is not host or host:port");
	parse_bad("advertise:\n  \"127.0.0.1:5060\": [a]\n", 2, 21, "advertise: expected a value, found a list");
	parse_bad("listen:\n  proxy: 127.0.0.1:5060\nadvertise:\n  \"127.0.0.1:5061\": a\n", 4, 3,
		  "advertise: no listener at this address");
	parse_bad("advertise:\n  \"127.0.0.1:5060\": a\n  \"127.0.0.1:5075\": b\n  \"127.0.0.2:1\": c\n", 4, 3,
		  "no listener at this address");
}

/* ---- cross-checks with the groups file ---- */

static const char groups_yaml[] = "settings:\n  domains: [example.test, other.test]\n  ring_timeout: 300\n"
				  "groups:\n  - number: 801\n    members: [alice, bob@other.test]\n";

static void resolve_bad(const char *yaml, uint32_t line, uint32_t col, const char *text)
{
	struct pk_engine_conf *c = parse_ok(yaml);
	struct pk_groups_conf *g = groups_parse(groups_yaml);
	struct pk_engine_conf_error err;
	char where[64];

	assert_int_equal(pk_engine_conf_resolve(c, g, &err), -EINVAL);
	snprintf(where, sizeof(where), NAME ":%u:%u: ", line, col);
	if (strncmp(err.msg, where, strlen(where)) != 0 || strstr(err.msg, text) == NULL)
		fail_msg("got '%s', expected '%s...%s'", err.msg, where, text);
	pk_groups_conf_free(g);
	pk_engine_conf_free(c);
}

static void test_resolve(void **state)
{
	(void)state;
	struct pk_engine_conf_error err;
	struct pk_groups_conf *g = groups_parse(groups_yaml);
	struct pk_engine_conf *c = parse_ok("bindings:\n  gw: sip:gw@10.0.0.1\n  x@other.test: sip:x@h\n");

	/* no domains: key: the groups file's domains are served */
	assert_int_equal(pk_engine_conf_resolve(c, g, &err), 0);
	assert_int_equal(c->served.n_domains, 2);
	assert_string_equal(c->served.domains[1], "other.test");
	assert_true(pk_str_eq(c->bindings[0].domain, PK_STR_LIT("example.test")));
	pk_engine_conf_free(c);

	/* more domains than the groups file: fine */
	c = parse_ok("domains: [example.test, other.test, third.test]\ntimers:\n  ring_timeout: 300\n");
	assert_int_equal(pk_engine_conf_resolve(c, g, &err), 0);
	assert_int_equal(c->served.n_domains, 3);
	pk_engine_conf_free(c);
	pk_groups_conf_free(g);

	resolve_bad("workers: 1\ndomains: [example.test]\n", 2, 10,
		    "domains: the groups file /etc/pickupd/groups.yaml serves 'other.test', which is not listed here");
	resolve_bad("timers:\n  ring_timeout: 200\n", 2, 17,
		    "timers.ring_timeout: 200 s is below the groups file's settings.ring_timeout (300 s");
	resolve_bad("bindings:\n  a@example.test: sip:a@h\n  b@third.test: sip:b@h\n", 3, 3,
		    "bindings: domain 'third.test' of 'b' is not served");
	resolve_bad("bindings:\n  a: sip:a@h1\n  a@Example.Test: sip:a@h2\n", 3, 3,
		    "bindings: 'a@example.test' is bound twice (line 2)");
	resolve_bad("bindings:\n  \"%61\": sip:a@h1\n  a: sip:a@h2\n", 3, 3, "bound twice");

	/* what start-up would refuse, --check refuses: the groups file has 1
	 * group and 2 users; the static contacts fill the location table */
	resolve_bad("capacity:\n  users: 1\n", 2, 10,
		    "capacity.users: the groups file /etc/pickupd/groups.yaml has 2 users, more than 1");
	resolve_bad("bindings:\n  a: [sip:a@h1, sip:a@h2]\n  b: sip:b@h3\ncapacity: {registrations: 2}\n", 3, 3,
		    "bindings: 'b@example.test': more static contacts than capacity.registrations (2)");
	g = groups_parse("settings:\n  domains: [example.test]\ngroups:\n  - number: 801\n    members: [a]\n"
			 "  - number: 802\n    members: [a]\n");
	c = parse_ok("capacity:\n  groups: 1\n");
	assert_int_equal(pk_engine_conf_resolve(c, g, &err), -EINVAL);
	assert_string_equal(err.msg, NAME ":2:11: capacity.groups: the groups file /etc/pickupd/groups.yaml has 2 "
				     "groups, more than 1");
	pk_engine_conf_free(c);
	/* exactly full is fine */
	c = parse_ok("capacity: {groups: 2, users: 1, registrations: 2}\nbindings: {a: [sip:a@h1, sip:a@h2]}\n");
	assert_int_equal(pk_engine_conf_resolve(c, g, &err), 0);
	pk_engine_conf_free(c);
	pk_groups_conf_free(g);
}

/* ---- files and paths ---- */

static char tmpdir[256];

static void write_file(const char *rel, const char *text)
{
	char path[512];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", tmpdir, rel);
	f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

static void test_load_paths(void **state)
{
	(void)state;
	struct pk_engine_conf_error err;
	struct pk_groups_conf_error gerr;
	struct pk_engine_conf *c;
	struct pk_groups_conf *g;
	char path[512], expect[1024], cwd[512];

	snprintf(tmpdir, sizeof(tmpdir), "/tmp/test_engine_conf.XXXXXX");
	assert_non_null(mkdtemp(tmpdir));
	snprintf(path, sizeof(path), "%s/sub", tmpdir);
	assert_int_equal(mkdir(path, 0700), 0);
	write_file("sub/g.yaml", "settings:\n  domains: example.test\ngroups: []\n");
	write_file("pickupd.yaml", "groups: sub/g.yaml\ncontrol_socket: ctl.sock\n");
	write_file("abs.yaml", "groups: /nonexistent/g.yaml\n");
	write_file("bad.yaml", "workers: 1\nlog:\n  level: loud\n");

	/* a relative groups path is relative to the configuration file */
	snprintf(path, sizeof(path), "%s/pickupd.yaml", tmpdir);
	c = pk_engine_conf_load(path, &err);
	if (c == NULL)
		fail_msg("%s", err.msg);
	snprintf(expect, sizeof(expect), "%s/sub/g.yaml", tmpdir);
	assert_string_equal(c->groups_path, expect);
	snprintf(expect, sizeof(expect), "%s/ctl.sock", tmpdir);
	assert_string_equal(c->control_socket, expect);
	assert_string_equal(c->path, path);
	g = pk_groups_conf_load(c->groups_path, &gerr);
	if (g == NULL)
		fail_msg("%s", gerr.msg);
	assert_int_equal(pk_engine_conf_resolve(c, g, &err), 0);
	pk_groups_conf_free(g);
	pk_engine_conf_free(c);

	/* an absolute one stays */
	snprintf(path, sizeof(path), "%s/abs.yaml", tmpdir);
	c = pk_engine_conf_load(path, &err);
	assert_non_null(c);
	assert_string_equal(c->groups_path, "/nonexistent/g.yaml");
	pk_engine_conf_free(c);

	/* a file named without a directory: relative to "." */
	assert_non_null(getcwd(cwd, sizeof(cwd)));
	assert_int_equal(chdir(tmpdir), 0);
	c = pk_engine_conf_load("pickupd.yaml", &err);
	assert_non_null(c);
	assert_string_equal(c->groups_path, "./sub/g.yaml");
	pk_engine_conf_free(c);
	assert_int_equal(chdir(cwd), 0);

	/* errors name the file as given */
	snprintf(path, sizeof(path), "%s/bad.yaml", tmpdir);
	c = pk_engine_conf_load(path, &err);
	assert_null(c);
	snprintf(expect, sizeof(expect), "%s:3:10: log.level: unknown level 'loud'", path);
	assert_true(strncmp(err.msg, expect, strlen(expect)) == 0);

	/* a missing file */
	snprintf(path, sizeof(path), "%s/missing.yaml", tmpdir);
	c = pk_engine_conf_load(path, &err);
	assert_null(c);
	assert_int_equal(err.code, -ENOENT);
	assert_non_null(strstr(err.msg, "missing.yaml: cannot open"));

	/* a FIFO is refused at once, not opened for a writer that never
	 * comes (the alarm fails the test rather than let it hang), a
	 * device and a directory are named as what they are */
	snprintf(path, sizeof(path), "%s/fifo.yaml", tmpdir);
	assert_int_equal(mkfifo(path, 0600), 0);
	alarm(10);
	c = pk_engine_conf_load(path, &err);
	alarm(0);
	assert_null(c);
	assert_int_equal(err.code, -EINVAL);
	snprintf(expect, sizeof(expect), "%s: not a regular file (a FIFO)", path);
	assert_string_equal(err.msg, expect);
	unlink(path);
	assert_null(pk_engine_conf_load("/dev/zero", &err));
	assert_int_equal(err.code, -EINVAL);
	assert_string_equal(err.msg, "/dev/zero: not a regular file (a character device)");
	snprintf(path, sizeof(path), "%s/sub", tmpdir);
	assert_null(pk_engine_conf_load(path, &err));
	assert_int_equal(err.code, -EISDIR);
	snprintf(expect, sizeof(expect), "%s: cannot open: %s", path, strerror(EISDIR));
	assert_string_equal(err.msg, expect);

	const char *files[] = { "sub/g.yaml", "pickupd.yaml", "abs.yaml", "bad.yaml" };

	for (unsigned i = 0; i < PK_ARRAY_SIZE(files); i++) {
		snprintf(path, sizeof(path), "%s/%s", tmpdir, files[i]);
		unlink(path);
	}
	snprintf(path, sizeof(path), "%s/sub", tmpdir);
	rmdir(path);
	rmdir(tmpdir);
}

/* ---- the address helpers ---- */

static void test_addr(void **state)
{
	(void)state;
	struct pk_addr a, b;
	struct pk_cidr c;
	char buf[PK_ADDR_STRLEN];

	assert_int_equal(pk_addr_parse(PK_STR_LIT("192.0.2.1:5060"), false, &a), 0);
	assert_int_equal(a.family, AF_INET);
	assert_int_equal(a.port, 5060);
	pk_addr_format(&a, true, buf, sizeof(buf));
	assert_string_equal(buf, "192.0.2.1:5060");
	assert_int_equal(pk_addr_parse(PK_STR_LIT("[2001:db8::5]:5075"), false, &a), 0);
	assert_int_equal(a.family, AF_INET6);
	pk_addr_format(&a, true, buf, sizeof(buf));
	assert_string_equal(buf, "[2001:db8::5]:5075");
	pk_addr_format(&a, false, buf, sizeof(buf));
	assert_string_equal(buf, "2001:db8::5");
	assert_int_equal(pk_addr_parse(PK_STR_LIT("2001:db8::5"), true, &a), 0);
	assert_int_equal(a.port, 0);
	assert_int_equal(pk_addr_parse(PK_STR_LIT("2001:db8::5"), false, &a), -EINVAL);
	assert_int_equal(pk_addr_parse(PK_STR_LIT("[2001:db8::5]x"), false, &a), -EINVAL);
	assert_int_equal(pk_addr_parse(PK_STR_LIT("192.0.2.1:"), false, &a), -EINVAL);
	assert_int_equal(pk_addr_parse(PK_STR_LIT("192.0.2:5060"), false, &a), -EINVAL);
	assert_int_equal(pk_addr_parse(PK_STR_LIT("1.2.3.4:123456"), false, &a), -EINVAL);
	assert_int_equal(pk_addr_parse_ip(PK_STR_LIT("[::1]"), &a), 0);
	assert_int_equal(pk_addr_parse_ip(PK_STR_LIT("::1"), &b), 0);
	assert_true(pk_addr_eq(&a, &b));
	assert_false(pk_addr_is_any(&a));
	assert_int_equal(pk_addr_parse_ip(PK_STR_LIT("0.0.0.0"), &a), 0);
	assert_true(pk_addr_is_any(&a));

	/* sockaddr round trip, IPv4-mapped IPv6 as IPv4 */
	struct sockaddr_storage ss;
	struct sockaddr_in6 s6 = { .sin6_family = AF_INET6, .sin6_port = htons(7) };

	assert_int_equal(pk_addr_parse(PK_STR_LIT("[fe80::1]:9"), false, &a), 0);
	assert_int_equal(pk_addr_to_sockaddr(&a, &ss), sizeof(struct sockaddr_in6));
	assert_int_equal(pk_addr_from_sockaddr((struct sockaddr *)&ss, sizeof(struct sockaddr_in6), &b), 0);
	assert_true(pk_addr_eq(&a, &b));
	inet_pton(AF_INET6, "::ffff:10.1.2.3", &s6.sin6_addr);
	assert_int_equal(pk_addr_from_sockaddr((struct sockaddr *)&s6, sizeof(s6), &b), 0);
	assert_int_equal(b.family, AF_INET);
	pk_addr_format(&b, true, buf, sizeof(buf));
	assert_string_equal(buf, "10.1.2.3:7");

	assert_int_equal(pk_cidr_parse(PK_STR_LIT("10.128.0.0/9"), &c), 0);
	assert_int_equal(pk_addr_parse_ip(PK_STR_LIT("10.200.0.1"), &a), 0);
	assert_true(pk_cidr_match(&c, &a));
	assert_int_equal(pk_addr_parse_ip(PK_STR_LIT("10.127.255.255"), &a), 0);
	assert_false(pk_cidr_match(&c, &a));
	assert_int_equal(pk_addr_parse_ip(PK_STR_LIT("::1"), &a), 0);
	assert_false(pk_cidr_match(&c, &a)); /* other family */
	assert_int_equal(pk_cidr_parse(PK_STR_LIT("0.0.0.0/0"), &c), 0);
	assert_int_equal(pk_addr_parse_ip(PK_STR_LIT("203.0.113.9"), &a), 0);
	assert_true(pk_cidr_match(&c, &a));
	assert_int_equal(pk_cidr_parse(PK_STR_LIT("10.0.0.0/"), &c), -EINVAL);
	assert_int_equal(pk_cidr_parse(PK_STR_LIT("10.0.0.1/31"), &c), -EINVAL);
	assert_int_equal(pk_cidr_parse(PK_STR_LIT("fd00::/129"), &c), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_every_key),
		cmocka_unit_test(test_listen_forms),
		cmocka_unit_test(test_errors_structure),
		cmocka_unit_test(test_errors_values),
		cmocka_unit_test(test_errors_listen),
		cmocka_unit_test(test_errors_bindings),
		cmocka_unit_test(test_errors_advertise),
		cmocka_unit_test(test_errors_empty),
		cmocka_unit_test(test_resolve),
		cmocka_unit_test(test_ring_timeout_applied),
		cmocka_unit_test(test_dpdk),
		cmocka_unit_test(test_dpdk_ports),
		cmocka_unit_test(test_dpdk_routes),
		cmocka_unit_test(test_load_paths),
		cmocka_unit_test(test_addr),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
