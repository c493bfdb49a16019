/* SPDX-License-Identifier: MIT */
/*
 * Per-source request rate limiting (dataplane/proxy/ratelimit.c): the
 * bucket arithmetic (burst, refill, the over budget, ACK/CANCEL), the
 * table's eviction rule against sources cycling addresses, and, through
 * the real worker (proxy_fixture.h), what a peer sees: the 503 with
 * Retry-After, the silent drop, the trusted exemption, responses never
 * limited, and the counters that `pickupctl stats` shows.
 */
#include "proxy_fixture.h"

#include "pickup/ratelimit.h"

#define MS 1000000ull

static struct pk_addr addr(const char *s)
{
	struct pk_addr a;

	assert_int_equal(pk_addr_parse(pk_str_make(s, strlen(s)), false, &a), 0);
	return a;
}

static struct pk_ratelimit *rl_new(uint32_t rate, uint32_t burst, enum pk_limits_over over)
{
	struct pk_ratelimit *rl = calloc(1, sizeof(*rl));
	struct pk_engine_limits lim = { rate, burst, 5, (uint8_t)over, true };

	assert_non_null(rl);
	pk_ratelimit_init(rl, &lim, 42);
	return rl;
}

static enum pk_rl_verdict chk(struct pk_ratelimit *rl, const struct pk_addr *a, enum pk_rl_kind k, uint64_t now)
{
	bool shared;

	return pk_ratelimit_check(rl, a, k, now, &shared);
}

/* n requests at now: how many passed. */
static unsigned passes(struct pk_ratelimit *rl, const struct pk_addr *a, unsigned n, uint64_t now)
{
	unsigned p = 0;

	for (unsigned i = 0; i < n; i++)
		p += chk(rl, a, PK_RL_REQUEST, now) == PK_RL_PASS;
	return p;
}

static void test_off(void **state)
{
	struct pk_ratelimit *rl = rl_new(0, 0, PK_LIMITS_REPLY);

	(void)state;
	assert_false(rl->on);
	free(rl);
}

static void test_burst_and_refill(void **state)
{
	struct pk_ratelimit *rl = rl_new(100, 10, PK_LIMITS_DROP); /* 10 ms per request */
	struct pk_addr a = addr("198.51.100.7:5060");
	uint64_t t0 = 1000 * FX_SEC;

	(void)state;
	assert_int_equal(rl->interval_ns, 10 * MS);
	/* a full bucket: exactly burst requests at one instant */
	assert_int_equal(passes(rl, &a, 25, t0), 10);
	/* one interval later: one more, not two */
	assert_int_equal(passes(rl, &a, 5, t0 + 10 * MS), 1);
	/* just short of the next: none */
	assert_int_equal(passes(rl, &a, 1, t0 + 20 * MS - 1), 0);
	/* a steady source at the rate always passes */
	for (unsigned i = 2; i < 200; i++)
		assert_int_equal(passes(rl, &a, 1, t0 + i * 10 * MS), 1);
	/* idle for a burst's worth of intervals: the bucket is full again,
	 * and no fuller */
	assert_int_equal(passes(rl, &a, 30, t0 + 5 * FX_SEC), 10);
	/* burst 0: twice the rate */
	free(rl);
	rl = rl_new(100, 0, PK_LIMITS_DROP);
	assert_int_equal(passes(rl, &a, 500, t0), 200);
	free(rl);
}

