// The element-wise and row-wise CUDA kernels and the cuBLASLt GEMM against the
// CPU backend's functions (or a double-precision loop): fresh random inputs
// for every case, awkward sizes, outputs poisoned with NaN before each launch.
// Paged attention is in cuda_attention_test.cc.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <iterator>
#include <numeric>
#include <random>
#include <string>
#include <vector>

#include "base/bf16.h"
#include "cuda/add_rms_norm_kernel.h"
#include "cuda/cublaslt_gemm.h"
#include "cuda/embedding_kernel.h"
#include "cuda/qk_norm_rope_kernel.h"
#include "cuda/rank_sum_kernel.h"
#include "cuda/rope_table_kernel.h"
#include "cuda/silu_mul_kernel.h"
#include "engine/cpu/cpu_ops.h"
#include "engine/model/model_config.h"
#include "engine/rope.h"
#include "tests/cuda/kernel_test_util.h"

namespace pagoda::cuda {
namespace {

using kernel_test::alloc_poisoned;
using kernel_test::bf16_to_f32_vector;
using kernel_test::count_bf16_mismatches;
using kernel_test::count_misrounded;
using kernel_test::count_non_finite;
using kernel_test::download;
using kernel_test::kPoisonBf16;
using kernel_test::max_abs;
using kernel_test::random_bf16;
using kernel_test::random_f32;
using kernel_test::rel_error;
using kernel_test::sync_device;
using kernel_test::upload;

using CudaKernelsTest = kernel_test::CudaKernelTest;

// RoPE frequencies of a Qwen 3-like config; YaRN (attention_scaling != 1) when asked.
RopeFrequencies test_rope(int head_dim, bool yarn) {
  ModelConfig c;
  c.head_dim = head_dim;
  c.rope_theta = 1000000.0;
  if (yarn) {
    c.rope_scaling.type = RopeScaling::Type::kYarn;
    c.rope_scaling.factor = 4.0;
    c.rope_scaling.original_max_position_embeddings = 32768;
  }
  return rope_frequencies(c);
}

// cos/sin [num_tokens, head_dim / 2] exactly as engine/cpu/cpu_rank.cc builds them.
void cpu_rope_table(const RopeFrequencies& rope, const std::vector<std::int32_t>& positions,
                    std::vector<float>* cos_table, std::vector<float>* sin_table) {
  const std::size_t half = rope.inv_freq.size();
  cos_table->assign(positions.size() * half, 0.0f);
  sin_table->assign(positions.size() * half, 0.0f);
  for (std::size_t t = 0; t < positions.size(); ++t) {
    for (std::size_t i = 0; i < half; ++i) {
      const double angle = static_cast<double>(positions[t]) * rope.inv_freq[i];
      (*cos_table)[t * half + i] = static_cast<float>(std::cos(angle) * rope.attention_scaling);
      (*sin_table)[t * half + i] = static_cast<float>(std::sin(angle) * rope.attention_scaling);
    }
  }
}

TEST_F(CudaKernelsTest, EmbeddingGathersRowsOfTheVocabShard) {
  std::mt19937 rng(101);
  struct Case {
    std::int64_t num_tokens, hidden, ld, vocab_begin, vocab_size;
  };
  for (const Case& c : {Case{1, 1000, 1000, 0, 50}, Case{17, 1000, 1024, 700, 300},
                        Case{17, 9000, 9000, 40, 30}, Case{17, 64, 72, 0, 1000}}) {
    SCOPED_TRACE("num_tokens " + std::to_string(c.num_tokens) + " hidden " + std::to_string(c.hidden) +
                 " vocab_begin " + std::to_string(c.vocab_begin));
    // table [vocab_size, ld] bf16 (padding columns random too); tokens [num_tokens] global ids.
    const auto table = random_bf16(rng, static_cast<std::size_t>(c.vocab_size * c.ld), -2.0f, 2.0f);
    std::uniform_int_distribution<std::int32_t> any_id(
        0, static_cast<std::int32_t>(c.vocab_begin + c.vocab_size + 50));
    std::vector<std::int32_t> tokens(static_cast<std::size_t>(c.num_tokens));
    for (auto& id : tokens)
      id = any_id(rng);
    // The shard's edges and the ids just outside it, when there is room.
    tokens[0] = static_cast<std::int32_t>(c.vocab_begin);
    if (c.num_tokens > 3) {
      tokens[1] = static_cast<std::int32_t>(c.vocab_begin + c.vocab_size - 1);
      tokens[2] = static_cast<std::int32_t>(c.vocab_begin + c.vocab_size);
      tokens[3] = static_cast<std::int32_t>(c.vocab_begin > 0 ? c.vocab_begin - 1 : c.vocab_begin + 1);
    }
    std::vector<float> ref(static_cast<std::size_t>(c.num_tokens * c.hidden), 0.0f);
    for (std::int64_t t = 0; t < c.num_tokens; ++t) {
      const std::int64_t id = tokens[static_cast<std::size_t>(t)] - c.vocab_begin;
      if (id < 0 || id >= c.vocab_size) continue;  // another rank's row: zeros
      for (std::int64_t i = 0; i < c.hidden; ++i)
        ref[static_cast<std::size_t>(t * c.hidden + i)] =
            bf16_to_f32(table[static_cast<std::size_t>(id * c.ld + i)]);
    }

    // Every case but the first also records the tokens at scattered KV slots
    // (slot t * 7 + 3 of 3n + 1, coprime strides: all distinct); the other
    // slots must keep their poison.
    const bool record = c.vocab_begin > 0 || c.num_tokens > 1;
    const std::int64_t num_slots = 3 * c.num_tokens + 1;
    std::vector<std::int64_t> slots(static_cast<std::size_t>(c.num_tokens));
    std::vector<std::int32_t> slot_ref(static_cast<std::size_t>(num_slots), -7);
    for (std::int64_t t = 0; t < c.num_tokens; ++t) {
      slots[static_cast<std::size_t>(t)] = (t * 7 + 3) % num_slots;
      slot_ref[static_cast<std::size_t>(slots[static_cast<std::size_t>(t)])] =
          tokens[static_cast<std::size_t>(t)];
    }

    DeviceBuffer d_table, d_tokens, d_out, d_slots, d_slot_tokens;
    ASSERT_NO_FATAL_FAILURE(upload(table, &d_table));
    ASSERT_NO_FATAL_FAILURE(upload(tokens, &d_tokens));
    ASSERT_NO_FATAL_FAILURE(alloc_poisoned<float>(ref.size(), &d_out));
    ASSERT_NO_FATAL_FAILURE(upload(slots, &d_slots));
    ASSERT_NO_FATAL_FAILURE(upload(std::vector<std::int32_t>(slot_ref.size(), -7), &d_slot_tokens));
    EmbeddingParams p;
    p.table = d_table.as<std::uint16_t>();
    p.tokens = d_tokens.as<std::int32_t>();
    p.out = d_out.as<float>();
    p.num_tokens = c.num_tokens;
    p.hidden = c.hidden;
    p.ld = c.ld;
    p.vocab_begin = c.vocab_begin;
    p.vocab_size = c.vocab_size;
    if (record) {
      p.slots = d_slots.as<std::int64_t>();
      p.slot_tokens = d_slot_tokens.as<std::int32_t>();
    }
    PAGODA_ASSERT_CUDA(launch_embedding(p, nullptr));
    ASSERT_NO_FATAL_FAILURE(sync_device());
    std::vector<float> out;
    ASSERT_NO_FATAL_FAILURE(download(d_out, &out));
    std::vector<std::int32_t> slot_tokens;
    ASSERT_NO_FATAL_FAILURE(download(d_slot_tokens, &slot_tokens));
    EXPECT_EQ(slot_tokens, record ? slot_ref : std::vector<std::int32_t>(slot_ref.size(), -7));
    EXPECT_EQ(count_non_finite(out), 0);
    EXPECT_LE(rel_error(out, ref), 1e-5);
    // A gather is exact: every element, including the zero rows.
    std::int64_t mismatches = 0;
    for (std::size_t i = 0; i < out.size(); ++i)
      mismatches += out[i] == ref[i] ? 0 : 1;
    EXPECT_EQ(mismatches, 0);
  }
}

TEST_F(CudaKernelsTest, AddRmsNormMatchesCpuRmsNorm) {
  std::mt19937 rng(202);
  struct Case {
    std::int64_t rows, hidden;
    bool add, write_residual, row_index;
  };
  // hidden > 8192 takes the kernel's second (re-read) path; 8192 and 8193 are its edge.
  const Case cases[] = {
      {1, 1000, true, true, false},   {17, 1000, false, false, false}, {17, 9000, true, true, false},
      {17, 9000, true, false, false}, {3, 8192, true, true, false},    {2, 8193, false, true, false},
      {5, 1000, true, false, true},   {4, 9000, true, false, true},    {1, 4096, false, false, true}};
  for (const Case& c : cases) {
    SCOPED_TRACE("rows " + std::to_string(c.rows) + " hidden " + std::to_string(c.hidden) + " add " +
                 std::to_string(c.add) + " write_residual " + std::to_string(c.write_residual) +
                 " row_index " + std::to_string(c.row_index));
    const float eps = 1e-6f;
    // Source rows: 17 when output rows are picked by row_index, else one per output row.
    const std::int64_t num_src = c.row_index ? 17 : c.rows;
    const auto n_src = static_cast<std::size_t>(num_src * c.hidden);
    const auto residual = random_f32(rng, n_src, -3.0f, 3.0f);  // [num_src, hidden]
    const auto add = c.add ? random_f32(rng, n_src, -1.0f, 1.0f) : std::vector<float>();
    const auto weight = random_bf16(rng, static_cast<std::size_t>(c.hidden), 0.25f, 2.0f);  // [hidden]
    std::vector<std::int32_t> row_index;                                                    // [rows]
    if (c.row_index) {
      std::uniform_int_distribution<std::int32_t> pick(0, static_cast<std::int32_t>(num_src - 1));
      for (std::int64_t i = 0; i < c.rows; ++i)
        row_index.push_back(pick(rng));
    }

    // Reference: x = residual (+ add) in f32, then the CPU's rms_norm_row.
    std::vector<float> x(n_src);
    for (std::size_t i = 0; i < n_src; ++i)
      x[i] = c.add ? residual[i] + add[i] : residual[i];
    std::vector<float> ref(static_cast<std::size_t>(c.rows * c.hidden));
    for (std::int64_t i = 0; i < c.rows; ++i) {
      const std::int64_t src = c.row_index ? row_index[static_cast<std::size_t>(i)] : i;
      cpu::rms_norm_row(x.data() + src * c.hidden, weight.data(), eps, c.hidden, ref.data() + i * c.hidden);
    }

    DeviceBuffer d_res, d_add, d_weight, d_rows, d_out;
    ASSERT_NO_FATAL_FAILURE(upload(residual, &d_res));
    if (c.add) {
      ASSERT_NO_FATAL_FAILURE(upload(add, &d_add));
    }
    if (c.row_index) {
      ASSERT_NO_FATAL_FAILURE(upload(row_index, &d_rows));
    }
    ASSERT_NO_FATAL_FAILURE(upload(weight, &d_weight));
    ASSERT_NO_FATAL_FAILURE(alloc_poisoned<std::uint16_t>(ref.size(), &d_out));
    AddRmsNormParams p;
    p.residual = d_res.as<float>();
    p.add = c.add ? d_add.as<float>() : nullptr;
    p.row_index = c.row_index ? d_rows.as<std::int32_t>() : nullptr;
    p.write_residual = c.write_residual;
    p.weight = d_weight.as<std::uint16_t>();
    p.out = d_out.as<std::uint16_t>();
    p.rows = c.rows;
    p.hidden = c.hidden;
    p.eps = eps;
    PAGODA_ASSERT_CUDA(launch_add_rms_norm(p, nullptr));
    ASSERT_NO_FATAL_FAILURE(sync_device());
    std::vector<std::uint16_t> out;
    std::vector<float> res_after;
    ASSERT_NO_FATAL_FAILURE(download(d_out, &out));
    ASSERT_NO_FATAL_FAILURE(download(d_res, &res_after));
    EXPECT_EQ(count_non_finite(out), 0);
    EXPECT_LE(rel_error(bf16_to_f32_vector(out), ref), 1e-2);
    EXPECT_EQ(count_misrounded(out, ref, 1e-6 * max_abs(ref)), 0);
    // The residual stream: residual + add (the same f32 sum) when written back, else untouched.
    const std::vector<float>& res_ref = c.write_residual ? x : residual;
    std::int64_t res_mismatches = 0;
    for (std::size_t i = 0; i < n_src; ++i)
      res_mismatches += res_after[i] == res_ref[i] ? 0 : 1;
    EXPECT_EQ(res_mismatches, 0);
  }
}

TEST(CudaKernelsLimitsTest, AddRmsNormRejectsRowIndexWithResidualWrite) {
  // Refused before any CUDA call, so this runs without a device too.
  AddRmsNormParams p;
  std::int32_t dummy = 0;
  p.row_index = &dummy;  // never dereferenced: the launch is refused first
  p.write_residual = true;
  p.rows = 1;
  p.hidden = 8;
  EXPECT_EQ(launch_add_rms_norm(p, nullptr), cudaErrorInvalidValue);
}

TEST_F(CudaKernelsTest, RopeTableMatchesCpuTable) {
  std::mt19937 rng(303);
  struct Case {
    int head_dim;
    std::int64_t num_tokens;
    bool yarn;
  };
  for (const Case& c : {Case{128, 17, false}, Case{128, 1, false}, Case{64, 17, true}, Case{32, 17, false},
                        Case{128, 300, true}}) {
    SCOPED_TRACE("head_dim " + std::to_string(c.head_dim) + " num_tokens " + std::to_string(c.num_tokens) +
                 " yarn " + std::to_string(c.yarn));
    const RopeFrequencies rope = test_rope(c.head_dim, c.yarn);
    std::uniform_int_distribution<std::int32_t> pos(0, 40000);
    std::vector<std::int32_t> positions(static_cast<std::size_t>(c.num_tokens));  // [num_tokens]
    for (auto& x : positions)
      x = pos(rng);
    if (c.num_tokens > 1) positions[1] = 0;
    std::vector<float> cos_ref, sin_ref;  // [num_tokens, half]
    cpu_rope_table(rope, positions, &cos_ref, &sin_ref);

    DeviceBuffer d_pos, d_freq, d_cos, d_sin;
    ASSERT_NO_FATAL_FAILURE(upload(positions, &d_pos));
    ASSERT_NO_FATAL_FAILURE(upload(rope.inv_freq, &d_freq));
    ASSERT_NO_FATAL_FAILURE(alloc_poisoned<float>(cos_ref.size(), &d_cos));
    ASSERT_NO_FATAL_FAILURE(alloc_poisoned<float>(sin_ref.size(), &d_sin));
    RopeTableParams p;
    p.positions = d_pos.as<std::int32_t>();
    p.inv_freq = d_freq.as<double>();
    p.attention_scaling = rope.attention_scaling;
    p.cos = d_cos.as<float>();
    p.sin = d_sin.as<float>();
    p.num_tokens = c.num_tokens;
    p.half = c.head_dim / 2;
    PAGODA_ASSERT_CUDA(launch_rope_table(p, nullptr));
    ASSERT_NO_FATAL_FAILURE(sync_device());
    std::vector<float> cos_out, sin_out;
    ASSERT_NO_FATAL_FAILURE(download(d_cos, &cos_out));
    ASSERT_NO_FATAL_FAILURE(download(d_sin, &sin_out));
    EXPECT_EQ(count_non_finite(cos_out), 0);
    EXPECT_EQ(count_non_finite(sin_out), 0);
    EXPECT_LE(rel_error(cos_out, cos_ref), 1e-6);
    EXPECT_LE(rel_error(sin_out, sin_ref), 1e-6);
    // Both round (nearly) the same double to f32: at most one f32 ulp apart
    // (|value| < 2, so an ulp is at most 2^-23; the bound allows two).
    double worst = 0.0;
    for (std::size_t i = 0; i < cos_out.size(); ++i) {
      worst = std::max(worst, std::fabs(static_cast<double>(cos_out[i]) - cos_ref[i]));
      worst = std::max(worst, std::fabs(static_cast<double>(sin_out[i]) - sin_ref[i]));
    }
    EXPECT_LE(worst, std::ldexp(1.0, -22));
  }
}

// One sequence's tokens in a step: positions first_pos .. first_pos + num_tokens - 1.
struct StepSeq {
  std::int32_t first_pos;
  std::int32_t num_tokens;
};

TEST_F(CudaKernelsTest, QkNormRopeMatchesCpuAndWritesTheCache) {
  std::mt19937 rng(404);
  struct Case {
    std::int64_t num_heads, num_kv_heads, head_dim, block_size;
    std::vector<StepSeq> seqs;
    bool yarn;
  };
  // Prefill chunks after a cached prefix, whole prompts and single decode tokens.
  const std::vector<StepSeq> mixed = {{30, 9}, {96, 1}, {0, 6}, {4000, 1}};  // 17 tokens
  const Case cases[] = {
      {16, 2, 128, 16, mixed, false},    {8, 8, 64, 1, mixed, true}, {4, 1, 32, 16, {{97, 1}}, false},
      {6, 3, 64, 16, mixed, false},  // 12 heads: the second block of warps is partly idle
      {8, 4, 256, 16, {{0, 17}}, false}, {4, 2, 96, 1, mixed, false}};
  for (const Case& c : cases) {
    SCOPED_TRACE("heads " + std::to_string(c.num_heads) + "/" + std::to_string(c.num_kv_heads) +
                 " head_dim " + std::to_string(c.head_dim) + " block_size " + std::to_string(c.block_size));
    const std::int64_t nh = c.num_heads, nkv = c.num_kv_heads, hd = c.head_dim, bs = c.block_size;
    const float eps = 1e-6f;

    // Block tables from a shuffled pool, so cache slots are scattered.
    std::int64_t num_blocks = 2;  // two spare blocks nobody owns
    for (const StepSeq& s : c.seqs)
      num_blocks += (s.first_pos + s.num_tokens + bs - 1) / bs;
    std::vector<std::int32_t> pool(static_cast<std::size_t>(num_blocks));
    std::iota(pool.begin(), pool.end(), 0);
    std::shuffle(pool.begin(), pool.end(), rng);
    std::vector<std::vector<std::int32_t>> tables;
    std::vector<std::int32_t> positions;  // [num_tokens]
    std::vector<std::int64_t> slots;      // [num_tokens]
    std::vector<std::size_t> token_seq;   // [num_tokens] index into tables
    std::size_t next_block = 0;
    for (const StepSeq& s : c.seqs) {
      const std::int64_t blocks = (s.first_pos + s.num_tokens + bs - 1) / bs;
      tables.emplace_back(
          pool.begin() + static_cast<std::ptrdiff_t>(next_block),
          pool.begin() + static_cast<std::ptrdiff_t>(next_block + static_cast<std::size_t>(blocks)));
      next_block += static_cast<std::size_t>(blocks);
      for (std::int32_t pos = s.first_pos; pos < s.first_pos + s.num_tokens; ++pos) {
        positions.push_back(pos);
        slots.push_back(static_cast<std::int64_t>(tables.back()[static_cast<std::size_t>(pos / bs)]) * bs +
                        pos % bs);
        token_seq.push_back(tables.size() - 1);
      }
    }
    const auto n = static_cast<std::int64_t>(positions.size());
    const std::int64_t row = (nh + 2 * nkv) * hd;
    const auto qkv = random_f32(rng, static_cast<std::size_t>(n * row), -2.0f, 2.0f);  // [n, (nh + 2 nkv) hd]
    const auto q_w = random_bf16(rng, static_cast<std::size_t>(hd), 0.25f, 2.0f);      // [hd]
    const auto k_w = random_bf16(rng, static_cast<std::size_t>(hd), 0.25f, 2.0f);      // [hd]
    std::vector<float> cos_table, sin_table;                                           // [n, hd / 2]
    cpu_rope_table(test_rope(static_cast<int>(hd), c.yarn), positions, &cos_table, &sin_table);

    // Reference: the CPU's per-head rms_norm_inplace + rope_rotate_half, then the cache writes.
    const std::size_t cache_elems = static_cast<std::size_t>(num_blocks * nkv * bs * hd);
    std::vector<float> q_ref(static_cast<std::size_t>(n * nh * hd));   // [n, nh, hd]
    std::vector<float> k_ref(static_cast<std::size_t>(n * nkv * hd));  // [n, nkv, hd]
    std::vector<std::uint16_t> k_cache_ref(cache_elems, kPoisonBf16), v_cache_ref(cache_elems, kPoisonBf16);
    for (std::int64_t t = 0; t < n; ++t) {
      const float* src = qkv.data() + t * row;
      const float* ct = cos_table.data() + t * (hd / 2);
      const float* st = sin_table.data() + t * (hd / 2);
      std::copy(src, src + nh * hd, q_ref.begin() + t * nh * hd);
      std::copy(src + nh * hd, src + (nh + nkv) * hd, k_ref.begin() + t * nkv * hd);
      for (std::int64_t h = 0; h < nh; ++h) {
        float* x = q_ref.data() + (t * nh + h) * hd;
        cpu::rms_norm_inplace(x, q_w.data(), eps, hd);
        cpu::rope_rotate_half(x, ct, st, hd);
      }
      for (std::int64_t h = 0; h < nkv; ++h) {
        float* x = k_ref.data() + (t * nkv + h) * hd;
        cpu::rms_norm_inplace(x, k_w.data(), eps, hd);
        cpu::rope_rotate_half(x, ct, st, hd);
      }
      // Into the device layout [num_blocks, nkv, bs, hd] for both caches (the
      // CPU backend's K layout differs: cpu::k_cache_offset).
      const std::int32_t pos = positions[static_cast<std::size_t>(t)];
      const std::int64_t block =
          tables[token_seq[static_cast<std::size_t>(t)]][static_cast<std::size_t>(pos / bs)];
      for (std::int64_t h = 0; h < nkv; ++h) {
        const auto base = static_cast<std::size_t>(((block * nkv + h) * bs + pos % bs) * hd);
        for (std::int64_t d = 0; d < hd; ++d) {
          k_cache_ref[base + static_cast<std::size_t>(d)] =
              f32_to_bf16(k_ref[static_cast<std::size_t>((t * nkv + h) * hd + d)]);
          v_cache_ref[base + static_cast<std::size_t>(d)] = f32_to_bf16(src[(nh + nkv + h) * hd + d]);
        }
      }
    }

    DeviceBuffer d_qkv, d_qw, d_kw, d_cos, d_sin, d_slots, d_q, d_kc, d_vc;
    ASSERT_NO_FATAL_FAILURE(upload(qkv, &d_qkv));
    ASSERT_NO_FATAL_FAILURE(upload(q_w, &d_qw));
    ASSERT_NO_FATAL_FAILURE(upload(k_w, &d_kw));
    ASSERT_NO_FATAL_FAILURE(upload(cos_table, &d_cos));
    ASSERT_NO_FATAL_FAILURE(upload(sin_table, &d_sin));
    ASSERT_NO_FATAL_FAILURE(upload(slots, &d_slots));
    ASSERT_NO_FATAL_FAILURE(alloc_poisoned<float>(q_ref.size(), &d_q));
    ASSERT_NO_FATAL_FAILURE(alloc_poisoned<std::uint16_t>(cache_elems, &d_kc));
    ASSERT_NO_FATAL_FAILURE(alloc_poisoned<std::uint16_t>(cache_elems, &d_vc));
    QkNormRopeParams p;
    p.qkv = d_qkv.as<float>();
    p.q_norm_weight = d_qw.as<std::uint16_t>();
    p.k_norm_weight = d_kw.as<std::uint16_t>();
    p.cos = d_cos.as<float>();
    p.sin = d_sin.as<float>();
    p.slot_mapping = d_slots.as<std::int64_t>();
    p.q_out = d_q.as<float>();
    p.k_cache = d_kc.as<std::uint16_t>();
    p.v_cache = d_vc.as<std::uint16_t>();
    p.num_tokens = n;
    p.num_heads = nh;
    p.num_kv_heads = nkv;
    p.head_dim = hd;
    p.block_size = bs;
    p.eps = eps;
    PAGODA_ASSERT_CUDA(launch_qk_norm_rope(p, nullptr));
    ASSERT_NO_FATAL_FAILURE(sync_device());
    std::vector<float> q;
    std::vector<std::uint16_t> k_cache, v_cache;
    ASSERT_NO_FATAL_FAILURE(download(d_q, &q));
    ASSERT_NO_FATAL_FAILURE(download(d_kc, &k_cache));
    ASSERT_NO_FATAL_FAILURE(download(d_vc, &v_cache));

    EXPECT_EQ(count_non_finite(q), 0);
    EXPECT_LE(rel_error(q, q_ref), 1e-5);
    // V: the same f32 rounded to bf16, so bit-exact; slots of no token stay poisoned.
    std::int64_t v_mismatches = 0;
    for (std::size_t i = 0; i < cache_elems; ++i)
      v_mismatches += v_cache[i] == v_cache_ref[i] ? 0 : 1;
    EXPECT_EQ(v_mismatches, 0);
    // K at each token's slot [n, nkv, hd] against the unrounded CPU K: correct
    // rounding, with absolute slack where RoPE cancels.
    std::vector<std::uint16_t> k_at_slots;
    for (std::int64_t t = 0; t < n; ++t) {
      const std::int64_t slot = slots[static_cast<std::size_t>(t)];
      for (std::int64_t h = 0; h < nkv; ++h) {
        const std::int64_t base = ((slot / bs * nkv + h) * bs + slot % bs) * hd;
        for (std::int64_t d = 0; d < hd; ++d)
          k_at_slots.push_back(k_cache[static_cast<std::size_t>(base + d)]);
      }
    }
    EXPECT_LE(rel_error(bf16_to_f32_vector(k_at_slots), k_ref), 1e-2);
    EXPECT_EQ(count_misrounded(k_at_slots, k_ref, 1e-5 * max_abs(k_ref)), 0);
    // The whole K cache against the reference's: within one bf16 ulp where written,
    // still poisoned where no token wrote.
    EXPECT_EQ(count_bf16_mismatches(k_cache, k_cache_ref, 1e-5 * max_abs(k_ref)), 0);
  }
}

// Parts of mixed magnitudes, so that the order of the adds shows in the bits
// (checked: another order differs somewhere); the sum must be rank order's
// exactly, also written over rank 0's part.
TEST_F(CudaKernelsTest, RankSumAddsInRankOrder) {
  std::mt19937 rng(606);
  std::uniform_real_distribution<float> mantissa(-1.0f, 1.0f);
  std::uniform_int_distribution<int> exponent(-12, 12);
  for (const int ranks : {1, 3, 4, 8}) {
    for (const bool in_place : {false, true}) {
      const std::int64_t count = 1003;
      SCOPED_TRACE(std::to_string(ranks) + " ranks" + (in_place ? ", in place" : ""));
      std::vector<float> parts(static_cast<std::size_t>(ranks * count));
      for (float& x : parts)
        x = std::ldexp(mantissa(rng), exponent(rng));
      std::vector<float> want(static_cast<std::size_t>(count)), reversed(want.size());
      for (std::size_t i = 0; i < want.size(); ++i) {
        float sum = parts[i], back = parts[static_cast<std::size_t>(ranks - 1) * want.size() + i];
        for (int r = 1; r < ranks; ++r) {
          sum += parts[static_cast<std::size_t>(r) * want.size() + i];
          back += parts[static_cast<std::size_t>(ranks - 1 - r) * want.size() + i];
        }
        want[i] = sum;
        reversed[i] = back;
      }
      if (ranks > 2) {
        ASSERT_NE(std::memcmp(want.data(), reversed.data(), want.size() * sizeof(float)), 0);
      }
      DeviceBuffer d_parts, d_out;
      ASSERT_NO_FATAL_FAILURE(upload(parts, &d_parts));
      ASSERT_NO_FATAL_FAILURE(alloc_poisoned<float>(static_cast<std::size_t>(count), &d_out));
      RankSumParams p;
      p.parts = d_parts.as<float>();
      p.out = in_place ? d_parts.as<float>() : d_out.as<float>();
      p.count = count;
      p.num_ranks = ranks;
      PAGODA_ASSERT_CUDA(launch_rank_sum(p, nullptr));
      ASSERT_NO_FATAL_FAILURE(sync_device());
      std::vector<float> out;
      ASSERT_NO_FATAL_FAILURE(download(in_place ? d_parts : d_out, &out));
      out.resize(want.size());
      EXPECT_EQ(std::memcmp(out.data(), want.data(), want.size() * sizeof(float)), 0);
    }
  }
}

TEST_F(CudaKernelsTest, SiluMulMatchesCpu) {
  std::mt19937 rng(505);
  struct Case {
    std::int64_t num_tokens, inter;
  };
  for (const Case& c : {Case{1, 1000}, Case{17, 1000}, Case{17, 9000}, Case{3, 3072}}) {
    SCOPED_TRACE("num_tokens " + std::to_string(c.num_tokens) + " inter " + std::to_string(c.inter));
    // gate_up [num_tokens, 2 * inter]: gate columns then up columns.
    std::vector<float> gate_up(static_cast<std::size_t>(c.num_tokens * 2 * c.inter));
    std::uniform_real_distribution<float> gate(-10.0f, 10.0f), up(-3.0f, 3.0f);
    for (std::int64_t t = 0; t < c.num_tokens; ++t) {
      for (std::int64_t i = 0; i < c.inter; ++i) {
        gate_up[static_cast<std::size_t>(t * 2 * c.inter + i)] = gate(rng);
        gate_up[static_cast<std::size_t>(t * 2 * c.inter + c.inter + i)] = up(rng);
      }
    }
    std::vector<std::uint16_t> ref(static_cast<std::size_t>(c.num_tokens * c.inter));  // [num_tokens, inter]
    for (std::int64_t t = 0; t < c.num_tokens; ++t) {
      const float* g = gate_up.data() + t * 2 * c.inter;
      cpu::silu_mul_to_bf16(g, g + c.inter, c.inter, ref.data() + t * c.inter);
    }

    DeviceBuffer d_in, d_out;
    ASSERT_NO_FATAL_FAILURE(upload(gate_up, &d_in));
    ASSERT_NO_FATAL_FAILURE(alloc_poisoned<std::uint16_t>(ref.size(), &d_out));
    SiluMulParams p;
    p.gate_up = d_in.as<float>();
    p.out = d_out.as<std::uint16_t>();
    p.num_tokens = c.num_tokens;
    p.inter = c.inter;
    PAGODA_ASSERT_CUDA(launch_silu_mul(p, nullptr));
    ASSERT_NO_FATAL_FAILURE(sync_device());
    std::vector<std::uint16_t> out;
    ASSERT_NO_FATAL_FAILURE(download(d_out, &out));
    EXPECT_EQ(count_non_finite(out), 0);
    const auto ref_f32 = bf16_to_f32_vector(ref);
    EXPECT_LE(rel_error(bf16_to_f32_vector(out), ref_f32), 1e-2);
    EXPECT_EQ(count_bf16_mismatches(out, ref, 1e-6 * max_abs(ref_f32)), 0);
    // Rounding to bf16 is to nearest: against silu(gate) * up in double.
    std::vector<float> exact(ref.size());
    for (std::int64_t t = 0; t < c.num_tokens; ++t) {
      for (std::int64_t i = 0; i < c.inter; ++i) {
        const double g = gate_up[static_cast<std::size_t>(t * 2 * c.inter + i)];
        const double u = gate_up[static_cast<std::size_t>(t * 2 * c.inter + c.inter + i)];
        exact[static_cast<std::size_t>(t * c.inter + i)] = static_cast<float>(g / (1.0 + std::exp(-g)) * u);
      }
    }
    EXPECT_EQ(count_misrounded(out, exact, 0.0), 0);
  }
}

TEST_F(CudaKernelsTest, CublasLtGemmMatchesDoubleReference) {
  std::mt19937 rng(606);
  auto gemm = CublasLtGemm::create(32u << 20);
  ASSERT_TRUE(gemm.ok()) << gemm.status().to_string();
  struct Case {
    std::int64_t m, n, k, ldx, ldw, ldy;
  };
  const Case cases[] = {{1, 1000, 1000, 1000, 1000, 1000},
                        {17, 1000, 9000, 9000, 9000, 1000},
                        {17, 4096, 1024, 1088, 1040, 4104},
                        {128, 3000, 512, 512, 512, 3000},
                        {5, 64, 64, 64, 64, 64},
                        {1, 9000, 128, 136, 128, 9000}};
  for (const Case& c : cases) {
    SCOPED_TRACE("m " + std::to_string(c.m) + " n " + std::to_string(c.n) + " k " + std::to_string(c.k));
    // x [m, k] (row stride ldx), w [n, k] (row stride ldw): bf16, padding random too.
    const auto x = random_bf16(rng, static_cast<std::size_t>(c.m * c.ldx), -1.0f, 1.0f);
    const auto w = random_bf16(rng, static_cast<std::size_t>(c.n * c.ldw), -1.0f, 1.0f);
    std::vector<float> ref(static_cast<std::size_t>(c.m * c.n));  // [m, n]
    std::vector<double> xd(static_cast<std::size_t>(c.k));
    for (std::int64_t i = 0; i < c.m; ++i) {
      for (std::int64_t kk = 0; kk < c.k; ++kk)
        xd[static_cast<std::size_t>(kk)] = bf16_to_f32(x[static_cast<std::size_t>(i * c.ldx + kk)]);
      for (std::int64_t j = 0; j < c.n; ++j) {
        double acc = 0.0;
        const std::uint16_t* wr = w.data() + j * c.ldw;
        for (std::int64_t kk = 0; kk < c.k; ++kk)
          acc += xd[static_cast<std::size_t>(kk)] * static_cast<double>(bf16_to_f32(wr[kk]));
        ref[static_cast<std::size_t>(i * c.n + j)] = static_cast<float>(acc);
      }
    }

    DeviceBuffer d_x, d_w, d_y;
    ASSERT_NO_FATAL_FAILURE(upload(x, &d_x));
    ASSERT_NO_FATAL_FAILURE(upload(w, &d_w));
    ASSERT_NO_FATAL_FAILURE(alloc_poisoned<float>(static_cast<std::size_t>(c.m * c.ldy), &d_y));  // [m, ldy]
    GemmArgs a;
    a.x = d_x.as<std::uint16_t>();
    a.w = d_w.as<std::uint16_t>();
    a.y = d_y.as<float>();
    a.m = c.m;
    a.n = c.n;
    a.k = c.k;
    a.ldx = c.ldx;
    a.ldw = c.ldw;
    a.ldy = c.ldy;
    const Status st = (*gemm)->run(a, nullptr);
    ASSERT_TRUE(st.ok()) << st.to_string();
    ASSERT_NO_FATAL_FAILURE(sync_device());
    std::vector<float> y_full;
    ASSERT_NO_FATAL_FAILURE(download(d_y, &y_full));
    std::vector<float> y(ref.size());
    std::int64_t padding_written = 0;
    for (std::int64_t i = 0; i < c.m; ++i) {
      for (std::int64_t j = 0; j < c.ldy; ++j) {
        const float v = y_full[static_cast<std::size_t>(i * c.ldy + j)];
        if (j < c.n) {
          y[static_cast<std::size_t>(i * c.n + j)] = v;
        } else {
          std::uint32_t bits = 0;
          std::memcpy(&bits, &v, sizeof bits);
          padding_written += bits == 0xFFFFFFFFu ? 0 : 1;
        }
      }
    }
    EXPECT_EQ(count_non_finite(y), 0);
    EXPECT_EQ(padding_written, 0) << "columns n..ldy of y must stay untouched";
    // Exact bf16 products with f32 accumulation: ~1e-6 expected.
    EXPECT_LE(rel_error(y, ref), 1e-3);

    // The same shape again runs the cached plan and gives the same bits.
    ASSERT_NO_FATAL_FAILURE(alloc_poisoned<float>(static_cast<std::size_t>(c.m * c.ldy), &d_y));
    a.y = d_y.as<float>();
    const Status again = (*gemm)->run(a, nullptr);
    ASSERT_TRUE(again.ok()) << again.to_string();
    ASSERT_NO_FATAL_FAILURE(sync_device());
    std::vector<float> y_again;
    ASSERT_NO_FATAL_FAILURE(download(d_y, &y_again));
    EXPECT_EQ(std::memcmp(y_again.data(), y_full.data(), y_full.size() * sizeof(float)), 0);
  }
  EXPECT_EQ((*gemm)->num_cached_plans(), std::size(cases));
  GemmArgs empty;  // m == 0 is a no-op
  EXPECT_TRUE((*gemm)->run(empty, nullptr).ok());
}

}  // namespace
}  // namespace pagoda::cuda
