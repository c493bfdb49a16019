/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of the telemetry exports (control/metrics.c, metrics_http.c,
 * telemetry.c) on a sample stats object of the layout of docs/control.md:
 *  - the Prometheus text parses line by line against the 0.0.4 grammar,
 *    one HELP/TYPE per family before its samples, no duplicate series, the
 *    documented names and values, label escaping;
 *  - the /metrics listener, driven by this thread's poll loop while a
 *    second thread talks plain HTTP to it: status lines, headers, body,
 *    render() called on the polling thread and no thread of its own;
 *  - (argument "telemetry", run alone) a minimal EAL with the telemetry
 *    socket, our commands read over DPDK's socket protocol, and the CPU
 *    affinity of the calling thread unchanged.
 */
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <cmocka.h>

#include <rte_eal.h>

#include "pickup/metrics.h"

/* Two workers; totals are their sums. The second worker's rejects carry a
 * key that needs escaping, counters a key that needs sanitising and two
 * keys that sanitise to the same name. */
static const char *SAMPLE =
	"{\"uptime_s\": 12.5,"
	" \"totals\": {\"rx\": 30, \"tx\": 33, \"slow_path\": 1},"
	" \"rejects\": {\"400\": 3, \"483\": 0, \"other\": 1},"
	" \"proxy\": {\"forwarded\": 7},"
	" \"pickup\": {\"picked\": 5, \"no_call\": 2},"
	" \"workers\": ["
	"   {\"id\": 0, \"counters\": {\"rx\": 10, \"tx\": 11, \"slow_path\": 0},"
	"    \"rejects\": {\"400\": 0, \"483\": 0, \"other\": 1},"
	"    \"proxy\": {\"forwarded\": 3}, \"pickup\": {\"picked\": 1, \"no_call\": 2}},"
	"   {\"id\": 1, \"counters\": {\"rx\": 20, \"tx\": 22, \"slow_path\": 1, \"new-thing\": 9,"
	"                               \"dup-x\": 1, \"dup_x\": 2},"
	"    \"rejects\": {\"400\": 3, \"483\": 0, \"other\": 0, \"we\\\"ird\\\\\\n\": 4},"
	"    \"proxy\": {\"forwarded\": 4}, \"pickup\": {\"picked\": 4, \"no_call\": 0}}],"
	" \"calls\": {\"capacity\": 65536, \"in_use\": 6, \"ringing\": 2,"
	"            \"counters\": {\"claimed\": 5, \"expired\": 4}},"
	" \"registrations\": {\"capacity\": 1024, \"in_use\": 8, \"aors\": 7,"
	"                    \"counters\": {\"added\": 9}},"
	" \"groups\": {\"groups\": 3, \"users\": 9, \"memberships\": 12, \"version\": 4, \"bytes\": 4096},"
	" \"memory\": {\"calltab_bytes\": 1048576, \"location_bytes\": 65536,"
	"             \"jemalloc\": {\"allocated\": 100, \"active\": 200, \"resident\": 300,"
	"                          \"mapped\": 400, \"metadata\": 50}}}";

static json_t *sample(void)
{
	json_error_t e;
	json_t *j = json_loads(SAMPLE, 0, &e);
	if (j == NULL)
		fail_msg("sample: %s at %d:%d", e.text, e.line, e.column);
	return j;
}

/* ---- a checking parser of the exposition format ---- */

struct prom_sample {
	char name[128];
	char labels[256]; /* canonical: name="unescaped value",... as written */
	char label_v[2][128];
	char label_n[2][32];
	unsigned n_labels;
	double value;
};

struct prom {
	struct prom_sample s[512];
	unsigned n;
	char types[128][128]; /* family -> "counter"/"gauge" */
	char fam[128][128];
	unsigned n_fam;
};

static bool is_name_start(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == ':';
}

static bool is_name_char(char c)
{
	return is_name_start(c) || (c >= '0' && c <= '9');
}

/* Parse one sample line; fail the test on any deviation from 0.0.4. */
static void prom_parse_sample(const char *line, struct prom_sample *s)
{
	const char *p = line;
	size_t n = 0;
	memset(s, 0, sizeof(*s));
	if (!is_name_start(*p))
		fail_msg("bad metric name start: %s", line);
	while (is_name_char(*p) && n < sizeof(s->name) - 1)
		s->name[n++] = *p++;
	if (*p == '{') {
		p++;
		size_t ln = 0;
		for (;;) {
			if (s->n_labels >= 2)
				fail_msg("too many labels: %s", line);
			char lname[32] = "", lval[128] = "";
			size_t k = 0;
			if (!is_name_start(*p) || *p == ':')
				fail_msg("bad label name: %s", line);
			while (is_name_char(*p) && *p != ':' && k < 31)
				lname[k++] = *p++;
			if (*p++ != '=' || *p++ != '"')
				fail_msg("label without =\": %s", line);
			k = 0;
			while (*p != '"') {
				if (*p == '\0' || *p == '\n')
					fail_msg("unterminated label value: %s", line);
				if (*p == '\\') {
					p++;
					if (*p == 'n')
						lval[k++] = '\n';
					else if (*p == '\\' || *p == '"')
						lval[k++] = *p;
					else
						fail_msg("bad escape in label value: %s", line);
					p++;
				} else {
					lval[k++] = *p++;
				}
				assert_true(k < 127);
			}
			p++;
			memcpy(s->label_n[s->n_labels], lname, sizeof(lname));
			memcpy(s->label_v[s->n_labels], lval, sizeof(lval));
			ln += (size_t)snprintf(s->labels + ln, sizeof(s->labels) - ln, "%s%s=\"%s\"",
					       s->n_labels ? "," : "", lname, lval);
			s->n_labels++;
			if (*p == ',') {
				p++;
				continue;
			}
			if (*p++ != '}')
				fail_msg("label set not closed: %s", line);
			break;
		}
	}
	if (*p++ != ' ')
		fail_msg("no space before value: %s", line);
	if (strcmp(p, "NaN") == 0 || strcmp(p, "+Inf") == 0 || strcmp(p, "-Inf") == 0) {
		s->value = strtod(p, NULL);
		return;
	}
	char *end;
	s->value = strtod(p, &end);
	if (end == p || *end != '\0')
		fail_msg("bad value: %s", line);
}

static int prom_family(const struct prom *pr, const char *name)
{
	for (unsigned i = 0; i < pr->n_fam; i++)
		if (strcmp(pr->fam[i], name) == 0)
			return (int)i;
	return -1;
}

/* The whole text: families, HELP then TYPE then samples, every series
 * once, a newline after the last line. */
