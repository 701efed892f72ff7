// Checkpoint: the weights of a Hugging Face model directory — model.safetensors
// or a sharded set named by model.safetensors.index.json — memory-mapped, with
// every header validated. Immutable after open(); any thread may read.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "base/status.h"
#include "engine/model/model_config.h"
#include "engine/model/safetensors_file.h"

namespace pagoda {

class Checkpoint {
 public:
  static constexpr const char* kSingleFile = "model.safetensors";
  static constexpr const char* kIndexFile = "model.safetensors.index.json";

  static StatusOr<Checkpoint> open(const std::string& model_dir);

  // nullptr when absent.
  const TensorView* find(std::string_view name) const;
  std::size_t num_tensors() const { return by_name_.size(); }
  const std::vector<SafetensorsFile>& files() const { return files_; }
  std::uint64_t total_tensor_bytes() const;
  // Drops this process's resident copy of the tensor's pages, for weights a
  // backend has copied elsewhere (MappedFile::release_resident_pages: the
  // bytes stay readable). Unknown names are ignored.
  void release_resident_pages(std::string_view name) const;
  // The same for bytes inside one of the checkpoint's tensors (ignored when
  // they are not in any of its files).
  void release_resident_pages(std::span<const std::uint8_t> bytes) const;

  // Every tensor `config` needs is present with its shape; dtypes are BF16,
  // F16 or F32 (FP8 is recognised and refused by name). Errors name the tensor
  // and the file holding it.
  Status validate(const ModelConfig& config) const;

 private:
  std::vector<SafetensorsFile> files_;
  std::unordered_map<std::string, const TensorView*> by_name_;
  std::unordered_map<std::string, std::string> file_of_;  // tensor name -> file path
};

}  // namespace pagoda
