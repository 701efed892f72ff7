#include "engine/model/safetensors_file.h"

#include <algorithm>
#include <cstring>
#include <limits>

#include <nlohmann/json.hpp>

namespace pagoda {
namespace {

using Json = nlohmann::json;

constexpr std::size_t kMaxRank = 8;
constexpr std::size_t kMaxTensors = 1 << 20;

// The little-endian u64 that opens the file (at least 8 bytes at `p`).
std::uint64_t header_size_of(const std::uint8_t* p) {
  std::uint64_t n = 0;
  for (int i = 7; i >= 0; --i)
    n = (n << 8) | p[i];
  return n;
}

// a * b, or nullopt on overflow of int64.
std::optional<std::int64_t> checked_mul(std::int64_t a, std::int64_t b) {
  std::int64_t r = 0;
  if (__builtin_mul_overflow(a, b, &r)) return std::nullopt;
  return r;
}

struct Entry {
  TensorView view;
  std::uint64_t begin = 0;
  std::uint64_t end = 0;
};

StatusOr<Entry> parse_entry(const std::string& name, const Json& v, std::uint64_t data_size,
                            const std::string& source) {
  auto bad = [&](const std::string& what) { return data_loss(source + ": tensor '" + name + "': " + what); };
  if (!v.is_object()) return bad("header entry is not an object");
  if (!v.contains("dtype") || !v["dtype"].is_string()) return bad("missing 'dtype'");
  if (!v.contains("shape") || !v["shape"].is_array()) return bad("missing 'shape'");
  if (!v.contains("data_offsets") || !v["data_offsets"].is_array() || v["data_offsets"].size() != 2) {
    return bad("'data_offsets' must be [begin, end]");
  }
  Entry e;
  e.view.name = name;
  std::string dtype = v["dtype"].get<std::string>();
  auto d = dtype_from_safetensors(dtype);
  if (!d) return bad("unknown dtype '" + dtype + "'");
  e.view.dtype = *d;
  if (v["shape"].size() > kMaxRank) return bad("rank " + std::to_string(v["shape"].size()) + " is too large");
  std::int64_t n = 1;
  for (const Json& dim : v["shape"]) {
    if (!dim.is_number_unsigned())
      return bad("shape " + v["shape"].dump() + " has a non-integer or negative dim");
    std::uint64_t x = dim.get<std::uint64_t>();
    if (x > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max()))
      return bad("dimension too large");
    auto m = checked_mul(n, static_cast<std::int64_t>(x));
    if (!m) return bad("shape " + v["shape"].dump() + " overflows");
    n = *m;
    e.view.shape.push_back(static_cast<std::int64_t>(x));
  }
  auto nbytes = checked_mul(n, static_cast<std::int64_t>(dtype_size_bytes(*d)));
  if (!nbytes) return bad("byte size overflows");
  for (const Json& off : v["data_offsets"]) {
    if (!off.is_number_unsigned()) return bad("'data_offsets' must be non-negative integers");
  }
  e.begin = v["data_offsets"][0].get<std::uint64_t>();
  e.end = v["data_offsets"][1].get<std::uint64_t>();
  if (e.end < e.begin) return bad("data_offsets end < begin");
  if (e.end > data_size) {
    return bad("data_offsets [" + std::to_string(e.begin) + ", " + std::to_string(e.end) + ") run past the " +
               std::to_string(data_size) + " data bytes in the file (truncated file?)");
  }
  if (e.end - e.begin != static_cast<std::uint64_t>(*nbytes)) {
    return bad("shape " + v["shape"].dump() + " x " + dtype + " is " + std::to_string(*nbytes) +
               " bytes but data_offsets span " + std::to_string(e.end - e.begin));
  }
  return e;
}

}  // namespace

std::string shape_to_string(const std::vector<std::int64_t>& shape) {
  std::string s = "[";
  for (std::size_t i = 0; i < shape.size(); ++i) {
    if (i > 0) s += ", ";
    s += std::to_string(shape[i]);
  }
  return s + "]";
}

