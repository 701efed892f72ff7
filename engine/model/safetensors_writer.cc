#include "engine/model/safetensors_writer.h"

#include <cerrno>
#include <cstring>
#include <utility>

#include <nlohmann/json.hpp>

namespace pagoda {

std::uint64_t TensorSpec::size_bytes() const {
  std::uint64_t n = dtype_size_bytes(dtype);
  for (std::int64_t d : shape)
    n *= static_cast<std::uint64_t>(d);
  return n;
}

SafetensorsWriter::~SafetensorsWriter() {
  if (file_ != nullptr) std::fclose(file_);
}

SafetensorsWriter::SafetensorsWriter(SafetensorsWriter&& o) noexcept
    : path_(std::move(o.path_)),
      file_(std::exchange(o.file_, nullptr)),
      expected_bytes_(o.expected_bytes_),
      written_bytes_(o.written_bytes_) {}

StatusOr<SafetensorsWriter> SafetensorsWriter::create(const std::string& path,
                                                      std::vector<TensorSpec> tensors,
                                                      const std::map<std::string, std::string>& metadata) {
  nlohmann::json header = nlohmann::json::object();
  if (!metadata.empty()) header["__metadata__"] = metadata;
  std::uint64_t offset = 0;
  for (const TensorSpec& t : tensors) {
    if (header.contains(t.name)) return invalid_argument(path + ": tensor '" + t.name + "' declared twice");
    header[t.name] = {{"dtype", std::string(dtype_name(t.dtype))},
                      {"shape", t.shape},
                      {"data_offsets", {offset, offset + t.size_bytes()}}};
    offset += t.size_bytes();
  }
  std::string text = header.dump();
  while ((8 + text.size()) % 8 != 0)
    text.push_back(' ');

  SafetensorsWriter w;
  w.path_ = path;
  w.expected_bytes_ = offset;
  w.file_ = std::fopen(path.c_str(), "wb");
  if (w.file_ == nullptr) return failed_precondition(path + ": cannot create: " + std::strerror(errno));
  std::uint8_t len[8];
  std::uint64_t n = text.size();
  for (int i = 0; i < 8; ++i)
    len[i] = static_cast<std::uint8_t>(n >> (8 * i));
  if (std::fwrite(len, 1, 8, w.file_) != 8 ||
      std::fwrite(text.data(), 1, text.size(), w.file_) != text.size()) {
    return data_loss(path + ": write failed: " + std::strerror(errno));
  }
  return w;
}

Status SafetensorsWriter::append(std::span<const std::uint8_t> bytes) {
  if (written_bytes_ + bytes.size() > expected_bytes_) {
    return internal_error(path_ + ": more tensor bytes written than declared");
  }
  if (std::fwrite(bytes.data(), 1, bytes.size(), file_) != bytes.size()) {
    return data_loss(path_ + ": write failed: " + std::strerror(errno));
  }
  written_bytes_ += bytes.size();
  return ok_status();
}

Status SafetensorsWriter::finish() {
  if (written_bytes_ != expected_bytes_) {
    return internal_error(path_ + ": " + std::to_string(written_bytes_) + " tensor bytes written, " +
                          std::to_string(expected_bytes_) + " declared");
  }
  std::FILE* f = std::exchange(file_, nullptr);
  if (std::fclose(f) != 0) return data_loss(path_ + ": close failed: " + std::strerror(errno));
  return ok_status();
}

}  // namespace pagoda
