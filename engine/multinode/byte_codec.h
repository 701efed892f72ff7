// ByteWriter and ByteReader: the little-endian wire encoding of the messages
// between nodes. The reader trusts nothing: every read is bounds-checked and a
// failed read leaves the reader failed (ok() false) with zeros returned.
#pragma once

#include <bit>
#include <cstdint>
#include <cstring>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace pagoda::multinode {

static_assert(std::endian::native == std::endian::little, "the node protocol is little-endian");

class ByteWriter {
 public:
  void u8(std::uint8_t v) { raw(&v, 1); }
  void u32(std::uint32_t v) { raw(&v, 4); }
  void i32(std::int32_t v) { raw(&v, 4); }
  void u64(std::uint64_t v) { raw(&v, 8); }
  // A length (u32) then the bytes.
  void str(std::string_view s) {
    u32(static_cast<std::uint32_t>(s.size()));
    raw(s.data(), s.size());
  }
  // A count (u32) then the values.
  void i32s(std::span<const std::int32_t> v) {
    u32(static_cast<std::uint32_t>(v.size()));
    raw(v.data(), v.size() * sizeof(std::int32_t));
  }
  std::string& bytes() { return out_; }

 private:
  void raw(const void* p, std::size_t n) { out_.append(static_cast<const char*>(p), n); }
  std::string out_;
};

class ByteReader {
 public:
  explicit ByteReader(std::string_view in) : in_(in) {}
  std::uint8_t u8() { return get<std::uint8_t>(); }
  std::uint32_t u32() { return get<std::uint32_t>(); }
  std::int32_t i32() { return get<std::int32_t>(); }
  std::uint64_t u64() { return get<std::uint64_t>(); }
  std::string str() {
    const std::uint32_t n = u32();
    if (!take(n)) return {};
    std::string s(in_.substr(pos_ - n, n));
    return s;
  }
  // Appends at most max_count values; more than that fails the reader.
  void i32s(std::vector<std::int32_t>& out, std::uint32_t max_count) {
    const std::uint32_t n = u32();
    if (n > max_count || !take(std::size_t{n} * sizeof(std::int32_t))) {
      ok_ = false;
      return;
    }
    if (n == 0) return;  // (memcpy may not be given out.data() of an empty vector)
    const std::size_t old = out.size();
    out.resize(old + n);
    std::memcpy(out.data() + old, in_.data() + pos_ - std::size_t{n} * sizeof(std::int32_t),
                std::size_t{n} * sizeof(std::int32_t));
  }
  bool ok() const { return ok_; }
  bool at_end() const { return pos_ == in_.size(); }

 private:
  template <typename T>
  T get() {
    T v{};
    if (take(sizeof(T))) std::memcpy(&v, in_.data() + pos_ - sizeof(T), sizeof(T));
    return v;
  }
  bool take(std::size_t n) {
    if (!ok_ || n > in_.size() - pos_) {
      ok_ = false;
      return false;
    }
    pos_ += n;
    return true;
  }
  std::string_view in_;
  std::size_t pos_ = 0;
  bool ok_ = true;
};

}  // namespace pagoda::multinode
