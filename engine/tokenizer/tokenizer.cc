#include "engine/tokenizer/tokenizer.h"

#include <algorithm>
#include <array>
#include <string>
#include <unordered_map>

#include "base/mapped_file.h"
#include "engine/tokenizer/bpe_model.h"
#include "engine/tokenizer/byte_level.h"
#include "engine/tokenizer/normalizer.h"
#include "engine/tokenizer/pre_tokenizer.h"
#include "engine/tokenizer/qwen_splitter.h"
#include "engine/tokenizer/regex_splitter.h"
#include "engine/tokenizer/token_map.h"
#include "engine/tokenizer/token_table.h"
#include "engine/tokenizer/tokenizer_json.h"
#include "engine/tokenizer/utf8.h"

namespace pagoda {
namespace {

// The split HF's ByteLevel pre-tokenizer does when use_regex is true (GPT-2).
constexpr std::string_view kGpt2Pattern =
    R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+)";

std::string in_quotes(std::string_view s) {
  std::string out;
  out.reserve(s.size() + 2);
  out.push_back('"');
  out.append(s);
  out.push_back('"');
  return out;
}

StatusOr<std::unique_ptr<Splitter>> make_splitter(std::string_view pattern, bool is_regex,
                                                  const TokenizerOptions& options) {
  if (is_regex && options.fast_qwen_splitter && pattern == QwenSplitter::kPattern) {
    return std::unique_ptr<Splitter>(std::make_unique<QwenSplitter>());
  }
  auto made = is_regex ? RegexSplitter::create(pattern) : RegexSplitter::create_literal(pattern);
  if (!made.ok()) return made.status();
  return std::unique_ptr<Splitter>(std::move(made).value());
}

}  // namespace

struct Tokenizer::State {
  TokenTable table;
  std::vector<std::uint8_t> special;  // by id
  std::unordered_map<std::string_view, std::int32_t> text_to_id;
  std::vector<AddedToken> added_tokens;
  AddedTokenMatcher raw_added;         // tokens matched before normalization
  AddedTokenMatcher normalized_added;  // tokens matched after it
  Normalizer normalizer;
  PreTokenizer pre_tokenizer;
  std::unique_ptr<BpeModel> bpe;

  // Per-call working memory.
  struct Scratch {
    std::string normalized;
    std::string prefixed;
    std::vector<TextSpan> pieces;
    std::vector<TextSegment> segments;
  };
  void encode_pre_tokenized(std::string_view text, Scratch& s, std::vector<std::int32_t>& ids) const;
  void encode_plain(std::string_view text, AddedTokenMode mode, Scratch& s,
                    std::vector<std::int32_t>& ids) const;
};

void Tokenizer::State::encode_pre_tokenized(std::string_view text, Scratch& s,
                                            std::vector<std::int32_t>& ids) const {
  if (text.empty()) return;
  if (pre_tokenizer.add_prefix_space() && text[0] != ' ') {
    s.prefixed.clear();
    s.prefixed.push_back(' ');
    s.prefixed.append(text);
    text = s.prefixed;
  }
  pre_tokenizer.split(text, s.pieces);
  for (const TextSpan& p : s.pieces)
    bpe->encode(text.substr(p.begin, p.end - p.begin), ids);
}

void Tokenizer::State::encode_plain(std::string_view text, AddedTokenMode mode, Scratch& s,
                                    std::vector<std::int32_t>& ids) const {
  std::string_view normalized = text;
  if (!normalizer.is_identity()) {
    s.normalized.clear();
    normalizer.normalize(text, s.normalized);
    normalized = s.normalized;
  }
  if (mode == AddedTokenMode::kNone || normalized_added.empty()) {
    encode_pre_tokenized(normalized, s, ids);
    return;
  }
  std::vector<TextSegment> segments;
  normalized_added.split(normalized, mode == AddedTokenMode::kNonSpecial, segments);
  for (const TextSegment& seg : segments) {
    if (seg.id >= 0) {
      ids.push_back(seg.id);
    } else {
      encode_pre_tokenized(normalized.substr(seg.begin, seg.end - seg.begin), s, ids);
    }
  }
}

Tokenizer::Tokenizer(std::unique_ptr<State> state) : state_(std::move(state)) {}
Tokenizer::~Tokenizer() = default;

StatusOr<std::unique_ptr<Tokenizer>> Tokenizer::load(const std::string& tokenizer_json_path) {
  return load(tokenizer_json_path, TokenizerOptions{});
}

StatusOr<std::unique_ptr<Tokenizer>> Tokenizer::load(const std::string& tokenizer_json_path,
                                                     const TokenizerOptions& options) {
  auto file = MappedFile::open(tokenizer_json_path);
  if (!file.ok()) return file.status();  // names the path
  const std::string_view text(reinterpret_cast<const char*>(file->data()), file->size_bytes());
  return from_json(text, tokenizer_json_path, options);
}

