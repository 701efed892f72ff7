// DType: element types a checkpoint may hold, with their safetensors names.
// Pure values and functions.
#pragma once

#include <cstddef>
#include <optional>
#include <string_view>

namespace pagoda {

enum class DType { kBF16, kF16, kF32, kF8E4M3, kI64, kI32, kU8, kBool };

std::string_view dtype_name(DType dtype);  // safetensors spelling: "BF16", "F8_E4M3", ...
std::size_t dtype_size_bytes(DType dtype);
std::optional<DType> dtype_from_safetensors(std::string_view name);
// "bfloat16", "float16", "float32" (config.json's torch_dtype spelling).
std::optional<DType> dtype_from_torch_name(std::string_view name);
std::string_view dtype_torch_name(DType dtype);

}  // namespace pagoda
