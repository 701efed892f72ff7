// Unit tests of Tokenizer: the API on the real Qwen 3 tokenizer, added-token
// flags on synthetic tokenizers, and load errors.
#include "engine/tokenizer/tokenizer.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <map>
#include <random>
#include <set>
#include <thread>

#include "tests/engine/tokenizer/tokenizer_test_util.h"

namespace pagoda {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using Json = nlohmann::json;

TEST(TokenizerTest, QwenVocabularyShape) {
  const Tokenizer& tok = testing::qwen_tokenizer();
  EXPECT_EQ(tok.vocab_size(), 151669);
  EXPECT_EQ(tok.added_tokens().size(), 26u);
  EXPECT_EQ(tok.num_unreachable_tokens(), 0u);
  EXPECT_EQ(tok.token_to_id("<|im_start|>"), 151644);
  EXPECT_EQ(tok.token_to_id("<think>"), 151667);
  EXPECT_EQ(tok.token_to_id("Hello"), 9707);
  EXPECT_EQ(tok.token_to_id("Ġworld"), 1879);
  EXPECT_EQ(tok.token_to_id("no such token"), std::nullopt);
  EXPECT_EQ(tok.id_to_token(1879), "Ġworld");
  EXPECT_EQ(tok.id_to_token(151645), "<|im_end|>");
  EXPECT_EQ(tok.id_to_token(-1), "");
  EXPECT_EQ(tok.id_to_token(151669), "");
  EXPECT_EQ(tok.token_bytes(1879), " world");
  EXPECT_EQ(tok.token_bytes(151667), "<think>");
  EXPECT_EQ(tok.token_bytes(999999), "");
  EXPECT_TRUE(tok.is_special(151643));
  EXPECT_TRUE(tok.is_special(151645));
  EXPECT_FALSE(tok.is_special(151667));  // <think> is added but not special
  EXPECT_FALSE(tok.is_special(9707));
  EXPECT_FALSE(tok.is_special(-5));
}

TEST(TokenizerTest, ParseSpecialFalseTreatsSpecialTokensAsText) {
  const Tokenizer& tok = testing::qwen_tokenizer();
  const std::string text = "<|im_start|>user<think>";
  EXPECT_THAT(tok.encode(text), ElementsAre(151644, 872, 151667));
  const auto plain = tok.encode(text, /*parse_special=*/false);
  // As HF's encode_special_tokens: special tokens become text, <think> (not
  // special) still matches.
  EXPECT_EQ(std::count(plain.begin(), plain.end(), 151644), 0);
  EXPECT_EQ(plain.back(), 151667);
  EXPECT_EQ(tok.decode(plain), text);
  const auto ordinary = tok.encode_ordinary(text);
  for (const std::int32_t id : ordinary)
    EXPECT_LT(id, 151643);
  EXPECT_EQ(tok.decode(ordinary), text);
}

TEST(TokenizerTest, DecodeSkipsUnknownIdsAndSpecialTokensOnRequest) {
  const Tokenizer& tok = testing::qwen_tokenizer();
  const std::vector<std::int32_t> ids = {151644, 9707, -1, 1879, 999999, 151645, 151667};
  EXPECT_EQ(tok.decode(ids), "<|im_start|>Hello world<|im_end|><think>");
  EXPECT_EQ(tok.decode(ids, /*skip_special_tokens=*/true), "Hello world<think>");
  EXPECT_EQ(tok.decode({}), "");
}

TEST(TokenizerTest, DecodeReplacesInvalidBytes) {
  const Tokenizer& tok = testing::qwen_tokenizer();
  const auto zhong = tok.encode("中");  // E4 B8 AD
  ASSERT_EQ(zhong.size(), 1u);
  const std::int32_t e4 = *tok.token_to_id(byte_level::encode_bytes("\xE4"));
  const std::int32_t b8 = *tok.token_to_id(byte_level::encode_bytes("\xB8"));
  const std::int32_t ad = *tok.token_to_id(byte_level::encode_bytes("\xAD"));
  EXPECT_EQ(tok.decode(std::vector<std::int32_t>{e4, b8, ad}), "中");
  EXPECT_EQ(tok.decode(std::vector<std::int32_t>{e4, b8}), "\uFFFD");
  EXPECT_EQ(tok.decode(std::vector<std::int32_t>{b8, ad}), "\uFFFD\uFFFD");
  EXPECT_EQ(tok.decode(std::vector<std::int32_t>{e4, 151645, b8, ad}), "\uFFFD<|im_end|>\uFFFD\uFFFD");
  // Skipping the special token in between joins the bytes again, as HF does.
  EXPECT_EQ(tok.decode(std::vector<std::int32_t>{e4, 151645, b8, ad}, true), "中");
}

TEST(TokenizerTest, MalformedInputIsRepairedFirst) {
  const Tokenizer& tok = testing::qwen_tokenizer();
  EXPECT_EQ(tok.encode("a\xFF"
                       "b"),
            tok.encode("a\uFFFDb"));
  EXPECT_EQ(tok.encode("\xE4\xB8"), tok.encode("\uFFFD"));
  EXPECT_EQ(tok.encode("\xED\xA0\x80"), tok.encode("\uFFFD\uFFFD\uFFFD"));
}

TEST(TokenizerTest, LongInputsStayFast) {
  const Tokenizer& tok = testing::qwen_tokenizer();
  // One pre-token of 1 MB: the merge loop must not be quadratic.
  const std::string spaces(1 << 20, ' ');
  EXPECT_EQ(tok.decode(tok.encode(spaces)), spaces);
  const std::string letters(200000, 'a');
  EXPECT_EQ(tok.decode(tok.encode(letters)), letters);
  std::string emoji;
  for (int i = 0; i < 20000; ++i)
    emoji += "😀";
  EXPECT_EQ(tok.decode(tok.encode(emoji)), emoji);
}

TEST(TokenizerTest, ConcurrentEncodesAgree) {
  const Tokenizer& tok = testing::qwen_tokenizer();
  const std::string text = "Concurrent 并发 tokenization <|im_end|> works 🙂 fine.\n";
  const auto expected = tok.encode(text);
  std::vector<std::thread> threads;
  std::atomic<int> failures{0};
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 200; ++i)
        failures += tok.encode(text) != expected;
    });
  }
  for (auto& th : threads)
    th.join();
  EXPECT_EQ(failures.load(), 0);
}

