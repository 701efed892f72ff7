// SafetensorsFile: one .safetensors file in memory with a validated header.
// The header is checked against the file before any tensor is exposed: offsets
// in bounds, contiguous and non-overlapping, shape x dtype = byte length. The
// file is mapped (MappedFile), and tensor bytes are read in place. Immutable
// after open(); any thread may read.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "base/mapped_file.h"
#include "base/status.h"
#include "engine/model/tensor_view.h"

namespace pagoda {

class SafetensorsFile {
 public:
  // Largest header accepted (the format's reference implementation uses 100 MB).
  static constexpr std::uint64_t kMaxHeaderBytes = 100ull << 20;

  static StatusOr<SafetensorsFile> open(const std::string& path);

  // Validates a header and data region held in memory (used by open() and the fuzzer).
  // `source` names the file in errors.
  static StatusOr<std::vector<TensorView>> parse(std::span<const std::uint8_t> file_bytes,
                                                 const std::string& source);

  const std::string& path() const { return file_.path(); }
  // Tensors in file order (by data offset).
  const std::vector<TensorView>& tensors() const { return tensors_; }
  const std::map<std::string, std::string>& metadata() const { return metadata_; }
  // MappedFile::release_resident_pages (ignored for bytes outside this file).
  void release_resident_pages(std::span<const std::uint8_t> bytes) const {
    file_.release_resident_pages(bytes);
  }

 private:
  MappedFile file_;
  std::vector<TensorView> tensors_;
  std::map<std::string, std::string> metadata_;
};

}  // namespace pagoda
