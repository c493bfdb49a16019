// SPDX-License-Identifier: MIT
//
// Costs of the ringing-call table (include/pickup/calltab.h): each
// single-threaded operation (insert, ring, claim, remove, lookup by Call-ID)
// on a table of 256K calls in 1M-entry memory, and a mixed workload (a call
// is inserted, rings, is looked up, then either picked up or answered) on 1
// and 2 threads, for the chosen design and for a baseline that a lock-based
// implementation would be: the same operations behind a spinlock per shard
// (Call-ID shards for the index, one lock per group for its FIFO). The
// figures and the 2-thread/1-thread ratios go to docs/calltab.md.
//
//   build-h2/bench/pk-bench-calltab --benchmark_min_time=1
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include <benchmark/benchmark.h>

extern "C" {
#include "pickup/calltab.h"
#include "pickup/rcu.h"
}

namespace {

constexpr uint32_t kCapacity = 1u << 20;
constexpr uint32_t kWorking = 1u << 18; // calls alive at once in the 1-thread benches
constexpr uint32_t kGroups = kWorking / 2; // group ids available
constexpr unsigned kThreads = 4;	    // RCU/table thread slots: 0 = control

// Names of the calls, generated once: the benchmarks must not time snprintf.
struct Names {
	std::vector<char> buf;
	struct Call {
		pk_str call_id, from_tag, contact, caller, callee, key;
		uint64_t hash;
	};
	std::vector<Call> v;

	explicit Names(uint32_t n) : buf(size_t(n) * 192), v(n)
	{
		char *p = buf.data();
		auto put = [&p](pk_str *s, const char *fmt, uint32_t i) {
			int len = std::snprintf(p, 48, fmt, i, i * 2654435761u);
			*s = pk_str{ p, uint32_t(len) };
			p += len;
		};
		for (uint32_t i = 0; i < n; i++) {
			put(&v[i].call_id, "%u-%08x@10.1.2.3", i);
			put(&v[i].from_tag, "%x%08x", i);
			put(&v[i].contact, "<sip:u%u@192.0.2.7:%u>", i % 60000);
			put(&v[i].caller, "u%u@example.com", i % 100000);
			put(&v[i].callee, "c%u@example.com", i % 100000 + (i >> 17));
			put(&v[i].key, "pk%u-%08x;z9hG4bK", i);
			v[i].hash = pk_calltab_key_hash(v[i].call_id, v[i].from_tag);
		}
	}
};

Names &names()
{
	static Names n(kWorking);
	return n;
}

// The chosen design: one table, RCU domain, thread 0 = control.
struct Table {
	pk_rcu *rcu;
	pk_calltab *t;