static void prom_parse(const char *text, struct prom *pr)
{
	char cur[128] = "";
	char help_for[128] = "";
	const char *p = text;
	memset(pr, 0, sizeof(*pr));
	assert_true(text[0] == '\0' || text[strlen(text) - 1] == '\n');
	while (*p) {
		const char *nl = strchr(p, '\n');
		assert_non_null(nl);
		char line[1024];
		size_t len = (size_t)(nl - p);
		assert_true(len < sizeof(line));
		memcpy(line, p, len);
		line[len] = '\0';
		p = nl + 1;
		char name[128], rest[64];
		if (strncmp(line, "# HELP ", 7) == 0) {
			if (sscanf(line + 7, "%127s", name) != 1)
				fail_msg("HELP without name: %s", line);
			if (prom_family(pr, name) >= 0)
				fail_msg("second HELP for %s", name);
			snprintf(help_for, sizeof(help_for), "%s", name);
			continue;
		}
		if (strncmp(line, "# TYPE ", 7) == 0) {
			if (sscanf(line + 7, "%127s %63s", name, rest) != 2)
				fail_msg("bad TYPE: %s", line);
			if (strcmp(help_for, name) != 0)
				fail_msg("TYPE %s not right after its HELP", name);
			if (prom_family(pr, name) >= 0)
				fail_msg("second TYPE for %s", name);
			if (strcmp(rest, "counter") != 0 && strcmp(rest, "gauge") != 0)
				fail_msg("unexpected type %s", rest);
			assert_true(pr->n_fam < 128);
			snprintf(pr->fam[pr->n_fam], sizeof(pr->fam[0]), "%s", name);
			snprintf(pr->types[pr->n_fam], sizeof(pr->types[0]), "%s", rest);
			pr->n_fam++;
			snprintf(cur, sizeof(cur), "%s", name);
			help_for[0] = '\0';
			continue;
		}
		if (line[0] == '#' || line[0] == '\0')
			fail_msg("unexpected line: '%s'", line);
		assert_true(pr->n < 512);
		struct prom_sample *s = &pr->s[pr->n];
		prom_parse_sample(line, s);
		if (strcmp(s->name, cur) != 0)
			fail_msg("sample %s outside its family block (current %s)", s->name, cur);
		for (unsigned i = 0; i < pr->n; i++)
			if (strcmp(pr->s[i].name, s->name) == 0 && strcmp(pr->s[i].labels, s->labels) == 0)
				fail_msg("duplicate series %s{%s}", s->name, s->labels);
		pr->n++;
	}
}

/* The value of series name{labels} (labels as "a=\"x\",b=\"y\"" or ""). */
static const struct prom_sample *prom_get(const struct prom *pr, const char *name, const char *labels)
{
	for (unsigned i = 0; i < pr->n; i++)
		if (strcmp(pr->s[i].name, name) == 0 && strcmp(pr->s[i].labels, labels) == 0)
			return &pr->s[i];
	return NULL;
}

static double prom_val(const struct prom *pr, const char *name, const char *labels)
{
	const struct prom_sample *s = prom_get(pr, name, labels);
	if (s == NULL)
		fail_msg("missing series %s{%s}", name, labels);
	return s->value;
}

static const char *prom_type(const struct prom *pr, const char *name)
{
	int i = prom_family(pr, name);
	if (i < 0)
		fail_msg("missing family %s", name);
	return pr->types[i];
}

static unsigned prom_count(const struct prom *pr, const char *name)
{
	unsigned n = 0;
	for (unsigned i = 0; i < pr->n; i++)
		n += strcmp(pr->s[i].name, name) == 0;
	return n;
}

static struct prom PR; /* large: not on the stack */

/* ---- Prometheus ---- */

static void test_prom_syntax_and_values(void **state)
{
	(void)state;
	json_t *st = sample();
	char *text = pk_metrics_prometheus(st);
	assert_non_null(text);
	prom_parse(text, &PR);

	/* per-worker counters with a worker label, totals not repeated */
	assert_string_equal(prom_type(&PR, "pickupd_rx_total"), "counter");
	assert_true(prom_val(&PR, "pickupd_rx_total", "worker=\"0\"") == 10);
	assert_true(prom_val(&PR, "pickupd_rx_total", "worker=\"1\"") == 20);
	assert_int_equal(prom_count(&PR, "pickupd_rx_total"), 2);
	assert_true(prom_val(&PR, "pickupd_slow_path_total", "worker=\"1\"") == 1);
	assert_int_equal(prom_family(&PR, "pickupd_totals_rx_total"), -1);
	assert_true(prom_val(&PR, "pickupd_rejects_total", "status=\"400\",worker=\"1\"") == 3);
	assert_true(prom_val(&PR, "pickupd_rejects_total", "status=\"other\",worker=\"0\"") == 1);
	assert_string_equal(prom_type(&PR, "pickupd_rejects_total"), "counter");
	assert_true(prom_val(&PR, "pickupd_proxy_forwarded_total", "worker=\"1\"") == 4);
	assert_true(prom_val(&PR, "pickupd_pickup_picked_total", "worker=\"1\"") == 4);
	assert_true(prom_val(&PR, "pickupd_pickup_no_call_total", "worker=\"0\"") == 2);

	/* tables: gauges, and their counters */
	assert_string_equal(prom_type(&PR, "pickupd_calls_ringing"), "gauge");
	assert_true(prom_val(&PR, "pickupd_calls_ringing", "") == 2);
	assert_true(prom_val(&PR, "pickupd_calls_in_use", "") == 6);
	assert_true(prom_val(&PR, "pickupd_calls_capacity", "") == 65536);
	assert_string_equal(prom_type(&PR, "pickupd_calls_expired_total"), "counter");
	assert_true(prom_val(&PR, "pickupd_calls_expired_total", "") == 4);
	assert_true(prom_val(&PR, "pickupd_registrations_in_use", "") == 8);
	assert_true(prom_val(&PR, "pickupd_registrations_aors", "") == 7);
	assert_true(prom_val(&PR, "pickupd_registrations_added_total", "") == 9);
	assert_true(prom_val(&PR, "pickupd_groups", "") == 3);
	assert_true(prom_val(&PR, "pickupd_group_memberships", "") == 12);
	assert_true(prom_val(&PR, "pickupd_group_users", "") == 9);
	assert_true(prom_val(&PR, "pickupd_group_version", "") == 4);
	assert_true(prom_val(&PR, "pickupd_memory_bytes", "area=\"calltab\"") == 1048576);
	assert_true(prom_val(&PR, "pickupd_memory_bytes", "area=\"location\"") == 65536);
	assert_true(prom_val(&PR, "pickupd_jemalloc_bytes", "stat=\"allocated\"") == 100);
	assert_true(prom_val(&PR, "pickupd_jemalloc_bytes", "stat=\"metadata\"") == 50);
	assert_string_equal(prom_type(&PR, "pickupd_uptime_seconds"), "gauge");
	assert_true(prom_val(&PR, "pickupd_uptime_seconds", "") == 12.5);

	/* a counter the code has never heard of, its name sanitised */
	assert_true(prom_val(&PR, "pickupd_new_thing_total", "worker=\"1\"") == 9);
	/* "dup-x" and "dup_x" are one name: one series, the first value */
	assert_int_equal(prom_count(&PR, "pickupd_dup_x_total"), 1);
	assert_true(prom_val(&PR, "pickupd_dup_x_total", "worker=\"1\"") == 1);
	free(text);
	json_decref(st);
}

