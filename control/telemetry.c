/* SPDX-License-Identifier: MIT */
/*
 * pickupd's stats as DPDK telemetry commands (include/pickup/metrics.h), so
 * DPDK's own client (usertools/dpdk-telemetry.py) and anything speaking
 * its socket protocol read them next to /ethdev/stats:
 *   /pickupd/stats[,section]  every section but workers and net, flattened
 *   /pickupd/workers[,id]     per-worker counters
 *   /pickupd/status           version, pid, uptime, workers
 * and, for the socket backend, a minimal EAL whose only job is to open the
 * telemetry socket (pk_telemetry_eal_init).
 *
 * rte_tel_data of DPDK 22.11 holds a flat dict (at most
 * RTE_TEL_MAX_DICT_ENTRIES) whose values are numbers, strings or arrays -
 * no dict inside a dict - and whose names may only hold [A-Za-z0-9_/]: so
 * nested keys are joined with '/' ("calls/counters/expired"), other
 * characters become '_'. docs/metrics.md lists the result.
 *
 * Threading: the command callbacks run on DPDK's telemetry thread (one per
 * client connection in 22.11). They call the snapshot function (which
 * must be thread-safe) under tel_lock, which also guards the
 * snapshot/arg pair against pk_telemetry_register replacing it.
 * pk_telemetry_eal_init/cleanup: main thread, once, before/after the other
 * threads.
 */
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <sched.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_telemetry.h>

#include "pickup/metrics.h"

#ifndef PK_VERSION
#define PK_VERSION "unknown"
#endif

/* Room for the longest flattened name (RTE_TEL_MAX_STRING_LEN with NUL). */
#define TEL_NAME_MAX RTE_TEL_MAX_STRING_LEN
/* What DPDK 22.11 sends of a reply (its MAX_OUTPUT_LEN, the greeting's
 * max_output_len): an entry past it is dropped without a word, so
 * /pickupd/workers stops before, with "truncated". */
#define TEL_REPLY_MAX (16 * 1024)

static pthread_mutex_t tel_lock = PTHREAD_MUTEX_INITIALIZER;
static json_t *(*tel_snapshot)(void *arg); /* under tel_lock */
static void *tel_arg;			   /* under tel_lock */
static bool tel_registered;		   /* under tel_lock */

/* pk_telemetry_eal_init succeeded: cleanup owes rte_eal_cleanup and the
 * runtime directory. Main thread only. */
static bool tel_eal_ours;
static char tel_rundir[PATH_MAX];
static char tel_sock[PATH_MAX + 64]; /* our socket, "" if not found */

static json_t *tel_take_snapshot(void)
{
	json_t *s = NULL;
	pthread_mutex_lock(&tel_lock);
	if (tel_snapshot != NULL)
		s = tel_snapshot(tel_arg);
	pthread_mutex_unlock(&tel_lock);
	if (s != NULL && !json_is_object(s)) {
		json_decref(s);
		s = NULL;
	}
	return s;
}

/* name + "/" + key, key's characters outside [A-Za-z0-9_/] as '_'. */
static void tel_join(char out[TEL_NAME_MAX], const char *prefix, const char *key)
{
	size_t n = 0;
	if (prefix != NULL && prefix[0] != '\0') {
		n = strlen(prefix);
		if (n > TEL_NAME_MAX - 2)
			n = TEL_NAME_MAX - 2;
		memcpy(out, prefix, n);
		out[n++] = '/';
	}
	for (const char *k = key; *k && n < TEL_NAME_MAX - 1; k++) {
		char c = *k;
		bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
			  c == '_' || c == '/';
		out[n++] = ok ? c : '_';
	}
	out[n] = '\0';
}

/* A JSON number/boolean as a telemetry u64 (negatives as 0, reals
 * truncated: 22.11 has no signed 64-bit or float values). false for other
 * types. */
static bool tel_u64(const json_t *v, uint64_t *out)
{
	if (json_is_integer(v)) {
		json_int_t i = json_integer_value(v);
		*out = i < 0 ? 0 : (uint64_t)i;
	} else if (json_is_real(v)) {
		double d = json_real_value(v);
		*out = d > 0 && d < 1.8e19 ? (uint64_t)d : 0;
	} else if (json_is_boolean(v)) {
		*out = json_is_true(v) ? 1 : 0;
	} else {
		return false;
	}
	return true;
}

