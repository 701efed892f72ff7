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
  if (map_base_ != nullptr) munmap(map_base_, map_bytes_);
  map_base_ = nullptr;
  map_bytes_ = 0;
}

MappedFile::MappedFile(MappedFile&& other) noexcept
    : path_(std::move(other.path_)),
      data_(std::exchange(other.data_, nullptr)),
      size_bytes_(std::exchange(other.size_bytes_, 0)),
      map_base_(std::exchange(other.map_base_, nullptr)),
      map_bytes_(std::exchange(other.map_bytes_, 0)) {}

MappedFile& MappedFile::operator=(MappedFile&& other) noexcept {
  if (this != &other) {
    unmap();
    path_ = std::move(other.path_);
    data_ = std::exchange(other.data_, nullptr);
    size_bytes_ = std::exchange(other.size_bytes_, 0);
    map_base_ = std::exchange(other.map_base_, nullptr);
    map_bytes_ = std::exchange(other.map_bytes_, 0);
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
    file.map_base_ = p;
    file.map_bytes_ = f.size_bytes;
    file.data_ = static_cast<const std::uint8_t*>(p);
    file.size_bytes_ = f.size_bytes;
  }
  return file;
}

StatusOr<MappedFile> MappedFile::read_aligned(const std::string& path, std::size_t aligned_offset) {
  OpenFile f;
  PAGODA_RETURN_IF_ERROR(open_regular(path, f));
  MappedFile file;
  file.path_ = path;
  if (f.size_bytes == 0) return file;
  // Byte 0 goes `pad` bytes into the mapping, so byte aligned_offset is aligned.
  const std::size_t pad = (kAlignBytes - aligned_offset % kAlignBytes) % kAlignBytes;
  file.map_bytes_ = f.size_bytes + pad;
  void* p = mmap(nullptr, file.map_bytes_, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) {
    file.map_bytes_ = 0;
    return resource_exhausted(path + ": cannot allocate " + std::to_string(f.size_bytes) +
                              " bytes to read it into: " + errno_text());
  }
  file.map_base_ = p;
  madvise(p, file.map_bytes_, MADV_HUGEPAGE);  // a hint; without THP the pages are small
  auto* dst = static_cast<std::uint8_t*>(p) + pad;
  for (std::size_t done = 0; done < f.size_bytes;) {
    const ssize_t n = pread(f.fd, dst + done, f.size_bytes - done, static_cast<off_t>(done));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      return data_loss(path + ": read failed at byte " + std::to_string(done) + ": " +
                       (n < 0 ? errno_text() : std::string("file shrank while reading")));
    }
    done += static_cast<std::size_t>(n);
  }
  if (mprotect(p, file.map_bytes_, PROT_READ) != 0)
    return internal_error(path + ": mprotect: " + errno_text());
  file.data_ = dst;
  file.size_bytes_ = f.size_bytes;
  return file;
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
