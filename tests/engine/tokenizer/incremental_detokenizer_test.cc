// Tests of IncrementalDetokenizer: characters split across tokens, invalid
// bytes, skipped special tokens; the stream always equals decode().
#include "engine/tokenizer/incremental_detokenizer.h"

#include <gtest/gtest.h>

#include "tests/engine/tokenizer/tokenizer_test_util.h"

namespace pagoda {
namespace {

// Ids of single-byte tokens spelling `bytes`, so every multi-byte character
// is split across tokens.
std::vector<std::int32_t> byte_tokens(const Tokenizer& tok, std::string_view bytes) {
  std::vector<std::int32_t> ids;
  for (const char b : bytes)
    ids.push_back(*tok.token_to_id(byte_level::encode_bytes(std::string(1, b))));
  return ids;
}

std::string stream(const Tokenizer& tok, const std::vector<std::int32_t>& ids, bool skip,
                   std::vector<std::string>* chunks = nullptr) {
  IncrementalDetokenizer detok(tok, skip);
  std::string out;
  for (const std::int32_t id : ids) {
    const std::string chunk = detok.push(id);
    EXPECT_EQ(utf8::find_invalid(chunk), chunk.size()) << "partial UTF-8 emitted";
    if (chunks) chunks->push_back(chunk);
    out += chunk;
  }
  const std::string tail = detok.finish();
  if (chunks) chunks->push_back(tail);
  return out + tail;
}

TEST(IncrementalDetokenizerTest, MultiByteCharactersSplitAcrossTokens) {
  const Tokenizer& tok = testing::qwen_tokenizer();
  const std::string text = "a中😀𪚥👨‍👩‍👧b";
  const auto ids = byte_tokens(tok, text);
  std::vector<std::string> chunks;
  EXPECT_EQ(stream(tok, ids, false, &chunks), text);
  // Nothing is emitted until a character is complete.
  EXPECT_EQ(chunks[0], "a");
  EXPECT_EQ(chunks[1], "");
  EXPECT_EQ(chunks[2], "");
  EXPECT_EQ(chunks[3], "中");
}

TEST(IncrementalDetokenizerTest, RealEncodingsOfRareCharacters) {
  const Tokenizer& tok = testing::qwen_tokenizer();
  for (const std::string text :
       {"𪚥𰻞𠀀 rare CJK", "🧑🏿‍💻🏳️‍🌈🇯🇵", "ᠮᠣᠩᠭᠣᠯ ꦗꦮ", "Z̴̡̛a̶͎͝l̷̨̇g̵̣͐o̸̢͋"}) {
    const auto ids = tok.encode(text);
    EXPECT_EQ(stream(tok, ids, false), text);
  }
}

TEST(IncrementalDetokenizerTest, InvalidBytesMatchDecode) {
  const Tokenizer& tok = testing::qwen_tokenizer();
  for (const std::string bytes : {"\xE4\xB8",
                                  "\xE4\xB8"
                                  "a",
                                  "\xFF\xFE", "\xF0\x9F\x98", "a\xED\xA0\x80z", "\xC3", "\xE0\x80\xAF",
                                  "x\xF0\x9F\x98\xF0\x9F\x98\x80"}) {
    const auto ids = byte_tokens(tok, bytes);
    EXPECT_EQ(stream(tok, ids, false), tok.decode(ids)) << bytes;
  }
}

TEST(IncrementalDetokenizerTest, SkipsSpecialTokensLikeDecode) {
  const Tokenizer& tok = testing::qwen_tokenizer();
  auto ids = byte_tokens(tok, "\xE4");
  ids.push_back(151645);  // <|im_end|>, special
  const auto rest = byte_tokens(tok, "\xB8\xAD");
  ids.insert(ids.end(), rest.begin(), rest.end());
  ids.push_back(151667);  // <think>, not special
  ids.push_back(-3);      // unknown: skipped
  EXPECT_EQ(stream(tok, ids, true), tok.decode(ids, true));
  EXPECT_EQ(stream(tok, ids, true), "中<think>");
  EXPECT_EQ(stream(tok, ids, false), tok.decode(ids, false));
}

TEST(IncrementalDetokenizerTest, FinishFlushesIncompleteTail) {
  const Tokenizer& tok = testing::qwen_tokenizer();
  IncrementalDetokenizer detok(tok, false);
  for (const std::int32_t id : byte_tokens(tok, "ok\xF0\x9F"))
    detok.push(id);
  EXPECT_EQ(detok.num_pending_bytes(), 2u);
  EXPECT_EQ(detok.finish(), "\uFFFD");
  EXPECT_EQ(detok.finish(), "");
}

}  // namespace
}  // namespace pagoda