static void test_prom_label_escaping(void **state)
{
	(void)state;
	json_t *st = sample();
	char *text = pk_metrics_prometheus(st);
	assert_non_null(text);
	/* as written: quote, backslash and newline escaped */
	assert_non_null(strstr(text, "pickupd_rejects_total{status=\"we\\\"ird\\\\\\n\",worker=\"1\"} 4\n"));
	/* and read back to the original key */
	prom_parse(text, &PR);
	assert_true(prom_val(&PR, "pickupd_rejects_total", "status=\"we\"ird\\\n\",worker=\"1\"") == 4);
	free(text);
	json_decref(st);
}

/* Without a workers array the summed sections are exported unlabelled. */
static void test_prom_no_workers(void **state)
{
	(void)state;
	json_t *st = sample();
	json_object_del(st, "workers");
	char *text = pk_metrics_prometheus(st);
	assert_non_null(text);
	prom_parse(text, &PR);
	assert_true(prom_val(&PR, "pickupd_rx_total", "") == 30);
	assert_true(prom_val(&PR, "pickupd_rejects_total", "status=\"400\"") == 3);
	assert_true(prom_val(&PR, "pickupd_proxy_forwarded_total", "") == 7);
	free(text);
	json_decref(st);
}

/* Odd input: an empty page; strings and nulls skipped. */
static void test_prom_odd_input(void **state)
{
	(void)state;
	char *text = pk_metrics_prometheus(NULL);
	assert_non_null(text);
	assert_string_equal(text, "");
	free(text);

	json_t *st = json_pack("{s:f, s:s, s:n, s:{s:s, s:i, s:b}}", "uptime_s", 0.25, "version", "x",
			       "nothing", "calls", "state", "ok", "ringing", 1, "full", 1);
	assert_non_null(st);
	text = pk_metrics_prometheus(st);
	assert_non_null(text);
	prom_parse(text, &PR);
	assert_non_null(strstr(text, "\npickupd_uptime_seconds 0.25\n"));
	assert_true(prom_val(&PR, "pickupd_calls_ringing", "") == 1);
	assert_true(prom_val(&PR, "pickupd_calls_full", "") == 1);
	assert_int_equal(PR.n, 3);
	free(text);
	json_decref(st);
}

/* HELP text escapes backslash and newline (a raw newline would end the
 * line and break the whole scrape); a worker without an id is labelled
 * by its place; a worker's plain value and memory's non-_bytes values
 * are gauges. */
static void test_prom_help_and_gauges(void **state)
{
	(void)state;
	json_error_t e;
	json_t *st = json_loads("{\"workers\": [{\"counters\": {\"a\\\\b\\nc\": 5}, \"lcore\": 3},"
				" {\"id\": 7, \"counters\": {\"a\\\\b\\nc\": 6}, \"lcore\": 4}],"
				" \"memory\": {\"arenas\": 2, \"calltab_bytes\": 64}}",
				0, &e);
	if (st == NULL)
		fail_msg("%s", e.text);
	char *text = pk_metrics_prometheus(st);
	assert_non_null(text);
	prom_parse(text, &PR);
	assert_non_null(strstr(text, "# HELP pickupd_a_b_c_total Counter workers[].counters.a\\\\b\\nc of "
				     "the stats\n"));
	assert_true(prom_val(&PR, "pickupd_a_b_c_total", "worker=\"0\"") == 5);
	assert_true(prom_val(&PR, "pickupd_a_b_c_total", "worker=\"7\"") == 6);
	assert_string_equal(prom_type(&PR, "pickupd_worker_lcore"), "gauge");
	assert_true(prom_val(&PR, "pickupd_worker_lcore", "worker=\"0\"") == 3);
	assert_true(prom_val(&PR, "pickupd_worker_lcore", "worker=\"7\"") == 4);
	assert_string_equal(prom_type(&PR, "pickupd_memory_arenas"), "gauge");
	assert_true(prom_val(&PR, "pickupd_memory_arenas", "") == 2);
	assert_true(prom_val(&PR, "pickupd_memory_bytes", "area=\"calltab\"") == 64);
	assert_int_equal(PR.n, 6);
	free(text);
	json_decref(st);
}

/* A long counter name (past the renderer's 128-byte line buffer) comes out
 * whole in HELP, TYPE and sample; past MX_NAME_MAX (200) it is skipped
 * rather than cut to a name that could clash. */
static void test_prom_long_names(void **state)
{
	(void)state;
	char k150[151], k250[251], want[1024];
	memset(k150, 'k', 150);
	k150[150] = '\0';
	memset(k250, 'l', 250);
	k250[250] = '\0';
	json_t *st = json_pack("{s:{s:i, s:i, s:i}}", "totals", k150, 11, k250, 12, "rx", 1);
	assert_non_null(st);
	char *text = pk_metrics_prometheus(st);
	assert_non_null(text);
	snprintf(want, sizeof(want), "# HELP pickupd_%s_total Counter totals.%s of the stats\n"
		 "# TYPE pickupd_%s_total counter\npickupd_%s_total 11\n", k150, k150, k150, k150);
	assert_non_null(strstr(text, want));
	assert_null(strstr(text, "lllll"));
	assert_non_null(strstr(text, "\npickupd_rx_total 1\n"));
	free(text);
	json_decref(st);
}

/* The dpdk backend's layout: "io" per worker (and summed at the top
 * level), "net" per port keyed by the ethdev name - a vdev and a PCI
 * address, whose ':' and '.' must survive as a label value - and each
 * worker's share of it (workers[].net, not exported). */
