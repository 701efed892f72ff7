// GemmKernelChoice: which kernel computes a GEMM shape in the CUDA runner's
// default mode — cuBLASLt, our skinny GEMM (a few rows) or our tensor-core
// GEMM with narrow, deep tiles (launch_invariant_gemm). At start-up (the
// warm-up steps before graph capture) each new shape's candidates are timed
// on the GPU and the fastest is kept, so the runner takes whatever that
// card measures; a shape met later, or with timing off, takes the fixed
// rule (the skinny GEMM up to kSkinnyRows rows, else cuBLASLt: measured on
// an H200 on 2026-11-28). Pure host; owned by one CudaRank's thread.
#pragma once

#include <compare>
#include <cstdint>
#include <functional>
#include <map>
#include <span>

namespace pagoda::cuda {

enum class GemmKernel { kCublasLt, kSkinny, kTiled };

const char* gemm_kernel_name(GemmKernel k);

// y [m, n] (row stride ldy) = x [m, k] · w [n, k]ᵀ.
struct GemmShape {
  std::int64_t m = 0, n = 0, k = 0, ldy = 0;
  auto operator<=>(const GemmShape&) const = default;
};

class GemmKernelChoice {
 public:
  // Rows up to which the fixed rule takes the skinny GEMM.
  static constexpr std::int64_t kSkinnyRows = 4;
  // Shapes of more rows are not timed (prefill: cuBLASLt's tensor cores).
  static constexpr std::int64_t kMaxTimedRows = 512;

  // A candidate must beat the fixed rule's kernel by this fraction to be kept.
  static constexpr double kMinGain = 0.05;

  // The kernel for `shape` among `candidates` (cuBLASLt, always there; the
  // others where they can take the shape). A shape timed before keeps its
  // kernel (if a candidate here). Otherwise, when times(), time_ms times each
  // candidate (ms per product; negative when it failed, which drops it) and
  // the fastest is kept, unless within kMinGain of the fixed rule's kernel;
  // else the fixed rule.
  GemmKernel choose(const GemmShape& shape, std::span<const GemmKernel> candidates, bool may_time,
                    const std::function<double(GemmKernel)>& time_ms);
  // Whether choose() would time `shape`: may_time (start-up, not capturing a
  // graph), at most kMaxTimedRows rows, two candidates or more, not yet timed.
  bool times(const GemmShape& shape, std::size_t num_candidates, bool may_time) const;

  static GemmKernel fixed_rule(const GemmShape& shape, std::span<const GemmKernel> candidates);
  std::size_t num_timed() const { return chosen_.size(); }
  // Each timed shape and its kernel, for the start-up log.
  const std::map<GemmShape, GemmKernel>& timed() const { return chosen_; }

 private:
  std::map<GemmShape, GemmKernel> chosen_;
};

}  // namespace pagoda::cuda