// --- synthetic tokenizers -------------------------------------------------

std::unique_ptr<Tokenizer> make(const Json& json) {
  auto tok = Tokenizer::from_json(json.dump(), "synthetic.json");
  EXPECT_TRUE(tok.ok()) << tok.status().to_string();
  return tok.ok() ? std::move(tok).value() : nullptr;
}

Json added(const std::string& content, Json flags = Json::object()) {
  Json t = {{"content", content}, {"single_word", false}, {"lstrip", false},
            {"rstrip", false},    {"normalized", false},  {"special", true}};
  for (auto& [k, v] : flags.items())
    t[k] = v;
  return t;
}

TEST(TokenizerTest, MergesApplyLowestRankFirst) {
  // "abc": (b,c) has rank 0, so bc forms before ab could.
  auto tok = make(testing::synthetic_tokenizer_json({{"b", "c"}, {"a", "b"}, {"a", "bc"}}));
  ASSERT_NE(tok, nullptr);
  const auto abc = tok->token_to_id(byte_level::encode_bytes("abc"));
  ASSERT_TRUE(abc.has_value());
  EXPECT_THAT(tok->encode("abc"), ElementsAre(*abc));
  EXPECT_THAT(tok->encode("ab"), ElementsAre(*tok->token_to_id("ab")));
}

