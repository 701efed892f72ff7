#include "engine/cuda/cuda_weights.h"

#include <cuda_runtime.h>

#include "cuda/cuda_status.h"
#include "engine/cuda/bump_layout.h"

namespace pagoda::cuda {
namespace {

// The matrices of one rank in upload order, as (rows, cols) pairs. Used both
// to size the allocation and to lay it out, so the two cannot disagree.
struct ShardShapes {
  std::int64_t hidden, head_dim, q_rows, kv_rows, inter, vocab;
  bool tied;
};

ShardShapes shapes_of(const ModelConfig& c, const cpu::RankShard& s) {
  return {c.hidden_size, c.head_dim,   s.num_q_heads * c.head_dim, s.num_kv_heads * c.head_dim,
          s.inter_size,  s.vocab_size, c.tie_word_embeddings};
}

std::int64_t total_bytes(const ShardShapes& s, std::int64_t num_layers) {
  auto m = [](std::int64_t r, std::int64_t c) { return BumpLayout::aligned(r * c * 2); };
  std::int64_t layer = 2 * m(1, s.hidden) + 2 * m(1, s.head_dim) + m(s.q_rows + 2 * s.kv_rows, s.hidden) +
                       m(s.hidden, s.q_rows) + m(2 * s.inter, s.hidden) + m(s.hidden, s.inter);
  return m(s.vocab, s.hidden) * (s.tied ? 1 : 2) + m(1, s.hidden) + layer * num_layers;
}

// Places matrices one after another in the storage buffer and copies host
// matrices in.
class Uploader {
 public:
  explicit Uploader(std::uint8_t* base) : layout_(base) {}

  // Reserves a [rows, cols] matrix and copies `parts` into consecutive row ranges.
  StatusOr<DeviceMatrix> put(std::int64_t rows, std::int64_t cols,
                             std::initializer_list<const cpu::Bf16Matrix*> parts) {
    std::uint16_t* dst = layout_.take<std::uint16_t>(rows * cols);
    std::int64_t row = 0;
    for (const cpu::Bf16Matrix* p : parts) {
      if (p->cols != cols) return internal_error("weight upload: column count mismatch");
      PAGODA_CUDA_RETURN_IF_ERROR(cudaMemcpy2D(
          dst + row * cols, static_cast<std::size_t>(cols) * 2, p->data, static_cast<std::size_t>(p->ld) * 2,
          static_cast<std::size_t>(cols) * 2, static_cast<std::size_t>(p->rows), cudaMemcpyHostToDevice));
      row += p->rows;
    }
    if (row != rows) return internal_error("weight upload: row count mismatch");
    return DeviceMatrix{dst, rows, cols};
  }
  std::int64_t used() const { return layout_.used(); }

 private:
  BumpLayout layout_;
};

}  // namespace

std::int64_t CudaWeights::bytes_needed(const ModelConfig& config, const cpu::RankShard& shard) {
  return total_bytes(shapes_of(config, shard), config.num_hidden_layers);
}

StatusOr<std::unique_ptr<CudaWeights>> CudaWeights::upload(const ModelConfig& config,
                                                           const cpu::CpuWeights& host) {
  const ShardShapes s = shapes_of(config, host.shard());
  const std::int64_t bytes = total_bytes(s, config.num_hidden_layers);
  auto w = std::make_unique<CudaWeights>();
  PAGODA_ASSIGN_OR_RETURN(w->storage_,
                          DeviceBuffer::allocate(static_cast<std::size_t>(bytes), "the model weights"));
  Uploader up(w->storage_.as<std::uint8_t>());
  PAGODA_ASSIGN_OR_RETURN(w->embedding, up.put(s.vocab, s.hidden, {&host.embedding}));
  if (s.tied) {
    w->lm_head = w->embedding;
  } else {
    PAGODA_ASSIGN_OR_RETURN(w->lm_head, up.put(s.vocab, s.hidden, {&host.lm_head}));
  }
  PAGODA_ASSIGN_OR_RETURN(w->final_norm, up.put(1, s.hidden, {&host.final_norm}));
  for (const cpu::CpuLayerWeights& l : host.layers) {
    CudaLayerWeights d;
    PAGODA_ASSIGN_OR_RETURN(d.input_norm, up.put(1, s.hidden, {&l.input_norm}));
    PAGODA_ASSIGN_OR_RETURN(d.post_attention_norm, up.put(1, s.hidden, {&l.post_attention_norm}));
    PAGODA_ASSIGN_OR_RETURN(d.q_norm, up.put(1, s.head_dim, {&l.q_norm}));
    PAGODA_ASSIGN_OR_RETURN(d.k_norm, up.put(1, s.head_dim, {&l.k_norm}));
    PAGODA_ASSIGN_OR_RETURN(d.qkv,
                            up.put(s.q_rows + 2 * s.kv_rows, s.hidden, {&l.q_proj, &l.k_proj, &l.v_proj}));
    PAGODA_ASSIGN_OR_RETURN(d.o_proj, up.put(s.hidden, s.q_rows, {&l.o_proj}));
    PAGODA_ASSIGN_OR_RETURN(d.gate_up, up.put(2 * s.inter, s.hidden, {&l.gate_proj, &l.up_proj}));
    PAGODA_ASSIGN_OR_RETURN(d.down, up.put(s.hidden, s.inter, {&l.down_proj}));
    w->layers.push_back(d);
  }
  if (up.used() != bytes) return internal_error("weight upload: layout disagrees with bytes_needed");
  return w;
}

}  // namespace pagoda::cuda
