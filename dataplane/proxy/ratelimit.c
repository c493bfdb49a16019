/* SPDX-License-Identifier: MIT */
/*
 * Per-source request rate limiting: the table of GCRA token buckets
 * (include/pickup/ratelimit.h explains the design and its eviction rule)
 * and the worker's hook, which runs on every received message before it
 * is parsed, so a flood of garbage costs a hash and a few compares per
 * message rather than a parse.
 *
 * What is limited: every request, and every message that is not a
 * response (unparseable input is charged like a request). What is not:
 * responses (a stateless proxy must relay them for every call; forged ones
 * are dropped after a keyed-branch check, drop_resp_not_ours), and, when
 * limits.exempt_trusted is set, sources in the trusted networks. ACK and
 * CANCEL are charged but never answered 503: beyond the limit they pass on
 * the over budget, beyond twice it they are dropped.
 *
 * Ownership: struct pk_ratelimit lives in struct pk_worker and is written
 * only by that worker; pk_ratelimit_init runs before the worker starts.
 * No allocation, lock, syscall or logging here.
 */
#include <stdio.h>
#include <string.h>

#include "pickup/ratelimit.h"
#include "pickup/sip.h"
#include "worker.h"

void pk_ratelimit_set_rate(struct pk_ratelimit *rl, uint32_t rate)
{
	uint64_t burst = rl->burst ? rl->burst : 2ull * rate;

	/* The tats are in the old rate's terms: start again with full
	 * buckets (a 112 KiB clear, once per change). */
	memset(rl->set, 0, sizeof(rl->set));
	rl->rate = rate;
	rl->on = rate > 0;
	if (!rl->on)
		return;
	rl->interval_ns = 1000000000ull / rate;
	rl->tolerance_ns = (burst - 1) * rl->interval_ns;
}

void pk_ratelimit_init(struct pk_ratelimit *rl, const struct pk_engine_limits *lim, uint64_t secret)
{
	memset(rl, 0, sizeof(*rl));
	rl->secret = pk_mix64(secret ^ 0x526174654c696d74ull) | 1;
	rl->reply = lim->over == PK_LIMITS_REPLY;
	rl->exempt_trusted = lim->exempt_trusted;
	rl->retry_after = lim->retry_after;
	rl->burst = lim->burst;
	rl->extra_len = (uint32_t)snprintf(rl->extra, sizeof(rl->extra),
					   "Retry-After: %u\r\n"
					   "Warning: 399 pickupd \"request rate limit of this source exceeded\"\r\n",
					   rl->retry_after);
	pk_ratelimit_set_rate(rl, lim->requests_per_second);
}

/* The keyed hash of the source IP (the port is not part of the key: one
 * host is one source whatever ports it uses). */
static uint64_t rl_hash(const struct pk_ratelimit *rl, const struct pk_addr *a)
{
	uint64_t lo, hi;

	memcpy(&lo, a->ip, 8);
	memcpy(&hi, a->ip + 8, 8);
	return pk_mix64(pk_mix64(lo ^ rl->secret) ^ hi ^ ((uint64_t)a->family << 48));
}

/* GCRA: does one more message at now conform to the bucket whose
 * theoretical arrival time is *tat? If so, charge it. */
static bool rl_take(const struct pk_ratelimit *rl, uint64_t *tat, uint64_t now)
{
	uint64_t t = *tat > now ? *tat : now;

	if (t - now > rl->tolerance_ns)
		return false;
	*tat = t + rl->interval_ns;
	return true;
}

unsigned pk_ratelimit_set_of(const struct pk_ratelimit *rl, const struct pk_addr *src)
{
	return (unsigned)(rl_hash(rl, src) >> 40) & (PK_RL_SETS - 1);
}

