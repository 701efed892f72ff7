#include "engine/model/checkpoint.h"

#include <algorithm>
#include <filesystem>

#include <nlohmann/json.hpp>

#include "engine/model/expected_tensor.h"

namespace pagoda {
namespace {

namespace fs = std::filesystem;

// Shard names come from a file we do not trust: a plain file name in the model
// directory, nothing else.
bool is_plain_file_name(const std::string& name) {
  return !name.empty() && name.find('/') == std::string::npos && name.find('\\') == std::string::npos &&
         name != "." && name != ".." && name.size() < 256;
}

}  // namespace

StatusOr<Checkpoint> Checkpoint::open(const std::string& model_dir) {
  Checkpoint ckpt;
  const fs::path dir(model_dir);
  const std::string index_path = (dir / kIndexFile).string();
  const std::string single_path = (dir / kSingleFile).string();

  std::vector<std::string> shard_names;
  std::unordered_map<std::string, std::string> weight_map;  // from the index, when sharded
  if (fs::exists(index_path)) {
    PAGODA_ASSIGN_OR_RETURN(std::string text, read_file(index_path));
    nlohmann::json index = nlohmann::json::parse(text, nullptr, false);
    if (index.is_discarded() || !index.is_object()) return data_loss(index_path + ": not a JSON object");
    if (!index.contains("weight_map") || !index["weight_map"].is_object()) {
      return data_loss(index_path + ": field 'weight_map': missing or not an object");
    }
    for (auto it = index["weight_map"].begin(); it != index["weight_map"].end(); ++it) {
      if (!it.value().is_string() || !is_plain_file_name(it.value().get<std::string>())) {
        return data_loss(index_path + ": field 'weight_map': tensor '" + it.key() +
                         "' maps to an invalid file name " + it.value().dump());
      }
      std::string shard = it.value().get<std::string>();
      weight_map[it.key()] = shard;
      if (std::find(shard_names.begin(), shard_names.end(), shard) == shard_names.end())
        shard_names.push_back(shard);
    }
    std::sort(shard_names.begin(), shard_names.end());
  } else if (fs::exists(single_path)) {
    shard_names.push_back(kSingleFile);
  } else {
    return not_found(model_dir + ": no " + std::string(kSingleFile) + " or " + kIndexFile + " found");
  }

  ckpt.files_.reserve(shard_names.size());
  for (const std::string& name : shard_names) {
    PAGODA_ASSIGN_OR_RETURN(SafetensorsFile f, SafetensorsFile::open((dir / name).string()));
    ckpt.files_.push_back(std::move(f));
  }
  for (const SafetensorsFile& f : ckpt.files_) {
    const std::string shard = fs::path(f.path()).filename().string();
    for (const TensorView& t : f.tensors()) {
      if (!weight_map.empty()) {
        auto it = weight_map.find(t.name);
        if (it == weight_map.end()) {
          return data_loss(index_path + ": tensor '" + t.name + "' in " + shard + " is not in 'weight_map'");
        }
        if (it->second != shard) {
          return data_loss(index_path + ": 'weight_map' puts tensor '" + t.name + "' in " + it->second +
                           " but it is in " + shard);
        }
      }
      if (!ckpt.by_name_.emplace(t.name, &t).second) {
        return data_loss(f.path() + ": tensor '" + t.name + "' also appears in " + ckpt.file_of_[t.name]);
      }
      ckpt.file_of_[t.name] = f.path();
    }
  }
  for (const auto& [name, shard] : weight_map) {
    if (!ckpt.by_name_.count(name)) {
      return data_loss(index_path + ": tensor '" + name + "' is listed in 'weight_map' but missing from " +
                       shard);
    }
  }
  return ckpt;
}

const TensorView* Checkpoint::find(std::string_view name) const {
  auto it = by_name_.find(std::string(name));
  return it == by_name_.end() ? nullptr : it->second;
}

void Checkpoint::release_resident_pages(std::string_view name) const {
  if (const TensorView* t = find(name)) release_resident_pages(t->bytes);
}

void Checkpoint::release_resident_pages(std::span<const std::uint8_t> bytes) const {
  for (const SafetensorsFile& f : files_)
    f.release_resident_pages(bytes);  // only the file holding them acts
}

std::uint64_t Checkpoint::total_tensor_bytes() const {
  std::uint64_t n = 0;
  for (const auto& [name, t] : by_name_)
    n += t->bytes.size();
  return n;
}

Status Checkpoint::validate(const ModelConfig& config) const {
  for (const ExpectedTensor& e : expected_tensors(config)) {
    const TensorView* t = find(e.name);
    if (t == nullptr) {
      return data_loss("checkpoint is missing tensor '" + e.name + "' (expected shape " +
                       shape_to_string(e.shape) + ")");
    }
    const std::string& file = file_of_.at(e.name);
    if (t->shape != e.shape) {
      return data_loss(file + ": tensor '" + e.name + "' has shape " + shape_to_string(t->shape) +
                       " but config.json implies " + shape_to_string(e.shape));
    }
    if (t->dtype == DType::kF8E4M3) {
      return unimplemented(file + ": tensor '" + e.name +
                           "' is FP8 E4M3; FP8 checkpoints are not supported yet");
    }
    if (t->dtype != DType::kBF16 && t->dtype != DType::kF16 && t->dtype != DType::kF32) {
      return data_loss(file + ": tensor '" + e.name + "' has dtype " + std::string(dtype_name(t->dtype)) +
                       "; weights must be BF16, F16 or F32");
    }
  }
  return ok_status();
}

}  // namespace pagoda