	Table()
	{
		rcu = pk_rcu_create(kThreads);
		pk_calltab_config cfg{};
		cfg.capacity = kCapacity;
		cfg.max_groups = kGroups;
		cfg.max_threads = kThreads;
		cfg.claim_records = kWorking;
		cfg.rcu = rcu;
		t = pk_calltab_create(&cfg);
		if (t == nullptr)
			std::abort();
	}
	// Control-thread housekeeping, from a registered reader tid.
	void quiesce(unsigned tid)
	{
		pk_calltab_sweep(t, tid, 0, 1);
		pk_rcu_quiescent(rcu, tid);
		pk_rcu_reclaim(rcu);
	}
};

Table &table()
{
	static Table tb;
	return tb;
}

pk_calltab_new make(const Names::Call &c, uint32_t group, uint64_t at)
{
	static thread_local uint32_t g;
	g = group;
	pk_calltab_new n{};
	n.call_id = c.call_id;
	n.from_tag = c.from_tag;
	n.contact = c.contact;
	n.caller = c.caller;
	n.callee = c.callee;
	n.groups = &g;
	n.ngroups = 1;
	n.src.family = 2;
	n.src.port = 5060;
	n.invite_ns = at;
	n.hash = c.hash;
	return n;
}

const pk_str kToTag = { "as7d6f5g4h", 10 };

// Empty the table (timing paused): remove what the first n names left in it.
void clear(Table &tb, unsigned tid, uint32_t n = kWorking)
{
	Names &nm = names();
	for (uint32_t i = 0; i < n; i++) {
		pk_calltab_settle(tb.t, tid, nm.v[i].key, 200);
		pk_calltab_remove(tb.t, tid, nm.v[i].call_id, nm.v[i].from_tag, nm.v[i].hash,
				  PK_CALLTAB_ANSWERED);
	}
	tb.quiesce(tid);
	tb.quiesce(tid);
}

// The working set of a single-op benchmark: w calls, cpg ringing per group.
struct Set {
	uint32_t w, groups;
	explicit Set(const benchmark::State &st)
		: w(uint32_t(st.range(0))), groups(uint32_t(st.range(0) / st.range(1)))
	{
	}
	uint32_t group(uint32_t i) const { return i % groups; }
};

void fill(Table &tb, unsigned tid, const Set &ws, bool ring)
{
	Names &nm = names();
	for (uint32_t i = 0; i < ws.w; i++) {
		pk_calltab_new c = make(nm.v[i], ws.group(i), i);
		pk_calltab_insert(tb.t, tid, &c);
		if (ring)
			pk_calltab_ringing(tb.t, tid, nm.v[i].call_id, nm.v[i].from_tag, nm.v[i].hash, kToTag);
	}
}

struct Reader {
	Table &tb;
	unsigned tid;
	Reader(Table &t, unsigned id) : tb(t), tid(id) { pk_rcu_reader_register(tb.rcu, tid); }
	~Reader() { pk_rcu_reader_unregister(tb.rcu, tid); }
};

// ---- single-threaded operations ----
//
// Each on a working set of 4K calls (the table's hot part stays in cache)
// and of 256K calls (every operation misses the cache: the real case for a
// response arriving seconds after its INVITE), 8 ringing calls per group.

void BM_insert(benchmark::State &st)
{
	Table &tb = table();
	Reader rd(tb, 1);
	Names &nm = names();
	Set ws(st);
	uint32_t i = 0;

	clear(tb, 1);
	for (auto _ : st) {
		if (i == ws.w) {
			st.PauseTiming();
			clear(tb, 1, ws.w);
			i = 0;
			st.ResumeTiming();
		}
		pk_calltab_new c = make(nm.v[i], ws.group(i), i);
		benchmark::DoNotOptimize(pk_calltab_insert(tb.t, 1, &c));
		i++;
	}
	clear(tb, 1);
}

void BM_ring(benchmark::State &st)
{
	Table &tb = table();
	Reader rd(tb, 1);
	Names &nm = names();
	Set ws(st);
	uint32_t i = ws.w;

	for (auto _ : st) {
		if (i == ws.w) {
			st.PauseTiming();
			clear(tb, 1, ws.w);
			fill(tb, 1, ws, false);
			i = 0;
			st.ResumeTiming();
		}
		benchmark::DoNotOptimize(pk_calltab_ringing(tb.t, 1, nm.v[i].call_id, nm.v[i].from_tag,
							    nm.v[i].hash, kToTag));
		i++;
	}
	clear(tb, 1);
}

// Claim the oldest ringing call of a group (groups in turn): the walk
// passes every call of the group.
void BM_claim(benchmark::State &st)
{
	Table &tb = table();
	Reader rd(tb, 1);
	Names &nm = names();
	Set ws(st);
	uint32_t i = ws.w;
	pk_calltab_call out;

	for (auto _ : st) {
		if (i == ws.w) {
			st.PauseTiming();
			clear(tb, 1, ws.w);
			fill(tb, 1, ws, true);
			i = 0;
			st.ResumeTiming();
		}
		uint32_t g = ws.group(i);
		pk_calltab_claim_req req{};
		req.groups = &g;
		req.ngroups = 1;
		req.picker = pk_str{ "picker@example.com", 18 };
		req.key = nm.v[i].key;
		benchmark::DoNotOptimize(pk_calltab_claim(tb.t, 1, &req, &out));
		i++;
	}
	clear(tb, 1);
}

void BM_remove(benchmark::State &st)
{
	Table &tb = table();
	Reader rd(tb, 1);
	Names &nm = names();
	Set ws(st);
	uint32_t i = ws.w;

	for (auto _ : st) {
		if (i == ws.w) {
			st.PauseTiming();
			clear(tb, 1, ws.w);
			fill(tb, 1, ws, true);
			i = 0;
			st.ResumeTiming();
		}
		benchmark::DoNotOptimize(pk_calltab_remove(tb.t, 1, nm.v[i].call_id, nm.v[i].from_tag,
							   nm.v[i].hash, PK_CALLTAB_ANSWERED));
		i++;
	}
	clear(tb, 1);
}

void BM_lookup(benchmark::State &st)
{
	Table &tb = table();
	Reader rd(tb, 1);
	Names &nm = names();
	Set ws(st);
	pk_calltab_call out;
	uint32_t i = 0;

	clear(tb, 1);
	fill(tb, 1, ws, true);
	for (auto _ : st) {
		// A stride through the calls: no help from the prefetcher.
		const Names::Call &c = nm.v[i];
		benchmark::DoNotOptimize(pk_calltab_find(tb.t, 1, c.call_id, c.from_tag, c.hash, &out));
		i = (i + 40503) % ws.w;
	}
	clear(tb, 1);
}

// The key hash a worker computes once per packet (pk_calltab_key_hash of
// Call-ID + From-tag) and passes to every call above, which therefore do
// not include it: this is its cost, for the names used here (Call-ID 24-27
// bytes, From-tag 9-13).
void BM_key_hash(benchmark::State &st)
{
	Names &nm = names();
	uint32_t i = 0;

	for (auto _ : st) {
		const Names::Call &c = nm.v[i];
		benchmark::DoNotOptimize(pk_calltab_key_hash(c.call_id, c.from_tag));
		i = (i + 1) & 4095;
	}
}
BENCHMARK(BM_key_hash);

#define PK_SETS ->Args({ 4096, 8 })->Args({ int64_t(kWorking), 8 })
BENCHMARK(BM_insert) PK_SETS;
BENCHMARK(BM_ring) PK_SETS;
BENCHMARK(BM_claim) PK_SETS->Args({ 4096, 2 })->Args({ 4096, 32 });
BENCHMARK(BM_remove) PK_SETS;
BENCHMARK(BM_lookup) PK_SETS;

// Memory of a table of 1M calls in the default configuration.
void BM_memory(benchmark::State &st)
{
	pk_rcu *rcu = pk_rcu_create(2);
	pk_calltab_config cfg{};
	cfg.capacity = 1u << 20;
	cfg.max_groups = 1u << 16;
	cfg.max_threads = 2;
	cfg.rcu = rcu;
	pk_calltab *t = pk_calltab_create(&cfg);
	for (auto _ : st)
		benchmark::DoNotOptimize(pk_calltab_memory(t));
	st.counters["MiB"] = double(pk_calltab_memory(t)) / (1 << 20);
	st.counters["bytes_per_entry"] = double(pk_calltab_memory(t)) / cfg.capacity;
	pk_calltab_destroy(t);
	pk_rcu_destroy(rcu);
}
BENCHMARK(BM_memory)->Iterations(1);

// ---- the baseline: the same operations behind spinlocks ----

struct alignas(64) Spin {
	std::atomic<bool> f{ false };
	void lock()
	{
		while (f.exchange(true, std::memory_order_acquire))
			while (f.load(std::memory_order_relaxed))
				__builtin_ia32_pause();
	}
	void unlock() { f.store(false, std::memory_order_release); }
};

// Call-ID shards (lock + chained hash + free nodes) and one lock + FIFO
// per group. Nodes carry the same strings as the real entries.
struct Locked {
	static constexpr uint32_t kShards = 256;
	struct Node {
		uint64_t hash, at;
		uint32_t hnext, prev, next, group;
		std::atomic<int> state; // 1 trying 2 ringing 3 claimed
		uint16_t idlen, taglen, calllen;
		char strings[384];
	};
	struct Shard {
		Spin lock;
		std::vector<uint32_t> buckets; // node + 1
		uint32_t free_head = 0;	       // node + 1
	};
	struct Group {
		Spin lock;
		uint32_t head = 0, tail = 0; // node + 1
	};
	std::unique_ptr<Node[]> nodes;
	std::unique_ptr<Shard[]> shards;
	std::unique_ptr<Group[]> groups;