static void test_over_budget(void **state)
{
	struct pk_ratelimit *rl = rl_new(100, 4, PK_LIMITS_REPLY);
	struct pk_addr a = addr("198.51.100.7:5060"), b = addr("198.51.100.8:5060");
	uint64_t t0 = 1000 * FX_SEC;

	(void)state;
	assert_int_equal(passes(rl, &a, 4, t0), 4);
	/* reply mode: the next burst's worth is answered 503, then dropped */
	for (unsigned i = 0; i < 4; i++)
		assert_int_equal(chk(rl, &a, PK_RL_REQUEST, t0), PK_RL_REPLY);
	assert_int_equal(chk(rl, &a, PK_RL_REQUEST, t0), PK_RL_DROP);
	/* ... and ACK/CANCEL beyond twice the limit are dropped too */
	assert_int_equal(chk(rl, &a, PK_RL_END, t0), PK_RL_DROP);
	/* another source is not affected */
	assert_int_equal(passes(rl, &b, 4, t0), 4);
	/* ACK/CANCEL beyond the limit pass on the over budget, never 503 */
	for (unsigned i = 0; i < 4; i++)
		assert_int_equal(chk(rl, &b, PK_RL_END, t0), PK_RL_PASS);
	assert_int_equal(chk(rl, &b, PK_RL_END, t0), PK_RL_DROP);
	assert_int_equal(chk(rl, &b, PK_RL_REQUEST, t0), PK_RL_DROP);
	free(rl);

	/* drop mode: no 503 ever; ACK/CANCEL still have the over budget */
	rl = rl_new(100, 4, PK_LIMITS_DROP);
	assert_int_equal(passes(rl, &a, 4, t0), 4);
	assert_int_equal(chk(rl, &a, PK_RL_REQUEST, t0), PK_RL_DROP);
	assert_int_equal(chk(rl, &a, PK_RL_END, t0), PK_RL_PASS);
	free(rl);
}

/* count addresses of 203.0.113.0/24 and 10.x that fall in set s */
static unsigned same_set(const struct pk_ratelimit *rl, unsigned s, struct pk_addr *out, unsigned n)
{
	unsigned k = 0;
	char buf[32];

	for (unsigned i = 0; k < n && i < (1u << 24); i++) {
		snprintf(buf, sizeof(buf), "10.%u.%u.%u:5060", (i >> 16) & 255, (i >> 8) & 255, i & 255);
		out[k] = addr(buf);
		if (pk_ratelimit_set_of(rl, &out[k]) == s)
			k++;
	}
	return k;
}

static void test_eviction(void **state)
{
	struct pk_ratelimit *rl = rl_new(100, 4, PK_LIMITS_DROP);
	struct pk_addr victim = addr("198.51.100.66:5060"), other[PK_RL_WAYS + 64];
	unsigned s = pk_ratelimit_set_of(rl, &victim);
	uint64_t t0 = 1000 * FX_SEC;
	bool shared;

	(void)state;
	assert_int_equal(same_set(rl, s, other, PK_RL_WAYS + 64), PK_RL_WAYS + 64);
	/* the victim (a flooder, here) is limited */
	assert_int_equal(passes(rl, &victim, 100, t0), 4);
	/* three more sources take the other ways and keep them busy */
	for (unsigned i = 0; i < PK_RL_WAYS - 1; i++) {
		assert_int_equal(pk_ratelimit_check(rl, &other[i], PK_RL_REQUEST, t0, &shared), PK_RL_PASS);
		assert_false(shared);
	}
	/* the set is busy: newcomers draw on the shared bucket, and cycling
	 * through many addresses never evicts anybody */
	for (unsigned i = PK_RL_WAYS - 1; i < PK_RL_WAYS + 64; i++) {
		pk_ratelimit_check(rl, &other[i], PK_RL_REQUEST, t0, &shared);
		assert_true(shared);
	}
	assert_int_equal(passes(rl, &victim, 1, t0), 0);
	/* the shared bucket is a bucket too: burst 4, then nothing */
	assert_int_equal(chk(rl, &other[PK_RL_WAYS + 10], PK_RL_REQUEST, t0), PK_RL_DROP);

	/* once the light sources' buckets are full again their ways are
	 * free (nothing is lost by reusing them): a newcomer gets one ... */
	pk_ratelimit_check(rl, &other[PK_RL_WAYS + 20], PK_RL_REQUEST, t0 + 20 * MS, &shared);
	assert_false(shared);
	/* ... but the victim, whose bucket is not full, keeps its entry:
	 * 20 ms after its burst of 4 (10 ms per request) it has exactly 2
	 * requests, where an evicted (fresh) entry would have 4 */
	for (unsigned i = 0; i < 64; i++)
		pk_ratelimit_check(rl, &other[i], PK_RL_REQUEST, t0 + 20 * MS, &shared);
	assert_int_equal(passes(rl, &victim, 10, t0 + 20 * MS), 2);
	assert_int_equal(passes(rl, &victim, 10, t0 + 30 * MS), 1);
	free(rl);
}

