// paged_attention for the baseline ISA, and the run-time dispatch.
#define PAGODA_ATTENTION_NS generic
#include "engine/cpu/paged_attention_kernel.inc"

namespace pagoda::cpu {
namespace avx512 {
void paged_attention_impl(const PagedAttentionParams& p, ThreadPool& pool);
void write_kv_impl(std::uint16_t* k_cache, std::uint16_t* v_cache, const float* k, const float* v,
                   const std::int32_t* block_table, std::int32_t position, std::int64_t num_kv_heads,
                   std::int64_t head_dim, std::int64_t block_size);
}  // namespace avx512

void paged_attention(const PagedAttentionParams& p, ThreadPool& pool) {
  if (detected_isa() == CpuIsa::kAvx512Bf16) {
    avx512::paged_attention_impl(p, pool);
  } else {
    generic::paged_attention_impl(p, pool);
  }
}

void write_kv(std::uint16_t* k_cache, std::uint16_t* v_cache, const float* k, const float* v,
              const std::int32_t* block_table, std::int32_t position, std::int64_t num_kv_heads,
              std::int64_t head_dim, std::int64_t block_size) {
  generic::write_kv_impl(k_cache, v_cache, k, v, block_table, position, num_kv_heads, head_dim, block_size);
}

}  // namespace pagoda::cpu
