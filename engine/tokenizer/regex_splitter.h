// RegexSplitter: a Splitter for any pre-tokenizer regex, compiled with PCRE2
// (UTF + UCP, JIT). Oniguruma's Unicode \s, \S, \w and \W (what HF tokenizers
// runs) are rewritten to explicit classes first, since PCRE2 defines them
// differently. Immutable after create(); any thread may call find_matches.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "engine/tokenizer/splitter.h"

namespace pagoda {

class RegexSplitter final : public Splitter {
 public:
  ~RegexSplitter() override;
  RegexSplitter(const RegexSplitter&) = delete;
  RegexSplitter& operator=(const RegexSplitter&) = delete;

  // Compiles an Oniguruma-syntax pattern (as tokenizer.json stores it).
  static StatusOr<std::unique_ptr<RegexSplitter>> create(std::string_view pattern);

  // Compiles a literal string (a Split with {"String": ...}).
  static StatusOr<std::unique_ptr<RegexSplitter>> create_literal(std::string_view literal);

  // The Oniguruma pattern rewritten for PCRE2.
  static StatusOr<std::string> translate(std::string_view pattern);

  void find_matches(std::string_view text, std::vector<TextSpan>& matches) const override;

 private:
  struct Compiled;
  explicit RegexSplitter(std::unique_ptr<Compiled> compiled);
  static StatusOr<std::unique_ptr<RegexSplitter>> compile(const std::string& pcre_pattern, bool literal);

  std::unique_ptr<Compiled> compiled_;
};

}  // namespace pagoda