static const char *IO_NET_SAMPLE =
	"{\"uptime_s\": 3,"
	" \"totals\": {\"rx\": 8},"
	" \"io\": {\"udp_rx\": 15, \"udp_tx\": 9, \"rx_bursts\": 12},"
	" \"workers\": ["
	"   {\"id\": 0, \"counters\": {\"rx\": 5},"
	"    \"io\": {\"udp_rx\": 5, \"udp_tx\": 3, \"rx_bursts\": 4},"
	"    \"net\": {\"net_af_packet0\": {\"rx_frames\": 4, \"udp_rx\": 3},"
	"             \"0000:3b:00.0\": {\"rx_frames\": 12, \"udp_rx\": 5}}},"
	"   {\"id\": 1, \"counters\": {\"rx\": 3},"
	"    \"io\": {\"udp_rx\": 10, \"udp_tx\": 6, \"rx_bursts\": 8},"
	"    \"net\": {\"net_af_packet0\": {\"rx_frames\": 6, \"udp_rx\": 4},"
	"             \"0000:3b:00.0\": {\"rx_frames\": 8, \"udp_rx\": 3}}}],"
	" \"net\": {\"net_af_packet0\": {\"rx_frames\": 10, \"icmp_echo_replied\": 3, \"udp_rx\": 7},"
	"          \"0000:3b:00.0\": {\"rx_frames\": 20, \"icmp_echo_replied\": 0, \"udp_rx\": 8}},"
	" \"ports\": {\"net_af_packet0\": {\"link_up\": true, \"speed_mbps\": 10000, \"full_duplex\": true,"
	"                               \"link_changes\": 0},"
	"            \"0000:3b:00.0\": {\"link_up\": false, \"speed_mbps\": 0, \"full_duplex\": false,"
	"                             \"link_changes\": 3}},"
	" \"calls\": {\"ringing\": 1}}";

static json_t *io_net_sample(void)
{
	json_error_t e;
	json_t *j = json_loads(IO_NET_SAMPLE, 0, &e);
	if (j == NULL)
		fail_msg("io/net sample: %s at %d:%d", e.text, e.line, e.column);
	return j;
}

/* net{<port>{c}}: one counter family per c, a sample per port. */
static void test_prom_net(void **state)
{
	(void)state;
	json_t *st = io_net_sample();
	char *text = pk_metrics_prometheus(st);
	assert_non_null(text);
	prom_parse(text, &PR); /* one HELP/TYPE per family, samples in its block */

	assert_string_equal(prom_type(&PR, "pickupd_net_rx_frames_total"), "counter");
	assert_true(prom_val(&PR, "pickupd_net_rx_frames_total", "port=\"net_af_packet0\"") == 10);
	assert_true(prom_val(&PR, "pickupd_net_rx_frames_total", "port=\"0000:3b:00.0\"") == 20);
	assert_int_equal(prom_count(&PR, "pickupd_net_rx_frames_total"), 2);
	assert_string_equal(prom_type(&PR, "pickupd_net_icmp_echo_replied_total"), "counter");
	assert_true(prom_val(&PR, "pickupd_net_icmp_echo_replied_total", "port=\"net_af_packet0\"") == 3);
	assert_true(prom_val(&PR, "pickupd_net_icmp_echo_replied_total", "port=\"0000:3b:00.0\"") == 0);
	/* the network layer's udp_rx is not the I/O queue's */
	assert_true(prom_val(&PR, "pickupd_net_udp_rx_total", "port=\"0000:3b:00.0\"") == 8);
	/* as written: both ports under the family's one TYPE line, in the
	 * stats' order, the PCI address verbatim */
	assert_non_null(strstr(text, "# TYPE pickupd_net_rx_frames_total counter\n"
				     "pickupd_net_rx_frames_total{port=\"net_af_packet0\"} 10\n"
				     "pickupd_net_rx_frames_total{port=\"0000:3b:00.0\"} 20\n"));
	/* no per-port family and no unlabelled sum */
	assert_int_equal(prom_family(&PR, "pickupd_net_net_af_packet0_rx_frames"), -1);
	assert_null(prom_get(&PR, "pickupd_net_rx_frames_total", ""));
	/* the workers' shares (workers[].net) are no series: not with a
	 * worker label, and not as a family of their own */
	assert_null(strstr(text, "worker=\"0\",port"));
	assert_null(strstr(text, "port=\"net_af_packet0\",worker"));
	assert_null(strstr(text, "pickupd_net_net_af_packet0"));
	assert_null(strstr(text, "pickupd_net_0000"));
	free(text);
	json_decref(st);
}

/* ports{<port>{...}}: the links, a gauge per field (booleans as 1 and 0)
 * and the changes as a counter, a sample per port. */
static void test_prom_ports(void **state)
{
	(void)state;
	json_t *st = io_net_sample();
	char *text = pk_metrics_prometheus(st);
	assert_non_null(text);
	prom_parse(text, &PR);

	assert_string_equal(prom_type(&PR, "pickupd_port_link_up"), "gauge");
	assert_true(prom_val(&PR, "pickupd_port_link_up", "port=\"net_af_packet0\"") == 1);
	assert_true(prom_val(&PR, "pickupd_port_link_up", "port=\"0000:3b:00.0\"") == 0);
	assert_true(prom_val(&PR, "pickupd_port_speed_mbps", "port=\"net_af_packet0\"") == 10000);
	assert_true(prom_val(&PR, "pickupd_port_full_duplex", "port=\"0000:3b:00.0\"") == 0);
	assert_string_equal(prom_type(&PR, "pickupd_port_link_changes_total"), "counter");
	assert_true(prom_val(&PR, "pickupd_port_link_changes_total", "port=\"0000:3b:00.0\"") == 3);
	assert_int_equal(prom_count(&PR, "pickupd_port_link_up"), 2);
	assert_null(strstr(text, "pickupd_ports_"));
	free(text);
	json_decref(st);
}

/* io per worker like the other per-worker sections; the summed top-level
 * io only without a workers array. */