static void test_kind(void **state)
{
	(void)state;
	assert_int_equal(pk_ratelimit_kind("SIP/2.0 200 OK\r\n", 16), -1);
	assert_int_equal(pk_ratelimit_kind("ACK sip:a SIP/2.0\r\n", 19), PK_RL_END);
	assert_int_equal(pk_ratelimit_kind("CANCEL sip:a SIP/2.0\r\n", 22), PK_RL_END);
	assert_int_equal(pk_ratelimit_kind("INVITE sip:a SIP/2.0\r\n", 22), PK_RL_REQUEST);
	assert_int_equal(pk_ratelimit_kind("\x01\x02garbage", 9), PK_RL_REQUEST);
	assert_int_equal(pk_ratelimit_kind("SIP/2.0", 7), PK_RL_REQUEST);
	assert_int_equal(pk_ratelimit_kind("", 0), PK_RL_REQUEST);
}

/* ---- through the worker ---- */

static const char engine_limited[] = "listen:\n"
				     "  proxy: \"127.0.0.1:5060\"\n"
				     "  app: \"127.0.0.1:5075\"\n"
				     "groups: groups.yaml\n"
				     "trusted: [192.0.2.0/24]\n"
				     "limits:\n"
				     "  requests_per_second: 1\n"
				     "  burst: 2\n"
				     "  retry_after: 7\n";

static const char options_req[] = "OPTIONS sip:example.test SIP/2.0\n"
				   "Via: SIP/2.0/UDP 198.51.100.7:5070;branch=z9hG4bK-o1\n"
				   "Max-Forwards: 70\n"
				   "From: <sip:alice@example.test>;tag=fa\n"
				   "To: <sip:example.test>\n"
				   "Call-ID: o1\n"
				   "CSeq: 1 OPTIONS\n";

static uint64_t ctr(struct fx *f, enum pk_worker_counter c)
{
	return pk_ctr_get(&f->w->ctr[c]);
}

/* The same in one burst: the limiter decides while the burst is scanned,
 * and its 503s go out in their turn, after the answers to the requests
 * that came before them (worker.c). */
static void test_worker_503_in_one_burst(void **state)
{
	static const char *const ids[] = { "b1", "b2", "x1", "b3", "b4", "b5" };
	static const char *const from[] = { "198.51.100.7:5070", "198.51.100.7:5070", "198.51.100.9:5070",
					    "198.51.100.7:5070", "198.51.100.7:5070", "198.51.100.7:5070" };
	static const char *const want[][2] = { { "SIP/2.0 200 OK\r\n", "b1" },
					       { "SIP/2.0 200 OK\r\n", "b2" },
					       { "SIP/2.0 200 OK\r\n", "x1" },
					       { "SIP/2.0 503 Service Unavailable\r\n", "b3" },
					       { "SIP/2.0 503 Service Unavailable\r\n", "b4" } };
	struct fx *f = fx_new_with(engine_limited, fx_default_groups);
	char bufs[6][512], *msgs[6];
	size_t lens[6];

	(void)state;
	for (unsigned i = 0; i < 6; i++) {
		lens[i] = (size_t)snprintf(bufs[i], sizeof(bufs[i]),
					   "OPTIONS sip:example.test SIP/2.0\r\n"
					   "Via: SIP/2.0/UDP %s;branch=z9hG4bK-%s\r\n"
					   "Max-Forwards: 70\r\n"
					   "From: <sip:alice@example.test>;tag=fa\r\n"
					   "To: <sip:example.test>\r\n"
					   "Call-ID: %s\r\n"
					   "CSeq: 1 OPTIONS\r\n"
					   "Content-Length: 0\r\n\r\n",
					   from[i], ids[i], ids[i]);
		msgs[i] = bufs[i];
	}
	assert_int_equal(fx_rx_burst(f, 6, msgs, lens, from), 5);
	for (unsigned i = 0; i < 5; i++) {
		const struct fx_sent *s = &f->io.q.sent[i];

		assert_memory_equal(s->data, want[i][0], strlen(want[i][0]));
		assert_string_equal(fx_hdr(s, "Call-ID"), want[i][1]);
	}
	assert_true(fx_has_line(&f->io.q.sent[3], "Retry-After: 7"));
	assert_int_equal(ctr(f, PK_WORKER_CTR_ANSWERED_RATELIMIT), 2);
	assert_int_equal(ctr(f, PK_WORKER_CTR_DROP_RATELIMIT), 1);
	assert_int_equal(ctr(f, PK_WORKER_CTR_REQUESTS), 3);
	assert_int_equal(ctr(f, PK_WORKER_CTR_RX), 6);
	fx_free(f);
}