	Locked() : nodes(new Node[kCapacity]), shards(new Shard[kShards]), groups(new Group[kGroups])
	{
		for (uint32_t s = 0; s < kShards; s++)
			shards[s].buckets.assign(kCapacity / kShards / 2, 0);
		for (uint32_t i = 0; i < kCapacity; i++) {
			Shard &sh = shards[i % kShards];
			nodes[i].hnext = sh.free_head;
			sh.free_head = i + 1;
		}
	}
	Shard &shard(uint64_t h) { return shards[h % kShards]; }
	void prefetch(const Names::Call &c)
	{
		Shard &sh = shard(c.hash);
		__builtin_prefetch(&bucket(sh, c.hash), 0, 3);
	}
	uint32_t &bucket(Shard &sh, uint64_t h) { return sh.buckets[(h >> 8) % sh.buckets.size()]; }
	Node &node(uint32_t ref) { return nodes[ref - 1]; }
	uint32_t find_locked(Shard &sh, const Names::Call &c)
	{
		for (uint32_t r = bucket(sh, c.hash); r; r = node(r).hnext) {
			Node &n = node(r);
			if (n.hash == c.hash && n.idlen == c.call_id.len &&
			    std::memcmp(n.strings, c.call_id.p, c.call_id.len) == 0)
				return r;
		}
		return 0;
	}
	int insert(const Names::Call &c, uint32_t g, uint64_t at)
	{
		Shard &sh = shard(c.hash);
		sh.lock.lock();
		if (find_locked(sh, c) || sh.free_head == 0) {
			sh.lock.unlock();
			return -1;
		}
		uint32_t r = sh.free_head;
		Node &n = node(r);
		sh.free_head = n.hnext;
		n.hash = c.hash;
		n.at = at;
		n.group = g;
		n.idlen = uint16_t(c.call_id.len);
		std::memcpy(n.strings, c.call_id.p, c.call_id.len);
		std::memcpy(n.strings + 64, c.from_tag.p, c.from_tag.len);
		std::memcpy(n.strings + 128, c.contact.p, c.contact.len);
		n.calllen = uint16_t(c.caller.len);
		std::memcpy(n.strings + 192, c.caller.p, c.caller.len);
		std::memcpy(n.strings + 256, c.callee.p, c.callee.len);
		n.state.store(1, std::memory_order_relaxed);
		n.hnext = bucket(sh, c.hash);
		bucket(sh, c.hash) = r;
		sh.lock.unlock();
		Group &gr = groups[g];
		gr.lock.lock();
		n.prev = gr.tail;
		n.next = 0;
		if (gr.tail)
			node(gr.tail).next = r;
		else
			gr.head = r;
		gr.tail = r;
		gr.lock.unlock();
		return 0;
	}
	int ring(const Names::Call &c, pk_str tag)
	{
		Shard &sh = shard(c.hash);
		sh.lock.lock();
		uint32_t r = find_locked(sh, c);
		if (r) {
			std::memcpy(node(r).strings + 320, tag.p, tag.len);
			node(r).taglen = uint16_t(tag.len);
			node(r).state.store(2, std::memory_order_release);
		}
		sh.lock.unlock();
		return r ? 0 : -1;
	}
	int lookup(const Names::Call &c, char *out)
	{
		Shard &sh = shard(c.hash);
		sh.lock.lock();
		uint32_t r = find_locked(sh, c);
		if (r)
			std::memcpy(out, node(r).strings, 64);
		sh.lock.unlock();
		return r ? 0 : -1;
	}
	// Oldest ringing call of group g not placed by picker: claimed; its
	// key is copied out (the node may go as soon as the lock is dropped).
	uint32_t claim(uint32_t g, pk_str picker, Names::Call *key = nullptr, char *idbuf = nullptr)
	{
		Group &gr = groups[g];
		uint32_t got = 0;
		gr.lock.lock();
		for (uint32_t r = gr.head; r; r = node(r).next) {
			Node &n = node(r);
			int s = 2;
			if (n.state.load(std::memory_order_acquire) != 2 ||
			    (n.calllen == picker.len && std::memcmp(n.strings + 192, picker.p, picker.len) == 0))
				continue;
			if (n.state.compare_exchange_strong(s, 3, std::memory_order_acq_rel)) {
				got = r;
				if (key) {
					std::memcpy(idbuf, n.strings, n.idlen);
					key->call_id = pk_str{ idbuf, n.idlen };
					key->hash = n.hash;
				}
				break;
			}
		}
		gr.lock.unlock();
		return got;
	}
	int remove(const Names::Call &c)
	{
		Shard &sh = shard(c.hash);
		sh.lock.lock();
		uint32_t r = 0;
		for (uint32_t *pp = &bucket(sh, c.hash); *pp; pp = &node(*pp).hnext) {
			Node &n = node(*pp);
			if (n.hash == c.hash && n.idlen == c.call_id.len &&
			    std::memcmp(n.strings, c.call_id.p, c.call_id.len) == 0) {
				r = *pp;
				*pp = n.hnext;
				break;
			}
		}
		if (r)
			node(r).state.store(0, std::memory_order_release);
		sh.lock.unlock();
		if (!r)
			return -1;
		Node &n = node(r);
		Group &gr = groups[n.group];
		gr.lock.lock();
		if (n.prev)
			node(n.prev).next = n.next;
		else
			gr.head = n.next;
		if (n.next)
			node(n.next).prev = n.prev;
		else
			gr.tail = n.prev;
		gr.lock.unlock();
		sh.lock.lock();
		n.hnext = sh.free_head;
		sh.free_head = r;
		sh.lock.unlock();
		return 0;
	}
};

Locked &locked()
{
	static Locked l;
	return l;
}

// ---- the mixed workload ----
//
// Steady state: each thread keeps kLive calls ringing (in kMixGroups groups
// shared by all threads, so a few calls ring in each group and claims
// race). Per item: the thread's oldest call ends -- one in four by a pickup
// (claim the oldest call of its group, settle 200), the others answered
// (removed) --, a response is looked up for a random ringing call, and a
// new call is inserted and rings. Items = calls.
//
// A call's group is drawn from its name's hash, as calls reach the groups
// of their callees in production: any group may hold calls of both
// threads, and a pickup may take the other thread's call. (Until
// 2026-11-27 call i of every thread went to group i % kMixGroups: the two
// threads, running at the same pace, worked on the same group at the same
// moment for every operation, a collision rate no traffic has.)

constexpr uint32_t kMixGroups = 8192;

inline uint32_t mix_group(const Names::Call &c)
{
	return uint32_t(((c.hash >> 32) * uint64_t(kMixGroups)) >> 32);
}

template <class Ops> void mixed(benchmark::State &st, Ops &ops)
{
	const uint32_t kLive = uint32_t(st.range(0));
	Names &nm = names();
	uint32_t span = kWorking / uint32_t(st.threads());
	uint32_t base = span * uint32_t(st.thread_index()), oldest = 0, next = 0, n = 0;
	uint64_t now = 0, rng = 0x9e3779b97f4a7c15ull * (uint64_t(st.thread_index()) + 1);

	auto add = [&](uint32_t i) {
		ops.insert(nm.v[base + i], mix_group(nm.v[base + i]), ++now);
		ops.ring(nm.v[base + i]);
	};
	for (; next < kLive; next++)
		add(next);
	auto pick = [&](uint32_t o) {
		rng ^= rng << 13;
		rng ^= rng >> 7;
		rng ^= rng << 17;
		return (o + uint32_t(rng % kLive)) % span;
	};
	uint32_t look = pick(oldest + 1);
	for (auto _ : st) {
		const Names::Call &o = nm.v[base + oldest];
		// As a worker does for a burst: start the index misses of the
		// next packets before handling this one.
		uint32_t o2 = oldest + 1 == span ? 0 : oldest + 1, n2 = next + 1 == span ? 0 : next + 1;
		uint32_t look2 = pick(o2);
		ops.prefetch(nm.v[base + o2]);
		ops.prefetch(nm.v[base + n2]);
		ops.prefetch(nm.v[base + look2]);
		if ((oldest & 3) == 0)
			ops.pickup(mix_group(o), o, nm.v[(base + oldest + 1) % kWorking].caller, now);
		ops.remove(o);
		oldest = o2;
		ops.lookup(nm.v[base + look]);
		look = look2;
		add(next);
		if (++next == span)
			next = 0;
		ops.tick(++n);
	}
	while (oldest != next) {
		ops.remove(nm.v[base + oldest]);
		if (++oldest == span)
			oldest = 0;
	}
	st.SetItemsProcessed(int64_t(st.iterations()));
}

struct CalltabOps {
	Table &tb;
	unsigned tid;
	pk_calltab_call out;
	double sweep_ns;

