#include "engine/model/random_checkpoint.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "base/bf16.h"
#include "base/mapped_file.h"
#include "engine/model/expected_tensor.h"
#include "engine/model/safetensors_writer.h"

namespace pagoda {
namespace {

namespace fs = std::filesystem;

constexpr std::int64_t kChunkElements = 1 << 16;

std::uint64_t splitmix64(std::uint64_t& state) {
  std::uint64_t z = (state += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

std::uint64_t fnv1a(std::string_view s) {
  std::uint64_t h = 0xcbf29ce484222325ull;
  for (char c : s)
    h = (h ^ static_cast<unsigned char>(c)) * 0x100000001b3ull;
  return h;
}

// How one tensor's values are drawn: mean + std * N(0, 1).
struct Init {
  double mean;
  double std;
};

Init init_for(const ExpectedTensor& t, const ModelConfig& c, double logit_std) {
  const std::string& n = t.name;
  auto ends_with = [&](std::string_view s) {
    return n.size() >= s.size() && n.compare(n.size() - s.size(), s.size(), s) == 0;
  };
  const double sqrt_hidden = std::sqrt(static_cast<double>(c.hidden_size));
  // Tied: the embedding is also lm_head, and h . e_x for the input token x
  // grows like hidden * std^2 while other logits grow like sqrt(hidden) * std;
  // a std of 2/sqrt(hidden) keeps the "copy the input" logit level with the
  // rest (the RMSNorm at each layer input removes the scale anyway). Untied: 1.
  if (n == "model.embed_tokens.weight") return {0.0, c.tie_word_embeddings ? 2.0 / sqrt_hidden : 1.0};
  if (n == "lm_head.weight") return {0.0, 1.0 / sqrt_hidden};
  if (n == "model.norm.weight") {
    // Logits = norm(h) . lm_head rows: std = weight * sqrt(hidden) * row std,
    // the row std being 1/sqrt(hidden) untied and 2/sqrt(hidden) tied.
    double scale = c.tie_word_embeddings ? logit_std / 2.0 : logit_std;
    return {scale, 0.1 * scale};
  }
  if (ends_with("layernorm.weight") || ends_with("_norm.weight")) return {1.0, 0.1};
  // Projections [out, in]: keep activations at unit scale.
  return {0.0, 1.0 / std::sqrt(static_cast<double>(t.shape.back()))};
}

void store(DType dtype, float v, std::uint8_t* dst) {
  switch (dtype) {
    case DType::kBF16: {
      std::uint16_t b = f32_to_bf16(v);
      std::memcpy(dst, &b, 2);
      break;
    }
    case DType::kF16: {
      std::uint16_t h = f32_to_f16(v);
      std::memcpy(dst, &h, 2);
      break;
    }
    default:
      std::memcpy(dst, &v, 4);
      break;
  }
}

// Fills `out` (num_elements of `dtype`) deterministically from (seed, name),
// chunk by chunk so the result does not depend on the number of threads.
void fill_tensor(const ExpectedTensor& t, DType dtype, Init init, std::uint64_t seed,
                 std::vector<std::uint8_t>& out) {
  std::int64_t n = 1;
  for (std::int64_t d : t.shape)
    n *= d;
  const std::size_t elem = dtype_size_bytes(dtype);
  out.resize(static_cast<std::size_t>(n) * elem);
  const std::int64_t num_chunks = (n + kChunkElements - 1) / kChunkElements;
  const std::uint64_t base = seed ^ fnv1a(t.name);
  auto work = [&](std::int64_t first_chunk, std::int64_t step) {
    for (std::int64_t ch = first_chunk; ch < num_chunks; ch += step) {
      std::uint64_t state = base + static_cast<std::uint64_t>(ch) * 0x632be59bd9b4e019ull;
      std::int64_t begin = ch * kChunkElements;
      std::int64_t end = std::min(n, begin + kChunkElements);
      for (std::int64_t i = begin; i < end; i += 2) {
        // Box-Muller: two normals from two uniforms in (0, 1].
        double u1 = (static_cast<double>(splitmix64(state) >> 11) + 1.0) * 0x1.0p-53;
        double u2 = static_cast<double>(splitmix64(state) >> 11) * 0x1.0p-53;
        double r = std::sqrt(-2.0 * std::log(u1));
        double z0 = r * std::cos(2.0 * M_PI * u2);
        double z1 = r * std::sin(2.0 * M_PI * u2);
        store(dtype, static_cast<float>(init.mean + init.std * z0), out.data() + i * elem);
        if (i + 1 < end)
          store(dtype, static_cast<float>(init.mean + init.std * z1), out.data() + (i + 1) * elem);
      }
    }
  };
  unsigned num_threads = std::max(1u, std::min<unsigned>(std::thread::hardware_concurrency(), 16));
  if (num_chunks < 4) num_threads = 1;
  std::vector<std::thread> threads;
  for (unsigned k = 1; k < num_threads; ++k)
    threads.emplace_back(work, k, num_threads);
  work(0, num_threads);
  for (auto& th : threads)
    th.join();
}

Status copy_tokenizer(const std::string& from_dir, const std::string& to_dir) {
  for (const char* name : {"tokenizer.json", "tokenizer_config.json"}) {
    fs::path src = fs::path(from_dir) / name;
    std::error_code ec;
    fs::copy_file(src, fs::path(to_dir) / name, fs::copy_options::overwrite_existing, ec);
    if (ec) return not_found(src.string() + ": cannot copy tokenizer file: " + ec.message());
  }
  return ok_status();
}

}  // namespace

Status write_random_checkpoint(const RandomCheckpointOptions& o) {
  const ModelConfig& c = o.config;
  PAGODA_RETURN_IF_ERROR(c.validate("model shape"));
  if (o.num_shards < 1) return invalid_argument("--shards must be at least 1");
  std::error_code ec;
  fs::create_directories(o.out_dir, ec);
  if (ec) return failed_precondition(o.out_dir + ": cannot create directory: " + ec.message());

  std::vector<ExpectedTensor> tensors = expected_tensors(c);
  if (static_cast<std::size_t>(o.num_shards) > tensors.size()) {
    return invalid_argument("--shards " + std::to_string(o.num_shards) + " exceeds the number of tensors (" +
                            std::to_string(tensors.size()) + ")");
  }
  // Split tensors, in order, into shards of roughly equal bytes.
  std::uint64_t total = 0;
  for (const auto& t : tensors)
    total += TensorSpec{t.name, c.dtype, t.shape}.size_bytes();
  std::vector<std::vector<const ExpectedTensor*>> shards(static_cast<std::size_t>(o.num_shards));
  {
    std::uint64_t acc = 0;
    std::size_t s = 0;
    for (std::size_t i = 0; i < tensors.size(); ++i) {
      // Move on when this shard has its share, or when every later shard
      // needs one of the remaining tensors.
      const std::size_t later_shards = shards.size() - s - 1;
      if (later_shards > 0 && !shards[s].empty() &&
          (acc >= total * (s + 1) / shards.size() || tensors.size() - i <= later_shards)) {
        ++s;
      }
      shards[s].push_back(&tensors[i]);
      acc += TensorSpec{tensors[i].name, c.dtype, tensors[i].shape}.size_bytes();
    }
  }

  nlohmann::ordered_json weight_map = nlohmann::ordered_json::object();
  std::vector<std::uint8_t> buffer;
  for (std::size_t s = 0; s < shards.size(); ++s) {
    std::string file_name = "model.safetensors";
    if (shards.size() > 1) {
      char buf[64];
      std::snprintf(buf, sizeof buf, "model-%05zu-of-%05zu.safetensors", s + 1, shards.size());
      file_name = buf;
    }
    std::vector<TensorSpec> specs;
    for (const ExpectedTensor* t : shards[s]) {
      specs.push_back({t->name, c.dtype, t->shape});
      weight_map[t->name] = file_name;
    }
    PAGODA_ASSIGN_OR_RETURN(
        SafetensorsWriter writer,
        SafetensorsWriter::create((fs::path(o.out_dir) / file_name).string(), specs,
                                  {{"format", "pt"}, {"generator", "pagoda make-model"}}));
    for (const ExpectedTensor* t : shards[s]) {
      fill_tensor(*t, c.dtype, init_for(*t, c, o.logit_std), o.seed, buffer);
      PAGODA_RETURN_IF_ERROR(writer.append(buffer));
    }
    PAGODA_RETURN_IF_ERROR(writer.finish());
  }
  if (shards.size() > 1) {
    nlohmann::ordered_json index;
    index["metadata"] = {{"total_size", total}};
    index["weight_map"] = weight_map;
    PAGODA_RETURN_IF_ERROR(
        write_file((fs::path(o.out_dir) / "model.safetensors.index.json").string(), index.dump(2) + "\n"));
  }
  PAGODA_RETURN_IF_ERROR(write_file((fs::path(o.out_dir) / "config.json").string(), model_config_to_json(c)));
  PAGODA_RETURN_IF_ERROR(
      write_file((fs::path(o.out_dir) / "generation_config.json").string(), generation_config_to_json(c)));
  if (!o.tokenizer_dir.empty()) PAGODA_RETURN_IF_ERROR(copy_tokenizer(o.tokenizer_dir, o.out_dir));
  return ok_status();
}

}  // namespace pagoda
