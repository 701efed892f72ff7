// SafetensorsWriter: streams tensors into a .safetensors file without holding
// the whole file in memory. Declare every tensor, then write their bytes in the
// declared order. Single-threaded use.
#pragma once

#include <cstdint>
#include <cstdio>
#include <map>
#include <span>
#include <string>
#include <vector>

#include "base/status.h"
#include "engine/model/dtype.h"

namespace pagoda {

struct TensorSpec {
  std::string name;
  DType dtype = DType::kBF16;
  std::vector<std::int64_t> shape;
  std::uint64_t size_bytes() const;
};

class SafetensorsWriter {
 public:
  ~SafetensorsWriter();
  SafetensorsWriter(const SafetensorsWriter&) = delete;
  SafetensorsWriter& operator=(const SafetensorsWriter&) = delete;
  SafetensorsWriter(SafetensorsWriter&&) noexcept;
  SafetensorsWriter& operator=(SafetensorsWriter&&) = delete;

  // Creates `path` and writes the header (padded to 8 bytes, as the format's
  // reference writer does). Data follows in the order of `tensors`.
  static StatusOr<SafetensorsWriter> create(const std::string& path, std::vector<TensorSpec> tensors,
                                            const std::map<std::string, std::string>& metadata);

  // Appends bytes of the current tensor; a tensor may arrive in several pieces.
  Status append(std::span<const std::uint8_t> bytes);
  // Checks every declared byte was written and closes the file.
  Status finish();

 private:
  SafetensorsWriter() = default;
  std::string path_;
  std::FILE* file_ = nullptr;
  std::uint64_t expected_bytes_ = 0;
  std::uint64_t written_bytes_ = 0;
};

}  // namespace pagoda