/* Flat-dict writer: stops before the last slot so that "truncated" can
 * always be added when the stats outgrow RTE_TEL_MAX_DICT_ENTRIES. */
struct tel_dict {
	struct rte_tel_data *d;
	unsigned n;
	bool truncated;
};

static void tel_add(struct tel_dict *t, const char *name, const json_t *v)
{
	uint64_t u;
	if (t->truncated)
		return;
	if (t->n >= RTE_TEL_MAX_DICT_ENTRIES - 1) {
		t->truncated = true;
		return;
	}
	if (tel_u64(v, &u)) {
		if (rte_tel_data_add_dict_u64(t->d, name, u) >= 0)
			t->n++;
	} else if (json_is_string(v)) {
		if (rte_tel_data_add_dict_string(t->d, name, json_string_value(v)) >= 0)
			t->n++;
	}
}

/* Every leaf under v, named prefix/key/key... */
static void tel_flatten(struct tel_dict *t, const char *prefix, const json_t *v)
{
	if (!json_is_object(v)) {
		tel_add(t, prefix, v);
		return;
	}
	const char *key;
	const json_t *sub;
	json_object_foreach ((json_t *)v, key, sub) {
		char name[TEL_NAME_MAX];
		tel_join(name, prefix, key);
		tel_flatten(t, name, sub);
	}
}

static void tel_finish(struct tel_dict *t)
{
	if (t->truncated)
		rte_tel_data_add_dict_u64(t->d, "truncated", 1);
}

/* /pickupd/stats: every top-level member but workers, net and ports (their
 * own views: /pickupd/workers, /pickupd/stats,net, /pickupd/stats,ports;
 * with two ports or more, the
 * rest and net together, 54 counters a port, would outgrow a reply's
 * RTE_TEL_MAX_DICT_ENTRIES); with a
 * parameter, only that section ("calls", "net"). */
static int tel_cmd_stats(const char *cmd, const char *params, struct rte_tel_data *d)
{
	(void)cmd;
	json_t *s = tel_take_snapshot();
	if (s == NULL)
		return -ENODATA;
	int ret = 0;
	struct tel_dict t = { .d = d };
	rte_tel_data_start_dict(d);
	if (params != NULL && params[0] != '\0') {
		const json_t *sec = json_object_get(s, params);
		if (sec == NULL || strcmp(params, "workers") == 0) {
			ret = -EINVAL;
			goto out;
		}
		char name[TEL_NAME_MAX];
		tel_join(name, NULL, params);
		tel_flatten(&t, json_is_object(sec) ? NULL : name, sec);
	} else {
		const char *key;
		const json_t *v;
		json_object_foreach (s, key, v) {
			if (strcmp(key, "workers") == 0 || strcmp(key, "net") == 0 || strcmp(key, "ports") == 0)
				continue;
			char name[TEL_NAME_MAX];
			tel_join(name, NULL, key);
			tel_flatten(&t, name, v);
		}
	}
	tel_finish(&t);
out:
	json_decref(s);
	return ret;
}

/* A worker's "id", or its position when it has none. */
static uint64_t tel_worker_id(const json_t *w, size_t i)
{
	uint64_t id;
	return tel_u64(json_object_get(w, "id"), &id) ? id : i;
}

/* Value of the leaf at path "a/b" under w (our own flattened names, which
 * only differ from the keys where a key had a character outside
 * [A-Za-z0-9_/]: such a leaf reads as 0). */
static uint64_t tel_leaf(const json_t *w, const char *path)
{
	char buf[TEL_NAME_MAX];
	snprintf(buf, sizeof(buf), "%s", path);
	const json_t *v = w;
	char *save = NULL;
	for (char *tok = strtok_r(buf, "/", &save); tok != NULL; tok = strtok_r(NULL, "/", &save))
		v = json_object_get(v, tok);
	uint64_t u = 0;
	if (v == NULL || !tel_u64(v, &u))
		return 0;
	return u;
}

