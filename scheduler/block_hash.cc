#include "scheduler/block_hash.h"

namespace pagoda {
namespace {

__extension__ typedef unsigned __int128 Uint128;

constexpr std::uint64_t kSecret0 = 0xa0761d6478bd642fULL;
constexpr std::uint64_t kSecret1 = 0xe7037ed1a0b428dbULL;
constexpr std::uint64_t kSecret2 = 0x8ebc6af09c88c6e3ULL;
constexpr std::uint64_t kSecret3 = 0x589965cc75374cc3ULL;

inline std::uint64_t mix(std::uint64_t a, std::uint64_t b) {
  const Uint128 r = static_cast<Uint128>(a) * b;
  return static_cast<std::uint64_t>(r) ^ static_cast<std::uint64_t>(r >> 64);
}

}  // namespace

BlockHash hash_block_tokens(BlockHash parent, std::span<const std::int32_t> tokens) {
  std::uint64_t h = mix(parent ^ kSecret0, kSecret1);
  std::size_t i = 0;
  for (; i + 1 < tokens.size(); i += 2) {
    const std::uint64_t w = static_cast<std::uint32_t>(tokens[i]) |
                            (static_cast<std::uint64_t>(static_cast<std::uint32_t>(tokens[i + 1])) << 32);
    h = mix(w ^ kSecret2, h ^ kSecret1);
  }
  if (i < tokens.size()) h = mix(static_cast<std::uint32_t>(tokens[i]) ^ kSecret3, h ^ kSecret1);
  return mix(h ^ kSecret0, static_cast<std::uint64_t>(tokens.size()) ^ kSecret3);
}

}  // namespace pagoda
