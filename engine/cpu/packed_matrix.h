// PackedMatrix: a [n, k] bf16 weight in the layout the CPU GEMM streams — the
// "pair-interleaved panel" layout of VNNI-style dot products. Rows of the
// checkpoint's matrix (output columns of y = x · wᵀ) are grouped in panels of
// kPanelRows; inside a panel, k runs in pairs, and for each pair the panel's
// rows sit side by side with their two values adjacent:
//
//   data[panel][pair][row in panel][2]   (k padded to whole pairs and n to
//                                         whole panels with zeros)
//
// so one 64-byte load holds one pair of k for 16 output columns, which
// vdpbf16ps multiplies by a broadcast pair of x. A panel is one contiguous
// stream of num_pairs() * 256 bytes. Built once at load (pack_matrix) from a
// row-major view; immutable afterwards, any thread may read.
#pragma once

#include <cstdint>
#include <cstdlib>
#include <functional>
#include <memory>

#include "base/status.h"
#include "engine/cpu/thread_pool.h"

namespace pagoda::cpu {

struct PackedMatrix {
  static constexpr std::int64_t kPanelRows = 64;

  const std::uint16_t* data = nullptr;  // [num_panels()][num_pairs()][kPanelRows][2]
  std::int64_t n = 0;                   // rows of the source matrix (output columns)
  std::int64_t k = 0;                   // columns of the source matrix (the reduction)

  std::int64_t num_pairs() const { return (k + 1) / 2; }
  std::int64_t num_panels() const { return (n + kPanelRows - 1) / kPanelRows; }
  // Elements from one panel to the next.
  std::int64_t panel_stride() const { return num_pairs() * kPanelRows * 2; }
  std::int64_t num_elements() const { return num_panels() * panel_stride(); }
  // Source element (row, col), for tests and scalar code.
  std::uint16_t at(std::int64_t row, std::int64_t col) const {
    return data[(row / kPanelRows) * panel_stride() + (col / 2) * kPanelRows * 2 + (row % kPanelRows) * 2 +
                col % 2];
  }
};

// Row `row` of the source matrix widened to f32 (out[k]): a gather with a
// stride of one pair block, for the few rows an embedding lookup needs.
void packed_row_to_f32(const PackedMatrix& w, std::int64_t row, float* out);

// A PackedMatrix with its own storage: cache-line aligned, and on transparent
// huge pages where the kernel offers them (weights are streamed from memory
// at every decode step; the TLB should not be what limits that).
struct OwnedPackedMatrix {
  struct FreeDelete {
    void operator()(void* p) const noexcept { std::free(p); }
  };
  PackedMatrix view;
  std::unique_ptr<std::uint16_t, FreeDelete> storage;
};

// Packs src[r][c] = src[r * ld + c] for r < n, c < k, with `pool`'s threads.
// When given, done_with_rows(row_begin, row_end) is called (from any of the
// pool's threads) once a panel's source rows have been read for the last
// time. Fails only when the memory cannot be allocated.
StatusOr<OwnedPackedMatrix> pack_matrix(
    const std::uint16_t* src, std::int64_t ld, std::int64_t n, std::int64_t k, ThreadPool& pool,
    const std::function<void(std::int64_t row_begin, std::int64_t row_end)>& done_with_rows = {});

// Two matrices a and b of the same shape [n, k] packed as one, panel by panel
// in turn: panel 2p holds rows [64p, 64p + 64) of a, panel 2p + 1 the same
// rows of b (each zero past n), so view.n = 128 * ceil(n / 64). A product
// with it gives each 64 columns of a's outputs beside the same columns of
// b's — the layout of a fused gate/up projection whose consumer needs both.
StatusOr<OwnedPackedMatrix> pack_interleaved(const std::uint16_t* a, std::int64_t lda, const std::uint16_t* b,
                                             std::int64_t ldb, std::int64_t n, std::int64_t k,
                                             ThreadPool& pool);

}  // namespace pagoda::cpu
