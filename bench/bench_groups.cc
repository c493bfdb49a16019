// SPDX-License-Identifier: MIT
//
// Benchmarks of the pickup-group index and the groups file, at the size of
// a large deployment: 100k groups x 10 members over 500k users (1M
// memberships). Measures the file load (parse + validate), the index build
// and its memory, the lookups a worker does per packet, and the cost of a
// single change on the full index. Figures are in docs/groups.md.
//
//   pk-bench-groups [--benchmark_filter=...]
#include <benchmark/benchmark.h>

#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include <random>
#include <string>
#include <vector>

extern "C" {
#include "pickup/groups.h"
#include "pickup/groups_conf.h"
#include "pickup/rcu.h"
#include "groups_gen.h"
}

namespace {

constexpr uint32_t kGroups = 100000, kMembers = 10, kUsers = 500000;

pk_str Str(const std::string &s)
{
	return pk_str{ s.data(), static_cast<uint32_t>(s.size()) };
}

// The 1M-membership file, written once per run.
const std::string &BigFile()
{
	static std::string path;
	if (path.empty()) {
		char tmpl[] = "/tmp/pk-bench-groups-XXXXXX";
		int fd = mkstemp(tmpl);
		FILE *f = fd >= 0 ? fdopen(fd, "w") : nullptr;
		pk_groups_gen p = { kGroups, kMembers, kUsers };
		if (f == nullptr || pk_groups_gen_write(&p, f) != 0 || fclose(f) != 0)
			abort();
		path = tmpl;
		atexit([] { unlink(path.c_str()); });
	}
	return path;
}

pk_groups_conf *BigConf()
{
	static pk_groups_conf *conf;
	if (conf == nullptr) {
		pk_groups_conf_error err;
		conf = pk_groups_conf_load(BigFile().c_str(), &err);
		if (conf == nullptr) {
			fprintf(stderr, "%s\n", err.msg);
			abort();
		}
	}
	return conf;
}

// One index built from the big file, shared by the lookup benchmarks.
struct Index {
	pk_rcu *rcu;
	pk_groups *g;
	Index()
	{
		rcu = pk_rcu_create(1);
		g = pk_groups_create(rcu, nullptr);
		if (g == nullptr || pk_groups_replace(g, BigConf()) != 0)
			abort();
	}
};

Index &BigIndex()
{
	static Index idx;
	return idx;
}

// Keys in random order, so that lookups miss the cache as a real mix of
// calls would.
std::vector<std::string> Keys(const char *fmt, uint32_t base, uint32_t n, size_t count)
{
	std::mt19937 rng(42);
	std::uniform_int_distribution<uint32_t> pick(0, n - 1);
	std::vector<std::string> keys;
	char buf[32];
	for (size_t i = 0; i < count; i++) {
		snprintf(buf, sizeof(buf), fmt, base + pick(rng));
		keys.emplace_back(buf);
	}
	return keys;
}

void BM_FileLoad1M(benchmark::State &state)
{
	const std::string &path = BigFile();
	for (auto _ : state) {
		pk_groups_conf_error err;
		pk_groups_conf *c = pk_groups_conf_load(path.c_str(), &err);
		if (c == nullptr)
			state.SkipWithError(err.msg);
		state.PauseTiming();
		state.counters["memberships"] = c != nullptr ? c->n_members : 0;
		pk_groups_conf_free(c);
		state.ResumeTiming();
	}
}
BENCHMARK(BM_FileLoad1M)->Unit(benchmark::kMillisecond)->Iterations(3);

void BM_IndexBuild1M(benchmark::State &state)
{
	pk_groups_conf *conf = BigConf();
	for (auto _ : state) {
		state.PauseTiming();
		pk_rcu *rcu = pk_rcu_create(1);
		pk_groups *g = pk_groups_create(rcu, nullptr);
		size_t heap0 = mallinfo2().uordblks;
		state.ResumeTiming();
		if (pk_groups_replace(g, conf) != 0)
			state.SkipWithError("replace failed");
		state.PauseTiming();
		pk_groups_stats st;
		pk_rcu_reclaim(rcu); // the empty initial view
		pk_groups_view_stats(pk_groups_view(g), &st);
		state.counters["payload_bytes"] = static_cast<double>(st.bytes);
		state.counters["heap_bytes"] = static_cast<double>(mallinfo2().uordblks - heap0);
		state.counters["bytes_per_membership"] =
			static_cast<double>(st.bytes) / static_cast<double>(st.n_memberships);
		pk_groups_destroy(g);
		pk_rcu_destroy(rcu);
		state.ResumeTiming();
	}
}
BENCHMARK(BM_IndexBuild1M)->Unit(benchmark::kMillisecond)->Iterations(3);

// A reload onto a full index: ids are matched, the old view retired.
void BM_Reload1M(benchmark::State &state)
{
	Index &idx = BigIndex();
	for (auto _ : state) {
		if (pk_groups_replace(idx.g, BigConf()) != 0)
			state.SkipWithError("replace failed");
		state.PauseTiming();
		pk_rcu_reclaim(idx.rcu);
		state.ResumeTiming();
	}
}
BENCHMARK(BM_Reload1M)->Unit(benchmark::kMillisecond)->Iterations(3);

void BM_LookupUser(benchmark::State &state)
{
	Index &idx = BigIndex();
	std::vector<std::string> keys = Keys("u%u", 0, kUsers, 1 << 16);
	const struct pk_groups_view *v = pk_groups_view(idx.g);
	size_t i = 0, found = 0;
	for (auto _ : state) {
		const pk_group_user *u = pk_groups_find_user(v, Str(keys[i++ & 0xffff]), pk_str{ nullptr, 0 });
		found += u != nullptr && u->n_groups > 0;
		benchmark::DoNotOptimize(u);
	}
	if (found != static_cast<size_t>(state.iterations()))
		state.SkipWithError("user not found");
}
BENCHMARK(BM_LookupUser);

// The same with a working set that stays in cache (1024 users): the cost of
// the code rather than of memory.
void BM_LookupUserHot(benchmark::State &state)
{
	Index &idx = BigIndex();
	std::vector<std::string> keys = Keys("u%u", 0, 1024, 1 << 16);
	const struct pk_groups_view *v = pk_groups_view(idx.g);
	size_t i = 0;
	for (auto _ : state)
		benchmark::DoNotOptimize(pk_groups_find_user(v, Str(keys[i++ & 0xffff]), pk_str{ nullptr, 0 }));
}
BENCHMARK(BM_LookupUserHot);

void BM_LookupNumberHot(benchmark::State &state)
{
	Index &idx = BigIndex();
	std::vector<std::string> keys = Keys("*%u", 10000000, 1024, 1 << 16);
	const struct pk_groups_view *v = pk_groups_view(idx.g);
	size_t i = 0;
	for (auto _ : state)
		benchmark::DoNotOptimize(pk_groups_find_number(v, Str(keys[i++ & 0xffff])));
}
BENCHMARK(BM_LookupNumberHot);

// As a worker does it: the URI's user and host, and a look at the rights.
void BM_LookupUriRights(benchmark::State &state)
{
	Index &idx = BigIndex();
	std::vector<std::string> keys = Keys("u%u", 0, kUsers, 1 << 16);
	const std::string host = "Example.TEST";
	const struct pk_groups_view *v = pk_groups_view(idx.g);
	size_t i = 0;
	uint32_t acc = 0;
	for (auto _ : state) {
		const pk_group_user *u = pk_groups_find_uri(v, Str(keys[i++ & 0xffff]), Str(host));
		for (uint32_t k = 0; k < u->n_groups; k++)
			acc += u->groups[k].rights & PK_RIGHT_PICKUP;
	}
	benchmark::DoNotOptimize(acc);
}
BENCHMARK(BM_LookupUriRights);

void BM_LookupNumber(benchmark::State &state)
{
	Index &idx = BigIndex();
	std::vector<std::string> keys = Keys("*%u", 10000000, kGroups, 1 << 16);
	const struct pk_groups_view *v = pk_groups_view(idx.g);
	size_t i = 0, found = 0;
	for (auto _ : state) {
		const pk_group *g = pk_groups_find_number(v, Str(keys[i++ & 0xffff]));
		found += g != nullptr;
		benchmark::DoNotOptimize(g);
	}
	if (found != static_cast<size_t>(state.iterations()))
		state.SkipWithError("group not found");
}
BENCHMARK(BM_LookupNumber);

void BM_LookupNumberMiss(benchmark::State &state)
{
	Index &idx = BigIndex();
	std::vector<std::string> keys = Keys("%u", 1000, 8000000, 1 << 16);
	const struct pk_groups_view *v = pk_groups_view(idx.g);
	size_t i = 0;
	for (auto _ : state)
		benchmark::DoNotOptimize(pk_groups_find_number(v, Str(keys[i++ & 0xffff])));
}
BENCHMARK(BM_LookupNumberMiss);

// What the worker does with every INVITE's Request-URI user part.
void BM_Classify(benchmark::State &state)
{
	Index &idx = BigIndex();
	std::vector<std::string> keys = Keys("*%u", 10000000, kGroups, 1 << 16);
	for (size_t k = 0; k < keys.size(); k += 4)
		keys[k] = "**u" + keys[k].substr(1); // some directed pickups
	const struct pk_groups_view *v = pk_groups_view(idx.g);
	size_t i = 0;
	for (auto _ : state) {
		pk_groups_dial_result r;
		benchmark::DoNotOptimize(pk_groups_classify(v, Str(keys[i++ & 0xffff]), &r));
	}
}
BENCHMARK(BM_Classify);

// A single change on the full index: add a member, then remove it (two
// published versions per iteration), old versions reclaimed as we go.
void BM_MemberAddRemove(benchmark::State &state)
{
	Index &idx = BigIndex();
	std::vector<std::string> groups = Keys("*%u", 10000000, kGroups, 1 << 12);
	const std::string user = "bench-user";
	size_t i = 0;
	for (auto _ : state) {
		const std::string &num = groups[i++ & 0xfff];
		if (pk_groups_member_add(idx.g, Str(num), Str(user), pk_str{ nullptr, 0 }, PK_RIGHTS_ALL) != 0 ||
		    pk_groups_member_remove(idx.g, Str(num), Str(user), pk_str{ nullptr, 0 }) != 0)
			state.SkipWithError("change failed");
		pk_rcu_reclaim(idx.rcu);
	}
	state.SetItemsProcessed(state.iterations() * 2);
}
BENCHMARK(BM_MemberAddRemove)->Unit(benchmark::kMicrosecond);

void BM_Renumber(benchmark::State &state)
{
	Index &idx = BigIndex();
	const std::string a = "*10000001", b = "#10000001";
	// Runs of this function continue where the previous one stopped.
	bool flip = pk_groups_find_number(pk_groups_view(idx.g), Str(a)) == nullptr;
	for (auto _ : state) {
		if (pk_groups_group_renumber(idx.g, Str(flip ? b : a), Str(flip ? a : b)) != 0)
			state.SkipWithError("renumber failed");
		flip = !flip;
		pk_rcu_reclaim(idx.rcu);
	}
}
BENCHMARK(BM_Renumber)->Unit(benchmark::kMicrosecond);

} // namespace

BENCHMARK_MAIN();