static void test_worker_503(void **state)
{
	struct fx *f = fx_new_with(engine_limited, fx_default_groups);
	const struct fx_sent *s;

	(void)state;
	/* within the burst: answered as usual */
	assert_int_equal(fx_rx(f, options_req, "198.51.100.7:5070"), 1);
	assert_memory_equal(fx_last(f)->data, "SIP/2.0 200 OK\r\n", 16);
	assert_int_equal(fx_rx(f, options_req, "198.51.100.7:5070"), 1);
	/* over: 503 with the configured Retry-After, to the source */
	assert_int_equal(fx_rx(f, options_req, "198.51.100.7:5070"), 1);
	s = fx_last(f);
	assert_memory_equal(s->data, "SIP/2.0 503 Service Unavailable\r\n", 33);
	assert_true(fx_has_line(s, "Retry-After: 7"));
	assert_non_null(fx_hdr(s, "Warning"));
	assert_string_equal(fx_hdr(s, "Call-ID"), "o1");
	fx_assert_dst(s, "198.51.100.7:5070", PK_TRANSPORT_UDP);
	assert_int_equal(ctr(f, PK_WORKER_CTR_ANSWERED_RATELIMIT), 1);
	/* the over budget (burst 2) gives one more 503, then silence */
	assert_int_equal(fx_rx(f, options_req, "198.51.100.7:5070"), 1);
	assert_int_equal(fx_rx(f, options_req, "198.51.100.7:5070"), 0);
	assert_int_equal(fx_rx(f, "garbage\n", "198.51.100.7:5070"), 0);
	assert_int_equal(ctr(f, PK_WORKER_CTR_ANSWERED_RATELIMIT), 2);
	assert_int_equal(ctr(f, PK_WORKER_CTR_DROP_RATELIMIT), 2);
	/* limited messages were never handled: only the first two were */
	assert_int_equal(ctr(f, PK_WORKER_CTR_REQUESTS), 2);
	assert_int_equal(ctr(f, PK_WORKER_CTR_RX), 6);
	/* another source is served meanwhile */
	assert_int_equal(fx_rx(f, options_req, "198.51.100.9:5070"), 1);
	assert_memory_equal(fx_last(f)->data, "SIP/2.0 200 OK\r\n", 16);
	/* a trusted source is never limited */
	for (unsigned i = 0; i < 10; i++) {
		assert_int_equal(fx_rx(f, options_req, "192.0.2.10:5070"), 1);
		assert_memory_equal(fx_last(f)->data, "SIP/2.0 200 OK\r\n", 16);
	}
	/* responses are not limited: handled (and dropped as not ours by
	 * the proxy, not by the limiter) */
	fx_rx(f,
	      "SIP/2.0 200 OK\n"
	      "Via: SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bKnotours\n"
	      "From: <sip:alice@example.test>;tag=fa\n"
	      "To: <sip:bob@example.test>;tag=tb\n"
	      "Call-ID: r1\n"
	      "CSeq: 1 INVITE\n",
	      "198.51.100.7:5070");
	assert_int_equal(ctr(f, PK_WORKER_CTR_RESPONSES), 1);
	assert_int_equal(ctr(f, PK_WORKER_CTR_DROP_RATELIMIT), 2);
	/* a second later the source has one request again */
	f->now += FX_SEC;
	assert_int_equal(fx_rx(f, options_req, "198.51.100.7:5070"), 1);
	assert_memory_equal(fx_last(f)->data, "SIP/2.0 200 OK\r\n", 16);
	fx_free(f);
}

