#include "bench/cuda_kernel_tables.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <numeric>
#include <random>
#include <string>
#include <vector>

#include "base/bf16.h"
#include "bench/bench_sampling.h"
#include "cuda/cublaslt_gemm.h"
#include "cuda/device_buffer.h"
#include "cuda/invariant_gemm_kernel.h"
#include "cuda/paged_attention_kernel.h"
#include "cuda/prefill_attention_kernel.h"
#include "cuda/sample_kernel.h"
#include "cuda/skinny_gemm_kernel.h"
#include "engine/cuda/decode_attention_split.h"
#include "engine/cuda/device_sample_batch.h"

namespace pagoda::bench {
namespace {

double time_gemm(cuda::CublasLtGemm& g, const cuda::GemmArgs& a, const Effort& e) {
  return time_launch([&] { return g.run(a, nullptr).ok(); }, e.warmups, e.runs);
}

// Fills `n` elements at `dst` with a 64 Ki-element block of random values
// repeated: realistic data without drawing gigabytes on the host.
template <typename T, typename Make>
bool fill_repeated(T* dst, std::int64_t n, Make make) {
  std::vector<T> block(std::size_t{1} << 16);
  for (T& v : block)
    v = make();
  for (std::int64_t at = 0; at < n; at += static_cast<std::int64_t>(block.size())) {
    const std::int64_t count = std::min<std::int64_t>(static_cast<std::int64_t>(block.size()), n - at);
    if (!check(cudaMemcpy(dst + at, block.data(), static_cast<std::size_t>(count) * sizeof(T),
                          cudaMemcpyHostToDevice),
               "cudaMemcpy"))
      return false;
  }
  return true;
}

// One layer's K and V caches of `num_blocks` blocks of 16 positions, random
// bf16, and queries for `num_tokens` tokens; the caller's block tables map them.
struct AttentionInputs {
  static constexpr std::int64_t kBlockSize = 16;
  cuda::DeviceBuffer k, v, q, out;
  bool make(const ModelConfig& c, std::int64_t num_blocks, std::int64_t num_tokens, std::mt19937& rng) {
    const std::int64_t cache = num_blocks * c.num_key_value_heads * kBlockSize * c.head_dim;
    const std::int64_t q_elems = num_tokens * c.num_attention_heads * c.head_dim;
    auto kb = cuda::DeviceBuffer::allocate(static_cast<std::size_t>(cache) * 2, "K cache");
    auto vb = cuda::DeviceBuffer::allocate(static_cast<std::size_t>(cache) * 2, "V cache");
    auto qb = cuda::DeviceBuffer::allocate(static_cast<std::size_t>(q_elems) * 4, "q");
    auto ob = cuda::DeviceBuffer::allocate(static_cast<std::size_t>(q_elems) * 2, "out");
    if (!kb.ok() || !vb.ok() || !qb.ok() || !ob.ok()) {
      std::fprintf(stderr, "attention table: cannot allocate %lld cache elements\n",
                   static_cast<long long>(cache));
      return false;
    }
    k = std::move(kb).value();
    v = std::move(vb).value();
    q = std::move(qb).value();
    out = std::move(ob).value();
    std::uniform_real_distribution<float> kv_dist(-1.0f, 1.0f), q_dist(-3.0f, 3.0f);
    return fill_repeated(k.as<std::uint16_t>(), cache, [&] { return f32_to_bf16(kv_dist(rng)); }) &&
           fill_repeated(v.as<std::uint16_t>(), cache, [&] { return f32_to_bf16(kv_dist(rng)); }) &&
           fill_repeated(q.as<float>(), q_elems, [&] { return q_dist(rng); });
  }
  // The fields both attention kernels' parameters take from these inputs.
  template <typename Params>
  void describe(const ModelConfig& c, Params* p) const {
    p->q = q.as<float>();
    p->out = out.as<std::uint16_t>();
    p->k_cache = k.as<std::uint16_t>();
    p->v_cache = v.as<std::uint16_t>();
    p->num_heads = c.num_attention_heads;
    p->num_kv_heads = c.num_key_value_heads;
    p->head_dim = c.head_dim;
    p->block_size = kBlockSize;
    p->scale = 1.0f / std::sqrt(static_cast<float>(c.head_dim));
  }
};

// Block ids 0..n-1 in random order: a cache whose sequences' blocks are scattered.
std::vector<std::int32_t> scattered_blocks(std::int64_t n, std::mt19937& rng) {
  std::vector<std::int32_t> blocks(static_cast<std::size_t>(n));
  std::iota(blocks.begin(), blocks.end(), 0);
  std::shuffle(blocks.begin(), blocks.end(), rng);
  return blocks;
}

template <typename T>
bool upload(const std::vector<T>& host, cuda::DeviceBuffer* dst) {
  auto b = cuda::DeviceBuffer::allocate(std::max<std::size_t>(host.size(), 1) * sizeof(T), "table");
  if (!b.ok()) return false;
  *dst = std::move(b).value();
  return check(cudaMemcpy(dst->get(), host.data(), host.size() * sizeof(T), cudaMemcpyHostToDevice),
               "cudaMemcpy");
}

// `batch` decode rows of `context` positions each, their blocks scattered
// over the cache: the index arrays of both decode forms (split-KV, and the
// batch-invariant mode's one-token prefill tiles).
struct DecodeInputs {
  AttentionInputs in;
  cuda::DeviceBuffer tables, offsets, positions, tiles;
  std::int64_t batch = 0, context = 0;
  bool make(const ModelConfig& c, std::int64_t num_rows, std::int64_t num_positions) {
    batch = num_rows;
    context = num_positions;
    constexpr std::int64_t bs = AttentionInputs::kBlockSize;
    const std::int64_t per_seq = (context + bs - 1) / bs;
    std::mt19937 rng(3);
    if (!in.make(c, batch * per_seq, batch, rng)) return false;
    std::vector<std::int32_t> row_offsets, row_positions;
    std::vector<cuda::PrefillTile> row_tiles;
    for (std::int64_t i = 0; i < batch; ++i) {
      const auto offset = static_cast<std::int32_t>(i * per_seq);
      row_offsets.push_back(offset);
      row_positions.push_back(static_cast<std::int32_t>(context - 1));
      row_tiles.push_back({static_cast<std::int32_t>(i), 1, static_cast<std::int32_t>(context - 1), offset});
    }
    return upload(scattered_blocks(batch * per_seq, rng), &tables) && upload(row_offsets, &offsets) &&
           upload(row_positions, &positions) && upload(row_tiles, &tiles);
  }
};

// Split-KV decode attention at the runner's split count (*num_splits); ms per
// launch, -1 on failure.
double time_decode_attention(const ModelConfig& c, int num_sms, const DecodeInputs& d, const Effort& e,
                             std::int64_t* num_splits) {
  // The runner's workspace holds at least 1,024 (row, split) pairs, which
  // none of the table's cases needs; this one does not limit them either.
  *num_splits =
      cuda::decode_attention_splits(d.batch, c.num_key_value_heads, d.context, num_sms, d.batch * 4096);
  const std::int64_t nq = c.num_attention_heads, hd = c.head_dim;
  auto ws = cuda::DeviceBuffer::allocate(
      static_cast<std::size_t>(cuda::paged_attention_workspace_floats(d.batch, nq, *num_splits, hd)) * 4,
      "attention workspace");
  if (!ws.ok()) return -1;
  cuda::PagedAttentionParams p;
  d.in.describe(c, &p);
  p.positions = d.positions.as<std::int32_t>();
  p.block_tables = d.tables.as<std::int32_t>();
  p.block_table_offsets = d.offsets.as<std::int32_t>();
  p.partial_out = ws->as<float>();
  p.partial_max = p.partial_out + d.batch * nq * *num_splits * hd;
  p.partial_sum = p.partial_max + d.batch * nq * *num_splits;
  p.num_tokens = d.batch;
  p.num_splits = *num_splits;
  p.split_size = cuda::decode_split_size(d.context, *num_splits);
  return time_launch([&] { return check(cuda::launch_paged_attention(p, nullptr), "paged attention"); },
                     e.warmups, e.runs);
}

// The batch-invariant mode's decode attention: one-token prefill tiles,
// `heads_per_tile` query heads a CTA, KV splits of kv_split positions (0:
// none) run apart in `slots` grid rows (0: in one CTA); ms per launch (both
// kernels when apart), -1 on failure.
double time_tiled_decode_attention(const ModelConfig& c, const DecodeInputs& d, int heads_per_tile,
                                   int kv_split, int max_splits, int slots, const Effort& e) {
  cuda::PrefillAttentionParams p;
  d.in.describe(c, &p);
  p.block_tables = d.tables.as<std::int32_t>();
  p.tiles = d.tiles.as<cuda::PrefillTile>();
  p.num_tiles = d.batch;
  p.heads_per_tile = heads_per_tile;
  p.kv_split = kv_split;
  cuda::DeviceBuffer partials;
  if (slots > 0) {
    const std::int64_t pairs = d.batch * c.num_attention_heads * max_splits;
    auto b = cuda::DeviceBuffer::allocate(static_cast<std::size_t>(pairs * (c.head_dim + 2)) * 4, "partials");
    if (!b.ok()) return -1;
    partials = std::move(b).value();
    p.partial_out = partials.as<float>();
    p.partial_max = p.partial_out + pairs * c.head_dim;
    p.partial_sum = p.partial_max + pairs;
    p.max_splits = max_splits;
    p.split_slots = slots;
  }
  return time_launch(
      [&] { return check(cuda::launch_prefill_attention(p, nullptr), "tiled decode attention"); }, e.warmups,
      e.runs);
}

// Prefill attention of one prompt of `len` tokens in tiles of 64 rows, as the
// runner cuts a chunk, `warp_rows` query rows per warp; ms per launch, -1 on
// failure.
double time_prefill_attention(const ModelConfig& c, std::int64_t len, int warp_rows, const Effort& e) {
  constexpr std::int64_t bs = AttentionInputs::kBlockSize;
  const std::int64_t blocks = (len + bs - 1) / bs;
  std::mt19937 rng(4);
  AttentionInputs in;
  if (!in.make(c, blocks, len, rng)) return -1;
  const std::vector<std::int32_t> table = scattered_blocks(blocks, rng);
  std::vector<cuda::PrefillTile> tiles;
  for (std::int64_t r = 0; r < len; r += cuda::kPrefillTileRows) {
    const auto rows = static_cast<std::int32_t>(std::min<std::int64_t>(cuda::kPrefillTileRows, len - r));
    tiles.push_back({static_cast<std::int32_t>(r), rows, static_cast<std::int32_t>(r), 0});
  }
  cuda::DeviceBuffer d_table, d_tiles;
  if (!upload(table, &d_table) || !upload(tiles, &d_tiles)) return -1;
  cuda::PrefillAttentionParams p;
  in.describe(c, &p);
  p.block_tables = d_table.as<std::int32_t>();
  p.tiles = d_tiles.as<cuda::PrefillTile>();
  p.num_tiles = static_cast<std::int64_t>(tiles.size());
  p.warp_rows = warp_rows;
  return time_launch([&] { return check(cuda::launch_prefill_attention(p, nullptr), "prefill attention"); },
                     e.warmups, e.runs);
}

// One sampler table line per kind: `rows` rows of `logits` ([rows][vocab]),
// timed with each lane's own adds and with the warp's. Every row's history
// is `history` (its last quarter the output), held in the KV slots of blocks
// 0, 1, ... of 16.
template <typename Kinds>
bool sample_rows_timed(const ModelConfig& c, const Effort& e, std::int64_t rows, const char* logits_name,
                       const std::vector<float>& logits, const std::vector<std::int32_t>& history,
                       const Kinds& kinds) {
  constexpr std::int32_t kBlockSize = 16;
  std::vector<std::int32_t> table((history.size() + kBlockSize - 1) / kBlockSize);
  for (std::size_t b = 0; b < table.size(); ++b)
    table[b] = static_cast<std::int32_t>(b);
  cuda::DeviceBuffer d_logits, d_rows, d_edits, d_history, d_table;
  const bool made = upload(logits, &d_logits) && upload(history, &d_history) && upload(table, &d_table);
  auto processed = cuda::DeviceBuffer::allocate(logits.size() * sizeof(float), "bench sampler scratch");
  auto counts = cuda::DeviceBuffer::allocate(logits.size() * sizeof(std::uint32_t), "bench sampler counts");
  auto out = cuda::DeviceBuffer::allocate(static_cast<std::size_t>(rows) * sizeof(cuda::SampleRowOutput),
                                          "bench sampler outputs");
  bool ok = true;
  for (const auto& k : kinds) {
    cuda::DeviceSampleBatch batch;
    std::vector<ScheduledSequence> seqs(static_cast<std::size_t>(rows));
    bool rows_made = made && processed.ok() && counts.ok() && out.ok();
    for (std::int64_t r = 0; r < rows && rows_made; ++r) {
      ScheduledSequence& s = seqs[static_cast<std::size_t>(r)];
      s.token_ids = history;
      s.num_prompt_tokens = static_cast<std::int32_t>(history.size() - history.size() / 4);
      s.num_output_tokens = static_cast<std::int32_t>(history.size() / 4);
      s.sampling = &k.params;
      s.seed = static_cast<std::uint64_t>(r);
      rows_made = cuda::append_device_sample_row(s, r, 0, {}, c.vocab_size, &batch);
    }
    rows_made =
        rows_made && upload(batch.rows, &d_rows) && (batch.edits.empty() || upload(batch.edits, &d_edits));
    double ms[2] = {-1, -1};
    for (const bool aggregated : {false, true}) {
      if (!rows_made) break;
      cuda::SampleParams p;
      p.logits = d_logits.as<float>();
      p.rows = d_rows.as<cuda::SampleRowParams>();
      p.edits = d_edits.as<cuda::LogitEdit>();
      p.history = {d_history.as<std::int32_t>(), d_table.as<std::int32_t>(), kBlockSize};
      p.counts = counts->as<std::uint32_t>();
      p.processed = processed->as<float>();
      p.out = out->as<cuda::SampleRowOutput>();
      p.num_rows = rows;
      p.vocab_size = c.vocab_size;
      p.row_stride = c.vocab_size;
      p.warp_aggregated_adds = aggregated;
      ms[aggregated ? 1 : 0] =
          time_launch([&] { return cuda::launch_sample(p, nullptr) == cudaSuccess; }, e.warmups, e.runs);
    }
    ok = ok && ms[0] >= 0 && ms[1] >= 0;
    std::printf("  %3lld rows, %-22s %-28s: %8.4f / %8.4f ms\n", static_cast<long long>(rows), logits_name,
                k.name, ms[0], ms[1]);
  }
  return ok;
}

}  // namespace

bool gemm_shape_table(const ModelConfig& c, double bandwidth, const Effort& e) {
  bool ok = true;
  struct Shape {
    const char* name;
    std::int64_t n, k;
  };
  const std::int64_t h = c.hidden_size, q = static_cast<std::int64_t>(c.num_attention_heads) * c.head_dim,
                     kv = static_cast<std::int64_t>(c.num_key_value_heads) * c.head_dim;
  const Shape shapes[] = {{"qkv", q + 2 * kv, h},
                          {"o_proj", h, q},
                          {"gate_up", 2 * static_cast<std::int64_t>(c.intermediate_size), h},
                          {"down", h, c.intermediate_size},
                          {"lm_head", c.vocab_size, h}};
  // Every product reads x as [m, k] and writes y as [m, n]: buffers for the largest of each.
  std::int64_t max_w = 0, max_x = 0, max_y = 0;
  for (const Shape& sh : shapes) {
    for (std::int64_t m : e.table_m) {
      max_w = std::max(max_w, sh.n * sh.k);
      max_x = std::max(max_x, m * sh.k);
      max_y = std::max(max_y, m * sh.n);
    }
  }
  std::mt19937 rng(2);
  std::normal_distribution<float> dist(0.0f, 1.0f);
  auto w = cuda::DeviceBuffer::allocate(static_cast<std::size_t>(max_w) * 2, "w");
  auto x = cuda::DeviceBuffer::allocate(static_cast<std::size_t>(max_x) * 2, "x");
  auto y = cuda::DeviceBuffer::allocate(static_cast<std::size_t>(max_y) * 4, "y");
  auto heuristic = cuda::CublasLtGemm::create(32u << 20);
  auto tuned = cuda::CublasLtGemm::create(32u << 20);
  if (!w.ok() || !x.ok() || !y.ok() || !heuristic.ok() || !tuned.ok()) {
    std::fprintf(stderr, "GEMM table: cannot allocate its buffers or cuBLASLt handles\n");
    return false;
  }
  (*heuristic)->set_autotune_max_m(0);
  // (The 8B shape's lm_head alone is 622 M weights: too many to draw one by one.)
  const auto draw = [&] { return f32_to_bf16(dist(rng)); };
  if (!fill_repeated(w->as<std::uint16_t>(), max_w, draw) ||
      !fill_repeated(x->as<std::uint16_t>(), max_x, draw))
    return false;
  std::printf(
      "GEMM (cuBLASLt bf16 -> f32): us per product, heuristic pick / timed pick (%% of copy bandwidth); "
      "ours: the skinny GEMM; inv: the batch-invariant one\n");
  for (const Shape& sh : shapes) {
    std::printf("  %-8s %6lld x %5lld:", sh.name, static_cast<long long>(sh.n), static_cast<long long>(sh.k));
    for (std::int64_t m : e.table_m) {
      cuda::GemmArgs a{
          x->as<std::uint16_t>(), w->as<std::uint16_t>(), y->as<float>(), m, sh.n, sh.k, sh.k, sh.k, sh.n};
      const double bytes = 2.0 * sh.n * sh.k + 2.0 * m * sh.k + 4.0 * m * sh.n;
      const double th = time_gemm(**heuristic, a, e), tt = time_gemm(**tuned, a, e);
      ok = ok && th >= 0 && tt >= 0;
      std::printf("  m=%-3lld %6.1f/%6.1f (%3.0f%%)", static_cast<long long>(m), th * 1e3, tt * 1e3,
                  100.0 * bytes / (tt * 1e-3) / bandwidth);
      const cuda::SkinnyGemmParams sp{a.x, a.w, a.y, m, sh.n, sh.k, sh.k, sh.k, sh.n, 0};
      if (cuda::skinny_gemm_supports(sp)) {
        const double ts = time_launch([&] { return cuda::launch_skinny_gemm(sp, nullptr) == cudaSuccess; },
                                      e.warmups, e.runs);
        ok = ok && ts >= 0;
        std::printf(" ours %6.1f (%3.0f%%)", ts * 1e3, 100.0 * bytes / (ts * 1e-3) / bandwidth);
      }
      cuda::InvariantGemmParams ip{a.x, a.w, a.y, m, sh.n, sh.k, sh.k, sh.k, sh.n};
      ip.block_rows = cuda::invariant_gemm_block_rows(m);
      if (cuda::invariant_gemm_supports(ip)) {
        const double ti = time_launch([&] { return cuda::launch_invariant_gemm(ip, nullptr) == cudaSuccess; },
                                      e.warmups, e.runs);
        ok = ok && ti >= 0;
        std::printf(" inv %6.1f (%3.0f%%)", ti * 1e3, 100.0 * bytes / (ti * 1e-3) / bandwidth);
      }
    }
    std::printf("\n");
  }
  return ok;
}

bool attention_table(const ModelConfig& c, int num_sms, double bandwidth, double gemm_rate, const Effort& e) {
  bool ok = true;
  std::printf(
      "attention (one layer, tp 1, blocks of 16 scattered): decode = split-KV + combine at the runner's "
      "splits, GB/s of K and V read (%% of copy bandwidth), and the batch-invariant mode's one-token tiles; "
      "prefill = one prompt, TFLOP/s (%% of the GEMM rate)\n");
  const double kv_bytes_per_position = 2.0 * c.num_key_value_heads * c.head_dim * 2;  // K and V, bf16
  // The batch-invariant mode packs a KV head's query heads into a tile (as the
  // runner does; one head a tile shows what that saves) and splits contexts
  // every 512 positions, folded in the CTA or run apart in as many grid rows
  // as the runner's default limits give them (a graph's max_splits: those of
  // max_position_embeddings). head_dim > 128 has no splits.
  const int group = c.num_attention_heads / c.num_key_value_heads;
  const int packed = std::min(group & -group, static_cast<int>(cuda::kPrefillTileRows));
  constexpr int kKvSplit = 512;              // CudaRunnerOptions::batch_invariant_kv_split's default
  constexpr std::int64_t kSplitRows = 8192;  // the runner's attention workspace: CudaStepLimits::max_tokens
  const auto max_splits = static_cast<int>((c.max_position_embeddings + kKvSplit - 1) / kKvSplit);
  for (const auto& [batch, context] : e.decode_attention) {
    DecodeInputs d;
    std::int64_t splits = 0;
    const bool made = d.make(c, batch, context);
    const double ms = made ? time_decode_attention(c, num_sms, d, e, &splits) : -1;
    const double one = made ? time_tiled_decode_attention(c, d, 1, 0, 0, 0, e) : -1;
    const double inv = made ? time_tiled_decode_attention(c, d, packed, 0, 0, 0, e) : -1;
    ok = ok && ms >= 0 && one >= 0 && inv >= 0;
    const double bytes = kv_bytes_per_position * static_cast<double>(batch * context);
    const auto gb_s = [&](double t) { return bytes / (t * 1e-3) / 1e9; };
    std::printf(
        "  decode batch %3lld, context %5lld: %3lld splits, %8.4f ms, %6.0f GB/s (%3.0f%%); invariant tiles: "
        "1 head %8.4f ms, %d heads %8.4f ms (%6.0f GB/s)",
        static_cast<long long>(batch), static_cast<long long>(context), static_cast<long long>(splits), ms,
        gb_s(ms), 100.0 * gb_s(ms) * 1e9 / bandwidth, one, packed, inv, gb_s(inv));
    if (c.head_dim <= 128) {
      const int slots = cuda::invariant_decode_split_slots(batch, batch, c.num_attention_heads, packed,
                                                           max_splits, num_sms, kSplitRows);
      const double split =
          made ? time_tiled_decode_attention(c, d, packed, kKvSplit, max_splits, slots, e) : -1;
      ok = ok && split >= 0;
      std::printf(
          "; splits of %d %s %8.4f ms (%6.0f GB/s)", kKvSplit,
          slots > 0 ? ("apart in " + std::to_string(slots) + " grid rows").c_str() : "folded in the CTA",
          split, gb_s(split));
    }
    std::printf("\n");
  }
  // The runner's 16 query rows per warp, and 32 (two m-tiles) to compare.
  for (const std::int64_t len : e.prefill_attention) {
    for (const int warp_rows : {16, 32}) {
      if (warp_rows == 32 && c.head_dim > 128) continue;
      const double ms = time_prefill_attention(c, len, warp_rows, e);
      ok = ok && ms >= 0;
      const double flops =
          4.0 * c.num_attention_heads * c.head_dim * static_cast<double>(len) * (len + 1) / 2;
      std::printf("  prefill %5lld tokens, %d rows per warp: %8.4f ms, %6.1f TFLOP/s (%3.0f%%)\n",
                  static_cast<long long>(len), warp_rows, ms, flops / (ms * 1e-3) / 1e12,
                  100.0 * flops / (ms * 1e-3) / gemm_rate);
    }
  }
  return ok;
}

bool sampler_table(const ModelConfig& c, const Effort& e) {
  std::printf(
      "device sampler (a block per row, vocabulary %d): ms per launch with each lane's own histogram "
      "adds / the warp's adds to a bucket summed first (the default)\n",
      c.vocab_size);
  struct Kind {
    const char* name;
    SamplingParams params;
  };
  std::vector<Kind> kinds(8);
  kinds[0].name = "temperature 1";  // the OpenAI API's default: a draw in id order
  kinds[1].name = "temperature 0.8, top_p 0.95";
  kinds[1].params = chat_sampling();
  kinds[2].name = "0.6, top_k 20, top_p 0.95";  // Qwen 3's suggested settings
  kinds[2].params.temperature = 0.6;
  kinds[2].params.top_k = 20;
  kinds[2].params.top_p = 0.95;
  kinds[3].name = "min_p 0.05";
  kinds[3].params.min_p = 0.05;
  // Top logprobs: 6 a pass per token, from 7 a radix select
  // (sample_row.h, kTopLogprobsBySelectFrom): 6 against 7 tells whether the
  // select pays where it starts.
  kinds[4].name = "temperature 1, 6 logprobs";
  kinds[4].params.logprobs = 6;
  kinds[5].name = "temperature 1, 7 logprobs";
  kinds[5].params.logprobs = 7;
  kinds[6].name = "temperature 1, 20 logprobs";
  kinds[6].params.logprobs = 20;
  // Kind 1 with penalties, which count the row's 4,096-token history on the
  // device (row_edits.h).
  kinds[7].name = "0.8, top_p, penalties, 4096 history";
  kinds[7].params = penalized_sampling();
  // N(0, 3): at temperature 1 nearly every logit is within 27.75 of the
  // maximum, so nearly every weight needs an exp (at 0.6 and 0.8, fewer).
  // Peaked: one token in 1,000 raised by 25, as a confident model's row,
  // where most weights are 0 without one (sample_row.h, kZeroWeightBelow).
  struct Logits {
    const char* name;
    float raise;
  };
  const Logits shapes[] = {{"N(0, 3)", 0.0f}, {"N(0, 3), 1 in 1000 +25", 25.0f}};
  // A 4,096-token history, a third of it from 97 tokens, repeated (only rows
  // with penalties read it).
  std::vector<std::int32_t> history(4096);
  for (std::size_t i = 0; i < history.size(); ++i)
    history[i] = static_cast<std::int32_t>((i % 3 == 0 ? i % 97 : i * 7919) % c.vocab_size);
  std::mt19937 rng(7);
  std::normal_distribution<float> normal(0.0f, 3.0f);
  bool ok = true;
  for (const std::int64_t rows : e.sample_rows) {
    for (const Logits& shape : shapes) {
      std::vector<float> logits(static_cast<std::size_t>(rows * c.vocab_size));
      for (std::size_t i = 0; i < logits.size(); ++i)
        logits[i] = normal(rng) + (i % 1000 == 7 ? shape.raise : 0.0f);
      ok = sample_rows_timed(c, e, rows, shape.name, logits, history, kinds) && ok;
    }
  }
  return ok;
}

}  // namespace pagoda::bench
