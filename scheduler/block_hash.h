// BlockHash: the prefix-cache key of one full KV block — a strong 64-bit hash
// of the block's token ids chained with the previous block's hash, so equal
// keys mean equal prefixes (collisions are ruled out by comparing tokens on a
// hit). Pure functions; any thread.
#pragma once

#include <cstdint>
#include <span>

namespace pagoda {

using BlockHash = std::uint64_t;

// Parent hash of a sequence's first block.
inline constexpr BlockHash kRootBlockHash = 0x9e3779b97f4a7c15ULL;

// wyhash-style 64x64->128 multiply-fold over the tokens, seeded by the parent.
BlockHash hash_block_tokens(BlockHash parent, std::span<const std::int32_t> tokens);

}  // namespace pagoda