TEST(TokenizerTest, LongPiecesMergeLikeShortOnes) {
  // 40 letters use the array merge loop, 100 the heap loop.
  auto tok = make(testing::synthetic_tokenizer_json({{"a", "a"}, {"aa", "aa"}, {"aaaa", "aaaa"}}));
  ASSERT_NE(tok, nullptr);
  const std::int32_t a4 = *tok->token_to_id("aaaa");
  const std::int32_t a8 = *tok->token_to_id("aaaaaaaa");
  EXPECT_EQ(tok->encode(std::string(40, 'a')), std::vector<std::int32_t>(5, a8));
  std::vector<std::int32_t> expected(12, a8);
  expected.push_back(a4);
  EXPECT_EQ(tok->encode(std::string(100, 'a')), expected);
}

// The textbook BPE: merge the lowest-ranked adjacent pair (the leftmost on
// ties) until none is left. Works on strings; independent of BpeModel.
std::vector<std::string> naive_bpe(const std::string& word,
                                   const std::map<std::pair<std::string, std::string>, int>& ranks) {
  std::vector<std::string> symbols;
  for (const char c : word)
    symbols.emplace_back(1, c);
  while (symbols.size() > 1) {
    int best = -1;
    std::size_t at = 0;
    for (std::size_t i = 0; i + 1 < symbols.size(); ++i) {
      const auto it = ranks.find({symbols[i], symbols[i + 1]});
      if (it != ranks.end() && (best < 0 || it->second < best)) {
        best = it->second;
        at = i;
      }
    }
    if (best < 0) break;
    symbols[at] += symbols[at + 1];
    symbols.erase(symbols.begin() + static_cast<std::ptrdiff_t>(at) + 1);
  }
  return symbols;
}

TEST(TokenizerTest, MergeLoopsAgreeWithNaiveBpe) {
  std::mt19937 rng(1234);
  std::vector<std::string> tokens = {"a", "b", "c"};
  std::vector<std::pair<std::string, std::string>> merges;
  std::map<std::pair<std::string, std::string>, int> ranks;
  std::set<std::string> known(tokens.begin(), tokens.end());
  while (merges.size() < 60) {
    const std::string& l = tokens[rng() % tokens.size()];
    const std::string& r = tokens[rng() % tokens.size()];
    if (l.size() + r.size() > 12 || ranks.count({l, r})) continue;
    ranks[{l, r}] = static_cast<int>(merges.size());
    merges.emplace_back(l, r);
    if (known.insert(l + r).second) tokens.push_back(l + r);
  }
  auto tok = make(testing::synthetic_tokenizer_json(merges));
  ASSERT_NE(tok, nullptr);
  for (int trial = 0; trial < 400; ++trial) {
    std::string word;
    const std::size_t length = 1 + rng() % 200;
    for (std::size_t i = 0; i < length; ++i)
      word.push_back(static_cast<char>('a' + rng() % 3));
    std::vector<std::string> got;
    for (const std::int32_t id : tok->encode(word))
      got.emplace_back(tok->token_bytes(id));
    ASSERT_EQ(got, naive_bpe(word, ranks)) << word;
  }
}

TEST(TokenizerTest, AddedTokenLstripRstrip) {
  auto tok = make(testing::synthetic_tokenizer_json(
      {}, Json::array({added("<L>", {{"lstrip", true}}), added("<R>", {{"rstrip", true}}), added("<N>")})));
  ASSERT_NE(tok, nullptr);
  const std::int32_t l = *tok->token_to_id("<L>");
  const std::int32_t r = *tok->token_to_id("<R>");
  const std::int32_t n = *tok->token_to_id("<N>");
  const std::int32_t x = *tok->token_to_id("x");
  const std::int32_t space = *tok->token_to_id(byte_level::encode_bytes(" "));
  EXPECT_THAT(tok->encode("x  <L>x"), ElementsAre(x, l, x));
  EXPECT_THAT(tok->encode("x<R>  x"), ElementsAre(x, r, x));
  EXPECT_THAT(tok->encode("x <N> x"), ElementsAre(x, space, n, space, x));
  EXPECT_THAT(tok->encode("<R> \n <L>"), ElementsAre(r, l));
}

