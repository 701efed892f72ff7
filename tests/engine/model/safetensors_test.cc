#include "engine/model/safetensors_file.h"

#include <gtest/gtest.h>

#include "tests/test_temp_dir.h"

#include <algorithm>
#include <cstdint>
#include <filesystem>

#include "base/mapped_file.h"
#include "engine/model/safetensors_writer.h"

namespace pagoda {
namespace {

std::string temp_path(const std::string& name) {
  return (std::filesystem::path(pagoda_test_temp_dir()) / name).string();
}

// A file image: 8-byte little-endian header length, header, data.
std::string image(const std::string& header, const std::string& data) {
  std::string out(8, '\0');
  for (int i = 0; i < 8; ++i)
    out[static_cast<std::size_t>(i)] = static_cast<char>((header.size() >> (8 * i)) & 0xff);
  return out + header + data;
}

StatusOr<std::vector<TensorView>> parse_image(const std::string& bytes) {
  return SafetensorsFile::parse(
      std::span<const std::uint8_t>(reinterpret_cast<const std::uint8_t*>(bytes.data()), bytes.size()),
      "x.safetensors");
}

TEST(SafetensorsTest, WriterThenReaderRoundTrip) {
  std::string path = temp_path("roundtrip.safetensors");
  std::vector<TensorSpec> specs = {
      {"a", DType::kBF16, {2, 3}}, {"b", DType::kF32, {4}}, {"scalar", DType::kF16, {}}};
  {
    auto w = SafetensorsWriter::create(path, specs, {{"format", "pt"}});
    ASSERT_TRUE(w.ok()) << w.status().to_string();
    std::vector<std::uint8_t> a(12), b(16), c(2);
    for (std::size_t i = 0; i < a.size(); ++i)
      a[i] = static_cast<std::uint8_t>(i);
    for (std::size_t i = 0; i < b.size(); ++i)
      b[i] = static_cast<std::uint8_t>(100 + i);
    c = {7, 9};
    ASSERT_TRUE(w->append(std::span(a).first(5)).ok());  // a tensor may arrive in pieces
    ASSERT_TRUE(w->append(std::span(a).subspan(5)).ok());
    ASSERT_TRUE(w->append(b).ok());
    ASSERT_TRUE(w->append(c).ok());
    ASSERT_TRUE(w->finish().ok());
  }
  auto f = SafetensorsFile::open(path);
  ASSERT_TRUE(f.ok()) << f.status().to_string();
  ASSERT_EQ(f->tensors().size(), 3u);
  const TensorView& a = f->tensors()[0];
  EXPECT_EQ(a.name, "a");
  EXPECT_EQ(a.dtype, DType::kBF16);
  EXPECT_EQ(a.shape, (std::vector<std::int64_t>{2, 3}));
  ASSERT_EQ(a.bytes.size(), 12u);
  EXPECT_EQ(a.bytes[11], 11);
  EXPECT_EQ(f->tensors()[1].bytes[0], 100);
  EXPECT_EQ(f->tensors()[2].shape.size(), 0u);
  EXPECT_EQ(f->tensors()[2].bytes[1], 9);
  EXPECT_EQ(f->metadata().at("format"), "pt");
  // The header is padded so data starts 8-byte aligned.
  EXPECT_EQ(reinterpret_cast<std::uintptr_t>(a.bytes.data()) % 8, 0u);
}

// Whatever the header's length (the format pads it to 8 bytes only), the
// tensor's bytes and the metadata read back unchanged.
TEST(SafetensorsTest, TensorDataReadsBackWhateverTheHeaderLength) {
  std::string path = temp_path("aligned.safetensors");
  std::vector<std::uint8_t> data(4 * 32 * 2);
  for (std::size_t i = 0; i < data.size(); ++i)
    data[i] = static_cast<std::uint8_t>(i * 13 + 1);
  for (std::size_t pad = 0; pad < 64; pad += 3) {  // header lengths over every residue mod 64
    {
      auto w =
          SafetensorsWriter::create(path, {{"w", DType::kBF16, {4, 32}}}, {{"pad", std::string(pad, 'x')}});
      ASSERT_TRUE(w.ok()) << w.status().to_string();
      ASSERT_TRUE(w->append(data).ok());
      ASSERT_TRUE(w->finish().ok());
    }
    auto f = SafetensorsFile::open(path);
    ASSERT_TRUE(f.ok()) << f.status().to_string();
    const TensorView& t = f->tensors().at(0);
    EXPECT_TRUE(std::equal(t.bytes.begin(), t.bytes.end(), data.begin(), data.end())) << "pad " << pad;
    EXPECT_EQ(f->metadata().at("pad"), std::string(pad, 'x'));
  }
}

TEST(SafetensorsTest, WriterRejectsShortData) {
  std::string path = temp_path("short.safetensors");
  auto w = SafetensorsWriter::create(path, {{"a", DType::kF32, {4}}}, {});
  ASSERT_TRUE(w.ok());
  std::vector<std::uint8_t> few(8);
  ASSERT_TRUE(w->append(few).ok());
  EXPECT_FALSE(w->finish().ok());
}

struct CorruptCase {
  const char* name;
  std::string bytes;
  const char* expected_message;
};

class CorruptSafetensorsTest : public testing::TestWithParam<CorruptCase> {};

TEST_P(CorruptSafetensorsTest, ClearErrorNeverCrash) {
  auto r = parse_image(GetParam().bytes);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kDataLoss);
  EXPECT_NE(r.status().message().find(GetParam().expected_message), std::string::npos)
      << r.status().message();
  EXPECT_NE(r.status().message().find("x.safetensors"), std::string::npos);
}

const std::string k8(8, 'x');

INSTANTIATE_TEST_SUITE_P(
    Cases, CorruptSafetensorsTest,
    testing::Values(
        CorruptCase{"tiny_file", "abc", "too short for a safetensors header"},
        CorruptCase{"header_past_end",
                    image(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})", k8).substr(0, 30),
                    "runs past the end"},
        CorruptCase{"huge_header_length", std::string("\xff\xff\xff\xff\xff\xff\xff\x7f", 8) + "{}",
                    "exceeds"},
        CorruptCase{"not_json", image("{not json", ""), "not a JSON object"},
        CorruptCase{"array_header", image("[1,2]", ""), "not a JSON object"},
        CorruptCase{"truncated_data", image(R"({"a":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}})", k8),
                    "run past the 8 data bytes"},
        CorruptCase{"shape_mismatch", image(R"({"a":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}})", k8),
                    "is 12 bytes but data_offsets span 8"},
        CorruptCase{"wrong_dtype", image(R"({"a":{"dtype":"Q4","shape":[2],"data_offsets":[0,8]}})", k8),
                    "unknown dtype 'Q4'"},
        CorruptCase{"negative_dim", image(R"({"a":{"dtype":"F32","shape":[-2],"data_offsets":[0,8]}})", k8),
                    "non-integer or negative dim"},
        CorruptCase{
            "overflowing_shape",
            image(R"({"a":{"dtype":"F32","shape":[4294967296,4294967296,4],"data_offsets":[0,8]}})", k8),
            "overflows"},
        CorruptCase{"end_before_begin", image(R"({"a":{"dtype":"U8","shape":[0],"data_offsets":[8,0]}})", k8),
                    "end < begin"},
        CorruptCase{"overlap",
                    image(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},
                                        "b":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})",
                          k8),
                    "overlaps"},
        CorruptCase{"hole", image(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})", k8),
                    "unindexed bytes"},
        CorruptCase{"trailing", image(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}})", k8),
                    "trailing data bytes"},
        CorruptCase{"missing_offsets", image(R"({"a":{"dtype":"F32","shape":[1]}})", ""), "data_offsets"},
        CorruptCase{"offsets_not_ints",
                    image(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":["0",4]}})", k8),
                    "non-negative integers"},
        CorruptCase{"entry_not_object", image(R"({"a":5})", ""), "not an object"}),
    [](const testing::TestParamInfo<CorruptCase>& param_info) { return std::string(param_info.param.name); });

TEST(SafetensorsTest, TruncatedFileOnDisk) {
  std::string path = temp_path("trunc.safetensors");
  std::string full =
      image(R"({"a":{"dtype":"BF16","shape":[8],"data_offsets":[0,16]}})", std::string(16, 'z'));
  ASSERT_TRUE(write_file(path, full.substr(0, full.size() - 3)).ok());
  auto f = SafetensorsFile::open(path);
  ASSERT_FALSE(f.ok());
  EXPECT_NE(f.status().message().find(path), std::string::npos);
  EXPECT_NE(f.status().message().find("truncated"), std::string::npos) << f.status().message();
}

}  // namespace
}  // namespace pagoda
