#include "engine/cuda/gemm_kernel_choice.h"

#include <algorithm>

namespace pagoda::cuda {
namespace {

bool contains(std::span<const GemmKernel> candidates, GemmKernel k) {
  return std::find(candidates.begin(), candidates.end(), k) != candidates.end();
}

}  // namespace

const char* gemm_kernel_name(GemmKernel k) {
  switch (k) {
    case GemmKernel::kCublasLt:
      return "cuBLASLt";
    case GemmKernel::kSkinny:
      return "skinny";
    case GemmKernel::kTiled:
      return "tiled";
  }
  return "?";
}

GemmKernel GemmKernelChoice::fixed_rule(const GemmShape& shape, std::span<const GemmKernel> candidates) {
  return contains(candidates, GemmKernel::kSkinny) && shape.m <= kSkinnyRows ? GemmKernel::kSkinny
                                                                             : GemmKernel::kCublasLt;
}

bool GemmKernelChoice::times(const GemmShape& shape, std::size_t num_candidates, bool may_time) const {
  return may_time && shape.m <= kMaxTimedRows && num_candidates >= 2 && !chosen_.contains(shape);
}

GemmKernel GemmKernelChoice::choose(const GemmShape& shape, std::span<const GemmKernel> candidates,
                                    bool may_time, const std::function<double(GemmKernel)>& time_ms) {
  const GemmKernel fixed = fixed_rule(shape, candidates);
  if (const auto it = chosen_.find(shape); it != chosen_.end())
    return contains(candidates, it->second) ? it->second : fixed;
  if (!times(shape, candidates.size(), may_time)) return fixed;
  double fixed_ms = -1.0, best_ms = -1.0;
  GemmKernel best = fixed;
  for (const GemmKernel k : candidates) {
    const double ms = time_ms(k);
    if (ms < 0.0) continue;
    if (k == fixed) fixed_ms = ms;
    if (best_ms < 0.0 || ms < best_ms) {
      best = k;
      best_ms = ms;
    }
  }
  if (best_ms < 0.0) return fixed;  // nothing ran: nothing learnt
  // Near-ties keep the fixed rule, so that timing noise does not flip a
  // shape's kernel (and its rounding) from one start to the next.
  if (fixed_ms >= 0.0 && best_ms > fixed_ms * (1.0 - kMinGain)) best = fixed;
  chosen_.emplace(shape, best);
  return best;
}

}  // namespace pagoda::cuda
