/* SPDX-License-Identifier: MIT */
/*
 * The worker loop (one thread per I/O queue) and the first handlers.
 *
 * A loop iteration takes a burst of up to 32 messages from the queue and
 * handles it in two stages (pk_worker_process): first it charges each
 * message to its source's rate limit and scans it into its own slot, then,
 * in arrival order, it takes each one on (libosip2 only for the rare syntax
 * the scanner declined, counted as slow_path), hands accepted messages to
 * the handler table by method, answers rejected requests with the parser's
 * status, and flushes everything the handlers queued in one transmit
 * burst. Then it reports an RCU quiescent state. When several bursts in a
 * row come back empty it goes RCU-offline and sleeps in pk_io_wait, which
 * the socket backend implements with epoll: an idle pickupd uses no CPU.
 *
 * Rejections carry the parser's reason in a `Warning: 399 pickupd "..."`
 * header and keep the standard reason phrase: phones and test tools match
 * on the phrase, and RFC 3261 §20.43 makes Warning the place for text meant
 * for humans and logs.
 *
 * Nothing here allocates, locks, logs or makes a syscall per message: the
 * answers are written into the queue's preallocated transmit buffers, the
 * counters are plain fields of the worker's own cache-aligned struct.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "pickup/calltab.h"
#include "pickup/location.h"
#include "pickup/log.h"
#include "pickup/rcu.h"
#include "pickup/sip_rewrite.h"
#include "worker.h"

/* Empty bursts in a row before the worker sleeps, and for how long at most
 * (the socket backend also wakes on traffic and on pk_io_wake; the timeout
 * only paces the TCP idle checks). */
#define PK_WORKER_IDLE_SPINS 8
#define PK_WORKER_WAIT_MS 100
/* Messages prefetched ahead of the one being parsed. */
#define PK_WORKER_PREFETCH 2

static const char *const pk_worker_ctr_names[] = {
#define PK_WORKER_CTR_NAME(id, name) name,
	PK_WORKER_FOREACH_COUNTER(PK_WORKER_CTR_NAME)
#undef PK_WORKER_CTR_NAME
};

static const unsigned pk_worker_rej_codes[] = {
#define PK_WORKER_REJ_CODE(code) code,
	PK_WORKER_FOREACH_REJECT(PK_WORKER_REJ_CODE)
#undef PK_WORKER_REJ_CODE
};

unsigned pk_worker_reject_status(enum pk_worker_reject r)
{
	return (unsigned)r < PK_WORKER_REJ_OTHER ? pk_worker_rej_codes[r] : 0;
}

const char *pk_worker_counter_name(enum pk_worker_counter c)
{
	return (unsigned)c < PK_WORKER_CTR_COUNT ? pk_worker_ctr_names[c] : "?";
}

static enum pk_worker_reject pk_worker_reject_index(unsigned status)
{
	switch (status) {
#define PK_WORKER_REJ_CASE(code) \
	case code:               \
		return PK_WORKER_REJ_##code;
		PK_WORKER_FOREACH_REJECT(PK_WORKER_REJ_CASE)
#undef PK_WORKER_REJ_CASE
	default:
		return PK_WORKER_REJ_OTHER;
	}
}

/* ---- answers ---- */

/* One header line into the To-tag hash (pk_hash_keyed, common.h, keyed
 * from the engine's secret): a tag is only ever compared with tags this
 * process made (retransmissions of the same request). Inlined: gcc kept
 * three calls of it, which cost more than the hash of a short line. */
static inline __attribute__((always_inline)) uint64_t pk_hash_line(uint64_t k, uint64_t h, const struct pk_sip_msg *m, enum pk_sip_hdr_id id)
{
	uint8_t i = m->first[id];

	if (i == 0xff)
		return pk_mix64(h ^ id);
	return pk_hash_keyed(k, h, m->buf + m->hdrs[i].voff, m->hdrs[i].vlen);
}