static void test_prom_io(void **state)
{
	(void)state;
	json_t *st = io_net_sample();
	char *text = pk_metrics_prometheus(st);
	assert_non_null(text);
	prom_parse(text, &PR);
	assert_string_equal(prom_type(&PR, "pickupd_io_udp_rx_total"), "counter");
	assert_true(prom_val(&PR, "pickupd_io_udp_rx_total", "worker=\"0\"") == 5);
	assert_true(prom_val(&PR, "pickupd_io_udp_rx_total", "worker=\"1\"") == 10);
	assert_true(prom_val(&PR, "pickupd_io_udp_tx_total", "worker=\"1\"") == 6);
	assert_true(prom_val(&PR, "pickupd_io_rx_bursts_total", "worker=\"0\"") == 4);
	/* the sum (15) is not a second series of the family */
	assert_int_equal(prom_count(&PR, "pickupd_io_udp_rx_total"), 2);
	assert_null(prom_get(&PR, "pickupd_io_udp_rx_total", ""));
	assert_int_equal(prom_count(&PR, "pickupd_io_rx_bursts_total"), 2);
	free(text);

	json_object_del(st, "workers");
	text = pk_metrics_prometheus(st);
	assert_non_null(text);
	prom_parse(text, &PR);
	assert_string_equal(prom_type(&PR, "pickupd_io_udp_rx_total"), "counter");
	assert_true(prom_val(&PR, "pickupd_io_udp_rx_total", "") == 15);
	assert_true(prom_val(&PR, "pickupd_io_rx_bursts_total", "") == 12);
	assert_int_equal(prom_count(&PR, "pickupd_io_udp_rx_total"), 1);
	/* net does not depend on the workers array */
	assert_true(prom_val(&PR, "pickupd_net_rx_frames_total", "port=\"0000:3b:00.0\"") == 20);
	free(text);
	json_decref(st);
}

/* A net that is not an object of port objects: nothing port-labelled. A
 * top-level number is a gauge like any other (docs/metrics.md); a port
 * that is not an object and a counter that is not a number are skipped. */
static void test_prom_net_odd(void **state)
{
	(void)state;
	json_t *st = json_pack("{s:i, s:i}", "uptime_s", 1, "net", 5);
	assert_non_null(st);
	char *text = pk_metrics_prometheus(st);
	assert_non_null(text);
	prom_parse(text, &PR);
	assert_string_equal(prom_type(&PR, "pickupd_net"), "gauge");
	assert_true(prom_val(&PR, "pickupd_net", "") == 5);
	assert_int_equal(PR.n, 2);
	assert_null(strstr(text, "port="));
	free(text);
	json_decref(st);

	st = json_pack("{s:i, s:[i]}", "uptime_s", 1, "net", 5);
	assert_non_null(st);
	text = pk_metrics_prometheus(st);
	assert_non_null(text);
	prom_parse(text, &PR);
	assert_int_equal(PR.n, 1); /* uptime only */
	free(text);
	json_decref(st);

	st = json_pack("{s:i, s:{s:s, s:n, s:[i], s:{s:i, s:s, s:{s:i}}}}", "uptime_s", 1, "net", "eth0",
		       "down", "eth1", "eth2", 7, "0000:3b:00.0", "rx_frames", 4, "state", "up", "queues",
		       "rx", 1);
	assert_non_null(st);
	text = pk_metrics_prometheus(st);
	assert_non_null(text);
	prom_parse(text, &PR);
	assert_true(prom_val(&PR, "pickupd_net_rx_frames_total", "port=\"0000:3b:00.0\"") == 4);
	assert_int_equal(PR.n, 2); /* uptime and that one */
	assert_null(strstr(text, "eth0"));
	assert_null(strstr(text, "eth1"));
	assert_null(strstr(text, "eth2"));
	assert_null(strstr(text, "state"));
	assert_null(strstr(text, "queues"));
	free(text);
	json_decref(st);
}

/* ---- HTTP listener ---- */

struct http_ctx {
	unsigned renders;
	pthread_t render_thread;
	bool fail_render;
};

static char *render_fixed(void *arg)
{
	struct http_ctx *c = arg;
	c->renders++;
	c->render_thread = pthread_self();
	if (c->fail_render)
		return NULL;
	return strdup("# HELP pickupd_up Up\n# TYPE pickupd_up gauge\npickupd_up 1\n");
}

struct client {
	uint16_t port;
	const char *request;
	char reply[8192];
	size_t len;
	unsigned threads_seen; /* entries of /proc/self/task while connected */
	atomic_bool done;
	int wake[2]; /* pipe: the client writes a byte when done */
};

static unsigned count_threads(void)
{
	unsigned n = 0;
	DIR *d = opendir("/proc/self/task");
	struct dirent *e;
	if (d == NULL)
		return 0;
	while ((e = readdir(d)) != NULL)
		n += e->d_name[0] != '.';
	closedir(d);
	return n;
}

/* Send the request, read until the server closes (Connection: close). */
static void *client_main(void *arg)
{
	struct client *c = arg;
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(c->port) };
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	/* a listener that never answers ends the exchange (and fails it)
	 * after 10 s instead of hanging the test */
	struct timeval tv = { .tv_sec = 10 };
	if (fd >= 0)
		setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	if (fd >= 0 && connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0) {
		c->threads_seen = count_threads();
		size_t off = 0, len = strlen(c->request);
		while (off < len) {
			ssize_t n = send(fd, c->request + off, len - off, MSG_NOSIGNAL);
			if (n <= 0)
				break;
			off += (size_t)n;
		}
		for (;;) {
			ssize_t n = recv(fd, c->reply + c->len, sizeof(c->reply) - 1 - c->len, 0);
			if (n <= 0)
				break;
			c->len += (size_t)n;
		}
	}
	c->reply[c->len] = '\0';
	if (fd >= 0)
		close(fd);
	atomic_store_explicit(&c->done, true, memory_order_release);
	if (write(c->wake[1], "x", 1) != 1)
		abort();
	return NULL;
}

/* One exchange: the client thread talks, this thread runs the listener
 * as pickupd's control loop would (poll the fd, honour the timeout). */
static void exchange(struct pk_metrics_http *h, const char *request, struct client *c)
{
	pthread_t t;
	memset(c, 0, sizeof(*c));
	c->port = pk_metrics_http_port(h);
	c->request = request;
	assert_int_equal(pipe(c->wake), 0);
	assert_int_equal(pthread_create(&t, NULL, client_main, c), 0);
	struct timespec t0, now;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	while (!atomic_load_explicit(&c->done, memory_order_acquire)) {
		struct pollfd pfd[2] = { { .fd = pk_metrics_http_fd(h), .events = POLLIN },
					 { .fd = c->wake[0], .events = POLLIN } };
		poll(pfd, 2, pk_metrics_http_timeout_ms(h));
		pk_metrics_http_run(h);
	}
	pthread_join(t, NULL);
	clock_gettime(CLOCK_MONOTONIC, &now);
	if (now.tv_sec - t0.tv_sec >= 10)
		fail_msg("no answer within 10 s to: %s", request);
	close(c->wake[0]);
	close(c->wake[1]);
}