	void insert(const Names::Call &c, uint32_t g, uint64_t at)
	{
		pk_calltab_new nc = make(c, g, at);
		pk_calltab_insert(tb.t, tid, &nc);
	}
	void ring(const Names::Call &c)
	{
		pk_calltab_ringing(tb.t, tid, c.call_id, c.from_tag, c.hash, kToTag);
	}
	void prefetch(const Names::Call &c) { pk_calltab_prefetch(tb.t, c.hash); }
	void lookup(const Names::Call &c)
	{
		benchmark::DoNotOptimize(pk_calltab_find(tb.t, tid, c.call_id, c.from_tag, c.hash, &out));
	}
	void pickup(uint32_t g, const Names::Call &c, pk_str picker, uint64_t now)
	{
		pk_calltab_claim_req req{};
		req.groups = &g;
		req.ngroups = 1;
		req.picker = picker;
		req.key = c.key;
		req.now_ns = now;
		if (pk_calltab_claim(tb.t, tid, &req, &out) >= 0)
			pk_calltab_settle(tb.t, tid, c.key, 200);
	}
	void remove(const Names::Call &c)
	{
		pk_calltab_remove(tb.t, tid, c.call_id, c.from_tag, c.hash, PK_CALLTAB_ANSWERED);
	}
	// The worker loop's quiescent report, once per burst of 32; every 8192
	// items of its own a thread also plays the control thread, unless the
	// other one is doing so (one sweeper at a time, as the table wants: the
	// mutex orders the sweeps). There is no third core for a real control
	// thread: this spreads its work over the cores as the scheduler would
	// spread a control thread's, instead of loading it all on thread 0,
	// whose extra time would hold up thread 1 at the end of the run.
	void tick(uint32_t n)
	{
		if ((n & 31) == 0) {
			pk_rcu_quiescent(tb.rcu, tid);
			if ((n & 8191) == 0 && control_lock().try_lock()) {
				auto t0 = std::chrono::steady_clock::now();
				pk_calltab_sweep(tb.t, tid, 0, 64);
				pk_rcu_reclaim(tb.rcu);
				control_lock().unlock();
				sweep_ns += double(std::chrono::duration_cast<std::chrono::nanoseconds>(
							   std::chrono::steady_clock::now() - t0)
							   .count());
			}
		}
	}
	static std::mutex &control_lock()
	{
		static std::mutex m;
		return m;
	}
};

void BM_mixed(benchmark::State &st)
{
	Table &tb = table();
	Reader rd(tb, unsigned(st.thread_index()) + 1);
	CalltabOps ops{ tb, unsigned(st.thread_index()) + 1, {}, 0 };

	mixed(st, ops);
	// The time spent in control-thread work (sweep: list unlinking,
	// handing entries to RCU; reclaim) per item of all threads (the
	// threads' counters are summed).
	st.counters["sweep_ns_per_item"] =
		benchmark::Counter(ops.sweep_ns / (double(st.iterations()) * st.threads()));
	if (st.thread_index() == 0) {
		std::lock_guard<std::mutex> g(CalltabOps::control_lock());
		tb.quiesce(1);
	}
}
// Arg: calls ringing per thread (256: the table stays in cache; 16K: it
// does not, as in production).
BENCHMARK(BM_mixed)->Arg(256)->Arg(16384)->Threads(1)->Threads(2)->UseRealTime();

struct LockedOps {
	Locked &lk;
	char out[64];

	void insert(const Names::Call &c, uint32_t g, uint64_t at) { lk.insert(c, g, at); }
	void ring(const Names::Call &c) { lk.ring(c, kToTag); }
	void prefetch(const Names::Call &c) { lk.prefetch(c); }
	void lookup(const Names::Call &c) { benchmark::DoNotOptimize(lk.lookup(c, out)); }
	void pickup(uint32_t g, const Names::Call &, pk_str picker, uint64_t)
	{
		Names::Call k{};
		char id[64];
		if (lk.claim(g, picker, &k, id))
			lk.remove(k); // settled 200: the call leaves
	}
	void remove(const Names::Call &c) { lk.remove(c); }
	void tick(uint32_t) {}
};

void BM_mixed_spinlock(benchmark::State &st)
{
	LockedOps ops{ locked(), {} };

	mixed(st, ops);
}
BENCHMARK(BM_mixed_spinlock)->Arg(256)->Arg(16384)->Threads(1)->Threads(2)->UseRealTime();

} // namespace

BENCHMARK_MAIN();
