// The warp-level PTX instructions Pagoda's tensor-core kernel uses
// (cuda/warp_mma.cuh), emulated on the SIMT emulator from their definitions in
// the PTX ISA: cp.async (a copy lands at issue or at the wait, by block: see
// ThreadContext), ldmatrix .x4 (and .trans) and
// mma.m16n8k16 bf16 -> f32 with the ISA's fragment layouts. The mma sums its
// 16 products in order in f32, so it agrees with a GPU's to rounding.
#pragma once

#include <cstdint>
#include <cstring>

#include "tests/cuda/simt/simt.h"

namespace pagoda::simt {

inline void land(const AsyncCopy& c) {
  if (c.fill) {
    std::memcpy(c.dst, c.src, 16);
  } else {
    std::memset(c.dst, 0, 16);
  }
}

inline void cp_async_16(void* dst, const void* src, bool fill) {
  if (g_thread_context->copies_land_at_issue) {
    land(AsyncCopy{dst, src, fill});
  } else {
    g_thread_context->open_copies.push_back(AsyncCopy{dst, src, fill});
  }
}

inline void cp_async_commit() {
  ThreadContext& t = *g_thread_context;
  t.copy_groups.push_back(std::move(t.open_copies));
  t.open_copies.clear();
}

// Completes every committed group but the newest `pending`.
inline void cp_async_wait(int pending) {
  ThreadContext& t = *g_thread_context;
  while (static_cast<int>(t.copy_groups.size()) > pending) {
    for (const AsyncCopy& c : t.copy_groups.front())
      land(c);
    t.copy_groups.erase(t.copy_groups.begin());
  }
}

// ldmatrix.sync.aligned.m8n8.x4[.trans].shared.b16: lanes 8i..8i+7 give the
// rows of matrix i; lane l receives, of matrix i, row l/4 columns 2(l%4) and
// 2(l%4)+1 (transposed: column l/4 of rows 2(l%4) and 2(l%4)+1), low half first.
inline void ldmatrix_x4(unsigned (&r)[4], const std::uint16_t* row, bool trans) {
  const LaneWords mine = {reinterpret_cast<std::uintptr_t>(row), 0, 0, 0};
  const LaneWords* all = warp_exchange(0xffffffffu, mine, trans ? "ldmatrix.trans" : "ldmatrix");
  const int lane = g_thread_context->lane;
  const auto at = [&](int matrix, int rr, int cc) {
    const auto* p = reinterpret_cast<const std::uint16_t*>(all[matrix * 8 + rr][0]);
    return static_cast<unsigned>(p[cc]);
  };
  for (int i = 0; i < 4; ++i) {
    if (trans) {
      r[i] = at(i, 2 * (lane % 4), lane / 4) | at(i, 2 * (lane % 4) + 1, lane / 4) << 16;
    } else {
      r[i] = at(i, lane / 4, 2 * (lane % 4)) | at(i, lane / 4, 2 * (lane % 4) + 1) << 16;
    }
  }
}

// mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32, d += a * b. With
// g = lane / 4 and t = lane % 4: a[j] holds A[g + 8(j%2)][2t + 8(j/2) + {0,1}],
// b_j holds B[2t + 8j + {0,1}][g], d[c] is D[g + 8(c/2)][2t + c%2].
inline void mma_m16n8k16_bf16(float (&d)[4], const unsigned (&a)[4], unsigned b0, unsigned b1) {
  const LaneWords mine = {a[0] | std::uint64_t{a[1]} << 32, a[2] | std::uint64_t{a[3]} << 32,
                          b0 | std::uint64_t{b1} << 32, 0};
  const LaneWords* all = warp_exchange(0xffffffffu, mine, "mma.m16n8k16");
  const auto half = [](std::uint64_t word, int j, int e) {
    const unsigned reg = static_cast<unsigned>(word >> (32 * (j % 2)));
    const unsigned bits = e == 0 ? reg << 16 : reg & 0xffff0000u;
    float f;
    std::memcpy(&f, &bits, sizeof f);
    return f;
  };
  const auto a_at = [&](int row, int k) {
    const int lane = (row % 8) * 4 + (k % 8) / 2;
    const int j = row / 8 + 2 * (k / 8);
    return half(all[lane][j / 2], j, k % 2);
  };
  const auto b_at = [&](int k, int col) {
    const int lane = col * 4 + (k % 8) / 2;
    return half(all[lane][2], k / 8, k % 2);
  };
  const int lane = g_thread_context->lane;
  for (int c = 0; c < 4; ++c) {
    const int row = lane / 4 + 8 * (c / 2);
    const int col = 2 * (lane % 4) + c % 2;
    float acc = d[c];
    for (int k = 0; k < 16; ++k)
      acc += a_at(row, k) * b_at(k, col);
    d[c] = acc;
  }
}

}  // namespace pagoda::simt