static const char *body_of(const char *reply)
{
	const char *b = strstr(reply, "\r\n\r\n");
	assert_non_null(b);
	return b + 4;
}

static void test_http(void **state)
{
	(void)state;
	struct http_ctx ctx = { 0 };
	char err[256] = "";
	unsigned threads_before = count_threads();
	struct pk_metrics_http *h = pk_metrics_http_start("127.0.0.1:0", render_fixed, &ctx, err, sizeof(err));
	if (h == NULL)
		fail_msg("start: %s", err);
	assert_true(pk_metrics_http_port(h) != 0);
	assert_true(pk_metrics_http_fd(h) >= 0);
	struct client c;

	exchange(h, "GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", &c);
	assert_true(strncmp(c.reply, "HTTP/1.1 200 OK\r\n", 17) == 0);
	assert_non_null(strstr(c.reply, "\r\nContent-Type: text/plain; version=0.0.4"));
	assert_string_equal(body_of(c.reply), "# HELP pickupd_up Up\n# TYPE pickupd_up gauge\npickupd_up 1\n");
	assert_int_equal(ctx.renders, 1);
	/* served by this (the polling) thread: the listener has none of its
	 * own - only the client thread was added */
	assert_true(pthread_equal(ctx.render_thread, pthread_self()));
	assert_int_equal(c.threads_seen, threads_before + 1);

	exchange(h, "GET /nope HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", &c);
	assert_true(strncmp(c.reply, "HTTP/1.1 404 ", 13) == 0);
	exchange(h, "GET /metricsx HTTP/1.0\r\n\r\n", &c);
	assert_true(strncmp(c.reply, "HTTP/1.0 404 ", 13) == 0 || strncmp(c.reply, "HTTP/1.1 404 ", 13) == 0);

	exchange(h,
		 "POST /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: 5\r\n\r\nhello",
		 &c);
	assert_true(strncmp(c.reply, "HTTP/1.1 405 ", 13) == 0);
	assert_non_null(strstr(c.reply, "\r\nAllow: GET, HEAD\r\n"));

	/* HEAD: headers of the GET answer, no body */
	exchange(h, "HEAD /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", &c);
	assert_true(strncmp(c.reply, "HTTP/1.1 200 OK\r\n", 17) == 0);
	assert_string_equal(body_of(c.reply), "");

	/* the query string does not change the resource */
	exchange(h, "GET /metrics?x=1 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", &c);
	assert_true(strncmp(c.reply, "HTTP/1.1 200 OK\r\n", 17) == 0);

	ctx.fail_render = true;
	exchange(h, "GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", &c);
	assert_true(strncmp(c.reply, "HTTP/1.1 500 ", 13) == 0);
	assert_int_equal(ctx.renders, 4); /* GET, HEAD, GET?x=1, failed GET */
	ctx.fail_render = false;

	/* what is no HTTP request gets 400, and the listener goes on */
	exchange(h, "\x01\x02 garbage \xff\r\n\r\n", &c);
	assert_true(strncmp(c.reply, "HTTP/1.1 400 ", 13) == 0 || strncmp(c.reply, "HTTP/1.0 400 ", 13) == 0);
	assert_int_equal(ctx.renders, 4);

	/* a client that asks and resets the connection before its answer:
	 * the next one is served (the control thread must not stop or spin) */
	signal(SIGPIPE, SIG_IGN); /* as the daemon, main.c */
	int gone = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in ga = { .sin_family = AF_INET, .sin_port = htons(pk_metrics_http_port(h)) };
	ga.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(connect(gone, (struct sockaddr *)&ga, sizeof(ga)), 0);
	static const char req[] = "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n";
	assert_int_equal(send(gone, req, sizeof(req) - 1, MSG_NOSIGNAL), (ssize_t)(sizeof(req) - 1));
	struct linger rst = { .l_onoff = 1, .l_linger = 0 };
	setsockopt(gone, SOL_SOCKET, SO_LINGER, &rst, sizeof(rst));
	close(gone);
	exchange(h, "GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", &c);
	assert_true(strncmp(c.reply, "HTTP/1.1 200 OK\r\n", 17) == 0);
	assert_string_equal(body_of(c.reply), "# HELP pickupd_up Up\n# TYPE pickupd_up gauge\npickupd_up 1\n");

	/* a second listener on the same port is refused with the address
	 * once and the reason (pickupd logs the message as it is) */
	char addr[64], want[128];
	snprintf(addr, sizeof(addr), "127.0.0.1:%u", pk_metrics_http_port(h));
	assert_null(pk_metrics_http_start(addr, render_fixed, &ctx, err, sizeof(err)));
	snprintf(want, sizeof(want), "metrics listener %s: %s", addr, strerror(EADDRINUSE));
	assert_string_equal(err, want);

	pk_metrics_http_stop(h);
	/* closed: a connection is refused now */
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(c.port) };
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_not_equal(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	close(fd);
}

static void test_http_bad_address(void **state)
{
	(void)state;
	char err[256] = "";
	assert_null(pk_metrics_http_start("localhost:9105", render_fixed, NULL, err, sizeof(err)));
	assert_non_null(strstr(err, "bad address"));
	assert_null(pk_metrics_http_start("127.0.0.1", render_fixed, NULL, err, sizeof(err)));
	/* an address that is not ours */
	err[0] = '\0';
	assert_null(pk_metrics_http_start("192.0.2.1:9105", render_fixed, NULL, err, sizeof(err)));
	assert_non_null(strstr(err, "192.0.2.1:9105"));
	pk_metrics_http_stop(NULL);
}

/* The listener on IPv6 loopback when the host has it. */
static void test_http_ipv6(void **state)
{
	(void)state;
	char err[256] = "";
	struct pk_metrics_http *h = pk_metrics_http_start("[::1]:0", render_fixed, NULL, err, sizeof(err));
	if (h == NULL) {
		if (strstr(err, "not available") || strstr(err, "not supported"))
			skip();
		fail_msg("start: %s", err);
	}
	assert_true(pk_metrics_http_port(h) != 0);
	pk_metrics_http_stop(h);
}

/* ---- DPDK telemetry ---- */

static atomic_uint snapshots;

/* fake_snapshot's stats: the sample with a dpdk port's net section, or
 * (big_workers) 40 workers of 110 ten-digit counters each, whose
 * /pickupd/workers outgrows a telemetry reply. */
static bool big_workers;

