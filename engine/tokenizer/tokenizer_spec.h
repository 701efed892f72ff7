// TokenizerSpec: the parts of a Hugging Face tokenizer.json that Pagoda uses,
// as plain values (parsed by tokenizer_json.h, turned into a Tokenizer by
// Tokenizer::create). Plain data; any thread may create and read it.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "engine/tokenizer/added_token_matcher.h"
#include "engine/tokenizer/normalizer.h"
#include "engine/tokenizer/pre_tokenizer.h"

namespace pagoda {

struct PreTokenizerStepSpec {
  enum class Kind { kSplit, kByteLevel };
  Kind kind = Kind::kSplit;
  // kSplit: the pattern, a regex (Oniguruma syntax) or a literal string.
  std::string pattern;
  bool pattern_is_regex = true;
  SplitBehavior behavior = SplitBehavior::kIsolated;
  // kByteLevel.
  bool add_prefix_space = false;
  bool use_regex = false;  // also split with the GPT-2 regex
};

struct TokenizerSpec {
  std::vector<NormalizationForm> normalizer;  // applied in order; empty = none
  std::vector<PreTokenizerStepSpec> pre_tokenizer;
  // model (BPE)
  std::vector<std::pair<std::string, std::int32_t>> vocab;
  std::vector<std::pair<std::string, std::string>> merges;  // in rank order
  std::optional<std::string> unk_token;
  bool fuse_unk = false;
  bool ignore_merges = false;
  std::vector<AddedToken> added_tokens;
};

}  // namespace pagoda
