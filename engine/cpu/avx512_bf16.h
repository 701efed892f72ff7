// bf16 operands of vdpbf16ps, for files compiled with -mavx512bf16 only
// (gemm_avx512.cc, paged_attention_avx512.cc).
#pragma once

#include <immintrin.h>

#include <cstdint>
#include <cstring>

namespace pagoda::cpu {
namespace {  // one copy per translation unit: never shared with a non-AVX-512 file

inline __m512bh as_bh(__m512i v) {
  return reinterpret_cast<__m512bh&>(v);
}

// 32 bf16 values (one pair per 32-bit lane).
inline __m512bh load_bf16x32(const std::uint16_t* p) {
  return as_bh(_mm512_loadu_si512(p));
}

// The pair two[0] (low half), two[1] (high half) in every 32-bit lane.
inline __m512bh broadcast_pair(const std::uint16_t* two) {
  std::int32_t bits;
  std::memcpy(&bits, two, sizeof(bits));
  return as_bh(_mm512_set1_epi32(bits));
}

}  // namespace
}  // namespace pagoda::cpu