TEST(TokenizerTest, AddedTokenSingleWord) {
  auto tok = make(testing::synthetic_tokenizer_json({}, Json::array({added("ab", {{"single_word", true}})})));
  ASSERT_NE(tok, nullptr);
  const std::int32_t ab = *tok->token_to_id("ab");
  EXPECT_THAT(tok->encode("ab"), ElementsAre(ab));
  EXPECT_EQ(tok->encode(" ab.")[1], ab);
  const auto inside = tok->encode("cab");
  EXPECT_EQ(std::count(inside.begin(), inside.end(), ab), 0);
  const auto before = tok->encode("ab1");
  EXPECT_EQ(std::count(before.begin(), before.end(), ab), 0);
}

TEST(TokenizerTest, AddedTokensMatchLongestFirst) {
  auto tok =
      make(testing::synthetic_tokenizer_json({}, Json::array({added("<a>"), added("<a><b>"), added("<b>")})));
  ASSERT_NE(tok, nullptr);
  EXPECT_THAT(tok->encode("<a><b><b>"), ElementsAre(*tok->token_to_id("<a><b>"), *tok->token_to_id("<b>")));
  EXPECT_THAT(tok->encode("<a><a>"), ElementsAre(*tok->token_to_id("<a>"), *tok->token_to_id("<a>")));
}

TEST(TokenizerTest, NormalizedAddedTokensMatchAfterNfc) {
  // A normalized token written in NFD matches NFC text and NFD text alike.
  auto tok = make(testing::synthetic_tokenizer_json(
      {}, Json::array({added("<e\u0301>", {{"normalized", true}, {"special", false}})})));
  ASSERT_NE(tok, nullptr);
  const auto ids_nfc = tok->encode("<\u00e9>");
  const auto ids_nfd = tok->encode("<e\u0301>");
  ASSERT_EQ(ids_nfc.size(), 1u);
  EXPECT_EQ(ids_nfc, ids_nfd);
}

// --- load errors ------------------------------------------------------------

Status load_error(const Json& json) {
  auto tok = Tokenizer::from_json(json.dump(), "bad/tokenizer.json");
  EXPECT_FALSE(tok.ok());
  return tok.ok() ? Status() : tok.status();
}

TEST(TokenizerLoadErrorTest, MissingFileNamesThePath) {
  auto tok = Tokenizer::load("/nonexistent/dir/tokenizer.json");
  ASSERT_FALSE(tok.ok());
  EXPECT_EQ(tok.status().code(), StatusCode::kNotFound);
  EXPECT_THAT(tok.status().message(), HasSubstr("/nonexistent/dir/tokenizer.json"));
}

TEST(TokenizerLoadErrorTest, BadJsonNamesTheFile) {
  auto tok = Tokenizer::from_json("{\"model\": [1, 2", "broken/tokenizer.json");
  ASSERT_FALSE(tok.ok());
  EXPECT_EQ(tok.status().code(), StatusCode::kInvalidArgument);
  EXPECT_THAT(tok.status().message(), HasSubstr("broken/tokenizer.json"));
  EXPECT_THAT(tok.status().message(), HasSubstr("not valid JSON"));
}

TEST(TokenizerLoadErrorTest, MissingVocabNamesTheField) {
  Json j = testing::synthetic_tokenizer_json({});
  j["model"].erase("vocab");
  const Status s = load_error(j);
  EXPECT_THAT(s.message(), HasSubstr("bad/tokenizer.json"));
  EXPECT_THAT(s.message(), HasSubstr("'model.vocab'"));
  EXPECT_THAT(s.message(), HasSubstr("missing"));
}