static void test_worker_drop_and_no_exempt(void **state)
{
	static const char yaml[] = "listen:\n"
				   "  proxy: \"127.0.0.1:5060\"\n"
				   "groups: groups.yaml\n"
				   "trusted: [192.0.2.0/24]\n"
				   "limits: {requests_per_second: 1, burst: 1, over: drop, exempt_trusted: false}\n";
	struct fx *f = fx_new_with(yaml, fx_default_groups);

	(void)state;
	assert_int_equal(fx_rx(f, options_req, "192.0.2.10:5070"), 1);
	/* trusted, but not exempt; drop mode: nothing goes back */
	assert_int_equal(fx_rx(f, options_req, "192.0.2.10:5070"), 0);
	assert_int_equal(fx_rx(f, options_req, "192.0.2.10:5070"), 0);
	assert_int_equal(ctr(f, PK_WORKER_CTR_DROP_RATELIMIT), 2);
	assert_int_equal(ctr(f, PK_WORKER_CTR_ANSWERED_RATELIMIT), 0);
	fx_free(f);
}

/* `set rate_limit` on the control socket stores eng->rate_limit; the
 * worker applies it at its next burst, with every bucket full again. */
static void test_worker_live_rate(void **state)
{
	struct fx *f = fx_new_with(engine_limited, fx_default_groups);

	(void)state;
	assert_int_equal(atomic_load(&f->eng.rate_limit), 1); /* pk_engine_prepare */
	for (unsigned i = 0; i < 4; i++)
		fx_rx(f, options_req, "198.51.100.7:5070");
	assert_int_equal(fx_rx(f, options_req, "198.51.100.7:5070"), 0); /* limited */
	atomic_store(&f->eng.rate_limit, 0);			/* off */
	assert_int_equal(fx_rx(f, options_req, "198.51.100.7:5070"), 1);
	assert_memory_equal(fx_last(f)->data, "SIP/2.0 200 OK\r\n", 16);
	assert_false(f->w->rl.on);
	/* on again, at 1000/s (burst: the configured 2): 2 at once, then
	 * 503, and 1 ms later one more */
	atomic_store(&f->eng.rate_limit, 1000);
	assert_int_equal(fx_rx(f, options_req, "198.51.100.7:5070"), 1);
	assert_memory_equal(fx_last(f)->data, "SIP/2.0 200 OK\r\n", 16);
	assert_int_equal(f->w->rl.interval_ns, 1000000);
	assert_int_equal(fx_rx(f, options_req, "198.51.100.7:5070"), 1);
	assert_memory_equal(fx_last(f)->data, "SIP/2.0 200 OK\r\n", 16);
	assert_int_equal(fx_rx(f, options_req, "198.51.100.7:5070"), 1);
	assert_memory_equal(fx_last(f)->data, "SIP/2.0 503 ", 12);
	f->now += 1000000;
	assert_int_equal(fx_rx(f, options_req, "198.51.100.7:5070"), 1);
	assert_memory_equal(fx_last(f)->data, "SIP/2.0 200 OK\r\n", 16);
	fx_free(f);
}

/* A pickup INVITE (*801, a group number) from 2003, a member with the
 * pickup right, sent from src. */
