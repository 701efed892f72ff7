#include "base/mapped_file.h"

#include <gtest/gtest.h>

#include "tests/test_temp_dir.h"

#include <cstdint>
#include <filesystem>

namespace pagoda {
namespace {

TEST(MappedFileTest, MapsWhatWasWritten) {
  std::string path = (std::filesystem::path(pagoda_test_temp_dir()) / "mapped_file_test.bin").string();
  ASSERT_TRUE(write_file(path, std::string("abc\0def", 7)).ok());
  auto file = MappedFile::open(path);
  ASSERT_TRUE(file.ok()) << file.status().to_string();
  ASSERT_EQ(file->size_bytes(), 7u);
  EXPECT_EQ(file->data()[3], 0);
  EXPECT_EQ(file->data()[6], 'f');
  MappedFile moved = std::move(file).value();
  EXPECT_EQ(moved.size_bytes(), 7u);
  EXPECT_EQ(read_file(path).value(), std::string("abc\0def", 7));
}

TEST(MappedFileTest, MissingFileNamesThePath) {
  auto file = MappedFile::open("/nonexistent/pagoda/file.safetensors");
  ASSERT_FALSE(file.ok());
  EXPECT_EQ(file.status().code(), StatusCode::kNotFound);
  EXPECT_NE(file.status().message().find("/nonexistent/pagoda/file.safetensors"), std::string::npos);
}

TEST(MappedFileTest, EmptyFileMapsToNothing) {
  std::string path = (std::filesystem::path(pagoda_test_temp_dir()) / "empty.bin").string();
  ASSERT_TRUE(write_file(path, "").ok());
  auto file = MappedFile::open(path);
  ASSERT_TRUE(file.ok());
  EXPECT_EQ(file->size_bytes(), 0u);
}

// read_aligned: the same bytes, with the requested file offset on a 64-byte
// boundary, for every offset within a cache line and beyond it.
TEST(MappedFileTest, ReadAlignedPutsTheOffsetOnACacheLine) {
  std::string path = (std::filesystem::path(pagoda_test_temp_dir()) / "aligned.bin").string();
  std::string contents(5000, '\0');
  for (std::size_t i = 0; i < contents.size(); ++i)
    contents[i] = static_cast<char>(i * 7 + 3);
  ASSERT_TRUE(write_file(path, contents).ok());
  for (std::size_t offset : {0u, 1u, 8u, 37u, 63u, 64u, 4099u}) {
    auto file = MappedFile::read_aligned(path, offset);
    ASSERT_TRUE(file.ok()) << file.status().to_string();
    ASSERT_EQ(file->size_bytes(), contents.size());
    EXPECT_EQ(reinterpret_cast<std::uintptr_t>(file->data() + offset) % MappedFile::kAlignBytes, 0u)
        << "offset " << offset;
    EXPECT_EQ(std::string(reinterpret_cast<const char*>(file->data()), file->size_bytes()), contents);
    MappedFile moved = std::move(file).value();
    EXPECT_EQ(moved.data()[4999], static_cast<std::uint8_t>(4999 * 7 + 3));
  }
  EXPECT_EQ(MappedFile::read_aligned("/nonexistent/pagoda/x.bin", 8).status().code(), StatusCode::kNotFound);
  ASSERT_TRUE(write_file(path, "").ok());
  EXPECT_EQ(MappedFile::read_aligned(path, 8)->size_bytes(), 0u);
}

}  // namespace
}  // namespace pagoda
