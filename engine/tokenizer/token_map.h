// TokenMap: an open-addressing hash map from a token's raw bytes to its id,
// tuned for the encode hot path. Built once; const lookups from any thread.
#pragma once

#include <cstdint>
#include <cstring>
#include <optional>
#include <string_view>
#include <vector>

namespace pagoda {

// A fast non-cryptographic hash of a byte string.
inline std::uint64_t hash_bytes(const char* p, std::size_t n) {
  auto mix = [](std::uint64_t x) {
    x ^= x >> 32;
    x *= 0xD6E8FEB86659FD93ull;
    x ^= x >> 32;
    return x;
  };
  std::uint64_t h = 0x9E3779B97F4A7C15ull ^ (n * 0xFF51AFD7ED558CCDull);
  while (n >= 8) {
    std::uint64_t w;
    std::memcpy(&w, p, 8);
    h = mix(h ^ w) * 0x9E3779B97F4A7C15ull;
    p += 8;
    n -= 8;
  }
  if (n > 0) {
    std::uint64_t w = 0;
    std::memcpy(&w, p, n);
    h = mix(h ^ w) * 0x9E3779B97F4A7C15ull;
  }
  return mix(h);
}

class TokenMap {
 public:
  // `key_of(id)` returns the bytes of id; ids with equal keys keep the first.
  // Returns the first id left out that way, if any.
  template <typename KeyOf>
  std::optional<std::int32_t> build(const std::vector<std::int32_t>& ids, KeyOf key_of) {
    std::optional<std::int32_t> first_duplicate;
    std::size_t capacity = 16;
    while (capacity < ids.size() * 2)
      capacity *= 2;
    slots_.assign(capacity, Slot{0, -1});
    mask_ = capacity - 1;
    for (const std::int32_t id : ids) {
      const std::string_view key = key_of(id);
      const std::uint64_t h = hash_bytes(key.data(), key.size());
      std::size_t i = h & mask_;
      bool duplicate = false;
      while (slots_[i].id >= 0) {
        if (slots_[i].tag == tag_of(h) && key_of(slots_[i].id) == key) {
          duplicate = true;
          break;
        }
        i = (i + 1) & mask_;
      }
      if (!duplicate) {
        slots_[i] = Slot{tag_of(h), id};
      } else if (!first_duplicate) {
        first_duplicate = id;
      }
    }
    return first_duplicate;
  }

  // The id whose key equals `bytes`; `key_of` as in build().
  template <typename KeyOf>
  std::optional<std::int32_t> find(std::string_view bytes, KeyOf key_of) const {
    if (slots_.empty()) return std::nullopt;
    const std::uint64_t h = hash_bytes(bytes.data(), bytes.size());
    const std::uint32_t tag = tag_of(h);
    for (std::size_t i = h & mask_;; i = (i + 1) & mask_) {
      const Slot& s = slots_[i];
      if (s.id < 0) return std::nullopt;
      if (s.tag == tag && key_of(s.id) == bytes) return s.id;
    }
  }

 private:
  struct Slot {
    std::uint32_t tag;
    std::int32_t id;  // -1: empty
  };
  static std::uint32_t tag_of(std::uint64_t h) { return static_cast<std::uint32_t>(h >> 32); }

  std::vector<Slot> slots_;
  std::size_t mask_ = 0;
};

}  // namespace pagoda