static json_t *fake_snapshot(void *arg)
{
	assert_ptr_equal(arg, &snapshots);
	atomic_fetch_add_explicit(&snapshots, 1, memory_order_relaxed);
	json_t *s = sample();
	if (big_workers) {
		json_t *ws = json_array();
		for (int i = 0; i < 40; i++) {
			json_t *c = json_object();
			for (int k = 0; k < 110; k++) {
				char name[32];
				snprintf(name, sizeof(name), "counter_%d", k);
				json_object_set_new(c, name, json_integer(1000000000 + k));
			}
			json_array_append_new(ws, json_pack("{s:i, s:o}", "id", i, "counters", c));
		}
		json_object_set_new(s, "workers", ws);
		return s;
	}
	json_object_set_new(s, "net", json_pack("{s:{s:i, s:i}}", "net_af_packet0", "udp_rx", 40,
						"icmp_echo_replied", 3));
	json_object_set_new(s, "ports", json_pack("{s:{s:b, s:i}}", "net_af_packet0", "link_up", 1,
						  "speed_mbps", 10000));
	/* and each worker's share of it */
	size_t i;
	json_t *w;
	json_array_foreach (json_object_get(s, "workers"), i, w)
		json_object_set_new(w, "net", json_pack("{s:{s:i}}", "net_af_packet0", "udp_rx", 20));
	return s;
}

/* One request over DPDK's telemetry socket: send cmd, return the value
 * of the reply's only member (named cmd without parameters). */
static json_t *tel_ask(int fd, const char *cmd)
{
	static char buf[64 * 1024];
	assert_true(send(fd, cmd, strlen(cmd), 0) == (ssize_t)strlen(cmd));
	ssize_t n = recv(fd, buf, sizeof(buf) - 1, 0);
	assert_true(n > 0);
	buf[n] = '\0';
	json_error_t e;
	json_t *r = json_loads(buf, 0, &e);
	if (r == NULL)
		fail_msg("reply to %s is not JSON (%s): %s", cmd, e.text, buf);
	char key[128];
	snprintf(key, sizeof(key), "%s", cmd);
	char *comma = strchr(key, ',');
	if (comma)
		*comma = '\0';
	json_t *v = json_incref(json_object_get(r, key));
	if (v == NULL)
		fail_msg("reply to %s has no member %s: %s", cmd, key, buf);
	json_decref(r);
	return v;
}

static json_int_t tel_int(const json_t *o, const char *key)
{
	const json_t *v = json_object_get(o, key);
	if (!json_is_integer(v))
		fail_msg("no integer %s", key);
	return json_integer_value(v);
}

static void *own_affinity(void *arg)
{
	pthread_getaffinity_np(pthread_self(), sizeof(cpu_set_t), arg);
	return NULL;
}