TEST(TokenizerLoadErrorTest, NonBpeModelIsRejected) {
  Json j = testing::synthetic_tokenizer_json({});
  j["model"]["type"] = "WordPiece";
  const Status s = load_error(j);
  EXPECT_EQ(s.code(), StatusCode::kUnimplemented);
  EXPECT_THAT(s.message(), HasSubstr("'model.type'"));
  EXPECT_THAT(s.message(), HasSubstr("WordPiece"));
}

TEST(TokenizerLoadErrorTest, OtherStructuralErrors) {
  Json j = testing::synthetic_tokenizer_json({});
  j.erase("model");
  EXPECT_THAT(load_error(j).message(), HasSubstr("'model': missing"));

  j = testing::synthetic_tokenizer_json({});
  j["model"]["merges"] = Json::array({Json::array({"zz", "q"})});
  EXPECT_THAT(load_error(j).message(), HasSubstr("'model.merges[0]': \"zz\" is not in model.vocab"));

  j = testing::synthetic_tokenizer_json({});
  j["model"]["vocab"]["Ā"] = "seven";
  EXPECT_THAT(load_error(j).message(), HasSubstr("expected an integer token id"));

  j = testing::synthetic_tokenizer_json({});
  j["normalizer"] = {{"type", "Lowercase"}};
  EXPECT_THAT(load_error(j).message(), HasSubstr("'normalizer.type': unsupported normalizer \"Lowercase\""));

  j = testing::synthetic_tokenizer_json({});
  j["decoder"] = {{"type", "WordPiece"}};
  EXPECT_THAT(load_error(j).message(), HasSubstr("'decoder.type'"));

  j = testing::synthetic_tokenizer_json({});
  j["pre_tokenizer"]["pretokenizers"][0]["behavior"] = "MergedWithNext";
  EXPECT_THAT(load_error(j).message(), HasSubstr("'pre_tokenizer.pretokenizers[0].behavior'"));

  j = testing::synthetic_tokenizer_json({});
  j["pre_tokenizer"]["pretokenizers"][0]["pattern"]["Regex"] = "(unclosed";
  EXPECT_THAT(load_error(j).message(), HasSubstr("does not compile"));

  j = testing::synthetic_tokenizer_json({});
  j["pre_tokenizer"] = nullptr;
  EXPECT_THAT(load_error(j).message(), HasSubstr("only byte-level BPE"));

  j = testing::synthetic_tokenizer_json({});
  j["added_tokens"] = Json::array({{{"id", 5}}});
  EXPECT_THAT(load_error(j).message(), HasSubstr("'added_tokens[0].content': missing"));

  j = testing::synthetic_tokenizer_json({});
  j["model"]["byte_fallback"] = true;
  EXPECT_THAT(load_error(j).message(), HasSubstr("'model.byte_fallback'"));

  EXPECT_THAT(Tokenizer::from_json("[]", "x.json").status().message(),
              HasSubstr("top level is not an object"));
}

// model.vocab and model.merges are read as the parser streams them, not from a
// JSON tree: every kind of bad entry and container is still named.
TEST(TokenizerLoadErrorTest, VocabAndMergesEntriesAreChecked) {
  const std::pair<const char*, Json> vocab_cases[] = {
      {"'model.vocab': expected an object", Json::array({"Ā", 0})},
      {"'model.vocab[\"Ā\"]': expected an integer token id", Json{{"Ā", {{"id", 0}}}}},
      {"'model.vocab[\"Ā\"]': expected an integer token id", Json{{"Ā", Json::array({0})}}},
      {"'model.vocab[\"Ā\"]': token id -1 out of range", Json{{"Ā", -1}}},
  };
  for (const auto& [message, vocab] : vocab_cases) {
    Json j = testing::synthetic_tokenizer_json({});
    j["model"]["vocab"] = vocab;
    EXPECT_THAT(load_error(j).message(), HasSubstr(message)) << vocab.dump();
  }
  const std::pair<const char*, Json> merges_cases[] = {
      {"'model.merges': expected an array", Json{{"a", "b"}}},
      {"'model.merges[1]': expected \"left right\" or", Json::array({"Ā ā", 7})},
      {"'model.merges[1]': expected \"left right\" or", Json::array({"Ā ā", {{"a", "b"}}})},
      {"'model.merges[1]': expected \"left right\" or", Json::array({"Ā ā", Json::array({"Ā", "ā", "Ă"})})},
      {"'model.merges[2]': expected \"left right\"", Json::array({"Ā ā", Json::array({"Ā", "ā"}), "Āā"})},
  };
  for (const auto& [message, merges] : merges_cases) {
    Json j = testing::synthetic_tokenizer_json({});
    j["model"]["merges"] = merges;
    EXPECT_THAT(load_error(j).message(), HasSubstr(message)) << merges.dump();
  }
  // A model that is not an object is named as such, even when it holds a vocab.
  Json j = testing::synthetic_tokenizer_json({});
  j["model"] = Json::array({j["model"]});
  EXPECT_THAT(load_error(j).message(), HasSubstr("'model': expected an object"));
}

