#include "base/mapped_file.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <sstream>
#include <utility>

namespace pagoda {
namespace {

std::string errno_text() {
  return std::strerror(errno);
}

}  // namespace

MappedFile::~MappedFile() {
  unmap();
}

void MappedFile::unmap() {
  if (data_ != nullptr) munmap(const_cast<std::uint8_t*>(data_), size_bytes_);
  data_ = nullptr;
  size_bytes_ = 0;
}

MappedFile::MappedFile(MappedFile&& other) noexcept
    : path_(std::move(other.path_)),
      data_(std::exchange(other.data_, nullptr)),
      size_bytes_(std::exchange(other.size_bytes_, 0)) {}

MappedFile& MappedFile::operator=(MappedFile&& other) noexcept {
  if (this != &other) {
    unmap();
    path_ = std::move(other.path_);
    data_ = std::exchange(other.data_, nullptr);
    size_bytes_ = std::exchange(other.size_bytes_, 0);
  }
  return *this;
}

namespace {

// An open regular file and its size; closes on destruction.
struct OpenFile {
  int fd = -1;
  std::size_t size_bytes = 0;
  OpenFile() = default;
  OpenFile(const OpenFile&) = delete;
  OpenFile& operator=(const OpenFile&) = delete;
  ~OpenFile() {
    if (fd >= 0) ::close(fd);
  }
};

Status open_regular(const std::string& path, OpenFile& f) {
  f.fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (f.fd < 0) {
    return Status(errno == ENOENT ? StatusCode::kNotFound : StatusCode::kPermissionDenied,
                  path + ": cannot open: " + errno_text());
  }
  struct stat st {};
  if (fstat(f.fd, &st) != 0) return internal_error(path + ": cannot stat: " + errno_text());
  if (!S_ISREG(st.st_mode)) return invalid_argument(path + ": not a regular file");
  f.size_bytes = static_cast<std::size_t>(st.st_size);
  return ok_status();
}

}  // namespace

StatusOr<MappedFile> MappedFile::open(const std::string& path) {
  OpenFile f;
  PAGODA_RETURN_IF_ERROR(open_regular(path, f));
  MappedFile file;
  file.path_ = path;
  if (f.size_bytes > 0) {
    void* p = mmap(nullptr, f.size_bytes, PROT_READ, MAP_PRIVATE, f.fd, 0);
    if (p == MAP_FAILED) return internal_error(path + ": cannot map: " + errno_text());
    file.data_ = static_cast<const std::uint8_t*>(p);
    file.size_bytes_ = f.size_bytes;
  }
  return file;
}

void MappedFile::release_resident_pages(std::span<const std::uint8_t> range) const {
  if (range.empty() || range.data() < data_ || range.data() + range.size() > data_ + size_bytes_) return;
  // Whole pages only (the advice works on pages); partial pages at the ends stay.
  const auto page = static_cast<std::uintptr_t>(sysconf(_SC_PAGESIZE));
  const auto begin = (reinterpret_cast<std::uintptr_t>(range.data()) + page - 1) & ~(page - 1);
  const auto end = (reinterpret_cast<std::uintptr_t>(range.data() + range.size())) & ~(page - 1);
  // A private mapping of a file that was never written: dropping the pages
  // loses nothing, and a later read faults them in from the page cache.
  if (end > begin) madvise(reinterpret_cast<void*>(begin), end - begin, MADV_DONTNEED);
}

StatusOr<std::string> read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return not_found(path + ": cannot open for reading");
  std::ostringstream ss;
  ss << in.rdbuf();
  if (in.bad()) return data_loss(path + ": read error");
  return ss.str();
}

Status write_file(const std::string& path, std::string_view contents) {
  std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    if (!out) return failed_precondition(tmp + ": cannot open for writing");
    out.write(contents.data(), static_cast<std::streamsize>(contents.size()));
    out.flush();
    if (!out) return data_loss(tmp + ": write failed");
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    return data_loss(path + ": cannot rename from " + tmp + ": " + errno_text());
  }
  return ok_status();
}

}  // namespace pagoda
