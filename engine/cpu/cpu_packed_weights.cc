#include "engine/cpu/cpu_packed_weights.h"

#include <string>
#include <string_view>

#include "engine/model/expected_tensor.h"

namespace pagoda::cpu {

StatusOr<PackedMatrix> CpuPackedWeights::pack(
    const Bf16Matrix& m, ThreadPool& pool,
    const std::function<void(std::int64_t row_begin, std::int64_t row_end)>& done_with_rows) {
  return keep(pack_matrix(m.data, m.ld, m.rows, m.cols, pool, done_with_rows));
}

StatusOr<PackedMatrix> CpuPackedWeights::keep(StatusOr<OwnedPackedMatrix> owned) {
  if (!owned.ok()) return owned.status();
  const PackedMatrix view = owned->view;
  owned_.push_back(std::move(owned).value());
  return view;
}

StatusOr<std::vector<std::unique_ptr<const CpuPackedWeights>>> CpuPackedWeights::pack_all(
    const ModelConfig& config, std::span<const std::shared_ptr<const CpuWeights>> ranks,
    const Checkpoint& checkpoint, ThreadPool& pool) {
  std::vector<std::unique_ptr<CpuPackedWeights>> packed;
  for (std::size_t r = 0; r < ranks.size(); ++r) {
    packed.push_back(std::make_unique<CpuPackedWeights>());
    packed.back()->layers.resize(static_cast<std::size_t>(config.num_hidden_layers));
  }
  for (int i = 0; i < config.num_hidden_layers; ++i) {
    const auto layer = static_cast<std::size_t>(i);
    for (std::size_t r = 0; r < ranks.size(); ++r) {
      const CpuLayerWeights& src = ranks[r]->layers[layer];
      CpuPackedWeights& dst_rank = *packed[r];
      CpuPackedLayer& dst = dst_rank.layers[layer];
      PAGODA_ASSIGN_OR_RETURN(dst.q_proj, dst_rank.pack(src.q_proj, pool));
      PAGODA_ASSIGN_OR_RETURN(dst.k_proj, dst_rank.pack(src.k_proj, pool));
      PAGODA_ASSIGN_OR_RETURN(dst.v_proj, dst_rank.pack(src.v_proj, pool));
      PAGODA_ASSIGN_OR_RETURN(dst.o_proj, dst_rank.pack(src.o_proj, pool));
      const Bf16Matrix& gate = src.gate_proj;
      const Bf16Matrix& up = src.up_proj;
      PAGODA_ASSIGN_OR_RETURN(dst.gate_up, dst_rank.keep(pack_interleaved(gate.data, gate.ld, up.data, up.ld,
                                                                          gate.rows, gate.cols, pool)));
      PAGODA_ASSIGN_OR_RETURN(dst.down_proj, dst_rank.pack(src.down_proj, pool));
    }
    for (std::string_view name : layer_tensors::kProjections)
      checkpoint.release_resident_pages(layer_tensor(i, name));
  }
  // lm_head, the largest matrix (a tied one is the embedding), leaves the
  // resident set panel by panel as it is packed, so that its source and its
  // packed copy are never resident together (a tied embedding's rows are then
  // gathered from the packed copy, CpuRank::embed).
  for (std::size_t r = 0; r < ranks.size(); ++r) {
    const Bf16Matrix& lm = ranks[r]->lm_head;
    PAGODA_ASSIGN_OR_RETURN(
        packed[r]->lm_head, packed[r]->pack(lm, pool, [&](std::int64_t row_begin, std::int64_t row_end) {
          const auto* first = reinterpret_cast<const std::uint8_t*>(lm.data + row_begin * lm.ld);
          checkpoint.release_resident_pages(std::span<const std::uint8_t>(
              first, static_cast<std::size_t>((row_end - row_begin) * lm.ld * 2)));
        }));
  }
  std::vector<std::unique_ptr<const CpuPackedWeights>> out;
  for (auto& p : packed)
    out.push_back(std::move(p));
  return out;
}

}  // namespace pagoda::cpu
