// CpuPackedWeights: one tensor-parallel rank's GEMM weights — the seven
// projections of every layer and lm_head — packed for the CPU GEMM
// (PackedMatrix), built once at load from the rank's CpuWeights view. Norms
// and an untied embedding's rows are still read in place through CpuWeights.
// Immutable after pack_all(); any thread may read.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <vector>

#include "base/status.h"
#include "engine/cpu/cpu_weights.h"
#include "engine/cpu/packed_matrix.h"
#include "engine/cpu/thread_pool.h"
#include "engine/model/checkpoint.h"

namespace pagoda::cpu {

struct CpuPackedLayer {
  PackedMatrix q_proj, k_proj, v_proj;  // [local out, hidden]
  PackedMatrix o_proj;                  // [hidden, local q]
  PackedMatrix gate_up;    // gate_proj and up_proj [local inter, hidden], interleaved (pack_interleaved)
  PackedMatrix down_proj;  // [hidden, local inter]
};

class CpuPackedWeights {
 public:
  // Packs every rank's matrices, layer by layer, with `pool`'s threads. After
  // each layer (once every rank has packed its part) the checkpoint's pages of
  // that layer's projections leave the resident set, so loading never holds
  // the checkpoint and its packed copy at once: peak memory stays near one
  // copy. Fails only when memory runs out.
  static StatusOr<std::vector<std::unique_ptr<const CpuPackedWeights>>> pack_all(
      const ModelConfig& config, std::span<const std::shared_ptr<const CpuWeights>> ranks,
      const Checkpoint& checkpoint, ThreadPool& pool);

  PackedMatrix lm_head;  // [local vocab, hidden]
  std::vector<CpuPackedLayer> layers;

 private:
  StatusOr<PackedMatrix> pack(
      const Bf16Matrix& m, ThreadPool& pool,
      const std::function<void(std::int64_t row_begin, std::int64_t row_end)>& done_with_rows = {});
  StatusOr<PackedMatrix> keep(StatusOr<OwnedPackedMatrix> owned);

  std::vector<OwnedPackedMatrix> owned_;
};

}  // namespace pagoda::cpu
