#include "engine/cpu/cpu_weights.h"

#include <cstring>

#include "base/bf16.h"
#include "engine/model/expected_tensor.h"

namespace pagoda::cpu {

StatusOr<RankShard> RankShard::make(const ModelConfig& c, int rank, int world_size) {
  const std::int64_t t = world_size;
  auto refuse = [&](const std::string& what) {
    return invalid_argument("tensor parallel size " + std::to_string(world_size) +
                            " cannot split this model: " + what);
  };
  if (world_size < 1 || rank < 0 || rank >= world_size) return invalid_argument("bad tensor-parallel rank");
  if (c.num_attention_heads % t != 0) {
    return refuse("num_attention_heads " + std::to_string(c.num_attention_heads) + " is not divisible by it");
  }
  if (c.num_key_value_heads % t != 0 && t % c.num_key_value_heads != 0) {
    return refuse("num_key_value_heads " + std::to_string(c.num_key_value_heads) +
                  " neither divides nor is divisible by it");
  }
  if (c.intermediate_size % t != 0) {
    return refuse("intermediate_size " + std::to_string(c.intermediate_size) + " is not divisible by it");
  }
  RankShard s;
  s.rank = rank;
  s.world_size = world_size;
  s.num_q_heads = c.num_attention_heads / t;
  s.q_head_begin = rank * s.num_q_heads;
  if (c.num_key_value_heads >= t) {
    s.num_kv_heads = c.num_key_value_heads / t;
    s.kv_head_begin = rank * s.num_kv_heads;
  } else {  // replicate: ranks t/kv share one KV head
    s.num_kv_heads = 1;
    s.kv_head_begin = rank / (t / c.num_key_value_heads);
  }
  s.inter_size = c.intermediate_size / t;
  s.inter_begin = rank * s.inter_size;
  s.vocab_padded = (c.vocab_size + t - 1) / t;
  s.vocab_begin = std::min<std::int64_t>(c.vocab_size, rank * s.vocab_padded);
  s.vocab_size = std::min<std::int64_t>(c.vocab_size, s.vocab_begin + s.vocab_padded) - s.vocab_begin;
  return s;
}

StatusOr<std::shared_ptr<const CpuWeights>> CpuWeights::create(const ModelConfig& c,
                                                               std::shared_ptr<const Checkpoint> ckpt,
                                                               const RankShard& s) {
  auto w = std::shared_ptr<CpuWeights>(new CpuWeights());
  w->shard_ = s;
  w->checkpoint_ = ckpt;

  // The whole tensor as bf16: in place when stored as BF16, else converted once.
  auto full = [&](const std::string& name) -> StatusOr<Bf16Matrix> {
    const TensorView* t = ckpt->find(name);
    if (t == nullptr) return data_loss("checkpoint is missing tensor '" + name + "'");
    Bf16Matrix m;
    m.rows = t->shape.size() == 2 ? t->shape[0] : 1;
    m.cols = t->shape.back();
    m.ld = m.cols;
    if (t->dtype == DType::kBF16) {
      m.data = reinterpret_cast<const std::uint16_t*>(t->bytes.data());
      return m;
    }
    const std::int64_t n = t->num_elements();
    auto buf = std::make_unique<std::uint16_t[]>(static_cast<std::size_t>(n));
    for (std::int64_t i = 0; i < n; ++i) {
      if (t->dtype == DType::kF32) {
        float f;
        std::memcpy(&f, t->bytes.data() + 4 * i, 4);
        buf[static_cast<std::size_t>(i)] = f32_to_bf16(f);
      } else {
        std::uint16_t h;
        std::memcpy(&h, t->bytes.data() + 2 * i, 2);
        buf[static_cast<std::size_t>(i)] = f32_to_bf16(f16_to_f32(h));
      }
    }
    m.data = buf.get();
    w->converted_.push_back(std::move(buf));
    return m;
  };
  auto rows = [](Bf16Matrix m, std::int64_t begin, std::int64_t count) {
    m.data += begin * m.ld;
    m.rows = count;
    return m;
  };
  auto cols = [](Bf16Matrix m, std::int64_t begin, std::int64_t count) {
    m.data += begin;
    m.cols = count;
    return m;
  };

  const std::int64_t hd = c.head_dim;
  PAGODA_ASSIGN_OR_RETURN(Bf16Matrix embed, full("model.embed_tokens.weight"));
  w->embedding = rows(embed, s.vocab_begin, s.vocab_size);
  if (c.tie_word_embeddings) {
    w->lm_head = w->embedding;
  } else {
    PAGODA_ASSIGN_OR_RETURN(Bf16Matrix lm, full("lm_head.weight"));
    w->lm_head = rows(lm, s.vocab_begin, s.vocab_size);
  }
  PAGODA_ASSIGN_OR_RETURN(w->final_norm, full("model.norm.weight"));
  w->layers.resize(static_cast<std::size_t>(c.num_hidden_layers));
  for (int i = 0; i < c.num_hidden_layers; ++i) {
    namespace t = layer_tensors;
    const auto layer = [&](std::string_view name) { return full(layer_tensor(i, name)); };
    CpuLayerWeights& l = w->layers[static_cast<std::size_t>(i)];
    PAGODA_ASSIGN_OR_RETURN(l.input_norm, layer(t::kInputNorm));
    PAGODA_ASSIGN_OR_RETURN(l.post_attention_norm, layer(t::kPostAttentionNorm));
    PAGODA_ASSIGN_OR_RETURN(l.q_norm, layer(t::kQNorm));
    PAGODA_ASSIGN_OR_RETURN(l.k_norm, layer(t::kKNorm));
    PAGODA_ASSIGN_OR_RETURN(Bf16Matrix q, layer(t::kQProj));
    PAGODA_ASSIGN_OR_RETURN(Bf16Matrix k, layer(t::kKProj));
    PAGODA_ASSIGN_OR_RETURN(Bf16Matrix v, layer(t::kVProj));
    PAGODA_ASSIGN_OR_RETURN(Bf16Matrix o, layer(t::kOProj));
    PAGODA_ASSIGN_OR_RETURN(Bf16Matrix gate, layer(t::kGateProj));
    PAGODA_ASSIGN_OR_RETURN(Bf16Matrix up, layer(t::kUpProj));
    PAGODA_ASSIGN_OR_RETURN(Bf16Matrix down, layer(t::kDownProj));
    l.q_proj = rows(q, s.q_head_begin * hd, s.num_q_heads * hd);
    l.k_proj = rows(k, s.kv_head_begin * hd, s.num_kv_heads * hd);
    l.v_proj = rows(v, s.kv_head_begin * hd, s.num_kv_heads * hd);
    l.o_proj = cols(o, s.q_head_begin * hd, s.num_q_heads * hd);
    l.gate_proj = rows(gate, s.inter_begin, s.inter_size);
    l.up_proj = rows(up, s.inter_begin, s.inter_size);
    l.down_proj = cols(down, s.inter_begin, s.inter_size);
  }
  return std::shared_ptr<const CpuWeights>(std::move(w));
}

}  // namespace pagoda::cpu