/*
 * Our To-tag for an answer: a keyed hash of the request's Call-ID, From
 * and top Via lines, so a retransmitted request gets the same tag
 * (RFC 3261 §8.2.6.2) without any state. 16 hex digits.
 */
static struct pk_str pk_worker_to_tag(const struct pk_worker *w, const struct pk_sip_msg *m, char *buf)
{
	uint64_t k = pk_mix64(w->eng->tag_secret) | 1, h = w->eng->tag_secret;

	h = pk_hash_line(k, h, m, PK_HDR_CALL_ID);
	h = pk_hash_line(k, h, m, PK_HDR_FROM);
	h = pk_hash_line(k, h, m, PK_HDR_VIA);
	pk_put_hex16(buf, pk_mix64(h));
	return pk_str_make(buf, 16);
}

/* Where a response to rx goes over UDP (RFC 3261 §18.2.2, RFC 3581). */
static void pk_worker_reply_dst(const struct pk_io_msg *rx, const struct pk_sip_msg *m, struct pk_addr *dst)
{
	*dst = rx->src;
	if (rx->transport != PK_TRANSPORT_UDP || m->nvia == 0 || m->via[0].rport >= 0)
		return; /* connection, or rport: the source port */
	dst->port = m->via[0].port ? m->via[0].port : 5060;
}

int pk_worker_reply(struct pk_worker *w, const struct pk_io_msg *rx, const struct pk_sip_msg *msg,
		    unsigned status, const char *reason, struct pk_str extra)
{
	struct pk_io_msg *tx = pk_io_tx_alloc(w->q);
	char tag[16];
	/* A 100 gets no To-tag (RFC 3261 §8.2.6.2: the builder ignores it):
	 * the hash is not made for every INVITE's 100 Trying. */
	struct pk_str to_tag = status > 100 ? pk_worker_to_tag(w, msg, tag) : PK_STR_NULL;
	long len;

	len = pk_sip_response_build(msg, status, reason, to_tag, extra, tx->data, tx->cap);
	if (unlikely(len == -ENOSPC) && tx->cap < PK_IO_MSG_MAX && (tx = pk_io_tx_grow(w->q)) != NULL)
		len = pk_sip_response_build(msg, status, reason, to_tag, extra, tx->data,
					    tx->cap); /* larger than a frame */
	if (len < 0) {
		pk_ctr_inc(&w->ctr[PK_WORKER_CTR_DROP_BUILD]);
		return (int)len;
	}
	tx->len = (uint32_t)len;
	tx->transport = rx->transport;
	tx->listener = rx->listener;
	tx->conn = rx->conn;
	tx->src = rx->dst;
	pk_worker_reply_dst(rx, msg, &tx->dst);
	pk_io_tx_commit(w->q);
	pk_ctr_inc(&w->ctr[PK_WORKER_CTR_TX]);
	return 0;
}

/* "Warning: 399 pickupd "text"\r\n" with text made safe for a quoted
 * string. Returns the length. */
static size_t pk_worker_warning(char *out, size_t cap, const char *text)
{
	static const char head[] = "Warning: 399 pickupd \"";
	size_t n = sizeof(head) - 1;

	if (cap < n + 4)
		return 0;
	memcpy(out, head, n);
	for (const char *p = text; *p != '\0' && n + 4 < cap; p++) {
		unsigned char c = (unsigned char)*p;

		out[n++] = (c == '"' || c == '\\') ? '\'' : (c < 0x20 || c == 0x7f) ? ' ' : (char)c;
	}
	memcpy(out + n, "\"\r\n", 3);
	return n + 3;
}