static struct pk_rl_entry *rl_find(struct pk_ratelimit *rl, const struct pk_addr *src, uint64_t now,
				   bool *shared)
{
	uint64_t h = rl_hash(rl, src), tag = h | 1;
	struct pk_rl_set *s = &rl->set[(h >> 40) & (PK_RL_SETS - 1)]; /* as pk_ratelimit_set_of */
	struct pk_rl_entry *free_way = NULL;

	for (unsigned i = 0; i < PK_RL_WAYS; i++) {
		struct pk_rl_entry *e = &s->way[i];

		if (e->tag == tag)
			return e;
		/* A way whose buckets are both full holds nothing worth
		 * keeping; the one idle longest first. */
		if (e->tat <= now && e->tat_over <= now && (free_way == NULL || e->tat < free_way->tat))
			free_way = e;
	}
	if (free_way != NULL) {
		*free_way = (struct pk_rl_entry){ .tag = tag };
		return free_way;
	}
	*shared = true;
	return &s->shared;
}

enum pk_rl_verdict pk_ratelimit_check(struct pk_ratelimit *rl, const struct pk_addr *src, enum pk_rl_kind kind,
				      uint64_t now, bool *shared)
{
	struct pk_rl_entry *e;

	*shared = false;
	e = rl_find(rl, src, now, shared);
	if (rl_take(rl, &e->tat, now))
		return PK_RL_PASS;
	if (kind == PK_RL_END)
		return rl_take(rl, &e->tat_over, now) ? PK_RL_PASS : PK_RL_DROP;
	if (rl->reply && rl_take(rl, &e->tat_over, now))
		return PK_RL_REPLY;
	return PK_RL_DROP;
}

int pk_ratelimit_kind(const char *data, uint32_t len)
{
	if (len >= 8 && memcmp(data, "SIP/2.0 ", 8) == 0)
		return -1;
	if ((len >= 4 && memcmp(data, "ACK ", 4) == 0) || (len >= 7 && memcmp(data, "CANCEL ", 7) == 0))
		return PK_RL_END;
	return PK_RL_REQUEST;
}

/* The 503: Retry-After (RFC 3261 §21.5.4: the source should not retry
 * before then) and why, for people reading traces. */
void pk_ratelimit_reply(struct pk_worker *w, const struct pk_io_msg *rx, struct pk_sip_msg *m)
{
	bool slow = false;
	enum pk_sip_verdict v;

	v = pk_sip_parse(rx->data, rx->len, w->slow_scratch, sizeof(w->slow_scratch), m, &slow);
	if (slow)
		pk_worker_count(w, PK_WORKER_CTR_SLOW_PATH);
	if (v != PK_SIP_OK || !m->is_request || m->method == PK_SIP_ACK) {
		pk_worker_count(w, PK_WORKER_CTR_DROP_RATELIMIT);
		return;
	}
	if (pk_worker_reply(w, rx, m, 503, NULL, pk_str_make(w->rl.extra, w->rl.extra_len)) == 0)
		pk_worker_count(w, PK_WORKER_CTR_ANSWERED_RATELIMIT);
}

enum pk_rl_verdict pk_ratelimit_worker(struct pk_worker *w, const struct pk_io_msg *rx)
{
	struct pk_ratelimit *rl = &w->rl;
	int kind = pk_ratelimit_kind(rx->data, rx->len);
	enum pk_rl_verdict v;
	uint32_t ntrusted;
	bool shared;

	if (kind < 0)
		return PK_RL_PASS;
	if (rl->exempt_trusted && pk_worker_trusted(w, &rx->src, &ntrusted))
		return PK_RL_PASS;
	v = pk_ratelimit_check(rl, &rx->src, (enum pk_rl_kind)kind, w->now_ns, &shared);
	if (unlikely(shared))
		pk_worker_count(w, PK_WORKER_CTR_RATELIMIT_SHARED);
	if (v == PK_RL_DROP)
		pk_worker_count(w, PK_WORKER_CTR_DROP_RATELIMIT);
	return v;
}
