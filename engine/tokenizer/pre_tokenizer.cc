#include "engine/tokenizer/pre_tokenizer.h"

namespace pagoda {
namespace {

// Splits one piece with one step, appending the resulting pieces to `out`.
void apply_step(const PreTokenizerStep& step, std::string_view text, TextSpan piece,
                std::vector<TextSpan>& matches, std::vector<TextSpan>& out) {
  matches.clear();
  step.splitter->find_matches(text.substr(piece.begin, piece.end - piece.begin), matches);
  std::size_t pos = piece.begin;
  for (const TextSpan& m : matches) {
    const std::size_t begin = piece.begin + m.begin;
    const std::size_t end = piece.begin + m.end;
    if (begin > pos) out.push_back({pos, begin});
    if (step.behavior == SplitBehavior::kIsolated) out.push_back({begin, end});
    pos = end;
  }
  if (pos < piece.end) out.push_back({pos, piece.end});
}

}  // namespace

void PreTokenizer::split(std::string_view text, std::vector<TextSpan>& pieces) const {
  pieces.clear();
  if (text.empty()) return;
  if (steps_.empty()) {
    pieces.push_back({0, text.size()});
    return;
  }
  std::vector<TextSpan> matches;
  apply_step(steps_[0], text, {0, text.size()}, matches, pieces);
  std::vector<TextSpan> next;
  for (std::size_t s = 1; s < steps_.size(); ++s) {
    next.clear();
    for (const TextSpan& piece : pieces)
      apply_step(steps_[s], text, piece, matches, next);
    pieces.swap(next);
  }
}

}  // namespace pagoda