static void test_telemetry(void **state)
{
	(void)state;
	char prefix[64], err[256] = "";
	snprintf(prefix, sizeof(prefix), "pk-test-metrics-%d", (int)getpid());

	cpu_set_t before, after, child;
	assert_int_equal(pthread_getaffinity_np(pthread_self(), sizeof(before), &before), 0);
	assert_int_equal(pk_telemetry_register(fake_snapshot, &snapshots), 0);
	if (pk_telemetry_eal_init(prefix, err, sizeof(err)) != 0)
		fail_msg("EAL: %s", err);
	/* the mask we had, not the main lcore's single core */
	assert_int_equal(pthread_getaffinity_np(pthread_self(), sizeof(after), &after), 0);
	assert_true(CPU_EQUAL(&before, &after));
	/* and what a thread created now (a worker) inherits */
	pthread_t t;
	CPU_ZERO(&child);
	assert_int_equal(pthread_create(&t, NULL, own_affinity, &child), 0);
	pthread_join(t, NULL);
	assert_true(CPU_EQUAL(&before, &child));

	/* the documented place of the socket */
	char path[PATH_MAX];
	snprintf(path, sizeof(path), "%s/dpdk_telemetry.v2", rte_eal_get_runtime_dir());
	if (geteuid() == 0) {
		char want[PATH_MAX];
		snprintf(want, sizeof(want), "/var/run/dpdk/%s/dpdk_telemetry.v2", prefix);
		assert_string_equal(path, want);
	}
	/* found by its greeting's pid (the only process of this prefix) */
	assert_non_null(pk_telemetry_socket_path());
	assert_string_equal(pk_telemetry_socket_path(), path);
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	assert_true(strlen(path) < sizeof(sun.sun_path));
	strcpy(sun.sun_path, path);
	int fd = socket(AF_UNIX, SOCK_SEQPACKET, 0);
	assert_true(fd >= 0);
	if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) != 0)
		fail_msg("connect %s: %s", path, strerror(errno));

	/* the greeting: {"version": "DPDK ...", "pid": ..., "max_output_len": ...} */
	char buf[4096];
	ssize_t n = recv(fd, buf, sizeof(buf) - 1, 0);
	assert_true(n > 0);
	buf[n] = '\0';
	json_t *info = json_loads(buf, 0, NULL);
	assert_non_null(info);
	assert_int_equal(tel_int(info, "pid"), getpid());
	json_decref(info);

	/* the commands are listed */
	json_t *list = tel_ask(fd, "/");
	bool seen[3] = { false };
	size_t i;
	json_t *v;
	json_array_foreach (list, i, v) {
		seen[0] |= strcmp(json_string_value(v), "/pickupd/stats") == 0;
		seen[1] |= strcmp(json_string_value(v), "/pickupd/workers") == 0;
		seen[2] |= strcmp(json_string_value(v), "/pickupd/status") == 0;
	}
	assert_true(seen[0] && seen[1] && seen[2]);
	json_decref(list);

	/* stats: flattened with '/', workers left out */
	json_t *st = tel_ask(fd, "/pickupd/stats");
	assert_true(json_is_object(st));
	assert_int_equal(tel_int(st, "totals/rx"), 30);
	assert_int_equal(tel_int(st, "rejects/400"), 3);
	assert_int_equal(tel_int(st, "pickup/picked"), 5);
	assert_int_equal(tel_int(st, "calls/ringing"), 2);
	assert_int_equal(tel_int(st, "calls/counters/expired"), 4);
	assert_int_equal(tel_int(st, "groups/memberships"), 12);
	assert_int_equal(tel_int(st, "memory/jemalloc/allocated"), 100);
	assert_int_equal(tel_int(st, "uptime_s"), 12);
	const char *key;
	json_object_foreach (st, key, v) {
		assert_true(strncmp(key, "workers", 7) != 0);
		assert_true(strncmp(key, "net", 3) != 0); /* its own view, below */
		assert_true(strncmp(key, "ports", 5) != 0); /* likewise */
	}
	json_decref(st);

	/* the dpdk ports' links on their own */
	st = tel_ask(fd, "/pickupd/stats,ports");
	assert_int_equal(tel_int(st, "net_af_packet0/speed_mbps"), 10000);
	assert_int_equal(json_object_size(st), 2);
	json_decref(st);

	/* the dpdk ports' network counters on their own */
	st = tel_ask(fd, "/pickupd/stats,net");
	assert_int_equal(tel_int(st, "net_af_packet0/udp_rx"), 40);
	assert_int_equal(tel_int(st, "net_af_packet0/icmp_echo_replied"), 3);
	assert_int_equal(json_object_size(st), 2);
	json_decref(st);

	st = tel_ask(fd, "/pickupd/stats,calls");
	assert_int_equal(tel_int(st, "capacity"), 65536);
	assert_int_equal(tel_int(st, "counters/claimed"), 5);
	assert_int_equal(json_object_size(st), 5);
	json_decref(st);
	st = tel_ask(fd, "/pickupd/stats,nosuch");
	assert_true(json_is_null(st));
	json_decref(st);

	/* workers: one array per counter, in the order of "id" */
	json_t *w = tel_ask(fd, "/pickupd/workers");
	json_t *ids = json_object_get(w, "id");
	assert_int_equal(json_array_size(ids), 2);
	assert_int_equal(json_integer_value(json_array_get(ids, 1)), 1);
	json_t *rx = json_object_get(w, "counters/rx");
	assert_int_equal(json_array_size(rx), 2);
	assert_int_equal(json_integer_value(json_array_get(rx, 0)), 10);
	assert_int_equal(json_integer_value(json_array_get(rx, 1)), 20);
	assert_int_equal(json_integer_value(json_array_get(json_object_get(w, "rejects/400"), 1)), 3);
	/* a worker's share of the network layer is not in the workers' view
	 * (the ports' counters are /pickupd/stats,net) */
	json_object_foreach (w, key, v)
		assert_true(strncmp(key, "net", 3) != 0);
	json_decref(w);
	w = tel_ask(fd, "/pickupd/workers,1");
	assert_int_equal(tel_int(w, "id"), 1);
	assert_int_equal(tel_int(w, "counters/rx"), 20);
	assert_int_equal(tel_int(w, "counters/new_thing"), 9);
	assert_int_equal(tel_int(w, "proxy/forwarded"), 4);
	json_object_foreach (w, key, v)
		assert_true(strncmp(key, "net", 3) != 0);
	json_decref(w);
	w = tel_ask(fd, "/pickupd/workers,7");
	assert_true(json_is_null(w));
	json_decref(w);
	/* parameters that are not a worker id or a section: null, and the
	 * connection goes on answering */
	static const char *const bad_params[] = { "/pickupd/workers,abc", "/pickupd/workers,1x",
						  "/pickupd/workers,-1", "/pickupd/stats,workers",
						  "/pickupd/stats,../calls" };
	for (i = 0; i < sizeof(bad_params) / sizeof(bad_params[0]); i++) {
		w = tel_ask(fd, bad_params[i]);
		if (!json_is_null(w))
			fail_msg("%s answered %s", bad_params[i], json_dumps(w, 0));
		json_decref(w);
	}
	/* a client that goes away without reading its answer (the daemon
	 * ignores SIGPIPE, main.c, as here) leaves the others served */
	signal(SIGPIPE, SIG_IGN);
	int gone = socket(AF_UNIX, SOCK_SEQPACKET, 0);
	assert_int_equal(connect(gone, (struct sockaddr *)&sun, sizeof(sun)), 0);
	close(gone);
	w = tel_ask(fd, "/pickupd/workers,0");
	assert_int_equal(tel_int(w, "counters/rx"), 10);
	json_decref(w);

	/* more than a reply holds (DPDK drops what does not fit without a
	 * word): whole arrays up to the limit, then "truncated" */
	big_workers = true;
	w = tel_ask(fd, "/pickupd/workers");
	big_workers = false;
	assert_int_equal(tel_int(w, "truncated"), 1);
	assert_int_equal(json_array_size(json_object_get(w, "id")), 40);
	assert_int_equal(json_array_size(json_object_get(w, "counters/counter_0")), 40);
	assert_int_equal(json_integer_value(json_array_get(json_object_get(w, "counters/counter_1"), 39)),
			 1000000001);
	assert_null(json_object_get(w, "counters/counter_109"));
	json_decref(w);

	json_t *s = tel_ask(fd, "/pickupd/status");
	assert_int_equal(tel_int(s, "pid"), getpid());
	assert_int_equal(tel_int(s, "workers"), 2);
	assert_int_equal(tel_int(s, "uptime_s"), 12);
	assert_true(json_is_string(json_object_get(s, "version")));
	json_decref(s);
	assert_int_equal(atomic_load(&snapshots), 16); /* one per command answered */

	/* detached (pickupd shutting down): null, the snapshot not called */
	assert_int_equal(pk_telemetry_register(NULL, NULL), 0);
	st = tel_ask(fd, "/pickupd/stats");
	assert_true(json_is_null(st));
	json_decref(st);
	assert_int_equal(atomic_load(&snapshots), 16);
	close(fd);

	char dir[PATH_MAX];
	snprintf(dir, sizeof(dir), "%s", rte_eal_get_runtime_dir());
	pk_telemetry_cleanup();
	struct stat sb;
	assert_int_not_equal(stat(path, &sb), 0); /* socket removed */
	assert_int_not_equal(stat(dir, &sb), 0);  /* and the directory */
	assert_null(pk_telemetry_socket_path());
}

int main(int argc, char **argv)
{
	if (argc > 1 && strcmp(argv[1], "telemetry") == 0) {
		/* its own run: the EAL can be initialised once per process */
		const struct CMUnitTest tel[] = { cmocka_unit_test(test_telemetry) };
		return cmocka_run_group_tests_name("telemetry", tel, NULL, NULL);
	}
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_prom_syntax_and_values),
		cmocka_unit_test(test_prom_label_escaping),
		cmocka_unit_test(test_prom_no_workers),
		cmocka_unit_test(test_prom_odd_input),
		cmocka_unit_test(test_prom_help_and_gauges),
		cmocka_unit_test(test_prom_long_names),
		cmocka_unit_test(test_prom_net),
		cmocka_unit_test(test_prom_ports),
		cmocka_unit_test(test_prom_io),
		cmocka_unit_test(test_prom_net_odd),
		cmocka_unit_test(test_http),
		cmocka_unit_test(test_http_bad_address),
		cmocka_unit_test(test_http_ipv6),
	};
	return cmocka_run_group_tests_name("metrics", tests, NULL, NULL);
}
