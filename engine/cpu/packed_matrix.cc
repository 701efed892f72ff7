#include "engine/cpu/packed_matrix.h"

#include <sys/mman.h>

#include <algorithm>
#include <cstring>
#include <string>

#include "base/bf16.h"

namespace pagoda::cpu {

void packed_row_to_f32(const PackedMatrix& w, std::int64_t row, float* out) {
  const std::uint16_t* src =
      w.data + (row / PackedMatrix::kPanelRows) * w.panel_stride() + (row % PackedMatrix::kPanelRows) * 2;
  for (std::int64_t c = 0; c < w.k; ++c)
    out[c] = bf16_to_f32(src[(c / 2) * PackedMatrix::kPanelRows * 2 + c % 2]);
}

namespace {

// Storage for `view` (n, k set): cache-line aligned, on huge pages where the
// kernel offers them.
Status allocate(OwnedPackedMatrix& out) {
  const std::size_t bytes = static_cast<std::size_t>(out.view.num_elements()) * sizeof(std::uint16_t);
  constexpr std::size_t kHugePage = std::size_t{2} << 20, kLine = 64;
  const std::size_t align = bytes >= kHugePage ? kHugePage : kLine;
  const std::size_t rounded = std::max(align, (bytes + align - 1) / align * align);
  out.storage.reset(static_cast<std::uint16_t*>(std::aligned_alloc(align, rounded)));
  if (!out.storage) {
    return resource_exhausted("cannot allocate " + std::to_string(rounded) + " bytes for a packed " +
                              std::to_string(out.view.n) + " x " + std::to_string(out.view.k) + " weight");
  }
  if (align == kHugePage) madvise(out.storage.get(), rounded, MADV_HUGEPAGE);  // a hint
  out.view.data = out.storage.get();
  return ok_status();
}

// Rows [64 * panel, +64) of src [n, k] (zero past n) into one packed panel at
// dst. Blocks of pairs keep the 64 source row pieces and the destination
// block in L1 while they are transposed.
void pack_panel(const std::uint16_t* src, std::int64_t ld, std::int64_t n, std::int64_t k, std::int64_t panel,
                std::uint16_t* dst) {
  constexpr std::int64_t kRows = PackedMatrix::kPanelRows, kPairBlock = 64;
  const std::int64_t pairs = (k + 1) / 2, full_pairs = k / 2;
  for (std::int64_t p0 = 0; p0 < pairs; p0 += kPairBlock) {
    const std::int64_t p1 = std::min(pairs, p0 + kPairBlock);
    for (std::int64_t r = 0; r < kRows; ++r) {
      const std::int64_t row = panel * kRows + r;
      for (std::int64_t p = p0; p < p1; ++p) {
        std::uint16_t two[2] = {0, 0};
        if (row < n) {
          if (p < full_pairs) {
            std::memcpy(two, src + row * ld + 2 * p, sizeof(two));
          } else {
            two[0] = src[row * ld + 2 * p];  // the last, odd column; its pair is zero
          }
        }
        std::memcpy(dst + (p * kRows + r) * 2, two, sizeof(two));
      }
    }
  }
}

}  // namespace

StatusOr<OwnedPackedMatrix> pack_matrix(
    const std::uint16_t* src, std::int64_t ld, std::int64_t n, std::int64_t k, ThreadPool& pool,
    const std::function<void(std::int64_t row_begin, std::int64_t row_end)>& done_with_rows) {
  OwnedPackedMatrix out;
  out.view.n = n;
  out.view.k = k;
  PAGODA_RETURN_IF_ERROR(allocate(out));
  const PackedMatrix& v = out.view;
  pool.parallel_for(v.num_panels(), [&](std::int64_t panel) {
    pack_panel(src, ld, n, k, panel, out.storage.get() + panel * v.panel_stride());
    if (done_with_rows)
      done_with_rows(panel * PackedMatrix::kPanelRows, std::min(n, (panel + 1) * PackedMatrix::kPanelRows));
  });
  return out;
}

StatusOr<OwnedPackedMatrix> pack_interleaved(const std::uint16_t* a, std::int64_t lda, const std::uint16_t* b,
                                             std::int64_t ldb, std::int64_t n, std::int64_t k,
                                             ThreadPool& pool) {
  OwnedPackedMatrix out;
  out.view.n = 2 * PackedMatrix::kPanelRows * ((n + PackedMatrix::kPanelRows - 1) / PackedMatrix::kPanelRows);
  out.view.k = k;
  PAGODA_RETURN_IF_ERROR(allocate(out));
  const PackedMatrix& v = out.view;
  pool.parallel_for(v.num_panels(), [&](std::int64_t panel) {
    const bool from_b = panel % 2 != 0;
    pack_panel(from_b ? b : a, from_b ? ldb : lda, n, k, panel / 2,
               out.storage.get() + panel * v.panel_stride());
  });
  return out;
}

}  // namespace pagoda::cpu