static void pk_worker_reject(struct pk_worker *w, const struct pk_io_msg *rx, struct pk_sip_msg *m)
{
	char extra[192];
	size_t n;

	if (!m->is_request || m->first[PK_HDR_VIA] == 0xff) {
		pk_ctr_inc(&w->ctr[PK_WORKER_CTR_DROP_UNANSWERABLE]);
		return;
	}
	if (m->method == PK_SIP_ACK) {
		pk_ctr_inc(&w->ctr[PK_WORKER_CTR_DROP_ACK]);
		return;
	}
	n = pk_worker_warning(extra, sizeof(extra), m->why);
	if (pk_worker_reply(w, rx, m, m->status, NULL, pk_str_make(extra, n)) == 0) {
		pk_ctr_inc(&w->ctr[PK_WORKER_CTR_REJECTED]);
		pk_ctr_inc(&w->rejects[pk_worker_reject_index(m->status)]);
	}
}

/* ---- the default handlers ---- */

bool pk_worker_uri_is_local(const struct pk_worker *w, const struct pk_io_msg *rx, struct pk_str uri)
{
	const struct pk_engine *eng = w->eng;
	struct pk_sip_uri u;
	struct pk_addr a;

	if (pk_sip_uri_parse(uri.p, uri.len, &u) != 0 || (u.scheme != PK_URI_SIP && u.scheme != PK_URI_SIPS) ||
	    u.user.len != 0)
		return false;
	if (u.host_type == PK_HOST_NAME)
		return pk_groups_settings_find_domain(&eng->conf->served, u.host) >= 0;
	if (pk_addr_parse_ip(u.host, &a) != 0)
		return false;
	if (pk_addr_ip_eq(&a, &rx->dst))
		return true;
	for (unsigned i = 0; i < eng->n_listeners; i++)
		if (pk_addr_ip_eq(&a, &eng->listeners[i].addr))
			return true;
	return false;
}

bool pk_worker_trusted(const struct pk_worker *w, const struct pk_addr *a, uint32_t *n)
{
	/* acquire: pairs with the control thread's release store of a new
	 * set (`set trusted`); valid until our next quiescent state. NULL
	 * until main publishes one (unit tests). */
	const struct pk_trusted_set *t = atomic_load_explicit(&w->eng->trusted, memory_order_acquire);

	if (t != NULL) {
		*n = t->n;
		return pk_trusted_set_match(t, a);
	}
	*n = w->eng->conf->n_trusted;
	return pk_engine_conf_trusted(w->eng->conf, a);
}

void pk_worker_handle_options(struct pk_worker *w, const struct pk_io_msg *rx, struct pk_sip_msg *msg)
{
	const struct pk_engine *eng = w->eng;
	char extra[256];
	int n;

	/* Ours when it names pickupd; RFC 3261 §16.3 item 3 also lets a proxy
	 * answer an OPTIONS whose Max-Forwards ran out. */
	if (msg->max_forwards != 0 && !pk_worker_uri_is_local(w, rx, msg->ruri)) {
		pk_worker_handle_not_implemented(w, rx, msg);
		return;
	}
	if (pk_sip_check_request(msg, PK_ROLE_UAS, PK_SIP_OPT_BIT(REPLACES)) != PK_SIP_OK) {
		size_t len = 0;

		if (msg->status == 420) {
			memcpy(extra, "Unsupported: ", 13);
			n = pk_sip_unsupported_list(msg, PK_ROLE_UAS, PK_SIP_OPT_BIT(REPLACES), extra + 13,
						    sizeof(extra) - 15);
			if (n > 0) {
				len = 13 + (size_t)n;
				memcpy(extra + len, "\r\n", 2);
				len += 2;
			}
		}
		len += pk_worker_warning(extra + len, sizeof(extra) - len, msg->why);
		if (pk_worker_reply(w, rx, msg, msg->status, NULL, pk_str_make(extra, len)) == 0)
			pk_ctr_inc(&w->ctr[PK_WORKER_CTR_ANSWERED_CHECK]);
		return;
	}
	if (pk_worker_reply(w, rx, msg, 200, NULL, pk_str_make(eng->options_hdrs, eng->options_hdrs_len)) == 0)
		pk_ctr_inc(&w->ctr[PK_WORKER_CTR_ANSWERED_OPTIONS]);
}