/* Collect the flattened leaf names of a worker object (its id aside). */
static void tel_names(json_t *names, const char *prefix, const json_t *v)
{
	const char *key;
	const json_t *sub;
	json_object_foreach ((json_t *)v, key, sub) {
		char name[TEL_NAME_MAX];
		if (prefix == NULL && (strcmp(key, "id") == 0 || strcmp(key, "net") == 0))
			continue; /* net: per port in /pickupd/stats,net (tel_cmd_workers) */
		tel_join(name, prefix, key);
		if (json_is_object(sub))
			tel_names(names, name, sub);
		else if (json_is_number(sub) || json_is_boolean(sub))
			json_array_append_new(names, json_string(name));
	}
}

/*
 * /pickupd/workers: {"id": [0, 1], "counters/rx": [n0, n1], ...}, one
 * array per counter, in the order of "id".
 * /pickupd/workers,<id>: that worker's counters as a flat dict.
 * A worker's share of the dpdk network layer (its "net", per port) is
 * left out of both: the ports' counters are /pickupd/stats,net, and with
 * several ports a worker's would outgrow a reply.
 */
static int tel_cmd_workers(const char *cmd, const char *params, struct rte_tel_data *d)
{
	(void)cmd;
	json_t *s = tel_take_snapshot();
	if (s == NULL)
		return -ENODATA;
	const json_t *workers = json_object_get(s, "workers");
	int ret = 0;
	json_t *names = NULL;
	size_t i;
	const json_t *w;

	rte_tel_data_start_dict(d);
	if (!json_is_array(workers)) {
		ret = -ENODATA;
		goto out;
	}
	if (params != NULL && params[0] != '\0') {
		char *end;
		errno = 0;
		unsigned long want = strtoul(params, &end, 10);
		if (errno != 0 || *end != '\0' || end == params) {
			ret = -EINVAL;
			goto out;
		}
		json_array_foreach (workers, i, w) {
			uint64_t id = tel_worker_id(w, i);
			if (id != want)
				continue;
			struct tel_dict t = { .d = d };
			rte_tel_data_add_dict_u64(d, "id", id);
			t.n = 1;
			const char *key;
			const json_t *v;
			json_object_foreach ((json_t *)w, key, v) {
				char name[TEL_NAME_MAX];
				if (strcmp(key, "id") == 0 || strcmp(key, "net") == 0)
					continue;
				tel_join(name, NULL, key);
				tel_flatten(&t, name, v);
			}
			tel_finish(&t);
			goto out;
		}
		ret = -ENOENT;
		goto out;
	}

	/* the first worker names the counters (every worker has the same) */
	names = json_array();
	if (names == NULL) {
		ret = -ENOMEM;
		goto out;
	}
	if (json_array_size(workers) > 0)
		tel_names(names, NULL, json_array_get(workers, 0));
	size_t nw = json_array_size(workers);
	if (nw > RTE_TEL_MAX_ARRAY_ENTRIES)
		nw = RTE_TEL_MAX_ARRAY_ENTRIES;

	struct rte_tel_data *ids = rte_tel_data_alloc();
	if (ids == NULL) {
		ret = -ENOMEM;
		goto out;
	}
	rte_tel_data_start_array(ids, RTE_TEL_U64_VAL);
	for (i = 0; i < nw; i++) {
		rte_tel_data_add_array_u64(ids, tel_worker_id(json_array_get(workers, i), i));
	}
	rte_tel_data_add_dict_container(d, "id", ids, 0);

	size_t nn = json_array_size(names);
	/* the reply's length as DPDK writes it, {"/pickupd/workers":{"id":[..],
	 * "name":[v,...],...}}: a name's entry is its length, the quotes,
	 * colon, brackets and comma, and each value's digits and comma; room
	 * is kept for the "truncated":1 entry */
	size_t len = strlen(cmd) + 64 + nw * 21;
	for (size_t k = 0; k < nn; k++) {
		const char *name = json_string_value(json_array_get(names, k));
		size_t el = strlen(name) + 6;
		for (i = 0; i < nw; i++) {
			char v[24];
			el += (size_t)snprintf(v, sizeof(v), "%" PRIu64, tel_leaf(json_array_get(workers, i), name)) + 1;
		}
		if (k + 2 >= RTE_TEL_MAX_DICT_ENTRIES || len + el > TEL_REPLY_MAX - 32) {
			rte_tel_data_add_dict_u64(d, "truncated", 1);
			break;
		}
		len += el;
		struct rte_tel_data *arr = rte_tel_data_alloc();
		if (arr == NULL) {
			ret = -ENOMEM;
			goto out;
		}
		rte_tel_data_start_array(arr, RTE_TEL_U64_VAL);
		for (i = 0; i < nw; i++)
			rte_tel_data_add_array_u64(arr, tel_leaf(json_array_get(workers, i), name));
		if (rte_tel_data_add_dict_container(d, name, arr, 0) != 0)
			rte_tel_data_free(arr);
	}
out:
	json_decref(names);
	json_decref(s);
	return ret;
}

