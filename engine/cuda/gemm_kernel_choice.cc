#include "engine/cuda/gemm_kernel_choice.h"

#include <algorithm>

namespace pagoda::cuda {

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
  const bool skinny = std::find(candidates.begin(), candidates.end(), GemmKernel::kSkinny) != candidates.end();
  return skinny && shape.m <= kSkinnyRows ? GemmKernel::kSkinny : GemmKernel::kCublasLt;
}

GemmKernel GemmKernelChoice::choose(const GemmShape& shape, std::span<const GemmKernel> candidates,
                                    bool may_time, const std::function<double(GemmKernel)>& time_ms) {
  if (const auto it = chosen_.find(shape); it != chosen_.end()) return it->second;
  if (!may_time || shape.m > kMaxTimedRows || candidates.size() < 2) return fixed_rule(shape, candidates);
  GemmKernel best = fixed_rule(shape, candidates);
  double best_ms = -1.0;
  for (const GemmKernel k : candidates) {
    const double ms = time_ms(k);
    if (ms >= 0.0 && (best_ms < 0.0 || ms < best_ms)) {
      best = k;
      best_ms = ms;
    }
  }
  chosen_.emplace(shape, best);
  return best;
}

}  // namespace pagoda::cuda
