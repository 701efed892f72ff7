// CudaWeights: one tensor-parallel rank's weights in device memory, uploaded
// once from the CPU backend's bf16 views of the checkpoint (so sharding and
// dtype conversion are the same code on both backends), with Q/K/V and
// gate/up fused into one matrix each. One allocation holds everything.
// Immutable after upload; used by the rank's thread on its device.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "base/status.h"
#include "cuda/device_buffer.h"
#include "engine/cpu/cpu_weights.h"
#include "engine/model/model_config.h"

namespace pagoda::cuda {

// A [rows, cols] bf16 matrix in device memory, row-major, contiguous.
struct DeviceMatrix {
  const std::uint16_t* data = nullptr;
  std::int64_t rows = 0;
  std::int64_t cols = 0;
};

struct CudaLayerWeights {
  DeviceMatrix input_norm, post_attention_norm, q_norm, k_norm;  // [1, n]
  DeviceMatrix qkv;      // [(local q heads + 2 * local kv heads) * head_dim, hidden]: Q rows, K rows, V rows
  DeviceMatrix o_proj;   // [hidden, local q heads * head_dim]
  DeviceMatrix gate_up;  // [2 * local inter, hidden]: gate rows, then up rows
  DeviceMatrix down;     // [hidden, local inter]
};

class CudaWeights {
 public:
  // Bytes upload() will allocate for this shard (for memory planning).
  static std::int64_t bytes_needed(const ModelConfig& config, const cpu::RankShard& shard);
  // Copies `host` to the current device. Errors say how much did not fit.
  [[nodiscard]] static StatusOr<std::unique_ptr<CudaWeights>> upload(const ModelConfig& config,
                                                                     const cpu::CpuWeights& host);

  DeviceMatrix embedding;  // [local vocab, hidden]
  DeviceMatrix lm_head;    // [local vocab, hidden]; the embedding when tied
  DeviceMatrix final_norm;
  std::vector<CudaLayerWeights> layers;
  std::int64_t bytes() const { return static_cast<std::int64_t>(storage_.bytes()); }

 private:
  DeviceBuffer storage_;
};

}  // namespace pagoda::cuda
