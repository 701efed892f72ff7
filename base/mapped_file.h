// MappedFile: a whole file's bytes in memory, read-only (checkpoints, tokenizer
// files), as a private mapping of the file itself. Move-only; the bytes are
// immutable, so any thread may read them.
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

  // Drops this process's resident copy of the whole pages inside `range` (a
  // part of bytes()): the bytes stay the same, and pages read again come back
  // from the page cache. For data read once at load and then held elsewhere.
  void release_resident_pages(std::span<const std::uint8_t> range) const;

  std::span<const std::uint8_t> bytes() const { return {data_, size_bytes_}; }
  const std::uint8_t* data() const { return data_; }
  std::size_t size_bytes() const { return size_bytes_; }
  const std::string& path() const { return path_; }

 private:
  void unmap();

  std::string path_;
  const std::uint8_t* data_ = nullptr;  // the mapping; nullptr for an empty file
  std::size_t size_bytes_ = 0;
};

// Reads a whole (small) file into a string. Errors name the path.
StatusOr<std::string> read_file(const std::string& path);

// Writes `contents` to `path` atomically (temporary file + rename).
Status write_file(const std::string& path, std::string_view contents);

}  // namespace pagoda