void pk_worker_handle_not_implemented(struct pk_worker *w, const struct pk_io_msg *rx,
				      struct pk_sip_msg *msg)
{
	static const char warn[] = "Warning: 399 pickupd \"routing requests is not implemented yet\"\r\n";

	if (pk_worker_reply(w, rx, msg, 501, NULL, PK_STR_LIT(warn)) == 0)
		pk_ctr_inc(&w->ctr[PK_WORKER_CTR_ANSWERED_NOT_IMPL]);
}

void pk_worker_handle_drop_ack(struct pk_worker *w, const struct pk_io_msg *rx, struct pk_sip_msg *msg)
{
	(void)rx, (void)msg;
	pk_ctr_inc(&w->ctr[PK_WORKER_CTR_DROP_ACK]);
}

void pk_worker_handle_drop_response(struct pk_worker *w, const struct pk_io_msg *rx,
				    struct pk_sip_msg *msg)
{
	(void)rx, (void)msg;
	pk_ctr_inc(&w->ctr[PK_WORKER_CTR_DROP_RESPONSE]);
}

void pk_worker_handlers_init(struct pk_worker_handlers *h)
{
	for (unsigned i = 0; i < PK_SIP_METHOD_COUNT; i++)
		h->request[i] = pk_worker_handle_not_implemented;
	h->request[PK_SIP_OPTIONS] = pk_worker_handle_options;
	h->request[PK_SIP_ACK] = pk_worker_handle_drop_ack;
	h->response = pk_worker_handle_drop_response;
}

void pk_engine_housekeep(struct pk_engine *eng, unsigned tid, uint64_t wait_ns)
{
	pk_rcu_reader_online(eng->rcu, tid);
	pk_calltab_sweep(eng->calltab, tid, pk_clock_ns(), PK_ENGINE_SWEEP_BUDGET);
	pk_location_sweep(eng->location, tid, pk_clock_ns(), PK_ENGINE_SWEEP_BUDGET);
	pk_rcu_quiescent(eng->rcu, tid);
	pk_rcu_reader_offline(eng->rcu, tid);
	pk_rcu_reclaim_for(eng->rcu, wait_ns);
}

void pk_engine_prepare(struct pk_engine *eng)
{
	const struct pk_worker_handlers *h = &eng->handlers;
	char *o = eng->options_hdrs;
	size_t cap = sizeof(eng->options_hdrs), n;
	bool first = true;

	/* Allow: the methods that have a handler of their own. ACK goes with
	 * INVITE (it is never answered, so its handler says nothing). */
	n = (size_t)snprintf(o, cap, "Allow: ");
	for (unsigned m = 1; m < PK_SIP_METHOD_COUNT; m++) {
		if (h->request[m] == pk_worker_handle_not_implemented)
			continue;
		if (m == PK_SIP_ACK && h->request[PK_SIP_INVITE] == pk_worker_handle_not_implemented)
			continue;
		n += (size_t)snprintf(o + n, cap - n, "%s%s", first ? "" : ", ",
				      pk_sip_method_name((enum pk_sip_method)m));
		first = false;
	}
	n += (size_t)snprintf(o + n, cap - n, "\r\nAccept: application/sdp\r\nSupported: replaces\r\n");
	eng->options_hdrs_len = (uint32_t)(n < cap ? n : cap - 1);
	atomic_store_explicit(&eng->rate_limit, eng->conf != NULL ? eng->conf->limits.requests_per_second : 0,
			      memory_order_relaxed);
}

/* ---- the loop ---- */

