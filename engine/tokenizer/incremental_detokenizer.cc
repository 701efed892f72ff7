#include "engine/tokenizer/incremental_detokenizer.h"

#include "engine/tokenizer/utf8.h"

namespace pagoda {

IncrementalDetokenizer::IncrementalDetokenizer(const Tokenizer& tokenizer, bool skip_special_tokens)
    : tokenizer_(&tokenizer), skip_special_tokens_(skip_special_tokens) {}

std::string IncrementalDetokenizer::push(std::int32_t id) {
  if (skip_special_tokens_ && tokenizer_->is_special(id)) return {};
  pending_.append(tokenizer_->token_bytes(id));  // "" for unknown ids
  std::string out;
  std::size_t i = 0;
  while (i < pending_.size()) {
    if (static_cast<unsigned char>(pending_[i]) < 0x80) {
      out.push_back(pending_[i++]);
      continue;
    }
    const utf8::Scan r = utf8::scan(std::string_view(pending_).substr(i));
    if (r.kind == utf8::Scan::Kind::kIncomplete) break;
    if (r.kind == utf8::Scan::Kind::kValid) {
      out.append(pending_, i, r.length);
    } else {
      out.append(utf8::kReplacement);
    }
    i += r.length;
  }
  pending_.erase(0, i);
  return out;
}

std::string IncrementalDetokenizer::finish() {
  std::string out;
  if (!pending_.empty()) out.assign(utf8::kReplacement);
  pending_.clear();
  return out;
}

}  // namespace pagoda
