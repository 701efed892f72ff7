// Fuzzes the safetensors header parser: any bytes must give tensors whose
// views lie inside the input, or a clean error.
#include <cstdint>
#include <cstdlib>
#include <span>

#include "engine/model/safetensors_file.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::span<const std::uint8_t> bytes(data, size);
  auto tensors = pagoda::SafetensorsFile::parse(bytes, "fuzz.safetensors");
  if (!tensors.ok()) return 0;
  for (const pagoda::TensorView& t : *tensors) {
    if (t.bytes.data() < data || t.bytes.data() + t.bytes.size() > data + size) std::abort();
    if (static_cast<std::size_t>(t.num_elements()) * pagoda::dtype_size_bytes(t.dtype) != t.bytes.size())
      std::abort();
  }
  return 0;
}
