// MappedFile: a whole file's bytes in memory, read-only (checkpoints, tokenizer
// files): either a mapping of the file itself, or (read_aligned) a private
// anonymous mapping the file was read into. Move-only; the bytes are immutable,
// so any thread may read them.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>

#include "base/status.h"

namespace pagoda {

class MappedFile {
 public:
  MappedFile() = default;
  ~MappedFile();
  MappedFile(MappedFile&& other) noexcept;
  MappedFile& operator=(MappedFile&& other) noexcept;
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;

  // Maps `path` read-only. Errors name the path.
  static StatusOr<MappedFile> open(const std::string& path);

  // Reads `path` into anonymous memory placed so that file byte
  // `aligned_offset` lands on a kAlignBytes boundary — for files whose payload
  // starts at an offset the page cache cannot align (a mapping of the file puts
  // byte i at i mod 4096 within a page). Transparent huge pages are requested.
  // The resident size is the file's, as for a fully read mapping. Errors name
  // the path.
  static constexpr std::size_t kAlignBytes = 64;
  static StatusOr<MappedFile> read_aligned(const std::string& path, std::size_t aligned_offset);

  std::span<const std::uint8_t> bytes() const { return {data_, size_bytes_}; }
  const std::uint8_t* data() const { return data_; }
  std::size_t size_bytes() const { return size_bytes_; }
  const std::string& path() const { return path_; }

 private:
  void unmap();

  std::string path_;
  const std::uint8_t* data_ = nullptr;
  std::size_t size_bytes_ = 0;
  // The mapping that holds data_ (they differ for read_aligned).
  void* map_base_ = nullptr;
  std::size_t map_bytes_ = 0;
};

// Reads a whole (small) file into a string. Errors name the path.
StatusOr<std::string> read_file(const std::string& path);

// Writes `contents` to `path` atomically (temporary file + rename).
Status write_file(const std::string& path, std::string_view contents);

}  // namespace pagoda
