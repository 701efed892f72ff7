// The CUDA paged attention (split-KV with a combine pass) against a naive
// double-precision attention: GQA groups 1 to 16, head_dim 32 to 256, block
// sizes 1 and 16, scattered blocks, prefill chunks over a cached prefix mixed
// with decode tokens in one launch, and several split layouts that must agree.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <numeric>
#include <random>
#include <string>
#include <vector>

#include "base/bf16.h"
#include "cuda/paged_attention_kernel.h"
#include "tests/cuda/kernel_test_util.h"

namespace pagoda::cuda {
namespace {

using kernel_test::alloc_poisoned;
using kernel_test::bf16_to_f32_vector;
using kernel_test::count_non_finite;
using kernel_test::download;
using kernel_test::kPoisonBf16;
using kernel_test::max_abs;
using kernel_test::random_f32;
using kernel_test::rel_error;
using kernel_test::sync_device;
using kernel_test::upload;

using CudaAttentionTest = kernel_test::CudaKernelTest;

// One sequence: kv_len cached positions; its query tokens are the last
// num_queries of them (a prefill chunk over a cached prefix, or one decode token).
struct SeqSpec {
  std::int32_t kv_len;
  std::int32_t num_queries;
};

struct AttentionCase {
  std::int64_t num_heads, num_kv_heads, head_dim, block_size;
  std::vector<SeqSpec> seqs;
};

// Host inputs of one launch.
struct AttentionInputs {
  std::int64_t num_tokens = 0;
  std::int64_t max_ctx = 0;
  std::vector<float> q;                     // [num_tokens, num_heads, head_dim]
  std::vector<std::uint16_t> k_cache;       // [num_blocks, num_kv_heads, block_size, head_dim]
  std::vector<std::uint16_t> v_cache;       // same layout
  std::vector<std::int32_t> positions;      // [num_tokens]
  std::vector<std::int32_t> block_tables;   // every sequence's table, concatenated
  std::vector<std::int32_t> table_offsets;  // [num_tokens] start of the token's table
};

std::string describe(const AttentionCase& c) {
  std::string s = "heads " + std::to_string(c.num_heads) + "/" + std::to_string(c.num_kv_heads) +
                  " head_dim " + std::to_string(c.head_dim) + " block_size " + std::to_string(c.block_size) +
                  " seqs";
  for (const SeqSpec& q : c.seqs) {
    s += ' ';
    s += std::to_string(q.kv_len);
    s += 'x';
    s += std::to_string(q.num_queries);
  }
  return s;
}

AttentionInputs make_inputs(const AttentionCase& c, std::mt19937& rng) {
  const std::int64_t nkv = c.num_kv_heads, hd = c.head_dim, bs = c.block_size;
  AttentionInputs in;
  // Blocks come from a shuffled pool; three spare blocks belong to nobody.
  std::int64_t num_blocks = 3;
  for (const SeqSpec& s : c.seqs)
    num_blocks += (s.kv_len + bs - 1) / bs;
  std::vector<std::int32_t> pool(static_cast<std::size_t>(num_blocks));
  std::iota(pool.begin(), pool.end(), 0);
  std::shuffle(pool.begin(), pool.end(), rng);
  // Unowned blocks and the tail of each last block stay NaN: reading them poisons the output.
  const auto cache_elems = static_cast<std::size_t>(num_blocks * nkv * bs * hd);
  in.k_cache.assign(cache_elems, kPoisonBf16);
  in.v_cache.assign(cache_elems, kPoisonBf16);
  std::uniform_real_distribution<float> kv_dist(-1.0f, 1.0f);
  std::size_t next_block = 0;
  struct Token {
    std::int32_t position, offset;
  };
  std::vector<Token> tokens;
  for (const SeqSpec& s : c.seqs) {
    const auto offset = static_cast<std::int32_t>(in.block_tables.size());
    const std::int64_t blocks = (s.kv_len + bs - 1) / bs;
    for (std::int64_t b = 0; b < blocks; ++b)
      in.block_tables.push_back(pool[next_block++]);
    for (std::int64_t pos = 0; pos < s.kv_len; ++pos) {
      const std::int64_t block = in.block_tables[static_cast<std::size_t>(offset + pos / bs)];
      for (std::int64_t h = 0; h < nkv; ++h) {
        const auto base = static_cast<std::size_t>(((block * nkv + h) * bs + pos % bs) * hd);
        for (std::int64_t d = 0; d < hd; ++d) {
          in.k_cache[base + static_cast<std::size_t>(d)] = f32_to_bf16(kv_dist(rng));
          in.v_cache[base + static_cast<std::size_t>(d)] = f32_to_bf16(kv_dist(rng));
        }
      }
    }
    for (std::int32_t pos = s.kv_len - s.num_queries; pos < s.kv_len; ++pos)
      tokens.push_back({pos, offset});
    in.max_ctx = std::max<std::int64_t>(in.max_ctx, s.kv_len);
  }
  // Interleave the sequences' tokens: each token must find its own table.
  std::shuffle(tokens.begin(), tokens.end(), rng);
  for (const Token& t : tokens) {
    in.positions.push_back(t.position);
    in.table_offsets.push_back(t.offset);
  }
  in.num_tokens = static_cast<std::int64_t>(tokens.size());
  // q of magnitude ~3 against k in [-1, 1] gives scores of about unit spread
  // after the head_dim^-0.5 scale: softmaxes neither flat nor one-hot.
  in.q = random_f32(rng, static_cast<std::size_t>(in.num_tokens * c.num_heads * hd), -3.0f, 3.0f);
  return in;
}

// Softmax attention in double precision, written out naively over the paged
// cache: out [num_tokens, num_heads * head_dim]. (The CPU backend's kernel
// rounds q and the softmax weights to bf16 for its products, which this f32
// kernel does not; it is compared with the CPU backend through whole-model
// tests instead.)
std::vector<float> reference_attention(const AttentionCase& c, const AttentionInputs& in) {
  const std::int64_t hd = c.head_dim, bs = c.block_size, group = c.num_heads / c.num_kv_heads;
  std::vector<float> out(static_cast<std::size_t>(in.num_tokens * c.num_heads * hd));
  const double scale = 1.0 / std::sqrt(static_cast<double>(hd));
  for (std::int64_t t = 0; t < in.num_tokens; ++t) {
    const std::int32_t* table = in.block_tables.data() + in.table_offsets[static_cast<std::size_t>(t)];
    const std::int64_t ctx = in.positions[static_cast<std::size_t>(t)] + 1;
    auto row = [&](const std::vector<std::uint16_t>& cache, std::int64_t pos, std::int64_t kv_head) {
      return cache.data() + ((table[pos / bs] * c.num_kv_heads + kv_head) * bs + pos % bs) * hd;
    };
    for (std::int64_t h = 0; h < c.num_heads; ++h) {
      const float* q = in.q.data() + (t * c.num_heads + h) * hd;
      std::vector<double> w(static_cast<std::size_t>(ctx));
      double top = -1e300;
      for (std::int64_t j = 0; j < ctx; ++j) {
        const std::uint16_t* k = row(in.k_cache, j, h / group);
        double dot = 0;
        for (std::int64_t d = 0; d < hd; ++d)
          dot += static_cast<double>(q[d]) * bf16_to_f32(k[d]);
        w[static_cast<std::size_t>(j)] = dot * scale;
        top = std::max(top, dot * scale);
      }
      double sum = 0;
      for (double& x : w)
        sum += (x = std::exp(x - top));
      for (std::int64_t d = 0; d < hd; ++d) {
        double acc = 0;
        for (std::int64_t j = 0; j < ctx; ++j)
          acc += w[static_cast<std::size_t>(j)] * bf16_to_f32(row(in.v_cache, j, h / group)[d]);
        out[static_cast<std::size_t>((t * c.num_heads + h) * hd + d)] = static_cast<float>(acc / sum);
      }
    }
  }
  return out;
}

struct DeviceInputs {
  DeviceBuffer q, k_cache, v_cache, positions, block_tables, table_offsets;
};

void upload_inputs(const AttentionInputs& in, DeviceInputs* d) {
  ASSERT_NO_FATAL_FAILURE(upload(in.q, &d->q));
  ASSERT_NO_FATAL_FAILURE(upload(in.k_cache, &d->k_cache));
  ASSERT_NO_FATAL_FAILURE(upload(in.v_cache, &d->v_cache));
  ASSERT_NO_FATAL_FAILURE(upload(in.positions, &d->positions));
  ASSERT_NO_FATAL_FAILURE(upload(in.block_tables, &d->block_tables));
  ASSERT_NO_FATAL_FAILURE(upload(in.table_offsets, &d->table_offsets));
}

// How a launch names its work: all rows with a host split size, or (as the
// CUDA runner's decode rows and graph replays do) a list of rows and a split
// size read from device memory.
struct LaunchForm {
  std::vector<std::int32_t> rows;  // empty: every row
  bool split_size_on_device = false;
};

// One launch with the given split layout; out and the workspace start as NaN.
void run_cuda_attention(const AttentionCase& c, const AttentionInputs& in, const DeviceInputs& d,
                        std::int64_t num_splits, std::int64_t split_size, std::vector<std::uint16_t>* out,
                        const LaunchForm& form = {}) {
  DeviceBuffer d_out, d_ws, d_rows, d_split;
  const std::int64_t items = form.rows.empty() ? in.num_tokens : static_cast<std::int64_t>(form.rows.size());
  const std::int64_t out_elems = in.num_tokens * c.num_heads * c.head_dim;
  const std::int64_t ws_floats = paged_attention_workspace_floats(items, c.num_heads, num_splits, c.head_dim);
  ASSERT_EQ(ws_floats, items * c.num_heads * num_splits * (c.head_dim + 2));
  ASSERT_NO_FATAL_FAILURE(alloc_poisoned<std::uint16_t>(static_cast<std::size_t>(out_elems), &d_out));
  ASSERT_NO_FATAL_FAILURE(alloc_poisoned<float>(static_cast<std::size_t>(ws_floats), &d_ws));
  PagedAttentionParams p;
  p.q = d.q.as<float>();
  p.out = d_out.as<std::uint16_t>();
  p.k_cache = d.k_cache.as<std::uint16_t>();
  p.v_cache = d.v_cache.as<std::uint16_t>();
  p.positions = d.positions.as<std::int32_t>();
  p.block_tables = d.block_tables.as<std::int32_t>();
  p.block_table_offsets = d.table_offsets.as<std::int32_t>();
  const std::int64_t partial = items * c.num_heads * num_splits;
  p.partial_out = d_ws.as<float>();
  p.partial_max = p.partial_out + partial * c.head_dim;
  p.partial_sum = p.partial_max + partial;
  p.num_tokens = items;
  if (!form.rows.empty()) {
    ASSERT_NO_FATAL_FAILURE(upload(form.rows, &d_rows));
    p.token_rows = d_rows.as<std::int32_t>();
  }
  if (form.split_size_on_device) {
    ASSERT_NO_FATAL_FAILURE(
        upload(std::vector<std::int32_t>{static_cast<std::int32_t>(split_size)}, &d_split));
    p.split_size_on_device = d_split.as<std::int32_t>();
  }
  p.num_heads = c.num_heads;
  p.num_kv_heads = c.num_kv_heads;
  p.head_dim = c.head_dim;
  p.block_size = c.block_size;
  p.num_splits = num_splits;
  p.split_size = form.split_size_on_device ? 0 : split_size;
  p.scale = 1.0f / std::sqrt(static_cast<float>(c.head_dim));
  PAGODA_ASSERT_CUDA(launch_paged_attention(p, nullptr));
  ASSERT_NO_FATAL_FAILURE(sync_device());
  ASSERT_NO_FATAL_FAILURE(download(d_out, out));
}

// Compares a bf16 output [num_tokens, row] with ref token by token, so that
// small-magnitude rows (long contexts) are not hidden by large ones: each
// token's relative error must be <= rel_tol, and each element within
// elem_rel * |ref| (rounding) + 1e-3 * the token's largest |ref| (f32 noise
// where values cancel).
void expect_close_per_token(const std::vector<std::uint16_t>& out, const std::vector<float>& ref,
                            std::int64_t row, double rel_tol, double elem_rel) {
  ASSERT_EQ(out.size(), ref.size());
  const auto n = static_cast<std::int64_t>(ref.size()) / row;
  double worst = 0.0;
  std::int64_t worst_token = -1, num_bad = 0, first_bad = -1;
  for (std::int64_t t = 0; t < n; ++t) {
    std::vector<float> o(static_cast<std::size_t>(row)), r(static_cast<std::size_t>(row));
    for (std::int64_t i = 0; i < row; ++i) {
      o[static_cast<std::size_t>(i)] = bf16_to_f32(out[static_cast<std::size_t>(t * row + i)]);
      r[static_cast<std::size_t>(i)] = ref[static_cast<std::size_t>(t * row + i)];
    }
    const double err = rel_error(o, r);
    if (!(err <= worst)) {  // NaN sticks
      worst = err;
      worst_token = t;
    }
    const double abs_tol = 1e-3 * max_abs(r);
    for (std::int64_t i = 0; i < row; ++i) {
      const double diff =
          std::fabs(static_cast<double>(o[static_cast<std::size_t>(i)]) - r[static_cast<std::size_t>(i)]);
      if (!(diff <= elem_rel * std::fabs(r[static_cast<std::size_t>(i)]) + abs_tol)) {
        if (first_bad < 0) first_bad = t * row + i;
        ++num_bad;
      }
    }
  }
  EXPECT_LE(worst, rel_tol) << "worst token " << worst_token;
  EXPECT_EQ(num_bad, 0) << "first bad element " << first_bad;
}

TEST_F(CudaAttentionTest, PagedAttentionMatchesReferenceForEverySplitLayout) {
  std::mt19937 rng(707);
  const std::vector<AttentionCase> cases = {
      {2, 2, 128, 16, {{4000, 5}, {97, 7}, {1, 1}, {200, 1}, {17, 17}}},  // group 1
      {4, 2, 64, 1, {{97, 4}, {1, 1}, {33, 1}, {4000, 1}}},               // group 2, one position per block
      {8, 2, 128, 16, {{4000, 3}, {97, 1}, {1, 1}, {50, 9}}},             // group 4
      {8, 1, 128, 16, {{4000, 2}, {97, 97}, {1, 1}}},                     // group 8, a whole prompt
      {16, 2, 64, 1, {{97, 5}, {1, 1}, {300, 1}}},                        // group 8
      {4, 1, 32, 16, {{97, 3}, {1, 1}, {129, 1}}},                        // head_dim 32
      {16, 1, 256, 16, {{300, 2}, {1, 1}}},           // group * head_dim = 4096, the limit
      {32, 8, 128, 1, {{4000, 2}, {97, 1}}},          // Qwen3-8B-like heads
      {10, 2, 128, 16, {{700, 1}, {97, 2}, {1, 1}}},  // group 5 (Qwen3-14B's 40/8)
      {8, 2, 256, 16, {{600, 1}, {65, 3}, {1, 1}}},   // head_dim 256, 16-byte loads
      {6, 3, 64, 1, {{1000, 1}, {257, 1}, {2, 2}}},   // group 2, head_dim 64, past a 256-position tile
  };
  for (const AttentionCase& c : cases) {
    SCOPED_TRACE(describe(c));
    const AttentionInputs in = make_inputs(c, rng);
    const std::vector<float> ref = reference_attention(c, in);
    ASSERT_EQ(count_non_finite(ref), 0) << "the reference read a poisoned cache slot";
    DeviceInputs d;
    ASSERT_NO_FATAL_FAILURE(upload_inputs(in, &d));

    // One split over everything; tile-sized, smaller and odd-sized splits,
    // the last with spare splits past every context (never read).
    struct Split {
      std::int64_t num_splits, split_size;
    };
    const std::int64_t m = in.max_ctx;
    const Split splits[] = {{1, m}, {(m + 63) / 64, 64}, {(m + 127) / 128, 128}, {(m + 199) / 200 + 2, 200}};
    const std::int64_t row = c.num_heads * c.head_dim;
    std::vector<std::uint16_t> first;
    for (const Split& s : splits) {
      SCOPED_TRACE("num_splits " + std::to_string(s.num_splits) + " split_size " +
                   std::to_string(s.split_size));
      std::vector<std::uint16_t> out;
      ASSERT_NO_FATAL_FAILURE(run_cuda_attention(c, in, d, s.num_splits, s.split_size, &out));
      ASSERT_EQ(static_cast<std::int64_t>(out.size()), in.num_tokens * row);
      EXPECT_EQ(count_non_finite(out), 0);
      EXPECT_LE(rel_error(bf16_to_f32_vector(out), ref), 1e-2);
      // Against the double-precision result: bf16 rounding (half an ulp) plus f32 noise.
      expect_close_per_token(out, ref, row, 1e-2, std::ldexp(1.01, -8));
      if (first.empty()) {
        first = out;
      } else {
        // Split layouts change only f32 summation order: at most one bf16 ulp apart.
        expect_close_per_token(out, bf16_to_f32_vector(first), row, 1e-2, std::ldexp(1.01, -7));
      }
      // The same layout over every other row, in reverse, with the split size
      // read from the device: those rows bit for bit, the others untouched.
      LaunchForm form;
      form.split_size_on_device = true;
      for (std::int64_t t = in.num_tokens - 1; t >= 0; t -= 2)
        form.rows.push_back(static_cast<std::int32_t>(t));
      std::vector<std::uint16_t> subset;
      ASSERT_NO_FATAL_FAILURE(run_cuda_attention(c, in, d, s.num_splits, s.split_size, &subset, form));
      std::int64_t mismatched = 0, written_elsewhere = 0;
      for (std::int64_t t = 0; t < in.num_tokens; ++t) {
        const bool chosen = (in.num_tokens - 1 - t) % 2 == 0;
        for (std::int64_t i = 0; i < row; ++i) {
          const std::size_t e = static_cast<std::size_t>(t * row + i);
          if (chosen && subset[e] != out[e]) ++mismatched;
          if (!chosen && subset[e] != kPoisonBf16) ++written_elsewhere;
        }
      }
      EXPECT_EQ(mismatched, 0);
      EXPECT_EQ(written_elsewhere, 0);
    }
  }
}

TEST(CudaAttentionLimitsTest, RejectsUnsupportedShapes) {
  // Refused before any CUDA call, so this runs without a device too.
  PagedAttentionParams ok;
  ok.num_tokens = 1;
  ok.num_heads = 8;
  ok.num_kv_heads = 2;
  ok.head_dim = 128;
  ok.block_size = 16;
  ok.num_splits = 1;
  ok.split_size = 64;
  auto with = [&](auto change) {
    PagedAttentionParams p = ok;
    change(p);
    return launch_paged_attention(p, nullptr);
  };
  EXPECT_EQ(with([](PagedAttentionParams& p) { p.head_dim = 48; }), cudaErrorInvalidValue);
  EXPECT_EQ(with([](PagedAttentionParams& p) { p.head_dim = 288; }), cudaErrorInvalidValue);
  EXPECT_EQ(with([](PagedAttentionParams& p) {
              p.num_heads = 6;
              p.num_kv_heads = 4;
            }),
            cudaErrorInvalidValue);
  EXPECT_EQ(with([](PagedAttentionParams& p) {
              p.num_heads = 17;
              p.num_kv_heads = 1;
            }),
            cudaErrorInvalidValue);
  EXPECT_EQ(with([](PagedAttentionParams& p) { p.num_kv_heads = 0; }), cudaErrorInvalidValue);
  EXPECT_EQ(with([](PagedAttentionParams& p) { p.num_splits = 0; }), cudaErrorInvalidValue);
  EXPECT_EQ(with([](PagedAttentionParams& p) { p.split_size = 0; }), cudaErrorInvalidValue);
  EXPECT_EQ(with([](PagedAttentionParams& p) { p.block_size = 0; }), cudaErrorInvalidValue);
  EXPECT_EQ(with([](PagedAttentionParams& p) { p.block_size = (1LL << 30) + 1; }), cudaErrorInvalidValue);
  EXPECT_EQ(with([](PagedAttentionParams& p) { p.num_tokens = 0; }), cudaSuccess);  // nothing to do
}

}  // namespace
}  // namespace pagoda::cuda
