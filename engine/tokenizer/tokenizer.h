// Tokenizer: text <-> token ids for byte-level BPE models (Qwen 2/3, loaded
// from a Hugging Face tokenizer.json), matching HF tokenizers' output.
// Immutable after load; every const method is thread-safe.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "engine/tokenizer/added_token_matcher.h"
#include "engine/tokenizer/tokenizer_spec.h"

namespace pagoda {

struct TokenizerOptions {
  // Use the hand-written matcher for Qwen's pre-tokenizer regex instead of
  // PCRE2 (same pieces, several times faster). Off only to compare the two.
  bool fast_qwen_splitter = true;
};

class Tokenizer {
 public:
  ~Tokenizer();
  Tokenizer(const Tokenizer&) = delete;
  Tokenizer& operator=(const Tokenizer&) = delete;

  // Loads a Hugging Face tokenizer.json (byte-level BPE as Qwen 2/3 use).
  // Errors name the file and the field.
  static StatusOr<std::unique_ptr<Tokenizer>> load(const std::string& tokenizer_json_path);
  static StatusOr<std::unique_ptr<Tokenizer>> load(const std::string& tokenizer_json_path,
                                                   const TokenizerOptions& options);
  // The same from the JSON text; `origin` names it in errors.
  static StatusOr<std::unique_ptr<Tokenizer>> from_json(std::string_view json_text, std::string_view origin,
                                                        const TokenizerOptions& options = {});
  static StatusOr<std::unique_ptr<Tokenizer>> create(const TokenizerSpec& spec,
                                                     const TokenizerOptions& options = {});

  // Text -> ids. Never adds BOS/EOS. Malformed UTF-8 is first decoded with
  // U+FFFD replacement (WHATWG / errors="replace"). parse_special: added
  // tokens in the text become their ids (the reference's default). When
  // false, tokens marked "special" (<|im_start|>, <|endoftext|>, ...) are
  // tokenized as plain text, as HF's encode_special_tokens=True does; added
  // tokens that are not special (<think>, <tool_call>) still match.
  std::vector<std::int32_t> encode(std::string_view text, bool parse_special = true) const;
  // Text -> ids with no added-token matching at all: every added token's text
  // is tokenized as plain text (tiktoken's encode_ordinary).
  std::vector<std::int32_t> encode_ordinary(std::string_view text) const;

  // Ids -> text. Byte sequences that are not valid UTF-8 become U+FFFD (like
  // HF's from_utf8_lossy). Unknown ids are skipped.
  std::string decode(std::span<const std::int32_t> ids, bool skip_special_tokens = false) const;

  // An added token's content or a vocabulary string ("Ġhello"), and back.
  std::optional<std::int32_t> token_to_id(std::string_view token) const;
  std::string_view id_to_token(std::int32_t id) const;  // "" when unknown
  // The raw bytes a token stands for after ByteLevel decoding ("" if unknown).
  std::string_view token_bytes(std::int32_t id) const;
  bool is_special(std::int32_t id) const;  // an added token marked "special"
  std::int32_t vocab_size() const;         // max id + 1, added tokens included
  const std::vector<AddedToken>& added_tokens() const;
  // Vocabulary tokens BPE can never produce (diagnostics).
  std::size_t num_unreachable_tokens() const;

 private:
  struct State;
  enum class AddedTokenMode { kAll, kNonSpecial, kNone };

  explicit Tokenizer(std::unique_ptr<State> state);
  std::vector<std::int32_t> encode_with(std::string_view text, AddedTokenMode mode) const;

  std::unique_ptr<State> state_;
};

}  // namespace pagoda