StatusOr<std::vector<TensorView>> SafetensorsFile::parse(std::span<const std::uint8_t> bytes,
                                                         const std::string& source) {
  if (bytes.size() < 8) {
    return data_loss(source + ": file is " + std::to_string(bytes.size()) +
                     " bytes, too short for a safetensors header");
  }
  const std::uint64_t header_size = header_size_of(bytes.data());
  if (header_size > kMaxHeaderBytes) {
    return data_loss(source + ": header length " + std::to_string(header_size) + " exceeds the " +
                     std::to_string(kMaxHeaderBytes) + "-byte limit (not a safetensors file?)");
  }
  if (header_size > bytes.size() - 8) {
    return data_loss(source + ": header length " + std::to_string(header_size) +
                     " runs past the end of the " + std::to_string(bytes.size()) +
                     "-byte file (truncated file?)");
  }
  const char* hp = reinterpret_cast<const char*>(bytes.data() + 8);
  Json header = Json::parse(hp, hp + header_size, nullptr, /*allow_exceptions=*/false);
  if (header.is_discarded() || !header.is_object()) {
    return data_loss(source + ": header is not a JSON object");
  }
  const std::uint64_t data_start = 8 + header_size;
  const std::uint64_t data_size = bytes.size() - data_start;
  if (header.size() > kMaxTensors) return data_loss(source + ": too many tensors in header");

  std::vector<Entry> entries;
  entries.reserve(header.size());
  for (auto it = header.begin(); it != header.end(); ++it) {
    if (it.key() == "__metadata__") continue;
    PAGODA_ASSIGN_OR_RETURN(Entry e, parse_entry(it.key(), it.value(), data_size, source));
    entries.push_back(std::move(e));
  }
  std::sort(entries.begin(), entries.end(), [](const Entry& a, const Entry& b) {
    return a.begin != b.begin ? a.begin < b.begin : a.end < b.end;
  });
  // The data region must be covered exactly: no overlaps, no holes (as the
  // format's reference implementation requires).
  std::uint64_t cursor = 0;
  for (const Entry& e : entries) {
    if (e.begin < cursor) {
      return data_loss(source + ": tensor '" + e.view.name + "' overlaps the previous tensor (offset " +
                       std::to_string(e.begin) + " < " + std::to_string(cursor) + ")");
    }
    if (e.begin > cursor) {
      return data_loss(source + ": " + std::to_string(e.begin - cursor) + " unindexed bytes before tensor '" +
                       e.view.name + "'");
    }
    cursor = e.end;
  }
  if (cursor != data_size) {
    return data_loss(source + ": " + std::to_string(data_size - cursor) +
                     " trailing data bytes not covered by any tensor");
  }
  std::vector<TensorView> out;
  out.reserve(entries.size());
  for (Entry& e : entries) {
    e.view.bytes = bytes.subspan(data_start + e.begin, e.end - e.begin);
    out.push_back(std::move(e.view));
  }
  return out;
}

StatusOr<SafetensorsFile> SafetensorsFile::open(const std::string& path) {
  SafetensorsFile f;
  PAGODA_ASSIGN_OR_RETURN(f.file_, MappedFile::open(path));
  PAGODA_ASSIGN_OR_RETURN(f.tensors_, parse(f.file_.bytes(), path));
  const std::uint64_t header_size = header_size_of(f.file_.data());
  // Metadata is informational; re-read it from the (validated) header.
  const char* hp = reinterpret_cast<const char*>(f.file_.data() + 8);
  Json header = Json::parse(hp, hp + header_size, nullptr, false);
  if (header.contains("__metadata__") && header["__metadata__"].is_object()) {
    for (auto it = header["__metadata__"].begin(); it != header["__metadata__"].end(); ++it) {
      if (it.value().is_string()) f.metadata_[it.key()] = it.value().get<std::string>();
    }
  }
  return f;
}

}  // namespace pagoda