static unsigned pickup_from(struct fx *f, const char *src)
{
	char buf[1024];

	snprintf(buf, sizeof(buf),
		 "INVITE sip:*801@example.test SIP/2.0\n"
		 "Via: SIP/2.0/UDP %s;branch=z9hG4bK-pu1\n"
		 "Max-Forwards: 70\n"
		 "From: <sip:2003@example.test>;tag=pf\n"
		 "To: <sip:*801@example.test>\n"
		 "Call-ID: pu1@x\n"
		 "CSeq: 1 INVITE\n"
		 "Contact: <sip:2003@%s>\n",
		 src, src);
	return fx_rx(f, buf, src);
}

static void test_pickup_untrusted(void **state)
{
	static const char open_yaml[] = "listen:\n"
					"  proxy: \"127.0.0.1:5060\"\n"
					"groups: groups.yaml\n";
	struct fx *f = fx_new_with(engine_limited, fx_default_groups);
	uint64_t forbidden;

	(void)state;
	/* from outside the trusted networks: 403 before anything else */
	assert_int_equal(pickup_from(f, "198.51.100.7:5070"), 1);
	assert_memory_equal(fx_last(f)->data, "SIP/2.0 403 Forbidden\r\n", 23);
	assert_non_null(strstr(fx_hdr(fx_last(f), "Warning"), "source not in a trusted network"));
	forbidden = pk_ctr_get(&f->w->pickup_ctr[PK_PICKUP_CTR_FORBIDDEN]);
	assert_int_equal(forbidden, 1);
	/* from inside: the member is let through (nothing rings: 480) */
	assert_int_equal(pickup_from(f, "192.0.2.30:5070"), 1);
	assert_memory_equal(fx_last(f)->data, "SIP/2.0 480 ", 12);
	fx_free(f);
	/* no trusted networks configured: pickups from anywhere (480 here) */
	f = fx_new_with(open_yaml, fx_default_groups);
	assert_int_equal(pickup_from(f, "198.51.100.7:5070"), 1);
	assert_memory_equal(fx_last(f)->data, "SIP/2.0 480 ", 12);
	fx_free(f);
}

static void test_conf(void **state)
{
	struct pk_engine_conf_error err;
	struct pk_engine_conf *c;
	static const char *const bad[] = {
		"limits: {over: maybe}\n",
		"limits: {requests_per_second: -1}\n",
		"limits: {requests_per_second: 2000000}\n",
		"limits: {retry_after: 0}\n",
		"limits: {exempt_trusted: yes}\n",
		"limits: {rate: 5}\n",
	};

	(void)state;
	c = pk_engine_conf_parse("", 0, "t.yaml", ".", &err);
	assert_non_null(c);
	/* default: off, reply, Retry-After 5, trusted exempt */
	assert_int_equal(c->limits.requests_per_second, 0);
	assert_int_equal(c->limits.over, PK_LIMITS_REPLY);
	assert_int_equal(c->limits.retry_after, 5);
	assert_true(c->limits.exempt_trusted);
	pk_engine_conf_free(c);
	for (unsigned i = 0; i < PK_ARRAY_SIZE(bad); i++) {
		c = pk_engine_conf_parse(bad[i], strlen(bad[i]), "t.yaml", ".", &err);
		if (c != NULL)
			fail_msg("accepted: %s", bad[i]);
		assert_non_null(strstr(err.msg, "limits"));
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_off),
		cmocka_unit_test(test_burst_and_refill),
		cmocka_unit_test(test_over_budget),
		cmocka_unit_test(test_eviction),
		cmocka_unit_test(test_kind),
		cmocka_unit_test(test_worker_503),
		cmocka_unit_test(test_worker_503_in_one_burst),
		cmocka_unit_test(test_worker_drop_and_no_exempt),
		cmocka_unit_test(test_worker_live_rate),
		cmocka_unit_test(test_pickup_untrusted),
		cmocka_unit_test(test_conf),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
