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

// Released pages read back the same bytes (they come back from the file).
TEST(MappedFileTest, ReleasedPagesReadBackUnchanged) {
  std::string path = (std::filesystem::path(pagoda_test_temp_dir()) / "release.bin").string();
  std::string contents(5 * 4096 + 123, '\0');
  for (std::size_t i = 0; i < contents.size(); ++i)
    contents[i] = static_cast<char>(i * 7 + 3);
  ASSERT_TRUE(write_file(path, contents).ok());
  auto file = MappedFile::open(path);
  ASSERT_TRUE(file.ok()) << file.status().to_string();
  EXPECT_EQ(std::string(reinterpret_cast<const char*>(file->data()), file->size_bytes()), contents);
  file->release_resident_pages(file->bytes().subspan(100, 3 * 4096));
  file->release_resident_pages(file->bytes());
  file->release_resident_pages({});  // nothing: ignored
  EXPECT_EQ(std::string(reinterpret_cast<const char*>(file->data()), file->size_bytes()), contents);
}

}  // namespace
}  // namespace pagoda