/*
 * A burst is handled in two stages: every message is scanned into its own
 * slot (w->msg[i]), then every message is handled, in arrival order. The
 * worker's hot code is larger than the instruction cache (85 KiB of code
 * lines executed on the benchmark's mix, docs/dpdk.md): one message at a
 * time, the scanner's code and the handlers' code evict each other and
 * every message fetches the scanner again; stage by stage, the scanner's
 * code is fetched once a burst. The rate limiter decides in the first
 * stage (a dropped flood message costs no scan) and its 503s go out in the
 * second, in their turn.
 */
#define PK_VERDICT_LIMIT_REPLY 0xfe /* verdict[i]: answer 503 (rate limit) */
#define PK_VERDICT_LIMIT_DROP 0xff  /* verdict[i]: dropped (rate limit) */
_Static_assert(PK_SIP_SLOW < PK_VERDICT_LIMIT_REPLY, "scan verdicts fit below the rate limiter's");

static inline uint8_t pk_worker_scan_one(struct pk_worker *w, const struct pk_io_msg *rx, struct pk_sip_msg *m,
					 bool rl_on)
{
	if (rl_on) {
		enum pk_rl_verdict r = pk_ratelimit_worker(w, rx);
		if (r != PK_RL_PASS)
			return r == PK_RL_REPLY ? PK_VERDICT_LIMIT_REPLY : PK_VERDICT_LIMIT_DROP;
	}
	return (uint8_t)pk_sip_scan(rx->data, rx->len, m);
}

/* An accepted message to its handler. */
static inline void pk_worker_dispatch(struct pk_worker *w, const struct pk_io_msg *rx, struct pk_sip_msg *m)
{
	const struct pk_worker_handlers *h = &w->eng->handlers;

	if (m->is_request) {
		pk_ctr_inc(&w->ctr[PK_WORKER_CTR_REQUESTS]);
		h->request[(unsigned)m->method < PK_SIP_METHOD_COUNT ? m->method : 0](w, rx, m);
	} else {
		pk_ctr_inc(&w->ctr[PK_WORKER_CTR_RESPONSES]);
		h->response(w, rx, m);
	}
}

/*
 * The table loads a message's handler will wait on, started as soon as the
 * message is scanned: the home bucket of its call in the ringing-call
 * table, and for a new INVITE or a CANCEL its ways in the recently-picked
 * memory. Both are hashed reads that usually miss the first-level cache,
 * which the handler would otherwise wait for with nothing else to do (an
 * INVITE's pk_pickup_recent took ~200 cycles). Issued here, they overlap
 * with scanning the rest of the burst: about 2 % fewer cycles in
 * pk_worker_process on the benchmark's mix, for 1 % more instructions
 * (docs/dpdk.md, "2026-11-28 (session 9)"). Hints only: no answer depends
 * on them. The messages that look their call up by this key: an INVITE or
 * CANCEL outside a dialog, and a response to an INVITE (a 180 sets its
 * call ringing, a final answer removes it). The key's hash stays in
 * m->call_key_hash: their handlers use it instead of hashing again.
 */
static inline void pk_worker_prefetch(const struct pk_worker *w, struct pk_sip_msg *m)
{
	const struct pk_engine *eng = w->eng;
	uint64_t h;

	if (eng->calltab == NULL)
		return;
	if (m->is_request) {
		if ((m->method != PK_SIP_INVITE && m->method != PK_SIP_CANCEL) || m->to.tag.len != 0)
			return;
	} else if (m->cseq_method != PK_SIP_INVITE) {
		return;
	}
	h = pk_calltab_key_hash(m->call_id, m->from.tag);
	m->call_key_hash = h; /* the handlers' (pk_pickup_*) */
	pk_calltab_prefetch(eng->calltab, h);
	if (m->is_request && eng->pickup != NULL)
		pk_pickup_prefetch(eng->pickup, h);
}