/* /pickupd/status: {"version", "pid", "uptime_s", "workers"}. */
static int tel_cmd_status(const char *cmd, const char *params, struct rte_tel_data *d)
{
	(void)cmd;
	(void)params;
	json_t *s = tel_take_snapshot();
	if (s == NULL)
		return -ENODATA;
	uint64_t up = 0;
	tel_u64(json_object_get(s, "uptime_s"), &up);
	rte_tel_data_start_dict(d);
	rte_tel_data_add_dict_string(d, "version", PK_VERSION);
	rte_tel_data_add_dict_u64(d, "pid", (uint64_t)getpid());
	rte_tel_data_add_dict_u64(d, "uptime_s", up);
	rte_tel_data_add_dict_u64(d, "workers", json_array_size(json_object_get(s, "workers")));
	json_decref(s);
	return 0;
}

int pk_telemetry_register(json_t *(*snapshot)(void *arg), void *arg)
{
	static const struct {
		const char *cmd;
		telemetry_cb fn;
		const char *help;
	} cmds[] = {
		{ "/pickupd/stats", tel_cmd_stats,
		  "pickupd stats, flattened with '/' (all but workers and net). Parameters: int section name" },
		{ "/pickupd/workers", tel_cmd_workers,
		  "pickupd per-worker counters: one array per counter, or one worker's. Parameters: int worker id" },
		{ "/pickupd/status", tel_cmd_status, "pickupd version, pid, uptime and worker count" },
	};
	int ret = 0;
	pthread_mutex_lock(&tel_lock);
	tel_snapshot = snapshot;
	tel_arg = arg;
	/* NULL detaches: once we hold the lock no callback is using the old
	 * arg, and later requests answer null */
	if (snapshot != NULL && !tel_registered) {
		for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++) {
			ret = rte_telemetry_register_cmd(cmds[i].cmd, cmds[i].fn, cmds[i].help);
			if (ret != 0)
				break;
		}
		/* a failure part-way is not retried: DPDK cannot unregister */
		tel_registered = true;
	}
	pthread_mutex_unlock(&tel_lock);
	return ret < 0 ? ret : 0;
}

static void tel_err(char *err, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void tel_err(char *err, size_t errlen, const char *fmt, ...)
{
	if (err == NULL || errlen == 0)
		return;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

static bool tel_prefix_ok(const char *p)
{
	size_t n = strlen(p);
	if (n == 0 || n > 64)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = p[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
		      c == '-' || c == '.'))
			return false;
	}
	return p[0] != '.';
}

/*
 * Which dpdk_telemetry.v2* in the runtime directory is ours: DPDK 22.11.x
 * names a second process's socket of the same prefix "dpdk_telemetry.v2:1"
 * and so on, and does not say which one it took. Each answers a new
 * connection with {"version", "pid", "max_output_len"}: ours has our pid.
 */
static void tel_find_socket(void)
{
	DIR *d = opendir(tel_rundir);
	struct dirent *e;
	tel_sock[0] = '\0';
	if (d == NULL)
		return;
	while (tel_sock[0] == '\0' && (e = readdir(d)) != NULL) {
		struct sockaddr_un sun = { .sun_family = AF_UNIX };
		if (strncmp(e->d_name, "dpdk_telemetry.v2", strlen("dpdk_telemetry.v2")) != 0)
			continue;
		int n = snprintf(sun.sun_path, sizeof(sun.sun_path), "%s/%s", tel_rundir, e->d_name);
		if (n < 0 || (size_t)n >= sizeof(sun.sun_path))
			continue;
		int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
		if (fd < 0)
			break;
		struct timeval tv = { .tv_sec = 1 };
		setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
		char buf[1024];
		ssize_t len = -1;
		if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == 0)
			len = recv(fd, buf, sizeof(buf) - 1, 0);
		close(fd);
		if (len <= 0)
			continue;
		buf[len] = '\0';
		json_t *info = json_loads(buf, 0, NULL);
		if (json_integer_value(json_object_get(info, "pid")) == (json_int_t)getpid())
			snprintf(tel_sock, sizeof(tel_sock), "%s", sun.sun_path);
		json_decref(info);
	}
	closedir(d);
}