// As with a JSON tree, a key given twice counts with its last value: a broken
// first model.vocab is replaced, a broken last one is the error.
TEST(TokenizerLoadErrorTest, RepeatedVocabKeyKeepsTheLast) {
  Json j = testing::synthetic_tokenizer_json({});
  const std::string vocab = j["model"]["vocab"].dump();
  const std::string broken = "{\"Ā\":\"seven\"}";
  j.erase("model");
  const std::string rest = j.dump().substr(1);  // the other members and the closing brace
  auto with_model = [&](const std::string& first_vocab, const std::string& last_vocab) {
    return "{\"model\":{\"type\":\"BPE\",\"merges\":[],\"vocab\":" + first_vocab +
           ",\"vocab\":" + last_vocab + "}," + rest;
  };
  auto fixed = Tokenizer::from_json(with_model(broken, vocab), "twice.json");
  ASSERT_TRUE(fixed.ok()) << fixed.status().to_string();
  auto plain = Tokenizer::from_json(with_model(vocab, vocab), "twice.json");
  ASSERT_TRUE(plain.ok()) << plain.status().to_string();
  EXPECT_EQ((*fixed)->encode("Āā Ă"), (*plain)->encode("Āā Ă"));
  EXPECT_EQ((*fixed)->vocab_size(), 256);
  EXPECT_THAT(Tokenizer::from_json(with_model(vocab, broken), "twice.json").status().message(),
              HasSubstr("expected an integer token id"));
}

// A token listed twice in model.vocab (JSON readers disagree on which id would
// count) is an error that names it.
TEST(TokenizerLoadErrorTest, TokenListedTwiceInVocabIsAnError) {
  Json j = testing::synthetic_tokenizer_json({});
  std::string text = j.dump();
  const std::string first = "\"vocab\":{";
  const std::size_t at = text.find(first);
  ASSERT_NE(at, std::string::npos);
  text.insert(at + first.size(), "\"Ā\":300,");
  EXPECT_THAT(Tokenizer::from_json(text, "twice.json").status().message(),
              HasSubstr("'model.vocab': \"Ā\" is listed twice"));
}
TEST(TokenizerLoadErrorTest, GenericRegexPathWorks) {
  // A GPT-2 style tokenizer: ByteLevel with its own regex and a prefix space.
  Json j = testing::synthetic_tokenizer_json({{"h", "i"}, {" ", "hi"}});
  j["pre_tokenizer"] = {{"type", "ByteLevel"}, {"add_prefix_space", true}, {"use_regex", true}};
  auto tok = make(j);
  ASSERT_NE(tok, nullptr);
  EXPECT_THAT(tok->encode("hi"), ElementsAre(*tok->token_to_id(byte_level::encode_bytes(" hi"))));
  EXPECT_EQ(tok->decode(tok->encode("hi  there's")), " hi  there's");
}

}  // namespace
}  // namespace pagoda