static inline void pk_worker_handle_one(struct pk_worker *w, const struct pk_io_msg *rx, struct pk_sip_msg *m,
					uint8_t verdict)
{
	enum pk_sip_verdict v;

	/* nearly every message: no test of the rate limiter's verdicts or
	 * of the slow path first */
	if (likely(verdict == PK_SIP_OK)) {
		pk_worker_dispatch(w, rx, m);
		return;
	}
	if (unlikely(verdict >= PK_VERDICT_LIMIT_REPLY)) {
		if (verdict == PK_VERDICT_LIMIT_REPLY)
			pk_ratelimit_reply(w, rx, m);
		return;
	}
	v = (enum pk_sip_verdict)verdict;
	if (unlikely(v == PK_SIP_SLOW)) {
		/* rare syntax: libosip2, into the one scratch buffer (the
		 * message is handled before the next one comes here) */
		pk_ctr_inc(&w->ctr[PK_WORKER_CTR_SLOW_PATH]);
		v = pk_sip_scan_slow(rx->data, rx->len, w->slow_scratch, sizeof(w->slow_scratch), m);
	}
	switch (v) {
	case PK_SIP_OK: /* after the slow path */
		pk_worker_dispatch(w, rx, m);
		break;
	case PK_SIP_REJECT:
		pk_worker_reject(w, rx, m);
		break;
	default:
		pk_ctr_inc(&w->ctr[PK_WORKER_CTR_DROP_PARSE]);
		break;
	}
}

void pk_worker_process(struct pk_worker *w, struct pk_io_msg **msgs, unsigned n)
{
	uint32_t rate = atomic_load_explicit(&w->eng->rate_limit, memory_order_relaxed);

	if (unlikely(rate != w->rl.rate))
		pk_ratelimit_set_rate(&w->rl, rate); /* `set rate_limit` */
	for (unsigned b = 0; b < n; b += PK_IO_BURST) {
		struct pk_io_msg **bm = msgs + b;
		unsigned k = n - b < PK_IO_BURST ? n - b : PK_IO_BURST;
		uint8_t verdict[PK_IO_BURST]; /* the scan's, or the rate limiter's */
		/* Read once a burst (the scanner's stores into w->msg would
		 * make the compiler read it again for every message): only
		 * pk_ratelimit_set_rate, above, changes it. */
		bool rl_on = w->rl.on;

		/* The burst's messages counted at once: the first stage reads
		 * no counter, and every one is counted before any handler runs,
		 * as when each was counted in turn. */
		pk_ctr_add(&w->ctr[PK_WORKER_CTR_RX], k);
		for (unsigned i = 0; i < k && i < PK_WORKER_PREFETCH; i++)
			__builtin_prefetch(bm[i]->data);
		for (unsigned i = 0; i < k; i++) {
			if (i + PK_WORKER_PREFETCH < k)
				__builtin_prefetch(bm[i + PK_WORKER_PREFETCH]->data);
			verdict[i] = pk_worker_scan_one(w, bm[i], &w->msg[i], rl_on);
			if (likely(verdict[i] == PK_SIP_OK))
				pk_worker_prefetch(w, &w->msg[i]);
		}
		for (unsigned i = 0; i < k; i++)
			pk_worker_handle_one(w, bm[i], &w->msg[i], verdict[i]);
	}
	pk_io_tx_flush(w->q);
}

static void *pk_worker_main(void *arg)
{
	struct pk_worker *w = arg;
	struct pk_engine *eng = w->eng;
	struct pk_io_msg *msgs[PK_IO_BURST];
	unsigned idle = 0;

	if (pk_rcu_reader_register(eng->rcu, w->id) != 0) {
		pk_log(PK_LOG_ERROR, "worker %u: cannot register with RCU", w->id);
		return NULL;
	}
	pk_log(PK_LOG_DEBUG, "worker %u: running", w->id);
	/* acquire: pairs with the release store of stop in main */
	while (!atomic_load_explicit(&eng->stop, memory_order_acquire)) {
		unsigned n;

		w->now_ns = pk_clock_ns();
		n = pk_io_rx_burst(w->q, msgs, PK_IO_BURST, w->now_ns);
		if (n > 0) {
			idle = 0;
			pk_worker_process(w, msgs, n);
		} else if (++idle >= PK_WORKER_IDLE_SPINS) {
			idle = 0;
			pk_rcu_reader_offline(eng->rcu, w->id);
			pk_io_wait(w->q, PK_WORKER_WAIT_MS);
			pk_rcu_reader_online(eng->rcu, w->id);
		}
		pk_rcu_quiescent(eng->rcu, w->id);
	}
	pk_rcu_reader_unregister(eng->rcu, w->id);
	pk_log(PK_LOG_DEBUG, "worker %u: stopped", w->id);
	return NULL;
}