StatusOr<std::unique_ptr<Tokenizer>> Tokenizer::from_json(std::string_view json_text, std::string_view origin,
                                                          const TokenizerOptions& options) {
  auto spec = parse_tokenizer_json(json_text);
  if (!spec.ok()) return spec.status().with_context(origin);
  auto tokenizer = create(*spec, options);
  if (!tokenizer.ok()) return tokenizer.status().with_context(origin);
  return tokenizer;
}

StatusOr<std::unique_ptr<Tokenizer>> Tokenizer::create(const TokenizerSpec& spec,
                                                       const TokenizerOptions& options) {
  auto state = std::make_unique<State>();
  State& st = *state;

  // Ids and strings.
  std::int32_t max_id = -1;
  for (const auto& [text, id] : spec.vocab)
    max_id = std::max(max_id, id);
  for (const AddedToken& t : spec.added_tokens)
    max_id = std::max(max_id, t.id);
  if (max_id < 0) return invalid_argument("field 'model.vocab': empty");
  if (max_id >= MergeMap::kMaxId) {
    return unimplemented("token id " + std::to_string(max_id) + " is too large (at most " +
                         std::to_string(MergeMap::kMaxId - 1) + ")");
  }
  if (spec.merges.size() > MergeMap::kMaxRules) return unimplemented("field 'model.merges': too many merges");
  st.table.resize(static_cast<std::size_t>(max_id) + 1);
  // Each vocabulary id's text as model.vocab has it (an added token may later
  // give the id other content); model_ids finds ids by it.
  std::vector<std::string_view> vocab_text(st.table.size());
  std::vector<std::int32_t> vocab_ids;
  vocab_ids.reserve(spec.vocab.size());
  for (const auto& [text, id] : spec.vocab) {
    if (st.table.has(id)) {
      return invalid_argument("field 'model.vocab': id " + std::to_string(id) + " is used by " +
                              in_quotes(st.table.text(id)) + " and " + in_quotes(text));
    }
    st.table.set(id, text, byte_level::decode_token(text));
    vocab_text[static_cast<std::size_t>(id)] = text;
    vocab_ids.push_back(id);
  }
  auto vocab_text_of = [&](std::int32_t id) { return vocab_text[static_cast<std::size_t>(id)]; };
  TokenMap model_ids;
  if (const auto twice = model_ids.build(vocab_ids, vocab_text_of)) {
    return invalid_argument("field 'model.vocab': " + in_quotes(vocab_text_of(*twice)) + " is listed twice");
  }
  st.special.assign(st.table.size(), 0);
  st.added_tokens = spec.added_tokens;
  for (const AddedToken& t : spec.added_tokens) {
    // An added token may re-use a vocabulary id; its content then wins, as in HF.
    st.table.set(t.id, t.content, byte_level::decode_token(t.content));
    st.special[static_cast<std::size_t>(t.id)] = t.special ? 1 : 0;
  }
  st.text_to_id.reserve(st.table.size());
  for (std::size_t id = 0; id < st.table.size(); ++id) {
    const auto i = static_cast<std::int32_t>(id);
    if (st.table.has(i)) st.text_to_id.emplace(st.table.text(i), i);
  }
  for (const AddedToken& t : spec.added_tokens)
    st.text_to_id[st.table.text(t.id)] = t.id;

  // Normalizer and added-token matchers.
  st.normalizer = Normalizer(spec.normalizer);
  std::vector<std::string> raw_patterns, normalized_patterns;
  for (const AddedToken& t : spec.added_tokens) {
    std::string normalized_content;
    if (t.normalized) st.normalizer.normalize(t.content, normalized_content);
    raw_patterns.push_back(t.normalized ? std::string() : t.content);
    normalized_patterns.push_back(std::move(normalized_content));
  }
  st.raw_added = AddedTokenMatcher(spec.added_tokens, raw_patterns);
  st.normalized_added = AddedTokenMatcher(spec.added_tokens, normalized_patterns);

  // Pre-tokenizer.
  std::vector<PreTokenizerStep> steps;
  bool add_prefix_space = false;
  bool byte_level = false;
  for (std::size_t i = 0; i < spec.pre_tokenizer.size(); ++i) {
    const PreTokenizerStepSpec& s = spec.pre_tokenizer[i];
    const std::string field = "field 'pre_tokenizer' step " + std::to_string(i);
    if (s.kind == PreTokenizerStepSpec::Kind::kSplit) {
      auto splitter = make_splitter(s.pattern, s.pattern_is_regex, options);
      if (!splitter.ok()) return splitter.status().with_context(field + " (Split.pattern)");
      steps.push_back({std::move(splitter).value(), s.behavior});
      continue;
    }
    byte_level = true;
    if (s.add_prefix_space) {
      if (i != 0)
        return unimplemented(field + ": ByteLevel.add_prefix_space is only supported as the first step");
      add_prefix_space = true;
    }
    if (s.use_regex) {
      auto splitter = make_splitter(kGpt2Pattern, true, options);
      if (!splitter.ok()) return splitter.status().with_context(field);
      steps.push_back({std::move(splitter).value(), SplitBehavior::kIsolated});
    }
  }
  if (!byte_level) {
    return unimplemented("field 'pre_tokenizer': no ByteLevel step; only byte-level BPE is supported");
  }
  st.pre_tokenizer = PreTokenizer(std::move(steps), add_prefix_space);

  // BPE model.
  // -1 when `text` is not in the vocabulary.
  auto model_id = [&](std::string_view text) -> std::int32_t {
    return model_ids.find(text, vocab_text_of).value_or(-1);
  };
  auto not_in_vocab = [](const std::string& field, std::string_view text) {
    return invalid_argument("field '" + field + "': " + in_quotes(text) + " is not in model.vocab");
  };
  std::vector<MergeIds> merges;
  merges.reserve(spec.merges.size());
  std::string merged;  // left + right, reused
  for (std::size_t r = 0; r < spec.merges.size(); ++r) {
    const auto& [left, right] = spec.merges[r];
    merged.assign(left).append(right);
    const MergeIds ids{model_id(left), model_id(right), model_id(merged)};
    if (ids.left < 0 || ids.right < 0 || ids.merged < 0) {
      const std::string_view missing = ids.left < 0 ? left : ids.right < 0 ? right : merged;
      return not_in_vocab("model.merges[" + std::to_string(r) + "]", missing);
    }
    merges.push_back(ids);
  }
  std::array<std::int32_t, 256> byte_ids;
  for (int b = 0; b < 256; ++b) {
    std::string text;
    utf8::append(text, byte_level::byte_to_char(static_cast<std::uint8_t>(b)));
    byte_ids[static_cast<std::size_t>(b)] = model_id(text);
  }
  BpeOptions bpe_options;
  bpe_options.fuse_unk = spec.fuse_unk;
  bpe_options.ignore_merges = spec.ignore_merges;
  if (spec.unk_token) {
    bpe_options.unk_id = model_id(*spec.unk_token);
    if (*bpe_options.unk_id < 0) return not_in_vocab("model.unk_token", *spec.unk_token);
  }
  st.bpe = std::make_unique<BpeModel>(st.table, vocab_ids, byte_ids, merges, bpe_options);
  return std::unique_ptr<Tokenizer>(new Tokenizer(std::move(state)));
}

