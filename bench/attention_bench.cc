// pagoda_attention_bench: the CPU backend's paged attention alone, on the
// Qwen3-0.6B layer shape (16 query heads, 8 KV heads, head_dim 128, KV
// blocks of 16): one prompt of N tokens attending causally to itself (a
// prefill step's attention for one layer), and decode batches of one token
// per sequence at a given context. Prints the useful GFLOP/s (two products
// of head_dim per query head and visible key) and, for decode, the KV bytes
// read per second; best of 7 each, on the thread pool sized to the machine.
// Usage: pagoda_attention_bench [--prompt-len N] [--context N] [--reps N (best of, 7)]
//                               [--isa scalar|avx2|avx512bf16]
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <numeric>
#include <random>
#include <string>
#include <vector>

#include "base/bf16.h"
#include "engine/cpu/paged_attention.h"

namespace {

using Clock = std::chrono::steady_clock;
using namespace pagoda;

constexpr std::int64_t kHeads = 16, kKvHeads = 8, kHeadDim = 128, kBlockSize = 16;

// Sequences with random K, V and q in a cache whose blocks are shuffled.
struct Workload {
  std::vector<std::uint16_t> k, v;
  std::vector<std::vector<std::int32_t>> tables;
  std::vector<std::int32_t> positions;
  std::vector<const std::int32_t*> token_tables;
  std::vector<std::uint16_t> q;  // bf16
  std::vector<float> out;
  double flops = 0, kv_bytes = 0;

  // `seqs` sequences of `context` tokens; the last `queries` tokens of each query.
  Workload(std::int64_t seqs, std::int64_t context, std::int64_t queries, std::mt19937& rng) {
    std::normal_distribution<float> nd(0, 1);
    const std::int64_t blocks_per_seq = (context + kBlockSize - 1) / kBlockSize;
    std::vector<std::int32_t> ids(static_cast<std::size_t>(seqs * blocks_per_seq));
    std::iota(ids.begin(), ids.end(), 0);
    std::shuffle(ids.begin(), ids.end(), rng);
    const auto elems = ids.size() * static_cast<std::size_t>(kKvHeads * kBlockSize * kHeadDim);
    k.resize(elems);
    v.resize(elems);
    for (auto& x : k)
      x = f32_to_bf16(nd(rng));
    for (auto& x : v)
      x = f32_to_bf16(nd(rng));
    tables.resize(static_cast<std::size_t>(seqs));
    for (std::int64_t s = 0; s < seqs; ++s)
      tables[static_cast<std::size_t>(s)].assign(ids.begin() + s * blocks_per_seq,
                                                 ids.begin() + (s + 1) * blocks_per_seq);
    for (std::int64_t s = 0; s < seqs; ++s) {
      for (std::int64_t pos = context - queries; pos < context; ++pos) {
        positions.push_back(static_cast<std::int32_t>(pos));
        token_tables.push_back(tables[static_cast<std::size_t>(s)].data());
        flops += 4.0 * kHeads * kHeadDim * static_cast<double>(pos + 1);
      }
      kv_bytes += 2.0 * 2 * kKvHeads * kHeadDim * static_cast<double>(context);
    }
    q.resize(positions.size() * kHeads * kHeadDim);
    for (auto& x : q)
      x = f32_to_bf16(nd(rng));
    out.resize(q.size());
  }

  cpu::PagedAttentionParams params() {
    cpu::PagedAttentionParams p;
    p.q = q.data();
    p.out = out.data();
    p.k_cache = k.data();
    p.v_cache = v.data();
    p.positions = positions.data();
    p.block_tables = token_tables.data();
    p.num_tokens = static_cast<std::int64_t>(positions.size());
    p.num_heads = kHeads;
    p.num_kv_heads = kKvHeads;
    p.head_dim = kHeadDim;
    p.block_size = kBlockSize;
    p.scale = 1.0f / std::sqrt(static_cast<float>(kHeadDim));
    return p;
  }
};

double best_seconds(Workload& w, cpu::ThreadPool& pool, cpu::CpuIsa isa, int reps) {
  const cpu::PagedAttentionParams p = w.params();
  double best = 1e30;
  for (int rep = 0; rep < reps; ++rep) {
    const auto t = Clock::now();
    cpu::paged_attention(p, pool, isa);
    best = std::min(best, std::chrono::duration<double>(Clock::now() - t).count());
  }
  return best;
}

}  // namespace

int main(int argc, char** argv) {
  std::int64_t prompt_len = 512, context = 1500;
  int reps = 7;
  cpu::CpuIsa isa = cpu::detected_isa();
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string a = argv[i], v = argv[i + 1];
    if (a == "--prompt-len") {
      prompt_len = std::stoll(v);
    } else if (a == "--context") {
      context = std::stoll(v);
    } else if (a == "--reps") {
      reps = std::stoi(v);
    } else if (a == "--isa") {
      isa = v == "scalar" ? cpu::CpuIsa::kScalar
            : v == "avx2" ? cpu::CpuIsa::kAvx2
                          : cpu::CpuIsa::kAvx512Bf16;
    } else {
      std::fprintf(stderr,
                   "usage: pagoda_attention_bench [--prompt-len N] [--context N] [--reps N] [--isa ...]\n");
      return 2;
    }
  }
  if (prompt_len < 1 || context < 1 || reps < 1 ||
      static_cast<int>(isa) > static_cast<int>(cpu::hardware_isa())) {
    std::fprintf(stderr, "pagoda_attention_bench: lengths and reps must be positive and the ISA present\n");
    return 2;
  }
  cpu::ThreadPool pool(0);
  std::mt19937 rng(1);
  std::printf("threads %d, path %s, heads %lld/%lld, head_dim %lld, block %lld\n", pool.num_threads(),
              std::string(cpu::isa_name(isa)).c_str(), static_cast<long long>(kHeads),
              static_cast<long long>(kKvHeads), static_cast<long long>(kHeadDim),
              static_cast<long long>(kBlockSize));
  Workload prefill(1, prompt_len, prompt_len, rng);
  const double t = best_seconds(prefill, pool, isa, reps);
  std::printf("prefill %lld tokens: %.3f ms, %.1f GFLOP/s\n", static_cast<long long>(prompt_len), t * 1e3,
              prefill.flops / t / 1e9);
  for (std::int64_t batch : {1, 8, 32}) {
    Workload decode(batch, context, 1, rng);
    const double td = best_seconds(decode, pool, isa, reps);
    std::printf("decode batch %2lld at context %lld: %.3f ms, %.1f GFLOP/s, KV read %.1f GB/s\n",
                static_cast<long long>(batch), static_cast<long long>(context), td * 1e3,
                decode.flops / td / 1e9, decode.kv_bytes / td / 1e9);
  }
  return 0;
}
