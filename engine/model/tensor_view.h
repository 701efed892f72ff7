// TensorView: a typed, shaped window onto bytes someone else owns (a mapped
// checkpoint file). Plain value; valid while its owner lives.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "engine/model/dtype.h"

namespace pagoda {

struct TensorView {
  std::string name;
  DType dtype = DType::kBF16;
  std::vector<std::int64_t> shape;
  std::span<const std::uint8_t> bytes;

  std::int64_t num_elements() const {
    std::int64_t n = 1;
    for (std::int64_t d : shape)
      n *= d;
    return n;
  }
};

// "[1024, 3072]"
std::string shape_to_string(const std::vector<std::int64_t>& shape);

}  // namespace pagoda
