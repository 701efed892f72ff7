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

StatusOr<OwnedPackedMatrix> pack_matrix(
    const std::uint16_t* src, std::int64_t ld, std::int64_t n, std::int64_t k, ThreadPool& pool,
    const std::function<void(std::int64_t row_begin, std::int64_t row_end)>& done_with_rows) {
  OwnedPackedMatrix out;
  out.view.n = n;
  out.view.k = k;
  const std::size_t bytes = static_cast<std::size_t>(out.view.num_elements()) * sizeof(std::uint16_t);
  constexpr std::size_t kHugePage = std::size_t{2} << 20, kLine = 64;
  const std::size_t align = bytes >= kHugePage ? kHugePage : kLine;
  const std::size_t rounded = std::max(align, (bytes + align - 1) / align * align);
  out.storage.reset(static_cast<std::uint16_t*>(std::aligned_alloc(align, rounded)));
  if (!out.storage) {
    return resource_exhausted("cannot allocate " + std::to_string(rounded) + " bytes for a packed " +
                              std::to_string(n) + " x " + std::to_string(k) + " weight");
  }
  if (align == kHugePage) madvise(out.storage.get(), rounded, MADV_HUGEPAGE);  // a hint
  out.view.data = out.storage.get();
  constexpr std::int64_t kRows = PackedMatrix::kPanelRows;
  const std::int64_t pairs = out.view.num_pairs(), full_pairs = k / 2;
  std::uint16_t* dst = out.storage.get();
  // One task per panel; inside it, blocks of pairs keep the 64 source row
  // pieces and the destination block in L1 while they are transposed.
  pool.parallel_for(out.view.num_panels(), [&](std::int64_t panel) {
    std::uint16_t* p_dst = dst + panel * out.view.panel_stride();
    constexpr std::int64_t kPairBlock = 64;
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
          std::memcpy(p_dst + (p * kRows + r) * 2, two, sizeof(two));
        }
      }
    }
    if (done_with_rows) done_with_rows(panel * kRows, std::min(n, (panel + 1) * kRows));
  });
  return out;
}

}  // namespace pagoda::cpu
