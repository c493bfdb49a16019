// SPDX-License-Identifier: MIT
//
// SIP fast path against libosip2: for every message of the ordinary corpus
// (tests/corpus/ordinary, the traffic a PBX sees), the cost of our scanner
// (pk_sip_scan) and of a full libosip2 parse (init + parse + free, which is
// what a libosip2-based proxy pays per packet); and the cost of forwarding
// an INVITE as a proxy does it (Via push, Max-Forwards, Request-URI,
// emit), with and without the scan. bench/run-sip.sh turns the figures
// into the ratios the design targets (docs/benchmarks.md).
//
// The corpus directory is the first argument left after Google Benchmark's
// own flags, else $PK_SIP_CORPUS, else the source tree's (compile-time
// PK_SIP_CORPUS_DEFAULT).
#include <benchmark/benchmark.h>

#include <dirent.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <memory>
#include <string>
#include <vector>

extern "C" {
#include "pickup/sip.h"
#include "pickup/sip_rewrite.h"
}
#include <osipparser2/osip_parser.h>

#ifndef PK_SIP_CORPUS_DEFAULT
#define PK_SIP_CORPUS_DEFAULT "tests/corpus/ordinary"
#endif

namespace {

struct corpus_msg {
	std::string name; // file name without ".sip"
	std::string text;
};

std::vector<corpus_msg> load_corpus(const std::string &dir)
{
	std::vector<corpus_msg> out;
	DIR *d = opendir(dir.c_str());
	if (!d)
		return out;
	while (struct dirent *e = readdir(d)) {
		std::string f = e->d_name;
		if (f.size() <= 4 || f.compare(f.size() - 4, 4, ".sip") != 0)
			continue;
		std::ifstream in(dir + "/" + f, std::ios::binary);
		std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
		out.push_back({ f.substr(0, f.size() - 4), text });
	}
	closedir(d);
	std::sort(out.begin(), out.end(),
		  [](const corpus_msg &a, const corpus_msg &b) { return a.name < b.name; });
	return out;
}

// The message is copied into an exactly-sized heap block, as a received
// datagram would be; the scanner never reads past its end.
std::unique_ptr<char[]> packet(const std::string &s)
{
	std::unique_ptr<char[]> p(new char[s.size()]);
	std::copy(s.begin(), s.end(), p.get());
	return p;
}

void bm_scan(benchmark::State &st, const std::string &text)
{
	auto buf = packet(text);
	auto msg = std::make_unique<pk_sip_msg>();
	for (auto _ : st) {
		pk_sip_verdict v = pk_sip_scan(buf.get(), text.size(), msg.get());
		benchmark::DoNotOptimize(v);
		benchmark::ClobberMemory();
	}
	if (pk_sip_scan(buf.get(), text.size(), msg.get()) != PK_SIP_OK)
		st.SkipWithError("message does not scan OK");
	st.SetItemsProcessed(st.iterations());
	st.SetBytesProcessed(st.iterations() * static_cast<int64_t>(text.size()));
}

void bm_osip(benchmark::State &st, const std::string &text)
{
	auto buf = packet(text);
	for (auto _ : st) {
		osip_message_t *m = nullptr;
		osip_message_init(&m);
		int rc = osip_message_parse(m, buf.get(), text.size());
		benchmark::DoNotOptimize(rc);
		benchmark::DoNotOptimize(m);
		osip_message_free(m);
	}
	// a parse that fails early would flatter libosip2
	osip_message_t *m = nullptr;
	osip_message_init(&m);
	if (osip_message_parse(m, buf.get(), text.size()) != 0)
		st.SkipWithError("libosip2 does not parse the message");
	osip_message_free(m);
	st.SetItemsProcessed(st.iterations());
	st.SetBytesProcessed(st.iterations() * static_cast<int64_t>(text.size()));
}

// What a proxy does to an INVITE it forwards.
struct forward {
	pk_str host = pk_str_make("192.0.2.1", 9);
	pk_str branch = pk_str_make("z9hG4bK-pk-00000001", 19);
	pk_str ruri = pk_str_make("sip:3001@192.0.2.31:5060", 24);
	std::unique_ptr<pk_rw> rw = std::make_unique<pk_rw>();
	std::vector<char> out = std::vector<char>(PK_SIP_MAX_MSG + PK_RW_SCRATCH);

	long run(const pk_sip_msg *m)
	{
		pk_rw_init(rw.get(), m);
		pk_rw_via_push(rw.get(), "UDP", host, 5060, branch, true);
		pk_rw_maxfwd_dec(rw.get());
		pk_rw_ruri_set(rw.get(), ruri);
		return pk_rw_emit(rw.get(), out.data(), out.size());
	}
};

void bm_rewrite(benchmark::State &st, const std::string &text)
{
	auto buf = packet(text);
	auto msg = std::make_unique<pk_sip_msg>();
	forward f;
	if (pk_sip_scan(buf.get(), text.size(), msg.get()) != PK_SIP_OK ||
	    f.run(msg.get()) <= 0) {
		st.SkipWithError("forward_invite does not scan or rewrite");
		return;
	}
	for (auto _ : st) {
		long n = f.run(msg.get());
		benchmark::DoNotOptimize(n);
		benchmark::ClobberMemory();
	}
	st.SetItemsProcessed(st.iterations());
	st.SetBytesProcessed(st.iterations() * static_cast<int64_t>(text.size()));
}

void bm_scan_rewrite(benchmark::State &st, const std::string &text)
{
	auto buf = packet(text);
	auto msg = std::make_unique<pk_sip_msg>();
	forward f;
	for (auto _ : st) {
		long n = -1;
		if (pk_sip_scan(buf.get(), text.size(), msg.get()) == PK_SIP_OK)
			n = f.run(msg.get());
		benchmark::DoNotOptimize(n);
		benchmark::ClobberMemory();
	}
	if (f.run(msg.get()) <= 0)
		st.SkipWithError("forward_invite does not scan or rewrite");
	st.SetItemsProcessed(st.iterations());
	st.SetBytesProcessed(st.iterations() * static_cast<int64_t>(text.size()));
}

} // namespace

int main(int argc, char **argv)
{
	benchmark::Initialize(&argc, argv);
	std::string dir = PK_SIP_CORPUS_DEFAULT;
	if (const char *env = std::getenv("PK_SIP_CORPUS"))
		dir = env;
	if (argc > 1)
		dir = argv[1];
	// Loaded once, before the benchmarks run; they keep references.
	static const std::vector<corpus_msg> corpus = load_corpus(dir);
	if (corpus.empty()) {
		std::fprintf(stderr, "no .sip messages in %s\n", dir.c_str());
		return 1;
	}
	parser_init();

	const corpus_msg *invite = nullptr;
	for (const corpus_msg &c : corpus)
		if (c.name == "invite_sdp")
			invite = &c;
	for (const corpus_msg &c : corpus)
		benchmark::RegisterBenchmark(("scan/" + c.name).c_str(), bm_scan, c.text);
	for (const corpus_msg &c : corpus)
		benchmark::RegisterBenchmark(("osip_parse/" + c.name).c_str(), bm_osip, c.text);
	if (invite) {
		benchmark::RegisterBenchmark("rewrite/forward_invite", bm_rewrite, invite->text);
		benchmark::RegisterBenchmark("scan+rewrite/forward_invite", bm_scan_rewrite,
					     invite->text);
	} else {
		std::fprintf(stderr, "%s has no invite_sdp.sip: no rewrite benchmark\n", dir.c_str());
	}
	benchmark::RunSpecifiedBenchmarks();
	benchmark::Shutdown();
	return 0;
}