std::vector<std::int32_t> Tokenizer::encode(std::string_view text, bool parse_special) const {
  return encode_with(text, parse_special ? AddedTokenMode::kAll : AddedTokenMode::kNonSpecial);
}

std::vector<std::int32_t> Tokenizer::encode_ordinary(std::string_view text) const {
  return encode_with(text, AddedTokenMode::kNone);
}

std::vector<std::int32_t> Tokenizer::encode_with(std::string_view text, AddedTokenMode mode) const {
  const State& st = *state_;
  std::string repaired;
  if (utf8::find_invalid(text) != text.size()) {
    utf8::append_lossy(repaired, text);
    text = repaired;
  }
  std::vector<std::int32_t> ids;
  ids.reserve(text.size() / 3 + 4);
  State::Scratch scratch;
  if (mode == AddedTokenMode::kNone || st.raw_added.empty()) {
    st.encode_plain(text, mode, scratch, ids);
    return ids;
  }
  std::vector<TextSegment> segments;
  st.raw_added.split(text, mode == AddedTokenMode::kNonSpecial, segments);
  for (const TextSegment& seg : segments) {
    if (seg.id >= 0) {
      ids.push_back(seg.id);
    } else {
      st.encode_plain(text.substr(seg.begin, seg.end - seg.begin), mode, scratch, ids);
    }
  }
  return ids;
}

std::string Tokenizer::decode(std::span<const std::int32_t> ids, bool skip_special_tokens) const {
  const State& st = *state_;
  std::string bytes;
  for (const std::int32_t id : ids) {
    if (!st.table.has(id)) continue;
    if (skip_special_tokens && st.special[static_cast<std::size_t>(id)]) continue;
    bytes.append(st.table.bytes(id));
  }
  if (utf8::find_invalid(bytes) == bytes.size()) return bytes;
  std::string out;
  utf8::append_lossy(out, bytes);
  return out;
}

std::optional<std::int32_t> Tokenizer::token_to_id(std::string_view token) const {
  const auto it = state_->text_to_id.find(token);
  if (it == state_->text_to_id.end()) return std::nullopt;
  return it->second;
}

std::string_view Tokenizer::id_to_token(std::int32_t id) const {
  return state_->table.has(id) ? state_->table.text(id) : std::string_view();
}

std::string_view Tokenizer::token_bytes(std::int32_t id) const {
  return state_->table.has(id) ? state_->table.bytes(id) : std::string_view();
}

bool Tokenizer::is_special(std::int32_t id) const {
  return state_->table.has(id) && state_->special[static_cast<std::size_t>(id)] != 0;
}

std::int32_t Tokenizer::vocab_size() const {
  return static_cast<std::int32_t>(state_->table.size());
}

const std::vector<AddedToken>& Tokenizer::added_tokens() const {
  return state_->added_tokens;
}

std::size_t Tokenizer::num_unreachable_tokens() const {
  return state_->bpe->num_unreachable_tokens();
}

}  // namespace pagoda
