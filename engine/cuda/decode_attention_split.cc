#include "engine/cuda/decode_attention_split.h"

#include <algorithm>

namespace pagoda::cuda {

std::int64_t decode_attention_splits(std::int64_t num_decode, std::int64_t num_kv_heads,
                                     std::int64_t max_context, int num_sms, std::int64_t max_split_rows) {
  if (num_decode <= 0) return 1;
  const std::int64_t work = num_decode * std::max<std::int64_t>(num_kv_heads, 1);
  const std::int64_t want = (2LL * num_sms + work - 1) / work;
  const std::int64_t useful =
      (std::max<std::int64_t>(max_context, 1) + kMinDecodeSplitSize - 1) / kMinDecodeSplitSize;
  return std::max<std::int64_t>(1, std::min({want, useful, max_split_rows / num_decode}));
}

std::int32_t decode_split_size(std::int64_t max_context, std::int64_t num_splits) {
  const std::int64_t even = (std::max<std::int64_t>(max_context, 1) + num_splits - 1) / num_splits;
  return static_cast<std::int32_t>(std::max(even, kMinDecodeSplitSize));
}

int invariant_decode_split_slots(std::int64_t num_rows, std::int64_t num_decode_tiles, std::int64_t num_heads,
                                 std::int64_t heads_per_tile, std::int64_t max_splits, int num_sms,
                                 std::int64_t max_split_rows) {
  const std::int64_t ctas = num_decode_tiles * (num_heads / std::max<std::int64_t>(heads_per_tile, 1));
  if (max_splits < 2 || ctas < 1 || ctas >= num_sms || num_rows * max_splits > max_split_rows) return 0;
  return static_cast<int>(std::min<std::int64_t>((2LL * num_sms + ctas - 1) / ctas, max_splits));
}

}  // namespace pagoda::cuda
