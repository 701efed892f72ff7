// The tensor-core prefill attention against the CPU backend's paged_attention
// and against the split-KV CUDA kernel on the same inputs: head_dim 32 to 256,
// GQA groups 1 to 8, block sizes 1, 5 and 16, scattered blocks, several
// sequences per launch whose chunks start after a cached prefix, partial and
// odd-sized tiles in any order, rows no tile covers, and NaN wherever the
// kernel must not read (unowned blocks, block tails) or write.
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
#include "cuda/prefill_attention_kernel.h"
#include "engine/cpu/cpu_ops.h"
#include "engine/cpu/paged_attention.h"
#include "engine/cpu/thread_pool.h"
#include "tests/cuda/kernel_test_util.h"

namespace pagoda::cuda {
namespace {

using kernel_test::alloc_poisoned;
using kernel_test::bf16_to_f32_vector;
using kernel_test::count_non_finite;
using kernel_test::download;
using kernel_test::kPoisonBf16;
using kernel_test::random_f32;
using kernel_test::rel_error;
using kernel_test::sync_device;
using kernel_test::upload;

using CudaPrefillAttentionTest = kernel_test::CudaKernelTest;

// One sequence of the step: `prefix` positions already cached, then a chunk of
// num_rows query rows at positions prefix..prefix + num_rows - 1 (their K and
// V are in the cache too, as the model writes them before attention).
struct ChunkSpec {
  std::int32_t prefix;
  std::int32_t num_rows;
};

struct PrefillCase {
  std::int64_t num_heads, num_kv_heads, head_dim, block_size;
  std::vector<ChunkSpec> seqs;
  std::int32_t tile_rows = kPrefillTileRows;  // the largest tile the case cuts
};

// Host inputs of one launch. Rows of q / out: each sequence's chunk in order,
// with kGapRows rows no tile covers before every chunk.
struct PrefillInputs {
  std::int64_t num_rows = 0;  // every row of q / out, gaps included
  std::int64_t max_ctx = 0;
  std::vector<float> q;                     // [num_rows, num_heads, head_dim]
  std::vector<std::uint16_t> k_cache;       // [num_blocks, num_kv_heads, block_size, head_dim]
  std::vector<std::uint16_t> v_cache;       // same layout
  std::vector<std::int32_t> block_tables;   // every sequence's table, concatenated
  std::vector<std::int32_t> positions;      // [num_rows] (gap rows: position 0 of sequence 0)
  std::vector<std::int32_t> table_offsets;  // [num_rows]
  std::vector<bool> covered;                // [num_rows] some tile holds the row
  std::vector<PrefillTile> tiles;
};

constexpr std::int64_t kGapRows = 3;

std::string describe(const PrefillCase& c) {
  std::string s = "heads " + std::to_string(c.num_heads) + "/" + std::to_string(c.num_kv_heads) +
                  " head_dim " + std::to_string(c.head_dim) + " block_size " + std::to_string(c.block_size) +
                  " tile_rows " + std::to_string(c.tile_rows) + " seqs (prefix+rows)";
  for (const ChunkSpec& q : c.seqs) {
    s += ' ';
    s += std::to_string(q.prefix);
    s += '+';
    s += std::to_string(q.num_rows);
  }
  return s;
}

PrefillInputs make_inputs(const PrefillCase& c, std::mt19937& rng) {
  const std::int64_t nkv = c.num_kv_heads, hd = c.head_dim, bs = c.block_size;
  PrefillInputs in;
  // Blocks come from a shuffled pool; three spare blocks belong to nobody.
  std::int64_t num_blocks = 3;
  for (const ChunkSpec& s : c.seqs)
    num_blocks += (s.prefix + s.num_rows + bs - 1) / bs;
  std::vector<std::int32_t> pool(static_cast<std::size_t>(num_blocks));
  std::iota(pool.begin(), pool.end(), 0);
  std::shuffle(pool.begin(), pool.end(), rng);
  // Unowned blocks and the tail of each last block stay NaN: reading them poisons the output.
  const auto cache_elems = static_cast<std::size_t>(num_blocks * nkv * bs * hd);
  in.k_cache.assign(cache_elems, kPoisonBf16);
  in.v_cache.assign(cache_elems, kPoisonBf16);
  std::uniform_real_distribution<float> kv_dist(-1.0f, 1.0f);
  std::size_t next_block = 0;
  for (const ChunkSpec& s : c.seqs) {
    const auto offset = static_cast<std::int32_t>(in.block_tables.size());
    const std::int64_t kv_len = s.prefix + s.num_rows;
    const std::int64_t blocks = (kv_len + bs - 1) / bs;
    for (std::int64_t b = 0; b < blocks; ++b)
      in.block_tables.push_back(pool[next_block++]);
    for (std::int64_t pos = 0; pos < kv_len; ++pos) {
      const std::int64_t block = in.block_tables[static_cast<std::size_t>(offset + pos / bs)];
      for (std::int64_t h = 0; h < nkv; ++h) {
        const auto base = static_cast<std::size_t>(((block * nkv + h) * bs + pos % bs) * hd);
        for (std::int64_t d = 0; d < hd; ++d) {
          in.k_cache[base + static_cast<std::size_t>(d)] = f32_to_bf16(kv_dist(rng));
          in.v_cache[base + static_cast<std::size_t>(d)] = f32_to_bf16(kv_dist(rng));
        }
      }
    }
    // Rows: the gap, then the chunk cut into tiles of 1..tile_rows rows (the
    // last tile of a chunk partial, or, with tile_rows < 64, random sizes).
    for (std::int64_t i = 0; i < kGapRows; ++i) {
      in.positions.push_back(0);
      in.table_offsets.push_back(0);
      in.covered.push_back(false);
    }
    const auto first_row = static_cast<std::int32_t>(in.positions.size());
    for (std::int32_t i = 0; i < s.num_rows; ++i) {
      in.positions.push_back(s.prefix + i);
      in.table_offsets.push_back(offset);
      in.covered.push_back(true);
    }
    std::uniform_int_distribution<std::int32_t> size_dist(1, c.tile_rows);
    for (std::int32_t done = 0; done < s.num_rows;) {
      const std::int32_t want = c.tile_rows == kPrefillTileRows ? kPrefillTileRows : size_dist(rng);
      const std::int32_t rows = std::min(want, s.num_rows - done);
      in.tiles.push_back({first_row + done, rows, s.prefix + done, offset});
      done += rows;
    }
    in.max_ctx = std::max(in.max_ctx, kv_len);
  }
  // Tile order carries no meaning.
  std::shuffle(in.tiles.begin(), in.tiles.end(), rng);
  in.num_rows = static_cast<std::int64_t>(in.positions.size());
  // q of magnitude ~3 against k in [-1, 1] gives scores of about unit spread
  // after the head_dim^-0.5 scale: softmaxes neither flat nor one-hot.
  in.q = random_f32(rng, static_cast<std::size_t>(in.num_rows * c.num_heads * hd), -3.0f, 3.0f);
  return in;
}

float scale_of(const PrefillCase& c) {
  return 1.0f / std::sqrt(static_cast<float>(c.head_dim));
}

// The CPU backend's attention for every row (gap rows too): [num_rows, num_heads * head_dim] f32.
std::vector<float> cpu_attention(const PrefillCase& c, const PrefillInputs& in, cpu::ThreadPool& pool) {
  std::vector<const std::int32_t*> tables;  // [num_rows] per-row table pointers
  for (std::int32_t off : in.table_offsets)
    tables.push_back(in.block_tables.data() + off);
  std::vector<float> out(static_cast<std::size_t>(in.num_rows * c.num_heads * c.head_dim));
  // The CPU attention takes q in bf16 (the rounding the CUDA kernel does inside).
  std::vector<std::uint16_t> q(in.q.size());
  cpu::f32_to_bf16_row(in.q.data(), static_cast<std::int64_t>(q.size()), q.data());
  cpu::PagedAttentionParams p;
  p.q = q.data();
  p.out = out.data();
  // The CPU backend keeps K transposed by pairs of dimensions (cpu::k_cache_offset):
  // the same keys in its layout.
  const std::int64_t nkv = c.num_kv_heads, bs = c.block_size, hd = c.head_dim;
  const auto num_blocks = static_cast<std::int64_t>(in.k_cache.size()) / (nkv * bs * hd);
  std::vector<std::uint16_t> cpu_k(in.k_cache.size());
  for (std::int64_t b = 0; b < num_blocks; ++b) {
    for (std::int64_t h = 0; h < nkv; ++h) {
      for (std::int64_t slot = 0; slot < bs; ++slot) {
        for (std::int64_t d = 0; d < hd; ++d) {
          cpu_k[static_cast<std::size_t>(cpu::k_cache_offset(b, h, slot, d, nkv, hd, bs))] =
              in.k_cache[static_cast<std::size_t>(((b * nkv + h) * bs + slot) * hd + d)];
        }
      }
    }
  }
  p.k_cache = cpu_k.data();
  p.v_cache = in.v_cache.data();
  p.positions = in.positions.data();
  p.block_tables = tables.data();
  p.num_tokens = in.num_rows;
  p.num_heads = c.num_heads;
  p.num_kv_heads = c.num_kv_heads;
  p.head_dim = c.head_dim;
  p.block_size = c.block_size;
  p.scale = scale_of(c);
  cpu::paged_attention(p, pool);
  return out;
}

struct PrefillDeviceInputs {
  DeviceBuffer q, k_cache, v_cache, block_tables, positions, table_offsets, tiles;
};

void upload_inputs(const PrefillInputs& in, PrefillDeviceInputs* d) {
  ASSERT_NO_FATAL_FAILURE(upload(in.q, &d->q));
  ASSERT_NO_FATAL_FAILURE(upload(in.k_cache, &d->k_cache));
  ASSERT_NO_FATAL_FAILURE(upload(in.v_cache, &d->v_cache));
  ASSERT_NO_FATAL_FAILURE(upload(in.block_tables, &d->block_tables));
  ASSERT_NO_FATAL_FAILURE(upload(in.positions, &d->positions));
  ASSERT_NO_FATAL_FAILURE(upload(in.table_offsets, &d->table_offsets));
  ASSERT_NO_FATAL_FAILURE(upload(in.tiles, &d->tiles));
}

// How one launch runs (PrefillAttentionParams).
struct PrefillRun {
  int warp_rows = 16;
  int heads_per_tile = 1;
  int kv_split = 0;
  int split_slots = 0;  // with kv_split: 0 runs a row's splits in one CTA, n > 0 apart in n grid rows
};

// One prefill launch; out (and any split workspace) starts as NaN.
void run_prefill(const PrefillCase& c, const PrefillInputs& in, const PrefillDeviceInputs& d,
                 std::vector<std::uint16_t>* out, PrefillRun run = {}) {
  DeviceBuffer d_out, d_partials;
  ASSERT_NO_FATAL_FAILURE(alloc_poisoned<std::uint16_t>(
      static_cast<std::size_t>(in.num_rows * c.num_heads * c.head_dim), &d_out));
  PrefillAttentionParams p;
  p.q = d.q.as<float>();
  p.out = d_out.as<std::uint16_t>();
  p.k_cache = d.k_cache.as<std::uint16_t>();
  p.v_cache = d.v_cache.as<std::uint16_t>();
  p.block_tables = d.block_tables.as<std::int32_t>();
  p.tiles = d.tiles.as<PrefillTile>();
  p.num_tiles = static_cast<std::int64_t>(in.tiles.size());
  p.num_heads = c.num_heads;
  p.num_kv_heads = c.num_kv_heads;
  p.head_dim = c.head_dim;
  p.block_size = c.block_size;
  p.scale = scale_of(c);
  p.warp_rows = run.warp_rows;
  p.heads_per_tile = run.heads_per_tile;
  p.kv_split = run.kv_split;
  if (run.split_slots > 0) {
    p.max_splits = static_cast<int>((in.max_ctx + run.kv_split - 1) / run.kv_split);
    p.split_slots = std::min(run.split_slots, p.max_splits);
    const std::int64_t pairs = in.num_rows * c.num_heads * p.max_splits;
    ASSERT_NO_FATAL_FAILURE(
        alloc_poisoned<float>(static_cast<std::size_t>(pairs * (c.head_dim + 2)), &d_partials));
    p.partial_out = d_partials.as<float>();
    p.partial_max = p.partial_out + pairs * c.head_dim;
    p.partial_sum = p.partial_max + pairs;
  }
  PAGODA_ASSERT_CUDA(launch_prefill_attention(p, nullptr));
  ASSERT_NO_FATAL_FAILURE(sync_device());
  ASSERT_NO_FATAL_FAILURE(download(d_out, out));
}

// How many of a and b's elements differ, and the position of the row of the first.
struct BitDiff {
  std::int64_t count = 0;
  std::int32_t first_position = -1;
};

BitDiff diff_bits(const PrefillCase& c, const PrefillInputs& in, const std::vector<std::uint16_t>& a,
                  const std::vector<std::uint16_t>& b) {
  BitDiff d;
  const std::int64_t row_elems = c.num_heads * c.head_dim;
  for (std::size_t i = 0; i < std::min(a.size(), b.size()); ++i) {
    if (a[i] == b[i]) continue;
    if (d.count++ == 0) d.first_position = in.positions[i / static_cast<std::size_t>(row_elems)];
  }
  return d;
}

// The split-KV kernel on every row (gap rows too), splits of 256 positions.
void run_split_kv(const PrefillCase& c, const PrefillInputs& in, const PrefillDeviceInputs& d,
                  std::vector<std::uint16_t>* out) {
  constexpr std::int64_t kSplitSize = 256;
  const std::int64_t num_splits = (in.max_ctx + kSplitSize - 1) / kSplitSize;
  DeviceBuffer d_out, d_ws;
  ASSERT_NO_FATAL_FAILURE(alloc_poisoned<std::uint16_t>(
      static_cast<std::size_t>(in.num_rows * c.num_heads * c.head_dim), &d_out));
  const std::int64_t ws_floats =
      paged_attention_workspace_floats(in.num_rows, c.num_heads, num_splits, c.head_dim);
  ASSERT_NO_FATAL_FAILURE(alloc_poisoned<float>(static_cast<std::size_t>(ws_floats), &d_ws));
  PagedAttentionParams p;
  p.q = d.q.as<float>();
  p.out = d_out.as<std::uint16_t>();
  p.k_cache = d.k_cache.as<std::uint16_t>();
  p.v_cache = d.v_cache.as<std::uint16_t>();
  p.positions = d.positions.as<std::int32_t>();
  p.block_tables = d.block_tables.as<std::int32_t>();
  p.block_table_offsets = d.table_offsets.as<std::int32_t>();
  const std::int64_t partial = in.num_rows * c.num_heads * num_splits;
  p.partial_out = d_ws.as<float>();
  p.partial_max = p.partial_out + partial * c.head_dim;
  p.partial_sum = p.partial_max + partial;
  p.num_tokens = in.num_rows;
  p.num_heads = c.num_heads;
  p.num_kv_heads = c.num_kv_heads;
  p.head_dim = c.head_dim;
  p.block_size = c.block_size;
  p.num_splits = num_splits;
  p.split_size = kSplitSize;
  p.scale = scale_of(c);
  PAGODA_ASSERT_CUDA(launch_paged_attention(p, nullptr));
  ASSERT_NO_FATAL_FAILURE(sync_device());
  ASSERT_NO_FATAL_FAILURE(download(d_out, out));
}

// The covered rows of `out` (bf16) against `ref`: the relative error over all
// of them, and over each (row, head) of head_dim values, must be <= rel_tol
// (Q and P are rounded to bf16 for the tensor cores: ~2e-3 expected). Rows no
// tile covers must still hold the poison.
void expect_close(const PrefillCase& c, const PrefillInputs& in, const std::vector<std::uint16_t>& out,
                  const std::vector<float>& ref, double rel_tol) {
  const std::int64_t hd = c.head_dim, row = c.num_heads * hd;
  ASSERT_EQ(static_cast<std::int64_t>(out.size()), in.num_rows * row);
  ASSERT_EQ(out.size(), ref.size());
  std::vector<float> all_out, all_ref;
  double worst = 0.0;
  std::int64_t worst_row = -1, worst_head = -1, num_unpoisoned_gaps = 0;
  for (std::int64_t r = 0; r < in.num_rows; ++r) {
    if (!in.covered[static_cast<std::size_t>(r)]) {
      for (std::int64_t i = 0; i < row; ++i)
        num_unpoisoned_gaps += out[static_cast<std::size_t>(r * row + i)] != kPoisonBf16;
      continue;
    }
    for (std::int64_t h = 0; h < c.num_heads; ++h) {
      std::vector<float> o(static_cast<std::size_t>(hd)), e(static_cast<std::size_t>(hd));
      for (std::int64_t d = 0; d < hd; ++d) {
        const auto idx = static_cast<std::size_t>(r * row + h * hd + d);
        o[static_cast<std::size_t>(d)] = bf16_to_f32(out[idx]);
        e[static_cast<std::size_t>(d)] = ref[idx];
      }
      const double err = rel_error(o, e);
      if (!(err <= worst)) {  // NaN sticks
        worst = err;
        worst_row = r;
        worst_head = h;
      }
      all_out.insert(all_out.end(), o.begin(), o.end());
      all_ref.insert(all_ref.end(), e.begin(), e.end());
    }
  }
  EXPECT_LE(rel_error(all_out, all_ref), rel_tol);
  EXPECT_LE(worst, rel_tol) << "worst row " << worst_row << " (position "
                            << (worst_row >= 0 ? in.positions[static_cast<std::size_t>(worst_row)] : -1)
                            << ") head " << worst_head;
  EXPECT_EQ(num_unpoisoned_gaps, 0) << "the kernel wrote rows no tile covers";
}

TEST_F(CudaPrefillAttentionTest, MatchesCpuAndSplitKvKernel) {
  std::mt19937 rng(4242);
  cpu::ThreadPool pool(0);
  const std::vector<PrefillCase> cases = {
      // group 1; one context of 4000 (a 100-row chunk after 3900 cached positions)
      {2, 2, 128, 16, {{0, 100}, {37, 17}, {500, 64}, {3900, 100}}},
      {4, 2, 64, 1, {{0, 17}, {37, 100}, {500, 1}, {0, 64}}},  // group 2, one position per block
      {8, 2, 128, 16, {{37, 64}, {0, 1}, {500, 100}}},         // group 4
      {8, 1, 64, 16, {{500, 17}, {0, 100}, {37, 1}}},          // group 8
      {16, 2, 128, 1, {{0, 64}, {37, 100}, {1, 1}}},           // group 8, block size 1
      {16, 8, 128, 16, {{0, 200}, {130, 63}}},                 // Qwen3-0.6B heads
      {4, 2, 128, 5, {{37, 100}, {500, 17}, {0, 1}}, 23},      // awkward block size, random tiles
      {4, 1, 32, 16, {{37, 100}, {0, 17}}},                    // head_dim 32
      {4, 2, 256, 16, {{500, 100}, {0, 17}, {63, 33}}},        // head_dim 256 (32-position KV tiles)
      {2, 1, 64, 16, {{64, 64}, {0, 128}, {191, 1}}, kPrefillTileRows},  // chunks on tile boundaries
  };
  for (const PrefillCase& c : cases) {
    SCOPED_TRACE(describe(c));
    const PrefillInputs in = make_inputs(c, rng);
    const std::vector<float> ref = cpu_attention(c, in, pool);
    ASSERT_EQ(count_non_finite(ref), 0) << "the CPU reference read a poisoned cache slot";
    PrefillDeviceInputs d;
    ASSERT_NO_FATAL_FAILURE(upload_inputs(in, &d));

    std::vector<std::uint16_t> out;
    ASSERT_NO_FATAL_FAILURE(run_prefill(c, in, d, &out));
    ASSERT_NO_FATAL_FAILURE(expect_close(c, in, out, ref, 1e-2));

    // The split-KV kernel keeps Q and P in f32: both are within bf16-operand
    // rounding of each other, and of the CPU.
    std::vector<std::uint16_t> split_out;
    ASSERT_NO_FATAL_FAILURE(run_split_kv(c, in, d, &split_out));
    EXPECT_EQ(count_non_finite(split_out), 0);
    ASSERT_NO_FATAL_FAILURE(expect_close(c, in, out, bf16_to_f32_vector(split_out), 1e-2));

    // No races: a second launch gives the same bits.
    std::vector<std::uint16_t> again;
    ASSERT_NO_FATAL_FAILURE(run_prefill(c, in, d, &again));
    EXPECT_TRUE(again == out) << "two launches on the same inputs differ";

    // Two m-tiles per warp (head_dim <= 128): the same function, checked the
    // same ways; its 32-position KV stages round the online softmax apart.
    if (c.head_dim > 128) continue;
    SCOPED_TRACE("32 rows per warp");
    std::vector<std::uint16_t> wide, wide_again;
    ASSERT_NO_FATAL_FAILURE(run_prefill(c, in, d, &wide, {.warp_rows = 32}));
    ASSERT_NO_FATAL_FAILURE(expect_close(c, in, wide, ref, 1e-2));
    ASSERT_NO_FATAL_FAILURE(expect_close(c, in, wide, bf16_to_f32_vector(out), 1e-2));
    ASSERT_NO_FATAL_FAILURE(run_prefill(c, in, d, &wide_again, {.warp_rows = 32}));
    EXPECT_TRUE(wide_again == wide) << "two launches on the same inputs differ";
  }
}

// What the batch-invariant mode rests on: a row's output does not depend on
// the tile that holds it. Each chunk here is 16 rows at positions 64j + 49 ..
// 64j + 64: as one tile, its warp runs into the key tile from 64(j + 1),
// wholly masked for the first 15 rows; cut into 15 rows and 1, no warp meets
// a key tile past its own rows. Each masked tile must be an exact no-op: one
// that rescaled a row by 1 ± an ulp (an FMA-contracted
// `max * log2e - max * log2e`) flipped 7 of these 1.2 M bf16 outputs on the
// emulator, which contracts as nvcc does.
TEST_F(CudaPrefillAttentionTest, RowsEqualWhateverTileHoldsThem) {
  std::mt19937 rng(4343);
  PrefillCase c{16, 8, 128, 16, {}};
  for (int i = 0; i < 32; ++i)
    c.seqs.push_back({64 * (i % 4) + 49, 16});
  const PrefillInputs one_tile = make_inputs(c, rng);  // one 16-row tile per chunk
  PrefillInputs cut = one_tile;
  cut.tiles.clear();
  for (const PrefillTile& t : one_tile.tiles) {
    ASSERT_EQ(t.num_rows, 16);
    cut.tiles.push_back({t.first_row, 15, t.first_position, t.block_table_offset});
    cut.tiles.push_back({t.first_row + 15, 1, t.first_position + 15, t.block_table_offset});
  }
  for (const int warp_rows : {16, 32}) {
    SCOPED_TRACE("rows per warp " + std::to_string(warp_rows));
    PrefillDeviceInputs d_one, d_cut;
    ASSERT_NO_FATAL_FAILURE(upload_inputs(one_tile, &d_one));
    ASSERT_NO_FATAL_FAILURE(upload_inputs(cut, &d_cut));
    std::vector<std::uint16_t> a, b;
    ASSERT_NO_FATAL_FAILURE(run_prefill(c, one_tile, d_one, &a, {.warp_rows = warp_rows}));
    ASSERT_NO_FATAL_FAILURE(run_prefill(c, cut, d_cut, &b, {.warp_rows = warp_rows}));
    ASSERT_EQ(a.size(), b.size());
    const BitDiff diff = diff_bits(c, one_tile, a, b);
    EXPECT_EQ(diff.count, 0) << "of " << a.size() << " outputs; the first at position "
                             << diff.first_position;
  }
}

// The same rows in tiles of at most 64 / heads tokens, for heads_per_tile = heads.
PrefillInputs packed_by_heads(const PrefillInputs& in, int heads) {
  PrefillInputs packed = in;
  packed.tiles.clear();
  const std::int32_t most = kPrefillTileRows / heads;
  for (const PrefillTile& t : in.tiles) {
    for (std::int32_t done = 0; done < t.num_rows; done += most) {
      packed.tiles.push_back({t.first_row + done, std::min(most, t.num_rows - done), t.first_position + done,
                              t.block_table_offset});
    }
  }
  return packed;
}

// The batch-invariant mode's decode tiles: one token x every query head of a
// KV head per CTA. Rows packed by heads — decode tokens, and chunks re-cut
// into tiles of 64 / h tokens — equal, bit for bit, the same rows in one-head
// tiles of up to 64 tokens; a packed tile of more than 64 / h tokens is
// skipped.
TEST_F(CudaPrefillAttentionTest, RowsPackedByHeadsEqualOneHeadTiles) {
  std::mt19937 rng(4444);
  const std::vector<PrefillCase> cases = {
      {16, 8, 128, 16, {{0, 1}, {63, 1}, {64, 1}, {49, 16}, {200, 1}, {0, 70}, {500, 1}}},  // group 2
      {8, 2, 128, 16, {{0, 100}, {63, 1}, {127, 1}, {130, 40}, {3900, 1}, {1, 1}}},         // group 4
      {16, 2, 64, 5, {{37, 1}, {0, 17}, {64, 1}, {200, 9}}},                                // group 8
      {4, 2, 256, 16, {{300, 1}, {0, 50}, {31, 1}}},  // head_dim 256: 32-position key tiles
  };
  for (const PrefillCase& c : cases) {
    SCOPED_TRACE(describe(c));
    const PrefillInputs one_head = make_inputs(c, rng);
    PrefillDeviceInputs d_one;
    ASSERT_NO_FATAL_FAILURE(upload_inputs(one_head, &d_one));
    const auto group = static_cast<int>(c.num_heads / c.num_kv_heads);
    for (int heads = 2; heads <= group; heads *= 2) {
      PrefillInputs packed = packed_by_heads(one_head, heads);
      const std::int32_t most = kPrefillTileRows / heads;
      // Too many tokens for `heads` heads a CTA: skipped, its rows left alone.
      packed.tiles.push_back({0, most + 1, 0, 0});
      std::shuffle(packed.tiles.begin(), packed.tiles.end(), rng);
      PrefillDeviceInputs d_packed;
      ASSERT_NO_FATAL_FAILURE(upload_inputs(packed, &d_packed));
      for (const int warp_rows : {16, 32}) {
        if (warp_rows == 32 && c.head_dim > 128) continue;
        SCOPED_TRACE(std::to_string(heads) + " heads a tile, rows per warp " + std::to_string(warp_rows));
        std::vector<std::uint16_t> a, b;
        ASSERT_NO_FATAL_FAILURE(run_prefill(c, one_head, d_one, &a, {.warp_rows = warp_rows}));
        ASSERT_NO_FATAL_FAILURE(
            run_prefill(c, packed, d_packed, &b, {.warp_rows = warp_rows, .heads_per_tile = heads}));
        ASSERT_EQ(a.size(), b.size());
        EXPECT_EQ(count_non_finite(a),
                  kGapRows * static_cast<std::int64_t>(c.seqs.size()) * c.num_heads * c.head_dim);
        const BitDiff diff = diff_bits(c, one_head, a, b);
        EXPECT_EQ(diff.count, 0) << "of " << a.size() << " outputs; the first at position "
                                 << diff.first_position;
      }
    }
  }
}

// Fixed-position KV splits (the batch-invariant mode's long contexts): a
// row's splits folded in one CTA, with rows packed by heads or not, and run
// apart in 1, 3 or every grid row then folded by the second kernel — every
// way the same bits; and within bf16 rounding of the CPU backend. Contexts
// end on, just past and well past split boundaries.
TEST_F(CudaPrefillAttentionTest, KvSplitsFoldToTheSameBitsHoweverRun) {
  std::mt19937 rng(4545);
  struct SplitCase {
    PrefillCase c;
    int kv_split;
  };
  const std::vector<SplitCase> cases = {
      {{8, 2, 128, 16, {{0, 1}, {63, 1}, {64, 1}, {127, 1}, {1000, 1}, {3999, 1}, {100, 70}, {450, 100}}},
       64},
      {{16, 8, 128, 16, {{0, 1}, {255, 1}, {256, 1}, {700, 1}, {0, 200}, {130, 63}}}, 128},
      {{4, 1, 64, 5, {{191, 1}, {192, 1}, {500, 1}, {37, 100}}}, 192},
      {{4, 2, 32, 1, {{64, 1}, {200, 1}, {0, 17}, {60, 40}}}, 64},
  };
  cpu::ThreadPool pool(0);
  for (const SplitCase& sc : cases) {
    const PrefillCase& c = sc.c;
    SCOPED_TRACE(describe(c) + " kv_split " + std::to_string(sc.kv_split));
    const PrefillInputs in = make_inputs(c, rng);
    const auto group = static_cast<int>(c.num_heads / c.num_kv_heads);
    const PrefillInputs packed = packed_by_heads(in, group);
    PrefillDeviceInputs d, d_packed;
    ASSERT_NO_FATAL_FAILURE(upload_inputs(in, &d));
    ASSERT_NO_FATAL_FAILURE(upload_inputs(packed, &d_packed));

    std::vector<std::uint16_t> together;
    ASSERT_NO_FATAL_FAILURE(run_prefill(c, in, d, &together, {.kv_split = sc.kv_split}));
    ASSERT_NO_FATAL_FAILURE(expect_close(c, in, together, cpu_attention(c, in, pool), 1e-2));
    std::vector<std::uint16_t> unsplit;
    ASSERT_NO_FATAL_FAILURE(run_prefill(c, in, d, &unsplit));
    EXPECT_GT(diff_bits(c, in, together, unsplit).count, 0) << "the splits changed nothing: not exercised";

    std::vector<std::uint16_t> b;
    ASSERT_NO_FATAL_FAILURE(
        run_prefill(c, packed, d_packed, &b, {.heads_per_tile = group, .kv_split = sc.kv_split}));
    BitDiff diff = diff_bits(c, in, together, b);
    EXPECT_EQ(diff.count, 0) << "packed by heads; the first at position " << diff.first_position;
    for (const int slots : {1, 3, 1000}) {
      SCOPED_TRACE("apart, grid rows " + std::to_string(slots));
      ASSERT_NO_FATAL_FAILURE(run_prefill(
          c, packed, d_packed, &b, {.heads_per_tile = group, .kv_split = sc.kv_split, .split_slots = slots}));
      diff = diff_bits(c, in, together, b);
      EXPECT_EQ(diff.count, 0) << "the first at position " << diff.first_position;
    }
  }
}

TEST_F(CudaPrefillAttentionTest, NoTilesWritesNothing) {
  PrefillAttentionParams p;  // num_tiles 0: nothing to do, no pointer touched
  p.num_heads = 8;
  p.num_kv_heads = 2;
  p.head_dim = 128;
  p.block_size = 16;
  PAGODA_ASSERT_CUDA(launch_prefill_attention(p, nullptr));
  ASSERT_NO_FATAL_FAILURE(sync_device());
}

TEST(CudaPrefillAttentionLimitsTest, RejectsUnsupportedShapes) {
  // Refused before any CUDA call, so this runs without a device too; the
  // pointers are never dereferenced.
  PrefillAttentionParams ok;
  ok.q = reinterpret_cast<const float*>(std::uintptr_t{0x10000});
  ok.out = reinterpret_cast<std::uint16_t*>(std::uintptr_t{0x20000});
  ok.k_cache = reinterpret_cast<const std::uint16_t*>(std::uintptr_t{0x30000});
  ok.v_cache = reinterpret_cast<const std::uint16_t*>(std::uintptr_t{0x40000});
  ok.block_tables = reinterpret_cast<const std::int32_t*>(std::uintptr_t{0x50000});
  ok.tiles = reinterpret_cast<const PrefillTile*>(std::uintptr_t{0x60000});
  ok.num_tiles = 1;
  ok.num_heads = 8;
  ok.num_kv_heads = 2;
  ok.head_dim = 128;
  ok.block_size = 16;
  auto with = [&](auto change) {
    PrefillAttentionParams p = ok;
    change(p);
    return launch_prefill_attention(p, nullptr);
  };
  EXPECT_EQ(with([](PrefillAttentionParams& p) { p.head_dim = 48; }), cudaErrorInvalidValue);
  EXPECT_EQ(with([](PrefillAttentionParams& p) { p.head_dim = 96; }), cudaErrorInvalidValue);
  EXPECT_EQ(with([](PrefillAttentionParams& p) { p.head_dim = 512; }), cudaErrorInvalidValue);
  EXPECT_EQ(with([](PrefillAttentionParams& p) {
              p.num_heads = 6;
              p.num_kv_heads = 4;
            }),
            cudaErrorInvalidValue);
  EXPECT_EQ(with([](PrefillAttentionParams& p) { p.num_kv_heads = 0; }), cudaErrorInvalidValue);
  EXPECT_EQ(with([](PrefillAttentionParams& p) { p.num_heads = 0; }), cudaErrorInvalidValue);
  EXPECT_EQ(with([](PrefillAttentionParams& p) { p.block_size = 0; }), cudaErrorInvalidValue);
  EXPECT_EQ(with([](PrefillAttentionParams& p) { p.warp_rows = 8; }), cudaErrorInvalidValue);
  EXPECT_EQ(with([](PrefillAttentionParams& p) {
              p.head_dim = 256;  // two m-tiles of 256 dims would not fit in registers
              p.warp_rows = 32;
            }),
            cudaErrorInvalidValue);
  EXPECT_EQ(with([](PrefillAttentionParams& p) { p.heads_per_tile = 0; }), cudaErrorInvalidValue);
  EXPECT_EQ(with([](PrefillAttentionParams& p) { p.heads_per_tile = 3; }), cudaErrorInvalidValue);
  EXPECT_EQ(with([](PrefillAttentionParams& p) { p.heads_per_tile = 8; }), cudaErrorInvalidValue);  // group 4
  EXPECT_EQ(with([](PrefillAttentionParams& p) {
              p.num_heads = 256;  // group 128: a tile of 128 heads would hold no token
              p.num_kv_heads = 2;
              p.heads_per_tile = 128;
            }),
            cudaErrorInvalidValue);
  EXPECT_EQ(with([](PrefillAttentionParams& p) {
              p.num_heads = 12;  // group 6: 2 heads a tile divide it, 4 do not
              p.num_kv_heads = 2;
              p.heads_per_tile = 4;
            }),
            cudaErrorInvalidValue);
  EXPECT_EQ(with([](PrefillAttentionParams& p) { p.kv_split = -64; }), cudaErrorInvalidValue);
  EXPECT_EQ(with([](PrefillAttentionParams& p) { p.kv_split = 96; }),
            cudaErrorInvalidValue);  // not whole tiles
  EXPECT_EQ(with([](PrefillAttentionParams& p) {
              p.kv_split = 64;
              p.head_dim = 256;
            }),
            cudaErrorInvalidValue);
  EXPECT_EQ(with([](PrefillAttentionParams& p) {
              p.kv_split = 64;
              p.warp_rows = 32;
            }),
            cudaErrorInvalidValue);
  const auto apart = [](PrefillAttentionParams& p) {
    p.kv_split = 64;
    p.partial_out = reinterpret_cast<float*>(std::uintptr_t{0x70000});
    p.partial_max = reinterpret_cast<float*>(std::uintptr_t{0x80000});
    p.partial_sum = reinterpret_cast<float*>(std::uintptr_t{0x90000});
    p.max_splits = 4;
    p.split_slots = 2;
  };
  EXPECT_EQ(with([&](PrefillAttentionParams& p) {
              apart(p);
              p.kv_split = 0;  // partials without splits
            }),
            cudaErrorInvalidValue);
  EXPECT_EQ(with([&](PrefillAttentionParams& p) {
              apart(p);
              p.split_slots = 5;  // more grid rows than splits
            }),
            cudaErrorInvalidValue);
  EXPECT_EQ(with([&](PrefillAttentionParams& p) {
              apart(p);
              p.partial_sum = nullptr;
            }),
            cudaErrorInvalidValue);
  EXPECT_EQ(with([](PrefillAttentionParams& p) { p.num_tiles = -1; }), cudaErrorInvalidValue);

  EXPECT_EQ(with([](PrefillAttentionParams& p) { p.tiles = nullptr; }), cudaErrorInvalidValue);
  EXPECT_EQ(with([](PrefillAttentionParams& p) { p.q += 1; }), cudaErrorInvalidValue);  // 4-byte aligned only
  EXPECT_EQ(with([](PrefillAttentionParams& p) { p.k_cache += 4; }), cudaErrorInvalidValue);
  EXPECT_EQ(with([](PrefillAttentionParams& p) { p.num_tiles = 0; }), cudaSuccess);  // nothing to do
}

}  // namespace
}  // namespace pagoda::cuda