const char *pk_telemetry_socket_path(void)
{
	/* An EAL started by someone else (the dpdk backend): look once. */
	if (tel_sock[0] == '\0' && tel_rundir[0] == '\0' && rte_eal_get_runtime_dir() != NULL &&
	    rte_eal_get_runtime_dir()[0] != '\0') {
		snprintf(tel_rundir, sizeof(tel_rundir), "%s", rte_eal_get_runtime_dir());
		tel_find_socket();
	}
	return tel_sock[0] != '\0' ? tel_sock : NULL;
}

int pk_telemetry_eal_init(const char *file_prefix, char *err, size_t errlen)
{
	cpu_set_t saved;
	pthread_t self = pthread_self();
	int e;

	if (file_prefix == NULL || !tel_prefix_ok(file_prefix)) {
		tel_err(err, errlen, "telemetry: bad file prefix '%s' (letters, digits, '_', '-', '.')",
			file_prefix ? file_prefix : "");
		return -EINVAL;
	}
	e = pthread_getaffinity_np(self, sizeof(saved), &saved);
	if (e != 0) {
		tel_err(err, errlen, "telemetry: reading CPU affinity: %s", strerror(e));
		return -e;
	}
	/* the main lcore on the first CPU we may run on (the EAL refuses a
	 * core outside our mask) */
	int cpu = 0;
	while (cpu < CPU_SETSIZE && !CPU_ISSET(cpu, &saved))
		cpu++;

	/*
	 * --no-huge: plain anonymous memory (-m MB of it, reserved, barely
	 * touched). --no-shconf: no config/fbarray files and no multi-process
	 * socket - the runtime directory only holds dpdk_telemetry.v2.
	 * (--in-memory would be the same but is refused with --no-huge in
	 * 22.11: "--legacy-mem is not compatible with --in-memory".)
	 * --no-pci: no device probing. --log-level=error: no start-up chatter.
	 */
	char a_prefix[96], a_lcore[16];
	snprintf(a_prefix, sizeof(a_prefix), "--file-prefix=%s", file_prefix);
	snprintf(a_lcore, sizeof(a_lcore), "%d", cpu);
	char *argv[] = {
		(char *)"pickupd", (char *)"--no-huge", (char *)"-m", (char *)"8", (char *)"--no-pci",
		(char *)"--no-shconf", (char *)"--log-level=error", a_prefix, (char *)"-l", a_lcore, NULL,
	};
	int argc = (int)(sizeof(argv) / sizeof(argv[0])) - 1;
	/* the EAL parses with getopt: keep the caller's getopt state */
	int save_optind = optind, save_opterr = opterr;
	int ret = rte_eal_init(argc, argv);
	optind = save_optind;
	opterr = save_opterr;

	e = pthread_setaffinity_np(self, sizeof(saved), &saved);
	if (ret < 0) {
		int re = rte_errno;
		tel_err(err, errlen, "telemetry: EAL initialisation failed: %s", rte_strerror(re));
		return re > 0 ? -re : -EINVAL;
	}
	tel_eal_ours = true;
	snprintf(tel_rundir, sizeof(tel_rundir), "%s", rte_eal_get_runtime_dir());
	tel_find_socket();
	if (e != 0) {
		tel_err(err, errlen, "telemetry: restoring CPU affinity: %s", strerror(e));
		return -e;
	}
	return 0;
}

void pk_telemetry_cleanup(void)
{
	if (!tel_eal_ours)
		return;
	rte_eal_cleanup();
	tel_eal_ours = false;
	/* DPDK 22.11 unlinks the telemetry socket only from an atexit
	 * handler, and never removes its runtime directory: tidy both now
	 * (the atexit unlink then finds nothing; rmdir leaves a directory
	 * another process of the same prefix still uses). The listener
	 * thread stays blocked in accept() on the unlinked socket until
	 * exit. */
	if (tel_sock[0] != '\0')
		unlink(tel_sock);
	tel_sock[0] = '\0';
	if (tel_rundir[0] != '\0')
		rmdir(tel_rundir);
}