int pk_worker_lcore_main(void *arg)
{
	pk_worker_main(arg);
	return 0;
}

struct pk_worker *pk_worker_create(struct pk_engine *eng, unsigned id)
{
	size_t sz = (sizeof(struct pk_worker) + 63) & ~(size_t)63;
	struct pk_worker *w = pk_io_local_alloc(eng->io, id, sz);

	if (w != NULL) {
		w->mem_io = eng->io;
	} else {
		w = aligned_alloc(64, sz);
		if (w == NULL)
			return NULL;
		memset(w, 0, sz); /* touched now: no page fault on the packet path */
	}
	w->id = id;
	w->eng = eng;
	w->q = pk_io_queue_get(eng->io, id);
	if (eng->conf != NULL)
		pk_ratelimit_init(&w->rl, &eng->conf->limits, pk_mix64(eng->tag_secret + id));
	return w;
}

void pk_worker_destroy(struct pk_worker *w)
{
	if (w != NULL && w->mem_io != NULL)
		pk_io_local_free(w->mem_io, w);
	else
		free(w);
}

int pk_worker_start(struct pk_worker *w)
{
	char name[16];
	int rc = pthread_create(&w->thread, NULL, pk_worker_main, w);

	if (rc == 0) {
		snprintf(name, sizeof(name), "pk-worker-%u", w->id);
		pthread_setname_np(w->thread, name);
	}
	return rc;
}

void pk_worker_join(struct pk_worker *w)
{
	pthread_join(w->thread, NULL);
}

void pk_worker_log_counters(const struct pk_worker *w)
{
	char line[1024];
	uint64_t io[PK_IO_CTR_COUNT];
	size_t n = 0;

	for (unsigned c = 0; c < PK_WORKER_CTR_COUNT && n < sizeof(line); c++)
		if (w->ctr[c] != 0 || c == PK_WORKER_CTR_RX || c == PK_WORKER_CTR_TX)
			n += (size_t)snprintf(line + n, sizeof(line) - n, " %s=%llu", pk_worker_ctr_names[c],
					      (unsigned long long)w->ctr[c]);
	for (unsigned r = 0; r < PK_WORKER_REJ_COUNT && n < sizeof(line); r++) {
		if (w->rejects[r] == 0)
			continue;
		if (r == PK_WORKER_REJ_OTHER)
			n += (size_t)snprintf(line + n, sizeof(line) - n, " rejected_other=%llu",
					      (unsigned long long)w->rejects[r]);
		else
			n += (size_t)snprintf(line + n, sizeof(line) - n, " rejected_%u=%llu",
					      pk_worker_rej_codes[r], (unsigned long long)w->rejects[r]);
	}
	pk_log(PK_LOG_INFO, "worker %u:%s", w->id, line);

	n = 0;
	line[0] = '\0';
	pk_io_stats(w->q, io);
	for (unsigned c = 0; c < PK_IO_CTR_COUNT && n < sizeof(line); c++)
		if (io[c] != 0)
			n += (size_t)snprintf(line + n, sizeof(line) - n, " %s=%llu",
					      pk_io_counter_name((enum pk_io_counter)c), (unsigned long long)io[c]);
	pk_log(PK_LOG_INFO, "worker %u io:%s", w->id, n ? line : " (no traffic)");
}
