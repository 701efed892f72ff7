// Golden tests: Pagoda's tokenizer against the JavaScript reference
// (tests/data/tokenizer/golden.jsonl, written by
// tools/golden/tokenizer/make_golden.mjs from corpus.jsonl).
//
// Where the JS reference (JavaScript regex semantics) and HF tokenizers
// (Rust + Oniguruma) pre-tokenize differently, Pagoda follows HF; those
// corpus entries carry "hf_pieces" and the test expects "hf_ids":
//   - U+FEFF is \s in JavaScript, not in Oniguruma;
//   - U+0085 (NEL) is \s in Oniguruma, not in JavaScript;
//   - (?i:'s) matches 'ſ (U+017F case-folds to s) in Oniguruma; the JS port
//     rewrites (?i:...) as [sS]...;
//   - node's regex uses Unicode 17, HF's Oniguruma and Pagoda's utf8proc
//     Unicode 15.0, so letters assigned since (e.g. CJK Ext. I) differ.
#include <gtest/gtest.h>

#include "engine/tokenizer/incremental_detokenizer.h"
#include "tests/engine/tokenizer/tokenizer_test_util.h"

namespace pagoda {
namespace {

using testing::GoldenEntry;

class TokenizerGoldenTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { entries_ = new std::vector<GoldenEntry>(testing::load_golden()); }
  static void TearDownTestSuite() {
    delete entries_;
    entries_ = nullptr;
  }
  static const std::vector<GoldenEntry>& entries() { return *entries_; }
  static std::vector<GoldenEntry>* entries_;
};
std::vector<GoldenEntry>* TokenizerGoldenTest::entries_ = nullptr;

std::string describe(const GoldenEntry& e) {
  return "corpus entry " + std::to_string(e.index) + (e.note.empty() ? "" : " (" + e.note + ")");
}

TEST_F(TokenizerGoldenTest, CorpusIsLargeAndCoversEveryKind) {
  ASSERT_GE(entries().size(), 150u);
  int malformed = 0, divergent = 0;
  for (const GoldenEntry& e : entries()) {
    malformed += e.malformed;
    divergent += e.ids != e.js_ids;
  }
  EXPECT_GE(malformed, 10);
  EXPECT_GE(divergent, 3);  // entries where HF and the JS reference disagree
}

TEST_F(TokenizerGoldenTest, IdsMatchReference) {
  const Tokenizer& tok = testing::qwen_tokenizer();
  int mismatches = 0;
  for (const GoldenEntry& e : entries()) {
    const std::vector<std::int32_t> ids = tok.encode(e.input);
    if (ids != e.ids) ++mismatches;
    EXPECT_EQ(ids, e.ids) << describe(e) << " text: " << e.text;
  }
  EXPECT_EQ(mismatches, 0);
}

TEST_F(TokenizerGoldenTest, DecodeMatchesReference) {
  const Tokenizer& tok = testing::qwen_tokenizer();
  for (const GoldenEntry& e : entries()) {
    EXPECT_EQ(tok.decode(e.ids), e.decoded) << describe(e);
    EXPECT_EQ(tok.decode(e.js_ids, /*skip_special_tokens=*/true), e.decoded_skip) << describe(e);
  }
}

TEST_F(TokenizerGoldenTest, DecodeOfEncodeIsNfcOfInput) {
  const Tokenizer& tok = testing::qwen_tokenizer();
  for (const GoldenEntry& e : entries()) {
    // For malformed input the reference text is the U+FFFD-repaired bytes.
    EXPECT_EQ(tok.decode(tok.encode(e.input)), e.nfc) << describe(e);
    EXPECT_EQ(tok.decode(tok.encode(e.input, /*parse_special=*/false)), e.nfc) << describe(e);
    EXPECT_EQ(tok.decode(tok.encode_ordinary(e.input)), e.nfc) << describe(e);
  }
}

TEST_F(TokenizerGoldenTest, IncrementalDetokenizerMatchesDecode) {
  const Tokenizer& tok = testing::qwen_tokenizer();
  for (const bool skip : {false, true}) {
    for (const GoldenEntry& e : entries()) {
      IncrementalDetokenizer detok(tok, skip);
      std::string streamed;
      for (const std::int32_t id : e.ids) {
        const std::string piece = detok.push(id);
        EXPECT_TRUE(utf8::find_invalid(piece) == piece.size()) << describe(e);
        streamed += piece;
      }
      streamed += detok.finish();
      EXPECT_EQ(streamed, tok.decode(e.ids, skip)) << describe(e) << " skip=" << skip;
    }
  }
}

TEST_F(TokenizerGoldenTest, PcreSplitterGivesTheSameIds) {
  TokenizerOptions options;
  options.fast_qwen_splitter = false;
  const auto slow = Tokenizer::load(testing::qwen_tokenizer_path(), options);
  ASSERT_TRUE(slow.ok()) << slow.status().to_string();
  const Tokenizer& fast = testing::qwen_tokenizer();
  for (const GoldenEntry& e : entries()) {
    // PCRE2 10.42 knows Unicode 14; skip the entry whose letter is newer.
    if (e.note.find("Unicode 15.1") != std::string::npos) continue;
    EXPECT_EQ((*slow)->encode(e.input), fast.encode(e.input)) << describe(e);
  }
}

}  // namespace
}  // namespace pagoda
